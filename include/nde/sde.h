/** @file
 * nde/sde.h — stochastic differential equations du = f(t,u;θ_f) dt + g(t,u;θ_g) dW (Itô),
 * with a seeded Brownian tree, fixed-step and adaptive stochastic Runge–Kutta solvers
 * with open internals, and a discrete adjoint through the solver's own steps.
 *
 * The drift is an ordinary nde_field (nde/field.h); the diffusion is an nde_diffusion
 * next to it. A batch of `batch` states is one system with shared steps, each sample
 * driven by its own m Wiener processes (the Brownian tree has batch·m components).
 *
 * Every accepted step is recorded in the same step log as the ODE solvers
 * (nde_step_rec: t, h, normalized error estimate, stiffness estimate for SOSRI2),
 * with the same counters (nde_solver_stats) and per-step callback (nde_step_callback).
 * Brownian increments always come from the tree, so a rejected step that is retried
 * with a smaller h, a frozen replay and the adjoint's reverse sweep all see the same
 * path. docs/sde.md lists what exists and what does not.
 *
 * Typical use (compiled and run by the test suite): geometric Brownian motion
 * du = 0.5 u dt + 0.2 u dW for 4 samples, adaptive SOSRI, saved at t = 0, 0.5, 1:
 *     double mu = 0.5, sig = 0.2;
 *     nde_field f = nde_sde_example_linear_drift(&mu);
 *     nde_diffusion g = nde_sde_example_linear_diffusion(&sig);
 *     nde_rng rng;  nde_rng_seed(&rng, 7);
 *     nde_brownian *bm;  NDE_TRY(nde_brownian_create(&rng, 0.0, 1.0, 4, 0, &bm));
 *     nde_sde_opts o = nde_sde_defaults(NDE_SDE_SOSRI);
 *     o.rtol = 1e-2; o.atol = 1e-2;
 *     nde_sde_solver *s;  NDE_TRY(nde_sde_solver_create(&f, &g, &o, &s));
 *     double u0[4] = {1, 1, 1, 1}, ts[3] = {0.0, 0.5, 1.0}, traj[3 * 4];
 *     NDE_TRY(nde_sde_solve(s, bm, 4, 1, u0, 3, ts, traj));
 *     printf("u(1) of sample 0: %g after %zu steps\n", traj[8],
 *            nde_sde_get_stats(s)->n_accepted);
 *     nde_sde_solver_destroy(&s);  nde_brownian_destroy(&bm);
 */
#ifndef NDE_SDE_H
#define NDE_SDE_H

#include "nde/core.h"
#include "nde/field.h"
#include "nde/ode.h"
#include "nde/reg.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Structure of the diffusion term g: how the m Wiener processes of a sample enter. */
typedef enum nde_noise {
    NDE_NOISE_DIAGONAL = 0, /**< m = dim; g (batch, dim), component i driven by W_i;
                               g_i may depend on u_i only (the Milstein methods and the
                               SRI methods' order rely on it) */
    NDE_NOISE_SCALAR,       /**< m = 1; g (batch, dim), every component driven by one W */
    NDE_NOISE_ADDITIVE,     /**< m = dim; g (batch, dim) independent of u (diagonal additive) */
    NDE_NOISE_GENERAL,      /**< any m; g (batch, dim, m), du = f dt + G dW (Euler–Maruyama only) */
    NDE_NOISE_COUNT         /**< number of noise types */
} nde_noise;

/** A diffusion g(t, u; θ) for a batch of states, with its vector–Jacobian product.
 * Output layout per sample: dim doubles (diagonal, scalar, additive) or dim·m (general,
 * row-major (dim, m)); nde_diffusion_size() gives it.
 * vjp: given v with g's layout, vu (batch,dim) = vᵀ ∂g/∂u (overwritten; NULL → not
 * wanted; additive noise may write zeros) and gtheta (n_params) += vᵀ ∂g/∂θ (accumulated;
 * NULL → not wanted). Callbacks return NDE_OK or a status with a message. */
typedef struct nde_diffusion {
    size_t dim;       /**< state elements per sample; must equal the drift's */
    size_t m;         /**< Wiener processes per sample (see nde_noise) */
    nde_noise noise;  /**< noise structure */
    size_t n_params;  /**< length of θ_g (0 for a parameter-free diffusion) */
    void *ctx;        /**< passed to every callback */
    /** gout (batch, size) = g(t, u); required */
    nde_status (*g)(void *ctx, double t, const double *u, double *gout, size_t batch);
    /** vu = vᵀ ∂g/∂u (overwritten), gtheta += vᵀ ∂g/∂θ; required by the adjoint */
    nde_status (*vjp)(void *ctx, double t, const double *u, const double *v, double *vu,
                      double *gtheta, size_t batch);
    size_t rec_size; /**< doubles per sample written by g_rec */
    /** g that also writes batch·rec_size doubles of record into rec; optional, with
     * vjp_rec (as nde_field's f_rec: the stage tape keeps the records, so the reverse
     * sweep does not redo the forward pass of a network) */
    nde_status (*g_rec)(void *ctx, double t, const double *u, double *gout, double *rec,
                        size_t batch);
    /** vjp given the record g_rec wrote; optional, with g_rec; must give vjp's bits */
    nde_status (*vjp_rec)(void *ctx, double t, const double *u, const double *rec,
                          const double *v, double *vu, double *gtheta, size_t batch);
} nde_diffusion;

/** Doubles per sample that g writes: dim, or dim·m for general noise (0 for a NULL g). */
NDE_API size_t nde_diffusion_size(const nde_diffusion *g);

/** Check a diffusion against a state size: NDE_ERR_ARG for a NULL struct or callback
 * (vjp only when need_vjp), an unknown noise type or m = 0; NDE_ERR_SHAPE when dim
 * differs from `dim` or m does not fit the noise type (diagonal/additive: m = dim,
 * scalar: m = 1). The message names the sizes. */
NDE_API nde_status nde_diffusion_check(const nde_diffusion *g, size_t dim, int need_vjp);

/* ---- Brownian tree ------------------------------------------------------------- */

/** A virtual Brownian tree over [t0, t1] with n independent components (opaque).
 * Each node of the dyadic tree draws its split from counter-based normals keyed by the
 * tree seed and the node's (level, index), so a point's value does not depend on which
 * points were asked before. The tree carries the running time integral A(t) = ∫W with
 * W, so both W and the space–time Lévy area H of any interval follow exactly (Gaussian
 * bridge conditioning of (W, ∫W), both at dyadic midpoints and inside the leaf). Only
 * the path from the root to the last queried point is kept: O(depth·n) memory. */
typedef struct nde_brownian nde_brownian;

/** Create a tree: the seed is one nde_rng_u64(rng) draw; n components on [t0, t1]
 * (t0 < t1, finite); depth levels (0 → 24; at most 50) before a point is placed by
 * bridge conditioning inside its leaf. Two points in the same leaf (closer than
 * (t1−t0)/2^depth) are conditioned independently, the tree's only approximation.
 * @return NDE_ERR_ARG on NULL arguments, n = 0, a bad interval or depth */
NDE_API nde_status nde_brownian_create(nde_rng *rng, double t0, double t1, size_t n,
                                       size_t depth, nde_brownian **bm);
/** A tree of W only (no space–time areas): the Brownian bridge at each split, half the
 * normals of nde_brownian_create's tree, for methods that never read H (em, milstein,
 * milstein_df). Its path differs from the full tree's for the same seed (same law).
 * nde_brownian_point with A ≠ NULL (and nde_brownian_increment with dH) on it, or a solve
 * whose method needs H, returns NDE_ERR_ARG. */
NDE_API nde_status nde_brownian_create_w(nde_rng *rng, double t0, double t1, size_t n,
                                         size_t depth, nde_brownian **bm);
/** 1 if the tree carries space–time areas (nde_brownian_create), 0 if W only or NULL. */
NDE_API int nde_brownian_has_areas(const nde_brownian *bm);
/** Give the tree a new path: one nde_rng_u64(rng) draw for its seed, as
 * nde_brownian_create makes it, so the points are bit for bit those of a tree created
 * from the same generator state (same interval, n and depth); the memory is reused.
 * @return NDE_ERR_ARG on NULL arguments */
NDE_API nde_status nde_brownian_reseed(nde_brownian *bm, nde_rng *rng);
/** Destroy a tree (NULL-safe; sets *bm = NULL). */
NDE_API void nde_brownian_destroy(nde_brownian **bm);
/** Number of components. */
NDE_API size_t nde_brownian_size(const nde_brownian *bm);
/** W(t) − W(t0) and A(t) = ∫_{t0}^{t} (W(r) − W(t0)) dr at one time t in [t0, t1]
 * (n doubles each; A may be NULL). Deterministic in t. NDE_ERR_ARG outside [t0, t1]. */
NDE_API nde_status nde_brownian_point(nde_brownian *bm, double t, double *W, double *A);
/** Increment over [s, t] (n doubles each): dW = W(t) − W(s) and, when dH is not NULL,
 * the space–time Lévy area dH = (∫_s^t (W(r) − W(s)) dr)/(t − s) − dW/2 (variance
 * |t−s|/12, independent of dW). Reversed intervals give dW(t,s) = −dW(s,t) exactly; dH
 * is defined for s != t. s = t gives zeros. NDE_ERR_ARG outside [t0, t1]. */
NDE_API nde_status nde_brownian_increment(nde_brownian *bm, double s, double t, double *dW,
                                          double *dH);

/* ---- solvers ------------------------------------------------------------------- */

/** SDE integration methods (Itô). Strong orders for the noise they support. */
typedef enum nde_sde_method {
    NDE_SDE_EM = 0,      /**< Euler–Maruyama, fixed step, any noise; strong 0.5 (1.0 additive), weak 1 */
    NDE_SDE_MILSTEIN,    /**< Milstein, fixed step, diagonal noise; strong 1.0; uses the
                            diffusion's vjp for g ∂g/∂u (forward only: no adjoint) */
    NDE_SDE_MILSTEIN_DF, /**< derivative-free Milstein (Kloeden–Platen 11.1.5, StochasticDiffEq
                            RKMil), fixed step, diagonal or scalar noise; strong 1.0 */
    NDE_SDE_SRIW1,       /**< Rößler SRIW1, adaptive, diagonal/scalar noise; strong 1.5, δ = 1/6 */
    NDE_SDE_SOSRI,       /**< Rackauckas–Nie SOSRI (stability-optimized SRI), adaptive */
    NDE_SDE_SOSRI2,      /**< SOSRI2, adaptive; logs the stiffness estimate ‖k4−k3‖/‖H03−H02‖ */
    NDE_SDE_SRA1,        /**< Rößler SRA1, adaptive, additive noise; strong 1.5 */
    NDE_SDE_SOSRA,       /**< Rackauckas–Nie SOSRA, adaptive, additive noise; strong 1.5 */
    NDE_SDE_METHOD_COUNT /**< number of methods */
} nde_sde_method;

/** "em", "milstein", "milstein_df", "sriw1", "sosri", "sosri2", "sra1", "sosra"; "unknown" if out of range. */
NDE_API const char *nde_sde_method_name(nde_sde_method m);
/** Parse a name as printed by nde_sde_method_name (case-insensitive); NDE_ERR_ARG if unknown. */
NDE_API nde_status nde_sde_method_parse(const char *name, nde_sde_method *m);
/** 1 if the method has an embedded error estimate (SRIW1, SOSRI, SOSRI2, SRA1, SOSRA). */
NDE_API int nde_sde_method_is_adaptive(nde_sde_method m);

/** Options of an SDE solver (nde_sde_defaults() fills them); 0 means the default where noted. */
typedef struct nde_sde_opts {
    nde_sde_method method; /**< integration method */
    double rtol;           /**< relative tolerance (> 0) */
    double atol;           /**< absolute tolerance (> 0) */
    double h0;             /**< first step (adaptive) or the step (fixed); 0 → span/100 */
    double dt_min;         /**< smallest |h| before NDE_ERR_DT_MIN (0 → 1e-12·span); steps
                              shortened to land on a save time are exempt */
    double dt_max;         /**< largest h (0 → unlimited) */
    size_t max_steps;      /**< attempted steps before NDE_ERR_MAX_STEPS (0 → 100000) */
    double safety;         /**< step-size safety factor (0 → 0.9) */
    double fac_min;        /**< smallest h_new/h (0 → 0.2) */
    double fac_max;        /**< largest h_new/h (0 → 10) */
    double expo;           /**< controller exponent: h_new = h·safety·E^-expo (0 → 1/2) */
    double delta;          /**< weight δ of the drift error E1 in δ·E1 + E2 (0 → the
                              StochasticDiffEq default: 1/6 for SRIW1, 1 otherwise) */
    int fixed_step;        /**< adaptive methods: uniform steps of h0 without error control
                              (estimates still logged) */
    nde_tape tape;         /**< for nde_sde_adjoint: NDE_TAPE_NONE (no adjoint),
                              NDE_TAPE_STAGES (every step's start, increments and stages,
                              and the drift's and diffusion's records when they offer
                              f_rec / g_rec: no drift/diffusion forward pass in the reverse
                              sweep),
                              NDE_TAPE_STEP_STARTS (start and increments of every step;
                              the stage inputs recomputed, which for Euler–Maruyama and
                              Milstein (one stage) costs no evaluation) or NDE_TAPE_CHECKPOINT (the start of every
                              checkpoint_every-th step; each segment is re-integrated on the
                              same tree, which must stay alive and unchanged until the
                              adjoint). All three give the same bits of gradient. */
    size_t checkpoint_every; /**< NDE_TAPE_CHECKPOINT: keep every k-th step start (0: only
                              u0, so the whole solve is one segment); the reverse sweep holds
                              one segment's step starts and increments at a time */
    nde_step_callback callback; /**< optional, called after every attempted step */
    void *callback_user;   /**< passed to callback */
} nde_sde_opts;

/** Defaults for a method: rtol = atol = 1e-3, other fields 0 (their defaults). */
NDE_API nde_sde_opts nde_sde_defaults(nde_sde_method m);

/** An SDE solver (opaque): method, options, workspace, step log and tape. */
typedef struct nde_sde_solver nde_sde_solver;

/** Create a solver for drift and diffusion (both borrowed; must outlive the solver).
 * NDE_ERR_ARG: NULL, bad tolerances/steps, unknown method, an unknown tape mode, a tape
 * with NDE_SDE_MILSTEIN or without vjps; NDE_ERR_SHAPE: the
 * diffusion's dim or m does not fit (nde_diffusion_check); NDE_ERR_UNSUPPORTED: a noise
 * type the method cannot handle (general noise except with EM; Milstein with
 * non-diagonal noise; SRA with non-additive noise; SRI with general noise). */
NDE_API nde_status nde_sde_solver_create(const nde_field *drift, const nde_diffusion *diff,
                                         const nde_sde_opts *opts, nde_sde_solver **s);
/** Destroy a solver (NULL-safe; sets *s = NULL). */
NDE_API void nde_sde_solver_destroy(nde_sde_solver **s);

/** Integrate forward from ts[0] to ts[nt−1] (nt >= 2, strictly increasing, inside the
 * tree's interval) from u0 (batch, dim), writing the state at every ts[k] into traj
 * (nt, batch, dim); steps are shortened to land on each save time. The tree must have
 * batch·m components. Errors: NDE_ERR_ARG, NDE_ERR_SHAPE (dim, tree size),
 * NDE_ERR_NONFINITE (u0 or a state, or a non-finite estimate at fixed step),
 * NDE_ERR_DT_MIN, NDE_ERR_MAX_STEPS, NDE_ERR_STOPPED (callback), NDE_ERR_STATE (frozen
 * steps do not fit), or a callback's status. The step log keeps the steps taken. */
NDE_API nde_status nde_sde_solve(nde_sde_solver *s, nde_brownian *bm, size_t batch,
                                 size_t dim, const double *u0, size_t nt, const double *ts,
                                 double *traj);

/** Make the following solves take exactly the accepted steps of the last successful
 * solve (no error control) until unfrozen: gradients "with the steps held constant". */
NDE_API nde_status nde_sde_freeze_steps(nde_sde_solver *s);
/** Undo nde_sde_freeze_steps(). */
NDE_API void nde_sde_unfreeze_steps(nde_sde_solver *s);

/** The accepted steps of the last solve (borrowed; valid until the next solve). */
NDE_API const nde_step_rec *nde_sde_steps(const nde_sde_solver *s, size_t *n_steps);
/** Counters of the last solve and adjoint (borrowed). */
NDE_API const nde_solver_stats *nde_sde_get_stats(const nde_sde_solver *s);

/** Discrete adjoint of the last solve (made with any tape mode but NONE), through the
 * method's own stages on the same Brownian increments, step sizes held constant.
 * dtraj (nt, batch, dim) is ∂L/∂traj. Writes du0 (batch, dim) = ∂L/∂u0 (NULL → not
 * wanted) and accumulates ∂L/∂θ_f into gdrift (drift n_params) and ∂L/∂θ_g into gdiff
 * (diffusion n_params); either may be NULL. NDE_ERR_STATE without a successful taped
 * solve; NDE_ERR_UNSUPPORTED for NDE_SDE_MILSTEIN (needs second derivatives of g). */
NDE_API nde_status nde_sde_adjoint(nde_sde_solver *s, const double *dtraj, double *du0,
                                   double *gdrift, double *gdiff);

/** SOSRI2's stability-region size along the negative real axis (StochasticDiffEq
 * alg_stability_size(SOSRI2)), by which the SRNSDE reference code divides S_j. */
#define NDE_SOSRI2_STABILITY_SIZE 10.6

/** Value of a built-in error-estimate (ERNSDE) or stiffness (SRNSDE) regularizer
 * (nde/reg.h specs: kind, aggregation, coef, weight_dt, scale) on the step log of the
 * last solve: R = coef·agg_j est_j/scale·(weight_dt ? |h_j| : 1). NDE_ERR_UNSUPPORTED for
 * other kinds, for methods without the estimate (stiffness: SOSRI2 only); NDE_ERR_STATE
 * for a local one (below) before nde_sde_local_select. */
NDE_API nde_status nde_sde_reg_value(const nde_reg *reg, const nde_sde_solver *s, double *value);

/** nde_sde_adjoint() of L + R for a regularizer as in nde_sde_reg_value(): the estimates
 * are differentiated through the stages that produce them (step sizes constant;
 * max(|u|, |u'|) at its argmax; zero estimates give zero gradient), as nde/reg.h does for
 * the ODE solvers. */
NDE_API nde_status nde_sde_adjoint_reg(nde_sde_solver *s, const double *dtraj, const nde_reg *reg,
                                       double *du0, double *gdrift, double *gdiff);

/* ---- local ERNSDE (Pal, Edelman & Rackauckas, ICML 2023) ---------------------------
 * R = λ·E(t_reg)·|h(t_reg)|: the error estimate of ONE solver step from u(t_reg) on the
 * same Brownian path, for a random t_reg. It is an nde_reg (nde/reg.h) with the
 * aggregation NDE_REG_LOCAL_UNBIASED or NDE_REG_LOCAL_BIASED (nde_sde_reg_local), so
 * nde_sde_reg_value, nde_sde_adjoint_reg and the neural SDE model's spec.reg take it as
 * they take ERNSDE. The step is the solver's own accepted step from t_reg (its size is
 * the step-size controller's choice there; the tape holds its start and increments), and
 * the gradient is the discrete adjoint's: total, through u(t_reg) back to u0, θ_f and
 * θ_g (LocalRegNeuralDE.jl holds u(t_reg) constant instead).
 *   unbiased  t_reg ~ U[t0, t1) (nde_sde_local_draw_time) drawn before the solve and
 *             added to the save times (nde_reg_insert_time), so a step starts there;
 *   biased    t_reg uniform over the accepted steps' start times (the reference's
 *             rand(sol.t[1:end-1])), drawn after the solve.
 * After each solve, nde_sde_local_select picks the step; until then the value and the
 * adjoint of a local regularizer give NDE_ERR_STATE. */

/** Local ERNSDE: kind NDE_REG_ERROR_EST, aggregation NDE_REG_LOCAL_(UN)BIASED, λ = coef,
 * v = E·|h| (weight_dt 1, scale 1). For the stiffness estimate set kind and scale. */
NDE_API nde_reg_spec nde_sde_reg_local(double coef, nde_local_sampling sampling);
/** t_reg = t0 + U·(t1 − t0), U one nde_rng_uniform draw (t_reg < t1 for t0 < t1).
 * NDE_ERR_ARG for NULL, non-finite times or t0 >= t1. */
NDE_API nde_status nde_sde_local_draw_time(nde_rng *rng, double t0, double t1, double *t_reg);
/** Select the step of the last successful solve that the local regularizer reg evaluates
 * (kept until the next solve; *step receives its index, may be NULL). Unbiased: the
 * accepted step starting exactly at t_reg (rng unused; NDE_ERR_ARG if none starts there:
 * t_reg must be a save time other than the last); biased: a step uniform over the
 * accepted steps, one nde_rng_below draw of rng (t_reg unused). NDE_ERR_ARG for NULL
 * arguments or a reg that is not local; NDE_ERR_STATE without a successful solve. */
NDE_API nde_status nde_sde_local_select(nde_sde_solver *s, const nde_reg *reg, nde_rng *rng,
                                        double t_reg, size_t *step);

/* ---- small fields for examples and tests --------------------------------------- */

/** Scalar drift f(t, u) = a·u (dim 1, no parameters; a borrowed, read at every call). */
NDE_API nde_field nde_sde_example_linear_drift(const double *a);
/** Scalar diagonal diffusion g(t, u) = b·u (dim 1, m 1, no parameters; b borrowed), with vjp. */
NDE_API nde_diffusion nde_sde_example_linear_diffusion(const double *b);

#ifdef __cplusplus
}
#endif
#endif
