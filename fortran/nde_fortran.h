/* fortran/nde_fortran.h — small C helpers behind the Fortran module `nde` (fortran/nde.f90).
 *
 * The Fortran module binds most of the C API directly (iso_c_binding); these helpers exist
 * where a C call takes a struct that is awkward to mirror in Fortran (the model, solver,
 * optimizer and trainer specs) or where the C API borrows memory that must outlive the
 * call (the trainer's nde_data, the checkpoint path). They take plain scalars and arrays:
 * integers are int64_t, reals double; a negative number (or 0 where noted) selects the
 * library's default. They are compiled into libnde_fortran, not into libnde. */
#ifndef NDE_FORTRAN_H
#define NDE_FORTRAN_H

#include <stdint.h>

#include "nde/nde.h"

#ifdef __cplusplus
extern "C" {
#endif

/** MLP model: in → hidden[0..n_hidden) → out, activation `act` (nde_act) on the hidden
 * layers, `time` an nde_time_mode, θ initialized later (ndef_model_init_seed) by
 * `init` (nde_init) with `scale`. */
nde_status ndef_model_mlp_create(int64_t in, int64_t out, int64_t n_hidden, const int64_t *hidden,
                                 int64_t act, int64_t time, int64_t init, double scale,
                                 nde_model **m);

/** FNO model as nde train builds it (nde_fno1d_burgers_spec / nde_fno2d_darcy_spec with
 * these fields replaced): ndim 1 or 2, grid n[0..ndim), modes[0..ndim), proj_hidden 0:
 * one linear projection. */
nde_status ndef_model_fno_create(nde_ctx *ctx, int64_t ndim, int64_t in_channels,
                                 int64_t out_channels, int64_t width, const int64_t *modes,
                                 int64_t layers, int64_t proj_hidden, int64_t grid, double padding,
                                 const int64_t *n, int64_t max_batch, int64_t n_threads,
                                 int64_t precision,
                                 nde_model **m);

/** Neural ODE around field_model (ownership taken, also on failure): save times ts (nt),
 * output 0 trajectory / 1 final state, solver method and tolerances (≤ 0: defaults),
 * max_steps (≤ 0: default), adjoint kind (nde_adjoint_kind). */
nde_status ndef_model_node_create(nde_ctx *ctx, nde_model *field_model, int64_t nt, const double *ts,
                                  int64_t output, int64_t method, double rtol, double atol,
                                  double h0, int64_t max_steps, int64_t adjoint_kind,
                                  nde_model **m);

/** θ of m drawn by nde_model_init from a generator seeded with `seed`. */
nde_status ndef_model_init_seed(nde_model *m, int64_t seed);

/** A solver for the vector field of `model` (nde_model_field; the model must outlive the
 * solver). rtol, atol, h0 ≤ 0 and max_steps ≤ 0 keep nde_solver_defaults(method); tape
 * is an nde_tape (NDE_TAPE_STAGES for nde_adjoint_discrete). */
nde_status ndef_solver_create(nde_ctx *ctx, nde_model *model, int64_t method, double rtol,
                              double atol, double h0, int64_t max_steps, int64_t tape,
                              nde_solver **s);

/** The callbacks of a vector field written in Fortran (bind(C) functions, see nde/field.h
 * for the contract): f writes du (batch, dim); vjp writes vu (batch, dim) when vu is not
 * NULL and ADDS to gtheta (n_params) when gtheta is not NULL; jvp may be NULL. */
typedef nde_status (*ndef_field_f)(void *user, double t, const double *u, double *du, size_t batch);
/** See ndef_field_f. */
typedef nde_status (*ndef_field_vjp)(void *user, double t, const double *u, const double *v,
                                     double *vu, double *gtheta, size_t batch);
/** See ndef_field_f. */
typedef nde_status (*ndef_field_jvp)(void *user, double t, const double *u, const double *w,
                                     double *jw, size_t batch);

/** A solver for the user's vector field f(t, u) of `dim` values per sample with n_params
 * parameters (the user's; the adjoint adds their gradient to the array it is given),
 * callbacks f (required), vjp (NULL: no adjoint) and jvp (NULL: none), and `user` passed
 * to every callback. Options as ndef_solver_create. */
nde_status ndef_solver_create_field(nde_ctx *ctx, int64_t dim, int64_t n_params, ndef_field_f f,
                                    ndef_field_vjp vjp, ndef_field_jvp jvp, void *user,
                                    int64_t method, double rtol, double atol, double h0,
                                    int64_t max_steps, int64_t tape, nde_solver **s);

/** Optimizer of `kind` over the model's store with nde_optim_defaults(kind), lr (≤ 0:
 * the default) and weight_decay (< 0: the default). */
nde_status ndef_optim_create(nde_model *model, int64_t kind, double lr, double weight_decay,
                             nde_optim **opt);

/** Trainer options: plain scalars (Fortran type nde_train_options mirrors this struct,
 * bind(C); keep both in the same order). loss and metric: 0 mse, 1 l1, 2 rel_l2. */
/** A trainer with the data it borrows (opaque). */
typedef struct ndef_trainer ndef_trainer;

/** Record a failure found on the Fortran side (a shape mismatch, …): sets the message
 * nde_last_error() returns to "<file:line>: msg" and returns `status`. */
nde_status ndef_fail(int64_t status, const char *msg);

/** nde_trainer_evaluate on x (n, x_size), y (n, y_size): the mean test metric per sample of
 * the current θ in *metric. NDE_ERR_SHAPE if x_size or y_size differ from the training
 * data's. */
nde_status ndef_trainer_evaluate(ndef_trainer *tr, int64_t n, int64_t x_size, int64_t y_size,
                                 const double *x, const double *y, double *metric);

/** Trainer options as plain scalars. */
typedef struct ndef_train_opts {
    int64_t batch, epochs, steps_per_epoch, max_steps, sampling, drop_last, seed;
    int64_t optim_kind;
    double lr, weight_decay;
    int64_t loss, metric;
    double clip_grad_norm;
    int64_t eval_every, eval_batch, checkpoint_every, progress;
    int64_t sched_step_period; /* > 0: lr ·= sched_gamma every period epochs */
    double sched_gamma;
} ndef_train_opts;

/** nde_trainer_defaults() as ndef_train_opts (loss mse, metric mse, progress 0). */
void ndef_train_defaults(ndef_train_opts *o);


/** A trainer for model on x (n, x_size), y (n, y_size) (row-major, i.e. Fortran
 * x(x_size, n)) and optional test data (n_test 0: none). x, y, x_test and y_test are
 * borrowed and must outlive the trainer; ckpt_path ("" or NULL: none) is copied. */
nde_status ndef_trainer_create(nde_model *model, int64_t n, int64_t x_size, int64_t y_size,
                               const double *x, const double *y, int64_t n_test,
                               const double *x_test, const double *y_test,
                               const ndef_train_opts *o, const char *ckpt_path,
                               ndef_trainer **tr);
/** Free the trainer and its copies (NULL-safe; sets *tr = NULL). */
void ndef_trainer_destroy(ndef_trainer **tr);
/** nde_trainer_run. */
nde_status ndef_trainer_run(ndef_trainer *tr);
/** nde_trainer_train_loss (NaN for NULL). */
double ndef_trainer_train_loss(const ndef_trainer *tr);
/** nde_trainer_test_metric (NaN for NULL). */
double ndef_trainer_test_metric(const ndef_trainer *tr);
/** nde_trainer_epoch: completed epochs (0 for NULL). */
int64_t ndef_trainer_epoch(const ndef_trainer *tr);
/** nde_trainer_step: completed steps (0 for NULL). */
int64_t ndef_trainer_step(const ndef_trainer *tr);

#ifdef __cplusplus
}
#endif
#endif
