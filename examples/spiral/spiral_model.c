/* The spiral neural ODE: truth, the field du/dt = MLP(u³) as a user model, its windows as
 * a data reader, and training through the library's neural-ODE model and trainer. */
#include "spiral_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double A[2][2] = {{-0.1, 2.0}, {-2.0, -0.1}};

/* ---- the vector field MLP(u³) as a model (forward = the field at t = 0) ---- */

typedef struct cube_mlp {
    nde_mlp *net;
    const nde_params *p;         /* the model's store (owned by the model) */
    double *cube, *dcube, *u;    /* (cap, 2): u³, its cotangent, the last forward's input */
    size_t cap;
} cube_mlp;

static nde_status cube_reserve(void *self, size_t max_batch)
{
    cube_mlp *c = self;
    if (max_batch <= c->cap) return nde_mlp_reserve(c->net, max_batch);
    nde_free(c->cube), nde_free(c->dcube), nde_free(c->u);
    c->cube = nde_alloc_array(2 * max_batch, sizeof(double));
    c->dcube = nde_alloc_array(2 * max_batch, sizeof(double));
    c->u = nde_alloc_array(2 * max_batch, sizeof(double));
    c->cap = c->cube && c->dcube && c->u ? max_batch : 0;
    if (!c->cap) return NDE_FAIL(NDE_ERR_NOMEM, "spiral: scratch for a batch of %zu", max_batch);
    return nde_mlp_reserve(c->net, max_batch);
}

static void cube(cube_mlp *c, const double *u, size_t batch)
{
    for (size_t i = 0; i < 2 * batch; i++) c->cube[i] = u[i] * u[i] * u[i];
}

static nde_status field_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    cube_mlp *c = ctx;
    NDE_TRY(cube_reserve(c, batch));
    cube(c, u, batch);
    return nde_mlp_forward(c->net, c->p, t, c->cube, du, batch);
}

/* vᵀ ∂f/∂u = (vᵀ ∂MLP/∂x)(x = u³) ⊙ 3u²; vᵀ ∂f/∂θ straight from the MLP. */
static nde_status field_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                            double *gtheta, size_t batch)
{
    cube_mlp *c = ctx;
    NDE_TRY(cube_reserve(c, batch));
    cube(c, u, batch);
    NDE_TRY(nde_mlp_vjp(c->net, c->p, t, c->cube, v, vu ? c->dcube : NULL, gtheta, batch));
    if (vu)
        for (size_t i = 0; i < 2 * batch; i++) vu[i] = c->dcube[i] * 3.0 * u[i] * u[i];
    return NDE_OK;
}

/* The same evaluation keeping the MLP's activations in rec, so the adjoint does not
 * run the network forward a second time. */
static nde_status field_f_rec(void *ctx, double t, const double *u, double *du, double *rec,
                              size_t batch)
{
    cube_mlp *c = ctx;
    NDE_TRY(cube_reserve(c, batch));
    cube(c, u, batch);
    return nde_mlp_forward_rec(c->net, c->p, t, c->cube, du, rec, batch);
}

static nde_status field_vjp_rec(void *ctx, double t, const double *u, const double *rec,
                                const double *v, double *vu, double *gtheta, size_t batch)
{
    cube_mlp *c = ctx;
    NDE_TRY(cube_reserve(c, batch));
    cube(c, u, batch);
    NDE_TRY(nde_mlp_vjp_rec(c->net, c->p, t, c->cube, rec, v, vu ? c->dcube : NULL, gtheta, batch));
    if (vu)
        for (size_t i = 0; i < 2 * batch; i++) vu[i] = c->dcube[i] * 3.0 * u[i] * u[i];
    return NDE_OK;
}

/* As a model: y = f(0, x) (the trainer never calls these: the neural ODE uses the
 * field; they make the field model complete and checkable on its own). */
static nde_status cube_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    (void)p;
    cube_mlp *c = self;
    NDE_TRY(field_f(c, 0.0, x, y, batch));
    memcpy(c->u, x, 2 * batch * sizeof *x);
    return NDE_OK;
}

static nde_status cube_backward(void *self, nde_params *p, const double *gy, double *gx,
                                double *gtheta, size_t batch)
{
    cube_mlp *c = self;
    NDE_TRY(nde_mlp_backward(c->net, p, gy, gx ? c->dcube : NULL, gtheta, batch));
    if (gx)
        for (size_t i = 0; i < 2 * batch; i++) gx[i] = c->dcube[i] * 3.0 * c->u[i] * c->u[i];
    return NDE_OK;
}

/* torchdiffeq's ode_demo: weights N(0, 0.1²), zero biases. */
static nde_status cube_init(void *self, nde_params *p, nde_rng *rng)
{
    return nde_mlp_init(((cube_mlp *)self)->net, p, NDE_INIT_NORMAL, 0.1, rng);
}

static nde_status cube_field(void *self, nde_params *p, nde_field *field)
{
    cube_mlp *c = self;
    *field = (nde_field){.dim = 2, .n_params = nde_params_count(p), .ctx = c, .f = field_f,
                         .vjp = field_vjp, .rec_size = nde_mlp_rec_size(c->net),
                         .f_rec = field_f_rec, .vjp_rec = field_vjp_rec};
    return NDE_OK;
}

static void cube_destroy(void *self)
{
    cube_mlp *c = self;
    nde_mlp_destroy(&c->net);
    nde_free(c->cube), nde_free(c->dcube), nde_free(c->u);
    nde_free(c);
}

static const nde_model_ops cube_mlp_ops = {.kind = "spiral_cube_mlp", .forward = cube_forward,
                                           .backward = cube_backward, .init = cube_init,
                                           .reserve = cube_reserve, .field = cube_field,
                                           .destroy = cube_destroy};

/* du/dt = MLP(u³), 2→50 tanh→2, as a model owning its store. */
static nde_status cube_mlp_create(nde_model **out)
{
    nde_params *p = NULL;
    NDE_TRY(nde_params_create(&p));
    cube_mlp *c = nde_alloc(sizeof *c);
    nde_mlp_spec spec = {.in = 2, .out = 2, .hidden = {50}, .act = NDE_ACT_TANH};
    nde_status st = c ? nde_mlp_create(p, &spec, "net", &c->net) : NDE_ERR_NOMEM;
    if (st != NDE_OK) {
        nde_free(c);
        nde_params_destroy(&p);
        return st;
    }
    c->p = p;
    return nde_model_create(&cube_mlp_ops, c, p, 2, 2, out);
}

/* ---- the spiral run ---- */

struct spiral {
    spiral_cfg cfg;
    nde_rng rng;        /* the model's init, then the trainer's window draws */
    double *t;          /* (data_size) */
    double *truth;      /* (data_size, 2) */
    nde_model *node;    /* the neural ODE over the field model */
    nde_field field;    /* the field, for the full-trajectory solves */
    nde_solver *eval;   /* tape off, for full trajectories */
    nde_reg *reg;       /* NULL unless cfg.reg */
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
    const size_t N = c->data_size;
    sp->t = nde_alloc_array(N, sizeof(double));
    sp->truth = nde_alloc_array(2 * N, sizeof(double));
    if (!sp->t || !sp->truth) return NDE_ERR_NOMEM;
    for (size_t i = 0; i < N; i++) sp->t[i] = c->t_end * (double)i / (double)(N - 1);
    NDE_TRY(make_truth(sp));
    if (c->reg) NDE_TRY(nde_reg_create(c->reg, &sp->reg));

    nde_model *field_model;
    NDE_TRY(cube_mlp_create(&field_model));
    nde_node_spec ns = {.solver = nde_solver_defaults(c->method), .ts = sp->t,
                        .nt = c->batch_time, .output = NDE_NODE_TRAJECTORY, .reg = sp->reg};
    ns.solver.rtol = c->rtol;
    ns.solver.atol = c->atol;
    ns.solver.tape = c->tape;
    NDE_TRY(nde_model_node_create(NULL, field_model, &ns, &sp->node));
    NDE_TRY(nde_model_init(sp->node, &sp->rng));
    NDE_TRY(nde_model_reserve(nde_model_node_field_model(sp->node), N));
    NDE_TRY(nde_model_field(nde_model_node_field_model(sp->node), &sp->field));
    nde_solver_opts o = ns.solver;
    o.tape = NDE_TAPE_NONE;
    return nde_solver_create(NULL, &sp->field, &o, &sp->eval);
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
    nde_solver_destroy(&sp->eval);
    nde_model_destroy(&sp->node);
    nde_reg_destroy(&sp->reg);
    nde_free(sp->t), nde_free(sp->truth);
    nde_free(sp);
    *spp = NULL;
}

/* Sample s of the data is the window starting at grid point s: x = truth[s] (2),
 * y = truth[s .. s + batch_time) (batch_time, 2). */
static nde_status fetch_windows(void *ctx, const size_t *idx, size_t count, double *x, double *y)
{
    const spiral *sp = ctx;
    const size_t T = sp->cfg.batch_time;
    for (size_t m = 0; m < count; m++) {
        memcpy(x + 2 * m, sp->truth + 2 * idx[m], 2 * sizeof *x);
        memcpy(y + 2 * T * m, sp->truth + 2 * idx[m], 2 * T * sizeof *y);
    }
    return NDE_OK;
}

nde_status spiral_train(spiral *sp, size_t iters, size_t epoch_steps, nde_train_callback on_step,
                        nde_train_callback on_epoch, void *user)
{
    const spiral_cfg *c = &sp->cfg;
    if (iters == 0) return NDE_OK;
    const size_t per = epoch_steps && epoch_steps < iters ? epoch_steps : iters;
    nde_data windows = {.n = c->data_size - c->batch_time, .x_size = 2, .y_size = 2 * c->batch_time,
                        .fetch = fetch_windows, .ctx = sp};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = c->batch_size;
    ts.sampling = NDE_SAMPLE_RANDOM;
    ts.steps_per_epoch = per;
    ts.epochs = (iters + per - 1) / per;
    ts.max_steps = iters;
    ts.use_rng = 1;
    ts.rng = sp->rng;
    ts.optim = nde_optim_defaults(NDE_OPT_RMSPROP);
    ts.optim.lr = c->lr;
    if (c->optim) ts.optim = *c->optim;
    ts.loss = nde_loss_l1();
    ts.eval_every = 0;
    ts.progress = 0;
    ts.name = "spiral";
    ts.on_step = on_step;
    ts.on_epoch = on_epoch;
    ts.user = user;
    ts.checkpoint_path = c->checkpoint;
    ts.checkpoint_every_steps = c->checkpoint ? c->checkpoint_every_steps : 0;
    nde_trainer *tr;
    NDE_TRY(nde_trainer_create(sp->node, &windows, NULL, &ts, &tr));
    nde_status st = c->resume ? nde_trainer_resume(tr, c->checkpoint) : NDE_OK;
    if (st == NDE_OK && c->resume)
        printf("resumed from %s at iteration %zu\n", c->checkpoint, nde_trainer_step(tr));
    if (st == NDE_OK) st = nde_trainer_run(tr);
    nde_trainer_destroy(&tr);
    return st;
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
size_t spiral_n_params(const spiral *sp) { return nde_model_n_params(sp->node); }
const double *spiral_theta(spiral *sp) { return nde_params_theta(nde_model_params(sp->node)); }
nde_solver *spiral_solver(spiral *sp) { return nde_model_node_solver(sp->node); }
