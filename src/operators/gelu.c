/* GELU, exact erf form (Hendrycks & Gimpel 2016; torch.nn.functional.gelu default). */
#include <math.h>

#include "nde/operators.h"

void nde_gelu(const double *z, double *y, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        double v = z[i];
        y[i] = 0.5 * v * (1.0 + erf(v * 0.70710678118654752440));
    }
}

void nde_gelu_vjp(const double *z, const double *gy, double *gz, size_t count)
{
    /* gelu'(z) = Φ(z) + z φ(z), φ the standard normal density. */
    const double inv_sqrt_2pi = 0.39894228040143267794;
    for (size_t i = 0; i < count; i++) {
        double v = z[i];
        double d = 0.5 * (1.0 + erf(v * 0.70710678118654752440)) + v * inv_sqrt_2pi * exp(-0.5 * v * v);
        gz[i] = gy[i] * d;
    }
}
