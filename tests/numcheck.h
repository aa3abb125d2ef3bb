/* Comparison helpers shared by the numerical tests. Header-only, like fields.h. */
#ifndef NDE_TEST_NUMCHECK_H
#define NDE_TEST_NUMCHECK_H

#include <math.h>
#include <stddef.h>

/* ‖a − b‖₂ / ‖b‖₂: the relative error of a against the reference b. A zero reference
 * gives NaN, which fails every tolerance: a check against a vanishing reference (say, a
 * gradient that is identically zero) would prove nothing. */
static inline double rel_err(const double *a, const double *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0.0 ? sqrt(num / den) : NAN;
}

#endif
