/* NeuralStagger (include/nde/stagger.h): the decomposition layer against an independent
 * index formula, its exact inverse and adjoint identities; the Burgers residual against
 * the Cole–Hopf solution (second-order convergence of Crank–Nicolson); the residual loss
 * gradient, the staggered model's gradient and the whole (loss ∘ model) gradient against
 * central differences; and training through the one trainer. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "model_check.h"
#include "nde/nde.h"

#define CHECK(x) cr_assert_eq((x), NDE_OK, "%s", nde_last_error())

static void fill(double *v, size_t n, uint64_t seed, double scale)
{
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) v[i] = scale * nde_rng_normal(&rng);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static const nde_stagger_grid grids[] = {
    {.ndim = 1, .channels = 1, .nt = 1, .n = {12}, .s_t = 1, .s = {3}},
    {.ndim = 1, .channels = 2, .nt = 4, .n = {8}, .s_t = 2, .s = {4}},
    {.ndim = 2, .channels = 1, .nt = 1, .n = {6, 8}, .s_t = 1, .s = {2, 4}},
    {.ndim = 2, .channels = 3, .nt = 6, .n = {4, 6}, .s_t = 3, .s = {2, 3}},
    {.ndim = 2, .channels = 1, .nt = 2, .n = {5, 4}, .s_t = 1, .s = {1, 1}},
};
#define N_GRIDS (sizeof grids / sizeof grids[0])

/* The sub-field value by the formula of the header, written out independently. */
static double sub_ref(const nde_stagger_grid *g, const double *fine, size_t batch, size_t k,
                      size_t bt, size_t idx)
{
    size_t n1 = g->ndim == 2 ? g->n[1] : 1, s1 = g->ndim == 2 ? g->s[1] : 1;
    size_t ct = g->nt / g->s_t, c0 = g->n[0] / g->s[0], c1 = n1 / s1;
    size_t j = idx % c1, i = idx / c1 % c0, tau = idx / c1 / c0 % ct, c = idx / c1 / c0 / ct;
    size_t b1 = k % s1, b0 = k / s1 % g->s[0], a = k / s1 / g->s[0];
    size_t t = a + g->s_t * tau, x0 = b0 + g->s[0] * i, x1 = b1 + s1 * j;
    (void)batch;
    return fine[bt * (g->channels * g->nt * g->n[0] * n1) + ((c * g->nt + t) * g->n[0] + x0) * n1 + x1];
}

Test(stagger, decompose_formula_and_exact_inverse)
{
    const size_t batch = 3;
    for (size_t gi = 0; gi < N_GRIDS; gi++) {
        const nde_stagger_grid *g = &grids[gi];
        CHECK(nde_stagger_check(g));
        const size_t fs = nde_stagger_fine_size(g), ss = nde_stagger_sub_size(g), ns = nde_stagger_n_sub(g);
        cr_assert_eq(ns * ss, fs, "grid %zu: %zu sub-fields of %zu != %zu", gi, ns, ss, fs);
        double *fine = nde_alloc_array(batch * fs, sizeof(double));
        double *sub = nde_alloc_array(batch * fs, sizeof(double));
        double *back = nde_alloc_array(batch * fs, sizeof(double));
        cr_assert(fine && sub && back);
        fill(fine, batch * fs, 10 + gi, 1.0);
        CHECK(nde_stagger_decompose(g, fine, sub, batch));
        for (size_t k = 0; k < ns; k++)
            for (size_t bt = 0; bt < batch; bt++)
                for (size_t i = 0; i < ss; i++)
                    cr_assert_eq(sub[(k * batch + bt) * ss + i], sub_ref(g, fine, batch, k, bt, i),
                                 "grid %zu: piece %zu sample %zu entry %zu", gi, k, bt, i);
        memset(back, 0xff, batch * fs * sizeof(double)); /* NaNs: every entry must be written */
        CHECK(nde_stagger_arrange(g, sub, back, batch));
        cr_assert_eq(memcmp(back, fine, batch * fs * sizeof(double)), 0, "grid %zu: round trip", gi);
        /* and the other way round: arrange then decompose */
        fill(sub, batch * fs, 20 + gi, 1.0);
        CHECK(nde_stagger_arrange(g, sub, fine, batch));
        CHECK(nde_stagger_decompose(g, fine, back, batch));
        cr_assert_eq(memcmp(back, sub, batch * fs * sizeof(double)), 0, "grid %zu: reverse trip", gi);
        nde_free(fine), nde_free(sub), nde_free(back);
    }
}

/* <D x, y> = <x, Dᵀ y>, <A s, f> = <s, Aᵀ f>, and the VJPs against central differences of
 * w·D(x + h v) along random directions. */
Test(stagger, vjp_adjoint_identity_and_differences)
{
    const size_t batch = 2;
    for (size_t gi = 0; gi < N_GRIDS; gi++) {
        const nde_stagger_grid *g = &grids[gi];
        const size_t fs = nde_stagger_fine_size(g), len = batch * fs;
        double *x = nde_alloc_array(len, sizeof(double)), *y = nde_alloc_array(len, sizeof(double));
        double *dx = nde_alloc_array(len, sizeof(double)), *dty = nde_alloc_array(len, sizeof(double));
        double *v = nde_alloc_array(len, sizeof(double)), *tmp = nde_alloc_array(len, sizeof(double));
        cr_assert(x && y && dx && dty && v && tmp);
        fill(x, len, 30 + gi, 1.0), fill(y, len, 40 + gi, 1.0), fill(v, len, 50 + gi, 1.0);
        CHECK(nde_stagger_decompose(g, x, dx, batch));
        CHECK(nde_stagger_decompose_vjp(g, y, dty, batch));
        double l = dot(dx, y, len), r = dot(x, dty, len);
        cr_assert(fabs(l - r) <= 1e-13 * (fabs(l) + 1), "grid %zu: <Dx,y> %.17g <x,Dᵀy> %.17g", gi, l, r);
        CHECK(nde_stagger_arrange(g, x, dx, batch));
        CHECK(nde_stagger_arrange_vjp(g, y, dty, batch));
        l = dot(dx, y, len), r = dot(x, dty, len);
        cr_assert(fabs(l - r) <= 1e-13 * (fabs(l) + 1), "grid %zu: <As,f> %.17g <s,Aᵀf> %.17g", gi, l, r);
        /* directional differences of s ↦ w·D(s) (w = y) against <v, Dᵀ w> */
        const double h = 1e-3;
        for (size_t i = 0; i < len; i++) tmp[i] = x[i] + h * v[i];
        CHECK(nde_stagger_decompose(g, tmp, dx, batch));
        double lp = dot(dx, y, len);
        for (size_t i = 0; i < len; i++) tmp[i] = x[i] - h * v[i];
        CHECK(nde_stagger_decompose(g, tmp, dx, batch));
        double lm = dot(dx, y, len);
        CHECK(nde_stagger_decompose_vjp(g, y, dty, batch));
        double fd = (lp - lm) / (2 * h), an = dot(v, dty, len);
        cr_assert(fabs(fd - an) <= 1e-9 * (fabs(an) + 1), "grid %zu: FD %.17g VJP %.17g", gi, fd, an);
        nde_free(x), nde_free(y), nde_free(dx), nde_free(dty), nde_free(v), nde_free(tmp);
    }
}

Test(stagger, bad_grids_are_errors)
{
    double a[64] = {0}, b[64];
    nde_stagger_grid g = {.ndim = 1, .channels = 1, .nt = 2, .n = {8}, .s_t = 2, .s = {3}};
    cr_assert_eq(nde_stagger_decompose(&g, a, b, 1), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "s[0] 3") != NULL, "%s", nde_last_error());
    g.s[0] = 2, g.s_t = 0;
    cr_assert_eq(nde_stagger_arrange(&g, a, b, 1), NDE_ERR_ARG);
    g.s_t = 2, g.ndim = 3;
    cr_assert_eq(nde_stagger_check(&g), NDE_ERR_ARG);
    cr_assert_eq(nde_stagger_n_sub(&g), 0);
    g.ndim = 1;
    cr_assert_eq(nde_stagger_decompose(&g, a, b, 0), NDE_ERR_ARG);
    cr_assert_eq(nde_stagger_decompose(NULL, a, b, 1), NDE_ERR_ARG);
}

/* ---- the Burgers residual ------------------------------------------------------------- */

/* Cole–Hopf: φ = 2 + e^{−ν k² t} cos(k x) solves φ_t = ν φ_xx, so u = −2ν φ_x/φ solves
 * u_t + u u_x = ν u_xx (k = 2π/length, periodic). */
static double cole_hopf(double x, double t, double nu, double length)
{
    const double k = 2 * NDE_PI / length, e = exp(-nu * k * k * t);
    return 2 * nu * k * e * sin(k * x) / (2 + e * cos(k * x));
}

/* max |R|/dt of the exact solution on n points with dt = c·dx, levels 1..nt from t0 */
static double exact_residual(size_t n, double nu, double theta, size_t nt)
{
    const double length = 1.0, dx = length / (double)n, dt = 0.5 * dx, t0 = 0.05;
    nde_burgers_residual_spec s = {.n = n, .nt = nt, .length = length, .dt = dt, .nu = nu,
                                   .theta = theta};
    double *u0 = nde_alloc_array(n, sizeof(double)), *u = nde_alloc_array(nt * n, sizeof(double));
    double *r = nde_alloc_array(nt * n, sizeof(double));
    cr_assert(u0 && u && r);
    for (size_t j = 0; j < n; j++) u0[j] = cole_hopf(j * dx, t0, nu, length);
    for (size_t k = 0; k < nt; k++)
        for (size_t j = 0; j < n; j++) u[k * n + j] = cole_hopf(j * dx, t0 + (k + 1) * dt, nu, length);
    CHECK(nde_burgers_residual(&s, u0, u, r, 1));
    double m = 0;
    for (size_t i = 0; i < nt * n; i++) m = fmax(m, fabs(r[i]) / dt);
    nde_free(u0), nde_free(u), nde_free(r);
    return m;
}

Test(stagger, burgers_residual_converges_on_cole_hopf)
{
    /* Crank–Nicolson with central differences: second order in dt and dx */
    double e1 = exact_residual(64, 0.05, 0.5, 3), e2 = exact_residual(128, 0.05, 0.5, 3),
           e3 = exact_residual(256, 0.05, 0.5, 3);
    double p1 = log2(e1 / e2), p2 = log2(e2 / e3);
    cr_assert(p1 > 1.9 && p1 < 2.1 && p2 > 1.9 && p2 < 2.1,
              "CN residual orders %.3f %.3f (errors %.3g %.3g %.3g)", p1, p2, e1, e2, e3);
    /* the implicit scheme is first order in dt */
    e1 = exact_residual(64, 0.05, 1.0, 3), e2 = exact_residual(128, 0.05, 1.0, 3);
    e3 = exact_residual(256, 0.05, 1.0, 3);
    p1 = log2(e1 / e2), p2 = log2(e2 / e3);
    cr_assert(p1 > 0.85 && p1 < 1.15 && p2 > 0.9 && p2 < 1.1, "implicit residual orders %.3f %.3f",
              p1, p2);
}

Test(stagger, burgers_loss_gradient)
{
    const size_t n = 7, nt = 3, batch = 2, size = nt * n;
    for (int v = 0; v < 3; v++) {
        const double theta = v == 0 ? 0.5 : v == 1 ? 0.0 : 1.0;
        nde_burgers_residual_spec s = {.n = n, .nt = nt, .length = 2.0, .dt = 0.03, .nu = 0.07,
                                       .theta = theta};
        nde_loss loss = nde_loss_burgers_residual(&s);
        cr_assert_eq(loss.target_size, size);
        double pred[2 * 21], target[2 * 21], grad[2 * 21], fd[2 * 21], val, vp, vm;
        fill(pred, batch * size, 60 + v, 1.0), fill(target, batch * size, 70 + v, 1.0);
        CHECK(loss.fn(loss.ctx, pred, target, grad, batch, size, &val));
        /* the value against nde_burgers_residual */
        double r[2 * 21], u0[2 * 7], ref = 0;
        for (size_t b = 0; b < batch; b++) memcpy(u0 + b * n, target + (b * nt + nt - 1) * n, n * sizeof(double));
        CHECK(nde_burgers_residual(&s, u0, pred, r, batch));
        for (size_t i = 0; i < batch * size; i++) ref += r[i] * r[i] / (double)(batch * size);
        cr_assert(fabs(val - ref) <= 1e-14 * ref, "value %.17g, residual %.17g", val, ref);
        for (size_t i = 0; i < batch * size; i++) {
            const double p0 = pred[i], h = 1e-6;
            pred[i] = p0 + h;
            CHECK(loss.fn(loss.ctx, pred, target, NULL, batch, size, &vp));
            pred[i] = p0 - h;
            CHECK(loss.fn(loss.ctx, pred, target, NULL, batch, size, &vm));
            pred[i] = p0;
            fd[i] = (vp - vm) / (2 * h);
        }
        double e = rel_err(grad, fd, batch * size);
        cr_assert(e < 1e-8, "theta %g: loss gradient relative error %.3g", theta, e);
    }
    nde_burgers_residual_spec bad = {.n = 7, .nt = 3, .length = 1, .dt = 0.1, .nu = 0.1, .theta = 2};
    nde_loss loss = nde_loss_burgers_residual(&bad);
    double p[21] = {0}, t[21] = {0}, val;
    cr_assert_eq(loss.fn(loss.ctx, p, t, NULL, 1, 21, &val), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "theta") != NULL, "%s", nde_last_error());
}

/* ---- the staggered model ---------------------------------------------------------------- */

static nde_model *small_fno(nde_ctx *ctx, size_t n, size_t max_batch)
{
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.n_modes[0] = 2, sp.width = 3, sp.n_layers = 1, sp.proj_hidden[0] = 4;
    sp.precision = NDE_PRECISION_FLOAT64; /* gradients against central differences */
    nde_model *m;
    CHECK(nde_model_fno_create(ctx, &sp, &n, max_batch, 1, &m));
    return m;
}

Test(stagger, model_gradient_fno_subsolvers)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    /* 1-D, window of two levels on 16 points, s_t = 2, s = 2: four FNOs on 8 points */
    nde_stagger_model_spec spec = {.grid = {.ndim = 1, .channels = 1, .nt = 2, .n = {16}, .s_t = 2,
                                            .s = {2}}, .residual = 1};
    for (int shared = 0; shared < 2; shared++) {
        nde_model *subs[4];
        const size_t nm = shared ? 1 : 4;
        for (size_t k = 0; k < nm; k++) subs[k] = small_fno(ctx, 8, shared ? 8 : 2);
        const size_t np_sub = nde_model_n_params(subs[0]);
        nde_model *m;
        CHECK(nde_model_stagger_create(&spec, subs, nm, &m));
        cr_assert_str_eq(nde_model_kind(m), "stagger");
        cr_assert_eq(nde_model_n_params(m), nm * np_sub);
        cr_assert_eq(nde_model_stagger_n_models(m), nm);
        const nde_tensor_info *t0 = nde_params_tensor(nde_model_params(m), 0);
        const nde_tensor_info *tl = nde_params_tensor(nde_model_params(m), nde_params_n_tensors(nde_model_params(m)) - 1);
        cr_assert(t0 && strncmp(t0->name, "sub0.", 5) == 0, "%s", t0 ? t0->name : "");
        cr_assert(tl && strncmp(tl->name, shared ? "sub0." : "sub3.", 5) == 0, "%s", tl ? tl->name : "");
        nde_rng rng;
        nde_rng_seed(&rng, 8);
        CHECK(nde_model_init(m, &rng));
        double x[2 * 32];
        fill(x, 64, 9, 1.0);
        model_check_grad(m, x, 2, 1e-6, 1e-6, 11);
        nde_model_destroy(&m);
    }
    nde_ctx_destroy(&ctx);
}

Test(stagger, model_gradient_2d_mlp_subsolvers)
{
    /* 2-D, two channels, 4×6 points, s = (2, 3): six MLPs on 2 channels × 2×2 points */
    nde_stagger_model_spec spec = {.grid = {.ndim = 2, .channels = 2, .nt = 1, .n = {4, 6}, .s_t = 1,
                                            .s = {2, 3}}, .residual = 0};
    nde_model *subs[6];
    for (size_t k = 0; k < 6; k++) {
        nde_mlp_spec ms = {.in = 8, .out = 8, .hidden = {5}, .act = NDE_ACT_TANH};
        CHECK(nde_model_mlp_create(&ms, "mlp", NDE_INIT_TORCH, 0.0, &subs[k]));
    }
    nde_model *m;
    CHECK(nde_model_stagger_create(&spec, subs, 6, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 12);
    CHECK(nde_model_init(m, &rng));
    double x[3 * 48];
    fill(x, 3 * 48, 13, 1.0);
    model_check_grad(m, x, 3, 1e-6, 1e-6, 14);
    nde_model_destroy(&m);
}

/* Distinct sub-solvers with equal θ give what the shared one gives, and both equal the
 * sub-solver applied piece by piece (by the index formula). With s = 1 everywhere the
 * staggered model is its sub-solver, bit for bit. */
Test(stagger, model_layout_matches_pieces)
{
    nde_stagger_model_spec spec = {.grid = {.ndim = 1, .channels = 1, .nt = 2, .n = {6}, .s_t = 2,
                                            .s = {3}}, .residual = 1};
    nde_mlp_spec ms = {.in = 2, .out = 2, .hidden = {4}, .act = NDE_ACT_TANH};
    nde_model *one, *ref, *subs[6];
    CHECK(nde_model_mlp_create(&ms, "mlp", NDE_INIT_TORCH, 0.0, &one));
    CHECK(nde_model_mlp_create(&ms, "mlp", NDE_INIT_TORCH, 0.0, &ref));
    nde_rng rng;
    nde_rng_seed(&rng, 15);
    CHECK(nde_model_init(ref, &rng));
    const size_t np = nde_model_n_params(ref);
    memcpy(nde_params_theta(nde_model_params(one)), nde_params_theta(nde_model_params(ref)), np * sizeof(double));
    for (size_t k = 0; k < 6; k++) {
        CHECK(nde_model_mlp_create(&ms, "mlp", NDE_INIT_TORCH, 0.0, &subs[k]));
        memcpy(nde_params_theta(nde_model_params(subs[k])), nde_params_theta(nde_model_params(ref)),
               np * sizeof(double));
    }
    nde_model *shared, *distinct;
    CHECK(nde_model_stagger_create(&spec, &one, 1, &shared));
    CHECK(nde_model_stagger_create(&spec, subs, 6, &distinct));
    double x[2 * 12], y1[2 * 12], y2[2 * 12];
    fill(x, 24, 16, 1.0);
    CHECK(nde_model_forward(shared, x, y1, 2));
    CHECK(nde_model_forward(distinct, x, y2, 2));
    cr_assert_eq(memcmp(y1, y2, sizeof y1), 0);
    /* piece (a, b): levels a, points b, b+3 of each sample */
    for (size_t bt = 0; bt < 2; bt++)
        for (size_t a = 0; a < 2; a++)
            for (size_t b = 0; b < 3; b++) {
                double in[2] = {x[bt * 12 + a * 6 + b], x[bt * 12 + a * 6 + b + 3]}, out[2];
                CHECK(nde_model_forward(ref, in, out, 1));
                cr_assert_eq(y1[bt * 12 + a * 6 + b], in[0] + out[0]);
                cr_assert_eq(y1[bt * 12 + a * 6 + b + 3], in[1] + out[1]);
            }
    nde_model_destroy(&shared), nde_model_destroy(&distinct);
    /* s = 1: the identity decomposition */
    nde_stagger_model_spec id = {.grid = {.ndim = 1, .channels = 1, .nt = 1, .n = {2}, .s_t = 1,
                                          .s = {1}}};
    CHECK(nde_model_mlp_create(&ms, "mlp", NDE_INIT_TORCH, 0.0, &one));
    memcpy(nde_params_theta(nde_model_params(one)), nde_params_theta(nde_model_params(ref)), np * sizeof(double));
    CHECK(nde_model_stagger_create(&id, &one, 1, &shared));
    CHECK(nde_model_forward(shared, x, y1, 4));
    CHECK(nde_model_forward(ref, x, y2, 4));
    cr_assert_eq(memcmp(y1, y2, 8 * sizeof(double)), 0);
    nde_model_destroy(&shared), nde_model_destroy(&ref);
}

Test(stagger, create_errors_free_the_subsolvers)
{
    nde_stagger_model_spec spec = {.grid = {.ndim = 1, .channels = 1, .nt = 1, .n = {6}, .s_t = 1,
                                            .s = {3}}};
    nde_mlp_spec ms = {.in = 3, .out = 2, .hidden = {4}, .act = NDE_ACT_TANH};
    nde_model *subs[3], *m = (nde_model *)1;
    CHECK(nde_model_mlp_create(&ms, "mlp", NDE_INIT_TORCH, 0.0, &subs[0]));
    cr_assert_eq(nde_model_stagger_create(&spec, subs, 1, &m), NDE_ERR_ARG); /* 3 → 2, pieces of 2 */
    cr_assert(strstr(nde_last_error(), "sub-fields have 2") != NULL, "%s", nde_last_error());
    cr_assert_null(m);
    cr_assert_null(subs[0]);
    ms.in = 2;
    for (int k = 0; k < 2; k++) CHECK(nde_model_mlp_create(&ms, "mlp", NDE_INIT_TORCH, 0.0, &subs[k]));
    cr_assert_eq(nde_model_stagger_create(&spec, subs, 2, &m), NDE_ERR_ARG); /* 2 of 3 */
    cr_assert_null(subs[0]);
    cr_assert_null(subs[1]);
}

/* ∂/∂θ of the physics loss of the staggered model's prediction, through the arrangement
 * (the gradient the trainer steps on), against central differences. */
Test(stagger, whole_physics_gradient)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    const size_t n = 16, batch = 2;
    nde_stagger_model_spec spec = {.grid = {.ndim = 1, .channels = 1, .nt = 2, .n = {n}, .s_t = 2,
                                            .s = {2}}, .residual = 1};
    nde_model *subs[4];
    for (size_t k = 0; k < 4; k++) subs[k] = small_fno(ctx, 8, batch);
    nde_model *m;
    CHECK(nde_model_stagger_create(&spec, subs, 4, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 17);
    CHECK(nde_model_init(m, &rng));
    nde_burgers_residual_spec rs = {.n = n, .nt = 2, .length = 1, .dt = 0.01, .nu = 0.05, .theta = 0.5};
    nde_loss loss = nde_loss_burgers_residual(&rs);
    double x[2 * 32], y[2 * 32], gy[2 * 32], v;
    for (size_t b = 0; b < batch; b++)
        for (size_t t = 0; t < 2; t++)
            for (size_t j = 0; j < n; j++)
                x[(b * 2 + t) * n + j] = sin(2 * NDE_PI * (j / (double)n + 0.1 * b)) * (1 - 0.1 * t);
    nde_params *p = nde_model_params(m);
    const size_t np = nde_params_count(p);
    double *g = nde_alloc_array(np, sizeof(double)), *fd = nde_alloc_array(np, sizeof(double));
    cr_assert(g && fd);
    CHECK(nde_model_forward(m, x, y, batch));
    CHECK(loss.fn(loss.ctx, y, x, gy, batch, 32, &v));
    CHECK(nde_model_backward(m, gy, NULL, g, batch));
    double *th = nde_params_theta(p);
    for (size_t i = 0; i < np; i++) {
        const double t0 = th[i], h = 1e-6 * (1 + fabs(t0));
        double lp, lm;
        th[i] = t0 + h;
        CHECK(nde_model_forward(m, x, y, batch));
        CHECK(loss.fn(loss.ctx, y, x, NULL, batch, 32, &lp));
        th[i] = t0 - h;
        CHECK(nde_model_forward(m, x, y, batch));
        CHECK(loss.fn(loss.ctx, y, x, NULL, batch, 32, &lm));
        th[i] = t0;
        fd[i] = (lp - lm) / (2 * h);
    }
    double e = rel_err(g, fd, np);
    cr_assert(e < 1e-6, "d(physics loss)/dθ relative error %.3g", e);
    nde_free(g), nde_free(fd);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
}

/* The trainer trains the staggered model on the physics loss alone (target = the input
 * window): the loss falls, and the same seed gives the same bits. */
static double train_once(nde_ctx *ctx, double *theta_out, size_t np_max)
{
    const size_t n = 16, ns = 8;
    nde_stagger_model_spec spec = {.grid = {.ndim = 1, .channels = 1, .nt = 1, .n = {n}, .s_t = 1,
                                            .s = {2}}, .residual = 1};
    nde_model *subs[2] = {small_fno(ctx, 8, 4), small_fno(ctx, 8, 4)}, *m;
    CHECK(nde_model_stagger_create(&spec, subs, 2, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 18);
    CHECK(nde_model_init(m, &rng));
    double x[8 * 16];
    for (size_t s = 0; s < ns; s++)
        for (size_t j = 0; j < n; j++)
            x[s * n + j] = sin(2 * NDE_PI * j / (double)n + 0.7 * s) + 0.3 * cos(4 * NDE_PI * j / (double)n);
    nde_burgers_residual_spec rs = {.n = n, .nt = 1, .length = 1, .dt = 0.01, .nu = 0.05, .theta = 0.5};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 4, ts.epochs = 30, ts.optim.lr = 3e-3, ts.loss = nde_loss_burgers_residual(&rs);
    ts.use_rng = 1, ts.rng = rng, ts.progress = 0, ts.eval_every = 0;
    nde_data train = {.n = ns, .x_size = n, .y_size = n, .x = x, .y = x};
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &train, NULL, &ts, &tr));
    double before, after;
    CHECK(nde_trainer_evaluate(tr, &train, &before));
    CHECK(nde_trainer_run(tr));
    CHECK(nde_trainer_evaluate(tr, &train, &after));
    cr_assert(after < 0.2 * before, "physics loss %.4g → %.4g", before, after);
    const size_t np = nde_model_n_params(m);
    cr_assert(np <= np_max);
    memcpy(theta_out, nde_params_theta(nde_model_params(m)), np * sizeof(double));
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
    return after;
}

Test(stagger, trainer_trains_on_physics_loss)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    static double t1[4096], t2[4096];
    double a = train_once(ctx, t1, 4096), b = train_once(ctx, t2, 4096);
    cr_assert_eq(a, b);
    cr_assert_eq(memcmp(t1, t2, sizeof t1), 0);
    nde_ctx_destroy(&ctx);
}
