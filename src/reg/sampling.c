/* Sampled-time helpers: STEER's random end time and inserting a sampled time into the
 * save times of a solve. */
#include <math.h>
#include <string.h>

#include "nde/reg.h"

nde_status nde_steer_end_time(nde_rng *rng, double t0, double t1, double b, double *t_end)
{
    if (!rng || !t_end) return NDE_FAIL(NDE_ERR_ARG, "nde_steer_end_time: NULL argument");
    if (!isfinite(t0) || !isfinite(t1) || !isfinite(b) || !(b >= 0.0) || !(b < fabs(t1 - t0)))
        return NDE_FAIL(NDE_ERR_ARG,
                        "STEER: need 0 <= b < |t1 - t0|, got b = %g on [%g, %g]", b, t0, t1);
    /* Ghosh et al. 2020: T ~ U(t1 − b, t1 + b); RegNeuralDE.jl: 1 − (2 rand − 1)·b */
    *t_end = t1 + (2.0 * nde_rng_uniform(rng) - 1.0) * b;
    return NDE_OK;
}

nde_status nde_reg_insert_time(const double *ts, size_t nt, double t, double *ts_out,
                               size_t *nt_out, size_t *index)
{
    if (!ts || !ts_out || !nt_out || !index || nt < 2)
        return NDE_FAIL(NDE_ERR_ARG, "nde_reg_insert_time: NULL argument or nt < 2");
    double dir = ts[nt - 1] > ts[0] ? 1.0 : -1.0;
    if (!isfinite(t) || dir * (t - ts[0]) < 0.0 || dir * (t - ts[nt - 1]) > 0.0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_reg_insert_time: t = %g outside [%g, %g]", t, ts[0],
                        ts[nt - 1]);
    size_t pos = 0;
    while (pos < nt && dir * (ts[pos] - t) < 0.0) pos++;
    *index = pos;
    if (ts[pos] == t) {
        memmove(ts_out, ts, nt * sizeof *ts);
        *nt_out = nt;
        return NDE_OK;
    }
    memmove(ts_out + pos + 1, ts + pos, (nt - pos) * sizeof *ts);
    memmove(ts_out, ts, pos * sizeof *ts);
    ts_out[pos] = t;
    *nt_out = nt + 1;
    return NDE_OK;
}
