/* A trained GBDT model: prediction, feature importance, and the model file
 * (docs/formats/gbdt-model.md), plain with a CRC-32 or sealed under a key. */
#include "gbdt_internal.h"
#include "tbml/io.h"

#include <math.h>
#include <string.h>
#include <zlib.h>

#define MODEL_MAGIC "TBMLGBDT"
#define MODEL_VERSION 1u
#define MODEL_HEADER_SIZE 116u /* magic .. flags, before the names */
#define MODEL_NODE_SIZE 32u
#define MODEL_MAX_SIZE (1ull << 32)
#define MODEL_NAME_MAX 4096u

/* ---- prediction ---------------------------------------------------------------------------- */

double gbdt_predict_row(const tbml_gbdt_model_t *m, const float *x)
{
    double margin = m->base_margin;
    for (int t = 0; t < m->ntrees; t++) {
        const tbml_gbdt_node *nodes = m->nodes + m->tree_ptr[t];
        int id = 0;
        while (nodes[id].left >= 0) {
            float v = x[nodes[id].feature];
            int left = isnan(v) ? nodes[id].default_left : v < nodes[id].threshold;
            id = left ? nodes[id].left : nodes[id].right;
        }
        margin += nodes[id].value;
    }
    return margin;
}

tbml_status tbml_gbdt_predict(const tbml_gbdt_model_t *model, const float *x, int64_t nrows,
                              int nfeatures, int output_margin, double *out)
{
    if (nfeatures != model->nfeatures)
        return tbml_error(TBML_E_ARG, "the model was trained on %d features, the input has %d",
                          model->nfeatures, nfeatures);
    /* blocks of rows, tree by tree: a tree's nodes stay in cache for the whole block */
    enum { BLOCK = 64 };
    for (int64_t r0 = 0; r0 < nrows; r0 += BLOCK) {
        int64_t r1 = r0 + BLOCK < nrows ? r0 + BLOCK : nrows;
        for (int64_t r = r0; r < r1; r++)
            out[r] = model->base_margin;
        for (int t = 0; t < model->ntrees; t++) {
            const tbml_gbdt_node *nodes = model->nodes + model->tree_ptr[t];
            for (int64_t r = r0; r < r1; r++) {
                const float *xr = x + r * nfeatures;
                int id = 0;
                while (nodes[id].left >= 0) {
                    float v = xr[nodes[id].feature];
                    int left = isnan(v) ? nodes[id].default_left : v < nodes[id].threshold;
                    id = left ? nodes[id].left : nodes[id].right;
                }
                out[r] += nodes[id].value;
            }
        }
        if (!output_margin && model->params.objective == TBML_GBDT_BINARY_LOGISTIC)
            for (int64_t r = r0; r < r1; r++)
                out[r] = 1.0 / (1.0 + exp(-out[r]));
    }
    return TBML_OK;
}

int tbml_gbdt_nfeatures(const tbml_gbdt_model_t *m)
{
    return m->nfeatures;
}
int tbml_gbdt_ntrees(const tbml_gbdt_model_t *m)
{
    return m->ntrees;
}
tbml_gbdt_objective tbml_gbdt_model_objective(const tbml_gbdt_model_t *m)
{
    return m->params.objective;
}
double tbml_gbdt_base_margin(const tbml_gbdt_model_t *m)
{
    return m->base_margin;
}

const char *tbml_gbdt_feature_name(const tbml_gbdt_model_t *m, int f)
{
    return m->feature_names && f >= 0 && f < m->nfeatures ? m->feature_names[f] : NULL;
}

int tbml_gbdt_tree_nodes(const tbml_gbdt_model_t *m, int tree)
{
    if (tree < 0 || tree >= m->ntrees) return 0;
    return (int)(m->tree_ptr[tree + 1] - m->tree_ptr[tree]);
}

tbml_status tbml_gbdt_tree_node(const tbml_gbdt_model_t *m, int tree, int node, tbml_gbdt_node *out)
{
    if (node < 0 || node >= tbml_gbdt_tree_nodes(m, tree))
        return tbml_error(TBML_E_ARG, "no node %d in tree %d", node, tree);
    *out = m->nodes[m->tree_ptr[tree] + node];
    return TBML_OK;
}

tbml_status tbml_gbdt_importance(const tbml_gbdt_model_t *m, const char *type, double *out)
{
    int kind;
    if (strcmp(type, "weight") == 0)
        kind = 0;
    else if (strcmp(type, "gain") == 0)
        kind = 1;
    else if (strcmp(type, "total_gain") == 0)
        kind = 2;
    else if (strcmp(type, "cover") == 0)
        kind = 3;
    else if (strcmp(type, "total_cover") == 0)
        kind = 4;
    else
        return tbml_error(
            TBML_E_ARG,
            "importance type '%s' is not weight, gain, total_gain, cover or total_cover", type);
    double *count = tbml_calloc((size_t)m->nfeatures, sizeof(double));
    double *sum = tbml_calloc((size_t)m->nfeatures, sizeof(double));
    for (int64_t i = 0; i < m->tree_ptr[m->ntrees]; i++) {
        const tbml_gbdt_node *n = &m->nodes[i];
        if (n->left < 0) continue;
        count[n->feature] += 1;
        sum[n->feature] += kind <= 2 ? n->gain : n->cover;
    }
    for (int f = 0; f < m->nfeatures; f++) {
        if (kind == 0)
            out[f] = count[f];
        else if (kind == 2 || kind == 4)
            out[f] = sum[f];
        else
            out[f] = count[f] > 0 ? sum[f] / count[f] : 0.0;
    }
    tbml_free(count);
    tbml_free(sum);
    return TBML_OK;
}

void tbml_gbdt_free(tbml_gbdt_model_t *m)
{
    if (!m) return;
    gbdt_names_free(m->feature_names, m->nfeatures);
    tbml_free(m->label_name);
    tbml_free(m->tree_ptr);
    tbml_free(m->nodes);
    tbml_free(m);
}

/* ---- serialisation ------------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t size, cap;
} wbuf;

static void put(wbuf *b, const void *v, size_t n)
{
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2;
        b->p = tbml_realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->size, v, n); /* v may be NULL when n is 0 (no label name) */
    b->size += n;
}
/* the format is little-endian; so is every machine tbml builds for (asserted below) */
static void put_u32(wbuf *b, uint32_t v)
{
    put(b, &v, 4);
}
static void put_i32(wbuf *b, int32_t v)
{
    put(b, &v, 4);
}
static void put_u64(wbuf *b, uint64_t v)
{
    put(b, &v, 8);
}
static void put_f32(wbuf *b, float v)
{
    put(b, &v, 4);
}
static void put_f64(wbuf *b, double v)
{
    put(b, &v, 8);
}
static void put_str(wbuf *b, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0;
    if (n > MODEL_NAME_MAX) n = MODEL_NAME_MAX;
    put_u32(b, n);
    put(b, s, n);
}

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the model format is little-endian");
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE 754 binary32/binary64");

static void serialise(const tbml_gbdt_model_t *m, wbuf *b)
{
    const tbml_gbdt_params *p = &m->params;
    put(b, MODEL_MAGIC, 8);
    put_u32(b, MODEL_VERSION);
    put_u32(b, (uint32_t)p->objective);
    put_u32(b, (uint32_t)m->nfeatures);
    put_u32(b, (uint32_t)m->ntrees);
    put_f64(b, m->base_margin);
    put_f64(b, p->base_score);
    put_i32(b, p->num_round);
    put_i32(b, p->max_depth);
    put_f64(b, p->eta);
    put_f64(b, p->min_child_weight);
    put_f64(b, p->lambda);
    put_f64(b, p->gamma);
    put_f64(b, p->subsample);
    put_f64(b, p->colsample_bytree);
    put_i32(b, p->max_bin);
    put_i32(b, p->nthread);
    put_u64(b, p->seed);
    put_u32(b, m->feature_names ? 1u : 0u); /* flags: bit 0 = feature names present */
    TBML_ASSERT(b->size == MODEL_HEADER_SIZE);
    put_str(b, m->label_name);
    if (m->feature_names)
        for (int f = 0; f < m->nfeatures; f++)
            put_str(b, m->feature_names[f]);
    for (int t = 0; t < m->ntrees; t++) {
        int64_t n = m->tree_ptr[t + 1] - m->tree_ptr[t];
        put_u32(b, (uint32_t)n);
        for (int64_t i = 0; i < n; i++) {
            const tbml_gbdt_node *nd = &m->nodes[m->tree_ptr[t] + i];
            size_t before = b->size;
            put_i32(b, nd->left);
            put_i32(b, nd->right);
            put_i32(b, nd->left >= 0 ? nd->feature : 0);
            put_f32(b, nd->threshold);
            uint8_t flags[4] = {(uint8_t)(nd->default_left ? 1 : 0), 0, 0, 0};
            put(b, flags, 4);
            put_f32(b, nd->value);
            put_f32(b, nd->gain);
            put_f32(b, nd->cover);
            TBML_ASSERT(b->size - before == MODEL_NODE_SIZE);
        }
    }
    put_u32(b, (uint32_t)crc32(0L, b->p, (uInt)b->size));
}

typedef struct {
    const uint8_t *p;
    size_t size, off;
    int bad;
} rbuf;

static void get(rbuf *b, void *v, size_t n)
{
    if (b->bad || b->size - b->off < n) {
        b->bad = 1;
        memset(v, 0, n);
        return;
    }
    memcpy(v, b->p + b->off, n);
    b->off += n;
}
static uint32_t get_u32(rbuf *b)
{
    uint32_t v;
    get(b, &v, 4);
    return v;
}
static int32_t get_i32(rbuf *b)
{
    int32_t v;
    get(b, &v, 4);
    return v;
}
static uint64_t get_u64(rbuf *b)
{
    uint64_t v;
    get(b, &v, 8);
    return v;
}
static float get_f32(rbuf *b)
{
    float v;
    get(b, &v, 4);
    return v;
}
static double get_f64(rbuf *b)
{
    double v;
    get(b, &v, 8);
    return v;
}
static char *get_str(rbuf *b)
{
    uint32_t n = get_u32(b);
    if (n > MODEL_NAME_MAX || b->bad || b->size - b->off < n) {
        b->bad = 1;
        return NULL;
    }
    char *s = tbml_malloc((size_t)n + 1);
    get(b, s, n);
    s[n] = '\0';
    return s;
}

tbml_status tbml_gbdt_parse(const uint8_t *buf, size_t size, const char *name,
                            tbml_gbdt_model_t **out)
{
    tbml_status ret = TBML_OK;
    rbuf b = {buf, size, 0, 0};
    tbml_gbdt_model_t *m = NULL;
    if (size < MODEL_HEADER_SIZE + 4 || memcmp(buf, MODEL_MAGIC, 8) != 0) {
        if (size >= 8 && memcmp(buf, TBML_SEAL_MAGIC, 8) == 0)
            return tbml_error(TBML_E_KEY, "%s: the model is sealed: give its key", name);
        return tbml_error(TBML_E_FORMAT, "%s: not a tbml GBDT model", name);
    }
    uint32_t crc_want;
    memcpy(&crc_want, buf + size - 4, 4);
    if ((uint32_t)crc32(0L, buf, (uInt)(size - 4)) != crc_want)
        return tbml_error(TBML_E_FORMAT, "%s: the model file is damaged (checksum mismatch)", name);
    b.size = size - 4;
    b.off = 8;
    uint32_t version = get_u32(&b);
    if (version != MODEL_VERSION)
        return tbml_error(TBML_E_UNSUPPORTED, "%s: model format version %u (this tbml reads %u)",
                          name, version, MODEL_VERSION);
    m = tbml_calloc(1, sizeof(*m));
    tbml_gbdt_params *p = &m->params;
    uint32_t objective = get_u32(&b), nfeatures = get_u32(&b), ntrees = get_u32(&b);
    m->base_margin = get_f64(&b);
    p->base_score = get_f64(&b);
    p->num_round = get_i32(&b);
    p->max_depth = get_i32(&b);
    p->eta = get_f64(&b);
    p->min_child_weight = get_f64(&b);
    p->lambda = get_f64(&b);
    p->gamma = get_f64(&b);
    p->subsample = get_f64(&b);
    p->colsample_bytree = get_f64(&b);
    p->max_bin = get_i32(&b);
    p->nthread = get_i32(&b);
    p->seed = get_u64(&b);
    uint32_t flags = get_u32(&b);
    p->objective = (tbml_gbdt_objective)objective;
    if (objective > 1 || nfeatures == 0 || nfeatures > (1u << 24) || flags > 1 ||
        !isfinite(m->base_margin) || ntrees > b.size / 4) {
        ret = tbml_error(TBML_E_FORMAT, "%s: bad model header", name);
        goto out;
    }
    m->nfeatures = (int)nfeatures;
    m->label_name = get_str(&b);
    if (flags & 1) {
        if (nfeatures > (b.size - b.off) / 4) {
            ret = tbml_error(TBML_E_FORMAT, "%s: truncated feature names", name);
            goto out;
        }
        m->feature_names = tbml_calloc(nfeatures, sizeof(char *));
        for (uint32_t f = 0; f < nfeatures && !b.bad; f++)
            m->feature_names[f] = get_str(&b);
    }
    m->tree_ptr = tbml_calloc((size_t)ntrees + 1, sizeof(int64_t));
    for (uint32_t t = 0; t < ntrees && !b.bad; t++) {
        uint32_t n = get_u32(&b);
        if (n == 0 || n > (b.size - b.off) / MODEL_NODE_SIZE) {
            ret = tbml_error(TBML_E_FORMAT, "%s: tree %u: bad node count", name, t);
            goto out;
        }
        int64_t base = m->tree_ptr[t];
        m->nodes = tbml_realloc(m->nodes, sizeof(tbml_gbdt_node) * (size_t)(base + n));
        for (uint32_t i = 0; i < n; i++) {
            tbml_gbdt_node *nd = &m->nodes[base + i];
            nd->left = get_i32(&b);
            nd->right = get_i32(&b);
            nd->feature = get_i32(&b);
            nd->threshold = get_f32(&b);
            uint8_t fl[4];
            get(&b, fl, 4);
            nd->default_left = fl[0];
            nd->value = get_f32(&b);
            nd->gain = get_f32(&b);
            nd->cover = get_f32(&b);
            /* children come after their parent, so walking a tree always ends */
            int leaf = nd->left == -1 && nd->right == -1;
            int inner = nd->left > (int32_t)i && nd->right > (int32_t)i && nd->left < (int32_t)n &&
                        nd->right < (int32_t)n && nd->feature >= 0 &&
                        nd->feature < (int32_t)nfeatures && !isnan(nd->threshold);
            if ((!leaf && !inner) || fl[0] > 1 || !isfinite(nd->value)) {
                ret = tbml_error(TBML_E_FORMAT, "%s: tree %u node %u is malformed", name, t, i);
                goto out;
            }
        }
        m->tree_ptr[t + 1] = base + n;
        m->ntrees = (int)t + 1;
    }
    if (b.bad || b.off != b.size) {
        ret = tbml_error(TBML_E_FORMAT, "%s: %s", name,
                         b.bad ? "truncated model" : "trailing bytes after the model");
        goto out;
    }
    *out = m;
    m = NULL;
out:
    if (m && !m->tree_ptr) m->ntrees = 0;
    tbml_gbdt_free(m);
    return ret;
}

tbml_status tbml_gbdt_serialize(const tbml_gbdt_model_t *model, uint8_t **out, size_t *size)
{
    wbuf b = {0};
    serialise(model, &b);
    *out = b.p;
    *size = b.size;
    return TBML_OK;
}

tbml_status tbml_gbdt_save(const tbml_gbdt_model_t *model, const char *path, const tbml_key_t *key)
{
    tbml_status ret;
    wbuf b = {0};
    tbml_output_t *o = NULL;
    serialise(model, &b);
    if ((ret = tbml_output_open(path, key, &o))) goto out;
    if ((ret = tbml_output_write(o, b.p, b.size))) goto out;
    ret = tbml_output_commit(o);
    o = NULL;
out:
    tbml_output_abort(o);
    tbml_free(b.p);
    return ret;
}

tbml_status tbml_gbdt_load(const char *path, const tbml_key_t *key, tbml_gbdt_model_t **out)
{
    tbml_status ret;
    tbml_input_t *in = NULL;
    char *buf = NULL;
    size_t size = 0;
    if ((ret = tbml_input_open(path, key, &in))) return ret;
    if (tbml_input_size(in) > MODEL_MAX_SIZE) {
        ret = tbml_error(TBML_E_FORMAT, "%s: too large for a model", path);
        goto out;
    }
    if ((ret = tbml_input_read_all(in, &buf, &size))) goto out;
    ret = tbml_gbdt_parse((const uint8_t *)buf, size, path, out);
out:
    tbml_free(buf);
    tbml_input_close(in);
    return ret;
}
