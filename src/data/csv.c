/* spark.read.csv (docs/formats/csv.md): RFC 4180 fields ("" inside quotes is one quote), a
 * header line or _c0.._cN names, and Spark's inferSchema in the same single pass that builds the
 * typed columns, split into line ranges across the pool (each range infers its own types, then
 * the ranges are merged and the narrower ones converted).
 *
 * Records end at a newline. With multiLine=false (Spark's default) a newline inside quotes also
 * ends the record, which is then malformed (unterminated quote); with multiLine=true quoted
 * newlines belong to the field and the file is read as one range, since a range boundary could
 * fall inside a quoted field. Empty lines are skipped, as Spark does. */
#include "reader.h"

#include "tbml/show.h"

#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Types as inference sees them, ordered so that merging is a small table (Spark's
 * CSVInferSchema.compatibleType). */
enum { I_NULL, I_LONG, I_DOUBLE, I_BOOL, I_DATE, I_TS, I_STRING };

typedef struct {
    const char *ptr; /* the bytes, or NULL when they are in the scratch buffer at off */
    size_t off, len;
    size_t pos; /* byte offset of the field's first byte within the chunk */
    int quoted;
} csv_field;

typedef struct {
    char delim, quote, escape; /* escape: 0 for none */
    int multiline;
    csv_field *f;
    int nf, capf;
    char *scratch;
    size_t slen, scap;
    const char *err; /* cause of a malformed record, or NULL */
    size_t err_pos;
} csv_tok;

static csv_tok tok_new(const tbml_read_options *o)
{
    /* an escape equal to the quote is the RFC's doubled quote, which is always read */
    char esc = o->escape == o->quote ? '\0' : o->escape;
    return (csv_tok){.delim = o->delimiter, .quote = o->quote, .escape = esc,
                     .multiline = o->multiline};
}

static void tok_free(csv_tok *t)
{
    tbml_free(t->f);
    tbml_free(t->scratch);
}

static void scratch_put(csv_tok *t, const char *s, size_t n)
{
    if (t->slen + n > t->scap) {
        size_t c = t->scap ? t->scap : 256;
        while (c < t->slen + n)
            c *= 2;
        t->scratch = tbml_realloc(t->scratch, c);
        t->scap = c;
    }
    if (n) memcpy(t->scratch + t->slen, s, n);
    t->slen += n;
}

static csv_field *field_add(csv_tok *t)
{
    if (t->nf == t->capf) {
        t->capf = t->capf ? t->capf * 2 : 16;
        t->f = tbml_realloc(t->f, (size_t)t->capf * sizeof(csv_field));
    }
    csv_field *f = &t->f[t->nf++];
    memset(f, 0, sizeof(*f));
    return f;
}

static const char *field_bytes(const csv_tok *t, const csv_field *f)
{
    return f->ptr ? f->ptr : t->scratch + f->off;
}

/* Tokenises the record at base + *pos (within [base, base + size)); advances *pos past its
 * newline. Returns 0 for an empty line (no record), 1 for a record (t->err set if malformed). */
static int csv_next(csv_tok *t, const char *base, size_t size, size_t *pos)
{
    const char *p = base + *pos, *end = base + size;
    const char *line_end = end;
    if (!t->multiline) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl) line_end = nl;
    }
    t->nf = 0;
    t->slen = 0;
    t->err = NULL;
    /* an empty line ("" or "\r") is no record */
    {
        const char *nl =
            t->multiline ? memchr(p, '\n', (size_t)(end - p)) : (line_end < end ? line_end : NULL);
        const char *le = nl ? nl : end;
        if (le == p || (le == p + 1 && *p == '\r')) {
            *pos = (size_t)((nl ? nl + 1 : end) - base);
            return 0;
        }
    }
    for (;;) {
        csv_field *f = field_add(t);
        f->pos = (size_t)(p - base);
        if (t->multiline) { /* records may span lines, but only inside quotes */
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            line_end = nl ? nl : end;
        }
        if (p < line_end && *p == t->quote) {
            f->quoted = 1;
            const char *q = p + 1;
            int escaped = 0;
            const char *seg = q;
            for (;;) {
                const char *qend = t->multiline ? end : line_end;
                const char *cq = memchr(q, t->quote, (size_t)(qend - q));
                if (t->escape) {
                    /* Spark's (univocity's) escape inside quotes: escape + quote is a quote,
                     * escape + escape one escape, an escape before anything else is data */
                    const char *lim = cq ? cq : qend;
                    const char *e = memchr(q, t->escape, (size_t)(lim - q));
                    if (e) {
                        if (e + 1 < qend && (e[1] == t->quote || e[1] == t->escape)) {
                            if (!escaped) {
                                f->off = t->slen;
                                escaped = 1;
                            }
                            scratch_put(t, seg, (size_t)(e - seg));
                            scratch_put(t, e + 1, 1);
                            q = seg = e + 2;
                        } else {
                            q = e + 1;
                        }
                        continue;
                    }
                }
                if (!cq) {
                    t->err = "unterminated quoted field";
                    t->err_pos = f->pos;
                    /* the record ends with its line (or, multiline, with the file) */
                    *pos = (size_t)((!t->multiline && line_end < end ? line_end + 1 : end) - base);
                    return 1;
                }
                if (cq + 1 < qend && cq[1] == t->quote) { /* "" is one quote */
                    if (!escaped) {
                        f->off = t->slen;
                        escaped = 1;
                    }
                    scratch_put(t, seg, (size_t)(cq + 1 - seg));
                    q = seg = cq + 2;
                    continue;
                }
                if (escaped) {
                    scratch_put(t, seg, (size_t)(cq - seg));
                    f->len = t->slen - f->off;
                } else {
                    f->ptr = p + 1;
                    f->len = (size_t)(cq - (p + 1));
                }
                p = cq + 1;
                break;
            }
            if (t->multiline) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                line_end = nl ? nl : end;
            }
            /* after the closing quote: a delimiter or the end of the record */
            if (p < line_end && *p != t->delim && !(*p == '\r' && p + 1 == line_end)) {
                t->err = "unexpected character after a closing quote";
                t->err_pos = (size_t)(p - base);
                *pos = (size_t)((line_end < end ? line_end + 1 : end) - base);
                return 1;
            }
        } else {
            const char *q = p;
            while (q < line_end && *q != t->delim)
                q++;
            f->ptr = p;
            f->len = (size_t)(q - p);
            p = q;
            if (p == line_end && f->len > 0 && f->ptr[f->len - 1] == '\r') f->len--;
        }
        if (p < line_end && *p == t->delim) {
            p++;
            continue;
        }
        *pos = (size_t)((line_end < end ? line_end + 1 : end) - base);
        return 1;
    }
}

/* ---- inference ---- */

static int infer_value(const char *s, size_t n)
{
    int64_t i;
    int b;
    if (reader_parse_i64(s, n, &i)) return I_LONG;
    if (reader_parse_f64(s, n, NULL)) return I_DOUBLE;
    if (tbml_parse_date(s, n, &i)) return I_DATE;
    if (tbml_parse_timestamp(s, n, &i)) return I_TS;
    if (reader_parse_bool(s, n, &b)) return I_BOOL;
    return I_STRING;
}

static int merge_type(int a, int b)
{
    if (a == b) return a;
    if (a == I_NULL) return b;
    if (b == I_NULL) return a;
    if ((a == I_LONG && b == I_DOUBLE) || (a == I_DOUBLE && b == I_LONG)) return I_DOUBLE;
    if ((a == I_DATE && b == I_TS) || (a == I_TS && b == I_DATE)) return I_TS;
    return I_STRING;
}

static tbml_type infer_to_type(int t)
{
    switch (t) {
    case I_LONG:
        return TBML_TYPE_INT64;
    case I_DOUBLE:
        return TBML_TYPE_DOUBLE;
    case I_BOOL:
        return TBML_TYPE_BOOL;
    case I_DATE:
        return TBML_TYPE_DATE;
    case I_TS:
        return TBML_TYPE_TIMESTAMP;
    default:
        return TBML_TYPE_STRING; /* all-null columns are strings, as in Spark */
    }
}

/* ---- the scan ---- */

/* What one-pass inference knows about one column of one range. The range's values go straight
 * into a vector of the narrowest type seen so far (`type`); when a value does not fit, the vector
 * is converted in memory where that is exact (NULL to anything, long to double, date to
 * timestamp) and otherwise given up (`dirty`) and rebuilt from the range's bytes once its type
 * is known. The flags record what would make an in-memory conversion inexact. */
typedef struct {
    int type;        /* I_*: the merge of the values of this range's well-formed records */
    uint8_t dirty;   /* no vector: rebuilt from the bytes at the end of the range */
    uint8_t qempty;  /* a quoted empty field: "" in a string column, NULL in others */
    uint8_t negzero; /* a long "-0": (double)0 is +0.0, but the text reads as the double -0.0 */
    uint8_t lossy;   /* a malformed record's value did not fit `type` and was stored as NULL */
} csv_colstate;

typedef struct {
    uint64_t offset; /* where the range's bytes start in the file, and their size */
    size_t size;
    int rebuild;     /* after the merge: some column must be rebuilt from the bytes */
    tbml_status st;  /* of that rebuild */
    char *err;       /* its message */
} csv_range;

typedef struct {
    tbml_read_options *o;
    int ncols;                 /* fields a record should have */
    const tbml_schema *schema; /* the given schema; with inference the names (types unused) */
    int corrupt;               /* given schema: the corrupt-record column, or -1 */
    int infer;                 /* infer types in the same pass (csv_chunk_infer) */
    csv_colstate *cols;        /* inference: per range, ncols each */
    csv_range *ranges;         /* inference: per range */
    int *final;                /* inference: the merged I_* per column (I_NULL read as string) */
    tbml_input_t *in;
    int64_t nranges;
    atomic_llong next;         /* the rebuild's next range */
    reader_chunk *chunks;
    uint64_t header_skip; /* file bytes of leading empty lines and the header record */
} csv_scan;

typedef union {
    int64_t i;
    double d;
} csv_value;

/* The per-value steps of the hot loops: gcc stops inlining them once the cold rebuild calls them
 * too, which costs the given-schema read about 15% of its instructions. */
#define CSV_HOT static inline __attribute__((always_inline))

/* Converts field f to column type; returns 1 (value in *v, or *is_null), 0 if unreadable. */
CSV_HOT int convert(const csv_tok *t, const csv_field *f, tbml_type type, csv_value *v, int *is_null)
{
    const char *s = field_bytes(t, f);
    *is_null = 0;
    if (f->len == 0 && (!f->quoted || type != TBML_TYPE_STRING)) {
        *is_null = 1;
        return 1;
    }
    int b;
    switch (type) {
    case TBML_TYPE_INT64:
        return reader_parse_i64(s, f->len, &v->i);
    case TBML_TYPE_DOUBLE:
        return reader_parse_f64(s, f->len, &v->d);
    case TBML_TYPE_BOOL:
        if (!reader_parse_bool(s, f->len, &b)) return 0;
        v->i = b;
        return 1;
    case TBML_TYPE_DATE:
        return tbml_parse_date(s, f->len, &v->i);
    case TBML_TYPE_TIMESTAMP:
        return tbml_parse_timestamp(s, f->len, &v->i);
    case TBML_TYPE_STRING:
        return 1;
    case TBML_TYPE_NULL:
        *is_null = 1;
        return 1;
    }
    return 0;
}

CSV_HOT void append_value(tbml_column *c, const csv_tok *t, const csv_field *f, const csv_value *v,
                         int is_null)
{
    if (is_null) {
        tbml_column_append_null(c);
        return;
    }
    switch (c->type) {
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP:
        tbml_column_append_i64(c, v->i);
        break;
    case TBML_TYPE_DOUBLE:
        tbml_column_append_f64(c, v->d);
        break;
    case TBML_TYPE_BOOL:
        tbml_column_append_bool(c, (int)v->i);
        break;
    case TBML_TYPE_STRING:
        tbml_column_append_str(c, field_bytes(t, f), f->len);
        break;
    case TBML_TYPE_NULL:
        tbml_column_append_null(c);
        break;
    }
}

/* Reports a record the tokenizer found malformed, or one with the wrong field count: the causes
 * that do not depend on column types. Sets *bad; returns reader_bad's status. */
static tbml_status record_bad(const csv_scan *s, reader_chunk *r, const csv_tok *t,
                              const char *data, int *bad)
{
    *bad = 0;
    if (t->err) {
        *bad = 1;
        return reader_bad(r, s->o, data, t->err_pos, t->err);
    }
    if (t->nf != s->ncols) {
        char cause[96];
        snprintf(cause, sizeof(cause), "expected %d fields, found %d", s->ncols, t->nf);
        size_t at = t->nf > s->ncols ? t->f[s->ncols].pos : t->f[t->nf - 1].pos;
        *bad = 1;
        return reader_bad(r, s->o, data, at, cause);
    }
    return TBML_OK;
}

/* The field that holds column i's value, or NULL when the record has none (missing, or the
 * broken field of a malformed record and everything after it). */
static const csv_field *record_field(const csv_tok *t, int i)
{
    if (i >= t->nf || (t->err && i >= t->nf - 1)) return NULL;
    return &t->f[i];
}

/* A range with a given schema: every value converted to its column's type. */
static tbml_status csv_chunk(int ith, const tbml_chunk *c, void *arg)
{
    (void)ith;
    csv_scan *s = arg;
    tbml_read_options *o = s->o;
    reader_chunk *r = &s->chunks[c->index];
    csv_tok t = tok_new(o);
    tbml_status ret = TBML_OK;
    tbml_batch *b = tbml_batch_new(s->schema, 0);
    size_t pos = c->offset < s->header_skip ? (size_t)(s->header_skip - c->offset) : 0;
    r->nlines = reader_count_lines(c->data, c->size);
    /* field i of a record fills column i, or i + 1 from the corrupt-record column on */
    const int ncols = s->ncols, skip_at = s->corrupt >= 0 ? s->corrupt : INT_MAX;
    tbml_column **cols = tbml_malloc((size_t)(ncols ? ncols : 1) * sizeof(tbml_column *));
    for (int i = 0; i < ncols; i++)
        cols[i] = &b->cols[i + (i >= skip_at)];
    while (pos < c->size) {
        size_t start = pos;
        if (!csv_next(&t, c->data, c->size, &pos)) continue;
        int bad = 0;
        if (t.err || t.nf != ncols) ret = record_bad(s, r, &t, c->data, &bad);
        if (ret) break;
        /* straight into the columns; a dropped record is cut off again */
        int64_t row = b->schema.nfields ? b->cols[0].nrows : 0;
        for (int i = 0; i < ncols; i++) {
            tbml_column *col = cols[i];
            const csv_field *f = record_field(&t, i);
            if (!f) {
                tbml_column_append_null(col);
                continue;
            }
            csv_value v;
            int is_null;
            if (convert(&t, f, col->type, &v, &is_null)) {
                append_value(col, &t, f, &v, is_null);
                continue;
            }
            tbml_column_append_null(col);
            if (!bad) {
                const tbml_field *sf = &s->schema->fields[i + (i >= skip_at)];
                char cause[128];
                snprintf(cause, sizeof(cause), "field %d (%s) is not a valid %s", i + 1, sf->name,
                         tbml_type_name(sf->type));
                bad = 1;
                ret = reader_bad(r, o, c->data, f->pos, cause);
                if (ret) break;
            }
        }
        if (ret) break;
        if (s->corrupt >= 0) {
            if (bad)
                reader_corrupt_text(c->data + start, pos - start, &b->cols[s->corrupt]);
            else
                tbml_column_append_null(&b->cols[s->corrupt]);
        }
        if (bad && o->mode == TBML_MODE_DROPMALFORMED)
            for (int i = 0; i < b->schema.nfields; i++)
                tbml_column_truncate(&b->cols[i], row);
    }
    if (ret) { /* FAILFAST stopped mid-record: the batch is dropped with the read */
        tbml_batch_free(b);
    } else {
        tbml_batch_seal(b);
        r->batch = b;
    }
    tbml_free(cols);
    tok_free(&t);
    return ret;
}

/* ---- one-pass inference ---- */

/* The column type of an inference type; I_NULL stays NULL within a range (read as string once
 * the whole file says so). */
static tbml_type range_type(int t)
{
    return t == I_NULL ? TBML_TYPE_NULL : infer_to_type(t);
}

/* Whether column state cs converts to inference type `to` in memory with exactly the values a
 * parse of the bytes as `to` gives: (double)x equals the double of x's text (both round to
 * nearest) except for "-0"; days * 86400e6 is the timestamp of a date's text; NULLs stay NULL
 * unless a quoted empty field was among them and `to` is string. */
static int can_retype(const csv_colstate *cs, int to)
{
    if (cs->dirty || cs->lossy) return cs->type == to && !cs->dirty;
    if (cs->type == to) return 1;
    if (cs->type == I_NULL) return to != I_STRING || !cs->qempty;
    if (cs->type == I_LONG && to == I_DOUBLE) return !cs->negzero;
    if (cs->type == I_DATE && to == I_TS) return 1;
    return 0;
}

/* The conversion can_retype allowed. */
static void col_retype(tbml_column *c, int to)
{
    tbml_type nt = range_type(to);
    if (c->type == nt) return;
    if (c->type == TBML_TYPE_NULL) {
        int64_t n = c->nrows;
        tbml_column_clear(c);
        tbml_column_init(c, nt, n);
        for (int64_t i = 0; i < n; i++)
            tbml_column_append_null(c);
    } else if (c->type == TBML_TYPE_INT64 && nt == TBML_TYPE_DOUBLE) {
        double *f = tbml_malloc((size_t)(c->capacity > 0 ? c->capacity : 1) * sizeof(double));
        for (int64_t i = 0; i < c->nrows; i++)
            f[i] = (double)c->i64[i];
        tbml_free(c->i64);
        c->i64 = NULL;
        c->f64 = f;
        c->type = nt;
    } else {
        TBML_ASSERT(c->type == TBML_TYPE_DATE && nt == TBML_TYPE_TIMESTAMP);
        for (int64_t i = 0; i < c->nrows; i++)
            c->i64[i] *= 86400000000LL;
        c->type = nt;
    }
}

/* Appends field f to column c of a range being inferred. votes: the record is well-formed, so
 * its value takes part in inference; keep: the record stays in the table (a record that
 * DROPMALFORMED drops still votes when only its field count is wrong, as Spark's inference sees
 * it). A malformed record's value is kept if it fits and is otherwise NULL, as a read with the
 * final schema would make it: lossy marks that. */
static void infer_put(csv_colstate *cs, tbml_column *c, const csv_tok *t, const csv_field *f,
                      int votes, int keep)
{
    const char *p = field_bytes(t, f);
    int64_t i;
    /* whether the value lands in the vector now, later (rebuilt) or as a NULL, a long "-0" would
     * make the vector's widening to double inexact */
    if (keep && f->len > 1 && p[0] == '-' && reader_parse_i64(p, f->len, &i) && i == 0)
        cs->negzero = 1;
    if (cs->dirty) { /* only the type: the vector is rebuilt at the end of the range */
        if (votes && f->len && cs->type != I_STRING)
            cs->type = merge_type(cs->type, infer_value(p, f->len));
        return;
    }
    if (f->len == 0) {
        if (!keep) return;
        if (f->quoted) cs->qempty = 1;
        if (f->quoted && cs->type == I_STRING)
            tbml_column_append_str(c, p, 0);
        else
            tbml_column_append_null(c);
        return;
    }
    for (;;) {
        /* the fast path: the value fits the column (then it also infers no wider type: a long's
         * text is no date, a date's no number, and so on) */
        double d;
        int b;
        switch (cs->type) {
        case I_LONG:
            if (reader_parse_i64(p, f->len, &i)) {
                if (keep) tbml_column_append_i64(c, i);
                return;
            }
            break;
        case I_DOUBLE:
            if (reader_parse_f64(p, f->len, &d)) {
                if (keep) tbml_column_append_f64(c, d);
                return;
            }
            break;
        case I_BOOL:
            if (reader_parse_bool(p, f->len, &b)) {
                if (keep) tbml_column_append_bool(c, b);
                return;
            }
            break;
        case I_DATE:
            if (tbml_parse_date(p, f->len, &i)) {
                if (keep) tbml_column_append_i64(c, i);
                return;
            }
            break;
        case I_TS:
            if (tbml_parse_timestamp(p, f->len, &i)) {
                if (keep) tbml_column_append_i64(c, i);
                return;
            }
            break;
        case I_STRING:
            if (keep) tbml_column_append_str(c, p, f->len);
            return;
        }
        if (!votes) {
            if (keep) tbml_column_append_null(c);
            cs->lossy = 1;
            return;
        }
        int to = merge_type(cs->type, infer_value(p, f->len));
        if (!can_retype(cs, to)) {
            tbml_column_clear(c);
            c->type = TBML_TYPE_NULL; /* empty; rebuilt at the end of the range */
            cs->dirty = 1;
            cs->type = to;
            return;
        }
        col_retype(c, to);
        cs->type = to; /* and the value now fits */
    }
}

/* Rebuilds the columns of one range that have want[i] >= 0 (an I_* type; I_NULL is read as
 * string) from its bytes, as a read with that type would make them. Malformed records were
 * reported when the range was first read; here they are only dropped or kept again. A value of
 * a malformed record that does not fit is NULL and sets lossy[i] (lossy may be NULL). */
static void csv_rebuild(const csv_scan *s, const char *data, size_t size, uint64_t offset,
                        const int *want, tbml_column *cols, uint8_t *lossy)
{
    const tbml_read_options *o = s->o;
    csv_tok t = tok_new(o);
    for (int i = 0; i < s->ncols; i++) {
        if (want[i] < 0) continue;
        tbml_column_clear(&cols[i]);
        tbml_column_init(&cols[i], infer_to_type(want[i]), 0);
    }
    size_t pos = offset < s->header_skip ? (size_t)(s->header_skip - offset) : 0;
    while (pos < size) {
        if (!csv_next(&t, data, size, &pos)) continue;
        if ((t.err || t.nf != s->ncols) && o->mode == TBML_MODE_DROPMALFORMED) continue;
        for (int i = 0; i < s->ncols; i++) {
            if (want[i] < 0) continue;
            const csv_field *f = record_field(&t, i);
            csv_value v;
            int is_null;
            if (f && convert(&t, f, cols[i].type, &v, &is_null)) {
                append_value(&cols[i], &t, f, &v, is_null);
                continue;
            }
            tbml_column_append_null(&cols[i]);
            if (f && lossy) lossy[i] = 1;
        }
    }
    tok_free(&t);
}

/* A range with inferSchema: values go into vectors of the range's own types as they come. */
static tbml_status csv_chunk_infer(int ith, const tbml_chunk *c, void *arg)
{
    (void)ith;
    csv_scan *s = arg;
    tbml_read_options *o = s->o;
    reader_chunk *r = &s->chunks[c->index];
    csv_colstate *cs = s->cols + (size_t)c->index * (size_t)s->ncols;
    csv_tok t = tok_new(o);
    tbml_status ret = TBML_OK;
    tbml_batch *b = tbml_batch_new(s->schema, 0);
    for (int i = 0; i < s->ncols; i++)
        b->cols[i].type = TBML_TYPE_NULL; /* every column starts with no type */
    s->ranges[c->index].offset = c->offset;
    s->ranges[c->index].size = c->size;
    size_t pos = c->offset < s->header_skip ? (size_t)(s->header_skip - c->offset) : 0;
    int64_t rows = 0; /* kept so far (dirty columns hold none) */
    int ndirty = 0;
    r->nlines = reader_count_lines(c->data, c->size);
    while (pos < c->size) {
        if (!csv_next(&t, c->data, c->size, &pos)) continue;
        int bad = 0;
        if (t.err || t.nf != s->ncols) ret = record_bad(s, r, &t, c->data, &bad);
        if (ret) break;
        int keep = !(bad && o->mode == TBML_MODE_DROPMALFORMED);
        if (!keep && t.err) continue; /* neither kept nor voting */
        for (int i = 0; i < s->ncols; i++) {
            const csv_field *f = record_field(&t, i);
            if (!f) {
                if (keep && !cs[i].dirty) tbml_column_append_null(&b->cols[i]);
                continue;
            }
            int was = cs[i].dirty;
            infer_put(&cs[i], &b->cols[i], &t, f, !t.err, keep);
            ndirty += cs[i].dirty && !was;
        }
        rows += keep;
    }
    if (!ret && ndirty) {
        int *want = tbml_malloc((size_t)s->ncols * sizeof(int));
        uint8_t *lossy = tbml_calloc((size_t)s->ncols, 1);
        for (int i = 0; i < s->ncols; i++)
            want[i] = cs[i].dirty ? cs[i].type : -1;
        csv_rebuild(s, c->data, c->size, c->offset, want, b->cols, lossy);
        for (int i = 0; i < s->ncols; i++)
            if (cs[i].dirty) { /* rebuilt from the bytes: exact for its type */
                cs[i].dirty = 0;
                cs[i].lossy = lossy[i];
            }
        tbml_free(lossy);
        tbml_free(want);
    }
    if (ret) {
        tbml_batch_free(b);
    } else {
        for (int i = 0; i < s->ncols; i++)
            TBML_ASSERT(b->cols[i].nrows == rows);
        r->batch = b;
    }
    tok_free(&t);
    return ret;
}

/* Rebuilds, on each thread, the ranges that the merge could not convert in memory. */
static void csv_rebuild_worker(int ith, int nth, void *arg)
{
    (void)ith;
    (void)nth;
    csv_scan *s = arg;
    int64_t n = s->nranges;
    char *buf = NULL;
    int *want = tbml_malloc((size_t)s->ncols * sizeof(int));
    for (;;) {
        int64_t k = atomic_fetch_add(&s->next, 1);
        if (k >= n) break;
        csv_range *rg = &s->ranges[k];
        if (!rg->rebuild) continue;
        const csv_colstate *cs = s->cols + (size_t)k * (size_t)s->ncols;
        for (int i = 0; i < s->ncols; i++)
            want[i] = can_retype(&cs[i], s->final[i]) ? -1 : s->final[i];
        size_t got = 0;
        buf = tbml_realloc(buf, rg->size + 1);
        rg->st = rg->size ? tbml_input_pread(s->in, buf, rg->size, rg->offset, &got) : TBML_OK;
        if (!rg->st && got != rg->size)
            rg->st = tbml_error(TBML_E_IO, "%s: the file changed while it was read",
                                tbml_input_path(s->in));
        if (rg->st) {
            rg->err = tbml_strdup(tbml_errmsg());
            continue;
        }
        buf[got] = '\0';
        csv_rebuild(s, buf, got, rg->offset, want, s->chunks[k].batch->cols, NULL);
    }
    tbml_free(want);
    tbml_free(buf);
}

/* After the inferring scan: merges the ranges' types (Spark's compatibleType, as before), brings
 * every range to them, in memory where exact and else from the bytes, and sets the schema. */
static tbml_status csv_merge(csv_scan *s, int64_t n, tbml_schema *schema, int *raw,
                             tbml_status scanned)
{
    tbml_status ret = TBML_OK;
    int nrebuild = 0;
    int *ty = tbml_calloc((size_t)s->ncols, sizeof(int)); /* I_NULL */
    for (int i = 0; i < s->ncols; i++)
        for (int64_t k = 0; k < n; k++) /* ranges of other ranks stay I_NULL: no vote */
            ty[i] = merge_type(ty[i], s->cols[(size_t)k * (size_t)s->ncols + (size_t)i].type);
    /* Every rank takes part in the agreement, failed or not, so that reader_finish, which every
     * rank reaches next, reports a scan's failures in file order as one process would. */
    tbml_status agreed = reader_agree_types(s->o, TBML_OK, ty, s->ncols, merge_type);
    if (scanned || agreed) {
        tbml_free(ty);
        return scanned ? scanned : agreed;
    }
    for (int i = 0; i < s->ncols; i++) {
        if (raw) raw[i] = ty[i];
        s->final[i] = ty[i] == I_NULL ? I_STRING : ty[i]; /* all-NULL columns are strings */
        schema->fields[i].type = infer_to_type(ty[i]);
    }
    tbml_free(ty);
    for (int64_t k = 0; k < n; k++) {
        if (!s->chunks[k].batch) continue; /* another rank's range */
        const csv_colstate *cs = s->cols + (size_t)k * (size_t)s->ncols;
        for (int i = 0; i < s->ncols; i++)
            if (!can_retype(&cs[i], s->final[i])) s->ranges[k].rebuild = 1;
        nrebuild += s->ranges[k].rebuild;
    }
    if (nrebuild) {
        atomic_init(&s->next, 0);
        tbml_pool_run(s->o->pool, csv_rebuild_worker, s);
        for (int64_t k = 0; k < n && !ret; k++)
            if (s->ranges[k].st) ret = tbml_error(s->ranges[k].st, "%s", s->ranges[k].err);
        if (ret) return ret;
    }
    for (int64_t k = 0; k < n; k++) {
        tbml_batch *b = s->chunks[k].batch;
        if (!b) continue;
        const csv_colstate *cs = s->cols + (size_t)k * (size_t)s->ncols;
        for (int i = 0; i < s->ncols; i++) {
            if (can_retype(&cs[i], s->final[i])) col_retype(&b->cols[i], s->final[i]);
            TBML_ASSERT(b->cols[i].type == schema->fields[i].type);
            b->schema.fields[i].type = schema->fields[i].type;
        }
        tbml_batch_seal(b);
    }
    return TBML_OK;
}

/* Reads the first record of the file (after empty lines): its fields give the column count and,
 * with a header, the names. *skip is the byte count up to the next record. */
static tbml_status first_record(tbml_input_t *in, const tbml_read_options *o, csv_tok *t,
                                char **buf, size_t *skip, int *found)
{
    size_t want = 64 << 10;
    *found = 0;
    for (;;) {
        size_t got;
        *buf = tbml_realloc(*buf, want + 1);
        tbml_status st = tbml_input_pread(in, *buf, want, 0, &got);
        if (st) return st;
        (*buf)[got] = '\0';
        int whole = got < want;
        size_t pos = 0;
        int rec = 0;
        while (pos < got && !(rec = csv_next(t, *buf, got, &pos))) {
        }
        /* the record is complete if it ended with a newline inside the buffer, or at the end */
        if (rec && (whole || (pos > 0 && pos <= got && (*buf)[pos - 1] == '\n'))) {
            *skip = pos;
            *found = 1;
            return TBML_OK;
        }
        if (!rec && whole) {
            *skip = got;
            return TBML_OK; /* no record at all */
        }
        if (want >= (size_t)1 << 31)
            return tbml_error(TBML_E_FORMAT, "%s: first record too long", tbml_input_path(in));
        want *= 2;
    }
}

/* Reads one CSV input, its ranges numbered from base on (reader_scan). names (NULL: from the
 * header or the first record) gives the column names and count instead, as the first file of a
 * directory gives them to the others; *raw (raw NULL: not wanted) gets a new array of each
 * column's inferred I_* type before all-NULL columns become strings (I_NULL without inference),
 * for merging across files. */
static tbml_status csv_read(tbml_input_t *in, tbml_read_options *o, int64_t base,
                            const tbml_schema *names, int **raw, tbml_table **out)
{
    tbml_status ret = TBML_OK;
    tbml_schema schema;
    tbml_schema_init(&schema);
    csv_tok t = tok_new(o);
    char *buf = NULL;
    size_t skip = 0;
    int found = 0;
    csv_scan s = {.o = o, .corrupt = -1};
    int64_t n = 0;
    size_t chunk_size =
        o->multiline ? (size_t)(tbml_input_size(in) ? tbml_input_size(in) : 1) : o->chunk_size;
    if (o->delimiter == o->quote || o->delimiter == '\n' || o->quote == '\n') {
        ret = tbml_error(TBML_E_ARG,
                         "%s: the CSV delimiter and quote must differ and not be a newline",
                         tbml_input_path(in));
        goto out;
    }
    ret = first_record(in, o, &t, &buf, &skip, &found);
    if (ret) goto out;
    if (o->schema) {
        tbml_schema_copy(&schema, o->schema);
    } else if (names) {
        for (int i = 0; i < names->nfields; i++)
            tbml_schema_add(&schema, names->fields[i].name, TBML_TYPE_STRING, 1);
    } else if (found) {
        for (int i = 0; i < t.nf; i++) {
            char name[64];
            snprintf(name, sizeof(name), "_c%d", i);
            if (o->header && t.f[i].len > 0 && !t.err) {
                char *h = tbml_malloc(t.f[i].len + 1);
                memcpy(h, field_bytes(&t, &t.f[i]), t.f[i].len);
                h[t.f[i].len] = '\0';
                /* Spark makes duplicate header names unique by appending their position */
                int dup = 0;
                for (int j = 0; j < t.nf; j++)
                    if (j != i && t.f[j].len == t.f[i].len &&
                        memcmp(field_bytes(&t, &t.f[j]), h, t.f[i].len) == 0)
                        dup = 1;
                if (dup) {
                    char *h2 = tbml_malloc(t.f[i].len + 16);
                    sprintf(h2, "%s%d", h, i);
                    tbml_free(h);
                    h = h2;
                }
                tbml_schema_add(&schema, h, TBML_TYPE_STRING, 1);
                tbml_free(h);
            } else {
                tbml_schema_add(&schema, name, TBML_TYPE_STRING, 1);
            }
        }
    }
    s.ncols = schema.nfields;
    if (raw) *raw = tbml_calloc((size_t)(s.ncols ? s.ncols : 1), sizeof(int));
    if (o->schema) { /* a corrupt-record column in the schema is no field of the file */
        s.corrupt = reader_corrupt_index(o, &schema, tbml_input_path(in), &ret);
        if (ret) goto out;
        s.ncols -= s.corrupt >= 0;
    }
    s.header_skip = o->header ? skip : 0;
    s.schema = &schema;
    s.in = in;
    n = tbml_input_chunk_count(in, chunk_size);
    s.nranges = n;
    s.chunks = tbml_calloc((size_t)(n ? n : 1), sizeof(reader_chunk));
    if (!o->schema && o->infer_schema && s.ncols > 0) {
        /* one pass: each range infers its own types while it builds its vectors; csv_merge then
         * agrees the types over the ranks' shares and brings the ranges to them */
        s.cols = tbml_calloc((size_t)(n ? n : 1) * (size_t)s.ncols, sizeof(csv_colstate));
        s.ranges = tbml_calloc((size_t)(n ? n : 1), sizeof(csv_range));
        s.final = tbml_calloc((size_t)s.ncols, sizeof(int));
        ret = reader_scan(in, o, base, chunk_size, csv_chunk_infer, &s);
        ret = csv_merge(&s, n, &schema, raw ? *raw : NULL, ret);
    } else {
        ret = reader_scan(in, o, base, chunk_size, csv_chunk, &s);
    }
    ret = reader_finish(in, o, base, ret, s.chunks, n, &schema, "CSV", out);
out:
    if (s.ranges)
        for (int64_t k = 0; k < n; k++)
            tbml_free(s.ranges[k].err);
    tbml_free(s.ranges);
    tbml_free(s.cols);
    tbml_free(s.final);
    tbml_free(s.chunks);
    tbml_free(buf);
    tok_free(&t);
    tbml_schema_clear(&schema);
    return ret;
}

tbml_status tbml_read_csv_input(tbml_input_t *in, tbml_read_options *o, tbml_table **out)
{
    return csv_read(in, o, 0, NULL, NULL, out);
}

static tbml_status csv_read_path(const char *path, tbml_read_options *o, int64_t base,
                                 const tbml_schema *names, int **raw, tbml_table **out)
{
    tbml_input_t *in;
    tbml_status st = tbml_input_open(path, o->key, &in);
    if (st) return st;
    st = csv_read(in, o, base, names, raw, out);
    tbml_input_close(in);
    return st;
}

/* A directory of part files read as one input, as Spark does: the first file with columns names
 * them (each file's header line is skipped), types are inferred over all files (each file in one
 * pass; the merge is the same as across ranges), and a file whose types came out narrower is read
 * again with the merged schema given, which is what a read of all files at once would give. The
 * files' ranges are numbered on as one input's (a file read again keeps its numbers), so a
 * distributed read splits the directory over the ranks as it splits one file; each file's types
 * are agreed over the ranks as it is read, so every rank reads the same files again. */
static tbml_status csv_read_dir(const char *path, tbml_read_options *o, tbml_table **out)
{
    char **files;
    int nfiles;
    tbml_status ret = reader_list_dir(path, &files, &nfiles);
    if (ret) return ret;
    tbml_table **parts = tbml_calloc((size_t)nfiles, sizeof(tbml_table *));
    int **raw = tbml_calloc((size_t)nfiles, sizeof(int *));
    int64_t *bad = tbml_calloc((size_t)nfiles, sizeof(int64_t));
    int64_t *base = tbml_calloc((size_t)nfiles, sizeof(int64_t));
    tbml_schema names, final;
    tbml_schema_init(&names);
    tbml_schema_init(&final);
    int infer = !o->schema && o->infer_schema, have_names = 0;
    for (int k = 0; k < nfiles && !ret; k++) {
        if (k > 0) base[k] = base[k - 1] + parts[k - 1]->ranges->nranges;
        ret = csv_read_path(files[k], o, base[k], have_names ? &names : NULL, &raw[k], &parts[k]);
        bad[k] = o->bad_records;
        if (!ret && !have_names && !o->schema && parts[k]->schema.nfields > 0) {
            /* a file before this one had no columns (it was empty): it has no rows either */
            tbml_schema_copy(&names, &parts[k]->schema);
            have_names = 1;
        }
    }
    if (ret) goto out;
    if (o->schema) {
        tbml_schema_copy(&final, o->schema);
    } else {
        tbml_schema_copy(&final, &names);
        for (int i = 0; i < final.nfields; i++) {
            int ty = I_NULL;
            for (int k = 0; k < nfiles && infer; k++)
                if (parts[k]->schema.nfields == final.nfields) ty = merge_type(ty, raw[k][i]);
            final.fields[i].type = infer ? infer_to_type(ty) : TBML_TYPE_STRING;
        }
    }
    for (int k = 0; k < nfiles && !ret; k++) {
        /* read alone with the merged types, the file gives what it would with them given */
        int same = parts[k]->schema.nfields == final.nfields;
        for (int i = 0; i < final.nfields && same; i++)
            same = parts[k]->schema.fields[i].type == final.fields[i].type;
        if (same) continue;
        tbml_table_free(parts[k]);
        parts[k] = NULL;
        tbml_read_options again = *o;
        again.schema = &final;
        ret = csv_read_path(files[k], &again, base[k], NULL, NULL, &parts[k]);
        bad[k] = again.bad_records;
    }
    if (ret) goto out;
    o->bad_records = 0;
    for (int k = 0; k < nfiles; k++)
        o->bad_records += bad[k];
    *out = reader_concat(parts, nfiles, &final);
out:
    for (int k = 0; k < nfiles; k++) {
        tbml_table_free(parts[k]);
        tbml_free(raw[k]);
    }
    tbml_free(parts);
    tbml_free(raw);
    tbml_free(bad);
    tbml_free(base);
    tbml_schema_clear(&names);
    tbml_schema_clear(&final);
    reader_free_list(files, nfiles);
    return ret;
}

tbml_status tbml_read_csv(const char *path, tbml_read_options *o, tbml_table **out)
{
    if (reader_is_dir(path)) return csv_read_dir(path, o, out);
    tbml_input_t *in;
    tbml_status st = tbml_input_open(path, o->key, &in);
    if (st) return st;
    st = tbml_read_csv_input(in, o, out);
    tbml_input_close(in);
    return st;
}
