/* Step regularizers from an ops table: R = λ·agg_j v_j, v_j a function of accepted step
 * j's data, differentiated in the discrete adjoint's reverse sweep through its per-step
 * hook (src/adjoint/sweep.h). The op gives v_j and ∂v_j with respect to the step's
 * stages, start, end and estimates; this file aggregates the values, seeds each step with
 * w = ∂R/∂v_j and carries the estimates' and stage inputs' sensitivities into the stages
 * (nde_reg_step_push), after which the sweep reverses the step as for any loss. The
 * built-in kinds are ops tables too (global.c). */
#include <math.h>
#include <string.h>

#include "adjoint/sweep.h"
#include "nde/reg.h"

#include "core/grow.h"
#include "ode/rk_step.h"
#include "ode/tape_view.h"
#include "reg/reg_internal.h"

/* The fields of a step view that are the same for every step of the solve v. */
static void view_init(const nde_tape_view *v, double *scratch, const double *probe,
                      nde_reg_step *st)
{
    const nde_tableau *tab = v->tab;
    memset(st, 0, sizeof *st);
    st->n_steps = v->n_steps;
    st->batch = v->batch;
    st->dim = v->field->dim;
    st->n = v->n;
    st->stages = tab->stages;
    st->b = tab->b;
    st->c = tab->c;
    st->btilde = tab->btilde;
    st->atol = v->opts->atol;
    st->rtol = v->opts->rtol;
    st->field = v->field;
    st->probe = probe;
    st->scratch = scratch;
}

/* ---- the regularizer object ------------------------------------------------------ */

static const char *ops_name(const nde_reg_ops *ops) { return ops->name ? ops->name : "user"; }

static nde_status check_coef(double coef)
{
    if (!(coef >= 0.0) || !isfinite(coef))
        return NDE_FAIL(NDE_ERR_ARG, "regularization coefficient must be finite and >= 0, got %g",
                        coef);
    return NDE_OK;
}

nde_status nde_reg_create_ops(const nde_reg_ops *ops, void *ctx, nde_reg_agg agg, double coef,
                              nde_reg **out)
{
    if (!out) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create_ops: out is NULL");
    *out = NULL;
    if (!ops || !ops->step)
        return NDE_FAIL(NDE_ERR_ARG, "nde_reg_create_ops: NULL ops or ops->step");
    const char *name = ops_name(ops);
    if ((int)agg < NDE_REG_SUM || agg > NDE_REG_LOCAL_BIASED)
        return NDE_FAIL(NDE_ERR_ARG, "%s regularizer: unknown aggregation %d", name, (int)agg);
    if (agg == NDE_REG_MAX && !ops->log_value)
        return NDE_FAIL(NDE_ERR_ARG,
                        "%s regularizer: NDE_REG_MAX needs ops->log_value (the argmax must be "
                        "known before the reverse sweep)",
                        name);
    if (agg > NDE_REG_MAX && !ops->log_value)
        return NDE_FAIL(NDE_ERR_ARG,
                        "%s regularizer: the local aggregations are for the built-in error "
                        "and stiffness estimates of the SDE solvers (nde/sde.h)",
                        name);
    NDE_TRY(check_coef(coef));
    nde_reg *r = nde_alloc(sizeof *r);
    if (!r) return NDE_ERR_NOMEM;
    r->ops = ops;
    r->ctx = ctx;
    r->agg = agg;
    r->coef = coef;
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

nde_status nde_reg_set_coef(nde_reg *reg, double coef)
{
    if (!reg) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_set_coef: reg is NULL");
    NDE_TRY(check_coef(coef));
    reg->coef = coef;
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

/* Does the solver's method provide what the ops need? */
static nde_status check_method(const nde_reg *reg, const nde_tape_view *v)
{
    const nde_tableau *tab = v->tab;
    const char *method = nde_method_name(v->opts->method);
    const char *name = ops_name(reg->ops);
    if (reg->agg == NDE_REG_LOCAL_UNBIASED || reg->agg == NDE_REG_LOCAL_BIASED)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "%s regularizer: the local aggregations are for the SDE solvers "
                        "(nde/sde.h); an ODE's local regularizer is nde_local_reg",
                        name);
    if (!tab)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "step regularizers need an explicit RK solve, the solver uses %s",
                        method);
    if ((reg->ops->needs & NDE_REG_NEEDS_ERR_EST) && tab->est_order == 0)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "%s regularizer: %s has no embedded error estimate", name, method);
    if ((reg->ops->needs & NDE_REG_NEEDS_STIFF_EST) && tab->stiff_i < 0)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "%s regularizer: %s has no stage pair for Shampine's estimate", name,
                        method);
    return NDE_OK;
}

/* R from the step log (ops with log_value), and the aggregation's weight on each step:
 * 1 (sum), 1/N (mean), or 1 on the first argmax only (max; *argmax receives it). */
static nde_status log_value(const nde_reg *reg, const nde_step_rec *steps, size_t ns,
                            double *agg_w, size_t *argmax, double *value)
{
    double acc = 0.0, best = -1.0;
    *argmax = 0;
    for (size_t j = 0; j < ns; j++) {
        double v;
        NDE_TRY(reg->ops->log_value(reg->ctx, &steps[j], &v));
        acc += v;
        if (v > best) best = v, *argmax = j;
    }
    switch (reg->agg) {
    case NDE_REG_MEAN: *agg_w = 1.0 / (double)ns; *value = reg->coef * acc / (double)ns; break;
    case NDE_REG_MAX: *agg_w = 1.0; *value = reg->coef * best; break;
    default: *agg_w = 1.0; *value = reg->coef * acc;
    }
    return NDE_OK;
}

nde_status nde_reg_value(const nde_reg *reg, const nde_solver *s, double *value)
{
    if (!reg || !s || !value) return NDE_FAIL(NDE_ERR_ARG, "nde_reg_value: NULL argument");
    if (!reg->ops->log_value)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "nde_reg_value: the %s regularizer's value needs the stages; it is "
                        "computed by nde_adjoint_discrete_reg",
                        ops_name(reg->ops));
    nde_tape_view v = nde_solver_tape_view(s);
    if (!v.solved_ok || v.n_steps == 0)
        return NDE_FAIL(NDE_ERR_STATE, "nde_reg_value: the last solve did not succeed");
    NDE_TRY(check_method(reg, &v));
    size_t am;
    double w;
    return log_value(reg, v.steps, v.n_steps, &w, &am, value);
}

/* What the hook needs during one sweep. */
typedef struct hook_ctx {
    nde_reg *reg;
    const nde_tape_view *v; /* the solve being reversed */
    nde_reg_step st;  /* the step view; per-step fields set by the hook */
    double *ybar;     /* (stages, n) */
    double *u_new;    /* (n): u_{j+1} for methods without FSAL */
    double *e_ws;     /* (n) */
    double w;         /* λ times the aggregation weight */
    size_t argmax;    /* NDE_REG_MAX: the only step with a gradient */
    double acc;       /* ops without log_value: Σ v_j */
} hook_ctx;

static nde_status hook_step(void *user, size_t m, double t, double h, const double *y,
                            const double *k, double *kbar, double *ubar, double *lam,
                            double *gtheta)
{
    hook_ctx *c = user;
    const nde_reg *reg = c->reg;
    const nde_tableau *tab = c->v->tab;
    /* ∂R/∂v_m: zero off the argmax of a max */
    double w = reg->agg == NDE_REG_MAX && m != c->argmax ? 0.0 : c->w;
    /* a step's value is needed in the sweep only when it does not come from the log */
    if (reg->ops->log_value && w == 0.0) return NDE_OK;
    nde_reg_step *st = &c->st;
    size_t n = st->n, ns = (size_t)tab->stages;
    st->index = m;
    st->t = t;
    st->h = h;
    st->y = y;
    st->k = k;
    st->u = y;
    st->u_new = y + (ns - 1) * n; /* FSAL: the last stage input is u_{m+1} */
    if (!tab->fsal) {
        nde_rk_combine(tab, tab->b, h, y, k, n, c->u_new);
        st->u_new = c->u_new;
    }
    st->err_est = c->v->steps[m].err_est;
    st->stiff_est = c->v->steps[m].stiff_est;
    memset(c->ybar, 0, ns * n * sizeof *c->ybar);
    nde_reg_step_grad g = {.ybar = c->ybar, .kbar = kbar, .ubar = ubar, .unew_bar = lam,
                           .gtheta = gtheta};
    double v = 0.0;
    NDE_TRY(reg->ops->step(reg->ctx, st, w, &g, &v));
    c->acc += v;
    nde_reg_step_push(tab, h, y, k, st->u, st->u_new, n, st->atol, st->rtol, &g, c->e_ws);
    return NDE_OK;
}

nde_status nde_adjoint_discrete_reg(nde_solver *s, const double *dL_dtraj, nde_reg *reg,
                                    double *grad_theta, size_t n_theta, double *grad_u0,
                                    double *reg_value)
{
    if (!s || !reg) return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_discrete_reg: NULL solver or reg");
    nde_tape_view v = nde_solver_tape_view(s);
    size_t n_params = v.field->n_params;
    if (grad_theta && n_theta != n_params)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "nde_adjoint_discrete_reg: grad_theta has %zu entries, the field has "
                        "%zu parameters",
                        n_theta, n_params);
    if (!v.solved_ok || v.n_steps == 0)
        return NDE_FAIL(NDE_ERR_STATE,
                        "nde_adjoint_discrete_reg: the last solve did not succeed");
    NDE_TRY(check_method(reg, &v));
    size_t n = v.n, ns = (size_t)v.tab->stages, n_steps = v.n_steps;
    if ((reg->ops->needs & NDE_REG_NEEDS_PROBE) && reg->probe_n != n)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "%s regularizer: probe has %zu entries, the solve has batch·dim = %zu "
                        "(call nde_reg_draw_probe)",
                        ops_name(reg->ops), reg->probe_n, n);
    /* the sweep workspace: ybar (stages·n), u_new, e_ws (n each), the ops' scratch */
    NDE_TRY(nde_reserve_doubles(&reg->ws, &reg->ws_cap, (ns + 2 + reg->ops->scratch_per_n) * n));
    hook_ctx c = {.reg = reg, .v = &v};
    c.ybar = reg->ws;
    c.u_new = c.ybar + ns * n;
    c.e_ws = c.u_new + n;
    view_init(&v, c.e_ws + n, reg->probe_n == n ? reg->probe : NULL, &c.st);
    double agg_w = 1.0, value = 0.0;
    if (reg->ops->log_value)
        NDE_TRY(log_value(reg, v.steps, n_steps, &agg_w, &c.argmax, &value));
    else if (reg->agg == NDE_REG_MEAN)
        agg_w = 1.0 / (double)n_steps;
    c.w = reg->coef * agg_w;
    nde_adj_hook hook = {.step = hook_step, .user = &c};
    NDE_TRY(nde_adjoint_sweep(s, dL_dtraj, &hook, grad_theta, grad_u0));
    if (!reg->ops->log_value)
        value = reg->agg == NDE_REG_MEAN ? reg->coef * c.acc / (double)n_steps
                                         : reg->coef * c.acc;
    if (!isfinite(value))
        return NDE_FAIL(NDE_ERR_NONFINITE, "regularizer value is %g", value);
    if (reg_value) *reg_value = value;
    return NDE_OK;
}
