/* The float32 compute path of MgNO (issue 16): the convolutions (plain, strided
 * restriction, transposed prolongation; every padding mode; 1-D and 2-D), the V-cycle
 * layer W_Mg and the whole network, forward and VJP, each against its float64 twin on
 * the same float-representable inputs and weights; and why the finite-difference tests
 * (tests/test_mgno.c) must stay on the float64 path.
 *
 * Tolerances (relative L2 ‖v32 − v64‖ / ‖v64‖; the argument of tests/test_f32.c). Inputs
 * and weights are rounded to float first, so the difference is float arithmetic alone,
 * with unit roundoff u = 2^-24 ≈ 6.0e-8. A length-K inner product summed in float errs by
 * about √K·u (random-walk rounding; K·u worst case) times its conditioning.
 *   - One convolution: every GEMM here has K ≤ 64 (c_in·k^d ≤ 36 forward, ≤ 64 grid
 *     points for the weight gradient, c_out·k^d ≤ 32 for the input gradient): tol 1e-6
 *     ≈ 16 u = √64·u with a conditioning of 2, the FNO's per-layer tolerance (measured
 *     2.6e-8 .. 2.1e-7 over output, input, weight and bias gradients).
 *   - A V-cycle (about 20 convolutions in series on three levels, each passed twice by
 *     the VJP) and the whole MgNO (two V-cycles, the 1×1 skips, GELU, the projection): the
 *     per-convolution errors add up along the chain, as for the whole FNO: tol 5e-6 ≈ 80 u
 *     (measured: V-cycle 3.8e-8 .. 1.9e-7, MgNO 7.5e-8 .. 2.8e-7).
 * Dropping a term, a wrong sign or rounding anything to half precision misses these by
 * orders of magnitude; scaling every weight of the double twin by 1 + 1e-5 (which moves
 * the output by ~4e-5) is detected (mgno_f32_detects_a_perturbation). MgNO has no pooling
 * layer: its restrictions are the strided convolutions tested here. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "mgno_fns.h"
#include "nde/nde.h"
#include "numcheck.h"
#include "operators/conv_internal.h"
#include "f32check.h"
#include "operators/f32.h"

enum { CONV_TOL_U = 16 }; /* one convolution: 16 u */
static const double U32 = 5.9604644775390625e-8; /* 2^-24 */
#define TOL_LAYER (CONV_TOL_U * U32) /* ≈ 1e-6 */
#define TOL_CHAIN 5e-6

/* ---- one convolution ------------------------------------------------------------- */

/* Forward (y = alpha·(conv(x) + b) + [y]) and VJP (gx, gw, gb) of one planned
 * convolution in float against double, with accumulation into nonzero outputs. */
static void check_conv(nde_conv_spec sp, double alpha, int accumulate, int bias)
{
    nde_conv *c;
    cr_assert_eq(nde_conv_create(&sp, &c), NDE_OK, "%s", nde_last_error());
    const size_t ni = nde_conv_in_numel(c), no = nde_conv_out_numel(c);
    const size_t nw = nde_conv_weight_numel(c), nb = sp.c_out, B = 2;
    nde_rng r;
    nde_rng_seed(&r, 7 + sp.pad_mode + 10 * sp.stride + 100 * (size_t)sp.transposed);
    double *x = rnd(B * ni, &r, 1), *w = rnd(nw, &r, 0.3), *b = rnd(nb, &r, 1);
    double *y = rnd(B * no, &r, 1), *gy = rnd(B * no, &r, 1);
    double *gx = rnd(B * ni, &r, 1), *gw = rnd(nw, &r, 1), *gb = rnd(nb, &r, 1);
    float *x32 = to_f32(x, B * ni), *w32 = to_f32(w, nw), *b32 = to_f32(b, nb);
    float *y32 = to_f32(y, B * no), *gy32 = to_f32(gy, B * no);
    float *gx32 = to_f32(gx, B * ni), *gw32 = to_f32(gw, nw), *gb32 = to_f32(gb, nb);
    cr_assert_eq(nde_conv_apply(c, w, bias ? b : NULL, x, y, B, alpha, accumulate), NDE_OK);
    cr_assert_eq(nde_conv_apply_f32(c, w32, bias ? b32 : NULL, x32, y32, B, (float)alpha,
                                    accumulate), NDE_OK);
    cr_assert_eq(nde_conv_apply_vjp(c, w, x, gy, gx, gw, gb, B, alpha), NDE_OK);
    cr_assert_eq(nde_conv_apply_vjp_f32(c, w32, x32, gy32, gx32, gw32, gb32, B, (float)alpha),
                 NDE_OK);
    const double ey = rel_err32(y32, y, B * no), ex = rel_err32(gx32, gx, B * ni);
    const double ew = rel_err32(gw32, gw, nw), eb = rel_err32(gb32, gb, nb);
    cr_log_info("conv %dD%s k%zu s%zu %s: y %.2g gx %.2g gw %.2g gb %.2g", sp.ndim,
                sp.transposed ? " transposed" : "", sp.kernel, sp.stride,
                nde_pad_mode_name(sp.pad_mode), ey, ex, ew, eb);
    cr_assert(ey < TOL_LAYER && ex < TOL_LAYER && ew < TOL_LAYER && eb < TOL_LAYER,
              "conv %dD%s k%zu s%zu %s: y %g gx %g gw %g gb %g", sp.ndim,
              sp.transposed ? " transposed" : "", sp.kernel, sp.stride,
              nde_pad_mode_name(sp.pad_mode), ey, ex, ew, eb);
    double *bufs[] = {x, w, b, y, gy, gx, gw, gb};
    float *bufs32[] = {x32, w32, b32, y32, gy32, gx32, gw32, gb32};
    for (size_t i = 0; i < 8; i++) nde_free(bufs[i]), nde_free(bufs32[i]);
    nde_conv_destroy(&c);
}

/* The smoother/operator convolutions S and A (3-wide, stride 1) and the restrictions
 * Π and R (stride 2) in every padding mode, as the V-cycle applies them (u ← u + S ∗ r
 * and r ← f − A ∗ u: alpha ±1, accumulating). */
Test(mgno_f32, conv_matches_double_in_every_padding_mode)
{
    for (int m = 0; m < NDE_PAD_MODE_COUNT; m++)
        for (size_t s = 1; s <= 2; s++) {
            nde_conv_spec c2 = {.ndim = 2, .c_in = 4, .c_out = 3, .n_in = {8, 7}, .kernel = 3,
                                .stride = s, .pad = 1, .pad_mode = (nde_pad_mode)m};
            check_conv(c2, 1.0, 0, 1);
            check_conv(c2, -1.0, 1, 1);
            nde_conv_spec c1 = {.ndim = 1, .c_in = 3, .c_out = 2, .n_in = {13}, .kernel = 3,
                                .stride = s, .pad = 1, .pad_mode = (nde_pad_mode)m};
            check_conv(c1, 1.0, 1, 0);
        }
}

/* The prolongations Πᵀ (transposed, stride 2, kernel 4 onto an even grid and 3 onto an
 * odd one, zero padding) and the 1×1 skip and projection convolutions (the identity
 * im2col branches of both kinds). */
Test(mgno_f32, transposed_and_pointwise_conv_match_double)
{
    for (size_t k = 3; k <= 4; k++) {
        nde_conv_spec t2 = {.ndim = 2, .transposed = 1, .c_in = 3, .c_out = 4, .n_in = {4, 4},
                            .kernel = k, .stride = 2, .pad = 1};
        check_conv(t2, 1.0, 1, 0);
        check_conv(t2, 1.0, 0, 1);
        nde_conv_spec t1 = {.ndim = 1, .transposed = 1, .c_in = 2, .c_out = 3, .n_in = {6},
                            .kernel = k, .stride = 2, .pad = 1};
        check_conv(t1, 1.0, 1, 1);
    }
    for (int tr = 0; tr <= 1; tr++) {
        nde_conv_spec pw = {.ndim = 2, .transposed = tr, .c_in = 5, .c_out = 3, .n_in = {6, 5},
                            .kernel = 1, .stride = 1};
        check_conv(pw, 1.0, 1, 1);
        check_conv(pw, 1.0, 0, 0);
    }
}

/* ---- the V-cycle layer and the network --------------------------------------------- */


/* One object in each precision over its own store, with the same (float-rounded) θ. */
typedef struct twin {
    nde_params *p[2]; /* [0] float64, [1] float32 */
    void *obj[2];
    int is_net;
    size_t nin, nout, np;
} twin;

static void round_theta(nde_params *p)
{
    double *th = nde_params_theta(p);
    for (size_t i = 0; i < nde_params_count(p); i++) th[i] = (double)(float)th[i];
}

static twin make_layer(nde_mgconv_spec sp, uint64_t seed)
{
    twin t = {.is_net = 0};
    for (int k = 0; k < 2; k++) {
        sp.precision = k ? NDE_PRECISION_FLOAT32 : NDE_PRECISION_FLOAT64;
        nde_rng r;
        nde_rng_seed(&r, seed);
        cr_assert_eq(nde_params_create(&t.p[k]), NDE_OK);
        nde_mgconv *l;
        cr_assert_eq(nde_mgconv_create(&sp, t.p[k], "w", &l), NDE_OK, "%s", nde_last_error());
        cr_assert_eq(nde_mgconv_init(l, &r), NDE_OK);
        round_theta(t.p[k]);
        t.obj[k] = l;
        t.nin = nde_mgconv_in_numel(l);
        t.nout = nde_mgconv_out_numel(l);
    }
    t.np = nde_params_count(t.p[0]);
    return t;
}

static twin make_net(nde_mgno_spec sp, uint64_t seed)
{
    twin t = {.is_net = 1};
    for (int k = 0; k < 2; k++) {
        sp.precision = k ? NDE_PRECISION_FLOAT32 : NDE_PRECISION_FLOAT64;
        nde_rng r;
        nde_rng_seed(&r, seed);
        cr_assert_eq(nde_params_create(&t.p[k]), NDE_OK);
        nde_mgno *m;
        cr_assert_eq(nde_mgno_create(&sp, t.p[k], "mgno", &m), NDE_OK, "%s", nde_last_error());
        cr_assert_eq(nde_mgno_init(m, &r), NDE_OK);
        round_theta(t.p[k]);
        t.obj[k] = m;
        t.nin = nde_mgno_in_numel(m);
        t.nout = nde_mgno_out_numel(m);
    }
    t.np = nde_params_count(t.p[0]);
    return t;
}

static void twin_free(twin *t)
{
    for (int k = 0; k < 2; k++) {
        if (t->is_net) {
            nde_mgno *m = t->obj[k];
            nde_mgno_destroy(&m);
        } else {
            nde_mgconv *l = t->obj[k];
            nde_mgconv_destroy(&l);
        }
        nde_params_destroy(&t->p[k]);
    }
}

/* Forward, input VJP and θ-gradient of the float32 object against the float64 one (whose
 * weights are scaled by 1 + perturb first): returns the largest relative error. The θ-
 * gradient is accumulated into a nonzero start in both. */
static double compare_twin(twin *t, size_t B, uint64_t seed, double perturb)
{
    const fwd_fn fwd = t->is_net ? mgno_fwd : mgconv_fwd;
    const vjp_fn vjp = t->is_net ? mgno_vjp : mgconv_vjp;
    if (perturb != 0.0) {
        double *th = nde_params_theta(t->p[0]);
        for (size_t i = 0; i < t->np; i++) th[i] *= 1.0 + perturb;
    }
    nde_rng r;
    nde_rng_seed(&r, seed);
    double *x = rnd(B * t->nin, &r, 1), *gy = rnd(B * t->nout, &r, 1);
    double *g0 = rnd(t->np, &r, 1e-3);
    double *y[2], *gx[2];
    for (int k = 0; k < 2; k++) {
        y[k] = nde_alloc_array(B * t->nout, sizeof(double));
        gx[k] = nde_alloc_array(B * t->nin, sizeof(double));
        memcpy(nde_params_grad(t->p[k]), g0, t->np * sizeof *g0);
        cr_assert_eq(fwd(t->obj[k], x, y[k], B), NDE_OK, "%s", nde_last_error());
        cr_assert_eq(vjp(t->obj[k], x, gy, gx[k], nde_params_grad(t->p[k]), B), NDE_OK, "%s",
                     nde_last_error());
    }
    /* the gradient of this call alone, so the nonzero start does not dilute the error */
    double *dg[2];
    for (int k = 0; k < 2; k++) {
        dg[k] = nde_alloc_array(t->np, sizeof(double));
        for (size_t i = 0; i < t->np; i++) dg[k][i] = nde_params_grad(t->p[k])[i] - g0[i];
    }
    const double ey = rel_err(y[1], y[0], B * t->nout), ex = rel_err(gx[1], gx[0], B * t->nin);
    const double eg = rel_err(dg[1], dg[0], t->np);
    cr_log_info("%s: y %.2g gx %.2g gθ %.2g (perturb %g)", t->is_net ? "mgno" : "mgconv", ey, ex,
                eg, perturb);
    nde_free(x), nde_free(gy), nde_free(g0);
    for (int k = 0; k < 2; k++) nde_free(y[k]), nde_free(gx[k]), nde_free(dg[k]);
    return fmax(ey, fmax(ex, eg));
}

Test(mgno_f32, vcycle_forward_and_vjp_match_double_2d)
{
    /* 7×7 → 4×4 → 2×2: odd and even prolongation kernels, post-smoothing, biases */
    for (int m = 0; m < NDE_PAD_MODE_COUNT; m++) {
        nde_mgconv_spec sp = {.ndim = 2, .n = {7, 7}, .c_f = 2, .c_u = 3, .levels = 3,
                              .pre = {2, 1, 2}, .post = {1, 1, 0},
                              .pad_mode = (nde_pad_mode)m, .bias = 1};
        twin t = make_layer(sp, 30 + (uint64_t)m);
        const double e = compare_twin(&t, 2, 31, 0.0);
        cr_assert(e < TOL_CHAIN, "V-cycle 2-D, %s padding: %g", nde_pad_mode_name(sp.pad_mode), e);
        twin_free(&t);
    }
}

Test(mgno_f32, vcycle_forward_and_vjp_match_double_1d)
{
    nde_mgconv_spec sp = {.ndim = 1, .n = {12}, .c_f = 1, .c_u = 2, .levels = 3,
                          .pre = {1, 2, 1}, .post = {1, 0, 0}, .pad_mode = NDE_PAD_PERIODIC};
    twin t = make_layer(sp, 4);
    const double e = compare_twin(&t, 3, 5, 0.0);
    cr_assert(e < TOL_CHAIN, "V-cycle 1-D: %g", e);
    twin_free(&t);
}

static nde_mgno_spec small_net(void)
{
    nde_mgno_spec sp = {.ndim = 2, .n = {8, 8}, .c_in = 2, .c_out = 1, .width = 3,
                        .n_layers = 2, .levels = 3, .pre = {1, 1, 2}, .post = {1, 0, 0},
                        .pad_mode = NDE_PAD_REFLECT, .bias = 1};
    return sp;
}

Test(mgno_f32, mgno_forward_and_vjp_match_double)
{
    twin t = make_net(small_net(), 11);
    double e = compare_twin(&t, 2, 12, 0.0);
    cr_assert(e < TOL_CHAIN, "MgNO 2-D: %g", e);
    twin_free(&t);
    /* the rough-Darcy recipe (float32 by default), narrowed to stay fast: 16×16, width 4,
     * 4 layers, 4 levels */
    nde_mgno_spec d = nde_mgno_darcy_spec(16);
    cr_assert_eq(d.precision, NDE_PRECISION_FLOAT32);
    d.width = 4;
    d.levels = 4;
    d.pre[3] = 2;
    t = make_net(d, 13);
    e = compare_twin(&t, 1, 14, 0.0);
    cr_assert(e < TOL_CHAIN, "MgNO Darcy recipe 16×16: %g", e);
    twin_free(&t);
}

Test(mgno_f32, mgno_f32_detects_a_perturbation)
{
    twin t = make_net(small_net(), 11);
    const double e = compare_twin(&t, 2, 12, 1e-5);
    cr_assert(e > TOL_CHAIN, "a 1e-5 change of every weight gave only %g", e);
    twin_free(&t);
}

/* Training without recomputation in float32: forward_keep + backward keep float
 * activations and give exactly what vjp gives (the same float operations). */
Test(mgno_f32, kept_activations_give_the_vjp_bit_for_bit)
{
    nde_mgno_spec sp = small_net();
    sp.precision = NDE_PRECISION_FLOAT32;
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_mgno *m;
    cr_assert_eq(nde_mgno_create(&sp, p, "mgno", &m), NDE_OK, "%s", nde_last_error());
    nde_rng r;
    nde_rng_seed(&r, 21);
    cr_assert_eq(nde_mgno_init(m, &r), NDE_OK);
    const size_t B = 3, ni = nde_mgno_in_numel(m), no = nde_mgno_out_numel(m);
    const size_t np = nde_params_count(p);
    double *x = rnd(B * ni, &r, 1), *gy = rnd(B * no, &r, 1);
    double *y = rnd(B * no, &r, 1), *y2 = rnd(B * no, &r, 1);
    double *gx = rnd(B * ni, &r, 1), *gx2 = rnd(B * ni, &r, 1);
    double *gt = nde_alloc_array(np, sizeof *gt), *gt2 = nde_alloc_array(np, sizeof *gt2);
    cr_assert_eq(nde_mgno_reserve(m, B), NDE_OK);
    cr_assert_eq(nde_mgno_forward(m, x, y, B), NDE_OK);
    cr_assert_eq(nde_mgno_vjp(m, x, gy, gx, gt, B), NDE_OK);
    cr_assert_eq(nde_mgno_forward_keep(m, x, y2, B), NDE_OK);
    cr_assert_eq(nde_mgno_backward(m, gy, gx2, gt2, B), NDE_OK);
    cr_assert_arr_eq(y, y2, B * no * sizeof *y);
    cr_assert_arr_eq(gx, gx2, B * ni * sizeof *gx);
    cr_assert_arr_eq(gt, gt2, np * sizeof *gt);
    double norm = 0;
    for (size_t i = 0; i < np; i++) norm += fabs(gt[i]);
    cr_assert(norm > 0);
    nde_free(x), nde_free(gy), nde_free(y), nde_free(y2), nde_free(gx), nde_free(gx2);
    nde_free(gt), nde_free(gt2);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);
}

Test(mgno_f32, bad_precision_is_rejected)
{
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_mgno_spec sp = small_net();
    sp.precision = (nde_precision)7;
    nde_mgno *m = (nde_mgno *)&m;
    cr_assert_eq(nde_mgno_create(&sp, p, "mgno", &m), NDE_ERR_ARG);
    cr_assert_null(m);
    nde_mgconv_spec cs = {.ndim = 1, .n = {8}, .c_f = 1, .c_u = 1, .levels = 1, .pre = {1},
                          .precision = (nde_precision)-1};
    nde_mgconv *l = (nde_mgconv *)&l;
    cr_assert_eq(nde_mgconv_create(&cs, p, "w", &l), NDE_ERR_ARG);
    cr_assert_null(l);
    nde_params_destroy(&p);
}

/* ---- finite differences stay on the float64 path ---------------------------------- */

typedef struct fd_eval {
    void *obj;
    const double *x;
} fd_eval;

static void fd_forward(void *user, double *y)
{
    fd_eval *e = user;
    cr_assert_eq(nde_mgno_forward(e->obj, e->x, y, 1), NDE_OK, "%s", nde_last_error());
}

/* The central-difference check of the network in tests/test_mgno.c (h = 1e-5, relative
 * tolerance 1e-6 on the directional derivative of ⟨gy, MgNO(x)⟩ along a random input
 * direction) on both twins: the specs of those tests are zeroed designated initializers,
 * i.e. float64 (the value 0 of nde_precision), and only there can the check pass. In
 * float32 the difference quotient carries the forward's rounding, about u·|L|/h ≈ 6e-3·|L|,
 * and fails it by orders of magnitude: a finite-difference test moved to the float32 path
 * could not pass, so it cannot silently lose its meaning either. */
Test(mgno_f32, finite_difference_checks_need_the_float64_path)
{
    nde_mgno_spec zeroed = small_net();
    cr_assert_eq(zeroed.precision, NDE_PRECISION_FLOAT64, "a zeroed spec computes in double");
    twin t = make_net(zeroed, 17);
    nde_rng r;
    nde_rng_seed(&r, 18);
    double *x = rnd(t.nin, &r, 1), *gy = rnd(t.nout, &r, 1), *dx = rnd(t.nin, &r, 1);
    double *gx = nde_alloc_array(t.nin, sizeof *gx), *y = nde_alloc_array(t.nout, sizeof *y);
    double *save = nde_alloc_array(t.nin, sizeof *save);
    gc_result res[2];
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(nde_mgno_vjp(t.obj[k], x, gy, gx, NULL, 1), NDE_OK);
        double an = 0;
        for (size_t i = 0; i < t.nin; i++) an += gx[i] * dx[i];
        fd_eval fe = {.obj = t.obj[k], .x = x};
        gc_cotangent L = {.f = fd_forward, .user = &fe, .r = gy, .nout = t.nout, .out = y};
        double fd = gc_fd_directional(x, dx, t.nin, 1e-5, gc_cotangent_eval, &L, save);
        res[k] = gc_compare(&an, &fd, 1, gc_l2(1e-6));
        cr_log_info("FD check %s: relative error %.2g", k ? "float32" : "float64", res[k].err);
    }
    cr_assert(res[0].ok, "float64: central differences disagree with the VJP (%g)", res[0].err);
    cr_assert(!res[1].ok && res[1].err > 1e-5,
              "float32 passed the float64 finite-difference check (%g)", res[1].err);
    nde_free(x), nde_free(gy), nde_free(dx), nde_free(gx), nde_free(y), nde_free(save);
    twin_free(&t);
}
