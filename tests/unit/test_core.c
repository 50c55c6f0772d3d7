/* Core: error messages, log-level parsing, the thread pool's ith/nth split, atomic outputs. */
#include "check.h"

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
    unlink(path);
    rmdir(dir);
    return check_done();
}
