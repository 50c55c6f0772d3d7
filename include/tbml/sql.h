/* SQL and DataFrames in Spark's dialect over tbml tables.
 *
 * A session holds a thread pool, temporary views and settings, like a SparkSession. Queries are
 * planned into partitioned plans (scan, filter, project, hash aggregate, hash join, sort, limit,
 * union, exchange) and run on the session's threads; see docs/sql.md for the dialect, the
 * plan shapes and the known differences from Spark.
 *
 * A DataFrame (tbml_df_t) is a lazy query: building one (tbml_sql, tbml_df_select, ...) parses
 * and plans it, so every error (syntax, unknown table or column, type) is reported there; rows
 * are computed by tbml_df_collect, tbml_df_show and tbml_df_count. Errors carry the position in
 * the query and a caret line under the offending token, in tbml_errmsg(). */
#ifndef TBML_SQL_H
#define TBML_SQL_H

#include "tbml/column.h"
#include "tbml/comm.h"
#include "tbml/seal.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tbml_session tbml_session_t;
typedef struct tbml_df tbml_df_t;

/* Resolves `key 'DIR/NAME.key'` of a view over a sealed file: loads the key file (asking for its
 * password as the caller sees fit). The session frees the key with tbml_key_free. */
typedef tbml_status (*tbml_sql_key_fn)(void *ctx, const char *key_path, tbml_key_t **out);
/* Progress of a running query, called from the calling thread between stages. */
typedef void (*tbml_sql_progress_fn)(void *ctx, int stage, int nstages, int64_t rows, int64_t bytes,
                                     int done);

/* nthreads <= 0: all cores. Shuffles make 200 partitions unless spark.sql.shuffle.partitions says
 * otherwise; hash partitioning is Spark's (Murmur3, seed 42), so grouped rows come out in the
 * order Spark gives them. */
TBML_NODISCARD tbml_status tbml_session_create(int nthreads, tbml_session_t **out);
/* Frees the session, its views and its pool. DataFrames of the session must be freed first. */
void tbml_session_free(tbml_session_t *s);
int tbml_session_threads(const tbml_session_t *s);

/* Settings: "spark.sql.shuffle.partitions" (1..4096), "spark.sql.autoBroadcastJoinThreshold"
 * (bytes, -1 disables broadcast joins; default 10 MB), "tbml.sql.exchange" ("local", or
 * "serialize" to pass every exchanged batch through its byte encoding, as a distributed run
 * does), "spark.executor.memory" (a size such as 512m; each of the session's threads may hold
 * its share of it in a hash aggregate's table, a full sort's rows or a shuffled join's build
 * side before the operator spills to sealed temporary files; default: no limit),
 * "tbml.sql.aggMemory" (the same budget per task, directly; for tests). Other "spark." keys are
 * accepted and ignored, as Spark does; anything else and bad values: TBML_E_ARG. */
TBML_NODISCARD tbml_status tbml_session_set_conf(tbml_session_t *s, const char *key,
                                                 const char *value);
/* Spill files written and plaintext bytes spilled by hash aggregates, sorts and joins since the
 * session began. */
void tbml_session_spill_stats(const tbml_session_t *s, int64_t *files, int64_t *bytes);
void tbml_session_set_key_lookup(tbml_session_t *s, tbml_sql_key_fn fn, void *ctx);
void tbml_session_set_progress(tbml_session_t *s, tbml_sql_progress_fn fn, void *ctx);
/* Runs the session's queries on the ranks of c (not owned; NULL: this process alone). Every rank
 * must run the same statements in the same order: global partition p runs on rank p % size,
 * exchanges move encoded batches with c's sealed all-to-all, and each result is gathered to rank
 * 0 and broadcast back, so collect and count give every rank the whole result, identical to a
 * single-process run. tbml_df_show prints on rank 0 only. */
void tbml_session_set_comm(tbml_session_t *s, tbml_comm_t *c);

/* Registers table as the temporary view name (takes ownership of table, also on failure).
 * An existing view of that name is replaced when replace, else TBML_E_ARG. */
TBML_NODISCARD tbml_status tbml_session_register(tbml_session_t *s, const char *name,
                                                 tbml_table *table, int replace);
/* Drops a view; TBML_E_NOTFOUND if there is none. */
TBML_NODISCARD tbml_status tbml_session_drop(tbml_session_t *s, const char *name);

/* Runs one SQL statement (a trailing ';' is fine). A query gives a DataFrame; CREATE VIEW, DROP
 * VIEW run at once and give an empty DataFrame; SHOW TABLES, DESCRIBE and EXPLAIN give their
 * listing as a DataFrame. Free *out with tbml_df_free. */
TBML_NODISCARD tbml_status tbml_sql(tbml_session_t *s, const char *sql, tbml_df_t **out);

/* Splits a script at the ';' that end statements (not those inside quotes or comments): sets
 * *start and *len to the next statement at or after offset pos; returns 0 when only blanks and
 * comments remain. */
int tbml_sql_next_statement(const char *script, size_t pos, size_t *start, size_t *len);

/* ---- DataFrames ---- */
/* A DataFrame over a table (takes ownership of table). */
TBML_NODISCARD tbml_status tbml_df_from_table(tbml_session_t *s, tbml_table *table,
                                              tbml_df_t **out);
/* df.select("name, age + 1"): a comma-separated list of SQL expressions with optional aliases. */
TBML_NODISCARD tbml_status tbml_df_select(const tbml_df_t *df, const char *exprs, tbml_df_t **out);
/* df.filter("age > 21") */
TBML_NODISCARD tbml_status tbml_df_filter(const tbml_df_t *df, const char *cond, tbml_df_t **out);
/* df.groupBy("age").count(): the group columns and `count`. */
TBML_NODISCARD tbml_status tbml_df_group_count(const tbml_df_t *df, const char *cols,
                                               tbml_df_t **out);
/* df.orderBy("age DESC") */
TBML_NODISCARD tbml_status tbml_df_order_by(const tbml_df_t *df, const char *keys, tbml_df_t **out);
/* df.limit(n) */
TBML_NODISCARD tbml_status tbml_df_limit(const tbml_df_t *df, int64_t n, tbml_df_t **out);
/* df.createOrReplaceTempView(name) */
TBML_NODISCARD tbml_status tbml_df_create_temp_view(const tbml_df_t *df, const char *name);
/* The output schema (no rows are computed). Valid while df lives. */
const tbml_schema *tbml_df_schema(const tbml_df_t *df);
/* Runs the query; *out is a new table (tbml_table_free). */
TBML_NODISCARD tbml_status tbml_df_collect(const tbml_df_t *df, tbml_table **out);
TBML_NODISCARD tbml_status tbml_df_count(const tbml_df_t *df, int64_t *out);
/* df.show(n) to f (stdout when NULL): Spark's table, cells cut at 20 characters. */
TBML_NODISCARD tbml_status tbml_df_show(const tbml_df_t *df, int n, FILE *f);
/* df.printSchema() to f (stdout when NULL). */
TBML_NODISCARD tbml_status tbml_df_print_schema(const tbml_df_t *df, FILE *f);
/* EXPLAIN: the partitioned plan, one operator a line. tbml_free the string. */
TBML_NODISCARD tbml_status tbml_df_explain(const tbml_df_t *df, char **out);
void tbml_df_free(tbml_df_t *df);

#ifdef __cplusplus
}
#endif
#endif
