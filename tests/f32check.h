/* Helpers of the float32-against-float64 tests (test_f32.c, test_mgno_f32.c): inputs that
 * are exactly representable in float, conversion to float, and the relative error of a
 * float result against a double reference. Include after <criterion/criterion.h>. */
#ifndef NDE_TESTS_F32CHECK_H
#define NDE_TESTS_F32CHECK_H

#include <stddef.h>

#include "nde/nde.h"
#include "numcheck.h"
#include "operators/f32.h"

/* n standard normals times scale, rounded to float (one spare entry: n may be 0). */
static inline double *rnd(size_t n, nde_rng *r, double scale)
{
    double *a = nde_alloc_array(n + 1, sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < n; i++) a[i] = (double)(float)(scale * nde_rng_normal(r));
    return a;
}

static inline float *to_f32(const double *x, size_t n)
{
    float *y = nde_alloc_array(n + 1, sizeof *y);
    cr_assert_not_null(y);
    nde_f32_from_f64(x, y, n);
    return y;
}

/* rel_err of a float result against a double reference */
static inline double rel_err32(const float *a, const double *b, size_t n)
{
    double *ad = nde_alloc_array(n + 1, sizeof *ad);
    nde_f64_from_f32(a, ad, n);
    double e = rel_err(ad, b, n);
    nde_free(ad);
    return e;
}

#endif
