/* `nde data`: the built-in generators written as dataset files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "nde/nde.h"
#include "nde_args.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void cli_dataset_file(const char *path, const char *name, char *buf, size_t cap)
{
    if (ends_with(path, ".npy"))
        snprintf(buf, cap, "%.*s_%s.npy", (int)(strlen(path) - 4), path, name);
    else
        snprintf(buf, cap, "%s", path);
}

nde_status cli_check_writable(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s: %s", path, dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s: %s", path, dir, strerror(ENOTDIR));
    if (access(dir, W_OK) != 0)
        return NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s: %s", path, dir, strerror(errno));
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s", path, strerror(EISDIR));
    return NDE_OK;
}

nde_status cli_dataset_read(const char *path, const char *name, nde_array *out)
{
    char file[4200];
    cli_dataset_file(path, name, file, sizeof file);
    FILE *f = fopen(file, "rb"); /* the system's reason for a missing or unreadable file */
    if (!f) return NDE_FAIL(NDE_ERR_IO, "cannot open %s: %s", file, strerror(errno));
    fclose(f);
    return nde_dataset_read(file, name, 0, out);
}

nde_status cli_dataset_read_rows(const char *path, const char *name, size_t first, size_t count,
                                 nde_array *out)
{
    char file[4200];
    cli_dataset_file(path, name, file, sizeof file);
    FILE *f = fopen(file, "rb");
    if (!f) return NDE_FAIL(NDE_ERR_IO, "cannot open %s: %s", file, strerror(errno));
    fclose(f);
    return nde_dataset_read_rows(file, name, 0, first, count, out);
}

static nde_status write_one(const char *file, const char *name, int ndim, const size_t *shape,
                            const double *data, int append)
{
    if (ends_with(file, ".npy")) return nde_npy_write(file, ndim, shape, data);
    if (ends_with(file, ".mat")) return nde_mat_write(file, name, ndim, shape, data, append);
    return nde_h5_write(file, name, ndim, shape, data, append);
}

/* The file dataset i goes to (file) and its temporary (tmp, which keeps the extension:
 * the writers choose the format by it). */
static void file_names(const char *path, const char *name, char *file, size_t fcap, char *tmp,
                       size_t tcap)
{
    cli_dataset_file(path, name, file, fcap);
    const char *dot = strrchr(file, '.');
    const char *slash = strrchr(file, '/');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - file) : strlen(file);
    snprintf(tmp, tcap, "%.*s.tmp%ld%s", (int)stem, file, (long)getpid(), file + stem);
}

/* All datasets to temporaries first (one per .npy dataset, one file for HDF5/.mat), then
 * the renames: a failure leaves none of the new files, so never a partial set (an .npy
 * x without its y); a failed rename also removes the new files already renamed. */
nde_status cli_datasets_write(const char *path, size_t n, const char *const *names,
                              const int *ndim, const size_t (*shape)[3], const double *const *data)
{
    const int npy = ends_with(path, ".npy");
    const size_t files = npy ? n : 1;
    char file[4200], tmp[4300];
    nde_status st = NDE_OK;
    size_t written = 0;
    for (size_t i = 0; i < n && st == NDE_OK; i++) {
        file_names(path, names[npy ? i : 0], file, sizeof file, tmp, sizeof tmp);
        st = write_one(tmp, names[i], ndim[i], shape[i], data[i], !npy && i > 0);
        if (st == NDE_OK && (npy || i == n - 1)) written++;
    }
    size_t renamed = 0;
    for (size_t i = 0; i < files && st == NDE_OK; i++, renamed++) {
        file_names(path, names[i], file, sizeof file, tmp, sizeof tmp);
        if (rename(tmp, file) != 0)
            st = NDE_FAIL(NDE_ERR_IO, "cannot rename %s to %s: %s", tmp, file, strerror(errno));
    }
    if (st != NDE_OK)
        for (size_t i = 0; i < files && i <= written; i++) {
            file_names(path, names[i], file, sizeof file, tmp, sizeof tmp);
            remove(tmp);
            if (i < renamed) remove(file);
        }
    return st;
}

typedef struct progress_state {
    const char *what;
    double t0;
    int tty;
} progress_state;

static int progress(void *user, size_t done, size_t total)
{
    progress_state *p = user;
    if (p->tty)
        fprintf(stderr, "\r%s: %zu/%zu samples (%.1f s)%s", p->what, done, total,
                nde_wall_seconds() - p->t0, done == total ? "\n" : "");
    else if (done == total || done % 100 == 0)
        fprintf(stderr, "%s: %zu/%zu samples (%.1f s)\n", p->what, done, total,
                nde_wall_seconds() - p->t0);
    return 0;
}

/* torchdiffeq's spiral, du/dt = (u³) A, with A = [[-0.1, 2], [-2, -0.1]]. */
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

/* x (n, 2): initial states uniform in [-1.5, 1.5]²; y (n, nt, 2) the states at
 * t (nt) = linspace(0, t1, nt), by DOPRI5 at rtol 1e-9, atol 1e-11. */
static nde_status spiral_generate(size_t n, size_t nt, double t1, uint64_t seed, double *x,
                                  double *y, double *t)
{
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    for (size_t i = 0; i < 2 * n; i++) x[i] = nde_rng_uniform_in(&rng, -1.5, 1.5);
    for (size_t k = 0; k < nt; k++) t[k] = t1 * (double)k / (double)(nt - 1);
    nde_field f = {.dim = 2, .f = spiral_f};
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-9;
    o.atol = 1e-11;
    nde_solver *s;
    NDE_TRY(nde_solver_create(NULL, &f, &o, &s));
    double *traj = nde_alloc_array(nt * n * 2, sizeof *traj); /* (nt, n, 2) */
    nde_status st = traj ? nde_solve(s, n, 2, x, nt, t, traj) : NDE_ERR_NOMEM;
    for (size_t k = 0; st == NDE_OK && k < nt; k++) /* → (n, nt, 2), sample-major */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < 2; j++) y[(i * nt + k) * 2 + j] = traj[(k * n + i) * 2 + j];
    nde_free(traj);
    nde_solver_destroy(&s);
    return st;
}

/* --windows W: x, y (count, W, n) of samples first.. = levels 0..W−1 and W..2W−1 of the
 * Burgers trajectory from each sample's initial state, dt apart (4 ETDRK4 steps each). */
static nde_status burgers_windows(nde_ctx *ctx, const nde_burgers_spec *spec, double dt,
                                  size_t W, uint64_t first, size_t count, double *x, double *y)
{
    nde_burgers_spec bs = *spec;
    bs.t_final = dt;
    bs.n_steps = 4;
    NDE_TRY(nde_burgers_check(&bs));
    const size_t n = bs.n;
    double *u = nde_alloc_array(n, sizeof *u);
    if (!u) return NDE_FAIL(NDE_ERR_NOMEM, "Burgers windows of %zu points", n);
    nde_status st = NDE_OK;
    for (size_t i = 0; i < count && st == NDE_OK; i++) {
        st = nde_burgers_initial(&bs, first + i, u);
        for (size_t l = 0; l < 2 * W && st == NDE_OK; l++) {
            if (l) st = nde_burgers_solve(ctx, &bs, u, u);
            double *dst = l < W ? x + (i * W + l) * n : y + (i * W + l - W) * n;
            memcpy(dst, u, n * sizeof *u);
        }
    }
    nde_free(u);
    return st;
}

int cli_data(int argc, char **argv)
{
    static const char *const problems[] = {"burgers", "darcy", "spiral", NULL};
    size_t n = 0, s = 0;
    uint64_t seed = 0;
    double t1 = 1.0;
    const char *out = NULL;
    static const char *const solvers[] = {"multigrid", "sor", "sor-tsallis", "sor-opt", "ssor-cg",
                                          "ssor-cg-tsallis", NULL};
    int solver = 0;
    double omega = 1.8;
    size_t windows = 0;
    double dt = 0.005;
    const nde_arg opts[] = {
        {.name = "n", .kind = NDE_ARG_SIZE, .dest = &n, .min = 1,
         .default_text = "burgers 200, darcy 120, spiral 200", .help = "samples"},
        {.name = "s", .kind = NDE_ARG_SIZE, .dest = &s, .min = 3,
         .default_text = "burgers 256, darcy 33, spiral 10",
         .help = "grid points (per side for darcy); spiral: save times"},
        NDE_ARGS_SEED(&seed),
        {.name = "t1", .kind = NDE_ARG_DOUBLE, .dest = &t1, .bounds = NDE_ARG_LO_OPEN,
         .help = "spiral: last save time"},
        {.name = "solver", .kind = NDE_ARG_CHOICE, .dest = &solver, .choices = solvers,
         .default_text = "multigrid",
         .help = "darcy: linear solver; sor/ssor-cg use --omega, *-tsallis learn omega across "
                 "the samples (Tsallis-INF), sor-opt uses each sample's optimal omega"},
        {.name = "omega", .kind = NDE_ARG_DOUBLE, .dest = &omega, .lo = 0.0, .hi = 2.0,
         .bounds = NDE_ARG_LO_OPEN | NDE_ARG_HI_OPEN, .default_text = "1.8",
         .help = "darcy: relaxation of --solver sor or ssor-cg"},
        {.name = "windows", .kind = NDE_ARG_SIZE, .dest = &windows, .default_text = "off",
         .help = "burgers: W > 0 writes trajectories in windows for the physics loss\n"
                 "(nde train [train] loss = burgers_residual): a (n, W, s) = levels 0..W-1,\n"
                 "u (n, W, s) = levels W..2W-1, levels --dt apart"},
        {.name = "dt", .kind = NDE_ARG_DOUBLE, .dest = &dt, .bounds = NDE_ARG_LO_OPEN,
         .default_text = "0.005", .help = "burgers --windows: time between levels"},
        {.name = "out", .kind = NDE_ARG_STRING, .dest = &out, .metavar = "FILE",
         .help = "output file: .h5, .mat (v7.3) or .npy (FILE.npy → FILE_<name>.npy)"},
    };
    const nde_args_spec spec = {
        .prog = "nde data", .synopsis = "burgers|darcy|spiral --out FILE [options]",
        .about = "Generates a dataset with nde's built-in generators and writes it atomically:\n"
                 "  burgers  a (n, s) initial states, u (n, s) solutions at t = 1 (FNO's layout)\n"
                 "  darcy    coeff (n, s, s) coefficients, sol (n, s, s) solutions (FNO's layout)\n"
                 "  spiral   x (n, 2) initial states, y (n, s, 2) states at t (s) of torchdiffeq's\n"
                 "           spiral du/dt = (u^3) A",
        NDE_ARGS_TABLE(opts), .min_positional = 1, .max_positional = 1};
    int first;
    int rc = nde_args_parse(&spec, argc, argv, &first);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    int which = -1;
    for (int i = 0; problems[i]; i++)
        if (!strcmp(argv[first], problems[i])) which = i;
    if (which < 0) {
        fprintf(stderr, "nde data: unknown problem '%s': expected burgers, darcy or spiral "
                        "(try --help)\n", argv[first]);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "nde data: --out FILE is required (try --help)\n");
        return 2;
    }
    /* a destination that cannot be written fails now, not after generating */
    char first_file[4200];
    cli_dataset_file(out, which == 0 ? "a" : which == 1 ? "coeff" : "x", first_file,
                     sizeof first_file);
    if (cli_check_writable(first_file) != NDE_OK) {
        fprintf(stderr, "nde data: %s\n", nde_last_error());
        return 1;
    }
    if (!n) n = which == 1 ? 120 : 200;
    if (!s) s = which == 0 ? 256 : which == 1 ? 33 : 10;
    if (which == 0 && s % 2) {
        fprintf(stderr, "nde data: --s %zu: bad value: burgers needs an even grid (try --help)\n", s);
        return 2;
    }
    if (windows && which != 0) {
        fprintf(stderr, "nde data: --windows is for burgers only (try --help)\n");
        return 2;
    }
    const size_t W = windows ? windows : 1;
    const size_t per = which == 0 ? W * s : which == 1 ? s * s : 2 * s;
    double *x = nde_alloc_array(n * (which == 2 ? 2 : per), sizeof *x);
    double *y = nde_alloc_array(n * per, sizeof *y), *t = nde_alloc_array(s, sizeof *t);
    nde_status st = x && y && t ? NDE_OK : NDE_FAIL(NDE_ERR_NOMEM, "%zu samples", n);
    progress_state ps = {.what = problems[which], .t0 = nde_wall_seconds(),
                         .tty = isatty(STDERR_FILENO)};
    /* under mpirun: rank r generates its contiguous part of the samples (sample i's bits do
     * not depend on which call makes it), rank 0 gathers them and writes the file — the
     * serial file, byte for byte. The spiral is one batched solve: rank 0 alone. */
    const int rank = cli_rank();
    const size_t lo = which == 2 ? 0 : cli_share(n, rank, 0);
    const size_t hi = which == 2 ? (rank ? 0 : n) : cli_share(n, rank, 1);
    nde_pde_progress_fn prog = rank == 0 ? progress : NULL;
    nde_ctx *ctx = NULL;
    if (st == NDE_OK && which == 0) {
        nde_burgers_spec bs = nde_burgers_defaults();
        bs.n = s;
        bs.seed = seed;
        st = nde_ctx_create(&ctx);
        if (st == NDE_OK && hi > lo && !windows)
            st = nde_burgers_generate(ctx, &bs, lo, hi - lo, x + lo * per, y + lo * per, prog, &ps);
        if (st == NDE_OK && hi > lo && windows) /* 2W levels dt apart from each initial state */
            st = burgers_windows(ctx, &bs, dt, W, lo, hi - lo, x + lo * per, y + lo * per);
    } else if (st == NDE_OK && which == 1) {
        nde_darcy_spec ds = nde_darcy_defaults(s);
        if (solver) {
            ds.solver = solver >= 4 ? NDE_DARCY_SSOR_PCG : NDE_DARCY_SOR;
            ds.omega_rule = solver == 2 || solver == 5 ? NDE_DARCY_OMEGA_TSALLIS
                            : solver == 3              ? NDE_DARCY_OMEGA_OPT
                                                       : NDE_DARCY_OMEGA_FIXED;
            ds.omega = omega;
            ds.learner_seed = seed;
        }
        nde_darcy *gen = NULL;
        st = nde_darcy_create(&ds, &gen);
        if (st == NDE_OK && hi > lo)
            st = nde_darcy_generate(gen, seed, lo, hi - lo, x + lo * per, y + lo * per, prog, &ps);
        nde_darcy_destroy(&gen);
    } else if (st == NDE_OK && rank == 0) {
        st = spiral_generate(n, s, t1, seed, x, y, t);
        if (st == NDE_OK) progress(&ps, n, n);
    }
    if (cli_size() > 1) {
        if (cli_any(st != NDE_OK) && st == NDE_OK)
            st = NDE_FAIL(NDE_ERR_ARG, "generation failed on another rank (see its message)");
        if (st == NDE_OK && which != 2) st = cli_gather_rows(x, n, per);
        if (st == NDE_OK && which != 2) st = cli_gather_rows(y, n, per);
        if (cli_any(st != NDE_OK) && st == NDE_OK)
            st = NDE_FAIL(NDE_ERR_IO, "gathering the samples failed on another rank");
    }
    if (st == NDE_OK && rank == 0) {
        static const char *const names[3][3] = {{"a", "u"}, {"coeff", "sol"}, {"x", "y", "t"}};
        const int ndim[3][3] = {{2, 2}, {3, 3}, {2, 3, 1}};
        const size_t shape[3][3][3] = {{{n, s}, {n, s}}, {{n, s, s}, {n, s, s}},
                                       {{n, 2}, {n, s, 2}, {s}}};
        int ndim_w[2] = {3, 3};
        const size_t shape_w[2][3] = {{n, W, s}, {n, W, s}};
        const double *data[3] = {x, y, t};
        st = cli_datasets_write(out, which == 2 ? 3 : 2, names[which],
                                windows ? ndim_w : ndim[which], windows ? shape_w : shape[which],
                                data);
    }
    if (cli_size() > 1) st = cli_share_status(st, "writing the file");
    nde_ctx_destroy(&ctx);
    nde_free(x);
    nde_free(y);
    nde_free(t);
    if (st != NDE_OK) {
        fprintf(stderr, "nde data: %s\n", nde_last_error());
        return 1;
    }
    if (rank == 0)
        fprintf(stderr, "nde data: wrote %s (%zu %s samples%s)\n", out, n, problems[which],
                cli_size() > 1 ? ", generated in parts by the MPI ranks" : "");
    return 0;
}
