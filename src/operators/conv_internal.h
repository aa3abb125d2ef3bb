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

/* The float32 twins (same plan, float arrays, sgemm; conv_kernels.h holds the one source
 * of both). The plan's column buffer is shared, so a plan serves one call at a time in
 * either precision. */
nde_status nde_conv_apply_f32(nde_conv *conv, const float *w, const float *b, const float *x,
                              float *y, size_t batch, float alpha, int accumulate);
nde_status nde_conv_apply_vjp_f32(nde_conv *conv, const float *w, const float *x, const float *gy,
                                  float *gx, float *gw, float *gb, size_t batch, float alpha);

#endif
