/* A physics-plus-network vector field for Robertson's stiff kinetics, as a user model
 * (nde/model.h) to wrap in the neural-ODE model:
 *     f(u) = R(u; k = exp(log_k)) + s · MLP(u)
 * with R the Robertson right-hand side (Robertson 1966; Hairer & Wanner II §IV.1), the
 * three log rate constants and the MLP's weights in the model's one store, and s a small
 * output scale so the network starts as a correction. vjp and jvp are exact, so CVODES
 * gets an analytic Newton Jacobian and the CVODES adjoint exact vector–Jacobian products.
 * As a model, y = f(0, x) with x, y (batch, 3); init draws the MLP's weights (Xavier
 * normal, gain 1; nothing to draw without a network); the log rate constants start at 0
 * and are the caller's to set (rob_model_log_k). */
#ifndef NDE_EXAMPLE_ROBERTSON_MODEL_H
#define NDE_EXAMPLE_ROBERTSON_MODEL_H

#include "nde/nde.h"

/* hidden: width of the MLP's one tanh layer (0: physics only); scale: s. */
nde_status rob_model_create(size_t hidden, double scale, nde_model **out);
/* The three log rate constants inside the model's θ (borrowed from m's store). */
double *rob_model_log_k(nde_model *m);

#endif
