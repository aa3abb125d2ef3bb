/* Finite-difference check of a model through the nde_model interface: the gradient of
 * L(θ, x) = Σ w ⊙ model(x; θ) from nde_model_backward against central differences over
 * every θ entry and every x entry. Header-only, like fields.h. */
#ifndef NDE_TEST_MODEL_CHECK_H
#define NDE_TEST_MODEL_CHECK_H

#include <criterion/criterion.h>

#include "nde/nde.h"
#include "numcheck.h"

static inline double model_check_loss(nde_model *m, const double *x, const double *w, double *y,
                                      size_t batch)
{
    cr_assert_eq(nde_model_forward(m, x, y, batch), NDE_OK, "%s", nde_last_error());
    double l = 0.0;
    for (size_t i = 0; i < batch * nde_model_out_size(m); i++) l += w[i] * y[i];
    return l;
}

/* x (batch, in) is perturbed in place and restored; h: the difference step; tol: the
 * largest relative error of each gradient (θ, x) against its differences. */
static inline void model_check_grad(nde_model *m, double *x, size_t batch, double h, double tol,
                                    uint64_t seed)
{
    const size_t in = nde_model_in_size(m), out = nde_model_out_size(m);
    nde_params *p = nde_model_params(m);
    const size_t np = nde_params_count(p);
    double *w = nde_alloc_array(batch * out, sizeof *w), *y = nde_alloc_array(batch * out, sizeof *y);
    double *gx = nde_alloc_array(batch * in, sizeof *gx), *fx = nde_alloc_array(batch * in, sizeof *fx);
    double *gth = nde_alloc_array(np, sizeof *gth), *fth = nde_alloc_array(np, sizeof *fth);
    cr_assert(w && y && gx && fx && gth && fth);
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    for (size_t i = 0; i < batch * out; i++) w[i] = nde_rng_normal(&rng);
    model_check_loss(m, x, w, y, batch);
    cr_assert_eq(nde_model_backward(m, w, gx, gth, batch), NDE_OK, "%s", nde_last_error());
    double *th = nde_params_theta(p);
    for (size_t i = 0; i < np; i++) {
        const double t0 = th[i], step = h * (1.0 + fabs(t0));
        th[i] = t0 + step;
        const double lp = model_check_loss(m, x, w, y, batch);
        th[i] = t0 - step;
        const double lm = model_check_loss(m, x, w, y, batch);
        th[i] = t0;
        fth[i] = (lp - lm) / (2.0 * step);
    }
    for (size_t i = 0; i < batch * in; i++) {
        const double x0 = x[i], step = h * (1.0 + fabs(x0));
        x[i] = x0 + step;
        const double lp = model_check_loss(m, x, w, y, batch);
        x[i] = x0 - step;
        const double lm = model_check_loss(m, x, w, y, batch);
        x[i] = x0;
        fx[i] = (lp - lm) / (2.0 * step);
    }
    const double eth = rel_err(gth, fth, np), ex = rel_err(gx, fx, batch * in);
    cr_expect(eth <= tol, "model '%s': dL/dθ relative error %.3g > %.3g", nde_model_kind(m), eth, tol);
    cr_expect(ex <= tol, "model '%s': dL/dx relative error %.3g > %.3g", nde_model_kind(m), ex, tol);
    nde_free(w), nde_free(y), nde_free(gx), nde_free(fx), nde_free(gth), nde_free(fth);
}

#endif
