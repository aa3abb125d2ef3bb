/* nde/adjoint.h — gradients through solves.
 *
 * Discrete adjoint: a reverse sweep over the accepted steps of the last nde_solve,
 * giving the exact gradient of the discrete solution (step sizes held constant, as
 * torchdiffeq, diffrax and DiffEqFlux do) with respect to θ and u0, for a loss on the
 * states at the save times. The solve must have been made with opts.tape set:
 * NDE_TAPE_STAGES stores every stage input (fastest), NDE_TAPE_STEP_STARTS stores
 * only the step starts and recomputes stages during the sweep (s× less memory, one
 * extra forward evaluation per stage). Both give identical gradients. */
#ifndef NDE_ADJOINT_H
#define NDE_ADJOINT_H

#include "nde/ode.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dL_dtraj   (nt, batch, dim): ∂L/∂traj for the traj of the last solve.
 * grad_theta (n_theta): ∂L/∂θ is ADDED (callers zero it); NULL → not wanted;
 *            n_theta must equal the field's n_params (NDE_ERR_SHAPE otherwise).
 * grad_u0    (batch, dim): ∂L/∂u0 is WRITTEN; NULL → not wanted.
 * Errors: NDE_ERR_STATE if the last solve failed, recorded no tape, or there was
 * none; NDE_ERR_ARG for NULL dL_dtraj; the field's vjp status. */
nde_status nde_adjoint_discrete(nde_solver *s, const double *dL_dtraj, double *grad_theta,
                                size_t n_theta, double *grad_u0);

#ifdef __cplusplus
}
#endif
#endif
