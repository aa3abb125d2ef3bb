/* Built-in losses of the trainer. */
#include <math.h>

#include "nde/operators.h"
#include "nde/trainer.h"

/* Mean over all batch·size entries of φ(pred − target), φ = d² (power 2) or |d| (power
 * 1), and its gradient: 2d/n, or sign(d)/n with 0 at 0 (as torch). */
static nde_status mean_elementwise(int power, const double *pred, const double *target,
                                   double *grad, size_t batch, size_t size, double *value)
{
    const size_t n = batch * size;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = pred[i] - target[i];
        acc += power == 2 ? d * d : fabs(d);
        if (grad) grad[i] = (power == 2 ? 2.0 * d : (double)((d > 0.0) - (d < 0.0))) / (double)n;
    }
    *value = acc / (double)n;
    return NDE_OK;
}

static nde_status mse(void *ctx, const double *pred, const double *target, double *grad,
                      size_t batch, size_t size, double *value)
{
    (void)ctx;
    return mean_elementwise(2, pred, target, grad, batch, size, value);
}

static nde_status l1(void *ctx, const double *pred, const double *target, double *grad,
                     size_t batch, size_t size, double *value)
{
    (void)ctx;
    return mean_elementwise(1, pred, target, grad, batch, size, value);
}

static nde_status rel_l2(void *ctx, const double *pred, const double *target, double *grad,
                         size_t batch, size_t size, double *value)
{
    (void)ctx;
    return nde_rel_l2_loss(pred, target, grad, batch, size, value);
}

/* Per sample with logits z (size) and class y = target[0]:
 *   −log softmax(z)_y = log Σ_c e^{z_c − z_max} + z_max − z_y,
 * shifted by the largest logit so no exponential overflows; ∂/∂z_c = softmax(z)_c − [c = y]. */
static nde_status softmax_ce(void *ctx, const double *pred, const double *target, double *grad,
                             size_t batch, size_t size, double *value)
{
    (void)ctx;
    double total = 0.0;
    for (size_t b = 0; b < batch; b++) {
        const double *z = pred + b * size, t = target[b];
        if (!(t >= 0.0) || t >= (double)size || t != floor(t))
            return NDE_FAIL(NDE_ERR_ARG, "softmax cross-entropy: sample %zu has label %g, not a "
                            "class index in 0..%zu", b, t, size - 1);
        const size_t y = (size_t)t;
        size_t arg = 0;
        for (size_t c = 1; c < size; c++)
            if (z[c] > z[arg]) arg = c;
        double s = 0.0;
        for (size_t c = 0; c < size; c++) s += exp(z[c] - z[arg]);
        total += log(s) + z[arg] - z[y];
        if (grad)
            for (size_t c = 0; c < size; c++)
                grad[b * size + c] = (exp(z[c] - z[arg]) / s - (c == y)) / (double)batch;
    }
    *value = total / (double)batch;
    return NDE_OK;
}

nde_loss nde_loss_mse(void) { return (nde_loss){.fn = mse, .reduction = NDE_LOSS_MEAN, .name = "mse"}; }
nde_loss nde_loss_l1(void) { return (nde_loss){.fn = l1, .reduction = NDE_LOSS_MEAN, .name = "l1"}; }
nde_loss nde_loss_rel_l2(void)
{
    return (nde_loss){.fn = rel_l2, .reduction = NDE_LOSS_SUM, .name = "rel_l2"};
}
nde_loss nde_loss_softmax_ce(void)
{
    return (nde_loss){.fn = softmax_ce, .reduction = NDE_LOSS_MEAN, .name = "cross_entropy",
                      .target_size = 1};
}

size_t nde_argmax(const double *z, size_t n)
{
    size_t arg = 0;
    for (size_t c = 1; c < n; c++)
        if (z[c] > z[arg]) arg = c;
    return arg;
}
