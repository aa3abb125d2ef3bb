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

/* The transforms for `channels` channels: r2c/c2r plans or the DFT basis along the last
 * dimension, and in 2-D the column transforms along the first. */
typedef struct plans {
    fftw_plan r2c, c2r, cols_fwd, cols_bwd;
    const double *dft_fwd, *dft_inv; /* (cols, 2m), (2m, cols) */
} plans;

static nde_status get_plans(const nde_spectral_conv *c, size_t batch, size_t channels, geom g,
                            plans *p)
{
    size_t howmany = batch * channels * g.rows;
    p->r2c = p->c2r = p->cols_fwd = p->cols_bwd = NULL;
    p->dft_fwd = p->dft_inv = NULL;
    if (c->use_dft) {
        NDE_TRY(nde_dft_basis(c->ctx, g.cols, g.half, &p->dft_fwd, &p->dft_inv));
    } else {
        NDE_TRY(nde_fft_plan(c->ctx, NDE_FFT_R2C, g.cols, howmany, 0, 0, &p->r2c));
        NDE_TRY(nde_fft_plan(c->ctx, NDE_FFT_C2R, g.cols, howmany, 0, 0, &p->c2r));
    }
    if (c->ndim == 2) {
        NDE_TRY(nde_fft_plan(c->ctx, NDE_FFT_COLS_FWD, g.rows, batch * channels, g.half, c->m[1],
                             &p->cols_fwd));
        NDE_TRY(nde_fft_plan(c->ctx, NDE_FFT_COLS_BWD, g.rows, batch * channels, g.half, c->m[1],
                             &p->cols_bwd));
    }
    return NDE_OK;
}

nde_status nde_spectral_conv_prepare(const nde_spectral_conv *conv, size_t batch,
                                     const size_t *n)
{
    if (!conv) return NDE_FAIL(NDE_ERR_ARG, "nde_spectral_conv_prepare: conv is NULL");
    NDE_TRY(check_grid(conv, batch, n));
    geom g = make_geom(conv, n);
    plans p;
    NDE_TRY(get_plans(conv, batch, conv->cin, g, &p));
    return get_plans(conv, batch, conv->cout, g, &p);
}

/* Row of the half spectrum holding the ri-th kept first-dimension frequency: 0..m1−1,
 * then the negative ones n1−m1..n1−1. */
static size_t kept_row(const nde_spectral_conv *c, geom g, size_t ri)
{
    return ri < c->m[0] ? ri : g.rows - 2 * c->m[0] + ri;
}

/* The kept modes between the half spectrum (lines = batch·C, rows, half) complex and the
 * gathered (n_kept, lines) complex: gather (to_spec = 0) src = spectrum → dst = modes;
 * scatter (to_spec = 1) src = modes → dst = spectrum (the other entries are untouched). */
static void move_kept(const nde_spectral_conv *c, geom g, size_t lines, const double *src,
                      double *dst, int to_spec)
{
    const size_t ncol = c->ndim == 2 ? c->m[1] : c->m[0];
    const size_t nrow = c->ndim == 2 ? 2 * c->m[0] : 1;
    const double complex *in = (const double complex *)src;
    double complex *out = (double complex *)dst;
    for (size_t line = 0; line < lines; line++)
        for (size_t ri = 0; ri < nrow; ri++) {
            const size_t row = (line * g.rows + kept_row(c, g, ri)) * g.half;
            for (size_t k = 0; k < ncol; k++) {
                const size_t mode = (ri * ncol + k) * lines + line;
                if (to_spec)
                    out[row + k] = in[mode];
                else
                    out[mode] = in[row + k];
            }
        }
}

/* FFTW's new-array execute needs the planning alignment (16 bytes suffice for SIMD). */
static nde_status check_aligned(const double *p, const char *what)
{
    if ((uintptr_t)p % 16 != 0)
        return NDE_FAIL(NDE_ERR_ARG, "spectral conv: array %s is not 16-byte aligned", what);
    return NDE_OK;
}

/* x (batch, C, rows, cols) → spec (half spectrum, kept columns transformed along rows) →
 * Xk (n_kept, batch, C) complex. */
static void transform_gather(const nde_spectral_conv *c, const plans *p, geom g, const double *x,
                             size_t batch, size_t channels, double *spec, double *Xk)
{
    fftw_complex *s = (fftw_complex *)spec;
    size_t lines = batch * channels * g.rows;
    if (p->dft_fwd)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)lines, (int)(2 * g.half),
                    (int)g.cols, 1.0, x, (int)g.cols, p->dft_fwd, (int)(2 * g.half), 0.0, spec,
                    (int)(2 * g.half));
    else
        fftw_execute_dft_r2c(p->r2c, (double *)x, s);
    if (c->ndim == 2) fftw_execute_dft(p->cols_fwd, s, s);
    move_kept(c, g, batch * channels, spec, Xk, 0);
}

/* Yk (n_kept, batch, C) complex → spec (zero elsewhere) → y (batch, C, rows, cols). */
static void scatter_inverse(const nde_spectral_conv *c, const plans *p, geom g, const double *Yk,
                            size_t batch, size_t channels, double *spec, double *y)
{
    memset(spec, 0, 2 * batch * channels * g.rows * g.half * sizeof *spec);
    move_kept(c, g, batch * channels, Yk, spec, 1);
    fftw_complex *s = (fftw_complex *)spec;
    if (c->ndim == 2) fftw_execute_dft(p->cols_bwd, s, s);
    /* Hermitian enforcement: the k2 = 0 column of a real field is real. */
    size_t lines = batch * channels * g.rows;
    for (size_t r = 0; r < lines; r++) spec[2 * r * g.half + 1] = 0.0;
    if (p->dft_inv)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)lines, (int)g.cols,
                    (int)(2 * g.half), 1.0, spec, (int)(2 * g.half), p->dft_inv, (int)g.cols, 0.0,
                    y, (int)g.cols);
    else
        fftw_execute_dft_c2r(p->c2r, s, y);
}

/* Mode q's matrix inside a gathered (n_kept, lines) block, lines in memory order: (batch, C)
 * row-major for batch-major activations, (C, batch) for channel-major ones. */
static double complex *mode_block(const double *base, size_t q, size_t batch, size_t ch)
{
    return (double complex *)base + q * batch * ch;
}

static void conj_copy(double *dst, const double *src, size_t n_complex)
{
    for (size_t i = 0; i < n_complex; i++) {
        dst[2 * i] = src[2 * i];
        dst[2 * i + 1] = -src[2 * i + 1];
    }
}

/* Y_q = α X_q W_q per kept mode (adjoint: Y_q = α X_q W_qᴴ, from out- to in-channels):
 * batch-major (B×Cin)(Cin×Cout); channel-major the transpose, (Cout×B) = W_qᵀ (Cout×Cin) ·
 * X_q (Cin×B), or for the adjoint (Cin×B) = W_q (Cin×Cout) · X_q (Cout×B), which is the
 * conjugate of the wanted product when X holds conjugated values (mix_input_grad). */
static void mix_modes(const nde_spectral_conv *c, const double *w, const double *Xk, double *Yk,
                      size_t batch, double alpha_re, int adjoint)
{
    const double complex alpha = alpha_re, zero = 0.0;
    const size_t nx = adjoint ? c->cout : c->cin, ny = adjoint ? c->cin : c->cout;
    const int B = (int)batch, kx = (int)nx, ky = (int)ny, co = (int)c->cout;
    for (size_t q = 0; q < c->n_kept; q++) {
        const double *wq = w + 2 * q * c->cin * c->cout;
        const double complex *xq = mode_block(Xk, q, batch, nx);
        double complex *yq = mode_block(Yk, q, batch, ny);
        if (c->cm)
            cblas_zgemm(CblasRowMajor, adjoint ? CblasNoTrans : CblasTrans, CblasNoTrans, ky, B,
                        kx, &alpha, wq, co, xq, B, &zero, yq, B);
        else
            cblas_zgemm(CblasRowMajor, CblasNoTrans, adjoint ? CblasConjTrans : CblasNoTrans, B,
                        ky, kx, &alpha, xq, kx, wq, co, &zero, yq, ky);
    }
}

/* dW_q += coef_q X_qᴴ G_q (batch-major). Channel-major: with X' = X_qᵀ, G' = G_qᵀ,
 * X_qᴴ G_q = conj(X') G'ᵀ, so conj(X') is formed in `tmp` first (CBLAS has no plain
 * conjugate). coef_q = c_k/S: the k2 = 0 column appears once in the real output, the
 * others twice. */
static void mix_weight_grad(const nde_spectral_conv *c, geom g, const double *Xk,
                            const double *Gk, double *gw, size_t batch, double *tmp)
{
    const double complex one = 1.0;
    const int B = (int)batch, ci = (int)c->cin, co = (int)c->cout;
    size_t ncol = c->ndim == 2 ? c->m[1] : c->m[0];
    if (c->cm) {
        conj_copy(tmp, Xk, c->n_kept * batch * c->cin);
        Xk = tmp;
    }
    for (size_t q = 0; q < c->n_kept; q++) {
        const double complex coef = (q % ncol == 0 ? 1.0 : 2.0) / (double)g.points;
        double *gq = gw + 2 * q * c->cin * c->cout;
        if (c->cm)
            cblas_zgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ci, co, B, &coef,
                        mode_block(Xk, q, batch, c->cin), B, mode_block(Gk, q, batch, c->cout), B,
                        &one, gq, co);
        else
            cblas_zgemm(CblasRowMajor, CblasConjTrans, CblasNoTrans, ci, co, B, &coef,
                        mode_block(Xk, q, batch, c->cin), ci, mode_block(Gk, q, batch, c->cout), co,
                        &one, gq, co);
    }
}

/* GX_q = α G_q W_qᴴ (batch-major). Channel-major: GX' = conj(W_q) G' = conj(W_q conj(G')),
 * computed from conj(G') in `tmp` and conjugated after. Destroys nothing but tmp. */
static void mix_input_grad(const nde_spectral_conv *c, const double *w, const double *Gk,
                           double *GXk, size_t batch, double alpha_re, double *tmp)
{
    if (c->cm) {
        conj_copy(tmp, Gk, c->n_kept * batch * c->cout);
        Gk = tmp;
    }
    mix_modes(c, w, Gk, GXk, batch, alpha_re, 1);
    if (c->cm)
        for (size_t i = 0; i < c->n_kept * batch * c->cin; i++) GXk[2 * i + 1] = -GXk[2 * i + 1];
}

size_t nde_spectral_conv_spectrum_size(const nde_spectral_conv *conv, size_t batch)
{
    return conv ? 2 * conv->n_kept * batch * conv->cin : 0;
}

nde_status nde_spectral_conv_forward(const nde_spectral_conv *conv, const double *theta,
                                     const double *x, double *y, size_t batch, const size_t *n,
                                     double *scratch, double *xhat)
{
    if (!conv || !theta || !x || !y || !scratch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_spectral_conv_forward: NULL argument");
    NDE_TRY(check_grid(conv, batch, n));
    NDE_TRY(check_aligned(x, "x"));
    NDE_TRY(check_aligned(y, "y"));
    NDE_TRY(check_aligned(scratch, "scratch"));
    geom g = make_geom(conv, n);
    plans pin, pout;
    NDE_TRY(get_plans(conv, batch, conv->cin, g, &pin));
    NDE_TRY(get_plans(conv, batch, conv->cout, g, &pout));
    double *spec = scratch;
    double *Xk = xhat ? xhat : spec + spec_len(conv, batch, g);
    double *Yk = spec + spec_len(conv, batch, g) + block_len(conv, batch);
    transform_gather(conv, &pin, g, x, batch, conv->cin, spec, Xk);
    mix_modes(conv, theta + conv->w_off, Xk, Yk, batch, 1.0 / (double)g.points, 0);
    scatter_inverse(conv, &pout, g, Yk, batch, conv->cout, spec, y);
    return NDE_OK;
}

nde_status nde_spectral_conv_vjp(const nde_spectral_conv *conv, const double *theta,
                                 const double *x, const double *xhat, const double *gy,
                                 double *gx, double *gtheta, size_t batch, const size_t *n,
                                 double *scratch)
{
    if (!conv || !theta || !gy || !scratch || (gtheta && !x && !xhat))
        return NDE_FAIL(NDE_ERR_ARG, "nde_spectral_conv_vjp: NULL argument");
    NDE_TRY(check_grid(conv, batch, n));
    if (x) NDE_TRY(check_aligned(x, "x"));
    NDE_TRY(check_aligned(gy, "gy"));
    NDE_TRY(check_aligned(scratch, "scratch"));
    if (gx) NDE_TRY(check_aligned(gx, "gx"));
    if (!gx && !gtheta) return NDE_OK;
    geom g = make_geom(conv, n);
    plans pin, pout;
    NDE_TRY(get_plans(conv, batch, conv->cin, g, &pin));
    NDE_TRY(get_plans(conv, batch, conv->cout, g, &pout));
    double *spec = scratch;
    double *Xk = spec + spec_len(conv, batch, g);
    double *Gk = Xk + block_len(conv, batch);
    double *GXk = Gk + block_len(conv, batch);
    transform_gather(conv, &pout, g, gy, batch, conv->cout, spec, Gk);
    if (gtheta) {
        /* the conjugate copy (channel-major) goes to the spectrum region, free here */
        if (xhat)
            mix_weight_grad(conv, g, xhat, Gk, gtheta + conv->w_off, batch, spec);
        else {
            transform_gather(conv, &pin, g, x, batch, conv->cin, spec, Xk);
            mix_weight_grad(conv, g, Xk, Gk, gtheta + conv->w_off, batch, Xk);
        }
    }
    if (gx) {
        mix_input_grad(conv, theta + conv->w_off, Gk, GXk, batch, 1.0 / (double)g.points, Xk);
        scatter_inverse(conv, &pin, g, GXk, batch, conv->cin, spec, gx);
    }
    return NDE_OK;
}

/* ---- the float32 twins (operators/f32.h): the same code on float arrays ---------- */

/* The transforms for `channels` channels: r2c/c2r plans or the DFT basis along the last
 * dimension, and in 2-D the column transforms along the first. */
typedef struct plans_f32 {
    fftwf_plan r2c, c2r, cols_fwd, cols_bwd;
    const float *dft_fwd, *dft_inv; /* (cols, 2m), (2m, cols) */
} plans_f32;

static nde_status get_plans_f32(const nde_spectral_conv *c, size_t batch, size_t channels, geom g,
                            plans_f32 *p)
{
    size_t howmany = batch * channels * g.rows;
    p->r2c = p->c2r = p->cols_fwd = p->cols_bwd = NULL;
    p->dft_fwd = p->dft_inv = NULL;
    if (c->use_dft) {
        NDE_TRY(nde_dft_basis_f32(c->ctx, g.cols, g.half, &p->dft_fwd, &p->dft_inv));
    } else {
        NDE_TRY(nde_fftf_plan(c->ctx, NDE_FFT_R2C, g.cols, howmany, 0, 0, &p->r2c));
        NDE_TRY(nde_fftf_plan(c->ctx, NDE_FFT_C2R, g.cols, howmany, 0, 0, &p->c2r));
    }
    if (c->ndim == 2) {
        NDE_TRY(nde_fftf_plan(c->ctx, NDE_FFT_COLS_FWD, g.rows, batch * channels, g.half, c->m[1],
                             &p->cols_fwd));
        NDE_TRY(nde_fftf_plan(c->ctx, NDE_FFT_COLS_BWD, g.rows, batch * channels, g.half, c->m[1],
                             &p->cols_bwd));
    }
    return NDE_OK;
}

nde_status nde_spectral_conv_prepare_f32(const nde_spectral_conv *conv, size_t batch,
                                     const size_t *n)
{
    if (!conv) return NDE_FAIL(NDE_ERR_ARG, "nde_spectral_conv_prepare_f32: conv is NULL");
    NDE_TRY(check_grid(conv, batch, n));
    geom g = make_geom(conv, n);
    plans_f32 p;
    NDE_TRY(get_plans_f32(conv, batch, conv->cin, g, &p));
    return get_plans_f32(conv, batch, conv->cout, g, &p);
}

/* The kept modes between the half spectrum (lines = batch·C, rows, half) complex and the
 * gathered (n_kept, lines) complex: gather (to_spec = 0) src = spectrum → dst = modes;
 * scatter (to_spec = 1) src = modes → dst = spectrum (the other entries are untouched). */
static void move_kept_f32(const nde_spectral_conv *c, geom g, size_t lines, const float *src,
                      float *dst, int to_spec)
{
    const size_t ncol = c->ndim == 2 ? c->m[1] : c->m[0];
    const size_t nrow = c->ndim == 2 ? 2 * c->m[0] : 1;
    const float complex *in = (const float complex *)src;
    float complex *out = (float complex *)dst;
    for (size_t line = 0; line < lines; line++)
        for (size_t ri = 0; ri < nrow; ri++) {
            const size_t row = (line * g.rows + kept_row(c, g, ri)) * g.half;
            for (size_t k = 0; k < ncol; k++) {
                const size_t mode = (ri * ncol + k) * lines + line;
                if (to_spec)
                    out[row + k] = in[mode];
                else
                    out[mode] = in[row + k];
            }
        }
}

/* FFTW's new-array execute needs the planning alignment (16 bytes suffice for SIMD). */
static nde_status check_aligned_f32(const float *p, const char *what)
{
    if ((uintptr_t)p % 16 != 0)
        return NDE_FAIL(NDE_ERR_ARG, "spectral conv: array %s is not 16-byte aligned", what);
    return NDE_OK;
}

/* x (batch, C, rows, cols) → spec (half spectrum, kept columns transformed along rows) →
 * Xk (n_kept, batch, C) complex. */
static void transform_gather_f32(const nde_spectral_conv *c, const plans_f32 *p, geom g, const float *x,
                             size_t batch, size_t channels, float *spec, float *Xk)
{
    fftwf_complex *s = (fftwf_complex *)spec;
    size_t lines = batch * channels * g.rows;
    if (p->dft_fwd)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)lines, (int)(2 * g.half),
                    (int)g.cols, 1.0f, x, (int)g.cols, p->dft_fwd, (int)(2 * g.half), 0.0f, spec,
                    (int)(2 * g.half));
    else
        fftwf_execute_dft_r2c(p->r2c, (float *)x, s);
    if (c->ndim == 2) fftwf_execute_dft(p->cols_fwd, s, s);
    move_kept_f32(c, g, batch * channels, spec, Xk, 0);
}

/* Yk (n_kept, batch, C) complex → spec (zero elsewhere) → y (batch, C, rows, cols). */
static void scatter_inverse_f32(const nde_spectral_conv *c, const plans_f32 *p, geom g, const float *Yk,
                            size_t batch, size_t channels, float *spec, float *y)
{
    memset(spec, 0, 2 * batch * channels * g.rows * g.half * sizeof *spec);
    move_kept_f32(c, g, batch * channels, Yk, spec, 1);
    fftwf_complex *s = (fftwf_complex *)spec;
    if (c->ndim == 2) fftwf_execute_dft(p->cols_bwd, s, s);
    /* Hermitian enforcement: the k2 = 0 column of a real field is real. */
    size_t lines = batch * channels * g.rows;
    for (size_t r = 0; r < lines; r++) spec[2 * r * g.half + 1] = 0.0f;
    if (p->dft_inv)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)lines, (int)g.cols,
                    (int)(2 * g.half), 1.0f, spec, (int)(2 * g.half), p->dft_inv, (int)g.cols, 0.0,
                    y, (int)g.cols);
    else
        fftwf_execute_dft_c2r(p->c2r, s, y);
}

/* Mode q's matrix inside a gathered (n_kept, lines) block, lines in memory order: (batch, C)
 * row-major for batch-major activations, (C, batch) for channel-major ones. */
static float complex *mode_block_f32(const float *base, size_t q, size_t batch, size_t ch)
{
    return (float complex *)base + q * batch * ch;
}

static void conj_copy_f32(float *dst, const float *src, size_t n_complex)
{
    for (size_t i = 0; i < n_complex; i++) {
        dst[2 * i] = src[2 * i];
        dst[2 * i + 1] = -src[2 * i + 1];
    }
}

/* Y_q = α X_q W_q per kept mode (adjoint: Y_q = α X_q W_qᴴ, from out- to in-channels):
 * batch-major (B×Cin)(Cin×Cout); channel-major the transpose, (Cout×B) = W_qᵀ (Cout×Cin) ·
 * X_q (Cin×B), or for the adjoint (Cin×B) = W_q (Cin×Cout) · X_q (Cout×B), which is the
 * conjugate of the wanted product when X holds conjugated values (mix_input_grad). */
static void mix_modes_f32(const nde_spectral_conv *c, const float *w, const float *Xk, float *Yk,
                      size_t batch, float alpha_re, int adjoint)
{
    const float complex alpha = alpha_re, zero = 0.0f;
    const size_t nx = adjoint ? c->cout : c->cin, ny = adjoint ? c->cin : c->cout;
    const int B = (int)batch, kx = (int)nx, ky = (int)ny, co = (int)c->cout;
    for (size_t q = 0; q < c->n_kept; q++) {
        const float *wq = w + 2 * q * c->cin * c->cout;
        const float complex *xq = mode_block_f32(Xk, q, batch, nx);
        float complex *yq = mode_block_f32(Yk, q, batch, ny);
        if (c->cm)
            cblas_cgemm(CblasRowMajor, adjoint ? CblasNoTrans : CblasTrans, CblasNoTrans, ky, B,
                        kx, &alpha, wq, co, xq, B, &zero, yq, B);
        else
            cblas_cgemm(CblasRowMajor, CblasNoTrans, adjoint ? CblasConjTrans : CblasNoTrans, B,
                        ky, kx, &alpha, xq, kx, wq, co, &zero, yq, ky);
    }
}

/* dW_q += coef_q X_qᴴ G_q (batch-major). Channel-major: with X' = X_qᵀ, G' = G_qᵀ,
 * X_qᴴ G_q = conj(X') G'ᵀ, so conj(X') is formed in `tmp` first (CBLAS has no plain
 * conjugate). coef_q = c_k/S: the k2 = 0 column appears once in the real output, the
 * others twice. */
static void mix_weight_grad_f32(const nde_spectral_conv *c, geom g, const float *Xk,
                            const float *Gk, float *gw, size_t batch, float *tmp)
{
    const float complex one = 1.0f;
    const int B = (int)batch, ci = (int)c->cin, co = (int)c->cout;
    size_t ncol = c->ndim == 2 ? c->m[1] : c->m[0];
    if (c->cm) {
        conj_copy_f32(tmp, Xk, c->n_kept * batch * c->cin);
        Xk = tmp;
    }
    for (size_t q = 0; q < c->n_kept; q++) {
        const float complex coef = (q % ncol == 0 ? 1.0f : 2.0f) / (float)g.points;
        float *gq = gw + 2 * q * c->cin * c->cout;
        if (c->cm)
            cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ci, co, B, &coef,
                        mode_block_f32(Xk, q, batch, c->cin), B, mode_block_f32(Gk, q, batch, c->cout), B,
                        &one, gq, co);
        else
            cblas_cgemm(CblasRowMajor, CblasConjTrans, CblasNoTrans, ci, co, B, &coef,
                        mode_block_f32(Xk, q, batch, c->cin), ci, mode_block_f32(Gk, q, batch, c->cout), co,
                        &one, gq, co);
    }
}

/* GX_q = α G_q W_qᴴ (batch-major). Channel-major: GX' = conj(W_q) G' = conj(W_q conj(G')),
 * computed from conj(G') in `tmp` and conjugated after. Destroys nothing but tmp. */
static void mix_input_grad_f32(const nde_spectral_conv *c, const float *w, const float *Gk,
                           float *GXk, size_t batch, float alpha_re, float *tmp)
{
    if (c->cm) {
        conj_copy_f32(tmp, Gk, c->n_kept * batch * c->cout);
        Gk = tmp;
    }
    mix_modes_f32(c, w, Gk, GXk, batch, alpha_re, 1);
    if (c->cm)
        for (size_t i = 0; i < c->n_kept * batch * c->cin; i++) GXk[2 * i + 1] = -GXk[2 * i + 1];
}

nde_status nde_spectral_conv_forward_f32(const nde_spectral_conv *conv, const float *theta,
                                     const float *x, float *y, size_t batch, const size_t *n,
                                     float *scratch, float *xhat)
{
    if (!conv || !theta || !x || !y || !scratch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_spectral_conv_forward_f32: NULL argument");
    NDE_TRY(check_grid(conv, batch, n));
    NDE_TRY(check_aligned_f32(x, "x"));
    NDE_TRY(check_aligned_f32(y, "y"));
    NDE_TRY(check_aligned_f32(scratch, "scratch"));
    geom g = make_geom(conv, n);
    plans_f32 pin, pout;
    NDE_TRY(get_plans_f32(conv, batch, conv->cin, g, &pin));
    NDE_TRY(get_plans_f32(conv, batch, conv->cout, g, &pout));
    float *spec = scratch;
    float *Xk = xhat ? xhat : spec + spec_len(conv, batch, g);
    float *Yk = spec + spec_len(conv, batch, g) + block_len(conv, batch);
    transform_gather_f32(conv, &pin, g, x, batch, conv->cin, spec, Xk);
    mix_modes_f32(conv, theta + conv->w_off, Xk, Yk, batch, 1.0f / (float)g.points, 0);
    scatter_inverse_f32(conv, &pout, g, Yk, batch, conv->cout, spec, y);
    return NDE_OK;
}

nde_status nde_spectral_conv_vjp_f32(const nde_spectral_conv *conv, const float *theta,
                                 const float *x, const float *xhat, const float *gy,
                                 float *gx, float *gtheta, size_t batch, const size_t *n,
                                 float *scratch)
{
    if (!conv || !theta || !gy || !scratch || (gtheta && !x && !xhat))
        return NDE_FAIL(NDE_ERR_ARG, "nde_spectral_conv_vjp_f32: NULL argument");
    NDE_TRY(check_grid(conv, batch, n));
    if (x) NDE_TRY(check_aligned_f32(x, "x"));
    NDE_TRY(check_aligned_f32(gy, "gy"));
    NDE_TRY(check_aligned_f32(scratch, "scratch"));
    if (gx) NDE_TRY(check_aligned_f32(gx, "gx"));
    if (!gx && !gtheta) return NDE_OK;
    geom g = make_geom(conv, n);
    plans_f32 pin, pout;
    NDE_TRY(get_plans_f32(conv, batch, conv->cin, g, &pin));
    NDE_TRY(get_plans_f32(conv, batch, conv->cout, g, &pout));
    float *spec = scratch;
    float *Xk = spec + spec_len(conv, batch, g);
    float *Gk = Xk + block_len(conv, batch);
    float *GXk = Gk + block_len(conv, batch);
    transform_gather_f32(conv, &pout, g, gy, batch, conv->cout, spec, Gk);
    if (gtheta) {
        /* the conjugate copy (channel-major) goes to the spectrum region, free here */
        if (xhat)
            mix_weight_grad_f32(conv, g, xhat, Gk, gtheta + conv->w_off, batch, spec);
        else {
            transform_gather_f32(conv, &pin, g, x, batch, conv->cin, spec, Xk);
            mix_weight_grad_f32(conv, g, Xk, Gk, gtheta + conv->w_off, batch, Xk);
        }
    }
    if (gx) {
        mix_input_grad_f32(conv, theta + conv->w_off, Gk, GXk, batch, 1.0f / (float)g.points, Xk);
        scatter_inverse_f32(conv, &pin, g, GXk, batch, conv->cin, spec, gx);
    }
    return NDE_OK;
}
