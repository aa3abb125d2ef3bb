/* The Fourier neural operator (Li et al. 2021, eq. (2); legacy fourier_1d.py and
 * fourier_2d.py): lifting, Fourier layers σ(W v + b + K v), projection.
 *
 * Inside the model, activations are channel-major (C, batch, n...): every 1×1 convolution
 * is then one GEMM over all batch·n points (instead of one per sample), and the spectral
 * convolutions run in the same layout. Inputs and outputs are (batch, C, n...). */
#include <stdio.h>
#include <string.h>

#include "nde/operators.h"
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
} fno_part;

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
    nde_free(w);
    *work = NULL;
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

static nde_status part_forward(nde_fno *fno, fno_part *w, const double *a, double *u, size_t batch)
{
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
        st = w->uout ? nde_pool_create(n_threads - 1, &w->pool) : NDE_ERR_NOMEM;
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
