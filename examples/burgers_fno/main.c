/* burgers_fno — the FNO-1D Burgers benchmark of Li et al. 2021 (legacy fourier_1d.py):
 * 4 Fourier layers, 16 modes, width 64, lifting from (a(x), x), projection 64→128→1,
 * GELU; 1000 training and 100 test samples at s = 1024, batch 20, Adam (lr 1e-3, L2 weight
 * decay 1e-4), relative L2 loss. The learning rate decays linearly to zero over the run's
 * steps (after --warmup steps of linear warm-up; Defazio et al. 2023, arXiv 2310.07831);
 * --schedule step restores the paper's StepLR (halved every --step epochs). --ema D also
 * keeps an exponential moving average of the parameters (decay D, --ema-warmup for
 * TensorFlow's num_updates warm-up), evaluated beside them and saved in the checkpoint.
 *
 * Data: generated with nde's Burgers generator and cached under --cache (as .npy), or read
 * from a file: --data FILE with datasets --a-name/--u-name (default a, u: FNO's
 * burgers_data_R10.mat, MATLAB v7.3/HDF5, or .npy pairs via --data-a/--data-u), each
 * (count, S) with S a multiple of s (subsampled as x[:, ::S/s]); the first ntrain samples
 * train, the last ntest test (legacy fourier_1d.py). Writes under --out:
 *   metrics.jsonl   the trainer's line per epoch: lr, train and test relative L2 (and the
 *                   moving average's, test_metric_ema, with --ema), seconds
 *   summary.json    final numbers (also printed as one JSON line)
 *   pred.csv, pred.png  x, a, true and predicted u for four test samples
 *   checkpoint.safetensors  parameters, Adam state and epoch (resume with --resume)
 * --threads T splits each batch over T threads (single-threaded OpenBLAS inside).
 * With --eval-2x the trained model is also evaluated on the test inputs at 2s (the same
 * functions sampled twice as finely) with the same API — the resolution-transfer check. */
#include <errno.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "burgers_data.h"
#include "nde/nde.h"
#include "nde_plot.h"
#include "nde_args.h"

typedef struct opts {
    size_t n, ntrain, ntest, batch, epochs, step, solve_steps, threads, warmup;
    double lr, wd, gamma, ema;
    uint64_t seed;
    const char *out, *cache, *data, *data_a, *data_u, *a_name, *u_name;
    int resume, eval2x, precision, schedule, ema_warmup;
} opts;

static const char *const schedules[] = {"linear", "step", NULL};

/* NDE_ARGS_OK, or what nde_args_parse returned (help printed, or an error). */
static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.n = 1024, .ntrain = 1000, .ntest = 100, .batch = 20, .epochs = 500, .step = 50,
                .solve_steps = 200, .threads = 2, .lr = 1e-3, .wd = 1e-4, .gamma = 0.5,
                .out = "out/burgers_fno", .cache = ".cache/burgers", .a_name = "a", .u_name = "u",
                .precision = NDE_PRECISION_FLOAT32};
    static const char *const precisions[] = {"float64", "float32", NULL}; /* nde_precision */
    const nde_arg opts[] = {
        {.name = "n", .kind = NDE_ARG_SIZE, .dest = &o->n, .min = 1, .help = "grid points s"},
        {.name = "ntrain", .kind = NDE_ARG_SIZE, .dest = &o->ntrain, .min = 1,
         .help = "training samples (a multiple of --batch)"},
        {.name = "ntest", .kind = NDE_ARG_SIZE, .dest = &o->ntest, .min = 1,
         .help = "test samples (a multiple of --batch)"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &o->batch, .min = 1, .help = "batch size"},
        {.name = "epochs", .kind = NDE_ARG_SIZE, .dest = &o->epochs, .help = "training epochs"},
        {.name = "lr", .kind = NDE_ARG_DOUBLE, .dest = &o->lr, .bounds = NDE_ARG_LO,
         .help = "Adam learning rate"},
        {.name = "wd", .kind = NDE_ARG_DOUBLE, .dest = &o->wd, .bounds = NDE_ARG_LO,
         .help = "L2 weight decay"},
        {.name = "schedule", .kind = NDE_ARG_CHOICE, .dest = &o->schedule, .choices = schedules,
         .help = "learning rate: linear decay to zero over the run's steps, or\n"
                 "step: StepLR (x gamma every --step epochs; the paper's)"},
        {.name = "warmup", .kind = NDE_ARG_SIZE, .dest = &o->warmup,
         .help = "linear: warm-up steps from 0 to --lr"},
        {.name = "step", .kind = NDE_ARG_SIZE, .dest = &o->step, .min = 1,
         .help = "step: epochs between learning-rate decays"},
        {.name = "gamma", .kind = NDE_ARG_DOUBLE, .dest = &o->gamma, .bounds = NDE_ARG_LO_OPEN,
         .help = "step: learning-rate decay factor"},
        {.name = "ema", .kind = NDE_ARG_DOUBLE, .dest = &o->ema, .bounds = NDE_ARG_LO | NDE_ARG_HI_OPEN,
         .hi = 1.0, .help = "decay of a moving average of the parameters (0: none)"},
        {.name = "ema-warmup", .kind = NDE_ARG_FLAG, .dest = &o->ema_warmup,
         .help = "average with decay min(D, (1+k)/(10+k)) at update k"},
        NDE_ARGS_SEED(&o->seed),
        {.name = "solve-steps", .kind = NDE_ARG_SIZE, .dest = &o->solve_steps, .min = 1,
         .help = "time steps of the Burgers data generator"},
        {.name = "threads", .kind = NDE_ARG_SIZE, .dest = &o->threads,
         .help = "threads per batch (0: 1)"},
        {.name = "precision", .kind = NDE_ARG_CHOICE, .dest = &o->precision, .choices = precisions,
         .help = "layer arithmetic: float32 (default) or float64"},
        NDE_ARGS_CACHE(&o->cache),
        {.name = "data", .kind = NDE_ARG_STRING, .dest = &o->data, .metavar = "FILE",
         .help = "read a and u from FILE (.mat v7.3 or HDF5)"},
        {.name = "a-name", .kind = NDE_ARG_STRING, .dest = &o->a_name, .metavar = "NAME",
         .help = "dataset of a in --data"},
        {.name = "u-name", .kind = NDE_ARG_STRING, .dest = &o->u_name, .metavar = "NAME",
         .help = "dataset of u in --data"},
        {.name = "data-a", .kind = NDE_ARG_STRING, .dest = &o->data_a, .metavar = "FILE",
         .help = "read a from FILE (.npy; with --data-u)"},
        {.name = "data-u", .kind = NDE_ARG_STRING, .dest = &o->data_u, .metavar = "FILE",
         .help = "read u from FILE (.npy; with --data-a)"},
        NDE_ARGS_OUT(&o->out),
        {.name = "resume", .kind = NDE_ARG_FLAG, .dest = &o->resume,
         .help = "continue from <out>/checkpoint.safetensors"},
        {.name = "eval-2x", .kind = NDE_ARG_FLAG, .dest = &o->eval2x,
         .help = "also evaluate on the test inputs at 2s"},
    };
    const nde_args_spec spec = {
        .prog = "burgers_fno",
        .about = "Trains the FNO-1D of Li et al. 2021 on Burgers' equation (generated data,\n"
                 "or --data FILE, or --data-a A --data-u U).",
        NDE_ARGS_TABLE(opts)};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return rc;
    if (o->ntrain % o->batch || o->ntest % o->batch) {
        fprintf(stderr, "burgers_fno: --ntrain %zu and --ntest %zu must be multiples of --batch %zu "
                        "(try --help)\n", o->ntrain, o->ntest, o->batch);
        return NDE_ARGS_ERROR;
    }
    if ((o->data_a || o->data_u) && (o->data || !o->data_a || !o->data_u)) {
        fprintf(stderr, "burgers_fno: give --data FILE, or both --data-a and --data-u (try --help)\n");
        return NDE_ARGS_ERROR;
    }
    return NDE_ARGS_OK;
}

/* the helpers below leave the program on failure */
#undef CHECK
#define CHECK(x) CHECK_OR(exit(1), x)

/* Mean relative L2 over `count` samples (count a multiple of batch); pred (count, n). */
static double evaluate(nde_model *m, const double *a, const double *u, size_t count, size_t n,
                       size_t batch, double *pred)
{
    double total = 0, loss;
    for (size_t b = 0; b < count; b += batch) {
        CHECK(nde_model_forward(m, a + b * n, pred + b * n, batch));
        CHECK(nde_rel_l2_loss(pred + b * n, u + b * n, NULL, batch, n, &loss));
        total += loss;
    }
    return total / (double)count;
}

/* The epoch line on stderr, and the time of the epochs this process ran. */
typedef struct epoch_log {
    double seconds;
    size_t epochs_run;
} epoch_log;

static int print_epoch(const nde_train_info *info, void *user)
{
    epoch_log *lg = user;
    lg->seconds += info->seconds;
    lg->epochs_run++;
    fprintf(stderr, "epoch %4zu  lr %.2e  train %.5f  test %.5f", info->epoch, info->lr,
            info->train_loss, info->test_metric);
    if (isfinite(info->test_metric_ema)) fprintf(stderr, "  test (EMA) %.5f", info->test_metric_ema);
    fprintf(stderr, "  %.2f s\n", info->seconds);
    return 0;
}

static void load_data(nde_ctx *ctx, const opts *o, double **a, double **u)
{
    size_t total = o->ntrain + o->ntest;
    if (o->data || o->data_a || o->data_u) {
        nde_array aa = {0}, uu = {0};
        CHECK(nde_dataset_read(o->data ? o->data : o->data_a, o->a_name, 2, &aa));
        CHECK(nde_dataset_read(o->data ? o->data : o->data_u, o->u_name, 2, &uu));
        size_t rows = aa.shape[0], cols = aa.shape[1];
        if (uu.shape[0] != rows || uu.shape[1] != cols || rows < total || cols < o->n || cols % o->n) {
            fprintf(stderr, "data: a (%zu, %zu), u (%zu, %zu): need >= %zu rows and S a multiple of %zu\n",
                    rows, cols, uu.shape[0], uu.shape[1], total, o->n);
            exit(2);
        }
        size_t sub = cols / o->n;
        *a = nde_alloc_array(total * o->n, sizeof **a);
        *u = nde_alloc_array(total * o->n, sizeof **u);
        if (!*a || !*u) CHECK(NDE_ERR_NOMEM);
        for (size_t i = 0; i < total; i++) {
            size_t src = i < o->ntrain ? i : rows - o->ntest + (i - o->ntrain);
            for (size_t j = 0; j < o->n; j++) {
                (*a)[i * o->n + j] = aa.data[src * cols + j * sub];
                (*u)[i * o->n + j] = uu.data[src * cols + j * sub];
            }
        }
        nde_array_free(&aa);
        nde_array_free(&uu);
        return;
    }
    nde_burgers_spec bs = nde_burgers_defaults();
    bs.n = o->n;
    bs.n_steps = o->solve_steps;
    char stem[1024];
    CHECK(burgers_data_get(ctx, &bs, total, o->cache, a, u, stem, sizeof stem));
    fprintf(stderr, "data: %s_{a,u}.npy\n", stem);
}

static void write_predictions(const opts *o, const double *a, const double *u, const double *pred)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pred.csv", o->out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "x");
    for (int s = 0; s < 4; s++) fprintf(f, ",a%d,u%d,pred%d", s, s, s);
    fprintf(f, "\n");
    for (size_t j = 0; j < o->n; j++) {
        fprintf(f, "%.6f", (double)j / (double)o->n);
        for (size_t s = 0; s < 4 && s < o->ntest; s++)
            fprintf(f, ",%.9g,%.9g,%.9g", a[s * o->n + j], u[s * o->n + j], pred[s * o->n + j]);
        fprintf(f, "\n");
    }
    fclose(f);
    char script[4096];
    snprintf(script, sizeof script,
             "set terminal pngcairo size 1200,800 noenhanced\n"
             "set output ARG1.'/pred.png'\n"
             "set datafile separator ','\n"
             "set multiplot layout 2,2 title 'FNO-1D Burgers: test samples, true u(x,1) vs prediction'\n"
             "do for [s=0:3] {\n"
             "  set title sprintf('test sample %%d', s)\n"
             "  set xlabel 'x'\n"
             "  plot ARG1.'/pred.csv' skip 1 using 1:(column(3+3*s)) with lines lw 2 title 'true u', \\\n"
             "       '' skip 1 using 1:(column(4+3*s)) with lines dt 2 lw 2 title 'FNO'\n"
             "}\n"
             "unset multiplot\n");
    nde_status st = nde_plot_run_args(script, 1, (const char *const[]){o->out});
    if (st != NDE_OK) fprintf(stderr, "plot skipped: %s\n", nde_last_error());
}

int main(int argc, char **argv)
{
    opts o;
    int parsed = parse(argc, argv, &o);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    nde_ctx *ctx;
    CHECK(nde_mkdir_p(o.out));
    CHECK(nde_ctx_create(&ctx));
    double *a, *u;
    load_data(ctx, &o, &a, &u);
    const double *a_test = a + o.ntrain * o.n, *u_test = u + o.ntrain * o.n;

    nde_fno_spec spec = nde_fno1d_burgers_spec();
    spec.precision = (nde_precision)o.precision;
    /* the batch is split over a team of `threads`; each runs a single-threaded BLAS */
    const size_t threads = o.threads ? o.threads : 1;
    if (o.threads > 1) openblas_set_num_threads(1);
    nde_model *m;
    CHECK(nde_model_fno_create(ctx, &spec, &o.n, o.batch, threads, &m));
    nde_rng rng;
    nde_rng_seed(&rng, o.seed);
    CHECK(nde_model_init(m, &rng));
    fprintf(stderr, "FNO-1D: %zu parameters\n", nde_model_n_params(m));

    char ckpt[1024], metrics[1024];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o.out);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", o.out);
    epoch_log lg = {0};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = o.batch;
    ts.epochs = o.epochs;
    ts.sampling = NDE_SAMPLE_SHUFFLE; /* legacy DataLoader shuffle=True */
    ts.use_rng = 1;                   /* the shuffles continue the init's generator */
    ts.rng = rng;
    ts.optim.lr = o.lr;
    ts.optim.weight_decay = o.wd;
    const uint64_t steps = (uint64_t)o.epochs * (o.ntrain / o.batch);
    if (o.schedule == 0 && o.warmup >= steps) {
        fprintf(stderr, "burgers_fno: --warmup %zu must be below the run's %llu steps\n", o.warmup,
                (unsigned long long)steps);
        return 2;
    }
    if (o.schedule == 0) { /* linear decay to zero, per step */
        ts.schedule = nde_schedule_linear(o.lr, 0.0, steps, o.warmup);
        ts.schedule_per_step = 1;
    } else {
        ts.schedule = (nde_schedule){.kind = NDE_SCHED_STEP, .v0 = o.lr, .gamma = o.gamma,
                                     .period = o.step};
    }
    ts.ema_decay = o.ema;
    ts.ema_warmup = o.ema_warmup;
    ts.loss = nde_loss_rel_l2();
    ts.checkpoint_path = ckpt;
    ts.metrics_path = metrics;
    ts.name = "burgers_fno";
    ts.on_epoch = print_epoch;
    ts.user = &lg;
    nde_data train = {.n = o.ntrain, .x_size = o.n, .y_size = o.n, .x = a, .y = u};
    nde_data test = {.n = o.ntest, .x_size = o.n, .y_size = o.n, .x = a_test, .y = u_test};
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &train, &test, &ts, &tr));
    if (o.resume) {
        CHECK(nde_trainer_resume(tr, ckpt));
        fprintf(stderr, "resumed from %s at epoch %zu\n", ckpt, nde_trainer_epoch(tr));
    }
    CHECK(nde_trainer_run(tr));
    const size_t epochs_done = nde_trainer_epoch(tr);
    const double test_ema = o.ema > 0.0 ? nde_trainer_test_metric_ema(tr) : NAN;
    nde_trainer_destroy(&tr);

    double *pred = nde_alloc_array(o.ntest * o.n, sizeof *pred);
    if (!pred) CHECK(NDE_ERR_NOMEM);
    double test_err = evaluate(m, a_test, u_test, o.ntest, o.n, o.batch, pred);
    write_predictions(&o, a_test, u_test, pred);

    double test2x = NAN; /* without --eval-2x: null in the summary */
    if (o.eval2x) {
        nde_burgers_spec b2 = nde_burgers_defaults();
        b2.n = 2 * o.n;
        b2.n_steps = o.solve_steps;
        double *a2 = nde_alloc_array(o.ntest * b2.n, sizeof *a2), *u2 = nde_alloc_array(o.ntest * b2.n, sizeof *u2);
        double *p2 = nde_alloc_array(o.ntest * b2.n, sizeof *p2);
        if (!a2 || !u2 || !p2) CHECK(NDE_ERR_NOMEM);
        CHECK(nde_burgers_generate(ctx, &b2, o.ntrain, o.ntest, a2, u2, NULL, NULL));
        /* the same weights on the finer grid: a second model, θ copied (same tensors) */
        nde_model *m2;
        size_t n2 = b2.n;
        CHECK(nde_model_fno_create(ctx, &spec, &n2, o.batch, threads, &m2));
        memcpy(nde_params_theta(nde_model_params(m2)), nde_params_theta(nde_model_params(m)),
               nde_model_n_params(m) * sizeof(double));
        test2x = evaluate(m2, a2, u2, o.ntest, n2, o.batch, p2);
        nde_model_destroy(&m2);
        nde_free(a2);
        nde_free(u2);
        nde_free(p2);
    }
    char summary[1024], at2s[32] = "null", ema[32] = "null";
    if (isfinite(test2x)) snprintf(at2s, sizeof at2s, "%.6f", test2x);
    if (isfinite(test_ema)) snprintf(ema, sizeof ema, "%.6f", test_ema);
    snprintf(summary, sizeof summary,
             "{\"example\": \"burgers_fno\", \"s\": %zu, \"epochs\": %llu, \"params\": %zu, "
             "\"schedule\": \"%s\", \"test_rel_l2\": %.6f, \"test_rel_l2_ema\": %s, "
             "\"test_rel_l2_at_2s\": %s, \"seconds_per_epoch\": %.3f}",
             o.n, (unsigned long long)epochs_done, nde_model_n_params(m), schedules[o.schedule],
             test_err, ema, at2s,
             lg.epochs_run ? lg.seconds / (double)lg.epochs_run : 0.0);
    printf("%s\n", summary);
    char spath[1024];
    snprintf(spath, sizeof spath, "%s/summary.json", o.out);
    FILE *sf = fopen(spath, "w");
    if (sf) {
        fprintf(sf, "%s\n", summary);
        fclose(sf);
    }
    nde_free(pred);
    nde_free(a);
    nde_free(u);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
    return 0;
}
