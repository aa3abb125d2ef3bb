/* MgNO as a model: the forward keeps its activations for the backward. */
#include "model/model_internal.h"

static nde_status mgno_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    (void)p;
    return nde_mgno_forward_keep(self, x, y, batch);
}

static nde_status mgno_backward(void *self, nde_params *p, const double *gy, double *gx,
                                double *gtheta, size_t batch)
{
    (void)p;
    return nde_mgno_backward(self, gy, gx, gtheta, batch);
}

static nde_status mgno_init(void *self, nde_params *p, nde_rng *rng)
{
    (void)p;
    return nde_mgno_init(self, rng);
}

static nde_status mgno_reserve(void *self, size_t max_batch)
{
    return nde_mgno_reserve(self, max_batch);
}

static nde_status mgno_field(void *self, nde_params *p, nde_field *field)
{
    (void)p;
    *field = nde_mgno_field(self);
    return nde_field_check(field, 1);
}

static void mgno_destroy(void *self)
{
    nde_mgno *mg = self;
    nde_mgno_destroy(&mg);
}

static const nde_model_ops mgno_ops = {.kind = "mgno", .forward = mgno_forward,
                                       .backward = mgno_backward, .init = mgno_init,
                                       .reserve = mgno_reserve, .field = mgno_field,
                                       .destroy = mgno_destroy};

nde_status nde_model_mgno_create(const nde_mgno_spec *spec, const char *prefix, size_t max_batch,
                                 nde_model **out)
{
    if (!spec || !prefix || !out)
        return NDE_FAIL(NDE_ERR_ARG, "nde_model_mgno_create: NULL argument");
    *out = NULL;
    nde_params *p = NULL;
    NDE_TRY(nde_params_create(&p));
    nde_mgno *mg = NULL;
    nde_status st = nde_mgno_create(spec, p, prefix, &mg);
    if (st == NDE_OK && max_batch) st = nde_mgno_reserve(mg, max_batch);
    if (st != NDE_OK) {
        nde_mgno_destroy(&mg);
        nde_params_destroy(&p);
        return st;
    }
    return nde_model_create(&mgno_ops, mg, p, nde_mgno_in_numel(mg), nde_mgno_out_numel(mg), out);
}

nde_mgno *nde_model_mgno_net(nde_model *m) { return nde_model_content_of(m, &mgno_ops); }
