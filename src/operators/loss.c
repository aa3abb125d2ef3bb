/* Relative L2 (legacy FNO LpLoss) and the Fourier-weighted relative H1 loss (legacy
 * HsLoss with k = 1, a = 1, also MgNO's training loss). */
#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nde/operators.h"
#include "operators/fft_cache.h"

nde_status nde_rel_l2_loss(const double *pred, const double *target, double *grad, size_t batch,
                           size_t size, double *loss)
{
    if (!pred || !target || !loss) return NDE_FAIL(NDE_ERR_ARG, "nde_rel_l2_loss: NULL argument");
    double total = 0.0;
    for (size_t b = 0; b < batch; b++) {
        const double *p = pred + b * size, *y = target + b * size;
        double ee = 0.0, yy = 0.0;
        for (size_t i = 0; i < size; i++) {
            double e = p[i] - y[i];
            ee += e * e;
            yy += y[i] * y[i];
        }
        if (!(yy > 0.0) || !isfinite(yy) || !isfinite(ee))
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "nde_rel_l2_loss: sample %zu has |target|^2 = %g, |error|^2 = %g", b,
                            yy, ee);
        double en = sqrt(ee), yn = sqrt(yy);
        total += en / yn;
        if (grad) {
            /* d(|e|/|y|)/dp = e/(|e||y|); at e = 0 the subgradient 0. */
            double s = en > 0.0 ? 1.0 / (en * yn) : 0.0;
            for (size_t i = 0; i < size; i++) grad[b * size + i] = s * (p[i] - y[i]);
        }
    }
    *loss = total;
    return NDE_OK;
}

/* Half-spectrum geometry: rows along the first dimension (1 in 1-D), H columns. */
static void h1_geom(int ndim, const size_t *n, size_t *rows, size_t *cols, size_t *half)
{
    *rows = ndim == 2 ? n[0] : 1;
    *cols = ndim == 2 ? n[1] : n[0];
    *half = *cols / 2 + 1;
}

/* Scratch: error spectrum, target spectrum (batch, rows, H) complex each, then the error
 * field (batch, rows, cols); each region rounded to 8 doubles to keep 64-byte alignment. */
static size_t round8(size_t x) { return (x + 7) / 8 * 8; }

size_t nde_h1_loss_scratch_size(int ndim, const size_t *n, size_t batch)
{
    if ((ndim != 1 && ndim != 2) || !n) return 0;
    size_t rows, cols, half;
    h1_geom(ndim, n, &rows, &cols, &half);
    return 2 * round8(2 * batch * rows * half) + round8(batch * rows * cols);
}

/* |k|² of integer wave number index i on a grid of n (aliases folded: min(i, n−i)). */
static double k2(size_t i, size_t n)
{
    size_t k = i <= n - i ? i : n - i;
    return (double)k * (double)k;
}

/* Full-spectrum weighted energy Σ_k w_k |s_k|², w_k = 1 + |k|², from the half spectrum
 * (interior columns stand for themselves and their conjugates); if `scale_by_weight`,
 * s ← w s in place. */
static double weighted_energy(double complex *s, size_t rows, size_t cols, size_t half,
                              int scale_by_weight)
{
    double e = 0.0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < half; c++) {
            double w = 1.0 + k2(r, rows) + k2(c, cols);
            double mult = (c == 0 || 2 * c == cols) ? 1.0 : 2.0;
            double complex v = s[r * half + c];
            e += mult * w * (creal(v) * creal(v) + cimag(v) * cimag(v));
            if (scale_by_weight) s[r * half + c] = w * v;
        }
    return e;
}

/* Loss and gradient (derivation): with E = Σ_k w_k|ê_k|² and Y = Σ_k w_k|ŷ_k|²,
 * ∂E/∂e_n = 2 Σ_k w_k Re(ê_k e^{iθ_k n}) = 2·C2R(w ê)_n (unnormalized inverse), so
 * ∂ sqrt(E/Y)/∂p = C2R(w ê) / (sqrt(E) sqrt(Y)). */
nde_status nde_h1_loss(nde_ctx *ctx, int ndim, const size_t *n, const double *pred,
                       const double *target, double *grad, size_t batch, double *loss,
                       double *scratch)
{
    if (!ctx || !n || !pred || !target || !loss || !scratch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_h1_loss: NULL argument");
    if (ndim != 1 && ndim != 2) return NDE_FAIL(NDE_ERR_ARG, "nde_h1_loss: ndim %d", ndim);
    if (batch == 0) return NDE_FAIL(NDE_ERR_ARG, "nde_h1_loss: batch 0");
    if ((uintptr_t)scratch % 16 || (grad && (uintptr_t)grad % 16) || (uintptr_t)target % 16)
        return NDE_FAIL(NDE_ERR_ARG, "nde_h1_loss: target, grad and scratch must be 16-byte aligned");
    size_t rows, cols, half;
    h1_geom(ndim, n, &rows, &cols, &half);
    if (cols < 2 || rows < 1)
        return NDE_FAIL(NDE_ERR_SHAPE, "nde_h1_loss: grid too small (%zu x %zu)", rows, cols);
    size_t per = rows * half, npts = rows * cols;
    double complex *se = (double complex *)scratch;
    double complex *sy = (double complex *)(scratch + round8(2 * batch * per));
    double *e = scratch + 2 * round8(2 * batch * per);
    fftw_plan r2c, c2r, cf = NULL, cb = NULL;
    NDE_TRY(nde_fft_plan(ctx, NDE_FFT_R2C, cols, batch * rows, 0, 0, &r2c));
    NDE_TRY(nde_fft_plan(ctx, NDE_FFT_C2R, cols, batch * rows, 0, 0, &c2r));
    if (ndim == 2) {
        NDE_TRY(nde_fft_plan(ctx, NDE_FFT_COLS_FWD, rows, batch, half, half, &cf));
        NDE_TRY(nde_fft_plan(ctx, NDE_FFT_COLS_BWD, rows, batch, half, half, &cb));
    }
    for (size_t i = 0; i < batch * npts; i++) e[i] = pred[i] - target[i];
    fftw_execute_dft_r2c(r2c, (double *)target, (fftw_complex *)sy);
    fftw_execute_dft_r2c(r2c, e, (fftw_complex *)se);
    if (cf) {
        fftw_execute_dft(cf, (fftw_complex *)sy, (fftw_complex *)sy);
        fftw_execute_dft(cf, (fftw_complex *)se, (fftw_complex *)se);
    }
    double total = 0.0;
    for (size_t b = 0; b < batch; b++) {
        double yy = weighted_energy(sy + b * per, rows, cols, half, 0);
        double ee = weighted_energy(se + b * per, rows, cols, half, grad != NULL);
        if (!(yy > 0.0) || !isfinite(yy) || !isfinite(ee))
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "nde_h1_loss: sample %zu has H1 norm^2 %g of target, %g of error", b,
                            yy, ee);
        total += sqrt(ee / yy);
        if (grad) {
            double s = ee > 0.0 ? 1.0 / (sqrt(ee) * sqrt(yy)) : 0.0;
            for (size_t i = 0; i < per; i++) se[b * per + i] *= s;
        }
    }
    if (grad) {
        if (cb) fftw_execute_dft(cb, (fftw_complex *)se, (fftw_complex *)se);
        fftw_execute_dft_c2r(c2r, (fftw_complex *)se, grad);
    }
    *loss = total;
    return NDE_OK;
}
