/** @file
 * nde/schedule.h — schedules for learning rates and any other coefficient
 * (regularization weights, noise levels): plain functions of the step.
 *
 * nde_schedule_value(s, t) is the value for update t+1, where t counts completed
 * updates (the convention of PyTorch's lr schedulers and optax: the first update uses
 * t = 0). A schedule is a value struct; it owns nothing except for NDE_SCHED_TABLE,
 * which borrows `table`.
 *
 * Every kind may start with a linear warm-up: for t < warmup the value goes linearly
 * from warmup_v0 to v0; after it the kind below runs on τ = t − warmup over
 * M = steps − warmup steps, so `steps` counts the warm-up (as optax's
 * warmup_cosine_decay_schedule). With τ' = min(τ, M):
 *
 *   NDE_SCHED_CONSTANT     v0                       (with warmup: linear warm-up)
 *   NDE_SCHED_STEP         v0 · gamma^⌊τ/period⌋    (torch StepLR)
 *   NDE_SCHED_EXPONENTIAL  v0 · (v1/v0)^(τ'/M)      geometric λ0 → λ1 over M steps, then v1
 *   NDE_SCHED_INVERSE      v0 / (1 + gamma·τ)       (inverse-time decay)
 *   NDE_SCHED_COSINE       v1 + (v0 − v1)·½(1 + cos(π τ'/M))   (Loshchilov & Hutter 2017,
 *                          without restarts; clamped at v1 after M like optax)
 *   NDE_SCHED_LINEAR       v0 + (v1 − v0)·τ'/M      (linear decay; v1 = 0 decays to zero,
 *                          the worst-case-optimal schedule of Defazio et al. 2023)
 *   NDE_SCHED_ONE_CYCLE    torch OneCycleLR, two phases, cosine annealing (Smith & Topin
 *                          2018): from v0/div_factor up to v0 until pct_start·steps − 1,
 *                          then down to v0/(div_factor·final_div_factor) at steps − 1;
 *                          held there after. No warm-up field (it has its own).
 *   NDE_SCHED_TABLE        v0 · table[min(τ, table_len − 1)]   (e.g. a refined schedule
 *                          from nde_schedule_refine) */
#ifndef NDE_SCHEDULE_H
#define NDE_SCHEDULE_H

#include "nde/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The shape of a schedule (the formulas are in the file description above). */
typedef enum nde_schedule_kind {
    NDE_SCHED_CONSTANT = 0, /**< v0 (after the warm-up, if any) */
    NDE_SCHED_STEP, /**< v0 · gamma^⌊τ/period⌋ (torch StepLR) */
    NDE_SCHED_EXPONENTIAL, /**< v0 · (v1/v0)^(τ'/M), then v1 */
    NDE_SCHED_INVERSE, /**< v0 / (1 + gamma·τ) */
    NDE_SCHED_COSINE, /**< v1 + (v0 − v1)·½(1 + cos(π τ'/M)) */
    NDE_SCHED_LINEAR, /**< v0 + (v1 − v0)·τ'/M */
    NDE_SCHED_ONE_CYCLE, /**< torch OneCycleLR, two cosine phases */
    NDE_SCHED_TABLE, /**< v0 · table[min(τ, table_len − 1)] */
    NDE_SCHED_KIND_COUNT /**< number of kinds */
} nde_schedule_kind;

/** A value (learning rate, regularization weight) as a function of the step t; a plain struct, evaluated by nde_schedule_value(). */
typedef struct nde_schedule {
    nde_schedule_kind kind; /**< the shape */
    double v0;        /**< initial value; peak after warm-up; one-cycle maximum */
    double v1;        /**< final value (exponential, cosine, linear) */
    uint64_t steps;   /**< decay length M + warmup (exponential, cosine, linear, one-cycle) */
    uint64_t warmup;  /**< warm-up steps (0: none) */
    double warmup_v0; /**< value at t = 0 when warmup > 0 */
    double gamma;     /**< step: factor per period; inverse: rate per step */
    uint64_t period;  /**< step decay period */
    /** one-cycle: fraction of the steps spent rising (torch: 0.3) */
    double pct_start, div_factor, final_div_factor; /**< one-cycle (torch: 0.3, 25, 1e4) */
    const double *table; /**< (table_len), borrowed */
    size_t table_len; /**< number of entries of table */
/** @var nde_schedule::div_factor
 * one-cycle: the initial value is v0 / div_factor (torch: 25) */
} nde_schedule;

/** Shorthands filling the struct (other fields zero). */
NDE_API nde_schedule nde_schedule_constant(double v0);
/** Cosine decay from v0 to v1 over `steps` steps after `warmup` linear warm-up steps. */
NDE_API nde_schedule nde_schedule_cosine(double v0, double v1, uint64_t steps, uint64_t warmup);
/** Linear decay from v0 to v1 over `steps` steps after `warmup` linear warm-up steps. */
NDE_API nde_schedule nde_schedule_linear(double v0, double v1, uint64_t steps, uint64_t warmup);
/** torch OneCycleLR defaults: pct_start 0.3, div_factor 25, final_div_factor 1e4. */
NDE_API nde_schedule nde_schedule_one_cycle(double max_value, uint64_t steps);

/** NDE_OK if nde_schedule_value is defined for s; else NDE_ERR_ARG naming the field:
 * non-finite values, steps <= warmup for the decaying kinds, period 0, v0 and v1 of
 * different signs or zero for exponential, pct_start outside (0, 1), div factors <= 0,
 * steps < 2 or warmup > 0 for one-cycle, a NULL or empty table. */
NDE_API nde_status nde_schedule_check(const nde_schedule *s);

/** The value after `step` completed updates. Undefined for a spec nde_schedule_check
 * rejects (returns NaN for an unknown kind or NULL s). */
NDE_API double nde_schedule_value(const nde_schedule *s, uint64_t step);

/** Refined schedule from a recorded run (Defazio, Cutkosky, Mehta, Mishchenko, "When,
 * Why and How Much? Adaptive Learning Rate Scheduling by Refinement", arXiv 2310.07831;
 * closed form of facebookresearch/adaptive_scheduling find_schedule.py): with weights
 * w_t = (G_t/G_0)^(−power), sched_t ∝ w_t · Σ_{p>t} w_p, normalised to a maximum of 1
 * (as its visual.py); sched_{n−1} = 0. power 2 with ℓ2 gradient norms for SGD-type
 * runs, power 1 with ℓ1 norms for Adam-type runs. Constant norms give exactly linear
 * decay (n−1−t)/(n−1). Use it as an NDE_SCHED_TABLE with v0 = the peak value.
 * grad_norms: (n), sched: (n). NDE_ERR_ARG for n < 2, power <= 0 or a norm that is not
 * finite and > 0. */
NDE_API nde_status nde_schedule_refine(const double *grad_norms, size_t n, double power,
                                       double *sched);

#ifdef __cplusplus
}
#endif
#endif
