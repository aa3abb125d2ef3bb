/* Spectral convolution 1-D/2-D with FFTW (Li et al. 2021, eq. (4)-(5)).
 *
 * Forward:  X = R2C(x) on the kept modes,  Y_k = X_k W_k,  y = (1/S) C2R_herm(Y),
 * with S = Π n and C2R_herm the inverse that takes the real part of the k2 = 0 column.
 * So y = (1/S) Σ_k c_k Re(Y_k e^{iθ_k·x}), c_k = 1 on the k2 = 0 column, 2 elsewhere.
 * Backward (derived in /work/shared/reference/operators.md §1.5, checked by the tests):
 *   G_Y  = (c_k/S) R2C(g)                      (∂L/∂Re Y + i ∂L/∂Im Y)
 *   dW_k += X_kᴴ G_Y,k                          (per-mode (Cin×B)·(B×Cout))
 *   dx   = Σ_k Re(G_X,k e^{iθ}) = (1/S) C2R_herm(R2C(g) Wᴴ),
 * i.e. the input gradient is the same layer with conjugate-transposed weights.
 * 2-D transforms are pruned: r2c along the last dimension for every row, then complex
 * FFTs along the first dimension for the m2 kept columns only (and the reverse). */
#include <cblas.h>
#include <complex.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nde/operators.h"
#include "operators/f32.h"
#include "operators/fft_cache.h"

struct nde_spectral_conv {
    nde_ctx *ctx;
    int ndim;
    size_t cin, cout;
    size_t m[2];
    size_t n_kept; /* m (1-D) or 2·m1·m2 (2-D) */
    size_t w_off;  /* (n_kept, cin, cout, 2) in θ */
    int use_dft;   /* last dimension by GEMM with the kept-mode DFT basis */
    int cm;        /* channel-major activations (C, batch, n...) */
};

static size_t round8(size_t x) { return (x + 7) / 8 * 8; }

nde_status nde_spectral_conv_create(nde_ctx *ctx, nde_params *params, const char *name,
                                    const nde_spectral_spec *spec, nde_spectral_conv **conv)
{
    if (!ctx || !params || !name || !spec || !conv)
        return NDE_FAIL(NDE_ERR_ARG, "nde_spectral_conv_create: NULL argument");
    if (spec->ndim != 1 && spec->ndim != 2)
        return NDE_FAIL(NDE_ERR_ARG, "spectral conv '%s': ndim %d (1 or 2)", name, spec->ndim);
    if (spec->in_channels == 0 || spec->out_channels == 0)
        return NDE_FAIL(NDE_ERR_ARG, "spectral conv '%s': channels %zu -> %zu", name,
                        spec->in_channels, spec->out_channels);
    for (int d = 0; d < spec->ndim; d++)
        if (spec->n_modes[d] == 0)
            return NDE_FAIL(NDE_ERR_ARG, "spectral conv '%s': n_modes[%d] = 0", name, d);
    nde_spectral_conv *c = nde_alloc(sizeof *c);
    if (!c) return NDE_ERR_NOMEM;
    c->ctx = ctx;
    c->ndim = spec->ndim;
    c->cin = spec->in_channels;
    c->cout = spec->out_channels;
    c->m[0] = spec->n_modes[0];
    c->m[1] = spec->ndim == 2 ? spec->n_modes[1] : 1;
    c->n_kept = spec->ndim == 1 ? c->m[0] : 2 * c->m[0] * c->m[1];
    size_t m_last = spec->ndim == 1 ? c->m[0] : c->m[1];
    c->cm = spec->channel_major != 0;
    c->use_dft = spec->transform == NDE_SPECTRAL_DFT ||
                 (spec->transform == NDE_SPECTRAL_AUTO && m_last <= 32);
    char tname[NDE_PARAM_NAME_MAX];
    int len = snprintf(tname, sizeof tname, "%s.weight", name);
    if (len < 0 || (size_t)len >= sizeof tname) {
        nde_free(c);
        return NDE_FAIL(NDE_ERR_ARG, "spectral conv name '%s' is too long", name);
    }
    size_t shape[4] = {c->n_kept, c->cin, c->cout, 2};
    nde_status st = nde_params_add(params, tname, 4, shape, NDE_GROUP_DEFAULT, &c->w_off);
    if (st != NDE_OK) {
        nde_free(c);
        return st;
    }
    *conv = c;
    return NDE_OK;
}

void nde_spectral_conv_destroy(nde_spectral_conv **conv)
{
    if (!conv || !*conv) return;
    nde_free(*conv);
    *conv = NULL;
}

size_t nde_spectral_conv_n_params(const nde_spectral_conv *conv)
{
    return conv ? conv->n_kept * conv->cin * conv->cout * 2 : 0;
}

void nde_spectral_conv_init(const nde_spectral_conv *conv, double *theta, nde_rng *rng)
{
    if (!conv || !theta || !rng) return;
    double scale = 1.0 / (double)(conv->cin * conv->cout);
    size_t count = nde_spectral_conv_n_params(conv);
    for (size_t i = 0; i < count; i++) theta[conv->w_off + i] = scale * nde_rng_uniform(rng);
}

/* Grid geometry: rows along the first dimension (1 in 1-D), points per row, stored
 * spectrum columns: H = n_last/2 + 1 (FFT) or the m kept ones (DFT). */
typedef struct geom {
    size_t rows, cols, half, points;
} geom;

static geom make_geom(const nde_spectral_conv *c, const size_t *n)
{
    geom g;
    g.rows = c->ndim == 2 ? n[0] : 1;
    g.cols = c->ndim == 2 ? n[1] : n[0];
    g.half = c->use_dft ? c->m[c->ndim - 1] : g.cols / 2 + 1;
    g.points = g.rows * g.cols;
    return g;
}

static size_t max_channels(const nde_spectral_conv *c) { return c->cin > c->cout ? c->cin : c->cout; }

/* Scratch: the half spectrum (batch, maxC, rows, H) complex, then three gathered blocks
 * (n_kept, batch, maxC) complex. */
static size_t spec_len(const nde_spectral_conv *c, size_t batch, geom g)
{
    return round8(2 * batch * max_channels(c) * g.rows * g.half);
}
static size_t block_len(const nde_spectral_conv *c, size_t batch)
{
    return round8(2 * c->n_kept * batch * max_channels(c));
}

size_t nde_spectral_conv_scratch_size(const nde_spectral_conv *conv, size_t batch,
                                      const size_t *n)
{
    if (!conv || !n) return 0;
    geom g = make_geom(conv, n);
    return spec_len(conv, batch, g) + 3 * block_len(conv, batch);
}

static nde_status check_grid(const nde_spectral_conv *c, size_t batch, const size_t *n)
{
    if (!n) return NDE_FAIL(NDE_ERR_ARG, "spectral conv: grid n is NULL");
    if (batch == 0) return NDE_FAIL(NDE_ERR_ARG, "spectral conv: batch is 0");
    for (int d = 0; d < c->ndim; d++)
        if (n[d] < 2 * c->m[d])
            return NDE_FAIL(NDE_ERR_SHAPE,
                            "spectral conv: grid size n[%d] = %zu is below 2*n_modes = %zu", d,
                            n[d], 2 * c->m[d]);
    return NDE_OK;
}

/* Row of the half spectrum holding the ri-th kept first-dimension frequency: 0..m1−1,
 * then the negative ones n1−m1..n1−1. */
static size_t kept_row(const nde_spectral_conv *c, geom g, size_t ri)
{
    return ri < c->m[0] ? ri : g.rows - 2 * c->m[0] + ri;
}

/* FFTW's new-array execute needs the planning alignment (16 bytes suffice for SIMD). */
static nde_status check_aligned(const void *p, const char *what)
{
    if ((uintptr_t)p % 16 != 0)
        return NDE_FAIL(NDE_ERR_ARG, "spectral conv: array %s is not 16-byte aligned", what);
    return NDE_OK;
}

size_t nde_spectral_conv_spectrum_size(const nde_spectral_conv *conv, size_t batch)
{
    return conv ? 2 * conv->n_kept * batch * conv->cin : 0;
}

/* The double code, then its float32 twins (operators/f32.h): the same source on float
 * arrays. Master θ and gradients stay double in the callers. */
#define REAL double
#define RCPLX double complex
#define SFX(name) name
#define SFX_STR ""
#define FFTW(name) fftw_##name
#define GEMM_R cblas_dgemm
#define GEMM_C cblas_zgemm
#define FFT_PLAN nde_fft_plan
#include "spectral_body.inc"
#undef REAL
#undef RCPLX
#undef SFX
#undef SFX_STR
#undef FFTW
#undef GEMM_R
#undef GEMM_C
#undef FFT_PLAN

#define REAL float
#define RCPLX float complex
#define SFX(name) name##_f32
#define SFX_STR "_f32"
#define FFTW(name) fftwf_##name
#define GEMM_R cblas_sgemm
#define GEMM_C cblas_cgemm
#define FFT_PLAN nde_fftf_plan
#include "spectral_body.inc"
