/* Counter-based standard normals (see cnormal.h). */
#include "core/cnormal.h"

#include <math.h>

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

void nde_cnormal_fill(uint64_t key, uint64_t first, double *z, size_t n)
{
    for (size_t j = 0; j < n; j++) z[j] = nde_cnormal(key, first + j);
}
