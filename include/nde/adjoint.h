/** @file
 * nde/adjoint.h — gradients through solves.
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

/** dL_dtraj   (nt, batch, dim): ∂L/∂traj for the traj of the last solve.
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
/** Options of the continuous adjoints (backsolve, interpolating, CVODES). */
typedef struct nde_cont_adjoint_opts {
    nde_method method; /**< integrator of the backward (and re-forward) solves */
    /** relative tolerance of the backward solves (> 0) */
    double rtol, atol; /**< absolute tolerance of the backward solves (> 0) */
    size_t max_steps;  /**< per backward segment */
} nde_cont_adjoint_opts;

/** The forward solver's method and tolerances (TSIT5 for the backsolve and interpolating
 * adjoints when the forward method is a fixed-step or SUNDIALS method other than CVODES
 * BDF/Adams, which backsolve can use itself). */
NDE_API nde_cont_adjoint_opts nde_cont_adjoint_defaults(const nde_solver *s);

/** Backsolve adjoint (torchdiffeq's odeint_adjoint; SciMLSensitivity BacksolveAdjoint with
 * checkpointing): integrate [u, λ, μ] backwards between consecutive save times,
 * restarting u at traj[k] at each of them so the reconstructed state does not drift.
 * Memory O(batch·dim + n_params) beyond traj. Unstable on stiff problems whose backward
 * flow blows up (pass a CVODES method in opts for mildly stiff ones). */
NDE_API nde_status nde_adjoint_backsolve(nde_solver *s, const double *traj, const double *dL_dtraj,
                                         double *grad_theta, size_t n_theta, double *grad_u0,
                                         const nde_cont_adjoint_opts *opts);

/** Interpolating adjoint (SciMLSensitivity InterpolatingAdjoint with checkpointing): for
 * each save interval, last first, re-solve the forward from traj[k−1] with an explicit
 * pair (opts.method if it is BS3/DOPRI5/TSIT5, else TSIT5) keeping its stages, and
 * integrate [λ, μ] backwards with u(t) from that solve's dense output. Memory: one
 * interval's stages. */
NDE_API nde_status nde_adjoint_interpolating(nde_solver *s, const double *traj,
                                             const double *dL_dtraj, double *grad_theta,
                                             size_t n_theta, double *grad_u0,
                                             const nde_cont_adjoint_opts *opts);

/** CVODES adjoint (Serban & Hindmarsh, "CVODES: the sensitivity-enabled ODE solver in
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

/* ---- the adjoint as an object ----------------------------------------------
 * One place to choose how gradients are computed: an nde_adjoint is created for a solver
 * with a kind and its options, and creating it configures what the solver records (its
 * tape mode and checkpointing, or CVODES' checkpoints), so the forward and the gradient
 * cannot disagree. It owns its workspace (reverse-sweep buffers, the continuous adjoints'
 * backward solvers) and its statistics. nde_adjoint_run computes the gradient of the
 * last nde_solve; the free functions above compute the same bits through an adjoint the
 * solver keeps for them.
 *
 * Typical use (compiled and run by the test suite): the gradient with respect to θ of
 * L = Σ u(1) for du/dt = MLP(u), by the checkpointed discrete adjoint:
 *     nde_params *p;  NDE_TRY(nde_params_create(&p));
 *     nde_mlp *net;   NDE_TRY(nde_mlp_create(p, &(nde_mlp_spec){.in = 2, .out = 2,
 *                         .hidden = {8}, .act = NDE_ACT_TANH}, "f", &net));
 *     nde_rng rng;    nde_rng_seed(&rng, 2);
 *     NDE_TRY(nde_mlp_init(net, p, NDE_INIT_TORCH, 0.0, &rng));
 *     nde_field field;  NDE_TRY(nde_mlp_field(net, p, &field));
 *     nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
 *     nde_solver *s;  NDE_TRY(nde_solver_create(NULL, &field, &o, &s));
 *     nde_adjoint_opts ao = nde_adjoint_defaults(s, NDE_ADJ_DISCRETE_CHECKPOINT);
 *     ao.checkpoint_every = 16;
 *     nde_adjoint *adj;  NDE_TRY(nde_adjoint_create(s, &ao, &adj));   // sets s's tape
 *     double u0[2] = {1, 0}, ts[2] = {0.0, 1.0}, traj[2 * 2], dL_dtraj[2 * 2] = {0, 0, 1, 1};
 *     NDE_TRY(nde_solve(s, 1, 2, u0, 2, ts, traj));        // records what adj needs
 *     nde_params_zero_grad(p);
 *     NDE_TRY(nde_adjoint_run(adj, traj, dL_dtraj, nde_params_grad(p), nde_params_count(p),
 *                             NULL));
 *     printf("adjoint: %zu vjps\n", nde_adjoint_get_stats(adj)->n_vjp);
 *     nde_adjoint_destroy(&adj);  nde_solver_destroy(&s);
 *     nde_mlp_destroy(&net);  nde_params_destroy(&p);
 */
/** The gradient method of an nde_adjoint object. */
typedef enum nde_adjoint_kind {
    NDE_ADJ_DISCRETE_STAGES = 0,  /**< discrete, solver tape NDE_TAPE_STAGES */
    NDE_ADJ_DISCRETE_STEP_STARTS, /**< discrete, NDE_TAPE_STEP_STARTS */
    NDE_ADJ_DISCRETE_CHECKPOINT,  /**< discrete, NDE_TAPE_CHECKPOINT (binomial schedule) */
    NDE_ADJ_BACKSOLVE,            /**< nde_adjoint_backsolve; the solver records no tape */
    NDE_ADJ_INTERPOLATING,        /**< nde_adjoint_interpolating; no tape */
    NDE_ADJ_CVODES,               /**< nde_adjoint_cvodes; CVODES records checkpoints */
    NDE_ADJ_KIND_COUNT /**< number of kinds */
} nde_adjoint_kind;

/** Options of an nde_adjoint (nde_adjoint_defaults() fills them). */
typedef struct nde_adjoint_opts {
    nde_adjoint_kind kind; /**< the gradient method */
    /** NDE_ADJ_DISCRETE_CHECKPOINT: checkpoint interval in steps, as nde_solver_opts.checkpoint_every */
    size_t checkpoint_every, checkpoint_slots; /**< NDE_ADJ_DISCRETE_CHECKPOINT: number of checkpoint slots, as nde_solver_opts.checkpoint_slots */
    /** NDE_ADJ_CVODES: CVODES checkpoint interval in steps (> 0), as
     * nde_solver_opts.cvodes_adj_steps */
    size_t cvodes_steps;
    /** NDE_ADJ_BACKSOLVE, _INTERPOLATING, _CVODES: backward method and tolerances */
    nde_cont_adjoint_opts cont;
} nde_adjoint_opts;

/** Work and memory of the last nde_adjoint_run. */
typedef struct nde_adjoint_stats {
    size_t n_vjp;              /**< vector–Jacobian products */
    size_t nfe;                /**< forward evaluations recomputed (stages from step starts,
                                  checkpoint segments, backsolve's u, re-forward solves,
                                  CVODES' re-integration between its checkpoints) */
    size_t n_jvp;              /**< Jacobian–vector products of re-forward Newton iterations
                                  (CVODES) */
    size_t n_recomputed_steps; /**< steps re-integrated (checkpointing, interpolating) */
    size_t peak_bytes;         /**< tape + workspace held at once */
    size_t max_states;         /**< most state copies (batch·dim doubles) held at once */
} nde_adjoint_stats;

/** An adjoint object (opaque): one gradient method bound to one solver, reusable across solves. */
typedef struct nde_adjoint nde_adjoint;

/** Options for `kind` on solver s: checkpoint_every 0 and checkpoint_slots 0 (their
 * defaults, see nde_solver_opts), cvodes_steps 50, cont = nde_cont_adjoint_defaults(s)
 * (s may be NULL: TSIT5, rtol 1e-6, atol 1e-9). */
NDE_API nde_adjoint_opts nde_adjoint_defaults(const nde_solver *s, nde_adjoint_kind kind);

/** Create an adjoint for s (borrowed: must outlive the adjoint) and configure what s
 * records: the discrete kinds set s's tape (and checkpointing) and clear
 * cvodes_adj_steps; BACKSOLVE and INTERPOLATING clear both; CVODES sets
 * cvodes_adj_steps = opts.cvodes_steps and no tape. This invalidates s's last solve
 * (solve again before nde_adjoint_run); a later nde_adjoint_create on the same solver
 * reconfigures it again. opts NULL → nde_adjoint_defaults(s, NDE_ADJ_DISCRETE_STAGES).
 * Errors: NDE_ERR_ARG (NULL s or out, unknown kind, bad tolerances, cvodes_steps 0, a
 * field without vjp); NDE_ERR_UNSUPPORTED (a discrete kind on a SUNDIALS method, CVODES
 * on a method other than NDE_CVODE_BDF/ADAMS or in a build without SUNDIALS);
 * NDE_ERR_NOMEM. */
NDE_API nde_status nde_adjoint_create(nde_solver *s, const nde_adjoint_opts *opts, nde_adjoint **out);
NDE_API void nde_adjoint_destroy(nde_adjoint **adj); /**< NULL-safe; sets *adj = NULL */

/** The gradient of L(traj) for the last solve of the adjoint's solver.
 * traj       (nt, batch, dim): that solve's output (BACKSOLVE and INTERPOLATING restart
 *            from its rows; the discrete and CVODES kinds ignore it, may be NULL).
 * dL_dtraj   (nt, batch, dim): ∂L/∂traj.
 * grad_theta (n_theta): ∂L/∂θ is ADDED; NULL → not wanted; n_theta = field n_params.
 * grad_u0    (batch, dim): ∂L/∂u0 is WRITTEN; NULL → not wanted.
 * Bit-identical to the matching free function (nde_adjoint_discrete, _backsolve,
 * _interpolating, _cvodes with opts.cont). Also copies the statistics into the solver's
 * (n_vjp, n_adjoint_nfe, n_recomputed_steps, adjoint_peak_bytes, adjoint_max_states).
 * Errors: those of the matching free function. */
NDE_API nde_status nde_adjoint_run(nde_adjoint *adj, const double *traj, const double *dL_dtraj,
                                   double *grad_theta, size_t n_theta, double *grad_u0);

/** Statistics of the last nde_adjoint_run (borrowed; NULL for NULL adj). */
NDE_API const nde_adjoint_stats *nde_adjoint_get_stats(const nde_adjoint *adj);
/** The options the adjoint was created with (borrowed; NULL for NULL adj). */
NDE_API const nde_adjoint_opts *nde_adjoint_get_opts(const nde_adjoint *adj);

#ifdef __cplusplus
}
#endif
#endif
