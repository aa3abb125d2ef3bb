/* Discrete adjoint: gradients w.r.t. θ and u0 through adaptive and fixed-step solves
 * against central finite differences of the same discrete computation (frozen steps),
 * both tape modes (identical bits), memory accounting, and misuse. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fields.h"
#include "gradcheck.h"
#include "nde/nde.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

enum { D = 3, B = 2, NP = D * D + 2 * D, NT = 5 };

static const double ts[NT] = {0.0, 0.37, 1.0, 1.61, 2.5};

static void init_theta(double *theta)
{
    nde_rng r;
    nde_rng_seed(&r, 11);
    for (int i = 0; i < NP; i++) theta[i] = 0.8 * nde_rng_normal(&r);
}

/* The loss is L = Σ_k g_k · traj[k] (gc_solve_loss): any dL/dtraj can be written this way. */

typedef struct grad_case {
    nde_method m;
    nde_tape tape;
    double h0; /* > 0: fixed step */
} grad_case;

static void check_gradient(grad_case gc)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(gc.m);
    o.rtol = 1e-6;
    o.atol = 1e-8;
    o.tape = gc.tape;
    if (gc.h0 > 0) o.h0 = gc.h0;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1};
    double traj[NT * B * D], g[NT * B * D];
    nde_rng r;
    nde_rng_seed(&r, 3);
    for (int i = 0; i < NT * B * D; i++) g[i] = nde_rng_normal(&r);
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    size_t nsteps;
    nde_solver_steps(s, &nsteps);
    cr_assert(nsteps >= 4, "want a multi-step solve, got %zu steps", nsteps);
    double gth[NP] = {0}, gu0[B * D];
    CHECK(nde_adjoint_discrete(s, g, gth, NP, gu0));

    /* central differences with the accepted steps frozen */
    CHECK(nde_solver_freeze_steps(s));
    gc_solve_loss sl = {.s = s, .batch = B, .dim = D, .nt = NT, .ts = ts, .u0 = u0, .traj = traj,
                        .g = g};
    const char *name = nde_method_name(gc.m);
    double eth = gc_check(theta, NP, 1e-6, GC_CENTRAL2, gc_solve_loss_eval, &sl, gth, gc_l2(1e-6),
                          "%s tape %d: theta", name, (int)gc.tape);
    double eu = gc_check(u0, B * D, 1e-6, GC_CENTRAL2, gc_solve_loss_eval, &sl, gu0, gc_l2(1e-6),
                         "%s tape %d: u0", name, (int)gc.tape);
    size_t nsteps2;
    nde_solver_steps(s, &nsteps2);
    cr_assert_eq(nsteps2, nsteps);
    cr_log_info("%s tape %d: %zu steps, rel err theta %.2e u0 %.2e", name, (int)gc.tape, nsteps,
                eth, eu);
    nde_solver_destroy(&s);
}

Test(adjoint, adaptive_methods_match_finite_differences)
{
    const nde_method ms[] = {NDE_BS3, NDE_DOPRI5, NDE_TSIT5};
    for (int i = 0; i < 3; i++) {
        check_gradient((grad_case){ms[i], NDE_TAPE_STAGES, 0});
        check_gradient((grad_case){ms[i], NDE_TAPE_STEP_STARTS, 0});
    }
}

Test(adjoint, fixed_step_methods_match_finite_differences)
{
    const nde_method ms[] = {NDE_EULER, NDE_HEUN, NDE_RK4};
    for (int i = 0; i < 3; i++) {
        check_gradient((grad_case){ms[i], NDE_TAPE_STAGES, 0.3});
        check_gradient((grad_case){ms[i], NDE_TAPE_STEP_STARTS, 0.3});
    }
}

Test(adjoint, tape_modes_give_identical_bits_and_report_memory)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1}, traj[NT * B * D], g[NT * B * D];
    for (int i = 0; i < NT * B * D; i++) g[i] = 1.0 / (1 + i);
    double gth[2][NP], gu[2][B * D];
    size_t tape_bytes[2], peak[2], vjps[2], renfe[2];
    const nde_tape modes[2] = {NDE_TAPE_STAGES, NDE_TAPE_STEP_STARTS};
    for (int k = 0; k < 2; k++) {
        nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
        o.tape = modes[k];
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
        memset(gth[k], 0, sizeof gth[k]);
        CHECK(nde_adjoint_discrete(s, g, gth[k], NP, gu[k]));
        const nde_solver_stats *st = nde_solver_get_stats(s);
        tape_bytes[k] = st->tape_bytes;
        peak[k] = st->adjoint_peak_bytes;
        vjps[k] = st->n_vjp;
        renfe[k] = st->n_adjoint_nfe;
        cr_assert_eq(st->tape_bytes, st->n_accepted * (k == 0 ? 2 * 7 : 1) * B * D * sizeof(double));
        nde_solver_destroy(&s);
    }
    cr_assert_eq(memcmp(gth[0], gth[1], sizeof gth[0]), 0);
    cr_assert_eq(memcmp(gu[0], gu[1], sizeof gu[0]), 0);
    cr_assert(tape_bytes[1] * 14 == tape_bytes[0]);
    cr_assert(peak[0] > tape_bytes[0] && peak[1] > tape_bytes[1]);
    cr_assert_eq(vjps[0], vjps[1]);
    cr_assert_eq(renfe[0], 0);
    cr_assert(renfe[1] > 0);
}

/* A field that records its evaluations (f_rec/vjp_rec) must give the same bits as one
 * that recomputes, in every tape mode, without recomputing forward passes from the
 * stored stages. */
Test(adjoint, recording_fields_give_identical_gradients)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field plain = tanh_field(&c), recf = plain;
    recf.rec_size = D;
    recf.f_rec = tanh_f_rec;
    recf.vjp_rec = tanh_vjp_rec;
    double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1}, traj[NT * B * D], g[NT * B * D];
    for (int i = 0; i < NT * B * D; i++) g[i] = 0.3 - 0.05 * i;
    const nde_tape modes[2] = {NDE_TAPE_STAGES, NDE_TAPE_STEP_STARTS};
    const nde_method ms[3] = {NDE_TSIT5, NDE_DOPRI5, NDE_RK4};
    for (int mi = 0; mi < 3; mi++)
        for (int k = 0; k < 2; k++) {
            double gth[2][NP] = {{0}}, gu[2][B * D];
            size_t tape_bytes[2];
            for (int r = 0; r < 2; r++) {
                nde_solver_opts o = nde_solver_defaults(ms[mi]);
                o.tape = modes[k];
                if (ms[mi] == NDE_RK4) o.h0 = 0.2;
                nde_solver *s;
                CHECK(nde_solver_create(NULL, r ? &recf : &plain, &o, &s));
                CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
                CHECK(nde_adjoint_discrete(s, g, gth[r], NP, gu[r]));
                tape_bytes[r] = nde_solver_get_stats(s)->tape_bytes;
                nde_solver_destroy(&s);
            }
            cr_assert_eq(memcmp(gth[0], gth[1], sizeof gth[0]), 0, "%s tape %d",
                         nde_method_name(ms[mi]), k);
            cr_assert_eq(memcmp(gu[0], gu[1], sizeof gu[0]), 0);
            if (modes[k] == NDE_TAPE_STAGES)
                cr_assert(tape_bytes[1] > tape_bytes[0]); /* records are on the tape */
            else
                cr_assert_eq(tape_bytes[1], tape_bytes[0]);
        }
    /* half a pair is refused */
    nde_field half = plain;
    half.f_rec = tanh_f_rec;
    half.rec_size = D;
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    nde_solver *s;
    cr_assert_eq(nde_solver_create(NULL, &half, &o, &s), NDE_ERR_ARG);
    recf.rec_size = 0;
    cr_assert_eq(nde_solver_create(NULL, &recf, &o, &s), NDE_ERR_ARG);
}

Test(adjoint, accumulates_into_grad_theta_and_allows_null_outputs)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.tape = NDE_TAPE_STAGES;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1}, traj[NT * B * D], g[NT * B * D];
    for (int i = 0; i < NT * B * D; i++) g[i] = 0.1 * i;
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    double once[NP] = {0}, twice[NP] = {0};
    CHECK(nde_adjoint_discrete(s, g, once, NP, NULL));
    CHECK(nde_adjoint_discrete(s, g, twice, NP, NULL));
    CHECK(nde_adjoint_discrete(s, g, twice, NP, NULL));
    for (int i = 0; i < NP; i++) cr_assert(fabs(twice[i] - 2 * once[i]) <= 1e-12 * fabs(once[i]) + 1e-300);
    double gu[B * D];
    CHECK(nde_adjoint_discrete(s, g, NULL, 0, gu));
    nde_solver_destroy(&s);
}

Test(adjoint, misuse_returns_status)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    double u0[B * D] = {0}, traj[NT * B * D], g[NT * B * D] = {0}, gth[NP] = {0};
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    cr_assert_eq(nde_adjoint_discrete(s, g, gth, NP, NULL), NDE_ERR_STATE); /* no solve yet */
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    cr_assert_eq(nde_adjoint_discrete(s, g, gth, NP, NULL), NDE_ERR_STATE); /* no tape */
    cr_assert(strstr(nde_last_error(), "tape") != NULL);
    nde_solver_destroy(&s);
    o.tape = NDE_TAPE_STAGES;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    cr_assert_eq(nde_adjoint_discrete(s, g, gth, NP + 1, NULL), NDE_ERR_SHAPE);
    cr_assert_eq(nde_adjoint_discrete(s, NULL, gth, NP, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_adjoint_discrete(NULL, g, gth, NP, NULL), NDE_ERR_ARG);
    /* a failed solve leaves nothing to differentiate */
    double bad_ts[2] = {1.0, 0.5 - 0.5};
    u0[0] = NAN;
    cr_assert_eq(nde_solve(s, B, D, u0, 2, bad_ts, traj), NDE_ERR_NONFINITE);
    cr_assert_eq(nde_adjoint_discrete(s, g, gth, NP, NULL), NDE_ERR_STATE);
    nde_solver_destroy(&s);
}

/* opts.tape_max_bytes bounds tape and step log together: with exactly the bytes a solve
 * records it succeeds with the unlimited solve's bits; one byte less fails with
 * NDE_ERR_LIMIT at the last step, naming the bytes and the option, and never holds more
 * than the limit. */
Test(adjoint, tape_memory_cap_is_a_status_not_a_blowup)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1}, g[NT * B * D];
    for (int i = 0; i < NT * B * D; i++) g[i] = 1.0 / (1 + i);
    const nde_tape modes[4] = {NDE_TAPE_STAGES, NDE_TAPE_STEP_STARTS, NDE_TAPE_CHECKPOINT,
                               NDE_TAPE_NONE};
    cr_assert_str_eq(nde_status_str(NDE_ERR_LIMIT), "resource limit exceeded");
    for (int k = 0; k < 4; k++) {
        double traj_ref[NT * B * D], traj[NT * B * D], gth_ref[NP] = {0}, gth[NP] = {0};
        nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
        o.tape = modes[k];
        o.checkpoint_every = 3;
        o.tape_max_bytes = SIZE_MAX;
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        CHECK(nde_solve(s, B, D, u0, NT, ts, traj_ref));
        if (o.tape != NDE_TAPE_NONE) CHECK(nde_adjoint_discrete(s, g, gth_ref, NP, NULL));
        size_t n_steps, tape = nde_solver_get_stats(s)->tape_bytes;
        nde_solver_steps(s, &n_steps);
        nde_solver_destroy(&s);
        cr_assert(n_steps >= 4 && (tape > 0) == (o.tape != NDE_TAPE_NONE));
        size_t exact = n_steps * sizeof(nde_step_rec) + tape;

        o.tape_max_bytes = exact; /* just enough */
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
        cr_assert_eq(memcmp(traj, traj_ref, sizeof traj), 0);
        cr_assert_eq(nde_solver_get_stats(s)->tape_bytes, tape);
        if (o.tape != NDE_TAPE_NONE) {
            CHECK(nde_adjoint_discrete(s, g, gth, NP, NULL));
            cr_assert_eq(memcmp(gth, gth_ref, sizeof gth), 0);
        }
        nde_solver_destroy(&s);

        o.tape_max_bytes = exact - 1; /* one byte short */
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        cr_assert_eq(nde_solve(s, B, D, u0, NT, ts, traj), NDE_ERR_LIMIT, "mode %d", k);
        char want[64];
        snprintf(want, sizeof want, "recording step %zu ", n_steps - 1);
        cr_assert(strstr(nde_last_error(), want), "%s", nde_last_error());
        snprintf(want, sizeof want, "needs %zu bytes", exact);
        cr_assert(strstr(nde_last_error(), want), "%s", nde_last_error());
        cr_assert(strstr(nde_last_error(), "raise nde_solver_opts.tape_max_bytes"));
        size_t held;
        nde_solver_steps(s, &held);
        cr_assert_eq(held, n_steps - 1);
        cr_assert(nde_solver_get_stats(s)->tape_bytes <= exact - 1);
        if (o.tape != NDE_TAPE_NONE)
            cr_assert_eq(nde_adjoint_discrete(s, g, gth, NP, NULL), NDE_ERR_STATE);
        nde_solver_destroy(&s);

        o.tape_max_bytes = 0; /* default: half the RAM, plenty here */
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
        cr_assert_eq(memcmp(traj, traj_ref, sizeof traj), 0);
        nde_solver_destroy(&s);
    }
}

/* du/dt = -λ u with λ = 1e6: stiff, so an explicit method creeps at h ≈ 3/λ. */
static nde_status stiff_decay(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t i = 0; i < batch; i++) du[i] = -1e6 * u[i];
    return NDE_OK;
}

static nde_status stiff_decay_vjp(void *ctx, double t, const double *u, const double *v,
                                  double *vu, double *gtheta, size_t batch)
{
    (void)ctx, (void)t, (void)u, (void)gtheta;
    if (vu)
        for (size_t i = 0; i < batch; i++) vu[i] = -1e6 * v[i];
    return NDE_OK;
}

/* A solve whose pace (steps per length of the interval covered) says its tape will not
 * fit stops once it holds a sixteenth of the limit, not when the limit is full: the
 * message names the projected steps and what to change. The same field on a short
 * interval that fits is solved as before. */
Test(adjoint, a_solve_that_cannot_fit_stops_at_a_sixteenth_of_the_cap)
{
    nde_field f = {.dim = 1, .n_params = 0, .f = stiff_decay, .vjp = stiff_decay_vjp};
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.tape = NDE_TAPE_STAGES;
    o.tape_max_bytes = 1 << 20;
    o.max_steps = 10000000;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0 = 1.0, ts[2] = {0.0, 1.0}, traj[2];
    cr_assert_eq(nde_solve(s, 1, 1, &u0, 2, ts, traj), NDE_ERR_LIMIT, "%s", nde_last_error());
    const char *m = nde_last_error();
    cr_assert(strstr(m, "at this pace it needs about") && strstr(m, "implicit method") &&
              strstr(m, "raise nde_solver_opts.tape_max_bytes"), "%s", m);
    size_t held;
    nde_solver_steps(s, &held);
    /* ~300k steps are needed; the 1 MiB cap holds ~7000; it stops at a sixteenth (~450) */
    cr_assert(held > 0 && nde_solver_get_stats(s)->tape_bytes <= (1u << 20) / 8, "%zu steps",
              held);
    /* 1/100 of the interval (~3000 steps) fits: solved, to exp(-1e4) = 0 (underflow) */
    ts[1] = 1e-2;
    CHECK(nde_solve(s, 1, 1, &u0, 2, ts, traj));
    cr_assert(fabs(traj[1]) < 1e-6, "%g", traj[1]);
    nde_solver_destroy(&s);
}
