/* Internal: counter-based standard normals. nde_cnormal(key, i) is a function of (key, i)
 * only, so a caller that names each draw (the Brownian tree: key = its node, i = the
 * component) gets the same bits in any order and without generator state.
 *
 * Uniform words: u_i = splitmix64 output i of the state `key` (Steele, Lea & Flood 2014;
 * the seeding generator of nde_rng), i.e. mix(key + (i + 1)·γ). Normals: the 256-layer
 * ziggurat of Marsaglia & Tsang (2000) on u_i (bits 0–7 the layer, bit 8 the sign, bits
 * 11–63 the uniform abscissa); 98.8 % of draws take the fast path (one multiply and one
 * comparison). A rejected draw continues with the words mix(u_i + j·γ), j = 1, 2, …, so it
 * still depends on (key, i) only. Tail (|z| > r = 3.654…): Marsaglia's exponential
 * rejection. Tables: src/core/ziggurat.inc (scripts/gen_ziggurat.py); tested in
 * tests/test_sde.c (table relations, moments, tail probabilities). */
#ifndef NDE_CORE_CNORMAL_H
#define NDE_CORE_CNORMAL_H

#include <stddef.h>
#include <stdint.h>

#define NDE_CNORMAL_GAMMA 0x9e3779b97f4a7c15ULL

/** splitmix64's output function. */
static inline uint64_t nde_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/** The ziggurat tables: x[0] = v/f(r), x[1] = r > x[2] > … > x[256] = 0, f[k] = exp(−x[k]²/2). */
extern const double nde_zig_x[257], nde_zig_f[257];
/** Layer area v and tail start r. */
extern const double nde_zig_v, nde_zig_r;

/** The draw that u (the first word of draw i) did not settle on the fast path. */
double nde_cnormal_slow(uint64_t u);

/** The i-th standard normal of stream `key`. */
static inline double nde_cnormal(uint64_t key, uint64_t i)
{
    const uint64_t u = nde_mix64(key + (i + 1) * NDE_CNORMAL_GAMMA);
    const unsigned k = (unsigned)(u & 255);
    const double x = (double)(u >> 11) * 0x1.0p-53 * nde_zig_x[k];
    if (x < nde_zig_x[k + 1]) return (u & 256) ? -x : x;
    return nde_cnormal_slow(u);
}

/** z[j] = nde_cnormal(key, first + j), j < n. */
void nde_cnormal_fill(uint64_t key, uint64_t first, double *z, size_t n);

#endif
