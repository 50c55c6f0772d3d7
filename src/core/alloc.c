/* Allocation that aborts on exhaustion, so callers carry no unreachable recovery paths. */
#include "tbml/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *check(void *p, size_t size)
{
    if (!p && size) {
        fprintf(stderr, "tbml: out of memory allocating %zu bytes\n", size);
        abort();
    }
    return p;
}

void *tbml_malloc(size_t size) { return check(malloc(size ? size : 1), size); }
void *tbml_calloc(size_t count, size_t size)
{
    return check(calloc(count ? count : 1, size ? size : 1), count * size);
}
void *tbml_realloc(void *p, size_t size) { return check(realloc(p, size ? size : 1), size); }
char *tbml_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(tbml_malloc(n), s, n);
}
void tbml_free(void *p) { free(p); }
