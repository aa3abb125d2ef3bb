/* Global regularizers: functions of every accepted step of a solve, differentiated in
 * the discrete adjoint's reverse sweep through a per-step hook.
 *
 *   error     R = λ agg_j E_j (|h_j|) / scale     Pal et al. 2021, "Opening the Blackbox"
 *   stiffness R = λ agg_j S_j (|h_j|) / scale     (ERNODE / SRNODE; agg = Σ in the paper,
 *                                                 mean / max in RegNeuralDE.jl)
 *   kinetic   R = λ Σ_j |h_j| Σ_i b_i ½ mean(k_i²)          Finlay et al. 2020, eq. (5):
 *   Jacobian  R = λ Σ_j |h_j| Σ_i b_i mean((εᵀ∂f/∂u(Y_i))²) ∫‖f‖² and ∫‖∇f‖_F² with
 *             Hutchinson's estimator, normalized as ffjord-rnode's quadratic_cost and
 *             jacobian_frobenius_regularization_fn (means over the batch and state).
 * The two integrals use the step's own quadrature (weights b_i at the stage values):
 * exactly what integrating them as extra state components would give, but without those
 * components steering the step-size control. */
#include <math.h>
#include <string.h>

#include "adjoint/sweep.h"
#include "nde/reg.h"
#include "ode/rk_step.h"
#include "ode/solver_internal.h"
#include "reg/reg_internal.h"

struct nde_reg {
    nde_reg_spec spec;
    double *ws;     /* 4 n: ẽ scratch, u_{m+1} (non-FSAL), vjp output, Ȳ */
    size_t ws_n;    /* n the workspace was sized for */
    double *probe;  /* (probe_n) Hutchinson ε */
    size_t probe_n, probe_cap;
};

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

static nde_status check_coef(double coef)
{
    if (!(coef >= 0.0) || !isfinite(coef))
        return NDE_FAIL(NDE_ERR_ARG, "regularization coefficient must be finite and >= 0, got %g",
                        coef);
    return NDE_OK;
}

nde_status nde_reg_create(const nde_reg_spec *spec, nde_reg **out)
{
    if (!spec || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create: NULL argument");
    *out = NULL;
    if ((int)spec->kind < 0 || spec->kind >= NDE_REG_KIND_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create: unknown regularizer kind %d",
                        (int)spec->kind);
    if ((int)spec->agg < NDE_REG_SUM || spec->agg > NDE_REG_MAX)
        return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create: unknown aggregation %d", (int)spec->agg);
    NDE_TRY(check_coef(spec->coef));
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
    nde_reg *r = nde_alloc(sizeof *r);
    if (!r) return NDE_ERR_NOMEM;
    r->spec = *spec;
    *out = r;
    return NDE_OK;
}

void nde_reg_destroy(nde_reg **reg)
{
    if (!reg || !*reg) return;
    nde_free((*reg)->ws);
    nde_free((*reg)->probe);
    nde_free(*reg);
    *reg = NULL;
}

const nde_reg_spec *nde_reg_get_spec(const nde_reg *reg) { return reg ? &reg->spec : NULL; }

nde_status nde_reg_set_coef(nde_reg *reg, double coef)
{
    if (!reg) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_set_coef: reg is NULL");
    NDE_TRY(check_coef(coef));
    reg->spec.coef = coef;
    return NDE_OK;
}

static nde_status reserve_probe(nde_reg *reg, size_t n)
{
    if (n == 0) return NDE_FAIL(NDE_ERR_ARG, "Hutchinson probe: size is 0");
    if (n > reg->probe_cap) {
        double *p = nde_alloc_array(n, sizeof *p);
        if (!p) return NDE_ERR_NOMEM;
        nde_free(reg->probe);
        reg->probe = p;
        reg->probe_cap = n;
    }
    reg->probe_n = n;
    return NDE_OK;
}

nde_status nde_reg_set_probe(nde_reg *reg, const double *eps, size_t n)
{
    if (!reg || !eps) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_set_probe: NULL argument");
    NDE_TRY(reserve_probe(reg, n));
    memcpy(reg->probe, eps, n * sizeof *eps);
    return NDE_OK;
}

nde_status nde_reg_draw_probe(nde_reg *reg, nde_rng *rng, size_t n)
{
    if (!reg || !rng) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_draw_probe: NULL argument");
    NDE_TRY(reserve_probe(reg, n));
    for (size_t i = 0; i < n; i++) reg->probe[i] = nde_rng_normal(rng);
    return NDE_OK;
}

/* Is the spec's estimate available for the solver's method? */
static nde_status check_method(const nde_reg *reg, const nde_solver *s)
{
    const nde_tableau *tab = s->tab;
    const char *name = nde_method_name(s->opts.method);
    if (!tab)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "global regularizers need an explicit RK solve, the solver uses %s", name);
    if (reg->spec.kind == NDE_REG_ERROR_EST && tab->est_order == 0)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "error-estimate regularizer: %s has no embedded error estimate", name);
    if (reg->spec.kind == NDE_REG_STIFF_EST && tab->stiff_i < 0)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "stiffness regularizer: %s has no stage pair for Shampine's estimate",
                        name);
    return NDE_OK;
}

/* Per-step value v_j of an error/stiffness regularizer (before λ and aggregation). */
static double step_value(const nde_reg_spec *sp, const nde_step_rec *st)
{
    double est = sp->kind == NDE_REG_ERROR_EST ? st->err_est : st->stiff_est;
    return est / sp->scale * (sp->weight_dt ? fabs(st->h) : 1.0);
}

/* R from the step log, and the aggregation's weight on each step: 1 (sum), 1/N (mean),
 * or 1 on the first argmax only (max; *argmax receives it). */
static double log_value(const nde_reg_spec *sp, const nde_step_rec *steps, size_t ns,
                        double *agg_w, size_t *argmax)
{
    double acc = 0.0, best = -1.0;
    *argmax = 0;
    for (size_t j = 0; j < ns; j++) {
        double v = step_value(sp, &steps[j]);
        acc += v;
        if (v > best) best = v, *argmax = j;
    }
    switch (sp->agg) {
    case NDE_REG_MEAN: *agg_w = 1.0 / (double)ns; return sp->coef * acc / (double)ns;
    case NDE_REG_MAX: *agg_w = 1.0; return sp->coef * best;
    default: *agg_w = 1.0; return sp->coef * acc;
    }
}

nde_status nde_reg_value(const nde_reg *reg, const nde_solver *s, double *value)
{
    if (!reg || !s || !value) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_value: NULL argument");
    if (reg->spec.kind != NDE_REG_ERROR_EST && reg->spec.kind != NDE_REG_STIFF_EST)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "nde_reg_value: the kinetic and Jacobian values are computed by "
                        "nde_adjoint_discrete_reg");
    if (!s->solved_ok || s->n_steps == 0)
        return NDE_FAIL(NDE_ERR_STATE, "nde_reg_value: the last solve did not succeed");
    NDE_TRY(check_method(reg, s));
    double w;
    size_t am;
    *value = log_value(&reg->spec, s->steps, s->n_steps, &w, &am);
    return NDE_OK;
}

/* What the hook needs during one sweep. */
typedef struct hook_ctx {
    nde_reg *reg;
    const nde_solver *s;
    double agg_w;   /* aggregation weight per step */
    size_t argmax;  /* NDE_REG_MAX: the only step with a gradient */
    double value;   /* integrals: accumulated R */
} hook_ctx;

static nde_status hook_estimate(hook_ctx *c, size_t m, double h, const double *y,
                                const double *k, double *kbar, double *ubar, double *lam)
{
    const nde_reg_spec *sp = &c->reg->spec;
    const nde_solver *s = c->s;
    const nde_tableau *tab = s->tab;
    size_t n = s->n, ns = (size_t)tab->stages;
    if (sp->agg == NDE_REG_MAX && m != c->argmax) return NDE_OK;
    double w = sp->coef * c->agg_w / sp->scale * (sp->weight_dt ? fabs(h) : 1.0);
    if (w == 0.0) return NDE_OK;
    if (sp->kind == NDE_REG_STIFF_EST) {
        nde_reg_stiff_step(tab, h, y, k, n, w, kbar);
        return NDE_OK;
    }
    double *e_ws = c->reg->ws;
    const double *u_new = y + (ns - 1) * n; /* FSAL: the last stage input is u_{m+1} */
    if (!tab->fsal) {
        nde_rk_combine(tab, tab->b, h, y, k, n, e_ws + n);
        u_new = e_ws + n;
    }
    nde_reg_err_step(tab, h, y, u_new, k, n, s->opts.atol, s->opts.rtol, w, e_ws, kbar, ubar,
                     lam);
    return NDE_OK;
}

static nde_status hook_integral(hook_ctx *c, double t, double h, const double *y,
                                const double *k, double *kbar, double *ubar, double *gtheta)
{
    const nde_reg_spec *sp = &c->reg->spec;
    const nde_solver *s = c->s;
    const nde_tableau *tab = s->tab;
    const nde_field *f = &s->field;
    size_t n = s->n;
    double inv_n = 1.0 / (double)n;
    double *v = c->reg->ws + 2 * n, *ybar = v + n;
    for (int i = 0; i < tab->stages; i++) {
        double wq = fabs(h) * tab->b[i];
        if (wq == 0.0) continue;
        const double *ki = k + (size_t)i * n, *yi = y + (size_t)i * n;
        double q = 0.0;
        if (sp->kind == NDE_REG_KINETIC) {
            /* ½ mean(k²): ∂/∂k_i = k_i / n */
            double g = sp->coef * wq * inv_n;
            double *kb = kbar + (size_t)i * n;
            for (size_t e = 0; e < n; e++) {
                q += ki[e] * ki[e];
                kb[e] += g * ki[e];
            }
            q *= 0.5 * inv_n;
        } else {
            double ti = t + tab->c[i] * h;
            NDE_TRY(f->vjp(f->ctx, ti, yi, c->reg->probe, v, NULL, s->batch));
            for (size_t e = 0; e < n; e++) q += v[e] * v[e];
            q *= inv_n;
            /* ∂ mean(v²) = (2/n) vᵀ ∂v: the second-order product with w = (2λ wq / n) v */
            double g = 2.0 * sp->coef * wq * inv_n;
            for (size_t e = 0; e < n; e++) v[e] *= g;
            memset(ybar, 0, n * sizeof *ybar);
            NDE_TRY(sp->jac_grad(f->ctx, ti, yi, c->reg->probe, v, ybar, gtheta, s->batch));
            nde_reg_push_stage_input(tab, i, h, ybar, n, kbar, ubar);
        }
        c->value += sp->coef * wq * q;
    }
    return NDE_OK;
}

static nde_status hook_step(void *user, size_t m, double t, double h, const double *y,
                            const double *k, double *kbar, double *ubar, double *lam,
                            double *gtheta)
{
    hook_ctx *c = user;
    nde_reg_kind kind = c->reg->spec.kind;
    if (kind == NDE_REG_ERROR_EST || kind == NDE_REG_STIFF_EST)
        return hook_estimate(c, m, h, y, k, kbar, ubar, lam);
    return hook_integral(c, t, h, y, k, kbar, ubar, gtheta);
}

nde_status nde_adjoint_discrete_reg(nde_solver *s, const double *dL_dtraj, nde_reg *reg,
                                    double *grad_theta, size_t n_theta, double *grad_u0,
                                    double *reg_value)
{
    if (!s || !reg) return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_discrete_reg: NULL solver or reg");
    if (grad_theta && n_theta != s->field.n_params)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "nde_adjoint_discrete_reg: grad_theta has %zu entries, the field has "
                        "%zu parameters",
                        n_theta, s->field.n_params);
    if (!s->solved_ok || s->n_steps == 0)
        return NDE_FAIL(NDE_ERR_STATE,
                        "nde_adjoint_discrete_reg: the last solve did not succeed");
    NDE_TRY(check_method(reg, s));
    size_t n = s->n;
    if (reg->spec.kind == NDE_REG_JACOBIAN && reg->probe_n != n)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "Jacobian regularizer: probe has %zu entries, the solve has batch·dim "
                        "= %zu (call nde_reg_draw_probe)",
                        reg->probe_n, n);
    if (n > reg->ws_n) {
        double *ws = nde_alloc_array(4 * n, sizeof *ws);
        if (!ws) return NDE_ERR_NOMEM;
        nde_free(reg->ws);
        reg->ws = ws;
        reg->ws_n = n;
    }
    hook_ctx c = {.reg = reg, .s = s, .agg_w = 1.0};
    double value = 0.0;
    if (reg->spec.kind == NDE_REG_ERROR_EST || reg->spec.kind == NDE_REG_STIFF_EST)
        value = log_value(&reg->spec, s->steps, s->n_steps, &c.agg_w, &c.argmax);
    nde_adj_hook hook = {.step = hook_step, .user = &c};
    NDE_TRY(nde_adjoint_sweep(s, dL_dtraj, &hook, grad_theta, grad_u0));
    if (reg->spec.kind == NDE_REG_KINETIC || reg->spec.kind == NDE_REG_JACOBIAN) value = c.value;
    if (!isfinite(value))
        return NDE_FAIL(NDE_ERR_NONFINITE, "regularizer value is %g", value);
    if (reg_value) *reg_value = value;
    return NDE_OK;
}
