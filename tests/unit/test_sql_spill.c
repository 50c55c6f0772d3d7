/* Operators past their memory budget: the same queries on sessions with no budget and with a
 * tiny one must print the same rows, byte for byte, and the tiny one must have spilled:
 *   - hash aggregates (many groups; string, integer and composite keys; NULL keys;
 *     count(DISTINCT), avg, min/max on strings, stddev);
 *   - full sorts (external merge of sorted runs), with ties, which must keep the in-memory
 *     sort's stable order;
 *   - shuffled joins of every kind (grace hash), against a table whose key is skewed (most of
 *     its rows share one key, so that partition is joined in chunks) and has NULLs.
 * The log must say what spilled without showing a row. No spill file, scratch folder or file
 * descriptor may remain afterwards, also after a query that fails while it spills (the file
 * size limit stops a spill file). The SQLite differential test (tests/sql/) runs its whole
 * query list through the spill paths too. */
#include "check.h"
#include "tbml/sql.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define NROWS 40000

static tbml_table *make_table(void)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "k", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "s", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "v", TBML_TYPE_DOUBLE, 1);
    tbml_schema_add(&s, "i", TBML_TYPE_INT64, 0);
    tbml_schema_add(&s, "name", TBML_TYPE_STRING, 0);
    tbml_table *t = tbml_table_new(&s);
    tbml_batch *b = NULL;
    char buf[64];
    for (int r = 0; r < NROWS; r++) {
        if (!b) b = tbml_batch_new(&s, 4096);
        tbml_column *c = b->cols;
        if (r % 1000 == 7)
            tbml_column_append_null(&c[0]);
        else
            tbml_column_append_i64(&c[0], (int64_t)((r * 7919) % 20000));
        if (r % 777 == 3) {
            tbml_column_append_null(&c[1]);
        } else {
            /* short and long (past the packed 8 bytes) keys */
            int n = snprintf(buf, sizeof(buf), r % 2 ? "g%d" : "group-key-number-%d", r % 15000);
            tbml_column_append_str(&c[1], buf, (size_t)n);
        }
        if (r % 50 == 1)
            tbml_column_append_null(&c[2]);
        else
            tbml_column_append_f64(&c[2], (r % 1000) * 0.5 + (r % 3));
        tbml_column_append_i64(&c[3], r % 97);
        int n = snprintf(buf, sizeof(buf), "name-%d", (r * 31) % 5000);
        tbml_column_append_str(&c[4], buf, (size_t)n);
        if (b->cols[0].nrows == 4096 || r == NROWS - 1) {
            tbml_batch_seal(b);
            tbml_table_append(t, b);
            b = NULL;
        }
    }
    tbml_schema_clear(&s);
    return t;
}

/* sk: id, k (most rows 7, a tenth NULL, the rest spread), name */
#define SK_ROWS 8000
static tbml_table *make_skewed(void)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "id", TBML_TYPE_INT64, 0);
    tbml_schema_add(&s, "k", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "name", TBML_TYPE_STRING, 0);
    tbml_table *t = tbml_table_new(&s);
    tbml_batch *b = NULL;
    char buf[64];
    for (int r = 0; r < SK_ROWS; r++) {
        if (!b) b = tbml_batch_new(&s, 4096);
        tbml_column *c = b->cols;
        tbml_column_append_i64(&c[0], r);
        if (r % 10 == 3)
            tbml_column_append_null(&c[1]);
        else
            tbml_column_append_i64(&c[1], r % 4 ? 7 : (int64_t)((r * 13) % 30000));
        int n = snprintf(buf, sizeof(buf), "secret-name-%d", r % 3000);
        tbml_column_append_str(&c[2], buf, (size_t)n);
        if (b->cols[0].nrows == 4096 || r == SK_ROWS - 1) {
            tbml_batch_seal(b);
            tbml_table_append(t, b);
            b = NULL;
        }
    }
    tbml_schema_clear(&s);
    return t;
}

static tbml_session_t *session(int threads, const char *parts, const char *key, const char *mem)
{
    tbml_session_t *s = NULL;
    CHECK_OK(tbml_session_create(threads, &s));
    if (!s) exit(1);
    CHECK_OK(tbml_session_set_conf(s, "spark.sql.shuffle.partitions", parts));
    if (key) CHECK_OK(tbml_session_set_conf(s, key, mem));
    CHECK_OK(tbml_session_register(s, "t", make_table(), 0));
    CHECK_OK(tbml_session_set_conf(s, "spark.sql.autoBroadcastJoinThreshold", "-1"));
    CHECK_OK(tbml_session_register(s, "sk", make_skewed(), 0));
    return s;
}

/* The query's rows as Spark's table text (all of them); NULL on error. */
static char *run(tbml_session_t *s, const char *sql)
{
    tbml_df_t *df = NULL;
    char *text = NULL;
    size_t size = 0;
    CHECK_OK(tbml_sql(s, sql, &df));
    if (!df) return NULL;
    FILE *f = open_memstream(&text, &size);
    tbml_status st = tbml_df_show(df, 1 << 30, f);
    CHECK_OK(st);
    fclose(f);
    tbml_df_free(df);
    if (st) {
        free(text);
        return NULL;
    }
    return text;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static const char *const g_queries[] = {
    "SELECT k, count(*), count(v), sum(i), avg(v), min(name), max(name), stddev(v), "
    "count(DISTINCT i), sum(DISTINCT i) FROM t GROUP BY k ORDER BY k",
    "SELECT s, count(*), sum(v), min(name), max(name), avg(i), stddev(i) FROM t GROUP BY s "
    "ORDER BY s",
    "SELECT s, count(DISTINCT name), avg(DISTINCT i) FROM t GROUP BY s ORDER BY s",
    "SELECT k % 1000 AS a, s, count(*), min(v), max(v) FROM t GROUP BY k % 1000, s ORDER BY a, s",
    "SELECT DISTINCT name FROM t ORDER BY name",
    "SELECT count(*), count(DISTINCT k), count(DISTINCT s) FROM t",
    "SELECT n, count(*) FROM (SELECT s, count(*) AS n FROM t GROUP BY s) GROUP BY n ORDER BY n",
};
#define NQ (int)(sizeof(g_queries) / sizeof(g_queries[0]))

/* Sorts (ties: their order is the stable one of the input) and joins (every kind; ordered on
 * every column, since a spilled join gives its rows in another order). */
static const char *const g_sort_join[] = {
    "SELECT k, i, name FROM t WHERE i < 60 ORDER BY k",
    "SELECT s, v FROM t WHERE i < 60 ORDER BY s DESC",
    "SELECT v, name, i FROM t WHERE i < 60 ORDER BY v NULLS LAST, i DESC",
    "SELECT t.k, t.i, sk.id, sk.name FROM t JOIN sk ON t.k = sk.k ORDER BY 1, 2, 3",
    "SELECT t.k, t.i, t.name, sk.id FROM t LEFT JOIN sk ON t.k = sk.k WHERE t.i < 30 "
    "ORDER BY 1, 2, 3, 4",
    "SELECT t.k, t.i, sk.id, sk.k FROM t RIGHT JOIN sk ON t.k = sk.k ORDER BY 3, 1, 2",
    "SELECT t.k, t.i, t.name, sk.id FROM (SELECT * FROM t WHERE i < 30) t FULL JOIN sk "
    "ON t.k = sk.k AND t.i < 20 ORDER BY 4, 1, 2, 3",
    "SELECT k, i, name FROM t LEFT SEMI JOIN sk ON t.k = sk.k ORDER BY 1, 2, 3",
    "SELECT k, i, name FROM t LEFT ANTI JOIN sk ON t.k = sk.k AND sk.id % 3 = 0 WHERE t.i < 30 "
    "ORDER BY 1, 2, 3",
    "SELECT x.k, count(*), count(y.id), sum(y.id) FROM (SELECT * FROM sk WHERE id < 100) x JOIN sk "
    "y ON x.k = y.k GROUP BY x.k ORDER BY 1",
};
#define NSJ (int)(sizeof(g_sort_join) / sizeof(g_sort_join[0]))

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* Each sort and join query on both shapes, in memory and spilling, with the spilling side's
 * log in logpath. */
static void sort_join(tbml_session_t *mem[2], tbml_session_t *sp[2], const char *logpath)
{
    fflush(stderr);
    int saved = dup(2), fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    tbml_log_level level = tbml_log_get_level();
    int same[NSJ][2];
    size_t len[NSJ][2];
    for (int q = 0; q < NSJ; q++)
        for (int k = 0; k < 2; k++) {
            char *want = run(mem[k], g_sort_join[q]);
            dup2(fd, 2);
            tbml_log_set_level(TBML_LOG_INFO);
            char *got = run(sp[k], g_sort_join[q]);
            tbml_log_set_level(level);
            fflush(stderr);
            dup2(saved, 2);
            same[q][k] = want && got && strcmp(want, got) == 0;
            len[q][k] = want ? strlen(want) : 0;
            free(want);
            free(got);
        }
    close(fd);
    close(saved);
    for (int q = 0; q < NSJ; q++)
        for (int k = 0; k < 2; k++) {
            CHECK(same[q][k]);
            if (!same[q][k])
                fprintf(stderr, "differs with %s partitions: %s\n", k ? "4" : "1", g_sort_join[q]);
            CHECK(len[q][k] > 1000);
        }
    CHECK(file_has(logpath, "sorted runs"));
    CHECK(file_has(logpath, "build side over its memory budget"));
    CHECK(file_has(logpath, "of its probe side"));
    CHECK(file_has(logpath, "does not split (a skewed key)"));
    CHECK(file_has(logpath, "split again"));
    CHECK(!file_has(logpath, "secret-name"));
}

/* A query that fails as it spills (each file may hold 64 KiB) leaves nothing behind, and the
 * session runs it afterwards. */
static void failure(tbml_session_t *mem, tbml_session_t *sp, const char *tmp)
{
    const char *q =
        "SELECT t.k, t.name, sk.name FROM t LEFT JOIN sk ON t.k = sk.k ORDER BY 1, 2, 3";
    int fds = count_entries("/proc/self/fd");
    struct rlimit old, small;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    small = old;
    small.rlim_cur = 65536;
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails (EFBIG) */
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    tbml_df_t *df = NULL;
    CHECK_OK(tbml_sql(sp, q, &df));
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    tbml_status st = df ? tbml_df_show(df, 1 << 30, f) : TBML_E_INTERNAL;
    fclose(f);
    free(text);
    tbml_df_free(df);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, oldsig);
    CHECK(st != TBML_OK);
    printf("a spill past the file size limit: %s\n", tbml_errmsg());
    CHECK(count_entries(tmp) == 0);
    CHECK(count_entries("/proc/self/fd") == fds);
    char *want = run(mem, q), *got = run(sp, q);
    CHECK(want && got && strcmp(want, got) == 0);
    free(want);
    free(got);
}

int main(void)
{
    /* spill files go under $TMPDIR: a folder of our own, to see that nothing stays there */
    char tmp[] = "/tmp/tbml-test-spill-XXXXXX";
    if (!mkdtemp(tmp)) return 2;
    setenv("TMPDIR", tmp, 1);

    tbml_session_t *bad;
    CHECK_OK(tbml_session_create(1, &bad));
    CHECK_ST(tbml_session_set_conf(bad, "spark.executor.memory", "lots"), TBML_E_ARG);
    CHECK_ST(tbml_session_set_conf(bad, "tbml.sql.aggMemory", "-5m"), TBML_E_ARG);
    CHECK_OK(tbml_session_set_conf(bad, "spark.executor.memory", "2g"));
    tbml_session_free(bad);

    /* in memory: one partition (SINGLE aggregates) and four (PARTIAL -> exchange -> FINAL);
     * spilling: the same shapes with a per-task budget, and through spark.executor.memory */
    tbml_session_t *mem1 = session(1, "1", NULL, NULL);
    tbml_session_t *mem4 = session(2, "4", NULL, NULL);
    tbml_session_t *sp1 = session(1, "1", "tbml.sql.aggMemory", "256k");
    tbml_session_t *sp4 = session(2, "4", "spark.executor.memory", "1m");
    int fds = count_entries("/proc/self/fd");
    struct {
        tbml_session_t *mem, *spill;
    } pairs[2] = {{mem1, sp1}, {mem4, sp4}};
    for (int q = 0; q < NQ; q++)
        for (int k = 0; k < 2; k++) {
            char *want = run(pairs[k].mem, g_queries[q]);
            char *got = run(pairs[k].spill, g_queries[q]);
            int same = want && got && strcmp(want, got) == 0;
            CHECK(same);
            if (!same) fprintf(stderr, "query %d differs with %s partitions\n", q, k ? "4" : "1");
            /* the in-memory result is not trivial */
            CHECK(want && strlen(want) > 100);
            free(want);
            free(got);
        }
    char logpath[sizeof(tmp) + 16];
    snprintf(logpath, sizeof(logpath), "%s.log", tmp);
    tbml_session_t *mems[2] = {mem1, mem4}, *sps[2] = {sp1, sp4};
    sort_join(mems, sps, logpath);
    unlink(logpath);
    failure(mem1, sp1, tmp);
    int64_t files, bytes;
    tbml_session_spill_stats(mem1, &files, &bytes);
    CHECK(files == 0 && bytes == 0);
    tbml_session_spill_stats(mem4, &files, &bytes);
    CHECK(files == 0 && bytes == 0);
    tbml_session_spill_stats(sp1, &files, &bytes);
    printf("one partition, 256k per task: %lld spill files, %lld bytes\n", (long long)files,
           (long long)bytes);
    CHECK(files > 16 && bytes > 100000); /* more than one level */
    tbml_session_spill_stats(sp4, &files, &bytes);
    printf("four partitions, 1m executor memory on 2 threads: %lld spill files, %lld bytes\n",
           (long long)files, (long long)bytes);
    CHECK(files > 0 && bytes > 0);

    /* nothing left behind: the scratch folders are gone (spill files never had names) */
    CHECK(count_entries(tmp) == 0);
    CHECK(count_entries("/proc/self/fd") == fds);
    tbml_session_free(mem1);
    tbml_session_free(mem4);
    tbml_session_free(sp1);
    tbml_session_free(sp4);
    CHECK(count_entries(tmp) == 0);
    rmdir(tmp);
    return check_done();
}
