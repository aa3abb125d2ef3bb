/** @file
 * nde/optim.h — optimizers over the flat parameter store, gradient clipping and
 * 8-bit block-wise optimizer states.
 *
 * An nde_optim reads the gradient of an nde_params and updates θ in place, tensor by
 * tensor, in the order of operations of the reference implementation named below
 * (so a double-precision run matches it to rounding). `t` is the 1-based update count:
 * the first nde_optim_step uses t = 1. "lr" is the learning rate in force for the step
 * (nde_optim_set_lr, usually from a schedule in nde/schedule.h) times the tensor
 * group's lr_scale.
 *
 *   kind            reference (order of operations)                   defaults
 *   NDE_OPT_SGD       torch.optim.SGD 1.13: wd as L2 on g; momentum buf  lr 1e-2, momentum 0
 *                     = g at t=1, then μ·buf + (1−dampening)·g;
 *                     Nesterov g + μ·buf
 *   NDE_OPT_RMSPROP   torch.optim.RMSprop 1.13 (L2 wd, centered,        lr 1e-2, α 0.99,
 *                     momentum buffer of g/(√v+ε))                       eps 1e-8
 *   NDE_OPT_ADAM      torch.optim.Adam 1.13 (Kingma & Ba 2015): L2 wd;   lr 1e-3, β (0.9,0.999),
 *                     θ −= lr/(1−β1^t) · m/(√v/√(1−β2^t) + ε);         eps 1e-8, wd 0
 *                     AMSGrad (Reddi et al. 2018) keeps max of raw v
 *   NDE_OPT_ADAMW     torch.optim.AdamW 1.13 (Loshchilov & Hutter 2019): as Adam with
 *                     θ ·= (1 − lr·wd) first                            wd 1e-2
 *   NDE_OPT_ADAMAX    torch.optim.Adamax 1.13: u = max(β2·u, |g|+ε),    lr 2e-3, β (0.9,0.999)
 *                     θ −= lr/(1−β1^t) · m/u
 *   NDE_OPT_NADAMW    AlgoPerf baseline (mlcommons/algorithmic-efficiency,
 *                     pytorch_nadamw_full_budget.py; Dozat 2016 via arXiv 1910.05446
 *                     Table 1): θ ·= (1−lr·wd); m, v as Adam;
 *                     θ −= lr/(1−β1^t) · (β1·m + (1−β1)·g)/(√v/√(1−β2^t)+ε)
 *                                                                      lr 1e-3, β (0.9,0.999),
 *                                                                      eps 1e-8, wd 1e-2
 *   NDE_OPT_LION      Lion (Chen et al. 2023, google/automl lion_pytorch.py) and Lion-K
 *                     (Chen, Liu, Liang, Liu 2023, arXiv 2310.05898):
 *                     θ ·= (1 − lr·wd); θ −= lr·∇K(β1·m + (1−β1)·g); m = β2·m + (1−β2)·g
 *                     ∇K = sign for K = ‖·‖₁ (plain Lion)               lr 1e-4, β (0.9,0.99), wd 0
 *   NDE_OPT_ADAN      Adan (Xie et al. 2022), sail-sg/Adan adan.py code form (code β's):
 *                     with max_grad_norm > 0, g ·= min(1, max_grad_norm/(‖g‖₂ + ε)), ‖g‖₂
 *                     over all tensors (the clipped g also becomes g_prev);
 *                     d = g − g_prev (0 at t=1); m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·d;
 *                     n = β3·n + (1−β3)·(g + β2·d)²;
 *                     θ −= [lr/(1−β1^t)·m + lr·β2/(1−β2^t)·v] / (√n/√(1−β3^t) + ε);
 *                     then θ /= (1 + lr·wd) (proximal), or with adan_no_prox θ ·= (1−lr·wd)
 *                     before the step                                  lr 1e-3,
 *                                                                      β (0.98,0.92,0.99),
 *                                                                      eps 1e-8, wd 0,
 *                                                                      no clipping
 *   NDE_OPT_ADABELIEF AdaBelief (Zhuang et al. 2020), adabelief_pytorch 0.2.1:
 *                     decoupled wd θ ·= (1 − lr·wd) (fixed_decay: θ ·= (1 − wd)), or L2 on
 *                     g, first; m = β1·m + (1−β1)·g;
 *                     s = β2·s + (1−β2)·(g−m)² + ε (ε kept in the state);
 *                     θ −= lr/(1−β1^t) · m/(√s/√(1−β2^t) + ε); optional RAdam
 *                     rectification (Liu et al. 2020) and AMSGrad       lr 1e-3, β (0.9,0.999),
 *                                                                      eps 1e-16, decoupled,
 *                                                                      rectify on, wd 0
 *   NDE_OPT_NADAM     torch.optim.NAdam (Dozat 2016, Nesterov momentum with the momentum
 *                     schedule ψ): L2 wd on g, or with decoupled_wd θ ·= (1 − lr·wd) first
 *                     (torch ≥ 2.1 decoupled_weight_decay); μ_t = β1·(1 − ½·0.96^(t·ψ)),
 *                     Π_t = μ_1···μ_t (state mu_product); m, v as Adam;
 *                     D = √v/√(1−β2^t) + ε; θ −= lr·(1−μ_t)/(1−Π_t) · g/D, then
 *                     θ −= lr·μ_{t+1}/(1−Π_t·μ_{t+1}) · m/D. This is the documented rule
 *                     of torch 1.13 and ≥ 2.0; torch 1.13's default single-tensor path
 *                     had Π_t·μ_t·μ_{t+1} in the last denominator (PyTorch PR 92699)
 *                                                                      lr 2e-3, β (0.9,0.999),
 *                                                                      eps 1e-8, wd 0 (L2),
 *                                                                      ψ 4e-3
 *
 * Parameter groups: each tensor's nde_tensor_info.group selects its weight decay and
 * lr scale. Tensors in NDE_GROUP_NO_DECAY get weight decay 0 (biases, norms); spec.groups
 * overrides any group (including that one). Groups not listed use spec.weight_decay
 * and lr_scale 1.
 *
 * 8-bit states (state_bits = 8; Dettmers et al., "8-bit Optimizers via Block-wise
 * Quantization", ICLR 2022; bitsandbytes): for NDE_OPT_ADAM, NDE_OPT_ADAMW, NDE_OPT_LION
 * and NDE_OPT_ADABELIEF, every state tensor of a parameter tensor with at least
 * min_8bit_numel elements is stored as one uint8 code per element plus one double absmax
 * per block of block_size elements. Signed states (first moments) use bitsandbytes'
 * signed dynamic code book, non-negative states (second moments) the unsigned one. Each
 * step dequantizes a block, runs the same update as the full-precision optimizer on it,
 * recomputes the block's absmax from the updated state and requantizes to the nearest
 * code (ties to the lower code; a first-moment code whose sign differs from the value
 * moves one code towards it, as in bitsandbytes' kernels). Smaller tensors keep
 * full-precision state. The update rule, including weight-decay order, is the one of
 * the kind in the table above.
 *
 * Errors: functions return NDE_ERR_ARG for NULL or out-of-range arguments,
 * NDE_ERR_UNSUPPORTED for option combinations that have no meaning (listed at the
 * fields), NDE_ERR_NOMEM. */
#ifndef NDE_OPTIM_H
#define NDE_OPTIM_H

#include "nde/core.h"
#include "nde/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Optimizer kinds (the update rules and reference defaults are in the table above). */
typedef enum nde_optim_kind {
    NDE_OPT_SGD = 0, /**< SGD with momentum, dampening, Nesterov (torch.optim.SGD) */
    NDE_OPT_RMSPROP, /**< RMSprop (torch.optim.RMSprop) */
    NDE_OPT_ADAM, /**< Adam, L2 weight decay on the gradient (torch.optim.Adam) */
    NDE_OPT_ADAMW, /**< AdamW, decoupled weight decay (torch.optim.AdamW) */
    NDE_OPT_ADAMAX, /**< Adamax, infinity-norm Adam (torch.optim.Adamax) */
    NDE_OPT_NADAMW, /**< NAdam with decoupled weight decay */
    NDE_OPT_LION, /**< Lion and Lion-K (sign of interpolated momentum) */
    NDE_OPT_ADAN, /**< Adan (Nesterov momentum with gradient differences) */
    NDE_OPT_ADABELIEF, /**< AdaBelief (variance of the gradient around its mean) */
    NDE_OPT_NADAM, /**< appended: kinds keep their numbers (checkpoints store the name) */
    NDE_OPT_KIND_COUNT /**< number of kinds */
} nde_optim_kind;

/** Lion-K direction map ∇K applied to c = β1·m + (1−β1)·g. */
typedef enum nde_lion_k {
    NDE_LION_K_L1 = 0,    /**< K = ‖x‖₁, ∇K = sign (sign(0) = 0): plain Lion */
    NDE_LION_K_L2,        /**< K = ‖x‖₂, ∇K = x/‖x‖₂ over each tensor (0 if x = 0) */
    NDE_LION_K_HUBER,     /**< K = Huber, ∇K = clip(x, −1, 1) (optax Lion mode 'refined') */
    NDE_LION_K_QUADRATIC, /**< K = ½‖x‖₂², ∇K = x: momentum SGD with decoupled decay */
    NDE_LION_K_CUSTOM     /**< spec.lion_k_grad */
} nde_lion_k;

/** Custom ∇K: dir (n) = ∇K(c (n)) for one parameter tensor. Must not keep the pointers. */
typedef void (*nde_lion_k_grad)(void *user, const double *c, double *dir, size_t n);

/** Most parameter-group overrides in an nde_optim_spec. */
#define NDE_OPTIM_MAX_GROUPS 8

/** Per-group override of the weight decay and learning rate (a group is nde_tensor_info.group). */
typedef struct nde_optim_group {
    int group;           /**< nde_tensor_info.group this override applies to */
    double weight_decay; /**< replaces spec.weight_decay for the group */
    double lr_scale;     /**< lr multiplier for the group (1 = unchanged) */
} nde_optim_group;

/** What nde_optim_create() builds: the kind and its hyperparameters (nde_optim_defaults() fills them). */
typedef struct nde_optim_spec {
    nde_optim_kind kind; /**< the update rule */
    double lr; /**< learning rate (>= 0) */
    /** first-moment (momentum) decay β1, in [0, 1) */
    double beta1, beta2, beta3; /**< beta3: Adan only. RMSprop uses alpha */
    double eps; /**< denominator offset ε */
    double weight_decay; /**< weight decay coefficient (L2 or decoupled, as the kind does) */
    /** SGD and RMSprop: momentum factor */
    double momentum, dampening; /**< SGD: dampening of the momentum buffer */
    int nesterov;               /**< SGD: needs momentum > 0 and dampening 0 */
    double alpha;               /**< RMSprop smoothing constant */
    int centered;               /**< RMSprop: subtract the squared mean gradient */
    int amsgrad;                /**< Adam, AdamW, AdaBelief */
    int decoupled_wd;           /**< AdaBelief, NAdam: decoupled decay (1) or L2 on g (0) */
    int fixed_decay;            /**< AdaBelief with decoupled_wd: θ·(1−wd), lr not applied
                                   (NDE_ERR_UNSUPPORTED without decoupled_wd or for others) */
    int rectify;                /**< AdaBelief: RAdam rectification */
    int degenerated_to_sgd;     /**< AdaBelief with rectify: SGD steps while N_sma < 5 */
    double momentum_decay;      /**< NAdam: ψ of the momentum schedule μ_t */
    int adan_no_prox;           /**< Adan: θ·(1−lr·wd) before the step instead of /(1+lr·wd) */
    double max_grad_norm;       /**< Adan: global-norm clipping inside the step (0 = off;
                                   NDE_ERR_UNSUPPORTED for other kinds) */
    nde_lion_k lion_k; /**< Lion: the direction map ∇K (NDE_LION_K_L1: plain Lion) */
    nde_lion_k_grad lion_k_grad; /**< NDE_LION_K_CUSTOM only */
    void *lion_k_user; /**< passed to lion_k_grad */
    int state_bits;        /**< 32 (full precision, stored as double) or 8 */
    size_t block_size;     /**< 8-bit block length: 256 (default) or 2048, any of 64..4096 */
    size_t min_8bit_numel; /**< tensors smaller than this keep full-precision state (4096) */
    nde_optim_group groups[NDE_OPTIM_MAX_GROUPS]; /**< per-group overrides, the first n_groups used */
    int n_groups; /**< number of overrides in groups (0 … NDE_OPTIM_MAX_GROUPS) */
/** @var nde_optim_spec::beta2
 *  second-moment decay β2, in [0, 1) */
} nde_optim_spec;

/** An optimizer (opaque) over every tensor of one nde_params: its state and workspace. */
typedef struct nde_optim nde_optim;

/** The reference defaults of `kind` (table above), state_bits 32, block_size 256,
 * min_8bit_numel 4096, no group overrides. An out-of-range kind gives the SGD defaults
 * with kind set as passed, which nde_optim_create rejects. */
NDE_API nde_optim_spec nde_optim_defaults(nde_optim_kind kind);

/** "sgd", "rmsprop", "adam", "adamw", "adamax", "nadamw", "lion", "adan", "adabelief",
 * "nadam"; "unknown" for an out-of-range kind. */
NDE_API const char *nde_optim_kind_name(nde_optim_kind kind);
/** Inverse of nde_optim_kind_name (case-insensitive). NDE_ERR_ARG for an unknown name. */
NDE_API nde_status nde_optim_kind_parse(const char *name, nde_optim_kind *kind);

/** Create an optimizer for every tensor of `params` (borrowed: it must outlive the
 * optimizer and must not gain tensors afterwards). Allocates all state and workspace
 * here; nde_optim_step does not allocate. Errors: NDE_ERR_ARG for a non-finite or
 * negative lr/eps/weight decay/momentum_decay/max_grad_norm, a beta outside [0, 1),
 * nesterov without momentum or with dampening, NDE_LION_K_CUSTOM without lion_k_grad,
 * state_bits not 8 or 32, block_size outside [64, 4096], more than NDE_OPTIM_MAX_GROUPS
 * groups, an empty parameter store; NDE_ERR_UNSUPPORTED for 8-bit states of other kinds
 * (SGD, RMSprop, Adamax, NAdamW, Adan, NAdam) or with Lion-K ∇K that is not element-wise
 * (L2, custom), fixed_decay other than with AdaBelief's decoupled_wd, max_grad_norm > 0
 * for a kind other than Adan. */
NDE_API nde_status nde_optim_create(const nde_optim_spec *spec, nde_params *params,
                                    nde_optim **opt);
NDE_API void nde_optim_destroy(nde_optim **opt); /**< NULL-safe; sets *opt = NULL */

/** One update: reads the params' gradient, updates θ and the state in place, t += 1.
 * NDE_ERR_NONFINITE (naming the tensor and element) if any gradient entry is NaN or
 * Inf; then nothing is changed. */
NDE_API nde_status nde_optim_step(nde_optim *opt);

/** Learning rate for the following steps (e.g. schedule(t) before each step). lr must be
 * finite and >= 0. */
NDE_API nde_status nde_optim_set_lr(nde_optim *opt, double lr);
/** Learning rate of the following steps. */
NDE_API double nde_optim_lr(const nde_optim *opt);
NDE_API uint64_t nde_optim_step_count(const nde_optim *opt); /**< completed steps */
/** The optimizer's spec (borrowed; its lr is the creation-time value). */
NDE_API const nde_optim_spec *nde_optim_get_spec(const nde_optim *opt);

/** Bytes held by optimizer state (moments, codes, absmax; not workspace). */
NDE_API size_t nde_optim_state_bytes(const nde_optim *opt);

/* ---- state as named tensors (checkpoints) ----------------------------------
 * State i (0 <= i < nde_optim_n_state) is one array: a full-precision state of a
 * parameter tensor, "optim.<state>.<param name>" (double, the param's shape), or for an
 * 8-bit state its codes "optim.<state>.<param name>.codes" (uint8, the param's shape)
 * and block maxima "optim.<state>.<param name>.absmax" (double, (n_blocks)). <state> is
 * momentum_buffer, square_avg, grad_avg, exp_avg, exp_avg_sq, max_exp_avg_sq, exp_inf,
 * exp_avg_diff, prev_grad, exp_avg_var or max_exp_avg_var. NDE_OPT_NADAM has one more,
 * last: the optimizer-wide scalar "optim.mu_product" (double, shape (1)), Π_t = μ_1···μ_t
 * over the completed steps (1 before the first). The data pointer refers to the
 * optimizer's own storage (write through it to restore state). */
/** Element type of an optimizer state array. */
typedef enum nde_optim_dtype { NDE_OPTIM_F64 = 0, /**< double */ NDE_OPTIM_U8 /**< uint8 (8-bit codes) */ } nde_optim_dtype;

/** One state array of an optimizer as a named tensor (see above), pointing into the optimizer's storage. */
typedef struct nde_optim_state_view {
    char name[NDE_PARAM_NAME_MAX + 40]; /**< "optim.<state>.<param name>" (with ".codes" or ".absmax" for 8-bit states) */
    nde_optim_dtype dtype; /**< element type */
    int ndim; /**< number of dimensions */
    size_t shape[NDE_PARAM_MAX_DIMS]; /**< dimensions, row-major */
    size_t numel; /**< number of elements */
    void *data; /**< (numel) of dtype */
} nde_optim_state_view;

/** Number of state arrays (see above). */
NDE_API size_t nde_optim_n_state(const nde_optim *opt);
/** Describe state array i (0 <= i < nde_optim_n_state()) in *view; NDE_ERR_ARG if i is out of range. */
NDE_API nde_status nde_optim_state(nde_optim *opt, size_t i, nde_optim_state_view *view);
/** Restore the step count and lr (checkpoint loading). */
NDE_API nde_status nde_optim_restore(nde_optim *opt, uint64_t step_count, double lr);

/* ---- 8-bit block-wise quantization ------------------------------------------
 * The code books are bitsandbytes' create_dynamic_map (bitsandbytes >= 0.42): 256 sorted
 * float32 values, signed in [−0.99296875, 1] with 0 at index 127, unsigned in [0, 1]
 * with 0 at index 0. nde_q8_code returns the table (static storage). */
/** bitsandbytes' dynamic 8-bit code book (256 sorted float32 values), signed or unsigned; static storage. */
NDE_API const float *nde_q8_code(int is_signed);

/** One block: *absmax = max|x_i|; codes[i] = index of the code nearest to x_i/absmax
 * (ties to the lower index; absmax 0 quantizes everything to the code 0). Signed blocks
 * get bitsandbytes' sign fix (a negative value never gets the code 0).
 * x: (n), codes: (n) */
NDE_API void nde_q8_quantize_block(const double *x, size_t n, int is_signed, uint8_t *codes,
                                   double *absmax);
/** x_i = code[codes[i]]·absmax. codes: (n), x: (n) */
NDE_API void nde_q8_dequantize_block(const uint8_t *codes, size_t n, double absmax, int is_signed,
                                     double *x);

/* ---- gradient clipping -----------------------------------------------------
 * Global-norm clipping as torch.nn.utils.clip_grad_norm_ (1.13): ‖g‖₂ over all n
 * entries; if ‖g‖₂ > max_norm, g ·= max_norm/(‖g‖₂ + 1e-6). *norm_before (may be NULL)
 * receives ‖g‖₂. NDE_ERR_ARG for NULL g with n > 0 or max_norm not finite and > 0;
 * NDE_ERR_NONFINITE if the norm is not finite (g unchanged). */
/** grad: (n) */
NDE_API nde_status nde_clip_grad_norm(double *grad, size_t n, double max_norm, double *norm_before);

#ifdef __cplusplus
}
#endif
#endif
