/* SUNDIALS backends behind nde_solve: the common one-step loop that fills the save
 * times from SUNDIALS' dense output (CVodeGetDky / ARKStepGetDky) and logs every step
 * with its normalized local error ‖ele · ewt‖_RMS (CVodeGetEstLocalErrors,
 * CVodeGetErrWeights: the quantity SUNDIALS' own error test compares with 1; Hindmarsh
 * et al., "SUNDIALS", ACM TOMS 31 (2005), §2.1), plus the context, error mapping and
 * field adapters shared by the families (sundials_cvode.c, sundials_ark.c). */
#include "ode/sundials_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <arkode/arkode.h>
#include <cvodes/cvodes.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include "core/ctx_internal.h"

/* nde_sun_fail maps CVODES and ARKODE flags with one table */
_Static_assert(CV_TOO_MUCH_WORK == ARK_TOO_MUCH_WORK && CV_ERR_FAILURE == ARK_ERR_FAILURE &&
                   CV_CONV_FAILURE == ARK_CONV_FAILURE && CV_MEM_FAIL == ARK_MEM_FAIL &&
                   CV_ILL_INPUT == ARK_ILL_INPUT && CV_RHSFUNC_FAIL == ARK_RHSFUNC_FAIL &&
                   CV_FIRST_RHSFUNC_ERR == ARK_FIRST_RHSFUNC_ERR &&
                   CV_REPTD_RHSFUNC_ERR == ARK_REPTD_RHSFUNC_ERR &&
                   CV_UNREC_RHSFUNC_ERR == ARK_UNREC_RHSFUNC_ERR &&
                   CV_TOO_MUCH_ACC == ARK_TOO_MUCH_ACC && CV_ONE_STEP == ARK_ONE_STEP,
               "CVODES and ARKODE flag values differ");

static void free_sunctx(void *data)
{
    SUNContext c = data;
    SUNContext_Free(&c);
}

nde_status nde_sundials_context(nde_ctx *ctx, SUNContext *out)
{
    if (!ctx) return NDE_FAIL(NDE_ERR_ARG, "SUNDIALS methods need an nde_ctx (got NULL)");
    nde_ctx_slot *slot = &ctx->slots[NDE_SLOT_SUNDIALS];
    if (!slot->data) {
        SUNContext c = NULL;
        if (SUNContext_Create(NULL, &c) != 0 || !c)
            return NDE_FAIL(NDE_ERR_SOLVER, "SUNContext_Create failed");
        slot->data = c;
        slot->cleanup = free_sunctx;
    }
    *out = slot->data;
    return NDE_OK;
}

void nde_sun_err_handler(int code, const char *module, const char *function, char *msg,
                         void *user)
{
    nde_sun *d = user;
    if (code >= 0) return; /* warnings (e.g. t + h == t) are not failures */
    /* keep the first (root) message; later ones (e.g. CVodeB's summary) are appended */
    size_t used = strlen(d->msg);
    if (used + 8 >= sizeof d->msg) return;
    snprintf(d->msg + used, sizeof d->msg - used, "%s[%s] %s: %s", used ? "; " : "",
             module ? module : "?", function ? function : "?", msg ? msg : "");
}

nde_status nde_sun_fail(nde_sun *d, int flag, const char *call, double t)
{
    const char *m = nde_method_name(d->s->opts.method);
    if (d->cb_status != NDE_OK) return d->cb_status; /* the field's own message stands */
    nde_status st;
    switch (flag) {
    case CV_TOO_MUCH_WORK: st = NDE_ERR_MAX_STEPS; break;
    case CV_MEM_FAIL: st = NDE_ERR_NOMEM; break;
    case CV_ILL_INPUT: st = NDE_ERR_ARG; break;
    case CV_RHSFUNC_FAIL:
    case CV_FIRST_RHSFUNC_ERR:
    case CV_REPTD_RHSFUNC_ERR:
    case CV_UNREC_RHSFUNC_ERR: st = d->cb_nonfinite ? NDE_ERR_NONFINITE : NDE_ERR_SOLVER; break;
    default: st = NDE_ERR_SOLVER; break;
    }
    return nde_fail(st, __FILE__, __LINE__, "%s: %s returned %d near t = %.17g: %s", m, call,
                    flag, t, d->msg[0] ? d->msg : "(no message)");
}

int nde_sun_cb_result(nde_sun *d, nde_status st, const double *out, size_t n)
{
    if (st != NDE_OK) {
        if (d->cb_status == NDE_OK) d->cb_status = st;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i])) {
            d->cb_nonfinite = 1;
            return 1;
        }
    return 0;
}

int nde_sun_rhs(double t, N_Vector y, N_Vector ydot, void *user)
{
    nde_sun *d = user;
    nde_solver *s = d->s;
    double *out = N_VGetArrayPointer(ydot);
    nde_status st = s->field.f(s->field.ctx, t, N_VGetArrayPointer(y), out, s->batch);
    *(d->adj_stats ? &d->adj_stats->nfe : &s->stats.nfe) += 1;
    return nde_sun_cb_result(d, st, out, s->n);
}

int nde_sun_rhs_explicit(double t, N_Vector y, N_Vector ydot, void *user)
{
    nde_sun *d = user;
    nde_solver *s = d->s;
    const nde_field *fe = s->opts.imex_explicit;
    double *out = N_VGetArrayPointer(ydot);
    nde_status st = fe->f(fe->ctx, t, N_VGetArrayPointer(y), out, s->batch);
    *(d->adj_stats ? &d->adj_stats->nfe : &s->stats.nfe) += 1;
    return nde_sun_cb_result(d, st, out, s->n);
}

int nde_sun_rhs_implicit(double t, N_Vector y, N_Vector ydot, void *user)
{
    nde_sun *d = user;
    nde_solver *s = d->s;
    const nde_field *fe = s->opts.imex_explicit;
    const double *u = N_VGetArrayPointer(y);
    double *out = N_VGetArrayPointer(ydot);
    nde_status st = s->field.f(s->field.ctx, t, u, out, s->batch);
    if (st == NDE_OK) st = fe->f(fe->ctx, t, u, d->fe, s->batch);
    *(d->adj_stats ? &d->adj_stats->nfe : &s->stats.nfe) += 2;
    if (st == NDE_OK)
        for (size_t i = 0; i < s->n; i++) out[i] -= d->fe[i];
    return nde_sun_cb_result(d, st, out, s->n);
}

/* Spectral radius estimate of the block-diagonal J (batch blocks of dim × dim): the
 * largest over blocks of the geometric-mean growth of normalized power iterations after a
 * burn-in. The geometric mean of ‖J v_k‖ over several iterations is ‖J^k v‖^(1/k) up to
 * the start vector's share, so it also converges for a dominant complex pair, where
 * single-step ratios oscillate. v, w: dim doubles of scratch. */
static double jac_spectral_radius(SUNMatrix J, size_t dim, size_t batch, double *v, double *w)
{
    enum { BURN_IN = 8, ITERS = 24 };
    double rho = 0.0;
    for (size_t b = 0; b < batch; b++) {
        for (size_t i = 0; i < dim; i++) /* fixed, generic start: no solve-to-solve noise */
            v[i] = 1.0 + 0.5 * sin(1.0 + 2.3 * (double)i);
        double log_sum = 0.0;
        int k = 0;
        for (; k < BURN_IN + ITERS; k++) {
            memset(w, 0, dim * sizeof *w);
            for (size_t j = 0; j < dim; j++) {
                const double *col = SUNDenseMatrix_Column(J, (sunindextype)(b * dim + j)) + b * dim;
                for (size_t i = 0; i < dim; i++) w[i] += col[i] * v[j];
            }
            double norm = 0.0, vn = 0.0;
            for (size_t i = 0; i < dim; i++) {
                norm += w[i] * w[i];
                vn += v[i] * v[i];
            }
            norm = sqrt(norm / vn);
            if (!(norm > 0.0) || !isfinite(norm)) break; /* nilpotent block or overflow */
            if (k >= BURN_IN) log_sum += log(norm);
            for (size_t i = 0; i < dim; i++) v[i] = w[i] / norm;
        }
        if (k == BURN_IN + ITERS) rho = fmax(rho, exp(log_sum / ITERS));
    }
    return rho;
}

int nde_sun_block_jac(nde_sun *d, double t, N_Vector y, SUNMatrix J, nde_sun_product product,
                      int negate, double *e, double *col)
{
    nde_solver *s = d->s;
    size_t dim = s->field.dim, B = s->batch;
    SUNMatZero(J);
    for (size_t j = 0; j < dim; j++) {
        memset(e, 0, s->n * sizeof *e);
        for (size_t b = 0; b < B; b++) e[b * dim + j] = 1.0;
        int rc = nde_sun_cb_result(d, product(d, t, N_VGetArrayPointer(y), e, col), col, s->n);
        if (rc) return rc;
        for (size_t b = 0; b < B; b++) {
            double *dst = SUNDenseMatrix_Column(J, (sunindextype)(b * dim + j)) + b * dim;
            const double *src = col + b * dim;
            for (size_t i = 0; i < dim; i++) dst[i] = negate ? -src[i] : src[i];
        }
    }
    return 0;
}

/* J·v by the field's jvp, counted as forward work or, inside an adjoint run, as its. */
static nde_status jvp_product(nde_sun *d, double t, const double *y, const double *v, double *out)
{
    nde_solver *s = d->s;
    nde_status st = s->field.jvp(s->field.ctx, t, y, v, out, s->batch);
    *(d->adj_stats ? &d->adj_stats->n_jvp : &s->stats.n_jvp) += 1;
    return st;
}

/* The spectral radius estimate of the new J becomes the stiffness estimate of the steps
 * that follow (SUNDIALS reuses a Jacobian over several steps). */
int nde_sun_jac(double t, N_Vector y, N_Vector fy, SUNMatrix J, void *user, N_Vector t1,
                N_Vector t2, N_Vector t3)
{
    (void)fy, (void)t3;
    nde_sun *d = user;
    double *w = N_VGetArrayPointer(t1), *jw = N_VGetArrayPointer(t2);
    int rc = nde_sun_block_jac(d, t, y, J, jvp_product, 0, w, jw);
    if (rc) return rc;
    d->jac_rho = jac_spectral_radius(J, d->s->field.dim, d->s->batch, w, jw);
    return 0;
}

int nde_sun_jtimes(N_Vector v, N_Vector Jv, double t, N_Vector y, N_Vector fy, void *user,
                   N_Vector tmp)
{
    (void)fy, (void)tmp;
    nde_sun *d = user;
    double *out = N_VGetArrayPointer(Jv);
    nde_status st = jvp_product(d, t, N_VGetArrayPointer(y), N_VGetArrayPointer(v), out);
    return nde_sun_cb_result(d, st, out, d->s->n);
}

size_t nde_sun_count(int flag, const long *v) { return flag < 0 || *v < 0 ? 0 : (size_t)*v; }

void nde_sun_implicit_stats(nde_sun *d, const nde_sun_counters *c, nde_solver_stats *st)
{
    long netf = 0, ncfn = 0, nni = 0, nje = 0, nli = 0;
    int f1 = c->err_test_fails(d->mem, &netf);
    int f2 = c->conv_fails(d->mem, &ncfn);
    st->n_rejected = nde_sun_count(f1, &netf) + nde_sun_count(f2, &ncfn);
    st->n_newton_fails = nde_sun_count(f2, &ncfn);
    st->n_newton_iters = nde_sun_count(c->nonlin_iters(d->mem, &nni), &nni);
    st->n_jac = d->LS ? nde_sun_count(c->jac_evals(d->mem, &nje), &nje) : 0;
    st->n_lin_iters = d->LS ? nde_sun_count(c->lin_iters(d->mem, &nli), &nli) : 0;
}

nde_status nde_sun_make_linsol(nde_sun *d)
{
    nde_solver *s = d->s;
    sunindextype n = (sunindextype)s->n;
    switch (s->opts.linsol) {
    case NDE_LINSOL_FIXED_POINT:
        d->NLS = SUNNonlinSol_FixedPoint(d->y, 0, d->sunctx);
        if (!d->NLS) return NDE_FAIL(NDE_ERR_NOMEM, "SUNNonlinSol_FixedPoint(n = %zu)", s->n);
        return NDE_OK;
    case NDE_LINSOL_GMRES:
        d->LS = SUNLinSol_SPGMR(d->y, SUN_PREC_NONE, 0, d->sunctx);
        if (!d->LS) return NDE_FAIL(NDE_ERR_NOMEM, "SUNLinSol_SPGMR(n = %zu)", s->n);
        return NDE_OK;
    default:
        d->A = SUNDenseMatrix(n, n, d->sunctx);
        d->LS = d->A ? SUNLinSol_Dense(d->y, d->A, d->sunctx) : NULL;
        if (!d->LS) return NDE_FAIL(NDE_ERR_NOMEM, "dense %zu x %zu Jacobian", s->n, s->n);
        return NDE_OK;
    }
}

/* Everything SUNDIALS-side; the next solve rebuilds it. */
static void free_all(nde_sun *d)
{
    if (d->mem) d->fam->free_mem(d); /* also frees CVODES' backward problems */
    d->mem = NULL;
    N_Vector *vs[] = {&d->y, &d->ele, &d->ewt, &d->dky, &d->yB, &d->qB};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++)
        if (*vs[i]) {
            N_VDestroy(*vs[i]);
            *vs[i] = NULL;
        }
    if (d->LS) SUNLinSolFree(d->LS);
    if (d->LSB) SUNLinSolFree(d->LSB);
    if (d->A) SUNMatDestroy(d->A);
    if (d->AB) SUNMatDestroy(d->AB);
    if (d->NLS) SUNNonlinSolFree(d->NLS);
    if (d->erk) ARKodeButcherTable_Free(d->erk);
    d->LS = d->LSB = NULL;
    d->A = d->AB = NULL;
    d->NLS = NULL;
    d->erk = NULL;
    nde_free(d->fe);
    d->fe = NULL;
    d->n = 0;
    d->adj_ready = d->adj_recorded = 0;
    d->which_b = -1;
    d->nb_p = 0;
}

/* Vectors for n unknowns; the family creates its integrator on the next setup. */
static nde_status reserve(nde_sun *d, size_t n)
{
    free_all(d);
    sunindextype len = (sunindextype)n;
    d->y = N_VNew_Serial(len, d->sunctx);
    d->ele = d->y ? N_VClone(d->y) : NULL;
    d->ewt = d->y ? N_VClone(d->y) : NULL;
    d->dky = d->y ? N_VClone(d->y) : NULL;
    if (d->s->opts.method == NDE_ARK_IMEX) d->fe = nde_alloc_array(n, sizeof *d->fe);
    if (!d->y || !d->ele || !d->ewt || !d->dky || (d->s->opts.method == NDE_ARK_IMEX && !d->fe)) {
        free_all(d);
        return NDE_FAIL(NDE_ERR_NOMEM, "%s: vectors of %zu unknowns",
                        nde_method_name(d->s->opts.method), n);
    }
    d->n = n;
    return NDE_OK;
}

static int callback(nde_solver *s, double t, double h, double err, const double *u)
{
    if (!s->opts.callback) return 0;
    const nde_sun *d = s->backend;
    nde_step_info info = {
        .step = s->stats.n_accepted + s->stats.n_rejected - 1,
        .t = t, .h = h, .err_est = err, .stiff_est = d->jac_rho, .accepted = 1,
        .nfe = s->stats.nfe, .u = u, .n = s->n,
    };
    return s->opts.callback(&info, s->opts.callback_user);
}

size_t nde_sun_checkpoint_states(const nde_sun *d)
{
    const nde_solver_opts *o = &d->s->opts;
    size_t qmax = (size_t)(o->max_order > 0 ? o->max_order : (o->method == NDE_CVODE_BDF ? 5 : 12));
    return (size_t)d->n_checkpoints * (qmax + 2) + 2 * (o->cvodes_adj_steps + 1);
}

/* opts.tape_max_bytes also bounds what CVODES keeps for the adjoint (its check points,
 * estimated as nde_sun_checkpoint_states) together with the step log. */
static nde_status check_checkpoint_memory(nde_solver *s, const nde_sun *d, double t)
{
    size_t states = nde_sun_checkpoint_states(d), log = s->steps_cap * sizeof(nde_step_rec);
    size_t per = s->n * sizeof(double);
    if (states <= (s->record_limit > log ? (s->record_limit - log) / per : 0)) return NDE_OK;
    return NDE_FAIL(NDE_ERR_LIMIT,
                    "%s: after step %zu (t = %.17g) the CVODES adjoint check points (%ld) hold "
                    "about %zu bytes with the step log, more than the limit of %zu bytes; "
                    "raise nde_solver_opts.tape_max_bytes (SIZE_MAX: unlimited)",
                    nde_method_name(s->opts.method), s->n_steps - 1, t, d->n_checkpoints,
                    states > (SIZE_MAX - log) / per ? SIZE_MAX : states * per + log,
                    s->record_limit);
}

static nde_status sun_solve(nde_solver *s, const double *u0, double *traj)
{
    nde_sun *d = s->backend;
    const char *m = nde_method_name(s->opts.method);
    if (!d) /* only after a failed re-configuration (out of memory) */
        return NDE_FAIL(NDE_ERR_STATE, "%s: the solver has no SUNDIALS backend", m);
    if (s->replay_h)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: frozen step replay is for explicit RK methods",
                        m);
    size_t n = s->n, nt = s->nt;
    double t0 = s->ts[0], t_end = s->ts[nt - 1], dir = t_end > t0 ? 1.0 : -1.0;
    d->cb_status = NDE_OK;
    d->cb_nonfinite = 0;
    d->msg[0] = '\0';
    d->adj_recorded = 0;
    d->jac_rho = 0.0; /* no Jacobian of this solve yet */
    memcpy(traj, u0, n * sizeof *traj);
    s->save_src[0] = (nde_save_src){.step = SIZE_MAX, .theta = 0.0};
    /* A fresh integrator for every solve, never a ReInit of the last one: CVodeReInit
     * (with CVodeAdjReInit and the backward problem's CVodeReInitB) leaves state of the
     * previous solve in the integrator memory and its linear solvers, so the same solve
     * took different steps after a different history (after a CVODES adjoint:
     * sundials::a_solve_does_not_depend_on_the_solves_before_it; the stiff example's first
     * iteration after a resume differed at 1e-5 in the loss, 349 vs 300 right-hand-side
     * evaluations). Rebuilt, a solve depends on its inputs and options only: a resumed
     * training run repeats an uninterrupted one bit for bit. The cost is the
     * allocations of one integrator per solve. */
    NDE_TRY(reserve(d, n));
    double *y = N_VGetArrayPointer(d->y);
    memcpy(y, u0, n * sizeof *y);
    NDE_TRY(d->fam->setup(d, t0, t_end));
    size_t next = 1;
    double t = t0;
    nde_status st = NDE_OK;
    while (next < nt) {
        if (s->stats.n_accepted >= s->opts.max_steps) {
            st = NDE_FAIL(NDE_ERR_MAX_STEPS, "%s: max_steps = %zu reached at t = %.17g of [%g, %g]",
                          m, s->opts.max_steps, t, t0, t_end);
            break;
        }
        double tret = t;
        int flag = d->fam->step(d, t_end, &tret);
        if (flag < 0) {
            st = nde_sun_fail(d, flag, "step", t);
            break;
        }
        double h = tret - t;
        d->fam->local_errors(d->mem, d->ele);
        d->fam->err_weights(d->mem, d->ewt);
        double err = N_VWrmsNorm(d->ele, d->ewt);
        st = nde_solver_log_step(s, t, h, err, d->jac_rho);
        if (st == NDE_OK && d->adj_ready) st = check_checkpoint_memory(s, d, tret);
        if (st != NDE_OK) break;
        s->stats.n_accepted++;
        while (next < nt && dir * (s->ts[next] - tret) <= 0.0) {
            double *out = traj + next * n;
            if (s->ts[next] == tret || next == nt - 1) {
                memcpy(out, y, n * sizeof *out);
                s->save_src[next] = (nde_save_src){.step = s->n_steps - 1, .theta = 1.0};
            } else {
                flag = d->fam->dky(d->mem, s->ts[next], 0, d->dky);
                if (flag < 0) return nde_sun_fail(d, flag, "GetDky", s->ts[next]);
                memcpy(out, N_VGetArrayPointer(d->dky), n * sizeof *out);
                s->save_src[next] =
                    (nde_save_src){.step = s->n_steps - 1, .theta = (s->ts[next] - t) / h};
            }
            next++;
        }
        d->fam->stats(d, &s->stats);
        if (callback(s, t, h, err, y)) {
            st = NDE_FAIL(NDE_ERR_STOPPED, "%s: callback stopped the solve at t = %.17g", m, tret);
            break;
        }
        t = tret;
    }
    d->fam->stats(d, &s->stats);
    if (st == NDE_OK && s->opts.cvodes_adj_steps > 0) d->adj_recorded = 1;
    return st;
}

static nde_status sun_init(nde_solver *s)
{
    const nde_solver_opts *o = &s->opts;
    const char *m = nde_method_name(o->method);
    if (o->tape != NDE_TAPE_NONE)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "%s: the discrete-adjoint tape is for explicit RK methods; use "
                        "nde_adjoint_cvodes, nde_adjoint_backsolve or nde_adjoint_interpolating",
                        m);
    if ((int)o->linsol < NDE_LINSOL_DEFAULT || o->linsol > NDE_LINSOL_FIXED_POINT)
        return NDE_FAIL(NDE_ERR_ARG, "%s: unknown linear solver %d", m, (int)o->linsol);
    if (o->max_order < 0) return NDE_FAIL(NDE_ERR_ARG, "%s: max_order %d < 0", m, o->max_order);
    const nde_sun_family *fam;
    switch (o->method) {
    case NDE_CVODE_BDF:
    case NDE_CVODE_ADAMS:
        if (o->max_order > (o->method == NDE_CVODE_BDF ? 5 : 12))
            return NDE_FAIL(NDE_ERR_ARG, "%s: max_order %d exceeds %d", m, o->max_order,
                            o->method == NDE_CVODE_BDF ? 5 : 12);
        if (o->cvodes_adj_steps > 0 && !s->field.vjp)
            return NDE_FAIL(NDE_ERR_ARG, "%s: cvodes_adj_steps needs a field with a vjp", m);
        fam = &nde_sun_cvode_family;
        break;
    case NDE_ARK_ERK: {
        nde_method tm = o->erk_table == NDE_EULER ? NDE_TSIT5 : o->erk_table;
        const nde_tableau *tab = nde_tableau_get(tm);
        if (!tab)
            return NDE_FAIL(NDE_ERR_ARG, "%s: erk_table %s is not an explicit RK tableau", m,
                            nde_method_name(tm));
        /* ERKStep (ARKODE 5.4) takes 3 evaluations per RK4 step and converges at order
         * 3: it reuses the last stage as the next k1, which is only right for FSAL pairs */
        if (tab->est_order == 0 || !tab->fsal)
            return NDE_FAIL(NDE_ERR_ARG,
                            "%s: erk_table %s must be an adaptive FSAL pair (bs3, dopri5, tsit5)",
                            m, tab->name);
        fam = &nde_sun_erk_family;
        break;
    }
    case NDE_ARK_IMEX:
        if (!o->imex_explicit || !o->imex_explicit->f || o->imex_explicit->dim != s->field.dim)
            return NDE_FAIL(NDE_ERR_ARG,
                            "%s: opts.imex_explicit must be a field of dim %zu (the non-stiff "
                            "part), got %s",
                            m, s->field.dim, o->imex_explicit ? "a different dim" : "NULL");
        fam = &nde_sun_ark_family;
        break;
    case NDE_ARK_DIRK: fam = &nde_sun_ark_family; break;
    default: return NDE_FAIL(NDE_ERR_ARG, "%s is not a SUNDIALS method", m);
    }
    if (o->cvodes_adj_steps > 0 && fam != &nde_sun_cvode_family)
        return NDE_FAIL(NDE_ERR_ARG, "%s: cvodes_adj_steps is for NDE_CVODE_BDF/ADAMS", m);
    SUNContext sunctx = NULL;
    NDE_TRY(nde_sundials_context(s->ctx, &sunctx));
    nde_sun *d = nde_alloc(sizeof *d);
    if (!d) return NDE_ERR_NOMEM;
    d->s = s;
    d->fam = fam;
    d->sunctx = sunctx;
    d->which_b = -1;
    s->backend = d;
    return NDE_OK;
}

static void sun_free(nde_solver *s)
{
    nde_sun *d = s->backend;
    if (!d) return;
    free_all(d);
    nde_free(d);
    s->backend = NULL;
}

const nde_backend_ops nde_sundials_backend_ops = {
    .init = sun_init, .solve = sun_solve, .free_data = sun_free};
