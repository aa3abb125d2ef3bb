/** @file
 * nde/stagger.h — NeuralStagger: spatial-temporal decomposition of a fine field into
 * coarse sub-fields, a staggered model of coarse sub-solvers, and the physics-constrained
 * (finite-difference residual) loss of viscous Burgers' equation.
 *
 * NeuralStagger (X. Huang, W. Shi, Q. Meng, Y. Wang, X. Gao, J. Zhang, T.-Y. Liu,
 * "NeuralStagger: Accelerating Physics-constrained Neural PDE Solver with Spatial-temporal
 * Decomposition", ICML 2023, PMLR 202:13993–14006, arXiv:2302.10255) splits a fine field
 * by strided sub-sampling into s_t·s_x coarse sub-fields, gives each to a coarse neural
 * solver, and trains them jointly by arranging their outputs back into the fine solution,
 * on which the ordinary physics-constrained loss (a discretized PDE residual) is taken.
 * docs/stagger.md describes nde's reading of the method.
 *
 * Layouts (row-major, last index contiguous). A fine sample is (channels, nt, n0[, n1]):
 * nt time levels of a field on n0 (× n1) points. With strides s_t, s0 (, s1) dividing nt,
 * n0 (, n1), sub-field k = (a·s0 + b0)·s1 + b1 (a < s_t, b0 < s0, b1 < s1; s1 = 1 in
 * 1-D) is the coarse sample (channels, nt/s_t, n0/s0[, n1/s1]) with
 *     sub_k(c, τ, i, j) = fine(c, a + s_t·τ, b0 + s0·i, b1 + s1·j).
 * A batch of sub-fields is stored piece-major, (n_sub, batch, sub_size), so piece k of
 * every sample is one contiguous (batch, sub_size) block — the input of sub-solver k.
 * Decomposition and arrangement are permutations, mutual inverses (bit-exact), and each
 * is the other's transpose, which gives the VJPs.
 *
 * Typical use (compiled and run by the test suite): a 1-D field of 8 points and two time
 * levels split with s_t = 2, s = 2 into four sub-fields of 4 points, and back:
 *     nde_stagger_grid g = {.ndim = 1, .channels = 1, .nt = 2, .n = {8}, .s_t = 2, .s = {2}};
 *     double fine[16], sub[16], back[16];
 *     for (int i = 0; i < 16; i++) fine[i] = i;
 *     NDE_TRY(nde_stagger_decompose(&g, fine, sub, 1));   // sub[0..4) = 0 2 4 6
 *     NDE_TRY(nde_stagger_arrange(&g, sub, back, 1));     // back == fine, bit for bit
 *     printf("%zu sub-fields of %zu\n", nde_stagger_n_sub(&g), nde_stagger_sub_size(&g));
 */
#ifndef NDE_STAGGER_H
#define NDE_STAGGER_H

#include "nde/core.h"
#include "nde/model.h"
#include "nde/trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the decomposition layer ---------------------------------------------------- */

/** The fine grid and the strides of a decomposition (see the file comment for layouts). */
typedef struct nde_stagger_grid {
    int ndim;        /**< spatial dimensions: 1 or 2 */
    size_t channels; /**< field channels (≥ 1) */
    size_t nt;       /**< fine time levels per sample (≥ 1) */
    size_t n[2];     /**< fine points per spatial dimension (n[1] unused in 1-D) */
    size_t s_t;      /**< time stride, divides nt (≥ 1) */
    size_t s[2];     /**< spatial strides, s[d] divides n[d] (≥ 1; s[1] unused in 1-D) */
} nde_stagger_grid;

/** NDE_OK, or NDE_ERR_ARG naming the field that is zero, out of range or not divisible. */
NDE_API nde_status nde_stagger_check(const nde_stagger_grid *g);
/** Number of sub-fields s_t·s0(·s1); 0 for NULL or an invalid grid. */
NDE_API size_t nde_stagger_n_sub(const nde_stagger_grid *g);
/** Doubles per fine sample, channels·nt·n0(·n1); 0 for NULL or an invalid grid. */
NDE_API size_t nde_stagger_fine_size(const nde_stagger_grid *g);
/** Doubles per sub-field sample, channels·(nt/s_t)·(n0/s0)(·(n1/s1)); 0 for NULL or an
 * invalid grid. */
NDE_API size_t nde_stagger_sub_size(const nde_stagger_grid *g);

/** Decompose fine (batch, fine_size) into sub (n_sub, batch, sub_size) by strided
 * sub-sampling. fine and sub must not overlap. Errors: NDE_ERR_ARG (NULL, batch 0, bad
 * grid). */
NDE_API nde_status nde_stagger_decompose(const nde_stagger_grid *g, const double *fine,
                                         double *sub, size_t batch);
/** Arrange sub (n_sub, batch, sub_size) into fine (batch, fine_size): the exact inverse of
 * nde_stagger_decompose(). Errors as nde_stagger_decompose(). */
NDE_API nde_status nde_stagger_arrange(const nde_stagger_grid *g, const double *sub,
                                       double *fine, size_t batch);
/** VJP of the decomposition: gfine (batch, fine_size) = Dᵀ gsub (overwritten), which is the
 * arrangement of gsub (n_sub, batch, sub_size). */
NDE_API nde_status nde_stagger_decompose_vjp(const nde_stagger_grid *g, const double *gsub,
                                             double *gfine, size_t batch);
/** VJP of the arrangement: gsub (n_sub, batch, sub_size) = Aᵀ gfine (overwritten), which is
 * the decomposition of gfine (batch, fine_size). */
NDE_API nde_status nde_stagger_arrange_vjp(const nde_stagger_grid *g, const double *gfine,
                                           double *gsub, size_t batch);

/* ---- the staggered model ---------------------------------------------------------
 * One nde_model made of coarse sub-solvers: x (batch, fine_size) is decomposed into the
 * n_sub sub-fields, sub-field k goes through sub-solver k (each any nde_model with
 * in_size = out_size = sub_size), and the outputs are arranged into y (batch, fine_size).
 * With a time stride s_t and nt = s_t the input is a window of s_t consecutive fine levels
 * and the output the next s_t levels: sub-solver (a, b) advances its coarse piece of level
 * a by s_t fine time steps (NeuralStagger's temporal decomposition).
 * Parameters: the model's store holds every sub-solver's tensors as "sub<k>.<name>"
 * (one flat θ, so the trainer, optimizers and checkpoints see one model); θ is copied
 * into the sub-solvers' stores at each forward. With one sub-solver its weights are
 * shared by all pieces, which are then run as one batch of n_sub·batch samples. */

/** How nde_model_stagger_create() arranges its sub-solvers. */
typedef struct nde_stagger_model_spec {
    nde_stagger_grid grid; /**< the fine sample and the strides */
    int residual; /**< 1: y_k = x_k + sub_k(x_k) (the solvers learn the increment); 0: y_k = sub_k(x_k) */
} nde_stagger_model_spec;

/** Make the staggered model from n_subs sub-solvers subs[0..n_subs) — n_subs = n_sub (one
 * per piece) or 1 (shared by all pieces; it must accept batches of n_sub·max batch).
 * Ownership of every subs[k] is TAKEN, also on failure (the array itself is borrowed).
 * The model's kind is "stagger"; init draws each sub-solver's θ in order k = 0, 1, ….
 * Errors: NDE_ERR_ARG (NULL, bad grid, n_subs neither 1 nor n_sub, a sub-solver whose in
 * or out size is not sub_size, a tensor name too long), NDE_ERR_NOMEM. */
NDE_API nde_status nde_model_stagger_create(const nde_stagger_model_spec *spec, nde_model **subs,
                                            size_t n_subs, nde_model **out);
/** Number of sub-solvers (n_sub, or 1 when shared); 0 if m is not a staggered model. */
NDE_API size_t nde_model_stagger_n_models(nde_model *m);
/** Sub-solver k (borrowed; its θ is the staggered model's as of the last forward or init);
 * NULL if m is not a staggered model or k is out of range. */
NDE_API nde_model *nde_model_stagger_sub(nde_model *m, size_t k);
/** The spec the staggered model was made with (borrowed); NULL if m is not one. */
NDE_API const nde_stagger_model_spec *nde_model_stagger_spec(nde_model *m);

/* ---- the physics-constrained loss: viscous Burgers ---------------------------------
 * u_t + (u²/2)_x = ν u_xx, periodic on [0, length), n points (dx = length/n), fine time
 * step dt. For predicted levels u¹..u^nt (pred, (batch, nt, n)) after the known level u⁰
 * (the last level of target, (batch, nt, n): the input window), the scaled residual of
 * the θ-scheme with central differences is
 *     R^k_j = u^k_j − u^{k−1}_j + dt·[θ L(u^k)_j + (1 − θ) L(u^{k−1})_j],
 *     L(u)_j = (u_{j+1}² − u_{j−1}²)/(4 dx) − ν (u_{j+1} − 2u_j + u_{j−1})/dx²,
 * (θ = ½: Crank–Nicolson, second order in dt and dx; R = dt × the PDE residual). */

/** The discretization of the Burgers residual (see above). */
typedef struct nde_burgers_residual_spec {
    size_t n;      /**< periodic grid points (≥ 3) */
    size_t nt;     /**< predicted levels per sample (≥ 1) */
    double length; /**< domain length (> 0) */
    double dt;     /**< fine time step (> 0) */
    double nu;     /**< viscosity (≥ 0) */
    double theta;  /**< time weighting in [0, 1]: 0 explicit, ½ Crank–Nicolson, 1 implicit */
} nde_burgers_residual_spec;

/** NDE_OK or NDE_ERR_ARG naming the offending field. */
NDE_API nde_status nde_burgers_residual_check(const nde_burgers_residual_spec *spec);
/** r (batch, nt, n) = R^k_j of u (batch, nt, n) after u0 (batch, n) (see above). Errors:
 * NDE_ERR_ARG (NULL, batch 0, bad spec). */
NDE_API nde_status nde_burgers_residual(const nde_burgers_residual_spec *spec, const double *u0,
                                        const double *u, double *r, size_t batch);
/** The physics-constrained loss: value = mean over batch·nt·n of R², with target the input
 * window (batch, nt, n) whose last level is u⁰ (target_size nt·n, reduction MEAN), grad =
 * ∂value/∂pred. `spec` is borrowed (ctx of the loss) and must outlive the loss; a bad spec
 * fails at the first call with NDE_ERR_ARG. */
NDE_API nde_loss nde_loss_burgers_residual(const nde_burgers_residual_spec *spec);

#ifdef __cplusplus
}
#endif
#endif
