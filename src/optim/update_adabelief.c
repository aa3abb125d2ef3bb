/* AdaBelief: Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
 * Observed Gradients", NeurIPS 2020. Order of operations of adabelief_pytorch 0.2.1
 * (AdaBelief.step): decay first (decoupled θ·(1 − lr·wd), with fixed_decay θ·(1 − wd),
 * or L2 on the gradient), the residual uses
 * the new m, ε is added into the stored s every step (also before the AMSGrad max), and
 * the rectified branch (RAdam, Liu et al. 2020) divides by √s + ε without the second
 * bias correction, which sits in its step size. */
#include "optim/optim_internal.h"

#include <math.h>

/* state: exp_avg, exp_avg_var, then max_exp_avg_var (amsgrad). */
void opt_update_adabelief(const opt_step *st, double *theta, const double *grad,
                          double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double b1 = sp->beta1, b2 = sp->beta2, eps = sp->eps, lr = st->lr, wd = st->wd;
    double *m = state[0], *s = state[1], *smax = sp->amsgrad ? state[2] : NULL;
    const double step = (double)st->t;
    const double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
    const double bc2_sqrt = sqrt(bc2);

    /* Rectification term (RAdam): N_sma and its step size depend on t only. */
    int adaptive = 1;
    double step_size = lr / bc1;
    if (sp->rectify) {
        const double b2t = pow(b2, step);
        const double n_sma_max = 2.0 / (1.0 - b2) - 1.0;
        const double n_sma = n_sma_max - 2.0 * step * b2t / (1.0 - b2t);
        if (n_sma >= 5.0) {
            step_size = -(sqrt((1.0 - b2t) * (n_sma - 4.0) / (n_sma_max - 4.0) *
                               (n_sma - 2.0) / n_sma * n_sma_max / (n_sma_max - 2.0)) /
                          (1.0 - pow(b1, step))) *
                        lr;
        } else {
            adaptive = 0;
            step_size = sp->degenerated_to_sgd ? -(1.0 / (1.0 - pow(b1, step))) * lr : 0.0;
        }
    } else {
        step_size = -step_size;
    }

    const double decay = sp->fixed_decay ? 1.0 - wd : 1.0 - lr * wd;
    for (size_t i = 0; i < n; i++) {
        const double d = opt_decay(sp->decoupled_wd, decay, wd, theta, i, grad[i]);
        m[i] = m[i] * b1 + (1.0 - b1) * d;
        const double r = d - m[i];
        s[i] = s[i] * b2 + (1.0 - b2) * r * r;
        s[i] = s[i] + eps;
        const double denom = opt_denom(smax, i, s[i], bc2_sqrt, eps);
        if (!sp->rectify)
            theta[i] = theta[i] + step_size * (m[i] / denom);
        else if (adaptive)
            theta[i] = theta[i] + step_size * (m[i] / (sqrt(s[i]) + eps));
        else if (step_size != 0.0)
            theta[i] = theta[i] + step_size * m[i];
    }
}
