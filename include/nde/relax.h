/** @file
 * nde/relax.h — learning to relax: SOR and SSOR-preconditioned CG on sparse symmetric
 * positive definite systems, with the relaxation ω chosen per solve by a bandit that sees
 * only iteration counts (Khodak, Chow, Balcan & Talwalkar, "Learning to Relax: Setting
 * Solver Parameters Across a Sequence of Linear System Instances", ICLR 2024,
 * arXiv 2310.02246; reference code github.com/mkhodak/learning-to-relax).
 *
 * A sequence of related systems A_t x = b_t (one per data sample or time step) is solved
 * with one ω each; the learner draws ω from a grid, the solver returns its iteration
 * count, and the learner is updated with that count:
 *
 *     nde_relax_learner_predict(L, context, &omega);
 *     nde_sor_solve(A, b, x, omega, tol, max_iter, &iters);
 *     nde_relax_learner_update(L, (double)iters);
 *
 * Learners: Tsallis-INF (no context; competes with the best fixed ω), Tsallis-INF-CB
 * (one Tsallis-INF per bin of a scalar context) and ChebCB (per-arm Chebyshev regression
 * of the cost on the context with inverse-gap weighting; competes with the best ω per
 * instance). All draws come from the learner's own seeded nde_rng. */
#ifndef NDE_RELAX_H
#define NDE_RELAX_H

#include "nde/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sparse matrices ------------------------------------------------------------ */

/** A square sparse matrix in compressed sparse row form (opaque; owns its arrays). */
typedef struct nde_csr nde_csr;

/** Copy a square n×n CSR matrix: row i holds entries rowptr[i] … rowptr[i+1]−1 with
 * column indices col[] (strictly increasing within a row, < n) and values val[].
 * Errors: NDE_ERR_ARG for NULL, n == 0, rowptr[0] != 0, decreasing rowptr, a column out of
 * range or out of order, or a row without a diagonal entry; NDE_ERR_NOMEM. */
NDE_API nde_status nde_csr_create(size_t n, const size_t *rowptr, const size_t *col,
                                  const double *val, nde_csr **A);
/** Free a matrix; NULL-safe, sets *A = NULL. */
NDE_API void nde_csr_destroy(nde_csr **A);
/** Number of rows (and columns); 0 for NULL. */
NDE_API size_t nde_csr_rows(const nde_csr *A);
/** Number of stored entries; 0 for NULL. */
NDE_API size_t nde_csr_nnz(const nde_csr *A);
/** The stored values (nnz, in the order given to nde_csr_create()), writable: a sequence of
 * systems with one sparsity pattern updates them in place. NULL for NULL. */
NDE_API double *nde_csr_values(nde_csr *A);
/** Add c to every diagonal entry (A ← A + c I). Errors: NDE_ERR_ARG for NULL or c not finite. */
NDE_API nde_status nde_csr_shift(nde_csr *A, double c);
/** y = A x. Errors: NDE_ERR_ARG for NULL. */
NDE_API nde_status nde_csr_matvec(const nde_csr *A, const double *x, double *y);

/* ---- solvers -------------------------------------------------------------------- */

/** Solve A x = b by successive over-relaxation (forward Gauss–Seidel sweeps relaxed by
 * omega; omega = 1 is Gauss–Seidel) from the initial guess in x, until
 * ‖b − A x‖₂ ≤ tol·‖b − A x₀‖₂ (the reference code's criterion). *iters (may be NULL)
 * receives the sweeps done (0 when x₀ already solves the system exactly).
 * Errors: NDE_ERR_ARG for NULL, omega outside (0, 2), tol not positive or max_iter == 0,
 * or a non-positive diagonal entry; NDE_ERR_MAX_STEPS when tol is not reached in max_iter
 * sweeps (x holds the last iterate, *iters = max_iter); NDE_ERR_NONFINITE if the iterate
 * or b is not finite. */
NDE_API nde_status nde_sor_solve(const nde_csr *A, const double *b, double *x, double omega,
                                 double tol, size_t max_iter, size_t *iters);

/** Solve A x = b (A symmetric positive definite) by conjugate gradients preconditioned
 * with symmetric SOR: M = (D + ωL) D⁻¹ (D + ωLᵀ) / (ω(2 − ω)), L the strictly lower part.
 * Starts from x and stops when ‖b − A x‖₂ ≤ tol·‖b‖₂ (MATLAB pcg's criterion, as the
 * reference code's ssor_pcg.m); *iters (may be NULL) receives the CG iterations.
 * Allocates 4n doubles of workspace per call. Errors as nde_sor_solve(), plus
 * NDE_ERR_SOLVER when A is found not positive definite (pᵀAp ≤ 0). */
NDE_API nde_status nde_ssor_pcg_solve(const nde_csr *A, const double *b, double *x,
                                      double omega, double tol, size_t max_iter, size_t *iters);

/** The Jacobi spectral radius β = ρ(I − D⁻¹A) of a symmetric matrix with positive
 * diagonal, from Lanczos on D^{-1/2} A D^{-1/2} with full reorthogonalization (exact
 * when n ≤ 400; above, up to 400 Lanczos steps, stopped early once the extreme Ritz
 * values settle to 1e-12, which gives a lower bound of β). Errors: NDE_ERR_ARG for NULL
 * or a non-positive diagonal; NDE_ERR_NOMEM. */
NDE_API nde_status nde_jacobi_radius(const nde_csr *A, double *beta);

/** The asymptotically optimal SOR relaxation of Young's theory, ω* = 1 + (β/(1 + √(1−β²)))²
 * with β = nde_jacobi_radius(A) (the reference code's omega_opt.m); β ≥ 1 gives an error
 * NDE_ERR_ARG (SOR theory does not apply). */
NDE_API nde_status nde_relax_omega_opt(const nde_csr *A, double *omega);

/* ---- learners ------------------------------------------------------------------- */

/** Which learner chooses ω. */
typedef enum nde_relax_kind {
    NDE_RELAX_TSALLIS_INF = 0, /**< Tsallis-INF: ½-Tsallis FTRL, importance-weighted, η_t = 2/√t */
    NDE_RELAX_TSALLIS_INF_CB,  /**< Tsallis-INF-CB: one Tsallis-INF per context bin */
    NDE_RELAX_CHEBCB           /**< ChebCB: Chebyshev regression per arm, inverse-gap weighting */
} nde_relax_kind;

/** Parameters of a learner (nde_relax_defaults() gives the paper's). */
typedef struct nde_relax_spec {
    nde_relax_kind kind;   /**< the algorithm */
    size_t arms;           /**< grid size d (20) */
    double omega_lo;       /**< first grid point (1.0) */
    double omega_hi;       /**< last grid point (1.95), < 2; arms are linspace(lo, hi, d) */
    double context_lo;     /**< lower end of the context interval (contextual learners) */
    double context_hi;     /**< upper end (> context_lo for the contextual learners) */
    size_t bins;           /**< Tsallis-INF-CB: context bins; ChebCB: Chebyshev features m (6) */
    uint64_t seed;         /**< seed of the learner's nde_rng */
} nde_relax_spec;

/** The paper's settings for `kind`: 20 arms on [1, 1.95], 6 bins or features, context
 * interval [0, 1] (set it to the range of your context), seed 0. */
NDE_API nde_relax_spec nde_relax_defaults(nde_relax_kind kind);

/** A learner (opaque): its arms, statistics and random number generator. */
typedef struct nde_relax_learner nde_relax_learner;

/** Create a learner. Errors: NDE_ERR_ARG for NULL, arms == 0 or > 4096, a grid outside
 * (0, 2) or with hi < lo, a contextual kind with bins == 0 or > 64 or an empty or
 * non-finite context interval; NDE_ERR_NOMEM. */
NDE_API nde_status nde_relax_learner_create(const nde_relax_spec *spec, nde_relax_learner **L);
/** Free a learner; NULL-safe, sets *L = NULL. */
NDE_API void nde_relax_learner_destroy(nde_relax_learner **L);

/** Draw the next ω. `context` is the scalar context of the coming instance (ignored by
 * Tsallis-INF; clamped to the context interval by the others). Errors: NDE_ERR_ARG for
 * NULL or a non-finite context; NDE_ERR_STATE when the previous draw was not followed by
 * nde_relax_learner_update(). */
NDE_API nde_status nde_relax_learner_predict(nde_relax_learner *L, double context,
                                             double *omega);
/** Report the cost (iteration count, ≥ 1 in the paper's normalization) of the instance
 * solved with the last drawn ω. Errors: NDE_ERR_ARG for NULL or a cost not finite or
 * negative; NDE_ERR_STATE without a preceding draw. */
NDE_API nde_status nde_relax_learner_update(nde_relax_learner *L, double cost);

/** The distribution the next draw would use for `context`, p (arms), summing to 1 (the
 * generator is not touched). Errors: NDE_ERR_ARG for NULL or a non-finite context. */
NDE_API nde_status nde_relax_learner_probs(const nde_relax_learner *L, double context, double *p);
/** Number of arms; 0 for NULL. */
NDE_API size_t nde_relax_learner_arms(const nde_relax_learner *L);
/** Arm i's ω (linspace(omega_lo, omega_hi, arms)); NaN for NULL or i out of range. */
NDE_API double nde_relax_learner_omega(const nde_relax_learner *L, size_t i);

/** The Tsallis-INF distribution: p_i = 4 (η (K_i/scale − x))⁻², η = 2/√t, with the
 * normalizer x < min K_i/scale solved by safeguarded Newton iteration so that Σp = 1
 * (the reference TsallisINF.m runs 20 plain Newton steps from x = −1; both agree when
 * that converges). K (d) are the cumulative importance-weighted loss estimates, scale
 * the loss normalization (the mean cost so far minus 1; a non-positive or non-finite
 * scale is used as 1), t ≥ 1 the round. Errors: NDE_ERR_ARG for NULL, d == 0, t == 0 or
 * a non-finite K_i. */
NDE_API nde_status nde_tsallis_inf_probs(size_t d, const double *K, double scale, size_t t,
                                         double *p);

#ifdef __cplusplus
}
#endif
#endif
