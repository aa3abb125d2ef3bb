/* bench/spiral — the spiral neural ODE training of examples/spiral, timed per
 * iteration, for the discrete adjoint in both tape modes (the default mode last).
 *
 *   bench_spiral [--iters 2000] [--seed 0]
 *
 * One JSON object per result line:
 *   {"bench": "spiral", "mode": "...", "metric": "us_per_iter_median", "value": ..., "unit": "us"}
 * metrics: us_per_iter_median, us_per_iter_mean, nfe_per_iter_median (forward solve),
 * vjp_per_iter_median, full_traj_mae (after the last iteration), total_s, tape_bytes_max,
 * adjoint_peak_bytes_max. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"
#include "nde_args.h"
#include "spiral_model.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void emit(const char *mode, const char *metric, double value, const char *unit)
{
    printf("{\"bench\": \"spiral\", \"mode\": \"%s\", \"metric\": \"%s\", \"value\": %.6g, "
           "\"unit\": \"%s\"}\n",
           mode, metric, value, unit);
    fflush(stdout);
}

/* Per-iteration figures, recorded by the trainer's step callback. */
typedef struct timing {
    spiral *sp;
    const char *mode;
    size_t iters, tape_max, peak_max;
    double *us, *nfe, *vjp, mean, t_last;
} timing;

static int time_step(const nde_train_info *info, void *user)
{
    timing *tm = user;
    const double now = nde_wall_seconds();
    const size_t it = info->step - 1;
    tm->us[it] = 1e6 * (now - tm->t_last);
    tm->mean += tm->us[it] / (double)tm->iters;
    const nde_solver_stats *st = nde_solver_get_stats(spiral_solver(tm->sp));
    tm->nfe[it] = (double)st->nfe;
    tm->vjp[it] = (double)st->n_vjp;
    if (st->tape_bytes > tm->tape_max) tm->tape_max = st->tape_bytes;
    if (st->adjoint_peak_bytes > tm->peak_max) tm->peak_max = st->adjoint_peak_bytes;
    if (info->step % 500 == 0)
        fprintf(stderr, "bench_spiral: %s %zu/%zu\n", tm->mode, info->step, tm->iters);
    tm->t_last = nde_wall_seconds(); /* the callback's own time is not the iteration's */
    return 0;
}

static int run(const char *mode, nde_tape tape, size_t iters, uint64_t seed)
{
    spiral_cfg cfg = spiral_defaults();
    cfg.tape = tape;
    cfg.seed = seed;
    spiral *sp;
    if (spiral_create(&cfg, &sp) != NDE_OK) {
        fprintf(stderr, "bench_spiral: %s\n", nde_last_error());
        return 1;
    }
    double *us = malloc(iters * sizeof *us), *nfe = malloc(iters * sizeof *nfe);
    double *vjp = malloc(iters * sizeof *vjp);
    if (!us || !nfe || !vjp) {
        free(us), free(nfe), free(vjp);
        spiral_destroy(&sp);
        return 1;
    }
    timing tm = {.sp = sp, .mode = mode, .iters = iters, .us = us, .nfe = nfe, .vjp = vjp};
    double start = nde_wall_seconds();
    tm.t_last = start;
    int rc = 0;
    if (spiral_train(sp, iters, 0, time_step, NULL, &tm) != NDE_OK) {
        fprintf(stderr, "bench_spiral: %s\n", nde_last_error());
        rc = 1;
    }
    const double mean = tm.mean;
    const size_t tape_max = tm.tape_max, peak_max = tm.peak_max;
    double total = nde_wall_seconds() - start, mae = 0.0;
    if (!rc && spiral_full_trajectory(sp, &mae, NULL, NULL) != NDE_OK) {
        fprintf(stderr, "bench_spiral: %s\n", nde_last_error());
        rc = 1;
    }
    if (!rc) {
        emit(mode, "us_per_iter_mean", mean, "us");
        emit(mode, "nfe_per_iter_median", median(nfe, iters), "evals");
        emit(mode, "vjp_per_iter_median", median(vjp, iters), "vjps");
        emit(mode, "tape_bytes_max", (double)tape_max, "bytes");
        emit(mode, "adjoint_peak_bytes_max", (double)peak_max, "bytes");
        emit(mode, "total_s", total, "s");
        emit(mode, "full_traj_mae", mae, "abs");
        emit(mode, "us_per_iter_median", median(us, iters), "us");
    }
    free(us), free(nfe), free(vjp);
    spiral_destroy(&sp);
    return rc;
}

int main(int argc, char **argv)
{
    size_t iters = 2000;
    uint64_t seed = 0;
    const nde_arg opts[] = {
        {.name = "iters", .kind = NDE_ARG_SIZE, .dest = &iters, .min = 1,
         .help = "training iterations"},
        NDE_ARGS_SEED(&seed),
    };
    const nde_args_spec spec = {.prog = "bench_spiral",
                                .about = "Microseconds per spiral training iteration.",
                                NDE_ARGS_TABLE(opts)};
    int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (run("discrete_step_starts", NDE_TAPE_STEP_STARTS, iters, seed)) return 1;
    return run("discrete_stages", NDE_TAPE_STAGES, iters, seed);
}
