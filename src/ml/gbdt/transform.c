/* Spark ML's model.transform() for GBDT models: a table of each row's features (as a Spark
 * vector string), label and prediction, plus rawPrediction and probability vectors for
 * binary:logistic, as XGBoost4J-Spark's models output them, ready for show(). */
#include "gbdt_internal.h"
#include "tbml/show.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A float as Java prints the double it came from in the source text: the shortest decimal
 * that reads back as this float, then formatted as a Java double ("0.00632", "18.0"). */
static size_t format_float(float v, char *buf)
{
    if (isnan(v)) return (size_t)snprintf(buf, TBML_FORMAT_MAX, "NaN");
    char tmp[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)v);
        if (strtof(tmp, NULL) == v) break;
    }
    return tbml_format_double(strtod(tmp, NULL), buf);
}

static void append(char **s, size_t *len, size_t *cap, const char *add, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *s = tbml_realloc(*s, *cap);
    }
    memcpy(*s + *len, add, n);
    *len += n;
    (*s)[*len] = '\0';
}

/* DenseVector.toString: "[v1,v2,...]" */
static void vector_string(tbml_column *c, const double *v, const float *vf, int n, char **s,
                          size_t *cap)
{
    size_t len = 0;
    char num[TBML_FORMAT_MAX];
    append(s, &len, cap, "[", 1);
    for (int i = 0; i < n; i++) {
        size_t k = vf ? format_float(vf[i], num) : tbml_format_double(v[i], num);
        if (i) append(s, &len, cap, ",", 1);
        append(s, &len, cap, num, k);
    }
    append(s, &len, cap, "]", 1);
    tbml_column_append_str(c, *s, len);
}

tbml_status tbml_gbdt_transform(const tbml_gbdt_model_t *model, const tbml_gbdt_matrix *m,
                                tbml_table **out)
{
    tbml_status ret;
    int binary = model->params.objective == TBML_GBDT_BINARY_LOGISTIC;
    double *margin = tbml_malloc(sizeof(double) * (size_t)(m->nrows + 1));
    if ((ret = tbml_gbdt_predict(model, m->x, m->nrows, m->nfeatures, 1, margin))) {
        tbml_free(margin);
        return ret;
    }
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "features", TBML_TYPE_STRING, 0);
    tbml_schema_add(&s, "label", TBML_TYPE_DOUBLE, 0);
    if (binary) {
        tbml_schema_add(&s, "rawPrediction", TBML_TYPE_STRING, 0);
        tbml_schema_add(&s, "probability", TBML_TYPE_STRING, 0);
    }
    tbml_schema_add(&s, "prediction", TBML_TYPE_DOUBLE, 0);
    tbml_table *t = tbml_table_new(&s);
    tbml_batch *b = tbml_batch_new(&s, m->nrows);
    char *str = NULL;
    size_t cap = 0;
    char num[TBML_FORMAT_MAX];
    for (int64_t r = 0; r < m->nrows; r++) {
        int c = 0;
        vector_string(&b->cols[c++], NULL, m->x + r * m->nfeatures, m->nfeatures, &str, &cap);
        format_float(m->y[r], num);
        tbml_column_append_f64(&b->cols[c++], strtod(num, NULL));
        if (binary) {
            double p = 1.0 / (1.0 + exp(-margin[r]));
            double raw[2] = {-margin[r], margin[r]}, prob[2] = {1.0 - p, p};
            vector_string(&b->cols[c++], raw, NULL, 2, &str, &cap);
            vector_string(&b->cols[c++], prob, NULL, 2, &str, &cap);
            tbml_column_append_f64(&b->cols[c++], p > 0.5 ? 1.0 : 0.0);
        } else {
            tbml_column_append_f64(&b->cols[c++], margin[r]);
        }
    }
    tbml_batch_seal(b);
    tbml_table_append(t, b);
    tbml_schema_clear(&s);
    tbml_free(str);
    tbml_free(margin);
    *out = t;
    return TBML_OK;
}

tbml_status tbml_gbdt_importance_table(const tbml_gbdt_model_t *model, tbml_table **out)
{
    tbml_status ret;
    int nf = model->nfeatures;
    double *w = tbml_malloc(sizeof(double) * (size_t)nf),
           *g = tbml_malloc(sizeof(double) * (size_t)nf);
    double *tg = tbml_malloc(sizeof(double) * (size_t)nf),
           *cv = tbml_malloc(sizeof(double) * (size_t)nf);
    if ((ret = tbml_gbdt_importance(model, "weight", w)) ||
        (ret = tbml_gbdt_importance(model, "gain", g)) ||
        (ret = tbml_gbdt_importance(model, "total_gain", tg)) ||
        (ret = tbml_gbdt_importance(model, "cover", cv)))
        goto out;
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "feature", TBML_TYPE_STRING, 0);
    tbml_schema_add(&s, "weight", TBML_TYPE_INT64, 0);
    tbml_schema_add(&s, "gain", TBML_TYPE_DOUBLE, 0);
    tbml_schema_add(&s, "total_gain", TBML_TYPE_DOUBLE, 0);
    tbml_schema_add(&s, "cover", TBML_TYPE_DOUBLE, 0);
    tbml_table *t = tbml_table_new(&s);
    tbml_batch *b = tbml_batch_new(&s, nf);
    /* by total gain, largest first; features never split on are left out, as get_score does */
    int *order = tbml_malloc(sizeof(int) * (size_t)nf);
    int k = 0;
    for (int f = 0; f < nf; f++)
        if (w[f] > 0) order[k++] = f;
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && tg[order[j]] > tg[order[j - 1]]; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    for (int i = 0; i < k; i++) {
        int f = order[i];
        char name[32];
        const char *n = tbml_gbdt_feature_name(model, f);
        if (!n) {
            snprintf(name, sizeof(name), "f%d", f); /* XGBoost's names for unnamed features */
            n = name;
        }
        tbml_column_append_str(&b->cols[0], n, strlen(n));
        tbml_column_append_i64(&b->cols[1], (int64_t)w[f]);
        tbml_column_append_f64(&b->cols[2], g[f]);
        tbml_column_append_f64(&b->cols[3], tg[f]);
        tbml_column_append_f64(&b->cols[4], cv[f]);
    }
    tbml_batch_seal(b);
    tbml_table_append(t, b);
    tbml_schema_clear(&s);
    tbml_free(order);
    *out = t;
out:
    tbml_free(w);
    tbml_free(g);
    tbml_free(tg);
    tbml_free(cv);
    return ret;
}
