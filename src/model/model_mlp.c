/* The MLP as a model: y = MLP(0, x). */
#include "model/model_internal.h"

typedef struct mlp_model {
    nde_mlp *net;
    nde_init init;
    double scale;
} mlp_model;

static nde_status mlp_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    return nde_mlp_forward(((mlp_model *)self)->net, p, 0.0, x, y, batch);
}

static nde_status mlp_backward(void *self, nde_params *p, const double *gy, double *gx,
                               double *gtheta, size_t batch)
{
    return nde_mlp_backward(((mlp_model *)self)->net, p, gy, gx, gtheta, batch);
}

static nde_status mlp_init(void *self, nde_params *p, nde_rng *rng)
{
    mlp_model *mm = self;
    return nde_mlp_init(mm->net, p, mm->init, mm->scale, rng);
}

static nde_status mlp_reserve(void *self, size_t max_batch)
{
    return nde_mlp_reserve(((mlp_model *)self)->net, max_batch);
}

static nde_status mlp_field(void *self, nde_params *p, nde_field *field)
{
    return nde_mlp_field(((mlp_model *)self)->net, p, field);
}

static void mlp_destroy(void *self)
{
    mlp_model *mm = self;
    nde_mlp_destroy(&mm->net);
    nde_free(mm);
}

static const nde_model_ops mlp_ops = {.kind = "mlp", .forward = mlp_forward,
                                      .backward = mlp_backward, .init = mlp_init,
                                      .reserve = mlp_reserve, .field = mlp_field,
                                      .destroy = mlp_destroy};

nde_status nde_model_mlp_create(const nde_mlp_spec *spec, const char *prefix, nde_init init,
                                double scale, nde_model **out)
{
    if (!spec || !prefix || !out)
        return NDE_FAIL(NDE_ERR_ARG, "nde_model_mlp_create: NULL argument");
    *out = NULL;
    if ((int)init < 0 || init >= NDE_INIT_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_model_mlp_create: unknown init %d", (int)init);
    nde_params *p = NULL;
    NDE_TRY(nde_params_create(&p));
    mlp_model *mm = nde_alloc(sizeof *mm);
    nde_status st = mm ? nde_mlp_create(p, spec, prefix, &mm->net) : NDE_ERR_NOMEM;
    if (st != NDE_OK) {
        if (mm) nde_free(mm);
        nde_params_destroy(&p);
        return st;
    }
    mm->init = init;
    mm->scale = scale;
    return nde_model_create(&mlp_ops, mm, p, spec->in, spec->out, out);
}

nde_mlp *nde_model_mlp_net(nde_model *m)
{
    mlp_model *mm = nde_model_content_of(m, &mlp_ops);
    return mm ? mm->net : NULL;
}
