/** @file
 * nde/pde.h — PDE data generators for operator learning benchmarks.
 * Every generator is deterministic given its seed: sample i of a seed is the same
 * bits whichever range of samples a call produces. */
#ifndef NDE_PDE_H
#define NDE_PDE_H

#include "nde/core.h"
#include "nde/relax.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Burgers 1-D ----------------------------------------------------------------
 * ∂_t u + ∂_x(u²/2) = ν ∂_xx u on (0, 1), periodic (Li et al. 2021, §5.1).
 * Initial data u0 ~ N(m, σ²(−Δ + τ²I)^{−γ}) with the paper's σ = 25, τ = 5, γ = 2,
 * i.e. N(0, 625(−Δ+25I)^{−2}): u0 = m + Σ_{k≥1} √2 σ ((2πk)² + τ²)^{−γ/2} (ξ_k cos 2πkx
 * + η_k sin 2πkx), ξ, η ~ N(0,1) drawn in order of k (legacy GRF1.m), summed directly at
 * the solver points for k < n_solve/2 (so coarser grids see the same function). The mean
 * m is 0 when zero_mean (as GRF1 is called in the FNO data scripts), else σ τ^{−γ} ζ, the
 * k = 0 term of the same covariance. Target u(·, t_final).
 * Solver: Fourier pseudo-spectral on n_solve points, 2/3-rule dealiasing of u², ETDRK4
 * time stepping (Cox & Matthews 2002) with the φ-function coefficients evaluated by the
 * contour integrals of Kassam & Trefethen (SIAM J. Sci. Comput. 26, 2005). The outputs
 * are the values at every (n_solve/n)-th point (the paper solves at 8192 and subsamples).
 * Sample i draws from an nde_rng seeded with seed + 0x9E3779B97F4A7C15·(i+1). */
/** Parameters of the Burgers data generator (nde_burgers_defaults() gives the paper's). */
typedef struct nde_burgers_spec {
    size_t n;          /**< output points per sample (s), ≥ 4 */
    size_t n_solve;    /**< solver points: a multiple of n, even; 0 → n */
    double nu;         /**< viscosity (0.1) */
    double t_final;    /**< (1.0) */
    size_t n_steps;    /**< ETDRK4 steps over [0, t_final] (200) */
    /** covariance scale σ of the initial condition (25) */
    double sigma, tau, gamma; /**< covariance exponent γ (2); the covariance is σ²(−Δ + τ²)^{−γ} */
    int zero_mean;     /**< 1: u0 has zero mean (legacy data), 0: sample the mean too */
    uint64_t seed; /**< base seed of the samples' generators */
/** @var nde_burgers_spec::tau
 * covariance shift τ of the initial condition (5) */
} nde_burgers_spec;

/** The paper's setting at s = 1024: ν 0.1, t 1, σ 25, τ 5, γ 2, zero mean, seed 0. */
NDE_API nde_burgers_spec nde_burgers_defaults(void);
/** NDE_OK or NDE_ERR_ARG naming the offending field. */
NDE_API nde_status nde_burgers_check(const nde_burgers_spec *spec);

/** u0 (n_solve): initial condition of sample `index` on the solver grid. */
NDE_API nde_status nde_burgers_initial(const nde_burgers_spec *spec, uint64_t index, double *u0);
/** u1 (n_solve) = u(·, t_final) from u0 (n_solve) on the solver grid (may alias).
 * Allocates its workspace. Errors: NDE_ERR_ARG, NDE_ERR_NOMEM, NDE_ERR_NONFINITE if the
 * solution blows up. */
NDE_API nde_status nde_burgers_solve(nde_ctx *ctx, const nde_burgers_spec *spec, const double *u0,
                                     double *u1);

/** Progress callback: called after each sample with the number done; return nonzero to stop
 * (the generator then returns NDE_ERR_STOPPED). */
typedef int (*nde_pde_progress_fn)(void *user, size_t done, size_t total);

/** a, u (count, n): samples first .. first+count−1 (input u0 and target u(·, t_final) at
 * the output points). progress may be NULL. */
NDE_API nde_status nde_burgers_generate(nde_ctx *ctx, const nde_burgers_spec *spec, uint64_t first,
                                        size_t count, double *a, double *u,
                                        nde_pde_progress_fn progress, void *user);

/* ---- Darcy flow 2-D -----------------------------------------------------------
 * −∇·(a ∇u) = f on (0,1)², u = 0 on the boundary, f ≡ 1 for generated samples (the
 * FNO paper's Darcy problem, Li et al. 2021 §5.2; data script demo.m / solve_gwf.m).
 *
 * Coefficient: a = a_hi where g ≥ 0 and a_lo where g < 0, with g a Gaussian random
 * field of covariance (−Δ + τ²)^(−α) with zero Neumann conditions, drawn from its
 * cosine expansion as GRF.m does:
 *     g(x, y) = Σ_{k1,k2 ≥ 0, (k1,k2) ≠ 0} τ^(α−1) (π²(k1² + k2²) + τ²)^(−α/2) ξ_k
 *               · cos(π k1 x) cos(π k2 y),     ξ_k ~ N(0, 1) i.i.d.,
 * over all wave numbers the solver grid resolves (k ≤ N), evaluated at its nodes.
 *
 * Discretization: vertex grid of N intervals per side (nodes x_i = i/N), 5-point
 * finite differences with face coefficients the mean of the two nodal values
 * (solve_gwf.m), second order. Solved by conjugate gradients preconditioned with a
 * geometric multigrid V-cycle (Galerkin coarse operators, Gauss–Seidel smoothing,
 * banded Cholesky on the coarsest grid) to ‖f − A u‖₂ ≤ tol·‖f‖₂ over the interior.
 *
 * Output: the s×s nodes of the solver grid with stride `refine` (N = (s−1)·refine),
 * boundary included — as the FNO files subsample their 421×421 grid (s = 85 is
 * refine 5 of N = 420). */
/** Linear solver of the Darcy generator. */
typedef enum nde_darcy_solver {
    NDE_DARCY_MULTIGRID = 0, /**< multigrid-preconditioned CG (the default) */
    NDE_DARCY_SOR,           /**< SOR (nde_sor_solve()) on the interior unknowns */
    NDE_DARCY_SSOR_PCG       /**< SSOR-preconditioned CG (nde_ssor_pcg_solve()) */
} nde_darcy_solver;

/** How the relaxation solvers choose ω for each sample. */
typedef enum nde_darcy_omega {
    NDE_DARCY_OMEGA_FIXED = 0, /**< nde_darcy_spec::omega for every sample */
    NDE_DARCY_OMEGA_TSALLIS,   /**< learned across the samples by Tsallis-INF (nde/relax.h) */
    NDE_DARCY_OMEGA_OPT        /**< ω* of each sample's matrix (nde_relax_omega_opt()) */
} nde_darcy_omega;

/** Parameters of the Darcy flow generator (nde_darcy_defaults() gives the paper's). */
typedef struct nde_darcy_spec {
    size_t s;          /**< output nodes per side, boundary included; >= 3 */
    size_t refine;     /**< solver intervals per output interval; 0 → the smallest of 1, 2,
                          4 making N divisible by 4 (so multigrid has >= 2 levels when N > 16) */
    /** coefficient where g >= 0: 12 (paper) */
    double a_hi, a_lo; /**< coefficient where g < 0: 3 (paper) */
    /** covariance exponent α: 2 */
    double alpha, tau; /**< covariance shift τ: 3 ((−Δ + 9I)^(−2)) */
    double tol;        /**< relative residual of the linear solve: 1e-10 */
    size_t max_iter;   /**< PCG iterations before NDE_ERR_MAX_STEPS: 200 */
    /** linear solver: NDE_DARCY_MULTIGRID (0, default); the relaxation solvers solve to the
     * same relative residual tol from u = 0, and give the same solutions to within it
     * (not the same bits) */
    nde_darcy_solver solver;
    nde_darcy_omega omega_rule; /**< relaxation solvers: how ω is chosen (fixed) */
    double omega;               /**< fixed ω in (0, 2) (1.8) */
    uint64_t learner_seed;      /**< seed of the Tsallis-INF learner (0) */
    size_t relax_max_iter;      /**< relaxation solvers: iteration cap (100000) */
} nde_darcy_spec;

/** The paper's setting (a 12/3, α 2, τ 3, tol 1e-10) at s output nodes per side. */
NDE_API nde_darcy_spec nde_darcy_defaults(size_t s);

/** Work and accuracy of the last Darcy solve. */
typedef struct nde_darcy_stats {
    size_t iterations;   /**< PCG iterations of the last solve */
    double rel_residual; /**< ‖f − A u‖₂ / ‖f‖₂ of the last solve, recomputed from u */
    double omega;        /**< ω of the last solve (relaxation solvers; 0 for multigrid) */
} nde_darcy_stats;

/** A planned Darcy solver (opaque): grid, multigrid hierarchy and workspace. */
typedef struct nde_darcy nde_darcy;

/** Plan the solver grid and multigrid hierarchy (allocates everything the generator
 * and solver use; with a relaxation solver, its sparse matrix and, for
 * NDE_DARCY_OMEGA_TSALLIS, the learner, which then carries over from sample to sample and
 * call to call, so a learned ω depends on the samples solved before). Errors:
 * NDE_ERR_ARG for NULL, s < 3, a_hi or a_lo not finite and positive, alpha or tau <= 0,
 * tol <= 0 or max_iter == 0, an unknown solver or omega_rule, a fixed omega outside
 * (0, 2), relax_max_iter == 0 with a relaxation solver; NDE_ERR_NOMEM. */
NDE_API nde_status nde_darcy_create(const nde_darcy_spec *spec, nde_darcy **gen);
NDE_API void nde_darcy_destroy(nde_darcy **gen); /**< NULL-safe; sets *gen = NULL */

NDE_API size_t nde_darcy_grid(const nde_darcy *gen);   /**< solver nodes per side, N + 1 */
NDE_API int nde_darcy_levels(const nde_darcy *gen);    /**< multigrid levels (1 = direct solve) */
NDE_API const nde_darcy_spec *nde_darcy_get_spec(const nde_darcy *gen); /**< with refine resolved */

/** Samples first … first+count−1 of `seed`: coeff, sol (count, s, s). Sample i draws
 * from an nde_rng seeded with `seed` and jumped i times (nde_rng_jump). progress (may
 * be NULL) is called after each sample. Errors: NDE_ERR_ARG for NULL or count == 0;
 * NDE_ERR_STOPPED; the solver's errors (naming the sample). */
NDE_API nde_status nde_darcy_generate(nde_darcy *gen, uint64_t seed, size_t first, size_t count,
                                      double *coeff, double *sol, nde_pde_progress_fn progress,
                                      void *user);

/** The thresholded coefficient of sample `index` on the solver grid: a (N+1, N+1). */
NDE_API nde_status nde_darcy_coefficient(nde_darcy *gen, uint64_t seed, size_t index, double *a);

/** Solve −∇·(a∇u) = f on the solver grid for any positive nodal coefficient a and
 * right-hand side f, both (N+1, N+1) (f's boundary values are ignored); u (N+1, N+1)
 * is zero on the boundary. stats may be NULL.
 * Errors: NDE_ERR_ARG (NULL, a not finite and positive), NDE_ERR_MAX_STEPS when tol is
 * not reached in max_iter iterations (u holds the last iterate), NDE_ERR_NONFINITE. */
NDE_API nde_status nde_darcy_solve(nde_darcy *gen, const double *a, const double *f, double *u,
                                   nde_darcy_stats *stats);

/** Statistics of the last solve (also of the last sample generated). */
NDE_API nde_darcy_stats nde_darcy_last_stats(const nde_darcy *gen);

#ifdef __cplusplus
}
#endif
#endif
