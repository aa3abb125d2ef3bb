/* Per-step pieces shared by the step regularizers (ops tables evaluated in the discrete
 * adjoint's reverse sweep) and the local one (a single Tsit5 step): the regularizer
 * object, the error and stiffness estimates of one explicit RK step with their gradients,
 * and the reverse of one step's stages. Internal to src/reg. */
#ifndef NDE_REG_INTERNAL_H
#define NDE_REG_INTERNAL_H

#include "nde/field.h"
#include "nde/reg.h"
#include "ode/tableau.h"

/* A step regularizer: R = coef·agg_j v_j with v_j from ops (step_reg.c). The built-in kinds
 * keep their spec here and use it as the ops' ctx (global.c). */
struct nde_reg {
    const nde_reg_ops *ops; /* borrowed */
    void *ctx;              /* borrowed, or &spec for a built-in */
    nde_reg_agg agg;
    double coef;
    nde_reg_spec spec;      /* built-ins only (has_spec) */
    int has_spec;
    double *ws;             /* sweep workspace: ybar (stages·n), u_new, e_ws (n each), scratch */
    size_t ws_cap;          /* doubles */
    double *probe;          /* (probe_n) ε of nde_reg_set_probe/draw_probe */
    size_t probe_n, probe_cap;
};

/* E = sqrt(mean_i (ẽ_i / (atol + rtol·max(|u_i|, |u_new_i|)))²), ẽ = h Σ_j b̃_j k_j —
 * DiffEqBase's calculate_residuals with ODE_DEFAULT_NORM, which is also
 * nde_err_norm. Returns E; when w != 0 and E > 0 it ADDS
 *   kbar (stages, n) += w ∂E/∂k_j,  ubar (n) += w ∂E/∂u,  ubar_new (n) += w ∂E/∂u_new,
 * with max differentiated at its argmax (half to each side on a tie).
 * k: (stages, n); u, u_new: (n); e_ws: (n) scratch. */
double nde_reg_err_step(const nde_tableau *tab, double h, const double *u, const double *u_new,
                        const double *k, size_t n, double atol, double rtol, double w,
                        double *e_ws, double *kbar, double *ubar, double *ubar_new);

/* S = ‖k_a − k_b‖₂ / ‖Y_a − Y_b‖₂ for the tableau's stiffness pair (Shampine 1977;
 * Hairer & Wanner II §IV.2), the same quotient nde_rk_stiffness logs. Returns S; when
 * w != 0 and S > 0 it ADDS w ∂S/∂k to kbar and pushes w ∂S/∂Y_a, w ∂S/∂Y_b through
 * Y_i = u + h Σ_j a_ij k_j into kbar (u cancels in Y_a − Y_b). y, k: (stages, n). */
double nde_reg_stiff_step(const nde_tableau *tab, double h, const double *y, const double *k,
                          size_t n, double w, double *kbar);

/* Add ybar (n), a sensitivity w.r.t. stage input Y_i = u + h Σ_{j<i} a_ij k_j, to ubar
 * (n) and kbar (stages, n). */
void nde_reg_push_stage_input(const nde_tableau *tab, int i, double h, const double *ybar,
                              size_t n, double *kbar, double *ubar);

/* Carry a step's ∂R/∂E, ∂R/∂S and ∂R/∂Y_i (g->err_est_bar, g->stiff_est_bar, g->ybar
 * (stages, n) or NULL) into g->kbar (stages, n), g->ubar and g->unew_bar (n): the part of
 * every step regularizer's gradient that the library does for the op. Estimates are
 * differentiated as nde_reg_err_step/nde_reg_stiff_step (bars of 0 add nothing); stages
 * whose ybar is all zero are skipped. y, k: (stages, n); u, u_new: (n); e_ws: (n) scratch. */
void nde_reg_step_push(const nde_tableau *tab, double h, const double *y, const double *k,
                       const double *u, const double *u_new, size_t n, double atol, double rtol,
                       const nde_reg_step_grad *g, double *e_ws);

#endif
