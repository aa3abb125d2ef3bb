/* Strided 1-D/2-D convolution and transposed convolution with zero, periodic and
 * reflect padding, as im2col + GEMM.
 *
 * Both kinds are described by one "big grid → small grid" correlation: a
 * convolution reads the big (padded) input grid and writes the small output grid; a
 * transposed convolution is its adjoint, reading the small grid and scattering into
 * the big one (col2im). Per dimension, a table maps (kernel tap k, small index i) to
 * the big-grid index pad(s·i + k − p), or −1 for a zero pad. Forward and VJP of both
 * kinds are then one GEMM plus an im2col gather or a col2im scatter (the standard
 * lowering, Chellapilla et al. 2006, "High performance convolutional neural networks
 * for document processing"). A 1-D problem is a 2-D one with a single row. The kernels
 * are written once (operators/conv_kernels.h) and instantiated for double and, for the
 * float32 compute path of MgNO (issue 16), for float with sgemm. */
#include "operators/conv_internal.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

struct nde_conv {
    nde_conv_spec spec;
    size_t n_out[2];
    size_t big[2], small[2]; /* per dimension; dimension 0 is 1 when ndim == 1 */
    size_t ksz[2];           /* kernel per dimension (1 along a trivial dimension) */
    size_t c_big;            /* channels on the big grid: c_in (conv) or c_out (transposed) */
    size_t kk;               /* ksz[0]·ksz[1] */
    size_t p_big, p_small;   /* points per channel */
    int identity;            /* kernel 1, stride 1, pad 0: im2col is the identity */
    int *tab[2];             /* (ksz[d], small[d]) */
    void *cols;              /* (c_big·kk, p_small) doubles, or floats in the float32 path */
};

const char *nde_pad_mode_name(nde_pad_mode m)
{
    switch (m) {
    case NDE_PAD_ZERO: return "zero";
    case NDE_PAD_PERIODIC: return "periodic";
    case NDE_PAD_REFLECT: return "reflect";
    default: return "unknown";
    }
}

/* Big-grid index of padded position pos, or −1 outside a zero-padded grid. */
static int pad_index(long pos, long n, nde_pad_mode mode)
{
    if (pos >= 0 && pos < n) return (int)pos;
    switch (mode) {
    case NDE_PAD_PERIODIC: return (int)(((pos % n) + n) % n);
    case NDE_PAD_REFLECT: return (int)(pos < 0 ? -pos : 2 * (n - 1) - pos);
    default: return -1;
    }
}

static nde_status check_spec(const nde_conv_spec *sp)
{
    if (sp->ndim != 1 && sp->ndim != 2)
        return NDE_FAIL(NDE_ERR_ARG, "nde_conv_create: ndim %d (must be 1 or 2)", sp->ndim);
    if (!sp->c_in || !sp->c_out || !sp->kernel || !sp->stride)
        return NDE_FAIL(NDE_ERR_ARG,
                        "nde_conv_create: zero size (c_in %zu, c_out %zu, kernel %zu, stride %zu)",
                        sp->c_in, sp->c_out, sp->kernel, sp->stride);
    if ((int)sp->pad_mode < 0 || sp->pad_mode >= NDE_PAD_MODE_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_conv_create: unknown padding mode %d", (int)sp->pad_mode);
    for (int d = 0; d < sp->ndim; d++)
        if (!sp->n_in[d] || sp->n_in[d] > INT_MAX / 4 || sp->kernel > INT_MAX / 4 ||
            sp->stride > INT_MAX / 4 || sp->pad > INT_MAX / 4)
            return NDE_FAIL(NDE_ERR_ARG, "nde_conv_create: grid size %zu along dimension %d is "
                            "zero or too large", sp->n_in[d], d);
    return NDE_OK;
}

nde_status nde_conv_create(const nde_conv_spec *spec, nde_conv **conv)
{
    if (!spec || !conv) return NDE_FAIL(NDE_ERR_ARG, "nde_conv_create: NULL argument");
    *conv = NULL;
    NDE_TRY(check_spec(spec));
    nde_conv *c = nde_alloc(sizeof *c);
    if (!c) return NDE_ERR_NOMEM;
    c->spec = *spec;
    const size_t k = spec->kernel, s = spec->stride, p = spec->pad;
    c->n_out[0] = c->n_out[1] = 1;
    c->big[0] = c->big[1] = c->small[0] = c->small[1] = c->ksz[0] = c->ksz[1] = 1;
    nde_status st = NDE_OK;
    for (int d = 0; d < spec->ndim && st == NDE_OK; d++) {
        const size_t n = spec->n_in[d];
        const int dd = spec->ndim == 1 ? 1 : d; /* 1-D lives in the last dimension */
        if (!spec->transposed && n + 2 * p < k) {
            st = NDE_FAIL(NDE_ERR_SHAPE, "nde_conv_create: kernel %zu exceeds padded grid "
                          "%zu + 2·%zu along dimension %d", k, n, p, d);
            break;
        }
        if (spec->transposed && (n - 1) * s + k < 2 * p + 1) {
            st = NDE_FAIL(NDE_ERR_SHAPE, "nde_conv_create: transposed output (%zu−1)·%zu − "
                          "2·%zu + %zu is empty along dimension %d", n, s, p, k, d);
            break;
        }
        const size_t out = spec->transposed ? (n - 1) * s + k - 2 * p : (n + 2 * p - k) / s + 1;
        c->big[dd] = spec->transposed ? out : n;
        c->small[dd] = spec->transposed ? n : out;
        c->n_out[d] = out;
        c->ksz[dd] = k;
        if (spec->pad_mode == NDE_PAD_REFLECT && p >= c->big[dd])
            st = NDE_FAIL(NDE_ERR_ARG, "nde_conv_create: reflect padding %zu needs a grid larger "
                          "than the padding (%zu points along dimension %d)", p, c->big[dd], d);
        if (spec->pad_mode == NDE_PAD_PERIODIC && p > c->big[dd])
            st = NDE_FAIL(NDE_ERR_ARG, "nde_conv_create: periodic padding %zu exceeds the grid "
                          "(%zu points along dimension %d)", p, c->big[dd], d);
    }
    if (st != NDE_OK) {
        nde_conv_destroy(&c);
        return st;
    }
    c->c_big = spec->transposed ? spec->c_out : spec->c_in;
    c->kk = c->ksz[0] * c->ksz[1];
    c->p_big = c->big[0] * c->big[1];
    c->p_small = c->small[0] * c->small[1];
    c->identity = k == 1 && s == 1 && p == 0;
    for (int d = 0; d < 2; d++) {
        c->tab[d] = nde_alloc_array(c->ksz[d] * c->small[d], sizeof(int));
        if (!c->tab[d]) {
            nde_conv_destroy(&c);
            return NDE_ERR_NOMEM;
        }
        const int trivial = d == 0 && spec->ndim == 1; /* the dummy row of a 1-D problem */
        for (size_t t = 0; t < c->ksz[d]; t++)
            for (size_t i = 0; i < c->small[d]; i++)
                c->tab[d][t * c->small[d] + i] =
                    trivial ? 0
                            : pad_index((long)(s * i + t) - (long)p, (long)c->big[d], spec->pad_mode);
    }
    if (!c->identity) {
        c->cols = nde_alloc_array(c->c_big * c->kk * c->p_small, sizeof(double)); /* or floats */
        if (!c->cols) {
            nde_conv_destroy(&c);
            return NDE_ERR_NOMEM;
        }
    }
    *conv = c;
    return NDE_OK;
}

void nde_conv_destroy(nde_conv **conv)
{
    if (!conv || !*conv) return;
    nde_free((*conv)->tab[0]);
    nde_free((*conv)->tab[1]);
    nde_free((*conv)->cols);
    nde_free(*conv);
    *conv = NULL;
}

const nde_conv_spec *nde_conv_get_spec(const nde_conv *conv) { return conv ? &conv->spec : NULL; }

size_t nde_conv_out_size(const nde_conv *conv, int d)
{
    if (!conv || d < 0 || d >= conv->spec.ndim) return 1;
    return conv->n_out[d];
}

size_t nde_conv_in_numel(const nde_conv *conv)
{
    if (!conv) return 0;
    return conv->spec.c_in * (conv->spec.transposed ? conv->p_small : conv->p_big);
}

size_t nde_conv_out_numel(const nde_conv *conv)
{
    if (!conv) return 0;
    return conv->spec.c_out * (conv->spec.transposed ? conv->p_big : conv->p_small);
}

size_t nde_conv_weight_numel(const nde_conv *conv)
{
    return conv ? conv->spec.c_in * conv->spec.c_out * conv->kk : 0;
}

/* The kernels, once for double and once for float (operators/conv_kernels.h). */
#define NDE_CONV_CAT_(a, b) a##b
#define NDE_CONV_CAT(a, b) NDE_CONV_CAT_(a, b)
#define CONV_REAL double
#define CONV_GEMM cblas_dgemm
#define CONV_FN(name) name
#include "operators/conv_kernels.h"
#undef CONV_REAL
#undef CONV_GEMM
#undef CONV_FN
#define CONV_REAL float
#define CONV_GEMM cblas_sgemm
#define CONV_FN(name) NDE_CONV_CAT(name, _f32)
#include "operators/conv_kernels.h"
#undef CONV_REAL
#undef CONV_GEMM
#undef CONV_FN

nde_status nde_conv_forward(nde_conv *conv, const double *w, const double *b, const double *x,
                            double *y, size_t batch, int accumulate)
{
    return nde_conv_apply(conv, w, b, x, y, batch, 1.0, accumulate);
}

nde_status nde_conv_vjp(nde_conv *conv, const double *w, const double *x, const double *gy,
                        double *gx, double *gw, double *gb, size_t batch)
{
    return nde_conv_apply_vjp(conv, w, x, gy, gx, gw, gb, batch, 1.0);
}
