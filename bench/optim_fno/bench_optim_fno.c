/* bench/optim_fno — a small FNO-1D (Li et al. 2021) trained on Burgers data with each
 * optimizer of bench/optim at its recommended settings (optim_compare.c), from the same
 * initial weights and the same batches.
 *
 *   bench_optim_fno [--n 128] [--n-solve 1024] [--ntrain 400] [--ntest 100] [--batch 20]
 *                   [--epochs 50] [--width 32] [--modes 8] [--seed 0] [--only NAME]
 *                   [--cache .cache/burgers] [--out out/bench_optim_fno] [--constant-lr]
 *                   [--no-plot]
 *
 * --seed chooses the data samples, the initial weights and the batch order.
 *
 * Model: the legacy fourier_1d.py architecture (lifting from (a(x), x), 4 Fourier layers,
 * GELU, projection width→64→1) made smaller — width 32 and 8 modes instead of 64 and 16,
 * a 64-wide projection instead of 128 — on s = 128 points instead of 1024, so that every
 * optimizer trains in seconds. Data: nde's Burgers generator (ν 0.1, t 1, the paper's
 * covariance) solved on n_solve points and sampled at n, cached under --cache; the first
 * ntrain samples train, the next ntest test.
 *
 * Loss: relative L2 averaged over the batch. The legacy LpLoss sums it; the mean keeps
 * SGD's lr on its usual scale, and with the sum the rectified AdaBelief's first steps
 * (plain SGD steps) blow the loss up from 10 to over 1000. Learning rate: each optimizer's
 * recommended lr, decayed to 0 over the run by the same cosine for all (Loshchilov &
 * Hutter 2017). With a constant lr (--constant-lr) the batch loss on these data stays
 * noisy (some targets are ~100× smaller than others in norm) and the final numbers depend
 * on where the last step lands.
 *
 * Prints one JSON object per result line (final-epoch train relative L2, test relative L2,
 * median ms per training step, training seconds, optimizer state bytes, steps done: fewer
 * than planned when the model diverged; a non-finite value prints as null) and progress on
 * stderr. Writes <out>/<name>.csv (step, seconds, loss, loss_ema: batch-mean relative L2)
 * and <out>/optim_comparison_fno.png (loss against step and against wall time; gnuplot).
 * The BLAS runs single-threaded (small GEMMs; per-step times stay comparable on a shared
 * machine). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../examples/burgers_fno/burgers_data.h"
#include "../../examples/common/cli.h"
#include "nde/nde.h"
#include "optim_compare.h"

typedef struct opts {
    size_t n, n_solve, ntrain, ntest, batch, epochs, width, modes;
    uint64_t seed;
    const char *only, *cache, *out;
    int plot, constant_lr;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.n = 128, .n_solve = 1024, .ntrain = 400, .ntest = 100, .batch = 20,
                .epochs = 50, .width = 32, .modes = 8, .cache = ".cache/burgers",
                .out = "out/bench_optim_fno", .plot = 1};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t seed = 0;
        size_t *zs = !strcmp(k, "--n") ? &o->n : !strcmp(k, "--n-solve") ? &o->n_solve
                   : !strcmp(k, "--ntrain") ? &o->ntrain : !strcmp(k, "--ntest") ? &o->ntest
                   : !strcmp(k, "--batch") ? &o->batch : !strcmp(k, "--epochs") ? &o->epochs
                   : !strcmp(k, "--width") ? &o->width : !strcmp(k, "--modes") ? &o->modes
                   : !strcmp(k, "--seed") ? &seed : NULL;
        const char **ss = !strcmp(k, "--only") ? &o->only : !strcmp(k, "--cache") ? &o->cache
                        : !strcmp(k, "--out") ? &o->out : NULL;
        if (!strcmp(k, "--no-plot")) {
            o->plot = 0;
        } else if (!strcmp(k, "--constant-lr")) {
            o->constant_lr = 1;
        } else if (zs && v && cli_parse_size(v, zs) == 0) {
            if (zs == &seed) o->seed = seed;
            i++;
        } else if (ss && v) {
            *ss = v;
            i++;
        } else {
            fprintf(stderr, "usage: %s [--n 128] [--n-solve 1024] [--ntrain 400] [--ntest 100] "
                            "[--batch 20] [--epochs 50] [--width 32] [--modes 8] [--seed 0] "
                            "[--only NAME] [--cache DIR] [--out DIR] [--constant-lr] "
                            "[--no-plot]\n", argv[0]);
            return 0;
        }
    }
    if (!o->batch || !o->ntrain || !o->ntest || o->ntrain % o->batch || o->ntest % o->batch ||
        !o->epochs) {
        fprintf(stderr, "ntrain and ntest must be positive multiples of batch; epochs > 0\n");
        return 0;
    }
    return 1;
}

/* What every optimizer's run shares: the model (θ reset to theta0 before each run), its
 * workspace, the data and the batch buffers. */
typedef struct bench {
    nde_fno *fno;
    nde_fno_work *work;
    const double *a, *u;    /* (ntrain + ntest, n) */
    double *theta0;         /* (params) initial weights */
    double *ab, *ub, *pred, *grad; /* (batch, n) */
    size_t *perm;           /* (ntrain) */
} bench;

typedef struct result {
    double train_rel_l2, test_rel_l2, ms_median, seconds;
    size_t state_bytes;
    size_t steps_done;      /* < the planned steps when the run diverged */
} result;

/* Mean relative L2 over the ntest test samples. */
static nde_status test_error(const opts *o, bench *b, double *err)
{
    const double *a = b->a + o->ntrain * o->n, *u = b->u + o->ntrain * o->n;
    double total = 0.0, loss;
    for (size_t s = 0; s < o->ntest; s += o->batch) {
        NDE_TRY(nde_fno_forward(b->fno, b->work, a + s * o->n, b->pred, o->batch));
        NDE_TRY(nde_rel_l2_loss(b->pred, u + s * o->n, NULL, o->batch, o->n, &loss));
        total += loss;
    }
    *err = total / (double)o->ntest;
    return NDE_OK;
}

/* One forward, loss, backward and optimizer step on the batch in b->ab, b->ub; *loss is
 * the batch-mean relative L2 (the gradient of the summed loss scaled by 1/batch). */
static nde_status train_step(const opts *o, bench *b, nde_optim *opt, double *loss)
{
    nde_params *p = nde_fno_params(b->fno);
    NDE_TRY(nde_fno_forward(b->fno, b->work, b->ab, b->pred, o->batch));
    NDE_TRY(nde_rel_l2_loss(b->pred, b->ub, b->grad, o->batch, o->n, loss));
    *loss /= (double)o->batch;
    cblas_dscal((int)(o->batch * o->n), 1.0 / (double)o->batch, b->grad, 1);
    nde_params_zero_grad(p);
    NDE_TRY(nde_fno_backward(b->fno, b->work, b->grad, NULL, nde_params_grad(p), o->batch));
    return nde_optim_step(opt);
}

static nde_status run_one(const optim_entry *e, const opts *o, bench *b, double *loss,
                          double *secs, double *step_ms, result *r)
{
    nde_params *p = nde_fno_params(b->fno);
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
                memcpy(b->ab + i * o->n, b->a + b->perm[s + i] * o->n, o->n * sizeof *b->ab);
                memcpy(b->ub + i * o->n, b->u + b->perm[s + i] * o->n, o->n * sizeof *b->ub);
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

static void print_metric(const char *name, size_t steps, size_t params, const char *metric,
                         double value, const char *unit)
{
    char v[64];
    if (isfinite(value)) snprintf(v, sizeof v, "%.9g", value);
    else snprintf(v, sizeof v, "null");
    printf("{\"bench\": \"optim_fno\", \"optimizer\": \"%s\", \"steps\": %zu, \"params\": %zu, "
           "\"metric\": \"%s\", \"value\": %s, \"unit\": \"%s\"}\n",
           name, steps, params, metric, v, unit);
}

static nde_status setup(nde_ctx *ctx, const opts *o, bench *b, double **a, double **u)
{
    nde_burgers_spec bs = nde_burgers_defaults();
    bs.n = o->n;
    bs.n_solve = o->n_solve;
    bs.seed = o->seed;
    char stem[1024];
    NDE_TRY(burgers_data_get(ctx, &bs, o->ntrain + o->ntest, o->cache, a, u, stem, sizeof stem));
    fprintf(stderr, "bench_optim_fno: data %s_{a,u}.npy\n", stem);
    b->a = *a;
    b->u = *u;
    nde_fno_spec spec = nde_fno1d_burgers_spec();
    spec.width = o->width;
    spec.n_modes[0] = o->modes;
    spec.proj_hidden[0] = 64;
    NDE_TRY(nde_fno_create(ctx, &spec, &b->fno));
    nde_rng rng;
    nde_rng_seed(&rng, o->seed);
    nde_fno_init(b->fno, &rng);
    const size_t count = nde_params_count(nde_fno_params(b->fno));
    NDE_TRY(nde_fno_work_create(b->fno, o->batch, &o->n, &b->work));
    b->theta0 = nde_alloc_array(count, sizeof *b->theta0);
    b->ab = nde_alloc_array(o->batch * o->n, sizeof *b->ab);
    b->ub = nde_alloc_array(o->batch * o->n, sizeof *b->ub);
    b->pred = nde_alloc_array(o->batch * o->n, sizeof *b->pred);
    b->grad = nde_alloc_array(o->batch * o->n, sizeof *b->grad);
    b->perm = nde_alloc_array(o->ntrain, sizeof *b->perm);
    if (!b->theta0 || !b->ab || !b->ub || !b->pred || !b->grad || !b->perm)
        return NDE_FAIL(NDE_ERR_NOMEM, "bench buffers for batch %zu, n %zu", o->batch, o->n);
    memcpy(b->theta0, nde_params_theta(nde_fno_params(b->fno)), count * sizeof *b->theta0);
    fprintf(stderr, "bench_optim_fno: FNO-1D width %zu, %zu modes, s = %zu: %zu parameters\n",
            o->width, o->modes, o->n, count);
    return NDE_OK;
}

static void teardown(bench *b)
{
    nde_free(b->theta0);
    nde_free(b->ab);
    nde_free(b->ub);
    nde_free(b->pred);
    nde_free(b->grad);
    nde_free(b->perm);
    nde_fno_work_destroy(&b->work);
    nde_fno_destroy(&b->fno);
}

int main(int argc, char **argv)
{
    opts o;
    if (!parse(argc, argv, &o)) return 2;
    openblas_set_num_threads(1);
    nde_ctx *ctx = NULL;
    bench b = {0};
    double *a = NULL, *u = NULL;
    const size_t steps = o.epochs * (o.ntrain / o.batch);
    double *loss = nde_alloc_array(steps, sizeof *loss);
    double *secs = nde_alloc_array(steps, sizeof *secs);
    double *step_ms = nde_alloc_array(steps, sizeof *step_ms);
    nde_status st = !loss || !secs || !step_ms ? NDE_ERR_NOMEM : nde_mkdir_p(o.out);
    if (st == NDE_OK) st = nde_ctx_create(&ctx);
    if (st == NDE_OK) st = setup(ctx, &o, &b, &a, &u);
    if (st != NDE_OK) {
        fprintf(stderr, "bench_optim_fno: %s (%s)\n", nde_status_str(st), nde_last_error());
        return 1;
    }
    const size_t params = nde_params_count(nde_fno_params(b.fno));
    optim_entry e[OPTIM_N_ENTRIES];
    optim_entries_make(e);
    int ran[OPTIM_N_ENTRIES] = {0}, failed = 0;
    for (int i = 0; i < OPTIM_N_ENTRIES; i++) {
        if (o.only && strcmp(o.only, e[i].name) != 0) continue;
        fprintf(stderr, "bench_optim_fno: %s (lr %g, wd %g, %d-bit state), %zu steps\n", e[i].name,
                e[i].spec.lr, e[i].spec.weight_decay, e[i].spec.state_bits, steps);
        result r = {0};
        if (run_one(&e[i], &o, &b, loss, secs, step_ms, &r) != NDE_OK) {
            fprintf(stderr, "bench_optim_fno: %s failed: %s\n", e[i].name, nde_last_error());
            failed = 1;
            continue;
        }
        ran[i] = r.steps_done > 0 && optim_write_curve(o.out, e[i].name, loss, secs, r.steps_done);
        print_metric(e[i].name, steps, params, "final_train_rel_l2", r.train_rel_l2, "rel_l2");
        print_metric(e[i].name, steps, params, "test_rel_l2", r.test_rel_l2, "rel_l2");
        print_metric(e[i].name, steps, params, "ms_per_step_median", r.ms_median, "ms");
        print_metric(e[i].name, steps, params, "train_seconds", r.seconds, "s");
        print_metric(e[i].name, steps, params, "state_bytes", (double)r.state_bytes, "bytes");
        print_metric(e[i].name, steps, params, "steps_done", (double)r.steps_done, "steps");
        fflush(stdout);
    }
    if (o.plot)
        optim_plot(o.out, "optim_comparison_fno.png",
                   "FNO-1D on Burgers (small): batch relative L2 (EMA 0.95) by optimizer",
                   "relative L2", 20.0, e, ran);
    teardown(&b);
    nde_free(a);
    nde_free(u);
    nde_free(loss);
    nde_free(secs);
    nde_free(step_ms);
    nde_ctx_destroy(&ctx);
    return failed;
}
