/* One explicit Runge–Kutta step's arithmetic, shared by the forward driver, the
 * discrete adjoint's recompute mode and the local regularizer. Internal. */
#ifndef NDE_ODE_RK_STEP_H
#define NDE_ODE_RK_STEP_H

#include "nde/field.h"
#include "ode/tableau.h"

/* Stage inputs Y_i = u + h Σ_{j<i} a_ij k_j and derivatives k_i = f(t + c_i h, Y_i).
 * y, k: (stages, n) with n = batch·dim; Y_1 = u is stored too. If k1_ready, k[0]
 * already holds f(t, u) (FSAL) and is not recomputed. Adds evaluations to *nfe. */
nde_status nde_rk_stages(const nde_tableau *tab, const nde_field *f, size_t batch, double t,
                         double h, const double *u, double *k, double *y, int k1_ready,
                         size_t *nfe);

/* The same, evaluating every stage with the field's f_rec into rec (stages, batch,
 * rec_size) when rec is non-NULL (with k1_ready, rec's first stage must hold k1's
 * record already). rec NULL: as nde_rk_stages. */
nde_status nde_rk_stages_rec(const nde_tableau *tab, const nde_field *f, size_t batch,
                             double t, double h, const double *u, double *k, double *y,
                             double *rec, int k1_ready, size_t *nfe);

/* out = u + h Σ_i w_i k_i over the tableau's stages (w: b, btilde or dense weights;
 * u may be NULL for a pure combination). */
void nde_rk_combine(const nde_tableau *tab, const double *w, double h, const double *u,
                    const double *k, size_t n, double *out);

/* Shampine's stiffness estimate ‖k_i − k_j‖ / ‖Y_i − Y_j‖ for the tableau's stage pair;
 * 0 when the method has none or the denominator vanishes (never NaN from 0/0). */
double nde_rk_stiffness(const nde_tableau *tab, const double *k, const double *y, size_t n);
/* Its two sums: *num = ‖k_i − k_j‖², *den = ‖Y_i − Y_j‖² (the tableau has a stage pair). */
void nde_rk_stiffness_sums(const nde_tableau *tab, const double *k, const double *y, size_t n,
                           double *num, double *den);

#endif
