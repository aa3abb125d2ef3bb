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

/* x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512) variants picked at load time, with
 * multiply–adds contracted to FMA in this file only (ISO C mode otherwise keeps them
 * apart): the polynomials are ~1.6x faster and no less accurate. v3 and v4 give the
 * same bits; the baseline variant rounds every operation separately (≤ 1 ulp apart). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC optimize("fp-contract=fast")
#define NDE_VEC_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
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

static inline double tanh_kernel(double x)
{
    double a = fabs(x);
    a = select(a > 20.0, 20.0, a); /* NaN stays NaN */
    double s = a * a;
    /* Padé part: C(s) = −(218243025 + 16081065 s + 289575 s² + 1430 s³ + s⁴),
     * Q(s) = 654729075 + 310134825 s + 18918900 s² + 315315 s³ + 1485 s⁴ + s⁵. */
    double c = s + 1430.0;
    c = c * s + 289575.0;
    c = c * s + 16081065.0;
    c = c * s + 218243025.0;
    double q = s + 1485.0;
    q = q * s + 315315.0;
    q = q * s + 18918900.0;
    q = q * s + 310134825.0;
    q = q * s + 654729075.0;
    double sc = -(s * c);
    uint64_t k;
    double e1 = exp_reduced(2.0 * a, &k) * pow2(k) + 1.0; /* 2a ≤ 40: 0 ≤ k ≤ 58 */
    int small = a < 1.0;
    double d = select(small, sc, 2.0) / select(small, q, e1);
    return copysign(select(small, a + a * d, 1.0 - d), x);
}

static inline double sigmoid_kernel(double x) { return 1.0 / (1.0 + exp_kernel(-x)); }

NDE_VEC_CLONES
void nde_kern_tanh(const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = tanh_kernel(x[i]);
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
