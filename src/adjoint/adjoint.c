/* The adjoint object: choosing a kind configures what the solver records; one run call
 * dispatches to the kind's computation (discrete.c, backsolve.c, interpolating.c,
 * cvodes_adjoint.c). The free functions of nde/adjoint.h run the same code through an
 * adjoint the solver keeps for them, so both paths give the same bits. */
#include "adjoint/adjoint_internal.h"

#include <math.h>
#include <string.h>

#include "adjoint/cont.h"

static const char *const kind_names[NDE_ADJ_KIND_COUNT] = {
    [NDE_ADJ_DISCRETE_STAGES] = "discrete (stages)",
    [NDE_ADJ_DISCRETE_STEP_STARTS] = "discrete (step starts)",
    [NDE_ADJ_DISCRETE_CHECKPOINT] = "discrete (checkpoint)",
    [NDE_ADJ_BACKSOLVE] = "backsolve",
    [NDE_ADJ_INTERPOLATING] = "interpolating",
    [NDE_ADJ_CVODES] = "cvodes",
};

nde_adjoint_opts nde_adjoint_defaults(const nde_solver *s, nde_adjoint_kind kind)
{
    nde_adjoint_opts o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.cvodes_steps = 50;
    o.cont = nde_cont_adjoint_defaults(s);
    return o;
}

/* The tape a kind needs (NDE_TAPE_NONE for the continuous kinds). */
static nde_tape kind_tape(nde_adjoint_kind k)
{
    switch (k) {
    case NDE_ADJ_DISCRETE_STAGES: return NDE_TAPE_STAGES;
    case NDE_ADJ_DISCRETE_STEP_STARTS: return NDE_TAPE_STEP_STARTS;
    case NDE_ADJ_DISCRETE_CHECKPOINT: return NDE_TAPE_CHECKPOINT;
    default: return NDE_TAPE_NONE;
    }
}

static nde_status check_opts(const nde_solver *s, const nde_adjoint_opts *o)
{
    if ((int)o->kind < 0 || o->kind >= NDE_ADJ_KIND_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_create: unknown adjoint kind %d", (int)o->kind);
    const char *kn = kind_names[o->kind];
    const nde_field *f = nde_solver_field(s);
    if (!f->vjp)
        return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_create: the %s adjoint needs a field with a vjp",
                        kn);
    if (o->kind >= NDE_ADJ_BACKSOLVE) {
        const nde_cont_adjoint_opts *c = &o->cont;
        if (!(c->rtol > 0) || !(c->atol > 0) || !isfinite(c->rtol) || !isfinite(c->atol))
            return NDE_FAIL(NDE_ERR_ARG,
                            "nde_adjoint_create: %s adjoint tolerances must be positive and "
                            "finite, got rtol %g atol %g",
                            kn, c->rtol, c->atol);
        if ((int)c->method < 0 || c->method >= NDE_METHOD_COUNT)
            return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_create: unknown backward method %d",
                            (int)c->method);
    }
    nde_method m = nde_solver_get_opts(s)->method;
    if (o->kind == NDE_ADJ_CVODES) {
        if (m != NDE_CVODE_BDF && m != NDE_CVODE_ADAMS)
            return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                            "nde_adjoint_create: the cvodes adjoint needs NDE_CVODE_BDF/ADAMS, "
                            "the solver uses %s",
                            nde_method_name(m));
        if (o->cvodes_steps == 0)
            return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_create: cvodes_steps must be positive");
    }
    return NDE_OK;
}

static nde_status alloc_adjoint(nde_solver *s, const nde_adjoint_opts *o, nde_adjoint **out)
{
    nde_adjoint *a = nde_alloc(sizeof *a);
    if (!a) return NDE_ERR_NOMEM;
    a->s = s;
    a->opts = *o;
    *out = a;
    return NDE_OK;
}

nde_status nde_adjoint_create(nde_solver *s, const nde_adjoint_opts *opts, nde_adjoint **out)
{
    if (!s || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_create: NULL solver or out");
    *out = NULL;
    nde_adjoint_opts o = opts ? *opts : nde_adjoint_defaults(s, NDE_ADJ_DISCRETE_STAGES);
    NDE_TRY(check_opts(s, &o));
    int ckpt = o.kind == NDE_ADJ_DISCRETE_CHECKPOINT;
    NDE_TRY(nde_solver_set_recording(s, kind_tape(o.kind), ckpt ? o.checkpoint_every : 0,
                                     ckpt ? o.checkpoint_slots : 0,
                                     o.kind == NDE_ADJ_CVODES ? o.cvodes_steps : 0));
    return alloc_adjoint(s, &o, out);
}

void nde_adjoint_destroy(nde_adjoint **ap)
{
    if (!ap || !*ap) return;
    nde_adjoint *a = *ap;
    nde_cont_ws_free(a->cont);
    nde_free(a->ws);
    nde_free(a);
    *ap = NULL;
}

nde_status nde_adjoint_shared(nde_solver *s, nde_adjoint **out)
{
    nde_adjoint *a = nde_solver_shared_adjoint(s);
    if (!a) {
        /* runs whatever the solver records: its kind only names the tape for messages */
        nde_adjoint_opts o = nde_adjoint_defaults(s, NDE_ADJ_DISCRETE_STAGES);
        NDE_TRY(alloc_adjoint(s, &o, &a));
        nde_solver_set_shared_adjoint(s, a, nde_adjoint_destroy);
    }
    *out = a;
    return NDE_OK;
}

/* One run of a continuous kind (backsolve, interpolating, else cvodes). */
static nde_status run_continuous(nde_adjoint *a, nde_adjoint_kind kind, const double *traj,
                                 const double *dL, double *grad_theta, size_t n_theta,
                                 double *grad_u0, const nde_cont_adjoint_opts *opts)
{
    switch (kind) {
    case NDE_ADJ_BACKSOLVE:
        return nde_adj_backsolve(a, traj, dL, grad_theta, n_theta, grad_u0, opts);
    case NDE_ADJ_INTERPOLATING:
        return nde_adj_interpolating(a, traj, dL, grad_theta, n_theta, grad_u0, opts);
    default: return nde_adj_cvodes(a, dL, grad_theta, n_theta, grad_u0, opts);
    }
}

nde_status nde_adjoint_run(nde_adjoint *a, const double *traj, const double *dL_dtraj,
                           double *grad_theta, size_t n_theta, double *grad_u0)
{
    if (!a) return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_run: adjoint is NULL");
    nde_solver *s = a->s;
    const nde_solver_opts *so = nde_solver_get_opts(s);
    const char *kn = kind_names[a->opts.kind];
    if (so->tape != kind_tape(a->opts.kind) ||
        (a->opts.kind == NDE_ADJ_CVODES && so->cvodes_adj_steps != a->opts.cvodes_steps))
        return NDE_FAIL(NDE_ERR_STATE,
                        "nde_adjoint_run: the solver no longer records what the %s adjoint "
                        "needs (another adjoint was created for it since)",
                        kn);
    nde_status st;
    switch (a->opts.kind) {
    case NDE_ADJ_DISCRETE_STAGES:
    case NDE_ADJ_DISCRETE_STEP_STARTS:
    case NDE_ADJ_DISCRETE_CHECKPOINT:
        if (!dL_dtraj) return NDE_FAIL(NDE_ERR_ARG, "nde_adjoint_run: dL_dtraj is NULL");
        if (grad_theta && n_theta != nde_solver_field(s)->n_params)
            return NDE_FAIL(NDE_ERR_SHAPE,
                            "nde_adjoint_run: grad_theta has %zu entries, the field has %zu "
                            "parameters",
                            n_theta, nde_solver_field(s)->n_params);
        st = nde_adj_discrete(a, dL_dtraj, NULL, grad_theta, grad_u0);
        break;
    default:
        st = run_continuous(a, a->opts.kind, traj, dL_dtraj, grad_theta, n_theta, grad_u0,
                            &a->opts.cont);
        break;
    }
    nde_solver_note_adjoint(s, &a->stats);
    return st;
}

const nde_adjoint_stats *nde_adjoint_get_stats(const nde_adjoint *a) { return a ? &a->stats : NULL; }
const nde_adjoint_opts *nde_adjoint_get_opts(const nde_adjoint *a) { return a ? &a->opts : NULL; }

/* ---- the free functions, through the solver's shared adjoint ---------------- */

/* A continuous kind through the solver's shared adjoint; `who` names the caller. */
static nde_status run_shared(nde_solver *s, nde_adjoint_kind kind, const char *who,
                             const double *traj, const double *dL, double *grad_theta,
                             size_t n_theta, double *grad_u0, const nde_cont_adjoint_opts *opts)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "%s: solver is NULL", who);
    nde_adjoint *a;
    NDE_TRY(nde_adjoint_shared(s, &a));
    nde_status st = run_continuous(a, kind, traj, dL, grad_theta, n_theta, grad_u0, opts);
    nde_solver_note_adjoint(s, &a->stats);
    return st;
}

nde_status nde_adjoint_backsolve(nde_solver *s, const double *traj, const double *dL,
                                 double *grad_theta, size_t n_theta, double *grad_u0,
                                 const nde_cont_adjoint_opts *opts)
{
    return run_shared(s, NDE_ADJ_BACKSOLVE, "nde_adjoint_backsolve", traj, dL, grad_theta,
                      n_theta, grad_u0, opts);
}

nde_status nde_adjoint_interpolating(nde_solver *s, const double *traj, const double *dL,
                                     double *grad_theta, size_t n_theta, double *grad_u0,
                                     const nde_cont_adjoint_opts *opts)
{
    return run_shared(s, NDE_ADJ_INTERPOLATING, "nde_adjoint_interpolating", traj, dL,
                      grad_theta, n_theta, grad_u0, opts);
}

nde_status nde_adjoint_cvodes(nde_solver *s, const double *dL, double *grad_theta,
                              size_t n_theta, double *grad_u0, const nde_cont_adjoint_opts *opts)
{
    return run_shared(s, NDE_ADJ_CVODES, "nde_adjoint_cvodes", NULL, dL, grad_theta, n_theta,
                      grad_u0, opts);
}
