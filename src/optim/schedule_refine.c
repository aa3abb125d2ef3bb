/* Schedule refinement from recorded gradient norms: closed form of Defazio, Cutkosky,
 * Mehta, Mishchenko, arXiv 2310.07831 (facebookresearch/adaptive_scheduling,
 * find_schedule.py find_closed_form_schedule, normalised by the maximum as visual.py).
 * Weights are taken relative to G_0; the normalisation removes that factor, and it makes
 * constant norms give weights of exactly 1, so the tail sums are exact integers. */
#include "nde/schedule.h"

#include <math.h>

nde_status nde_schedule_refine(const double *grad_norms, size_t n, double power, double *sched)
{
    if (!grad_norms || !sched) return NDE_FAIL(NDE_ERR_ARG, "nde_schedule_refine: NULL array");
    if (n < 2) return NDE_FAIL(NDE_ERR_ARG, "nde_schedule_refine: need >= 2 norms, got %zu", n);
    if (!(isfinite(power) && power > 0.0))
        return NDE_FAIL(NDE_ERR_ARG, "nde_schedule_refine: power %g must be finite and > 0", power);
    for (size_t t = 0; t < n; t++)
        if (!(isfinite(grad_norms[t]) && grad_norms[t] > 0.0))
            return NDE_FAIL(NDE_ERR_ARG, "nde_schedule_refine: gradient norm %zu is %g (finite, "
                                         "> 0 required)", t, grad_norms[t]);
    /* sched_t = w_t · Σ_{p>t} w_p, accumulating the tail from the end as np.cumsum of
     * the flipped weights. */
    double tail = 0.0, peak = 0.0;
    for (size_t k = n; k-- > 0;) {
        const double w = pow(grad_norms[k] / grad_norms[0], -power);
        sched[k] = w * tail;
        tail += w;
        if (sched[k] > peak) peak = sched[k];
    }
    for (size_t t = 0; t < n; t++) sched[t] /= peak;
    return NDE_OK;
}
