/* Helpers shared by the keygen/encrypt/decrypt/inspect commands: "--opt VALUE" and
 * "--opt=VALUE" options, numbers with clear usage errors, and opening inputs and keys so
 * failures name the file before anyone is asked for a password. */
#ifndef TBML_CLI_OPTS_H
#define TBML_CLI_OPTS_H

#include "cli.h"

#include <stdint.h>

/* If argv[*i] is name or name=VALUE, sets *value (the next argument, or the part after '='),
 * advances *i past what it used and returns 1. Returns 0 if argv[*i] is another option, and -1
 * after printing a usage error when the value is missing. */
int opt_value(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses a size for option opt: decimal digits, optionally followed by k/K (KiB) or m/M (MiB).
 * Prints a usage error and returns -1 on anything else or past max. */
int opt_size(const char *opt, const char *s, uint64_t max, uint64_t *out);
/* The same for a plain count: decimal digits only. */
int opt_count(const char *opt, const char *s, uint64_t max, uint64_t *out);

/* Opens path for reading ("-" is stdin, fd 0, not closed by opt_close_input). Refuses folders.
 * Messages name the path. */
TBML_NODISCARD tbml_status opt_open_input(const char *path, int *out_fd);
void opt_close_input(int fd);
/* The name of path in messages: "stdin"/"stdout" for "-". */
const char *opt_input_name(const char *path);
const char *opt_output_name(const char *path);

/* Loads a primary key file: first checks that it exists and is readable (so a missing key
 * fails before a password prompt), then reads the password from src and opens the key. */
TBML_NODISCARD tbml_status opt_load_key(const char *path, const cli_password_source *src,
                                        tbml_key_t **out);

/* What encrypt and decrypt are given: a key file, where its password comes from, IN and OUT. */
typedef struct {
    const char *key_path, *in, *out;
    cli_password_source pw;
} opt_crypt_args;

/* Parses "--key F [password options] [extra_name V] [--] IN OUT" for encrypt and decrypt
 * (extra_name NULL: no extra option; its value goes to *extra_value). --help prints usage.
 * Returns -1 when the command should go on with *a filled, else the exit code: 0 after --help,
 * 2 after a usage error (already printed). */
int opt_crypt_parse(int argc, char **argv, const char *usage, const char *extra_name,
                    const char **extra_value, opt_crypt_args *a);

/* Makes sure the current error message names a file: if it names none of name, also1, also2
 * (either may be NULL), prefixes "name: ". Returns st. */
tbml_status opt_name_in_error(tbml_status st, const char *name, const char *also1,
                              const char *also2);

#endif
