/* Hard linear constraints: the KKT projection onto {A z = b}, its implicit-function-
 * theorem VJP, and the mixture-of-experts form (independent blocks on a thread team).
 * Chalapathi, Du, Krishnapriyan, "Scaling physics-informed hard constraints with
 * mixture-of-experts", ICLR 2024 (PI-HC and PI-HC-MoE, linear case). */
#include <math.h>
#include <string.h>

#include "constraint/constraint_internal.h"

/* A row whose Schur complement falls below this fraction of its diagonal is taken as a
 * linear combination of the rows before it (sin² of its angle to their span). */
#define DEPENDENT_TOL 1e-10

static void block_free(constraint_block *bk)
{
    nde_free(bk->idx);
    nde_free(bk->A);
    nde_free(bk->winv);
    nde_free(bk->L);
    nde_free(bk->b0);
    nde_free(bk->loc);
    nde_free(bk->corr);
    nde_free(bk->lam);
}

void nde_constraint_destroy(nde_constraint **cp)
{
    if (!cp || !*cp) return;
    nde_constraint *c = *cp;
    for (size_t k = 0; k < c->n_blocks; k++) block_free(&c->blocks[k]);
    nde_free(c->blocks);
    nde_free(c->covered);
    nde_pool_destroy(&c->pool);
    nde_free(c);
    *cp = NULL;
}

/* Solve L Lᵀ x = r in place (L (m, m) lower, row-major). */
static void chol_solve(const double *L, size_t m, double *x)
{
    for (size_t i = 0; i < m; i++) {
        double s = x[i];
        for (size_t k = 0; k < i; k++) s -= L[i * m + k] * x[k];
        x[i] = s / L[i * m + i];
    }
    for (size_t i = m; i-- > 0;) { /* Lᵀ x = x by rows of L (column sweeps of Lᵀ) */
        x[i] /= L[i * m + i];
        const double xi = x[i], *Li = L + i * m;
        for (size_t k = 0; k < i; k++) x[k] -= Li[k] * xi;
    }
}

/* Row j depends on rows 0..j−1: is its default b consistent with theirs? The
 * combination c with a_j = Σ c_k a_k (in the W⁻¹ inner product) solves
 * L₀ L₀ᵀ c = M[0:j, j]; L's row j (computed up to column j−1) is L₀⁻¹ M[0:j, j]. */
static int dependent_row_consistent(const constraint_block *bk, size_t j)
{
    const size_t m = bk->m;
    double *coef = bk->lam; /* scratch of m >= j */
    for (size_t k = 0; k < j; k++) coef[k] = bk->L[j * m + k];
    for (size_t i = j; i-- > 0;) { /* back substitution with L₀ᵀ */
        double s = coef[i];
        for (size_t k = i + 1; k < j; k++) s -= bk->L[k * m + i] * coef[k];
        coef[i] = s / bk->L[i * m + i];
    }
    double res = bk->b0[j], scale = fabs(bk->b0[j]);
    for (size_t k = 0; k < j; k++) {
        res -= coef[k] * bk->b0[k];
        scale += fabs(coef[k] * bk->b0[k]);
    }
    return fabs(res) <= 1e-9 * scale;
}

/* Form M = A W⁻¹ Aᵀ and factor it; name a dependent row. */
static nde_status block_factor(constraint_block *bk, size_t which)
{
    const size_t m = bk->m, ni = bk->n_idx;
    double *L = bk->L;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j <= i; j++) {
            double s = 0.0;
            for (size_t p = 0; p < ni; p++) s += bk->A[i * ni + p] * bk->winv[p] * bk->A[j * ni + p];
            L[i * m + j] = s;
        }
    for (size_t j = 0; j < m; j++) {
        const double diag = L[j * m + j];
        for (size_t k = 0; k < j; k++) {
            double s = L[j * m + k];
            for (size_t p = 0; p < k; p++) s -= L[j * m + p] * L[k * m + p];
            L[j * m + k] = s / L[k * m + k];
        }
        double d = diag;
        for (size_t p = 0; p < j; p++) d -= L[j * m + p] * L[j * m + p];
        if (!(diag > 0.0) || d <= DEPENDENT_TOL * diag) {
            if (dependent_row_consistent(bk, j))
                return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu is rank deficient: "
                                "row %zu of A (%zu x %zu) is a combination of the rows before it "
                                "(a redundant constraint; remove it)", which, j, m, ni);
            return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu is inconsistent: row %zu "
                            "of A (%zu x %zu) is a combination of the rows before it but its b "
                            "is not the same combination of theirs (no z satisfies A z = b)",
                            which, j, m, ni);
        }
        L[j * m + j] = sqrt(d);
    }
    for (size_t i = 0; i < m; i++) /* clear the upper triangle (M's lower one is consumed) */
        for (size_t j = i + 1; j < m; j++) L[i * m + j] = 0.0;
    return NDE_OK;
}

static nde_status block_init(constraint_block *bk, const nde_constraint_block *spec, size_t n,
                             size_t which, unsigned char *covered)
{
    const size_t ni = spec->n_idx, m = spec->m;
    if (ni == 0 || m == 0 || !spec->A)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu has n_idx %zu, m %zu, A %s",
                        which, ni, m, spec->A ? "given" : "NULL");
    if (m > ni)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu has more rows (%zu) than "
                        "entries (%zu): its rows cannot be independent", which, m, ni);
    bk->n_idx = ni;
    bk->m = m;
    bk->idx = nde_alloc_array(ni, sizeof *bk->idx);
    bk->A = nde_alloc_array(m * ni, sizeof *bk->A);
    bk->winv = nde_alloc_array(ni, sizeof *bk->winv);
    bk->L = nde_alloc_array(m * m, sizeof *bk->L);
    bk->b0 = nde_alloc_array(m, sizeof *bk->b0);
    bk->loc = nde_alloc_array(ni, sizeof *bk->loc);
    bk->corr = nde_alloc_array(ni, sizeof *bk->corr);
    bk->lam = nde_alloc_array(m, sizeof *bk->lam);
    if (!bk->idx || !bk->A || !bk->winv || !bk->L || !bk->b0 || !bk->loc || !bk->corr || !bk->lam)
        return NDE_FAIL(NDE_ERR_NOMEM, "nde_constraint_create: block %zu (%zu x %zu)", which, m, ni);
    for (size_t p = 0; p < ni; p++) {
        const size_t e = spec->idx ? spec->idx[p] : p;
        if (e >= n)
            return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu entry %zu is %zu, not < n = %zu",
                            which, p, e, n);
        if (covered[e])
            return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu entry %zu (%zu) is already "
                            "in a sub-domain (sub-domains must be disjoint)", which, p, e);
        covered[e] = 1;
        bk->idx[p] = e;
        const double w = spec->w ? spec->w[p] : 1.0;
        if (!(w > 0.0) || !isfinite(w))
            return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu weight %zu is %g (must be "
                            "positive and finite)", which, p, w);
        bk->winv[p] = 1.0 / w;
    }
    for (size_t i = 0; i < m * ni; i++) {
        if (!isfinite(spec->A[i]))
            return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu A[%zu][%zu] is %g", which,
                            i / ni, i % ni, spec->A[i]);
        bk->A[i] = spec->A[i];
    }
    for (size_t i = 0; i < m; i++) {
        bk->b0[i] = spec->b ? spec->b[i] : 0.0;
        if (!isfinite(bk->b0[i]))
            return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: block %zu b[%zu] is %g", which, i,
                            bk->b0[i]);
    }
    return block_factor(bk, which);
}

nde_status nde_constraint_create(size_t n, size_t n_blocks, const nde_constraint_block *blocks,
                                 size_t n_threads, nde_constraint **out)
{
    if (!out) return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: NULL out");
    *out = NULL;
    if (n == 0 || n_blocks == 0 || !blocks || n_threads == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_create: n %zu, n_blocks %zu, blocks %s, "
                        "n_threads %zu", n, n_blocks, blocks ? "given" : "NULL", n_threads);
    nde_constraint *c = nde_alloc(sizeof *c);
    if (!c) return NDE_ERR_NOMEM;
    c->n = n;
    c->blocks = nde_alloc_array(n_blocks, sizeof *c->blocks);
    c->covered = nde_alloc_array(n, 1);
    if (!c->blocks || !c->covered) {
        nde_constraint_destroy(&c);
        return NDE_FAIL(NDE_ERR_NOMEM, "nde_constraint_create: %zu blocks over %zu entries", n_blocks, n);
    }
    c->n_blocks = n_blocks; /* zero-filled blocks are safe to free */
    for (size_t k = 0; k < n_blocks; k++) {
        nde_status st = block_init(&c->blocks[k], &blocks[k], n, k, c->covered);
        if (st != NDE_OK) {
            nde_constraint_destroy(&c);
            return st;
        }
        c->blocks[k].row0 = c->m;
        c->m += c->blocks[k].m;
    }
    c->n_threads = n_threads < n_blocks ? n_threads : n_blocks;
    if (c->n_threads > 1) {
        nde_status st = nde_pool_create(c->n_threads - 1, &c->pool);
        if (st != NDE_OK) {
            nde_constraint_destroy(&c);
            return st;
        }
    }
    *out = c;
    return NDE_OK;
}

size_t nde_constraint_n(const nde_constraint *c) { return c ? c->n : 0; }
size_t nde_constraint_m(const nde_constraint *c) { return c ? c->m : 0; }
size_t nde_constraint_n_blocks(const nde_constraint *c) { return c ? c->n_blocks : 0; }

void nde_constraint_default_b(const nde_constraint *c, double *b)
{
    for (size_t k = 0; k < c->n_blocks; k++)
        memcpy(b + c->blocks[k].row0, c->blocks[k].b0, c->blocks[k].m * sizeof *b);
}

nde_status nde_constraint_matrix(const nde_constraint *c, double *A_out)
{
    if (!c || !A_out) return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_matrix: NULL argument");
    memset(A_out, 0, c->m * c->n * sizeof *A_out);
    for (size_t k = 0; k < c->n_blocks; k++) {
        const constraint_block *bk = &c->blocks[k];
        for (size_t i = 0; i < bk->m; i++)
            for (size_t p = 0; p < bk->n_idx; p++)
                A_out[(bk->row0 + i) * c->n + bk->idx[p]] = bk->A[i * bk->n_idx + p];
    }
    return NDE_OK;
}

/* ---- the projection and its VJP, block by block --------------------------------- */

typedef struct run_args {
    nde_constraint *c;
    const double *in; /* y or gz (batch, n) */
    const double *b;  /* (batch, m) or NULL */
    double *out;      /* z or gy (batch, n) */
    double *gb;       /* (batch, m) or NULL (VJP only) */
    size_t batch;
    int vjp;
} run_args;

/* Forward: λ = M⁻¹ (A y − b), z = y − W⁻¹ Aᵀ λ.
 * VJP (the adjoint KKT system): μ = M⁻¹ A W⁻¹ gz, gy = gz − Aᵀ μ, gb = μ. */
static void block_run(const run_args *a, constraint_block *bk)
{
    const size_t n = a->c->n, m_all = a->c->m, ni = bk->n_idx, m = bk->m;
    for (size_t s = 0; s < a->batch; s++) {
        const double *in = a->in + s * n;
        double *out = a->out + s * n;
        for (size_t p = 0; p < ni; p++) bk->loc[p] = in[bk->idx[p]];
        for (size_t i = 0; i < m; i++) {
            const double *Ai = bk->A + i * ni;
            double r = 0.0;
            if (a->vjp)
                for (size_t p = 0; p < ni; p++) r += Ai[p] * bk->winv[p] * bk->loc[p];
            else
                for (size_t p = 0; p < ni; p++) r += Ai[p] * bk->loc[p];
            if (!a->vjp) r -= a->b ? a->b[s * m_all + bk->row0 + i] : bk->b0[i];
            bk->lam[i] = r;
        }
        chol_solve(bk->L, m, bk->lam);
        memset(bk->corr, 0, ni * sizeof *bk->corr); /* corr = Aᵀλ, row by row of A */
        for (size_t i = 0; i < m; i++) {
            const double *Ai = bk->A + i * ni, li = bk->lam[i];
            for (size_t p = 0; p < ni; p++) bk->corr[p] += Ai[p] * li;
        }
        for (size_t p = 0; p < ni; p++)
            out[bk->idx[p]] = bk->loc[p] - (a->vjp ? 1.0 : bk->winv[p]) * bk->corr[p];
        if (a->gb) memcpy(a->gb + s * m_all + bk->row0, bk->lam, m * sizeof *bk->lam);
    }
}

static void run_thread(void *arg, size_t t)
{
    const run_args *a = arg;
    for (size_t k = t; k < a->c->n_blocks; k += a->c->n_threads) block_run(a, &a->c->blocks[k]);
}

static void run(run_args *a)
{
    const nde_constraint *c = a->c;
    if (a->out != a->in) /* entries in no sub-domain pass through */
        for (size_t s = 0; s < a->batch; s++)
            for (size_t e = 0; e < c->n; e++)
                if (!c->covered[e]) a->out[s * c->n + e] = a->in[s * c->n + e];
    if (c->pool)
        nde_pool_run(c->pool, run_thread, a, c->n_threads);
    else
        run_thread(a, 0);
}

static nde_status check_finite(const double *v, size_t batch, size_t len, const char *what,
                               const char *fn)
{
    for (size_t s = 0; s < batch; s++)
        for (size_t e = 0; e < len; e++)
            if (!isfinite(v[s * len + e]))
                return NDE_FAIL(NDE_ERR_NONFINITE, "%s: %s[%zu][%zu] is %g", fn, what, s, e,
                                v[s * len + e]);
    return NDE_OK;
}

nde_status nde_constraint_project(nde_constraint *c, const double *y, const double *b, double *z,
                                  size_t batch)
{
    if (!c || !y || !z || batch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_project: NULL argument or batch 0");
    NDE_TRY(check_finite(y, batch, c->n, "y", "nde_constraint_project"));
    if (b) NDE_TRY(check_finite(b, batch, c->m, "b", "nde_constraint_project"));
    run_args a = {.c = c, .in = y, .b = b, .out = z, .batch = batch};
    run(&a);
    return NDE_OK;
}

nde_status nde_constraint_vjp(nde_constraint *c, const double *gz, double *gy, double *gb,
                              size_t batch)
{
    if (!c || !gz || !gy || batch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_vjp: NULL argument or batch 0");
    NDE_TRY(check_finite(gz, batch, c->n, "gz", "nde_constraint_vjp"));
    run_args a = {.c = c, .in = gz, .out = gy, .gb = gb, .batch = batch, .vjp = 1};
    run(&a);
    return NDE_OK;
}

double nde_constraint_violation(const nde_constraint *c, const double *z, const double *b,
                                size_t batch)
{
    if (!c || !z || batch == 0) return NAN;
    double worst = 0.0;
    for (size_t s = 0; s < batch; s++)
        for (size_t k = 0; k < c->n_blocks; k++) {
            const constraint_block *bk = &c->blocks[k];
            for (size_t i = 0; i < bk->m; i++) {
                double r = -(b ? b[s * c->m + bk->row0 + i] : bk->b0[i]);
                for (size_t p = 0; p < bk->n_idx; p++)
                    r += bk->A[i * bk->n_idx + p] * z[s * c->n + bk->idx[p]];
                if (isnan(r)) return NAN;
                worst = fmax(worst, fabs(r));
            }
        }
    return worst;
}

/* ---- built-in constraints ---------------------------------------------------------- */

nde_status nde_constraint_mean_create(size_t n, size_t n_experts, size_t n_threads,
                                      nde_constraint **out)
{
    if (!out) return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_mean_create: NULL out");
    *out = NULL;
    if (n == 0 || n_experts == 0 || n % n_experts != 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_mean_create: %zu points do not split into %zu "
                        "equal sub-domains", n, n_experts);
    const size_t len = n / n_experts;
    nde_constraint_block *bl = nde_alloc_array(n_experts, sizeof *bl);
    size_t *idx = nde_alloc_array(n, sizeof *idx);
    double *row = nde_alloc_array(len, sizeof *row);
    nde_status st = NDE_ERR_NOMEM;
    if (bl && idx && row) {
        for (size_t e = 0; e < n; e++) idx[e] = e;
        for (size_t p = 0; p < len; p++) row[p] = 1.0 / (double)len;
        for (size_t k = 0; k < n_experts; k++)
            bl[k] = (nde_constraint_block){.n_idx = len, .idx = idx + k * len, .m = 1, .A = row};
        st = nde_constraint_create(n, n_experts, bl, n_threads, out);
    }
    nde_free(bl);
    nde_free(idx);
    nde_free(row);
    return st;
}

nde_status nde_constraint_values_create(size_t n, size_t n_fixed, const size_t *idx,
                                        const double *values, nde_constraint **out)
{
    if (!out) return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_values_create: NULL out");
    *out = NULL;
    if (n == 0 || n_fixed == 0 || !idx)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_values_create: n %zu, n_fixed %zu, idx %s", n,
                        n_fixed, idx ? "given" : "NULL");
    if (n_fixed > n)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_values_create: %zu fixed values in %zu entries",
                        n_fixed, n);
    /* The sub-domain is the fixed entries: A = I there. */
    double *A = nde_alloc_array(n_fixed * n_fixed, sizeof *A);
    if (!A) return NDE_ERR_NOMEM;
    for (size_t i = 0; i < n_fixed; i++) A[i * n_fixed + i] = 1.0;
    nde_constraint_block bl = {.n_idx = n_fixed, .idx = idx, .m = n_fixed, .A = A, .b = values};
    nde_status st = nde_constraint_create(n, 1, &bl, 1, out);
    nde_free(A);
    return st;
}

nde_status nde_constraint_divfree2d_create(size_t nx, size_t ny, double hx, double hy,
                                           nde_constraint **out)
{
    if (!out) return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_divfree2d_create: NULL out");
    *out = NULL;
    if (nx < 2 || ny < 2 || !(hx > 0.0) || !(hy > 0.0) || !isfinite(hx) || !isfinite(hy))
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_divfree2d_create: grid %zu x %zu (each >= 2), "
                        "spacing %g x %g (positive)", nx, ny, hx, hy);
    const size_t cells = nx * ny, n = 2 * cells, m = cells - 1;
    if (cells / nx != ny || m > ((size_t)-1 / sizeof(double)) / n)
        return NDE_FAIL(NDE_ERR_ARG, "nde_constraint_divfree2d_create: grid %zu x %zu is too large",
                        nx, ny);
    double *A = nde_alloc_array(m * n, sizeof *A);
    if (!A) return NDE_FAIL(NDE_ERR_NOMEM, "nde_constraint_divfree2d_create: A (%zu x %zu)", m, n);
    for (size_t j = 0; j < ny; j++)
        for (size_t i = 0; i < nx; i++) {
            const size_t row = j * nx + i;
            if (row == m) break; /* the last cell's divergence is minus the sum of the others */
            double *Ar = A + row * n;
            Ar[j * nx + (i + 1) % nx] += 1.0 / hx;
            Ar[j * nx + i] -= 1.0 / hx;
            Ar[cells + ((j + 1) % ny) * nx + i] += 1.0 / hy;
            Ar[cells + j * nx + i] -= 1.0 / hy;
        }
    nde_constraint_block bl = {.n_idx = n, .m = m, .A = A};
    nde_status st = nde_constraint_create(n, 1, &bl, 1, out);
    nde_free(A);
    return st;
}
