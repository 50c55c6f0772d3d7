/* CSV and JSON-lines writers (include/tbml/readers.h): whole tables to a plain or sealed output
 * that is renamed into place only when complete, so a failed write leaves nothing behind.
 * Values are formatted as show() prints them, so what the readers read back is what they wrote. */
#include "tbml/readers.h"
#include "tbml/show.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
} wbuf;

static void put(wbuf *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        size_t c = w->cap ? w->cap : 4096;
        while (c < w->len + n + 1)
            c *= 2;
        w->buf = tbml_realloc(w->buf, c);
        w->cap = c;
    }
    if (n) memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void putc1(wbuf *w, char c)
{
    put(w, &c, 1);
}

/* Writes out the buffer when it is large; keeps memory bounded for big tables. */
static tbml_status drain(tbml_output_t *o, wbuf *w, int force)
{
    if (!force && w->len < ((size_t)1 << 20)) return TBML_OK;
    tbml_status st = w->len ? tbml_output_write(o, w->buf, w->len) : TBML_OK;
    tbml_wipe(w->buf, w->len); /* rows may be secret when the output is sealed */
    w->len = 0;
    return st;
}

/* Writes one field, quoted when a reader needs it to be. Inside quotes a quote is doubled (the
 * RFC's form, which Spark reads too) and an escape character (o->escape, 0: none) is doubled when
 * a reader that honours it would otherwise take it with the character after it: before an escape
 * or a quote, or last (before the closing quote). */
static void csv_field(wbuf *w, const char *s, size_t n, char delim, char quote, char escape,
                      int is_string)
{
    if (escape == quote) escape = '\0';
    int need = is_string && n == 0; /* "" tells an empty string from NULL */
    for (size_t i = 0; i < n && !need; i++)
        need = s[i] == delim || s[i] == quote || s[i] == '\n' || s[i] == '\r';
    if (n && (s[0] == ' ' || s[n - 1] == ' ')) need = 1;
    if (!need) {
        put(w, s, n);
        return;
    }
    putc1(w, quote);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == quote) putc1(w, quote);
        if (escape && s[i] == escape && (i + 1 == n || s[i + 1] == escape || s[i + 1] == quote))
            putc1(w, escape);
        putc1(w, s[i]);
    }
    putc1(w, quote);
}

static tbml_status open_out(const char *path, const tbml_read_options *o, tbml_output_t **out)
{
    return tbml_output_open(path, o ? o->key : NULL, out);
}

tbml_status tbml_write_csv(const tbml_table *t, const char *path, const tbml_read_options *o)
{
    tbml_read_options def;
    if (!o) {
        tbml_read_options_init(&def);
        o = &def;
    }
    tbml_output_t *out;
    tbml_status st = open_out(path, o, &out);
    if (st) return st;
    wbuf w = {0}, cell = {0};
    int nc = t->schema.nfields;
    if (o->header) {
        for (int j = 0; j < nc; j++) {
            if (j) putc1(&w, o->delimiter);
            csv_field(&w, t->schema.fields[j].name, strlen(t->schema.fields[j].name), o->delimiter,
                      o->quote, o->escape, 0);
        }
        putc1(&w, '\n');
    }
    for (int64_t b = 0; b < t->nbatches && !st; b++) {
        const tbml_batch *batch = t->batches[b];
        for (int64_t i = 0; i < batch->nrows && !st; i++) {
            for (int j = 0; j < nc; j++) {
                if (j) putc1(&w, o->delimiter);
                const tbml_column *c = &batch->cols[j];
                if (c->type == TBML_TYPE_NULL || tbml_column_is_null(c, i)) continue;
                cell.len = 0;
                tbml_format_cell(c, i, &cell.buf, &cell.len, &cell.cap);
                csv_field(&w, cell.buf, cell.len, o->delimiter, o->quote, o->escape,
                          c->type == TBML_TYPE_STRING);
            }
            putc1(&w, '\n');
            st = drain(out, &w, 0);
        }
    }
    if (!st) st = drain(out, &w, 1);
    if (cell.buf) tbml_wipe(cell.buf, cell.cap);
    tbml_free(cell.buf);
    tbml_free(w.buf);
    if (st) {
        tbml_output_abort(out);
        return st;
    }
    return tbml_output_commit(out);
}

static void json_string(wbuf *w, const char *s, size_t n)
{
    putc1(w, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            put(w, "\\\"", 2);
            break;
        case '\\':
            put(w, "\\\\", 2);
            break;
        case '\n':
            put(w, "\\n", 2);
            break;
        case '\r':
            put(w, "\\r", 2);
            break;
        case '\t':
            put(w, "\\t", 2);
            break;
        case '\b':
            put(w, "\\b", 2);
            break;
        case '\f':
            put(w, "\\f", 2);
            break;
        default:
            if (c < 0x20) {
                char e[8];
                snprintf(e, sizeof(e), "\\u%04x", c);
                put(w, e, 6);
            } else {
                putc1(w, (char)c);
            }
        }
    }
    putc1(w, '"');
}

tbml_status tbml_write_json(const tbml_table *t, const char *path, const tbml_read_options *o)
{
    tbml_output_t *out;
    tbml_status st = open_out(path, o, &out);
    if (st) return st;
    wbuf w = {0}, cell = {0};
    int nc = t->schema.nfields;
    for (int64_t b = 0; b < t->nbatches && !st; b++) {
        const tbml_batch *batch = t->batches[b];
        for (int64_t i = 0; i < batch->nrows && !st; i++) {
            int first = 1;
            putc1(&w, '{');
            for (int j = 0; j < nc; j++) {
                const tbml_column *c = &batch->cols[j];
                if (c->type == TBML_TYPE_NULL || tbml_column_is_null(c, i))
                    continue; /* Spark omits nulls */
                if (!first) putc1(&w, ',');
                first = 0;
                json_string(&w, t->schema.fields[j].name, strlen(t->schema.fields[j].name));
                putc1(&w, ':');
                cell.len = 0;
                tbml_format_cell(c, i, &cell.buf, &cell.len, &cell.cap);
                int bare = c->type == TBML_TYPE_INT64 || c->type == TBML_TYPE_BOOL ||
                           (c->type == TBML_TYPE_DOUBLE && isfinite(c->f64[i]));
                if (bare)
                    put(&w, cell.buf, cell.len);
                else
                    json_string(&w, cell.buf,
                                cell.len); /* NaN and Infinity as strings, as Jackson does */
            }
            put(&w, "}\n", 2);
            st = drain(out, &w, 0);
        }
    }
    if (!st) st = drain(out, &w, 1);
    if (cell.buf) tbml_wipe(cell.buf, cell.cap);
    tbml_free(cell.buf);
    tbml_free(w.buf);
    if (st) {
        tbml_output_abort(out);
        return st;
    }
    return tbml_output_commit(out);
}
