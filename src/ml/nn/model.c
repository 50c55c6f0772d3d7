/* Model files (docs/formats/model.md, version 1): the layer list and the flat float32
 * parameters, little-endian, with a CRC-32 trailer; optionally inside a sealed file. Loading
 * rebuilds the network through the same tbml_nn_add_* calls, so a file cannot describe a shape
 * the builder would refuse. */
#include "data/file_internal.h"
#include "nn_internal.h"

#include <assert.h>
#include <math.h>
#include <string.h>
#include <zlib.h>

#define MODEL_MAGIC "TBMLMODL"
#define MODEL_VERSION 1u
#define MODEL_KIND_SEQUENTIAL 1u
#define MODEL_HEADER_SIZE 48 /* magic, version, kind, c, h, w, nlayers, in_scale, in_offset */
#define MODEL_LAYER_SIZE 24  /* kind, a, b, c, d, e */
#define MODEL_MAX_LAYERS 4096
#define MODEL_MAX_SIZE ((size_t)1 << 32)

static_assert(sizeof(MODEL_MAGIC) - 1 == 8, "model magic is 8 bytes");
static_assert(sizeof(float) == 4, "parameters are IEEE-754 binary32");
static_assert(sizeof(double) == 8, "the input transform is IEEE-754 binary64");
static_assert(sizeof(double) == 8, "the input transform is IEEE-754 binary64");

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static void put64d(uint8_t *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put32(p, (uint32_t)u);
    put32(p + 4, (uint32_t)(u >> 32));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

tbml_status tbml_nn_serialize(const tbml_nn_t *nn, uint8_t **out, size_t *out_size)
{
    size_t size =
        MODEL_HEADER_SIZE + (size_t)nn->nlayers * MODEL_LAYER_SIZE + 8 + 4 * nn->nparams + 4;
    uint8_t *b = tbml_malloc(size), *p = b;
    memcpy(p, MODEL_MAGIC, 8);
    put32(p + 8, MODEL_VERSION);
    put32(p + 12, MODEL_KIND_SEQUENTIAL);
    put32(p + 16, (uint32_t)nn->in_c);
    put32(p + 20, (uint32_t)nn->in_h);
    put32(p + 24, (uint32_t)nn->in_w);
    put32(p + 28, (uint32_t)nn->nlayers);
    put64d(p + 32, nn->in_scale);
    put64d(p + 40, nn->in_offset);
    p += MODEL_HEADER_SIZE;
    for (int l = 0; l < nn->nlayers; l++, p += MODEL_LAYER_SIZE) {
        const nn_layer *L = &nn->layers[l];
        put32(p, (uint32_t)L->kind);
        put32(p + 4, (uint32_t)L->a);
        put32(p + 8, (uint32_t)L->b);
        put32(p + 12, (uint32_t)L->c);
        put32(p + 16, (uint32_t)L->d);
        put32(p + 20, (uint32_t)L->e);
    }
    put32(p, (uint32_t)nn->nparams);
    put32(p + 4, (uint32_t)((uint64_t)nn->nparams >> 32));
    p += 8;
    for (size_t i = 0; i < nn->nparams; i++, p += 4) {
        uint32_t u;
        memcpy(&u, &nn->params[i], 4);
        put32(p, u);
    }
    put32(p, (uint32_t)crc32(0L, b, (uInt)(p - b)));
    *out = b;
    *out_size = size;
    return TBML_OK;
}

tbml_status tbml_nn_deserialize(const uint8_t *buf, size_t size, const char *name, tbml_nn_t **out)
{
    tbml_status ret;
    tbml_nn_t *nn = NULL;
    if (size < MODEL_HEADER_SIZE || memcmp(buf, MODEL_MAGIC, 8) != 0)
        return tbml_error(TBML_E_FORMAT, "%s: not a tbml model file (no TBMLMODL magic at byte 0)",
                          name);
    uint32_t version = get32(buf + 8), kind = get32(buf + 12);
    if (version != MODEL_VERSION)
        return tbml_error(TBML_E_UNSUPPORTED, "%s: model format version %u (this tbml reads 1)",
                          name, (unsigned)version);
    if (kind != MODEL_KIND_SEQUENTIAL)
        return tbml_error(TBML_E_UNSUPPORTED, "%s: model kind %u is not a neural network (kind 1)",
                          name, (unsigned)kind);
    uint32_t nl = get32(buf + 28);
    if (nl > MODEL_MAX_LAYERS)
        return tbml_error(TBML_E_FORMAT, "%s: %u layers at byte 28", name, (unsigned)nl);
    size_t fixed = MODEL_HEADER_SIZE + (size_t)nl * MODEL_LAYER_SIZE + 8;
    if (size < fixed + 4)
        return tbml_error(TBML_E_FORMAT, "%s: truncated at byte %zu (the layer list needs %zu)",
                          name, size, fixed + 4);
    uint32_t crc_stored = get32(buf + size - 4);
    if ((uint32_t)crc32(0L, buf, (uInt)(size - 4)) != crc_stored)
        return tbml_error(TBML_E_FORMAT, "%s: checksum mismatch: the file is damaged or truncated",
                          name);
    int c = (int)get32(buf + 16), h = (int)get32(buf + 20), w = (int)get32(buf + 24);
    if (c <= 0 || h <= 0 || w <= 0 || c > 65536 || h > 65536 || w > 65536)
        return tbml_error(TBML_E_FORMAT, "%s: bad input shape at byte 16", name);
    if ((ret = tbml_nn_create(c, h, w, &nn))) return ret;
    uint64_t us = (uint64_t)get32(buf + 32) | (uint64_t)get32(buf + 36) << 32;
    uint64_t uo = (uint64_t)get32(buf + 40) | (uint64_t)get32(buf + 44) << 32;
    memcpy(&nn->in_scale, &us, 8);
    memcpy(&nn->in_offset, &uo, 8);
    if (!isfinite(nn->in_scale) || !isfinite(nn->in_offset)) {
        ret = tbml_error(TBML_E_FORMAT, "%s: input transform at byte 32 is not finite", name);
        goto out;
    }
    const uint8_t *p = buf + MODEL_HEADER_SIZE;
    for (uint32_t l = 0; l < nl; l++, p += MODEL_LAYER_SIZE) {
        uint32_t k = get32(p);
        int a = (int)get32(p + 4), b = (int)get32(p + 8), cc = (int)get32(p + 12),
            d = (int)get32(p + 16), e = (int)get32(p + 20);
        switch (k) {
        case TBML_LAYER_CONV2D:
            ret = tbml_nn_add_conv2d(nn, a, b, cc, d, e);
            break;
        case TBML_LAYER_MAXPOOL2D:
            ret = tbml_nn_add_maxpool2d(nn, a, b, cc, d);
            break;
        case TBML_LAYER_LINEAR:
            ret = tbml_nn_add_linear(nn, a);
            break;
        case TBML_LAYER_TANH:
            ret = tbml_nn_add_tanh(nn);
            break;
        case TBML_LAYER_RELU:
            ret = tbml_nn_add_relu(nn);
            break;
        case TBML_LAYER_RESHAPE:
            ret = tbml_nn_add_reshape(nn, a, b, cc);
            break;
        case TBML_LAYER_LOGSOFTMAX:
            ret = tbml_nn_add_logsoftmax(nn);
            break;
        default:
            ret = tbml_error(TBML_E_FORMAT, "%s: unknown layer kind %u at byte %zu", name,
                             (unsigned)k, (size_t)(p - buf));
        }
        if (ret) {
            ret = tbml_error_prefix(TBML_E_FORMAT, "%s: ", name);
            goto out;
        }
    }
    uint64_t np = (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
    p += 8;
    if (np != nn->nparams || size != fixed + 4 * np + 4) {
        ret = tbml_error(TBML_E_FORMAT, "%s: %llu parameters stored, the layers need %zu", name,
                         (unsigned long long)np, nn->nparams);
        goto out;
    }
    for (size_t i = 0; i < nn->nparams; i++, p += 4) {
        uint32_t u = get32(p);
        memcpy(&nn->params[i], &u, 4);
    }
    *out = nn;
    nn = NULL;
    ret = TBML_OK;
out:
    tbml_nn_free(nn);
    return ret;
}

tbml_status tbml_nn_save(const tbml_nn_t *nn, const char *path, const tbml_key_t *key)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    tbml_outfile_t *f = NULL;
    tbml_sealed_writer_t *w = NULL;
    tbml_status ret;
    if ((ret = tbml_nn_serialize(nn, &buf, &size))) return ret;
    if ((ret = tbml_outfile_open(path, &f))) goto out;
    if (key) {
        if ((ret = tbml_sealed_writer_open(tbml_outfile_fd(f), path, key, TBML_SEAL_SEGMENT_DEFAULT,
                                           &w)) ||
            (ret = tbml_sealed_writer_write(w, buf, size)) || (ret = tbml_sealed_writer_finish(w)))
            goto out;
    } else if ((ret = tbml_outfile_write(f, buf, size))) {
        goto out;
    }
    ret = tbml_outfile_commit(f);
    f = NULL;
out:
    if (w) tbml_sealed_writer_free(w);
    tbml_outfile_abort(f);
    if (buf) memset(buf, 0, size);
    tbml_free(buf);
    return ret;
}

tbml_status tbml_nn_load(const char *path, const tbml_key_t *key, tbml_nn_t **out)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    int sealed = 0;
    tbml_status ret = data_read_file(path, key, MODEL_MAX_SIZE, &buf, &size, &sealed);
    if (ret) return ret;
    ret = tbml_nn_deserialize(buf, size, path, out);
    if (sealed) memset(buf, 0, size);
    tbml_free(buf);
    return ret;
}
