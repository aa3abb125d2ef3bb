/* Schedules as plain functions of the step (formulas and sources in nde/schedule.h). */
#include "nde/schedule.h"

#include <math.h>
#include <string.h>

static nde_schedule blank(nde_schedule_kind kind, double v0)
{
    nde_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.v0 = v0;
    return s;
}

nde_schedule nde_schedule_constant(double v0) { return blank(NDE_SCHED_CONSTANT, v0); }

nde_schedule nde_schedule_cosine(double v0, double v1, uint64_t steps, uint64_t warmup)
{
    nde_schedule s = blank(NDE_SCHED_COSINE, v0);
    s.v1 = v1;
    s.steps = steps;
    s.warmup = warmup;
    return s;
}

nde_schedule nde_schedule_linear(double v0, double v1, uint64_t steps, uint64_t warmup)
{
    nde_schedule s = nde_schedule_cosine(v0, v1, steps, warmup);
    s.kind = NDE_SCHED_LINEAR;
    return s;
}

nde_schedule nde_schedule_one_cycle(double max_value, uint64_t steps)
{
    nde_schedule s = blank(NDE_SCHED_ONE_CYCLE, max_value);
    s.steps = steps;
    s.pct_start = 0.3;
    s.div_factor = 25.0;
    s.final_div_factor = 1e4;
    return s;
}

nde_status nde_schedule_check(const nde_schedule *s)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "nde_schedule_check: s is NULL");
    if ((int)s->kind < 0 || s->kind >= NDE_SCHED_KIND_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "schedule: unknown kind %d", (int)s->kind);
    if (!isfinite(s->v0) || !isfinite(s->v1) || !isfinite(s->warmup_v0) || !isfinite(s->gamma))
        return NDE_FAIL(NDE_ERR_ARG, "schedule: non-finite value (v0 %g, v1 %g, warmup_v0 %g, "
                                     "gamma %g)", s->v0, s->v1, s->warmup_v0, s->gamma);
    switch (s->kind) {
    case NDE_SCHED_STEP:
        if (s->period == 0) return NDE_FAIL(NDE_ERR_ARG, "schedule(step): period is 0");
        break;
    case NDE_SCHED_EXPONENTIAL:
        if (s->v0 == 0.0 || s->v1 == 0.0 || (s->v0 > 0.0) != (s->v1 > 0.0))
            return NDE_FAIL(NDE_ERR_ARG, "schedule(exponential): v0 %g and v1 %g must be nonzero "
                                         "with the same sign", s->v0, s->v1);
        break;
    default: break;
    }
    switch (s->kind) {
    case NDE_SCHED_EXPONENTIAL:
    case NDE_SCHED_COSINE:
    case NDE_SCHED_LINEAR:
        if (s->steps <= s->warmup)
            return NDE_FAIL(NDE_ERR_ARG, "schedule: steps %llu must exceed warmup %llu",
                            (unsigned long long)s->steps, (unsigned long long)s->warmup);
        break;
    case NDE_SCHED_ONE_CYCLE:
        if (s->steps < 2 || s->warmup != 0 || !(s->pct_start > 0.0 && s->pct_start < 1.0) ||
            !(s->div_factor > 0.0) || !(s->final_div_factor > 0.0) ||
            s->pct_start * (double)s->steps - 1.0 <= 0.0 ||
            s->pct_start * (double)s->steps - 1.0 >= (double)s->steps - 1.0)
            return NDE_FAIL(NDE_ERR_ARG, "schedule(one-cycle): steps %llu, warmup %llu, pct_start "
                                         "%g, div_factor %g, final_div_factor %g",
                            (unsigned long long)s->steps, (unsigned long long)s->warmup,
                            s->pct_start, s->div_factor, s->final_div_factor);
        break;
    case NDE_SCHED_TABLE:
        if (!s->table || s->table_len == 0)
            return NDE_FAIL(NDE_ERR_ARG, "schedule(table): table is NULL or empty");
        break;
    default: break;
    }
    return NDE_OK;
}

/* torch.optim.lr_scheduler.OneCycleLR._annealing_cos. */
static double anneal_cos(double start, double end, double pct)
{
    const double cos_out = cos(NDE_PI * pct) + 1.0;
    return end + (start - end) / 2.0 * cos_out;
}

/* OneCycleLR.get_lr with step_num = t (clamped at the last step). */
static double one_cycle(const nde_schedule *s, uint64_t t)
{
    const double initial = s->v0 / s->div_factor, min_v = initial / s->final_div_factor;
    const double end1 = s->pct_start * (double)s->steps - 1.0, end2 = (double)s->steps - 1.0;
    double step = (double)t;
    if (step > end2) step = end2;
    if (step <= end1) return anneal_cos(initial, s->v0, step / end1);
    return anneal_cos(s->v0, min_v, (step - end1) / (end2 - end1));
}

double nde_schedule_value(const nde_schedule *s, uint64_t t)
{
    if (!s) return NAN;
    if (s->kind == NDE_SCHED_ONE_CYCLE) return one_cycle(s, t);
    if (t < s->warmup)
        return s->warmup_v0 + (s->v0 - s->warmup_v0) * ((double)t / (double)s->warmup);
    const uint64_t tau = t - s->warmup;
    const uint64_t m = s->steps > s->warmup ? s->steps - s->warmup : 0;
    const double frac = m ? (double)(tau < m ? tau : m) / (double)m : 1.0;
    switch (s->kind) {
    case NDE_SCHED_CONSTANT: return s->v0;
    case NDE_SCHED_STEP: return s->v0 * pow(s->gamma, (double)(tau / s->period));
    case NDE_SCHED_EXPONENTIAL: return tau >= m ? s->v1 : s->v0 * pow(s->v1 / s->v0, frac);
    case NDE_SCHED_INVERSE: return s->v0 / (1.0 + s->gamma * (double)tau);
    case NDE_SCHED_COSINE: return s->v1 + (s->v0 - s->v1) * 0.5 * (1.0 + cos(NDE_PI * frac));
    case NDE_SCHED_LINEAR: return s->v0 + (s->v1 - s->v0) * frac;
    case NDE_SCHED_TABLE:
        return s->v0 * s->table[tau < s->table_len ? tau : s->table_len - 1];
    default: return NAN;
    }
}
