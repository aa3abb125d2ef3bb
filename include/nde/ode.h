/** @file
 * nde/ode.h — ODE solvers with open internals.
 *
 * One solve call for every method: explicit Runge–Kutta (fixed-step Euler, Heun, RK4;
 * adaptive embedded pairs BS3, DOPRI5, Tsit5 with FSAL and dense output; the high-order
 * pairs DOP853, Vern6, Vern7 and Vern9, whose interpolants' extra stages are computed
 * only for steps with a save time inside; "auto" picks by tolerance) and, when the
 * build has SUNDIALS, CVODES and ARKODE backends. A batch of `batch` states is one
 * system of batch·dim unknowns with shared steps (as torchdiffeq does).
 *
 * Every accepted step is recorded in the step log (t, h, normalized local error
 * estimate, stiffness estimate); counters and an optional per-step callback expose
 * the rest. Outputs at the requested times come from each method's dense output, so
 * save times never force extra steps, and the discrete adjoint (nde/adjoint.h)
 * differentiates that interpolant.
 *
 * Typical use (compiled and run by the test suite): three states of du/dt = MLP(u),
 * saved at t = 0, 0.5 and 1 (nde/nn.h makes the network and its field):
 *     nde_params *p;  NDE_TRY(nde_params_create(&p));
 *     nde_mlp *net;   NDE_TRY(nde_mlp_create(p, &(nde_mlp_spec){.in = 2, .out = 2,
 *                         .hidden = {16}, .act = NDE_ACT_TANH}, "f", &net));
 *     nde_rng rng;    nde_rng_seed(&rng, 1);
 *     NDE_TRY(nde_mlp_init(net, p, NDE_INIT_TORCH, 0.0, &rng));
 *     nde_field field;  NDE_TRY(nde_mlp_field(net, p, &field));
 *     nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
 *     o.rtol = 1e-7; o.atol = 1e-9;
 *     nde_solver *s;  NDE_TRY(nde_solver_create(NULL, &field, &o, &s));
 *     enum { batch = 3, dim = 2, nt = 3 };
 *     double u0[batch * dim] = {1, 0, 0, 1, -1, 0.5}, ts[nt] = {0.0, 0.5, 1.0};
 *     double traj[nt * batch * dim];                     // (nt, batch, dim); traj[0] = u0
 *     NDE_TRY(nde_solve(s, batch, dim, u0, nt, ts, traj));
 *     printf("u(1) of sample 0: %g %g, %zu steps\n", traj[2 * batch * dim],
 *            traj[2 * batch * dim + 1], nde_solver_get_stats(s)->n_accepted);
 *     nde_solver_destroy(&s);  nde_mlp_destroy(&net);  nde_params_destroy(&p);
 */
#ifndef NDE_ODE_H
#define NDE_ODE_H

#include "nde/core.h"
#include "nde/field.h"

#ifdef __cplusplus
extern "C" {
#endif

/** ODE integration methods: nde's explicit Runge–Kutta methods and the SUNDIALS backends. */
typedef enum nde_method {
    NDE_EULER = 0,  /**< fixed step, order 1 */
    NDE_HEUN,       /**< fixed step, order 2 (explicit trapezoid) */
    NDE_RK4,        /**< fixed step, order 4 (classic) */
    NDE_BS3,        /**< Bogacki–Shampine 3(2), FSAL, Hermite dense output */
    NDE_DOPRI5,     /**< Dormand–Prince 5(4), FSAL, Shampine's 4th-order dense output */
    NDE_TSIT5,      /**< Tsitouras 5(4), FSAL, 4th-order dense output */
    NDE_CVODE_BDF,  /**< SUNDIALS CVODES, variable-order BDF, Newton */
    NDE_CVODE_ADAMS,/**< SUNDIALS CVODES, Adams–Moulton, fixed-point or Newton */
    NDE_ARK_ERK,    /**< SUNDIALS ARKODE ERKStep with nde's explicit tableaux */
    NDE_ARK_DIRK,   /**< SUNDIALS ARKODE ARKStep, diagonally implicit */
    NDE_ARK_IMEX,   /**< SUNDIALS ARKODE ARKStep, additive IMEX */
    NDE_DOP853,     /**< Dormand–Prince 8(5,3) (Hairer's DOP853), FSAL, 7th-order dense
                       output with 3 lazy extra stages */
    NDE_VERN6,      /**< Verner's efficient 6(5), FSAL, 6th-order interpolant (3 lazy stages) */
    NDE_VERN7,      /**< Verner's efficient 7(6), 7th-order interpolant (6 lazy stages) */
    NDE_VERN9,      /**< Verner's efficient 9(8), 9th-order interpolant (10 lazy stages) */
    NDE_AUTO,       /**< resolved by nde_solver_create: nde_method_choose(opts.rtol) */
    NDE_METHOD_COUNT /**< number of methods */
} nde_method;

NDE_API const char *nde_method_name(nde_method m); /**< "dopri5", ...; "unknown" if out of range */
/** Parse a name as printed by nde_method_name (case-insensitive). */
NDE_API nde_status nde_method_parse(const char *name, nde_method *m);

/** Default explicit method for a relative tolerance: Tsit5 for rtol >= 1e-6, Vern7 for
 * 1e-9 <= rtol < 1e-6, Vern9 below 1e-9. The first crossover is SciML's default
 * (DefaultODEAlgorithm: Tsit5, Vern7 below reltol 1e-6); the Vern9 one comes from
 * bench/method_choice (docs/solvers.md, "Choosing a method"). A
 * non-finite or non-positive rtol gives Tsit5. NDE_AUTO in nde_solver_opts resolves
 * through this function when the solver is created.
 * @param rtol relative tolerance of the solve
 * @return NDE_TSIT5, NDE_VERN7 or NDE_VERN9 */
NDE_API nde_method nde_method_choose(double rtol);

/** What the forward solve records so that nde_adjoint_discrete can replay each step. */
typedef enum nde_tape {
    NDE_TAPE_NONE = 0,     /**< nothing: forward only */
    NDE_TAPE_STAGES,       /**< every stage input of every accepted step (fastest reverse) */
    NDE_TAPE_STEP_STARTS,  /**< only step starts; stages recomputed in the reverse sweep */
    NDE_TAPE_CHECKPOINT,   /**< memory-bounded: the start of every checkpoint_every-th step
                              (0: only u0); the reverse sweep recomputes each segment
                              with a binomial (revolve) schedule in checkpoint_slots states */
} nde_tape;

/** Whether m is one of nde's own adaptive explicit Runge–Kutta pairs (an embedded error
 * estimate and step-size control; not the fixed-step methods, not the SUNDIALS
 * backends). Benchmarks and tools enumerate the explicit methods with it:
 * `for (int m = 0; m < NDE_METHOD_COUNT; m++) if (nde_method_is_explicit_adaptive(m)) …`,
 * so that a pair added to the tableau table is listed without further changes.
 * @param m any value (out-of-range values give 0)
 * @return 1 for an adaptive explicit pair, else 0 */
NDE_API int nde_method_is_explicit_adaptive(nde_method m);

/** Newton linear solver of the implicit SUNDIALS methods (CVODES, ARKStep DIRK/IMEX). */
typedef enum nde_linsol {
    NDE_LINSOL_DEFAULT = 0, /**< dense */
    NDE_LINSOL_DENSE,       /**< dense LU; Jacobian from the field's jvp (dim products per
                               setup, block-diagonal over the batch) or, without a jvp,
                               SUNDIALS' difference quotients */
    NDE_LINSOL_GMRES,       /**< matrix-free GMRES, unpreconditioned; J·v from the field's
                               jvp or SUNDIALS' difference quotient */
    NDE_LINSOL_FIXED_POINT, /**< no linear solver: fixed-point (functional) iteration
                               (CVODES Adams for non-stiff problems) */
} nde_linsol;

/** Passed to the per-step callback after every attempted step. */
typedef struct nde_step_info {
    size_t step;       /**< index of this attempt (accepted + rejected so far) */
    /** step start time */
    double t, h;       /**< step size (signed) */
    double err_est;    /**< normalized local error estimate (RMS; accept if <= 1) */
    double stiff_est;  /**< stiffness estimate |λ| (0 where the method has none; see
                          nde_step_rec) */
    int accepted; /**< 1 if the step was accepted, 0 if rejected */
    size_t nfe;        /**< function evaluations so far (batch counted once) */
    const double *u;   /**< state at t + h (accepted) or at t (rejected), (batch, dim) */
    size_t n;          /**< batch · dim */
} nde_step_info;

/** Return 0 to continue, non-zero to stop the solve with NDE_ERR_STOPPED. */
typedef int (*nde_step_callback)(const nde_step_info *info, void *user);

/** Options of a solver (nde_solver_defaults() fills them); 0 means the default where noted. */
typedef struct nde_solver_opts {
    nde_method method; /**< integration method */
    /** relative tolerance, > 0 */
    double rtol, atol;    /**< absolute tolerance, > 0; error weights atol + rtol·max(|u_n|, |u_n+1|) */
    double h0;            /**< adaptive: first step (0 → Hairer's initial-step heuristic);
                             fixed-step methods: the step size (0 → span / 100) */
    double dt_min;        /**< smallest |h| before NDE_ERR_DT_MIN (0 → 1e-14·max(|t|,span)) */
    double dt_max;        /**< largest |h| (0 → unlimited) */
    size_t max_steps;     /**< attempted steps before NDE_ERR_MAX_STEPS (default 100000) */
    double safety;        /**< step-size safety factor (0.9) */
    /** smallest h_new/h (0.2) */
    double fac_min, fac_max; /**< largest h_new/h (10) */
    /** PI controller exponent β1 of h_new = h·safety·E_n^-β1·E_{n-1}^β2 */
    double beta1, beta2;  /**< PI controller exponent β2 (0: the plain I controller); h_new = h·safety·E_n^-β1·E_{n-1}^β2;
                             defaults per method (DOPRI5: Hairer's 0.17/0.04;
                             others 0.7/p, 0.4/p with p = estimator order + 1).
                             beta2 = 0 gives the plain I controller. */
    int fixed_step;       /**< adaptive pairs only: take uniform steps of h0 without error
                             control (estimates are still logged) */
    nde_tape tape;        /**< default NDE_TAPE_NONE; set for nde_adjoint_discrete */
    nde_step_callback callback; /**< optional; SUNDIALS methods report accepted steps only
                                   (their rejections are counted in the stats) */
    void *callback_user; /**< passed to callback */
    /** NDE_TAPE_CHECKPOINT (nde_adjoint_discrete holds at most
     * ⌈N/checkpoint_every⌉ + checkpoint_slots states of batch·dim doubles):
     *   checkpoint_every  forward keeps every k-th step start (0: only u0, so the whole
     *                     solve is one segment; k ≈ √N gives O(√N) states)
     *   checkpoint_slots  states the reverse sweep may hold inside a segment (binomial
     *                     schedule; 0: the segment length when checkpoint_every > 0,
     *                     else ⌈log2 N⌉ + 1, i.e. O(log N) states) */
    size_t checkpoint_every, checkpoint_slots; /**< NDE_TAPE_CHECKPOINT: states the reverse sweep may hold inside a segment (see above) */
    /** Most bytes the solve's recordings (discrete-adjoint tape and step log together) may
     * allocate; a solve that would need more fails with NDE_ERR_LIMIT, naming the step
     * and the bytes, instead of growing without bound (tiny steps of a diverging model).
     * 0 → half of the machine's physical memory or a quarter of the address-space
     * limit (RLIMIT_AS, `ulimit -v`), whichever is smaller; SIZE_MAX → unlimited. Buffers grow by
     * doubling, clamped to the limit, so they never exceed it. With cvodes_adj_steps it
     * bounds CVODES' adjoint check points (an estimate of their size, checked after
     * every step) with the step log. */
    size_t tape_max_bytes;
    /** SUNDIALS methods (ignored by the explicit RK methods); 0 means default: */
    nde_linsol linsol;    /**< implicit methods' linear solver */
    int max_order;        /**< CVODES: maximum order (BDF 5, Adams 12); ARKStep: method
                             order (ARKODE's default 4) */
    nde_method erk_table; /**< NDE_ARK_ERK: the nde tableau ERKStep runs as a custom Butcher
                             table: an adaptive FSAL pair (BS3, DOPRI5, TSIT5, VERN6, or
                             DOP853 with its 5th-order embedding as ARKODE's b̂, ARKODE's
                             controller and interpolation); 0 → TSIT5.
                             (ERKStep 5.4 reuses the last stage as the next first stage,
                             which is right only for FSAL tables.) */
    const nde_field *imex_explicit; /**< NDE_ARK_IMEX (required): the non-stiff part f_E of
                             the field, same dim, treated explicitly; the implicit part is
                             field − f_E. Borrowed; must outlive the solver. */
    size_t cvodes_adj_steps; /**< NDE_CVODE_*: record CVODES adjoint checkpoints every this
                             many steps during nde_solve (CVodeF), as nde_adjoint_cvodes
                             needs; 0 → not recorded (plain CVode) */
} nde_solver_opts;

/** Defaults for a method: rtol 1e-6, atol 1e-9 (torchdiffeq's 1e-7/1e-9 are a good
 * choice for training), controller constants as documented above. */
NDE_API nde_solver_opts nde_solver_defaults(nde_method m);

/** One accepted step: start time, signed size, normalized error estimate E (RMS
 * over all batch·dim components; E <= 1 accepted), stiffness estimate |λ| ≈
 * ‖k_s − k_{s−1}‖ / ‖g_s − g_{s−1}‖ from the last two stages (Shampine; Tsit5, DOPRI5,
 * BS3; DOP853 as dop853.f; Vern6/7/9 from their last two stages at c = 1), 0 for
 * fixed-step methods. SUNDIALS implicit methods with the dense linear solver
 * and a field jvp: the spectral radius of the latest Newton Jacobian (power iteration,
 * docs/sundials.md); other SUNDIALS configurations: 0. */
typedef struct nde_step_rec {
    double t, h, err_est, stiff_est; /**< stiffness estimate |λ| (0 where the method has none) */
/** @var nde_step_rec::t
 *  step start time
 *  @var nde_step_rec::h
 *  step size (signed)
 *  @var nde_step_rec::err_est
 *  normalized local error estimate E (RMS; E <= 1 accepted) */
} nde_step_rec;

/** Work and memory of the last solve and the last adjoint. */
typedef struct nde_solver_stats {
    /** accepted steps */
    size_t n_accepted, n_rejected; /**< rejected step attempts */
    size_t nfe;              /**< right-hand-side evaluations of the forward solve */
    size_t n_vjp;            /**< vector–Jacobian products in the last adjoint */
    size_t n_adjoint_nfe;    /**< forward evaluations recomputed by the last adjoint */
    size_t n_jvp, n_jac, n_lin_iters, n_newton_iters, n_newton_fails; /**< implicit methods: failed Newton iterations */
    size_t tape_bytes;       /**< bytes recorded on the tape by the last forward solve (also
                                after a failure); at most opts.tape_max_bytes */
    size_t adjoint_peak_bytes; /**< tape + reverse-sweep workspace of the last adjoint */
    size_t n_recomputed_steps; /**< steps re-integrated by the last adjoint (checkpointing,
                                  interpolating adjoint's segment re-solves) */
    size_t adjoint_max_states; /**< most state copies (batch·dim doubles) the last adjoint
                                  held at once (tape or checkpoints plus recompute slots) */
/** @var nde_solver_stats::n_jvp
 *  implicit methods: Jacobian–vector products
 *  @var nde_solver_stats::n_jac
 *  implicit methods: Jacobian evaluations
 *  @var nde_solver_stats::n_lin_iters
 *  implicit methods: linear-solver iterations
 *  @var nde_solver_stats::n_newton_iters
 *  implicit methods: Newton iterations */
} nde_solver_stats;

/** An ODE solver (opaque): method, options, workspace, step log and tape for one vector field. */
typedef struct nde_solver nde_solver;

/** Create a solver for `field` (borrowed: must outlive the solver). `ctx` may be NULL
 * for the explicit RK methods; SUNDIALS methods need it (NDE_ERR_ARG otherwise; its
 * SUNContext is created on first use). Validates the options: NDE_ERR_ARG for
 * non-positive tolerances, negative steps, unknown methods, and for SUNDIALS methods an
 * unknown linsol, max_order above the method's, an erk_table that is not an adaptive FSAL
 * pair, NDE_ARK_IMEX without a matching imex_explicit, cvodes_adj_steps on a non-CVODES
 * method or a field without vjp; NDE_ERR_UNSUPPORTED for a SUNDIALS method in a build
 * without SUNDIALS or with a discrete-adjoint tape. docs/sundials.md has the details. */
NDE_API nde_status nde_solver_create(nde_ctx *ctx, const nde_field *field,
                                     const nde_solver_opts *opts, nde_solver **s);
NDE_API void nde_solver_destroy(nde_solver **s); /**< NULL-safe; sets *s = NULL */

/** Integrate from ts[0] to ts[nt-1] (nt >= 2; ts strictly increasing or strictly
 * decreasing) starting at u0 (batch, dim), writing the states at every ts[k] into
 * traj (nt, batch, dim); traj[0] = u0. `dim` is the caller's state size and must equal
 * the field's (NDE_ERR_SHAPE otherwise).
 * Errors: NDE_ERR_ARG (NULL, nt < 2, ts not strictly monotone or non-finite),
 * NDE_ERR_NONFINITE (u0 or a state became non-finite), NDE_ERR_MAX_STEPS,
 * NDE_ERR_DT_MIN, NDE_ERR_STOPPED, NDE_ERR_LIMIT (tape and step log would exceed
 * opts.tape_max_bytes), or the field's own status. On failure the step
 * log holds the steps taken so far and traj rows past the failure are unspecified. */
NDE_API nde_status nde_solve(nde_solver *s, size_t batch, size_t dim, const double *u0, size_t nt,
                             const double *ts, double *traj);

/** Replay: after a successful solve, make the following solves take exactly the same
 * step sizes (every step accepted, estimates still logged) until unfrozen. This is
 * what "the gradient of the discrete solution with the steps held constant" means,
 * so finite-difference checks of the discrete adjoint use it. A frozen solve that
 * needs more steps than recorded (different span) fails with NDE_ERR_STATE. */
NDE_API nde_status nde_solver_freeze_steps(nde_solver *s);
/** Undo nde_solver_freeze_steps(): later solves choose their steps again. */
NDE_API void nde_solver_unfreeze_steps(nde_solver *s);

/** The accepted steps of the last solve (borrowed; valid until the next solve). */
NDE_API const nde_step_rec *nde_solver_steps(const nde_solver *s, size_t *n_steps);
/** Counters of the last solve and adjoint (borrowed). */
NDE_API const nde_solver_stats *nde_solver_get_stats(const nde_solver *s);
/** The solver's options (borrowed). */
NDE_API const nde_solver_opts *nde_solver_get_opts(const nde_solver *s);
/** The vector field the solver was created for (borrowed). */
NDE_API const nde_field *nde_solver_field(const nde_solver *s);

#ifdef __cplusplus
}
#endif
#endif
