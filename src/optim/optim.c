/* The optimizer driver: validates the spec, owns per-tensor state (full precision or
 * 8-bit block-wise), runs the update rule tensor by tensor and exposes the state as
 * named arrays for checkpoints. */
#include "optim/optim_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct opt_tensor {
    size_t index; /* in the parameter table */
    size_t offset, numel;
    double wd, lr_scale;
    int quantized;
    size_t n_blocks;
    double *full[OPT_MAX_STATES];   /* (numel) each, full precision */
    uint8_t *codes[OPT_MAX_STATES]; /* (numel) each, 8-bit */
    double *absmax[OPT_MAX_STATES]; /* (n_blocks) each, 8-bit */
} opt_tensor;

struct nde_optim {
    nde_optim_spec spec;
    nde_params *params;
    size_t n_params; /* θ length at creation */
    opt_layout layout;
    uint64_t step;
    double lr;
    double mu_product; /* NAdam: Π μ_i over the completed steps (1 before the first) */
    size_t n_tensors;
    opt_tensor *tensors;
    double *work;                  /* (2 · largest tensor) for non-element-wise rules */
    double *block[OPT_MAX_STATES]; /* (block_size) each: dequantized 8-bit state */
};

static int finite_nonneg(double x) { return isfinite(x) && x >= 0.0; }
static int is_beta(double b) { return isfinite(b) && b >= 0.0 && b < 1.0; }

static nde_status check_spec(const nde_optim_spec *s)
{
    const char *kn = nde_optim_kind_name(s->kind);
    if ((int)s->kind < 0 || s->kind >= NDE_OPT_KIND_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create: unknown optimizer kind %d", (int)s->kind);
    if (!finite_nonneg(s->lr) || !finite_nonneg(s->eps) || !finite_nonneg(s->weight_decay))
        return NDE_FAIL(NDE_ERR_ARG,
                        "nde_optim_create(%s): lr %g, eps %g and weight_decay %g must be "
                        "finite and >= 0", kn, s->lr, s->eps, s->weight_decay);
    if (!is_beta(s->beta1) || !is_beta(s->beta2) ||
        (s->kind == NDE_OPT_ADAN && !is_beta(s->beta3)))
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): betas (%g, %g, %g) must lie in [0, 1)",
                        kn, s->beta1, s->beta2, s->beta3);
    if (!finite_nonneg(s->momentum) || !isfinite(s->dampening))
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): momentum %g / dampening %g invalid",
                        kn, s->momentum, s->dampening);
    if (!finite_nonneg(s->momentum_decay) || !finite_nonneg(s->max_grad_norm))
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): momentum_decay %g and max_grad_norm %g "
                                     "must be finite and >= 0", kn, s->momentum_decay,
                        s->max_grad_norm);
    if (s->fixed_decay && (s->kind != NDE_OPT_ADABELIEF || !s->decoupled_wd))
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_optim_create(%s): fixed_decay is AdaBelief's "
                                             "variant of decoupled decay (needs kind adabelief "
                                             "and decoupled_wd; decoupled_wd is %d)",
                        kn, s->decoupled_wd);
    if (s->max_grad_norm > 0.0 && s->kind != NDE_OPT_ADAN)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_optim_create(%s): max_grad_norm %g is Adan's "
                                             "built-in clipping; clip other optimizers with "
                                             "nde_clip_grad_norm before the step",
                        kn, s->max_grad_norm);
    if (s->kind == NDE_OPT_SGD && s->nesterov && (s->momentum <= 0.0 || s->dampening != 0.0))
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(sgd): nesterov needs momentum > 0 and "
                                     "dampening 0 (momentum %g, dampening %g)",
                        s->momentum, s->dampening);
    if (s->kind == NDE_OPT_RMSPROP && !is_beta(s->alpha))
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(rmsprop): alpha %g must lie in [0, 1)",
                        s->alpha);
    if ((int)s->lion_k < 0 || s->lion_k > NDE_LION_K_CUSTOM)
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): unknown lion_k %d", kn, (int)s->lion_k);
    if (s->kind == NDE_OPT_LION && s->lion_k == NDE_LION_K_CUSTOM && !s->lion_k_grad)
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(lion): NDE_LION_K_CUSTOM without lion_k_grad");
    if (s->n_groups < 0 || s->n_groups > NDE_OPTIM_MAX_GROUPS)
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): n_groups %d outside [0, %d]", kn,
                        s->n_groups, NDE_OPTIM_MAX_GROUPS);
    for (int g = 0; g < s->n_groups; g++)
        if (!finite_nonneg(s->groups[g].weight_decay) || !finite_nonneg(s->groups[g].lr_scale))
            return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): group %d has weight_decay %g, "
                                         "lr_scale %g (finite, >= 0)", kn, s->groups[g].group,
                            s->groups[g].weight_decay, s->groups[g].lr_scale);
    if (s->state_bits != 32 && s->state_bits != 8)
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): state_bits %d (8 or 32)", kn,
                        s->state_bits);
    if (s->state_bits == 8) {
        if (s->kind != NDE_OPT_ADAM && s->kind != NDE_OPT_ADAMW && s->kind != NDE_OPT_LION &&
            s->kind != NDE_OPT_ADABELIEF)
            return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_optim_create(%s): 8-bit states exist for "
                                                 "adam, adamw, lion and adabelief only", kn);
        if (s->kind == NDE_OPT_LION &&
            (s->lion_k == NDE_LION_K_L2 || s->lion_k == NDE_LION_K_CUSTOM))
            return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_optim_create(lion): 8-bit states need an "
                                                 "element-wise lion_k (L1, Huber, quadratic)");
        if (s->block_size < 64 || s->block_size > 4096)
            return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): block_size %zu outside [64, 4096]",
                            kn, s->block_size);
    }
    return NDE_OK;
}

static void group_settings(const nde_optim_spec *s, int group, double *wd, double *lr_scale)
{
    *wd = group == NDE_GROUP_NO_DECAY ? 0.0 : s->weight_decay;
    *lr_scale = 1.0;
    for (int g = 0; g < s->n_groups; g++)
        if (s->groups[g].group == group) {
            *wd = s->groups[g].weight_decay;
            *lr_scale = s->groups[g].lr_scale;
        }
}

static nde_status alloc_tensor_state(nde_optim *o, opt_tensor *t)
{
    const int ns = o->layout.n_states;
    if (t->quantized) {
        t->n_blocks = (t->numel + o->spec.block_size - 1) / o->spec.block_size;
        for (int k = 0; k < ns; k++) {
            t->codes[k] = nde_alloc(t->numel);
            t->absmax[k] = nde_alloc_array(t->n_blocks, sizeof(double));
            if (!t->codes[k] || !t->absmax[k]) return NDE_ERR_NOMEM;
            /* All-zero state: the code of 0 (signed index 127, unsigned 0), absmax 0. */
            if (o->layout.is_signed[k]) memset(t->codes[k], 127, t->numel);
        }
    } else {
        for (int k = 0; k < ns; k++) {
            t->full[k] = nde_alloc_array(t->numel, sizeof(double));
            if (!t->full[k]) return NDE_ERR_NOMEM;
        }
    }
    return NDE_OK;
}

nde_status nde_optim_create(const nde_optim_spec *spec, nde_params *params, nde_optim **opt)
{
    if (!opt) return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create: opt is NULL");
    *opt = NULL;
    if (!spec || !params) return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create: NULL spec or params");
    NDE_TRY(check_spec(spec));
    const size_t nt = nde_params_n_tensors(params);
    if (nt == 0 || nde_params_count(params) == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_create(%s): parameter store has no tensors",
                        nde_optim_kind_name(spec->kind));
    nde_optim *o = nde_alloc(sizeof *o);
    if (!o) return NDE_ERR_NOMEM;
    o->spec = *spec;
    o->params = params;
    o->n_params = nde_params_count(params);
    o->lr = spec->lr;
    o->mu_product = 1.0;
    opt_layout_for(spec, &o->layout);
    o->n_tensors = nt;
    o->tensors = nde_alloc_array(nt, sizeof *o->tensors);
    nde_status st = o->tensors ? NDE_OK : NDE_ERR_NOMEM;
    size_t max_numel = 0;
    for (size_t i = 0; st == NDE_OK && i < nt; i++) {
        const nde_tensor_info *info = nde_params_tensor(params, i);
        opt_tensor *t = &o->tensors[i];
        t->index = i;
        t->offset = info->offset;
        t->numel = info->numel;
        group_settings(spec, info->group, &t->wd, &t->lr_scale);
        t->quantized = spec->state_bits == 8 && info->numel >= spec->min_8bit_numel;
        if (info->numel > max_numel) max_numel = info->numel;
        st = alloc_tensor_state(o, t);
    }
    if (st == NDE_OK && !o->layout.elementwise) {
        o->work = nde_alloc_array(max_numel, 2 * sizeof(double));
        if (!o->work) st = NDE_ERR_NOMEM;
    }
    for (int k = 0; st == NDE_OK && spec->state_bits == 8 && k < o->layout.n_states; k++) {
        o->block[k] = nde_alloc_array(spec->block_size, sizeof(double));
        if (!o->block[k]) st = NDE_ERR_NOMEM;
    }
    if (st != NDE_OK) {
        nde_optim_destroy(&o);
        return st;
    }
    *opt = o;
    return NDE_OK;
}

void nde_optim_destroy(nde_optim **opt)
{
    if (!opt || !*opt) return;
    nde_optim *o = *opt;
    for (size_t i = 0; o->tensors && i < o->n_tensors; i++)
        for (int k = 0; k < OPT_MAX_STATES; k++) {
            nde_free(o->tensors[i].full[k]);
            nde_free(o->tensors[i].codes[k]);
            nde_free(o->tensors[i].absmax[k]);
        }
    for (int k = 0; k < OPT_MAX_STATES; k++) nde_free(o->block[k]);
    nde_free(o->tensors);
    nde_free(o->work);
    nde_free(o);
    *opt = NULL;
}

/* Dequantize → update → requantize, block by block (Dettmers et al. 2022, §2.1). */
static void step_quantized(nde_optim *o, const opt_step *st, opt_tensor *t, double *theta,
                           const double *grad)
{
    const size_t bs = o->spec.block_size;
    const int ns = o->layout.n_states;
    for (size_t b = 0; b < t->n_blocks; b++) {
        const size_t start = b * bs;
        const size_t len = t->numel - start < bs ? t->numel - start : bs;
        for (int k = 0; k < ns; k++)
            nde_q8_dequantize_block(t->codes[k] + start, len, t->absmax[k][b],
                                    o->layout.is_signed[k], o->block[k]);
        o->layout.update(st, theta + start, grad + start, o->block, len);
        for (int k = 0; k < ns; k++)
            nde_q8_quantize_block(o->block[k], len, o->layout.is_signed[k], t->codes[k] + start,
                                  &t->absmax[k][b]);
    }
}

/* sail-sg adan.py's clip coefficient min(1, max_grad_norm/(‖g‖₂ + ε)), the norm over
 * every tensor (a sum of squares per tensor, then their sum, as adan.py). */
static double global_clip(const nde_optim *o, const double *grad)
{
    double sum_sq = 0.0;
    for (size_t i = 0; i < o->n_tensors; i++) {
        const opt_tensor *t = &o->tensors[i];
        double tensor_sq = 0.0;
        const double *g = grad + t->offset;
        for (size_t j = 0; j < t->numel; j++) tensor_sq += g[j] * g[j];
        sum_sq += tensor_sq;
    }
    return fmin(1.0, o->spec.max_grad_norm / (sqrt(sum_sq) + o->spec.eps));
}

nde_status nde_optim_step(nde_optim *o)
{
    if (!o) return NDE_FAIL(NDE_ERR_ARG, "nde_optim_step: opt is NULL");
    if (nde_params_count(o->params) != o->n_params)
        return NDE_FAIL(NDE_ERR_STATE, "nde_optim_step: parameter store changed size (%zu -> %zu) "
                                       "after the optimizer was created",
                        o->n_params, nde_params_count(o->params));
    double *theta = nde_params_theta(o->params);
    const double *grad = nde_params_grad(o->params);
    for (size_t i = 0; i < o->n_tensors; i++) {
        const opt_tensor *t = &o->tensors[i];
        for (size_t j = 0; j < t->numel; j++)
            if (!isfinite(grad[t->offset + j]))
                return NDE_FAIL(NDE_ERR_NONFINITE,
                                "nde_optim_step: gradient of '%s' element %zu is %g",
                                nde_params_tensor(o->params, t->index)->name, j,
                                grad[t->offset + j]);
    }
    const uint64_t t_next = o->step + 1;
    const double grad_scale = o->spec.max_grad_norm > 0.0 ? global_clip(o, grad) : 1.0;
    const double mu_product = o->spec.kind == NDE_OPT_NADAM
                                  ? o->mu_product * opt_nadam_mu(&o->spec, t_next)
                                  : o->mu_product;
    for (size_t i = 0; i < o->n_tensors; i++) {
        opt_tensor *t = &o->tensors[i];
        const opt_step st = {.spec = &o->spec, .t = t_next, .lr = o->lr * t->lr_scale,
                             .wd = t->wd, .grad_scale = grad_scale, .mu_product = mu_product,
                             .work = o->work};
        if (t->quantized)
            step_quantized(o, &st, t, theta + t->offset, grad + t->offset);
        else
            o->layout.update(&st, theta + t->offset, grad + t->offset, t->full, t->numel);
    }
    o->step = t_next;
    o->mu_product = mu_product;
    return NDE_OK;
}

nde_status nde_optim_set_lr(nde_optim *o, double lr)
{
    if (!o) return NDE_FAIL(NDE_ERR_ARG, "nde_optim_set_lr: opt is NULL");
    if (!finite_nonneg(lr))
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_set_lr: lr %g must be finite and >= 0", lr);
    o->lr = lr;
    return NDE_OK;
}

double nde_optim_lr(const nde_optim *o) { return o ? o->lr : 0.0; }
uint64_t nde_optim_step_count(const nde_optim *o) { return o ? o->step : 0; }
const nde_optim_spec *nde_optim_get_spec(const nde_optim *o) { return o ? &o->spec : NULL; }

nde_status nde_optim_restore(nde_optim *o, uint64_t step_count, double lr)
{
    if (!o) return NDE_FAIL(NDE_ERR_ARG, "nde_optim_restore: opt is NULL");
    NDE_TRY(nde_optim_set_lr(o, lr));
    o->step = step_count;
    return NDE_OK;
}

/* Optimizer-wide scalar states after the per-tensor arrays: NAdam's mu_product. */
static size_t n_scalar_states(const nde_optim *o)
{
    return o->spec.kind == NDE_OPT_NADAM ? 1 : 0;
}

size_t nde_optim_state_bytes(const nde_optim *o)
{
    if (!o) return 0;
    size_t bytes = n_scalar_states(o) * sizeof(double);
    for (size_t i = 0; i < o->n_tensors; i++) {
        const opt_tensor *t = &o->tensors[i];
        const size_t per_state = t->quantized ? t->numel + t->n_blocks * sizeof(double)
                                              : t->numel * sizeof(double);
        bytes += per_state * (size_t)o->layout.n_states;
    }
    return bytes;
}

/* Arrays per state of a tensor: one (full) or two (codes, absmax). */
static size_t arrays_per_state(const opt_tensor *t) { return t->quantized ? 2 : 1; }

size_t nde_optim_n_state(const nde_optim *o)
{
    if (!o) return 0;
    size_t n = n_scalar_states(o);
    for (size_t i = 0; i < o->n_tensors; i++)
        n += arrays_per_state(&o->tensors[i]) * (size_t)o->layout.n_states;
    return n;
}

nde_status nde_optim_state(nde_optim *o, size_t i, nde_optim_state_view *v)
{
    if (!o || !v) return NDE_FAIL(NDE_ERR_ARG, "nde_optim_state: NULL argument");
    const size_t total = nde_optim_n_state(o);
    if (i >= total)
        return NDE_FAIL(NDE_ERR_ARG, "nde_optim_state: index %zu out of range (%zu arrays)", i,
                        total);
    memset(v, 0, sizeof *v);
    if (i >= total - n_scalar_states(o)) {
        snprintf(v->name, sizeof v->name, "optim.mu_product");
        v->dtype = NDE_OPTIM_F64;
        v->ndim = 1;
        v->shape[0] = 1;
        v->numel = 1;
        v->data = &o->mu_product;
        return NDE_OK;
    }
    size_t ti = 0;
    for (;; ti++) {
        const size_t n = arrays_per_state(&o->tensors[ti]) * (size_t)o->layout.n_states;
        if (i < n) break;
        i -= n;
    }
    opt_tensor *t = &o->tensors[ti];
    const nde_tensor_info *info = nde_params_tensor(o->params, t->index);
    const size_t per = arrays_per_state(t);
    const int k = (int)(i / per), part = (int)(i % per);
    const char *suffix = !t->quantized ? "" : (part == 0 ? ".codes" : ".absmax");
    snprintf(v->name, sizeof v->name, "optim.%s.%s%s", o->layout.names[k], info->name, suffix);
    if (t->quantized && part == 1) {
        v->dtype = NDE_OPTIM_F64;
        v->ndim = 1;
        v->shape[0] = t->n_blocks;
        v->numel = t->n_blocks;
        v->data = t->absmax[k];
        return NDE_OK;
    }
    v->dtype = t->quantized ? NDE_OPTIM_U8 : NDE_OPTIM_F64;
    v->ndim = info->ndim;
    for (int d = 0; d < info->ndim; d++) v->shape[d] = info->shape[d];
    v->numel = t->numel;
    v->data = t->quantized ? (void *)t->codes[k] : (void *)t->full[k];
    return NDE_OK;
}
