/* Multilayer perceptron with an optional time input: forward with recorded
 * activations, reverse mode (VJP) and forward mode (JVP) by the chain rule layer by
 * layer (as in llm.c's per-layer forward/backward). The workspace is planned for the
 * largest batch seen and reused, so steady-state calls do not allocate. */
#include "nde/nn.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn_internal.h"

#define MLP_MAX_LAYERS (NDE_MLP_MAX_HIDDEN + 1)

struct nde_mlp {
    size_t in, out, n_layers;
    nde_time_mode time;
    nde_dense layer[MLP_MAX_LAYERS];
    nde_act act[MLP_MAX_LAYERS];
    size_t theta_end; /* one past the last θ offset any layer uses */
    size_t max_width; /* max of in and every layer's out */

    /* Workspace for batches up to cap (one allocation). */
    size_t cap;
    double *ws;
    double *x_in;              /* (cap, in): input of the recorded forward */
    double *z[MLP_MAX_LAYERS]; /* (cap, out_l): pre-activations */
    double *a[MLP_MAX_LAYERS]; /* (cap, out_l): activations (== z for identity) */
    double *buf[2];            /* (cap, max_width): reverse/forward-mode scratch */

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

nde_status nde_mlp_reserve(nde_mlp *net, size_t batch)
{
    if (!net) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_reserve: net is NULL");
    if (batch <= net->cap) return NDE_OK;
    /* Doubles per sample: input copy, z and a per layer (a only when not identity),
     * two scratch rows. */
    size_t per = net->in + 2 * net->max_width;
    for (size_t l = 0; l < net->n_layers; l++)
        per += net->layer[l].out * (net->act[l] == NDE_ACT_IDENTITY ? 1 : 2);
    if (batch > SIZE_MAX / sizeof(double) / per)
        return NDE_FAIL(NDE_ERR_NOMEM, "nde_mlp_reserve: workspace for batch %zu overflows",
                        batch);
    double *ws = nde_alloc_array(batch * per, sizeof *ws);
    if (!ws) return NDE_ERR_NOMEM;
    nde_free(net->ws);
    net->ws = ws;
    net->cap = batch;
    net->rec_batch = 0;
    double *p = ws;
    net->x_in = p;
    p += batch * net->in;
    for (size_t l = 0; l < net->n_layers; l++) {
        net->z[l] = p;
        p += batch * net->layer[l].out;
        if (net->act[l] == NDE_ACT_IDENTITY) {
            net->a[l] = net->z[l];
        } else {
            net->a[l] = p;
            p += batch * net->layer[l].out;
        }
    }
    net->buf[0] = p;
    p += batch * net->max_width;
    net->buf[1] = p;
    return NDE_OK;
}

static nde_status check_call(const char *fn, const nde_mlp *net, const nde_params *p,
                             size_t batch)
{
    if (!net || !p) return NDE_FAIL(NDE_ERR_ARG, "%s: NULL network or params", fn);
    if (batch == 0) return NDE_FAIL(NDE_ERR_ARG, "%s: batch is 0", fn);
    if (batch > INT_MAX) return NDE_FAIL(NDE_ERR_ARG, "%s: batch %zu beyond BLAS int", fn, batch);
    if (net->theta_end > nde_params_count(p))
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "%s: network (%zu -> %zu) needs params up to offset %zu, params hold "
                        "%zu (not the params it was created in?)",
                        fn, net->in, net->out, net->theta_end, nde_params_count(p));
    return NDE_OK;
}

/* Run the layers on x (batch, in) and record every z and a; output in a[L-1]. */
static nde_status record_forward(nde_mlp *net, const nde_params *p, double t, const double *x,
                                 size_t batch)
{
    NDE_TRY(nde_mlp_reserve(net, batch));
    const double *theta = nde_params_theta_const(p);
    memcpy(net->x_in, x, batch * net->in * sizeof *x);
    const double *h = net->x_in;
    for (size_t l = 0; l < net->n_layers; l++) {
        nde_nn_dense_forward(&net->layer[l], theta, t, h, net->z[l], batch);
        if (net->a[l] != net->z[l])
            NDE_TRY(nde_act_forward(net->act[l], net->z[l], net->a[l], batch * net->layer[l].out));
        h = net->a[l];
    }
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
    memcpy(y, net->a[net->n_layers - 1], batch * net->out * sizeof *y);
    return NDE_OK;
}

/* Chain rule backwards through the recorded forward:
 *   dz_l = da_l ⊙ act_l'(z_l),  dW_l += dz_lᵀ [h_l, t],  db_l += Σ dz_l,  dh_l = dz_l W_l[:, :in]. */
static nde_status backward_recorded(nde_mlp *net, const nde_params *p, const double *dy,
                                    double *dx, double *gtheta)
{
    if (!dx && !gtheta) return NDE_OK;
    const double *theta = nde_params_theta_const(p);
    size_t batch = net->rec_batch, L = net->n_layers;
    double *dz = net->buf[0], *dh = net->buf[1];
    NDE_TRY(nde_act_backward(net->act[L - 1], net->z[L - 1], net->a[L - 1], dy, dz,
                             batch * net->out));
    for (size_t l = L; l-- > 0;) {
        const nde_dense *d = &net->layer[l];
        const double *h = l == 0 ? net->x_in : net->a[l - 1];
        double *target = l == 0 ? dx : dh;
        nde_nn_dense_backward(d, theta, net->rec_t, h, dz, target, gtheta, batch);
        if (l == 0) break;
        NDE_TRY(nde_act_backward(net->act[l - 1], net->z[l - 1], net->a[l - 1], dh, dh,
                                 batch * d->in));
        double *tmp = dz;
        dz = dh;
        dh = tmp;
    }
    return NDE_OK;
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
    return backward_recorded(net, p, dy, dx, gtheta);
}

nde_status nde_mlp_vjp(nde_mlp *net, const nde_params *p, double t, const double *x,
                       const double *dy, double *dx, double *gtheta, size_t batch)
{
    NDE_TRY(check_call("nde_mlp_vjp", net, p, batch));
    if (!x || !dy) return NDE_FAIL(NDE_ERR_ARG, "nde_mlp_vjp: NULL x or dy");
    NDE_TRY(record_forward(net, p, t, x, batch));
    return backward_recorded(net, p, dy, dx, gtheta);
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
        size_t n = batch * net->layer[l].out;
        nde_nn_dense_jvp(&net->layer[l], theta, cur, next, batch);
        NDE_TRY(nde_act_backward(net->act[l], net->z[l], net->a[l], next, next, n));
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
