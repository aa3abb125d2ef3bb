/* Per-point Gaussian normalizer (UnitGaussianNormalizer of the legacy FNO utilities3.py). */
#include <math.h>

#include "nde/operators.h"

struct nde_normalizer {
    size_t point_size;
    double eps;
    double *mean; /* (point_size) */
    double *std;  /* (point_size), unbiased */
};

nde_status nde_normalizer_create(const double *data, size_t count, size_t point_size,
                                 double eps, nde_normalizer **nz)
{
    if (!data || !nz) return NDE_FAIL(NDE_ERR_ARG, "nde_normalizer_create: NULL argument");
    if (count < 2 || point_size == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_normalizer_create: %zu samples of %zu values (need >= 2)",
                        count, point_size);
    if (!(eps >= 0.0)) return NDE_FAIL(NDE_ERR_ARG, "nde_normalizer_create: eps %g", eps);
    nde_normalizer *z = nde_alloc(sizeof *z);
    if (!z) return NDE_ERR_NOMEM;
    z->mean = nde_alloc_array(point_size, sizeof *z->mean);
    z->std = nde_alloc_array(point_size, sizeof *z->std);
    if (!z->mean || !z->std) {
        nde_normalizer_destroy(&z);
        return NDE_ERR_NOMEM;
    }
    z->point_size = point_size;
    z->eps = eps;
    for (size_t s = 0; s < count; s++)
        for (size_t p = 0; p < point_size; p++) z->mean[p] += data[s * point_size + p];
    for (size_t p = 0; p < point_size; p++) z->mean[p] /= (double)count;
    for (size_t s = 0; s < count; s++)
        for (size_t p = 0; p < point_size; p++) {
            double d = data[s * point_size + p] - z->mean[p];
            z->std[p] += d * d;
        }
    for (size_t p = 0; p < point_size; p++) {
        z->std[p] = sqrt(z->std[p] / (double)(count - 1));
        if (!isfinite(z->std[p]) || !isfinite(z->mean[p])) {
            nde_normalizer_destroy(&z);
            return NDE_FAIL(NDE_ERR_NONFINITE, "nde_normalizer_create: non-finite data at point %zu", p);
        }
    }
    *nz = z;
    return NDE_OK;
}

void nde_normalizer_destroy(nde_normalizer **nz)
{
    if (!nz || !*nz) return;
    nde_free((*nz)->mean);
    nde_free((*nz)->std);
    nde_free(*nz);
    *nz = NULL;
}

size_t nde_normalizer_point_size(const nde_normalizer *nz) { return nz ? nz->point_size : 0; }
const double *nde_normalizer_mean(const nde_normalizer *nz) { return nz ? nz->mean : NULL; }
const double *nde_normalizer_std(const nde_normalizer *nz) { return nz ? nz->std : NULL; }

void nde_normalizer_encode(const nde_normalizer *nz, const double *x, double *y, size_t count)
{
    if (!nz || !x || !y) return;
    size_t ps = nz->point_size;
    for (size_t s = 0; s < count; s++)
        for (size_t p = 0; p < ps; p++)
            y[s * ps + p] = (x[s * ps + p] - nz->mean[p]) / (nz->std[p] + nz->eps);
}

void nde_normalizer_decode(const nde_normalizer *nz, const double *x, double *y, size_t count)
{
    if (!nz || !x || !y) return;
    size_t ps = nz->point_size;
    for (size_t s = 0; s < count; s++)
        for (size_t p = 0; p < ps; p++)
            y[s * ps + p] = x[s * ps + p] * (nz->std[p] + nz->eps) + nz->mean[p];
}

void nde_normalizer_decode_vjp(const nde_normalizer *nz, const double *gy, double *gx,
                               size_t count)
{
    if (!nz || !gy || !gx) return;
    size_t ps = nz->point_size;
    for (size_t s = 0; s < count; s++)
        for (size_t p = 0; p < ps; p++) gx[s * ps + p] = gy[s * ps + p] * (nz->std[p] + nz->eps);
}
