/* Learning to relax in implicit time stepping: the 2-D heat equation with a time-varying
 * diffusion coefficient, Crank–Nicolson, one SPD system per step solved by
 * SSOR-preconditioned CG whose ω is fixed or chosen by a learner from the iteration
 * counts (Khodak et al., ICLR 2024, the h2d experiment: scripts/h2d.m, utils/Heat2D.m of
 * github.com/mkhodak/learning-to-relax).
 *
 *   u_t = κ(t) Δu + f(t, x) on (0,1)², u = 0 on the boundary,
 *   κ(t) = max(0.1 sin 2πt, −10 sin 2πt),
 *   f = 32 bump(x; (½ + cos(16πt)/4, ½ + sin(16πt)/4), 1/8),  u(0) = bump(x; (½, ½), ¼),
 *   bump(x; c, r) = exp(1 − 1/(1 − min(1, |x − c|²/r²))),
 * on the (nx−1)² interior nodes of a uniform grid (5-point Laplacian L). Step n solves
 *   (I − ½κ(t+½dt) dt L) u⁺ = (I + ½κ(t+½dt) dt L) u + dt f(t+½dt)
 * from the initial guess u, to relative residual tol. The contextual learners see the
 * context κ(t) at the step's start, on [min κ, max κ] over the run.
 *
 * Prints one JSON line per method: total iterations, wall seconds, and the max difference
 * of its final state from the first method's (all solve to the same tolerance).
 * Usage: heat2d [--nx 25] [--steps 1000] [--stop-time 5] [--tol 1e-8] [--seed 0]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nde/nde.h"
#include "nde_args.h"

static double kappa(double t)
{
    const double s = sin(2.0 * NDE_PI * t);
    return fmax(0.1 * s, -10.0 * s);
}

static double bump(double x, double y, double cx, double cy, double r)
{
    const double q = fmin(1.0, ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r));
    return q >= 1.0 ? 0.0 : exp(1.0 - 1.0 / (1.0 - q));
}

typedef struct heat {
    size_t nx, m, n; /* intervals per side, interior nodes per side, unknowns */
    double dx, dt;
    nde_csr *A;      /* pattern of L; values rewritten each step */
    double *Lv;      /* values of L (the pattern's order) */
    double *u, *b, *Lu;
} heat;

static int heat_init(heat *h, size_t nx, double dt)
{
    h->nx = nx;
    h->m = nx - 1;
    h->n = h->m * h->m;
    h->dx = 1.0 / (double)nx;
    h->dt = dt;
    const size_t m = h->m, n = h->n;
    size_t *rp = calloc(n + 1, sizeof *rp), *col = calloc(5 * n, sizeof *col);
    h->Lv = calloc(5 * n, sizeof *h->Lv);
    h->u = calloc(n, sizeof *h->u);
    h->b = calloc(n, sizeof *h->b);
    h->Lu = calloc(n, sizeof *h->Lu);
    if (!rp || !col || !h->Lv || !h->u || !h->b || !h->Lu) {
        fprintf(stderr, "heat2d: out of memory for nx = %zu\n", nx);
        free(rp), free(col);
        return 1;
    }
    const double idx2 = 1.0 / (h->dx * h->dx);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++) {
            const size_t r = i * m + j;
            if (i > 0) col[k] = r - m, h->Lv[k++] = idx2;
            if (j > 0) col[k] = r - 1, h->Lv[k++] = idx2;
            col[k] = r, h->Lv[k++] = -4.0 * idx2;
            if (j + 1 < m) col[k] = r + 1, h->Lv[k++] = idx2;
            if (i + 1 < m) col[k] = r + m, h->Lv[k++] = idx2;
            rp[r + 1] = k;
        }
    nde_status st = nde_csr_create(n, rp, col, h->Lv, &h->A);
    free(rp), free(col);
    CHECK(st);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            h->u[i * m + j] = bump((double)(i + 1) * h->dx, (double)(j + 1) * h->dx, 0.5, 0.5, 0.25);
    return 0;
}

static void heat_free(heat *h)
{
    nde_csr_destroy(&h->A);
    free(h->Lv), free(h->u), free(h->b), free(h->Lu);
}

/* A = I − ½κ dt L and b = (I + ½κ dt L) u + dt f at t + ½dt. */
static void heat_system(heat *h, double t)
{
    const double th = t + 0.5 * h->dt, c = 0.5 * kappa(th) * h->dt;
    double *v = nde_csr_values(h->A);
    const size_t nnz = nde_csr_nnz(h->A);
    memcpy(v, h->Lv, nnz * sizeof *v);
    nde_csr_matvec(h->A, h->u, h->Lu);
    for (size_t k = 0; k < nnz; k++) v[k] *= -c;
    nde_csr_shift(h->A, 1.0);
    const double cx = 0.5 + cos(16.0 * NDE_PI * th) / 4.0, cy = 0.5 + sin(16.0 * NDE_PI * th) / 4.0;
    for (size_t i = 0; i < h->m; i++)
        for (size_t j = 0; j < h->m; j++) {
            const size_t r = i * h->m + j;
            const double f = 32.0 * bump((double)(i + 1) * h->dx, (double)(j + 1) * h->dx, cx, cy, 0.125);
            h->b[r] = h->u[r] + c * h->Lu[r] + h->dt * f;
        }
}

enum { N_FIXED = 5 };
static const double fixed_omega[N_FIXED] = {1.0, 1.3, 1.5, 1.75, 1.95};

int main(int argc, char **argv)
{
    size_t nx = 25, steps = 1000;
    double stop = 5.0, tol = 1e-8;
    uint64_t seed = 0;
    const nde_arg opts[] = {
        {.name = "nx", .kind = NDE_ARG_SIZE, .dest = &nx, .min = 3, .max = 4096,
         .help = "grid intervals per side ((nx-1)^2 unknowns); the paper uses 25 … 400"},
        {.name = "steps", .kind = NDE_ARG_SIZE, .dest = &steps, .min = 1, .max = 100000000,
         .help = "time steps (the paper: 5000)"},
        {.name = "stop-time", .kind = NDE_ARG_DOUBLE, .dest = &stop, .bounds = NDE_ARG_LO_OPEN,
         .help = "final time (5)"},
        {.name = "tol", .kind = NDE_ARG_DOUBLE, .dest = &tol, .bounds = NDE_ARG_LO_OPEN,
         .help = "relative residual of each solve (1e-8)"},
        NDE_ARGS_SEED(&seed),
    };
    const nde_args_spec spec = {
        .prog = "heat2d",
        .about = "2-D heat equation with time-varying diffusion (Crank-Nicolson), SSOR-PCG with "
                 "fixed omega against Tsallis-INF, Tsallis-INF-CB and ChebCB choosing omega from "
                 "the iteration counts (Learning to Relax, h2d experiment).",
        NDE_ARGS_TABLE(opts)};
    int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    const double dt = stop / (double)steps;
    double cmin = INFINITY, cmax = -INFINITY;
    for (size_t i = 0; i < steps; i++) { /* linspace(0, stop, steps), as h2d.m */
        const double k = kappa(steps > 1 ? stop * (double)i / (double)(steps - 1) : 0.0);
        cmin = fmin(cmin, k);
        cmax = fmax(cmax, k);
    }
    if (!(cmax > cmin)) cmax = cmin + 1.0;
    const char *names[N_FIXED + 3] = {"ssor_pcg_1.0", "ssor_pcg_1.3", "ssor_pcg_1.5",
                                      "ssor_pcg_1.75", "ssor_pcg_1.95", "tsallis_inf",
                                      "tsallis_inf_cb", "chebcb"};
    const nde_relax_kind kinds[3] = {NDE_RELAX_TSALLIS_INF, NDE_RELAX_TSALLIS_INF_CB,
                                     NDE_RELAX_CHEBCB};
    double *first = NULL;
    for (int meth = 0; meth < N_FIXED + 3; meth++) {
        heat h;
        if (heat_init(&h, nx, dt)) return 1;
        nde_relax_learner *L = NULL;
        if (meth >= N_FIXED) {
            nde_relax_spec ls = nde_relax_defaults(kinds[meth - N_FIXED]);
            ls.context_lo = cmin;
            ls.context_hi = cmax;
            ls.seed = seed;
            CHECK(nde_relax_learner_create(&ls, &L));
        }
        double iters = 0.0, omega_sum = 0.0;
        const double t0 = nde_wall_seconds();
        for (size_t s = 0; s < steps; s++) {
            const double t = (double)s * dt;
            heat_system(&h, t);
            double omega = meth < N_FIXED ? fixed_omega[meth] : 0.0;
            if (L) CHECK(nde_relax_learner_predict(L, kappa(t), &omega));
            size_t it;
            CHECK(nde_ssor_pcg_solve(h.A, h.b, h.u, omega, tol, 10000, &it));
            if (L) CHECK(nde_relax_learner_update(L, (double)it));
            iters += (double)it;
            omega_sum += omega;
        }
        const double secs = nde_wall_seconds() - t0;
        double diff = 0.0, umax = 0.0;
        if (!first) {
            first = malloc(h.n * sizeof *first);
            if (!first) return 1;
            memcpy(first, h.u, h.n * sizeof *first);
        }
        for (size_t k = 0; k < h.n; k++) {
            diff = fmax(diff, fabs(h.u[k] - first[k]));
            umax = fmax(umax, fabs(h.u[k]));
        }
        printf("{\"example\": \"heat2d\", \"nx\": %zu, \"steps\": %zu, \"method\": \"%s\", "
               "\"iterations\": %.0f, \"mean_omega\": %.4f, \"wall_seconds\": %.4g, "
               "\"final_max_abs\": %.6g, \"diff_from_first\": %.3g}\n",
               nx, steps, names[meth], iters, omega_sum / (double)steps, secs, umax, diff);
        fflush(stdout);
        nde_relax_learner_destroy(&L);
        heat_free(&h);
    }
    free(first);
    return 0;
}
