/* Darcy 2-D data generator: thresholded Gaussian random field coefficient and a
 * multigrid-preconditioned CG solve (FNO paper §5.2; data scripts GRF.m, demo.m,
 * solve_gwf.m in github.com/neuraloperator/neuraloperator's legacy branch). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nde/pde.h"
#include "pde/darcy_mg.h"

struct nde_darcy {
    nde_darcy_spec spec;
    size_t n;             /* solver intervals per side */
    darcy_mg mg;
    double *cosm;         /* (N+1, N+1): cos(π k i / N), row i, column k */
    double *xi, *tmp;     /* (N+1, N+1) scratch: spectral coefficients, half transform */
    double *a, *f, *u;    /* (N+1, N+1) */
    nde_darcy_stats last;
    /* relaxation solvers: the interior system ((N−1)² unknowns), right-hand side and
     * iterate, and the ω learner */
    nde_csr *A;
    double *rb, *rx, *rq;
    nde_relax_learner *learner;
};

nde_darcy_spec nde_darcy_defaults(size_t s)
{
    nde_darcy_spec sp = {.s = s, .refine = 0, .a_hi = 12.0, .a_lo = 3.0, .alpha = 2.0,
                         .tau = 3.0, .tol = 1e-10, .max_iter = 200,
                         .solver = NDE_DARCY_MULTIGRID, .omega_rule = NDE_DARCY_OMEGA_FIXED,
                         .omega = 1.8, .learner_seed = 0, .relax_max_iter = 100000};
    return sp;
}

static nde_status check_spec(const nde_darcy_spec *sp)
{
    if (sp->s < 3) return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: s = %zu (need >= 3)", sp->s);
    if (!(sp->a_hi > 0.0) || !(sp->a_lo > 0.0) || !isfinite(sp->a_hi) || !isfinite(sp->a_lo))
        return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: coefficients %g / %g must be finite and "
                        "positive", sp->a_hi, sp->a_lo);
    if (!(sp->alpha > 0.0) || !(sp->tau > 0.0))
        return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: alpha %g and tau %g must be positive",
                        sp->alpha, sp->tau);
    if (!(sp->tol > 0.0) || !sp->max_iter)
        return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: tol %g must be positive and max_iter "
                        "%zu non-zero", sp->tol, sp->max_iter);
    if (sp->solver != NDE_DARCY_MULTIGRID && sp->solver != NDE_DARCY_SOR &&
        sp->solver != NDE_DARCY_SSOR_PCG)
        return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: unknown solver %d", (int)sp->solver);
    if (sp->solver != NDE_DARCY_MULTIGRID) {
        if (sp->omega_rule != NDE_DARCY_OMEGA_FIXED && sp->omega_rule != NDE_DARCY_OMEGA_TSALLIS &&
            sp->omega_rule != NDE_DARCY_OMEGA_OPT)
            return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: unknown omega_rule %d",
                            (int)sp->omega_rule);
        if (sp->omega_rule == NDE_DARCY_OMEGA_FIXED && !(sp->omega > 0.0 && sp->omega < 2.0))
            return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: omega %g outside (0, 2)", sp->omega);
        if (!sp->relax_max_iter)
            return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: relax_max_iter must be non-zero");
    }
    if (sp->refine > 64 || sp->s > 8193)
        return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: s %zu with refine %zu is too large",
                        sp->s, sp->refine);
    return NDE_OK;
}

/* The interior 5-point pattern (natural order) of the relaxation solvers, its vectors
 * and the learner. */
static nde_status relax_plan(nde_darcy *g)
{
    const size_t m = g->n - 1, nu = m * m;
    size_t *rp = nde_alloc_array(nu + 1, sizeof *rp), *col = nde_alloc_array(5 * nu, sizeof *col);
    double *val = nde_alloc_array(5 * nu, sizeof *val);
    g->rb = nde_alloc_array(nu, sizeof(double));
    g->rx = nde_alloc_array(nu, sizeof(double));
    g->rq = nde_alloc_array(nu, sizeof(double));
    nde_status st = rp && col && val && g->rb && g->rx && g->rq ? NDE_OK : NDE_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; st == NDE_OK && i < m; i++)
        for (size_t j = 0; j < m; j++) {
            const size_t r = i * m + j;
            if (i > 0) col[k++] = r - m;
            if (j > 0) col[k++] = r - 1;
            col[k] = r;
            val[k++] = 1.0;
            if (j + 1 < m) col[k++] = r + 1;
            if (i + 1 < m) col[k++] = r + m;
            rp[r + 1] = k;
        }
    if (st == NDE_OK) st = nde_csr_create(nu, rp, col, val, &g->A);
    nde_free(rp);
    nde_free(col);
    nde_free(val);
    if (st == NDE_OK && g->spec.omega_rule == NDE_DARCY_OMEGA_TSALLIS) {
        nde_relax_spec ls = nde_relax_defaults(NDE_RELAX_TSALLIS_INF);
        ls.seed = g->spec.learner_seed;
        st = nde_relax_learner_create(&ls, &g->learner);
    }
    return st;
}

/* The interior system of −∇·(a∇u) = f (the multigrid's fine operator, solve_gwf.m):
 * face coefficients the mean of the nodal values, scaled by 1/h². */
static void relax_assemble(nde_darcy *g, const double *a, const double *f)
{
    const size_t n = g->n, w = n + 1, m = n - 1;
    const double n2 = (double)n * (double)n;
    double *v = nde_csr_values(g->A);
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        for (size_t j = 1; j < n; j++) {
            const size_t p = i * w + j;
            const double fs = 0.5 * (a[p] + a[p - w]), fw = 0.5 * (a[p] + a[p - 1]);
            const double fe = 0.5 * (a[p] + a[p + 1]), fn = 0.5 * (a[p] + a[p + w]);
            if (i > 1) v[k++] = -n2 * fs;
            if (j > 1) v[k++] = -n2 * fw;
            v[k++] = n2 * (fs + fw + fe + fn);
            if (j + 1 < n) v[k++] = -n2 * fe;
            if (i + 1 < n) v[k++] = -n2 * fn;
            g->rb[(i - 1) * m + (j - 1)] = f[p];
        }
}

static nde_status relax_solve(nde_darcy *g, const double *a, const double *f, double *u)
{
    const size_t n = g->n, w = n + 1, m = n - 1, nu = m * m;
    for (size_t k = 0; k < w * w; k++)
        if (!(a[k] > 0.0) || !isfinite(a[k]))
            return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_solve: coefficient %g at node %zu (need "
                            "finite and > 0)", a[k], k);
    relax_assemble(g, a, f);
    double omega = g->spec.omega;
    if (g->spec.omega_rule == NDE_DARCY_OMEGA_TSALLIS)
        NDE_TRY(nde_relax_learner_predict(g->learner, 0.0, &omega));
    else if (g->spec.omega_rule == NDE_DARCY_OMEGA_OPT)
        NDE_TRY(nde_relax_omega_opt(g->A, &omega));
    memset(g->rx, 0, nu * sizeof *g->rx);
    size_t it = 0;
    nde_status st = g->spec.solver == NDE_DARCY_SOR
                        ? nde_sor_solve(g->A, g->rb, g->rx, omega, g->spec.tol,
                                        g->spec.relax_max_iter, &it)
                        : nde_ssor_pcg_solve(g->A, g->rb, g->rx, omega, g->spec.tol,
                                             g->spec.relax_max_iter, &it);
    if (g->learner) {
        nde_status su = nde_relax_learner_update(g->learner, (double)it);
        if (st == NDE_OK) st = su;
    }
    memset(u, 0, w * w * sizeof *u);
    for (size_t i = 1; i < n; i++)
        for (size_t j = 1; j < n; j++) u[i * w + j] = g->rx[(i - 1) * m + (j - 1)];
    /* the relative residual, recomputed from the iterate */
    nde_csr_matvec(g->A, g->rx, g->rq);
    double rr = 0.0, ff = 0.0;
    for (size_t k = 0; k < nu; k++) {
        rr += (g->rb[k] - g->rq[k]) * (g->rb[k] - g->rq[k]);
        ff += g->rb[k] * g->rb[k];
    }
    g->last.rel_residual = ff > 0.0 ? sqrt(rr / ff) : sqrt(rr);
    g->last.iterations = it;
    g->last.omega = omega;
    return st;
}

nde_status nde_darcy_create(const nde_darcy_spec *spec, nde_darcy **gen)
{
    if (!spec || !gen) return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_create: NULL argument");
    *gen = NULL;
    NDE_TRY(check_spec(spec));
    nde_darcy *g = nde_alloc(sizeof *g);
    if (!g) return NDE_ERR_NOMEM;
    g->spec = *spec;
    if (!g->spec.refine) {
        g->spec.refine = 4;
        for (size_t r = 2; r >= 1; r /= 2)
            if ((spec->s - 1) * r % 4 == 0) g->spec.refine = r;
    }
    g->n = (spec->s - 1) * g->spec.refine;
    const size_t w = g->n + 1;
    nde_status st = darcy_mg_create(g->n, &g->mg);
    double **arr[6] = {&g->cosm, &g->xi, &g->tmp, &g->a, &g->f, &g->u};
    for (int i = 0; i < 6 && st == NDE_OK; i++) {
        *arr[i] = nde_alloc_array(w * w, sizeof(double));
        if (!*arr[i]) st = NDE_ERR_NOMEM;
    }
    if (st != NDE_OK) {
        nde_darcy_destroy(&g);
        return st;
    }
    if (st == NDE_OK && g->spec.solver != NDE_DARCY_MULTIGRID) st = relax_plan(g);
    if (st != NDE_OK) {
        nde_darcy_destroy(&g);
        return st;
    }
    for (size_t i = 0; i < w; i++)
        for (size_t k = 0; k < w; k++)
            g->cosm[i * w + k] = cos(NDE_PI * (double)((i * k) % (2 * g->n)) / (double)g->n);
    for (size_t i = 1; i < g->n; i++)
        for (size_t j = 1; j < g->n; j++) g->f[i * w + j] = 1.0;
    *gen = g;
    return NDE_OK;
}

void nde_darcy_destroy(nde_darcy **gen)
{
    if (!gen || !*gen) return;
    nde_darcy *g = *gen;
    darcy_mg_free(&g->mg);
    nde_csr_destroy(&g->A);
    nde_relax_learner_destroy(&g->learner);
    nde_free(g->rb);
    nde_free(g->rx);
    nde_free(g->rq);
    double *arr[6] = {g->cosm, g->xi, g->tmp, g->a, g->f, g->u};
    for (int i = 0; i < 6; i++) nde_free(arr[i]);
    nde_free(g);
    *gen = NULL;
}

size_t nde_darcy_grid(const nde_darcy *gen) { return gen ? gen->n + 1 : 0; }
int nde_darcy_levels(const nde_darcy *gen) { return gen ? gen->mg.n_levels : 0; }
const nde_darcy_spec *nde_darcy_get_spec(const nde_darcy *gen) { return gen ? &gen->spec : NULL; }
nde_darcy_stats nde_darcy_last_stats(const nde_darcy *gen)
{
    nde_darcy_stats s = {0};
    return gen ? gen->last : s;
}

/* a ← threshold of g = C Ξ Cᵀ, C the cosine matrix and Ξ the scaled coefficients. */
static void coefficient(nde_darcy *g, nde_rng *rng, double *a)
{
    const size_t w = g->n + 1;
    const double al = g->spec.alpha, tau = g->spec.tau, pi2 = NDE_PI * NDE_PI;
    const double scale = pow(tau, al - 1.0);
    for (size_t k1 = 0; k1 < w; k1++)
        for (size_t k2 = 0; k2 < w; k2++) {
            const double z = nde_rng_normal(rng);
            const double lam = pi2 * (double)(k1 * k1 + k2 * k2) + tau * tau;
            g->xi[k1 * w + k2] = (k1 || k2) ? scale * pow(lam, -0.5 * al) * z : 0.0;
        }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)w, (int)w, (int)w, 1.0, g->cosm,
                (int)w, g->xi, (int)w, 0.0, g->tmp, (int)w);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)w, (int)w, (int)w, 1.0, g->tmp,
                (int)w, g->cosm, (int)w, 0.0, a, (int)w);
    for (size_t k = 0; k < w * w; k++) a[k] = a[k] >= 0.0 ? g->spec.a_hi : g->spec.a_lo;
}

static void sample_rng(uint64_t seed, size_t index, nde_rng *r)
{
    nde_rng_seed(r, seed);
    for (size_t i = 0; i < index; i++) nde_rng_jump(r);
}

nde_status nde_darcy_coefficient(nde_darcy *gen, uint64_t seed, size_t index, double *a)
{
    if (!gen || !a) return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_coefficient: NULL argument");
    nde_rng r;
    sample_rng(seed, index, &r);
    coefficient(gen, &r, a);
    return NDE_OK;
}

nde_status nde_darcy_solve(nde_darcy *gen, const double *a, const double *f, double *u,
                           nde_darcy_stats *stats)
{
    if (!gen || !a || !f || !u) return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_solve: NULL argument");
    if (gen->spec.solver != NDE_DARCY_MULTIGRID) {
        nde_status st = relax_solve(gen, a, f, u);
        if (stats) *stats = gen->last;
        return st;
    }
    NDE_TRY(darcy_mg_setup(&gen->mg, a));
    nde_status st = darcy_mg_solve(&gen->mg, f, u, gen->spec.tol, gen->spec.max_iter,
                                   &gen->last.iterations, &gen->last.rel_residual);
    if (stats) *stats = gen->last;
    return st;
}

nde_status nde_darcy_generate(nde_darcy *gen, uint64_t seed, size_t first, size_t count,
                              double *coeff, double *sol, nde_pde_progress_fn progress,
                              void *user)
{
    if (!gen || !coeff || !sol || !count)
        return NDE_FAIL(NDE_ERR_ARG, "nde_darcy_generate: NULL argument or count 0");
    const size_t s = gen->spec.s, r = gen->spec.refine, w = gen->n + 1;
    nde_rng base;
    sample_rng(seed, first, &base);
    for (size_t i = 0; i < count; i++) {
        nde_rng rng = base;
        nde_rng_jump(&base);
        coefficient(gen, &rng, gen->a);
        nde_status st = nde_darcy_solve(gen, gen->a, gen->f, gen->u, NULL);
        if (st != NDE_OK) {
            char why[512]; /* a copy: nde_fail formats into the buffer nde_last_error() returns */
            snprintf(why, sizeof why, "%s", nde_last_error());
            return NDE_FAIL(st, "nde_darcy_generate: sample %zu of seed %llu: %s", first + i,
                            (unsigned long long)seed, why);
        }
        for (size_t p = 0; p < s; p++)
            for (size_t q = 0; q < s; q++) {
                coeff[(i * s + p) * s + q] = gen->a[p * r * w + q * r];
                sol[(i * s + p) * s + q] = gen->u[p * r * w + q * r];
            }
        if (progress && progress(user, i + 1, count))
            return NDE_FAIL(NDE_ERR_STOPPED, "nde_darcy_generate: stopped after %zu of %zu samples",
                            i + 1, count);
    }
    return NDE_OK;
}
