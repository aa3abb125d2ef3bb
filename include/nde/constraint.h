/** @file
 * nde/constraint.h — hard linear constraints as a differentiable projection layer.
 *
 * A constraint maps a model output y (n) to the closest point of a linear set,
 *     z = argmin_z ½ (z − y)ᵀ W (z − y)   subject to   A z = b,
 * W = diag(w) > 0, by solving the KKT system
 *     [W  Aᵀ] [z]   [W y]
 *     [A  0 ] [λ] = [ b ],   i.e.  M λ = A y − b,  z = y − W⁻¹Aᵀλ,  M = A W⁻¹ Aᵀ,
 * with M factored once (Cholesky) when the constraint is created. The gradient comes
 * from the implicit function theorem: differentiating the KKT system gives the adjoint
 * system with the same matrix, so for a cotangent gz
 *     M μ = A W⁻¹ gz,   gy = gz − Aᵀ μ,   gb = μ
 * (gy is the W-orthogonal projector applied to gz; gb lets b depend on the input or on
 * parameters). This is the hard-constraint layer of Chalapathi, Du and Krishnapriyan,
 * "Scaling physics-informed hard constraints with mixture-of-experts" (ICLR 2024), for
 * the linear constraints where its Newton solve takes one step.
 *
 * Mixture of experts (the paper's PI-HC-MoE): the output's entries are split into
 * disjoint sub-domains (blocks); each block is one expert with its own A_k, b_k and
 * factorization, projected independently (on a thread team) and joined. Entries in no
 * block pass through unchanged. One block over all entries is the global projection.
 *
 * Layouts: y, z (batch, n) row-major; b (batch, m) with the blocks' rows concatenated in
 * block order (m = Σ m_k). Built-in constraints: the mean of a periodic 1-D field
 * (globally or per sub-domain), prescribed values at given entries (boundary values),
 * and the discrete divergence of a 2-D periodic staggered (MAC) velocity field.
 *
 * Typical use (compiled and run by the test suite): project two samples of a field of
 * 8 points onto mean 0.5, then take the gradient of Σ z₀:
 *     nde_constraint *c;
 *     NDE_TRY(nde_constraint_mean_create(8, 1, 1, &c));
 *     double y[2 * 8], z[2 * 8], b[2] = {0.5, 0.5}, gz[2 * 8] = {1}, gy[2 * 8], gb[2];
 *     for (int i = 0; i < 16; i++) y[i] = 0.1 * i * i;
 *     NDE_TRY(nde_constraint_project(c, y, b, z, 2));
 *     NDE_TRY(nde_constraint_vjp(c, gz, gy, gb, 2));
 *     printf("violation %.1e\n", nde_constraint_violation(c, z, b, 2));
 *     nde_constraint_destroy(&c);
 */
#ifndef NDE_CONSTRAINT_H
#define NDE_CONSTRAINT_H

#include "nde/core.h"
#include "nde/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A linear constraint set {z : A z = b} with its factored KKT system (opaque): one
 * block (global) or several independent blocks (mixture of experts). */
typedef struct nde_constraint nde_constraint;

/** One expert: a sub-domain (entries idx of z) and its constraint A_k z[idx] = b_k.
 * Everything is copied by nde_constraint_create(). */
typedef struct nde_constraint_block {
    size_t n_idx;       /**< entries in the sub-domain (>= 1) */
    const size_t *idx;  /**< (n_idx) distinct entries of z, < n; NULL: 0, 1, …, n_idx − 1 */
    size_t m;           /**< constraint rows (>= 1, <= n_idx) */
    const double *A;    /**< (m, n_idx) row-major; rows linearly independent */
    const double *b;    /**< (m) default right-hand side; NULL: zeros */
    const double *w;    /**< (n_idx) positive weights of the distance; NULL: ones */
} nde_constraint_block;

/** Make a constraint on vectors of n entries from n_blocks experts with disjoint
 * sub-domains, projected on n_threads threads (1: the calling thread; more than the
 * blocks are not used). Each block's M_k = A_k W_k⁻¹ A_kᵀ is factored here.
 * Errors (with the block and row named): NDE_ERR_ARG for NULL or zero sizes, an entry
 * out of range or in two blocks, more rows than entries in a block, a non-finite A, b
 * or w, a weight <= 0, or
 * linearly dependent rows — "rank deficient" when the dependent row's default b is
 * consistent with the rows it depends on (the row is redundant: remove it),
 * "inconsistent" when it is not (no z satisfies A z = b); NDE_ERR_NOMEM. */
NDE_API nde_status nde_constraint_create(size_t n, size_t n_blocks,
                                         const nde_constraint_block *blocks, size_t n_threads,
                                         nde_constraint **out);
/** Free a constraint. NULL-safe; sets *c = NULL. */
NDE_API void nde_constraint_destroy(nde_constraint **c);

/** Mean conservation of a periodic 1-D field of n points: the mean of z equals b
 * (default 0), globally (n_experts = 1) or on each of n_experts contiguous sub-domains of
 * n / n_experts points (n divisible by n_experts; rows in sub-domain order). */
NDE_API nde_status nde_constraint_mean_create(size_t n, size_t n_experts, size_t n_threads,
                                              nde_constraint **out);
/** Boundary (prescribed) values: z[idx[i]] = values[i] for i < n_fixed (values NULL:
 * zeros, or b given per call), the other entries free. E.g. idx = {0, n − 1} for the two
 * ends of a 1-D field. */
NDE_API nde_status nde_constraint_values_create(size_t n, size_t n_fixed, const size_t *idx,
                                                const double *values, nde_constraint **out);
/** Discrete divergence-free 2-D periodic staggered (MAC) fields on nx × ny cells:
 * z = (u (ny, nx), v (ny, nx)), u[j][i] on the face between cells (i−1, j) and (i, j),
 * v[j][i] on the face between cells (i, j−1) and (i, j), indices periodic; the
 * constraint is (u[j][i+1] − u[j][i]) / hx + (v[j+1][i] − v[j][i]) / hy = 0 for every
 * cell but the last (the divergences of a periodic field sum to zero, so that row is
 * redundant): m = nx·ny − 1, n = 2·nx·ny. */
NDE_API nde_status nde_constraint_divfree2d_create(size_t nx, size_t ny, double hx, double hy,
                                                   nde_constraint **out);

/** Entries of z (n). 0 for NULL. */
NDE_API size_t nde_constraint_n(const nde_constraint *c);
/** Constraint rows over all blocks (m). 0 for NULL. */
NDE_API size_t nde_constraint_m(const nde_constraint *c);
/** Experts (blocks). 0 for NULL. */
NDE_API size_t nde_constraint_n_blocks(const nde_constraint *c);
/** A (m, n) as a dense matrix (rows in block order, the experts' columns at their
 * entries) into A_out; e.g. to build the input map of nde_model_constraint_create(). */
NDE_API nde_status nde_constraint_matrix(const nde_constraint *c, double *A_out);

/** z (batch, n) = the projection of y (batch, n) onto {A z = b} with b (batch, m), or
 * the default b when b is NULL. z may be y (in place). Errors: NDE_ERR_ARG (NULL, batch
 * 0), NDE_ERR_NONFINITE (a non-finite y or b, naming the sample and entry). */
NDE_API nde_status nde_constraint_project(nde_constraint *c, const double *y, const double *b,
                                          double *z, size_t batch);
/** The implicit-function-theorem VJP of nde_constraint_project() (independent of y):
 * gy (batch, n) = gzᵀ ∂z/∂y (overwritten; may be gz) and, when gb is not NULL,
 * gb (batch, m) = gzᵀ ∂z/∂b (overwritten). */
NDE_API nde_status nde_constraint_vjp(nde_constraint *c, const double *gz, double *gy,
                                      double *gb, size_t batch);
/** max over the batch and rows of |A z − b| (b NULL: the default b); NaN on bad input. */
NDE_API double nde_constraint_violation(const nde_constraint *c, const double *z,
                                        const double *b, size_t batch);

/** A model followed by the projection: z = P(inner(x)) with the right-hand side
 * b = B x + b₀ (B (m, in_size) row-major, copied; NULL: b = b₀, the constraint's
 * default). For the mean of a periodic field to equal the input's mean, B is the mean
 * row (nde_constraint_matrix of the same constraint when in_size = n). The model takes
 * ownership of inner and c, also when it fails; its store is inner's (the projection
 * has no parameters), kind "constrained"; init, reserve and set_training go to inner;
 * the backward is the VJP above followed by inner's backward (plus Bᵀ gb into gx).
 * Errors: NDE_ERR_ARG (NULL inner or c), NDE_ERR_SHAPE (out_size(inner) != n),
 * NDE_ERR_NOMEM. */
NDE_API nde_status nde_model_constraint_create(nde_model *inner, nde_constraint *c,
                                               const double *B, nde_model **out);
/** The constraint of a constrained model (borrowed); NULL if m is not one. */
NDE_API nde_constraint *nde_model_constraint(nde_model *m);
/** The wrapped model of a constrained model (borrowed); NULL if m is not one. */
NDE_API nde_model *nde_model_constraint_inner(nde_model *m);

#ifdef __cplusplus
}
#endif
#endif
