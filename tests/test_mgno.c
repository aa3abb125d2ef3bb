/* Convolution primitives and MgNO: forward against a direct-loop reference written
 * from PyTorch's definitions, adjoint identities, VJPs against central finite
 * differences, the published parameter count, and bad input. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "mgno_fns.h"
#include "nde/nde.h"

static void fill(nde_rng *r, double *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = nde_rng_uniform_in(r, -1.0, 1.0);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double rel_diff(double a, double b)
{
    double den = fmax(fabs(a), fabs(b));
    return den == 0.0 ? 0.0 : fabs(a - b) / den;
}

/* PyTorch's padded index: position pos of a grid of n points, −1 when zero-padded. */
static long ref_index(long pos, long n, nde_pad_mode m)
{
    if (pos >= 0 && pos < n) return pos;
    if (m == NDE_PAD_ZERO) return -1;
    if (m == NDE_PAD_PERIODIC) return ((pos % n) + n) % n;
    return pos < 0 ? -pos : 2 * (n - 1) - pos;
}

/* Direct loops: y[o,i] = b[o] + Σ w[o,c,k]·x[c, pad(s·i+k−p)] for a convolution;
 * y[o, pad(s·i+k−p)] += w[c,o,k]·x[c,i] for a transposed one. 1-D problems are one row. */
static void ref_conv(const nde_conv_spec *sp, const double *w, const double *b, const double *x,
                     double *y, size_t no0, size_t no1)
{
    const long k0 = sp->ndim == 2 ? (long)sp->kernel : 1, k1 = (long)sp->kernel;
    const long ni0 = sp->ndim == 2 ? (long)sp->n_in[0] : 1;
    const long ni1 = sp->ndim == 2 ? (long)sp->n_in[1] : (long)sp->n_in[0];
    const long s = (long)sp->stride, p = (long)sp->pad, ci = (long)sp->c_in, co = (long)sp->c_out;
    const long p0 = sp->ndim == 2 ? p : 0;
    for (long o = 0; o < co; o++)
        for (size_t i = 0; i < no0 * no1; i++) y[(size_t)o * no0 * no1 + i] = b ? b[o] : 0.0;
    if (!sp->transposed) {
        for (long o = 0; o < co; o++)
            for (long a0 = 0; a0 < (long)no0; a0++)
                for (long a1 = 0; a1 < (long)no1; a1++)
                    for (long c = 0; c < ci; c++)
                        for (long t0 = 0; t0 < k0; t0++)
                            for (long t1 = 0; t1 < k1; t1++) {
                                long i0 = sp->ndim == 2 ? ref_index(s * a0 + t0 - p0, ni0, sp->pad_mode) : 0;
                                long i1 = ref_index(s * a1 + t1 - p, ni1, sp->pad_mode);
                                if (i0 < 0 || i1 < 0) continue;
                                y[(o * (long)no0 + a0) * (long)no1 + a1] +=
                                    w[((o * ci + c) * k0 + t0) * k1 + t1] * x[(c * ni0 + i0) * ni1 + i1];
                            }
    } else {
        for (long c = 0; c < ci; c++)
            for (long a0 = 0; a0 < ni0; a0++)
                for (long a1 = 0; a1 < ni1; a1++)
                    for (long o = 0; o < co; o++)
                        for (long t0 = 0; t0 < k0; t0++)
                            for (long t1 = 0; t1 < k1; t1++) {
                                long i0 = sp->ndim == 2 ? ref_index(s * a0 + t0 - p0, (long)no0, sp->pad_mode) : 0;
                                long i1 = ref_index(s * a1 + t1 - p, (long)no1, sp->pad_mode);
                                if (i0 < 0 || i1 < 0) continue;
                                y[(o * (long)no0 + i0) * (long)no1 + i1] +=
                                    w[((c * co + o) * k0 + t0) * k1 + t1] * x[(c * ni0 + a0) * ni1 + a1];
                            }
    }
}

/* Forward against the reference, batch of 2, then accumulate mode. */
static void check_forward(const nde_conv_spec *sp, uint64_t seed)
{
    nde_conv *c = NULL;
    cr_assert_eq(nde_conv_create(sp, &c), NDE_OK, "%s", nde_last_error());
    const size_t nin = nde_conv_in_numel(c), nout = nde_conv_out_numel(c), nw = nde_conv_weight_numel(c);
    const size_t no0 = sp->ndim == 2 ? nde_conv_out_size(c, 0) : 1;
    const size_t no1 = nde_conv_out_size(c, sp->ndim - 1);
    cr_assert_eq(nout, sp->c_out * no0 * no1);
    nde_rng r;
    nde_rng_seed(&r, seed);
    double *w = nde_alloc_array(nw, 8), *b = nde_alloc_array(sp->c_out, 8);
    double *x = nde_alloc_array(2 * nin, 8), *y = nde_alloc_array(2 * nout, 8);
    double *ref = nde_alloc_array(nout, 8);
    fill(&r, w, nw);
    fill(&r, b, sp->c_out);
    fill(&r, x, 2 * nin);
    cr_assert_eq(nde_conv_forward(c, w, b, x, y, 2, 0), NDE_OK);
    for (size_t s = 0; s < 2; s++) {
        ref_conv(sp, w, b, x + s * nin, ref, no0, no1);
        for (size_t i = 0; i < nout; i++)
            cr_assert(fabs(y[s * nout + i] - ref[i]) <= 1e-13 * (1.0 + fabs(ref[i])),
                      "ndim %d T%d k%zu s%zu p%zu %s: y[%zu] = %.17g, reference %.17g", sp->ndim,
                      sp->transposed, sp->kernel, sp->stride, sp->pad,
                      nde_pad_mode_name(sp->pad_mode), i, y[s * nout + i], ref[i]);
    }
    /* accumulate adds the same result again */
    cr_assert_eq(nde_conv_forward(c, w, b, x, y, 2, 1), NDE_OK);
    ref_conv(sp, w, b, x + nin, ref, no0, no1);
    for (size_t i = 0; i < nout; i++)
        cr_assert(fabs(y[nout + i] - 2 * ref[i]) <= 1e-13 * (1.0 + fabs(ref[i])));
    nde_free(w), nde_free(b), nde_free(x), nde_free(y), nde_free(ref);
    nde_conv_destroy(&c);
    cr_assert_null(c);
}

/* conv(x; w, b) for gradcheck.h's gc_cotangent, reading x, w and b through the pointers. */
typedef struct conv_eval {
    nde_conv *c;
    const double *w, *b, *x;
    size_t batch;
} conv_eval;

static void conv_eval_forward(void *user, double *y)
{
    conv_eval *e = user;
    cr_assert_eq(nde_conv_forward(e->c, e->w, e->b, e->x, y, e->batch, 0), NDE_OK);
}

/* VJP of L = ⟨gy, conv(x; w, b)⟩ along random directions against central differences. */
static void check_vjp(const nde_conv_spec *sp, uint64_t seed)
{
    nde_conv *c = NULL;
    cr_assert_eq(nde_conv_create(sp, &c), NDE_OK, "%s", nde_last_error());
    const size_t nin = nde_conv_in_numel(c), nout = nde_conv_out_numel(c), nw = nde_conv_weight_numel(c);
    const size_t B = 2, nb = sp->c_out;
    nde_rng r;
    nde_rng_seed(&r, seed);
    double *w = nde_alloc_array(nw, 8), *b = nde_alloc_array(nb, 8), *x = nde_alloc_array(B * nin, 8);
    double *gy = nde_alloc_array(B * nout, 8), *y = nde_alloc_array(B * nout, 8);
    double *gx = nde_alloc_array(B * nin, 8), *gw = nde_alloc_array(nw, 8), *gb = nde_alloc_array(nb, 8);
    double *dx = nde_alloc_array(B * nin, 8), *dw = nde_alloc_array(nw, 8), *db = nde_alloc_array(nb, 8);
    fill(&r, w, nw), fill(&r, b, nb), fill(&r, x, B * nin), fill(&r, gy, B * nout);
    fill(&r, dx, B * nin), fill(&r, dw, nw), fill(&r, db, nb);
    cr_assert_eq(nde_conv_vjp(c, w, x, gy, gx, gw, gb, B), NDE_OK);
    const double h = 1e-3; /* L is bilinear: central differences are exact up to rounding */
    double *arrays[3] = {x, w, b}, *dirs[3] = {dx, dw, db}, *grads[3] = {gx, gw, gb};
    size_t lens[3] = {B * nin, nw, nb};
    double *save = nde_alloc_array(B * nin + nw + nb, 8);
    conv_eval ce = {.c = c, .w = w, .b = b, .x = x, .batch = B};
    gc_cotangent L = {.f = conv_eval_forward, .user = &ce, .r = gy, .nout = B * nout, .out = y};
    for (int a = 0; a < 3; a++) {
        double fd = gc_fd_directional(arrays[a], dirs[a], lens[a], h, gc_cotangent_eval, &L, save);
        double an = dot(grads[a], dirs[a], lens[a]);
        gc_expect_close(&an, &fd, 1, gc_l2(1e-6), "ndim %d T%d k%zu s%zu p%zu %s: argument %d",
                        sp->ndim, sp->transposed, sp->kernel, sp->stride, sp->pad,
                        nde_pad_mode_name(sp->pad_mode), a);
    }
    nde_free(save);
    nde_free(w), nde_free(b), nde_free(x), nde_free(gy), nde_free(y), nde_free(gx);
    nde_free(gw), nde_free(gb), nde_free(dx), nde_free(dw), nde_free(db);
    nde_conv_destroy(&c);
}

/* The geometries MgNO uses plus odd sizes, 1×1 and non-square grids. */
static const struct { int ndim, transposed; size_t ci, co, n0, n1, k, s, p; } geoms[] = {
    {2, 0, 2, 3, 6, 5, 3, 1, 1}, {2, 0, 3, 2, 7, 6, 3, 2, 1}, {2, 0, 2, 2, 8, 8, 3, 2, 1},
    {2, 1, 2, 3, 4, 3, 4, 2, 1}, {2, 1, 3, 2, 3, 4, 3, 2, 1}, {2, 0, 3, 4, 5, 4, 1, 1, 0},
    {2, 1, 3, 4, 5, 4, 1, 1, 0}, {2, 0, 2, 2, 5, 5, 5, 1, 2}, {1, 0, 2, 3, 9, 0, 3, 1, 1},
    {1, 0, 3, 2, 9, 0, 3, 2, 1}, {1, 1, 2, 2, 5, 0, 3, 2, 1}, {1, 1, 2, 3, 4, 0, 4, 2, 1},
    {1, 0, 2, 3, 7, 0, 1, 1, 0}, {2, 0, 1, 2, 4, 4, 2, 2, 0},
};

static nde_conv_spec geom_spec(size_t i, nde_pad_mode m)
{
    nde_conv_spec sp = {.ndim = geoms[i].ndim, .transposed = geoms[i].transposed,
                        .c_in = geoms[i].ci, .c_out = geoms[i].co,
                        .n_in = {geoms[i].n0, geoms[i].n1}, .kernel = geoms[i].k,
                        .stride = geoms[i].s, .pad = geoms[i].p, .pad_mode = m};
    return sp;
}

Test(conv, forward_matches_direct_loops_for_every_padding_mode)
{
    for (size_t i = 0; i < sizeof geoms / sizeof geoms[0]; i++)
        for (int m = 0; m < NDE_PAD_MODE_COUNT; m++) {
            nde_conv_spec sp = geom_spec(i, (nde_pad_mode)m);
            check_forward(&sp, 100 + i);
        }
}

Test(conv, vjp_matches_central_differences)
{
    for (size_t i = 0; i < sizeof geoms / sizeof geoms[0]; i++)
        for (int m = 0; m < NDE_PAD_MODE_COUNT; m++) {
            nde_conv_spec sp = geom_spec(i, (nde_pad_mode)m);
            check_vjp(&sp, 200 + i);
        }
}

/* A transposed convolution is the adjoint of the convolution with the same weights:
 * ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩, for every padding mode. */
Test(conv, transposed_is_the_adjoint_of_the_strided_convolution)
{
    for (int m = 0; m < NDE_PAD_MODE_COUNT; m++) {
        nde_conv_spec fwd = {.ndim = 2, .c_in = 3, .c_out = 2, .n_in = {7, 7}, .kernel = 3,
                             .stride = 2, .pad = 1, .pad_mode = (nde_pad_mode)m};
        nde_conv_spec tsp = {.ndim = 2, .transposed = 1, .c_in = 2, .c_out = 3, .n_in = {4, 4},
                             .kernel = 3, .stride = 2, .pad = 1, .pad_mode = (nde_pad_mode)m};
        nde_conv *c, *t;
        cr_assert_eq(nde_conv_create(&fwd, &c), NDE_OK);
        cr_assert_eq(nde_conv_create(&tsp, &t), NDE_OK);
        cr_assert_eq(nde_conv_out_size(c, 0), 4);
        cr_assert_eq(nde_conv_out_size(t, 1), 7); /* (4 − 1)·2 − 2 + 3 */
        cr_assert_eq(nde_conv_out_numel(t), nde_conv_in_numel(c));
        nde_rng r;
        nde_rng_seed(&r, 9);
        size_t nx = nde_conv_in_numel(c), ny = nde_conv_out_numel(c);
        double w[54], x[3 * 7 * 7], y[2 * 4 * 4], cx[2 * 4 * 4], ty[3 * 7 * 7];
        cr_assert_eq(nx, sizeof x / sizeof x[0]);
        cr_assert_eq(ny, sizeof y / sizeof y[0]);
        fill(&r, w, 54), fill(&r, x, nx), fill(&r, y, ny);
        cr_assert_eq(nde_conv_forward(c, w, NULL, x, cx, 1, 0), NDE_OK);
        cr_assert_eq(nde_conv_forward(t, w, NULL, y, ty, 1, 0), NDE_OK);
        cr_assert(rel_diff(dot(cx, y, ny), dot(x, ty, nx)) <= 1e-13, "mode %s",
                  nde_pad_mode_name((nde_pad_mode)m));
        nde_conv_destroy(&c);
        nde_conv_destroy(&t);
    }
}

Test(conv, bad_specs_are_rejected_with_a_status)
{
    nde_conv *c = (nde_conv *)&c;
    nde_conv_spec ok = {.ndim = 2, .c_in = 1, .c_out = 1, .n_in = {4, 4}, .kernel = 3,
                        .stride = 1, .pad = 1};
    nde_conv_spec sp = ok;
    sp.ndim = 3;
    cr_assert_eq(nde_conv_create(&sp, &c), NDE_ERR_ARG);
    cr_assert_null(c);
    sp = ok, sp.c_in = 0;
    cr_assert_eq(nde_conv_create(&sp, &c), NDE_ERR_ARG);
    sp = ok, sp.stride = 0;
    cr_assert_eq(nde_conv_create(&sp, &c), NDE_ERR_ARG);
    sp = ok, sp.pad_mode = NDE_PAD_MODE_COUNT;
    cr_assert_eq(nde_conv_create(&sp, &c), NDE_ERR_ARG);
    sp = ok, sp.kernel = 9, sp.pad = 0;
    cr_assert_eq(nde_conv_create(&sp, &c), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "kernel 9") != NULL, "%s", nde_last_error());
    sp = ok, sp.pad = 4, sp.pad_mode = NDE_PAD_REFLECT;
    cr_assert_eq(nde_conv_create(&sp, &c), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "reflect") != NULL);
    sp = ok, sp.pad = 5, sp.kernel = 11, sp.pad_mode = NDE_PAD_PERIODIC;
    cr_assert_eq(nde_conv_create(&sp, &c), NDE_ERR_ARG);
    cr_assert_eq(nde_conv_create(NULL, &c), NDE_ERR_ARG);
    cr_assert_eq(nde_conv_create(&ok, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_conv_create(&ok, &c), NDE_OK);
    double w[9] = {0}, x[16] = {0}, y[16];
    cr_assert_eq(nde_conv_forward(c, w, NULL, x, y, 0, 0), NDE_ERR_ARG);
    cr_assert_eq(nde_conv_forward(c, NULL, NULL, x, y, 1, 0), NDE_ERR_ARG);
    cr_assert_eq(nde_conv_vjp(c, w, NULL, y, x, w, NULL, 1), NDE_ERR_ARG);
    nde_conv_destroy(&c);
    nde_conv_destroy(&c);
    nde_conv_destroy(NULL);
    cr_assert_str_eq(nde_pad_mode_name(NDE_PAD_REFLECT), "reflect");
}

/* ---- MgNO ------------------------------------------------------------------- */

/* Central-difference check of the VJP of L = ⟨gy, F(x; θ)⟩: the input along one random
 * direction, and θ along a random direction restricted to each tensor in turn, so
 * every tensor's gradient is tested. */

/* F(x; θ) for gradcheck.h's gc_cotangent (θ is read from the params the object holds). */
typedef struct graph_eval {
    void *obj;
    fwd_fn fwd;
    const double *x;
    size_t batch;
} graph_eval;

static void graph_eval_forward(void *user, double *y)
{
    graph_eval *e = user;
    cr_assert_eq(e->fwd(e->obj, e->x, y, e->batch), NDE_OK, "%s", nde_last_error());
}

static void check_graph_vjp(void *obj, fwd_fn fwd, vjp_fn vjp, nde_params *p, size_t nin,
                            size_t nout, uint64_t seed, double h)
{
    const size_t B = 2, np = nde_params_count(p);
    nde_rng r;
    nde_rng_seed(&r, seed);
    double *x = nde_alloc_array(B * nin, 8), *gy = nde_alloc_array(B * nout, 8);
    double *y = nde_alloc_array(B * nout, 8), *gx = nde_alloc_array(B * nin, 8);
    double *dx = nde_alloc_array(B * nin, 8), *dth = nde_alloc_array(np, 8);
    double *gth = nde_alloc_array(np, 8);
    fill(&r, x, B * nin), fill(&r, gy, B * nout), fill(&r, dx, B * nin), fill(&r, dth, np);
    gx[0] = 123.0; /* overwritten, not accumulated */
    gth[0] = 0.0;
    cr_assert_eq(vjp(obj, x, gy, gx, gth, B), NDE_OK, "%s", nde_last_error());
    double *theta = nde_params_theta(p);
    double *save = nde_alloc_array(B * nin + np, 8);
    graph_eval ge = {.obj = obj, .fwd = fwd, .x = x, .batch = B};
    gc_cotangent L = {.f = graph_eval_forward, .user = &ge, .r = gy, .nout = B * nout, .out = y};
    /* input */
    double fd = gc_fd_directional(x, dx, B * nin, h, gc_cotangent_eval, &L, save);
    double an = dot(gx, dx, B * nin);
    gc_expect_close(&an, &fd, 1, gc_l2(1e-6), "input");
    /* every tensor */
    for (size_t t = 0; t < nde_params_n_tensors(p); t++) {
        const nde_tensor_info *ti = nde_params_tensor(p, t);
        double *d = dth + ti->offset;
        fd = gc_fd_directional(theta + ti->offset, d, ti->numel, h, gc_cotangent_eval, &L, save);
        an = dot(gth + ti->offset, d, ti->numel);
        gc_expect_close(&an, &fd, 1, gc_l2(1e-6), "tensor %s", ti->name);
    }
    nde_free(save);
    nde_free(x), nde_free(gy), nde_free(y), nde_free(gx), nde_free(dx), nde_free(dth), nde_free(gth);
}

Test(mgno, vcycle_vjp_matches_central_differences_2d)
{
    /* 7×7 → 4×4 → 2×2: odd and even prolongation kernels, post-smoothing, biases */
    for (int m = 0; m < NDE_PAD_MODE_COUNT; m++) {
        nde_mgconv_spec sp = {.ndim = 2, .n = {7, 7}, .c_f = 2, .c_u = 3, .levels = 3,
                              .pre = {2, 1, 2}, .post = {1, 1, 0},
                              .pad_mode = (nde_pad_mode)m, .bias = 1};
        nde_params *p;
        nde_rng r;
        nde_rng_seed(&r, 3);
        cr_assert_eq(nde_params_create(&p), NDE_OK);
        nde_mgconv *l;
        cr_assert_eq(nde_mgconv_create(&sp, p, "w", &l), NDE_OK, "%s", nde_last_error());
        cr_assert_eq(nde_mgconv_init(l, &r), NDE_OK);
        cr_assert_eq(nde_mgconv_in_numel(l), 2 * 49);
        cr_assert_eq(nde_mgconv_out_numel(l), 3 * 49);
        cr_assert_eq(nde_mgconv_n_params(l), nde_params_count(p));
        cr_assert_not_null(nde_params_find(p, "w.mg.l1.RT.weight"));
        check_graph_vjp(l, mgconv_fwd, mgconv_vjp, p, 2 * 49, 3 * 49, 40 + (uint64_t)m, 1e-3);
        nde_mgconv_destroy(&l);
        cr_assert_null(l);
        nde_params_destroy(&p);
    }
}

Test(mgno, vcycle_vjp_matches_central_differences_1d)
{
    nde_mgconv_spec sp = {.ndim = 1, .n = {12}, .c_f = 1, .c_u = 2, .levels = 3,
                          .pre = {1, 2, 1}, .post = {1, 0, 0}, .pad_mode = NDE_PAD_PERIODIC};
    nde_params *p;
    nde_rng r;
    nde_rng_seed(&r, 4);
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    nde_mgconv *l;
    cr_assert_eq(nde_mgconv_create(&sp, p, "w", &l), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mgconv_init(l, &r), NDE_OK);
    check_graph_vjp(l, mgconv_fwd, mgconv_vjp, p, 12, 24, 5, 1e-3);
    nde_mgconv_destroy(&l);
    nde_params_destroy(&p);
}

/* The V-cycle with one level and a single S is exactly one 3×3 convolution. */
Test(mgno, single_level_vcycle_is_one_convolution)
{
    nde_mgconv_spec sp = {.ndim = 2, .n = {5, 6}, .c_f = 2, .c_u = 3, .levels = 1, .pre = {1},
                          .pad_mode = NDE_PAD_REFLECT, .bias = 1};
    nde_params *p;
    nde_rng r;
    nde_rng_seed(&r, 6);
    nde_params_create(&p);
    nde_mgconv *l;
    cr_assert_eq(nde_mgconv_create(&sp, p, "w", &l), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mgconv_init(l, &r), NDE_OK);
    const nde_tensor_info *wt = nde_params_find(p, "w.mg.l0.pre0.S.weight");
    const nde_tensor_info *bt = nde_params_find(p, "w.mg.l0.pre0.S.bias");
    cr_assert_not_null(wt);
    cr_assert_not_null(bt);
    cr_assert_eq(nde_params_count(p), 3 * 2 * 9 + 3);
    /* PyTorch init bound 1/√(c_in·9) */
    for (size_t i = 0; i < wt->numel; i++)
        cr_assert(fabs(nde_params_theta(p)[wt->offset + i]) <= 1.0 / sqrt(18.0));
    double x[60], y[90], ref[90];
    fill(&r, x, 60);
    cr_assert_eq(nde_mgconv_forward(l, x, y, 1), NDE_OK);
    nde_conv_spec cs = {.ndim = 2, .c_in = 2, .c_out = 3, .n_in = {5, 6}, .kernel = 3,
                        .stride = 1, .pad = 1, .pad_mode = NDE_PAD_REFLECT};
    ref_conv(&cs, nde_params_theta(p) + wt->offset, nde_params_theta(p) + bt->offset, x, ref, 5, 6);
    for (int i = 0; i < 90; i++) cr_assert(fabs(y[i] - ref[i]) < 1e-13);
    nde_mgconv_destroy(&l);
    nde_params_destroy(&p);
}

Test(mgno, network_vjp_matches_central_differences)
{
    nde_mgno_spec sp = {.ndim = 2, .n = {8, 8}, .c_in = 2, .c_out = 1, .width = 3,
                        .n_layers = 2, .levels = 3, .pre = {1, 1, 2}, .post = {1, 0, 0},
                        .pad_mode = NDE_PAD_ZERO};
    nde_params *p;
    nde_rng r;
    nde_rng_seed(&r, 7);
    nde_params_create(&p);
    nde_mgno *m;
    cr_assert_eq(nde_mgno_create(&sp, p, "mgno", &m), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mgno_init(m, &r), NDE_OK);
    cr_assert_not_null(nde_params_find(p, "mgno.1.pw.bias"));
    cr_assert_not_null(nde_params_find(p, "mgno.proj.weight"));
    cr_assert_null(nde_params_find(p, "mgno.proj.bias"));
    /* GELU makes L non-linear: h = 1e-5 keeps the O(h²) error far below 1e-6 */
    check_graph_vjp(m, mgno_fwd, mgno_vjp, p, 2 * 64, 64, 8, 1e-5);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);
}

/* 572,661: the rough-Darcy configuration of the official code (operators.md §2.4,
 * computed from models.py and matching the paper's 0.57 M). */
Test(mgno, darcy_recipe_has_the_published_parameter_count)
{
    nde_mgno_spec sp = nde_mgno_darcy_spec(64);
    nde_params *p;
    nde_params_create(&p);
    nde_mgno *m;
    cr_assert_eq(nde_mgno_create(&sp, p, "mgno", &m), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mgno_n_params(m), 572661);
    cr_assert_eq(nde_params_count(p), 572661);
    cr_assert_eq(nde_mgno_in_numel(m), 64 * 64);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);
}

Test(mgno, field_evaluates_the_network)
{
    nde_mgno_spec sp = {.ndim = 1, .n = {8}, .c_in = 2, .c_out = 2, .width = 3, .n_layers = 1,
                        .levels = 2, .pre = {1, 1}, .pad_mode = NDE_PAD_PERIODIC};
    nde_params *p;
    nde_rng r;
    nde_rng_seed(&r, 11);
    nde_params_create(&p);
    nde_mgno *m;
    cr_assert_eq(nde_mgno_create(&sp, p, "m", &m), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mgno_init(m, &r), NDE_OK);
    nde_field f = nde_mgno_field(m);
    cr_assert_eq(nde_field_check(&f, 1), NDE_OK);
    cr_assert_eq(f.dim, 16);
    cr_assert_eq(f.n_params, nde_params_count(p));
    double u[32], du[32], y[32], v[32], vu[32], gx[32];
    fill(&r, u, 32), fill(&r, v, 32);
    cr_assert_eq(f.f(f.ctx, 0.5, u, du, 2), NDE_OK);
    cr_assert_eq(nde_mgno_forward(m, u, y, 2), NDE_OK);
    for (int i = 0; i < 32; i++) cr_assert_eq(du[i], y[i]);
    cr_assert_eq(f.vjp(f.ctx, 0.5, u, v, vu, NULL, 2), NDE_OK);
    cr_assert_eq(nde_mgno_vjp(m, u, v, gx, NULL, 2), NDE_OK);
    for (int i = 0; i < 32; i++) cr_assert_eq(vu[i], gx[i]);
    nde_mgno_destroy(&m);
    /* c_in != c_out: no field */
    sp.c_out = 1;
    cr_assert_eq(nde_mgno_create(&sp, p, "m2", &m), NDE_OK);
    f = nde_mgno_field(m);
    cr_assert_neq(nde_field_check(&f, 0), NDE_OK);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);
}

Test(mgno, bad_specs_and_nonfinite_input)
{
    nde_params *p;
    nde_params_create(&p);
    nde_mgno *m = (nde_mgno *)&m;
    nde_mgno_spec ok = {.ndim = 2, .n = {8, 8}, .c_in = 1, .c_out = 1, .width = 2,
                        .n_layers = 1, .levels = 3, .pre = {1, 1, 1}};
    nde_mgno_spec sp = ok;
    sp.levels = 4; /* 8 → 4 → 2 → 1: too coarse */
    sp.pre[3] = 1;
    cr_assert_eq(nde_mgno_create(&sp, p, "a", &m), NDE_ERR_ARG);
    cr_assert_null(m);
    cr_assert(strstr(nde_last_error(), "level 3") != NULL, "%s", nde_last_error());
    sp = ok, sp.pre[0] = 0;
    cr_assert_eq(nde_mgno_create(&sp, p, "a", &m), NDE_ERR_ARG);
    sp = ok, sp.post[2] = 1;
    cr_assert_eq(nde_mgno_create(&sp, p, "a", &m), NDE_ERR_ARG);
    sp = ok, sp.width = 0;
    cr_assert_eq(nde_mgno_create(&sp, p, "a", &m), NDE_ERR_ARG);
    sp = ok, sp.n[1] = 7;
    cr_assert_eq(nde_mgno_create(&sp, p, "a", &m), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "parity") != NULL, "%s", nde_last_error());
    sp = ok, sp.levels = 0;
    cr_assert_eq(nde_mgno_create(&sp, p, "a", &m), NDE_ERR_ARG);
    cr_assert_eq(nde_mgno_create(NULL, p, "a", &m), NDE_ERR_ARG);
    cr_assert_eq(nde_mgno_create(&ok, p, "a", &m), NDE_OK);
    /* a second model with the same prefix collides in the store */
    nde_mgno *m2 = NULL;
    cr_assert_eq(nde_mgno_create(&ok, p, "a", &m2), NDE_ERR_ARG);
    cr_assert_null(m2);
    double x[64], y[64];
    for (int i = 0; i < 64; i++) x[i] = 0.1;
    nde_rng r;
    nde_rng_seed(&r, 1);
    fill(&r, nde_params_theta(p), nde_params_count(p));
    x[5] = NAN;
    cr_assert_eq(nde_mgno_forward(m, x, y, 1), NDE_ERR_NONFINITE);
    cr_assert_eq(nde_mgno_forward(m, x, y, 0), NDE_ERR_ARG);
    cr_assert_eq(nde_mgno_vjp(m, x, NULL, y, NULL, 1), NDE_ERR_ARG);
    nde_mgno_destroy(&m);
    nde_mgno_destroy(&m);
    nde_mgno_destroy(NULL);
    nde_mgconv_destroy(NULL);
    nde_params_destroy(&p);
}

/* forward_keep + backward give the bits of vjp (same operations, no recomputation). */
Test(mgno, kept_activations_give_the_vjp_bits)
{
    nde_mgno_spec sp = {.ndim = 2, .n = {8, 8}, .c_in = 1, .c_out = 1, .width = 3, .n_layers = 2,
                        .levels = 3, .pre = {1, 1, 2}, .post = {1, 0, 0}};
    nde_params *p;
    nde_rng r;
    nde_rng_seed(&r, 21);
    nde_params_create(&p);
    nde_mgno *m;
    cr_assert_eq(nde_mgno_create(&sp, p, "m", &m), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mgno_init(m, &r), NDE_OK);
    const size_t np = nde_params_count(p);
    double x[3 * 64], y[3 * 64], y2[3 * 64], gy[3 * 64], gx[3 * 64], gx2[3 * 64];
    double *g1 = nde_alloc_array(np, 8), *g2 = nde_alloc_array(np, 8);
    fill(&r, x, 192), fill(&r, gy, 192);
    cr_assert_eq(nde_mgno_backward(m, gy, gx, g1, 3), NDE_ERR_STATE);
    cr_assert_eq(nde_mgno_forward_keep(m, x, y, 3), NDE_ERR_ARG); /* nothing reserved */
    cr_assert_eq(nde_mgno_reserve(m, 3), NDE_OK);
    cr_assert_eq(nde_mgno_forward_keep(m, x, y, 3), NDE_OK);
    cr_assert_eq(nde_mgno_forward(m, x, y2, 3), NDE_OK);
    cr_assert_eq(memcmp(y, y2, sizeof y), 0);
    cr_assert_eq(nde_mgno_backward(m, gy, gx, g1, 3), NDE_ERR_STATE); /* plain forward discarded them */
    cr_assert_eq(nde_mgno_forward_keep(m, x, y, 3), NDE_OK);
    cr_assert_eq(nde_mgno_backward(m, gy, gx, g1, 2), NDE_ERR_STATE);
    cr_assert_eq(nde_mgno_backward(m, gy, gx, g1, 3), NDE_OK);
    cr_assert_eq(nde_mgno_vjp(m, x, gy, gx2, g2, 3), NDE_OK);
    cr_assert_eq(memcmp(gx, gx2, sizeof gx), 0);
    cr_assert_eq(memcmp(g1, g2, np * sizeof *g1), 0);
    nde_free(g1), nde_free(g2);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);
}

/* θ fingerprint: a few entries, an index-weighted sum and the generator's next output. */
typedef struct theta_print {
    size_t n;
    double first, mid, last, wsum;
    uint64_t next;
} theta_print;

static theta_print fingerprint(nde_params *p, nde_rng *r)
{
    const size_t n = nde_params_count(p);
    const double *t = nde_params_theta(p);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += t[i] * (double)(i % 7 + 1);
    theta_print f = {.n = n, .first = t[0], .mid = t[n / 2], .last = t[n - 1], .wsum = s,
                     .next = nde_rng_u64(r)};
    return f;
}

static void check_print(theta_print got, theta_print want, const char *what)
{
    cr_assert_eq(got.n, want.n, "%s: %zu parameters", what, got.n);
    cr_assert_eq(got.first, want.first, "%s: θ[0] = %a", what, got.first);
    cr_assert_eq(got.mid, want.mid, "%s: θ[n/2] = %a", what, got.mid);
    cr_assert_eq(got.last, want.last, "%s: θ[n-1] = %a", what, got.last);
    cr_assert_eq(got.wsum, want.wsum, "%s: weighted sum %a", what, got.wsum);
    cr_assert_eq(got.next, want.next, "%s: next draw %" PRIu64, what, got.next);
}

static int all_zero(nde_params *p)
{
    const double *t = nde_params_theta(p);
    for (size_t i = 0; i < nde_params_count(p); i++)
        if (t[i] != 0.0) return 0;
    return 1;
}

/* create leaves θ zero; init draws what create(…, rng, …) drew before the parameter-ownership
 * change (issue 10), bit for bit and consuming the same number of draws. The expected values
 * were printed by the former code (commit eb67f9d) with these specs and seeds. */
Test(mgno, init_draws_the_bits_of_the_former_create)
{
    nde_params *p;
    nde_rng r;
    nde_mgno *m;
    nde_mgno_spec sp = {.ndim = 2, .n = {8, 8}, .c_in = 2, .c_out = 1, .width = 3,
                        .n_layers = 2, .levels = 3, .pre = {1, 1, 2}, .post = {1, 0, 0},
                        .pad_mode = NDE_PAD_ZERO, .bias = 1};
    nde_params_create(&p);
    cr_assert_eq(nde_mgno_create(&sp, p, "mgno", &m), NDE_OK, "%s", nde_last_error());
    cr_assert(all_zero(p));
    nde_rng_seed(&r, 7);
    cr_assert_eq(nde_mgno_init(m, &r), NDE_OK);
    check_print(fingerprint(p, &r),
                (theta_print){2423, 0x1.8349a68712daap-4, 0x1.cb02213281be8p-4,
                              0x1.c529b89de3a44p-3, 0x1.e8466091babadp+4, 11970985193623601572u},
                "mgno");
    cr_assert_eq(nde_mgno_init(NULL, &r), NDE_ERR_ARG);
    cr_assert_eq(nde_mgno_init(m, NULL), NDE_ERR_ARG);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);

    nde_mgconv_spec cs = {.ndim = 1, .n = {12}, .c_f = 2, .c_u = 3, .levels = 3,
                          .pre = {2, 1, 2}, .post = {1, 1, 0}, .pad_mode = NDE_PAD_PERIODIC,
                          .bias = 1};
    nde_mgconv *l, *l2;
    nde_params_create(&p);
    cr_assert_eq(nde_mgconv_create(&cs, p, "w", &l), NDE_OK, "%s", nde_last_error());
    cr_assert(all_zero(p));
    nde_rng_seed(&r, 4);
    cr_assert_eq(nde_mgconv_init(l, &r), NDE_OK);
    const theta_print want = {417, -0x1.8b9577b71f831p-3, -0x1.8dbcf409eb5fcp-2,
                              -0x1.9757df775478p-6, -0x1.1b3028e7baad3p+5, 18147754861477726277u};
    check_print(fingerprint(p, &r), want, "mgconv");
    cr_assert_eq(nde_mgconv_init(NULL, &r), NDE_ERR_ARG);
    cr_assert_eq(nde_mgconv_init(l, NULL), NDE_ERR_ARG);
    /* a second layer in the same store: its init touches only its own tensors */
    cr_assert_eq(nde_mgconv_create(&cs, p, "v", &l2), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mgconv_n_params(l2), 417);
    nde_rng_seed(&r, 99);
    cr_assert_eq(nde_mgconv_init(l2, &r), NDE_OK);
    const double *t = nde_params_theta(p);
    cr_assert_eq(t[0], want.first);
    cr_assert_eq(t[208], want.mid);
    cr_assert_eq(t[416], want.last);
    cr_assert_neq(t[417], 0.0);
    nde_mgconv_destroy(&l2);
    nde_mgconv_destroy(&l);
    cr_assert_null(l);
    nde_params_destroy(&p);

    /* the rough-Darcy recipe at 64×64 */
    nde_mgno_spec ds = nde_mgno_darcy_spec(64);
    nde_params_create(&p);
    cr_assert_eq(nde_mgno_create(&ds, p, "mgno", &m), NDE_OK, "%s", nde_last_error());
    cr_assert(all_zero(p));
    nde_rng_seed(&r, 1234);
    cr_assert_eq(nde_mgno_init(m, &r), NDE_OK);
    check_print(fingerprint(p, &r),
                (theta_print){572661, -0x1.363745bba84b9p-2, -0x1.b1e06026cfa1p-5,
                              -0x1.b950f9b3d5d4ap-4, 0x1.5680fba982cb4p+6, 2199610644520960027u},
                "darcy");
    /* NULL arguments */
    nde_mgno *m2 = (nde_mgno *)&m2;
    cr_assert_eq(nde_mgno_create(&ds, NULL, "x", &m2), NDE_ERR_ARG);
    cr_assert_eq(nde_mgno_create(&ds, p, NULL, &m2), NDE_ERR_ARG);
    cr_assert_eq(nde_mgno_create(&ds, p, "x", NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_mgconv_create(NULL, p, "x", &l), NDE_ERR_ARG);
    cr_assert_eq(nde_mgconv_create(&cs, NULL, "x", &l), NDE_ERR_ARG);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);
}
