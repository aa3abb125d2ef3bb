/* nde_model: the object behind every model — dispatch to its ops table, ownership of the
 * content, the parameter store and a wrapped model. */
#include "model/model_internal.h"

static nde_params *store(const nde_model *m)
{
    return m->params ? m->params : m->inner ? store(m->inner) : NULL;
}

static nde_status make(const nde_model_ops *ops, void *self, nde_params *params, nde_model *inner,
                       size_t in_size, size_t out_size, nde_model **out)
{
    nde_status st = NDE_OK;
    if (!ops || !out || (!params && !inner))
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_create: NULL ops, params or out");
    else if (!ops->forward || !ops->backward)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_create: model '%s' lacks forward or backward",
                      ops->kind ? ops->kind : "");
    else if (in_size == 0 || out_size == 0)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_create: model '%s' has in_size %zu, out_size %zu",
                      ops->kind ? ops->kind : "", in_size, out_size);
    nde_model *m = st == NDE_OK ? nde_alloc(sizeof *m) : NULL;
    if (st == NDE_OK && !m) st = NDE_ERR_NOMEM;
    if (st != NDE_OK) {
        if (ops && ops->destroy && self) ops->destroy(self);
        nde_params_destroy(&params);
        nde_model_destroy(&inner);
        if (out) *out = NULL;
        return st;
    }
    *m = (nde_model){.ops = ops, .self = self, .params = params, .inner = inner,
                     .in_size = in_size, .out_size = out_size};
    *out = m;
    return NDE_OK;
}

/* The owner of the parameters must be given: a store, or the wrapped model that owns one. */
static nde_status owner_missing(const nde_model_ops *ops, void *self, nde_model **out,
                                const char *what)
{
    if (ops && ops->destroy && self) ops->destroy(self);
    if (out) *out = NULL;
    return NDE_FAIL(NDE_ERR_ARG, "%s", what);
}

nde_status nde_model_create(const nde_model_ops *ops, void *self, nde_params *params,
                            size_t in_size, size_t out_size, nde_model **out)
{
    if (!params) return owner_missing(ops, self, out, "nde_model_create: NULL params");
    return make(ops, self, params, NULL, in_size, out_size, out);
}

nde_status nde_model_wrap(const nde_model_ops *ops, void *self, nde_model *inner,
                          size_t in_size, size_t out_size, nde_model **out)
{
    if (!inner) return owner_missing(ops, self, out, "nde_model_wrap: NULL inner model");
    return make(ops, self, NULL, inner, in_size, out_size, out);
}

void nde_model_destroy(nde_model **mp)
{
    if (!mp || !*mp) return;
    nde_model *m = *mp;
    if (m->ops->destroy && m->self) m->ops->destroy(m->self);
    nde_params_destroy(&m->params);
    nde_model_destroy(&m->inner);
    nde_free(m);
    *mp = NULL;
}

static nde_status check_io(const nde_model *m, const void *a, const void *b, size_t batch,
                           const char *what)
{
    if (!m) return NDE_FAIL(NDE_ERR_ARG, "%s: NULL model", what);
    if (!a || !b || batch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "%s: model '%s': NULL array or batch 0", what,
                        m->ops->kind ? m->ops->kind : "");
    return NDE_OK;
}

nde_status nde_model_forward(nde_model *m, const double *x, double *y, size_t batch)
{
    NDE_TRY(check_io(m, x, y, batch, "nde_model_forward"));
    return m->ops->forward(m->self, store(m), x, y, batch);
}

nde_status nde_model_backward(nde_model *m, const double *gy, double *gx, double *gtheta,
                              size_t batch)
{
    NDE_TRY(check_io(m, gy, gy, batch, "nde_model_backward"));
    return m->ops->backward(m->self, store(m), gy, gx, gtheta, batch);
}

nde_status nde_model_init(nde_model *m, nde_rng *rng)
{
    if (!m || !rng) return NDE_FAIL(NDE_ERR_ARG, "nde_model_init: NULL model or rng");
    return m->ops->init ? m->ops->init(m->self, store(m), rng) : NDE_OK;
}

nde_status nde_model_reserve(nde_model *m, size_t max_batch)
{
    if (!m) return NDE_FAIL(NDE_ERR_ARG, "nde_model_reserve: NULL model");
    return m->ops->reserve ? m->ops->reserve(m->self, max_batch) : NDE_OK;
}

nde_status nde_model_field(nde_model *m, nde_field *field)
{
    if (!m || !field) return NDE_FAIL(NDE_ERR_ARG, "nde_model_field: NULL argument");
    if (!m->ops->field)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_model_field: model '%s' is not a vector field",
                        m->ops->kind ? m->ops->kind : "");
    return m->ops->field(m->self, store(m), field);
}

nde_status nde_model_set_training(nde_model *m, int training)
{
    if (!m) return NDE_FAIL(NDE_ERR_ARG, "nde_model_set_training: NULL model");
    return m->ops->set_training ? m->ops->set_training(m->self, training) : NDE_OK;
}

nde_params *nde_model_params(nde_model *m) { return m ? store(m) : NULL; }
size_t nde_model_n_params(const nde_model *m) { return m ? nde_params_count(store(m)) : 0; }
size_t nde_model_in_size(const nde_model *m) { return m ? m->in_size : 0; }
size_t nde_model_out_size(const nde_model *m) { return m ? m->out_size : 0; }
const char *nde_model_kind(const nde_model *m) { return m && m->ops->kind ? m->ops->kind : ""; }
void *nde_model_content(nde_model *m) { return m ? m->self : NULL; }

void *nde_model_content_of(nde_model *m, const nde_model_ops *ops)
{
    return m && m->ops == ops ? m->self : NULL;
}
