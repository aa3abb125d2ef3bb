/* bench/sde — one training iteration of a neural SDE (forward solve on a fresh Brownian
 * path + discrete adjoint) through nde_model_sde_create, for Euler–Maruyama and SRIW1 at
 * a fixed number of steps, with drift and diagonal diffusion MLPs d → h (tanh) → d.
 * The same set-up as bench/sde/torchsde_bench.py (torchsde 'euler' and 'srk').
 *
 *   bench_sde [--dim 4] [--hidden 32] [--batch 64] [--steps 50] [--iters 20] [--depth 0] [--seed 0]
 *             [--methods both|em|sriw1]
 *
 * Prints one JSON line per method and clock: the median over --iters iterations of the
 * time per iteration (forward + gradient of the sum of the final states), in µs, and the
 * drift evaluations of one forward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nde/nde.h"
#include "nde_args.h"

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct args {
    size_t dim, hidden, batch, steps, iters, depth;
    uint64_t seed;
    int methods; /* 0: both, 1: em only, 2: sriw1 only */
} args;

static nde_status bench(const args *a, nde_sde_method method)
{
    nde_model *f = NULL, *g = NULL, *m = NULL;
    nde_mlp_spec ms = {.in = a->dim, .out = a->dim, .hidden = {a->hidden}, .act = NDE_ACT_TANH};
    NDE_TRY(nde_model_mlp_create(&ms, "f", NDE_INIT_TORCH, 0.0, &f));
    nde_status st = nde_model_mlp_create(&ms, "g", NDE_INIT_TORCH, 0.0, &g);
    if (st != NDE_OK) {
        nde_model_destroy(&f);
        return st;
    }
    const double ts[2] = {0.0, 1.0};
    nde_sde_model_spec spec = {.noise = NDE_NOISE_DIAGONAL, .solver = nde_sde_defaults(method),
                               .ts = ts, .nt = 2, .output = NDE_SDE_OUT_FINAL, .seed = a->seed,
                               .tree_depth = a->depth};
    spec.solver.h0 = 1.0 / (double)a->steps;
    spec.solver.fixed_step = 1;
    NDE_TRY(nde_model_sde_create(NULL, f, g, &spec, &m));
    nde_rng rng;
    nde_rng_seed(&rng, a->seed);
    double *x = nde_alloc_array(a->batch * a->dim, sizeof *x);
    double *y = nde_alloc_array(a->batch * a->dim, sizeof *y);
    double *gy = nde_alloc_array(a->batch * a->dim, sizeof *gy);
    double *wall = nde_alloc_array(a->iters, sizeof *wall), *cpu = nde_alloc_array(a->iters, sizeof *cpu);
    st = x && y && gy && wall && cpu ? nde_model_init(m, &rng) : NDE_ERR_NOMEM;
    for (size_t i = 0; st == NDE_OK && i < a->batch * a->dim; i++) x[i] = 0.1 * nde_rng_normal(&rng), gy[i] = 1.0;
    if (st == NDE_OK) st = nde_model_reserve(m, a->batch);
    nde_params *p = nde_model_params(m);
    for (size_t it = 0; st == NDE_OK && it <= a->iters; it++) { /* iteration 0: warm-up */
        const double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
        nde_params_zero_grad(p);
        st = nde_model_forward(m, x, y, a->batch);
        if (st == NDE_OK) st = nde_model_backward(m, gy, NULL, nde_params_grad(p), a->batch);
        if (it > 0) {
            wall[it - 1] = 1e6 * (now(CLOCK_MONOTONIC) - w0);
            cpu[it - 1] = 1e6 * (now(CLOCK_THREAD_CPUTIME_ID) - c0);
        }
    }
    if (st == NDE_OK) {
        size_t n_steps;
        nde_sde_steps(nde_model_sde_solver(m), &n_steps);
        const double mw = median(wall, a->iters), mc = median(cpu, a->iters);
        for (int k = 0; k < 2; k++)
            printf("{\"bench\": \"sde\", \"metric\": \"us_per_iter_median\", \"impl\": \"nde\", "
                   "\"method\": \"%s\", \"clock\": \"%s\", \"dim\": %zu, \"hidden\": %zu, "
                   "\"batch\": %zu, \"steps\": %zu, \"value\": %.1f, \"unit\": \"us\"}\n",
                   nde_sde_method_name(method), k ? "cpu" : "wall", a->dim, a->hidden, a->batch,
                   n_steps, k ? mc : mw);
    }
    nde_free(x), nde_free(y), nde_free(gy), nde_free(wall), nde_free(cpu);
    nde_model_destroy(&m);
    return st;
}

int main(int argc, char **argv)
{
    static const char *const method_names[] = {"both", "em", "sriw1", NULL};
    args a = {.dim = 4, .hidden = 32, .batch = 64, .steps = 50, .iters = 20, .seed = 0};
    const nde_arg opts[] = {
        {.name = "dim", .kind = NDE_ARG_SIZE, .dest = &a.dim, .min = 1, .max = 4096, .help = "state size"},
        {.name = "hidden", .kind = NDE_ARG_SIZE, .dest = &a.hidden, .min = 1, .max = 65536, .help = "MLP width"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &a.batch, .min = 1, .max = 1000000, .help = "paths"},
        {.name = "steps", .kind = NDE_ARG_SIZE, .dest = &a.steps, .min = 1, .max = 1000000, .help = "steps on [0, 1]"},
        {.name = "iters", .kind = NDE_ARG_SIZE, .dest = &a.iters, .min = 1, .max = 1000000, .help = "timed iterations"},
        {.name = "depth", .kind = NDE_ARG_SIZE, .dest = &a.depth, .max = 50,
         .help = "Brownian tree depth (0: the model's default, from the step grid)"},
        {.name = "methods", .kind = NDE_ARG_CHOICE, .dest = &a.methods, .choices = method_names,
         .help = "which methods to time (both, em, sriw1)"},
        NDE_ARGS_SEED(&a.seed),
    };
    const nde_args_spec spec = {.prog = "bench_sde",
                                .about = "Time a neural SDE training iteration (EM, SRIW1).",
                                NDE_ARGS_TABLE(opts)};
    const int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    nde_status st = a.methods == 2 ? NDE_OK : bench(&a, NDE_SDE_EM);
    if (st == NDE_OK && a.methods != 1) st = bench(&a, NDE_SDE_SRIW1);
    if (st != NDE_OK) {
        fprintf(stderr, "bench_sde: %s\n", nde_last_error());
        return 1;
    }
    return 0;
}
