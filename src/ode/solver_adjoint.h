/* What a solver offers the adjoints (src/adjoint) beyond the read-only tape view: set
 * what it records, take the statistics of an adjoint run, keep the adjoint the free
 * functions (nde_adjoint_discrete, ...) share, and report an inner solver's memory.
 * Internal. */
#ifndef NDE_ODE_SOLVER_ADJOINT_H
#define NDE_ODE_SOLVER_ADJOINT_H

#include "nde/adjoint.h"
#include "ode/tape_view.h"

/* Set s's tape mode, checkpointing and CVODES checkpoint interval (validated as
 * nde_solver_create does); invalidates the last solve when anything changes. */
nde_status nde_solver_set_recording(nde_solver *s, nde_tape tape, size_t checkpoint_every,
                                    size_t checkpoint_slots, size_t cvodes_adj_steps);

/* Copy an adjoint run's statistics into s's (n_vjp, n_adjoint_nfe, ...). */
void nde_solver_note_adjoint(nde_solver *s, const nde_adjoint_stats *st);

/* The adjoint kept for the free functions (NULL until set); s owns it and frees it with
 * `destroy` when destroyed. */
nde_adjoint *nde_solver_shared_adjoint(const nde_solver *s);
void nde_solver_set_shared_adjoint(nde_solver *s, nde_adjoint *adj,
                                   void (*destroy)(nde_adjoint **adj));

/* Bytes an (inner) solver holds: workspace, step log and tape. */
size_t nde_solver_bytes(const nde_solver *s);

#endif
