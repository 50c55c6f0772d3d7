/* A tiny test harness: CHECK records failures without stopping, CHECK_OK checks a status and
 * prints tbml_errmsg() on failure, check_done() prints "N passed, N failed" and gives the exit
 * code. One header, no framework, as SQLite's and libsodium's tests are. */
#ifndef TBML_TEST_CHECK_H
#define TBML_TEST_CHECK_H

#include "tbml/tbml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_check_pass, g_check_fail;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            g_check_pass++;                                                                        \
        } else {                                                                                   \
            g_check_fail++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        tbml_status check_st_ = (expr);                                                            \
        if (check_st_ == TBML_OK) {                                                                \
            g_check_pass++;                                                                        \
        } else {                                                                                   \
            g_check_fail++;                                                                        \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #expr,              \
                    tbml_strerror(check_st_), tbml_errmsg());                                      \
        }                                                                                          \
    } while (0)

#define CHECK_ST(expr, want)                                                                       \
    do {                                                                                           \
        tbml_status check_st_ = (expr);                                                            \
        if (check_st_ == (want)) {                                                                 \
            g_check_pass++;                                                                        \
        } else {                                                                                   \
            g_check_fail++;                                                                        \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n", __FILE__, __LINE__,       \
                    #expr, tbml_strerror(check_st_), tbml_strerror(want), tbml_errmsg());          \
        }                                                                                          \
    } while (0)

/* Parses hex into out (size bytes); aborts the test on bad hex. */
static inline void check_unhex(const char *hex, uint8_t *out, size_t size)
{
    if (strlen(hex) != 2 * size) {
        fprintf(stderr, "bad test vector length\n");
        exit(2);
    }
    for (size_t i = 0; i < size; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) exit(2);
        out[i] = (uint8_t)v;
    }
}

/* The whole file at path, NUL-terminated (free() it), its size in *n; NULL if it cannot be
 * opened. */
static inline char *check_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    b[*n] = 0;
    fclose(f);
    return b;
}

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", g_check_pass, g_check_fail);
    return g_check_fail ? 1 : 0;
}

#endif
