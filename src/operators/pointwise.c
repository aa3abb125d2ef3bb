/* Pointwise (1×1) convolution: one GEMM per sample, W (Cout×Cin) · x_b (Cin×npts). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>

#include "nde/operators.h"

struct nde_pointwise {
    size_t cin, cout;
    int bias;
    size_t w_off, b_off; /* W (cout, cin); b (cout) */
};

nde_status nde_pointwise_create(nde_params *params, const char *name, size_t in_channels,
                                size_t out_channels, int bias, nde_pointwise **pw)
{
    if (!params || !name || !pw) return NDE_FAIL(NDE_ERR_ARG, "nde_pointwise_create: NULL argument");
    if (in_channels == 0 || out_channels == 0)
        return NDE_FAIL(NDE_ERR_ARG, "pointwise '%s': channels %zu -> %zu", name, in_channels,
                        out_channels);
    char tname[NDE_PARAM_NAME_MAX];
    int len = snprintf(tname, sizeof tname, "%s.weight", name);
    if (len < 0 || (size_t)len >= sizeof tname)
        return NDE_FAIL(NDE_ERR_ARG, "pointwise name '%s' is too long", name);
    nde_pointwise *p = nde_alloc(sizeof *p);
    if (!p) return NDE_ERR_NOMEM;
    p->cin = in_channels;
    p->cout = out_channels;
    p->bias = bias != 0;
    size_t wshape[2] = {out_channels, in_channels};
    nde_status st = nde_params_add(params, tname, 2, wshape, NDE_GROUP_DEFAULT, &p->w_off);
    if (st == NDE_OK && p->bias) {
        snprintf(tname, sizeof tname, "%s.bias", name);
        st = nde_params_add(params, tname, 1, &p->cout, NDE_GROUP_DEFAULT, &p->b_off);
    }
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
    /* torch.nn.Linear / Conv1d reset_parameters: kaiming_uniform(a=√5) gives bound 1/√fan_in. */
    double bound = 1.0 / sqrt((double)pw->cin);
    for (size_t i = 0; i < pw->cout * pw->cin; i++)
        theta[pw->w_off + i] = nde_rng_uniform_in(rng, -bound, bound);
    if (pw->bias)
        for (size_t i = 0; i < pw->cout; i++)
            theta[pw->b_off + i] = nde_rng_uniform_in(rng, -bound, bound);
}

nde_status nde_pointwise_forward(const nde_pointwise *pw, const double *theta, const double *x,
                                 double *y, size_t batch, size_t npts, int accumulate)
{
    if (!pw || !theta || !x || !y) return NDE_FAIL(NDE_ERR_ARG, "nde_pointwise_forward: NULL argument");
    const double *w = theta + pw->w_off;
    for (size_t b = 0; b < batch; b++) {
        double *yb = y + b * pw->cout * npts;
        if (pw->bias) {
            const double *bias = theta + pw->b_off;
            for (size_t o = 0; o < pw->cout; o++) {
                double *row = yb + o * npts;
                if (accumulate)
                    for (size_t p = 0; p < npts; p++) row[p] += bias[o];
                else
                    for (size_t p = 0; p < npts; p++) row[p] = bias[o];
            }
        }
        double beta = (accumulate || pw->bias) ? 1.0 : 0.0;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pw->cout, (int)npts,
                    (int)pw->cin, 1.0, w, (int)pw->cin, x + b * pw->cin * npts, (int)npts, beta,
                    yb, (int)npts);
    }
    return NDE_OK;
}

nde_status nde_pointwise_vjp(const nde_pointwise *pw, const double *theta, const double *x,
                             const double *gy, double *gx, double *gtheta, size_t batch,
                             size_t npts, int accumulate)
{
    if (!pw || !theta || !x || !gy) return NDE_FAIL(NDE_ERR_ARG, "nde_pointwise_vjp: NULL argument");
    const double *w = theta + pw->w_off;
    for (size_t b = 0; b < batch; b++) {
        const double *gyb = gy + b * pw->cout * npts;
        if (gtheta) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pw->cout, (int)pw->cin,
                        (int)npts, 1.0, gyb, (int)npts, x + b * pw->cin * npts, (int)npts, 1.0,
                        gtheta + pw->w_off, (int)pw->cin);
            if (pw->bias) {
                double *gb = gtheta + pw->b_off;
                for (size_t o = 0; o < pw->cout; o++) {
                    double s = 0.0;
                    for (size_t p = 0; p < npts; p++) s += gyb[o * npts + p];
                    gb[o] += s;
                }
            }
        }
        if (gx)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)pw->cin, (int)npts,
                        (int)pw->cout, 1.0, w, (int)pw->cin, gyb, (int)npts,
                        accumulate ? 1.0 : 0.0, gx + b * pw->cin * npts, (int)npts);
    }
    return NDE_OK;
}
