/* Sealed spill files: round trips of many sizes, only ciphertext on disk, nothing named in the
 * folder, tampering detected, and the folder gone after free, exit and a fatal signal. */
#include "check.h"

#include "tbml/scratch.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)("PLAINTEXT-ROW-"[i % 14] + (i / 14 + seed) % 3);
}

static void test_round_trip(void)
{
    tbml_scratch_t *s;
    CHECK_OK(tbml_scratch_create(NULL, &s));
    char dir[600];
    snprintf(dir, sizeof(dir), "%s", tbml_scratch_dir(s));
    struct stat sb;
    CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 1000003};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        uint8_t *pt = tbml_malloc(n + 1), *back = tbml_malloc(n + 1);
        fill(pt, n, (unsigned)k);
        tbml_spill_t *f;
        CHECK_OK(tbml_spill_create(s, &f));
        /* written in uneven pieces */
        for (size_t off = 0; off < n;) {
            size_t piece = (n - off) < 7777 ? n - off : 7777;
            CHECK_OK(tbml_spill_write(f, pt + off, piece));
            off += piece;
        }
        CHECK(dir_entries(dir) == 0); /* nothing named, even while writing */
        CHECK_OK(tbml_spill_finish(f));
        CHECK(tbml_spill_size(f) == n);
        size_t got = 0;
        CHECK_OK(tbml_spill_pread(f, back, n + 1, 0, &got));
        CHECK(got == n && memcmp(pt, back, n) == 0);
        if (n > 100) {
            CHECK_OK(tbml_spill_pread(f, back, 50, n - 70, &got));
            CHECK(got == 50 && memcmp(back, pt + n - 70, 50) == 0);
        }
        /* what reached the disk is not the plaintext */
        off_t disk = lseek(tbml_spill_fd(f), 0, SEEK_END);
        uint8_t *raw = tbml_malloc((size_t)disk + 1);
        CHECK(pread(tbml_spill_fd(f), raw, (size_t)disk, 0) == disk);
        CHECK(n < 14 || memmem(raw, (size_t)disk, "PLAINTEXT-ROW", 13) == NULL);
        tbml_free(raw);
        tbml_spill_free(f);
        tbml_free(pt);
        tbml_free(back);
    }
    /* a flipped bit in any segment on disk is caught: fresh file, damaged after finish (which
     * authenticated the header: it is not read again) and before the first read */
    for (off_t at = 300; at < 200000; at += 33331) {
        uint8_t *pt = tbml_malloc(200000), *back = tbml_malloc(200000);
        fill(pt, 200000, 9);
        tbml_spill_t *f;
        size_t got;
        CHECK_OK(tbml_spill_create(s, &f));
        CHECK_OK(tbml_spill_write(f, pt, 200000));
        CHECK_OK(tbml_spill_finish(f));
        uint8_t b;
        CHECK(pread(tbml_spill_fd(f), &b, 1, at) == 1);
        b ^= 4;
        CHECK(pwrite(tbml_spill_fd(f), &b, 1, at) == 1);
        CHECK_ST(tbml_spill_pread(f, back, 200000, 0, &got), TBML_E_AUTH);
        tbml_spill_free(f);
        tbml_free(pt);
        tbml_free(back);
    }
    tbml_scratch_free(s);
    CHECK(!exists(dir));
}

/* A child makes a scratch folder and ends as told; the parent checks what is left. */
static void test_exit_paths(void)
{
    for (int how = 0; how < 3; how++) { /* 0: exit(1), 1: SIGTERM, 2: SIGKILL */
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            tbml_scratch_t *s;
            tbml_spill_t *f;
            if (tbml_scratch_create(NULL, &s) || tbml_spill_create(s, &f)) _exit(3);
            if (tbml_spill_write(f, "secret rows", 11)) _exit(3);
            char dir[600];
            snprintf(dir, sizeof(dir), "%s", tbml_scratch_dir(s));
            if (write(fds[1], dir, sizeof(dir)) != (ssize_t)sizeof(dir)) _exit(3);
            close(fds[1]);
            if (how == 0) exit(1);
            raise(how == 1 ? SIGTERM : SIGKILL);
            _exit(4);
        }
        close(fds[1]);
        char dir[600] = {0};
        CHECK(read(fds[0], dir, sizeof(dir)) == (ssize_t)sizeof(dir));
        close(fds[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (how == 0) CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        if (how == 1) CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        if (how < 2) {
            CHECK(!exists(dir));
        } else {
            /* SIGKILL cannot be caught: the empty folder stays, but no file was ever named */
            CHECK(dir_entries(dir) == 0);
            rmdir(dir);
        }
    }
}

int main(void)
{
    test_round_trip();
    test_exit_paths();
    return check_done();
}
