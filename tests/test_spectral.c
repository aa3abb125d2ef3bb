/* Spectral convolution: FFT path vs a direct (non-FFT) evaluation of the same truncated
 * Fourier multiplier, VJPs vs central finite differences, resolution transfer, bad input. */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "gradcheck.h"
#include "numcheck.h"
#include "nde/operators.h"

typedef struct setup {
    nde_ctx *ctx;
    nde_params *params;
    nde_spectral_conv *conv;
    nde_spectral_spec spec;
} setup;

/* The transform used by make(): the tests run with both. */
static nde_spectral_transform transform = NDE_SPECTRAL_FFT;
static int channel_major = 0;

static void make(setup *s, int ndim, size_t cin, size_t cout, size_t m0, size_t m1, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->spec = (nde_spectral_spec){.ndim = ndim, .in_channels = cin, .out_channels = cout,
                                  .n_modes = {m0, m1}, .transform = transform,
                                  .channel_major = channel_major};
    cr_assert_eq(nde_ctx_create(&s->ctx), NDE_OK);
    cr_assert_eq(nde_params_create(&s->params), NDE_OK);
    cr_assert_eq(nde_spectral_conv_create(s->ctx, s->params, "k", &s->spec, &s->conv), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, seed);
    /* Centred weights so that real and imaginary parts both matter with either sign. */
    double *th = nde_params_theta(s->params);
    for (size_t i = 0; i < nde_params_count(s->params); i++) th[i] = nde_rng_uniform_in(&r, -1, 1);
}

static void destroy(setup *s)
{
    nde_spectral_conv_destroy(&s->conv);
    cr_assert_null(s->conv);
    nde_params_destroy(&s->params);
    nde_ctx_destroy(&s->ctx);
}

static double *rand_array(size_t count, nde_rng *r)
{
    double *a = nde_alloc_array(count, sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < count; i++) a[i] = nde_rng_normal(r);
    return a;
}

/* Direct evaluation: y = (1/S) Σ_{kept k} c_k Re(Y_k e^{iθ}), Y_k = Σ_i X_k,i W_k,io,
 * X_k = Σ_x x e^{−iθ}, with every DFT summed term by term. */
static void direct(const setup *s, const double *theta, const double *x, double *y, size_t batch,
                   const size_t *n)
{
    int two = s->spec.ndim == 2;
    size_t n0 = two ? n[0] : 1, n1 = two ? n[1] : n[0];
    size_t m0 = two ? s->spec.n_modes[0] : 1, m1 = two ? s->spec.n_modes[1] : s->spec.n_modes[0];
    size_t cin = s->spec.in_channels, cout = s->spec.out_channels, S = n0 * n1;
    const nde_tensor_info *t = nde_params_find(s->params, "k.weight");
    cr_assert_not_null(t);
    const double *w = theta + t->offset;
    memset(y, 0, batch * cout * S * sizeof *y);
    size_t nrow = two ? 2 * m0 : 1;
    for (size_t ri = 0; ri < nrow; ri++) {
        long k0 = !two ? 0 : (ri < m0 ? (long)ri : (long)ri - 2 * (long)m0);
        for (size_t k1 = 0; k1 < m1; k1++) {
            size_t q = ri * m1 + k1;
            double ck = k1 == 0 ? 1.0 : 2.0;
            for (size_t b = 0; b < batch; b++) {
                double complex X[16];
                cr_assert(cin <= 16);
                for (size_t i = 0; i < cin; i++) {
                    X[i] = 0;
                    for (size_t a = 0; a < n0; a++)
                        for (size_t c = 0; c < n1; c++) {
                            double th = 2 * NDE_PI * ((double)k0 * (double)a / (double)n0 +
                                                      (double)k1 * (double)c / (double)n1);
                            X[i] += x[((b * cin + i) * n0 + a) * n1 + c] * cexp(-I * th);
                        }
                }
                for (size_t o = 0; o < cout; o++) {
                    double complex Y = 0;
                    for (size_t i = 0; i < cin; i++) {
                        const double *wp = w + 2 * ((q * cin + i) * cout + o);
                        Y += X[i] * (wp[0] + I * wp[1]);
                    }
                    for (size_t a = 0; a < n0; a++)
                        for (size_t c = 0; c < n1; c++) {
                            double th = 2 * NDE_PI * ((double)k0 * (double)a / (double)n0 +
                                                      (double)k1 * (double)c / (double)n1);
                            y[((b * cout + o) * n0 + a) * n1 + c] +=
                                ck * creal(Y * cexp(I * th)) / (double)S;
                        }
                }
            }
        }
    }
}

static double max_abs_diff(const double *a, const double *b, size_t n, double *scale)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    *scale = m;
    return d;
}

static void check_forward_vs_direct_one(int ndim, size_t cin, size_t cout, size_t m0, size_t m1,
                                        const size_t *n, size_t batch)
{
    setup s;
    make(&s, ndim, cin, cout, m0, m1, 11);
    nde_rng r;
    nde_rng_seed(&r, 3);
    size_t pts = ndim == 2 ? n[0] * n[1] : n[0];
    double *x = rand_array(batch * cin * pts, &r);
    double *y = nde_alloc_array(batch * cout * pts, sizeof *y);
    double *yd = nde_alloc_array(batch * cout * pts, sizeof *yd);
    double *scr = nde_alloc_array(nde_spectral_conv_scratch_size(s.conv, batch, n), sizeof *scr);
    cr_assert(y && yd && scr);
    cr_assert_eq(nde_spectral_conv_forward(s.conv, nde_params_theta(s.params), x, y, batch, n, scr, NULL),
                 NDE_OK, "%s", nde_last_error());
    direct(&s, nde_params_theta(s.params), x, yd, batch, n);
    double scale, d = max_abs_diff(y, yd, batch * cout * pts, &scale);
    cr_assert(scale > 1e-3, "output is trivially small (%g)", scale);
    cr_assert(d <= 1e-12 * scale, "FFT vs direct: max diff %g (scale %g)", d, scale);
    nde_free(x);
    nde_free(y);
    nde_free(yd);
    nde_free(scr);
    destroy(&s);
}

static void check_forward_vs_direct(int ndim, size_t cin, size_t cout, size_t m0, size_t m1,
                                    const size_t *n, size_t batch)
{
    transform = NDE_SPECTRAL_FFT;
    check_forward_vs_direct_one(ndim, cin, cout, m0, m1, n, batch);
    transform = NDE_SPECTRAL_DFT;
    check_forward_vs_direct_one(ndim, cin, cout, m0, m1, n, batch);
}

Test(spectral, forward_1d_equals_direct_multiplier)
{
    size_t n[1] = {32};
    check_forward_vs_direct(1, 3, 2, 5, 0, n, 2);
    size_t nodd[1] = {23};
    check_forward_vs_direct(1, 2, 3, 11, 0, nodd, 3);
}

Test(spectral, forward_2d_equals_direct_multiplier)
{
    size_t n[2] = {12, 10};
    check_forward_vs_direct(2, 2, 3, 3, 4, n, 2);
    size_t nodd[2] = {9, 11};
    check_forward_vs_direct(2, 3, 2, 4, 5, nodd, 2);
}

/* K x, reading θ and x through the pointers here: with gradcheck.h's gc_cotangent,
 * L(x, θ) = Σ r·K x for a fixed random r, whose gradients are the VJP with gy = r. */
typedef struct conv_eval {
    setup *s;
    const double *theta, *x;
    size_t batch;
    const size_t *n;
    double *scr;
} conv_eval;

static void conv_eval_forward(void *user, double *y)
{
    conv_eval *c = user;
    cr_assert_eq(nde_spectral_conv_forward(c->s->conv, c->theta, c->x, y, c->batch, c->n, c->scr,
                                           NULL), NDE_OK);
}

static void check_vjp_one(int ndim, size_t cin, size_t cout, size_t m0, size_t m1,
                          const size_t *n, size_t batch)
{
    setup s;
    make(&s, ndim, cin, cout, m0, m1, 5);
    nde_rng r;
    nde_rng_seed(&r, 9);
    size_t pts = ndim == 2 ? n[0] * n[1] : n[0];
    size_t nx = batch * cin * pts, ny = batch * cout * pts, np = nde_params_count(s.params);
    double *x = rand_array(nx, &r), *gy = rand_array(ny, &r);
    double *y = nde_alloc_array(ny, sizeof *y), *gx = nde_alloc_array(nx, sizeof *gx);
    double *gx_fd = nde_alloc_array(nx, sizeof *gx), *gw_fd = nde_alloc_array(np, sizeof *gw_fd);
    double *scr = nde_alloc_array(nde_spectral_conv_scratch_size(s.conv, batch, n), sizeof *scr);
    double *th = nde_params_theta(s.params), *gw = nde_params_grad(s.params);
    /* gtheta accumulates: start from a known value. */
    for (size_t i = 0; i < np; i++) gw[i] = 0.25;
    cr_assert_eq(nde_spectral_conv_vjp(s.conv, th, x, NULL, gy, gx, gw, batch, n, scr), NDE_OK, "%s",
                 nde_last_error());
    for (size_t i = 0; i < np; i++) gw[i] -= 0.25;
    conv_eval ce = {.s = &s, .theta = th, .x = x, .batch = batch, .n = n, .scr = scr};
    gc_cotangent L = {.f = conv_eval_forward, .user = &ce, .r = gy, .nout = ny, .out = y};
    gc_fd_gradient(x, nx, 1e-5, GC_CENTRAL2, gc_cotangent_eval, &L, gx_fd);
    gc_fd_gradient(th, np, 1e-5, GC_CENTRAL2, gc_cotangent_eval, &L, gw_fd);
    gc_expect_close(gx, gx_fd, nx, gc_l2(1e-6), "input VJP (ndim %d)", ndim);
    gc_expect_close(gw, gw_fd, np, gc_l2(1e-6), "weight VJP (ndim %d)", ndim);
    /* the spectrum kept by the forward gives the same weight gradient without x */
    double *xh = nde_alloc_array(nde_spectral_conv_spectrum_size(s.conv, batch), sizeof *xh);
    double *gw2 = nde_alloc_array(np, sizeof *gw2);
    cr_assert_eq(nde_spectral_conv_forward(s.conv, th, x, y, batch, n, scr, xh), NDE_OK);
    cr_assert_eq(nde_spectral_conv_vjp(s.conv, th, NULL, xh, gy, NULL, gw2, batch, n, scr), NDE_OK);
    for (size_t i = 0; i < np; i++) cr_assert(fabs(gw2[i] - gw[i]) <= 1e-14 * (1 + fabs(gw[i])));
    cr_assert_eq(nde_spectral_conv_vjp(s.conv, th, NULL, NULL, gy, NULL, gw2, batch, n, scr), NDE_ERR_ARG);
    nde_free(xh);
    nde_free(gw2);
    /* gx only and gtheta only give the same pieces. */
    double *gx2 = nde_alloc_array(nx, sizeof *gx2);
    cr_assert_eq(nde_spectral_conv_vjp(s.conv, th, x, NULL, gy, gx2, NULL, batch, n, scr), NDE_OK);
    cr_assert_eq(memcmp(gx, gx2, nx * sizeof *gx), 0);
    nde_free(x);
    nde_free(gy);
    nde_free(y);
    nde_free(gx);
    nde_free(gx2);
    nde_free(gx_fd);
    nde_free(gw_fd);
    nde_free(scr);
    destroy(&s);
}

static void check_vjp(int ndim, size_t cin, size_t cout, size_t m0, size_t m1, const size_t *n,
                      size_t batch)
{
    for (channel_major = 0; channel_major <= 1; channel_major++) {
        transform = NDE_SPECTRAL_FFT;
        check_vjp_one(ndim, cin, cout, m0, m1, n, batch);
        transform = NDE_SPECTRAL_DFT;
        check_vjp_one(ndim, cin, cout, m0, m1, n, batch);
    }
    channel_major = 0;
    transform = NDE_SPECTRAL_FFT;
}

/* (batch, C, P) <-> (C, batch, P) */
static void transpose_bc(const double *x, double *y, size_t b, size_t c, size_t pts)
{
    for (size_t i = 0; i < b; i++)
        for (size_t j = 0; j < c; j++) memcpy(y + (j * b + i) * pts, x + (i * c + j) * pts, pts * sizeof *x);
}

static void check_channel_major(int ndim, const size_t *n, nde_spectral_transform tr)
{
    setup bm, cm;
    transform = tr;
    make(&bm, ndim, 3, 2, 2, 2, 7);
    channel_major = 1;
    make(&cm, ndim, 3, 2, 2, 2, 7);
    channel_major = 0;
    size_t batch = 4, pts = ndim == 2 ? n[0] * n[1] : n[0];
    nde_rng r;
    nde_rng_seed(&r, 2);
    double *x = rand_array(batch * 3 * pts, &r), *xt = nde_alloc_array(batch * 3 * pts, sizeof *xt);
    double *y = nde_alloc_array(batch * 2 * pts, sizeof *y), *yc = nde_alloc_array(batch * 2 * pts, sizeof *yc);
    double *yt = nde_alloc_array(batch * 2 * pts, sizeof *yt);
    double *scr = nde_alloc_array(nde_spectral_conv_scratch_size(bm.conv, batch, n), sizeof *scr);
    transpose_bc(x, xt, batch, 3, pts);
    cr_assert_eq(nde_spectral_conv_forward(bm.conv, nde_params_theta(bm.params), x, y, batch, n, scr, NULL), NDE_OK);
    cr_assert_eq(nde_spectral_conv_forward(cm.conv, nde_params_theta(cm.params), xt, yc, batch, n, scr, NULL), NDE_OK);
    transpose_bc(y, yt, batch, 2, pts);
    double scale, d = max_abs_diff(yc, yt, batch * 2 * pts, &scale);
    cr_assert(d <= 1e-14 * scale, "channel-major vs batch-major: %g", d);
    nde_free(x);
    nde_free(xt);
    nde_free(y);
    nde_free(yc);
    nde_free(yt);
    nde_free(scr);
    destroy(&bm);
    destroy(&cm);
    transform = NDE_SPECTRAL_FFT;
}

Test(spectral, channel_major_layout_is_the_transposed_batch_major_layer)
{
    size_t n1[1] = {16}, n2[2] = {8, 6};
    check_channel_major(1, n1, NDE_SPECTRAL_FFT);
    check_channel_major(1, n1, NDE_SPECTRAL_DFT);
    check_channel_major(2, n2, NDE_SPECTRAL_FFT);
    check_channel_major(2, n2, NDE_SPECTRAL_DFT);
}

Test(spectral, vjp_1d_matches_finite_differences)
{
    size_t n[1] = {16};
    check_vjp(1, 2, 3, 4, 0, n, 2);
    size_t nodd[1] = {9};
    check_vjp(1, 3, 2, 4, 0, nodd, 1);
}

Test(spectral, vjp_2d_matches_finite_differences)
{
    size_t n[2] = {8, 6};
    check_vjp(2, 2, 2, 2, 3, n, 2);
    size_t nodd[2] = {7, 9};
    check_vjp(2, 2, 3, 3, 2, nodd, 1);
}

/* A field whose spectrum lies inside the kept modes, sampled at n and at 2n: the layer
 * must give the same function (same values at the shared points) at both resolutions. */
static void check_resolution_transfer(void);

Test(spectral, same_weights_same_function_at_twice_the_resolution)
{
    transform = NDE_SPECTRAL_FFT;
    check_resolution_transfer();
    transform = NDE_SPECTRAL_DFT;
    check_resolution_transfer();
}

static void check_resolution_transfer(void)
{
    setup s;
    make(&s, 2, 2, 2, 3, 3, 21);
    size_t n[2] = {8, 8}, n2[2] = {16, 16};
    size_t batch = 1, c = 2;
    double *x = nde_alloc_array(c * 64, sizeof *x), *x2 = nde_alloc_array(c * 256, sizeof *x2);
    double *y = nde_alloc_array(c * 64, sizeof *y), *y2 = nde_alloc_array(c * 256, sizeof *y2);
    double *scr = nde_alloc_array(nde_spectral_conv_scratch_size(s.conv, batch, n2), sizeof *scr);
    for (size_t ch = 0; ch < c; ch++)
        for (size_t a = 0; a < 16; a++)
            for (size_t b = 0; b < 16; b++) {
                double u = (double)a / 16, v = (double)b / 16;
                double f = 0.3 + (double)(ch + 1) * cos(2 * NDE_PI * (u + 2 * v)) +
                           sin(2 * NDE_PI * (2 * u - v)) - 0.5 * sin(2 * NDE_PI * v);
                x2[(ch * 16 + a) * 16 + b] = f;
                if (a % 2 == 0 && b % 2 == 0) x[(ch * 8 + a / 2) * 8 + b / 2] = f;
            }
    double *th = nde_params_theta(s.params);
    cr_assert_eq(nde_spectral_conv_forward(s.conv, th, x, y, batch, n, scr, NULL), NDE_OK);
    cr_assert_eq(nde_spectral_conv_forward(s.conv, th, x2, y2, batch, n2, scr, NULL), NDE_OK);
    double d = 0, m = 0;
    for (size_t ch = 0; ch < c; ch++)
        for (size_t a = 0; a < 8; a++)
            for (size_t b = 0; b < 8; b++) {
                double v1 = y[(ch * 8 + a) * 8 + b], v2 = y2[(ch * 16 + 2 * a) * 16 + 2 * b];
                d = fmax(d, fabs(v1 - v2));
                m = fmax(m, fabs(v2));
            }
    cr_assert(m > 0.1);
    cr_assert(d <= 1e-13 * m, "resolution transfer: diff %g (scale %g)", d, m);
    nde_free(x);
    nde_free(x2);
    nde_free(y);
    nde_free(y2);
    nde_free(scr);
    destroy(&s);
}

Test(spectral, fft_and_dft_transforms_agree_at_fno_size)
{
    /* the FNO-1D Burgers layer: 64 channels, 16 modes, n = 1024 */
    setup a, b;
    transform = NDE_SPECTRAL_FFT;
    make(&a, 1, 64, 64, 16, 0, 3);
    transform = NDE_SPECTRAL_DFT;
    make(&b, 1, 64, 64, 16, 0, 3);
    size_t n[1] = {1024}, batch = 2, len = batch * 64 * 1024;
    nde_rng r;
    nde_rng_seed(&r, 5);
    double *x = rand_array(len, &r), *ya = nde_alloc_array(len, sizeof *ya);
    double *yb = nde_alloc_array(len, sizeof *yb);
    double *scr = nde_alloc_array(nde_spectral_conv_scratch_size(a.conv, batch, n), sizeof *scr);
    cr_assert_eq(nde_spectral_conv_forward(a.conv, nde_params_theta(a.params), x, ya, batch, n, scr, NULL), NDE_OK);
    cr_assert_eq(nde_spectral_conv_forward(b.conv, nde_params_theta(b.params), x, yb, batch, n, scr, NULL), NDE_OK);
    double scale, d = max_abs_diff(ya, yb, len, &scale);
    cr_assert(d <= 1e-12 * scale, "FFT vs DFT: %g (scale %g)", d, scale);
    nde_free(x);
    nde_free(ya);
    nde_free(yb);
    nde_free(scr);
    destroy(&a);
    destroy(&b);
    transform = NDE_SPECTRAL_FFT;
}

Test(spectral, repeated_calls_give_identical_bits)
{
    setup s;
    make(&s, 1, 3, 3, 6, 0, 2);
    size_t n[1] = {64}, batch = 4;
    nde_rng r;
    nde_rng_seed(&r, 1);
    double *x = rand_array(batch * 3 * 64, &r);
    double *y1 = nde_alloc_array(batch * 3 * 64, sizeof *y1);
    double *y2 = nde_alloc_array(batch * 3 * 64, sizeof *y2);
    double *scr = nde_alloc_array(nde_spectral_conv_scratch_size(s.conv, batch, n), sizeof *scr);
    cr_assert_eq(nde_spectral_conv_prepare(s.conv, batch, n), NDE_OK);
    cr_assert_eq(nde_spectral_conv_forward(s.conv, nde_params_theta(s.params), x, y1, batch, n, scr, NULL), NDE_OK);
    cr_assert_eq(nde_spectral_conv_forward(s.conv, nde_params_theta(s.params), x, y2, batch, n, scr, NULL), NDE_OK);
    cr_assert_eq(memcmp(y1, y2, batch * 3 * 64 * sizeof *y1), 0);
    nde_free(x);
    nde_free(y1);
    nde_free(y2);
    nde_free(scr);
    destroy(&s);
}

Test(spectral, init_and_parameter_count)
{
    setup s;
    make(&s, 1, 64, 64, 16, 0, 1);
    cr_assert_eq(nde_spectral_conv_n_params(s.conv), 16 * 64 * 64 * 2);
    cr_assert_eq(nde_params_count(s.params), 16 * 64 * 64 * 2);
    nde_rng r;
    nde_rng_seed(&r, 4);
    nde_spectral_conv_init(s.conv, nde_params_theta(s.params), &r);
    const double *th = nde_params_theta(s.params);
    double mx = 0, mean = 0;
    for (size_t i = 0; i < nde_params_count(s.params); i++) {
        cr_assert(th[i] >= 0.0);
        mx = fmax(mx, th[i]);
        mean += th[i];
    }
    mean /= (double)nde_params_count(s.params);
    cr_assert(mx < 1.0 / 4096);
    cr_assert(fabs(mean - 0.5 / 4096) < 0.01 / 4096);
    destroy(&s);
}

Test(spectral, bad_input_returns_status)
{
    nde_ctx *ctx;
    nde_params *p;
    nde_spectral_conv *conv = NULL;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_spectral_spec bad = {.ndim = 3, .in_channels = 1, .out_channels = 1, .n_modes = {2, 2}};
    cr_assert_eq(nde_spectral_conv_create(ctx, p, "k", &bad, &conv), NDE_ERR_ARG);
    bad.ndim = 1;
    bad.n_modes[0] = 0;
    cr_assert_eq(nde_spectral_conv_create(ctx, p, "k", &bad, &conv), NDE_ERR_ARG);
    bad.n_modes[0] = 4;
    bad.in_channels = 0;
    cr_assert_eq(nde_spectral_conv_create(ctx, p, "k", &bad, &conv), NDE_ERR_ARG);
    bad.in_channels = 1;
    cr_assert_eq(nde_spectral_conv_create(NULL, p, "k", &bad, &conv), NDE_ERR_ARG);
    cr_assert_eq(nde_spectral_conv_create(ctx, p, "k", &bad, &conv), NDE_OK);
    nde_spectral_conv *dup = NULL;
    cr_assert_eq(nde_spectral_conv_create(ctx, p, "k", &bad, &dup), NDE_ERR_ARG);
    size_t n[1] = {7};
    double *x = nde_alloc_array(16, sizeof *x), *y = nde_alloc_array(16, sizeof *y);
    double *scr = nde_alloc_array(256, sizeof *scr);
    const double *th = nde_params_theta(p);
    cr_assert_eq(nde_spectral_conv_forward(conv, th, x, y, 1, n, scr, NULL), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "n[0] = 7") != NULL, "%s", nde_last_error());
    n[0] = 8;
    cr_assert_eq(nde_spectral_conv_forward(conv, th, x, y, 0, n, scr, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_spectral_conv_forward(conv, th, NULL, y, 1, n, scr, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_spectral_conv_forward(conv, th, x + 1, y, 1, n, scr, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_spectral_conv_vjp(conv, th, x, NULL, y, NULL, NULL, 1, NULL, scr), NDE_ERR_ARG);
    cr_assert_eq(nde_spectral_conv_forward(conv, th, x, y, 1, n, scr, NULL), NDE_OK);
    nde_free(x);
    nde_free(y);
    nde_free(scr);
    nde_spectral_conv_destroy(&conv);
    nde_spectral_conv_destroy(&conv);
    nde_spectral_conv_destroy(NULL);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
}
