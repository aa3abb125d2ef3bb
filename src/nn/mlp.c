/* Multilayer perceptron with an optional time input: forward with recorded
 * activations, reverse mode (VJP) and forward mode (JVP) by the chain rule layer by
 * layer (as in llm.c's per-layer forward/backward). The workspace is planned for the
 * largest batch seen and reused, so steady-state calls do not allocate. */
#include "nde/nn.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn_internal.h"

#define MLP_MAX_LAYERS (NDE_MLP_MAX_HIDDEN + 1)

/* A forward record of a batch holds every layer's pre-activation z_l and activation
 * a_l = act_l(z_l) as contiguous (batch, out_l) blocks, layer by layer (a_l shares
 * z_l's block for identity layers): block starts are batch·z_off[l] and batch·a_off[l],
 * rec_size doubles per sample in all. Contiguous blocks let each activation run as
 * one vectorized call. */
struct nde_mlp {
    size_t in, out, n_layers;
    nde_time_mode time;
    nde_dense layer[MLP_MAX_LAYERS];
    nde_act act[MLP_MAX_LAYERS];
    size_t z_off[MLP_MAX_LAYERS], a_off[MLP_MAX_LAYERS]; /* block starts, per sample */
    size_t rec_size;
    size_t theta_end; /* one past the last θ offset any layer uses */
    size_t max_width; /* max of in and every layer's out */

    /* Workspace for batches up to cap (one allocation). */
    size_t cap;
    double *ws;
    double *x_in;   /* (cap, in): input of the recorded forward */
    double *rec;    /* (cap·rec_size): record of that forward */
    double *buf[2]; /* (cap, max_width): reverse/forward-mode scratch */

    size_t rec_batch; /* batch of the recorded forward; 0 = nothing recorded */
    double rec_t;

    const nde_params *field_params; /* set by nde_mlp_field */
};

static nde_status parse_spec(const nde_mlp_spec *spec, size_t *n_hidden)
{
    if (spec->in == 0 || spec->out == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_create: zero width (in %zu, out %zu)", spec->in,
                        spec->out);
    size_t n = 0;
    while (n < NDE_MLP_MAX_HIDDEN && spec->hidden[n] != 0) n++;
    for (size_t i = n; i < NDE_MLP_MAX_HIDDEN; i++)
        if (spec->hidden[i] != 0)
            return NDE_FAIL(NDE_ERR_ARG,
                            "nde_mlp_create: hidden width %zu at index %zu follows a 0 (the "
                            "list ends at the first 0)",
                            spec->hidden[i], i);
    if ((int)spec->time < NDE_TIME_NONE || spec->time > NDE_TIME_ALL)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_create: unknown time mode %d", (int)spec->time);
    for (size_t l = 0; l <= n; l++) {
        nde_act a = spec->layer_act ? spec->layer_act[l] : (l < n ? spec->act : spec->out_act);
        if ((int)a < 0 || a >= NDE_ACT_COUNT)
            return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_create: unknown activation %d for layer %zu",
                            (int)a, l);
    }
    *n_hidden = n;
    return NDE_OK;
}

nde_status nde_mlp_create(nde_params *params, const nde_mlp_spec *spec, const char *prefix,
                          nde_mlp **out)
{
    if (out) *out = NULL;
    if (!params || !spec || !prefix || !out)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_create: NULL argument");
    if (!prefix[0]) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_create: empty tensor-name prefix");
    size_t n_hidden = 0;
    NDE_TRY(parse_spec(spec, &n_hidden));
    nde_mlp *net = nde_alloc(sizeof *net);
    if (!net) return NDE_ERR_NOMEM;
    net->in = spec->in;
    net->out = spec->out;
    net->n_layers = n_hidden + 1;
    net->time = spec->time;
    net->max_width = spec->in;
    size_t width_in = spec->in;
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t width_out = l < n_hidden ? spec->hidden[l] : spec->out;
        int timed = spec->time == NDE_TIME_ALL || (spec->time == NDE_TIME_FIRST && l == 0);
        unsigned flags = (spec->no_bias ? NDE_DENSE_NO_BIAS : 0u) |
                         (timed ? NDE_DENSE_TIME_INPUT : 0u);
        char name[NDE_PARAM_NAME_MAX];
        int len = snprintf(name, sizeof name, "%s.%zu", prefix, l);
        nde_status s = len < 0 || (size_t)len >= sizeof name
                           ? NDE_FAIL(NDE_ERR_ARG, "nde_mlp_create: prefix '%s' is too long",
                                      prefix)
                           : nde_dense_add(params, name, width_in, width_out, flags,
                                           &net->layer[l]);
        if (s != NDE_OK) {
            nde_free(net);
            return s;
        }
        net->act[l] = spec->layer_act ? spec->layer_act[l] : (l < n_hidden ? spec->act
                                                                            : spec->out_act);
        net->z_off[l] = net->rec_size;
        net->rec_size += width_out;
        net->a_off[l] = net->z_off[l];
        if (net->act[l] != NDE_ACT_IDENTITY) {
            net->a_off[l] = net->rec_size;
            net->rec_size += width_out;
        }
        size_t end = nde_nn_dense_end(&net->layer[l]);
        if (end > net->theta_end) net->theta_end = end;
        if (width_out > net->max_width) net->max_width = width_out;
        width_in = width_out;
    }
    *out = net;
    return NDE_OK;
}

void nde_mlp_destroy(nde_mlp **net)
{
    if (!net || !*net) return;
    nde_free((*net)->ws);
    nde_free(*net);
    *net = NULL;
}

nde_status nde_mlp_init(nde_mlp *net, nde_params *params, nde_init kind, double scale,
                        nde_rng *rng)
{
    if (!net || !params || !rng) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_init: NULL argument");
    for (size_t l = 0; l < net->n_layers; l++)
        NDE_TRY(nde_dense_init(&net->layer[l], params, kind, scale, rng));
    return NDE_OK;
}

size_t nde_mlp_in(const nde_mlp *net) { return net ? net->in : 0; }
size_t nde_mlp_out(const nde_mlp *net) { return net ? net->out : 0; }
size_t nde_mlp_n_layers(const nde_mlp *net) { return net ? net->n_layers : 0; }
nde_time_mode nde_mlp_time_mode(const nde_mlp *net) { return net ? net->time : NDE_TIME_NONE; }

const nde_dense *nde_mlp_layer(const nde_mlp *net, size_t l)
{
    return (net && l < net->n_layers) ? &net->layer[l] : NULL;
}

nde_act nde_mlp_layer_act(const nde_mlp *net, size_t l)
{
    return (net && l < net->n_layers) ? net->act[l] : NDE_ACT_IDENTITY;
}

size_t nde_mlp_rec_size(const nde_mlp *net) { return net ? net->rec_size : 0; }

nde_status nde_mlp_reserve(nde_mlp *net, size_t batch)
{
    if (!net) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_reserve: net is NULL");
    if (batch <= net->cap) return NDE_OK;
    size_t per = net->in + net->rec_size + 2 * net->max_width; /* doubles per sample */
    if (batch > SIZE_MAX / sizeof(double) / per)
        return NDE_FAIL(NDE_ERR_NOMEM, "nde_mlp_reserve: workspace for batch %zu overflows",
                        batch);
    double *ws = nde_alloc_array(batch * per, sizeof *ws);
    if (!ws) return NDE_ERR_NOMEM;
    double *x_in = ws, *rec = x_in + batch * net->in;
    if (net->rec_batch) { /* keep the recorded forward */
        memcpy(x_in, net->x_in, net->rec_batch * net->in * sizeof *ws);
        memcpy(rec, net->rec, net->rec_batch * net->rec_size * sizeof *ws);
    }
    nde_free(net->ws);
    net->ws = ws;
    net->cap = batch;
    net->x_in = x_in;
    net->rec = rec;
    net->buf[0] = rec + batch * net->rec_size;
    net->buf[1] = net->buf[0] + batch * net->max_width;
    return NDE_OK;
}

static nde_status check_call(const char *fn, const nde_mlp *net, const nde_params *p,
                             size_t batch)
{
    NDE_TRY(nde_nn_check_call(fn, net, "network", p, batch));
    if (net->theta_end > nde_params_count(p))
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "%s: network (%zu -> %zu) needs params up to offset %zu, params hold "
                        "%zu (not the params it was created in?)",
                        fn, net->in, net->out, net->theta_end, nde_params_count(p));
    return NDE_OK;
}

/* Run the layers on x (batch, in) writing the record rec (batch·rec_size). */
static nde_status forward_into(const nde_mlp *net, const double *theta, double t, const double *x,
                               double *rec, size_t batch)
{
    const double *h = x;
    for (size_t l = 0; l < net->n_layers; l++) {
        double *z = rec + batch * net->z_off[l], *a = rec + batch * net->a_off[l];
        nde_nn_dense_forward(&net->layer[l], theta, t, h, z, batch, NDE_NN_ROWS, 0);
        if (a != z) NDE_TRY(nde_act_forward(net->act[l], z, a, batch * net->layer[l].out));
        h = a;
    }
    return NDE_OK;
}

/* d_out (batch, out_l) = d_in ⊙ act_l'(z_l), from the record; d_out may equal d_in. */
static nde_status act_grad(const nde_mlp *net, size_t l, const double *rec, const double *d_in,
                           double *d_out, size_t batch)
{
    return nde_act_backward(net->act[l], rec + batch * net->z_off[l],
                            rec + batch * net->a_off[l], d_in, d_out, batch * net->layer[l].out);
}

/* Chain rule backwards through the forward recorded in rec at input x:
 *   dz_l = da_l ⊙ act_l'(z_l),  dW_l += dz_lᵀ [h_l, t],  db_l += Σ dz_l,  dh_l = dz_l W_l[:, :in]. */
static nde_status backward_from(nde_mlp *net, const double *theta, double t, const double *x,
                                const double *rec, const double *dy, double *dx, double *gtheta,
                                size_t batch)
{
    if (!dx && !gtheta) return NDE_OK;
    NDE_TRY(nde_mlp_reserve(net, batch));
    size_t L = net->n_layers;
    double *dz = net->buf[0], *dh = net->buf[1];
    NDE_TRY(act_grad(net, L - 1, rec, dy, dz, batch));
    for (size_t l = L; l-- > 0;) {
        const double *h = l == 0 ? x : rec + batch * net->a_off[l - 1];
        nde_nn_dense_backward(&net->layer[l], theta, t, h, dz, l == 0 ? dx : dh, gtheta, batch,
                              NDE_NN_ROWS, 0);
        if (l == 0) break;
        NDE_TRY(act_grad(net, l - 1, rec, dh, dh, batch));
        double *tmp = dz;
        dz = dh;
        dh = tmp;
    }
    return NDE_OK;
}

/* Forward into the workspace, keeping a copy of x for nde_mlp_backward. */
static nde_status record_forward(nde_mlp *net, const nde_params *p, double t, const double *x,
                                 size_t batch)
{
    NDE_TRY(nde_mlp_reserve(net, batch));
    net->rec_batch = 0;
    memcpy(net->x_in, x, batch * net->in * sizeof *x);
    NDE_TRY(forward_into(net, nde_params_theta_const(p), t, net->x_in, net->rec, batch));
    net->rec_batch = batch;
    net->rec_t = t;
    return NDE_OK;
}

nde_status nde_mlp_forward(nde_mlp *net, const nde_params *p, double t, const double *x,
                           double *y, size_t batch)
{
    NDE_TRY(check_call("nde_mlp_forward", net, p, batch));
    if (!x || !y) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_forward: NULL x or y");
    NDE_TRY(record_forward(net, p, t, x, batch));
    memcpy(y, net->rec + batch * net->a_off[net->n_layers - 1], batch * net->out * sizeof *y);
    return NDE_OK;
}

nde_status nde_mlp_forward_rec(const nde_mlp *net, const nde_params *p, double t,
                               const double *x, double *y, double *rec, size_t batch)
{
    NDE_TRY(check_call("nde_mlp_forward_rec", net, p, batch));
    if (!x || !y || !rec) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_forward_rec: NULL x, y or rec");
    NDE_TRY(forward_into(net, nde_params_theta_const(p), t, x, rec, batch));
    memcpy(y, rec + batch * net->a_off[net->n_layers - 1], batch * net->out * sizeof *y);
    return NDE_OK;
}

nde_status nde_mlp_vjp_rec(nde_mlp *net, const nde_params *p, double t, const double *x,
                           const double *rec, const double *dy, double *dx, double *gtheta,
                           size_t batch)
{
    NDE_TRY(check_call("nde_mlp_vjp_rec", net, p, batch));
    if (!x || !rec || !dy) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_vjp_rec: NULL x, rec or dy");
    return backward_from(net, nde_params_theta_const(p), t, x, rec, dy, dx, gtheta, batch);
}

nde_status nde_mlp_backward(nde_mlp *net, const nde_params *p, const double *dy, double *dx,
                            double *gtheta, size_t batch)
{
    NDE_TRY(check_call("nde_mlp_backward", net, p, batch));
    if (!dy) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_backward: dy is NULL");
    if (net->rec_batch == 0)
        return NDE_FAIL(NDE_ERR_STATE, "nde_mlp_backward: no forward pass recorded");
    if (net->rec_batch != batch)
        return NDE_FAIL(NDE_ERR_STATE,
                        "nde_mlp_backward: batch %zu differs from the recorded forward's %zu",
                        batch, net->rec_batch);
    return backward_from(net, nde_params_theta_const(p), net->rec_t, net->x_in, net->rec, dy, dx,
                         gtheta, batch);
}

nde_status nde_mlp_vjp(nde_mlp *net, const nde_params *p, double t, const double *x,
                       const double *dy, double *dx, double *gtheta, size_t batch)
{
    NDE_TRY(check_call("nde_mlp_vjp", net, p, batch));
    if (!x || !dy) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_vjp: NULL x or dy");
    NDE_TRY(record_forward(net, p, t, x, batch));
    return backward_from(net, nde_params_theta_const(p), t, net->x_in, net->rec, dy, dx, gtheta,
                         batch);
}

/* Tangents forwards: dz_l = dh_l W_l[:, :in]ᵀ (b and t are constants), dh_{l+1} = act_l'(z_l) ⊙ dz_l. */
nde_status nde_mlp_jvp(nde_mlp *net, const nde_params *p, double t, const double *x,
                       const double *w, double *jy, size_t batch)
{
    NDE_TRY(check_call("nde_mlp_jvp", net, p, batch));
    if (!x || !w || !jy) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_jvp: NULL x, w or jy");
    NDE_TRY(record_forward(net, p, t, x, batch));
    const double *theta = nde_params_theta_const(p);
    const double *cur = w;
    for (size_t l = 0; l < net->n_layers; l++) {
        double *next = l + 1 == net->n_layers ? jy : net->buf[l % 2];
        nde_nn_dense_jvp(&net->layer[l], theta, cur, next, batch);
        NDE_TRY(act_grad(net, l, net->rec, next, next, batch));
        cur = next;
    }
    return NDE_OK;
}

nde_status nde_nn_mlp_bind_field_params(nde_mlp *net, const nde_params *p)
{
    if (net->theta_end > nde_params_count(p))
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "nde_mlp_field: network needs params up to offset %zu, params hold %zu",
                        net->theta_end, nde_params_count(p));
    net->field_params = p;
    return NDE_OK;
}

const nde_params *nde_nn_mlp_field_params(const nde_mlp *net) { return net->field_params; }
