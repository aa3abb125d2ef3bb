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
 * (loss against step and against wall time; gnuplot). The BLAS runs single-threaded (small
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

/* The operator under test behind one interface: forward keeping what backward needs, and
 * backward accumulating ∂L/∂θ into the store's gradient. */
typedef struct opmodel {
    nde_params *params;     /* owned here; the network borrows it */
    nde_fno *fno;
    nde_fno_work *work;
    nde_mgno *mg;
    size_t P;               /* points per sample (input and output have one channel) */
} opmodel;

static nde_status opmodel_forward(opmodel *m, const double *x, double *y, size_t b)
{
    return m->fno ? nde_fno_forward(m->fno, m->work, x, y, b) : nde_mgno_forward_keep(m->mg, x, y, b);
}

static nde_status opmodel_backward(opmodel *m, const double *gy, size_t b)
{
    double *g = nde_params_grad(m->params);
    return m->fno ? nde_fno_backward(m->fno, m->work, gy, NULL, g, b)
                  : nde_mgno_backward(m->mg, gy, NULL, g, b);
}

static void opmodel_destroy(opmodel *m)
{
    nde_fno_work_destroy(&m->work);
    nde_fno_destroy(&m->fno);
    nde_mgno_destroy(&m->mg);
    nde_params_destroy(&m->params);
}

/* What every optimizer's run shares: the model (θ reset to theta0 before each run), the
 * data and the batch buffers. */
typedef struct bench {
    opmodel m;
    const double *x, *y;    /* (ntrain + ntest, P): model inputs, raw targets */
    nde_normalizer *ynorm;  /* MgNO: the model predicts normalized targets; FNO: NULL */
    double *theta0;         /* (params) initial weights */
    double *xb, *yb, *out, *pred, *grad; /* (batch, P) */
    size_t *perm;           /* (ntrain) */
} bench;

typedef struct result {
    double train_rel_l2, test_rel_l2, ms_median, seconds;
    size_t state_bytes;
    size_t steps_done;      /* < the planned steps when the run diverged */
} result;

/* Forward on b->xb and the summed relative L2 of the decoded prediction against b->yb in
 * *loss; with want_grad, b->grad holds its gradient with respect to the model's output. */
static nde_status batch_loss(const opts *o, bench *b, double *loss, int want_grad)
{
    const size_t P = b->m.P;
    NDE_TRY(opmodel_forward(&b->m, b->xb, b->out, o->batch));
    const double *pred = b->out;
    if (b->ynorm) {
        nde_normalizer_decode(b->ynorm, b->out, b->pred, o->batch);
        pred = b->pred;
    }
    NDE_TRY(nde_rel_l2_loss(pred, b->yb, want_grad ? b->grad : NULL, o->batch, P, loss));
    if (want_grad && b->ynorm) nde_normalizer_decode_vjp(b->ynorm, b->grad, b->grad, o->batch);
    return NDE_OK;
}

/* Mean relative L2 over the ntest test samples. */
static nde_status test_error(const opts *o, bench *b, double *err)
{
    const size_t P = b->m.P;
    double total = 0.0, loss;
    for (size_t s = o->ntrain; s < o->ntrain + o->ntest; s += o->batch) {
        memcpy(b->xb, b->x + s * P, o->batch * P * sizeof *b->xb);
        memcpy(b->yb, b->y + s * P, o->batch * P * sizeof *b->yb);
        NDE_TRY(batch_loss(o, b, &loss, 0));
        total += loss;
    }
    *err = total / (double)o->ntest;
    return NDE_OK;
}

/* One forward, loss, backward and optimizer step on the batch in b->xb, b->yb; *loss is
 * the batch-mean relative L2 (the gradient of the summed loss scaled by 1/batch). */
static nde_status train_step(const opts *o, bench *b, nde_optim *opt, double *loss)
{
    NDE_TRY(batch_loss(o, b, loss, 1));
    *loss /= (double)o->batch;
    cblas_dscal((int)(o->batch * b->m.P), 1.0 / (double)o->batch, b->grad, 1);
    nde_params_zero_grad(b->m.params);
    NDE_TRY(opmodel_backward(&b->m, b->grad, o->batch));
    return nde_optim_step(opt);
}

static nde_status run_one(const optim_entry *e, const opts *o, bench *b, double *loss,
                          double *secs, double *step_ms, result *r)
{
    nde_params *p = b->m.params;
    const size_t P = b->m.P;
    memcpy(nde_params_theta(p), b->theta0, nde_params_count(p) * sizeof *b->theta0);
    nde_optim *opt = NULL;
    NDE_TRY(nde_optim_create(&e->spec, p, &opt));
    r->state_bytes = nde_optim_state_bytes(opt);
    const uint64_t steps = o->epochs * (o->ntrain / o->batch);
    const nde_schedule sched = o->constant_lr ? nde_schedule_constant(e->spec.lr)
                                              : nde_schedule_cosine(e->spec.lr, 0.0, steps, 0);
    /* The batch order depends on the seed only: every optimizer sees the same batches. */
    nde_rng rng;
    nde_rng_seed(&rng, o->seed + 1);
    nde_status st = NDE_OK;
    double total = 0.0;
    size_t step = 0;
    r->train_rel_l2 = r->test_rel_l2 = NAN;
    for (size_t ep = 0; ep < o->epochs && st == NDE_OK; ep++) {
        for (size_t i = 0; i < o->ntrain; i++) b->perm[i] = i;
        for (size_t i = o->ntrain - 1; i > 0; i--) {
            const size_t j = (size_t)nde_rng_below(&rng, i + 1), t = b->perm[i];
            b->perm[i] = b->perm[j];
            b->perm[j] = t;
        }
        double epoch_loss = 0.0;
        for (size_t s = 0; s < o->ntrain && st == NDE_OK; s += o->batch) {
            for (size_t i = 0; i < o->batch; i++) {
                memcpy(b->xb + i * P, b->x + b->perm[s + i] * P, P * sizeof *b->xb);
                memcpy(b->yb + i * P, b->y + b->perm[s + i] * P, P * sizeof *b->yb);
            }
            double l = 0.0;
            const double t0 = nde_wall_seconds();
            st = nde_optim_set_lr(opt, nde_schedule_value(&sched, step));
            if (st == NDE_OK) st = train_step(o, b, opt, &l);
            if (st != NDE_OK) break;
            step_ms[step] = 1e3 * (nde_wall_seconds() - t0);
            total += step_ms[step] * 1e-3;
            secs[step] = total;
            loss[step++] = l;
            epoch_loss += l;
        }
        if (st != NDE_OK) break;
        r->train_rel_l2 = epoch_loss / (double)(o->ntrain / o->batch);
        if ((ep + 1) % 5 == 0 || ep + 1 == o->epochs)
            fprintf(stderr, "  %-11s epoch %3zu  train rel L2 %.5f  %.2f s\n", e->name, ep + 1,
                    r->train_rel_l2, total);
    }
    r->steps_done = step;
    /* A non-finite prediction (the loss reports it) is a result, not a failure. */
    if (st == NDE_ERR_NONFINITE) {
        fprintf(stderr, "  %-11s diverged at step %zu: %s\n", e->name, step + 1,
                nde_last_error());
        r->train_rel_l2 = NAN;
        st = NDE_OK;
    } else if (st == NDE_OK) {
        st = test_error(o, b, &r->test_rel_l2);
    }
    nde_optim_destroy(&opt);
    if (st != NDE_OK) return st;
    r->seconds = total;
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
    NDE_TRY(nde_params_create(&b->m.params));
    NDE_TRY(nde_fno_create(ctx, b->m.params, &spec, &b->m.fno));
    nde_fno_init(b->m.fno, rng);
    b->m.P = o->n;
    NDE_TRY(nde_fno_work_create(b->m.fno, o->batch, &o->n, &b->m.work));
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
    NDE_TRY(nde_params_create(&b->m.params));
    NDE_TRY(nde_mgno_create(&spec, b->m.params, "mgno", &b->m.mg));
    NDE_TRY(nde_mgno_init(b->m.mg, rng));
    NDE_TRY(nde_mgno_reserve(b->m.mg, o->batch));
    b->m.P = P;
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
    const size_t count = nde_params_count(b->m.params), bp = o->batch * b->m.P;
    b->theta0 = nde_alloc_array(count, sizeof *b->theta0);
    double **bufs[5] = {&b->xb, &b->yb, &b->out, &b->pred, &b->grad};
    for (int i = 0; i < 5; i++)
        if (!(*bufs[i] = nde_alloc_array(bp, sizeof(double))))
            return NDE_FAIL(NDE_ERR_NOMEM, "bench buffers for batch %zu, %zu points", o->batch,
                            b->m.P);
    b->perm = nde_alloc_array(o->ntrain, sizeof *b->perm);
    if (!b->theta0 || !b->perm)
        return NDE_FAIL(NDE_ERR_NOMEM, "bench buffers for %zu parameters", count);
    memcpy(b->theta0, nde_params_theta(b->m.params), count * sizeof *b->theta0);
    fprintf(stderr, "bench_optim_operator: %zu parameters\n", count);
    return NDE_OK;
}

static void teardown(bench *b)
{
    nde_free(b->theta0);
    double *bufs[5] = {b->xb, b->yb, b->out, b->pred, b->grad};
    for (int i = 0; i < 5; i++) nde_free(bufs[i]);
    nde_free(b->perm);
    nde_normalizer_destroy(&b->ynorm);
    opmodel_destroy(&b->m);
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
    const size_t params = failed ? 0 : nde_params_count(b.m.params);
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
