/* Bandit learners for the SOR relaxation: Tsallis-INF, Tsallis-INF-CB and ChebCB
 * (Khodak et al., ICLR 2024; learners/TsallisINF.m, TsallisINFCB.m and ChebCB.m of
 * github.com/mkhodak/learning-to-relax, written here from their definitions; the
 * differences are listed in docs/relax.md). */
#include <math.h>
#include <string.h>

#include "nde/relax.h"

#define MAX_ARMS 4096
#define MAX_BINS 64

typedef struct tsallis {
    double *K;        /* (d) cumulative importance-weighted normalized losses */
    double loss_sum;  /* Σ costs so far */
    size_t t;         /* round, from 1 */
} tsallis;

struct nde_relax_learner {
    nde_relax_spec spec;
    size_t d, m;      /* arms; bins (Tsallis-INF-CB) or features (ChebCB) */
    double *grid;     /* (d) */
    nde_rng rng;
    int pending;      /* a draw awaits its update */
    size_t arm, bin;  /* the last draw */
    double prob;      /* its probability */
    double *p;        /* (d) scratch */
    /* Tsallis-INF (1 state) and Tsallis-INF-CB (m states) */
    tsallis *ts;
    /* ChebCB */
    double *G, *h, *yy;  /* per arm: Gram (m×m), Σ f (c−1) (m), Σ (c−1)² */
    size_t *count;       /* per arm: plays */
    double *theta;       /* (d, m) */
    double *feat;        /* (m) feature of the pending draw */
    double predicted;    /* θ_arm · f of the pending draw */
    double eta, scale, cmax, cmin;
    double spp, spl, sll; /* Σ pred², Σ pred·cost, Σ cost² */
    size_t t;
};

nde_relax_spec nde_relax_defaults(nde_relax_kind kind)
{
    nde_relax_spec s = {.kind = kind, .arms = 20, .omega_lo = 1.0, .omega_hi = 1.95,
                        .context_lo = 0.0, .context_hi = 1.0, .bins = 6, .seed = 0};
    return s;
}

static double tsallis_scale(const tsallis *s)
{
    if (s->t <= 1) return 1.0;
    const double sc = s->loss_sum / (double)(s->t - 1) - 1.0;
    return sc > 0.0 && isfinite(sc) ? sc : 1.0;
}

nde_status nde_tsallis_inf_probs(size_t d, const double *K, double scale, size_t t, double *p)
{
    if (!K || !p || !d || !t)
        return NDE_FAIL(NDE_ERR_ARG, "nde_tsallis_inf_probs: NULL array, d = %zu or t = %zu", d, t);
    if (!(scale > 0.0) || !isfinite(scale)) scale = 1.0;
    double kmin = INFINITY;
    for (size_t i = 0; i < d; i++) {
        if (!isfinite(K[i]))
            return NDE_FAIL(NDE_ERR_ARG, "nde_tsallis_inf_probs: K[%zu] = %g", i, K[i]);
        kmin = fmin(kmin, K[i] / scale);
    }
    const double eta = 2.0 / sqrt((double)t);
    /* f(x) = Σ 4/(η(k_i − x))² − 1 increases on x < kmin; its root lies in
     * [kmin − 2√d/η, kmin − 2/η] (one term alone reaches 1 at the right end). */
    double lo = kmin - 2.0 * sqrt((double)d) / eta, hi = kmin - 2.0 / eta;
    double x = -1.0;
    if (!(x >= lo && x <= hi)) x = 0.5 * (lo + hi);
    for (int it = 0; it < 200; it++) {
        double f = -1.0, df = 0.0;
        for (size_t i = 0; i < d; i++) {
            const double z = eta * (K[i] / scale - x);
            const double q = 4.0 / (z * z);
            f += q;
            df += eta * q * sqrt(q);
        }
        if (f > 0.0) hi = x;
        else lo = x;
        if (f == 0.0 || hi - lo <= 4e-16 * fmax(1.0, fabs(x))) break;
        double xn = x - f / df;
        if (!(xn > lo && xn < hi)) xn = 0.5 * (lo + hi);
        if (xn == x) break;
        x = xn;
    }
    double sum = 0.0;
    for (size_t i = 0; i < d; i++) {
        const double z = eta * (K[i] / scale - x);
        p[i] = 4.0 / (z * z);
        sum += p[i];
    }
    for (size_t i = 0; i < d; i++) p[i] /= sum;
    return NDE_OK;
}

static size_t sample(nde_rng *rng, size_t d, const double *p)
{
    const double u = nde_rng_uniform(rng);
    double c = 0.0;
    for (size_t i = 0; i < d; i++) {
        c += p[i];
        if (u < c) return i;
    }
    for (size_t i = d; i-- > 0;) /* rounding: the last arm with positive mass */
        if (p[i] > 0.0) return i;
    return d - 1;
}

void nde_relax_learner_destroy(nde_relax_learner **L)
{
    if (!L || !*L) return;
    nde_relax_learner *l = *L;
    if (l->ts)
        for (size_t b = 0; b < l->m; b++) nde_free(l->ts[b].K);
    nde_free(l->ts);
    double *arr[] = {l->grid, l->p, l->G, l->h, l->yy, l->theta, l->feat};
    for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) nde_free(arr[i]);
    nde_free(l->count);
    nde_free(l);
    *L = NULL;
}

nde_status nde_relax_learner_create(const nde_relax_spec *spec, nde_relax_learner **L)
{
    if (!L) return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_create: NULL output");
    *L = NULL;
    if (!spec) return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_create: NULL spec");
    const nde_relax_spec *s = spec;
    if (s->kind != NDE_RELAX_TSALLIS_INF && s->kind != NDE_RELAX_TSALLIS_INF_CB &&
        s->kind != NDE_RELAX_CHEBCB)
        return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_create: unknown kind %d", (int)s->kind);
    if (!s->arms || s->arms > MAX_ARMS)
        return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_create: arms = %zu (need 1 … %d)",
                        s->arms, MAX_ARMS);
    if (!(s->omega_lo > 0.0) || !(s->omega_hi < 2.0) || !(s->omega_hi >= s->omega_lo))
        return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_create: omega grid [%g, %g] must lie in "
                        "(0, 2) with lo <= hi", s->omega_lo, s->omega_hi);
    const int contextual = s->kind != NDE_RELAX_TSALLIS_INF;
    if (contextual) {
        if (!s->bins || s->bins > MAX_BINS)
            return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_create: bins = %zu (need 1 … %d)",
                            s->bins, MAX_BINS);
        if (!isfinite(s->context_lo) || !isfinite(s->context_hi) ||
            !(s->context_hi > s->context_lo))
            return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_create: context interval [%g, %g] "
                            "must be finite and non-empty", s->context_lo, s->context_hi);
    }
    nde_relax_learner *l = nde_alloc(sizeof *l);
    if (!l) return NDE_ERR_NOMEM;
    l->spec = *s;
    l->d = s->arms;
    l->m = s->kind == NDE_RELAX_TSALLIS_INF ? 1 : s->bins;
    nde_rng_seed(&l->rng, s->seed);
    const size_t d = l->d, m = l->m;
    l->grid = nde_alloc_array(d, sizeof(double));
    l->p = nde_alloc_array(d, sizeof(double));
    int ok = l->grid && l->p;
    if (ok && s->kind != NDE_RELAX_CHEBCB) {
        l->ts = nde_alloc_array(m, sizeof(tsallis));
        ok = l->ts != NULL;
        for (size_t b = 0; ok && b < m; b++) {
            l->ts[b].t = 1;
            l->ts[b].K = nde_alloc_array(d, sizeof(double));
            ok = l->ts[b].K != NULL;
        }
    } else if (ok) {
        l->G = nde_alloc_array(d * m * m, sizeof(double));
        l->h = nde_alloc_array(d * m, sizeof(double));
        l->yy = nde_alloc_array(d, sizeof(double));
        l->count = nde_alloc_array(d, sizeof(size_t));
        l->theta = nde_alloc_array(d * m, sizeof(double));
        l->feat = nde_alloc_array(m, sizeof(double));
        ok = l->G && l->h && l->yy && l->count && l->theta && l->feat;
        l->t = 1;
        l->cmax = -INFINITY;
        l->cmin = INFINITY;
    }
    if (!ok) {
        nde_relax_learner_destroy(&l);
        return NDE_ERR_NOMEM;
    }
    for (size_t i = 0; i < d; i++)
        l->grid[i] = d == 1 ? s->omega_lo
                            : s->omega_lo + (s->omega_hi - s->omega_lo) * (double)i / (double)(d - 1);
    *L = l;
    return NDE_OK;
}

size_t nde_relax_learner_arms(const nde_relax_learner *L) { return L ? L->d : 0; }
double nde_relax_learner_omega(const nde_relax_learner *L, size_t i)
{
    return L && i < L->d ? L->grid[i] : NAN;
}

/* Nearest bin centre a + (b − a)(j + ½)/m (first on ties), as TsallisINFCB.m. */
static size_t bin_of(const nde_relax_learner *l, double c)
{
    const double a = l->spec.context_lo, w = l->spec.context_hi - a;
    size_t best = 0;
    double bd = INFINITY;
    for (size_t j = 0; j < l->m; j++) {
        const double dist = fabs(a + w * ((double)j + 0.5) / (double)l->m - c);
        if (dist < bd) {
            bd = dist;
            best = j;
        }
    }
    return best;
}

/* Chebyshev features T_0 … T_{m−1} of the context mapped to [−1, 1] (clamped). */
static void cheb_features(const nde_relax_learner *l, double c, double *f)
{
    const double a = l->spec.context_lo, w = l->spec.context_hi - a;
    double x = 2.0 * (c - a) / w - 1.0;
    x = fmin(1.0, fmax(-1.0, x));
    f[0] = 1.0;
    if (l->m > 1) f[1] = x;
    for (size_t j = 2; j < l->m; j++) f[j] = 2.0 * x * f[j - 1] - f[j - 2];
}

/* SquareCB inverse-gap weighting over ŷ = θ f: p_i = 1/(d + η(ŷ_i − ŷ*)) off the greedy
 * arm (the first minimizer), the rest on it. */
static void cheb_probs(const nde_relax_learner *l, const double *f, double *p, size_t *greedy)
{
    const size_t d = l->d, m = l->m;
    size_t istar = 0;
    double ystar = INFINITY;
    for (size_t i = 0; i < d; i++) {
        double y = 0.0;
        for (size_t j = 0; j < m; j++) y += l->theta[i * m + j] * f[j];
        p[i] = y;
        if (y < ystar) {
            ystar = y;
            istar = i;
        }
    }
    double rest = 0.0;
    for (size_t i = 0; i < d; i++) {
        if (i == istar) continue;
        p[i] = 1.0 / ((double)d + l->eta * (p[i] - ystar));
        rest += p[i];
    }
    p[istar] = 1.0 - rest;
    if (greedy) *greedy = istar;
}

static nde_status probs_for(const nde_relax_learner *l, double context, double *p, double *feat,
                            size_t *bin)
{
    if (l->spec.kind == NDE_RELAX_CHEBCB) {
        cheb_features(l, context, feat);
        cheb_probs(l, feat, p, NULL);
        return NDE_OK;
    }
    const size_t b = l->spec.kind == NDE_RELAX_TSALLIS_INF ? 0 : bin_of(l, context);
    if (bin) *bin = b;
    const tsallis *s = &l->ts[b];
    return nde_tsallis_inf_probs(l->d, s->K, tsallis_scale(s), s->t, p);
}

nde_status nde_relax_learner_probs(const nde_relax_learner *L, double context, double *p)
{
    if (!L || !p || !isfinite(context))
        return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_probs: NULL argument or context %g",
                        context);
    double feat[MAX_BINS];
    return probs_for(L, context, p, feat, NULL);
}

nde_status nde_relax_learner_predict(nde_relax_learner *L, double context, double *omega)
{
    if (!L || !omega || !isfinite(context))
        return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_predict: NULL argument or context %g",
                        context);
    if (L->pending)
        return NDE_FAIL(NDE_ERR_STATE, "nde_relax_learner_predict: the previous draw (omega %g) "
                        "has not been reported with nde_relax_learner_update", L->grid[L->arm]);
    NDE_TRY(probs_for(L, context, L->p, L->feat ? L->feat : NULL, &L->bin));
    L->arm = sample(&L->rng, L->d, L->p);
    L->prob = L->p[L->arm];
    if (L->spec.kind == NDE_RELAX_CHEBCB) {
        double y = 0.0;
        for (size_t j = 0; j < L->m; j++) y += L->theta[L->arm * L->m + j] * L->feat[j];
        L->predicted = y;
    }
    L->pending = 1;
    *omega = L->grid[L->arm];
    return NDE_OK;
}

/* Eigen-decomposition of the symmetric m×m S (destroyed) by cyclic Jacobi: S = Q Λ Qᵀ,
 * Q's columns the eigenvectors. */
static void sym_eig(size_t m, double *S, double *Q, double *lam)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++) Q[i * m + j] = i == j;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0, tot = 0.0;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++) {
                tot += S[i * m + j] * S[i * m + j];
                if (i != j) off += S[i * m + j] * S[i * m + j];
            }
        if (off <= 1e-30 * tot || off == 0.0) break;
        for (size_t p = 0; p < m; p++)
            for (size_t q = p + 1; q < m; q++) {
                const double apq = S[p * m + q];
                if (apq == 0.0) continue;
                const double th = (S[q * m + q] - S[p * m + p]) / (2.0 * apq);
                const double t = (th >= 0.0 ? 1.0 : -1.0) / (fabs(th) + sqrt(th * th + 1.0));
                const double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t k = 0; k < m; k++) { /* columns p, q */
                    const double skp = S[k * m + p], skq = S[k * m + q];
                    S[k * m + p] = c * skp - s * skq;
                    S[k * m + q] = s * skp + c * skq;
                }
                for (size_t k = 0; k < m; k++) { /* rows p, q */
                    const double spk = S[p * m + k], sqk = S[q * m + k];
                    S[p * m + k] = c * spk - s * sqk;
                    S[q * m + k] = s * spk + c * sqk;
                }
                for (size_t k = 0; k < m; k++) {
                    const double qkp = Q[k * m + p], qkq = Q[k * m + q];
                    Q[k * m + p] = c * qkp - s * qkq;
                    Q[k * m + q] = s * qkp + c * qkq;
                }
            }
    }
    for (size_t i = 0; i < m; i++) lam[i] = S[i * m + i];
}

/* Fit arm i: the minimum-norm least-squares θ of the normalized costs (c − 1)/scale on
 * the features (pseudo-inverse of the Gram matrix, eigenvalues below 1e-11 of the largest
 * dropped), then, when a bound |θ_j| ≤ ub_j is violated, the box-constrained least squares
 * by projected coordinate descent (lsqlin in ChebCB.m). Returns the residual ‖Fθ − y‖²
 * of a constrained fit, else −1. */
static double cheb_fit(nde_relax_learner *l, size_t i, const double *ub)
{
    const size_t m = l->m;
    double S[MAX_BINS * MAX_BINS], Q[MAX_BINS * MAX_BINS], lam[MAX_BINS], g[MAX_BINS];
    const double *G = l->G + i * m * m;
    double *th = l->theta + i * m;
    memcpy(S, G, m * m * sizeof(double));
    for (size_t j = 0; j < m; j++) g[j] = l->h[i * m + j] / l->scale;
    sym_eig(m, S, Q, lam);
    double lmax = 0.0;
    for (size_t j = 0; j < m; j++) lmax = fmax(lmax, lam[j]);
    for (size_t j = 0; j < m; j++) th[j] = 0.0;
    for (size_t e = 0; e < m; e++) {
        if (!(lam[e] > 1e-11 * lmax)) continue;
        double c = 0.0;
        for (size_t j = 0; j < m; j++) c += Q[j * m + e] * g[j];
        c /= lam[e];
        for (size_t j = 0; j < m; j++) th[j] += c * Q[j * m + e];
    }
    int viol = 0;
    for (size_t j = 0; j < m; j++)
        if (fabs(th[j]) > ub[j]) viol = 1;
    if (!viol) return -1.0;
    for (size_t j = 0; j < m; j++) th[j] = fmin(ub[j], fmax(-ub[j], th[j]));
    for (int sweep = 0; sweep < 2000; sweep++) {
        double change = 0.0;
        for (size_t j = 0; j < m; j++) {
            const double gjj = G[j * m + j];
            double v = th[j];
            if (gjj > 0.0) {
                double s = g[j];
                for (size_t k = 0; k < m; k++)
                    if (k != j) s -= G[j * m + k] * th[k];
                v = s / gjj;
            }
            v = fmin(ub[j], fmax(-ub[j], v));
            change = fmax(change, fabs(v - th[j]));
            th[j] = v;
        }
        if (change <= 1e-14) break;
    }
    double q = 0.0, lin = 0.0;
    for (size_t j = 0; j < m; j++) {
        lin += th[j] * g[j];
        for (size_t k = 0; k < m; k++) q += th[j] * G[j * m + k] * th[k];
    }
    return fmax(0.0, q - 2.0 * lin + l->yy[i] / (l->scale * l->scale));
}

static void cheb_update(nde_relax_learner *l, double cost)
{
    const size_t d = l->d, m = l->m, a = l->arm;
    const double w = l->spec.context_hi - l->spec.context_lo;
    for (size_t j = 0; j < m; j++) {
        l->h[a * m + j] += l->feat[j] * (cost - 1.0);
        for (size_t k = 0; k < m; k++) l->G[(a * m + j) * m + k] += l->feat[j] * l->feat[k];
    }
    l->yy[a] += (cost - 1.0) * (cost - 1.0);
    l->count[a]++;
    l->cmax = fmax(l->cmax, cost);
    l->cmin = fmin(l->cmin, cost);
    const double K = l->cmax > 0.0 ? l->cmax : 1.0;
    const double Lc = (l->cmax - l->cmin) / w;
    const double N = 2.0 + 4.0 * w * Lc / K * (1.0 + log((double)m));
    const int rescaled = l->scale != K * N;
    l->scale = K * N;
    double ub[MAX_BINS];
    ub[0] = 1.0 / N;
    for (size_t j = 1; j < m; j++) ub[j] = 2.0 * w * Lc / l->scale / (double)j;
    double resnorm = 0.0;
    for (size_t i = 0; i < d; i++) /* as ChebCB.m: every arm when the scale changed */
        if (l->count[i] && (rescaled || i == a)) {
            const double r = cheb_fit(l, i, ub);
            if (r >= 0.0) resnorm = r;
        }
    const double alpha = (NDE_PI + 2.0 / NDE_PI * log(2.0 * (double)m + 1.0)) /
                         (2.0 * l->scale * ((double)m + 1.0)) * w * Lc;
    l->spp += l->predicted * l->predicted;
    l->spl += l->predicted * cost;
    l->sll += cost * cost;
    const double R = l->spp - 2.0 * l->spl / l->scale + l->sll / (l->scale * l->scale);
    const double t = (double)l->t;
    double den = R - resnorm + 2.0 * alpha * alpha * t;
    if (!(den > 1e-300)) den = 1e-300;
    l->eta = 2.0 * t * sqrt((double)d * t / den);
    l->t++;
}

nde_status nde_relax_learner_update(nde_relax_learner *L, double cost)
{
    if (!L || !isfinite(cost) || cost < 0.0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_relax_learner_update: NULL learner or cost %g (need "
                        "finite and >= 0)", cost);
    if (!L->pending)
        return NDE_FAIL(NDE_ERR_STATE, "nde_relax_learner_update: no draw to update "
                        "(call nde_relax_learner_predict first)");
    L->pending = 0;
    if (L->spec.kind == NDE_RELAX_CHEBCB) {
        cheb_update(L, cost);
        return NDE_OK;
    }
    tsallis *s = &L->ts[L->bin];
    s->loss_sum += cost;
    s->t++;
    /* K_i += (c − 1)/p_i with the scale of the costs so far (this one included) */
    s->K[L->arm] += (cost - 1.0) / L->prob;
    return NDE_OK;
}
