/* Core: status strings, error messages, RNG determinism and moments, allocation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nde/nde.h"

Test(core, status_strings_are_distinct_and_named)
{
    for (int i = 0; i < NDE_STATUS_COUNT; i++) {
        cr_assert(strlen(nde_status_str((nde_status)i)) > 0);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(nde_status_str((nde_status)i), nde_status_str((nde_status)j));
    }
    cr_assert_str_eq(nde_status_str((nde_status)999), "unknown status");
}

Test(core, fail_keeps_message_with_context)
{
    nde_status s = NDE_FAIL(NDE_ERR_SHAPE, "tensor %s has shape (%d,%d)", "w", 3, 4);
    cr_assert_eq(s, NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "test_core.c:") != NULL);
    cr_assert(strstr(nde_last_error(), "tensor w has shape (3,4)") != NULL);
    nde_clear_error();
    cr_assert_str_eq(nde_last_error(), "");
}

Test(core, rng_same_seed_same_bits)
{
    nde_rng a, b;
    nde_rng_seed(&a, 42);
    nde_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) cr_assert_eq(nde_rng_u64(&a), nde_rng_u64(&b));
    nde_rng_seed(&b, 43);
    cr_assert_neq(nde_rng_u64(&a), nde_rng_u64(&b));
}

Test(core, rng_uniform_and_normal_moments)
{
    nde_rng r;
    nde_rng_seed(&r, 7);
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0;
    for (int i = 0; i < n; i++) {
        double u = nde_rng_uniform(&r);
        cr_assert(u >= 0.0 && u < 1.0);
        su += u;
        su2 += u * u;
        double z = nde_rng_normal(&r);
        sn += z;
        sn2 += z * z;
        sn4 += z * z * z * z;
    }
    /* Standard errors: mean ~ 1/sqrt(12 n) = 6.5e-4 (uniform), 2.2e-3 (normal). */
    cr_assert(fabs(su / n - 0.5) < 4e-3);
    cr_assert(fabs(su2 / n - 1.0 / 3.0) < 4e-3);
    cr_assert(fabs(sn / n) < 1e-2);
    cr_assert(fabs(sn2 / n - 1.0) < 1.5e-2);
    cr_assert(fabs(sn4 / n - 3.0) < 0.1);
}

Test(core, rng_below_is_in_range_and_covers)
{
    nde_rng r;
    nde_rng_seed(&r, 1);
    int hits[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t k = nde_rng_below(&r, 7);
        cr_assert(k < 7);
        hits[k]++;
    }
    for (int k = 0; k < 7; k++) cr_assert(hits[k] > 850 && hits[k] < 1150);
}

Test(core, rng_jump_gives_a_different_stream)
{
    nde_rng a, b;
    nde_rng_seed(&a, 5);
    b = a;
    nde_rng_jump(&b);
    int same = 0;
    for (int i = 0; i < 100; i++) same += nde_rng_u64(&a) == nde_rng_u64(&b);
    cr_assert_eq(same, 0);
}

Test(core, alloc_is_aligned_zeroed_and_checks_overflow)
{
    double *p = nde_alloc_array(100, sizeof(double));
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % NDE_ALIGN, 0);
    for (int i = 0; i < 100; i++) cr_assert_eq(p[i], 0.0);
    nde_free(p);
    nde_free(NULL);
    cr_assert_null(nde_alloc_array(SIZE_MAX / 2, 4));
    cr_assert(strstr(nde_last_error(), "overflows") != NULL);
}

Test(core, ctx_create_destroy_null_safe)
{
    nde_ctx *ctx = NULL;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    cr_assert_not_null(nde_ctx_rng(ctx));
    nde_ctx_destroy(&ctx);
    cr_assert_null(ctx);
    nde_ctx_destroy(&ctx);
    nde_ctx_destroy(NULL);
    cr_assert_eq(nde_ctx_create(NULL), NDE_ERR_ARG);
}

Test(params, add_find_and_reject_bad_tensors)
{
    nde_params *p;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    size_t off;
    size_t shape_w[2] = {3, 4}, shape_b[1] = {3};
    cr_assert_eq(nde_params_add(p, "l.weight", 2, shape_w, NDE_GROUP_DEFAULT, &off), NDE_OK);
    cr_assert_eq(off, 0);
    cr_assert_eq(nde_params_add(p, "l.bias", 1, shape_b, NDE_GROUP_NO_DECAY, &off), NDE_OK);
    cr_assert_eq(off, 12);
    cr_assert_eq(nde_params_count(p), 15);
    cr_assert_eq(nde_params_add(p, "l.bias", 1, shape_b, 0, NULL), NDE_ERR_ARG);
    size_t zero[1] = {0};
    cr_assert_eq(nde_params_add(p, "z", 1, zero, 0, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_params_add(p, "z", 0, shape_b, 0, NULL), NDE_ERR_ARG);
    const nde_tensor_info *t = nde_params_find(p, "l.bias");
    cr_assert_not_null(t);
    cr_assert_eq(t->group, NDE_GROUP_NO_DECAY);
    cr_assert_eq(t->numel, 3);
    /* growth keeps values */
    nde_params_theta(p)[14] = 2.5;
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof name, "extra%d", i);
        size_t s[1] = {100};
        cr_assert_eq(nde_params_add(p, name, 1, s, 0, NULL), NDE_OK);
    }
    cr_assert_eq(nde_params_theta(p)[14], 2.5);
    cr_assert_eq(nde_params_count(p), 15 + 5000);
    nde_params_destroy(&p);
    cr_assert_null(p);
    nde_params_destroy(&p);
}
