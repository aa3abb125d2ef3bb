/* The float32 compute path of the operators (issue 16): every float32 layer against its
 * float64 twin, forward and VJP, on the same (float-representable) inputs and weights.
 *
 * Tolerances. Inputs and weights are rounded to float first, so both paths see the same
 * numbers and the difference is the float arithmetic alone. float32's unit roundoff is
 * u = 2^-24 ≈ 6.0e-8. A length-K inner product (GEMM) or a length-n FFT computed in float
 * has a relative error per entry of order √K·u (random-walk rounding; the worst case is
 * K·u) or log2(n)·u, times the conditioning Σ|a_i b_i| / |Σ a_i b_i| of the sum. The
 * tests measure relative L2 errors ‖y32 − y64‖ / ‖y64‖:
 *   - one layer (GELU, dense, channel MLP, spectral conv; K, n ≤ 64): tol 1e-6 ≈ 16 u,
 *     i.e. √64·u = 8u with a conditioning of 2 (measured: 1.1e-7 .. 2.1e-7);
 *   - the whole FNO (lift, 3 Fourier layers, projection; the errors of the layers add up
 *     and the VJP passes every layer twice): tol 5e-6 ≈ 80 u forward, for the input VJP
 *     and for the parameter gradient (measured: 4.5e-8 .. 4.4e-7).
 * A float32 path that rounded anything to half precision or dropped a term would miss
 * these by orders of magnitude; the same checks against a perturbed double reference
 * (every weight scaled by 1 + 1e-5, which moves the output by ~2e-5) fail (see fno_f32_detects_a_perturbation). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "nde/operators.h"
#include "numcheck.h"
#include "f32check.h"
#include "operators/f32.h"
#include "ref/fno_ref.h"

/* Round every θ entry to float so both paths use the same weights. */
static void round_theta(nde_params *p)
{
    double *th = nde_params_theta(p);
    for (size_t i = 0; i < nde_params_count(p); i++) th[i] = (double)(float)th[i];
}

Test(f32, gelu_matches_double)
{
    nde_rng r;
    nde_rng_seed(&r, 1);
    size_t n = 1000;
    double *z = rnd(n, &r, 3.0), *y = rnd(n, &r, 1), *dy = rnd(n, &r, 1);
    float *z32 = to_f32(z, n), *y32 = to_f32(z, n), *dy32 = to_f32(z, n);
    nde_gelu_with_derivative(z, y, dy, n);
    nde_f32_gelu_with_grad(z32, y32, dy32, n);
    /* element-wise: erfcf/expf are accurate to a few ulp, so a few u relative per entry
     * (GELU is well conditioned except near its zero at z = 0, where the error is
     * absolute: ≤ a few u·|z|) */
    for (size_t i = 0; i < n; i++) {
        cr_assert(fabs(y32[i] - y[i]) <= 8 * 6e-8 * (fabs(y[i]) + fabs(z[i])), "gelu(%g)", z[i]);
        cr_assert(fabs(dy32[i] - dy[i]) <= 8 * 6e-8 * (fabs(dy[i]) + 1.0), "gelu'(%g)", z[i]);
    }
    cr_assert(rel_err32(y32, y, n) < 1e-6);
    nde_free(z);
    nde_free(y);
    nde_free(dy);
    nde_free(z32);
    nde_free(y32);
    nde_free(dy32);
}

Test(f32, channel_mlp_forward_and_vjp_match_double)
{
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    cr_assert_eq(nde_params_add(p, "other", 1, (size_t[]){3}, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    size_t ch[4] = {5, 64, 32, 3}, npts = 50;
    nde_channel_mlp *m;
    cr_assert_eq(nde_channel_mlp_create(p, "m", 3, ch, &m), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, 2);
    nde_channel_mlp_init(m, nde_params_theta(p), &r);
    round_theta(p);
    size_t np = nde_params_count(p), nx = ch[0] * npts, ny = ch[3] * npts;
    double *x = rnd(nx, &r, 1), *gy = rnd(ny, &r, 1), *y = rnd(ny, &r, 1), *gx = rnd(nx, &r, 1);
    double *g = nde_alloc_array(np, sizeof *g);
    double *cache = nde_alloc_array(nde_channel_mlp_cache_size(m, 1, npts), sizeof *cache);
    cr_assert_eq(nde_channel_mlp_forward(m, nde_params_theta(p), x, y, 1, npts, cache), NDE_OK);
    cr_assert_eq(nde_channel_mlp_vjp(m, nde_params_theta(p), x, gy, gx, g, 1, npts, cache), NDE_OK);
    float *th32 = to_f32(nde_params_theta(p), np), *x32 = to_f32(x, nx), *gy32 = to_f32(gy, ny);
    float *y32 = to_f32(y, ny), *gx32 = to_f32(gx, nx);
    float *g32 = nde_alloc_array(np, sizeof *g32);
    float *c32 = nde_alloc_array(nde_channel_mlp_cache_size(m, 1, npts), sizeof *c32);
    nde_f32_channel_mlp_forward(m, th32, x32, y32, npts, c32);
    nde_f32_channel_mlp_vjp(m, th32, x32, gy32, gx32, g32, npts, c32);
    cr_assert(rel_err32(y32, y, ny) < 1e-6, "forward %g", rel_err32(y32, y, ny));
    cr_assert(rel_err32(gx32, gx, nx) < 1e-6, "input VJP %g", rel_err32(gx32, gx, nx));
    cr_assert(rel_err32(g32, g, np) < 1e-6, "parameter VJP %g", rel_err32(g32, g, np));
    nde_free(x);
    nde_free(gy);
    nde_free(y);
    nde_free(gx);
    nde_free(g);
    nde_free(cache);
    nde_free(th32);
    nde_free(x32);
    nde_free(gy32);
    nde_free(y32);
    nde_free(gx32);
    nde_free(g32);
    nde_free(c32);
    nde_channel_mlp_destroy(&m);
    nde_params_destroy(&p);
}

/* One spectral convolution, 1-D or 2-D, FFT or DFT transform, batch- or channel-major. */
static void check_spectral(int ndim, const size_t *n, nde_spectral_transform tr, int cm)
{
    nde_ctx *ctx;
    nde_params *p;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_spectral_spec ks = {.ndim = ndim, .in_channels = 6, .out_channels = 5,
                            .n_modes = {3, 2}, .transform = tr, .channel_major = cm};
    nde_spectral_conv *k;
    cr_assert_eq(nde_spectral_conv_create(ctx, p, "k", &ks, &k), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, 3);
    double *th = nde_params_theta(p);
    size_t np = nde_params_count(p), batch = 3, pts = ndim == 2 ? n[0] * n[1] : n[0];
    for (size_t i = 0; i < np; i++) th[i] = (double)(float)nde_rng_uniform_in(&r, -1, 1);
    size_t nx = batch * 6 * pts, ny = batch * 5 * pts;
    size_t ns = nde_spectral_conv_scratch_size(k, batch, n), nh = nde_spectral_conv_spectrum_size(k, batch);
    double *x = rnd(nx, &r, 1), *gy = rnd(ny, &r, 1), *y = rnd(ny, &r, 1), *gx = rnd(nx, &r, 1);
    double *g = nde_alloc_array(np, sizeof *g), *sc = nde_alloc_array(ns, sizeof *sc);
    double *xh = nde_alloc_array(nh, sizeof *xh);
    cr_assert_eq(nde_spectral_conv_forward(k, th, x, y, batch, n, sc, xh), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_spectral_conv_vjp(k, th, x, xh, gy, gx, g, batch, n, sc), NDE_OK);
    float *th32 = to_f32(th, np), *x32 = to_f32(x, nx), *gy32 = to_f32(gy, ny);
    float *y32 = to_f32(y, ny), *gx32 = to_f32(gx, nx), *g32 = nde_alloc_array(np, sizeof *g32);
    float *sc32 = nde_alloc_array(ns, sizeof *sc32), *xh32 = nde_alloc_array(nh, sizeof *xh32);
    cr_assert_eq(nde_spectral_conv_prepare_f32(k, batch, n), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_spectral_conv_forward_f32(k, th32, x32, y32, batch, n, sc32, xh32), NDE_OK,
                 "%s", nde_last_error());
    cr_assert_eq(nde_spectral_conv_vjp_f32(k, th32, x32, xh32, gy32, gx32, g32, batch, n, sc32), NDE_OK);
    double ey = rel_err32(y32, y, ny), ex = rel_err32(gx32, gx, nx), eg = rel_err32(g32, g, np);
    cr_assert(ey < 1e-6 && ex < 1e-6 && eg < 1e-6, "ndim %d tr %d cm %d: %g %g %g", ndim, (int)tr,
              cm, ey, ex, eg);
    /* the weight gradient without the kept spectrum (recomputed from x) */
    memset(g32, 0, np * sizeof *g32);
    cr_assert_eq(nde_spectral_conv_vjp_f32(k, th32, x32, NULL, gy32, NULL, g32, batch, n, sc32), NDE_OK);
    cr_assert(rel_err32(g32, g, np) < 1e-6);
    nde_free(x);
    nde_free(gy);
    nde_free(y);
    nde_free(gx);
    nde_free(g);
    nde_free(sc);
    nde_free(xh);
    nde_free(th32);
    nde_free(x32);
    nde_free(gy32);
    nde_free(y32);
    nde_free(gx32);
    nde_free(g32);
    nde_free(sc32);
    nde_free(xh32);
    nde_spectral_conv_destroy(&k);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
}

Test(f32, spectral_conv_forward_and_vjp_match_double)
{
    size_t n1[1] = {64}, n2[2] = {12, 10};
    for (int cm = 0; cm < 2; cm++)
        for (int tr = NDE_SPECTRAL_FFT; tr <= NDE_SPECTRAL_DFT; tr++) {
            check_spectral(1, n1, (nde_spectral_transform)tr, cm);
            check_spectral(2, n2, (nde_spectral_transform)tr, cm);
        }
}

/* The whole FNO: the same θ in a float64 and a float32 model. perturb: change one weight
 * every weight of the double model by the factor 1 + perturb, which the comparison must notice. */
static void check_fno(nde_fno_spec s, const size_t *n, size_t batch, size_t threads, double perturb)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_params *p64, *p32;
    cr_assert_eq(nde_params_create(&p64), NDE_OK);
    cr_assert_eq(nde_params_create(&p32), NDE_OK);
    nde_fno *f64, *f32;
    s.precision = NDE_PRECISION_FLOAT64;
    cr_assert_eq(nde_fno_create(ctx, p64, &s, &f64), NDE_OK);
    s.precision = NDE_PRECISION_FLOAT32;
    cr_assert_eq(nde_fno_create(ctx, p32, &s, &f32), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, 4);
    nde_fno_init(f64, &r);
    const size_t np = nde_params_count(p64);
    /* spectral weights up, so the Fourier path matters as much as the skip */
    for (size_t t = 0; t < nde_params_n_tensors(p64); t++) {
        const nde_tensor_info *ti = nde_params_tensor(p64, t);
        if (strstr(ti->name, "spectral"))
            for (size_t i = 0; i < ti->numel; i++)
                nde_params_theta(p64)[ti->offset + i] = nde_rng_uniform_in(&r, -0.5, 0.5);
    }
    round_theta(p64);
    memcpy(nde_params_theta(p32), nde_params_theta(p64), np * sizeof(double));
    for (size_t i = 0; i < np; i++) nde_params_theta(p64)[i] *= 1.0 + perturb;
    nde_fno_work *w64, *w32;
    cr_assert_eq(nde_fno_work_create(f64, batch, n, &w64), NDE_OK);
    cr_assert_eq(nde_fno_work_create_threaded(f32, batch, n, threads, &w32), NDE_OK, "%s", nde_last_error());
    size_t pts = s.ndim == 2 ? n[0] * n[1] : n[0];
    size_t na = batch * s.in_channels * pts, nu = batch * s.out_channels * pts;
    double *a = rnd(na, &r, 1), *gu = rnd(nu, &r, 1);
    double *u64 = rnd(nu, &r, 1), *u32 = rnd(nu, &r, 1), *ga64 = rnd(na, &r, 1), *ga32 = rnd(na, &r, 1);
    cr_assert_eq(nde_fno_forward(f64, w64, a, u64, batch), NDE_OK);
    cr_assert_eq(nde_fno_forward(f32, w32, a, u32, batch), NDE_OK, "%s", nde_last_error());
    /* the float gradient is added to what the caller's gradient holds */
    for (size_t i = 0; i < np; i++) nde_params_grad(p64)[i] = nde_params_grad(p32)[i] = 0.25;
    cr_assert_eq(nde_fno_backward(f64, w64, gu, ga64, nde_params_grad(p64), batch), NDE_OK);
    cr_assert_eq(nde_fno_backward(f32, w32, gu, ga32, nde_params_grad(p32), batch), NDE_OK);
    double eu = rel_err(u32, u64, nu), ea = rel_err(ga32, ga64, na);
    double eg = rel_err(nde_params_grad(p32), nde_params_grad(p64), np);
    if (perturb == 0.0)
        cr_assert(eu < 5e-6 && ea < 5e-6 && eg < 5e-6, "ndim %d: u %g, ga %g, gθ %g", s.ndim, eu, ea, eg);
    else
        cr_assert(eu > 5e-6 || ea > 5e-6 || eg > 5e-6, "perturbation unnoticed: %g %g %g", eu, ea, eg);
    nde_free(a);
    nde_free(gu);
    nde_free(u64);
    nde_free(u32);
    nde_free(ga64);
    nde_free(ga32);
    nde_fno_work_destroy(&w64);
    nde_fno_work_destroy(&w32);
    nde_fno_destroy(&f64);
    nde_fno_destroy(&f32);
    nde_params_destroy(&p64);
    nde_params_destroy(&p32);
    nde_ctx_destroy(&ctx);
}

static nde_fno_spec small_spec(int ndim)
{
    nde_fno_spec s = nde_fno1d_burgers_spec();
    cr_assert_eq(s.precision, NDE_PRECISION_FLOAT32, "operator models default to float32");
    s.ndim = ndim;
    s.width = 8;
    s.n_modes[0] = 4;
    s.n_modes[1] = 3;
    s.n_layers = 3;
    s.proj_hidden[0] = 16;
    return s;
}

Test(f32, fno_1d_forward_and_vjp_match_double)
{
    size_t n[1] = {32};
    check_fno(small_spec(1), n, 3, 1, 0.0);
    check_fno(small_spec(1), n, 5, 2, 0.0); /* a thread team */
    nde_fno_spec s = small_spec(1);
    s.grid = 0;
    s.n_lift_hidden = 1;
    s.lift_hidden[0] = 6;
    s.in_channels = 2;
    s.out_channels = 2;
    check_fno(s, n, 2, 1, 0.0);
}

Test(f32, fno_2d_with_padding_forward_and_vjp_match_double)
{
    nde_fno_spec s = small_spec(2);
    s.padding = 0.2;
    size_t n[2] = {10, 9};
    check_fno(s, n, 2, 1, 0.0);
    s.padding = 0;
    check_fno(s, n, 2, 1, 0.0);
}

Test(f32, fno_f32_detects_a_perturbation)
{
    size_t n[1] = {32};
    check_fno(small_spec(1), n, 3, 1, 1e-5);
}

Test(f32, bad_precision_is_rejected)
{
    nde_ctx *ctx;
    nde_params *p;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_fno_spec s = small_spec(1);
    s.precision = (nde_precision)7;
    nde_fno *f = NULL;
    cr_assert_eq(nde_fno_create(ctx, p, &s, &f), NDE_ERR_ARG);
    cr_assert_null(f);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
}

/* The golden comparison with PyTorch (tests/ref/gen_fno_ref.py): the legacy FNO written in
 * torch, its float32 output u and its (float64, see the script) gradients, against nde's
 * float32 path, to float32 accuracy (5e-6 ≈ 80 u as above: two float32 computations that
 * sum in different orders). */
static void check_torch(const fno_ref_case *rc)
{
    nde_ctx *ctx;
    nde_params *p;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_fno_spec s = nde_fno1d_burgers_spec();
    s.ndim = rc->ndim;
    s.width = rc->width;
    s.n_modes[0] = rc->modes[0];
    s.n_modes[1] = rc->modes[1];
    s.n_layers = rc->layers;
    s.proj_hidden[0] = rc->hidden;
    /* nde pads llround(fraction · n) points at the end of each dimension */
    s.padding = rc->pad[0] ? (double)rc->pad[0] / (double)rc->n[0] : 0.0;
    if (rc->ndim == 2)
        cr_assert_eq(nde_pad_amount(s.padding, rc->n[1]), rc->pad[1], "padding of the 2nd dimension");
    cr_assert_eq(s.precision, NDE_PRECISION_FLOAT32);
    nde_fno *f;
    cr_assert_eq(nde_fno_create(ctx, p, &s, &f), NDE_OK, "%s", nde_last_error());
    const size_t np = nde_params_count(p);
    double *gref = nde_alloc_array(np, sizeof *gref);
    size_t covered = 0;
    for (size_t t = 0; t < rc->n_tensors; t++) {
        const nde_tensor_info *ti = nde_params_find(p, rc->tensors[t].name);
        cr_assert_not_null(ti, "%s", rc->tensors[t].name);
        cr_assert_eq(ti->numel, rc->tensors[t].numel, "%s", rc->tensors[t].name);
        memcpy(nde_params_theta(p) + ti->offset, rc->tensors[t].value, ti->numel * sizeof(double));
        memcpy(gref + ti->offset, rc->tensors[t].grad, ti->numel * sizeof(double));
        covered += ti->numel;
    }
    cr_assert_eq(covered, np, "every tensor of the FNO is in the reference");
    nde_fno_work *w;
    const size_t n[2] = {rc->n[0], rc->n[1]};
    cr_assert_eq(nde_fno_work_create(f, rc->batch, n, &w), NDE_OK, "%s", nde_last_error());
    const size_t nu = rc->batch * rc->n[0] * (rc->ndim == 2 ? rc->n[1] : 1);
    double *u = nde_alloc_array(nu, sizeof *u), *ga = nde_alloc_array(nu, sizeof *ga);
    cr_assert_eq(nde_fno_forward(f, w, rc->a, u, rc->batch), NDE_OK);
    nde_params_zero_grad(p);
    cr_assert_eq(nde_fno_backward(f, w, rc->gu, ga, nde_params_grad(p), rc->batch), NDE_OK);
    double eu = rel_err(u, rc->u, nu), ea = rel_err(ga, rc->ga, nu);
    double eg = rel_err(nde_params_grad(p), gref, np);
    cr_assert(eu < 5e-6 && ea < 5e-6 && eg < 5e-6, "%d-D vs torch: u %g, ga %g, gθ %g", rc->ndim,
              eu, ea, eg);
    nde_free(u);
    nde_free(ga);
    nde_free(gref);
    nde_fno_work_destroy(&w);
    nde_fno_destroy(&f);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
}

Test(f32, fno_matches_pytorch_float32)
{
    check_torch(&fno_ref_1d);
    check_torch(&fno_ref_2d);
}
