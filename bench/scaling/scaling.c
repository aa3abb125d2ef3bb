/* bench/scaling: data-parallel training throughput at the P ranks it is started with.
 *
 *   mpirun -np P bench_scaling --model fno|node [--batch B] [--steps K] [--width W] ...
 *
 * Trains the model for K steps of a global batch B split over the P ranks (one thread
 * per rank: run with OPENBLAS_NUM_THREADS=1), after a warm-up of 3 steps, and prints on
 * rank 0 one JSON line per figure: samples per second, seconds per step, and the
 * communication share (seconds in the step's MPI_Allreduce over the step time, the
 * slowest rank's; it includes waiting for a slower rank), and the median time of a bare
 * MPI_Allreduce of the step's message (θ's size + 5 doubles) after a barrier — the
 * transfer alone. Efficiency is the ratio of two runs: bench/scaling/run.sh.
 *   fno   FNO-1D Burgers as examples/configs/burgers_fno.ini (width 32, 12 modes,
 *         4 layers, projection 64; s = 128), rel_l2, Adam
 *   node  a neural ODE as examples/configs/spiral_node.ini (MLP 2-32-32-2 tanh, DOPRI5
 *         rtol 1e-5, 10 save times on [0, 1], discrete adjoint), mse, Adam
 * The data are random (throughput does not depend on them). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/mpi.h"
#include "nde/nde.h"
#include "nde_args.h"

static int rank, size;

static void die(const char *what)
{
    fprintf(stderr, "bench_scaling (rank %d): %s: %s\n", rank, what, nde_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static nde_model *fno_model(nde_ctx *ctx, size_t s, size_t width, size_t batch)
{
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.width = width;
    sp.n_modes[0] = 12;
    sp.n_layers = 4;
    sp.proj_hidden[0] = 64;
    const size_t n[2] = {s, 0};
    nde_model *m;
    if (nde_model_fno_create(ctx, &sp, n, batch, 1, &m) != NDE_OK) die("FNO");
    return m;
}

static nde_model *node_model(size_t nt)
{
    nde_model *f, *m;
    if (nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 2, .hidden = {32, 32},
                                             .act = NDE_ACT_TANH},
                             "field", NDE_INIT_TORCH, 0.0, &f) != NDE_OK)
        die("MLP");
    double ts[64];
    for (size_t k = 0; k < nt; k++) ts[k] = (double)k / (double)(nt - 1);
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_DOPRI5), .ts = ts, .nt = nt,
                        .output = NDE_NODE_TRAJECTORY};
    ns.solver.rtol = 1e-5;
    ns.solver.atol = 1e-7;
    if (nde_model_node_create(NULL, f, &ns, &m) != NDE_OK) die("neural ODE");
    return m;
}

/* Seconds for `steps` steps (global batch `batch`) and the seconds in the allreduce. */
static void run(nde_model *m, const nde_data *d, size_t batch, size_t steps, int mse,
                double *sec, double *comm)
{
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = batch;
    ts.epochs = 1;
    ts.sampling = NDE_SAMPLE_RANDOM;
    ts.steps_per_epoch = steps;
    ts.seed = 1;
    ts.progress = 0;
    ts.optim.lr = 1e-3;
    ts.loss = mse ? nde_loss_mse() : nde_loss_rel_l2();
    nde_trainer *tr;
    if (nde_trainer_create(m, d, NULL, &ts, &tr) != NDE_OK) die("trainer");
    if (size > 1 && nde_trainer_set_comm(tr, MPI_COMM_WORLD) != NDE_OK) die("communicator");
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    if (nde_trainer_run(tr) != NDE_OK) die("training");
    double local[2] = {MPI_Wtime() - t0, nde_trainer_comm_seconds(tr)}, slow[2];
    MPI_Allreduce(local, slow, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    *sec = slow[0];
    *comm = slow[1];
    nde_trainer_destroy(&tr);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    static const char *const models[] = {"fno", "node", NULL};
    int model = 0;
    size_t batch = 0, steps = 0, s = 128, width = 32, nt = 10, n = 256;
    const nde_arg opts[] = {
        {.name = "model", .kind = NDE_ARG_CHOICE, .dest = &model, .choices = models,
         .help = "FNO-1D Burgers or a neural ODE"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &batch, .min = 1,
         .default_text = "fno 20, node 16", .help = "global batch (split over the ranks)"},
        {.name = "steps", .kind = NDE_ARG_SIZE, .dest = &steps, .min = 1,
         .default_text = "fno 40, node 40", .help = "timed steps"},
        {.name = "s", .kind = NDE_ARG_SIZE, .dest = &s, .min = 16, .help = "fno: grid points"},
        {.name = "width", .kind = NDE_ARG_SIZE, .dest = &width, .min = 1, .help = "fno: width"},
        {.name = "samples", .kind = NDE_ARG_SIZE, .dest = &n, .min = 1, .help = "data set size"},
    };
    const nde_args_spec spec = {.prog = "bench_scaling",
                                .about = "Data-parallel training throughput at the ranks of "
                                         "mpirun (JSON lines on rank 0).",
                                NDE_ARGS_TABLE(opts)};
    const int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) {
        MPI_Finalize();
        return nde_args_exit_status(parsed);
    }
    if (!batch) batch = model == 0 ? 20 : 16;
    if (!steps) steps = 40;
    if (n < batch) n = batch;
    nde_ctx *ctx = NULL;
    if (nde_ctx_create(&ctx) != NDE_OK) die("context");
    nde_model *m = model == 0 ? fno_model(ctx, s, width, batch) : node_model(nt);
    nde_rng rng;
    nde_rng_seed(&rng, 7);
    if (nde_model_init(m, &rng) != NDE_OK) die("init");
    const size_t xs = nde_model_in_size(m), ys = nde_model_out_size(m);
    double *x = malloc(n * xs * sizeof *x), *y = malloc(n * ys * sizeof *y);
    if (!x || !y) die("data");
    for (size_t i = 0; i < n * xs; i++) x[i] = nde_rng_uniform_in(&rng, -1, 1);
    for (size_t i = 0; i < n * ys; i++) y[i] = nde_rng_uniform_in(&rng, -1, 1);
    const nde_data d = {.n = n, .x_size = xs, .y_size = ys, .x = x, .y = y};
    double sec, comm;
    run(m, &d, batch, 3, model == 1, &sec, &comm); /* warm-up: plans, caches, pages */
    run(m, &d, batch, steps, model == 1, &sec, &comm);
    /* the bare allreduce of the step's message, median of 21 */
    const size_t msg = nde_model_n_params(m) + 5;
    double *buf = calloc(msg, sizeof *buf), times[21];
    if (!buf) die("message");
    for (int k = 0; k < 21; k++) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)msg, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0, slow;
        MPI_Allreduce(&dt, &slow, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        times[k] = slow;
    }
    for (int i = 1; i < 21; i++) /* insertion sort */
        for (int j = i; j > 0 && times[j - 1] > times[j]; j--) {
            const double t = times[j];
            times[j] = times[j - 1], times[j - 1] = t;
        }
    free(buf);
    if (rank == 0) {
        const char *name = model == 0 ? "scaling_fno1d_burgers" : "scaling_node_spiral";
        printf("{\"bench\": \"%s\", \"ranks\": %d, \"batch\": %zu, \"params\": %zu, "
               "\"metric\": \"samples_per_s\", \"value\": %.4g, \"unit\": \"samples/s\"}\n",
               name, size, batch, nde_model_n_params(m), (double)(steps * batch) / sec);
        printf("{\"bench\": \"%s\", \"ranks\": %d, \"batch\": %zu, \"metric\": \"ms_per_step\", "
               "\"value\": %.4g, \"unit\": \"ms\"}\n", name, size, batch, 1e3 * sec / (double)steps);
        printf("{\"bench\": \"%s\", \"ranks\": %d, \"batch\": %zu, \"metric\": \"comm_share\", "
               "\"value\": %.4g, \"unit\": \"fraction\"}\n", name, size, batch, comm / sec);
        printf("{\"bench\": \"%s\", \"ranks\": %d, \"bytes\": %zu, \"metric\": "
               "\"allreduce_ms_median\", \"value\": %.4g, \"unit\": \"ms\"}\n", name, size,
               8 * msg, 1e3 * times[10]);
    }
    free(x);
    free(y);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
    MPI_Finalize();
    return 0;
}
