/* Shared pieces of the tbml tool: failing with one clear line, global options, and reading
 * passwords without ever taking them from argv or the environment. */
#ifndef TBML_CLI_H
#define TBML_CLI_H

#include "tbml/tbml.h"

#include <stdio.h>

#define TBML_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "commands.def"
#undef TBML_COMMAND

/* The running subcommand's name, for messages ("tbml encrypt: ..."). */
extern const char *g_cli_command;

/* Prints "tbml CMD: <tbml_errmsg() or strerror(st)>" on stderr and returns the exit code for st
 * (1 for most failures, 2 for usage errors). */
int cli_fail(tbml_status st);
/* Prints "tbml CMD: <message>" plus a hint to run --help, returns 2. */
int cli_usage_error(const char *fmt, ...) TBML_PRINTF(1, 2);

/* 1 if arg is -h or --help. */
int cli_is_help(const char *arg);

/* Where a password comes from: --password-file F or --password-fd N; else the TTY. */
typedef struct {
    const char *file;
    int fd; /* -1 if not given */
} cli_password_source;

/* Tries to take a password option at argv[*i] (--password-file F, --password-fd N, also the
 * --opt=value forms). Returns 1 and advances *i if it did, 0 if argv[*i] is something else,
 * -1 on a usage error (already printed). */
int cli_password_option(int argc, char **argv, int *i, cli_password_source *src);

/* Reads a password: first line of the file or fd (trailing newline dropped), else a prompt on
 * /dev/tty with echo off (twice when confirm). Fails with a clear message when no source exists
 * (stdin not a TTY and no option). The result is in secure memory: free with cli_password_free. */
TBML_NODISCARD tbml_status cli_password_read(const cli_password_source *src, const char *prompt,
                                             int confirm, char **out, size_t *out_size);
void cli_password_free(char *pw, size_t size);

/* Loads a primary key file, getting its password from src. Messages name the key file. */
TBML_NODISCARD tbml_status cli_load_key(const char *path, const cli_password_source *src,
                                        tbml_key_t **out);
/* cli_load_key on rank 0 of comm, the key sent to the other ranks over the sealed channel: one
 * password prompt and one Argon2id for the job. comm NULL or one rank: cli_load_key. */
TBML_NODISCARD tbml_status cli_load_key_shared(struct tbml_comm *comm, const char *path,
                                               const cli_password_source *src, tbml_key_t **out);

#endif
