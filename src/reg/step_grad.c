/* Error and stiffness estimates of one explicit RK step, with their gradients through
 * the stages, and the push of a step regularizer's sensitivities into the stages (the
 * step size is a constant, as in the reference implementations: OrdinaryDiffEq strips
 * the controller's dt of tracking in _loopfooter!). */
#include "reg/reg_internal.h"

#include "ode/rk_step.h"
#include "ode/solver_internal.h"

#include <math.h>

double nde_reg_err_step(const nde_tableau *tab, double h, const double *u, const double *u_new,
                        const double *k, size_t n, double atol, double rtol, double w,
                        double *e_ws, double *kbar, double *ubar, double *ubar_new)
{
    /* the same operations as the solver's own estimate, so the value has the same bits */
    return nde_rk_error(tab, h, u, u_new, k, n, atol, rtol, e_ws, w, kbar, ubar, ubar_new);
}

void nde_reg_push_stage_input(const nde_tableau *tab, int i, double h, const double *ybar,
                              size_t n, double *kbar, double *ubar)
{
    for (size_t e = 0; e < n; e++) ubar[e] += ybar[e];
    for (int j = 0; j < i; j++) {
        double ha = h * tab->a[i][j];
        if (ha == 0.0) continue;
        double *kb = kbar + (size_t)j * n;
        for (size_t e = 0; e < n; e++) kb[e] += ha * ybar[e];
    }
}

/* Add c·(Y_a − Y_b) as a sensitivity of Y_a and its negative of Y_b. Both stage inputs
 * start from u, so u cancels: Y_a − Y_b = h Σ_j (a_aj − a_bj) k_j. */
static void push_diff(const nde_tableau *tab, int ia, int ib, double h, double c,
                      const double *y, size_t n, double *kbar)
{
    const double *ya = y + (size_t)ia * n, *yb = y + (size_t)ib * n;
    for (int j = 0; j < tab->stages; j++) {
        double coef = (j < ia ? tab->a[ia][j] : 0.0) - (j < ib ? tab->a[ib][j] : 0.0);
        if (coef == 0.0) continue;
        double *kb = kbar + (size_t)j * n, hc = h * coef * c;
        for (size_t e = 0; e < n; e++) kb[e] += hc * (ya[e] - yb[e]);
    }
}

double nde_reg_stiff_step(const nde_tableau *tab, double h, const double *y, const double *k,
                          size_t n, double w, double *kbar)
{
    if (tab->stiff_i < 0) return 0.0;
    int ia = tab->stiff_i, ib = tab->stiff_j;
    const double *ka = k + (size_t)ia * n, *kb = k + (size_t)ib * n;
    double num, den;
    nde_rk_stiffness_sums(tab, k, y, n, &num, &den);
    if (!(den > 0.0)) return 0.0;
    double S = sqrt(num / den);
    if (w == 0.0 || !(S > 0.0) || !isfinite(S)) return S;
    /* ∂S/∂(k_a − k_b) = (k_a − k_b)/(S·den), ∂S/∂(Y_a − Y_b) = −S (Y_a − Y_b)/den */
    double ck = w / (S * den), cy = -w * S / den;
    double *kba = kbar + (size_t)ia * n, *kbb = kbar + (size_t)ib * n;
    for (size_t e = 0; e < n; e++) {
        double g = ck * (ka[e] - kb[e]);
        kba[e] += g;
        kbb[e] -= g;
    }
    push_diff(tab, ia, ib, h, cy, y, n, kbar);
    return S;
}

static int all_zero(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0.0) return 0;
    return 1;
}

void nde_reg_step_push(const nde_tableau *tab, double h, const double *y, const double *k,
                       const double *u, const double *u_new, size_t n, double atol, double rtol,
                       const nde_reg_step_grad *g, double *e_ws)
{
    if (g->err_est_bar != 0.0)
        nde_reg_err_step(tab, h, u, u_new, k, n, atol, rtol, g->err_est_bar, e_ws, g->kbar,
                         g->ubar, g->unew_bar);
    if (g->stiff_est_bar != 0.0) nde_reg_stiff_step(tab, h, y, k, n, g->stiff_est_bar, g->kbar);
    if (!g->ybar) return;
    for (int i = 0; i < tab->stages; i++) {
        const double *yb = g->ybar + (size_t)i * n;
        if (!all_zero(yb, n)) nde_reg_push_stage_input(tab, i, h, yb, n, g->kbar, g->ubar);
    }
}
