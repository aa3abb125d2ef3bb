/* examples/sde_spiral — the spiral SDE toy of "Opening the Blackbox" (Pal et al. 2021):
 * a neural SDE fitted by moment matching, vanilla and with the ERNSDE regularizer.
 *
 *   sde_spiral [--iters 250] [--paths 100] [--data-paths 2000] [--nt 30] [--tol 0.3]
 *              [--reg-coef 0.2] [--lr 0.01] [--mode both|vanilla|ernsde] [--seed 0]
 *              [--print-every 0]
 *
 * Data: du₁ = (−α u₁³ + β u₂³) dt + γ u₁ dW₁, du₂ = (−β u₁³ − α u₂³) dt + γ u₂ dW₂,
 * α = 0.1, β = 2, γ = 0.2, u(0) = (2, 0); the mean and variance of --data-paths paths
 * (Euler–Maruyama, h = 1e-3) at --nt points on [0, 1] (the paper: 10,000 paths, 30 points).
 * Model: drift W₂ tanh(W₁ u³ + b₁) + b₂ (hidden 50), diagonal diffusion W₃ u + b₃, solved
 * by SOSRI at rtol = atol = --tol (the reference: 0.3). Loss: Σ over save times and
 * components of (μ − μ̂)² + (σ² − σ̂²)² over --paths model paths per iteration (the model's
 * NDE_SDE_OUT_MOMENTS output; nde_model_sde_create), trained by the library's trainer with
 * AdaBelief (lr 0.01); ERNSDE adds λ Σ_j E_j |h_j| (λ = --reg-coef, the reference's sum of
 * EEst·dt). The paper trains 250 iterations of 100 paths.
 *
 * For each mode prints one JSON line: the final moment loss on a fresh batch of paths,
 * its regularizer value, the NFE (drift evaluations) and accepted steps of that solve,
 * and the training wall time. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nde/nde.h"
#include "nde_args.h"

enum { DIM = 2 };

/* ---- the true SDE (parameter-free field and diffusion) ---- */

static nde_status true_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    const double a = 0.1, b = 2.0;
    for (size_t s = 0; s < batch; s++) {
        const double x3 = pow(u[2 * s], 3), y3 = pow(u[2 * s + 1], 3);
        du[2 * s] = -a * x3 + b * y3;
        du[2 * s + 1] = -b * x3 - a * y3;
    }
    return NDE_OK;
}

static nde_status true_g(void *ctx, double t, const double *u, double *g, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t i = 0; i < DIM * batch; i++) g[i] = 0.2 * u[i];
    return NDE_OK;
}

/* mean and population variance per save time of traj (nt, n, DIM) into mom (nt, 2·DIM) */
static void moments(const double *traj, size_t nt, size_t n, double *mom)
{
    for (size_t k = 0; k < nt; k++)
        for (size_t i = 0; i < DIM; i++) {
            double s1 = 0.0, s2 = 0.0;
            for (size_t q = 0; q < n; q++) s1 += traj[(k * n + q) * DIM + i];
            const double mu = s1 / (double)n;
            for (size_t q = 0; q < n; q++) {
                const double e = traj[(k * n + q) * DIM + i] - mu;
                s2 += e * e;
            }
            mom[k * 2 * DIM + i] = mu;
            mom[k * 2 * DIM + DIM + i] = s2 / (double)n;
        }
}

static nde_status make_data(size_t n, size_t nt, const double *ts, uint64_t seed, double *mom)
{
    nde_field f = {.dim = DIM, .f = true_f};
    nde_diffusion g = {.dim = DIM, .m = DIM, .noise = NDE_NOISE_DIAGONAL, .g = true_g};
    nde_sde_opts o = nde_sde_defaults(NDE_SDE_EM);
    o.h0 = 1e-3; /* weak order 1: a bias of O(1e-3) in the moments */
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    nde_brownian *bm = NULL;
    nde_sde_solver *s = NULL;
    double *u0 = nde_alloc_array(n * DIM, sizeof *u0), *traj = nde_alloc_array(nt * n * DIM, sizeof *traj);
    nde_status st = u0 && traj ? NDE_OK : NDE_ERR_NOMEM;
    for (size_t q = 0; st == NDE_OK && q < n; q++) u0[q * DIM] = 2.0, u0[q * DIM + 1] = 0.0;
    if (st == NDE_OK) st = nde_brownian_create(&rng, ts[0], ts[nt - 1], n * DIM, 0, &bm);
    if (st == NDE_OK) st = nde_sde_solver_create(&f, &g, &o, &s);
    if (st == NDE_OK) st = nde_sde_solve(s, bm, n, DIM, u0, nt, ts, traj);
    if (st == NDE_OK) moments(traj, nt, n, mom);
    nde_sde_solver_destroy(&s);
    nde_brownian_destroy(&bm);
    nde_free(u0), nde_free(traj);
    return st;
}

/* ---- the drift W₂ tanh(W₁ u³ + b₁) + b₂ as a field model ---- */

typedef struct cube_mlp {
    nde_mlp *net;
    const nde_params *p;
    double *cube, *dcube;
    size_t cap;
} cube_mlp;

static nde_status cube_reserve(void *self, size_t max_batch)
{
    cube_mlp *c = self;
    if (max_batch > c->cap) {
        nde_free(c->cube), nde_free(c->dcube);
        c->cube = nde_alloc_array(DIM * max_batch, sizeof(double));
        c->dcube = nde_alloc_array(DIM * max_batch, sizeof(double));
        c->cap = c->cube && c->dcube ? max_batch : 0;
        if (!c->cap) return NDE_FAIL(NDE_ERR_NOMEM, "sde_spiral: scratch for a batch of %zu", max_batch);
    }
    return nde_mlp_reserve(c->net, max_batch);
}

static nde_status cube_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    cube_mlp *c = ctx;
    NDE_TRY(cube_reserve(c, batch));
    for (size_t i = 0; i < DIM * batch; i++) c->cube[i] = u[i] * u[i] * u[i];
    return nde_mlp_forward(c->net, c->p, t, c->cube, du, batch);
}

static nde_status cube_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                           double *gtheta, size_t batch)
{
    cube_mlp *c = ctx;
    NDE_TRY(cube_reserve(c, batch));
    for (size_t i = 0; i < DIM * batch; i++) c->cube[i] = u[i] * u[i] * u[i];
    NDE_TRY(nde_mlp_vjp(c->net, c->p, t, c->cube, v, vu ? c->dcube : NULL, gtheta, batch));
    if (vu)
        for (size_t i = 0; i < DIM * batch; i++) vu[i] = c->dcube[i] * 3.0 * u[i] * u[i];
    return NDE_OK;
}

/* as a model the drift is only used as a field (nde_model_sde_create) */
static nde_status cube_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    (void)p;
    return cube_f(self, 0.0, x, y, batch);
}

static nde_status cube_backward(void *self, nde_params *p, const double *gy, double *gx,
                                double *gtheta, size_t batch)
{
    (void)self, (void)p, (void)gy, (void)gx, (void)gtheta, (void)batch;
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "sde_spiral: the drift model is used as a field only");
}

static nde_status cube_init(void *self, nde_params *p, nde_rng *rng)
{
    return nde_mlp_init(((cube_mlp *)self)->net, p, NDE_INIT_TORCH, 0.0, rng);
}

static nde_status cube_field(void *self, nde_params *p, nde_field *field)
{
    *field = (nde_field){.dim = DIM, .n_params = nde_params_count(p), .ctx = self, .f = cube_f,
                         .vjp = cube_vjp};
    return NDE_OK;
}

static void cube_destroy(void *self)
{
    cube_mlp *c = self;
    nde_mlp_destroy(&c->net);
    nde_free(c->cube), nde_free(c->dcube);
    nde_free(c);
}

static const nde_model_ops cube_ops = {.kind = "cube_mlp", .forward = cube_forward,
                                       .backward = cube_backward, .init = cube_init,
                                       .reserve = cube_reserve, .field = cube_field,
                                       .destroy = cube_destroy};

static nde_status cube_create(nde_model **out)
{
    nde_params *p = NULL;
    NDE_TRY(nde_params_create(&p));
    cube_mlp *c = nde_alloc(sizeof *c);
    nde_mlp_spec spec = {.in = DIM, .out = DIM, .hidden = {50}, .act = NDE_ACT_TANH};
    nde_status st = c ? nde_mlp_create(p, &spec, "drift", &c->net) : NDE_ERR_NOMEM;
    if (st != NDE_OK) {
        nde_free(c);
        nde_params_destroy(&p);
        return st;
    }
    c->p = p;
    return nde_model_create(&cube_ops, c, p, DIM, DIM, out);
}

/* ---- the loss Σ (μ − μ̂)² + (σ² − σ̂²)² over save times and components ---- */

static nde_status sse(void *ctx, const double *pred, const double *target, double *grad,
                      size_t batch, size_t size, double *value)
{
    (void)ctx;
    double v = 0.0;
    for (size_t i = 0; i < batch * size; i++) {
        const double d = pred[i] - target[i];
        v += d * d;
        if (grad) grad[i] = 2.0 * d;
    }
    *value = v;
    return NDE_OK;
}

typedef struct args {
    size_t iters, paths, data_paths, nt, print_every;
    double tol, reg_coef, lr;
    int mode;
    uint64_t seed;
} args;

static int on_step(const nde_train_info *info, void *user)
{
    const args *a = user;
    if (a->print_every && info->step % a->print_every == 0)
        printf("  iter %zu  loss %.5g  reg %.4g  nfe %zu\n", info->step, info->loss, info->reg,
               info->nfe);
    return 0;
}

static nde_status run(const args *a, int ernsde, const double *ts, const double *target)
{
    nde_model *drift = NULL, *diff = NULL, *m = NULL;
    nde_reg *reg = NULL;
    nde_trainer *tr = NULL;
    double *y = nde_alloc_array(a->nt * 2 * DIM, sizeof *y);
    if (!y) return NDE_ERR_NOMEM;
    nde_status st = cube_create(&drift);
    nde_mlp_spec lin = {.in = DIM, .out = DIM, .act = NDE_ACT_TANH};
    if (st == NDE_OK) st = nde_model_mlp_create(&lin, "diffusion", NDE_INIT_TORCH, 0.0, &diff);
    else nde_model_destroy(&diff);
    nde_reg_spec rs = nde_reg_error_estimate(a->reg_coef);
    if (st == NDE_OK && ernsde) st = nde_reg_create(&rs, &reg);
    nde_sde_model_spec spec = {.noise = NDE_NOISE_DIAGONAL, .solver = nde_sde_defaults(NDE_SDE_SOSRI),
                               .ts = ts, .nt = a->nt, .output = NDE_SDE_OUT_MOMENTS,
                               .n_paths = a->paths, .seed = a->seed + 1, .reg = reg};
    spec.solver.rtol = spec.solver.atol = a->tol;
    if (st == NDE_OK) st = nde_model_sde_create(NULL, drift, diff, &spec, &m);
    else nde_model_destroy(&drift), nde_model_destroy(&diff);
    nde_rng rng;
    nde_rng_seed(&rng, a->seed);
    if (st == NDE_OK) st = nde_model_init(m, &rng);
    const double x0[DIM] = {2.0, 0.0};
    nde_data d = {.n = 1, .x_size = DIM, .y_size = a->nt * 2 * DIM, .x = x0, .y = target};
    nde_trainer_spec tsp = nde_trainer_defaults();
    tsp.batch = 1;
    tsp.epochs = a->iters;
    tsp.optim = nde_optim_defaults(NDE_OPT_ADABELIEF);
    tsp.optim.lr = a->lr;
    tsp.loss = (nde_loss){.fn = sse, .reduction = NDE_LOSS_SUM, .name = "moments_sse"};
    tsp.eval_every = 0;
    tsp.progress = 0;
    tsp.seed = a->seed;
    tsp.on_step = on_step;
    tsp.user = (void *)a;
    const clock_t c0 = clock();
    if (st == NDE_OK) st = nde_trainer_create(m, &d, NULL, &tsp, &tr);
    if (st == NDE_OK) st = nde_trainer_run(tr);
    const double train_s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    /* the fitted model on a fresh path ensemble */
    double loss = 0.0;
    if (st == NDE_OK) st = nde_model_forward(m, x0, y, 1);
    if (st == NDE_OK) st = sse(NULL, y, target, NULL, 1, a->nt * 2 * DIM, &loss);
    if (st == NDE_OK) {
        const nde_solver_stats *ss = nde_sde_get_stats(nde_model_sde_solver(m));
        printf("{\"example\": \"sde_spiral\", \"mode\": \"%s\", \"iters\": %zu, \"paths\": %zu, "
               "\"loss\": %.6g, \"reg\": %.6g, \"nfe\": %zu, \"steps\": %zu, \"train_cpu_s\": %.3f}\n",
               ernsde ? "ernsde" : "vanilla", a->iters, a->paths, loss, nde_model_sde_reg_value(m),
               ss->nfe, ss->n_accepted, train_s);
    }
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
    nde_reg_destroy(&reg);
    nde_free(y);
    return st;
}

int main(int argc, char **argv)
{
    static const char *const modes[] = {"both", "vanilla", "ernsde", NULL};
    args a = {.iters = 250, .paths = 100, .data_paths = 2000, .nt = 30, .tol = 0.3,
              .reg_coef = 0.2, .lr = 0.01, .mode = 0, .seed = 0, .print_every = 0};
    const nde_arg opts[] = {
        {.name = "iters", .kind = NDE_ARG_SIZE, .dest = &a.iters, .min = 1, .help = "training iterations"},
        {.name = "paths", .kind = NDE_ARG_SIZE, .dest = &a.paths, .min = 2, .help = "model paths per iteration"},
        {.name = "data-paths", .kind = NDE_ARG_SIZE, .dest = &a.data_paths, .min = 2,
         .help = "paths of the true SDE behind the target moments"},
        {.name = "nt", .kind = NDE_ARG_SIZE, .dest = &a.nt, .min = 2, .max = 10000, .help = "save times on [0, 1]"},
        {.name = "tol", .kind = NDE_ARG_DOUBLE, .dest = &a.tol, .bounds = NDE_ARG_LO_OPEN,
         .help = "SOSRI rtol = atol of the model"},
        {.name = "reg-coef", .kind = NDE_ARG_DOUBLE, .dest = &a.reg_coef, .bounds = NDE_ARG_LO,
         .help = "ERNSDE coefficient"},
        {.name = "lr", .kind = NDE_ARG_DOUBLE, .dest = &a.lr, .bounds = NDE_ARG_LO_OPEN, .help = "learning rate"},
        {.name = "mode", .kind = NDE_ARG_CHOICE, .dest = &a.mode, .choices = modes, .help = "which runs"},
        NDE_ARGS_SEED(&a.seed),
        NDE_ARGS_PRINT_EVERY(&a.print_every, "iterations"),
    };
    const nde_args_spec spec = {.prog = "sde_spiral",
                                .about = "Fit a neural SDE to a spiral SDE by moment matching, vanilla and ERNSDE.",
                                NDE_ARGS_TABLE(opts)};
    const int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    double *ts = nde_alloc_array(a.nt, sizeof *ts), *target = nde_alloc_array(a.nt * 2 * DIM, sizeof *target);
    nde_status st = ts && target ? NDE_OK : NDE_ERR_NOMEM;
    for (size_t k = 0; st == NDE_OK && k < a.nt; k++) ts[k] = (double)k / (double)(a.nt - 1);
    if (st == NDE_OK) st = make_data(a.data_paths, a.nt, ts, a.seed + 100, target);
    if (st == NDE_OK && a.mode != 2) st = run(&a, 0, ts, target);
    if (st == NDE_OK && a.mode != 1) st = run(&a, 1, ts, target);
    nde_free(ts), nde_free(target);
    if (st != NDE_OK) {
        fprintf(stderr, "sde_spiral: %s\n", nde_last_error());
        return 1;
    }
    return 0;
}
