/* Option-parsing helpers for the commands (see opts.h). */
#include "opts.h"
#include "cli.h"

#include <ctype.h>
#include <string.h>

int opt_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
    } else if (a[n] != '\0') {
        return 0;
    } else if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        cli_usage_error("%s needs a value", name);
        return -1;
    }
    (*i)++;
    return 1;
}

static int parse(const char *opt, const char *s, uint64_t max, int suffix, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p)) goto bad;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10) goto bad;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (suffix && (*p == 'k' || *p == 'K')) {
        v = v > UINT64_MAX >> 10 ? UINT64_MAX : v << 10;
        p++;
    } else if (suffix && (*p == 'm' || *p == 'M')) {
        v = v > UINT64_MAX >> 20 ? UINT64_MAX : v << 20;
        p++;
    }
    if (*p != '\0') goto bad;
    if (v > max) {
        cli_usage_error("%s %s is too large (at most %llu)", opt, s, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
bad:
    cli_usage_error("%s needs a number%s, not '%s'", opt, suffix ? " (optionally with K or M)" : "",
                    s);
    return -1;
}

int opt_size(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
    return parse(opt, s, max, 1, out);
}

int opt_count(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
    return parse(opt, s, max, 0, out);
}
