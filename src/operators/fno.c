/* The Fourier neural operator (Li et al. 2021, eq. (2); legacy fourier_1d.py and
 * fourier_2d.py): lifting, Fourier layers σ(W v + b + K v), projection.
 *
 * Inside the model, activations are channel-major (C, batch, n...): every 1×1 convolution
 * is then one GEMM over all batch·n points (instead of one per sample), and the spectral
 * convolutions run in the same layout. Inputs and outputs are (batch, C, n...). */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "nde/operators.h"
#include "operators/f32.h"
#include "operators/pool.h"

struct nde_fno {
    nde_ctx *ctx;
    nde_fno_spec spec;
    nde_params *params; /* borrowed */
    size_t lift_in; /* in_channels + grid channels */
    nde_channel_mlp *lift, *proj;
    nde_spectral_conv **kconv; /* (n_layers) */
    nde_pointwise **skip;      /* (n_layers) */
};

/* One thread's workspace: the activations of its share of the batch. */
typedef struct fno_part {
    nde_fno *fno;
    size_t batch_max;
    size_t n[2], pad[2], np[2]; /* grid, padding, padded grid (n[1] = np[1] = 1 in 1-D) */
    size_t pts, ppts;           /* points per channel, unpadded and padded */
    double *h;                  /* (B, lift_in, pts) input with grid channels */
    double *hc;                 /* (lift_in, B, pts) the same, channel-major */
    double *ghc;                /* (lift_in, B, pts) its gradient */
    double *ucm;                /* (out, B, pts) output / output gradient, channel-major */
    double *lift_cache, *proj_cache;
    double *v0;                 /* (W, B, pts) lifting output before padding */
    double **v;                 /* v[l] (W, B, ppts), l = 0..L: layer inputs and last output */
    double **z;                 /* z[l] (W, B, ppts), l = 0..L−2: GELU derivatives at the
                                   pre-activations */
    double **xhat;              /* xhat[l]: kept spectrum of v[l], l = 0..L−1 */
    double *vc;                 /* (W, B, pts) cropped v[L] */
    double *ga, *gb;            /* (max(W, proj/lift widths), B, ppts) gradient buffers */
    double *scratch;            /* spectral-conv scratch */
    const float *th32;          /* the work's float θ shadow (precision float32) */
    struct fno32 *f;            /* float32 buffers (precision float32; then only h of the
                                   double ones above is allocated) */
} fno_part;

/* The float32 twins of fno_part's buffers (same shapes), and the float θ-gradient of one
 * call (added into the caller's double gradient at the end of a backward). */
typedef struct fno32 {
    float *hc, *ghc, *ucm, *lift_cache, *proj_cache, *v0, **v, **z, **xhat, *vc, *ga, *gb;
    float *scratch;
    float *gth; /* (n_theta) */
} fno32;

/* The public workspace: one part per thread, private gradients of threads 1.., the team. */
struct nde_fno_work {
    nde_fno *fno;
    size_t batch_max, n_threads, pts;
    size_t n_theta;    /* store size when the workspace was made (length of gpriv[t]) */
    fno_part **parts;  /* (n_threads) */
    double **gpriv;    /* (n_threads) θ-gradient buffers of threads 1.. ([0] unused) */
    nde_pool *pool;
    size_t batch_used;
    double *uout;      /* (B, out, pts) output buffer of the vector-field adapter */
    float *th32;       /* (n_theta) float shadow of θ (precision float32) */
};

nde_fno_spec nde_fno1d_burgers_spec(void)
{
    nde_fno_spec s;
    memset(&s, 0, sizeof s);
    s.ndim = 1;
    s.in_channels = 1;
    s.out_channels = 1;
    s.width = 64;
    s.n_modes[0] = 16;
    s.n_layers = 4;
    s.n_proj_hidden = 1;
    s.proj_hidden[0] = 128;
    s.grid = 1;
    s.precision = NDE_PRECISION_FLOAT32;
    return s;
}

nde_fno_spec nde_fno2d_darcy_spec(void)
{
    nde_fno_spec s = nde_fno1d_burgers_spec();
    s.ndim = 2;
    s.width = 32;
    s.n_modes[0] = s.n_modes[1] = 12;
    s.padding = 9.0 / 85.0;
    return s;
}

static nde_status check_spec(const nde_fno_spec *s)
{
    if (s->ndim != 1 && s->ndim != 2) return NDE_FAIL(NDE_ERR_ARG, "FNO spec: ndim %d", s->ndim);
    if (!s->in_channels || !s->out_channels || !s->width || !s->n_layers)
        return NDE_FAIL(NDE_ERR_ARG, "FNO spec: in %zu, out %zu, width %zu, layers %zu (all > 0)",
                        s->in_channels, s->out_channels, s->width, s->n_layers);
    for (int d = 0; d < s->ndim; d++)
        if (!s->n_modes[d]) return NDE_FAIL(NDE_ERR_ARG, "FNO spec: n_modes[%d] = 0", d);
    if (s->n_lift_hidden > NDE_FNO_MAX_HIDDEN || s->n_proj_hidden > NDE_FNO_MAX_HIDDEN)
        return NDE_FAIL(NDE_ERR_ARG, "FNO spec: %zu lifting / %zu projection hidden layers (max %d)",
                        s->n_lift_hidden, s->n_proj_hidden, NDE_FNO_MAX_HIDDEN);
    for (size_t i = 0; i < s->n_lift_hidden; i++)
        if (!s->lift_hidden[i]) return NDE_FAIL(NDE_ERR_ARG, "FNO spec: lift_hidden[%zu] = 0", i);
    for (size_t i = 0; i < s->n_proj_hidden; i++)
        if (!s->proj_hidden[i]) return NDE_FAIL(NDE_ERR_ARG, "FNO spec: proj_hidden[%zu] = 0", i);
    if (s->precision != NDE_PRECISION_FLOAT64 && s->precision != NDE_PRECISION_FLOAT32)
        return NDE_FAIL(NDE_ERR_ARG, "FNO spec: precision %d (NDE_PRECISION_FLOAT64 or _FLOAT32)",
                        (int)s->precision);
    if (!(s->padding >= 0.0 && s->padding < 1.0))
        return NDE_FAIL(NDE_ERR_ARG, "FNO spec: padding fraction %g (0 <= p < 1)", s->padding);
    return NDE_OK;
}

void nde_fno_destroy(nde_fno **fno)
{
    if (!fno || !*fno) return;
    nde_fno *f = *fno;
    nde_channel_mlp_destroy(&f->lift);
    nde_channel_mlp_destroy(&f->proj);
    for (size_t l = 0; l < f->spec.n_layers; l++) {
        if (f->kconv) nde_spectral_conv_destroy(&f->kconv[l]);
        if (f->skip) nde_pointwise_destroy(&f->skip[l]);
    }
    nde_free(f->kconv);
    nde_free(f->skip);
    nde_free(f);
    *fno = NULL;
}

static nde_status build(nde_fno *f)
{
    const nde_fno_spec *s = &f->spec;
    size_t ch[NDE_FNO_MAX_HIDDEN + 2];
    ch[0] = f->lift_in;
    for (size_t i = 0; i < s->n_lift_hidden; i++) ch[i + 1] = s->lift_hidden[i];
    ch[s->n_lift_hidden + 1] = s->width;
    NDE_TRY(nde_channel_mlp_create(f->params, "lift", s->n_lift_hidden + 1, ch, &f->lift));
    nde_spectral_spec ks = {.ndim = s->ndim, .in_channels = s->width, .out_channels = s->width,
                            .n_modes = {s->n_modes[0], s->n_modes[1]}, .channel_major = 1};
    for (size_t l = 0; l < s->n_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "layer%zu.spectral", l);
        NDE_TRY(nde_spectral_conv_create(f->ctx, f->params, name, &ks, &f->kconv[l]));
        snprintf(name, sizeof name, "layer%zu.skip", l);
        NDE_TRY(nde_pointwise_create(f->params, name, s->width, s->width, 1, &f->skip[l]));
    }
    ch[0] = s->width;
    for (size_t i = 0; i < s->n_proj_hidden; i++) ch[i + 1] = s->proj_hidden[i];
    ch[s->n_proj_hidden + 1] = s->out_channels;
    return nde_channel_mlp_create(f->params, "proj", s->n_proj_hidden + 1, ch, &f->proj);
}

nde_status nde_fno_create(nde_ctx *ctx, nde_params *params, const nde_fno_spec *spec,
                          nde_fno **fno)
{
    if (!ctx || !params || !spec || !fno)
        return NDE_FAIL(NDE_ERR_ARG, "nde_fno_create: NULL argument");
    *fno = NULL;
    NDE_TRY(check_spec(spec));
    nde_fno *f = nde_alloc(sizeof *f);
    if (!f) return NDE_ERR_NOMEM;
    f->ctx = ctx;
    f->params = params;
    f->spec = *spec;
    if (spec->ndim == 1) f->spec.n_modes[1] = 0;
    f->lift_in = spec->in_channels + (spec->grid ? (size_t)spec->ndim : 0);
    f->kconv = nde_alloc_array(spec->n_layers, sizeof *f->kconv);
    f->skip = nde_alloc_array(spec->n_layers, sizeof *f->skip);
    nde_status st = (f->kconv && f->skip) ? build(f) : NDE_ERR_NOMEM;
    if (st != NDE_OK) {
        nde_fno_destroy(&f);
        return st;
    }
    *fno = f;
    return NDE_OK;
}

nde_params *nde_fno_params(nde_fno *fno) { return fno ? fno->params : NULL; }
const nde_fno_spec *nde_fno_get_spec(const nde_fno *fno) { return fno ? &fno->spec : NULL; }

void nde_fno_init(nde_fno *fno, nde_rng *rng)
{
    if (!fno || !rng) return;
    double *th = nde_params_theta(fno->params);
    nde_channel_mlp_init(fno->lift, th, rng);
    for (size_t l = 0; l < fno->spec.n_layers; l++) {
        nde_spectral_conv_init(fno->kconv[l], th, rng);
        nde_pointwise_init(fno->skip[l], th, rng);
    }
    nde_channel_mlp_init(fno->proj, th, rng);
}

static void fno32_destroy(fno32 *f, size_t L);

static void part_destroy(fno_part **work)
{
    if (!work || !*work) return;
    fno_part *w = *work;
    size_t L = w->fno->spec.n_layers;
    nde_free(w->h);
    nde_free(w->lift_cache);
    nde_free(w->proj_cache);
    if (w->v0 != (w->v ? w->v[0] : NULL)) nde_free(w->v0);
    if (w->v) {
        if (w->vc != w->v[L]) nde_free(w->vc);
        for (size_t l = 0; l <= L; l++) nde_free(w->v[l]);
    }
    if (w->z)
        for (size_t l = 0; l + 1 < L; l++) nde_free(w->z[l]);
    if (w->xhat)
        for (size_t l = 0; l < L; l++) nde_free(w->xhat[l]);
    nde_free(w->v);
    nde_free(w->z);
    nde_free(w->xhat);
    nde_free(w->ga);
    nde_free(w->gb);
    nde_free(w->hc);
    nde_free(w->ghc);
    nde_free(w->ucm);
    nde_free(w->scratch);
    fno32_destroy(w->f, L);
    nde_free(w);
    *work = NULL;
}

static void fno32_destroy(fno32 *f, size_t L)
{
    if (!f) return;
    if (f->v0 != (f->v ? f->v[0] : NULL)) nde_free(f->v0);
    if (f->v) {
        if (f->vc != f->v[L]) nde_free(f->vc);
        for (size_t l = 0; l <= L; l++) nde_free(f->v[l]);
    }
    if (f->z)
        for (size_t l = 0; l + 1 < L; l++) nde_free(f->z[l]);
    if (f->xhat)
        for (size_t l = 0; l < L; l++) nde_free(f->xhat[l]);
    nde_free(f->v);
    nde_free(f->z);
    nde_free(f->xhat);
    float *bufs[] = {f->hc, f->ghc, f->ucm, f->lift_cache, f->proj_cache, f->ga, f->gb,
                     f->scratch, f->gth};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) nde_free(bufs[i]);
    nde_free(f);
}

/* The float32 buffers of a part whose geometry (n, pad, np, pts, ppts) is set. */
static nde_status fno32_create(nde_fno *fno, fno_part *w, size_t widest, fno32 **out)
{
    const nde_fno_spec *s = &fno->spec;
    const size_t B = w->batch_max, W = s->width, L = s->n_layers;
    const int padded = w->pad[0] || w->pad[1];
    fno32 *f = nde_alloc(sizeof *f);
    if (!f) return NDE_ERR_NOMEM;
    const size_t fl = sizeof(float);
    f->hc = nde_alloc_array(B * fno->lift_in * w->pts, fl);
    f->ghc = nde_alloc_array(B * fno->lift_in * w->pts, fl);
    f->ucm = nde_alloc_array(B * s->out_channels * w->pts, fl);
    f->lift_cache = nde_alloc_array(nde_channel_mlp_cache_size(fno->lift, 1, B * w->pts) + 1, fl);
    f->proj_cache = nde_alloc_array(nde_channel_mlp_cache_size(fno->proj, 1, B * w->pts) + 1, fl);
    f->ga = nde_alloc_array(B * widest * w->ppts, fl);
    f->gb = nde_alloc_array(B * widest * w->ppts, fl);
    size_t nk[2] = {w->np[0], w->np[1]};
    f->scratch = nde_alloc_array(nde_spectral_conv_scratch_size(fno->kconv[0], B, nk), fl);
    f->gth = nde_alloc_array(nde_params_count(fno->params) + 1, fl);
    f->v = nde_alloc_array(L + 1, sizeof *f->v);
    f->z = nde_alloc_array(L, sizeof *f->z);
    f->xhat = nde_alloc_array(L, sizeof *f->xhat);
    int ok = f->hc && f->ghc && f->ucm && f->lift_cache && f->proj_cache && f->ga && f->gb &&
             f->scratch && f->gth && f->v && f->z && f->xhat;
    for (size_t l = 0; ok && l <= L; l++) ok = (f->v[l] = nde_alloc_array(B * W * w->ppts, fl)) != NULL;
    for (size_t l = 0; ok && l + 1 < L; l++)
        ok = (f->z[l] = nde_alloc_array(B * W * w->ppts, fl)) != NULL;
    for (size_t l = 0; ok && l < L; l++)
        ok = (f->xhat[l] = nde_alloc_array(nde_spectral_conv_spectrum_size(fno->kconv[l], B), fl)) !=
             NULL;
    if (ok) {
        f->v0 = padded ? nde_alloc_array(B * W * w->pts, fl) : f->v[0];
        f->vc = padded ? nde_alloc_array(B * W * w->pts, fl) : f->v[L];
        ok = f->v0 && f->vc;
    }
    if (!ok) {
        fno32_destroy(f, L);
        return NDE_ERR_NOMEM;
    }
    nde_status st = nde_spectral_conv_prepare_f32(fno->kconv[0], B, nk);
    if (st != NDE_OK) {
        fno32_destroy(f, L);
        return st;
    }
    *out = f;
    return NDE_OK;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static nde_status part_create(nde_fno *fno, size_t batch_max, const size_t *n, fno_part **work)
{
    const nde_fno_spec *s = &fno->spec;
    size_t n_[2] = {n[0], s->ndim == 2 ? n[1] : 1}, pad[2] = {0, 0}, np[2];
    for (int d = 0; d < s->ndim; d++) {
        pad[d] = nde_pad_amount(s->padding, n_[d]);
        if (n_[d] < 2)
            return NDE_FAIL(NDE_ERR_SHAPE, "FNO: grid n[%d] = %zu < 2", d, n_[d]);
        if (n_[d] + pad[d] < 2 * s->n_modes[d])
            return NDE_FAIL(NDE_ERR_SHAPE,
                            "FNO: grid n[%d] = %zu (+%zu padding) is below 2*n_modes = %zu", d,
                            n_[d], pad[d], 2 * s->n_modes[d]);
    }
    np[0] = n_[0] + pad[0];
    np[1] = n_[1] + pad[1];
    fno_part *w = nde_alloc(sizeof *w);
    if (!w) return NDE_ERR_NOMEM;
    w->fno = fno;
    w->batch_max = batch_max;
    memcpy(w->n, n_, sizeof n_);
    memcpy(w->pad, pad, sizeof pad);
    memcpy(w->np, np, sizeof np);
    w->pts = n_[0] * n_[1];
    w->ppts = np[0] * np[1];
    const size_t B = batch_max, W = s->width, L = s->n_layers;
    int padded = pad[0] || pad[1];
    size_t widest = max_sz(W, fno->lift_in);
    for (size_t i = 0; i < s->n_lift_hidden; i++) widest = max_sz(widest, s->lift_hidden[i]);
    for (size_t i = 0; i < s->n_proj_hidden; i++) widest = max_sz(widest, s->proj_hidden[i]);
    widest = max_sz(widest, s->out_channels);
    w->h = nde_alloc_array(B * fno->lift_in * w->pts, sizeof(double));
    if (s->precision == NDE_PRECISION_FLOAT32) {
        nde_status st = w->h ? fno32_create(fno, w, widest, &w->f) : NDE_ERR_NOMEM;
        if (st != NDE_OK) {
            part_destroy(&w);
            return st;
        }
        *work = w;
        return NDE_OK;
    }
    w->lift_cache = nde_alloc_array(nde_channel_mlp_cache_size(fno->lift, 1, B * w->pts) + 1, sizeof(double));
    w->proj_cache = nde_alloc_array(nde_channel_mlp_cache_size(fno->proj, 1, B * w->pts) + 1, sizeof(double));
    w->v = nde_alloc_array(L + 1, sizeof *w->v);
    w->z = nde_alloc_array(L, sizeof *w->z);
    w->xhat = nde_alloc_array(L, sizeof *w->xhat);
    w->ga = nde_alloc_array(B * widest * w->ppts, sizeof(double));
    w->gb = nde_alloc_array(B * widest * w->ppts, sizeof(double));
    w->hc = nde_alloc_array(B * fno->lift_in * w->pts, sizeof(double));
    w->ghc = nde_alloc_array(B * fno->lift_in * w->pts, sizeof(double));
    w->ucm = nde_alloc_array(B * s->out_channels * w->pts, sizeof(double));
    size_t nk[2] = {np[0], np[1]};
    w->scratch = nde_alloc_array(nde_spectral_conv_scratch_size(fno->kconv[0], B, nk), sizeof(double));
    int ok = w->h && w->lift_cache && w->proj_cache && w->v && w->z && w->xhat && w->ga && w->gb && w->hc &&
             w->ghc && w->ucm && w->scratch;
    for (size_t l = 0; ok && l <= L; l++) {
        w->v[l] = nde_alloc_array(B * W * w->ppts, sizeof(double));
        ok = w->v[l] != NULL;
    }
    for (size_t l = 0; ok && l + 1 < L; l++) {
        w->z[l] = nde_alloc_array(B * W * w->ppts, sizeof(double));
        ok = w->z[l] != NULL;
    }
    for (size_t l = 0; ok && l < L; l++) {
        w->xhat[l] = nde_alloc_array(nde_spectral_conv_spectrum_size(fno->kconv[l], B), sizeof(double));
        ok = w->xhat[l] != NULL;
    }
    if (ok) {
        w->v0 = padded ? nde_alloc_array(B * W * w->pts, sizeof(double)) : w->v[0];
        w->vc = padded ? nde_alloc_array(B * W * w->pts, sizeof(double)) : w->v[L];
        ok = w->v0 && w->vc;
    }
    if (!ok) {
        part_destroy(&w);
        return NDE_ERR_NOMEM;
    }
    nde_status st = nde_spectral_conv_prepare(fno->kconv[0], B, nk);
    if (st != NDE_OK) {
        part_destroy(&w);
        return st;
    }
    *work = w;
    return NDE_OK;
}

static nde_status check_call(const nde_fno *fno, const nde_fno_work *w, size_t batch,
                             const char *what)
{
    if (w->fno != fno)
        return NDE_FAIL(NDE_ERR_ARG, "%s: workspace belongs to another model", what);
    if (nde_params_count(fno->params) != w->n_theta)
        return NDE_FAIL(NDE_ERR_STATE, "%s: the parameter store grew from %zu to %zu values after "
                        "the workspace was made", what, w->n_theta, nde_params_count(fno->params));
    if (batch == 0 || batch > w->batch_max)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: batch %zu (workspace holds 1..%zu)", what, batch,
                        w->batch_max);
    return NDE_OK;
}

/* (outer, inner, P) → (inner, outer, P): batch-major ↔ channel-major. */
static void swap_major(const double *x, double *y, size_t outer, size_t inner, size_t pts)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++)
            memcpy(y + (i * outer + o) * pts, x + (o * inner + i) * pts, pts * sizeof *x);
}

static nde_status part_forward_f32(nde_fno *fno, fno_part *w, const float *th, const double *a,
                                   double *u, size_t batch);
static nde_status part_backward_f32(nde_fno *fno, fno_part *w, const float *th, const double *gu,
                                    double *ga, double *gtheta, size_t batch);

static nde_status part_forward(nde_fno *fno, fno_part *w, const double *a, double *u, size_t batch)
{
    if (w->f) return part_forward_f32(fno, w, w->th32, a, u, batch);
    const nde_fno_spec *s = &fno->spec;
    const double *th = nde_params_theta(fno->params);
    const size_t L = s->n_layers, W = s->width, P = batch * w->pts, PP = batch * w->ppts;
    int padded = w->pad[0] || w->pad[1];
    /* The lifting input is kept (channel-major, in w->hc) for the backward pass. */
    if (s->grid) {
        NDE_TRY(nde_grid_append(s->ndim, w->n, 1, a, w->h, batch, s->in_channels));
        swap_major(w->h, w->hc, batch, fno->lift_in, w->pts);
    } else {
        swap_major(a, w->hc, batch, fno->lift_in, w->pts);
    }
    NDE_TRY(nde_channel_mlp_forward(fno->lift, th, w->hc, w->v0, 1, P, w->lift_cache));
    if (padded) NDE_TRY(nde_pad(s->ndim, w->n, w->pad, w->v0, w->v[0], batch, W));
    for (size_t l = 0; l < L; l++) {
        double *out = w->v[l + 1];
        NDE_TRY(nde_spectral_conv_forward(fno->kconv[l], th, w->v[l], out, batch, w->np, w->scratch,
                                          w->xhat[l]));
        NDE_TRY(nde_pointwise_forward(fno->skip[l], th, w->v[l], out, 1, PP, 1));
        if (l + 1 < L) nde_gelu_with_derivative(out, out, w->z[l], W * PP);
    }
    if (padded) NDE_TRY(nde_crop(s->ndim, w->n, w->pad, w->v[L], w->vc, batch, W));
    NDE_TRY(nde_channel_mlp_forward(fno->proj, th, w->vc, w->ucm, 1, P, w->proj_cache));
    swap_major(w->ucm, u, s->out_channels, batch, w->pts);
    return NDE_OK;
}

static nde_status part_backward(nde_fno *fno, fno_part *w, const double *gu, double *ga,
                                double *gtheta, size_t batch)
{
    if (w->f) return part_backward_f32(fno, w, w->th32, gu, ga, gtheta, batch);
    const nde_fno_spec *s = &fno->spec;
    const double *th = nde_params_theta(fno->params);
    const size_t L = s->n_layers, W = s->width, P = batch * w->pts, PP = batch * w->ppts;
    int padded = w->pad[0] || w->pad[1];
    double *g = w->ga, *other = w->gb;
    swap_major(gu, w->ucm, batch, s->out_channels, w->pts);
    NDE_TRY(nde_channel_mlp_vjp(fno->proj, th, w->vc, w->ucm, g, gtheta, 1, P, w->proj_cache));
    if (padded) {
        NDE_TRY(nde_pad(s->ndim, w->n, w->pad, g, other, batch, W));
        double *t = g;
        g = other;
        other = t;
    }
    for (size_t l = L; l-- > 0;) {
        if (l + 1 < L)
            for (size_t i = 0; i < W * PP; i++) g[i] *= w->z[l][i];
        NDE_TRY(nde_spectral_conv_vjp(fno->kconv[l], th, w->v[l], w->xhat[l], g, other, gtheta,
                                      batch, w->np, w->scratch));
        NDE_TRY(nde_pointwise_vjp(fno->skip[l], th, w->v[l], g, other, gtheta, 1, PP, 1));
        double *t = g;
        g = other;
        other = t;
    }
    if (padded) {
        NDE_TRY(nde_crop(s->ndim, w->n, w->pad, g, other, batch, W));
        g = other;
    }
    NDE_TRY(nde_channel_mlp_vjp(fno->lift, th, w->hc, g, ga ? w->ghc : NULL, gtheta, 1, P,
                                w->lift_cache));
    /* The grid channels are constants: keep the data channels of ∂L/∂h. */
    if (ga) swap_major(w->ghc, ga, s->in_channels, batch, w->pts);
    return NDE_OK;
}

/* ---- the float32 path: the same passes on float buffers (operators/f32.h) ------------ */

/* (outer, inner, P) double → (inner, outer, P) float, and back. */
static void swap_to_f32(const double *x, float *y, size_t outer, size_t inner, size_t pts)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++)
            nde_f32_from_f64(x + (o * inner + i) * pts, y + (i * outer + o) * pts, pts);
}
static void swap_to_f64(const float *x, double *y, size_t outer, size_t inner, size_t pts)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++)
            nde_f64_from_f32(x + (o * inner + i) * pts, y + (i * outer + o) * pts, pts);
}

/* nde_pad / nde_crop on float (C·B) blocks of the part's grid. */
static void pad_f32(const fno_part *w, const float *src, float *dst, size_t blocks, int to_padded)
{
    const size_t n0 = w->n[0], n1 = w->n[1], m0 = w->np[0], m1 = w->np[1];
    for (size_t bc = 0; bc < blocks; bc++) {
        const float *sb = src + bc * (to_padded ? n0 * n1 : m0 * m1);
        float *db = dst + bc * (to_padded ? m0 * m1 : n0 * n1);
        if (to_padded) {
            memset(db, 0, m0 * m1 * sizeof *db);
            for (size_t i = 0; i < n0; i++) memcpy(db + i * m1, sb + i * n1, n1 * sizeof *db);
        } else {
            for (size_t i = 0; i < n0; i++) memcpy(db + i * n1, sb + i * m1, n1 * sizeof *db);
        }
    }
}

static nde_status part_forward_f32(nde_fno *fno, fno_part *w, const float *th, const double *a,
                                   double *u, size_t batch)
{
    const nde_fno_spec *s = &fno->spec;
    fno32 *f = w->f;
    const size_t L = s->n_layers, W = s->width, P = batch * w->pts, PP = batch * w->ppts;
    int padded = w->pad[0] || w->pad[1];
    if (s->grid) {
        NDE_TRY(nde_grid_append(s->ndim, w->n, 1, a, w->h, batch, s->in_channels));
        swap_to_f32(w->h, f->hc, batch, fno->lift_in, w->pts);
    } else {
        swap_to_f32(a, f->hc, batch, fno->lift_in, w->pts);
    }
    nde_f32_channel_mlp_forward(fno->lift, th, f->hc, f->v0, P, f->lift_cache);
    if (padded) pad_f32(w, f->v0, f->v[0], batch * W, 1);
    for (size_t l = 0; l < L; l++) {
        float *out = f->v[l + 1];
        NDE_TRY(nde_spectral_conv_forward_f32(fno->kconv[l], th, f->v[l], out, batch, w->np,
                                              f->scratch, f->xhat[l]));
        /* out += W v + b: the skip layer accumulates onto the spectral output */
        const nde_dense *d = nde_pointwise_dense(fno->skip[l]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d->out, (int)PP, (int)d->in,
                    1.0f, th + d->w_off, (int)d->in_cols, f->v[l], (int)PP, 1.0f, out, (int)PP);
        if (d->has_bias)
            for (size_t o = 0; o < d->out; o++) {
                const float b = th[d->b_off + o];
                float *row = out + o * PP;
                for (size_t p = 0; p < PP; p++) row[p] += b;
            }
        if (l + 1 < L) nde_f32_gelu_with_grad(out, out, f->z[l], W * PP);
    }
    if (padded) pad_f32(w, f->v[L], f->vc, batch * W, 0);
    nde_f32_channel_mlp_forward(fno->proj, th, f->vc, f->ucm, P, f->proj_cache);
    swap_to_f64(f->ucm, u, s->out_channels, batch, w->pts);
    return NDE_OK;
}

/* gtheta (double) += the float θ-gradient of this call. */
static nde_status part_backward_f32(nde_fno *fno, fno_part *w, const float *th, const double *gu,
                                    double *ga, double *gtheta, size_t batch)
{
    const nde_fno_spec *s = &fno->spec;
    fno32 *f = w->f;
    const size_t L = s->n_layers, W = s->width, P = batch * w->pts, PP = batch * w->ppts;
    const size_t n_theta = nde_params_count(fno->params);
    int padded = w->pad[0] || w->pad[1];
    float *gth = gtheta ? f->gth : NULL;
    if (gth) memset(gth, 0, n_theta * sizeof *gth);
    float *g = f->ga, *other = f->gb;
    swap_to_f32(gu, f->ucm, batch, s->out_channels, w->pts);
    nde_f32_channel_mlp_vjp(fno->proj, th, f->vc, f->ucm, g, gth, P, f->proj_cache);
    if (padded) {
        pad_f32(w, g, other, batch * W, 1);
        float *t = g;
        g = other;
        other = t;
    }
    for (size_t l = L; l-- > 0;) {
        if (l + 1 < L)
            for (size_t i = 0; i < W * PP; i++) g[i] *= f->z[l][i];
        NDE_TRY(nde_spectral_conv_vjp_f32(fno->kconv[l], th, f->v[l], f->xhat[l], g, other, gth,
                                          batch, w->np, f->scratch));
        /* other += Wᵀ g; gW += g vᵀ, gb += Σ g */
        const nde_dense *d = nde_pointwise_dense(fno->skip[l]);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d->in, (int)PP, (int)d->out, 1.0f,
                    th + d->w_off, (int)d->in_cols, g, (int)PP, 1.0f, other, (int)PP);
        if (gth) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d->out, (int)d->in, (int)PP,
                        1.0f, g, (int)PP, f->v[l], (int)PP, 1.0f, gth + d->w_off, (int)d->in_cols);
            if (d->has_bias)
                for (size_t o = 0; o < d->out; o++) {
                    const float *row = g + o * PP;
                    float sum = 0.0f;
                    for (size_t p = 0; p < PP; p++) sum += row[p];
                    gth[d->b_off + o] += sum;
                }
        }
        float *t = g;
        g = other;
        other = t;
    }
    if (padded) {
        pad_f32(w, g, other, batch * W, 0);
        g = other;
    }
    nde_f32_channel_mlp_vjp(fno->lift, th, f->hc, g, ga ? f->ghc : NULL, gth, P, f->lift_cache);
    if (ga) swap_to_f64(f->ghc, ga, s->in_channels, batch, w->pts);
    if (gth) nde_f64_add_f32(gth, gtheta, n_theta);
    return NDE_OK;
}

/* ---- the team: the batch split over threads ------------------------------------------ */

void nde_fno_work_destroy(nde_fno_work **work)
{
    if (!work || !*work) return;
    nde_fno_work *w = *work;
    nde_pool_destroy(&w->pool);
    for (size_t t = 0; t < w->n_threads; t++) {
        if (w->parts) part_destroy(&w->parts[t]);
        if (w->gpriv) nde_free(w->gpriv[t]);
    }
    nde_free(w->parts);
    nde_free(w->gpriv);
    nde_free(w->uout);
    nde_free(w->th32);
    nde_free(w);
    *work = NULL;
}

nde_status nde_fno_work_create_threaded(nde_fno *fno, size_t batch_max, const size_t *n,
                                        size_t n_threads, nde_fno_work **work)
{
    if (!fno || !n || !work) return NDE_FAIL(NDE_ERR_ARG, "nde_fno_work_create: NULL argument");
    if (batch_max == 0) return NDE_FAIL(NDE_ERR_ARG, "nde_fno_work_create: batch_max 0");
    if (n_threads == 0 || n_threads > 256)
        return NDE_FAIL(NDE_ERR_ARG, "nde_fno_work_create: %zu threads (1..256)", n_threads);
    if (n_threads > batch_max) n_threads = batch_max;
    nde_fno_work *w = nde_alloc(sizeof *w);
    if (!w) return NDE_ERR_NOMEM;
    w->fno = fno;
    w->batch_max = batch_max;
    w->n_threads = n_threads;
    w->n_theta = nde_params_count(fno->params);
    w->parts = nde_alloc_array(n_threads, sizeof *w->parts);
    w->gpriv = nde_alloc_array(n_threads, sizeof *w->gpriv);
    nde_status st = (w->parts && w->gpriv) ? NDE_OK : NDE_ERR_NOMEM;
    size_t per = (batch_max + n_threads - 1) / n_threads;
    for (size_t t = 0; st == NDE_OK && t < n_threads; t++) {
        st = part_create(fno, per, n, &w->parts[t]);
        if (st == NDE_OK && t > 0) {
            w->gpriv[t] = nde_alloc_array(w->n_theta, sizeof(double));
            if (!w->gpriv[t]) st = NDE_ERR_NOMEM;
        }
    }
    if (st == NDE_OK) {
        w->pts = w->parts[0]->pts;
        w->uout = nde_alloc_array(batch_max * fno->spec.out_channels * w->pts, sizeof(double));
        if (w->uout && fno->spec.precision == NDE_PRECISION_FLOAT32) {
            w->th32 = nde_alloc_array(w->n_theta + 1, sizeof(float));
            if (!w->th32) st = NDE_ERR_NOMEM;
            for (size_t t = 0; t < n_threads; t++) w->parts[t]->th32 = w->th32;
        }
        if (st == NDE_OK) st = w->uout ? nde_pool_create(n_threads - 1, &w->pool) : NDE_ERR_NOMEM;
    }
    if (st != NDE_OK) {
        nde_fno_work_destroy(&w);
        return st;
    }
    *work = w;
    return NDE_OK;
}

nde_status nde_fno_work_create(nde_fno *fno, size_t batch_max, const size_t *n,
                               nde_fno_work **work)
{
    return nde_fno_work_create_threaded(fno, batch_max, n, 1, work);
}

/* One run over the team: thread t takes samples [first_t, first_{t+1}). */
typedef struct team_job {
    nde_fno_work *w;
    int backward;
    const double *in;  /* a or gu */
    double *out;       /* u or ga (may be NULL) */
    double *gtheta;
    size_t batch;
    nde_status status[256];
    char message[256][160];
} team_job;

static size_t first_of(const nde_fno_work *w, size_t batch, size_t t)
{
    return batch * t / w->n_threads;
}

static void team_task(void *arg, size_t t)
{
    team_job *j = arg;
    nde_fno_work *w = j->w;
    const nde_fno_spec *s = &w->fno->spec;
    size_t b0 = first_of(w, j->batch, t), nb = first_of(w, j->batch, t + 1) - b0;
    nde_status st = NDE_OK;
    if (nb > 0) {
        if (!j->backward) {
            st = part_forward(w->fno, w->parts[t], j->in + b0 * s->in_channels * w->pts,
                              j->out + b0 * s->out_channels * w->pts, nb);
        } else {
            double *g = j->gtheta;
            if (g && t > 0) {
                g = w->gpriv[t];
                for (size_t i = 0; i < w->n_theta; i++) g[i] = 0.0;
            }
            st = part_backward(w->fno, w->parts[t], j->in + b0 * s->out_channels * w->pts,
                               j->out ? j->out + b0 * s->in_channels * w->pts : NULL, g, nb);
        }
    }
    j->status[t] = st;
    if (st != NDE_OK) snprintf(j->message[t], sizeof j->message[t], "%s", nde_last_error());
}

static nde_status team_run(nde_fno_work *w, team_job *j)
{
    nde_pool_run(w->pool, team_task, j, w->n_threads);
    for (size_t t = 0; t < w->n_threads; t++)
        if (j->status[t] != NDE_OK) return NDE_FAIL(j->status[t], "FNO thread %zu: %s", t, j->message[t]);
    /* thread 0 accumulated into gtheta itself; add the others in thread order */
    if (j->backward && j->gtheta)
        for (size_t t = 1; t < w->n_threads; t++) {
            if (first_of(w, j->batch, t + 1) == first_of(w, j->batch, t)) continue;
            const double *g = w->gpriv[t];
            for (size_t i = 0; i < w->n_theta; i++) j->gtheta[i] += g[i];
        }
    return NDE_OK;
}

nde_status nde_fno_forward(nde_fno *fno, nde_fno_work *w, const double *a, double *u,
                           size_t batch)
{
    if (!fno || !w || !a || !u) return NDE_FAIL(NDE_ERR_ARG, "nde_fno_forward: NULL argument");
    NDE_TRY(check_call(fno, w, batch, "nde_fno_forward"));
    w->batch_used = 0;
    if (w->th32) nde_f32_from_f64(nde_params_theta(fno->params), w->th32, w->n_theta);
    if (w->n_threads == 1) {
        NDE_TRY(part_forward(fno, w->parts[0], a, u, batch));
    } else {
        team_job j = {.w = w, .backward = 0, .in = a, .out = u, .batch = batch};
        NDE_TRY(team_run(w, &j));
    }
    w->batch_used = batch;
    return NDE_OK;
}

nde_status nde_fno_backward(nde_fno *fno, nde_fno_work *w, const double *gu, double *ga,
                            double *gtheta, size_t batch)
{
    if (!fno || !w || !gu) return NDE_FAIL(NDE_ERR_ARG, "nde_fno_backward: NULL argument");
    NDE_TRY(check_call(fno, w, batch, "nde_fno_backward"));
    if (w->batch_used != batch)
        return NDE_FAIL(NDE_ERR_STATE, "nde_fno_backward: last forward had batch %zu, not %zu",
                        w->batch_used, batch);
    if (w->th32) nde_f32_from_f64(nde_params_theta(fno->params), w->th32, w->n_theta);
    if (w->n_threads == 1) return part_backward(fno, w->parts[0], gu, ga, gtheta, batch);
    team_job j = {.w = w, .backward = 1, .in = gu, .out = ga, .gtheta = gtheta, .batch = batch};
    return team_run(w, &j);
}

/* ---- the model as a vector field: f(t, u) = FNO(u), processed in workspace-sized chunks */

static nde_status field_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    nde_fno_work *w = ctx;
    size_t dim = w->fno->spec.in_channels * w->pts;
    for (size_t b0 = 0; b0 < batch; b0 += w->batch_max) {
        size_t nb = batch - b0 < w->batch_max ? batch - b0 : w->batch_max;
        NDE_TRY(nde_fno_forward(w->fno, w, u + b0 * dim, du + b0 * dim, nb));
    }
    return NDE_OK;
}

static nde_status field_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                            double *gtheta, size_t batch)
{
    (void)t;
    nde_fno_work *w = ctx;
    size_t dim = w->fno->spec.in_channels * w->pts;
    for (size_t b0 = 0; b0 < batch; b0 += w->batch_max) {
        size_t nb = batch - b0 < w->batch_max ? batch - b0 : w->batch_max;
        NDE_TRY(nde_fno_forward(w->fno, w, u + b0 * dim, w->uout, nb));
        NDE_TRY(nde_fno_backward(w->fno, w, v + b0 * dim, vu ? vu + b0 * dim : NULL, gtheta, nb));
    }
    return NDE_OK;
}

nde_status nde_fno_field(nde_fno *fno, nde_fno_work *work, nde_field *field)
{
    if (!fno || !work || !field) return NDE_FAIL(NDE_ERR_ARG, "nde_fno_field: NULL argument");
    if (work->fno != fno)
        return NDE_FAIL(NDE_ERR_ARG, "nde_fno_field: workspace belongs to another model");
    if (fno->spec.in_channels != fno->spec.out_channels)
        return NDE_FAIL(NDE_ERR_SHAPE, "nde_fno_field: in_channels %zu != out_channels %zu",
                        fno->spec.in_channels, fno->spec.out_channels);
    memset(field, 0, sizeof *field);
    field->dim = fno->spec.in_channels * work->pts;
    field->n_params = nde_params_count(fno->params);
    field->ctx = work;
    field->f = field_f;
    field->vjp = field_vjp;
    return NDE_OK;
}
