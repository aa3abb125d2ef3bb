/* Sparse CSR matrices, SOR, SSOR-preconditioned CG and the Jacobi spectral radius
 * (Khodak et al., ICLR 2024: solvers/sor.m, ssor_pcg.m, rho_jacobi.m and omega_opt.m of
 * github.com/mkhodak/learning-to-relax, written here from their definitions). */
#include <math.h>
#include <string.h>

#include "nde/relax.h"

struct nde_csr {
    size_t n, nnz;
    size_t *rowptr, *col, *diag; /* diag[i]: position of a_ii in col/val */
    double *val;
};

nde_status nde_csr_create(size_t n, const size_t *rowptr, const size_t *col, const double *val,
                          nde_csr **A)
{
    if (!A) return NDE_FAIL(NDE_ERR_ARG, "nde_csr_create: NULL output");
    *A = NULL;
    if (!rowptr || !col || !val || !n)
        return NDE_FAIL(NDE_ERR_ARG, "nde_csr_create: NULL array or n = %zu", n);
    if (rowptr[0] != 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_csr_create: rowptr[0] = %zu (need 0)", rowptr[0]);
    for (size_t i = 0; i < n; i++) {
        if (rowptr[i + 1] < rowptr[i])
            return NDE_FAIL(NDE_ERR_ARG, "nde_csr_create: rowptr decreases at row %zu", i);
        int has_diag = 0;
        for (size_t k = rowptr[i]; k < rowptr[i + 1]; k++) {
            if (col[k] >= n || (k > rowptr[i] && col[k] <= col[k - 1]))
                return NDE_FAIL(NDE_ERR_ARG, "nde_csr_create: row %zu: column %zu out of range "
                                "(n = %zu) or not increasing", i, col[k], n);
            if (col[k] == i) has_diag = 1;
        }
        if (!has_diag)
            return NDE_FAIL(NDE_ERR_ARG, "nde_csr_create: row %zu has no diagonal entry", i);
    }
    const size_t nnz = rowptr[n];
    nde_csr *m = nde_alloc(sizeof *m);
    if (!m) return NDE_ERR_NOMEM;
    m->n = n;
    m->nnz = nnz;
    m->rowptr = nde_alloc_array(n + 1, sizeof(size_t));
    m->diag = nde_alloc_array(n, sizeof(size_t));
    m->col = nde_alloc_array(nnz, sizeof(size_t));
    m->val = nde_alloc_array(nnz, sizeof(double));
    if (!m->rowptr || !m->diag || !m->col || !m->val) {
        nde_csr_destroy(&m);
        return NDE_ERR_NOMEM;
    }
    memcpy(m->rowptr, rowptr, (n + 1) * sizeof(size_t));
    memcpy(m->col, col, nnz * sizeof(size_t));
    memcpy(m->val, val, nnz * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t k = rowptr[i]; k < rowptr[i + 1]; k++)
            if (col[k] == i) m->diag[i] = k;
    *A = m;
    return NDE_OK;
}

void nde_csr_destroy(nde_csr **A)
{
    if (!A || !*A) return;
    nde_free((*A)->rowptr);
    nde_free((*A)->col);
    nde_free((*A)->diag);
    nde_free((*A)->val);
    nde_free(*A);
    *A = NULL;
}

size_t nde_csr_rows(const nde_csr *A) { return A ? A->n : 0; }
size_t nde_csr_nnz(const nde_csr *A) { return A ? A->nnz : 0; }
double *nde_csr_values(nde_csr *A) { return A ? A->val : NULL; }

nde_status nde_csr_shift(nde_csr *A, double c)
{
    if (!A || !isfinite(c)) return NDE_FAIL(NDE_ERR_ARG, "nde_csr_shift: NULL matrix or shift %g", c);
    for (size_t i = 0; i < A->n; i++) A->val[A->diag[i]] += c;
    return NDE_OK;
}

nde_status nde_csr_matvec(const nde_csr *A, const double *x, double *y)
{
    if (!A || !x || !y) return NDE_FAIL(NDE_ERR_ARG, "nde_csr_matvec: NULL argument");
    for (size_t i = 0; i < A->n; i++) {
        double s = 0.0;
        for (size_t k = A->rowptr[i]; k < A->rowptr[i + 1]; k++) s += A->val[k] * x[A->col[k]];
        y[i] = s;
    }
    return NDE_OK;
}

static double residual_norm(const nde_csr *A, const double *b, const double *x)
{
    double s2 = 0.0;
    for (size_t i = 0; i < A->n; i++) {
        double r = b[i];
        for (size_t k = A->rowptr[i]; k < A->rowptr[i + 1]; k++) r -= A->val[k] * x[A->col[k]];
        s2 += r * r;
    }
    return sqrt(s2);
}

static nde_status check_solve(const char *fn, const nde_csr *A, const double *b, const double *x,
                              double omega, double tol, size_t max_iter)
{
    if (!A || !b || !x) return NDE_FAIL(NDE_ERR_ARG, "%s: NULL argument", fn);
    if (!(omega > 0.0 && omega < 2.0))
        return NDE_FAIL(NDE_ERR_ARG, "%s: omega = %g outside (0, 2)", fn, omega);
    if (!(tol > 0.0) || !isfinite(tol) || !max_iter)
        return NDE_FAIL(NDE_ERR_ARG, "%s: tol = %g must be positive and max_iter = %zu non-zero",
                        fn, tol, max_iter);
    for (size_t i = 0; i < A->n; i++) {
        const double d = A->val[A->diag[i]];
        if (!(d > 0.0) || !isfinite(d))
            return NDE_FAIL(NDE_ERR_ARG, "%s: diagonal entry %zu is %g (need finite and > 0)",
                            fn, i, d);
    }
    return NDE_OK;
}

nde_status nde_sor_solve(const nde_csr *A, const double *b, double *x, double omega, double tol,
                         size_t max_iter, size_t *iters)
{
    if (iters) *iters = 0;
    NDE_TRY(check_solve("nde_sor_solve", A, b, x, omega, tol, max_iter));
    const double r0 = residual_norm(A, b, x);
    if (!isfinite(r0))
        return NDE_FAIL(NDE_ERR_NONFINITE, "nde_sor_solve: initial residual is %g (n = %zu)", r0,
                        A->n);
    if (r0 == 0.0) return NDE_OK;
    double r = r0;
    for (size_t k = 1; k <= max_iter; k++) {
        for (size_t i = 0; i < A->n; i++) {
            double s = b[i];
            for (size_t q = A->rowptr[i]; q < A->rowptr[i + 1]; q++)
                if (A->col[q] != i) s -= A->val[q] * x[A->col[q]];
            x[i] += omega * (s / A->val[A->diag[i]] - x[i]);
        }
        r = residual_norm(A, b, x);
        if (iters) *iters = k;
        if (!isfinite(r))
            return NDE_FAIL(NDE_ERR_NONFINITE, "nde_sor_solve: residual %g at sweep %zu (omega %g)",
                            r, k, omega);
        if (r < tol * r0) return NDE_OK;
    }
    return NDE_FAIL(NDE_ERR_MAX_STEPS, "nde_sor_solve: relative residual %.3e > tol %.3e after "
                    "max_iter = %zu sweeps (omega %g, n = %zu)", r / r0, tol, max_iter, omega, A->n);
}

/* z = M⁻¹ r with M = (D + ωU) D⁻¹ (D + ωL) / (ω(2−ω)), U = Lᵀ: backward solve with
 * D + ωU, scale by D, forward solve with D + ωL (the order of MATLAB's pcg with
 * M1 = X'·inv(D), M2 = X/ω/(2−ω), X = D + ωL). */
static void ssor_apply(const nde_csr *A, double omega, const double *r, double *z)
{
    const size_t n = A->n;
    for (size_t ii = n; ii-- > 0;) {
        double s = r[ii];
        for (size_t q = A->diag[ii] + 1; q < A->rowptr[ii + 1]; q++) s -= omega * A->val[q] * z[A->col[q]];
        z[ii] = s / A->val[A->diag[ii]];
    }
    for (size_t i = 0; i < n; i++) z[i] *= A->val[A->diag[i]];
    for (size_t i = 0; i < n; i++) {
        double s = z[i];
        for (size_t q = A->rowptr[i]; q < A->diag[i]; q++) s -= omega * A->val[q] * z[A->col[q]];
        z[i] = s / A->val[A->diag[i]];
    }
    const double c = omega * (2.0 - omega);
    for (size_t i = 0; i < n; i++) z[i] *= c;
}

nde_status nde_ssor_pcg_solve(const nde_csr *A, const double *b, double *x, double omega,
                              double tol, size_t max_iter, size_t *iters)
{
    if (iters) *iters = 0;
    NDE_TRY(check_solve("nde_ssor_pcg_solve", A, b, x, omega, tol, max_iter));
    const size_t n = A->n;
    double bn = 0.0;
    for (size_t i = 0; i < n; i++) bn += b[i] * b[i];
    bn = sqrt(bn);
    if (!isfinite(bn)) return NDE_FAIL(NDE_ERR_NONFINITE, "nde_ssor_pcg_solve: b is not finite");
    if (bn == 0.0) {
        memset(x, 0, n * sizeof *x);
        return NDE_OK;
    }
    double *w = nde_alloc_array(4 * n, sizeof *w);
    if (!w) return NDE_ERR_NOMEM;
    double *r = w, *z = w + n, *p = w + 2 * n, *q = w + 3 * n;
    nde_csr_matvec(A, x, q);
    double rn = 0.0;
    for (size_t i = 0; i < n; i++) {
        r[i] = b[i] - q[i];
        rn += r[i] * r[i];
    }
    rn = sqrt(rn);
    nde_status st = NDE_OK;
    size_t k = 0;
    double rho_old = 0.0;
    while (st == NDE_OK && !(rn <= tol * bn)) {
        if (!isfinite(rn)) {
            st = NDE_FAIL(NDE_ERR_NONFINITE, "nde_ssor_pcg_solve: residual %g at iteration %zu", rn,
                          k);
            break;
        }
        if (k == max_iter) {
            st = NDE_FAIL(NDE_ERR_MAX_STEPS, "nde_ssor_pcg_solve: relative residual %.3e > tol "
                          "%.3e after max_iter = %zu iterations (omega %g, n = %zu)", rn / bn, tol,
                          max_iter, omega, n);
            break;
        }
        ssor_apply(A, omega, r, z);
        double rho = 0.0;
        for (size_t i = 0; i < n; i++) rho += r[i] * z[i];
        const double beta = k ? rho / rho_old : 0.0;
        for (size_t i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
        nde_csr_matvec(A, p, q);
        double pq = 0.0;
        for (size_t i = 0; i < n; i++) pq += p[i] * q[i];
        if (!(pq > 0.0)) {
            st = NDE_FAIL(NDE_ERR_SOLVER, "nde_ssor_pcg_solve: p'Ap = %g at iteration %zu: the "
                          "matrix is not positive definite", pq, k + 1);
            break;
        }
        const double alpha = rho / pq;
        rn = 0.0;
        for (size_t i = 0; i < n; i++) {
            x[i] += alpha * p[i];
            r[i] -= alpha * q[i];
            rn += r[i] * r[i];
        }
        rn = sqrt(rn);
        rho_old = rho;
        k++;
    }
    if (iters) *iters = k;
    nde_free(w);
    return st;
}

/* Number of eigenvalues of the symmetric tridiagonal (a, b) below x (Sturm count). */
static size_t sturm_count(size_t k, const double *a, const double *b, double x)
{
    size_t c = 0;
    double q = 1.0;
    for (size_t i = 0; i < k; i++) {
        const double off = i ? b[i - 1] * b[i - 1] : 0.0;
        q = a[i] - x - (i ? off / q : 0.0);
        if (q == 0.0) q = -1e-300;
        if (q < 0.0) c++;
    }
    return c;
}

/* The j-th smallest eigenvalue (j = 1 … k) of the tridiagonal by bisection. */
static double tridiag_eig(size_t k, const double *a, const double *b, size_t j)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < k; i++) {
        const double r = (i ? fabs(b[i - 1]) : 0.0) + (i + 1 < k ? fabs(b[i]) : 0.0);
        lo = fmin(lo, a[i] - r);
        hi = fmax(hi, a[i] + r);
    }
    for (int it = 0; it < 200 && hi - lo > 1e-15 * fmax(1.0, fabs(hi)); it++) {
        const double mid = 0.5 * (lo + hi);
        if (sturm_count(k, a, b, mid) >= j) hi = mid;
        else lo = mid;
    }
    return 0.5 * (lo + hi);
}

nde_status nde_jacobi_radius(const nde_csr *A, double *beta)
{
    if (!A || !beta) return NDE_FAIL(NDE_ERR_ARG, "nde_jacobi_radius: NULL argument");
    const size_t n = A->n;
    for (size_t i = 0; i < n; i++)
        if (!(A->val[A->diag[i]] > 0.0) || !isfinite(A->val[A->diag[i]]))
            return NDE_FAIL(NDE_ERR_ARG, "nde_jacobi_radius: diagonal entry %zu is %g", i,
                            A->val[A->diag[i]]);
    size_t kmax = n < 400 ? n : 400;
    const size_t mem_cap = (size_t)20000000 / n; /* at most 2e7 doubles of Lanczos vectors */
    if (kmax > mem_cap) kmax = mem_cap < 20 ? 20 : mem_cap;
    if (kmax > n) kmax = n;
    double *V = nde_alloc_array((kmax + 1) * n, sizeof *V);
    double *dis = nde_alloc_array(n, sizeof *dis), *w = nde_alloc_array(n, sizeof *w);
    double *al = nde_alloc_array(kmax + 1, sizeof *al), *be = nde_alloc_array(kmax + 1, sizeof *be);
    if (!V || !dis || !w || !al || !be) {
        nde_free(V), nde_free(dis), nde_free(w), nde_free(al), nde_free(be);
        return NDE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) dis[i] = 1.0 / sqrt(A->val[A->diag[i]]);
    /* a deterministic start vector with components along every eigenvector in practice */
    double nv = 0.0;
    for (size_t i = 0; i < n; i++) {
        V[i] = 1.0 + 0.5 * sin(1.7 * (double)i + 0.3) + 0.25 * cos(0.37 * (double)i * (double)i);
        nv += V[i] * V[i];
    }
    for (size_t i = 0; i < n; i++) V[i] /= sqrt(nv);
    size_t k = 0;
    double prev_lo = NAN, prev_hi = NAN, lmin = 0.0, lmax = 0.0;
    for (k = 0; k < kmax; k++) {
        const double *v = V + k * n;
        /* w = S v, S = D^{-1/2} A D^{-1/2} */
        for (size_t i = 0; i < n; i++) {
            double s = 0.0;
            for (size_t q = A->rowptr[i]; q < A->rowptr[i + 1]; q++)
                s += A->val[q] * dis[A->col[q]] * v[A->col[q]];
            w[i] = dis[i] * s;
        }
        double a = 0.0;
        for (size_t i = 0; i < n; i++) a += w[i] * v[i];
        al[k] = a;
        /* full reorthogonalization, twice */
        for (int pass = 0; pass < 2; pass++)
            for (size_t j = 0; j <= k; j++) {
                const double *u = V + j * n;
                double c = 0.0;
                for (size_t i = 0; i < n; i++) c += w[i] * u[i];
                for (size_t i = 0; i < n; i++) w[i] -= c * u[i];
            }
        double bn = 0.0;
        for (size_t i = 0; i < n; i++) bn += w[i] * w[i];
        bn = sqrt(bn);
        be[k] = bn;
        const int last = k + 1 == kmax || bn <= 1e-12 * fmax(1.0, fabs(a));
        if (n > 400 && (k % 10 == 9 || last)) {
            lmin = tridiag_eig(k + 1, al, be, 1);
            lmax = tridiag_eig(k + 1, al, be, k + 1);
            if (fabs(lmin - prev_lo) <= 1e-12 && fabs(lmax - prev_hi) <= 1e-12) {
                k++;
                break;
            }
            prev_lo = lmin;
            prev_hi = lmax;
        }
        if (last) {
            k++;
            break;
        }
        for (size_t i = 0; i < n; i++) V[(k + 1) * n + i] = w[i] / bn;
    }
    lmin = tridiag_eig(k, al, be, 1);
    lmax = tridiag_eig(k, al, be, k);
    *beta = fmax(fabs(1.0 - lmin), fabs(1.0 - lmax));
    nde_free(V), nde_free(dis), nde_free(w), nde_free(al), nde_free(be);
    return NDE_OK;
}

nde_status nde_relax_omega_opt(const nde_csr *A, double *omega)
{
    if (!omega) return NDE_FAIL(NDE_ERR_ARG, "nde_relax_omega_opt: NULL argument");
    double b;
    NDE_TRY(nde_jacobi_radius(A, &b));
    if (!(b < 1.0))
        return NDE_FAIL(NDE_ERR_ARG, "nde_relax_omega_opt: Jacobi spectral radius %.6g >= 1 "
                        "(n = %zu): SOR theory does not give an optimal omega", b, A->n);
    const double r = b / (1.0 + sqrt(1.0 - b * b));
    *omega = 1.0 + r * r;
    return NDE_OK;
}
