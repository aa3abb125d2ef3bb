/* Learning to relax (Khodak et al., ICLR 2024): total SOR iterations and time of fixed ω,
 * the instance-optimal ω*, Tsallis-INF, Tsallis-INF-CB and ChebCB over
 *  - the paper's sequences (scripts/learning.m, contextual.m): A_t = A + c_t I with A the
 *    5-point Laplacian of a 10×10 grid (delsq(numgrid('S', 12)), 100 unknowns), shifts
 *    c_t = −0.15 + 0.6 Beta(0.5, 1.5) ("high" variance) or −0.15 + 0.6 Beta(2, 6) ("low"),
 *    b_t a radially truncated standard Gaussian (‖b‖ ≤ √n), x₀ = 0, tol 1e-8; the
 *    contextual learners see c_t on [−0.15, 0.65] (Tsallis-INF-CB with 5 bins, ChebCB with
 *    6 Chebyshev features, as contextual.m);
 *  - the Darcy generator (nde_darcy, s × s output, tol 1e-10): nde's multigrid-PCG, SOR
 *    with fixed ω, ω* per sample and Tsallis-INF.
 * Times are wall-clock seconds of the solves (and learner calls) of each method.
 * Prints one JSON object per result line.
 * Usage: relax_bench [--trials 3] [--T 5000] [--seed 1] [--darcy-n 200] [--darcy-s 33]
 *                    [--skip-laplace] [--skip-darcy] [--grid-oracle]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"
#include "nde_args.h"

#define CHECK(x)                                                                      \
    do {                                                                              \
        nde_status s_ = (x);                                                          \
        if (s_ != NDE_OK) {                                                           \
            fprintf(stderr, "relax_bench: %s: %s\n", #x, nde_last_error());           \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* Gamma(a, 1) by Marsaglia & Tsang (2000); a < 1 through Gamma(a + 1) U^{1/a}. */
static double gamma_draw(nde_rng *r, double a)
{
    if (a < 1.0) {
        const double u = nde_rng_uniform(r);
        return gamma_draw(r, a + 1.0) * pow(u > 0.0 ? u : 1e-300, 1.0 / a);
    }
    const double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = nde_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        const double u = nde_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

static double beta_draw(nde_rng *r, double a, double b)
{
    const double x = gamma_draw(r, a), y = gamma_draw(r, b);
    return x / (x + y);
}

static nde_csr *laplacian(size_t g)
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
            col[k] = r, val[k++] = 4.0;
            if (j + 1 < g) col[k] = r + 1, val[k++] = -1.0;
            if (i + 1 < g) col[k] = r + g, val[k++] = -1.0;
            rp[r + 1] = k;
        }
    nde_csr *A = NULL;
    CHECK(nde_csr_create(n, rp, col, val, &A));
    free(rp), free(col), free(val);
    return A;
}

enum { N_FIXED = 5, M_OPT = N_FIXED, M_TINF, M_TINFCB, M_CHEB, N_METHODS };
static const double fixed_omega[N_FIXED] = {1.0, 1.2, 1.4, 1.6, 1.8};
static const char *method_name(int m, char *buf)
{
    static const char *const names[] = {"omega_opt", "tsallis_inf", "tsallis_inf_cb", "chebcb"};
    if (m < N_FIXED) {
        sprintf(buf, "fixed_%.1f", fixed_omega[m]);
        return buf;
    }
    return names[m - N_FIXED];
}

static void emit(const char *problem, const char *method, int trial, const char *metric,
                 double v, const char *unit)
{
    if (trial >= 0)
        printf("{\"bench\": \"relax\", \"problem\": \"%s\", \"method\": \"%s\", \"trial\": %d, "
               "\"metric\": \"%s\", \"value\": %.10g, \"unit\": \"%s\"}\n",
               problem, method, trial, metric, v, unit);
    else
        printf("{\"bench\": \"relax\", \"problem\": \"%s\", \"method\": \"%s\", \"metric\": \"%s\", "
               "\"value\": %.10g, \"unit\": \"%s\"}\n", problem, method, metric, v, unit);
    fflush(stdout);
}

/* With grid_oracle: every instance is also solved with each of the learners' 20 arms,
 * giving the instance-optimal cost on the grid (the best arm per instance) and the best
 * fixed arm of the grid. */
static void laplace_sequences(size_t trials, size_t T, uint64_t seed, int grid_oracle)
{
    enum { G = 20 };
    const size_t n = 100;
    nde_csr *A = laplacian(10);
    double *base = malloc(nde_csr_nnz(A) * sizeof *base);
    memcpy(base, nde_csr_values(A), nde_csr_nnz(A) * sizeof *base);
    double beta0;
    CHECK(nde_jacobi_radius(A, &beta0));
    double b[100], x[100];
    char buf[32];
    for (int dist = 0; dist < 2; dist++) {
        const char *problem = dist ? "laplace100_low" : "laplace100_high";
        const double pa = dist ? 2.0 : 0.5, pb = dist ? 6.0 : 1.5;
        double tot_it[N_METHODS] = {0}, tot_s[N_METHODS] = {0}, tot_oracle = 0.0, tot_gbest = 0.0;
        double tot_tail[N_METHODS] = {0}, tot_oracle_tail = 0.0; /* the last fifth of the instances */
        for (size_t trial = 0; trial < trials; trial++) {
            nde_rng r;
            nde_rng_seed(&r, seed + 1000 * (uint64_t)dist + trial);
            nde_relax_learner *L[3] = {NULL, NULL, NULL};
            const nde_relax_kind kinds[3] = {NDE_RELAX_TSALLIS_INF, NDE_RELAX_TSALLIS_INF_CB,
                                             NDE_RELAX_CHEBCB};
            for (int k = 0; k < 3; k++) {
                nde_relax_spec sp = nde_relax_defaults(kinds[k]);
                sp.context_lo = -0.15;
                sp.context_hi = 0.65;
                sp.bins = kinds[k] == NDE_RELAX_TSALLIS_INF_CB ? 5 : 6;
                sp.seed = seed * 7919 + 31 * (uint64_t)trial + (uint64_t)dist * 101 + (uint64_t)k;
                CHECK(nde_relax_learner_create(&sp, &L[k]));
            }
            double it_sum[N_METHODS] = {0}, secs[N_METHODS] = {0}, arm_tot[G] = {0}, oracle = 0.0;
            double tail[N_METHODS] = {0}, oracle_tail = 0.0;
            for (size_t t = 0; t < T; t++) {
                const double c = -0.15 + 0.6 * beta_draw(&r, pa, pb);
                double nb;
                do {
                    nb = 0.0;
                    for (size_t i = 0; i < n; i++) {
                        b[i] = nde_rng_normal(&r);
                        nb += b[i] * b[i];
                    }
                } while (nb > (double)n);
                memcpy(nde_csr_values(A), base, nde_csr_nnz(A) * sizeof *base);
                CHECK(nde_csr_shift(A, c));
                if (grid_oracle) {
                    double best = INFINITY;
                    for (int a = 0; a < G; a++) {
                        size_t it;
                        memset(x, 0, sizeof x);
                        CHECK(nde_sor_solve(A, b, x, 1.0 + 0.95 * a / (G - 1.0), 1e-8, 10000, &it));
                        arm_tot[a] += (double)it;
                        best = fmin(best, (double)it);
                    }
                    oracle += best;
                    if (5 * t >= 4 * T) oracle_tail += best;
                }
                for (int m = 0; m < N_METHODS; m++) {
                    const double t0 = nde_wall_seconds();
                    double omega;
                    if (m < N_FIXED) omega = fixed_omega[m];
                    else if (m == M_OPT) {
                        /* constant diagonal 4: ρ(I − D⁻¹(A + cI)) = 4 β₀ / (4 + c) */
                        const double be = 4.0 * beta0 / (4.0 + c), q = be / (1.0 + sqrt(1.0 - be * be));
                        omega = 1.0 + q * q;
                        if (t == 0) { /* the closed form against the general routine */
                            double w2;
                            CHECK(nde_relax_omega_opt(A, &w2));
                            if (fabs(w2 - omega) > 1e-9) {
                                fprintf(stderr, "relax_bench: omega* %g vs %g\n", omega, w2);
                                exit(1);
                            }
                        }
                    } else
                        CHECK(nde_relax_learner_predict(L[m - M_TINF], c, &omega));
                    memset(x, 0, sizeof x);
                    size_t it;
                    CHECK(nde_sor_solve(A, b, x, omega, 1e-8, 10000, &it));
                    if (m >= M_TINF) CHECK(nde_relax_learner_update(L[m - M_TINF], (double)it));
                    secs[m] += nde_wall_seconds() - t0;
                    it_sum[m] += (double)it;
                    if (5 * t >= 4 * T) tail[m] += (double)it;
                }
            }
            for (int m = 0; m < N_METHODS; m++) {
                emit(problem, method_name(m, buf), (int)trial, "iterations_total", it_sum[m],
                     "iterations");
                emit(problem, method_name(m, buf), (int)trial, "wall_seconds", secs[m], "s");
                tot_it[m] += it_sum[m] / (double)trials;
                tot_s[m] += secs[m] / (double)trials;
                tot_tail[m] += tail[m] / (double)trials;
            }
            if (grid_oracle) {
                int ga = 0;
                for (int a = 0; a < G; a++)
                    if (arm_tot[a] < arm_tot[ga]) ga = a;
                emit(problem, "grid_oracle", (int)trial, "iterations_total", oracle, "iterations");
                sprintf(buf, "grid_best_fixed_%.2f", 1.0 + 0.95 * ga / (G - 1.0));
                emit(problem, buf, (int)trial, "iterations_total", arm_tot[ga], "iterations");
                tot_oracle += oracle / (double)trials;
                tot_oracle_tail += oracle_tail / (double)trials;
                tot_gbest += arm_tot[ga] / (double)trials;
            }
            for (int k = 0; k < 3; k++) nde_relax_learner_destroy(&L[k]);
        }
        int best = 0;
        for (int m = 0; m < N_METHODS; m++) {
            emit(problem, method_name(m, buf), -1, "iterations_mean", tot_it[m], "iterations");
            emit(problem, method_name(m, buf), -1, "wall_seconds_mean", tot_s[m], "s");
            if (m < N_FIXED && tot_it[m] < tot_it[best]) best = m;
        }
        emit(problem, "tsallis_inf", -1, "ratio_to_best_fixed", tot_it[M_TINF] / tot_it[best], "");
        emit(problem, "tsallis_inf_cb", -1, "ratio_to_omega_opt", tot_it[M_TINFCB] / tot_it[M_OPT], "");
        emit(problem, "chebcb", -1, "ratio_to_omega_opt", tot_it[M_CHEB] / tot_it[M_OPT], "");
        emit(problem, "chebcb", -1, "ratio_to_best_fixed", tot_it[M_CHEB] / tot_it[best], "");
        int best_tail = 0;
        for (int m = 0; m < N_FIXED; m++)
            if (tot_tail[m] < tot_tail[best_tail]) best_tail = m;
        emit(problem, "tsallis_inf", -1, "last_fifth_ratio_to_best_fixed",
             tot_tail[M_TINF] / tot_tail[best_tail], "");
        emit(problem, "chebcb", -1, "last_fifth_ratio_to_omega_opt", tot_tail[M_CHEB] / tot_tail[M_OPT], "");
        if (grid_oracle) {
            emit(problem, "grid_oracle", -1, "iterations_mean", tot_oracle, "iterations");
            emit(problem, "grid_best_fixed", -1, "iterations_mean", tot_gbest, "iterations");
            emit(problem, "tsallis_inf", -1, "ratio_to_grid_best_fixed", tot_it[M_TINF] / tot_gbest, "");
            emit(problem, "chebcb", -1, "ratio_to_grid_oracle", tot_it[M_CHEB] / tot_oracle, "");
            emit(problem, "omega_opt", -1, "ratio_to_grid_oracle", tot_it[M_OPT] / tot_oracle, "");
            emit(problem, "chebcb", -1, "last_fifth_ratio_to_grid_oracle",
                 tot_tail[M_CHEB] / tot_oracle_tail, "");
        }
    }
    free(base);
    nde_csr_destroy(&A);
}

static void darcy_sequence(size_t count, size_t s, uint64_t seed)
{
    char problem[48], buf[32];
    snprintf(problem, sizeof problem, "darcy_s%zu", s);
    double *coeff = malloc(s * s * sizeof *coeff), *sol = malloc(s * s * sizeof *sol);
    /* methods: multigrid, SOR fixed ×5, SOR ω*, SOR Tsallis-INF */
    double best = INFINITY, it_tinf = 0.0;
    for (int m = -1; m <= M_TINF; m++) {
        nde_darcy_spec sp = nde_darcy_defaults(s);
        if (m >= 0) sp.solver = NDE_DARCY_SOR;
        if (m >= 0 && m < N_FIXED) sp.omega = fixed_omega[m];
        if (m == M_OPT) sp.omega_rule = NDE_DARCY_OMEGA_OPT;
        if (m == M_TINF) sp.omega_rule = NDE_DARCY_OMEGA_TSALLIS, sp.learner_seed = seed;
        nde_darcy *g = NULL;
        CHECK(nde_darcy_create(&sp, &g));
        double its = 0.0, secs = 0.0;
        for (size_t i = 0; i < count; i++) {
            const double t0 = nde_wall_seconds();
            CHECK(nde_darcy_generate(g, seed, i, 1, coeff, sol, NULL, NULL));
            secs += nde_wall_seconds() - t0;
            its += (double)nde_darcy_last_stats(g).iterations;
        }
        const char *name = m < 0 ? "multigrid_pcg" : method_name(m, buf);
        emit(problem, name, -1, "iterations_total", its, "iterations");
        emit(problem, name, -1, "wall_seconds", secs, "s");
        if (m >= 0 && m < N_FIXED) best = fmin(best, its);
        if (m == M_TINF) it_tinf = its;
        nde_darcy_destroy(&g);
    }
    emit(problem, "tsallis_inf", -1, "ratio_to_best_fixed", it_tinf / best, "");
    free(coeff);
    free(sol);
}

int main(int argc, char **argv)
{
    size_t trials = 3, T = 5000, darcy_n = 200, darcy_s = 33;
    uint64_t seed = 1;
    int skip_laplace = 0, skip_darcy = 0, grid_oracle = 0;
    const nde_arg opts[] = {
        {.name = "trials", .kind = NDE_ARG_SIZE, .dest = &trials, .min = 1, .max = 1000,
         .help = "trials of each Laplacian sequence"},
        {.name = "T", .kind = NDE_ARG_SIZE, .dest = &T, .min = 1, .max = 10000000,
         .help = "instances per Laplacian sequence"},
        {.name = "darcy-n", .kind = NDE_ARG_SIZE, .dest = &darcy_n, .min = 1, .max = 1000000,
         .help = "Darcy samples"},
        {.name = "darcy-s", .kind = NDE_ARG_SIZE, .dest = &darcy_s, .min = 3, .max = 1025,
         .help = "Darcy output nodes per side"},
        NDE_ARGS_SEED(&seed),
        {.name = "skip-laplace", .kind = NDE_ARG_FLAG, .dest = &skip_laplace,
         .help = "only the Darcy sequence"},
        {.name = "skip-darcy", .kind = NDE_ARG_FLAG, .dest = &skip_darcy,
         .help = "only the Laplacian sequences"},
        {.name = "grid-oracle", .kind = NDE_ARG_FLAG, .dest = &grid_oracle,
         .help = "also solve every instance with each of the 20 grid arms (best arm per "
                 "instance and best fixed arm of the learners' grid; 20x the work)"},
    };
    const nde_args_spec spec = {
        .prog = "relax_bench",
        .about = "Total SOR iterations and time of fixed omega, omega*, Tsallis-INF, "
                 "Tsallis-INF-CB and ChebCB (Learning to Relax) on the paper's shifted "
                 "Laplacian sequences and on the Darcy generator.",
        NDE_ARGS_TABLE(opts)};
    int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (!skip_laplace) laplace_sequences(trials, T, seed, grid_oracle);
    if (!skip_darcy) darcy_sequence(darcy_n, darcy_s, seed);
    return 0;
}
