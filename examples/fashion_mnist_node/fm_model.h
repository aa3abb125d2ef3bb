/* The MNIST neural-ODE classifier of Pal et al. 2021 / 2023 (and Kelly et al. 2020) as one
 * user model (nde/model.h) for the trainer:
 *   u(0) = x (784 pixels), du/dt = tanh(W2·[tanh(W1·[u; t] + b1); t] + b2) with W1 100×785
 *   and W2 784×101, y = logits = Wc u(T) + bc (784 → 10),
 * one store (the ODE network, then the classifier). Trained with the library's softmax
 * cross-entropy (nde_loss_softmax_ce) on y against the label.
 *
 * In training mode each forward is one training step: it draws what the method samples
 * per step (the STEER end time T, the local regularizer's time or reservoir) and solves
 * with the training solver (tape for the discrete adjoint); the backward is the
 * classifier's backward, then the discrete adjoint into θ — of loss + λ R for a global
 * step regularizer — then the local regularizer's λ ∂R/∂θ. λ is the coefficient schedule
 * at the step given by fm_model_set_step (call it before each training step, e.g. in the
 * trainer's on_step_begin). In evaluation mode the forward solves to T = 1 with the
 * prediction solver (same tolerances, no tape, no callback) and draws nothing. */
#ifndef FM_MODEL_H
#define FM_MODEL_H

#include "nde/nde.h"

typedef struct fm_model_spec {
    size_t max_batch;
    nde_solver_opts solver;           /* the training solve (tape, callbacks set here) */
    const nde_reg_spec *reg;          /* global step regularizer (NULL: none); copied */
    const nde_local_reg_spec *local;  /* local regularizer (NULL: none); copied */
    double steer_b;                   /* > 0: STEER, T ~ U[1 − b, 1 + b] per step */
    uint64_t steer_seed;              /* the generator of the STEER draws */
    nde_schedule coef;                /* λ(step) of the regularizer (checked) */
} fm_model_spec;

/* The model (in 784, out 10); init (nde_model_init) draws the ODE network, then the
 * classifier, torch's Linear default. Errors: the layers', regularizers' and solvers'. */
nde_status fm_model_create(const fm_model_spec *spec, nde_model **out);

/* The regularizer's λ for the next training step: coef at `step` (0-based). */
void fm_model_set_step(nde_model *m, uint64_t step);
/* Of the last training step: the forward solve's NFE, the regularizer's value (0 without
 * one; set by the backward) and the logits (batch, 10), borrowed. */
size_t fm_model_nfe(nde_model *m);
double fm_model_reg_value(nde_model *m);
const double *fm_model_logits(nde_model *m);
/* The prediction solver (statistics of the last evaluation-mode forward). */
nde_solver *fm_model_eval_solver(nde_model *m);

#endif
