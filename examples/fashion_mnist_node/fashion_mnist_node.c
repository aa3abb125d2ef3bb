/* examples/fashion_mnist_node — the MNIST neural-ODE experiment of Pal et al. ("Opening
 * the Blackbox", ICML 2021, Table 1; "Locally Regularized Neural DEs", ICML 2023) on
 * Fashion-MNIST: the same model trained with no regularizer and with each regularizer
 * on the same budget (same initial θ, same batches), then test accuracy, training time,
 * prediction time and NFE per prediction batch.
 *
 *   fashion_mnist_node [--methods vanilla,ernode,srnode,local_unbiased,local_biased,
 *                       steer,kinetic] [--steps 300] [--batch 512] [--train-subset 0]
 *                      [--test-subset 0] [--val 0] [--train-eval 2048] [--solver tsit5] [--rtol 1.4e-8]
 *                      [--atol 1.4e-8] [--lr 1e-3] [--seed 0] [--print-every 10]
 *                      [--ernode-coef 100,10] [--local-coef 2.5,1] [--srnode-coef 0.1]
 *                      [--kinetic-coef 0.1] [--steer-b 0.5] [--tape stages|starts]
 *                      [--local-k1 const|diff] [--summarize] [--checkpoint-every 0] [--resume]
 *                      [--stop-after 0] [--sde] [--ernsde-coef 1000] [--srnsde-coef 0.1]
 *                      [--lr-decay 0]
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
 * fastest; about 100 MB per accepted step at batch 512, allocated 64 steps at a time; with
 * --sde about 2.6 MB per accepted SOSRI step at batch 256) or only the step starts (--tape
 * starts: little memory, one more evaluation per stage). Both give the same gradient.
 *
 * <out>/<method>.checkpoint.safetensors (θ, Adam's state, the batch stream and the step)
 * is written every --checkpoint-every steps (0: only after the last) and at the end;
 * --resume continues each method from its checkpoint (from step 0 when there is none) and
 * ends with the same bits as an uninterrupted run; <method>.csv then lists the resumed
 * steps only, and the training time counts the resumed part only. local_unbiased,
 * local_biased and steer draw from generators inside the model that the checkpoint does
 * not hold: --resume refuses them. --stop-after N stops each method after step N as if
 * interrupted (with --checkpoint-every dividing N, its checkpoint is that of step N), to
 * test --resume.
 *
 * --sde trains the MNIST neural-SDE classifier of the same paper instead (fm_sde_model.h;
 * RegNeuralDE.jl mnist_nsde): encoder 784 → 32, diagonal-noise SDE on [0, 1] with drift
 * 32 → 64 (tanh) → 32 and linear diffusion 32 → 32, readout 32 → 10; SOSRI at rtol =
 * atol = 0.14; Adam lr 1e-2 with inverse decay 1e-5 per step (--lr-decay). Methods
 * vanilla, ernsde (λ mean_j E_j|h_j|, λ = 1000 const, --ernsde-coef; SOSRI), srnsde
 * (λ mean_j S_j/10.6, λ = 0.1, --srnsde-coef; SOSRI2, the method with the stiffness
 * estimate) and local (the unbiased local ERNSDE: λ EEst·|h| of the SOSRI step from a
 * t_reg ~ U[0, 1) drawn per step, λ = 1000 const, --local-sde-coef). Every step
 * draws its Brownian paths from a generator seeded by (seed + 4) ^ step, the same for
 * every method, so --resume is bit-exact for all of them; every evaluation draws its
 * paths from seed + 5: one path per image, or the mean logits of --pred-paths N paths
 * (the paper: 10; the reported prediction NFE is then per path, the time per batch
 * covers all N).
 * Defaults of --out: out/fashion_mnist_nsde. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fm_data.h"
#include "fm_model.h"
#include "fm_sde_model.h"
#include "nde/nde.h"
#include "nde_plot.h"
#include "nde_args.h"

typedef enum method {
    M_VANILLA = 0, M_ERNODE, M_SRNODE, M_LOCAL_UNBIASED, M_LOCAL_BIASED, M_STEER, M_KINETIC,
    M_ERNSDE, M_SRNSDE, M_LOCAL_SDE, M_COUNT
} method;

static const char *const method_names[M_COUNT] = {
    "vanilla", "ernode", "srnode", "local_unbiased", "local_biased", "steer", "kinetic",
    "ernsde", "srnsde", "local"};

/* the methods of the neural ODE (default) and of the neural SDE (--sde) */
static int is_sde_method(method m) { return m == M_ERNSDE || m == M_SRNSDE || m == M_LOCAL_SDE; }
static int in_mode(method m, int sde) { return m == M_VANILLA || is_sde_method(m) == sde; }

typedef struct config {
    int methods[M_COUNT], n_methods;
    size_t steps, batch, train_subset, test_subset, val, train_eval, print_every;
    double rtol, atol, lr;
    double ernode_coef[2], local_coef[2], srnode_coef, kinetic_coef, steer_b;
    double ernsde_coef, srnsde_coef, local_sde_coef, lr_decay;
    int sde; /* the neural-SDE classifier (fm_sde_model.h) instead of the neural ODE */
    uint64_t seed;
    const char *data, *out;
    int plot, step_starts, summarize, local_diff_k1, resume;
    size_t checkpoint_every, stop_after;
    size_t pred_paths; /* --sde: paths whose logits are averaged per test image */
    nde_method solver; /* the ODE method of training and prediction (default Tsit5) */
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
                                  "local_unbiased, local_biased, steer, kinetic (--sde: vanilla, "
                                  "ernsde, srnsde, local)";
}

/* NDE_ARGS_OK, or what nde_args_parse returned (help printed, or an error). */
static int parse_args(int argc, char **argv, config *c)
{
    static const char *const tapes[] = {"stages", "starts", NULL}, *const k1s[] = {"const", "diff", NULL};
    /* rtol, atol, lr, lr-decay, out and the methods have a default per mode, set after
     * parsing (0 / NULL: not given) */
    *c = (config){.steps = 300, .batch = 512, .train_eval = 2048, .print_every = 10,
                  .ernode_coef = {100.0, 10.0}, .local_coef = {2.5, 1.0}, .srnode_coef = 0.1,
                  .kinetic_coef = 0.1, .steer_b = 0.5, .ernsde_coef = 1000.0, .local_sde_coef = 1000.0,
                  .srnsde_coef = 0.1, .lr_decay = -1.0, .data = NDE_FASHION_MNIST_DIR,
                  .plot = 1, .solver = NDE_TSIT5, .pred_paths = 1};
    const nde_arg opts[] = {
        {.name = "sde", .kind = NDE_ARG_FLAG, .dest = &c->sde,
         .help = "train the neural-SDE classifier (methods vanilla ernsde srnsde local)"},
        {.name = "methods", .kind = NDE_ARG_CUSTOM, .dest = c, .parse = parse_methods,
         .metavar = "LIST", .default_text = "all; --sde: vanilla,ernsde,srnsde",
         .help = "comma-separated: vanilla ernode srnode local_unbiased local_biased\n"
                 "steer kinetic; with --sde: vanilla ernsde srnsde local"},
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
        {.name = "rtol", .kind = NDE_ARG_DOUBLE, .dest = &c->rtol, .bounds = NDE_ARG_LO_OPEN,
         .default_text = "1.4e-8; --sde: 0.14", .help = "relative tolerance"},
        {.name = "atol", .kind = NDE_ARG_DOUBLE, .dest = &c->atol, .bounds = NDE_ARG_LO_OPEN,
         .default_text = "1.4e-8; --sde: 0.14", .help = "absolute tolerance"},
        {.name = "solver", .kind = NDE_ARG_CUSTOM, .dest = &c->solver, .parse = nde_args_method,
         .metavar = "NAME",
         .help = "ODE method: tsit5, vern7, vern9, dop853, auto, ...\n"
                 "(--sde: SOSRI, SOSRI2 for srnsde)"},
        {.name = "lr", .kind = NDE_ARG_DOUBLE, .dest = &c->lr, .bounds = NDE_ARG_LO_OPEN,
         .default_text = "1e-3; --sde: 1e-2", .help = "Adam learning rate"},
        {.name = "lr-decay", .kind = NDE_ARG_DOUBLE, .dest = &c->lr_decay, .lo = 0.0,
         .bounds = NDE_ARG_LO,
         .default_text = "0; --sde: 1e-5",
         .help = "inverse decay per step: lr / (1 + decay·step)"},
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
        {.name = "ernsde-coef", .kind = NDE_ARG_DOUBLE, .dest = &c->ernsde_coef,
         .bounds = NDE_ARG_LO_OPEN, .help = "ERNSDE coefficient (--sde)"},
        {.name = "srnsde-coef", .kind = NDE_ARG_DOUBLE, .dest = &c->srnsde_coef,
         .bounds = NDE_ARG_LO_OPEN, .help = "SRNSDE coefficient (--sde)"},
        {.name = "local-sde-coef", .kind = NDE_ARG_DOUBLE, .dest = &c->local_sde_coef,
         .bounds = NDE_ARG_LO_OPEN, .help = "local ERNSDE coefficient (--sde, method local)"},
        {.name = "pred-paths", .kind = NDE_ARG_SIZE, .dest = &c->pred_paths, .min = 1,
         .max = 1000, .metavar = "N",
         .help = "--sde: predict from the mean logits of N Brownian paths (the paper: 10)"},
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
        {.name = "out", .kind = NDE_ARG_STRING, .dest = &c->out, .metavar = "DIR",
         .default_text = "out/fashion_mnist_node; --sde: out/fashion_mnist_nsde",
         .help = "output folder"},
        NDE_ARGS_NO_PLOT(&c->plot, "nfe.png"),
        {.name = "summarize", .kind = NDE_ARG_FLAG, .dest = &c->summarize,
         .help = "only rebuild the summary and plot from <out>/*.result"},
        {.name = "checkpoint-every", .kind = NDE_ARG_SIZE, .dest = &c->checkpoint_every,
         .help = "also write <out>/<method>.checkpoint.safetensors every this many steps\n"
                 "(0: only after the last)"},
        {.name = "resume", .kind = NDE_ARG_FLAG, .dest = &c->resume,
         .help = "continue each method from <out>/<method>.checkpoint.safetensors\n"
                 "(from step 0 if absent; not local_unbiased, local_biased, steer)"},
        {.name = "stop-after", .kind = NDE_ARG_SIZE, .dest = &c->stop_after,
         .help = "stop each method after this many steps as if interrupted, with its\n"
                 "checkpoint (--checkpoint-every must divide it; 0: off; for testing --resume)"},
    };
    const nde_args_spec spec = {
        .prog = "fashion_mnist_node",
        .about = "Trains a neural ODE (--sde: a neural SDE) classifier on Fashion-MNIST with each\n"
                 "regularizer.",
        NDE_ARGS_TABLE(opts)};
    const int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) return parsed;
    /* the mode's defaults for what was not given */
    if (c->rtol == 0.0) c->rtol = c->sde ? 0.14 : 1.4e-8;
    if (c->atol == 0.0) c->atol = c->sde ? 0.14 : 1.4e-8;
    if (c->lr == 0.0) c->lr = c->sde ? 1e-2 : 1e-3;
    if (c->lr_decay < 0.0) c->lr_decay = c->sde ? 1e-5 : 0.0;
    if (!c->out) c->out = c->sde ? "out/fashion_mnist_nsde" : "out/fashion_mnist_node";
    if (!c->n_methods)
        for (int m = 0; m < M_COUNT; m++)
            if (in_mode((method)m, c->sde)) c->methods[c->n_methods++] = m;
    return NDE_ARGS_OK;
}

/* CPU seconds of this process (all its threads). */
static double cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) return NAN;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- one method: the model, the trainer's callbacks, the evaluation --------------- */

/* λ annealed exponentially v[0] → v[1] over the run (RegNeuralDE's λ0·exp(−k·e)), or
 * constant when they are equal. */
static nde_schedule anneal(const double v[2], uint64_t steps)
{
    if (v[0] == v[1]) return nde_schedule_constant(v[0]);
    return (nde_schedule){.kind = NDE_SCHED_EXPONENTIAL, .v0 = v[0], .v1 = v[1], .steps = steps};
}

/* The classifier of method m (fm_model.h), initialized from the seed: Tsit5 at the
 * tolerances with at most 5000 steps, the method's regularizer and λ schedule. */
/* The neural-SDE classifier of method m (fm_sde_model.h), initialized from the seed:
 * SOSRI (SOSRI2 for srnsde, whose stiffness estimate SRNSDE needs) at the tolerances with
 * at most 5000 steps; ERNSDE λ mean_j E_j|h_j|, SRNSDE λ mean_j S_j/10.6, λ constant. */
static nde_status make_sde_model(const config *c, method m, nde_schedule *coef, nde_model **out)
{
    fm_sde_model_spec spec = {.max_batch = c->batch,
                              .solver = nde_sde_defaults(m == M_SRNSDE ? NDE_SDE_SOSRI2
                                                                       : NDE_SDE_SOSRI),
                              .coef = nde_schedule_constant(0.0), .path_seed = c->seed + 4};
    spec.solver.rtol = c->rtol;
    spec.solver.atol = c->atol;
    spec.solver.max_steps = 5000;
    spec.solver.tape = c->step_starts ? NDE_TAPE_STEP_STARTS : NDE_TAPE_STAGES;
    nde_reg_spec rs;
    if (m == M_ERNSDE) {
        rs = nde_reg_error_estimate_mean(c->ernsde_coef);
        spec.coef = nde_schedule_constant(c->ernsde_coef);
        spec.reg = &rs;
    } else if (m == M_SRNSDE) {
        rs = (nde_reg_spec){.kind = NDE_REG_STIFF_EST, .agg = NDE_REG_MEAN,
                            .coef = c->srnsde_coef, .weight_dt = 0,
                            .scale = NDE_SOSRI2_STABILITY_SIZE};
        spec.coef = nde_schedule_constant(c->srnsde_coef);
        spec.reg = &rs;
    } else if (m == M_LOCAL_SDE) {
        /* unbiased: t_reg ~ U[0, 1) from the model's path generator, λ·EEst·|h| of the
         * SOSRI step that starts there (nde_sde_reg_local, docs/sde.md) */
        rs = nde_sde_reg_local(c->local_sde_coef, NDE_LOCAL_UNBIASED);
        spec.coef = nde_schedule_constant(c->local_sde_coef);
        spec.reg = &rs;
    }
    *coef = spec.coef;
    NDE_TRY(fm_sde_model_create(&spec, out));
    nde_rng init_rng;
    nde_rng_seed(&init_rng, c->seed);
    return nde_model_init(*out, &init_rng);
}

static nde_status make_model(const config *c, method m, nde_schedule *coef, nde_model **out)
{
    if (c->sde) return make_sde_model(c, m, coef, out);
    const uint64_t steps = c->steps > 1 ? c->steps : 2;
    fm_model_spec spec = {.max_batch = c->batch, .solver = nde_solver_defaults(c->solver),
                          .steer_seed = c->seed + 2, .coef = nde_schedule_constant(0.0)};
    spec.solver.rtol = c->rtol;
    spec.solver.atol = c->atol;
    spec.solver.max_steps = 5000;
    spec.solver.tape = c->step_starts ? NDE_TAPE_STEP_STARTS : NDE_TAPE_STAGES;
    nde_reg_spec rs;
    nde_local_reg_spec ls = {.kind = NDE_REG_ERROR_EST, .coef = c->local_coef[0], .atol = c->atol,
                             .rtol = c->rtol, .seed = c->seed + 3, .diff_start = c->local_diff_k1,
                             .sampling = m == M_LOCAL_BIASED ? NDE_LOCAL_BIASED : NDE_LOCAL_UNBIASED};
    switch (m) {
    case M_ERNODE:
        spec.coef = anneal(c->ernode_coef, steps);
        rs = nde_reg_error_estimate_mean(c->ernode_coef[0]);
        spec.reg = &rs;
        break;
    case M_SRNODE:
        spec.coef = nde_schedule_constant(c->srnode_coef);
        rs = nde_reg_stiffness_max(c->srnode_coef);
        spec.reg = &rs;
        break;
    case M_KINETIC:
        spec.coef = nde_schedule_constant(c->kinetic_coef);
        rs = nde_reg_kinetic(c->kinetic_coef);
        spec.reg = &rs;
        break;
    case M_LOCAL_UNBIASED:
    case M_LOCAL_BIASED:
        spec.coef = anneal(c->local_coef, steps);
        spec.local = &ls;
        break;
    case M_STEER: spec.steer_b = c->steer_b; break;
    default: break;
    }
    *coef = spec.coef;
    NDE_TRY(fm_model_create(&spec, out));
    nde_rng init_rng;
    nde_rng_seed(&init_rng, c->seed);
    return nde_model_init(*out, &init_rng);
}

/* The training images as trainer data: x the pixels, y the label (a double); the labels
 * of the last batch are kept for its accuracy. */
typedef struct fm_reader {
    const fm_split *split;
    uint8_t *last_labels; /* (batch) */
} fm_reader;

static nde_status fetch_images(void *ctx, const size_t *idx, size_t count, double *x, double *y)
{
    fm_reader *r = ctx;
    for (size_t b = 0; b < count; b++) {
        memcpy(x + b * FM_PIXELS, r->split->images + idx[b] * FM_PIXELS, FM_PIXELS * sizeof *x);
        r->last_labels[b] = r->split->labels[idx[b]];
        y[b] = (double)r->last_labels[b];
    }
    return NDE_OK;
}

/* What the callbacks of one method's training keep and write. */
typedef struct run_log {
    const config *cfg;
    method m;
    nde_model *model;
    const nde_schedule *coef;
    const fm_reader *reader;
    FILE *csv;
    result *res;
    double t0, c0, t_train, cpu_train;
    size_t fails_in_row;
    int gave_up; /* 10 failed steps in a row stopped the run */
    int stopped; /* --stop-after stopped the run */
} run_log;

static int on_step_begin(const nde_train_info *info, void *user)
{
    run_log *l = user;
    if (l->cfg->sde) {
        if (fm_sde_model_set_step(l->model, info->step) != NDE_OK) {
            fprintf(stderr, "fashion_mnist_node: %s\n", nde_last_error());
            return 1;
        }
    } else {
        fm_model_set_step(l->model, info->step);
    }
    l->t0 = nde_wall_seconds();
    l->c0 = cpu_seconds();
    return 0;
}

static int on_step(const nde_train_info *info, void *user)
{
    run_log *l = user;
    const config *c = l->cfg;
    const unsigned long long step = (unsigned long long)info->step - 1;
    l->t_train += nde_wall_seconds() - l->t0;
    l->cpu_train += cpu_seconds() - l->c0;
    if (info->status != NDE_OK) {
        /* a failing solve (max_steps, step underflow, non-finite) skips the step */
        l->res->skipped++;
        fprintf(stderr, "fashion_mnist_node: %s step %llu skipped (%s): %s\n",
                method_names[l->m], step, nde_status_str(info->status), nde_last_error());
        if (++l->fails_in_row == 10) {
            fprintf(stderr, "fashion_mnist_node: %s: 10 failures in a row, stopping\n",
                    method_names[l->m]);
            l->gave_up = 1;
            return 1;
        }
        return 0;
    }
    l->fails_in_row = 0;
    l->res->steps++;
    if (c->stop_after && info->step == c->stop_after) l->stopped = 1;
    size_t correct = 0;
    const double *logits = c->sde ? fm_sde_model_logits(l->model) : fm_model_logits(l->model);
    for (size_t b = 0; b < info->batch; b++)
        correct += nde_argmax(logits + b * FM_CLASSES, FM_CLASSES) == l->reader->last_labels[b];
    const size_t nfe = c->sde ? fm_sde_model_nfe(l->model) : fm_model_nfe(l->model);
    const double reg = c->sde ? fm_sde_model_reg_value(l->model) : fm_model_reg_value(l->model);
    const double lambda = nde_schedule_value(l->coef, step);
    fprintf(l->csv, "%llu,%.6f,%.4f,%zu,%.6g,%.6g,%.3f,%.3f\n", step, info->loss,
            (double)correct / (double)c->batch, nfe, reg, lambda, l->t_train, l->cpu_train);
    if (c->print_every && (step % c->print_every == 0 || step + 1 == c->steps)) {
        printf("%s step %4llu/%zu loss %.4f batch acc %5.1f%% NFE %4zu reg %.4g  %.1f s "
               "(CPU %.1f s)\n",
               method_names[l->m], step, c->steps, info->loss,
               100.0 * (double)correct / (double)c->batch, nfe, reg, l->t_train, l->cpu_train);
        fflush(stdout);
        fflush(l->csv);
    }
    return l->stopped;
}

/* `steps` steps of the trainer: batches from one stream of reshuffled passes over the
 * first n_train images (seed + 1), Adam at lr, softmax cross-entropy; a step whose solve
 * fails is skipped, ten in a row end the training. */
static nde_status train(const config *c, run_log *l, const fm_split *train_split, size_t n_train)
{
    if (c->steps == 0) return NDE_OK;
    uint8_t *labels = nde_alloc_array(c->batch, 1);
    if (!labels) return NDE_ERR_NOMEM;
    fm_reader reader = {.split = train_split, .last_labels = labels};
    l->reader = &reader;
    nde_data data = {.n = n_train, .x_size = FM_PIXELS, .y_size = 1, .fetch = fetch_images,
                     .ctx = &reader};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = c->batch;
    ts.epochs = 1;
    ts.steps_per_epoch = c->steps;
    ts.sampling = NDE_SAMPLE_STREAM;
    ts.seed = c->seed + 1;
    ts.optim.lr = c->lr;
    if (c->lr_decay > 0.0) {
        ts.schedule = (nde_schedule){.kind = NDE_SCHED_INVERSE, .v0 = c->lr, .gamma = c->lr_decay};
        ts.schedule_per_step = 1;
    }
    ts.loss = nde_loss_softmax_ce();
    ts.eval_every = 0;
    ts.progress = 0;
    ts.skip_failed_steps = 1;
    ts.name = method_names[l->m];
    ts.on_step_begin = on_step_begin;
    ts.on_step = on_step;
    ts.user = l;
    char ckpt[1100];
    snprintf(ckpt, sizeof ckpt, "%s/%s.checkpoint.safetensors", c->out, method_names[l->m]);
    ts.checkpoint_path = ckpt;
    ts.checkpoint_every_steps = c->checkpoint_every;
    nde_trainer *tr = NULL;
    nde_status st = nde_trainer_create(l->model, &data, NULL, &ts, &tr);
    if (st == NDE_OK && c->resume) {
        FILE *ck = fopen(ckpt, "rb");
        if (!ck) {
            printf("%s: no checkpoint at %s: starting from step 0\n", method_names[l->m], ckpt);
        } else {
            fclose(ck);
            st = nde_trainer_resume(tr, ckpt);
            if (st == NDE_OK)
                printf("%s: resumed from %s at step %zu\n", method_names[l->m], ckpt,
                       nde_trainer_step(tr));
        }
        fflush(stdout);
    }
    if (st == NDE_OK) st = nde_trainer_run(tr);
    if (st == NDE_ERR_STOPPED && (l->gave_up || l->stopped)) st = NDE_OK;
    nde_trainer_destroy(&tr);
    nde_free(labels);
    l->reader = NULL;
    return st;
}

/* Accuracy, NFE and time per batch of the trained model on the first `count` items. */
static nde_status evaluate(const config *c, nde_model *model, const fm_split *s, size_t count,
                           double *acc, double *nfe, double *sec_per_batch, double *cpu_per_batch)
{
    size_t B = c->batch, correct = 0, batches = 0, full = 0;
    const size_t paths = c->sde ? c->pred_paths : 1;
    double nfe_sum = 0.0, t_full = 0.0, c_full = 0.0;
    double *logits = nde_alloc_array(B * FM_CLASSES, sizeof *logits);
    double *sum = paths > 1 ? nde_alloc_array(B * FM_CLASSES, sizeof *sum) : NULL;
    if (!logits || (paths > 1 && !sum)) {
        nde_free(logits);
        nde_free(sum);
        return NDE_ERR_NOMEM;
    }
    nde_status st = nde_model_set_training(model, 0);
    if (st == NDE_OK && c->sde) st = fm_sde_model_reseed(model, c->seed + 5);
    for (size_t first = 0; first < count && st == NDE_OK; first += B, batches++) {
        size_t nb = count - first < B ? count - first : B;
        double t0 = nde_wall_seconds(), c0 = cpu_seconds(), nfe_paths = 0.0;
        /* each forward draws new paths; the sum of the logits ranks as their mean */
        for (size_t p = 0; p < paths && st == NDE_OK; p++) {
            st = nde_model_forward(model, s->images + first * FM_PIXELS, logits, nb);
            if (st != NDE_OK) break;
            nfe_paths += c->sde ? (double)fm_sde_model_eval_nfe(model)
                                : (double)nde_solver_get_stats(fm_model_eval_solver(model))->nfe;
            for (size_t i = 0; paths > 1 && i < nb * FM_CLASSES; i++)
                sum[i] = p ? sum[i] + logits[i] : logits[i];
        }
        if (st != NDE_OK) break;
        const double *ranked = paths > 1 ? sum : logits;
        size_t ok = 0;
        for (size_t b = 0; b < nb; b++)
            ok += nde_argmax(ranked + b * FM_CLASSES, FM_CLASSES) == s->labels[first + b];
        double dt = nde_wall_seconds() - t0, dc = cpu_seconds() - c0;
        correct += ok;
        nfe_sum += nfe_paths / (double)paths;
        if (nb == B) t_full += dt, c_full += dc, full++;
    }
    nde_free(logits);
    nde_free(sum);
    NDE_TRY(st);
    NDE_TRY(nde_model_set_training(model, 1));
    *acc = 100.0 * (double)correct / (double)count;
    *nfe = nfe_sum / (double)batches;
    *sec_per_batch = full ? t_full / (double)full : NAN;
    *cpu_per_batch = full ? c_full / (double)full : NAN;
    return NDE_OK;
}

static int run_method(const config *c, method m, const fm_split *train_split, size_t n_train,
                      const fm_split *test, size_t n_test, result *res)
{
    memset(res, 0, sizeof *res);
    nde_model *model = NULL;
    nde_schedule coef;
    if (make_model(c, m, &coef, &model) != NDE_OK) {
        fprintf(stderr, "fashion_mnist_node: %s: setup: %s\n", method_names[m], nde_last_error());
        nde_model_destroy(&model);
        return -1;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.csv", c->out, method_names[m]);
    FILE *csv = fopen(path, "w");
    if (!csv) {
        fprintf(stderr, "fashion_mnist_node: cannot write %s: %s\n", path, strerror(errno));
        nde_model_destroy(&model);
        return -1;
    }
    fprintf(csv, "step,loss,batch_acc,nfe,reg,coef,seconds,cpu_seconds\n");
    printf("== %s: %zu steps, batch %zu, %zu parameters\n", method_names[m], c->steps, c->batch,
           nde_model_n_params(model));
    fflush(stdout);
    run_log l = {.cfg = c, .m = m, .model = model, .coef = &coef, .csv = csv, .res = res};
    nde_status st = train(c, &l, train_split, n_train);
    fclose(csv);
    if (st != NDE_OK) {
        fprintf(stderr, "fashion_mnist_node: %s: training: %s\n", method_names[m], nde_last_error());
        nde_model_destroy(&model);
        return -1;
    }
    if (l.stopped) {
        printf("%s: stopped after step %zu (--stop-after); continue with --resume\n",
               method_names[m], c->stop_after);
        nde_model_destroy(&model);
        return 1;
    }
    res->train_s = l.t_train;
    res->train_cpu = l.cpu_train;
    double nfe_tr, sec_tr, cpu_tr;
    size_t n_eval = c->train_eval < n_train ? c->train_eval : n_train;
    if (evaluate(c, model, train_split, n_eval, &res->train_acc, &nfe_tr, &sec_tr, &cpu_tr) !=
            NDE_OK ||
        evaluate(c, model, test, n_test, &res->test_acc, &res->pred_nfe, &res->pred_s,
                 &res->pred_cpu) != NDE_OK) {
        fprintf(stderr, "fashion_mnist_node: %s: evaluation failed: %s\n", method_names[m],
                nde_last_error());
        nde_model_destroy(&model);
        return -1;
    }
    res->done = 1;
    printf("%s: train acc %.2f%% %s acc %.2f%% train %.1f s (CPU %.1f s), prediction %.3f "
           "s/batch, NFE %.1f\n",
           method_names[m], res->train_acc, c->val ? "val" : "test", res->test_acc,
           res->train_s, res->train_cpu, res->pred_s, res->pred_nfe);
    fflush(stdout);
    nde_model_destroy(&model);
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
        if (!in_mode((method)m, c->sde)) continue;
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
    char paths_note[160] = "";
    if (c->sde && c->pred_paths > 1)
        snprintf(paths_note, sizeof paths_note,
                 " Predictions from the mean logits of %zu Brownian paths per image (NFE per "
                 "path; the times cover all %zu).", c->pred_paths, c->pred_paths);
    fprintf(f,
            "Fashion-MNIST neural %s (%s, rtol %g, atol %g), %zu steps of batch %zu from "
            "%zu training images, %s on %zu images, Adam lr %g (inverse decay %g), seed %llu.%s\n\n"
            "| Method | Train Acc %% | %s Acc %% | Train Time (s) | Train CPU (s) | "
            "Pred Time (s/batch) | Pred CPU (s/batch) | NFE | NFE / vanilla | "
            "Train CPU / vanilla | skipped steps |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n",
            c->sde ? "SDE" : "ODE",
            c->sde ? "SOSRI; SOSRI2 for srnsde" : nde_method_name(c->solver), c->rtol, c->atol,
            c->steps, c->batch, n_train, c->val ? "validation" : "test", n_test, c->lr,
            c->lr_decay, (unsigned long long)c->seed, paths_note, ev);
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
                    "{\"bench\": \"%s\", \"method\": \"%s\", \"metric\": "
                    "\"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n",
                    c->sde ? "fashion_mnist_nsde" : "fashion_mnist_node", method_names[m],
                    keys[k], vals[k], units[k]);
    }
    fclose(f);
    rename(tmp, path);
}

static void plot_nfe(const config *c, const result *res)
{
    char script[8192], png[1100];
    snprintf(png, sizeof png, "%s/nfe.png", c->out);
    int len = snprintf(script, sizeof script,
                       "set terminal png noenhanced size 1000,600\nset output ARG1\n"
                       "set datafile separator ','\nset key outside right\n"
                       "set title 'Fashion-MNIST neural %s: NFE of the training solve'\n"
                       "set xlabel 'training step'\nset ylabel 'NFE (forward solve)'\nplot ",
                       c->sde ? "SDE" : "ODE");
    int first = 1;
    for (int m = 0; m < M_COUNT && len < (int)sizeof script - 300; m++) {
        if (!res[m].done) continue;
        len += snprintf(script + len, sizeof script - (size_t)len,
                        "%sARG2.'/%s.csv' every ::1 using 1:4 with lines lw 2 title '%s'",
                        first ? "" : ", ", method_names[m], method_names[m]);
        first = 0;
    }
    snprintf(script + len, sizeof script - (size_t)len, "\n");
    if (first) return;
    if (nde_plot_run_args(script, 2, (const char *const[]){png, c->out}) != NDE_OK)
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
    for (int i = 0; i < c.n_methods; i++) {
        method m = (method)c.methods[i];
        if (!in_mode(m, c.sde)) {
            fprintf(stderr, "fashion_mnist_node: --methods: %s %s\n", method_names[m],
                    c.sde ? "is a neural-ODE method (not with --sde)" : "needs --sde");
            return 2;
        }
    }
    if (c.pred_paths > 1 && !c.sde) {
        fprintf(stderr, "fashion_mnist_node: --pred-paths %zu needs --sde (a neural ODE's "
                "prediction has no paths)\n", c.pred_paths);
        return 2;
    }
    for (int i = 0; i < c.n_methods && c.resume; i++) {
        method m = (method)c.methods[i];
        if (m == M_LOCAL_UNBIASED || m == M_LOCAL_BIASED || m == M_STEER) {
            fprintf(stderr, "fashion_mnist_node: --resume: %s draws from a generator the "
                    "checkpoint does not hold; resume only vanilla, ernode, srnode, kinetic\n",
                    method_names[m]);
            return 2;
        }
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
    printf("fashion_mnist_node: %zu training / %zu %s images, neural %s, %s rtol %g atol %g\n",
           n_train, eval.count, c.val ? "validation (held out from training)" : "test",
           c.sde ? "SDE" : "ODE", c.sde ? "SOSRI (srnsde: SOSRI2)" : nde_method_name(c.solver),
           c.rtol, c.atol);
    result res[M_COUNT];
    memset(res, 0, sizeof res);
    int rc = 0;
    for (int i = 0; i < c.n_methods && !c.summarize; i++) {
        method m = (method)c.methods[i];
        const int r = run_method(&c, m, &train, n_train, &eval, eval.count, &res[m]);
        if (r < 0)
            rc = 1;
        else if (r == 0)
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
