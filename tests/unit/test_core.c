/* Core: error messages, log-level parsing, the thread pool's ith/nth split, atomic outputs. */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct sum_arg {
    long partial[8];
    int seen[8];
};

static void sum_task(int ith, int nth, void *p)
{
    struct sum_arg *a = p;
    long s = 0;
    for (long i = ith; i < 1000000; i += nth) s += i;
    a->partial[ith] = s;
    a->seen[ith]++;
}

int main(void)
{
    /* errors carry context and prefixes stack */
    CHECK(tbml_error(TBML_E_IO, "%s: boom", "a.csv") == TBML_E_IO);
    CHECK(strcmp(tbml_errmsg(), "a.csv: boom") == 0);
    tbml_error_prefix(TBML_E_IO, "job 7: ");
    CHECK(strcmp(tbml_errmsg(), "job 7: a.csv: boom") == 0);
    CHECK(strcmp(tbml_strerror(TBML_E_AUTH), "authentication failed") == 0);

    tbml_log_level lvl;
    CHECK_OK(tbml_log_level_parse("DEBUG", &lvl));
    CHECK(lvl == TBML_LOG_DEBUG);
    CHECK_ST(tbml_log_level_parse("loud", &lvl), TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "loud") != NULL);

    /* each thread runs once per task with its own ith, for several tasks in a row */
    for (int nth = 1; nth <= 4; nth++) {
        tbml_pool_t *pool;
        CHECK_OK(tbml_pool_create(nth, &pool));
        for (int round = 0; round < 50; round++) {
            struct sum_arg a = {0};
            tbml_pool_run(pool, sum_task, &a);
            long total = 0;
            for (int i = 0; i < nth; i++) {
                total += a.partial[i];
                CHECK(a.seen[i] == 1);
            }
            CHECK(total == 999999L * 1000000L / 2);
        }
        tbml_pool_free(pool);
    }

    /* an aborted output leaves nothing; a committed one appears whole */
    char dir[] = "/tmp/tbml-test-core-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    tbml_outfile_t *f;
    CHECK_OK(tbml_outfile_open(path, &f));
    CHECK_OK(tbml_outfile_write(f, "half", 4));
    tbml_outfile_abort(f);
    struct stat sb;
    CHECK(stat(path, &sb) != 0);
    CHECK_OK(tbml_outfile_open(path, &f));
    CHECK_OK(tbml_outfile_write(f, "whole", 5));
    CHECK_OK(tbml_outfile_commit(f));
    CHECK(stat(path, &sb) == 0 && sb.st_size == 5 && (sb.st_mode & 0777) == 0600);
    /* commit_new never replaces: the existing file keeps its content, no temporary is left */
    CHECK_OK(tbml_outfile_open(path, &f));
    CHECK_OK(tbml_outfile_write(f, "other", 5));
    CHECK_ST(tbml_outfile_commit_new(f), TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "already exists") != NULL);
    FILE *fp = fopen(path, "r");
    char got[16] = {0};
    CHECK(fp && fread(got, 1, sizeof(got), fp) == 5 && memcmp(got, "whole", 5) == 0);
    if (fp) fclose(fp);
    unlink(path);
    char fresh[300];
    snprintf(fresh, sizeof(fresh), "%s/new.txt", dir);
    CHECK_OK(tbml_outfile_open(fresh, &f));
    CHECK_OK(tbml_outfile_write(f, "new", 3));
    CHECK_OK(tbml_outfile_commit_new(f));
    CHECK(stat(fresh, &sb) == 0 && sb.st_size == 3);
    unlink(fresh);

    /* whole-file helpers: write_file replaces path with buf + tail, read_file reads it back,
     * refuse_existing sees it; a missing file is NOTFOUND, a too-large one FORMAT */
    uint8_t *rb = NULL;
    size_t rsize = 0;
    CHECK_OK(tbml_refuse_existing(fresh));
    CHECK_ST(tbml_read_file(fresh, 64, &rb, &rsize), TBML_E_NOTFOUND);
    CHECK(strstr(tbml_errmsg(), fresh) != NULL);
    CHECK_OK(tbml_write_file(fresh, "abc", 3, "\n"));
    CHECK(stat(fresh, &sb) == 0 && sb.st_size == 4);
    CHECK_ST(tbml_refuse_existing(fresh), TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "already exists") != NULL);
    CHECK_OK(tbml_write_file(fresh, "xy", 2, NULL)); /* replaces */
    CHECK_OK(tbml_read_file(fresh, 64, &rb, &rsize));
    CHECK(rb && rsize == 2 && memcmp(rb, "xy", 2) == 0);
    tbml_free(rb);
    rb = NULL;
    CHECK_ST(tbml_read_file(fresh, 1, &rb, &rsize), TBML_E_FORMAT);
    CHECK(rb == NULL);
    /* read_some: what is there, then 0 at end of file; a bad fd fails naming the path */
    int rfd = open(fresh, O_RDONLY);
    char rbuf[8];
    size_t rgot = 99;
    CHECK_OK(tbml_read_some(rfd, rbuf, sizeof(rbuf), fresh, &rgot));
    CHECK(rgot == 2 && memcmp(rbuf, "xy", 2) == 0);
    CHECK_OK(tbml_read_some(rfd, rbuf, sizeof(rbuf), fresh, &rgot));
    CHECK(rgot == 0);
    close(rfd);
    rgot = 99;
    CHECK_ST(tbml_read_some(rfd, rbuf, sizeof(rbuf), "closed-fd", &rgot), TBML_E_IO);
    CHECK(strstr(tbml_errmsg(), "closed-fd: read failed") != NULL && rgot == 99);
    unlink(fresh);
    CHECK(rmdir(dir) == 0); /* fails if a temporary was left behind */
    return check_done();
}
