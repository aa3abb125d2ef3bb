/* NeuralStagger (Huang et al., ICML 2023): the decomposition layer, the staggered model of
 * coarse sub-solvers and the finite-difference residual loss of viscous Burgers. */
#include <stdio.h>
#include <string.h>

#include "model/model_internal.h"
#include "nde/stagger.h"

/* ---- decomposition ---------------------------------------------------------------- */

nde_status nde_stagger_check(const nde_stagger_grid *g)
{
    if (!g) return NDE_FAIL(NDE_ERR_ARG, "stagger grid: NULL");
    if (g->ndim != 1 && g->ndim != 2)
        return NDE_FAIL(NDE_ERR_ARG, "stagger grid: ndim %d (need 1 or 2)", g->ndim);
    if (g->channels == 0) return NDE_FAIL(NDE_ERR_ARG, "stagger grid: channels 0");
    if (g->nt == 0 || g->s_t == 0 || g->nt % g->s_t)
        return NDE_FAIL(NDE_ERR_ARG, "stagger grid: nt %zu, s_t %zu (need s_t > 0 dividing nt > 0)",
                        g->nt, g->s_t);
    for (int d = 0; d < g->ndim; d++)
        if (g->n[d] == 0 || g->s[d] == 0 || g->n[d] % g->s[d])
            return NDE_FAIL(NDE_ERR_ARG,
                            "stagger grid: n[%d] %zu, s[%d] %zu (need s > 0 dividing n > 0)", d,
                            g->n[d], d, g->s[d]);
    /* the sizes must fit a size_t */
    size_t total = g->channels, f[3] = {g->nt, g->n[0], g->ndim == 2 ? g->n[1] : 1};
    for (int i = 0; i < 3; i++) {
        if (total > SIZE_MAX / f[i])
            return NDE_FAIL(NDE_ERR_ARG, "stagger grid: %zu channels × %zu × %zu × %zu overflows",
                            g->channels, f[0], f[1], f[2]);
        total *= f[i];
    }
    return NDE_OK;
}

static int grid_ok(const nde_stagger_grid *g)
{
    if (!g) return 0;
    nde_status st = nde_stagger_check(g);
    if (st != NDE_OK) nde_clear_error();
    return st == NDE_OK;
}

size_t nde_stagger_n_sub(const nde_stagger_grid *g)
{
    if (!grid_ok(g)) return 0;
    return g->s_t * g->s[0] * (g->ndim == 2 ? g->s[1] : 1);
}

size_t nde_stagger_fine_size(const nde_stagger_grid *g)
{
    if (!grid_ok(g)) return 0;
    return g->channels * g->nt * g->n[0] * (g->ndim == 2 ? g->n[1] : 1);
}

size_t nde_stagger_sub_size(const nde_stagger_grid *g)
{
    if (!grid_ok(g)) return 0;
    return g->channels * (g->nt / g->s_t) * (g->n[0] / g->s[0]) *
           (g->ndim == 2 ? g->n[1] / g->s[1] : 1);
}

/* dir 0: sub ← fine (decompose); dir 1: fine ← sub (arrange). One index map both ways. */
static nde_status permute(const nde_stagger_grid *g, const double *src, double *dst, size_t batch,
                          int dir, const char *what)
{
    if (!g || !src || !dst || batch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "%s: NULL argument or batch 0", what);
    nde_status st = nde_stagger_check(g);
    if (st != NDE_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", nde_last_error());
        return NDE_FAIL(st, "%s: %s", what, msg);
    }
    const size_t C = g->channels, nt = g->nt, st_ = g->s_t;
    const size_t n0 = g->n[0], s0 = g->s[0];
    const size_t n1 = g->ndim == 2 ? g->n[1] : 1, s1 = g->ndim == 2 ? g->s[1] : 1;
    const size_t ct = nt / st_, c0 = n0 / s0, c1 = n1 / s1;
    const size_t fine_size = C * nt * n0 * n1, sub_size = C * ct * c0 * c1;
    for (size_t a = 0; a < st_; a++)
        for (size_t b0 = 0; b0 < s0; b0++)
            for (size_t b1 = 0; b1 < s1; b1++) {
                const size_t k = (a * s0 + b0) * s1 + b1;
                for (size_t bt = 0; bt < batch; bt++) {
                    const size_t fbase = bt * fine_size, sbase = (k * batch + bt) * sub_size;
                    size_t si = sbase;
                    for (size_t c = 0; c < C; c++)
                        for (size_t tau = 0; tau < ct; tau++)
                            for (size_t i = 0; i < c0; i++) {
                                const size_t frow =
                                    fbase + ((c * nt + a + st_ * tau) * n0 + b0 + s0 * i) * n1 + b1;
                                if (dir == 0)
                                    for (size_t j = 0; j < c1; j++) dst[si++] = src[frow + s1 * j];
                                else
                                    for (size_t j = 0; j < c1; j++) dst[frow + s1 * j] = src[si++];
                            }
                }
            }
    return NDE_OK;
}

nde_status nde_stagger_decompose(const nde_stagger_grid *g, const double *fine, double *sub,
                                 size_t batch)
{
    return permute(g, fine, sub, batch, 0, "nde_stagger_decompose");
}

nde_status nde_stagger_arrange(const nde_stagger_grid *g, const double *sub, double *fine,
                               size_t batch)
{
    return permute(g, sub, fine, batch, 1, "nde_stagger_arrange");
}

nde_status nde_stagger_decompose_vjp(const nde_stagger_grid *g, const double *gsub, double *gfine,
                                     size_t batch)
{
    /* D is a permutation P, so Dᵀ = P⁻¹ = the arrangement */
    return permute(g, gsub, gfine, batch, 1, "nde_stagger_decompose_vjp");
}

nde_status nde_stagger_arrange_vjp(const nde_stagger_grid *g, const double *gfine, double *gsub,
                                   size_t batch)
{
    return permute(g, gfine, gsub, batch, 0, "nde_stagger_arrange_vjp");
}

/* ---- the staggered model ------------------------------------------------------------ */

typedef struct stagger_model {
    nde_stagger_model_spec spec;
    size_t n_sub, n_models, sub_size, fine_size;
    nde_model **subs;  /* owned */
    size_t *base;      /* offset of sub-solver k's θ block in the staggered store */
    size_t cap;        /* batch the work arrays hold */
    double *xs, *ys, *gs; /* (n_sub, cap, sub_size) each */
    size_t last_batch;
} stagger_model;

static void stagger_destroy(void *self)
{
    stagger_model *sm = self;
    if (!sm) return;
    for (size_t k = 0; k < sm->n_models; k++) nde_model_destroy(&sm->subs[k]);
    nde_free(sm->subs);
    nde_free(sm->base);
    nde_free(sm->xs), nde_free(sm->ys), nde_free(sm->gs);
    nde_free(sm);
}

static nde_status stagger_reserve(void *self, size_t max_batch)
{
    stagger_model *sm = self;
    if (max_batch <= sm->cap) return NDE_OK;
    if (max_batch > SIZE_MAX / sm->n_sub / sm->sub_size)
        return NDE_FAIL(NDE_ERR_ARG, "stagger model: batch %zu too large", max_batch);
    const size_t len = sm->n_sub * max_batch * sm->sub_size;
    double *xs = nde_alloc_array(len, sizeof *xs), *ys = nde_alloc_array(len, sizeof *ys),
           *gs = nde_alloc_array(len, sizeof *gs);
    if (!xs || !ys || !gs) {
        nde_free(xs), nde_free(ys), nde_free(gs);
        return NDE_FAIL(NDE_ERR_NOMEM, "stagger model: work arrays for batch %zu", max_batch);
    }
    nde_free(sm->xs), nde_free(sm->ys), nde_free(sm->gs);
    sm->xs = xs, sm->ys = ys, sm->gs = gs, sm->cap = max_batch;
    for (size_t k = 0; k < sm->n_models; k++)
        NDE_TRY(nde_model_reserve(sm->subs[k], sm->n_models == 1 ? sm->n_sub * max_batch : max_batch));
    return NDE_OK;
}

/* copy the staggered θ into every sub-solver's own store */
static void push_theta(stagger_model *sm, nde_params *p)
{
    const double *th = nde_params_theta_const(p);
    for (size_t k = 0; k < sm->n_models; k++) {
        nde_params *sp = nde_model_params(sm->subs[k]);
        const size_t np = nde_params_count(sp);
        if (np) memcpy(nde_params_theta(sp), th + sm->base[k], np * sizeof *th);
    }
}

static nde_status stagger_forward(void *self, nde_params *p, const double *x, double *y,
                                  size_t batch)
{
    stagger_model *sm = self;
    NDE_TRY(stagger_reserve(sm, batch));
    push_theta(sm, p);
    NDE_TRY(nde_stagger_decompose(&sm->spec.grid, x, sm->xs, batch));
    const size_t blk = batch * sm->sub_size;
    if (sm->n_models == 1) {
        NDE_TRY(nde_model_forward(sm->subs[0], sm->xs, sm->ys, sm->n_sub * batch));
    } else {
        for (size_t k = 0; k < sm->n_sub; k++)
            NDE_TRY(nde_model_forward(sm->subs[k], sm->xs + k * blk, sm->ys + k * blk, batch));
    }
    if (sm->spec.residual)
        for (size_t i = 0; i < sm->n_sub * blk; i++) sm->ys[i] += sm->xs[i];
    sm->last_batch = batch;
    return nde_stagger_arrange(&sm->spec.grid, sm->ys, y, batch);
}

static nde_status stagger_backward(void *self, nde_params *p, const double *gy, double *gx,
                                   double *gtheta, size_t batch)
{
    (void)p;
    stagger_model *sm = self;
    if (batch != sm->last_batch)
        return NDE_FAIL(NDE_ERR_STATE, "stagger model: backward on batch %zu after forward on %zu",
                        batch, sm->last_batch);
    /* ∂y/∂ys is the arrangement, whose VJP is the decomposition */
    NDE_TRY(nde_stagger_arrange_vjp(&sm->spec.grid, gy, sm->gs, batch));
    const size_t blk = batch * sm->sub_size;
    double *gxs = gx ? sm->xs : NULL; /* the inputs are not needed any more */
    if (sm->n_models == 1) {
        NDE_TRY(nde_model_backward(sm->subs[0], sm->gs, gxs, gtheta ? gtheta + sm->base[0] : NULL,
                                   sm->n_sub * batch));
    } else {
        for (size_t k = 0; k < sm->n_sub; k++)
            NDE_TRY(nde_model_backward(sm->subs[k], sm->gs + k * blk, gxs ? gxs + k * blk : NULL,
                                       gtheta ? gtheta + sm->base[k] : NULL, batch));
    }
    if (!gx) return NDE_OK;
    if (sm->spec.residual)
        for (size_t i = 0; i < sm->n_sub * blk; i++) gxs[i] += sm->gs[i];
    /* x → xs is the decomposition, whose VJP is the arrangement */
    return nde_stagger_decompose_vjp(&sm->spec.grid, gxs, gx, batch);
}

static nde_status stagger_init(void *self, nde_params *p, nde_rng *rng)
{
    stagger_model *sm = self;
    double *th = nde_params_theta(p);
    for (size_t k = 0; k < sm->n_models; k++) {
        NDE_TRY(nde_model_init(sm->subs[k], rng));
        nde_params *sp = nde_model_params(sm->subs[k]);
        const size_t np = nde_params_count(sp);
        if (np) memcpy(th + sm->base[k], nde_params_theta_const(sp), np * sizeof *th);
    }
    return NDE_OK;
}

static nde_status stagger_set_training(void *self, int training)
{
    stagger_model *sm = self;
    for (size_t k = 0; k < sm->n_models; k++) NDE_TRY(nde_model_set_training(sm->subs[k], training));
    return NDE_OK;
}

static const nde_model_ops stagger_ops = {.kind = "stagger", .forward = stagger_forward,
                                          .backward = stagger_backward, .init = stagger_init,
                                          .reserve = stagger_reserve,
                                          .set_training = stagger_set_training,
                                          .destroy = stagger_destroy};

nde_status nde_model_stagger_create(const nde_stagger_model_spec *spec, nde_model **subs,
                                    size_t n_subs, nde_model **out)
{
    nde_status st = NDE_OK;
    if (!spec || !subs || !out) {
        if (subs)
            for (size_t k = 0; k < n_subs; k++) nde_model_destroy(&subs[k]);
        if (out) *out = NULL;
        return NDE_FAIL(NDE_ERR_ARG, "nde_model_stagger_create: NULL argument");
    }
    *out = NULL;
    stagger_model *sm = NULL;
    nde_params *p = NULL;
    if ((st = nde_stagger_check(&spec->grid)) != NDE_OK) goto fail;
    const size_t n_sub = nde_stagger_n_sub(&spec->grid);
    if (n_subs != 1 && n_subs != n_sub) {
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_stagger_create: %zu sub-solvers for %zu sub-fields "
                                   "(need %zu, or 1 shared)", n_subs, n_sub, n_sub);
        goto fail;
    }
    sm = nde_alloc(sizeof *sm);
    if (!sm) { st = NDE_FAIL(NDE_ERR_NOMEM, "nde_model_stagger_create"); goto fail; }
    memset(sm, 0, sizeof *sm);
    sm->spec = *spec;
    sm->n_sub = n_sub, sm->n_models = n_subs;
    sm->sub_size = nde_stagger_sub_size(&spec->grid);
    sm->fine_size = nde_stagger_fine_size(&spec->grid);
    sm->subs = nde_alloc_array(n_subs, sizeof *sm->subs);
    sm->base = nde_alloc_array(n_subs, sizeof *sm->base);
    if (!sm->subs || !sm->base) {
        nde_free(sm->subs), nde_free(sm->base);
        nde_free(sm), sm = NULL;
        st = NDE_FAIL(NDE_ERR_NOMEM, "nde_model_stagger_create");
        goto fail;
    }
    for (size_t k = 0; k < n_subs; k++) sm->subs[k] = subs[k], subs[k] = NULL;
    for (size_t k = 0; k < n_subs; k++) {
        if (!sm->subs[k]) {
            st = NDE_FAIL(NDE_ERR_ARG, "nde_model_stagger_create: sub-solver %zu is NULL", k);
            goto fail;
        }
        const size_t in = nde_model_in_size(sm->subs[k]), o = nde_model_out_size(sm->subs[k]);
        if (in != sm->sub_size || o != sm->sub_size) {
            st = NDE_FAIL(NDE_ERR_ARG, "nde_model_stagger_create: sub-solver %zu ('%s') maps %zu → "
                                       "%zu doubles, the sub-fields have %zu", k,
                          nde_model_kind(sm->subs[k]), in, o, sm->sub_size);
            goto fail;
        }
    }
    if ((st = nde_params_create(&p)) != NDE_OK) goto fail;
    for (size_t k = 0; k < n_subs; k++) {
        nde_params *sp = nde_model_params(sm->subs[k]);
        sm->base[k] = nde_params_count(p);
        for (size_t t = 0; t < nde_params_n_tensors(sp); t++) {
            const nde_tensor_info *ti = nde_params_tensor(sp, t);
            char name[NDE_PARAM_NAME_MAX];
            int len = snprintf(name, sizeof name, "sub%zu.%s", k, ti->name);
            if (len < 0 || (size_t)len >= sizeof name) {
                st = NDE_FAIL(NDE_ERR_ARG, "nde_model_stagger_create: tensor name 'sub%zu.%s' longer "
                                           "than %d characters", k, ti->name, NDE_PARAM_NAME_MAX - 1);
                goto fail;
            }
            size_t off;
            if ((st = nde_params_add(p, name, ti->ndim, ti->shape, ti->group, &off)) != NDE_OK) goto fail;
            if (off != sm->base[k] + ti->offset) {
                st = NDE_FAIL(NDE_ERR_STATE, "nde_model_stagger_create: sub-solver %zu's tensor '%s' "
                                             "is not where its store's layout puts it", k, ti->name);
                goto fail;
            }
        }
        if (nde_params_count(p) - sm->base[k] != nde_params_count(sp)) {
            st = NDE_FAIL(NDE_ERR_STATE, "nde_model_stagger_create: sub-solver %zu's store has %zu "
                                         "parameters outside its tensors", k, nde_params_count(sp));
            goto fail;
        }
        /* θ as the sub-solver has it now (e.g. loaded before wrapping) */
        if (nde_params_count(sp))
            memcpy(nde_params_theta(p) + sm->base[k], nde_params_theta_const(sp),
                   nde_params_count(sp) * sizeof(double));
    }
    return nde_model_create(&stagger_ops, sm, p, sm->fine_size, sm->fine_size, out);
fail:
    for (size_t k = 0; k < n_subs; k++) nde_model_destroy(&subs[k]);
    stagger_destroy(sm);
    nde_params_destroy(&p);
    return st;
}

size_t nde_model_stagger_n_models(nde_model *m)
{
    stagger_model *sm = nde_model_content_of(m, &stagger_ops);
    return sm ? sm->n_models : 0;
}

nde_model *nde_model_stagger_sub(nde_model *m, size_t k)
{
    stagger_model *sm = nde_model_content_of(m, &stagger_ops);
    return sm && k < sm->n_models ? sm->subs[k] : NULL;
}

const nde_stagger_model_spec *nde_model_stagger_spec(nde_model *m)
{
    stagger_model *sm = nde_model_content_of(m, &stagger_ops);
    return sm ? &sm->spec : NULL;
}

/* ---- the Burgers residual loss -------------------------------------------------------- */

nde_status nde_burgers_residual_check(const nde_burgers_residual_spec *s)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "burgers residual: NULL spec");
    if (s->n < 3) return NDE_FAIL(NDE_ERR_ARG, "burgers residual: n %zu (need ≥ 3)", s->n);
    if (s->nt == 0) return NDE_FAIL(NDE_ERR_ARG, "burgers residual: nt 0");
    if (!(s->length > 0) || !(s->length < 1e300))
        return NDE_FAIL(NDE_ERR_ARG, "burgers residual: length %g (need finite > 0)", s->length);
    if (!(s->dt > 0) || !(s->dt < 1e300))
        return NDE_FAIL(NDE_ERR_ARG, "burgers residual: dt %g (need finite > 0)", s->dt);
    if (!(s->nu >= 0) || !(s->nu < 1e300))
        return NDE_FAIL(NDE_ERR_ARG, "burgers residual: nu %g (need finite ≥ 0)", s->nu);
    if (!(s->theta >= 0 && s->theta <= 1))
        return NDE_FAIL(NDE_ERR_ARG, "burgers residual: theta %g (need 0 ≤ θ ≤ 1)", s->theta);
    if (s->nt > SIZE_MAX / s->n) return NDE_FAIL(NDE_ERR_ARG, "burgers residual: nt·n overflows");
    return NDE_OK;
}

/* L(u)_j, periodic */
static inline double burgers_l(const double *u, size_t n, size_t j, double c1, double c2)
{
    const double um = u[j ? j - 1 : n - 1], up = u[j + 1 < n ? j + 1 : 0];
    return c1 * (up * up - um * um) - c2 * (up - 2.0 * u[j] + um);
}

/* g (n) += w·J(u)ᵀ r: the transpose of the Jacobian of L at u applied to r */
static inline void burgers_lt(const double *u, const double *r, size_t n, double c1, double c2,
                              double w, double *g)
{
    for (size_t i = 0; i < n; i++) {
        const double rm = r[i ? i - 1 : n - 1], rp = r[i + 1 < n ? i + 1 : 0];
        /* L_{i−1} has +c1 u_i², L_{i+1} has −c1 u_i²; each has −c2 u_i, L_i has +2 c2 u_i */
        g[i] += w * (rm * (2.0 * c1 * u[i] - c2) + rp * (-2.0 * c1 * u[i] - c2) + 2.0 * c2 * r[i]);
    }
}

nde_status nde_burgers_residual(const nde_burgers_residual_spec *s, const double *u0,
                                const double *u, double *r, size_t batch)
{
    if (!s || !u0 || !u || !r || batch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_burgers_residual: NULL argument or batch 0");
    NDE_TRY(nde_burgers_residual_check(s));
    const size_t n = s->n, nt = s->nt;
    const double dx = s->length / (double)n, c1 = 1.0 / (4.0 * dx), c2 = s->nu / (dx * dx);
    const double wn = s->dt * s->theta, wo = s->dt * (1.0 - s->theta);
    for (size_t b = 0; b < batch; b++)
        for (size_t k = 0; k < nt; k++) {
            const double *cur = u + (b * nt + k) * n;
            const double *prev = k ? cur - n : u0 + b * n;
            double *rk = r + (b * nt + k) * n;
            for (size_t j = 0; j < n; j++)
                rk[j] = cur[j] - prev[j] + wn * burgers_l(cur, n, j, c1, c2) +
                        wo * burgers_l(prev, n, j, c1, c2);
        }
    return NDE_OK;
}

static nde_status burgers_loss_fn(void *ctx, const double *pred, const double *target,
                                  double *grad, size_t batch, size_t size, double *value)
{
    const nde_burgers_residual_spec *s = ctx;
    NDE_TRY(nde_burgers_residual_check(s));
    const size_t n = s->n, nt = s->nt;
    if (size != nt * n)
        return NDE_FAIL(NDE_ERR_ARG, "burgers residual loss: prediction of %zu values per sample, "
                                     "the spec has nt %zu × n %zu", size, nt, n);
    if (!pred || !target || !value || batch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "burgers residual loss: NULL argument or batch 0");
    const double dx = s->length / (double)n, c1 = 1.0 / (4.0 * dx), c2 = s->nu / (dx * dx);
    const double wn = s->dt * s->theta, wo = s->dt * (1.0 - s->theta);
    const double scale = 1.0 / ((double)batch * (double)size);
    double *r = nde_alloc_array(n, sizeof *r);
    if (!r) return NDE_FAIL(NDE_ERR_NOMEM, "burgers residual loss: %zu doubles", n);
    if (grad) memset(grad, 0, batch * size * sizeof *grad);
    double total = 0.0;
    for (size_t b = 0; b < batch; b++)
        for (size_t k = 0; k < nt; k++) {
            const double *cur = pred + (b * nt + k) * n;
            const double *prev = k ? cur - n : target + (b * nt + nt - 1) * n;
            for (size_t j = 0; j < n; j++) {
                r[j] = cur[j] - prev[j] + wn * burgers_l(cur, n, j, c1, c2) +
                       wo * burgers_l(prev, n, j, c1, c2);
                total += r[j] * r[j];
            }
            if (!grad) continue;
            /* ∂/∂u^k of Σ R^k² and, for k > 0, ∂/∂u^{k−1} */
            const double w = 2.0 * scale;
            double *gk = grad + (b * nt + k) * n;
            for (size_t j = 0; j < n; j++) gk[j] += w * r[j];
            burgers_lt(cur, r, n, c1, c2, w * wn, gk);
            if (k) {
                double *gp = gk - n;
                for (size_t j = 0; j < n; j++) gp[j] -= w * r[j];
                burgers_lt(prev, r, n, c1, c2, w * wo, gp);
            }
        }
    nde_free(r);
    *value = total * scale;
    return NDE_OK;
}

nde_loss nde_loss_burgers_residual(const nde_burgers_residual_spec *spec)
{
    nde_burgers_residual_spec *ctx = (nde_burgers_residual_spec *)(uintptr_t)spec;
    return (nde_loss){.fn = burgers_loss_fn, .ctx = ctx, .reduction = NDE_LOSS_MEAN,
                      .name = "burgers_residual", .target_size = spec ? spec->nt * spec->n : 0};
}
