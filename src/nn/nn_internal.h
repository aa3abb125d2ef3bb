/* Shared helpers of src/nn (internal): unchecked dense kernels used by the MLP and by
 * the operator layers' 1×1 convolutions (src/operators) once their arguments have been
 * validated, and the MLP field's bound params. */
#ifndef NDE_NN_INTERNAL_H
#define NDE_NN_INTERNAL_H

#include "nde/nn.h"

/* One past the last θ offset the layer uses. */
size_t nde_nn_dense_end(const nde_dense *d);

/* How n feature vectors lie in memory for the dense products below:
 *   NDE_NN_ROWS  (n, features): sample-major, the MLP's (batch, features) activations;
 *   NDE_NN_COLS  (features, n): feature-major, a channel-major field (channels, points),
 *                where the layer is a 1×1 convolution (pointwise and channel-MLP layers).
 * Both are one GEMM on the same weight (the second is the transpose of the first), so
 * neither layout is ever copied into the other. */
typedef enum nde_nn_layout { NDE_NN_ROWS = 0, NDE_NN_COLS } nde_nn_layout;

/* nde_dense_add with the bias in group bias_group (nde_dense_add: NDE_GROUP_NO_DECAY;
 * the FNO's pointwise layers decay every tensor, as the legacy scripts' Adam). */
nde_status nde_nn_dense_add(nde_params *p, const char *prefix, size_t in, size_t out,
                            unsigned flags, int bias_group, nde_dense *d);

/* Fill the layer's tensors in θ = theta by `kind`, without checks (see nde_dense_init). */
void nde_nn_dense_fill(const nde_dense *d, double *theta, nde_init kind, double scale,
                       nde_rng *rng);

/* The layer's products on θ = theta without checks (see nde/nn.h for the formulas),
 * for n ≤ INT_MAX samples or points in `layout`:
 *   forward   y = [x, t] Wᵀ + b; x (n, in) / (in, n), y (n, out) / (out, n);
 *             accumulate 0: y overwritten, 1: y += …
 *   backward  dx = dy W[:, :in] (NULL skips; overwritten, or added to when accumulate),
 *             gtheta += ∂/∂θ laid out like θ (NULL skips); dy like y, dx like x.
 * x and y (dx and dy) must not overlap. */
void nde_nn_dense_forward(const nde_dense *d, const double *theta, double t, const double *x,
                          double *y, size_t n, nde_nn_layout layout, int accumulate);
void nde_nn_dense_backward(const nde_dense *d, const double *theta, double t, const double *x,
                           const double *dy, double *dx, double *gtheta, size_t n,
                           nde_nn_layout layout, int accumulate);
/* jy (batch, out) = w (batch, in) W[:, :in]ᵀ (rows). */
void nde_nn_dense_jvp(const nde_dense *d, const double *theta, const double *w, double *jy,
                      size_t batch);

/* The params the MLP's field reads (set by nde_mlp_field). Binding checks that the
 * params hold the network's tensors (NDE_ERR_SHAPE otherwise). */
nde_status nde_nn_mlp_bind_field_params(nde_mlp *net, const nde_params *p);

/* The checks a dense or MLP call starts with: the object (named `what` in the message) and
 * p non-NULL, 0 < batch <= INT_MAX (batch is a BLAS int). `fn` names the caller. */
nde_status nde_nn_check_call(const char *fn, const void *obj, const char *what,
                             const nde_params *p, size_t batch);
const nde_params *nde_nn_mlp_field_params(const nde_mlp *net);

#endif
