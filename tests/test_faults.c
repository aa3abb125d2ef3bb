/* Fault injection (src/core/fault.h, -Dfault_injection=true) in the style of SQLite: each path
 * runs with the N-th allocation (or file write) failing, N = 1, 2, ... until it completes. Every
 * failure must return a non-OK status with a message and leave no partial output; leaks are
 * caught by ASan (detect_leaks=1) at exit. The counts printed are recorded in docs/reliability.md. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fault.h"
#include "nde_config.h"
#include "nde/nde.h"
#include "nde_config.h"

#define CHECK(x) cr_assert_eq((x), NDE_OK, "%s", nde_last_error())
#define TRY(x)                                     \
    do {                                           \
        st = (x);                                  \
        if (st != NDE_OK) goto done;               \
    } while (0)

typedef nde_status (*path_fn)(void *arg);
typedef void (*after_fn)(void *arg, nde_status st);

/* Run fn with the n-th call of `kind` failing for n = 1, 2, ...; return the number of calls of
 * `kind` of the complete run. */
static long fault_loop(const char *name, nde_fault_kind kind, path_fn fn, void *arg, after_fn after)
{
    for (long n = 1;; n++) {
        nde_clear_error();
        if (getenv("NDE_FAULT_TRACE")) fprintf(stderr, "%s n=%ld\n", name, n);
        nde_fault_set(kind, n);
        nde_status st = fn(arg);
        long failed = nde_fault_failed(kind), count = nde_fault_count(kind);
        nde_fault_set(kind, 0);
        if (after) after(arg, st);
        if (failed == 0) {
            cr_assert_eq(st, NDE_OK, "%s: no fault at n = %ld yet failed: %s", name, n, nde_last_error());
            fprintf(stderr, "faults: %-22s %s: %ld sites\n", name,
                    kind == NDE_FAULT_ALLOC ? "alloc" : "write", count);
            return count;
        }
        cr_assert_neq(st, NDE_OK, "%s: %s fault %ld injected but the path returned OK", name,
                      kind == NDE_FAULT_ALLOC ? "alloc" : "write", n);
        cr_assert_neq(nde_last_error()[0], '\0', "%s: fault %ld: status '%s' without a message", name,
                      n, nde_status_str(st));
    }
}

static void fill(double *x, size_t n, double s)
{
    for (size_t i = 0; i < n; i++) x[i] = s * (double)((i * 7 + 3) % 11) / 11.0 - 0.5 * s;
}

/* ---- models: create + init + forward + backward ---- */

static nde_status run_model(nde_model *m)
{
    nde_status st = NDE_OK;
    double *x = NULL, *y = NULL, *gy = NULL, *gx = NULL, *gt = NULL;
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    TRY(nde_model_init(m, &rng));
    size_t in = nde_model_in_size(m), out = nde_model_out_size(m), np = nde_model_n_params(m);
    x = calloc(in, sizeof *x), y = calloc(out, sizeof *y), gy = calloc(out, sizeof *gy);
    gx = calloc(in, sizeof *gx), gt = calloc(np, sizeof *gt);
    cr_assert(x && y && gy && gx && gt);
    fill(x, in, 1.0);
    fill(gy, out, 0.5);
    TRY(nde_model_forward(m, x, y, 1));
    TRY(nde_model_backward(m, gy, gx, gt, 1));
done:
    free(x), free(y), free(gy), free(gx), free(gt);
    return st;
}

static nde_status path_node(void *arg)
{
    (void)arg;
    static const double ts[3] = {0.0, 0.5, 1.0};
    nde_model *f = NULL, *node = NULL;
    nde_status st;
    TRY(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 2, .hidden = {8}, .act = NDE_ACT_TANH},
                             "f", NDE_INIT_NORMAL, 0.3, &f));
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_TSIT5), .ts = ts, .nt = 3};
    st = nde_model_node_create(NULL, f, &ns, &node); /* takes f, also on failure */
    f = NULL;
    if (st != NDE_OK) goto done;
    TRY(run_model(node));
done:
    nde_model_destroy(&f);
    nde_model_destroy(&node);
    return st;
}

static nde_status path_fno(void *arg)
{
    (void)arg;
    nde_ctx *ctx = NULL;
    nde_model *m = NULL;
    nde_status st;
    TRY(nde_ctx_create(&ctx));
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.n_modes[0] = 3;
    sp.width = 3;
    sp.n_layers = 2;
    sp.proj_hidden[0] = 5;
    const size_t n = 8;
    TRY(nde_model_fno_create(ctx, &sp, &n, 1, 1, &m));
    TRY(run_model(m));
done:
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
    return st;
}

static nde_status path_mgno(void *arg)
{
    (void)arg;
    nde_model *m = NULL;
    nde_status st;
    nde_mgno_spec sp = {.ndim = 1, .n = {8, 0}, .c_in = 1, .c_out = 1, .width = 3, .n_layers = 1,
                        .levels = 2, .pre = {1, 2}, .post = {1, 0}, .pad_mode = NDE_PAD_ZERO,
                        .bias = 1};
    TRY(nde_model_mgno_create(&sp, "mgno", 1, &m));
    TRY(run_model(m));
done:
    nde_model_destroy(&m);
    return st;
}

/* FNO with arg = {ndim, n_threads}: 2-D on an 8×8 grid, or 1-D with the batch split
 * over two threads (run_model's batch of one is split too: the team is created). */
static nde_status path_fno_var(void *arg)
{
    const size_t *v = arg;
    nde_ctx *ctx = NULL;
    nde_model *m = NULL;
    nde_status st;
    TRY(nde_ctx_create(&ctx));
    nde_fno_spec sp = v[0] == 2 ? nde_fno2d_darcy_spec() : nde_fno1d_burgers_spec();
    sp.n_modes[0] = sp.n_modes[1] = 2;
    sp.width = 3;
    sp.n_layers = 1;
    sp.proj_hidden[0] = 4;
    sp.padding = 0.0;
    const size_t n[2] = {8, 8};
    TRY(nde_model_fno_create(ctx, &sp, n, 2, v[1], &m));
    TRY(run_model(m));
done:
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
    return st;
}

/* MgNO 2-D in the precision *arg (an nde_precision). */
static nde_status path_mgno2d(void *arg)
{
    nde_model *m = NULL;
    nde_status st;
    nde_mgno_spec sp = {.ndim = 2, .n = {8, 8}, .c_in = 1, .c_out = 1, .width = 2, .n_layers = 1,
                        .levels = 2, .pre = {1, 1}, .post = {1, 0}, .pad_mode = NDE_PAD_ZERO,
                        .bias = 1, .precision = *(const nde_precision *)arg};
    TRY(nde_model_mgno_create(&sp, "mgno", 1, &m));
    TRY(run_model(m));
done:
    nde_model_destroy(&m);
    return st;
}

/* A solve of an MLP field with method c->method through nde's solver, then the adjoint
 * c->adjoint: 0 none, 1 backsolve, 2 interpolating, 3 CVODES. */
typedef struct solve_case {
    nde_method method;
    int adjoint;
} solve_case;

static nde_status path_solve(void *arg)
{
    const solve_case *c = arg;
    nde_ctx *ctx = NULL;
    nde_model *m = NULL;
    nde_solver *s = NULL;
    double *gth = NULL;
    nde_status st;
    double u0[4] = {0.5, -0.3, 0.2, 0.1}, ts[3] = {0.0, 0.5, 1.0}, traj[12], g[12], gu0[4];
    fill(g, 12, 0.7);
    TRY(nde_ctx_create(&ctx));
    TRY(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 2, .hidden = {6}, .act = NDE_ACT_TANH},
                             "f", NDE_INIT_NORMAL, 0.3, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 2);
    TRY(nde_model_init(m, &rng));
    nde_field f;
    TRY(nde_model_field(m, &f));
    nde_solver_opts o = nde_solver_defaults(c->method);
    if (c->adjoint == 3) o.cvodes_adj_steps = 5;
    TRY(nde_solver_create(ctx, &f, &o, &s));
    TRY(nde_solve(s, 2, 2, u0, 3, ts, traj));
    gth = calloc(f.n_params + 1, sizeof *gth);
    cr_assert(gth);
    if (c->adjoint == 1) TRY(nde_adjoint_backsolve(s, traj, g, gth, f.n_params, gu0, NULL));
    if (c->adjoint == 2) TRY(nde_adjoint_interpolating(s, traj, g, gth, f.n_params, gu0, NULL));
    if (c->adjoint == 3) TRY(nde_adjoint_cvodes(s, g, gth, f.n_params, gu0, NULL));
done:
    free(gth);
    nde_solver_destroy(&s);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
    return st;
}

Test(faults, solvers_adjoints_and_operators_alloc)
{
    static const size_t fno2d[2] = {2, 1}, fno_threads[2] = {1, 2};
    static const solve_case back = {NDE_TSIT5, 1}, interp = {NDE_TSIT5, 2};
    cr_assert_gt(fault_loop("backsolve adjoint", NDE_FAULT_ALLOC, path_solve, (void *)&back, NULL), 0);
    cr_assert_gt(fault_loop("interpolating adjoint", NDE_FAULT_ALLOC, path_solve, (void *)&interp,
                            NULL), 0);
#if NDE_HAVE_SUNDIALS
    static const solve_case cvode = {NDE_CVODE_BDF, 0}, ark = {NDE_ARK_DIRK, 0},
                            erk = {NDE_ARK_ERK, 0}, cvodes = {NDE_CVODE_ADAMS, 3};
    cr_assert_gt(fault_loop("cvode bdf solve", NDE_FAULT_ALLOC, path_solve, (void *)&cvode, NULL), 0);
    cr_assert_gt(fault_loop("arkode dirk solve", NDE_FAULT_ALLOC, path_solve, (void *)&ark, NULL), 0);
    cr_assert_gt(fault_loop("arkode erk solve", NDE_FAULT_ALLOC, path_solve, (void *)&erk, NULL), 0);
    cr_assert_gt(fault_loop("cvodes adjoint", NDE_FAULT_ALLOC, path_solve, (void *)&cvodes, NULL), 0);
#endif
    cr_assert_gt(fault_loop("fno 2-d", NDE_FAULT_ALLOC, path_fno_var, (void *)fno2d, NULL), 0);
    cr_assert_gt(fault_loop("fno 1-d, 2 threads", NDE_FAULT_ALLOC, path_fno_var,
                            (void *)fno_threads, NULL), 0);
    static const nde_precision f64 = NDE_PRECISION_FLOAT64, f32 = NDE_PRECISION_FLOAT32;
    cr_assert_gt(fault_loop("mgno 2-d", NDE_FAULT_ALLOC, path_mgno2d, (void *)&f64, NULL), 0);
    cr_assert_gt(fault_loop("mgno 2-d float32", NDE_FAULT_ALLOC, path_mgno2d, (void *)&f32, NULL),
                 0);
}

Test(faults, models_alloc)
{
    cr_assert_gt(fault_loop("node create/solve/adj", NDE_FAULT_ALLOC, path_node, NULL, NULL), 0);
    cr_assert_gt(fault_loop("fno forward/backward", NDE_FAULT_ALLOC, path_fno, NULL, NULL), 0);
    cr_assert_gt(fault_loop("mgno forward/backward", NDE_FAULT_ALLOC, path_mgno, NULL, NULL), 0);
}

/* ---- optimizer + checkpoint ---- */

static nde_model *small_mlp(void)
{
    nde_model *m;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 1, .hidden = {4}}, "mlp",
                               NDE_INIT_TORCH, 0.0, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 3);
    CHECK(nde_model_init(m, &rng));
    return m;
}

static nde_status path_optim(void *arg)
{
    nde_model *m = arg;
    nde_optim *opt = NULL;
    nde_status st;
    nde_optim_spec os = nde_optim_defaults(NDE_OPT_ADAM);
    TRY(nde_optim_create(&os, nde_model_params(m), &opt));
    TRY(nde_optim_step(opt));
    TRY(nde_optim_step(opt));
done:
    nde_optim_destroy(&opt);
    return st;
}

typedef struct {
    nde_model *m;
    nde_optim *opt;
    const char *path;
    const char *good; /* the previous complete file's bytes */
    size_t good_len;
} ckpt_arg;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static nde_status path_ckpt_save(void *arg)
{
    ckpt_arg *c = arg;
    return nde_checkpoint_save(c->path, nde_model_params(c->m), c->opt, NULL);
}

/* After a save: the file is the previous complete one (or absent when there was none), and no
 * temporary file is left in the directory. */
static void after_save(void *arg, nde_status st)
{
    ckpt_arg *c = arg;
    size_t len = 0;
    char *now = slurp(c->path, &len);
    if (st != NDE_OK) {
        if (!c->good) {
            cr_assert_null(now, "%s exists after a failed first save", c->path);
        } else {
            cr_assert(now && len == c->good_len && memcmp(now, c->good, len) == 0,
                      "%s changed by a failed save", c->path);
        }
    }
    free(now);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls faults_test_out | grep -q tmp");
    cr_assert_neq(system(cmd), 0, "a temporary file is left in faults_test_out");
}

static nde_status path_ckpt_load(void *arg)
{
    ckpt_arg *c = arg;
    return nde_checkpoint_load(c->path, nde_model_params(c->m), c->opt, NULL);
}

Test(faults, optim_and_checkpoint)
{
    nde_model *m = small_mlp();
    cr_assert_gt(fault_loop("optim create/step", NDE_FAULT_ALLOC, path_optim, m, NULL), 0);

    mkdir("faults_test_out", 0755);
    remove("faults_test_out/ck.safetensors");
    ckpt_arg c = {.m = m, .path = "faults_test_out/ck.safetensors"};
    nde_optim_spec os = nde_optim_defaults(NDE_OPT_ADAM);
    CHECK(nde_optim_create(&os, nde_model_params(m), &c.opt));
    CHECK(nde_optim_step(c.opt));
    /* first save (no previous file), then over a complete file */
    cr_assert_gt(fault_loop("checkpoint save (new)", NDE_FAULT_WRITE, path_ckpt_save, &c, after_save), 0);
    remove(c.path);
    fault_loop("checkpoint save (new)", NDE_FAULT_ALLOC, path_ckpt_save, &c, after_save);
    c.good = slurp(c.path, &c.good_len);
    cr_assert_not_null(c.good);
    cr_assert_gt(fault_loop("checkpoint save (over)", NDE_FAULT_WRITE, path_ckpt_save, &c, after_save), 0);
    fault_loop("checkpoint save (over)", NDE_FAULT_ALLOC, path_ckpt_save, &c, after_save);
    cr_assert_gt(fault_loop("checkpoint load", NDE_FAULT_ALLOC, path_ckpt_load, &c, NULL), 0);
    free((char *)c.good);
    nde_optim_destroy(&c.opt);
    nde_model_destroy(&m);
}

/* ---- dataset readers ---- */

static nde_status path_read(void *arg)
{
    const char *path = arg;
    nde_array a = {0};
    nde_status st = nde_dataset_read(path, "u", 2, &a);
    nde_array_free(&a);
    return st;
}

static nde_status path_idx(void *arg)
{
    nde_idx *idx = NULL;
    nde_status st = nde_idx_read(arg, 0, &idx);
    nde_idx_destroy(&idx);
    return st;
}

static void write_idx(const char *path)
{
    /* IDX: magic 0x00000803 (uint8, rank 3), dims 2 x 2 x 3, then the bytes */
    const unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(hdr, 1, sizeof hdr, f);
    for (int i = 0; i < 12; i++) fputc(i * 20, f);
    fclose(f);
}

static nde_status path_npy_write(void *arg)
{
    (void)arg;
    const size_t shape[2] = {3, 4};
    double d[12];
    fill(d, 12, 1.0);
    return nde_npy_write("faults_test_out/w.npy", 2, shape, d);
}

Test(faults, dataset_readers)
{
    mkdir("faults_test_out", 0755);
    const size_t shape[2] = {3, 4};
    double d[12];
    fill(d, 12, 2.0);
    CHECK(nde_npy_write("faults_test_out/d.npy", 2, shape, d));
    cr_assert_gt(fault_loop("npy read", NDE_FAULT_ALLOC, path_read, "faults_test_out/d.npy", NULL), 0);
    cr_assert_gt(fault_loop("npy write", NDE_FAULT_WRITE, path_npy_write, NULL, NULL), 0);
    write_idx("faults_test_out/d.idx");
    cr_assert_gt(fault_loop("idx read", NDE_FAULT_ALLOC, path_idx, "faults_test_out/d.idx", NULL), 0);
#if NDE_HAVE_HDF5
    remove("faults_test_out/d.h5");
    remove("faults_test_out/d.mat");
    CHECK(nde_h5_write("faults_test_out/d.h5", "u", 2, shape, d, 0));
    CHECK(nde_mat_write("faults_test_out/d.mat", "u", 2, shape, d, 0));
    cr_assert_gt(fault_loop("hdf5 read", NDE_FAULT_ALLOC, path_read, "faults_test_out/d.h5", NULL), 0);
    cr_assert_gt(fault_loop("mat read", NDE_FAULT_ALLOC, path_read, "faults_test_out/d.mat", NULL), 0);
#endif
#if NDE_HAVE_MATIO
    /* MATLAB v5 written by scipy, plain and compressed (tests/data/mat) */
    cr_assert_gt(fault_loop("mat v5 read", NDE_FAULT_ALLOC, path_read,
                            NDE_SOURCE_ROOT "/tests/data/mat/burgers_v5.mat", NULL), 0);
    cr_assert_gt(fault_loop("mat v5z read", NDE_FAULT_ALLOC, path_read,
                            NDE_SOURCE_ROOT "/tests/data/mat/burgers_v5_z.mat", NULL), 0);
#endif
}

/* ---- trainer with a checkpoint ---- */

static double tx[8], ty[8];

static nde_status path_trainer(void *arg)
{
    (void)arg;
    nde_model *m = NULL;
    nde_trainer *tr = NULL;
    nde_status st;
    TRY(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {4}}, "mlp",
                             NDE_INIT_TORCH, 0.0, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    TRY(nde_model_init(m, &rng));
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 4;
    ts.epochs = 2;
    ts.progress = 0;
    ts.loss = nde_loss_mse();
    ts.checkpoint_path = "faults_test_out/tr.safetensors";
    ts.metrics_path = "faults_test_out/tr.csv";
    nde_data d = {.n = 8, .x_size = 1, .y_size = 1, .x = tx, .y = ty};
    TRY(nde_trainer_create(m, &d, &d, &ts, &tr));
    TRY(nde_trainer_run(tr));
done:
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
    return st;
}

static void after_trainer(void *arg, nde_status st)
{
    (void)st;
    /* the checkpoint is absent or a complete file that loads */
    nde_model *m = small_mlp();
    (void)arg;
    nde_model_destroy(&m);
    FILE *f = fopen("faults_test_out/tr.safetensors", "rb");
    if (f) {
        fclose(f);
        nde_model *mm;
        CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {4}}, "mlp",
                                   NDE_INIT_TORCH, 0.0, &mm));
        CHECK(nde_checkpoint_load("faults_test_out/tr.safetensors", nde_model_params(mm), NULL, NULL));
        nde_model_destroy(&mm);
    }
    remove("faults_test_out/tr.safetensors");
    remove("faults_test_out/tr.csv");
}

/* Resume from a good checkpoint (written without faults as tr_good.safetensors, copied
 * to tr.safetensors before each run) and train on to 4 epochs. */
static nde_status path_resume(void *arg)
{
    (void)arg;
    nde_model *m = NULL;
    nde_trainer *tr = NULL;
    nde_status st;
    TRY(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {4}}, "mlp",
                             NDE_INIT_TORCH, 0.0, &m));
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 4;
    ts.epochs = 4;
    ts.progress = 0;
    ts.loss = nde_loss_mse();
    ts.checkpoint_path = "faults_test_out/tr.safetensors";
    ts.metrics_path = "faults_test_out/tr.csv";
    nde_data d = {.n = 8, .x_size = 1, .y_size = 1, .x = tx, .y = ty};
    TRY(nde_trainer_create(m, &d, &d, &ts, &tr));
    TRY(nde_trainer_resume(tr, "faults_test_out/tr.safetensors"));
    TRY(nde_trainer_run(tr));
done:
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
    return st;
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    char *b = slurp(from, &len);
    FILE *f = fopen(to, "wb");
    cr_assert(b && f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    free(b);
}

/* After a resumed run: the checkpoint is a complete file that loads (the good one, or a
 * later one); then the good one is put back for the next run. */
static void after_resume(void *arg, nde_status st)
{
    (void)arg, (void)st;
    nde_model *mm;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {4}}, "mlp",
                               NDE_INIT_TORCH, 0.0, &mm));
    CHECK(nde_checkpoint_load("faults_test_out/tr.safetensors", nde_model_params(mm), NULL, NULL));
    nde_model_destroy(&mm);
    copy_file("faults_test_out/tr_good.safetensors", "faults_test_out/tr.safetensors");
    remove("faults_test_out/tr.csv");
}

Test(faults, trainer_resume)
{
    mkdir("faults_test_out", 0755);
    for (int i = 0; i < 8; i++) tx[i] = i / 8.0, ty[i] = 2 * tx[i];
    CHECK(path_trainer(NULL)); /* 2 epochs: the good checkpoint */
    copy_file("faults_test_out/tr.safetensors", "faults_test_out/tr_good.safetensors");
    cr_assert_gt(fault_loop("trainer resume + run", NDE_FAULT_ALLOC, path_resume, NULL, after_resume), 0);
    cr_assert_gt(fault_loop("trainer resume + run", NDE_FAULT_WRITE, path_resume, NULL, after_resume), 0);
    remove("faults_test_out/tr.safetensors");
    remove("faults_test_out/tr_good.safetensors");
}

Test(faults, trainer_run)
{
    mkdir("faults_test_out", 0755);
    for (int i = 0; i < 8; i++) tx[i] = i / 8.0, ty[i] = 2 * tx[i];
    cr_assert_gt(fault_loop("trainer run (ckpt)", NDE_FAULT_ALLOC, path_trainer, NULL, after_trainer), 0);
    cr_assert_gt(fault_loop("trainer run (ckpt)", NDE_FAULT_WRITE, path_trainer, NULL, after_trainer), 0);
}

/* ---- the nde CLI, armed through NDE_FAULT=alloc:N / write:N (read by src/core/fault.c) ---- */
#if defined(NDE_CLI_EXE) && NDE_HAVE_HDF5
#include <dirent.h>
#include <sys/wait.h>

#define CLI_DIR "faults_test_out/cli"

/* Run `args` of the nde CLI with NDE_FAULT=<kind>:<n> (ASan reports made exit 200);
 * *failed receives the count of failed calls the CLI printed at exit, the return value
 * the exit code (-1: a signal). out receives stderr and stdout. */
static int run_cli(const char *kind, long n, const char *args, long *calls, long *failed,
                   char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd " CLI_DIR " && NDE_FAULT=%s:%ld ASAN_OPTIONS=detect_leaks=1:exitcode=200 "
             "UBSAN_OPTIONS=halt_on_error=1:exitcode=200 %s %s 2>&1",
             kind, n, NDE_CLI_EXE, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t len = fread(out, 1, cap - 1, p);
    out[len] = '\0';
    int rc = pclose(p);
    *calls = *failed = -1;
    const char *rep = strstr(out, "nde fault: ");
    cr_assert(rep && sscanf(rep, "nde fault: %*s calls %ld failed %ld", calls, failed) == 2,
              "%s: no fault report:\n%s", cmd, out);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* No partial output under dir: nothing named *.tmp.*, a checkpoint there loads as
 * safetensors, every metrics line is a complete JSON line, an .npy output is absent. */
static void no_partial_output(const char *dir, const char *what)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        cr_assert_null(strstr(e->d_name, ".tmp"), "%s: temporary %s/%s left", what, dir, e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (strstr(e->d_name, ".safetensors")) {
            nde_st_file *f = NULL;
            CHECK(nde_st_open(path, &f));
            nde_st_close(&f);
        }
        int npy = strstr(e->d_name, ".npy") != NULL;
        if (npy) closedir(d);
        cr_assert(!npy, "%s: output %s left after a failure", what, path);
        if (!strcmp(e->d_name, "metrics.jsonl")) {
            size_t len;
            char *b = slurp(path, &len);
            cr_assert(b && (len == 0 || b[len - 1] == '\n'), "%s: %s ends mid-line", what, path);
            free(b);
        }
    }
    closedir(d);
}

/* Loop one CLI command over N: every N up to `first` and the last `first` before the
 * complete run's count, every `stride`-th in between (stride 1: all). Each failing run
 * exits with 1..123 (not a signal, not a sanitizer report), prints a message, leaves
 * no partial output; returns the count of calls of the complete run. */
static long cli_loop(const char *name, const char *kind, const char *args, const char *outdir,
                     long first, long stride)
{
    static char out[1 << 16];
    long calls, failed, total;
    char rm[512];
    snprintf(rm, sizeof rm, "rm -rf " CLI_DIR "/%s && mkdir " CLI_DIR "/%s", outdir, outdir);
    cr_assert_eq(system(rm), 0);
    int rc = run_cli(kind, 0, args, &total, &failed, out, sizeof out);
    cr_assert(rc == 0 && total > 0, "%s: the complete run failed (exit %d):\n%s", name, rc, out);
    long runs = 0;
    for (long n = 1; n <= total; n++) {
        if (stride > 1 && n > first && n <= total - first && (n - first) % stride) continue;
        cr_assert_eq(system(rm), 0);
        rc = run_cli(kind, n, args, &calls, &failed, out, sizeof out);
        runs++;
        cr_assert(failed > 0, "%s: %s:%ld: no call failed (%ld calls)", name, kind, n, calls);
        /* A plot is an optional extra: a fault inside one is a warning and the run
         * still succeeds with its checkpoint (no work lost for a picture). */
        int plot_only = rc == 0 && strstr(out, ": warning: no ") && strstr(out, " plot");
        cr_assert(plot_only || (rc >= 1 && rc <= 123), "%s: %s:%ld: exit %d:\n%s", name, kind, n,
                  rc, out);
        cr_assert(strstr(out, "nde ") && strlen(out) > strlen(strstr(out, "nde fault: ")),
                  "%s: %s:%ld: no message:\n%s", name, kind, n, out);
        char dir[512];
        snprintf(dir, sizeof dir, CLI_DIR "/%s", outdir);
        no_partial_output(dir, name);
        no_partial_output(CLI_DIR, name);
    }
    snprintf(rm, sizeof rm, "rm -rf " CLI_DIR "/%s", outdir);
    cr_assert_eq(system(rm), 0);
    fprintf(stderr, "faults: %-22s %s: %ld sites, %ld runs\n", name, kind, total, runs);
    return total;
}

Test(faults, cli_train_and_data, .timeout = 600)
{
    mkdir("faults_test_out", 0755);
    mkdir(CLI_DIR, 0755);
    cr_assert_eq(system(NDE_CLI_EXE " data spiral --out " CLI_DIR "/s.h5 > /dev/null"), 0);
    const char *train = "train " NDE_SOURCE_ROOT "/examples/configs/spiral_node.ini "
                        "--set data.path=s.h5 --set train.epochs=2 --set data.ntrain=16 "
                        "--set data.ntest=8 --set model.hidden=4 --out o";
    if (!getenv("NDE_FAULT_CLI_DATA_ONLY")) {
        cli_loop("nde train", "alloc", train, "o", 50, 1);
        cli_loop("nde train", "write", train, "o", 50, 1);
    }
    cli_loop("nde data spiral .npy", "alloc", "data spiral --out d/s.npy", "d", 50, 1);
    cli_loop("nde data spiral .npy", "write", "data spiral --out d/s.npy", "d", 20, 211);
    cr_assert_eq(system("rm -rf " CLI_DIR), 0);
}
#endif
