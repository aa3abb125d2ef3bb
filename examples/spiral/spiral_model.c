/* The spiral neural ODE: truth, model, batches and one training iteration. */
#include "spiral_model.h"

#include <math.h>
#include <string.h>

#include "nde/nn.h"
#include "nde/optim.h"

static const double A[2][2] = {{-0.1, 2.0}, {-2.0, -0.1}};

struct spiral {
    spiral_cfg cfg;
    nde_rng rng;
    double *t;          /* (data_size) */
    double *truth;      /* (data_size, 2) */
    nde_params *params;
    nde_mlp *net;
    nde_field field;    /* f(t, u) = MLP(u³) */
    nde_solver *train;  /* tape on, for the training solves */
    nde_solver *eval;   /* tape off, for full trajectories */
    nde_optim *opt;
    nde_reg *reg;       /* NULL unless cfg.reg */
    double *cube, *dcube;            /* (data_size·2) scratch: u³ and its cotangent */
    size_t *perm;                    /* (data_size − batch_time) window starts */
    double *y0, *target, *pred, *dl; /* batch buffers */
};

/* du/dt = (u³) A: the row vector u³ times A. */
static nde_status truth_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t b = 0; b < batch; b++) {
        double x = u[2 * b] * u[2 * b] * u[2 * b], y = u[2 * b + 1] * u[2 * b + 1] * u[2 * b + 1];
        du[2 * b] = x * A[0][0] + y * A[1][0];
        du[2 * b + 1] = x * A[0][1] + y * A[1][1];
    }
    return NDE_OK;
}

static nde_status model_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    spiral *sp = ctx;
    for (size_t i = 0; i < 2 * batch; i++) sp->cube[i] = u[i] * u[i] * u[i];
    return nde_mlp_forward(sp->net, sp->params, t, sp->cube, du, batch);
}

/* vᵀ ∂f/∂u = (vᵀ ∂MLP/∂x)(x = u³) ⊙ 3u²; vᵀ ∂f/∂θ straight from the MLP. */
static nde_status model_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                            double *gtheta, size_t batch)
{
    spiral *sp = ctx;
    for (size_t i = 0; i < 2 * batch; i++) sp->cube[i] = u[i] * u[i] * u[i];
    NDE_TRY(nde_mlp_vjp(sp->net, sp->params, t, sp->cube, v, vu ? sp->dcube : NULL, gtheta,
                        batch));
    if (vu)
        for (size_t i = 0; i < 2 * batch; i++) vu[i] = sp->dcube[i] * 3.0 * u[i] * u[i];
    return NDE_OK;
}

/* The same evaluation keeping the MLP's activations in rec, so the adjoint does not
 * run the network forward a second time. */
static nde_status model_f_rec(void *ctx, double t, const double *u, double *du, double *rec,
                              size_t batch)
{
    spiral *sp = ctx;
    for (size_t i = 0; i < 2 * batch; i++) sp->cube[i] = u[i] * u[i] * u[i];
    return nde_mlp_forward_rec(sp->net, sp->params, t, sp->cube, du, rec, batch);
}

static nde_status model_vjp_rec(void *ctx, double t, const double *u, const double *rec,
                                const double *v, double *vu, double *gtheta, size_t batch)
{
    spiral *sp = ctx;
    for (size_t i = 0; i < 2 * batch; i++) sp->cube[i] = u[i] * u[i] * u[i];
    NDE_TRY(nde_mlp_vjp_rec(sp->net, sp->params, t, sp->cube, rec, v, vu ? sp->dcube : NULL,
                            gtheta, batch));
    if (vu)
        for (size_t i = 0; i < 2 * batch; i++) vu[i] = sp->dcube[i] * 3.0 * u[i] * u[i];
    return NDE_OK;
}

spiral_cfg spiral_defaults(void)
{
    return (spiral_cfg){.data_size = 1000, .batch_time = 10, .batch_size = 20, .t_end = 25.0,
                        .method = NDE_DOPRI5, .rtol = 1e-7, .atol = 1e-9,
                        .tape = NDE_TAPE_STAGES, .lr = 1e-3, .seed = 0};
}

static nde_status make_truth(spiral *sp)
{
    nde_field f = {.dim = 2, .f = truth_f};
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    nde_solver *s;
    NDE_TRY(nde_solver_create(NULL, &f, &o, &s));
    double u0[2] = {2.0, 0.0};
    nde_status st = nde_solve(s, 1, 2, u0, sp->cfg.data_size, sp->t, sp->truth);
    nde_solver_destroy(&s);
    return st;
}

static nde_status build(spiral *sp)
{
    const spiral_cfg *c = &sp->cfg;
    size_t N = c->data_size, M = c->batch_size, T = c->batch_time;
    sp->t = nde_alloc_array(N, sizeof(double));
    sp->truth = nde_alloc_array(2 * N, sizeof(double));
    sp->cube = nde_alloc_array(2 * N, sizeof(double));
    sp->dcube = nde_alloc_array(2 * N, sizeof(double));
    sp->perm = nde_alloc_array(N, sizeof(size_t));
    sp->y0 = nde_alloc_array(2 * M, sizeof(double));
    sp->target = nde_alloc_array(2 * M * T, sizeof(double));
    sp->pred = nde_alloc_array(2 * M * T, sizeof(double));
    sp->dl = nde_alloc_array(2 * M * T, sizeof(double));
    if (!sp->t || !sp->truth || !sp->cube || !sp->dcube || !sp->perm || !sp->y0 || !sp->target ||
        !sp->pred || !sp->dl)
        return NDE_ERR_NOMEM;
    for (size_t i = 0; i < N; i++) sp->t[i] = c->t_end * (double)i / (double)(N - 1);
    NDE_TRY(make_truth(sp));

    NDE_TRY(nde_params_create(&sp->params));
    nde_mlp_spec spec = {.in = 2, .out = 2, .hidden = {50}, .act = NDE_ACT_TANH};
    NDE_TRY(nde_mlp_create(sp->params, &spec, "net", &sp->net));
    NDE_TRY(nde_mlp_init(sp->net, sp->params, NDE_INIT_NORMAL, 0.1, &sp->rng));
    NDE_TRY(nde_mlp_reserve(sp->net, N));
    sp->field = (nde_field){.dim = 2, .n_params = nde_params_count(sp->params), .ctx = sp,
                            .f = model_f, .vjp = model_vjp, .rec_size = nde_mlp_rec_size(sp->net),
                            .f_rec = model_f_rec, .vjp_rec = model_vjp_rec};

    nde_solver_opts o = nde_solver_defaults(c->method);
    o.rtol = c->rtol;
    o.atol = c->atol;
    o.tape = c->tape;
    NDE_TRY(nde_solver_create(NULL, &sp->field, &o, &sp->train));
    o.tape = NDE_TAPE_NONE;
    NDE_TRY(nde_solver_create(NULL, &sp->field, &o, &sp->eval));

    nde_optim_spec os = nde_optim_defaults(NDE_OPT_RMSPROP);
    os.lr = c->lr;
    if (c->optim) os = *c->optim;
    if (c->reg) NDE_TRY(nde_reg_create(c->reg, &sp->reg));
    return nde_optim_create(&os, sp->params, &sp->opt);
}

nde_status spiral_create(const spiral_cfg *cfg, spiral **out)
{
    if (!cfg || !out) return NDE_FAIL(NDE_ERR_ARG, "spiral_create: NULL argument");
    *out = NULL;
    if (cfg->batch_time < 2 || cfg->data_size < cfg->batch_time + cfg->batch_size ||
        cfg->batch_size == 0 || !(cfg->t_end > 0.0))
        return NDE_FAIL(NDE_ERR_ARG,
                        "spiral: need batch_time >= 2, batch_size >= 1 and data_size >= "
                        "batch_time + batch_size (got %zu, %zu, %zu)",
                        cfg->batch_time, cfg->batch_size, cfg->data_size);
    spiral *sp = nde_alloc(sizeof *sp);
    if (!sp) return NDE_ERR_NOMEM;
    sp->cfg = *cfg;
    nde_rng_seed(&sp->rng, cfg->seed);
    nde_status st = build(sp);
    if (st != NDE_OK) {
        spiral_destroy(&sp);
        return st;
    }
    *out = sp;
    return NDE_OK;
}

void spiral_destroy(spiral **spp)
{
    if (!spp || !*spp) return;
    spiral *sp = *spp;
    nde_optim_destroy(&sp->opt);
    nde_reg_destroy(&sp->reg);
    nde_solver_destroy(&sp->train);
    nde_solver_destroy(&sp->eval);
    nde_mlp_destroy(&sp->net);
    nde_params_destroy(&sp->params);
    nde_free(sp->t), nde_free(sp->truth), nde_free(sp->cube), nde_free(sp->dcube);
    nde_free(sp->perm), nde_free(sp->y0), nde_free(sp->target), nde_free(sp->pred);
    nde_free(sp->dl);
    nde_free(sp);
    *spp = NULL;
}

/* batch_size distinct window starts from [0, data_size − batch_time), like
 * np.random.choice(..., replace=False): a partial Fisher–Yates shuffle. */
static void sample_batch(spiral *sp)
{
    const spiral_cfg *c = &sp->cfg;
    size_t n = c->data_size - c->batch_time, M = c->batch_size, T = c->batch_time;
    for (size_t i = 0; i < n; i++) sp->perm[i] = i;
    for (size_t i = 0; i < M; i++) {
        size_t j = i + (size_t)nde_rng_below(&sp->rng, n - i);
        size_t tmp = sp->perm[i];
        sp->perm[i] = sp->perm[j];
        sp->perm[j] = tmp;
    }
    for (size_t m = 0; m < M; m++) {
        size_t s = sp->perm[m];
        memcpy(sp->y0 + 2 * m, sp->truth + 2 * s, 2 * sizeof(double));
        for (size_t k = 0; k < T; k++)
            memcpy(sp->target + (k * M + m) * 2, sp->truth + 2 * (s + k), 2 * sizeof(double));
    }
}

nde_status spiral_train_step(spiral *sp, double *loss, size_t *nfe)
{
    const spiral_cfg *c = &sp->cfg;
    size_t M = c->batch_size, T = c->batch_time, n = 2 * M * T;
    sample_batch(sp);
    NDE_TRY(nde_solve(sp->train, M, 2, sp->y0, T, sp->t, sp->pred));
    double l = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = sp->pred[i] - sp->target[i];
        l += fabs(d);
        /* d|x|/dx = sign(x), 0 at 0 as torch */
        sp->dl[i] = (double)((d > 0.0) - (d < 0.0)) / (double)n;
    }
    nde_params_zero_grad(sp->params);
    if (sp->reg)
        NDE_TRY(nde_adjoint_discrete_reg(sp->train, sp->dl, sp->reg, nde_params_grad(sp->params),
                                         nde_params_count(sp->params), NULL, NULL));
    else
        NDE_TRY(nde_adjoint_discrete(sp->train, sp->dl, nde_params_grad(sp->params),
                                     nde_params_count(sp->params), NULL));
    NDE_TRY(nde_optim_step(sp->opt));
    if (loss) *loss = l / (double)n;
    if (nfe) *nfe = nde_solver_get_stats(sp->train)->nfe;
    return NDE_OK;
}

nde_status spiral_full_trajectory(spiral *sp, double *mae, double *pred, size_t *nfe)
{
    size_t N = sp->cfg.data_size;
    double *out = pred ? pred : nde_alloc_array(2 * N, sizeof(double));
    if (!out) return NDE_ERR_NOMEM;
    nde_status st = nde_solve(sp->eval, 1, 2, sp->truth, N, sp->t, out);
    if (st == NDE_OK) {
        double acc = 0.0;
        for (size_t i = 0; i < 2 * N; i++) acc += fabs(out[i] - sp->truth[i]);
        if (mae) *mae = acc / (double)(2 * N);
        if (nfe) *nfe = nde_solver_get_stats(sp->eval)->nfe;
    }
    if (!pred) nde_free(out);
    return st;
}

const double *spiral_times(const spiral *sp) { return sp->t; }
const double *spiral_truth(const spiral *sp) { return sp->truth; }
size_t spiral_n_params(const spiral *sp) { return nde_params_count(sp->params); }
nde_solver *spiral_solver(spiral *sp) { return sp->train; }
