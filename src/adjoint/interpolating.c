/* Interpolating adjoint with the save times as checkpoints: for each save interval,
 * last first, the forward is re-solved from traj[k−1] keeping its stages, and
 *     λ' = −(∂f/∂u)ᵀ λ,   μ' = −(∂f/∂θ)ᵀ λ
 * is integrated backwards over the interval with u(t) from that solve's continuous
 * extension u_m + h Σ_i w_i(θ) k_i (SciMLSensitivity's InterpolatingAdjoint with
 * checkpointing; Kim, Ji, Deng, Ma & Rackauckas, "Stiff neural ordinary differential
 * equations", Chaos 31 (2021), §III). One evaluation of the backward field is one
 * dense-output lookup and one vjp. */
#include <math.h>
#include <string.h>

#include "adjoint/cont.h"
#include "ode/rk_step.h"

/* u(t) from the re-forward solve's steps and stages (tape NDE_TAPE_STAGES). */
static void interpolate(nde_cont_ws *w, double t, double *u)
{
    const nde_tape_view *r = &w->fv;
    const nde_tableau *tab = r->tab;
    size_t N = r->n_steps, m = w->last < N ? w->last : N - 1;
    double dir = r->steps[0].h > 0 ? 1.0 : -1.0;
    while (m > 0 && dir * (t - r->steps[m].t) < 0.0) m--;
    while (m + 1 < N && dir * (t - (r->steps[m].t + r->steps[m].h)) > 0.0) m++;
    w->last = m;
    double h = r->steps[m].h, theta = (t - r->steps[m].t) / h;
    theta = theta < 0.0 ? 0.0 : theta > 1.0 ? 1.0 : theta;
    const double *y, *k, *rec;
    nde_tape_stages(r, m, &y, &k, &rec);
    double wts[NDE_RK_MAX_STAGES] = {0};
    tab->dense(theta, wts);
    nde_rk_combine(tab, wts, h, y, k, w->n, u); /* y[0] = u_m */
}

/* x = [λ (n), μ (p)] as one sample. */
static nde_status aug_f(void *ctx, double t, const double *x, double *dx, size_t batch)
{
    (void)batch;
    nde_cont_ws *w = ctx;
    const nde_field *f = w->v.field;
    size_t n = w->n, p = w->p;
    interpolate(w, t, w->u);
    memset(dx + n, 0, p * sizeof *dx);
    NDE_TRY(f->vjp(f->ctx, t, w->u, x, dx, p ? dx + n : NULL, w->v.batch));
    w->a->stats.n_vjp++;
    for (size_t i = 0; i < n + p; i++) dx[i] = -dx[i];
    return NDE_OK;
}

static nde_status build(nde_cont_ws *w)
{
    NDE_TRY(nde_cont_aug(w, w->n + w->p, aug_f));
    w->u = nde_alloc_array(3 * w->n, sizeof *w->u);
    if (!w->u) return NDE_ERR_NOMEM;
    const nde_tableau *tab = nde_tableau_get(w->opts.method);
    /* the re-forward's interpolant must need no more than the recorded stages: methods
     * whose continuous extension has lazy extra stages (DOP853, Verner) re-solve with
     * Tsit5 at the same tolerances */
    nde_method fm = tab && tab->est_order > 0 && nde_tableau_dense_stages(tab) == tab->stages
                        ? w->opts.method
                        : NDE_TSIT5;
    NDE_TRY(nde_cont_solver(w, w->v.field, fm, NDE_TAPE_STAGES, &w->fwd));
    return nde_cont_solver(w, &w->aug, w->opts.method, NDE_TAPE_NONE, &w->back);
}

nde_status nde_adj_interpolating(nde_adjoint *a, const double *traj, const double *dL,
                                 double *grad_theta, size_t n_theta, double *grad_u0,
                                 const nde_cont_adjoint_opts *opts)
{
    nde_tape_view v;
    nde_cont_ws *w;
    NDE_TRY(nde_cont_begin(a, traj, dL, grad_theta, n_theta, NDE_CONT_INTERPOLATING, opts, build,
                           "nde_adjoint_interpolating", &v, &w));
    size_t n = w->n, p = w->p, dim = w->aug.dim, nt = v.nt, dimu = v.field->dim;
    size_t peak = 0;
    double *x = w->x0, *out = w->x1, *fwd_out = w->u + n;
    memcpy(x, dL + (nt - 1) * n, n * sizeof *x);
    memset(x + n, 0, p * sizeof *x);
    for (size_t k = nt - 1; k > 0; k--) {
        double fseg[2] = {v.ts[k - 1], v.ts[k]}, bseg[2] = {v.ts[k], v.ts[k - 1]};
        NDE_TRY(nde_solve(w->fwd, v.batch, dimu, traj + (k - 1) * n, 2, fseg, fwd_out));
        w->fv = nde_solver_tape_view(w->fwd);
        a->stats.nfe += nde_solver_get_stats(w->fwd)->nfe;
        a->stats.n_recomputed_steps += w->fv.n_steps;
        w->last = w->fv.n_steps - 1;
        NDE_TRY(nde_solve(w->back, 1, dim, x, 2, bseg, out));
        size_t bytes = nde_solver_bytes(w->fwd) + nde_solver_bytes(w->back);
        if (bytes > peak) peak = bytes;
        memcpy(x, out + dim, dim * sizeof *x);
        for (size_t i = 0; i < n; i++) x[i] += dL[(k - 1) * n + i];
    }
    for (size_t i = 0; i < n + p; i++)
        if (!isfinite(x[i]))
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "nde_adjoint_interpolating: gradient entry %zu is %g", i, x[i]);
    if (grad_u0) memcpy(grad_u0, x, n * sizeof *grad_u0);
    if (grad_theta)
        for (size_t i = 0; i < p; i++) grad_theta[i] += x[n + i];
    nde_cont_set_memory(w, peak + (3 * dim + 3 * n) * sizeof(double));
    return NDE_OK;
}
