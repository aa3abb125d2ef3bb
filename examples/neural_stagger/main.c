/* neural_stagger — NeuralStagger (Huang et al., ICML 2023) on viscous Burgers' equation:
 * the staggered model of coarse FNO sub-solvers against one fine-resolution FNO, both
 * trained by the one trainer on the physics-constrained loss alone (the Crank–Nicolson
 * finite-difference residual of u_t + (u²/2)_x = ν u_xx, include/nde/stagger.h), at equal
 * training budget (same data, epochs, batch, optimizer), for s ∈ {1, 2, 4, …, --s-max}.
 *
 * Data: trajectories of nde's Burgers generator (pseudo-spectral, ETDRK4) sampled every
 * --dt on n points. A sample is a window of --st consecutive levels; the model predicts
 * the next --st levels. The physics loss needs no solution: its target is the input
 * window. The reference solution is used only to measure the error.
 *   s = 1: one FNO on the fine grid (--st input and output channels);
 *   s > 1: s·st sub-solvers on n/s points, sub-solver (a, b) advancing the levels a of the
 *          points b, b+s, … by st·dt (modes capped at n/(2s)): by default one FNO shared
 *          by all pieces (run as one batch), with --distinct one FNO per piece.
 * Each run prints JSON lines (one per result, "bench": "neural_stagger"): the test error
 * of one window (relative L2 against the reference), the error after --rollout windows
 * fed back autoregressively, the inference time per sample run sequentially, and the
 * ideal parallel time (the slowest sub-solver plus the decomposition and arrangement),
 * and the speed-ups against s = 1. Timings are wall-clock medians of --repeat passes. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "nde/nde.h"
#include "nde_args.h"

typedef struct opts {
    size_t n, n_solve_factor, levels, ntrain, ntest, batch, epochs, st, s_max, width, modes,
        layers, repeat, rollout, s_min;
    double nu, dt, lr, theta;
    uint64_t seed;
    int shared, no_residual, zero_init, infer_only;
    const char *metrics;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.n = 64, .n_solve_factor = 4, .levels = 24, .ntrain = 8, .ntest = 2, .batch = 16,
                .epochs = 30, .st = 1, .s_max = 4, .width = 16, .modes = 8, .layers = 2,
                .repeat = 5, .rollout = 4, .s_min = 1, .shared = 1, .nu = 0.1, .dt = 0.005, .lr = 3e-3, .theta = 0.5};
    const nde_arg opts[] = {
        {.name = "n", .kind = NDE_ARG_SIZE, .dest = &o->n, .min = 4, .help = "fine grid points"},
        {.name = "levels", .kind = NDE_ARG_SIZE, .dest = &o->levels, .min = 2,
         .help = "time levels per trajectory (after the initial one)"},
        {.name = "ntrain", .kind = NDE_ARG_SIZE, .dest = &o->ntrain, .min = 1,
         .help = "training trajectories"},
        {.name = "ntest", .kind = NDE_ARG_SIZE, .dest = &o->ntest, .min = 1, .help = "test trajectories"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &o->batch, .min = 1, .help = "batch size"},
        {.name = "epochs", .kind = NDE_ARG_SIZE, .dest = &o->epochs, .min = 1, .help = "training epochs"},
        {.name = "st", .kind = NDE_ARG_SIZE, .dest = &o->st, .min = 1,
         .help = "time stride s_t of the staggered runs (window of st levels)"},
        {.name = "s-max", .kind = NDE_ARG_SIZE, .dest = &o->s_max, .min = 1,
         .help = "largest spatial stride (runs s = 1, 2, 4, … ≤ s-max)"},
        {.name = "s-min", .kind = NDE_ARG_SIZE, .dest = &o->s_min, .min = 1,
         .help = "smallest spatial stride run (speed-ups are against the first run)"},
        {.name = "width", .kind = NDE_ARG_SIZE, .dest = &o->width, .min = 1, .help = "FNO width"},
        {.name = "modes", .kind = NDE_ARG_SIZE, .dest = &o->modes, .min = 1,
         .help = "FNO Fourier modes (capped at points/2)"},
        {.name = "layers", .kind = NDE_ARG_SIZE, .dest = &o->layers, .min = 1,
         .help = "FNO Fourier layers"},
        {.name = "nu", .kind = NDE_ARG_DOUBLE, .dest = &o->nu, .bounds = NDE_ARG_LO_OPEN,
         .help = "viscosity"},
        {.name = "dt", .kind = NDE_ARG_DOUBLE, .dest = &o->dt, .bounds = NDE_ARG_LO_OPEN,
         .help = "fine time step"},
        {.name = "theta", .kind = NDE_ARG_DOUBLE, .dest = &o->theta, .bounds = NDE_ARG_LO,
         .help = "time weighting of the residual (0.5: Crank-Nicolson)"},
        {.name = "lr", .kind = NDE_ARG_DOUBLE, .dest = &o->lr, .bounds = NDE_ARG_LO_OPEN,
         .help = "Adam learning rate"},
        {.name = "repeat", .kind = NDE_ARG_SIZE, .dest = &o->repeat, .min = 1,
         .help = "timed inference passes (median)"},
        {.name = "rollout", .kind = NDE_ARG_SIZE, .dest = &o->rollout, .min = 1,
         .help = "windows of the autoregressive rollout error"},
        {.name = "distinct", .kind = NDE_ARG_UNFLAG, .dest = &o->shared,
         .help = "one sub-solver per piece (default: one shared by all pieces)"},
        {.name = "no-residual", .kind = NDE_ARG_FLAG, .dest = &o->no_residual,
         .help = "sub-solvers predict the field, not its increment"},
        {.name = "zero-init", .kind = NDE_ARG_FLAG, .dest = &o->zero_init,
         .help = "zero the last projection layer of every FNO (start at persistence)"},
        {.name = "infer-only", .kind = NDE_ARG_FLAG, .dest = &o->infer_only,
         .help = "skip training (initial θ): for instruction counts of the inference, e.g.\n"
                 "valgrind --tool=callgrind, then the inclusive cost of forward_full and\n"
                 "forward_piece per call"},
        {.name = "metrics", .kind = NDE_ARG_STRING, .dest = &o->metrics, .metavar = "PREFIX",
         .help = "write the trainer's JSON lines to PREFIX.s<S>.jsonl"},
        NDE_ARGS_SEED(&o->seed),
    };
    const nde_args_spec spec = {
        .prog = "neural_stagger",
        .about = "NeuralStagger on viscous Burgers: staggered coarse FNOs against one fine FNO,\n"
                 "trained on the finite-difference residual alone; prints JSON lines.",
        NDE_ARGS_TABLE(opts)};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return rc;
    if (o->theta > 1) {
        fprintf(stderr, "neural_stagger: --theta %g must be in [0, 1]\n", o->theta);
        return NDE_ARGS_ERROR;
    }
    if (o->levels + 1 < 2 * o->st + o->st * (o->rollout - 1)) {
        fprintf(stderr, "neural_stagger: --levels %zu too few for --st %zu and --rollout %zu\n",
                o->levels, o->st, o->rollout);
        return NDE_ARGS_ERROR;
    }
    for (size_t s = 1; s <= o->s_max; s *= 2)
        if (o->n % s) {
            fprintf(stderr, "neural_stagger: --n %zu not divisible by s = %zu\n", o->n, s);
            return NDE_ARGS_ERROR;
        }
    return NDE_ARGS_OK;
}

#undef CHECK
#define CHECK(x) CHECK_OR(exit(1), x)

/* traj (count, levels + 1, n): Burgers trajectories of samples first.. sampled every dt */
static double *trajectories(nde_ctx *ctx, const opts *o, uint64_t first, size_t count)
{
    nde_burgers_spec bs = nde_burgers_defaults();
    bs.n = o->n, bs.n_solve = o->n * o->n_solve_factor, bs.nu = o->nu, bs.t_final = o->dt;
    bs.n_steps = 4, bs.seed = o->seed;
    const size_t L = o->levels + 1, ns = bs.n_solve, r = o->n_solve_factor;
    double *traj = nde_alloc_array(count * L * o->n, sizeof *traj), *u = nde_alloc_array(ns, sizeof *u);
    if (!traj || !u) CHECK(NDE_FAIL(NDE_ERR_NOMEM, "trajectories"));
    for (size_t i = 0; i < count; i++) {
        CHECK(nde_burgers_initial(&bs, first + i, u));
        for (size_t l = 0; l < L; l++) {
            if (l) CHECK(nde_burgers_solve(ctx, &bs, u, u));
            for (size_t j = 0; j < o->n; j++) traj[(i * L + l) * o->n + j] = u[j * r];
        }
    }
    nde_free(u);
    return traj;
}

/* windows: x (cnt, st, n) = levels m..m+st−1, y = levels m+st..m+2st−1, m = 0, st, 2st, … */
static size_t windows(const opts *o, const double *traj, size_t count, double **x, double **y)
{
    const size_t L = o->levels + 1, W = o->st, n = o->n, per = (L - W) / W;
    *x = nde_alloc_array(count * per * W * n, sizeof **x);
    *y = nde_alloc_array(count * per * W * n, sizeof **y);
    if (!*x || !*y) CHECK(NDE_FAIL(NDE_ERR_NOMEM, "windows"));
    size_t c = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t w = 0; w < per; w++, c++) {
            memcpy(*x + c * W * n, traj + (i * L + w * W) * n, W * n * sizeof **x);
            memcpy(*y + c * W * n, traj + (i * L + (w + 1) * W) * n, W * n * sizeof **y);
        }
    return c;
}

static nde_model *fno(nde_ctx *ctx, const opts *o, size_t points, size_t channels, size_t max_batch)
{
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.in_channels = sp.out_channels = channels;
    sp.width = o->width, sp.n_layers = o->layers, sp.proj_hidden[0] = 2 * o->width;
    sp.n_modes[0] = o->modes < points / 2 ? o->modes : points / 2;
    nde_model *m;
    CHECK(nde_model_fno_create(ctx, &sp, &points, max_batch, 1, &m));
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double rel_l2(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
    return sqrt(num / den);
}

/* The timed calls, not inlined so that a profiler (callgrind) reports their inclusive cost
 * per call: the staggered forward of the test set, and one sub-solver on its piece. */
__attribute__((noipa)) static nde_status forward_full(nde_model *m, const double *x, double *y,
                                                          size_t batch)
{
    return nde_model_forward(m, x, y, batch);
}

__attribute__((noipa)) static nde_status forward_piece(nde_model *m, const double *x, double *y,
                                                           size_t batch)
{
    return nde_model_forward(m, x, y, batch);
}

typedef struct result {
    double err1, err_roll, t_seq, t_par;
    size_t params;
} result;

static result run(nde_ctx *ctx, const opts *o, size_t s, const double *xtr, size_t ntr,
                  const double *xte, const double *yte, size_t nte, const double *traj_te)
{
    const size_t n = o->n, W = o->st, fs = W * n;
    const size_t st = s == 1 ? 1 : W; /* the fine model: one FNO with W channels */
    nde_stagger_model_spec spec = {.grid = {.ndim = 1, .channels = 1, .nt = W, .n = {n}, .s_t = st,
                                            .s = {s}}, .residual = !o->no_residual};
    const size_t n_sub = nde_stagger_n_sub(&spec.grid), nm = o->shared ? 1 : n_sub;
    const size_t maxb = o->batch > nte ? o->batch : nte;
    nde_model *subs[256];
    if (n_sub > 256) CHECK(NDE_FAIL(NDE_ERR_ARG, "%zu sub-solvers (at most 256 here)", n_sub));
    for (size_t k = 0; k < nm; k++)
        subs[k] = fno(ctx, o, n / s, s == 1 ? W : 1, o->shared ? n_sub * maxb : maxb);
    nde_model *m;
    CHECK(nde_model_stagger_create(&spec, subs, nm, &m));
    nde_rng rng;
    nde_rng_seed(&rng, o->seed);
    CHECK(nde_model_init(m, &rng));
    if (o->zero_init) {
        nde_params *p = nde_model_params(m);
        for (size_t i = 0; i < nde_params_n_tensors(p); i++) {
            const nde_tensor_info *t = nde_params_tensor(p, i);
            const char *d = strstr(t->name, ".proj.1.");
            if (d) memset(nde_params_theta(p) + t->offset, 0, t->numel * sizeof(double));
        }
    }

    nde_burgers_residual_spec rs = {.n = n, .nt = W, .length = 1.0, .dt = o->dt, .nu = o->nu,
                                    .theta = o->theta};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = o->batch, ts.epochs = o->epochs, ts.optim.lr = o->lr;
    ts.loss = nde_loss_burgers_residual(&rs);
    ts.eval = nde_loss_rel_l2();
    ts.use_rng = 1, ts.rng = rng, ts.progress = 0, ts.eval_every = o->epochs;
    ts.name = "neural_stagger";
    char mpath[4096];
    if (o->metrics) {
        if (snprintf(mpath, sizeof mpath, "%s.s%zu.jsonl", o->metrics, s) >= (int)sizeof mpath)
            CHECK(NDE_FAIL(NDE_ERR_ARG, "--metrics prefix too long"));
        ts.metrics_path = mpath;
        ts.eval_every = 1;
    }
    nde_data train = {.n = ntr, .x_size = fs, .y_size = fs, .x = xtr, .y = xtr};
    nde_data test = {.n = nte, .x_size = fs, .y_size = fs, .x = xte, .y = yte};
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &train, &test, &ts, &tr));
    const double t0 = nde_wall_seconds();
    if (!o->infer_only) CHECK(nde_trainer_run(tr));
    const double t_train = nde_wall_seconds() - t0;
    result r = {.params = nde_model_n_params(m)};
    CHECK(nde_model_set_training(m, 0));

    /* one-window error and timed inference over the whole test set in one batch */
    double *pred = nde_alloc_array(nte * fs, sizeof *pred), *tt = nde_alloc_array(o->repeat, sizeof *tt);
    double *xs = nde_alloc_array(nte * fs, sizeof *xs), *ys = nde_alloc_array(nte * fs, sizeof *ys);
    double *tk = nde_alloc_array(o->repeat, sizeof *tk), *sub_t = nde_alloc_array(n_sub, sizeof *sub_t);
    if (!pred || !tt || !xs || !ys || !tk || !sub_t) CHECK(NDE_FAIL(NDE_ERR_NOMEM, "run"));
    CHECK(nde_model_forward(m, xte, pred, nte)); /* warm-up; also syncs the sub-solvers' θ */
    r.err1 = rel_l2(pred, yte, nte * fs);
    for (size_t i = 0; i < o->repeat; i++) {
        const double a = nde_wall_seconds();
        CHECK(forward_full(m, xte, pred, nte));
        tt[i] = nde_wall_seconds() - a;
    }
    r.t_seq = median(tt, o->repeat) / (double)nte;
    /* each sub-solver alone on its piece: the ideal parallel time is the slowest one plus
     * what the staggered forward spends outside them */
    CHECK(nde_stagger_decompose(&spec.grid, xte, xs, nte));
    const size_t blk = nte * nde_stagger_sub_size(&spec.grid);
    double sum = 0, slowest = 0;
    for (size_t k = 0; k < n_sub; k++) {
        nde_model *sk = nde_model_stagger_sub(m, o->shared ? 0 : k);
        CHECK(nde_model_forward(sk, xs + k * blk, ys + k * blk, nte));
        for (size_t i = 0; i < o->repeat; i++) {
            const double a = nde_wall_seconds();
            CHECK(forward_piece(sk, xs + k * blk, ys + k * blk, nte));
            tk[i] = nde_wall_seconds() - a;
        }
        sub_t[k] = median(tk, o->repeat) / (double)nte;
        sum += sub_t[k];
        if (sub_t[k] > slowest) slowest = sub_t[k];
    }
    const double overhead = r.t_seq > sum ? r.t_seq - sum : 0.0;
    r.t_par = slowest + overhead;

    /* autoregressive rollout from the first window of each test trajectory */
    const size_t L = o->levels + 1;
    double *u = nde_alloc_array(o->ntest * fs, sizeof *u), *v = nde_alloc_array(o->ntest * fs, sizeof *v);
    double *ref = nde_alloc_array(o->ntest * fs, sizeof *ref);
    if (!u || !v || !ref) CHECK(NDE_FAIL(NDE_ERR_NOMEM, "rollout"));
    for (size_t i = 0; i < o->ntest; i++) {
        memcpy(u + i * fs, traj_te + i * L * n, fs * sizeof *u);
        memcpy(ref + i * fs, traj_te + (i * L + o->rollout * W) * n, fs * sizeof *ref);
    }
    for (size_t w = 0; w < o->rollout; w++) {
        CHECK(nde_model_forward(m, u, v, o->ntest));
        memcpy(u, v, o->ntest * fs * sizeof *u);
    }
    r.err_roll = rel_l2(u, ref, o->ntest * fs);

    printf("{\"bench\": \"neural_stagger\", \"s\": %zu, \"s_t\": %zu, \"sub_solvers\": %zu, "
           "\"params\": %zu, \"train_seconds\": %.3f, \"final_physics_loss\": %.6g}\n",
           s, st, nm, r.params, t_train, nde_trainer_train_loss(tr));
    printf("{\"bench\": \"neural_stagger\", \"s\": %zu, \"metric\": \"test_rel_l2_one_window\", "
           "\"value\": %.6g, \"unit\": \"1\"}\n", s, r.err1);
    printf("{\"bench\": \"neural_stagger\", \"s\": %zu, \"metric\": \"test_rel_l2_rollout_%zu\", "
           "\"value\": %.6g, \"unit\": \"1\"}\n", s, o->rollout, r.err_roll);
    printf("{\"bench\": \"neural_stagger\", \"s\": %zu, \"metric\": \"infer_us_per_sample_sequential\", "
           "\"value\": %.3f, \"unit\": \"us\"}\n", s, 1e6 * r.t_seq);
    printf("{\"bench\": \"neural_stagger\", \"s\": %zu, \"metric\": \"infer_us_per_sample_parallel_ideal\", "
           "\"value\": %.3f, \"unit\": \"us\"}\n", s, 1e6 * r.t_par);
    fflush(stdout);
    nde_free(pred), nde_free(tt), nde_free(xs), nde_free(ys), nde_free(tk), nde_free(sub_t);
    nde_free(u), nde_free(v), nde_free(ref);
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
    return r;
}

int main(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    openblas_set_num_threads(1);
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    double *traj_tr = trajectories(ctx, &o, 0, o.ntrain);
    double *traj_te = trajectories(ctx, &o, 1000000, o.ntest);
    double *xtr, *ytr, *xte, *yte;
    size_t ntr = windows(&o, traj_tr, o.ntrain, &xtr, &ytr);
    size_t nte = windows(&o, traj_te, o.ntest, &xte, &yte);
    fprintf(stderr, "neural_stagger: n %zu, dt %g, nu %g, %zu training and %zu test windows of %zu "
                    "level(s), %zu epochs\n", o.n, o.dt, o.nu, ntr, nte, o.st, o.epochs);
    /* the error of persistence (every predicted level = the last input level): a model that
     * learned nothing about the dynamics scores about this */
    double *pers = nde_alloc_array(nte * o.st * o.n, sizeof *pers);
    if (!pers) CHECK(NDE_FAIL(NDE_ERR_NOMEM, "persistence"));
    for (size_t c = 0; c < nte; c++)
        for (size_t k = 0; k < o.st; k++)
            memcpy(pers + (c * o.st + k) * o.n, xte + (c * o.st + o.st - 1) * o.n, o.n * sizeof *pers);
    printf("{\"bench\": \"neural_stagger\", \"metric\": \"persistence_rel_l2_one_window\", "
           "\"value\": %.6g, \"unit\": \"1\"}\n", rel_l2(pers, yte, nte * o.st * o.n));
    nde_free(pers);
    result base = {0};
    for (size_t s = 1; s <= o.s_max; s *= 2) {
        if (s < o.s_min) continue;
        result r = run(ctx, &o, s, xtr, ntr, xte, yte, nte, traj_te);
        if (base.t_seq == 0) base = r;
        printf("{\"bench\": \"neural_stagger\", \"s\": %zu, \"metric\": \"speedup_sequential\", "
               "\"value\": %.3f, \"unit\": \"x\"}\n", s, base.t_seq / r.t_seq);
        printf("{\"bench\": \"neural_stagger\", \"s\": %zu, \"metric\": \"speedup_parallel_ideal\", "
               "\"value\": %.3f, \"unit\": \"x\"}\n", s, base.t_par / r.t_par);
        printf("{\"bench\": \"neural_stagger\", \"s\": %zu, \"metric\": \"error_ratio_one_window\", "
               "\"value\": %.3f, \"unit\": \"x\"}\n", s, r.err1 / base.err1);
        fflush(stdout);
    }
    nde_free(traj_tr), nde_free(traj_te), nde_free(xtr), nde_free(ytr), nde_free(xte), nde_free(yte);
    nde_ctx_destroy(&ctx);
    return 0;
}
