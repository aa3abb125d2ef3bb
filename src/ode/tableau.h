/* Explicit Runge–Kutta tableaux with embedded error estimators, dense output and the
 * stage pair used for Shampine's stiffness estimate. Internal to src/ode and
 * src/adjoint. */
#ifndef NDE_ODE_TABLEAU_H
#define NDE_ODE_TABLEAU_H

#include "nde/ode.h"

#define NDE_RK_MAX_STAGES 7

typedef struct nde_tableau {
    nde_method method;
    const char *name;
    int stages;
    int order;      /* order of the propagated solution */
    int est_order;  /* order of the embedded solution (0: fixed-step, no estimate) */
    int fsal;       /* last stage is f(t+h, u_{n+1}) and becomes the next step's k1 */
    double c[NDE_RK_MAX_STAGES];
    double a[NDE_RK_MAX_STAGES][NDE_RK_MAX_STAGES]; /* strictly lower triangular */
    double b[NDE_RK_MAX_STAGES];
    double btilde[NDE_RK_MAX_STAGES]; /* error weights: b − b̂ (sign irrelevant) */
    int stiff_i, stiff_j; /* stiffness from ‖k_i − k_j‖/‖Y_i − Y_j‖ (−1: none) */
    double beta1, beta2;  /* default PI exponents */
    /* Continuous extension: u(t_n + θh) = u_n + h Σ_i w_i(θ) k_i, with w_i(1) = b_i. */
    void (*dense)(double theta, double w[NDE_RK_MAX_STAGES]);
} nde_tableau;

/* NULL for methods that are not explicit RK tableaux (the SUNDIALS ones). */
const nde_tableau *nde_tableau_get(nde_method m);

#endif
