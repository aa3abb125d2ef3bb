/* Darcy 2-D generator: residual of the multigrid-PCG solve checked with an independent
 * 5-point assembly, a manufactured discrete solution, second-order convergence against
 * an exact solution, determinism, and bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "nde/pde.h"

/* r = f − A u on the interior with A from solve_gwf.m: 5 points, face coefficient the
 * mean of the nodal values, scaled by 1/h² = N²; written here independently. */
static void residual(size_t w, const double *a, const double *f, const double *u, double *r)
{
    const double n2 = (double)(w - 1) * (double)(w - 1);
    memset(r, 0, w * w * sizeof *r);
    for (size_t i = 1; i + 1 < w; i++)
        for (size_t j = 1; j + 1 < w; j++) {
            const size_t p = i * w + j, nb[4] = {p - w, p + w, p - 1, p + 1};
            double au = 0.0;
            for (int k = 0; k < 4; k++) au += 0.5 * (a[p] + a[nb[k]]) * (u[p] - u[nb[k]]);
            r[p] = f[p] - n2 * au;
        }
}

static double norm_interior(size_t w, const double *x)
{
    double s = 0.0;
    for (size_t i = 1; i + 1 < w; i++)
        for (size_t j = 1; j + 1 < w; j++) s += x[i * w + j] * x[i * w + j];
    return sqrt(s);
}

static nde_darcy *make(size_t s, size_t refine)
{
    nde_darcy_spec sp = nde_darcy_defaults(s);
    sp.refine = refine;
    nde_darcy *g = NULL;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_OK, "%s", nde_last_error());
    return g;
}

Test(darcy, generated_sample_meets_the_residual_tolerance)
{
    nde_darcy *g = make(64, 0); /* default: refine 4, N = 252 → 126 → 63 */
    const size_t w = nde_darcy_grid(g);
    cr_assert_eq(w, 253);
    cr_assert_eq(nde_darcy_get_spec(g)->refine, 4);
    cr_assert_eq(nde_darcy_levels(g), 3);
    double *a = nde_alloc_array(w * w, 8), *f = nde_alloc_array(w * w, 8);
    double *u = nde_alloc_array(w * w, 8), *r = nde_alloc_array(w * w, 8);
    cr_assert_eq(nde_darcy_coefficient(g, 5, 1, a), NDE_OK);
    size_t hi = 0;
    for (size_t k = 0; k < w * w; k++) {
        cr_assert(a[k] == 12.0 || a[k] == 3.0);
        hi += a[k] == 12.0;
    }
    cr_assert(hi > 0 && hi < w * w, "the thresholded field has both phases (%zu of %zu)", hi, w * w);
    for (size_t k = 0; k < w * w; k++) f[k] = 1.0;
    nde_darcy_stats st;
    cr_assert_eq(nde_darcy_solve(g, a, f, u, &st), NDE_OK, "%s", nde_last_error());
    residual(w, a, f, u, r);
    for (size_t k = 0; k < w * w; k++) f[k] = (k / w == 0 || k / w == w - 1 || k % w == 0 || k % w == w - 1) ? 0.0 : 1.0;
    const double rel = norm_interior(w, r) / norm_interior(w, f);
    cr_assert(rel <= 1e-10, "relative residual %.3g", rel);
    cr_assert(fabs(rel - st.rel_residual) <= 1e-3 * rel + 1e-16);
    cr_assert(st.iterations <= 30, "multigrid PCG took %zu iterations", st.iterations);
    /* boundary zero, interior positive (maximum principle for f > 0) */
    for (size_t i = 0; i < w; i++)
        for (size_t j = 0; j < w; j++) {
            int bd = i == 0 || j == 0 || i == w - 1 || j == w - 1;
            if (bd) cr_assert_eq(u[i * w + j], 0.0);
            else cr_assert(u[i * w + j] > 0.0);
        }
    /* the generator's sample is the subsampled coefficient and solution, bit for bit */
    double coeff[64 * 64], sol[64 * 64];
    cr_assert_eq(nde_darcy_generate(g, 5, 1, 1, coeff, sol, NULL, NULL), NDE_OK);
    for (size_t i = 0; i < 64; i++)
        for (size_t j = 0; j < 64; j++) {
            cr_assert_eq(coeff[i * 64 + j], a[4 * i * w + 4 * j]);
            cr_assert_eq(sol[i * 64 + j], u[4 * i * w + 4 * j]);
        }
    nde_free(a), nde_free(f), nde_free(u), nde_free(r);
    nde_darcy_destroy(&g);
    cr_assert_null(g);
}

/* f = A u* for a random u* (zero boundary) and a jumping coefficient: the solve must
 * return u* to within the conditioning of A times the tolerance. */
Test(darcy, recovers_a_manufactured_discrete_solution)
{
    nde_darcy *g = make(65, 1); /* N = 64 → 32 → 16 */
    cr_assert_eq(nde_darcy_levels(g), 3);
    const size_t w = 65;
    double *a = nde_alloc_array(w * w, 8), *f = nde_alloc_array(w * w, 8);
    double *u = nde_alloc_array(w * w, 8), *ustar = nde_alloc_array(w * w, 8);
    nde_rng r;
    nde_rng_seed(&r, 3);
    for (size_t i = 0; i < w; i++)
        for (size_t j = 0; j < w; j++) {
            a[i * w + j] = nde_rng_uniform(&r) < 0.5 ? 12.0 : 3.0;
            int bd = i == 0 || j == 0 || i == w - 1 || j == w - 1;
            ustar[i * w + j] = bd ? 0.0 : nde_rng_uniform_in(&r, -1.0, 1.0);
        }
    residual(w, a, ustar, ustar, f); /* f = ustar − A ustar */
    for (size_t k = 0; k < w * w; k++) f[k] = ustar[k] - f[k];
    nde_darcy_stats st;
    cr_assert_eq(nde_darcy_solve(g, a, f, u, &st), NDE_OK, "%s", nde_last_error());
    double e = 0.0, n = 0.0;
    for (size_t k = 0; k < w * w; k++) {
        e += (u[k] - ustar[k]) * (u[k] - ustar[k]);
        n += ustar[k] * ustar[k];
    }
    cr_assert(sqrt(e / n) <= 1e-7, "relative error %.3g after %zu iterations", sqrt(e / n),
              st.iterations);
    nde_free(a), nde_free(f), nde_free(u), nde_free(ustar);
    nde_darcy_destroy(&g);
}

/* u = sin(πx) sin(πy), a = 1 + x²y: f = −∇·(a∇u) exactly; the max error must fall by
 * ≈ 4 per halving of h (second order). */
Test(darcy, converges_at_second_order)
{
    double err[3];
    for (int lev = 0; lev < 3; lev++) {
        const size_t n = 16u << lev, w = n + 1;
        nde_darcy *g = make(w, 1);
        double *a = nde_alloc_array(w * w, 8), *f = nde_alloc_array(w * w, 8);
        double *u = nde_alloc_array(w * w, 8);
        for (size_t i = 0; i < w; i++)
            for (size_t j = 0; j < w; j++) {
                const double x = (double)i / (double)n, y = (double)j / (double)n;
                const double pi = NDE_PI, sx = sin(pi * x), sy = sin(pi * y);
                const double ux = pi * cos(pi * x) * sy, uy = pi * sx * cos(pi * y);
                a[i * w + j] = 1.0 + x * x * y;
                /* −(a_x u_x + a_y u_y + a Δu), a_x = 2xy, a_y = x², Δu = −2π² u */
                f[i * w + j] = -(2 * x * y * ux + x * x * uy - (1.0 + x * x * y) * 2 * pi * pi * sx * sy);
            }
        cr_assert_eq(nde_darcy_solve(g, a, f, u, NULL), NDE_OK, "%s", nde_last_error());
        err[lev] = 0.0;
        for (size_t i = 0; i < w; i++)
            for (size_t j = 0; j < w; j++) {
                const double ex = sin(NDE_PI * (double)i / (double)n) * sin(NDE_PI * (double)j / (double)n);
                err[lev] = fmax(err[lev], fabs(u[i * w + j] - ex));
            }
        nde_free(a), nde_free(f), nde_free(u);
        nde_darcy_destroy(&g);
    }
    for (int k = 0; k < 2; k++) {
        const double ratio = err[k] / err[k + 1];
        cr_assert(ratio > 3.6 && ratio < 4.4, "error ratio %.3f (errors %.3g, %.3g)", ratio,
                  err[k], err[k + 1]);
    }
}

static int count_calls(void *user, size_t done, size_t total)
{
    (void)total;
    *(size_t *)user = done;
    return done >= 2; /* stop after the second sample */
}

Test(darcy, same_seed_same_bits_and_ranges_agree)
{
    nde_darcy *g = make(17, 2); /* N = 32 */
    double c3[3 * 289], s3[3 * 289], c1[289], s1[289];
    cr_assert_eq(nde_darcy_generate(g, 77, 0, 3, c3, s3, NULL, NULL), NDE_OK);
    cr_assert_eq(nde_darcy_generate(g, 77, 2, 1, c1, s1, NULL, NULL), NDE_OK);
    cr_assert_eq(memcmp(c1, c3 + 2 * 289, sizeof c1), 0);
    cr_assert_eq(memcmp(s1, s3 + 2 * 289, sizeof s1), 0);
    cr_assert_neq(memcmp(c3, c3 + 289, sizeof c1), 0, "samples differ");
    cr_assert_eq(nde_darcy_generate(g, 78, 2, 1, c1, s1, NULL, NULL), NDE_OK);
    cr_assert_neq(memcmp(c1, c3 + 2 * 289, sizeof c1), 0, "seeds differ");
    /* both phases appear over a few samples in comparable amounts */
    size_t hi = 0;
    for (size_t k = 0; k < 3 * 289; k++) hi += c3[k] == 12.0;
    cr_assert(hi > 3 * 289 / 10 && hi < 3 * 289 * 9 / 10, "%zu of %d nodes at 12", hi, 3 * 289);
    size_t done = 0;
    cr_assert_eq(nde_darcy_generate(g, 77, 0, 3, c3, s3, count_calls, &done), NDE_ERR_STOPPED);
    cr_assert_eq(done, 2);
    nde_darcy_destroy(&g);
}

Test(darcy, bad_input_returns_a_status)
{
    nde_darcy *g = (nde_darcy *)&g;
    nde_darcy_spec sp = nde_darcy_defaults(2);
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_ERR_ARG);
    cr_assert_null(g);
    sp = nde_darcy_defaults(9), sp.a_lo = 0.0;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_ERR_ARG);
    sp = nde_darcy_defaults(9), sp.tol = 0.0;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_ERR_ARG);
    sp = nde_darcy_defaults(9), sp.tau = NAN;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_ERR_ARG);
    cr_assert_eq(nde_darcy_create(NULL, &g), NDE_ERR_ARG);
    /* one PCG iteration cannot reach 1e-14 on a multilevel grid */
    sp = nde_darcy_defaults(33), sp.refine = 2, sp.max_iter = 1, sp.tol = 1e-14;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_OK);
    const size_t w = nde_darcy_grid(g);
    double *a = nde_alloc_array(w * w, 8), *f = nde_alloc_array(w * w, 8), *u = nde_alloc_array(w * w, 8);
    for (size_t k = 0; k < w * w; k++) a[k] = f[k] = 1.0;
    cr_assert_eq(nde_darcy_solve(g, a, f, u, NULL), NDE_ERR_MAX_STEPS);
    cr_assert(strstr(nde_last_error(), "residual") != NULL, "%s", nde_last_error());
    a[w + 3] = NAN;
    cr_assert_eq(nde_darcy_solve(g, a, f, u, NULL), NDE_ERR_ARG);
    a[w + 3] = -1.0;
    cr_assert_eq(nde_darcy_solve(g, a, f, u, NULL), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "a[1][3]") != NULL, "%s", nde_last_error());
    cr_assert_eq(nde_darcy_solve(g, NULL, f, u, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_darcy_generate(g, 1, 0, 0, a, u, NULL, NULL), NDE_ERR_ARG);
    nde_free(a), nde_free(f), nde_free(u);
    nde_darcy_destroy(&g);
    nde_darcy_destroy(&g);
    nde_darcy_destroy(NULL);
}
