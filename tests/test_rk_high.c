/* The high-order pairs (DOP853, Vern6, Vern7, Vern9) and every other tableau: rooted-tree
 * order conditions of b, of the embedded b̂ and of the continuous extension; measured
 * convergence orders of the solution and the dense output; lazy interpolation stages
 * (counted, computed only when a save time falls inside a step); step log; the discrete
 * adjoint through them in every tape mode against frozen-step finite differences; the
 * error- and stiffness-estimate regularizers; and the tolerance-based method chooser. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fields.h"
#include "gradcheck.h"
#include "nde/adjoint.h"
#include "nde/nde.h"
#include "nde/ode.h"
#include "nde/reg.h"
#include "nde_config.h"
#include "ode/tableau.h"
#include "tests/ref/dop853_ref.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

/* ---- rooted trees up to order 9 ------------------------------------------------------ */

enum { MAX_ORDER = 9, MAX_TREES = 486, MAX_CHILD = 8 };

/* A tree is its root's children, a non-decreasing list of indices of smaller trees (so
 * each unlabelled tree appears once); the list is ordered by tree order. */
typedef struct tree {
    int order, nchild, child[MAX_CHILD];
    long double gamma; /* density γ(t) = |t| Π γ(t_k) */
} tree;

static tree trees[MAX_TREES];
static int n_trees, first_of_order[MAX_ORDER + 2];

static void gen_children(int order, int remaining, int min_idx, int *ch, int nch)
{
    if (remaining == 0) {
        cr_assert(n_trees < MAX_TREES);
        tree *t = &trees[n_trees++];
        t->order = order;
        t->nchild = nch;
        t->gamma = order;
        for (int i = 0; i < nch; i++) {
            t->child[i] = ch[i];
            t->gamma *= trees[ch[i]].gamma;
        }
        return;
    }
    if (nch >= MAX_CHILD) return; /* cannot happen: at most order − 1 children */
    for (int j = min_idx; j < first_of_order[order]; j++) {
        if (trees[j].order > remaining) break;
        ch[nch] = j;
        gen_children(order, remaining - trees[j].order, j, ch, nch + 1);
    }
}

static void gen_trees(void)
{
    if (n_trees) return;
    int ch[MAX_CHILD];
    for (int q = 1; q <= MAX_ORDER; q++) {
        first_of_order[q] = n_trees;
        gen_children(q, q - 1, 0, ch, 0);
    }
    first_of_order[MAX_ORDER + 1] = n_trees;
}

Test(rk_trees, counts_match_oeis_a000081)
{
    gen_trees();
    static const int count[MAX_ORDER + 1] = {0, 1, 1, 2, 4, 9, 20, 48, 115, 286};
    for (int q = 1; q <= MAX_ORDER; q++)
        cr_expect_eq(first_of_order[q + 1] - first_of_order[q], count[q], "order %d", q);
    cr_expect_eq(n_trees, 486);
}

/* Elementary weights Φ_i(t) over `ns` stages, in long double: Φ(•) = 1,
 * Φ_i([t_1..t_m]) = Π_k (A Φ(t_k))_i; and the same with |a_ij| (the magnitude of the
 * terms, which bounds the rounding of the double coefficients). phi: (n_trees, ns). */
static long double phi[MAX_TREES][NDE_RK_MAX_STAGES], phi_abs[MAX_TREES][NDE_RK_MAX_STAGES];

static void elementary_weights(const nde_tableau *tab, int ns)
{
    static long double aphi[MAX_TREES][NDE_RK_MAX_STAGES], aphi_abs[MAX_TREES][NDE_RK_MAX_STAGES];
    for (int t = 0; t < n_trees; t++) {
        for (int i = 0; i < ns; i++) {
            long double p = 1.0L, pa = 1.0L;
            for (int k = 0; k < trees[t].nchild; k++) {
                p *= aphi[trees[t].child[k]][i];
                pa *= aphi_abs[trees[t].child[k]][i];
            }
            phi[t][i] = p;
            phi_abs[t][i] = pa;
        }
        for (int i = 0; i < ns; i++) {
            long double acc = 0.0L, acc_abs = 0.0L;
            for (int j = 0; j < i; j++) {
                acc += (long double)tab->a[i][j] * phi[t][j];
                acc_abs += fabsl((long double)tab->a[i][j]) * phi_abs[t][j];
            }
            aphi[t][i] = acc;
            aphi_abs[t][i] = acc_abs;
        }
    }
}

/* Residual of one condition Σ_i w_i Φ_i(t) = target, relative to max(1, Σ_i |w_i| Φ^abs_i(t)):
 * for small coefficients the absolute residual; for the high-order pairs, whose
 * coefficients reach 1e2 (Vern6's a, b) to 1e5 (interpolants) with cancellation, the
 * residual in units of the terms' magnitude (rounding the coefficients to double alone
 * leaves ~1e-16 of it). */
static long double cond_residual(int t, const double *w, int ns, long double target)
{
    long double acc = 0.0L, mag = 1.0L;
    for (int i = 0; i < ns; i++) {
        acc += (long double)w[i] * phi[t][i];
        mag += fabsl((long double)w[i]) * phi_abs[t][i];
    }
    return fabsl(acc - target) / mag;
}

/* Largest residual of the conditions of order <= q of weights w (θ = 1). */
static long double residual(const double *w, int ns, int q, int *worst)
{
    long double worst_r = 0.0L;
    for (int t = 0; t < first_of_order[q + 1]; t++) {
        long double r = cond_residual(t, w, ns, 1.0L / trees[t].gamma);
        if (r > worst_r) worst_r = r, *worst = t;
    }
    return worst_r;
}

/* The conditions of order q+1 fail (the order is exactly q): the largest residual. */
static long double next_order_residual(const double *w, int ns, int q)
{
    long double worst_r = 0.0L;
    if (q + 1 > MAX_ORDER) return 1.0L;
    for (int t = first_of_order[q + 1]; t < first_of_order[q + 2]; t++)
        worst_r = fmaxl(worst_r, cond_residual(t, w, ns, 1.0L / trees[t].gamma));
    return worst_r;
}

static const nde_method all_rk[] = {NDE_EULER, NDE_HEUN,   NDE_RK4,   NDE_BS3,   NDE_DOPRI5,
                                    NDE_TSIT5, NDE_DOP853, NDE_VERN6, NDE_VERN7, NDE_VERN9};

Test(rk_trees, order_conditions_of_every_tableau)
{
    gen_trees();
    for (size_t m = 0; m < sizeof all_rk / sizeof all_rk[0]; m++) {
        const nde_tableau *tab = nde_tableau_get(all_rk[m]);
        cr_assert(tab);
        int ns = tab->stages, nx = nde_tableau_dense_stages(tab), worst = 0;
        elementary_weights(tab, nx);
        /* row sums: c_i = Σ_j a_ij */
        for (int i = 0; i < nx; i++) {
            long double s = 0.0L, mag = 1.0L;
            for (int j = 0; j < i; j++) s += tab->a[i][j], mag += fabs(tab->a[i][j]);
            cr_expect(fabsl(s - tab->c[i]) <= 4.0L * DBL_EPSILON * mag,
                      "%s: c[%d] = %.17g, row sum %.17Lg", tab->name, i, tab->c[i], s);
        }
        long double r = residual(tab->b, ns, tab->order, &worst);
        cr_log_info("%s: b, order %d: residual %.2Le", tab->name, tab->order, r);
        cr_expect(r <= 1e-14L, "%s: order-%d conditions of b, residual %.3Le (tree %d, order %d)",
                  tab->name, tab->order, r, worst, trees[worst].order);
        cr_expect(next_order_residual(tab->b, ns, tab->order) > 1e-8L,
                  "%s: b satisfies order %d too", tab->name, tab->order + 1);
        if (tab->est_order > 0) {
            const double *bt[2] = {tab->btilde, tab->btilde3};
            int ord[2] = {tab->est_order, 3};
            for (int e = 0; e < (tab->err_kind == NDE_RK_ERR_DOP853 ? 2 : 1); e++) {
                double bh[NDE_RK_MAX_STAGES] = {0};
                for (int i = 0; i < ns; i++) bh[i] = tab->b[i] - bt[e][i];
                r = residual(bh, ns, ord[e], &worst);
                cr_log_info("%s: b̂, order %d: residual %.2Le", tab->name, ord[e], r);
                cr_expect(r <= 1e-14L, "%s: order-%d conditions of b̂, residual %.3Le (tree %d)",
                          tab->name, ord[e], r, worst);
                cr_expect(next_order_residual(bh, ns, ord[e]) > 1e-8L,
                          "%s: b̂ satisfies order %d too", tab->name, ord[e] + 1);
            }
        }
        /* the continuous extension Σ_i w_i(θ) Φ_i(t) = θ^|t|/γ(t) up to dense_order: for
         * the polynomial ones, each power of θ separately (Σ_i r_ip Φ_i(t) = [p = |t|]/γ);
         * for the others, at several θ; and w(1) = b */
        long double rd = 0.0L;
        if (tab->dense_r) {
            double w[NDE_RK_MAX_STAGES];
            for (int p = 1; p <= tab->dense_deg; p++) {
                for (int i = 0; i < nx; i++) w[i] = tab->dense_r[i][p - 1];
                for (int t = 0; t < first_of_order[tab->dense_order + 1]; t++) {
                    long double target = trees[t].order == p ? 1.0L / trees[t].gamma : 0.0L;
                    long double rt = cond_residual(t, w, nx, target);
                    if (rt > rd) rd = rt, worst = t;
                }
            }
        } else {
            for (double th = 0.1; th < 1.0; th += 0.15) {
                double w[NDE_RK_MAX_STAGES] = {0};
                tab->dense(th, w);
                for (int t = 0; t < first_of_order[tab->dense_order + 1]; t++) {
                    long double target = powl(th, trees[t].order) / trees[t].gamma;
                    long double rt = cond_residual(t, w, nx, target);
                    if (rt > rd) rd = rt, worst = t;
                }
            }
        }
        cr_log_info("%s: dense output, order %d: residual %.2Le", tab->name, tab->dense_order, rd);
        cr_expect(rd <= 1e-14L, "%s: dense order-%d conditions, residual %.3Le (tree %d)",
                  tab->name, tab->dense_order, rd, worst);
        double w1[NDE_RK_MAX_STAGES] = {0};
        tab->dense(1.0, w1);
        for (int i = 0; i < nx; i++) {
            double b = i < ns ? tab->b[i] : 0.0;
            cr_expect(fabs(w1[i] - b) <= 1e-14 * fmax(1.0, fabs(b)) * (tab->dense_r ? 1e2 : 1.0),
                      "%s: w_%d(1) = %.17g, b = %.17g", tab->name, i, w1[i], b);
        }
    }
}

/* ---- convergence orders ------------------------------------------------------------- */

/* Kepler's problem, eccentricity kep_e, from aphelion: (x, y, vx, vy)' = (vx, vy, −x/r³,
 * −y/r³), exact through Kepler's equation M = E − e sin E (Newton to round-off).
 * Nonlinear, so every elementary differential enters (a linear problem only checks the
 * tall trees). */
static const double kep_e = 0.6;
#define CYC_T 6.0

static nde_status cycle_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t b = 0; b < batch; b++) {
        const double *x = u + 4 * b;
        double r2 = x[0] * x[0] + x[1] * x[1], r3 = r2 * sqrt(r2);
        du[4 * b] = x[2];
        du[4 * b + 1] = x[3];
        du[4 * b + 2] = -x[0] / r3;
        du[4 * b + 3] = -x[1] / r3;
    }
    return NDE_OK;
}

static void cycle_exact(double t, double *u)
{
    double M = t + acos(-1.0), E = M; /* from aphelion: mean anomaly π at t = 0 */
    for (int it = 0; it < 60; it++) {
        double dE = (E - kep_e * sin(E) - M) / (1.0 - kep_e * cos(E));
        E -= dE;
        if (fabs(dE) < 1e-17) break;
    }
    double q = sqrt(1.0 - kep_e * kep_e), d = 1.0 - kep_e * cos(E);
    u[0] = cos(E) - kep_e, u[1] = q * sin(E), u[2] = -sin(E) / d, u[3] = q * cos(E) / d;
}

/* Max-norm errors at T of `nsteps` uniform steps, and of the dense output at every
 * step's midpoint (so every step computes its lazy stages); NFE per step in *nfe. */
static double cycle_error(nde_method m, size_t nsteps, double *mid, double *nfe_per_step)
{
    nde_field f = {.dim = 4, .f = cycle_f};
    nde_solver_opts o = nde_solver_defaults(m);
    o.fixed_step = 1;
    double T = CYC_T;
    o.h0 = T / (double)nsteps;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    enum { MAXN = 512 };
    static double ts[2 * MAXN + 1], traj[(2 * MAXN + 1) * 4];
    cr_assert(nsteps <= MAXN);
    size_t nt = 2 * nsteps + 1;
    for (size_t k = 0; k < nt; k++) ts[k] = T * (double)k / (double)(nt - 1);
    double u0[4];
    cycle_exact(0.0, u0);
    CHECK(nde_solve(s, 1, 4, u0, nt, ts, traj));
    double err_end = 0.0, err_mid = 0.0;
    for (size_t k = 1; k < nt; k++) {
        double ex[4], e = 0.0;
        cycle_exact(ts[k], ex);
        for (int i = 0; i < 4; i++) e = fmax(e, fabs(ex[i] - traj[k * 4 + i]));
        if (k == nt - 1) err_end = e;
        if (k % 2 == 1) err_mid = fmax(err_mid, e);
    }
    *mid = err_mid;
    if (nfe_per_step) *nfe_per_step = (double)nde_solver_get_stats(s)->nfe / (double)nsteps;
    nde_solver_destroy(&s);
    return err_end;
}

/* Least-squares slopes of log(err) against log(h) over four step counts n0·√2^i. */
static void cycle_orders(nde_method m, size_t n0, double *p, double *pd)
{
    double lh[4], le[4], lm[4], mh = 0, me = 0, mm = 0;
    for (int i = 0; i < 4; i++) {
        size_t n = (size_t)floor((double)n0 * pow(2.0, 0.5 * i) + 0.5);
        double mid, e = cycle_error(m, n, &mid, NULL);
        cr_log_info("%s n=%zu: end %.3e, midpoints %.3e", nde_method_name(m), n, e, mid);
        lh[i] = log(CYC_T / (double)n), le[i] = log(e), lm[i] = log(mid);
        mh += lh[i] / 4, me += le[i] / 4, mm += lm[i] / 4;
    }
    double sxy = 0, sxx = 0, sxm = 0;
    for (int i = 0; i < 4; i++) {
        sxy += (lh[i] - mh) * (le[i] - me);
        sxm += (lh[i] - mh) * (lm[i] - mm);
        sxx += (lh[i] - mh) * (lh[i] - mh);
    }
    *p = sxy / sxx;
    *pd = sxm / sxx;
}

/* The solution's order p and the dense output's min(p, q + 1) (an interpolant of order q
 * has local error O(h^{q+1}) on top of the global O(h^p)), measured where all four runs
 * lie between 1e-7 and 1e-13: a generic nonlinear problem, where every elementary
 * differential enters. Verner's "efficient" pairs and DOP853 minimize their principal
 * error coefficients (e.g. Vern6: Σ b c⁶ − 1/7 = −8.1e-7 against Σ b c⁷ − 1/8 = 1.5e-4),
 * so the next-order terms dominate long. With exact coefficients in 40-digit arithmetic
 * (scripts/rk_asymptotic.py) the slope per doubling of the step count comes within 0.2 of
 * p only at errors of 4.8e-15 (DOP853, n ≥ 512) and 3.0e-15 (Vern9, n ≥ 256), and not at
 * all for Vern6 down to 5.5e-20 (slopes 6.65 … 6.87 from n = 128 to 8192); only Vern7 is
 * asymptotic (6.97 … 6.99) in double's range. So here DOP853 and Vern7 are checked within
 * ±0.2 (DOP853's four-point slope, 8.175, only just), Vern6 (6.61) and Vern9 (10.09) at
 * least nominal − 0.2; every method is checked two-sided on the weight-graded problem
 * below, where the higher error terms vanish exactly. */
Test(rk_order, high_order_pairs_converge_at_their_nominal_orders)
{
    static const struct {
        nde_method m;
        double order, dense;
        size_t n0;
        int two_sided;
    } cases[] = {{NDE_DOP853, 8, 8, 128, 1}, {NDE_VERN6, 6, 6, 128, 0},
                 {NDE_VERN7, 7, 7, 128, 1},  {NDE_VERN9, 9, 9, 22, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double p, pd;
        const char *name = nde_method_name(cases[i].m);
        cycle_orders(cases[i].m, cases[i].n0, &p, &pd);
        cr_log_info("%s: order %.3f (nominal %.0f), dense output %.3f (nominal %.0f)", name, p,
                    cases[i].order, pd, cases[i].dense);
        cr_expect(p >= cases[i].order - 0.2, "%s: measured order %.3f, nominal %.0f", name, p,
                  cases[i].order);
        cr_expect(pd >= cases[i].dense - 0.2, "%s: dense output order %.3f, nominal %.0f", name,
                  pd, cases[i].dense);
        if (cases[i].two_sided) {
            cr_expect(p <= cases[i].order + 0.2, "%s: measured order %.3f, nominal %.0f", name,
                      p, cases[i].order);
            cr_expect(pd <= cases[i].dense + 0.2, "%s: dense output order %.3f, nominal %.0f",
                      name, pd, cases[i].dense);
        }
    }
}

/* ---- two-sided orders on a weight-graded polynomial problem ---------------------------- */

/* Why a second problem. On Kepler's problem (above) Vern6 and Vern9 show slopes 6.6 and
 * 10.1 at every step size where their error stands above double round-off, because their
 * principal (order p+1) error coefficients are tiny next to the order-(p+2) ones; the
 * order-p slope appears only at errors of 3e-15 (Vern9) and below 5.5e-20 (Vern6)
 * (scripts/rk_asymptotic.py re-runs the exact tableaux in 40-digit arithmetic). In double
 * the leading term can only be isolated by a problem on which the higher error terms
 * vanish exactly:
 *
 *   x' = 1,  y' = t + x,  z' = y + x t,  v' = g_W(t, x, y, z),
 *   g_W = z^b t^(W−1−3b) − y^a x^(W−1−2a) + x^(W−1) [+ z y x^(W−6) if W ≥ 6],
 *   a = ⌊(W−1)/2⌋, b = ⌊(W−1)/3⌋, W ≥ 4.
 *
 * Give t and x weight 1, y weight 2, z weight 3, v weight W: each right-hand side is a
 * polynomial of weight (its component's weight − 1), so an elementary differential of
 * order n, F(τ)(u), is a polynomial of weight (component weight − n) in (t, u): it
 * vanishes identically for n > weight and is a constant for n = weight. Hence:
 *   - x, y, z (weight ≤ 3) are integrated exactly by every method here (up to rounding);
 *   - with W = p + 1 the local error of v is exactly h^(p+1) Σ_{|τ|=p+1} e(τ) F(τ)/σ(τ),
 *     a constant, and v' does not depend on v, so the global error is exactly T h^p times
 *     that constant: the leading term alone, at any h, however small its coefficient.
 *     A lower order (a wrong stage, a wrong c_i: the field depends on t) would show as a
 *     lower slope, a missing order-(p+1) term as errors at round-off (also checked).
 *   - an interpolant of order q reproduces every elementary differential of order ≤ q, so
 *     with W = q + 1 its own error in a step (against the exact solution through the
 *     step's start) is exactly h^(q+1) Σ_{|τ|=q+1} (Σ_i w_i(θ) Φ_i(τ) − θ^(q+1)/γ(τ)) F(τ)/σ(τ):
 *     slope q + 1. (Its global error adds the carried solution error, O(h^p). For Vern6,
 *     q = p, the interpolant's error constant is ~100 times the solution's (one step:
 *     9.3e-5 against 9.0e-7), so the carried term would dominate only beyond ~1000 steps,
 *     far below round-off again; for Vern9 the two are alike and only 1 … 4 steps stay
 *     above round-off, so the sum is no single power either. The dense output is
 *     therefore checked by its own error here.)
 *   - Vern6's coefficients reach 2e2 (a, b) with cancellation. Each rounded to the nearest
 *     double, its rows summed to c_i only within 2e-14 and, weighted by b up to 176, left
 *     order-condition residuals of ~1e-11 in absolute terms (Σ b_i Σ_j a_ij − 1/2 =
 *     −6.5e-12; rk_trees measures residuals relative to the terms' magnitude): lower-order
 *     error terms of that size, seen with W = 6, where the error is zero in exact
 *     arithmetic (8.2e-11 at n = 1, 2.9e-12 at n = 8), which bent this slope to 5.955 and
 *     Kepler's to 6.81. scripts/gen_rk_tableaus.py now sets Vern6's a_i1 so that each
 *     row sums to c_i within 3.5e-15 (c_1 = 0, so no other condition moves): bushy and
 *     tall residuals ≤ 1.9e-12, slope 5.992. Its smallest error here is still kept ≥ 1.7e-10.
 * The nonlinear coupling (products of x, y, z, t up to degree 9) puts many trees into the
 * error constant; the exact solution is closed-form for x, y, z and a 5-point
 * Gauss–Legendre quadrature of g_W (degree W − 1 ≤ 9, so exact) for v, in long double. */
typedef struct graded_ctx {
    int W;
} graded_ctx;

static long double ipowl(long double x, int k)
{
    long double r = 1.0L;
    for (int i = 0; i < k; i++) r *= x;
    return r;
}

static long double graded_g(int W, long double t, long double x, long double y, long double z)
{
    int a = (W - 1) / 2, b = (W - 1) / 3;
    long double g = ipowl(z, b) * ipowl(t, W - 1 - 3 * b) - ipowl(y, a) * ipowl(x, W - 1 - 2 * a) +
                    ipowl(x, W - 1);
    return W >= 6 ? g + z * y * ipowl(x, W - 6) : g;
}

static nde_status graded_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    int W = ((const graded_ctx *)ctx)->W;
    for (size_t s = 0; s < batch; s++) {
        const double *q = u + 4 * s;
        du[4 * s] = 1.0;
        du[4 * s + 1] = t + q[0];
        du[4 * s + 2] = q[1] + q[0] * t;
        du[4 * s + 3] = (double)graded_g(W, t, q[0], q[1], q[2]);
    }
    return NDE_OK;
}

static const double graded_u0[4] = {0.3, -0.2, 0.1, 0.0};

static void graded_xyz(long double t, long double *x, long double *y, long double *z)
{
    long double x0 = graded_u0[0], y0 = graded_u0[1], z0 = graded_u0[2];
    *x = x0 + t;
    *y = y0 + x0 * t + t * t;
    *z = z0 + y0 * t + x0 * t * t + 2.0L / 3.0L * t * t * t;
}

static void graded_exact(int W, double t, long double *u)
{
    /* 5-point Gauss–Legendre on [0, t]: nodes ±√(5 ∓ 2√(10/7))/3, 0 */
    const long double r = sqrtl(10.0L / 7.0L), q70 = sqrtl(70.0L);
    const long double x1 = sqrtl(5.0L - 2.0L * r) / 3.0L, x2 = sqrtl(5.0L + 2.0L * r) / 3.0L;
    const long double xi[5] = {-x2, -x1, 0.0L, x1, x2};
    const long double wi[5] = {(322.0L - 13.0L * q70) / 900.0L, (322.0L + 13.0L * q70) / 900.0L,
                               128.0L / 225.0L, (322.0L + 13.0L * q70) / 900.0L,
                               (322.0L - 13.0L * q70) / 900.0L};
    long double v = graded_u0[3];
    for (int k = 0; k < 5; k++) {
        long double s = 0.5L * t * (1.0L + xi[k]), x, y, z;
        graded_xyz(s, &x, &y, &z);
        v += 0.5L * t * wi[k] * graded_g(W, s, x, y, z);
    }
    graded_xyz(t, &u[0], &u[1], &u[2]);
    u[3] = v;
}

/* Max-norm error at T = 1 of n uniform steps (*end), and the dense output's own error at
 * every step's midpoint, i.e. the midpoint error minus the error carried from the step's
 * start (the interpolant's error against the exact solution through (t_n, u_n): x, y, z are
 * exact and v' does not depend on v, so that solution is the exact one shifted by the error
 * at t_n) (*local); *scale: max |u| over the save times (for the round-off check). */
static void graded_error(nde_method m, int W, size_t n, double *end, double *local,
                         double *scale)
{
    graded_ctx gc = {.W = W};
    nde_field f = {.dim = 4, .ctx = &gc, .f = graded_f};
    nde_solver_opts o = nde_solver_defaults(m);
    o.fixed_step = 1;
    o.h0 = 1.0 / (double)n;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    enum { MAXN = 64 };
    double ts[2 * MAXN + 1], traj[(2 * MAXN + 1) * 4];
    cr_assert(n <= MAXN);
    size_t nt = 2 * n + 1;
    for (size_t k = 0; k < nt; k++) ts[k] = (double)k / (double)(nt - 1);
    CHECK(nde_solve(s, 1, 4, graded_u0, nt, ts, traj));
    size_t nacc;
    nde_solver_steps(s, &nacc);
    cr_assert_eq(nacc, n, "%s: %zu steps, want %zu", nde_method_name(m), nacc, n);
    *end = *local = *scale = 0.0;
    long double prev[4] = {0}; /* error at the last step end */
    for (size_t k = 1; k < nt; k++) {
        long double ex[4];
        graded_exact(W, ts[k], ex);
        for (int i = 0; i < 4; i++) {
            long double e = (long double)traj[k * 4 + i] - ex[i];
            *scale = fmax(*scale, fabs(traj[k * 4 + i]));
            if (k % 2 == 1)
                *local = fmax(*local, (double)fabsl(e - prev[i]));
            else
                prev[i] = e;
            if (k == nt - 1) *end = fmax(*end, (double)fabsl(e));
        }
    }
    nde_solver_destroy(&s);
}

/* Least-squares slope of log(err) against log(h) over n = n0·{1, 2, 3, 4} steps (no
 * asymptotic range is needed: the error is exactly one power of h, even for one step of
 * length 1), and the smallest error
 * relative to max |u| (to check that every run is far above round-off). */
static double graded_order(nde_method m, int W, size_t n0, int dense, double *min_rel)
{
    double lh[4], le[4], mh = 0, me = 0;
    *min_rel = INFINITY;
    for (int i = 0; i < 4; i++) {
        size_t n = n0 * (size_t)(i + 1);
        double end, loc, scale;
        graded_error(m, W, n, &end, &loc, &scale);
        double e = dense ? loc : end;
        cr_log_info("%s W=%d n=%zu: end %.3e, dense output (local) %.3e, max|u| %.2f",
                    nde_method_name(m), W, n, end, loc, scale);
        *min_rel = fmin(*min_rel, e / scale);
        lh[i] = log(1.0 / (double)n), le[i] = log(e);
        mh += lh[i] / 4, me += le[i] / 4;
    }
    double sxy = 0, sxx = 0;
    for (int i = 0; i < 4; i++) {
        sxy += (lh[i] - mh) * (le[i] - me);
        sxx += (lh[i] - mh) * (lh[i] - mh);
    }
    return sxy / sxx;
}

/* Solution: W = p + 1, global error T K h^p: slope p. Dense output of order q: W = q + 1,
 * its own (local) error h^(q+1) K_θ: slope q + 1. Every run's error is ≥ 1e3 ε max|u|
 * (the round-off of these runs, seen where the error vanishes in exact arithmetic, e.g. the
 * solution with W = p, is 1e-15 … 5e-15).
 * Vern7's dense output is excluded from the local check: its interpolant is of order 6 with
 * order-7 residuals of at most 1.3e-8 (rk_trees above), so the h^7 term is ~1e-8 of the
 * h^8 one and is below round-off at every step size; its dense output is checked two-sided
 * by its global error on Kepler's problem (above, slope 6.95 against min(p, q+1) = 7). */
Test(rk_order, every_method_converges_at_its_nominal_order_two_sided)
{
    /* every method of order ≥ 3 (Euler and Heun would integrate y, z inexactly; they have
     * no small principal coefficients and are checked two-sided on the rotation in
     * test_ode); n0: the coarsest step count, errors between ~1e-3 and ~1e-11 */
    static const struct {
        nde_method m;
        size_t n0, n0_dense;
    } cases[] = {{NDE_BS3, 8, 8},    {NDE_RK4, 4, 4},   {NDE_DOPRI5, 2, 2}, {NDE_TSIT5, 2, 2},
                 {NDE_DOP853, 1, 1}, {NDE_VERN6, 1, 1}, {NDE_VERN7, 1, 0},  {NDE_VERN9, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const nde_tableau *tab = nde_tableau_get(cases[i].m);
        for (int dense = 0; dense < 2; dense++) {
            size_t n0 = dense ? cases[i].n0_dense : cases[i].n0;
            if (!n0) continue;
            int nominal = dense ? tab->dense_order + 1 : tab->order, W = nominal + 1;
            if (dense) W = nominal;
            double min_rel, slope = graded_order(cases[i].m, W, n0, dense, &min_rel);
            const char *what = dense ? "dense output (local error)" : "solution";
            cr_log_info("%s: %s slope %.3f (nominal %d, W = %d), smallest error %.1e max|u|",
                        tab->name, what, slope, nominal, W, min_rel);
            cr_expect(fabs(slope - nominal) <= 0.2, "%s: %s slope %.3f, nominal %d", tab->name,
                      what, slope, nominal);
            cr_expect(min_rel >= 1e3 * DBL_EPSILON, "%s: %s error %.2e of max|u|: round-off",
                      tab->name, what, min_rel);
        }
    }
}

/* ---- lazy interpolation stages -------------------------------------------------------- */

static const nde_method high[] = {NDE_DOP853, NDE_VERN6, NDE_VERN7, NDE_VERN9};

enum { D = 3, B = 2, NP = D * D + 2 * D, NT = 5 };
static const double ts5[NT] = {0.0, 0.37, 1.0, 1.61, 2.5};

static void init_theta(double *theta)
{
    nde_rng r;
    nde_rng_seed(&r, 11);
    for (int i = 0; i < NP; i++) theta[i] = 0.8 * nde_rng_normal(&r);
}

/* Steps of the log that contain an interior save time strictly inside (θ < 1). */
static size_t steps_with_inner_saves(const nde_solver *s, const double *ts, size_t nt)
{
    size_t n, count = 0, last = SIZE_MAX;
    const nde_step_rec *st = nde_solver_steps(s, &n);
    for (size_t k = 1; k + 1 < nt; k++)
        for (size_t j = 0; j < n; j++)
            if (ts[k] > st[j].t && ts[k] < st[j].t + st[j].h) {
                if (j != last) count++;
                last = j;
                break;
            }
    return count;
}

Test(rk_lazy, extra_stages_only_for_steps_with_a_save_time_inside_and_counted)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1}, traj[NT * B * D], ends[2] = {0.0, 2.5};
    for (size_t i = 0; i < sizeof high / sizeof high[0]; i++) {
        const nde_tableau *tab = nde_tableau_get(high[i]);
        nde_solver_opts o = nde_solver_defaults(high[i]);
        o.rtol = 1e-9;
        o.atol = 1e-11;
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        CHECK(nde_solve(s, B, D, u0, 2, ends, traj));
        nde_solver_stats plain = *nde_solver_get_stats(s);
        size_t n1;
        const nde_step_rec *st1 = nde_solver_steps(s, &n1);
        double last_t = st1[n1 - 1].t, end_u[B * D];
        memcpy(end_u, traj + B * D, sizeof end_u);
        /* the FSAL pairs take stages − 1 evaluations per attempt, the others all stages */
        size_t per = (size_t)(tab->stages - tab->fsal);
        cr_expect(plain.nfe >= (plain.n_accepted + plain.n_rejected) * per);
        CHECK(nde_solve(s, B, D, u0, NT, ts5, traj));
        const nde_solver_stats *withs = nde_solver_get_stats(s);
        size_t n2;
        const nde_step_rec *st2 = nde_solver_steps(s, &n2);
        /* save times do not change the steps... */
        cr_assert_eq(n2, n1, "%s", tab->name);
        cr_expect_eq(st2[n2 - 1].t, last_t);
        cr_expect_eq(memcmp(traj + (NT - 1) * B * D, end_u, sizeof end_u), 0, "%s", tab->name);
        /* ...and each step with a save time inside costs exactly the extra stages */
        size_t inner = steps_with_inner_saves(s, ts5, NT);
        cr_assert(inner >= 2, "%s: %zu steps with inner save times", tab->name, inner);
        size_t extra = (size_t)(nde_tableau_dense_stages(tab) - tab->stages);
        cr_expect_eq(withs->nfe, plain.nfe + inner * extra, "%s: nfe %zu, without saves %zu, "
                     "%zu steps × %zu extra stages", tab->name, withs->nfe, plain.nfe, inner,
                     extra);
        /* the dense output is accurate: compare with a much tighter solve */
        nde_solver_opts o2 = o;
        o2.rtol = 1e-13;
        o2.atol = 1e-15;
        nde_solver *ref;
        CHECK(nde_solver_create(NULL, &f, &o2, &ref));
        double tref[NT * B * D];
        CHECK(nde_solve(ref, B, D, u0, NT, ts5, tref));
        for (int k = 0; k < NT * B * D; k++)
            cr_expect(fabs(tref[k] - traj[k]) < 1e-7, "%s: dense output %d off by %.3e",
                      tab->name, k, fabs(tref[k] - traj[k]));
        nde_solver_destroy(&ref);
        nde_solver_destroy(&s);
    }
}

/* ---- discrete adjoint --------------------------------------------------------------- */

static nde_field recording_field(tanh_ctx *c)
{
    nde_field f = tanh_field(c);
    f.f_rec = tanh_f_rec;
    f.vjp_rec = tanh_vjp_rec;
    f.rec_size = c->d;
    return f;
}

/* The discrete adjoint through the lazy interpolation stages vs central differences with
 * the steps frozen, in every tape mode, with and without field records; every mode gives
 * the same bits. */
static void check_adjoint(nde_method m, int recording)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = recording ? recording_field(&c) : tanh_field(&c);
    const nde_tape modes[3] = {NDE_TAPE_STAGES, NDE_TAPE_STEP_STARTS, NDE_TAPE_CHECKPOINT};
    double gth[3][NP], gu[3][B * D];
    for (int k = 0; k < 3; k++) {
        nde_solver_opts o = nde_solver_defaults(m);
        o.rtol = 1e-7;
        o.atol = 1e-9;
        o.tape = modes[k];
        o.checkpoint_every = 2;
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1};
        double traj[NT * B * D], g[NT * B * D];
        nde_rng r;
        nde_rng_seed(&r, 3);
        for (int i = 0; i < NT * B * D; i++) g[i] = nde_rng_normal(&r);
        CHECK(nde_solve(s, B, D, u0, NT, ts5, traj));
        size_t nsteps;
        nde_solver_steps(s, &nsteps);
        cr_assert(nsteps >= 4, "want a multi-step solve, got %zu steps", nsteps);
        cr_assert(steps_with_inner_saves(s, ts5, NT) >= 2);
        memset(gth[k], 0, sizeof gth[k]);
        CHECK(nde_adjoint_discrete(s, g, gth[k], NP, gu[k]));
        if (k > 0) {
            cr_expect_eq(memcmp(gth[k], gth[0], sizeof gth[0]), 0, "%s tape %d: θ bits differ",
                         nde_method_name(m), (int)modes[k]);
            cr_expect_eq(memcmp(gu[k], gu[0], sizeof gu[0]), 0, "%s tape %d: u0 bits differ",
                         nde_method_name(m), (int)modes[k]);
        }
        /* central differences with the accepted steps frozen */
        CHECK(nde_solver_freeze_steps(s));
        gc_solve_loss sl = {.s = s, .batch = B, .dim = D, .nt = NT, .ts = ts5, .u0 = u0,
                            .traj = traj, .g = g};
        double eth = gc_check(theta, NP, 1e-6, GC_CENTRAL2, gc_solve_loss_eval, &sl, gth[k],
                              gc_l2(1e-6), "%s tape %d rec %d: theta", nde_method_name(m),
                              (int)modes[k], recording);
        double eu = gc_check(u0, B * D, 1e-6, GC_CENTRAL2, gc_solve_loss_eval, &sl, gu[k],
                             gc_l2(1e-6), "%s tape %d rec %d: u0", nde_method_name(m),
                             (int)modes[k], recording);
        cr_log_info("%s tape %d rec %d: %zu steps, rel err theta %.2e u0 %.2e",
                    nde_method_name(m), (int)modes[k], recording, nsteps, eth, eu);
        nde_solver_destroy(&s);
    }
}

Test(rk_adjoint, dop853_matches_finite_differences_in_every_tape_mode)
{
    check_adjoint(NDE_DOP853, 0);
    check_adjoint(NDE_DOP853, 1);
}
Test(rk_adjoint, vern6_matches_finite_differences_in_every_tape_mode)
{
    check_adjoint(NDE_VERN6, 0);
    check_adjoint(NDE_VERN6, 1);
}
Test(rk_adjoint, vern7_matches_finite_differences_in_every_tape_mode)
{
    check_adjoint(NDE_VERN7, 0);
    check_adjoint(NDE_VERN7, 1);
}
Test(rk_adjoint, vern9_matches_finite_differences_in_every_tape_mode)
{
    check_adjoint(NDE_VERN9, 0);
    check_adjoint(NDE_VERN9, 1);
}

/* ---- regularizers ------------------------------------------------------------------- */

typedef struct reg_problem {
    nde_solver *s;
    nde_reg *reg;
    double *u0;
    double traj[NT * B * D];
} reg_problem;

static double reg_objective(void *ctx)
{
    reg_problem *p = ctx;
    double r = 0.0;
    CHECK(nde_solve(p->s, B, D, p->u0, NT, ts5, p->traj));
    CHECK(nde_adjoint_discrete_reg(p->s, NULL, p->reg, NULL, 0, NULL, &r));
    return r;
}

/* R's gradient by the regularized discrete adjoint vs central differences with the steps
 * frozen; its value also equals the one from the step log (same bits). */
static void check_reg(nde_method m, const nde_reg_spec *spec, double tol, const char *what)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(m);
    /* loose, so that the estimates stand far above their cancellation noise (Vern6's
     * btilde reach 1e2; the stiffness pairs' Y_i − Y_j are small differences), which
     * finite differences amplify */
    o.rtol = 1e-2;
    o.atol = 1e-2 * o.rtol;
    o.tape = NDE_TAPE_STAGES;
    reg_problem p = {0};
    double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1};
    p.u0 = u0;
    CHECK(nde_solver_create(NULL, &f, &o, &p.s));
    CHECK(nde_reg_create(spec, &p.reg));
    CHECK(nde_solve(p.s, B, D, u0, NT, ts5, p.traj));
    size_t nsteps;
    nde_solver_steps(p.s, &nsteps);
    cr_assert(nsteps >= 3, "%s %s: %zu steps", nde_method_name(m), what, nsteps);
    double gth[NP] = {0}, gu0[B * D], value, v2;
    CHECK(nde_adjoint_discrete_reg(p.s, NULL, p.reg, gth, NP, gu0, &value));
    CHECK(nde_reg_value(p.reg, p.s, &v2));
    cr_expect(value > 0.0 && isfinite(value), "%s: R = %g", what, value);
    cr_expect_eq(v2, value, "%s: nde_reg_value %.17g vs adjoint %.17g", what, v2, value);
    CHECK(nde_solver_freeze_steps(p.s));
    const double hfd = 1e-3;
    double eth = gc_check(theta, NP, hfd, GC_CENTRAL4, reg_objective, &p, gth, gc_l2(tol),
                          "%s %s: theta", nde_method_name(m), what);
    double eu = gc_check(u0, B * D, hfd, GC_CENTRAL4, reg_objective, &p, gu0, gc_l2(tol),
                         "%s %s: u0", nde_method_name(m), what);
    cr_log_info("%s %s: %zu steps, R = %.6g, rel err theta %.2e u0 %.2e", nde_method_name(m),
                what, nsteps, value, eth, eu);
    nde_reg_destroy(&p.reg);
    nde_solver_destroy(&p.s);
}

/* Tolerance 1e-6, except 1e-5 where the finite differences' own noise is above 1e-6: it
 * grows as 1/h_fd (Vern6's error estimate: 3.2e-6, 7.7e-6, 2.0e-5 at h_fd = 3e-3, 1e-3,
 * 3e-4; Vern9's similar), which an error in the analytic gradient would not. */
Test(rk_reg, error_and_stiffness_estimates_match_finite_differences)
{
    nde_reg_spec err = nde_reg_error_estimate(1.0), stiff = nde_reg_stiffness(0.5);
    check_reg(NDE_DOP853, &err, 1e-6, "error estimate (8(5,3))");
    check_reg(NDE_DOP853, &stiff, 1e-6, "stiffness estimate");
    check_reg(NDE_VERN7, &err, 1e-6, "error estimate");
    check_reg(NDE_VERN7, &stiff, 1e-6, "stiffness estimate");
    check_reg(NDE_VERN6, &err, 1e-5, "error estimate");
    check_reg(NDE_VERN6, &stiff, 1e-6, "stiffness estimate");
    check_reg(NDE_VERN9, &err, 1e-5, "error estimate");
    check_reg(NDE_VERN9, &stiff, 1e-5, "stiffness estimate");
}

/* ---- method choice ------------------------------------------------------------------ */

Test(rk_choose, picks_a_high_order_pair_at_tight_tolerance)
{
    cr_expect_eq(nde_method_choose(1e-3), NDE_TSIT5);
    cr_expect_eq(nde_method_choose(1e-6), NDE_TSIT5);
    cr_expect_eq(nde_method_choose(1.4e-8), NDE_VERN7);
    cr_expect_eq(nde_method_choose(1e-9), NDE_VERN7);
    cr_expect_eq(nde_method_choose(1e-12), NDE_VERN9);
    cr_expect_eq(nde_method_choose(NAN), NDE_TSIT5);
    cr_expect_eq(nde_method_choose(-1.0), NDE_TSIT5);
    /* NDE_AUTO resolves at creation, with the chosen method's controller constants */
    nde_field f = {.dim = 2, .f = rot_f, .ctx = &(rot_ctx){.a = 0.1, .w = 2.0}};
    const double rtols[3] = {1e-4, 1e-8, 1e-11};
    const nde_method want[3] = {NDE_TSIT5, NDE_VERN7, NDE_VERN9};
    for (int i = 0; i < 3; i++) {
        nde_solver_opts o = nde_solver_defaults(NDE_AUTO);
        o.rtol = rtols[i];
        o.atol = 1e-3 * rtols[i];
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        const nde_solver_opts *so = nde_solver_get_opts(s);
        cr_expect_eq(so->method, want[i], "rtol %g: %s", rtols[i], nde_method_name(so->method));
        cr_expect_eq(so->beta1, nde_solver_defaults(want[i]).beta1);
        cr_expect_eq(so->beta2, nde_solver_defaults(want[i]).beta2);
        double ts[2] = {0.0, 1.0}, u0[2] = {1.0, 0.0}, traj[4], ex[2];
        CHECK(nde_solve(s, 1, 2, u0, 2, ts, traj));
        rot_exact(f.ctx, 1.0, u0, ex);
        cr_expect(fabs(traj[2] - ex[0]) < 100.0 * rtols[i], "rtol %g: error %.3e", rtols[i],
                  fabs(traj[2] - ex[0]));
        nde_solver_destroy(&s);
    }
    /* the names parse (the CLI's --method and the configs use nde_method_parse) */
    const char *names[] = {"dop853", "vern6", "vern7", "vern9", "auto", "VERN9"};
    const nde_method ms[] = {NDE_DOP853, NDE_VERN6, NDE_VERN7, NDE_VERN9, NDE_AUTO, NDE_VERN9};
    for (int i = 0; i < 6; i++) {
        nde_method m;
        CHECK(nde_method_parse(names[i], &m));
        cr_expect_eq(m, ms[i], "%s", names[i]);
    }
}

/* The continuous adjoints take the high-order pairs as their default backward method (and
 * the interpolating adjoint re-solves the forward with Tsit5, whose dense output needs no
 * extra stages): at tight tolerances they agree with the discrete adjoint. */
Test(rk_adjoint, continuous_adjoints_with_high_order_pairs_agree_with_the_discrete_one)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    for (size_t i = 0; i < sizeof high / sizeof high[0]; i++) {
        nde_solver_opts o = nde_solver_defaults(high[i]);
        o.rtol = 1e-10;
        o.atol = 1e-12;
        o.tape = NDE_TAPE_STAGES;
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1}, traj[NT * B * D], g[NT * B * D];
        for (int k = 0; k < NT * B * D; k++) g[k] = 1.0 / (1.0 + k);
        CHECK(nde_solve(s, B, D, u0, NT, ts5, traj));
        double gd[NP] = {0}, gb[NP] = {0}, gi[NP] = {0}, ud[B * D], ub[B * D], ui[B * D];
        CHECK(nde_adjoint_discrete(s, g, gd, NP, ud));
        nde_cont_adjoint_opts co = nde_cont_adjoint_defaults(s);
        cr_expect_eq(co.method, high[i]);
        CHECK(nde_adjoint_backsolve(s, traj, g, gb, NP, ub, &co));
        CHECK(nde_adjoint_interpolating(s, traj, g, gi, NP, ui, &co));
        double eb = 0, ei = 0, nd = 0;
        for (int k = 0; k < NP; k++) {
            eb += (gb[k] - gd[k]) * (gb[k] - gd[k]);
            ei += (gi[k] - gd[k]) * (gi[k] - gd[k]);
            nd += gd[k] * gd[k];
        }
        cr_log_info("%s: backsolve %.2e, interpolating %.2e", nde_method_name(high[i]),
                    sqrt(eb / nd), sqrt(ei / nd));
        cr_expect(sqrt(eb / nd) < 1e-6 && sqrt(ei / nd) < 1e-6, "%s: rel. differences %.3e %.3e",
                  nde_method_name(high[i]), sqrt(eb / nd), sqrt(ei / nd));
        nde_solver_destroy(&s);
    }
}

/* ---- DOP853 against SciPy's ----------------------------------------------------------- */

static nde_status arenstorf_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t, (void)batch;
    const double mu = 0.012277471, mp = 1.0 - mu;
    double y1 = u[0], y2 = u[1];
    double d1 = pow((y1 + mu) * (y1 + mu) + y2 * y2, 1.5);
    double d2 = pow((y1 - mp) * (y1 - mp) + y2 * y2, 1.5);
    du[0] = u[2];
    du[1] = u[3];
    du[2] = y1 + 2.0 * u[3] - mp * (y1 + mu) / d1 - mu * (y1 - mp) / d2;
    du[3] = y2 - 2.0 * u[2] - mp * y2 / d1 - mu * y2 / d2;
    return NDE_OK;
}

/* SciPy's DOP853 is an independent implementation of dop853.f (same pair, 8(5,3)
 * estimate, exponent −1/8, safety 0.9, factors 0.2 … 10, Hairer's initial step): nde's
 * takes exactly as many evaluations and accepted steps on the Arenstorf orbit, and ends
 * where SciPy's does up to rounding, which the orbit's close approaches amplify to
 * 1.5e-10 … 5e-10 in the velocity at every tolerance (bound 1e-8)
 * (tests/ref/gen_dop853_ref.py). */
Test(rk_dop853, matches_scipy_step_for_step_on_the_arenstorf_orbit)
{
    nde_field f = {.dim = 4, .f = arenstorf_f};
    const double u0[4] = {0.994, 0.0, 0.0, -2.00158510637908252240537862224};
    const double ts[2] = {0.0, 17.0652165601579625588917206249};
    for (size_t i = 0; i < sizeof dop853_ref / sizeof dop853_ref[0]; i++) {
        nde_solver_opts o = nde_solver_defaults(NDE_DOP853);
        o.rtol = o.atol = dop853_ref[i].tol;
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        double traj[8];
        CHECK(nde_solve(s, 1, 4, u0, 2, ts, traj));
        const nde_solver_stats *st = nde_solver_get_stats(s);
        cr_expect_eq(st->nfe, dop853_ref[i].nfe, "tol %g: nfe %zu, SciPy %zu", o.rtol, st->nfe,
                     dop853_ref[i].nfe);
        cr_expect_eq(st->n_accepted, dop853_ref[i].n_accepted, "tol %g: %zu steps, SciPy %zu",
                     o.rtol, st->n_accepted, dop853_ref[i].n_accepted);
        double d = 0.0;
        for (int k = 0; k < 4; k++) d = fmax(d, fabs(traj[4 + k] - dop853_ref[i].u_end[k]));
        cr_log_info("tol %g: nfe %zu, %zu steps, |u − u_scipy| = %.2e", o.rtol, st->nfe,
                    st->n_accepted, d);
        cr_expect(d <= 1e-8, "tol %g: end states differ by %.3e", o.rtol, d);
        nde_solver_destroy(&s);
    }
}

#if NDE_HAVE_SUNDIALS
/* ARKODE's ERKStep runs the FSAL high-order tables as custom Butcher tables (DOP853 with
 * its 5th-order embedding as b̂) and reaches the tolerance on the damped rotation. */
Test(rk_sundials, erkstep_runs_the_fsal_high_order_tables)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    rot_ctx rc = {.a = 0.1, .w = 2.0};
    nde_field f = {.dim = 2, .ctx = &rc, .f = rot_f};
    const nde_method tabs[2] = {NDE_DOP853, NDE_VERN6};
    for (int i = 0; i < 2; i++) {
        nde_solver_opts o = nde_solver_defaults(NDE_ARK_ERK);
        o.erk_table = tabs[i];
        o.rtol = 1e-10;
        o.atol = 1e-12;
        nde_solver *s;
        CHECK(nde_solver_create(ctx, &f, &o, &s));
        double ts[2] = {0.0, 5.0}, u0[2] = {1.0, 0.0}, traj[4], ex[2];
        CHECK(nde_solve(s, 1, 2, u0, 2, ts, traj));
        rot_exact(&rc, 5.0, u0, ex);
        double e = fmax(fabs(traj[2] - ex[0]), fabs(traj[3] - ex[1]));
        cr_log_info("ark_erk with %s: error %.2e, nfe %zu", nde_method_name(tabs[i]), e,
                    nde_solver_get_stats(s)->nfe);
        cr_expect(e < 1e-9, "ark_erk with %s: error %.3e", nde_method_name(tabs[i]), e);
        nde_solver_destroy(&s);
    }
    nde_ctx_destroy(&ctx);
}
#endif

/* ---- step log and counters ------------------------------------------------------------ */

static nde_status decay_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    double mu = *(const double *)ctx;
    for (size_t b = 0; b < batch; b++) du[b] = -mu * u[b];
    return NDE_OK;
}

/* On u' = −μu the stiffness estimate is |λ| = μ exactly (k_i − k_j = −μ(Y_i − Y_j)); every
 * logged error estimate passed (≤ 1); the steps tile the interval; and the evaluation count
 * is the method's: 2 (k1 and the initial-step heuristic) + (stages − 1) for the first step,
 * then stages − 1 per step with FSAL and stages without (no save time inside a step). */
Test(rk_log, stiffness_error_and_counts_in_the_step_log)
{
    double mu = 10.0;
    nde_field f = {.dim = 1, .ctx = &mu, .f = decay_f};
    for (size_t i = 0; i < sizeof high / sizeof high[0]; i++) {
        const nde_tableau *tab = nde_tableau_get(high[i]);
        nde_solver_opts o = nde_solver_defaults(high[i]);
        o.rtol = 1e-8;
        o.atol = 1e-10;
        nde_solver *s;
        CHECK(nde_solver_create(NULL, &f, &o, &s));
        double ts[2] = {0.0, 1.0}, u0 = 1.0, traj[2];
        CHECK(nde_solve(s, 1, 1, &u0, 2, ts, traj));
        size_t n;
        const nde_step_rec *st = nde_solver_steps(s, &n);
        const nde_solver_stats *stats = nde_solver_get_stats(s);
        double t = 0.0;
        for (size_t j = 0; j < n; j++) {
            cr_expect_eq(st[j].t, t, "%s step %zu", tab->name, j);
            cr_expect(st[j].err_est <= 1.0 && st[j].err_est >= 0.0);
            cr_expect(fabs(st[j].stiff_est - mu) <= 1e-6 * mu, "%s step %zu: stiffness %.17g",
                      tab->name, j, st[j].stiff_est);
            t = j + 1 == n ? ts[1] : t + st[j].h;
        }
        cr_expect(fabs(traj[1] - exp(-mu)) < 1e-7, "%s: %.17g", tab->name, traj[1]);
        size_t ns = (size_t)tab->stages;
        if (stats->n_rejected == 0) {
            size_t want = 2 + (ns - 1) + (n - 1) * (tab->fsal ? ns - 1 : ns);
            cr_expect_eq(stats->nfe, want, "%s: nfe %zu, want %zu", tab->name, stats->nfe, want);
        }
        cr_log_info("%s: %zu steps, %zu rejected, nfe %zu", tab->name, n, stats->n_rejected,
                    stats->nfe);
        nde_solver_destroy(&s);
    }
}
