/* Continuous adjoints: shared checks, defaults, cached backward solvers. */
#include "adjoint/cont.h"

#include <math.h>
#include <string.h>

nde_cont_adjoint_opts nde_cont_adjoint_defaults(const nde_solver *s)
{
    nde_cont_adjoint_opts o = {.method = NDE_TSIT5, .rtol = 1e-6, .atol = 1e-9,
                               .max_steps = 100000};
    const nde_solver_opts *so = nde_solver_get_opts(s);
    if (!so) return o;
    o.rtol = so->rtol;
    o.atol = so->atol;
    o.max_steps = so->max_steps;
    nde_method m = so->method;
    const nde_tableau *tab = nde_tableau_get(m);
    if ((tab && tab->est_order > 0) || m == NDE_CVODE_BDF || m == NDE_CVODE_ADAMS) o.method = m;
    return o;
}

nde_status nde_cont_check(const nde_tape_view *v, int need_traj, const double *traj,
                          const double *dL, double *grad_theta, size_t n_theta, const char *who)
{
    if (!v->solved_ok) return NDE_FAIL(NDE_ERR_STATE, "%s: the last solve did not succeed", who);
    if (!dL) return NDE_FAIL(NDE_ERR_ARG, "%s: dL_dtraj is NULL", who);
    if (need_traj && !traj) return NDE_FAIL(NDE_ERR_ARG, "%s: traj is NULL", who);
    if (!v->field->vjp) return NDE_FAIL(NDE_ERR_ARG, "%s: the vector field has no vjp", who);
    if (grad_theta && n_theta != v->field->n_params)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "%s: grad_theta has %zu entries, the field has %zu parameters", who,
                        n_theta, v->field->n_params);
    return NDE_OK;
}

void nde_cont_ws_free(nde_cont_ws *w)
{
    if (!w) return;
    nde_solver_destroy(&w->back);
    nde_solver_destroy(&w->fwd);
    nde_free(w->x0);
    nde_free(w->u);
    nde_free(w);
}

static int same_opts(const nde_cont_adjoint_opts *a, const nde_cont_adjoint_opts *b)
{
    return a->method == b->method && a->rtol == b->rtol && a->atol == b->atol &&
           a->max_steps == b->max_steps;
}

nde_status nde_cont_ws_get(nde_adjoint *a, const nde_tape_view *v, nde_cont_kind kind,
                           const nde_cont_adjoint_opts *opts, nde_status (*build)(nde_cont_ws *w),
                           nde_cont_ws **out)
{
    if (!(opts->rtol > 0) || !(opts->atol > 0) || !isfinite(opts->rtol) || !isfinite(opts->atol))
        return NDE_FAIL(NDE_ERR_ARG, "continuous adjoint: tolerances must be positive, got "
                        "rtol %g atol %g", opts->rtol, opts->atol);
    nde_cont_ws *w = a->cont;
    size_t p = v->field->n_params;
    if (w && w->kind == kind && w->n == v->n && w->p == p && same_opts(&w->opts, opts)) {
        w->v = *v;
        *out = w;
        return NDE_OK;
    }
    nde_cont_ws_free(w);
    a->cont = NULL;
    w = nde_alloc(sizeof *w);
    if (!w) return NDE_ERR_NOMEM;
    w->kind = kind;
    w->opts = *opts;
    w->a = a;
    w->v = *v;
    w->n = v->n;
    w->p = p;
    nde_status st = build(w);
    if (st != NDE_OK) {
        nde_cont_ws_free(w);
        return st;
    }
    a->cont = w;
    *out = w;
    return NDE_OK;
}

nde_status nde_cont_begin(nde_adjoint *a, const double *traj, const double *dL,
                          double *grad_theta, size_t n_theta, nde_cont_kind kind,
                          const nde_cont_adjoint_opts *opts, nde_status (*build)(nde_cont_ws *w),
                          const char *who, nde_tape_view *v, nde_cont_ws **out)
{
    *v = nde_solver_tape_view(a->s);
    NDE_TRY(nde_cont_check(v, 1, traj, dL, grad_theta, n_theta, who));
    nde_cont_adjoint_opts o = opts ? *opts : nde_cont_adjoint_defaults(a->s);
    NDE_TRY(nde_cont_ws_get(a, v, kind, &o, build, out));
    memset(&a->stats, 0, sizeof a->stats);
    return NDE_OK;
}

nde_status nde_cont_aug(nde_cont_ws *w, size_t dim,
                        nde_status (*f)(void *ctx, double t, const double *x, double *dx,
                                        size_t batch))
{
    w->aug = (nde_field){.dim = dim, .ctx = w, .f = f};
    w->x0 = nde_alloc_array(3 * dim, sizeof *w->x0);
    if (!w->x0) return NDE_ERR_NOMEM;
    w->x1 = w->x0 + dim;
    return NDE_OK;
}

nde_status nde_cont_solver(nde_cont_ws *w, const nde_field *field, nde_method method,
                           nde_tape tape, nde_solver **out)
{
    nde_solver_opts o = nde_solver_defaults(method);
    o.rtol = w->opts.rtol;
    o.atol = w->opts.atol;
    o.max_steps = w->opts.max_steps ? w->opts.max_steps : o.max_steps;
    o.tape = tape;
    return nde_solver_create(w->v.ctx, field, &o, out);
}

void nde_cont_set_memory(nde_cont_ws *w, size_t bytes)
{
    size_t state = w->v.n * sizeof(double);
    w->a->stats.peak_bytes = bytes;
    w->a->stats.max_states = (bytes + state - 1) / state;
}
