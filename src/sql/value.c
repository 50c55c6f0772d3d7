/* Scalar values: reading one cell of a column, casts with Spark's non-ANSI rules (bad input
 * becomes NULL), formatting as CAST(x AS STRING) does, dates, LIKE, hashing, and the value
 * sets behind IN (subquery) and count(DISTINCT). The vectorised evaluator (expr.c) falls back
 * to these for the rarer functions. */
#include "sql_int.h"
#include "tbml/show.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sql_value_get(const tbml_column *c, int64_t row, sql_value *v)
{
    v->type = c->type;
    v->isnull = c->type == TBML_TYPE_NULL || tbml_column_is_null(c, row);
    if (v->isnull) return;
    switch (c->type) {
    case TBML_TYPE_NULL:
        break;
    case TBML_TYPE_BOOL:
        v->i = c->u8[row];
        break;
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP:
        v->i = c->i64[row];
        break;
    case TBML_TYPE_DOUBLE:
        v->f = c->f64[row];
        break;
    case TBML_TYPE_STRING:
        v->s = tbml_column_str(c, row, &v->n);
        break;
    }
}

void sql_column_append_value(tbml_column *c, const sql_value *v)
{
    if (v->isnull || v->type == TBML_TYPE_NULL) {
        tbml_column_append_null(c);
        return;
    }
    switch (c->type) {
    case TBML_TYPE_NULL:
        tbml_column_append_null(c);
        break;
    case TBML_TYPE_BOOL:
        tbml_column_append_bool(c, (int)v->i);
        break;
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP:
        tbml_column_append_i64(c, v->i);
        break;
    case TBML_TYPE_DOUBLE:
        tbml_column_append_f64(c, v->f);
        break;
    case TBML_TYPE_STRING:
        tbml_column_append_str(c, v->s, v->n);
        break;
    }
}

static int cmp_double(double a, double b)
{
    /* Spark's order: NaN above everything, -0.0 equal to 0.0 */
    int an = isnan(a), bn = isnan(b);
    if (an || bn) return an - bn;
    return (a > b) - (a < b);
}

int sql_value_cmp(const sql_value *a, const sql_value *b)
{
    switch (a->type) {
    case TBML_TYPE_DOUBLE:
        return cmp_double(a->f, b->f);
    case TBML_TYPE_STRING: {
        size_t n = a->n < b->n ? a->n : b->n;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        if (c) return c < 0 ? -1 : 1;
        return (a->n > b->n) - (a->n < b->n);
    }
    case TBML_TYPE_NULL:
        return 0;
    default:
        return (a->i > b->i) - (a->i < b->i);
    }
}

int sql_value_eq(const sql_value *a, const sql_value *b)
{
    if (a->isnull || b->isnull) return a->isnull && b->isnull;
    return sql_value_cmp(a, b) == 0;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t hash_bytes(const char *s, size_t n)
{
    if (n <= 8) {
        /* short keys (the common group and join keys): one load, one mix */
        uint64_t w = 0;
        for (size_t i = 0; i < n; i++) /* not memcpy: a variable-size copy is a call and a stall */
            w |= (uint64_t)(uint8_t)s[i] << (8 * i);
        return mix64(w * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n << 56) ^ 0x2545F4914F6CDD1DULL);
    }
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ mix64(w)) * 0x100000001b3ULL;
    }
    uint64_t w = 0;
    if (i < n) memcpy(&w, s + i, n - i);
    return mix64(h ^ w);
}

static inline uint64_t hash_double(double f)
{
    if (f == 0) f = 0; /* -0.0 hashes as 0.0 */
    if (isnan(f)) f = NAN;
    uint64_t u;
    memcpy(&u, &f, 8);
    return mix64(u);
}

uint64_t sql_value_hash(const sql_value *v)
{
    if (v->isnull) return 0x5bd1e995;
    switch (v->type) {
    case TBML_TYPE_DOUBLE:
        return hash_double(v->f);
    case TBML_TYPE_STRING:
        return hash_bytes(v->s, v->n);
    case TBML_TYPE_NULL:
        return 0x5bd1e995;
    default:
        return mix64((uint64_t)v->i);
    }
}

void sql_hash_columns(const tbml_column *const *cols, int ncols, int64_t nrows, uint64_t *out)
{
    for (int64_t r = 0; r < nrows; r++)
        out[r] = 0x12345;
    for (int k = 0; k < ncols; k++) {
        const tbml_column *c = cols[k];
        for (int64_t r = 0; r < nrows; r++) {
            uint64_t h;
            if (c->type == TBML_TYPE_NULL || tbml_column_is_null(c, r)) {
                h = 0x5bd1e995;
            } else {
                switch (c->type) {
                case TBML_TYPE_DOUBLE:
                    h = hash_double(c->f64[r]);
                    break;
                case TBML_TYPE_STRING: {
                    size_t n;
                    const char *s = tbml_column_str(c, r, &n);
                    h = hash_bytes(s, n);
                    break;
                }
                case TBML_TYPE_BOOL:
                    h = mix64(c->u8[r]);
                    break;
                default:
                    h = mix64((uint64_t)c->i64[r]);
                    break;
                }
            }
            out[r] = (out[r] * 0x9e3779b97f4a7c15ULL) ^ h;
        }
    }
}

/* ---- dates: days since 1970-01-01 in the proleptic Gregorian calendar ---- */

/* The calendar arithmetic is the data layer's (include/tbml/show.h), shared with the readers and
 * show(), so a date parses, prints and computes the same everywhere. */
static int64_t days_from_civil(int64_t y, int m, int d) { return tbml_days_from_civil(y, m, d); }

void sql_civil_from_days(int64_t z, int *yy, int *mm, int *dd)
{
    int64_t y;
    tbml_civil_from_days(z, &y, mm, dd);
    *yy = (int)y;
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

/* Reads up to maxd digits at s[*i]; returns the count read. */
static int digits(const char *s, size_t n, size_t *i, int maxd, int64_t *v)
{
    int k = 0;
    *v = 0;
    while (*i < n && k < maxd && isdigit((unsigned char)s[*i])) {
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    return k;
}

/* Parses "YYYY[-M[M][-D[D]]]" and stops at the end or a space/T; sets *rest to where it stopped. */
static int parse_date_part(const char *s, size_t n, size_t *i, int64_t *days)
{
    int64_t y, m = 1, d = 1;
    /* four-digit years, as Spark's default parser: also keeps timestamps within a long */
    int k = digits(s, n, i, 4, &y);
    if (k < 4) return 0;
    if (*i < n && s[*i] == '-') {
        (*i)++;
        if (digits(s, n, i, 2, &m) < 1) return 0;
        if (*i < n && s[*i] == '-') {
            (*i)++;
            if (digits(s, n, i, 2, &d) < 1) return 0;
        }
    }
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, (int)m)) return 0;
    *days = days_from_civil(y, (int)m, (int)d);
    return 1;
}

int sql_parse_date(const char *s, size_t n, int64_t *days)
{
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    int64_t d;
    if (!parse_date_part(s, n, &i, &d)) return 0;
    /* Spark's to_date/CAST accept a time after the date and drop it */
    if (i < n && s[i] != ' ' && s[i] != 'T') return 0;
    *days = d;
    return 1;
}

int sql_parse_timestamp(const char *s, size_t n, int64_t *us)
{
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    int64_t d, hh = 0, mi = 0, ss = 0, frac = 0;
    if (!parse_date_part(s, n, &i, &d)) return 0;
    if (i < n) {
        if (s[i] != ' ' && s[i] != 'T') return 0;
        i++;
        if (digits(s, n, &i, 2, &hh) < 1 || i >= n || s[i] != ':') return 0;
        i++;
        if (digits(s, n, &i, 2, &mi) < 1) return 0;
        if (i < n && s[i] == ':') {
            i++;
            if (digits(s, n, &i, 2, &ss) < 1) return 0;
            if (i < n && s[i] == '.') {
                i++;
                int64_t f;
                int k = digits(s, n, &i, 6, &f);
                if (k < 1) return 0;
                while (k++ < 6)
                    f *= 10;
                frac = f;
                while (i < n && isdigit((unsigned char)s[i]))
                    i++;
            }
        }
        if (i < n && s[i] == 'Z') i++;
        if (i != n || hh > 23 || mi > 59 || ss > 59) return 0;
    }
    *us = ((d * 24 + hh) * 60 + mi) * 60000000LL + ss * 1000000LL + frac;
    return 1;
}

/* ---- formatting as CAST(x AS STRING) ---- */

/* Java's Double.toString, which Spark uses: shortest digits that read back, with ".0" for whole
 * numbers and E notation outside [1e-3, 1e7). */
static void format_double(double f, char *out, size_t size)
{
    if (isnan(f)) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(f)) {
        snprintf(out, size, f > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (f == 0) {
        snprintf(out, size, signbit(f) ? "-0.0" : "0.0");
        return;
    }
    char digs[32];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(digs, sizeof(digs), "%.*e", prec - 1, f);
        if (strtod(digs, NULL) == f) break;
    }
    /* digs is like "-1.2345e+05": pull out the digits and the exponent */
    char mant[24];
    int nm = 0, neg = 0, exp10;
    const char *p = digs;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p)) mant[nm++] = *p;
    exp10 = atoi(p + 1);
    while (nm > 1 && mant[nm - 1] == '0')
        nm--;
    mant[nm] = '\0';
    double a = fabs(f);
    size_t o = 0;
    char buf[64];
    if (neg) buf[o++] = '-';
    if (a >= 1e-3 && a < 1e7) {
        if (exp10 >= 0) {
            for (int k = 0; k <= exp10; k++)
                buf[o++] = k < nm ? mant[k] : '0';
            buf[o++] = '.';
            if (nm > exp10 + 1)
                for (int k = exp10 + 1; k < nm; k++)
                    buf[o++] = mant[k];
            else
                buf[o++] = '0';
        } else {
            buf[o++] = '0';
            buf[o++] = '.';
            for (int k = 0; k < -exp10 - 1; k++)
                buf[o++] = '0';
            for (int k = 0; k < nm; k++)
                buf[o++] = mant[k];
        }
        buf[o] = '\0';
    } else {
        buf[o++] = mant[0];
        buf[o++] = '.';
        if (nm > 1)
            for (int k = 1; k < nm; k++)
                buf[o++] = mant[k];
        else
            buf[o++] = '0';
        snprintf(buf + o, sizeof(buf) - o, "E%d", exp10);
    }
    snprintf(out, size, "%s", buf);
}

char *sql_value_to_string(const sql_value *v, size_t *n)
{
    char buf[64];
    switch (v->type) {
    case TBML_TYPE_STRING: {
        char *s = tbml_malloc(v->n + 1);
        memcpy(s, v->s, v->n);
        s[v->n] = '\0';
        *n = v->n;
        return s;
    }
    case TBML_TYPE_BOOL:
        snprintf(buf, sizeof(buf), "%s", v->i ? "true" : "false");
        break;
    case TBML_TYPE_INT64:
        snprintf(buf, sizeof(buf), "%lld", (long long)v->i);
        break;
    case TBML_TYPE_DOUBLE:
        format_double(v->f, buf, sizeof(buf));
        break;
    case TBML_TYPE_DATE: {
        int y, m, d;
        sql_civil_from_days(v->i, &y, &m, &d);
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
        break;
    }
    case TBML_TYPE_TIMESTAMP: {
        int64_t us = v->i,
                days = us / 86400000000LL - (us % 86400000000LL < 0); /* floor, no overflow */
        int64_t rem = us - days * 86400000000LL;
        int y, m, d;
        sql_civil_from_days(days, &y, &m, &d);
        int64_t sec = rem / 1000000, frac = rem % 1000000;
        int o = snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", y, m, d,
                         (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
        if (frac) {
            char f[8];
            snprintf(f, sizeof(f), "%06lld", (long long)frac);
            int k = 6;
            while (k > 0 && f[k - 1] == '0')
                k--;
            f[k] = '\0';
            snprintf(buf + o, sizeof(buf) - (size_t)o, ".%s", f);
        }
        break;
    }
    case TBML_TYPE_NULL:
        snprintf(buf, sizeof(buf), "null");
        break;
    }
    *n = strlen(buf);
    return tbml_strdup(buf);
}

/* ---- casts ---- */

static int parse_long(const char *s, size_t n, int64_t *out)
{
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i == n) return 0;
    int neg = 0;
    if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
    if (i == n) return 0;
    uint64_t v = 0;
    int any = 0;
    for (; i < n && isdigit((unsigned char)s[i]); i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
        any = 1;
    }
    /* Spark casts "1.9" to 1: a fraction is read and dropped */
    if (i < n && s[i] == '.') {
        i++;
        for (; i < n && isdigit((unsigned char)s[i]); i++)
            any = 1;
    }
    if (!any || i != n) return 0;
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

static int parse_double(const char *s, size_t n, double *out)
{
    char buf[128];
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    if (n == 0 || n >= sizeof(buf)) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strcmp(buf, "NaN") == 0) {
        *out = NAN;
        return 1;
    }
    if (strcmp(buf, "Infinity") == 0 || strcmp(buf, "+Infinity") == 0) {
        *out = INFINITY;
        return 1;
    }
    if (strcmp(buf, "-Infinity") == 0) {
        *out = -INFINITY;
        return 1;
    }
    /* strtod also reads hex, "inf" and "nan"; Spark does not */
    for (size_t i = 0; i < n; i++)
        if (!(isdigit((unsigned char)buf[i]) || strchr("+-.eE", buf[i]))) return 0;
    char *end;
    double d = strtod(buf, &end);
    if (*end != '\0') return 0;
    *out = d;
    return 1;
}

int64_t sql_double_to_long(double f)
{
    if (isnan(f)) return 0;
    if (f >= 9.2233720368547758e18) return INT64_MAX;
    if (f <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)f;
}

void sql_value_cast(const sql_value *v, tbml_type t, sql_value *out, char **buf)
{
    *buf = NULL;
    memset(out, 0, sizeof(*out));
    out->type = t;
    if (v->isnull || v->type == TBML_TYPE_NULL) {
        out->isnull = 1;
        return;
    }
    if (v->type == t) {
        *out = *v;
        return;
    }
    switch (t) {
    case TBML_TYPE_STRING:
        *buf = sql_value_to_string(v, &out->n);
        out->s = *buf;
        return;
    case TBML_TYPE_INT64:
        switch (v->type) {
        case TBML_TYPE_BOOL:
            out->i = v->i;
            return;
        case TBML_TYPE_DOUBLE:
            out->i = sql_double_to_long(v->f);
            return;
        case TBML_TYPE_STRING:
            out->isnull = !parse_long(v->s, v->n, &out->i);
            return;
        case TBML_TYPE_TIMESTAMP: /* seconds, rounded down as Spark does */
            out->i = v->i / 1000000 - (v->i % 1000000 < 0); /* floor */
            return;
        default:
            out->isnull = 1;
            return;
        }
    case TBML_TYPE_DOUBLE:
        switch (v->type) {
        case TBML_TYPE_BOOL:
        case TBML_TYPE_INT64:
            out->f = (double)v->i;
            return;
        case TBML_TYPE_STRING:
            out->isnull = !parse_double(v->s, v->n, &out->f);
            return;
        case TBML_TYPE_TIMESTAMP:
            out->f = (double)v->i / 1e6;
            return;
        default:
            out->isnull = 1;
            return;
        }
    case TBML_TYPE_BOOL:
        switch (v->type) {
        case TBML_TYPE_INT64:
            out->i = v->i != 0;
            return;
        case TBML_TYPE_DOUBLE:
            out->i = v->f != 0;
            return;
        case TBML_TYPE_STRING: {
            static const char *yes[] = {"t", "true", "y", "yes", "1"},
                              *no[] = {"f", "false", "n", "no", "0"};
            char w[8];
            size_t n = v->n;
            const char *s = v->s;
            while (n && isspace((unsigned char)s[n - 1]))
                n--;
            while (n && isspace((unsigned char)*s)) {
                s++;
                n--;
            }
            out->isnull = 1;
            if (n == 0 || n >= sizeof(w)) return;
            for (size_t i = 0; i < n; i++)
                w[i] = (char)tolower((unsigned char)s[i]);
            w[n] = '\0';
            for (int i = 0; i < 5; i++) {
                if (strcmp(w, yes[i]) == 0) {
                    out->isnull = 0;
                    out->i = 1;
                }
                if (strcmp(w, no[i]) == 0) {
                    out->isnull = 0;
                    out->i = 0;
                }
            }
            return;
        }
        default:
            out->isnull = 1;
            return;
        }
    case TBML_TYPE_DATE:
        switch (v->type) {
        case TBML_TYPE_STRING:
            out->isnull = !sql_parse_date(v->s, v->n, &out->i);
            return;
        case TBML_TYPE_TIMESTAMP:
            out->i = v->i / 86400000000LL - (v->i % 86400000000LL < 0); /* floor */
            return;
        default:
            out->isnull = 1;
            return;
        }
    case TBML_TYPE_TIMESTAMP:
        switch (v->type) {
        case TBML_TYPE_STRING:
            out->isnull = !sql_parse_timestamp(v->s, v->n, &out->i);
            return;
        case TBML_TYPE_DATE: /* past a long's microseconds: NULL */
            out->isnull = v->i > 106751991 || v->i < -106751991;
            if (!out->isnull) out->i = v->i * 86400000000LL;
            return;
        case TBML_TYPE_INT64:
            out->isnull = v->i > INT64_MAX / 1000000 || v->i < INT64_MIN / 1000000;
            if (!out->isnull) out->i = v->i * 1000000;
            return;
        case TBML_TYPE_DOUBLE:
            out->i = sql_double_to_long(v->f * 1e6);
            return;
        default:
            out->isnull = 1;
            return;
        }
    case TBML_TYPE_NULL:
        out->isnull = 1;
        return;
    }
}

/* ---- LIKE: % any run, _ one character (UTF-8 aware), esc escapes the next pattern char ---- */

static size_t utf8_len(unsigned char c)
{
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) return 2;
    if ((c & 0xf0) == 0xe0) return 3;
    if ((c & 0xf8) == 0xf0) return 4;
    return 1;
}

int sql_like(const char *s, size_t n, const char *p, size_t pn, char esc)
{
    size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
    while (si < n) {
        if (pi < pn && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn) {
            if (p[pi] == '_') {
                si += utf8_len((unsigned char)s[si]);
                pi++;
                continue;
            }
            size_t pc = pi;
            if (p[pi] == esc && pi + 1 < pn) pc = pi + 1;
            if (p[pc] == s[si]) {
                si++;
                pi = pc + 1;
                continue;
            }
        }
        if (star_p != (size_t)-1) {
            star_s += utf8_len((unsigned char)s[star_s]);
            si = star_s;
            pi = star_p;
            continue;
        }
        return 0;
    }
    while (pi < pn && p[pi] == '%')
        pi++;
    return pi == pn;
}

/* ---- value sets ---- */

struct sql_vset {
    sql_value *slots;
    uint8_t *used;
    int64_t cap, count;
};

sql_vset *sql_vset_new(void)
{
    sql_vset *s = tbml_calloc(1, sizeof(*s));
    s->cap = 16;
    s->slots = tbml_calloc((size_t)s->cap, sizeof(sql_value));
    s->used = tbml_calloc((size_t)s->cap, 1);
    return s;
}

static int64_t vset_find(const sql_vset *s, const sql_value *v, uint64_t h)
{
    int64_t mask = s->cap - 1, i = (int64_t)(h & (uint64_t)mask);
    while (s->used[i]) {
        if (sql_value_eq(&s->slots[i], v)) return i;
        i = (i + 1) & mask;
    }
    return -1 - i;
}

int sql_vset_add(sql_vset *s, const sql_value *v)
{
    if ((s->count + 1) * 2 > s->cap) {
        sql_vset old = *s;
        s->cap *= 2;
        s->slots = tbml_calloc((size_t)s->cap, sizeof(sql_value));
        s->used = tbml_calloc((size_t)s->cap, 1);
        for (int64_t i = 0; i < old.cap; i++) {
            if (!old.used[i]) continue;
            int64_t j = -1 - vset_find(s, &old.slots[i], sql_value_hash(&old.slots[i]));
            s->slots[j] = old.slots[i];
            s->used[j] = 1;
        }
        tbml_free(old.slots);
        tbml_free(old.used);
    }
    int64_t i = vset_find(s, v, sql_value_hash(v));
    if (i >= 0) return 0;
    i = -1 - i;
    s->slots[i] = *v;
    if (v->type == TBML_TYPE_STRING && !v->isnull) {
        char *c = tbml_malloc(v->n + 1);
        memcpy(c, v->s, v->n);
        c[v->n] = '\0';
        s->slots[i].s = c;
    }
    s->used[i] = 1;
    s->count++;
    return 1;
}

int sql_vset_has(const sql_vset *s, const sql_value *v)
{
    return vset_find(s, v, sql_value_hash(v)) >= 0;
}

int64_t sql_vset_count(const sql_vset *s)
{
    return s->count;
}

void sql_vset_free(sql_vset *s)
{
    if (!s) return;
    for (int64_t i = 0; i < s->cap; i++)
        if (s->used[i] && s->slots[i].type == TBML_TYPE_STRING && !s->slots[i].isnull)
            tbml_free((void *)s->slots[i].s);
    tbml_free(s->slots);
    tbml_free(s->used);
    tbml_free(s);
}

void sql_vset_foreach(const sql_vset *s, void (*fn)(void *ctx, const sql_value *v), void *ctx)
{
    for (int64_t i = 0; i < s->cap; i++)
        if (s->used[i]) fn(ctx, &s->slots[i]);
}

/* ---- Spark's partitioning hash: Murmur3_x86_32 with seed 42, as HashPartitioning uses, so a
 * hash exchange sends every key to the partition Spark would, and grouped results come out in
 * Spark's order. ---- */
static inline uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}
static inline uint32_t mix_k1(uint32_t k)
{
    k *= 0xcc9e2d51u;
    k = rotl32(k, 15);
    return k * 0x1b873593u;
}
static inline uint32_t mix_h1(uint32_t h, uint32_t k)
{
    h ^= k;
    h = rotl32(h, 13);
    return h * 5 + 0xe6546b64u;
}
static inline uint32_t fmix32(uint32_t h, uint32_t len)
{
    h ^= len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}
static inline uint32_t spark_hash_int(uint32_t v, uint32_t seed)
{
    return fmix32(mix_h1(seed, mix_k1(v)), 4);
}
static inline uint32_t spark_hash_long(uint64_t v, uint32_t seed)
{
    uint32_t h = mix_h1(seed, mix_k1((uint32_t)v));
    h = mix_h1(h, mix_k1((uint32_t)(v >> 32)));
    return fmix32(h, 8);
}
/* Spark's hashUnsafeBytes: little-endian words, then each tail byte as a signed int */
static uint32_t spark_hash_bytes(const char *s, size_t n, uint32_t seed)
{
    uint32_t h = seed;
    size_t aligned = n - n % 4;
    for (size_t i = 0; i < aligned; i += 4) {
        uint32_t w = (uint32_t)(uint8_t)s[i] | (uint32_t)(uint8_t)s[i + 1] << 8 |
                     (uint32_t)(uint8_t)s[i + 2] << 16 | (uint32_t)(uint8_t)s[i + 3] << 24;
        h = mix_h1(h, mix_k1(w));
    }
    for (size_t i = aligned; i < n; i++)
        h = mix_h1(h, mix_k1((uint32_t)(int32_t)(signed char)s[i]));
    return fmix32(h, (uint32_t)n);
}

void sql_spark_partition(const tbml_column *const *cols, int ncols, int64_t nrows, int nparts,
                         int *out)
{
    for (int64_t r = 0; r < nrows; r++) {
        uint32_t h = 42;
        for (int k = 0; k < ncols; k++) {
            const tbml_column *c = cols[k];
            if (c->type == TBML_TYPE_NULL || tbml_column_is_null(c, r))
                continue; /* NULL keeps the hash */
            switch (c->type) {
            case TBML_TYPE_BOOL:
                h = spark_hash_int(c->u8[r] ? 1u : 0u, h);
                break;
            case TBML_TYPE_DATE:
                h = spark_hash_int((uint32_t)(int32_t)c->i64[r], h);
                break;
            case TBML_TYPE_DOUBLE: {
                double f = c->f64[r];
                if (f == 0) f = 0; /* -0.0 as 0.0 */
                if (isnan(f)) f = NAN;
                uint64_t u;
                memcpy(&u, &f, 8);
                h = spark_hash_long(u, h);
                break;
            }
            case TBML_TYPE_STRING: {
                size_t n;
                const char *s = tbml_column_str(c, r, &n);
                h = spark_hash_bytes(s, n, h);
                break;
            }
            default:
                h = spark_hash_long((uint64_t)c->i64[r], h);
                break;
            }
        }
        int32_t hs = (int32_t)h;
        int m = (int)(hs % nparts);
        out[r] = m < 0 ? m + nparts : m;
    }
}
