/* Burgers 1-D data generator: Gaussian random initial data and a Fourier pseudo-spectral
 * ETDRK4 solver (see nde/pde.h for the equation, sources and conventions). */
#include <complex.h>
#include <math.h>
#include <string.h>

#include "nde/pde.h"
#include "operators/fft_cache.h"

nde_burgers_spec nde_burgers_defaults(void)
{
    nde_burgers_spec s;
    memset(&s, 0, sizeof s);
    s.n = 1024;
    s.nu = 0.1;
    s.t_final = 1.0;
    s.n_steps = 200;
    s.sigma = 25.0;
    s.tau = 5.0;
    s.gamma = 2.0;
    s.zero_mean = 1;
    return s;
}

static size_t solve_points(const nde_burgers_spec *s) { return s->n_solve ? s->n_solve : s->n; }

nde_status nde_burgers_check(const nde_burgers_spec *s)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "Burgers spec is NULL");
    size_t ns = solve_points(s);
    if (s->n < 4) return NDE_FAIL(NDE_ERR_ARG, "Burgers spec: n = %zu (need >= 4)", s->n);
    if (ns % 2 || ns % s->n)
        return NDE_FAIL(NDE_ERR_ARG, "Burgers spec: n_solve = %zu must be even and a multiple of n = %zu",
                        ns, s->n);
    if (!(s->nu > 0.0) || !isfinite(s->nu))
        return NDE_FAIL(NDE_ERR_ARG, "Burgers spec: nu = %g (need > 0)", s->nu);
    if (!(s->t_final >= 0.0) || !isfinite(s->t_final))
        return NDE_FAIL(NDE_ERR_ARG, "Burgers spec: t_final = %g", s->t_final);
    if (s->n_steps == 0) return NDE_FAIL(NDE_ERR_ARG, "Burgers spec: n_steps = 0");
    if (!(s->sigma >= 0.0) || !(s->tau > 0.0) || !(s->gamma > 0.0) || !isfinite(s->sigma) ||
        !isfinite(s->tau) || !isfinite(s->gamma))
        return NDE_FAIL(NDE_ERR_ARG, "Burgers spec: sigma %g, tau %g, gamma %g", s->sigma, s->tau,
                        s->gamma);
    return NDE_OK;
}

nde_status nde_burgers_initial(const nde_burgers_spec *spec, uint64_t index, double *u0)
{
    NDE_TRY(nde_burgers_check(spec));
    if (!u0) return NDE_FAIL(NDE_ERR_ARG, "nde_burgers_initial: u0 is NULL");
    size_t ns = solve_points(spec);
    nde_rng r;
    nde_rng_seed(&r, spec->seed + 0x9E3779B97F4A7C15ULL * (index + 1));
    double mean = spec->zero_mean ? 0.0 : spec->sigma * pow(spec->tau, -spec->gamma) * nde_rng_normal(&r);
    /* u0_j = m + Σ_k α_k cos(2πkj/n) + β_k sin(2πkj/n), summed directly: the same function
     * at every resolution (coarse grids use a prefix of the random stream). */
    size_t kmax = ns / 2 - 1;
    double *alpha = nde_alloc_array(2 * (kmax + 1) + 2 * ns, sizeof *alpha);
    if (!alpha) return NDE_ERR_NOMEM;
    double *beta = alpha + kmax + 1, *cs = beta + kmax + 1, *sn = cs + ns;
    for (size_t k = 1; k <= kmax; k++) {
        double lam = 2.0 * NDE_PI * (double)k;
        double amp = sqrt(2.0) * spec->sigma * pow(lam * lam + spec->tau * spec->tau, -spec->gamma / 2);
        alpha[k] = amp * nde_rng_normal(&r);
        beta[k] = amp * nde_rng_normal(&r);
    }
    /* cos and sin of 2πm/n; angle k·j reduced mod n exactly in integers */
    for (size_t m = 0; m < ns; m++) {
        double th = 2.0 * NDE_PI * (double)m / (double)ns;
        cs[m] = cos(th);
        sn[m] = sin(th);
    }
    for (size_t j = 0; j < ns; j++) {
        double v = mean;
        for (size_t k = 1; k <= kmax; k++) {
            size_t m = (k * j) % ns;
            v += alpha[k] * cs[m] + beta[k] * sn[m];
        }
        u0[j] = v;
    }
    nde_free(alpha);
    return NDE_OK;
}

/* ---- ETDRK4 solver ------------------------------------------------------------------- */

typedef struct burgers_ws {
    size_t n, half, kcut;     /* points, n/2+1, dealiasing cut: modes k ≤ n/3 kept */
    fftw_plan r2c, c2r;
    double *coef;             /* E, E2, Q, f1, f2, f3 per mode: (6, half) */
    double complex *v, *a, *b, *c, *Nv, *Na, *Nb, *Nc, *tmp; /* (half) each */
    double *u;                /* (n) physical values */
    double *block;
} burgers_ws;

static void ws_free(burgers_ws *w) { nde_free(w->block); }

static size_t r8(size_t x) { return (x + 7) / 8 * 8; }

/* Kassam & Trefethen (2005) eq. (2.5) coefficients by the mean over M points on a circle of
 * radius 1 around z = L dt, which avoids the cancellation of the closed forms near 0. */
static void etd_coefficients(double z, double dt, double *E, double *E2, double *Q, double *f1,
                             double *f2, double *f3)
{
    const int M = 32;
    double complex q = 0, a = 0, b = 0, c = 0;
    for (int j = 0; j < M; j++) {
        double complex r = z + cexp(I * NDE_PI * ((double)j + 0.5) / M);
        double complex er = cexp(r), r3 = r * r * r;
        q += (cexp(r / 2) - 1.0) / r;
        a += (-4.0 - r + er * (4.0 - 3.0 * r + r * r)) / r3;
        b += (2.0 + r + er * (-2.0 + r)) / r3;
        c += (-4.0 - 3.0 * r - r * r + er * (4.0 - r)) / r3;
    }
    *E = exp(z);
    *E2 = exp(z / 2);
    /* points on the upper half circle: for real z the real part of their mean equals the
     * mean over the whole circle (Kassam & Trefethen's `real(mean(...))`) */
    *Q = dt * creal(q) / M;
    *f1 = dt * creal(a) / M;
    *f2 = dt * creal(b) / M;
    *f3 = dt * creal(c) / M;
}

static nde_status ws_init(burgers_ws *w, nde_ctx *ctx, const nde_burgers_spec *s)
{
    memset(w, 0, sizeof *w);
    w->n = solve_points(s);
    w->half = w->n / 2 + 1;
    w->kcut = w->n / 3;
    NDE_TRY(nde_fft_plan(ctx, NDE_FFT_R2C, w->n, 1, 0, 0, &w->r2c));
    NDE_TRY(nde_fft_plan(ctx, NDE_FFT_C2R, w->n, 1, 0, 0, &w->c2r));
    size_t hc = r8(2 * w->half); /* doubles per complex array */
    w->block = nde_alloc_array(6 * r8(w->half) + 9 * hc + r8(w->n), sizeof(double));
    if (!w->block) return NDE_ERR_NOMEM;
    w->coef = w->block;
    double *p = w->block + 6 * r8(w->half);
    double complex **arrs[9] = {&w->v, &w->a, &w->b, &w->c, &w->Nv, &w->Na, &w->Nb, &w->Nc, &w->tmp};
    for (int i = 0; i < 9; i++, p += hc) *arrs[i] = (double complex *)p;
    w->u = p;
    double dt = s->t_final / (double)s->n_steps;
    size_t h8 = r8(w->half);
    for (size_t k = 0; k < w->half; k++) {
        double lam = 2.0 * NDE_PI * (double)k;
        double z = -s->nu * lam * lam * dt;
        etd_coefficients(z, dt, &w->coef[k], &w->coef[h8 + k], &w->coef[2 * h8 + k],
                         &w->coef[3 * h8 + k], &w->coef[4 * h8 + k], &w->coef[5 * h8 + k]);
    }
    return NDE_OK;
}

/* N(v̂)_k = −(i 2πk/2) FFT(u²)_k with u from the modes k ≤ n/3 only (2/3 rule, Orszag 1971),
 * and the result truncated the same way. Coefficients are normalized: u = Σ v̂_k e^{2πikx}. */
static void nonlinear(burgers_ws *w, const double complex *v, double complex *N)
{
    for (size_t k = 0; k < w->half; k++) w->tmp[k] = k <= w->kcut ? v[k] : 0.0;
    fftw_execute_dft_c2r(w->c2r, (fftw_complex *)w->tmp, w->u);
    for (size_t j = 0; j < w->n; j++) w->u[j] *= w->u[j];
    fftw_execute_dft_r2c(w->r2c, w->u, (fftw_complex *)N);
    double inv_n = 1.0 / (double)w->n;
    for (size_t k = 0; k < w->half; k++)
        N[k] = k <= w->kcut ? -I * NDE_PI * (double)k * inv_n * N[k] : 0.0;
}

static nde_status ws_solve(burgers_ws *w, const nde_burgers_spec *s, const double *u0, double *u1)
{
    size_t h8 = r8(w->half);
    const double *E = w->coef, *E2 = E + h8, *Q = E + 2 * h8, *f1 = E + 3 * h8, *f2 = E + 4 * h8,
                 *f3 = E + 5 * h8;
    memcpy(w->u, u0, w->n * sizeof *w->u);
    fftw_execute_dft_r2c(w->r2c, w->u, (fftw_complex *)w->v);
    for (size_t k = 0; k < w->half; k++) w->v[k] /= (double)w->n;
    if (w->n % 2 == 0) w->v[w->half - 1] = 0.0; /* Nyquist mode: no real counterpart */
    for (size_t step = 0; step < s->n_steps; step++) {
        nonlinear(w, w->v, w->Nv);
        for (size_t k = 0; k < w->half; k++) w->a[k] = E2[k] * w->v[k] + Q[k] * w->Nv[k];
        nonlinear(w, w->a, w->Na);
        for (size_t k = 0; k < w->half; k++) w->b[k] = E2[k] * w->v[k] + Q[k] * w->Na[k];
        nonlinear(w, w->b, w->Nb);
        for (size_t k = 0; k < w->half; k++)
            w->c[k] = E2[k] * w->a[k] + Q[k] * (2.0 * w->Nb[k] - w->Nv[k]);
        nonlinear(w, w->c, w->Nc);
        for (size_t k = 0; k < w->half; k++)
            w->v[k] = E[k] * w->v[k] + f1[k] * w->Nv[k] + 2.0 * f2[k] * (w->Na[k] + w->Nb[k]) +
                      f3[k] * w->Nc[k];
    }
    memcpy(w->tmp, w->v, w->half * sizeof *w->tmp);
    fftw_execute_dft_c2r(w->c2r, (fftw_complex *)w->tmp, w->u);
    for (size_t j = 0; j < w->n; j++) {
        if (!isfinite(w->u[j]))
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "Burgers solve: non-finite u at x_%zu (n %zu, %zu steps, nu %g)", j,
                            w->n, s->n_steps, s->nu);
        u1[j] = w->u[j];
    }
    return NDE_OK;
}

nde_status nde_burgers_solve(nde_ctx *ctx, const nde_burgers_spec *spec, const double *u0,
                             double *u1)
{
    NDE_TRY(nde_burgers_check(spec));
    if (!ctx || !u0 || !u1) return NDE_FAIL(NDE_ERR_ARG, "nde_burgers_solve: NULL argument");
    burgers_ws w;
    nde_status st = ws_init(&w, ctx, spec);
    if (st == NDE_OK) st = ws_solve(&w, spec, u0, u1);
    ws_free(&w);
    return st;
}

nde_status nde_burgers_generate(nde_ctx *ctx, const nde_burgers_spec *spec, uint64_t first,
                                size_t count, double *a, double *u, nde_pde_progress_fn progress,
                                void *user)
{
    NDE_TRY(nde_burgers_check(spec));
    if (!ctx || !a || !u) return NDE_FAIL(NDE_ERR_ARG, "nde_burgers_generate: NULL argument");
    burgers_ws w;
    nde_status st = ws_init(&w, ctx, spec);
    size_t ns = w.n, stride = ns / spec->n;
    double *u0 = st == NDE_OK ? nde_alloc_array(2 * ns, sizeof *u0) : NULL;
    if (st == NDE_OK && !u0) st = NDE_ERR_NOMEM;
    double *u1 = u0 ? u0 + ns : NULL;
    for (size_t i = 0; st == NDE_OK && i < count; i++) {
        st = nde_burgers_initial(spec, first + i, u0);
        if (st == NDE_OK) st = ws_solve(&w, spec, u0, u1);
        if (st != NDE_OK) break;
        for (size_t j = 0; j < spec->n; j++) {
            a[i * spec->n + j] = u0[j * stride];
            u[i * spec->n + j] = u1[j * stride];
        }
        if (progress && progress(user, i + 1, count))
            st = NDE_FAIL(NDE_ERR_STOPPED, "Burgers generator stopped after %zu of %zu samples",
                          i + 1, count);
    }
    nde_free(u0);
    ws_free(&w);
    return st;
}
