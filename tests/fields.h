/* Small vector fields with known solutions or hand-written VJPs, shared by the ODE and
 * adjoint tests. Header-only so every test binary stays one file plus this. */
#ifndef NDE_TEST_FIELDS_H
#define NDE_TEST_FIELDS_H

#include <math.h>
#include <string.h>

#include "nde/nde.h"

/* u' = u cos t, u(t) = u(0) exp(sin t − sin t0); dim 1. */
static inline nde_status expsin_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx;
    for (size_t b = 0; b < batch; b++) du[b] = u[b] * cos(t);
    return NDE_OK;
}

/* u' = A u with A = [[-a, w], [-w, -a]]: damped rotation; dim 2.
 * u(t) = e^{-a t} R(-w t) u0 where R is the rotation matrix. */
typedef struct rot_ctx {
    double a, w;
} rot_ctx;

static inline nde_status rot_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    rot_ctx *c = ctx;
    for (size_t b = 0; b < batch; b++) {
        const double *x = u + 2 * b;
        du[2 * b] = -c->a * x[0] + c->w * x[1];
        du[2 * b + 1] = -c->w * x[0] - c->a * x[1];
    }
    return NDE_OK;
}

static inline void rot_exact(const rot_ctx *c, double t, const double *u0, double *u)
{
    double e = exp(-c->a * t), cs = cos(c->w * t), sn = sin(c->w * t);
    u[0] = e * (cs * u0[0] + sn * u0[1]);
    u[1] = e * (-sn * u0[0] + cs * u0[1]);
}

/* f(t, u) = tanh(W u + b + t c) with θ = [W (d×d) row-major, b (d), c (d)]: a small
 * nonlinear, non-autonomous field with a hand-written VJP, independent of src/nn. */
typedef struct tanh_ctx {
    size_t d;
    const double *theta; /* (d*d + 2d) */
    double z[64];        /* scratch: tanh values of one sample (d <= 64) */
} tanh_ctx;

static inline nde_status tanh_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    tanh_ctx *c = ctx;
    size_t d = c->d;
    const double *W = c->theta, *bb = W + d * d, *cc = bb + d;
    for (size_t s = 0; s < batch; s++)
        for (size_t i = 0; i < d; i++) {
            double acc = bb[i] + t * cc[i];
            for (size_t j = 0; j < d; j++) acc += W[i * d + j] * u[s * d + j];
            du[s * d + i] = tanh(acc);
        }
    return NDE_OK;
}

static inline nde_status tanh_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                           double *gth, size_t batch)
{
    tanh_ctx *c = ctx;
    size_t d = c->d;
    const double *W = c->theta;
    double *gW = gth, *gb = gth ? gth + d * d : NULL, *gc = gth ? gth + d * d + d : NULL;
    for (size_t s = 0; s < batch; s++) {
        tanh_f(ctx, t, u + s * d, c->z, 1);
        double g[64];
        for (size_t i = 0; i < d; i++) g[i] = v[s * d + i] * (1.0 - c->z[i] * c->z[i]);
        if (vu)
            for (size_t j = 0; j < d; j++) {
                double acc = 0.0;
                for (size_t i = 0; i < d; i++) acc += W[i * d + j] * g[i];
                vu[s * d + j] = acc;
            }
        if (gth)
            for (size_t i = 0; i < d; i++) {
                for (size_t j = 0; j < d; j++) gW[i * d + j] += g[i] * u[s * d + j];
                gb[i] += g[i];
                gc[i] += g[i] * t;
            }
    }
    return NDE_OK;
}

/* The same field recording z = tanh(W u + b + t c) per sample (rec_size = d), and the
 * VJP that reads z from the record instead of recomputing it. */
static inline nde_status tanh_f_rec(void *ctx, double t, const double *u, double *du,
                                    double *rec, size_t batch)
{
    tanh_ctx *c = ctx;
    NDE_TRY(tanh_f(ctx, t, u, du, batch));
    memcpy(rec, du, batch * c->d * sizeof *rec);
    return NDE_OK;
}

static inline nde_status tanh_vjp_rec(void *ctx, double t, const double *u, const double *rec,
                                      const double *v, double *vu, double *gth, size_t batch)
{
    tanh_ctx *c = ctx;
    size_t d = c->d;
    const double *W = c->theta;
    double *gW = gth, *gb = gth ? gth + d * d : NULL, *gc = gth ? gth + d * d + d : NULL;
    for (size_t s = 0; s < batch; s++) {
        const double *z = rec + s * d;
        double g[64];
        for (size_t i = 0; i < d; i++) g[i] = v[s * d + i] * (1.0 - z[i] * z[i]);
        if (vu)
            for (size_t j = 0; j < d; j++) {
                double acc = 0.0;
                for (size_t i = 0; i < d; i++) acc += W[i * d + j] * g[i];
                vu[s * d + j] = acc;
            }
        if (gth)
            for (size_t i = 0; i < d; i++) {
                for (size_t j = 0; j < d; j++) gW[i * d + j] += g[i] * u[s * d + j];
                gb[i] += g[i];
                gc[i] += g[i] * t;
            }
    }
    return NDE_OK;
}

static inline nde_field tanh_field(tanh_ctx *c)
{
    nde_field f = {.dim = c->d, .n_params = c->d * c->d + 2 * c->d, .ctx = c, .f = tanh_f,
                   .vjp = tanh_vjp};
    return f;
}

/* u' = u², blows up at t = 1/u0: for step-size underflow and non-finite tests. */
static inline nde_status blowup_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t b = 0; b < batch; b++) du[b] = u[b] * u[b];
    return NDE_OK;
}

#endif
