/* Spark's text output (include/tbml/show.h): Java's Double.toString, dates and timestamps as
 * Spark casts them to strings, show()'s table and printSchema()'s tree. The table layout follows
 * Dataset.showString in Spark 3: column widths of at least 3, measured in display cells (East
 * Asian wide characters count 2, as Utils.stringHalfWidth does), cells cut at `truncate`
 * characters with "..." and right-aligned, the header padded the same way. */
#include "tbml/show.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Java's Double.toString ---- */

size_t tbml_format_double(double v, char *buf)
{
    if (isnan(v)) return (size_t)sprintf(buf, "NaN");
    if (isinf(v)) return (size_t)sprintf(buf, v > 0 ? "Infinity" : "-Infinity");
    if (v == 0) return (size_t)sprintf(buf, signbit(v) ? "-0.0" : "0.0");

    /* Shortest digits that read back as v: try 1..17 significant digits (17 always round-trip).
     * JDK 19's spec takes two digits when one would do (Double.MIN_VALUE is "4.9E-324", not
     * "5.0E-324"), the closest two-digit decimal: so start at two. */
    char sci[40];
    for (int prec = 1; prec <= 16; prec++) {
        snprintf(sci, sizeof(sci), "%.*e", prec, v);
        if (strtod(sci, NULL) == v) break;
    }
    /* sci is "[-]d[.ddd]e[+-]XX": split into sign, digits and exponent */
    const char *p = sci;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--; /* printf pads; Java does not */
    digits[nd] = '\0';

    char *o = buf;
    if (neg) *o++ = '-';
    double a = fabs(v);
    if (a >= 1e-3 && a < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                *o++ = i < nd ? digits[i] : '0';
            *o++ = '.';
            if (nd > exp10 + 1)
                for (int i = exp10 + 1; i < nd; i++)
                    *o++ = digits[i];
            else
                *o++ = '0';
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                *o++ = '0';
            for (int i = 0; i < nd; i++)
                *o++ = digits[i];
        }
        *o = '\0';
    } else {
        *o++ = digits[0];
        *o++ = '.';
        if (nd > 1)
            for (int i = 1; i < nd; i++)
                *o++ = digits[i];
        else
            *o++ = '0';
        o += sprintf(o, "E%d", exp10);
    }
    return (size_t)(o - buf);
}

/* ---- dates and timestamps (Howard Hinnant's civil-from-days algorithms) ---- */

int64_t tbml_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tbml_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

size_t tbml_format_date(int64_t days, char *buf)
{
    int64_t y;
    int m, d;
    tbml_civil_from_days(days, &y, &m, &d);
    return (size_t)sprintf(buf, "%04" PRId64 "-%02d-%02d", y, m, d);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

size_t tbml_format_timestamp(int64_t micros, char *buf)
{
    int64_t days = floor_div(micros, 86400000000LL);
    int64_t rem = micros - days * 86400000000LL;
    size_t n = tbml_format_date(days, buf);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    n += (size_t)sprintf(buf + n, " %02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60),
                         (int)(secs % 60));
    if (frac) {
        char f[8];
        sprintf(f, "%06d", (int)frac);
        int len = 6;
        while (f[len - 1] == '0')
            len--;
        f[len] = '\0';
        n += (size_t)sprintf(buf + n, ".%s", f);
    }
    return n;
}

/* Reads 1..maxd digits at s[*i] into *v; returns the count read. */
static int read_digits(const char *s, size_t size, size_t *i, int maxd, int64_t *v)
{
    int n = 0;
    int64_t x = 0;
    while (*i < size && n < maxd && s[*i] >= '0' && s[*i] <= '9') {
        x = x * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    *v = x;
    return n;
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

/* The date part; leaves *i after it. */
static int parse_date_part(const char *s, size_t size, size_t *i, int64_t *days)
{
    int64_t y, m, d;
    if (read_digits(s, size, i, 4, &y) != 4) return 0;
    if (*i >= size || s[*i] != '-') return 0;
    (*i)++;
    if (read_digits(s, size, i, 2, &m) < 1) return 0;
    if (*i >= size || s[*i] != '-') return 0;
    (*i)++;
    if (read_digits(s, size, i, 2, &d) < 1) return 0;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, (int)m)) return 0;
    *days = tbml_days_from_civil(y, (int)m, (int)d);
    return 1;
}

int tbml_parse_date(const char *s, size_t size, int64_t *days)
{
    size_t i = 0;
    int64_t v;
    if (!parse_date_part(s, size, &i, &v) || i != size) return 0;
    *days = v;
    return 1;
}

int tbml_parse_timestamp(const char *s, size_t size, int64_t *micros)
{
    size_t i = 0;
    int64_t days, hh = 0, mi = 0, ss = 0, frac = 0, zone = 0;
    if (!parse_date_part(s, size, &i, &days)) return 0;
    if (i < size) {
        if (s[i] != ' ' && s[i] != 'T') return 0;
        i++;
        if (read_digits(s, size, &i, 2, &hh) != 2 || i >= size || s[i] != ':') return 0;
        i++;
        if (read_digits(s, size, &i, 2, &mi) != 2) return 0;
        if (i < size && s[i] == ':') {
            i++;
            if (read_digits(s, size, &i, 2, &ss) != 2) return 0;
            if (i < size && s[i] == '.') {
                i++;
                int64_t f;
                int nf = read_digits(s, size, &i, 9, &f);
                if (nf < 1) return 0;
                for (int k = nf; k < 6; k++)
                    f *= 10;
                for (int k = 6; k < nf; k++)
                    f /= 10;
                frac = f;
            }
        }
        if (hh > 23 || mi > 59 || ss > 59) return 0;
        if (i < size) {
            if (s[i] == 'Z' && i + 1 == size) {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int sign = s[i] == '-' ? -1 : 1;
                int64_t zh, zm = 0;
                i++;
                if (read_digits(s, size, &i, 2, &zh) != 2) return 0;
                if (i < size && s[i] == ':') i++;
                if (i < size && read_digits(s, size, &i, 2, &zm) != 2) return 0;
                if (zh > 18 || zm > 59) return 0;
                zone = sign * (zh * 3600 + zm * 60);
            } else {
                return 0;
            }
        }
    }
    if (i != size) return 0;
    *micros = ((days * 86400 + hh * 3600 + mi * 60 + ss - zone) * 1000000) + frac;
    return 1;
}

/* ---- cells ---- */

static void buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *len + n + 1)
            c *= 2;
        *buf = tbml_realloc(*buf, c);
        *cap = c;
    }
    if (n) memcpy(*buf + *len, s, n); /* an empty string column may have no chars array */
    *len += n;
    (*buf)[*len] = '\0';
}

void tbml_format_cell(const tbml_column *c, int64_t row, char **buf, size_t *len, size_t *cap)
{
    char tmp[TBML_FORMAT_MAX];
    size_t n = 0;
    if (c->type == TBML_TYPE_NULL || tbml_column_is_null(c, row)) {
        buf_put(buf, len, cap, "null", 4);
        return;
    }
    switch (c->type) {
    case TBML_TYPE_NULL:
        break;
    case TBML_TYPE_BOOL:
        n = (size_t)sprintf(tmp, "%s", c->u8[row] ? "true" : "false");
        break;
    case TBML_TYPE_INT64:
        n = (size_t)sprintf(tmp, "%" PRId64, c->i64[row]);
        break;
    case TBML_TYPE_DOUBLE:
        n = tbml_format_double(c->f64[row], tmp);
        break;
    case TBML_TYPE_DATE:
        n = tbml_format_date(c->i64[row], tmp);
        break;
    case TBML_TYPE_TIMESTAMP:
        n = tbml_format_timestamp(c->i64[row], tmp);
        break;
    case TBML_TYPE_STRING: {
        size_t sn;
        const char *s = tbml_column_str(c, row, &sn);
        buf_put(buf, len, cap, s, sn);
        return;
    }
    }
    buf_put(buf, len, cap, tmp, n);
}

/* ---- show ---- */

/* Decodes one UTF-8 code point at s (size > 0); returns its length (1 for a bad byte). */
static size_t utf8_next(const char *s, size_t size, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80 || size < 2) {
        *cp = u[0];
        return 1;
    }
    size_t n = u[0] >= 0xF0 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC0 ? 2 : 1;
    if (n == 1 || n > size) {
        *cp = u[0];
        return 1;
    }
    uint32_t v = u[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = u[0];
            return 1;
        }
        v = (v << 6) | (u[i] & 0x3F);
    }
    *cp = v;
    return n;
}

/* Java String.length() counts UTF-16 units: code points above U+FFFF count 2. */
static size_t java_units(uint32_t cp)
{
    return cp > 0xFFFF ? 2 : 1;
}

/* Display width as Spark's Utils.stringHalfWidth: full-width (East Asian wide) characters count 2.
 */
static int is_full_width(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
           (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

static size_t half_width(const char *s, size_t size)
{
    size_t w = 0;
    for (size_t i = 0; i < size;) {
        uint32_t cp;
        i += utf8_next(s + i, size - i, &cp);
        w += is_full_width(cp) ? 2 : 1;
    }
    return w;
}

/* Cuts s to its first `units` UTF-16 units (Java's substring(0, units)); returns the byte length.
 */
static size_t prefix_units(const char *s, size_t size, size_t units)
{
    size_t i = 0, u = 0;
    while (i < size) {
        uint32_t cp;
        size_t n = utf8_next(s + i, size - i, &cp);
        if (u + java_units(cp) > units) break;
        u += java_units(cp);
        i += n;
    }
    return i;
}

static size_t units_of(const char *s, size_t size)
{
    size_t u = 0;
    for (size_t i = 0; i < size;) {
        uint32_t cp;
        i += utf8_next(s + i, size - i, &cp);
        u += java_units(cp);
    }
    return u;
}

typedef struct {
    char *s;
    size_t len;
} cell_text;

/* Spark 3's SchemaUtils.escapeMetaCharacters: control characters that would break the table's
 * lines print as their escapes. Returns a new string or NULL if nothing needed escaping. */
static char *escape_meta(const char *s, size_t *n)
{
    size_t extra = 0;
    for (size_t i = 0; i < *n; i++)
        extra += s[i] && strchr("\n\r\t\f\b\v\a", s[i]) != NULL;
    if (!extra) return NULL;
    char *e = tbml_malloc(*n + extra + 1);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\v':
            esc = "\\v";
            break;
        case '\a':
            esc = "\\a";
            break;
        }
        if (esc) {
            e[k++] = esc[0];
            e[k++] = esc[1];
        } else {
            e[k++] = s[i];
        }
    }
    e[k] = '\0';
    *n = k;
    return e;
}

static void cell_set(cell_text *c, const char *s, size_t n, int truncate)
{
    char *esc = escape_meta(s, &n);
    if (esc) s = esc;
    if (truncate > 0 && units_of(s, n) > (size_t)truncate) {
        size_t keep = prefix_units(s, n, truncate < 4 ? (size_t)truncate : (size_t)truncate - 3);
        c->s = tbml_malloc(keep + 4);
        memcpy(c->s, s, keep);
        c->len = keep;
        if (truncate >= 4) {
            memcpy(c->s + keep, "...", 3);
            c->len += 3;
        }
        c->s[c->len] = '\0';
    } else {
        c->s = tbml_malloc(n + 1);
        memcpy(c->s, s, n);
        c->s[n] = '\0';
        c->len = n;
    }
    tbml_free(esc);
}

char *tbml_show_string(const tbml_table *t, int64_t n, int truncate)
{
    int ncols = t->schema.nfields;
    if (n < 0) n = 0;
    int64_t total = tbml_table_nrows(t);
    int64_t shown = total < n ? total : n;
    /* rows[0] is the header */
    cell_text *cells =
        tbml_calloc((size_t)(shown + 1) * (size_t)(ncols ? ncols : 1), sizeof(cell_text));
    size_t *width = tbml_calloc((size_t)(ncols ? ncols : 1), sizeof(size_t));
    for (int j = 0; j < ncols; j++) {
        const char *name = t->schema.fields[j].name;
        cell_set(&cells[j], name, strlen(name), 0); /* Spark never cuts the header */
    }
    char *tmp = NULL;
    size_t tlen = 0, tcap = 0;
    int64_t r = 0;
    for (int64_t b = 0; b < t->nbatches && r < shown; b++) {
        const tbml_batch *batch = t->batches[b];
        for (int64_t i = 0; i < batch->nrows && r < shown; i++, r++) {
            for (int j = 0; j < ncols; j++) {
                tlen = 0;
                tbml_format_cell(&batch->cols[j], i, &tmp, &tlen, &tcap);
                cell_set(&cells[(size_t)(r + 1) * (size_t)ncols + (size_t)j], tlen ? tmp : "", tlen,
                         truncate);
            }
        }
    }
    tbml_free(tmp);
    for (int j = 0; j < ncols; j++) {
        width[j] = 3;
        for (int64_t i = 0; i <= shown; i++) {
            cell_text *c = &cells[(size_t)i * (size_t)ncols + (size_t)j];
            size_t w = half_width(c->s, c->len);
            if (w > width[j]) width[j] = w;
        }
    }
    char *out = NULL;
    size_t len = 0, cap = 0;
    /* separator line */
    char *sep = NULL;
    size_t slen = 0, scap = 0;
    buf_put(&sep, &slen, &scap, "+", 1);
    for (int j = 0; j < ncols; j++) {
        for (size_t k = 0; k < width[j]; k++)
            buf_put(&sep, &slen, &scap, "-", 1);
        buf_put(&sep, &slen, &scap, "+", 1);
    }
    buf_put(&sep, &slen, &scap, "\n", 1);
    buf_put(&out, &len, &cap, sep, slen);
    for (int64_t i = 0; i <= shown; i++) {
        buf_put(&out, &len, &cap, "|", 1);
        for (int j = 0; j < ncols; j++) {
            cell_text *c = &cells[(size_t)i * (size_t)ncols + (size_t)j];
            size_t pad = width[j] - half_width(c->s, c->len);
            if (truncate > 0)
                for (size_t k = 0; k < pad; k++)
                    buf_put(&out, &len, &cap, " ", 1);
            buf_put(&out, &len, &cap, c->s, c->len);
            if (truncate <= 0)
                for (size_t k = 0; k < pad; k++)
                    buf_put(&out, &len, &cap, " ", 1);
            buf_put(&out, &len, &cap, "|", 1);
        }
        buf_put(&out, &len, &cap, "\n", 1);
        if (i == 0) buf_put(&out, &len, &cap, sep, slen);
    }
    buf_put(&out, &len, &cap, sep, slen);
    if (total > n) {
        char foot[80];
        int fn = snprintf(foot, sizeof(foot), "only showing top %" PRId64 " %s\n", n,
                          n == 1 ? "row" : "rows");
        buf_put(&out, &len, &cap, foot, (size_t)fn);
    }
    for (size_t i = 0; i < (size_t)(shown + 1) * (size_t)ncols; i++)
        tbml_free(cells[i].s);
    tbml_free(cells);
    tbml_free(width);
    tbml_free(sep);
    return out;
}

void tbml_show(const tbml_table *t, int64_t n, int truncate, FILE *f)
{
    char *s = tbml_show_string(t, n, truncate);
    fputs(s, f);
    fputc('\n', f);
    tbml_free(s);
}

char *tbml_schema_tree_string(const tbml_schema *s)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    buf_put(&out, &len, &cap, "root\n", 5);
    for (int i = 0; i < s->nfields; i++) {
        char line[64];
        buf_put(&out, &len, &cap, " |-- ", 5);
        buf_put(&out, &len, &cap, s->fields[i].name, strlen(s->fields[i].name));
        int n =
            snprintf(line, sizeof(line), ": %s (nullable = %s)\n",
                     tbml_type_name(s->fields[i].type), s->fields[i].nullable ? "true" : "false");
        buf_put(&out, &len, &cap, line, (size_t)n);
    }
    return out;
}

void tbml_print_schema(const tbml_schema *s, FILE *f)
{
    char *t = tbml_schema_tree_string(s);
    fputs(t, f);
    fputc('\n', f);
    tbml_free(t);
}
