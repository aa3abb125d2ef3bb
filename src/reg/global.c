/* The built-in global regularizers, each an ops table of step regularizers (step_reg.c):
 *
 *   error     v_j = E_j (|h_j|) / scale            Pal et al. 2021, "Opening the Blackbox"
 *   stiffness v_j = S_j (|h_j|) / scale            (ERNODE / SRNODE; agg = Σ in the paper,
 *                                                  mean / max in RegNeuralDE.jl)
 *   kinetic   v_j = |h_j| Σ_i b_i ½ mean(k_i²)          Finlay et al. 2020, eq. (5):
 *   Jacobian  v_j = |h_j| Σ_i b_i mean((εᵀ∂f/∂u(Y_i))²) ∫‖f‖² and ∫‖∇f‖_F² with
 *             Hutchinson's estimator, normalized as ffjord-rnode's quadratic_cost and
 *             jacobian_frobenius_regularization_fn (means over the batch and state).
 * The two integrals use the step's own quadrature (weights b_i at the stage values):
 * exactly what integrating them as extra state components would give, but without those
 * components steering the step-size control. */
#include <math.h>
#include <string.h>

#include "nde/reg.h"
#include "reg/reg_internal.h"

static nde_reg_spec base(nde_reg_kind kind, nde_reg_agg agg, double coef, int weight_dt,
                         double scale)
{
    nde_reg_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.agg = agg;
    s.coef = coef;
    s.weight_dt = weight_dt;
    s.scale = scale;
    return s;
}

nde_reg_spec nde_reg_error_estimate(double coef)
{
    return base(NDE_REG_ERROR_EST, NDE_REG_SUM, coef, 1, 1.0);
}
nde_reg_spec nde_reg_error_estimate_mean(double coef)
{
    return base(NDE_REG_ERROR_EST, NDE_REG_MEAN, coef, 1, 1.0);
}
nde_reg_spec nde_reg_stiffness(double coef)
{
    return base(NDE_REG_STIFF_EST, NDE_REG_SUM, coef, 1, 1.0);
}
nde_reg_spec nde_reg_stiffness_max(double coef)
{
    return base(NDE_REG_STIFF_EST, NDE_REG_MAX, coef, 0, NDE_TSIT5_STABILITY_SIZE);
}
nde_reg_spec nde_reg_kinetic(double coef) { return base(NDE_REG_KINETIC, NDE_REG_SUM, coef, 1, 1.0); }
nde_reg_spec nde_reg_jacobian(double coef, nde_jac_grad_fn jac_grad)
{
    nde_reg_spec s = base(NDE_REG_JACOBIAN, NDE_REG_SUM, coef, 1, 1.0);
    s.jac_grad = jac_grad;
    return s;
}

/* ---- error and stiffness estimates: v_j from the step log ------------------------ */

/* The factor of the estimate in v_j (ctx: the spec). */
static double est_factor(const nde_reg_spec *sp, double h)
{
    return (sp->weight_dt ? fabs(h) : 1.0);
}

static nde_status est_log_value(void *ctx, const nde_step_rec *rec, double *value)
{
    const nde_reg_spec *sp = ctx;
    double est = sp->kind == NDE_REG_ERROR_EST ? rec->err_est : rec->stiff_est;
    *value = est / sp->scale * est_factor(sp, rec->h);
    return NDE_OK;
}

static nde_status est_step(void *ctx, const nde_reg_step *st, double w, nde_reg_step_grad *g,
                           double *value)
{
    const nde_reg_spec *sp = ctx;
    double est = sp->kind == NDE_REG_ERROR_EST ? st->err_est : st->stiff_est;
    *value = est / sp->scale * est_factor(sp, st->h);
    /* ∂v/∂est; the library differentiates the estimate through the stages */
    double d_est = w / sp->scale * est_factor(sp, st->h);
    if (sp->kind == NDE_REG_ERROR_EST)
        g->err_est_bar += d_est;
    else
        g->stiff_est_bar += d_est;
    return NDE_OK;
}

static const nde_reg_ops error_ops = {
    .name = "error-estimate", .needs = NDE_REG_NEEDS_ERR_EST, .step = est_step,
    .log_value = est_log_value};
static const nde_reg_ops stiff_ops = {
    .name = "stiffness", .needs = NDE_REG_NEEDS_STIFF_EST, .step = est_step,
    .log_value = est_log_value};

/* ---- kinetic energy and Jacobian norm: integrals by the step's quadrature -------- */

/* ½ mean(k_i²); ∂/∂k_i = k_i / n */
static nde_status kinetic_step(void *ctx, const nde_reg_step *st, double w,
                               nde_reg_step_grad *g, double *value)
{
    (void)ctx;
    size_t n = st->n;
    double inv_n = 1.0 / (double)n, acc = 0.0;
    for (int i = 0; i < st->stages; i++) {
        double wq = fabs(st->h) * st->b[i];
        if (wq == 0.0) continue;
        const double *ki = st->k + (size_t)i * n;
        double *kb = g->kbar + (size_t)i * n;
        double gk = w * wq * inv_n, q = 0.0;
        for (size_t e = 0; e < n; e++) {
            q += ki[e] * ki[e];
            kb[e] += gk * ki[e];
        }
        q *= 0.5 * inv_n;
        acc += wq * q;
    }
    *value = acc;
    return NDE_OK;
}

/* mean(v²), v = εᵀ∂f/∂u(Y_i) by the field's vjp; its gradient is the second-order product
 * spec.jac_grad with w = (2 w wq / n) v. scratch: v (n). */
static nde_status jacobian_step(void *ctx, const nde_reg_step *st, double w,
                                nde_reg_step_grad *g, double *value)
{
    const nde_reg_spec *sp = ctx;
    const nde_field *f = st->field;
    size_t n = st->n;
    double inv_n = 1.0 / (double)n, acc = 0.0, *v = st->scratch;
    for (int i = 0; i < st->stages; i++) {
        double wq = fabs(st->h) * st->b[i];
        if (wq == 0.0) continue;
        const double *yi = st->y + (size_t)i * n;
        double ti = st->t + st->c[i] * st->h, q = 0.0;
        NDE_TRY(f->vjp(f->ctx, ti, yi, st->probe, v, NULL, st->batch));
        for (size_t e = 0; e < n; e++) q += v[e] * v[e];
        q *= inv_n;
        acc += wq * q;
        if (w == 0.0) continue;
        double gv = 2.0 * w * wq * inv_n;
        for (size_t e = 0; e < n; e++) v[e] *= gv;
        NDE_TRY(sp->jac_grad(f->ctx, ti, yi, st->probe, v, g->ybar + (size_t)i * n, g->gtheta,
                             st->batch));
    }
    *value = acc;
    return NDE_OK;
}

static const nde_reg_ops kinetic_ops = {.name = "kinetic", .step = kinetic_step};
static const nde_reg_ops jacobian_ops = {
    .name = "Jacobian", .needs = NDE_REG_NEEDS_PROBE, .scratch_per_n = 1, .step = jacobian_step};

/* ---- creation from a spec ------------------------------------------------------- */

nde_status nde_reg_create(const nde_reg_spec *spec, nde_reg **out)
{
    if (!spec || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create: NULL argument");
    *out = NULL;
    static const nde_reg_ops *const ops[NDE_REG_KIND_COUNT] = {
        [NDE_REG_ERROR_EST] = &error_ops, [NDE_REG_STIFF_EST] = &stiff_ops,
        [NDE_REG_KINETIC] = &kinetic_ops, [NDE_REG_JACOBIAN] = &jacobian_ops};
    if ((int)spec->kind < 0 || spec->kind >= NDE_REG_KIND_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create: unknown regularizer kind %d",
                        (int)spec->kind);
    if ((int)spec->agg < NDE_REG_SUM || spec->agg > NDE_REG_LOCAL_BIASED)
        return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create: unknown aggregation %d", (int)spec->agg);
    if (!(spec->scale > 0.0) || !isfinite(spec->scale))
        return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create: scale must be finite and > 0, got %g",
                        spec->scale);
    int integral = spec->kind == NDE_REG_KINETIC || spec->kind == NDE_REG_JACOBIAN;
    if (integral && spec->agg != NDE_REG_SUM)
        return NDE_FAIL(NDE_ERR_ARG,
                        "nde_reg_create: the kinetic and Jacobian regularizers are integrals "
                        "and take NDE_REG_SUM only (got aggregation %d)",
                        (int)spec->agg);
    if (spec->kind == NDE_REG_JACOBIAN && !spec->jac_grad)
        return NDE_FAIL(NDE_ERR_ARG,
                        "nde_reg_create: the Jacobian regularizer needs spec.jac_grad (the "
                        "field's second-order product)");
    nde_reg *r;
    NDE_TRY(nde_reg_create_ops(ops[spec->kind], NULL, spec->agg, spec->coef, &r));
    r->spec = *spec;
    r->has_spec = 1;
    r->ctx = &r->spec;
    *out = r;
    return NDE_OK;
}

const nde_reg_spec *nde_reg_get_spec(const nde_reg *reg)
{
    return reg && reg->has_spec ? &reg->spec : NULL;
}
