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

void tbml_bytes_put(tbml_bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = tbml_realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}

void tbml_bytes_put_u32(tbml_bytes *b, uint32_t v)
{
    uint8_t w[4];
    for (int i = 0; i < 4; i++)
        w[i] = (uint8_t)(v >> (8 * i));
    tbml_bytes_put(b, w, 4);
}

void tbml_bytes_put_u64(tbml_bytes *b, uint64_t v)
{
    uint8_t w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (uint8_t)(v >> (8 * i));
    tbml_bytes_put(b, w, 8);
}
