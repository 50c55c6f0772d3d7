/* Shared reader machinery (src/data/reader.h) and the Spark-named read options. */
#include "reader.h"

#include "tbml/comm.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tbml_read_options_init(tbml_read_options *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = TBML_MODE_PERMISSIVE;
    o->delimiter = ',';
    o->quote = '"';
    o->escape = '\\';
    snprintf(o->corrupt_column, sizeof(o->corrupt_column), "_corrupt_record");
}

static int parse_flag(const char *v, int *out)
{
    if (strcasecmp(v, "true") == 0) {
        *out = 1;
        return 1;
    }
    if (strcasecmp(v, "false") == 0) {
        *out = 0;
        return 1;
    }
    return 0;
}

tbml_status tbml_read_options_set(tbml_read_options *o, const char *name, const char *value)
{
    int flag;
    if (strcasecmp(name, "header") == 0 || strcasecmp(name, "inferSchema") == 0 ||
        strcasecmp(name, "multiLine") == 0) {
        if (!parse_flag(value, &flag))
            return tbml_error(TBML_E_ARG, "option %s needs 'true' or 'false', not '%s'", name,
                              value);
        if (strcasecmp(name, "header") == 0)
            o->header = flag;
        else if (strcasecmp(name, "inferSchema") == 0)
            o->infer_schema = flag;
        else
            o->multiline = flag;
        return TBML_OK;
    }
    if (strcasecmp(name, "escape") == 0 && value[0] == '\0') { /* Spark: '' is no escape */
        o->escape = '\0';
        return TBML_OK;
    }
    if (strcasecmp(name, "sep") == 0 || strcasecmp(name, "delimiter") == 0 ||
        strcasecmp(name, "quote") == 0 || strcasecmp(name, "escape") == 0) {
        char c;
        if (strcmp(value, "\\t") == 0)
            c = '\t';
        else if (strlen(value) == 1 && value[0] != '\n' && value[0] != '\r')
            c = value[0];
        else
            return tbml_error(TBML_E_ARG, "option %s needs one character, not '%s'", name, value);
        if (strcasecmp(name, "quote") == 0)
            o->quote = c;
        else if (strcasecmp(name, "escape") == 0)
            o->escape = c;
        else
            o->delimiter = c;
        return TBML_OK;
    }
    if (strcasecmp(name, "mode") == 0) {
        if (strcasecmp(value, "PERMISSIVE") == 0)
            o->mode = TBML_MODE_PERMISSIVE;
        else if (strcasecmp(value, "DROPMALFORMED") == 0)
            o->mode = TBML_MODE_DROPMALFORMED;
        else if (strcasecmp(value, "FAILFAST") == 0)
            o->mode = TBML_MODE_FAILFAST;
        else
            return tbml_error(TBML_E_ARG,
                              "option mode needs PERMISSIVE, DROPMALFORMED or FAILFAST, not '%s'",
                              value);
        return TBML_OK;
    }
    if (strcasecmp(name, "columnNameOfCorruptRecord") == 0) {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof(o->corrupt_column))
            return tbml_error(TBML_E_ARG, "option %s needs a name of 1 to %zu bytes", name,
                              sizeof(o->corrupt_column) - 1);
        memcpy(o->corrupt_column, value, n + 1);
        return TBML_OK;
    }
    return tbml_error(TBML_E_ARG, "unknown read option '%s'", name);
}

int reader_corrupt_index(const tbml_read_options *o, const tbml_schema *schema, const char *path,
                         tbml_status *st)
{
    *st = TBML_OK;
    if (!o->corrupt_column[0]) return -1;
    int at = tbml_schema_find(schema, o->corrupt_column);
    if (at >= 0 && schema->fields[at].type != TBML_TYPE_STRING)
        *st = tbml_error(TBML_E_ARG, "%s: the field for corrupt records (%s) must be a string",
                         path, schema->fields[at].name);
    return at;
}

void reader_corrupt_text(const char *p, size_t n, tbml_column *c)
{
    if (n > 0 && p[n - 1] == '\n') n--;
    if (n > 0 && p[n - 1] == '\r') n--;
    tbml_column_append_str(c, p, n);
}

int64_t reader_count_lines(const char *data, size_t size)
{
    int64_t n = 0;
    const char *p = data, *end = data + size;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

tbml_status reader_bad(reader_chunk *r, const tbml_read_options *o, const char *data, size_t pos,
                       const char *cause)
{
    r->bad++;
    if (o->mode != TBML_MODE_FAILFAST) return TBML_OK;
    if (!r->has_error) {
        r->has_error = 1;
        int64_t line = 0;
        size_t line_start = 0;
        for (size_t i = 0; i < pos; i++)
            if (data[i] == '\n') {
                line++;
                line_start = i + 1;
            }
        r->err_line = line;
        r->err_col = (int64_t)(pos - line_start) + 1;
        snprintf(r->err_msg, sizeof(r->err_msg), "%s", cause);
    }
    return TBML_E_FORMAT;
}

/* ---- distributed reads ---- */

int reader_rank(const tbml_read_options *o)
{
    return o->comm ? tbml_comm_rank(o->comm) : 0;
}

int reader_size(const tbml_read_options *o)
{
    return o->comm ? tbml_comm_size(o->comm) : 1;
}

int64_t reader_first(const tbml_read_options *o, int64_t base)
{
    int64_t size = reader_size(o);
    return ((reader_rank(o) - base) % size + size) % size;
}

tbml_status reader_scan(tbml_input_t *in, const tbml_read_options *o, int64_t base,
                        size_t chunk_size, tbml_chunk_fn fn, void *arg)
{
    int rank = reader_rank(o), size = reader_size(o);
    int64_t first = reader_first(o, base);
    uint64_t read = 0;
    tbml_status st = reader_scan_share(in, o->pool, chunk_size, first, size, fn, arg, &read);
    int64_t n = tbml_input_chunk_count(in, chunk_size);
    /* the per-rank byte count is what shows (and tests check) that ranks split the input */
    TBML_LOG_D("scan %s: rank %d of %d read %" PRId64 " of %" PRId64 " ranges, %" PRIu64
               " of %" PRIu64 " bytes",
               tbml_input_path(in), rank, size, n > first ? (n - first + size - 1) / size : 0, n,
               read, tbml_input_size(in));
    return st;
}

static void wput_str(tbml_bytes *b, const char *s)
{
    int64_t n = (int64_t)strlen(s);
    tbml_bytes_put_u64(b, (uint64_t)n);
    tbml_bytes_put(b, s, (size_t)n);
}

typedef struct {
    const uint8_t *p;
    size_t n, o;
    int bad;
} rbuf;

static int64_t rget_i64(rbuf *r)
{
    if (r->n - r->o < 8) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r->p[r->o + (size_t)i] << (8 * i);
    r->o += 8;
    return (int64_t)v;
}

/* Copies a string of at most cap - 1 bytes into s. */
static void rget_str(rbuf *r, char *s, size_t cap)
{
    int64_t n = rget_i64(r);
    if (r->bad || n < 0 || (uint64_t)n > r->n - r->o) {
        r->bad = 1;
        s[0] = '\0';
        return;
    }
    size_t k = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
    memcpy(s, r->p + r->o, k);
    s[k] = '\0';
    r->o += (size_t)n;
}

/* Every rank's bytes to every rank (over the sealed all-to-all). */
static tbml_status allgather_raw(tbml_comm_t *c, const void *buf, size_t size, uint8_t **bufs,
                                 size_t *sizes)
{
    int n = tbml_comm_size(c);
    const void **sb = tbml_calloc((size_t)n, sizeof(*sb));
    size_t *ss = tbml_calloc((size_t)n, sizeof(size_t));
    for (int r = 0; r < n; r++) {
        sb[r] = buf;
        ss[r] = size;
    }
    tbml_status st = tbml_comm_alltoallv(c, sb, ss, bufs, sizes);
    tbml_free(sb);
    tbml_free(ss);
    return st;
}

tbml_status reader_allgather(const tbml_read_options *o, tbml_status st, const void *buf,
                             size_t size, uint8_t **bufs, size_t *sizes)
{
    int n = reader_size(o);
    if (n <= 1) {
        if (st) return st;
        bufs[0] = tbml_malloc(size ? size : 1);
        if (size) memcpy(bufs[0], buf, size);
        sizes[0] = size;
        return TBML_OK;
    }
    tbml_bytes w = {0};
    tbml_bytes_put_u64(&w, (uint64_t)st);
    wput_str(&w, st ? tbml_errmsg() : "");
    tbml_bytes_put(&w, buf, st ? 0 : size);
    tbml_status own = st;
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", st ? tbml_errmsg() : "");
    memset(bufs, 0, (size_t)n * sizeof(*bufs));
    st = allgather_raw(o->comm, w.p, w.n, bufs, sizes);
    tbml_free(w.p);
    if (st) return st;
    for (int r = 0; r < n && !st; r++) {
        rbuf rb = {bufs[r], sizes[r], 0, 0};
        tbml_status rst = (tbml_status)rget_i64(&rb);
        char rmsg[1024];
        rget_str(&rb, rmsg, sizeof(rmsg));
        if (rb.bad) {
            st = tbml_error(TBML_E_FORMAT, "read: bad agreement message from rank %d", r);
        } else if (own) {
            st = tbml_error(own, "%s", msg); /* this rank's own failure */
        } else if (rst) {
            st = tbml_error(rst, "rank %d: %s", r, rmsg);
        } else {
            memmove(bufs[r], bufs[r] + rb.o, rb.n - rb.o);
            sizes[r] = rb.n - rb.o;
        }
    }
    if (st)
        for (int r = 0; r < n; r++) {
            tbml_free(bufs[r]);
            bufs[r] = NULL;
        }
    return st;
}

tbml_status reader_agree_types(const tbml_read_options *o, tbml_status st, int *types, int ncols,
                               int (*merge)(int, int))
{
    int n = reader_size(o);
    if (n <= 1) return st;
    tbml_bytes w = {0};
    for (int i = 0; i < ncols && !st; i++)
        tbml_bytes_put_u64(&w, (uint64_t)types[i]);
    uint8_t **bufs = tbml_calloc((size_t)n, sizeof(*bufs));
    size_t *sizes = tbml_calloc((size_t)n, sizeof(size_t));
    st = reader_allgather(o, st, w.p, w.n, bufs, sizes);
    for (int r = 0; r < n && !st; r++) {
        rbuf rb = {bufs[r], sizes[r], 0, 0};
        for (int i = 0; i < ncols; i++) {
            int t = (int)rget_i64(&rb);
            types[i] = r == 0 ? t : merge(types[i], t);
        }
        if (rb.bad || rb.o != rb.n)
            st = tbml_error(TBML_E_FORMAT, "read: rank %d inferred another column count", r);
    }
    for (int r = 0; r < n; r++)
        tbml_free(bufs[r]);
    tbml_free(bufs);
    tbml_free(sizes);
    tbml_free(w.p);
    return st;
}

/* Distributed: every rank learns every chunk's line count, malformed count and FAILFAST error,
 * the other ranks' statuses and the total row count, so the checks below give every rank the
 * message and counts one process would give. Fills chunks it did not read (no batches). */
static tbml_status finish_agree(tbml_read_options *o, int64_t base, tbml_status *st,
                                reader_chunk *chunks, int64_t nchunks, int64_t *rows)
{
    int rank = reader_rank(o), n = reader_size(o);
    tbml_bytes w = {0};
    tbml_bytes_put_u64(&w, (uint64_t)*st);
    wput_str(&w, *st ? tbml_errmsg() : "");
    tbml_bytes_put_u64(&w, (uint64_t)*rows);
    for (int64_t k = reader_first(o, base); k < nchunks; k += n) {
        const reader_chunk *c = &chunks[k];
        tbml_bytes_put_u64(&w, (uint64_t)c->nlines);
        tbml_bytes_put_u64(&w, (uint64_t)c->bad);
        tbml_bytes_put_u64(&w, (uint64_t)c->has_error);
        tbml_bytes_put_u64(&w, (uint64_t)c->err_line);
        tbml_bytes_put_u64(&w, (uint64_t)c->err_col);
        wput_str(&w, c->has_error ? c->err_msg : "");
    }
    uint8_t **bufs = tbml_calloc((size_t)n, sizeof(*bufs));
    size_t *sizes = tbml_calloc((size_t)n, sizeof(size_t));
    tbml_status ret = allgather_raw(o->comm, w.p, w.n, bufs, sizes);
    tbml_free(w.p);
    int64_t total = 0;
    tbml_status first = TBML_OK;
    char msg[1024] = "";
    for (int r = 0; r < n && !ret; r++) {
        rbuf rb = {bufs[r], sizes[r], 0, 0};
        tbml_status rst = (tbml_status)rget_i64(&rb);
        char rmsg[1024];
        rget_str(&rb, rmsg, sizeof(rmsg));
        total += rget_i64(&rb);
        if (rst && !first) {
            first = rst;
            if (r == rank)
                snprintf(msg, sizeof(msg), "%s", rmsg);
            else
                snprintf(msg, sizeof(msg), "rank %d: %s", r, rmsg);
        }
        /* rank r's chunks, as reader_first gives them to it */
        for (int64_t k = ((r - base) % n + n) % n; k < nchunks && !rb.bad; k += n) {
            reader_chunk *c = &chunks[k];
            c->nlines = rget_i64(&rb);
            c->bad = rget_i64(&rb);
            c->has_error = (int)rget_i64(&rb);
            c->err_line = rget_i64(&rb);
            c->err_col = rget_i64(&rb);
            rget_str(&rb, c->err_msg, sizeof(c->err_msg));
        }
        if (rb.bad || rb.o != rb.n)
            ret = tbml_error(TBML_E_FORMAT, "read: bad agreement message from rank %d", r);
    }
    for (int r = 0; r < n; r++)
        tbml_free(bufs[r]);
    tbml_free(bufs);
    tbml_free(sizes);
    if (ret) return ret;
    if (first) *st = tbml_error(first, "%s", msg);
    *rows = total;
    return TBML_OK;
}

tbml_status reader_finish(tbml_input_t *in, tbml_read_options *o, int64_t base, tbml_status st,
                          reader_chunk *chunks, int64_t nchunks, const tbml_schema *schema,
                          const char *format, tbml_table **out)
{
    tbml_table *t = NULL;
    int64_t bad = 0, line = 1, rows = 0;
    int rank = reader_rank(o), size = reader_size(o);
    for (int64_t k = reader_first(o, base); k < nchunks; k += size)
        if (chunks[k].batch) rows += chunks[k].batch->nrows;
    if (size > 1) {
        tbml_status ast = finish_agree(o, base, &st, chunks, nchunks, &rows);
        if (ast) {
            st = ast;
            goto out;
        }
    }
    for (int64_t k = 0; k < nchunks; k++) {
        if (chunks[k].has_error) {
            st = tbml_error(TBML_E_FORMAT,
                            "%s:%" PRId64 ":%" PRId64 ": malformed %s record (mode FAILFAST): %s",
                            tbml_input_path(in), line + chunks[k].err_line, chunks[k].err_col,
                            format, chunks[k].err_msg);
            goto out;
        }
        line += chunks[k].nlines;
        bad += chunks[k].bad;
    }
    if (st) goto out;
    t = tbml_table_new(schema);
    tbml_table_ranges *rg = tbml_calloc(1, sizeof(*rg));
    for (int64_t k = 0; k < nchunks; k++) {
        if (chunks[k].batch && chunks[k].batch->nrows > 0) {
            tbml_table_append(t, chunks[k].batch);
            chunks[k].batch = NULL;
            rg->range = tbml_realloc(rg->range, (size_t)t->nbatches * sizeof(int64_t));
            rg->range[t->nbatches - 1] = k;
        }
    }
    rg->nranges = nchunks;
    rg->rows = rows;
    rg->rank = rank;
    rg->size = size;
    t->ranges = rg;
    o->bad_records = bad;
    if (bad > 0 && rank == 0) /* the global count, once */
        TBML_LOG_W("%s: %" PRId64 " malformed %s record%s %s (mode %s)", tbml_input_path(in), bad,
                   format, bad == 1 ? "" : "s",
                   o->mode == TBML_MODE_DROPMALFORMED ? "dropped" : "read with nulls",
                   o->mode == TBML_MODE_DROPMALFORMED ? "DROPMALFORMED" : "PERMISSIVE");
out:
    for (int64_t k = 0; k < nchunks; k++)
        tbml_batch_free(chunks[k].batch);
    if (st) return st;
    *out = t;
    return TBML_OK;
}

int reader_parse_i64(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    int neg = 0;
    if (n == 0) return 0;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i++;
    }
    if (i == n) return 0;
    uint64_t x = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return 0;
        if (x > (UINT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    if (neg ? x > (uint64_t)INT64_MAX + 1 : x > (uint64_t)INT64_MAX) return 0;
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 1;
}

/* Exact powers of ten up to 1e22: every one is a double, so mantissa * or / 10^k with a
 * mantissa below 2^53 is one correctly rounded operation (Clinger's fast path). */
static const double g_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int reader_parse_f64(const char *s, size_t n, double *v)
{
    /* the forms Spark reads: decimal numbers with an optional exponent, NaN, Inf, Infinity; any
     * length, so that every text reader_parse_i64 accepts is a double too (CSV inference widens
     * long columns to double in memory on that promise) */
    if (n == 0) return 0;
    const char *p = s;
    size_t m = n;
    int neg = 0;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
        m--;
    }
    if ((m == 3 && memcmp(p, "NaN", 3) == 0)) {
        if (v) *v = NAN;
        return 1;
    }
    if ((m == 3 && memcmp(p, "Inf", 3) == 0) || (m == 8 && memcmp(p, "Infinity", 8) == 0)) {
        if (v) *v = neg ? -INFINITY : INFINITY;
        return 1;
    }
    int digits = 0, sig = 0, frac = 0;
    uint64_t mant = 0;
    size_t i = 0;
    for (; i < m && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
        if (mant || p[i] != '0') sig++;
        if (sig <= 19)
            mant = mant * 10 + (uint64_t)(p[i] - '0');
        else
            frac--; /* a digit past what mant holds: scale instead */
    }
    if (i < m && p[i] == '.') {
        i++;
        for (; i < m && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
            if (mant || p[i] != '0') sig++;
            if (sig <= 19) {
                mant = mant * 10 + (uint64_t)(p[i] - '0');
                frac++;
            }
        }
    }
    if (!digits) return 0;
    int64_t e10 = 0;
    if (i < m && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < m && (p[i] == '+' || p[i] == '-')) eneg = p[i++] == '-';
        int ed = 0;
        for (; i < m && p[i] >= '0' && p[i] <= '9'; i++, ed++)
            if (e10 < 100000) e10 = e10 * 10 + (p[i] - '0');
        if (!ed) return 0;
        if (eneg) e10 = -e10;
    }
    if (i != m) return 0;
    if (!v) return 1; /* syntax only (schema inference) */
    int64_t k = e10 - frac;
    if (sig <= 19 && mant < ((uint64_t)1 << 53) && k >= -22 && k <= 22) {
        double d = (double)mant;
        d = k < 0 ? d / g_pow10[-k] : d * g_pow10[k];
        *v = neg ? -d : d;
        return 1;
    }
    char small[128], *buf = n < sizeof(small) ? small : tbml_malloc(n + 1);
    memcpy(buf, s, n);
    buf[n] = '\0';
    *v = strtod(buf, NULL);
    if (buf != small) tbml_free(buf);
    return 1;
}

int reader_parse_bool(const char *s, size_t n, int *v)
{
    if (n == 4 && strncasecmp(s, "true", 4) == 0) {
        *v = 1;
        return 1;
    }
    if (n == 5 && strncasecmp(s, "false", 5) == 0) {
        *v = 0;
        return 1;
    }
    return 0;
}
