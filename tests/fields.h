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

/* Robertson's chemical kinetics (Robertson 1966; Hairer & Wanner II §IV.1), stiff; dim 3,
 * θ = (k1, k2, k3) = (0.04, 1e4, 3e7) for the classic problem:
 *   y1' = −k1 y1 + k2 y2 y3,  y2' = k1 y1 − k2 y2 y3 − k3 y2²,  y3' = k3 y2². */
typedef struct robertson_ctx {
    const double *theta; /* (3) */
} robertson_ctx;

static inline nde_status robertson_f(void *ctx, double t, const double *u, double *du,
                                     size_t batch)
{
    (void)t;
    const double *k = ((robertson_ctx *)ctx)->theta;
    for (size_t b = 0; b < batch; b++) {
        const double *y = u + 3 * b;
        double r1 = k[0] * y[0], r2 = k[1] * y[1] * y[2], r3 = k[2] * y[1] * y[1];
        du[3 * b] = -r1 + r2;
        du[3 * b + 1] = r1 - r2 - r3;
        du[3 * b + 2] = r3;
    }
    return NDE_OK;
}

/* J = [[-k1, k2 y3, k2 y2], [k1, -k2 y3 - 2 k3 y2, -k2 y2], [0, 2 k3 y2, 0]] */
static inline nde_status robertson_jvp(void *ctx, double t, const double *u, const double *w,
                                       double *jw, size_t batch)
{
    (void)t;
    const double *k = ((robertson_ctx *)ctx)->theta;
    for (size_t b = 0; b < batch; b++) {
        const double *y = u + 3 * b, *x = w + 3 * b;
        double *o = jw + 3 * b;
        o[0] = -k[0] * x[0] + k[1] * y[2] * x[1] + k[1] * y[1] * x[2];
        o[1] = k[0] * x[0] - (k[1] * y[2] + 2 * k[2] * y[1]) * x[1] - k[1] * y[1] * x[2];
        o[2] = 2 * k[2] * y[1] * x[1];
    }
    return NDE_OK;
}

static inline nde_status robertson_vjp(void *ctx, double t, const double *u, const double *v,
                                       double *vu, double *gth, size_t batch)
{
    (void)t;
    const double *k = ((robertson_ctx *)ctx)->theta;
    for (size_t b = 0; b < batch; b++) {
        const double *y = u + 3 * b, *l = v + 3 * b;
        if (vu) {
            double *o = vu + 3 * b;
            o[0] = -k[0] * l[0] + k[0] * l[1];
            o[1] = k[1] * y[2] * l[0] - (k[1] * y[2] + 2 * k[2] * y[1]) * l[1] +
                   2 * k[2] * y[1] * l[2];
            o[2] = k[1] * y[1] * l[0] - k[1] * y[1] * l[1];
        }
        if (gth) {
            gth[0] += y[0] * (l[1] - l[0]);
            gth[1] += y[1] * y[2] * (l[0] - l[1]);
            gth[2] += y[1] * y[1] * (l[2] - l[1]);
        }
    }
    return NDE_OK;
}

static inline nde_field robertson_field(robertson_ctx *c)
{
    nde_field f = {.dim = 3, .n_params = 3, .ctx = c, .f = robertson_f, .vjp = robertson_vjp,
                   .jvp = robertson_jvp};
    return f;
}

/* The Jacobian–vector product of tanh_field: (1 − z²) ⊙ (W w). */
static inline nde_status tanh_jvp(void *ctx, double t, const double *u, const double *w,
                                  double *jw, size_t batch)
{
    tanh_ctx *c = ctx;
    size_t d = c->d;
    const double *W = c->theta;
    for (size_t s = 0; s < batch; s++) {
        tanh_f(ctx, t, u + s * d, c->z, 1);
        for (size_t i = 0; i < d; i++) {
            double acc = 0.0;
            for (size_t j = 0; j < d; j++) acc += W[i * d + j] * w[s * d + j];
            jw[s * d + i] = (1.0 - c->z[i] * c->z[i]) * acc;
        }
    }
    return NDE_OK;
}

#endif
