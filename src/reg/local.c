/* Local regularization at a stochastic time (Pal, Edelman & Rackauckas, "Locally
 * Regularized Neural Differential Equations", ICML 2023, Algorithms 1 and 2; reference
 * code LocalRegNeuralDE.jl, src/perform_step.jl): one Tsit5 step from u(t_reg) whose
 * error (or stiffness) estimate times |dt| is the penalty, differentiated by reverse
 * mode through that one step with u(t_reg), k1 and dt held constant. */
#include <math.h>
#include <string.h>

#include "nde/reg.h"
#include "ode/rk_step.h"
#include "ode/step_control.h"
#include "reg/reg_internal.h"

struct nde_local_reg {
    nde_field field;   /* copy of the caller's struct */
    nde_local_reg_spec spec;
    const nde_tableau *tab; /* Tsit5, whatever the main solver is (as the reference) */
    size_t max_batch, cap;  /* cap = max_batch · dim */
    nde_rng rng;
    /* workspace (cap each unless noted): y, k, kbar (stages·cap); ubar, ubar_new, e_ws,
     * tmp, work (2 cap) */
    double *y, *k, *kbar, *ubar, *ubar_new, *e_ws, *tmp, *work;
    /* biased sampling: reservoir over step starts */
    double *last, *chosen;
    double t_last, t_chosen;
    size_t seen, batch;
    int begun;
};

static nde_status check_spec(const nde_local_reg_spec *sp)
{
    if (sp->kind != NDE_REG_ERROR_EST && sp->kind != NDE_REG_STIFF_EST)
        return NDE_FAIL(NDE_ERR_ARG,
                        "local regularizer: kind must be the error or stiffness estimate, "
                        "got %d",
                        (int)sp->kind);
    if (sp->sampling != NDE_LOCAL_UNBIASED && sp->sampling != NDE_LOCAL_BIASED)
        return NDE_FAIL(NDE_ERR_ARG, "local regularizer: unknown sampling %d", (int)sp->sampling);
    if (!(sp->atol > 0.0) || !(sp->rtol > 0.0) || !isfinite(sp->atol) || !isfinite(sp->rtol))
        return NDE_FAIL(NDE_ERR_ARG,
                        "local regularizer: tolerances must be finite and > 0, got atol %g "
                        "rtol %g",
                        sp->atol, sp->rtol);
    if (!(sp->coef >= 0.0) || !isfinite(sp->coef))
        return NDE_FAIL(NDE_ERR_ARG, "local regularizer: coef must be finite and >= 0, got %g",
                        sp->coef);
    if (!(sp->scale >= 0.0) || !isfinite(sp->scale))
        return NDE_FAIL(NDE_ERR_ARG, "local regularizer: scale must be finite and >= 0, got %g",
                        sp->scale);
    return NDE_OK;
}

nde_status nde_local_reg_create(const nde_field *field, size_t max_batch,
                                const nde_local_reg_spec *spec, nde_local_reg **out)
{
    if (!out || !spec) return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_create: NULL argument");
    *out = NULL;
    NDE_TRY(nde_field_check(field, 1));
    if (max_batch == 0) return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_create: max_batch is 0");
    NDE_TRY(check_spec(spec));
    nde_local_reg *lr = nde_alloc(sizeof *lr);
    if (!lr) return NDE_ERR_NOMEM;
    lr->field = *field;
    lr->spec = *spec;
    if (lr->spec.scale == 0.0) lr->spec.scale = 1.0;
    lr->tab = nde_tableau_get(NDE_TSIT5);
    lr->max_batch = max_batch;
    lr->cap = max_batch * field->dim;
    nde_rng_seed(&lr->rng, spec->seed);
    size_t st = (size_t)lr->tab->stages, cap = lr->cap;
    /* one block: 3 stage arrays, 4 vectors, the 2-vector heuristic work, 2 reservoir */
    double *blk = nde_alloc_array((3 * st + 8) * cap, sizeof *blk);
    if (!blk) {
        nde_free(lr);
        return NDE_ERR_NOMEM;
    }
    lr->y = blk;
    lr->k = lr->y + st * cap;
    lr->kbar = lr->k + st * cap;
    lr->ubar = lr->kbar + st * cap;
    lr->ubar_new = lr->ubar + cap;
    lr->e_ws = lr->ubar_new + cap;
    lr->tmp = lr->e_ws + cap;
    lr->work = lr->tmp + cap;
    lr->last = lr->work + 2 * cap;
    lr->chosen = lr->last + cap;
    *out = lr;
    return NDE_OK;
}

void nde_local_reg_destroy(nde_local_reg **lr)
{
    if (!lr || !*lr) return;
    nde_free((*lr)->y);
    nde_free(*lr);
    *lr = NULL;
}

nde_status nde_local_reg_set_coef(nde_local_reg *lr, double coef)
{
    if (!lr) return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_set_coef: lr is NULL");
    if (!(coef >= 0.0) || !isfinite(coef))
        return NDE_FAIL(NDE_ERR_ARG, "local regularizer: coef must be finite and >= 0, got %g",
                        coef);
    lr->spec.coef = coef;
    return NDE_OK;
}

nde_status nde_local_reg_draw_time(nde_local_reg *lr, double t0, double t1, double *t_reg)
{
    if (!lr || !t_reg) return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_draw_time: NULL argument");
    if (!isfinite(t0) || !isfinite(t1) || t0 == t1)
        return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_draw_time: bad span [%g, %g]", t0, t1);
    /* LocalRegNeuralDE.jl: t1 = rand(rng)·(t2 − t0) + t0 */
    *t_reg = t0 + nde_rng_uniform(&lr->rng) * (t1 - t0);
    return NDE_OK;
}

nde_status nde_local_reg_begin(nde_local_reg *lr, size_t batch, double t0, const double *u0)
{
    if (!lr || !u0) return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_begin: NULL argument");
    if (batch == 0 || batch > lr->max_batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_begin: batch %zu outside [1, %zu]", batch,
                        lr->max_batch);
    lr->batch = batch;
    memcpy(lr->last, u0, batch * lr->field.dim * sizeof *u0);
    lr->t_last = t0;
    lr->seen = 0;
    lr->begun = 1;
    return NDE_OK;
}

/* Reservoir sampling (Vitter's algorithm R with a reservoir of one): when step j (1-based)
 * is accepted, its start state becomes the sample with probability 1/j, so every step
 * start — t0 and each accepted end except the last — is equally likely. */
void nde_local_reg_observe(nde_local_reg *lr, const nde_step_info *info)
{
    if (!lr || !info || !info->accepted || !lr->begun) return;
    size_t n = lr->batch * lr->field.dim;
    if (info->n != n) return;
    lr->seen++;
    if (nde_rng_below(&lr->rng, lr->seen) == 0) {
        memcpy(lr->chosen, lr->last, n * sizeof *lr->chosen);
        lr->t_chosen = lr->t_last;
    }
    memcpy(lr->last, info->u, n * sizeof *lr->last);
    lr->t_last = info->t + info->h;
}

int nde_local_reg_callback(const nde_step_info *info, void *lr)
{
    nde_local_reg_observe(lr, info);
    return 0;
}

nde_status nde_local_reg_sample(const nde_local_reg *lr, double *t_reg, const double **u)
{
    if (!lr || !t_reg || !u) return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_sample: NULL argument");
    if (!lr->begun || lr->seen == 0)
        return NDE_FAIL(NDE_ERR_STATE,
                        "nde_local_reg_sample: no accepted step observed (call "
                        "nde_local_reg_begin and pass the solver's steps to observe)");
    *t_reg = lr->t_chosen;
    *u = lr->chosen;
    return NDE_OK;
}

/* Reverse of the step's stages: given kbar (stages, n) and ubar_new = ∂R/∂u_new, add
 * ∂R/∂u to ubar and ∂R/∂θ to gtheta. u_new = u + h Σ_i b_i k_i, k_i = f(t + c_i h, Y_i),
 * Y_i = u + h Σ_{j<i} a_ij k_j; stages from `first` on are differentiated (first = 1:
 * k1 is a constant). */
static nde_status reverse_step(nde_local_reg *lr, size_t batch, double t, double h, int first,
                               double *gtheta)
{
    const nde_tableau *tab = lr->tab;
    const nde_field *f = &lr->field;
    size_t n = batch * f->dim, ns = (size_t)tab->stages;
    for (size_t e = 0; e < n; e++) lr->ubar[e] += lr->ubar_new[e];
    for (size_t i = 0; i < ns; i++) {
        if (tab->b[i] == 0.0) continue;
        double hb = h * tab->b[i];
        double *kb = lr->kbar + i * n;
        for (size_t e = 0; e < n; e++) kb[e] += hb * lr->ubar_new[e];
    }
    for (size_t i = ns; i-- > (size_t)first;) {
        double *kb = lr->kbar + i * n;
        NDE_TRY(f->vjp(f->ctx, t + tab->c[i] * h, lr->y + i * n, kb, lr->tmp, gtheta, batch));
        nde_reg_push_stage_input(tab, (int)i, h, lr->tmp, n, lr->kbar, lr->ubar);
    }
    return NDE_OK;
}

nde_status nde_local_reg_eval(nde_local_reg *lr, size_t batch, double t_reg, const double *u,
                              const double *k1, double t_end, double dt, double *grad_theta,
                              double *grad_u, nde_local_reg_result *res)
{
    if (!lr || !u) return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_eval: NULL lr or u");
    if (batch == 0 || batch > lr->max_batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_eval: batch %zu outside [1, %zu]", batch,
                        lr->max_batch);
    if (!isfinite(t_reg) || !isfinite(t_end) || !isfinite(dt))
        return NDE_FAIL(NDE_ERR_ARG, "nde_local_reg_eval: non-finite t_reg %g, t_end %g or dt %g",
                        t_reg, t_end, dt);
    const nde_field *f = &lr->field;
    const nde_tableau *tab = lr->tab;
    size_t n = batch * f->dim, ns = (size_t)tab->stages;
    for (size_t e = 0; e < n; e++)
        if (!isfinite(u[e]))
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "local regularizer: u(t_reg = %g)[%zu] (sample %zu) = %g", t_reg, e,
                            e / f->dim, u[e]);
    double dir = t_end > t_reg ? 1.0 : -1.0;
    if (dt != 0.0 && (t_end == t_reg || dt * dir < 0.0))
        return NDE_FAIL(NDE_ERR_ARG,
                        "nde_local_reg_eval: dt = %g does not point from t_reg = %g towards "
                        "t_end = %g",
                        dt, t_reg, t_end);
    nde_local_reg_result r = {.t_reg = t_reg};
    if (grad_u) memset(grad_u, 0, n * sizeof *grad_u);
    if (t_end == t_reg) {
        if (res) *res = r;
        return NDE_OK;
    }
    double *k = lr->k, *y = lr->y;
    if (k1) {
        memcpy(k, k1, n * sizeof *k);
    } else {
        NDE_TRY(f->f(f->ctx, t_reg, u, k, batch));
        r.nfe++;
    }
    if (dt == 0.0) {
        /* OrdinaryDiffEq's init: the automatic initial dt at t_reg, at most the span */
        double habs;
        NDE_TRY(nde_initial_step(f, batch, t_reg, dir, u, k, tab->order, lr->spec.atol,
                                 lr->spec.rtol, lr->work, &habs, &r.nfe));
        dt = dir * fmin(habs, fabs(t_end - t_reg));
    }
    r.dt = dt;
    NDE_TRY(nde_rk_stages(tab, f, batch, t_reg, dt, u, k, y, 1, &r.nfe));
    const double *u_new = y + (ns - 1) * n; /* Tsit5 is FSAL: the last stage input */
    int want = grad_theta || grad_u;
    double coef = lr->spec.coef, w_err = 0.0, w_st = 0.0;
    if (want && lr->spec.kind == NDE_REG_ERROR_EST) w_err = coef * fabs(dt);
    if (want && lr->spec.kind == NDE_REG_STIFF_EST) w_st = coef * fabs(dt) / lr->spec.scale;
    memset(lr->kbar, 0, ns * n * sizeof *lr->kbar);
    memset(lr->ubar, 0, n * sizeof *lr->ubar);
    memset(lr->ubar_new, 0, n * sizeof *lr->ubar_new);
    r.err_est = nde_reg_err_step(tab, dt, u, u_new, k, n, lr->spec.atol, lr->spec.rtol, 0.0,
                                 lr->e_ws, NULL, NULL, NULL);
    r.stiff_est = nde_reg_stiff_step(tab, dt, y, k, n, 0.0, NULL);
    /* the estimates' sensitivities go into the stages as for a global step regularizer */
    nde_reg_step_grad g = {.kbar = lr->kbar, .ubar = lr->ubar, .unew_bar = lr->ubar_new,
                           .err_est_bar = w_err, .stiff_est_bar = w_st};
    nde_reg_step_push(tab, dt, y, k, u, u_new, n, lr->spec.atol, lr->spec.rtol, &g, lr->e_ws);
    double est = lr->spec.kind == NDE_REG_ERROR_EST ? r.err_est : r.stiff_est / lr->spec.scale;
    r.value = coef * est * fabs(dt);
    if (!isfinite(r.value))
        return NDE_FAIL(NDE_ERR_NONFINITE,
                        "local regularizer: estimate at t_reg = %g with dt = %g is %g", t_reg,
                        dt, est);
    if (want && r.value != 0.0) {
        NDE_TRY(reverse_step(lr, batch, t_reg, dt, lr->spec.diff_start ? 0 : 1, grad_theta));
        if (grad_u) memcpy(grad_u, lr->ubar, n * sizeof *grad_u);
    }
    if (res) *res = r;
    return NDE_OK;
}
