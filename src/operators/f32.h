/* The float32 compute path of the operator layers (internal; issue 16).
 *
 * Mixed precision: activations, spectra, layer products and the per-call θ-gradient are
 * float; the master parameters (the flat nde_params array), the gradient accumulated
 * across a batch and the optimizer state stay double. A model converts θ to a float
 * shadow (same offsets) once per forward/backward and adds its float gradient into the
 * caller's double gradient at the end of a backward.
 *
 * Each kernel is the float twin of a double one: same layouts, same formulas; the tests
 * (tests/test_operators.c, "f32" suites) compare every pair. The convolutions of MgNO
 * have their float twins in operators/conv_internal.h (both instantiated from one source,
 * operators/conv_kernels.h; compared in tests/test_mgno_f32.c). */
#ifndef NDE_OPERATORS_F32_H
#define NDE_OPERATORS_F32_H

#include <stddef.h>

#include "nde/nn.h"
#include "nde/operators.h"

#if defined(__GNUC__)
#define NDE_F32_INTERNAL __attribute__((visibility("hidden")))
#else
#define NDE_F32_INTERNAL
#endif

/* y (n) = (float)x; y (n) = (double)x. */
NDE_F32_INTERNAL void nde_f32_from_f64(const double *x, float *y, size_t n);
NDE_F32_INTERNAL void nde_f64_from_f32(const float *x, double *y, size_t n);
/* y (n) += (double)x. */
NDE_F32_INTERNAL void nde_f64_add_f32(const float *x, double *y, size_t n);

/* GELU in float (erfcf form, as nde_kern_gelu_with_grad): y = gelu(z), dydz = gelu'(z);
 * y and dydz may each equal z, not each other. */
NDE_F32_INTERNAL void nde_f32_gelu_with_grad(const float *z, float *y, float *dydz, size_t n);

/* The 1×1 convolution of a dense layer in the column layout (features, n) (see
 * nde_nn_dense_forward with NDE_NN_COLS, no time input): y (out, n) = W x + b;
 * backward: dx (in, n) = Wᵀ dy (NULL skips; overwritten), gtheta += (dW, db) (NULL skips),
 * n ≤ INT_MAX, sgemm. theta/gtheta are float arrays at the store's offsets. */
NDE_F32_INTERNAL void nde_f32_dense_cols_forward(const nde_dense *d, const float *theta,
                                                 const float *x, float *y, size_t n);
NDE_F32_INTERNAL void nde_f32_dense_cols_backward(const nde_dense *d, const float *theta,
                                                  const float *x, const float *dy, float *dx,
                                                  float *gtheta, size_t n);

/* The layers' dense descriptions (borrowed). */
NDE_F32_INTERNAL const nde_dense *nde_pointwise_dense(const nde_pointwise *pw);
NDE_F32_INTERNAL size_t nde_channel_mlp_n_layers(const nde_channel_mlp *mlp);
NDE_F32_INTERNAL const nde_pointwise *nde_channel_mlp_layer(const nde_channel_mlp *mlp, size_t i);

/* Channel MLP in float, channel-major (C, npts): as nde_channel_mlp_forward/_vjp with
 * batch 1; cache: nde_channel_mlp_cache_size(mlp, 1, npts) floats. gx NULL skips. */
NDE_F32_INTERNAL void nde_f32_channel_mlp_forward(const nde_channel_mlp *mlp, const float *theta,
                                                  const float *x, float *y, size_t npts,
                                                  float *cache);
NDE_F32_INTERNAL void nde_f32_channel_mlp_vjp(const nde_channel_mlp *mlp, const float *theta,
                                              const float *x, const float *gy, float *gx,
                                              float *gtheta, size_t npts, float *cache);

/* The spectral convolution in float: as nde_spectral_conv_prepare/_forward/_vjp, with
 * float arrays of the same lengths (scratch: nde_spectral_conv_scratch_size floats;
 * xhat: nde_spectral_conv_spectrum_size floats), fftwf plans and cgemm. */
NDE_F32_INTERNAL nde_status nde_spectral_conv_prepare_f32(const nde_spectral_conv *conv,
                                                          size_t batch, const size_t *n);
NDE_F32_INTERNAL nde_status nde_spectral_conv_forward_f32(const nde_spectral_conv *conv,
                                                          const float *theta, const float *x,
                                                          float *y, size_t batch, const size_t *n,
                                                          float *scratch, float *xhat);
NDE_F32_INTERNAL nde_status nde_spectral_conv_vjp_f32(const nde_spectral_conv *conv,
                                                      const float *theta, const float *x,
                                                      const float *xhat, const float *gy,
                                                      float *gx, float *gtheta, size_t batch,
                                                      const size_t *n, float *scratch);

#endif
