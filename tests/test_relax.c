/* Learning to relax: SOR and SSOR-PCG against a dense direct solve, the Jacobi spectral
 * radius against its closed form for shifted 2-D Laplacians, the golden Tsallis-INF
 * distribution (optimizers.md §7.3), and the learners' distributions, determinism and
 * convergence on synthetic costs. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"

/* delsq(numgrid('S', g + 2)) + c I: the 5-point Laplacian (4 on the diagonal, −1 to the
 * four neighbours) on a g×g interior grid, rows in natural order. */
static nde_csr *laplacian(size_t g, double c)
{
    const size_t n = g * g;
    size_t *rp = calloc(n + 1, sizeof *rp), *col = calloc(5 * n, sizeof *col);
    double *val = calloc(5 * n, sizeof *val);
    size_t k = 0;
    for (size_t i = 0; i < g; i++)
        for (size_t j = 0; j < g; j++) {
            const size_t r = i * g + j;
            if (i > 0) col[k] = r - g, val[k++] = -1.0;
            if (j > 0) col[k] = r - 1, val[k++] = -1.0;
            col[k] = r, val[k++] = 4.0 + c;
            if (j + 1 < g) col[k] = r + 1, val[k++] = -1.0;
            if (i + 1 < g) col[k] = r + g, val[k++] = -1.0;
            rp[r + 1] = k;
        }
    nde_csr *A = NULL;
    cr_assert_eq(nde_csr_create(n, rp, col, val, &A), NDE_OK, "%s", nde_last_error());
    free(rp), free(col), free(val);
    return A;
}

/* x = A⁻¹ b by dense Gaussian elimination with partial pivoting (independent of nde). */
static void dense_solve(const nde_csr *A, const double *b, double *x)
{
    const size_t n = nde_csr_rows(A);
    double *M = calloc(n * n, sizeof *M), *e = calloc(n, sizeof *e), *col = calloc(n, sizeof *col);
    for (size_t j = 0; j < n; j++) { /* column j = A e_j */
        memset(e, 0, n * sizeof *e);
        e[j] = 1.0;
        nde_csr_matvec(A, e, col);
        for (size_t i = 0; i < n; i++) M[i * n + j] = col[i];
    }
    memcpy(x, b, n * sizeof *x);
    for (size_t k = 0; k < n; k++) {
        size_t piv = k;
        for (size_t i = k + 1; i < n; i++)
            if (fabs(M[i * n + k]) > fabs(M[piv * n + k])) piv = i;
        for (size_t j = 0; j < n; j++) {
            double t = M[k * n + j];
            M[k * n + j] = M[piv * n + j];
            M[piv * n + j] = t;
        }
        double t = x[k];
        x[k] = x[piv];
        x[piv] = t;
        for (size_t i = k + 1; i < n; i++) {
            const double f = M[i * n + k] / M[k * n + k];
            for (size_t j = k; j < n; j++) M[i * n + j] -= f * M[k * n + j];
            x[i] -= f * x[k];
        }
    }
    for (size_t k = n; k-- > 0;) {
        double s = x[k];
        for (size_t j = k + 1; j < n; j++) s -= M[k * n + j] * x[j];
        x[k] = s / M[k * n + k];
    }
    free(M), free(e), free(col);
}

static double max_abs_diff(size_t n, const double *a, const double *b)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

Test(relax, sor_and_ssor_pcg_match_a_direct_solve)
{
    const double shifts[] = {-0.15, 0.0, 0.45};
    for (int s = 0; s < 3; s++) {
        nde_csr *A = laplacian(6, shifts[s]);
        const size_t n = 36;
        double b[36], x[36], ref[36];
        for (size_t i = 0; i < n; i++) b[i] = sin(0.7 * (double)i + 0.2) + 0.1 * (double)(i % 5);
        dense_solve(A, b, ref);
        const double omegas[] = {1.0, 1.3, 1.7};
        for (int w = 0; w < 3; w++) {
            size_t it = 0;
            memset(x, 0, sizeof x);
            cr_assert_eq(nde_sor_solve(A, b, x, omegas[w], 1e-12, 100000, &it), NDE_OK, "%s",
                         nde_last_error());
            /* ‖x − x*‖∞ ≤ ‖A⁻¹‖ ‖r‖ ≤ ‖r‖/λmin with λmin ≥ 0.4 − 0.15 here */
            cr_assert_lt(max_abs_diff(n, x, ref), 1e-9, "SOR shift %g omega %g", shifts[s],
                         omegas[w]);
            cr_assert_gt(it, 1);
            memset(x, 0, sizeof x);
            cr_assert_eq(nde_ssor_pcg_solve(A, b, x, omegas[w], 1e-12, 1000, &it), NDE_OK, "%s",
                         nde_last_error());
            cr_assert_lt(max_abs_diff(n, x, ref), 1e-9, "SSOR-PCG shift %g omega %g", shifts[s],
                         omegas[w]);
            cr_assert_leq(it, n, "PCG took %zu > n iterations", it);
        }
        nde_csr_destroy(&A);
    }
}

static double resid_after(const nde_csr *A, const double *b, double omega, size_t k)
{
    double x[100] = {0}, r[100];
    size_t it;
    cr_assert_eq(nde_sor_solve(A, b, x, omega, 1e-300, k, &it), NDE_ERR_MAX_STEPS);
    nde_csr_matvec(A, x, r);
    double s = 0.0;
    for (int i = 0; i < 100; i++) s += (b[i] - r[i]) * (b[i] - r[i]);
    return sqrt(s);
}

/* Gauss–Seidel's asymptotic rate is β² for consistently ordered matrices (Young): the
 * residual ratio per sweep after the transient. */
Test(relax, gauss_seidel_rate_and_omega_opt)
{
    nde_csr *A = laplacian(10, 0.0);
    double b[100], x[100];
    for (size_t i = 0; i < 100; i++) b[i] = cos(0.3 * (double)i);
    double beta, wopt;
    cr_assert_eq(nde_jacobi_radius(A, &beta), NDE_OK);
    cr_assert_eq(nde_relax_omega_opt(A, &wopt), NDE_OK);
    const double rate = pow(resid_after(A, b, 1.0, 220) / resid_after(A, b, 1.0, 200), 1.0 / 20);
    cr_assert(fabs(rate - beta * beta) < 1e-3, "GS rate %.6f vs beta^2 %.6f", rate, beta * beta);
    size_t itopt, it_worse;
    memset(x, 0, sizeof x);
    cr_assert_eq(nde_sor_solve(A, b, x, wopt, 1e-8, 10000, &itopt), NDE_OK);
    /* the optimal rate is ω* − 1: iterations ≈ log(tol)/log(ω* − 1), up to the
     * Jordan-block transient of the optimal iteration matrix */
    cr_assert_lt((double)itopt, 2.0 * log(1e-8) / log(wopt - 1.0));
    for (double w = 1.0; w < 1.99; w += 0.05) {
        memset(x, 0, sizeof x);
        cr_assert_eq(nde_sor_solve(A, b, x, w, 1e-8, 10000, &it_worse), NDE_OK);
        cr_assert_geq(it_worse + 3, itopt, "omega %g: %zu sweeps < omega* %g: %zu", w, it_worse,
                      wopt, itopt);
    }
    nde_csr_destroy(&A);
}

Test(relax, jacobi_radius_closed_form)
{
    /* shifted Laplacian on g×g: β = 4 cos(π/(g+1)) / (4 + c) */
    const size_t gs[] = {10, 10, 25};
    const double cs[] = {0.0, -0.15, 0.3};
    for (int k = 0; k < 3; k++) {
        nde_csr *A = laplacian(gs[k], cs[k]);
        double beta;
        cr_assert_eq(nde_jacobi_radius(A, &beta), NDE_OK, "%s", nde_last_error());
        const double ref = 4.0 * cos(NDE_PI / (double)(gs[k] + 1)) / (4.0 + cs[k]);
        cr_assert(fabs(beta - ref) < (gs[k] > 20 ? 1e-8 : 1e-12), "g %zu c %g: %.15g vs %.15g",
                  gs[k], cs[k], beta, ref);
        double w;
        cr_assert_eq(nde_relax_omega_opt(A, &w), NDE_OK);
        const double r = ref / (1.0 + sqrt(1.0 - ref * ref));
        cr_assert(fabs(w - (1.0 + r * r)) < (gs[k] > 20 ? 1e-6 : 1e-10));
        nde_csr_destroy(&A);
    }
}

Test(relax, bad_input)
{
    const size_t rp[3] = {0, 1, 2}, col_nodiag[2] = {1, 0}, col[2] = {0, 1};
    const double val[2] = {1.0, 1.0}, neg[2] = {1.0, -2.0};
    nde_csr *A = NULL;
    cr_assert_eq(nde_csr_create(2, rp, col_nodiag, val, &A), NDE_ERR_ARG);
    cr_assert_null(A);
    cr_assert_eq(nde_csr_create(0, rp, col, val, &A), NDE_ERR_ARG);
    const size_t rp_bad[3] = {0, 2, 1};
    cr_assert_eq(nde_csr_create(2, rp_bad, col, val, &A), NDE_ERR_ARG);
    cr_assert_eq(nde_csr_create(2, rp, col, neg, &A), NDE_OK);
    double b[2] = {1, 1}, x[2] = {0, 0};
    size_t it = 7;
    cr_assert_eq(nde_sor_solve(A, b, x, 1.0, 1e-8, 10, &it), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "diagonal entry 1") != NULL, "%s", nde_last_error());
    cr_assert_eq(it, 0);
    nde_csr_values(A)[1] = 2.0;
    cr_assert_eq(nde_sor_solve(A, b, x, 2.0, 1e-8, 10, &it), NDE_ERR_ARG);
    cr_assert_eq(nde_sor_solve(A, b, x, 1.0, 0.0, 10, &it), NDE_ERR_ARG);
    cr_assert_eq(nde_ssor_pcg_solve(A, b, x, 1.0, 1e-8, 0, &it), NDE_ERR_ARG);
    cr_assert_eq(nde_sor_solve(A, b, NULL, 1.0, 1e-8, 10, &it), NDE_ERR_ARG);
    b[0] = NAN;
    cr_assert_eq(nde_sor_solve(A, b, x, 1.0, 1e-8, 10, &it), NDE_ERR_NONFINITE);
    cr_assert_eq(nde_csr_shift(A, INFINITY), NDE_ERR_ARG);
    nde_csr_destroy(&A);
    nde_csr_destroy(&A);
    /* non-convergence is a status, with the last iterate kept */
    nde_csr *L = laplacian(10, 0.0);
    double bb[100], xx[100] = {0};
    for (int i = 0; i < 100; i++) bb[i] = 1.0;
    cr_assert_eq(nde_sor_solve(L, bb, xx, 1.0, 1e-12, 5, &it), NDE_ERR_MAX_STEPS);
    cr_assert_eq(it, 5);
    cr_assert(strstr(nde_last_error(), "max_iter = 5") != NULL, "%s", nde_last_error());
    memset(xx, 0, sizeof xx);
    cr_assert_eq(nde_ssor_pcg_solve(L, bb, xx, 1.0, 1e-12, 2, &it), NDE_ERR_MAX_STEPS);
    nde_csr_destroy(&L);
    /* an indefinite matrix: SSOR-PCG reports it */
    nde_csr *I = laplacian(4, -3.9);
    double b4[16], x4[16] = {0};
    for (int i = 0; i < 16; i++) b4[i] = 1.0 + 0.1 * i;
    cr_assert_eq(nde_ssor_pcg_solve(I, b4, x4, 1.0, 1e-12, 100, &it), NDE_ERR_SOLVER);
    cr_assert_eq(nde_relax_omega_opt(I, &b4[0]), NDE_ERR_ARG);
    nde_csr_destroy(&I);
}

/* optimizers.md §7.3: K = [3, 1, 0, 5], scale 2, t 4 (Python transcription of TsallisINF.m) */
Test(relax, tsallis_inf_golden)
{
    const double K[4] = {3, 1, 0, 5}, golden[4] = {0.18299, 0.29611, 0.39671, 0.12419};
    double p[4];
    cr_assert_eq(nde_tsallis_inf_probs(4, K, 2.0, 4, p), NDE_OK);
    for (int i = 0; i < 4; i++)
        cr_assert(fabs(p[i] - golden[i]) < 1e-5, "p[%d] = %.8f vs %.5f", i, p[i], golden[i]);
    /* the normalizer is exact: Σp = 1 before normalizing, so p_i/p_j = ((k_j−x)/(k_i−x))² */
    cr_assert(fabs(p[0] + p[1] + p[2] + p[3] - 1.0) < 1e-14);
    /* first round: uniform */
    const double Z[5] = {0};
    double q[5];
    cr_assert_eq(nde_tsallis_inf_probs(5, Z, 1.0, 1, q), NDE_OK);
    for (int i = 0; i < 5; i++) cr_assert(fabs(q[i] - 0.2) < 1e-15);
    /* large losses far from x = −1 (plain Newton from −1 overshoots here) */
    const double big[3] = {5000, 2000, 9000};
    cr_assert_eq(nde_tsallis_inf_probs(3, big, 1.0, 50, q), NDE_OK);
    cr_assert(q[1] > q[0] && q[0] > q[2] && fabs(q[0] + q[1] + q[2] - 1.0) < 1e-14);
    const double bad[2] = {0, NAN};
    cr_assert_eq(nde_tsallis_inf_probs(2, bad, 1.0, 1, q), NDE_ERR_ARG);
    cr_assert_eq(nde_tsallis_inf_probs(2, Z, 1.0, 0, q), NDE_ERR_ARG);
}

/* a cost with its minimum at ω = w_best(c): 10 + 200 (ω − w_best)² */
static double cost_of(double omega, double c) { double w = 1.2 + 0.6 * c; return 10.0 + 200.0 * (omega - w) * (omega - w); }

static void run(nde_relax_kind kind, uint64_t seed, size_t T, double *omegas, double *sum_cost)
{
    nde_relax_spec sp = nde_relax_defaults(kind);
    sp.seed = seed;
    nde_relax_learner *L = NULL;
    cr_assert_eq(nde_relax_learner_create(&sp, &L), NDE_OK, "%s", nde_last_error());
    nde_rng ctx;
    nde_rng_seed(&ctx, 99);
    double p[20];
    *sum_cost = 0.0;
    for (size_t t = 0; t < T; t++) {
        const double c = nde_rng_uniform(&ctx);
        cr_assert_eq(nde_relax_learner_probs(L, c, p), NDE_OK);
        double s = 0.0;
        for (int i = 0; i < 20; i++) {
            cr_assert(p[i] >= 0.0 && p[i] <= 1.0);
            s += p[i];
        }
        cr_assert(fabs(s - 1.0) < 1e-12, "kind %d round %zu: sum %.17g", kind, t, s);
        double w;
        cr_assert_eq(nde_relax_learner_predict(L, c, &w), NDE_OK);
        if (omegas) omegas[t] = w;
        const double cost = round(cost_of(w, kind == NDE_RELAX_TSALLIS_INF ? 0.5 : c));
        *sum_cost += cost;
        cr_assert_eq(nde_relax_learner_update(L, cost), NDE_OK);
    }
    nde_relax_learner_destroy(&L);
}

Test(relax, learners_sum_to_one_deterministic_and_learn)
{
    const nde_relax_kind kinds[3] = {NDE_RELAX_TSALLIS_INF, NDE_RELAX_TSALLIS_INF_CB,
                                     NDE_RELAX_CHEBCB};
    enum { T = 1500 };
    static double a[T], b[T], c[T];
    for (int k = 0; k < 3; k++) {
        double sa, sb, sc;
        run(kinds[k], 7, T, a, &sa);
        run(kinds[k], 7, T, b, &sb);
        run(kinds[k], 8, T, c, &sc);
        cr_assert(memcmp(a, b, sizeof a) == 0, "kind %d: same seed, different draws", k);
        cr_assert(memcmp(a, c, sizeof a) != 0, "kind %d: seeds 7 and 8 gave the same draws", k);
        /* the average cost approaches the best achievable (10 + grid error), far below
         * uniform play (mean of 10 + 200 (ω − w)² over the grid, about 24 at w = 1.5) */
        double uni = 0.0;
        for (int i = 0; i < 20; i++) uni += cost_of(1.0 + 0.05 * i, 0.5) / 20.0;
        cr_assert_lt(sa / T, 10.0 + 0.5 * (uni - 10.0), "kind %d: mean cost %g (uniform %g)", k,
                     sa / T, uni);
    }
}

Test(relax, learner_state_errors)
{
    nde_relax_spec sp = nde_relax_defaults(NDE_RELAX_CHEBCB);
    nde_relax_learner *L = NULL;
    sp.context_hi = sp.context_lo;
    cr_assert_eq(nde_relax_learner_create(&sp, &L), NDE_ERR_ARG);
    sp = nde_relax_defaults(NDE_RELAX_TSALLIS_INF);
    sp.omega_hi = 2.0;
    cr_assert_eq(nde_relax_learner_create(&sp, &L), NDE_ERR_ARG);
    sp = nde_relax_defaults(NDE_RELAX_TSALLIS_INF);
    sp.arms = 0;
    cr_assert_eq(nde_relax_learner_create(&sp, &L), NDE_ERR_ARG);
    sp = nde_relax_defaults(NDE_RELAX_TSALLIS_INF);
    cr_assert_eq(nde_relax_learner_create(&sp, &L), NDE_OK);
    cr_assert_eq(nde_relax_learner_arms(L), 20);
    cr_assert(fabs(nde_relax_learner_omega(L, 19) - 1.95) < 1e-15);
    cr_assert(isnan(nde_relax_learner_omega(L, 20)));
    double w;
    cr_assert_eq(nde_relax_learner_update(L, 3.0), NDE_ERR_STATE);
    cr_assert_eq(nde_relax_learner_predict(L, 0.0, &w), NDE_OK);
    cr_assert_eq(nde_relax_learner_predict(L, 0.0, &w), NDE_ERR_STATE);
    cr_assert_eq(nde_relax_learner_update(L, NAN), NDE_ERR_ARG);
    cr_assert_eq(nde_relax_learner_update(L, 3.0), NDE_OK);
    cr_assert_eq(nde_relax_learner_predict(L, NAN, &w), NDE_ERR_ARG);
    nde_relax_learner_destroy(&L);
    nde_relax_learner_destroy(&L);
}

/* The Darcy generator with the relaxation solvers: the same solutions as the default
 * multigrid to within the solve tolerance, its residual checked by an independent
 * assembly, the learner's draws reproducible by seed, and the default unchanged. */
static void darcy_residual(size_t w, const double *a, const double *u, double *rel)
{
    const double n2 = (double)(w - 1) * (double)(w - 1);
    double rr = 0.0, ff = 0.0;
    for (size_t i = 1; i + 1 < w; i++)
        for (size_t j = 1; j + 1 < w; j++) {
            const size_t p = i * w + j, nb[4] = {p - w, p + w, p - 1, p + 1};
            double au = 0.0;
            for (int k = 0; k < 4; k++) au += 0.5 * (a[p] + a[nb[k]]) * (u[p] - u[nb[k]]);
            rr += (1.0 - n2 * au) * (1.0 - n2 * au);
            ff += 1.0;
        }
    *rel = sqrt(rr / ff);
}

static void darcy_run(nde_darcy_solver solver, nde_darcy_omega rule, double *coeff, double *sol,
                      double *omegas)
{
    nde_darcy_spec sp = nde_darcy_defaults(17);
    sp.tol = 1e-11;
    sp.solver = solver;
    sp.omega_rule = rule;
    sp.omega = 1.7;
    sp.learner_seed = 5;
    nde_darcy *g = NULL;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_OK, "%s", nde_last_error());
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(nde_darcy_generate(g, 3, i, 1, coeff + i * 289, sol + i * 289, NULL, NULL),
                     NDE_OK, "%s", nde_last_error());
        if (omegas) omegas[i] = nde_darcy_last_stats(g).omega;
        if (solver != NDE_DARCY_MULTIGRID) {
            cr_assert_lt(nde_darcy_last_stats(g).rel_residual, 1e-11);
            double rel;
            darcy_residual(17, coeff + i * 289, sol + i * 289, &rel);
            cr_assert_lt(rel, 1e-10, "sample %zu: independent residual %g", i, rel);
        }
    }
    nde_darcy_destroy(&g);
}

Test(relax, darcy_relaxation_solvers)
{
    static double c0[6 * 289], s0[6 * 289], c1[6 * 289], s1[6 * 289], s2[6 * 289], w1[6], w2[6];
    darcy_run(NDE_DARCY_MULTIGRID, NDE_DARCY_OMEGA_FIXED, c0, s0, NULL);
    const nde_darcy_solver solvers[2] = {NDE_DARCY_SOR, NDE_DARCY_SSOR_PCG};
    const nde_darcy_omega rules[3] = {NDE_DARCY_OMEGA_FIXED, NDE_DARCY_OMEGA_TSALLIS,
                                      NDE_DARCY_OMEGA_OPT};
    double umax = 0.0;
    for (int k = 0; k < 6 * 289; k++) umax = fmax(umax, fabs(s0[k]));
    for (int a = 0; a < 2; a++)
        for (int r = 0; r < 3; r++) {
            darcy_run(solvers[a], rules[r], c1, s1, w1);
            cr_assert(memcmp(c0, c1, sizeof c0) == 0, "coefficients differ");
            cr_assert_lt(max_abs_diff(6 * 289, s0, s1), 1e-8 * umax, "solver %d rule %d", a, r);
            if (rules[r] == NDE_DARCY_OMEGA_TSALLIS) { /* same learner seed, same bits */
                darcy_run(solvers[a], rules[r], c1, s2, w2);
                cr_assert(memcmp(s1, s2, sizeof s1) == 0 && memcmp(w1, w2, sizeof w1) == 0);
            }
            if (rules[r] == NDE_DARCY_OMEGA_FIXED) cr_assert(w1[0] == 1.7);
            if (rules[r] == NDE_DARCY_OMEGA_OPT) cr_assert(w1[0] > 1.5 && w1[0] < 2.0);
        }
    nde_darcy_spec sp = nde_darcy_defaults(17);
    nde_darcy *g = NULL;
    sp.solver = NDE_DARCY_SOR;
    sp.omega = 2.0;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_ERR_ARG);
    sp.omega = 1.5;
    sp.relax_max_iter = 0;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_ERR_ARG);
    sp.relax_max_iter = 3;
    cr_assert_eq(nde_darcy_create(&sp, &g), NDE_OK);
    cr_assert_eq(nde_darcy_generate(g, 0, 0, 1, c1, s1, NULL, NULL), NDE_ERR_MAX_STEPS);
    cr_assert(strstr(nde_last_error(), "sample 0") != NULL, "%s", nde_last_error());
    nde_darcy_destroy(&g);
}

#ifdef NDE_HEAT2D_EXE
#include <stdio.h>

/* The heat-equation example: every method reaches the same final state (to within the
 * solve tolerance), and the learners' lines are there. */
Test(relax, heat2d_example_runs)
{
    char cmd[1024], line[1024];
    snprintf(cmd, sizeof cmd, "%s --nx 9 --steps 60 --tol 1e-10 2>&1", NDE_HEAT2D_EXE);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    int lines = 0, learners = 0;
    while (fgets(line, sizeof line, p)) {
        const char *d = strstr(line, "\"diff_from_first\": ");
        cr_assert_not_null(d, "%s", line);
        cr_assert_lt(strtod(d + 19, NULL), 1e-7, "%s", line);
        if (strstr(line, "tsallis_inf\"") || strstr(line, "chebcb")) learners++;
        lines++;
    }
    cr_assert_eq(pclose(p), 0);
    cr_assert_eq(lines, 8);
    cr_assert_eq(learners, 2);
    snprintf(cmd, sizeof cmd, "%s --nx 2 >/dev/null 2>&1", NDE_HEAT2D_EXE);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
}

/* nde data darcy --solver: bad values are usage errors; a learned-ω file is written */
Test(relax, cli_darcy_solver_option)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s data darcy --solver nosuch --out relax_test_out/x.npy >/dev/null 2>&1",
             NDE_CLI_EXE);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s data darcy --solver sor --omega 2 --out relax_test_out/x.npy "
             ">/dev/null 2>&1", NDE_CLI_EXE);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "mkdir -p relax_test_out && %s data darcy --n 4 --s 9 --solver "
             "ssor-cg-tsallis --out relax_test_out/d.npy >/dev/null 2>&1", NDE_CLI_EXE);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
    FILE *f = fopen("relax_test_out/d_sol.npy", "rb");
    cr_assert_not_null(f);
    fclose(f);
}
#endif
