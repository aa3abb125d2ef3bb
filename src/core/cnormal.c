/* Counter-based standard normals (see cnormal.h). */
#include "core/cnormal.h"

#include <math.h>
#include <string.h>

#include "core/ziggurat.inc" /* nde_zig_r, nde_zig_v, nde_zig_x, nde_zig_f */

static double unit(uint64_t w) { return (double)(w >> 11) * 0x1.0p-53; } /* [0, 1) */

double nde_cnormal_slow(uint64_t u)
{
    uint64_t st = u;
    for (;;) {
        const unsigned k = (unsigned)(u & 255);
        const double sign = (u & 256) ? -1.0 : 1.0;
        const double x = unit(u) * nde_zig_x[k];
        if (x < nde_zig_x[k + 1]) return sign * x;
        if (k == 0) { /* base layer beyond r: the tail x > r */
            for (;;) {
                /* 1 − U lies in (0, 1], so the logs are finite */
                const double a = -log(1.0 - unit(nde_mix64(st += NDE_CNORMAL_GAMMA))) / nde_zig_r;
                const double b = -log(1.0 - unit(nde_mix64(st += NDE_CNORMAL_GAMMA)));
                if (2.0 * b > a * a) return sign * (nde_zig_r + a);
            }
        }
        /* wedge between x[k + 1] and x[k]: a uniform height in the layer under f(x)? */
        const double y = nde_zig_f[k] + unit(nde_mix64(st += NDE_CNORMAL_GAMMA)) *
                                            (nde_zig_f[k + 1] - nde_zig_f[k]);
        if (y < exp(-0.5 * x * x)) return sign * x;
        u = nde_mix64(st += NDE_CNORMAL_GAMMA);
    }
}

/* nde_cnormal_fill in two passes, so the first vectorizes: every draw takes the fast path
 * with a NaN where it is rejected (1.2 % of draws), then the NaNs are redone by the
 * scalar nde_cnormal. The fast path is nde_cnormal's, written without the 64-bit
 * integer → double conversion (which AVX2 lacks): u >> 11 = hi·2²¹ + lo with hi < 2³²,
 * lo < 2²¹, each made exact by the 2⁵² exponent trick and combined exactly (53 bits), so
 * the bits equal nde_cnormal's. Target clones as in nn/act_kernels.c. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define NDE_CNORMAL_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NDE_CNORMAL_CLONES
#endif

static inline double small_int(uint64_t v) /* v < 2^52, exactly */
{
    const uint64_t b = v | 0x4330000000000000ULL; /* 2^52 + v */
    double d;
    memcpy(&d, &b, sizeof d);
    return d - 0x1.0p52;
}

NDE_CNORMAL_CLONES
static void fill_fast(uint64_t key, uint64_t first, double *z, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        const uint64_t u = nde_mix64(key + (first + j + 1) * NDE_CNORMAL_GAMMA);
        const uint64_t k = u & 255;
        const double a = small_int(u >> 32) * 0x1.0p21 + small_int((u >> 11) & 0x1fffff);
        const double x = a * 0x1.0p-53 * nde_zig_x[k];
        const double sx = (u & 256) ? -x : x;
        z[j] = x < nde_zig_x[k + 1] ? sx : NAN;
    }
}

/* Redo the NaNs (rejected fast-path draws) by the scalar draw; blocks of 8 without one
 * are passed over by a vectorizable test. */
NDE_CNORMAL_CLONES
static void redo_rejected(uint64_t key, uint64_t first, double *z, size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        int bad = 0;
        for (size_t l = 0; l < 8; l++) bad |= z[j + l] != z[j + l];
        if (bad)
            for (size_t l = j; l < j + 8; l++)
                if (z[l] != z[l]) z[l] = nde_cnormal(key, first + l);
    }
    for (; j < n; j++)
        if (z[j] != z[j]) z[j] = nde_cnormal(key, first + j);
}

void nde_cnormal_fill(uint64_t key, uint64_t first, double *z, size_t n)
{
    fill_fast(key, first, z, n);
    redo_rejected(key, first, z, n);
}
