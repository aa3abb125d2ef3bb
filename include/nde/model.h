/** @file
 * nde/model.h — one model interface: every trainable map y = model(x; θ).
 *
 * An nde_model is an object in the SUNDIALS style, {content, ops}: a table of function
 * pointers (forward, backward, init, and optionally reserve, vector field, training
 * mode) over the model's own data. The MLP, the FNO (1-D, 2-D), MgNO, a neural ODE and a
 * user's model all implement it, so one trainer (nde/trainer.h), one checkpoint format
 * and one gradient check serve them all.
 *
 * Shapes: x is (batch, in_size) and y (batch, out_size), row-major, one sample per row
 * (fields flatten as (channels, n1[, n2]) per sample).
 *
 * Parameter ownership — one rule everywhere (docs/architecture.md):
 *   - A model OWNS exactly one parameter store (nde_params): one flat θ and one flat
 *     gradient. nde_model_destroy frees it. A model that wraps another (a neural ODE
 *     around its vector-field model) owns the inner model and so its store.
 *   - Layers and networks (nde_dense, nde_mlp, nde_fno, nde_mgno, spectral and
 *     pointwise layers) BORROW a store: they register named tensors in it and keep
 *     offsets. They never initialize in create; `_init` draws θ from an explicit rng.
 *   - Creating a model never draws random numbers; nde_model_init does, in a fixed
 *     order, so the same seed gives the same bits.
 *
 * A user's model fills an nde_model_ops table and calls nde_model_create
 * (tests/test_model.c has a complete one with its gradient check).
 *
 * Typical use (compiled and run by the test suite): an MLP model, its gradient for the
 * loss Σ y over a batch of two:
 *     nde_model *m;
 *     NDE_TRY(nde_model_mlp_create(&(nde_mlp_spec){.in = 3, .out = 2, .hidden = {8},
 *                                  .act = NDE_ACT_TANH}, "mlp", NDE_INIT_TORCH, 0.0, &m));
 *     nde_rng rng;  nde_rng_seed(&rng, 1);
 *     NDE_TRY(nde_model_init(m, &rng));                   // θ drawn here, not in create
 *     double x[2 * 3] = {1, 2, 3, -1, 0, 1}, y[2 * 2], gy[2 * 2] = {1, 1, 1, 1};
 *     NDE_TRY(nde_model_forward(m, x, y, 2));
 *     nde_params *p = nde_model_params(m);               // owned by the model
 *     nde_params_zero_grad(p);
 *     NDE_TRY(nde_model_backward(m, gy, NULL, nde_params_grad(p), 2));
 *     printf("model %s: %zu parameters\n", nde_model_kind(m), nde_model_n_params(m));
 *     nde_model_destroy(&m);                             // frees the store too
 */
#ifndef NDE_MODEL_H
#define NDE_MODEL_H

#include "nde/adjoint.h"
#include "nde/core.h"
#include "nde/field.h"
#include "nde/mgno.h"
#include "nde/nn.h"
#include "nde/ode.h"
#include "nde/operators.h"
#include "nde/params.h"
#include "nde/reg.h"
#include "nde/sde.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A model (opaque): content behind an ops table plus its parameter store; MLP, FNO, MgNO, neural ODE or the user's own. */
typedef struct nde_model nde_model;

/** What a model implements. `self` is the content given to nde_model_create; `p` is the
 * model's store (θ read at call time).
 *   forward   y (batch, out_size) = model(x (batch, in_size)); keeps what backward needs
 *             (a model is used by one thread at a time).                        required
 *   backward  after forward on the same batch with θ unchanged, given gy (batch, out):
 *             gx (batch, in) = gyᵀ ∂y/∂x — overwritten; NULL → not wanted
 *             gtheta (n_params) += gyᵀ ∂y/∂θ — accumulated; NULL → not wanted   required
 *   init      fill θ from rng (a fixed order of draws). NULL: θ stays as it is.
 *   reserve   grow workspaces for batches up to max_batch (NULL: nothing to do).
 *   field     the model as a vector field f(t, u) (dim = in = out), borrowing the model;
 *             NULL → the model is not a field (nde_model_field fails).
 *   set_training  1 before training steps, 0 before evaluation (e.g. a neural ODE solves
 *             without a tape when 0). NULL: no difference.
 *   destroy   free `self` (NULL: nothing to free). Never frees p: the model does. */
typedef struct nde_model_ops {
    const char *kind; /**< "mlp", "fno", "mgno", "node", or the user's name */
    nde_status (*forward)(void *self, nde_params *p, const double *x, double *y, size_t batch); /**< y = model(x); keeps what backward needs. Required. */
    /** gx = gyᵀ ∂y/∂x (overwritten) and gtheta += gyᵀ ∂y/∂θ (accumulated) after forward on the same batch. Required. */
    nde_status (*backward)(void *self, nde_params *p, const double *gy, double *gx,
                           double *gtheta, size_t batch);
    nde_status (*init)(void *self, nde_params *p, nde_rng *rng); /**< fill θ from rng; NULL: θ stays as it is */
    nde_status (*reserve)(void *self, size_t max_batch); /**< grow workspaces for batches up to max_batch; may be NULL */
    nde_status (*field)(void *self, nde_params *p, nde_field *field); /**< the model as a vector field (dim = in = out); NULL: not a field */
    nde_status (*set_training)(void *self, int training); /**< 1 before training steps, 0 before evaluation; may be NULL */
    void (*destroy)(void *self); /**< free self (never p); may be NULL */
} nde_model_ops;

/** Make a model from an ops table (borrowed: must outlive the model, e.g. static), its
 * content `self` and its store `params`. The model TAKES OWNERSHIP of self and params,
 * also when it fails (then both are freed: ops->destroy(self), nde_params_destroy).
 * Errors: NDE_ERR_ARG (NULL ops/params/out, no forward or backward, zero sizes),
 * NDE_ERR_NOMEM. */
NDE_API nde_status nde_model_create(const nde_model_ops *ops, void *self, nde_params *params,
                                    size_t in_size, size_t out_size, nde_model **out);
/** Frees the content, the store and any wrapped model. NULL-safe; sets *m = NULL. */
NDE_API void nde_model_destroy(nde_model **m);

/** y (batch, out_size) = model(x (batch, in_size)); keeps what nde_model_backward() needs. */
NDE_API nde_status nde_model_forward(nde_model *m, const double *x, double *y, size_t batch);
/** After nde_model_forward() on the same batch with θ unchanged: gx (batch, in_size) = gyᵀ ∂y/∂x (overwritten; NULL: not wanted) and gtheta (n_params) += gyᵀ ∂y/∂θ (accumulated; NULL: not wanted). */
NDE_API nde_status nde_model_backward(nde_model *m, const double *gy, double *gx, double *gtheta,
                                      size_t batch);
/** NDE_ERR_ARG for NULL; a model without init keeps θ. */
NDE_API nde_status nde_model_init(nde_model *m, nde_rng *rng);
/** Grow the workspaces for batches up to max_batch now, so later calls do not allocate. */
NDE_API nde_status nde_model_reserve(nde_model *m, size_t max_batch);
/** NDE_ERR_UNSUPPORTED if the model is not a vector field. */
NDE_API nde_status nde_model_field(nde_model *m, nde_field *field);
/** 1 before training steps, 0 before evaluation (a neural ODE then solves without a tape or regularizer). */
NDE_API nde_status nde_model_set_training(nde_model *m, int training);

/** The model's store: parameter count, tensor names and shapes (nde_params_tensor), θ and
 * gradient. Owned by the model. NULL for NULL. */
NDE_API nde_params *nde_model_params(nde_model *m);
/** Number of parameters (length of θ); 0 for NULL. */
NDE_API size_t nde_model_n_params(const nde_model *m);
/** Input doubles per sample; 0 for NULL. */
NDE_API size_t nde_model_in_size(const nde_model *m);
/** Output doubles per sample; 0 for NULL. */
NDE_API size_t nde_model_out_size(const nde_model *m);
NDE_API const char *nde_model_kind(const nde_model *m); /**< "" for NULL */
/** The content given to nde_model_create (for the user's own ops); NULL for NULL. */
NDE_API void *nde_model_content(nde_model *m);

/* ---- built-in models ---------------------------------------------------------- */

/** MLP y = MLP(x) (t = 0), tensors "<prefix>.<l>.weight/bias". init: nde_mlp_init with
 * `init` and `scale` (see nde/nn.h). field: f(t, u) = MLP(t, u) when in = out. */
NDE_API nde_status nde_model_mlp_create(const nde_mlp_spec *spec, const char *prefix,
                                        nde_init init, double scale, nde_model **out);
/** The network inside an MLP model (borrowed), e.g. to build a custom field around it. */
NDE_API nde_mlp *nde_model_mlp_net(nde_model *m);

/** FNO (nde/operators.h) on grid n (n[0], and n[1] in 2-D) for batches up to max_batch,
 * each batch split over n_threads threads (1: the calling thread). in_size =
 * in_channels·Πn, out_size = out_channels·Πn. init: nde_fno_init. field: nde_fno_field
 * (in = out channels). ctx borrowed (FFT plan cache). */
NDE_API nde_status nde_model_fno_create(nde_ctx *ctx, const nde_fno_spec *spec, const size_t *n,
                                        size_t max_batch, size_t n_threads, nde_model **out);
/** The network inside an FNO model (borrowed); NULL if m is not one. */
NDE_API nde_fno *nde_model_fno_net(nde_model *m);

/** MgNO (nde/mgno.h) for batches up to max_batch, tensors "<prefix>.…". init:
 * nde_mgno_init. field: nde_mgno_field (c_in = c_out). */
NDE_API nde_status nde_model_mgno_create(const nde_mgno_spec *spec, const char *prefix,
                                         size_t max_batch, nde_model **out);
/** The network inside an MgNO model (borrowed); NULL if m is not one. */
NDE_API nde_mgno *nde_model_mgno_net(nde_model *m);

/* ---- the neural ODE as a model ----------------------------------------------------
 * x = u0 (batch, dim); the forward solves du/dt = f(t, u; θ) with f the vector field of
 * the wrapped model and writes the states at the save times ts as
 *   NDE_NODE_TRAJECTORY  y (batch, nt, dim): every save time, sample-major
 *   NDE_NODE_FINAL       y (batch, dim): the state at ts[nt−1]
 * The backward is the adjoint the spec names (nde/adjoint.h: discrete over stages, step
 * starts or checkpoints, backsolve, interpolating, CVODES), by default the discrete
 * adjoint through the solver's own steps over spec.solver.tape (NDE_TAPE_NONE is taken
 * as NDE_TAPE_STAGES; continuous and CVODES adjoints record no tape, so SUNDIALS methods
 * work with NDE_ADJ_CVODES, NDE_ADJ_BACKSOLVE or NDE_ADJ_INTERPOLATING); with the optional step regularizer (borrowed, discrete adjoints
 * only) its gradient on the same solve is added. In evaluation mode
 * (nde_model_set_training(m, 0)) the forward solves without a tape or regularizer. */
/** What a neural ODE model outputs (see above). */
typedef enum nde_node_output { NDE_NODE_TRAJECTORY = 0, /**< y (batch, nt, dim): every save time */ NDE_NODE_FINAL /**< y (batch, dim): the state at ts[nt−1] */ } nde_node_output;

/** What nde_model_node_create() builds: solver options, save times, output, regularizer, adjoint. */
typedef struct nde_node_spec {
    nde_solver_opts solver; /**< method, tolerances, tape, tape cap … (nde/ode.h) */
    const double *ts;       /**< (nt) save times, strictly monotone; copied */
    size_t nt;              /**< >= 2 */
    nde_node_output output; /**< the whole trajectory or the final state */
    nde_reg *reg;           /**< optional global regularizer (borrowed; must outlive the model) */
    const nde_adjoint_opts *adjoint; /**< NULL: discrete over solver.tape; else copied */
} nde_node_spec;

/** Wrap `field_model` (ownership TAKEN, also on failure) whose nde_model_field gives the
 * vector field. The neural ODE's store is the wrapped model's. ctx: as nde_solver_create
 * (NULL for the explicit RK methods; SUNDIALS methods and the CVODES adjoint need one).
 * Errors: NDE_ERR_ARG (NULL, nt < 2), NDE_ERR_UNSUPPORTED (a regularizer with a
 * continuous adjoint), the field's, the solver's and nde_adjoint_create's errors. */
NDE_API nde_status nde_model_node_create(nde_ctx *ctx, nde_model *field_model,
                                         const nde_node_spec *spec, nde_model **out);
/** The solver of the last forward in training mode (its step log and statistics), the
 * evaluation-mode solver, the wrapped model, and the regularizer's value on the last
 * training solve (0 without one). NULL / 0 if m is not a neural ODE. */
NDE_API nde_solver *nde_model_node_solver(nde_model *m);
/** The solver of evaluation-mode forwards; NULL if m is not a neural ODE. */
NDE_API nde_solver *nde_model_node_eval_solver(nde_model *m);
/** The wrapped vector-field model; NULL if m is not a neural ODE. */
NDE_API nde_model *nde_model_node_field_model(nde_model *m);
/** The regularizer's value on the last training solve; 0 without one or if m is not a neural ODE. */
NDE_API double nde_model_node_reg_value(const nde_model *m);


/* ---- the neural SDE as a model -----------------------------------------------------
 * x = u0 (batch, dim); the forward solves the Itô SDE du = f(t, u; θ_f) dt + g(t, u; θ_g) dW
 * (nde/sde.h) with f the vector field of the drift model and g the vector field of the
 * diffusion model (dim = in = out for both; diagonal, scalar or additive noise; for
 * additive noise g is evaluated at u = 0, so it depends on t and θ_g only). Every forward
 * draws a fresh Brownian path (one nde_rng_u64 draw of the model's generator, seeded by
 * spec.seed) and the backward uses that same path: the discrete adjoint nde_sde_adjoint
 * (or nde_sde_adjoint_reg with a regularizer) through the solver's own steps. Output:
 *   NDE_SDE_OUT_TRAJECTORY  y (batch, nt, dim): every save time, sample-major
 *   NDE_SDE_OUT_FINAL       y (batch, dim): the state at ts[nt−1]
 *   NDE_SDE_OUT_MOMENTS     y (batch, nt, 2·dim): per save time the mean (dim) then the
 *                           variance (dim, population: 1/n_paths) over n_paths paths
 *                           started from the same x, each driven by its own noise
 * The model owns one store holding the drift's tensors as "drift.<name>" and then the
 * diffusion's as "diffusion.<name>"; it owns both wrapped models and copies θ into them
 * before each forward. */
/** What a neural SDE model outputs (see above). */
typedef enum nde_sde_output {
    NDE_SDE_OUT_TRAJECTORY = 0, /**< y (batch, nt, dim): every save time */
    NDE_SDE_OUT_FINAL,          /**< y (batch, dim): the state at ts[nt−1] */
    NDE_SDE_OUT_MOMENTS         /**< y (batch, nt, 2·dim): mean and variance over n_paths paths */
} nde_sde_output;

/** What nde_model_sde_create() builds. */
typedef struct nde_sde_model_spec {
    nde_noise noise;        /**< NDE_NOISE_DIAGONAL, _SCALAR or _ADDITIVE */
    nde_sde_opts solver;    /**< method, rtol/atol or fixed step (h0, fixed_step) …; the
                               training solver uses solver.tape (and checkpoint_every) when
                               it is not NDE_TAPE_NONE, else the stage tape with the two
                               networks' records (as the neural ODE: no forward pass in
                               the reverse sweep; NDE_TAPE_STEP_STARTS or _CHECKPOINT
                               keep less); evaluation-mode forwards keep no tape */
    const double *ts;       /**< (nt) save times, strictly increasing; copied */
    size_t nt;              /**< >= 2 */
    nde_sde_output output;  /**< see above */
    size_t n_paths;         /**< NDE_SDE_OUT_MOMENTS: paths per input sample (>= 2); else ignored */
    uint64_t seed;          /**< seeds the model's generator of Brownian paths */
    size_t tree_depth;      /**< Brownian tree depth; 0 → for fixed steps the shallowest depth
                               whose leaves are at most the shortest step (each step end
                               alone in its leaf: the increments used have their exact joint
                               law; at most 24), for adaptive steps nde_brownian_create's
                               default (24). Paths at non-dyadic times then differ between
                               step sizes: set it to compare solves on one path */
    nde_reg *reg;           /**< optional ERNSDE / SRNSDE regularizer (nde_sde_reg_value;
                               borrowed, must outlive the model): its gradient is added in
                               the backward of training forwards. A local one
                               (nde_sde_reg_local) draws t_reg from the model's generator
                               after the path: unbiased adds t_reg to the training solve's
                               save times (not to the output), biased picks a step after
                               the solve; nde_model_sde_hold replays the same draw */
} nde_sde_model_spec;

/** Wrap a drift model and a diffusion model (ownership of both TAKEN, also on failure),
 * each a vector field (nde_model_field) of the same dim. ctx: unused (NULL), kept for
 * symmetry with nde_model_node_create. Errors: NDE_ERR_ARG (NULL, nt < 2, n_paths < 2
 * for moments, unknown output or noise), NDE_ERR_SHAPE (the fields' dims differ),
 * NDE_ERR_UNSUPPORTED (general noise; a regularizer with a method that has no error
 * estimate), the solver's errors (nde_sde_solver_create). */
NDE_API nde_status nde_model_sde_create(nde_ctx *ctx, nde_model *drift_model,
                                        nde_model *diffusion_model,
                                        const nde_sde_model_spec *spec, nde_model **out);
/** The solver of the last training-mode forward (step log, statistics); NULL if m is not a neural SDE. */
NDE_API nde_sde_solver *nde_model_sde_solver(nde_model *m);
/** The solver of evaluation-mode forwards (no tape; its statistics are those of the last
 * evaluation-mode forward, e.g. the prediction NFE); NULL if m is not a neural SDE. */
NDE_API nde_sde_solver *nde_model_sde_eval_solver(nde_model *m);
/** The regularizer's value on the last training forward; 0 without one or if m is not a neural SDE. */
NDE_API double nde_model_sde_reg_value(const nde_model *m);
/** hold = 1: the following forwards reuse the last forward's Brownian path (same batch)
 * and, for adaptive methods, its accepted steps (nde_sde_freeze_steps), e.g. for a
 * finite-difference check; hold = 0: a fresh path and free steps again. NDE_ERR_ARG if m
 * is not a neural SDE; NDE_ERR_STATE when holding without a previous forward. */
NDE_API nde_status nde_model_sde_hold(nde_model *m, int hold);
/** Reseed the generator of Brownian paths (as spec.seed does at create). The trainer's
 * checkpoints do not hold this generator: to resume with the bits of an uninterrupted run,
 * reseed from the step in the trainer's on_step_begin callback, e.g.
 * nde_model_sde_reseed(info->model, base ^ info->step). NDE_ERR_ARG if m is not a neural SDE. */
NDE_API nde_status nde_model_sde_reseed(nde_model *m, uint64_t seed);
/** The wrapped drift model; NULL if m is not a neural SDE. */
NDE_API nde_model *nde_model_sde_drift_model(nde_model *m);
/** The wrapped diffusion model; NULL if m is not a neural SDE. */
NDE_API nde_model *nde_model_sde_diffusion_model(nde_model *m);

#ifdef __cplusplus
}
#endif
#endif
