/* SDEs (include/nde/sde.h): the Brownian tree (refinement, reversal, query order, seeds,
 * moments), strong and weak convergence orders against analytic solutions, adaptive
 * stepping with rejections against a fixed solve on the same times, the discrete adjoint
 * against central finite differences, and every bad-input status. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cnormal.h"
#include "fields.h"
#include "nde/nde.h"
#include "nde/sde.h"
#include "sde/sde_internal.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

/* ---- Brownian tree ------------------------------------------------------------------ */

static nde_brownian *tree(uint64_t seed, double t0, double t1, size_t n, size_t depth)
{
    nde_rng r;
    nde_rng_seed(&r, seed);
    nde_brownian *bm;
    CHECK(nde_brownian_create(&r, t0, t1, n, depth, &bm));
    return bm;
}

Test(sde_brownian, refinement_is_additive)
{
    enum { n = 5 };
    nde_brownian *bm = tree(11, 0.0, 2.0, n, 0);
    nde_rng r;
    nde_rng_seed(&r, 3);
    double a[n], b[n], c[n], ha[n], hb[n], hc[n];
    for (int rep = 0; rep < 200; rep++) {
        double p[3];
        for (int i = 0; i < 3; i++) p[i] = 2.0 * nde_rng_uniform(&r);
        if (rep % 4 == 0) p[1] = ldexp(floor(ldexp(p[1], 6)), -6); /* a dyadic point */
        /* sort */
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (p[j] < p[i]) {
                    double x = p[i];
                    p[i] = p[j];
                    p[j] = x;
                }
        double s = p[0], t = p[1], u = p[2];
        if (!(s < t && t < u)) continue;
        CHECK(nde_brownian_increment(bm, s, u, a, ha));
        CHECK(nde_brownian_increment(bm, s, t, b, hb));
        CHECK(nde_brownian_increment(bm, t, u, c, hc));
        for (int i = 0; i < n; i++) {
            cr_assert_leq(fabs(a[i] - (b[i] + c[i])), 1e-15 * fmax(1.0, fabs(a[i])),
                          "W(%g,%g) = %.17g vs W(s,t) + W(t,u) = %.17g", s, u, a[i], b[i] + c[i]);
            /* ∫_s^u (W − W_s) = ∫_s^t (W − W_s) + ∫_t^u (W − W_t) + (u − t) W(s,t) */
            double Ia = (u - s) * (ha[i] + a[i] / 2);
            double Ib = (t - s) * (hb[i] + b[i] / 2), Ic = (u - t) * (hc[i] + c[i] / 2);
            cr_assert_leq(fabs(Ia - (Ib + Ic + (u - t) * b[i])), 1e-12,
                          "space-time area not additive: %.17g vs %.17g", Ia, Ib + Ic + (u - t) * b[i]);
        }
    }
    nde_brownian_destroy(&bm);
}

Test(sde_brownian, reversed_repeated_and_query_order)
{
    enum { n = 3, np = 64 };
    nde_rng r;
    nde_rng_seed(&r, 5);
    double pts[np];
    for (int i = 0; i < np; i++) pts[i] = nde_rng_uniform_in(&r, -1.0, 3.0);
    pts[0] = -1.0;
    pts[1] = 3.0;
    /* values at every point, asked in increasing order on one tree … */
    nde_brownian *a = tree(99, -1.0, 3.0, n, 0), *b = tree(99, -1.0, 3.0, n, 0);
    double Wa[np][n], Aa[np][n];
    for (int i = 0; i < np; i++) CHECK(nde_brownian_point(a, pts[i], Wa[i], Aa[i]));
    /* … and in reverse, twice, on another tree with the same seed */
    for (int rep = 0; rep < 2; rep++)
        for (int i = np - 1; i >= 0; i--) {
            double W[n], A[n];
            CHECK(nde_brownian_point(b, pts[i], W, A));
            cr_assert(memcmp(W, Wa[i], sizeof W) == 0, "W(%g) depends on the query order", pts[i]);
            cr_assert(memcmp(A, Aa[i], sizeof A) == 0, "A(%g) depends on the query order", pts[i]);
        }
    /* reversal: dW(t, s) = −dW(s, t) exactly */
    for (int i = 0; i + 1 < np; i++) {
        double f[n], g[n];
        CHECK(nde_brownian_increment(a, pts[i], pts[i + 1], f, NULL));
        CHECK(nde_brownian_increment(b, pts[i + 1], pts[i], g, NULL));
        for (int j = 0; j < n; j++) cr_assert(f[j] == -g[j], "reversed increment %.17g vs %.17g", f[j], g[j]);
    }
    nde_brownian_destroy(&a);
    nde_brownian_destroy(&b);
}

/* A reseeded tree (after queries that filled its caches) gives, at every point, the bits
 * of a tree created from the same generator state; W-only queries (A = NULL) give the
 * W of full ones. */
Test(sde_brownian, reseed_equals_a_fresh_tree)
{
    enum { n = 5, np = 40 };
    nde_rng r, gen;
    nde_rng_seed(&r, 8);
    double pts[np];
    for (int i = 0; i < np; i++) pts[i] = nde_rng_uniform_in(&r, 0.0, 2.0);
    nde_rng_seed(&gen, 21);
    nde_brownian *a;
    CHECK(nde_brownian_create(&gen, 0.0, 2.0, n, 7, &a));
    for (int i = 0; i < np; i++) {
        double W[n], A[n];
        CHECK(nde_brownian_point(a, pts[i], W, A));
    }
    nde_rng before = gen;
    CHECK(nde_brownian_reseed(a, &gen));
    nde_brownian *b;
    CHECK(nde_brownian_create(&before, 0.0, 2.0, n, 7, &b));
    int differs = 0;
    for (int i = 0; i < np; i++) {
        double Wa[n], Aa[n], Wb[n], Ab[n], Wc[n];
        CHECK(nde_brownian_point(a, pts[i], Wa, Aa));
        CHECK(nde_brownian_point(b, pts[i], Wb, Ab));
        cr_assert(memcmp(Wa, Wb, sizeof Wa) == 0 && memcmp(Aa, Ab, sizeof Aa) == 0, "t = %g", pts[i]);
        CHECK(nde_brownian_point(b, pts[i], Wc, NULL));
        cr_assert(memcmp(Wc, Wb, sizeof Wc) == 0, "W-only query at t = %g", pts[i]);
    }
    /* and the new path is another one */
    nde_brownian *c;
    nde_rng_seed(&gen, 21);
    CHECK(nde_brownian_create(&gen, 0.0, 2.0, n, 7, &c));
    for (int i = 0; i < np; i++) {
        double Wa[n], Wc[n];
        CHECK(nde_brownian_point(a, pts[i], Wa, NULL));
        CHECK(nde_brownian_point(c, pts[i], Wc, NULL));
        differs |= memcmp(Wa, Wc, sizeof Wa) != 0;
    }
    cr_assert(differs);
    cr_assert_eq(nde_brownian_reseed(NULL, &gen), NDE_ERR_ARG);
    cr_assert_eq(nde_brownian_reseed(a, NULL), NDE_ERR_ARG);
    nde_brownian_destroy(&a);
    nde_brownian_destroy(&b);
    nde_brownian_destroy(&c);
}

Test(sde_brownian, seeds)
{
    enum { n = 4 };
    nde_brownian *a = tree(1, 0, 1, n, 0), *b = tree(1, 0, 1, n, 0), *c = tree(2, 0, 1, n, 0);
    double x[n], y[n], z[n], hx[n], hy[n], hz[n];
    CHECK(nde_brownian_increment(a, 0.1, 0.7, x, hx));
    CHECK(nde_brownian_increment(b, 0.1, 0.7, y, hy));
    CHECK(nde_brownian_increment(c, 0.1, 0.7, z, hz));
    cr_assert(memcmp(x, y, sizeof x) == 0 && memcmp(hx, hy, sizeof hx) == 0);
    cr_assert(memcmp(x, z, sizeof x) != 0);
    nde_brownian_destroy(&a);
    nde_brownian_destroy(&b);
    nde_brownian_destroy(&c);
}

/* Moments over many components: Var dW = h, Var H = h/12, Cov(dW, H) = 0, disjoint
 * increments uncorrelated; at dyadic and leaf-interior points (depth 6 forces the latter). */
Test(sde_brownian, moments)
{
    enum { n = 40000 };
    size_t depths[2] = {0, 6};
    for (int d = 0; d < 2; d++) {
        nde_brownian *bm = tree(7 + (uint64_t)d, 0.0, 1.0, n, depths[d]);
        static double w1[n], h1[n], w2[n], h2[n];
        double s = 0.3, t = 0.3 + 0.0371, u = 0.9;
        CHECK(nde_brownian_increment(bm, s, t, w1, h1));
        CHECK(nde_brownian_increment(bm, t, u, w2, h2));
        double vw = 0, vh = 0, cwh = 0, c12 = 0, hh = t - s;
        for (int i = 0; i < n; i++) {
            vw += w1[i] * w1[i];
            vh += h1[i] * h1[i];
            cwh += w1[i] * h1[i];
            c12 += w1[i] * w2[i];
        }
        vw /= n;
        vh /= n;
        cwh /= n;
        c12 /= n;
        /* 5 standard errors: Var of a sample variance is 2σ⁴/n, of a product mean σ1²σ2²/n */
        double se = sqrt(2.0 / n);
        cr_assert_leq(fabs(vw / hh - 1), 5 * se, "depth %zu: Var dW / h = %g", depths[d], vw / hh);
        cr_assert_leq(fabs(vh / (hh / 12) - 1), 5 * se, "depth %zu: Var H / (h/12) = %g", depths[d], vh * 12 / hh);
        cr_assert_leq(fabs(cwh) / sqrt(hh * hh / 12), 5 / sqrt((double)n), "Cov(dW, H) = %g", cwh);
        cr_assert_leq(fabs(c12) / sqrt(hh * (u - t)), 5 / sqrt((double)n), "Cov(dW1, dW2) = %g", c12);
        nde_brownian_destroy(&bm);
    }
}

/* A tree of W only (nde_brownian_create_w): Var dW = h and disjoint increments
 * uncorrelated, at dyadic and leaf-interior points; the same bits in any query order; no
 * areas to give (status), and a method that reads them refuses the tree. */
Test(sde_brownian, w_only_tree)
{
    enum { n = 40000, np = 32 };
    size_t depths[2] = {0, 6};
    for (int d = 0; d < 2; d++) {
        nde_rng r;
        nde_rng_seed(&r, 17 + (uint64_t)d);
        nde_brownian *bm;
        CHECK(nde_brownian_create_w(&r, 0.0, 1.0, n, depths[d], &bm));
        cr_assert_eq(nde_brownian_has_areas(bm), 0);
        static double w1[n], w2[n];
        double s = 0.3, t = 0.3 + 0.0371, u = 0.9;
        CHECK(nde_brownian_increment(bm, s, t, w1, NULL));
        CHECK(nde_brownian_increment(bm, t, u, w2, NULL));
        double vw = 0, c12 = 0, hh = t - s;
        for (int i = 0; i < n; i++) vw += w1[i] * w1[i], c12 += w1[i] * w2[i];
        vw /= n, c12 /= n;
        cr_assert_leq(fabs(vw / hh - 1), 5 * sqrt(2.0 / n), "depth %zu: Var dW / h = %g", depths[d], vw / hh);
        cr_assert_leq(fabs(c12) / sqrt(hh * (u - t)), 5 / sqrt((double)n), "Cov(dW1, dW2) = %g", c12);
        nde_brownian_destroy(&bm);
    }
    nde_rng r;
    nde_rng_seed(&r, 3);
    double pts[np], Wa[np][3];
    for (int i = 0; i < np; i++) pts[i] = nde_rng_uniform_in(&r, 0.0, 1.0);
    nde_brownian *a, *b;
    nde_rng_seed(&r, 4);
    CHECK(nde_brownian_create_w(&r, 0.0, 1.0, 3, 5, &a));
    nde_rng_seed(&r, 4);
    CHECK(nde_brownian_create_w(&r, 0.0, 1.0, 3, 5, &b));
    for (int i = 0; i < np; i++) CHECK(nde_brownian_point(a, pts[i], Wa[i], NULL));
    for (int i = np - 1; i >= 0; i--) {
        double W[3];
        CHECK(nde_brownian_point(b, pts[i], W, NULL));
        cr_assert(memcmp(W, Wa[i], sizeof W) == 0, "W(%g) depends on the query order", pts[i]);
    }
    double A[3], W[3];
    cr_assert_eq(nde_brownian_point(a, 0.5, W, A), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "W only") != NULL, "%s", nde_last_error());
    cr_assert_eq(nde_brownian_increment(a, 0.1, 0.5, W, A), NDE_ERR_ARG);
    double c = -1, sg = 0.5, u0[3] = {1, 1, 1}, traj[6], ts[2] = {0, 1};
    nde_field f = nde_sde_example_linear_drift(&c);
    nde_diffusion g = nde_sde_example_linear_diffusion(&sg);
    nde_sde_opts o = nde_sde_defaults(NDE_SDE_SRIW1);
    nde_sde_solver *sv;
    CHECK(nde_sde_solver_create(&f, &g, &o, &sv));
    cr_assert_eq(nde_sde_solve(sv, a, 3, 1, u0, 2, ts, traj), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "space-time areas") != NULL, "%s", nde_last_error());
    nde_sde_solver_destroy(&sv);
    o = nde_sde_defaults(NDE_SDE_EM);
    o.h0 = 0.1;
    CHECK(nde_sde_solver_create(&f, &g, &o, &sv));
    CHECK(nde_sde_solve(sv, a, 3, 1, u0, 2, ts, traj));
    nde_sde_solver_destroy(&sv);
    nde_brownian_destroy(&a);
    nde_brownian_destroy(&b);
}

/* The tree's normals (src/core/cnormal.h): the ziggurat tables against their defining
 * relations (layer areas, f = exp(−x²/2), the base layer's tail integral, the top at 0). */
Test(sde_brownian, normal_ziggurat_tables)
{
    const double *x = nde_zig_x, *f = nde_zig_f, v = nde_zig_v, r = nde_zig_r;
    cr_assert_eq(x[1], r);
    cr_assert_eq(x[256], 0.0);
    cr_assert_eq(f[256], 1.0);
    const double base = r * exp(-r * r / 2) + sqrt(NDE_PI / 2) * erfc(r / sqrt(2.0));
    cr_assert_leq(fabs(base / v - 1), 1e-14, "base layer area %.17g vs v = %.17g", base, v);
    cr_assert_leq(fabs(x[0] * exp(-r * r / 2) / v - 1), 1e-14);
    for (int k = 1; k < 256; k++) {
        cr_assert(x[k + 1] < x[k], "x not decreasing at %d", k);
        cr_assert_leq(fabs(f[k] / exp(-x[k] * x[k] / 2) - 1), 1e-15, "f[%d]", k);
        const double a = x[k] * (f[k + 1] - f[k]);
        cr_assert_leq(fabs(a / v - 1), 1e-12, "layer %d has area %.17g, v = %.17g", k, a, v);
    }
}

static double std_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* 2^20 draws of one stream: mean, variance, E z³, E z⁴ and the lag-1 product within 5
 * standard errors; the draws beyond the ziggurat's tail start r (made by the tail
 * algorithm): their number and their mean excess over r within 5 standard errors; a χ²
 * test on 160 bins of width 0.05 over [−4, 4] plus the two tails, below the 1 − 3·10⁻⁷
 * quantile (Wilson–Hilferty). A shifted start gives the same draws (counter-based), the
 * stream key + 1 others. (Checked to fail with the wedge test skipped, or with the tail
 * excess halved.) */
Test(sde_brownian, normal_moments_and_tails)
{
    enum { N = 1 << 20, NB = 162 };
    const uint64_t key = 0x1234abcd5678ef01ULL;
    static double z[N];
    nde_cnormal_fill(key, 0, z, N);
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0, lag = 0, ex = 0;
    size_t tail = 0, cnt[NB] = {0};
    for (size_t i = 0; i < N; i++) {
        const double t = z[i];
        cr_assert(isfinite(t));
        m1 += t, m2 += t * t, m3 += t * t * t, m4 += t * t * t * t;
        if (i) lag += t * z[i - 1];
        if (fabs(t) > nde_zig_r) tail++, ex += fabs(t) - nde_zig_r;
        int b = NB - 1;
        if (t < -4) b = 0;
        else if (t < 4) b = 1 + (int)((t + 4) / 0.05) < NB - 2 ? 1 + (int)((t + 4) / 0.05) : NB - 2;
        cnt[b]++;
    }
    const double n = N;
    m1 /= n, m2 /= n, m3 /= n, m4 /= n, lag /= n - 1;
    cr_log_info("cnormal: mean %.2e var %.5f skew %.2e E z^4 %.4f lag-1 %.2e", m1, m2, m3, m4, lag);
    cr_assert_leq(fabs(m1), 5 / sqrt(n), "mean %g", m1);
    cr_assert_leq(fabs(m2 - 1), 5 * sqrt(2 / n), "variance %g", m2);
    cr_assert_leq(fabs(m3), 5 * sqrt(15 / n), "E z^3 = %g", m3);
    cr_assert_leq(fabs(m4 - 3), 5 * sqrt(96 / n), "E z^4 = %g", m4);
    cr_assert_leq(fabs(lag), 5 / sqrt(n), "lag-1 correlation %g", lag);
    const double pt = erfc(nde_zig_r / sqrt(2.0));
    cr_assert_leq(fabs((double)tail - n * pt), 5 * sqrt(n * pt), "%zu draws beyond r, expected %.1f",
                  tail, n * pt);
    /* the tail algorithm's draws: E[|z| − r | |z| > r] = λ − r, Var = 1 + rλ − λ², λ = φ(r)/Q(r) */
    const double r = nde_zig_r, lam = exp(-r * r / 2) / sqrt(2 * NDE_PI) / (pt / 2);
    ex /= (double)tail;
    cr_assert_leq(fabs(ex - (lam - r)), 5 * sqrt((1 + r * lam - lam * lam) / (double)tail),
                  "mean excess beyond r %.4f, expected %.4f", ex, lam - r);
    double chi2 = 0;
    for (int b = 0; b < NB; b++) {
        const double lo = b == 0 ? -INFINITY : -4 + 0.05 * (b - 1);
        const double hi = b == NB - 1 ? INFINITY : -4 + 0.05 * b;
        const double p = (b == NB - 1 ? 1.0 : std_cdf(hi)) - (b == 0 ? 0.0 : std_cdf(lo));
        const double e = n * p, d = (double)cnt[b] - e;
        chi2 += d * d / e;
    }
    const double df = NB - 1, q = df * pow(1 - 2 / (9 * df) + 5 * sqrt(2 / (9 * df)), 3);
    cr_log_info("cnormal: chi2 %.1f on %g degrees of freedom (limit %.1f)", chi2, df, q);
    cr_assert_leq(chi2, q, "chi^2 = %.1f on %g degrees of freedom, limit %.1f", chi2, df, q);
    /* counter-based: a draw depends on (key, i) only */
    double w[8];
    nde_cnormal_fill(key, 1000, w, 8);
    cr_assert(memcmp(w, z + 1000, sizeof w) == 0);
    nde_cnormal_fill(key + 1, 1000, w, 8);
    cr_assert(memcmp(w, z + 1000, sizeof w) != 0);
}

/* nde_cnormal_fill's vectorized fast pass plus scalar redo gives nde_cnormal's bits for
 * every draw, the rejected ones (wedge and tail) included, at any start and length. */
Test(sde_brownian, fill_matches_scalar_draws)
{
    enum { N = 1 << 16 };
    static double z[N];
    const uint64_t key = 0x0fedcba987654321ULL;
    size_t slow = 0;
    for (size_t first = 0; first < 3; first++) {
        const size_t n = N - 7 * first; /* lengths that leave vector remainders */
        nde_cnormal_fill(key, first, z, n);
        for (size_t j = 0; j < n; j++) {
            const double e = nde_cnormal(key, first + j);
            cr_assert(memcmp(&z[j], &e, sizeof e) == 0, "draw %zu: %a vs %a", first + j, z[j], e);
            const uint64_t u = nde_mix64(key + (first + j + 1) * NDE_CNORMAL_GAMMA);
            const double x = (double)(u >> 11) * 0x1.0p-53 * nde_zig_x[u & 255];
            if (!(x < nde_zig_x[(u & 255) + 1])) slow++;
        }
    }
    cr_assert_gt(slow, 1000, "only %zu rejected draws checked", slow);
}

/* ---- test problems -------------------------------------------------------------------- */

/* du_i = mu_i u_i dt + sig_i u_i dW_{i or 0}: GBM, diagonal or scalar noise. */
typedef struct gbm {
    size_t dim;
    double mu[4], sig[4];
} gbm;

static nde_status gbm_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    gbm *c = ctx;
    for (size_t b = 0; b < batch; b++)
        for (size_t i = 0; i < c->dim; i++) du[b * c->dim + i] = c->mu[i] * u[b * c->dim + i];
    return NDE_OK;
}

static nde_status gbm_g(void *ctx, double t, const double *u, double *g, size_t batch)
{
    (void)t;
    gbm *c = ctx;
    for (size_t b = 0; b < batch; b++)
        for (size_t i = 0; i < c->dim; i++) g[b * c->dim + i] = c->sig[i] * u[b * c->dim + i];
    return NDE_OK;
}

static nde_status gbm_gvjp(void *ctx, double t, const double *u, const double *v, double *vu,
                           double *gth, size_t batch)
{
    (void)t;
    (void)u;
    (void)gth;
    gbm *c = ctx;
    if (vu)
        for (size_t b = 0; b < batch; b++)
            for (size_t i = 0; i < c->dim; i++) vu[b * c->dim + i] = c->sig[i] * v[b * c->dim + i];
    return NDE_OK;
}

/* dX = −θ X dt + σ(t) dW with σ(t) = s0 + s1 t (additive, dim 1). */
typedef struct ou {
    double th, s0, s1;
} ou;

static nde_status ou_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    ou *c = ctx;
    for (size_t b = 0; b < batch; b++) du[b] = -c->th * u[b];
    return NDE_OK;
}

/* the nonlinear variant: dX = −θ sin(2X) dt + σ(t) dW (no closed form; a fine solve is the reference) */
static nde_status sin_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    ou *c = ctx;
    for (size_t b = 0; b < batch; b++) du[b] = -c->th * sin(2 * u[b]);
    return NDE_OK;
}

static nde_status ou_g(void *ctx, double t, const double *u, double *g, size_t batch)
{
    (void)u;
    ou *c = ctx;
    for (size_t b = 0; b < batch; b++) g[b] = c->s0 + c->s1 * t;
    return NDE_OK;
}

static double slope(const double *h, const double *e, int n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double x = log(h[i]), y = log(e[i]);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

/* Strong (mean |X_h − X|) and weak (|mean (X_h − X)|, shared paths) errors at T = 1 for
 * GBM with diagonal or scalar noise, over steps 1/2^k0 … 1/2^(k0+nk−1). */
static void gbm_errors_on(nde_sde_method m, nde_noise noise, size_t paths, double h1, int nk,
                          long depth, double *hs, double *strong, double *weak);

static void gbm_errors(nde_sde_method m, nde_noise noise, size_t paths, int k0, int nk,
                       double *hs, double *strong, double *weak)
{
    gbm_errors_on(m, noise, paths, ldexp(1.0, -k0), nk, 0, hs, strong, weak);
}

/* The same over steps h1/2^k on trees of the given depth (the same seed, so the same
 * W(1)); depth −1: each solve's nde_sde_fixed_step_depth. */
static void gbm_errors_on(nde_sde_method m, nde_noise noise, size_t paths, double h1, int nk,
                          long depth, double *hs, double *strong, double *weak)
{
    gbm c = {.dim = 2, .mu = {1.0, -0.5}, .sig = {0.5, 0.8}};
    size_t dim = c.dim, mdim = noise == NDE_NOISE_SCALAR ? 1 : dim;
    nde_field f = {.dim = dim, .ctx = &c, .f = gbm_f};
    nde_diffusion g = {.dim = dim, .m = mdim, .noise = noise, .ctx = &c, .g = gbm_g, .vjp = gbm_gvjp};
    double *W = malloc(paths * mdim * sizeof *W), *u0 = malloc(paths * dim * sizeof *u0);
    double *traj = malloc(2 * paths * dim * sizeof *traj);
    for (size_t q = 0; q < paths * dim; q++) u0[q] = 1.0;
    for (int k = 0; k < nk; k++) {
        nde_sde_opts o = nde_sde_defaults(m);
        o.fixed_step = 1;
        o.h0 = ldexp(h1, -k);
        double ts[2] = {0, 1};
        const size_t d = depth >= 0 ? (size_t)depth : nde_sde_fixed_step_depth(&o, ts, 2);
        /* as the neural SDE model: W only for the methods that never read H */
        nde_rng tr;
        nde_rng_seed(&tr, 2024);
        nde_brownian *bm;
        CHECK((nde_sde_needs_area(m) ? nde_brownian_create : nde_brownian_create_w)(
            &tr, 0.0, 1.0, paths * mdim, d, &bm));
        CHECK(nde_brownian_point(bm, 1.0, W, NULL)); /* the root: the same for every depth */
        nde_sde_solver *s;
        CHECK(nde_sde_solver_create(&f, &g, &o, &s));
        CHECK(nde_sde_solve(s, bm, paths, dim, u0, 2, ts, traj));
        double es = 0, ew = 0;
        for (size_t b = 0; b < paths; b++)
            for (size_t i = 0; i < dim; i++) {
                double w = W[noise == NDE_NOISE_SCALAR ? b : b * dim + i];
                double ex = exp(c.mu[i] - c.sig[i] * c.sig[i] / 2 + c.sig[i] * w);
                double d = traj[paths * dim + b * dim + i] - ex;
                es += fabs(d);
                ew += d;
            }
        hs[k] = o.h0;
        strong[k] = es / (double)(paths * dim);
        weak[k] = fabs(ew) / (double)(paths * dim);
        nde_sde_solver_destroy(&s);
        nde_brownian_destroy(&bm);
    }
    free(W);
    free(u0);
    free(traj);
}

/* The tolerance on every measured order: ±0.2 (strong), ±0.25 (weak). */
#define ORDER_TOL 0.2
#define WEAK_TOL 0.25

static void check_strong(nde_sde_method m, nde_noise noise, double order, int k0)
{
    double h[4], es[4], ew[4];
    gbm_errors(m, noise, 500, k0, 4, h, es, ew);
    double p = slope(h, es, 4);
    cr_log_info("%s %s noise: strong errors %.3e %.3e %.3e %.3e, order %.3f (theory %.1f)",
                nde_sde_method_name(m), noise == NDE_NOISE_SCALAR ? "scalar" : "diagonal", es[0],
                es[1], es[2], es[3], p, order);
    cr_assert_leq(fabs(p - order), ORDER_TOL, "%s: strong order %.3f, theory %.1f (errors %.3e … %.3e)",
                  nde_sde_method_name(m), p, order, es[0], es[3]);
}

Test(sde_convergence, gbm_diagonal_strong)
{
    check_strong(NDE_SDE_EM, NDE_NOISE_DIAGONAL, 0.5, 4);
    check_strong(NDE_SDE_MILSTEIN, NDE_NOISE_DIAGONAL, 1.0, 4);
    check_strong(NDE_SDE_MILSTEIN_DF, NDE_NOISE_DIAGONAL, 1.0, 4);
    check_strong(NDE_SDE_SRIW1, NDE_NOISE_DIAGONAL, 1.5, 3);
    check_strong(NDE_SDE_SOSRI, NDE_NOISE_DIAGONAL, 1.5, 3);
    check_strong(NDE_SDE_SOSRI2, NDE_NOISE_DIAGONAL, 1.5, 3);
}

Test(sde_convergence, gbm_scalar_noise_strong)
{
    check_strong(NDE_SDE_EM, NDE_NOISE_SCALAR, 0.5, 4);
    check_strong(NDE_SDE_MILSTEIN_DF, NDE_NOISE_SCALAR, 1.0, 4);
    check_strong(NDE_SDE_SRIW1, NDE_NOISE_SCALAR, 1.5, 3);
    check_strong(NDE_SDE_SOSRI, NDE_NOISE_SCALAR, 1.5, 3);
}

/* The model's tree depth for fixed steps (nde_sde_fixed_step_depth): hand-counted grids,
 * then strong orders (GBM, 500 paths) on non-dyadic steps h1/2^k with trees of exactly
 * that depth: EM 0.5 from h = 1/20, SRIW1 1.5 from h = 1/12, each within ±0.2. */
Test(sde_convergence, fixed_step_tree_depth)
{
    nde_sde_opts o = nde_sde_defaults(NDE_SDE_EM);
    const double ts2[2] = {0, 1}, ts3[3] = {0, 0.35, 1}, ts4[2] = {-1, 3};
    o.h0 = 1.0 / 50; /* gaps 1/50: leaves ≤ 1/50 → 2^6 */
    cr_assert_eq(nde_sde_fixed_step_depth(&o, ts2, 2), 6);
    o.h0 = 0.1; /* 0.1 ×3, 0.05 (to 0.35), 0.1 ×6, 0.05: leaves ≤ 0.05 → 2^5 */
    cr_assert_eq(nde_sde_fixed_step_depth(&o, ts3, 3), 5);
    o.h0 = 0; /* span/100 = 0.04 on a span of 4: leaves ≤ 0.04 → 4/2^7 */
    cr_assert_eq(nde_sde_fixed_step_depth(&o, ts4, 2), 7);
    o.dt_max = 0.01; /* leaves ≤ 0.01 → 4/2^9 */
    cr_assert_eq(nde_sde_fixed_step_depth(&o, ts4, 2), 9);
    o.dt_max = 0;
    o.h0 = 1.0 / 64; /* dyadic steps: 2^-6 is not below 1/64·(1 − 1e-9) → 2^7 */
    cr_assert_eq(nde_sde_fixed_step_depth(&o, ts2, 2), 7);
    o = nde_sde_defaults(NDE_SDE_EM);
    const double tiny[3] = {0, 1e-9, 1}; /* a step of 1e-9: capped at the default depth */
    cr_assert_eq(nde_sde_fixed_step_depth(&o, tiny, 3), 24);
    o = nde_sde_defaults(NDE_SDE_SRIW1);
    o.h0 = 1.0 / 50;
    cr_assert_eq(nde_sde_fixed_step_depth(&o, ts2, 2), 0, "adaptive steps: the default");
    o.fixed_step = 1;
    cr_assert_eq(nde_sde_fixed_step_depth(&o, ts2, 2), 6);

    double h[4], es[4], ew[4];
    const nde_sde_method ms[2] = {NDE_SDE_EM, NDE_SDE_SRIW1};
    const double order[2] = {0.5, 1.5}, h1[2] = {1.0 / 20, 1.0 / 12};
    for (int i = 0; i < 2; i++) {
        /* depth −1: the grid's depth (about 5–9 here); depth 2, leaves of 1/4 holding
         * several step ends each, is the control that loses the order */
        for (long depth = -1; depth <= 2; depth += 3) {
            gbm_errors_on(ms[i], NDE_NOISE_DIAGONAL, 500, h1[i], 4, depth, h, es, ew);
            double p = slope(h, es, 4);
            cr_log_info("%s depth %ld: strong errors %.3e %.3e %.3e %.3e, order %.3f (theory %.1f)",
                        nde_sde_method_name(ms[i]), depth, es[0], es[1], es[2], es[3], p, order[i]);
            if (depth < 0)
                cr_assert_leq(fabs(p - order[i]), ORDER_TOL, "%s on the grid's depth: strong order %.3f",
                              nde_sde_method_name(ms[i]), p);
            else
                cr_assert_gt(fabs(p - order[i]), ORDER_TOL, "%s at depth 2: order %.3f, the control "
                             "should lose it", nde_sde_method_name(ms[i]), p);
        }
    }
}

Test(sde_convergence, gbm_weak_em)
{
    double h[4], es[4], ew[4];
    gbm_errors(NDE_SDE_EM, NDE_NOISE_DIAGONAL, 20000, 2, 4, h, es, ew);
    double p = slope(h, ew, 4);
    cr_log_info("em weak errors %.3e %.3e %.3e %.3e, order %.3f", ew[0], ew[1], ew[2], ew[3], p);
    cr_assert_leq(fabs(p - 1.0), WEAK_TOL, "em: weak order %.3f, theory 1 (errors %.3e … %.3e)", p, ew[0], ew[3]);
}

static void check_ou(nde_sde_method m, double order, int k0, int nonlinear)
{
    ou c = {.th = 1.5, .s0 = 0.6, .s1 = 0.8};
    enum { paths = 200 };
    nde_field f = {.dim = 1, .ctx = &c, .f = nonlinear ? sin_f : ou_f};
    nde_diffusion g = {.dim = 1, .m = 1, .noise = NDE_NOISE_ADDITIVE, .ctx = &c, .g = ou_g};
    nde_brownian *bm = tree(77, 0.0, 1.0, paths, 0);
    double ref[paths], u0[paths], traj[2 * paths], dW[paths], dH[paths];
    for (size_t b = 0; b < paths; b++) u0[b] = 1.0;
    /* reference on the same paths: the exact transition over 2^12 pieces, the stochastic
     * integral ∫ e^{−θ(e−r)} σ(r) dW_r of each piece [a, e] from its (ΔW, H), with
     * σ(r) e^{−θ(e−r)} ≈ σ(e) − (σ' + θσ(e))(e − r) and ∫ (e − r) dW_r = δ(ΔW/2 + H);
     * error O(δ²) ≈ 6e-8 over the path */
    if (nonlinear) {
        nde_sde_opts o = nde_sde_defaults(NDE_SDE_SRA1);
        o.fixed_step = 1;
        o.h0 = ldexp(1.0, -12);
        nde_sde_solver *s;
        CHECK(nde_sde_solver_create(&f, &g, &o, &s));
        double ts[2] = {0, 1};
        CHECK(nde_sde_solve(s, bm, paths, 1, u0, 2, ts, traj));
        memcpy(ref, traj + paths, sizeof ref);
        nde_sde_solver_destroy(&s);
    } else {
        enum { N = 4096 };
        double d = 1.0 / N;
        for (size_t b = 0; b < paths; b++) ref[b] = 1.0;
        for (int k = 0; k < N; k++) {
            double a = k * d, e = a + d;
            CHECK(nde_brownian_increment(bm, a, e, dW, dH));
            double se = c.s0 + c.s1 * e;
            for (size_t b = 0; b < paths; b++) {
                double Ier = d * (dW[b] / 2 + dH[b]);
                ref[b] = exp(-c.th * d) * ref[b] + se * dW[b] - (c.s1 + c.th * se) * Ier;
            }
        }
    }
    double h[4], es[4];
    for (int k = 0; k < 4; k++) {
        nde_sde_opts o = nde_sde_defaults(m);
        o.fixed_step = 1;
        o.h0 = ldexp(1.0, -(k0 + k));
        nde_sde_solver *s;
        CHECK(nde_sde_solver_create(&f, &g, &o, &s));
        double ts[2] = {0, 1};
        CHECK(nde_sde_solve(s, bm, paths, 1, u0, 2, ts, traj));
        double e = 0;
        for (size_t b = 0; b < paths; b++) e += fabs(traj[paths + b] - ref[b]);
        h[k] = o.h0;
        es[k] = e / paths;
        nde_sde_solver_destroy(&s);
    }
    double p = slope(h, es, 4);
    cr_log_info("%s %s: strong errors %.3e %.3e %.3e %.3e, order %.3f", nde_sde_method_name(m),
                nonlinear ? "sin drift" : "OU", es[0], es[1], es[2], es[3], p);
    /* For the linear OU process the order-2 Itô–Taylor term σ² f'' I_(1,1,0) vanishes, so
     * the 1.5 methods show order 2 there: the linear case checks order >= theory − tol
     * and <= 2 + tol; the nonlinear drift checks theory ± tol. */
    if (nonlinear || order == 1.0)
        cr_assert_leq(fabs(p - order), ORDER_TOL, "%s: strong order %.3f, theory %.1f (errors %.3e … %.3e)",
                      nde_sde_method_name(m), p, order, es[0], es[3]);
    else
        cr_assert(p >= order - ORDER_TOL && p <= 2.0 + ORDER_TOL,
                  "%s OU: strong order %.3f, theory >= %.1f (errors %.3e … %.3e)",
                  nde_sde_method_name(m), p, order, es[0], es[3]);
    nde_brownian_destroy(&bm);
}

Test(sde_convergence, ou_additive_strong)
{
    check_ou(NDE_SDE_EM, 1.0, 3, 0);
    check_ou(NDE_SDE_SRA1, 1.5, 2, 0);
    check_ou(NDE_SDE_SOSRA, 1.5, 2, 0);
    check_ou(NDE_SDE_SOSRI, 1.5, 2, 0);
}

Test(sde_convergence, nonlinear_additive_strong)
{
    check_ou(NDE_SDE_EM, 1.0, 3, 1);
    check_ou(NDE_SDE_SRA1, 1.5, 4, 1);
    check_ou(NDE_SDE_SOSRA, 1.5, 4, 1);
    check_ou(NDE_SDE_SOSRI, 1.5, 4, 1);
}

/* ---- adaptive stepping, rejections, determinism --------------------------------------- */

typedef struct rec_cb {
    size_t n_acc, n_rej;
    double t[4096], u[4096 * 8];
    size_t n;
} rec_cb;

static int record_steps(const nde_step_info *info, void *user)
{
    rec_cb *r = user;
    if (!info->accepted) {
        r->n_rej++;
        return 0;
    }
    cr_assert(r->n_acc < 4096 && info->n <= 8);
    r->t[r->n_acc] = info->t + info->h;
    memcpy(r->u + r->n_acc * info->n, info->u, info->n * sizeof(double));
    r->n = info->n;
    r->n_acc++;
    return 0;
}

/* An adaptive SOSRI solve that rejects steps (h0 far too large, rtol = atol = 1e-2) gives,
 * at every accepted time, the same bits as a fixed-step solve whose steps are exactly
 * those times, on a fresh tree with the same seed (so also independent of the rejected
 * queries the first tree saw). */
Test(sde_adaptive, rejections_match_fixed_solve_on_same_times)
{
    gbm c = {.dim = 2, .mu = {1.0, -0.5}, .sig = {0.5, 0.8}};
    nde_field f = {.dim = 2, .ctx = &c, .f = gbm_f};
    nde_diffusion g = {.dim = 2, .m = 2, .noise = NDE_NOISE_DIAGONAL, .ctx = &c, .g = gbm_g};
    enum { batch = 3, n = batch * 2 };
    double u0[n] = {1, 2, 0.5, 1, 1.5, 0.7};
    nde_sde_method ms[3] = {NDE_SDE_SRIW1, NDE_SDE_SOSRI, NDE_SDE_SOSRI2};
    for (int mi = 0; mi < 3; mi++) {
        nde_brownian *bm = tree(31, 0.0, 1.0, n, 0);
        static rec_cb r;
        memset(&r, 0, sizeof r);
        nde_sde_opts o = nde_sde_defaults(ms[mi]);
        o.rtol = o.atol = 1e-2;
        o.h0 = 0.5;
        o.callback = record_steps;
        o.callback_user = &r;
        nde_sde_solver *s;
        CHECK(nde_sde_solver_create(&f, &g, &o, &s));
        double ts[2] = {0, 1}, traj[2 * n];
        CHECK(nde_sde_solve(s, bm, batch, 2, u0, 2, ts, traj));
        const nde_solver_stats *st = nde_sde_get_stats(s);
        cr_assert_gt(st->n_rejected, 0, "%s: no rejected step", nde_sde_method_name(ms[mi]));
        cr_assert_eq(st->n_rejected, r.n_rej);
        cr_assert_eq(st->n_accepted, r.n_acc);
        size_t ns;
        const nde_step_rec *log = nde_sde_steps(s, &ns);
        cr_assert_eq(ns, r.n_acc);
        for (size_t i = 0; i < ns; i++) {
            cr_assert_leq(log[i].err_est, 1.0);
            cr_assert(ms[mi] == NDE_SDE_SOSRI2 ? log[i].stiff_est > 0 : log[i].stiff_est == 0);
        }
        /* fixed-step solve saved at every accepted time: its steps are those intervals */
        size_t nt = r.n_acc + 1;
        double *ts2 = malloc(nt * sizeof *ts2), *traj2 = malloc(nt * n * sizeof *traj2);
        ts2[0] = 0;
        memcpy(ts2 + 1, r.t, r.n_acc * sizeof(double));
        nde_brownian *bm2 = tree(31, 0.0, 1.0, n, 0);
        nde_sde_opts o2 = nde_sde_defaults(ms[mi]);
        o2.fixed_step = 1;
        o2.h0 = 1.0;
        nde_sde_solver *s2;
        CHECK(nde_sde_solver_create(&f, &g, &o2, &s2));
        CHECK(nde_sde_solve(s2, bm2, batch, 2, u0, nt, ts2, traj2));
        cr_assert_eq(nde_sde_get_stats(s2)->n_accepted, r.n_acc);
        cr_assert(memcmp(traj2 + n, r.u, r.n_acc * n * sizeof(double)) == 0,
                  "%s: adaptive path differs from the fixed solve at the same times",
                  nde_sde_method_name(ms[mi]));
        cr_assert(memcmp(traj2 + (nt - 1) * n, traj + n, n * sizeof(double)) == 0);
        cr_log_info("%s: %zu accepted, %zu rejected steps, identical to the fixed solve",
                    nde_sde_method_name(ms[mi]), r.n_acc, r.n_rej);
        free(ts2);
        free(traj2);
        nde_sde_solver_destroy(&s);
        nde_sde_solver_destroy(&s2);
        nde_brownian_destroy(&bm);
        nde_brownian_destroy(&bm2);
    }
}

/* Same seed, same bits (adaptive SOSRI2 with several save times); another seed differs. */
Test(sde_adaptive, seeds_bit_identical)
{
    gbm c = {.dim = 2, .mu = {1.0, -0.5}, .sig = {0.5, 0.8}};
    nde_field f = {.dim = 2, .ctx = &c, .f = gbm_f};
    nde_diffusion g = {.dim = 2, .m = 2, .noise = NDE_NOISE_DIAGONAL, .ctx = &c, .g = gbm_g};
    enum { batch = 4, n = batch * 2, nt = 5 };
    double u0[n], ts[nt] = {0, 0.1, 0.35, 0.6, 1.0}, tr[3][nt * n];
    for (int i = 0; i < n; i++) u0[i] = 1 + 0.1 * i;
    uint64_t seeds[3] = {5, 5, 6};
    for (int r = 0; r < 3; r++) {
        nde_brownian *bm = tree(seeds[r], 0.0, 1.0, n, 0);
        nde_sde_opts o = nde_sde_defaults(NDE_SDE_SOSRI2);
        nde_sde_solver *s;
        CHECK(nde_sde_solver_create(&f, &g, &o, &s));
        CHECK(nde_sde_solve(s, bm, batch, 2, u0, nt, ts, tr[r]));
        nde_sde_solver_destroy(&s);
        nde_brownian_destroy(&bm);
    }
    cr_assert(memcmp(tr[0], tr[1], sizeof tr[0]) == 0);
    cr_assert(memcmp(tr[0], tr[2], sizeof tr[0]) != 0);
}

/* ---- gradients -------------------------------------------------------------------------- */

/* Diffusion with parameters: g_i = p_i sin(u_i) + q_i (diagonal, scalar, additive with p = 0
 * used only through q), or G_ij = P_ij sin(u_i) + Q_ij (general). θ = [p (size), q (size)]. */
typedef struct pdiff {
    size_t dim, m;
    int general, additive;
    double *theta;
    int forbid; /* the plain vjp refuses to run (record tests) */
} pdiff;

static size_t pd_size(const pdiff *c) { return c->general ? c->dim * c->m : c->dim; }

static nde_status pd_g(void *ctx, double t, const double *u, double *g, size_t batch)
{
    pdiff *c = ctx;
    size_t sz = pd_size(c);
    const double *p = c->theta, *q = c->theta + sz;
    for (size_t b = 0; b < batch; b++)
        for (size_t k = 0; k < sz; k++) {
            size_t i = c->general ? k / c->m : k;
            double x = c->additive ? t : u[b * c->dim + i];
            g[b * sz + k] = p[k] * sin(x) + q[k];
        }
    return NDE_OK;
}

static nde_status pd_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                         double *gth, size_t batch)
{
    pdiff *c = ctx;
    size_t sz = pd_size(c);
    const double *p = c->theta;
    if (vu) memset(vu, 0, batch * c->dim * sizeof *vu);
    for (size_t b = 0; b < batch; b++)
        for (size_t k = 0; k < sz; k++) {
            size_t i = c->general ? k / c->m : k;
            double x = c->additive ? t : u[b * c->dim + i], vv = v[b * sz + k];
            if (vu && !c->additive) vu[b * c->dim + i] += vv * p[k] * cos(x);
            if (gth) {
                gth[k] += vv * sin(x);
                gth[sz + k] += vv;
            }
        }
    return NDE_OK;
}

/* The diffusion with a record per sample: sin(x) and cos(x) of its size components; the
 * VJP reads them instead of recomputing (the same bits as pd_vjp). */
static nde_status pd_g_rec(void *ctx, double t, const double *u, double *g, double *rec, size_t batch)
{
    pdiff *c = ctx;
    size_t sz = pd_size(c);
    NDE_TRY(pd_g(ctx, t, u, g, batch));
    for (size_t b = 0; b < batch; b++)
        for (size_t k = 0; k < sz; k++) {
            double x = c->additive ? t : u[b * c->dim + (c->general ? k / c->m : k)];
            rec[b * 2 * sz + k] = sin(x);
            rec[b * 2 * sz + sz + k] = cos(x);
        }
    return NDE_OK;
}

static nde_status pd_vjp_rec(void *ctx, double t, const double *u, const double *rec,
                             const double *v, double *vu, double *gth, size_t batch)
{
    (void)t;
    (void)u;
    pdiff *c = ctx;
    size_t sz = pd_size(c);
    const double *p = c->theta;
    if (vu) memset(vu, 0, batch * c->dim * sizeof *vu);
    for (size_t b = 0; b < batch; b++)
        for (size_t k = 0; k < sz; k++) {
            size_t i = c->general ? k / c->m : k;
            double vv = v[b * sz + k], sn = rec[b * 2 * sz + k], cs = rec[b * 2 * sz + sz + k];
            if (vu && !c->additive) vu[b * c->dim + i] += vv * p[k] * cs;
            if (gth) {
                gth[k] += vv * sn;
                gth[sz + k] += vv;
            }
        }
    return NDE_OK;
}

static nde_status pd_vjp_guarded(void *ctx, double t, const double *u, const double *v, double *vu,
                                 double *gth, size_t batch)
{
    if (((pdiff *)ctx)->forbid)
        return NDE_FAIL(NDE_ERR_STATE, "test diffusion: plain vjp called, the record was not used");
    return pd_vjp(ctx, t, u, v, vu, gth, batch);
}

typedef struct gprob {
    tanh_ctx fc; /* first: the drift's ctx is the gprob */
    pdiff gc;
    nde_field f;
    nde_diffusion g;
    double thf[64], thg[64];
} gprob;

static nde_status tanh_vjp_guarded(void *ctx, double t, const double *u, const double *v,
                                   double *vu, double *gth, size_t batch)
{
    if (((gprob *)ctx)->gc.forbid)
        return NDE_FAIL(NDE_ERR_STATE, "test drift: plain vjp called, the record was not used");
    return tanh_vjp(ctx, t, u, v, vu, gth, batch);
}

static void gprob_init(gprob *P, nde_noise noise, size_t m)
{
    memset(P, 0, sizeof *P);
    size_t d = 2;
    P->fc = (tanh_ctx){.d = d, .theta = P->thf};
    P->f = tanh_field(&P->fc);
    P->gc = (pdiff){.dim = d, .m = m, .general = noise == NDE_NOISE_GENERAL,
                    .additive = noise == NDE_NOISE_ADDITIVE, .theta = P->thg};
    P->g = (nde_diffusion){.dim = d, .m = m, .noise = noise, .n_params = 2 * pd_size(&P->gc),
                           .ctx = &P->gc, .g = pd_g, .vjp = pd_vjp};
    nde_rng r;
    nde_rng_seed(&r, 17);
    for (size_t i = 0; i < P->f.n_params; i++) P->thf[i] = nde_rng_uniform_in(&r, -0.8, 0.8);
    for (size_t i = 0; i < P->g.n_params; i++) P->thg[i] = nde_rng_uniform_in(&r, -0.5, 0.5);
}

enum { GB = 2, GN = GB * 2, GT = 4, GTX = GT + 1 };

/* What a gradient check runs: the tape mode and, optionally, a regularizer (global or
 * local; for a local one the drawn time or the generator state of the biased draw is
 * fixed, so every finite-difference solve evaluates the same step). */
typedef struct gcheck {
    nde_tape tape;
    int rec;            /* fields with records, whose plain vjps fail under NDE_TAPE_STAGES */
    size_t every;       /* NDE_TAPE_CHECKPOINT */
    const nde_reg *reg; /* NULL: L only */
    int local;          /* 0, NDE_REG_LOCAL_UNBIASED or NDE_REG_LOCAL_BIASED */
    double t_reg;       /* unbiased */
    nde_rng sel;        /* biased: the generator state before the step draw */
    size_t nt;
    double ts[GTX];
    /* results */
    double du0[GN], gf[64], gg[64], R;
    size_t nsteps, local_step;
    nde_solver_stats stats;
} gcheck;

static void gselect(gcheck *c, nde_sde_solver *s)
{
    if (!c->local) return;
    nde_rng r = c->sel;
    CHECK(nde_sde_local_select(s, c->reg, &r, c->t_reg, &c->local_step));
}

/* L = Σ w · traj (+ R) on the frozen steps and the same tree. */
static double gloss(gcheck *c, nde_sde_solver *s, nde_brownian *bm, const double *u0,
                    const double *w)
{
    double traj[GTX * GN];
    CHECK(nde_sde_solve(s, bm, GB, 2, u0, c->nt, c->ts, traj));
    double L = 0;
    for (size_t i = 0; i < c->nt * GN; i++) L += w[i] * traj[i];
    if (c->reg) {
        double R;
        gselect(c, s);
        CHECK(nde_sde_reg_value(c->reg, s, &R));
        L += R;
    }
    return L;
}

/* Fill c->ts: the save times, with the unbiased local regularizer's t_reg (drawn from
 * seed 99) inserted. */
static void gtimes(gcheck *c)
{
    const double ts[GT] = {0, 0.3, 0.55, 1.0};
    c->nt = GT;
    memcpy(c->ts, ts, sizeof ts);
    nde_rng_seed(&c->sel, 99);
    if (c->local == NDE_REG_LOCAL_UNBIASED) {
        size_t ins;
        CHECK(nde_sde_local_draw_time(&c->sel, 0.0, 1.0, &c->t_reg));
        CHECK(nde_reg_insert_time(ts, GT, c->t_reg, c->ts, &c->nt, &ins));
        cr_assert_eq(c->nt, GTX);
    }
}

/* The gradient of L (+ R) by the adjoint into c; with fd, checked against central
 * differences (ε = 1e-6, relative error <= 1e-6). */
static void run_grad(gcheck *c, nde_sde_method m, nde_noise noise, size_t mdim, int fd)
{
    gprob P;
    gprob_init(&P, noise, mdim);
    if (c->rec) {
        P.f.rec_size = 2;
        P.f.f_rec = tanh_f_rec;
        P.f.vjp_rec = tanh_vjp_rec;
        P.f.vjp = tanh_vjp_guarded;
        P.g.rec_size = 2 * pd_size(&P.gc);
        P.g.g_rec = pd_g_rec;
        P.g.vjp_rec = pd_vjp_rec;
        P.g.vjp = pd_vjp_guarded;
        P.gc.forbid = c->tape == NDE_TAPE_STAGES;
    }
    nde_brownian *bm = tree(123, 0.0, 1.0, GB * mdim, 0);
    gtimes(c);
    double u0[GN] = {0.3, -0.2, 0.5, 0.1}, w[GTX * GN];
    nde_rng r;
    nde_rng_seed(&r, 4);
    for (int i = 0; i < GTX * GN; i++) w[i] = nde_rng_normal(&r);
    nde_sde_opts o = nde_sde_defaults(m);
    o.tape = c->tape;
    o.checkpoint_every = c->every;
    o.h0 = 0.07;
    o.rtol = o.atol = 1e-2;
    nde_sde_solver *s;
    CHECK(nde_sde_solver_create(&P.f, &P.g, &o, &s));
    double traj[GTX * GN];
    CHECK(nde_sde_solve(s, bm, GB, 2, u0, c->nt, c->ts, traj));
    nde_sde_steps(s, &c->nsteps);
    CHECK(nde_sde_freeze_steps(s));
    memset(c->gf, 0, sizeof c->gf);
    memset(c->gg, 0, sizeof c->gg);
    c->R = 0;
    if (c->reg) {
        gselect(c, s);
        CHECK(nde_sde_adjoint_reg(s, w, c->reg, c->du0, c->gf, c->gg));
        CHECK(nde_sde_reg_value(c->reg, s, &c->R));
        cr_assert_gt(c->R, 0);
    } else {
        CHECK(nde_sde_adjoint(s, w, c->du0, c->gf, c->gg));
    }
    c->stats = *nde_sde_get_stats(s);
    if (!fd) {
        nde_sde_solver_destroy(&s);
        nde_brownian_destroy(&bm);
        return;
    }
    const double eps = 1e-6;
    double worst = 0;
    /* u0 */
    for (int i = 0; i < GN; i++) {
        double up[GN], um[GN];
        memcpy(up, u0, sizeof up);
        memcpy(um, u0, sizeof um);
        up[i] += eps;
        um[i] -= eps;
        double fdv = (gloss(c, s, bm, up, w) - gloss(c, s, bm, um, w)) / (2 * eps);
        double e = fabs(fdv - c->du0[i]) / fmax(1.0, fabs(fdv));
        worst = fmax(worst, e);
        cr_assert_leq(e, 1e-6, "%s: dL/du0[%d] adjoint %.12g, FD %.12g", nde_sde_method_name(m), i,
                      c->du0[i], fdv);
    }
    double *ths[2] = {P.thf, P.thg}, *grads[2] = {c->gf, c->gg};
    size_t nps[2] = {P.f.n_params, P.g.n_params};
    for (int which = 0; which < 2; which++)
        for (size_t i = 0; i < nps[which]; i++) {
            double *th = ths[which], keep = th[i];
            th[i] = keep + eps;
            double lp = gloss(c, s, bm, u0, w);
            th[i] = keep - eps;
            double lm = gloss(c, s, bm, u0, w);
            th[i] = keep;
            double fdv = (lp - lm) / (2 * eps);
            double e = fabs(fdv - grads[which][i]) / fmax(1.0, fabs(fdv));
            worst = fmax(worst, e);
            cr_assert_leq(e, 1e-6, "%s: dL/d%s[%zu] adjoint %.12g, FD %.12g",
                          nde_sde_method_name(m), which ? "theta_g" : "theta_f", i,
                          grads[which][i], fdv);
        }
    cr_log_info("%s%s (%zu steps): worst relative gradient error %.2e", nde_sde_method_name(m),
                c->local ? " + local regularizer" : c->reg ? " + regularizer" : "", c->nsteps, worst);
    nde_sde_solver_destroy(&s);
    nde_brownian_destroy(&bm);
}

static const nde_reg *g_reg; /* the regularizer of the current gradient check, or NULL */

static void check_grad(nde_sde_method m, nde_noise noise, size_t mdim)
{
    gcheck c = {.tape = NDE_TAPE_STEP_STARTS, .reg = g_reg};
    run_grad(&c, m, noise, mdim, 1);
}

Test(sde_adjoint, gradients_match_finite_differences)
{
    check_grad(NDE_SDE_EM, NDE_NOISE_DIAGONAL, 2);
    check_grad(NDE_SDE_EM, NDE_NOISE_SCALAR, 1);
    check_grad(NDE_SDE_EM, NDE_NOISE_GENERAL, 3);
    check_grad(NDE_SDE_MILSTEIN_DF, NDE_NOISE_DIAGONAL, 2);
    check_grad(NDE_SDE_MILSTEIN_DF, NDE_NOISE_SCALAR, 1);
    check_grad(NDE_SDE_SRIW1, NDE_NOISE_DIAGONAL, 2);
    check_grad(NDE_SDE_SOSRI, NDE_NOISE_DIAGONAL, 2);
    check_grad(NDE_SDE_SOSRI2, NDE_NOISE_SCALAR, 1);
    check_grad(NDE_SDE_SRA1, NDE_NOISE_ADDITIVE, 2);
    check_grad(NDE_SDE_SOSRA, NDE_NOISE_ADDITIVE, 2);
}

/* ERNSDE (sum, as the paper; mean, as the reference code) and SRNSDE (max of S/10.6, as
 * the reference code; sum of S·|h|, as the paper) gradients against central differences. */
Test(sde_adjoint, regularizer_gradients_match_finite_differences)
{
    nde_reg_spec specs[4] = {nde_reg_error_estimate(0.5), nde_reg_error_estimate_mean(3.0),
                             nde_reg_stiffness_max(0.7), nde_reg_stiffness(0.2)};
    specs[2].scale = NDE_SOSRI2_STABILITY_SIZE;
    for (int k = 0; k < 4; k++) {
        nde_reg *reg;
        CHECK(nde_reg_create(&specs[k], &reg));
        g_reg = reg;
        if (k < 2) {
            check_grad(NDE_SDE_SOSRI, NDE_NOISE_DIAGONAL, 2);
            check_grad(NDE_SDE_SRIW1, NDE_NOISE_SCALAR, 1);
            check_grad(NDE_SDE_SOSRA, NDE_NOISE_ADDITIVE, 2);
        } else {
            check_grad(NDE_SDE_SOSRI2, NDE_NOISE_DIAGONAL, 2);
        }
        g_reg = NULL;
        nde_reg_destroy(&reg);
    }
}

/* Local ERNSDE, unbiased (t_reg ~ U[0, 1) added to the save times) and biased (a step
 * uniform over the accepted ones), and the local stiffness estimate: gradients with
 * respect to u0, θ_f and θ_g against central differences with the drawn time held; R is
 * λ·E_J·|h_J| of the selected step J of the step log. */
Test(sde_adjoint, local_regularizer_gradients_match_finite_differences)
{
    const nde_local_sampling smp[2] = {NDE_LOCAL_UNBIASED, NDE_LOCAL_BIASED};
    for (int k = 0; k < 3; k++) {
        nde_reg_spec sp = nde_sde_reg_local(k == 2 ? 0.3 : 2.0, smp[k % 2]);
        if (k == 2) {
            sp.kind = NDE_REG_STIFF_EST;
            sp.scale = NDE_SOSRI2_STABILITY_SIZE;
        }
        nde_reg *reg;
        CHECK(nde_reg_create(&sp, &reg));
        const nde_sde_method ms[3] = {NDE_SDE_SOSRI, NDE_SDE_SRIW1, NDE_SDE_SOSRA};
        const nde_noise ns[3] = {NDE_NOISE_DIAGONAL, NDE_NOISE_SCALAR, NDE_NOISE_ADDITIVE};
        const size_t md[3] = {2, 1, 2};
        for (int j = 0; j < (k == 2 ? 1 : 3); j++) {
            gcheck c = {.tape = NDE_TAPE_STEP_STARTS, .reg = reg, .local = (int)sp.agg};
            nde_sde_method m = k == 2 ? NDE_SDE_SOSRI2 : ms[j];
            run_grad(&c, m, ns[j], md[j], 1);
            /* the value is the selected step's estimate from the log (a fresh solve) */
            gprob P;
            gprob_init(&P, ns[j], md[j]);
            nde_brownian *bm = tree(123, 0.0, 1.0, GB * md[j], 0);
            nde_sde_opts o = nde_sde_defaults(m);
            o.h0 = 0.07;
            o.rtol = o.atol = 1e-2;
            nde_sde_solver *s;
            CHECK(nde_sde_solver_create(&P.f, &P.g, &o, &s));
            double u0[GN] = {0.3, -0.2, 0.5, 0.1}, traj[GTX * GN], R;
            CHECK(nde_sde_solve(s, bm, GB, 2, u0, c.nt, c.ts, traj));
            cr_assert_eq(nde_sde_reg_value(reg, s, &R), NDE_ERR_STATE); /* nothing selected */
            nde_rng r = c.sel;
            size_t J;
            CHECK(nde_sde_local_select(s, reg, &r, c.t_reg, &J));
            cr_assert_eq(J, c.local_step);
            size_t N;
            const nde_step_rec *st = nde_sde_steps(s, &N);
            cr_assert_lt(J, N);
            if (sp.agg == NDE_REG_LOCAL_UNBIASED) cr_assert_eq(st[J].t, c.t_reg);
            CHECK(nde_sde_reg_value(reg, s, &R));
            double est = k == 2 ? st[J].stiff_est / sp.scale : st[J].err_est;
            cr_assert_eq(R, sp.coef * est * fabs(st[J].h));
            cr_assert_eq(R, c.R);
            nde_sde_solver_destroy(&s);
            nde_brownian_destroy(&bm);
        }
        nde_reg_destroy(&reg);
    }
}

/* The unbiased draw: same seed, same bits; another seed, another time; always in [t0, t1). */
Test(sde_adjoint, local_draws_are_seeded)
{
    nde_rng a, b, c;
    nde_rng_seed(&a, 5);
    nde_rng_seed(&b, 5);
    nde_rng_seed(&c, 6);
    double ta, tb, tc;
    for (int i = 0; i < 100; i++) {
        CHECK(nde_sde_local_draw_time(&a, 0.25, 0.5, &ta));
        CHECK(nde_sde_local_draw_time(&b, 0.25, 0.5, &tb));
        CHECK(nde_sde_local_draw_time(&c, 0.25, 0.5, &tc));
        cr_assert(memcmp(&ta, &tb, sizeof ta) == 0);
        cr_assert_neq(ta, tc);
        cr_assert(ta >= 0.25 && ta < 0.5, "%.17g", ta);
    }
}

/* NDE_TAPE_STAGES, NDE_TAPE_STEP_STARTS and NDE_TAPE_CHECKPOINT (every 3rd step, and only
 * u0) give bit-identical gradients for every method with an adjoint, without and with a
 * global and a local regularizer; the stage tape re-evaluates nothing, the checkpoint
 * tape re-integrates the segments and records less. */
Test(sde_adjoint, tape_modes_give_identical_gradients)
{
    const nde_sde_method ms[] = {NDE_SDE_EM, NDE_SDE_EM, NDE_SDE_MILSTEIN_DF, NDE_SDE_SRIW1,
                                 NDE_SDE_SOSRI, NDE_SDE_SOSRI2, NDE_SDE_SRA1, NDE_SDE_SOSRA};
    const nde_noise ns[] = {NDE_NOISE_DIAGONAL, NDE_NOISE_GENERAL, NDE_NOISE_SCALAR,
                            NDE_NOISE_DIAGONAL, NDE_NOISE_DIAGONAL, NDE_NOISE_SCALAR,
                            NDE_NOISE_ADDITIVE, NDE_NOISE_ADDITIVE};
    const size_t md[] = {2, 3, 1, 2, 2, 1, 2, 2};
    nde_reg_spec gs = nde_reg_error_estimate(0.5), ls = nde_sde_reg_local(2.0, NDE_LOCAL_UNBIASED);
    nde_reg *greg, *lreg;
    CHECK(nde_reg_create(&gs, &greg));
    CHECK(nde_reg_create(&ls, &lreg));
    const nde_tape tapes[4] = {NDE_TAPE_STEP_STARTS, NDE_TAPE_STAGES, NDE_TAPE_CHECKPOINT,
                               NDE_TAPE_CHECKPOINT};
    const size_t every[4] = {0, 0, 3, 0};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        for (int rk = 0; rk < 3; rk++) {
            int adaptive = nde_sde_method_is_adaptive(ms[i]);
            if (rk && !adaptive) continue;
            gcheck c[4];
            for (int t = 0; t < 4; t++) {
                c[t] = (gcheck){.tape = tapes[t], .every = every[t],
                                .reg = rk == 1 ? greg : rk == 2 ? lreg : NULL,
                                .local = rk == 2 ? NDE_REG_LOCAL_UNBIASED : 0};
                run_grad(&c[t], ms[i], ns[i], md[i], 0);
            }
            const char *nm = nde_sde_method_name(ms[i]);
            for (int t = 1; t < 4; t++) {
                cr_assert(memcmp(c[t].du0, c[0].du0, sizeof c[0].du0) == 0, "%s tape %d: du0", nm, t);
                cr_assert(memcmp(c[t].gf, c[0].gf, sizeof c[0].gf) == 0, "%s tape %d: gf", nm, t);
                cr_assert(memcmp(c[t].gg, c[0].gg, sizeof c[0].gg) == 0, "%s tape %d: gg", nm, t);
                cr_assert(memcmp(&c[t].R, &c[0].R, sizeof c[0].R) == 0, "%s tape %d: R", nm, t);
            }
            size_t N = c[0].nsteps;
            cr_assert_gt(N, 3, "%s: %zu steps", nm, N);
            if (ns[i] != NDE_NOISE_GENERAL) {
                /* the step-start tape re-evaluates the drift stages whose k feeds a later
                 * stage input: not the last stage's, unless the step's estimate is
                 * regularized (all steps for the global one, the selected one for local) */
                const sde_tab *T = nde_sde_tableau(ms[i]);
                const size_t S = (size_t)(T->s0 > T->s1 ? T->s0 : T->s1);
                const size_t e0 = (size_t)T->s0 < S - 1 ? (size_t)T->s0 : S - 1;
                const size_t full = rk == 1 ? N : rk == 2 ? 1 : 0;
                cr_assert_eq(c[1].stats.n_adjoint_nfe, 0);
                cr_assert_eq(c[0].stats.n_adjoint_nfe, (N - full) * e0 + full * (size_t)T->s0,
                             "%s: %zu adjoint drift evaluations", nm, c[0].stats.n_adjoint_nfe);
                cr_assert_gt(c[1].stats.tape_bytes, c[0].stats.tape_bytes);
            }
            cr_assert_lt(c[2].stats.tape_bytes, c[0].stats.tape_bytes);
            cr_assert_eq(c[2].stats.n_recomputed_steps, N - (N + 2) / 3);
            cr_assert_eq(c[3].stats.n_recomputed_steps, N - 1);
            cr_assert_eq(c[3].stats.tape_bytes, GN * sizeof(double));
            cr_log_info("%s%s: %zu steps, identical gradients; tape bytes stages %zu, step starts "
                        "%zu, checkpoint/3 %zu, checkpoint/u0 %zu", nm,
                        rk == 1 ? " + ERNSDE" : rk == 2 ? " + local ERNSDE" : "", N,
                        c[1].stats.tape_bytes, c[0].stats.tape_bytes, c[2].stats.tape_bytes,
                        c[3].stats.tape_bytes);
        }
    nde_reg_destroy(&greg);
    nde_reg_destroy(&lreg);
}

/* With drift and diffusion records (f_rec / g_rec), the stage tape keeps them and the
 * reverse sweep calls only vjp_rec (the plain vjps fail if called): the same bits of
 * gradient as the step-start tape, no drift evaluation in the reverse sweep. */
Test(sde_adjoint, stage_tape_keeps_field_records)
{
    const nde_sde_method ms[] = {NDE_SDE_EM, NDE_SDE_MILSTEIN_DF, NDE_SDE_SRIW1, NDE_SDE_SOSRI2,
                                 NDE_SDE_SOSRA};
    const nde_noise ns[] = {NDE_NOISE_DIAGONAL, NDE_NOISE_SCALAR, NDE_NOISE_DIAGONAL,
                            NDE_NOISE_SCALAR, NDE_NOISE_ADDITIVE};
    const size_t md[] = {2, 1, 2, 1, 2};
    nde_reg_spec gs = nde_reg_error_estimate(0.5);
    nde_reg *greg;
    CHECK(nde_reg_create(&gs, &greg));
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        for (int rk = 0; rk < 2; rk++) {
            if (rk && !nde_sde_method_is_adaptive(ms[i])) continue;
            gcheck c[2];
            for (int t = 0; t < 2; t++) {
                c[t] = (gcheck){.tape = t ? NDE_TAPE_STAGES : NDE_TAPE_STEP_STARTS, .rec = 1,
                                .reg = rk ? greg : NULL};
                run_grad(&c[t], ms[i], ns[i], md[i], 0);
            }
            const char *nm = nde_sde_method_name(ms[i]);
            cr_assert(memcmp(c[1].du0, c[0].du0, sizeof c[0].du0) == 0, "%s: du0", nm);
            cr_assert(memcmp(c[1].gf, c[0].gf, sizeof c[0].gf) == 0, "%s: gf", nm);
            cr_assert(memcmp(c[1].gg, c[0].gg, sizeof c[0].gg) == 0, "%s: gg", nm);
            cr_assert_eq(c[1].stats.n_adjoint_nfe, 0, "%s", nm);
            cr_assert_gt(c[1].stats.tape_bytes, c[0].stats.tape_bytes);
        }
    nde_reg_destroy(&greg);
}

/* ---- bad input ---------------------------------------------------------------------------- */

static nde_status blowup2_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    return blowup_f(ctx, t, u, du, 2 * batch);
}

Test(sde_errors, statuses_with_messages)
{
    gbm c = {.dim = 2, .mu = {1.0, -0.5}, .sig = {0.5, 0.8}};
    nde_field f = {.dim = 2, .ctx = &c, .f = gbm_f};
    nde_diffusion g = {.dim = 2, .m = 2, .noise = NDE_NOISE_DIAGONAL, .ctx = &c, .g = gbm_g};
    nde_sde_opts o = nde_sde_defaults(NDE_SDE_SOSRI);
    nde_sde_solver *s = NULL;
    /* diffusion shape vs noise type */
    nde_diffusion bad = g;
    bad.m = 3;
    cr_assert_eq(nde_sde_solver_create(&f, &bad, &o, &s), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "m = dim"), "%s", nde_last_error());
    bad = g;
    bad.noise = NDE_NOISE_SCALAR;
    cr_assert_eq(nde_sde_solver_create(&f, &bad, &o, &s), NDE_ERR_SHAPE);
    bad = g;
    bad.dim = 3;
    cr_assert_eq(nde_sde_solver_create(&f, &bad, &o, &s), NDE_ERR_SHAPE);
    bad = g;
    bad.noise = NDE_NOISE_GENERAL;
    cr_assert_eq(nde_sde_solver_create(&f, &bad, &o, &s), NDE_ERR_UNSUPPORTED);
    /* a record without its vjp, or of no size */
    bad = g;
    bad.g_rec = pd_g_rec;
    bad.rec_size = 2;
    cr_assert_eq(nde_sde_solver_create(&f, &bad, &o, &s), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "g_rec and vjp_rec"), "%s", nde_last_error());
    bad.vjp_rec = pd_vjp_rec;
    bad.rec_size = 0;
    cr_assert_eq(nde_sde_solver_create(&f, &bad, &o, &s), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "rec_size 0"), "%s", nde_last_error());
    o.method = NDE_SDE_SRA1;
    cr_assert_eq(nde_sde_solver_create(&f, &g, &o, &s), NDE_ERR_UNSUPPORTED);
    o.method = NDE_SDE_MILSTEIN;
    cr_assert_eq(nde_sde_solver_create(&f, &g, &o, &s), NDE_ERR_ARG); /* needs g's vjp */
    o = nde_sde_defaults(NDE_SDE_SOSRI);
    o.rtol = 0;
    cr_assert_eq(nde_sde_solver_create(&f, &g, &o, &s), NDE_ERR_ARG);
    o = nde_sde_defaults(NDE_SDE_SOSRI);
    o.tape = (nde_tape)17;
    cr_assert_eq(nde_sde_solver_create(&f, &g, &o, &s), NDE_ERR_ARG);
    cr_assert_null(s);

    enum { batch = 2, n = 4 };
    double u0[n] = {1, 1, 1, 1}, ts[2] = {0, 1}, traj[2 * n];
    nde_brownian *bm = tree(1, 0, 1, n, 0), *small = tree(1, 0, 1, 3, 0);
    o = nde_sde_defaults(NDE_SDE_SOSRI);
    CHECK(nde_sde_solver_create(&f, &g, &o, &s));
    /* tree size, dim, non-finite u0 */
    cr_assert_eq(nde_sde_solve(s, small, batch, 2, u0, 2, ts, traj), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "components"), "%s", nde_last_error());
    cr_assert_eq(nde_sde_solve(s, bm, batch, 3, u0, 2, ts, traj), NDE_ERR_SHAPE);
    double un[n] = {1, NAN, 1, 1};
    cr_assert_eq(nde_sde_solve(s, bm, batch, 2, un, 2, ts, traj), NDE_ERR_NONFINITE);
    double tsb[2] = {0, 2};
    cr_assert_eq(nde_sde_solve(s, bm, batch, 2, u0, 2, tsb, traj), NDE_ERR_ARG); /* outside tree */
    cr_assert_eq(nde_sde_adjoint(s, traj, NULL, NULL, NULL), NDE_ERR_STATE);
    nde_sde_solver_destroy(&s);
    /* max steps */
    o.max_steps = 3;
    o.h0 = 0.01;
    CHECK(nde_sde_solver_create(&f, &g, &o, &s));
    cr_assert_eq(nde_sde_solve(s, bm, batch, 2, u0, 2, ts, traj), NDE_ERR_MAX_STEPS);
    cr_assert(strstr(nde_last_error(), "max_steps"), "%s", nde_last_error());
    nde_sde_solver_destroy(&s);
    /* step below the minimum: an impossible tolerance */
    o = nde_sde_defaults(NDE_SDE_SOSRI);
    o.rtol = o.atol = 1e-14;
    o.dt_min = 1e-4;
    CHECK(nde_sde_solver_create(&f, &g, &o, &s));
    cr_assert_eq(nde_sde_solve(s, bm, batch, 2, u0, 2, ts, traj), NDE_ERR_DT_MIN);
    cr_assert(strstr(nde_last_error(), "dt_min"), "%s", nde_last_error());
    nde_sde_solver_destroy(&s);
    /* a state that becomes non-finite at fixed step: u' = u² from u0 = 10 */
    nde_field bf = {.dim = 2, .f = blowup2_f};
    o = nde_sde_defaults(NDE_SDE_EM);
    o.h0 = 0.05;
    CHECK(nde_sde_solver_create(&bf, &g, &o, &s));
    double big[n] = {10, 10, 10, 10};
    cr_assert_eq(nde_sde_solve(s, bm, batch, 2, big, 2, ts, traj), NDE_ERR_NONFINITE);
    nde_sde_solver_destroy(&s);
    /* Brownian tree arguments */
    nde_rng r;
    nde_rng_seed(&r, 1);
    nde_brownian *x = NULL;
    cr_assert_eq(nde_brownian_create(&r, 1, 0, 2, 0, &x), NDE_ERR_ARG);
    cr_assert_eq(nde_brownian_create(&r, 0, 1, 0, 0, &x), NDE_ERR_ARG);
    cr_assert_eq(nde_brownian_create(&r, 0, 1, 2, 99, &x), NDE_ERR_ARG);
    double W[4];
    cr_assert_eq(nde_brownian_point(bm, 1.5, W, NULL), NDE_ERR_ARG);
    /* local regularizer */
    nde_reg_spec lsp = nde_sde_reg_local(1.0, NDE_LOCAL_UNBIASED),
                 bsp = nde_sde_reg_local(1.0, NDE_LOCAL_BIASED), gsp = nde_reg_error_estimate(1.0);
    nde_reg *lreg, *breg, *greg, *xreg = NULL;
    CHECK(nde_reg_create(&lsp, &lreg));
    CHECK(nde_reg_create(&bsp, &breg));
    CHECK(nde_reg_create(&gsp, &greg));
    nde_reg_spec ksp = nde_reg_kinetic(1.0);
    ksp.agg = NDE_REG_LOCAL_BIASED;
    cr_assert_eq(nde_reg_create(&ksp, &xreg), NDE_ERR_ARG);
    o = nde_sde_defaults(NDE_SDE_SOSRI);
    o.rtol = o.atol = 1e-1;
    CHECK(nde_sde_solver_create(&f, &g, &o, &s));
    double R, tr;
    cr_assert_eq(nde_sde_local_select(s, lreg, &r, 0.0, NULL), NDE_ERR_STATE); /* no solve */
    CHECK(nde_sde_solve(s, bm, batch, 2, u0, 2, ts, traj));
    cr_assert_eq(nde_sde_local_select(s, greg, &r, 0.0, NULL), NDE_ERR_ARG); /* not local */
    cr_assert_eq(nde_sde_local_select(NULL, lreg, &r, 0.0, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_sde_local_select(s, lreg, &r, 0.123, NULL), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "nde_reg_insert_time"), "%s", nde_last_error());
    cr_assert_eq(nde_sde_reg_value(lreg, s, &R), NDE_ERR_STATE);
    cr_assert(strstr(nde_last_error(), "nde_sde_local_select"), "%s", nde_last_error());
    cr_assert_eq(nde_sde_local_select(s, breg, NULL, 0.0, NULL), NDE_ERR_ARG); /* biased: rng */
    size_t J = 99;
    CHECK(nde_sde_local_select(s, lreg, NULL, 0.0, &J)); /* the first step starts at t0 */
    cr_assert_eq(J, 0);
    CHECK(nde_sde_reg_value(lreg, s, &R));
    CHECK(nde_sde_solve(s, bm, batch, 2, u0, 2, ts, traj)); /* a new solve forgets the step */
    cr_assert_eq(nde_sde_reg_value(lreg, s, &R), NDE_ERR_STATE);
    nde_sde_solver_destroy(&s);
    cr_assert_eq(nde_sde_local_draw_time(&r, 1, 0, &tr), NDE_ERR_ARG);
    cr_assert_eq(nde_sde_local_draw_time(&r, 0, NAN, &tr), NDE_ERR_ARG);
    cr_assert_eq(nde_sde_local_draw_time(NULL, 0, 1, &tr), NDE_ERR_ARG);
    /* the ODE solvers refuse the local aggregations (their local regularizer is nde_local_reg) */
    double lam = -1.0;
    nde_field lf = nde_sde_example_linear_drift(&lam);
    nde_solver_opts so = nde_solver_defaults(NDE_TSIT5);
    nde_solver *os;
    CHECK(nde_solver_create(NULL, &lf, &so, &os));
    double ou0 = 1.0, otraj[2];
    CHECK(nde_solve(os, 1, 1, &ou0, 2, ts, otraj));
    cr_assert_eq(nde_reg_value(lreg, os, &R), NDE_ERR_UNSUPPORTED);
    cr_assert(strstr(nde_last_error(), "nde_local_reg"), "%s", nde_last_error());
    nde_solver_destroy(&os);
    nde_reg_destroy(&lreg);
    nde_reg_destroy(&breg);
    nde_reg_destroy(&greg);
    nde_sde_method mm;
    CHECK(nde_sde_method_parse("SOSRI2", &mm));
    cr_assert_eq(mm, NDE_SDE_SOSRI2);
    cr_assert_eq(nde_sde_method_parse("sosri3", &mm), NDE_ERR_ARG);
    nde_brownian_destroy(&bm);
    nde_brownian_destroy(&small);
}
