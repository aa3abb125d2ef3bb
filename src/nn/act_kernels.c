/* Branch-free, auto-vectorizable tanh, exp-based sigmoid/swish and their helpers.
 *
 * exp: Cody & Waite argument reduction y = k ln2 + r, |r| ≤ ln2/2, with ln2 split into
 * a 32-bit head (k·ln2_hi exact) and a tail, as in fdlibm's e_exp.c; e^r by its
 * degree-13 Taylor polynomial (remainder ≤ (ln2/2)^14/14! < 5e-18 relative); 2^k built
 * in the exponent bits, split in two factors so that subnormal and overflowing
 * results come out right. The rounding to k uses the 1.5·2^52 shifter trick, so no
 * lrint call blocks vectorization.
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

/* e^y for any double y (NaN → NaN, y ≥ 710 → +Inf, y ≤ −746 → 0), < 1 ulp. */
static inline double exp_kernel(double y)
{
    static const double inv_ln2 = 1.44269504088896338700e+00;
    static const double ln2_hi = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
    static const double ln2_lo = 1.90821492927058770002e-10;
    static const double shifter = 0x1.8p52;
    /* Clamping keeps k within [−1076, 1025]; written so that NaN passes through. */
    y = select(y > 710.0, 710.0, y);
    y = select(y < -746.0, -746.0, y);
    double kd = y * inv_ln2 + shifter; /* round-to-nearest k in the low mantissa bits */
    uint64_t kbits = bits_of(kd) - bits_of(shifter) + 2048; /* k + 2048 ≥ 0 */
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
    p = p * r + 1.0;
    /* k = k1 + k2 with k1 = floor(k/2): both 2^k1 and 2^k2 are normal doubles. */
    uint64_t k1 = (kbits >> 1) - 1024; /* two's complement of floor(k/2) */
    uint64_t k2 = kbits - 2048 - k1;
    double s1 = double_of((k1 + 1023) << 52);
    double s2 = double_of((k2 + 1023) << 52);
    return p * s1 * s2;
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
    double e1 = exp_kernel(2.0 * a) + 1.0;
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
