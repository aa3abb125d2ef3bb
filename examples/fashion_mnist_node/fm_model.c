/* The neural-ODE classifier: construction, and the classifier head's loss and gradient. */
#include "fm_model.h"

#include <math.h>
#include <string.h>

#include "fm_data.h"

nde_status fm_model_create(size_t max_batch, nde_rng *rng, fm_model *m)
{
    memset(m, 0, sizeof *m);
    m->max_batch = max_batch;
    NDE_TRY(nde_params_create(&m->p));
    nde_mlp_spec spec = {.in = FM_PIXELS, .out = FM_PIXELS, .hidden = {100},
                         .act = NDE_ACT_TANH, .out_act = NDE_ACT_TANH, .time = NDE_TIME_ALL};
    NDE_TRY(nde_mlp_create(m->p, &spec, "ode", &m->net));
    NDE_TRY(nde_dense_add(m->p, "classifier", FM_PIXELS, FM_CLASSES, 0, &m->cls));
    NDE_TRY(nde_mlp_init(m->net, m->p, NDE_INIT_TORCH, 0.0, rng));
    NDE_TRY(nde_dense_init(&m->cls, m->p, NDE_INIT_TORCH, 0.0, rng));
    NDE_TRY(nde_mlp_reserve(m->net, max_batch));
    NDE_TRY(nde_mlp_field(m->net, m->p, &m->field));
    m->logits = nde_alloc_array(max_batch * FM_CLASSES, sizeof *m->logits);
    m->dlogits = nde_alloc_array(max_batch * FM_CLASSES, sizeof *m->dlogits);
    if (!m->logits || !m->dlogits) return NDE_ERR_NOMEM;
    return NDE_OK;
}

void fm_model_destroy(fm_model *m)
{
    nde_free(m->logits);
    nde_free(m->dlogits);
    nde_mlp_destroy(&m->net);
    nde_params_destroy(&m->p);
    memset(m, 0, sizeof *m);
}

nde_status fm_model_loss(fm_model *m, const double *u, const uint8_t *labels, size_t batch,
                         double *loss, size_t *correct, double *du)
{
    if (batch > m->max_batch)
        return NDE_FAIL(NDE_ERR_ARG, "fashion_mnist: batch %zu > %zu", batch, m->max_batch);
    NDE_TRY(nde_dense_forward(&m->cls, m->p, 0.0, u, m->logits, batch));
    double total = 0.0;
    size_t ok = 0;
    for (size_t b = 0; b < batch; b++) {
        const double *z = m->logits + b * FM_CLASSES;
        double *g = m->dlogits + b * FM_CLASSES;
        size_t arg = 0;
        for (size_t c = 1; c < FM_CLASSES; c++)
            if (z[c] > z[arg]) arg = c;
        double s = 0.0;
        for (size_t c = 0; c < FM_CLASSES; c++) s += exp(z[c] - z[arg]);
        /* −log softmax(z)_y = log Σ e^{z_c − z_max} + z_max − z_y */
        total += log(s) + z[arg] - z[labels[b]];
        ok += arg == labels[b];
        for (size_t c = 0; c < FM_CLASSES; c++)
            g[c] = (exp(z[c] - z[arg]) / s - (c == labels[b])) / (double)batch;
    }
    *loss = total / (double)batch;
    if (correct) *correct = ok;
    if (du)
        NDE_TRY(nde_dense_backward(&m->cls, m->p, 0.0, u, m->dlogits, du, nde_params_grad(m->p),
                                   batch));
    return NDE_OK;
}
