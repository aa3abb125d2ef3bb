/* Pointwise (1×1) convolution: the nn dense layer applied to each sample's channel-major
 * (Cin, npts) block, i.e. one GEMM per sample, W (Cout×Cin) · x_b (Cin×npts) — the same
 * GEMM and bias code as the MLP's layers, in their column layout (nn/nn_internal.h). */
#include <limits.h>
#include <stdio.h>

#include "nde/operators.h"
#include "nn/nn_internal.h"
#include "operators/f32.h"

struct nde_pointwise {
    nde_dense d; /* W (cout, cin); b (cout) when bias */
};

nde_status nde_pointwise_create(nde_params *params, const char *name, size_t in_channels,
                                size_t out_channels, int bias, nde_pointwise **pw)
{
    if (pw) *pw = NULL;
    if (!params || !name || !pw) return NDE_FAIL(NDE_ERR_ARG, "nde_pointwise_create: NULL argument");
    if (in_channels == 0 || out_channels == 0)
        return NDE_FAIL(NDE_ERR_ARG, "pointwise '%s': channels %zu -> %zu", name, in_channels,
                        out_channels);
    nde_pointwise *p = nde_alloc(sizeof *p);
    if (!p) return NDE_ERR_NOMEM;
    nde_status st = nde_nn_dense_add(params, name, in_channels, out_channels,
                                     bias ? 0u : NDE_DENSE_NO_BIAS, NDE_GROUP_DEFAULT, &p->d);
    if (st != NDE_OK) {
        nde_free(p);
        return st;
    }
    *pw = p;
    return NDE_OK;
}

void nde_pointwise_destroy(nde_pointwise **pw)
{
    if (!pw || !*pw) return;
    nde_free(*pw);
    *pw = NULL;
}

void nde_pointwise_init(const nde_pointwise *pw, double *theta, nde_rng *rng)
{
    if (!pw || !theta || !rng) return;
    nde_nn_dense_fill(&pw->d, theta, NDE_INIT_TORCH, 0.0, rng);
}

static nde_status check_points(const char *fn, size_t npts)
{
    if (npts == 0 || npts > INT_MAX)
        return NDE_FAIL(NDE_ERR_ARG, "%s: %zu points (1..INT_MAX for BLAS)", fn, npts);
    return NDE_OK;
}

nde_status nde_pointwise_forward(const nde_pointwise *pw, const double *theta, const double *x,
                                 double *y, size_t batch, size_t npts, int accumulate)
{
    if (!pw || !theta || !x || !y) return NDE_FAIL(NDE_ERR_ARG, "nde_pointwise_forward: NULL argument");
    NDE_TRY(check_points("nde_pointwise_forward", npts));
    const nde_dense *d = &pw->d;
    for (size_t b = 0; b < batch; b++)
        nde_nn_dense_forward(d, theta, 0.0, x + b * d->in * npts, y + b * d->out * npts, npts,
                             NDE_NN_COLS, accumulate != 0);
    return NDE_OK;
}

nde_status nde_pointwise_vjp(const nde_pointwise *pw, const double *theta, const double *x,
                             const double *gy, double *gx, double *gtheta, size_t batch,
                             size_t npts, int accumulate)
{
    if (!pw || !theta || !x || !gy) return NDE_FAIL(NDE_ERR_ARG, "nde_pointwise_vjp: NULL argument");
    NDE_TRY(check_points("nde_pointwise_vjp", npts));
    const nde_dense *d = &pw->d;
    for (size_t b = 0; b < batch; b++)
        nde_nn_dense_backward(d, theta, 0.0, x + b * d->in * npts, gy + b * d->out * npts,
                              gx ? gx + b * d->in * npts : NULL, gtheta, npts, NDE_NN_COLS,
                              accumulate != 0);
    return NDE_OK;
}

const nde_dense *nde_pointwise_dense(const nde_pointwise *pw) { return &pw->d; }
