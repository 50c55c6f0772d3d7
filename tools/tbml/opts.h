/* Small option-parsing helpers shared by the keygen/encrypt/decrypt/inspect commands:
 * "--opt VALUE" and "--opt=VALUE" forms, and number parsing with clear usage errors. */
#ifndef TBML_CLI_OPTS_H
#define TBML_CLI_OPTS_H

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

#endif
