/* The FNO as a model: forward/backward through one work area sized for max_batch. */
#include "model/model_internal.h"

typedef struct fno_model {
    nde_fno *fno;
    nde_fno_work *work;
} fno_model;

static nde_status fno_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    (void)p;
    fno_model *fm = self;
    return nde_fno_forward(fm->fno, fm->work, x, y, batch);
}

static nde_status fno_backward(void *self, nde_params *p, const double *gy, double *gx,
                               double *gtheta, size_t batch)
{
    (void)p;
    fno_model *fm = self;
    return nde_fno_backward(fm->fno, fm->work, gy, gx, gtheta, batch);
}

static nde_status fno_init(void *self, nde_params *p, nde_rng *rng)
{
    (void)p;
    nde_fno_init(((fno_model *)self)->fno, rng);
    return NDE_OK;
}

static nde_status fno_field(void *self, nde_params *p, nde_field *field)
{
    (void)p;
    fno_model *fm = self;
    return nde_fno_field(fm->fno, fm->work, field);
}

static void fno_destroy(void *self)
{
    fno_model *fm = self;
    nde_fno_work_destroy(&fm->work);
    nde_fno_destroy(&fm->fno);
    nde_free(fm);
}

static const nde_model_ops fno_ops = {.kind = "fno", .forward = fno_forward,
                                      .backward = fno_backward, .init = fno_init,
                                      .field = fno_field, .destroy = fno_destroy};

nde_status nde_model_fno_create(nde_ctx *ctx, const nde_fno_spec *spec, const size_t *n,
                                size_t max_batch, size_t n_threads, nde_model **out)
{
    if (!ctx || !spec || !n || !out)
        return NDE_FAIL(NDE_ERR_ARG, "nde_model_fno_create: NULL argument");
    *out = NULL;
    if (max_batch == 0 || n_threads == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_model_fno_create: max_batch %zu, n_threads %zu (need > 0)",
                        max_batch, n_threads);
    nde_params *p = NULL;
    NDE_TRY(nde_params_create(&p));
    fno_model *fm = nde_alloc(sizeof *fm);
    nde_status st = fm ? nde_fno_create(ctx, p, spec, &fm->fno) : NDE_ERR_NOMEM;
    if (st == NDE_OK)
        st = nde_fno_work_create_threaded(fm->fno, max_batch, n, n_threads, &fm->work);
    if (st != NDE_OK) {
        if (fm) fno_destroy(fm);
        nde_params_destroy(&p);
        return st;
    }
    size_t pts = n[0] * (spec->ndim == 2 ? n[1] : 1);
    return nde_model_create(&fno_ops, fm, p, spec->in_channels * pts, spec->out_channels * pts, out);
}

nde_fno *nde_model_fno_net(nde_model *m)
{
    fno_model *fm = nde_model_content_of(m, &fno_ops);
    return fm ? fm->fno : NULL;
}
