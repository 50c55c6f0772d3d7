/* Distributed reads (tbml_read_options.comm): three ranks (the local backend's threads) each read
 * their share of small ranges of generated CSV, JSON and text files whose column types change
 * late in the file. Every rank must infer the schema one process infers, hold exactly the ranges
 * k with k % 3 == rank with the rows one process reads for them, and agree on the total row
 * count, the malformed-record count and the FAILFAST message (FILE:LINE:COL of the first bad
 * record in file order). The same files cut into directories of part files (with an empty part
 * and _SUCCESS) are split the same way, their ranges numbered on across the parts, with the
 * types merged over parts that infer other types alone. Leak-checked under asan. */
#include "check.h"
#include "tbml/comm.h"
#include "tbml/readers.h"
#include "tbml/show.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NRANKS 3
#define RANGE 2048

enum {
    F_CSV,
    F_CSV_STRINGS,
    F_JSON,
    F_TEXT,
    F_BAD_PERMISSIVE,
    F_BAD_FAILFAST,
    /* the same as directories of part files */
    F_DIR_CSV,
    F_DIR_CSV_STRINGS,
    F_DIR_JSON,
    F_DIR_TEXT,
    F_DIR_BAD_PERMISSIVE,
    F_DIR_BAD_FAILFAST,
    NCASES
};
#define NFILE_CASES F_DIR_CSV

typedef struct {
    tbml_status st;
    char msg[512];
    tbml_table *t;
    int64_t bad;
} result;

typedef struct {
    const char *path[2][3]; /* [directory][csv, json, bad] */
    int which;
    result r[NRANKS];
} job;

static tbml_status read_case(const job *j, tbml_comm_t *c, tbml_pool_t *pool, result *r)
{
    tbml_read_options o;
    tbml_read_options_init(&o);
    o.pool = pool;
    o.comm = c;
    o.chunk_size = RANGE;
    int which = j->which % NFILE_CASES, isdir = j->which >= NFILE_CASES;
    o.header = which != F_JSON && which != F_TEXT;
    o.infer_schema = which != F_CSV_STRINGS;
    if (which == F_BAD_FAILFAST) o.mode = TBML_MODE_FAILFAST;
    const char *path = j->path[isdir][which == F_JSON ? 1 : which >= F_BAD_PERMISSIVE ? 2 : 0];
    tbml_status st = which == F_JSON   ? tbml_read_json(path, &o, &r->t)
                     : which == F_TEXT ? tbml_read_text(path, &o, &r->t)
                                       : tbml_read_csv(path, &o, &r->t);
    r->st = st;
    snprintf(r->msg, sizeof(r->msg), "%s", st ? tbml_errmsg() : "");
    r->bad = o.bad_records;
    return TBML_OK;
}

static job *g_job;

static tbml_status rank_main(tbml_comm_t *c, void *arg)
{
    (void)arg;
    tbml_pool_t *pool;
    tbml_status st = tbml_pool_create(2, &pool);
    if (st) return st;
    st = read_case(g_job, c, pool, &g_job->r[tbml_comm_rank(c)]);
    tbml_pool_free(pool);
    return st;
}

/* show() text of batch i of t alone */
static char *batch_text(const tbml_table *t, int64_t i)
{
    tbml_table one = {t->schema, 1, &t->batches[i], 1, NULL};
    return tbml_show_string(&one, 1 << 30, 0);
}

static int64_t find_range(const tbml_table *t, int64_t k)
{
    for (int64_t i = 0; i < t->nbatches; i++)
        if (t->ranges->range[i] == k) return i;
    return -1;
}

static void compare(const job *j, const result *ref)
{
    int64_t batches = 0;
    for (int r = 0; r < NRANKS; r++) {
        const result *x = &j->r[r];
        CHECK(x->st == ref->st);
        CHECK(strcmp(x->msg, ref->msg) == 0);
        if (strcmp(x->msg, ref->msg) != 0)
            fprintf(stderr, "case %d rank %d: '%s' != '%s'\n", j->which, r, x->msg, ref->msg);
        if (ref->st || x->st) continue;
        CHECK(x->bad == ref->bad);
        const tbml_table *t = x->t, *u = ref->t;
        CHECK(t->schema.nfields == u->schema.nfields);
        for (int f = 0; f < t->schema.nfields && f < u->schema.nfields; f++) {
            CHECK(strcmp(t->schema.fields[f].name, u->schema.fields[f].name) == 0);
            CHECK(t->schema.fields[f].type == u->schema.fields[f].type);
        }
        CHECK(t->ranges && t->ranges->size == NRANKS && t->ranges->rank == r);
        if (!t->ranges) continue;
        CHECK(t->ranges->rows == u->ranges->rows && t->ranges->nranges == u->ranges->nranges);
        for (int64_t i = 0; i < t->nbatches; i++) {
            int64_t k = t->ranges->range[i], ui = find_range(u, k);
            CHECK(k % NRANKS == r);
            CHECK(ui >= 0);
            if (ui < 0) continue;
            char *a = batch_text(t, i), *b = batch_text(u, ui);
            CHECK(strcmp(a, b) == 0);
            tbml_free(a);
            tbml_free(b);
        }
        batches += t->nbatches;
    }
    if (!ref->st) CHECK(batches == ref->t->nbatches);
}

/* The part files of the directories: rows [1000 k, 1000 (k + 1)) in part k, each CSV part with
 * the header; part 3 is empty. Alone, part 0's b is all NULL and its a long, part 2's a double,
 * b timestamp and d string. */
#define NPARTS 4
static FILE *part(const char *dir, int k, const char *ext)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/part-%05d.%s", dir, k, ext);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    return f;
}

/* The same line to a file and to a part file. */
__attribute__((format(printf, 3, 4))) static void put2(FILE *f, FILE *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    vfprintf(g, fmt, ap);
    va_end(ap);
}

static void remove_tree(const char *dir, const char *sub)
{
    char path[300];
    const char *ext = strcmp(sub, "j") == 0 ? "json" : "csv";
    for (int k = 0; k < NPARTS; k++) {
        snprintf(path, sizeof(path), "%s/%s/part-%05d.%s", dir, sub, k, ext);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/%s/_SUCCESS", dir, sub);
    unlink(path);
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    rmdir(path);
}

int main(void)
{
    char dir[] = "/tmp/tbml-readers-dist-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char csv[256], json[256], bad[256], dcsv[256], djson[256], dbad[256];
    snprintf(csv, sizeof(csv), "%s/w.csv", dir);
    snprintf(json, sizeof(json), "%s/w.json", dir);
    snprintf(bad, sizeof(bad), "%s/bad.csv", dir);
    snprintf(dcsv, sizeof(dcsv), "%s/c", dir);
    snprintf(djson, sizeof(djson), "%s/j", dir);
    snprintf(dbad, sizeof(dbad), "%s/b", dir);
    FILE *fc = fopen(csv, "w"), *fj = fopen(json, "w"), *fb = fopen(bad, "w");
    CHECK(fc && fj && fb);
    FILE *pc[NPARTS], *pj[NPARTS], *pb[NPARTS];
    const char *dirs[] = {dcsv, djson, dbad};
    for (int d = 0; d < 3; d++) {
        CHECK(mkdir(dirs[d], 0700) == 0);
        char path[300];
        snprintf(path, sizeof(path), "%s/_SUCCESS", dirs[d]);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f) fclose(f);
    }
    for (int k = 0; k < NPARTS; k++) {
        pc[k] = part(dcsv, k, "csv");
        pj[k] = part(djson, k, "json");
        pb[k] = part(dbad, k, "csv");
        if (k < NPARTS - 1) {
            fprintf(pc[k], "id,a,b,c,d\n");
            fprintf(pb[k], "id,a,b,c,d\n");
        }
    }
    fprintf(fc, "id,a,b,c,d\n");
    fprintf(fb, "id,a,b,c,d\n");
    for (int i = 0; i < 3000; i++) {
        /* a: long, then double; b: null, then date, then timestamp; d: boolean, one string */
        char a[32], b[40];
        if (i < 2500)
            snprintf(a, sizeof(a), "%d", i * 7 % 1000);
        else
            snprintf(a, sizeof(a), "%d.5", i);
        if (i < 1000)
            b[0] = '\0';
        else if (i < 2900)
            snprintf(b, sizeof(b), "2024-%02d-%02d", 1 + i % 12, 1 + i % 28);
        else
            snprintf(b, sizeof(b), "2024-03-01 12:00:%02d", i % 60);
        const char *d = i == 2990 ? "maybe" : i % 3 ? "true" : "false";
        /* each line to the file and to its part */
        int k = i / 1000;
        put2(fc, pc[k], "%d,%s,%s,x%d,%s\n", i, a, b, i % 17, d);
        if (i == 1500 || i == 2700)
            put2(fb, pb[k], "%d,%s,%s,x%d,%s,extra\n", i, a, b, i % 17, d);
        else if (i == 2100)
            put2(fb, pb[k], "%d,not a number,%s,x,true\n", i, b);
        else
            put2(fb, pb[k], "%d,%s,%s,x%d,%s\n", i, a, b, i % 17, d);
        put2(fj, pj[k], "{\"id\": %d, \"x\": %s, \"g\": \"g%d\"%s}\n", i, a, i % 5,
             i >= 2950 ? ", \"late\": [1, 2]" : "");
    }
    fclose(fc);
    fclose(fj);
    fclose(fb);
    for (int k = 0; k < NPARTS; k++) {
        fclose(pc[k]);
        fclose(pj[k]);
        fclose(pb[k]);
    }

    tbml_key_t *key = NULL;
    CHECK_OK(tbml_key_generate("readers-job", &key));
    for (int which = 0; which < NCASES; which++) {
        job j = {{{csv, json, bad}, {dcsv, djson, dbad}}, which, {{0}}};
        result ref = {0};
        tbml_pool_t *pool;
        CHECK_OK(tbml_pool_create(2, &pool));
        CHECK_OK(read_case(&j, NULL, pool, &ref));
        tbml_pool_free(pool);
        int kind = which % NFILE_CASES;
        CHECK((ref.st != 0) == (kind == F_BAD_FAILFAST));
        if (!ref.st) CHECK(ref.t->ranges && ref.t->ranges->nranges > 20);
        if (kind == F_BAD_PERMISSIVE) CHECK(ref.bad == 2); /* "not a number" makes a a string */
        if (which == F_BAD_FAILFAST) CHECK(strstr(ref.msg, "bad.csv:1502:") != NULL);
        /* in the part of rows 1000..1999, after its header */
        if (which == F_DIR_BAD_FAILFAST) CHECK(strstr(ref.msg, "part-00001.csv:502:") != NULL);
        if (which >= NFILE_CASES && !ref.st) {
            /* the rows and schema of the file the parts were cut from */
            job f = j;
            f.which = kind;
            result one = {0};
            CHECK_OK(tbml_pool_create(2, &pool));
            CHECK_OK(read_case(&f, NULL, pool, &one));
            tbml_pool_free(pool);
            CHECK(one.st == TBML_OK && one.bad == ref.bad);
            if (!one.st) {
                char *a = tbml_show_string(ref.t, 1 << 30, 0);
                char *b = tbml_show_string(one.t, 1 << 30, 0);
                /* text reads each part's header line too */
                if (kind != F_TEXT) CHECK(strcmp(a, b) == 0);
                CHECK(ref.t->ranges->rows == one.t->ranges->rows + (kind == F_TEXT) * 2);
                tbml_free(a);
                tbml_free(b);
            }
            tbml_table_free(one.t);
        }
        g_job = &j;
        tbml_local_world_t *w = NULL;
        CHECK_OK(tbml_local_world_create(NRANKS, &w));
        tbml_comm_options o = {.job_key = key, .crypto_threads = -1};
        tbml_status st[NRANKS];
        char msg[NRANKS][256];
        CHECK_OK(tbml_local_run(w, &o, 0, rank_main, NULL, st, msg));
        for (int r = 0; r < NRANKS; r++)
            CHECK_OK(st[r]);
        compare(&j, &ref);
        for (int r = 0; r < NRANKS; r++)
            tbml_table_free(j.r[r].t);
        tbml_table_free(ref.t);
        tbml_local_world_free(w);
    }
    tbml_key_free(key);
    unlink(csv);
    unlink(json);
    unlink(bad);
    remove_tree(dir, "c");
    remove_tree(dir, "j");
    remove_tree(dir, "b");
    rmdir(dir);
    return check_done();
}
