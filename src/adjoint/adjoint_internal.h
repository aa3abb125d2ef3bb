/* The adjoint object and the entry points of each kind, shared by src/adjoint's files
 * and (through sweep.h) src/reg. Internal. */
#ifndef NDE_ADJOINT_INTERNAL_H
#define NDE_ADJOINT_INTERNAL_H

#include "adjoint/sweep.h"
#include "nde/adjoint.h"
#include "ode/solver_adjoint.h"
#include "ode/tape_view.h"

struct nde_cont_ws;

struct nde_adjoint {
    nde_solver *s;             /* borrowed: the solver whose solves it differentiates */
    nde_adjoint_opts opts;
    nde_adjoint_stats stats;   /* of the last run */
    double *ws;                /* discrete reverse sweep's workspace, grown on demand */
    size_t ws_cap;             /* doubles */
    struct nde_cont_ws *cont;  /* continuous adjoints' backward solvers, kept between runs */
};

/* The solver's shared adjoint (created on first use), which the free functions run. */
nde_status nde_adjoint_shared(nde_solver *s, nde_adjoint **out);

/* The kinds' computations on the adjoint's solver (arguments as in nde/adjoint.h).
 * Each resets and fills a->stats; none copies them into the solver. */
nde_status nde_adj_discrete(nde_adjoint *a, const double *dL_dtraj, const nde_adj_hook *hook,
                            double *grad_theta, double *grad_u0);
nde_status nde_adj_backsolve(nde_adjoint *a, const double *traj, const double *dL_dtraj,
                             double *grad_theta, size_t n_theta, double *grad_u0,
                             const nde_cont_adjoint_opts *opts);
nde_status nde_adj_interpolating(nde_adjoint *a, const double *traj, const double *dL_dtraj,
                                 double *grad_theta, size_t n_theta, double *grad_u0,
                                 const nde_cont_adjoint_opts *opts);
nde_status nde_adj_cvodes(nde_adjoint *a, const double *dL_dtraj, double *grad_theta,
                          size_t n_theta, double *grad_u0, const nde_cont_adjoint_opts *opts);

#endif
