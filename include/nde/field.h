/** @file
 * nde/field.h — the vector-field interface every solver and adjoint works with.
 *
 * A field is f(t, u; θ) for a batch of states, plus its vector–Jacobian product.
 * States are (batch, dim) row-major. Networks (nde_mlp_field), operator layers and
 * user-written fields (physics plus a network) all fill this struct; solvers and
 * adjoints never look behind `ctx`.
 *
 * Contract:
 *   f:   du (batch,dim) = f(t, u (batch,dim)). Must not keep pointers to u or du.
 *   vjp: given v (batch,dim):
 *          vu (batch,dim)    = vᵀ ∂f/∂u      — overwritten; NULL → not wanted
 *          gtheta (n_params) += vᵀ ∂f/∂θ     — accumulated; NULL → not wanted
 *        Sample b of vu depends only on sample b of u and v (the batch is a stack of
 *        independent systems) unless the field says otherwise.
 *   jvp: optional (NULL if absent): jw (batch,dim) = (∂f/∂u) w. Used by implicit
 *        solvers' Newton–Krylov iterations and by the Hutchinson Jacobian regularizer.
 *   f_rec / vjp_rec: optional pair (both or neither). f_rec is f that also writes a
 *        record of batch·rec_size doubles into rec (layout up to the field) — e.g. a
 *        network's hidden activations — and vjp_rec is vjp given that record, so it need not
 *        redo the forward pass. The explicit RK solvers keep the records of every
 *        stage on the NDE_TAPE_STAGES tape (trading memory for one forward pass per
 *        stage in the reverse sweep) and use them in recompute modes too.
 * Every callback returns NDE_OK or a status with a message (nde_fail). */
#ifndef NDE_FIELD_H
#define NDE_FIELD_H

#include "nde/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A vector field f(t, u; θ) for a batch of states with its vector–Jacobian product; the callbacks follow the contract in the file description above. */
typedef struct nde_field {
    size_t dim;      /**< state elements per sample */
    size_t n_params; /**< length of θ (0 for a parameter-free field) */
    void *ctx;       /**< passed to every callback; owned by whoever made the field */
    nde_status (*f)(void *ctx, double t, const double *u, double *du, size_t batch); /**< du (batch, dim) = f(t, u); required */
    /** vu = vᵀ ∂f/∂u (overwritten) and gtheta += vᵀ ∂f/∂θ (accumulated); either may be NULL when not wanted; required by the adjoints */
    nde_status (*vjp)(void *ctx, double t, const double *u, const double *v, double *vu,
                      double *gtheta, size_t batch);
    /** jw = (∂f/∂u) w; optional (NULL), used by Newton–Krylov iterations and the Hutchinson Jacobian regularizer */
    nde_status (*jvp)(void *ctx, double t, const double *u, const double *w, double *jw,
                      size_t batch);
    size_t rec_size; /**< doubles per sample written by f_rec */
    /** f that also writes batch·rec_size doubles of record into rec; optional, with vjp_rec */
    nde_status (*f_rec)(void *ctx, double t, const double *u, double *du, double *rec,
                        size_t batch);
    /** vjp given the record f_rec wrote, without redoing the forward pass; optional, with f_rec */
    nde_status (*vjp_rec)(void *ctx, double t, const double *u, const double *rec,
                          const double *v, double *vu, double *gtheta, size_t batch);
} nde_field;

/** NDE_OK if the struct is usable (f present, dim > 0; vjp present when need_vjp). */
NDE_API nde_status nde_field_check(const nde_field *f, int need_vjp);

#ifdef __cplusplus
}
#endif
#endif
