/* The discrete adjoint's reverse sweep with a per-step hook, so regularizers that are
 * functions of each step's stages (error and stiffness estimates) add their
 * sensitivities in the same sweep. Internal to src/adjoint and src/reg. */
#ifndef NDE_ADJOINT_SWEEP_H
#define NDE_ADJOINT_SWEEP_H

#include "nde/adjoint.h"

/* Called for every accepted step m, last to first, after the save-time outputs of the
 * step have been added and before the step is reversed. y, k: the step's stage inputs
 * and derivatives (stages, n) (y[0] = u_m). The hook may add to
 *   kbar   (stages, n): ∂R/∂k_i,
 *   ubar_m (n):         ∂R/∂u_m (the step start),
 *   lam    (n):         ∂R/∂u_{m+1} (the step end),
 *   gtheta (n_params):  direct ∂R/∂θ (may be NULL if the caller wants no θ gradient). */
typedef struct nde_adj_hook {
    nde_status (*step)(void *user, size_t m, double t, double h, const double *y,
                       const double *k, double *kbar, double *ubar_m, double *lam,
                       double *gtheta);
    void *user;
} nde_adj_hook;

/* nde_adjoint_discrete with an optional hook (NULL: plain loss gradient). dL_dtraj may
 * be NULL when only the hook contributes. */
nde_status nde_adjoint_sweep(nde_solver *s, const double *dL_dtraj, const nde_adj_hook *hook,
                             double *grad_theta, double *grad_u0);

#endif
