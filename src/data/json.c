/* spark.read.json for JSON lines (docs/formats/json.md): one object per line, parsed by jansson.
 * A first pass infers the schema as Spark's JsonInferSchema does (integers are long, other
 * numbers double, conflicting types become string, fields that are always null become string,
 * fields sorted by name); a second pass builds typed batches. Nested objects and arrays are not
 * flattened: they land in string columns as their compact JSON text, so no data is lost and
 * SQL can still compare or print them. */
#include "reader.h"

#include "tbml/show.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { J_NULL, J_LONG, J_DOUBLE, J_BOOL, J_STRING };

typedef struct {
    char *name;
    int type;
} jfield;

typedef struct {
    jfield *f;
    int n, cap;
} jfields;

static int jtype_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return J_NULL;
    case JSON_INTEGER:
        return J_LONG;
    case JSON_REAL:
        return J_DOUBLE;
    case JSON_TRUE:
    case JSON_FALSE:
        return J_BOOL;
    default:
        return J_STRING; /* strings, and objects and arrays kept as JSON text */
    }
}

static int jmerge(int a, int b)
{
    if (a == b) return a;
    if (a == J_NULL) return b;
    if (b == J_NULL) return a;
    if ((a == J_LONG && b == J_DOUBLE) || (a == J_DOUBLE && b == J_LONG)) return J_DOUBLE;
    return J_STRING;
}

static void jfields_merge(jfields *fs, const char *name, int type)
{
    for (int i = 0; i < fs->n; i++) {
        if (strcmp(fs->f[i].name, name) == 0) {
            fs->f[i].type = jmerge(fs->f[i].type, type);
            return;
        }
    }
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 8;
        fs->f = tbml_realloc(fs->f, (size_t)fs->cap * sizeof(jfield));
    }
    fs->f[fs->n].name = tbml_strdup(name);
    fs->f[fs->n].type = type;
    fs->n++;
}

static void jfields_free(jfields *fs)
{
    for (int i = 0; i < fs->n; i++)
        tbml_free(fs->f[i].name);
    tbml_free(fs->f);
    memset(fs, 0, sizeof(*fs));
}

static int jfield_cmp(const void *a, const void *b)
{
    return strcmp(((const jfield *)a)->name, ((const jfield *)b)->name);
}

typedef struct {
    tbml_read_options *o;
    int pass;
    jfields *found; /* pass 1: per chunk */
    int *malformed; /* pass 1: per chunk, whether it saw a malformed record */
    int corrupt;    /* pass 2: the corrupt-record column, or -1 */
    const tbml_schema *schema;
    reader_chunk *chunks;
} json_scan;

/* Appends v to c as the column's type; returns 0 if v cannot be read as that type. */
static int json_append(tbml_column *c, const json_t *v)
{
    if (!v || json_is_null(v)) {
        tbml_column_append_null(c);
        return 1;
    }
    switch (c->type) {
    case TBML_TYPE_INT64:
        if (!json_is_integer(v)) return 0;
        tbml_column_append_i64(c, (int64_t)json_integer_value(v));
        return 1;
    case TBML_TYPE_DOUBLE:
        if (json_is_number(v)) {
            tbml_column_append_f64(c, json_number_value(v));
            return 1;
        }
        if (json_is_string(v)) { /* Spark reads "NaN" and "Infinity" strings into doubles */
            const char *s = json_string_value(v);
            double d;
            size_t n = json_string_length(v);
            if ((strcmp(s, "NaN") == 0 || strstr(s, "Inf")) && reader_parse_f64(s, n, &d)) {
                tbml_column_append_f64(c, d);
                return 1;
            }
        }
        return 0;
    case TBML_TYPE_BOOL:
        if (!json_is_boolean(v)) return 0;
        tbml_column_append_bool(c, json_is_true(v));
        return 1;
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP: {
        int64_t x;
        if (!json_is_string(v)) return 0;
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (!(c->type == TBML_TYPE_DATE ? tbml_parse_date(s, n, &x)
                                        : tbml_parse_timestamp(s, n, &x)))
            return 0;
        tbml_column_append_i64(c, x);
        return 1;
    }
    case TBML_TYPE_STRING:
        if (json_is_string(v)) {
            tbml_column_append_str(c, json_string_value(v), json_string_length(v));
        } else if (json_is_integer(v)) {
            char buf[32];
            int n = snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)json_integer_value(v));
            tbml_column_append_str(c, buf, (size_t)n);
        } else if (json_is_real(v)) {
            char buf[TBML_FORMAT_MAX];
            size_t n = tbml_format_double(json_real_value(v), buf);
            tbml_column_append_str(c, buf, n);
        } else if (json_is_boolean(v)) {
            tbml_column_append_str(c, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5);
        } else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
            tbml_column_append_str(c, text ? text : "", text ? strlen(text) : 0);
            free(text);
        }
        return 1;
    case TBML_TYPE_NULL:
        tbml_column_append_null(c);
        return 1;
    }
    return 0;
}

/* Where the value of top-level key name starts in line (0-based), found by its quoted name and
 * the ':' after it; 0 when that is not found (e.g. the name was written with escapes). Only for
 * the column of a FAILFAST message, so a rare wrong guess costs nothing but precision. */
static size_t value_column(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    for (size_t i = 0; i + k + 2 <= n; i++) {
        if (line[i] != '"' || memcmp(line + i + 1, name, k) != 0 || line[i + k + 1] != '"')
            continue;
        size_t j = i + k + 2;
        while (j < n && (line[j] == ' ' || line[j] == '\t'))
            j++;
        if (j >= n || line[j] != ':') continue;
        j++;
        while (j < n && (line[j] == ' ' || line[j] == '\t'))
            j++;
        return j < n ? j : 0;
    }
    return 0;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

static tbml_status json_chunk(int ith, const tbml_chunk *c, void *arg)
{
    (void)ith;
    json_scan *s = arg;
    tbml_read_options *o = s->o;
    reader_chunk *r = &s->chunks[c->index];
    tbml_status ret = TBML_OK;
    tbml_batch *b = s->pass == 2 ? tbml_batch_new(s->schema, 0) : NULL;
    int ncols = s->schema ? s->schema->nfields : 0;
    const char *p = c->data, *end = c->data + c->size;
    while (p < end && !ret) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p), at = (size_t)(p - c->data);
        if (nl) r->nlines++;
        const char *line = p;
        p = nl ? nl + 1 : end;
        if (blank(line, n)) continue;
        json_error_t jerr;
        json_t *root = json_loadb(line, n, 0, &jerr);
        if (!root || !json_is_object(root)) {
            if (s->pass == 1) s->malformed[c->index] = 1;
            if (s->pass == 2) {
                char cause[160];
                size_t col = 0;
                if (root) {
                    snprintf(cause, sizeof(cause), "not a JSON object");
                } else {
                    /* jansson's message up to " near ..." (the rest quotes the record) */
                    const char *near = strstr(jerr.text, " near");
                    int keep = near ? (int)(near - jerr.text) : (int)strlen(jerr.text);
                    snprintf(cause, sizeof(cause), "invalid JSON: %.*s", keep, jerr.text);
                    /* jansson's position is the 1-based column of the byte it stopped at */
                    col = jerr.position > 0 ? (size_t)jerr.position - 1 : 0;
                    if (near && strcmp(near, " near end of file") == 0) col = n;
                    if (col > n) col = n;
                }
                ret = reader_bad(r, o, c->data, at + col, cause);
                if (!ret && o->mode == TBML_MODE_PERMISSIVE) {
                    for (int i = 0; i < ncols; i++) {
                        if (i == s->corrupt)
                            reader_corrupt_text(line, n, &b->cols[i]);
                        else
                            tbml_column_append_null(&b->cols[i]);
                    }
                }
            }
            json_decref(root);
            continue;
        }
        if (s->pass == 1) {
            const char *key;
            json_t *v;
            json_object_foreach(root, key, v) jfields_merge(&s->found[c->index], key, jtype_of(v));
            json_decref(root);
            continue;
        }
        /* pass 2: find the first field that does not fit, then append the row or not */
        int bad_field = -1;
        for (int i = 0; i < ncols && bad_field < 0; i++) {
            if (i == s->corrupt) continue; /* filled below, from no field of the record */
            json_t *v = json_object_get(root, s->schema->fields[i].name);
            tbml_column *col = &b->cols[i];
            if (!json_append(col, v)) {
                bad_field = i;
                tbml_column_append_null(col);
            }
        }
        if (bad_field >= 0) {
            const tbml_field *f = &s->schema->fields[bad_field];
            char cause[160];
            snprintf(cause, sizeof(cause), "field %s is not a valid %s", f->name,
                     tbml_type_name(f->type));
            ret = reader_bad(r, o, c->data, at + value_column(line, n, f->name), cause);
            if (ret) {
                json_decref(root);
                break;
            }
            /* finish the row: later fields as they are (PERMISSIVE), then drop it if asked */
            for (int i = bad_field + 1; i < ncols; i++) {
                if (i == s->corrupt) continue;
                tbml_column *col = &b->cols[i];
                if (!json_append(col, json_object_get(root, s->schema->fields[i].name)))
                    tbml_column_append_null(col);
            }
            if (s->corrupt >= 0) reader_corrupt_text(line, n, &b->cols[s->corrupt]);
            if (o->mode == TBML_MODE_DROPMALFORMED) {
                for (int i = 0; i < ncols; i++)
                    tbml_column_truncate(&b->cols[i], b->cols[i].nrows - 1);
            }
        } else if (s->corrupt >= 0) {
            tbml_column_append_null(&b->cols[s->corrupt]);
        }
        json_decref(root);
    }
    if (b) {
        tbml_batch_seal(b);
        r->batch = b;
    }
    return ret;
}

/* A distributed read: every rank merges every rank's fields (as "name\0" + type byte), so
 * all end with the fields one process would find (their order is fixed by the sort after). */
static tbml_status json_agree(const tbml_read_options *o, tbml_status st, jfields *all)
{
    int n = reader_size(o);
    if (n <= 1) return st;
    size_t size = 0;
    for (int i = 0; i < all->n; i++)
        size += strlen(all->f[i].name) + 2;
    char *buf = tbml_malloc(size ? size : 1), *p = buf;
    for (int i = 0; i < all->n; i++) {
        size_t k = strlen(all->f[i].name) + 1;
        memcpy(p, all->f[i].name, k);
        p[k] = (char)all->f[i].type;
        p += k + 1;
    }
    uint8_t **bufs = tbml_calloc((size_t)n, sizeof(*bufs));
    size_t *sizes = tbml_calloc((size_t)n, sizeof(size_t));
    st = reader_allgather(o, st, buf, size, bufs, sizes);
    for (int r = 0; r < n && !st; r++) {
        const char *q = (const char *)bufs[r], *end = q + sizes[r];
        while (q < end) {
            const char *z = memchr(q, '\0', (size_t)(end - q));
            if (!z || z + 1 >= end || (unsigned char)z[1] > J_STRING) {
                st = tbml_error(TBML_E_FORMAT, "read: bad JSON fields from rank %d", r);
                break;
            }
            jfields_merge(all, q, z[1]);
            q = z + 2;
        }
    }
    for (int r = 0; r < n; r++)
        tbml_free(bufs[r]);
    tbml_free(bufs);
    tbml_free(sizes);
    tbml_free(buf);
    return st;
}

/* Pass 1 over this rank's share of in (ranges from base on, as reader_scan's): merges its
 * fields into all (and the corrupt-record column when a record is malformed and the mode keeps
 * it: Spark's inference adds it then, a string sorted in with the others). json_agree then
 * merges the ranks' fields, once for all the inputs of a read. */
static tbml_status json_infer(tbml_input_t *in, tbml_read_options *o, int64_t base, jfields *all)
{
    int64_t n = tbml_input_chunk_count(in, o->chunk_size);
    json_scan s = {.o = o,
                   .pass = 1,
                   .corrupt = -1,
                   .chunks = tbml_calloc((size_t)(n ? n : 1), sizeof(reader_chunk)),
                   .found = tbml_calloc((size_t)(n ? n : 1), sizeof(jfields)),
                   .malformed = tbml_calloc((size_t)(n ? n : 1), sizeof(int))};
    tbml_status ret = reader_scan(in, o, base, o->chunk_size, json_chunk, &s);
    for (int64_t k = 0; k < n && !ret; k++) {
        for (int i = 0; i < s.found[k].n; i++)
            jfields_merge(all, s.found[k].f[i].name, s.found[k].f[i].type);
        if (s.malformed[k] && o->mode == TBML_MODE_PERMISSIVE && o->corrupt_column[0])
            jfields_merge(all, o->corrupt_column, J_STRING);
    }
    for (int64_t k = 0; k < n; k++)
        jfields_free(&s.found[k]);
    tbml_free(s.found);
    tbml_free(s.malformed);
    tbml_free(s.chunks);
    return ret;
}

/* The inferred schema: all's fields sorted by name; always-NULL fields are strings. */
static void json_schema(jfields *all, tbml_schema *schema)
{
    static const tbml_type map[] = {TBML_TYPE_STRING, TBML_TYPE_INT64, TBML_TYPE_DOUBLE,
                                    TBML_TYPE_BOOL, TBML_TYPE_STRING};
    if (all->n) qsort(all->f, (size_t)all->n, sizeof(jfield), jfield_cmp);
    for (int i = 0; i < all->n; i++)
        tbml_schema_add(schema, all->f[i].name, map[all->f[i].type], 1);
}

/* Pass 2 over in with schema (base as reader_scan's). */
static tbml_status json_read(tbml_input_t *in, tbml_read_options *o, int64_t base,
                             const tbml_schema *schema, tbml_table **out)
{
    int64_t n = tbml_input_chunk_count(in, o->chunk_size);
    json_scan s = {.o = o, .pass = 2, .schema = schema};
    tbml_status ret;
    s.corrupt = reader_corrupt_index(o, schema, tbml_input_path(in), &ret);
    if (ret) return ret;
    s.chunks = tbml_calloc((size_t)(n ? n : 1), sizeof(reader_chunk));
    ret = reader_scan(in, o, base, o->chunk_size, json_chunk, &s);
    ret = reader_finish(in, o, base, ret, s.chunks, n, schema, "JSON", out);
    tbml_free(s.chunks);
    return ret;
}

tbml_status tbml_read_json_input(tbml_input_t *in, tbml_read_options *o, tbml_table **out)
{
    if (o->schema) return json_read(in, o, 0, o->schema, out);
    jfields all = {0};
    tbml_schema schema;
    tbml_schema_init(&schema);
    tbml_status ret = json_infer(in, o, 0, &all);
    ret = json_agree(o, ret, &all); /* over the ranks' shares */
    if (!ret) {
        json_schema(&all, &schema);
        ret = json_read(in, o, 0, &schema, out);
    }
    jfields_free(&all);
    tbml_schema_clear(&schema);
    return ret;
}

/* A directory of part files read as one input, as Spark does: the schema is inferred over all
 * of them, then each is read with it. The files' ranges are numbered on as one input's, so a
 * distributed read splits the directory over the ranks as it splits one file, and the ranks
 * merge their fields once, after the last file. */
static tbml_status json_read_dir(const char *path, tbml_read_options *o, tbml_table **out)
{
    char **files;
    int nfiles;
    tbml_status ret = reader_list_dir(path, &files, &nfiles);
    if (ret) return ret;
    tbml_table **parts = tbml_calloc((size_t)nfiles, sizeof(tbml_table *));
    int64_t base = 0;
    jfields all = {0};
    tbml_schema schema;
    tbml_schema_init(&schema);
    int64_t bad = 0;
    /* one file open at a time: a directory may hold more part files than descriptors */
    for (int k = 0; k < nfiles && !ret && !o->schema; k++) {
        tbml_input_t *in;
        ret = tbml_input_open(files[k], o->key, &in);
        if (ret) break;
        ret = json_infer(in, o, base, &all);
        base += tbml_input_chunk_count(in, o->chunk_size);
        tbml_input_close(in);
    }
    /* every rank takes part, failed or not, so that a failure fails every rank */
    if (!o->schema) ret = json_agree(o, ret, &all);
    if (ret) goto out;
    if (o->schema)
        tbml_schema_copy(&schema, o->schema);
    else
        json_schema(&all, &schema);
    base = 0;
    for (int k = 0; k < nfiles && !ret; k++) {
        tbml_input_t *in;
        ret = tbml_input_open(files[k], o->key, &in);
        if (ret) break;
        ret = json_read(in, o, base, &schema, &parts[k]);
        tbml_input_close(in);
        if (ret) break;
        base += parts[k]->ranges->nranges;
        bad += o->bad_records;
    }
    if (ret) goto out;
    o->bad_records = bad;
    *out = reader_concat(parts, nfiles, &schema);
out:
    for (int k = 0; k < nfiles; k++)
        tbml_table_free(parts[k]);
    tbml_free(parts);
    jfields_free(&all);
    tbml_schema_clear(&schema);
    reader_free_list(files, nfiles);
    return ret;
}

tbml_status tbml_read_json(const char *path, tbml_read_options *o, tbml_table **out)
{
    if (reader_is_dir(path)) return json_read_dir(path, o, out);
    tbml_input_t *in;
    tbml_status st = tbml_input_open(path, o->key, &in);
    if (st) return st;
    st = tbml_read_json_input(in, o, out);
    tbml_input_close(in);
    return st;
}
