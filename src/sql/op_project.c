/* Filter and project, the narrow operators of a pipeline: each wraps the sink of its consumer
 * and works batch by batch with the vectorised evaluator (expr.c). Project moves columns out of
 * a batch it owns instead of copying them. */
#include "exec.h"

#include <string.h>

typedef struct {
    sql_sink base;
    sql_plan *p;
    sql_sink *next;
} wsink;

static tbml_status filter_put(sql_sink *base, tbml_batch *b, int owned)
{
    wsink *s = (wsink *)base;
    int64_t *sel, nsel;
    tbml_status st = sql_eval_select(s->p->pred, b, &sel, &nsel);
    if (st) {
        if (owned) tbml_batch_free(b);
        return st;
    }
    if (nsel == b->nrows) {
        tbml_free(sel);
        return s->next->put(s->next, b, owned);
    }
    if (nsel > 0) st = s->next->put(s->next, sql_batch_take(b, sel, nsel), 1);
    tbml_free(sel);
    if (owned) tbml_batch_free(b);
    return st;
}

tbml_status op_filter_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    wsink s = {{filter_put}, p, out};
    return sql_stream(x, p->child[0], part, &s.base);
}

/* A projection that only picks columns of a borrowed batch passes a borrowed view on: no copy. */
static tbml_status project_view(wsink *s, tbml_batch *b)
{
    sql_plan *p = s->p;
    int n = p->nexprs;
    tbml_column *cols = tbml_calloc(n > 0 ? (size_t)n : 1, sizeof(tbml_column));
    for (int i = 0; i < n; i++) {
        if (p->exprs[i]->kind == E_COL) {
            cols[i] = b->cols[p->exprs[i]->col];
        } else { /* a pruned output: row count only */
            cols[i].type = TBML_TYPE_NULL;
            cols[i].nrows = b->nrows;
        }
    }
    tbml_batch view;
    memset(&view, 0, sizeof(view));
    view.schema = p->schema;
    view.nrows = b->nrows;
    view.cols = cols;
    tbml_status st = s->next->put(s->next, &view, 0);
    tbml_free(cols);
    return st;
}

static tbml_status project_put(sql_sink *base, tbml_batch *b, int owned)
{
    wsink *s = (wsink *)base;
    sql_plan *p = s->p;
    int n = p->nexprs;
    if (!owned) {
        int picks = 1;
        for (int i = 0; i < n && picks; i++)
            picks = p->exprs[i]->kind == E_COL ||
                    (p->exprs[i]->kind == E_LIT && p->exprs[i]->type == TBML_TYPE_NULL);
        if (picks) return project_view(s, b);
    }
    tbml_column *cols = tbml_calloc(n > 0 ? (size_t)n : 1, sizeof(tbml_column));
    const tbml_column **res = tbml_calloc(n > 0 ? (size_t)n : 1, sizeof(*res));
    tbml_status st = TBML_OK;
    int k;
    for (k = 0; k < n; k++)
        if ((st = sql_eval(p->exprs[k], b, &cols[k], &res[k]))) break;
    if (!st) {
        for (int i = 0; i < n; i++) {
            if (res[i] == &cols[i]) continue;
            /* a column of b: move it when b is ours and nothing else takes it, else copy */
            int shared = 0;
            for (int j = 0; j < n; j++)
                if (j != i && res[j] == res[i]) shared = 1;
            if (owned && !shared) {
                tbml_column *src = (tbml_column *)res[i];
                cols[i] = *src;
                memset(src, 0, sizeof(*src));
                src->type = cols[i].type;
            } else {
                sql_column_copy(&cols[i], res[i], b->nrows);
            }
        }
        st = s->next->put(s->next, sql_batch_from_columns(&p->schema, cols, b->nrows), 1);
    } else {
        for (int j = 0; j < k; j++)
            if (res[j] == &cols[j]) tbml_column_clear(&cols[j]);
    }
    tbml_free(cols);
    tbml_free(res);
    if (owned) tbml_batch_free(b);
    return st;
}

tbml_status op_project_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    wsink s = {{project_put}, p, out};
    return sql_stream(x, p->child[0], part, &s.base);
}
