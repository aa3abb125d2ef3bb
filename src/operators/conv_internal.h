/* Scaled forms of the convolution primitives, for the MgNO graph executor
 * (u ← u + S ∗ r and r ← f − A ∗ u need a sign). The public nde_conv_forward and
 * nde_conv_vjp are these with alpha = 1. */
#ifndef NDE_CONV_INTERNAL_H
#define NDE_CONV_INTERNAL_H

#include "nde/mgno.h"

/* y = alpha·(conv(x; w) + b) + (accumulate ? y : 0). Shapes as nde_conv_forward. */
nde_status nde_conv_apply(nde_conv *conv, const double *w, const double *b, const double *x,
                          double *y, size_t batch, double alpha, int accumulate);

/* The VJP of nde_conv_apply: gx += alpha·convᵀ(gy), gw += alpha·…, gb += alpha·Σ gy. */
nde_status nde_conv_apply_vjp(nde_conv *conv, const double *w, const double *x, const double *gy,
                              double *gx, double *gw, double *gb, size_t batch, double alpha);

#endif
