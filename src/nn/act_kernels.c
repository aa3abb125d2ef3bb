/* Branch-free, auto-vectorizable tanh, exp-based sigmoid/swish and their helpers.
 *
 * exp: Cody & Waite argument reduction y = k ln2 + r, |r| ≤ ln2/2, with ln2 split into
 * a 32-bit head (k·ln2_hi exact) and a tail, as in fdlibm's e_exp.c; e^r by its
 * degree-13 Taylor polynomial (remainder ≤ (ln2/2)^14/14! < 5e-18 relative); 2^k built
 * in the exponent bits (split in two factors by the general exp so that subnormal and
 * overflowing results come out right; tanh needs only 0 ≤ k ≤ 58). The rounding to k
 * uses the 1.5·2^52 shifter trick, so no lrint call blocks vectorization.
 *
 * tanh: for |x| < 1, tanh x = x + x·s·C(s)/Q(s), s = x², where x·P/Q = x + x·s·C/Q is
 * the [9/10] Padé approximant from Lambert's continued fraction
 *   tanh x = x / (1 + x²/(3 + x²/(5 + … + x²/19)))
 * (integer coefficients, exact in double; truncation < 1e-19 relative on |x| ≤ 1).
 * Writing it as x plus a correction (|correction| ≤ 0.24 |x|) keeps the rounding of
 * the rational part small. For 1 ≤ |x|, tanh x = 1 − 2/(e^{2|x|} + 1), whose error
 * is damped by q/(1 − q) ≤ 0.32 with q = 2/(e^{2|x|} + 1). |x| is clamped at 20,
 * where 1 − q rounds to exactly 1. Both branches share one division; the sign is
 * restored with copysign, so tanh(−x) = −tanh(x) bit for bit and NaN propagates. */
#include "nn/act_kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nde_config.h"

/* The CPU dispatch described in act_kernels.h. Multiply–adds are contracted to FMA in
 * this file only (ISO C mode otherwise keeps them apart): the polynomials are ~1.6x
 * faster and no less accurate. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC optimize("fp-contract=fast")
#define NDE_VEC_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#if NDE_HAVE_LIBMVEC
/* glibc's libmvec has vector variants of erfc and exp for every x86-64 level
 * (_ZGVbN2v_ SSE2, _ZGVdN4v_ AVX2, _ZGVeN8v_ AVX-512; glibc ≥ 2.35 for erfc).
 * Declaring them `simd` lets GCC vectorize the GELU loops into calls of the variant that
 * matches each clone; `const` (they are only called for their value here, errno is never
 * read) is what allows the loop to be vectorized without -fno-math-errno. */
__attribute__((simd("notinbranch"), const)) double erfc(double x);
__attribute__((simd("notinbranch"), const)) double exp(double x);
#endif
#else
#define NDE_VEC_CLONES
#endif

static inline uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double double_of(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* cond ? u : v as a bit blend of two computed values. A plain ?: lets GCC sink the
 * arithmetic into branches, which it will not if-convert (and so not vectorize)
 * under the default -ftrapping-math. */
static inline double select(int cond, double u, double v)
{
    uint64_t mask = (uint64_t)0 - (uint64_t)(cond != 0);
    return double_of((bits_of(u) & mask) | (bits_of(v) & ~mask));
}

/* Cody–Waite reduction y = k ln2 + r, |r| ≤ ln2/2, and p = e^r, so e^y = p·2^k.
 * k is returned in two's complement; |y| must stay below 2^51 ln2 (NaN gives p NaN). */
static inline double exp_reduced(double y, uint64_t *k)
{
    static const double inv_ln2 = 1.44269504088896338700e+00;
    static const double ln2_hi = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
    static const double ln2_lo = 1.90821492927058770002e-10;
    static const double shifter = 0x1.8p52;
    double kd = y * inv_ln2 + shifter; /* round-to-nearest k in the low mantissa bits */
    *k = bits_of(kd) - bits_of(shifter);
    kd -= shifter;
    double r = (y - kd * ln2_hi) - kd * ln2_lo;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    return p * r + 1.0;
}

/* 2^k for −1022 ≤ k ≤ 1023 (two's complement k), built in the exponent bits. */
static inline double pow2(uint64_t k) { return double_of((k + 1023) << 52); }

/* e^y for any double y (NaN → NaN, y ≥ 710 → +Inf, y ≤ −746 → 0), < 1 ulp. */
static inline double exp_kernel(double y)
{
    /* Clamping keeps k within [−1076, 1025]; written so that NaN passes through. */
    y = select(y > 710.0, 710.0, y);
    y = select(y < -746.0, -746.0, y);
    uint64_t k;
    double p = exp_reduced(y, &k);
    /* k = k1 + k2 with k1 = floor(k/2): 2^k1 and 2^k2 are both normal, so subnormal
     * and overflowing results are rounded once. */
    uint64_t k1 = ((k + 2048) >> 1) - 1024;
    return p * pow2(k1) * pow2(k - k1);
}

/* The Padé part for s = a²: −s·C(s) and Q(s), with
 * C(s) = −(218243025 + 16081065 s + 289575 s² + 1430 s³ + s⁴),
 * Q(s) = 654729075 + 310134825 s + 18918900 s² + 315315 s³ + 1485 s⁴ + s⁵. */
static inline void tanh_pade(double s, double *sc, double *q_out)
{
    double c = s + 1430.0;
    c = c * s + 289575.0;
    c = c * s + 16081065.0;
    c = c * s + 218243025.0;
    double q = s + 1485.0;
    q = q * s + 315315.0;
    q = q * s + 18918900.0;
    q = q * s + 310134825.0;
    q = q * s + 654729075.0;
    *sc = -(s * c);
    *q_out = q;
}

static inline double tanh_kernel(double x)
{
    double a = fabs(x);
    a = select(a > 20.0, 20.0, a); /* NaN stays NaN */
    double s = a * a, sc, q;
    tanh_pade(s, &sc, &q);
    uint64_t k;
    double e1 = exp_reduced(2.0 * a, &k) * pow2(k) + 1.0; /* 2a ≤ 40: 0 ≤ k ≤ 58 */
    int small = a < 1.0;
    double d = select(small, sc, 2.0) / select(small, q, e1);
    return copysign(select(small, a + a * d, 1.0 - d), x);
}

/* tanh_kernel for |x| < 1 only: the same operations on the Padé side, without the
 * exponential the other side needs (the same bits: tested against tanh_kernel). */
static inline double tanh_kernel_small(double x)
{
    double a = fabs(x);
    double s = a * a, sc, q;
    tanh_pade(s, &sc, &q);
    double d = sc / q;
    return copysign(a + a * d, x);
}

static inline double sigmoid_kernel(double x) { return 1.0 / (1.0 + exp_kernel(-x)); }

/* y = tanh x for the values in (−1, 1) by the Padé side only; the others are copied
 * (|tanh| < 0.77 there, so a value of y outside (−1, 1) marks one still to do). Returns
 * how many those are. y may be x. */
NDE_VEC_CLONES
static size_t tanh_small_pass(const double *x, double *y, size_t n)
{
    size_t big = 0;
    for (size_t i = 0; i < n; i++) {
        const double xi = x[i];
        big += !(fabs(xi) < 1.0);
        y[i] = select(fabs(xi) < 1.0, tanh_kernel_small(xi), xi);
    }
    return big;
}

/* The values the small pass left (outside (−1, 1) or NaN) by the full kernel. */
NDE_VEC_CLONES
static void tanh_rest_pass(double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = select(fabs(y[i]) < 1.0, y[i], tanh_kernel(y[i]));
}

/* Hidden pre-activations mostly lie in (−1, 1), where the exponential is not needed: one
 * exp-free pass, then the full kernel for the values left, one by one when they are few,
 * else in a second vectorized pass. */
void nde_kern_tanh(const double *x, double *y, size_t n)
{
    const size_t big = tanh_small_pass(x, y, n);
    if (big > n / 16) {
        tanh_rest_pass(y, n);
        return;
    }
    for (size_t i = 0; big && i < n; i++)
        if (!(fabs(y[i]) < 1.0)) tanh_rest_pass(y + i, 1);
}

NDE_VEC_CLONES
void nde_kern_sigmoid(const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = sigmoid_kernel(x[i]);
}

NDE_VEC_CLONES
void nde_kern_tanh_backward(const double *y, const double *dy, double *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0 - y[i] * y[i]);
}

NDE_VEC_CLONES
void nde_kern_sigmoid_backward(const double *y, const double *dy, double *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (y[i] * (1.0 - y[i]));
}

/* torch's silu: x / (1 + e^-x). */
NDE_VEC_CLONES
void nde_kern_swish(const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0 + exp_kernel(-x[i]));
}

/* torch's silu_backward: dy · s · (1 + x (1 − s)). */
NDE_VEC_CLONES
void nde_kern_swish_backward(const double *x, const double *dy, double *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double s = sigmoid_kernel(x[i]);
        dx[i] = dy[i] * (s * (1.0 + x[i] * (1.0 - s)));
    }
}

/* torch's softplus_backward (beta 1, threshold 20): z = e^x; x > 20 ? dy : dy z/(z+1),
 * with z/(z + 1) computed as the sigmoid 1/(1 + e^-x). */
NDE_VEC_CLONES
void nde_kern_softplus_backward(const double *x, const double *dy, double *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dx[i] = select(x[i] > 20.0, dy[i], dy[i] * sigmoid_kernel(x[i]));
    }
}

/* GELU (Hendrycks & Gimpel 2016): gelu(z) = z Φ(z), Φ(z) = ½ erfc(−z/√2). The erfc form
 * keeps full relative accuracy for z ≪ 0, where torch's ½ (1 + erf(z/√2)) cancels
 * (at z = −8 it has no correct digit left). Derivative gelu'(z) = Φ(z) + z φ(z),
 * φ(z) = e^{−z²/2}/√(2π).
 *
 * The kernels run in blocks of GELU_BLOCK values, the tail zero-padded to a full block,
 * and every block computes Φ by the same loop: each value's Φ then comes from the same
 * (vector) erfc whatever its position, the array length or the kernel, so gelu(z) has
 * the same bits from all three and from any slice of an array. Copying through local
 * blocks also leaves the loops free of aliasing between the caller's arrays. */
enum { GELU_BLOCK = 32 };

static const double inv_sqrt2 = 0.707106781186547524400844362105;
static const double inv_sqrt_2pi = 0.398942280401432677939946059934;

/* zb (GELU_BLOCK) ← m values of z, zero-padded. Full blocks (all but the tail) copy a
 * constant size, which compiles to a few vector moves instead of a memcpy call. */
static inline void gelu_load(const double *z, size_t m, double *zb)
{
    if (m == GELU_BLOCK) {
        memcpy(zb, z, GELU_BLOCK * sizeof *z);
        return;
    }
    for (size_t j = 0; j < GELU_BLOCK; j++) zb[j] = 0.0;
    memcpy(zb, z, m * sizeof *z);
}

/* dst (m) ← the first m values of a block (constant-size copy for a full block). */
static inline void gelu_store(double *dst, const double *b, size_t m)
{
    if (m == GELU_BLOCK) memcpy(dst, b, GELU_BLOCK * sizeof *b);
    else memcpy(dst, b, m * sizeof *b);
}

/* cb = Φ(zb), the one erfc loop. "unroll 1" keeps the block loops loops: GCC vectorizes
 * calls into libmvec only in the loop vectorizer, and would unroll them away first. */
static inline void gelu_cdf_block(const double *zb, double *cb)
{
#pragma GCC unroll 1
    for (size_t j = 0; j < GELU_BLOCK; j++) cb[j] = 0.5 * erfc(-zb[j] * inv_sqrt2);
}

/* gb = gelu'(zb) from cb = Φ(zb). */
static inline void gelu_grad_block(const double *zb, const double *cb, double *gb)
{
#pragma GCC unroll 1
    for (size_t j = 0; j < GELU_BLOCK; j++)
        gb[j] = cb[j] + zb[j] * inv_sqrt_2pi * exp(-0.5 * zb[j] * zb[j]);
}

NDE_VEC_CLONES
void nde_kern_gelu(const double *z, double *y, size_t n)
{
    for (size_t i = 0; i < n; i += GELU_BLOCK) {
        size_t m = n - i < GELU_BLOCK ? n - i : GELU_BLOCK;
        double zb[GELU_BLOCK], cb[GELU_BLOCK];
        gelu_load(z + i, m, zb);
        gelu_cdf_block(zb, cb);
        for (size_t j = 0; j < GELU_BLOCK; j++) cb[j] *= zb[j];
        gelu_store(y + i, cb, m);
    }
}

NDE_VEC_CLONES
void nde_kern_gelu_with_grad(const double *z, double *y, double *dydz, size_t n)
{
    for (size_t i = 0; i < n; i += GELU_BLOCK) {
        size_t m = n - i < GELU_BLOCK ? n - i : GELU_BLOCK;
        double zb[GELU_BLOCK], cb[GELU_BLOCK], gb[GELU_BLOCK];
        gelu_load(z + i, m, zb);
        gelu_cdf_block(zb, cb);
        gelu_grad_block(zb, cb, gb);
        for (size_t j = 0; j < GELU_BLOCK; j++) cb[j] *= zb[j];
        gelu_store(y + i, cb, m);
        gelu_store(dydz + i, gb, m);
    }
}

/* The derivative of nde_kern_gelu_with_grad, bit for bit (the compiler may contract
 * and order Φ + z·φ differently when it inlines the block into another loop), through
 * a stack buffer of GELU_CHUNK values: dx may alias dy or z. */
enum { GELU_CHUNK = 32 * GELU_BLOCK };

void nde_kern_gelu_backward(const double *z, const double *dy, double *dx, size_t n)
{
    double yb[GELU_CHUNK], gb[GELU_CHUNK];
    for (size_t i = 0; i < n; i += GELU_CHUNK) {
        size_t m = n - i < GELU_CHUNK ? n - i : GELU_CHUNK;
        nde_kern_gelu_with_grad(z + i, yb, gb, m);
        for (size_t j = 0; j < m; j++) dx[i + j] = dy[i + j] * gb[j];
    }
}
