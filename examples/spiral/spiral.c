/* examples/spiral — learn the spiral dynamics of torchdiffeq's ode_demo.py with a
 * neural ODE trained through the discrete adjoint.
 *
 *   spiral [--iters 2000] [--method dopri5] [--tape stages|starts] [--rtol 1e-7]
 *          [--atol 1e-9] [--seed 0] [--print-every 100] [--out out/spiral] [--no-plot]
 *          [--reg none|error|error_mean|stiffness|stiffness_max|kinetic] [--reg-coef 0.1]
 *          [--checkpoint-every 0] [--resume]
 *
 * --reg adds a regularizer of nde/reg.h to the loss (error: λ Σ_j E_j|h_j| (ERNODE),
 * stiffness: λ Σ_j S_j|h_j| (SRNODE), the _mean/_max forms of the reference code,
 * kinetic: λ ∫ ½ mean(f²) dt); compare the final NFE with and without it.
 *
 * Prints a progress line every --print-every iterations and, at the end, the
 * full-trajectory mean absolute error, total function evaluations and wall time;
 * writes <out>/trajectory.csv (t, true x, true y, learned x, learned y), <out>/params.txt
 * (the trained θ as hex floats, one per line) and
 * <out>/spiral.png (phase portrait and time series; needs gnuplot).
 *
 * <out>/checkpoint.safetensors holds θ, the optimizer, the window generator and the
 * iteration, written after every --print-every iterations (an "epoch"; all iterations when
 * 0) and every --checkpoint-every iterations; --resume continues from it (from iteration 0
 * when there is none) and ends with the same bits as an uninterrupted run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/io.h"
#include "nde/nde.h"
#include "nde_plot.h"
#include "nde_args.h"
#include "spiral_model.h"

typedef struct args {
    spiral_cfg cfg;
    nde_reg_spec reg;
    const char *reg_name;
    double reg_coef;
    size_t iters, print_every, checkpoint_every;
    const char *out;
    int plot, resume;
    char ckpt[1100];
} args;

static const char *const reg_names[] = {"none", "error", "error_mean", "stiffness",
                                        "stiffness_max", "kinetic", NULL};
static const char *const tape_names[] = {"stages", "starts", NULL};

/* The regularizer named by --reg (none: cfg.reg stays NULL). */
static void set_reg(args *a, int reg)
{
    nde_reg_spec (*const make[])(double) = {nde_reg_error_estimate, nde_reg_error_estimate_mean,
                                            nde_reg_stiffness, nde_reg_stiffness_max,
                                            nde_reg_kinetic};
    a->reg_name = reg_names[reg];
    if (reg == 0) return;
    a->reg = make[reg - 1](a->reg_coef);
    a->cfg.reg = &a->reg;
}

/* NDE_ARGS_OK, or what nde_args_parse returned (help printed, or an error). */
static int parse_args(int argc, char **argv, args *a)
{
    a->cfg = spiral_defaults();
    a->iters = 2000;
    a->print_every = 100;
    a->out = "out/spiral";
    a->plot = 1;
    a->reg_coef = 0.1;
    int tape = a->cfg.tape == NDE_TAPE_STEP_STARTS, reg = 0;
    const nde_arg opts[] = {
        {.name = "iters", .kind = NDE_ARG_SIZE, .dest = &a->iters, .help = "training iterations"},
        NDE_ARGS_METHOD(&a->cfg.method),
        {.name = "tape", .kind = NDE_ARG_CHOICE, .dest = &tape, .choices = tape_names,
         .help = "what the discrete adjoint keeps"},
        NDE_ARGS_TOLERANCES(&a->cfg.rtol, &a->cfg.atol),
        {.name = "lr", .kind = NDE_ARG_DOUBLE, .dest = &a->cfg.lr, .bounds = NDE_ARG_LO,
         .help = "RMSprop learning rate"},
        NDE_ARGS_SEED(&a->cfg.seed),
        NDE_ARGS_PRINT_EVERY(&a->print_every, "iterations"),
        NDE_ARGS_OUT(&a->out),
        NDE_ARGS_NO_PLOT(&a->plot, "spiral.png (gnuplot)"),
        {.name = "reg", .kind = NDE_ARG_CHOICE, .dest = &reg, .choices = reg_names,
         .metavar = "NAME", .help = "regularizer added to the loss: none, error, error_mean,\n"
                                    "stiffness, stiffness_max or kinetic"},
        {.name = "reg-coef", .kind = NDE_ARG_DOUBLE, .dest = &a->reg_coef, .bounds = NDE_ARG_LO,
         .help = "the regularizer's coefficient"},
        {.name = "checkpoint-every", .kind = NDE_ARG_SIZE, .dest = &a->checkpoint_every,
         .help = "also write <out>/checkpoint.safetensors every this many iterations\n"
                 "(0: only after every --print-every iterations)"},
        {.name = "resume", .kind = NDE_ARG_FLAG, .dest = &a->resume,
         .help = "continue from <out>/checkpoint.safetensors (from iteration 0 if absent)"},
    };
    const nde_args_spec spec = {
        .prog = "spiral",
        .about = "Trains du/dt = MLP(u^3) on the spiral of torchdiffeq's ode_demo.py.",
        NDE_ARGS_TABLE(opts)};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return rc;
    a->cfg.tape = tape ? NDE_TAPE_STEP_STARTS : NDE_TAPE_STAGES;
    set_reg(a, reg);
    return NDE_ARGS_OK;
}

static int write_outputs(spiral *sp, const args *a, const double *pred)
{
    char csv[1100], png[1100];
    snprintf(csv, sizeof csv, "%s/trajectory.csv", a->out);
    snprintf(png, sizeof png, "%s/spiral.png", a->out);
    FILE *f = fopen(csv, "w");
    if (!f) {
        fprintf(stderr, "spiral: cannot write %s: %s\n", csv, strerror(errno));
        return -1;
    }
    const double *t = spiral_times(sp), *y = spiral_truth(sp);
    fprintf(f, "t,true_x,true_y,learned_x,learned_y\n");
    for (size_t i = 0; i < a->cfg.data_size; i++)
        fprintf(f, "%.9g,%.12g,%.12g,%.12g,%.12g\n", t[i], y[2 * i], y[2 * i + 1], pred[2 * i],
                pred[2 * i + 1]);
    fclose(f);
    printf("wrote %s\n", csv);
    /* the trained θ, exactly (C99 hex floats), for bit-identity checks across changes */
    char par[1100];
    snprintf(par, sizeof par, "%s/params.txt", a->out);
    if (!(f = fopen(par, "w"))) {
        fprintf(stderr, "spiral: cannot write %s: %s\n", par, strerror(errno));
        return -1;
    }
    const double *th = spiral_theta(sp);
    for (size_t i = 0; i < spiral_n_params(sp); i++) fprintf(f, "%a\n", th[i]);
    if (fclose(f) != 0) {
        fprintf(stderr, "spiral: cannot write %s: %s\n", par, strerror(errno));
        return -1;
    }
    printf("wrote %s\n", par);
    if (!a->plot) return 0;
    char script[4096];
    snprintf(script, sizeof script,
             "set terminal png size 1200,500\n"
             "set output ARG1\n"
             "set datafile separator ','\n"
             "set key autotitle columnhead\n"
             "set multiplot layout 1,2 title 'spiral neural ODE: truth vs learned'\n"
             "set title 'phase portrait'; set xlabel 'x'; set ylabel 'y'\n"
             "plot ARG2 using 2:3 with lines lw 2 title 'true', "
             "'' using 4:5 with lines lw 2 dt 2 title 'learned'\n"
             "set title 'trajectories'; set xlabel 't'; set ylabel 'x, y'\n"
             "plot ARG2 using 1:2 with lines title 'true x', '' using 1:3 with lines title "
             "'true y', '' using 1:4 with lines dt 2 title 'learned x', '' using 1:5 with "
             "lines dt 2 title 'learned y'\n"
             "unset multiplot\n");
    if (nde_plot_run_args(script, 2, (const char *const[]){png, csv}) != NDE_OK) {
        fprintf(stderr, "spiral: no plot: %s\n", nde_last_error());
        return 0;
    }
    printf("wrote %s\n", png);
    return 0;
}

/* What the trainer's callbacks keep: function evaluations of every iteration and the
 * last one's loss and NFE, for the progress lines. */
typedef struct progress {
    spiral *sp;
    size_t iters, nfe_total, vjp_total, last_nfe;
    double last_loss, t0;
    int print;
} progress;

static int count_step(const nde_train_info *info, void *user)
{
    progress *pr = user;
    const nde_solver_stats *st = nde_solver_get_stats(spiral_solver(pr->sp));
    pr->nfe_total += st->nfe + st->n_adjoint_nfe;
    pr->vjp_total += st->n_vjp;
    pr->last_nfe = st->nfe;
    pr->last_loss = info->loss;
    return 0;
}

/* After every --print-every iterations (and the last): the full-trajectory error. */
static int print_epoch(const nde_train_info *info, void *user)
{
    progress *pr = user;
    if (!pr->print) return 0;
    double mae;
    if (spiral_full_trajectory(pr->sp, &mae, NULL, NULL) != NDE_OK) {
        fprintf(stderr, "spiral: evaluation: %s\n", nde_last_error());
        return 1;
    }
    printf("iter %5zu/%zu  batch loss %.5f  full-trajectory MAE %.5f  NFE %3zu  %.2f s\n",
           info->step, pr->iters, pr->last_loss, mae, pr->last_nfe, nde_wall_seconds() - pr->t0);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    int parsed = parse_args(argc, argv, &a);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (nde_mkdir_p(a.out) != NDE_OK) {
        fprintf(stderr, "spiral: %s\n", nde_last_error());
        return 1;
    }
    snprintf(a.ckpt, sizeof a.ckpt, "%s/checkpoint.safetensors", a.out);
    a.cfg.checkpoint = a.ckpt;
    a.cfg.checkpoint_every_steps = a.checkpoint_every;
    if (a.resume) {
        FILE *ck = fopen(a.ckpt, "rb");
        if (ck) fclose(ck);
        else printf("no checkpoint at %s: starting from iteration 0\n", a.ckpt);
        a.cfg.resume = ck != NULL;
    }
    spiral *sp;
    if (spiral_create(&a.cfg, &sp) != NDE_OK) {
        fprintf(stderr, "spiral: %s\n", nde_last_error());
        return 1;
    }
    printf("spiral: %s rtol %g atol %g, tape %s, %zu parameters, %zu iterations, "
           "regularizer %s (coef %g)\n",
           nde_method_name(a.cfg.method), a.cfg.rtol, a.cfg.atol,
           a.cfg.tape == NDE_TAPE_STAGES ? "stages" : "starts", spiral_n_params(sp), a.iters,
           a.reg_name, a.cfg.reg ? a.reg_coef : 0.0);
    progress pr = {.sp = sp, .iters = a.iters, .print = a.print_every != 0,
                   .t0 = nde_wall_seconds()};
    int rc = 0;
    if (spiral_train(sp, a.iters, a.print_every, count_step, print_epoch, &pr) != NDE_OK) {
        fprintf(stderr, "spiral: %s\n", nde_last_error());
        rc = 1;
    }
    const size_t nfe_total = pr.nfe_total, vjp_total = pr.vjp_total;
    const double t0 = pr.t0;
    double train_s = nde_wall_seconds() - t0;
    double *pred = nde_alloc_array(2 * a.cfg.data_size, sizeof(double));
    double mae = 0.0;
    size_t eval_nfe = 0;
    if (!rc && (!pred || spiral_full_trajectory(sp, &mae, pred, &eval_nfe) != NDE_OK)) {
        fprintf(stderr, "spiral: final evaluation: %s\n", nde_last_error());
        rc = 1;
    }
    if (!rc) {
        printf("final full-trajectory MAE %.5f  (learned model solved with %zu NFE)\n", mae,
               eval_nfe);
        printf("training: %zu function evaluations and %zu vector-Jacobian products in %.2f s "
               "(%.3f ms per iteration)\n",
               nfe_total, vjp_total, train_s, 1e3 * train_s / (double)(a.iters ? a.iters : 1));
        rc = write_outputs(sp, &a, pred) ? 1 : 0;
    }
    nde_free(pred);
    spiral_destroy(&sp);
    return rc;
}
