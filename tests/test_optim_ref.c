/* Optimizers against reference trajectories: 12 steps of each optimizer on the problem
 * of tests/ref/gen_optim_ref.py must match PyTorch 1.13 (SGD, RMSprop, Adam, AdamW,
 * Adamax, NAdam) or transcriptions of the reference code (NAdamW, Lion, Lion-K, Adan
 * with and without max_grad_norm, AdaBelief with and without fixed_decay, NAdam with
 * torch >= 2.1's decoupled decay) to relative error 1e-12 in every element and step. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "tests/ref/optim_ref.h"

static nde_optim_spec with(nde_optim_kind kind, double lr, double wd)
{
    nde_optim_spec s = nde_optim_defaults(kind);
    s.lr = lr;
    s.weight_decay = wd;
    return s;
}

static const optim_ref_case *find_case(const char *name)
{
    for (size_t i = 0; i < sizeof optim_ref_cases / sizeof optim_ref_cases[0]; i++)
        if (strcmp(optim_ref_cases[i].name, name) == 0) return &optim_ref_cases[i];
    cr_assert_fail("no reference case '%s'", name);
    return NULL;
}

/* w: (2, 2) default group, b: (2) no-decay group; θ = x0, as in the generator. */
static nde_params *make_problem(void)
{
    nde_params *p = NULL;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    const size_t ws[2] = {2, 2}, bs[1] = {2};
    cr_assert_eq(nde_params_add(p, "w", 2, ws, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    cr_assert_eq(nde_params_add(p, "b", 1, bs, NDE_GROUP_NO_DECAY, NULL), NDE_OK);
    double *th = nde_params_theta(p);
    for (int i = 0; i < OPTIM_REF_N; i++) th[i] = 1.0 - 0.25 * i;
    return p;
}

static void gradient(nde_params *p, int t)
{
    const double *x = nde_params_theta(p);
    double *g = nde_params_grad(p);
    for (int i = 0; i < OPTIM_REF_N; i++) g[i] = (1.0 + i) * x[i] + 0.1 * sin(0.37 * t + 0.5 * i);
}

static void check_case(const char *name, const nde_optim_spec *spec)
{
    const optim_ref_case *rc = find_case(name);
    nde_params *p = make_problem();
    nde_optim *opt = NULL;
    cr_assert_eq(nde_optim_create(spec, p, &opt), NDE_OK, "%s: %s", name, nde_last_error());
    double worst = 0.0;
    for (int t = 1; t <= OPTIM_REF_STEPS; t++) {
        gradient(p, t);
        cr_assert_eq(nde_optim_step(opt), NDE_OK, "%s: %s", name, nde_last_error());
        const double *x = nde_params_theta(p);
        for (int i = 0; i < OPTIM_REF_N; i++) {
            const double ref = rc->x[t - 1][i];
            /* Relative error; values are O(1), the floor only guards an exact zero. */
            const double rel = fabs(x[i] - ref) / fmax(fabs(ref), 1e-3);
            worst = fmax(worst, rel);
            cr_assert(rel <= 1e-12, "%s: step %d element %d: %.17g vs reference %.17g (rel %.3g)",
                      name, t, i, x[i], ref, rel);
        }
    }
    cr_assert_eq(nde_optim_step_count(opt), (uint64_t)OPTIM_REF_STEPS);
    cr_log_info("%-58s max rel err %.2e", name, worst);
    nde_optim_destroy(&opt);
    nde_params_destroy(&p);
}

static void check_kind(nde_optim_kind kind)
{
    size_t n_checked = 0;
    for (size_t i = 0; i < sizeof optim_ref_cases / sizeof optim_ref_cases[0]; i++) {
        const char *name = optim_ref_cases[i].name;
        nde_optim_spec s;
        /* Hyper-parameters of each reference case, by name (see the generator). */
        if (strcmp(name, "sgd lr=0.1") == 0) {
            s = with(NDE_OPT_SGD, 0.1, 0.0);
        } else if (strcmp(name, "sgd momentum=0.9 dampening=0.1 wd=0.1 lr=0.05") == 0) {
            s = with(NDE_OPT_SGD, 0.05, 0.1);
            s.momentum = 0.9;
            s.dampening = 0.1;
        } else if (strcmp(name, "sgd nesterov momentum=0.9 wd=0.01 lr=0.05") == 0) {
            s = with(NDE_OPT_SGD, 0.05, 0.01);
            s.momentum = 0.9;
            s.nesterov = 1;
        } else if (strcmp(name, "rmsprop lr=1e-2") == 0) {
            s = with(NDE_OPT_RMSPROP, 1e-2, 0.0);
        } else if (strcmp(name, "rmsprop centered momentum=0.5 wd=0.1 lr=1e-2") == 0) {
            s = with(NDE_OPT_RMSPROP, 1e-2, 0.1);
            s.centered = 1;
            s.momentum = 0.5;
        } else if (strcmp(name, "adam lr=1e-2") == 0) {
            s = with(NDE_OPT_ADAM, 1e-2, 0.0);
        } else if (strcmp(name, "adam amsgrad wd=0.1 lr=1e-2") == 0) {
            s = with(NDE_OPT_ADAM, 1e-2, 0.1);
            s.amsgrad = 1;
        } else if (strcmp(name, "adamw lr=1e-2 wd=0.1") == 0) {
            s = with(NDE_OPT_ADAMW, 1e-2, 0.1);
        } else if (strcmp(name, "adamw amsgrad lr=1e-2 wd=0.1") == 0) {
            s = with(NDE_OPT_ADAMW, 1e-2, 0.1);
            s.amsgrad = 1;
        } else if (strcmp(name, "adamax lr=1e-2 wd=0.1") == 0) {
            s = with(NDE_OPT_ADAMAX, 1e-2, 0.1);
        } else if (strcmp(name, "nadamw lr=1e-2 wd=0.1") == 0) {
            s = with(NDE_OPT_NADAMW, 1e-2, 0.1);
        } else if (strcmp(name, "lion lr=1e-2 wd=1.0") == 0) {
            s = with(NDE_OPT_LION, 1e-2, 1.0);
        } else if (strcmp(name, "lion-k l2 lr=1e-2 wd=0.5") == 0) {
            s = with(NDE_OPT_LION, 1e-2, 0.5);
            s.lion_k = NDE_LION_K_L2;
        } else if (strcmp(name, "lion-k huber lr=1e-2 wd=0.5") == 0) {
            s = with(NDE_OPT_LION, 1e-2, 0.5);
            s.lion_k = NDE_LION_K_HUBER;
        } else if (strcmp(name, "lion-k quadratic lr=1e-2 wd=0.1") == 0) {
            s = with(NDE_OPT_LION, 1e-2, 0.1);
            s.lion_k = NDE_LION_K_QUADRATIC;
        } else if (strcmp(name, "adan lr=1e-2 wd=0.02") == 0) {
            s = with(NDE_OPT_ADAN, 1e-2, 0.02);
        } else if (strcmp(name, "adan no_prox lr=1e-2 wd=0.02") == 0) {
            s = with(NDE_OPT_ADAN, 1e-2, 0.02);
            s.adan_no_prox = 1;
        } else if (strcmp(name, "adan max_grad_norm=2.5 lr=1e-2 wd=0.02") == 0) {
            s = with(NDE_OPT_ADAN, 1e-2, 0.02);
            s.max_grad_norm = 2.5;
        } else if (strcmp(name, "adan no_prox max_grad_norm=1 lr=1e-2 wd=0.02") == 0) {
            s = with(NDE_OPT_ADAN, 1e-2, 0.02);
            s.adan_no_prox = 1;
            s.max_grad_norm = 1.0;
        } else if (strcmp(name, "adabelief lr=1e-2 wd=0.1 rectify=0") == 0) {
            s = with(NDE_OPT_ADABELIEF, 1e-2, 0.1);
            s.rectify = 0;
        } else if (strcmp(name, "adabelief lr=1e-2 wd=0.1 rectify=1") == 0) {
            s = with(NDE_OPT_ADABELIEF, 1e-2, 0.1);
        } else if (strcmp(name, "adabelief lr=1e-2 wd=0.1 rectify=1 degenerated_to_sgd=0") == 0) {
            s = with(NDE_OPT_ADABELIEF, 1e-2, 0.1);
            s.degenerated_to_sgd = 0;
        } else if (strcmp(name, "adabelief amsgrad l2 eps=1e-8 lr=1e-2 wd=0.1 rectify=0") == 0) {
            s = with(NDE_OPT_ADABELIEF, 1e-2, 0.1);
            s.eps = 1e-8;
            s.decoupled_wd = 0;
            s.rectify = 0;
            s.amsgrad = 1;
        } else if (strcmp(name, "adabelief fixed_decay lr=1e-2 wd=0.01 rectify=0") == 0) {
            s = with(NDE_OPT_ADABELIEF, 1e-2, 0.01);
            s.rectify = 0;
            s.fixed_decay = 1;
        } else if (strcmp(name, "adabelief fixed_decay amsgrad lr=1e-2 wd=0.02 rectify=1") == 0) {
            s = with(NDE_OPT_ADABELIEF, 1e-2, 0.02);
            s.amsgrad = 1;
            s.fixed_decay = 1;
        } else if (strcmp(name, "nadam lr=1e-2") == 0) {
            s = with(NDE_OPT_NADAM, 1e-2, 0.0);
        } else if (strcmp(name, "nadam wd=0.1 lr=1e-2") == 0) {
            s = with(NDE_OPT_NADAM, 1e-2, 0.1);
        } else if (strcmp(name, "nadam betas=(0.8,0.99) psi=0.1 eps=1e-6 lr=1e-2") == 0) {
            s = with(NDE_OPT_NADAM, 1e-2, 0.0);
            s.beta1 = 0.8;
            s.beta2 = 0.99;
            s.momentum_decay = 0.1;
            s.eps = 1e-6;
        } else if (strcmp(name, "nadam decoupled_weight_decay wd=0.1 lr=1e-2") == 0) {
            s = with(NDE_OPT_NADAM, 1e-2, 0.1);
            s.decoupled_wd = 1;
        } else {
            cr_assert_fail("reference case '%s' has no spec in this test", name);
            return;
        }
        if (s.kind != kind) continue;
        check_case(name, &s);
        n_checked++;
    }
    cr_assert(n_checked > 0, "no reference case for %s", nde_optim_kind_name(kind));
}

Test(optim_ref, sgd) { check_kind(NDE_OPT_SGD); }
Test(optim_ref, rmsprop) { check_kind(NDE_OPT_RMSPROP); }
Test(optim_ref, adam) { check_kind(NDE_OPT_ADAM); }
Test(optim_ref, adamw) { check_kind(NDE_OPT_ADAMW); }
Test(optim_ref, adamax) { check_kind(NDE_OPT_ADAMAX); }
Test(optim_ref, nadamw) { check_kind(NDE_OPT_NADAMW); }
Test(optim_ref, lion_and_lion_k) { check_kind(NDE_OPT_LION); }
Test(optim_ref, adan) { check_kind(NDE_OPT_ADAN); }
Test(optim_ref, adabelief) { check_kind(NDE_OPT_ADABELIEF); }
Test(optim_ref, nadam) { check_kind(NDE_OPT_NADAM); }

Test(optim_ref, clip_grad_norm_matches_torch)
{
    for (size_t c = 0; c < sizeof optim_ref_clips / sizeof optim_ref_clips[0]; c++) {
        const optim_ref_clip *rc = &optim_ref_clips[c];
        double g[OPTIM_REF_N], norm = 0.0;
        for (int i = 0; i < OPTIM_REF_N; i++) {
            const double x0 = 1.0 - 0.25 * i;
            g[i] = rc->scale * ((1.0 + i) * x0 + 0.1 * sin(0.37 + 0.5 * i));
        }
        cr_assert_eq(nde_clip_grad_norm(g, OPTIM_REF_N, rc->max_norm, &norm), NDE_OK);
        cr_assert(fabs(norm - rc->norm) <= 1e-13 * rc->norm, "norm %.17g vs %.17g", norm, rc->norm);
        for (int i = 0; i < OPTIM_REF_N; i++)
            cr_assert(fabs(g[i] - rc->g[i]) <= 1e-13 * fabs(rc->g[i]), "case %zu element %d: %.17g vs %.17g",
                      c, i, g[i], rc->g[i]);
    }
}
