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
#include "ode/tableau.h"

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
