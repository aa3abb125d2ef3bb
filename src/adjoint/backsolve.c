/* Backsolve adjoint: the augmented system
 *     u' = f(t, u),   λ' = −(∂f/∂u)ᵀ λ,   μ' = −(∂f/∂θ)ᵀ λ
 * integrated backwards from each save time to the previous one, with u restarted at the
 * stored traj[k] (Chen et al., NeurIPS 2018, Alg. 1; torchdiffeq's odeint_adjoint and
 * SciMLSensitivity's BacksolveAdjoint(checkpointing = true) do the same). One
 * evaluation of the augmented field is one f and one vjp. */
#include <math.h>
#include <string.h>

#include "adjoint/cont.h"

/* x = [u (n), λ (n), μ (p)] as one sample. */
static nde_status aug_f(void *ctx, double t, const double *x, double *dx, size_t batch)
{
    (void)batch;
    nde_cont_ws *w = ctx;
    const nde_field *f = w->v.field;
    size_t n = w->n, p = w->p;
    NDE_TRY(f->f(f->ctx, t, x, dx, w->v.batch));
    memset(dx + 2 * n, 0, p * sizeof *dx);
    NDE_TRY(f->vjp(f->ctx, t, x, x + n, dx + n, p ? dx + 2 * n : NULL, w->v.batch));
    w->a->stats.n_vjp++;
    w->a->stats.nfe++;
    for (size_t i = n; i < 2 * n + p; i++) dx[i] = -dx[i];
    return NDE_OK;
}

static nde_status build(nde_cont_ws *w)
{
    NDE_TRY(nde_cont_aug(w, 2 * w->n + w->p, aug_f));
    return nde_cont_solver(w, &w->aug, w->opts.method, NDE_TAPE_NONE, &w->back);
}

nde_status nde_adj_backsolve(nde_adjoint *a, const double *traj, const double *dL,
                             double *grad_theta, size_t n_theta, double *grad_u0,
                             const nde_cont_adjoint_opts *opts)
{
    nde_tape_view v;
    nde_cont_ws *w;
    NDE_TRY(nde_cont_begin(a, traj, dL, grad_theta, n_theta, NDE_CONT_BACKSOLVE, opts, build,
                           "nde_adjoint_backsolve", &v, &w));
    size_t n = w->n, p = w->p, dim = w->aug.dim, nt = v.nt;
    double *x = w->x0, *out = w->x1; /* out: (2, dim) rows of the segment's solve */
    memcpy(x + n, dL + (nt - 1) * n, n * sizeof *x);
    memset(x + 2 * n, 0, p * sizeof *x);
    for (size_t k = nt - 1; k > 0; k--) {
        memcpy(x, traj + k * n, n * sizeof *x); /* re-anchor the state */
        double seg[2] = {v.ts[k], v.ts[k - 1]};
        NDE_TRY(nde_solve(w->back, 1, dim, x, 2, seg, out));
        memcpy(x + n, out + dim + n, (n + p) * sizeof *x);
        for (size_t i = 0; i < n; i++) x[n + i] += dL[(k - 1) * n + i];
    }
    for (size_t i = n; i < 2 * n + p; i++)
        if (!isfinite(x[i]))
            return NDE_FAIL(NDE_ERR_NONFINITE, "nde_adjoint_backsolve: gradient entry %zu is %g",
                            i - n, x[i]);
    if (grad_u0) memcpy(grad_u0, x + n, n * sizeof *grad_u0);
    if (grad_theta)
        for (size_t i = 0; i < p; i++) grad_theta[i] += x[2 * n + i];
    nde_cont_set_memory(w, nde_solver_bytes(w->back) + 3 * dim * sizeof(double));
    return NDE_OK;
}
