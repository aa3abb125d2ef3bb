/* Optimizer interface: names and defaults, bad input, non-finite gradients leave
 * everything unchanged, parameter groups, custom Lion-K, gradient clipping (and Adan's
 * built-in clipping), NAdam's mu_product state, descent on a quadratic for every kind.
 * Trajectories against references: test_optim_ref.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"

static nde_params *make_model(void)
{
    nde_params *p = NULL;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    const size_t ws[2] = {3, 4}, bs[1] = {4}, es[1] = {5};
    cr_assert_eq(nde_params_add(p, "w", 2, ws, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    cr_assert_eq(nde_params_add(p, "b", 1, bs, NDE_GROUP_NO_DECAY, NULL), NDE_OK);
    cr_assert_eq(nde_params_add(p, "e", 1, es, 5, NULL), NDE_OK);
    double *th = nde_params_theta(p);
    for (size_t i = 0; i < nde_params_count(p); i++) th[i] = 1.0 + 0.1 * (double)i;
    return p;
}

Test(optim, kind_names_round_trip_and_defaults)
{
    for (int k = 0; k < NDE_OPT_KIND_COUNT; k++) {
        nde_optim_kind back;
        cr_assert_eq(nde_optim_kind_parse(nde_optim_kind_name((nde_optim_kind)k), &back), NDE_OK);
        cr_assert_eq(back, (nde_optim_kind)k);
        nde_optim_spec s = nde_optim_defaults((nde_optim_kind)k);
        cr_assert_eq(s.kind, (nde_optim_kind)k);
        cr_assert_eq(s.state_bits, 32);
        cr_assert_eq(s.block_size, 256);
    }
    nde_optim_kind k;
    cr_assert_eq(nde_optim_kind_parse("adamm", &k), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "adamm") != NULL);
    for (int kk = 0; kk < NDE_OPT_KIND_COUNT; kk++) /* the message lists every kind */
        cr_assert(strstr(nde_last_error(), nde_optim_kind_name((nde_optim_kind)kk)) != NULL,
                  "'%s' lacks %s", nde_last_error(), nde_optim_kind_name((nde_optim_kind)kk));
    cr_assert_eq(nde_optim_kind_parse("AdamW", &k), NDE_OK); /* case-insensitive */
    cr_assert_eq(k, NDE_OPT_ADAMW);
    cr_assert_eq(nde_optim_kind_parse("ada", &k), NDE_ERR_ARG); /* no prefixes */
    /* Appended after the older kinds, which keep their numbers. */
    cr_assert_eq((int)NDE_OPT_ADABELIEF, 8);
    cr_assert_eq((int)NDE_OPT_NADAM, 9);
    cr_assert_eq(nde_optim_kind_parse("nadam", &k), NDE_OK);
    cr_assert_eq(k, NDE_OPT_NADAM);
    const nde_optim_spec nadam = nde_optim_defaults(NDE_OPT_NADAM); /* torch.optim.NAdam */
    cr_assert_eq(nadam.lr, 2e-3);
    cr_assert_eq(nadam.beta1, 0.9);
    cr_assert_eq(nadam.beta2, 0.999);
    cr_assert_eq(nadam.eps, 1e-8);
    cr_assert_eq(nadam.weight_decay, 0.0);
    cr_assert_eq(nadam.momentum_decay, 4e-3);
    cr_assert_eq(nadam.decoupled_wd, 0);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_ADABELIEF).fixed_decay, 0);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_ADAN).max_grad_norm, 0.0);
    cr_assert_str_eq(nde_optim_kind_name((nde_optim_kind)42), "unknown");
    cr_assert_eq(nde_optim_defaults(NDE_OPT_ADAMW).weight_decay, 1e-2);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_LION).lr, 1e-4);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_LION).beta2, 0.99);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_ADAN).beta1, 0.98);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_ADAN).beta2, 0.92);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_ADAN).beta3, 0.99);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_ADABELIEF).eps, 1e-16);
    cr_assert(nde_optim_defaults(NDE_OPT_ADABELIEF).rectify);
    cr_assert_eq(nde_optim_defaults(NDE_OPT_RMSPROP).alpha, 0.99);
}

static void expect_create_fails(const nde_optim_spec *s, nde_params *p, nde_status want,
                                const char *msg)
{
    nde_optim *o = (nde_optim *)p; /* must be reset to NULL on failure */
    cr_assert_eq(nde_optim_create(s, p, &o), want, "%s: got %s", msg, nde_last_error());
    cr_assert_null(o);
    cr_assert(strstr(nde_last_error(), msg) != NULL, "'%s' lacks '%s'", nde_last_error(), msg);
}

Test(optim, bad_specs_are_rejected_with_a_message)
{
    nde_params *p = make_model();
    nde_optim_spec s = nde_optim_defaults(NDE_OPT_ADAM);
    s.lr = NAN;
    expect_create_fails(&s, p, NDE_ERR_ARG, "lr nan");
    s = nde_optim_defaults(NDE_OPT_ADAM);
    s.weight_decay = -1.0;
    expect_create_fails(&s, p, NDE_ERR_ARG, "weight_decay -1");
    s = nde_optim_defaults(NDE_OPT_ADAM);
    s.beta2 = 1.0;
    expect_create_fails(&s, p, NDE_ERR_ARG, "betas");
    s = nde_optim_defaults(NDE_OPT_SGD);
    s.nesterov = 1;
    expect_create_fails(&s, p, NDE_ERR_ARG, "nesterov");
    s.momentum = 0.9;
    s.dampening = 0.1;
    expect_create_fails(&s, p, NDE_ERR_ARG, "dampening 0.1");
    s = nde_optim_defaults(NDE_OPT_RMSPROP);
    s.alpha = 1.5;
    expect_create_fails(&s, p, NDE_ERR_ARG, "alpha 1.5");
    s = nde_optim_defaults(NDE_OPT_LION);
    s.lion_k = NDE_LION_K_CUSTOM;
    expect_create_fails(&s, p, NDE_ERR_ARG, "lion_k_grad");
    s = nde_optim_defaults(NDE_OPT_ADAM);
    s.n_groups = NDE_OPTIM_MAX_GROUPS + 1;
    expect_create_fails(&s, p, NDE_ERR_ARG, "n_groups");
    s = nde_optim_defaults(NDE_OPT_ADAM);
    s.n_groups = 1;
    s.groups[0] = (nde_optim_group){.group = 5, .weight_decay = 0.0, .lr_scale = -1.0};
    expect_create_fails(&s, p, NDE_ERR_ARG, "lr_scale -1");
    s = nde_optim_defaults((nde_optim_kind)99);
    expect_create_fails(&s, p, NDE_ERR_ARG, "unknown optimizer kind 99");
    s = nde_optim_defaults(NDE_OPT_NADAM);
    s.momentum_decay = NAN;
    expect_create_fails(&s, p, NDE_ERR_ARG, "momentum_decay nan");
    s = nde_optim_defaults(NDE_OPT_ADAN);
    s.max_grad_norm = -1.0;
    expect_create_fails(&s, p, NDE_ERR_ARG, "max_grad_norm -1");
    s.max_grad_norm = INFINITY;
    expect_create_fails(&s, p, NDE_ERR_ARG, "max_grad_norm inf");
    /* Options without a meaning for the kind. */
    s = nde_optim_defaults(NDE_OPT_ADABELIEF);
    s.fixed_decay = 1;
    s.decoupled_wd = 0;
    expect_create_fails(&s, p, NDE_ERR_UNSUPPORTED, "fixed_decay");
    cr_assert(strstr(nde_last_error(), "decoupled_wd is 0") != NULL, "%s", nde_last_error());
    s = nde_optim_defaults(NDE_OPT_ADAMW);
    s.fixed_decay = 1;
    expect_create_fails(&s, p, NDE_ERR_UNSUPPORTED, "nde_optim_create(adamw): fixed_decay");
    s = nde_optim_defaults(NDE_OPT_NADAM);
    s.decoupled_wd = 1;
    s.fixed_decay = 1;
    expect_create_fails(&s, p, NDE_ERR_UNSUPPORTED, "nde_optim_create(nadam): fixed_decay");
    s = nde_optim_defaults(NDE_OPT_ADAM);
    s.max_grad_norm = 1.0;
    expect_create_fails(&s, p, NDE_ERR_UNSUPPORTED, "max_grad_norm 1 is Adan's");
    s = nde_optim_defaults(NDE_OPT_NADAM);
    s.max_grad_norm = 0.5;
    expect_create_fails(&s, p, NDE_ERR_UNSUPPORTED, "nde_optim_create(nadam): max_grad_norm 0.5");

    nde_optim *o = NULL;
    s = nde_optim_defaults(NDE_OPT_ADAM);
    cr_assert_eq(nde_optim_create(NULL, p, &o), NDE_ERR_ARG);
    cr_assert_eq(nde_optim_create(&s, NULL, &o), NDE_ERR_ARG);
    cr_assert_eq(nde_optim_create(&s, p, NULL), NDE_ERR_ARG);
    nde_params *empty = NULL;
    cr_assert_eq(nde_params_create(&empty), NDE_OK);
    cr_assert_eq(nde_optim_create(&s, empty, &o), NDE_ERR_ARG);
    cr_assert_eq(nde_optim_step(NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_optim_set_lr(NULL, 1.0), NDE_ERR_ARG);
    nde_optim_destroy(NULL);
    nde_optim_destroy(&o);

    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK);
    cr_assert_eq(nde_optim_set_lr(o, -1.0), NDE_ERR_ARG);
    cr_assert_eq(nde_optim_set_lr(o, INFINITY), NDE_ERR_ARG);
    cr_assert_eq(nde_optim_lr(o), s.lr);
    nde_optim_state_view v;
    cr_assert_eq(nde_optim_state(o, nde_optim_n_state(o), &v), NDE_ERR_ARG);
    /* Adding a tensor after creation is caught at the next step. */
    const size_t one[1] = {1};
    cr_assert_eq(nde_params_add(p, "late", 1, one, 0, NULL), NDE_OK);
    cr_assert_eq(nde_optim_step(o), NDE_ERR_STATE);
    nde_optim_destroy(&o);
    cr_assert_null(o);
    nde_params_destroy(&empty);
    nde_params_destroy(&p);
}

Test(optim, nonfinite_gradient_changes_nothing)
{
    nde_params *p = make_model();
    nde_optim_spec s = nde_optim_defaults(NDE_OPT_ADAMW);
    nde_optim *o = NULL;
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK);
    const size_t n = nde_params_count(p);
    for (size_t i = 0; i < n; i++) nde_params_grad(p)[i] = 0.3;
    cr_assert_eq(nde_optim_step(o), NDE_OK);
    double theta[21], m[12];
    memcpy(theta, nde_params_theta(p), n * sizeof(double));
    nde_optim_state_view v;
    cr_assert_eq(nde_optim_state(o, 0, &v), NDE_OK);
    cr_assert_str_eq(v.name, "optim.exp_avg.w");
    memcpy(m, v.data, sizeof m);
    nde_params_grad(p)[14] = NAN; /* "b" is 12..15: element 2 */
    cr_assert_eq(nde_optim_step(o), NDE_ERR_NONFINITE);
    cr_assert(strstr(nde_last_error(), "'b' element 2") != NULL, "%s", nde_last_error());
    cr_assert_eq(memcmp(theta, nde_params_theta(p), n * sizeof(double)), 0);
    cr_assert_eq(memcmp(m, v.data, sizeof m), 0);
    cr_assert_eq(nde_optim_step_count(o), 1);
    nde_optim_destroy(&o);
    nde_params_destroy(&p);
}

Test(optim, parameter_groups_set_decay_and_lr_scale)
{
    nde_params *p = make_model();
    const size_t n = nde_params_count(p);
    double before[21];
    memcpy(before, nde_params_theta(p), n * sizeof(double));
    /* Plain SGD with zero gradient: only weight decay moves θ, θ ← θ − lr·wd·θ. */
    nde_optim_spec s = nde_optim_defaults(NDE_OPT_SGD);
    s.lr = 0.5;
    s.weight_decay = 0.2;
    s.n_groups = 1;
    s.groups[0] = (nde_optim_group){.group = 5, .weight_decay = 0.4, .lr_scale = 0.5};
    nde_optim *o = NULL;
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK);
    nde_params_zero_grad(p);
    cr_assert_eq(nde_optim_step(o), NDE_OK);
    const double *th = nde_params_theta(p);
    for (size_t i = 0; i < 12; i++) cr_assert_eq(th[i], before[i] + (-0.5) * (0.2 * before[i]));
    for (size_t i = 12; i < 16; i++) cr_assert_eq(th[i], before[i]); /* no-decay group */
    for (size_t i = 16; i < 21; i++) cr_assert_eq(th[i], before[i] + (-0.25) * (0.4 * before[i]));
    nde_optim_destroy(&o);

    /* lr_scale 0 freezes a group, whatever the gradient. */
    s = nde_optim_defaults(NDE_OPT_ADAM);
    s.n_groups = 1;
    s.groups[0] = (nde_optim_group){.group = NDE_GROUP_DEFAULT, .weight_decay = 0.0, .lr_scale = 0.0};
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK);
    memcpy(before, th, n * sizeof(double));
    for (size_t i = 0; i < n; i++) nde_params_grad(p)[i] = 1.0;
    cr_assert_eq(nde_optim_step(o), NDE_OK);
    cr_assert_eq(memcmp(before, th, 12 * sizeof(double)), 0);
    cr_assert(th[12] < before[12]);
    nde_optim_destroy(&o);
    nde_params_destroy(&p);
}

static void custom_sign(void *user, const double *c, double *dir, size_t n)
{
    int *calls = user;
    (*calls)++;
    for (size_t i = 0; i < n; i++) dir[i] = (double)((c[i] > 0.0) - (c[i] < 0.0));
}

Test(optim, custom_lion_k_with_sign_reproduces_lion)
{
    nde_params *a = make_model(), *b = make_model();
    nde_optim_spec s = nde_optim_defaults(NDE_OPT_LION);
    s.lr = 1e-2;
    s.weight_decay = 0.3;
    nde_optim *oa = NULL, *ob = NULL;
    cr_assert_eq(nde_optim_create(&s, a, &oa), NDE_OK);
    int calls = 0;
    s.lion_k = NDE_LION_K_CUSTOM;
    s.lion_k_grad = custom_sign;
    s.lion_k_user = &calls;
    cr_assert_eq(nde_optim_create(&s, b, &ob), NDE_OK);
    for (int t = 1; t <= 6; t++) {
        for (size_t i = 0; i < nde_params_count(a); i++) {
            nde_params_grad(a)[i] = sin(0.7 * (double)i + t) * nde_params_theta(a)[i];
            nde_params_grad(b)[i] = sin(0.7 * (double)i + t) * nde_params_theta(b)[i];
        }
        cr_assert_eq(nde_optim_step(oa), NDE_OK);
        cr_assert_eq(nde_optim_step(ob), NDE_OK);
    }
    cr_assert_eq(calls, 6 * 3); /* once per tensor and step */
    cr_assert_eq(memcmp(nde_params_theta(a), nde_params_theta(b), nde_params_count(a) * sizeof(double)), 0);
    nde_optim_destroy(&oa);
    nde_optim_destroy(&ob);
    nde_params_destroy(&a);
    nde_params_destroy(&b);
}

Test(optim, clip_grad_norm)
{
    double g[4] = {3.0, 4.0, 0.0, 0.0}, norm = 0.0;
    cr_assert_eq(nde_clip_grad_norm(g, 4, 10.0, &norm), NDE_OK);
    cr_assert_eq(norm, 5.0);
    cr_assert_eq(g[0], 3.0); /* below the limit: untouched */
    cr_assert_eq(nde_clip_grad_norm(g, 4, 1.0, &norm), NDE_OK);
    const double coef = 1.0 / (5.0 + 1e-6);
    cr_assert_eq(g[0], 3.0 * coef);
    cr_assert_eq(g[1], 4.0 * coef);
    cr_assert(fabs(sqrt(g[0] * g[0] + g[1] * g[1]) - 1.0) < 1e-6);
    double bad[2] = {1.0, INFINITY};
    cr_assert_eq(nde_clip_grad_norm(bad, 2, 1.0, NULL), NDE_ERR_NONFINITE);
    cr_assert_eq(bad[0], 1.0);
    cr_assert_eq(nde_clip_grad_norm(g, 4, 0.0, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_clip_grad_norm(g, 4, NAN, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_clip_grad_norm(NULL, 4, 1.0, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_clip_grad_norm(NULL, 0, 1.0, &norm), NDE_OK);
    cr_assert_eq(norm, 0.0);
}

/* NAdam's Π_t = μ_1···μ_t is one optimizer-wide scalar state after the per-tensor arrays. */
Test(optim, nadam_keeps_mu_product_as_a_scalar_state)
{
    nde_params *p = make_model();
    nde_optim_spec s = nde_optim_defaults(NDE_OPT_NADAM);
    nde_optim *o = NULL;
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_optim_n_state(o), 2 * 3 + 1);
    cr_assert_eq(nde_optim_state_bytes(o), 2 * 21 * sizeof(double) + sizeof(double));
    nde_optim_state_view v;
    cr_assert_eq(nde_optim_state(o, 1, &v), NDE_OK);
    cr_assert_str_eq(v.name, "optim.exp_avg_sq.w");
    cr_assert_eq(nde_optim_state(o, 6, &v), NDE_OK);
    cr_assert_str_eq(v.name, "optim.mu_product");
    cr_assert_eq(v.dtype, NDE_OPTIM_F64);
    cr_assert_eq(v.ndim, 1);
    cr_assert_eq(v.shape[0], 1);
    cr_assert_eq(v.numel, 1);
    cr_assert_eq(*(const double *)v.data, 1.0);
    double product = 1.0;
    for (int t = 1; t <= 3; t++) {
        for (size_t i = 0; i < nde_params_count(p); i++) nde_params_grad(p)[i] = cos(0.3 * t + i);
        cr_assert_eq(nde_optim_step(o), NDE_OK);
        product *= 0.9 * (1.0 - 0.5 * pow(0.96, t * 4e-3));
    }
    cr_assert_eq(*(const double *)v.data, product);
    /* A failed step leaves it alone. */
    nde_params_grad(p)[0] = NAN;
    cr_assert_eq(nde_optim_step(o), NDE_ERR_NONFINITE);
    cr_assert_eq(*(const double *)v.data, product);
    /* No other kind has it. */
    nde_optim *adam = NULL;
    s = nde_optim_defaults(NDE_OPT_ADAM);
    cr_assert_eq(nde_optim_create(&s, p, &adam), NDE_OK);
    cr_assert_eq(nde_optim_n_state(adam), 2 * 3);
    nde_optim_destroy(&adam);
    nde_optim_destroy(&o);
    nde_params_destroy(&p);
}

/* Adan's max_grad_norm: the step sees min(1, max/(‖g‖₂ + ε))·g with the norm over every
 * tensor and stores that as the previous gradient; the params' gradient is left alone.
 * A limit above the norm gives plain Adan bit for bit. */
Test(optim, adan_max_grad_norm_clips_inside_the_step)
{
    nde_params *plain_p = make_model(), *loose_p = make_model(), *tight_p = make_model();
    nde_optim_spec s = nde_optim_defaults(NDE_OPT_ADAN);
    s.lr = 1e-2;
    nde_optim *plain = NULL, *loose = NULL, *tight = NULL;
    cr_assert_eq(nde_optim_create(&s, plain_p, &plain), NDE_OK);
    s.max_grad_norm = 1e3;
    cr_assert_eq(nde_optim_create(&s, loose_p, &loose), NDE_OK);
    s.max_grad_norm = 0.5;
    cr_assert_eq(nde_optim_create(&s, tight_p, &tight), NDE_OK, "%s", nde_last_error());
    const size_t n = nde_params_count(plain_p);
    double g[21];
    for (int t = 1; t <= 4; t++) {
        double sum_sq = 0.0;
        for (size_t i = 0; i < n; i++) {
            g[i] = sin(0.5 * (double)i + t);
            sum_sq += g[i] * g[i];
        }
        memcpy(nde_params_grad(plain_p), g, sizeof g);
        memcpy(nde_params_grad(loose_p), g, sizeof g);
        memcpy(nde_params_grad(tight_p), g, sizeof g);
        cr_assert_eq(nde_optim_step(plain), NDE_OK);
        cr_assert_eq(nde_optim_step(loose), NDE_OK);
        cr_assert_eq(nde_optim_step(tight), NDE_OK);
        cr_assert_eq(memcmp(nde_params_grad(tight_p), g, sizeof g), 0);
        const double clip = 0.5 / (sqrt(sum_sq) + 1e-8);
        cr_assert(clip < 1.0);
        nde_optim_state_view prev;
        cr_assert_eq(nde_optim_state(tight, 3, &prev), NDE_OK);
        cr_assert_str_eq(prev.name, "optim.prev_grad.w");
        for (size_t i = 0; i < prev.numel; i++) {
            const double want = g[i] * clip, got = ((const double *)prev.data)[i];
            cr_assert(fabs(got - want) <= 1e-15 * fabs(want), "t %d element %zu: %.17g vs %.17g",
                      t, i, got, want);
        }
    }
    const size_t bytes = n * sizeof(double);
    cr_assert_eq(memcmp(nde_params_theta(plain_p), nde_params_theta(loose_p), bytes), 0);
    cr_assert(memcmp(nde_params_theta(plain_p), nde_params_theta(tight_p), bytes) != 0);
    nde_optim_destroy(&plain);
    nde_optim_destroy(&loose);
    nde_optim_destroy(&tight);
    nde_params_destroy(&plain_p);
    nde_params_destroy(&loose_p);
    nde_params_destroy(&tight_p);
}

/* Every optimizer at its reference defaults (lr raised for speed) reduces the loss
 * ½ Σ c_i θ_i² by a large factor in 300 steps. */
Test(optim, every_kind_descends_a_quadratic)
{
    for (int k = 0; k < NDE_OPT_KIND_COUNT; k++) {
        nde_params *p = make_model();
        nde_optim_spec s = nde_optim_defaults((nde_optim_kind)k);
        s.lr = k == NDE_OPT_SGD ? 0.05 : 1e-2;
        s.momentum = k == NDE_OPT_SGD ? 0.9 : 0.0;
        nde_optim *o = NULL;
        cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK);
        const size_t n = nde_params_count(p);
        double loss0 = 0.0, loss = 0.0;
        for (int t = 0; t <= 300; t++) {
            const double *th = nde_params_theta(p);
            double *g = nde_params_grad(p);
            loss = 0.0;
            for (size_t i = 0; i < n; i++) {
                const double c = 1.0 + (double)(i % 4);
                g[i] = c * th[i];
                loss += 0.5 * c * th[i] * th[i];
            }
            if (t == 0) loss0 = loss;
            if (t < 300) cr_assert_eq(nde_optim_step(o), NDE_OK);
        }
        cr_assert(loss < 0.05 * loss0, "%s: loss %g -> %g", nde_optim_kind_name((nde_optim_kind)k),
                  loss0, loss);
        nde_optim_destroy(&o);
        nde_params_destroy(&p);
    }
}
