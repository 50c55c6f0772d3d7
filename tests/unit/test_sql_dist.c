/* The SQL engine over the communicator: three ranks (the local backend's threads) run the same
 * queries, each its own partitions (p % 3), with exchanges, range bounds and the final gather
 * moving through sealed messages. Every rank must collect exactly the table one process
 * computes (shown as text, so order and values both count), for broadcast and shuffle joins,
 * grouping, sorting with and without a limit, distinct and union all. Leak-checked under asan. */
#include "check.h"
#include "tbml/comm.h"
#include "tbml/show.h"
#include "tbml/sql.h"

#include <stdio.h>
#include <string.h>

#define NRANKS 3

static const char *queries[] = {
    "SELECT rad, count(*) AS n, sum(tax), max(medv) FROM b GROUP BY rad",
    "SELECT chas, round(avg(medv), 3) FROM b GROUP BY chas ORDER BY chas",
    "SELECT crim, tax FROM b ORDER BY tax DESC, crim",
    "SELECT * FROM b ORDER BY medv, crim LIMIT 9",
    "SELECT DISTINCT rad, chas FROM b",
    "SELECT x.rad, count(*) FROM b x JOIN b y ON x.tax = y.tax GROUP BY x.rad",
    "SELECT a.rad, c.n FROM (SELECT DISTINCT rad FROM b) a LEFT JOIN (SELECT rad, count(*) AS n "
    "FROM b WHERE chas = 1 GROUP BY rad) c ON a.rad = c.rad ORDER BY a.rad",
    "SELECT rad FROM b WHERE rad > 20 UNION ALL SELECT chas FROM b WHERE chas = 1",
    "SELECT count(*) FROM b WHERE medv > (SELECT avg(medv) FROM b)",
    "SELECT * FROM b",
};
#define NQ ((int)(sizeof(queries) / sizeof(queries[0])))

typedef struct {
    const char *csv;
    const char *conf[2];
    char *out[NRANKS][NQ];
} job;

static tbml_status run_all(tbml_comm_t *c, job *j, char **out)
{
    tbml_session_t *s = NULL;
    tbml_status st = tbml_session_create(2, &s);
    if (st) return st;
    if (c) tbml_session_set_comm(s, c);
    char view[1200];
    snprintf(view, sizeof(view),
             "CREATE TEMP VIEW b USING csv OPTIONS (path '%s', header 'true', inferSchema 'true')",
             j->csv);
    tbml_df_t *df = NULL;
    if (!(st = tbml_session_set_conf(s, "spark.sql.shuffle.partitions", j->conf[0])) &&
        !(st = tbml_session_set_conf(s, "spark.sql.autoBroadcastJoinThreshold", j->conf[1])) &&
        !(st = tbml_sql(s, view, &df))) {
        tbml_df_free(df);
        for (int q = 0; q < NQ && !st; q++) {
            tbml_table *t = NULL;
            df = NULL;
            if (!(st = tbml_sql(s, queries[q], &df)) && !(st = tbml_df_collect(df, &t))) {
                size_t n;
                FILE *f = open_memstream(&out[q], &n);
                tbml_show(t, 1000, 20, f);
                fclose(f);
            }
            tbml_table_free(t);
            tbml_df_free(df);
        }
    }
    tbml_session_free(s);
    return st;
}

static job *g_job;

static tbml_status rank_main(tbml_comm_t *c, void *arg)
{
    (void)arg;
    return run_all(c, g_job, g_job->out[tbml_comm_rank(c)]);
}

int main(void)
{
    const char *dir = getenv("TBML_SHARED");
    char path[1024];
    snprintf(path, sizeof(path), "%s/datasets/BostonHousing.csv", dir ? dir : "../shared");
    const char *confs[][2] = {{"5", "10485760"}, {"4", "-1"}};
    tbml_key_t *key = NULL;
    CHECK_OK(tbml_key_generate("sql-job", &key));
    for (int k = 0; k < 2; k++) {
        job j = {path, {confs[k][0], confs[k][1]}, {{0}}};
        char *ref[NQ] = {0};
        CHECK_OK(run_all(NULL, &j, ref));
        g_job = &j;
        tbml_local_world_t *w = NULL;
        CHECK_OK(tbml_local_world_create(NRANKS, &w));
        tbml_comm_options o = {.job_key = key, .crypto_threads = -1};
        tbml_status st[NRANKS];
        char msg[NRANKS][256];
        CHECK_OK(tbml_local_run(w, &o, 0, rank_main, NULL, st, msg));
        for (int r = 0; r < NRANKS; r++) {
            CHECK_OK(st[r]);
            if (st[r]) fprintf(stderr, "rank %d: %s\n", r, msg[r]);
        }
        for (int q = 0; q < NQ; q++) {
            CHECK(ref[q] && strlen(ref[q]) > 40);
            for (int r = 0; r < NRANKS; r++) {
                int same = ref[q] && j.out[r][q] && strcmp(ref[q], j.out[r][q]) == 0;
                CHECK(same);
                if (!same) fprintf(stderr, "conf %d query %d rank %d differs\n", k, q, r);
                free(j.out[r][q]);
            }
            free(ref[q]);
        }
        tbml_local_world_free(w);
    }
    tbml_key_free(key);
    return check_done();
}
