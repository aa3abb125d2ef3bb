/* The MNIST neural-SDE classifier of Pal et al. 2021 (RegNeuralDE.jl mnist_nsde) as one
 * user model (nde/model.h) for the trainer, composed like fm_model.h's ODE classifier:
 *   h0 = W_e x + b_e (784 → 32), then the diagonal-noise Itô SDE on [0, 1]
 *   dh = (W_2 tanh(W_1 h + b_1) + b_2) dt + (W_3 h + b_3) ⊙ dW   (32 → 64 → 32; 32 → 32),
 *   logits = W_r h(1) + b_r (32 → 10).
 * The SDE is a library neural SDE (nde_model_sde_create, output the final state) that
 * this model owns; its tensors are mirrored in this model's one store as "sde.drift.*"
 * and "sde.diffusion.*" between "encoder" and "readout", copied into it before each
 * forward, and its gradient is accumulated straight into the store's layout.
 *
 * Training-mode forwards solve with the training solver on a fresh Brownian path (the
 * SDE model's generator, reseeded by fm_sde_model_set_step) and the backward adds the
 * regularizer's gradient (ERNSDE / SRNSDE, nde_sde_adjoint_reg) at the coefficient of
 * the current step. Evaluation-mode forwards use the untaped solver (one path per image). */
#ifndef FM_SDE_MODEL_H
#define FM_SDE_MODEL_H

#include "nde/nde.h"

#define FM_SDE_DIM 32

typedef struct fm_sde_model_spec {
    size_t max_batch;
    nde_sde_opts solver;       /* method and tolerances (the tape is set by the SDE model) */
    const nde_reg_spec *reg;   /* ERNSDE / SRNSDE (NULL: none); copied */
    nde_schedule coef;         /* λ(step) of the regularizer (checked) */
    uint64_t path_seed;        /* per step, the paths come from path_seed ^ step */
} fm_sde_model_spec;

/* The model (in 784, out 10); init draws the encoder, the drift, the diffusion, then the
 * readout (torch's Linear default). Errors: the layers', the regularizer's, the SDE
 * model's. */
nde_status fm_sde_model_create(const fm_sde_model_spec *spec, nde_model **out);

/* Before training step `step` (0-based): λ = coef(step), and the Brownian paths of this
 * step are drawn from path_seed ^ step (so a resumed run draws those of an uninterrupted
 * one: the trainer's checkpoint does not hold the path generator). */
nde_status fm_sde_model_set_step(nde_model *m, uint64_t step);
/* Before an evaluation: the paths of the following forwards come from seed. */
nde_status fm_sde_model_reseed(nde_model *m, uint64_t seed);
/* Of the last training step: the forward solve's NFE (drift evaluations, without the
 * adjoint's), the
 * regularizer's value (0 without one) and the logits (batch, 10), borrowed. */
size_t fm_sde_model_nfe(nde_model *m);
double fm_sde_model_reg_value(nde_model *m);
const double *fm_sde_model_logits(nde_model *m);
/* NFE of the last evaluation-mode forward. */
size_t fm_sde_model_eval_nfe(nde_model *m);

#endif
