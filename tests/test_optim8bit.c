/* 8-bit block-wise optimizer states: code books bit-exact to bitsandbytes'
 * create_dynamic_map, nearest-code quantization and its round-trip bound, 8-bit
 * AdamW / Lion / AdaBelief against a transcription of the block-wise kernels
 * (tests/ref/gen_optim8bit.py), 8-bit AdamW within 2e-3 of full precision, memory. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "tests/ref/optim8bit_ref.h"

Test(optim8bit, code_books_are_bit_exact_to_the_reference)
{
    cr_assert_eq(memcmp(nde_q8_code(1), q8_ref_code_signed, 256 * sizeof(float)), 0);
    cr_assert_eq(memcmp(nde_q8_code(0), q8_ref_code_unsigned, 256 * sizeof(float)), 0);
    const float *s = nde_q8_code(1), *u = nde_q8_code(0);
    cr_assert_eq(s[127], 0.0f);
    cr_assert_eq(s[255], 1.0f);
    cr_assert_eq(u[0], 0.0f);
    cr_assert_eq(u[255], 1.0f);
    for (int i = 1; i < 256; i++) cr_assert(s[i - 1] < s[i] && u[i - 1] < u[i]);
}

/* Independent of torch: entry j of decade i is the midpoint of linspace(0.1, 1, k+1)
 * scaled by 10^(i−6), k = 2^i (signed) or 2^(i+1) (unsigned), up to float rounding. */
Test(optim8bit, code_books_are_the_decade_midpoints)
{
    for (int is_signed = 0; is_signed <= 1; is_signed++) {
        const float *code = nde_q8_code(is_signed);
        int idx = is_signed ? 128 : 1; /* first positive entry */
        for (int i = 0; i < 7; i++) {
            const int k = is_signed ? 1 << i : 1 << (i + 1);
            for (int j = 0; j < k; j++, idx++) {
                const double exact = pow(10.0, i - 6) * (0.1 + 0.9 * (2.0 * j + 1.0) / (2.0 * k));
                cr_assert(fabs(code[idx] - exact) <= 4.0 * FLT_EPSILON * exact,
                          "signed %d decade %d entry %d: %.9g vs %.9g", is_signed, i, j,
                          (double)code[idx], exact);
                if (is_signed) cr_assert_eq(nde_q8_code(1)[254 - idx], -code[idx]);
            }
        }
        cr_assert_eq(idx, 255);
    }
}

static int brute_nearest(const float *code, double v)
{
    int best = 0;
    for (int j = 1; j < 256; j++)
        if (fabs((double)code[j] - v) < fabs((double)code[best] - v)) best = j;
    return best;
}

Test(optim8bit, quantization_is_nearest_and_round_trips_within_the_spacing)
{
    enum { N = 600 };
    double x[N], back[N];
    uint8_t codes[N];
    for (int is_signed = 0; is_signed <= 1; is_signed++) {
        const float *code = nde_q8_code(is_signed);
        for (int i = 0; i < N; i++) {
            x[i] = sin(0.37 * i) * pow(10.0, -(i % 5));
            if (!is_signed) x[i] = fabs(x[i]);
        }
        for (int b = 0; b < N; b += 256) {
            const size_t len = N - b < 256 ? (size_t)(N - b) : 256;
            double amax;
            nde_q8_quantize_block(x + b, len, is_signed, codes + b, &amax);
            double want = 0.0;
            for (size_t i = 0; i < len; i++) want = fmax(want, fabs(x[b + i]));
            cr_assert_eq(amax, want);
            nde_q8_dequantize_block(codes + b, len, amax, is_signed, back + b);
            for (size_t i = 0; i < len; i++) {
                const double v = x[b + i] / amax;
                const int c = codes[b + i], near = brute_nearest(code, v);
                if (is_signed && v < 0.0 && near == 127) {
                    /* Sign fix: a small negative value takes the smallest negative code. */
                    cr_assert_eq(c, 126);
                    cr_assert(fabs(back[b + i] - x[b + i]) <= fabs(code[126]) * amax);
                    continue;
                }
                cr_assert_eq(c, near, "value %.17g: code %d, nearest %d", v, c, near);
                const double lo = c > 0 ? code[c] - code[c - 1] : 0.0;
                const double hi = c < 255 ? code[c + 1] - code[c] : 0.0;
                cr_assert(fabs(back[b + i] - x[b + i]) <= 0.5 * fmax(lo, hi) * amax * (1 + 1e-12));
            }
        }
    }
    double zeros[4] = {0}, amax = -1.0;
    uint8_t zc[4];
    nde_q8_quantize_block(zeros, 4, 1, zc, &amax);
    cr_assert_eq(amax, 0.0);
    for (int i = 0; i < 4; i++) cr_assert_eq(zc[i], 127);
}

/* The 8-bit reference problem: one tensor "x" (600), x0 = sin(0.1 i). */
static nde_params *make_x(void)
{
    nde_params *p = NULL;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    const size_t shape[1] = {Q8_REF_N};
    cr_assert_eq(nde_params_add(p, "x", 1, shape, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    for (int i = 0; i < Q8_REF_N; i++) nde_params_theta(p)[i] = sin(0.1 * i);
    return p;
}

static void ref_grad(nde_params *p, int t)
{
    const double *x = nde_params_theta(p);
    double *g = nde_params_grad(p);
    for (int i = 0; i < Q8_REF_N; i++)
        g[i] = 0.5 * x[i] + 0.01 * cos(0.05 * i + 0.3 * t) * (1 + i % 7);
}

static nde_optim_spec spec8(nde_optim_kind kind, int bits)
{
    nde_optim_spec s = nde_optim_defaults(kind);
    s.lr = kind == NDE_OPT_LION ? 1e-3 : 1e-2;
    s.weight_decay = 0.1;
    s.rectify = 0;
    s.state_bits = bits;
    s.block_size = Q8_REF_BLOCK;
    s.min_8bit_numel = 256;
    return s;
}

static void run(nde_params *p, nde_optim *o, int steps)
{
    for (int t = 1; t <= steps; t++) {
        ref_grad(p, t);
        cr_assert_eq(nde_optim_step(o), NDE_OK, "%s", nde_last_error());
    }
}

static void check_against_transcription(nde_optim_kind kind, const double *ref_x,
                                        const unsigned char *const *ref_codes,
                                        const double *const *ref_absmax, int n_states)
{
    nde_params *p = make_x();
    nde_optim_spec s = spec8(kind, 8);
    nde_optim *o = NULL;
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK, "%s", nde_last_error());
    run(p, o, Q8_REF_STEPS);
    for (int i = 0; i < Q8_REF_N; i++)
        cr_assert(fabs(nde_params_theta(p)[i] - ref_x[i]) <= 1e-12 * fmax(fabs(ref_x[i]), 1e-3),
                  "%s x[%d]: %.17g vs %.17g", nde_optim_kind_name(kind), i, nde_params_theta(p)[i],
                  ref_x[i]);
    cr_assert_eq(nde_optim_n_state(o), (size_t)(2 * n_states));
    for (int k = 0; k < n_states; k++) {
        nde_optim_state_view codes, absmax;
        cr_assert_eq(nde_optim_state(o, (size_t)(2 * k), &codes), NDE_OK);
        cr_assert_eq(nde_optim_state(o, (size_t)(2 * k + 1), &absmax), NDE_OK);
        cr_assert_eq(codes.dtype, NDE_OPTIM_U8);
        cr_assert(strstr(codes.name, ".x.codes") != NULL, "%s", codes.name);
        cr_assert_eq(memcmp(codes.data, ref_codes[k], Q8_REF_N), 0, "%s state %d codes differ",
                     nde_optim_kind_name(kind), k);
        const double *am = absmax.data;
        for (size_t b = 0; b < absmax.numel; b++)
            cr_assert(fabs(am[b] - ref_absmax[k][b]) <= 1e-12 * ref_absmax[k][b]);
    }
    nde_optim_destroy(&o);
    nde_params_destroy(&p);
}

Test(optim8bit, adamw_lion_adabelief_match_the_blockwise_transcription)
{
    check_against_transcription(NDE_OPT_ADAMW, q8_ref_adamw_x,
                                (const unsigned char *const[]){q8_ref_adamw_codes0, q8_ref_adamw_codes1},
                                (const double *const[]){q8_ref_adamw_absmax0, q8_ref_adamw_absmax1}, 2);
    check_against_transcription(NDE_OPT_LION, q8_ref_lion_x,
                                (const unsigned char *const[]){q8_ref_lion_codes0},
                                (const double *const[]){q8_ref_lion_absmax0}, 1);
    check_against_transcription(NDE_OPT_ADABELIEF, q8_ref_adabelief_x,
                                (const unsigned char *const[]){q8_ref_adabelief_codes0,
                                                               q8_ref_adabelief_codes1},
                                (const double *const[]){q8_ref_adabelief_absmax0,
                                                        q8_ref_adabelief_absmax1}, 2);
}

Test(optim8bit, adamw_8bit_stays_within_2e_3_of_full_precision)
{
    nde_params *p8 = make_x(), *p32 = make_x();
    nde_optim_spec s8 = spec8(NDE_OPT_ADAMW, 8), s32 = spec8(NDE_OPT_ADAMW, 32);
    nde_optim *o8 = NULL, *o32 = NULL;
    cr_assert_eq(nde_optim_create(&s8, p8, &o8), NDE_OK);
    cr_assert_eq(nde_optim_create(&s32, p32, &o32), NDE_OK);
    run(p8, o8, 1);
    run(p32, o32, 1);
    /* Zero state dequantizes to exact zeros: step 1 is full precision bit for bit. */
    cr_assert_eq(memcmp(nde_params_theta(p8), nde_params_theta(p32), Q8_REF_N * sizeof(double)), 0);
    for (int t = 2; t <= Q8_REF_STEPS; t++) {
        ref_grad(p8, t);
        ref_grad(p32, t);
        cr_assert_eq(nde_optim_step(o8), NDE_OK);
        cr_assert_eq(nde_optim_step(o32), NDE_OK);
    }
    double worst = 0.0;
    for (int i = 0; i < Q8_REF_N; i++) {
        worst = fmax(worst, fabs(nde_params_theta(p8)[i] - nde_params_theta(p32)[i]));
        /* The full-precision run itself matches torch.optim.AdamW. */
        cr_assert(fabs(nde_params_theta(p32)[i] - q8_ref_adamw32_x[i]) <=
                  1e-12 * fmax(fabs(q8_ref_adamw32_x[i]), 1e-3));
    }
    cr_log_info("8-bit vs 32-bit AdamW after %d steps: max |dx| = %.3e", Q8_REF_STEPS, worst);
    cr_assert(worst > 0.0 && worst <= 2e-3, "max difference %.3e", worst);
    nde_optim_destroy(&o8);
    nde_optim_destroy(&o32);
    nde_params_destroy(&p8);
    nde_params_destroy(&p32);
}

Test(optim8bit, state_memory_per_parameter)
{
    nde_params *p = NULL;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    const size_t big[2] = {1000, 1000}, small[1] = {100};
    cr_assert_eq(nde_params_add(p, "big", 2, big, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    const double n = 1e6;
    const nde_optim_kind kinds[3] = {NDE_OPT_ADAMW, NDE_OPT_LION, NDE_OPT_ADABELIEF};
    const int n_states[3] = {2, 1, 2};
    for (int k = 0; k < 3; k++)
        for (size_t bs = 256; bs <= 2048; bs *= 8) {
            nde_optim_spec s = nde_optim_defaults(kinds[k]);
            s.state_bits = 8;
            s.block_size = bs;
            nde_optim *o = NULL;
            cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK);
            const double per_state = (double)nde_optim_state_bytes(o) / n / n_states[k];
            cr_log_info("%s 8-bit, block %zu: %.4f bytes per parameter per state (%.4f total)",
                        nde_optim_kind_name(kinds[k]), bs, per_state, per_state * n_states[k]);
            cr_assert(per_state <= 1.1, "%.4f bytes", per_state);
            cr_assert_eq(per_state, 1.0 + 8.0 * ceil(n / (double)bs) / n);
            nde_optim_destroy(&o);
            s.state_bits = 32;
            cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK);
            cr_assert_eq(nde_optim_state_bytes(o), (size_t)(8 * n_states[k] * 1000000));
            nde_optim_destroy(&o);
        }
    /* A tensor below min_8bit_numel keeps double state. */
    cr_assert_eq(nde_params_add(p, "small", 1, small, NDE_GROUP_NO_DECAY, NULL), NDE_OK);
    nde_optim_spec s = nde_optim_defaults(NDE_OPT_ADAMW);
    s.state_bits = 8;
    nde_optim *o = NULL;
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_OK);
    cr_assert_eq(nde_optim_state_bytes(o), 2 * (1000000 + 8 * 3907) + 2 * 8 * 100);
    cr_assert_eq(nde_optim_n_state(o), 6); /* big: codes + absmax per state; small: 2 doubles */
    nde_optim_destroy(&o);
    nde_params_destroy(&p);
}

Test(optim8bit, unsupported_combinations)
{
    nde_params *p = make_x();
    nde_optim *o = NULL;
    nde_optim_spec s = spec8(NDE_OPT_SGD, 8);
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_ERR_UNSUPPORTED);
    s = spec8(NDE_OPT_NADAM, 8);
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_ERR_UNSUPPORTED);
    cr_assert(strstr(nde_last_error(), "nde_optim_create(nadam): 8-bit states exist for") != NULL,
              "%s", nde_last_error());
    s = spec8(NDE_OPT_LION, 8);
    s.lion_k = NDE_LION_K_L2;
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_ERR_UNSUPPORTED);
    s = spec8(NDE_OPT_ADAMW, 8);
    s.block_size = 32;
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_ERR_ARG);
    s.block_size = 256;
    s.state_bits = 16;
    cr_assert_eq(nde_optim_create(&s, p, &o), NDE_ERR_ARG);
    cr_assert_null(o);
    nde_params_destroy(&p);
}
