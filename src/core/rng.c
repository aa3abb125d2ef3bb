/* xoshiro256** with splitmix64 seeding (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", 2018), Box–Muller normals. */
#include "nde/core.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void nde_rng_seed(nde_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare_normal = 0.0;
}

uint64_t nde_rng_u64(nde_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nde_rng_uniform(nde_rng *r) { return (double)(nde_rng_u64(r) >> 11) * 0x1.0p-53; }

double nde_rng_uniform_in(nde_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * nde_rng_uniform(r);
}

double nde_rng_normal(nde_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare_normal;
    }
    /* 1 - U lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - nde_rng_uniform(r);
    double u2 = nde_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 2.0 * NDE_PI * u2;
    r->spare_normal = rad * sin(ang);
    r->has_spare = 1;
    return rad * cos(ang);
}

uint64_t nde_rng_below(nde_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    /* Rejection on the top of the range keeps every value equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = nde_rng_u64(r);
    while (x >= limit);
    return x % n;
}

void nde_rng_jump(nde_rng *r)
{
    static const uint64_t jump[] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                    0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 64; b++) {
            if (jump[i] & (UINT64_C(1) << b)) {
                s0 ^= r->s[0];
                s1 ^= r->s[1];
                s2 ^= r->s[2];
                s3 ^= r->s[3];
            }
            nde_rng_u64(r);
        }
    r->s[0] = s0;
    r->s[1] = s1;
    r->s[2] = s2;
    r->s[3] = s3;
    r->has_spare = 0;
}
