/* The trainer's progress line: rate and ETA, on a terminal only. */
#ifndef NDE_TRAIN_PROGRESS_H
#define NDE_TRAIN_PROGRESS_H

#include <stddef.h>

typedef struct nde_progress {
    int on;            /* print at all */
    double t_start;    /* wall clock at the run's start */
    double t_last;     /* last print */
    size_t step0;      /* steps done when the run started (resume) */
    const char *name;
    int drawn;         /* characters of the line on screen (0: none) */
} nde_progress;

/* mode −1: on if stderr is a terminal. */
void nde_progress_begin(nde_progress *p, int mode, const char *name, size_t step0);
/* Redraw at most ~10 times a second: epoch e/E, step s/S, loss, steps per second, ETA. */
void nde_progress_update(nde_progress *p, size_t epoch, size_t epochs, size_t step,
                         size_t total_steps, double loss);
/* Erase the line (before other output, e.g. an epoch callback's own line). */
void nde_progress_clear(nde_progress *p);
/* End the run's display: erase the line if anything was drawn. */
void nde_progress_end(nde_progress *p);

#endif
