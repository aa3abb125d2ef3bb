/* The finite-difference gradient check shared by the tests: central differences of a
 * scalar objective F of a flat vector x (θ, u0, an input, ...), compared with an analytic
 * gradient under a relative + absolute tolerance. Header-only, like fields.h.
 *
 * The objective reads x through its context: the checker perturbs x in place, one entry
 * (or one direction) at a time, and restores it bit for bit before returning.
 *
 *     double fd[n];
 *     gc_fd_gradient(x, n, 1e-6, GC_CENTRAL2, objective, &ctx, fd);
 *     gc_expect_close(grad, fd, n, gc_l2(1e-6), "%s: theta gradient", name);
 * or in one call:
 *     gc_check(x, n, 1e-6, GC_CENTRAL2, objective, &ctx, grad, gc_l2(1e-6), "theta");
 *
 * Failures are Criterion expectations (the test goes on, then fails) whose message names
 * the index that is furthest out of tolerance with both values. */
#ifndef NDE_TEST_GRADCHECK_H
#define NDE_TEST_GRADCHECK_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"
#include "numcheck.h"

#if defined(__GNUC__)
#define GC_PRINTF(fmt_arg) __attribute__((format(printf, fmt_arg, fmt_arg + 1)))
#else
#define GC_PRINTF(fmt_arg)
#endif

/* F(x) for the x the context points at. */
typedef double (*gc_objective)(void *ctx);

typedef enum gc_stencil {
    GC_CENTRAL2 = 2, /* (F(x+h) − F(x−h)) / 2h, error O(h²) */
    GC_CENTRAL4 = 4, /* (−F(x+2h) + 8F(x+h) − 8F(x−h) + F(x−2h)) / 12h, error O(h⁴): for
                        objectives that are small differences of large terms, where a
                        larger step keeps rounding down */
} gc_stencil;

/* ∂F/∂x at the entry *xi (a pointer into the vector F reads); *xi is restored exactly. */
static inline double gc_partial(double *xi, double h, gc_stencil stencil, gc_objective F,
                                void *ctx)
{
    const double keep = *xi;
    double d;
    if (stencil == GC_CENTRAL4) {
        const double off[4] = {2 * h, h, -h, -2 * h};
        double f[4];
        for (int k = 0; k < 4; k++) {
            *xi = keep + off[k];
            f[k] = F(ctx);
        }
        d = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h);
    } else {
        *xi = keep + h;
        double fp = F(ctx);
        *xi = keep - h;
        double fm = F(ctx);
        d = (fp - fm) / (2 * h);
    }
    *xi = keep;
    return d;
}

/* fd (n) = ∂F/∂x_i for every i of x (n), step h. */
static inline void gc_fd_gradient(double *x, size_t n, double h, gc_stencil stencil,
                                  gc_objective F, void *ctx, double *fd)
{
    for (size_t i = 0; i < n; i++) fd[i] = gc_partial(&x[i], h, stencil, F, ctx);
}

/* The derivative of F along dir (n) at x (n), (F(x + h·dir) − F(x − h·dir)) / 2h; x is
 * restored exactly (saved in `save`, n doubles of scratch). */
static inline double gc_fd_directional(double *x, const double *dir, size_t n, double h,
                                       gc_objective F, void *ctx, double *save)
{
    memcpy(save, x, n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = save[i] + h * dir[i];
    double fp = F(ctx);
    for (size_t i = 0; i < n; i++) x[i] = save[i] - h * dir[i];
    double fm = F(ctx);
    memcpy(x, save, n * sizeof *x);
    return (fp - fm) / (2 * h);
}

/* The scalar ⟨r, f(v)⟩ of a vector function f (writing nout values into out, scratch the
 * caller provides), whose gradient in v is the vector–Jacobian product with cotangent r:
 * the objective for checking a VJP. f reads v through user. */
typedef void (*gc_vector_fn)(void *user, double *out);
typedef struct gc_cotangent {
    gc_vector_fn f;
    void *user;
    const double *r; /* (nout) */
    size_t nout;
    double *out;     /* (nout) scratch */
} gc_cotangent;

static inline double gc_cotangent_eval(void *ctx)
{
    gc_cotangent *c = ctx;
    c->f(c->user, c->out);
    double s = 0.0;
    for (size_t i = 0; i < c->nout; i++) s += c->r[i] * c->out[i];
    return s;
}

/* Forward mode: jw (nout) = (f(x + h·w) − f(x − h·w)) / 2h, the Jacobian of a vector
 * function f (reading x (n) through user) applied to w (n); x is restored exactly.
 * Scratch: save (n), fm (nout). */
static inline void gc_fd_jvp(double *x, const double *w, size_t n, double h, gc_vector_fn f,
                             void *user, size_t nout, double *jw, double *save, double *fm)
{
    memcpy(save, x, n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = save[i] + h * w[i];
    f(user, jw);
    for (size_t i = 0; i < n; i++) x[i] = save[i] - h * w[i];
    f(user, fm);
    memcpy(x, save, n * sizeof *x);
    for (size_t i = 0; i < nout; i++) jw[i] = (jw[i] - fm[i]) / (2 * h);
}

/* L = Σ g ⊙ traj of a solve from u0 over ts: the objective of the adjoint checks. θ is
 * whatever the solver's field reads; u0 is read from here. Freeze the solver's steps
 * (nde_solver_freeze_steps) to difference the discrete solution the adjoint
 * differentiates. */
typedef struct gc_solve_loss {
    nde_solver *s;
    size_t batch, dim, nt;
    const double *ts; /* (nt) */
    double *u0;       /* (batch, dim) */
    double *traj;     /* (nt, batch, dim) scratch */
    const double *g;  /* (nt, batch, dim) */
} gc_solve_loss;

static inline double gc_solve_loss_eval(void *ctx)
{
    gc_solve_loss *c = ctx;
    nde_status st = nde_solve(c->s, c->batch, c->dim, c->u0, c->nt, c->ts, c->traj);
    cr_assert_eq(st, NDE_OK, "nde_solve: %s", nde_last_error());
    double l = 0.0;
    for (size_t i = 0; i < c->nt * c->batch * c->dim; i++) l += c->g[i] * c->traj[i];
    return l;
}

/* How the analytic gradient an is compared with the finite differences fd:
 *   GC_EACH  every entry: |an_i − fd_i| <= atol + rtol·|fd_i|
 *   GC_L2    the vector:  ‖an − fd‖₂ / ‖fd‖₂ <= rtol (the rel_err of numcheck.h), or
 *            ‖an − fd‖₂ <= atol. With atol = 0 a vanishing reference fails: a gradient
 *            that is identically zero proves nothing. */
typedef enum gc_norm { GC_EACH, GC_L2 } gc_norm;
typedef struct gc_tol {
    gc_norm norm;
    double rtol, atol;
} gc_tol;

static inline gc_tol gc_l2(double rtol) { return (gc_tol){GC_L2, rtol, 0.0}; }
static inline gc_tol gc_each(double rtol, double atol) { return (gc_tol){GC_EACH, rtol, atol}; }

/* The comparison alone: ok, the measured error (GC_L2: the relative error ‖an − fd‖/‖fd‖;
 * GC_EACH: the largest |an_i − fd_i| / (atol + rtol·|fd_i|), ≤ 1 passes), and the entry
 * furthest out of the per-entry tolerance with the count of entries outside it. */
typedef struct gc_result {
    int ok;
    double err;
    size_t worst, n_out;
} gc_result;

static inline gc_result gc_compare(const double *an, const double *fd, size_t n, gc_tol tol)
{
    gc_result r = {.ok = 0, .err = NAN, .worst = 0, .n_out = 0};
    double worst_ratio = -1.0, num = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(an[i] - fd[i]), allowed = tol.atol + tol.rtol * fabs(fd[i]);
        double ratio = allowed > 0.0 ? d / allowed : (d > 0.0 ? INFINITY : 0.0);
        if (isnan(ratio)) ratio = INFINITY; /* NaN is out of every tolerance */
        if (!(ratio <= 1.0)) r.n_out++;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            r.worst = i;
        }
        num += (an[i] - fd[i]) * (an[i] - fd[i]);
    }
    if (n == 0) return r;
    if (tol.norm == GC_L2) {
        r.err = rel_err(an, fd, n);
        r.ok = r.err <= tol.rtol || (tol.atol > 0.0 && sqrt(num) <= tol.atol);
    } else {
        r.err = worst_ratio;
        r.ok = r.n_out == 0;
    }
    return r;
}

/* gc_compare as a Criterion expectation: on failure the message starts with `fmt, ...`
 * (what was checked) and names the worst index with both values. Returns the measured
 * error (for logging). */
static inline double gc_expect_close(const double *an, const double *fd, size_t n, gc_tol tol,
                                     const char *fmt, ...) GC_PRINTF(5);
static inline double gc_expect_close(const double *an, const double *fd, size_t n, gc_tol tol,
                                     const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cr_expect(n > 0, "%s: empty gradient", what);
    if (n == 0) return NAN;
    gc_result r = gc_compare(an, fd, n, tol);
    if (tol.norm == GC_L2)
        cr_expect(r.ok,
                  "%s: gradient vs finite differences: rel err %.3e (tolerance %.1e, atol %.1e); "
                  "worst index %zu: analytic %.17g, finite differences %.17g",
                  what, r.err, tol.rtol, tol.atol, r.worst, an[r.worst], fd[r.worst]);
    else
        cr_expect(r.ok,
                  "%s: gradient vs finite differences: %zu of %zu entries out of tolerance "
                  "(rtol %.1e, atol %.1e); worst index %zu: analytic %.17g, finite "
                  "differences %.17g (%.2fx the tolerance)",
                  what, r.n_out, n, tol.rtol, tol.atol, r.worst, an[r.worst], fd[r.worst], r.err);
    return r.err;
}

/* gc_fd_gradient and gc_expect_close in one call (fd kept on the heap: n may be large). */
static inline double gc_check(double *x, size_t n, double h, gc_stencil stencil, gc_objective F,
                              void *ctx, const double *an, gc_tol tol, const char *fmt, ...)
    GC_PRINTF(9);
static inline double gc_check(double *x, size_t n, double h, gc_stencil stencil, gc_objective F,
                              void *ctx, const double *an, gc_tol tol, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    double *fd = malloc(n * sizeof *fd);
    cr_assert_not_null(fd);
    gc_fd_gradient(x, n, h, stencil, F, ctx, fd);
    double e = gc_expect_close(an, fd, n, tol, "%s", what);
    free(fd);
    return e;
}

#endif
