/* Adam-family update rules.
 *   Adam / AdamW: torch.optim.Adam and torch.optim.AdamW 1.13 (_single_tensor_adam[w]);
 *     Kingma & Ba 2015, AMSGrad of Reddi et al. 2018, decoupled decay of Loshchilov &
 *     Hutter 2019.
 *   Adamax: torch.optim.Adamax 1.13 (Kingma & Ba 2015, §7.1).
 *   NAdamW: AlgoPerf baseline NAdamW (mlcommons/algorithmic-efficiency,
 *     pytorch_nadamw_full_budget.py; Nesterov-accelerated Adam of Dozat 2016 in the
 *     form of arXiv 1910.05446 Table 1, with decoupled decay). The reference forms
 *     β1·m + (1−β1)·g in the moment buffer and undoes it afterwards; here it is a
 *     temporary, which differs only by rounding of the stored moment.
 *   NAdam: torch.optim.NAdam (Dozat, "Incorporating Nesterov Momentum into Adam", ICLR
 *     2016 workshop, with its momentum schedule μ_t): the order of operations of torch
 *     1.13's _multi_tensor_nadam, which is also the rule of torch >= 2.0 (1.13's
 *     _single_tensor_nadam multiplied μ_t into Π_{t+1} twice; PyTorch PR 92699 fixed it).
 *     Decoupled decay as torch >= 2.1's decoupled_weight_decay. */
#include "optim/optim_internal.h"

#include <math.h>

/* state: exp_avg, exp_avg_sq, then max_exp_avg_sq (amsgrad). AdamW decays θ first;
 * Adam adds wd·θ to the gradient (L2). */
void opt_update_adam(const opt_step *st, double *theta, const double *grad,
                     double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double b1 = sp->beta1, b2 = sp->beta2, eps = sp->eps, lr = st->lr, wd = st->wd;
    const int decoupled = sp->kind == NDE_OPT_ADAMW;
    double *m = state[0], *v = state[1], *vmax = sp->amsgrad ? state[2] : NULL;
    const double step = (double)st->t;
    const double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
    const double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
    const double decay = 1.0 - lr * wd;
    for (size_t i = 0; i < n; i++) {
        const double d = opt_decay(decoupled, decay, wd, theta, i, grad[i]);
        m[i] = m[i] * b1 + (1.0 - b1) * d;
        v[i] = v[i] * b2 + (1.0 - b2) * d * d;
        const double denom = opt_denom(vmax, i, v[i], bc2_sqrt, eps);
        theta[i] = theta[i] + (-step_size) * (m[i] / denom);
    }
}

/* state: exp_avg, exp_inf. */
void opt_update_adamax(const opt_step *st, double *theta, const double *grad,
                       double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double b1 = sp->beta1, b2 = sp->beta2, eps = sp->eps, wd = st->wd;
    double *m = state[0], *u = state[1];
    const double clr = st->lr / (1.0 - pow(b1, (double)st->t));
    for (size_t i = 0; i < n; i++) {
        double d = grad[i];
        if (wd != 0.0) d = d + wd * theta[i];
        m[i] = m[i] * b1 + (1.0 - b1) * d;
        u[i] = fmax(u[i] * b2, fabs(d) + eps);
        theta[i] = theta[i] + (-clr) * (m[i] / u[i]);
    }
}

/* state: exp_avg, exp_avg_sq. */
void opt_update_nadamw(const opt_step *st, double *theta, const double *grad,
                       double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double b1 = sp->beta1, b2 = sp->beta2, eps = sp->eps, lr = st->lr;
    double *m = state[0], *v = state[1];
    const double step = (double)st->t;
    const double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
    const double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
    const double decay = 1.0 - lr * st->wd;
    for (size_t i = 0; i < n; i++) {
        theta[i] = theta[i] * decay;
        m[i] = m[i] * b1 + (1.0 - b1) * grad[i];
        v[i] = v[i] * b2 + (1.0 - b2) * grad[i] * grad[i];
        const double m_nesterov = m[i] * b1 + (1.0 - b1) * grad[i];
        const double denom = opt_denom(NULL, i, v[i], bc2_sqrt, eps);
        theta[i] = theta[i] + (-step_size) * (m_nesterov / denom);
    }
}

double opt_nadam_mu(const nde_optim_spec *spec, uint64_t t)
{
    return spec->beta1 * (1.0 - 0.5 * pow(0.96, (double)t * spec->momentum_decay));
}

/* state: exp_avg, exp_avg_sq. The driver keeps Π_t (st->mu_product, μ_t included). */
void opt_update_nadam(const opt_step *st, double *theta, const double *grad,
                      double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double b1 = sp->beta1, b2 = sp->beta2, eps = sp->eps, lr = st->lr, wd = st->wd;
    double *m = state[0], *v = state[1];
    const double mu = opt_nadam_mu(sp, st->t), mu_next = opt_nadam_mu(sp, st->t + 1);
    const double bc2_sqrt = sqrt(1.0 - pow(b2, (double)st->t));
    const double step_grad = -lr * (1.0 - mu) / (1.0 - st->mu_product);
    const double step_avg = -lr * mu_next / (1.0 - st->mu_product * mu_next);
    const double decay = 1.0 - lr * wd;
    for (size_t i = 0; i < n; i++) {
        const double d = opt_decay(sp->decoupled_wd, decay, wd, theta, i, grad[i]);
        m[i] = m[i] * b1 + (1.0 - b1) * d;
        v[i] = v[i] * b2 + (1.0 - b2) * d * d;
        const double denom = opt_denom(NULL, i, v[i], bc2_sqrt, eps);
        theta[i] = theta[i] + step_grad * (d / denom);
        theta[i] = theta[i] + step_avg * (m[i] / denom);
    }
}
