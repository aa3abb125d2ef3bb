/* SUNDIALS backends (CVODES, ARKODE ERKStep/ARKStep) behind nde_solve: the backend data,
 * the per-family operations the common step loop (sundials.c) calls, and the callbacks
 * that adapt an nde_field to SUNDIALS. Shared with the CVODES adjoint
 * (src/adjoint/cvodes_adjoint.c). Internal; only built when NDE_HAVE_SUNDIALS. */
#ifndef NDE_ODE_SUNDIALS_INTERNAL_H
#define NDE_ODE_SUNDIALS_INTERNAL_H

#include <stdio.h> /* arkode_butcher.h uses FILE without including it */

#include <arkode/arkode_butcher.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_matrix.h>
#include <sundials/sundials_nonlinearsolver.h>

#include "ode/solver_internal.h"

typedef struct nde_sun nde_sun;

/* One SUNDIALS integrator family (SUNDIALS-style ops table). */
typedef struct nde_sun_family {
    const char *name;
    /* Create the integrator (d->mem == NULL: first solve, or n changed; the vectors
     * exist) or re-init it at (t0, d->y = u0), then set the stop time t_end. */
    nde_status (*setup)(nde_sun *d, double t0, double t_end);
    /* One internal step towards tout (ONE_STEP mode); the SUNDIALS flag. */
    int (*step)(nde_sun *d, double tout, double *tret);
    int (*dky)(void *mem, double t, int k, N_Vector dky);
    int (*local_errors)(void *mem, N_Vector ele);
    int (*err_weights)(void *mem, N_Vector ewt);
    /* Counters (steps, rejections, Newton and linear-solver work) into *st. */
    void (*stats)(nde_sun *d, nde_solver_stats *st);
    void (*free_mem)(nde_sun *d); /* the integrator memory d->mem only */
} nde_sun_family;

struct nde_sun {
    nde_solver *s;           /* back pointer for the callbacks */
    const nde_sun_family *fam;
    SUNContext sunctx;       /* borrowed from the nde_ctx */
    void *mem;               /* CVODES / ARKODE memory, NULL until the first solve */
    size_t n;                /* unknowns mem was built for */
    N_Vector y, ele, ewt, dky; /* (n) each */
    SUNMatrix A;
    SUNLinearSolver LS;
    SUNNonlinearSolver NLS;
    ARKodeButcherTable erk;  /* NDE_ARK_ERK: the nde tableau as a Butcher table */
    double *fe;              /* NDE_ARK_IMEX: f_E values (n) for f_I = f − f_E */
    nde_status cb_status;    /* first failure of a field callback inside SUNDIALS */
    int cb_nonfinite;        /* a callback produced NaN/Inf (recoverable for SUNDIALS) */
    double jac_rho;          /* spectral radius estimate of the last Jacobian nde_sun_jac
                                built in this solve (0: none yet): the steps' stiff_est */
    char msg[512];           /* SUNDIALS' last error message */

    /* CVODES adjoint (opts.cvodes_adj_steps > 0; src/adjoint/cvodes_adjoint.c) */
    int adj_ready;           /* CVodeAdjInit done for this mem */
    int adj_recorded;        /* the last solve ran CVodeF to its end */
    long n_checkpoints;      /* CVodeF's check points in the last solve */
    int which_b;             /* backward problem index, −1 if none */
    size_t nb_p;             /* quadrature length it was built for */
    N_Vector yB, qB;         /* (n), (n_params) */
    nde_adjoint_stats *adj_stats; /* during an adjoint run: where the callbacks count (the
                                     forward re-integration is adjoint work), else NULL */
    SUNMatrix AB;
    SUNLinearSolver LSB;
};

extern const nde_sun_family nde_sun_cvode_family, nde_sun_erk_family, nde_sun_ark_family;

/* The SUNContext kept in ctx's NDE_SLOT_SUNDIALS, created on first use. */
nde_status nde_sundials_context(nde_ctx *ctx, SUNContext *out);

/* SUNDIALS error handler: appends "[module] function: message" to d->msg (warnings
 * are dropped); the first message is the root cause. */
void nde_sun_err_handler(int code, const char *module, const char *function, char *msg,
                         void *user);

/* Map a negative SUNDIALS flag from `call` to an nde status whose message carries
 * SUNDIALS' text (or the field callback's own status when one failed). CVODES and
 * ARKODE share the numeric values of the flags used here. */
nde_status nde_sun_fail(nde_sun *d, int flag, const char *call, double t);

/* Run a SUNDIALS call; on a negative flag return nde_sun_fail(d, flag, name, t). */
#define SUN_TRY(d, call, name, t)                                                \
    do {                                                                         \
        int sun_flag_ = (call);                                                  \
        if (sun_flag_ < 0) return nde_sun_fail((d), sun_flag_, (name), (t));     \
    } while (0)

/* A counter from a SUNDIALS getter: *v, or 0 if the getter failed (flag < 0, e.g. no
 * linear solver). */
size_t nde_sun_count(int flag, const long *v);

/* The counter getters of an implicit family (CVODES and ARKStep share the signatures). */
typedef struct nde_sun_counters {
    int (*err_test_fails)(void *mem, long *v);
    int (*conv_fails)(void *mem, long *v); /* nonlinear solver convergence failures */
    int (*nonlin_iters)(void *mem, long *v);
    int (*jac_evals)(void *mem, long *v);
    int (*lin_iters)(void *mem, long *v);
} nde_sun_counters;

/* Rejections (error test and convergence failures), Newton and linear-solver work of
 * d->mem into *st, through the family's getters c. */
void nde_sun_implicit_stats(nde_sun *d, const nde_sun_counters *c, nde_solver_stats *st);

/* Field adapters with the CVRhsFn/ARKRhsFn signature; user = nde_sun. f_I and f_E are
 * the IMEX parts (f_I = f − f_E). They return 0, 1 (recoverable: non-finite values) or
 * −1 (the field failed; its status is kept in cb_status). */
int nde_sun_rhs(double t, N_Vector y, N_Vector ydot, void *user);
int nde_sun_rhs_explicit(double t, N_Vector y, N_Vector ydot, void *user);
int nde_sun_rhs_implicit(double t, N_Vector y, N_Vector ydot, void *user);
/* Dense Jacobian of f from the field's jvp (CVLsJacFn/ARKLsJacFn signature). */
int nde_sun_jac(double t, N_Vector y, N_Vector fy, SUNMatrix J, void *user, N_Vector t1,
                N_Vector t2, N_Vector t3);
/* J·v from the field's jvp (CVLsJacTimesVecFn/ARKLsJacTimesVecFn signature). */
int nde_sun_jtimes(N_Vector v, N_Vector Jv, double t, N_Vector y, N_Vector fy, void *user,
                   N_Vector tmp);
/* out (n) = a product of the field's Jacobian at (t, y) with v (n), e.g. J·v by a jvp;
 * counts its work. */
typedef nde_status (*nde_sun_product)(nde_sun *d, double t, const double *y, const double *v,
                                      double *out);
/* The block-diagonal J (batch blocks of dim × dim, the batch being a stack of independent
 * systems) from `product`: one product with e_j in every sample gives column j of every
 * block, negated if `negate`. e, col: n doubles of scratch. The SUNDIALS return code. */
int nde_sun_block_jac(nde_sun *d, double t, N_Vector y, SUNMatrix J, nde_sun_product product,
                      int negate, double *e, double *col);
/* Record a field callback's status; returns the SUNDIALS return code for it. */
int nde_sun_cb_result(nde_sun *d, nde_status st, const double *out, size_t n);

/* State vectors (n doubles each) CVODES holds for the adjoint after the last solve
 * (estimate): each check point keeps the Nordsieck array (up to qmax + 1 vectors) plus
 * one, and the Hermite data (y, y') at every step of one interval. */
size_t nde_sun_checkpoint_states(const nde_sun *d);

/* Create what opts.linsol asks for — d->A and d->LS (dense, GMRES on y's layout) or
 * d->NLS (fixed point) — for the family to attach. */
nde_status nde_sun_make_linsol(nde_sun *d);

#endif
