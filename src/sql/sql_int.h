/* Internal interfaces of the SQL engine, one section per stage, in pipeline order:
 * arena -> tokens -> AST -> bound expressions -> partitioned plans -> execution. Nothing here is
 * public; the public face is include/tbml/sql.h. */
#ifndef TBML_SQL_INT_H
#define TBML_SQL_INT_H

#include "tbml/column.h"
#include "tbml/sql.h"

#include <stdint.h>

#if defined(__GNUC__)
#define SQL_HIDDEN __attribute__((visibility("hidden")))
#else
#define SQL_HIDDEN
#endif

/* ---- arena: per-statement memory (AST, plans, bound expressions), freed at once ---- */
typedef struct sql_arena_block sql_arena_block;
typedef struct {
    sql_arena_block *head;
} sql_arena;
SQL_HIDDEN void *sql_alloc(sql_arena *a, size_t size); /* zeroed */
SQL_HIDDEN char *sql_strndup(sql_arena *a, const char *s, size_t n);
SQL_HIDDEN char *sql_strdup(sql_arena *a, const char *s);
SQL_HIDDEN char *sql_printf(sql_arena *a, const char *fmt, ...) TBML_PRINTF(2, 3);
SQL_HIDDEN void sql_arena_free(sql_arena *a);
/* Appends p to an arena-grown pointer array. */
SQL_HIDDEN void sql_push(sql_arena *a, void ***arr, int *n, int *cap, void *p);

/* Sets the error message to "LINE:COL: message" followed by the query line and a caret line
 * under byte offset pos of src. Returns st. */
SQL_HIDDEN tbml_status sql_error_at(tbml_status st, const char *src, int pos, const char *fmt, ...)
    TBML_PRINTF(4, 5);

/* ---- tokenizer.c ---- */
enum { TK_EOF, TK_IDENT, TK_QIDENT, TK_STRING, TK_INT, TK_FLOAT, TK_OP };
typedef struct {
    int kind;
    int pos, len;     /* span in the source */
    const char *text; /* identifier (as written), unescaped string, number text or operator */
} sql_token;
SQL_HIDDEN tbml_status sql_tokenize(sql_arena *a, const char *src, sql_token **out, int *n);

/* ---- parser.c: the AST ---- */
typedef enum {
    A_NULL,
    A_INT,
    A_DOUBLE,
    A_STRING,
    A_BOOL,
    A_DATE,
    A_TIMESTAMP,
    A_COLUMN,   /* qual.name */
    A_STAR,     /* * or qual.* */
    A_UNARY,    /* op: OP_NEG, OP_NOT */
    A_BINARY,   /* op */
    A_FUNC,     /* name(args), distinct, star_arg for count(*) */
    A_CASE,     /* args: [operand] (when, then)* [else] */
    A_CAST,     /* args[0] AS type */
    A_BETWEEN,  /* args: x, lo, hi; negated */
    A_IN_LIST,  /* args: x, items...; negated */
    A_IN_SUBQ,  /* args[0] IN (subq); negated */
    A_EXISTS,   /* subq; negated */
    A_SUBQUERY, /* scalar subquery */
    A_IS_NULL,  /* negated */
    A_LIKE,     /* args: x, pattern; negated */
    A_INDEX,    /* args[0][args[1]] */
} ast_kind;

enum {
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_IDIV, /* arithmetic: + - * / % div */
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_NSEQ, /* comparison; NSEQ is <=> */
    OP_AND,
    OP_OR,
    OP_CONCAT,
    OP_NEG,
    OP_NOT
};

struct ast_query;
typedef struct ast_expr {
    ast_kind kind;
    int pos, end; /* source span, for messages */
    int op, negated, distinct, star_arg, has_operand, has_else;
    char *name, *qual, *sval;
    int64_t ival;
    double dval;
    tbml_type cast_type;
    struct ast_expr **args;
    int nargs;
    struct ast_query *subq;
} ast_expr;

enum { JOIN_INNER, JOIN_LEFT, JOIN_RIGHT, JOIN_FULL, JOIN_SEMI, JOIN_ANTI, JOIN_CROSS };
enum { FROM_TABLE, FROM_SUBQ, FROM_JOIN };
typedef struct ast_from {
    int kind, pos;
    char *name, *alias;
    struct ast_query *subq;
    struct ast_from *left, *right;
    int join;
    ast_expr *on;
    char **using_cols;
    int nusing;
} ast_from;

typedef struct {
    ast_expr *expr;
    char *alias;
} ast_item;

typedef struct {
    ast_expr *expr;
    int desc;
    int nulls; /* 0 default, 1 first, 2 last */
} ast_order;

typedef struct {
    int distinct;
    ast_item *items;
    int nitems;
    ast_from *from;
    ast_expr *where;
    ast_expr **group;
    int ngroup;
    ast_expr *having;
} ast_select;

/* A query: one SELECT, or a UNION [ALL] of terms; then ORDER BY and LIMIT over the whole. */
typedef struct ast_query {
    int pos;
    ast_select *sel;
    struct ast_query **terms;
    int nterms;
    int union_distinct; /* UNION without ALL */
    ast_order *order;
    int norder;
    int64_t limit; /* -1: none */
} ast_query;

enum {
    ST_QUERY,
    ST_CREATE_VIEW,
    ST_CREATE_VIEW_USING,
    ST_DROP_VIEW,
    ST_SHOW_TABLES,
    ST_EXPLAIN,
    ST_DESCRIBE
};
typedef struct {
    int kind, pos;
    int replace, if_exists;
    char *name;
    ast_query *query;
    int query_pos, query_end; /* the AS SELECT text, kept as the view's definition */
    char *format;
    char **opt_keys, **opt_vals;
    int nopts;
} ast_stmt;

/* Parses exactly one statement (a trailing ';' is allowed). */
SQL_HIDDEN tbml_status sql_parse(sql_arena *a, const char *src, ast_stmt **out);
/* Parses a comma-separated list of select items ("name, age + 1 AS a"), for the DataFrame API. */
SQL_HIDDEN tbml_status sql_parse_items(sql_arena *a, const char *src, ast_item **out, int *n);
SQL_HIDDEN tbml_status sql_parse_expr(sql_arena *a, const char *src, ast_expr **out);
/* Spark's display name of an unaliased expression, e.g. "(age + 1)", "count(1)". */
SQL_HIDDEN char *sql_ast_name(sql_arena *a, const ast_expr *e);
SQL_HIDDEN const char *sql_type_sql_name(tbml_type t); /* "BIGINT", "STRING", ... */

/* ---- bound expressions (planner.c builds, expr.c evaluates) ---- */
typedef struct {
    tbml_type type;
    int isnull;
    int64_t i; /* BOOL, INT64, DATE, TIMESTAMP */
    double f;
    const char *s;
    size_t n;
} sql_value;

typedef enum {
    E_COL,
    E_LIT,
    E_NEG,
    E_NOT,
    E_ARITH,
    E_CMP,
    E_AND,
    E_OR,
    E_ISNULL,
    E_ISNOTNULL,
    E_LIKE,
    E_INLIST,
    E_INSET,
    E_CASE,
    E_CAST,
    E_COALESCE,
    E_FN
} ex_kind;

enum {
    FN_LOWER,
    FN_UPPER,
    FN_LENGTH,
    FN_SUBSTR,
    FN_TRIM,
    FN_LTRIM,
    FN_RTRIM,
    FN_CONCAT,
    FN_SPLIT,
    FN_SPLIT_AT,
    FN_SPLIT_SIZE,
    FN_YEAR,
    FN_MONTH,
    FN_DAY,
    FN_TO_DATE,
    FN_ABS,
    FN_ROUND,
    FN_FLOOR,
    FN_CEIL,
    FN_SQRT,
    FN_NULLIF,
    FN_REPLACE,
    FN_INSTR,
    FN_SIGN
};

typedef struct sql_vset sql_vset;
typedef struct sql_expr {
    ex_kind kind;
    tbml_type type;
    int op;  /* E_ARITH, E_CMP, E_FN */
    int col; /* E_COL */
    sql_value lit;
    struct sql_expr **args;
    int nargs;
    int has_operand, has_else; /* E_CASE */
    int negated;               /* E_LIKE, E_INLIST, E_INSET */
    sql_vset *set;             /* E_INSET: values of the subquery (owned by the statement) */
    int set_has_null;
    void *re; /* compiled regex for split (regex_t *), owned by the statement */
} sql_expr;

/* Evaluates e over every row of b. *out is either a column of b (borrowed) or tmp, which the
 * caller clears when *out == tmp. */
SQL_HIDDEN tbml_status sql_eval(const sql_expr *e, const tbml_batch *b, tbml_column *tmp,
                                const tbml_column **out);
/* Evaluates a predicate and returns the selected row indexes (true, not NULL). */
SQL_HIDDEN tbml_status sql_eval_select(const sql_expr *e, const tbml_batch *b, int64_t **sel,
                                       int64_t *nsel);
SQL_HIDDEN void sql_value_get(const tbml_column *c, int64_t row, sql_value *v);
SQL_HIDDEN void sql_column_append_value(tbml_column *c, const sql_value *v);
/* Total order used by ORDER BY, MIN and MAX: NULL handled by the caller. */
SQL_HIDDEN int sql_value_cmp(const sql_value *a, const sql_value *b);
SQL_HIDDEN uint64_t sql_value_hash(const sql_value *v);
SQL_HIDDEN int sql_value_eq(const sql_value *a, const sql_value *b);
/* Casts v to type t (Spark's non-ANSI rules: bad strings become NULL). Strings made by the cast
 * live in *buf (tbml_free it). */
SQL_HIDDEN void sql_value_cast(const sql_value *v, tbml_type t, sql_value *out, char **buf);
/* Formats v as CAST(v AS STRING) does; returns a tbml_malloc'd string. */
/* (long) d as Java casts it: truncation, saturating at the ends, NaN as 0. */
SQL_HIDDEN int64_t sql_double_to_long(double d);
SQL_HIDDEN char *sql_value_to_string(const sql_value *v, size_t *n);
SQL_HIDDEN int sql_parse_date(const char *s, size_t n, int64_t *days);
SQL_HIDDEN int sql_parse_timestamp(const char *s, size_t n, int64_t *us);
SQL_HIDDEN void sql_civil_from_days(int64_t days, int *y, int *m, int *d);
SQL_HIDDEN int sql_like(const char *s, size_t n, const char *p, size_t pn, char esc);

/* value sets: IN (subquery), count(DISTINCT) */
SQL_HIDDEN sql_vset *sql_vset_new(void);
SQL_HIDDEN int sql_vset_add(sql_vset *s, const sql_value *v); /* 1 if new */
SQL_HIDDEN int sql_vset_has(const sql_vset *s, const sql_value *v);
SQL_HIDDEN int64_t sql_vset_count(const sql_vset *s);
SQL_HIDDEN void sql_vset_foreach(const sql_vset *s, void (*fn)(void *ctx, const sql_value *v),
                                 void *ctx);
SQL_HIDDEN void sql_vset_free(sql_vset *s);

/* row hashing of key columns (exchange partitioning, joins, aggregation) */
SQL_HIDDEN void sql_hash_columns(const tbml_column *const *cols, int ncols, int64_t nrows,
                                 uint64_t *out);

/* The partition of each row as Spark's HashPartitioning gives it: pmod(murmur3(keys, 42), n). */
SQL_HIDDEN void sql_spark_partition(const tbml_column *const *cols, int ncols, int64_t nrows,
                                    int nparts, int *out);

/* ---- batch helpers (batch.c) ---- */
typedef struct {
    tbml_batch **b;
    int64_t n, cap;
} sql_blist;
SQL_HIDDEN void sql_blist_push(sql_blist *l, tbml_batch *b);
SQL_HIDDEN void sql_blist_clear(sql_blist *l); /* frees the batches */
SQL_HIDDEN int64_t sql_blist_rows(const sql_blist *l);
/* Rows idx[0..n) of src (idx -1 = NULL row) as a new column. */
SQL_HIDDEN void sql_column_take(tbml_column *dst, const tbml_column *src, const int64_t *idx,
                                int64_t n);
SQL_HIDDEN void sql_column_copy(tbml_column *dst, const tbml_column *src, int64_t n);
SQL_HIDDEN tbml_batch *sql_batch_take(const tbml_batch *src, const int64_t *idx, int64_t n);
SQL_HIDDEN tbml_batch *sql_batch_copy(const tbml_batch *src);
/* One batch holding all rows of the list (schema given for an empty list). */
SQL_HIDDEN tbml_batch *sql_batch_concat(const tbml_schema *schema, tbml_batch *const *bs,
                                        int64_t n);
/* A batch whose columns are moved from cols (which are left empty). */
SQL_HIDDEN tbml_batch *sql_batch_from_columns(const tbml_schema *schema, tbml_column *cols,
                                              int64_t nrows);
SQL_HIDDEN int64_t sql_batch_size(const tbml_batch *b); /* bytes, for progress and estimates */

/* ---- plans (planner.c) and their execution (exec.c and the op_*.c operators) ---- */
typedef enum {
    P_SCAN,
    P_VALUES,
    P_FILTER,
    P_PROJECT,
    P_AGG,
    P_JOIN,
    P_SORT,
    P_LIMIT,
    P_UNION,
    P_EXCHANGE
} plan_kind;

enum { AGG_COUNT_STAR, AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX, AGG_STDDEV };
enum { AGG_PARTIAL, AGG_FINAL, AGG_SINGLE };
enum { EXCH_HASH, EXCH_RANGE, EXCH_BROADCAST, EXCH_GATHER };

typedef struct {
    int fn, distinct;
    int arg; /* input column, -1 for count(*) */
    tbml_type in_type, out_type;
} sql_agg;

typedef struct sql_plan sql_plan;
struct sql_plan {
    plan_kind kind;
    tbml_schema schema; /* output */
    sql_plan *child[2];
    int nchild;
    double est_rows;
    int id;
    /* P_SCAN: the table (borrowed from the session), used columns (others become placeholders) */
    const tbml_table *table;
    const char *table_name;
    uint8_t *used;
    /* P_FILTER */
    sql_expr *pred;
    /* P_PROJECT */
    sql_expr **exprs;
    int nexprs;
    /* P_AGG: the first nkeys input columns are the group keys */
    int nkeys, mode;
    sql_agg *aggs;
    int naggs;
    /* P_JOIN: key expressions over each side, residual over the joined row (left ++ right) */
    int join_type, njkeys, broadcast, build_side;
    sql_expr **lkeys, **rkeys;
    sql_expr *residual;
    /* P_SORT: key columns; limit >= 0 makes it a top-N */
    int nsort;
    int *sort_cols, *sort_desc, *sort_nulls_first;
    int64_t limit; /* P_SORT, P_LIMIT */
    /* P_EXCHANGE: hash keys (exprs over the input) or range keys (sort_* above) */
    int exch;
    sql_expr **hkeys;
    int nhkeys;
    /* runtime state, made and freed by exec.c */
    struct sql_rt *rt;
};

typedef struct sql_view sql_view;
/* The statement context while planning and running. */
typedef struct {
    tbml_session_t *s;
    sql_arena *a;
    const char *src; /* for error positions */
    int next_id;
    int depth; /* view nesting, to stop recursive views */
    /* things the statement's expressions own, freed with the statement */
    void **regexes;
    int nregexes, capregexes;
    sql_vset **sets;
    int nsets, capsets;
    struct sql_plan **plans; /* every plan node made, for their schemas */
    int nplans, capplans;
} sql_ctx;
SQL_HIDDEN void sql_ctx_keep_regex(sql_ctx *cx, void *re);
SQL_HIDDEN void sql_ctx_keep_set(sql_ctx *cx, sql_vset *set);
SQL_HIDDEN void sql_ctx_release(sql_ctx *cx); /* frees what the statement kept, and the arena */

SQL_HIDDEN tbml_status sql_plan_query(sql_ctx *cx, const ast_query *q, sql_plan **out);
SQL_HIDDEN void sql_plan_explain(const sql_plan *p, char **out);

/* Runs a plan to completion; the result holds its rows in partition order. */
SQL_HIDDEN tbml_status sql_exec(sql_ctx *cx, sql_plan *p, tbml_table **out);

/* ---- session internals used by the planner (session.c) ---- */
struct sql_view {
    char *name;
    tbml_table *table; /* data, or NULL for a query view */
    char *sql;         /* the query text of a query view */
};
SQL_HIDDEN sql_view *sql_session_find_view(tbml_session_t *s, const char *name);
SQL_HIDDEN char *sql_session_view_names(tbml_session_t *s); /* tbml_malloc'd "a, b" */
SQL_HIDDEN tbml_pool_t *sql_session_pool(tbml_session_t *s);
SQL_HIDDEN int sql_session_partitions(tbml_session_t *s);
SQL_HIDDEN int64_t sql_session_broadcast_threshold(tbml_session_t *s);
SQL_HIDDEN int sql_session_serialize(tbml_session_t *s);
/* Bytes one task of a hash aggregate, sort or join build may hold before it spills (op_agg.c,
 * op_sort.c, op_join.c); 0 = no limit. */
SQL_HIDDEN int64_t sql_session_agg_memory(tbml_session_t *s);
SQL_HIDDEN void sql_session_note_spill(tbml_session_t *s, int64_t files, int64_t bytes);
/* The session's exchange backend (exchange.h): the local one unless the distributed runtime
 * installed another. */
SQL_HIDDEN const void *sql_session_exchange(tbml_session_t *s);
SQL_HIDDEN void sql_session_set_exchange(tbml_session_t *s, const void *backend);
/* The communicator of a distributed run (tbml_session_set_comm); NULL: one process. */
SQL_HIDDEN tbml_comm_t *sql_session_comm(tbml_session_t *s);
SQL_HIDDEN void sql_session_progress(tbml_session_t *s, int stage, int nstages, int64_t rows,
                                     int64_t bytes, int done);

#endif
