/* nde_field adaptor for an MLP: f(t, u) = MLP(t, u), with its VJP, JVP and recorded pair. The field's
 * ctx is the network; the params it reads are bound to the network by nde_mlp_field. */
#include "nde/nn.h"

#include "nn/nn_internal.h"

static nde_status field_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    nde_mlp *net = ctx;
    return nde_mlp_forward(net, nde_nn_mlp_field_params(net), t, u, du, batch);
}

static nde_status field_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                            double *gtheta, size_t batch)
{
    nde_mlp *net = ctx;
    return nde_mlp_vjp(net, nde_nn_mlp_field_params(net), t, u, v, vu, gtheta, batch);
}

static nde_status field_jvp(void *ctx, double t, const double *u, const double *w, double *jw,
                            size_t batch)
{
    nde_mlp *net = ctx;
    return nde_mlp_jvp(net, nde_nn_mlp_field_params(net), t, u, w, jw, batch);
}

static nde_status field_f_rec(void *ctx, double t, const double *u, double *du, double *rec,
                              size_t batch)
{
    nde_mlp *net = ctx;
    return nde_mlp_forward_rec(net, nde_nn_mlp_field_params(net), t, u, du, rec, batch);
}

static nde_status field_vjp_rec(void *ctx, double t, const double *u, const double *rec,
                                const double *v, double *vu, double *gtheta, size_t batch)
{
    nde_mlp *net = ctx;
    return nde_mlp_vjp_rec(net, nde_nn_mlp_field_params(net), t, u, rec, v, vu, gtheta, batch);
}

nde_status nde_mlp_field(nde_mlp *net, const nde_params *params, nde_field *field)
{
    if (!net || !params || !field) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_field: NULL argument");
    size_t in = nde_mlp_in(net), out = nde_mlp_out(net);
    if (in != out)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "nde_mlp_field: a vector field needs in == out, the network maps %zu -> "
                        "%zu",
                        in, out);
    NDE_TRY(nde_nn_mlp_bind_field_params(net, params));
    *field = (nde_field){
        .dim = in,
        .n_params = nde_params_count(params),
        .ctx = net,
        .f = field_f,
        .vjp = field_vjp,
        .jvp = field_jvp,
        .rec_size = nde_mlp_rec_size(net),
        .f_rec = field_f_rec,
        .vjp_rec = field_vjp_rec,
    };
    return NDE_OK;
}
