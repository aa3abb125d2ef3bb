/* The Brownian-tree depth a fixed-step solve needs (sde_internal.h). */
#include <math.h>

#include "sde/sde_internal.h"

size_t nde_sde_fixed_step_depth(const nde_sde_opts *o, const double *ts, size_t nt)
{
    if (!o || !ts || nt < 2) return 0;
    if ((int)o->method < 0 || o->method >= NDE_SDE_METHOD_COUNT) return 0;
    const int adaptive = nde_sde_method_is_adaptive(o->method) && !o->fixed_step &&
                         o->method != NDE_SDE_MILSTEIN;
    if (adaptive) return 0;
    const double span = ts[nt - 1] - ts[0];
    if (!(span > 0) || !isfinite(span)) return 0;
    /* the step rule of nde_sde_solve: h (h0 or span/100, at most dt_max), a step clipped
     * to the next save time when it would reach within 1e-12·span of it */
    double h = o->h0 > 0 ? o->h0 : span / 100;
    if (o->dt_max > 0 && h > o->dt_max) h = o->dt_max;
    if (!(h > 0) || !isfinite(h)) return 0;
    const size_t max_steps = o->max_steps ? o->max_steps : 100000;
    double t = ts[0], gap = span;
    size_t steps = 0;
    for (size_t k = 1; k < nt; k++) {
        if (!(ts[k] > ts[k - 1])) return 0;
        while (t < ts[k]) {
            if (++steps > max_steps) return 0;
            const double t_new = t + h >= ts[k] - 1e-12 * span ? ts[k] : t + h;
            if (!(t_new > t)) return 0; /* h below the spacing of doubles at t */
            if (t_new - t < gap) gap = t_new - t;
            t = t_new;
        }
    }
    /* leaves no wider than the shortest step: two step ends at least a leaf width apart
     * never share a (half-open) leaf. The margin of 1e-9 covers the rounding of the
     * tree's position (t − t0)/span, a few ulps. */
    size_t depth = 1;
    while (depth < NDE_BROWNIAN_DEFAULT_DEPTH && ldexp(span, -(int)depth) > gap * (1 - 1e-9))
        depth++;
    return depth;
}
