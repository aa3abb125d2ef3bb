/* Float32 kernels of the operator layers; see operators/f32.h. */
#include "operators/f32.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nde_config.h"

/* The CPU dispatch of nn/act_kernels.h, for the float GELU: libmvec's erfcf/expf
 * (_ZGVbN4v_ SSE2, _ZGVdN8v_ AVX2, _ZGVeN16v_ AVX-512) when glibc has them. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC optimize("fp-contract=fast")
#define NDE_VEC_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#if NDE_HAVE_LIBMVEC_F32
__attribute__((simd("notinbranch"), const)) float erfcf(float x);
__attribute__((simd("notinbranch"), const)) float expf(float x);
#endif
#else
#define NDE_VEC_CLONES
#endif

NDE_VEC_CLONES
void nde_f32_from_f64(const double *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
}

NDE_VEC_CLONES
void nde_f64_from_f32(const float *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = (double)x[i];
}

NDE_VEC_CLONES
void nde_f64_add_f32(const float *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += (double)x[i];
}

/* Blocks of GELU_BLOCK values, the tail zero-padded, as the double kernel: a value's
 * result does not depend on its position or the array length. */
enum { GELU_BLOCK = 32 };

NDE_VEC_CLONES
void nde_f32_gelu_with_grad(const float *z, float *y, float *dydz, size_t n)
{
    const float inv_sqrt2 = 0.70710678118654752f, inv_sqrt_2pi = 0.39894228040143268f;
    for (size_t i = 0; i < n; i += GELU_BLOCK) {
        size_t m = n - i < GELU_BLOCK ? n - i : GELU_BLOCK;
        float zb[GELU_BLOCK], cb[GELU_BLOCK], gb[GELU_BLOCK];
        for (size_t j = 0; j < GELU_BLOCK; j++) zb[j] = 0.0f;
        memcpy(zb, z + i, m * sizeof *zb);
#pragma GCC unroll 1
        for (size_t j = 0; j < GELU_BLOCK; j++) cb[j] = 0.5f * erfcf(-zb[j] * inv_sqrt2);
#pragma GCC unroll 1
        for (size_t j = 0; j < GELU_BLOCK; j++)
            gb[j] = cb[j] + zb[j] * inv_sqrt_2pi * expf(-0.5f * zb[j] * zb[j]);
        for (size_t j = 0; j < GELU_BLOCK; j++) cb[j] *= zb[j];
        memcpy(y + i, cb, m * sizeof *cb);
        memcpy(dydz + i, gb, m * sizeof *gb);
    }
}

void nde_f32_dense_cols_forward(const nde_dense *d, const float *theta, const float *x, float *y,
                                size_t n)
{
    const float *w = theta + d->w_off;
    float beta = 0.0f;
    if (d->has_bias) {
        for (size_t o = 0; o < d->out; o++) {
            const float c = theta[d->b_off + o];
            float *row = y + o * n;
            for (size_t p = 0; p < n; p++) row[p] = c;
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d->out, (int)n, (int)d->in, 1.0f,
                w, (int)d->in_cols, x, (int)n, beta, y, (int)n);
}

void nde_f32_dense_cols_backward(const nde_dense *d, const float *theta, const float *x,
                                 const float *dy, float *dx, float *gtheta, size_t n)
{
    const float *w = theta + d->w_off;
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d->in, (int)n, (int)d->out, 1.0f,
                    w, (int)d->in_cols, dy, (int)n, 0.0f, dx, (int)n);
    if (!gtheta) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d->out, (int)d->in, (int)n, 1.0f, dy,
                (int)n, x, (int)n, 1.0f, gtheta + d->w_off, (int)d->in_cols);
    if (!d->has_bias) return;
    for (size_t o = 0; o < d->out; o++) {
        const float *row = dy + o * n;
        float s = 0.0f;
        for (size_t p = 0; p < n; p++) s += row[p];
        gtheta[d->b_off + o] += s;
    }
}

/* The channel MLP's cache, as channel_mlp.c: for hidden layer i, the GELU derivative and
 * the activation (c_{i+1}, npts), then a gradient buffer of the widest hidden layer. */
static float *hidden_z(const nde_channel_mlp *m, float *cache, size_t i, size_t npts)
{
    for (size_t j = 1; j <= i; j++)
        cache += 2 * nde_pointwise_dense(nde_channel_mlp_layer(m, j - 1))->out * npts;
    return cache;
}

void nde_f32_channel_mlp_forward(const nde_channel_mlp *mlp, const float *theta, const float *x,
                                 float *y, size_t npts, float *cache)
{
    const size_t L = nde_channel_mlp_n_layers(mlp);
    const float *in = x;
    for (size_t i = 0; i + 1 < L; i++) {
        const nde_dense *d = nde_pointwise_dense(nde_channel_mlp_layer(mlp, i));
        float *z = hidden_z(mlp, cache, i, npts);
        size_t count = d->out * npts;
        nde_f32_dense_cols_forward(d, theta, in, z + count, npts);
        nde_f32_gelu_with_grad(z + count, z + count, z, count);
        in = z + count;
    }
    nde_f32_dense_cols_forward(nde_pointwise_dense(nde_channel_mlp_layer(mlp, L - 1)), theta, in, y,
                               npts);
}

void nde_f32_channel_mlp_vjp(const nde_channel_mlp *mlp, const float *theta, const float *x,
                             const float *gy, float *gx, float *gtheta, size_t npts, float *cache)
{
    const size_t L = nde_channel_mlp_n_layers(mlp);
    float *tmp = L > 1 ? hidden_z(mlp, cache, L - 1, npts) : NULL;
    const float *g = gy;
    for (size_t i = L; i-- > 1;) {
        const nde_dense *d = nde_pointwise_dense(nde_channel_mlp_layer(mlp, i));
        float *z = hidden_z(mlp, cache, i - 1, npts);
        size_t count = d->in * npts;
        nde_f32_dense_cols_backward(d, theta, z + count, g, tmp, gtheta, npts);
        for (size_t j = 0; j < count; j++) z[j] *= tmp[j];
        g = z;
    }
    nde_f32_dense_cols_backward(nde_pointwise_dense(nde_channel_mlp_layer(mlp, 0)), theta, x, g, gx,
                                gtheta, npts);
}
