/* Column builders, schemas, batches and tables: values and NULLs survive growth, strings keep
 * their offsets, append_from copies rows across types, tables count rows. */
#include "check.h"
#include "tbml/column.h"

static void test_types(void)
{
    CHECK(strcmp(tbml_type_name(TBML_TYPE_INT64), "long") == 0);
    CHECK(strcmp(tbml_type_name(TBML_TYPE_DOUBLE), "double") == 0);
    CHECK(strcmp(tbml_type_name(TBML_TYPE_STRING), "string") == 0);
    CHECK(strcmp(tbml_type_name(TBML_TYPE_BOOL), "boolean") == 0);
    CHECK(strcmp(tbml_type_name(TBML_TYPE_DATE), "date") == 0);
    CHECK(strcmp(tbml_type_name(TBML_TYPE_TIMESTAMP), "timestamp") == 0);
    CHECK(strcmp(tbml_type_name(TBML_TYPE_NULL), "void") == 0);
}

static void test_schema(void)
{
    tbml_schema s, c;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "Age", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "name", TBML_TYPE_STRING, 0);
    CHECK(tbml_schema_find(&s, "age") == 0);
    CHECK(tbml_schema_find(&s, "NAME") == 1);
    CHECK(tbml_schema_find(&s, "salary") == -1);
    tbml_schema_copy(&c, &s);
    tbml_schema_clear(&s);
    CHECK(c.nfields == 2 && strcmp(c.fields[0].name, "Age") == 0 && c.fields[1].nullable == 0);
    CHECK(c.fields[1].type == TBML_TYPE_STRING);
    tbml_schema_clear(&c);
    CHECK(c.nfields == 0);
}

static void test_i64_nulls_growth(void)
{
    tbml_column c;
    tbml_column_init(&c, TBML_TYPE_INT64, 0);
    for (int64_t i = 0; i < 1000; i++) {
        if (i % 7 == 3)
            tbml_column_append_null(&c);
        else
            tbml_column_append_i64(&c, i * 1000003);
    }
    CHECK(c.nrows == 1000);
    int bad = 0;
    for (int64_t i = 0; i < 1000; i++) {
        if (i % 7 == 3)
            bad += !tbml_column_is_null(&c, i);
        else
            bad += tbml_column_is_null(&c, i) || c.i64[i] != i * 1000003;
    }
    CHECK(bad == 0);
    tbml_column_clear(&c);
    CHECK(c.nrows == 0 && c.type == TBML_TYPE_INT64);
}

static void test_no_nulls_no_validity(void)
{
    tbml_column c;
    tbml_column_init(&c, TBML_TYPE_DOUBLE, 4);
    for (int i = 0; i < 100; i++)
        tbml_column_append_f64(&c, i * 0.5);
    CHECK(c.valid == NULL);
    CHECK(c.f64[99] == 49.5);
    tbml_column_append_null(&c); /* the first NULL after many values */
    CHECK(c.valid != NULL && !tbml_column_is_null(&c, 0) && !tbml_column_is_null(&c, 99));
    CHECK(tbml_column_is_null(&c, 100));
    tbml_column_append_f64(&c, 7);
    CHECK(!tbml_column_is_null(&c, 101) && c.f64[101] == 7);
    tbml_column_clear(&c);
}

static void test_strings(void)
{
    tbml_column c, d;
    tbml_column_init(&c, TBML_TYPE_STRING, 0);
    CHECK(c.offsets != NULL && c.offsets[0] == 0);
    char buf[64];
    for (int i = 0; i < 500; i++) {
        if (i % 5 == 0) {
            tbml_column_append_null(&c);
            continue;
        }
        int n = snprintf(buf, sizeof(buf), "v%d", i * i);
        tbml_column_append_str(&c, buf, (size_t)n);
    }
    tbml_column_append_str(&c, "", 0);
    CHECK(c.nrows == 501);
    int bad = 0;
    for (int i = 0; i < 500; i++) {
        size_t n;
        const char *s = tbml_column_str(&c, i, &n);
        if (i % 5 == 0) {
            bad += !tbml_column_is_null(&c, i) || n != 0;
            continue;
        }
        int m = snprintf(buf, sizeof(buf), "v%d", i * i);
        bad += tbml_column_is_null(&c, i) || n != (size_t)m || memcmp(s, buf, n) != 0;
    }
    CHECK(bad == 0);
    size_t n;
    tbml_column_str(&c, 500, &n);
    CHECK(n == 0 && !tbml_column_is_null(&c, 500));

    tbml_column_init(&d, TBML_TYPE_STRING, 0);
    for (int i = 499; i >= 0; i--)
        tbml_column_append_from(&d, &c, i);
    const char *s = tbml_column_str(&d, 0, &n);
    CHECK(n == 7 && memcmp(s, "v249001", 7) == 0);
    CHECK(tbml_column_is_null(&d, 499) && tbml_column_is_null(&d, 4) &&
          !tbml_column_is_null(&d, 3));
    tbml_column_clear(&c);
    tbml_column_clear(&d);
}

static void test_bool_date_append_from(void)
{
    tbml_column b, b2, t, t2;
    tbml_column_init(&b, TBML_TYPE_BOOL, 0);
    tbml_column_init(&t, TBML_TYPE_TIMESTAMP, 0);
    tbml_column_append_bool(&b, 5); /* any non-zero is true */
    tbml_column_append_bool(&b, 0);
    tbml_column_append_null(&b);
    tbml_column_append_i64(&t, -86400000000LL);
    tbml_column_append_null(&t);
    tbml_column_init(&b2, TBML_TYPE_BOOL, 0);
    tbml_column_init(&t2, TBML_TYPE_TIMESTAMP, 0);
    for (int i = 0; i < 3; i++)
        tbml_column_append_from(&b2, &b, i);
    for (int i = 0; i < 2; i++)
        tbml_column_append_from(&t2, &t, i);
    CHECK(b2.u8[0] == 1 && b2.u8[1] == 0 && tbml_column_is_null(&b2, 2) &&
          !tbml_column_is_null(&b2, 1));
    CHECK(t2.i64[0] == -86400000000LL && tbml_column_is_null(&t2, 1));
    tbml_column_clear(&b);
    tbml_column_clear(&b2);
    tbml_column_clear(&t);
    tbml_column_clear(&t2);
}

static void test_batch_table(void)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "age", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "name", TBML_TYPE_STRING, 1);
    tbml_table *t = tbml_table_new(&s);
    for (int k = 0; k < 20; k++) {
        tbml_batch *b = tbml_batch_new(&s, 2);
        for (int i = 0; i <= k; i++) {
            tbml_column_append_i64(&b->cols[0], i);
            tbml_column_append_str(&b->cols[1], "x", 1);
        }
        tbml_batch_seal(b);
        CHECK(b->nrows == k + 1);
        tbml_table_append(t, b);
    }
    tbml_schema_clear(&s); /* the table keeps its own copy */
    CHECK(t->nbatches == 20);
    CHECK(tbml_table_nrows(t) == 210);
    CHECK(strcmp(t->schema.fields[1].name, "name") == 0);
    CHECK(strcmp(t->batches[3]->schema.fields[0].name, "age") == 0);
    tbml_table_free(t);
    tbml_table_free(NULL);
    tbml_batch_free(NULL);
}

int main(void)
{
    test_types();
    test_schema();
    test_i64_nulls_growth();
    test_no_nulls_no_validity();
    test_strings();
    test_bool_date_append_from();
    test_batch_table();
    return check_done();
}
