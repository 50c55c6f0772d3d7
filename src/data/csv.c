/* spark.read.csv (docs/formats/csv.md): RFC 4180 fields ("" inside quotes is one quote), a
 * header line or _c0.._cN names, Spark's inferSchema in a first pass over the file and typed
 * columns in a second, each pass split into line ranges across the pool.
 *
 * Records end at a newline. With multiLine=false (Spark's default) a newline inside quotes also
 * ends the record, which is then malformed (unterminated quote); with multiLine=true quoted
 * newlines belong to the field and the file is read as one range, since a range boundary could
 * fall inside a quoted field. Empty lines are skipped, as Spark does. */
#include "reader.h"

#include "tbml/show.h"

#include <inttypes.h>
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
    char delim, quote;
    int multiline;
    csv_field *f;
    int nf, capf;
    char *scratch;
    size_t slen, scap;
    const char *err; /* cause of a malformed record, or NULL */
    size_t err_pos;
} csv_tok;

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

typedef struct {
    tbml_read_options *o;
    int ncols;
    int pass; /* 1: infer types, 2: build batches */
    const tbml_schema *schema;
    int *types; /* pass 1: per chunk, ncols each */
    reader_chunk *chunks;
    uint64_t header_skip; /* file bytes of leading empty lines and the header record */
} csv_scan;

typedef union {
    int64_t i;
    double d;
} csv_value;

/* Converts field f to column type; returns 1 (value in *v, or *is_null), 0 if unreadable. */
static int convert(const csv_tok *t, const csv_field *f, tbml_type type, csv_value *v, int *is_null)
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

static void append_value(tbml_column *c, const csv_tok *t, const csv_field *f, const csv_value *v,
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

static tbml_status csv_chunk(int ith, const tbml_chunk *c, void *arg)
{
    (void)ith;
    csv_scan *s = arg;
    tbml_read_options *o = s->o;
    reader_chunk *r = &s->chunks[c->index];
    csv_tok t = {.delim = o->delimiter, .quote = o->quote, .multiline = o->multiline};
    tbml_status ret = TBML_OK;
    int *types = s->pass == 1 ? s->types + (size_t)c->index * (size_t)s->ncols : NULL;
    tbml_batch *b = s->pass == 2 ? tbml_batch_new(s->schema, 0) : NULL;
    size_t pos = c->offset < s->header_skip ? (size_t)(s->header_skip - c->offset) : 0;
    r->nlines = reader_count_lines(c->data, c->size);
    while (pos < c->size) {
        if (!csv_next(&t, c->data, c->size, &pos)) continue;
        if (s->pass == 1) {
            if (t.err) continue; /* malformed records do not vote on types */
            for (int i = 0; i < t.nf && i < s->ncols; i++) {
                if (types[i] == I_STRING) continue;
                const csv_field *f = &t.f[i];
                if (f->len == 0) continue;
                types[i] = merge_type(types[i], infer_value(field_bytes(&t, f), f->len));
            }
            continue;
        }
        int bad = 0;
        if (t.err) {
            bad = 1;
            ret = reader_bad(r, o, c->data, t.err_pos, t.err);
        } else if (t.nf != s->ncols) {
            char cause[96];
            snprintf(cause, sizeof(cause), "expected %d fields, found %d", s->ncols, t.nf);
            size_t at = t.nf > s->ncols ? t.f[s->ncols].pos : t.f[t.nf - 1].pos;
            bad = 1;
            ret = reader_bad(r, o, c->data, at, cause);
        }
        if (ret) break;
        /* straight into the columns; a dropped record is cut off again */
        int64_t row = s->ncols ? b->cols[0].nrows : 0;
        for (int i = 0; i < s->ncols; i++) {
            tbml_column *col = &b->cols[i];
            if (i >= t.nf || (t.err && i >= t.nf - 1)) { /* missing, or the broken field */
                tbml_column_append_null(col);
                continue;
            }
            csv_value v;
            int is_null;
            const csv_field *f = &t.f[i];
            if (convert(&t, f, col->type, &v, &is_null)) {
                append_value(col, &t, f, &v, is_null);
                continue;
            }
            tbml_column_append_null(col);
            if (!bad) {
                const tbml_field *sf = &s->schema->fields[i];
                char cause[128];
                snprintf(cause, sizeof(cause), "field %d (%s) is not a valid %s", i + 1, sf->name,
                         tbml_type_name(sf->type));
                bad = 1;
                ret = reader_bad(r, o, c->data, f->pos, cause);
                if (ret) break;
            }
        }
        if (ret) break;
        if (bad && o->mode == TBML_MODE_DROPMALFORMED)
            for (int i = 0; i < s->ncols; i++)
                tbml_column_truncate(&b->cols[i], row);
    }
    if (b && ret) { /* FAILFAST stopped mid-record: the batch is dropped with the read */
        tbml_batch_free(b);
    } else if (b) {
        tbml_batch_seal(b);
        r->batch = b;
    }
    tok_free(&t);
    return ret;
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

tbml_status tbml_read_csv_input(tbml_input_t *in, tbml_read_options *o, tbml_table **out)
{
    tbml_status ret = TBML_OK;
    tbml_schema schema;
    tbml_schema_init(&schema);
    csv_tok t = {.delim = o->delimiter, .quote = o->quote, .multiline = o->multiline};
    char *buf = NULL;
    size_t skip = 0;
    int found = 0;
    csv_scan s = {.o = o};
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
    s.header_skip = o->header ? skip : 0;
    n = tbml_input_chunk_count(in, chunk_size);
    s.chunks = tbml_calloc((size_t)(n ? n : 1), sizeof(reader_chunk));
    if (!o->schema && o->infer_schema && s.ncols > 0) {
        s.pass = 1;
        s.types = tbml_calloc((size_t)(n ? n : 1) * (size_t)s.ncols, sizeof(int));
        ret = reader_scan(in, o, chunk_size, csv_chunk, &s);
        int *ty = tbml_calloc((size_t)s.ncols, sizeof(int)); /* I_NULL */
        for (int i = 0; i < s.ncols; i++)
            for (int64_t k = 0; k < n; k++)
                ty[i] = merge_type(ty[i], s.types[(size_t)k * (size_t)s.ncols + (size_t)i]);
        ret = reader_agree_types(o, ret, ty, s.ncols, merge_type); /* over the ranks' shares */
        for (int i = 0; i < s.ncols && !ret; i++)
            schema.fields[i].type = infer_to_type(ty[i]);
        tbml_free(ty);
        if (ret) goto out;
        memset(s.chunks, 0, (size_t)(n ? n : 1) * sizeof(reader_chunk));
    }
    s.pass = 2;
    s.schema = &schema;
    ret = reader_scan(in, o, chunk_size, csv_chunk, &s);
    ret = reader_finish(in, o, ret, s.chunks, n, &schema, "CSV", out);
out:
    tbml_free(s.types);
    tbml_free(s.chunks);
    tbml_free(buf);
    tok_free(&t);
    tbml_schema_clear(&schema);
    return ret;
}

tbml_status tbml_read_csv(const char *path, tbml_read_options *o, tbml_table **out)
{
    tbml_input_t *in;
    tbml_status st = tbml_input_open(path, o->key, &in);
    if (st) return st;
    st = tbml_read_csv_input(in, o, out);
    tbml_input_close(in);
    return st;
}
