/* Operator pieces: pointwise conv, GELU, channel MLP, grid, padding, normalizer, losses
 * and the FNO model — values against direct computation, VJPs against central finite
 * differences, parameter counts of the published architectures, resolution transfer. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "gradcheck.h"
#include "numcheck.h"
#include "nde/operators.h"
#include "nde/optim.h"
#include "nde/pde.h"

static double *rnd(size_t n, nde_rng *r, double scale)
{
    double *a = nde_alloc_array(n, sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < n; i++) a[i] = scale * nde_rng_normal(r);
    return a;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- central differences of L(v) = r · F(v) (gradcheck.h) ------------------------- */
typedef void (*eval_fn)(void *user, double *out);

static void fd_grad(eval_fn f, void *user, double *v, size_t nv, const double *r, size_t nout,
                    double *g)
{
    double *out = nde_alloc_array(nout, sizeof *out);
    gc_cotangent L = {.f = f, .user = user, .r = r, .nout = nout, .out = out};
    gc_fd_gradient(v, nv, 1e-5, GC_CENTRAL2, gc_cotangent_eval, &L, g);
    nde_free(out);
}

Test(gelu, derivative_matches_finite_differences_and_torch_values)
{
    /* torch.nn.functional.gelu(torch.tensor([-3., -0.5, 0., 0.7, 2.5], dtype=float64)) */
    double z[5] = {-3.0, -0.5, 0.0, 0.7, 2.5}, y[5], g[5], one[5] = {1, 1, 1, 1, 1};
    const double ref[5] = {-0.00404969409489031, -0.15426876936299344, 0.0, 0.5306254434438489,
                           2.4844758366855597};
    nde_gelu(z, y, 5);
    for (int i = 0; i < 5; i++) cr_assert(fabs(y[i] - ref[i]) < 1e-13, "gelu(%g) = %.16g", z[i], y[i]);
    nde_gelu_vjp(z, one, g, 5);
    double y2[5], d2[5];
    nde_gelu_with_derivative(z, y2, d2, 5);
    cr_assert_eq(memcmp(y, y2, sizeof y), 0);
    for (int i = 0; i < 5; i++) cr_assert(fabs(d2[i] - g[i]) < 1e-15);
    /* one GELU: NDE_ACT_GELU gives the same bits */
    double ya[5], ga[5];
    cr_assert_eq(nde_act_forward(NDE_ACT_GELU, z, ya, 5), NDE_OK);
    cr_assert_eq(nde_act_backward(NDE_ACT_GELU, z, ya, one, ga, 5), NDE_OK);
    cr_assert_eq(memcmp(y, ya, sizeof y), 0);
    cr_assert_eq(memcmp(g, ga, sizeof g), 0);
    for (int i = 0; i < 5; i++) {
        double h = 1e-5, zp = z[i] + h, zm = z[i] - h, yp, ym;
        nde_gelu(&zp, &yp, 1);
        nde_gelu(&zm, &ym, 1);
        double fd = (yp - ym) / (2 * h);
        cr_assert(fabs(fd - g[i]) <= 1e-6 * fmax(1.0, fabs(fd)), "gelu'(%g): %g vs fd %g", z[i], g[i], fd);
    }
}

/* A value's GELU does not depend on its position, the array length or the entry point
 * (the kernel pads its tail to a full vector block), and outputs may alias inputs. */
Test(gelu, bits_do_not_depend_on_position_length_or_aliasing)
{
    enum { N = 37 };
    double z[N], y[N], d[N], g[N], gy[N];
    for (int i = 0; i < N; i++) {
        z[i] = -6.0 + 0.37 * i + 1e-3 * sin(i);
        gy[i] = cos(0.3 * i);
    }
    nde_gelu_with_derivative(z, y, d, N);
    nde_gelu_vjp(z, gy, g, N);
    for (int i = 0; i < N; i++) {
        double ys, ds, gs;
        nde_gelu(z + i, &ys, 1);
        cr_assert_eq(memcmp(&ys, &y[i], sizeof ys), 0, "gelu(%g) at %d", z[i], i);
        nde_gelu_with_derivative(z + i, &ys, &ds, 1);
        cr_assert_eq(memcmp(&ds, &d[i], sizeof ds), 0, "gelu'(%g) at %d", z[i], i);
        nde_gelu_vjp(z + i, gy + i, &gs, 1);
        cr_assert_eq(memcmp(&gs, &g[i], sizeof gs), 0, "vjp at %d", i);
        cr_assert_eq(g[i], gy[i] * d[i]);
    }
    for (int off = 1; off < 9; off++) { /* slices starting anywhere */
        double ys[N];
        nde_gelu(z + off, ys, N - off);
        cr_assert_eq(memcmp(ys, y + off, (N - off) * sizeof *ys), 0, "offset %d", off);
    }
    double zz[N], dd[N];
    memcpy(zz, z, sizeof z);
    nde_gelu_with_derivative(zz, zz, dd, N); /* y in place */
    cr_assert_eq(memcmp(zz, y, sizeof y), 0);
    memcpy(zz, gy, sizeof gy);
    nde_gelu_vjp(z, zz, zz, N); /* gz in place of gy */
    cr_assert_eq(memcmp(zz, g, sizeof g), 0);
}

typedef struct pw_case {
    nde_pointwise *pw;
    nde_params *p;
    double *x;
    size_t batch, npts;
} pw_case;

static void pw_eval(void *u, double *out)
{
    pw_case *c = u;
    cr_assert_eq(nde_pointwise_forward(c->pw, nde_params_theta(c->p), c->x, out, c->batch, c->npts, 0), NDE_OK);
}

Test(pointwise, vjp_matches_finite_differences)
{
    for (int bias = 0; bias <= 1; bias++) {
        nde_params *p;
        cr_assert_eq(nde_params_create(&p), NDE_OK);
        pw_case c = {.batch = 2, .npts = 5};
        cr_assert_eq(nde_pointwise_create(p, "pw", 3, 4, bias, &c.pw), NDE_OK);
        cr_assert_eq(nde_params_count(p), (size_t)(12 + (bias ? 4 : 0)));
        c.p = p;
        nde_rng r;
        nde_rng_seed(&r, 1);
        nde_pointwise_init(c.pw, nde_params_theta(p), &r);
        size_t nx = 2 * 3 * 5, ny = 2 * 4 * 5, np = nde_params_count(p);
        c.x = rnd(nx, &r, 1);
        double *gy = rnd(ny, &r, 1), *gx = rnd(nx, &r, 1), *gx0 = nde_alloc_array(nx, sizeof *gx0);
        memcpy(gx0, gx, nx * sizeof *gx);
        double *gxf = nde_alloc_array(nx, sizeof *gxf), *gwf = nde_alloc_array(np, sizeof *gwf);
        /* accumulate = 1 adds onto gx. */
        cr_assert_eq(nde_pointwise_vjp(c.pw, nde_params_theta(p), c.x, gy, gx, nde_params_grad(p),
                                       c.batch, c.npts, 1), NDE_OK);
        for (size_t i = 0; i < nx; i++) gx[i] -= gx0[i];
        fd_grad(pw_eval, &c, c.x, nx, gy, ny, gxf);
        fd_grad(pw_eval, &c, nde_params_theta(p), np, gy, ny, gwf);
        gc_expect_close(gx, gxf, nx, gc_l2(1e-6), "pointwise input VJP (accumulated)");
        gc_expect_close(nde_params_grad(p), gwf, np, gc_l2(1e-6), "pointwise weight VJP");
        /* accumulate = 0 overwrites. */
        cr_assert_eq(nde_pointwise_vjp(c.pw, nde_params_theta(p), c.x, gy, gx0, NULL, c.batch, c.npts, 0), NDE_OK);
        gc_expect_close(gx0, gxf, nx, gc_l2(1e-6), "pointwise input VJP (overwritten)");
        nde_free(c.x);
        nde_free(gy);
        nde_free(gx);
        nde_free(gx0);
        nde_free(gxf);
        nde_free(gwf);
        nde_pointwise_destroy(&c.pw);
        cr_assert_null(c.pw);
        nde_params_destroy(&p);
    }
}

/* Tensors as torch names them, every one decayed (the legacy scripts' Adam); the
 * forward with accumulate = 1 adds W x + b onto y; zero points are an argument error. */
Test(pointwise, tensors_accumulation_and_bad_sizes)
{
    for (int bias = 0; bias <= 1; bias++) {
        nde_params *p;
        cr_assert_eq(nde_params_create(&p), NDE_OK);
        nde_pointwise *pw;
        cr_assert_eq(nde_pointwise_create(p, "pw", 3, 4, bias, &pw), NDE_OK);
        const nde_tensor_info *tw = nde_params_find(p, "pw.weight");
        cr_assert(tw && tw->ndim == 2 && tw->shape[0] == 4 && tw->shape[1] == 3);
        cr_assert_eq(tw->group, NDE_GROUP_DEFAULT);
        if (bias) cr_assert_eq(nde_params_find(p, "pw.bias")->group, NDE_GROUP_DEFAULT);
        else cr_assert_null(nde_params_find(p, "pw.bias"));
        nde_rng r;
        nde_rng_seed(&r, 3);
        nde_pointwise_init(pw, nde_params_theta(p), &r);
        const size_t batch = 2, npts = 5, nx = batch * 3 * npts, ny = batch * 4 * npts;
        double *x = rnd(nx, &r, 1), *y = rnd(ny, &r, 1);
        double *yacc = nde_alloc_array(ny, sizeof *yacc), *yw = nde_alloc_array(ny, sizeof *yw);
        memcpy(yacc, y, ny * sizeof *y);
        const double *th = nde_params_theta(p);
        cr_assert_eq(nde_pointwise_forward(pw, th, x, yacc, batch, npts, 1), NDE_OK);
        cr_assert_eq(nde_pointwise_forward(pw, th, x, yw, batch, npts, 0), NDE_OK);
        for (size_t i = 0; i < ny; i++) cr_assert(fabs(yacc[i] - (y[i] + yw[i])) <= 1e-14);
        cr_assert_eq(nde_pointwise_forward(pw, th, x, yw, batch, 0, 0), NDE_ERR_ARG);
        cr_assert_eq(nde_pointwise_vjp(pw, th, x, y, NULL, NULL, batch, 0, 0), NDE_ERR_ARG);
        nde_free(x);
        nde_free(y);
        nde_free(yacc);
        nde_free(yw);
        nde_pointwise_destroy(&pw);
        nde_params_destroy(&p);
    }
}

typedef struct mlp_case {
    nde_channel_mlp *m;
    nde_params *p;
    double *x, *cache;
    size_t batch, npts;
} mlp_case;

static void mlp_eval(void *u, double *out)
{
    mlp_case *c = u;
    cr_assert_eq(nde_channel_mlp_forward(c->m, nde_params_theta(c->p), c->x, out, c->batch, c->npts, c->cache), NDE_OK);
}

Test(channel_mlp, vjp_matches_finite_differences)
{
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    size_t ch[4] = {2, 5, 3, 2};
    mlp_case c = {.batch = 3, .npts = 4, .p = p};
    cr_assert_eq(nde_channel_mlp_create(p, "mlp", 3, ch, &c.m), NDE_OK);
    cr_assert_eq(nde_params_count(p), (size_t)(2 * 5 + 5 + 5 * 3 + 3 + 3 * 2 + 2));
    cr_assert_not_null(nde_params_find(p, "mlp.1.bias"));
    nde_rng r;
    nde_rng_seed(&r, 2);
    nde_channel_mlp_init(c.m, nde_params_theta(p), &r);
    size_t nx = 3 * 2 * 4, ny = 3 * 2 * 4, np = nde_params_count(p);
    c.x = rnd(nx, &r, 1);
    c.cache = nde_alloc_array(nde_channel_mlp_cache_size(c.m, c.batch, c.npts), sizeof(double));
    double *y = nde_alloc_array(ny, sizeof *y), *gy = rnd(ny, &r, 1);
    double *gx = nde_alloc_array(nx, sizeof *gx), *gxf = nde_alloc_array(nx, sizeof *gx);
    double *gwf = nde_alloc_array(np, sizeof *gwf);
    mlp_eval(&c, y);
    cr_assert_eq(nde_channel_mlp_vjp(c.m, nde_params_theta(p), c.x, gy, gx, nde_params_grad(p),
                                     c.batch, c.npts, c.cache), NDE_OK);
    fd_grad(mlp_eval, &c, c.x, nx, gy, ny, gxf);
    fd_grad(mlp_eval, &c, nde_params_theta(p), np, gy, ny, gwf);
    gc_expect_close(gx, gxf, nx, gc_l2(1e-6), "channel MLP input VJP");
    gc_expect_close(nde_params_grad(p), gwf, np, gc_l2(1e-6), "channel MLP weight VJP");
    size_t zero = 0;
    nde_channel_mlp *bad = NULL;
    cr_assert_eq(nde_channel_mlp_create(p, "bad", 0, ch, &bad), NDE_ERR_ARG);
    cr_assert_eq(nde_channel_mlp_create(p, "mlp", 1, ch, &bad), NDE_ERR_ARG);
    size_t chz[2] = {2, zero};
    cr_assert_eq(nde_channel_mlp_create(p, "z", 1, chz, &bad), NDE_ERR_ARG);
    cr_assert_null(bad);
    nde_free(c.x);
    nde_free(c.cache);
    nde_free(y);
    nde_free(gy);
    nde_free(gx);
    nde_free(gxf);
    nde_free(gwf);
    nde_channel_mlp_destroy(&c.m);
    nde_channel_mlp_destroy(&c.m);
    nde_params_destroy(&p);
}

Test(grid, coordinates_padding_and_crop)
{
    size_t n[2] = {3, 4};
    double x[2 * 12], out[2 * 3 * 12];
    for (int i = 0; i < 24; i++) x[i] = i + 1;
    cr_assert_eq(nde_grid_append(2, n, 1, x, out, 2, 1), NDE_OK);
    /* sample 1: data, then x-coordinate (first dim), then y-coordinate */
    cr_assert_eq(out[36 + 5], x[12 + 5]);
    cr_assert_eq(out[36 + 12 + 2 * 4 + 1], 1.0);       /* i = 2 of 3 → 2/2 */
    cr_assert_eq(out[36 + 24 + 1 * 4 + 3], 1.0);       /* j = 3 of 4 → 3/3 */
    cr_assert(fabs(out[36 + 24 + 1] - 1.0 / 3) < 1e-15);
    cr_assert_eq(nde_grid_append(2, n, 0, x, out, 2, 1), NDE_OK);
    cr_assert_eq(out[36 + 24 + 3], 0.75);
    size_t n1[1] = {1};
    cr_assert_eq(nde_grid_append(1, n1, 1, x, out, 1, 1), NDE_ERR_SHAPE);
    cr_assert_eq(nde_grid_append(3, n, 1, x, out, 1, 1), NDE_ERR_ARG);

    /* pad then crop is the identity, and crop is the adjoint of pad */
    size_t pad[2] = {2, 1};
    nde_rng r;
    nde_rng_seed(&r, 3);
    double *a = rnd(2 * 2 * 12, &r, 1), *big = rnd(2 * 2 * 25, &r, 1);
    double *pa = nde_alloc_array(2 * 2 * 25, sizeof *pa), *cb = nde_alloc_array(2 * 2 * 12, sizeof *cb);
    cr_assert_eq(nde_pad(2, n, pad, a, pa, 2, 2), NDE_OK);
    cr_assert_eq(nde_crop(2, n, pad, big, cb, 2, 2), NDE_OK);
    cr_assert(fabs(dot(pa, big, 100) - dot(a, cb, 48)) < 1e-12);
    cr_assert_eq(nde_crop(2, n, pad, pa, cb, 2, 2), NDE_OK);
    cr_assert_eq(memcmp(a, cb, 48 * sizeof *a), 0);
    cr_assert_eq(pa[5 * 5 - 1], 0.0);
    cr_assert_eq(nde_pad_amount(9.0 / 85.0, 85), 9);
    cr_assert_eq(nde_pad_amount(9.0 / 85.0, 170), 18);
    cr_assert_eq(nde_pad_amount(0.0, 85), 0);
    nde_free(a);
    nde_free(big);
    nde_free(pa);
    nde_free(cb);
}

Test(normalizer, per_point_mean_unbiased_std_and_round_trip)
{
    double data[3 * 2] = {1, 10, 2, 20, 6, 60};
    nde_normalizer *nz;
    cr_assert_eq(nde_normalizer_create(data, 3, 2, 1e-5, &nz), NDE_OK);
    cr_assert_eq(nde_normalizer_point_size(nz), 2);
    cr_assert(fabs(nde_normalizer_mean(nz)[0] - 3.0) < 1e-15);
    cr_assert(fabs(nde_normalizer_mean(nz)[1] - 30.0) < 1e-13);
    /* unbiased: ((−2)² + (−1)² + 3²)/2 = 7 */
    cr_assert(fabs(nde_normalizer_std(nz)[0] - sqrt(7.0)) < 1e-14);
    double enc[6], dec[6], g[6], one[6] = {1, 1, 1, 1, 1, 1};
    nde_normalizer_encode(nz, data, enc, 3);
    cr_assert(fabs(enc[4] - 3.0 / (sqrt(7.0) + 1e-5)) < 1e-14);
    nde_normalizer_decode(nz, enc, dec, 3);
    for (int i = 0; i < 6; i++) cr_assert(fabs(dec[i] - data[i]) < 1e-12);
    nde_normalizer_decode_vjp(nz, one, g, 3);
    cr_assert(fabs(g[3] - (10 * sqrt(7.0) + 1e-5)) < 1e-12);
    nde_normalizer_destroy(&nz);
    cr_assert_null(nz);
    nde_normalizer_destroy(&nz);
    cr_assert_eq(nde_normalizer_create(data, 1, 2, 1e-5, &nz), NDE_ERR_ARG);
    cr_assert_eq(nde_normalizer_create(NULL, 3, 2, 1e-5, &nz), NDE_ERR_ARG);
    data[2] = NAN;
    cr_assert_eq(nde_normalizer_create(data, 3, 2, 1e-5, &nz), NDE_ERR_NONFINITE);
}

typedef struct loss_case {
    nde_ctx *ctx;
    int ndim;
    size_t n[2], batch, size;
    double *p, *y, *scr;
    int h1;
} loss_case;

static void loss_eval(void *u, double *out)
{
    loss_case *c = u;
    if (c->h1)
        cr_assert_eq(nde_h1_loss(c->ctx, c->ndim, c->n, c->p, c->y, NULL, c->batch, out, c->scr), NDE_OK);
    else
        cr_assert_eq(nde_rel_l2_loss(c->p, c->y, NULL, c->batch, c->size, out), NDE_OK);
}

/* Σ_b sqrt(Σ_k w_k |ê_k|²)/sqrt(Σ_k w_k |ŷ_k|²), every DFT coefficient summed directly. */
static double h1_direct(int ndim, const size_t *n, const double *p, const double *y, size_t batch)
{
    size_t n0 = ndim == 2 ? n[0] : 1, n1 = ndim == 2 ? n[1] : n[0];
    double total = 0;
    for (size_t b = 0; b < batch; b++) {
        double ee = 0, yy = 0;
        for (size_t k0 = 0; k0 < n0; k0++)
            for (size_t k1 = 0; k1 < n1; k1++) {
                double kk0 = (double)(k0 <= n0 - k0 ? k0 : n0 - k0);
                double kk1 = (double)(k1 <= n1 - k1 ? k1 : n1 - k1);
                double w = 1 + kk0 * kk0 + kk1 * kk1;
                double er = 0, ei = 0, yr = 0, yi = 0;
                for (size_t a = 0; a < n0; a++)
                    for (size_t c = 0; c < n1; c++) {
                        double th = 2 * NDE_PI * ((double)(k0 * a) / (double)n0 + (double)(k1 * c) / (double)n1);
                        size_t i = b * n0 * n1 + a * n1 + c;
                        er += (p[i] - y[i]) * cos(th);
                        ei -= (p[i] - y[i]) * sin(th);
                        yr += y[i] * cos(th);
                        yi -= y[i] * sin(th);
                    }
                ee += w * (er * er + ei * ei);
                yy += w * (yr * yr + yi * yi);
            }
        total += sqrt(ee / yy);
    }
    return total;
}

static void check_loss(int h1, int ndim, size_t n0, size_t n1)
{
    loss_case c = {.ndim = ndim, .batch = 2, .h1 = h1};
    c.n[0] = n0;
    c.n[1] = n1;
    c.size = ndim == 2 ? n0 * n1 : n0;
    cr_assert_eq(nde_ctx_create(&c.ctx), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, 8);
    size_t N = c.batch * c.size;
    c.y = rnd(N, &r, 1);
    c.p = rnd(N, &r, 1);
    for (size_t i = 0; i < N; i++) c.p[i] = c.y[i] + 0.3 * c.p[i];
    c.scr = nde_alloc_array(nde_h1_loss_scratch_size(ndim, c.n, c.batch), sizeof(double));
    double *g = nde_alloc_array(N, sizeof *g), *gf = nde_alloc_array(N, sizeof *gf), loss, one = 1;
    if (h1) {
        cr_assert_eq(nde_h1_loss(c.ctx, ndim, c.n, c.p, c.y, g, c.batch, &loss, c.scr), NDE_OK, "%s", nde_last_error());
        double ref = h1_direct(ndim, c.n, c.p, c.y, c.batch);
        cr_assert(fabs(loss - ref) <= 1e-12 * ref, "H1 loss %.17g vs direct %.17g", loss, ref);
    } else {
        cr_assert_eq(nde_rel_l2_loss(c.p, c.y, g, c.batch, c.size, &loss), NDE_OK);
        double ref = 0;
        for (size_t b = 0; b < c.batch; b++) {
            double ee = 0, yy = 0;
            for (size_t i = 0; i < c.size; i++) {
                ee += pow(c.p[b * c.size + i] - c.y[b * c.size + i], 2);
                yy += pow(c.y[b * c.size + i], 2);
            }
            ref += sqrt(ee) / sqrt(yy);
        }
        cr_assert(fabs(loss - ref) <= 1e-14 * ref);
    }
    fd_grad(loss_eval, &c, c.p, N, &one, 1, gf);
    gc_expect_close(g, gf, N, gc_l2(1e-6), "loss gradient");
    nde_free(c.y);
    nde_free(c.p);
    nde_free(c.scr);
    nde_free(g);
    nde_free(gf);
    nde_ctx_destroy(&c.ctx);
}

Test(loss, rel_l2_value_and_gradient)
{
    check_loss(0, 1, 16, 0);
    double y[2] = {0, 0}, p[2] = {1, 1}, l;
    cr_assert_eq(nde_rel_l2_loss(p, y, NULL, 1, 2, &l), NDE_ERR_NONFINITE);
    cr_assert_eq(nde_rel_l2_loss(NULL, y, NULL, 1, 2, &l), NDE_ERR_ARG);
}

Test(loss, h1_value_vs_direct_dft_and_gradient)
{
    check_loss(1, 1, 16, 0);
    check_loss(1, 1, 15, 0);
    check_loss(1, 2, 6, 8);
    check_loss(1, 2, 7, 5);
}

Test(fno, parameter_counts_match_published_architectures)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_fno *fno;
    nde_params *p1, *p2, *p3;
    cr_assert_eq(nde_params_create(&p1), NDE_OK);
    cr_assert_eq(nde_params_create(&p2), NDE_OK);
    cr_assert_eq(nde_params_create(&p3), NDE_OK);
    nde_fno_spec s = nde_fno1d_burgers_spec();
    cr_assert_eq(nde_fno_create(ctx, p1, &s, &fno), NDE_OK);
    cr_assert_eq(nde_fno_params(fno), p1);
    cr_assert_eq(nde_params_count(nde_fno_params(fno)), 549569);
    /* the store is borrowed: a second FNO's names collide in it */
    nde_fno *dup = (nde_fno *)&dup;
    cr_assert_eq(nde_fno_create(ctx, p1, &s, &dup), NDE_ERR_ARG);
    cr_assert_null(dup);
    nde_fno_destroy(&fno);
    cr_assert_null(fno);
    /* ... and outlives the FNO */
    cr_assert_not_null(nde_params_find(p1, "layer3.spectral.weight"));
    s = nde_fno2d_darcy_spec();
    cr_assert_eq(nde_fno_create(ctx, p2, &s, &fno), NDE_OK);
    cr_assert_eq(nde_params_count(nde_fno_params(fno)), 2368001);
    nde_fno_destroy(&fno);
    nde_fno_destroy(NULL);
    cr_assert_eq(nde_fno_create(ctx, NULL, &s, &fno), NDE_ERR_ARG);
    cr_assert_eq(nde_fno_create(NULL, p3, &s, &fno), NDE_ERR_ARG);
    s.width = 0;
    cr_assert_eq(nde_fno_create(ctx, p3, &s, &fno), NDE_ERR_ARG);
    s = nde_fno2d_darcy_spec();
    s.padding = -0.1;
    cr_assert_eq(nde_fno_create(ctx, p3, &s, &fno), NDE_ERR_ARG);
    cr_assert_eq(nde_params_count(p3), 0);
    nde_params_destroy(&p1);
    nde_params_destroy(&p2);
    nde_params_destroy(&p3);
    nde_ctx_destroy(&ctx);
}

typedef struct fno_case {
    nde_fno *fno;
    nde_fno_work *work;
    double *a;
    size_t batch;
} fno_case;

static void fno_eval(void *u, double *out)
{
    fno_case *c = u;
    cr_assert_eq(nde_fno_forward(c->fno, c->work, c->a, out, c->batch), NDE_OK, "%s", nde_last_error());
}

static void check_fno_vjp(nde_fno_spec s, const size_t *n, size_t batch)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    fno_case c = {.batch = batch};
    /* a tensor before the FNO's in the borrowed store: the FNO addresses θ by offsets */
    nde_params *store;
    cr_assert_eq(nde_params_create(&store), NDE_OK);
    cr_assert_eq(nde_params_add(store, "other", 1, (size_t[]){3}, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    cr_assert_eq(nde_fno_create(ctx, store, &s, &c.fno), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, 12);
    nde_fno_init(c.fno, &r);
    /* Scale the spectral weights up so the Fourier path matters as much as the skip. */
    nde_params *p = nde_fno_params(c.fno);
    for (size_t t = 0; t < nde_params_n_tensors(p); t++) {
        const nde_tensor_info *ti = nde_params_tensor(p, t);
        if (strstr(ti->name, "spectral"))
            for (size_t i = 0; i < ti->numel; i++)
                nde_params_theta(p)[ti->offset + i] = nde_rng_uniform_in(&r, -0.5, 0.5);
    }
    cr_assert_eq(nde_fno_work_create(c.fno, batch + 1, n, &c.work), NDE_OK, "%s", nde_last_error());
    size_t pts = s.ndim == 2 ? n[0] * n[1] : n[0];
    size_t na = batch * s.in_channels * pts, nu = batch * s.out_channels * pts, np = nde_params_count(p);
    c.a = rnd(na, &r, 1);
    double *u = nde_alloc_array(nu, sizeof *u), *gu = rnd(nu, &r, 1);
    double *ga = nde_alloc_array(na, sizeof *ga), *gaf = nde_alloc_array(na, sizeof *gaf);
    double *gwf = nde_alloc_array(np, sizeof *gwf);
    fno_eval(&c, u);
    cr_assert_eq(nde_fno_backward(c.fno, c.work, gu, ga, nde_params_grad(p), batch), NDE_OK, "%s", nde_last_error());
    fd_grad(fno_eval, &c, c.a, na, gu, nu, gaf);
    fd_grad(fno_eval, &c, nde_params_theta(p), np, gu, nu, gwf);
    gc_expect_close(ga, gaf, na, gc_l2(1e-6), "FNO input VJP");
    gc_expect_close(nde_params_grad(p), gwf, np, gc_l2(1e-6), "FNO parameter VJP");
    /* The spectral weights' gradient is not negligible in the check. */
    const nde_tensor_info *k0 = nde_params_find(p, "layer0.spectral.weight");
    cr_assert_not_null(k0);
    double gk = 0;
    for (size_t i = 0; i < k0->numel; i++) gk += fabs(gwf[k0->offset + i]);
    cr_assert(gk > 1e-3);
    /* backward after a forward with another batch size is a state error */
    fno_eval(&c, u);
    cr_assert_eq(nde_fno_backward(c.fno, c.work, gu, ga, NULL, batch + 1), NDE_ERR_STATE);
    cr_assert_eq(nde_fno_forward(c.fno, c.work, c.a, u, batch + 2), NDE_ERR_SHAPE);
    nde_free(c.a);
    nde_free(u);
    nde_free(gu);
    nde_free(ga);
    nde_free(gaf);
    nde_free(gwf);
    nde_fno_work_destroy(&c.work);
    cr_assert_null(c.work);
    nde_fno_destroy(&c.fno);
    nde_params_destroy(&store);
    nde_ctx_destroy(&ctx);
}

static nde_fno_spec tiny_spec(int ndim)
{
    nde_fno_spec s = nde_fno1d_burgers_spec();
    s.precision = NDE_PRECISION_FLOAT64; /* finite differences need double */
    s.ndim = ndim;
    s.width = 3;
    s.n_modes[0] = 2;
    s.n_modes[1] = 2;
    s.n_layers = 2;
    s.proj_hidden[0] = 4;
    return s;
}

Test(fno, vjp_1d_matches_finite_differences)
{
    nde_fno_spec s = tiny_spec(1);
    size_t n[1] = {8};
    check_fno_vjp(s, n, 2);
    s.grid = 0;
    s.n_lift_hidden = 1;
    s.lift_hidden[0] = 3;
    s.in_channels = 2;
    s.out_channels = 2;
    s.n_layers = 3;
    check_fno_vjp(s, n, 1);
}

Test(fno, vjp_2d_with_padding_matches_finite_differences)
{
    nde_fno_spec s = tiny_spec(2);
    s.padding = 0.25;
    size_t n[2] = {4, 5};
    check_fno_vjp(s, n, 1);
}

Test(fno, vector_field_matches_forward_and_backward)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_fno_spec s = tiny_spec(1);
    nde_fno *fno;
    nde_params *p, *p2;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    cr_assert_eq(nde_params_create(&p2), NDE_OK);
    cr_assert_eq(nde_fno_create(ctx, p, &s, &fno), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, 4);
    nde_fno_init(fno, &r);
    size_t n[1] = {8}, batch = 5; /* the field runs chunks of 2 */
    nde_fno_work *w;
    cr_assert_eq(nde_fno_work_create(fno, 2, n, &w), NDE_OK);
    nde_field f;
    cr_assert_eq(nde_fno_field(fno, w, &f), NDE_OK);
    cr_assert_eq(nde_field_check(&f, 1), NDE_OK);
    cr_assert_eq(f.dim, 8);
    cr_assert_eq(f.n_params, nde_params_count(nde_fno_params(fno)));
    double *u = rnd(batch * 8, &r, 1), *v = rnd(batch * 8, &r, 1);
    double *du = nde_alloc_array(batch * 8, sizeof *du), *d1 = nde_alloc_array(8, sizeof *d1);
    double *vu = nde_alloc_array(batch * 8, sizeof *vu), *g1 = nde_alloc_array(8, sizeof *g1);
    size_t np = f.n_params;
    double *gt = nde_alloc_array(np, sizeof *gt), *gt1 = nde_alloc_array(np, sizeof *gt1);
    cr_assert_eq(f.f(f.ctx, 0.0, u, du, batch), NDE_OK);
    cr_assert_eq(f.vjp(f.ctx, 0.0, u, v, vu, gt, batch), NDE_OK);
    for (size_t b = 0; b < batch; b++) {
        cr_assert_eq(nde_fno_forward(fno, w, u + 8 * b, d1, 1), NDE_OK);
        cr_assert_eq(memcmp(d1, du + 8 * b, 8 * sizeof *d1), 0);
        cr_assert_eq(nde_fno_backward(fno, w, v + 8 * b, g1, gt1, 1), NDE_OK);
        for (int i = 0; i < 8; i++) cr_assert(fabs(g1[i] - vu[8 * b + i]) < 1e-14);
    }
    cr_assert(rel_err(gt, gt1, np) < 1e-13);
    s.out_channels = 2;
    nde_fno *f2;
    nde_fno_work *w2;
    cr_assert_eq(nde_fno_create(ctx, p2, &s, &f2), NDE_OK);
    cr_assert_eq(nde_fno_work_create(f2, 1, n, &w2), NDE_OK);
    cr_assert_eq(nde_fno_field(f2, w2, &f), NDE_ERR_SHAPE);
    cr_assert_eq(nde_fno_field(fno, w2, &f), NDE_ERR_ARG);
    size_t tiny[1] = {3};
    nde_fno_work *w3 = NULL;
    cr_assert_eq(nde_fno_work_create(fno, 1, tiny, &w3), NDE_ERR_SHAPE);
    cr_assert_null(w3);
    nde_fno_work_destroy(&w2);
    nde_fno_destroy(&f2);
    nde_free(u);
    nde_free(v);
    nde_free(du);
    nde_free(d1);
    nde_free(vu);
    nde_free(g1);
    nde_free(gt);
    nde_free(gt1);
    nde_fno_work_destroy(&w);
    nde_fno_destroy(&fno);
    nde_params_destroy(&p);
    nde_params_destroy(&p2);
    nde_ctx_destroy(&ctx);
}

/* A model trained at s evaluates at 2s through the same API (a new workspace) with an
 * error within 2x of its error at s: learn the Burgers map a -> u(., 0.05) at s = 32 and
 * test on the same functions sampled at 64 points. */
Test(fno, trained_at_s_evaluates_at_2s)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    const size_t ntrain = 48, ntest = 16, s1 = 32, s2 = 64, batch = 8;
    nde_burgers_spec bs = nde_burgers_defaults();
    bs.n_solve = 64;
    bs.t_final = 0.05;
    bs.n_steps = 20;
    bs.n = s1;
    double *a1 = nde_alloc_array((ntrain + ntest) * s1, sizeof *a1);
    double *u1 = nde_alloc_array((ntrain + ntest) * s1, sizeof *u1);
    cr_assert_eq(nde_burgers_generate(ctx, &bs, 0, ntrain + ntest, a1, u1, NULL, NULL), NDE_OK);
    bs.n = s2;
    double *a2 = nde_alloc_array(ntest * s2, sizeof *a2), *u2 = nde_alloc_array(ntest * s2, sizeof *u2);
    cr_assert_eq(nde_burgers_generate(ctx, &bs, ntrain, ntest, a2, u2, NULL, NULL), NDE_OK);

    nde_fno_spec spec = nde_fno1d_burgers_spec();
    spec.width = 12;
    spec.n_modes[0] = 8;
    spec.n_layers = 2;
    spec.proj_hidden[0] = 24;
    nde_fno *fno;
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    cr_assert_eq(nde_fno_create(ctx, p, &spec, &fno), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, 1);
    nde_fno_init(fno, &r);
    nde_fno_work *w1, *w2;
    size_t n1 = s1, n2 = s2;
    cr_assert_eq(nde_fno_work_create(fno, batch, &n1, &w1), NDE_OK);
    cr_assert_eq(nde_fno_work_create(fno, batch, &n2, &w2), NDE_OK);
    nde_optim_spec os = nde_optim_defaults(NDE_OPT_ADAM);
    os.lr = 3e-3;
    nde_optim *opt;
    cr_assert_eq(nde_optim_create(&os, p, &opt), NDE_OK);
    double *pred = nde_alloc_array(batch * s2, sizeof *pred), *grad = nde_alloc_array(batch * s1, sizeof *grad);
    double loss;
    for (int epoch = 0; epoch < 150; epoch++)
        for (size_t b = 0; b < ntrain; b += batch) {
            cr_assert_eq(nde_fno_forward(fno, w1, a1 + b * s1, pred, batch), NDE_OK);
            cr_assert_eq(nde_rel_l2_loss(pred, u1 + b * s1, grad, batch, s1, &loss), NDE_OK);
            nde_params_zero_grad(p);
            cr_assert_eq(nde_fno_backward(fno, w1, grad, NULL, nde_params_grad(p), batch), NDE_OK);
            cr_assert_eq(nde_optim_step(opt), NDE_OK);
        }
    double e1 = 0, e2 = 0;
    for (size_t b = 0; b < ntest; b += batch) {
        cr_assert_eq(nde_fno_forward(fno, w1, a1 + (ntrain + b) * s1, pred, batch), NDE_OK);
        cr_assert_eq(nde_rel_l2_loss(pred, u1 + (ntrain + b) * s1, NULL, batch, s1, &loss), NDE_OK);
        e1 += loss / (double)ntest;
        cr_assert_eq(nde_fno_forward(fno, w2, a2 + b * s2, pred, batch), NDE_OK);
        cr_assert_eq(nde_rel_l2_loss(pred, u2 + b * s2, NULL, batch, s2, &loss), NDE_OK);
        e2 += loss / (double)ntest;
    }
    cr_assert(e1 < 0.1, "did not learn: test rel L2 %g at s", e1);
    cr_assert(e2 <= 2 * e1, "test rel L2 %g at 2s vs %g at s", e2, e1);
    nde_free(a1);
    nde_free(u1);
    nde_free(a2);
    nde_free(u2);
    nde_free(pred);
    nde_free(grad);
    nde_optim_destroy(&opt);
    nde_fno_work_destroy(&w1);
    nde_fno_work_destroy(&w2);
    nde_fno_destroy(&fno);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
}

/* The batch split over a thread team gives the single-threaded results (to rounding: the
 * parameter gradient is summed in another order). */
Test(fno, threaded_workspace_matches_single_thread)
{
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_fno_spec s = tiny_spec(1);
    nde_fno *fno;
    /* a tensor before the FNO's: the threads' private gradients cover the whole store */
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    cr_assert_eq(nde_params_add(p, "other", 1, (size_t[]){5}, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    cr_assert_eq(nde_fno_create(ctx, p, &s, &fno), NDE_OK);
    nde_rng r;
    nde_rng_seed(&r, 6);
    nde_fno_init(fno, &r);
    size_t n[1] = {8}, batch = 5, np = nde_params_count(nde_fno_params(fno));
    nde_fno_work *w1, *w3;
    cr_assert_eq(nde_fno_work_create(fno, batch, n, &w1), NDE_OK);
    cr_assert_eq(nde_fno_work_create_threaded(fno, batch, n, 3, &w3), NDE_OK);
    double *a = rnd(batch * 8, &r, 1), *gu = rnd(batch * 8, &r, 1);
    double *u1 = nde_alloc_array(batch * 8, sizeof *u1), *u3 = nde_alloc_array(batch * 8, sizeof *u3);
    double *ga1 = nde_alloc_array(batch * 8, sizeof *ga1), *ga3 = nde_alloc_array(batch * 8, sizeof *ga3);
    double *g1 = nde_alloc_array(np, sizeof *g1), *g3 = nde_alloc_array(np, sizeof *g3);
    for (size_t nb = 1; nb <= batch; nb += 2) {
        memset(g1, 0, np * sizeof *g1);
        memset(g3, 0, np * sizeof *g3);
        cr_assert_eq(nde_fno_forward(fno, w1, a, u1, nb), NDE_OK);
        cr_assert_eq(nde_fno_forward(fno, w3, a, u3, nb), NDE_OK, "%s", nde_last_error());
        cr_assert(rel_err(u3, u1, nb * 8) < 1e-14);
        cr_assert_eq(nde_fno_backward(fno, w1, gu, ga1, g1, nb), NDE_OK);
        cr_assert_eq(nde_fno_backward(fno, w3, gu, ga3, g3, nb), NDE_OK, "%s", nde_last_error());
        cr_assert(rel_err(ga3, ga1, nb * 8) < 1e-14);
        cr_assert(rel_err(g3, g1, np) < 1e-13, "batch %zu: %g", nb, rel_err(g3, g1, np));
    }
    cr_assert_eq(nde_fno_forward(fno, w3, a, u3, batch + 1), NDE_ERR_SHAPE);
    nde_fno_work *bad = NULL;
    cr_assert_eq(nde_fno_work_create_threaded(fno, batch, n, 0, &bad), NDE_ERR_ARG);
    cr_assert_null(bad);
    /* a tensor added to the store after the workspaces were made: state error */
    cr_assert_eq(nde_params_add(p, "late", 1, (size_t[]){2}, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    cr_assert_eq(nde_fno_forward(fno, w1, a, u1, 1), NDE_ERR_STATE);
    cr_assert_eq(nde_fno_forward(fno, w3, a, u3, 1), NDE_ERR_STATE);
    nde_free(a);
    nde_free(gu);
    nde_free(u1);
    nde_free(u3);
    nde_free(ga1);
    nde_free(ga3);
    nde_free(g1);
    nde_free(g3);
    nde_fno_work_destroy(&w1);
    nde_fno_work_destroy(&w3);
    nde_fno_destroy(&fno);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
}
