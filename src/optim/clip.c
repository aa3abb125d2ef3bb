/* Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_ (PyTorch 1.13):
 * coefficient max_norm/(‖g‖₂ + 1e-6), applied only when it is below 1 (Pascanu,
 * Mikolov, Bengio, "On the difficulty of training recurrent neural networks", 2013). */
#include "nde/optim.h"

#include <math.h>

nde_status nde_clip_grad_norm(double *grad, size_t n, double max_norm, double *norm_before)
{
    if (!grad && n > 0) return NDE_FAIL(NDE_ERR_ARG, "nde_clip_grad_norm: grad is NULL");
    if (!isfinite(max_norm) || max_norm <= 0.0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_clip_grad_norm: max_norm %g must be finite and > 0",
                        max_norm);
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += grad[i] * grad[i];
    const double norm = sqrt(ss);
    if (norm_before) *norm_before = norm;
    if (!isfinite(norm))
        return NDE_FAIL(NDE_ERR_NONFINITE, "nde_clip_grad_norm: gradient norm is %g", norm);
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0)
        for (size_t i = 0; i < n; i++) grad[i] *= coef;
    return NDE_OK;
}
