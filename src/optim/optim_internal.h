/* Internals shared by the optimizer driver (optim.c) and the update rules (update_*.c). */
#ifndef NDE_OPTIM_INTERNAL_H
#define NDE_OPTIM_INTERNAL_H

#include <math.h>

#include "nde/optim.h"

/* Most state arrays any rule keeps per parameter tensor (Adan: m, v, n, g_prev). */
#define OPT_MAX_STATES 4

/* Constants of one update of one parameter tensor. */
typedef struct opt_step {
    const nde_optim_spec *spec;
    uint64_t t;  /* 1-based update count */
    double lr;   /* scheduled lr times the group's lr_scale */
    double wd;   /* the group's weight decay */
    double grad_scale; /* Adan max_grad_norm: the global clip coefficient (1 = none) */
    double mu_product; /* NAdam: Π_t = μ_1···μ_t, this step's μ_t included */
    double *work; /* (2 · largest tensor) scratch for rules that need whole-tensor work */
} opt_step;

/* Update θ (n) in place from g (n) and the rule's state arrays state[k] (n each). The
 * arrays may be a whole tensor or one block of it (8-bit states); rules that need the
 * whole tensor are excluded from 8-bit storage by opt_layout. */
typedef void opt_update_rule(const opt_step *st, double *theta, const double *grad,
                             double *const *state, size_t n);
typedef opt_update_rule *opt_update_fn;

/* The state arrays a rule keeps for a spec: their names and whether they are signed
 * (first moments) or non-negative (second moments), in the order opt_update_fn sees. */
typedef struct opt_layout {
    int n_states;
    const char *names[OPT_MAX_STATES];
    int is_signed[OPT_MAX_STATES];
    opt_update_fn update;
    int elementwise; /* 1 if element i of the result depends only on element i */
} opt_layout;

void opt_layout_for(const nde_optim_spec *spec, opt_layout *layout);

/* The rules (update_*.c). */
opt_update_rule opt_update_sgd, opt_update_rmsprop, opt_update_adam, opt_update_adamax,
    opt_update_nadamw, opt_update_lion, opt_update_adan, opt_update_adabelief, opt_update_nadam;

/* Weight decay of element i before a moment update: decoupled, θ_i ← θ_i·decay and g is
 * returned as is; else L2, g + wd·θ_i (g itself when wd = 0). */
static inline double opt_decay(int decoupled, double decay, double wd, double *theta, size_t i,
                               double g)
{
    if (decoupled)
        theta[i] = theta[i] * decay;
    else if (wd != 0.0)
        g = g + wd * theta[i];
    return g;
}

/* The Adam-style denominator √v / √(1 − β2^t) + ε of element i; with AMSGrad (vmax not
 * NULL) vmax_i ← max(vmax_i, v) takes the place of v. */
static inline double opt_denom(double *vmax, size_t i, double v, double bc2_sqrt, double eps)
{
    if (vmax) {
        vmax[i] = fmax(vmax[i], v);
        return sqrt(vmax[i]) / bc2_sqrt + eps;
    }
    return sqrt(v) / bc2_sqrt + eps;
}

/* NAdam's momentum schedule μ_t = β1·(1 − ½·0.96^(t·ψ)) (torch.optim.NAdam). */
double opt_nadam_mu(const nde_optim_spec *spec, uint64_t t);

#endif
