/* bench/optim — the spiral neural ODE (examples/spiral) trained with each optimizer at
 * its recommended settings, from the same initial weights and batches.
 *
 *   bench_optim [--iters 300] [--seed 0] [--only NAME] [--out out/bench_optim] [--no-plot]
 *
 * Prints one JSON object per result line (final, smoothed and best batch loss, full-trajectory
 * MAE, median µs per iteration, state bytes) and progress on stderr; writes
 * <out>/<name>.csv (step, seconds, loss, loss_ema), <out>/summary.csv and
 * <out>/optim_comparison.png (loss against step and against wall time; needs gnuplot).
 * The optimizers and their settings are those of optim_compare.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/io.h"
#include "nde/nde.h"
#include "nde_args.h"
#include "optim_compare.h"
#include "spiral_model.h"

typedef struct args {
    size_t iters;
    uint64_t seed;
    const char *only, *out;
    int plot;
} args;

/* NDE_ARGS_OK, or what nde_args_parse returned (help printed, or an error). */
static int parse_args(int argc, char **argv, args *a)
{
    *a = (args){.iters = 300, .seed = 0, .only = NULL, .out = "out/bench_optim", .plot = 1};
    const nde_arg opts[] = {
        {.name = "iters", .kind = NDE_ARG_SIZE, .dest = &a->iters, .min = 1,
         .help = "training iterations per optimizer"},
        NDE_ARGS_SEED(&a->seed),
        {.name = "only", .kind = NDE_ARG_CUSTOM, .dest = &a->only, .parse = optim_parse_only,
         .metavar = "NAME", .default_text = "all", .help = "train with this optimizer only"},
        NDE_ARGS_OUT(&a->out),
        NDE_ARGS_NO_PLOT(&a->plot, "optim_comparison.png"),
    };
    const nde_args_spec spec = {
        .prog = "bench_optim",
        .about = "The spiral neural ODE trained with each optimizer from the same start.",
        NDE_ARGS_TABLE(opts)};
    return nde_args_parse(&spec, argc, argv, NULL);
}

typedef struct result {
    double final_loss, final_ema, best_loss, mae, us_median, seconds;
    size_t state_bytes;
} result;

/* Per-iteration loss and time, recorded by the trainer's step callback. */
typedef struct step_log {
    const char *name;
    double *loss, *secs, *step_us, total, t_last;
} step_log;

static int log_step(const nde_train_info *info, void *user)
{
    step_log *lg = user;
    const double now = nde_wall_seconds();
    const size_t it = info->step - 1;
    lg->loss[it] = info->loss;
    lg->step_us[it] = 1e6 * (now - lg->t_last);
    lg->total += lg->step_us[it] * 1e-6;
    lg->secs[it] = lg->total;
    if (info->step % 100 == 0)
        fprintf(stderr, "  %-11s iter %4zu  loss %.5f  %.2f s\n", lg->name, info->step,
                info->loss, lg->total);
    lg->t_last = nde_wall_seconds();
    return 0;
}

static nde_status run_one(const optim_entry *e, const args *a, double *loss, double *secs,
                          double *step_us, result *r)
{
    spiral_cfg cfg = spiral_defaults();
    cfg.seed = a->seed;
    cfg.optim = &e->spec;
    spiral *sp = NULL;
    NDE_TRY(spiral_create(&cfg, &sp));
    step_log lg = {.name = e->name, .loss = loss, .secs = secs, .step_us = step_us,
                   .t_last = nde_wall_seconds()};
    nde_status st = spiral_train(sp, a->iters, 0, log_step, NULL, &lg);
    const double total = lg.total;
    if (st == NDE_OK) st = spiral_full_trajectory(sp, &r->mae, NULL, NULL);
    spiral_destroy(&sp);
    if (st != NDE_OK) return st;
    r->final_loss = loss[a->iters - 1];
    r->best_loss = r->final_ema = loss[0];
    for (size_t it = 0; it < a->iters; it++) {
        if (loss[it] < r->best_loss) r->best_loss = loss[it];
        r->final_ema = 0.95 * r->final_ema + 0.05 * loss[it];
    }
    r->seconds = total;
    r->us_median = optim_median(step_us, a->iters);
    return NDE_OK;
}

static size_t state_bytes_of(const nde_optim_spec *spec)
{
    /* The spiral MLP's tensors: 2→50→2 with biases. */
    nde_params *p = NULL;
    nde_optim *o = NULL;
    size_t bytes = 0;
    const size_t w0[2] = {50, 2}, b0[1] = {50}, w1[2] = {2, 50}, b1[1] = {2};
    if (nde_params_create(&p) == NDE_OK && nde_params_add(p, "w0", 2, w0, 0, NULL) == NDE_OK &&
        nde_params_add(p, "b0", 1, b0, NDE_GROUP_NO_DECAY, NULL) == NDE_OK &&
        nde_params_add(p, "w1", 2, w1, 0, NULL) == NDE_OK &&
        nde_params_add(p, "b1", 1, b1, NDE_GROUP_NO_DECAY, NULL) == NDE_OK &&
        nde_optim_create(spec, p, &o) == NDE_OK)
        bytes = nde_optim_state_bytes(o);
    nde_optim_destroy(&o);
    nde_params_destroy(&p);
    return bytes;
}

int main(int argc, char **argv)
{
    args a;
    int parsed = parse_args(argc, argv, &a);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (nde_mkdir_p(a.out) != NDE_OK) {
        fprintf(stderr, "bench_optim: %s\n", nde_last_error());
        return 1;
    }
    optim_entry e[OPTIM_N_ENTRIES];
    optim_entries_make(e);
    double *loss = malloc(a.iters * sizeof *loss), *secs = malloc(a.iters * sizeof *secs);
    double *step_us = malloc(a.iters * sizeof *step_us);
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.csv", a.out);
    FILE *sum = fopen(path, "w");
    if (!loss || !secs || !step_us || !sum) {
        fprintf(stderr, "bench_optim: cannot allocate or open %s\n", path);
        return 1;
    }
    fprintf(sum, "optimizer,lr,weight_decay,state_bytes,final_loss,final_loss_ema,best_loss,"
                 "full_mae,us_per_iter_median,seconds\n");
    int ran[OPTIM_N_ENTRIES] = {0}, failed = 0;
    for (int i = 0; i < OPTIM_N_ENTRIES; i++) {
        if (a.only && strcmp(a.only, e[i].name) != 0) continue;
        fprintf(stderr, "bench_optim: %s (lr %g, wd %g, %d-bit state), %zu iterations\n", e[i].name,
                e[i].spec.lr, e[i].spec.weight_decay, e[i].spec.state_bits, a.iters);
        result r;
        if (run_one(&e[i], &a, loss, secs, step_us, &r) != NDE_OK) {
            fprintf(stderr, "bench_optim: %s failed: %s\n", e[i].name, nde_last_error());
            failed = 1;
            continue;
        }
        r.state_bytes = state_bytes_of(&e[i].spec);
        ran[i] = optim_write_curve(a.out, e[i].name, loss, secs, a.iters);
        const struct {
            const char *metric, *unit;
            double value;
        } m[6] = {{"final_batch_loss", "mae", r.final_loss},
                  {"final_batch_loss_ema", "mae", r.final_ema},
                  {"best_batch_loss", "mae", r.best_loss},
                  {"full_trajectory_mae", "mae", r.mae},
                  {"us_per_iter_median", "us", r.us_median},
                  {"state_bytes", "bytes", (double)r.state_bytes}};
        for (int j = 0; j < 6; j++)
            printf("{\"bench\": \"optim\", \"optimizer\": \"%s\", \"iters\": %zu, \"metric\": "
                   "\"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n",
                   e[i].name, a.iters, m[j].metric, m[j].value, m[j].unit);
        fflush(stdout);
        fprintf(sum, "%s,%g,%g,%zu,%.6g,%.6g,%.6g,%.6g,%.1f,%.3f\n", e[i].name, e[i].spec.lr,
                e[i].spec.weight_decay, r.state_bytes, r.final_loss, r.final_ema, r.best_loss,
                r.mae, r.us_median, r.seconds);
    }
    fclose(sum);
    if (a.plot)
        optim_plot(a.out, "optim_comparison.png",
                   "Spiral neural ODE: batch loss (EMA 0.95) by optimizer", "mean |pred - truth|",
                   0.0, e, ran);
    free(loss);
    free(secs);
    free(step_us);
    return failed;
}
