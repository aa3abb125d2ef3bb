/* Grid-coordinate channels and zero domain padding. */
#include <math.h>
#include <string.h>

#include "nde/operators.h"

static nde_status check_dims(int ndim, const size_t *n, const char *what)
{
    if (ndim != 1 && ndim != 2) return NDE_FAIL(NDE_ERR_ARG, "%s: ndim %d (1 or 2)", what, ndim);
    if (!n) return NDE_FAIL(NDE_ERR_ARG, "%s: grid n is NULL", what);
    for (int d = 0; d < ndim; d++)
        if (n[d] < 2) return NDE_FAIL(NDE_ERR_SHAPE, "%s: grid n[%d] = %zu < 2", what, d, n[d]);
    return NDE_OK;
}

static double coord(size_t i, size_t n, int endpoint)
{
    return endpoint ? (double)i / (double)(n - 1) : (double)i / (double)n;
}

nde_status nde_grid_append(int ndim, const size_t *n, int endpoint, const double *x,
                           double *out, size_t batch, size_t channels)
{
    NDE_TRY(check_dims(ndim, n, "nde_grid_append"));
    if ((!x && channels) || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_grid_append: NULL array");
    size_t n0 = n[0], n1 = ndim == 2 ? n[1] : 1, pts = n0 * n1;
    size_t cout = channels + (size_t)ndim;
    for (size_t b = 0; b < batch; b++) {
        double *ob = out + b * cout * pts;
        if (channels) memcpy(ob, x + b * channels * pts, channels * pts * sizeof *ob);
        double *g0 = ob + channels * pts;
        for (size_t i = 0; i < n0; i++)
            for (size_t j = 0; j < n1; j++) g0[i * n1 + j] = coord(i, n0, endpoint);
        if (ndim == 2) {
            double *g1 = g0 + pts;
            for (size_t i = 0; i < n0; i++)
                for (size_t j = 0; j < n1; j++) g1[i * n1 + j] = coord(j, n1, endpoint);
        }
    }
    return NDE_OK;
}

size_t nde_pad_amount(double fraction, size_t n)
{
    if (!(fraction > 0.0)) return 0;
    return (size_t)llround(fraction * (double)n);
}

/* Copy between the (n0, n1) grid and the (n0+p0, n1+p1) padded grid of every (b, c). */
static nde_status pad_copy(int ndim, const size_t *n, const size_t *pad, const double *src,
                           double *dst, size_t batch, size_t channels, int to_padded)
{
    NDE_TRY(check_dims(ndim, n, to_padded ? "nde_pad" : "nde_crop"));
    if (!pad || !src || !dst) return NDE_FAIL(NDE_ERR_ARG, "nde_pad/nde_crop: NULL argument");
    size_t n0 = n[0], n1 = ndim == 2 ? n[1] : 1;
    size_t m0 = n0 + pad[0], m1 = ndim == 2 ? n1 + pad[1] : 1;
    for (size_t bc = 0; bc < batch * channels; bc++) {
        const double *s = src + bc * (to_padded ? n0 * n1 : m0 * m1);
        double *d = dst + bc * (to_padded ? m0 * m1 : n0 * n1);
        if (to_padded) {
            memset(d, 0, m0 * m1 * sizeof *d);
            for (size_t i = 0; i < n0; i++) memcpy(d + i * m1, s + i * n1, n1 * sizeof *d);
        } else {
            for (size_t i = 0; i < n0; i++) memcpy(d + i * n1, s + i * m1, n1 * sizeof *d);
        }
    }
    return NDE_OK;
}

nde_status nde_pad(int ndim, const size_t *n, const size_t *pad, const double *x, double *out,
                   size_t batch, size_t channels)
{
    return pad_copy(ndim, n, pad, x, out, batch, channels, 1);
}

nde_status nde_crop(int ndim, const size_t *n, const size_t *pad, const double *padded,
                    double *out, size_t batch, size_t channels)
{
    return pad_copy(ndim, n, pad, padded, out, batch, channels, 0);
}
