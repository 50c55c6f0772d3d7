/* Spark SQL's "basic" walkthrough (examples/src/main/python/sql/basic.py) in C: a DataFrame
 * from people.json, show, printSchema, select, filter, groupBy count, a temporary view queried
 * with SQL, the schema taken from people.txt's lines, and a schema given by the program. Prints
 * the same tables Spark prints (tests/golden/sql_basic.txt).
 *   tbml run-example [--master local[N]] sql_basic [--key K --password-file F] [DIR]
 * DIR holds people.json and people.txt (plain or sealed with K): $TBML_SHARED/datasets, or
 * ../shared/datasets relative to the repository. Under tbml submit --master mpi the ranks run
 * every query together (each scans and aggregates its own partitions) and rank 0 prints. */
#include "tbml/app.h"
#include "tbml/comm.h"
#include "tbml/readers.h"
#include "tbml/sql.h"

#include <stdlib.h>
#include <string.h>

#include "example_util.h"

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((st = (x))) goto out;                                                                  \
    } while (0)

/* parts[0] and parts[1].strip() of "name, age" lines, as the Python example's split(",") */
static void split_line(const char *s, size_t n, const char **name, size_t *nn, const char **age,
                       size_t *an)
{
    const char *comma = memchr(s, ',', n);
    *name = s;
    *nn = comma ? (size_t)(comma - s) : n;
    *age = comma ? comma + 1 : s + n;
    *an = comma ? n - *nn - 1 : 0;
    while (*an && (**age == ' ' || **age == '\t')) {
        (*age)++;
        (*an)--;
    }
    while (*an && ((*age)[*an - 1] == ' ' || (*age)[*an - 1] == '\r'))
        (*an)--;
}

int main(int argc, char **argv)
{
    tbml_app_t *app;
    tbml_status st = tbml_app_init(&argc, &argv, &app);
    if (st) return example_fail("sql_basic", st);
    const char *key_file = NULL, *password_file = NULL;
    if (example_key_options(&argc, argv, &key_file, &password_file)) {
        tbml_app_free(app);
        return 2;
    }
    char dir[4096];
    if (argc > 1)
        snprintf(dir, sizeof(dir), "%s", argv[1]);
    else if (getenv("TBML_SHARED"))
        snprintf(dir, sizeof(dir), "%s/datasets", getenv("TBML_SHARED"));
    else
        snprintf(dir, sizeof(dir), "../shared/datasets");
    char json_path[4200], txt_path[4200];
    snprintf(json_path, sizeof(json_path), "%s/people.json", dir);
    snprintf(txt_path, sizeof(txt_path), "%s/people.txt", dir);

    tbml_key_t *key = NULL;
    tbml_session_t *spark = NULL;
    tbml_df_t *df = NULL, *d2 = NULL, *lines = NULL, *people = NULL, *teens = NULL;
    tbml_table *t = NULL;
    tbml_comm_t *comm = NULL;
    int root = 1;
    TRY(tbml_comm_open(NULL, &comm)); /* one rank unless started by mpirun */
    root = tbml_comm_rank(comm) == 0;
    if (key_file) TRY(example_load_key_shared(comm, key_file, password_file, &key));
    TRY(tbml_session_create(app->nthreads, &spark));
    tbml_session_set_comm(spark, comm);
    for (int i = 0; i < app->nconf; i++)
        if (strncmp(app->conf[i].key, "spark.sql.", 10) == 0 ||
            strncmp(app->conf[i].key, "tbml.sql.", 9) == 0)
            TRY(tbml_session_set_conf(spark, app->conf[i].key, app->conf[i].value));
    if (app->executor_memory_size > 0) { /* --executor-memory: the hash aggregates' budget */
        char mem[32];
        snprintf(mem, sizeof(mem), "%lldb", (long long)app->executor_memory_size);
        TRY(tbml_session_set_conf(spark, "spark.executor.memory", mem));
    }

    /* df = spark.read.json("people.json") */
    tbml_read_options o;
    tbml_read_options_init(&o);
    o.key = key;
    o.pool = app->pool;
    o.comm = comm; /* under mpirun each rank reads its share of the file */
    TRY(tbml_read_json(json_path, &o, &t));
    TRY(tbml_df_from_table(spark, t, &df));
    t = NULL;

    TRY(tbml_df_show(df, 20, stdout));     /* df.show() */
    TRY(tbml_df_print_schema(df, stdout)); /* df.printSchema() */
    TRY(tbml_df_select(df, "name", &d2));  /* df.select("name").show() */
    TRY(tbml_df_show(d2, 20, stdout));
    tbml_df_free(d2);
    d2 = NULL;
    TRY(tbml_df_select(df, "name, age + 1", &d2)); /* df.select(df['name'], df['age'] + 1) */
    TRY(tbml_df_show(d2, 20, stdout));
    tbml_df_free(d2);
    d2 = NULL;
    TRY(tbml_df_filter(df, "age > 21", &d2)); /* df.filter(df['age'] > 21) */
    TRY(tbml_df_show(d2, 20, stdout));
    tbml_df_free(d2);
    d2 = NULL;
    TRY(tbml_df_group_count(df, "age", &d2)); /* df.groupBy("age").count() */
    TRY(tbml_df_show(d2, 20, stdout));
    tbml_df_free(d2);
    d2 = NULL;
    TRY(tbml_df_create_temp_view(df, "people")); /* df.createOrReplaceTempView("people") */
    TRY(tbml_sql(spark, "SELECT * FROM people", &d2));
    TRY(tbml_df_show(d2, 20, stdout));
    tbml_df_free(d2);
    d2 = NULL;

    /* Inferring the schema: lines -> (name, age as a number) -> view -> SQL */
    TRY(tbml_read_text(txt_path, &o, &t));
    TRY(tbml_df_from_table(spark, t, &lines));
    t = NULL;
    TRY(tbml_df_select(
        lines, "split(value, ',')[0] AS name, CAST(trim(split(value, ',')[1]) AS BIGINT) AS age",
        &people));
    TRY(tbml_df_create_temp_view(people, "people"));
    TRY(tbml_sql(spark, "SELECT name FROM people WHERE age BETWEEN 13 AND 19", &teens));
    TRY(tbml_df_collect(teens, &t));
    for (int64_t b = 0; b < t->nbatches; b++)
        for (int64_t r = 0; r < t->batches[b]->nrows; r++) {
            size_t n;
            const char *s = tbml_column_str(&t->batches[b]->cols[0], r, &n);
            if (root) printf("Name: %.*s\n", (int)n, s);
        }
    tbml_table_free(t);
    t = NULL;

    /* Programmatically specifying the schema: StructType of two strings, rows built here */
    {
        tbml_table *raw;
        TRY(tbml_df_collect(lines, &raw));
        tbml_schema schema;
        tbml_schema_init(&schema);
        tbml_schema_add(&schema, "name", TBML_TYPE_STRING, 1);
        tbml_schema_add(&schema, "age", TBML_TYPE_STRING, 1);
        tbml_batch *rows = tbml_batch_new(&schema, tbml_table_nrows(raw));
        for (int64_t b = 0; b < raw->nbatches; b++)
            for (int64_t r = 0; r < raw->batches[b]->nrows; r++) {
                size_t n, nn, an;
                const char *line = tbml_column_str(&raw->batches[b]->cols[0], r, &n), *name, *age;
                split_line(line, n, &name, &nn, &age, &an);
                tbml_column_append_str(&rows->cols[0], name, nn);
                tbml_column_append_str(&rows->cols[1], age, an);
            }
        tbml_batch_seal(rows);
        t = tbml_table_new(&schema);
        tbml_table_append(t, rows);
        tbml_schema_clear(&schema);
        tbml_table_free(raw);
        tbml_df_free(people);
        people = NULL;
        TRY(tbml_df_from_table(spark, t, &people));
        t = NULL;
        TRY(tbml_df_create_temp_view(people, "people"));
        tbml_df_free(d2);
        d2 = NULL;
        TRY(tbml_sql(spark, "SELECT name FROM people", &d2));
        TRY(tbml_df_show(d2, 20, stdout));
    }
out:
    if (st) example_fail("sql_basic", st);
    if (st && comm && tbml_comm_size(comm) > 1) tbml_comm_abort(comm, st);
    tbml_table_free(t);
    tbml_df_free(d2);
    tbml_df_free(teens);
    tbml_df_free(people);
    tbml_df_free(lines);
    tbml_df_free(df);
    tbml_session_free(spark);
    tbml_key_free(key);
    tbml_comm_free(comm);
    tbml_app_free(app);
    return tbml_stdout_finish("sql_basic", st ? 1 : 0);
}
