/* The neural SDE as a model: forward = a stochastic solve on a fresh Brownian path drawn
 * from the model's generator, backward = the discrete adjoint on that same path (plus an
 * optional ERNSDE / SRNSDE regularizer on the same solve). */
#include <stdio.h>
#include <string.h>

#include "model/model_internal.h"
#include "nde/sde.h"
#include "sde/sde_internal.h"

typedef struct sde_model {
    nde_model *drift_model, *diff_model; /* owned */
    nde_field drift, gfield;             /* the two models' fields */
    nde_diffusion diff;                  /* wraps gfield */
    nde_sde_solver *train, *eval;
    nde_brownian *bm;                    /* the path of the last forward */
    size_t bm_batch;                     /* internal batch the path was made for */
    nde_rng rng;
    nde_reg *reg;                        /* borrowed */
    nde_sde_output output;
    nde_noise noise;
    int training, hold;
    int areas;                           /* the method reads space–time areas (its tree's) */
    size_t nt, dim, n_paths, depth;
    size_t n_drift;                      /* drift parameters (first in the store) */
    double *ts;                          /* (nt) */
    double *u0, *traj, *dl, *du0;        /* internal batch: (B, dim), (nt, B, dim) ×2, (B, dim) */
    double *zeros, *scratch;             /* additive noise: (B, dim) each */
    size_t cap;                          /* internal batch capacity */
    size_t last_batch;                   /* batch of the last training forward (0: none) */
    nde_sde_solver *last;                /* solver of the last forward */
    double reg_value;
    /* local ERNSDE (reg with a local aggregation): its draws come from rng; local_rng is
     * the generator's state before the last unheld forward's draws, replayed when holding */
    int local;                           /* 0, NDE_REG_LOCAL_UNBIASED or _BIASED */
    nde_rng local_rng;
    double *ts_solve;                    /* (nt + 1) save times with t_reg inserted */
    size_t ins;                          /* row of t_reg in the last training solve, or SIZE_MAX */
} sde_model;

/* ---- the diffusion model's field as an nde_diffusion ---- */

/* Additive noise: g does not depend on u, so it is evaluated at u = 0 (the model's zeros,
 * of its capacity); *u is left alone for the other noise types. */
static nde_status diff_point(sde_model *sm, const double **u, size_t batch)
{
    if (sm->noise != NDE_NOISE_ADDITIVE) return NDE_OK;
    if (batch > sm->cap)
        return NDE_FAIL(NDE_ERR_STATE, "neural SDE diffusion: batch %zu above capacity %zu", batch,
                        sm->cap);
    *u = sm->zeros;
    return NDE_OK;
}

static nde_status diff_g(void *ctx, double t, const double *u, double *gout, size_t batch)
{
    sde_model *sm = ctx;
    NDE_TRY(diff_point(sm, &u, batch));
    return sm->gfield.f(sm->gfield.ctx, t, u, gout, batch);
}

/* Additive noise: vu = 0, and θ's part at u = 0 (the vjp's u-part goes to scratch). */
static nde_status diff_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                           double *gtheta, size_t batch)
{
    sde_model *sm = ctx;
    if (sm->noise != NDE_NOISE_ADDITIVE)
        return sm->gfield.vjp(sm->gfield.ctx, t, u, v, vu, gtheta, batch);
    NDE_TRY(diff_point(sm, &u, batch));
    if (vu) memset(vu, 0, batch * sm->dim * sizeof *vu);
    if (!gtheta) return NDE_OK;
    return sm->gfield.vjp(sm->gfield.ctx, t, u, v, sm->scratch, gtheta, batch);
}

/* The same with the diffusion model's record (its field's f_rec / vjp_rec), so the
 * solver's stage tape can keep it. */
static nde_status diff_g_rec(void *ctx, double t, const double *u, double *gout, double *rec,
                             size_t batch)
{
    sde_model *sm = ctx;
    NDE_TRY(diff_point(sm, &u, batch));
    return sm->gfield.f_rec(sm->gfield.ctx, t, u, gout, rec, batch);
}

static nde_status diff_vjp_rec(void *ctx, double t, const double *u, const double *rec,
                               const double *v, double *vu, double *gtheta, size_t batch)
{
    sde_model *sm = ctx;
    if (sm->noise != NDE_NOISE_ADDITIVE)
        return sm->gfield.vjp_rec(sm->gfield.ctx, t, u, rec, v, vu, gtheta, batch);
    NDE_TRY(diff_point(sm, &u, batch));
    if (vu) memset(vu, 0, batch * sm->dim * sizeof *vu);
    if (!gtheta) return NDE_OK;
    return sm->gfield.vjp_rec(sm->gfield.ctx, t, u, rec, v, sm->scratch, gtheta, batch);
}

/* ---- parameters: one store, copied into the two wrapped models ---- */

static void sync_theta(sde_model *sm, nde_params *p)
{
    const double *th = nde_params_theta(p);
    nde_params *pd = nde_model_params(sm->drift_model), *pg = nde_model_params(sm->diff_model);
    if (sm->n_drift) memcpy(nde_params_theta(pd), th, sm->n_drift * sizeof *th);
    const size_t ng = nde_params_count(pg);
    if (ng) memcpy(nde_params_theta(pg), th + sm->n_drift, ng * sizeof *th);
}

static nde_status copy_tensors(nde_params *dst, nde_params *src, const char *prefix)
{
    for (size_t i = 0; i < nde_params_n_tensors(src); i++) {
        const nde_tensor_info *ti = nde_params_tensor(src, i);
        char name[NDE_PARAM_NAME_MAX];
        const int n = snprintf(name, sizeof name, "%s.%s", prefix, ti->name);
        if (n < 0 || (size_t)n >= sizeof name)
            return NDE_FAIL(NDE_ERR_ARG, "neural SDE: tensor name '%s.%s' longer than %d",
                            prefix, ti->name, NDE_PARAM_NAME_MAX - 1);
        size_t off;
        NDE_TRY(nde_params_add(dst, name, ti->ndim, ti->shape, ti->group, &off));
        memcpy(nde_params_theta(dst) + off, nde_params_theta(src) + ti->offset,
               ti->numel * sizeof(double));
    }
    return NDE_OK;
}

/* ---- ops ---- */

/* Drop row `ins` of a (rows, B·d) array in place (rows − 1 remain). */
static void drop_row(double *a, size_t rows, size_t ins, size_t row)
{
    memmove(a + ins * row, a + (ins + 1) * row, (rows - 1 - ins) * row * sizeof *a);
}

static nde_status sde_reserve(void *self, size_t max_batch)
{
    sde_model *sm = self;
    const size_t B = max_batch * sm->n_paths, d = sm->dim;
    if (B <= sm->cap) return NDE_OK;
    NDE_TRY(nde_model_reserve(sm->drift_model, B));
    NDE_TRY(nde_model_reserve(sm->diff_model, B));
    double *u0 = nde_alloc_array(B * d, sizeof *u0);
    double *traj = nde_alloc_array((sm->nt + 1) * B * d, sizeof *traj); /* +1: t_reg */
    double *dl = nde_alloc_array((sm->nt + 1) * B * d, sizeof *dl);
    double *du0 = nde_alloc_array(B * d, sizeof *du0);
    double *zeros = nde_alloc_array(B * d, sizeof *zeros);
    double *scratch = nde_alloc_array(B * d, sizeof *scratch);
    if (!u0 || !traj || !dl || !du0 || !zeros || !scratch) {
        nde_free(u0), nde_free(traj), nde_free(dl), nde_free(du0), nde_free(zeros), nde_free(scratch);
        return NDE_FAIL(NDE_ERR_NOMEM, "neural SDE: no room for %zu paths (%zu save times, dim %zu)",
                        B, sm->nt, d);
    }
    memset(zeros, 0, B * d * sizeof *zeros);
    nde_free(sm->u0), nde_free(sm->traj), nde_free(sm->dl), nde_free(sm->du0);
    nde_free(sm->zeros), nde_free(sm->scratch);
    sm->u0 = u0, sm->traj = traj, sm->dl = dl, sm->du0 = du0, sm->zeros = zeros, sm->scratch = scratch;
    sm->cap = B;
    return NDE_OK;
}

static nde_status sde_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    sde_model *sm = self;
    NDE_TRY(sde_reserve(sm, batch));
    sync_theta(sm, p);
    const size_t d = sm->dim, np = sm->n_paths, B = batch * np, nt = sm->nt;
    const size_t m = sm->noise == NDE_NOISE_SCALAR ? 1 : d;
    sm->last_batch = 0;
    sm->reg_value = 0.0;
    for (size_t b = 0; b < batch; b++)
        for (size_t q = 0; q < np; q++) memcpy(sm->u0 + (b * np + q) * d, x + b * d, d * sizeof *x);
    nde_sde_solver *s = sm->training ? sm->train : sm->eval;
    if (sm->hold) {
        if (!sm->bm || sm->bm_batch != B)
            return NDE_FAIL(NDE_ERR_STATE, "neural SDE: holding the path of a batch of %zu paths, "
                            "asked for %zu", sm->bm_batch, B);
    } else {
        if (sm->bm && sm->bm_batch == B) { /* a new path in the same tree's memory */
            NDE_TRY(nde_brownian_reseed(sm->bm, &sm->rng));
        } else {
            nde_brownian_destroy(&sm->bm);
            sm->bm_batch = 0;
            /* a tree of W only when the method never reads H: half the normals */
            NDE_TRY((sm->areas ? nde_brownian_create : nde_brownian_create_w)(
                &sm->rng, sm->ts[0], sm->ts[nt - 1], B * m, sm->depth, &sm->bm));
            sm->bm_batch = B;
        }
    }
    sm->last = s;
    /* local ERNSDE: draws from the live generator, or from its saved state when holding */
    const int local = sm->training && sm->local;
    nde_rng held;
    nde_rng *lg = &sm->rng;
    if (local) {
        if (sm->hold) {
            held = sm->local_rng;
            lg = &held;
        } else {
            sm->local_rng = sm->rng;
        }
    }
    const double *ts = sm->ts;
    size_t nt_solve = nt;
    double t_reg = 0.0;
    sm->ins = SIZE_MAX;
    if (local && sm->local == NDE_REG_LOCAL_UNBIASED) {
        size_t ins;
        NDE_TRY(nde_sde_local_draw_time(lg, sm->ts[0], sm->ts[nt - 1], &t_reg));
        NDE_TRY(nde_reg_insert_time(sm->ts, nt, t_reg, sm->ts_solve, &nt_solve, &ins));
        ts = sm->ts_solve;
        if (nt_solve > nt) sm->ins = ins;
    }
    NDE_TRY(nde_sde_solve(s, sm->bm, B, d, sm->u0, nt_solve, ts, sm->traj));
    if (local) NDE_TRY(nde_sde_local_select(s, sm->reg, lg, t_reg, NULL));
    if (sm->ins != SIZE_MAX) drop_row(sm->traj, nt_solve, sm->ins, B * d);
    if (sm->output == NDE_SDE_OUT_FINAL) {
        memcpy(y, sm->traj + (nt - 1) * batch * d, batch * d * sizeof *y);
    } else if (sm->output == NDE_SDE_OUT_TRAJECTORY) {
        for (size_t b = 0; b < batch; b++)      /* (nt, batch, dim) → (batch, nt, dim) */
            for (size_t k = 0; k < nt; k++)
                memcpy(y + (b * nt + k) * d, sm->traj + (k * batch + b) * d, d * sizeof *y);
    } else {
        for (size_t b = 0; b < batch; b++)
            for (size_t k = 0; k < nt; k++) {
                double *mean = y + (b * nt + k) * 2 * d, *var = mean + d;
                const double *u = sm->traj + (k * B + b * np) * d;
                for (size_t i = 0; i < d; i++) {
                    double s1 = 0.0;
                    for (size_t q = 0; q < np; q++) s1 += u[q * d + i];
                    const double mu = s1 / (double)np;
                    double s2 = 0.0;
                    for (size_t q = 0; q < np; q++) {
                        const double e = u[q * d + i] - mu;
                        s2 += e * e;
                    }
                    mean[i] = mu;
                    var[i] = s2 / (double)np;
                }
            }
    }
    if (sm->training) {
        if (sm->reg) NDE_TRY(nde_sde_reg_value(sm->reg, s, &sm->reg_value));
        sm->last_batch = batch;
    }
    return NDE_OK;
}

static nde_status sde_backward(void *self, nde_params *p, const double *gy, double *gx,
                               double *gtheta, size_t batch)
{
    sde_model *sm = self;
    if (sm->last_batch != batch)
        return NDE_FAIL(NDE_ERR_STATE, "neural SDE backward: no training forward of a batch of %zu "
                        "(last: %zu; evaluation-mode forwards keep no tape)", batch, sm->last_batch);
    const size_t d = sm->dim, np = sm->n_paths, B = batch * np, nt = sm->nt;
    if (sm->output == NDE_SDE_OUT_FINAL) {
        memset(sm->dl, 0, (nt - 1) * B * d * sizeof *sm->dl);
        memcpy(sm->dl + (nt - 1) * B * d, gy, B * d * sizeof *gy);
    } else if (sm->output == NDE_SDE_OUT_TRAJECTORY) {
        for (size_t b = 0; b < batch; b++)
            for (size_t k = 0; k < nt; k++)
                memcpy(sm->dl + (k * B + b) * d, gy + (b * nt + k) * d, d * sizeof *gy);
    } else {
        /* mean_i = Σ u_i/n, var_i = Σ (u_i − mean_i)²/n: ∂/∂u_qi = g_mean/n + 2 g_var (u_qi − mean_i)/n */
        for (size_t b = 0; b < batch; b++)
            for (size_t k = 0; k < nt; k++) {
                const double *gm = gy + (b * nt + k) * 2 * d, *gv = gm + d;
                const double *u = sm->traj + (k * B + b * np) * d;
                double *dl = sm->dl + (k * B + b * np) * d;
                for (size_t i = 0; i < d; i++) {
                    double s1 = 0.0;
                    for (size_t q = 0; q < np; q++) s1 += u[q * d + i];
                    const double mu = s1 / (double)np;
                    for (size_t q = 0; q < np; q++)
                        dl[q * d + i] = (gm[i] + 2.0 * gv[i] * (u[q * d + i] - mu)) / (double)np;
                }
            }
    }
    (void)p;
    if (sm->ins != SIZE_MAX) { /* the local regularizer's save time: no loss there */
        const size_t row = B * d;
        memmove(sm->dl + (sm->ins + 1) * row, sm->dl + sm->ins * row,
                (nt - sm->ins) * row * sizeof *sm->dl);
        memset(sm->dl + sm->ins * row, 0, row * sizeof *sm->dl);
    }
    double *gdrift = gtheta, *gdiff = gtheta ? gtheta + sm->n_drift : NULL;
    double *du0 = gx ? sm->du0 : NULL;
    if (sm->reg)
        NDE_TRY(nde_sde_adjoint_reg(sm->train, sm->dl, sm->reg, du0, gdrift, gdiff));
    else
        NDE_TRY(nde_sde_adjoint(sm->train, sm->dl, du0, gdrift, gdiff));
    if (gx) {
        for (size_t b = 0; b < batch; b++)
            for (size_t i = 0; i < d; i++) {
                double s = 0.0;
                for (size_t q = 0; q < np; q++) s += sm->du0[(b * np + q) * d + i];
                gx[b * d + i] = s;
            }
    }
    return NDE_OK;
}

static nde_status sde_init(void *self, nde_params *p, nde_rng *rng)
{
    sde_model *sm = self;
    NDE_TRY(nde_model_init(sm->drift_model, rng));
    NDE_TRY(nde_model_init(sm->diff_model, rng));
    double *th = nde_params_theta(p);
    nde_params *pd = nde_model_params(sm->drift_model), *pg = nde_model_params(sm->diff_model);
    if (sm->n_drift) memcpy(th, nde_params_theta(pd), sm->n_drift * sizeof *th);
    const size_t ng = nde_params_count(pg);
    if (ng) memcpy(th + sm->n_drift, nde_params_theta(pg), ng * sizeof *th);
    return NDE_OK;
}

static nde_status sde_set_training(void *self, int training)
{
    sde_model *sm = self;
    sm->training = training != 0;
    sm->last_batch = 0;
    sm->ins = SIZE_MAX;
    return NDE_OK;
}

static void sde_destroy(void *self)
{
    sde_model *sm = self;
    nde_sde_solver_destroy(&sm->train);
    nde_sde_solver_destroy(&sm->eval);
    nde_brownian_destroy(&sm->bm);
    nde_model_destroy(&sm->drift_model);
    nde_model_destroy(&sm->diff_model);
    nde_free(sm->ts), nde_free(sm->ts_solve), nde_free(sm->u0), nde_free(sm->traj);
    nde_free(sm->dl), nde_free(sm->du0);
    nde_free(sm->zeros), nde_free(sm->scratch);
    nde_free(sm);
}

static const nde_model_ops sde_ops = {.kind = "sde", .forward = sde_forward,
                                      .backward = sde_backward, .init = sde_init,
                                      .reserve = sde_reserve, .set_training = sde_set_training,
                                      .destroy = sde_destroy};

static nde_status sde_build(sde_model *sm, const nde_sde_model_spec *spec, nde_params *p)
{
    NDE_TRY(nde_model_field(sm->drift_model, &sm->drift));
    NDE_TRY(nde_field_check(&sm->drift, 1));
    NDE_TRY(nde_model_field(sm->diff_model, &sm->gfield));
    NDE_TRY(nde_field_check(&sm->gfield, 1));
    if (sm->drift.dim != sm->gfield.dim)
        return NDE_FAIL(NDE_ERR_SHAPE, "neural SDE: drift dim %zu, diffusion dim %zu",
                        sm->drift.dim, sm->gfield.dim);
    sm->dim = sm->drift.dim;
    nde_params *pd = nde_model_params(sm->drift_model), *pg = nde_model_params(sm->diff_model);
    sm->n_drift = nde_params_count(pd);
    if (sm->drift.n_params != sm->n_drift || sm->gfield.n_params != nde_params_count(pg))
        return NDE_FAIL(NDE_ERR_SHAPE, "neural SDE: field parameter counts %zu, %zu differ from "
                        "the stores' %zu, %zu", sm->drift.n_params, sm->gfield.n_params,
                        sm->n_drift, nde_params_count(pg));
    NDE_TRY(copy_tensors(p, pd, "drift"));
    NDE_TRY(copy_tensors(p, pg, "diffusion"));
    sm->diff = (nde_diffusion){.dim = sm->dim, .m = spec->noise == NDE_NOISE_SCALAR ? 1 : sm->dim,
                               .noise = spec->noise, .n_params = sm->gfield.n_params, .ctx = sm,
                               .g = diff_g, .vjp = diff_vjp};
    if (sm->gfield.f_rec) {
        sm->diff.rec_size = sm->gfield.rec_size;
        sm->diff.g_rec = diff_g_rec;
        sm->diff.vjp_rec = diff_vjp_rec;
    }
    sm->ts = nde_alloc_array(spec->nt, sizeof *sm->ts);
    sm->ts_solve = nde_alloc_array(spec->nt + 1, sizeof *sm->ts_solve);
    if (!sm->ts || !sm->ts_solve) return NDE_ERR_NOMEM;
    memcpy(sm->ts, spec->ts, spec->nt * sizeof *sm->ts);
    nde_sde_opts o = spec->solver;
    /* as the neural ODE: the stage tape (with the networks' records) by default, so the
     * reverse sweep runs no forward pass; step starts or checkpoints on request */
    if (o.tape == NDE_TAPE_NONE) o.tape = NDE_TAPE_STAGES;
    NDE_TRY(nde_sde_solver_create(&sm->drift, &sm->diff, &o, &sm->train));
    o.tape = NDE_TAPE_NONE;
    return nde_sde_solver_create(&sm->drift, &sm->diff, &o, &sm->eval);
}

nde_status nde_model_sde_create(nde_ctx *ctx, nde_model *drift_model, nde_model *diffusion_model,
                                const nde_sde_model_spec *spec, nde_model **out)
{
    (void)ctx;
    nde_status st = NDE_OK;
    if (!drift_model || !diffusion_model || !spec || !out || !spec->ts)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_sde_create: NULL argument");
    else if (spec->nt < 2)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_sde_create: %zu save times (need >= 2)", spec->nt);
    else if ((int)spec->output < NDE_SDE_OUT_TRAJECTORY || spec->output > NDE_SDE_OUT_MOMENTS)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_sde_create: unknown output %d", (int)spec->output);
    else if (spec->output == NDE_SDE_OUT_MOMENTS && spec->n_paths < 2)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_sde_create: moments over %zu paths (need >= 2)",
                      spec->n_paths);
    else if (spec->noise == NDE_NOISE_GENERAL)
        st = NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_model_sde_create: general noise needs a (dim, m) "
                      "diffusion, which a vector-field model cannot give; use diagonal, scalar or additive");
    else if ((int)spec->noise < 0 || spec->noise >= NDE_NOISE_COUNT)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_sde_create: unknown noise type %d", (int)spec->noise);
    else if (spec->reg && !nde_sde_method_is_adaptive(spec->solver.method))
        st = NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_model_sde_create: the regularizer needs the "
                      "error estimate of an adaptive method (sriw1, sosri, sosri2, sra1, sosra), "
                      "not %s", nde_sde_method_name(spec->solver.method));
    sde_model *sm = st == NDE_OK ? nde_alloc(sizeof *sm) : NULL;
    if (st == NDE_OK && !sm) st = NDE_ERR_NOMEM;
    nde_params *p = NULL;
    if (st == NDE_OK) {
        *sm = (sde_model){.drift_model = drift_model, .diff_model = diffusion_model,
                          .reg = spec->reg, .output = spec->output, .noise = spec->noise,
                          .training = 1, .nt = spec->nt, .depth = spec->tree_depth,
                          .n_paths = spec->output == NDE_SDE_OUT_MOMENTS ? spec->n_paths : 1};
        drift_model = diffusion_model = NULL;
        /* tree depth 0: just deep enough that every step end of a fixed-step solve has
         * its own leaf (exact joint law of the increments used, fewer levels per query) */
        if (!sm->depth) sm->depth = nde_sde_fixed_step_depth(&spec->solver, spec->ts, spec->nt);
        sm->areas = nde_sde_needs_area(spec->solver.method);
        nde_rng_seed(&sm->rng, spec->seed);
        sm->ins = SIZE_MAX;
        const nde_reg_spec *rs = spec->reg ? nde_reg_get_spec(spec->reg) : NULL;
        if (rs && (rs->agg == NDE_REG_LOCAL_UNBIASED || rs->agg == NDE_REG_LOCAL_BIASED))
            sm->local = (int)rs->agg;
        st = nde_params_create(&p);
        if (st == NDE_OK) st = sde_build(sm, spec, p);
        if (st != NDE_OK) {
            sde_destroy(sm);
            nde_params_destroy(&p);
        }
    }
    if (st != NDE_OK) {
        nde_model_destroy(&drift_model);
        nde_model_destroy(&diffusion_model);
        if (out) *out = NULL;
        return st;
    }
    const size_t d = sm->dim;
    const size_t out_size = spec->output == NDE_SDE_OUT_FINAL ? d
                            : spec->output == NDE_SDE_OUT_TRAJECTORY ? sm->nt * d
                                                                    : sm->nt * 2 * d;
    return nde_model_create(&sde_ops, sm, p, d, out_size, out);
}

static sde_model *as_sde(nde_model *m) { return nde_model_content_of(m, &sde_ops); }

nde_sde_solver *nde_model_sde_solver(nde_model *m)
{
    sde_model *sm = as_sde(m);
    return sm ? sm->train : NULL;
}

nde_sde_solver *nde_model_sde_eval_solver(nde_model *m)
{
    sde_model *sm = as_sde(m);
    return sm ? sm->eval : NULL;
}

double nde_model_sde_reg_value(const nde_model *m)
{
    sde_model *sm = as_sde((nde_model *)m);
    return sm ? sm->reg_value : 0.0;
}

nde_status nde_model_sde_hold(nde_model *m, int hold)
{
    sde_model *sm = as_sde(m);
    if (!sm) return NDE_FAIL(NDE_ERR_ARG, "nde_model_sde_hold: not a neural SDE model");
    if (!hold) {
        sm->hold = 0;
        nde_sde_unfreeze_steps(sm->train);
        nde_sde_unfreeze_steps(sm->eval);
        return NDE_OK;
    }
    if (!sm->bm || !sm->last)
        return NDE_FAIL(NDE_ERR_STATE, "nde_model_sde_hold: no forward whose path to hold");
    NDE_TRY(nde_sde_freeze_steps(sm->last));
    sm->hold = 1;
    return NDE_OK;
}

nde_status nde_model_sde_reseed(nde_model *m, uint64_t seed)
{
    sde_model *sm = as_sde(m);
    if (!sm) return NDE_FAIL(NDE_ERR_ARG, "nde_model_sde_reseed: not a neural SDE model");
    nde_rng_seed(&sm->rng, seed);
    return NDE_OK;
}

nde_model *nde_model_sde_drift_model(nde_model *m)
{
    sde_model *sm = as_sde(m);
    return sm ? sm->drift_model : NULL;
}

nde_model *nde_model_sde_diffusion_model(nde_model *m)
{
    sde_model *sm = as_sde(m);
    return sm ? sm->diff_model : NULL;
}
