/* bench/regularizers — cost of regularizing: median wall time of one training
 * iteration's solve + gradient for an MLP vector field, without a regularizer and with
 * each regularizer of nde/reg.h (global ones inside the discrete adjoint's sweep, the
 * local one as its extra Tsit5 step), and the NFE of the solve.
 *
 *   regularizers [--reps 21] [--batch 128] [--dim 16] [--hidden 64]
 *
 * Prints one JSON object per line: us_per_iter_median per variant and the overhead
 * ratio against the plain discrete adjoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"
#include "nde_args.h"

enum { V_PLAIN, V_ERROR, V_STIFF, V_KINETIC, V_LOCAL, V_COUNT };
static const char *const names[V_COUNT] = {"plain", "error_estimate", "stiffness",
                                           "kinetic", "local_error"};

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static nde_status bench(size_t reps, size_t batch, size_t dim, size_t hidden)
{
    nde_params *p;
    NDE_TRY(nde_params_create(&p));
    nde_mlp *net;
    nde_mlp_spec spec = {.in = dim, .out = dim, .hidden = {hidden}, .act = NDE_ACT_TANH,
                         .out_act = NDE_ACT_TANH, .time = NDE_TIME_ALL};
    NDE_TRY(nde_mlp_create(p, &spec, "f", &net));
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    NDE_TRY(nde_mlp_init(net, p, NDE_INIT_TORCH, 0.0, &rng));
    nde_field f;
    NDE_TRY(nde_mlp_field(net, p, &f));
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.rtol = 1e-6, o.atol = 1e-6, o.tape = NDE_TAPE_STAGES;
    nde_solver *s;
    NDE_TRY(nde_solver_create(NULL, &f, &o, &s));
    size_t n = batch * dim, np = nde_params_count(p);
    double *u0 = nde_alloc_array(n, sizeof *u0), *traj = nde_alloc_array(2 * n, sizeof *traj);
    double *dL = nde_alloc_array(2 * n, sizeof *dL), *t = nde_alloc_array(reps, sizeof *t);
    if (!u0 || !traj || !dL || !t) return NDE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) u0[i] = nde_rng_normal(&rng), dL[n + i] = 1.0 / (double)n;
    const double ts[2] = {0.0, 1.0};
    nde_reg_spec specs[V_COUNT] = {{0}, nde_reg_error_estimate(0.1), nde_reg_stiffness(0.1),
                                   nde_reg_kinetic(0.1), {0}};
    nde_local_reg_spec ls = {.kind = NDE_REG_ERROR_EST, .coef = 1.0, .atol = o.atol,
                             .rtol = o.rtol, .seed = 2};
    nde_local_reg *lr;
    NDE_TRY(nde_local_reg_create(&f, batch, &ls, &lr));
    double base = 0.0;
    for (int v = 0; v < V_COUNT; v++) {
        nde_reg *reg = NULL;
        if (v != V_PLAIN && v != V_LOCAL) NDE_TRY(nde_reg_create(&specs[v], &reg));
        for (size_t r = 0; r < reps; r++) {
            double t0 = nde_wall_seconds();
            NDE_TRY(nde_solve(s, batch, dim, u0, 2, ts, traj));
            nde_params_zero_grad(p);
            if (reg)
                NDE_TRY(nde_adjoint_discrete_reg(s, dL, reg, nde_params_grad(p), np, NULL, NULL));
            else
                NDE_TRY(nde_adjoint_discrete(s, dL, nde_params_grad(p), np, NULL));
            if (v == V_LOCAL)
                NDE_TRY(nde_local_reg_eval(lr, batch, 0.5, traj + n, NULL, 1.0, 0.0,
                                           nde_params_grad(p), NULL, NULL));
            t[r] = 1e6 * (nde_wall_seconds() - t0);
        }
        nde_reg_destroy(&reg);
        qsort(t, reps, sizeof *t, cmp);
        double med = t[reps / 2];
        if (v == V_PLAIN) base = med;
        printf("{\"bench\": \"regularizers\", \"variant\": \"%s\", \"metric\": "
               "\"us_per_iter_median\", \"value\": %.1f, \"unit\": \"us\", \"nfe\": %zu}\n",
               names[v], med, nde_solver_get_stats(s)->nfe);
        printf("{\"bench\": \"regularizers\", \"variant\": \"%s\", \"metric\": "
               "\"overhead_vs_plain\", \"value\": %.3f, \"unit\": \"ratio\"}\n",
               names[v], med / base);
    }
    nde_local_reg_destroy(&lr);
    nde_free(u0), nde_free(traj), nde_free(dL), nde_free(t);
    nde_solver_destroy(&s);
    nde_mlp_destroy(&net);
    nde_params_destroy(&p);
    return NDE_OK;
}

int main(int argc, char **argv)
{
    size_t reps = 21, batch = 128, dim = 16, hidden = 64;
    const nde_arg opts[] = {
        {.name = "reps", .kind = NDE_ARG_SIZE, .dest = &reps, .min = 1,
         .help = "timed repetitions (the median is reported)"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &batch, .min = 1, .help = "batch size"},
        {.name = "dim", .kind = NDE_ARG_SIZE, .dest = &dim, .min = 1, .help = "state dimension"},
        {.name = "hidden", .kind = NDE_ARG_SIZE, .dest = &hidden, .min = 1,
         .help = "hidden units of the MLP field"},
    };
    const nde_args_spec spec = {.prog = "regularizers",
                                .about = "Cost of each regularizer on a neural ODE solve.",
                                NDE_ARGS_TABLE(opts)};
    int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (bench(reps, batch, dim, hidden) != NDE_OK) {
        fprintf(stderr, "regularizers: %s\n", nde_last_error());
        return 1;
    }
    return 0;
}
