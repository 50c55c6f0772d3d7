/* The planner: binds the AST to the session's views (names, types, implicit casts as Spark
 * makes them), builds a logical plan, optimises it (constant folding, predicate pushdown into
 * joins and below them, column pruning at scans, equi-join keys from WHERE conjuncts), then
 * makes it physical and partitioned: aggregates split into partial and final around a hash
 * exchange, joins broadcast their small side or shuffle both, ORDER BY and LIMIT gather.
 * Uncorrelated subqueries in expressions run while binding and become constants or sets. */
#include "sql_int.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- scopes: the columns an expression can name ---- */
typedef struct {
    const char *qual, *name;
    tbml_type type;
    int hidden;     /* a USING join's duplicate key: not in *, reachable by qualifier */
    sql_plan *scan; /* the scan this column comes from unchanged, for pruning */
    int scan_col;
} scol;

typedef struct {
    scol *c;
    int n, cap;
} scope;

static void scope_add(sql_arena *a, scope *s, const char *qual, const char *name, tbml_type t,
                      int hidden, sql_plan *scan, int scan_col)
{
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 16;
        scol *c = sql_alloc(a, (size_t)nc * sizeof(*c));
        if (s->n) memcpy(c, s->c, (size_t)s->n * sizeof(*c));
        s->c = c;
        s->cap = nc;
    }
    scol *c = &s->c[s->n++];
    c->qual = qual;
    c->name = name;
    c->type = t;
    c->hidden = hidden;
    c->scan = scan;
    c->scan_col = scan_col;
}

/* ---- plan nodes ---- */
static sql_plan *new_plan(sql_ctx *cx, plan_kind k)
{
    sql_plan *p = sql_alloc(cx->a, sizeof(*p));
    p->kind = k;
    p->id = cx->next_id++;
    p->limit = -1;
    tbml_schema_init(&p->schema);
    sql_push(cx->a, (void ***)&cx->plans, &cx->nplans, &cx->capplans, p);
    return p;
}

static void set_child(sql_plan *p, int i, sql_plan *c)
{
    p->child[i] = c;
    if (p->nchild < i + 1) p->nchild = i + 1;
}

static double row_width(const tbml_schema *s)
{
    double w = 0;
    for (int i = 0; i < s->nfields; i++)
        w += s->fields[i].type == TBML_TYPE_STRING ? 24 : 8;
    return w > 0 ? w : 1;
}

/* ---- the binder ---- */
typedef struct {
    ast_expr *ast; /* the call */
    sql_agg spec;
    sql_expr *arg; /* bound over the pre-aggregation scope, NULL for count(*) */
} agg_ref;

typedef struct {
    sql_ctx *cx;
    const scope *sc;
    const char *clause; /* "WHERE", "the select list", ... for messages */
    int agg_mode;       /* 0: aggregates not allowed; 1: post-aggregation binding */
    const scope *pre;
    sql_expr **gexprs;
    int ngroup;
    agg_ref *aggs;
    int naggs, aggcap;
} binder;

static tbml_status bind(binder *b, const ast_expr *a, sql_expr **out);

static sql_expr *mk(sql_ctx *cx, ex_kind k, tbml_type t)
{
    sql_expr *e = sql_alloc(cx->a, sizeof(*e));
    e->kind = k;
    e->type = t;
    return e;
}

static void add_arg(sql_ctx *cx, sql_expr *e, sql_expr *arg)
{
    sql_expr **na = sql_alloc(cx->a, (size_t)(e->nargs + 1) * sizeof(*na));
    if (e->nargs) memcpy(na, e->args, (size_t)e->nargs * sizeof(*na));
    na[e->nargs++] = arg;
    e->args = na;
}

static sql_expr *mk_lit_null(sql_ctx *cx, tbml_type t)
{
    sql_expr *e = mk(cx, E_LIT, t);
    e->lit.type = t;
    e->lit.isnull = 1;
    return e;
}

static sql_expr *mk_col(sql_ctx *cx, int col, tbml_type t)
{
    sql_expr *e = mk(cx, E_COL, t);
    e->col = col;
    return e;
}

static int is_numeric(tbml_type t)
{
    return t == TBML_TYPE_INT64 || t == TBML_TYPE_DOUBLE;
}

/* Evaluates an expression without columns on a one-row batch: constant folding. */
static tbml_status fold(sql_ctx *cx, sql_expr **pe)
{
    sql_expr *e = *pe;
    if (e->kind == E_LIT || e->kind == E_COL) return TBML_OK;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i]->kind != E_LIT) return TBML_OK;
    tbml_batch one;
    memset(&one, 0, sizeof(one));
    one.nrows = 1;
    tbml_column tmp;
    const tbml_column *c;
    tbml_status st = sql_eval(e, &one, &tmp, &c);
    if (st) return st;
    sql_value v;
    sql_value_get(c, 0, &v);
    sql_expr *l = mk(cx, E_LIT, e->type);
    l->lit = v;
    l->lit.type = e->type;
    if (!v.isnull && v.type == TBML_TYPE_STRING) l->lit.s = sql_strndup(cx->a, v.s, v.n);
    if (c == &tmp) tbml_column_clear(&tmp);
    *pe = l;
    return TBML_OK;
}

/* e as type t: literals are cast now, other expressions get a CAST node. */
static tbml_status coerce(sql_ctx *cx, sql_expr **pe, tbml_type t)
{
    sql_expr *e = *pe;
    if (e->type == t) return TBML_OK;
    if (e->kind == E_LIT && e->lit.isnull) {
        *pe = mk_lit_null(cx, t);
        return TBML_OK;
    }
    sql_expr *c = mk(cx, E_CAST, t);
    add_arg(cx, c, e);
    *pe = c;
    return fold(cx, pe);
}

/* The type both sides of a comparison take (cmp) or the type of a CASE / UNION column (!cmp). */
static int common_type(tbml_type a, tbml_type b, int cmp, tbml_type *out)
{
    if (a == b) {
        *out = a;
        return 1;
    }
    if (a == TBML_TYPE_NULL || b == TBML_TYPE_NULL) {
        *out = a == TBML_TYPE_NULL ? b : a;
        return 1;
    }
    if (is_numeric(a) && is_numeric(b)) {
        *out = TBML_TYPE_DOUBLE;
        return 1;
    }
    if ((a == TBML_TYPE_DATE && b == TBML_TYPE_TIMESTAMP) ||
        (a == TBML_TYPE_TIMESTAMP && b == TBML_TYPE_DATE)) {
        *out = TBML_TYPE_TIMESTAMP;
        return 1;
    }
    if (a == TBML_TYPE_STRING || b == TBML_TYPE_STRING) {
        tbml_type o = a == TBML_TYPE_STRING ? b : a;
        if (!cmp) {
            *out = TBML_TYPE_STRING;
            return 1;
        }
        if (is_numeric(o)) {
            *out = TBML_TYPE_DOUBLE;
            return 1;
        }
        if (o == TBML_TYPE_DATE || o == TBML_TYPE_TIMESTAMP || o == TBML_TYPE_BOOL) {
            *out = o;
            return 1;
        }
    }
    return 0;
}

static tbml_status type_error(binder *b, const ast_expr *a, const char *why)
{
    char *name = sql_ast_name(b->cx->a, a);
    return sql_error_at(TBML_E_TYPE, b->cx->src, a->pos,
                        "cannot resolve '%s' due to data type mismatch: %s", name, why);
}

static const char *tn(tbml_type t)
{
    return tbml_type_name(t);
}

static int expr_eq(const sql_expr *x, const sql_expr *y)
{
    if (x->kind != y->kind || x->type != y->type || x->op != y->op || x->nargs != y->nargs ||
        x->negated != y->negated || x->has_operand != y->has_operand || x->has_else != y->has_else)
        return 0;
    if (x->kind == E_COL && x->col != y->col) return 0;
    if (x->kind == E_LIT) {
        if (x->lit.isnull != y->lit.isnull) return 0;
        if (!x->lit.isnull && !sql_value_eq(&x->lit, &y->lit)) return 0;
    }
    if (x->kind == E_INSET && x->set != y->set) return 0;
    for (int i = 0; i < x->nargs; i++)
        if (!expr_eq(x->args[i], y->args[i])) return 0;
    return 1;
}

static int is_agg_name(const char *n)
{
    static const char *names[] = {"count", "sum",    "avg",         "mean", "min",
                                  "max",   "stddev", "stddev_samp", "std",  NULL};
    for (int i = 0; names[i]; i++)
        if (strcasecmp(n, names[i]) == 0) return 1;
    return 0;
}

static int contains_agg(const ast_expr *a)
{
    if (!a) return 0;
    if (a->kind == A_FUNC && is_agg_name(a->name)) return 1;
    for (int i = 0; i < a->nargs; i++)
        if (contains_agg(a->args[i])) return 1;
    return 0;
}

/* ---- column resolution ---- */

/* Appends ", qual.name" to list, cut short (with "...") rather than past its end. */
static void list_add(char *list, size_t cap, size_t *o, const char *qual, const char *name)
{
    if (*o >= cap - 1) return;
    int n = snprintf(list + *o, cap - *o, "%s%s%s%s", *o ? ", " : "", qual ? qual : "",
                     qual ? "." : "", name);
    if (n < 0 || (size_t)n >= cap - *o) {
        *o = cap - 1;
        if (cap > 4) memcpy(list + cap - 4, "...", 4);
        return;
    }
    *o += (size_t)n;
}
static tbml_status resolve(binder *b, const ast_expr *a, int *idx)
{
    const scope *s = b->sc;
    int found = -1, nfound = 0, nvisible = 0, visible = -1;
    for (int i = 0; i < s->n; i++) {
        const scol *c = &s->c[i];
        if (strcasecmp(c->name, a->name) != 0) continue;
        if (a->qual && (!c->qual || strcasecmp(c->qual, a->qual) != 0)) continue;
        if (!a->qual && c->hidden) {
            found = i;
            nfound++;
            continue;
        }
        nvisible++;
        visible = i;
    }
    if (nvisible == 1) {
        *idx = visible;
    } else if (nvisible == 0 && nfound == 1) {
        *idx = found;
    } else if (nvisible > 1) {
        char list[300] = "";
        size_t o = 0;
        for (int i = 0; i < s->n; i++) {
            const scol *c = &s->c[i];
            if (strcasecmp(c->name, a->name) == 0 && !c->hidden)
                list_add(list, sizeof(list), &o, c->qual, c->name);
        }
        return sql_error_at(TBML_E_ARG, b->cx->src, a->pos,
                            "column reference '%s' is ambiguous: it could be %s", a->name, list);
    } else {
        /* Spark's message lists what is there */
        char list[600] = "";
        size_t o = 0;
        for (int i = 0; i < s->n; i++) {
            const scol *c = &s->c[i];
            if (!c->hidden) list_add(list, sizeof(list), &o, c->qual, c->name);
        }
        if (a->qual)
            return sql_error_at(TBML_E_NOTFOUND, b->cx->src, a->pos,
                                "cannot resolve column '%s.%s'; available columns: %s", a->qual,
                                a->name, s->n ? list : "(none)");
        return sql_error_at(TBML_E_NOTFOUND, b->cx->src, a->pos,
                            "cannot resolve column '%s'; available columns: %s", a->name,
                            s->n ? list : "(none)");
    }
    if (s->c[*idx].scan) s->c[*idx].scan->used[s->c[*idx].scan_col] = 1;
    return TBML_OK;
}

/* ---- subqueries in expressions: run now (they are uncorrelated) ---- */
static tbml_status run_subquery(binder *b, const ast_query *q, int pos, tbml_table **out)
{
    sql_plan *p;
    tbml_status st = sql_plan_query(b->cx, q, &p);
    if (st) {
        if (st == TBML_E_NOTFOUND && strstr(tbml_errmsg(), "cannot resolve column"))
            tbml_error_prefix(st, "(correlated subqueries are not supported) ");
        return st;
    }
    if (p->schema.nfields != 1 && pos >= 0) {
        return sql_error_at(TBML_E_ARG, b->cx->src, pos,
                            "a subquery used as a value must return one column, not %d",
                            p->schema.nfields);
    }
    return sql_exec(b->cx, p, out);
}

/* ---- aggregates ---- */
static tbml_status bind_agg(binder *b, const ast_expr *a, sql_expr **out)
{
    sql_ctx *cx = b->cx;
    if (b->agg_mode != 1)
        return sql_error_at(TBML_E_ARG, cx->src, a->pos,
                            "aggregate function '%s' is not allowed in %s", a->name, b->clause);
    agg_ref r;
    memset(&r, 0, sizeof(r));
    r.ast = (ast_expr *)a;
    r.spec.distinct = a->distinct;
    r.spec.arg = -1;
    const char *n = a->name;
    int fn;
    if (strcasecmp(n, "count") == 0)
        fn = AGG_COUNT;
    else if (strcasecmp(n, "sum") == 0)
        fn = AGG_SUM;
    else if (strcasecmp(n, "avg") == 0 || strcasecmp(n, "mean") == 0)
        fn = AGG_AVG;
    else if (strcasecmp(n, "min") == 0)
        fn = AGG_MIN;
    else if (strcasecmp(n, "max") == 0)
        fn = AGG_MAX;
    else
        fn = AGG_STDDEV;
    if (a->star_arg) {
        if (fn != AGG_COUNT)
            return sql_error_at(TBML_E_SYNTAX, cx->src, a->pos, "%s(*) is not valid; only count(*)",
                                n);
        fn = AGG_COUNT_STAR;
    } else if (a->nargs != 1) {
        return sql_error_at(TBML_E_ARG, cx->src, a->pos, "%s takes one argument, not %d", n,
                            a->nargs);
    }
    if (fn != AGG_COUNT_STAR) {
        binder inner = *b;
        inner.sc = b->pre;
        inner.agg_mode = 0;
        inner.clause = "the argument of an aggregate function";
        tbml_status st = bind(&inner, a->args[0], &r.arg);
        if (st) return st;
        tbml_type t = r.arg->type;
        if (fn == AGG_COUNT && r.arg->kind == E_LIT && !r.arg->lit.isnull && !a->distinct) {
            fn = AGG_COUNT_STAR; /* count(1) */
            r.arg = NULL;
        } else if (fn == AGG_SUM || fn == AGG_AVG || fn == AGG_STDDEV) {
            if (t == TBML_TYPE_STRING || t == TBML_TYPE_NULL) {
                if ((st = coerce(cx, &r.arg, TBML_TYPE_DOUBLE))) return st;
            } else if (!is_numeric(t)) {
                char why[128];
                snprintf(why, sizeof(why), "%s needs a number, not %s", n, tn(t));
                return type_error(b, a, why);
            }
            if (fn != AGG_SUM && (st = coerce(cx, &r.arg, TBML_TYPE_DOUBLE))) return st;
        } else if ((fn == AGG_MIN || fn == AGG_MAX) && t == TBML_TYPE_NULL) {
            /* min(NULL) is NULL of no type: keep it a string column of NULLs */
            if ((st = coerce(cx, &r.arg, TBML_TYPE_STRING))) return st;
        }
    }
    r.spec.fn = fn;
    if (r.arg) r.spec.in_type = r.arg->type;
    switch (fn) {
    case AGG_COUNT_STAR:
    case AGG_COUNT:
        r.spec.out_type = TBML_TYPE_INT64;
        break;
    case AGG_SUM:
        r.spec.out_type = r.arg->type == TBML_TYPE_INT64 ? TBML_TYPE_INT64 : TBML_TYPE_DOUBLE;
        break;
    case AGG_AVG:
    case AGG_STDDEV:
        r.spec.out_type = TBML_TYPE_DOUBLE;
        break;
    default:
        r.spec.out_type = r.arg->type;
        break;
    }
    if (r.spec.distinct && fn != AGG_COUNT && fn != AGG_SUM && fn != AGG_AVG && fn != AGG_MIN &&
        fn != AGG_MAX)
        return sql_error_at(TBML_E_UNSUPPORTED, cx->src, a->pos,
                            "%s(DISTINCT ...) is not supported", n);
    if (r.spec.distinct && (fn == AGG_MIN || fn == AGG_MAX)) r.spec.distinct = 0;
    /* the same aggregate twice is computed once */
    int k;
    for (k = 0; k < b->naggs; k++) {
        agg_ref *o = &b->aggs[k];
        if (o->spec.fn == r.spec.fn && o->spec.distinct == r.spec.distinct &&
            ((!o->arg && !r.arg) || (o->arg && r.arg && expr_eq(o->arg, r.arg))))
            break;
    }
    if (k == b->naggs) {
        if (b->naggs == b->aggcap) {
            int nc = b->aggcap ? b->aggcap * 2 : 8;
            agg_ref *na = sql_alloc(cx->a, (size_t)nc * sizeof(*na));
            if (b->naggs) memcpy(na, b->aggs, (size_t)b->naggs * sizeof(*na));
            b->aggs = na;
            b->aggcap = nc;
        }
        b->aggs[b->naggs++] = r;
    }
    *out = mk_col(cx, b->ngroup + k, r.spec.out_type);
    return TBML_OK;
}

/* ---- scalar functions ---- */
static tbml_status bind_args(binder *b, const ast_expr *a, sql_expr **args)
{
    for (int i = 0; i < a->nargs; i++) {
        tbml_status st = bind(b, a->args[i], &args[i]);
        if (st) return st;
    }
    return TBML_OK;
}

static tbml_status want_args(binder *b, const ast_expr *a, int lo, int hi)
{
    if (a->nargs < lo || a->nargs > hi) {
        if (lo == hi)
            return sql_error_at(TBML_E_ARG, b->cx->src, a->pos,
                                "function %s takes %d argument%s, not %d", a->name, lo,
                                lo == 1 ? "" : "s", a->nargs);
        return sql_error_at(TBML_E_ARG, b->cx->src, a->pos,
                            "function %s takes %d to %d arguments, not %d", a->name, lo, hi,
                            a->nargs);
    }
    return TBML_OK;
}

static tbml_status to_string_arg(binder *b, sql_expr **e)
{
    if ((*e)->type == TBML_TYPE_STRING) return TBML_OK;
    return coerce(b->cx, e, TBML_TYPE_STRING);
}

static tbml_status to_num_arg(binder *b, const ast_expr *a, sql_expr **e, tbml_type t)
{
    tbml_type et = (*e)->type;
    if (et != t && !is_numeric(et) && et != TBML_TYPE_STRING && et != TBML_TYPE_NULL) {
        char why[160];
        snprintf(why, sizeof(why), "%s needs a number, not %s", a->name, tn(et));
        return type_error(b, a, why);
    }
    return coerce(b->cx, e, t);
}

static tbml_status compile_split(binder *b, const ast_expr *a, sql_expr *pat, void **re)
{
    if (pat->kind != E_LIT || pat->type != TBML_TYPE_STRING || pat->lit.isnull)
        return sql_error_at(TBML_E_UNSUPPORTED, b->cx->src, a->pos,
                            "split needs a constant string pattern");
    regex_t *r = sql_alloc(b->cx->a, sizeof(regex_t));
    char *p = sql_strndup(b->cx->a, pat->lit.s, pat->lit.n);
    if (regcomp(r, p, REG_EXTENDED) != 0)
        return sql_error_at(TBML_E_ARG, b->cx->src, a->args[1]->pos, "bad split pattern '%s'", p);
    /* the statement frees compiled patterns with its other belongings */
    *re = r;
    sql_ctx_keep_regex(b->cx, r);
    return TBML_OK;
}

static tbml_status bind_func(binder *b, const ast_expr *a, sql_expr **out)
{
    sql_ctx *cx = b->cx;
    const char *n = a->name;
    tbml_status st;
    if (is_agg_name(n)) return bind_agg(b, a, out);
    if (a->distinct || a->star_arg)
        return sql_error_at(TBML_E_SYNTAX, cx->src, a->pos, "%s is not an aggregate function", n);
    sql_expr **args = sql_alloc(cx->a, (size_t)(a->nargs + 1) * sizeof(*args));
    if ((st = bind_args(b, a, args))) return st;
    sql_expr *e = NULL;
#define IS(x) (strcasecmp(n, x) == 0)
    if (IS("lower") || IS("lcase") || IS("upper") || IS("ucase") || IS("trim") || IS("ltrim") ||
        IS("rtrim")) {
        if ((st = want_args(b, a, 1, 1))) return st;
        if ((st = to_string_arg(b, &args[0]))) return st;
        e = mk(cx, E_FN, TBML_TYPE_STRING);
        e->op = IS("lower") || IS("lcase")   ? FN_LOWER
                : IS("upper") || IS("ucase") ? FN_UPPER
                : IS("trim")                 ? FN_TRIM
                : IS("ltrim")                ? FN_LTRIM
                                             : FN_RTRIM;
        add_arg(cx, e, args[0]);
    } else if (IS("length") || IS("char_length") || IS("character_length") || IS("len")) {
        if ((st = want_args(b, a, 1, 1))) return st;
        if ((st = to_string_arg(b, &args[0]))) return st;
        e = mk(cx, E_FN, TBML_TYPE_INT64);
        e->op = FN_LENGTH;
        add_arg(cx, e, args[0]);
    } else if (IS("substring") || IS("substr")) {
        if ((st = want_args(b, a, 2, 3))) return st;
        if ((st = to_string_arg(b, &args[0]))) return st;
        e = mk(cx, E_FN, TBML_TYPE_STRING);
        e->op = FN_SUBSTR;
        add_arg(cx, e, args[0]);
        for (int i = 1; i < a->nargs; i++) {
            if ((st = to_num_arg(b, a, &args[i], TBML_TYPE_INT64))) return st;
            add_arg(cx, e, args[i]);
        }
    } else if (IS("concat")) {
        e = mk(cx, E_FN, TBML_TYPE_STRING);
        e->op = FN_CONCAT;
        for (int i = 0; i < a->nargs; i++) {
            if ((st = to_string_arg(b, &args[i]))) return st;
            add_arg(cx, e, args[i]);
        }
    } else if (IS("split")) {
        if ((st = want_args(b, a, 2, 2))) return st;
        if ((st = to_string_arg(b, &args[0]))) return st;
        if ((st = to_string_arg(b, &args[1]))) return st;
        e = mk(cx, E_FN, TBML_TYPE_STRING);
        e->op = FN_SPLIT;
        add_arg(cx, e, args[0]);
        add_arg(cx, e, args[1]);
        if ((st = compile_split(b, a, args[1], &e->re))) return st;
    } else if (IS("size") || IS("cardinality")) {
        if ((st = want_args(b, a, 1, 1))) return st;
        if (args[0]->kind != E_FN || args[0]->op != FN_SPLIT)
            return sql_error_at(TBML_E_TYPE, cx->src, a->pos, "size needs an array: split(...)");
        e = args[0];
        e->op = FN_SPLIT_SIZE;
        e->type = TBML_TYPE_INT64;
    } else if (IS("year") || IS("month") || IS("day") || IS("dayofmonth")) {
        if ((st = want_args(b, a, 1, 1))) return st;
        tbml_type t = args[0]->type;
        if (t != TBML_TYPE_DATE && t != TBML_TYPE_TIMESTAMP && t != TBML_TYPE_STRING &&
            t != TBML_TYPE_NULL) {
            char why[128];
            snprintf(why, sizeof(why), "%s needs a date, not %s", n, tn(t));
            return type_error(b, a, why);
        }
        if ((st = coerce(cx, &args[0], TBML_TYPE_DATE))) return st;
        e = mk(cx, E_FN, TBML_TYPE_INT64);
        e->op = IS("year") ? FN_YEAR : IS("month") ? FN_MONTH : FN_DAY;
        add_arg(cx, e, args[0]);
    } else if (IS("to_date")) {
        if ((st = want_args(b, a, 1, 2))) return st;
        if (a->nargs == 2) {
            sql_expr *f = args[1];
            if (f->kind != E_LIT || f->type != TBML_TYPE_STRING || f->lit.n != 10 ||
                strncmp(f->lit.s, "yyyy-MM-dd", 10) != 0)
                return sql_error_at(TBML_E_UNSUPPORTED, cx->src, a->args[1]->pos,
                                    "to_date supports only the format 'yyyy-MM-dd'");
        }
        tbml_type t = args[0]->type;
        if (t == TBML_TYPE_BOOL || is_numeric(t)) {
            char why[128];
            snprintf(why, sizeof(why), "to_date needs a string, date or timestamp, not %s", tn(t));
            return type_error(b, a, why);
        }
        e = args[0];
        if ((st = coerce(cx, &e, TBML_TYPE_DATE))) return st;
    } else if (IS("coalesce") || IS("nvl") || IS("ifnull")) {
        if (a->nargs < 1) return want_args(b, a, 1, 1000);
        if ((IS("nvl") || IS("ifnull")) && (st = want_args(b, a, 2, 2))) return st;
        tbml_type t = TBML_TYPE_NULL;
        for (int i = 0; i < a->nargs; i++)
            if (!common_type(t, args[i]->type, 0, &t))
                return type_error(b, a, "the arguments have different types");
        e = mk(cx, E_COALESCE, t);
        for (int i = 0; i < a->nargs; i++) {
            if ((st = coerce(cx, &args[i], t))) return st;
            add_arg(cx, e, args[i]);
        }
    } else if (IS("abs")) {
        if ((st = want_args(b, a, 1, 1))) return st;
        tbml_type t = args[0]->type == TBML_TYPE_INT64 ? TBML_TYPE_INT64 : TBML_TYPE_DOUBLE;
        if ((st = to_num_arg(b, a, &args[0], t))) return st;
        e = mk(cx, E_FN, t);
        e->op = FN_ABS;
        add_arg(cx, e, args[0]);
    } else if (IS("round")) {
        if ((st = want_args(b, a, 1, 2))) return st;
        tbml_type t = args[0]->type == TBML_TYPE_INT64 ? TBML_TYPE_INT64 : TBML_TYPE_DOUBLE;
        if ((st = to_num_arg(b, a, &args[0], t))) return st;
        e = mk(cx, E_FN, t);
        e->op = FN_ROUND;
        add_arg(cx, e, args[0]);
        if (a->nargs > 1) {
            if (args[1]->kind != E_LIT)
                return sql_error_at(TBML_E_ARG, cx->src, a->args[1]->pos,
                                    "round's scale must be a constant");
            if ((st = to_num_arg(b, a, &args[1], TBML_TYPE_INT64))) return st;
            add_arg(cx, e, args[1]);
        }
    } else if (IS("floor") || IS("ceil") || IS("ceiling")) {
        if ((st = want_args(b, a, 1, 1))) return st;
        if (args[0]->type == TBML_TYPE_INT64) {
            e = args[0];
        } else {
            if ((st = to_num_arg(b, a, &args[0], TBML_TYPE_DOUBLE))) return st;
            e = mk(cx, E_FN, TBML_TYPE_INT64);
            e->op = IS("floor") ? FN_FLOOR : FN_CEIL;
            add_arg(cx, e, args[0]);
        }
    } else if (IS("sqrt") || IS("sign") || IS("signum")) {
        if ((st = want_args(b, a, 1, 1))) return st;
        if ((st = to_num_arg(b, a, &args[0], TBML_TYPE_DOUBLE))) return st;
        e = mk(cx, E_FN, TBML_TYPE_DOUBLE);
        e->op = IS("sqrt") ? FN_SQRT : FN_SIGN;
        add_arg(cx, e, args[0]);
    } else if (IS("nullif")) {
        if ((st = want_args(b, a, 2, 2))) return st;
        tbml_type t;
        if (!common_type(args[0]->type, args[1]->type, 1, &t))
            return type_error(b, a, "the arguments have different types");
        if ((st = coerce(cx, &args[0], t)) || (st = coerce(cx, &args[1], t))) return st;
        e = mk(cx, E_FN, t);
        e->op = FN_NULLIF;
        add_arg(cx, e, args[0]);
        add_arg(cx, e, args[1]);
    } else if (IS("replace")) {
        if ((st = want_args(b, a, 2, 3))) return st;
        e = mk(cx, E_FN, TBML_TYPE_STRING);
        e->op = FN_REPLACE;
        for (int i = 0; i < a->nargs; i++) {
            if ((st = to_string_arg(b, &args[i]))) return st;
            add_arg(cx, e, args[i]);
        }
    } else if (IS("instr")) {
        if ((st = want_args(b, a, 2, 2))) return st;
        e = mk(cx, E_FN, TBML_TYPE_INT64);
        e->op = FN_INSTR;
        for (int i = 0; i < 2; i++) {
            if ((st = to_string_arg(b, &args[i]))) return st;
            add_arg(cx, e, args[i]);
        }
    } else if (IS("isnull") || IS("isnotnull")) {
        if ((st = want_args(b, a, 1, 1))) return st;
        e = mk(cx, IS("isnull") ? E_ISNULL : E_ISNOTNULL, TBML_TYPE_BOOL);
        add_arg(cx, e, args[0]);
    } else if (IS("if") || IS("iff")) {
        if ((st = want_args(b, a, 3, 3))) return st;
        if (args[0]->type != TBML_TYPE_BOOL && args[0]->type != TBML_TYPE_NULL)
            return type_error(b, a, "the condition of if must be a boolean");
        if ((st = coerce(cx, &args[0], TBML_TYPE_BOOL))) return st;
        tbml_type t;
        if (!common_type(args[1]->type, args[2]->type, 0, &t))
            return type_error(b, a, "the branches have different types");
        if ((st = coerce(cx, &args[1], t)) || (st = coerce(cx, &args[2], t))) return st;
        e = mk(cx, E_CASE, t);
        e->has_else = 1;
        add_arg(cx, e, args[0]);
        add_arg(cx, e, args[1]);
        add_arg(cx, e, args[2]);
    } else {
        return sql_error_at(TBML_E_NOTFOUND, cx->src, a->pos, "undefined function '%s'", n);
    }
#undef IS
    *out = e;
    if (e->kind == E_FN && e->op == FN_SPLIT) return TBML_OK; /* size() and [i] need the call */
    return fold(cx, out);
}

static tbml_status bind_cmp(binder *b, const ast_expr *a, int op, sql_expr *l, sql_expr *r,
                            sql_expr **out)
{
    tbml_type t;
    if (!common_type(l->type, r->type, 1, &t)) {
        char why[160];
        snprintf(why, sizeof(why), "cannot compare %s with %s", tn(l->type), tn(r->type));
        return type_error(b, a, why);
    }
    tbml_status st;
    if ((st = coerce(b->cx, &l, t)) || (st = coerce(b->cx, &r, t))) return st;
    sql_expr *e = mk(b->cx, E_CMP, TBML_TYPE_BOOL);
    e->op = op;
    add_arg(b->cx, e, l);
    add_arg(b->cx, e, r);
    *out = e;
    return fold(b->cx, out);
}

static tbml_status want_bool(binder *b, const ast_expr *a, sql_expr **e, const char *what)
{
    tbml_type t = (*e)->type;
    if (t == TBML_TYPE_NULL) return coerce(b->cx, e, TBML_TYPE_BOOL);
    if (t != TBML_TYPE_BOOL) {
        char why[160];
        snprintf(why, sizeof(why), "%s must be a boolean, not %s", what, tn(t));
        return type_error(b, a, why);
    }
    return TBML_OK;
}

static tbml_status bind_node(binder *b, const ast_expr *a, sql_expr **out)
{
    sql_ctx *cx = b->cx;
    tbml_status st;
    sql_expr *e, *l, *r;
    switch (a->kind) {
    case A_NULL:
        *out = mk_lit_null(cx, TBML_TYPE_NULL);
        return TBML_OK;
    case A_INT:
    case A_BOOL:
    case A_DATE:
    case A_TIMESTAMP: {
        tbml_type t = a->kind == A_INT    ? TBML_TYPE_INT64
                      : a->kind == A_BOOL ? TBML_TYPE_BOOL
                      : a->kind == A_DATE ? TBML_TYPE_DATE
                                          : TBML_TYPE_TIMESTAMP;
        e = mk(cx, E_LIT, t);
        e->lit.type = t;
        e->lit.i = a->ival;
        *out = e;
        return TBML_OK;
    }
    case A_DOUBLE:
        e = mk(cx, E_LIT, TBML_TYPE_DOUBLE);
        e->lit.type = TBML_TYPE_DOUBLE;
        e->lit.f = a->dval;
        *out = e;
        return TBML_OK;
    case A_STRING:
        e = mk(cx, E_LIT, TBML_TYPE_STRING);
        e->lit.type = TBML_TYPE_STRING;
        e->lit.s = a->sval;
        e->lit.n = strlen(a->sval);
        *out = e;
        return TBML_OK;
    case A_COLUMN: {
        int idx;
        if ((st = resolve(b, a, &idx))) return st;
        *out = mk_col(cx, idx, b->sc->c[idx].type);
        return TBML_OK;
    }
    case A_STAR:
        return sql_error_at(TBML_E_SYNTAX, cx->src, a->pos,
                            "'*' is allowed only in the select list or count(*)");
    case A_UNARY:
        if ((st = bind(b, a->args[0], &l))) return st;
        if (a->op == OP_NOT) {
            if ((st = want_bool(b, a, &l, "the operand of NOT"))) return st;
            e = mk(cx, E_NOT, TBML_TYPE_BOOL);
        } else {
            tbml_type t = l->type == TBML_TYPE_INT64 ? TBML_TYPE_INT64 : TBML_TYPE_DOUBLE;
            if ((st = to_num_arg(b, a, &l, t))) return st;
            e = mk(cx, E_NEG, t);
        }
        add_arg(cx, e, l);
        *out = e;
        return fold(cx, out);
    case A_BINARY: {
        if ((st = bind(b, a->args[0], &l)) || (st = bind(b, a->args[1], &r))) return st;
        int op = a->op;
        if (op == OP_AND || op == OP_OR) {
            if ((st = want_bool(b, a, &l, op == OP_AND ? "each side of AND" : "each side of OR")) ||
                (st = want_bool(b, a, &r, op == OP_AND ? "each side of AND" : "each side of OR")))
                return st;
            e = mk(cx, op == OP_AND ? E_AND : E_OR, TBML_TYPE_BOOL);
            add_arg(cx, e, l);
            add_arg(cx, e, r);
            *out = e;
            return fold(cx, out);
        }
        if (op >= OP_EQ && op <= OP_NSEQ) return bind_cmp(b, a, op, l, r, out);
        if (op == OP_CONCAT) {
            if ((st = to_string_arg(b, &l)) || (st = to_string_arg(b, &r))) return st;
            e = mk(cx, E_FN, TBML_TYPE_STRING);
            e->op = FN_CONCAT;
            add_arg(cx, e, l);
            add_arg(cx, e, r);
            *out = e;
            return fold(cx, out);
        }
        /* arithmetic: strings become doubles, as Spark casts them */
        tbml_type lt = l->type, rt = r->type;
        int ok = (is_numeric(lt) || lt == TBML_TYPE_STRING || lt == TBML_TYPE_NULL) &&
                 (is_numeric(rt) || rt == TBML_TYPE_STRING || rt == TBML_TYPE_NULL);
        if (!ok) {
            char why[160];
            snprintf(why, sizeof(why), "'%s' needs numbers, not %s and %s",
                     op == OP_ADD   ? "+"
                     : op == OP_SUB ? "-"
                     : op == OP_MUL ? "*"
                     : op == OP_DIV ? "/"
                     : op == OP_MOD ? "%"
                                    : "div",
                     tn(lt), tn(rt));
            return type_error(b, a, why);
        }
        tbml_type t;
        if (op == OP_DIV)
            t = TBML_TYPE_DOUBLE;
        else if (lt == TBML_TYPE_INT64 && (rt == TBML_TYPE_INT64 || rt == TBML_TYPE_NULL))
            t = TBML_TYPE_INT64;
        else if (rt == TBML_TYPE_INT64 && lt == TBML_TYPE_NULL)
            t = TBML_TYPE_INT64;
        else if (op == OP_IDIV && lt != TBML_TYPE_DOUBLE && rt != TBML_TYPE_DOUBLE)
            t = TBML_TYPE_INT64;
        else
            t = TBML_TYPE_DOUBLE;
        if ((st = coerce(cx, &l, t)) || (st = coerce(cx, &r, t))) return st;
        e = mk(cx, E_ARITH, op == OP_IDIV ? TBML_TYPE_INT64 : t);
        e->op = op;
        add_arg(cx, e, l);
        add_arg(cx, e, r);
        *out = e;
        return fold(cx, out);
    }
    case A_FUNC:
        return bind_func(b, a, out);
    case A_CASE: {
        int k = a->has_operand ? 1 : 0;
        int nwhen = (a->nargs - k - a->has_else) / 2;
        sql_expr **args = sql_alloc(cx->a, (size_t)a->nargs * sizeof(*args));
        if ((st = bind_args(b, a, args))) return st;
        tbml_type rt = TBML_TYPE_NULL;
        for (int w = 0; w < nwhen; w++)
            if (!common_type(rt, args[k + 2 * w + 1]->type, 0, &rt))
                return type_error(b, a, "THEN and ELSE branches have different types");
        if (a->has_else && !common_type(rt, args[a->nargs - 1]->type, 0, &rt))
            return type_error(b, a, "THEN and ELSE branches have different types");
        if (k) {
            tbml_type ot = args[0]->type;
            for (int w = 0; w < nwhen; w++)
                if (!common_type(ot, args[1 + 2 * w]->type, 1, &ot))
                    return type_error(b, a, "WHEN values do not match the CASE operand's type");
            if ((st = coerce(cx, &args[0], ot))) return st;
            for (int w = 0; w < nwhen; w++)
                if ((st = coerce(cx, &args[1 + 2 * w], ot))) return st;
        } else {
            for (int w = 0; w < nwhen; w++)
                if ((st = want_bool(b, a->args[2 * w], &args[2 * w], "a WHEN condition")))
                    return st;
        }
        for (int w = 0; w < nwhen; w++)
            if ((st = coerce(cx, &args[k + 2 * w + 1], rt))) return st;
        if (a->has_else && (st = coerce(cx, &args[a->nargs - 1], rt))) return st;
        e = mk(cx, E_CASE, rt);
        e->has_operand = a->has_operand;
        e->has_else = a->has_else;
        for (int i = 0; i < a->nargs; i++)
            add_arg(cx, e, args[i]);
        *out = e;
        return fold(cx, out);
    }
    case A_CAST: {
        if ((st = bind(b, a->args[0], &l))) return st;
        tbml_type from = l->type, to = a->cast_type;
        int bad = ((from == TBML_TYPE_DATE) && (is_numeric(to) || to == TBML_TYPE_BOOL)) ||
                  ((to == TBML_TYPE_DATE) && (is_numeric(from) || from == TBML_TYPE_BOOL)) ||
                  (from == TBML_TYPE_BOOL && (to == TBML_TYPE_TIMESTAMP)) ||
                  (from == TBML_TYPE_TIMESTAMP && to == TBML_TYPE_BOOL);
        if (bad) {
            char why[160];
            snprintf(why, sizeof(why), "cannot cast %s to %s", tn(from), tn(to));
            return type_error(b, a, why);
        }
        *out = l;
        return coerce(cx, out, to);
    }
    case A_BETWEEN: {
        sql_expr *x, *lo, *hi, *c1, *c2;
        if ((st = bind(b, a->args[0], &x)) || (st = bind(b, a->args[1], &lo)) ||
            (st = bind(b, a->args[2], &hi)))
            return st;
        if ((st = bind_cmp(b, a, OP_GE, x, lo, &c1)) || (st = bind_cmp(b, a, OP_LE, x, hi, &c2)))
            return st;
        e = mk(cx, E_AND, TBML_TYPE_BOOL);
        add_arg(cx, e, c1);
        add_arg(cx, e, c2);
        if (a->negated) {
            sql_expr *nn = mk(cx, E_NOT, TBML_TYPE_BOOL);
            add_arg(cx, nn, e);
            e = nn;
        }
        *out = e;
        return fold(cx, out);
    }
    case A_IN_LIST: {
        sql_expr **args = sql_alloc(cx->a, (size_t)a->nargs * sizeof(*args));
        if ((st = bind_args(b, a, args))) return st;
        tbml_type t = args[0]->type;
        for (int i = 1; i < a->nargs; i++)
            if (!common_type(t, args[i]->type, 1, &t)) {
                char why[160];
                snprintf(why, sizeof(why), "cannot compare %s with %s", tn(args[0]->type),
                         tn(args[i]->type));
                return type_error(b, a, why);
            }
        e = mk(cx, E_INLIST, TBML_TYPE_BOOL);
        e->negated = a->negated;
        for (int i = 0; i < a->nargs; i++) {
            if ((st = coerce(cx, &args[i], t))) return st;
            add_arg(cx, e, args[i]);
        }
        *out = e;
        return fold(cx, out);
    }
    case A_IN_SUBQ: {
        if ((st = bind(b, a->args[0], &l))) return st;
        tbml_table *t;
        if ((st = run_subquery(b, a->subq, a->subq->pos, &t))) return st;
        tbml_type vt = t->schema.fields[0].type, ct;
        if (!common_type(l->type, vt, 1, &ct)) {
            tbml_table_free(t);
            char why[160];
            snprintf(why, sizeof(why), "cannot compare %s with the subquery's %s", tn(l->type),
                     tn(vt));
            return type_error(b, a, why);
        }
        if ((st = coerce(cx, &l, ct))) {
            tbml_table_free(t);
            return st;
        }
        e = mk(cx, E_INSET, TBML_TYPE_BOOL);
        e->negated = a->negated;
        e->set = sql_vset_new();
        sql_ctx_keep_set(cx, e->set);
        for (int64_t bi = 0; bi < t->nbatches; bi++) {
            tbml_batch *bt = t->batches[bi];
            for (int64_t r2 = 0; r2 < bt->nrows; r2++) {
                sql_value v, cv;
                char *buf;
                sql_value_get(&bt->cols[0], r2, &v);
                if (v.type == TBML_TYPE_NULL) v.type = vt;
                sql_value_cast(&v, ct, &cv, &buf);
                if (cv.isnull)
                    e->set_has_null = 1;
                else
                    sql_vset_add(e->set, &cv);
                tbml_free(buf);
            }
        }
        tbml_table_free(t);
        add_arg(cx, e, l);
        *out = e;
        return TBML_OK;
    }
    case A_EXISTS: {
        tbml_table *t;
        if ((st = run_subquery(b, a->subq, -1, &t))) return st;
        e = mk(cx, E_LIT, TBML_TYPE_BOOL);
        e->lit.type = TBML_TYPE_BOOL;
        e->lit.i = (tbml_table_nrows(t) > 0) != a->negated;
        tbml_table_free(t);
        *out = e;
        return TBML_OK;
    }
    case A_SUBQUERY: {
        tbml_table *t;
        if ((st = run_subquery(b, a->subq, a->pos, &t))) return st;
        tbml_type vt = t->schema.fields[0].type;
        int64_t n = tbml_table_nrows(t);
        if (n > 1) {
            tbml_table_free(t);
            return sql_error_at(TBML_E_ARG, cx->src, a->pos,
                                "more than one row returned by a subquery used as an expression");
        }
        e = mk(cx, E_LIT, vt);
        e->lit.type = vt;
        e->lit.isnull = 1;
        for (int64_t bi = 0; bi < t->nbatches && n == 1; bi++) {
            if (t->batches[bi]->nrows == 0) continue;
            sql_value v;
            sql_value_get(&t->batches[bi]->cols[0], 0, &v);
            e->lit = v;
            e->lit.type = vt;
            if (!v.isnull && vt == TBML_TYPE_STRING) e->lit.s = sql_strndup(cx->a, v.s, v.n);
        }
        tbml_table_free(t);
        *out = e;
        return TBML_OK;
    }
    case A_IS_NULL:
        if ((st = bind(b, a->args[0], &l))) return st;
        e = mk(cx, a->negated ? E_ISNOTNULL : E_ISNULL, TBML_TYPE_BOOL);
        add_arg(cx, e, l);
        *out = e;
        return fold(cx, out);
    case A_LIKE:
        if ((st = bind(b, a->args[0], &l)) || (st = bind(b, a->args[1], &r))) return st;
        if ((st = to_string_arg(b, &l)) || (st = to_string_arg(b, &r))) return st;
        e = mk(cx, E_LIKE, TBML_TYPE_BOOL);
        e->negated = a->negated;
        add_arg(cx, e, l);
        add_arg(cx, e, r);
        *out = e;
        return fold(cx, out);
    case A_INDEX: {
        const ast_expr *f = a->args[0];
        if (f->kind != A_FUNC || strcasecmp(f->name, "split") != 0)
            return sql_error_at(TBML_E_TYPE, cx->src, a->pos,
                                "only the result of split(...) can be indexed with [ ]");
        if ((st = bind(b, f, &l)) || (st = bind(b, a->args[1], &r))) return st;
        if ((st = to_num_arg(b, a, &r, TBML_TYPE_INT64))) return st;
        if (l->kind != E_FN || l->op != FN_SPLIT)
            return sql_error_at(TBML_E_TYPE, cx->src, a->pos,
                                "only the result of split(...) can be indexed");
        l->op = FN_SPLIT_AT;
        add_arg(cx, l, r);
        *out = l;
        return TBML_OK;
    }
    }
    return sql_error_at(TBML_E_INTERNAL, cx->src, a->pos, "unhandled expression");
}

/* Binding with aggregation: in post-aggregation mode an expression equal to a GROUP BY
 * expression becomes a reference to that key, and aggregate calls become references to their
 * results; anything else must be built from those. */
static tbml_status bind(binder *b, const ast_expr *a, sql_expr **out)
{
    if (b->agg_mode != 1) return bind_node(b, a, out);
    if (a->kind == A_FUNC && is_agg_name(a->name)) return bind_agg(b, a, out);
    tbml_status st;
    if (!contains_agg(a) && a->kind != A_IN_SUBQ && a->kind != A_EXISTS && a->kind != A_SUBQUERY) {
        binder pre = *b;
        pre.sc = b->pre;
        pre.agg_mode = 0;
        sql_expr *e;
        if ((st = bind_node(&pre, a, &e))) return st;
        for (int g = 0; g < b->ngroup; g++)
            if (expr_eq(e, b->gexprs[g])) {
                *out = mk_col(b->cx, g, e->type);
                return TBML_OK;
            }
        if (e->kind == E_LIT) {
            *out = e;
            return TBML_OK;
        }
        if (a->kind == A_COLUMN)
            return sql_error_at(
                TBML_E_ARG, b->cx->src, a->pos,
                "column '%s' is neither in the GROUP BY nor inside an aggregate function", a->name);
    }
    return bind_node(b, a, out);
}

/* ---- FROM ---- */
typedef struct {
    sql_plan *plan;
    scope sc;
} rel;

static tbml_status plan_query_logical(sql_ctx *cx, const ast_query *q, rel *out);

static tbml_status plan_table(sql_ctx *cx, const ast_from *f, rel *out)
{
    sql_view *v = sql_session_find_view(cx->s, f->name);
    const char *qual = f->alias ? f->alias : f->name;
    if (!v) {
        char *names = sql_session_view_names(cx->s);
        tbml_status st = sql_error_at(TBML_E_NOTFOUND, cx->src, f->pos,
                                      "table or view not found: %s; known views: %s", f->name,
                                      names[0] ? names : "(none)");
        tbml_free(names);
        return st;
    }
    memset(out, 0, sizeof(*out));
    if (v->table) {
        sql_plan *p = new_plan(cx, P_SCAN);
        p->table = v->table;
        p->table_name = sql_strdup(cx->a, v->name);
        tbml_schema_copy(&p->schema, &v->table->schema);
        p->used = sql_alloc(cx->a, (size_t)(p->schema.nfields + 1));
        /* a distributed read holds a share here: plan by the whole, as every rank must */
        p->est_rows =
            v->table->ranges ? (double)v->table->ranges->rows : (double)tbml_table_nrows(v->table);
        for (int i = 0; i < p->schema.nfields; i++)
            scope_add(cx->a, &out->sc, qual, p->schema.fields[i].name, p->schema.fields[i].type, 0,
                      p, i);
        out->plan = p;
        return TBML_OK;
    }
    /* a query view: plan its text in place, errors pointing into the view */
    if (cx->depth > 32)
        return sql_error_at(TBML_E_ARG, cx->src, f->pos,
                            "views nest too deeply (is view %s recursive?)", f->name);
    ast_stmt *stmt;
    const char *saved = cx->src;
    cx->src = v->sql;
    cx->depth++;
    tbml_status st = sql_parse(cx->a, v->sql, &stmt);
    if (!st) st = plan_query_logical(cx, stmt->query, out);
    cx->depth--;
    cx->src = saved;
    if (st) return tbml_error_prefix(st, "in view %s: ", v->name);
    for (int i = 0; i < out->sc.n; i++)
        out->sc.c[i].qual = qual;
    return TBML_OK;
}

static tbml_status plan_from(sql_ctx *cx, const ast_from *f, rel *out);

static int is_const_true(const sql_expr *e)
{
    return e->kind == E_LIT && e->type == TBML_TYPE_BOOL && !e->lit.isnull && e->lit.i;
}

static tbml_status plan_join(sql_ctx *cx, const ast_from *f, rel *out)
{
    rel l, r;
    tbml_status st;
    if ((st = plan_from(cx, f->left, &l)) || (st = plan_from(cx, f->right, &r))) return st;
    sql_plan *j = new_plan(cx, P_JOIN);
    j->join_type = f->join == JOIN_CROSS ? JOIN_INNER : f->join;
    set_child(j, 0, l.plan);
    set_child(j, 1, r.plan);
    memset(out, 0, sizeof(*out));
    int nl = l.sc.n;
    for (int i = 0; i < nl; i++)
        scope_add(cx->a, &out->sc, l.sc.c[i].qual, l.sc.c[i].name, l.sc.c[i].type, l.sc.c[i].hidden,
                  l.sc.c[i].scan, l.sc.c[i].scan_col);
    for (int i = 0; i < r.sc.n; i++)
        scope_add(cx->a, &out->sc, r.sc.c[i].qual, r.sc.c[i].name, r.sc.c[i].type, r.sc.c[i].hidden,
                  r.sc.c[i].scan, r.sc.c[i].scan_col);
    binder b;
    memset(&b, 0, sizeof(b));
    b.cx = cx;
    b.sc = &out->sc;
    b.clause = "a join condition";
    sql_expr *cond = NULL;
    if (f->on) {
        if ((st = bind(&b, f->on, &cond))) return st;
        if ((st = want_bool(&b, f->on, &cond, "the join condition"))) return st;
    } else if (f->nusing) {
        for (int u = 0; u < f->nusing; u++) {
            ast_expr al, ar;
            memset(&al, 0, sizeof(al));
            al.kind = A_COLUMN;
            al.name = f->using_cols[u];
            al.pos = f->pos;
            ar = al;
            int li, ri;
            binder bl = b, br = b;
            bl.sc = &l.sc;
            br.sc = &r.sc;
            if ((st = resolve(&bl, &al, &li)) || (st = resolve(&br, &ar, &ri))) return st;
            sql_expr *c;
            if ((st = bind_cmp(&b, &al, OP_EQ, mk_col(cx, li, l.sc.c[li].type),
                               mk_col(cx, nl + ri, r.sc.c[ri].type), &c)))
                return st;
            if (!cond) {
                cond = c;
            } else {
                sql_expr *and = mk(cx, E_AND, TBML_TYPE_BOOL);
                add_arg(cx, and, cond);
                add_arg(cx, and, c);
                cond = and;
            }
        }
    }
    if (cond && !is_const_true(cond)) j->residual = cond; /* split into keys by the optimiser */
    if (j->join_type == JOIN_SEMI || j->join_type == JOIN_ANTI) {
        out->sc.n = nl;
        tbml_schema_copy(&j->schema, &l.plan->schema);
    } else {
        tbml_schema_copy(&j->schema, &l.plan->schema);
        for (int i = 0; i < r.plan->schema.nfields; i++)
            tbml_schema_add(&j->schema, r.plan->schema.fields[i].name,
                            r.plan->schema.fields[i].type, 1);
        if (j->join_type == JOIN_RIGHT || j->join_type == JOIN_FULL)
            for (int i = 0; i < nl; i++)
                j->schema.fields[i].nullable = 1;
    }
    j->est_rows = l.plan->est_rows > r.plan->est_rows ? l.plan->est_rows : r.plan->est_rows;
    out->plan = j;
    if (f->nusing) {
        /* JOIN USING shows each key once, first (Spark's order): the left key, the right one for
         * RIGHT JOIN, coalesce(left, right) for FULL JOIN; then the other columns */
        sql_plan *p = new_plan(cx, P_PROJECT);
        set_child(p, 0, j);
        scope ns;
        memset(&ns, 0, sizeof(ns));
        int n = out->sc.n;
        p->exprs = sql_alloc(cx->a, (size_t)(n + f->nusing) * sizeof(sql_expr *));
        for (int u = 0; u < f->nusing; u++) {
            ast_expr al;
            memset(&al, 0, sizeof(al));
            al.kind = A_COLUMN;
            al.name = f->using_cols[u];
            int li, ri;
            binder bl = b, br = b;
            bl.sc = &l.sc;
            br.sc = &r.sc;
            if ((st = resolve(&bl, &al, &li)) || (st = resolve(&br, &al, &ri))) return st;
            sql_expr *lc = mk_col(cx, li, l.sc.c[li].type),
                     *rc = mk_col(cx, nl + ri, r.sc.c[ri].type), *key;
            tbml_type t;
            if (f->join == JOIN_FULL) {
                common_type(lc->type, rc->type, 0, &t);
                if ((st = coerce(cx, &lc, t)) || (st = coerce(cx, &rc, t))) return st;
                key = mk(cx, E_COALESCE, t);
                add_arg(cx, key, lc);
                add_arg(cx, key, rc);
            } else {
                key = f->join == JOIN_RIGHT ? rc : lc;
                t = key->type;
            }
            p->exprs[p->nexprs++] = key;
            const char *kname = f->join == JOIN_RIGHT ? r.sc.c[ri].name : l.sc.c[li].name;
            tbml_schema_add(&p->schema, kname, t, 1);
            scope_add(cx->a, &ns, NULL, kname, t, 0, NULL, 0);
            out->sc.c[li].hidden = 1;
            if (nl + ri < n) out->sc.c[nl + ri].hidden = 1;
        }
        for (int i = 0; i < n; i++) {
            p->exprs[p->nexprs++] = mk_col(cx, i, out->sc.c[i].type);
            tbml_schema_add(&p->schema, j->schema.fields[i].name, j->schema.fields[i].type, 1);
            scope_add(cx->a, &ns, out->sc.c[i].qual, out->sc.c[i].name, out->sc.c[i].type,
                      out->sc.c[i].hidden, out->sc.c[i].scan, out->sc.c[i].scan_col);
        }
        p->est_rows = j->est_rows;
        out->sc = ns;
        out->plan = p;
    }
    return TBML_OK;
}

static tbml_status plan_from(sql_ctx *cx, const ast_from *f, rel *out)
{
    switch (f->kind) {
    case FROM_TABLE:
        return plan_table(cx, f, out);
    case FROM_SUBQ: {
        tbml_status st = plan_query_logical(cx, f->subq, out);
        if (st) return st;
        for (int i = 0; i < out->sc.n; i++) {
            out->sc.c[i].qual = f->alias;
            out->sc.c[i].scan = NULL;
        }
        return TBML_OK;
    }
    default:
        return plan_join(cx, f, out);
    }
}

/* ---- SELECT ---- */
static sql_plan *project(sql_ctx *cx, sql_plan *child, sql_expr **exprs, char **names, int n)
{
    sql_plan *p = new_plan(cx, P_PROJECT);
    set_child(p, 0, child);
    p->exprs = exprs;
    p->nexprs = n;
    for (int i = 0; i < n; i++)
        tbml_schema_add(&p->schema, names[i], exprs[i]->type, 1);
    p->est_rows = child->est_rows;
    return p;
}

static sql_plan *filter(sql_ctx *cx, sql_plan *child, sql_expr *pred)
{
    sql_plan *p = new_plan(cx, P_FILTER);
    set_child(p, 0, child);
    p->pred = pred;
    tbml_schema_copy(&p->schema, &child->schema);
    p->est_rows = child->est_rows;
    return p;
}

static sql_plan *distinct(sql_ctx *cx, sql_plan *child)
{
    sql_plan *p = new_plan(cx, P_AGG);
    set_child(p, 0, child);
    p->nkeys = child->schema.nfields;
    p->mode = AGG_SINGLE;
    tbml_schema_copy(&p->schema, &child->schema);
    p->est_rows = child->est_rows;
    return p;
}

static int item_is_star(const ast_item *it)
{
    return it->expr->kind == A_STAR;
}

/* ORDER BY k: an ordinal, or a name of the select list, or NULL. */
static tbml_status order_ref(sql_ctx *cx, const ast_order *o, const scope *outs, int nvisible,
                             int *col)
{
    *col = -1;
    const ast_expr *e = o->expr;
    if (e->kind == A_INT) {
        if (e->ival < 1 || e->ival > nvisible)
            return sql_error_at(TBML_E_ARG, cx->src, e->pos,
                                "ORDER BY position %lld is not in the select list (1 to %d)",
                                (long long)e->ival, nvisible);
        *col = (int)e->ival - 1;
        return TBML_OK;
    }
    if (e->kind == A_COLUMN && !e->qual) {
        for (int i = 0; i < nvisible; i++)
            if (outs->c[i].name && strcasecmp(outs->c[i].name, e->name) == 0) {
                *col = i;
                return TBML_OK;
            }
    }
    return TBML_OK;
}

/* HAVING may name a select-list alias (HAVING n > 1 for count(*) AS n), as Spark allows: such a
 * name, when no input column has it, stands for the aliased expression. */
static const ast_expr *subst_aliases(sql_ctx *cx, const ast_expr *e, const ast_select *s,
                                     const scope *in)
{
    if (e->kind == A_COLUMN && !e->qual) {
        for (int k = 0; k < in->n; k++)
            if (strcasecmp(in->c[k].name, e->name) == 0) return e;
        for (int k = 0; k < s->nitems; k++)
            if (s->items[k].alias && strcasecmp(s->items[k].alias, e->name) == 0)
                return s->items[k].expr;
        return e;
    }
    if (e->nargs == 0 || e->kind == A_IN_SUBQ || e->kind == A_EXISTS || e->kind == A_SUBQUERY) {
        if (e->kind == A_IN_SUBQ) {
            const ast_expr *a0 = subst_aliases(cx, e->args[0], s, in);
            if (a0 == e->args[0]) return e;
            ast_expr *c = sql_alloc(cx->a, sizeof(*c));
            *c = *e;
            c->args = sql_alloc(cx->a, sizeof(ast_expr *));
            c->args[0] = (ast_expr *)a0;
            return c;
        }
        return e;
    }
    ast_expr *c = NULL;
    for (int i = 0; i < e->nargs; i++) {
        const ast_expr *a = subst_aliases(cx, e->args[i], s, in);
        if (a != e->args[i] && !c) {
            c = sql_alloc(cx->a, sizeof(*c));
            *c = *e;
            c->args = sql_alloc(cx->a, (size_t)e->nargs * sizeof(ast_expr *));
            memcpy(c->args, e->args, (size_t)e->nargs * sizeof(ast_expr *));
        }
        if (c) c->args[i] = (ast_expr *)a;
    }
    return c ? c : e;
}

static tbml_status plan_select(sql_ctx *cx, const ast_query *q, rel *out)
{
    const ast_select *s = q->sel;
    tbml_status st;
    rel from;
    memset(&from, 0, sizeof(from));
    if (s->from) {
        if ((st = plan_from(cx, s->from, &from))) return st;
    } else {
        sql_plan *v = new_plan(cx, P_VALUES);
        v->est_rows = 1;
        from.plan = v;
    }
    sql_plan *p = from.plan;
    binder b;
    memset(&b, 0, sizeof(b));
    b.cx = cx;
    b.sc = &from.sc;
    if (s->where) {
        sql_expr *w;
        b.clause = "WHERE";
        if ((st = bind(&b, s->where, &w))) return st;
        if ((st = want_bool(&b, s->where, &w, "the WHERE condition"))) return st;
        if (!is_const_true(w)) p = filter(cx, p, w);
    }
    int has_agg = s->ngroup > 0 || (s->having != NULL);
    for (int i = 0; i < s->nitems && !has_agg; i++)
        has_agg = contains_agg(s->items[i].expr);
    for (int i = 0; i < q->norder && !has_agg; i++)
        has_agg = contains_agg(q->order[i].expr);

    /* the select list, * expanded */
    int cap = 16, n = 0;
    sql_expr **exprs = sql_alloc(cx->a, (size_t)cap * sizeof(*exprs));
    char **names = sql_alloc(cx->a, (size_t)cap * sizeof(*names));
    scope outs;
    memset(&outs, 0, sizeof(outs));
#define GROW()                                                                                     \
    if (n == cap) {                                                                                \
        sql_expr **ne = sql_alloc(cx->a, (size_t)cap * 2 * sizeof(*ne));                           \
        char **nn = sql_alloc(cx->a, (size_t)cap * 2 * sizeof(*nn));                               \
        memcpy(ne, exprs, (size_t)n * sizeof(*ne));                                                \
        memcpy(nn, names, (size_t)n * sizeof(*nn));                                                \
        exprs = ne;                                                                                \
        names = nn;                                                                                \
        cap *= 2;                                                                                  \
    }

    scope post;
    memset(&post, 0, sizeof(post));
    if (has_agg) {
        b.agg_mode = 1;
        b.pre = &from.sc;
        b.ngroup = s->ngroup;
        b.gexprs = sql_alloc(cx->a, (size_t)(s->ngroup + 1) * sizeof(sql_expr *));
        binder g = b;
        g.agg_mode = 0;
        g.sc = &from.sc;
        g.clause = "GROUP BY";
        for (int i = 0; i < s->ngroup; i++) {
            const ast_expr *ge = s->group[i];
            /* GROUP BY 1 and GROUP BY alias, as Spark allows */
            if (ge->kind == A_INT) {
                if (ge->ival < 1 || ge->ival > s->nitems || item_is_star(&s->items[ge->ival - 1]))
                    return sql_error_at(TBML_E_ARG, cx->src, ge->pos,
                                        "GROUP BY position %lld is not in the select list",
                                        (long long)ge->ival);
                ge = s->items[ge->ival - 1].expr;
                if (contains_agg(ge))
                    return sql_error_at(TBML_E_ARG, cx->src, s->group[i]->pos,
                                        "GROUP BY cannot refer to an aggregate");
            } else if (ge->kind == A_COLUMN && !ge->qual) {
                int found = 0;
                for (int k = 0; k < from.sc.n; k++)
                    if (strcasecmp(from.sc.c[k].name, ge->name) == 0) found = 1;
                if (!found)
                    for (int k = 0; k < s->nitems; k++)
                        if (s->items[k].alias && strcasecmp(s->items[k].alias, ge->name) == 0 &&
                            !contains_agg(s->items[k].expr)) {
                            ge = s->items[k].expr;
                            break;
                        }
            }
            if ((st = bind(&g, ge, &b.gexprs[i]))) return st;
        }
        b.clause = "the select list";
    } else {
        b.clause = "the select list (without GROUP BY)";
    }
    for (int i = 0; i < s->nitems; i++) {
        const ast_item *it = &s->items[i];
        if (item_is_star(it)) {
            const char *qual = it->expr->qual;
            int any = 0;
            if (has_agg)
                return sql_error_at(TBML_E_ARG, cx->src, it->expr->pos,
                                    "'*' cannot be used with GROUP BY or aggregates");
            for (int k = 0; k < from.sc.n; k++) {
                scol *c = &from.sc.c[k];
                if (c->hidden) continue;
                if (qual && (!c->qual || strcasecmp(c->qual, qual) != 0)) continue;
                GROW();
                exprs[n] = mk_col(cx, k, c->type);
                names[n] = (char *)c->name;
                if (c->scan) c->scan->used[c->scan_col] = 1;
                scope_add(cx->a, &outs, NULL, c->name, c->type, 0, NULL, 0);
                n++;
                any = 1;
            }
            if (!any && qual)
                return sql_error_at(TBML_E_NOTFOUND, cx->src, it->expr->pos,
                                    "cannot resolve '%s.*': no table or alias %s", qual, qual);
            continue;
        }
        GROW();
        if ((st = bind(&b, it->expr, &exprs[n]))) return st;
        if (it->alias)
            names[n] = it->alias;
        else if (it->expr->kind == A_COLUMN && exprs[n]->kind == E_COL && !has_agg)
            names[n] = (char *)from.sc.c[exprs[n]->col].name;
        else if (it->expr->kind == A_COLUMN && has_agg && exprs[n]->kind == E_COL &&
                 b.gexprs[exprs[n]->col]->kind == E_COL)
            names[n] = (char *)from.sc.c[b.gexprs[exprs[n]->col]->col].name;
        else
            names[n] = sql_ast_name(cx->a, it->expr);
        scope_add(cx->a, &outs, NULL, names[n], exprs[n]->type, 0, NULL, 0);
        n++;
    }
    int nvisible = n;
    sql_expr *having = NULL;
    if (s->having) {
        b.clause = "HAVING";
        if ((st = bind(&b, subst_aliases(cx, s->having, s, &from.sc), &having))) return st;
        if ((st = want_bool(&b, s->having, &having, "the HAVING condition"))) return st;
    }
    /* ORDER BY: select-list references, or expressions carried as hidden columns */
    int *ocol = sql_alloc(cx->a, (size_t)(q->norder + 1) * sizeof(int));
    for (int i = 0; i < q->norder; i++) {
        if ((st = order_ref(cx, &q->order[i], &outs, nvisible, &ocol[i]))) return st;
        if (ocol[i] >= 0) continue;
        sql_expr *e;
        b.clause = "ORDER BY";
        if ((st = bind(&b, q->order[i].expr, &e))) return st;
        for (int k = 0; k < n; k++)
            if (expr_eq(exprs[k], e)) ocol[i] = k;
        if (ocol[i] >= 0) continue;
        if (s->distinct)
            return sql_error_at(
                TBML_E_ARG, cx->src, q->order[i].expr->pos,
                "with SELECT DISTINCT, ORDER BY expressions must appear in the select list");
        GROW();
        exprs[n] = e;
        names[n] = sql_printf(cx->a, "__order%d", i);
        ocol[i] = n++;
    }
    if (has_agg) {
        /* pre-projection [keys..., aggregate arguments...] -> aggregate -> HAVING */
        int npre = b.ngroup + b.naggs;
        sql_expr **pre = sql_alloc(cx->a, (size_t)(npre + 1) * sizeof(*pre));
        char **pnames = sql_alloc(cx->a, (size_t)(npre + 1) * sizeof(*pnames));
        int k = 0;
        for (int g = 0; g < b.ngroup; g++, k++) {
            pre[k] = b.gexprs[g];
            pnames[k] = sql_printf(cx->a, "__k%d", g);
        }
        sql_plan *agg = new_plan(cx, P_AGG);
        agg->nkeys = b.ngroup;
        agg->naggs = b.naggs;
        agg->aggs = sql_alloc(cx->a, (size_t)(b.naggs + 1) * sizeof(sql_agg));
        agg->mode = AGG_SINGLE;
        for (int g = 0; g < b.ngroup; g++)
            tbml_schema_add(&agg->schema, pnames[g], pre[g]->type, 1);
        for (int i = 0; i < b.naggs; i++) {
            agg->aggs[i] = b.aggs[i].spec;
            if (b.aggs[i].arg) {
                pre[k] = b.aggs[i].arg;
                pnames[k] = sql_printf(cx->a, "__a%d", i);
                agg->aggs[i].arg = k++;
            }
            tbml_schema_add(&agg->schema, sql_printf(cx->a, "__agg%d", i), agg->aggs[i].out_type,
                            agg->aggs[i].fn != AGG_COUNT && agg->aggs[i].fn != AGG_COUNT_STAR);
        }
        sql_plan *pp = project(cx, p, pre, pnames, k);
        set_child(agg, 0, pp);
        agg->est_rows = b.ngroup ? p->est_rows : 1;
        p = agg;
        if (having && !is_const_true(having)) p = filter(cx, p, having);
    }
    p = project(cx, p, exprs, names, n);
    if (s->distinct) p = distinct(cx, p);
    out->plan = p;
    memset(&out->sc, 0, sizeof(out->sc));
    for (int i = 0; i < n; i++)
        scope_add(cx->a, &out->sc, NULL, names[i], exprs[i]->type, i >= nvisible, NULL, 0);
    /* ORDER BY and LIMIT, then drop the hidden columns */
    if (q->norder) {
        sql_plan *so = new_plan(cx, P_SORT);
        set_child(so, 0, p);
        tbml_schema_copy(&so->schema, &p->schema);
        so->nsort = q->norder;
        so->sort_cols = sql_alloc(cx->a, (size_t)q->norder * sizeof(int));
        so->sort_desc = sql_alloc(cx->a, (size_t)q->norder * sizeof(int));
        so->sort_nulls_first = sql_alloc(cx->a, (size_t)q->norder * sizeof(int));
        for (int i = 0; i < q->norder; i++) {
            so->sort_cols[i] = ocol[i];
            so->sort_desc[i] = q->order[i].desc;
            /* Spark: NULLS FIRST for ASC, NULLS LAST for DESC unless said */
            so->sort_nulls_first[i] =
                q->order[i].nulls ? q->order[i].nulls == 1 : !q->order[i].desc;
        }
        so->limit = q->limit;
        so->est_rows = p->est_rows;
        p = so;
    }
    if (q->limit >= 0 && !q->norder) {
        sql_plan *l = new_plan(cx, P_LIMIT);
        set_child(l, 0, p);
        tbml_schema_copy(&l->schema, &p->schema);
        l->limit = q->limit;
        l->est_rows = p->est_rows < (double)q->limit ? p->est_rows : (double)q->limit;
        p = l;
    }
    if (n > nvisible) {
        sql_expr **ve = sql_alloc(cx->a, (size_t)nvisible * sizeof(*ve));
        for (int i = 0; i < nvisible; i++)
            ve[i] = mk_col(cx, i, exprs[i]->type);
        p = project(cx, p, ve, names, nvisible);
        out->sc.n = nvisible;
    }
    out->plan = p;
#undef GROW
    return TBML_OK;
}

static tbml_status plan_union(sql_ctx *cx, const ast_query *q, rel *out)
{
    tbml_status st;
    rel *terms = sql_alloc(cx->a, (size_t)q->nterms * sizeof(rel));
    for (int i = 0; i < q->nterms; i++)
        if ((st = plan_query_logical(cx, q->terms[i], &terms[i]))) return st;
    int nc = terms[0].plan->schema.nfields;
    tbml_type *types = sql_alloc(cx->a, (size_t)(nc + 1) * sizeof(tbml_type));
    for (int c = 0; c < nc; c++)
        types[c] = terms[0].plan->schema.fields[c].type;
    for (int i = 1; i < q->nterms; i++) {
        if (terms[i].plan->schema.nfields != nc)
            return sql_error_at(TBML_E_ARG, cx->src, q->terms[i]->pos,
                                "UNION needs the same number of columns: %d and %d", nc,
                                terms[i].plan->schema.nfields);
        for (int c = 0; c < nc; c++)
            if (!common_type(types[c], terms[i].plan->schema.fields[c].type, 0, &types[c]))
                return sql_error_at(TBML_E_TYPE, cx->src, q->terms[i]->pos,
                                    "UNION column %d has types %s and %s that do not mix", c + 1,
                                    tn(types[c]), tn(terms[i].plan->schema.fields[c].type));
    }
    sql_plan *u = NULL;
    for (int i = 0; i < q->nterms; i++) {
        sql_plan *t = terms[i].plan;
        int need = 0;
        for (int c = 0; c < nc; c++)
            need |= t->schema.fields[c].type != types[c];
        if (need || i > 0) {
            /* cast to the union's types; later terms also take the first term's names */
            sql_expr **ex = sql_alloc(cx->a, (size_t)nc * sizeof(*ex));
            char **nm = sql_alloc(cx->a, (size_t)nc * sizeof(*nm));
            for (int c = 0; c < nc; c++) {
                ex[c] = mk_col(cx, c, t->schema.fields[c].type);
                if ((st = coerce(cx, &ex[c], types[c]))) return st;
                nm[c] = terms[0].plan->schema.fields[c].name;
            }
            t = project(cx, t, ex, nm, nc);
        }
        if (!u) {
            u = t;
            continue;
        }
        sql_plan *n = new_plan(cx, P_UNION);
        set_child(n, 0, u);
        set_child(n, 1, t);
        tbml_schema_copy(&n->schema, &u->schema);
        n->est_rows = u->est_rows + t->est_rows;
        u = n;
    }
    if (q->union_distinct) u = distinct(cx, u);
    memset(out, 0, sizeof(*out));
    for (int c = 0; c < nc; c++)
        scope_add(cx->a, &out->sc, NULL, u->schema.fields[c].name, types[c], 0, NULL, 0);
    /* ORDER BY over the union's columns */
    if (q->norder) {
        binder b;
        memset(&b, 0, sizeof(b));
        b.cx = cx;
        b.sc = &out->sc;
        b.clause = "ORDER BY";
        int n = nc;
        sql_expr **ex = sql_alloc(cx->a, (size_t)(nc + q->norder) * sizeof(*ex));
        char **nm = sql_alloc(cx->a, (size_t)(nc + q->norder) * sizeof(*nm));
        for (int c = 0; c < nc; c++) {
            ex[c] = mk_col(cx, c, types[c]);
            nm[c] = u->schema.fields[c].name;
        }
        sql_plan *so = new_plan(cx, P_SORT);
        so->nsort = q->norder;
        so->sort_cols = sql_alloc(cx->a, (size_t)q->norder * sizeof(int));
        so->sort_desc = sql_alloc(cx->a, (size_t)q->norder * sizeof(int));
        so->sort_nulls_first = sql_alloc(cx->a, (size_t)q->norder * sizeof(int));
        for (int i = 0; i < q->norder; i++) {
            int col;
            if ((st = order_ref(cx, &q->order[i], &out->sc, nc, &col))) return st;
            if (col < 0) {
                sql_expr *e;
                if ((st = bind(&b, q->order[i].expr, &e))) return st;
                ex[n] = e;
                nm[n] = sql_printf(cx->a, "__order%d", i);
                col = n++;
            }
            so->sort_cols[i] = col;
            so->sort_desc[i] = q->order[i].desc;
            so->sort_nulls_first[i] =
                q->order[i].nulls ? q->order[i].nulls == 1 : !q->order[i].desc;
        }
        if (n > nc) u = project(cx, u, ex, nm, n);
        set_child(so, 0, u);
        tbml_schema_copy(&so->schema, &u->schema);
        so->limit = q->limit;
        so->est_rows = u->est_rows;
        u = so;
        if (n > nc) {
            sql_expr **ve = sql_alloc(cx->a, (size_t)nc * sizeof(*ve));
            for (int c = 0; c < nc; c++)
                ve[c] = mk_col(cx, c, types[c]);
            u = project(cx, u, ve, nm, nc);
        }
    } else if (q->limit >= 0) {
        sql_plan *l = new_plan(cx, P_LIMIT);
        set_child(l, 0, u);
        tbml_schema_copy(&l->schema, &u->schema);
        l->limit = q->limit;
        l->est_rows = (double)q->limit;
        u = l;
    }
    out->plan = u;
    return TBML_OK;
}

static tbml_status plan_query_logical(sql_ctx *cx, const ast_query *q, rel *out)
{
    if (q->sel) return plan_select(cx, q, out);
    return plan_union(cx, q, out);
}

/* ---- optimisation: predicate pushdown and join keys ---- */

/* Lowest and highest column an expression reads (-1, -1 when none). */
static void col_range(const sql_expr *e, int *lo, int *hi)
{
    if (e->kind == E_COL) {
        if (*lo < 0 || e->col < *lo) *lo = e->col;
        if (e->col > *hi) *hi = e->col;
    }
    for (int i = 0; i < e->nargs; i++)
        col_range(e->args[i], lo, hi);
}

static sql_expr *shift(sql_ctx *cx, const sql_expr *e, int delta)
{
    sql_expr *c = mk(cx, e->kind, e->type);
    *c = *e;
    if (e->kind == E_COL) c->col += delta;
    if (e->nargs) {
        c->args = sql_alloc(cx->a, (size_t)e->nargs * sizeof(*c->args));
        for (int i = 0; i < e->nargs; i++)
            c->args[i] = shift(cx, e->args[i], delta);
    }
    return c;
}

static void conjuncts(sql_ctx *cx, sql_expr *e, sql_expr ***list, int *n, int *cap)
{
    if (e->kind == E_AND) {
        conjuncts(cx, e->args[0], list, n, cap);
        conjuncts(cx, e->args[1], list, n, cap);
        return;
    }
    sql_push(cx->a, (void ***)list, n, cap, e);
}

static sql_expr *and_all(sql_ctx *cx, sql_expr **list, int n)
{
    sql_expr *e = NULL;
    for (int i = 0; i < n; i++) {
        if (!list[i]) continue;
        if (!e) {
            e = list[i];
        } else {
            sql_expr *a = mk(cx, E_AND, TBML_TYPE_BOOL);
            add_arg(cx, a, e);
            add_arg(cx, a, list[i]);
            e = a;
        }
    }
    return e;
}

static sql_plan *optimize(sql_ctx *cx, sql_plan *p);

/* Pushes the conjuncts of pred into p (a join's child or the join itself); returns the plan. */
static sql_plan *push_into(sql_ctx *cx, sql_plan *p, sql_expr **preds, int n)
{
    if (n == 0) return p;
    sql_expr *pred = and_all(cx, preds, n);
    if (!pred) return p;
    if (p->kind == P_JOIN && (p->join_type == JOIN_INNER)) {
        /* inner join: the predicate joins the condition and is split again */
        p->residual = p->residual ? and_all(cx, (sql_expr *[]){p->residual, pred}, 2) : pred;
        return p;
    }
    if (p->kind == P_FILTER) {
        p->pred = and_all(cx, (sql_expr *[]){p->pred, pred}, 2);
        return p;
    }
    return filter(cx, p, pred);
}

static sql_plan *optimize_join(sql_ctx *cx, sql_plan *j)
{
    int nl = j->child[0]->schema.nfields;
    int jt = j->join_type;
    sql_expr **cs = NULL;
    int nc = 0, cap = 0;
    if (j->residual) conjuncts(cx, j->residual, &cs, &nc, &cap);
    sql_expr **lpush = NULL, **rpush = NULL, **rest = NULL;
    int nlp = 0, nrp = 0, nrest = 0, c1 = 0, c2 = 0, c3 = 0;
    j->njkeys = 0;
    j->lkeys = sql_alloc(cx->a, (size_t)(nc + 1) * sizeof(sql_expr *));
    j->rkeys = sql_alloc(cx->a, (size_t)(nc + 1) * sizeof(sql_expr *));
    for (int i = 0; i < nc; i++) {
        sql_expr *e = cs[i];
        int lo = -1, hi = -1;
        col_range(e, &lo, &hi);
        /* the ON condition of an outer join filters only the side that is not preserved */
        int left_only = hi >= 0 && hi < nl, right_only = lo >= nl;
        if (left_only &&
            (jt == JOIN_INNER || jt == JOIN_RIGHT || jt == JOIN_SEMI || jt == JOIN_ANTI) &&
            jt != JOIN_ANTI) {
            sql_push(cx->a, (void ***)&lpush, &nlp, &c1, e);
            continue;
        }
        if (right_only &&
            (jt == JOIN_INNER || jt == JOIN_LEFT || jt == JOIN_SEMI || jt == JOIN_ANTI)) {
            sql_push(cx->a, (void ***)&rpush, &nrp, &c2, shift(cx, e, -nl));
            continue;
        }
        if (e->kind == E_CMP && e->op == OP_EQ) {
            int l0 = -1, h0 = -1, l1 = -1, h1 = -1;
            col_range(e->args[0], &l0, &h0);
            col_range(e->args[1], &l1, &h1);
            if (h0 >= 0 && h0 < nl && l1 >= nl) {
                j->lkeys[j->njkeys] = e->args[0];
                j->rkeys[j->njkeys++] = shift(cx, e->args[1], -nl);
                continue;
            }
            if (h1 >= 0 && h1 < nl && l0 >= nl) {
                j->lkeys[j->njkeys] = e->args[1];
                j->rkeys[j->njkeys++] = shift(cx, e->args[0], -nl);
                continue;
            }
        }
        sql_push(cx->a, (void ***)&rest, &nrest, &c3, e);
    }
    j->residual = and_all(cx, rest, nrest);
    j->child[0] = optimize(cx, push_into(cx, j->child[0], lpush, nlp));
    j->child[1] = optimize(cx, push_into(cx, j->child[1], rpush, nrp));
    return j;
}

static sql_plan *optimize(sql_ctx *cx, sql_plan *p)
{
    if (p->kind == P_FILTER && p->child[0]->kind == P_JOIN) {
        /* WHERE over a join: conjuncts go into the join where that keeps the meaning */
        sql_plan *j = p->child[0];
        int nl = j->child[0]->schema.nfields, jt = j->join_type;
        sql_expr **cs = NULL, **keep = NULL;
        int nc = 0, cap = 0, nk = 0, kc = 0;
        conjuncts(cx, p->pred, &cs, &nc, &cap);
        sql_expr **lp = NULL, **rp = NULL;
        int nlp = 0, nrp = 0, c1 = 0, c2 = 0;
        for (int i = 0; i < nc; i++) {
            int lo = -1, hi = -1;
            col_range(cs[i], &lo, &hi);
            if (jt == JOIN_INNER) {
                j->residual =
                    j->residual ? and_all(cx, (sql_expr *[]){j->residual, cs[i]}, 2) : cs[i];
            } else if (hi >= 0 && hi < nl && jt != JOIN_RIGHT && jt != JOIN_FULL) {
                sql_push(cx->a, (void ***)&lp, &nlp, &c1, cs[i]);
            } else if (lo >= nl && jt == JOIN_RIGHT) {
                sql_push(cx->a, (void ***)&rp, &nrp, &c2, shift(cx, cs[i], -nl));
            } else {
                sql_push(cx->a, (void ***)&keep, &nk, &kc, cs[i]);
            }
        }
        j->child[0] = push_into(cx, j->child[0], lp, nlp);
        j->child[1] = push_into(cx, j->child[1], rp, nrp);
        sql_plan *nj = optimize(cx, j);
        if (nk == 0) return nj;
        p->child[0] = nj;
        p->pred = and_all(cx, keep, nk);
        return p;
    }
    if (p->kind == P_JOIN) return optimize_join(cx, p);
    for (int i = 0; i < p->nchild; i++)
        p->child[i] = optimize(cx, p->child[i]);
    return p;
}

/* ---- projection pruning: only the columns a parent reads are computed ----
 * Walks the plan top-down with the set of output columns its parent needs. A projection's unneeded
 * outputs become placeholders (a NULL-typed literal: a column with only a row count), so no
 * index changes anywhere; a scan passes on only the needed columns of its table. */
static void mark_cols(const sql_expr *e, uint8_t *need, int n, int delta)
{
    if (e->kind == E_COL) {
        int c = e->col + delta;
        if (c >= 0 && c < n) need[c] = 1;
    }
    for (int i = 0; i < e->nargs; i++)
        mark_cols(e->args[i], need, n, delta);
}

static void prune(sql_ctx *cx, sql_plan *p, const uint8_t *need)
{
    int n = p->nchild ? p->child[0]->schema.nfields : 0;
    uint8_t *cn = sql_alloc(cx->a, (size_t)n + 1);
    switch (p->kind) {
    case P_SCAN:
        for (int i = 0; i < p->schema.nfields; i++)
            p->used[i] = need[i];
        return;
    case P_VALUES:
        return;
    case P_PROJECT:
        for (int i = 0; i < p->nexprs; i++) {
            if (need[i]) {
                mark_cols(p->exprs[i], cn, n, 0);
            } else if (p->exprs[i]->kind != E_LIT) {
                sql_expr *ph = mk(cx, E_LIT, TBML_TYPE_NULL);
                ph->lit.type = TBML_TYPE_NULL;
                ph->lit.isnull = 1;
                p->exprs[i] = ph;
            }
        }
        break;
    case P_FILTER:
        memcpy(cn, need, (size_t)n);
        mark_cols(p->pred, cn, n, 0);
        break;
    case P_AGG:
        for (int k = 0; k < p->nkeys; k++)
            cn[k] = 1;
        for (int a = 0; a < p->naggs; a++)
            if (p->aggs[a].arg >= 0) cn[p->aggs[a].arg] = 1;
        break;
    case P_SORT:
    case P_EXCHANGE:
        memcpy(cn, need, (size_t)n);
        for (int k = 0; k < p->nsort; k++)
            cn[p->sort_cols[k]] = 1;
        for (int k = 0; k < p->nhkeys; k++)
            mark_cols(p->hkeys[k], cn, n, 0);
        break;
    case P_LIMIT:
    case P_UNION:
        memcpy(cn, need, (size_t)n);
        break;
    case P_JOIN: {
        int nl = n, nr = p->child[1]->schema.nfields;
        uint8_t *rn = sql_alloc(cx->a, (size_t)nr + 1);
        int semi = p->join_type == JOIN_SEMI || p->join_type == JOIN_ANTI;
        for (int i = 0; i < nl; i++)
            cn[i] = need[i];
        for (int i = 0; i < nr && !semi; i++)
            rn[i] = need[nl + i];
        for (int k = 0; k < p->njkeys; k++) {
            mark_cols(p->lkeys[k], cn, nl, 0);
            mark_cols(p->rkeys[k], rn, nr, 0);
        }
        if (p->residual) {
            mark_cols(p->residual, cn, nl, 0);
            mark_cols(p->residual, rn, nr, -nl);
        }
        prune(cx, p->child[0], cn);
        prune(cx, p->child[1], rn);
        return;
    }
    }
    for (int i = 0; i < p->nchild; i++)
        prune(cx, p->child[i], cn);
}

/* ---- physical planning: partitions and exchanges ---- */
static sql_plan *exchange(sql_ctx *cx, sql_plan *child, int kind)
{
    sql_plan *x = new_plan(cx, P_EXCHANGE);
    set_child(x, 0, child);
    x->exch = kind;
    tbml_schema_copy(&x->schema, &child->schema);
    x->est_rows = child->est_rows;
    return x;
}

static sql_plan *hash_exchange_keys(sql_ctx *cx, sql_plan *child, sql_expr **keys, int nkeys)
{
    sql_plan *x = exchange(cx, child, EXCH_HASH);
    x->hkeys = keys;
    x->nhkeys = nkeys;
    return x;
}

static sql_plan *physical(sql_ctx *cx, sql_plan *p)
{
    for (int i = 0; i < p->nchild; i++)
        p->child[i] = physical(cx, p->child[i]);
    int64_t thr = sql_session_broadcast_threshold(cx->s);
    int single = sql_session_partitions(cx->s) == 1;
    switch (p->kind) {
    case P_AGG: {
        sql_expr **keys = sql_alloc(cx->a, (size_t)(p->nkeys + 1) * sizeof(*keys));
        for (int k = 0; k < p->nkeys; k++)
            keys[k] = mk_col(cx, k, p->child[0]->schema.fields[k].type);
        int any_distinct = 0;
        for (int i = 0; i < p->naggs; i++)
            any_distinct |= p->aggs[i].distinct;
        if (single) return p;
        if (any_distinct) {
            /* DISTINCT aggregates see each group whole: repartition the raw rows by key */
            sql_plan *x = p->nkeys ? hash_exchange_keys(cx, p->child[0], keys, p->nkeys)
                                   : exchange(cx, p->child[0], EXCH_GATHER);
            p->child[0] = x;
            return p;
        }
        /* partial aggregate per partition, exchange of partial states, final aggregate */
        sql_plan *part = new_plan(cx, P_AGG);
        set_child(part, 0, p->child[0]);
        part->mode = AGG_PARTIAL;
        part->nkeys = p->nkeys;
        part->aggs = p->aggs;
        part->naggs = p->naggs;
        part->est_rows = p->est_rows;
        for (int k = 0; k < p->nkeys; k++)
            tbml_schema_add(&part->schema, p->schema.fields[k].name, p->schema.fields[k].type, 1);
        for (int i = 0; i < p->naggs; i++) {
            const sql_agg *g = &p->aggs[i];
            switch (g->fn) {
            case AGG_COUNT:
            case AGG_COUNT_STAR:
                tbml_schema_add(&part->schema, "cnt", TBML_TYPE_INT64, 0);
                break;
            case AGG_SUM:
                tbml_schema_add(&part->schema, "sum", g->out_type, 1);
                break;
            case AGG_AVG:
                tbml_schema_add(&part->schema, "sum", TBML_TYPE_DOUBLE, 1);
                tbml_schema_add(&part->schema, "cnt", TBML_TYPE_INT64, 0);
                break;
            case AGG_MIN:
            case AGG_MAX:
                tbml_schema_add(&part->schema, "v", g->out_type, 1);
                break;
            case AGG_STDDEV:
                tbml_schema_add(&part->schema, "cnt", TBML_TYPE_INT64, 0);
                tbml_schema_add(&part->schema, "mean", TBML_TYPE_DOUBLE, 1);
                tbml_schema_add(&part->schema, "m2", TBML_TYPE_DOUBLE, 1);
                break;
            }
        }
        sql_plan *x = p->nkeys ? hash_exchange_keys(cx, part, keys, p->nkeys)
                               : exchange(cx, part, EXCH_GATHER);
        p->child[0] = x;
        p->mode = AGG_FINAL;
        return p;
    }
    case P_JOIN: {
        sql_plan *l = p->child[0], *r = p->child[1];
        double lb = l->est_rows * row_width(&l->schema), rb = r->est_rows * row_width(&r->schema);
        int jt = p->join_type;
        p->build_side = 1;
        if (single) return p;
        if (thr >= 0 && rb <= (double)thr &&
            (jt == JOIN_INNER || jt == JOIN_LEFT || jt == JOIN_SEMI || jt == JOIN_ANTI)) {
            p->broadcast = 1;
            p->child[1] = exchange(cx, r, EXCH_BROADCAST);
        } else if (thr >= 0 && lb <= (double)thr && (jt == JOIN_INNER || jt == JOIN_RIGHT)) {
            p->broadcast = 1;
            p->build_side = 0;
            p->child[0] = exchange(cx, l, EXCH_BROADCAST);
        } else {
            p->child[0] = hash_exchange_keys(cx, l, p->lkeys, p->njkeys);
            p->child[1] = hash_exchange_keys(cx, r, p->rkeys, p->njkeys);
        }
        return p;
    }
    case P_SORT: {
        if (single) return p;
        if (p->limit >= 0) {
            /* top-N: each partition keeps its N best, one partition merges them */
            sql_plan *local = new_plan(cx, P_SORT);
            *local = *p;
            local->id = cx->next_id++;
            tbml_schema_init(&local->schema);
            tbml_schema_copy(&local->schema, &p->schema);
            local->nchild = 1;
            p->child[0] = exchange(cx, local, EXCH_GATHER);
            return p;
        }
        /* a full sort: range-partition on the keys, sort each partition; partitions in order
         * are the result */
        sql_plan *x = exchange(cx, p->child[0], EXCH_RANGE);
        x->nsort = p->nsort;
        x->sort_cols = p->sort_cols;
        x->sort_desc = p->sort_desc;
        x->sort_nulls_first = p->sort_nulls_first;
        p->child[0] = x;
        return p;
    }
    case P_LIMIT: {
        if (single) return p;
        sql_plan *local = new_plan(cx, P_LIMIT);
        set_child(local, 0, p->child[0]);
        tbml_schema_copy(&local->schema, &p->schema);
        local->limit = p->limit;
        p->child[0] = exchange(cx, local, EXCH_GATHER);
        return p;
    }
    default:
        return p;
    }
}

tbml_status sql_plan_query(sql_ctx *cx, const ast_query *q, sql_plan **out)
{
    rel r;
    tbml_status st = plan_query_logical(cx, q, &r);
    if (st) return st;
    sql_plan *p = optimize(cx, r.plan);
    uint8_t *all = sql_alloc(cx->a, (size_t)p->schema.nfields + 1);
    memset(all, 1, (size_t)p->schema.nfields);
    prune(cx, p, all);
    *out = physical(cx, p);
    return TBML_OK;
}

/* ---- EXPLAIN ---- */
typedef struct {
    char *buf;
    size_t n, cap;
} xbuf;

static void xadd(xbuf *b, const char *fmt, ...) TBML_PRINTF(2, 3);
static void xadd(xbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)n + 1 > b->cap) {
        b->cap = (b->n + (size_t)n + 1) * 2;
        b->buf = tbml_realloc(b->buf, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->buf + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static void explain_rec(xbuf *b, const sql_plan *p, int depth)
{
    static const char *jn[] = {"Inner",    "LeftOuter", "RightOuter", "FullOuter",
                               "LeftSemi", "LeftAnti",  "Cross"};
    static const char *an[] = {"count(1)", "count", "sum", "avg", "min", "max", "stddev"};
    xadd(b, "%*s%s", depth * 2, "", depth ? "+- " : "");
    switch (p->kind) {
    case P_SCAN: {
        xadd(b, "Scan %s [", p->table_name);
        int first = 1;
        for (int i = 0; i < p->schema.nfields; i++)
            if (p->used[i]) {
                xadd(b, "%s%s", first ? "" : ", ", p->schema.fields[i].name);
                first = 0;
            }
        xadd(b, "]");
        break;
    }
    case P_VALUES:
        xadd(b, "OneRowRelation");
        break;
    case P_FILTER:
        xadd(b, "Filter");
        break;
    case P_PROJECT: {
        xadd(b, "Project [");
        for (int i = 0; i < p->schema.nfields; i++)
            xadd(b, "%s%s", i ? ", " : "", p->schema.fields[i].name);
        xadd(b, "]");
        break;
    }
    case P_AGG: {
        xadd(b, "HashAggregate(%s, keys=%d, functions=[",
             p->mode == AGG_PARTIAL ? "partial"
             : p->mode == AGG_FINAL ? "final"
                                    : "complete",
             p->nkeys);
        for (int i = 0; i < p->naggs; i++)
            xadd(b, "%s%s%s", i ? ", " : "", an[p->aggs[i].fn],
                 p->aggs[i].distinct ? "(DISTINCT)" : "");
        xadd(b, "])");
        break;
    }
    case P_JOIN:
        xadd(b, "%s %s, keys=%d%s, build=%s",
             p->broadcast ? "BroadcastHashJoin" : "ShuffledHashJoin", jn[p->join_type], p->njkeys,
             p->residual ? ", with condition" : "", p->build_side ? "right" : "left");
        break;
    case P_SORT:
        if (p->limit >= 0)
            xadd(b, "TakeOrdered(limit=%lld, keys=%d)", (long long)p->limit, p->nsort);
        else
            xadd(b, "Sort(keys=%d)", p->nsort);
        break;
    case P_LIMIT:
        xadd(b, "Limit %lld", (long long)p->limit);
        break;
    case P_UNION:
        xadd(b, "Union");
        break;
    case P_EXCHANGE: {
        static const char *xn[] = {"hashpartitioning", "rangepartitioning", "BroadcastExchange",
                                   "SinglePartition"};
        xadd(b, "Exchange %s", xn[p->exch]);
        if (p->exch == EXCH_HASH) xadd(b, "(keys=%d)", p->nhkeys);
        break;
    }
    }
    xadd(b, "\n");
    for (int i = 0; i < p->nchild; i++)
        explain_rec(b, p->child[i], depth + 1);
}

void sql_plan_explain(const sql_plan *p, char **out)
{
    xbuf b = {0};
    xadd(&b, "== Physical Plan ==\n");
    explain_rec(&b, p, 0);
    *out = b.buf;
}
