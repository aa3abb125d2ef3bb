/* Regularizers: the gradient of every global regularizer (error and stiffness estimates
 * with each aggregation, kinetic energy, Hutchinson Jacobian norm), of user-written ones
 * through the ops table (nde_reg_create_ops), and of the local one
 * against central finite differences of the same discrete computation (frozen steps,
 * fixed dt and k1); the local gradient's independence from the main adjoint; biased and
 * unbiased sampling; STEER; degenerate estimates; and every bad-input path. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fields.h"
#include "gradcheck.h"
#include "nde/nde.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

enum { D = 3, B = 2, N = B * D, NP = D * D + 2 * D, NT = 4 };

static const double ts[NT] = {0.0, 0.45, 1.2, 2.0};
static const double u0_init[N] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1};

static void init_theta(double *theta, double scale)
{
    nde_rng r;
    nde_rng_seed(&r, 11);
    for (int i = 0; i < NP; i++) theta[i] = scale * nde_rng_normal(&r);
}

/* The finite differences below use the fourth-order stencil: the estimates are small
 * differences of stage values, so a larger step with a higher-order stencil keeps both
 * truncation and rounding far below the 1e-6 tolerance. */

/* Second-order product of the test field f = tanh(W u + b + t c) for the Jacobian
 * regularizer: with z = tanh(a), s = 1 − z², Q = Σ_b ε_bᵀ J w_b = Σ_i ε_i s_i (W w)_i, so
 * ∂Q/∂a_i = −2 z_i s_i ε_i (W w)_i =: g_i, ∂Q/∂u = Wᵀ g, ∂Q/∂W_ij = g_i u_j + ε_i s_i w_j,
 * ∂Q/∂b = g, ∂Q/∂c = t g. */
static nde_status tanh_jac_grad(void *ctx, double t, const double *u, const double *eps,
                                const double *w, double *ubar, double *gtheta, size_t batch)
{
    tanh_ctx *c = ctx;
    size_t d = c->d;
    const double *W = c->theta;
    for (size_t s = 0; s < batch; s++) {
        const double *us = u + s * d, *es = eps + s * d, *ws = w + s * d;
        double z[64], g[64];
        tanh_f(ctx, t, us, z, 1);
        for (size_t i = 0; i < d; i++) {
            double p = 0.0;
            for (size_t j = 0; j < d; j++) p += W[i * d + j] * ws[j];
            g[i] = -2.0 * z[i] * (1.0 - z[i] * z[i]) * es[i] * p;
        }
        for (size_t j = 0; j < d; j++)
            for (size_t i = 0; i < d; i++) ubar[s * d + j] += W[i * d + j] * g[i];
        if (gtheta)
            for (size_t i = 0; i < d; i++) {
                double es_s = es[i] * (1.0 - z[i] * z[i]);
                for (size_t j = 0; j < d; j++)
                    gtheta[i * d + j] += g[i] * us[j] + es_s * ws[j];
                gtheta[d * d + i] += g[i];
                gtheta[d * d + d + i] += g[i] * t;
            }
    }
    return NDE_OK;
}

/* A solve of the tanh field with a tape, and L + R evaluated with the steps frozen. */
typedef struct problem {
    double theta[NP];
    tanh_ctx c;
    nde_field f;
    nde_solver *s;
    nde_reg *reg;
    double u0[N];
    double traj[NT * N];
    double g[NT * N]; /* L = Σ g·traj; all zero: R alone */
} problem;

static void problem_init(problem *p, nde_method m, double theta_scale, int with_loss,
                         double rtol)
{
    memset(p, 0, sizeof *p);
    init_theta(p->theta, theta_scale);
    p->c = (tanh_ctx){.d = D, .theta = p->theta};
    p->f = tanh_field(&p->c);
    nde_solver_opts o = nde_solver_defaults(m);
    o.rtol = rtol;
    o.atol = 1e-2 * rtol;
    o.tape = NDE_TAPE_STAGES;
    CHECK(nde_solver_create(NULL, &p->f, &o, &p->s));
    memcpy(p->u0, u0_init, sizeof p->u0);
    nde_rng r;
    nde_rng_seed(&r, 3);
    if (with_loss)
        for (int i = 0; i < NT * N; i++) p->g[i] = nde_rng_normal(&r);
}

static double objective(void *ctx)
{
    problem *p = ctx;
    CHECK(nde_solve(p->s, B, D, p->u0, NT, ts, p->traj));
    double l = 0.0, r = 0.0;
    for (int i = 0; i < NT * N; i++) l += p->g[i] * p->traj[i];
    CHECK(nde_adjoint_discrete_reg(p->s, NULL, p->reg, NULL, 0, NULL, &r));
    return l + r;
}

/* Gradient of L + R by the regularized adjoint vs central differences (frozen steps).
 * from_log: the regularizer's value also comes from the step log (nde_reg_value). */
static void check_reg(nde_reg *reg, nde_method m, int with_loss, int from_log, const char *what)
{
    problem p;
    problem_init(&p, m, 0.8, with_loss, 1e-3);
    p.reg = reg;
    CHECK(nde_solve(p.s, B, D, p.u0, NT, ts, p.traj));
    size_t nsteps;
    nde_solver_steps(p.s, &nsteps);
    cr_assert(nsteps >= 4, "want a multi-step solve, got %zu steps", nsteps);
    double gth[NP] = {0}, gu0[N], value;
    CHECK(nde_adjoint_discrete_reg(p.s, with_loss ? p.g : NULL, reg, gth, NP, gu0, &value));
    cr_assert(value > 0.0 && isfinite(value), "%s: R = %g", what, value);
    if (from_log) {
        double v2;
        CHECK(nde_reg_value(reg, p.s, &v2));
        cr_assert_eq(v2, value, "%s: nde_reg_value %.17g vs adjoint %.17g", what, v2, value);
    }

    CHECK(nde_solver_freeze_steps(p.s));
    double eth = gc_check(p.theta, NP, 1e-4, GC_CENTRAL4, objective, &p, gth, gc_l2(1e-6),
                          "%s: theta", what);
    double eu = gc_check(p.u0, N, 1e-4, GC_CENTRAL4, objective, &p, gu0, gc_l2(1e-6),
                         "%s: u0", what);
    cr_log_info("%s (%s, %zu steps): R = %.6g, rel err theta %.2e u0 %.2e", what,
                nde_method_name(m), nsteps, value, eth, eu);
    nde_solver_destroy(&p.s);
}

static void check_global(const nde_reg_spec *spec, nde_method m, int with_loss, const char *what)
{
    nde_reg *reg;
    CHECK(nde_reg_create(spec, &reg));
    if (spec->kind == NDE_REG_JACOBIAN) {
        nde_rng r;
        nde_rng_seed(&r, 5);
        CHECK(nde_reg_draw_probe(reg, &r, N));
    }
    check_reg(reg, m, with_loss,
              spec->kind == NDE_REG_ERROR_EST || spec->kind == NDE_REG_STIFF_EST, what);
    nde_reg_destroy(&reg);
}

Test(reg_global, error_estimate_sum_and_mean_match_finite_differences)
{
    nde_reg_spec sum = nde_reg_error_estimate(1.0), mean = nde_reg_error_estimate_mean(3.0);
    check_global(&sum, NDE_TSIT5, 0, "error sum");
    check_global(&mean, NDE_TSIT5, 0, "error mean");
    check_global(&sum, NDE_DOPRI5, 0, "error sum");
    check_global(&sum, NDE_BS3, 0, "error sum");
    check_global(&sum, NDE_TSIT5, 1, "loss + error sum");
}

Test(reg_global, stiffness_sum_and_max_match_finite_differences)
{
    nde_reg_spec sum = nde_reg_stiffness(0.5), max = nde_reg_stiffness_max(2.0);
    check_global(&sum, NDE_TSIT5, 0, "stiffness sum");
    check_global(&max, NDE_TSIT5, 0, "stiffness max");
    check_global(&sum, NDE_DOPRI5, 1, "loss + stiffness sum");
}

Test(reg_global, kinetic_and_jacobian_match_finite_differences)
{
    nde_reg_spec kin = nde_reg_kinetic(2.0), jac = nde_reg_jacobian(1.5, tanh_jac_grad);
    check_global(&kin, NDE_TSIT5, 0, "kinetic");
    check_global(&jac, NDE_TSIT5, 0, "jacobian");
    check_global(&jac, NDE_BS3, 1, "loss + jacobian");
}

/* Independent values: the sum regularizer equals λ Σ E_j |h_j| from the step log, the
 * mean one that over N, and the kinetic integral of a constant field is exact. */
Test(reg_global, values_match_their_definitions)
{
    problem p;
    problem_init(&p, NDE_TSIT5, 0.8, 0, 1e-5);
    CHECK(nde_solve(p.s, B, D, p.u0, NT, ts, p.traj));
    size_t ns;
    const nde_step_rec *st = nde_solver_steps(p.s, &ns);
    double sum_e = 0.0, sum_s = 0.0, max_s = 0.0;
    for (size_t j = 0; j < ns; j++) {
        sum_e += st[j].err_est * fabs(st[j].h);
        sum_s += st[j].stiff_est * fabs(st[j].h);
        max_s = fmax(max_s, st[j].stiff_est);
    }
    nde_reg_spec specs[4] = {nde_reg_error_estimate(2.0), nde_reg_error_estimate_mean(2.0),
                             nde_reg_stiffness(2.0), nde_reg_stiffness_max(2.0)};
    double want[4] = {2.0 * sum_e, 2.0 * sum_e / (double)ns, 2.0 * sum_s, 2.0 * max_s / 3.5068};
    for (int i = 0; i < 4; i++) {
        nde_reg *reg;
        CHECK(nde_reg_create(&specs[i], &reg));
        double v;
        CHECK(nde_reg_value(reg, p.s, &v));
        cr_expect(fabs(v - want[i]) <= 1e-14 * fabs(want[i]), "spec %d: %.17g vs %.17g", i, v,
                  want[i]);
        nde_reg_destroy(&reg);
    }
    nde_solver_destroy(&p.s);

    /* f = tanh(b) constant: ∫_0^2 ½ mean(f²) dt = ½·2·mean(tanh(b)²) for any quadrature */
    double theta[NP] = {0};
    theta[D * D + 0] = 0.3, theta[D * D + 1] = -0.7, theta[D * D + 2] = 1.2;
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.tape = NDE_TAPE_STEP_STARTS;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double traj[NT * N];
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    nde_reg_spec ks = nde_reg_kinetic(1.0);
    nde_reg *kin;
    CHECK(nde_reg_create(&ks, &kin));
    double v, m2 = 0.0;
    CHECK(nde_adjoint_discrete_reg(s, NULL, kin, NULL, 0, NULL, &v));
    for (int i = 0; i < D; i++) m2 += tanh(theta[D * D + i]) * tanh(theta[D * D + i]) / D;
    cr_expect(fabs(v - 0.5 * 2.0 * m2) <= 1e-13, "kinetic %.17g vs %.17g", v, m2);
    nde_reg_destroy(&kin);
    nde_solver_destroy(&s);
}

/* f ≡ 0 (θ = 0): E = 0 and S = 0/0 on every step. The gradients must be finite zeros. */
Test(reg_global, zero_estimates_give_zero_not_nan_gradients)
{
    double theta[NP] = {0};
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.tape = NDE_TAPE_STAGES;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double traj[NT * N];
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    nde_reg_spec specs[4] = {nde_reg_error_estimate(1.0), nde_reg_error_estimate_mean(1.0),
                             nde_reg_stiffness(1.0), nde_reg_stiffness_max(1.0)};
    for (int i = 0; i < 4; i++) {
        nde_reg *reg;
        CHECK(nde_reg_create(&specs[i], &reg));
        double gth[NP] = {0}, gu[N], v = -1.0;
        CHECK(nde_adjoint_discrete_reg(s, NULL, reg, gth, NP, gu, &v));
        cr_expect_eq(v, 0.0);
        for (int j = 0; j < NP; j++) cr_expect_eq(gth[j], 0.0, "spec %d theta[%d] = %g", i, j, gth[j]);
        for (int j = 0; j < N; j++) cr_expect_eq(gu[j], 0.0, "spec %d u0[%d] = %g", i, j, gu[j]);
        nde_reg_destroy(&reg);
    }
    nde_solver_destroy(&s);
}

/* ---- user-written step regularizers (nde_reg_ops) -------------------------------- */

/* The docs/regularizers.md example: a finite-difference second-derivative penalty (Kelly,
 * Bettencourt, Johnson & Duvenaud, NeurIPS 2020, R_2) across each step,
 *   v_j = mean((k_s − k_1)²) / |h_j| ≈ |h_j| mean(ü²),
 * for tableaux whose last stage sits at t + h. */
static nde_status accel_step(void *ctx, const nde_reg_step *st, double w, nde_reg_step_grad *g,
                             double *value)
{
    (void)ctx;
    size_t n = st->n, last = (size_t)st->stages - 1;
    if (st->c[last] != 1.0)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "acceleration: last stage not at t + h");
    const double *k1 = st->k, *ks = st->k + last * n;
    double *k1_bar = g->kbar, *ks_bar = g->kbar + last * n;
    double scale = 1.0 / ((double)n * fabs(st->h)), acc = 0.0;
    for (size_t e = 0; e < n; e++) {
        double d = ks[e] - k1[e];
        acc += d * d;
        ks_bar[e] += 2.0 * w * scale * d;
        k1_bar[e] -= 2.0 * w * scale * d;
    }
    *value = acc * scale;
    return NDE_OK;
}
static const nde_reg_ops accel_ops = {.name = "acceleration", .step = accel_step};

/* Every other path of the interface at once (test only): the estimates, a stage input, the
 * step's start and end, and the field evaluated by the op itself (direct θ gradient):
 *   v_j = |h| (E² + S + ½ mean(Y_2²) + mean(u_j·u_{j+1}) + ½ mean(f(t + h/2, u_j)²)). */
static nde_status mixed_step(void *ctx, const nde_reg_step *st, double w, nde_reg_step_grad *g,
                             double *value)
{
    (void)ctx;
    size_t n = st->n;
    double ah = fabs(st->h), inv_n = 1.0 / (double)n;
    const double *y2 = st->y + n;
    double *fm = st->scratch, *fm_bar = st->scratch + n;
    const nde_field *f = st->field;
    NDE_TRY(f->f(f->ctx, st->t + 0.5 * st->h, st->u, fm, st->batch));
    double q_y = 0.0, q_u = 0.0, q_f = 0.0;
    for (size_t e = 0; e < n; e++) {
        q_y += y2[e] * y2[e];
        q_u += st->u[e] * st->u_new[e];
        q_f += fm[e] * fm[e];
    }
    *value = ah * (st->err_est * st->err_est + st->stiff_est + 0.5 * q_y * inv_n + q_u * inv_n +
                   0.5 * q_f * inv_n);
    if (w == 0.0) return NDE_OK;
    double c = w * ah * inv_n;
    g->err_est_bar += w * ah * 2.0 * st->err_est;
    g->stiff_est_bar += w * ah;
    for (size_t e = 0; e < n; e++) {
        g->ybar[n + e] += c * y2[e];
        g->ubar[e] += c * st->u_new[e];
        g->unew_bar[e] += c * st->u[e];
        fm[e] *= c;
    }
    NDE_TRY(f->vjp(f->ctx, st->t + 0.5 * st->h, st->u, fm, fm_bar, g->gtheta, st->batch));
    for (size_t e = 0; e < n; e++) g->ubar[e] += fm_bar[e];
    return NDE_OK;
}
static const nde_reg_ops mixed_ops = {.name = "mixed",
                                      .needs = NDE_REG_NEEDS_ERR_EST | NDE_REG_NEEDS_STIFF_EST,
                                      .scratch_per_n = 2,
                                      .step = mixed_step};

/* v_j = E_j² |h_j|, known from the step log, so it may take the max over the steps. */
static nde_status err2_log(void *ctx, const nde_step_rec *rec, double *value)
{
    (void)ctx;
    *value = rec->err_est * rec->err_est * fabs(rec->h);
    return NDE_OK;
}
static nde_status err2_step(void *ctx, const nde_reg_step *st, double w, nde_reg_step_grad *g,
                            double *value)
{
    (void)ctx;
    *value = st->err_est * st->err_est * fabs(st->h);
    g->err_est_bar += w * 2.0 * st->err_est * fabs(st->h);
    return NDE_OK;
}
static const nde_reg_ops err2_ops = {
    .name = "E²", .needs = NDE_REG_NEEDS_ERR_EST, .step = err2_step, .log_value = err2_log};

Test(reg_user, user_regularizers_match_finite_differences)
{
    nde_reg *reg;
    CHECK(nde_reg_create_ops(&accel_ops, NULL, NDE_REG_SUM, 0.7, &reg));
    cr_expect_null(nde_reg_get_spec(reg));
    check_reg(reg, NDE_TSIT5, 0, 0, "user acceleration");
    check_reg(reg, NDE_DOPRI5, 1, 0, "loss + user acceleration");
    nde_reg_destroy(&reg);
    CHECK(nde_reg_create_ops(&mixed_ops, NULL, NDE_REG_MEAN, 1.3, &reg));
    check_reg(reg, NDE_TSIT5, 0, 0, "user mixed (mean)");
    check_reg(reg, NDE_BS3, 1, 0, "loss + user mixed (mean)");
    nde_reg_destroy(&reg);
    CHECK(nde_reg_create_ops(&err2_ops, NULL, NDE_REG_MAX, 2.5, &reg));
    check_reg(reg, NDE_TSIT5, 0, 1, "user E² (max)");
    nde_reg_destroy(&reg);
}

/* ERNODE written by a user through the ops table is the built-in, bit for bit, with
 * every aggregation: the built-ins take no private path. */
static nde_status user_ernode_log(void *ctx, const nde_step_rec *rec, double *value)
{
    (void)ctx;
    *value = rec->err_est / 1.0 * fabs(rec->h);
    return NDE_OK;
}
static nde_status user_ernode_step(void *ctx, const nde_reg_step *st, double w,
                                   nde_reg_step_grad *g, double *value)
{
    (void)ctx;
    *value = st->err_est / 1.0 * fabs(st->h);
    g->err_est_bar += w / 1.0 * fabs(st->h);
    return NDE_OK;
}

Test(reg_user, user_ernode_equals_the_builtin_bitwise)
{
    static const nde_reg_ops ops = {.name = "user ERNODE", .needs = NDE_REG_NEEDS_ERR_EST,
                                    .step = user_ernode_step, .log_value = user_ernode_log};
    problem p;
    problem_init(&p, NDE_TSIT5, 0.8, 1, 1e-4);
    CHECK(nde_solve(p.s, B, D, p.u0, NT, ts, p.traj));
    const nde_reg_agg aggs[3] = {NDE_REG_SUM, NDE_REG_MEAN, NDE_REG_MAX};
    for (int a = 0; a < 3; a++) {
        nde_reg_spec sp = nde_reg_error_estimate(0.3);
        sp.agg = aggs[a];
        nde_reg *builtin, *user;
        CHECK(nde_reg_create(&sp, &builtin));
        CHECK(nde_reg_create_ops(&ops, NULL, aggs[a], 0.3, &user));
        double gb[NP] = {0}, gu[NP] = {0}, ub[N], uu[N], vb, vu;
        CHECK(nde_adjoint_discrete_reg(p.s, p.g, builtin, gb, NP, ub, &vb));
        CHECK(nde_adjoint_discrete_reg(p.s, p.g, user, gu, NP, uu, &vu));
        cr_expect_eq(vb, vu, "agg %d: R %.17g vs %.17g", a, vb, vu);
        cr_expect_eq(memcmp(gb, gu, sizeof gb), 0, "agg %d: theta gradients differ", a);
        cr_expect_eq(memcmp(ub, uu, sizeof ub), 0, "agg %d: u0 gradients differ", a);
        nde_reg_destroy(&builtin);
        nde_reg_destroy(&user);
    }
    nde_solver_destroy(&p.s);
}

static nde_status failing_step(void *ctx, const nde_reg_step *st, double w,
                               nde_reg_step_grad *g, double *value)
{
    (void)ctx, (void)st, (void)w, (void)g, (void)value;
    return NDE_FAIL(NDE_ERR_NONFINITE, "user regularizer gave up");
}

Test(reg_user, bad_ops_and_misuse_are_statuses)
{
    nde_reg *reg = (nde_reg *)1;
    static const nde_reg_ops no_step = {.name = "no step"};
    cr_expect_eq(nde_reg_create_ops(NULL, NULL, NDE_REG_SUM, 1.0, &reg), NDE_ERR_ARG);
    cr_expect_null(reg);
    cr_expect_eq(nde_reg_create_ops(&no_step, NULL, NDE_REG_SUM, 1.0, &reg), NDE_ERR_ARG);
    cr_expect_eq(nde_reg_create_ops(&accel_ops, NULL, NDE_REG_MAX, 1.0, &reg), NDE_ERR_ARG);
    cr_expect_eq(nde_reg_create_ops(&accel_ops, NULL, (nde_reg_agg)9, 1.0, &reg), NDE_ERR_ARG);
    cr_expect_eq(nde_reg_create_ops(&accel_ops, NULL, NDE_REG_SUM, -1.0, &reg), NDE_ERR_ARG);
    cr_expect_eq(nde_reg_create_ops(&accel_ops, NULL, NDE_REG_SUM, 1.0, NULL), NDE_ERR_ARG);

    problem p;
    problem_init(&p, NDE_TSIT5, 0.8, 0, 1e-3);
    CHECK(nde_solve(p.s, B, D, p.u0, NT, ts, p.traj));
    double gth[NP] = {0}, gu[N], v;
    /* the value of an op without log_value needs the stages */
    CHECK(nde_reg_create_ops(&accel_ops, NULL, NDE_REG_SUM, 1.0, &reg));
    cr_expect_eq(nde_reg_value(reg, p.s, &v), NDE_ERR_UNSUPPORTED);
    CHECK(nde_adjoint_discrete_reg(p.s, NULL, reg, gth, NP, gu, &v));
    nde_reg_destroy(&reg);
    /* an op's status aborts the sweep and reaches the caller */
    static const nde_reg_ops fails = {.name = "failing", .step = failing_step};
    CHECK(nde_reg_create_ops(&fails, NULL, NDE_REG_SUM, 1.0, &reg));
    cr_expect_eq(nde_adjoint_discrete_reg(p.s, NULL, reg, gth, NP, gu, &v), NDE_ERR_NONFINITE);
    cr_expect(strstr(nde_last_error(), "gave up") != NULL, "message: %s", nde_last_error());
    nde_reg_destroy(&reg);
    /* an op that needs a probe gets NDE_ERR_SHAPE without one */
    static const nde_reg_ops probed = {.name = "probed", .needs = NDE_REG_NEEDS_PROBE,
                                       .step = accel_step};
    CHECK(nde_reg_create_ops(&probed, NULL, NDE_REG_SUM, 1.0, &reg));
    cr_expect_eq(nde_adjoint_discrete_reg(p.s, NULL, reg, gth, NP, gu, &v), NDE_ERR_SHAPE);
    nde_reg_destroy(&reg);
    nde_solver_destroy(&p.s);
    /* a method without an estimate refuses an op that needs one */
    nde_solver_opts o = nde_solver_defaults(NDE_RK4);
    o.tape = NDE_TAPE_STAGES;
    CHECK(nde_solver_create(NULL, &p.f, &o, &p.s));
    CHECK(nde_solve(p.s, B, D, p.u0, NT, ts, p.traj));
    CHECK(nde_reg_create_ops(&mixed_ops, NULL, NDE_REG_SUM, 1.0, &reg));
    cr_expect_eq(nde_adjoint_discrete_reg(p.s, NULL, reg, gth, NP, gu, &v), NDE_ERR_UNSUPPORTED);
    nde_reg_destroy(&reg);
    nde_solver_destroy(&p.s);
}

/* ---- local regularizer ---------------------------------------------------------- */

static nde_local_reg_spec local_spec(nde_reg_kind kind, int diff_start)
{
    return (nde_local_reg_spec){.kind = kind, .coef = 2.0, .atol = 1e-7, .rtol = 1e-5,
                                .diff_start = diff_start, .seed = 9};
}

/* R at fixed t_reg, dt, and (unless diff_start) fixed k1, vs central differences in θ
 * and u(t_reg). */
typedef struct local_case {
    double theta[NP];
    tanh_ctx c;
    nde_local_reg *lr;
    double u[N], k1[N];
    int diff_start;
} local_case;

static const double loc_t_reg = 0.25, loc_t_end = 2.0, loc_dt = 0.5;

static double local_objective(void *ctx)
{
    local_case *lc = ctx;
    nde_local_reg_result r;
    CHECK(nde_local_reg_eval(lc->lr, B, loc_t_reg, lc->u, lc->diff_start ? NULL : lc->k1,
                             loc_t_end, loc_dt, NULL, NULL, &r));
    return r.value;
}

static void check_local(nde_reg_kind kind, int diff_start)
{
    local_case lc = {.diff_start = diff_start};
    init_theta(lc.theta, 0.8);
    lc.c = (tanh_ctx){.d = D, .theta = lc.theta};
    nde_field f = tanh_field(&lc.c);
    nde_local_reg_spec sp = local_spec(kind, diff_start);
    CHECK(nde_local_reg_create(&f, B, &sp, &lc.lr));
    memcpy(lc.u, u0_init, sizeof lc.u);
    CHECK(tanh_f(&lc.c, loc_t_reg, lc.u, lc.k1, B));
    nde_local_reg_result res;
    double gth[NP] = {0}, gu[N];
    /* the automatic dt: one probe evaluation, within the span */
    CHECK(nde_local_reg_eval(lc.lr, B, loc_t_reg, lc.u, diff_start ? NULL : lc.k1, loc_t_end,
                             0.0, NULL, NULL, &res));
    cr_assert(res.value > 0.0 && res.dt > 0.0 && res.dt <= loc_t_end - loc_t_reg);
    cr_assert_eq(res.nfe, diff_start ? 8u : 7u);
    CHECK(nde_local_reg_eval(lc.lr, B, loc_t_reg, lc.u, diff_start ? NULL : lc.k1, loc_t_end,
                             loc_dt, gth, gu, &res));
    cr_assert_eq(res.dt, loc_dt);
    double eth = gc_check(lc.theta, NP, 2e-5, GC_CENTRAL4, local_objective, &lc, gth,
                          gc_l2(1e-6), "local kind %d diff_start %d: theta", (int)kind,
                          diff_start);
    double eu = gc_check(lc.u, N, 2e-5, GC_CENTRAL4, local_objective, &lc, gu, gc_l2(1e-6),
                         "local kind %d diff_start %d: u", (int)kind, diff_start);
    cr_log_info("local kind %d diff_start %d: R = %.6g E = %.4g, rel err theta %.2e u %.2e",
                (int)kind, diff_start, res.value, res.err_est, eth, eu);
    nde_local_reg_destroy(&lc.lr);
}

Test(reg_local, gradient_at_fixed_t_reg_matches_finite_differences)
{
    check_local(NDE_REG_ERROR_EST, 0);
    check_local(NDE_REG_ERROR_EST, 1);
    check_local(NDE_REG_STIFF_EST, 0);
}

/* The value is λ·E·|dt| of one Tsit5 step, recomputed here from the solver: a frozen
 * one-step solve from t_reg to t_reg + dt logs the same E. */
Test(reg_local, value_is_the_error_estimate_of_one_tsit5_step)
{
    double theta[NP];
    init_theta(theta, 0.8);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_local_reg_spec sp = local_spec(NDE_REG_ERROR_EST, 0);
    nde_local_reg *lr;
    CHECK(nde_local_reg_create(&f, B, &sp, &lr));
    nde_local_reg_result res;
    CHECK(nde_local_reg_eval(lr, B, 0.25, u0_init, NULL, 2.0, 0.0625, NULL, NULL, &res));
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.rtol = sp.rtol, o.atol = sp.atol, o.fixed_step = 1, o.h0 = res.dt;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double span[2] = {0.25, 0.3125}, traj[2 * N];
    CHECK(nde_solve(s, B, D, u0_init, 2, span, traj));
    size_t ns;
    const nde_step_rec *st = nde_solver_steps(s, &ns);
    cr_assert_eq(ns, 1u);
    cr_expect_eq(st[0].err_est, res.err_est, "%.17g vs %.17g", st[0].err_est, res.err_est);
    cr_expect_eq(st[0].stiff_est, res.stiff_est);
    cr_expect_eq(res.value, 2.0 * res.err_est * res.dt);
    cr_expect_eq(res.nfe, 7u); /* k1 and stages 2..7 */
    CHECK(nde_local_reg_eval(lr, B, 0.3, u0_init, NULL, 2.0, 0.0, NULL, NULL, &res));
    /* the automatic dt is the solver's own initial step at t_reg */
    nde_solver_opts oa = nde_solver_defaults(NDE_TSIT5);
    oa.rtol = sp.rtol, oa.atol = sp.atol;
    nde_solver *sa;
    CHECK(nde_solver_create(NULL, &f, &oa, &sa));
    double span2[2] = {0.3, 2.0};
    CHECK(nde_solve(sa, B, D, u0_init, 2, span2, traj));
    const nde_step_rec *sta = nde_solver_steps(sa, &ns);
    cr_expect(ns > 1 && sta[0].h >= res.dt, "first accepted step %g vs heuristic dt %g",
              sta[0].h, res.dt);
    nde_solver_destroy(&s);
    nde_solver_destroy(&sa);
    nde_local_reg_destroy(&lr);
}

/* The local term needs only u(t_reg): its gradient is the same bits whether the main
 * loss was differentiated with the stage tape, the recomputing tape, or not at all. */
Test(reg_local, gradient_is_independent_of_the_main_adjoint)
{
    double theta[NP];
    init_theta(theta, 0.8);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_local_reg_spec sp = local_spec(NDE_REG_ERROR_EST, 0);
    const nde_tape tapes[3] = {NDE_TAPE_STAGES, NDE_TAPE_STEP_STARTS, NDE_TAPE_NONE};
    double g_local[3][NP], g_main[2][NP], t_reg = 0;
    for (int k = 0; k < 3; k++) {
        nde_local_reg *lr;
        CHECK(nde_local_reg_create(&f, B, &sp, &lr));
        CHECK(nde_local_reg_draw_time(lr, ts[0], ts[NT - 1], &t_reg));
        double ts2[NT + 1], traj[(NT + 1) * N], dL[(NT + 1) * N];
        size_t nt2, kreg;
        CHECK(nde_reg_insert_time(ts, NT, t_reg, ts2, &nt2, &kreg));
        cr_assert_eq(nt2, NT + 1u);
        nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
        o.rtol = 1e-5, o.atol = 1e-7, o.tape = tapes[k];
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        CHECK(nde_solve(s, B, D, u0_init, nt2, ts2, traj));
        for (size_t i = 0; i < nt2 * N; i++) dL[i] = (i / N == kreg) ? 0.0 : 1.0;
        if (k < 2) {
            memset(g_main[k], 0, sizeof g_main[k]);
            CHECK(nde_adjoint_discrete(s, dL, g_main[k], NP, NULL));
        }
        memset(g_local[k], 0, sizeof g_local[k]);
        CHECK(nde_local_reg_eval(lr, B, t_reg, traj + kreg * N, NULL, ts[NT - 1], 0.0,
                                 g_local[k], NULL, NULL));
        nde_solver_destroy(&s);
        nde_local_reg_destroy(&lr);
    }
    cr_assert(memcmp(g_main[0], g_main[1], sizeof g_main[0]) == 0);
    for (int k = 1; k < 3; k++)
        cr_expect(memcmp(g_local[0], g_local[k], sizeof g_local[0]) == 0,
                  "local gradient differs with tape mode %d", k);
    double norm = 0;
    for (int i = 0; i < NP; i++) norm += fabs(g_local[0][i]);
    cr_expect(norm > 0.0);
}

/* Adding t_reg to the save times does not change the solve (dense output), and the
 * state read there is the dense output at t_reg. */
Test(reg_local, unbiased_time_insertion_keeps_the_steps)
{
    double theta[NP];
    init_theta(theta, 0.8);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.rtol = 1e-5, o.atol = 1e-7;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double traj[(NT + 1) * N], traj2[(NT + 1) * N], ts2[NT + 1];
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    size_t n1, n2, nt2, kreg;
    nde_solver_steps(s, &n1);
    CHECK(nde_reg_insert_time(ts, NT, 0.8, ts2, &nt2, &kreg));
    cr_assert_eq(kreg, 2u);
    cr_assert(ts2[1] == ts[1] && ts2[2] == 0.8 && ts2[3] == ts[2] && ts2[4] == ts[3]);
    CHECK(nde_solve(s, B, D, u0_init, nt2, ts2, traj2));
    nde_solver_steps(s, &n2);
    cr_expect_eq(n1, n2);
    cr_expect(memcmp(traj + (NT - 1) * N, traj2 + NT * N, N * sizeof(double)) == 0);
    /* an existing time is not duplicated */
    CHECK(nde_reg_insert_time(ts, NT, ts[1], ts2, &nt2, &kreg));
    cr_expect(nt2 == NT && kreg == 1);
    CHECK(nde_reg_insert_time(ts, NT, ts[NT - 1], ts2, &nt2, &kreg));
    cr_expect(nt2 == NT && kreg == NT - 1);
    cr_expect_eq(nde_reg_insert_time(ts, NT, 2.5, ts2, &nt2, &kreg), NDE_ERR_ARG);
    cr_expect_eq(nde_reg_insert_time(ts, NT, NAN, ts2, &nt2, &kreg), NDE_ERR_ARG);
    nde_solver_destroy(&s);

    /* unbiased draws cover [t0, t1) uniformly: mean ≈ 1, all inside */
    nde_local_reg_spec sp = local_spec(NDE_REG_ERROR_EST, 0);
    nde_local_reg *lr;
    CHECK(nde_local_reg_create(&f, B, &sp, &lr));
    double mean = 0.0;
    for (int i = 0; i < 4000; i++) {
        double t;
        CHECK(nde_local_reg_draw_time(lr, 0.0, 2.0, &t));
        cr_assert(t >= 0.0 && t < 2.0);
        mean += t / 4000;
    }
    cr_expect(fabs(mean - 1.0) < 0.05, "mean %g", mean);
    nde_local_reg_destroy(&lr);
}

/* Biased sampling: the reservoir returns a step start (t0 included, t_end never) with
 * the state the solver had there, each start about equally often. */
Test(reg_local, biased_sampling_draws_step_starts_uniformly)
{
    double theta[NP];
    init_theta(theta, 0.8);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_local_reg_spec sp = local_spec(NDE_REG_ERROR_EST, 0);
    sp.sampling = NDE_LOCAL_BIASED;
    nde_local_reg *lr;
    CHECK(nde_local_reg_create(&f, B, &sp, &lr));
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.rtol = 1e-4, o.atol = 1e-6, o.tape = NDE_TAPE_STAGES;
    o.callback = nde_local_reg_callback, o.callback_user = lr;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double traj[NT * N];
    double t_reg;
    const double *u;
    cr_expect_eq(nde_local_reg_sample(lr, &t_reg, &u), NDE_ERR_STATE);
    enum { DRAWS = 3000 };
    size_t counts[64] = {0}, ns = 0;
    for (int it = 0; it < DRAWS; it++) {
        CHECK(nde_local_reg_begin(lr, B, ts[0], u0_init));
        CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
        const nde_step_rec *st = nde_solver_steps(s, &ns);
        cr_assert(ns >= 3 && ns < 64);
        CHECK(nde_local_reg_sample(lr, &t_reg, &u));
        size_t m = 0;
        while (m < ns && st[m].t != t_reg) m++;
        cr_assert(m < ns, "t_reg = %.17g is not a step start", t_reg);
        counts[m]++;
        /* the tape's stage input Y_1 of step m is u_m */
        if (it == 0) {
            nde_local_reg_result res;
            CHECK(nde_local_reg_eval(lr, B, t_reg, u, NULL, ts[NT - 1], 0.0, NULL, NULL, &res));
            cr_expect(res.value > 0.0);
        }
    }
    double expect = (double)DRAWS / (double)ns;
    for (size_t m = 0; m < ns; m++)
        cr_expect(fabs((double)counts[m] - expect) < 5.0 * sqrt(expect),
                  "step %zu drawn %zu times, expected about %.0f", m, counts[m], expect);
    nde_solver_destroy(&s);
    nde_local_reg_destroy(&lr);
}

Test(reg_local, sampled_state_is_the_solver_state_at_the_step_start)
{
    double theta[NP];
    init_theta(theta, 0.8);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_local_reg_spec sp = local_spec(NDE_REG_ERROR_EST, 0);
    sp.sampling = NDE_LOCAL_BIASED;
    sp.seed = 4;
    nde_local_reg *lr;
    CHECK(nde_local_reg_create(&f, B, &sp, &lr));
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.rtol = 1e-4, o.atol = 1e-6;
    o.callback = nde_local_reg_callback, o.callback_user = lr;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double traj[NT * N];
    CHECK(nde_local_reg_begin(lr, B, ts[0], u0_init));
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    double t_reg;
    const double *u;
    CHECK(nde_local_reg_sample(lr, &t_reg, &u));
    /* re-solve to t_reg exactly (the step starts land on it) */
    nde_solver_opts o2 = nde_solver_defaults(NDE_TSIT5);
    o2.rtol = 1e-4, o2.atol = 1e-6;
    nde_solver *s2;
    CHECK(nde_solver_create(NULL, &f, &o2, &s2));
    if (t_reg > ts[0]) {
        double span[2] = {ts[0], t_reg}, tr[2 * N];
        CHECK(nde_solve(s2, B, D, u0_init, 2, span, tr));
        for (int i = 0; i < N; i++)
            cr_expect(fabs(tr[N + i] - u[i]) <= 1e-12, "u[%d]: %.17g vs %.17g", i, u[i],
                      tr[N + i]);
    } else {
        cr_expect(memcmp(u, u0_init, sizeof u0_init) == 0);
    }
    nde_solver_destroy(&s2);
    nde_solver_destroy(&s);
    nde_local_reg_destroy(&lr);
}

/* ---- STEER ---------------------------------------------------------------------- */

Test(reg_steer, end_time_is_uniform_around_t1)
{
    nde_rng r;
    nde_rng_seed(&r, 1);
    double lo = 1e9, hi = -1e9, mean = 0.0, t;
    for (int i = 0; i < 4000; i++) {
        CHECK(nde_steer_end_time(&r, 0.0, 1.0, 0.5, &t));
        lo = fmin(lo, t), hi = fmax(hi, t), mean += t / 4000;
    }
    cr_expect(lo >= 0.5 && hi <= 1.5 && lo < 0.52 && hi > 1.48, "range [%g, %g]", lo, hi);
    cr_expect(fabs(mean - 1.0) < 0.02, "mean %g", mean);
    cr_expect_eq(nde_steer_end_time(&r, 0.0, 1.0, 1.0, &t), NDE_ERR_ARG);
    cr_expect_eq(nde_steer_end_time(&r, 0.0, 1.0, -0.1, &t), NDE_ERR_ARG);
    cr_expect_eq(nde_steer_end_time(NULL, 0.0, 1.0, 0.1, &t), NDE_ERR_ARG);
    CHECK(nde_steer_end_time(&r, 0.0, 1.0, 0.0, &t));
    cr_expect_eq(t, 1.0);
}

/* ---- misuse ---------------------------------------------------------------------- */

Test(reg_errors, bad_specs_are_rejected)
{
    nde_reg *reg = (nde_reg *)1;
    nde_reg_spec sp = nde_reg_error_estimate(-1.0);
    cr_expect_eq(nde_reg_create(&sp, &reg), NDE_ERR_ARG);
    cr_expect_null(reg);
    sp = nde_reg_error_estimate(NAN);
    cr_expect_eq(nde_reg_create(&sp, &reg), NDE_ERR_ARG);
    sp = nde_reg_kinetic(1.0);
    sp.agg = NDE_REG_MAX;
    cr_expect_eq(nde_reg_create(&sp, &reg), NDE_ERR_ARG);
    sp = nde_reg_jacobian(1.0, NULL);
    cr_expect_eq(nde_reg_create(&sp, &reg), NDE_ERR_ARG);
    sp = nde_reg_stiffness(1.0);
    sp.scale = 0.0;
    cr_expect_eq(nde_reg_create(&sp, &reg), NDE_ERR_ARG);
    sp.scale = 1.0;
    sp.kind = NDE_REG_KIND_COUNT;
    cr_expect_eq(nde_reg_create(&sp, &reg), NDE_ERR_ARG);
    sp = nde_reg_stiffness(1.0);
    sp.agg = (nde_reg_agg)7;
    cr_expect_eq(nde_reg_create(&sp, &reg), NDE_ERR_ARG);
    cr_expect_eq(nde_reg_create(NULL, &reg), NDE_ERR_ARG);
    sp = nde_reg_stiffness(1.0);
    CHECK(nde_reg_create(&sp, &reg));
    cr_expect_eq(nde_reg_set_coef(reg, -2.0), NDE_ERR_ARG);
    CHECK(nde_reg_set_coef(reg, 0.25));
    cr_expect_eq(nde_reg_get_spec(reg)->coef, 0.25);
    cr_expect_eq(nde_reg_set_probe(reg, NULL, 3), NDE_ERR_ARG);
    cr_expect_eq(nde_reg_draw_probe(reg, NULL, 3), NDE_ERR_ARG);
    nde_reg_destroy(&reg);
    cr_expect_null(reg);
    nde_reg_destroy(&reg);
    nde_reg_destroy(NULL);

    double theta[NP] = {0};
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_local_reg *lr = (nde_local_reg *)1;
    nde_local_reg_spec ls = local_spec(NDE_REG_KINETIC, 0);
    cr_expect_eq(nde_local_reg_create(&f, B, &ls, &lr), NDE_ERR_ARG);
    cr_expect_null(lr);
    ls = local_spec(NDE_REG_ERROR_EST, 0);
    ls.rtol = 0.0;
    cr_expect_eq(nde_local_reg_create(&f, B, &ls, &lr), NDE_ERR_ARG);
    ls = local_spec(NDE_REG_ERROR_EST, 0);
    ls.sampling = (nde_local_sampling)5;
    cr_expect_eq(nde_local_reg_create(&f, B, &ls, &lr), NDE_ERR_ARG);
    ls = local_spec(NDE_REG_ERROR_EST, 0);
    cr_expect_eq(nde_local_reg_create(&f, 0, &ls, &lr), NDE_ERR_ARG);
    nde_field novjp = f;
    novjp.vjp = NULL;
    cr_expect_eq(nde_local_reg_create(&novjp, B, &ls, &lr), NDE_ERR_ARG);
    nde_local_reg_destroy(NULL);
}

Test(reg_errors, misuse_returns_statuses_not_crashes)
{
    double theta[NP];
    init_theta(theta, 0.8);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_reg_spec sp = nde_reg_error_estimate(1.0);
    nde_reg *reg;
    CHECK(nde_reg_create(&sp, &reg));
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.tape = NDE_TAPE_STAGES;
    o.max_steps = 3;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double gth[NP], gu[N], v, traj[NT * N];
    /* before any solve */
    cr_expect_eq(nde_adjoint_discrete_reg(s, NULL, reg, gth, NP, gu, &v), NDE_ERR_STATE);
    cr_expect_eq(nde_reg_value(reg, s, &v), NDE_ERR_STATE);
    /* a solve that runs out of steps: a status, and the regularized adjoint refuses */
    cr_expect_eq(nde_solve(s, B, D, u0_init, NT, ts, traj), NDE_ERR_MAX_STEPS);
    cr_expect_eq(nde_adjoint_discrete_reg(s, NULL, reg, gth, NP, gu, &v), NDE_ERR_STATE);
    cr_expect_eq(nde_adjoint_discrete_reg(s, NULL, reg, gth, NP + 1, gu, &v), NDE_ERR_SHAPE);
    cr_expect_eq(nde_adjoint_discrete_reg(s, NULL, NULL, gth, NP, gu, &v), NDE_ERR_ARG);
    nde_solver_destroy(&s);

    /* fixed-step methods have no estimate; a solve without tape cannot be reversed */
    nde_solver_opts of = nde_solver_defaults(NDE_RK4);
    of.tape = NDE_TAPE_STAGES;
    CHECK(nde_solver_create(NULL, &f, &of, &s));
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    cr_expect_eq(nde_adjoint_discrete_reg(s, NULL, reg, gth, NP, gu, &v), NDE_ERR_UNSUPPORTED);
    cr_expect_eq(nde_reg_value(reg, s, &v), NDE_ERR_UNSUPPORTED);
    nde_solver_destroy(&s);
    nde_solver_opts on = nde_solver_defaults(NDE_TSIT5);
    CHECK(nde_solver_create(NULL, &f, &on, &s));
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    CHECK(nde_reg_value(reg, s, &v));
    cr_expect_eq(nde_adjoint_discrete_reg(s, NULL, reg, gth, NP, gu, &v), NDE_ERR_STATE);
    nde_solver_destroy(&s);

    /* Jacobian probe of the wrong size; kinetic value needs the adjoint */
    nde_reg_spec js = nde_reg_jacobian(1.0, tanh_jac_grad);
    nde_reg *jac;
    CHECK(nde_reg_create(&js, &jac));
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    o.max_steps = 100000;
    nde_solver_destroy(&s);
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    cr_expect_eq(nde_adjoint_discrete_reg(s, NULL, jac, gth, NP, gu, &v), NDE_ERR_SHAPE);
    double eps[N + 1] = {0};
    CHECK(nde_reg_set_probe(jac, eps, N + 1));
    cr_expect_eq(nde_adjoint_discrete_reg(s, NULL, jac, gth, NP, gu, &v), NDE_ERR_SHAPE);
    cr_expect_eq(nde_reg_value(jac, s, &v), NDE_ERR_UNSUPPORTED);
    nde_reg_destroy(&jac);
    nde_solver_destroy(&s);
    nde_reg_destroy(&reg);

    /* local: bad batch, dt pointing backwards, non-finite state, t_reg == t_end */
    nde_local_reg_spec ls = local_spec(NDE_REG_ERROR_EST, 0);
    nde_local_reg *lr;
    CHECK(nde_local_reg_create(&f, B, &ls, &lr));
    nde_local_reg_result res;
    cr_expect_eq(nde_local_reg_eval(lr, B + 1, 0.0, u0_init, NULL, 1.0, 0.0, gth, gu, &res),
                 NDE_ERR_ARG);
    cr_expect_eq(nde_local_reg_eval(lr, B, 0.0, NULL, NULL, 1.0, 0.0, gth, gu, &res),
                 NDE_ERR_ARG);
    cr_expect_eq(nde_local_reg_eval(lr, B, 0.0, u0_init, NULL, 1.0, -0.1, gth, gu, &res),
                 NDE_ERR_ARG);
    cr_expect_eq(nde_local_reg_eval(lr, B, NAN, u0_init, NULL, 1.0, 0.0, gth, gu, &res),
                 NDE_ERR_ARG);
    double ubad[N];
    memcpy(ubad, u0_init, sizeof ubad);
    ubad[4] = INFINITY;
    cr_expect_eq(nde_local_reg_eval(lr, B, 0.0, ubad, NULL, 1.0, 0.0, gth, gu, &res),
                 NDE_ERR_NONFINITE);
    memset(gth, 0, sizeof gth);
    CHECK(nde_local_reg_eval(lr, B, 1.0, u0_init, NULL, 1.0, 0.0, gth, gu, &res));
    cr_expect(res.value == 0.0 && res.dt == 0.0 && res.nfe == 0);
    for (int i = 0; i < NP; i++) cr_expect_eq(gth[i], 0.0);
    for (int i = 0; i < N; i++) cr_expect_eq(gu[i], 0.0);
    cr_expect_eq(nde_local_reg_begin(lr, B + 1, 0.0, u0_init), NDE_ERR_ARG);
    cr_expect_eq(nde_local_reg_draw_time(lr, 1.0, 1.0, &v), NDE_ERR_ARG);
    cr_expect_eq(nde_local_reg_set_coef(lr, -1.0), NDE_ERR_ARG);
    /* backwards in time works too */
    CHECK(nde_local_reg_eval(lr, B, 1.0, u0_init, NULL, 0.0, 0.0, gth, gu, &res));
    cr_expect(res.dt < 0.0 && res.value > 0.0);
    nde_local_reg_destroy(&lr);
    cr_expect_null(lr);
}
