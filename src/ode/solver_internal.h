/* The solver object's fields, shared by the explicit RK driver (rk_solve.c) and the
 * SUNDIALS backends (sundials*.c). Not public. Code that only reads what a solve
 * recorded (adjoints, regularizers) uses the read-only view in ode/tape_view.h. */
#ifndef NDE_ODE_SOLVER_INTERNAL_H
#define NDE_ODE_SOLVER_INTERNAL_H

#include "nde/ode.h"
#include "ode/tableau.h"
#include "ode/tape_view.h"

/* Backend operations (SUNDIALS-style ops table): one per solver family. */
typedef struct nde_backend_ops {
    nde_status (*init)(nde_solver *s); /* optional: validate options, set up s->backend */
    nde_status (*solve)(nde_solver *s, const double *u0, double *traj);
    void (*free_data)(nde_solver *s);
} nde_backend_ops;

struct nde_solver {
    nde_ctx *ctx;               /* borrowed, may be NULL for explicit RK */
    nde_field field;            /* copy of the caller's struct */
    nde_solver_opts opts;
    const nde_tableau *tab;     /* NULL for SUNDIALS methods */
    const nde_backend_ops *ops;
    void *backend;              /* backend-owned data */
    size_t record_limit;        /* opts.tape_max_bytes resolved (0 → half the RAM): the most
                                   bytes tape and step log may allocate together */

    /* last solve */
    size_t batch, n;            /* n = batch · dim */
    size_t nt;
    double *ts;                 /* (nt) copy of the save times */
    int solved_ok;              /* last solve finished with NDE_OK */
    nde_solver_stats stats;

    /* step log of accepted steps */
    nde_step_rec *steps;
    size_t n_steps, steps_cap;

    /* output provenance (nt) */
    nde_save_src *save_src;
    size_t save_cap;

    /* discrete-adjoint tape: per accepted step, `tape_stride` doubles —
     * NDE_TAPE_STAGES: stage inputs Y then stage derivatives k, (2, stages, n);
     * NDE_TAPE_STEP_STARTS: the step's start state u_n, (n). */
    double *tape;
    size_t tape_stride, tape_cap_steps;

    /* workspace (n_cap ≥ n): stage derivatives k (stages, n), stage inputs Y (stages, n),
     * u, u_new, scratch */
    size_t n_cap;
    double *k, *y, *u, *u_new, *scratch;

    /* frozen step sizes (nde_solver_freeze_steps), NULL when not frozen */
    double *replay_h;
    size_t n_replay;

    /* reverse-sweep workspace, grown on demand (src/adjoint) */
    double *adj_ws;
    size_t adj_ws_cap;

    /* continuous adjoints' backward solvers and buffers (src/adjoint), kept between
     * calls; freed by cont_adj_free */
    void *cont_adj;
    void (*cont_adj_free)(void *cont_adj);
};

/* Grow the per-solve buffers for n unknowns, nt save times. */
nde_status nde_solver_reserve(nde_solver *s, size_t n, size_t nt);
/* Append an accepted step to the log. */
nde_status nde_solver_log_step(nde_solver *s, double t, double h, double err_est,
                               double stiff_est);
/* Room for one more step on the tape; returns its slot in *slot. */
nde_status nde_solver_tape_slot(nde_solver *s, double **slot);
/* Room for tape record idx (records 0..idx−1 are kept when the tape grows). */
nde_status nde_solver_tape_slot_at(nde_solver *s, size_t idx, double **slot);

/* Error norm of the embedded estimate (Hairer's RMS norm):
 * sqrt(mean_i (err_i / (atol + rtol·max(|u_i|, |u_new_i|)))²). */
double nde_err_norm(const double *err, const double *u, const double *u_new, size_t n,
                    double atol, double rtol);

/* The explicit RK driver (rk_solve.c). */
extern const nde_backend_ops nde_rk_backend_ops;
/* CVODES and ARKODE (sundials*.c), in builds with SUNDIALS. */
extern const nde_backend_ops nde_sundials_backend_ops;

#endif
