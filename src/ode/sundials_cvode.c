/* CVODES family of the SUNDIALS backend: variable-order BDF (orders 1–5) or Adams–Moulton
 * (1–12) with Newton iterations on a dense or GMRES linear solver, or fixed-point
 * iterations (Hindmarsh et al., ACM TOMS 31 (2005); Serban & Hindmarsh, "CVODES",
 * IDETC 2005). With opts.cvodes_adj_steps the forward runs as CVodeF so that
 * nde_adjoint_cvodes can integrate the adjoint backwards. */
#include <cvodes/cvodes.h>

#include "ode/sundials_internal.h"

static nde_status cv_create(nde_sun *d, double t0)
{
    const nde_solver *s = d->s;
    const nde_solver_opts *o = &s->opts;
    d->mem = CVodeCreate(o->method == NDE_CVODE_BDF ? CV_BDF : CV_ADAMS, d->sunctx);
    if (!d->mem) return NDE_FAIL(NDE_ERR_NOMEM, "CVodeCreate failed");
    SUN_TRY(d, CVodeSetErrHandlerFn(d->mem, nde_sun_err_handler, d), "CVodeSetErrHandlerFn", t0);
    SUN_TRY(d, CVodeInit(d->mem, nde_sun_rhs, t0, d->y), "CVodeInit", t0);
    SUN_TRY(d, CVodeSetUserData(d->mem, d), "CVodeSetUserData", t0);
    SUN_TRY(d, CVodeSStolerances(d->mem, o->rtol, o->atol), "CVodeSStolerances", t0);
    if (o->max_order > 0) SUN_TRY(d, CVodeSetMaxOrd(d->mem, o->max_order), "CVodeSetMaxOrd", t0);
    if (o->h0 > 0) SUN_TRY(d, CVodeSetInitStep(d->mem, o->h0), "CVodeSetInitStep", t0);
    if (o->dt_min > 0) SUN_TRY(d, CVodeSetMinStep(d->mem, o->dt_min), "CVodeSetMinStep", t0);
    if (o->dt_max > 0) SUN_TRY(d, CVodeSetMaxStep(d->mem, o->dt_max), "CVodeSetMaxStep", t0);
    NDE_TRY(nde_sun_make_linsol(d));
    if (d->NLS) {
        SUN_TRY(d, CVodeSetNonlinearSolver(d->mem, d->NLS), "CVodeSetNonlinearSolver", t0);
    } else {
        SUN_TRY(d, CVodeSetLinearSolver(d->mem, d->LS, d->A), "CVodeSetLinearSolver", t0);
        if (s->field.jvp && d->A) SUN_TRY(d, CVodeSetJacFn(d->mem, nde_sun_jac), "CVodeSetJacFn", t0);
        if (s->field.jvp && !d->A)
            SUN_TRY(d, CVodeSetJacTimes(d->mem, NULL, nde_sun_jtimes), "CVodeSetJacTimes", t0);
    }
    if (o->cvodes_adj_steps > 0) {
        /* Hermite interpolation between the stored data points (CVODES guide §6.1) */
        SUN_TRY(d, CVodeAdjInit(d->mem, (long)o->cvodes_adj_steps, CV_HERMITE), "CVodeAdjInit",
                t0);
        d->adj_ready = 1;
    }
    return NDE_OK;
}

static nde_status cv_setup(nde_sun *d, double t0, double t_end)
{
    if (!d->mem) {
        NDE_TRY(cv_create(d, t0));
    } else {
        SUN_TRY(d, CVodeReInit(d->mem, t0, d->y), "CVodeReInit", t0);
        if (d->adj_ready) SUN_TRY(d, CVodeAdjReInit(d->mem), "CVodeAdjReInit", t0);
    }
    SUN_TRY(d, CVodeSetStopTime(d->mem, t_end), "CVodeSetStopTime", t0);
    return NDE_OK;
}

static int cv_step(nde_sun *d, double tout, double *tret)
{
    if (!d->adj_ready) return CVode(d->mem, tout, d->y, tret, CV_ONE_STEP);
    int ncheck = 0;
    int flag = CVodeF(d->mem, tout, d->y, tret, CV_ONE_STEP, &ncheck);
    d->n_checkpoints = ncheck;
    return flag;
}

static void cv_stats(nde_sun *d, nde_solver_stats *st)
{
    static const nde_sun_counters c = {CVodeGetNumErrTestFails, CVodeGetNumNonlinSolvConvFails,
                                       CVodeGetNumNonlinSolvIters, CVodeGetNumJacEvals,
                                       CVodeGetNumLinIters};
    nde_sun_implicit_stats(d, &c, st);
}

static void cv_free(nde_sun *d) { CVodeFree(&d->mem); }

const nde_sun_family nde_sun_cvode_family = {
    .name = "cvodes",
    .setup = cv_setup,
    .step = cv_step,
    .dky = CVodeGetDky,
    .local_errors = CVodeGetEstLocalErrors,
    .err_weights = CVodeGetErrWeights,
    .stats = cv_stats,
    .free_mem = cv_free,
};
