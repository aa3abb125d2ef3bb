/* The trainer's state, shared by its loop (trainer.c) and checkpoints (trainer_ckpt.c). */
#ifndef NDE_TRAINER_INTERNAL_H
#define NDE_TRAINER_INTERNAL_H

#include "nde/trainer.h"
#include "train/progress.h"

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
    size_t *idx;                /* (batch) indices of a step */
    double *xb, *yb, *pred, *grad; /* (max batch, x_size / y_size) */
    size_t buf_batch;

    double *hist;               /* (hist_cap, HIST_COLS) */
    size_t hist_cap;
    nde_progress progress;
};

/* Append one history row (growing the table). */
nde_status nde_trainer_hist_push(nde_trainer *tr, const double row[HIST_COLS]);
/* Write checkpoint_path atomically. */
nde_status nde_trainer_save(nde_trainer *tr);
/* Append the JSON line of history row r to the metrics file (or rewrite the whole file
 * from the history when rewrite is set). */
nde_status nde_trainer_write_metrics(nde_trainer *tr, int rewrite);

#endif
