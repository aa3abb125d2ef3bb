/* Explicit Runge–Kutta tableaux with embedded error estimators, dense output and the
 * stage pair used for Shampine's stiffness estimate. Internal to src/ode and
 * src/adjoint. */
#ifndef NDE_ODE_TABLEAU_H
#define NDE_ODE_TABLEAU_H

#include "nde/ode.h"

/* Most stages of any tableau, the continuous extension's extra stages included
 * (Vern9: 16 + 10). */
#define NDE_RK_MAX_STAGES 26

/* How the embedded estimate is formed from the error weights. */
typedef enum nde_rk_err_kind {
    NDE_RK_ERR_PLAIN = 0, /* E = ‖h Σ btilde_i k_i‖ (RMS, weighted) */
    NDE_RK_ERR_DOP853,    /* Hairer's 8(5,3): E5 = ‖h Σ btilde_i k_i‖, E3 = ‖h Σ btilde3_i k_i‖,
                             E = E5² / sqrt(E5² + 0.01·E3²) (E = 0 when both vanish) */
} nde_rk_err_kind;

typedef struct nde_tableau {
    nde_method method;
    const char *name;
    int stages;       /* stages of a step (the FSAL stage included) */
    int stages_dense; /* stages the continuous extension uses (0: `stages`); stages
                         stages..stages_dense−1 are computed lazily, only for a step that
                         has a save time strictly inside, from rows c, a of this table */
    int dense_order;  /* order of the continuous extension */
    int order;      /* order of the propagated solution */
    int est_order;  /* order of the embedded solution (0: fixed-step, no estimate) */
    int fsal;       /* last stage is f(t+h, u_{n+1}) and becomes the next step's k1 */
    double c[NDE_RK_MAX_STAGES];
    double a[NDE_RK_MAX_STAGES][NDE_RK_MAX_STAGES]; /* strictly lower triangular */
    double b[NDE_RK_MAX_STAGES];
    double btilde[NDE_RK_MAX_STAGES]; /* error weights: b − b̂ (sign irrelevant) */
    double btilde3[NDE_RK_MAX_STAGES]; /* NDE_RK_ERR_DOP853: the 3rd-order estimator's */
    nde_rk_err_kind err_kind;
    int stiff_i, stiff_j; /* stiffness from ‖k_i − k_j‖/‖Y_i − Y_j‖ (−1: none) */
    double beta1, beta2;  /* default PI exponents */
    /* Continuous extension: u(t_n + θh) = u_n + h Σ_i w_i(θ) k_i, with w_i(1) = b_i. */
    void (*dense)(double theta, double w[NDE_RK_MAX_STAGES]);
    /* The polynomial form of the extensions that have one (DOP853, Verner; else NULL):
     * w_i(θ) = Σ_{p=1..dense_deg} dense_r[i][p−1] θ^p. */
    const double (*dense_r)[9];
    int dense_deg;
} nde_tableau;

/* Stages the continuous extension uses. */
static inline int nde_tableau_dense_stages(const nde_tableau *t)
{
    return t->stages_dense > t->stages ? t->stages_dense : t->stages;
}

/* NULL for methods that are not explicit RK tableaux (the SUNDIALS ones). */
const nde_tableau *nde_tableau_get(nde_method m);

#endif
