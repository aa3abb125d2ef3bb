/* Continuous adjoints: shared checks, defaults, cached backward solvers. */
#include "adjoint/cont.h"

#include <math.h>
#include <string.h>

nde_cont_adjoint_opts nde_cont_adjoint_defaults(const nde_solver *s)
{
    nde_cont_adjoint_opts o = {.method = NDE_TSIT5, .rtol = 1e-6, .atol = 1e-9,
                               .max_steps = 100000};
    if (!s) return o;
    o.rtol = s->opts.rtol;
    o.atol = s->opts.atol;
    o.max_steps = s->opts.max_steps;
    nde_method m = s->opts.method;
    const nde_tableau *tab = nde_tableau_get(m);
    if ((tab && tab->est_order > 0) || m == NDE_CVODE_BDF || m == NDE_CVODE_ADAMS) o.method = m;
    return o;
}

nde_status nde_cont_check(const nde_solver *s, int need_traj, const double *traj,
                          const double *dL, double *grad_theta, size_t n_theta, const char *who)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "%s: solver is NULL", who);
    if (!s->solved_ok) return NDE_FAIL(NDE_ERR_STATE, "%s: the last solve did not succeed", who);
    if (!dL) return NDE_FAIL(NDE_ERR_ARG, "%s: dL_dtraj is NULL", who);
    if (need_traj && !traj) return NDE_FAIL(NDE_ERR_ARG, "%s: traj is NULL", who);
    if (!s->field.vjp) return NDE_FAIL(NDE_ERR_ARG, "%s: the vector field has no vjp", who);
    if (grad_theta && n_theta != s->field.n_params)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "%s: grad_theta has %zu entries, the field has %zu parameters", who,
                        n_theta, s->field.n_params);
    return NDE_OK;
}

static void ws_free(void *p)
{
    nde_cont_ws *w = p;
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

nde_status nde_cont_ws_get(nde_solver *s, nde_cont_kind kind, const nde_cont_adjoint_opts *opts,
                           nde_status (*build)(nde_cont_ws *w), nde_cont_ws **out)
{
    if (!(opts->rtol > 0) || !(opts->atol > 0) || !isfinite(opts->rtol) || !isfinite(opts->atol))
        return NDE_FAIL(NDE_ERR_ARG, "continuous adjoint: tolerances must be positive, got "
                        "rtol %g atol %g", opts->rtol, opts->atol);
    nde_cont_ws *w = s->cont_adj;
    size_t p = s->field.n_params;
    if (w && w->kind == kind && w->n == s->n && w->p == p && same_opts(&w->opts, opts)) {
        *out = w;
        return NDE_OK;
    }
    ws_free(w);
    s->cont_adj = NULL;
    w = nde_alloc(sizeof *w);
    if (!w) return NDE_ERR_NOMEM;
    w->kind = kind;
    w->opts = *opts;
    w->s = s;
    w->n = s->n;
    w->p = p;
    nde_status st = build(w);
    if (st != NDE_OK) {
        ws_free(w);
        return st;
    }
    s->cont_adj = w;
    s->cont_adj_free = ws_free;
    *out = w;
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
    return nde_solver_create(w->s->ctx, field, &o, out);
}

size_t nde_cont_solver_bytes(const nde_solver *s)
{
    if (!s) return 0;
    return (s->n_cap * (2 * NDE_RK_MAX_STAGES + 3) + s->tape_cap_steps * s->tape_stride +
            s->adj_ws_cap) * sizeof(double) + s->steps_cap * sizeof(nde_step_rec);
}

void nde_cont_set_memory(nde_solver *s, size_t bytes)
{
    size_t state = s->n * sizeof(double);
    s->stats.adjoint_peak_bytes = bytes;
    s->stats.adjoint_max_states = (bytes + state - 1) / state;
}
