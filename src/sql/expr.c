/* The vectorised expression evaluator: an expression over a batch gives a column. Arithmetic,
 * comparisons and boolean logic run as typed loops over whole column vectors (a literal operand
 * is a one-row vector read with stride 0); rarer functions go row by row through sql_value.
 * Null semantics are Spark's: NULL in, NULL out; x / 0 and x % 0 give NULL; AND/OR are
 * three-valued. The planner has already made both operands of a binary operator one type. */
#include "sql_int.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* An evaluated operand: column c, read at row i * s (s = 0 for a literal). */
typedef struct {
    const tbml_column *c;
    tbml_column tmp;
    int64_t s;
} vec;

static int vnull(const vec *v, int64_t i)
{
    return v->c->type == TBML_TYPE_NULL || (v->c->valid && !v->c->valid[i * v->s]);
}

static tbml_status vec_eval(const sql_expr *e, const tbml_batch *b, vec *v)
{
    memset(v, 0, sizeof(*v));
    if (e->kind == E_LIT) {
        tbml_column_init(&v->tmp, e->type, 1);
        if (e->type == TBML_TYPE_NULL) {
            v->tmp.nrows = 1;
        } else if (e->lit.isnull) {
            tbml_column_append_null(&v->tmp);
        } else {
            sql_value lv = e->lit;
            lv.type = e->type;
            sql_column_append_value(&v->tmp, &lv);
        }
        v->c = &v->tmp;
        v->s = 0;
        return TBML_OK;
    }
    v->s = 1;
    return sql_eval(e, b, &v->tmp, &v->c);
}

static void vec_free(vec *v)
{
    if (v->c == &v->tmp) tbml_column_clear(&v->tmp);
}

/* Output column of n rows, typed arrays allocated, validity when want_valid. */
static void out_alloc(tbml_column *c, tbml_type t, int64_t n, int want_valid)
{
    tbml_column_init(c, t, 0);
    size_t sz = n > 0 ? (size_t)n : 1;
    switch (t) {
    case TBML_TYPE_BOOL:
        c->u8 = tbml_malloc(sz);
        break;
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP:
        c->i64 = tbml_malloc(sz * 8);
        break;
    case TBML_TYPE_DOUBLE:
        c->f64 = tbml_malloc(sz * 8);
        break;
    default:
        TBML_ASSERT(0);
    }
    if (want_valid) {
        c->valid = tbml_malloc(sz);
        memset(c->valid, 1, sz);
    }
    c->nrows = n;
    c->capacity = n;
}

/* valid = a.valid AND b.valid, or none when neither operand has NULLs */
static void merge_valid(tbml_column *out, const vec *a, const vec *b, int64_t n)
{
    int an = a->c->valid != NULL || a->c->type == TBML_TYPE_NULL;
    int bn = b && (b->c->valid != NULL || b->c->type == TBML_TYPE_NULL);
    if (!an && !bn) return;
    if (!out->valid) out->valid = tbml_malloc(n > 0 ? (size_t)n : 1);
    for (int64_t i = 0; i < n; i++)
        out->valid[i] = !vnull(a, i) && !(b && vnull(b, i));
}

static void set_null(tbml_column *out, int64_t i, int64_t n)
{
    if (!out->valid) {
        out->valid = tbml_malloc(n > 0 ? (size_t)n : 1);
        memset(out->valid, 1, (size_t)n);
    }
    out->valid[i] = 0;
}

static tbml_status eval_arith(const sql_expr *e, const tbml_batch *b, tbml_column *out)
{
    vec x, y;
    tbml_status st = vec_eval(e->args[0], b, &x);
    if (st) return st;
    if ((st = vec_eval(e->args[1], b, &y))) {
        vec_free(&x);
        return st;
    }
    int64_t n = b->nrows, sx = x.s, sy = y.s;
    out_alloc(out, e->type, n, 0);
    merge_valid(out, &x, &y, n);
    tbml_type at = e->args[0]->type;
    if (at == TBML_TYPE_INT64) {
        const int64_t *p = x.c->i64, *q = y.c->i64;
        int64_t *o = out->i64;
        switch (e->op) {
        case OP_ADD:
            for (int64_t i = 0; i < n; i++)
                o[i] = (int64_t)((uint64_t)p[i * sx] + (uint64_t)q[i * sy]);
            break;
        case OP_SUB:
            for (int64_t i = 0; i < n; i++)
                o[i] = (int64_t)((uint64_t)p[i * sx] - (uint64_t)q[i * sy]);
            break;
        case OP_MUL:
            for (int64_t i = 0; i < n; i++)
                o[i] = (int64_t)((uint64_t)p[i * sx] * (uint64_t)q[i * sy]);
            break;
        case OP_MOD:
        case OP_IDIV:
            for (int64_t i = 0; i < n; i++) {
                int64_t d = q[i * sy], v = p[i * sx];
                if (d == 0) {
                    o[i] = 0;
                    set_null(out, i, n);
                } else if (d == -1) {
                    o[i] = e->op == OP_MOD ? 0 : (int64_t)(0 - (uint64_t)v);
                } else {
                    o[i] = e->op == OP_MOD ? v % d : v / d;
                }
            }
            break;
        default:
            TBML_ASSERT(0);
        }
    } else {
        TBML_ASSERT(at == TBML_TYPE_DOUBLE);
        const double *p = x.c->f64, *q = y.c->f64;
        switch (e->op) {
        case OP_ADD:
            for (int64_t i = 0; i < n; i++)
                out->f64[i] = p[i * sx] + q[i * sy];
            break;
        case OP_SUB:
            for (int64_t i = 0; i < n; i++)
                out->f64[i] = p[i * sx] - q[i * sy];
            break;
        case OP_MUL:
            for (int64_t i = 0; i < n; i++)
                out->f64[i] = p[i * sx] * q[i * sy];
            break;
        case OP_DIV:
        case OP_MOD:
            for (int64_t i = 0; i < n; i++) {
                double d = q[i * sy];
                if (d == 0) {
                    out->f64[i] = 0;
                    set_null(out, i, n);
                } else {
                    out->f64[i] = e->op == OP_DIV ? p[i * sx] / d : fmod(p[i * sx], d);
                }
            }
            break;
        case OP_IDIV:
            for (int64_t i = 0; i < n; i++) {
                double d = q[i * sy];
                if (d == 0) {
                    out->i64[i] = 0;
                    set_null(out, i, n);
                } else {
                    out->i64[i] = sql_double_to_long(p[i * sx] / d);
                }
            }
            break;
        default:
            TBML_ASSERT(0);
        }
    }
    vec_free(&x);
    vec_free(&y);
    return TBML_OK;
}

static inline int cmp_result(int op, int c)
{
    switch (op) {
    case OP_EQ:
    case OP_NSEQ:
        return c == 0;
    case OP_NE:
        return c != 0;
    case OP_LT:
        return c < 0;
    case OP_LE:
        return c <= 0;
    case OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static tbml_status eval_cmp(const sql_expr *e, const tbml_batch *b, tbml_column *out)
{
    vec x, y;
    tbml_status st = vec_eval(e->args[0], b, &x);
    if (st) return st;
    if ((st = vec_eval(e->args[1], b, &y))) {
        vec_free(&x);
        return st;
    }
    int64_t n = b->nrows, sx = x.s, sy = y.s;
    int op = e->op;
    out_alloc(out, TBML_TYPE_BOOL, n, 0);
    if (op != OP_NSEQ) merge_valid(out, &x, &y, n);
    uint8_t *o = out->u8;
    tbml_type t = e->args[0]->type;
    if (x.c->type == TBML_TYPE_NULL || y.c->type == TBML_TYPE_NULL) t = TBML_TYPE_NULL;
    switch (t) {
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP: {
        const int64_t *p = x.c->i64, *q = y.c->i64;
#define CMPLOOP(OPR)                                                                               \
    for (int64_t i = 0; i < n; i++)                                                                \
        o[i] = p[i * sx] OPR q[i * sy];
        switch (op) {
        case OP_EQ:
        case OP_NSEQ:
            CMPLOOP(==) break;
        case OP_NE:
            CMPLOOP(!=) break;
        case OP_LT:
            CMPLOOP(<) break;
        case OP_LE:
            CMPLOOP(<=) break;
        case OP_GT:
            CMPLOOP(>) break;
        default:
            CMPLOOP(>=) break;
        }
#undef CMPLOOP
        break;
    }
    case TBML_TYPE_BOOL:
        for (int64_t i = 0; i < n; i++)
            o[i] = (uint8_t)cmp_result(op, (x.c->u8[i * sx] > y.c->u8[i * sy]) -
                                               (x.c->u8[i * sx] < y.c->u8[i * sy]));
        break;
    case TBML_TYPE_DOUBLE: {
        const double *p = x.c->f64, *q = y.c->f64;
        for (int64_t i = 0; i < n; i++) {
            double a = p[i * sx], c = q[i * sy];
            int r;
            if (!isnan(a) && !isnan(c))
                r = (a > c) - (a < c);
            else
                r = isnan(a) - isnan(c);
            o[i] = (uint8_t)cmp_result(op, r);
        }
        break;
    }
    case TBML_TYPE_STRING:
        for (int64_t i = 0; i < n; i++) {
            size_t an, cn;
            const char *a = tbml_column_str(x.c, i * sx, &an),
                       *c = tbml_column_str(y.c, i * sy, &cn);
            size_t m = an < cn ? an : cn;
            int r = m ? memcmp(a, c, m) : 0;
            if (r == 0) r = (an > cn) - (an < cn);
            o[i] = (uint8_t)cmp_result(op, r);
        }
        break;
    default:
        memset(o, 0, (size_t)n);
        break;
    }
    if (op == OP_NSEQ) {
        /* NULL <=> NULL is true, NULL <=> x false, never NULL */
        for (int64_t i = 0; i < n; i++) {
            int xn = vnull(&x, i), yn = vnull(&y, i);
            if (xn || yn) o[i] = xn && yn;
        }
    }
    vec_free(&x);
    vec_free(&y);
    return TBML_OK;
}

static tbml_status eval_logic(const sql_expr *e, const tbml_batch *b, tbml_column *out)
{
    vec x, y;
    tbml_status st = vec_eval(e->args[0], b, &x);
    if (st) return st;
    if ((st = vec_eval(e->args[1], b, &y))) {
        vec_free(&x);
        return st;
    }
    int64_t n = b->nrows;
    out_alloc(out, TBML_TYPE_BOOL, n, 0);
    int is_and = e->kind == E_AND;
    int any_null =
        x.c->valid || y.c->valid || x.c->type == TBML_TYPE_NULL || y.c->type == TBML_TYPE_NULL;
    if (!any_null) {
        for (int64_t i = 0; i < n; i++)
            out->u8[i] = is_and ? (x.c->u8[i * x.s] & y.c->u8[i * y.s])
                                : (x.c->u8[i * x.s] | y.c->u8[i * y.s]);
    } else {
        for (int64_t i = 0; i < n; i++) {
            int xn = vnull(&x, i), yn = vnull(&y, i);
            int xv = xn ? 0 : x.c->u8[i * x.s], yv = yn ? 0 : y.c->u8[i * y.s];
            int r, isnull;
            if (is_and) {
                if ((!xn && !xv) || (!yn && !yv)) {
                    r = 0;
                    isnull = 0;
                } else {
                    r = 1;
                    isnull = xn || yn;
                }
            } else {
                if ((!xn && xv) || (!yn && yv)) {
                    r = 1;
                    isnull = 0;
                } else {
                    r = 0;
                    isnull = xn || yn;
                }
            }
            out->u8[i] = (uint8_t)r;
            if (isnull) set_null(out, i, n);
        }
    }
    vec_free(&x);
    vec_free(&y);
    return TBML_OK;
}

/* ---- row-by-row functions ---- */

static size_t utf8_count(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) k++;
    return k;
}

/* Byte offset of character index ci (0-based) in s, or n past the end. */
static size_t utf8_offset(const char *s, size_t n, size_t ci)
{
    size_t i = 0;
    while (i < n && ci > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
            i++;
        ci--;
    }
    return i;
}

typedef struct {
    const char *s;
    size_t n;
} piece;

/* Splits s by the regex (Java's String.split with limit -1: trailing empty strings kept). */
static int split_pieces(const regex_t *re, const char *s, size_t n, piece **out)
{
    int cap = 8, k = 0;
    piece *p = tbml_malloc((size_t)cap * sizeof(*p));
    char *z = tbml_malloc(n + 1);
    memcpy(z, s, n);
    z[n] = '\0';
    size_t start = 0, pos = 0;
    while (pos <= n) {
        regmatch_t m;
        int flags = pos > 0 ? REG_NOTBOL : 0;
        if (regexec(re, z + pos, 1, &m, flags) != 0) break;
        size_t ms = pos + (size_t)m.rm_so, me = pos + (size_t)m.rm_eo;
        if (me == ms) {
            /* an empty match splits between characters; none at the very start */
            if (ms >= n) break;
            if (ms == 0) {
                pos = 1;
                continue;
            }
        }
        if (k == cap) p = tbml_realloc(p, (size_t)(cap *= 2) * sizeof(*p));
        p[k].s = s + start;
        p[k].n = ms - start;
        k++;
        start = me;
        pos = me > ms ? me : ms + 1;
    }
    if (k == cap) p = tbml_realloc(p, (size_t)(cap + 1) * sizeof(*p));
    p[k].s = s + start;
    p[k].n = n - start;
    k++;
    tbml_free(z);
    *out = p;
    return k;
}

static void fn_row(const sql_expr *e, sql_value *a, int na, sql_value *r, char **buf)
{
    r->type = e->type;
    r->isnull = 0;
    *buf = NULL;
    /* every function here gives NULL for a NULL argument (nullif's second aside) */
    for (int i = 0; i < na; i++)
        if (a[i].isnull) {
            if (e->op == FN_NULLIF && i == 1) break;
            r->isnull = 1;
            return;
        }
    switch (e->op) {
    case FN_LOWER:
    case FN_UPPER: {
        char *s = tbml_malloc(a[0].n + 1);
        for (size_t i = 0; i < a[0].n; i++)
            s[i] = (char)(e->op == FN_LOWER ? tolower((unsigned char)a[0].s[i])
                                            : toupper((unsigned char)a[0].s[i]));
        *buf = s;
        r->s = s;
        r->n = a[0].n;
        return;
    }
    case FN_LENGTH:
        r->i = (int64_t)utf8_count(a[0].s, a[0].n);
        return;
    case FN_SUBSTR: {
        /* Spark's substring: 1-based, 0 acts as 1, negative counts from the end */
        int64_t len = (int64_t)utf8_count(a[0].s, a[0].n), pos = a[1].i;
        int64_t cnt = na > 2 ? a[2].i : INT64_MAX;
        int64_t start = pos > 0 ? pos - 1 : (pos < 0 ? len + pos : 0);
        int64_t end =
            cnt <= 0 ? start : (start > 0 && cnt > INT64_MAX - start ? INT64_MAX : start + cnt);
        if (start < 0) start = 0;
        if (end > len) end = len;
        r->s = a[0].s;
        r->n = 0;
        if (end > start) {
            size_t bs = utf8_offset(a[0].s, a[0].n, (size_t)start);
            size_t be = utf8_offset(a[0].s, a[0].n, (size_t)end);
            r->s = a[0].s + bs;
            r->n = be - bs;
        }
        return;
    }
    case FN_TRIM:
    case FN_LTRIM:
    case FN_RTRIM: {
        const char *s = a[0].s;
        size_t n = a[0].n;
        if (e->op != FN_RTRIM)
            while (n && *s == ' ') {
                s++;
                n--;
            }
        if (e->op != FN_LTRIM)
            while (n && s[n - 1] == ' ')
                n--;
        r->s = s;
        r->n = n;
        return;
    }
    case FN_CONCAT: {
        size_t tot = 0;
        for (int i = 0; i < na; i++)
            tot += a[i].n;
        char *s = tbml_malloc(tot + 1);
        size_t o = 0;
        for (int i = 0; i < na; i++) {
            if (a[i].n) memcpy(s + o, a[i].s, a[i].n);
            o += a[i].n;
        }
        *buf = s;
        r->s = s;
        r->n = tot;
        return;
    }
    case FN_SPLIT:
    case FN_SPLIT_AT:
    case FN_SPLIT_SIZE: {
        piece *p;
        int k = split_pieces((const regex_t *)e->re, a[0].s, a[0].n, &p);
        if (e->op == FN_SPLIT_SIZE) {
            r->i = k;
        } else if (e->op == FN_SPLIT_AT) {
            int64_t idx = a[2].i;
            if (idx < 0 || idx >= k) {
                r->isnull = 1;
            } else {
                r->s = p[idx].s;
                r->n = p[idx].n;
            }
        } else {
            /* no array type: the array shows as Spark prints it, [a, b, c] */
            size_t tot = 2;
            for (int i = 0; i < k; i++)
                tot += p[i].n + 2;
            char *s = tbml_malloc(tot + 1);
            size_t o = 0;
            s[o++] = '[';
            for (int i = 0; i < k; i++) {
                if (i) {
                    s[o++] = ',';
                    s[o++] = ' ';
                }
                memcpy(s + o, p[i].s, p[i].n);
                o += p[i].n;
            }
            s[o++] = ']';
            *buf = s;
            r->s = s;
            r->n = o;
        }
        tbml_free(p);
        return;
    }
    case FN_YEAR:
    case FN_MONTH:
    case FN_DAY: {
        int y, m, d;
        sql_civil_from_days(a[0].i, &y, &m, &d);
        r->i = e->op == FN_YEAR ? y : e->op == FN_MONTH ? m : d;
        return;
    }
    case FN_TO_DATE:
        r->i = a[0].i;
        return; /* the planner cast the argument to DATE */
    case FN_ABS:
        if (e->type == TBML_TYPE_INT64)
            r->i = a[0].i < 0 ? (int64_t)(0 - (uint64_t)a[0].i) : a[0].i;
        else
            r->f = fabs(a[0].f);
        return;
    case FN_ROUND: {
        int64_t d = na > 1 ? a[1].i : 0;
        if (e->type == TBML_TYPE_INT64) {
            r->i = a[0].i;
            if (d < 0) {
                int64_t p10 = 1;
                for (int64_t k = 0; k < -d && p10 < INT64_MAX / 10; k++)
                    p10 *= 10;
                int64_t q = a[0].i / p10, rem = a[0].i % p10;
                if (rem * 2 >= p10)
                    q++;
                else if (rem * 2 <= -p10)
                    q--;
                r->i = (int64_t)((uint64_t)q * (uint64_t)p10);
            }
            return;
        }
        double f = a[0].f, p10 = pow(10.0, (double)d);
        /* HALF_UP on the decimal value, as Spark's round */
        double v = f * p10;
        double rv = round(v);
        if (fabs(v - trunc(v)) != 0.5 && fabs(rv - v) > 0.5) rv = trunc(v);
        r->f = isfinite(rv / p10) ? rv / p10 : f;
        return;
    }
    case FN_FLOOR:
        r->i = sql_double_to_long(floor(a[0].f));
        return;
    case FN_CEIL:
        r->i = sql_double_to_long(ceil(a[0].f));
        return;
    case FN_SQRT:
        if (a[0].f < 0)
            r->f = NAN;
        else
            r->f = sqrt(a[0].f);
        return;
    case FN_SIGN:
        r->f = a[0].f > 0 ? 1.0 : a[0].f < 0 ? -1.0 : 0.0;
        return;
    case FN_NULLIF:
        if (!a[1].isnull && sql_value_cmp(&a[0], &a[1]) == 0)
            r->isnull = 1;
        else
            *r = a[0];
        r->type = e->type;
        return;
    case FN_REPLACE: {
        /* replace(s, search[, repl]) */
        const char *s = a[0].s, *f = a[1].s, *w = na > 2 ? a[2].s : "";
        size_t n = a[0].n, fn = a[1].n, wn = na > 2 ? a[2].n : 0;
        if (fn == 0) {
            *r = a[0];
            return;
        }
        size_t cap = n + 1, o = 0;
        char *out = tbml_malloc(cap);
        for (size_t i = 0; i < n;) {
            if (i + fn <= n && memcmp(s + i, f, fn) == 0) {
                if (o + wn + 1 > cap) out = tbml_realloc(out, cap = (o + wn + 1) * 2);
                memcpy(out + o, w, wn);
                o += wn;
                i += fn;
            } else {
                if (o + 2 > cap) out = tbml_realloc(out, cap = (o + 2) * 2);
                out[o++] = s[i++];
            }
        }
        *buf = out;
        r->s = out;
        r->n = o;
        return;
    }
    case FN_INSTR: {
        const char *hit = a[1].n == 0 ? a[0].s : memmem(a[0].s, a[0].n, a[1].s, a[1].n);
        r->i = hit ? (int64_t)utf8_count(a[0].s, (size_t)(hit - a[0].s)) + 1 : 0;
        return;
    }
    }
    r->isnull = 1;
}

static tbml_status eval_rows(const sql_expr *e, const tbml_batch *b, tbml_column *out)
{
    int na = e->nargs;
    vec v[8];
    TBML_ASSERT(na <= 8 || e->kind == E_COALESCE || e->kind == E_INLIST || e->kind == E_CASE ||
                e->kind == E_FN);
    vec *vs = na <= 8 ? v : tbml_malloc((size_t)na * sizeof(vec));
    sql_value *a = tbml_malloc((size_t)(na ? na : 1) * sizeof(sql_value));
    tbml_status st = TBML_OK;
    int done = 0;
    for (; done < na; done++)
        if ((st = vec_eval(e->args[done], b, &vs[done]))) goto out;
    int64_t n = b->nrows;
    tbml_column_init(out, e->type, n);
    for (int64_t r = 0; r < n; r++) {
        for (int k = 0; k < na; k++) {
            sql_value_get(vs[k].c, r * vs[k].s, &a[k]);
            if (a[k].type == TBML_TYPE_NULL) a[k].type = e->args[k]->type;
        }
        sql_value res;
        char *buf = NULL;
        memset(&res, 0, sizeof(res));
        res.type = e->type;
        switch (e->kind) {
        case E_NEG:
            res = a[0];
            if (!res.isnull) {
                if (e->type == TBML_TYPE_DOUBLE)
                    res.f = -res.f;
                else
                    res.i = (int64_t)(0 - (uint64_t)res.i);
            }
            break;
        case E_NOT:
            res = a[0];
            res.i = !res.i;
            break;
        case E_ISNULL:
        case E_ISNOTNULL:
            res.i = a[0].isnull == (e->kind == E_ISNULL);
            break;
        case E_LIKE:
            res.isnull = a[0].isnull || a[1].isnull;
            if (!res.isnull) res.i = sql_like(a[0].s, a[0].n, a[1].s, a[1].n, '\\') != e->negated;
            break;
        case E_INLIST: {
            res.isnull = a[0].isnull;
            if (res.isnull) break;
            int found = 0, saw_null = 0;
            for (int k = 1; k < na && !found; k++) {
                if (a[k].isnull)
                    saw_null = 1;
                else if (sql_value_cmp(&a[0], &a[k]) == 0)
                    found = 1;
            }
            res.isnull = !found && saw_null;
            res.i = found != e->negated;
            break;
        }
        case E_INSET: {
            int64_t cnt = sql_vset_count(e->set);
            if (cnt == 0 && !e->set_has_null) {
                res.i = e->negated;
                break;
            }
            if (a[0].isnull) {
                res.isnull = 1;
                break;
            }
            int found = sql_vset_has(e->set, &a[0]);
            res.isnull = !found && e->set_has_null;
            res.i = found != e->negated;
            break;
        }
        case E_CASE: {
            int k = e->has_operand ? 1 : 0;
            int nwhen = (na - k - e->has_else) / 2;
            int hit = -1;
            for (int w = 0; w < nwhen; w++) {
                sql_value *c = &a[k + 2 * w];
                if (e->has_operand) {
                    if (!a[0].isnull && !c->isnull && sql_value_cmp(&a[0], c) == 0)
                        hit = k + 2 * w + 1;
                } else if (!c->isnull && c->i) {
                    hit = k + 2 * w + 1;
                }
                if (hit >= 0) break;
            }
            if (hit < 0 && e->has_else) hit = na - 1;
            if (hit < 0)
                res.isnull = 1;
            else
                res = a[hit];
            break;
        }
        case E_CAST:
            sql_value_cast(&a[0], e->type, &res, &buf);
            break;
        case E_COALESCE:
            res.isnull = 1;
            for (int k = 0; k < na; k++)
                if (!a[k].isnull) {
                    res = a[k];
                    break;
                }
            break;
        case E_FN:
            fn_row(e, a, na, &res, &buf);
            break;
        default:
            TBML_ASSERT(0);
        }
        res.type = e->type;
        sql_column_append_value(out, &res);
        tbml_free(buf);
    }
out:
    for (int k = 0; k < done; k++)
        vec_free(&vs[k]);
    if (vs != v) tbml_free(vs);
    tbml_free(a);
    return st;
}

/* Fast CAST between numbers, the common case in mixed arithmetic. */
static tbml_status eval_cast_num(const sql_expr *e, const tbml_batch *b, tbml_column *out)
{
    vec x;
    tbml_status st = vec_eval(e->args[0], b, &x);
    if (st) return st;
    int64_t n = b->nrows;
    out_alloc(out, e->type, n, 0);
    merge_valid(out, &x, NULL, n);
    if (e->type == TBML_TYPE_DOUBLE)
        for (int64_t i = 0; i < n; i++)
            out->f64[i] = (double)x.c->i64[i * x.s];
    vec_free(&x);
    return TBML_OK;
}

tbml_status sql_eval(const sql_expr *e, const tbml_batch *b, tbml_column *tmp,
                     const tbml_column **out)
{
    tbml_status st = TBML_OK;
    switch (e->kind) {
    case E_COL:
        *out = &b->cols[e->col];
        return TBML_OK;
    case E_LIT: {
        int64_t n = b->nrows;
        if (e->lit.isnull || e->type == TBML_TYPE_NULL) {
            tbml_column_init(tmp, e->type, 0);
            if (e->type == TBML_TYPE_NULL) {
                tmp->nrows = n;
            } else {
                for (int64_t i = 0; i < n; i++)
                    tbml_column_append_null(tmp);
            }
        } else if (e->type == TBML_TYPE_STRING) {
            tbml_column_init(tmp, e->type, n);
            for (int64_t i = 0; i < n; i++)
                tbml_column_append_str(tmp, e->lit.s, e->lit.n);
        } else {
            out_alloc(tmp, e->type, n, 0);
            for (int64_t i = 0; i < n; i++) {
                if (e->type == TBML_TYPE_BOOL)
                    tmp->u8[i] = (uint8_t)e->lit.i;
                else if (e->type == TBML_TYPE_DOUBLE)
                    tmp->f64[i] = e->lit.f;
                else
                    tmp->i64[i] = e->lit.i;
            }
        }
        break;
    }
    case E_ARITH:
        st = eval_arith(e, b, tmp);
        break;
    case E_CMP:
        st = eval_cmp(e, b, tmp);
        break;
    case E_AND:
    case E_OR:
        st = eval_logic(e, b, tmp);
        break;
    case E_CAST:
        if (e->args[0]->type == TBML_TYPE_INT64 && e->type == TBML_TYPE_DOUBLE)
            st = eval_cast_num(e, b, tmp);
        else
            st = eval_rows(e, b, tmp);
        break;
    default:
        st = eval_rows(e, b, tmp);
        break;
    }
    if (st) return st;
    *out = tmp;
    return TBML_OK;
}

tbml_status sql_eval_select(const sql_expr *e, const tbml_batch *b, int64_t **sel, int64_t *nsel)
{
    tbml_column tmp;
    const tbml_column *c;
    tbml_status st = sql_eval(e, b, &tmp, &c);
    if (st) return st;
    int64_t n = b->nrows, k = 0;
    int64_t *s = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    if (c->type == TBML_TYPE_BOOL) {
        for (int64_t i = 0; i < n; i++) {
            s[k] = i;
            k += c->u8[i] && !(c->valid && !c->valid[i]);
        }
    }
    if (c == &tmp) tbml_column_clear(&tmp);
    *sel = s;
    *nsel = k;
    return TBML_OK;
}
