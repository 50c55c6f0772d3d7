/* Spark's text output: Java's Double.toString against known Java outputs, date and timestamp
 * strings, show() and printSchema() against golden files taken from Spark's documentation,
 * truncation, the footer, escapes and NULLs. */
#include "check.h"
#include "tbml/show.h"

#include <math.h>

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = tbml_malloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static char *golden(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/golden/%s",
             getenv("TBML_SRC") ? getenv("TBML_SRC") : ".", name);
    char *s = read_file(path);
    if (!s) fprintf(stderr, "cannot read %s\n", path);
    return s;
}

/* What show()/printSchema() write to a FILE, as a string. */
static char *capture_show(const tbml_table *t, int64_t n, int truncate, int schema)
{
    FILE *f = tmpfile();
    if (schema)
        tbml_print_schema(&t->schema, f);
    else
        tbml_show(t, n, truncate, f);
    rewind(f);
    char *buf = tbml_malloc(1 << 16);
    size_t got = fread(buf, 1, (1 << 16) - 1, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static void test_java_double(void)
{
    /* Outputs of Java's Double.toString (JDK 17 and 21 agree on all of these). */
    static const struct {
        double v;
        const char *java;
    } cases[] = {
        {30.0, "30.0"},
        {1e7, "1.0E7"},
        {9999999.0, "9999999.0"},
        {1234567.5, "1234567.5"},
        {0.001, "0.001"},
        {0.0001, "1.0E-4"},
        {0.00123, "0.00123"},
        {123456789.0, "1.23456789E8"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3, "0.3333333333333333"},
        {2.0 / 3, "0.6666666666666666"},
        {100.0, "100.0"},
        {-1.5, "-1.5"},
        {1.7976931348623157e308, "1.7976931348623157E308"},
        {4.9e-324, "4.9E-324"},
        {2.2250738585072014e-308, "2.2250738585072014E-308"},
        {1e21, "1.0E21"},
        {1e-5, "1.0E-5"},
        {12345.678, "12345.678"},
        {2e-3, "0.002"},
        {1e23, "1.0E23"},
        {3.14159, "3.14159"},
        {0.5, "0.5"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {1.0, "1.0"},
        {10.0, "10.0"},
        {-1e-10, "-1.0E-10"},
        {1.5e300, "1.5E300"},
        {24.0, "24.0"},
        {21.6, "21.6"},
        {0.00632, "0.00632"},
        {396.9, "396.9"},
        {22.532806324110677, "22.532806324110677"},
        {123456.789e3, "1.23456789E8"},
    };
    char buf[TBML_FORMAT_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = tbml_format_double(cases[i].v, buf);
        if (strcmp(buf, cases[i].java) != 0 || n != strlen(buf)) {
            fprintf(stderr, "double %.17g: got %s, Java prints %s\n", cases[i].v, buf,
                    cases[i].java);
            CHECK(0);
        } else {
            CHECK(1);
        }
    }
    tbml_format_double(NAN, buf);
    CHECK(strcmp(buf, "NaN") == 0);
    tbml_format_double(INFINITY, buf);
    CHECK(strcmp(buf, "Infinity") == 0);
    tbml_format_double(-INFINITY, buf);
    CHECK(strcmp(buf, "-Infinity") == 0);
    /* every output reads back as the same double */
    uint64_t x = 88172645463325252ULL;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v)) continue;
        tbml_format_double(v, buf);
        bad += strtod(buf, NULL) != v;
    }
    CHECK(bad == 0);
}

static void test_dates(void)
{
    char buf[TBML_FORMAT_MAX];
    int64_t d, us;
    CHECK(tbml_days_from_civil(1970, 1, 1) == 0);
    CHECK(tbml_days_from_civil(2000, 3, 1) == 11017);
    tbml_format_date(-1, buf);
    CHECK(strcmp(buf, "1969-12-31") == 0);
    CHECK(tbml_parse_date("2024-02-29", 10, &d) && d == tbml_days_from_civil(2024, 2, 29));
    CHECK(!tbml_parse_date("2023-02-29", 10, &d));
    CHECK(!tbml_parse_date("2023-13-01", 10, &d));
    CHECK(!tbml_parse_date("2023-01-01x", 11, &d));
    CHECK(tbml_parse_date("2023-1-5", 8, &d) && d == tbml_days_from_civil(2023, 1, 5));
    CHECK(tbml_parse_timestamp("2016-12-01 10:00:00", 19, &us));
    tbml_format_timestamp(us, buf);
    CHECK(strcmp(buf, "2016-12-01 10:00:00") == 0);
    CHECK(tbml_parse_timestamp("2016-12-01T10:00:00.120Z", 24, &us));
    tbml_format_timestamp(us, buf);
    CHECK(strcmp(buf, "2016-12-01 10:00:00.12") == 0);
    CHECK(tbml_parse_timestamp("2016-12-01T10:00:00+02:00", 25, &us));
    tbml_format_timestamp(us, buf);
    CHECK(strcmp(buf, "2016-12-01 08:00:00") == 0);
    tbml_format_timestamp(-1, buf);
    CHECK(strcmp(buf, "1969-12-31 23:59:59.999999") == 0);
    CHECK(!tbml_parse_timestamp("2016-12-01 25:00:00", 19, &us));
    CHECK(!tbml_parse_timestamp("2016-12-01 10:00:00 junk", 24, &us));
}

static tbml_table *people(void)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "age", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "name", TBML_TYPE_STRING, 1);
    tbml_table *t = tbml_table_new(&s);
    tbml_batch *b = tbml_batch_new(&s, 0);
    tbml_column_append_null(&b->cols[0]);
    tbml_column_append_str(&b->cols[1], "Michael", 7);
    tbml_batch_seal(b);
    tbml_table_append(t, b);
    b = tbml_batch_new(&s, 0);
    tbml_column_append_i64(&b->cols[0], 30);
    tbml_column_append_str(&b->cols[1], "Andy", 4);
    tbml_column_append_i64(&b->cols[0], 19);
    tbml_column_append_str(&b->cols[1], "Justin", 6);
    tbml_batch_seal(b);
    tbml_table_append(t, b);
    tbml_schema_clear(&s);
    return t;
}

static void test_people_golden(void)
{
    tbml_table *t = people();
    char *want = golden("people_show.txt"), *got = capture_show(t, 20, 20, 0);
    CHECK(want && strcmp(got, want) == 0);
    if (want && strcmp(got, want)) fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want);
    tbml_free(want);
    tbml_free(got);
    want = golden("people_schema.txt");
    got = capture_show(t, 0, 0, 1);
    CHECK(want && strcmp(got, want) == 0);
    tbml_free(want);
    tbml_free(got);

    /* show(2): the footer; show(1): the singular */
    got = tbml_show_string(t, 2, 20);
    CHECK(strcmp(got,
                 "+----+-------+\n| age|   name|\n+----+-------+\n|null|Michael|\n|  30|   Andy|\n"
                 "+----+-------+\nonly showing top 2 rows\n") == 0);
    tbml_free(got);
    got = tbml_show_string(t, 1, 20);
    CHECK(strstr(got, "only showing top 1 row\n") != NULL);
    tbml_free(got);
    /* truncate = 0: whole cells, left-aligned */
    got = tbml_show_string(t, 20, 0);
    CHECK(strcmp(got,
                 "+----+-------+\n|age |name   |\n+----+-------+\n|null|Michael|\n|30  |Andy   |\n"
                 "|19  |Justin |\n+----+-------+\n") == 0);
    tbml_free(got);
    tbml_table_free(t);
}

static void test_truncate_types(void)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "s", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "d", TBML_TYPE_DOUBLE, 1);
    tbml_schema_add(&s, "b", TBML_TYPE_BOOL, 0);
    tbml_schema_add(&s, "day", TBML_TYPE_DATE, 1);
    tbml_table *t = tbml_table_new(&s);
    tbml_batch *b = tbml_batch_new(&s, 0);
    tbml_column_append_str(&b->cols[0], "abcdefghijklmnopqrstuvwxyz", 26);
    tbml_column_append_f64(&b->cols[1], 1e7);
    tbml_column_append_bool(&b->cols[2], 1);
    tbml_column_append_i64(&b->cols[3], 0);
    tbml_column_append_str(&b->cols[0], "a\tb", 3);
    tbml_column_append_null(&b->cols[1]);
    tbml_column_append_bool(&b->cols[2], 0);
    tbml_column_append_null(&b->cols[3]);
    tbml_batch_seal(b);
    tbml_table_append(t, b);
    char *got = tbml_show_string(t, 20, 20);
    const char *want = "+--------------------+-----+-----+----------+\n"
                       "|                   s|    d|    b|       day|\n"
                       "+--------------------+-----+-----+----------+\n"
                       "|abcdefghijklmnopq...|1.0E7| true|1970-01-01|\n"
                       "|                a\\tb| null|false|      null|\n"
                       "+--------------------+-----+-----+----------+\n";
    CHECK(strcmp(got, want) == 0);
    if (strcmp(got, want)) fprintf(stderr, "got:\n%s", got);
    tbml_free(got);
    char *tree = tbml_schema_tree_string(&s);
    CHECK(strcmp(tree,
                 "root\n |-- s: string (nullable = true)\n |-- d: double (nullable = true)\n"
                 " |-- b: boolean (nullable = false)\n |-- day: date (nullable = true)\n") == 0);
    tbml_free(tree);
    tbml_table_free(t);
    tbml_schema_clear(&s);
}

static void test_empty_and_wide(void)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "名前", TBML_TYPE_STRING, 1);
    tbml_table *t = tbml_table_new(&s);
    char *got = tbml_show_string(t, 20, 20);
    CHECK(strcmp(got, "+----+\n|名前|\n+----+\n+----+\n") == 0);
    tbml_free(got);
    tbml_table_free(t);
    tbml_schema_clear(&s);
}

int main(void)
{
    test_java_double();
    test_dates();
    test_people_golden();
    test_truncate_types();
    test_empty_and_wide();
    return check_done();
}
