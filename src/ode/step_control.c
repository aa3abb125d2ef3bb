/* Initial step heuristic and the PI step-size controller. */
#include "ode/step_control.h"

#include <math.h>

static double scaled_rms(const double *v, const double *u, size_t n, double atol, double rtol)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = v[i] / (atol + rtol * fabs(u[i]));
        acc += r * r;
    }
    return sqrt(acc / (double)n);
}

nde_status nde_initial_step(const nde_field *f, size_t batch, double t0, double dir,
                            const double *u0, const double *f0, int order, double atol,
                            double rtol, double *work, double *h_out, size_t *nfe)
{
    size_t n = batch * f->dim;
    double d0 = scaled_rms(u0, u0, n, atol, rtol);
    double d1 = scaled_rms(f0, u0, n, atol, rtol);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    double *u1 = work, *f1 = work + n;
    for (size_t i = 0; i < n; i++) u1[i] = u0[i] + dir * h0 * f0[i];
    NDE_TRY(f->f(f->ctx, t0 + dir * h0, u1, f1, batch));
    (*nfe)++;
    for (size_t i = 0; i < n; i++) f1[i] -= f0[i];
    double d2 = scaled_rms(f1, u0, n, atol, rtol) / h0;
    double dmax = fmax(d1, d2);
    double h1 = dmax <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / dmax, 1.0 / order);
    *h_out = fmin(100.0 * h0, h1);
    return NDE_OK;
}

double nde_pi_accept_factor(const nde_solver_opts *o, double err, double err_prev,
                            int after_reject)
{
    double fac;
    if (err <= 0.0)
        fac = o->fac_max;
    else
        fac = o->safety * pow(err, -o->beta1) * pow(err_prev, o->beta2);
    fac = fmin(o->fac_max, fmax(o->fac_min, fac));
    if (after_reject) fac = fmin(fac, 1.0);
    return fac;
}

double nde_pi_reject_factor(const nde_solver_opts *o, double err)
{
    if (!isfinite(err)) return o->fac_min;
    double fac = o->safety * pow(err, -o->beta1);
    return fmin(1.0, fmax(o->fac_min, fac));
}
