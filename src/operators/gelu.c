/* The public GELU entry points of nde/operators.h: the one GELU kernel of src/nn
 * (erfc form, vectorized; see nn/act_kernels.h), also behind NDE_ACT_GELU. */
#include "nde/operators.h"
#include "nn/act_kernels.h"

void nde_gelu(const double *z, double *y, size_t count) { nde_kern_gelu(z, y, count); }

void nde_gelu_with_derivative(const double *z, double *y, double *dydz, size_t count)
{
    nde_kern_gelu_with_grad(z, y, dydz, count);
}

void nde_gelu_vjp(const double *z, const double *gy, double *gz, size_t count)
{
    nde_kern_gelu_backward(z, gy, gz, count);
}
