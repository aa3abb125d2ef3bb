/* Parameter initializers. Sources: torch.nn.Linear.reset_parameters (PyTorch 1.13:
 * kaiming_uniform_(W, a=√5) gives bound gain·√(3/fan_in) with gain √(2/(1+a²)), i.e.
 * 1/√fan_in; bias U(±1/√fan_in)); Glorot & Bengio, "Understanding the difficulty of
 * training deep feedforward neural networks", AISTATS 2010, eq. 16 (uniform) and
 * torch.nn.init.xavier_normal_ (std = gain·√(2/(fan_in+fan_out))). */
#include "nde/nn.h"

#include <math.h>
#include "core/names.h"
#include "nn/nn_internal.h"

static const char *const init_names[NDE_INIT_COUNT] = {
    [NDE_INIT_TORCH] = "torch",
    [NDE_INIT_XAVIER_UNIFORM] = "xavier_uniform",
    [NDE_INIT_XAVIER_NORMAL] = "xavier_normal",
    [NDE_INIT_NORMAL] = "normal",
};

const char *nde_init_name(nde_init k) { return nde_name_at(init_names, NDE_INIT_COUNT, (int)k); }

nde_status nde_init_parse(const char *name, nde_init *k)
{
    if (!name || !k) return NDE_FAIL(NDE_ERR_ARG, "nde_init_parse: NULL argument");
    int i = nde_name_index(name, init_names, NDE_INIT_COUNT);
    if (i >= 0) {
        *k = (nde_init)i;
        return NDE_OK;
    }
    return NDE_FAIL(NDE_ERR_ARG,
                    "unknown initializer '%s' (torch, xavier_uniform, xavier_normal, normal)",
                    name);
}

void nde_init_uniform(nde_rng *rng, double lo, double hi, double *w, size_t n)
{
    for (size_t i = 0; i < n; i++) w[i] = nde_rng_uniform_in(rng, lo, hi);
}

void nde_init_normal(nde_rng *rng, double mean, double std, double *w, size_t n)
{
    for (size_t i = 0; i < n; i++) w[i] = mean + std * nde_rng_normal(rng);
}

void nde_init_constant(double value, double *w, size_t n)
{
    for (size_t i = 0; i < n; i++) w[i] = value;
}

nde_status nde_dense_init(const nde_dense *d, nde_params *p, nde_init kind, double scale,
                          nde_rng *rng)
{
    if (!d || !p || !rng) return NDE_FAIL(NDE_ERR_ARG, "nde_dense_init: NULL argument");
    if ((int)kind < 0 || kind >= NDE_INIT_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_dense_init: unknown initializer %d", (int)kind);
    if (kind != NDE_INIT_TORCH && !(isfinite(scale) && scale > 0.0))
        return NDE_FAIL(NDE_ERR_ARG, "nde_dense_init(%s): scale %g must be finite and > 0",
                        init_names[kind], scale);
    size_t end = nde_nn_dense_end(d);
    if (end > nde_params_count(p))
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "nde_dense_init: layer (%zu -> %zu) needs params up to offset %zu, "
                        "params hold %zu",
                        d->in, d->out, end, nde_params_count(p));
    nde_nn_dense_fill(d, nde_params_theta(p), kind, scale, rng);
    return NDE_OK;
}

void nde_nn_dense_fill(const nde_dense *d, double *theta, nde_init kind, double scale,
                       nde_rng *rng)
{
    double *w = theta + d->w_off;
    double *b = d->has_bias ? theta + d->b_off : NULL;
    size_t nw = d->out * d->in_cols;
    double fan_in = (double)d->in_cols, fan_out = (double)d->out;
    switch (kind) {
    case NDE_INIT_TORCH: {
        double bound = 1.0 / sqrt(fan_in);
        nde_init_uniform(rng, -bound, bound, w, nw);
        if (b) nde_init_uniform(rng, -bound, bound, b, d->out);
        return;
    }
    case NDE_INIT_XAVIER_UNIFORM: {
        double bound = scale * sqrt(6.0 / (fan_in + fan_out));
        nde_init_uniform(rng, -bound, bound, w, nw);
        break;
    }
    case NDE_INIT_XAVIER_NORMAL:
        nde_init_normal(rng, 0.0, scale * sqrt(2.0 / (fan_in + fan_out)), w, nw);
        break;
    case NDE_INIT_NORMAL: nde_init_normal(rng, 0.0, scale, w, nw); break;
    case NDE_INIT_COUNT: break;
    }
    if (b) nde_init_constant(0.0, b, d->out);
}
