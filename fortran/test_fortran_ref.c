/* fortran/test_fortran_ref.c — C references for test_fortran_grad.f90: the C enum values
 * the Fortran constants mirror, and one discrete-adjoint gradient computed with the C API
 * alone. */
#include <stdint.h>
#include <stdlib.h>

#include "nde/nde.h"

/* The C values of the constants the Fortran module declares, in the order of
 * test_fortran_grad.f90's list. Returns how many were written (at most n). */
int64_t ndef_test_constants(int64_t *out, int64_t n)
{
    const int64_t v[] = {
        NDE_OK, NDE_ERR_ARG, NDE_ERR_SHAPE, NDE_ERR_IO, NDE_ERR_FORMAT, NDE_ERR_LIMIT,
        NDE_EULER, NDE_RK4, NDE_DOPRI5, NDE_TSIT5, NDE_CVODE_BDF, NDE_ARK_IMEX,
        NDE_TAPE_NONE, NDE_TAPE_STAGES, NDE_TAPE_CHECKPOINT,
        NDE_ADJ_DISCRETE_STAGES, NDE_ADJ_BACKSOLVE, NDE_ADJ_CVODES,
        NDE_ACT_IDENTITY, NDE_ACT_TANH, NDE_ACT_GELU, NDE_ACT_SWISH,
        NDE_INIT_TORCH, NDE_INIT_NORMAL, NDE_TIME_NONE, NDE_TIME_ALL,
        NDE_NODE_TRAJECTORY, NDE_NODE_FINAL,
        NDE_OPT_SGD, NDE_OPT_ADAM, NDE_OPT_ADAMW, NDE_OPT_LION, NDE_OPT_NADAM,
        NDE_SAMPLE_SHUFFLE, NDE_SAMPLE_ORDERED, NDE_SAMPLE_STREAM,
    };
    int64_t k = 0;
    for (; k < n && k < (int64_t)(sizeof v / sizeof v[0]); k++) out[k] = v[k];
    return k;
}

/* du/dt = MLP(u), MLP 2 → 8 → 2 (tanh), θ from seed 3, DOPRI5 at rtol 1e-7, atol 1e-9,
 * u0 (2 samples) = {0.5, -0.3, -0.2, 0.8}, ts = {0, 0.5, 1}; L = ½ Σ traj². Writes
 * grad (n) = ∂L/∂θ and grad_u0 (4) = ∂L/∂u0. Returns the status. */
int ndef_test_ref_grad(double *grad, int64_t n, double *grad_u0)
{
    nde_model *m = NULL;
    nde_solver *s = NULL;
    nde_mlp_spec sp = {.in = 2, .out = 2, .hidden = {8}, .act = NDE_ACT_TANH};
    nde_status st = nde_model_mlp_create(&sp, "mlp", NDE_INIT_TORCH, 0.0, &m);
    nde_rng rng;
    nde_rng_seed(&rng, 3);
    if (st == NDE_OK) st = nde_model_init(m, &rng);
    nde_field f;
    if (st == NDE_OK) st = nde_model_field(m, &f);
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    o.tape = NDE_TAPE_STAGES;
    if (st == NDE_OK) st = nde_solver_create(NULL, &f, &o, &s);
    double u0[4] = {0.5, -0.3, -0.2, 0.8}, ts[3] = {0.0, 0.5, 1.0}, traj[12];
    if (st == NDE_OK) st = nde_solve(s, 2, 2, u0, 3, ts, traj);
    if (st == NDE_OK && (size_t)n != nde_model_n_params(m)) st = NDE_ERR_SHAPE;
    if (st == NDE_OK) {
        for (int64_t i = 0; i < n; i++) grad[i] = 0.0;
        st = nde_adjoint_discrete(s, traj, grad, (size_t)n, grad_u0);
    }
    nde_solver_destroy(&s);
    nde_model_destroy(&m);
    return (int)st;
}
