/* Virtual Brownian tree carrying (W, ∫W): Gillespie/Li et al.'s virtual Brownian tree
 * (torchsde BrownianTree) with the space–time Lévy area of Foster, Lyons & Oberhauser
 * (diffrax VirtualBrownianTree), derived here as plain Gaussian conditioning.
 *
 * A node on [a, a+h] holds, per component, its local increments W = B(a+h) − B(a) and
 * A = ∫_a^{a+h} (B(r) − B(a)) dr. Splitting it at a + ρh draws (W1, A1) of the left part
 * from the exact conditional law given (W, A); the right part is (W − W1,
 * A − A1 − ρh·W1). In units where h = 1, with x = (w1, a1) and y = (w, a):
 *   Cov(x)   = [[ρ, ρ²/2], [ρ²/2, ρ³/3]]
 *   Cov(x,y) = [[ρ, ρ − ρ²/2], [ρ²/2, ρ²/2 − ρ³/6]]
 *   Cov(y)   = [[1, 1/2], [1/2, 1/3]],  Cov(y)⁻¹ = [[4, −6], [−6, 12]]
 * so x | y ~ N(K y, Σ) with K = Cov(x,y) Cov(y)⁻¹ and Σ = Cov(x) − K Cov(y,x). At ρ = 1/2
 * this is w1 = w/2 + 3H/2 + z/4 (H = a − w/2), Foster's midpoint rule.
 *
 * Dyadic nodes split at their midpoint; a point inside a leaf (level `depth`) is placed by
 * the same conditioning at its own ρ, with normals keyed by the point's bits. Every
 * node's 2n normals are counter-based (core/cnormal.h: a ziggurat on splitmix64 words)
 * with a key hashed from (tree seed, level, index), so a value does not depend on the
 * order of queries, without generator state. Only the root-to-point path of the last
 * query is kept: a query descends from the deepest cached node that holds it, so a
 * solver's sequential queries reuse the common prefix of their paths; and each level
 * keeps the normals of its last split, so stepping from a left child to its sibling
 * draws none. */
#include <math.h>
#include <string.h>

#include "core/cnormal.h"
#include "nde/sde.h"
#include "sde/sde_internal.h"

#define BM_DEFAULT_DEPTH NDE_BROWNIAN_DEFAULT_DEPTH
#define BM_MAX_DEPTH 50

struct nde_brownian {
    uint64_t seed;
    double t0, t1, span;
    size_t n, depth;
    double p2[BM_MAX_DEPTH + 1]; /* 2^−level */
    double *rootW, *rootA; /* (n) */
    /* cached path, levels 0..depth: node index, base values at the node's start
     * (relative to t0) and the node's local increments, each (depth + 1, n) */
    uint64_t *idx;
    double *Wb, *Ab, *Wn, *An;
    size_t n_valid;        /* levels 0..n_valid−1 of the cache hold the last path */
    /* the normals of the last split made at each level (depth, 2n) and the index of the
     * node they split (UINT64_MAX: none), so moving to a sibling draws nothing new */
    double *zc;
    uint64_t *zidx;
    int areas;             /* carries A (nde_brownian_create) or W only (_create_w) */
    double *pW, *pA;       /* (n) scratch for increments */
    double *z;             /* (2n) normals of one node */
};

static uint64_t mix64(uint64_t z) { return nde_mix64(z + NDE_CNORMAL_GAMMA); }

/* The root's space–time Lévy area H ~ N(0, T/12) of component i (normal n + i). */
static double H_of(uint64_t key, size_t n, size_t i, double sT)
{
    return sT * nde_cnormal(key, n + i) / sqrt(12.0);
}

/* The stream of a node (level, index) or, with extra != 0, of a point inside a leaf: its
 * 2n normals are nde_cnormal(key, 0 … 2n−1) (first n for W, last n for A). */
static uint64_t node_key(const nde_brownian *bm, uint64_t level, uint64_t index, uint64_t extra)
{
    uint64_t h = mix64(bm->seed ^ mix64(level + 0x51ed270b27a5b6c1ULL));
    h = mix64(h ^ mix64(index));
    return mix64(h ^ extra);
}

/* The left part at fraction rho of a node of width h with increments (W, A):
 *   W1 = cww W + cwa A + cwz z1,   A1 = caw W + caa A + caz1 z1 + caz2 z2
 * (the unit-interval law below scaled by h: W ~ √h, A ~ h^{3/2}). */
typedef struct bridge {
    double cww, cwa, cwz, caw, caa, caz1, caz2;
} bridge;

/* Conditional law of the left part at fraction rho (mean K y, Cholesky factor L of the
 * covariance), in units where the node has width 1. */
static bridge bridge_at(double rho)
{
    double r2 = rho * rho, r3 = r2 * rho;
    double sxy11 = rho, sxy12 = rho - r2 / 2, sxy21 = r2 / 2, sxy22 = r2 / 2 - r3 / 6;
    double k11 = 4 * sxy11 - 6 * sxy12;
    double k12 = -6 * sxy11 + 12 * sxy12;
    double k21 = 4 * sxy21 - 6 * sxy22;
    double k22 = -6 * sxy21 + 12 * sxy22;
    double c11 = rho - (k11 * sxy11 + k12 * sxy12);
    double c21 = r2 / 2 - (k21 * sxy11 + k22 * sxy12);
    double c22 = r3 / 3 - (k21 * sxy21 + k22 * sxy22);
    double l11 = sqrt(fmax(c11, 0.0));
    double l21 = l11 > 0 ? c21 / l11 : 0.0;
    double l22 = sqrt(fmax(c22 - l21 * l21, 0.0));
    return (bridge){.cww = k11, .cwa = k12, .cwz = l11, .caw = k21, .caa = k22, .caz1 = l21,
                    .caz2 = l22};
}

/* The Brownian bridge alone (a tree of W only): W1 = ρ W + √(ρ(1−ρ)) z, unit width. */
static bridge bridge_w_at(double rho)
{
    return (bridge){.cww = rho, .cwz = sqrt(fmax(rho * (1 - rho), 0.0))};
}

/* The same law for a node of width h. */
static bridge bridge_scaled(const bridge *u, double h)
{
    const double sh = sqrt(h), h32 = h * sh;
    return (bridge){.cww = u->cww, .cwa = u->cwa / h, .cwz = u->cwz * sh, .caw = u->caw * h,
                    .caa = u->caa, .caz1 = u->caz1 * h32, .caz2 = u->caz2 * h32};
}

/* Split a node (increments W, A; normals z, 2n) and write the child that holds the
 * query: the left one (right = 0: W1, A1, base unchanged) or the right one (base moved
 * by the left part; increments W − W1, A − A1 − hh·W1, hh the child's width). The
 * normals are drawn first (one tight loop), so these loops are plain arithmetic that
 * the compiler vectorizes. */
/* The arithmetic loops below run in the widest vectors of the machine (target clones as in
 * core/cnormal.c); ISO C mode keeps multiplies and adds apart (no FMA contraction), so
 * every clone gives the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define NDE_BM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NDE_BM_CLONES
#endif

NDE_BM_CLONES
static void split_child(const bridge *b, const double *restrict z, size_t n, int right,
                        double hh, const double *restrict Wb, const double *restrict Ab,
                        const double *restrict W, const double *restrict A,
                        double *restrict cWb, double *restrict cAb, double *restrict cW,
                        double *restrict cA, int areas)
{
    const bridge c = *b;
    const double *z1 = z, *z2 = z + n;
    if (!areas) { /* W only: the bridge, n normals */
        for (size_t i = 0; i < n; i++) {
            const double w1 = c.cww * W[i] + c.cwz * z1[i];
            cWb[i] = right ? Wb[i] + w1 : Wb[i];
            cW[i] = right ? W[i] - w1 : w1;
        }
        return;
    }
    if (!right) {
        for (size_t i = 0; i < n; i++) {
            cW[i] = c.cww * W[i] + c.cwa * A[i] + c.cwz * z1[i];
            cA[i] = c.caw * W[i] + c.caa * A[i] + c.caz1 * z1[i] + c.caz2 * z2[i];
        }
        memcpy(cWb, Wb, n * sizeof *cWb);
        memcpy(cAb, Ab, n * sizeof *cAb);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const double w1 = c.cww * W[i] + c.cwa * A[i] + c.cwz * z1[i];
        const double a1 = c.caw * W[i] + c.caa * A[i] + c.caz1 * z1[i] + c.caz2 * z2[i];
        cWb[i] = Wb[i] + w1;
        cAb[i] = Ab[i] + hh * Wb[i] + a1;
        cW[i] = W[i] - w1;
        cA[i] = A[i] - a1 - hh * w1;
    }
}

static nde_status create(nde_rng *rng, double t0, double t1, size_t n, size_t depth, int areas,
                         nde_brownian **bm)
{
    if (!bm) return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_create: bm is NULL");
    *bm = NULL;
    if (!rng) return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_create: rng is NULL");
    if (n == 0) return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_create: n = 0 components");
    if (!isfinite(t0) || !isfinite(t1) || !(t1 > t0) || !isfinite(t1 - t0))
        return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_create: interval [%g, %g] is not finite "
                                     "and increasing", t0, t1);
    if (depth == 0) depth = BM_DEFAULT_DEPTH;
    if (depth > BM_MAX_DEPTH)
        return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_create: depth %zu > %d", depth, BM_MAX_DEPTH);
    if (n > SIZE_MAX / 8 / (depth + 1) / sizeof(double))
        return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_create: n = %zu components is too many", n);
    nde_brownian *b = nde_alloc(sizeof *b);
    if (!b) return NDE_ERR_NOMEM;
    b->t0 = t0;
    b->t1 = t1;
    b->span = t1 - t0;
    b->areas = areas;
    b->n = n;
    b->depth = depth;
    size_t L = depth + 1;
    b->rootW = nde_alloc_array(n, sizeof(double));
    b->rootA = nde_alloc_array(n, sizeof(double));
    b->idx = nde_alloc_array(L, sizeof(uint64_t));
    b->Wb = nde_alloc_array(L * n, sizeof(double));
    b->Ab = nde_alloc_array(L * n, sizeof(double));
    b->Wn = nde_alloc_array(L * n, sizeof(double));
    b->An = nde_alloc_array(L * n, sizeof(double));
    b->pW = nde_alloc_array(n, sizeof(double));
    b->pA = nde_alloc_array(n, sizeof(double));
    b->z = nde_alloc_array(2 * n, sizeof(double));
    b->zc = nde_alloc_array(L * 2 * n, sizeof(double));
    b->zidx = nde_alloc_array(L, sizeof(uint64_t));
    if (!b->rootW || !b->rootA || !b->idx || !b->Wb || !b->Ab || !b->Wn || !b->An ||
        !b->pW || !b->pA || !b->z || !b->zc || !b->zidx) {
        nde_brownian_destroy(&b);
        return NDE_ERR_NOMEM;
    }
    for (size_t l = 0; l <= BM_MAX_DEPTH; l++) b->p2[l] = ldexp(1.0, -(int)l);
    /* base at t0 is zero (nde_alloc zero-fills; the cache never writes level 0's base) */
    b->idx[0] = 0;
    *bm = b;
    return nde_brownian_reseed(b, rng);
}

nde_status nde_brownian_create(nde_rng *rng, double t0, double t1, size_t n, size_t depth,
                               nde_brownian **bm)
{
    return create(rng, t0, t1, n, depth, 1, bm);
}

nde_status nde_brownian_create_w(nde_rng *rng, double t0, double t1, size_t n, size_t depth,
                                 nde_brownian **bm)
{
    return create(rng, t0, t1, n, depth, 0, bm);
}

int nde_brownian_has_areas(const nde_brownian *bm) { return bm ? bm->areas : 0; }

nde_status nde_brownian_reseed(nde_brownian *b, nde_rng *rng)
{
    if (!b || !rng) return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_reseed: NULL argument");
    size_t n = b->n;
    b->seed = nde_rng_u64(rng);
    /* root: W ~ N(0, T), H ~ N(0, T/12) independent, A = T (H + W/2) */
    const uint64_t key = node_key(b, UINT64_MAX, 0, 0);
    double T = b->span, sT = sqrt(T);
    for (size_t i = 0; i < n; i++) {
        double W = sT * nde_cnormal(key, i);
        b->rootW[i] = W;
        if (b->areas) b->rootA[i] = T * (H_of(key, n, i, sT) + W / 2);
    }
    memcpy(b->Wn, b->rootW, n * sizeof(double));
    memcpy(b->An, b->rootA, n * sizeof(double));
    for (size_t l = 0; l <= b->depth; l++) b->zidx[l] = UINT64_MAX;
    b->n_valid = 1;
    return NDE_OK;
}

void nde_brownian_destroy(nde_brownian **bm)
{
    if (!bm || !*bm) return;
    nde_brownian *b = *bm;
    nde_free(b->rootW);
    nde_free(b->rootA);
    nde_free(b->idx);
    nde_free(b->Wb);
    nde_free(b->Ab);
    nde_free(b->Wn);
    nde_free(b->An);
    nde_free(b->pW);
    nde_free(b->pA);
    nde_free(b->z);
    nde_free(b->zc);
    nde_free(b->zidx);
    nde_free(b);
    *bm = NULL;
}

size_t nde_brownian_size(const nde_brownian *bm) { return bm ? bm->n : 0; }

/* Value at the end of cached node `lev` (base + local): W, and A = Ab + h Wb + An. */
static void node_end(const nde_brownian *b, size_t lev, double h, double *W, double *A)
{
    size_t n = b->n;
    const double *Wb = b->Wb + lev * n, *Ab = b->Ab + lev * n, *Wn = b->Wn + lev * n,
                 *An = b->An + lev * n;
    for (size_t i = 0; i < n; i++) {
        W[i] = Wb[i] + Wn[i];
        if (A) A[i] = Ab[i] + h * Wb[i] + An[i];
    }
}

/* A point inside a leaf from the leaf's base (Wb, Ab), increments (Wn, An) and the
 * point's normals z (n for W, n more for A when A is wanted). */
NDE_BM_CLONES
static void leaf_point(const bridge *br, const double *restrict z, size_t n, double ds,
                       const double *restrict Wb, const double *restrict Ab,
                       const double *restrict Wn, const double *restrict An, double *restrict W,
                       double *restrict A)
{
    const bridge c = *br;
    const double *z1 = z, *z2 = z + n;
    if (!An) { /* a tree of W only */
        for (size_t i = 0; i < n; i++) W[i] = Wb[i] + c.cww * Wn[i] + c.cwz * z1[i];
        return;
    }
    for (size_t i = 0; i < n; i++) W[i] = Wb[i] + c.cww * Wn[i] + c.cwa * An[i] + c.cwz * z1[i];
    if (A)
        for (size_t i = 0; i < n; i++)
            A[i] = Ab[i] + ds * Wb[i] + c.caw * Wn[i] + c.caa * An[i] + c.caz1 * z1[i] +
                   c.caz2 * z2[i];
}

nde_status nde_brownian_point(nde_brownian *b, double t, double *W, double *A)
{
    if (!b || !W) return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_point: NULL argument");
    if (A && !b->areas)
        return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_point: the space-time area asked of a tree of W "
                                     "only (nde_brownian_create_w)");
    if (!(t >= b->t0 && t <= b->t1))
        return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_point: t = %.17g outside the tree's [%.17g, %.17g]",
                        t, b->t0, b->t1);
    size_t n = b->n;
    double x = (t - b->t0) / b->span;
    if (x > 1.0) x = 1.0;
    /* deepest cached level whose node contains x */
    size_t lev = 0;
    /* Below the root a node holds the points lo <= x < hi: a dyadic point's value is then
     * always the base of the node that starts there (made once, when its parent was split
     * at that midpoint), never base + increment of the node that ends there, so it has
     * the same bits however the cache was left by earlier queries. (k·2^−l is exact.) */
    while (x < 1.0 && lev + 1 < b->n_valid) {
        const double p = b->p2[lev + 1], lo = (double)b->idx[lev + 1] * p;
        if (!(x >= lo && x < lo + p)) break;
        lev++;
    }
    const bridge mid = b->areas ? bridge_at(0.5) : bridge_w_at(0.5);
    const size_t nz = b->areas ? 2 * n : n; /* normals per node */
    for (;;) {
        const uint64_t k = b->idx[lev];
        const double lo = (double)k * b->p2[lev], hi = ((double)k + 1.0) * b->p2[lev];
        const double h = b->span * b->p2[lev];
        const double *Wb = b->Wb + lev * n, *Ab = b->Ab + lev * n;
        if (x == lo) {
            memcpy(W, Wb, n * sizeof(double));
            if (A) memcpy(A, Ab, n * sizeof(double));
            b->n_valid = lev + 1;
            return NDE_OK;
        }
        if (x == hi) { /* only at the root (x = 1): see the cache lookup above */
            node_end(b, lev, h, W, A);
            b->n_valid = lev + 1;
            return NDE_OK;
        }
        if (lev == b->depth) {
            /* inside a leaf: condition at the point's own fraction */
            const double rho = (x - lo) / (hi - lo);
            uint64_t bits;
            memcpy(&bits, &x, sizeof bits);
            const bridge u = b->areas ? bridge_at(rho) : bridge_w_at(rho), br = bridge_scaled(&u, h);
            const uint64_t key = node_key(b, lev, k, bits | 1);
            const double *Wn = b->Wn + lev * n, *An = b->areas ? b->An + lev * n : NULL;
            const double ds = (x - lo) * b->span;
            /* W reads the first n normals only (counter-based: the same ones whether or
             * not the last n for A are drawn) */
            nde_cnormal_fill(key, 0, b->z, A ? 2 * n : n);
            leaf_point(&br, b->z, n, ds, Wb, Ab, Wn, An, W, A);
            b->n_valid = lev + 1;
            return NDE_OK;
        }
        /* split this node at its midpoint and descend into the child holding x */
        const double xm = (2.0 * (double)k + 1.0) * b->p2[lev + 1];
        const int right = !(x < xm);
        const bridge bm = bridge_scaled(&mid, h);
        double *z = b->zc + lev * 2 * n;
        if (b->zidx[lev] != k) { /* else: the sibling's split, already drawn */
            nde_cnormal_fill(node_key(b, lev, k, 0), 0, z, nz);
            b->zidx[lev] = k;
        }
        split_child(&bm, z, n, right, h / 2, Wb, Ab, b->Wn + lev * n,
                    b->An + lev * n, b->Wb + (lev + 1) * n, b->Ab + (lev + 1) * n,
                    b->Wn + (lev + 1) * n, b->An + (lev + 1) * n, b->areas);
        b->idx[lev + 1] = 2 * k + (uint64_t)right;
        lev++;
        b->n_valid = lev + 1;
    }
}

nde_status nde_brownian_increment(nde_brownian *b, double s, double t, double *dW, double *dH)
{
    if (!b || !dW) return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_increment: NULL argument");
    size_t n = b->n;
    if (s == t) {
        if (!(s >= b->t0 && s <= b->t1))
            return NDE_FAIL(NDE_ERR_ARG, "nde_brownian_increment: s = t = %.17g outside "
                                         "[%.17g, %.17g]", s, b->t0, b->t1);
        memset(dW, 0, n * sizeof(double));
        if (dH) memset(dH, 0, n * sizeof(double));
        return NDE_OK;
    }
    NDE_TRY(nde_brownian_point(b, s, b->pW, dH ? b->pA : NULL));
    /* keep W(s), A(s) in dW, dH while t is queried (scratch is reused by point) */
    double *Ws = dW, *As = dH;
    memcpy(Ws, b->pW, n * sizeof(double));
    if (As) memcpy(As, b->pA, n * sizeof(double));
    double *Wt = b->pW, *At = b->pA;
    NDE_TRY(nde_brownian_point(b, t, Wt, As ? At : NULL));
    double h = t - s;
    for (size_t i = 0; i < n; i++) {
        double w = Wt[i] - Ws[i];
        if (As) As[i] = (At[i] - As[i] - h * Ws[i]) / h - w / 2;
        dW[i] = w;
    }
    return NDE_OK;
}
