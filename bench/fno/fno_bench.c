/* FNO-1D Burgers training speed: seconds per epoch of nde (--precision float32 or float64) for the legacy
 * fourier_1d.py model (4 layers, 16 modes, width 64) on 1000 training and 100 test samples
 * at s = 1024, batch 20, Adam — one epoch = a training pass plus the test evaluation, as in
 * the legacy script. Prints one JSON object per result line. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../../examples/burgers_fno/burgers_data.h"
#include "../../examples/common/check.h"
#include "nde/nde.h"
#include "nde_args.h"

typedef struct opts {
    size_t n, ntrain, ntest, batch, epochs, steps, threads;
    const char *cache;
    int precision; /* nde_precision */
} opts;

/* NDE_ARGS_OK, or what nde_args_parse returned (help printed, or an error). */
static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.n = 1024, .ntrain = 1000, .ntest = 100, .batch = 20, .epochs = 3, .steps = 200, .threads = 2,
                .cache = ".cache/burgers", .precision = NDE_PRECISION_FLOAT32};
    static const char *const precisions[] = {"float64", "float32", NULL}; /* nde_precision */
    const nde_arg opts[] = {
        {.name = "n", .kind = NDE_ARG_SIZE, .dest = &o->n, .min = 1, .help = "grid points s"},
        {.name = "ntrain", .kind = NDE_ARG_SIZE, .dest = &o->ntrain, .min = 1,
         .help = "training samples"},
        {.name = "ntest", .kind = NDE_ARG_SIZE, .dest = &o->ntest, .min = 1, .help = "test samples"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &o->batch, .min = 1, .help = "batch size"},
        {.name = "epochs", .kind = NDE_ARG_SIZE, .dest = &o->epochs, .min = 1,
         .help = "timed epochs"},
        {.name = "solve-steps", .kind = NDE_ARG_SIZE, .dest = &o->steps, .min = 1,
         .help = "time steps of the Burgers data generator"},
        {.name = "threads", .kind = NDE_ARG_SIZE, .dest = &o->threads, .min = 1,
         .help = "threads per batch"},
        {.name = "precision", .kind = NDE_ARG_CHOICE, .dest = &o->precision, .choices = precisions,
         .help = "layer arithmetic: float32 (default) or float64"},
        NDE_ARGS_CACHE(&o->cache),
    };
    const nde_args_spec spec = {.prog = "fno_bench",
                                .about = "Seconds per epoch of the FNO-1D Burgers model.",
                                NDE_ARGS_TABLE(opts)};
    return nde_args_parse(&spec, argc, argv, NULL);
}

int main(int argc, char **argv)
{
    opts o;
    int parsed = parse(argc, argv, &o);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    nde_burgers_spec bs = nde_burgers_defaults();
    bs.n = o.n;
    bs.n_steps = o.steps;
    size_t total = o.ntrain + o.ntest;
    double *a, *u;
    char stem[1024];
    CHECK(burgers_data_get(ctx, &bs, total, o.cache, &a, &u, stem, sizeof stem));
    printf("{\"bench\": \"fno1d_burgers\", \"impl\": \"nde\", \"metric\": \"data\", \"value\": \"%s\"}\n", stem);

    nde_fno_spec spec = nde_fno1d_burgers_spec();
    spec.precision = (nde_precision)o.precision;
    const char *dtype = o.precision == NDE_PRECISION_FLOAT32 ? "float32" : "float64";
    nde_fno *fno;
    nde_params *p;
    CHECK(nde_params_create(&p));
    CHECK(nde_fno_create(ctx, p, &spec, &fno));
    nde_rng rng;
    nde_rng_seed(&rng, 0);
    nde_fno_init(fno, &rng);
    nde_fno_work *w;
    /* the batch is split over a team of `threads`; each runs a single-threaded BLAS */
    if (o.threads > 1) openblas_set_num_threads(1);
    CHECK(nde_fno_work_create_threaded(fno, o.batch, &o.n, o.threads ? o.threads : 1, &w));
    nde_optim_spec os = nde_optim_defaults(NDE_OPT_ADAM);
    os.lr = 1e-3;
    os.weight_decay = 1e-4;
    nde_optim *opt;
    CHECK(nde_optim_create(&os, p, &opt));
    double *pred = nde_alloc_array(o.batch * o.n, sizeof *pred);
    double *grad = nde_alloc_array(o.batch * o.n, sizeof *grad);
    size_t nbatch = o.ntrain / o.batch;
    double best = 1e300, sum = 0, t_fwd = 0, t_bwd = 0, t_opt = 0, cpu = 0;
    for (size_t e = 0; e < o.epochs; e++) {
        double t0 = nde_wall_seconds(), train = 0, test = 0, loss;
        clock_t c0 = clock(); /* process CPU time, all threads */
        for (size_t b = 0; b < nbatch; b++) {
            const double *ab = a + b * o.batch * o.n, *ub = u + b * o.batch * o.n;
            double t1 = nde_wall_seconds();
            CHECK(nde_fno_forward(fno, w, ab, pred, o.batch));
            CHECK(nde_rel_l2_loss(pred, ub, grad, o.batch, o.n, &loss));
            double t2 = nde_wall_seconds();
            nde_params_zero_grad(p);
            CHECK(nde_fno_backward(fno, w, grad, NULL, nde_params_grad(p), o.batch));
            double t3 = nde_wall_seconds();
            CHECK(nde_optim_step(opt));
            t_fwd += t2 - t1;
            t_bwd += t3 - t2;
            t_opt += nde_wall_seconds() - t3;
            train += loss;
        }
        for (size_t b = 0; b + o.batch <= o.ntest; b += o.batch) {
            const double *ab = a + (o.ntrain + b) * o.n, *ub = u + (o.ntrain + b) * o.n;
            CHECK(nde_fno_forward(fno, w, ab, pred, o.batch));
            CHECK(nde_rel_l2_loss(pred, ub, NULL, o.batch, o.n, &loss));
            test += loss;
        }
        double dt = nde_wall_seconds() - t0;
        cpu += (double)(clock() - c0) / CLOCKS_PER_SEC;
        if (dt < best) best = dt;
        sum += dt;
        fprintf(stderr, "epoch %zu: %.2f s, train rel L2 %.4f, test rel L2 %.4f\n", e + 1, dt,
                train / (double)(nbatch * o.batch), test / (double)o.ntest);
    }
    double ne = (double)o.epochs;
    printf("{\"bench\": \"fno1d_burgers\", \"impl\": \"nde\", \"dtype\": \"%s\", \"threads\": %zu, \"metric\": \"s_per_epoch_mean\", \"value\": %.3f, \"unit\": \"s\"}\n", dtype, o.threads, sum / ne);
    printf("{\"bench\": \"fno1d_burgers\", \"impl\": \"nde\", \"dtype\": \"%s\", \"metric\": \"s_per_epoch_min\", \"value\": %.3f, \"unit\": \"s\"}\n", dtype, best);
    printf("{\"bench\": \"fno1d_burgers\", \"impl\": \"nde\", \"dtype\": \"%s\", \"threads\": %zu, \"metric\": \"cpu_s_per_epoch_mean\", \"value\": %.3f, \"unit\": \"s\"}\n", dtype, o.threads, cpu / ne);
    printf("{\"bench\": \"fno1d_burgers\", \"impl\": \"nde\", \"metric\": \"forward_loss_s_per_epoch\", \"value\": %.3f, \"unit\": \"s\"}\n", t_fwd / ne);
    printf("{\"bench\": \"fno1d_burgers\", \"impl\": \"nde\", \"metric\": \"backward_s_per_epoch\", \"value\": %.3f, \"unit\": \"s\"}\n", t_bwd / ne);
    printf("{\"bench\": \"fno1d_burgers\", \"impl\": \"nde\", \"metric\": \"optimizer_s_per_epoch\", \"value\": %.3f, \"unit\": \"s\"}\n", t_opt / ne);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* ru_maxrss: KiB on Linux; the data included */
    printf("{\"bench\": \"fno1d_burgers\", \"impl\": \"nde\", \"dtype\": \"%s\", \"metric\": \"max_rss\", \"value\": %.1f, \"unit\": \"MiB\"}\n", dtype, (double)ru.ru_maxrss / 1024.0);
    nde_free(pred);
    nde_free(grad);
    nde_free(a);
    nde_free(u);
    nde_optim_destroy(&opt);
    nde_fno_work_destroy(&w);
    nde_fno_destroy(&fno);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
    return 0;
}
