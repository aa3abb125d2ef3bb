/* SGD and RMSprop update rules, in the order of operations of torch.optim.SGD and
 * torch.optim.RMSprop (PyTorch 1.13, _single_tensor_sgd / _single_tensor_rmsprop).
 * SGD momentum: Sutskever et al. 2013 (buffer initialised to the first gradient);
 * RMSprop: Tieleman & Hinton 2012, centered form of Graves 2013. */
#include "optim/optim_internal.h"

#include <math.h>

/* state[0]: momentum_buffer (n), present when momentum != 0. */
void opt_update_sgd(const opt_step *st, double *theta, const double *grad,
                    double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double mu = sp->momentum, lr = st->lr, wd = st->wd;
    double *buf = sp->momentum != 0.0 ? state[0] : NULL;
    for (size_t i = 0; i < n; i++) {
        double d = grad[i];
        if (wd != 0.0) d = d + wd * theta[i];
        if (buf) {
            if (st->t == 1)
                buf[i] = d;
            else
                buf[i] = buf[i] * mu + (1.0 - sp->dampening) * d;
            d = sp->nesterov ? d + mu * buf[i] : buf[i];
        }
        theta[i] = theta[i] + (-lr) * d;
    }
}

/* state: square_avg, then grad_avg (centered), then momentum_buffer (momentum > 0). */
void opt_update_rmsprop(const opt_step *st, double *theta, const double *grad,
                        double *const *state, size_t n)
{
    const nde_optim_spec *sp = st->spec;
    const double alpha = sp->alpha, lr = st->lr, wd = st->wd, eps = sp->eps;
    int k = 0;
    double *sq = state[k++];
    double *gavg = sp->centered ? state[k++] : NULL;
    double *buf = sp->momentum > 0.0 ? state[k++] : NULL;
    for (size_t i = 0; i < n; i++) {
        double d = grad[i];
        if (wd != 0.0) d = d + wd * theta[i];
        sq[i] = sq[i] * alpha + (1.0 - alpha) * d * d;
        double avg;
        if (gavg) {
            gavg[i] = gavg[i] * alpha + (1.0 - alpha) * d;
            avg = sqrt(sq[i] + (-1.0) * gavg[i] * gavg[i]);
        } else {
            avg = sqrt(sq[i]);
        }
        avg = avg + eps;
        if (buf) {
            buf[i] = buf[i] * sp->momentum + d / avg;
            theta[i] = theta[i] + (-lr) * buf[i];
        } else {
            theta[i] = theta[i] + (-lr) * (d / avg);
        }
    }
}
