/* MgNO layer and network behind one forward / VJP signature, for the tests that treat
 * both alike (test_mgno.c's finite differences, test_mgno_f32.c's float64 twins). */
#ifndef NDE_TESTS_MGNO_FNS_H
#define NDE_TESTS_MGNO_FNS_H

#include <stddef.h>

#include "nde/mgno.h"

typedef nde_status (*fwd_fn)(void *obj, const double *x, double *y, size_t batch);
typedef nde_status (*vjp_fn)(void *obj, const double *x, const double *gy, double *gx,
                             double *gtheta, size_t batch);

static inline nde_status mgconv_fwd(void *o, const double *x, double *y, size_t b)
{
    return nde_mgconv_forward(o, x, y, b);
}
static inline nde_status mgconv_vjp(void *o, const double *x, const double *gy, double *gx,
                                    double *gt, size_t b)
{
    return nde_mgconv_vjp(o, x, gy, gx, gt, b);
}
static inline nde_status mgno_fwd(void *o, const double *x, double *y, size_t b)
{
    return nde_mgno_forward(o, x, y, b);
}
static inline nde_status mgno_vjp(void *o, const double *x, const double *gy, double *gx,
                                  double *gt, size_t b)
{
    return nde_mgno_vjp(o, x, gy, gx, gt, b);
}

#endif
