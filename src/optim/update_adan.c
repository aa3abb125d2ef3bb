/* Adan: Xie, Zhou, Li, Lin, Yan, "Adan: Adaptive Nesterov Momentum Algorithm for Faster
 * Optimizing Deep Models", 2022. Code form of sail-sg/Adan adan.py (_single_tensor_adan):
 * code β's are 1 − the paper's, moments start at zero and are bias-corrected, ε is
 * outside the square root, the difference d is 0 at the first step, and the default
 * weight decay is the proximal θ/(1 + lr·wd) after the step (no_prox: θ·(1 − lr·wd)
 * before it). With max_grad_norm the driver computes adan.py's global clip coefficient
 * min(1, max_grad_norm/(‖g‖₂ + ε)) over all tensors (st->grad_scale); the scaled
 * gradient enters the moments and is stored as the previous gradient, as adan.py scales
 * p.grad in place (nde leaves the params' gradient unchanged). */
#include "optim/optim_internal.h"

#include <math.h>

/* state: exp_avg, exp_avg_diff, exp_avg_sq, prev_grad (n each). */
void opt_update_adan(const opt_step *st, double *theta, const double *grad,
                     double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double b1 = sp->beta1, b2 = sp->beta2, b3 = sp->beta3, eps = sp->eps;
    const double lr = st->lr, wd = st->wd;
    double *m = state[0], *v = state[1], *nsq = state[2], *prev = state[3];
    const double step = (double)st->t;
    const double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
    const double bc3_sqrt = sqrt(1.0 - pow(b3, step));
    const double step_size_diff = lr * b2 / bc2, step_size = lr / bc1;
    for (size_t i = 0; i < n; i++) {
        const double g = grad[i] * st->grad_scale;
        const double d = st->t == 1 ? 0.0 : g - prev[i];
        m[i] = m[i] * b1 + (1.0 - b1) * g;
        v[i] = v[i] * b2 + (1.0 - b2) * d;
        const double w = d * b2 + g;
        nsq[i] = nsq[i] * b3 + (1.0 - b3) * w * w;
        const double denom = sqrt(nsq[i]) / bc3_sqrt + eps;
        if (sp->adan_no_prox) {
            theta[i] = theta[i] * (1.0 - lr * wd);
            theta[i] = theta[i] + (-step_size) * (m[i] / denom);
            theta[i] = theta[i] + (-step_size_diff) * (v[i] / denom);
        } else {
            theta[i] = theta[i] + (-step_size) * (m[i] / denom);
            theta[i] = theta[i] + (-step_size_diff) * (v[i] / denom);
            theta[i] = theta[i] / (1.0 + lr * wd);
        }
        prev[i] = g;
    }
}
