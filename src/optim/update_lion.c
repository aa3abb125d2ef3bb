/* Lion and Lion-K update rules.
 * Lion: Chen et al., "Symbolic Discovery of Optimization Algorithms", 2023;
 *   order of operations of google/automl lion/lion_pytorch.py: decoupled decay with
 *   θ_{t−1}, step along sign(β1·m + (1−β1)·g), then the β2 momentum update.
 * Lion-K: Chen, Liu, Liang, Liu, "Lion Secretly Solves Constrained Optimization: As
 *   Lyapunov Predicts", arXiv 2310.05898: sign replaced by ∇K of a convex K. With m
 *   accumulating +g (Lion's convention) and an odd ∇K the paper's update
 *   x += ε(∇K(β1·m − (1−β1)·∇f) − λx) is the one below. */
#include "optim/optim_internal.h"

#include <math.h>

static double grad_k_elementwise(nde_lion_k k, double c)
{
    switch (k) {
    case NDE_LION_K_HUBER: return c < -1.0 ? -1.0 : (c > 1.0 ? 1.0 : c);
    case NDE_LION_K_QUADRATIC: return c;
    default: return (double)((c > 0.0) - (c < 0.0));
    }
}

/* state[0]: exp_avg (n). */
void opt_update_lion(const opt_step *st, double *theta, const double *grad,
                     double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double b1 = sp->beta1, b2 = sp->beta2, lr = st->lr;
    const double decay = 1.0 - lr * st->wd;
    double *m = state[0];
    if (sp->lion_k != NDE_LION_K_L2 && sp->lion_k != NDE_LION_K_CUSTOM) {
        for (size_t i = 0; i < n; i++) {
            theta[i] = theta[i] * decay;
            const double c = m[i] * b1 + grad[i] * (1.0 - b1);
            theta[i] = theta[i] + (-lr) * grad_k_elementwise(sp->lion_k, c);
            m[i] = m[i] * b2 + (1.0 - b2) * grad[i];
        }
        return;
    }
    double *c = st->work, *dir = st->work + n;
    for (size_t i = 0; i < n; i++) c[i] = m[i] * b1 + grad[i] * (1.0 - b1);
    if (sp->lion_k == NDE_LION_K_L2) {
        double ss = 0.0;
        for (size_t i = 0; i < n; i++) ss += c[i] * c[i];
        const double norm = sqrt(ss);
        for (size_t i = 0; i < n; i++) dir[i] = norm > 0.0 ? c[i] / norm : 0.0;
    } else {
        sp->lion_k_grad(sp->lion_k_user, c, dir, n);
    }
    for (size_t i = 0; i < n; i++) {
        theta[i] = theta[i] * decay;
        theta[i] = theta[i] + (-lr) * dir[i];
        m[i] = m[i] * b2 + (1.0 - b2) * grad[i];
    }
}
