/* The SQL engine's behaviour where SQLite cannot be the reference: Spark's arithmetic, casts,
 * orderings and names, the DataFrame API, views and commands, error statuses with positions,
 * subquery errors, the exchange encoding, and larger tables that cross scan-unit and partition
 * boundaries. (tests/sql/test_sql_diff.c compares everything SQLite shares.) */
#include "check.h"
#include "tbml/show.h"
#include "tbml/sql.h"

#include "sql/exchange.h"

static tbml_session_t *g_s;

/* Runs sql and returns the first row's cells formatted as show() prints them, joined by '|'. */
static char g_row[4096];
static const char *row1(const char *sql)
{
    tbml_df_t *df;
    tbml_table *t;
    g_row[0] = '\0';
    if (tbml_sql(g_s, sql, &df)) {
        snprintf(g_row, sizeof(g_row), "ERROR %s", tbml_errmsg());
        return g_row;
    }
    if (tbml_df_collect(df, &t)) {
        snprintf(g_row, sizeof(g_row), "ERROR %s", tbml_errmsg());
        tbml_df_free(df);
        return g_row;
    }
    size_t o = 0;
    for (int64_t b = 0; b < t->nbatches && !o; b++) {
        if (t->batches[b]->nrows == 0) continue;
        for (int c = 0; c < t->schema.nfields; c++) {
            char *buf = NULL;
            size_t len = 0, cap = 0;
            tbml_format_cell(&t->batches[b]->cols[c], 0, &buf, &len, &cap);
            o += (size_t)snprintf(g_row + o, sizeof(g_row) - o, "%s%.*s", c ? "|" : "", (int)len,
                                  buf);
            tbml_free(buf);
        }
        if (!o) o = 1;
    }
    tbml_table_free(t);
    tbml_df_free(df);
    return g_row;
}

/* All rows of column 0, joined by ',' (as show() formats cells). */
static char g_col[8192];
static const char *col0(const char *sql)
{
    tbml_df_t *df;
    tbml_table *t;
    g_col[0] = '\0';
    if (tbml_sql(g_s, sql, &df) || tbml_df_collect(df, &t)) {
        snprintf(g_col, sizeof(g_col), "ERROR %s", tbml_errmsg());
        return g_col;
    }
    size_t o = 0;
    for (int64_t b = 0; b < t->nbatches; b++)
        for (int64_t r = 0; r < t->batches[b]->nrows; r++) {
            char *buf = NULL;
            size_t len = 0, cap = 0;
            tbml_format_cell(&t->batches[b]->cols[0], r, &buf, &len, &cap);
            o += (size_t)snprintf(g_col + o, sizeof(g_col) - o, "%s%.*s", o ? "," : "", (int)len,
                                  buf);
            tbml_free(buf);
        }
    tbml_table_free(t);
    tbml_df_free(df);
    return g_col;
}

static const char *names(const char *sql)
{
    tbml_df_t *df;
    g_col[0] = '\0';
    if (tbml_sql(g_s, sql, &df)) {
        snprintf(g_col, sizeof(g_col), "ERROR %s", tbml_errmsg());
        return g_col;
    }
    const tbml_schema *s = tbml_df_schema(df);
    size_t o = 0;
    for (int i = 0; i < s->nfields; i++)
        o += (size_t)snprintf(g_col + o, sizeof(g_col) - o, "%s%s:%s", i ? "," : "",
                              s->fields[i].name, tbml_type_name(s->fields[i].type));
    tbml_df_free(df);
    return g_col;
}

#define EQ(got, want)                                                                              \
    do {                                                                                           \
        const char *g_ = (got);                                                                    \
        if (strcmp(g_, want) == 0) {                                                               \
            g_check_pass++;                                                                        \
        } else {                                                                                   \
            g_check_fail++;                                                                        \
            fprintf(stderr, "%s:%d: got '%s', want '%s'\n", __FILE__, __LINE__, g_, want);         \
        }                                                                                          \
    } while (0)

static tbml_table *numbers(int64_t n, int batch)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "i", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "g", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "x", TBML_TYPE_DOUBLE, 1);
    tbml_table *t = tbml_table_new(&s);
    tbml_batch *b = NULL;
    for (int64_t i = 0; i < n; i++) {
        if (!b) b = tbml_batch_new(&s, batch);
        /* a permutation of 0..n-1 (n a multiple of neither 7 nor 13 in the tests) */
        int64_t v = (i * 7919) % n;
        tbml_column_append_i64(&b->cols[0], v);
        char g[8];
        int gl = snprintf(g, sizeof(g), "g%lld", (long long)(v % 13));
        if (v % 97 == 0)
            tbml_column_append_null(&b->cols[1]);
        else
            tbml_column_append_str(&b->cols[1], g, (size_t)gl);
        tbml_column_append_f64(&b->cols[2], (double)v * 0.5);
        if (b->cols[0].nrows == batch || i == n - 1) {
            tbml_batch_seal(b);
            tbml_table_append(t, b);
            b = NULL;
        }
    }
    tbml_schema_clear(&s);
    return t;
}

static void test_spark_semantics(void)
{
    EQ(row1("SELECT 7 / 2, 7 div 2, -7 % 3, 7 % 0, 1 / 0, 7.0 div 0, 2 * 3 + 1"),
       "3.5|3|-1|null|null|null|7");
    EQ(row1("SELECT 9223372036854775807 + 1, -9223372036854775808"),
       "-9223372036854775808|-9223372036854775808");
    EQ(row1("SELECT CAST('abc' AS INT), CAST('1.9' AS INT), CAST(' 12 ' AS BIGINT), "
            "CAST('2020-02-30' AS DATE), CAST('2020-02-29' AS DATE)"),
       "null|1|12|null|2020-02-29");
    EQ(row1("SELECT CAST(3.99 AS INT), CAST(-3.99 AS BIGINT), CAST(1e30 AS BIGINT), CAST('true' AS "
            "BOOLEAN), CAST('x' AS BOOLEAN)"),
       "3|-3|9223372036854775807|true|null");
    EQ(row1("SELECT CAST(1.0 AS STRING), CAST(0.1 + 0.2 AS STRING), CAST(1e7 AS STRING), "
            "CAST(123456789.0 AS STRING)"),
       "1.0|0.30000000000000004|1.0E7|1.23456789E8");
    EQ(row1("SELECT '5' + 1, '2.5' * 2, 10 = '10.0', 'a' < 'b'"), "6.0|5.0|true|true");
    EQ(row1("SELECT split('a,b,,c,', ','), size(split('a,b,,c,', ',')), split('a,b,,c,', ',')[4], "
            "split('a,b', ',')[2]"),
       "[a, b, , c, ]|5||null");
    EQ(row1("SELECT split('a1b22c', '[0-9]+')[2], split('', ',')[0], size(split('', ','))"),
       "c||1");
    EQ(row1("SELECT substring('hello', 0, 2), substring('hello', -3), substring('hello', -3, 2), "
            "substring('hello', 10)"),
       "he|llo|ll|");
    EQ(row1("SELECT length('héllo'), upper('abc'), trim('  x  '), concat('a', NULL), concat('a', "
            "1, true)"),
       "5|ABC|x|null|a1true");
    EQ(row1("SELECT year(DATE '2000-02-29'), month('2021-12-31'), day(to_date('2021-03-04 "
            "10:11:12')), to_date('nope')"),
       "2000|12|4|null");
    EQ(row1("SELECT DATE '2020-01-31' < '2020-02-01', TIMESTAMP '2020-01-01 10:00:00.5', CAST(DATE "
            "'1969-12-31' AS TIMESTAMP)"),
       "true|2020-01-01 10:00:00.5|1969-12-31 00:00:00");
    EQ(row1(
           "SELECT NULL = NULL, NULL <=> NULL, 1 <=> NULL, NULL AND false, NULL OR true, NOT NULL"),
       "null|true|false|false|true|null");
    EQ(row1("SELECT 1 IN (2, NULL), 1 NOT IN (2, NULL), 1 IN (1, NULL), NULL IN (1)"),
       "null|null|true|null");
    EQ(row1("SELECT 'abc' LIKE 'a_c', 'abc' LIKE 'A%', 'a%c' LIKE 'a\\%c', 'abc' LIKE 'a\\%c', 'x' "
            "NOT LIKE '%'"),
       "true|false|true|false|false");
    EQ(row1("SELECT coalesce(NULL, NULL, 3), coalesce(NULL, 1.5, 2), nvl(NULL, 'z'), nullif(2, 2), "
            "nullif(2, 3), if(1 < 2, 'y', 'n')"),
       "3|1.5|z|null|2|y");
    EQ(row1("SELECT CASE 3 WHEN 1 THEN 'a' WHEN 3 THEN 'c' END, CASE WHEN NULL THEN 1 ELSE 2 END, "
            "CASE WHEN false THEN 1 END"),
       "c|2|null");
    EQ(row1("SELECT abs(-3), abs(-2.5), round(2.5), round(-2.5), round(1.2345, 2), round(1250, "
            "-2), floor(-1.5), ceil(1.2), sqrt(16)"),
       "3|2.5|3.0|-3.0|1.23|1300|-2|2|4.0");
    EQ(row1("SELECT stddev(x), count(x), sum(x), avg(x), min(x) FROM (SELECT 1.0 AS x) t"),
       "null|1|1.0|1.0|1.0");
    EQ(row1("SELECT stddev(x) FROM (SELECT 1.0 AS x UNION ALL SELECT 3.0) t"),
       "1.4142135623730951");
    EQ(row1("SELECT count(*), sum(i), max(g) FROM nums WHERE i < 0"), "0|null|null");
    EQ(col0("SELECT g, count(*) AS n FROM nums GROUP BY g HAVING n <> 22839 ORDER BY g"),
       "null,g12,g7"); /* counted in Python */
}

static void test_names_and_orders(void)
{
    EQ(names("SELECT i + 1, count(*), CAST(i AS INT), lower(g), i AS k, -i, i > 2, i IS NULL, g "
             "LIKE 'a%', 'lit', 1.5 FROM nums GROUP BY i, g"),
       "(i + 1):long,count(1):long,CAST(i AS INT):long,lower(g):string,k:long,(- i):long,(i > "
       "2):boolean,(i IS NULL):boolean,g LIKE a%:boolean,lit:string,1.5:double");
    EQ(names("SELECT count(DISTINCT g), avg(x), sum(i), i BETWEEN 1 AND 2, coalesce(g, 'a'), "
             "concat(g, 'x'), g || 'y' FROM nums GROUP BY i, g"),
       "count(DISTINCT g):long,avg(x):double,sum(i):long,((i >= 1) AND (i <= "
       "2)):boolean,coalesce(g, a):string,concat(g, x):string,concat(g, y):string");
    /* Spark's default NULL placement: first for ASC, last for DESC */
    EQ(col0("SELECT v FROM (SELECT 2 AS v UNION ALL SELECT NULL UNION ALL SELECT 1) t ORDER BY v"),
       "null,1,2");
    EQ(col0("SELECT v FROM (SELECT 2 AS v UNION ALL SELECT NULL UNION ALL SELECT 1) t ORDER BY v "
            "DESC"),
       "2,1,null");
    EQ(col0("SELECT v FROM (SELECT 2 AS v UNION ALL SELECT NULL UNION ALL SELECT 1) t ORDER BY v "
            "NULLS LAST"),
       "1,2,null");
    EQ(col0("SELECT v FROM (SELECT 2 AS v UNION ALL SELECT NULL UNION ALL SELECT 1) t ORDER BY v "
            "DESC NULLS FIRST"),
       "null,2,1");
    EQ(col0("SELECT v FROM (SELECT CAST('NaN' AS DOUBLE) AS v UNION ALL SELECT 1e308 UNION ALL "
            "SELECT -1.0) t ORDER BY v"),
       "-1.0,1.0E308,NaN");
}

static void test_using(void)
{
    /* JOIN USING: the key once and first, then the rest; qualified names still reach each side */
    tbml_df_t *df;
    CHECK_OK(tbml_sql(g_s, "CREATE TEMP VIEW l AS SELECT 'a' AS x, 1 AS k UNION ALL SELECT 'b', 2",
                      &df));
    tbml_df_free(df);
    CHECK_OK(tbml_sql(g_s, "CREATE TEMP VIEW r AS SELECT 2 AS k, 'z' AS y UNION ALL SELECT 3, 'w'",
                      &df));
    tbml_df_free(df);
    EQ(names("SELECT * FROM l JOIN r USING (k)"), "k:long,x:string,y:string");
    EQ(row1("SELECT * FROM l JOIN r USING (k)"), "2|b|z");
    EQ(row1("SELECT *, l.k, r.k FROM l RIGHT JOIN r USING (k) ORDER BY k DESC"), "3|null|w|null|3");
    EQ(col0("SELECT k FROM l FULL JOIN r USING (k) ORDER BY k"), "1,2,3");
    EQ(col0("SELECT * FROM l LEFT SEMI JOIN r USING (k)"), "2");
    EQ(names("SELECT * FROM l LEFT ANTI JOIN r USING (k)"), "k:long,x:string");
}

static void test_errors(void)
{
    tbml_df_t *df = NULL;
    CHECK_ST(tbml_sql(g_s, "SELEC 1", &df), TBML_E_SYNTAX);
    CHECK(strstr(tbml_errmsg(), "1:1: syntax error at 'SELEC'") != NULL);
    CHECK(strstr(tbml_errmsg(), "\n  SELEC 1\n  ^") != NULL);
    CHECK_ST(tbml_sql(g_s, "SELECT i FROM nums WHERE", &df), TBML_E_SYNTAX);
    CHECK(strstr(tbml_errmsg(), "at end of input") != NULL);
    CHECK_ST(tbml_sql(g_s, "SELECT i,\n  nope FROM nums", &df), TBML_E_NOTFOUND);
    CHECK(strstr(tbml_errmsg(),
                 "2:3: cannot resolve column 'nope'; available columns: nums.i, nums.g, nums.x") !=
          NULL);
    CHECK(strstr(tbml_errmsg(), "\n    nope FROM nums\n    ^") != NULL);
    CHECK_ST(tbml_sql(g_s, "SELECT * FROM nope", &df), TBML_E_NOTFOUND);
    CHECK(strstr(tbml_errmsg(), "table or view not found: nope; known views: nums") != NULL);
    CHECK_ST(tbml_sql(g_s, "SELECT i + g > 1 AND x FROM nums", &df), TBML_E_TYPE);
    CHECK(strstr(tbml_errmsg(), "must be a boolean, not double") != NULL);
    CHECK_ST(tbml_sql(g_s, "SELECT sum(g = 'a') FROM nums", &df), TBML_E_TYPE);
    CHECK_ST(tbml_sql(g_s, "SELECT CAST(DATE '2020-01-01' AS BIGINT)", &df), TBML_E_TYPE);
    CHECK_ST(tbml_sql(g_s, "SELECT nosuch(1)", &df), TBML_E_NOTFOUND);
    CHECK_ST(tbml_sql(g_s, "SELECT a.i FROM nums a JOIN nums b ON a.i = b.i WHERE i > 0", &df),
             TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "ambiguous") != NULL);
    CHECK_ST(tbml_sql(g_s, "SELECT g, count(*) FROM nums", &df), TBML_E_ARG);
    CHECK_ST(tbml_sql(g_s, "SELECT i FROM nums WHERE count(*) > 1", &df), TBML_E_ARG);
    CHECK_ST(tbml_sql(g_s, "SELECT (SELECT i FROM nums)", &df), TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "more than one row") != NULL);
    CHECK_ST(tbml_sql(g_s,
                      "SELECT i FROM nums a WHERE EXISTS (SELECT 1 FROM nums b WHERE b.i = a.i)",
                      &df),
             TBML_E_NOTFOUND);
    CHECK(strstr(tbml_errmsg(), "correlated") != NULL);
    CHECK_ST(tbml_sql(g_s, "SELECT i FROM nums UNION ALL SELECT i, g FROM nums", &df), TBML_E_ARG);
    CHECK_ST(tbml_sql(g_s, "SELECT i FROM nums INTERSECT SELECT i FROM nums", &df),
             TBML_E_UNSUPPORTED);
    CHECK_ST(tbml_sql(g_s, "SELECT 'x", &df), TBML_E_SYNTAX);
    CHECK_ST(tbml_sql(g_s, "SELECT i FROM nums ORDER BY 5", &df), TBML_E_ARG);
    CHECK_ST(tbml_sql(g_s, "CREATE TEMP VIEW v USING parquet OPTIONS (path 'x')", &df),
             TBML_E_UNSUPPORTED);
    CHECK_ST(
        tbml_sql(g_s, "CREATE TEMP VIEW v USING json OPTIONS (path '/nonexistent/x.json')", &df),
        TBML_E_NOTFOUND);
    CHECK(df == NULL);
    /* deep nesting fails cleanly */
    char deep[3000];
    size_t o = (size_t)snprintf(deep, sizeof(deep), "SELECT ");
    for (int i = 0; i < 400; i++)
        deep[o++] = '(';
    deep[o++] = '1';
    for (int i = 0; i < 400; i++)
        deep[o++] = ')';
    deep[o] = '\0';
    CHECK_ST(tbml_sql(g_s, deep, &df), TBML_E_SYNTAX);
}

static void test_views_and_dataframes(void)
{
    tbml_df_t *df, *a, *b;
    tbml_table *t;
    CHECK_OK(tbml_sql(g_s, "CREATE TEMP VIEW small AS SELECT i, g FROM nums WHERE i < 10", &df));
    tbml_df_free(df);
    CHECK_ST(tbml_sql(g_s, "CREATE TEMP VIEW small AS SELECT 1", &df), TBML_E_ARG);
    CHECK_OK(tbml_sql(g_s, "CREATE TEMP VIEW IF NOT EXISTS small AS SELECT 1", &df));
    tbml_df_free(df);
    EQ(row1("SELECT count(*), sum(i) FROM small"), "10|45");
    EQ(col0("SHOW TABLES"), "");
    EQ(row1("SHOW TABLES"), "|nums|true");
    EQ(row1("DESCRIBE small"), "i|long|null");
    /* a DataFrame planned before its view is replaced keeps the old data */
    CHECK_OK(tbml_sql(g_s, "SELECT count(*) FROM small", &a));
    CHECK_OK(
        tbml_sql(g_s, "CREATE OR REPLACE TEMP VIEW small AS SELECT i FROM nums WHERE i < 3", &df));
    tbml_df_free(df);
    int64_t n = -1;
    CHECK_OK(tbml_df_collect(a, &t));
    CHECK(t->batches[0]->cols[0].i64[0] == 10);
    tbml_table_free(t);
    tbml_df_free(a);
    EQ(row1("SELECT count(*) FROM small"), "3");
    CHECK_OK(tbml_sql(g_s, "DROP VIEW small", &df));
    tbml_df_free(df);
    CHECK_ST(tbml_sql(g_s, "DROP VIEW small", &df), TBML_E_NOTFOUND);
    CHECK_OK(tbml_sql(g_s, "DROP VIEW IF EXISTS small", &df));
    tbml_df_free(df);

    /* DataFrame calls compose with SQL */
    CHECK_OK(tbml_sql(g_s, "SELECT * FROM nums", &df));
    CHECK_OK(tbml_df_filter(df, "i % 1000 = 0 AND g IS NOT NULL", &a));
    CHECK_OK(tbml_df_select(a, "g, i * 2 AS twice", &b));
    CHECK_OK(tbml_df_count(b, &n));
    CHECK(n ==
          296); /* 300 multiples of 1000 below 300000, minus the 4 that are multiples of 97 too */
    const tbml_schema *s = tbml_df_schema(b);
    CHECK(s->nfields == 2 && strcmp(s->fields[1].name, "twice") == 0 &&
          s->fields[1].type == TBML_TYPE_INT64);
    tbml_df_t *c, *d;
    CHECK_OK(tbml_df_order_by(b, "twice DESC", &c));
    CHECK_OK(tbml_df_limit(c, 2, &d));
    CHECK_OK(tbml_df_collect(d, &t));
    CHECK(tbml_table_nrows(t) == 2 && t->batches[0]->cols[1].i64[0] == 2 * 299000);
    tbml_table_free(t);
    tbml_df_free(c);
    tbml_df_free(d);
    CHECK_OK(tbml_df_group_count(a, "g", &c));
    CHECK_OK(tbml_df_create_temp_view(c, "gc"));
    EQ(row1("SELECT sum(count), count(*) FROM gc"), "296|13");
    tbml_df_free(c);
    CHECK_ST(tbml_df_select(df, "i +", &c), TBML_E_SYNTAX);
    CHECK(strstr(tbml_errmsg(), "2:1: syntax error at 'FROM'") !=
          NULL); /* after the caller's "i +" */
    CHECK_ST(tbml_df_filter(df, "nosuch > 1", &c), TBML_E_NOTFOUND);
    CHECK(strstr(tbml_errmsg(), "\n  WHERE nosuch > 1\n        ^") != NULL);
    CHECK_ST(tbml_df_create_temp_view(df, "bad name"), TBML_E_ARG);
    char *plan;
    CHECK_OK(tbml_df_explain(b, &plan));
    CHECK(strstr(plan, "Scan nums [i, g]") != NULL); /* x is pruned */
    tbml_free(plan);
    tbml_df_free(a);
    tbml_df_free(b);
    tbml_df_free(df);
}

static void test_big(void)
{
    /* 300000 rows in batches of 100000: scan units of 65536 rows cross batch edges */
    EQ(row1("SELECT count(*), sum(i), min(i), max(i), count(DISTINCT g), count(g) FROM nums"),
       "300000|44999850000|0|299999|13|296907");
    /* a full sort over 200 partitions (range exchange): check order and completeness */
    tbml_df_t *df;
    tbml_table *t;
    CHECK_OK(tbml_sql(g_s, "SELECT i, x FROM nums ORDER BY x DESC", &df));
    CHECK_OK(tbml_df_collect(df, &t));
    int64_t k = 299999, bad = 0;
    for (int64_t b = 0; b < t->nbatches; b++)
        for (int64_t r = 0; r < t->batches[b]->nrows; r++, k--)
            bad += t->batches[b]->cols[0].i64[r] != k;
    CHECK(bad == 0 && k == -1);
    tbml_table_free(t);
    tbml_df_free(df);
    EQ(col0("SELECT i FROM nums ORDER BY i DESC LIMIT 3"), "299999,299998,299997");
    EQ(col0("SELECT i FROM nums WHERE g = 'g3' ORDER BY i LIMIT 2 "), "3,16");
    EQ(row1("SELECT count(*) FROM nums a JOIN nums b ON a.i = b.i + 1"), "299999");
    EQ(row1("SELECT count(*), count(b.i) FROM nums a LEFT JOIN (SELECT i FROM nums WHERE i % 2 = "
            "0) b ON a.i = b.i"),
       "300000|150000");
    EQ(row1("SELECT count(*) FROM (SELECT DISTINCT i % 1000 FROM nums) t"), "1000");
    EQ(row1("SELECT count(*) FROM (SELECT * FROM nums LIMIT 70000) t"), "70000");
    EQ(row1("SELECT g, count(*) FROM nums GROUP BY g ORDER BY g NULLS FIRST LIMIT 1"), "null|3093");
}

static void test_exchange_encoding(void)
{
    tbml_table *t = numbers(1000, 1000);
    tbml_batch *b = t->batches[0];
    uint8_t *buf;
    size_t size;
    sql_batch_encode(b, &buf, &size);
    tbml_batch *d;
    CHECK_OK(sql_batch_decode(buf, size, &d));
    CHECK(d->nrows == 1000 && d->schema.nfields == 3 && strcmp(d->schema.fields[1].name, "g") == 0);
    int same = 1;
    for (int64_t r = 0; r < 1000; r++) {
        size_t n1, n2;
        same &= d->cols[0].i64[r] == b->cols[0].i64[r] && d->cols[2].f64[r] == b->cols[2].f64[r];
        same &= tbml_column_is_null(&d->cols[1], r) == tbml_column_is_null(&b->cols[1], r);
        const char *s1 = tbml_column_str(&d->cols[1], r, &n1),
                   *s2 = tbml_column_str(&b->cols[1], r, &n2);
        same &= n1 == n2 && memcmp(s1, s2, n1) == 0;
    }
    CHECK(same);
    tbml_batch_free(d);
    /* every truncation and a damaged length fail cleanly */
    int all_fail = 1;
    for (size_t cut = 0; cut < size; cut += 1 + cut / 8)
        if (sql_batch_decode(buf, cut, &d) == TBML_OK) {
            all_fail = 0;
            tbml_batch_free(d);
        }
    CHECK(all_fail);
    buf[9] ^= 0x40; /* row count */
    CHECK_ST(sql_batch_decode(buf, size, &d), TBML_E_FORMAT);
    tbml_free(buf);
    tbml_table_free(t);
}

int main(void)
{
    CHECK_OK(tbml_session_create(3, &g_s));
    CHECK_OK(tbml_session_register(g_s, "nums", numbers(300000, 100000), 0));
    CHECK_ST(tbml_session_register(g_s, "nums", numbers(10, 10), 0), TBML_E_ARG);
    CHECK_ST(tbml_session_set_conf(g_s, "spark.sql.shuffle.partitions", "0"), TBML_E_ARG);
    CHECK_ST(tbml_session_set_conf(g_s, "tbml.nope", "1"), TBML_E_ARG);
    CHECK_OK(
        tbml_session_set_conf(g_s, "spark.executor.memory", "1g")); /* other Spark keys: ignored */
    test_spark_semantics();
    test_names_and_orders();
    test_errors();
    test_using();
    test_views_and_dataframes();
    test_big();
    /* the same big queries with broadcasts off, 7 partitions and serialised exchanges */
    CHECK_OK(tbml_session_set_conf(g_s, "spark.sql.shuffle.partitions", "7"));
    CHECK_OK(tbml_session_set_conf(g_s, "spark.sql.autoBroadcastJoinThreshold", "-1"));
    CHECK_OK(tbml_session_set_conf(g_s, "tbml.sql.exchange", "serialize"));
    test_big();
    test_exchange_encoding();
    tbml_session_free(g_s);
    return check_done();
}
