/* Continuous adjoints (backsolve, interpolating, CVODES) and the discrete adjoint in every
 * memory mode, on a smooth non-stiff problem: all agree with each other and with central
 * finite differences of a tightly solved flow, to tolerances consistent with the solver
 * tolerances (docs/adjoints.md); the local regularizer after a CVODES solve; misuse and
 * backward-solve failures as statuses. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fields.h"
#include "gradcheck.h"
#include "nde/nde.h"
#include "numcheck.h"
#include "nde/reg.h"
#include "nde_config.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

enum { D = 3, B = 2, NP = D * D + 2 * D, NT = 5, NX = NP + B * D };

static const double ts[NT] = {0.0, 0.4, 1.1, 1.7, 2.5};
static const double u0_init[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1};
static double theta[NP];
static tanh_ctx tc = {.d = D, .theta = theta};
static nde_ctx *ctx;

static void setup(void)
{
    nde_rng r;
    nde_rng_seed(&r, 11);
    for (int i = 0; i < NP; i++) theta[i] = 0.6 * nde_rng_normal(&r);
    CHECK(nde_ctx_create(&ctx));
}
static void teardown(void) { nde_ctx_destroy(&ctx); }

static void init_g(double *g)
{
    nde_rng r;
    nde_rng_seed(&r, 5);
    for (int i = 0; i < NT * B * D; i++) g[i] = nde_rng_normal(&r);
}

/* Gradient [∂L/∂θ, ∂L/∂u0] of the exact flow by central differences of DOPRI5 solves
 * at rtol 1e-12 (the flow's truncation error there is far below the FD error ~1e-9). */
static void reference_gradient(double *ref)
{
    nde_field f = tanh_field(&tc);
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-12;
    o.atol = 1e-14;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[B * D], traj[NT * B * D], g[NT * B * D];
    memcpy(u0, u0_init, sizeof u0);
    init_g(g);
    gc_solve_loss sl = {.s = s, .batch = B, .dim = D, .nt = NT, .ts = ts, .u0 = u0, .traj = traj,
                        .g = g};
    gc_fd_gradient(theta, NP, 1e-5, GC_CENTRAL2, gc_solve_loss_eval, &sl, ref);
    gc_fd_gradient(u0, B * D, 1e-5, GC_CENTRAL2, gc_solve_loss_eval, &sl, ref + NP);
    nde_solver_destroy(&s);
}

typedef enum kind { DISCRETE, BACKSOLVE, INTERPOLATING, CVODES } kind;

typedef struct grad_case {
    const char *name;
    kind k;
    nde_method m;
    nde_tape tape;
    size_t every, slots;
    nde_method adj_method; /* 0: defaults */
} grad_case;

/* Forward at rtol 1e-8, adjoint at rtol 1e-8: returns [∂L/∂θ, ∂L/∂u0] in out. */
static void gradient(grad_case c, double *out)
{
    nde_field f = tanh_field(&tc);
    f.jvp = tanh_jvp;
    nde_solver_opts o = nde_solver_defaults(c.m);
    o.rtol = 1e-8;
    o.atol = 1e-10;
    o.tape = c.tape;
    o.checkpoint_every = c.every;
    o.checkpoint_slots = c.slots;
    if (c.k == CVODES) o.cvodes_adj_steps = 25;
    nde_solver *s;
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    double traj[NT * B * D], g[NT * B * D];
    init_g(g);
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    nde_cont_adjoint_opts ao = nde_cont_adjoint_defaults(s);
    if (c.adj_method) ao.method = c.adj_method;
    memset(out, 0, NP * sizeof *out);
    switch (c.k) {
    case DISCRETE: CHECK(nde_adjoint_discrete(s, g, out, NP, out + NP)); break;
    case BACKSOLVE: CHECK(nde_adjoint_backsolve(s, traj, g, out, NP, out + NP, &ao)); break;
    case INTERPOLATING:
        CHECK(nde_adjoint_interpolating(s, traj, g, out, NP, out + NP, &ao));
        break;
    case CVODES: CHECK(nde_adjoint_cvodes(s, g, out, NP, out + NP, NULL)); break;
    }
    const nde_solver_stats *st = nde_solver_get_stats(s);
    cr_log_info("%-26s steps %4zu  vjp %6zu  adjoint nfe %6zu  recomputed %4zu  states %5zu  "
                "bytes %zu",
                c.name, st->n_accepted, st->n_vjp, st->n_adjoint_nfe, st->n_recomputed_steps,
                st->adjoint_max_states, st->adjoint_peak_bytes);
    cr_expect(st->n_vjp > 0);
    /* a second call reuses the cached backward solvers and repeats the bits */
    if (c.k != DISCRETE) {
        double again[NX] = {0};
        if (c.k == BACKSOLVE) CHECK(nde_adjoint_backsolve(s, traj, g, again, NP, again + NP, &ao));
        if (c.k == INTERPOLATING)
            CHECK(nde_adjoint_interpolating(s, traj, g, again, NP, again + NP, &ao));
        if (c.k == CVODES) CHECK(nde_adjoint_cvodes(s, g, again, NP, again + NP, NULL));
        cr_expect(memcmp(again, out, sizeof again) == 0, "%s: repeated call differs", c.name);
    }
    nde_solver_destroy(&s);
}

TestSuite(adjoint_cont, .init = setup, .fini = teardown);

Test(adjoint_cont, every_gradient_method_agrees_with_finite_differences_and_each_other)
{
    const grad_case cases[] = {
        {"discrete stages", DISCRETE, NDE_TSIT5, NDE_TAPE_STAGES, 0, 0, 0},
        {"discrete step starts", DISCRETE, NDE_TSIT5, NDE_TAPE_STEP_STARTS, 0, 0, 0},
        {"discrete every 4", DISCRETE, NDE_TSIT5, NDE_TAPE_CHECKPOINT, 4, 0, 0},
        {"discrete binomial", DISCRETE, NDE_TSIT5, NDE_TAPE_CHECKPOINT, 0, 0, 0},
        {"discrete dopri5", DISCRETE, NDE_DOPRI5, NDE_TAPE_STAGES, 0, 0, 0},
        {"backsolve tsit5", BACKSOLVE, NDE_TSIT5, NDE_TAPE_NONE, 0, 0, 0},
        {"backsolve dopri5/bs3", BACKSOLVE, NDE_DOPRI5, NDE_TAPE_NONE, 0, 0, NDE_BS3},
        {"interpolating tsit5", INTERPOLATING, NDE_TSIT5, NDE_TAPE_NONE, 0, 0, 0},
#if NDE_HAVE_SUNDIALS
        {"backsolve cvode_bdf", BACKSOLVE, NDE_CVODE_BDF, NDE_TAPE_NONE, 0, 0, 0},
        {"interpolating cvode/tsit5", INTERPOLATING, NDE_CVODE_BDF, NDE_TAPE_NONE, 0, 0, NDE_TSIT5},
        {"cvodes bdf", CVODES, NDE_CVODE_BDF, NDE_TAPE_NONE, 0, 0, 0},
        {"cvodes adams", CVODES, NDE_CVODE_ADAMS, NDE_TAPE_NONE, 0, 0, 0},
#endif
    };
    enum { NC = sizeof cases / sizeof cases[0] };
    double ref[NX], grads[NC][NX];
    reference_gradient(ref);
    for (int i = 0; i < NC; i++) {
        gradient(cases[i], grads[i]);
        /* forward and adjoint rtol 1e-8: the exact flow's gradient to ~1e-6 relative
         * (global errors of a few hundred local tolerances), FD error ~1e-9 */
        double e = gc_expect_close(grads[i], ref, NX, gc_l2(1e-5), "%s [θ, u0]", cases[i].name);
        cr_log_info("%-26s rel err vs finite differences %.2e", cases[i].name, e);
    }
    /* store-everything and memory-bounded discrete modes are the same computation */
    for (int i = 1; i < 4; i++)
        cr_expect(memcmp(grads[i], grads[0], sizeof grads[0]) == 0, "%s differs from stages",
                  cases[i].name);
    /* the continuous methods agree with the discrete one to the same tolerance */
    for (int i = 5; i < NC; i++) {
        double e = rel_err(grads[i], grads[0], NX);
        cr_expect(e <= 1e-5, "%s vs discrete: %.3e", cases[i].name, e);
    }
}

Test(adjoint_cont, error_falls_with_the_tolerance)
{
    double ref[NX], g[NT * B * D], traj[NT * B * D];
    reference_gradient(ref);
    init_g(g);
    nde_field f = tanh_field(&tc);
    double errs[3][2];
    const int n_kinds = NDE_HAVE_SUNDIALS ? 3 : 2;
    for (int ti = 0; ti < 2; ti++) {
        double rtol = ti == 0 ? 1e-3 : 1e-8;
        for (int k = 0; k < n_kinds; k++) {
            nde_solver_opts o = nde_solver_defaults(k == 2 ? NDE_CVODE_BDF : NDE_TSIT5);
            o.rtol = rtol;
            o.atol = rtol * 1e-2;
            o.cvodes_adj_steps = k == 2 ? 10 : 0;
            nde_solver *s;
            CHECK(nde_solver_create(ctx, &f, &o, &s));
            CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
            double gr[NX] = {0};
            if (k == 0) CHECK(nde_adjoint_backsolve(s, traj, g, gr, NP, gr + NP, NULL));
            if (k == 1) CHECK(nde_adjoint_interpolating(s, traj, g, gr, NP, gr + NP, NULL));
            if (k == 2) CHECK(nde_adjoint_cvodes(s, g, gr, NP, gr + NP, NULL));
            errs[k][ti] = rel_err(gr, ref, NX);
            nde_solver_destroy(&s);
        }
    }
    const char *names[3] = {"backsolve", "interpolating", "cvodes"};
    for (int k = 0; k < n_kinds; k++) {
        cr_log_info("%s: rel err %.2e at rtol 1e-3, %.2e at rtol 1e-8", names[k], errs[k][0],
                    errs[k][1]);
        cr_expect(errs[k][1] < 1e-2 * errs[k][0], "%s: %.3e at 1e-8 vs %.3e at 1e-3", names[k],
                  errs[k][1], errs[k][0]);
        cr_expect(errs[k][1] < 1e-6, "%s: %.3e at rtol 1e-8", names[k], errs[k][1]);
    }
}

#if NDE_HAVE_SUNDIALS
/* Local regularization (Pal et al. 2023) after a CVODES solve whose gradient comes from
 * the CVODES adjoint: t_reg is added to the save times, u(t_reg) is read from traj, and
 * the two gradients add up; the sum is checked against finite differences of L (flow)
 * plus finite differences of R with u(t_reg) and k1 held fixed (the method's gradient). */
/* R(θ) of a local regularizer at fixed t_reg, u(t_reg), k1 and dt. */
typedef struct local_reg_at {
    nde_local_reg *lr;
    double t_reg, dt;
    const double *u, *k1;
} local_reg_at;

static double local_reg_value(void *ctx)
{
    local_reg_at *c = ctx;
    nde_local_reg_result rr;
    CHECK(nde_local_reg_eval(c->lr, B, c->t_reg, c->u, c->k1, ts[NT - 1], c->dt, NULL, NULL, &rr));
    return rr.value;
}

Test(adjoint_cont, local_regularizer_after_cvodes_solve_and_continuous_adjoint)
{
    nde_field f = tanh_field(&tc);
    nde_local_reg_spec spec = {.kind = NDE_REG_ERROR_EST, .sampling = NDE_LOCAL_UNBIASED,
                               .coef = 0.7, .atol = 1e-6, .rtol = 1e-4, .seed = 9};
    nde_local_reg *lr;
    CHECK(nde_local_reg_create(&f, B, &spec, &lr));
    double t_reg, ts2[NT + 1];
    size_t nt2, idx;
    CHECK(nde_local_reg_draw_time(lr, ts[0], ts[NT - 1], &t_reg));
    CHECK(nde_reg_insert_time(ts, NT, t_reg, ts2, &nt2, &idx));
    nde_solver_opts o = nde_solver_defaults(NDE_CVODE_BDF);
    o.rtol = 1e-9;
    o.atol = 1e-11;
    o.cvodes_adj_steps = 20;
    nde_solver *s;
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    double traj[(NT + 1) * B * D], g2[(NT + 1) * B * D] = {0}, g[NT * B * D];
    init_g(g);
    /* the loss ignores the inserted row */
    for (size_t k = 0, j = 0; k < nt2; k++)
        if (nt2 == NT || k != idx) memcpy(g2 + k * B * D, g + (j++) * B * D, B * D * sizeof *g);
    CHECK(nde_solve(s, B, D, u0_init, nt2, ts2, traj));
    double ureg[B * D];
    memcpy(ureg, traj + idx * B * D, sizeof ureg);
    double grad[NP] = {0}, k1[B * D];
    CHECK(nde_adjoint_cvodes(s, g2, grad, NP, NULL, NULL));
    /* the reference holds u(t_reg) and k1 = f(t_reg, u) constant */
    CHECK(f.f(f.ctx, t_reg, ureg, k1, B));
    nde_local_reg_result res;
    CHECK(nde_local_reg_eval(lr, B, t_reg, ureg, k1, ts[NT - 1], 0.0, grad, NULL, &res));
    cr_assert(res.value > 0 && res.dt != 0);
    /* finite differences: L with the flow (step 1e-5), R at fixed u(t_reg), k1 and dt
     * (step 1e-8: with k1 frozen, R(θ) = λ E |dt| loses the embedded estimate's
     * cancellation and curves sharply) */
    double fd[NP], fd_r[NP], u0[B * D];
    memcpy(u0, u0_init, sizeof u0);
    gc_solve_loss sl = {.s = s, .batch = B, .dim = D, .nt = nt2, .ts = ts2, .u0 = u0,
                        .traj = traj, .g = g2};
    local_reg_at lra = {.lr = lr, .t_reg = t_reg, .u = ureg, .k1 = k1, .dt = res.dt};
    gc_fd_gradient(theta, NP, 1e-5, GC_CENTRAL2, gc_solve_loss_eval, &sl, fd);
    gc_fd_gradient(theta, NP, 1e-8, GC_CENTRAL2, local_reg_value, &lra, fd_r);
    for (int i = 0; i < NP; i++) fd[i] += fd_r[i];
    double e = gc_expect_close(grad, fd, NP, gc_l2(1e-5), "CVODES adjoint + local regularizer");
    cr_log_info("local reg after CVODES: t_reg %.4f dt %.3g R %.3e, rel err %.2e", t_reg, res.dt,
                res.value, e);
    nde_local_reg_destroy(&lr);
    nde_solver_destroy(&s);
}

#endif

Test(adjoint_cont, misuse_and_backward_failures_are_statuses)
{
    nde_field f = tanh_field(&tc);
    double traj[NT * B * D], g[NT * B * D], gth[NP];
    init_g(g);
    nde_solver *s;
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    cr_expect_eq(nde_adjoint_backsolve(s, traj, g, gth, NP, NULL, NULL), NDE_ERR_STATE);
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    cr_expect_eq(nde_adjoint_backsolve(s, NULL, g, gth, NP, NULL, NULL), NDE_ERR_ARG);
    cr_expect_eq(nde_adjoint_interpolating(s, traj, NULL, gth, NP, NULL, NULL), NDE_ERR_ARG);
    cr_expect_eq(nde_adjoint_backsolve(s, traj, g, gth, NP + 1, NULL, NULL), NDE_ERR_SHAPE);
    cr_expect_eq(nde_adjoint_cvodes(s, g, gth, NP, NULL, NULL), NDE_ERR_UNSUPPORTED);
    nde_cont_adjoint_opts ao = nde_cont_adjoint_defaults(s);
    ao.rtol = -1;
    cr_expect_eq(nde_adjoint_backsolve(s, traj, g, gth, NP, NULL, &ao), NDE_ERR_ARG);
    ao = nde_cont_adjoint_defaults(s);
    ao.max_steps = 2; /* the backward solve runs out of steps */
    cr_expect_eq(nde_adjoint_backsolve(s, traj, g, gth, NP, NULL, &ao), NDE_ERR_MAX_STEPS);
    cr_expect_eq(nde_adjoint_interpolating(s, traj, g, gth, NP, NULL, &ao), NDE_ERR_MAX_STEPS);
    nde_solver_destroy(&s);
    /* a field without vjp */
    nde_field nv = f;
    nv.vjp = NULL;
    CHECK(nde_solver_create(ctx, &nv, &o, &s));
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    cr_expect_eq(nde_adjoint_backsolve(s, traj, g, NULL, 0, NULL, NULL), NDE_ERR_ARG);
    nde_solver_destroy(&s);
#if NDE_HAVE_SUNDIALS
    /* CVODES without checkpoints */
    o = nde_solver_defaults(NDE_CVODE_BDF);
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    cr_expect_eq(nde_adjoint_cvodes(s, g, gth, NP, NULL, NULL), NDE_ERR_STATE);
    nde_solver_destroy(&s);
    /* CVodeB running out of steps: SUNDIALS' "too much work" as a status with its text */
    o.cvodes_adj_steps = 5;
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    ao = nde_cont_adjoint_defaults(s);
    ao.max_steps = 2;
    nde_status st = nde_adjoint_cvodes(s, g, gth, NP, NULL, &ao);
    cr_expect_eq(st, NDE_ERR_MAX_STEPS, "got %s: %s", nde_status_str(st), nde_last_error());
    cr_log_info("CVodeB too much work: %s", nde_last_error());
    nde_solver_destroy(&s);
#endif
}
