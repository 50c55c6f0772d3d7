/* Status names and the per-thread error message (see include/tbml/core.h). */
#include "tbml/core.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char g_errmsg[1024];

const char *tbml_strerror(tbml_status st)
{
    switch (st) {
    case TBML_OK: return "ok";
    case TBML_E_NOMEM: return "out of memory";
    case TBML_E_IO: return "I/O error";
    case TBML_E_AUTH: return "authentication failed";
    case TBML_E_FORMAT: return "malformed input";
    case TBML_E_ARG: return "invalid argument";
    case TBML_E_KEY: return "key error";
    case TBML_E_CRYPTO: return "crypto library error";
    case TBML_E_NOTFOUND: return "not found";
    case TBML_E_UNSUPPORTED: return "not supported";
    case TBML_E_PASSWORD: return "wrong password";
    case TBML_E_SYNTAX: return "syntax error";
    case TBML_E_TYPE: return "type error";
    case TBML_E_POLICY: return "refused by policy";
    case TBML_E_NET: return "network error";
    case TBML_E_INTERNAL: return "internal error";
    }
    return "unknown error";
}

const char *tbml_errmsg(void) { return g_errmsg; }

void tbml_error_clear(void) { g_errmsg[0] = '\0'; }

tbml_status tbml_error(tbml_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof(g_errmsg), fmt, ap);
    va_end(ap);
    return st;
}

tbml_status tbml_error_prefix(tbml_status st, const char *fmt, ...)
{
    char prefix[512], old[sizeof(g_errmsg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, g_errmsg, sizeof(old));
    if (old[0])
        snprintf(g_errmsg, sizeof(g_errmsg), "%s%s", prefix, old);
    else
        snprintf(g_errmsg, sizeof(g_errmsg), "%s%s", prefix, tbml_strerror(st));
    return st;
}

void tbml_abort(const char *file, int line, const char *expr)
{
    fprintf(stderr, "tbml: internal error: assertion failed at %s:%d: %s\n", file, line, expr);
    fflush(stderr);
    __builtin_trap();
}
