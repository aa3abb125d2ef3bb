/* nde/adjoint.h — gradients through solves.
 *
 * Discrete adjoint: a reverse sweep over the accepted steps of the last nde_solve,
 * giving the exact gradient of the discrete solution (step sizes held constant, as
 * torchdiffeq, diffrax and DiffEqFlux do) with respect to θ and u0, for a loss on the
 * states at the save times. The solve must have been made with opts.tape set:
 * NDE_TAPE_STAGES stores every stage input (fastest), NDE_TAPE_STEP_STARTS stores
 * only the step starts and recomputes stages during the sweep (s× less memory, one
 * extra forward evaluation per stage), NDE_TAPE_CHECKPOINT stores every k-th step start
 * (or only u0) and recomputes segments with a binomial schedule (O(√N) or O(log N)
 * states). All give identical gradients.
 *
 * Typical use (compiled and run by the test suite): the gradients of L = ½‖u(1)‖² with
 * respect to θ and u0 for two states of du/dt = MLP(u):
 *     nde_params *p;  NDE_TRY(nde_params_create(&p));
 *     nde_mlp *net;   NDE_TRY(nde_mlp_create(p, &(nde_mlp_spec){.in = 2, .out = 2,
 *                         .hidden = {16}, .act = NDE_ACT_TANH}, "f", &net));
 *     nde_rng rng;    nde_rng_seed(&rng, 1);
 *     NDE_TRY(nde_mlp_init(net, p, NDE_INIT_TORCH, 0.0, &rng));
 *     nde_field field;  NDE_TRY(nde_mlp_field(net, p, &field));
 *     nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
 *     o.tape = NDE_TAPE_STAGES;                          // what the reverse sweep replays
 *     nde_solver *s;  NDE_TRY(nde_solver_create(NULL, &field, &o, &s));
 *     double u0[2 * 2] = {1, 0, 0, 1}, ts[2] = {0.0, 1.0}, traj[2 * 2 * 2];
 *     NDE_TRY(nde_solve(s, 2, 2, u0, 2, ts, traj));
 *     double dL_dtraj[2 * 2 * 2] = {0}, grad_u0[2 * 2];
 *     for (int i = 0; i < 4; i++) dL_dtraj[4 + i] = traj[4 + i];   // ∂L/∂u(1) = u(1)
 *     nde_params_zero_grad(p);                           // the adjoint adds to it
 *     NDE_TRY(nde_adjoint_discrete(s, dL_dtraj, nde_params_grad(p), nde_params_count(p),
 *                                  grad_u0));
 *     printf("dL/du0 of sample 0: %g %g\n", grad_u0[0], grad_u0[1]);
 *     nde_solver_destroy(&s);  nde_mlp_destroy(&net);  nde_params_destroy(&p);
 */
#ifndef NDE_ADJOINT_H
#define NDE_ADJOINT_H

#include "nde/ode.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dL_dtraj   (nt, batch, dim): ∂L/∂traj for the traj of the last solve.
 * grad_theta (n_theta): ∂L/∂θ is ADDED (callers zero it); NULL → not wanted;
 *            n_theta must equal the field's n_params (NDE_ERR_SHAPE otherwise).
 * grad_u0    (batch, dim): ∂L/∂u0 is WRITTEN; NULL → not wanted.
 * Errors: NDE_ERR_STATE if the last solve failed, recorded no tape, or there was
 * none; NDE_ERR_ARG for NULL dL_dtraj; the field's vjp status. */
NDE_API nde_status nde_adjoint_discrete(nde_solver *s, const double *dL_dtraj, double *grad_theta,
                                        size_t n_theta, double *grad_u0);

/* ---- continuous adjoints ("optimize, then discretize") ----------------------
 * The adjoint ODE of the last solve's loss L(traj),
 *     λ' = −(∂f/∂u)ᵀ λ,    μ' = −(∂f/∂θ)ᵀ λ,
 * integrated from ts[nt−1] back to ts[0] with λ(ts[nt−1]) = ∂L/∂traj[nt−1], μ = 0 there,
 * and λ += ∂L/∂traj[k] at every earlier save time; then ∂L/∂u0 = λ(ts[0]) and
 * ∂L/∂θ = μ(ts[0]) (Pontryagin; Chen, Rubanova, Bettencourt & Duvenaud, "Neural ordinary
 * differential equations", NeurIPS 2018, Alg. 1). They give the gradient of the exact
 * flow, which differs from the discrete adjoint's gradient of the computed solution by
 * O(forward tolerance + adjoint tolerance) — docs/adjoints.md lists the tolerances the
 * agreement tests use. They need the field's vjp, not a tape; the flat gradient has the
 * same layout as nde_adjoint_discrete's.
 *
 * Shared arguments: traj (nt, batch, dim) — the trajectory the last nde_solve wrote (the
 * backsolve and interpolating adjoints restart from its rows); dL_dtraj, grad_theta,
 * n_theta and grad_u0 as for nde_adjoint_discrete (grad_theta ADDED, grad_u0 WRITTEN).
 * opts NULL → nde_cont_adjoint_defaults(s). The backward solvers are built on the first
 * call and reused while the sizes and options stay the same.
 * Errors: NDE_ERR_STATE (no successful solve), NDE_ERR_ARG (NULL traj or dL_dtraj, a
 * field without vjp, bad opts), NDE_ERR_SHAPE (n_theta), the backward solve's status
 * (e.g. NDE_ERR_MAX_STEPS), NDE_ERR_NONFINITE. */
typedef struct nde_cont_adjoint_opts {
    nde_method method; /* integrator of the backward (and re-forward) solves */
    double rtol, atol; /* its tolerances (> 0) */
    size_t max_steps;  /* per backward segment */
} nde_cont_adjoint_opts;

/* The forward solver's method and tolerances (TSIT5 for the backsolve and interpolating
 * adjoints when the forward method is a fixed-step or SUNDIALS method other than CVODES
 * BDF/Adams, which backsolve can use itself). */
NDE_API nde_cont_adjoint_opts nde_cont_adjoint_defaults(const nde_solver *s);

/* Backsolve adjoint (torchdiffeq's odeint_adjoint; SciMLSensitivity BacksolveAdjoint with
 * checkpointing): integrate [u, λ, μ] backwards between consecutive save times,
 * restarting u at traj[k] at each of them so the reconstructed state does not drift.
 * Memory O(batch·dim + n_params) beyond traj. Unstable on stiff problems whose backward
 * flow blows up (pass a CVODES method in opts for mildly stiff ones). */
NDE_API nde_status nde_adjoint_backsolve(nde_solver *s, const double *traj, const double *dL_dtraj,
                                         double *grad_theta, size_t n_theta, double *grad_u0,
                                         const nde_cont_adjoint_opts *opts);

/* Interpolating adjoint (SciMLSensitivity InterpolatingAdjoint with checkpointing): for
 * each save interval, last first, re-solve the forward from traj[k−1] with an explicit
 * pair (opts.method if it is BS3/DOPRI5/TSIT5, else TSIT5) keeping its stages, and
 * integrate [λ, μ] backwards with u(t) from that solve's dense output. Memory: one
 * interval's stages. */
NDE_API nde_status nde_adjoint_interpolating(nde_solver *s, const double *traj,
                                             const double *dL_dtraj, double *grad_theta,
                                             size_t n_theta, double *grad_u0,
                                             const nde_cont_adjoint_opts *opts);

/* CVODES adjoint (Serban & Hindmarsh, "CVODES: the sensitivity-enabled ODE solver in
 * SUNDIALS", 2005): the last solve must be NDE_CVODE_BDF/ADAMS with
 * opts.cvodes_adj_steps > 0, so that CVodeF stored checkpoints; λ is integrated by
 * CVodeB with the forward's multistep method (stiff-capable; dense Newton with the
 * Jacobian −(∂f/∂u)ᵀ from dim vjp calls, or GMRES when the forward used GMRES) and μ is
 * its backward quadrature. opts.method is ignored (rtol, atol, max_steps apply).
 * Errors as above, plus NDE_ERR_STATE if no checkpoints were recorded and
 * NDE_ERR_UNSUPPORTED in builds without SUNDIALS; SUNDIALS failures as NDE_ERR_SOLVER
 * with SUNDIALS' message. */
NDE_API nde_status nde_adjoint_cvodes(nde_solver *s, const double *dL_dtraj, double *grad_theta,
                                      size_t n_theta, double *grad_u0,
                                      const nde_cont_adjoint_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
