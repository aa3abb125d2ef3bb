/* The spiral neural ODE of torchdiffeq's examples/ode_demo.py, shared by the example
 * driver (examples/spiral) and the benchmark (bench/spiral).
 *
 *   truth:  du/dt = (u³) A,  A = [[-0.1, 2.0], [-2.0, -0.1]],  u0 = (2, 0),
 *           `data_size` points on [0, t_end] from DOPRI5 (rtol 1e-7, atol 1e-9)
 *   model:  du/dt = MLP(u³), 2→50 tanh→2, weights N(0, 0.1²), zero biases
 *   batch:  `batch_size` windows of `batch_time` consecutive points starting at
 *           distinct random indices; all windows share the time grid t[0..batch_time)
 *   loss:   mean |pred − truth| over the window points; RMSprop (lr 1e-3)
 *   gradient: discrete adjoint through the solver's accepted steps */
#ifndef NDE_EXAMPLE_SPIRAL_MODEL_H
#define NDE_EXAMPLE_SPIRAL_MODEL_H

#include <stdint.h>

#include "nde/nde.h"

typedef struct spiral_cfg {
    size_t data_size, batch_time, batch_size;
    double t_end;
    nde_method method;
    double rtol, atol;
    nde_tape tape;
    double lr;
    uint64_t seed;
    const nde_optim_spec *optim; /* NULL: RMSprop at lr; else this optimizer (bench/optim) */
    const nde_reg_spec *reg;     /* NULL: none; else R added to the loss (nde/reg.h) */
    const char *checkpoint;      /* NULL: none; else the trainer's checkpoint, written after
                                    every epoch and every checkpoint_every_steps iterations */
    size_t checkpoint_every_steps; /* 0: at epoch ends only */
    int resume;                  /* 1: continue from `checkpoint` (which must exist) */
} spiral_cfg;

/* torchdiffeq's ode_demo settings: 1000 points on [0, 25], 20 windows of 10, DOPRI5
 * 1e-7/1e-9, tape NDE_TAPE_STAGES, RMSprop lr 1e-3, seed 0. */
spiral_cfg spiral_defaults(void);

typedef struct spiral spiral;

nde_status spiral_create(const spiral_cfg *cfg, spiral **out);
void spiral_destroy(spiral **sp);

/* Train `iters` iterations through the library's trainer (nde/trainer.h): random
 * windows (NDE_SAMPLE_RANDOM), the neural ODE model's solve and discrete adjoint (of
 * loss + R when cfg.reg is set), RMSprop (or cfg.optim). An "epoch" is `epoch_steps`
 * iterations (the last one may be shorter; 0: one epoch of all iterations): on_epoch runs
 * after each, on_step after every iteration (either may be NULL; see nde_train_info:
 * info->loss is the batch's mean absolute error before the update, without R). */
nde_status spiral_train(spiral *sp, size_t iters, size_t epoch_steps, nde_train_callback on_step,
                        nde_train_callback on_epoch, void *user);

/* Solve the learned model from u0 over the whole grid: *mae = mean |pred − truth|;
 * pred (data_size, 2) may be NULL. *nfe may be NULL. */
nde_status spiral_full_trajectory(spiral *sp, double *mae, double *pred, size_t *nfe);

/* The grid (data_size) and the true trajectory (data_size, 2). */
const double *spiral_times(const spiral *sp);
const double *spiral_truth(const spiral *sp);
size_t spiral_n_params(const spiral *sp);
/* The model's flat θ (spiral_n_params doubles). */
const double *spiral_theta(spiral *sp);
/* The solver of the training solves (step log and counters of the last iteration). */
nde_solver *spiral_solver(spiral *sp);

#endif
