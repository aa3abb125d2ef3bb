/** @file
 * nde/nn.h — neural-network layers: activations, dense layers, initializers and the
 * multilayer perceptron (with an optional time input), plus its vector-field adaptor.
 *
 * Layouts follow PyTorch so weights and results can be compared with torch.nn:
 * activations are (batch, features) row-major; a dense layer's weight is (out, in)
 * row-major and its bias (out), i.e. y = x Wᵀ + b as in torch.nn.Linear.
 * Layers own no parameters: they register named tensors in a caller's nde_params and
 * keep offsets into θ and the flat gradient, so several modules can share one θ.
 *
 * Typical use (compiled and run by the test suite; a model such as the spiral's
 * du/dt = MLP(u³) wraps nde_mlp_forward/nde_mlp_vjp in its own field instead):
 *     nde_params *p;   NDE_TRY(nde_params_create(&p));
 *     nde_mlp *net;    NDE_TRY(nde_mlp_create(p, &(nde_mlp_spec){.in = 2, .out = 2,
 *                          .hidden = {50}, .act = NDE_ACT_TANH}, "mlp", &net));
 *     nde_rng rng;     nde_rng_seed(&rng, 1);
 *     NDE_TRY(nde_mlp_init(net, p, NDE_INIT_NORMAL, 0.1, &rng));
 *     nde_field f;     NDE_TRY(nde_mlp_field(net, p, &f));   // f(t, u) = MLP(u)
 *     double u[2] = {1.0, 0.5}, du[2];
 *     NDE_TRY(f.f(f.ctx, 0.0, u, du, 1));                    // one sample
 *     nde_mlp_destroy(&net);  nde_params_destroy(&p);
 */
#ifndef NDE_NN_H
#define NDE_NN_H

#include "nde/core.h"
#include "nde/field.h"
#include "nde/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- activations -------------------------------------------------------------
 * Element-wise, double precision, NaN propagating. Definitions follow PyTorch's
 * defaults (torch.nn.functional):
 *   identity  x
 *   tanh      tanh x (vectorized kernel: relative error ≤ 4e-16 against the exact value,
 *             exactly ±1 for |x| ≥ 20, odd, NaN → NaN)
 *   sigmoid   1 / (1 + e^-x)
 *   relu      max(x, 0); derivative 0 at x = 0 (as torch)
 *   gelu      x Φ(x) = ½ x erfc(−x/√2) (exact erf form, torch.nn.GELU())
 *   softplus  log(1 + e^x), and x itself for x > 20 (torch: beta = 1, threshold = 20)
 *   swish     x sigmoid(x) (SiLU) */
/** Activation functions (the formulas are in the list above). */
typedef enum nde_act {
    NDE_ACT_IDENTITY = 0, /**< x */
    NDE_ACT_TANH, /**< tanh x */
    NDE_ACT_SIGMOID, /**< 1 / (1 + e^-x) */
    NDE_ACT_RELU, /**< max(x, 0) */
    NDE_ACT_GELU, /**< x Φ(x), the exact erf form */
    NDE_ACT_SOFTPLUS, /**< log(1 + e^x) */
    NDE_ACT_SWISH, /**< x sigmoid(x) (SiLU) */
    NDE_ACT_COUNT /**< number of activations */
} nde_act;

/** "identity", "tanh", "sigmoid", "relu", "gelu", "softplus", "swish"; "unknown" if
 * out of range. */
NDE_API const char *nde_act_name(nde_act a);
/** Parse a name as printed by nde_act_name, case-insensitive; "silu" and "linear" are
 * accepted for swish and identity. NDE_ERR_ARG (with the name) if unknown or NULL. */
NDE_API nde_status nde_act_parse(const char *name, nde_act *a);

/** y (n) = act(x (n)). y may alias x. NDE_ERR_ARG for an unknown activation or NULL
 * arrays with n > 0. */
NDE_API nde_status nde_act_forward(nde_act a, const double *x, double *y, size_t n);

/** dx (n) = dy (n) ⊙ act'(x), where y = act(x) is the forward output (each activation
 * uses x or y, whichever gives the exact derivative most cheaply: tanh 1 − y²,
 * sigmoid y(1 − y), the others x). Both x and y must be given. dx may alias dy.
 * The same product is the forward-mode tangent map. Errors as nde_act_forward. */
NDE_API nde_status nde_act_backward(nde_act a, const double *x, const double *y, const double *dy,
                                    double *dx, size_t n);

/* ---- initializers ------------------------------------------------------------
 * All draw from an explicit generator in a fixed order (weight row-major, then
 * bias), so the same seed gives the same bits. */
/** Weight initializers. All draw from an explicit generator in a fixed order (weight row-major, then bias), so the same seed gives the same bits. */
typedef enum nde_init {
    NDE_INIT_TORCH = 0,      /**< torch.nn.Linear default: kaiming_uniform(a=√5) gives
                                W ~ U(±1/√fan_in); b ~ U(±1/√fan_in) */
    NDE_INIT_XAVIER_UNIFORM, /**< Glorot & Bengio 2010: W ~ U(±gain·√(6/(fan_in+fan_out))), b = 0 */
    NDE_INIT_XAVIER_NORMAL,  /**< W ~ N(0, gain²·2/(fan_in+fan_out)), b = 0 */
    NDE_INIT_NORMAL,         /**< W ~ N(0, std²), b = 0 */
    NDE_INIT_COUNT /**< number of initializers */
} nde_init;

/** "torch", "xavier_uniform", "xavier_normal", "normal"; "unknown" if out of range. */
NDE_API const char *nde_init_name(nde_init k);
NDE_API nde_status nde_init_parse(const char *name, nde_init *k); /**< Parse a name as printed by nde_init_name(), case-insensitive; NDE_ERR_ARG if unknown. */

/** w (n) ~ U[lo, hi) (i.i.d.). */
NDE_API void nde_init_uniform(nde_rng *rng, double lo, double hi, double *w, size_t n);
/** w (n) ~ N(mean, std²) (i.i.d.). */
NDE_API void nde_init_normal(nde_rng *rng, double mean, double std, double *w, size_t n);
/** w (n) = value. */
NDE_API void nde_init_constant(double value, double *w, size_t n);

/* ---- dense layer -------------------------------------------------------------
 * y = [x, t] Wᵀ + b — torch.nn.Linear applied to x with, optionally, the scalar t
 * appended as one more input column (NDE_DENSE_TIME_INPUT). A plain descriptor (no
 * resources; copy it freely) holding offsets into the nde_params it was added to. */
/** Flags of nde_dense_add(). */
enum {
    NDE_DENSE_NO_BIAS = 1u << 0,    /**< no bias tensor */
    NDE_DENSE_TIME_INPUT = 1u << 1, /**< weight has in + 1 columns; the last multiplies t */
};

/** A dense layer y = [x, t] Wᵀ + b (torch.nn.Linear, optionally with the scalar t as one more input column): a plain descriptor holding offsets into the nde_params it was added to. */
typedef struct nde_dense {
    size_t in;        /**< data inputs per sample (the time column not counted) */
    size_t out;       /**< outputs per sample */
    size_t in_cols;   /**< columns of the weight: in, or in + 1 with a time input */
    int has_bias; /**< 1 if the layer has a bias tensor */
    int has_time; /**< 1 if the weight has a time column (NDE_DENSE_TIME_INPUT) */
    size_t w_off;     /**< weight (out, in_cols) at θ[w_off] */
    size_t b_off;     /**< bias (out) at θ[b_off] (when has_bias) */
} nde_dense;

/** Register "<prefix>.weight" (out, in_cols) and, unless NDE_DENSE_NO_BIAS,
 * "<prefix>.bias" (out) in group NDE_GROUP_NO_DECAY, zero-initialized, and describe
 * them in *d. prefix must be non-empty. Errors: NDE_ERR_ARG for NULL arguments, an
 * empty prefix, in or out 0, unknown flags, or a name already present in p. */
NDE_API nde_status nde_dense_add(nde_params *p, const char *prefix, size_t in, size_t out,
                                 unsigned flags, nde_dense *d);

/** Fill the layer's tensors in p by `kind` (fan_in = in_cols, fan_out = out).
 * scale: the std for NDE_INIT_NORMAL, the gain for the Xavier kinds (must be finite
 * and > 0 for those), ignored for NDE_INIT_TORCH. Errors: NDE_ERR_ARG (NULL, unknown
 * kind, bad scale), NDE_ERR_SHAPE if the layer does not fit in p. */
NDE_API nde_status nde_dense_init(const nde_dense *d, nde_params *p, nde_init kind, double scale,
                                  nde_rng *rng);

/** y (batch, out) = x (batch, in) W[:, :in]ᵀ + t W[:, in] (time input only) + b.
 * θ is read from p at call time. x and y must not overlap. Errors: NDE_ERR_ARG for
 * NULL arrays or batch 0, NDE_ERR_SHAPE if the layer's tensors lie outside p. */
NDE_API nde_status nde_dense_forward(const nde_dense *d, const nde_params *p, double t,
                                     const double *x, double *y, size_t batch);

/** Reverse mode for the forward above at input x (batch, in), given dy (batch, out):
 *   dx (batch, in) = dy W[:, :in]                                   — overwritten; NULL skips
 *   gtheta[w_off..] += dyᵀ [x, t],  gtheta[b_off..] += Σ_batch dy   — accumulated; NULL skips
 * gtheta is laid out like θ (e.g. nde_params_grad(p)). Errors as nde_dense_forward. */
NDE_API nde_status nde_dense_backward(const nde_dense *d, const nde_params *p, double t,
                                      const double *x, const double *dy, double *dx, double *gtheta,
                                      size_t batch);

/** Forward mode with respect to x: jy (batch, out) = w (batch, in) W[:, :in]ᵀ. */
NDE_API nde_status nde_dense_jvp(const nde_dense *d, const nde_params *p, const double *w,
                                 double *jy, size_t batch);

/* ---- multilayer perceptron ---------------------------------------------------
 * Layers l = 0..L−1 with L = n_hidden + 1:  h_0 = x,  h_{l+1} = act_l([h_l, t] W_lᵀ + b_l),
 * where t enters layer l as an extra input column according to the time mode:
 *   NDE_TIME_NONE   never (t ignored),
 *   NDE_TIME_FIRST  the first layer only (MLP over [x; t]),
 *   NDE_TIME_ALL    every layer, e.g. tanh(W2·[tanh(W1·[x; t] + b1); t] + b2).
 * Tensors are named "<prefix>.<l>.weight" (out_l, in_l [+1]) and "<prefix>.<l>.bias". */
/** Most hidden layers of an MLP. */
#define NDE_MLP_MAX_HIDDEN 15

/** Where the time t enters an MLP (see the formulas above). */
typedef enum nde_time_mode { NDE_TIME_NONE = 0, /**< never (t ignored) */ NDE_TIME_FIRST, /**< the first layer only */ NDE_TIME_ALL /**< every layer */ } nde_time_mode;

/** What nde_mlp_create() builds: sizes, activations, time mode. */
typedef struct nde_mlp_spec {
    /** input features per sample, > 0 */
    size_t in, out;                      /**< output features per sample, > 0 */
    size_t hidden[NDE_MLP_MAX_HIDDEN];   /**< hidden widths; the list ends at the first 0 */
    nde_act act;                         /**< activation of every hidden layer */
    nde_act out_act;                     /**< activation of the output layer (default identity) */
    nde_time_mode time;                  /**< default NDE_TIME_NONE */
    int no_bias;                         /**< non-zero: layers without biases */
    const nde_act *layer_act;            /**< optional: n_hidden + 1 activations, one per
                                            layer, overriding act/out_act (copied) */
} nde_mlp_spec;

/** A multilayer perceptron (opaque) whose tensors live in an nde_params. */
typedef struct nde_mlp nde_mlp;

/** Register the network's tensors in `params` (zero-initialized; see nde_mlp_init) and
 * create the network. The network keeps offsets, not params itself; later calls take
 * the params it was created with. prefix: non-empty tensor-name prefix.
 * Errors: NDE_ERR_ARG for NULL arguments, an empty prefix, in/out 0, a hidden list
 * with a width after a 0, an unknown activation or time mode, or a name clash in
 * params; NDE_ERR_NOMEM. On failure *out is NULL (tensors already registered stay). */
NDE_API nde_status nde_mlp_create(nde_params *params, const nde_mlp_spec *spec, const char *prefix,
                                  nde_mlp **out);
NDE_API void nde_mlp_destroy(nde_mlp **net); /**< NULL-safe; sets *net = NULL; params untouched */

/** Initialize every layer with nde_dense_init(layer, params, kind, scale, rng), first
 * layer first. */
NDE_API nde_status nde_mlp_init(nde_mlp *net, nde_params *params, nde_init kind, double scale,
                                nde_rng *rng);

NDE_API size_t nde_mlp_in(const nde_mlp *net);       /**< input features (0 for NULL) */
NDE_API size_t nde_mlp_out(const nde_mlp *net);      /**< output features (0 for NULL) */
NDE_API size_t nde_mlp_n_layers(const nde_mlp *net); /**< n_hidden + 1 (0 for NULL) */
/** Where t enters the network (NDE_TIME_NONE for NULL). */
NDE_API nde_time_mode nde_mlp_time_mode(const nde_mlp *net);
/** Layer l's descriptor (NULL if out of range) and activation. */
NDE_API const nde_dense *nde_mlp_layer(const nde_mlp *net, size_t l);
/** Layer l's activation. */
NDE_API nde_act nde_mlp_layer_act(const nde_mlp *net, size_t l);

/** Grow the workspace for batches up to `batch` now, so later calls do not allocate.
 * (Every call grows it on demand when it sees a larger batch, keeping the recorded
 * forward; it never shrinks.) */
NDE_API nde_status nde_mlp_reserve(nde_mlp *net, size_t batch);

/** y (batch, out) = MLP(t, x (batch, in)). Keeps the activations in the network's
 * workspace for nde_mlp_backward (so a network is used by one thread at a time).
 * θ is read from p at call time. Errors: NDE_ERR_ARG (NULL, batch 0), NDE_ERR_SHAPE
 * (p smaller than the network's tensors), NDE_ERR_NOMEM (workspace growth). */
NDE_API nde_status nde_mlp_forward(nde_mlp *net, const nde_params *p, double t, const double *x,
                                   double *y, size_t batch);

/** Reverse mode through the last nde_mlp_forward (θ must be unchanged since), given
 * dy (batch, out):
 *   dx (batch, in) = dyᵀ ∂y/∂x     — overwritten; NULL skips
 *   gtheta (n)    += dyᵀ ∂y/∂θ     — accumulated at the layers' offsets; NULL skips
 * Errors: NDE_ERR_STATE if no forward was recorded or its batch differs, plus those
 * of nde_mlp_forward. */
NDE_API nde_status nde_mlp_backward(nde_mlp *net, const nde_params *p, const double *dy, double *dx,
                                    double *gtheta, size_t batch);

/** The same products at (t, x), recomputing the forward pass itself (what the ODE
 * adjoint calls; also leaves that forward recorded). */
NDE_API nde_status nde_mlp_vjp(nde_mlp *net, const nde_params *p, double t, const double *x,
                               const double *dy, double *dx, double *gtheta, size_t batch);

/** Recorded evaluations (the f_rec/vjp_rec pair of nde/field.h): the forward pass can
 * write its hidden state to a caller's buffer, and the reverse pass can start from it
 * instead of recomputing the forward. A record of a batch is batch·nde_mlp_rec_size
 * doubles holding every layer's pre-activations and activations, layer by layer as
 * (batch, out_l) blocks; treat it as opaque and pass it back with the same batch. */
NDE_API size_t nde_mlp_rec_size(const nde_mlp *net); /**< doubles per sample (0 for NULL) */

/** y (batch, out) = MLP(t, x (batch, in)) and rec (batch·nde_mlp_rec_size) = its
 * record. Uses no workspace and leaves the network's recorded forward untouched.
 * Errors as nde_mlp_forward (NULL rec is NDE_ERR_ARG). */
NDE_API nde_status nde_mlp_forward_rec(const nde_mlp *net, const nde_params *p, double t,
                                       const double *x, double *y, double *rec, size_t batch);

/** The products of nde_mlp_vjp at (t, x) from rec, the record nde_mlp_forward_rec wrote
 * for this t, x and θ (not checked): no forward pass. Uses the workspace as scratch
 * (grown on demand) but leaves the recorded forward of nde_mlp_forward untouched. */
NDE_API nde_status nde_mlp_vjp_rec(nde_mlp *net, const nde_params *p, double t, const double *x,
                                   const double *rec, const double *dy, double *dx, double *gtheta,
                                   size_t batch);

/** Forward mode: jy (batch, out) = (∂y/∂x) w for w (batch, in), at (t, x); t is held
 * constant. Records the forward like nde_mlp_forward. */
NDE_API nde_status nde_mlp_jvp(nde_mlp *net, const nde_params *p, double t, const double *x,
                               const double *w, double *jy, size_t batch);

/** Fill *field with f(t, u) = MLP(t, u) (dim = in, which must equal out), its vjp, its
 * jvp and the recorded pair f_rec/vjp_rec (rec_size = nde_mlp_rec_size); n_params = nde_params_count(params) at this call (so add every tensor
 * first). The field borrows net and params: both must outlive it, and θ is read at
 * each call. Errors: NDE_ERR_ARG (NULL), NDE_ERR_SHAPE (in ≠ out, or params smaller
 * than the network's tensors). */
NDE_API nde_status nde_mlp_field(nde_mlp *net, const nde_params *params, nde_field *field);

#ifdef __cplusplus
}
#endif
#endif
