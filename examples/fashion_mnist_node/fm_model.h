/* The MNIST neural-ODE classifier of Pal et al. 2021 / 2023 (and Kelly et al. 2020):
 * u(0) = x (784 pixels), du/dt = tanh(W2·[tanh(W1·[u; t] + b1); t] + b2) with W1 100×785
 * and W2 784×101, then logits = Wc u(T) + bc (784 → 10) and softmax cross-entropy. */
#ifndef FM_MODEL_H
#define FM_MODEL_H

#include "nde/nde.h"

typedef struct fm_model {
    nde_params *p;     /* θ: the ODE network, then the classifier */
    nde_mlp *net;
    nde_dense cls;
    nde_field field;   /* f(t, u) = the network; n_params covers all of θ */
    size_t max_batch;
    double *logits, *dlogits; /* (max_batch, 10) */
} fm_model;

/* Build and initialize (torch's Linear default) from rng. */
nde_status fm_model_create(size_t max_batch, nde_rng *rng, fm_model *m);
void fm_model_destroy(fm_model *m);

/* Mean softmax cross-entropy of the classifier on u (batch, 784) against labels; the
 * number of correct argmax predictions in *correct. If du is given, the classifier's
 * gradient is ADDED to the parameter gradient and ∂loss/∂u is written to du
 * (batch, 784). */
nde_status fm_model_loss(fm_model *m, const double *u, const uint8_t *labels, size_t batch,
                         double *loss, size_t *correct, double *du);

#endif
