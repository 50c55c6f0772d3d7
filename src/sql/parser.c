/* The SQL parser: recursive descent over the tokens into the AST of sql_int.h, in Spark's
 * dialect (operator precedence, keywords, `CREATE TEMP VIEW ... USING fmt OPTIONS (...)`).
 * Errors name the token and point at it with a caret. Also Spark's display names of
 * expressions ("(age + 1)", "count(1)"), which become column names when no alias is given. */
#include "sql_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    sql_arena *a;
    const char *src;
    sql_token *t;
    int n, i;
    int depth;
} parser;

/* Words that cannot be bare column names or aliases (Spark's ANSI reserved set, trimmed). */
static const char *g_reserved[] = {
    "SELECT",   "FROM",   "WHERE",   "GROUP", "BY",    "HAVING", "ORDER", "LIMIT", "UNION",
    "ALL",      "JOIN",   "ON",      "USING", "INNER", "LEFT",   "RIGHT", "FULL",  "OUTER",
    "CROSS",    "SEMI",   "ANTI",    "AS",    "AND",   "OR",     "NOT",   "IN",    "IS",
    "NULL",     "LIKE",   "BETWEEN", "CASE",  "WHEN",  "THEN",   "ELSE",  "END",   "CAST",
    "DISTINCT", "EXISTS", "TRUE",    "FALSE", "ASC",   "DESC",   "NULLS", "DIV",   "INTERSECT",
    "EXCEPT",   "CREATE", "VIEW",    "DROP",  NULL};

static int is_reserved(const char *s)
{
    for (int i = 0; g_reserved[i]; i++)
        if (strcasecmp(s, g_reserved[i]) == 0) return 1;
    return 0;
}

static sql_token *peek(parser *p)
{
    return &p->t[p->i];
}
static sql_token *peek_at(parser *p, int k)
{
    int j = p->i + k;
    return &p->t[j < p->n ? j : p->n - 1];
}

static int is_kw(const sql_token *t, const char *kw)
{
    return t->kind == TK_IDENT && strcasecmp(t->text, kw) == 0;
}
static int is_op(const sql_token *t, const char *op)
{
    return t->kind == TK_OP && strcmp(t->text, op) == 0;
}

static int accept_kw(parser *p, const char *kw)
{
    if (is_kw(peek(p), kw)) {
        p->i++;
        return 1;
    }
    return 0;
}
static int accept_op(parser *p, const char *op)
{
    if (is_op(peek(p), op)) {
        p->i++;
        return 1;
    }
    return 0;
}

static tbml_status err_tok(parser *p, const char *want)
{
    sql_token *t = peek(p);
    if (t->kind == TK_EOF)
        return sql_error_at(TBML_E_SYNTAX, p->src, t->pos,
                            "syntax error: expected %s at end of input", want);
    return sql_error_at(TBML_E_SYNTAX, p->src, t->pos, "syntax error at '%.*s': expected %s",
                        t->len > 40 ? 40 : t->len, p->src + t->pos, want);
}

static tbml_status expect_kw(parser *p, const char *kw)
{
    if (accept_kw(p, kw)) return TBML_OK;
    return err_tok(p, kw);
}
static tbml_status expect_op(parser *p, const char *op)
{
    if (accept_op(p, op)) return TBML_OK;
    char want[16];
    snprintf(want, sizeof(want), "'%s'", op);
    return err_tok(p, want);
}

/* An identifier: a quoted one, or a plain word that is not reserved. */
static int ident_here(parser *p)
{
    sql_token *t = peek(p);
    return t->kind == TK_QIDENT || (t->kind == TK_IDENT && !is_reserved(t->text));
}
static tbml_status expect_ident(parser *p, char **out, const char *what)
{
    if (!ident_here(p)) return err_tok(p, what);
    *out = (char *)peek(p)->text;
    p->i++;
    return TBML_OK;
}

static ast_expr *node(parser *p, ast_kind k, int pos)
{
    ast_expr *e = sql_alloc(p->a, sizeof(*e));
    e->kind = k;
    e->pos = pos;
    return e;
}
static int prev_end(parser *p)
{
    sql_token *t = &p->t[p->i > 0 ? p->i - 1 : 0];
    return t->pos + t->len;
}
static void add_arg(parser *p, ast_expr *e, ast_expr *arg, int *cap)
{
    sql_push(p->a, (void ***)&e->args, &e->nargs, cap, arg);
}

static tbml_status parse_query(parser *p, ast_query **out);
static tbml_status parse_expr(parser *p, ast_expr **out);

static int parse_type(parser *p, tbml_type *out)
{
    sql_token *t = peek(p);
    if (t->kind != TK_IDENT) return 0;
    static const struct {
        const char *name;
        tbml_type type;
    } types[] = {{"INT", TBML_TYPE_INT64},          {"INTEGER", TBML_TYPE_INT64},
                 {"BIGINT", TBML_TYPE_INT64},       {"LONG", TBML_TYPE_INT64},
                 {"SMALLINT", TBML_TYPE_INT64},     {"TINYINT", TBML_TYPE_INT64},
                 {"SHORT", TBML_TYPE_INT64},        {"BYTE", TBML_TYPE_INT64},
                 {"DOUBLE", TBML_TYPE_DOUBLE},      {"FLOAT", TBML_TYPE_DOUBLE},
                 {"REAL", TBML_TYPE_DOUBLE},        {"DECIMAL", TBML_TYPE_DOUBLE},
                 {"NUMERIC", TBML_TYPE_DOUBLE},     {"STRING", TBML_TYPE_STRING},
                 {"VARCHAR", TBML_TYPE_STRING},     {"CHAR", TBML_TYPE_STRING},
                 {"TEXT", TBML_TYPE_STRING},        {"BOOLEAN", TBML_TYPE_BOOL},
                 {"BOOL", TBML_TYPE_BOOL},          {"DATE", TBML_TYPE_DATE},
                 {"TIMESTAMP", TBML_TYPE_TIMESTAMP}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcasecmp(t->text, types[i].name) == 0) {
            p->i++;
            /* VARCHAR(10), DECIMAL(10, 2): the sizes do not change the engine's type */
            if (is_op(peek(p), "(")) {
                p->i++;
                while (peek(p)->kind == TK_INT || is_op(peek(p), ","))
                    p->i++;
                if (!accept_op(p, ")")) return 0;
            }
            *out = types[i].type;
            return 1;
        }
    }
    return 0;
}

static tbml_status parse_subquery_paren(parser *p, ast_query **out)
{
    /* '(' already consumed */
    tbml_status st = parse_query(p, out);
    if (st) return st;
    return expect_op(p, ")");
}

static int starts_query(parser *p)
{
    int k = 0;
    while (is_op(peek_at(p, k), "("))
        k++;
    return is_kw(peek_at(p, k), "SELECT");
}

static tbml_status parse_primary(parser *p, ast_expr **out)
{
    tbml_status st;
    sql_token *t = peek(p);
    int pos = t->pos;
    ast_expr *e;
    if (t->kind == TK_INT) {
        e = node(p, A_INT, pos);
        errno = 0;
        char *end;
        long long v = strtoll(t->text, &end, 10);
        if (errno == ERANGE) {
            /* too large for a long: Spark reads it as a decimal; we read a double */
            e->kind = A_DOUBLE;
            e->dval = strtod(t->text, NULL);
        } else {
            e->ival = v;
        }
        e->sval = (char *)t->text;
        p->i++;
    } else if (t->kind == TK_FLOAT) {
        e = node(p, A_DOUBLE, pos);
        e->dval = strtod(t->text, NULL);
        e->sval = (char *)t->text;
        p->i++;
    } else if (t->kind == TK_STRING) {
        e = node(p, A_STRING, pos);
        e->sval = (char *)t->text;
        p->i++;
        /* adjacent literals concatenate, as in Spark */
        while (peek(p)->kind == TK_STRING) {
            e->sval = sql_printf(p->a, "%s%s", e->sval, peek(p)->text);
            p->i++;
        }
    } else if (is_op(t, "(")) {
        p->i++;
        if (starts_query(p)) {
            e = node(p, A_SUBQUERY, pos);
            if ((st = parse_subquery_paren(p, &e->subq))) return st;
        } else {
            if ((st = parse_expr(p, &e))) return st;
            if ((st = expect_op(p, ")"))) return st;
        }
    } else if (is_op(t, "*")) {
        e = node(p, A_STAR, pos);
        p->i++;
    } else if (t->kind == TK_IDENT && is_kw(t, "NULL")) {
        e = node(p, A_NULL, pos);
        p->i++;
    } else if (is_kw(t, "TRUE") || is_kw(t, "FALSE")) {
        e = node(p, A_BOOL, pos);
        e->ival = is_kw(t, "TRUE");
        p->i++;
    } else if ((is_kw(t, "DATE") || is_kw(t, "TIMESTAMP")) && peek_at(p, 1)->kind == TK_STRING) {
        int is_date = is_kw(t, "DATE");
        p->i++;
        e = node(p, is_date ? A_DATE : A_TIMESTAMP, pos);
        sql_token *s = peek(p);
        int ok = is_date ? sql_parse_date(s->text, strlen(s->text), &e->ival)
                         : sql_parse_timestamp(s->text, strlen(s->text), &e->ival);
        if (!ok)
            return sql_error_at(TBML_E_SYNTAX, p->src, s->pos, "cannot parse the %s literal '%s'",
                                is_date ? "DATE" : "TIMESTAMP", s->text);
        e->sval = (char *)s->text;
        p->i++;
    } else if (is_kw(t, "CASE")) {
        p->i++;
        e = node(p, A_CASE, pos);
        int cap = 0;
        ast_expr *x;
        if (!is_kw(peek(p), "WHEN")) {
            if ((st = parse_expr(p, &x))) return st;
            add_arg(p, e, x, &cap);
            e->has_operand = 1;
        }
        if (!is_kw(peek(p), "WHEN")) return err_tok(p, "WHEN");
        while (accept_kw(p, "WHEN")) {
            if ((st = parse_expr(p, &x))) return st;
            add_arg(p, e, x, &cap);
            if ((st = expect_kw(p, "THEN"))) return st;
            if ((st = parse_expr(p, &x))) return st;
            add_arg(p, e, x, &cap);
        }
        if (accept_kw(p, "ELSE")) {
            if ((st = parse_expr(p, &x))) return st;
            add_arg(p, e, x, &cap);
            e->has_else = 1;
        }
        if ((st = expect_kw(p, "END"))) return st;
    } else if (is_kw(t, "CAST") && is_op(peek_at(p, 1), "(")) {
        p->i += 2;
        e = node(p, A_CAST, pos);
        ast_expr *x;
        int cap = 0;
        if ((st = parse_expr(p, &x))) return st;
        add_arg(p, e, x, &cap);
        if ((st = expect_kw(p, "AS"))) return st;
        int tpos = peek(p)->pos;
        if (!parse_type(p, &e->cast_type)) {
            if (peek(p)->kind == TK_IDENT)
                return sql_error_at(TBML_E_TYPE, p->src, tpos, "unknown type '%s' in CAST",
                                    peek(p)->text);
            return err_tok(p, "a type name");
        }
        e->name = sql_strndup(p->a, p->src + tpos, (size_t)(prev_end(p) - tpos));
        if ((st = expect_op(p, ")"))) return st;
    } else if (is_kw(t, "EXISTS") && is_op(peek_at(p, 1), "(")) {
        p->i += 2;
        e = node(p, A_EXISTS, pos);
        if ((st = parse_subquery_paren(p, &e->subq))) return st;
    } else if (t->kind == TK_QIDENT || (t->kind == TK_IDENT && !is_reserved(t->text)) ||
               ((is_kw(t, "LEFT") || is_kw(t, "RIGHT")) && is_op(peek_at(p, 1), "("))) {
        char *name = (char *)t->text;
        p->i++;
        if (t->kind == TK_IDENT && is_op(peek(p), "(")) {
            /* function call */
            p->i++;
            e = node(p, A_FUNC, pos);
            e->name = name;
            int cap = 0;
            if (accept_op(p, "*")) {
                e->star_arg = 1;
            } else if (!is_op(peek(p), ")")) {
                if (accept_kw(p, "DISTINCT"))
                    e->distinct = 1;
                else
                    accept_kw(p, "ALL");
                do {
                    ast_expr *x;
                    if ((st = parse_expr(p, &x))) return st;
                    add_arg(p, e, x, &cap);
                } while (accept_op(p, ","));
            }
            if ((st = expect_op(p, ")"))) return st;
        } else if (is_op(peek(p), ".")) {
            p->i++;
            if (is_op(peek(p), "*")) {
                p->i++;
                e = node(p, A_STAR, pos);
                e->qual = name;
            } else {
                e = node(p, A_COLUMN, pos);
                e->qual = name;
                if ((st = expect_ident(p, &e->name, "a column name"))) return st;
            }
        } else {
            e = node(p, A_COLUMN, pos);
            e->name = name;
        }
    } else {
        return err_tok(p, "an expression");
    }
    e->end = prev_end(p);
    *out = e;
    return TBML_OK;
}

static tbml_status parse_postfix(parser *p, ast_expr **out)
{
    tbml_status st;
    ast_expr *e = NULL;
    if ((st = parse_primary(p, &e))) return st;
    while (is_op(peek(p), "[")) {
        p->i++;
        ast_expr *x = node(p, A_INDEX, e->pos), *idx;
        int cap = 0;
        if ((st = parse_expr(p, &idx))) return st;
        if ((st = expect_op(p, "]"))) return st;
        add_arg(p, x, e, &cap);
        add_arg(p, x, idx, &cap);
        x->end = prev_end(p);
        e = x;
    }
    *out = e;
    return TBML_OK;
}

static tbml_status parse_unary(parser *p, ast_expr **out)
{
    int pos = peek(p)->pos;
    if (accept_op(p, "-")) {
        ast_expr *x;
        tbml_status st = parse_unary(p, &x);
        if (st) return st;
        /* fold the sign into numeric literals, so -9223372036854775808 reads as a long */
        if (x->kind == A_INT && x->pos == pos + 1) {
            x->ival = (int64_t)(0 - (uint64_t)x->ival);
            x->pos = pos;
            x->sval = sql_printf(p->a, "-%s", x->sval);
            *out = x;
            return TBML_OK;
        }
        if (x->kind == A_DOUBLE && x->pos == pos + 1 && x->sval &&
            strcmp(x->sval, "9223372036854775808") == 0) {
            x->kind = A_INT; /* the one long whose magnitude is not a long */
            x->ival = INT64_MIN;
        }
        if (x->kind == A_INT && x->pos == pos + 1) {
            x->pos = pos;
            x->sval = sql_printf(p->a, "-%s", x->sval);
            *out = x;
            return TBML_OK;
        }
        if (x->kind == A_DOUBLE && x->pos == pos + 1) {
            x->dval = -x->dval;
            x->pos = pos;
            x->sval = sql_printf(p->a, "-%s", x->sval);
            *out = x;
            return TBML_OK;
        }
        ast_expr *e = node(p, A_UNARY, pos);
        int cap = 0;
        e->op = OP_NEG;
        add_arg(p, e, x, &cap);
        e->end = x->end;
        *out = e;
        return TBML_OK;
    }
    if (accept_op(p, "+")) return parse_unary(p, out);
    return parse_postfix(p, out);
}

static ast_expr *binary(parser *p, int op, ast_expr *l, ast_expr *r)
{
    ast_expr *e = node(p, A_BINARY, l->pos);
    int cap = 0;
    e->op = op;
    add_arg(p, e, l, &cap);
    add_arg(p, e, r, &cap);
    e->end = r->end;
    return e;
}

static tbml_status parse_mul(parser *p, ast_expr **out)
{
    ast_expr *l, *r;
    tbml_status st = parse_unary(p, &l);
    if (st) return st;
    for (;;) {
        int op;
        if (accept_op(p, "*"))
            op = OP_MUL;
        else if (accept_op(p, "/"))
            op = OP_DIV;
        else if (accept_op(p, "%"))
            op = OP_MOD;
        else if (accept_kw(p, "DIV"))
            op = OP_IDIV;
        else
            break;
        if ((st = parse_unary(p, &r))) return st;
        l = binary(p, op, l, r);
    }
    *out = l;
    return TBML_OK;
}

static tbml_status parse_add(parser *p, ast_expr **out)
{
    ast_expr *l, *r;
    tbml_status st = parse_mul(p, &l);
    if (st) return st;
    for (;;) {
        int op;
        if (accept_op(p, "+"))
            op = OP_ADD;
        else if (accept_op(p, "-"))
            op = OP_SUB;
        else if (accept_op(p, "||"))
            op = OP_CONCAT;
        else
            break;
        if ((st = parse_mul(p, &r))) return st;
        l = binary(p, op, l, r);
    }
    *out = l;
    return TBML_OK;
}

static tbml_status parse_predicate(parser *p, ast_expr **out)
{
    ast_expr *l, *r;
    tbml_status st = parse_add(p, &l);
    if (st) return st;
    for (;;) {
        sql_token *t = peek(p);
        int op = -1;
        if (is_op(t, "=") || is_op(t, "=="))
            op = OP_EQ;
        else if (is_op(t, "<>") || is_op(t, "!="))
            op = OP_NE;
        else if (is_op(t, "<"))
            op = OP_LT;
        else if (is_op(t, "<="))
            op = OP_LE;
        else if (is_op(t, ">"))
            op = OP_GT;
        else if (is_op(t, ">="))
            op = OP_GE;
        else if (is_op(t, "<=>"))
            op = OP_NSEQ;
        if (op >= 0) {
            p->i++;
            if ((st = parse_add(p, &r))) return st;
            l = binary(p, op, l, r);
            continue;
        }
        if (is_kw(t, "IS")) {
            p->i++;
            ast_expr *e = node(p, A_IS_NULL, l->pos);
            int cap = 0;
            e->negated = accept_kw(p, "NOT");
            if ((st = expect_kw(p, "NULL"))) return st;
            add_arg(p, e, l, &cap);
            e->end = prev_end(p);
            l = e;
            continue;
        }
        int negated = 0;
        if (is_kw(t, "NOT") && (is_kw(peek_at(p, 1), "IN") || is_kw(peek_at(p, 1), "BETWEEN") ||
                                is_kw(peek_at(p, 1), "LIKE"))) {
            negated = 1;
            p->i++;
            t = peek(p);
        }
        if (is_kw(t, "BETWEEN")) {
            p->i++;
            ast_expr *e = node(p, A_BETWEEN, l->pos), *lo, *hi;
            int cap = 0;
            e->negated = negated;
            if ((st = parse_add(p, &lo))) return st;
            if ((st = expect_kw(p, "AND"))) return st;
            if ((st = parse_add(p, &hi))) return st;
            add_arg(p, e, l, &cap);
            add_arg(p, e, lo, &cap);
            add_arg(p, e, hi, &cap);
            e->end = hi->end;
            l = e;
        } else if (is_kw(t, "LIKE")) {
            p->i++;
            ast_expr *e = node(p, A_LIKE, l->pos);
            int cap = 0;
            e->negated = negated;
            if ((st = parse_add(p, &r))) return st;
            add_arg(p, e, l, &cap);
            add_arg(p, e, r, &cap);
            e->end = r->end;
            l = e;
        } else if (is_kw(t, "IN")) {
            p->i++;
            if ((st = expect_op(p, "("))) return st;
            ast_expr *e;
            int cap = 0;
            if (starts_query(p)) {
                e = node(p, A_IN_SUBQ, l->pos);
                add_arg(p, e, l, &cap);
                if ((st = parse_subquery_paren(p, &e->subq))) return st;
            } else {
                e = node(p, A_IN_LIST, l->pos);
                add_arg(p, e, l, &cap);
                do {
                    ast_expr *x;
                    if ((st = parse_expr(p, &x))) return st;
                    add_arg(p, e, x, &cap);
                } while (accept_op(p, ","));
                if ((st = expect_op(p, ")"))) return st;
            }
            e->negated = negated;
            e->end = prev_end(p);
            l = e;
        } else {
            break;
        }
    }
    *out = l;
    return TBML_OK;
}

static tbml_status parse_not(parser *p, ast_expr **out)
{
    int pos = peek(p)->pos;
    if (accept_kw(p, "NOT")) {
        ast_expr *x;
        tbml_status st = parse_not(p, &x);
        if (st) return st;
        ast_expr *e = node(p, A_UNARY, pos);
        int cap = 0;
        e->op = OP_NOT;
        add_arg(p, e, x, &cap);
        e->end = x->end;
        *out = e;
        return TBML_OK;
    }
    return parse_predicate(p, out);
}

static tbml_status parse_and(parser *p, ast_expr **out)
{
    ast_expr *l, *r;
    tbml_status st = parse_not(p, &l);
    if (st) return st;
    while (accept_kw(p, "AND")) {
        if ((st = parse_not(p, &r))) return st;
        l = binary(p, OP_AND, l, r);
    }
    *out = l;
    return TBML_OK;
}

static tbml_status parse_expr(parser *p, ast_expr **out)
{
    if (++p->depth > 200) {
        return sql_error_at(TBML_E_SYNTAX, p->src, peek(p)->pos, "expression nested too deeply");
    }
    ast_expr *l, *r;
    tbml_status st = parse_and(p, &l);
    if (st) goto out;
    while (accept_kw(p, "OR")) {
        if ((st = parse_and(p, &r))) goto out;
        l = binary(p, OP_OR, l, r);
    }
    *out = l;
out:
    p->depth--;
    return st;
}

/* ---- queries ---- */

static tbml_status parse_alias(parser *p, char **alias)
{
    if (accept_kw(p, "AS")) return expect_ident(p, alias, "an alias");
    if (ident_here(p)) {
        *alias = (char *)peek(p)->text;
        p->i++;
    }
    return TBML_OK;
}

static tbml_status parse_from_item(parser *p, ast_from **out);

static tbml_status parse_table_primary(parser *p, ast_from **out)
{
    tbml_status st;
    ast_from *f = sql_alloc(p->a, sizeof(*f));
    f->pos = peek(p)->pos;
    if (is_op(peek(p), "(")) {
        p->i++;
        if (starts_query(p)) {
            f->kind = FROM_SUBQ;
            if ((st = parse_subquery_paren(p, &f->subq))) return st;
            if ((st = parse_alias(p, &f->alias))) return st;
        } else {
            if ((st = parse_from_item(p, &f))) return st;
            if ((st = expect_op(p, ")"))) return st;
        }
    } else {
        f->kind = FROM_TABLE;
        if ((st = expect_ident(p, &f->name, "a table name"))) return st;
        /* db.table: only the default database exists */
        if (is_op(peek(p), ".") &&
            (peek_at(p, 1)->kind == TK_IDENT || peek_at(p, 1)->kind == TK_QIDENT)) {
            p->i++;
            f->name = (char *)peek(p)->text;
            p->i++;
        }
        if ((st = parse_alias(p, &f->alias))) return st;
    }
    *out = f;
    return TBML_OK;
}

static tbml_status parse_from_item(parser *p, ast_from **out)
{
    tbml_status st;
    ast_from *l;
    if ((st = parse_table_primary(p, &l))) return st;
    for (;;) {
        int join = -1, pos = peek(p)->pos;
        if (accept_kw(p, "JOIN")) {
            join = JOIN_INNER;
        } else if (is_kw(peek(p), "INNER") && is_kw(peek_at(p, 1), "JOIN")) {
            p->i += 2;
            join = JOIN_INNER;
        } else if (is_kw(peek(p), "CROSS") && is_kw(peek_at(p, 1), "JOIN")) {
            p->i += 2;
            join = JOIN_CROSS;
        } else if (accept_kw(p, "LEFT")) {
            if (accept_kw(p, "SEMI"))
                join = JOIN_SEMI;
            else if (accept_kw(p, "ANTI"))
                join = JOIN_ANTI;
            else {
                accept_kw(p, "OUTER");
                join = JOIN_LEFT;
            }
            if ((st = expect_kw(p, "JOIN"))) return st;
        } else if (accept_kw(p, "RIGHT")) {
            accept_kw(p, "OUTER");
            join = JOIN_RIGHT;
            if ((st = expect_kw(p, "JOIN"))) return st;
        } else if (accept_kw(p, "FULL")) {
            accept_kw(p, "OUTER");
            join = JOIN_FULL;
            if ((st = expect_kw(p, "JOIN"))) return st;
        } else if ((is_kw(peek(p), "SEMI") || is_kw(peek(p), "ANTI")) &&
                   is_kw(peek_at(p, 1), "JOIN")) {
            join = is_kw(peek(p), "SEMI") ? JOIN_SEMI : JOIN_ANTI;
            p->i += 2;
        } else {
            break;
        }
        ast_from *j = sql_alloc(p->a, sizeof(*j));
        j->kind = FROM_JOIN;
        j->pos = pos;
        j->join = join;
        j->left = l;
        if ((st = parse_table_primary(p, &j->right))) return st;
        if (accept_kw(p, "ON")) {
            if (join == JOIN_CROSS)
                return sql_error_at(TBML_E_SYNTAX, p->src, p->t[p->i - 1].pos,
                                    "CROSS JOIN takes no ON condition");
            if ((st = parse_expr(p, &j->on))) return st;
        } else if (accept_kw(p, "USING")) {
            if ((st = expect_op(p, "("))) return st;
            int cap = 0;
            do {
                char *c = NULL;
                if ((st = expect_ident(p, &c, "a column name"))) return st;
                sql_push(p->a, (void ***)&j->using_cols, &j->nusing, &cap, c);
            } while (accept_op(p, ","));
            if ((st = expect_op(p, ")"))) return st;
        }
        l = j;
    }
    *out = l;
    return TBML_OK;
}

static tbml_status parse_select(parser *p, ast_select **out)
{
    tbml_status st;
    ast_select *s = sql_alloc(p->a, sizeof(*s));
    if ((st = expect_kw(p, "SELECT"))) return st;
    if (accept_kw(p, "DISTINCT"))
        s->distinct = 1;
    else
        accept_kw(p, "ALL");
    int cap = 0;
    do {
        if (s->nitems == cap) {
            int nc = cap ? cap * 2 : 8;
            ast_item *ni = sql_alloc(p->a, (size_t)nc * sizeof(*ni));
            if (s->nitems) memcpy(ni, s->items, (size_t)s->nitems * sizeof(*ni));
            s->items = ni;
            cap = nc;
        }
        ast_item *it = &s->items[s->nitems];
        if ((st = parse_expr(p, &it->expr))) return st;
        if (it->expr->kind != A_STAR && (st = parse_alias(p, &it->alias))) return st;
        s->nitems++;
    } while (accept_op(p, ","));
    if (accept_kw(p, "FROM")) {
        if ((st = parse_from_item(p, &s->from))) return st;
        while (is_op(peek(p), ",")) {
            int pos = peek(p)->pos;
            p->i++;
            ast_from *j = sql_alloc(p->a, sizeof(*j));
            j->kind = FROM_JOIN;
            j->pos = pos;
            j->join = JOIN_CROSS;
            j->left = s->from;
            if ((st = parse_from_item(p, &j->right))) return st;
            s->from = j;
        }
    }
    if (accept_kw(p, "WHERE"))
        if ((st = parse_expr(p, &s->where))) return st;
    if (is_kw(peek(p), "GROUP")) {
        p->i++;
        if ((st = expect_kw(p, "BY"))) return st;
        int gcap = 0;
        do {
            ast_expr *x;
            if ((st = parse_expr(p, &x))) return st;
            sql_push(p->a, (void ***)&s->group, &s->ngroup, &gcap, x);
        } while (accept_op(p, ","));
    }
    if (accept_kw(p, "HAVING"))
        if ((st = parse_expr(p, &s->having))) return st;
    *out = s;
    return TBML_OK;
}

static tbml_status parse_query_term(parser *p, ast_query **out)
{
    tbml_status st;
    if (is_op(peek(p), "(")) {
        p->i++;
        if ((st = parse_query(p, out))) return st;
        return expect_op(p, ")");
    }
    ast_query *q = sql_alloc(p->a, sizeof(*q));
    q->pos = peek(p)->pos;
    q->limit = -1;
    if ((st = parse_select(p, &q->sel))) return st;
    *out = q;
    return TBML_OK;
}

static tbml_status parse_query(parser *p, ast_query **out)
{
    tbml_status st;
    if (++p->depth > 100) {
        st = sql_error_at(TBML_E_SYNTAX, p->src, peek(p)->pos, "query nested too deeply");
        goto out;
    }
    ast_query *first;
    int pos = peek(p)->pos;
    if ((st = parse_query_term(p, &first))) goto out;
    ast_query *q = first;
    if (is_kw(peek(p), "UNION")) {
        q = sql_alloc(p->a, sizeof(*q));
        q->pos = pos;
        q->limit = -1;
        int cap = 0;
        sql_push(p->a, (void ***)&q->terms, &q->nterms, &cap, first);
        while (accept_kw(p, "UNION")) {
            if (!accept_kw(p, "ALL")) {
                accept_kw(p, "DISTINCT");
                q->union_distinct = 1;
            }
            ast_query *t;
            if ((st = parse_query_term(p, &t))) goto out;
            sql_push(p->a, (void ***)&q->terms, &q->nterms, &cap, t);
        }
    }
    if (is_kw(peek(p), "INTERSECT") || is_kw(peek(p), "EXCEPT") || is_kw(peek(p), "MINUS")) {
        st = sql_error_at(TBML_E_UNSUPPORTED, p->src, peek(p)->pos,
                          "%s is not supported (use a LEFT SEMI or LEFT ANTI JOIN)", peek(p)->text);
        goto out;
    }
    if ((q->order || q->limit >= 0) && (is_kw(peek(p), "ORDER") || is_kw(peek(p), "LIMIT"))) {
        /* (SELECT ... ORDER BY) ORDER BY: wrap so the outer clauses apply to the whole */
        ast_query *w = sql_alloc(p->a, sizeof(*w));
        w->pos = pos;
        w->limit = -1;
        int cap = 0;
        sql_push(p->a, (void ***)&w->terms, &w->nterms, &cap, q);
        q = w;
    }
    if (is_kw(peek(p), "ORDER")) {
        p->i++;
        if ((st = expect_kw(p, "BY"))) goto out;
        int cap = 0;
        do {
            if (q->norder == cap) {
                int nc = cap ? cap * 2 : 8;
                ast_order *no = sql_alloc(p->a, (size_t)nc * sizeof(*no));
                if (q->norder) memcpy(no, q->order, (size_t)q->norder * sizeof(*no));
                q->order = no;
                cap = nc;
            }
            ast_order *o = &q->order[q->norder];
            if ((st = parse_expr(p, &o->expr))) goto out;
            if (accept_kw(p, "DESC"))
                o->desc = 1;
            else
                accept_kw(p, "ASC");
            if (accept_kw(p, "NULLS")) {
                if (accept_kw(p, "FIRST"))
                    o->nulls = 1;
                else if (accept_kw(p, "LAST"))
                    o->nulls = 2;
                else {
                    st = err_tok(p, "FIRST or LAST");
                    goto out;
                }
            }
            q->norder++;
        } while (accept_op(p, ","));
    }
    if (accept_kw(p, "LIMIT")) {
        sql_token *t = peek(p);
        if (t->kind != TK_INT) {
            st = err_tok(p, "a row count after LIMIT");
            goto out;
        }
        errno = 0;
        q->limit = strtoll(t->text, NULL, 10);
        if (errno) {
            st = sql_error_at(TBML_E_SYNTAX, p->src, t->pos, "LIMIT %s is too large", t->text);
            goto out;
        }
        p->i++;
    }
    *out = q;
    st = TBML_OK;
out:
    p->depth--;
    return st;
}

static tbml_status parse_option_value(parser *p, char **out)
{
    sql_token *t = peek(p);
    if (t->kind == TK_STRING || t->kind == TK_INT || t->kind == TK_FLOAT || is_kw(t, "TRUE") ||
        is_kw(t, "FALSE")) {
        *out = (char *)t->text;
        p->i++;
        return TBML_OK;
    }
    return err_tok(p, "an option value");
}

static tbml_status parse_create(parser *p, ast_stmt *s)
{
    tbml_status st;
    if (accept_kw(p, "OR")) {
        if ((st = expect_kw(p, "REPLACE"))) return st;
        s->replace = 1;
    }
    accept_kw(p, "GLOBAL");
    if (!accept_kw(p, "TEMP") && !accept_kw(p, "TEMPORARY")) {
        if (is_kw(peek(p), "TABLE") || is_kw(peek(p), "VIEW"))
            return sql_error_at(TBML_E_UNSUPPORTED, p->src, peek(p)->pos,
                                "only temporary views exist: use CREATE TEMP VIEW");
        return err_tok(p, "TEMP VIEW");
    }
    if ((st = expect_kw(p, "VIEW"))) return st;
    if (is_kw(peek(p), "IF")) {
        p->i++;
        if ((st = expect_kw(p, "NOT"))) return st;
        if ((st = expect_kw(p, "EXISTS"))) return st;
        s->if_exists = 1;
    }
    if ((st = expect_ident(p, &s->name, "a view name"))) return st;
    if (accept_kw(p, "USING")) {
        s->kind = ST_CREATE_VIEW_USING;
        if ((st = expect_ident(p, &s->format, "a data source (json, csv, text)"))) return st;
        if (accept_kw(p, "OPTIONS")) {
            if ((st = expect_op(p, "("))) return st;
            int kcap = 0, vcap = 0, dummy = 0;
            do {
                sql_token *t = peek(p);
                char *k;
                if (t->kind == TK_STRING || t->kind == TK_IDENT || t->kind == TK_QIDENT) {
                    k = (char *)t->text;
                    p->i++;
                    /* dotted keys: spark.foo.bar */
                    while (is_op(peek(p), ".") && peek_at(p, 1)->kind == TK_IDENT) {
                        k = sql_printf(p->a, "%s.%s", k, peek_at(p, 1)->text);
                        p->i += 2;
                    }
                } else {
                    return err_tok(p, "an option name");
                }
                accept_op(p, "=");
                char *v = NULL;
                if ((st = parse_option_value(p, &v))) return st;
                sql_push(p->a, (void ***)&s->opt_keys, &s->nopts, &kcap, k);
                sql_push(p->a, (void ***)&s->opt_vals, &dummy, &vcap, v);
            } while (accept_op(p, ","));
            if ((st = expect_op(p, ")"))) return st;
        }
        return TBML_OK;
    }
    s->kind = ST_CREATE_VIEW;
    if ((st = expect_kw(p, "AS"))) return st;
    s->query_pos = peek(p)->pos;
    if ((st = parse_query(p, &s->query))) return st;
    s->query_end = prev_end(p);
    return TBML_OK;
}

static tbml_status parse_stmt(parser *p, ast_stmt **out)
{
    tbml_status st;
    ast_stmt *s = sql_alloc(p->a, sizeof(*s));
    s->pos = peek(p)->pos;
    if (accept_kw(p, "CREATE")) {
        if ((st = parse_create(p, s))) return st;
    } else if (accept_kw(p, "DROP")) {
        if ((st = expect_kw(p, "VIEW"))) return st;
        s->kind = ST_DROP_VIEW;
        if (is_kw(peek(p), "IF")) {
            p->i++;
            if ((st = expect_kw(p, "EXISTS"))) return st;
            s->if_exists = 1;
        }
        if ((st = expect_ident(p, &s->name, "a view name"))) return st;
    } else if (accept_kw(p, "SHOW")) {
        if (!accept_kw(p, "TABLES") && !accept_kw(p, "VIEWS")) return err_tok(p, "TABLES");
        s->kind = ST_SHOW_TABLES;
    } else if (accept_kw(p, "DESCRIBE") || accept_kw(p, "DESC")) {
        accept_kw(p, "TABLE");
        s->kind = ST_DESCRIBE;
        if ((st = expect_ident(p, &s->name, "a view name"))) return st;
    } else if (accept_kw(p, "EXPLAIN")) {
        s->kind = ST_EXPLAIN;
        s->query_pos = peek(p)->pos;
        if ((st = parse_query(p, &s->query))) return st;
    } else if (starts_query(p)) {
        s->kind = ST_QUERY;
        s->query_pos = peek(p)->pos;
        if ((st = parse_query(p, &s->query))) return st;
        s->query_end = prev_end(p);
    } else {
        return err_tok(p, "SELECT, CREATE, DROP, SHOW, DESCRIBE or EXPLAIN");
    }
    *out = s;
    return TBML_OK;
}

static tbml_status start(sql_arena *a, const char *src, parser *p)
{
    memset(p, 0, sizeof(*p));
    p->a = a;
    p->src = src;
    return sql_tokenize(a, src, &p->t, &p->n);
}

tbml_status sql_parse(sql_arena *a, const char *src, ast_stmt **out)
{
    parser p;
    tbml_status st = start(a, src, &p);
    if (st) return st;
    ast_stmt *s = NULL;
    if ((st = parse_stmt(&p, &s))) return st;
    accept_op(&p, ";");
    if (peek(&p)->kind != TK_EOF) return err_tok(&p, "end of statement");
    *out = s;
    return TBML_OK;
}

tbml_status sql_parse_items(sql_arena *a, const char *src, ast_item **out, int *nout)
{
    parser p;
    tbml_status st = start(a, src, &p);
    if (st) return st;
    int n = 0, cap = 0;
    ast_item *items = NULL;
    do {
        if (n == cap) {
            int nc = cap ? cap * 2 : 8;
            ast_item *ni = sql_alloc(a, (size_t)nc * sizeof(*ni));
            if (n) memcpy(ni, items, (size_t)n * sizeof(*ni));
            items = ni;
            cap = nc;
        }
        if ((st = parse_expr(&p, &items[n].expr))) return st;
        if ((st = parse_alias(&p, &items[n].alias))) return st;
        n++;
    } while (accept_op(&p, ","));
    if (peek(&p)->kind != TK_EOF) return err_tok(&p, "',' or end of the expression list");
    *out = items;
    *nout = n;
    return TBML_OK;
}

tbml_status sql_parse_expr(sql_arena *a, const char *src, ast_expr **out)
{
    parser p;
    tbml_status st = start(a, src, &p);
    if (st) return st;
    ast_expr *e;
    if ((st = parse_expr(&p, &e))) return st;
    if (peek(&p)->kind != TK_EOF) return err_tok(&p, "end of the expression");
    *out = e;
    return TBML_OK;
}

/* ---- Spark's display names ---- */

typedef struct {
    char *buf;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->buf = tbml_realloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->n, s, n);
    b->n += n;
    b->buf[b->n] = '\0';
}
static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static const char *op_text(int op)
{
    static const char *t[] = {"+",  "-", "*",  "/",   "%",   "div", "=",  "<>", "<",
                              "<=", ">", ">=", "<=>", "AND", "OR",  "||", "-",  "NOT"};
    return t[op];
}

static void name_rec(sbuf *b, const ast_expr *e, int depth)
{
    if (depth > 64) {
        sb_str(b, "...");
        return;
    }
    switch (e->kind) {
    case A_NULL:
        sb_str(b, "NULL");
        break;
    case A_INT:
    case A_DOUBLE:
        sb_str(b, e->sval ? e->sval : "0");
        break;
    case A_STRING:
        sb_str(b, e->sval);
        break;
    case A_BOOL:
        sb_str(b, e->ival ? "true" : "false");
        break;
    case A_DATE:
        sb_str(b, "DATE '");
        sb_str(b, e->sval);
        sb_str(b, "'");
        break;
    case A_TIMESTAMP:
        sb_str(b, "TIMESTAMP '");
        sb_str(b, e->sval);
        sb_str(b, "'");
        break;
    case A_COLUMN:
        sb_str(b, e->name);
        break;
    case A_STAR:
        sb_str(b, "*");
        break;
    case A_UNARY:
        sb_str(b, e->op == OP_NEG ? "(- " : "(NOT ");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, ")");
        break;
    case A_BINARY:
        if (e->op == OP_CONCAT) {
            sb_str(b, "concat(");
            name_rec(b, e->args[0], depth + 1);
            sb_str(b, ", ");
            name_rec(b, e->args[1], depth + 1);
            sb_str(b, ")");
            break;
        }
        sb_str(b, "(");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, " ");
        sb_str(b, op_text(e->op));
        sb_str(b, " ");
        name_rec(b, e->args[1], depth + 1);
        sb_str(b, ")");
        break;
    case A_FUNC: {
        /* Spark prints function names in lower case, count(*) as count(1) */
        char lower[64];
        size_t k = 0;
        for (; e->name[k] && k < sizeof(lower) - 1; k++)
            lower[k] =
                (char)((e->name[k] >= 'A' && e->name[k] <= 'Z') ? e->name[k] + 32 : e->name[k]);
        lower[k] = '\0';
        sb_str(b, lower);
        sb_str(b, "(");
        if (e->star_arg) sb_str(b, "1");
        if (e->distinct) sb_str(b, "DISTINCT ");
        for (int i = 0; i < e->nargs; i++) {
            if (i) sb_str(b, ", ");
            name_rec(b, e->args[i], depth + 1);
        }
        sb_str(b, ")");
        break;
    }
    case A_CASE: {
        sb_str(b, "CASE");
        int i = 0;
        if (e->has_operand) {
            sb_str(b, " ");
            name_rec(b, e->args[0], depth + 1);
            i = 1;
        }
        int nwhen = (e->nargs - i - e->has_else) / 2;
        for (int w = 0; w < nwhen; w++, i += 2) {
            sb_str(b, " WHEN ");
            name_rec(b, e->args[i], depth + 1);
            sb_str(b, " THEN ");
            name_rec(b, e->args[i + 1], depth + 1);
        }
        if (e->has_else) {
            sb_str(b, " ELSE ");
            name_rec(b, e->args[i], depth + 1);
        }
        sb_str(b, " END");
        break;
    }
    case A_CAST:
        sb_str(b, "CAST(");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, " AS ");
        /* the type as written, upper-cased: CAST(age AS INT) */
        for (const char *t = e->name ? e->name : sql_type_sql_name(e->cast_type); *t; t++) {
            char ch = (char)((*t >= 'a' && *t <= 'z') ? *t - 32 : *t);
            sb_add(b, &ch, 1);
        }
        sb_str(b, ")");
        break;
    case A_BETWEEN:
        sb_str(b, e->negated ? "(NOT ((" : "((");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, " >= ");
        name_rec(b, e->args[1], depth + 1);
        sb_str(b, ") AND (");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, " <= ");
        name_rec(b, e->args[2], depth + 1);
        sb_str(b, e->negated ? ")))" : "))");
        break;
    case A_IN_LIST:
        sb_str(b, e->negated ? "(NOT (" : "(");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, " IN (");
        for (int i = 1; i < e->nargs; i++) {
            if (i > 1) sb_str(b, ", ");
            name_rec(b, e->args[i], depth + 1);
        }
        sb_str(b, e->negated ? ")))" : "))");
        break;
    case A_IN_SUBQ:
        sb_str(b, e->negated ? "(NOT (" : "(");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, e->negated ? " IN (listquery())))" : " IN (listquery()))");
        break;
    case A_EXISTS:
        sb_str(b, e->negated ? "(NOT exists())" : "exists()");
        break;
    case A_SUBQUERY:
        sb_str(b, "scalarsubquery()");
        break;
    case A_IS_NULL:
        sb_str(b, "(");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, e->negated ? " IS NOT NULL)" : " IS NULL)");
        break;
    case A_LIKE:
        if (e->negated) sb_str(b, "(NOT ");
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, " LIKE ");
        name_rec(b, e->args[1], depth + 1);
        if (e->negated) sb_str(b, ")");
        break;
    case A_INDEX:
        name_rec(b, e->args[0], depth + 1);
        sb_str(b, "[");
        name_rec(b, e->args[1], depth + 1);
        sb_str(b, "]");
        break;
    }
}

char *sql_ast_name(sql_arena *a, const ast_expr *e)
{
    sbuf b = {0};
    name_rec(&b, e, 0);
    char *r = sql_strndup(a, b.buf ? b.buf : "", b.n);
    tbml_free(b.buf);
    return r;
}

const char *sql_type_sql_name(tbml_type t)
{
    switch (t) {
    case TBML_TYPE_NULL:
        return "VOID";
    case TBML_TYPE_BOOL:
        return "BOOLEAN";
    case TBML_TYPE_INT64:
        return "BIGINT";
    case TBML_TYPE_DOUBLE:
        return "DOUBLE";
    case TBML_TYPE_STRING:
        return "STRING";
    case TBML_TYPE_DATE:
        return "DATE";
    case TBML_TYPE_TIMESTAMP:
        return "TIMESTAMP";
    }
    return "?";
}
