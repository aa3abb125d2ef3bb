/* Data-parallel training over MPI (include/nde/mpi.h), run by the meson suite `mpi` as
 *   mpirun -np 2 --oversubscribe mpi_train DIR
 * (not a Criterion test: named apart from tests/test_*.c so that scripts/valgrind-tests,
 * which runs every test_* binary alone, leaves it out)
 * Each check prints "ok: ..." on rank 0 or "FAIL: ..." and the program exits 1:
 *   - θ equal bit for bit on every rank after training;
 *   - P ranks equal to the serial trainer (the same global batches) to ≤ 1e-12 relative
 *     (max |Δθ| / max |θ|) after 10 steps: FNO-1D with a sum loss (rel_l2) and a mean
 *     loss (mse), and a neural ODE (MLP field, fixed-step RK4) — see docs/scaling.md for
 *     why it is not bit for bit;
 *   - two runs at P ranks equal bit for bit;
 *   - a checkpoint written at P ranks (by rank 0 alone) resumed by a serial trainer (P = 1)
 *     continues as the uninterrupted run does (≤ 1e-12) and to the same position;
 *   - evaluation figures are global (equal to the serial trainer's to ≤ 1e-12).
 * Tiny sizes: seconds. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nde/mpi.h"
#include "nde/nde.h"

static int rank, size, failures;
static nde_ctx *ctx;

static void check(int ok, const char *what, double value)
{
    int all = ok, v = ok;
    MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!ok) fprintf(stderr, "FAIL (rank %d): %s (%.3g)\n", rank, what, value);
    else if (rank == 0 && all) printf("ok: %s (%.3g)\n", what, value);
    if (!all) failures++;
}

#define TRY(x)                                                                          \
    do {                                                                                \
        nde_status st_ = (x);                                                           \
        if (st_ != NDE_OK) {                                                            \
            fprintf(stderr, "FAIL (rank %d): %s: %s\n", rank, #x, nde_last_error());    \
            MPI_Abort(MPI_COMM_WORLD, 1);                                               \
        }                                                                               \
    } while (0)

/* ---- problems: a model factory and data ---- */

enum { FNO_REL_L2, FNO_MSE, NODE_MSE };
enum { N_TRAIN = 30, N_TEST = 7, GRID = 16, DIM = 2, NT = 4 };

static double xs[N_TRAIN + N_TEST][GRID], ys[N_TRAIN + N_TEST][GRID];
static const double *xs_row(int i) { return xs[i]; }
static const double *ys_row(int i) { return ys[i]; }

static void make_data(int kind)
{
    nde_rng rng;
    nde_rng_seed(&rng, 11);
    for (int i = 0; i < N_TRAIN + N_TEST; i++) {
        if (kind == NODE_MSE) { /* x (DIM), y (NT, DIM): a damped rotation's samples */
            const double a = nde_rng_uniform_in(&rng, -1, 1), b = nde_rng_uniform_in(&rng, -1, 1);
            xs[i][0] = a, xs[i][1] = b;
            for (int k = 0; k < NT; k++) {
                const double t = 0.5 * k / (NT - 1.0), e = exp(-0.1 * t);
                ys[i][2 * k] = e * (a * cos(t) - b * sin(t));
                ys[i][2 * k + 1] = e * (a * sin(t) + b * cos(t));
            }
        } else { /* a smooth input, its target a shifted square */
            for (int j = 0; j < GRID; j++) {
                xs[i][j] = nde_rng_uniform_in(&rng, -1, 1) * sin(6.283185307179586 * j / GRID) +
                           0.3 * nde_rng_uniform_in(&rng, -1, 1);
            }
            for (int j = 0; j < GRID; j++) ys[i][j] = xs[i][(j + 1) % GRID] * xs[i][j] + 0.1;
        }
    }
}

static nde_model *make_model(int kind)
{
    nde_model *m = NULL;
    if (kind == NODE_MSE) {
        nde_model *f;
        TRY(nde_model_mlp_create(&(nde_mlp_spec){.in = DIM, .out = DIM, .hidden = {8},
                                                 .act = NDE_ACT_TANH},
                                 "field", NDE_INIT_TORCH, 0.0, &f));
        double ts[NT];
        for (int k = 0; k < NT; k++) ts[k] = 0.5 * k / (NT - 1.0);
        nde_node_spec ns = {.solver = nde_solver_defaults(NDE_RK4), .ts = ts, .nt = NT,
                            .output = NDE_NODE_TRAJECTORY};
        ns.solver.h0 = 0.05;
        TRY(nde_model_node_create(NULL, f, &ns, &m));
    } else {
        nde_fno_spec sp = nde_fno1d_burgers_spec();
        sp.precision = NDE_PRECISION_FLOAT64; /* the tolerances below are double's */
        sp.width = 6;
        sp.n_modes[0] = 4;
        sp.n_layers = 2;
        sp.proj_hidden[0] = 8;
        const size_t n[2] = {GRID, 0};
        TRY(nde_model_fno_create(ctx, &sp, n, 8, 1, &m));
    }
    nde_rng rng;
    nde_rng_seed(&rng, 5);
    TRY(nde_model_init(m, &rng));
    return m;
}

/* Train `kind` for `epochs` epochs of 5 steps (batch 6 of 30, shuffled) on `comm`
 * (MPI_COMM_NULL: serial), optionally from a checkpoint and writing one; θ into theta
 * (malloc'd) and the test metric into *metric. */
static size_t train(int kind, MPI_Comm comm, size_t epochs, const char *resume,
                    const char *ckpt, double **theta, double *metric, size_t *step)
{
    nde_model *m = make_model(kind);
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 6;
    ts.epochs = epochs;
    ts.seed = 3;
    ts.progress = 0;
    ts.optim.lr = 1e-2;
    ts.loss = kind == FNO_REL_L2 ? nde_loss_rel_l2() : nde_loss_mse();
    ts.checkpoint_path = ckpt;
    const size_t ys_size = kind == NODE_MSE ? NT * DIM : GRID, xs_size = kind == NODE_MSE ? DIM : GRID;
    /* rows of GRID doubles; the ODE's samples use the first xs_size / ys_size of each */
    double *x = malloc((N_TRAIN + N_TEST) * xs_size * sizeof *x);
    double *y = malloc((N_TRAIN + N_TEST) * ys_size * sizeof *y);
    for (int i = 0; i < N_TRAIN + N_TEST; i++) {
        memcpy(x + i * xs_size, xs[i], xs_size * sizeof *x);
        memcpy(y + i * ys_size, ys[i], ys_size * sizeof *y);
    }
    nde_data tr_d = {.n = N_TRAIN, .x_size = xs_size, .y_size = ys_size, .x = x, .y = y};
    nde_data te_d = {.n = N_TEST, .x_size = xs_size, .y_size = ys_size,
                     .x = x + N_TRAIN * xs_size, .y = y + N_TRAIN * ys_size};
    nde_trainer *tr;
    TRY(nde_trainer_create(m, &tr_d, &te_d, &ts, &tr));
    if (comm != MPI_COMM_NULL) TRY(nde_trainer_set_comm(tr, comm));
    if (resume) TRY(nde_trainer_resume(tr, resume));
    TRY(nde_trainer_run(tr));
    *metric = nde_trainer_test_metric(tr);
    *step = nde_trainer_step(tr);
    const size_t np = nde_model_n_params(m);
    *theta = malloc(np * sizeof **theta);
    memcpy(*theta, nde_params_theta(nde_model_params(m)), np * sizeof **theta);
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
    free(x);
    free(y);
    return np;
}

static double rel_diff(const double *a, const double *b, size_t n)
{
    double d = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return d / s;
}

/* θ of every rank equal to rank 0's bit for bit. */
static int same_on_all_ranks(const double *theta, size_t n)
{
    double *r0 = malloc(n * sizeof *r0);
    memcpy(r0, theta, n * sizeof *r0);
    MPI_Bcast(r0, (int)n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    const int same = memcmp(r0, theta, n * sizeof *r0) == 0;
    free(r0);
    return same;
}

static void parity(int kind, const char *name)
{
    make_data(kind);
    double *tp, *tp2, *ts, mp, mp2, ms;
    size_t sp, ss;
    char what[200];
    /* 2 epochs of 5 steps = 10 steps */
    const size_t np = train(kind, MPI_COMM_WORLD, 2, NULL, NULL, &tp, &mp, &sp);
    train(kind, MPI_COMM_WORLD, 2, NULL, NULL, &tp2, &mp2, &sp);
    train(kind, MPI_COMM_NULL, 2, NULL, NULL, &ts, &ms, &ss);
    snprintf(what, sizeof what, "%s: θ equal on all %d ranks after %zu steps", name, size, sp);
    check(same_on_all_ranks(tp, np), what, 0.0);
    snprintf(what, sizeof what, "%s: two runs at P = %d equal bit for bit", name, size);
    check(!memcmp(tp, tp2, np * sizeof *tp) && mp == mp2, what, rel_diff(tp, tp2, np));
    const double d = rel_diff(tp, ts, np);
    snprintf(what, sizeof what, "%s: P = %d vs serial after 10 steps, max|Δθ|/max|θ| <= 1e-12",
             name, size);
    check(sp == 10 && ss == 10 && d <= 1e-12, what, d);
    snprintf(what, sizeof what, "%s: moved from the initial θ (a test that can fail)", name);
    {
        nde_model *m0 = make_model(kind);
        const double moved = rel_diff(nde_params_theta(nde_model_params(m0)), ts, np);
        check(moved > 1e-4, what, moved);
        nde_model_destroy(&m0);
    }
    const double dm = fabs(mp - ms) / fabs(ms);
    snprintf(what, sizeof what, "%s: test metric at P = %d vs serial <= 1e-12", name, size);
    check(isfinite(mp) && dm <= 1e-12, what, dm);
    free(tp), free(tp2), free(ts);
}

static void resume_at_one_rank(const char *dir)
{
    make_data(FNO_REL_L2);
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/mpi_p%d.safetensors", dir, size);
    double *t_half, *t_full, *t_res, *t_ser, m;
    size_t s_half, s_full, s_res, s_ser;
    const size_t np = train(FNO_REL_L2, MPI_COMM_WORLD, 2, NULL, ckpt, &t_half, &m, &s_half);
    train(FNO_REL_L2, MPI_COMM_WORLD, 4, NULL, NULL, &t_full, &m, &s_full);
    /* every rank (each alone, P = 1) resumes from the P-rank checkpoint */
    train(FNO_REL_L2, MPI_COMM_NULL, 4, ckpt, NULL, &t_res, &m, &s_res);
    train(FNO_REL_L2, MPI_COMM_NULL, 4, NULL, NULL, &t_ser, &m, &s_ser);
    char what[200];
    snprintf(what, sizeof what, "checkpoint of P = %d after %zu steps resumed at P = 1 to "
             "step %zu", size, s_half, s_res);
    check(s_half == 10 && s_res == 20 && s_full == 20, what, (double)s_res);
    const double d = rel_diff(t_res, t_full, np), d2 = rel_diff(t_res, t_ser, np);
    snprintf(what, sizeof what, "resumed at P = 1 vs uninterrupted at P = %d <= 1e-12", size);
    check(d <= 1e-12, what, d);
    check(d2 <= 1e-12, "resumed at P = 1 vs uninterrupted serial <= 1e-12", d2);
    free(t_half), free(t_full), free(t_res), free(t_ser);
}

/* A loss that fails on one rank at its `fail_at`-th call (counting from 1): mse otherwise. */
typedef struct flaky {
    int rank, calls, fail_at;
} flaky;

static nde_status flaky_mse(void *ctx, const double *pred, const double *target, double *grad,
                            size_t batch, size_t size, double *value)
{
    flaky *f = ctx;
    if (f->rank == rank && ++f->calls == f->fail_at)
        return NDE_FAIL(NDE_ERR_NONFINITE, "flaky loss: call %d on rank %d", f->calls, rank);
    const nde_loss m = nde_loss_mse();
    return m.fn(m.ctx, pred, target, grad, batch, size, value);
}

static int stop_on_rank1(const nde_train_info *info, void *user)
{
    (void)user;
    return rank == 1 && info->step == 3;
}

static int record_nfe(const nde_train_info *info, void *user)
{
    *(size_t *)user = info->nfe;
    return 0;
}

/* NFE reported by a step is global: fixed-step RK4 makes every solve the same number of
 * evaluations, so P ranks report P times the serial figure. */
static void global_nfe(void)
{
    make_data(NODE_MSE);
    double x[N_TRAIN * DIM], y[N_TRAIN * NT * DIM];
    for (int i = 0; i < N_TRAIN; i++) {
        memcpy(x + i * DIM, xs_row(i), DIM * sizeof *x);
        memcpy(y + i * NT * DIM, ys_row(i), NT * DIM * sizeof *y);
    }
    const nde_data d = {.n = N_TRAIN, .x_size = DIM, .y_size = NT * DIM, .x = x, .y = y};
    size_t nfe[2] = {0, 0};
    for (int par = 0; par < 2; par++) {
        nde_model *m = make_model(NODE_MSE);
        nde_trainer_spec ts = nde_trainer_defaults();
        ts.batch = 6, ts.epochs = 1, ts.progress = 0, ts.loss = nde_loss_mse();
        ts.on_step = record_nfe, ts.user = &nfe[par];
        nde_trainer *tr;
        TRY(nde_trainer_create(m, &d, NULL, &ts, &tr));
        if (par) TRY(nde_trainer_set_comm(tr, MPI_COMM_WORLD));
        TRY(nde_trainer_run(tr));
        nde_trainer_destroy(&tr);
        nde_model_destroy(&m);
    }
    char what[200];
    snprintf(what, sizeof what, "a step's NFE at P = %d is the ranks' sum: %zu = %d x %zu", size,
             nfe[1], size, nfe[0]);
    check(nfe[0] > 0 && nfe[1] == (size_t)size * nfe[0], what, (double)nfe[1]);
}

/* Failures and stops on one rank are everyone's: no rank hangs, θ stays equal. */
static void collective_failures(void)
{
    make_data(FNO_MSE);
    const size_t xs = GRID, ys = GRID;
    double *x = malloc((N_TRAIN + N_TEST) * xs * sizeof *x), *y = malloc((N_TRAIN + N_TEST) * ys * sizeof *y);
    for (int i = 0; i < N_TRAIN + N_TEST; i++) {
        memcpy(x + i * xs, xs_row(i), xs * sizeof *x);
        memcpy(y + i * ys, ys_row(i), ys * sizeof *y);
    }
    const nde_data d = {.n = N_TRAIN, .x_size = xs, .y_size = ys, .x = x, .y = y};
    for (int skip = 0; skip < 2; skip++) {
        nde_model *m = make_model(FNO_MSE);
        flaky f = {.rank = 1, .fail_at = 4};
        nde_trainer_spec ts = nde_trainer_defaults();
        ts.batch = 6, ts.epochs = 2, ts.progress = 0, ts.optim.lr = 1e-2;
        ts.loss = (nde_loss){.fn = flaky_mse, .ctx = &f, .reduction = NDE_LOSS_MEAN, .name = "flaky"};
        ts.skip_failed_steps = skip;
        nde_trainer *tr;
        TRY(nde_trainer_create(m, &d, NULL, &ts, &tr));
        TRY(nde_trainer_set_comm(tr, MPI_COMM_WORLD));
        const nde_status st = nde_trainer_run(tr);
        const size_t np = nde_model_n_params(m);
        char what[200];
        snprintf(what, sizeof what, "a loss failing on rank 1 only, skip_failed_steps %d: %s on "
                 "every rank after step %zu, θ equal", skip, skip ? "skipped" : "stopped",
                 nde_trainer_step(tr));
        const int ok = skip ? st == NDE_OK && nde_trainer_step(tr) == 10
                            : st == NDE_ERR_NONFINITE && nde_trainer_step(tr) == 3;
        check(ok && same_on_all_ranks(nde_params_theta(nde_model_params(m)), np), what,
              (double)st);
        nde_trainer_destroy(&tr);
        nde_model_destroy(&m);
    }
    {
        nde_model *m = make_model(FNO_MSE);
        nde_trainer_spec ts = nde_trainer_defaults();
        ts.batch = 6, ts.epochs = 2, ts.progress = 0, ts.loss = nde_loss_mse();
        ts.on_step = stop_on_rank1;
        nde_trainer *tr;
        TRY(nde_trainer_create(m, &d, NULL, &ts, &tr));
        TRY(nde_trainer_set_comm(tr, MPI_COMM_WORLD));
        const nde_status st = nde_trainer_run(tr);
        check(st == NDE_ERR_STOPPED && nde_trainer_step(tr) == 3,
              "a step callback stopping on rank 1 only stops every rank at step 3", (double)st);
        /* back to serial: MPI_COMM_NULL */
        TRY(nde_trainer_set_comm(tr, MPI_COMM_NULL));
        nde_trainer_destroy(&tr);
        nde_model_destroy(&m);
    }
    free(x), free(y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : "mpi_test_out";
    if (rank == 0) mkdir(dir, 0777);
    MPI_Barrier(MPI_COMM_WORLD);
    check(size >= 2, "running on at least 2 ranks", size);
    TRY(nde_ctx_create(&ctx));
    parity(FNO_REL_L2, "FNO-1D rel_l2 (sum loss)");
    parity(FNO_MSE, "FNO-1D mse (mean loss)");
    parity(NODE_MSE, "neural ODE, RK4 (mean loss)");
    resume_at_one_rank(dir);
    collective_failures();
    global_nfe();
    nde_ctx_destroy(&ctx);
    MPI_Finalize();
    if (rank == 0) printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
