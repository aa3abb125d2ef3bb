/* ARKODE families of the SUNDIALS backend (Reynolds, Gardner, Woodward & Chinomona,
 * "ARKODE: a flexible IVP solver infrastructure for one-step methods", ACM TOMS 49
 * (2023)): ERKStep running one of nde's explicit tableaux as a custom Butcher table
 * (embedding weights b̂ = b − b̃), and ARKStep as a diagonally implicit method on the
 * whole field (DIRK) or as an additive IMEX method with f_E = opts.imex_explicit
 * explicit and f_I = f − f_E implicit. */
#include <math.h>

#include <arkode/arkode_arkstep.h>
#include <arkode/arkode_erkstep.h>

#include "ode/sundials_internal.h"
#include "ode/tableau.h"

/* The step size of opts.fixed_step: h0, or a hundredth of the interval. */
static double fixed_h(const nde_solver_opts *o, double t0, double t_end)
{
    return o->h0 > 0 ? o->h0 : fabs(t_end - t0) / 100.0;
}

/* ---- ERKStep ---------------------------------------------------------------- */

static nde_status erk_table(nde_sun *d)
{
    const nde_solver_opts *o = &d->s->opts;
    const nde_tableau *tab = nde_tableau_get(o->erk_table == NDE_EULER ? NDE_TSIT5 : o->erk_table);
    int ns = tab->stages;
    double A[NDE_RK_MAX_STAGES * NDE_RK_MAX_STAGES] = {0}, bhat[NDE_RK_MAX_STAGES];
    for (int i = 0; i < ns; i++) {
        for (int j = 0; j < ns; j++) A[i * ns + j] = tab->a[i][j];
        bhat[i] = tab->b[i] - tab->btilde[i];
    }
    d->erk = ARKodeButcherTable_Create(ns, tab->order, tab->est_order, (double *)tab->c, A,
                                       (double *)tab->b, tab->est_order ? bhat : NULL);
    if (!d->erk) return NDE_FAIL(NDE_ERR_NOMEM, "ARKodeButcherTable_Create(%s)", tab->name);
    return NDE_OK;
}

static nde_status erk_setup(nde_sun *d, double t0, double t_end)
{
    const nde_solver_opts *o = &d->s->opts;
    if (d->mem) {
        SUN_TRY(d, ERKStepReInit(d->mem, nde_sun_rhs, t0, d->y), "ERKStepReInit", t0);
    } else {
        d->mem = ERKStepCreate(nde_sun_rhs, t0, d->y, d->sunctx);
        if (!d->mem) return NDE_FAIL(NDE_ERR_NOMEM, "ERKStepCreate failed");
        SUN_TRY(d, ERKStepSetErrHandlerFn(d->mem, nde_sun_err_handler, d), "ERKStepSetErrHandlerFn",
                t0);
        SUN_TRY(d, ERKStepSetUserData(d->mem, d), "ERKStepSetUserData", t0);
        SUN_TRY(d, ERKStepSStolerances(d->mem, o->rtol, o->atol), "ERKStepSStolerances", t0);
        NDE_TRY(erk_table(d));
        SUN_TRY(d, ERKStepSetTable(d->mem, d->erk), "ERKStepSetTable", t0);
        if (o->dt_min > 0) SUN_TRY(d, ERKStepSetMinStep(d->mem, o->dt_min), "ERKStepSetMinStep", t0);
        if (o->dt_max > 0) SUN_TRY(d, ERKStepSetMaxStep(d->mem, o->dt_max), "ERKStepSetMaxStep", t0);
        if (o->h0 > 0) SUN_TRY(d, ERKStepSetInitStep(d->mem, o->h0), "ERKStepSetInitStep", t0);
    }
    if (o->fixed_step)
        SUN_TRY(d, ERKStepSetFixedStep(d->mem, fixed_h(o, t0, t_end)), "ERKStepSetFixedStep", t0);
    SUN_TRY(d, ERKStepSetStopTime(d->mem, t_end), "ERKStepSetStopTime", t0);
    return NDE_OK;
}

static int erk_step(nde_sun *d, double tout, double *tret)
{
    return ERKStepEvolve(d->mem, tout, d->y, tret, ARK_ONE_STEP);
}

static void erk_stats(nde_sun *d, nde_solver_stats *st)
{
    long netf = 0;
    st->n_rejected = nde_sun_count(ERKStepGetNumErrTestFails(d->mem, &netf), &netf);
}

static void erk_free(nde_sun *d) { ERKStepFree(&d->mem); }

const nde_sun_family nde_sun_erk_family = {
    .name = "erkstep",
    .setup = erk_setup,
    .step = erk_step,
    .dky = ERKStepGetDky,
    .local_errors = ERKStepGetEstLocalErrors,
    .err_weights = ERKStepGetErrWeights,
    .stats = erk_stats,
    .free_mem = erk_free,
};

/* ---- ARKStep (DIRK, IMEX) ----------------------------------------------------- */

static nde_status ark_create(nde_sun *d, double t0)
{
    const nde_solver *s = d->s;
    const nde_solver_opts *o = &s->opts;
    int imex = o->method == NDE_ARK_IMEX;
    d->mem = imex ? ARKStepCreate(nde_sun_rhs_explicit, nde_sun_rhs_implicit, t0, d->y, d->sunctx)
                  : ARKStepCreate(NULL, nde_sun_rhs, t0, d->y, d->sunctx);
    if (!d->mem) return NDE_FAIL(NDE_ERR_NOMEM, "ARKStepCreate failed");
    SUN_TRY(d, ARKStepSetErrHandlerFn(d->mem, nde_sun_err_handler, d), "ARKStepSetErrHandlerFn", t0);
    SUN_TRY(d, ARKStepSetUserData(d->mem, d), "ARKStepSetUserData", t0);
    SUN_TRY(d, ARKStepSStolerances(d->mem, o->rtol, o->atol), "ARKStepSStolerances", t0);
    if (o->max_order > 0) SUN_TRY(d, ARKStepSetOrder(d->mem, o->max_order), "ARKStepSetOrder", t0);
    if (o->dt_min > 0) SUN_TRY(d, ARKStepSetMinStep(d->mem, o->dt_min), "ARKStepSetMinStep", t0);
    if (o->dt_max > 0) SUN_TRY(d, ARKStepSetMaxStep(d->mem, o->dt_max), "ARKStepSetMaxStep", t0);
    if (o->h0 > 0) SUN_TRY(d, ARKStepSetInitStep(d->mem, o->h0), "ARKStepSetInitStep", t0);
    NDE_TRY(nde_sun_make_linsol(d));
    if (d->NLS) {
        SUN_TRY(d, ARKStepSetNonlinearSolver(d->mem, d->NLS), "ARKStepSetNonlinearSolver", t0);
        return NDE_OK;
    }
    SUN_TRY(d, ARKStepSetLinearSolver(d->mem, d->LS, d->A), "ARKStepSetLinearSolver", t0);
    /* With a dense matrix lagged over several steps (ARKODE 5.4's default), the Newton
     * iterations stop short: on u' = A u the global error stalls near 3e-5 for any rtol
     * below 1e-7 (same without nde in between). Re-forming I − γJ every step restores
     * the expected convergence with the tolerance. */
    if (d->A)
        SUN_TRY(d, ARKStepSetLSetupFrequency(d->mem, 1), "ARKStepSetLSetupFrequency", t0);
    /* the field's jvp is the Jacobian of f_I only without an explicit part */
    if (!imex && s->field.jvp && d->A)
        SUN_TRY(d, ARKStepSetJacFn(d->mem, nde_sun_jac), "ARKStepSetJacFn", t0);
    if (!imex && s->field.jvp && !d->A)
        SUN_TRY(d, ARKStepSetJacTimes(d->mem, NULL, nde_sun_jtimes), "ARKStepSetJacTimes", t0);
    return NDE_OK;
}

static nde_status ark_setup(nde_sun *d, double t0, double t_end)
{
    const nde_solver_opts *o = &d->s->opts;
    if (d->mem) {
        int imex = o->method == NDE_ARK_IMEX;
        SUN_TRY(d,
                ARKStepReInit(d->mem, imex ? nde_sun_rhs_explicit : NULL,
                              imex ? nde_sun_rhs_implicit : nde_sun_rhs, t0, d->y),
                "ARKStepReInit", t0);
    } else {
        NDE_TRY(ark_create(d, t0));
    }
    if (o->fixed_step)
        SUN_TRY(d, ARKStepSetFixedStep(d->mem, fixed_h(o, t0, t_end)), "ARKStepSetFixedStep", t0);
    SUN_TRY(d, ARKStepSetStopTime(d->mem, t_end), "ARKStepSetStopTime", t0);
    return NDE_OK;
}

static int ark_step(nde_sun *d, double tout, double *tret)
{
    return ARKStepEvolve(d->mem, tout, d->y, tret, ARK_ONE_STEP);
}

static void ark_stats(nde_sun *d, nde_solver_stats *st)
{
    static const nde_sun_counters c = {ARKStepGetNumErrTestFails,
                                       ARKStepGetNumNonlinSolvConvFails,
                                       ARKStepGetNumNonlinSolvIters, ARKStepGetNumJacEvals,
                                       ARKStepGetNumLinIters};
    nde_sun_implicit_stats(d, &c, st);
}

static void ark_free(nde_sun *d) { ARKStepFree(&d->mem); }

const nde_sun_family nde_sun_ark_family = {
    .name = "arkstep",
    .setup = ark_setup,
    .step = ark_step,
    .dky = ARKStepGetDky,
    .local_errors = ARKStepGetEstLocalErrors,
    .err_weights = ARKStepGetErrWeights,
    .stats = ark_stats,
    .free_mem = ark_free,
};
