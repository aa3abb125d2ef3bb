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

nde_loss nde_loss_mse(void) { return (nde_loss){.fn = mse, .reduction = NDE_LOSS_MEAN, .name = "mse"}; }
nde_loss nde_loss_l1(void) { return (nde_loss){.fn = l1, .reduction = NDE_LOSS_MEAN, .name = "l1"}; }
nde_loss nde_loss_rel_l2(void)
{
    return (nde_loss){.fn = rel_l2, .reduction = NDE_LOSS_SUM, .name = "rel_l2"};
}
