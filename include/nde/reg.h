/** @file
 * nde/reg.h — regularizers that make neural ODEs cheap to solve.
 *
 * Solver-heuristic regularizers penalize the adaptive solver's own estimates:
 *   - global error estimate (ERNODE; Pal, Ma, Shah & Rackauckas, "Opening the Blackbox",
 *     ICML 2021):      R_E = λ Σ_j E_j |h_j|
 *   - global stiffness estimate (SRNODE, same paper):  R_S = λ Σ_j S_j |h_j|
 *   - local error estimate at a stochastic time (Pal, Edelman & Rackauckas, "Locally
 *     Regularized Neural Differential Equations", ICML 2023):  R = λ E(t_reg) |dt|
 * and the classic baselines:
 *   - kinetic energy and Jacobian Frobenius norm (Finlay, Jacobsen, Nurbekyan & Oberman,
 *     "How to train your neural ODE", ICML 2020; Hutchinson's trace estimator),
 *   - STEER (Ghosh, Behl, Dupont, Torr & Namboodiri, NeurIPS 2020): a random end time.
 *
 * Conventions shared by every regularizer here (docs/regularizers.md has the details):
 *   - E_j is the solver's normalized local error estimate of accepted step j,
 *     RMS_i(ẽ_i / (atol + rtol·max(|u_j,i|, |u_j+1,i|))), ẽ = h Σ_i b̃_i k_i, over all
 *     batch·dim components (the whole batch is one system, as in the reference code).
 *   - S_j = ‖k_a − k_b‖₂ / ‖Y_a − Y_b‖₂ for the tableau's stage pair (Shampine; for Tsit5
 *     stages 7 and 6, both at t + h), 0 when the denominator vanishes.
 *   - Step sizes are constants of the gradient (as OrdinaryDiffEq, torchdiffeq and diffrax
 *     strip them); the estimates are differentiated through the stages that produce them.
 *     max(|u_j|, |u_j+1|) is differentiated at its argmax (half to each on a tie, the
 *     ChainRules rule the reference's Zygote uses); |x| has derivative sign(x), 0 at 0.
 *   - Zero estimates (E = 0, S = 0 or a 0/0 stiffness quotient) give zero gradient,
 *     never NaN (the reference filters these entries for the same reason). */
#ifndef NDE_REG_H
#define NDE_REG_H

#include "nde/core.h"
#include "nde/field.h"
#include "nde/ode.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- global regularizers (functions of every accepted step) ------------------ */

/** What a global regularizer penalizes. */
typedef enum nde_reg_kind {
    NDE_REG_ERROR_EST = 0, /**< per step: E_j (ERNODE) */
    NDE_REG_STIFF_EST,     /**< per step: S_j / scale (SRNODE) */
    NDE_REG_KINETIC,       /**< ∫ ½ mean_{b,i} f_i(t, u_b)² dt (Finlay et al. 2020) */
    NDE_REG_JACOBIAN,      /**< ∫ mean_{b,i} (ε_bᵀ ∂f/∂u(t, u_b))_i² dt (Hutchinson) */
    NDE_REG_KIND_COUNT /**< number of kinds */
} nde_reg_kind;

/** How the per-step values v_j are combined (error and stiffness kinds):
 *   NDE_REG_SUM   Σ_j v_j               the papers' formulas
 *   NDE_REG_MEAN  (1/N) Σ_j v_j         the reference code's `mean` over saved steps
 *                                        (it also saves a constant placeholder at t0;
 *                                        that entry carries no gradient and is left out)
 *   NDE_REG_MAX   max_j v_j             the reference SRNODE code (gradient at the first
 *                                        argmax)
 *   NDE_REG_LOCAL_UNBIASED, NDE_REG_LOCAL_BIASED   v_J of one sampled step J: local
 *                                        ERNSDE for the SDE solvers only (nde/sde.h); the
 *                                        ODE functions here give NDE_ERR_UNSUPPORTED
 * The kinetic and Jacobian kinds are integrals (the solver's own quadrature) and take
 * NDE_REG_SUM only. */
typedef enum nde_reg_agg {
    NDE_REG_SUM = 0, /**< Σ_j v_j */
    NDE_REG_MEAN,    /**< (1/N) Σ_j v_j */
    NDE_REG_MAX,     /**< max_j v_j */
    NDE_REG_LOCAL_UNBIASED, /**< v_J of one step J starting at t_reg ~ U[t0, t1) (SDE solvers
                               only: nde/sde.h, local ERNSDE; the ODE solvers' local
                               regularizer is nde_local_reg below) */
    NDE_REG_LOCAL_BIASED    /**< v_J of one step J uniform over the accepted steps (SDE only) */
} nde_reg_agg;

/** Second-order product needed by NDE_REG_JACOBIAN (a field interface has first-order
 * products only). With v_b = ε_bᵀ ∂f/∂u(t, u_b) (what the field's vjp returns for ε) and
 * w (batch, dim) a constant, it must ADD
 *   ubar (batch, dim) += ∂/∂u [Σ_b ε_bᵀ (∂f/∂u(t, u_b)) w_b],
 *   gtheta (n_params) += ∂/∂θ [the same]            (gtheta may be NULL),
 * i.e. the gradient of ½ Σ v·v' for v' = w. ctx is the field's ctx. */
typedef nde_status (*nde_jac_grad_fn)(void *ctx, double t, const double *u, const double *eps,
                                      const double *w, double *ubar, double *gtheta,
                                      size_t batch);

/** What nde_reg_create() builds: kind, aggregation and coefficient of a global regularizer. */
typedef struct nde_reg_spec {
    nde_reg_kind kind; /**< what is penalized */
    nde_reg_agg agg; /**< how the per-step values are combined */
    double coef;          /**< λ >= 0 (nde_reg_set_coef changes it, e.g. from a schedule) */
    int weight_dt;        /**< error/stiffness: 1 → v_j = est_j·|h_j|, 0 → v_j = est_j */
    double scale;         /**< error/stiffness: est_j is divided by scale (> 0; 1 = none;
                             the SRNODE code uses Tsit5's stability size 3.5068) */
    nde_jac_grad_fn jac_grad; /**< NDE_REG_JACOBIAN only */
} nde_reg_spec;

/** Tsit5's stability-region size along the negative real axis (OrdinaryDiffEq
 * alg_stability_size), by which the SRNODE reference code divides S_j. */
#define NDE_TSIT5_STABILITY_SIZE 3.5068

/** ERNODE as in the paper: λ Σ_j E_j |h_j|. */
NDE_API nde_reg_spec nde_reg_error_estimate(double coef);
/** ERNODE as in the reference code (RegNeuralDE.jl, MNIST): λ mean_j E_j |h_j|. */
NDE_API nde_reg_spec nde_reg_error_estimate_mean(double coef);
/** SRNODE as in the paper: λ Σ_j S_j |h_j|. */
NDE_API nde_reg_spec nde_reg_stiffness(double coef);
/** SRNODE as in the reference code: λ max_j S_j / 3.5068 (no step size). */
NDE_API nde_reg_spec nde_reg_stiffness_max(double coef);
/** Kinetic energy: λ ∫ ½ mean(f²) dt. */
NDE_API nde_reg_spec nde_reg_kinetic(double coef);
/** Jacobian Frobenius norm, Hutchinson estimate with the probe set by nde_reg_set_probe
 * or nde_reg_draw_probe: λ ∫ mean((εᵀ∂f/∂u)²) dt; jac_grad as documented above. */
NDE_API nde_reg_spec nde_reg_jacobian(double coef, nde_jac_grad_fn jac_grad);

/** A regularizer owns its spec and its workspace (grown on first use for a given state
 * size, then reused: later evaluations of the same size do not allocate). */
typedef struct nde_reg nde_reg;

/** Errors: NDE_ERR_ARG for NULL, an unknown kind or aggregation, a negative or
 * non-finite coef, scale <= 0, an aggregation other than SUM for kinetic/Jacobian, or a
 * Jacobian spec without jac_grad; NDE_ERR_NOMEM. */
NDE_API nde_status nde_reg_create(const nde_reg_spec *spec, nde_reg **out);
NDE_API void nde_reg_destroy(nde_reg **reg); /**< NULL-safe; sets *reg = NULL */
/** The spec of a built-in regularizer (coef kept current); NULL for NULL or one made by
 * nde_reg_create_ops. */
NDE_API const nde_reg_spec *nde_reg_get_spec(const nde_reg *reg);
/** NDE_ERR_ARG for a negative or non-finite coef. */
NDE_API nde_status nde_reg_set_coef(nde_reg *reg, double coef);

/** The Hutchinson probe ε (batch, dim) for NDE_REG_JACOBIAN, or any regularizer's
 * nde_reg_step.probe (copied; n = batch·dim).
 * Keep it fixed while comparing gradients; draw a new one per training step. */
NDE_API nde_status nde_reg_set_probe(nde_reg *reg, const double *eps, size_t n);
/** Draw ε ~ N(0, I) of n = batch·dim entries from rng (Finlay et al. use Gaussian). */
NDE_API nde_status nde_reg_draw_probe(nde_reg *reg, nde_rng *rng, size_t n);

/* ---- your own step regularizer: the ops table --------------------------------
 * Every global regularizer above is a per-step value v_j, a function of accepted step j's
 * data, combined over the steps and scaled:  R = λ·agg_j v_j  (agg: nde_reg_agg). The
 * built-in kinds are ops tables over this interface (src/reg/global.c); a user writes one
 * the same way and gets the same gradient machinery: in nde_adjoint_discrete_reg's
 * reverse sweep the op's sensitivities with respect to the step's stages are carried to
 * θ and u0 exactly as the built-ins' are. docs/regularizers.md has a complete example
 * (compiled and run by the tests).
 *
 * Step sizes are constants of the gradient, as for the built-ins. The step's data, with
 * n = batch·dim and s = stages (all arrays borrowed and read-only; valid during the call
 * only): */
/** The data of one accepted step that a regularizer's step function sees (see above). */
typedef struct nde_reg_step {
    /** j, the step's index (0-based over the accepted steps) */
    size_t index, n_steps;   /**< N, the number of accepted steps */
    /** the step's start time */
    double t, h;             /**< the step's signed size */
    /** samples in the batch */
    size_t batch, dim, n;    /**< n = batch·dim */
    int stages;              /**< s */
    const double *y;         /**< (s, n) stage inputs Y_i = u_j + h Σ_{l<i} a_il k_l (Y_1 = u_j) */
    const double *k;         /**< (s, n) stage derivatives k_i = f(t + c_i h, Y_i) */
    const double *u;         /**< (n) the step's start u_j */
    const double *u_new;     /**< (n) its end u_{j+1} = u_j + h Σ_i b_i k_i */
    /** (s) the tableau's weights b_i */
    const double *b, *c;     /**< (s) the tableau's nodes c_i */
    const double *btilde;    /**< (s) error weights: the error vector is ẽ = h Σ_i b̃_i k_i */
    double err_est;          /**< E_j, the normalized error estimate (conventions above; 0
                                for methods without an embedded estimate) */
    double stiff_est;        /**< S_j, Shampine's stiffness estimate (0 without a stage pair) */
    /** the solver's absolute tolerance (E_j's normalization) */
    double atol, rtol;       /**< the solver's relative tolerance (E_j's normalization) */
    const nde_field *field;  /**< the solver's field, to evaluate f or its vjp at the stages */
    const double *probe;     /**< (n) the probe of nde_reg_set_probe/draw_probe, or NULL when
                                none of n entries is set */
    double *scratch;         /**< (ops.scratch_per_n · n) writable, uninitialized */
/** @var nde_reg_step::dim
 *  state elements per sample */
} nde_reg_step;

/** Where a step function ADDS w·∂v_j/∂x for each quantity x of the step. ∂/∂E_j and ∂/∂S_j
 * are scalars the library differentiates through the stages that produce E_j and S_j
 * (their conventions above); ∂/∂Y_i goes through Y_i = u_j + h Σ a_il k_l. All start at
 * zero for the step except kbar, ubar, unew_bar and gtheta, which are the sweep's running
 * adjoints: only ever add to them. */
typedef struct nde_reg_step_grad {
    double *ybar;            /**< (s, n) ∂/∂Y_i */
    double *kbar;            /**< (s, n) ∂/∂k_i */
    double *ubar;            /**< (n) ∂/∂u_j */
    double *unew_bar;        /**< (n) ∂/∂u_{j+1} */
    double *gtheta;          /**< (n_params) direct ∂/∂θ (a v_j that evaluates the field
                                itself); NULL when the caller wants no θ gradient */
    double err_est_bar;      /**< ∂/∂E_j */
    double stiff_est_bar;    /**< ∂/∂S_j */
} nde_reg_step_grad;

/** What a regularizer requires of the solve (nde_reg_ops.needs; bits). A solve without it
 * makes nde_adjoint_discrete_reg and nde_reg_value fail with NDE_ERR_UNSUPPORTED
 * (estimates) or NDE_ERR_SHAPE (probe). */
#define NDE_REG_NEEDS_ERR_EST   1u /**< a method with an embedded error estimate */
#define NDE_REG_NEEDS_STIFF_EST 2u /**< a method with a stiffness stage pair */
#define NDE_REG_NEEDS_PROBE     4u /**< a probe of batch·dim entries (nde_reg_set_probe) */

/** A regularizer's operations (nde_reg_create_ops()): its per-step value and gradient, and what it needs from the solve. */
typedef struct nde_reg_ops {
    const char *name;        /**< for error messages, e.g. "last-stage norm" */
    unsigned needs;          /**< NDE_REG_NEEDS_* */
    size_t scratch_per_n;    /**< doubles of nde_reg_step.scratch per state entry */
    /** Required. Set *value = v_j of step st; when w != 0 also ADD w·∂v_j/∂x to g (w is
     * ∂R/∂v_j: λ times the aggregation's weight of the step). ctx is the one given to
     * nde_reg_create_ops. Return NDE_OK or a status (it aborts the sweep). */
    nde_status (*step)(void *ctx, const nde_reg_step *st, double w, nde_reg_step_grad *g,
                       double *value);
    /** Optional. v_j from the step log alone (the same number step computes). With it, R
     * is computed from the log in step order (nde_reg_value works without a tape),
     * NDE_REG_MAX is allowed, and steps with w = 0 (λ = 0, off the max's argmax) are
     * not visited by the sweep; without it, R = λ·agg_j of step's values, summed in the
     * sweep (last step first). */
    nde_status (*log_value)(void *ctx, const nde_step_rec *rec, double *value);
} nde_reg_ops;

/** A regularizer R = coef·agg_j v_j from an ops table. ops and ctx are borrowed (both must
 * outlive the regularizer; ops is typically a static const table). nde_reg_set_coef,
 * nde_reg_set_probe/draw_probe, nde_reg_value and nde_adjoint_discrete_reg work as for a
 * built-in; nde_reg_get_spec returns NULL. Errors: NDE_ERR_ARG for NULL out, ops or
 * ops->step, an unknown aggregation, NDE_REG_MAX without ops->log_value, a negative or
 * non-finite coef; NDE_ERR_NOMEM. */
NDE_API nde_status nde_reg_create_ops(const nde_reg_ops *ops, void *ctx, nde_reg_agg agg, double coef,
                                      nde_reg **out);

/** The value of a regularizer whose ops have log_value (the error and stiffness kinds) for
 * the last solve of s, from its step log (no tape needed). NDE_ERR_STATE if the last
 * solve failed; NDE_ERR_UNSUPPORTED for one without log_value (kinetic, Jacobian: their
 * value comes from nde_adjoint_discrete_reg) and for methods without what it needs
 * (fixed-step methods have no estimate; stiffness needs a stage pair). */
NDE_API nde_status nde_reg_value(const nde_reg *reg, const nde_solver *s, double *value);

/** Discrete adjoint of L + R in one reverse sweep (nde_adjoint_discrete plus the
 * regularizer's per-step sensitivities), for the last solve of s made with a tape.
 * dL_dtraj   (nt, batch, dim) or NULL (gradient of R alone).
 * grad_theta (n_theta): ∂(L + R)/∂θ ADDED; NULL → not wanted; n_theta = field n_params.
 * grad_u0    (batch, dim): ∂(L + R)/∂u0 WRITTEN; NULL → not wanted.
 * reg_value  R (may be NULL).
 * Errors: as nde_adjoint_discrete; NDE_ERR_ARG for NULL reg; NDE_ERR_UNSUPPORTED as
 * nde_reg_value; NDE_ERR_SHAPE for a probe (NDE_REG_NEEDS_PROBE, e.g. Jacobian) whose
 * size is not batch·dim; NDE_ERR_NONFINITE if R is not finite; the field's or the ops'
 * status. */
NDE_API nde_status nde_adjoint_discrete_reg(nde_solver *s, const double *dL_dtraj, nde_reg *reg,
                                            double *grad_theta, size_t n_theta, double *grad_u0,
                                            double *reg_value);

/* ---- local regularization at a stochastic time (Pal et al. 2023) -------------
 * One Tsit5 step from u(t_reg) towards t_end, with dt from the solver's initial-step
 * heuristic (Hairer–Wanner, as OrdinaryDiffEq's `init` picks it) for the given
 * tolerances, clamped to |t_end − t_reg|; R = λ·E·|dt| (or λ·S/scale·|dt|). As in
 * LocalRegNeuralDE.jl, u(t_reg), k1 = f(t_reg, u) and dt are constants of the
 * gradient, which reaches θ through stages 2..7 only. It needs nothing from the main
 * solve but u(t_reg), so it works with any adjoint.
 *
 * Sampling t_reg:
 *   NDE_LOCAL_UNBIASED  t_reg ~ U[t0, t1): draw it before the solve, add it to the save
 *                       times (nde_reg_insert_time) and read u(t_reg) from traj.
 *   NDE_LOCAL_BIASED    t_reg uniform over the accepted steps' start times (t_end
 *                       excluded): the solver's step callback feeds
 *                       nde_local_reg_observe, which keeps one state by reservoir
 *                       sampling (O(batch·dim) memory, as DiffEqFlux PR #1016). */
/** How a local regularizer picks t_reg (see above). */
typedef enum nde_local_sampling { NDE_LOCAL_UNBIASED = 0, /**< t_reg ~ U[t0, t1), added to the save times */ NDE_LOCAL_BIASED /**< t_reg uniform over the accepted steps' start times */ } nde_local_sampling;

/** What nde_local_reg_create() builds: kind, sampling, coefficient and tolerances of a local regularizer. */
typedef struct nde_local_reg_spec {
    nde_reg_kind kind;            /**< NDE_REG_ERROR_EST (default) or NDE_REG_STIFF_EST */
    nde_local_sampling sampling; /**< how t_reg is drawn */
    double coef;                  /**< λ >= 0 */
    /** absolute tolerance (> 0) of the error norm and the dt heuristic */
    double atol, rtol;            /**< relative tolerance (> 0) of the error norm and the dt heuristic */
    double scale;                 /**< stiffness divisor (0 → 1) */
    int diff_start;               /**< 0 (reference): k1 held constant. 1: k1 = f(t_reg, u)
                                     is differentiated too (one more VJP), so grad_u is
                                     the full ∂R/∂u(t_reg) */
    uint64_t seed;                /**< of the generator drawing t_reg / the reservoir */
} nde_local_reg_spec;

/** What one local regularizer evaluation found. */
typedef struct nde_local_reg_result {
    double value;     /**< R */
    /** where the step started */
    double t_reg, dt; /**< the step's signed size */
    double err_est;   /**< E of the step */
    double stiff_est; /**< S of the step (unscaled) */
    size_t nfe;       /**< evaluations of f this call made (6, +1 for k1, +1 for the dt probe) */
} nde_local_reg_result;

/** A local regularizer (opaque): one extra step from a sampled time, with workspace and generator. */
typedef struct nde_local_reg nde_local_reg;

/** field is borrowed (must outlive lr; a field with a vjp). max_batch: the largest batch
 * evaluated; workspace for it is allocated here. Errors: NDE_ERR_ARG (NULL, bad kind,
 * sampling or tolerances, negative coef, max_batch 0), NDE_ERR_NOMEM. */
NDE_API nde_status nde_local_reg_create(const nde_field *field, size_t max_batch,
                                        const nde_local_reg_spec *spec, nde_local_reg **out);
NDE_API void nde_local_reg_destroy(nde_local_reg **lr); /**< NULL-safe; sets *lr = NULL */
/** Set the coefficient λ (>= 0), e.g. from a schedule. */
NDE_API nde_status nde_local_reg_set_coef(nde_local_reg *lr, double coef);

/** Unbiased: t_reg ~ U[t0, t1) (t0 < t1 or t0 > t1) from lr's generator. */
NDE_API nde_status nde_local_reg_draw_time(nde_local_reg *lr, double t0, double t1, double *t_reg);

/** Biased: reset the reservoir for a solve of `batch` samples starting at (t0, u0 (batch,
 * dim)). Then every accepted step of the solve must be passed to nde_local_reg_observe
 * (use nde_local_reg_callback as the solver's step callback with user = lr, or call
 * observe from your own callback). */
NDE_API nde_status nde_local_reg_begin(nde_local_reg *lr, size_t batch, double t0,
                                       const double *u0);
/** Offer the start of an accepted step as candidate (rejected steps are ignored). */
NDE_API void nde_local_reg_observe(nde_local_reg *lr, const nde_step_info *info);
NDE_API int nde_local_reg_callback(const nde_step_info *info, void *lr); /**< always 0 */
/** The sampled (t_reg, u(t_reg)) after the solve (u borrowed from lr, valid until the
 * next begin). NDE_ERR_STATE if begin was not called or no step was observed. */
NDE_API nde_status nde_local_reg_sample(const nde_local_reg *lr, double *t_reg, const double **u);

/** Evaluate R at (t_reg, u (batch, dim)) for the step towards t_end.
 * k1 (batch, dim): f(t_reg, u) if the caller has it (FSAL), else NULL (computed).
 * dt: 0 → the heuristic; otherwise used as given (signed towards t_end; this is how
 *     finite-difference checks hold dt fixed).
 * grad_theta (n_params): λ ∂R/∂θ ADDED; NULL → not wanted.
 * grad_u (batch, dim): ∂R/∂u(t_reg) WRITTEN (k1 held constant unless diff_start); NULL
 *     → not wanted.
 * res: value and diagnostics (may be NULL).
 * t_reg == t_end gives R = 0. Errors: NDE_ERR_ARG (NULL u, batch 0 or > max_batch,
 * non-finite times, dt pointing away from t_end), NDE_ERR_NONFINITE (non-finite state or
 * estimate), the field's status. */
NDE_API nde_status nde_local_reg_eval(nde_local_reg *lr, size_t batch, double t_reg,
                                      const double *u, const double *k1, double t_end, double dt,
                                      double *grad_theta, double *grad_u,
                                      nde_local_reg_result *res);

/* ---- helpers for the sampled-time methods ------------------------------------ */

/** ts_out (nt + 1) = ts (nt, strictly monotone) with t inserted in order; *index is its
 * position. If t equals a save time, ts_out = ts, *index is that position and *nt_out =
 * nt; otherwise *nt_out = nt + 1. NDE_ERR_ARG if t lies outside [ts[0], ts[nt−1]] or is
 * not finite. */
NDE_API nde_status nde_reg_insert_time(const double *ts, size_t nt, double t, double *ts_out,
                                       size_t *nt_out, size_t *index);

/** STEER: the end time T ~ U[t1 − b, t1 + b] for a solve on [t0, t1]; needs
 * 0 <= b < |t1 − t0| (NDE_ERR_ARG otherwise). */
NDE_API nde_status nde_steer_end_time(nde_rng *rng, double t0, double t1, double b, double *t_end);

#ifdef __cplusplus
}
#endif
#endif
