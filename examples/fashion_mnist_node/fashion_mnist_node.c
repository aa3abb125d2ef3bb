/* examples/fashion_mnist_node — the MNIST neural-ODE experiment of Pal et al. ("Opening
 * the Blackbox", ICML 2021, Table 1; "Locally Regularized Neural DEs", ICML 2023) on
 * Fashion-MNIST: the same model trained with no regularizer and with each regularizer
 * on the same budget (same initial θ, same batches), then test accuracy, training time,
 * prediction time and NFE per prediction batch.
 *
 *   fashion_mnist_node [--methods vanilla,ernode,srnode,local_unbiased,local_biased,
 *                       steer,kinetic] [--steps 300] [--batch 512] [--train-subset 0]
 *                      [--test-subset 0] [--val 0] [--train-eval 2048] [--rtol 1.4e-8]
 *                      [--atol 1.4e-8] [--lr 1e-3] [--seed 0] [--print-every 10]
 *                      [--ernode-coef 100,10] [--local-coef 2.5,1] [--srnode-coef 0.1]
 *                      [--kinetic-coef 0.1] [--steer-b 0.5] [--tape stages|starts]
 *                      [--local-k1 const|diff] [--summarize]
 *                      [--data /usr/share/datasets/fashion-mnist] [--out DIR] [--no-plot]
 *
 * Default coefficients follow the reference code: ERNODE λ·mean_j E_j|h_j| with λ annealed
 * exponentially 100 → 10 (RegNeuralDE.jl MNIST), SRNODE 0.1·max_j S_j/3.5068 (idem),
 * local λ E·|dt| with λ 2.5 → 1.0 (LocalRegNeuralDE.jl mlp.yml), STEER b = 0.5, kinetic
 * energy λ = 0.1 (our choice); "A,B" anneals exponentially from A to B over the run.
 * --local-k1 diff also differentiates the local step's first stage k1 = f(t_reg, u) (the
 * reference holds it constant; see docs/benchmarks.md for why that matters at tight
 * tolerances). Adam, constant lr. --val N holds out the last N training images and
 * evaluates on them instead of the test set (for choosing coefficients without looking at
 * the test set).
 * Training time is reported as wall and process CPU seconds (CPU time is robust to other
 * load on the machine). Writes <out>/<method>.csv (per step: loss, batch accuracy, forward
 * NFE, regularizer value, λ, wall and CPU seconds), <out>/summary.md, <out>/summary.jsonl
 * and <out>/nfe.png (NFE against training step; needs gnuplot). Each finished method also
 * leaves <out>/<method>.result, and the summary and plot cover every method with such a
 * file in <out>, so methods may run as separate (concurrent) processes with the same --out;
 * --summarize only rebuilds the summary and plot from them.
 *
 * The discrete adjoint keeps every stage and the MLP's record of it (--tape stages, the
 * fastest; about 100 MB per accepted step at batch 512, allocated 64 steps at a time) or
 * only the step starts (--tape starts: little memory, one more evaluation per stage). Both
 * give the same gradient. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fm_data.h"
#include "fm_model.h"
#include "nde/nde.h"
#include "nde/plot.h"
#include "nde_args.h"

typedef enum method {
    M_VANILLA = 0, M_ERNODE, M_SRNODE, M_LOCAL_UNBIASED, M_LOCAL_BIASED, M_STEER, M_KINETIC,
    M_COUNT
} method;

static const char *const method_names[M_COUNT] = {
    "vanilla", "ernode", "srnode", "local_unbiased", "local_biased", "steer", "kinetic"};

typedef struct config {
    int methods[M_COUNT], n_methods;
    size_t steps, batch, train_subset, test_subset, val, train_eval, print_every;
    double rtol, atol, lr;
    double ernode_coef[2], local_coef[2], srnode_coef, kinetic_coef, steer_b;
    uint64_t seed;
    const char *data, *out;
    int plot, step_starts, summarize, local_diff_k1;
} config;

typedef struct result {
    int done;
    double train_acc, test_acc, train_s, train_cpu, pred_s, pred_cpu, pred_nfe;
    size_t steps, skipped;
} result;

/* ---- options ---------------------------------------------------------------------- */

/* "A" (constant) or "A,B" (exponential anneal A → B), both finite and > 0; dest double[2]. */
static const char *parse_coef(const char *s, void *dest)
{
    double *v = dest;
    char *end;
    errno = 0;
    v[0] = strtod(s, &end);
    v[1] = v[0];
    if (*end == ',') v[1] = strtod(end + 1, &end);
    return (errno || *end || !(v[0] > 0.0) || !(v[1] > 0.0) || !isfinite(v[0]) || !isfinite(v[1]))
               ? "expected A or A,B, both finite and > 0"
               : NULL;
}

/* A comma-separated list of method names; dest is the config. */
static const char *parse_methods(const char *s, void *dest)
{
    config *c = dest;
    c->n_methods = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    int bad = 0;
    for (char *tok = strtok(buf, ","); tok && !bad; tok = strtok(NULL, ",")) {
        int found = -1;
        for (int m = 0; m < M_COUNT; m++)
            if (!strcmp(tok, method_names[m])) found = m;
        bad = found < 0 || c->n_methods == M_COUNT;
        if (!bad) c->methods[c->n_methods++] = found;
    }
    return c->n_methods && !bad ? NULL
                                : "expected a comma-separated list of vanilla, ernode, srnode, "
                                  "local_unbiased, local_biased, steer, kinetic";
}

/* NDE_ARGS_OK, or what nde_args_parse returned (help printed, or an error). */
static int parse_args(int argc, char **argv, config *c)
{
    static const char *const tapes[] = {"stages", "starts", NULL}, *const k1s[] = {"const", "diff", NULL};
    *c = (config){.steps = 300, .batch = 512, .train_eval = 2048, .print_every = 10,
                  .rtol = 1.4e-8, .atol = 1.4e-8, .lr = 1e-3, .ernode_coef = {100.0, 10.0},
                  .local_coef = {2.5, 1.0}, .srnode_coef = 0.1, .kinetic_coef = 0.1,
                  .steer_b = 0.5, .data = NDE_FASHION_MNIST_DIR,
                  .out = "out/fashion_mnist_node", .plot = 1};
    for (int m = 0; m < M_COUNT; m++) c->methods[c->n_methods++] = m;
    const nde_arg opts[] = {
        {.name = "methods", .kind = NDE_ARG_CUSTOM, .dest = c, .parse = parse_methods,
         .metavar = "LIST", .default_text = "all",
         .help = "comma-separated: vanilla ernode srnode local_unbiased local_biased\n"
                 "steer kinetic"},
        {.name = "steps", .kind = NDE_ARG_SIZE, .dest = &c->steps, .help = "training steps"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &c->batch, .min = 1, .help = "batch size"},
        {.name = "train-subset", .kind = NDE_ARG_SIZE, .dest = &c->train_subset,
         .help = "use the first N training images (0: all)"},
        {.name = "test-subset", .kind = NDE_ARG_SIZE, .dest = &c->test_subset,
         .help = "use the first N test images (0: all)"},
        {.name = "val", .kind = NDE_ARG_SIZE, .dest = &c->val,
         .help = "evaluate on the last N training images instead of the test set"},
        {.name = "train-eval", .kind = NDE_ARG_SIZE, .dest = &c->train_eval,
         .help = "training images for the final training accuracy"},
        NDE_ARGS_TOLERANCES(&c->rtol, &c->atol),
        {.name = "lr", .kind = NDE_ARG_DOUBLE, .dest = &c->lr, .bounds = NDE_ARG_LO_OPEN,
         .help = "Adam learning rate"},
        NDE_ARGS_SEED(&c->seed),
        NDE_ARGS_PRINT_EVERY(&c->print_every, "steps"),
        {.name = "ernode-coef", .kind = NDE_ARG_CUSTOM, .dest = c->ernode_coef,
         .parse = parse_coef, .metavar = "A[,B]", .default_text = "100,10",
         .help = "ERNODE coefficient (A,B: annealed from A to B)"},
        {.name = "local-coef", .kind = NDE_ARG_CUSTOM, .dest = c->local_coef,
         .parse = parse_coef, .metavar = "A[,B]", .default_text = "2.5,1",
         .help = "local regularizer coefficient"},
        {.name = "srnode-coef", .kind = NDE_ARG_DOUBLE, .dest = &c->srnode_coef,
         .bounds = NDE_ARG_LO_OPEN, .help = "SRNODE coefficient"},
        {.name = "kinetic-coef", .kind = NDE_ARG_DOUBLE, .dest = &c->kinetic_coef,
         .bounds = NDE_ARG_LO_OPEN, .help = "kinetic energy coefficient"},
        {.name = "steer-b", .kind = NDE_ARG_DOUBLE, .dest = &c->steer_b, .lo = 0.0, .hi = 1.0,
         .bounds = NDE_ARG_LO_OPEN | NDE_ARG_HI_OPEN, .help = "STEER end-time spread"},
        {.name = "tape", .kind = NDE_ARG_CHOICE, .dest = &c->step_starts, .choices = tapes,
         .help = "what the discrete adjoint keeps"},
        {.name = "local-k1", .kind = NDE_ARG_CHOICE, .dest = &c->local_diff_k1, .choices = k1s,
         .help = "hold the local step's first stage constant, or differentiate it"},
        {.name = "data", .kind = NDE_ARG_STRING, .dest = &c->data, .metavar = "DIR",
         .help = "Fashion-MNIST folder"},
        NDE_ARGS_OUT(&c->out),
        NDE_ARGS_NO_PLOT(&c->plot, "nfe.png"),
        {.name = "summarize", .kind = NDE_ARG_FLAG, .dest = &c->summarize,
         .help = "only rebuild the summary and plot from <out>/*.result"},
    };
    const nde_args_spec spec = {
        .prog = "fashion_mnist_node",
        .about = "Trains a neural ODE classifier on Fashion-MNIST with each regularizer.",
        NDE_ARGS_TABLE(opts)};
    return nde_args_parse(&spec, argc, argv, NULL);
}

/* CPU seconds of this process (all its threads). */
static double cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) return NAN;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- one method ------------------------------------------------------------------- */

/* Everything a training run holds; released by run_free. */
typedef struct run {
    const config *cfg;
    method m;
    fm_model model;
    nde_solver *train, *pred;
    nde_optim *opt;
    nde_reg *reg;
    nde_local_reg *local;
    nde_schedule coef;
    nde_rng batch_rng, steer_rng;
    size_t *perm, perm_pos;
    double *x, *traj, *dL, *du;
    uint8_t *y;
} run;

static void run_free(run *r)
{
    nde_solver_destroy(&r->train);
    nde_solver_destroy(&r->pred);
    nde_optim_destroy(&r->opt);
    nde_reg_destroy(&r->reg);
    nde_local_reg_destroy(&r->local);
    fm_model_destroy(&r->model);
    nde_free(r->perm);
    nde_free(r->x);
    nde_free(r->traj);
    nde_free(r->dL);
    nde_free(r->du);
    nde_free(r->y);
}

/* λ annealed exponentially v[0] → v[1] over the run (RegNeuralDE's λ0·exp(−k·e)), or
 * constant when they are equal. */
static nde_schedule anneal(const double v[2], uint64_t steps)
{
    if (v[0] == v[1]) return nde_schedule_constant(v[0]);
    return (nde_schedule){.kind = NDE_SCHED_EXPONENTIAL, .v0 = v[0], .v1 = v[1], .steps = steps};
}

static nde_status run_init(run *r, const config *c, method m, size_t n_train)
{
    memset(r, 0, sizeof *r);
    r->cfg = c;
    r->m = m;
    nde_rng init_rng;
    nde_rng_seed(&init_rng, c->seed);
    NDE_TRY(fm_model_create(c->batch, &init_rng, &r->model));
    nde_rng_seed(&r->batch_rng, c->seed + 1);
    nde_rng_seed(&r->steer_rng, c->seed + 2);
    size_t n = c->batch * FM_PIXELS;
    r->perm = nde_alloc_array(n_train, sizeof *r->perm);
    r->x = nde_alloc_array(n, sizeof *r->x);
    r->traj = nde_alloc_array(3 * n, sizeof *r->traj);
    r->dL = nde_alloc_array(3 * n, sizeof *r->dL);
    r->du = nde_alloc_array(n, sizeof *r->du);
    r->y = nde_alloc_array(c->batch, 1);
    if (!r->perm || !r->x || !r->traj || !r->dL || !r->du || !r->y) return NDE_ERR_NOMEM;
    for (size_t i = 0; i < n_train; i++) r->perm[i] = i;
    r->perm_pos = n_train; /* shuffle on first use */

    nde_optim_spec os = nde_optim_defaults(NDE_OPT_ADAM);
    os.lr = c->lr;
    NDE_TRY(nde_optim_create(&os, r->model.p, &r->opt));

    uint64_t steps = c->steps > 1 ? c->steps : 2;
    r->coef = nde_schedule_constant(0.0);
    nde_reg_spec rs;
    switch (m) {
    case M_ERNODE:
        r->coef = anneal(c->ernode_coef, steps);
        rs = nde_reg_error_estimate_mean(c->ernode_coef[0]);
        NDE_TRY(nde_reg_create(&rs, &r->reg));
        break;
    case M_SRNODE:
        r->coef = nde_schedule_constant(c->srnode_coef);
        rs = nde_reg_stiffness_max(c->srnode_coef);
        NDE_TRY(nde_reg_create(&rs, &r->reg));
        break;
    case M_KINETIC:
        r->coef = nde_schedule_constant(c->kinetic_coef);
        rs = nde_reg_kinetic(c->kinetic_coef);
        NDE_TRY(nde_reg_create(&rs, &r->reg));
        break;
    case M_LOCAL_UNBIASED:
    case M_LOCAL_BIASED: {
        r->coef = anneal(c->local_coef, steps);
        nde_local_reg_spec ls = {.kind = NDE_REG_ERROR_EST, .coef = c->local_coef[0],
                                 .atol = c->atol,
                                 .rtol = c->rtol, .seed = c->seed + 3,
                                 .diff_start = c->local_diff_k1,
                                 .sampling = m == M_LOCAL_BIASED ? NDE_LOCAL_BIASED
                                                                 : NDE_LOCAL_UNBIASED};
        NDE_TRY(nde_local_reg_create(&r->model.field, c->batch, &ls, &r->local));
        break;
    }
    default: break;
    }
    NDE_TRY(nde_schedule_check(&r->coef));

    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.rtol = c->rtol;
    o.atol = c->atol;
    o.max_steps = 5000;
    nde_solver_opts op = o;
    o.tape = c->step_starts ? NDE_TAPE_STEP_STARTS : NDE_TAPE_STAGES;
    if (m == M_LOCAL_BIASED) {
        o.callback = nde_local_reg_callback;
        o.callback_user = r->local;
    }
    NDE_TRY(nde_solver_create(NULL, &r->model.field, &o, &r->train));
    NDE_TRY(nde_solver_create(NULL, &r->model.field, &op, &r->pred));
    return NDE_OK;
}

/* The next training batch: a fresh permutation of the subset every epoch. */
static void next_batch(run *r, const fm_split *train, size_t n_train)
{
    size_t B = r->cfg->batch;
    for (size_t b = 0; b < B; b++) {
        if (r->perm_pos == n_train) {
            for (size_t i = n_train; i > 1; i--) {
                size_t j = (size_t)nde_rng_below(&r->batch_rng, i);
                size_t t = r->perm[i - 1];
                r->perm[i - 1] = r->perm[j];
                r->perm[j] = t;
            }
            r->perm_pos = 0;
        }
        size_t idx = r->perm[r->perm_pos++];
        memcpy(r->x + b * FM_PIXELS, train->images + idx * FM_PIXELS,
               FM_PIXELS * sizeof *r->x);
        r->y[b] = train->labels[idx];
    }
}

typedef struct step_out {
    double loss, reg;
    size_t correct, nfe;
} step_out;

/* One training step. A failing solve returns its status before θ changes. */
static nde_status train_step(run *r, uint64_t step, step_out *so)
{
    const config *c = r->cfg;
    size_t B = c->batch, n = B * FM_PIXELS;
    double ts[3] = {0.0, 1.0, 0.0};
    size_t nt = 2, k_reg = 0;
    double t_reg = 0.0, lambda = nde_schedule_value(&r->coef, step);
    if (r->m == M_STEER) NDE_TRY(nde_steer_end_time(&r->steer_rng, 0.0, 1.0, c->steer_b, &ts[1]));
    if (r->m == M_LOCAL_UNBIASED) {
        double t_end = 1.0, base[2] = {0.0, t_end};
        NDE_TRY(nde_local_reg_draw_time(r->local, 0.0, t_end, &t_reg));
        NDE_TRY(nde_reg_insert_time(base, 2, t_reg, ts, &nt, &k_reg));
    }
    if (r->m == M_LOCAL_BIASED) NDE_TRY(nde_local_reg_begin(r->local, B, 0.0, r->x));
    NDE_TRY(nde_solve(r->train, B, FM_PIXELS, r->x, nt, ts, r->traj));
    so->nfe = nde_solver_get_stats(r->train)->nfe;
    const double *uT = r->traj + (nt - 1) * n;
    nde_params_zero_grad(r->model.p);
    double *grad = nde_params_grad(r->model.p);
    size_t np = nde_params_count(r->model.p);
    NDE_TRY(fm_model_loss(&r->model, uT, r->y, B, &so->loss, &so->correct, r->du));
    memset(r->dL, 0, nt * n * sizeof *r->dL);
    memcpy(r->dL + (nt - 1) * n, r->du, n * sizeof *r->dL);
    so->reg = 0.0;
    if (r->reg) {
        NDE_TRY(nde_reg_set_coef(r->reg, lambda));
        NDE_TRY(nde_adjoint_discrete_reg(r->train, r->dL, r->reg, grad, np, NULL, &so->reg));
    } else {
        NDE_TRY(nde_adjoint_discrete(r->train, r->dL, grad, np, NULL));
    }
    if (r->local) {
        const double *u_reg = r->traj + k_reg * n;
        if (r->m == M_LOCAL_BIASED) NDE_TRY(nde_local_reg_sample(r->local, &t_reg, &u_reg));
        nde_local_reg_result lres;
        NDE_TRY(nde_local_reg_set_coef(r->local, lambda));
        NDE_TRY(nde_local_reg_eval(r->local, B, t_reg, u_reg, NULL, 1.0, 0.0, grad, NULL,
                                   &lres));
        so->reg = lres.value;
    }
    NDE_TRY(nde_optim_step(r->opt));
    return NDE_OK;
}

/* Accuracy, NFE and time per batch of the trained model on the first `count` items. */
static nde_status evaluate(run *r, const fm_split *s, size_t count, double *acc, double *nfe,
                           double *sec_per_batch, double *cpu_per_batch)
{
    size_t B = r->cfg->batch, correct = 0, batches = 0, full = 0;
    double nfe_sum = 0.0, t_full = 0.0, c_full = 0.0;
    const double ts[2] = {0.0, 1.0};
    for (size_t first = 0; first < count; first += B, batches++) {
        size_t nb = count - first < B ? count - first : B;
        double t0 = nde_wall_seconds(), c0 = cpu_seconds();
        NDE_TRY(nde_solve(r->pred, nb, FM_PIXELS, s->images + first * FM_PIXELS, 2, ts,
                          r->traj));
        double loss;
        size_t ok;
        NDE_TRY(fm_model_loss(&r->model, r->traj + nb * FM_PIXELS, s->labels + first, nb, &loss,
                              &ok, NULL));
        double dt = nde_wall_seconds() - t0, dc = cpu_seconds() - c0;
        correct += ok;
        nfe_sum += (double)nde_solver_get_stats(r->pred)->nfe;
        if (nb == B) t_full += dt, c_full += dc, full++;
    }
    *acc = 100.0 * (double)correct / (double)count;
    *nfe = nfe_sum / (double)batches;
    *sec_per_batch = full ? t_full / (double)full : NAN;
    *cpu_per_batch = full ? c_full / (double)full : NAN;
    return NDE_OK;
}

static int run_method(const config *c, method m, const fm_split *train, size_t n_train,
                      const fm_split *test, size_t n_test, result *res)
{
    run r;
    memset(res, 0, sizeof *res);
    if (run_init(&r, c, m, n_train) != NDE_OK) {
        fprintf(stderr, "fashion_mnist_node: %s: setup: %s\n", method_names[m], nde_last_error());
        run_free(&r);
        return -1;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.csv", c->out, method_names[m]);
    FILE *csv = fopen(path, "w");
    if (!csv) {
        fprintf(stderr, "fashion_mnist_node: cannot write %s: %s\n", path, strerror(errno));
        run_free(&r);
        return -1;
    }
    fprintf(csv, "step,loss,batch_acc,nfe,reg,coef,seconds,cpu_seconds\n");
    printf("== %s: %zu steps, batch %zu, %zu parameters\n", method_names[m], c->steps, c->batch,
           nde_params_count(r.model.p));
    fflush(stdout);
    double t_train = 0.0, cpu_train = 0.0;
    size_t fails_in_row = 0;
    for (uint64_t step = 0; step < c->steps; step++) {
        next_batch(&r, train, n_train);
        step_out so = {0};
        double t0 = nde_wall_seconds(), c0 = cpu_seconds();
        nde_status st = train_step(&r, step, &so);
        t_train += nde_wall_seconds() - t0;
        cpu_train += cpu_seconds() - c0;
        if (st != NDE_OK) {
            /* a failing solve (max_steps, step underflow, non-finite) skips the step */
            res->skipped++;
            fprintf(stderr, "fashion_mnist_node: %s step %llu skipped (%s): %s\n",
                    method_names[m], (unsigned long long)step, nde_status_str(st),
                    nde_last_error());
            if (++fails_in_row == 10) {
                fprintf(stderr, "fashion_mnist_node: %s: 10 failures in a row, stopping\n",
                        method_names[m]);
                break;
            }
            continue;
        }
        fails_in_row = 0;
        res->steps++;
        double lambda = nde_schedule_value(&r.coef, step);
        fprintf(csv, "%llu,%.6f,%.4f,%zu,%.6g,%.6g,%.3f,%.3f\n", (unsigned long long)step,
                so.loss, (double)so.correct / (double)c->batch, so.nfe, so.reg, lambda, t_train,
                cpu_train);
        if (c->print_every && (step % c->print_every == 0 || step + 1 == c->steps)) {
            printf("%s step %4llu/%zu loss %.4f batch acc %5.1f%% NFE %4zu reg %.4g  %.1f s "
                   "(CPU %.1f s)\n",
                   method_names[m], (unsigned long long)step, c->steps, so.loss,
                   100.0 * (double)so.correct / (double)c->batch, so.nfe, so.reg, t_train,
                   cpu_train);
            fflush(stdout);
            fflush(csv);
        }
    }
    fclose(csv);
    res->train_s = t_train;
    res->train_cpu = cpu_train;
    double nfe_tr, sec_tr, cpu_tr;
    size_t n_eval = c->train_eval < n_train ? c->train_eval : n_train;
    if (evaluate(&r, train, n_eval, &res->train_acc, &nfe_tr, &sec_tr, &cpu_tr) != NDE_OK ||
        evaluate(&r, test, n_test, &res->test_acc, &res->pred_nfe, &res->pred_s,
                 &res->pred_cpu) != NDE_OK) {
        fprintf(stderr, "fashion_mnist_node: %s: evaluation failed: %s\n", method_names[m],
                nde_last_error());
        run_free(&r);
        return -1;
    }
    res->done = 1;
    printf("%s: train acc %.2f%% %s acc %.2f%% train %.1f s (CPU %.1f s), prediction %.3f "
           "s/batch, NFE %.1f\n",
           method_names[m], res->train_acc, c->val ? "val" : "test", res->test_acc,
           res->train_s, res->train_cpu, res->pred_s, res->pred_nfe);
    fflush(stdout);
    run_free(&r);
    return 0;
}

/* ---- outputs ---------------------------------------------------------------------- */

/* <out>/<method>.result holds one finished method's numbers, so that methods run by
 * separate processes into the same --out directory end up in one summary. */
static void save_result(const config *c, method m, const result *r)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.result", c->out, method_names[m]);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "%.17g %.17g %.17g %.17g %.17g %.17g %.17g %zu %zu\n", r->train_acc,
            r->test_acc, r->train_s, r->train_cpu, r->pred_s, r->pred_cpu, r->pred_nfe, r->steps,
            r->skipped);
    fclose(f);
}

/* Fill res[] from every <out>/<method>.result present (this run's and earlier ones'). */
static void load_results(const config *c, result *res)
{
    for (int m = 0; m < M_COUNT; m++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s.result", c->out, method_names[m]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        result r = {0};
        if (fscanf(f, "%lf %lf %lf %lf %lf %lf %lf %zu %zu", &r.train_acc, &r.test_acc,
                   &r.train_s, &r.train_cpu, &r.pred_s, &r.pred_cpu, &r.pred_nfe, &r.steps,
                   &r.skipped) == 9) {
            r.done = 1;
            res[m] = r;
        }
        fclose(f);
    }
}

/* Write to path.tmp, then rename: concurrent writers never leave a torn file. */
static FILE *open_atomic(const char *path, char *tmp, size_t cap)
{
    snprintf(tmp, cap, "%s.tmp%ld", path, (long)getpid());
    return fopen(tmp, "w");
}

static void write_summary(const config *c, const result *res, size_t n_train, size_t n_test)
{
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/summary.md", c->out);
    FILE *f = open_atomic(path, tmp, sizeof tmp);
    if (!f) return;
    const char *ev = c->val ? "Val" : "Test";
    fprintf(f,
            "Fashion-MNIST neural ODE (Tsit5, rtol %g, atol %g), %zu steps of batch %zu from "
            "%zu training images, %s on %zu images, Adam lr %g, seed %llu.\n\n"
            "| Method | Train Acc %% | %s Acc %% | Train Time (s) | Train CPU (s) | "
            "Pred Time (s/batch) | Pred CPU (s/batch) | NFE | NFE / vanilla | "
            "Train CPU / vanilla | skipped steps |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n",
            c->rtol, c->atol, c->steps, c->batch, n_train, c->val ? "validation" : "test",
            n_test, c->lr, (unsigned long long)c->seed, ev);
    double base = res[M_VANILLA].done ? res[M_VANILLA].pred_nfe : NAN;
    double base_cpu = res[M_VANILLA].done ? res[M_VANILLA].train_cpu : NAN;
    for (int m = 0; m < M_COUNT; m++) {
        if (!res[m].done) continue;
        fprintf(f,
                "| %s | %.2f | %.2f | %.1f | %.1f | %.3f | %.3f | %.1f | %.3f | %.3f | %zu |\n",
                method_names[m], res[m].train_acc, res[m].test_acc, res[m].train_s,
                res[m].train_cpu, res[m].pred_s, res[m].pred_cpu, res[m].pred_nfe,
                res[m].pred_nfe / base, res[m].train_cpu / base_cpu, res[m].skipped);
    }
    fclose(f);
    rename(tmp, path);
    snprintf(path, sizeof path, "%s/summary.jsonl", c->out);
    f = open_atomic(path, tmp, sizeof tmp);
    if (!f) return;
    for (int m = 0; m < M_COUNT; m++) {
        if (!res[m].done) continue;
        const char *keys[7] = {c->val ? "val_acc" : "test_acc", "train_acc", "train_time",
                               "train_cpu_time", "pred_time_per_batch", "pred_cpu_per_batch",
                               "pred_nfe"};
        const char *units[7] = {"%", "%", "s", "s", "s", "s", "nfe"};
        double vals[7] = {res[m].test_acc, res[m].train_acc, res[m].train_s, res[m].train_cpu,
                          res[m].pred_s, res[m].pred_cpu, res[m].pred_nfe};
        for (int k = 0; k < 7; k++)
            fprintf(f,
                    "{\"bench\": \"fashion_mnist_node\", \"method\": \"%s\", \"metric\": "
                    "\"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n",
                    method_names[m], keys[k], vals[k], units[k]);
    }
    fclose(f);
    rename(tmp, path);
}

static void plot_nfe(const config *c, const result *res)
{
    char script[8192], png[1100];
    snprintf(png, sizeof png, "%s/nfe.png", c->out);
    int len = snprintf(script, sizeof script,
                       "set terminal png noenhanced size 1000,600\nset output '%s'\n"
                       "set datafile separator ','\nset key outside right\n"
                       "set title 'Fashion-MNIST neural ODE: NFE of the training solve'\n"
                       "set xlabel 'training step'\nset ylabel 'NFE (forward solve)'\nplot ",
                       png);
    int first = 1;
    for (int m = 0; m < M_COUNT && len < (int)sizeof script - 300; m++) {
        if (!res[m].done) continue;
        len += snprintf(script + len, sizeof script - (size_t)len,
                        "%s'%s/%s.csv' every ::1 using 1:4 with lines lw 2 title '%s'",
                        first ? "" : ", ", c->out, method_names[m], method_names[m]);
        first = 0;
    }
    snprintf(script + len, sizeof script - (size_t)len, "\n");
    if (first) return;
    if (nde_plot_run(script) != NDE_OK)
        fprintf(stderr, "fashion_mnist_node: no plot: %s\n", nde_last_error());
    else
        printf("wrote %s\n", png);
}

int main(int argc, char **argv)
{
    config c;
    int parsed = parse_args(argc, argv, &c);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (nde_mkdir_p(c.out) != NDE_OK) {
        fprintf(stderr, "fashion_mnist_node: %s\n", nde_last_error());
        return 1;
    }
    /* with --val the evaluation set is the tail of the training file and the test set is
     * not read at all */
    fm_split train, test = {0}, eval;
    if (fm_load(c.data, "train", c.val ? 0 : c.train_subset, &train) != NDE_OK ||
        (!c.val && fm_load(c.data, "t10k", c.test_subset, &test) != NDE_OK)) {
        fprintf(stderr, "fashion_mnist_node: %s\n", nde_last_error());
        fm_free(&train);
        return 1;
    }
    size_t n_train = train.count;
    if (c.val) {
        if (c.val >= train.count) {
            fprintf(stderr, "fashion_mnist_node: --val %zu leaves no training images of %zu\n",
                    c.val, train.count);
            fm_free(&train);
            return 1;
        }
        n_train = train.count - c.val;
        if (c.train_subset && c.train_subset < n_train) n_train = c.train_subset;
        eval = (fm_split){.count = c.val,
                          .images = train.images + (train.count - c.val) * FM_PIXELS,
                          .labels = train.labels + (train.count - c.val)};
    } else {
        eval = test;
    }
    if (n_train < c.batch) {
        fprintf(stderr, "fashion_mnist_node: %zu training images < batch %zu\n", n_train,
                c.batch);
        fm_free(&train);
        fm_free(&test);
        return 1;
    }
    printf("fashion_mnist_node: %zu training / %zu %s images, Tsit5 rtol %g atol %g\n", n_train,
           eval.count, c.val ? "validation (held out from training)" : "test", c.rtol, c.atol);
    result res[M_COUNT];
    memset(res, 0, sizeof res);
    int rc = 0;
    for (int i = 0; i < c.n_methods && !c.summarize; i++) {
        method m = (method)c.methods[i];
        if (run_method(&c, m, &train, n_train, &eval, eval.count, &res[m]))
            rc = 1;
        else
            save_result(&c, m, &res[m]);
        load_results(&c, res);
        write_summary(&c, res, n_train, eval.count);
    }
    if (c.summarize) {
        load_results(&c, res);
        write_summary(&c, res, n_train, eval.count);
    }
    printf("wrote %s/summary.md\n", c.out);
    if (c.plot) plot_nfe(&c, res);
    fm_free(&train);
    fm_free(&test);
    return rc;
}
