/* Differential test: the same seeded tables (NULLs, duplicates, skew, edge values) in tbml and
 * in SQLite, and hundreds of queries (a hand-written list covering every SQL feature, and
 * queries generated from templates) that must agree. Rows are compared as a multiset unless the
 * query orders them, numbers with a relative tolerance. Each query runs under three engine
 * configurations: one partition; Spark's default 200 partitions on four threads with broadcast
 * joins; five partitions with broadcast joins off and every exchanged batch serialised. The first
 * and the last have a per-task memory budget of one byte, so every aggregate past 16 groups, every
 * ORDER BY without LIMIT past 16 rows and every shuffled join whose build side passes 16 rows
 * spills to sealed files (the second keeps the in-memory path): sorts merge their runs, joins go
 * through the grace hash partitions, and joins on t1.a (skewed: nearly half its rows hold 0 or 1)
 * through the chunked join of partitions that do not split.
 *
 * Known dialect differences, handled by writing the query in each dialect:
 *   - `/` on integers: Spark gives a double, SQLite an integer: SQLite gets CAST(x AS REAL) / y;
 *   - booleans: SQLite stores 0/1; tbml's booleans are compared as 0/1;
 *   - LIKE: SQLite's is case-insensitive by default: PRAGMA case_sensitive_like = ON;
 *   - dates: SQLite holds 'YYYY-MM-DD' text; year/month/to_date become strftime/date;
 *   - concat(a, b) is a || b; LEFT SEMI/ANTI JOIN become [NOT] EXISTS;
 *   - stddev and split(s, d)[i] are added to SQLite as functions (sample stddev, NULL below two
 *     values as Spark 3; split on a literal delimiter);
 *   - `%` is used on integers only (SQLite's % truncates doubles to integers). */
#include "check.h"
#include "tbml/show.h"
#include "tbml/sql.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>

/* ---- seeded generator ---- */
static uint64_t g_rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
static int rint_(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}
static int chance(int pct)
{
    return (int)(rnd() % 100) < pct;
}
static const char *pick(const char *const *v, int n)
{
    return v[rnd() % (uint64_t)n];
}

static const char *g_words[] = {"apple", "Apple", "banana", "cherry",    "",      "a%b",
                                "x_y",   " pad ", "zeta",   "apple pie", "Banana"};
static const char *g_lists[] = {"a,b", "x,,y", "", "one", "p,q,r,s", ",lead", "trail,"};
static const char *g_names[] = {"red", "green", "blue", "red", "black", "white"};

/* ---- one table in both engines ---- */
typedef struct {
    const char *name;
    tbml_schema schema;
    tbml_table *t;
} gtable;

static sqlite3 *g_db;

static void col_value_sql(const tbml_column *c, int64_t r, sqlite3_stmt *ins, int k)
{
    if (tbml_column_is_null(c, r)) {
        sqlite3_bind_null(ins, k);
        return;
    }
    switch (c->type) {
    case TBML_TYPE_BOOL:
        sqlite3_bind_int64(ins, k, c->u8[r]);
        break;
    case TBML_TYPE_INT64:
        sqlite3_bind_int64(ins, k, c->i64[r]);
        break;
    case TBML_TYPE_DOUBLE:
        sqlite3_bind_double(ins, k, c->f64[r]);
        break;
    case TBML_TYPE_DATE: {
        char buf[TBML_FORMAT_MAX];
        size_t n = tbml_format_date(c->i64[r], buf);
        sqlite3_bind_text(ins, k, buf, (int)n, SQLITE_TRANSIENT);
        break;
    }
    case TBML_TYPE_STRING: {
        size_t n;
        const char *s = tbml_column_str(c, r, &n);
        sqlite3_bind_text(ins, k, s, (int)n, SQLITE_TRANSIENT);
        break;
    }
    default:
        sqlite3_bind_null(ins, k);
    }
}

static void load_sqlite(const char *name, const tbml_table *t)
{
    char sql[1024];
    int o = snprintf(sql, sizeof(sql), "CREATE TABLE %s (", name);
    for (int i = 0; i < t->schema.nfields; i++) {
        tbml_type ty = t->schema.fields[i].type;
        o += snprintf(sql + o, sizeof(sql) - (size_t)o, "%s%s %s", i ? ", " : "",
                      t->schema.fields[i].name,
                      ty == TBML_TYPE_DOUBLE                           ? "REAL"
                      : ty == TBML_TYPE_STRING || ty == TBML_TYPE_DATE ? "TEXT"
                                                                       : "INTEGER");
    }
    snprintf(sql + o, sizeof(sql) - (size_t)o, ")");
    if (sqlite3_exec(g_db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(g_db));
        exit(2);
    }
    o = snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (", name);
    for (int i = 0; i < t->schema.nfields; i++)
        o += snprintf(sql + o, sizeof(sql) - (size_t)o, "%s?", i ? "," : "");
    snprintf(sql + o, sizeof(sql) - (size_t)o, ")");
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(g_db, sql, -1, &ins, NULL);
    sqlite3_exec(g_db, "BEGIN", NULL, NULL, NULL);
    for (int64_t b = 0; b < t->nbatches; b++)
        for (int64_t r = 0; r < t->batches[b]->nrows; r++) {
            for (int i = 0; i < t->schema.nfields; i++)
                col_value_sql(&t->batches[b]->cols[i], r, ins, i + 1);
            sqlite3_step(ins);
            sqlite3_reset(ins);
        }
    sqlite3_exec(g_db, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(ins);
}

/* Builds a table row by row: fill() appends one row to the batch's columns. */
static tbml_table *make_table(const tbml_schema *s, int nrows, int batch_rows,
                              void (*fill)(tbml_batch *, int))
{
    tbml_table *t = tbml_table_new(s);
    tbml_batch *b = NULL;
    for (int r = 0; r < nrows; r++) {
        if (!b) b = tbml_batch_new(s, batch_rows);
        fill(b, r);
        if ((r + 1) % batch_rows == 0) {
            tbml_batch_seal(b);
            tbml_table_append(t, b);
            b = NULL;
        }
    }
    if (b) {
        tbml_batch_seal(b);
        tbml_table_append(t, b);
    }
    return t;
}

static void fill_t1(tbml_batch *b, int r)
{
    tbml_column *c = b->cols;
    tbml_column_append_i64(&c[0], r + 1); /* id */
    if (chance(15)) {
        tbml_column_append_null(&c[1]);
    } else if (chance(45)) {
        tbml_column_append_i64(&c[1], rint_(0, 1)); /* skew */
    } else if (chance(80)) {
        tbml_column_append_i64(&c[1], rint_(-50, 60));
    } else {
        static const int64_t edge[] = {-1000000000, 1000000000, 7, -7, 2147483647, 0};
        tbml_column_append_i64(&c[1], edge[rnd() % 6]);
    }
    if (chance(15))
        tbml_column_append_null(&c[2]);
    else if (chance(10))
        tbml_column_append_f64(&c[2], chance(50) ? 0.5 : 1e6);
    else
        tbml_column_append_f64(&c[2], rint_(-400, 400) * 0.25);
    if (chance(10)) {
        tbml_column_append_null(&c[3]);
    } else {
        const char *w = pick(g_words, 11);
        tbml_column_append_str(&c[3], w, strlen(w));
    }
    if (chance(10))
        tbml_column_append_null(&c[4]);
    else
        tbml_column_append_i64(&c[4], tbml_days_from_civil(1999, 12, 25) + rint_(0, 430));
    if (chance(10))
        tbml_column_append_null(&c[5]);
    else
        tbml_column_append_bool(&c[5], chance(50));
    if (chance(10)) {
        tbml_column_append_null(&c[6]);
    } else {
        const char *w = pick(g_lists, 7);
        tbml_column_append_str(&c[6], w, strlen(w));
    }
}

static void fill_t2(tbml_batch *b, int r)
{
    tbml_column *c = b->cols;
    tbml_column_append_i64(&c[0], r + 1);
    if (chance(10))
        tbml_column_append_null(&c[1]);
    else
        tbml_column_append_i64(&c[1], rint_(-10, 60));
    if (chance(10)) {
        tbml_column_append_null(&c[2]);
    } else {
        const char *w = pick(g_names, 6);
        tbml_column_append_str(&c[2], w, strlen(w));
    }
    if (chance(10))
        tbml_column_append_null(&c[3]);
    else
        tbml_column_append_f64(&c[3], rint_(-100, 100) * 0.5);
}

static void fill_t3(tbml_batch *b, int r)
{
    tbml_column_append_i64(&b->cols[0], r);
    const char *w = pick(g_names, 6);
    tbml_column_append_str(&b->cols[1], w, strlen(w));
    tbml_column_append_i64(&b->cols[2], r);
}

/* ---- SQLite functions Spark has ---- */
typedef struct {
    int64_t n;
    double mean, m2;
} sd_state;

static void sd_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sd_state *s = sqlite3_aggregate_context(ctx, sizeof(*s));
    if (!s || sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
    double x = sqlite3_value_double(argv[0]);
    s->n++;
    double d = x - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (x - s->mean);
}

static void sd_final(sqlite3_context *ctx)
{
    sd_state *s = sqlite3_aggregate_context(ctx, 0);
    if (!s || s->n < 2)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_double(ctx, sqrt(s->m2 / (double)(s->n - 1)));
}

static void split_at(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    const char *d = (const char *)sqlite3_value_text(argv[1]);
    int64_t idx = sqlite3_value_int64(argv[2]);
    size_t dl = strlen(d);
    for (int64_t i = 0;; i++) {
        const char *e = strstr(s, d);
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (i == idx) {
            sqlite3_result_text(ctx, s, (int)n, SQLITE_TRANSIENT);
            return;
        }
        if (!e) break;
        s = e + dl;
    }
    sqlite3_result_null(ctx);
}

/* ---- running and comparing ---- */
typedef struct {
    int kind; /* 0 null, 1 number, 2 text */
    double num;
    char *text;
} cell;

typedef struct {
    int ncols;
    int64_t nrows;
    cell *cells;
    char **keys; /* per row, for sorting */
} rows;

static void rows_free(rows *r)
{
    for (int64_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cells[i].text);
    for (int64_t i = 0; i < r->nrows; i++)
        free(r->keys[i]);
    free(r->cells);
    free(r->keys);
    memset(r, 0, sizeof(*r));
}

static char *cell_key(const cell *c)
{
    char buf[128];
    if (c->kind == 0) return strdup("\x01NULL");
    if (c->kind == 1) {
        snprintf(buf, sizeof(buf), "%.6g", c->num == 0 ? 0.0 : c->num);
        return strdup(buf);
    }
    return strdup(c->text);
}

static void make_keys(rows *r)
{
    r->keys = calloc((size_t)r->nrows + 1, sizeof(char *));
    for (int64_t i = 0; i < r->nrows; i++) {
        size_t cap = 64, n = 0;
        char *k = malloc(cap);
        k[0] = '\0';
        for (int c = 0; c < r->ncols; c++) {
            char *ck = cell_key(&r->cells[i * r->ncols + c]);
            size_t l = strlen(ck);
            if (n + l + 2 > cap) {
                cap = (n + l + 2) * 2;
                k = realloc(k, cap);
            }
            memcpy(k + n, ck, l);
            n += l;
            k[n++] = '\x02';
            k[n] = '\0';
            free(ck);
        }
        r->keys[i] = k;
    }
}

static int g_sort_ncols;
static int cmp_rowkey(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static void sort_rows(rows *r)
{
    /* sort a permutation by key, then reorder cells */
    int64_t n = r->nrows;
    typedef struct {
        char *key;
        int64_t idx;
    } kv;
    kv *v = malloc((size_t)(n + 1) * sizeof(kv));
    for (int64_t i = 0; i < n; i++) {
        v[i].key = r->keys[i];
        v[i].idx = i;
    }
    qsort(v, (size_t)n, sizeof(kv), cmp_rowkey);
    cell *nc = malloc((size_t)(n * r->ncols + 1) * sizeof(cell));
    for (int64_t i = 0; i < n; i++) {
        memcpy(&nc[i * r->ncols], &r->cells[v[i].idx * r->ncols], (size_t)r->ncols * sizeof(cell));
        r->keys[i] = v[i].key;
    }
    free(r->cells);
    r->cells = nc;
    free(v);
    (void)g_sort_ncols;
}

static int run_sqlite(const char *sql, rows *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(g_db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite prepare failed: %s\n  %s\n", sqlite3_errmsg(g_db), sql);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->ncols = sqlite3_column_count(st);
    int64_t cap = 64;
    out->cells = calloc((size_t)(cap * out->ncols + 1), sizeof(cell));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->nrows == cap) {
            cap *= 2;
            out->cells = realloc(out->cells, (size_t)(cap * out->ncols + 1) * sizeof(cell));
        }
        for (int c = 0; c < out->ncols; c++) {
            cell *x = &out->cells[out->nrows * out->ncols + c];
            memset(x, 0, sizeof(*x));
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_NULL:
                x->kind = 0;
                break;
            case SQLITE_INTEGER:
            case SQLITE_FLOAT:
                x->kind = 1;
                x->num = sqlite3_column_double(st, c);
                break;
            default:
                x->kind = 2;
                x->text = strdup((const char *)sqlite3_column_text(st, c));
                break;
            }
        }
        out->nrows++;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "sqlite step failed: %s\n  %s\n", sqlite3_errmsg(g_db), sql);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    make_keys(out);
    return 0;
}

static int run_tbml(tbml_session_t *s, const char *sql, rows *out)
{
    tbml_df_t *df;
    tbml_table *t;
    tbml_status st = tbml_sql(s, sql, &df);
    if (st) {
        fprintf(stderr, "tbml failed: %s\n  %s\n", tbml_errmsg(), sql);
        return -1;
    }
    st = tbml_df_collect(df, &t);
    tbml_df_free(df);
    if (st) {
        fprintf(stderr, "tbml run failed: %s\n  %s\n", tbml_errmsg(), sql);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->ncols = t->schema.nfields;
    out->nrows = tbml_table_nrows(t);
    out->cells = calloc((size_t)(out->nrows * out->ncols + 1), sizeof(cell));
    int64_t r = 0;
    for (int64_t b = 0; b < t->nbatches; b++) {
        tbml_batch *bt = t->batches[b];
        for (int64_t i = 0; i < bt->nrows; i++, r++)
            for (int c = 0; c < out->ncols; c++) {
                cell *x = &out->cells[r * out->ncols + c];
                const tbml_column *col = &bt->cols[c];
                if (col->type == TBML_TYPE_NULL || tbml_column_is_null(col, i)) continue;
                switch (col->type) {
                case TBML_TYPE_BOOL:
                    x->kind = 1;
                    x->num = col->u8[i];
                    break;
                case TBML_TYPE_INT64:
                    x->kind = 1;
                    x->num = (double)col->i64[i];
                    break;
                case TBML_TYPE_DOUBLE:
                    x->kind = 1;
                    x->num = col->f64[i];
                    break;
                default: {
                    char *buf = NULL;
                    size_t len = 0, cap = 0;
                    tbml_format_cell(col, i, &buf, &len, &cap);
                    x->kind = 2;
                    x->text = strndup(buf, len);
                    tbml_free(buf);
                }
                }
            }
    }
    tbml_table_free(t);
    make_keys(out);
    return 0;
}

static int cell_eq(const cell *a, const cell *b)
{
    if (a->kind != b->kind) return 0;
    if (a->kind == 0) return 1;
    if (a->kind == 2) return strcmp(a->text, b->text) == 0;
    if (isnan(a->num) || isnan(b->num)) return isnan(a->num) && isnan(b->num);
    double d = fabs(a->num - b->num), m = fmax(fabs(a->num), fabs(b->num));
    return d <= 1e-9 || d <= 1e-9 * m;
}

static void print_cell(const cell *c)
{
    if (c->kind == 0)
        fprintf(stderr, "NULL");
    else if (c->kind == 1)
        fprintf(stderr, "%.17g", c->num);
    else
        fprintf(stderr, "'%s'", c->text);
}

static int g_queries, g_failed;

/* Compares tbml (under each configuration) with SQLite. */
static tbml_session_t *g_sessions[3];
static const char *g_config_names[3] = {"1 partition",
                                        "200 partitions (default), 4 threads, broadcast",
                                        "5 partitions, shuffle, serialised"};

static void diff(const char *tq, const char *sq, int ordered)
{
    if (!sq) sq = tq;
    g_queries++;
    rows want;
    if (run_sqlite(sq, &want)) {
        g_failed++;
        g_check_fail++;
        return;
    }
    if (!ordered) sort_rows(&want);
    for (int k = 0; k < 3; k++) {
        rows got;
        if (run_tbml(g_sessions[k], tq, &got)) {
            g_failed++;
            g_check_fail++;
            continue;
        }
        if (!ordered) sort_rows(&got);
        int ok = got.ncols == want.ncols && got.nrows == want.nrows;
        int64_t bad = -1;
        for (int64_t i = 0; ok && i < got.nrows; i++)
            for (int c = 0; c < got.ncols; c++)
                if (!cell_eq(&got.cells[i * got.ncols + c], &want.cells[i * want.ncols + c])) {
                    ok = 0;
                    bad = i;
                    break;
                }
        if (ok) {
            g_check_pass++;
        } else {
            g_check_fail++;
            g_failed++;
            fprintf(stderr,
                    "MISMATCH (%s)\n  tbml:   %s\n  sqlite: %s\n  rows %lld/%lld cols %d/%d\n",
                    g_config_names[k], tq, sq, (long long)got.nrows, (long long)want.nrows,
                    got.ncols, want.ncols);
            if (bad >= 0) {
                fprintf(stderr, "  first difference at row %lld: tbml (", (long long)bad);
                for (int c = 0; c < got.ncols; c++) {
                    if (c) fprintf(stderr, ", ");
                    print_cell(&got.cells[bad * got.ncols + c]);
                }
                fprintf(stderr, ") sqlite (");
                for (int c = 0; c < want.ncols; c++) {
                    if (c) fprintf(stderr, ", ");
                    print_cell(&want.cells[bad * want.ncols + c]);
                }
                fprintf(stderr, ")\n");
            }
        }
        rows_free(&got);
    }
    rows_free(&want);
}

/* ---- the hand-written list: every feature at least once ---- */
typedef struct {
    const char *tbml, *sqlite;
    int ordered;
} hq;

static const hq g_hand[] = {
    {"SELECT * FROM t1", "SELECT id, a, b, s, d, flag, c FROM t1", 0},
    {"SELECT id, a + 1, a - b, a * 2, b * b, -a, a % 7 FROM t1", NULL, 0},
    {"SELECT id, a / 4, b / 2, a / 0, b / 0, a % 0 FROM t1",
     "SELECT id, CAST(a AS REAL) / 4, b / 2, CAST(a AS REAL) / 0, b / 0, a % 0 FROM t1", 0},
    {"SELECT id, a AS x, b y FROM t1 WHERE a > 10", NULL, 0},
    {"SELECT id FROM t1 WHERE a BETWEEN -5 AND 5", NULL, 0},
    {"SELECT id FROM t1 WHERE a NOT BETWEEN -5 AND 5", NULL, 0},
    {"SELECT id FROM t1 WHERE s LIKE 'a%'", NULL, 0},
    {"SELECT id FROM t1 WHERE s LIKE '%an%' OR s NOT LIKE '_pple'", NULL, 0},
    {"SELECT id FROM t1 WHERE s LIKE 'a\\%b'", "SELECT id FROM t1 WHERE s LIKE 'a\\%b' ESCAPE '\\'",
     0},
    {"SELECT id, s FROM t1 WHERE s IN ('apple', 'zeta', NULL)", NULL, 0},
    {"SELECT id FROM t1 WHERE a NOT IN (0, 1, NULL)", NULL, 0},
    {"SELECT id FROM t1 WHERE a NOT IN (0, 1)", NULL, 0},
    {"SELECT id FROM t1 WHERE a IS NULL", NULL, 0},
    {"SELECT id FROM t1 WHERE s IS NOT NULL AND b IS NULL", NULL, 0},
    {"SELECT id, COALESCE(a, 0), COALESCE(a, b), COALESCE(s, 'none') FROM t1", NULL, 0},
    {"SELECT id, CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero or null' END FROM t1",
     NULL, 0},
    {"SELECT id, CASE a WHEN 0 THEN 'zero' WHEN 1 THEN 'one' END FROM t1", NULL, 0},
    {"SELECT id, CASE WHEN flag THEN b ELSE a END FROM t1", NULL, 0},
    {"SELECT id, CAST(a AS DOUBLE), CAST(b AS BIGINT), CAST(a AS STRING), CAST(flag AS INT) FROM "
     "t1",
     "SELECT id, CAST(a AS REAL), CAST(b AS INTEGER), CAST(a AS TEXT), flag FROM t1", 0},
    {"SELECT id, lower(s), upper(s), length(s), trim(s), ltrim(s), rtrim(s) FROM t1", NULL, 0},
    {"SELECT id, substring(s, 2, 3), substr(s, 1), substring(s, 3) FROM t1",
     "SELECT id, substr(s, 2, 3), substr(s, 1), substr(s, 3) FROM t1", 0},
    {"SELECT id, concat(s, '-', c), s || '!' FROM t1", "SELECT id, s || '-' || c, s || '!' FROM t1",
     0},
    {"SELECT id, split(c, ',')[0], split(c, ',')[1], split(c, ',')[3] FROM t1",
     "SELECT id, split_at(c, ',', 0), split_at(c, ',', 1), split_at(c, ',', 3) FROM t1", 0},
    {"SELECT id, year(d), month(d), d FROM t1",
     "SELECT id, CAST(strftime('%Y', d) AS INTEGER), CAST(strftime('%m', d) AS INTEGER), d FROM t1",
     0},
    {"SELECT id FROM t1 WHERE d >= DATE '2000-06-01' AND d < to_date('2000-09-15')",
     "SELECT id FROM t1 WHERE d >= '2000-06-01' AND d < date('2000-09-15')", 0},
    {"SELECT id, to_date('2001-02-03'), year(to_date('2001-02-03')) FROM t3",
     "SELECT id, '2001-02-03', 2001 FROM t3", 0},
    {"SELECT id FROM t1 WHERE flag", "SELECT id FROM t1 WHERE flag", 0},
    {"SELECT id FROM t1 WHERE NOT flag OR flag IS NULL", NULL, 0},
    {"SELECT id, flag = true, a > b, a = b, s < 'b' FROM t1", NULL, 0},
    {"SELECT count(*), count(a), count(s), count(DISTINCT a), count(DISTINCT s), sum(a), avg(a), "
     "min(a), max(a), sum(b), avg(b), min(s), max(s), stddev(b), min(d), max(d) FROM t1",
     NULL, 0},
    {"SELECT count(*), sum(k), avg(w), min(v), max(v), stddev(w), count(DISTINCT v) FROM t0", NULL,
     0},
    {"SELECT a, count(*) FROM t1 GROUP BY a", NULL, 0},
    {"SELECT s, count(*), sum(b), avg(b), min(a), max(a), stddev(a), count(DISTINCT a) FROM t1 "
     "GROUP BY s",
     NULL, 0},
    {"SELECT flag, a % 3, count(*) FROM t1 GROUP BY flag, a % 3", NULL, 0},
    {"SELECT a % 3 AS m, count(*) FROM t1 GROUP BY m",
     "SELECT a % 3 AS m, count(*) FROM t1 GROUP BY a % 3", 0},
    {"SELECT a % 3, count(*) FROM t1 GROUP BY 1", NULL, 0},
    {"SELECT s, count(*) FROM t1 GROUP BY s HAVING count(*) > 40", NULL, 0},
    {"SELECT s, sum(a) FROM t1 GROUP BY s HAVING sum(a) > 0 AND min(b) < 0", NULL, 0},
    {"SELECT count(*) FROM t1 HAVING count(*) > 5", NULL, 0},
    {"SELECT sum(a) + count(*), max(b) - min(b), avg(a) * 2 FROM t1", NULL, 0},
    {"SELECT s, sum(DISTINCT a), avg(DISTINCT a), count(DISTINCT flag) FROM t1 GROUP BY s", NULL,
     0},
    {"SELECT year(d), count(*) FROM t1 GROUP BY year(d)",
     "SELECT CAST(strftime('%Y', d) AS INTEGER), count(*) FROM t1 GROUP BY 1", 0},
    {"SELECT DISTINCT s FROM t1", NULL, 0},
    {"SELECT DISTINCT a % 4, flag FROM t1", NULL, 0},
    {"SELECT count(DISTINCT s), count(DISTINCT a) FROM t1 WHERE a > 0", NULL, 0},
    {"SELECT id, a, b FROM t1 ORDER BY a, id", NULL, 1},
    {"SELECT id, a, b FROM t1 ORDER BY a DESC, id", NULL, 1},
    {"SELECT id, a FROM t1 ORDER BY a ASC NULLS LAST, id DESC", NULL, 1},
    {"SELECT id, a FROM t1 ORDER BY a DESC NULLS FIRST, id", NULL, 1},
    {"SELECT id, s FROM t1 ORDER BY s, id LIMIT 17", NULL, 1},
    {"SELECT id, b FROM t1 ORDER BY b DESC, id LIMIT 5", NULL, 1},
    {"SELECT id FROM t1 ORDER BY id LIMIT 0", NULL, 1},
    {"SELECT id, a FROM t1 ORDER BY 2, 1", NULL, 1},
    {"SELECT id, a AS x FROM t1 ORDER BY x DESC, id", NULL, 1},
    {"SELECT id FROM t1 ORDER BY b * -1, id", NULL, 1},
    {"SELECT s, count(*) AS n FROM t1 GROUP BY s ORDER BY n DESC, s", NULL, 1},
    {"SELECT s, count(*) FROM t1 GROUP BY s ORDER BY count(*), s NULLS LAST LIMIT 4", NULL, 1},
    {"SELECT t1.id, t2.id FROM t1 JOIN t2 ON t1.a = t2.k", NULL, 0},
    {"SELECT t1.id, t2.id FROM t1 INNER JOIN t2 ON t1.a = t2.k AND t1.b > t2.w", NULL, 0},
    {"SELECT t1.id, t2.id, t2.v FROM t1 LEFT JOIN t2 ON t1.a = t2.k", NULL, 0},
    {"SELECT t1.id, t2.id FROM t1 LEFT OUTER JOIN t2 ON t1.a = t2.k AND t2.v = 'red'", NULL, 0},
    {"SELECT t1.id, t2.id FROM t1 RIGHT JOIN t2 ON t1.a = t2.k", NULL, 0},
    {"SELECT t1.id, t2.id FROM t1 RIGHT JOIN t2 ON t1.a = t2.k AND t1.flag", NULL, 0},
    {"SELECT t1.id, t2.id FROM t1 FULL OUTER JOIN t2 ON t1.a = t2.k", NULL, 0},
    {"SELECT t1.id, t2.id FROM t1 FULL JOIN t2 ON t1.a = t2.k AND t1.b < t2.w", NULL, 0},
    {"SELECT t1.id, t2.id FROM t1 LEFT JOIN t2 ON t1.a = t2.k WHERE t2.id IS NULL", NULL, 0},
    {"SELECT t1.id, t2.id FROM t1, t2 WHERE t1.a = t2.k AND t2.w > 10", NULL, 0},
    {"SELECT t1.id, t3.name FROM t1 JOIN t3 ON t1.a = t3.k", NULL, 0},
    {"SELECT t1.id, t3.name FROM t1 LEFT JOIN t3 ON t1.a = t3.k AND t3.name <> 'red'", NULL, 0},
    {"SELECT t3.id, count(t1.id) FROM t3 LEFT JOIN t1 ON t1.a = t3.k GROUP BY t3.id", NULL, 0},
    {"SELECT x.id, y.id FROM t3 x JOIN t3 y ON x.name = y.name AND x.id < y.id", NULL, 0},
    {"SELECT t3.id, t2.id FROM t3 CROSS JOIN t2 WHERE t2.id < 5", NULL, 0},
    {"SELECT x.id, y.id FROM t3 x, t3 y WHERE x.k + 1 = y.k", NULL, 0},
    {"SELECT id, name FROM t3 JOIN t2 USING (id)",
     "SELECT t3.id, name FROM t3 JOIN t2 ON t3.id = t2.id", 0},
    {"SELECT id, k FROM t3 FULL JOIN t2 USING (id, k)",
     "SELECT COALESCE(t3.id, t2.id), COALESCE(t3.k, t2.k) FROM t3 FULL JOIN t2 ON t3.id = t2.id "
     "AND t3.k = t2.k",
     0},
    {"SELECT t1.id FROM t1 LEFT SEMI JOIN t2 ON t1.a = t2.k",
     "SELECT t1.id FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t1.a = t2.k)", 0},
    {"SELECT t1.id FROM t1 LEFT ANTI JOIN t2 ON t1.a = t2.k",
     "SELECT t1.id FROM t1 WHERE NOT EXISTS (SELECT 1 FROM t2 WHERE t1.a = t2.k)", 0},
    {"SELECT t1.id FROM t1 LEFT ANTI JOIN t2 ON t1.a = t2.k AND t2.w > 0",
     "SELECT t1.id FROM t1 WHERE NOT EXISTS (SELECT 1 FROM t2 WHERE t1.a = t2.k AND t2.w > 0)", 0},
    {"SELECT t1.id, t2.id, t3.id FROM t1 JOIN t2 ON t1.a = t2.k JOIN t3 ON t2.k = t3.k", NULL, 0},
    {"SELECT t2.v, count(*), sum(t1.b) FROM t1 JOIN t2 ON t1.a = t2.k GROUP BY t2.v", NULL, 0},
    {"SELECT id FROM t1 WHERE a IN (SELECT k FROM t2 WHERE v = 'red')", NULL, 0},
    {"SELECT id FROM t1 WHERE a NOT IN (SELECT k FROM t2)", NULL, 0},
    {"SELECT id FROM t1 WHERE a NOT IN (SELECT k FROM t2 WHERE k IS NOT NULL)", NULL, 0},
    {"SELECT id FROM t1 WHERE a IN (SELECT k FROM t0)", NULL, 0},
    {"SELECT id FROM t1 WHERE a NOT IN (SELECT k FROM t0)", NULL, 0},
    {"SELECT id FROM t3 WHERE EXISTS (SELECT 1 FROM t2 WHERE w > 40)", NULL, 0},
    {"SELECT id FROM t3 WHERE NOT EXISTS (SELECT 1 FROM t0)", NULL, 0},
    {"SELECT id, b FROM t1 WHERE b > (SELECT avg(w) FROM t2)", NULL, 0},
    {"SELECT id, (SELECT max(k) FROM t2) - a FROM t1", NULL, 0},
    {"SELECT (SELECT count(*) FROM t0), (SELECT min(v) FROM t0)", NULL, 0},
    {"SELECT x, count(*) FROM (SELECT a % 4 AS x FROM t1 WHERE b > 0) sub GROUP BY x", NULL, 0},
    {"SELECT sub.s, sub.n FROM (SELECT s, count(*) AS n FROM t1 GROUP BY s) AS sub WHERE sub.n > "
     "30",
     NULL, 0},
    {"SELECT * FROM (SELECT id, a FROM t1 ORDER BY a DESC, id LIMIT 10) t ORDER BY id", NULL, 1},
    {"SELECT a FROM t1 WHERE a > 50 UNION ALL SELECT k FROM t2 WHERE k > 50", NULL, 0},
    {"SELECT a FROM t1 UNION SELECT k FROM t2", NULL, 0},
    {"SELECT s FROM t1 UNION ALL SELECT v FROM t2 UNION ALL SELECT name FROM t3", NULL, 0},
    {"SELECT a, 'x' FROM t1 WHERE id < 10 UNION ALL SELECT w, v FROM t2 WHERE id < 10", NULL, 0},
    {"SELECT id FROM t1 WHERE id < 5 UNION ALL SELECT id FROM t2 WHERE id < 5 ORDER BY 1 DESC",
     NULL, 1},
    {"SELECT 1 + 2, 'abc', 2.5 * 2, NULL, 7 / 2, 7 % 3",
     "SELECT 1 + 2, 'abc', 2.5 * 2, NULL, 3.5, 7 % 3", 0},
    {"SELECT id FROM t1 WHERE a > 5 AND (b < 0 OR s = 'apple') AND NOT (flag AND a < 20)", NULL, 0},
    {"SELECT id, a FROM t1 WHERE a = 2147483647 OR a = -1000000000", NULL, 0},
    {"SELECT id, abs(a), round(b), abs(b) FROM t1", "SELECT id, abs(a), round(b), abs(b) FROM t1",
     0},
    {"SELECT id FROM t1 WHERE s = '' OR s = ' pad '", NULL, 0},
    {"SELECT k, count(*) FROM t2 GROUP BY k HAVING k IS NULL OR k > 55", NULL, 0},
    {"SELECT v, max(w), min(w) FROM t2 WHERE w IS NOT NULL GROUP BY v ORDER BY v NULLS FIRST", NULL,
     1},
    {"SELECT count(*) FROM t1 JOIN t2 ON t1.a = t2.k WHERE t1.flag AND t2.v IN ('red', 'blue')",
     NULL, 0},
    /* the skewed key on the build (right) side, every join kind, NULL keys on both sides */
    {"SELECT t2.id, t1.id FROM t2 JOIN t1 ON t2.k = t1.a", NULL, 0},
    {"SELECT t2.id, t1.id, t1.s FROM t2 LEFT JOIN t1 ON t2.k = t1.a", NULL, 0},
    {"SELECT t2.id, t1.id FROM t2 RIGHT JOIN t1 ON t2.k = t1.a", NULL, 0},
    {"SELECT t2.id, t1.id FROM t2 FULL JOIN t1 ON t2.k = t1.a AND t1.b < t2.w", NULL, 0},
    {"SELECT t2.id FROM t2 LEFT SEMI JOIN t1 ON t2.k = t1.a AND t1.flag",
     "SELECT t2.id FROM t2 WHERE EXISTS (SELECT 1 FROM t1 WHERE t2.k = t1.a AND t1.flag)", 0},
    {"SELECT t2.id FROM t2 LEFT ANTI JOIN t1 ON t2.k = t1.a AND t1.s = 'apple'",
     "SELECT t2.id FROM t2 WHERE NOT EXISTS (SELECT 1 FROM t1 WHERE t2.k = t1.a AND t1.s = "
     "'apple')",
     0},
    {"SELECT x.a, count(*), count(y.id), sum(y.b) FROM t1 x JOIN t1 y ON x.a = y.a GROUP BY x.a",
     NULL, 0},
    {"SELECT x.id, y.id FROM t1 x FULL JOIN t1 y ON x.a = y.a AND x.s = y.s AND x.id < y.id "
     "WHERE x.a > 1 OR y.a > 1 OR x.a IS NULL",
     NULL, 0},
    {"SELECT count(*), count(x.id), count(y.id) FROM t1 x LEFT JOIN t1 y ON x.a = y.a AND x.flag",
     NULL, 0},
    {"SELECT t1.id, t2.id FROM t1 JOIN t2 ON t1.s = t2.v OR t1.c = t2.v", NULL, 0},
    /* full sorts on string, double and date keys, ties broken by id */
    {"SELECT id, s, a FROM t1 ORDER BY s DESC NULLS LAST, a, id", NULL, 1},
    {"SELECT id, b, d FROM t1 ORDER BY d NULLS LAST, b DESC, id", NULL, 1},
    {"SELECT t1.id, t2.v FROM t1 LEFT JOIN t2 ON t1.a = t2.k ORDER BY t2.v, t1.id, t2.id", NULL, 1},
};

/* ---- generated queries ---- */
typedef struct {
    char t[1024], s[1024];
} dq;

/* numeric expression over t1 in both dialects */
static void gen_num(dq *o, int depth)
{
    int r = (int)(rnd() % (depth > 0 ? 8 : 4));
    dq a, b;
    switch (r) {
    case 0:
        snprintf(o->t, sizeof(o->t), "a");
        snprintf(o->s, sizeof(o->s), "a");
        break;
    case 1:
        snprintf(o->t, sizeof(o->t), "b");
        snprintf(o->s, sizeof(o->s), "b");
        break;
    case 2:
        snprintf(o->t, sizeof(o->t), "id");
        snprintf(o->s, sizeof(o->s), "id");
        break;
    case 3: {
        int v = rint_(-3, 12);
        snprintf(o->t, sizeof(o->t), "%d", v);
        snprintf(o->s, sizeof(o->s), "%d", v);
        break;
    }
    case 4:
    case 5: {
        static const char *ops[] = {"+", "-", "*"};
        const char *op = ops[rnd() % 3];
        gen_num(&a, depth - 1);
        gen_num(&b, depth - 1);
        snprintf(o->t, sizeof(o->t), "(%s %s %s)", a.t, op, b.t);
        snprintf(o->s, sizeof(o->s), "(%s %s %s)", a.s, op, b.s);
        break;
    }
    case 6:
        gen_num(&a, depth - 1);
        gen_num(&b, depth - 1);
        snprintf(o->t, sizeof(o->t), "(%s / %s)", a.t, b.t);
        snprintf(o->s, sizeof(o->s), "(CAST(%s AS REAL) / %s)", a.s, b.s);
        break;
    default:
        gen_num(&a, depth - 1);
        snprintf(o->t, sizeof(o->t), "COALESCE(%s, a, 0)", a.t);
        snprintf(o->s, sizeof(o->s), "COALESCE(%s, a, 0)", a.s);
        break;
    }
}

static void gen_pred(dq *o, int depth)
{
    int r = (int)(rnd() % (depth > 0 ? 10 : 7));
    dq a, b;
    switch (r) {
    case 0:
    case 1: {
        static const char *ops[] = {"=", "<>", "<", "<=", ">", ">="};
        const char *op = ops[rnd() % 6];
        gen_num(&a, 1);
        gen_num(&b, 0);
        snprintf(o->t, sizeof(o->t), "%s %s %s", a.t, op, b.t);
        snprintf(o->s, sizeof(o->s), "%s %s %s", a.s, op, b.s);
        break;
    }
    case 2: {
        static const char *pats[] = {"a%", "%e", "%an%", "_pple", "", "%", "Ba%"};
        const char *p = pats[rnd() % 7];
        snprintf(o->t, sizeof(o->t), "s %sLIKE '%s'", chance(30) ? "NOT " : "", p);
        snprintf(o->s, sizeof(o->s), "%s", o->t);
        break;
    }
    case 3:
        snprintf(o->t, sizeof(o->t), "%s IS %sNULL",
                 chance(50)   ? "a"
                 : chance(50) ? "s"
                              : "b",
                 chance(50) ? "NOT " : "");
        snprintf(o->s, sizeof(o->s), "%s", o->t);
        break;
    case 4: {
        int lo = rint_(-20, 20);
        snprintf(o->t, sizeof(o->t), "a %sBETWEEN %d AND %d", chance(25) ? "NOT " : "", lo,
                 lo + rint_(0, 30));
        snprintf(o->s, sizeof(o->s), "%s", o->t);
        break;
    }
    case 5:
        snprintf(o->t, sizeof(o->t), "a %sIN (%d, %d, %d%s)", chance(30) ? "NOT " : "",
                 rint_(-2, 3), rint_(0, 9), rint_(-50, 50), chance(20) ? ", NULL" : "");
        snprintf(o->s, sizeof(o->s), "%s", o->t);
        break;
    case 6:
        snprintf(o->t, sizeof(o->t), "%s", chance(50) ? "flag" : "NOT flag");
        snprintf(o->s, sizeof(o->s), "%s", o->t);
        break;
    case 7:
    case 8: {
        const char *op = r == 7 ? "AND" : "OR";
        gen_pred(&a, depth - 1);
        gen_pred(&b, depth - 1);
        snprintf(o->t, sizeof(o->t), "(%s %s %s)", a.t, op, b.t);
        snprintf(o->s, sizeof(o->s), "(%s %s %s)", a.s, op, b.s);
        break;
    }
    default:
        gen_pred(&a, depth - 1);
        snprintf(o->t, sizeof(o->t), "NOT (%s)", a.t);
        snprintf(o->s, sizeof(o->s), "NOT (%s)", a.s);
        break;
    }
}

static void gen_str(dq *o)
{
    switch (rnd() % 6) {
    case 0:
        snprintf(o->t, sizeof(o->t), "s");
        snprintf(o->s, sizeof(o->s), "s");
        break;
    case 1:
        snprintf(o->t, sizeof(o->t), "lower(s)");
        snprintf(o->s, sizeof(o->s), "lower(s)");
        break;
    case 2:
        snprintf(o->t, sizeof(o->t), "upper(trim(s))");
        snprintf(o->s, sizeof(o->s), "upper(trim(s))");
        break;
    case 3: {
        int p = rint_(1, 4), n = rint_(0, 4);
        snprintf(o->t, sizeof(o->t), "substring(s, %d, %d)", p, n);
        snprintf(o->s, sizeof(o->s), "substr(s, %d, %d)", p, n);
        break;
    }
    case 4:
        snprintf(o->t, sizeof(o->t), "concat(s, '/', c)");
        snprintf(o->s, sizeof(o->s), "(s || '/' || c)");
        break;
    default:
        snprintf(o->t, sizeof(o->t), "CASE WHEN a > 0 THEN s ELSE c END");
        snprintf(o->s, sizeof(o->s), "CASE WHEN a > 0 THEN s ELSE c END");
        break;
    }
}

static void generated(int n)
{
    static const char *gk_t[] = {"a", "s", "flag", "a % 5", "lower(s)", "year(d)", "s, flag"};
    static const char *gk_s[] = {
        "a", "s", "flag", "a % 5", "lower(s)", "CAST(strftime('%Y', d) AS INTEGER)", "s, flag"};
    static const char *joins[] = {"JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"};
    for (int i = 0; i < n; i++) {
        dq p, x, y, st;
        char tq[4096], sq[4096];
        int ordered = 0;
        switch (i % 13) {
        case 0:
            gen_pred(&p, 2);
            gen_num(&x, 2);
            gen_num(&y, 1);
            snprintf(tq, sizeof(tq), "SELECT id, %s, %s FROM t1 WHERE %s", x.t, y.t, p.t);
            snprintf(sq, sizeof(sq), "SELECT id, %s, %s FROM t1 WHERE %s", x.s, y.s, p.s);
            break;
        case 1:
            gen_pred(&p, 2);
            gen_str(&st);
            snprintf(tq, sizeof(tq), "SELECT id, %s, length(%s) FROM t1 WHERE %s", st.t, st.t, p.t);
            snprintf(sq, sizeof(sq), "SELECT id, %s, length(%s) FROM t1 WHERE %s", st.s, st.s, p.s);
            break;
        case 2: {
            int k = (int)(rnd() % 7);
            gen_pred(&p, 1);
            gen_num(&x, 1);
            snprintf(tq, sizeof(tq),
                     "SELECT %s, count(*), sum(a), avg(b), min(s), max(%s), count(DISTINCT a) FROM "
                     "t1 WHERE %s GROUP BY %s",
                     gk_t[k], x.t, p.t, gk_t[k]);
            snprintf(sq, sizeof(sq),
                     "SELECT %s, count(*), sum(a), avg(b), min(s), max(%s), count(DISTINCT a) FROM "
                     "t1 WHERE %s GROUP BY %s",
                     gk_s[k], x.s, p.s, gk_s[k]);
            break;
        }
        case 3: {
            const char *j = joins[rnd() % 4];
            gen_pred(&p, 1);
            snprintf(tq, sizeof(tq),
                     "SELECT t1.id, t2.id, t1.a, t2.v FROM t1 %s t2 ON t1.a = t2.k AND t2.w > %d "
                     "WHERE t1.id %% 3 <> %d",
                     j, rint_(-30, 30), rint_(0, 2));
            snprintf(sq, sizeof(sq), "%s", tq);
            (void)p;
            break;
        }
        case 4: {
            int lim = rint_(0, 30);
            const char *dir = chance(50) ? "DESC" : "ASC";
            const char *nulls = chance(33) ? " NULLS FIRST" : chance(50) ? " NULLS LAST" : "";
            gen_pred(&p, 1);
            gen_num(&x, 1);
            snprintf(tq, sizeof(tq),
                     "SELECT id, %s AS v FROM t1 WHERE %s ORDER BY v %s%s, id LIMIT %d", x.t, p.t,
                     dir, nulls, lim);
            snprintf(sq, sizeof(sq),
                     "SELECT id, %s AS v FROM t1 WHERE %s ORDER BY v %s%s, id LIMIT %d", x.s, p.s,
                     dir, nulls, lim);
            ordered = 1;
            break;
        }
        case 5:
            gen_pred(&p, 1);
            snprintf(tq, sizeof(tq),
                     "SELECT id, a FROM t1 WHERE a %sIN (SELECT k FROM t2 WHERE w %s %d)",
                     chance(40) ? "NOT " : "", chance(50) ? "<" : ">", rint_(-40, 40));
            snprintf(sq, sizeof(sq), "%s", tq);
            (void)p;
            break;
        case 6:
            gen_pred(&p, 1);
            {
                int m = rint_(2, 6);
                snprintf(tq, sizeof(tq), "SELECT DISTINCT a %% %d, flag FROM t1 WHERE %s", m, p.t);
                snprintf(sq, sizeof(sq), "SELECT DISTINCT a %% %d, flag FROM t1 WHERE %s", m, p.s);
            }
            break;
        case 7: {
            gen_pred(&p, 1);
            int lim = rint_(-10, 50);
            snprintf(tq, sizeof(tq),
                     "SELECT a, b FROM t1 WHERE %s UNION ALL SELECT k, w FROM t2 WHERE k > %d", p.t,
                     lim);
            snprintf(sq, sizeof(sq),
                     "SELECT a, b FROM t1 WHERE %s UNION ALL SELECT k, w FROM t2 WHERE k > %d", p.s,
                     lim);
            break;
        }
        case 9: {
            /* multi-key join with a residual OR, over derived tables */
            gen_pred(&p, 1);
            snprintf(tq, sizeof(tq),
                     "SELECT x.id, y.id FROM (SELECT * FROM t1 WHERE %s) x %s JOIN t2 y ON x.a = "
                     "y.k AND x.flag = (y.w > 0) "
                     "AND (x.b < y.w OR y.v = 'red')",
                     p.t, chance(50) ? "LEFT" : "FULL");
            snprintf(sq, sizeof(sq),
                     "SELECT x.id, y.id FROM (SELECT * FROM t1 WHERE %s) x %s JOIN t2 y ON x.a = "
                     "y.k AND x.flag = (y.w > 0) "
                     "AND (x.b < y.w OR y.v = 'red')",
                     p.s, strstr(tq, "LEFT JOIN") ? "LEFT" : "FULL");
            break;
        }
        case 10: {
            /* CASE as a group key, HAVING on an aggregate not selected, ORDER BY an aggregate */
            int c1 = rint_(-10, 10), h = rint_(0, 60);
            snprintf(tq, sizeof(tq),
                     "SELECT CASE WHEN a < %d THEN 'lo' WHEN a >= %d THEN 'hi' END AS band, "
                     "count(*) AS n, max(s), min(d) FROM t1 "
                     "GROUP BY CASE WHEN a < %d THEN 'lo' WHEN a >= %d THEN 'hi' END HAVING sum(b) "
                     "> %d ORDER BY n DESC, band",
                     c1, c1, c1, c1, -h);
            snprintf(sq, sizeof(sq), "%s", tq);
            ordered = 1;
            break;
        }
        case 11: {
            /* semi and anti joins, in Spark's syntax and SQLite's EXISTS */
            int w = rint_(-40, 40);
            int anti = chance(50);
            snprintf(tq, sizeof(tq),
                     "SELECT t1.id, t1.s FROM t1 LEFT %s JOIN t2 ON t1.a = t2.k AND t2.w > %d "
                     "WHERE t1.id %% 4 = %d",
                     anti ? "ANTI" : "SEMI", w, rint_(0, 3));
            snprintf(sq, sizeof(sq),
                     "SELECT t1.id, t1.s FROM t1 WHERE %sEXISTS (SELECT 1 FROM t2 WHERE t1.a = "
                     "t2.k AND t2.w > %d) AND t1.id %% 4 = %c",
                     anti ? "NOT " : "", w, tq[strlen(tq) - 1]);
            break;
        }
        case 12: {
            /* UNION (distinct) of strings, ordered with NULLS placement */
            const char *nl = chance(50) ? "NULLS FIRST" : "NULLS LAST";
            const char *dir = chance(50) ? "ASC" : "DESC";
            int lim = rint_(1, 12);
            snprintf(tq, sizeof(tq),
                     "SELECT s FROM t1 WHERE a > %d UNION SELECT v FROM t2 WHERE k < %d ORDER BY s "
                     "%s %s LIMIT %d",
                     rint_(-5, 5), rint_(0, 30), dir, nl, lim);
            snprintf(sq, sizeof(sq), "%s", tq);
            ordered = 1;
            break;
        }
        default: {
            gen_pred(&p, 1);
            int th = rint_(1, 40);
            snprintf(tq, sizeof(tq),
                     "SELECT t2.v, count(*), sum(x.b), max(x.s) FROM (SELECT * FROM t1 WHERE %s) x "
                     "JOIN t2 ON x.a = t2.k GROUP BY t2.v HAVING count(*) > %d",
                     p.t, th);
            snprintf(sq, sizeof(sq),
                     "SELECT t2.v, count(*), sum(x.b), max(x.s) FROM (SELECT * FROM t1 WHERE %s) x "
                     "JOIN t2 ON x.a = t2.k GROUP BY t2.v HAVING count(*) > %d",
                     p.s, th);
            break;
        }
        }
        diff(tq, sq, ordered);
    }
}

typedef struct {
    tbml_table *t[4]; /* t1, t2, t3, t0 */
} tables;

/* The same tables every time: the generator restarts from its seed. */
static void build_tables(tables *out)
{
    tbml_schema s1, s2, s3;
    tbml_schema_init(&s1);
    tbml_schema_add(&s1, "id", TBML_TYPE_INT64, 0);
    tbml_schema_add(&s1, "a", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s1, "b", TBML_TYPE_DOUBLE, 1);
    tbml_schema_add(&s1, "s", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s1, "d", TBML_TYPE_DATE, 1);
    tbml_schema_add(&s1, "flag", TBML_TYPE_BOOL, 1);
    tbml_schema_add(&s1, "c", TBML_TYPE_STRING, 1);
    tbml_schema_init(&s2);
    tbml_schema_add(&s2, "id", TBML_TYPE_INT64, 0);
    tbml_schema_add(&s2, "k", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s2, "v", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s2, "w", TBML_TYPE_DOUBLE, 1);
    tbml_schema_init(&s3);
    tbml_schema_add(&s3, "id", TBML_TYPE_INT64, 0);
    tbml_schema_add(&s3, "name", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s3, "k", TBML_TYPE_INT64, 0);
    g_rng = 0x2545F4914F6CDD1DULL;
    out->t[0] = make_table(&s1, 600, 64, fill_t1);
    out->t[1] = make_table(&s2, 250, 40, fill_t2);
    out->t[2] = make_table(&s3, 12, 5, fill_t3);
    out->t[3] = tbml_table_new(&s2);
    tbml_schema_clear(&s1);
    tbml_schema_clear(&s2);
    tbml_schema_clear(&s3);
}

static const char *g_tnames[4] = {"t1", "t2", "t3", "t0"};

int main(int argc, char **argv)
{
    int ngen = argc > 1 ? atoi(argv[1]) : 390;
    if (sqlite3_open(":memory:", &g_db) != SQLITE_OK) return 2;
    sqlite3_exec(g_db, "PRAGMA case_sensitive_like = ON", NULL, NULL, NULL);
    sqlite3_create_function(g_db, "stddev", 1, SQLITE_UTF8, NULL, NULL, sd_step, sd_final);
    sqlite3_create_function(g_db, "split_at", 3, SQLITE_UTF8, NULL, split_at, NULL, NULL);
    tables tb;
    build_tables(&tb);
    for (int i = 0; i < 4; i++) {
        load_sqlite(g_tnames[i], tb.t[i]);
        tbml_table_free(tb.t[i]);
    }
    static const int threads[3] = {1, 4, 3};
    static const char *parts[3] = {"1", "200", "5"};
    for (int k = 0; k < 3; k++) {
        CHECK_OK(tbml_session_create(threads[k], &g_sessions[k]));
        CHECK_OK(tbml_session_set_conf(g_sessions[k], "spark.sql.shuffle.partitions", parts[k]));
        if (k != 1) CHECK_OK(tbml_session_set_conf(g_sessions[k], "tbml.sql.aggMemory", "1b"));
        if (k == 2) {
            CHECK_OK(
                tbml_session_set_conf(g_sessions[k], "spark.sql.autoBroadcastJoinThreshold", "-1"));
            CHECK_OK(tbml_session_set_conf(g_sessions[k], "tbml.sql.exchange", "serialize"));
        }
        build_tables(&tb);
        for (int i = 0; i < 4; i++)
            CHECK_OK(tbml_session_register(g_sessions[k], g_tnames[i], tb.t[i], 0));
    }
    if (getenv("SQL_DIFF_LOG")) tbml_log_set_level(TBML_LOG_INFO); /* shows what spilled */
    if (getenv("SQL_DIFF_SELFTEST"))
        diff("SELECT id, b FROM t1", "SELECT id, COALESCE(b, 0) + (id = 77) FROM t1", 0);
    for (size_t i = 0; i < sizeof(g_hand) / sizeof(g_hand[0]); i++)
        diff(g_hand[i].tbml, g_hand[i].sqlite, g_hand[i].ordered);
    g_rng = 12345;
    generated(ngen);
    printf("%d queries, %d mismatches or failures (x3 configurations)\n", g_queries, g_failed);
    int64_t files[3], bytes[3];
    for (int k = 0; k < 3; k++)
        tbml_session_spill_stats(g_sessions[k], &files[k], &bytes[k]);
    printf("spilled: %lld and %lld files, %lld and %lld bytes (budget of one byte)\n",
           (long long)files[0], (long long)files[2], (long long)bytes[0], (long long)bytes[2]);
    CHECK(files[0] > 0 && files[1] == 0 && files[2] > 0 && bytes[0] > 0 && bytes[2] > 0);
    /* a sort alone and a join alone spill under the one-byte budget (no aggregate in them) */
    static const char *const alone[] = {"SELECT id, a FROM t1 ORDER BY a, id",
                                        "SELECT t1.id FROM t1 FULL JOIN t2 ON t1.a = t2.k"};
    for (int q = 0; q < 2; q++)
        for (int k = 0; k < 3; k += 2) {
            int64_t f0, f1;
            rows r;
            memset(&r, 0, sizeof(r));
            tbml_session_spill_stats(g_sessions[k], &f0, NULL);
            CHECK(run_tbml(g_sessions[k], alone[q], &r) == 0);
            rows_free(&r);
            tbml_session_spill_stats(g_sessions[k], &f1, NULL);
            CHECK(f1 > f0);
            if (f1 <= f0) fprintf(stderr, "no spill (%s): %s\n", g_config_names[k], alone[q]);
        }
    for (int k = 0; k < 3; k++)
        tbml_session_free(g_sessions[k]);
    sqlite3_close(g_db);
    return check_done();
}
