/* Discrete adjoint of an explicit Runge–Kutta solve (the "discretize-then-optimize"
 * gradient): reverse-mode differentiation of every accepted step with the step sizes
 * held constant, as in torchdiffeq's direct backpropagation, diffrax's
 * RecursiveCheckpointAdjoint and DiffEqFlux's discrete sensitivities.
 *
 * Step m maps u_m to u_{m+1} = u_m + h Σ_i b_i k_i, with k_i = f(t + c_i h, Y_i) and
 * Y_i = u_m + h Σ_{j<i} a_ij k_j; save times inside the step read the continuous
 * extension u_m + h Σ_i w_i(θ) k_i. Reversing it, given λ = ∂L/∂u_{m+1}:
 *     k̄_i += h b_i λ (+ h w_i(θ) ḡ for each save time in the step),
 *     for i = s..1:  Ȳ_i = (∂f/∂u)(Y_i)ᵀ k̄_i,  θ̄ += (∂f/∂θ)(Y_i)ᵀ k̄_i,
 *                    k̄_j += h a_ij Ȳ_i (j < i),  ū_m += Ȳ_i,
 *     ū_m += λ (+ ḡ for each interpolated save time),   λ ← ū_m.
 * A continuous extension with lazy extra stages (DOP853, Verner) adds them for the steps
 * with a save time inside: they are recomputed from the step's stages (the forward's
 * arithmetic, so the same values) and reversed with the rest.
 * FSAL reuse is a forward-only saving: k_1 of step m is f(t_m, u_m) whatever step
 * computed it, so each step is reversed on its own. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "adjoint/adjoint_internal.h"
#include "adjoint/checkpoint.h"
#include "core/grow.h"
#include "ode/rk_step.h"

static int all_zero(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0.0) return 0;
    return 1;
}

static void axpy(size_t n, double a, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* One reverse sweep's state: adjoint vectors, where the save times stand, outputs. */
typedef struct sweep {
    nde_tape_view v;
    nde_adjoint_stats *st;
    const double *dL;
    const nde_adj_hook *hook;
    double *grad_theta;
    double *lam, *ubar, *tmp, *kbar; /* (n), (n), (n), (dense stages, n) */
    double *y_re, *k_re;             /* (stages, n): recomputed stages */
    double *rec_re;                  /* (stages, batch·rec_size): their field records */
    double *yx, *kx, *recx;          /* the continuous extension's lazy stages (extra, n),
                                        (extra, n), (extra, batch·rec_size) */
    size_t kout;                     /* save times not yet reversed: [0, kout) */
} sweep;

/* Reverse accepted step m given its stage inputs y, derivatives k and, when the field
 * records its evaluations, their records rec (stages, batch·rec_size) (else NULL). */
static nde_status reverse_step(sweep *w, size_t m, const double *y, const double *k,
                               const double *rec)
{
    const nde_tape_view *v = &w->v;
    const nde_tableau *tab = v->tab;
    const nde_field *f = v->field;
    size_t n = v->n, ns = (size_t)tab->stages, nx = (size_t)nde_tableau_dense_stages(tab);
    size_t rs = v->batch * f->rec_size;
    double *lam = w->lam, *ubar = w->ubar, *tmp = w->tmp, *kbar = w->kbar;
    double t = v->steps[m].t, h = v->steps[m].h;
    int extra = 0; /* the lazy stages were recomputed: reverse them too */
    memset(kbar, 0, nx * n * sizeof *kbar);
    memset(ubar, 0, n * sizeof *ubar);
    while (w->dL && w->kout > 1 && v->save_src[w->kout - 1].step == m) {
        w->kout--;
        const double *g = w->dL + w->kout * n;
        double theta = v->save_src[w->kout].theta;
        if (theta == 1.0) {
            axpy(n, 1.0, g, lam);
        } else {
            double wd[NDE_RK_MAX_STAGES] = {0};
            if (nx > ns && !extra) {
                /* the forward evaluated them for this step: repeat its arithmetic */
                NDE_TRY(nde_rk_extra_stages(tab, f, v->batch, t, h, y, k, w->kx, w->yx,
                                            rec ? w->recx : NULL, &w->st->nfe));
                extra = 1;
            }
            tab->dense(theta, wd);
            axpy(n, 1.0, g, ubar);
            for (size_t i = 0; i < nx; i++)
                if (wd[i] != 0.0) axpy(n, h * wd[i], g, kbar + i * n);
        }
    }
    if (w->hook)
        NDE_TRY(w->hook->step(w->hook->user, m, t, h, y, k, kbar, ubar, lam, w->grad_theta));
    axpy(n, 1.0, lam, ubar);
    for (size_t i = 0; i < ns; i++)
        if (tab->b[i] != 0.0) axpy(n, h * tab->b[i], lam, kbar + i * n);
    for (size_t i = extra ? nx : ns; i-- > 0;) {
        double *kb = kbar + i * n;
        if (all_zero(kb, n)) continue;
        double ti = t + tab->c[i] * h;
        const double *yi = i < ns ? y + i * n : w->yx + (i - ns) * n;
        const double *ri = !rec ? NULL : i < ns ? rec + i * rs : w->recx + (i - ns) * rs;
        if (ri)
            NDE_TRY(f->vjp_rec(f->ctx, ti, yi, ri, kb, tmp, w->grad_theta, v->batch));
        else
            NDE_TRY(f->vjp(f->ctx, ti, yi, kb, tmp, w->grad_theta, v->batch));
        w->st->n_vjp++;
        axpy(n, 1.0, tmp, ubar);
        for (size_t j = 0; j < i; j++)
            if (tab->a[i][j] != 0.0) axpy(n, h * tab->a[i][j], tmp, kbar + j * n);
    }
    memcpy(lam, ubar, n * sizeof *lam);
    return NDE_OK;
}

/* Reverse step m from its start state: recompute the stages, then reverse. */
static nde_status reverse_from_start(void *user, size_t m, const double *u_m)
{
    sweep *w = user;
    const nde_tape_view *v = &w->v;
    NDE_TRY(nde_rk_stages_rec(v->tab, v->field, v->batch, v->steps[m].t, v->steps[m].h, u_m,
                              w->k_re, w->y_re, w->rec_re, 0, &w->st->nfe));
    return reverse_step(w, m, w->y_re, w->k_re, w->rec_re);
}

nde_status nde_adj_discrete(nde_adjoint *a, const double *dL, const nde_adj_hook *hook,
                            double *grad_theta, double *grad_u0)
{
    nde_tape_view v = nde_solver_tape_view(a->s);
    if (!v.tab)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "discrete adjoint needs an explicit RK method, solver uses %s",
                        nde_method_name(v.opts->method));
    if (!v.solved_ok)
        return NDE_FAIL(NDE_ERR_STATE, "discrete adjoint: the last solve did not succeed");
    if (v.opts->tape == NDE_TAPE_NONE)
        return NDE_FAIL(NDE_ERR_STATE,
                        "discrete adjoint: the solve recorded no tape (set opts.tape to "
                        "NDE_TAPE_STAGES, NDE_TAPE_STEP_STARTS or NDE_TAPE_CHECKPOINT)");
    if (!dL && !hook) return NDE_FAIL(NDE_ERR_ARG, "discrete adjoint: dL_dtraj is NULL");
    size_t n = v.n, ns = (size_t)v.tab->stages, nx = (size_t)nde_tableau_dense_stages(v.tab);
    int recompute = v.opts->tape != NDE_TAPE_STAGES;
    int ckpt = v.opts->tape == NDE_TAPE_CHECKPOINT;
    size_t rd = nde_tape_rec_doubles(&v);
    size_t re = recompute ? ns * (2 * n + rd) : 0;
    size_t xe = (nx - ns) * (2 * n + rd);
    /* lam, ubar, tmp (n each), kbar (dense stages·n), for recomputation y, k, the lazy
     * stages, and for checkpointing the schedule's snapshots (checkpoint.h) */
    size_t ws = 3 * n + nx * n + re + xe + (ckpt ? nde_ckpt_workspace(&v) : 0);
    NDE_TRY(nde_reserve_doubles(&a->ws, &a->ws_cap, ws));
    sweep w = {.v = v, .st = &a->stats, .dL = dL, .hook = hook, .grad_theta = grad_theta,
               .kout = v.nt};
    w.lam = a->ws;
    w.ubar = w.lam + n;
    w.tmp = w.ubar + n;
    w.kbar = w.tmp + n;
    w.y_re = w.kbar + nx * n;
    w.k_re = w.y_re + ns * n;
    w.rec_re = rd && recompute ? w.k_re + ns * n : NULL;
    w.yx = w.y_re + re;
    w.kx = w.yx + (nx - ns) * n;
    w.recx = w.kx + (nx - ns) * n;
    memset(w.lam, 0, n * sizeof *w.lam);
    memset(&a->stats, 0, sizeof a->stats);
    a->stats.peak_bytes = v.tape_bytes + ws * sizeof(double);
    /* the tape in state copies (stages, their derivatives and any field records) */
    a->stats.max_states = (v.tape_bytes + n * sizeof(double) - 1) / (n * sizeof(double));

    if (ckpt) {
        NDE_TRY(nde_ckpt_reverse(&v, &a->stats, reverse_from_start, &w, w.yx + xe));
    } else {
        for (size_t m = v.n_steps; m-- > 0;) {
            if (recompute) {
                NDE_TRY(reverse_from_start(&w, m, nde_tape_record(&v, m)));
            } else {
                const double *y, *k, *rec;
                nde_tape_stages(&v, m, &y, &k, &rec);
                NDE_TRY(reverse_step(&w, m, y, k, rec));
            }
        }
    }
    double *lam = w.lam;
    if (dL) axpy(n, 1.0, dL, lam); /* traj[0] = u0 */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(lam[i]))
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "discrete adjoint: gradient w.r.t. u0[%zu] is non-finite", i);
    if (grad_u0) memcpy(grad_u0, lam, n * sizeof *grad_u0);
    return NDE_OK;
}

nde_status nde_adjoint_sweep(nde_solver *s, const double *dL, const nde_adj_hook *hook,
                             double *grad_theta, double *grad_u0)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_discrete: solver is NULL");
    nde_adjoint *a;
    NDE_TRY(nde_adjoint_shared(s, &a));
    nde_status st = nde_adj_discrete(a, dL, hook, grad_theta, grad_u0);
    nde_solver_note_adjoint(s, &a->stats);
    return st;
}

nde_status nde_adjoint_discrete(nde_solver *s, const double *dL_dtraj, double *grad_theta,
                                size_t n_theta, double *grad_u0)
{
    if (!dL_dtraj) return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_discrete: dL_dtraj is NULL");
    const nde_field *f = nde_solver_field(s);
    if (f && grad_theta && n_theta != f->n_params)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "nde_adjoint_discrete: grad_theta has %zu entries, the field has %zu "
                        "parameters",
                        n_theta, f->n_params);
    return nde_adjoint_sweep(s, dL_dtraj, NULL, grad_theta, grad_u0);
}
