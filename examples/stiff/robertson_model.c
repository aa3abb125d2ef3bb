/* Robertson kinetics plus a small MLP correction: see robertson_model.h. */
#include "robertson_model.h"

#include <math.h>
#include <string.h>

typedef struct rob_model {
    const nde_params *p; /* the model's store (owned by the model) */
    nde_mlp *net; /* NULL when hidden = 0 */
    size_t off_k;
    double scale;
    double *tmp; /* (2, tmp_cap, 3): network outputs and products */
    size_t tmp_cap; /* batch it holds */
    double *u; /* (u_cap, 3): the last model forward's input */
    size_t u_cap;
} rob_model;

static nde_status scratch(rob_model *m, size_t batch)
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
    NDE_TRY(scratch(m, batch));
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
    NDE_TRY(scratch(m, batch));
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
    NDE_TRY(scratch(m, batch));
    NDE_TRY(nde_mlp_jvp(m->net, m->p, t, u, w, m->tmp, batch));
    for (size_t i = 0; i < 3 * batch; i++) jw[i] += m->scale * m->tmp[i];
    return NDE_OK;
}

/* As a model: y = f(0, x) (the neural ODE uses the field; these make the field model
 * complete and checkable on its own). */
static nde_status rob_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    (void)p;
    rob_model *m = self;
    if (batch > m->u_cap) {
        double *u = nde_alloc_array(3 * batch, sizeof *u);
        if (!u) return NDE_FAIL(NDE_ERR_NOMEM, "robertson model: input of a batch of %zu", batch);
        nde_free(m->u);
        m->u = u;
        m->u_cap = batch;
    }
    memcpy(m->u, x, 3 * batch * sizeof *x);
    return model_f(m, 0.0, x, y, batch);
}

static nde_status rob_backward(void *self, nde_params *p, const double *gy, double *gx,
                               double *gtheta, size_t batch)
{
    (void)p;
    rob_model *m = self;
    return model_vjp(m, 0.0, m->u, gy, gx, gtheta, batch);
}

static nde_status rob_init(void *self, nde_params *p, nde_rng *rng)
{
    rob_model *m = self;
    return m->net ? nde_mlp_init(m->net, p, NDE_INIT_XAVIER_NORMAL, 1.0, rng) : NDE_OK;
}

static nde_status rob_field(void *self, nde_params *p, nde_field *field)
{
    *field = (nde_field){.dim = 3, .n_params = nde_params_count(p), .ctx = self, .f = model_f,
                         .vjp = model_vjp, .jvp = model_jvp};
    return NDE_OK;
}

static void rob_destroy(void *self)
{
    rob_model *m = self;
    nde_mlp_destroy(&m->net);
    nde_free(m->tmp);
    nde_free(m->u);
    nde_free(m);
}

static const nde_model_ops rob_ops = {.kind = "robertson", .forward = rob_forward,
                                      .backward = rob_backward, .init = rob_init,
                                      .field = rob_field, .destroy = rob_destroy};

nde_status rob_model_create(size_t hidden, double scale, nde_model **out)
{
    nde_params *p = NULL;
    NDE_TRY(nde_params_create(&p));
    rob_model *m = nde_alloc(sizeof *m);
    if (!m) {
        nde_params_destroy(&p);
        return NDE_ERR_NOMEM;
    }
    m->p = p;
    m->scale = scale;
    size_t three = 3;
    nde_status st = nde_params_add(p, "log_k", 1, &three, NDE_GROUP_DEFAULT, &m->off_k);
    if (st == NDE_OK && hidden)
        st = nde_mlp_create(p, &(nde_mlp_spec){.in = 3, .out = 3, .hidden = {hidden},
                                               .act = NDE_ACT_TANH},
                            "mlp", &m->net);
    if (st != NDE_OK) {
        rob_destroy(m);
        nde_params_destroy(&p);
        return st;
    }
    return nde_model_create(&rob_ops, m, p, 3, 3, out);
}

double *rob_model_log_k(nde_model *m)
{
    rob_model *r = nde_model_content(m);
    return nde_params_theta(nde_model_params(m)) + r->off_k;
}
