/* Per-statement arena: the AST, bound expressions and plans of one statement live here and
 * are freed at once when the statement ends (STYLE.md: per-query memory from an arena). Also
 * the error helper that points at a position in the query. */
#include "sql_int.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct sql_arena_block {
    sql_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void *sql_alloc(sql_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    sql_arena_block *b = a->head;
    if (!b || b->used + size > b->size) {
        size_t cap = size > 16384 ? size : 16384;
        b = tbml_malloc(sizeof(*b) + cap);
        b->size = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *sql_strndup(sql_arena *a, const char *s, size_t n)
{
    char *p = sql_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sql_strdup(sql_arena *a, const char *s)
{
    return sql_strndup(a, s, strlen(s));
}

char *sql_printf(sql_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = sql_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void sql_arena_free(sql_arena *a)
{
    sql_arena_block *b = a->head;
    while (b) {
        sql_arena_block *next = b->next;
        tbml_free(b);
        b = next;
    }
    a->head = NULL;
}

void sql_push(sql_arena *a, void ***arr, int *n, int *cap, void *p)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        void **na = sql_alloc(a, (size_t)nc * sizeof(void *));
        if (*n) memcpy(na, *arr, (size_t)*n * sizeof(void *));
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = p;
}

tbml_status sql_error_at(tbml_status st, const char *src, int pos, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!src) return tbml_error(st, "%s", msg);
    int len = (int)strlen(src);
    if (pos < 0) pos = 0;
    if (pos > len) pos = len;
    int line = 1, ls = 0;
    for (int i = 0; i < pos; i++)
        if (src[i] == '\n') {
            line++;
            ls = i + 1;
        }
    int le = ls;
    while (le < len && src[le] != '\n')
        le++;
    int col = pos - ls;
    /* show at most 100 characters of a long line, keeping the caret in view */
    int from = ls, to = le;
    if (to - from > 100) {
        from = pos - 60 > ls ? pos - 60 : ls;
        to = from + 100 < le ? from + 100 : le;
    }
    char caret[128];
    int c = pos - from;
    if (c < 0) c = 0;
    if (c > 120) c = 120;
    memset(caret, ' ', (size_t)c);
    caret[c] = '^';
    caret[c + 1] = '\0';
    /* tabs keep their width in the caret line */
    for (int i = 0; i < c; i++)
        if (src[from + i] == '\t') caret[i] = '\t';
    return tbml_error(st, "%d:%d: %s\n  %.*s\n  %s", line, col + 1, msg, to - from, src + from,
                      caret);
}

void sql_ctx_keep_regex(sql_ctx *cx, void *re)
{
    sql_push(cx->a, &cx->regexes, &cx->nregexes, &cx->capregexes, re);
}

void sql_ctx_keep_set(sql_ctx *cx, sql_vset *set)
{
    sql_push(cx->a, (void ***)&cx->sets, &cx->nsets, &cx->capsets, set);
}

void sql_ctx_release(sql_ctx *cx)
{
    for (int i = 0; i < cx->nregexes; i++)
        regfree((regex_t *)cx->regexes[i]);
    for (int i = 0; i < cx->nsets; i++)
        sql_vset_free(cx->sets[i]);
    for (int i = 0; i < cx->nplans; i++)
        tbml_schema_clear(&cx->plans[i]->schema);
    cx->nregexes = cx->nsets = cx->nplans = 0;
    sql_arena_free(cx->a);
}
