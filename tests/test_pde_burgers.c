/* Burgers 1-D generator: agreement with the exact Cole–Hopf solution, convergence under
 * resolution and time-step refinement, conservation of the mean, determinism, bad input. */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "nde/pde.h"

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* Cole–Hopf (Hopf 1950, Cole 1951): u = −2ν φ_x/φ with φ_t = ν φ_xx and
 * φ(x, 0) = exp(−(1/2ν) ∫₀ˣ u0). For zero-mean periodic u0, φ is periodic and the heat
 * equation is solved exactly per Fourier mode. u0 is given by its Fourier series on a fine
 * grid of m points (all DFTs summed directly). Returns u(x_j, t) at j·m/n, j < n. */
static void cole_hopf(const double *u0, size_t m, double nu, double t, double *u, size_t n)
{
    double complex *c = nde_alloc_array(m, sizeof *c);
    double *U = nde_alloc_array(m, sizeof *U), *phi = nde_alloc_array(m, sizeof *phi);
    /* Fourier coefficients of u0; integrate term by term (mean is zero). */
    for (size_t k = 0; k < m; k++) {
        c[k] = 0;
        for (size_t j = 0; j < m; j++) c[k] += u0[j] * cexp(-2 * I * NDE_PI * (double)((k * j) % m) / (double)m);
        c[k] /= (double)m;
    }
    for (size_t j = 0; j < m; j++) {
        double complex s = 0;
        for (size_t k = 1; k < m / 2; k++) {
            double complex e = cexp(2 * I * NDE_PI * (double)((k * j) % m) / (double)m);
            /* ∫ e^{2πikx} = e^{2πikx}/(2πik); conjugate pair doubles the real part */
            s += 2 * c[k] * (e - 1.0) / (2 * I * NDE_PI * (double)k);
        }
        U[j] = creal(s);
        phi[j] = exp(-U[j] / (2 * nu));
    }
    for (size_t k = 0; k < m; k++) {
        c[k] = 0;
        for (size_t j = 0; j < m; j++) c[k] += phi[j] * cexp(-2 * I * NDE_PI * (double)((k * j) % m) / (double)m);
        c[k] /= (double)m;
    }
    for (size_t jj = 0; jj < n; jj++) {
        size_t j = jj * (m / n);
        double complex p = c[0], px = 0;
        for (size_t k = 1; k < m / 2; k++) {
            double kk = 2 * NDE_PI * (double)k;
            double decay = exp(-nu * kk * kk * t);
            double complex e = cexp(I * kk * (double)j / (double)m);
            double complex ep = conj(e);
            double complex cn = c[m - k];
            p += decay * (c[k] * e + cn * ep);
            px += decay * (I * kk) * (c[k] * e - cn * ep);
        }
        u[jj] = -2 * nu * creal(px) / creal(p);
    }
    nde_free(c);
    nde_free(U);
    nde_free(phi);
}

Test(burgers, matches_cole_hopf_exact_solution)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_burgers_spec s = nde_burgers_defaults();
    s.n = 128;
    s.seed = 7;
    s.n_steps = 1000;
    double *u0 = nde_alloc_array(128, sizeof *u0), *u1 = nde_alloc_array(128, sizeof *u1);
    double *ex = nde_alloc_array(128, sizeof *ex);
    cr_assert_eq(nde_burgers_initial(&s, 3, u0), NDE_OK);
    cr_assert(max_abs(u0, 128) > 0.3, "initial data too small to test the nonlinearity");
    cr_assert_eq(nde_burgers_solve(ctx, &s, u0, u1), NDE_OK, "%s", nde_last_error());
    cole_hopf(u0, 128, s.nu, s.t_final, ex, 128);
    double err = 0;
    for (int j = 0; j < 128; j++) err = fmax(err, fabs(u1[j] - ex[j]));
    cr_assert(err <= 1e-8 * max_abs(ex, 128), "vs Cole-Hopf: max err %g (scale %g)", err, max_abs(ex, 128));
    /* and the solution did move: u(1) differs from u0 */
    double moved = 0;
    for (int j = 0; j < 128; j++) moved = fmax(moved, fabs(u1[j] - u0[j]));
    cr_assert(moved > 0.1);
    nde_free(u0);
    nde_free(u1);
    nde_free(ex);
    nde_ctx_destroy(&ctx);
}

/* The same sample at output resolution 32, solved on 32, 64, 128 and 256 points (the
 * initial function is identical: coarse grids use a prefix of its random modes). */
Test(burgers, converges_under_resolution_and_time_step_refinement)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_burgers_spec s = nde_burgers_defaults();
    s.n = 32;
    s.seed = 11;
    s.n_steps = 400;
    double a[4][32], u[4][32], ref_a[32], ref_u[32];
    size_t solve[4] = {32, 64, 128, 256};
    for (int i = 0; i < 4; i++) {
        s.n_solve = solve[i];
        cr_assert_eq(nde_burgers_generate(ctx, &s, 5, 1, a[i], u[i], NULL, NULL), NDE_OK, "%s", nde_last_error());
    }
    s.n_solve = 512;
    cr_assert_eq(nde_burgers_generate(ctx, &s, 5, 1, ref_a, ref_u, NULL, NULL), NDE_OK);
    double err[4];
    for (int i = 0; i < 4; i++) {
        err[i] = 0;
        for (int j = 0; j < 32; j++) err[i] = fmax(err[i], fabs(u[i][j] - ref_u[j]));
    }
    cr_assert(err[0] > 5 * err[1] && err[1] > 5 * err[2] && err[2] > 5 * err[3], "space errors %g %g %g %g", err[0], err[1], err[2], err[3]);
    cr_assert(err[3] < 1e-10, "space errors %g %g %g %g", err[0], err[1], err[2], err[3]);
    /* time: ETDRK4 is fourth order for non-stiff problems; with the stiff diffusion of the
     * high modes (ν k² dt ≈ 280 here) its observed order drops (Hochbruck & Ostermann,
     * SIAM J. Numer. Anal. 43, 2005): require at least second order. */
    s.n_solve = 128;
    double ut[3][32], at[32];
    size_t steps[3] = {25, 50, 2000};
    for (int i = 0; i < 3; i++) {
        s.n_steps = steps[i];
        cr_assert_eq(nde_burgers_generate(ctx, &s, 5, 1, at, ut[i], NULL, NULL), NDE_OK);
    }
    double e1 = 0, e2 = 0;
    for (int j = 0; j < 32; j++) {
        e1 = fmax(e1, fabs(ut[0][j] - ut[2][j]));
        e2 = fmax(e2, fabs(ut[1][j] - ut[2][j]));
    }
    cr_assert(e1 / e2 > 3.5, "time errors %g %g (ratio %g)", e1, e2, e1 / e2);
    nde_ctx_destroy(&ctx);
}

Test(burgers, conserves_the_mean_and_dissipates_energy)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_burgers_spec s = nde_burgers_defaults();
    s.n = 64;
    s.zero_mean = 0;
    double a[3 * 64], u[3 * 64];
    cr_assert_eq(nde_burgers_generate(ctx, &s, 0, 3, a, u, NULL, NULL), NDE_OK);
    for (int b = 0; b < 3; b++) {
        double ma = 0, mu = 0, ea = 0, eu = 0;
        for (int j = 0; j < 64; j++) {
            ma += a[b * 64 + j] / 64;
            mu += u[b * 64 + j] / 64;
            ea += pow(a[b * 64 + j] - ma, 2);
        }
        for (int j = 0; j < 64; j++) {
            ea += 0;
            eu += pow(u[b * 64 + j] - mu, 2);
        }
        cr_assert(fabs(ma) > 1e-3, "sampled mean should be nonzero");
        cr_assert(fabs(ma - mu) <= 1e-13 * fmax(1.0, fabs(ma)), "mean %.17g -> %.17g", ma, mu);
        cr_assert(eu < ea, "energy must decay");
    }
    nde_ctx_destroy(&ctx);
}

Test(burgers, deterministic_and_independent_of_range)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_burgers_spec s = nde_burgers_defaults();
    s.n = 32;
    s.n_steps = 50;
    double a[4 * 32], u[4 * 32], a2[32], u2[32];
    cr_assert_eq(nde_burgers_generate(ctx, &s, 0, 4, a, u, NULL, NULL), NDE_OK);
    cr_assert_eq(nde_burgers_generate(ctx, &s, 2, 1, a2, u2, NULL, NULL), NDE_OK);
    cr_assert_eq(memcmp(a + 64, a2, sizeof a2), 0);
    cr_assert_eq(memcmp(u + 64, u2, sizeof u2), 0);
    cr_assert(memcmp(a, a + 32, sizeof a2) != 0);
    /* zero-mean samples have zero mean; covariance: Var u0(x) = Σ_k 2σ²/((2πk)²+τ²)² */
    double var = 0, expect = 0;
    for (int k = 1; k < 16; k++) expect += 2 * 625 / pow(pow(2 * NDE_PI * k, 2) + 25, 2);
    nde_burgers_spec big = s;
    big.n_steps = 1;
    double *ab = nde_alloc_array(400 * 32, sizeof *ab), *ub = nde_alloc_array(400 * 32, sizeof *ub);
    cr_assert_eq(nde_burgers_generate(ctx, &big, 100, 400, ab, ub, NULL, NULL), NDE_OK);
    for (int i = 0; i < 400 * 32; i++) var += ab[i] * ab[i] / (400 * 32);
    cr_assert(fabs(var / expect - 1) < 0.15, "pointwise variance %g, expected %g", var, expect);
    double m = 0;
    for (int j = 0; j < 32; j++) m += ab[j];
    cr_assert(fabs(m) < 1e-12);
    nde_free(ab);
    nde_free(ub);
    nde_ctx_destroy(&ctx);
}

static int stop_after_two(void *user, size_t done, size_t total)
{
    (void)total;
    *(size_t *)user = done;
    return done >= 2;
}

Test(burgers, bad_input_and_stop)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_burgers_spec s = nde_burgers_defaults();
    s.n = 16;
    s.n_steps = 10;
    double a[5 * 16], u[5 * 16];
    size_t seen = 0;
    cr_assert_eq(nde_burgers_generate(ctx, &s, 0, 5, a, u, stop_after_two, &seen), NDE_ERR_STOPPED);
    cr_assert_eq(seen, 2);
    nde_burgers_spec b = s;
    b.n_solve = 24;
    cr_assert_eq(nde_burgers_generate(ctx, &b, 0, 1, a, u, NULL, NULL), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "n_solve") != NULL);
    b = s;
    b.nu = 0;
    cr_assert_eq(nde_burgers_check(&b), NDE_ERR_ARG);
    b = s;
    b.n_steps = 0;
    cr_assert_eq(nde_burgers_check(&b), NDE_ERR_ARG);
    b = s;
    b.n = 2;
    cr_assert_eq(nde_burgers_check(&b), NDE_ERR_ARG);
    cr_assert_eq(nde_burgers_generate(NULL, &s, 0, 1, a, u, NULL, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_burgers_solve(ctx, &s, NULL, u), NDE_ERR_ARG);
    nde_ctx_destroy(&ctx);
}
