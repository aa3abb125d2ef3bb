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

/* The continuous extension's lazy stages stages..stages_dense−1 of a step whose main
 * stages k (stages, n) are known: Y_i = u + h Σ_{j<i} a_ij k_j, k_i = f(t + c_i h, Y_i),
 * written to kx, yx (extra, n) (extra = stages_dense − stages), with the field's records
 * in recx (extra, batch·rec_size) when recx is non-NULL. Adds evaluations to *nfe. */
nde_status nde_rk_extra_stages(const nde_tableau *tab, const nde_field *f, size_t batch,
                               double t, double h, const double *u, const double *k, double *kx,
                               double *yx, double *recx, size_t *nfe);

/* The normalized error estimate of a step (what the controller compares with 1): for
 * NDE_RK_ERR_PLAIN the weighted RMS norm of h Σ btilde_i k_i (computed as
 * nde_rk_combine + nde_err_norm, the same bits as before), for NDE_RK_ERR_DOP853
 * Hairer's E5²/sqrt(E5² + 0.01·E3²). scratch: n doubles (PLAIN only). When w ≠ 0 and
 * kbar is non-NULL, adds w·∂E/∂k_i to kbar (stages, n) and w·∂E/∂u, w·∂E/∂u_new through
 * the error weights' max(|u|, |u_new|) to ubar, ubar_new. */
double nde_rk_error(const nde_tableau *tab, double h, const double *u, const double *u_new,
                    const double *k, size_t n, double atol, double rtol, double *scratch,
                    double w, double *kbar, double *ubar, double *ubar_new);

/* out = u + h Σ_i w_i k_i over the tableau's stages (w: b, btilde or dense weights;
 * u may be NULL for a pure combination). */
void nde_rk_combine(const nde_tableau *tab, const double *w, double h, const double *u,
                    const double *k, size_t n, double *out);

/* The same over the continuous extension's stages: k holds (stages_dense, n), the lazy
 * stages after the step's own. */
void nde_rk_combine_dense(const nde_tableau *tab, const double *w, double h, const double *u,
                          const double *k, size_t n, double *out);

/* Shampine's stiffness estimate ‖k_i − k_j‖ / ‖Y_i − Y_j‖ for the tableau's stage pair;
 * 0 when the method has none or the denominator vanishes (never NaN from 0/0). */
double nde_rk_stiffness(const nde_tableau *tab, const double *k, const double *y, size_t n);
/* Its two sums: *num = ‖k_i − k_j‖², *den = ‖Y_i − Y_j‖² (the tableau has a stage pair). */
void nde_rk_stiffness_sums(const nde_tableau *tab, const double *k, const double *y, size_t n,
                           double *num, double *den);

#endif
