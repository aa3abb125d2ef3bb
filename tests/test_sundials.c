/* SUNDIALS backends behind nde_solve: accuracy of every method against the exact
 * solution, the step log (contiguous steps, normalized local errors), counters of the
 * Newton and linear-solver work, the linear-solver options, IMEX splitting, repeated
 * and resized solves, the stiff comparison with Tsit5, and every failure path as a
 * status. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fields.h"
#include "nde/nde.h"
#include "nde_config.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

#if !NDE_HAVE_SUNDIALS
Test(sundials, methods_are_unsupported_without_sundials)
{
    rot_ctx rc = {.a = 0.3, .w = 2.0};
    nde_field f = {.dim = 2, .ctx = &rc, .f = rot_f};
    nde_ctx *c;
    CHECK(nde_ctx_create(&c));
    const nde_method ms[] = {NDE_CVODE_BDF, NDE_CVODE_ADAMS, NDE_ARK_ERK, NDE_ARK_DIRK,
                             NDE_ARK_IMEX};
    for (int i = 0; i < 5; i++) {
        nde_solver_opts o = nde_solver_defaults(ms[i]);
        nde_solver *s;
        cr_expect_eq(nde_solver_create(c, &f, &o, &s), NDE_ERR_UNSUPPORTED);
    }
    nde_ctx_destroy(&c);
}
#else
static rot_ctx rot = {.a = 0.3, .w = 2.0};
static nde_ctx *ctx;

static void setup(void) { CHECK(nde_ctx_create(&ctx)); }
static void teardown(void) { nde_ctx_destroy(&ctx); }

/* The damped rotation, with its Jacobian–vector product (J is constant). */
static nde_status rot_jvp(void *c, double t, const double *u, const double *w, double *jw,
                          size_t batch)
{
    (void)u;
    return rot_f(c, t, w, jw, batch);
}

/* vᵀJ for the rotation: Jᵀ is the rotation by the opposite angle. */
static nde_status rot_vjp(void *c, double t, const double *u, const double *v, double *vu,
                          double *gth, size_t batch)
{
    (void)u, (void)gth;
    rot_ctx back = {.a = ((rot_ctx *)c)->a, .w = -((rot_ctx *)c)->w};
    return vu ? rot_f(&back, t, v, vu, batch) : NDE_OK;
}

/* Its non-stiff part for IMEX: the rotation alone, u' = [[0, w], [−w, 0]] u. */
static rot_ctx rot_skew = {.a = 0.0, .w = 2.0};

enum { NT = 6 };
static const double ts[NT] = {0.0, 0.3, 0.9, 1.4, 2.2, 3.0};
static const double u0[4] = {1.0, 0.5, -0.7, 0.2}; /* batch 2 */

/* Max abs error against the exact solution at every save time. */
static double rot_error(const double *traj)
{
    double e = 0.0;
    for (int k = 0; k < NT; k++)
        for (int b = 0; b < 2; b++) {
            double ex[2];
            rot_exact(&rot, ts[k], u0 + 2 * b, ex);
            for (int i = 0; i < 2; i++) e = fmax(e, fabs(ex[i] - traj[k * 4 + 2 * b + i]));
        }
    return e;
}

typedef struct sun_case {
    nde_method m;
    nde_linsol ls;
    int with_jvp;
    nde_method table;
} sun_case;

static nde_solver *make(sun_case c, double rtol, nde_field *f, nde_field *fe)
{
    *f = (nde_field){.dim = 2, .ctx = &rot, .f = rot_f, .jvp = c.with_jvp ? rot_jvp : NULL};
    *fe = (nde_field){.dim = 2, .ctx = &rot_skew, .f = rot_f};
    nde_solver_opts o = nde_solver_defaults(c.m);
    o.rtol = rtol;
    o.atol = rtol * 1e-2;
    o.linsol = c.ls;
    o.erk_table = c.table;
    if (c.m == NDE_ARK_IMEX) o.imex_explicit = fe;
    nde_solver *s;
    CHECK(nde_solver_create(ctx, f, &o, &s));
    return s;
}

TestSuite(sundials, .init = setup, .fini = teardown);

Test(sundials, every_method_is_accurate_and_logs_its_steps)
{
    const sun_case cases[] = {
        {NDE_CVODE_BDF, NDE_LINSOL_DEFAULT, 0, 0},  {NDE_CVODE_BDF, NDE_LINSOL_DENSE, 1, 0},
        {NDE_CVODE_BDF, NDE_LINSOL_GMRES, 1, 0},    {NDE_CVODE_BDF, NDE_LINSOL_GMRES, 0, 0},
        {NDE_CVODE_ADAMS, NDE_LINSOL_DEFAULT, 1, 0}, {NDE_CVODE_ADAMS, NDE_LINSOL_FIXED_POINT, 0, 0},
        {NDE_ARK_ERK, 0, 0, 0},                      {NDE_ARK_ERK, 0, 0, NDE_DOPRI5},
        {NDE_ARK_ERK, 0, 0, NDE_BS3},                {NDE_ARK_DIRK, NDE_LINSOL_DENSE, 1, 0},
        {NDE_ARK_DIRK, NDE_LINSOL_GMRES, 1, 0},      {NDE_ARK_IMEX, NDE_LINSOL_DEFAULT, 0, 0},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        sun_case c = cases[ci];
        double errs[2];
        for (int ti = 0; ti < 2; ti++) {
            double rtol = ti == 0 ? 1e-5 : 1e-9;
            nde_field f, fe;
            nde_solver *s = make(c, rtol, &f, &fe);
            double traj[NT * 4];
            CHECK(nde_solve(s, 2, 2, u0, NT, ts, traj));
            errs[ti] = rot_error(traj);
            size_t n;
            const nde_step_rec *st = nde_solver_steps(s, &n);
            const nde_solver_stats *stats = nde_solver_get_stats(s);
            cr_assert(n > 3);
            cr_expect_eq(n, stats->n_accepted);
            cr_expect_eq(st[0].t, ts[0]);
            cr_expect_eq(st[n - 1].t + st[n - 1].h, ts[NT - 1], "%s: last step ends at %.17g",
                         nde_method_name(c.m), st[n - 1].t + st[n - 1].h);
            for (size_t j = 0; j + 1 < n; j++) {
                cr_expect_eq(st[j].t + st[j].h, st[j + 1].t);
                cr_expect(st[j].h > 0);
                cr_expect(st[j].err_est >= 0 && st[j].err_est <= 1.0 + 1e-12,
                          "%s step %zu: normalized error %g", nde_method_name(c.m), j,
                          st[j].err_est);
            }
            cr_expect(stats->nfe > n);
            if (c.with_jvp && c.m != NDE_ARK_ERK) cr_expect(stats->n_jvp > 0);
            if (c.ls == NDE_LINSOL_GMRES) cr_expect(stats->n_lin_iters > 0);
            if ((c.m == NDE_CVODE_BDF || c.m == NDE_ARK_DIRK) && c.ls != NDE_LINSOL_GMRES)
                cr_expect(stats->n_jac > 0, "%s: no Jacobian evaluations counted",
                          nde_method_name(c.m));
            if (c.m != NDE_ARK_ERK) cr_expect(stats->n_newton_iters > 0);
            nde_solver_destroy(&s);
        }
        cr_log_info("%s linsol %d jvp %d: max error %.2e (rtol 1e-5), %.2e (rtol 1e-9)",
                    nde_method_name(c.m), (int)c.ls, c.with_jvp, errs[0], errs[1]);
        cr_expect(errs[0] < 1e-3, "%s linsol %d: error %.3e at rtol 1e-5", nde_method_name(c.m),
                  (int)c.ls, errs[0]);
        cr_expect(errs[1] < 1e-6, "%s linsol %d: error %.3e at rtol 1e-9", nde_method_name(c.m),
                  (int)c.ls, errs[1]);
        cr_expect(errs[1] < errs[0] * 1e-2, "%s: error does not fall with the tolerance",
                  nde_method_name(c.m));
    }
}

Test(sundials, repeated_resized_and_backward_solves)
{
    nde_field f, fe;
    nde_solver *s = make((sun_case){NDE_CVODE_BDF, NDE_LINSOL_DENSE, 1, 0}, 1e-8, &f, &fe);
    double a[NT * 4], b[NT * 4];
    CHECK(nde_solve(s, 2, 2, u0, NT, ts, a));
    size_t n1;
    nde_solver_steps(s, &n1);
    CHECK(nde_solve(s, 2, 2, u0, NT, ts, b));
    size_t n2;
    nde_solver_steps(s, &n2);
    cr_expect_eq(n1, n2);
    cr_expect(memcmp(a, b, sizeof a) == 0, "a re-initialized solve must repeat the bits");
    /* batch 1 rebuilds the integrator for 2 unknowns; the first sample is unchanged */
    double c1[NT * 2];
    CHECK(nde_solve(s, 1, 2, u0, NT, ts, c1));
    for (int k = 0; k < NT; k++)
        for (int i = 0; i < 2; i++) cr_expect(fabs(c1[k * 2 + i] - a[k * 4 + i]) < 1e-6);
    /* backwards from t = 3 to 0 recovers u0 */
    double rts[2] = {3.0, 0.0}, back[2 * 4];
    CHECK(nde_solve(s, 2, 2, a + (NT - 1) * 4, 2, rts, back));
    for (int i = 0; i < 4; i++) cr_expect(fabs(back[4 + i] - u0[i]) < 1e-5, "%g vs %g", back[4 + i], u0[i]);
    size_t nb;
    const nde_step_rec *st = nde_solver_steps(s, &nb);
    cr_expect(st[0].h < 0);
    nde_solver_destroy(&s);
}

static int count_cb(const nde_step_info *info, void *user)
{
    size_t *c = user;
    cr_expect(info->accepted);
    cr_expect_eq(info->n, 4);
    return ++*c >= 5;
}

Test(sundials, callback_sees_accepted_steps_and_can_stop)
{
    nde_field f = {.dim = 2, .ctx = &rot, .f = rot_f};
    nde_solver_opts o = nde_solver_defaults(NDE_CVODE_ADAMS);
    size_t calls = 0;
    o.callback = count_cb;
    o.callback_user = &calls;
    nde_solver *s;
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    double traj[NT * 4];
    cr_expect_eq(nde_solve(s, 2, 2, u0, NT, ts, traj), NDE_ERR_STOPPED);
    cr_expect_eq(calls, 5);
    size_t n;
    nde_solver_steps(s, &n);
    cr_expect_eq(n, 5);
    nde_solver_destroy(&s);
}

/* A solve and its adjoint depend on their inputs only, not on the solves before them on
 * the same solver: Robertson with the true rates (forward recording for the CVODES adjoint,
 * then the adjoint), the same with other rates, then the true ones again must repeat the
 * first trajectory, gradient and evaluation counts, and a fresh solver's. With the
 * integrator re-initialized (CVodeReInit, CVodeAdjReInit, CVodeReInitB) instead of created
 * afresh, the third forward took other steps after an adjoint (264 f evaluations against
 * 266; without the adjoints in between the solves repeated) and a resumed training run
 * (stiff --resume) differed from an uninterrupted one. ARKODE's DIRK is checked the same
 * way without the adjoint. */
typedef struct rob_run {
    double traj[12], grad[3];
    size_t nfe, steps;
} rob_run;

static void rob_solve(nde_solver *s, const double *tsr, int adjoint, rob_run *r)
{
    double y0[3] = {1.0, 0.0, 0.0}, dL[12];
    CHECK(nde_solve(s, 1, 3, y0, 4, tsr, r->traj));
    r->nfe = nde_solver_get_stats(s)->nfe;
    nde_solver_steps(s, &r->steps);
    memset(r->grad, 0, sizeof r->grad);
    if (!adjoint) return;
    for (int i = 0; i < 12; i++) dL[i] = i >= 3 ? 1.0 + 0.1 * i : 0.0;
    CHECK(nde_adjoint_cvodes(s, dL, r->grad, 3, NULL, NULL));
}

Test(sundials, a_solve_does_not_depend_on_the_solves_before_it)
{
    const nde_method methods[2] = {NDE_CVODE_BDF, NDE_ARK_DIRK};
    for (int m = 0; m < 2; m++) {
        const char *name = nde_method_name(methods[m]);
        const int adj = methods[m] == NDE_CVODE_BDF;
        double k[3] = {0.04, 1e4, 3e7};
        robertson_ctx rc = {.theta = k};
        nde_field f = robertson_field(&rc);
        const double tsr[4] = {0.0, 0.4, 4.0, 40.0};
        nde_solver_opts o = nde_solver_defaults(methods[m]);
        o.rtol = 1e-6;
        o.atol = 1e-10;
        if (adj) o.cvodes_adj_steps = 20;
        nde_solver *s, *s2;
        rob_run first, other, again, fresh;
        CHECK(nde_solver_create(ctx, &f, &o, &s));
        rob_solve(s, tsr, adj, &first);
        k[0] = 0.06, k[1] = 5e3, k[2] = 4e7;
        rob_solve(s, tsr, adj, &other);
        k[0] = 0.04, k[1] = 1e4, k[2] = 3e7;
        rob_solve(s, tsr, adj, &again);
        CHECK(nde_solver_create(ctx, &f, &o, &s2));
        rob_solve(s2, tsr, adj, &fresh);
        cr_expect(memcmp(other.traj, first.traj, sizeof first.traj) != 0,
                  "%s: the rates made no difference", name);
        cr_expect_eq(again.steps, first.steps, "%s: %zu steps after another solve, %zu before",
                     name, again.steps, first.steps);
        cr_expect_eq(again.nfe, first.nfe, "%s: nfe %zu after another solve, %zu before", name,
                     again.nfe, first.nfe);
        cr_expect(memcmp(again.traj, first.traj, sizeof first.traj) == 0 &&
                      memcmp(again.grad, first.grad, sizeof first.grad) == 0,
                  "%s: the same solve after another one changed its bits", name);
        cr_expect(memcmp(fresh.traj, first.traj, sizeof first.traj) == 0 &&
                      memcmp(fresh.grad, first.grad, sizeof first.grad) == 0,
                  "%s: a fresh solver gives other bits", name);
        nde_solver_destroy(&s2);
        nde_solver_destroy(&s);
    }
}

/* Robertson on [0, 40]: Tsit5 is limited by stability (|λ| ~ 1e4), BDF is not. */
Test(sundials, stiff_robertson_bdf_needs_ten_times_fewer_evaluations_than_tsit5)
{
    double k[3] = {0.04, 1e4, 3e7};
    robertson_ctx rc = {.theta = k};
    nde_field f = robertson_field(&rc);
    double y0[3] = {1.0, 0.0, 0.0}, tsr[3] = {0.0, 0.4, 40.0};
    double ref[9], yb[9], yt[9];
    const double rtol = 1e-6, atol = 1e-10;
    nde_solver_opts o = nde_solver_defaults(NDE_CVODE_BDF);
    o.rtol = 1e-12;
    o.atol = 1e-16;
    nde_solver *s;
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    CHECK(nde_solve(s, 1, 3, y0, 3, tsr, ref));
    nde_solver_destroy(&s);
    o.rtol = rtol;
    o.atol = atol;
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    CHECK(nde_solve(s, 1, 3, y0, 3, tsr, yb));
    size_t nfe_bdf = nde_solver_get_stats(s)->nfe, jvp_bdf = nde_solver_get_stats(s)->n_jvp;
    nde_solver_destroy(&s);
    o = nde_solver_defaults(NDE_TSIT5);
    o.rtol = rtol;
    o.atol = atol;
    o.max_steps = 1000000;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    CHECK(nde_solve(s, 1, 3, y0, 3, tsr, yt));
    size_t nfe_tsit5 = nde_solver_get_stats(s)->nfe;
    nde_solver_destroy(&s);
    /* both reach the requested accuracy: error <= 100·(rtol·|y| + atol) (global error
     * accumulates over the steps; the bound is the tolerance times a modest factor) */
    for (int i = 3; i < 9; i++) {
        double tol = 100 * (rtol * fabs(ref[i]) + atol);
        cr_expect(fabs(yb[i] - ref[i]) <= tol, "BDF y[%d] = %.10g, reference %.10g", i, yb[i],
                  ref[i]);
        cr_expect(fabs(yt[i] - ref[i]) <= tol, "Tsit5 y[%d] = %.10g, reference %.10g", i, yt[i],
                  ref[i]);
    }
    cr_log_info("Robertson [0, 40]: CVODE BDF nfe %zu (+%zu jvp), Tsit5 nfe %zu", nfe_bdf,
                jvp_bdf, nfe_tsit5);
    cr_expect(10 * (nfe_bdf + jvp_bdf) <= nfe_tsit5, "BDF %zu + %zu jvp vs Tsit5 %zu", nfe_bdf,
              jvp_bdf, nfe_tsit5);
}

/* u' = A u with a constant 3×3 A per case; the spectral radius is known in closed form. */
typedef struct lin3_ctx {
    double a[9]; /* row-major */
} lin3_ctx;

static nde_status lin3_f(void *c, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    const double *a = ((lin3_ctx *)c)->a;
    for (size_t b = 0; b < batch; b++)
        for (int i = 0; i < 3; i++)
            du[3 * b + i] = a[3 * i] * u[3 * b] + a[3 * i + 1] * u[3 * b + 1] + a[3 * i + 2] * u[3 * b + 2];
    return NDE_OK;
}

static nde_status lin3_jvp(void *c, double t, const double *u, const double *w, double *jw,
                           size_t batch)
{
    (void)u;
    return lin3_f(c, t, w, jw, batch);
}

/* Collects the stiffness estimate the callback sees at every step. */
typedef struct stiff_seen {
    double v[4096];
    size_t n;
} stiff_seen;

static int stiff_cb(const nde_step_info *info, void *user)
{
    stiff_seen *seen = user;
    if (seen->n < 4096) seen->v[seen->n++] = info->stiff_est;
    return 0;
}

/* With a dense Newton matrix built from the field's jvp, every step reports the
 * Jacobian's spectral radius: triangular (real eigenvalues −1, −20, −1000, non-normal)
 * and a damped fast rotation (−0.5 ± 300i and −2: a dominant complex pair). */
Test(sundials, implicit_steps_report_the_jacobian_spectral_radius)
{
    const lin3_ctx cases[2] = {
        {.a = {-1.0, 0.0, 0.0, 40.0, -20.0, 0.0, 7.0, 900.0, -1000.0}},
        {.a = {-0.5, 300.0, 0.0, -300.0, -0.5, 0.0, 1.0, 1.0, -2.0}},
    };
    const double rho_true[2] = {1000.0, sqrt(0.25 + 300.0 * 300.0)};
    const nde_method ms[2] = {NDE_CVODE_BDF, NDE_ARK_DIRK};
    double y0[6] = {1.0, 0.5, -0.3, 0.2, -1.0, 0.4}, t3[3] = {0.0, 0.05, 0.2}, traj[18];
    for (int c = 0; c < 2; c++)
        for (int m = 0; m < 2; m++) {
            lin3_ctx lc = cases[c];
            nde_field f = {.dim = 3, .ctx = &lc, .f = lin3_f, .jvp = lin3_jvp};
            nde_solver_opts o = nde_solver_defaults(ms[m]);
            o.rtol = 1e-6;
            o.atol = 1e-9;
            stiff_seen seen = {.n = 0};
            o.callback = stiff_cb;
            o.callback_user = &seen;
            nde_solver *s;
            CHECK(nde_solver_create(ctx, &f, &o, &s));
            CHECK(nde_solve(s, 2, 3, y0, 3, t3, traj));
            size_t n;
            const nde_step_rec *log = nde_solver_steps(s, &n);
            cr_assert(n >= 3 && n <= 4096 && nde_solver_get_stats(s)->n_jac >= 1, "%zu steps", n);
            cr_expect_eq(seen.n, n);
            for (size_t k = 0; k < n; k++) {
                cr_expect(fabs(log[k].stiff_est - rho_true[c]) <= 1e-3 * rho_true[c],
                          "%s case %d step %zu: stiff_est %.8g, spectral radius %.8g",
                          nde_method_name(ms[m]), c, k, log[k].stiff_est, rho_true[c]);
                cr_expect_eq(seen.v[k], log[k].stiff_est, "callback and step log differ");
            }
            cr_log_info("%s case %d: %zu steps, %zu Jacobians, stiff_est %.8g (|λ|max %.8g)",
                        nde_method_name(ms[m]), c, n, nde_solver_get_stats(s)->n_jac,
                        log[n - 1].stiff_est, rho_true[c]);
            nde_solver_destroy(&s);
        }
    /* without a jvp (SUNDIALS' difference-quotient Jacobian) there is no estimate */
    lin3_ctx lc = cases[0];
    nde_field f = {.dim = 3, .ctx = &lc, .f = lin3_f};
    nde_solver_opts o = nde_solver_defaults(NDE_CVODE_BDF);
    nde_solver *s;
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    CHECK(nde_solve(s, 2, 3, y0, 3, t3, traj));
    size_t n;
    const nde_step_rec *log = nde_solver_steps(s, &n);
    for (size_t k = 0; k < n; k++) cr_expect_eq(log[k].stiff_est, 0.0);
    nde_solver_destroy(&s);
}

/* ---- failures come back as statuses ------------------------------------------ */

static nde_status failing_f(void *c, double t, const double *u, double *du, size_t batch)
{
    if (t > 0.5) return NDE_FAIL(NDE_ERR_IO, "failing_f: simulated failure at t = %g", t);
    return rot_f(c, t, u, du, batch);
}

static nde_status nan_f(void *c, double t, const double *u, double *du, size_t batch)
{
    NDE_TRY(rot_f(c, t, u, du, batch));
    if (t > 0.5) du[0] = NAN;
    return NDE_OK;
}

Test(sundials, failures_are_statuses_with_sundials_messages)
{
    double k[3] = {0.04, 1e4, 3e7};
    robertson_ctx rc = {.theta = k};
    nde_field rob = robertson_field(&rc);
    double y0[3] = {1.0, 0.0, 0.0}, tsr[2] = {0.0, 40.0}, out[6];
    nde_solver *s;
    /* too much work */
    nde_solver_opts o = nde_solver_defaults(NDE_CVODE_BDF);
    o.max_steps = 20;
    CHECK(nde_solver_create(ctx, &rob, &o, &s));
    cr_expect_eq(nde_solve(s, 1, 3, y0, 2, tsr, out), NDE_ERR_MAX_STEPS);
    cr_expect(strstr(nde_last_error(), "max_steps") != NULL, "%s", nde_last_error());
    nde_solver_destroy(&s);
    /* fixed-point iteration on a stiff problem with a floor under h: SUNDIALS gives up
     * (convergence or error-test failures at hmin) */
    o = nde_solver_defaults(NDE_CVODE_ADAMS);
    o.linsol = NDE_LINSOL_FIXED_POINT;
    o.dt_min = 1e-2;
    o.h0 = 1e-2;
    CHECK(nde_solver_create(ctx, &rob, &o, &s));
    nde_status st = nde_solve(s, 1, 3, y0, 2, tsr, out);
    cr_expect_eq(st, NDE_ERR_SOLVER, "got %s: %s", nde_status_str(st), nde_last_error());
    cr_expect(strstr(nde_last_error(), "CVODE") != NULL, "no SUNDIALS text: %s", nde_last_error());
    cr_log_info("fixed point on Robertson: %s", nde_last_error());
    nde_solver_destroy(&s);
    /* a field that fails: its own status and message */
    nde_field bad = {.dim = 2, .ctx = &rot, .f = failing_f};
    o = nde_solver_defaults(NDE_ARK_DIRK);
    CHECK(nde_solver_create(ctx, &bad, &o, &s));
    double traj[NT * 4];
    cr_expect_eq(nde_solve(s, 2, 2, u0, NT, ts, traj), NDE_ERR_IO);
    cr_expect(strstr(nde_last_error(), "simulated failure") != NULL, "%s", nde_last_error());
    nde_solver_destroy(&s);
    /* a field that turns NaN: recoverable for SUNDIALS, then non-finite */
    nde_field nanf = {.dim = 2, .ctx = &rot, .f = nan_f};
    o = nde_solver_defaults(NDE_CVODE_BDF);
    o.dt_min = 1e-8; /* else the retries creep towards t = 0.5 until max_steps */
    CHECK(nde_solver_create(ctx, &nanf, &o, &s));
    st = nde_solve(s, 2, 2, u0, NT, ts, traj);
    cr_expect_eq(st, NDE_ERR_NONFINITE, "got %s: %s", nde_status_str(st), nde_last_error());
    nde_solver_destroy(&s);
    /* ERK on a blow-up: step size underflow at dt_min */
    nde_field up = {.dim = 1, .f = blowup_f};
    o = nde_solver_defaults(NDE_ARK_ERK);
    o.dt_min = 1e-6;
    CHECK(nde_solver_create(ctx, &up, &o, &s));
    double one = 1.0, tb[2] = {0.0, 2.0}, ob[2];
    st = nde_solve(s, 1, 1, &one, 2, tb, ob);
    cr_expect(st == NDE_ERR_SOLVER || st == NDE_ERR_NONFINITE, "got %s: %s", nde_status_str(st),
              nde_last_error());
    nde_solver_destroy(&s);
}

Test(sundials, bad_options_are_rejected)
{
    nde_field f = {.dim = 2, .ctx = &rot, .f = rot_f, .vjp = NULL};
    nde_solver *s = NULL;
    nde_solver_opts o = nde_solver_defaults(NDE_CVODE_BDF);
    cr_expect_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG); /* needs a ctx */
    cr_expect_null(s);
    o.max_order = 6;
    cr_expect_eq(nde_solver_create(ctx, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults(NDE_CVODE_BDF);
    o.linsol = (nde_linsol)17;
    cr_expect_eq(nde_solver_create(ctx, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults(NDE_CVODE_BDF);
    o.cvodes_adj_steps = 10; /* needs a vjp */
    cr_expect_eq(nde_solver_create(ctx, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults(NDE_ARK_IMEX); /* no explicit part */
    cr_expect_eq(nde_solver_create(ctx, &f, &o, &s), NDE_ERR_ARG);
    nde_field fe3 = {.dim = 3, .f = rot_f};
    o.imex_explicit = &fe3;
    cr_expect_eq(nde_solver_create(ctx, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults(NDE_ARK_ERK);
    o.erk_table = NDE_CVODE_BDF;
    cr_expect_eq(nde_solver_create(ctx, &f, &o, &s), NDE_ERR_ARG);
    o.erk_table = NDE_RK4; /* not an adaptive FSAL pair */
    cr_expect_eq(nde_solver_create(ctx, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults(NDE_CVODE_ADAMS);
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    double traj[NT * 4];
    CHECK(nde_solve(s, 2, 2, u0, NT, ts, traj));
    /* no frozen replay, no discrete tape */
    CHECK(nde_solver_freeze_steps(s));
    cr_expect_eq(nde_solve(s, 2, 2, u0, NT, ts, traj), NDE_ERR_UNSUPPORTED);
    nde_solver_destroy(&s);
    nde_field fv = {.dim = 2, .ctx = &rot, .f = rot_f, .vjp = rot_vjp};
    o = nde_solver_defaults(NDE_CVODE_BDF);
    o.tape = NDE_TAPE_STAGES;
    cr_expect_eq(nde_solver_create(ctx, &fv, &o, &s), NDE_ERR_UNSUPPORTED);
    cr_expect_null(s);
}
#endif
