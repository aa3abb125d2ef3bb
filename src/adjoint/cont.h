/* What the continuous adjoints share: argument checks, the cached backward solvers and
 * buffers (kept in the nde_adjoint between runs), memory accounting. Internal. */
#ifndef NDE_ADJOINT_CONT_H
#define NDE_ADJOINT_CONT_H

#include "adjoint/adjoint_internal.h"

typedef enum nde_cont_kind { NDE_CONT_BACKSOLVE = 1, NDE_CONT_INTERPOLATING } nde_cont_kind;

/* The cached state of one continuous adjoint of the adjoint `a`. */
typedef struct nde_cont_ws {
    nde_cont_kind kind;
    nde_cont_adjoint_opts opts;
    nde_adjoint *a;     /* owner of this struct; a->stats counts the work */
    nde_tape_view v;    /* the forward solver's last solve (refreshed every run) */
    size_t n, p;        /* batch·dim and n_params it was built for */
    nde_field aug;      /* the backward system, ctx = this struct */
    nde_solver *back;   /* integrates aug backwards between save times */
    nde_solver *fwd;    /* interpolating: re-solves a save interval, keeping its stages */
    double *x0, *x1;    /* (2, aug.dim): a backward segment's start, and its output rows */
    double *u;          /* (n) interpolated state; (2, n) re-forward output rows */
    nde_tape_view fv;   /* interpolating: fwd's last solve (its stages) */
    size_t last;        /* interpolating: step of fwd where the last lookup landed */
} nde_cont_ws;

/* Check the arguments every continuous adjoint shares (see nde/adjoint.h); traj is
 * required when need_traj. */
nde_status nde_cont_check(const nde_tape_view *v, int need_traj, const double *traj,
                          const double *dL, double *grad_theta, size_t n_theta, const char *who);

/* The cached workspace for (kind, opts) and the current sizes (view v of the last
 * solve), rebuilt if anything changed; `build` fills aug, back, fwd and the buffers of a
 * fresh zeroed struct. */
nde_status nde_cont_ws_get(nde_adjoint *a, const nde_tape_view *v, nde_cont_kind kind,
                           const nde_cont_adjoint_opts *opts, nde_status (*build)(nde_cont_ws *w),
                           nde_cont_ws **out);
void nde_cont_ws_free(nde_cont_ws *w); /* NULL-safe */

/* The start of a backsolve or interpolating run: *v ← the solver's last solve, the
 * argument checks (traj required), opts or the defaults, the workspace *out from
 * nde_cont_ws_get, a->stats zeroed. `who` names the public function in messages. */
nde_status nde_cont_begin(nde_adjoint *a, const double *traj, const double *dL,
                          double *grad_theta, size_t n_theta, nde_cont_kind kind,
                          const nde_cont_adjoint_opts *opts, nde_status (*build)(nde_cont_ws *w),
                          const char *who, nde_tape_view *v, nde_cont_ws **out);

/* For a `build`: w->aug ← the backward system of `dim` unknowns with right-hand side f
 * (ctx = w), and the buffers x0, x1. */
nde_status nde_cont_aug(nde_cont_ws *w, size_t dim,
                        nde_status (*f)(void *ctx, double t, const double *x, double *dx,
                                        size_t batch));

/* Create an inner solver on w->aug (or `field`) with w->opts, no tape. */
nde_status nde_cont_solver(nde_cont_ws *w, const nde_field *field, nde_method method,
                           nde_tape tape, nde_solver **out);

/* Set the memory stats of w->a from `bytes` (max_states in state copies). */
void nde_cont_set_memory(nde_cont_ws *w, size_t bytes);

#endif
