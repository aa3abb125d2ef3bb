/** @file
 * nde/operators.h — Fourier neural operator pieces (Li et al., "Fourier Neural Operator
 * for Parametric Partial Differential Equations", ICLR 2021, arXiv 2010.08895).
 *
 * Layout: fields are (batch, channels, n1[, n2]) row-major, last dimension contiguous.
 * `n` arguments give the grid: n[0] for 1-D, n[0], n[1] for 2-D. Parameters live in a
 * flat nde_params store; layers keep offsets and every forward/VJP takes the base of θ
 * (`theta`) and of the gradient (`gtheta`, accumulated, NULL = not wanted).
 * Ownership rule: every layer and the FNO borrows params; never initializes in create
 * (the separate _init draws θ; one owner, e.g. an nde_model, owns the store).
 *
 * FFTs use FFTW plans made with FFTW_ESTIMATE (deterministic: same input, same bits) and
 * cached in the nde_ctx per (transform, size, batch·channels); planning is serialized by a
 * mutex. The first call at a new resolution or batch size makes plans (and allocates);
 * every later call at that size only executes. */
#ifndef NDE_OPERATORS_H
#define NDE_OPERATORS_H

#include "nde/core.h"
#include "nde/field.h"
#include "nde/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- spectral convolution ---------------------------------------------------------
 * (K v)(x) = F⁻¹( R · F v )(x), Li et al. 2021 eq. (4)-(5): R is one complex Cin×Cout
 * matrix per kept Fourier mode; all other modes are zeroed.
 *   1-D: kept k ∈ [0, m).
 *   2-D: kept k1 ∈ [0, m1) ∪ [n1−m1, n1) (negative frequencies along the first dimension),
 *        k2 ∈ [0, m2) (the rest of the last dimension follows from Hermitian symmetry).
 * Normalization: unnormalized forward transform, 1/(n1·n2) once on the way back, so the
 * same weights act identically at every resolution n ≥ 2·m (per dimension).
 * θ tensor "<name>.weight": (n_kept_modes, Cin, Cout, 2) = (re, im) pairs, kept modes in
 * the order above (k1 row-major, then k2). The inverse transform takes the real part
 * of the k2 = 0 column (Hermitian enforcement as in neuraloperator's SpectralConv). */
/** A spectral convolution layer K (opaque; see above) whose weight lives in an nde_params. */
typedef struct nde_spectral_conv nde_spectral_conv;

/** How the last dimension is transformed. FFT: FFTW r2c/c2r. DFT: matrix products with the
 * kept-mode DFT basis (OpenBLAS GEMM, O(n·m) per line but multithreaded and cache
 * friendly: faster when m ≪ n, e.g. m = 16 at n = 1024). Both give the same result to
 * rounding. AUTO: DFT when the last dimension keeps m ≤ 32 modes, else FFT. In 2-D the
 * first dimension always uses FFTW (complex transforms of the kept columns only). */
typedef enum nde_spectral_transform {
    NDE_SPECTRAL_AUTO = 0, /**< DFT when the last dimension keeps m ≤ 32 modes, else FFT */
    NDE_SPECTRAL_FFT, /**< FFTW r2c/c2r */
    NDE_SPECTRAL_DFT, /**< matrix products with the kept-mode DFT basis */
} nde_spectral_transform;

/** What nde_spectral_conv_create() builds. */
typedef struct nde_spectral_spec {
    int ndim;                   /**< 1 or 2 */
    size_t in_channels;         /**< Cin > 0 */
    size_t out_channels;        /**< Cout > 0 */
    size_t n_modes[2];          /**< m (1-D) or m1, m2 (2-D), each > 0 */
    nde_spectral_transform transform; /**< how the last dimension is transformed */
    int channel_major;          /**< 1: x, y, gx are (C, batch, n...) instead of (batch, C, n...)
                                   (the FNO's internal layout: one GEMM per 1×1 conv) */
} nde_spectral_spec;

/** Adds tensor "<name>.weight" to `params`. Errors: NDE_ERR_ARG (NULL, bad ndim, zero
 * channels or modes, duplicate name), NDE_ERR_NOMEM. The layer keeps `ctx` (for the plan
 * cache) and must not outlive it. */
NDE_API nde_status nde_spectral_conv_create(nde_ctx *ctx, nde_params *params, const char *name,
                                            const nde_spectral_spec *spec,
                                            nde_spectral_conv **conv);
NDE_API void nde_spectral_conv_destroy(nde_spectral_conv **conv); /**< NULL-safe; sets *conv = NULL */

/** Legacy fourier_1d.py initialisation: re and im each (1/(Cin·Cout))·U[0,1). */
NDE_API void nde_spectral_conv_init(const nde_spectral_conv *conv, double *theta, nde_rng *rng);
/** Number of parameters of the layer's weight. */
NDE_API size_t nde_spectral_conv_n_params(const nde_spectral_conv *conv);

/** Scratch doubles needed by forward/VJP for `batch` samples on grid n. */
NDE_API size_t nde_spectral_conv_scratch_size(const nde_spectral_conv *conv, size_t batch,
                                              const size_t *n);
/** Make (or find) the FFT plans for this batch and grid ahead of the hot path.
 * Errors: NDE_ERR_SHAPE if some n[d] < 2·m[d] (or n[d] odd), NDE_ERR_NOMEM. */
NDE_API nde_status nde_spectral_conv_prepare(const nde_spectral_conv *conv, size_t batch,
                                             const size_t *n);

/** Doubles of the kept spectrum of `batch` inputs: (n_kept_modes, batch, Cin) complex. */
NDE_API size_t nde_spectral_conv_spectrum_size(const nde_spectral_conv *conv, size_t batch);

/** y (batch, Cout, n...) = K x, x (batch, Cin, n...); y is overwritten.
 * scratch: nde_spectral_conv_scratch_size doubles; x, y, scratch 16-byte aligned (nde_alloc
 * or malloc). xhat: NULL, or nde_spectral_conv_spectrum_size doubles that receive the kept
 * spectrum of x for a later VJP (saves recomputing it). */
NDE_API nde_status nde_spectral_conv_forward(const nde_spectral_conv *conv, const double *theta,
                                             const double *x, double *y, size_t batch,
                                             const size_t *n, double *scratch, double *xhat);
/** Given gy (batch, Cout, n...) = ∂L/∂y: gx (batch, Cin, n...) = ∂L/∂x (overwritten; NULL →
 * skipped) and gtheta += ∂L/∂θ (NULL → skipped). The weight gradient needs the forward
 * input: its kept spectrum xhat as left by the forward, or (xhat NULL) x itself. */
NDE_API nde_status nde_spectral_conv_vjp(const nde_spectral_conv *conv, const double *theta,
                                         const double *x, const double *xhat, const double *gy,
                                         double *gx, double *gtheta, size_t batch, const size_t *n,
                                         double *scratch);

/* ---- pointwise (1×1) convolution --------------------------------------------------
 * y[b,o,p] = Σ_i W[o,i] x[b,i,p] + bias[o] over the npts points of each sample (the
 * Linear / Conv1d(k=1) of the FNO scripts). θ: "<name>.weight" (Cout, Cin) and, when
 * bias, "<name>.bias" (Cout). Both are in NDE_GROUP_DEFAULT: the legacy scripts' Adam
 * decays every parameter. */
/** A pointwise (1×1) convolution layer (opaque; see above). */
typedef struct nde_pointwise nde_pointwise;

/** Add "<name>.weight" (and "<name>.bias" when bias) to params and create the layer. Errors: NDE_ERR_ARG, NDE_ERR_NOMEM. */
NDE_API nde_status nde_pointwise_create(nde_params *params, const char *name, size_t in_channels,
                                        size_t out_channels, int bias, nde_pointwise **pw);
NDE_API void nde_pointwise_destroy(nde_pointwise **pw); /**< NULL-safe; sets *pw = NULL */
/** PyTorch default: weight and bias each U(−1/√Cin, 1/√Cin). */
NDE_API void nde_pointwise_init(const nde_pointwise *pw, double *theta, nde_rng *rng);

/** y (batch, Cout, npts) = W x + b, x (batch, Cin, npts). accumulate = 0: y overwritten;
 * 1: y += W x + b. */
NDE_API nde_status nde_pointwise_forward(const nde_pointwise *pw, const double *theta,
                                         const double *x, double *y, size_t batch, size_t npts,
                                         int accumulate);
/** gx (batch, Cin, npts): overwritten (accumulate 0) or added to (1); NULL → skipped.
 * gtheta += ∂L/∂θ; NULL → skipped. */
NDE_API nde_status nde_pointwise_vjp(const nde_pointwise *pw, const double *theta, const double *x,
                                     const double *gy, double *gx, double *gtheta, size_t batch,
                                     size_t npts, int accumulate);

/* ---- GELU (exact erf form, as torch.nn.functional.gelu) -------------------------------
 * gelu(z) = z Φ(z) = ½ z erfc(−z/√2); gelu'(z) = Φ(z) + z φ(z), computed in the erfc
 * form, which keeps full relative accuracy for z ≪ 0 (torch's ½ z (1 + erf(z/√2))
 * cancels there); "erf" below is this erfc. The same kernel as NDE_ACT_GELU (nde/nn.h).
 * All arrays (count); outputs may alias inputs. */
/** y = gelu(z), the exact erf form (see above). */
NDE_API void nde_gelu(const double *z, double *y, size_t count);
/** y = gelu(z) and dydz = gelu'(z): what a backward pass needs, for one erf and one exp
 * per value in the forward (the backward is then a product). */
NDE_API void nde_gelu_with_derivative(const double *z, double *y, double *dydz, size_t count);
/** gz = gy · gelu'(z). */
NDE_API void nde_gelu_vjp(const double *z, const double *gy, double *gz, size_t count);

/* ---- channel MLP: pointwise layers with GELU between them ----------------------------
 * channels[0] → channels[1] → … → channels[n_layers]; GELU after every layer but the
 * last (lifting P and projection Q of the FNO). Tensors "<name>.<i>.weight/bias". */
/** A channel MLP (opaque): pointwise layers with GELU between them (see above). */
typedef struct nde_channel_mlp nde_channel_mlp;

/** Add the layers' tensors "<name>.<i>.weight/bias" to params and create the MLP of n_layers layers over channels[0..n_layers]. Errors: NDE_ERR_ARG, NDE_ERR_NOMEM. */
NDE_API nde_status nde_channel_mlp_create(nde_params *params, const char *name, size_t n_layers,
                                          const size_t *channels, nde_channel_mlp **mlp);
/** Free the MLP (NULL-safe; sets *mlp = NULL; params untouched). */
NDE_API void nde_channel_mlp_destroy(nde_channel_mlp **mlp);
/** PyTorch default initialization of every layer, as nde_pointwise_init(). */
NDE_API void nde_channel_mlp_init(const nde_channel_mlp *mlp, double *theta, nde_rng *rng);
/** Doubles of the activation cache forward fills and vjp reads: GELU derivatives and
 * activations of every hidden layer, and one gradient buffer. */
NDE_API size_t nde_channel_mlp_cache_size(const nde_channel_mlp *mlp, size_t batch, size_t npts);
/** y (batch, channels[n_layers], npts) = MLP(x), x (batch, channels[0], npts). */
NDE_API nde_status nde_channel_mlp_forward(const nde_channel_mlp *mlp, const double *theta,
                                           const double *x, double *y, size_t batch, size_t npts,
                                           double *cache);
/** cache as left by the forward on the same x; it is used as scratch (contents destroyed).
 * gx (batch, channels[0], npts) overwritten, NULL → skipped; gtheta accumulated. */
NDE_API nde_status nde_channel_mlp_vjp(const nde_channel_mlp *mlp, const double *theta,
                                       const double *x, const double *gy, double *gx,
                                       double *gtheta, size_t batch, size_t npts, double *cache);

/* ---- grid-coordinate channels and domain padding -------------------------------------
 * nde_grid_append: out (batch, C+ndim, n...) = [x, coordinates]. Coordinates of point i
 * along a dimension of size N: i/(N−1) (np.linspace(0,1,N), legacy scripts) when
 * endpoint, i/N ([0,1) as neuraloperator's GridEmbeddingND) otherwise. */
/** out (batch, C+ndim, n...) = [x, coordinates]: i/(N−1) when endpoint, else i/N. */
NDE_API nde_status nde_grid_append(int ndim, const size_t *n, int endpoint, const double *x,
                                   double *out, size_t batch, size_t channels);
/** Zero padding at the end of each dimension (right/bottom, as the legacy fourier_2d.py):
 * out (batch, C, n[0]+pad[0] [, n[1]+pad[1]]). nde_crop is its adjoint (and inverse). */
NDE_API nde_status nde_pad(int ndim, const size_t *n, const size_t *pad, const double *x,
                           double *out, size_t batch, size_t channels);
/** Inverse (and adjoint) of nde_pad(): out (batch, C, n...) is the leading n[d] points of padded. */
NDE_API nde_status nde_crop(int ndim, const size_t *n, const size_t *pad, const double *padded,
                            double *out, size_t batch, size_t channels);
/** Padding that scales with the resolution: round(fraction·n) (neuraloperator's
 * DomainPadding; a fixed count breaks resolution transfer, FNO issue #72). */
NDE_API size_t nde_pad_amount(double fraction, size_t n);

/* ---- per-point Gaussian normalizer ----------------------------------------------------
 * UnitGaussianNormalizer of the legacy utilities3.py: mean and unbiased std per point over
 * the samples; encode = (x − μ)/(σ + eps), decode = x (σ + eps) + μ, eps = 1e-5. */
/** A per-point Gaussian normalizer (opaque; see above). */
typedef struct nde_normalizer nde_normalizer;

/** data (count, point_size); count ≥ 2. Errors: NDE_ERR_ARG, NDE_ERR_NOMEM. */
NDE_API nde_status nde_normalizer_create(const double *data, size_t count, size_t point_size,
                                         double eps, nde_normalizer **nz);
/** Free the normalizer (NULL-safe; sets *nz = NULL). */
NDE_API void nde_normalizer_destroy(nde_normalizer **nz);
/** Values per sample (point_size). */
NDE_API size_t nde_normalizer_point_size(const nde_normalizer *nz);
NDE_API const double *nde_normalizer_mean(const nde_normalizer *nz); /**< (point_size) */
NDE_API const double *nde_normalizer_std(const nde_normalizer *nz);  /**< (point_size) */
/** x, y: (count, point_size); may alias. decode_vjp: gx = gy·(σ + eps). */
NDE_API void nde_normalizer_encode(const nde_normalizer *nz, const double *x, double *y,
                                   size_t count);
/** y = x (σ + eps) + μ; x, y (count, point_size), may alias. */
NDE_API void nde_normalizer_decode(const nde_normalizer *nz, const double *x, double *y,
                                   size_t count);
/** gx = gy·(σ + eps); gy, gx (count, point_size). */
NDE_API void nde_normalizer_decode_vjp(const nde_normalizer *nz, const double *gy, double *gx,
                                       size_t count);

/* ---- losses -----------------------------------------------------------------------
 * Relative L2 (legacy LpLoss, size_average=False): Σ_b ‖p_b − y_b‖₂ / ‖y_b‖₂ over samples
 * of `size` values. grad (batch, size) = ∂loss/∂pred, overwritten; NULL → skipped.
 * Errors: NDE_ERR_ARG on NULL, NDE_ERR_NONFINITE if some ‖y_b‖ = 0. */
/** Relative L2 loss Σ_b ‖p_b − y_b‖₂ / ‖y_b‖₂ and its gradient (see above). */
NDE_API nde_status nde_rel_l2_loss(const double *pred, const double *target, double *grad,
                                   size_t batch, size_t size, double *loss);

/** Relative H1 in Fourier space (legacy HsLoss, k = 1, a = 1): with ê = FFT(p − y) and
 * w_k = 1 + |k|² over integer wave numbers (k1 ∈ [−n1/2, n1/2)),
 *   loss = Σ_b sqrt(Σ_k w_k |ê_k|²) / sqrt(Σ_k w_k |ŷ_k|²).
 * pred, target, grad: (batch, n...) (one channel), n even. scratch:
 * nde_h1_loss_scratch_size doubles, 64-byte aligned. */
NDE_API size_t nde_h1_loss_scratch_size(int ndim, const size_t *n, size_t batch);
/** Relative H1 loss in Fourier space and its gradient (see above); scratch of nde_h1_loss_scratch_size() doubles. */
NDE_API nde_status nde_h1_loss(nde_ctx *ctx, int ndim, const size_t *n, const double *pred,
                               const double *target, double *grad, size_t batch, double *loss,
                               double *scratch);

/* ---- the FNO model ------------------------------------------------------------------
 *   h  = [a, grid]                          (grid channels when spec.grid)
 *   v₀ = P(h)                               lifting channel MLP
 *   v₀ ← pad(v₀)                            when spec.padding > 0
 *   v_{l+1} = σ(W_l v_l + b_l + K_l v_l)    l = 0..L−1, no σ after the last layer
 *   u  = Q(crop(v_L))                       projection channel MLP
 * σ = GELU. Li et al. 2021 eq. (2); legacy fourier_1d.py / fourier_2d.py. */
/** A Fourier neural operator (opaque; see above) whose tensors live in an nde_params. */
typedef struct nde_fno nde_fno;

/** Arithmetic of an operator's layers. Mixed precision: with NDE_PRECISION_FLOAT32 the
 * activations, spectra (fftwf), layer products (sgemm), GELU and the per-call θ-gradient
 * are float, while the parameters (the flat nde_params array, converted to a float shadow
 * on every forward and backward), the gradient accumulated across a batch and the
 * optimizer state stay double. Inputs and outputs of the model stay double arrays. */
typedef enum nde_precision {
    NDE_PRECISION_FLOAT64 = 0, /**< double throughout (the value of a zeroed spec) */
    NDE_PRECISION_FLOAT32 = 1  /**< float layers, double master parameters (see above) */
} nde_precision;

/** Most hidden layers of the lifting P and projection Q. */
#define NDE_FNO_MAX_HIDDEN 4

/** What nde_fno_create() builds (nde_fno1d_burgers_spec() and nde_fno2d_darcy_spec() give the papers'). */
typedef struct nde_fno_spec {
    int ndim;                   /**< 1 or 2 */
    size_t in_channels;         /**< channels of a(x), without the grid channels */
    size_t out_channels; /**< channels of u(x) */
    size_t width;               /**< channels of the Fourier layers */
    size_t n_modes[2]; /**< kept Fourier modes m (1-D) or m1, m2 (2-D) */
    size_t n_layers;            /**< Fourier layers */
    size_t n_lift_hidden;       /**< hidden layers of P (0: one linear map, legacy) */
    size_t lift_hidden[NDE_FNO_MAX_HIDDEN]; /**< widths of P's hidden layers */
    size_t n_proj_hidden;       /**< hidden layers of Q (legacy: 1 of 128) */
    size_t proj_hidden[NDE_FNO_MAX_HIDDEN]; /**< widths of Q's hidden layers */
    int grid;                   /**< append coordinate channels (legacy: 1, endpoint) */
    double padding;             /**< fraction of n padded at the end; 0: none */
    nde_precision precision;    /**< layer arithmetic (the named specs: NDE_PRECISION_FLOAT32) */
} nde_fno_spec;

/** Burgers: 1-D, 1 → 1 channel, width 64, 16 modes, 4 layers, Q 64→128→1, grid, no
 * padding (fourier_1d.py; 549,569 parameters); float32 layers, as PyTorch. */
NDE_API nde_fno_spec nde_fno1d_burgers_spec(void);
/** Darcy: 2-D, width 32, 12×12 modes, 4 layers, Q 32→128→1, grid, padding 9/85 of n
 * (fourier_2d.py at s = 85; 2,368,001 parameters); float32 layers, as PyTorch. */
NDE_API nde_fno_spec nde_fno2d_darcy_spec(void);

/** Parameter ownership: the FNO borrows params; never initializes in create.
 * create adds the FNO's tensors to `params` (borrowed; must outlive the FNO) under the
 * names "lift.*", "layer<l>.spectral.*", "layer<l>.skip.*", "proj.*" (so a store holds at
 * most one FNO); they stay zero until nde_fno_init or a checkpoint load. θ and the
 * gradient the forward/backward use are the whole store's arrays (tensors are addressed
 * by their offsets). ctx (borrowed) supplies the FFT plans. Errors: NDE_ERR_ARG for NULL
 * arguments, a bad spec or a name already in the store; NDE_ERR_NOMEM. On error *fno is
 * NULL (tensors added before the failure stay in the store). */
NDE_API nde_status nde_fno_create(nde_ctx *ctx, nde_params *params, const nde_fno_spec *spec,
                                  nde_fno **fno);
NDE_API void nde_fno_destroy(nde_fno **fno); /**< NULL-safe; sets *fno = NULL; leaves the store alone */
NDE_API nde_params *nde_fno_params(nde_fno *fno); /**< the borrowed store; NULL for NULL */
/** The spec the FNO was created with (borrowed). */
NDE_API const nde_fno_spec *nde_fno_get_spec(const nde_fno *fno);
/** Legacy PyTorch initialisation of every layer from rng (overwrites only the FNO's tensors). */
NDE_API void nde_fno_init(nde_fno *fno, nde_rng *rng);

/** A workspace holds the activations of one forward pass (for the backward) and the FFT
 * scratch for up to batch_max samples on grid n; it makes the FFT plans. Create one per
 * resolution: the same model evaluates at any n with n[d] ≥ 2·n_modes[d] (after padding).
 * Make it after every tensor is in the store: forward/backward fail with NDE_ERR_STATE
 * when the store has grown since.
 * Errors: NDE_ERR_SHAPE (grid too coarse for the modes), NDE_ERR_NOMEM. */
typedef struct nde_fno_work nde_fno_work;
/** Create a workspace for up to batch_max samples on grid n (see above). */
NDE_API nde_status nde_fno_work_create(nde_fno *fno, size_t batch_max, const size_t *n,
                                       nde_fno_work **work);
/** The same with the batch split over n_threads threads (a persistent team started here;
 * each thread runs its share through the whole model, gradients are summed in thread
 * order, so results are deterministic for a given n_threads). Coarse-grained: run the BLAS
 * single-threaded then (OPENBLAS_NUM_THREADS=1 or openblas_set_num_threads(1)), or the
 * two kinds of threads oversubscribe the cores. n_threads in 1..256 (capped at batch_max).
 * The threaded work is bound to the calling thread: do not share one work across threads. */
NDE_API nde_status nde_fno_work_create_threaded(nde_fno *fno, size_t batch_max, const size_t *n,
                                                size_t n_threads, nde_fno_work **work);
/** Free a workspace (NULL-safe; sets *work = NULL). */
NDE_API void nde_fno_work_destroy(nde_fno_work **work);

/** u (batch, out_channels, n...) = FNO(a), a (batch, in_channels, n...), batch ≤ batch_max.
 * Keeps the activations in `work` for nde_fno_backward. */
NDE_API nde_status nde_fno_forward(nde_fno *fno, nde_fno_work *work, const double *a, double *u,
                                   size_t batch);
/** After nde_fno_forward on the same work: given gu = ∂L/∂u (batch, out_channels, n...),
 * ga (batch, in_channels, n...) = ∂L/∂a (overwritten; NULL → skipped) and
 * gtheta += ∂L/∂θ (NULL → skipped; pass nde_params_grad(nde_fno_params(fno)) to train).
 * Errors: NDE_ERR_STATE if the last forward on `work` had another batch size. */
NDE_API nde_status nde_fno_backward(nde_fno *fno, nde_fno_work *work, const double *gu, double *ga,
                                    double *gtheta, size_t batch);

/** The model as a vector field f(t, u) = FNO(u) (t unused), dim = channels·Πn; needs
 * in_channels == out_channels (else NDE_ERR_SHAPE). Batches larger than the workspace are
 * processed in chunks. The field borrows fno and work (which it overwrites on every call). */
NDE_API nde_status nde_fno_field(nde_fno *fno, nde_fno_work *work, nde_field *field);

#ifdef __cplusplus
}
#endif
#endif
