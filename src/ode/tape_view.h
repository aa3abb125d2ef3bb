/* A read-only view of what the last solve recorded — save times, step log, where each
 * output came from, and the discrete-adjoint tape — for the code that differentiates or
 * regularizes a solve (src/adjoint, src/reg) without reaching into struct nde_solver.
 * A view borrows the solver's buffers: it is valid until the next nde_solve or
 * nde_solver_destroy. Internal. */
#ifndef NDE_ODE_TAPE_VIEW_H
#define NDE_ODE_TAPE_VIEW_H

#include <stddef.h>

#include "nde/ode.h"
#include "ode/tableau.h"

/* Where each save time's output came from: traj[k] = u0 (step == SIZE_MAX), the end of
 * accepted step `step` (theta == 1, copied from u_{n+1}), or the dense output of that
 * step at theta in (0, 1). */
typedef struct nde_save_src {
    size_t step;
    double theta;
} nde_save_src;

typedef struct nde_tape_view {
    const nde_field *field;      /* the solver's vector field */
    const nde_solver_opts *opts; /* its options (tape mode, tolerances, checkpointing) */
    const nde_tableau *tab;      /* explicit RK tableau; NULL for SUNDIALS methods */
    nde_ctx *ctx;                /* the solver's context (may be NULL), for inner solvers */
    int solved_ok;               /* the last solve finished with NDE_OK */
    size_t batch, n;             /* samples and n = batch · dim of the last solve */
    size_t nt;                   /* save times */
    const double *ts;            /* (nt) */
    const nde_save_src *save_src;/* (nt) */
    const nde_step_rec *steps;   /* (n_steps) accepted steps */
    size_t n_steps;
    /* the tape, `tape_stride` doubles per record:
     *   NDE_TAPE_STAGES: per step, stage inputs Y (stages, n), derivatives k (stages, n),
     *                    then the field's records (stages, batch·rec_size) if it keeps any;
     *   NDE_TAPE_STEP_STARTS: per step, its start state u_m (n);
     *   NDE_TAPE_CHECKPOINT: per checkpoint j, the start of step j·checkpoint_every (or
     *                    u0 alone when checkpoint_every is 0) (n). */
    const double *tape;
    size_t tape_stride;
    size_t n_records;            /* records on the tape */
    size_t tape_bytes;           /* n_records · tape_stride doubles, in bytes */
} nde_tape_view;

/* The view of s's last solve (s must not be NULL). */
nde_tape_view nde_solver_tape_view(const nde_solver *s);

/* Record j of the tape (j < n_records). */
static inline const double *nde_tape_record(const nde_tape_view *v, size_t j)
{
    return v->tape + j * v->tape_stride;
}

/* NDE_TAPE_STAGES: step m's stage inputs y and derivatives k (stages, n) each, and the
 * field's records (stages, batch·rec_size) or NULL when the field keeps none. */
static inline void nde_tape_stages(const nde_tape_view *v, size_t m, const double **y,
                                   const double **k, const double **rec)
{
    size_t sn = (size_t)v->tab->stages * v->n;
    const double *r = nde_tape_record(v, m);
    *y = r;
    *k = r + sn;
    *rec = v->field->f_rec ? r + 2 * sn : NULL;
}

/* Doubles of one stage's field records for the whole batch (0 if the field keeps none). */
static inline size_t nde_tape_rec_doubles(const nde_tape_view *v)
{
    return v->field->f_rec ? v->batch * v->field->rec_size : 0;
}

#endif
