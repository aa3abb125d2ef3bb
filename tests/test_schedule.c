/* Schedules: values against torch.optim.lr_scheduler and the AlgoPerf warm-up + cosine
 * (tests/ref/gen_schedule_ref.py), hand-computed values at chosen steps, the refinement
 * procedure against a transcription of the reference code, and bad specs. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "nde/schedule.h"
#include "tests/ref/schedule_ref.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void expect_close(const nde_schedule *s, const double *ref, size_t n, double rtol,
                         double atol, const char *what)
{
    cr_assert_eq(nde_schedule_check(s), NDE_OK, "%s: %s", what, nde_last_error());
    for (size_t t = 0; t < n; t++) {
        const double v = nde_schedule_value(s, t);
        cr_assert(fabs(v - ref[t]) <= rtol * fabs(ref[t]) + atol,
                  "%s: step %zu: %.17g vs reference %.17g", what, t, v, ref[t]);
    }
}

Test(schedule, step_decay_matches_torch_steplr)
{
    nde_schedule s = nde_schedule_constant(0.1);
    s.kind = NDE_SCHED_STEP;
    s.gamma = 0.5;
    s.period = 3;
    expect_close(&s, ref_step_lr, LEN(ref_step_lr), 1e-15, 0.0, "step");
    cr_assert_eq(nde_schedule_value(&s, 6), 0.025); /* 0.1 · 0.5² exactly */
}

Test(schedule, exponential_matches_torch_exponentiallr_and_ends_at_v1)
{
    /* λ0 = 0.1 → λ1 = 0.1·0.9^20 over 20 steps is ExponentialLR(γ = 0.9). */
    nde_schedule s = nde_schedule_constant(0.1);
    s.kind = NDE_SCHED_EXPONENTIAL;
    s.v1 = 0.1 * pow(0.9, 20);
    s.steps = 20;
    expect_close(&s, ref_exponential_lr, LEN(ref_exponential_lr), 1e-13, 0.0, "exponential");
    cr_assert_eq(nde_schedule_value(&s, 20), s.v1);
    cr_assert_eq(nde_schedule_value(&s, 1000), s.v1);
    /* A regularization weight ramped up 1e-4 → 1 over 4 steps: 10× per step. */
    nde_schedule r = nde_schedule_constant(1e-4);
    r.kind = NDE_SCHED_EXPONENTIAL;
    r.v1 = 1.0;
    r.steps = 4;
    cr_assert(fabs(nde_schedule_value(&r, 2) - 1e-2) <= 1e-16);
    cr_assert(fabs(nde_schedule_value(&r, 3) - 1e-1) <= 1e-15);
}

Test(schedule, inverse_decay_values)
{
    nde_schedule s = nde_schedule_constant(2.0);
    s.kind = NDE_SCHED_INVERSE;
    s.gamma = 0.5;
    cr_assert_eq(nde_schedule_check(&s), NDE_OK);
    cr_assert_eq(nde_schedule_value(&s, 0), 2.0);
    cr_assert_eq(nde_schedule_value(&s, 2), 1.0);
    cr_assert_eq(nde_schedule_value(&s, 6), 0.5);
}

Test(schedule, cosine_matches_torch_and_is_clamped)
{
    nde_schedule s = nde_schedule_cosine(0.1, 1e-3, 20, 0);
    expect_close(&s, ref_cosine_lr, LEN(ref_cosine_lr), 1e-13, 0.0, "cosine");
    cr_assert_eq(nde_schedule_value(&s, 20), 1e-3);
    cr_assert_eq(nde_schedule_value(&s, 35), 1e-3); /* torch would rise again */
}

Test(schedule, linear_decay_to_zero_matches_torch_linearlr)
{
    nde_schedule s = nde_schedule_linear(0.1, 0.0, 20, 0);
    expect_close(&s, ref_linear_lr, LEN(ref_linear_lr), 1e-13, 1e-17, "linear");
    cr_assert_eq(nde_schedule_value(&s, 10), 0.05);
    cr_assert_eq(nde_schedule_value(&s, 20), 0.0);
    cr_assert_eq(nde_schedule_value(&s, 99), 0.0);
}

Test(schedule, warmup_cosine_matches_algoperf_baseline)
{
    nde_schedule s = nde_schedule_cosine(1.0, 0.0, 100, 10);
    s.warmup_v0 = 1e-10;
    expect_close(&s, ref_algoperf_lr, LEN(ref_algoperf_lr), 1e-12, 1e-16, "algoperf");
}

Test(schedule, linear_warmup_then_constant)
{
    nde_schedule s = nde_schedule_constant(0.4);
    s.warmup = 4;
    cr_assert_eq(nde_schedule_check(&s), NDE_OK);
    const double expect[] = {0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4};
    for (size_t t = 0; t < LEN(expect); t++) cr_assert_eq(nde_schedule_value(&s, t), expect[t]);
}

Test(schedule, one_cycle_matches_torch_onecyclelr)
{
    nde_schedule s = nde_schedule_one_cycle(0.1, 50);
    expect_close(&s, ref_one_cycle_lr, LEN(ref_one_cycle_lr), 1e-13, 1e-18, "one-cycle");
    cr_assert_eq(nde_schedule_value(&s, 49), nde_schedule_value(&s, 60));
}

Test(schedule, table_schedule_holds_last_value)
{
    const double tab[3] = {1.0, 0.5, 0.25};
    nde_schedule s = nde_schedule_constant(2.0);
    s.kind = NDE_SCHED_TABLE;
    s.table = tab;
    s.table_len = 3;
    cr_assert_eq(nde_schedule_check(&s), NDE_OK);
    cr_assert_eq(nde_schedule_value(&s, 1), 1.0);
    cr_assert_eq(nde_schedule_value(&s, 7), 0.5);
}

Test(schedule, refinement_of_constant_norms_is_exactly_linear)
{
    enum { T = 257 };
    double g[T], sched[T];
    for (const double *G = (const double[]){3.7, 1.0, 1e-3}, *end = G + 3; G < end; G++)
        for (double power = 1.0; power <= 2.0; power += 1.0) {
            for (int t = 0; t < T; t++) g[t] = *G;
            cr_assert_eq(nde_schedule_refine(g, T, power, sched), NDE_OK);
            for (int t = 0; t < T; t++)
                cr_assert_eq(sched[t], (double)(T - 1 - t) / (double)(T - 1),
                             "G %g power %g step %d: %.17g", *G, power, t, sched[t]);
        }
}

Test(schedule, refinement_matches_reference_transcription)
{
    const size_t T = LEN(ref_refine_gnorm);
    static double sched[LEN(ref_refine_gnorm)];
    const double *refs[2] = {ref_refine_l2, ref_refine_l1};
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(nde_schedule_refine(ref_refine_gnorm, T, k == 0 ? 2.0 : 1.0, sched), NDE_OK);
        size_t argmax = 0;
        for (size_t t = 0; t < T; t++) {
            cr_assert(fabs(sched[t] - refs[k][t]) <= 1e-12,
                      "power %d step %zu: %.17g vs %.17g", 2 - k, t, sched[t], refs[k][t]);
            if (sched[t] > sched[argmax]) argmax = t;
        }
        if (k == 0) cr_assert_eq(argmax, (size_t)REF_REFINE_L2_ARGMAX); /* emergent warm-up */
        cr_assert_eq(sched[T - 1], 0.0);
    }
}

Test(schedule, bad_specs_are_rejected)
{
    nde_schedule s = nde_schedule_cosine(0.1, 0.0, 10, 10);
    cr_assert_eq(nde_schedule_check(&s), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "warmup") != NULL);
    s = nde_schedule_constant(NAN);
    cr_assert_eq(nde_schedule_check(&s), NDE_ERR_ARG);
    s = nde_schedule_constant(1.0);
    s.kind = NDE_SCHED_STEP;
    cr_assert_eq(nde_schedule_check(&s), NDE_ERR_ARG); /* period 0 */
    s = nde_schedule_constant(1.0);
    s.kind = NDE_SCHED_EXPONENTIAL;
    s.v1 = -1.0;
    s.steps = 5;
    cr_assert_eq(nde_schedule_check(&s), NDE_ERR_ARG);
    s = nde_schedule_one_cycle(0.1, 1);
    cr_assert_eq(nde_schedule_check(&s), NDE_ERR_ARG);
    s = nde_schedule_constant(1.0);
    s.kind = NDE_SCHED_TABLE;
    cr_assert_eq(nde_schedule_check(&s), NDE_ERR_ARG);
    s.kind = (nde_schedule_kind)99;
    cr_assert_eq(nde_schedule_check(&s), NDE_ERR_ARG);
    cr_assert(isnan(nde_schedule_value(&s, 0)));
    cr_assert_eq(nde_schedule_check(NULL), NDE_ERR_ARG);

    double g[3] = {1.0, 0.0, 1.0}, out[3];
    cr_assert_eq(nde_schedule_refine(g, 3, 2.0, out), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "norm 1") != NULL);
    g[1] = 1.0;
    cr_assert_eq(nde_schedule_refine(g, 1, 2.0, out), NDE_ERR_ARG);
    cr_assert_eq(nde_schedule_refine(g, 3, 0.0, out), NDE_ERR_ARG);
    cr_assert_eq(nde_schedule_refine(NULL, 3, 2.0, out), NDE_ERR_ARG);
}
