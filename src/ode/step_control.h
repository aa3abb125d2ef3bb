/* Step-size selection for the adaptive explicit RK driver. Internal. */
#ifndef NDE_ODE_STEP_CONTROL_H
#define NDE_ODE_STEP_CONTROL_H

#include "nde/field.h"
#include "nde/ode.h"

/* Hairer, Nørsett & Wanner, "Solving ODEs I", §II.4 (the starting step size used by
 * DOPRI5, torchdiffeq and OrdinaryDiffEq): from d0 = ‖u0‖, d1 = ‖f0‖ (scaled by
 * atol + rtol|u0|) take h0 = 0.01 d0/d1, one explicit Euler probe for d2 ≈ ‖f'‖, and
 * h = min(100 h0, (0.01 / max(d1, d2))^(1/order)). f0 = f(t0, u0) is given; `work`
 * holds 2n doubles. One evaluation of f; returns |h| (positive). */
nde_status nde_initial_step(const nde_field *f, size_t batch, double t0, double dir,
                            const double *u0, const double *f0, int order, double atol,
                            double rtol, double *work, double *h_out, size_t *nfe);

/* PI controller (Gustafsson; Hairer & Wanner II §IV.2): factor by which to scale h
 * after an accepted step with normalized error err, previous accepted error
 * err_prev. Clamped to [fac_min, fac_max], and to at most 1 right after a rejection. */
double nde_pi_accept_factor(const nde_solver_opts *o, double err, double err_prev,
                            int after_reject);
/* Factor after a rejected step (err > 1 or non-finite): shrink, never grow. */
double nde_pi_reject_factor(const nde_solver_opts *o, double err);

#endif
