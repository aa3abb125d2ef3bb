/* The shared finite-difference gradient checker (gradcheck.h) on a function with a known
 * gradient: it accepts the right gradient, flags a wrong one under either norm, refuses a
 * vanishing reference, and leaves x exactly as it found it. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gradcheck.h"

enum { N = 6 };

/* F(x) = Σ_i sin(x_i) x_{i+1} + x_i², with ∂F/∂x_i = cos(x_i) x_{i+1} + sin(x_{i−1}) + 2 x_i. */
static double smooth_f(void *ctx)
{
    const double *x = ctx;
    double f = 0.0;
    for (int i = 0; i < N; i++) f += (i + 1 < N ? sin(x[i]) * x[i + 1] : 0.0) + x[i] * x[i];
    return f;
}

static void smooth_grad(const double *x, double *g)
{
    for (int i = 0; i < N; i++)
        g[i] = (i + 1 < N ? cos(x[i]) * x[i + 1] : 0.0) + (i > 0 ? sin(x[i - 1]) : 0.0) + 2 * x[i];
}

static const double x_init[N] = {0.3, -1.2, 0.7, 2.1, -0.4, 0.9};

Test(gradcheck, right_gradient_passes_both_norms_and_stencils_and_x_is_restored)
{
    double x[N], g[N], fd[N];
    memcpy(x, x_init, sizeof x);
    smooth_grad(x, g);
    double e2 = gc_check(x, N, 1e-5, GC_CENTRAL2, smooth_f, x, g, gc_l2(1e-9), "central2 l2");
    double e4 = gc_check(x, N, 1e-3, GC_CENTRAL4, smooth_f, x, g, gc_each(1e-10, 1e-12),
                         "central4 each");
    cr_assert(e2 <= 1e-9 && e4 <= 1.0, "%g %g", e2, e4);
    cr_assert_eq(memcmp(x, x_init, sizeof x), 0, "x not restored");
    double dir[N] = {1, 0, 0, 0, 0, 0}, save[N];
    double dd = gc_fd_directional(x, dir, N, 1e-5, smooth_f, x, save);
    cr_assert(fabs(dd - g[0]) <= 1e-9 * fabs(g[0]), "directional %.17g vs %.17g", dd, g[0]);
    cr_assert_eq(memcmp(x, x_init, sizeof x), 0, "x not restored by the directional check");
    gc_fd_gradient(x, N, 1e-3, GC_CENTRAL4, smooth_f, x, fd);
    cr_assert(rel_err(fd, g, N) < 1e-11, "fourth-order stencil %.3e", rel_err(fd, g, N));
}

/* A gradient off by 0.1 % at one index is flagged under either norm, and the report
 * names that index. */
Test(gradcheck, wrong_entry_is_flagged_and_named)
{
    for (int i = 0; i < N; i++) {
        double x[N], g[N], fd[N];
        memcpy(x, x_init, sizeof x);
        smooth_grad(x, g);
        gc_fd_gradient(x, N, 1e-5, GC_CENTRAL2, smooth_f, x, fd);
        cr_assert(gc_compare(g, fd, N, gc_each(1e-6, 1e-9)).ok);
        cr_assert(gc_compare(g, fd, N, gc_l2(1e-6)).ok);
        g[i] *= 1.001;
        gc_result each = gc_compare(g, fd, N, gc_each(1e-6, 1e-9));
        gc_result l2 = gc_compare(g, fd, N, gc_l2(1e-6));
        cr_assert(!each.ok && each.worst == (size_t)i && each.n_out == 1 && each.err > 1.0,
                  "index %d: ok %d worst %zu n_out %zu", i, each.ok, each.worst, each.n_out);
        cr_assert(!l2.ok && l2.worst == (size_t)i && l2.err > 1e-6, "index %d", i);
        /* an absolute tolerance larger than the error accepts it */
        cr_assert(gc_compare(g, fd, N, (gc_tol){GC_L2, 1e-6, 1.0}).ok);
        cr_assert(gc_compare(g, fd, N, gc_each(0.0, 1.0)).ok);
    }
}

/* A vanishing reference proves nothing: it fails unless an absolute tolerance is given;
 * NaN fails. */
Test(gradcheck, vanishing_reference_and_nan_fail)
{
    double zero[N] = {0}, an[N] = {0};
    cr_assert(!gc_compare(an, zero, N, gc_l2(1e-6)).ok);
    cr_assert(gc_compare(an, zero, N, (gc_tol){GC_L2, 1e-6, 1e-12}).ok);
    cr_assert(gc_compare(an, zero, N, gc_each(1e-6, 0.0)).ok); /* exact match entry by entry */
    an[2] = NAN;
    gc_result r = gc_compare(an, zero, N, gc_each(1e-6, 1.0));
    cr_assert(!r.ok && r.worst == 2);
    cr_assert(!gc_compare(an, zero, N, (gc_tol){GC_L2, 1e-6, 1.0}).ok);
}

/* f(x)_i = x_i² x_{(i+1) mod N}: J w by forward-mode differences, and ⟨r, f⟩'s gradient
 * (the VJP objective) against the transposed product. */
static void vec_f(void *user, double *out)
{
    const double *x = user;
    for (int i = 0; i < N; i++) out[i] = x[i] * x[i] * x[(i + 1) % N];
}

Test(gradcheck, jvp_and_cotangent_of_a_vector_function)
{
    double x[N], w[N], r[N], jw[N], ref[N], save[N], fm[N], out[N], vjp[N] = {0};
    memcpy(x, x_init, sizeof x);
    for (int i = 0; i < N; i++) {
        w[i] = 0.5 + 0.13 * i;
        r[i] = 1.0 - 0.2 * i;
    }
    for (int i = 0; i < N; i++) {
        int j = (i + 1) % N;
        ref[i] = 2 * x[i] * x[j] * w[i] + x[i] * x[i] * w[j];
        vjp[i] += r[i] * 2 * x[i] * x[j];
        vjp[j] += r[i] * x[i] * x[i];
    }
    gc_fd_jvp(x, w, N, 1e-5, vec_f, x, N, jw, save, fm);
    /* h² f''' truncation ~1e-10 against entries down to ~0.04 */
    gc_expect_close(jw, ref, N, gc_each(1e-7, 1e-10), "jvp");
    cr_assert_eq(memcmp(x, x_init, sizeof x), 0, "x not restored by gc_fd_jvp");
    gc_cotangent L = {.f = vec_f, .user = x, .r = r, .nout = N, .out = out};
    gc_check(x, N, 1e-5, GC_CENTRAL2, gc_cotangent_eval, &L, vjp, gc_l2(1e-9), "cotangent");
}
