/* nde/mpi.h — data-parallel training over an MPI communicator the caller owns.
 *
 * Only an nde built with MPI (meson option `mpi`, NDE_HAVE_MPI in nde_config.h) installs
 * this header and exports its function; include/nde/trainer.h itself never needs <mpi.h>.
 * nde never calls MPI_Init or MPI_Finalize and never uses MPI_COMM_WORLD: the
 * application initialises MPI and hands the trainer a communicator, which it duplicates
 * (so its messages cannot mix with the application's).
 *
 * With a communicator of P ranks, every rank runs the same trainer on the same data
 * descriptors and draws the same sample order (the generator is the same on every rank).
 * Each step's global batch of `batch` samples is cut into P contiguous shards (rank r
 * takes positions ⌊count·r/P⌋ .. ⌊count·(r+1)/P⌋ − 1 of the batch); a rank fetches and
 * runs only its shard, weights its gradient by its share of the batch (mean losses),
 * and one MPI_Allreduce (MPI_SUM) of the flat gradient fused with the loss, the
 * failure flags, the regularizer value and the NFE sums gives every rank the global
 * gradient; every rank then takes the same optimizer step, so θ stays identical on all
 * ranks. Only rank 0 writes checkpoints and the metrics file and draws the progress line;
 * the others learn its status. Evaluation splits the test set the same way.
 * Details, the reproducibility statement and a cost model: docs/scaling.md.
 *
 * Example (each rank of an MPI program; the model and data are those of the serial
 * program):
 *     MPI_Init(&argc, &argv);
 *     nde_trainer *tr;
 *     NDE_TRY(nde_trainer_create(model, &train, &test, &spec, &tr));
 *     NDE_TRY(nde_trainer_set_comm(tr, MPI_COMM_WORLD));  // or any sub-communicator
 *     NDE_TRY(nde_trainer_run(tr));
 *     nde_trainer_destroy(&tr);
 *     MPI_Finalize();
 */
#ifndef NDE_MPI_H
#define NDE_MPI_H

#include <mpi.h>

#include "nde/trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Train data-parallel over the ranks of `comm`.
 *
 * Collective over comm: every rank calls it with its own trainer, created from the same
 * specification and data descriptors, before nde_trainer_resume and nde_trainer_run
 * (which, like nde_trainer_evaluate, are then collective too). The trainer keeps a
 * duplicate of comm (freed by nde_trainer_destroy, which must run before MPI_Finalize);
 * MPI_COMM_NULL returns the trainer to serial training. Callbacks run on every rank and
 * must decide alike (a stop on any rank stops all of them).
 * @param tr   the trainer
 * @param comm an intra-communicator of the initialised MPI, or MPI_COMM_NULL
 * @return NDE_OK; NDE_ERR_ARG (NULL trainer, MPI not initialised or finalized);
 *         NDE_ERR_IO (MPI_Comm_dup failed). */
NDE_API nde_status nde_trainer_set_comm(nde_trainer *tr, MPI_Comm comm);

#ifdef __cplusplus
}
#endif
#endif
