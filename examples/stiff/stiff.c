/* examples/stiff — fit a stiff physics-plus-network model to Robertson data.
 *
 *   stiff [--iters 80] [--lr 0.05] [--hidden 8] [--scale 1e-3] [--rtol 1e-6]
 *         [--atol 1e-10] [--tmax 40] [--seed 1] [--print-every 10] [--out out/stiff]
 *         [--checkpoint-every 1] [--resume]
 *
 * Data: Robertson's kinetics (k = 0.04, 1e4, 3e7; y(0) = (1, 0, 0)) at 16 log-spaced
 * times in [0, tmax], solved by CVODES BDF at rtol 1e-10. Model: the same kinetics with
 * learnable log rate constants (started 50 % off) plus a small MLP correction
 * (robertson_model.h). Each iteration solves with CVODES BDF (dense Newton, analytic
 * Jacobian from the field's jvp), takes the gradient with the CVODES adjoint and makes
 * one Adam step: the library's neural-ODE model (CVODES adjoint) around the Robertson
 * model, trained by nde_trainer on the one trajectory. At the start and the end the model is also solved with nde's explicit
 * Tsit5 at the same tolerances: the stiffness (|λ| up to ~1e4) limits Tsit5's step, so it
 * needs orders of magnitude more right-hand-side evaluations than BDF for the same
 * accuracy. Writes loss.csv, fit.csv and summary.json under --out.
 *
 * <out>/checkpoint.safetensors (θ, Adam's state, the iteration) is written every
 * --checkpoint-every iterations (an iteration is one trainer epoch) and after the last;
 * --resume continues from it (from iteration 0 when there is none) and ends with the
 * same bits as an uninterrupted run; loss.csv then lists the resumed iterations only. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/io.h"
#include "nde/nde.h"
#include "nde_args.h"
#include "robertson_model.h"

enum { NT = 16 };

typedef struct args {
    size_t iters, hidden, print_every, checkpoint_every;
    double lr, scale, rtol, atol, tmax;
    uint64_t seed;
    const char *out;
    int resume;
} args;

/* NDE_ARGS_OK, or what nde_args_parse returned (help printed, or an error). */
static int parse_args(int argc, char **argv, args *a)
{
    *a = (args){.iters = 80, .hidden = 8, .print_every = 10, .lr = 0.05, .scale = 1e-3,
                .rtol = 1e-6, .atol = 1e-10, .tmax = 40.0, .seed = 1, .out = "out/stiff",
                .checkpoint_every = 1};
    const nde_arg opts[] = {
        {.name = "iters", .kind = NDE_ARG_SIZE, .dest = &a->iters, .help = "training iterations"},
        {.name = "lr", .kind = NDE_ARG_DOUBLE, .dest = &a->lr, .bounds = NDE_ARG_LO,
         .help = "Adam learning rate"},
        {.name = "hidden", .kind = NDE_ARG_SIZE, .dest = &a->hidden,
         .help = "units of the MLP correction (0: none)"},
        {.name = "scale", .kind = NDE_ARG_DOUBLE, .dest = &a->scale,
         .help = "scale of the MLP correction"},
        NDE_ARGS_TOLERANCES(&a->rtol, &a->atol),
        {.name = "tmax", .kind = NDE_ARG_DOUBLE, .dest = &a->tmax, .bounds = NDE_ARG_LO_OPEN,
         .help = "end of the time span"},
        NDE_ARGS_SEED(&a->seed),
        NDE_ARGS_PRINT_EVERY(&a->print_every, "iterations"),
        NDE_ARGS_OUT(&a->out),
        {.name = "checkpoint-every", .kind = NDE_ARG_SIZE, .dest = &a->checkpoint_every, .min = 1,
         .help = "write <out>/checkpoint.safetensors every this many iterations"},
        {.name = "resume", .kind = NDE_ARG_FLAG, .dest = &a->resume,
         .help = "continue from <out>/checkpoint.safetensors (from iteration 0 if absent)"},
    };
    const nde_args_spec spec = {
        .prog = "stiff",
        .about = "Fits Robertson's kinetics plus an MLP correction with CVODES BDF and its adjoint.",
        NDE_ARGS_TABLE(opts)};
    return nde_args_parse(&spec, argc, argv, NULL);
}

/* Loss weights: y2 is ~1e-5 of the others. */
static const double wts[3] = {1.0, 1e4, 1.0};

/* L = mean over save times and components of (w_i (y − d))²; dL written if non-NULL. */
static double loss_fn(const double *y, const double *d, double *dL)
{
    double l = 0.0, norm = 1.0 / (3.0 * NT);
    for (int k = 0; k < NT; k++)
        for (int i = 0; i < 3; i++) {
            double r = wts[i] * (y[3 * k + i] - d[3 * k + i]);
            l += norm * r * r;
            if (dL) dL[3 * k + i] = 2.0 * norm * wts[i] * r;
        }
    return l;
}

/* The same as the trainer's loss: one trajectory (batch 1) of NT × 3 values. */
static nde_status traj_loss(void *ctx, const double *pred, const double *target, double *grad,
                            size_t batch, size_t size, double *value)
{
    (void)ctx;
    if (batch != 1 || size != 3 * NT)
        return NDE_FAIL(NDE_ERR_SHAPE, "stiff loss: %zu trajectories of %zu values (need 1 of %d)",
                        batch, size, 3 * NT);
    *value = loss_fn(pred, target, grad);
    return NDE_OK;
}

typedef struct cost {
    size_t nfe, n_jvp, steps;
    double seconds;
} cost;

/* Solve the model with `method` at the tolerances into traj (NT, 3); report the cost. */
static nde_status solve_cost(nde_ctx *ctx, const nde_field *f, nde_method method, const args *a,
                             const double *ts, double *traj, cost *c)
{
    nde_solver_opts o = nde_solver_defaults(method);
    o.rtol = a->rtol;
    o.atol = a->atol;
    o.max_steps = 10000000;
    nde_solver *s;
    NDE_TRY(nde_solver_create(ctx, f, &o, &s));
    double y0[3] = {1.0, 0.0, 0.0}, t0 = nde_wall_seconds();
    nde_status st = nde_solve(s, 1, 3, y0, NT, ts, traj);
    c->seconds = nde_wall_seconds() - t0;
    const nde_solver_stats *ss = nde_solver_get_stats(s);
    c->nfe = ss->nfe;
    c->n_jvp = ss->n_jvp;
    c->steps = ss->n_accepted;
    nde_solver_destroy(&s);
    return st;
}

static void report(const char *when, const char *solver, const cost *c)
{
    printf("{\"example\": \"stiff\", \"model\": \"%s\", \"solver\": \"%s\", \"nfe\": %zu, "
           "\"jvp\": %zu, \"steps\": %zu, \"seconds\": %.4f}\n",
           when, solver, c->nfe, c->n_jvp, c->steps, c->seconds);
}

/* Both solvers reach the same solution: max |a − b| / (rtol |b| + atol). */
static double disagreement(const double *x, const double *y, const args *a)
{
    double e = 0.0;
    for (int i = 0; i < 3 * NT; i++)
        e = fmax(e, fabs(x[i] - y[i]) / (a->rtol * fabs(y[i]) + a->atol));
    return e;
}

/* What the step callback prints and logs. */
typedef struct progress {
    const args *a;
    FILE *log;         /* loss.csv */
    const double *log_k; /* (3) inside θ */
    double t_start;
} progress;

static int on_step(const nde_train_info *info, void *user)
{
    const progress *pr = user;
    const nde_solver_stats *ss = nde_solver_get_stats(nde_model_node_solver(info->model));
    const double *lk = pr->log_k;
    const size_t it = info->step, iters = pr->a->iters, every = pr->a->print_every;
    fprintf(pr->log, "%zu,%.10g,%zu,%zu,%.6g,%.6g,%.6g\n", it, info->loss, ss->nfe, ss->n_vjp,
            exp(lk[0]), exp(lk[1]), exp(lk[2]));
    if (every && (it % every == 0 || it == 1 || it == iters))
        printf("iter %4zu/%zu  loss %.4e  k = (%.4g, %.4g, %.4g)  NFE %zu  %.2f s\n", it, iters,
               info->loss, exp(lk[0]), exp(lk[1]), exp(lk[2]), ss->nfe,
               nde_wall_seconds() - pr->t_start);
    fflush(stdout);
    return 0;
}

/* The neural ODE from y(0) = (1, 0, 0) to the NT save times around the Robertson model
 * (ownership of `field_model` taken): CVODES BDF forward, CVODES adjoint with the
 * forward's method and tolerances for the backward problem. */
static nde_status make_node(nde_ctx *ctx, nde_model *field_model, const args *a,
                            const double *ts, nde_model **out)
{
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_CVODE_BDF), .ts = ts, .nt = NT,
                        .output = NDE_NODE_TRAJECTORY};
    ns.solver.rtol = a->rtol;
    ns.solver.atol = a->atol;
    nde_adjoint_opts ao = nde_adjoint_defaults(NULL, NDE_ADJ_CVODES);
    ao.cvodes_steps = 50;
    ao.cont.method = NDE_CVODE_BDF;
    ao.cont.rtol = a->rtol;
    ao.cont.atol = a->atol;
    ao.cont.max_steps = ns.solver.max_steps;
    ns.adjoint = &ao;
    return nde_model_node_create(ctx, field_model, &ns, out);
}

int main(int argc, char **argv)
{
    args a;
    int parsed = parse_args(argc, argv, &a);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (nde_mkdir_p(a.out) != NDE_OK) {
        fprintf(stderr, "stiff: %s\n", nde_last_error());
        return 1;
    }
    nde_ctx *ctx = NULL;
    nde_model *truth = NULL, *field_model = NULL, *node = NULL;
    nde_solver *s = NULL;
    nde_trainer *tr = NULL;
    FILE *lf = NULL, *ff = NULL, *sf = NULL;
    int rc = 1;
    double ts[NT], data[3 * NT], traj[3 * NT], other[3 * NT], y0[3] = {1.0, 0.0, 0.0};
    ts[0] = 0.0;
    for (int k = 1; k < NT; k++) ts[k] = a.tmax * pow(10.0, -4.0 + 4.0 * (k - 1) / (NT - 2));
    const double k_true[3] = {0.04, 1e4, 3e7}, k_off[3] = {1.5, 0.5, 1.5};

    nde_rng rng;
    nde_rng_seed(&rng, a.seed);
    if (nde_ctx_create(&ctx) || rob_model_create(0, 0.0, &truth) ||
        rob_model_create(a.hidden, a.scale, &field_model) || nde_model_init(field_model, &rng))
        goto fail;
    double *th = rob_model_log_k(truth), *tm = rob_model_log_k(field_model);
    for (int i = 0; i < 3; i++) th[i] = log(k_true[i]), tm[i] = log(k_true[i] * k_off[i]);
    nde_field ftrue, f;
    if (nde_model_field(truth, &ftrue) || nde_model_field(field_model, &f)) goto fail;
    {
        nde_solver_opts o = nde_solver_defaults(NDE_CVODE_BDF);
        o.rtol = 1e-10;
        o.atol = 1e-16;
        if (nde_solver_create(ctx, &ftrue, &o, &s) || nde_solve(s, 1, 3, y0, NT, ts, data))
            goto fail;
        nde_solver_destroy(&s);
    }
    printf("stiff: Robertson on [0, %g], %zu-unit MLP correction (scale %g), %zu parameters, "
           "CVODES BDF + CVODES adjoint, rtol %g atol %g\n",
           a.tmax, a.hidden, a.scale, f.n_params, a.rtol, a.atol);
    cost c_bdf, c_tsit5;
    if (solve_cost(ctx, &f, NDE_CVODE_BDF, &a, ts, traj, &c_bdf) ||
        solve_cost(ctx, &f, NDE_TSIT5, &a, ts, other, &c_tsit5))
        goto fail;
    report("initial", "cvode_bdf", &c_bdf);
    report("initial", "tsit5", &c_tsit5);

    nde_model *fm = field_model;
    field_model = NULL; /* the neural ODE owns it from here */
    if (make_node(ctx, fm, &a, ts, &node)) goto fail;
    char path[1200];
    snprintf(path, sizeof path, "%s/loss.csv", a.out);
    if (!(lf = fopen(path, "w"))) goto io_fail;
    fprintf(lf, "iter,loss,nfe,vjp,k1,k2,k3\n");
    if (a.iters) {
        nde_data one = {.n = 1, .x_size = 3, .y_size = 3 * NT, .x = y0, .y = data};
        progress pr = {.a = &a, .log = lf, .log_k = tm, .t_start = nde_wall_seconds()};
        nde_trainer_spec sp = nde_trainer_defaults();
        sp.batch = 1;
        sp.epochs = a.iters;
        sp.sampling = NDE_SAMPLE_ORDERED;
        sp.optim.lr = a.lr;
        sp.loss = (nde_loss){.fn = traj_loss, .reduction = NDE_LOSS_MEAN, .name = "weighted_mse"};
        sp.eval_every = 0;
        sp.progress = 0;
        sp.name = "stiff";
        sp.on_step = on_step;
        sp.user = &pr;
        char ckpt[1200];
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", a.out);
        sp.checkpoint_path = ckpt;
        sp.checkpoint_every = a.checkpoint_every;
        if (nde_trainer_create(node, &one, NULL, &sp, &tr)) goto fail;
        if (a.resume) {
            FILE *ck = fopen(ckpt, "rb");
            if (!ck) {
                printf("no checkpoint at %s: starting from iteration 0\n", ckpt);
            } else {
                fclose(ck);
                if (nde_trainer_resume(tr, ckpt)) goto fail;
                printf("resumed from %s at iteration %zu\n", ckpt, nde_trainer_step(tr));
            }
        }
        if (nde_trainer_run(tr)) goto fail;
    }
    if (solve_cost(ctx, &f, NDE_CVODE_BDF, &a, ts, traj, &c_bdf) ||
        solve_cost(ctx, &f, NDE_TSIT5, &a, ts, other, &c_tsit5))
        goto fail;
    report("trained", "cvode_bdf", &c_bdf);
    report("trained", "tsit5", &c_tsit5);
    double final_loss = loss_fn(traj, data, NULL), gap = disagreement(traj, other, &a);
    printf("trained: loss %.4e; Tsit5 needs %.0fx the right-hand-side evaluations of BDF "
           "(BDF: %zu f + %zu jvp); the two solutions differ by %.1f x (rtol|y| + atol)\n",
           final_loss, (double)c_tsit5.nfe / (double)(c_bdf.nfe + c_bdf.n_jvp), c_bdf.nfe,
           c_bdf.n_jvp, gap);
    snprintf(path, sizeof path, "%s/fit.csv", a.out);
    if (!(ff = fopen(path, "w"))) goto io_fail;
    fprintf(ff, "t,y1,y2,y3,model_y1,model_y2,model_y3\n");
    for (int k = 0; k < NT; k++)
        fprintf(ff, "%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g\n", ts[k], data[3 * k],
                data[3 * k + 1], data[3 * k + 2], traj[3 * k], traj[3 * k + 1], traj[3 * k + 2]);
    snprintf(path, sizeof path, "%s/summary.json", a.out);
    if (!(sf = fopen(path, "w"))) goto io_fail;
    fprintf(sf,
            "{\"iters\": %zu, \"final_loss\": %.6e, \"k\": [%.6g, %.6g, %.6g],\n"
            " \"cvode_bdf\": {\"nfe\": %zu, \"jvp\": %zu, \"steps\": %zu, \"seconds\": %.4f},\n"
            " \"tsit5\": {\"nfe\": %zu, \"steps\": %zu, \"seconds\": %.4f},\n"
            " \"solution_gap_in_tolerances\": %.3f}\n",
            a.iters, final_loss, exp(tm[0]), exp(tm[1]), exp(tm[2]), c_bdf.nfe, c_bdf.n_jvp,
            c_bdf.steps, c_bdf.seconds, c_tsit5.nfe, c_tsit5.steps, c_tsit5.seconds, gap);
    printf("wrote %s/loss.csv, fit.csv, summary.json\n", a.out);
    rc = 0;
    goto done;
io_fail:
    fprintf(stderr, "stiff: cannot write %s: %s\n", path, strerror(errno));
    goto done;
fail:
    fprintf(stderr, "stiff: %s\n", nde_last_error());
done:
    if (lf) fclose(lf);
    if (ff) fclose(ff);
    if (sf) fclose(sf);
    nde_trainer_destroy(&tr);
    nde_solver_destroy(&s);
    nde_model_destroy(&node);
    nde_model_destroy(&field_model);
    nde_model_destroy(&truth);
    nde_ctx_destroy(&ctx);
    return rc;
}
