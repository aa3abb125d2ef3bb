/* burgers_fno — the FNO-1D Burgers benchmark of Li et al. 2021 (legacy fourier_1d.py):
 * 4 Fourier layers, 16 modes, width 64, lifting from (a(x), x), projection 64→128→1,
 * GELU; 1000 training and 100 test samples at s = 1024, batch 20, Adam (lr 1e-3, L2 weight
 * decay 1e-4) with the lr halved every `step` epochs, relative L2 loss.
 *
 * Data: generated with nde's Burgers generator and cached under --cache (as .npy), or read
 * from a file: --data FILE with datasets --a-name/--u-name (default a, u: FNO's
 * burgers_data_R10.mat, MATLAB v7.3/HDF5, or .npy pairs via --data-a/--data-u), each
 * (count, S) with S a multiple of s (subsampled as x[:, ::S/s]); the first ntrain samples
 * train, the last ntest test (legacy fourier_1d.py). Writes under --out:
 *   log.csv         epoch, lr, train and test relative L2, seconds
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
#include "../common/cli.h"
#include "burgers_data.h"
#include "nde/nde.h"
#include "nde/plot.h"

typedef struct opts {
    size_t n, ntrain, ntest, batch, epochs, step, solve_steps, threads;
    double lr, wd, gamma;
    uint64_t seed;
    const char *out, *cache, *data, *data_a, *data_u, *a_name, *u_name;
    int resume, eval2x;
} opts;

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--n 1024] [--ntrain 1000] [--ntest 100] [--batch 20] [--epochs 500]\n"
            "          [--lr 1e-3] [--wd 1e-4] [--step 50] [--gamma 0.5] [--seed 0]\n"
            "          [--solve-steps 200] [--threads 2] [--cache .cache/burgers]\n"
            "          [--data FILE.mat|.h5 [--a-name a] [--u-name u] | --data-a A --data-u U]\n"
            "          [--out out/burgers_fno] [--resume] [--eval-2x]\n", prog);
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.n = 1024, .ntrain = 1000, .ntest = 100, .batch = 20, .epochs = 500, .step = 50,
                .solve_steps = 200, .threads = 2, .lr = 1e-3, .wd = 1e-4, .gamma = 0.5,
                .out = "out/burgers_fno", .cache = ".cache/burgers", .a_name = "a", .u_name = "u"};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t *zs = !strcmp(k, "--n") ? &o->n : !strcmp(k, "--ntrain") ? &o->ntrain
                   : !strcmp(k, "--ntest") ? &o->ntest : !strcmp(k, "--batch") ? &o->batch
                   : !strcmp(k, "--epochs") ? &o->epochs : !strcmp(k, "--step") ? &o->step
                   : !strcmp(k, "--solve-steps") ? &o->solve_steps
                   : !strcmp(k, "--threads") ? &o->threads : NULL;
        double *ds = !strcmp(k, "--lr") ? &o->lr : !strcmp(k, "--wd") ? &o->wd
                   : !strcmp(k, "--gamma") ? &o->gamma : NULL;
        const char **ss = !strcmp(k, "--out") ? &o->out : !strcmp(k, "--cache") ? &o->cache
                        : !strcmp(k, "--data-a") ? &o->data_a : !strcmp(k, "--data-u") ? &o->data_u
                        : !strcmp(k, "--data") ? &o->data : !strcmp(k, "--a-name") ? &o->a_name
                        : !strcmp(k, "--u-name") ? &o->u_name : NULL;
        size_t seed;
        if (!strcmp(k, "--resume")) o->resume = 1;
        else if (!strcmp(k, "--eval-2x")) o->eval2x = 1;
        else if (zs && v && cli_parse_size(v, zs) == 0) i++;
        else if (ds && v && cli_parse_double(v, ds) == 0) i++;
        else if (ss && v) { *ss = v; i++; }
        else if (!strcmp(k, "--seed") && v && cli_parse_size(v, &seed) == 0) { o->seed = seed; i++; }
        else {
            if (strcmp(k, "--help") && strcmp(k, "-h"))
                fprintf(stderr, "%s: bad or unknown option %s%s%s\n", argv[0], k, v ? " " : "",
                        v ? v : "");
            usage(argv[0]);
            return 1;
        }
    }
    if (!o->batch || !o->ntrain || !o->ntest || o->ntrain % o->batch || o->ntest % o->batch || !o->step) {
        fprintf(stderr, "ntrain and ntest must be positive multiples of batch; step > 0\n");
        return 1;
    }
    return 0;
}

/* the helpers below leave the program on failure */
#undef CHECK
#define CHECK(x) CHECK_OR(exit(1), x)

/* Mean relative L2 over `count` samples (count a multiple of batch); pred (count, n). */
static double evaluate(nde_fno *fno, nde_fno_work *w, const double *a, const double *u,
                       size_t count, size_t n, size_t batch, double *pred)
{
    double total = 0, loss;
    for (size_t b = 0; b < count; b += batch) {
        CHECK(nde_fno_forward(fno, w, a + b * n, pred + b * n, batch));
        CHECK(nde_rel_l2_loss(pred + b * n, u + b * n, NULL, batch, n, &loss));
        total += loss;
    }
    return total / (double)count;
}

static void load_data(nde_ctx *ctx, const opts *o, double **a, double **u)
{
    size_t total = o->ntrain + o->ntest;
    if (o->data || o->data_a || o->data_u) {
        if (!o->data && (!o->data_a || !o->data_u)) {
            fprintf(stderr, "give --data FILE, or both --data-a and --data-u\n");
            exit(2);
        }
        nde_array aa = {0}, uu = {0};
        CHECK(nde_dataset_read(o->data ? o->data : o->data_a, o->a_name, 2, &aa));
        CHECK(nde_dataset_read(o->data ? o->data : o->data_u, o->u_name, 2, &uu));
        size_t rows = aa.shape[0], cols = aa.shape[1];
        if (uu.shape[0] != rows || uu.shape[1] != cols || rows < total || cols % o->n) {
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
             "set output '%s/pred.png'\n"
             "set datafile separator ','\n"
             "set multiplot layout 2,2 title 'FNO-1D Burgers: test samples, true u(x,1) vs prediction'\n"
             "do for [s=0:3] {\n"
             "  set title sprintf('test sample %%d', s)\n"
             "  set xlabel 'x'\n"
             "  plot '%s/pred.csv' skip 1 using 1:(column(3+3*s)) with lines lw 2 title 'true u', \\\n"
             "       '' skip 1 using 1:(column(4+3*s)) with lines dt 2 lw 2 title 'FNO'\n"
             "}\n"
             "unset multiplot\n", o->out, o->out);
    nde_status st = nde_plot_run(script);
    if (st != NDE_OK) fprintf(stderr, "plot skipped: %s\n", nde_last_error());
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o)) return 2;
    nde_ctx *ctx;
    CHECK(nde_mkdir_p(o.out));
    CHECK(nde_ctx_create(&ctx));
    double *a, *u;
    load_data(ctx, &o, &a, &u);
    const double *a_test = a + o.ntrain * o.n, *u_test = u + o.ntrain * o.n;

    nde_fno_spec spec = nde_fno1d_burgers_spec();
    nde_fno *fno;
    nde_params *p;
    CHECK(nde_params_create(&p));
    CHECK(nde_fno_create(ctx, p, &spec, &fno));
    nde_rng rng;
    nde_rng_seed(&rng, o.seed);
    nde_fno_init(fno, &rng);
    fprintf(stderr, "FNO-1D: %zu parameters\n", nde_params_count(p));
    nde_fno_work *w;
    /* the batch is split over a team of `threads`; each runs a single-threaded BLAS */
    if (o.threads > 1) openblas_set_num_threads(1);
    CHECK(nde_fno_work_create_threaded(fno, o.batch, &o.n, o.threads ? o.threads : 1, &w));
    nde_optim_spec os = nde_optim_defaults(NDE_OPT_ADAM);
    os.lr = o.lr;
    os.weight_decay = o.wd;
    nde_optim *opt;
    CHECK(nde_optim_create(&os, p, &opt));
    nde_schedule sched = {.kind = NDE_SCHED_STEP, .v0 = o.lr, .gamma = o.gamma, .period = o.step};
    CHECK(nde_schedule_check(&sched));

    char ckpt[1024], logpath[1024];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o.out);
    snprintf(logpath, sizeof logpath, "%s/log.csv", o.out);
    nde_train_state ts = {.step = 0, .rng = rng};
    if (o.resume) {
        CHECK(nde_checkpoint_load(ckpt, p, opt, &ts));
        fprintf(stderr, "resumed from %s at epoch %llu\n", ckpt, (unsigned long long)ts.step);
    }
    FILE *log = fopen(logpath, o.resume ? "a" : "w");
    if (!log) {
        fprintf(stderr, "cannot write %s: %s\n", logpath, strerror(errno));
        return 1;
    }
    if (!o.resume) fprintf(log, "epoch,lr,train_rel_l2,test_rel_l2,seconds\n");

    double *pred = nde_alloc_array(o.ntest * o.n, sizeof *pred);
    double *grad = nde_alloc_array(o.batch * o.n, sizeof *grad);
    double *ab = nde_alloc_array(o.batch * o.n, sizeof *ab), *ub = nde_alloc_array(o.batch * o.n, sizeof *ub);
    size_t *perm = nde_alloc_array(o.ntrain, sizeof *perm);
    double test = 0, sec_total = 0;
    size_t epochs_run = 0;
    for (size_t e = (size_t)ts.step; e < o.epochs; e++) {
        double t0 = nde_wall_seconds(), train = 0, loss;
        double lr = nde_schedule_value(&sched, e);
        CHECK(nde_optim_set_lr(opt, lr));
        /* shuffle the training set (legacy DataLoader shuffle=True) */
        for (size_t i = 0; i < o.ntrain; i++) perm[i] = i;
        for (size_t i = o.ntrain - 1; i > 0; i--) {
            size_t j = (size_t)nde_rng_below(&ts.rng, i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t b = 0; b < o.ntrain; b += o.batch) {
            for (size_t i = 0; i < o.batch; i++) {
                memcpy(ab + i * o.n, a + perm[b + i] * o.n, o.n * sizeof *ab);
                memcpy(ub + i * o.n, u + perm[b + i] * o.n, o.n * sizeof *ub);
            }
            CHECK(nde_fno_forward(fno, w, ab, pred, o.batch));
            CHECK(nde_rel_l2_loss(pred, ub, grad, o.batch, o.n, &loss));
            nde_params_zero_grad(p);
            CHECK(nde_fno_backward(fno, w, grad, NULL, nde_params_grad(p), o.batch));
            CHECK(nde_optim_step(opt));
            train += loss;
        }
        test = evaluate(fno, w, a_test, u_test, o.ntest, o.n, o.batch, pred);
        double dt = nde_wall_seconds() - t0;
        sec_total += dt;
        epochs_run++;
        ts.step = e + 1;
        fprintf(log, "%zu,%.6g,%.6f,%.6f,%.3f\n", e + 1, lr, train / (double)o.ntrain, test, dt);
        fflush(log);
        fprintf(stderr, "epoch %4zu  lr %.2e  train %.5f  test %.5f  %.2f s\n", e + 1, lr,
                train / (double)o.ntrain, test, dt);
        CHECK(nde_checkpoint_save(ckpt, p, opt, &ts));
    }
    fclose(log);
    test = evaluate(fno, w, a_test, u_test, o.ntest, o.n, o.batch, pred);
    write_predictions(&o, a_test, u_test, pred);

    double test2x = NAN; /* without --eval-2x: null in the summary */
    if (o.eval2x) {
        nde_burgers_spec b2 = nde_burgers_defaults();
        b2.n = 2 * o.n;
        b2.n_steps = o.solve_steps;
        double *a2 = nde_alloc_array(o.ntest * b2.n, sizeof *a2), *u2 = nde_alloc_array(o.ntest * b2.n, sizeof *u2);
        double *p2 = nde_alloc_array(o.ntest * b2.n, sizeof *p2);
        CHECK(nde_burgers_generate(ctx, &b2, o.ntrain, o.ntest, a2, u2, NULL, NULL));
        nde_fno_work *w2;
        size_t n2 = b2.n;
        CHECK(nde_fno_work_create_threaded(fno, o.batch, &n2, o.threads ? o.threads : 1, &w2));
        test2x = evaluate(fno, w2, a2, u2, o.ntest, n2, o.batch, p2);
        nde_fno_work_destroy(&w2);
        nde_free(a2);
        nde_free(u2);
        nde_free(p2);
    }
    char summary[1024], at2s[32] = "null";
    if (isfinite(test2x)) snprintf(at2s, sizeof at2s, "%.6f", test2x);
    snprintf(summary, sizeof summary,
             "{\"example\": \"burgers_fno\", \"s\": %zu, \"epochs\": %llu, \"params\": %zu, "
             "\"test_rel_l2\": %.6f, \"test_rel_l2_at_2s\": %s, \"seconds_per_epoch\": %.3f}",
             o.n, (unsigned long long)ts.step, nde_params_count(p), test, at2s,
             epochs_run ? sec_total / (double)epochs_run : 0.0);
    printf("%s\n", summary);
    char spath[1024];
    snprintf(spath, sizeof spath, "%s/summary.json", o.out);
    FILE *sf = fopen(spath, "w");
    if (sf) {
        fprintf(sf, "%s\n", summary);
        fclose(sf);
    }
    nde_free(pred);
    nde_free(grad);
    nde_free(ab);
    nde_free(ub);
    nde_free(perm);
    nde_free(a);
    nde_free(u);
    nde_optim_destroy(&opt);
    nde_fno_work_destroy(&w);
    nde_fno_destroy(&fno);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
    return 0;
}
