/* nde — the command-line tool.
 *
 *   nde data PROBLEM --out FILE      generate a dataset (burgers, darcy, spiral)
 *   nde train CONFIG                 train from an INI configuration (docs/cli.md)
 *   nde eval CHECKPOINT DATA         test metrics of a trained checkpoint (JSON lines)
 *   nde predict CHECKPOINT INPUT     predictions of a trained checkpoint
 *   nde info                         version, build features, methods, optimizers
 *   nde inspect FILE [DATASET]       tensors of a .safetensors checkpoint, or shape and
 *                                    statistics of a dataset (.npy, .mat, HDF5)
 *   nde steps [options]              solve a reference problem and print the step log
 *                                    as CSV (t, h, err_est, stiff_est) and the counters
 *   nde bench NAME [ARGS...]         run a benchmark program of bench/ (--list)
 *
 * `nde steps` options: --problem vdp|spiral|decay (vdp), --mu X (Van der Pol, 10),
 * --method NAME (tsit5), --rtol X (1e-6), --atol X (1e-9), --t1 X (problem's default).
 * Exit status: 0 success, 1 failure (message on stderr), 2 usage error. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nde/checkpoint.h"
#include "nde/io.h"
#include "nde/nde.h"
#include "nde/nn.h"
#include "nde/optim.h"
#include "nde/safetensors.h"
#include "cli.h"
#include "nde_args.h"
#include "nde_config.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: nde data burgers|darcy|spiral --out FILE [--n N] [--s S] [--seed K]\n"
               "       nde train CONFIG [--set section.key=value ...] [--out DIR] [--resume]\n"
               "       nde eval CHECKPOINT DATA [--split test|all]\n"
               "       nde predict CHECKPOINT INPUT --out FILE\n"
               "       nde info\n"
               "       nde inspect FILE [DATASET]\n"
               "       nde steps [--problem vdp|spiral|decay] [--mu X] [--method NAME]\n"
               "                 [--rtol X] [--atol X] [--t1 X]\n"
               "       nde bench NAME [ARGS...] | --list\n"
               "`nde COMMAND --help` describes each command; man nde-COMMAND its page.\n\n"
               "options:\n"
               "  -h, --help              print this help and exit\n");
}

static int fail(const char *what)
{
    fprintf(stderr, "nde %s: %s\n", what, nde_last_error());
    return 1;
}

static int cmd_info(int argc, char **argv)
{
    const nde_args_spec spec = {.prog = "nde info",
                                .about = "Prints the version, build features, ODE methods, "
                                         "optimizers and activations."};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    printf("nde %s (headers %s)\n", nde_version(), NDE_VERSION_STRING);
    printf("features:");
    for (int i = 0; nde_feature_name(i); i++)
        printf(" %s=%s", nde_feature_name(i), nde_has_feature(nde_feature_name(i)) ? "yes" : "no");
    printf("\n");
    printf("methods:");
    for (int m = 0; m < NDE_METHOD_COUNT; m++) printf(" %s", nde_method_name((nde_method)m));
    printf("\noptimizers:");
    for (int k = 0; k < NDE_OPT_KIND_COUNT; k++)
        printf(" %s", nde_optim_kind_name((nde_optim_kind)k));
    printf("\nactivations:");
    for (int a = 0; a < NDE_ACT_COUNT; a++) printf(" %s", nde_act_name((nde_act)a));
    printf("\n");
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void print_shape(int ndim, const size_t *shape)
{
    printf("(");
    for (int d = 0; d < ndim; d++) printf(d ? ", %zu" : "%zu", shape[d]);
    printf(ndim == 1 ? ",)" : ")");
}

static int inspect_safetensors(const char *path)
{
    nde_st_file *f;
    if (nde_st_open(path, &f) != NDE_OK) return fail("inspect");
    size_t n = nde_st_n_tensors(f), total = 0;
    printf("%s: %zu tensors\n", path, n);
    for (size_t i = 0; i < n; i++) {
        const nde_st_tensor *t = nde_st_tensor_at(f, i);
        printf("  %-48s %-4s ", t->name, nde_st_dtype_name(t->dtype));
        print_shape(t->ndim, t->shape);
        printf("\n");
        total += t->numel;
    }
    printf("%zu elements\n", total);
    const char *keys[] = {"format", "nde.step", "nde.optimizer", "nde.lr"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = nde_st_meta(f, keys[k]);
        if (v) printf("metadata %s = %s\n", keys[k], v);
    }
    const char *config = nde_st_meta(f, "nde.config");
    if (config) /* written by nde train: the configuration that rebuilds the model */
        printf("metadata nde.config = (the nde train configuration):\n%s", config);
    nde_st_close(&f);
    return 0;
}

/* The variables of a MATLAB v5/v7 file (no DATASET given): name, class, MATLAB shape. */
static int inspect_mat_list(const char *path)
{
    nde_mat_var *vars;
    size_t n;
    nde_status st = nde_mat_list(path, &vars, &n);
    if (st == NDE_ERR_UNSUPPORTED && strstr(nde_last_error(), "not a MATLAB v5")) {
        fprintf(stderr, "nde inspect: name the dataset inside %s (e.g. a, u, coeff, sol)\n", path);
        return 2;
    }
    if (st != NDE_OK) return fail("inspect");
    for (size_t i = 0; i < n; i++) {
        printf("%s:%s: %s%s ", path, vars[i].name, vars[i].is_complex ? "complex " : "",
               vars[i].mclass);
        print_shape(vars[i].ndim < NDE_ARRAY_MAX_DIMS ? vars[i].ndim : NDE_ARRAY_MAX_DIMS,
                    vars[i].shape);
        printf("\n");
    }
    if (n == 0) printf("%s: no variables\n", path);
    nde_free(vars);
    return 0;
}

static int inspect_dataset(const char *path, const char *name)
{
    if (!name && !ends_with(path, ".npy")) return inspect_mat_list(path);
    nde_array a = {0};
    if (nde_dataset_read(path, name, 0, &a) != NDE_OK) return fail("inspect");
    double lo = INFINITY, hi = -INFINITY, sum = 0.0;
    size_t nonfinite = 0;
    for (size_t i = 0; i < a.numel; i++) {
        double v = a.data[i];
        if (!isfinite(v)) {
            nonfinite++;
            continue;
        }
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        sum += v;
    }
    printf("%s%s%s: float64 ", path, name ? ":" : "", name ? name : "");
    print_shape(a.ndim, a.shape);
    size_t finite = a.numel - nonfinite;
    printf("  min %.6g  max %.6g  mean %.6g  non-finite %zu\n", finite ? lo : NAN,
           finite ? hi : NAN, finite ? sum / (double)finite : NAN, nonfinite);
    nde_array_free(&a);
    return 0;
}

/* libhdf5 (1.10) can crash on some corrupted files before nde sees a dataset
 * (docs/reliability.md): HDF5 and .mat datasets are read in a child process, so that a
 * crash becomes a message and exit code 1. */
static int inspect_dataset_contained(const char *path, const char *name)
{
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) return inspect_dataset(path, name);
    if (pid == 0) {
        const int rc = inspect_dataset(path, name);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "nde inspect: %s: waiting for the reader failed: %s\n", path,
                    strerror(errno));
            return 1;
        }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    fprintf(stderr, "nde inspect: %s: reading it crashed inside libhdf5 (signal %d): the file "
            "is corrupted in a way libhdf5 does not detect (see docs/reliability.md)\n", path,
            WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    return 1;
}

static int cmd_inspect(int argc, char **argv)
{
    const nde_args_spec spec = {
        .prog = "nde inspect", .synopsis = "FILE [DATASET]",
        .about = "Lists the tensors of a .safetensors checkpoint, or prints the shape and\n"
                 "statistics of DATASET in FILE (.npy needs no DATASET; .mat, HDF5).\n"
                 "Without DATASET, a MATLAB v5/v7 .mat file lists its variables.",
        .min_positional = 1, .max_positional = 2};
    int first;
    int rc = nde_args_parse(&spec, argc, argv, &first);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    const char *file = argv[first], *dataset = first + 1 < argc ? argv[first + 1] : NULL;
    if (ends_with(file, ".safetensors")) return inspect_safetensors(file);
    if (ends_with(file, ".npy")) return inspect_dataset(file, dataset);
    return inspect_dataset_contained(file, dataset);
}

/* ---- reference problems for `nde steps` ---- */

/* The reference problems, in the order of problem_names. */
typedef struct problem {
    size_t dim;
    double u0[2], t1;
    nde_status (*f)(void *ctx, double t, const double *u, double *du, size_t batch);
    /* J w, so that implicit SUNDIALS methods build their Jacobian (and report its
     * spectral radius as the stiffness estimate) */
    nde_status (*jvp)(void *ctx, double t, const double *u, const double *w, double *jw,
                      size_t batch);
} problem;

static nde_status vdp_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    double mu = *(const double *)ctx;
    for (size_t b = 0; b < batch; b++) {
        const double *x = u + 2 * b;
        du[2 * b] = x[1];
        du[2 * b + 1] = mu * (1.0 - x[0] * x[0]) * x[1] - x[0];
    }
    return NDE_OK;
}

static nde_status vdp_jvp(void *ctx, double t, const double *u, const double *w, double *jw,
                          size_t batch)
{
    (void)t;
    double mu = *(const double *)ctx;
    for (size_t b = 0; b < batch; b++) {
        const double *x = u + 2 * b, *v = w + 2 * b;
        jw[2 * b] = v[1];
        jw[2 * b + 1] = (-2.0 * mu * x[0] * x[1] - 1.0) * v[0] + mu * (1.0 - x[0] * x[0]) * v[1];
    }
    return NDE_OK;
}

/* torchdiffeq's ode_demo spiral: du/dt = (u³) A. */
static nde_status spiral_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t b = 0; b < batch; b++) {
        double x = u[2 * b] * u[2 * b] * u[2 * b], y = u[2 * b + 1] * u[2 * b + 1] * u[2 * b + 1];
        du[2 * b] = -0.1 * x - 2.0 * y;
        du[2 * b + 1] = 2.0 * x - 0.1 * y;
    }
    return NDE_OK;
}

static nde_status spiral_jvp(void *ctx, double t, const double *u, const double *w,
                             double *jw, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t b = 0; b < batch; b++) {
        double dx = 3.0 * u[2 * b] * u[2 * b] * w[2 * b];
        double dy = 3.0 * u[2 * b + 1] * u[2 * b + 1] * w[2 * b + 1];
        jw[2 * b] = -0.1 * dx - 2.0 * dy;
        jw[2 * b + 1] = 2.0 * dx - 0.1 * dy;
    }
    return NDE_OK;
}

/* u' = −mu·u: stiffness estimate should read mu. */
static nde_status decay_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    double mu = *(const double *)ctx;
    for (size_t b = 0; b < batch; b++) du[b] = -mu * u[b];
    return NDE_OK;
}

/* linear: J w = f(w) */
static nde_status decay_jvp(void *ctx, double t, const double *u, const double *w, double *jw,
                            size_t batch)
{
    (void)u;
    return decay_f(ctx, t, w, jw, batch);
}

static const problem problems[] = {
    {2, {2.0, 0.0}, 20.0, vdp_f, vdp_jvp},
    {2, {2.0, 0.0}, 25.0, spiral_f, spiral_jvp},
    {1, {1.0, 0.0}, 1.0, decay_f, decay_jvp},
};
static const char *const problem_names[] = {"vdp", "spiral", "decay", NULL};

static int cmd_steps(int argc, char **argv)
{
    int which = 0;
    double mu = 10.0, t1 = -1.0;
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    nde_method method = o.method;
    const nde_arg opts[] = {
        {.name = "problem", .kind = NDE_ARG_CHOICE, .dest = &which, .choices = problem_names,
         .help = "Van der Pol, torchdiffeq's spiral, or u' = -mu u"},
        {.name = "mu", .kind = NDE_ARG_DOUBLE, .dest = &mu, .help = "vdp's and decay's mu"},
        NDE_ARGS_METHOD(&method),
        NDE_ARGS_TOLERANCES(&o.rtol, &o.atol),
        {.name = "t1", .kind = NDE_ARG_DOUBLE, .dest = &t1, .bounds = NDE_ARG_LO_OPEN,
         .default_text = "the problem's: vdp 20, spiral 25, decay 1", .help = "end time"},
    };
    const nde_args_spec spec = {
        .prog = "nde steps",
        .about = "Solves a reference problem and prints the step log as CSV (t, h, err_est,\n"
                 "stiff_est) on stdout and the counters on stderr.",
        NDE_ARGS_TABLE(opts)};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    const problem *pb = &problems[which];
    double rtol = o.rtol, atol = o.atol;
    o = nde_solver_defaults(method);
    o.rtol = rtol, o.atol = atol;
    nde_field f = {.dim = pb->dim, .ctx = &mu, .f = pb->f, .jvp = pb->jvp};
    nde_ctx *ctx = NULL;
    nde_solver *s = NULL;
    if (nde_ctx_create(&ctx) != NDE_OK || nde_solver_create(ctx, &f, &o, &s) != NDE_OK) {
        rc = fail("steps");
    } else {
        double ts[2] = {0.0, t1 > 0.0 ? t1 : pb->t1}, traj[4];
        nde_status st = nde_solve(s, 1, pb->dim, pb->u0, 2, ts, traj);
        size_t n;
        const nde_step_rec *log = nde_solver_steps(s, &n);
        printf("t,h,err_est,stiff_est\n");
        for (size_t i = 0; i < n; i++)
            printf("%.17g,%.17g,%.6g,%.6g\n", log[i].t, log[i].h, log[i].err_est,
                   log[i].stiff_est);
        const nde_solver_stats *stt = nde_solver_get_stats(s);
        fprintf(stderr, "%s on %s: %zu accepted, %zu rejected steps, %zu evaluations\n",
                nde_method_name(o.method), problem_names[which], stt->n_accepted, stt->n_rejected, stt->nfe);
        if (st != NDE_OK) rc = fail("steps");
    }
    nde_solver_destroy(&s);
    nde_ctx_destroy(&ctx);
    return rc;
}

/* The command is argv[1]; each command parses argv[1..] with its own table. */
int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* under mpirun, nde data and nde train run on every rank (MPI_Finalize on every
     * path out); the other commands are serial */
    const int data = !strcmp(argv[1], "data"), train = !strcmp(argv[1], "train");
    if (data || train) {
        if (cli_mpi_begin(&argc, &argv)) {
            fprintf(stderr, "nde: MPI_Init failed\n");
            return 1;
        }
        const int rc = data ? cli_data(argc - 1, argv + 1) : cli_train(argc - 1, argv + 1);
        cli_mpi_end();
        return rc;
    }
    if (!strcmp(argv[1], "eval")) return cli_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "predict")) return cli_predict(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "inspect")) return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(argv[1], "steps")) return cmd_steps(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench")) return cli_bench(argc - 1, argv + 1);
    fprintf(stderr, "nde: unknown %s '%s' (try --help)\n", argv[1][0] == '-' ? "option" : "command",
            argv[1]);
    return 2;
}
