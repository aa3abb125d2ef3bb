/* Geometric multigrid (Galerkin coarse operators, Gauss–Seidel smoothing, banded
 * Cholesky on the coarsest grid) as a preconditioner for conjugate gradients. */
#include "pde/darcy_mg.h"

#include <math.h>
#include <string.h>

static const int DI[9] = {-1, -1, -1, 0, 0, 0, 1, 1, 1};
static const int DJ[9] = {-1, 0, 1, -1, 0, 1, -1, 0, 1};

/* Bilinear interpolation weight of a fine node at offset d ∈ {−1, 0, 1} from a coarse node. */
static double wgt(int d) { return d == 0 ? 1.0 : 0.5; }

nde_status darcy_mg_create(size_t n, darcy_mg *mg)
{
    memset(mg, 0, sizeof *mg);
    if (n < 2) return NDE_FAIL(NDE_ERR_ARG, "darcy multigrid: %zu intervals (need >= 2)", n);
    mg->nu = 2;
    size_t nl = n;
    for (;;) {
        darcy_level *L = &mg->lv[mg->n_levels++];
        const size_t nodes = (nl + 1) * (nl + 1);
        L->n = nl;
        L->st = nde_alloc_array(nodes * 9, sizeof(double));
        L->u = nde_alloc_array(nodes, sizeof(double));
        L->f = nde_alloc_array(nodes, sizeof(double));
        L->r = nde_alloc_array(nodes, sizeof(double));
        if (!L->st || !L->u || !L->f || !L->r) {
            darcy_mg_free(mg);
            return NDE_ERR_NOMEM;
        }
        if (nl % 2 != 0 || nl <= 16 || mg->n_levels == DARCY_MG_MAX_LEVELS) break;
        nl /= 2;
    }
    const size_t nc = mg->lv[mg->n_levels - 1].n;
    mg->m = (nc - 1) * (nc - 1);
    mg->bw = nc;
    mg->chol = nde_alloc_array(mg->m * (mg->bw + 1), sizeof(double));
    const size_t nodes = (n + 1) * (n + 1);
    double **vec[6] = {&mg->b, &mg->x, &mg->r, &mg->z, &mg->p, &mg->q};
    for (int i = 0; i < 6; i++) *vec[i] = nde_alloc_array(nodes, sizeof(double));
    if (!mg->chol || !mg->b || !mg->x || !mg->r || !mg->z || !mg->p || !mg->q) {
        darcy_mg_free(mg);
        return NDE_ERR_NOMEM;
    }
    return NDE_OK;
}

void darcy_mg_free(darcy_mg *mg)
{
    for (int l = 0; l < mg->n_levels; l++) {
        nde_free(mg->lv[l].st);
        nde_free(mg->lv[l].u);
        nde_free(mg->lv[l].f);
        nde_free(mg->lv[l].r);
    }
    double *vec[7] = {mg->chol, mg->b, mg->x, mg->r, mg->z, mg->p, mg->q};
    for (int i = 0; i < 7; i++) nde_free(vec[i]);
    memset(mg, 0, sizeof *mg);
}

/* y = A x on interior nodes; boundary entries of y are zero. */
static void apply(const darcy_level *L, const double *x, double *y)
{
    const size_t n = L->n, w = n + 1;
    memset(y, 0, w * w * sizeof *y);
    for (size_t i = 1; i < n; i++)
        for (size_t j = 1; j < n; j++) {
            const double *s = L->st + (i * w + j) * 9;
            double acc = 0.0;
            for (int k = 0; k < 9; k++) acc += s[k] * x[(i + (size_t)DI[k]) * w + j + (size_t)DJ[k]];
            y[i * w + j] = acc;
        }
}

/* One Gauss–Seidel sweep for A u = f, lexicographic (forward) or reversed. */
static void gauss_seidel(darcy_level *L, int backward)
{
    const size_t n = L->n, w = n + 1;
    for (size_t ii = 1; ii < n; ii++)
        for (size_t jj = 1; jj < n; jj++) {
            const size_t i = backward ? n - ii : ii, j = backward ? n - jj : jj;
            const double *s = L->st + (i * w + j) * 9;
            double acc = L->f[i * w + j];
            for (int k = 0; k < 9; k++)
                if (k != 4) acc -= s[k] * L->u[(i + (size_t)DI[k]) * w + j + (size_t)DJ[k]];
            L->u[i * w + j] = acc / s[4];
        }
}

/* Coarse stencil Pᵀ A P (Galerkin) of level l+1 from level l. */
static void galerkin(const darcy_level *F, darcy_level *C)
{
    const size_t n = F->n, w = n + 1, nc = C->n, wc = nc + 1;
    memset(C->st, 0, wc * wc * 9 * sizeof *C->st);
    for (size_t I0 = 1; I0 < nc; I0++)
        for (size_t I1 = 1; I1 < nc; I1++) {
            double *sc = C->st + (I0 * wc + I1) * 9;
            for (int d = 0; d < 9; d++) {
                const size_t p0 = 2 * I0 + (size_t)DI[d], p1 = 2 * I1 + (size_t)DJ[d];
                const double wp = wgt(DI[d]) * wgt(DJ[d]);
                const double *sf = F->st + (p0 * w + p1) * 9;
                for (int k = 0; k < 9; k++) {
                    if (sf[k] == 0.0) continue;
                    const size_t q0 = p0 + (size_t)DI[k], q1 = p1 + (size_t)DJ[k];
                    if (q0 == 0 || q0 == n || q1 == 0 || q1 == n) continue;
                    /* coarse nodes interpolating to q: one (even index) or two (odd) per axis */
                    for (int a = 0; a < (q0 % 2 ? 2 : 1); a++)
                        for (int b = 0; b < (q1 % 2 ? 2 : 1); b++) {
                            const size_t J0 = q0 % 2 ? (q0 - 1) / 2 + (size_t)a : q0 / 2;
                            const size_t J1 = q1 % 2 ? (q1 - 1) / 2 + (size_t)b : q1 / 2;
                            if (J0 == 0 || J0 == nc || J1 == 0 || J1 == nc) continue;
                            const double wq = (q0 % 2 ? 0.5 : 1.0) * (q1 % 2 ? 0.5 : 1.0);
                            sc[(int)(J0 - I0 + 1) * 3 + (int)(J1 - I1 + 1)] += wp * sf[k] * wq;
                        }
                }
            }
        }
}

/* Banded Cholesky factor of the coarsest matrix, in place in mg->chol. */
static nde_status factor_coarsest(darcy_mg *mg)
{
    const darcy_level *L = &mg->lv[mg->n_levels - 1];
    const size_t nc = L->n, w = nc + 1, m = mg->m, bw = mg->bw, ld = bw + 1;
    double *c = mg->chol;
    memset(c, 0, m * ld * sizeof *c);
    for (size_t i0 = 1; i0 < nc; i0++)
        for (size_t i1 = 1; i1 < nc; i1++) {
            const size_t row = (i0 - 1) * (nc - 1) + (i1 - 1);
            const double *s = L->st + (i0 * w + i1) * 9;
            for (int k = 0; k < 9; k++) {
                const size_t q0 = i0 + (size_t)DI[k], q1 = i1 + (size_t)DJ[k];
                if (q0 == 0 || q0 == nc || q1 == 0 || q1 == nc) continue;
                const size_t col = (q0 - 1) * (nc - 1) + (q1 - 1);
                if (col <= row) c[row * ld + col + bw - row] = s[k];
            }
        }
    for (size_t i = 0; i < m; i++) {
        const size_t lo = i > bw ? i - bw : 0;
        for (size_t j = lo; j <= i; j++) {
            double s = c[i * ld + j + bw - i];
            for (size_t k = lo; k < j; k++) /* lo >= j − bw: both factors in the band */ s -= c[i * ld + k + bw - i] * c[j * ld + k + bw - j];
            if (j < i) {
                c[i * ld + j + bw - i] = s / c[j * ld + bw];
            } else {
                if (!(s > 0.0))
                    return NDE_FAIL(NDE_ERR_SOLVER, "darcy multigrid: coarsest matrix (%zu unknowns) "
                                    "is not positive definite at row %zu (pivot %g)", m, i, s);
                c[i * ld + bw] = sqrt(s);
            }
        }
    }
    return NDE_OK;
}

/* u = A⁻¹ f on the coarsest level with the banded Cholesky factor. */
static void solve_coarsest(darcy_mg *mg)
{
    darcy_level *L = &mg->lv[mg->n_levels - 1];
    const size_t nc = L->n, w = nc + 1, m = mg->m, bw = mg->bw, ld = bw + 1;
    const double *c = mg->chol;
    double *y = L->r; /* scratch: (m) values packed at the front */
    for (size_t i = 0; i < m; i++) {
        const size_t i0 = i / (nc - 1) + 1, i1 = i % (nc - 1) + 1;
        double s = L->f[i0 * w + i1];
        for (size_t k = i > bw ? i - bw : 0; k < i; k++) s -= c[i * ld + k + bw - i] * y[k];
        y[i] = s / c[i * ld + bw];
    }
    for (size_t i = m; i-- > 0;) {
        double s = y[i];
        for (size_t k = i + 1; k < m && k <= i + bw; k++) s -= c[k * ld + i + bw - k] * y[k];
        y[i] = s / c[i * ld + bw];
    }
    memset(L->u, 0, w * w * sizeof *L->u);
    for (size_t i = 0; i < m; i++) L->u[(i / (nc - 1) + 1) * w + i % (nc - 1) + 1] = y[i];
    memset(L->r, 0, w * w * sizeof *L->r);
}

static void vcycle(darcy_mg *mg, int l)
{
    if (l == mg->n_levels - 1) {
        solve_coarsest(mg);
        return;
    }
    darcy_level *F = &mg->lv[l], *C = &mg->lv[l + 1];
    const size_t n = F->n, w = n + 1, nc = C->n, wc = nc + 1;
    memset(F->u, 0, w * w * sizeof *F->u);
    for (int s = 0; s < mg->nu; s++) gauss_seidel(F, 0);
    apply(F, F->u, F->r);
    for (size_t k = 0; k < w * w; k++) F->r[k] = F->f[k] - F->r[k];
    for (size_t I0 = 0; I0 <= nc; I0++) /* restriction Pᵀ r */
        for (size_t I1 = 0; I1 <= nc; I1++) {
            double acc = 0.0;
            if (I0 > 0 && I0 < nc && I1 > 0 && I1 < nc)
                for (int d = 0; d < 9; d++)
                    acc += wgt(DI[d]) * wgt(DJ[d]) *
                           F->r[(2 * I0 + (size_t)DI[d]) * w + 2 * I1 + (size_t)DJ[d]];
            C->f[I0 * wc + I1] = acc;
        }
    vcycle(mg, l + 1);
    for (size_t I0 = 1; I0 < nc; I0++) /* prolongation u += P u_c */
        for (size_t I1 = 1; I1 < nc; I1++)
            for (int d = 0; d < 9; d++)
                F->u[(2 * I0 + (size_t)DI[d]) * w + 2 * I1 + (size_t)DJ[d]] +=
                    wgt(DI[d]) * wgt(DJ[d]) * C->u[I0 * wc + I1];
    for (int s = 0; s < mg->nu; s++) gauss_seidel(F, 1);
}

nde_status darcy_mg_setup(darcy_mg *mg, const double *a)
{
    darcy_level *F = &mg->lv[0];
    const size_t n = F->n, w = n + 1;
    const double ih2 = (double)n * (double)n;
    for (size_t k = 0; k < w * w; k++)
        if (!(a[k] > 0.0) || !isfinite(a[k]))
            return NDE_FAIL(NDE_ERR_ARG, "darcy: coefficient a[%zu][%zu] = %g (must be finite and "
                            "> 0)", k / w, k % w, a[k]);
    memset(F->st, 0, w * w * 9 * sizeof *F->st);
    for (size_t i = 1; i < n; i++)
        for (size_t j = 1; j < n; j++) {
            double *s = F->st + (i * w + j) * 9;
            const double c = a[i * w + j];
            const double an = 0.5 * (c + a[(i - 1) * w + j]), as = 0.5 * (c + a[(i + 1) * w + j]);
            const double aw = 0.5 * (c + a[i * w + j - 1]), ae = 0.5 * (c + a[i * w + j + 1]);
            s[1] = -an * ih2;
            s[7] = -as * ih2;
            s[3] = -aw * ih2;
            s[5] = -ae * ih2;
            s[4] = (an + as + aw + ae) * ih2;
        }
    for (int l = 0; l + 1 < mg->n_levels; l++) galerkin(&mg->lv[l], &mg->lv[l + 1]);
    return factor_coarsest(mg);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* z = M⁻¹ r: one V-cycle from a zero initial guess. */
static void precondition(darcy_mg *mg, const double *r, double *z)
{
    const size_t nodes = (mg->lv[0].n + 1) * (mg->lv[0].n + 1);
    memcpy(mg->lv[0].f, r, nodes * sizeof *r);
    vcycle(mg, 0);
    memcpy(z, mg->lv[0].u, nodes * sizeof *z);
}

nde_status darcy_mg_solve(darcy_mg *mg, const double *f, double *u, double tol, size_t max_iter,
                          size_t *iters, double *rel_residual)
{
    const darcy_level *F = &mg->lv[0];
    const size_t n = F->n, w = n + 1, nodes = w * w;
    memset(mg->b, 0, nodes * sizeof *mg->b);
    for (size_t i = 1; i < n; i++)
        for (size_t j = 1; j < n; j++) mg->b[i * w + j] = f[i * w + j];
    const double bnorm = sqrt(dot(mg->b, mg->b, nodes));
    memset(mg->x, 0, nodes * sizeof *mg->x);
    size_t it = 0;
    double rel = 0.0;
    /* CG with a true-residual check at the end of each run: rounding makes the updated
     * residual drift from f − A x, so a run stops at tol/2 and restarts if needed. */
    while (bnorm > 0.0) {
        apply(F, mg->x, mg->r);
        for (size_t k = 0; k < nodes; k++) mg->r[k] = mg->b[k] - mg->r[k];
        rel = sqrt(dot(mg->r, mg->r, nodes)) / bnorm;
        if (rel <= tol || it >= max_iter) break;
        precondition(mg, mg->r, mg->z);
        memcpy(mg->p, mg->z, nodes * sizeof *mg->p);
        double rz = dot(mg->r, mg->z, nodes);
        while (it < max_iter) {
            apply(F, mg->p, mg->q);
            const double alpha = rz / dot(mg->p, mg->q, nodes);
            for (size_t k = 0; k < nodes; k++) {
                mg->x[k] += alpha * mg->p[k];
                mg->r[k] -= alpha * mg->q[k];
            }
            it++;
            if (sqrt(dot(mg->r, mg->r, nodes)) <= 0.5 * tol * bnorm) break;
            precondition(mg, mg->r, mg->z);
            const double rz_new = dot(mg->r, mg->z, nodes);
            for (size_t k = 0; k < nodes; k++) mg->p[k] = mg->z[k] + rz_new / rz * mg->p[k];
            rz = rz_new;
        }
    }
    memcpy(u, mg->x, nodes * sizeof *u);
    if (iters) *iters = it;
    if (rel_residual) *rel_residual = rel;
    if (!isfinite(rel))
        return NDE_FAIL(NDE_ERR_NONFINITE, "darcy: PCG residual became %g after %zu iterations",
                        rel, it);
    if (rel > tol)
        return NDE_FAIL(NDE_ERR_MAX_STEPS, "darcy: PCG reached relative residual %.3g > tol %.3g "
                        "after %zu iterations", rel, tol, it);
    return NDE_OK;
}
