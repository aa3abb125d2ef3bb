/* ODE solvers: convergence orders of every tableau and dense output (two-sided), tolerance
 * proportionality, step log and counters, stiffness estimate, save-time independence,
 * backward integration, callbacks, and every bad-input path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fields.h"
#include "nde/nde.h"
#include "nde/ode.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

static rot_ctx rot = {.a = 0.1, .w = 2.0};

static nde_field rot_field(void)
{
    return (nde_field){.dim = 2, .ctx = &rot, .f = rot_f};
}

static nde_field expsin_field(void) { return (nde_field){.dim = 1, .f = expsin_f}; }

/* Max abs error at t = 2 of the two-sample rotation problem with n uniform steps and,
 * when mid != NULL, the max error of the dense output at every step's midpoint. */
static double fixed_error(nde_method m, size_t nsteps, double *mid)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(m);
    o.fixed_step = 1;
    double T = 2.0;
    o.h0 = T / (double)nsteps;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    size_t nt = mid ? 2 * nsteps + 1 : 2;
    static double ts[2 * 1600 + 1], traj[(2 * 1600 + 1) * 4];
    cr_assert(nsteps <= 1600);
    for (size_t k = 0; k < nt; k++) ts[k] = T * (double)k / (double)(nt - 1);
    double u0[4] = {2.0, 0.0, -0.5, 1.0};
    CHECK(nde_solve(s, 2, 2, u0, nt, ts, traj));
    size_t nacc;
    nde_solver_steps(s, &nacc);
    cr_assert_eq(nacc, nsteps);
    double err_end = 0.0, err_mid = 0.0;
    for (size_t k = 0; k < nt; k++) {
        for (size_t b = 0; b < 2; b++) {
            double ex[2];
            rot_exact(&rot, ts[k], u0 + 2 * b, ex);
            double e = fmax(fabs(ex[0] - traj[k * 4 + 2 * b]), fabs(ex[1] - traj[k * 4 + 2 * b + 1]));
            if (k == nt - 1) err_end = fmax(err_end, e);
            if (k % 2 == 1) err_mid = fmax(err_mid, e);
        }
    }
    if (mid) *mid = err_mid;
    nde_solver_destroy(&s);
    return err_end;
}

/* Least-squares slope of log(err) against log(h) over doublings of the step count. */
static double measured_order(nde_method m, size_t n0, int dense, double *dense_order)
{
    double lh[4], le[4], lm[4];
    for (int i = 0; i < 4; i++) {
        size_t n = n0 << i;
        double mid;
        double e = fixed_error(m, n, dense ? &mid : NULL);
        lh[i] = log(2.0 / (double)n);
        le[i] = log(e);
        lm[i] = dense ? log(mid) : 0.0;
    }
    double mh = 0, me = 0, mm = 0;
    for (int i = 0; i < 4; i++) mh += lh[i] / 4, me += le[i] / 4, mm += lm[i] / 4;
    double sxy = 0, sxx = 0, sxm = 0;
    for (int i = 0; i < 4; i++) {
        sxy += (lh[i] - mh) * (le[i] - me);
        sxm += (lh[i] - mh) * (lm[i] - mm);
        sxx += (lh[i] - mh) * (lh[i] - mh);
    }
    if (dense_order) *dense_order = sxm / sxx;
    return sxy / sxx;
}

typedef struct order_case {
    nde_method m;
    double order, dense_order;
    size_t n0; /* coarsest step count: chosen so all four runs are asymptotic and above
                  rounding (errors between ~1e-4 and ~1e-12) */
} order_case;

static const order_case orders[] = {
    {NDE_EULER, 1, 1, 200}, {NDE_HEUN, 2, 2, 40},   {NDE_RK4, 4, 3, 20},
    {NDE_BS3, 3, 3, 20},    {NDE_DOPRI5, 5, 4, 10}, {NDE_TSIT5, 5, 4, 40},
};

Test(ode_order, every_tableau_converges_at_its_nominal_order)
{
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
        double dense;
        double p = measured_order(orders[i].m, orders[i].n0, 1, &dense);
        cr_log_info("%s: order %.3f (nominal %.0f), dense output %.3f (min(p, q + 1) = %.0f)",
                    nde_method_name(orders[i].m), p, orders[i].order, dense,
                    fmin(orders[i].order, orders[i].dense_order + 1));
        cr_expect(fabs(p - orders[i].order) <= 0.2, "%s: measured order %.3f, nominal %.0f",
                  nde_method_name(orders[i].m), p, orders[i].order);
        /* the midpoint error: the global O(h^p) carried into the step plus the
         * interpolant's local O(h^{q+1}), so min(p, q + 1), checked two-sided too */
        double want = fmin(orders[i].order, orders[i].dense_order + 1);
        cr_expect(fabs(dense - want) <= 0.2, "%s: dense output order %.3f, expected %.0f",
                  nde_method_name(orders[i].m), dense, want);
    }
}

/* u' = q t^{q-1}: a field of t alone, so each step is a quadrature and the continuous
 * extension reproduces u = t^q exactly for q up to its order (Σ_i w_i(θ) c_i^{j} =
 * θ^{j+1}/(j+1)), at θ = 1 included. */
static nde_status power_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    int q = *(const int *)ctx;
    for (size_t b = 0; b < batch; b++) du[b] = q * pow(t, q - 1) + 0.0 * u[b];
    return NDE_OK;
}

Test(ode_order, dense_output_is_exact_for_polynomials_up_to_its_order)
{
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
        for (int q = 1; q <= (int)orders[i].dense_order; q++) {
            nde_field f = {.dim = 1, .ctx = &q, .f = power_f};
            nde_solver_opts o = nde_solver_defaults(orders[i].m);
            o.fixed_step = 1;
            o.h0 = 0.5;
            nde_solver *s;
            CHECK(nde_solver_create(NULL, &f, &o, &s));
            double ts[6] = {0.3, 0.45, 0.8, 1.1, 1.77, 2.3}, traj[6];
            double u0 = pow(0.3, q);
            CHECK(nde_solve(s, 1, 1, &u0, 6, ts, traj));
            for (int k = 0; k < 6; k++)
                cr_expect(fabs(traj[k] - pow(ts[k], q)) < 1e-13, "%s q=%d t=%g: %.17g vs %.17g",
                          nde_method_name(orders[i].m), q, ts[k], traj[k], pow(ts[k], q));
            nde_solver_destroy(&s);
        }
    }
}

static double adaptive_error(nde_method m, double tol, size_t *nsteps)
{
    nde_field f = expsin_field();
    nde_solver_opts o = nde_solver_defaults(m);
    o.rtol = tol;
    o.atol = tol;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double ts[11], traj[11 * 2], u0[2] = {1.0, -3.0};
    for (int k = 0; k <= 10; k++) ts[k] = 0.8 * k;
    CHECK(nde_solve(s, 2, 1, u0, 11, ts, traj));
    double err = 0.0;
    for (int k = 0; k <= 10; k++)
        for (int b = 0; b < 2; b++)
            err = fmax(err, fabs(traj[2 * k + b] - u0[b] * exp(sin(ts[k]))) / fabs(u0[b]));
    nde_solver_steps(s, nsteps);
    nde_solver_destroy(&s);
    return err;
}

Test(ode_adaptive, global_error_falls_with_tolerance)
{
    const nde_method ms[] = {NDE_BS3, NDE_DOPRI5, NDE_TSIT5};
    for (size_t i = 0; i < 3; i++) {
        double prev = INFINITY;
        size_t prev_steps = 0;
        for (double tol = 1e-3; tol >= 1e-11; tol *= 1e-2) {
            size_t nsteps;
            double err = adaptive_error(ms[i], tol, &nsteps);
            cr_log_info("%s tol %.0e: error %.2e in %zu steps", nde_method_name(ms[i]), tol, err,
                        nsteps);
            cr_expect(err < prev, "%s: error %.3e at tol %.0e did not fall below %.3e",
                      nde_method_name(ms[i]), err, tol, prev);
            cr_expect(nsteps > prev_steps);
            /* tolerance proportionality: the error stays within a modest factor of tol */
            cr_expect(err < 100.0 * tol, "%s: error %.3e at tol %.0e", nde_method_name(ms[i]), err,
                      tol);
            prev = err;
            prev_steps = nsteps;
        }
    }
}

Test(ode_adaptive, step_log_counts_and_fsal)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double ts[3] = {0.0, 3.0, 25.0}, u0[2] = {2.0, 0.0}, traj[6];
    CHECK(nde_solve(s, 1, 2, u0, 3, ts, traj));
    size_t n;
    const nde_step_rec *st = nde_solver_steps(s, &n);
    const nde_solver_stats *stats = nde_solver_get_stats(s);
    cr_assert_eq(n, stats->n_accepted);
    double t = 0.0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(st[i].t, t, "step %zu starts at %.17g, previous ended at %.17g", i, st[i].t, t);
        cr_assert(st[i].h > 0.0);
        cr_assert(st[i].err_est >= 0.0 && st[i].err_est <= 1.0);
        t = st[i].t + st[i].h;
    }
    cr_assert(fabs(t - 25.0) < 1e-12);
    /* FSAL: 1 evaluation at t0, 1 for the initial-step probe, 6 per attempted step */
    cr_assert_eq(stats->nfe, 2 + 6 * (stats->n_accepted + stats->n_rejected));
    double ex[2];
    rot_exact(&rot, 25.0, u0, ex);
    cr_assert(fabs(traj[4] - ex[0]) < 1e-5 && fabs(traj[5] - ex[1]) < 1e-5);
    nde_solver_destroy(&s);
}

Test(ode_adaptive, save_times_do_not_change_the_steps)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[2] = {1.0, 1.0}, ts2[2] = {0.0, 5.0}, traj2[4];
    CHECK(nde_solve(s, 1, 2, u0, 2, ts2, traj2));
    size_t n2;
    const nde_step_rec *st = nde_solver_steps(s, &n2);
    nde_step_rec copy[4096];
    cr_assert(n2 < 4096);
    memcpy(copy, st, n2 * sizeof *st);
    double ts[101], traj[202];
    for (int k = 0; k <= 100; k++) ts[k] = 0.05 * k;
    ts[100] = 5.0;
    CHECK(nde_solve(s, 1, 2, u0, 101, ts, traj));
    size_t n;
    st = nde_solver_steps(s, &n);
    cr_assert_eq(n, n2);
    for (size_t i = 0; i < n; i++) cr_assert_eq(memcmp(&st[i], &copy[i], sizeof *st), 0);
    cr_assert_eq(traj[200], traj2[2]);
    /* dense output is accurate between steps: compare every save time to the exact solution */
    for (int k = 0; k <= 100; k++) {
        double ex[2];
        rot_exact(&rot, ts[k], u0, ex);
        cr_expect(fabs(traj[2 * k] - ex[0]) < 1e-4, "t=%g: %g vs %g", ts[k], traj[2 * k], ex[0]);
    }
    nde_solver_destroy(&s);
}

Test(ode_adaptive, backward_in_time_recovers_the_start)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-10;
    o.atol = 1e-12;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[2] = {0.3, -1.2}, fw[2] = {0.0, 4.0}, bw[2] = {4.0, 0.0}, traj[4], back[4];
    CHECK(nde_solve(s, 1, 2, u0, 2, fw, traj));
    CHECK(nde_solve(s, 1, 2, traj + 2, 2, bw, back));
    size_t n;
    const nde_step_rec *st = nde_solver_steps(s, &n);
    cr_assert(st[0].h < 0.0);
    cr_assert(fabs(back[2] - u0[0]) < 1e-8 && fabs(back[3] - u0[1]) < 1e-8);
    nde_solver_destroy(&s);
}

/* For u' = λu every stage derivative is λ times its input, so Shampine's estimate
 * ‖k7 − k6‖/‖Y7 − Y6‖ is |λ| exactly. */
static nde_status decay_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    double lam = *(const double *)ctx;
    for (size_t b = 0; b < batch; b++) du[b] = lam * u[b];
    return NDE_OK;
}

Test(ode_adaptive, stiffness_estimate_is_the_eigenvalue_for_linear_problems)
{
    const nde_method ms[] = {NDE_DOPRI5, NDE_TSIT5, NDE_BS3};
    for (int i = 0; i < 3; i++) {
        double lam = -37.0;
        nde_field f = {.dim = 1, .ctx = &lam, .f = decay_f};
        nde_solver_opts o = nde_solver_defaults(ms[i]);
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        double u0 = 1.0, ts[2] = {0.0, 0.2}, traj[2];
        CHECK(nde_solve(s, 1, 1, &u0, 2, ts, traj));
        size_t n;
        const nde_step_rec *st = nde_solver_steps(s, &n);
        for (size_t j = 0; j < n; j++)
            cr_expect(fabs(st[j].stiff_est - 37.0) < 1e-6 * 37.0, "%s step %zu: %g",
                      nde_method_name(ms[i]), j, st[j].stiff_est);
        nde_solver_destroy(&s);
    }
}

Test(ode_adaptive, stiffness_estimate_is_zero_not_nan_for_constant_fields)
{
    double lam = 0.0;
    nde_field f = {.dim = 1, .ctx = &lam, .f = decay_f};
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0 = 1.0, ts[2] = {0.0, 1.0}, traj[2];
    CHECK(nde_solve(s, 1, 1, &u0, 2, ts, traj));
    size_t n;
    const nde_step_rec *st = nde_solver_steps(s, &n);
    for (size_t j = 0; j < n; j++) cr_assert_eq(st[j].stiff_est, 0.0);
    cr_assert_eq(traj[1], 1.0);
    nde_solver_destroy(&s);
}

static int count_and_stop(const nde_step_info *info, void *user)
{
    size_t *calls = user;
    (*calls)++;
    cr_assert(info->n == 2);
    return info->accepted && info->t + info->h > 1.0;
}

Test(ode_adaptive, callback_sees_every_attempt_and_can_stop)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    size_t calls = 0;
    o.callback = count_and_stop;
    o.callback_user = &calls;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[2] = {1.0, 0.0}, ts[2] = {0.0, 10.0}, traj[4];
    cr_assert_eq(nde_solve(s, 1, 2, u0, 2, ts, traj), NDE_ERR_STOPPED);
    const nde_solver_stats *st = nde_solver_get_stats(s);
    cr_assert_eq(calls, st->n_accepted + st->n_rejected);
    nde_solver_destroy(&s);
}

Test(ode_adaptive, fixed_step_grid_lands_on_the_end)
{
    nde_field f = expsin_field();
    nde_solver_opts o = nde_solver_defaults(NDE_RK4);
    o.h0 = 0.1;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0 = 1.0, ts[2] = {0.0, 1.0}, traj[2];
    CHECK(nde_solve(s, 1, 1, &u0, 2, ts, traj));
    size_t n;
    const nde_step_rec *st = nde_solver_steps(s, &n);
    cr_assert_eq(n, 10);
    cr_assert_eq(st[9].t + st[9].h, 1.0);
    nde_solver_destroy(&s);
}

/* ---- bad input: a status and a message, never a crash --------------------------- */

Test(ode_errors, nonfinite_initial_state)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[4] = {1.0, 0.0, NAN, 1.0}, ts[2] = {0.0, 1.0}, traj[8];
    cr_assert_eq(nde_solve(s, 2, 2, u0, 2, ts, traj), NDE_ERR_NONFINITE);
    cr_assert(strstr(nde_last_error(), "sample 1") != NULL, "%s", nde_last_error());
    u0[2] = INFINITY;
    cr_assert_eq(nde_solve(s, 2, 2, u0, 2, ts, traj), NDE_ERR_NONFINITE);
    nde_solver_destroy(&s);
}

Test(ode_errors, nonpositive_tolerances_and_bad_options)
{
    nde_field f = rot_field();
    nde_solver *s = NULL;
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 0.0;
    cr_assert_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "rtol") != NULL);
    cr_assert_null(s);
    o = nde_solver_defaults(NDE_DOPRI5);
    o.atol = -1e-9;
    cr_assert_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "atol") != NULL);
    o = nde_solver_defaults(NDE_DOPRI5);
    o.atol = NAN;
    cr_assert_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults(NDE_DOPRI5);
    o.h0 = -0.1;
    cr_assert_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults(NDE_DOPRI5);
    o.max_steps = 0;
    cr_assert_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults((nde_method)99);
    cr_assert_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG);
    o = nde_solver_defaults(NDE_DOPRI5);
    o.tape = NDE_TAPE_STAGES; /* gradients need a vjp: the rotation field has none */
    cr_assert_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "vjp") != NULL);
    nde_field nof = {.dim = 2};
    o = nde_solver_defaults(NDE_DOPRI5);
    cr_assert_eq(nde_solver_create(NULL, &nof, &o, &s), NDE_ERR_ARG);
    cr_assert_eq(nde_solver_create(NULL, NULL, &o, &s), NDE_ERR_ARG);
    cr_assert_eq(nde_solver_create(NULL, &f, NULL, &s), NDE_ERR_ARG);
    nde_method m;
    cr_assert_eq(nde_method_parse("Tsit5", &m), NDE_OK);
    cr_assert_eq(m, NDE_TSIT5);
    cr_assert_eq(nde_method_parse("rk45", &m), NDE_ERR_ARG);
}

/* The enumeration benchmarks use: the adaptive pairs, not the fixed-step methods, the
 * SUNDIALS backends or out-of-range values; every listed method solves adaptively. */
Test(ode, explicit_adaptive_methods_are_listed)
{
    cr_assert(nde_method_is_explicit_adaptive(NDE_BS3));
    cr_assert(nde_method_is_explicit_adaptive(NDE_DOPRI5));
    cr_assert(nde_method_is_explicit_adaptive(NDE_TSIT5));
    cr_assert(!nde_method_is_explicit_adaptive(NDE_EULER));
    cr_assert(!nde_method_is_explicit_adaptive(NDE_RK4));
    cr_assert(!nde_method_is_explicit_adaptive(NDE_CVODE_BDF));
    cr_assert(!nde_method_is_explicit_adaptive(NDE_ARK_ERK));
    cr_assert(!nde_method_is_explicit_adaptive(NDE_METHOD_COUNT));
    cr_assert(!nde_method_is_explicit_adaptive((nde_method)-1));
    nde_field f = rot_field();
    for (int k = 0; k < NDE_METHOD_COUNT; k++) {
        if (!nde_method_is_explicit_adaptive((nde_method)k)) continue;
        nde_solver_opts o = nde_solver_defaults((nde_method)k);
        o.rtol = o.atol = 1e-8;
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        double u0[2] = {1.0, 0.0}, ts[2] = {0.0, 1.0}, traj[4];
        CHECK(nde_solve(s, 1, 2, u0, 2, ts, traj));
        double ex[2];
        rot_exact(&rot, 1.0, u0, ex);
        cr_assert_float_eq(traj[2], ex[0], 1e-6, "%s", nde_method_name((nde_method)k));
        cr_assert_float_eq(traj[3], ex[1], 1e-6, "%s", nde_method_name((nde_method)k));
        cr_assert_gt(nde_solver_get_stats(s)->n_accepted, 3);
        nde_solver_destroy(&s);
    }
}

Test(ode_errors, save_times_out_of_order_or_too_few)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[2] = {1.0, 0.0}, traj[8];
    double bad[4] = {0.0, 1.0, 0.5, 2.0};
    cr_assert_eq(nde_solve(s, 1, 2, u0, 4, bad, traj), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "ts[2]") != NULL, "%s", nde_last_error());
    double dup[3] = {0.0, 1.0, 1.0};
    cr_assert_eq(nde_solve(s, 1, 2, u0, 3, dup, traj), NDE_ERR_ARG);
    double nanT[2] = {0.0, NAN};
    cr_assert_eq(nde_solve(s, 1, 2, u0, 2, nanT, traj), NDE_ERR_ARG);
    cr_assert_eq(nde_solve(s, 1, 2, u0, 1, bad, traj), NDE_ERR_ARG);
    cr_assert_eq(nde_solve(s, 0, 2, u0, 2, bad, traj), NDE_ERR_ARG);
    cr_assert_eq(nde_solve(s, 1, 2, NULL, 2, bad, traj), NDE_ERR_ARG);
    cr_assert_eq(nde_solve(NULL, 1, 2, u0, 2, bad, traj), NDE_ERR_ARG);
    nde_solver_destroy(&s);
}

Test(ode_errors, dimension_mismatch)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[3] = {1.0, 0.0, 0.0}, ts[2] = {0.0, 1.0}, traj[6];
    cr_assert_eq(nde_solve(s, 1, 3, u0, 2, ts, traj), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "dim 2") != NULL, "%s", nde_last_error());
    nde_solver_destroy(&s);
}

Test(ode_errors, max_steps_exhausted)
{
    nde_field f = rot_field();
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-12;
    o.atol = 1e-12;
    o.max_steps = 20;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[2] = {1.0, 0.0}, ts[2] = {0.0, 100.0}, traj[4];
    cr_assert_eq(nde_solve(s, 1, 2, u0, 2, ts, traj), NDE_ERR_MAX_STEPS);
    cr_assert(strstr(nde_last_error(), "max_steps") != NULL);
    size_t n;
    nde_solver_steps(s, &n);
    cr_assert(n > 0 && n <= 20);
    /* a fixed-step request that cannot fit is refused up front */
    o = nde_solver_defaults(NDE_RK4);
    o.h0 = 1e-3;
    o.max_steps = 50;
    nde_solver_destroy(&s);
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    cr_assert_eq(nde_solve(s, 1, 2, u0, 2, ts, traj), NDE_ERR_MAX_STEPS);
    nde_solver_destroy(&s);
}

Test(ode_errors, step_size_underflow_and_blowup)
{
    nde_field f = {.dim = 1, .f = blowup_f};
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.dt_min = 1e-6;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0 = 1.0, ts[2] = {0.0, 2.0}, traj[2];
    nde_status st = nde_solve(s, 1, 1, &u0, 2, ts, traj);
    cr_assert_eq(st, NDE_ERR_DT_MIN, "got %s: %s", nde_status_str(st), nde_last_error());
    cr_assert(strstr(nde_last_error(), "dt_min") != NULL);
    nde_solver_destroy(&s);
    /* without dt_min the default guard still ends the solve with a status */
    o.dt_min = 0.0;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    st = nde_solve(s, 1, 1, &u0, 2, ts, traj);
    cr_assert(st == NDE_ERR_DT_MIN || st == NDE_ERR_NONFINITE || st == NDE_ERR_MAX_STEPS,
              "got %s", nde_status_str(st));
    nde_solver_destroy(&s);
    /* fixed steps straight into the singularity: non-finite state */
    o = nde_solver_defaults(NDE_EULER);
    o.h0 = 0.5;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    u0 = 1e200;
    st = nde_solve(s, 1, 1, &u0, 2, ts, traj);
    cr_assert_eq(st, NDE_ERR_NONFINITE, "got %s", nde_status_str(st));
    nde_solver_destroy(&s);
}

Test(ode_errors, destroy_is_null_safe)
{
    nde_solver *s = NULL;
    nde_solver_destroy(&s);
    nde_solver_destroy(NULL);
    cr_assert_null(nde_solver_steps(NULL, NULL));
    cr_assert_str_eq(nde_method_name((nde_method)77), "unknown");
}
