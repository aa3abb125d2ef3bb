/* nn: activations (vs long-double truth, finite differences and PyTorch), dense layer
 * and MLP (vs naive loops, central finite differences, PyTorch), JVP, the field
 * adaptor, initializer statistics, and bad input. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nde/nde.h"
#include "gradcheck.h"
#include "numcheck.h"
#include "ref/nn_ref.h"
#include "nn/nn_internal.h" /* the dense products shared with the operator layers */

#define FD_H 1e-6
#define FD_TOL 1e-6

static void fill_sin(double *v, size_t n, double a, double b, double scale)
{
    for (size_t i = 0; i < n; i++) v[i] = scale * sin(a * (double)i + b);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- activations ------------------------------------------------------------ */

Test(act, names_round_trip_and_aliases)
{
    for (int i = 0; i < NDE_ACT_COUNT; i++) {
        nde_act a;
        cr_assert_eq(nde_act_parse(nde_act_name((nde_act)i), &a), NDE_OK);
        cr_assert_eq(a, (nde_act)i);
    }
    nde_act a;
    cr_assert_eq(nde_act_parse("SiLU", &a), NDE_OK);
    cr_assert_eq(a, NDE_ACT_SWISH);
    cr_assert_eq(nde_act_parse("TANH", &a), NDE_OK);
    cr_assert_eq(a, NDE_ACT_TANH);
    cr_assert_eq(nde_act_parse("linear", &a), NDE_OK);
    cr_assert_eq(a, NDE_ACT_IDENTITY);
    cr_assert_eq(nde_act_parse("elu", &a), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "'elu'") != NULL);
    cr_assert_eq(nde_act_parse(NULL, &a), NDE_ERR_ARG);
    cr_assert_str_eq(nde_act_name((nde_act)99), "unknown");
}

/* Values and derivatives against torch.nn.functional on a grid crossing softplus's
 * threshold and tanh's saturation. */
Test(act, matches_pytorch)
{
    const size_t n = NN_REF_GRID_N;
    double y[NN_REF_GRID_N], dx[NN_REF_GRID_N], ones[NN_REF_GRID_N];
    for (size_t i = 0; i < n; i++) ones[i] = 1.0;
    for (int a = 0; a < NDE_ACT_COUNT; a++) {
        cr_assert_eq(nde_act_forward((nde_act)a, nn_ref_grid, y, n), NDE_OK);
        cr_assert_eq(nde_act_backward((nde_act)a, nn_ref_grid, y, ones, dx, n), NDE_OK);
        for (size_t i = 0; i < n; i++) {
            const double *ref = nn_ref_act[a][0], *dref = nn_ref_act[a][1];
            cr_assert(fabs(y[i] - ref[i]) <= 1e-12 * fmax(1.0, fabs(ref[i])),
                      "%s(%g) = %.17g, torch %.17g", nde_act_name((nde_act)a), nn_ref_grid[i],
                      y[i], ref[i]);
            cr_assert(fabs(dx[i] - dref[i]) <= 1e-12 * fmax(1.0, fabs(dref[i])),
                      "%s'(%g) = %.17g, torch %.17g", nde_act_name((nde_act)a), nn_ref_grid[i],
                      dx[i], dref[i]);
        }
    }
}

/* The activation over a vector, for gc_fd_jvp. */
typedef struct act_eval {
    nde_act a;
    const double *x;
    size_t n;
} act_eval;

static void act_eval_forward(void *user, double *y)
{
    act_eval *e = user;
    cr_assert_eq(nde_act_forward(e->a, e->x, y, e->n), NDE_OK);
}

/* Every derivative against central differences of the forward (all points at once: the
 * activation is element-wise, so the JVP along ones is its derivative), away from relu's
 * kink and softplus's threshold. */
Test(act, derivatives_match_finite_differences)
{
    enum { N = 400 };
    static double x[N], y[N], dy[N], dx[N], ones[N], save[N], ym[N], fd[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = -12.0 + 24.0 * ((double)i + 0.37) / N;
        dy[i] = 1.0 + 0.5 * sin(0.3 * (double)i);
    }
    for (int a = 0; a < NDE_ACT_COUNT; a++) {
        cr_assert_eq(nde_act_forward((nde_act)a, x, y, N), NDE_OK);
        cr_assert_eq(nde_act_backward((nde_act)a, x, y, dy, dx, N), NDE_OK);
        for (size_t i = 0; i < N; i++) ones[i] = 1.0;
        act_eval ae = {.a = (nde_act)a, .x = x, .n = N};
        gc_fd_jvp(x, ones, N, FD_H, act_eval_forward, &ae, N, fd, save, ym);
        for (size_t i = 0; i < N; i++) fd[i] *= dy[i];
        gc_expect_close(dx, fd, N, gc_l2(FD_TOL), "%s: derivative", nde_act_name((nde_act)a));
        /* in place (dx aliasing dy, y aliasing x) gives the same bits */
        double tmp[N];
        memcpy(tmp, dy, sizeof tmp);
        cr_assert_eq(nde_act_backward((nde_act)a, x, y, tmp, tmp, N), NDE_OK);
        cr_assert_eq(memcmp(tmp, dx, sizeof tmp), 0);
        memcpy(tmp, x, sizeof tmp);
        cr_assert_eq(nde_act_forward((nde_act)a, tmp, tmp, N), NDE_OK);
        cr_assert_eq(memcmp(tmp, y, sizeof tmp), 0);
    }
}

/* Relative error of the vectorized tanh against long-double tanhl, over a uniform sweep
 * of [−25, 25] and magnitudes from 1e-310 to 1e300. Bound 4e-16: the Padé branch adds a
 * correction ≤ 0.24|x| to x, the exp branch's error is damped by q/(1−q) ≤ 0.32, so the
 * result is within ~3.5 units of 2^-53 (measured: 1.4e-16 with FMA, 1.6e-16 without). */
Test(act, tanh_is_accurate_over_the_whole_range)
{
    enum { NU = 200000, NL = 20000, N = NU + 2 * NL };
    static double x[N], y[N];
    for (size_t i = 0; i < NU; i++) x[i] = -25.0 + 50.0 * (double)i / (NU - 1);
    for (size_t i = 0; i < NL; i++) {
        double m = pow(10.0, -310.0 + 610.0 * (double)i / (NL - 1));
        x[NU + 2 * i] = m;
        x[NU + 2 * i + 1] = -m * 1.0000001;
    }
    cr_assert_eq(nde_act_forward(NDE_ACT_TANH, x, y, N), NDE_OK);
    double worst = 0.0;
    for (size_t i = 0; i < N; i++) {
        long double t = tanhl((long double)x[i]);
        if (t == 0.0L) {
            cr_assert_eq(y[i], 0.0);
            continue;
        }
        double e = (double)fabsl(((long double)y[i] - t) / t);
        if (e > worst) worst = e;
        cr_assert(e <= 4e-16, "tanh(%.17g) = %.17g, relative error %g", x[i], y[i], e);
    }
    cr_assert(worst > 0.0); /* the sweep did compare rounded values */
}

/* An array with few values outside (−1, 1) takes the exp-free pass plus a scalar fix-up:
 * the same bits as the full kernel (which one-value calls of values outside take), for
 * values inside, at ±1 and beyond; also in place. */
Test(act, tanh_small_block_path_has_the_full_kernels_bits)
{
    enum { N = 1 << 14 };
    static double x[N], y[N];
    nde_rng r;
    nde_rng_seed(&r, 5);
    for (size_t i = 0; i < N; i++) {
        double u = nde_rng_uniform_in(&r, -1.0, 1.0);
        /* mostly small blocks; every 64th value ±1 or beyond, ending a block's small run */
        x[i] = i % 64 == 63 ? (i % 128 == 127 ? -1.0 : 1.0 + u * u) : u * (i % 3 ? 1.0 : 1e-3);
    }
    cr_assert_eq(nde_act_forward(NDE_ACT_TANH, x, y, N), NDE_OK);
    static double z[N];
    memcpy(z, x, sizeof z);
    cr_assert_eq(nde_act_forward(NDE_ACT_TANH, z, z, N), NDE_OK);
    cr_assert(memcmp(z, y, sizeof z) == 0, "in place");
    for (size_t i = 0; i < N; i++) {
        double one;
        cr_assert_eq(nde_act_forward(NDE_ACT_TANH, x + i, &one, 1), NDE_OK);
        cr_assert(memcmp(&one, &y[i], sizeof one) == 0, "tanh(%a): %a in a block, %a alone", x[i],
                  y[i], one);
    }
}

Test(act, tanh_special_values_symmetry_and_limits)
{
    double x[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 20.0, -20.0, 1e300, -1e300, 5e-324};
    enum { N = sizeof x / sizeof x[0] };
    double y[N];
    cr_assert_eq(nde_act_forward(NDE_ACT_TANH, x, y, N), NDE_OK);
    cr_assert(isnan(y[0]));
    cr_assert_eq(y[1], 1.0);
    cr_assert_eq(y[2], -1.0);
    cr_assert(y[3] == 0.0 && !signbit(y[3]));
    cr_assert(y[4] == 0.0 && signbit(y[4]));
    cr_assert_eq(y[5], 1.0);
    cr_assert_eq(y[6], -1.0);
    cr_assert_eq(y[7], 1.0);
    cr_assert_eq(y[8], -1.0);
    cr_assert_eq(y[9], 5e-324);
    /* odd bit for bit, bounded by 1, monotone on a fine grid */
    enum { M = 4001 };
    static double u[M], v[M], un[M], vn[M];
    for (size_t i = 0; i < M; i++) {
        u[i] = 30.0 * (double)i / (M - 1);
        un[i] = -u[i];
    }
    cr_assert_eq(nde_act_forward(NDE_ACT_TANH, u, v, M), NDE_OK);
    cr_assert_eq(nde_act_forward(NDE_ACT_TANH, un, vn, M), NDE_OK);
    for (size_t i = 0; i < M; i++) {
        cr_assert_eq(vn[i], -v[i]);
        cr_assert(v[i] <= 1.0);
        if (i > 0) cr_assert(v[i] >= v[i - 1]);
        if (u[i] >= 20.0) cr_assert_eq(v[i], 1.0);
    }
}

/* sigmoid and swish use the same vectorized exp: relative error ≤ 5e-16 against long
 * double (exp ≤ 1 ulp, then one addition and one division), and IEEE limits. */
Test(act, sigmoid_and_swish_are_accurate)
{
    enum { N = 100001 };
    static double x[N], s[N], w[N];
    for (size_t i = 0; i < N; i++) x[i] = -700.0 + 1400.0 * (double)i / (N - 1);
    cr_assert_eq(nde_act_forward(NDE_ACT_SIGMOID, x, s, N), NDE_OK);
    cr_assert_eq(nde_act_forward(NDE_ACT_SWISH, x, w, N), NDE_OK);
    for (size_t i = 0; i < N; i++) {
        long double ts = 1.0L / (1.0L + expl(-(long double)x[i]));
        long double tw = (long double)x[i] * ts;
        cr_assert((double)fabsl((s[i] - ts) / ts) <= 5e-16, "sigmoid(%.17g) = %.17g", x[i], s[i]);
        if (tw != 0.0L)
            cr_assert((double)fabsl((w[i] - tw) / tw) <= 5e-16, "swish(%.17g) = %.17g", x[i],
                      w[i]);
    }
    double sx[] = {NAN, INFINITY, -INFINITY, 800.0, -800.0};
    double sy[5], wy[5];
    cr_assert_eq(nde_act_forward(NDE_ACT_SIGMOID, sx, sy, 5), NDE_OK);
    cr_assert_eq(nde_act_forward(NDE_ACT_SWISH, sx, wy, 5), NDE_OK);
    cr_assert(isnan(sy[0]) && isnan(wy[0]));
    cr_assert(sy[1] == 1.0 && sy[2] == 0.0 && sy[3] == 1.0 && sy[4] == 0.0);
    cr_assert(wy[1] == INFINITY && wy[3] == 800.0 && wy[4] == 0.0);
}

/* GELU against long double: gelu(z) = ½ z erfc(−z/√2), gelu'(z) = Φ(z) + z φ(z).
 * Bound: (16 + z²) ulp. The z² term is what rounding u = −z/√2 to double costs any
 * evaluation through erfc(u): a relative change δ in u changes erfc by 2u²δ = z²δ, and
 * δ ≤ 0.81 ε here (the constant 1/√2 and the product). Over z ≤ −6 the bound fails for
 * torch's ½ z (1 + erf(z/√2)), whose 1 + erf cancels (at z = −8 no digit is left). */
Test(act, gelu_is_accurate_including_the_far_negative_tail)
{
    enum { N = 77001 };
    static double z[N], y[N], g[N], one[N];
    for (size_t i = 0; i < N; i++) {
        z[i] = -37.0 + 77.0 * (double)i / (N - 1); /* gelu(−37) ≈ −2e−298 is still normal */
        one[i] = 1.0;
    }
    cr_assert_eq(nde_act_forward(NDE_ACT_GELU, z, y, N), NDE_OK);
    cr_assert_eq(nde_act_backward(NDE_ACT_GELU, z, y, one, g, N), NDE_OK);
    const long double inv_sqrt2 = 0.70710678118654752440084436210484903928L;
    const long double inv_sqrt_2pi = 0.39894228040143267793994605993438186848L;
    double worst_y = 0.0, worst_g = 0.0; /* in units of DBL_EPSILON·(16 + z²) */
    for (size_t i = 0; i < N; i++) {
        long double zl = z[i], cdf = 0.5L * erfcl(-zl * inv_sqrt2);
        long double pdf = inv_sqrt_2pi * expl(-0.5L * zl * zl);
        long double ty = zl * cdf, tg = cdf + zl * pdf;
        double bound = (16.0 + z[i] * z[i]) * DBL_EPSILON;
        double ey = (double)(fabsl(y[i] - ty) / (bound * fabsl(ty)));
        double eg = (double)(fabsl(g[i] - tg) / (bound * (cdf + fabsl(zl * pdf))));
        if (ty == 0.0L) ey = y[i] == 0.0 ? 0.0 : INFINITY;
        cr_assert(ey <= 1.0, "gelu(%.17g) = %.17g, reference %.17Lg", z[i], y[i], ty);
        cr_assert(eg <= 1.0, "gelu'(%.17g) = %.17g, reference %.17Lg", z[i], g[i], tg);
        worst_y = fmax(worst_y, ey);
        worst_g = fmax(worst_g, eg);
    }
    cr_log_info("gelu worst error %.3f, gelu' %.3f of the bound", worst_y, worst_g);
    /* the cancelling form must fail this test where it is used by torch */
    double zc = -8.0, erf_form = 0.5 * zc * (1.0 + erf(zc / sqrt(2.0)));
    long double tc = 0.5L * zc * erfcl(-(long double)zc * inv_sqrt2);
    cr_assert(fabsl(erf_form - tc) > 1e-3L * fabsl(tc));
    /* underflow, limits and NaN */
    double sx[] = {-40.0, -1e300, 40.0, 1e300, INFINITY, NAN, 0.0, -0.0};
    double sy[8];
    cr_assert_eq(nde_act_forward(NDE_ACT_GELU, sx, sy, 8), NDE_OK);
    cr_assert(sy[0] <= 0.0 && sy[0] > -1e-320 && sy[1] == 0.0);
    cr_assert(sy[2] == 40.0 && sy[3] == 1e300 && sy[4] == INFINITY);
    cr_assert(isnan(sy[5]) && sy[6] == 0.0 && sy[7] == 0.0);
}

Test(act, bad_input_is_rejected)
{
    double x[2] = {0.0, 1.0}, y[2];
    cr_assert_eq(nde_act_forward((nde_act)42, x, y, 2), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "unknown activation 42") != NULL);
    cr_assert_eq(nde_act_forward(NDE_ACT_TANH, NULL, y, 2), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "tanh") != NULL);
    cr_assert_eq(nde_act_backward(NDE_ACT_GELU, x, y, NULL, y, 2), NDE_ERR_ARG);
    cr_assert_eq(nde_act_forward(NDE_ACT_TANH, NULL, NULL, 0), NDE_OK);
}

/* ---- initializers ----------------------------------------------------------- */

static void moments(const double *v, size_t n, double *mean, double *var, double *maxabs)
{
    double s = 0.0, s2 = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        s2 += v[i] * v[i];
        if (fabs(v[i]) > m) m = fabs(v[i]);
    }
    *mean = s / (double)n;
    *var = s2 / (double)n - *mean * *mean;
    *maxabs = m;
}

/* Moments of a 300×200 layer: for n = 60000 draws the standard error of the sample
 * variance is ≈ σ²·√(0.8/n) (uniform) or σ²·√(2/n) (normal), ≤ 0.6% of σ²; we allow 3%. */
Test(init, statistics_match_the_definitions)
{
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_dense d;
    cr_assert_eq(nde_dense_add(p, "big", 200, 300, 0, &d), NDE_OK);
    nde_rng rng;
    nde_rng_seed(&rng, 11);
    const double *th = nde_params_theta_const(p);
    double mean, var, mx;
    size_t nw = 300 * 200;

    cr_assert_eq(nde_dense_init(&d, p, NDE_INIT_TORCH, 0.0, &rng), NDE_OK);
    th = nde_params_theta_const(p);
    double bound = 1.0 / sqrt(200.0);
    moments(th + d.w_off, nw, &mean, &var, &mx);
    /* P(max |w| < 0.999 bound) = 0.999^60000 ≈ e^-60 */
    cr_assert(mx <= bound && mx > 0.999 * bound);
    cr_assert(fabs(mean) < 0.02 * bound);
    cr_assert(fabs(var / (bound * bound / 3.0) - 1.0) < 0.03);
    moments(th + d.b_off, 300, &mean, &var, &mx);
    cr_assert(mx <= bound && mx > 0.9 * bound); /* biases drawn too, same bound */

    cr_assert_eq(nde_dense_init(&d, p, NDE_INIT_XAVIER_UNIFORM, 2.0, &rng), NDE_OK);
    bound = 2.0 * sqrt(6.0 / 500.0);
    moments(th + d.w_off, nw, &mean, &var, &mx);
    cr_assert(mx <= bound && mx > 0.999 * bound);
    cr_assert(fabs(var / (bound * bound / 3.0) - 1.0) < 0.03);
    moments(th + d.b_off, 300, &mean, &var, &mx);
    cr_assert_eq(mx, 0.0);

    cr_assert_eq(nde_dense_init(&d, p, NDE_INIT_XAVIER_NORMAL, 1.0, &rng), NDE_OK);
    moments(th + d.w_off, nw, &mean, &var, &mx);
    cr_assert(fabs(var / (2.0 / 500.0) - 1.0) < 0.03);
    cr_assert(fabs(mean) < 0.02 * sqrt(2.0 / 500.0));

    cr_assert_eq(nde_dense_init(&d, p, NDE_INIT_NORMAL, 0.1, &rng), NDE_OK);
    moments(th + d.w_off, nw, &mean, &var, &mx);
    cr_assert(fabs(var / 0.01 - 1.0) < 0.03);
    cr_assert(mx > 0.3); /* a normal sample of 60000 reaches 3σ */
    moments(th + d.b_off, 300, &mean, &var, &mx);
    cr_assert_eq(mx, 0.0);
    nde_params_destroy(&p);
}

/* Time-input layers count the time column in fan_in (torch.nn.Linear(in + 1, out)). */
Test(init, time_column_counts_in_fan_in_and_names_are_torch_like)
{
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_mlp *net;
    /* fan_in 99 + 1 = 100 → bound 0.1 for layer 0; 399 + 1 → 0.05 for layer 1 */
    nde_mlp_spec spec = {.in = 99, .out = 99, .hidden = {399}, .act = NDE_ACT_TANH,
                         .time = NDE_TIME_ALL};
    cr_assert_eq(nde_mlp_create(p, &spec, "f", &net), NDE_OK);
    const nde_tensor_info *w0 = nde_params_find(p, "f.0.weight");
    const nde_tensor_info *w1 = nde_params_find(p, "f.1.weight");
    const nde_tensor_info *b1 = nde_params_find(p, "f.1.bias");
    cr_assert(w0 && w1 && b1);
    cr_assert(w0->shape[0] == 399 && w0->shape[1] == 100 && w0->group == NDE_GROUP_DEFAULT);
    cr_assert(w1->shape[0] == 99 && w1->shape[1] == 400);
    cr_assert(b1->shape[0] == 99 && b1->group == NDE_GROUP_NO_DECAY);
    nde_rng rng;
    nde_rng_seed(&rng, 3);
    cr_assert_eq(nde_mlp_init(net, p, NDE_INIT_TORCH, 0.0, &rng), NDE_OK);
    const double *th = nde_params_theta_const(p);
    double mean, var, mx;
    moments(th + w0->offset, w0->numel, &mean, &var, &mx);
    cr_assert(mx <= 0.1 && mx > 0.0999); /* 39900 draws: P(max < 0.999 bound) ≈ e^-40 */
    moments(th + w1->offset, w1->numel, &mean, &var, &mx);
    cr_assert(mx <= 0.05 && mx > 0.04995);
    nde_mlp_destroy(&net);
    nde_params_destroy(&p);
}

Test(init, same_seed_same_bits_and_bad_scale)
{
    nde_params *p, *q;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    cr_assert_eq(nde_params_create(&q), NDE_OK);
    nde_mlp_spec spec = {.in = 2, .out = 2, .hidden = {50}, .act = NDE_ACT_TANH};
    nde_mlp *a, *b;
    cr_assert_eq(nde_mlp_create(p, &spec, "m", &a), NDE_OK);
    cr_assert_eq(nde_mlp_create(q, &spec, "m", &b), NDE_OK);
    nde_rng r1, r2;
    nde_rng_seed(&r1, 99);
    nde_rng_seed(&r2, 99);
    cr_assert_eq(nde_mlp_init(a, p, NDE_INIT_NORMAL, 0.1, &r1), NDE_OK);
    cr_assert_eq(nde_mlp_init(b, q, NDE_INIT_NORMAL, 0.1, &r2), NDE_OK);
    size_t n = nde_params_count(p);
    cr_assert_eq(memcmp(nde_params_theta_const(p), nde_params_theta_const(q), n * sizeof(double)),
                 0);
    nde_rng_seed(&r2, 100);
    cr_assert_eq(nde_mlp_init(b, q, NDE_INIT_NORMAL, 0.1, &r2), NDE_OK);
    cr_assert_neq(memcmp(nde_params_theta_const(p), nde_params_theta_const(q), n * sizeof(double)),
                  0);
    cr_assert_eq(nde_mlp_init(a, p, NDE_INIT_NORMAL, 0.0, &r1), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "scale") != NULL);
    cr_assert_eq(nde_mlp_init(a, p, NDE_INIT_XAVIER_UNIFORM, NAN, &r1), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_init(a, p, (nde_init)7, 1.0, &r1), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_init(a, p, NDE_INIT_TORCH, 0.0, NULL), NDE_ERR_ARG);
    nde_init k;
    cr_assert_eq(nde_init_parse("Xavier_Normal", &k), NDE_OK);
    cr_assert_eq(k, NDE_INIT_XAVIER_NORMAL);
    cr_assert_eq(nde_init_parse("kaiming", &k), NDE_ERR_ARG);
    cr_assert_str_eq(nde_init_name(NDE_INIT_TORCH), "torch");
    nde_mlp_destroy(&a);
    nde_mlp_destroy(&b);
    nde_params_destroy(&p);
    nde_params_destroy(&q);
}

/* ---- dense layer ------------------------------------------------------------ */

/* dense(t, x) for gradcheck.h's gc_cotangent (L = Σ dy ⊙ dense(x), in x or θ). */
typedef struct dense_eval {
    const nde_dense *d;
    const nde_params *p;
    double t;
    const double *x;
    size_t batch;
} dense_eval;

static void dense_eval_forward(void *user, double *y)
{
    dense_eval *e = user;
    cr_assert_eq(nde_dense_forward(e->d, e->p, e->t, e->x, y, e->batch), NDE_OK);
}

Test(dense, forward_matches_loops_and_backward_matches_fd)
{
    const unsigned flag_sets[] = {0, NDE_DENSE_NO_BIAS, NDE_DENSE_TIME_INPUT,
                                  NDE_DENSE_TIME_INPUT | NDE_DENSE_NO_BIAS};
    enum { IN = 3, OUT = 4, B = 5 };
    for (size_t k = 0; k < 4; k++) {
        nde_params *p;
        cr_assert_eq(nde_params_create(&p), NDE_OK);
        nde_dense d;
        cr_assert_eq(nde_dense_add(p, "lin", IN, OUT, flag_sets[k], &d), NDE_OK);
        size_t n = nde_params_count(p);
        cr_assert_eq(n, OUT * d.in_cols + (d.has_bias ? OUT : 0));
        double *th = nde_params_theta(p);
        fill_sin(th, n, 0.71, 0.3, 0.8);
        double x[B * IN], dy[B * OUT], y[B * OUT], dx[B * IN], t = 0.37;
        fill_sin(x, B * IN, 1.3, -0.2, 1.0);
        fill_sin(dy, B * OUT, 0.57, 0.9, 1.0);
        cr_assert_eq(nde_dense_forward(&d, p, t, x, y, B), NDE_OK);
        for (size_t b = 0; b < B; b++)
            for (size_t o = 0; o < OUT; o++) {
                double s = d.has_bias ? th[d.b_off + o] : 0.0;
                for (size_t i = 0; i < IN; i++) s += th[d.w_off + o * d.in_cols + i] * x[b * IN + i];
                if (d.has_time) s += th[d.w_off + o * d.in_cols + IN] * t;
                cr_assert(fabs(y[b * OUT + o] - s) <= 1e-14 * (1.0 + fabs(s)));
            }
        double *g = nde_params_grad(p);
        nde_params_zero_grad(p);
        cr_assert_eq(nde_dense_backward(&d, p, t, x, dy, dx, g, B), NDE_OK);
        double fdg[64], tmp[B * OUT];
        dense_eval de = {.d = &d, .p = p, .t = t, .x = x, .batch = B};
        gc_cotangent lc = {.f = dense_eval_forward, .user = &de, .r = dy, .nout = B * OUT, .out = tmp};
        gc_check(x, B * IN, FD_H, GC_CENTRAL2, gc_cotangent_eval, &lc, dx, gc_l2(FD_TOL),
                 "flags %u dx", flag_sets[k]);
        gc_fd_gradient(th, n, FD_H, GC_CENTRAL2, gc_cotangent_eval, &lc, fdg);
        gc_expect_close(g, fdg, n, gc_l2(FD_TOL), "flags %u dθ", flag_sets[k]);
        /* the gradient accumulates */
        cr_assert_eq(nde_dense_backward(&d, p, t, x, dy, NULL, g, B), NDE_OK);
        for (size_t i = 0; i < n; i++) cr_assert(fabs(g[i] - 2.0 * fdg[i]) <= 1e-8 * (1 + fabs(fdg[i])));
        /* jvp is the linear part: (y(x + w) − y(x)) exactly linear */
        double w[B * IN], jy[B * OUT], y2[B * OUT], xw[B * IN];
        fill_sin(w, B * IN, 0.4, 0.1, 1.0);
        for (size_t i = 0; i < B * IN; i++) xw[i] = x[i] + w[i];
        cr_assert_eq(nde_dense_jvp(&d, p, w, jy, B), NDE_OK);
        cr_assert_eq(nde_dense_forward(&d, p, t, xw, y2, B), NDE_OK);
        for (size_t i = 0; i < B * OUT; i++) y2[i] -= y[i];
        cr_assert(rel_err(jy, y2, B * OUT) <= 1e-13);
        nde_params_destroy(&p);
    }
}

/* The shared dense products (nn/nn_internal.h) in both layouts — rows (n, features) for
 * the MLP, columns (features, n) for 1×1 convolutions — with and without accumulation,
 * against triple loops. */
Test(dense, rows_and_columns_layouts_match_loops)
{
    const unsigned flag_sets[] = {0, NDE_DENSE_NO_BIAS, NDE_DENSE_TIME_INPUT,
                                  NDE_DENSE_TIME_INPUT | NDE_DENSE_NO_BIAS};
    enum { IN = 3, OUT = 70, N = 5 }; /* OUT > 64: two chunks of the bias sums */
    for (size_t k = 0; k < 4; k++)
        for (int cols = 0; cols < 2; cols++)
            for (int acc = 0; acc < 2; acc++) {
                nde_params *p;
                cr_assert_eq(nde_params_create(&p), NDE_OK);
                nde_dense d;
                cr_assert_eq(nde_nn_dense_add(p, "lin", IN, OUT, flag_sets[k],
                                              NDE_GROUP_DEFAULT, &d),
                             NDE_OK);
                size_t np = nde_params_count(p);
                double *th = nde_params_theta(p);
                fill_sin(th, np, 0.71, 0.3, 0.8);
                static double x[N * IN], dy[N * OUT], y[N * OUT], dx[N * IN], y0[N * OUT],
                    dx0[N * IN], g[IN * OUT + 2 * OUT], gref[IN * OUT + 2 * OUT];
                double t = 0.37;
                fill_sin(x, N * IN, 1.3, -0.2, 1.0);
                fill_sin(dy, N * OUT, 0.57, 0.9, 1.0);
                fill_sin(y0, N * OUT, 0.23, 0.1, acc ? 1.0 : 0.0);
                fill_sin(dx0, N * IN, 0.41, 0.5, acc ? 1.0 : 0.0);
                memcpy(y, y0, sizeof y);
                memcpy(dx, dx0, sizeof dx);
                for (size_t i = 0; i < np; i++) g[i] = gref[i] = 0.01 * (double)i;
                nde_nn_layout lay = cols ? NDE_NN_COLS : NDE_NN_ROWS;
                /* element (sample b, feature f) of an (N, F) or (F, N) array */
#define AT(a, F, b, f) ((a)[cols ? (f) * N + (b) : (b) * (F) + (f)])
                nde_nn_dense_forward(&d, th, t, x, y, N, lay, acc);
                nde_nn_dense_backward(&d, th, t, x, dy, dx, g, N, lay, acc);
                for (size_t b = 0; b < N; b++)
                    for (size_t o = 0; o < OUT; o++) {
                        double s = AT(y0, OUT, b, o) + (d.has_bias ? th[d.b_off + o] : 0.0);
                        if (d.has_time) s += t * th[d.w_off + o * d.in_cols + IN];
                        for (size_t i = 0; i < IN; i++)
                            s += th[d.w_off + o * d.in_cols + i] * AT(x, IN, b, i);
                        cr_assert(fabs(AT(y, OUT, b, o) - s) <= 1e-14 * (1.0 + fabs(s)),
                                  "flags %u cols %d acc %d y[%zu,%zu]", flag_sets[k], cols, acc,
                                  b, o);
                    }
                for (size_t b = 0; b < N; b++)
                    for (size_t i = 0; i < IN; i++) {
                        double s = AT(dx0, IN, b, i);
                        for (size_t o = 0; o < OUT; o++)
                            s += AT(dy, OUT, b, o) * th[d.w_off + o * d.in_cols + i];
                        cr_assert(fabs(AT(dx, IN, b, i) - s) <= 1e-13 * (1.0 + fabs(s)));
                    }
                for (size_t o = 0; o < OUT; o++)
                    for (size_t b = 0; b < N; b++) {
                        double v = AT(dy, OUT, b, o);
                        for (size_t i = 0; i < IN; i++)
                            gref[d.w_off + o * d.in_cols + i] += v * AT(x, IN, b, i);
                        if (d.has_time) gref[d.w_off + o * d.in_cols + IN] += t * v;
                        if (d.has_bias) gref[d.b_off + o] += v;
                    }
#undef AT
                for (size_t i = 0; i < np; i++)
                    cr_assert(fabs(g[i] - gref[i]) <= 1e-13 * (1.0 + fabs(gref[i])),
                              "flags %u cols %d acc %d gtheta[%zu]", flag_sets[k], cols, acc, i);
                nde_params_destroy(&p);
            }
}

/* ---- the small products, bit for bit ---------------------------------------------
 *
 * Below dgemm's sizes the dense layer computes x Wᵀ, dy W and dyᵀ x itself (gemm_small
 * in src/nn/dense.c) and promises the bits of OpenBLAS's micro-kernels: each entry one
 * fma chain over the summed index in order, starting from 0.0, then added to what was
 * there (or to +0). The reference below is that definition written as a plain scalar
 * loop, compared with memcmp over a sweep of shapes (tile edges: 1–3 rows or columns
 * left over, 4, 8, 16, 32 and beyond) in the strides of the three row-layout calls. */

/* 1 if gemm_small takes the product c (M × N) = a (M × K) b (K × N) whose operands have
 * the strides a_rs (a's row stride) and b_cs (b's column stride); the conditions of
 * gemm_small, restated (larger products go to dgemm, whose bits are OpenBLAS's). */
static int small_product(size_t M, size_t N, size_t K, size_t a_rs, size_t b_cs)
{
    enum { SMALL_K = 64, SMALL_N = 128, SMALL_T = 4096 };
    if (K > SMALL_K) return 0;
    if (N <= 4 && M >= 8 && a_rs == 1 && M <= SMALL_N) return 1;
    if (N <= 4 || N >= 8 || M < 8) return N <= SMALL_N && (b_cs == 1 || N * K <= SMALL_T);
    return M <= SMALL_N && (a_rs == 1 || M * K <= SMALL_T);
}

/* Σ_p u[p·us] v[p·vs] for p = 0, 1, …, k−1 as one fma chain from 0.0. */
static double fma_chain(const double *u, size_t us, const double *v, size_t vs, size_t k)
{
    double s = 0.0;
    for (size_t p = 0; p < k; p++) s = fma(u[p * us], v[p * vs], s);
    return s;
}

enum { GS_MAX = 128 * 130 }; /* the sweep's largest array: θ of 128 → 128 with time input */

typedef enum { GS_FORWARD, GS_DX, GS_GW } gs_call;

/* Layer and batch sizes for which `call` computes an (m × n) product summed over k:
 * forward y (batch, out) = x Wᵀ sums over in; dx (batch, in) = dy W over out;
 * gW (out, in) += dyᵀ x over batch. Returns 1 if the result was checked bitwise, 0 if the
 * product went to dgemm and was checked to 1e-13 instead. pool holds the values of θ, x,
 * dy and the output's previous contents. */
static int check_small_product(double pool[4][GS_MAX], gs_call call, size_t m, size_t n,
                                  size_t k, unsigned flags, int accumulate)
{
    const size_t batch = call == GS_GW ? k : m, in = call == GS_FORWARD ? k : n,
                 out = call == GS_FORWARD ? n : call == GS_DX ? k : m;
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_dense d;
    cr_assert_eq(nde_nn_dense_add(p, "lin", in, out, flags, NDE_GROUP_DEFAULT, &d), NDE_OK);
    const size_t np = nde_params_count(p), ic = d.in_cols;
    cr_assert(np <= GS_MAX);
    double *th = nde_params_theta(p);
    memcpy(th, pool[0], np * sizeof *th);
    const double *w = th + d.w_off, t = 0.37, *x = pool[1], *dy = pool[2];
    static double y[GS_MAX], y0[GS_MAX], g[GS_MAX], g0[GS_MAX];
    size_t rows, cols; /* of the result's array (row stride cols) */
    double *res, *ref = y0;
    if (call == GS_GW) {
        memcpy(g, pool[3], np * sizeof *g);
        memcpy(g0, g, np * sizeof *g);
        nde_nn_dense_backward(&d, th, t, x, dy, NULL, g, batch, NDE_NN_ROWS, accumulate);
        rows = out, cols = ic, res = g + d.w_off, ref = g0 + d.w_off;
    } else {
        rows = batch, cols = call == GS_FORWARD ? out : in;
        memcpy(y, pool[3], rows * cols * sizeof *y);
        memcpy(y0, y, rows * cols * sizeof *y);
        if (call == GS_FORWARD)
            nde_nn_dense_forward(&d, th, t, x, y, batch, NDE_NN_ROWS, accumulate);
        else
            nde_nn_dense_backward(&d, th, t, NULL, dy, y, NULL, batch, NDE_NN_ROWS, accumulate);
        res = y;
    }
    /* ref (in place of the "before" copy) = what was there + the chain, entry by entry */
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < (call == GS_GW ? in : cols); j++) {
            double *r = ref + i * cols + j, base = accumulate ? *r : 0.0, s;
            if (call == GS_FORWARD) {
                if (d.has_bias || d.has_time) { /* constant_part's b + t·W[:, in] first */
                    double c = d.has_bias ? th[d.b_off + j] : 0.0;
                    if (d.has_time) c += t * w[j * ic + in];
                    base = accumulate ? base + c : c;
                }
                s = fma_chain(x + i * in, 1, w + j * ic, 1, k);
            } else if (call == GS_DX) {
                s = fma_chain(dy + i * out, 1, w + j, ic, k);
            } else {
                base = *r; /* the weight gradient always accumulates */
                s = fma_chain(dy + i, out, x + j, in, k);
            }
            *r = base + s;
        }
    const size_t a_rs = call == GS_FORWARD ? in : call == GS_DX ? out : 1,
                 b_cs = call == GS_FORWARD ? ic : 1;
    const int small = small_product(m, n, k, a_rs, b_cs) && (call == GS_GW || batch >= 2);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < (call == GS_GW ? in : cols); j++) {
            const double u = res[i * cols + j], v = ref[i * cols + j];
            if (small)
                cr_assert(memcmp(&u, &v, sizeof u) == 0,
                          "call %d m %zu n %zu k %zu flags %u acc %d: entry (%zu, %zu) %a, "
                          "fma chain %a", (int)call, m, n, k, flags, accumulate, i, j, u, v);
            else
                cr_assert(fabs(u - v) <= 1e-13 * (1.0 + fabs(v)));
        }
    nde_params_destroy(&p);
    return small;
}

Test(dense, small_products_are_fma_chains_bit_for_bit)
{
    const size_t ms[] = {2, 3, 4, 5, 7, 8, 9, 16, 20, 33, 64, 65, 128};
    const size_t ns[] = {1, 2, 3, 4, 5, 8, 15, 16, 17, 32, 50, 64, 100, 128};
    const size_t ks[] = {1, 2, 3, 4, 5, 31, 32, 33, 64};
    /* no bias: y overwritten (C = +0 + sum) or accumulated; bias and time column: y
     * starts from the bias row, and W's row stride is in + 1 */
    const unsigned flag_sets[] = {NDE_DENSE_NO_BIAS, NDE_DENSE_TIME_INPUT};
    static double pool[4][GS_MAX];
    for (int i = 0; i < 4; i++) fill_sin(pool[i], GS_MAX, 0.71 + 0.3 * i, 0.3 - 0.2 * i, 1.0);
    size_t bitwise = 0, total = 0;
    for (int call = GS_FORWARD; call <= GS_GW; call++)
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
                for (size_t c = 0; c < sizeof ks / sizeof *ks; c++) {
                    /* the largest products only repeat the tiles of the smaller ones; left
                     * out so that the test stays short under valgrind and ASan */
                    if (ms[a] * ns[b] * ks[c] > 32768) continue;
                    for (size_t f = 0; f < 2; f++)
                        for (int acc = 0; acc < 2; acc++) {
                            bitwise += (size_t)check_small_product(
                                pool, (gs_call)call, ms[a], ns[b], ks[c], flag_sets[f], acc);
                            total++;
                        }
                }
    /* nearly all of the sweep is in the small path (not: some wide forward/dx products) */
    cr_assert(bitwise * 20 >= total * 19, "%zu of %zu products checked bitwise", bitwise, total);
}

Test(dense, bad_input_is_rejected)
{
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_dense d;
    cr_assert_eq(nde_dense_add(p, "l", 0, 3, 0, &d), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "zero width") != NULL);
    cr_assert_eq(nde_dense_add(p, "", 2, 3, 0, &d), NDE_ERR_ARG);
    cr_assert_eq(nde_dense_add(p, "l", 2, 3, 0x80, &d), NDE_ERR_ARG);
    cr_assert_eq(nde_dense_add(NULL, "l", 2, 3, 0, &d), NDE_ERR_ARG);
    cr_assert_eq(nde_dense_add(p, "l", 2, 3, 0, &d), NDE_OK);
    cr_assert_eq(nde_dense_add(p, "l", 2, 3, 0, &d), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "l.") != NULL);
    cr_assert_eq(nde_params_count(p), 9); /* the clash added nothing */
    double x[4] = {0}, y[6];
    cr_assert_eq(nde_dense_forward(&d, p, 0.0, x, y, 0), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "batch is 0") != NULL);
    cr_assert_eq(nde_dense_forward(&d, p, 0.0, NULL, y, 2), NDE_ERR_ARG);
    nde_params *small;
    cr_assert_eq(nde_params_create(&small), NDE_OK);
    cr_assert_eq(nde_dense_forward(&d, small, 0.0, x, y, 2), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "params hold 0") != NULL);
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    cr_assert_eq(nde_dense_init(&d, small, NDE_INIT_TORCH, 0.0, &rng), NDE_ERR_SHAPE);
    nde_params_destroy(&small);
    nde_params_destroy(&p);
}

/* ---- MLP ---------------------------------------------------------------------- */

typedef struct mlp_case {
    const char *name;
    nde_mlp_spec spec;
} mlp_case;

static const nde_act acts_mixed[3] = {NDE_ACT_GELU, NDE_ACT_SOFTPLUS, NDE_ACT_SIGMOID};
static const nde_act acts_relu[2] = {NDE_ACT_RELU, NDE_ACT_SWISH};

static const mlp_case mlp_cases[] = {
    {"tanh 2-50-2 (spiral)", {.in = 2, .out = 2, .hidden = {50}, .act = NDE_ACT_TANH}},
    {"tanh time_first 3-6-5-3",
     {.in = 3, .out = 3, .hidden = {6, 5}, .act = NDE_ACT_TANH, .time = NDE_TIME_FIRST}},
    {"time_all tanh/tanh 5-4-5 (FMNIST shape)",
     {.in = 5, .out = 5, .hidden = {4}, .act = NDE_ACT_TANH, .out_act = NDE_ACT_TANH,
      .time = NDE_TIME_ALL}},
    {"time_all gelu/softplus/sigmoid 3-4-4-3",
     {.in = 3, .out = 3, .hidden = {4, 4}, .time = NDE_TIME_ALL, .layer_act = acts_mixed}},
    {"relu/swish no bias 4-7-4",
     {.in = 4, .out = 4, .hidden = {7}, .no_bias = 1, .layer_act = acts_relu}},
    {"swish linear 3-3 (no hidden) time_first",
     {.in = 3, .out = 3, .act = NDE_ACT_SWISH, .out_act = NDE_ACT_SWISH,
      .time = NDE_TIME_FIRST}},
};
#define N_MLP_CASES (sizeof mlp_cases / sizeof mlp_cases[0])

static double act_ref(nde_act a, double z)
{
    switch (a) {
    case NDE_ACT_IDENTITY: return z;
    case NDE_ACT_TANH: return tanh(z);
    case NDE_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    case NDE_ACT_RELU: return z > 0.0 ? z : 0.0;
    case NDE_ACT_GELU: return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
    case NDE_ACT_SOFTPLUS: return z > 20.0 ? z : log(1.0 + exp(z));
    case NDE_ACT_SWISH: return z / (1.0 + exp(-z));
    default: return NAN;
    }
}

/* Naive reference: explicit concatenation [h, t] and triple loops, libm activations. */
static void mlp_ref(const nde_mlp *net, const nde_params *p, double t, const double *x,
                    double *y, size_t batch)
{
    const double *th = nde_params_theta_const(p);
    double h[64], nh[64], in_vec[65];
    for (size_t b = 0; b < batch; b++) {
        size_t width = nde_mlp_in(net);
        memcpy(h, x + b * width, width * sizeof *h);
        for (size_t l = 0; l < nde_mlp_n_layers(net); l++) {
            const nde_dense *d = nde_mlp_layer(net, l);
            memcpy(in_vec, h, width * sizeof *h);
            if (d->has_time) in_vec[width] = t;
            for (size_t o = 0; o < d->out; o++) {
                double s = d->has_bias ? th[d->b_off + o] : 0.0;
                for (size_t i = 0; i < d->in_cols; i++) s += th[d->w_off + o * d->in_cols + i] * in_vec[i];
                nh[o] = act_ref(nde_mlp_layer_act(net, l), s);
            }
            width = d->out;
            memcpy(h, nh, width * sizeof *h);
        }
        memcpy(y + b * width, h, width * sizeof *h);
    }
}

typedef struct built {
    nde_params *p;
    nde_mlp *net;
} built;

static built build(const nde_mlp_spec *spec, uint64_t seed)
{
    built r;
    cr_assert_eq(nde_params_create(&r.p), NDE_OK);
    cr_assert_eq(nde_mlp_create(r.p, spec, "mlp", &r.net), NDE_OK, "%s", nde_last_error());
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    cr_assert_eq(nde_mlp_init(r.net, r.p, NDE_INIT_TORCH, 0.0, &rng), NDE_OK);
    return r;
}

static void unbuild(built *r)
{
    nde_mlp_destroy(&r->net);
    cr_assert_null(r->net);
    nde_params_destroy(&r->p);
}

Test(mlp, forward_matches_naive_loops)
{
    enum { B = 6 };
    for (size_t c = 0; c < N_MLP_CASES; c++) {
        built m = build(&mlp_cases[c].spec, 10 + c);
        size_t in = nde_mlp_in(m.net), out = nde_mlp_out(m.net);
        double x[B * 8], y[B * 8], yr[B * 8], t = 0.83;
        fill_sin(x, B * in, 0.9, 0.4, 1.5);
        cr_assert_eq(nde_mlp_forward(m.net, m.p, t, x, y, B), NDE_OK);
        mlp_ref(m.net, m.p, t, x, yr, B);
        for (size_t i = 0; i < B * out; i++)
            cr_assert(fabs(y[i] - yr[i]) <= 1e-13 * (1.0 + fabs(yr[i])), "%s: y[%zu] %.17g vs %.17g",
                      mlp_cases[c].name, i, y[i], yr[i]);
        /* each sample on its own gives the same result (batch rows are independent) */
        for (size_t b = 0; b < B; b++) {
            double y1[8];
            cr_assert_eq(nde_mlp_forward(m.net, m.p, t, x + b * in, y1, 1), NDE_OK);
            for (size_t o = 0; o < out; o++)
                cr_assert(fabs(y1[o] - y[b * out + o]) <= 1e-14 * (1.0 + fabs(y1[o])));
        }
        unbuild(&m);
    }
}

/* MLP(t, x) for gc_fd_jvp. */
typedef struct mlp_eval {
    built *m;
    double t;
    const double *x;
    size_t batch;
} mlp_eval;

static void mlp_eval_forward(void *user, double *y)
{
    mlp_eval *e = user;
    cr_assert_eq(nde_mlp_forward(e->m->net, e->m->p, e->t, e->x, y, e->batch), NDE_OK);
}

/* dx and dθ of Σ dy ⊙ MLP(t, x) against central differences, every case and time mode. */
Test(mlp, vjp_matches_finite_differences)
{
    enum { B = 3 };
    for (size_t c = 0; c < N_MLP_CASES; c++) {
        built m = build(&mlp_cases[c].spec, 20 + c);
        size_t in = nde_mlp_in(m.net), out = nde_mlp_out(m.net), n = nde_params_count(m.p);
        double x[B * 8], dy[B * 8], dx[B * 8], t = -0.41;
        fill_sin(x, B * in, 1.7, 0.2, 1.2);
        fill_sin(dy, B * out, 0.6, 1.1, 1.0);
        double *g = nde_params_grad(m.p);
        nde_params_zero_grad(m.p);
        cr_assert_eq(nde_mlp_vjp(m.net, m.p, t, x, dy, dx, g, B), NDE_OK);
        /* L = Σ dy ⊙ MLP(t, x) */
        double y[B * 8];
        mlp_eval me = {.m = &m, .t = t, .x = x, .batch = B};
        gc_cotangent lc = {.f = mlp_eval_forward, .user = &me, .r = dy, .nout = B * out, .out = y};
        gc_check(x, B * in, FD_H, GC_CENTRAL2, gc_cotangent_eval, &lc, dx, gc_l2(FD_TOL), "%s: dx",
                 mlp_cases[c].name);
        gc_check(nde_params_theta(m.p), n, FD_H, GC_CENTRAL2, gc_cotangent_eval, &lc, g,
                 gc_l2(FD_TOL), "%s: dθ", mlp_cases[c].name);
        unbuild(&m);
    }
}

/* The recorded backward gives the same bits as vjp; NULL outputs are skipped; the
 * gradient accumulates. */
Test(mlp, backward_after_forward_equals_vjp)
{
    enum { B = 4 };
    built m = build(&mlp_cases[3].spec, 5);
    size_t n = nde_params_count(m.p);
    double x[B * 3], dy[B * 3], y[B * 3], dx1[B * 3], dx2[B * 3], dx3[B * 3], t = 0.25;
    fill_sin(x, B * 3, 0.3, 0.8, 1.0);
    fill_sin(dy, B * 3, 1.9, 0.1, 1.0);
    double *g1 = nde_alloc_array(n, sizeof *g1), *g2 = nde_alloc_array(n, sizeof *g2);
    cr_assert_eq(nde_mlp_vjp(m.net, m.p, t, x, dy, dx1, g1, B), NDE_OK);
    cr_assert_eq(nde_mlp_forward(m.net, m.p, t, x, y, B), NDE_OK);
    cr_assert_eq(nde_mlp_backward(m.net, m.p, dy, dx2, g2, B), NDE_OK);
    cr_assert_eq(memcmp(dx1, dx2, sizeof dx1), 0);
    cr_assert_eq(memcmp(g1, g2, n * sizeof *g1), 0);
    cr_assert_eq(nde_mlp_backward(m.net, m.p, dy, dx3, NULL, B), NDE_OK);
    cr_assert_eq(memcmp(dx1, dx3, sizeof dx1), 0);
    cr_assert_eq(nde_mlp_backward(m.net, m.p, dy, NULL, g2, B), NDE_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(g2[i], g1[i] + g1[i]);
    /* a larger batch grows the workspace and invalidates nothing that is still needed */
    double xb[40 * 3], yb[40 * 3];
    fill_sin(xb, 40 * 3, 0.3, 0.8, 1.0);
    cr_assert_eq(nde_mlp_forward(m.net, m.p, t, xb, yb, 40), NDE_OK);
    for (size_t i = 0; i < B * 3; i++) cr_assert(fabs(yb[i] - y[i]) <= 1e-14 * (1.0 + fabs(y[i])));
    cr_assert_eq(nde_mlp_backward(m.net, m.p, dy, dx3, NULL, B), NDE_ERR_STATE);
    cr_assert(strstr(nde_last_error(), "batch 4 differs") != NULL);
    nde_free(g1);
    nde_free(g2);
    unbuild(&m);
}

Test(mlp, backward_without_forward_is_a_state_error)
{
    built m = build(&mlp_cases[0].spec, 1);
    double dy[2] = {1, 1}, dx[2];
    cr_assert_eq(nde_mlp_backward(m.net, m.p, dy, dx, NULL, 1), NDE_ERR_STATE);
    cr_assert(strstr(nde_last_error(), "no forward") != NULL);
    cr_assert_eq(nde_mlp_reserve(m.net, 64), NDE_OK);
    cr_assert_eq(nde_mlp_backward(m.net, m.p, dy, dx, NULL, 1), NDE_ERR_STATE);
    unbuild(&m);
}

/* forward_rec/vjp_rec (the field's recorded pair) give the same bits as forward/vjp,
 * for every case, and leave the network's own recorded forward alone. */
Test(mlp, recorded_pair_equals_forward_and_vjp)
{
    enum { B = 4 };
    for (size_t c = 0; c < N_MLP_CASES; c++) {
        built m = build(&mlp_cases[c].spec, 40 + c);
        size_t in = nde_mlp_in(m.net), out = nde_mlp_out(m.net), n = nde_params_count(m.p);
        size_t rs = nde_mlp_rec_size(m.net), expect = 0;
        for (size_t l = 0; l < nde_mlp_n_layers(m.net); l++)
            expect += nde_mlp_layer(m.net, l)->out *
                      (nde_mlp_layer_act(m.net, l) == NDE_ACT_IDENTITY ? 1 : 2);
        cr_assert_eq(rs, expect, "%s", mlp_cases[c].name);
        double x1[B * 8], x2[B * 8], dy[B * 8], y[B * 8], yr[B * 8], dx[B * 8], dxr[B * 8],
            t = 0.45;
        fill_sin(x1, B * in, 0.61, 0.2, 1.0);
        fill_sin(x2, B * in, 1.33, 0.7, 1.0);
        fill_sin(dy, B * out, 0.9, 0.3, 1.0);
        double *rec = nde_alloc_array(B * rs, sizeof *rec);
        double *g = nde_alloc_array(n, sizeof *g), *gr = nde_alloc_array(n, sizeof *gr);
        /* a fresh network: vjp_rec grows the workspace, which keeps the recorded forward */
        cr_assert_eq(nde_mlp_forward(m.net, m.p, t, x1, y, 1), NDE_OK);
        cr_assert_eq(nde_mlp_forward(m.net, m.p, t, x1, y, B), NDE_OK);
        cr_assert_eq(nde_mlp_forward_rec(m.net, m.p, t, x2, yr, rec, B), NDE_OK);
        double *big = nde_alloc_array(3 * B * rs, sizeof *big), xb[3 * B * 8], yb[3 * B * 8],
               dyb[3 * B * 8];
        fill_sin(xb, 3 * B * in, 0.2, 0.1, 1.0);
        fill_sin(dyb, 3 * B * out, 0.3, 0.4, 1.0);
        cr_assert_eq(nde_mlp_forward_rec(m.net, m.p, t, xb, yb, big, 3 * B), NDE_OK);
        cr_assert_eq(nde_mlp_vjp_rec(m.net, m.p, t, xb, big, dyb, NULL, gr, 3 * B), NDE_OK);
        memset(gr, 0, n * sizeof *gr);
        nde_free(big);
        cr_assert_eq(nde_mlp_vjp_rec(m.net, m.p, t, x2, rec, dy, dxr, gr, B), NDE_OK);
        /* the plain forward at x1 is still the recorded one */
        cr_assert_eq(nde_mlp_backward(m.net, m.p, dy, dx, g, B), NDE_OK);
        double dx1[B * 8], *g1 = nde_alloc_array(n, sizeof *g1);
        cr_assert_eq(nde_mlp_vjp(m.net, m.p, t, x1, dy, dx1, g1, B), NDE_OK);
        cr_assert_eq(memcmp(dx, dx1, B * in * sizeof *dx), 0, "%s", mlp_cases[c].name);
        cr_assert_eq(memcmp(g, g1, n * sizeof *g), 0);
        /* and the recorded pair equals forward/vjp at x2 */
        memset(g, 0, n * sizeof *g);
        cr_assert_eq(nde_mlp_forward(m.net, m.p, t, x2, y, B), NDE_OK);
        cr_assert_eq(memcmp(y, yr, B * out * sizeof *y), 0);
        cr_assert_eq(nde_mlp_vjp(m.net, m.p, t, x2, dy, dx, g, B), NDE_OK);
        cr_assert_eq(memcmp(dx, dxr, B * in * sizeof *dx), 0);
        cr_assert_eq(memcmp(g, gr, n * sizeof *g), 0);
        cr_assert_eq(nde_mlp_forward_rec(m.net, m.p, t, x2, yr, NULL, B), NDE_ERR_ARG);
        cr_assert_eq(nde_mlp_vjp_rec(m.net, m.p, t, x2, rec, dy, dxr, gr, 0), NDE_ERR_ARG);
        nde_free(rec);
        nde_free(g);
        nde_free(gr);
        nde_free(g1);
        unbuild(&m);
    }
}

/* jvp against central differences along w, and the adjoint identity ⟨v, J w⟩ = ⟨Jᵀ v, w⟩. */
Test(mlp, jvp_matches_fd_and_is_the_adjoint_of_vjp)
{
    enum { B = 3 };
    for (size_t c = 0; c < N_MLP_CASES; c++) {
        built m = build(&mlp_cases[c].spec, 30 + c);
        size_t in = nde_mlp_in(m.net), out = nde_mlp_out(m.net);
        double x[B * 8], w[B * 8], v[B * 8], jy[B * 8], vx[B * 8], save[B * 8];
        double ym[B * 8], fd[B * 8], t = 1.3;
        fill_sin(x, B * in, 0.77, 0.5, 1.0);
        fill_sin(w, B * in, 1.21, 0.3, 1.0);
        fill_sin(v, B * out, 0.35, 2.0, 1.0);
        cr_assert_eq(nde_mlp_jvp(m.net, m.p, t, x, w, jy, B), NDE_OK);
        mlp_eval me = {.m = &m, .t = t, .x = x, .batch = B};
        gc_fd_jvp(x, w, B * in, FD_H, mlp_eval_forward, &me, B * out, fd, save, ym);
        gc_expect_close(jy, fd, B * out, gc_l2(FD_TOL), "%s: jvp", mlp_cases[c].name);
        cr_assert_eq(nde_mlp_vjp(m.net, m.p, t, x, v, vx, NULL, B), NDE_OK);
        double lhs = dot(v, jy, B * out), rhs = dot(vx, w, B * in);
        cr_assert(fabs(lhs - rhs) <= 1e-13 * (fabs(lhs) + 1e-3), "%s: %.17g vs %.17g",
                  mlp_cases[c].name, lhs, rhs);
        unbuild(&m);
    }
}

/* torch.nn.Linear/F.* networks with the same weights: output, input and parameter
 * gradients to 1e-12. */
Test(mlp, matches_pytorch)
{
    for (size_t c = 0; c < sizeof nn_ref_cases / sizeof nn_ref_cases[0]; c++) {
        const nn_ref_case *r = &nn_ref_cases[c];
        nde_act acts[3] = {(nde_act)r->acts[0], (nde_act)r->acts[1], (nde_act)r->acts[2]};
        nde_mlp_spec spec = {.in = r->in, .out = r->out, .time = (nde_time_mode)r->time_mode,
                             .layer_act = acts};
        for (size_t h = 0; h < r->n_hidden; h++) spec.hidden[h] = r->hidden[h];
        built m;
        cr_assert_eq(nde_params_create(&m.p), NDE_OK);
        cr_assert_eq(nde_mlp_create(m.p, &spec, "net", &m.net), NDE_OK);
        cr_assert_eq(nde_params_count(m.p), r->n_theta, "%s", r->name);
        memcpy(nde_params_theta(m.p), r->theta, r->n_theta * sizeof(double));
        double y[32], dx[32];
        cr_assert_eq(nde_mlp_forward(m.net, m.p, r->t, r->x, y, r->batch), NDE_OK);
        for (size_t i = 0; i < r->batch * r->out; i++)
            cr_assert(fabs(y[i] - r->y[i]) <= 1e-12 * fmax(1.0, fabs(r->y[i])), "%s: y[%zu]",
                      r->name, i);
        nde_params_zero_grad(m.p);
        cr_assert_eq(nde_mlp_backward(m.net, m.p, r->dy, dx, nde_params_grad(m.p), r->batch),
                     NDE_OK);
        for (size_t i = 0; i < r->batch * r->in; i++)
            cr_assert(fabs(dx[i] - r->dx[i]) <= 1e-12 * fmax(1.0, fabs(r->dx[i])), "%s: dx[%zu]",
                      r->name, i);
        const double *g = nde_params_grad(m.p);
        for (size_t i = 0; i < r->n_theta; i++)
            cr_assert(fabs(g[i] - r->gtheta[i]) <= 1e-12 * fmax(1.0, fabs(r->gtheta[i])),
                      "%s: dθ[%zu] %.17g vs %.17g", r->name, i, g[i], r->gtheta[i]);
        unbuild(&m);
    }
}

Test(mlp, bad_input_is_rejected)
{
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_mlp *net = (nde_mlp *)1;
    nde_mlp_spec ok = {.in = 2, .out = 2, .hidden = {3}, .act = NDE_ACT_TANH};
    cr_assert_eq(nde_mlp_create(NULL, &ok, "m", &net), NDE_ERR_ARG);
    cr_assert_null(net);
    cr_assert_eq(nde_mlp_create(p, NULL, "m", &net), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_create(p, &ok, NULL, &net), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_create(p, &ok, "", &net), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_create(p, &ok, "m", NULL), NDE_ERR_ARG);
    nde_mlp_spec s = ok;
    s.in = 0;
    cr_assert_eq(nde_mlp_create(p, &s, "m", &net), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "zero width (in 0") != NULL);
    s = ok;
    s.out = 0;
    cr_assert_eq(nde_mlp_create(p, &s, "m", &net), NDE_ERR_ARG);
    s = ok;
    s.hidden[2] = 4; /* {3, 0, 4} */
    cr_assert_eq(nde_mlp_create(p, &s, "m", &net), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "index 2 follows a 0") != NULL);
    s = ok;
    s.act = (nde_act)77;
    cr_assert_eq(nde_mlp_create(p, &s, "m", &net), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "activation 77 for layer 0") != NULL);
    s = ok;
    s.time = (nde_time_mode)9;
    cr_assert_eq(nde_mlp_create(p, &s, "m", &net), NDE_ERR_ARG);
    cr_assert_eq(nde_params_count(p), 0); /* rejected specs register nothing */
    char long_prefix[200];
    memset(long_prefix, 'a', sizeof long_prefix - 1);
    long_prefix[sizeof long_prefix - 1] = '\0';
    cr_assert_eq(nde_mlp_create(p, &ok, long_prefix, &net), NDE_ERR_ARG);
    cr_assert_null(net);

    cr_assert_eq(nde_mlp_create(p, &ok, "m", &net), NDE_OK);
    nde_mlp *dup;
    cr_assert_eq(nde_mlp_create(p, &ok, "m", &dup), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "m.0.") != NULL);
    double x[4] = {0.1, 0.2, 0.3, 0.4}, y[4], dx[4];
    cr_assert_eq(nde_mlp_forward(net, p, 0.0, x, y, 0), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_forward(net, p, 0.0, NULL, y, 2), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_forward(net, p, 0.0, x, NULL, 2), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_forward(NULL, p, 0.0, x, y, 2), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_vjp(net, p, 0.0, x, NULL, dx, NULL, 2), NDE_ERR_ARG);
    cr_assert_eq(nde_mlp_jvp(net, p, 0.0, x, NULL, y, 2), NDE_ERR_ARG);
    nde_params *other;
    cr_assert_eq(nde_params_create(&other), NDE_OK);
    cr_assert_eq(nde_mlp_forward(net, other, 0.0, x, y, 2), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "params hold 0") != NULL);
    nde_field f;
    cr_assert_eq(nde_mlp_field(net, other, &f), NDE_ERR_SHAPE);
    cr_assert_eq(nde_mlp_field(net, NULL, &f), NDE_ERR_ARG);
    nde_params_destroy(&other);
    nde_mlp_destroy(&net);
    nde_mlp_destroy(&net);
    nde_mlp_destroy(NULL);
    cr_assert_eq(nde_mlp_in(NULL), 0);
    cr_assert_null(nde_mlp_layer(net, 0));

    nde_mlp_spec rect = {.in = 3, .out = 2, .hidden = {4}, .act = NDE_ACT_TANH};
    cr_assert_eq(nde_mlp_create(p, &rect, "r", &net), NDE_OK);
    cr_assert_eq(nde_mlp_field(net, p, &f), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "3 -> 2") != NULL);
    nde_mlp_destroy(&net);
    nde_params_destroy(&p);
}

/* ---- field adaptor ------------------------------------------------------------ */

Test(field, mlp_field_is_the_network_and_reads_theta_at_call_time)
{
    enum { B = 5 };
    built m = build(&mlp_cases[2].spec, 8); /* time_all, dim 5 */
    nde_field f;
    cr_assert_eq(nde_mlp_field(m.net, m.p, &f), NDE_OK);
    cr_assert_eq(nde_field_check(&f, 1), NDE_OK);
    cr_assert_eq(f.dim, 5);
    cr_assert_eq(f.n_params, nde_params_count(m.p));
    cr_assert_not_null(f.jvp);
    double u[B * 5], v[B * 5], du[B * 5], y[B * 5], vu[B * 5], dx[B * 5], t = 0.6;
    fill_sin(u, B * 5, 0.5, 0.5, 1.0);
    fill_sin(v, B * 5, 0.8, 0.1, 1.0);
    cr_assert_eq(f.f(f.ctx, t, u, du, B), NDE_OK);
    cr_assert_eq(nde_mlp_forward(m.net, m.p, t, u, y, B), NDE_OK);
    cr_assert_eq(memcmp(du, y, sizeof du), 0);
    /* t matters in this time mode */
    cr_assert_eq(f.f(f.ctx, t + 0.5, u, du, B), NDE_OK);
    cr_assert_neq(memcmp(du, y, sizeof du), 0);

    size_t n = f.n_params;
    double *g1 = nde_alloc_array(n, sizeof *g1), *g2 = nde_alloc_array(n, sizeof *g2);
    cr_assert_eq(f.vjp(f.ctx, t, u, v, vu, g1, B), NDE_OK);
    cr_assert_eq(nde_mlp_vjp(m.net, m.p, t, u, v, dx, g2, B), NDE_OK);
    cr_assert_eq(memcmp(vu, dx, sizeof vu), 0);
    cr_assert_eq(memcmp(g1, g2, n * sizeof *g1), 0);
    cr_assert_eq(f.vjp(f.ctx, t, u, v, NULL, g1, B), NDE_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(g1[i], g2[i] + g2[i]);
    cr_assert_eq(f.rec_size, nde_mlp_rec_size(m.net));
    double rec[B * 32], du2[B * 5], vu2[B * 5];
    cr_assert(f.rec_size <= 32);
    cr_assert_eq(f.f_rec(f.ctx, t, u, du2, rec, B), NDE_OK);
    cr_assert_eq(nde_mlp_forward(m.net, m.p, t, u, y, B), NDE_OK);
    cr_assert_eq(memcmp(du2, y, sizeof du2), 0);
    memset(g1, 0, n * sizeof *g1);
    cr_assert_eq(f.vjp_rec(f.ctx, t, u, rec, v, vu2, g1, B), NDE_OK);
    cr_assert_eq(memcmp(vu2, vu, sizeof vu), 0);
    cr_assert_eq(memcmp(g1, g2, n * sizeof *g1), 0);
    double jw[B * 5], jw2[B * 5];
    cr_assert_eq(f.jvp(f.ctx, t, u, v, jw, B), NDE_OK);
    cr_assert_eq(nde_mlp_jvp(m.net, m.p, t, u, v, jw2, B), NDE_OK);
    cr_assert_eq(memcmp(jw, jw2, sizeof jw), 0);

    /* θ moves when more tensors are added; the field follows it. */
    const double *before = nde_params_theta_const(m.p);
    size_t big[1] = {100000};
    cr_assert_eq(nde_params_add(m.p, "other", 1, big, 0, NULL), NDE_OK);
    cr_assert(nde_params_theta_const(m.p) != before);
    nde_params_theta(m.p)[0] += 0.25;
    cr_assert_eq(f.f(f.ctx, t, u, du, B), NDE_OK);
    cr_assert_eq(nde_mlp_forward(m.net, m.p, t, u, y, B), NDE_OK);
    cr_assert_eq(memcmp(du, y, sizeof du), 0);
    double yr[B * 5];
    mlp_ref(m.net, m.p, t, u, yr, B);
    cr_assert(rel_err(du, yr, B * 5) <= 1e-14);
    nde_free(g1);
    nde_free(g2);
    unbuild(&m);
}

/* ---- the example in nde/nn.h, verbatim apart from handing du out ---------------- */

static nde_status header_example(double *du_out)
{
    nde_params *p;   NDE_TRY(nde_params_create(&p));
    nde_mlp *net;    NDE_TRY(nde_mlp_create(p, &(nde_mlp_spec){.in = 2, .out = 2,
                         .hidden = {50}, .act = NDE_ACT_TANH}, "mlp", &net));
    nde_rng rng;     nde_rng_seed(&rng, 1);
    NDE_TRY(nde_mlp_init(net, p, NDE_INIT_NORMAL, 0.1, &rng));
    nde_field f;     NDE_TRY(nde_mlp_field(net, p, &f));   // f(t, u) = MLP(u)
    double u[2] = {1.0, 0.5}, du[2];
    NDE_TRY(f.f(f.ctx, 0.0, u, du, 1));                    // one sample
    double ref[2];
    mlp_ref(net, p, 0.0, u, ref, 1);
    du_out[0] = du[0] - ref[0];
    du_out[1] = du[1] - ref[1];
    nde_mlp_destroy(&net);  nde_params_destroy(&p);
    return NDE_OK;
}

Test(nn, header_example_runs)
{
    double diff[2] = {NAN, NAN};
    cr_assert_eq(header_example(diff), NDE_OK, "%s", nde_last_error());
    cr_assert(fabs(diff[0]) < 1e-14 && fabs(diff[1]) < 1e-14);
}
