/* The layer kernels: forward and backward of Conv2d (im2col + OpenBLAS GEMM), MaxPool2d, Linear
 * (GEMM), Tanh, ReLU, Reshape and LogSoftMax, and the ClassNLL / cross-entropy losses. Every
 * kernel works on a batch of n samples in NCHW order and uses only the caller's buffers. */
#include "nn_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- random numbers -------------------------------------------------------------------- */

uint64_t nn_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double nn_rand_uniform(uint64_t *state, double lo, double hi)
{
    /* 53 random bits -> [0, 1) */
    double u = (double)(nn_rand_next(state) >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

/* ---- tanh ------------------------------------------------------------------------------ */

/* Hot elementwise kernels get an AVX2 + FMA clone picked at load time; the default clone runs on
 * any x86-64. Explicit 8-wide vectors, since -O2's cost model leaves these loops scalar. */
/* gcc only: clang's ifuncs for hidden symbols do not link under its sanitizers (the fuzz preset
 * builds with clang -mavx2 instead). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NN_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NN_KERNEL
#endif

/* The helpers below are static inline and never cross a call boundary with a vector argument. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v8sf __attribute__((vector_size(32)));
typedef int32_t v8si __attribute__((vector_size(32)));

/* unaligned access through a vector type of float alignment (GCC's vector types alias their
 * element type) */
typedef float v8sf_u __attribute__((vector_size(32), aligned(4)));
static inline v8sf v8_load(const float *p)
{
    return *(const v8sf_u *)p;
}
static inline void v8_store(float *p, v8sf v)
{
    *(v8sf_u *)p = v;
}
static inline v8sf v8_set1(float f)
{
    return (v8sf){f, f, f, f, f, f, f, f};
}
static inline v8sf v8_select(v8si mask, v8sf a, v8sf b)
{
    return (v8sf)(((v8si)a & mask) | ((v8si)b & ~mask));
}

/* tanh(x) = x * P(x^2) / Q(x^2), clamped to +-7.905 where float tanh is +-1 (the minimax
 * rational form Eigen uses for float). */
static inline v8sf v8_tanh(v8sf x)
{
    const v8sf lim = v8_set1(7.90531110763549805f), nlim = -lim;
    x = v8_select(x > lim, lim, x);
    x = v8_select(x < nlim, nlim, x);
    v8sf x2 = x * x;
    v8sf p = v8_set1(-2.76076847742355e-16f);
    p = p * x2 + v8_set1(2.00018790482477e-13f);
    p = p * x2 + v8_set1(-8.60467152213735e-11f);
    p = p * x2 + v8_set1(5.12229709037114e-08f);
    p = p * x2 + v8_set1(1.48572235717979e-05f);
    p = p * x2 + v8_set1(6.37261928875436e-04f);
    p = p * x2 + v8_set1(4.89352455891786e-03f);
    p = p * x;
    v8sf q = v8_set1(1.19825839466702e-06f);
    q = q * x2 + v8_set1(1.18534705686654e-04f);
    q = q * x2 + v8_set1(2.26843463243900e-03f);
    q = q * x2 + v8_set1(4.89352518554385e-03f);
    return p / q;
}

NN_KERNEL void nn_tanh(const float *x, float *y, size_t count)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        v8_store(y + i, v8_tanh(v8_load(x + i)));
    if (i < count) {
        float tx[8] = {0}, ty[8];
        memcpy(tx, x + i, sizeof(float) * (count - i));
        v8_store(ty, v8_tanh(v8_load(tx)));
        memcpy(y + i, ty, sizeof(float) * (count - i));
    }
}

/* dx = dy * (1 - y^2) */
NN_KERNEL static void tanh_backward(const float *y, const float *dy, float *dx, size_t count)
{
    size_t i = 0;
    const v8sf one = v8_set1(1.0f);
    for (; i + 8 <= count; i += 8) {
        v8sf v = v8_load(y + i);
        v8_store(dx + i, v8_load(dy + i) * (one - v * v));
    }
    for (; i < count; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

NN_KERNEL static void fill_value(float *restrict t, float v, int n)
{
    for (int i = 0; i < n; i++)
        t[i] = v;
}

/* t = s, returning the sum of s (8 lanes, then the lanes in order: deterministic). */
NN_KERNEL static float copy_sum(const float *restrict s, float *restrict t, int n)
{
    v8sf acc = v8_set1(0.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8sf v = v8_load(s + i);
        v8_store(t + i, v);
        acc += v;
    }
    float sum = 0.0f;
    for (int k = 0; k < 8; k++)
        sum += acc[k];
    for (; i < n; i++) {
        t[i] = s[i];
        sum += s[i];
    }
    return sum;
}

/* ---- convolution ----------------------------------------------------------------------- */

static int conv_chunk(const nn_layer *L, int n)
{
    int ohw = L->out_h * L->out_w;
    int ckk = L->in_c * L->b * L->c;
    int per = (ckk > L->out_c ? ckk : L->out_c) * ohw;
    int m = NN_CONV_CHUNK_FLOATS / (per ? per : 1);
    if (m < 1) m = 1;
    return m < n ? m : n;
}

/* Stride 1, no padding (LeNet's case): every row of the column matrix is a run of plain
 * copies, with no bounds to check. */
/* Rows are short (8 to 24 floats): GCC must not turn the copy loop into memcpy calls. */
NN_KERNEL __attribute__((optimize("no-tree-loop-distribute-patterns"))) static void
im2col_s1(const nn_layer *L, const float *restrict x, int m, float *restrict col)
{
    const int C = L->in_c, H = L->in_h, W = L->in_w, KH = L->b, KW = L->c;
    const int OH = L->out_h, OW = L->out_w, OHW = OH * OW, ld = m * OHW;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++) {
                float *restrict row = col + (size_t)((c * KH + ky) * KW + kx) * ld;
                for (int img = 0; img < m; img++) {
                    const float *restrict xc = x + ((size_t)img * C + c) * H * W + ky * W + kx;
                    float *restrict r = row + (size_t)img * OHW;
                    for (int oy = 0; oy < OH; oy++) {
                        float *d = r + oy * OW;
                        const float *q = xc + oy * W;
                        int ox = 0;
                        for (; ox + 8 <= OW; ox += 8)
                            v8_store(d + ox, v8_load(q + ox));
                        for (; ox < OW; ox++)
                            d[ox] = q[ox];
                    }
                }
            }
}

NN_KERNEL static void col2im_s1(const nn_layer *L, const float *restrict col, int m,
                                float *restrict dx)
{
    const int C = L->in_c, H = L->in_h, W = L->in_w, KH = L->b, KW = L->c;
    const int OH = L->out_h, OW = L->out_w, OHW = OH * OW, ld = m * OHW;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++) {
                const float *restrict row = col + (size_t)((c * KH + ky) * KW + kx) * ld;
                for (int img = 0; img < m; img++) {
                    float *restrict dc = dx + ((size_t)img * C + c) * H * W + ky * W + kx;
                    const float *restrict r = row + (size_t)img * OHW;
                    for (int oy = 0; oy < OH; oy++) {
                        float *d = dc + oy * W;
                        const float *q = r + oy * OW;
                        int ox = 0;
                        for (; ox + 8 <= OW; ox += 8)
                            v8_store(d + ox, v8_load(d + ox) + v8_load(q + ox));
                        for (; ox < OW; ox++)
                            d[ox] += q[ox];
                    }
                }
            }
}

/* col is (C*KH*KW, m*OH*OW): row (c, ky, kx), column (image, oy, ox). x is m images. */
static void im2col(const nn_layer *L, const float *x, int m, float *col)
{
    const int C = L->in_c, H = L->in_h, W = L->in_w, KH = L->b, KW = L->c, S = L->d, P = L->e;
    const int OH = L->out_h, OW = L->out_w, OHW = OH * OW, ld = m * OHW;
    if (S == 1 && P == 0) {
        im2col_s1(L, x, m, col);
        return;
    }
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++) {
                float *row = col + (size_t)((c * KH + ky) * KW + kx) * ld;
                for (int img = 0; img < m; img++) {
                    const float *xc = x + ((size_t)img * C + c) * H * W;
                    float *r = row + (size_t)img * OHW;
                    for (int oy = 0; oy < OH; oy++) {
                        int iy = oy * S - P + ky;
                        float *ro = r + oy * OW;
                        if (iy < 0 || iy >= H) {
                            memset(ro, 0, sizeof(float) * OW);
                            continue;
                        }
                        const float *xr = xc + (size_t)iy * W;
                        for (int ox = 0; ox < OW; ox++) {
                            int ix = ox * S - P + kx;
                            ro[ox] = (ix >= 0 && ix < W) ? xr[ix] : 0.0f;
                        }
                    }
                }
            }
}

/* Adds col (as im2col lays it out) back into dx (m images, zeroed by the caller). */
static void col2im(const nn_layer *L, const float *col, int m, float *dx)
{
    const int C = L->in_c, H = L->in_h, W = L->in_w, KH = L->b, KW = L->c, S = L->d, P = L->e;
    const int OH = L->out_h, OW = L->out_w, OHW = OH * OW, ld = m * OHW;
    if (S == 1 && P == 0) {
        col2im_s1(L, col, m, dx);
        return;
    }
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++) {
                const float *row = col + (size_t)((c * KH + ky) * KW + kx) * ld;
                for (int img = 0; img < m; img++) {
                    float *dc = dx + ((size_t)img * C + c) * H * W;
                    const float *r = row + (size_t)img * OHW;
                    for (int oy = 0; oy < OH; oy++) {
                        int iy = oy * S - P + ky;
                        if (iy < 0 || iy >= H) continue;
                        float *dr = dc + (size_t)iy * W;
                        const float *ro = r + oy * OW;
                        for (int ox = 0; ox < OW; ox++) {
                            int ix = ox * S - P + kx;
                            if (ix >= 0 && ix < W) dr[ix] += ro[ox];
                        }
                    }
                }
            }
}

static void conv_forward(const nn_layer *L, const float *params, const float *x, float *y, int n,
                         float *scratch)
{
    /* x is (n, C, H, W), y is (n, OC, OH, OW), W is (OC, C*KH*KW) */
    const int OC = L->out_c, OHW = L->out_h * L->out_w, CKK = L->in_c * L->b * L->c;
    const float *w = params + L->w_off, *bias = params + L->b_off;
    int chunk = conv_chunk(L, n);
    float *col = scratch, *tmp = scratch + (size_t)CKK * chunk * OHW;
    for (int i0 = 0; i0 < n; i0 += chunk) {
        int m = n - i0 < chunk ? n - i0 : chunk;
        int ld = m * OHW;
        im2col(L, x + (size_t)i0 * L->in_size, m, col);
        /* tmp starts as the bias and the GEMM adds into it: beta = 1 also spares OpenBLAS its
         * separate pass that zeroes C */
        for (int oc = 0; oc < OC; oc++)
            fill_value(tmp + (size_t)oc * ld, bias[oc], ld);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, ld, CKK, 1.0f, w, CKK, col, ld,
                    1.0f, tmp, ld);
        for (int img = 0; img < m; img++) {
            float *yi = y + (size_t)(i0 + img) * L->out_size;
            for (int oc = 0; oc < OC; oc++)
                memcpy(yi + (size_t)oc * OHW, tmp + (size_t)oc * ld + (size_t)img * OHW,
                       sizeof(float) * OHW);
        }
    }
}

static void conv_backward(const nn_layer *L, const float *params, const float *x, const float *dy,
                          float *dx, float *dparams, int n, float *scratch)
{
    const int OC = L->out_c, OHW = L->out_h * L->out_w, CKK = L->in_c * L->b * L->c;
    const float *w = params + L->w_off;
    float *dw = dparams + L->w_off, *db = dparams + L->b_off;
    int chunk = conv_chunk(L, n);
    float *col = scratch, *tmp = scratch + (size_t)CKK * chunk * OHW;
    if (dx) memset(dx, 0, sizeof(float) * (size_t)n * L->in_size);
    for (int i0 = 0; i0 < n; i0 += chunk) {
        int m = n - i0 < chunk ? n - i0 : chunk;
        int ld = m * OHW;
        /* dy chunk into (OC, m*OHW), summing the bias gradient on the way */
        for (int img = 0; img < m; img++) {
            const float *dyi = dy + (size_t)(i0 + img) * L->out_size;
            for (int oc = 0; oc < OC; oc++) {
                const float *s = dyi + (size_t)oc * OHW;
                float *t = tmp + (size_t)oc * ld + (size_t)img * OHW;
                db[oc] += copy_sum(s, t, OHW);
            }
        }
        im2col(L, x + (size_t)i0 * L->in_size, m, col);
        /* dW (OC, CKK) += dY (OC, ld) * col^T (ld, CKK) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CKK, ld, 1.0f, tmp, ld, col, ld,
                    1.0f, dw, CKK);
        if (dx) {
            /* dcol (CKK, ld) = W^T (CKK, OC) * dY (OC, ld) */
            memset(col, 0, sizeof(float) * (size_t)CKK * ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, ld, OC, 1.0f, w, CKK, tmp, ld,
                        1.0f, col, ld);
            col2im(L, col, m, dx + (size_t)i0 * L->in_size);
        }
    }
}

/* ---- pooling --------------------------------------------------------------------------- */

/* 2x2 windows, stride 2 (LeNet's case). Ties go to the first element in row order, as in the
 * general loop. */
NN_KERNEL static void maxpool2_forward(const nn_layer *L, const float *restrict x,
                                       float *restrict y, int n)
{
    const int H = L->in_h, W = L->in_w, OH = L->out_h, OW = L->out_w;
    for (size_t plane = 0; plane < (size_t)n * L->in_c; plane++) {
        const float *xp = x + plane * H * W;
        float *yp = y + plane * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            const float *r0 = xp + (size_t)2 * oy * W, *r1 = r0 + W;
            for (int ox = 0; ox < OW; ox++) {
                float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
                float m = b > a ? b : a;
                m = c > m ? c : m;
                yp[oy * OW + ox] = d > m ? d : m;
            }
        }
    }
}

/* Branch-free: the window's first element equal to the max takes the gradient, the others 0.
 * Windows tile the input when H and W are even, so dx needs no clearing then. */
NN_KERNEL static void maxpool2_backward(const nn_layer *L, const float *restrict x,
                                        const float *restrict y, const float *restrict dy,
                                        float *restrict dx, int n)
{
    const int H = L->in_h, W = L->in_w, OH = L->out_h, OW = L->out_w;
    if ((H & 1) || (W & 1)) memset(dx, 0, sizeof(float) * (size_t)n * L->in_size);
    for (size_t plane = 0; plane < (size_t)n * L->in_c; plane++) {
        const float *xp = x + plane * H * W, *yp = y + plane * OH * OW, *g = dy + plane * OH * OW;
        float *dp = dx + plane * H * W;
        for (int oy = 0; oy < OH; oy++) {
            const float *x0 = xp + (size_t)2 * oy * W, *x1 = x0 + W;
            float *d0 = dp + (size_t)2 * oy * W, *d1 = d0 + W;
            for (int ox = 0; ox < OW; ox++) {
                float m = yp[oy * OW + ox], gv = g[oy * OW + ox];
                int ea = x0[2 * ox] == m, eb = x0[2 * ox + 1] == m, ec = x1[2 * ox] == m;
                int ta = ea, tb = (!ea) & eb, tc = (!ea) & (!eb) & ec, td = (!ea) & (!eb) & (!ec);
                d0[2 * ox] = ta ? gv : 0.0f;
                d0[2 * ox + 1] = tb ? gv : 0.0f;
                d1[2 * ox] = tc ? gv : 0.0f;
                d1[2 * ox + 1] = td ? gv : 0.0f;
            }
        }
    }
}

static void maxpool_forward(const nn_layer *L, const float *x, float *y, int n)
{
    const int C = L->in_c, H = L->in_h, W = L->in_w, KH = L->a, KW = L->b, SH = L->c, SW = L->d;
    const int OH = L->out_h, OW = L->out_w;
    if (KH == 2 && KW == 2 && SH == 2 && SW == 2) {
        maxpool2_forward(L, x, y, n);
        return;
    }
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        const float *xp = x + plane * H * W;
        float *yp = y + plane * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const float *win = xp + (size_t)oy * SH * W + (size_t)ox * SW;
                float best = win[0];
                for (int ky = 0; ky < KH; ky++)
                    for (int kx = 0; kx < KW; kx++)
                        if (win[ky * W + kx] > best) best = win[ky * W + kx];
                yp[oy * OW + ox] = best;
            }
    }
}

/* The gradient goes to the first element of each window equal to the max, the same element
 * forward's strict > picked, so no index buffer needs keeping between the passes. */
static void maxpool_backward(const nn_layer *L, const float *x, const float *y, const float *dy,
                             float *dx, int n)
{
    const int C = L->in_c, H = L->in_h, W = L->in_w, KH = L->a, KW = L->b, SH = L->c, SW = L->d;
    const int OH = L->out_h, OW = L->out_w;
    if (KH == 2 && KW == 2 && SH == 2 && SW == 2) {
        maxpool2_backward(L, x, y, dy, dx, n);
        return;
    }
    memset(dx, 0, sizeof(float) * (size_t)n * L->in_size);
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        const float *xp = x + plane * H * W;
        const float *yp = y + plane * OH * OW, *dyp = dy + plane * OH * OW;
        float *dxp = dx + plane * H * W;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                size_t base = (size_t)oy * SH * W + (size_t)ox * SW;
                float best = yp[oy * OW + ox];
                int found = 0;
                for (int ky = 0; ky < KH && !found; ky++)
                    for (int kx = 0; kx < KW; kx++)
                        if (xp[base + ky * W + kx] == best) {
                            dxp[base + ky * W + kx] += dyp[oy * OW + ox];
                            found = 1;
                            break;
                        }
            }
    }
}

/* ---- linear ---------------------------------------------------------------------------- */

static void linear_forward(const nn_layer *L, const float *params, const float *x, float *y, int n)
{
    /* x is (n, I), W is (O, I) as Torch stores it, y is (n, O) */
    const int NI = L->in_size, NO = L->out_size;
    const float *w = params + L->w_off, *b = params + L->b_off;
    for (int i = 0; i < n; i++)
        memcpy(y + (size_t)i * NO, b, sizeof(float) * NO);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, NO, NI, 1.0f, x, NI, w, NI, 1.0f, y,
                NO);
}

static void linear_backward(const nn_layer *L, const float *params, const float *x, const float *dy,
                            float *dx, float *dparams, int n)
{
    const int NI = L->in_size, NO = L->out_size;
    float *dw = dparams + L->w_off, *db = dparams + L->b_off;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NO, NI, n, 1.0f, dy, NO, x, NI, 1.0f, dw,
                NI);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < NO; o++)
            db[o] += dy[(size_t)i * NO + o];
    if (dx) {
        memset(dx, 0, sizeof(float) * (size_t)n * NI);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, NI, NO, 1.0f, dy, NO,
                    params + L->w_off, NI, 1.0f, dx, NI);
    }
}

/* ---- log-softmax and losses ------------------------------------------------------------ */

static void logsoftmax_row(const float *x, float *y, int k)
{
    float mx = x[0];
    for (int j = 1; j < k; j++)
        mx = x[j] > mx ? x[j] : mx;
    double sum = 0;
    for (int j = 0; j < k; j++)
        sum += exp((double)x[j] - mx);
    float lse = mx + (float)log(sum);
    for (int j = 0; j < k; j++)
        y[j] = x[j] - lse;
}

double nn_loss_one(tbml_loss_kind kind, const float *x, int32_t label, int k)
{
    if (kind == TBML_LOSS_CLASSNLL) return -(double)x[label];
    float mx = x[0];
    for (int j = 1; j < k; j++)
        mx = x[j] > mx ? x[j] : mx;
    double sum = 0;
    for (int j = 0; j < k; j++)
        sum += exp((double)x[j] - mx);
    return -((double)x[label] - mx - log(sum));
}

double nn_loss(tbml_loss_kind kind, const float *x, const int32_t *labels, int n, int k,
               float scale, float *dx)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * k;
        int32_t t = labels[i];
        total += nn_loss_one(kind, xi, t, k);
        if (!dx) continue;
        float *d = dx + (size_t)i * k;
        if (kind == TBML_LOSS_CLASSNLL) {
            memset(d, 0, sizeof(float) * k);
            d[t] = -scale;
        } else {
            float ls[64], *p = k <= 64 ? ls : d;
            logsoftmax_row(xi, p, k);
            for (int j = 0; j < k; j++)
                d[j] = scale * (expf(p[j]) - (j == t ? 1.0f : 0.0f));
        }
    }
    return total;
}

/* ---- dispatch -------------------------------------------------------------------------- */

size_t nn_layer_scratch_count(const nn_layer *L, int n)
{
    if (L->kind != TBML_LAYER_CONV2D || n <= 0) return 0;
    int chunk = conv_chunk(L, n);
    size_t ohw = (size_t)L->out_h * L->out_w, ckk = (size_t)L->in_c * L->b * L->c;
    return (ckk + (size_t)L->out_c) * chunk * ohw;
}

void nn_layer_forward(const nn_layer *L, const float *params, const float *x, float *y, int n,
                      float *scratch)
{
    size_t count = (size_t)n * L->out_size;
    switch (L->kind) {
    case TBML_LAYER_CONV2D:
        conv_forward(L, params, x, y, n, scratch);
        break;
    case TBML_LAYER_MAXPOOL2D:
        maxpool_forward(L, x, y, n);
        break;
    case TBML_LAYER_LINEAR:
        linear_forward(L, params, x, y, n);
        break;
    case TBML_LAYER_TANH:
        nn_tanh(x, y, count);
        break;
    case TBML_LAYER_RELU:
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case TBML_LAYER_RESHAPE:
        if (y != x) memcpy(y, x, sizeof(float) * count);
        break;
    case TBML_LAYER_LOGSOFTMAX:
        for (int i = 0; i < n; i++)
            logsoftmax_row(x + (size_t)i * L->in_size, y + (size_t)i * L->out_size, L->out_size);
        break;
    }
}

void nn_layer_backward(const nn_layer *L, const float *params, const float *x, const float *y,
                       const float *dy, float *dx, float *dparams, int n, float *scratch)
{
    size_t count = (size_t)n * L->out_size;
    switch (L->kind) {
    case TBML_LAYER_CONV2D:
        conv_backward(L, params, x, dy, dx, dparams, n, scratch);
        break;
    case TBML_LAYER_LINEAR:
        linear_backward(L, params, x, dy, dx, dparams, n);
        break;
    case TBML_LAYER_MAXPOOL2D:
        if (dx) maxpool_backward(L, x, y, dy, dx, n);
        break;
    case TBML_LAYER_TANH:
        if (dx) tanh_backward(y, dy, dx, count);
        break;
    case TBML_LAYER_RELU:
        if (dx)
            for (size_t i = 0; i < count; i++)
                dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case TBML_LAYER_RESHAPE:
        if (dx && dx != dy) memcpy(dx, dy, sizeof(float) * count);
        break;
    case TBML_LAYER_LOGSOFTMAX:
        if (dx) {
            int k = L->out_size;
            for (int i = 0; i < n; i++) {
                const float *yi = y + (size_t)i * k, *dyi = dy + (size_t)i * k;
                float *dxi = dx + (size_t)i * k, s = 0.0f;
                for (int j = 0; j < k; j++)
                    s += dyi[j];
                for (int j = 0; j < k; j++)
                    dxi[j] = dyi[j] - expf(yi[j]) * s;
            }
        }
        break;
    }
}
