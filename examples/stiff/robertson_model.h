/* A physics-plus-network vector field for Robertson's stiff kinetics:
 *     f(u) = R(u; k = exp(log_k)) + s · MLP(u)
 * with R the Robertson right-hand side (Robertson 1966; Hairer & Wanner II §IV.1), the
 * three log rate constants and the MLP's weights in one flat nde_params, and s a small
 * output scale so the network starts as a correction. vjp and jvp are exact, so CVODES
 * gets an analytic Newton Jacobian and the CVODES adjoint exact vector–Jacobian products. */
#ifndef NDE_EXAMPLE_ROBERTSON_MODEL_H
#define NDE_EXAMPLE_ROBERTSON_MODEL_H

#include "nde/nde.h"
#include "nde/nn.h"

typedef struct rob_model rob_model;

/* hidden: width of the MLP's one tanh layer (0: physics only); scale: s. */
nde_status rob_model_create(size_t hidden, double scale, uint64_t seed, rob_model **out);
void rob_model_destroy(rob_model **m);
nde_params *rob_model_params(rob_model *m);
size_t rob_model_log_k_offset(const rob_model *m); /* offset of log_k (3) in θ */
nde_field rob_model_field(rob_model *m);           /* borrows m */

#endif
