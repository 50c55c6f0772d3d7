/* Shared reader machinery (src/data/reader.h) and the Spark-named read options. */
#include "reader.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tbml_read_options_init(tbml_read_options *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = TBML_MODE_PERMISSIVE;
    o->delimiter = ',';
    o->quote = '"';
    o->escape = '\\';
    snprintf(o->corrupt_column, sizeof(o->corrupt_column), "_corrupt_record");
}

static int parse_flag(const char *v, int *out)
{
    if (strcasecmp(v, "true") == 0) {
        *out = 1;
        return 1;
    }
    if (strcasecmp(v, "false") == 0) {
        *out = 0;
        return 1;
    }
    return 0;
}

tbml_status tbml_read_options_set(tbml_read_options *o, const char *name, const char *value)
{
    int flag;
    if (strcasecmp(name, "header") == 0 || strcasecmp(name, "inferSchema") == 0 ||
        strcasecmp(name, "multiLine") == 0) {
        if (!parse_flag(value, &flag))
            return tbml_error(TBML_E_ARG, "option %s needs 'true' or 'false', not '%s'", name,
                              value);
        if (strcasecmp(name, "header") == 0)
            o->header = flag;
        else if (strcasecmp(name, "inferSchema") == 0)
            o->infer_schema = flag;
        else
            o->multiline = flag;
        return TBML_OK;
    }
    if (strcasecmp(name, "escape") == 0 && value[0] == '\0') { /* Spark: '' is no escape */
        o->escape = '\0';
        return TBML_OK;
    }
    if (strcasecmp(name, "sep") == 0 || strcasecmp(name, "delimiter") == 0 ||
        strcasecmp(name, "quote") == 0 || strcasecmp(name, "escape") == 0) {
        char c;
        if (strcmp(value, "\\t") == 0)
            c = '\t';
        else if (strlen(value) == 1 && value[0] != '\n' && value[0] != '\r')
            c = value[0];
        else
            return tbml_error(TBML_E_ARG, "option %s needs one character, not '%s'", name, value);
        if (strcasecmp(name, "quote") == 0)
            o->quote = c;
        else if (strcasecmp(name, "escape") == 0)
            o->escape = c;
        else
            o->delimiter = c;
        return TBML_OK;
    }
    if (strcasecmp(name, "mode") == 0) {
        if (strcasecmp(value, "PERMISSIVE") == 0)
            o->mode = TBML_MODE_PERMISSIVE;
        else if (strcasecmp(value, "DROPMALFORMED") == 0)
            o->mode = TBML_MODE_DROPMALFORMED;
        else if (strcasecmp(value, "FAILFAST") == 0)
            o->mode = TBML_MODE_FAILFAST;
        else
            return tbml_error(TBML_E_ARG,
                              "option mode needs PERMISSIVE, DROPMALFORMED or FAILFAST, not '%s'",
                              value);
        return TBML_OK;
    }
    if (strcasecmp(name, "columnNameOfCorruptRecord") == 0) {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof(o->corrupt_column))
            return tbml_error(TBML_E_ARG, "option %s needs a name of 1 to %zu bytes", name,
                              sizeof(o->corrupt_column) - 1);
        memcpy(o->corrupt_column, value, n + 1);
        return TBML_OK;
    }
    return tbml_error(TBML_E_ARG, "unknown read option '%s'", name);
}

int reader_corrupt_index(const tbml_read_options *o, const tbml_schema *schema, const char *path,
                         tbml_status *st)
{
    *st = TBML_OK;
    if (!o->corrupt_column[0]) return -1;
    int at = tbml_schema_find(schema, o->corrupt_column);
    if (at >= 0 && schema->fields[at].type != TBML_TYPE_STRING)
        *st = tbml_error(TBML_E_ARG, "%s: the field for corrupt records (%s) must be a string",
                         path, schema->fields[at].name);
    return at;
}

void reader_corrupt_text(const char *p, size_t n, tbml_column *c)
{
    if (n > 0 && p[n - 1] == '\n') n--;
    if (n > 0 && p[n - 1] == '\r') n--;
    tbml_column_append_str(c, p, n);
}

int64_t reader_count_lines(const char *data, size_t size)
{
    int64_t n = 0;
    const char *p = data, *end = data + size;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

tbml_status reader_bad(reader_chunk *r, const tbml_read_options *o, const char *data, size_t pos,
                       const char *cause)
{
    r->bad++;
    if (o->mode != TBML_MODE_FAILFAST) return TBML_OK;
    if (!r->has_error) {
        r->has_error = 1;
        int64_t line = 0;
        size_t line_start = 0;
        for (size_t i = 0; i < pos; i++)
            if (data[i] == '\n') {
                line++;
                line_start = i + 1;
            }
        r->err_line = line;
        r->err_col = (int64_t)(pos - line_start) + 1;
        snprintf(r->err_msg, sizeof(r->err_msg), "%s", cause);
    }
    return TBML_E_FORMAT;
}

tbml_status reader_finish(tbml_input_t *in, tbml_read_options *o, tbml_status st,
                          reader_chunk *chunks, int64_t nchunks, const tbml_schema *schema,
                          const char *format, tbml_table **out)
{
    tbml_table *t = NULL;
    int64_t bad = 0, line = 1;
    for (int64_t k = 0; k < nchunks; k++) {
        if (chunks[k].has_error) {
            st = tbml_error(TBML_E_FORMAT,
                            "%s:%" PRId64 ":%" PRId64 ": malformed %s record (mode FAILFAST): %s",
                            tbml_input_path(in), line + chunks[k].err_line, chunks[k].err_col,
                            format, chunks[k].err_msg);
            goto out;
        }
        line += chunks[k].nlines;
        bad += chunks[k].bad;
    }
    if (st) goto out;
    t = tbml_table_new(schema);
    for (int64_t k = 0; k < nchunks; k++) {
        if (chunks[k].batch && chunks[k].batch->nrows > 0) {
            tbml_table_append(t, chunks[k].batch);
            chunks[k].batch = NULL;
        }
    }
    o->bad_records = bad;
    if (bad > 0)
        TBML_LOG_W("%s: %" PRId64 " malformed %s record%s %s (mode %s)", tbml_input_path(in), bad,
                   format, bad == 1 ? "" : "s",
                   o->mode == TBML_MODE_DROPMALFORMED ? "dropped" : "read with nulls",
                   o->mode == TBML_MODE_DROPMALFORMED ? "DROPMALFORMED" : "PERMISSIVE");
out:
    for (int64_t k = 0; k < nchunks; k++)
        tbml_batch_free(chunks[k].batch);
    if (st) return st;
    *out = t;
    return TBML_OK;
}

int reader_parse_i64(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    int neg = 0;
    if (n == 0) return 0;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i++;
    }
    if (i == n) return 0;
    uint64_t x = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return 0;
        if (x > (UINT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    if (neg ? x > (uint64_t)INT64_MAX + 1 : x > (uint64_t)INT64_MAX) return 0;
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 1;
}

/* Exact powers of ten up to 1e22: every one is a double, so mantissa * or / 10^k with a
 * mantissa below 2^53 is one correctly rounded operation (Clinger's fast path). */
static const double g_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int reader_parse_f64(const char *s, size_t n, double *v)
{
    /* the forms Spark reads: decimal numbers with an optional exponent, NaN, Inf, Infinity; any
     * length, so that every text reader_parse_i64 accepts is a double too (CSV inference widens
     * long columns to double in memory on that promise) */
    if (n == 0) return 0;
    const char *p = s;
    size_t m = n;
    int neg = 0;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
        m--;
    }
    if ((m == 3 && memcmp(p, "NaN", 3) == 0)) {
        if (v) *v = NAN;
        return 1;
    }
    if ((m == 3 && memcmp(p, "Inf", 3) == 0) || (m == 8 && memcmp(p, "Infinity", 8) == 0)) {
        if (v) *v = neg ? -INFINITY : INFINITY;
        return 1;
    }
    int digits = 0, sig = 0, frac = 0;
    uint64_t mant = 0;
    size_t i = 0;
    for (; i < m && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
        if (mant || p[i] != '0') sig++;
        if (sig <= 19)
            mant = mant * 10 + (uint64_t)(p[i] - '0');
        else
            frac--; /* a digit past what mant holds: scale instead */
    }
    if (i < m && p[i] == '.') {
        i++;
        for (; i < m && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
            if (mant || p[i] != '0') sig++;
            if (sig <= 19) {
                mant = mant * 10 + (uint64_t)(p[i] - '0');
                frac++;
            }
        }
    }
    if (!digits) return 0;
    int64_t e10 = 0;
    if (i < m && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < m && (p[i] == '+' || p[i] == '-')) eneg = p[i++] == '-';
        int ed = 0;
        for (; i < m && p[i] >= '0' && p[i] <= '9'; i++, ed++)
            if (e10 < 100000) e10 = e10 * 10 + (p[i] - '0');
        if (!ed) return 0;
        if (eneg) e10 = -e10;
    }
    if (i != m) return 0;
    if (!v) return 1; /* syntax only (schema inference) */
    int64_t k = e10 - frac;
    if (sig <= 19 && mant < ((uint64_t)1 << 53) && k >= -22 && k <= 22) {
        double d = (double)mant;
        d = k < 0 ? d / g_pow10[-k] : d * g_pow10[k];
        *v = neg ? -d : d;
        return 1;
    }
    char small[128], *buf = n < sizeof(small) ? small : tbml_malloc(n + 1);
    memcpy(buf, s, n);
    buf[n] = '\0';
    *v = strtod(buf, NULL);
    if (buf != small) tbml_free(buf);
    return 1;
}

int reader_parse_bool(const char *s, size_t n, int *v)
{
    if (n == 4 && strncasecmp(s, "true", 4) == 0) {
        *v = 1;
        return 1;
    }
    if (n == 5 && strncasecmp(s, "false", 5) == 0) {
        *v = 0;
        return 1;
    }
    return 0;
}
