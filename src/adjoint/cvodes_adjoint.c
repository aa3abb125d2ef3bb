/* CVODES adjoint: λ' = −(∂f/∂u)ᵀ λ integrated by CVodeB over the checkpoints CVodeF kept
 * during nde_solve (Hermite interpolation of u between them), with the parameter
 * gradient as the backward quadrature q' = −(∂f/∂θ)ᵀ λ, q(ts[nt−1]) = 0, so q(ts[0]) =
 * ∫ (∂f/∂θ)ᵀ λ dt (Serban & Hindmarsh, "CVODES: the sensitivity-enabled ODE solver in
 * SUNDIALS", IDETC 2005, §3; the CVODES guide's cvsRoberts_ASAi_dns example). At every
 * earlier save time the backward problem is re-initialized with λ + ∂L/∂traj[k]. */
#include "adjoint/cont.h"
#include "nde_config.h"

#if NDE_HAVE_SUNDIALS

#include <math.h>
#include <string.h>

#include <cvodes/cvodes.h>

#include "ode/solver_internal.h" /* the CVODES memory lives in the solver's backend */
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>

#include "ode/sundials_internal.h"

/* out (n) = (∂f/∂u)ᵀ v by the field's vjp, counted as adjoint work. */
static nde_status vjp_product(nde_sun *d, double t, const double *y, const double *v, double *out)
{
    nde_solver *s = d->s;
    nde_status st = s->field.vjp(s->field.ctx, t, y, v, out, NULL, s->batch);
    d->adj_stats->n_vjp++;
    return st;
}

/* res (n) = −(∂f/∂u)ᵀ v: the backward right-hand side (v = λ) and its Jacobian-vector
 * product. */
static int neg_vjp(nde_sun *d, double t, N_Vector y, N_Vector v, N_Vector res)
{
    double *out = N_VGetArrayPointer(res);
    nde_status st = vjp_product(d, t, N_VGetArrayPointer(y), N_VGetArrayPointer(v), out);
    for (size_t i = 0; st == NDE_OK && i < d->s->n; i++) out[i] = -out[i];
    return nde_sun_cb_result(d, st, out, d->s->n);
}

static int fB(double t, N_Vector y, N_Vector yB, N_Vector yBdot, void *user)
{
    return neg_vjp(user, t, y, yB, yBdot);
}

static int fQB(double t, N_Vector y, N_Vector yB, N_Vector qBdot, void *user)
{
    nde_sun *d = user;
    nde_solver *s = d->s;
    size_t p = s->field.n_params;
    double *out = N_VGetArrayPointer(qBdot);
    memset(out, 0, p * sizeof *out);
    nde_status st = s->field.vjp(s->field.ctx, t, N_VGetArrayPointer(y), N_VGetArrayPointer(yB),
                                 NULL, out, s->batch);
    d->adj_stats->n_vjp++;
    for (size_t i = 0; st == NDE_OK && i < p; i++) out[i] = -out[i];
    return nde_sun_cb_result(d, st, out, p);
}

/* ∂fB/∂λ = −(∂f/∂u)ᵀ: column j of each sample's block is −(e_jᵀ ∂f/∂u)ᵀ. */
static int jacB(double t, N_Vector y, N_Vector yB, N_Vector fyB, SUNMatrix JB, void *user,
                N_Vector t1, N_Vector t2, N_Vector t3)
{
    (void)yB, (void)fyB, (void)t3;
    return nde_sun_block_jac(user, t, y, JB, vjp_product, 1, N_VGetArrayPointer(t1),
                             N_VGetArrayPointer(t2));
}

/* (∂fB/∂λ) v = −(∂f/∂u)ᵀ v: one vjp. */
static int jtimesB(N_Vector vB, N_Vector JvB, double t, N_Vector y, N_Vector yB, N_Vector fyB,
                   void *user, N_Vector tmp)
{
    (void)yB, (void)fyB, (void)tmp;
    return neg_vjp(user, t, y, vB, JvB);
}

/* Create the backward problem (once per integrator memory) or re-init it at tB0. */
static nde_status backward_problem(nde_sun *d, double tB0, const nde_cont_adjoint_opts *o)
{
    nde_solver *s = d->s;
    size_t n = s->n, p = s->field.n_params;
    if (d->which_b < 0) {
        int which = -1;
        d->yB = N_VNew_Serial((sunindextype)n, d->sunctx);
        d->qB = p ? N_VNew_Serial((sunindextype)p, d->sunctx) : NULL;
        if (!d->yB || (p && !d->qB)) return NDE_FAIL(NDE_ERR_NOMEM, "CVODES adjoint vectors");
        N_VConst(0.0, d->yB);
        SUN_TRY(d, CVodeCreateB(d->mem, s->opts.method == NDE_CVODE_BDF ? CV_BDF : CV_ADAMS,
                                &which), "CVodeCreateB", tB0);
        SUN_TRY(d, CVodeInitB(d->mem, which, fB, tB0, d->yB), "CVodeInitB", tB0);
        SUN_TRY(d, CVodeSetUserDataB(d->mem, which, d), "CVodeSetUserDataB", tB0);
        /* the backward integrator reports its own failures: keep its text too */
        void *bmem = CVodeGetAdjCVodeBmem(d->mem, which);
        if (bmem) SUN_TRY(d, CVodeSetErrHandlerFn(bmem, nde_sun_err_handler, d),
                          "CVodeSetErrHandlerFn(backward)", tB0);
        if (s->opts.linsol == NDE_LINSOL_GMRES) {
            d->LSB = SUNLinSol_SPGMR(d->yB, SUN_PREC_NONE, 0, d->sunctx);
            if (!d->LSB) return NDE_FAIL(NDE_ERR_NOMEM, "SUNLinSol_SPGMR for the adjoint");
            SUN_TRY(d, CVodeSetLinearSolverB(d->mem, which, d->LSB, NULL), "CVodeSetLinearSolverB",
                    tB0);
            SUN_TRY(d, CVodeSetJacTimesB(d->mem, which, NULL, jtimesB), "CVodeSetJacTimesB", tB0);
        } else {
            d->AB = SUNDenseMatrix((sunindextype)n, (sunindextype)n, d->sunctx);
            d->LSB = d->AB ? SUNLinSol_Dense(d->yB, d->AB, d->sunctx) : NULL;
            if (!d->LSB) return NDE_FAIL(NDE_ERR_NOMEM, "dense adjoint Jacobian %zu x %zu", n, n);
            SUN_TRY(d, CVodeSetLinearSolverB(d->mem, which, d->LSB, d->AB),
                    "CVodeSetLinearSolverB", tB0);
            SUN_TRY(d, CVodeSetJacFnB(d->mem, which, jacB), "CVodeSetJacFnB", tB0);
        }
        if (p) {
            N_VConst(0.0, d->qB);
            SUN_TRY(d, CVodeQuadInitB(d->mem, which, fQB, d->qB), "CVodeQuadInitB", tB0);
            SUN_TRY(d, CVodeSetQuadErrConB(d->mem, which, SUNTRUE), "CVodeSetQuadErrConB", tB0);
        }
        d->which_b = which;
        d->nb_p = p;
    } else {
        SUN_TRY(d, CVodeReInitB(d->mem, d->which_b, tB0, d->yB), "CVodeReInitB", tB0);
        if (p) SUN_TRY(d, CVodeQuadReInitB(d->mem, d->which_b, d->qB), "CVodeQuadReInitB", tB0);
    }
    SUN_TRY(d, CVodeSStolerancesB(d->mem, d->which_b, o->rtol, o->atol), "CVodeSStolerancesB",
            tB0);
    if (p)
        SUN_TRY(d, CVodeQuadSStolerancesB(d->mem, d->which_b, o->rtol, o->atol),
                "CVodeQuadSStolerancesB", tB0);
    if (o->max_steps)
        SUN_TRY(d, CVodeSetMaxNumStepsB(d->mem, d->which_b, (long)o->max_steps),
                "CVodeSetMaxNumStepsB", tB0);
    return NDE_OK;
}

/* The backward integration; the caller routes the callbacks' counts to the adjoint. */
static nde_status run_backward(nde_adjoint *a, nde_sun *d, const double *dL, double *grad_theta,
                               double *grad_u0, const nde_cont_adjoint_opts *opts)
{
    const char *who = "nde_adjoint_cvodes";
    nde_solver *s = a->s;
    nde_cont_adjoint_opts o = opts ? *opts : nde_cont_adjoint_defaults(s);
    if (!(o.rtol > 0) || !(o.atol > 0) || !isfinite(o.rtol) || !isfinite(o.atol))
        return NDE_FAIL(NDE_ERR_ARG, "%s: tolerances must be positive, got rtol %g atol %g", who,
                        o.rtol, o.atol);
    size_t n = s->n, p = s->field.n_params, nt = s->nt;
    d->cb_status = NDE_OK;
    d->cb_nonfinite = 0;
    d->msg[0] = '\0';
    if (d->yB) memcpy(N_VGetArrayPointer(d->yB), dL + (nt - 1) * n, n * sizeof(double));
    if (d->qB) N_VConst(0.0, d->qB);
    int fresh = d->which_b < 0;
    NDE_TRY(backward_problem(d, s->ts[nt - 1], &o));
    if (fresh) { /* the vectors were just created: load the final condition and re-init */
        memcpy(N_VGetArrayPointer(d->yB), dL + (nt - 1) * n, n * sizeof(double));
        SUN_TRY(d, CVodeReInitB(d->mem, d->which_b, s->ts[nt - 1], d->yB), "CVodeReInitB",
                s->ts[nt - 1]);
    }
    double *lam = N_VGetArrayPointer(d->yB);
    for (size_t k = nt - 1; k > 0; k--) {
        double tk = s->ts[k - 1], tret = tk;
        SUN_TRY(d, CVodeB(d->mem, tk, CV_NORMAL), "CVodeB", s->ts[k]);
        SUN_TRY(d, CVodeGetB(d->mem, d->which_b, &tret, d->yB), "CVodeGetB", tk);
        if (p) SUN_TRY(d, CVodeGetQuadB(d->mem, d->which_b, &tret, d->qB), "CVodeGetQuadB", tk);
        for (size_t i = 0; i < n; i++) lam[i] += dL[(k - 1) * n + i];
        if (k > 1) {
            SUN_TRY(d, CVodeReInitB(d->mem, d->which_b, tk, d->yB), "CVodeReInitB", tk);
            if (p) SUN_TRY(d, CVodeQuadReInitB(d->mem, d->which_b, d->qB), "CVodeQuadReInitB", tk);
        }
    }
    const double *q = p ? N_VGetArrayPointer(d->qB) : NULL;
    for (size_t i = 0; i < n + p; i++) {
        double v = i < n ? lam[i] : q[i - n];
        if (!isfinite(v))
            return NDE_FAIL(NDE_ERR_NONFINITE, "%s: gradient entry %zu is %g", who, i, v);
    }
    if (grad_u0) memcpy(grad_u0, lam, n * sizeof *grad_u0);
    if (grad_theta)
        for (size_t i = 0; i < p; i++) grad_theta[i] += q[i];
    /* estimate of CVODES' storage: each check point keeps the Nordsieck array (up to
     * qmax + 1 vectors) plus the Hermite data (y, y') at every step of one interval,
     * and the backward integrator about qmax + 8 vectors and its dense matrix */
    size_t qmax = (size_t)(s->opts.max_order > 0 ? s->opts.max_order
                                                 : (s->opts.method == NDE_CVODE_BDF ? 5 : 12));
    size_t states = nde_sun_checkpoint_states(d) + qmax + 8 + (d->AB ? n : 0);
    size_t bytes = states * n * sizeof(double) + p * sizeof(double);
    a->stats.peak_bytes = bytes;
    a->stats.max_states = (bytes + n * sizeof(double) - 1) / (n * sizeof(double));
    return NDE_OK;
}

nde_status nde_adj_cvodes(nde_adjoint *a, const double *dL, double *grad_theta, size_t n_theta,
                          double *grad_u0, const nde_cont_adjoint_opts *opts)
{
    const char *who = "nde_adjoint_cvodes";
    nde_solver *s = a->s;
    if (s->opts.method != NDE_CVODE_BDF && s->opts.method != NDE_CVODE_ADAMS)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: the solve used %s, not CVODES BDF/Adams", who,
                        nde_method_name(s->opts.method));
    nde_tape_view v = nde_solver_tape_view(s);
    NDE_TRY(nde_cont_check(&v, 0, NULL, dL, grad_theta, n_theta, who));
    nde_sun *d = s->backend;
    if (!d || !d->adj_recorded)
        return NDE_FAIL(NDE_ERR_STATE,
                        "%s: the last solve recorded no CVODES checkpoints (set "
                        "opts.cvodes_adj_steps)",
                        who);
    /* CVodeB re-integrates the forward between checkpoints through the forward's own
     * callbacks: with adj_stats set they count that work here, not in the forward stats */
    memset(&a->stats, 0, sizeof a->stats);
    d->adj_stats = &a->stats;
    nde_status st = run_backward(a, d, dL, grad_theta, grad_u0, opts);
    d->adj_stats = NULL;
    return st;
}

#else

nde_status nde_adj_cvodes(nde_adjoint *a, const double *dL, double *grad_theta, size_t n_theta,
                          double *grad_u0, const nde_cont_adjoint_opts *opts)
{
    (void)a, (void)dL, (void)grad_theta, (void)n_theta, (void)grad_u0, (void)opts;
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_adjoint_cvodes: this build has no SUNDIALS");
}

#endif
