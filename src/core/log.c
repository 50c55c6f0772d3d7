/* Leveled logging to stderr. One global level, set once at start-up by the tool. */
#include "tbml/core.h"

#include <stdio.h>
#include <strings.h>

static tbml_log_level g_log_level = TBML_LOG_WARN;

void tbml_log_set_level(tbml_log_level level) { g_log_level = level; }
tbml_log_level tbml_log_get_level(void) { return g_log_level; }

tbml_status tbml_log_level_parse(const char *s, tbml_log_level *out)
{
    static const struct { const char *name; tbml_log_level level; } names[] = {
        {"error", TBML_LOG_ERROR}, {"warn", TBML_LOG_WARN}, {"warning", TBML_LOG_WARN},
        {"info", TBML_LOG_INFO},   {"debug", TBML_LOG_DEBUG}, {"trace", TBML_LOG_DEBUG},
        {"all", TBML_LOG_DEBUG},   {"none", TBML_LOG_ERROR}, {"off", TBML_LOG_ERROR},
        {"fatal", TBML_LOG_ERROR},
    };
    for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return TBML_OK;
        }
    }
    return tbml_error(TBML_E_ARG, "unknown log level '%s' (expected error, warn, info or debug)",
                      s ? s : "");
}

void tbml_log(tbml_log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (level > g_log_level) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s tbml: %s\n", tags[level], line);
}
