/* hard_constraint — an FNO-1D on viscous Burgers' equation trained twice from the same
 * initialization: plain, and followed by the hard-constraint layer of nde/constraint.h
 * that projects each prediction onto {u : mean(u) = mean(a)} (a periodic viscous Burgers
 * solution conserves its mean; the generator's pseudo-spectral solver keeps the k = 0 mode
 * to rounding when it solves on the output grid). Chalapathi, Du, Krishnapriyan, "Scaling
 * physics-informed hard constraints with mixture-of-experts", ICLR 2024.
 *
 * For each variant it prints one JSON line: the test relative L2 error, the largest and
 * the mean constraint violation |mean(prediction) − mean(a)| over the test samples, and
 * the training time; also the data's own violation. Data are generated in memory with
 * nonzero means (zero_mean = 0), so the constraint's right-hand side differs per sample.
 * Small by default (seconds); --n, --ntrain, --epochs … scale it. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common/check.h"
#include "nde/nde.h"
#include "nde_args.h"

typedef struct opts {
    size_t n, ntrain, ntest, batch, epochs, width, modes, threads;
    double lr;
    uint64_t seed;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.n = 64, .ntrain = 100, .ntest = 50, .batch = 10, .epochs = 10, .width = 16,
                .modes = 8, .threads = 1, .lr = 1e-3};
    const nde_arg opts[] = {
        {.name = "n", .kind = NDE_ARG_SIZE, .dest = &o->n, .min = 8, .help = "grid points"},
        {.name = "ntrain", .kind = NDE_ARG_SIZE, .dest = &o->ntrain, .min = 1, .help = "training samples"},
        {.name = "ntest", .kind = NDE_ARG_SIZE, .dest = &o->ntest, .min = 1, .help = "test samples"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &o->batch, .min = 1, .help = "batch size"},
        {.name = "epochs", .kind = NDE_ARG_SIZE, .dest = &o->epochs, .min = 1, .help = "training epochs"},
        {.name = "width", .kind = NDE_ARG_SIZE, .dest = &o->width, .min = 1, .help = "FNO width"},
        {.name = "modes", .kind = NDE_ARG_SIZE, .dest = &o->modes, .min = 1, .help = "Fourier modes"},
        {.name = "threads", .kind = NDE_ARG_SIZE, .dest = &o->threads, .min = 1,
         .help = "threads per batch"},
        {.name = "lr", .kind = NDE_ARG_DOUBLE, .dest = &o->lr, .bounds = NDE_ARG_LO_OPEN,
         .help = "Adam learning rate"},
        NDE_ARGS_SEED(&o->seed),
    };
    const nde_args_spec spec = {
        .prog = "hard_constraint",
        .about = "Trains an FNO-1D on Burgers' equation with and without the hard mean-\n"
                 "conservation layer and reports test error and constraint violation.",
        NDE_ARGS_TABLE(opts)};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return rc;
    if (o->batch > o->ntrain) {
        fprintf(stderr, "hard_constraint: --batch %zu > --ntrain %zu\n", o->batch, o->ntrain);
        return NDE_ARGS_ERROR;
    }
    return NDE_ARGS_OK;
}

/* max and mean over samples of |mean(p) − mean(a)|. */
static void violation(const double *p, const double *a, size_t count, size_t n, double *vmax,
                      double *vmean)
{
    *vmax = 0.0;
    *vmean = 0.0;
    for (size_t s = 0; s < count; s++) {
        double mp = 0.0, ma = 0.0;
        for (size_t i = 0; i < n; i++) mp += p[s * n + i], ma += a[s * n + i];
        const double v = fabs(mp - ma) / (double)n;
        *vmax = fmax(*vmax, v);
        *vmean += v / (double)count;
    }
}

/* Train one variant from seed; print its JSON line. */
static int run(nde_ctx *ctx, const opts *o, int constrained, const double *a, const double *u)
{
    nde_fno_spec spec = nde_fno1d_burgers_spec();
    spec.width = o->width;
    spec.n_modes[0] = o->modes;
    nde_model *m;
    CHECK(nde_model_fno_create(ctx, &spec, &o->n, o->batch, o->threads, &m));
    if (constrained) { /* b = mean(a): B is the mean row itself */
        nde_constraint *c;
        CHECK(nde_constraint_mean_create(o->n, 1, 1, &c));
        double *B = nde_alloc_array(o->n, sizeof *B);
        if (!B) CHECK(NDE_ERR_NOMEM);
        CHECK(nde_constraint_matrix(c, B));
        nde_status st = nde_model_constraint_create(m, c, B, &m);
        nde_free(B);
        CHECK(st);
    }
    nde_rng rng;
    nde_rng_seed(&rng, o->seed);
    CHECK(nde_model_init(m, &rng)); /* the same θ for both variants */
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = o->batch;
    ts.epochs = o->epochs;
    ts.use_rng = 1;
    ts.rng = rng;
    ts.optim.lr = o->lr;
    ts.loss = nde_loss_rel_l2();
    ts.eval_every = 0;
    ts.progress = 0;
    ts.name = "hard_constraint";
    const double *a_test = a + o->ntrain * o->n, *u_test = u + o->ntrain * o->n;
    nde_data train = {.n = o->ntrain, .x_size = o->n, .y_size = o->n, .x = a, .y = u};
    nde_data test = {.n = o->ntest, .x_size = o->n, .y_size = o->n, .x = a_test, .y = u_test};
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &train, &test, &ts, &tr));
    double t0 = nde_wall_seconds();
    CHECK(nde_trainer_run(tr));
    const double seconds = nde_wall_seconds() - t0;
    double err;
    CHECK(nde_trainer_evaluate(tr, &test, &err));
    nde_trainer_destroy(&tr);
    double *pred = nde_alloc_array(o->ntest * o->n, sizeof *pred);
    if (!pred) CHECK(NDE_ERR_NOMEM);
    CHECK(nde_model_set_training(m, 0));
    for (size_t s = 0; s < o->ntest; s += o->batch) {
        const size_t b = o->ntest - s < o->batch ? o->ntest - s : o->batch;
        CHECK(nde_model_forward(m, a_test + s * o->n, pred + s * o->n, b));
    }
    double vmax, vmean;
    violation(pred, a_test, o->ntest, o->n, &vmax, &vmean);
    printf("{\"example\": \"hard_constraint\", \"model\": \"%s\", \"n\": %zu, \"ntrain\": %zu, "
           "\"epochs\": %zu, \"test_rel_l2\": %.6f, \"violation_max\": %.3e, "
           "\"violation_mean\": %.3e, \"train_seconds\": %.2f}\n",
           constrained ? "fno+mean_projection" : "fno", o->n, o->ntrain, o->epochs, err, vmax, vmean,
           seconds);
    fflush(stdout);
    nde_free(pred);
    nde_model_destroy(&m);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    int parsed = parse(argc, argv, &o);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (o.threads > 1) openblas_set_num_threads(1);
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    const size_t total = o.ntrain + o.ntest;
    double *a = nde_alloc_array(total * o.n, sizeof *a), *u = nde_alloc_array(total * o.n, sizeof *u);
    if (!a || !u) CHECK(NDE_ERR_NOMEM);
    nde_burgers_spec bs = nde_burgers_defaults();
    bs.n = o.n;
    bs.zero_mean = 0; /* sample the mean too: the right-hand side differs per sample */
    bs.seed = o.seed;
    CHECK(nde_burgers_generate(ctx, &bs, 0, total, a, u, NULL, NULL));
    double dmax, dmean;
    violation(u, a, total, o.n, &dmax, &dmean);
    printf("{\"example\": \"hard_constraint\", \"data_violation_max\": %.3e}\n", dmax);
    int rc = run(ctx, &o, 0, a, u);
    if (rc == 0) rc = run(ctx, &o, 1, a, u);
    nde_free(a);
    nde_free(u);
    nde_ctx_destroy(&ctx);
    return rc;
}
