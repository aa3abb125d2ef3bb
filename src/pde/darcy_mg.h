/* Multigrid-preconditioned conjugate gradients for −∇·(a∇u) = f on the unit square,
 * u = 0 on the boundary (internal to the Darcy generator).
 *
 * Vertex grid with n intervals per side (nodes (n+1)², spacing h = 1/n). Fine operator:
 * the 5-point finite-difference stencil with face coefficients the mean of the two
 * nodal values, (A u)_ij = Σ_faces a_face (u_ij − u_nb) / h² — what the FNO data
 * script solve_gwf.m assembles. Coarse operators are Galerkin products Pᵀ A P with
 * bilinear interpolation P (9-point stencils), halving while n stays even and above
 * 16; the coarsest level is solved by a banded Cholesky factorization. The V-cycle
 * (forward Gauss–Seidel before, backward after the coarse correction) is symmetric
 * and positive definite, so it preconditions CG (Briggs, Henson & McCormick, "A
 * Multigrid Tutorial", 2nd ed., SIAM 2000, ch. 3 and 8; Trottenberg, Oosterlee &
 * Schüller, "Multigrid", 2001, §7.7 on Galerkin coarsening for jumping coefficients).
 *
 * Every array is (n+1)² nodal values, row-major; boundary entries of u are zero. */
#ifndef NDE_DARCY_MG_H
#define NDE_DARCY_MG_H

#include "nde/core.h"

#define DARCY_MG_MAX_LEVELS 16

typedef struct darcy_level {
    size_t n;           /* intervals per side */
    double *st;         /* ((n+1)², 9) stencil, entry (di+1)·3 + (dj+1) couples node (i+di, j+dj) */
    double *u, *f, *r;  /* ((n+1)²) */
} darcy_level;

typedef struct darcy_mg {
    int n_levels;
    darcy_level lv[DARCY_MG_MAX_LEVELS];
    size_t m, bw;       /* coarsest unknowns and half bandwidth */
    double *chol;       /* (m, bw+1): row i holds L[i][i−bw..i] */
    double *b, *x, *r, *z, *p, *q; /* PCG vectors on the fine grid (b: right-hand side) */
    int nu;             /* Gauss–Seidel sweeps before and after the coarse correction */
} darcy_mg;

nde_status darcy_mg_create(size_t n, darcy_mg *mg);
void darcy_mg_free(darcy_mg *mg);

/* Assemble every level for the nodal coefficient a ((n+1)², all > 0) and factor the
 * coarsest. Errors: NDE_ERR_ARG for a non-positive or non-finite coefficient,
 * NDE_ERR_SOLVER if the coarsest matrix is not positive definite. */
nde_status darcy_mg_setup(darcy_mg *mg, const double *a);

/* u ← A⁻¹ f to ‖f − A u‖₂ ≤ tol·‖f‖₂ (interior nodes; f's boundary values are ignored).
 * Reports PCG iterations and the final relative residual (recomputed from u).
 * Errors: NDE_ERR_MAX_STEPS (with the residual reached) after max_iter iterations. */
nde_status darcy_mg_solve(darcy_mg *mg, const double *f, double *u, double tol, size_t max_iter,
                          size_t *iters, double *rel_residual);

#endif
