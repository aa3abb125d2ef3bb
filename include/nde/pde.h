/* nde/pde.h — PDE data generators for operator learning benchmarks.
 * Every generator is deterministic given its seed: sample i of a seed is the same
 * bits whichever range of samples a call produces. */
#ifndef NDE_PDE_H
#define NDE_PDE_H

#include "nde/core.h"

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
typedef struct nde_burgers_spec {
    size_t n;          /* output points per sample (s), ≥ 4 */
    size_t n_solve;    /* solver points: a multiple of n, even; 0 → n */
    double nu;         /* viscosity (0.1) */
    double t_final;    /* (1.0) */
    size_t n_steps;    /* ETDRK4 steps over [0, t_final] (200) */
    double sigma, tau, gamma; /* covariance σ²(−Δ + τ²)^{−γ} (25, 5, 2) */
    int zero_mean;     /* 1: u0 has zero mean (legacy data), 0: sample the mean too */
    uint64_t seed;
} nde_burgers_spec;

/* The paper's setting at s = 1024: ν 0.1, t 1, σ 25, τ 5, γ 2, zero mean, seed 0. */
nde_burgers_spec nde_burgers_defaults(void);
/* NDE_OK or NDE_ERR_ARG naming the offending field. */
nde_status nde_burgers_check(const nde_burgers_spec *spec);

/* u0 (n_solve): initial condition of sample `index` on the solver grid. */
nde_status nde_burgers_initial(const nde_burgers_spec *spec, uint64_t index, double *u0);
/* u1 (n_solve) = u(·, t_final) from u0 (n_solve) on the solver grid (may alias).
 * Allocates its workspace. Errors: NDE_ERR_ARG, NDE_ERR_NOMEM, NDE_ERR_NONFINITE if the
 * solution blows up. */
nde_status nde_burgers_solve(nde_ctx *ctx, const nde_burgers_spec *spec, const double *u0,
                             double *u1);

/* Progress callback: called after each sample with the number done; return nonzero to stop
 * (the generator then returns NDE_ERR_STOPPED). */
typedef int (*nde_pde_progress_fn)(void *user, size_t done, size_t total);

/* a, u (count, n): samples first .. first+count−1 (input u0 and target u(·, t_final) at
 * the output points). progress may be NULL. */
nde_status nde_burgers_generate(nde_ctx *ctx, const nde_burgers_spec *spec, uint64_t first,
                                size_t count, double *a, double *u,
                                nde_pde_progress_fn progress, void *user);

#ifdef __cplusplus
}
#endif
#endif
