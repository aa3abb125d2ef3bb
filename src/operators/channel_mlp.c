/* Channel MLP: pointwise layers with GELU between them (the FNO's lifting P and
 * projection Q; legacy fc0, and fc1 → GELU → fc2). */
#include <stdio.h>
#include <string.h>

#include "nde/operators.h"
#include "operators/f32.h"

struct nde_channel_mlp {
    size_t n_layers;
    size_t *channels;   /* (n_layers + 1) */
    nde_pointwise **pw; /* (n_layers) */
};

void nde_channel_mlp_destroy(nde_channel_mlp **mlp)
{
    if (!mlp || !*mlp) return;
    nde_channel_mlp *m = *mlp;
    if (m->pw)
        for (size_t i = 0; i < m->n_layers; i++) nde_pointwise_destroy(&m->pw[i]);
    nde_free(m->pw);
    nde_free(m->channels);
    nde_free(m);
    *mlp = NULL;
}

nde_status nde_channel_mlp_create(nde_params *params, const char *name, size_t n_layers,
                                  const size_t *channels, nde_channel_mlp **mlp)
{
    if (!params || !name || !channels || !mlp)
        return NDE_FAIL(NDE_ERR_ARG, "nde_channel_mlp_create: NULL argument");
    if (n_layers == 0) return NDE_FAIL(NDE_ERR_ARG, "channel MLP '%s' has 0 layers", name);
    nde_channel_mlp *m = nde_alloc(sizeof *m);
    if (!m) return NDE_ERR_NOMEM;
    m->n_layers = n_layers;
    m->channels = nde_alloc_array(n_layers + 1, sizeof *m->channels);
    m->pw = nde_alloc_array(n_layers, sizeof *m->pw);
    if (!m->channels || !m->pw) {
        nde_channel_mlp_destroy(&m);
        return NDE_ERR_NOMEM;
    }
    memcpy(m->channels, channels, (n_layers + 1) * sizeof *channels);
    for (size_t i = 0; i < n_layers; i++) {
        char lname[NDE_PARAM_NAME_MAX];
        int len = snprintf(lname, sizeof lname, "%s.%zu", name, i);
        nde_status st = (len < 0 || (size_t)len >= sizeof lname)
                            ? NDE_FAIL(NDE_ERR_ARG, "channel MLP name '%s' is too long", name)
                            : nde_pointwise_create(params, lname, channels[i], channels[i + 1], 1,
                                                   &m->pw[i]);
        if (st != NDE_OK) {
            nde_channel_mlp_destroy(&m);
            return st;
        }
    }
    *mlp = m;
    return NDE_OK;
}

void nde_channel_mlp_init(const nde_channel_mlp *mlp, double *theta, nde_rng *rng)
{
    if (!mlp) return;
    for (size_t i = 0; i < mlp->n_layers; i++) nde_pointwise_init(mlp->pw[i], theta, rng);
}

static size_t max_hidden(const nde_channel_mlp *m)
{
    size_t mx = 0;
    for (size_t i = 1; i < m->n_layers; i++)
        if (m->channels[i] > mx) mx = m->channels[i];
    return mx;
}

/* Cache: for hidden layer i, GELU derivative d_i and activation a_i (batch, c_{i+1}, npts),
 * then one gradient buffer of the widest hidden layer. */
size_t nde_channel_mlp_cache_size(const nde_channel_mlp *mlp, size_t batch, size_t npts)
{
    if (!mlp) return 0;
    size_t s = 0;
    for (size_t i = 1; i < mlp->n_layers; i++) s += 2 * mlp->channels[i];
    return (s + max_hidden(mlp)) * batch * npts;
}

static double *hidden_z(const nde_channel_mlp *m, double *cache, size_t i, size_t batch,
                        size_t npts)
{
    for (size_t j = 1; j <= i; j++) cache += 2 * m->channels[j] * batch * npts;
    return cache;
}

nde_status nde_channel_mlp_forward(const nde_channel_mlp *mlp, const double *theta,
                                   const double *x, double *y, size_t batch, size_t npts,
                                   double *cache)
{
    if (!mlp || !theta || !x || !y || (mlp->n_layers > 1 && !cache))
        return NDE_FAIL(NDE_ERR_ARG, "nde_channel_mlp_forward: NULL argument");
    const double *in = x;
    for (size_t i = 0; i + 1 < mlp->n_layers; i++) {
        double *z = hidden_z(mlp, cache, i, batch, npts);
        size_t count = mlp->channels[i + 1] * batch * npts;
        NDE_TRY(nde_pointwise_forward(mlp->pw[i], theta, in, z + count, batch, npts, 0));
        nde_gelu_with_derivative(z + count, z + count, z, count);
        in = z + count;
    }
    return nde_pointwise_forward(mlp->pw[mlp->n_layers - 1], theta, in, y, batch, npts, 0);
}

nde_status nde_channel_mlp_vjp(const nde_channel_mlp *mlp, const double *theta,
                               const double *x, const double *gy, double *gx, double *gtheta,
                               size_t batch, size_t npts, double *cache)
{
    if (!mlp || !theta || !x || !gy || (mlp->n_layers > 1 && !cache))
        return NDE_FAIL(NDE_ERR_ARG, "nde_channel_mlp_vjp: NULL argument");
    double *tmp = mlp->n_layers > 1 ? hidden_z(mlp, cache, mlp->n_layers - 1, batch, npts) : NULL;
    const double *g = gy;
    for (size_t i = mlp->n_layers; i-- > 1;) {
        double *z = hidden_z(mlp, cache, i - 1, batch, npts);
        size_t count = mlp->channels[i] * batch * npts;
        NDE_TRY(nde_pointwise_vjp(mlp->pw[i], theta, z + count, g, tmp, gtheta, batch, npts, 0));
        for (size_t j = 0; j < count; j++) z[j] *= tmp[j];
        g = z;
    }
    return nde_pointwise_vjp(mlp->pw[0], theta, x, g, gx, gtheta, batch, npts, 0);
}

size_t nde_channel_mlp_n_layers(const nde_channel_mlp *mlp) { return mlp->n_layers; }
const nde_pointwise *nde_channel_mlp_layer(const nde_channel_mlp *mlp, size_t i)
{
    return mlp->pw[i];
}
