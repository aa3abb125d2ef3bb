/* bench/optim_operator — a small neural operator trained with each optimizer of bench/optim
 * at its recommended settings (optim_compare.c), from the same initial weights and the same
 * batches: an FNO-1D (Li et al. 2021) on Burgers data (--model fno, the default) or an MgNO
 * (He et al. 2024) on Darcy data (--model mgno).
 *
 *   bench_optim_operator [--model fno|mgno] [--n N] [--ntrain 400] [--ntest 100] [--batch 20]
 *                        [--epochs E] [--width W] [--modes 8] [--levels 4] [--n-solve 1024]
 *                        [--seed 0] [--only NAME] [--cache DIR] [--out DIR] [--constant-lr]
 *                        [--no-plot]
 *
 * --seed chooses the data samples, the initial weights and the batch order.
 *
 * FNO model: the legacy fourier_1d.py architecture (lifting from (a(x), x), 4 Fourier
 * layers, GELU, projection width→64→1) made smaller — width 32 and 8 modes instead of 64
 * and 16, a 64-wide projection instead of 128 — on n = 128 points instead of 1024, so that
 * every optimizer trains in seconds. Data: nde's Burgers generator (ν 0.1, t 1, the paper's
 * covariance) solved on n_solve points and sampled at n, cached under --cache
 * (.cache/burgers). 50 epochs by default.
 *
 * MgNO model: nde_mgno_darcy_spec (4 layers of V-cycles, zero padding, no bias) at width 12
 * instead of 24 and 4 levels instead of 6, on an n×n = 32×32 grid instead of 64×64. Data:
 * nde's Darcy generator (a ∈ {12, 3}, f = 1, u = 0 on the boundary), cached under --cache
 * (.cache/darcy); coefficients and solutions are normalized per point with the training
 * samples' mean and standard deviation (legacy utilities3.py), and the loss compares the
 * decoded prediction with the raw solution. 20 epochs by default.
 *
 * Both: the first ntrain samples train, the next ntest test. Loss: relative L2 averaged
 * over the batch. The legacy LpLoss sums it; the mean keeps SGD's lr on its usual scale,
 * and with the sum the rectified AdaBelief's first steps (plain SGD steps) blow the FNO's
 * loss up from 10 to over 1000. Learning rate: each optimizer's recommended lr, decayed to
 * 0 over the run by the same cosine for all (Loshchilov & Hutter 2017). With a constant lr
 * (--constant-lr) the batch loss on the Burgers data stays noisy (some targets are ~100×
 * smaller than others in norm) and the final numbers depend on where the last step lands.
 *
 * Prints one JSON object per result line (bench "optim_fno" or "optim_mgno": final-epoch
 * train relative L2, test relative L2, median ms per training step, training seconds,
 * optimizer state bytes, steps done: fewer than planned when the model diverged; a
 * non-finite value prints as null) and progress on stderr. Writes <out>/<name>.csv (step,
 * seconds, loss, loss_ema: batch-mean relative L2) and <out>/optim_comparison_<model>.png
 * (loss against step and against wall time; gnuplot). Training goes through the library's
 * models (nde_model_fno_create, nde_model_mgno_create) and trainer (nde/trainer.h: a fresh
 * shuffle per epoch, the schedule per step); this file is configuration, timing and
 * output. The BLAS runs single-threaded (small
 * GEMMs; per-step times stay comparable on a shared machine). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../examples/burgers_fno/burgers_data.h"
#include "../../examples/darcy/darcy_data.h"
#include "nde/nde.h"
#include "nde_args.h"
#include "optim_compare.h"

typedef struct opts {
    int mgno;               /* 0: FNO-1D on Burgers, 1: MgNO on Darcy */
    size_t n, n_solve, ntrain, ntest, batch, epochs, width, modes, levels;
    uint64_t seed;
    const char *only, *cache, *out;
    int plot, constant_lr;
} opts;

/* NDE_ARGS_OK, or what nde_args_parse returned (help printed, or an error). Sizes not
 * given get the model's defaults. */
static int parse(int argc, char **argv, opts *o)
{
    static const char *const models[] = {"fno", "mgno", NULL};
    *o = (opts){.n_solve = 1024, .ntrain = 400, .ntest = 100, .batch = 20, .modes = 8,
                .levels = 4, .plot = 1};
    const nde_arg opts[] = {
        {.name = "model", .kind = NDE_ARG_CHOICE, .dest = &o->mgno, .choices = models,
         .help = "FNO-1D on Burgers, or MgNO on Darcy"},
        {.name = "n", .kind = NDE_ARG_SIZE, .dest = &o->n, .min = 1,
         .default_text = "fno 128, mgno 32", .help = "grid points (per side)"},
        {.name = "ntrain", .kind = NDE_ARG_SIZE, .dest = &o->ntrain, .min = 1,
         .help = "training samples (a multiple of --batch)"},
        {.name = "ntest", .kind = NDE_ARG_SIZE, .dest = &o->ntest, .min = 1,
         .help = "test samples (a multiple of --batch)"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &o->batch, .min = 1, .help = "batch size"},
        {.name = "epochs", .kind = NDE_ARG_SIZE, .dest = &o->epochs, .min = 1,
         .default_text = "fno 50, mgno 20", .help = "training epochs"},
        {.name = "width", .kind = NDE_ARG_SIZE, .dest = &o->width, .min = 1,
         .default_text = "fno 32, mgno 12", .help = "channels"},
        {.name = "modes", .kind = NDE_ARG_SIZE, .dest = &o->modes, .min = 1,
         .help = "FNO Fourier modes"},
        {.name = "levels", .kind = NDE_ARG_SIZE, .dest = &o->levels, .min = 1,
         .help = "MgNO multigrid levels"},
        {.name = "n-solve", .kind = NDE_ARG_SIZE, .dest = &o->n_solve, .min = 1,
         .help = "grid of the Burgers data generator"},
        {.name = "seed", .kind = NDE_ARG_U64, .dest = &o->seed,
         .help = "data samples, initial weights and batch order"},
        {.name = "only", .kind = NDE_ARG_CUSTOM, .dest = &o->only, .parse = optim_parse_only,
         .metavar = "NAME", .default_text = "all", .help = "train with this optimizer only"},
        {.name = "cache", .kind = NDE_ARG_STRING, .dest = &o->cache, .metavar = "DIR",
         .default_text = ".cache/burgers or .cache/darcy", .help = "cache of generated data"},
        {.name = "out", .kind = NDE_ARG_STRING, .dest = &o->out, .metavar = "DIR",
         .default_text = "out/bench_optim_fno or _mgno", .help = "output folder"},
        {.name = "constant-lr", .kind = NDE_ARG_FLAG, .dest = &o->constant_lr,
         .help = "no cosine decay of the learning rate"},
        NDE_ARGS_NO_PLOT(&o->plot, "optim_comparison_<model>.png"),
    };
    const nde_args_spec spec = {
        .prog = "bench_optim_operator",
        .about = "A small neural operator trained with each optimizer from the same start.",
        NDE_ARGS_TABLE(opts)};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return rc;
    /* sizes still 0 were not given: the model's defaults */
    if (!o->n) o->n = o->mgno ? 32 : 128;
    if (!o->epochs) o->epochs = o->mgno ? 20 : 50;
    if (!o->width) o->width = o->mgno ? 12 : 32;
    if (!o->cache) o->cache = o->mgno ? ".cache/darcy" : ".cache/burgers";
    if (!o->out) o->out = o->mgno ? "out/bench_optim_mgno" : "out/bench_optim_fno";
    if (o->ntrain % o->batch || o->ntest % o->batch) {
        fprintf(stderr, "bench_optim_operator: --ntrain %zu and --ntest %zu must be multiples of "
                        "--batch %zu (try --help)\n", o->ntrain, o->ntest, o->batch);
        return NDE_ARGS_ERROR;
    }
    return NDE_ARGS_OK;
}

/* What every optimizer's run shares: the model (θ reset to theta0 before each run, trained
 * by the library's trainer), the data and the decoded-prediction buffer. */
typedef struct bench {
    nde_model *m;           /* FNO or MgNO model; one channel in and out */
    size_t P;               /* points per sample */
    const double *x, *y;    /* (ntrain + ntest, P): model inputs, raw targets */
    nde_normalizer *ynorm;  /* MgNO: the model predicts normalized targets; FNO: NULL */
    double *theta0;         /* (params) initial weights */
    double *pred;           /* (batch, P): the decoded prediction */
} bench;

typedef struct result {
    double train_rel_l2, test_rel_l2, ms_median, seconds;
    size_t state_bytes;
    size_t steps_done;      /* < the planned steps when the run diverged */
} result;

/* The summed relative L2 of the decoded prediction against the raw target; with grad, its
 * gradient with respect to the model's output (batch, P). */
static nde_status decoded_rel_l2(bench *b, const double *out, const double *target, double *grad,
                                 size_t batch, double *value)
{
    const double *pred = out;
    if (b->ynorm) {
        nde_normalizer_decode(b->ynorm, out, b->pred, batch);
        pred = b->pred;
    }
    NDE_TRY(nde_rel_l2_loss(pred, target, grad, batch, b->P, value));
    if (grad && b->ynorm) nde_normalizer_decode_vjp(b->ynorm, grad, grad, batch);
    return NDE_OK;
}

/* Training loss: the batch mean of the relative L2 (the summed loss's gradient scaled by
 * 1/batch). */
static nde_status mean_loss(void *ctx, const double *out, const double *target, double *grad,
                            size_t batch, size_t size, double *value)
{
    (void)size;
    NDE_TRY(decoded_rel_l2(ctx, out, target, grad, batch, value));
    *value /= (double)batch;
    if (grad) cblas_dscal((int)(batch * ((bench *)ctx)->P), 1.0 / (double)batch, grad, 1);
    return NDE_OK;
}

/* Test metric: the summed relative L2 (the trainer divides by the test samples). */
static nde_status sum_metric(void *ctx, const double *out, const double *target, double *grad,
                             size_t batch, size_t size, double *value)
{
    (void)size;
    return decoded_rel_l2(ctx, out, target, grad, batch, value);
}

/* What the callbacks record of one optimizer's run. */
typedef struct run_log {
    const optim_entry *e;
    double *loss, *secs, *step_ms; /* (steps) */
    double t0, total, epoch_loss, train_rel_l2;
    size_t batches;         /* per epoch */
} run_log;

static int on_step_begin(const nde_train_info *info, void *user)
{
    (void)info;
    ((run_log *)user)->t0 = nde_wall_seconds();
    return 0;
}

static int on_step(const nde_train_info *info, void *user)
{
    run_log *rl = user;
    const size_t k = info->step - 1;
    rl->step_ms[k] = 1e3 * (nde_wall_seconds() - rl->t0);
    rl->total += rl->step_ms[k] * 1e-3;
    rl->secs[k] = rl->total;
    rl->loss[k] = info->loss;
    rl->epoch_loss += info->loss;
    return 0;
}

static int on_epoch(const nde_train_info *info, void *user)
{
    run_log *rl = user;
    rl->train_rel_l2 = rl->epoch_loss / (double)rl->batches;
    rl->epoch_loss = 0.0;
    if (info->epoch % 5 == 0 || info->epoch == info->epochs)
        fprintf(stderr, "  %-11s epoch %3zu  train rel L2 %.5f  %.2f s\n", rl->e->name,
                info->epoch, rl->train_rel_l2, rl->total);
    return 0;
}

static nde_status run_one(const optim_entry *e, const opts *o, bench *b, double *loss,
                          double *secs, double *step_ms, result *r)
{
    nde_params *p = nde_model_params(b->m);
    const size_t P = b->P;
    memcpy(nde_params_theta(p), b->theta0, nde_params_count(p) * sizeof *b->theta0);
    const uint64_t steps = o->epochs * (o->ntrain / o->batch);
    run_log rl = {.e = e, .loss = loss, .secs = secs, .step_ms = step_ms, .train_rel_l2 = NAN,
                  .batches = o->ntrain / o->batch};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = o->batch;
    ts.epochs = o->epochs;
    ts.sampling = NDE_SAMPLE_SHUFFLE;
    ts.seed = o->seed + 1; /* the batch order depends on the seed only: every optimizer sees
                              the same batches */
    ts.optim = e->spec;
    ts.schedule = o->constant_lr ? nde_schedule_constant(e->spec.lr)
                                 : nde_schedule_cosine(e->spec.lr, 0.0, steps, 0);
    ts.schedule_per_step = 1;
    ts.loss = (nde_loss){.fn = mean_loss, .ctx = b, .reduction = NDE_LOSS_MEAN, .name = "rel_l2"};
    ts.eval = (nde_loss){.fn = sum_metric, .ctx = b, .reduction = NDE_LOSS_SUM, .name = "rel_l2"};
    ts.eval_every = 0;
    ts.progress = 0;
    ts.name = e->name;
    ts.on_step_begin = on_step_begin;
    ts.on_step = on_step;
    ts.on_epoch = on_epoch;
    ts.user = &rl;
    nde_data train = {.n = o->ntrain, .x_size = P, .y_size = P, .x = b->x, .y = b->y};
    nde_data test = {.n = o->ntest, .x_size = P, .y_size = P, .x = b->x + o->ntrain * P,
                     .y = b->y + o->ntrain * P};
    nde_trainer *tr = NULL;
    NDE_TRY(nde_trainer_create(b->m, &train, &test, &ts, &tr));
    r->state_bytes = nde_optim_state_bytes(nde_trainer_optim(tr));
    nde_status st = nde_trainer_run(tr);
    const size_t step = nde_trainer_step(tr);
    r->steps_done = step;
    r->train_rel_l2 = rl.train_rel_l2;
    r->test_rel_l2 = NAN;
    /* A non-finite prediction (the loss reports it) is a result, not a failure. */
    if (st == NDE_ERR_NONFINITE) {
        fprintf(stderr, "  %-11s diverged at step %zu: %s\n", e->name, step + 1,
                nde_last_error());
        r->train_rel_l2 = NAN;
        st = NDE_OK;
    } else if (st == NDE_OK) {
        st = nde_trainer_evaluate(tr, &test, &r->test_rel_l2);
    }
    nde_trainer_destroy(&tr);
    if (st != NDE_OK) return st;
    r->seconds = rl.total;
    r->ms_median = step ? optim_median(step_ms, step) : NAN;
    return NDE_OK;
}

static void print_metric(const opts *o, const char *name, size_t steps, size_t params,
                         const char *metric, double value, const char *unit)
{
    char v[64];
    if (isfinite(value)) snprintf(v, sizeof v, "%.9g", value);
    else snprintf(v, sizeof v, "null");
    printf("{\"bench\": \"optim_%s\", \"optimizer\": \"%s\", \"steps\": %zu, \"params\": %zu, "
           "\"metric\": \"%s\", \"value\": %s, \"unit\": \"%s\"}\n",
           o->mgno ? "mgno" : "fno", name, steps, params, metric, v, unit);
}

/* FNO-1D on Burgers: *x, *y are the generator's a and u (nde_alloc'd, caller frees). */
static nde_status setup_fno(nde_ctx *ctx, const opts *o, bench *b, nde_rng *rng, double **x,
                            double **y)
{
    nde_burgers_spec bs = nde_burgers_defaults();
    bs.n = o->n;
    bs.n_solve = o->n_solve;
    bs.seed = o->seed;
    char stem[1024];
    NDE_TRY(burgers_data_get(ctx, &bs, o->ntrain + o->ntest, o->cache, x, y, stem, sizeof stem));
    fprintf(stderr, "bench_optim_operator: data %s_{a,u}.npy\n", stem);
    nde_fno_spec spec = nde_fno1d_burgers_spec();
    spec.width = o->width;
    spec.n_modes[0] = o->modes;
    spec.proj_hidden[0] = 64;
    NDE_TRY(nde_model_fno_create(ctx, &spec, &o->n, o->batch, 1, &b->m));
    NDE_TRY(nde_model_init(b->m, rng));
    b->P = o->n;
    fprintf(stderr, "bench_optim_operator: FNO-1D width %zu, %zu modes, n = %zu\n", o->width,
            o->modes, o->n);
    return NDE_OK;
}

/* MgNO on Darcy: *x the normalized coefficients, *y the raw solutions (caller frees). */
static nde_status setup_mgno(const opts *o, bench *b, nde_rng *rng, double **x, double **y)
{
    darcy_data d;
    const size_t total = o->ntrain + o->ntest, P = o->n * o->n;
    NDE_TRY(darcy_data_generate(o->n, total, o->seed, o->cache, &d));
    *x = d.coeff;
    *y = d.sol;
    nde_normalizer *xnorm = NULL;
    NDE_TRY(nde_normalizer_create(*x, o->ntrain, P, 1e-5, &xnorm));
    nde_normalizer_encode(xnorm, *x, *x, total);
    nde_normalizer_destroy(&xnorm);
    NDE_TRY(nde_normalizer_create(*y, o->ntrain, P, 1e-5, &b->ynorm));
    nde_mgno_spec spec = nde_mgno_darcy_spec(o->n);
    spec.width = o->width;
    if (o->levels < 1 || o->levels > NDE_MGNO_MAX_LEVELS)
        return NDE_FAIL(NDE_ERR_ARG, "--levels %zu: need 1..%d", o->levels, NDE_MGNO_MAX_LEVELS);
    spec.levels = (int)o->levels;
    for (int l = 0; l < spec.levels; l++) spec.pre[l] = l + 1 < spec.levels ? 1 : 2;
    NDE_TRY(nde_model_mgno_create(&spec, "mgno", o->batch, &b->m));
    NDE_TRY(nde_model_init(b->m, rng));
    b->P = P;
    fprintf(stderr, "bench_optim_operator: MgNO width %zu, %zu levels, %zu×%zu grid\n", o->width,
            o->levels, o->n, o->n);
    return NDE_OK;
}

static nde_status setup(nde_ctx *ctx, const opts *o, bench *b, double **x, double **y)
{
    nde_rng rng;
    nde_rng_seed(&rng, o->seed);
    NDE_TRY(o->mgno ? setup_mgno(o, b, &rng, x, y) : setup_fno(ctx, o, b, &rng, x, y));
    b->x = *x;
    b->y = *y;
    const size_t count = nde_model_n_params(b->m);
    b->theta0 = nde_alloc_array(count, sizeof *b->theta0);
    b->pred = nde_alloc_array(o->batch * b->P, sizeof *b->pred);
    if (!b->theta0 || !b->pred)
        return NDE_FAIL(NDE_ERR_NOMEM, "bench buffers for %zu parameters, batch %zu of %zu points",
                        count, o->batch, b->P);
    memcpy(b->theta0, nde_params_theta(nde_model_params(b->m)), count * sizeof *b->theta0);
    fprintf(stderr, "bench_optim_operator: %zu parameters\n", count);
    return NDE_OK;
}

static void teardown(bench *b)
{
    nde_free(b->theta0);
    nde_free(b->pred);
    nde_normalizer_destroy(&b->ynorm);
    nde_model_destroy(&b->m);
}

int main(int argc, char **argv)
{
    opts o;
    int parsed = parse(argc, argv, &o);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    openblas_set_num_threads(1);
    nde_ctx *ctx = NULL;
    bench b = {0};
    double *x = NULL, *y = NULL;
    const size_t steps = o.epochs * (o.ntrain / o.batch);
    double *loss = nde_alloc_array(steps, sizeof *loss);
    double *secs = nde_alloc_array(steps, sizeof *secs);
    double *step_ms = nde_alloc_array(steps, sizeof *step_ms);
    nde_status st = !loss || !secs || !step_ms ? NDE_ERR_NOMEM : nde_mkdir_p(o.out);
    if (st == NDE_OK) st = nde_ctx_create(&ctx);
    if (st == NDE_OK) st = setup(ctx, &o, &b, &x, &y);
    int failed = st != NDE_OK;
    if (failed)
        fprintf(stderr, "bench_optim_operator: %s (%s)\n", nde_status_str(st), nde_last_error());
    const size_t params = failed ? 0 : nde_model_n_params(b.m);
    optim_entry e[OPTIM_N_ENTRIES];
    optim_entries_make(e);
    int ran[OPTIM_N_ENTRIES] = {0};
    for (int i = 0; i < OPTIM_N_ENTRIES && !failed; i++) {
        if (o.only && strcmp(o.only, e[i].name) != 0) continue;
        fprintf(stderr, "bench_optim_operator: %s (lr %g, wd %g, %d-bit state), %zu steps\n",
                e[i].name, e[i].spec.lr, e[i].spec.weight_decay, e[i].spec.state_bits, steps);
        result r = {0};
        if (run_one(&e[i], &o, &b, loss, secs, step_ms, &r) != NDE_OK) {
            fprintf(stderr, "bench_optim_operator: %s failed: %s\n", e[i].name, nde_last_error());
            failed = 1;
            continue;
        }
        ran[i] = r.steps_done > 0 && optim_write_curve(o.out, e[i].name, loss, secs, r.steps_done);
        print_metric(&o, e[i].name, steps, params, "final_train_rel_l2", r.train_rel_l2, "rel_l2");
        print_metric(&o, e[i].name, steps, params, "test_rel_l2", r.test_rel_l2, "rel_l2");
        print_metric(&o, e[i].name, steps, params, "ms_per_step_median", r.ms_median, "ms");
        print_metric(&o, e[i].name, steps, params, "train_seconds", r.seconds, "s");
        print_metric(&o, e[i].name, steps, params, "state_bytes", (double)r.state_bytes, "bytes");
        print_metric(&o, e[i].name, steps, params, "steps_done", (double)r.steps_done, "steps");
        fflush(stdout);
    }
    if (o.plot && !failed)
        optim_plot(o.out, o.mgno ? "optim_comparison_mgno.png" : "optim_comparison_fno.png",
                   o.mgno ? "MgNO on Darcy (small): batch relative L2 (EMA 0.95) by optimizer"
                          : "FNO-1D on Burgers (small): batch relative L2 (EMA 0.95) by optimizer",
                   "relative L2", 20.0, e, ran);
    teardown(&b);
    nde_free(x);
    nde_free(y);
    nde_free(loss);
    nde_free(secs);
    nde_free(step_ms);
    nde_ctx_destroy(&ctx);
    return failed;
}
