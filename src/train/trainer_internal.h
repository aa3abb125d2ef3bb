/* The trainer's state, shared by its loop (trainer.c) and checkpoints (trainer_ckpt.c). */
#ifndef NDE_TRAINER_INTERNAL_H
#define NDE_TRAINER_INTERNAL_H

#include "nde/trainer.h"
#include "nde_config.h"
#include "train/progress.h"

#if NDE_HAVE_MPI
#include <mpi.h>
#endif

/* One row of the metrics history per completed epoch. */
enum { HIST_EPOCH, HIST_STEP, HIST_LR, HIST_TRAIN, HIST_TEST, HIST_TRAIN_SECONDS, HIST_SECONDS, HIST_COLS };

struct nde_trainer {
    nde_model *model;           /* borrowed */
    nde_data train, test;       /* copies of the caller's descriptors */
    int has_test;
    nde_trainer_spec spec;
    nde_optim *optim;           /* owned */
    nde_rng rng;
    size_t steps_per_epoch;     /* steps in a full epoch */

    /* position */
    size_t epoch;               /* completed epochs */
    size_t step;                /* completed steps */
    size_t epoch_step;          /* steps done in the epoch in progress */
    double acc_loss, acc_samples; /* the epoch in progress: Σ per-sample loss, samples */
    double epoch_seconds;       /* wall time of the epoch in progress before a resume */
    double last_train, last_test;

    size_t *perm;               /* (train.n) sample order of the epoch in progress */
    size_t stream_pos;          /* NDE_SAMPLE_STREAM: next position in perm (n: reshuffle) */
    size_t *idx;                /* (batch) indices of a step */
    double *xb, *yb, *pred, *grad; /* (max batch, x_size / y_size) */
    size_t buf_batch;

    double *hist;               /* (hist_cap, HIST_COLS) */
    size_t hist_cap;
    double *hist_ema;           /* (hist_cap) test metric of the moving average (ema_decay > 0) */

    /* moving average of θ (spec.ema_decay > 0): (n_params), its update count, the last
     * epoch's test metric with it */
    double *ema;
    uint64_t ema_updates;
    double last_test_ema;
    nde_progress progress;

    /* data parallelism (include/nde/mpi.h): rank and size of the communicator (0 and 1
     * without one), the fused reduction buffer (gradient, then RED_EXTRA figures) and
     * the time spent in the step's reduction */
    int rank, size;
#if NDE_HAVE_MPI
    MPI_Comm comm;              /* a dup of the caller's (MPI_COMM_NULL: serial) */
#endif
    double *red;                /* (n_params + RED_EXTRA), allocated on the first parallel step */
    double comm_seconds;
    double last_reg;            /* the last step's regularizer value and NFE (global) */
    size_t last_nfe;
};

/* The figures after the gradient in a step's fused reduction. */
enum { RED_LOSS, RED_FAILED, RED_FATAL, RED_REG, RED_NFE, RED_EXTRA };

/* Sum buf[0..n) over the ranks in place (nothing without a communicator). Errors:
 * NDE_ERR_IO naming the MPI error. */
nde_status nde_trainer_allreduce(nde_trainer *tr, double *buf, size_t n);
/* 1 if flag is non-zero on any rank (flag itself without a communicator). */
int nde_trainer_any(nde_trainer *tr, int flag);
/* The status of rank 0 on every rank: st itself on rank 0; on the others st if it is an
 * error, else NDE_ERR_IO when rank 0 failed (what: "writing the checkpoint", …). */
nde_status nde_trainer_share_status(nde_trainer *tr, nde_status st, const char *what);
/* Rank 0's θ on every rank (nothing without a communicator). */
nde_status nde_trainer_bcast_params(nde_trainer *tr);
/* Free the duplicated communicator (destroy). */
void nde_trainer_comm_free(nde_trainer *tr);

/* Append one history row and the moving average's test metric (growing the tables). */
nde_status nde_trainer_hist_push(nde_trainer *tr, const double row[HIST_COLS], double test_ema);
/* Write checkpoint_path atomically. */
nde_status nde_trainer_save(nde_trainer *tr);
/* Append the JSON line of history row r to the metrics file (or rewrite the whole file
 * from the history when rewrite is set). */
nde_status nde_trainer_write_metrics(nde_trainer *tr, int rewrite);

#endif
