/* Shared by the examples: loading the key for sealed inputs from `--key FILE --password-file F`
 * (the password never comes from argv or the environment), and failing with one clear line. */
#ifndef TBML_EXAMPLE_UTIL_H
#define TBML_EXAMPLE_UTIL_H

#include "tbml/comm.h"
#include "tbml/tbml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static inline int example_fail(const char *prog, tbml_status st)
{
    const char *msg = tbml_errmsg();
    fprintf(stderr, "%s: %s\n", prog, msg[0] ? msg : tbml_strerror(st));
    return 1;
}

/* Reads the first line of password_file into secure memory and opens key_file with it. */
static inline tbml_status example_load_key(const char *key_file, const char *password_file,
                                           tbml_key_t **out)
{
    enum { MAXPW = 1024 };
    if (!password_file)
        return tbml_error(TBML_E_ARG,
                          "--key needs --password-file F (passwords never come from argv)");
    int fd = open(password_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: cannot open: %s", password_file, strerror(errno));
    char *pw = tbml_secure_alloc(MAXPW + 1);
    size_t n = 0;
    ssize_t r;
    while (n < MAXPW && (r = read(fd, pw + n, MAXPW - n)) > 0)
        n += (size_t)r;
    close(fd);
    char *nl = memchr(pw, '\n', n);
    if (nl) n = (size_t)(nl - pw);
    if (n && pw[n - 1] == '\r') n--;
    pw[n] = '\0';
    tbml_status st = n ? tbml_keyfile_read(key_file, pw, n, out)
                       : tbml_error(TBML_E_PASSWORD, "%s: empty password", password_file);
    tbml_secure_free(pw, MAXPW + 1);
    return st;
}

typedef struct {
    const char *key_file, *password_file;
} example_key_source;

static inline tbml_status example_key_load(void *arg, tbml_key_t **out)
{
    const example_key_source *k = arg;
    return example_load_key(k->key_file, k->password_file, out);
}

/* example_load_key on rank 0 of comm, the key shared with the other ranks over the sealed channel
 * (one Argon2id derivation for the job, not one per rank); comm NULL or one rank: plain load. */
static inline tbml_status example_load_key_shared(tbml_comm_t *comm, const char *key_file,
                                                  const char *password_file, tbml_key_t **out)
{
    example_key_source k = {key_file, password_file};
    return tbml_comm_share_key(comm, example_key_load, &k, out);
}

/* Takes --key FILE and --password-file F out of argv (anywhere before the positional args).
 * Returns 0, or -1 on a missing value (message printed). */
static inline int example_key_options(int *argc, char **argv, const char **key_file,
                                      const char **password_file)
{
    int w = 1;
    for (int i = 1; i < *argc; i++) {
        const char **dst = strcmp(argv[i], "--key") == 0             ? key_file
                           : strcmp(argv[i], "--password-file") == 0 ? password_file
                                                                     : NULL;
        if (!dst) {
            argv[w++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[i]);
            return -1;
        }
        *dst = argv[++i];
    }
    argv[w] = NULL;
    *argc = w;
    return 0;
}

#endif
