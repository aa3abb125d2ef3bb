/* Shared helpers of src/nn (internal): unchecked dense kernels used by the MLP once
 * its arguments have been validated, and the MLP field's bound params. */
#ifndef NDE_NN_INTERNAL_H
#define NDE_NN_INTERNAL_H

#include "nde/nn.h"

/* One past the last θ offset the layer uses. */
size_t nde_nn_dense_end(const nde_dense *d);

/* The layer's products on θ = theta without checks (see nde/nn.h for the formulas).
 * x (batch, in), y (batch, out), dy (batch, out), dx (batch, in) or NULL,
 * gtheta laid out like θ or NULL, w (batch, in), jy (batch, out). */
void nde_nn_dense_forward(const nde_dense *d, const double *theta, double t, const double *x,
                          double *y, size_t batch);
void nde_nn_dense_backward(const nde_dense *d, const double *theta, double t, const double *x,
                           const double *dy, double *dx, double *gtheta, size_t batch);
void nde_nn_dense_jvp(const nde_dense *d, const double *theta, const double *w, double *jy,
                      size_t batch);

/* The params the MLP's field reads (set by nde_mlp_field). Binding checks that the
 * params hold the network's tensors (NDE_ERR_SHAPE otherwise). */
nde_status nde_nn_mlp_bind_field_params(nde_mlp *net, const nde_params *p);
const nde_params *nde_nn_mlp_field_params(const nde_mlp *net);

#endif
