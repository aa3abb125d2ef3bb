/* Memory-bounded reverse sweeps (NDE_TAPE_CHECKPOINT): the order in which step starts
 * are handed to the reverse sweep, recomputed from the forward's checkpoints with a
 * binomial (revolve) schedule. Internal to src/adjoint. */
#ifndef NDE_ADJOINT_CHECKPOINT_H
#define NDE_ADJOINT_CHECKPOINT_H

#include "nde/adjoint.h"
#include "ode/tape_view.h"

/* Called for m = N−1, …, 0 in that order with the start state u_m (n). */
typedef nde_status (*nde_ckpt_visit)(void *user, size_t m, const double *u_m);

/* Snapshot states the reverse sweep holds inside one segment (opts.checkpoint_slots or
 * its default), at least 1 (the segment start, which lives on the tape). */
size_t nde_ckpt_slots(const nde_tape_view *v);

/* Doubles of workspace nde_ckpt_reverse needs: (slots − 1) snapshots, two advance
 * vectors, and stage inputs/derivatives (2, stages, n). */
size_t nde_ckpt_workspace(const nde_tape_view *v);

/* Visit every step of the last solve in reverse order. Segment j starts at the tape's
 * j-th checkpoint (the start of step j·checkpoint_every, or u0); inside a segment of n
 * steps with c snapshots the first snapshot goes d = n − β(c−1, r) steps ahead, where
 * β(c, r) = C(c + r, c) is the number of steps c snapshots reverse with r recomputations
 * each and r is the smallest with β(c, r) ≥ n (Griewank, "Achieving logarithmic growth of
 * temporal and spatial complexity in reverse automatic differentiation", Optim. Methods
 * Softw. 1 (1992); Griewank & Walther, ACM TOMS 26 (2000), Algorithm 799 "revolve").
 * Recomputed steps repeat the forward's arithmetic exactly (stages from the step start,
 * u_{m+1} as the forward formed it), so the visited states are bitwise the forward's.
 * ws: nde_ckpt_workspace(v) doubles. Counts recomputed steps, evaluations and the most
 * states held in *st. */
nde_status nde_ckpt_reverse(const nde_tape_view *v, nde_adjoint_stats *st, nde_ckpt_visit visit,
                            void *user, double *ws);

#endif
