/* Robertson kinetics plus a small MLP correction: see robertson_model.h. */
#include "robertson_model.h"

#include <math.h>
#include <string.h>

struct rob_model {
    nde_params *p;
    nde_mlp *net; /* NULL when hidden = 0 */
    size_t off_k;
    double scale;
    double *tmp; /* (2, tmp_cap, 3): network outputs and products */
    size_t tmp_cap; /* batch it holds */
};

nde_status rob_model_create(size_t hidden, double scale, uint64_t seed, rob_model **out)
{
    rob_model *m = nde_alloc(sizeof *m);
    if (!m) return NDE_ERR_NOMEM;
    m->scale = scale;
    nde_status st = nde_params_create(&m->p);
    size_t three = 3;
    if (st == NDE_OK) st = nde_params_add(m->p, "log_k", 1, &three, NDE_GROUP_DEFAULT, &m->off_k);
    if (st == NDE_OK && hidden)
        st = nde_mlp_create(m->p, &(nde_mlp_spec){.in = 3, .out = 3, .hidden = {hidden},
                                                  .act = NDE_ACT_TANH},
                            "mlp", &m->net);
    if (st == NDE_OK && m->net) {
        nde_rng rng;
        nde_rng_seed(&rng, seed);
        st = nde_mlp_init(m->net, m->p, NDE_INIT_XAVIER_NORMAL, 1.0, &rng);
    }
    if (st != NDE_OK) {
        rob_model_destroy(&m);
        return st;
    }
    *out = m;
    return NDE_OK;
}

void rob_model_destroy(rob_model **mp)
{
    if (!mp || !*mp) return;
    rob_model *m = *mp;
    nde_mlp_destroy(&m->net);
    nde_params_destroy(&m->p);
    nde_free(m->tmp);
    nde_free(m);
    *mp = NULL;
}

nde_params *rob_model_params(rob_model *m) { return m->p; }
size_t rob_model_log_k_offset(const rob_model *m) { return m->off_k; }

static nde_status reserve(rob_model *m, size_t batch)
{
    if (batch <= m->tmp_cap) return NDE_OK;
    double *t = nde_alloc_array(batch * 6, sizeof *t);
    if (!t) return NDE_ERR_NOMEM;
    nde_free(m->tmp);
    m->tmp = t;
    m->tmp_cap = batch;
    return NDE_OK;
}

static nde_status model_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    rob_model *m = ctx;
    const double *lk = nde_params_theta_const(m->p) + m->off_k;
    double k1 = exp(lk[0]), k2 = exp(lk[1]), k3 = exp(lk[2]);
    for (size_t b = 0; b < batch; b++) {
        const double *y = u + 3 * b;
        double r1 = k1 * y[0], r2 = k2 * y[1] * y[2], r3 = k3 * y[1] * y[1];
        du[3 * b] = -r1 + r2;
        du[3 * b + 1] = r1 - r2 - r3;
        du[3 * b + 2] = r3;
    }
    if (!m->net) return NDE_OK;
    NDE_TRY(reserve(m, batch));
    NDE_TRY(nde_mlp_forward(m->net, m->p, t, u, m->tmp, batch));
    for (size_t i = 0; i < 3 * batch; i++) du[i] += m->scale * m->tmp[i];
    return NDE_OK;
}

/* vᵀ∂R/∂u, and vᵀ∂R/∂log_k = k ⊙ vᵀ∂R/∂k. */
static nde_status model_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                            double *gth, size_t batch)
{
    rob_model *m = ctx;
    const double *lk = nde_params_theta_const(m->p) + m->off_k;
    double k1 = exp(lk[0]), k2 = exp(lk[1]), k3 = exp(lk[2]);
    for (size_t b = 0; b < batch; b++) {
        const double *y = u + 3 * b, *l = v + 3 * b;
        if (vu) {
            double *o = vu + 3 * b;
            o[0] = k1 * (l[1] - l[0]);
            o[1] = k2 * y[2] * (l[0] - l[1]) + 2 * k3 * y[1] * (l[2] - l[1]);
            o[2] = k2 * y[1] * (l[0] - l[1]);
        }
        if (gth) {
            double *g = gth + m->off_k;
            g[0] += k1 * y[0] * (l[1] - l[0]);
            g[1] += k2 * y[1] * y[2] * (l[0] - l[1]);
            g[2] += k3 * y[1] * y[1] * (l[2] - l[1]);
        }
    }
    if (!m->net) return NDE_OK;
    NDE_TRY(reserve(m, batch));
    double *sv = m->tmp, *dx = m->tmp + 3 * batch;
    for (size_t i = 0; i < 3 * batch; i++) sv[i] = m->scale * v[i];
    NDE_TRY(nde_mlp_vjp(m->net, m->p, t, u, sv, vu ? dx : NULL, gth, batch));
    if (vu)
        for (size_t i = 0; i < 3 * batch; i++) vu[i] += dx[i];
    return NDE_OK;
}

/* (∂f/∂u) w: the Robertson Jacobian plus s times the network's. */
static nde_status model_jvp(void *ctx, double t, const double *u, const double *w, double *jw,
                            size_t batch)
{
    rob_model *m = ctx;
    const double *lk = nde_params_theta_const(m->p) + m->off_k;
    double k1 = exp(lk[0]), k2 = exp(lk[1]), k3 = exp(lk[2]);
    for (size_t b = 0; b < batch; b++) {
        const double *y = u + 3 * b, *x = w + 3 * b;
        double *o = jw + 3 * b;
        o[0] = -k1 * x[0] + k2 * y[2] * x[1] + k2 * y[1] * x[2];
        o[1] = k1 * x[0] - (k2 * y[2] + 2 * k3 * y[1]) * x[1] - k2 * y[1] * x[2];
        o[2] = 2 * k3 * y[1] * x[1];
    }
    if (!m->net) return NDE_OK;
    NDE_TRY(reserve(m, batch));
    NDE_TRY(nde_mlp_jvp(m->net, m->p, t, u, w, m->tmp, batch));
    for (size_t i = 0; i < 3 * batch; i++) jw[i] += m->scale * m->tmp[i];
    return NDE_OK;
}

nde_field rob_model_field(rob_model *m)
{
    return (nde_field){.dim = 3, .n_params = nde_params_count(m->p), .ctx = m, .f = model_f,
                       .vjp = model_vjp, .jvp = model_jvp};
}
