/* FFTW plan cache kept in the nde_ctx (slot NDE_SLOT_FFT).
 *
 * Plans are made once per (kind, sizes) with FFTW_ESTIMATE — deterministic, so the same
 * input gives the same bits run to run — on 64-byte aligned scratch, and executed with
 * FFTW's new-array interface on any 64-byte aligned arrays of the same shape. FFTW's
 * planner is not thread-safe; every planner call here holds one process-wide mutex. */
#ifndef NDE_FFT_CACHE_H
#define NDE_FFT_CACHE_H

#include <fftw3.h>

#include "nde/core.h"

typedef enum nde_fft_kind {
    /* howmany real transforms of length n: in (howmany, n) → out (howmany, n/2+1) complex */
    NDE_FFT_R2C = 0,
    /* inverse of the above, unnormalized; destroys its input */
    NDE_FFT_C2R,
    /* in place on complex (howmany, n, h): length-n transforms along the middle dimension
     * for the first m columns only (sign −1: forward, +1: backward) */
    NDE_FFT_COLS_FWD,
    NDE_FFT_COLS_BWD,
    NDE_DFT_BASIS, /* not an FFTW plan: see nde_dft_basis */
} nde_fft_kind;

/* Find or make the plan. h and m are used by the COLS kinds only (pass 0 otherwise).
 * Errors: NDE_ERR_ARG (NULL ctx, zero size), NDE_ERR_NOMEM, NDE_ERR_UNSUPPORTED if FFTW
 * cannot plan. */
nde_status nde_fft_plan(nde_ctx *ctx, nde_fft_kind kind, size_t n, size_t howmany, size_t h,
                        size_t m, fftw_plan *plan);

/* Real DFT bases on the kept modes k < m of a length-n grid (for transforms by GEMM when
 * m ≪ n; Li et al.'s "pruned" transform): *fwd (n, 2m) with columns cos θ, −sin θ
 * (θ = 2πkj/n), so x (rows, n) · fwd = the kept half spectrum (rows, m) complex; *inv
 * (2m, n) with rows c_k cos θ, −c_k sin θ (c_0 = 1, else 2), so Y (rows, m complex) · inv
 * = Σ_k c_k Re(Y_k e^{iθ}) — the unnormalized c2r of a spectrum zero above m. Angles are
 * reduced exactly in integers. Cached in the context; owned by it. */
nde_status nde_dft_basis(nde_ctx *ctx, size_t n, size_t m, const double **fwd, const double **inv);

/* The float32 twins (fftwf, single-precision plans; the basis is computed in double and
 * rounded), cached next to the double ones under the same locking. */
nde_status nde_fftf_plan(nde_ctx *ctx, nde_fft_kind kind, size_t n, size_t howmany, size_t h,
                         size_t m, fftwf_plan *plan);
nde_status nde_dft_basis_f32(nde_ctx *ctx, size_t n, size_t m, const float **fwd, const float **inv);

#endif
