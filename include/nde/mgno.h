/** @file
 * nde/mgno.h — convolution primitives and the multigrid neural operator (MgNO).
 *
 * Three levels of API:
 *   1. nde_conv: a planned 1-D or 2-D convolution or transposed convolution with
 *      stride, implicit padding and a zero / periodic / reflect padding mode, with
 *      forward and vector–Jacobian product. Computed as im2col + GEMM (OpenBLAS).
 *   2. nde_mgconv: one MgNO linear operator W_Mg — a learned multigrid V-cycle whose
 *      smoother S, operator A, restrictions Π (for u) and R (for f) and prolongation
 *      (transposed convolution) are convolutions (He, Liu & Xu, "MgNO: Efficient
 *      Parameterization of Linear Operators via Multigrid", ICLR 2024, arXiv
 *      2310.19809; the layer computes what `MgConv_DC` in github.com/xlliu2017/MgNO
 *      computes).
 *   3. nde_mgno: the MgNO network (`MgNO_DC`): L layers u ← GELU(W_Mg u + W u + b)
 *      with W a 1×1 convolution, then a bias-free 1×1 projection.
 *   nde_mgconv and nde_mgno borrow params; never initialize in create (create adds
 *   zero tensors, _init draws them; one owner, e.g. an nde_model, owns the store).
 *
 * Conventions (PyTorch's, so weights can be exchanged):
 *   fields are (batch, channels, n1[, n2]) row-major, last dimension contiguous;
 *   convolution is cross-correlation
 *       y[o, i] = b[o] + Σ_{c, k} w[o, c, k] · x[c, pad(s·i + k − p)]   (per dimension)
 *   with weights (c_out, c_in, k[, k]); a transposed convolution has weights
 *   (c_in, c_out, k[, k]) and is the exact adjoint (in x) of the convolution with the
 *   same kernel, stride, padding and padding mode that maps its output grid back to
 *   its input grid; with zero padding it equals torch.nn.ConvTranspose{1,2}d.
 *   Output sizes: convolution ⌊(n + 2p − k)/s⌋ + 1, transposed (n − 1)·s − 2p + k.
 *   Padding modes: zero; periodic (PyTorch 'circular', index mod n); reflect
 *   (PyTorch 'reflect', mirrored without repeating the edge: x[−1] = x[1], needs
 *   p < n).
 *
 * Every object here is a plan: create once (allocates index tables and workspace),
 * execute many times without allocating. A plan is not safe for concurrent use from
 * several threads; create one per thread. */
#ifndef NDE_MGNO_H
#define NDE_MGNO_H

#include "nde/core.h"
#include "nde/field.h"
#include "nde/operators.h" /* nde_precision */
#include "nde/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- convolution primitives ------------------------------------------------ */

/** How a convolution pads the grid. */
typedef enum nde_pad_mode {
    NDE_PAD_ZERO = 0,  /**< zeros outside the grid (Dirichlet-type boundaries) */
    NDE_PAD_PERIODIC,  /**< wrap around (periodic boundaries) */
    NDE_PAD_REFLECT,   /**< mirror without repeating the edge (Neumann-type) */
    NDE_PAD_MODE_COUNT /**< number of modes */
} nde_pad_mode;

NDE_API const char *nde_pad_mode_name(nde_pad_mode m); /**< "zero", "periodic", "reflect" */

/** What nde_conv_create() plans: a 1-D or 2-D (transposed) convolution. */
typedef struct nde_conv_spec {
    int ndim;            /**< spatial dimensions: 1 or 2 */
    int transposed;      /**< 0: convolution, 1: transposed convolution */
    /** input channels, >= 1 */
    size_t c_in, c_out;  /**< output channels, >= 1 */
    size_t n_in[2];      /**< input grid; n_in[1] is ignored when ndim == 1 */
    size_t kernel;       /**< kernel width in every dimension, >= 1 */
    size_t stride;       /**< >= 1 */
    size_t pad;          /**< implicit padding on each side */
    nde_pad_mode pad_mode; /**< how the padding is filled */
} nde_conv_spec;

/** A planned convolution (opaque); weights and biases are passed to each call. */
typedef struct nde_conv nde_conv;

/** Plan a convolution. Errors: NDE_ERR_ARG for NULL, ndim not 1 or 2, a zero channel
 * count, kernel or stride, an unknown padding mode, reflect padding with pad >= n or
 * periodic padding with pad > n (n the grid the padding applies to); NDE_ERR_SHAPE
 * when the output grid would be empty; NDE_ERR_NOMEM. */
NDE_API nde_status nde_conv_create(const nde_conv_spec *spec, nde_conv **conv);
NDE_API void nde_conv_destroy(nde_conv **conv); /**< NULL-safe; sets *conv = NULL */

/** The spec the convolution was planned with (borrowed). */
NDE_API const nde_conv_spec *nde_conv_get_spec(const nde_conv *conv);
/** Output grid size along dimension d (0 or 1; 1 for d >= ndim). */
NDE_API size_t nde_conv_out_size(const nde_conv *conv, int d);
NDE_API size_t nde_conv_in_numel(const nde_conv *conv);     /**< c_in  · Π n_in  (one sample) */
NDE_API size_t nde_conv_out_numel(const nde_conv *conv);    /**< c_out · Π n_out (one sample) */
NDE_API size_t nde_conv_weight_numel(const nde_conv *conv); /**< c_in · c_out · kernel^ndim */

/** y = conv(x; w) + b, or y += conv(x; w) + b when accumulate != 0.
 * w: (c_out, c_in, k[, k]) — transposed: (c_in, c_out, k[, k]); b: (c_out) or NULL;
 * x: (batch, c_in, n_in...); y: (batch, c_out, n_out...). x and y must not overlap.
 * Errors: NDE_ERR_ARG for NULL conv/w/x/y or batch == 0. */
NDE_API nde_status nde_conv_forward(nde_conv *conv, const double *w, const double *b,
                                    const double *x, double *y, size_t batch, int accumulate);

/** Vector–Jacobian product for gy (batch, c_out, n_out...):
 *   gx (batch, c_in, n_in...) += ∂⟨gy, y⟩/∂x     (NULL → not wanted)
 *   gw (weight shape)         += ∂⟨gy, y⟩/∂w     (NULL → not wanted; needs x)
 *   gb (c_out)                += Σ gy per channel (NULL → not wanted)
 * Everything is accumulated, so callers zero the outputs first. x may be NULL when
 * gw is NULL. Errors: NDE_ERR_ARG for NULL conv/w/gy, a missing x with gw, batch 0. */
NDE_API nde_status nde_conv_vjp(nde_conv *conv, const double *w, const double *x, const double *gy,
                                double *gx, double *gw, double *gb, size_t batch);

/* ---- MgNO ------------------------------------------------------------------ */

/** Most multigrid levels of an MgNO layer. */
#define NDE_MGNO_MAX_LEVELS 10

/** One multigrid V-cycle operator W_Mg mapping f (c_f channels) to u (c_u channels)
 * on a grid n (finest level 0). Level l+1 has ⌈n_l / 2⌉ points per dimension
 * (3-wide stride-2 convolutions with padding 1). With pre[l] and post[l] smoothing
 * steps on level l, the cycle is (MgConv_DC in the official code):
 *   level 0:      u = S ∗ f, then pre[0] − 1 steps u ← u + S ∗ (f − A ∗ u)
 *   l = 1..J−1:   u_l = Π ∗₂ u_{l−1},  f_l = R ∗₂ f_{l−1},  pre[l] smoothing steps
 *   l = J−2..0:   u_l ← u_l + Πᵀ ∗ u_{l+1} (transposed conv, stride 2, padding 1,
 *                 kernel 4 when n_l is even and 3 when odd, so sizes match exactly;
 *                 zero padding as in the official code), then post[l] smoothing steps
 * Every S, A, Π, R, Πᵀ is its own 3-wide (3×3 in 2-D) learned convolution; S and A
 * use pad_mode and have biases when `bias` is set; Π and R use pad_mode, no bias. */
typedef struct nde_mgconv_spec {
    int ndim;                       /**< 1 or 2 */
    size_t n[2];                    /**< finest grid; n[1] ignored when ndim == 1 */
    /** input channels (f) */
    size_t c_f, c_u;                /**< output channels (u) */
    int levels;                     /**< J in [1, NDE_MGNO_MAX_LEVELS] */
    int pre[NDE_MGNO_MAX_LEVELS];   /**< smoothing steps before coarsening; pre[0] >= 1 */
    int post[NDE_MGNO_MAX_LEVELS];  /**< smoothing steps after the coarse correction */
    nde_pad_mode pad_mode;          /**< padding of the S, A, Π and R convolutions */
    int bias;                       /**< biases on S and A */
    nde_precision precision;        /**< layer arithmetic (see nde_mgno_spec::precision) */
} nde_mgconv_spec;

/** The MgNO network (MgNO_DC): for i = 1..n_layers,
 *   u ← GELU(W_Mg,i u + W_i u + b_i)        (W_i: 1×1 convolution with bias)
 * then y = P u with P a bias-free 1×1 convolution width → c_out. The first layer maps
 * c_in channels, later ones `width`. GELU is the exact erf form. The rough-Darcy
 * recipe (c_in 1, width 24, 4 layers, 6 levels, pre {1,1,1,1,1,2}) has 572,661
 * parameters. The precision rules of nde_fno_spec apply (see nde_precision). */
typedef struct nde_mgno_spec {
    int ndim; /**< 1 or 2 */
    size_t n[2]; /**< finest grid; n[1] ignored when ndim == 1 */
    /** input channels */
    size_t c_in, c_out, width; /**< hidden channels of the layers */
    size_t n_layers;                /**< >= 1 */
    int levels;                     /**< multigrid levels J of every layer, in [1, NDE_MGNO_MAX_LEVELS] */
    int pre[NDE_MGNO_MAX_LEVELS];   /**< smoothing steps before coarsening per level; pre[0] >= 1 */
    int post[NDE_MGNO_MAX_LEVELS];  /**< smoothing steps after the coarse correction per level */
    nde_pad_mode pad_mode;          /**< padding of every convolution */
    int bias;                       /**< biases on S and A inside every W_Mg */
    /** layer arithmetic: NDE_PRECISION_FLOAT64 (a zeroed spec) or NDE_PRECISION_FLOAT32
     * (nde_mgno_darcy_spec()): then every convolution (im2col + sgemm), GELU and the
     * activations (also those kept by nde_mgno_forward_keep) are float, while θ stays the
     * double store (converted to a float copy on every forward, vjp and backward) and
     * each sample's float θ-gradient is added into the caller's double gtheta. Inputs
     * and outputs stay double arrays. */
    nde_precision precision;
/** @var nde_mgno_spec::c_out
 *  output channels */
} nde_mgno_spec;

/** One multigrid V-cycle layer W_Mg (opaque) whose tensors live in an nde_params. */
typedef struct nde_mgconv nde_mgconv;
/** An MgNO network (opaque) whose tensors live in an nde_params. */
typedef struct nde_mgno nde_mgno;

/** Parameter ownership: a layer or network borrows params; never initializes in create.
 * create builds the layer/network and adds its tensors to `params` (borrowed; must
 * outlive the object) under names starting with `prefix` (e.g. "mgno" →
 * "mgno.0.mg.l0.pre0.S.weight"); the new tensors stay zero (e.g. before loading a
 * checkpoint). Errors: NDE_ERR_ARG for NULL arguments, bad counts (levels, pre[0] < 1,
 * negative steps, zero channels or layers), a grid too small for `levels` (coarsest
 * level needs >= 2 points per dimension); errors of nde_params_add and nde_conv_create;
 * an unknown precision; NDE_ERR_NOMEM. On error *layer / *model is NULL. */
NDE_API nde_status nde_mgconv_create(const nde_mgconv_spec *spec, nde_params *params, const char *prefix,
                                     nde_mgconv **layer);
/** Draw every weight and bias as PyTorch's defaults do: U(−1/√fan_in, 1/√fan_in) with
 * fan_in = (input channels of the weight's second axis) · k^ndim, tensor by tensor in the
 * order create added them (the draws of the former create-with-rng, bit for bit).
 * Overwrites only this object's tensors. Errors: NDE_ERR_ARG for NULL arguments. */
NDE_API nde_status nde_mgconv_init(nde_mgconv *layer, nde_rng *rng);
NDE_API void nde_mgconv_destroy(nde_mgconv **layer); /**< NULL-safe; sets *layer = NULL */
/** Create an MgNO network and add its tensors to params (see nde_mgconv_create() for ownership and errors). */
NDE_API nde_status nde_mgno_create(const nde_mgno_spec *spec, nde_params *params, const char *prefix,
                                   nde_mgno **model);
/** Draw every weight and bias as nde_mgconv_init() does, layer by layer. */
NDE_API nde_status nde_mgno_init(nde_mgno *model, nde_rng *rng);
NDE_API void nde_mgno_destroy(nde_mgno **model); /**< NULL-safe; sets *model = NULL */

/** The rough-Darcy recipe of the MgNO paper's code on an n×n grid: c_in 1, c_out 1,
 * width 24, 4 layers, 6 levels with pre {1,1,1,1,1,2}, post 0, zero padding, no bias;
 * float32 layers (NDE_PRECISION_FLOAT32), as the FNO's named specs. */
NDE_API nde_mgno_spec nde_mgno_darcy_spec(size_t n);

/** Per-sample sizes: in = c_in·Π n, out = c_out·Π n (c_f, c_u for the layer). */
NDE_API size_t nde_mgconv_in_numel(const nde_mgconv *layer);
/** Output doubles per sample: c_u · Π n. */
NDE_API size_t nde_mgconv_out_numel(const nde_mgconv *layer);
/** Input doubles per sample: c_in · Π n. */
NDE_API size_t nde_mgno_in_numel(const nde_mgno *model);
/** Output doubles per sample: c_out · Π n. */
NDE_API size_t nde_mgno_out_numel(const nde_mgno *model);
/** Parameters this object added to its store. */
NDE_API size_t nde_mgconv_n_params(const nde_mgconv *layer);
/** Parameters the network added to its store. */
NDE_API size_t nde_mgno_n_params(const nde_mgno *model);

/** Forward: y (batch, out) from x (batch, in), reading θ from the store.
 * Errors: NDE_ERR_ARG for NULL or batch == 0; NDE_ERR_NONFINITE when y is not finite. */
NDE_API nde_status nde_mgconv_forward(nde_mgconv *layer, const double *x, double *y, size_t batch);
/** Forward of the network: y (batch, out) from x (batch, in); errors as nde_mgconv_forward(). */
NDE_API nde_status nde_mgno_forward(nde_mgno *model, const double *x, double *y, size_t batch);

/** Vector–Jacobian product for gy (batch, out): gx (batch, in) is OVERWRITTEN with
 * gyᵀ ∂y/∂x (NULL → not wanted); gtheta (length nde_params_count of the store, same
 * layout as θ) is ACCUMULATED with gyᵀ ∂y/∂θ (NULL → not wanted). The forward pass is
 * recomputed sample by sample (nothing is kept between calls).
 * Errors: NDE_ERR_ARG for NULL layer/x/gy or batch == 0. */
NDE_API nde_status nde_mgconv_vjp(nde_mgconv *layer, const double *x, const double *gy, double *gx,
                                  double *gtheta, size_t batch);
/** Vector–Jacobian product of the network, as nde_mgconv_vjp(). */
NDE_API nde_status nde_mgno_vjp(nde_mgno *model, const double *x, const double *gy, double *gx,
                                double *gtheta, size_t batch);

/** Training without recomputing the forward pass (about a third less work per step than
 * forward + vjp): nde_mgno_reserve allocates room for the activations of max_batch
 * samples (the bytes of every intermediate field of one sample, times max_batch);
 * nde_mgno_forward_keep is nde_mgno_forward that keeps them (batch <= max_batch, else
 * NDE_ERR_ARG); nde_mgno_backward then gives what nde_mgno_vjp would for the same x,
 * provided θ did not change in between. Any plain forward discards the kept
 * activations; backward without them, or with another batch size, is NDE_ERR_STATE. */
NDE_API nde_status nde_mgno_reserve(nde_mgno *model, size_t max_batch);
/** nde_mgno_forward() that keeps the activations for nde_mgno_backward() (see above). */
NDE_API nde_status nde_mgno_forward_keep(nde_mgno *model, const double *x, double *y, size_t batch);
/** What nde_mgno_vjp() gives, from the activations nde_mgno_forward_keep() kept (see above). */
NDE_API nde_status nde_mgno_backward(nde_mgno *model, const double *gy, double *gx, double *gtheta,
                                     size_t batch);

/** The network as a vector field f(t, u) = MgNO(u) (t is ignored), for ODE solvers and
 * adjoints: dim = in = out (requires c_in == c_out, else the returned field has
 * f == NULL and nde_field_check fails), n_params = nde_params_count of the store at
 * the time of the call. The field borrows the model. */
NDE_API nde_field nde_mgno_field(nde_mgno *model);

#ifdef __cplusplus
}
#endif
#endif
