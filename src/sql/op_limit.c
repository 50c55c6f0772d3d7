/* LIMIT and UNION ALL: streaming operators. A limit stops its input early with SQL_STOP once
 * it has passed enough rows; the planner places one per partition, then a gather, then the
 * final one. UNION ALL streams its inputs one after the other within each partition. */
#include "exec.h"

#include <string.h>

typedef struct {
    sql_sink base;
    sql_sink *next;
    int64_t left;
    int downstream_stopped;
} lsink;

static tbml_status limit_put(sql_sink *base, tbml_batch *b, int owned)
{
    lsink *s = (lsink *)base;
    tbml_status st;
    if (s->left <= 0) {
        if (owned) tbml_batch_free(b);
        return SQL_STOP;
    }
    if (b->nrows <= s->left) {
        s->left -= b->nrows;
        st = s->next->put(s->next, b, owned);
    } else {
        int64_t *idx = tbml_malloc((size_t)s->left * sizeof(int64_t));
        for (int64_t i = 0; i < s->left; i++)
            idx[i] = i;
        tbml_batch *nb = sql_batch_take(b, idx, s->left);
        tbml_free(idx);
        if (owned) tbml_batch_free(b);
        s->left = 0;
        st = s->next->put(s->next, nb, 1);
    }
    if (st == SQL_STOP) s->downstream_stopped = 1;
    if (st) return st;
    return s->left <= 0 ? SQL_STOP : TBML_OK;
}

tbml_status op_limit_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    lsink s = {{limit_put}, out, p->limit, 0};
    if (p->limit == 0) return TBML_OK;
    tbml_status st = sql_stream(x, p->child[0], part, &s.base);
    if (st == SQL_STOP) return s.downstream_stopped ? SQL_STOP : TBML_OK;
    return st;
}

tbml_status op_union_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    tbml_status st = sql_stream(x, p->child[0], part, out);
    if (st) return st;
    return sql_stream(x, p->child[1], part, out);
}
