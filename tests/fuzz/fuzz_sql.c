/* libFuzzer target for the SQL front end: tokenizer, parser and planner (name and type resolution,
 * optimisation, physical planning) over any bytes, against a session with two tiny views. Each
 * input must either plan or fail with a status and a message; when it plans, it also runs, with
 * its result size capped by an outer LIMIT so cross joins stay small. Also splits the input into
 * statements as the CLI does. */
#include "tbml/sql.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tbml_session_t *g_s;

static tbml_table *small_table(void)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "a", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "s", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "d", TBML_TYPE_DOUBLE, 1);
    tbml_batch *b = tbml_batch_new(&s, 3);
    for (int i = 0; i < 3; i++) {
        if (i == 2) {
            tbml_column_append_null(&b->cols[0]);
            tbml_column_append_null(&b->cols[1]);
            tbml_column_append_null(&b->cols[2]);
            continue;
        }
        tbml_column_append_i64(&b->cols[0], i);
        tbml_column_append_str(&b->cols[1], i ? "x,y" : "", i ? 3 : 0);
        tbml_column_append_f64(&b->cols[2], i * 0.5);
    }
    tbml_batch_seal(b);
    tbml_table *t = tbml_table_new(&s);
    tbml_table_append(t, b);
    tbml_schema_clear(&s);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_s) {
        tbml_log_set_level(TBML_LOG_ERROR);
        if (tbml_session_create(2, &g_s)) abort();
        if (tbml_session_set_conf(g_s, "spark.sql.shuffle.partitions", "3")) abort();
        if (tbml_session_register(g_s, "t", small_table(), 1)) abort();
        if (tbml_session_register(g_s, "u", small_table(), 1)) abort();
    }
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    size_t pos = 0, start, len;
    int n = 0;
    while (n < 4 && tbml_sql_next_statement(text, pos, &start, &len)) {
        if (start + len > size || len == 0) abort();
        char *stmt = malloc(len + 1);
        memcpy(stmt, text + start, len);
        stmt[len] = '\0';
        pos = start + len + 1;
        n++;
        /* views are left alone so every input sees the same session */
        if (strstr(stmt, "VIEW") || strstr(stmt, "view") || strstr(stmt, "View")) {
            free(stmt);
            continue;
        }
        tbml_df_t *df;
        tbml_status st = tbml_sql(g_s, stmt, &df);
        if (st) {
            if (st >= 0 || !tbml_errmsg()[0]) abort(); /* a failure always says why */
        } else {
            tbml_df_t *lim;
            if (tbml_df_limit(df, 50, &lim) == TBML_OK) {
                tbml_table *t;
                if (tbml_df_collect(lim, &t) == TBML_OK) {
                    if (tbml_table_nrows(t) > 50) abort();
                    tbml_table_free(t);
                }
                tbml_df_free(lim);
            }
            tbml_df_free(df);
        }
        free(stmt);
        if (pos > size) break;
    }
    free(text);
    return 0;
}
