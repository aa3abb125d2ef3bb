/* FFTW plan cache in the context; see fft_cache.h. */
#include "operators/fft_cache.h"

#include <math.h>
#include <pthread.h>

#include "core/ctx_internal.h"
#include "core/grow.h"

typedef struct fft_entry {
    nde_fft_kind kind;
    size_t n, howmany, h, m;
    int single;    /* 1: float32 (fplan, fbasis), 0: float64 (plan, basis) */
    fftw_plan plan;
    fftwf_plan fplan;
    double *basis; /* NDE_DFT_BASIS: fwd (n, 2m) then inv (2m, n) */
    float *fbasis; /* the same rounded to float */
} fft_entry;

typedef struct fft_cache {
    fft_entry *entries;
    size_t count, cap;
} fft_cache;

/* FFTW's planner keeps global state: one lock for every context. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

static void fft_cache_cleanup(void *data)
{
    fft_cache *c = data;
    pthread_mutex_lock(&planner_lock);
    for (size_t i = 0; i < c->count; i++)
    {
        if (c->entries[i].plan) fftw_destroy_plan(c->entries[i].plan);
        if (c->entries[i].fplan) fftwf_destroy_plan(c->entries[i].fplan);
    }
    pthread_mutex_unlock(&planner_lock);
    for (size_t i = 0; i < c->count; i++) {
        nde_free(c->entries[i].basis);
        nde_free(c->entries[i].fbasis);
    }
    nde_free(c->entries);
    nde_free(c);
}

#define REAL double
#define FFTW(name) fftw_##name
#define SFX(name) name
#include "fft_plan_body.inc"
#undef REAL
#undef FFTW
#undef SFX
#define REAL float
#define FFTW(name) fftwf_##name
#define SFX(name) name##_f32
#include "fft_plan_body.inc"
#undef REAL
#undef FFTW
#undef SFX

static double *make_basis(size_t n, size_t m)
{
    double *b = nde_alloc_array(4 * n * m, sizeof *b);
    if (!b) return NULL;
    double *fwd = b, *inv = b + 2 * n * m;
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < m; k++) {
            double th = 2.0 * NDE_PI * (double)((k * j) % n) / (double)n;
            double c = cos(th), s = sin(th), ck = k == 0 ? 1.0 : 2.0;
            fwd[j * 2 * m + 2 * k] = c;
            fwd[j * 2 * m + 2 * k + 1] = -s;
            inv[(2 * k) * n + j] = ck * c;
            inv[(2 * k + 1) * n + j] = -ck * s;
        }
    return b;
}

/* Find or make the entry (kind, n, howmany, h, m); *out points into the cache. */
static nde_status lookup(nde_ctx *ctx, nde_fft_kind kind, int single, size_t n, size_t howmany,
                         size_t h, size_t m, fft_entry *out)
{
    if (!ctx) return NDE_FAIL(NDE_ERR_ARG, "FFT cache: ctx is NULL");
    if (n == 0 || howmany == 0 || (kind == NDE_DFT_BASIS && (m == 0 || 2 * m > n)))
        return NDE_FAIL(NDE_ERR_ARG, "FFT cache: transform length %zu, count %zu, modes %zu", n,
                        howmany, m);
    nde_status st = NDE_OK;
    pthread_mutex_lock(&planner_lock);
    nde_ctx_slot *slot = &ctx->slots[NDE_SLOT_FFT];
    fft_cache *c = slot->data;
    if (!c) {
        c = nde_alloc(sizeof *c);
        if (!c) {
            st = NDE_ERR_NOMEM;
            goto out;
        }
        slot->data = c;
        slot->cleanup = fft_cache_cleanup;
    }
    for (size_t i = 0; i < c->count; i++) {
        const fft_entry *e = &c->entries[i];
        if (e->kind == kind && e->single == single && e->n == n && e->howmany == howmany && e->h == h && e->m == m) {
            *out = *e;
            goto out;
        }
    }
    st = nde_grow((void **)&c->entries, &c->cap, c->count, sizeof *c->entries, 16);
    if (st != NDE_OK) goto out;
    fft_entry e = {kind, n, howmany, h, m, single, NULL, NULL, NULL, NULL};
    if (kind == NDE_DFT_BASIS) {
        e.basis = make_basis(n, m);
        if (e.basis && single) {
            e.fbasis = nde_alloc_array(4 * n * m, sizeof *e.fbasis);
            if (e.fbasis)
                for (size_t i = 0; i < 4 * n * m; i++) e.fbasis[i] = (float)e.basis[i];
            nde_free(e.basis);
            e.basis = NULL;
        }
        if (!(single ? (void *)e.fbasis : (void *)e.basis)) {
            st = NDE_ERR_NOMEM;
            goto out;
        }
    } else {
        if (single)
            e.fplan = make_plan_f32(kind, n, howmany, h, m);
        else
            e.plan = make_plan(kind, n, howmany, h, m);
        if (single ? !e.fplan : !e.plan) {
            st = NDE_FAIL(NDE_ERR_UNSUPPORTED,
                          "FFTW could not plan transform kind %d (n %zu, howmany %zu, h %zu, m %zu)",
                          (int)kind, n, howmany, h, m);
            goto out;
        }
    }
    c->entries[c->count++] = e;
    *out = e;
out:
    pthread_mutex_unlock(&planner_lock);
    return st;
}

nde_status nde_fft_plan(nde_ctx *ctx, nde_fft_kind kind, size_t n, size_t howmany, size_t h,
                        size_t m, fftw_plan *plan)
{
    if (!plan || kind == NDE_DFT_BASIS) return NDE_FAIL(NDE_ERR_ARG, "nde_fft_plan: bad argument");
    fft_entry e = {0};
    NDE_TRY(lookup(ctx, kind, 0, n, howmany, h, m, &e));
    *plan = e.plan;
    return NDE_OK;
}

nde_status nde_dft_basis(nde_ctx *ctx, size_t n, size_t m, const double **fwd, const double **inv)
{
    if (!fwd || !inv) return NDE_FAIL(NDE_ERR_ARG, "nde_dft_basis: NULL argument");
    fft_entry e = {0};
    NDE_TRY(lookup(ctx, NDE_DFT_BASIS, 0, n, 1, 0, m, &e));
    *fwd = e.basis;
    *inv = e.basis + 2 * n * m;
    return NDE_OK;
}

nde_status nde_fftf_plan(nde_ctx *ctx, nde_fft_kind kind, size_t n, size_t howmany, size_t h,
                         size_t m, fftwf_plan *plan)
{
    if (!plan || kind == NDE_DFT_BASIS) return NDE_FAIL(NDE_ERR_ARG, "nde_fftf_plan: bad argument");
    fft_entry e = {0};
    NDE_TRY(lookup(ctx, kind, 1, n, howmany, h, m, &e));
    *plan = e.fplan;
    return NDE_OK;
}

nde_status nde_dft_basis_f32(nde_ctx *ctx, size_t n, size_t m, const float **fwd, const float **inv)
{
    if (!fwd || !inv) return NDE_FAIL(NDE_ERR_ARG, "nde_dft_basis_f32: NULL argument");
    fft_entry e = {0};
    NDE_TRY(lookup(ctx, NDE_DFT_BASIS, 1, n, 1, 0, m, &e));
    *fwd = e.fbasis;
    *inv = e.fbasis + 2 * n * m;
    return NDE_OK;
}
