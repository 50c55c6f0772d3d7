/* From tables to the trainer's dense float matrix: every column but the label becomes a
 * feature, NULL becomes NaN (XGBoost's missing value), and anything that is not a number is
 * refused with the source, column and row, before any training starts. */
#include "gbdt_internal.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static int numeric(tbml_type t)
{
    return t == TBML_TYPE_INT64 || t == TBML_TYPE_DOUBLE || t == TBML_TYPE_BOOL;
}

static float cell(const tbml_column *c, int64_t r)
{
    if (tbml_column_is_null(c, r)) return NAN;
    switch (c->type) {
    case TBML_TYPE_INT64:
        return (float)c->i64[r];
    case TBML_TYPE_DOUBLE:
        return (float)c->f64[r];
    case TBML_TYPE_BOOL:
        return c->u8[r] ? 1.0f : 0.0f;
    default:
        return NAN;
    }
}

tbml_status tbml_gbdt_matrix_from_table(const tbml_table *t, const char *label, const char *source,
                                        tbml_gbdt_matrix **out)
{
    const tbml_schema *s = &t->schema;
    int ly = -1;
    for (int c = 0; c < s->nfields; c++)
        if (strcmp(s->fields[c].name, label) == 0) ly = c;
    if (ly < 0)
        for (int c = 0; c < s->nfields; c++)
            if (strcasecmp(s->fields[c].name, label) == 0) ly = c;
    if (ly < 0) return tbml_error(TBML_E_NOTFOUND, "%s: no label column '%s'", source, label);
    if (s->nfields < 2)
        return tbml_error(TBML_E_ARG, "%s: no feature columns besides the label '%s'", source,
                          label);
    for (int c = 0; c < s->nfields; c++)
        if (!numeric(s->fields[c].type))
            return tbml_error(TBML_E_TYPE, "%s: column '%s' is %s, not a number%s", source,
                              s->fields[c].name, tbml_type_name(s->fields[c].type),
                              c == ly ? "" : " (features must be numeric)");
    int64_t n = tbml_table_nrows(t);
    for (int64_t b = 0, row = 1; b < t->nbatches; b++) {
        const tbml_column *yc = &t->batches[b]->cols[ly];
        for (int64_t r = 0; r < t->batches[b]->nrows; r++, row++)
            if (tbml_column_is_null(yc, r))
                return tbml_error(TBML_E_FORMAT, "%s: row %lld: label '%s' is empty", source,
                                  (long long)row, label);
    }
    tbml_gbdt_matrix *m = tbml_calloc(1, sizeof(*m));
    m->nrows = n;
    m->nfeatures = s->nfields - 1;
    m->x = tbml_malloc(sizeof(float) * (size_t)(n * m->nfeatures + 1));
    m->y = tbml_malloc(sizeof(float) * (size_t)(n + 1));
    m->feature_names = tbml_calloc((size_t)m->nfeatures, sizeof(char *));
    m->label_name = tbml_strdup(s->fields[ly].name);
    for (int c = 0, f = 0; c < s->nfields; c++)
        if (c != ly) m->feature_names[f++] = tbml_strdup(s->fields[c].name);
    int64_t row = 0;
    for (int64_t b = 0; b < t->nbatches; b++) {
        const tbml_batch *bt = t->batches[b];
        for (int64_t r = 0; r < bt->nrows; r++, row++) {
            float *x = m->x + row * m->nfeatures;
            for (int c = 0, f = 0; c < s->nfields; c++) {
                if (c == ly)
                    m->y[row] = cell(&bt->cols[c], r);
                else
                    x[f++] = cell(&bt->cols[c], r);
            }
        }
    }
    *out = m;
    return TBML_OK;
}

tbml_gbdt_matrix *tbml_gbdt_matrix_take(const tbml_gbdt_matrix *m, const int64_t *idx,
                                        int64_t count)
{
    tbml_gbdt_matrix *o = tbml_calloc(1, sizeof(*o));
    o->nrows = count;
    o->nfeatures = m->nfeatures;
    o->x = tbml_malloc(sizeof(float) * (size_t)(count * m->nfeatures + 1));
    o->y = tbml_malloc(sizeof(float) * (size_t)(count + 1));
    for (int64_t i = 0; i < count; i++) {
        memcpy(o->x + i * m->nfeatures, m->x + idx[i] * m->nfeatures,
               sizeof(float) * (size_t)m->nfeatures);
        o->y[i] = m->y[idx[i]];
    }
    o->feature_names = gbdt_names_dup(m->feature_names, m->nfeatures);
    if (m->label_name) o->label_name = tbml_strdup(m->label_name);
    return o;
}

char **gbdt_names_dup(char *const *names, int count)
{
    if (!names) return NULL;
    char **o = tbml_calloc((size_t)count, sizeof(char *));
    for (int f = 0; f < count; f++)
        o[f] = tbml_strdup(names[f]);
    return o;
}

void gbdt_names_free(char **names, int count)
{
    if (!names) return;
    for (int f = 0; f < count; f++)
        tbml_free(names[f]);
    tbml_free(names);
}

void tbml_gbdt_matrix_free(tbml_gbdt_matrix *m)
{
    if (!m) return;
    gbdt_names_free(m->feature_names, m->nfeatures);
    tbml_free(m->label_name);
    tbml_free(m->x);
    tbml_free(m->y);
    tbml_free(m);
}
