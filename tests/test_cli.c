/* The nde front door (tools/nde: data, train, eval, predict) as a new user runs it, at
 * tiny sizes: the data → train → eval flow for Burgers (FNO-1D), Darcy (FNO-2D, MgNO) and
 * an MLP neural ODE; eval agrees with the trainer's own last test metric; predict writes
 * the targets' shape; --help of every command; configuration errors name the file, the
 * line and the key; missing files name the file and the system's reason; --resume
 * continues bit-exactly. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nde/checkpoint.h"
#include "nde/io.h"
#include "nde/nde.h"
#include "nde/safetensors.h"

#define NDE NDE_CLI_EXE
#define CONFIGS NDE_SOURCE_ROOT "/examples/configs"
#define DIR "cli_test_out"

static char out[1 << 16];

/* Run cmd (stdout and, when `both`, stderr captured into out); its exit code. */
static int run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int runf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int runf(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return run(cmd);
}

static void setup(void)
{
    cr_assert_eq(system("rm -rf " DIR " && mkdir -p " DIR), 0);
}

/* The number after "key": in a JSON text. */
static double json_number(const char *text, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(text, pat);
    cr_assert_not_null(p, "no %s in %s", key, text);
    return strtod(p + strlen(pat), NULL);
}

static void read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* train CONFIG with `sets` into DIR/name, then eval: the eval's value of `metric` equals
 * the trainer's final test metric in summary.json (two separate code paths). */
static void flow(const char *config, const char *data, const char *name, const char *sets,
                 const char *metric)
{
    int rc = runf(NDE " train " CONFIGS "/%s --set data.path=%s %s --out " DIR "/%s 2>&1",
                  config, data, sets, name);
    cr_assert_eq(rc, 0, "train %s: %s", config, out);
    char path[512], summary[4096];
    snprintf(path, sizeof path, DIR "/%s/summary.json", name);
    read_file(path, summary, sizeof summary);
    double trained = json_number(summary, "test_metric");
    cr_assert(isfinite(trained), "%s", summary);
    snprintf(path, sizeof path, DIR "/%s/summary.md", name);
    read_file(path, out, sizeof out);
    cr_assert(strstr(out, "# nde train") != NULL, "%s", out);
    rc = runf(NDE " eval " DIR "/%s/checkpoint.safetensors %s", name, data);
    cr_assert_eq(rc, 0, "eval: %s", out);
    char pat[64];
    snprintf(pat, sizeof pat, "\"metric\": \"%s\"", metric);
    const char *line = strstr(out, pat);
    cr_assert_not_null(line, "%s", out);
    double evald = json_number(line, "value");
    cr_assert(fabs(evald - trained) <= 1e-8 * fabs(trained), "eval %.12g, trainer %.12g", evald,
              trained);
    cr_assert_eq(strstr(out, "\"metric\"") != NULL && strstr(out, "\"samples\"") != NULL, 1);
}

Test(cli, burgers_data_train_eval_predict, .init = setup)
{
    cr_assert_eq(run(NDE " data burgers --n 30 --s 64 --out " DIR "/b.h5 2>&1"), 0, "%s", out);
    nde_array a = {0};
    cr_assert_eq(nde_h5_read(DIR "/b.h5", "u", 2, &a), NDE_OK);
    cr_assert(a.shape[0] == 30 && a.shape[1] == 64);
    nde_array_free(&a);
    flow("burgers_fno.ini", DIR "/b.h5", "burgers",
         "--set data.ntrain=20 --set data.ntest=10 --set data.subsample=1 --set train.epochs=2 "
         "--set train.batch=5 --set model.width=8 --set model.modes=4",
         "rel_l2");
    /* an FNO as the vector field of a neural ODE on the same data (u(1) from u(0)) */
    flow("burgers_fno.ini", DIR "/b.h5", "fno_node",
         "--set model.kind=fno_node --set data.ntrain=20 --set data.ntest=10 "
         "--set data.subsample=1 --set train.epochs=1 --set train.batch=5 --set model.width=4 "
         "--set model.modes=4 --set solver.method=rk4 --set solver.h0=0.25",
         "rel_l2");
    /* the checkpoint alone carries its configuration (metadata nde.config) */
    cr_assert_eq(system("cp " DIR "/burgers/checkpoint.safetensors " DIR "/alone.safetensors"), 0);
    cr_assert_eq(run(NDE " eval " DIR "/burgers/checkpoint.safetensors " DIR "/b.h5"), 0, "%s", out);
    char first[4096];
    const char *split = strstr(out, "\"split\"");
    snprintf(first, sizeof first, "%.*s", (int)strcspn(split, "\n"), split);
    cr_assert_eq(run(NDE " eval " DIR "/alone.safetensors " DIR "/b.h5"), 0, "%s", out);
    split = strstr(out, "\"split\"");
    cr_assert(strlen(first) > 40 && !strncmp(split, first, strlen(first)), "%s vs %s", split, first);
    /* predictions in the targets' layout */
    cr_assert_eq(run(NDE " predict " DIR "/burgers/checkpoint.safetensors " DIR "/b.h5 --out " DIR
                     "/pred.npy 2>&1"), 0, "%s", out);
    cr_assert_eq(nde_npy_read(DIR "/pred_u.npy", 2, &a), NDE_OK, "%s", nde_last_error());
    cr_assert(a.shape[0] == 30 && a.shape[1] == 64);
    nde_array_free(&a);
    /* a .npy data family works as well */
    cr_assert_eq(run(NDE " data burgers --n 12 --s 32 --out " DIR "/b.npy 2>&1"), 0, "%s", out);
    cr_assert_eq(nde_npy_read(DIR "/b_a.npy", 2, &a), NDE_OK);
    cr_assert(a.shape[0] == 12 && a.shape[1] == 32);
    nde_array_free(&a);
}

/* [model] constraint = mean: the predictions keep each input's mean (the projection of
 * nde/constraint.h, through the scalar normalizer's shift and scale); a model kind
 * without an output of the input's shape is refused. */
Test(cli, mean_constraint_keeps_the_input_mean, .init = setup)
{
    cr_assert_eq(run(NDE " data burgers --n 16 --s 32 --out " DIR "/b.h5 2>&1"), 0, "%s", out);
    flow("burgers_fno.ini", DIR "/b.h5", "mean",
         "--set model.constraint=mean --set data.normalize=scalar --set data.ntrain=10 "
         "--set data.ntest=6 --set data.subsample=1 --set train.epochs=1 --set train.batch=5 "
         "--set model.width=4 --set model.modes=4 --set model.threads=1",
         "rel_l2");
    cr_assert_eq(run(NDE " predict " DIR "/mean/checkpoint.safetensors " DIR "/b.h5 --out " DIR
                     "/pm.npy 2>&1"), 0, "%s", out);
    nde_array a = {0}, p = {0};
    cr_assert_eq(nde_h5_read(DIR "/b.h5", "a", 2, &a), NDE_OK);
    cr_assert_eq(nde_npy_read(DIR "/pm_u.npy", 2, &p), NDE_OK, "%s", nde_last_error());
    cr_assert(p.shape[0] == 16 && p.shape[1] == 32);
    for (size_t s = 0; s < 16; s++) {
        double ma = 0.0, mp = 0.0, scale = 0.0;
        for (size_t i = 0; i < 32; i++) {
            ma += a.data[s * 32 + i] / 32.0;
            mp += p.data[s * 32 + i] / 32.0;
            scale = fmax(scale, fabs(a.data[s * 32 + i]));
        }
        cr_expect(fabs(ma - mp) <= 1e-12 * scale, "sample %zu: mean a %.17g, prediction %.17g", s,
                  ma, mp);
    }
    nde_array_free(&a);
    nde_array_free(&p);
    int rc = runf(NDE " train " CONFIGS "/darcy_mgno.ini --set data.path=" DIR "/b.h5 "
                  "--set model.constraint=mean --out " DIR "/bad 2>&1");
    cr_expect_eq(rc, 2, "%s", out);
    cr_expect(strstr(out, "constraint = mean needs kind = fno1d") != NULL, "%s", out);
}

static void fails(int code, const char *cmd, const char *const *want);

/* mean over samples of |p − u|₂ / |u|₂ over rows of `size` values */
static double rel_l2_rows(const double *p, const double *u, size_t rows, size_t size)
{
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        double num = 0.0, den = 0.0;
        for (size_t j = 0; j < size; j++) {
            const double e = p[r * size + j] - u[r * size + j];
            num += e * e;
            den += u[r * size + j] * u[r * size + j];
        }
        sum += sqrt(num / den);
    }
    return sum / (double)rows;
}

/* NeuralStagger from nde (examples/configs/burgers_stagger.ini): windows of 2 levels from
 * nde data burgers --windows, trained on the Burgers residual alone; the residual falls,
 * nde eval agrees with the trainer, the prediction is nearer the true next window than
 * persistence is, predict writes windows, and the checkpoint is the bits of the same run
 * made through the C API (nde_model_stagger_create + nde_trainer). */
Test(cli, neural_stagger_physics_loss, .init = setup)
{
    cr_assert_eq(run(NDE " data burgers --n 24 --s 32 --windows 2 --out " DIR "/w.h5 2>&1"), 0,
                 "%s", out);
    nde_array a = {0}, u = {0}, p = {0};
    cr_assert_eq(nde_h5_read(DIR "/w.h5", "a", 3, &a), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_h5_read(DIR "/w.h5", "u", 3, &u), NDE_OK, "%s", nde_last_error());
    cr_assert(a.shape[0] == 24 && a.shape[1] == 2 && a.shape[2] == 32);
    /* the windows are consecutive levels: a's level 1 is u's level −1, so the true
     * increment over one window is small but not zero */
    const double persist = rel_l2_rows(a.data + 16 * 64, u.data + 16 * 64, 8, 64);
    cr_assert(persist > 1e-3 && persist < 0.5, "persistence error %g", persist);
    const char *sets = "--set data.ntrain=16 --set data.ntest=8 --set model.stagger_time=2 "
                       "--set train.batch=4 --set train.epochs=12";
    flow("burgers_stagger.ini", DIR "/w.h5", "stagger", sets, "burgers_residual");
    /* the physics loss falls */
    char text[1 << 14];
    read_file(DIR "/stagger/metrics.jsonl", text, sizeof text);
    const double first = json_number(text, "test_metric");
    read_file(DIR "/stagger/summary.json", text, sizeof text);
    const double last = json_number(text, "test_metric");
    cr_expect(last < 0.25 * first, "residual %g after the first epoch, %g at the end", first, last);
    /* eval against the true next window (u) */
    cr_assert_eq(run(NDE " eval " DIR "/stagger/checkpoint.safetensors " DIR "/w.h5"), 0, "%s", out);
    const char *line = strstr(out, "\"target\": \"u\", \"metric\": \"rel_l2\"");
    cr_assert_not_null(line, "%s", out);
    const double err = json_number(line, "value");
    /* predict: windows of the inputs' shape, whose error is the one eval reports */
    cr_assert_eq(run(NDE " predict " DIR "/stagger/checkpoint.safetensors " DIR "/w.h5 --out " DIR
                     "/next.h5 2>&1"), 0, "%s", out);
    cr_assert_eq(nde_h5_read(DIR "/next.h5", "u", 3, &p), NDE_OK, "%s", nde_last_error());
    cr_assert(p.shape[0] == 24 && p.shape[1] == 2 && p.shape[2] == 32);
    const double err_p = rel_l2_rows(p.data + 16 * 64, u.data + 16 * 64, 8, 64);
    cr_expect(fabs(err_p - err) <= 1e-8 * err, "predict %.17g, eval %.17g (printed %%.9g)", err_p,
              err);
    cr_expect(err < persist, "trained on the residual: error %g, persistence %g", err, persist);

    /* the same run through the C API: the same bits */
    nde_ctx *ctx;
    cr_assert_eq(nde_ctx_create(&ctx), NDE_OK);
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.width = 8, sp.n_modes[0] = 4, sp.n_layers = 2, sp.n_proj_hidden = 1, sp.proj_hidden[0] = 16;
    sp.padding = 0.0, sp.precision = NDE_PRECISION_FLOAT32;
    const size_t pts = 32 / 4, batch = 4;
    nde_stagger_model_spec spec = {.grid = {.ndim = 1, .channels = 1, .nt = 2, .n = {32},
                                            .s_t = 2, .s = {4}}, .residual = 1};
    nde_model *m[2];
    for (int k = 0; k < 2; k++) {
        nde_model *sub;
        cr_assert_eq(nde_model_fno_create(ctx, &sp, &pts, 8 * batch, 1, &sub), NDE_OK);
        cr_assert_eq(nde_model_stagger_create(&spec, &sub, 1, &m[k]), NDE_OK, "%s",
                     nde_last_error());
    }
    nde_rng rng;
    nde_rng_seed(&rng, 0);
    cr_assert_eq(nde_model_init(m[0], &rng), NDE_OK);
    nde_burgers_residual_spec rs = {.n = 32, .nt = 2, .length = 1.0, .dt = 0.005, .nu = 0.1,
                                    .theta = 0.5};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = batch, ts.epochs = 12, ts.sampling = NDE_SAMPLE_SHUFFLE;
    ts.use_rng = 1, ts.rng = rng; /* the order continues the initialization's generator */
    ts.optim = nde_optim_defaults(NDE_OPT_ADAM);
    ts.optim.lr = 3e-3;
    ts.schedule = (nde_schedule){.kind = NDE_SCHED_CONSTANT, .v0 = 3e-3, .steps = 12,
                                 .gamma = 0.5, .period = 10, .pct_start = 0.3,
                                 .div_factor = 25.0, .final_div_factor = 1e4};
    ts.loss = ts.eval = nde_loss_burgers_residual(&rs);
    ts.eval_every = 1;
    ts.progress = 0;
    nde_data train = {.n = 16, .x_size = 64, .y_size = 64, .x = a.data, .y = a.data};
    nde_data test = {.n = 8, .x_size = 64, .y_size = 64, .x = a.data + 16 * 64,
                     .y = a.data + 16 * 64};
    nde_trainer *tr;
    cr_assert_eq(nde_trainer_create(m[0], &train, &test, &ts, &tr), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_trainer_run(tr), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_checkpoint_load(DIR "/stagger/checkpoint.safetensors", nde_model_params(m[1]),
                                     NULL, NULL), NDE_OK, "%s", nde_last_error());
    const size_t count = nde_params_count(nde_model_params(m[0]));
    cr_assert_eq(count, nde_params_count(nde_model_params(m[1])));
    cr_expect(memcmp(nde_params_theta(nde_model_params(m[0])),
                     nde_params_theta(nde_model_params(m[1])), count * sizeof(double)) == 0,
              "nde train and the C API differ");
    nde_trainer_destroy(&tr);
    for (int k = 0; k < 2; k++) nde_model_destroy(&m[k]);
    nde_ctx_destroy(&ctx);
    nde_array_free(&a);
    nde_array_free(&u);
    nde_array_free(&p);

    /* every key checked; the combinations that cannot work named */
    FILE *f = fopen(DIR "/bad.ini", "w");
    cr_assert_not_null(f);
    fprintf(f, "[model]\nkind = fno1d\nstagger_space = 4\nstagger_time = 0\n");
    fclose(f);
    fails(2, NDE " train " DIR "/bad.ini",
          (const char *const[]){DIR "/bad.ini:4:", "stagger_time", "bad value", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_stagger.ini --set model.stagger_shared=maybe",
          (const char *const[]){"stagger_shared", "maybe", "true", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_stagger.ini --set train.burgers_theta=1.5",
          (const char *const[]){"burgers_theta", "[0, 1]", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_stagger.ini --set train.burgers_dt=0",
          (const char *const[]){"burgers_dt", "> 0", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_stagger.ini --set train.metric=mse",
          (const char *const[]){"burgers_residual is either both or neither", NULL});
    fails(2, NDE " train " CONFIGS "/darcy_mgno.ini --set model.stagger_space=2",
          (const char *const[]){"stagger_space", "kind = fno1d", NULL});
    fails(1, NDE " train " CONFIGS "/burgers_stagger.ini --set data.path=" DIR "/w.h5 "
             "--set model.stagger_time=2 --set model.stagger_space=3 --set data.ntrain=16 --out " DIR
             "/bad",
          (const char *const[]){"stagger_space = 3 does not divide", "32", NULL});
    fails(1, NDE " train " CONFIGS "/burgers_stagger.ini --set data.path=" DIR "/w.h5 "
             "--out " DIR "/bad",
          (const char *const[]){"w.h5", "(24, 2, 32)", "(samples, 1, S)", NULL});
}

Test(cli, darcy_fno_and_mgno, .init = setup)
{
    cr_assert_eq(run(NDE " data darcy --n 16 --s 17 --out " DIR "/d.h5 2>&1"), 0, "%s", out);
    const char *sets = "--set data.ntrain=12 --set data.ntest=4 --set train.epochs=2 "
                       "--set train.batch=4 --set model.width=6 --set model.modes=4";
    flow("darcy_fno.ini", DIR "/d.h5", "dfno", sets, "rel_l2");
    char mg[512]; /* one-cycle over the 6 steps rather than 2 epochs */
    snprintf(mg, sizeof mg, "%s --set schedule.per=step", sets);
    flow("darcy_mgno.ini", DIR "/d.h5", "dmgno", mg, "rel_l2");
    /* the config's scalar normalizer was resolved and stored for eval */
    read_file(DIR "/dmgno/config.ini", out, sizeof out);
    cr_assert(strstr(out, "normalize = scalar") != NULL && strstr(out, "x_scale = 0\n") == NULL,
              "%s", out);
}

Test(cli, mlp_neural_ode, .init = setup)
{
    cr_assert_eq(run(NDE " data spiral --n 24 --out " DIR "/s.h5 2>&1"), 0, "%s", out);
    nde_array y = {0};
    cr_assert_eq(nde_h5_read(DIR "/s.h5", "y", 3, &y), NDE_OK);
    cr_assert(y.shape[0] == 24 && y.shape[1] == 10 && y.shape[2] == 2);
    nde_array x = {0};
    cr_assert_eq(nde_h5_read(DIR "/s.h5", "x", 2, &x), NDE_OK);
    for (size_t i = 0; i < 24; i++) /* the first saved state is the initial state */
        cr_assert(y.data[i * 20] == x.data[2 * i] && y.data[i * 20 + 1] == x.data[2 * i + 1]);
    nde_array_free(&x);
    nde_array_free(&y);
    flow("spiral_node.ini", DIR "/s.h5", "spiral",
         "--set data.ntrain=16 --set data.ntest=8 --set train.epochs=3 --set train.batch=8 "
         "--set model.hidden=8",
         "mse");
    /* a hostile output folder: the JSON outputs escape it */
    cr_assert_eq(run(NDE " train " CONFIGS "/spiral_node.ini --set data.path=" DIR "/s.h5 "
                     "--set data.ntrain=16 --set data.ntest=8 --set train.epochs=1 "
                     "--set train.batch=8 --out '" DIR "/q\"u\\o;te' 2>&1"), 0, "%s", out);
    read_file(DIR "/q\"u\\o;te/summary.json", out, sizeof out);
    cr_assert(strstr(out, "\"checkpoint\": \"" DIR "/q\\\"u\\\\o;te/checkpoint.safetensors\"") != NULL,
              "%s", out);
}

/* nde --help (each command's --help: acceptance_sweep_of_every_command_and_driver) */
Test(cli, help_of_nde)
{
    cr_assert_eq(run(NDE " --help"), 0);
    cr_assert(strstr(out, "nde train CONFIG") != NULL && strstr(out, "nde bench NAME") != NULL,
              "%s", out);
    cr_assert_eq(run(NDE " 2>&1"), 2, "%s", out);
    cr_assert_eq(run(NDE " frobnicate 2>&1"), 2, "%s", out);
    cr_assert(strstr(out, "frobnicate") != NULL, "%s", out);
}

/* Run a failing command: its exit code, and stderr holds every string of want[]. */
#define LONG40 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define LONG200 LONG40 LONG40 LONG40 LONG40 LONG40

static void fails(int code, const char *cmd, const char *const *want)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1 >/dev/null", cmd);
    int rc = run(full);
    cr_assert_eq(rc, code, "%s: exit %d: %s", cmd, rc, out);
    for (int i = 0; want[i]; i++)
        cr_assert(strstr(out, want[i]) != NULL, "%s: '%s' not in: %s", cmd, want[i], out);
}

Test(cli, configuration_errors_name_file_line_and_key, .init = setup)
{
    FILE *f = fopen(DIR "/bad.ini", "w");
    cr_assert_not_null(f);
    fprintf(f, "; comment\n[model]\nkind = fno1d\nwidht = 3\n");
    fclose(f);
    fails(2, NDE " train " DIR "/bad.ini",
          (const char *const[]){DIR "/bad.ini:4:", "widht", "unknown key", NULL});
    f = fopen(DIR "/bad.ini", "w");
    fprintf(f, "[train]\n\nepochs = 10x\n");
    fclose(f);
    fails(2, NDE " train " DIR "/bad.ini",
          (const char *const[]){DIR "/bad.ini:3:", "epochs", "10x", "bad value", NULL});
    f = fopen(DIR "/bad.ini", "w");
    fprintf(f, "[optim]\nlr = nan\n");
    fclose(f);
    fails(2, NDE " train " DIR "/bad.ini", (const char *const[]){"bad.ini:2:", "lr", NULL});
    f = fopen(DIR "/bad.ini", "w");
    fprintf(f, "[optimizer]\nlr = 1\n");
    fclose(f);
    fails(2, NDE " train " DIR "/bad.ini",
          (const char *const[]){"bad.ini:2:", "unknown section [optimizer]", NULL});
    f = fopen(DIR "/bad.ini", "w");
    fprintf(f, "[optim]\nkind = adamx\n");
    fclose(f);
    fails(2, NDE " train " DIR "/bad.ini", (const char *const[]){"bad.ini:2:", "adamx", NULL});
    /* --set goes through the same checks */
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set train.batch=0",
          (const char *const[]){"--set", "batch", "bad value", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set model.nosuch=1",
          (const char *const[]){"--set", "nosuch", "unknown key", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set model.hidden=8,,8",
          (const char *const[]){"hidden", "8,,8", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set 'data.path=a\nb'",
          (const char *const[]){"data", "path", "INI", NULL});
    /* fuzzing findings (tests/fuzz/corpus/config): values that would not read back from
     * the run's config.ini, a leading ';' (a comment there) and lines over libinih's 197
     * characters, are refused; an over-long line in a file is named as such */
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set 'data.y=;x'",
          (const char *const[]){"data", "y", "leading ';'", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set data.path=" LONG200,
          (const char *const[]){"path", "too long", "197", NULL});
    fails(2, NDE " train " NDE_SOURCE_ROOT "/tests/fuzz/corpus/config/long-line.ini",
          (const char *const[]){"long-line.ini:2:", "path", "too long", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set oops",
          (const char *const[]){"oops", "section.key=value", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set data.path=x.h5 --set train.ema_decay=1",
          (const char *const[]){"ema_decay", "below 1", NULL});
    fails(2, NDE " train " CONFIGS "/burgers_fno.ini --set data.path=x.h5 "
          "--set schedule.warmup_frac=1.5", (const char *const[]){"warmup_frac", "below 1", NULL});
    /* missing files: the file and the system's reason */
    fails(2, NDE " train " DIR "/nosuch.ini",
          (const char *const[]){DIR "/nosuch.ini", "No such file or directory", NULL});
    fails(2, NDE " train " DIR, (const char *const[]){DIR, "Is a directory", NULL});
    fails(1, NDE " train " CONFIGS "/burgers_fno.ini --set data.path=" DIR "/nosuch.h5 --out " DIR
             "/x", (const char *const[]){DIR "/nosuch.h5", "No such file or directory", NULL});
    fails(1, NDE " eval " DIR "/nosuch.safetensors " DIR "/b.h5",
          (const char *const[]){DIR "/nosuch.safetensors", "No such file or directory", NULL});
    fails(2, NDE " data burgers", (const char *const[]){"--out", NULL});
    fails(2, NDE " data heat --out x.h5", (const char *const[]){"heat", NULL});
    fails(2, NDE " data burgers --n 0 --out x.h5", (const char *const[]){"--n", NULL});
    fails(2, NDE " train", (const char *const[]){"expected", NULL});
}

/* The tensors of two checkpoints are equal bit for bit (the metrics history holds wall
 * times and is skipped). */
static void same_tensors(const char *p, const char *q)
{
    nde_st_file *a, *b;
    cr_assert_eq(nde_st_open(p, &a), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_open(q, &b), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_n_tensors(a), nde_st_n_tensors(b));
    size_t compared = 0;
    for (size_t i = 0; i < nde_st_n_tensors(a); i++) {
        const nde_st_tensor *t = nde_st_tensor_at(a, i), *u = nde_st_find(b, t->name);
        cr_assert_not_null(u, "%s missing", t->name);
        if (!strcmp(t->name, "train.history")) continue;
        cr_assert_eq(t->nbytes, u->nbytes, "%s", t->name);
        cr_assert(memcmp(t->data, u->data, t->nbytes) == 0, "%s differs", t->name);
        compared++;
    }
    cr_assert_gt(compared, 5);
    nde_st_close(&a);
    nde_st_close(&b);
}

Test(cli, resume_continues_bit_exactly, .init = setup)
{
    cr_assert_eq(run(NDE " data burgers --n 24 --s 32 --out " DIR "/b.h5 2>&1"), 0, "%s", out);
    const char *cfg = NDE " train " CONFIGS "/burgers_fno.ini --set data.path=" DIR "/b.h5 "
                      "--set data.ntrain=16 --set data.ntest=8 --set data.subsample=1 "
                      "--set train.batch=4 --set model.width=8 --set model.modes=4 "
                      "--set schedule.kind=step --set schedule.per=epoch --set schedule.period=1";
    /* (StepLR: a run extended from 1 to 3 epochs has the schedule of a 3-epoch run; the
     * default linear decay spans the configured epochs, so its 1-epoch run differs) */
    cr_assert_eq(runf("%s --set train.epochs=3 --out " DIR "/whole 2>&1", cfg), 0, "%s", out);
    cr_assert_eq(runf("%s --set train.epochs=1 --out " DIR "/parts 2>&1", cfg), 0, "%s", out);
    cr_assert_eq(runf("%s --set train.epochs=3 --out " DIR "/parts --resume 2>&1", cfg), 0, "%s",
                 out);
    cr_assert(strstr(out, "resumed") != NULL, "%s", out);
    same_tensors(DIR "/whole/checkpoint.safetensors", DIR "/parts/checkpoint.safetensors");
    /* the metrics file holds every epoch once */
    read_file(DIR "/parts/metrics.jsonl", out, sizeof out);
    cr_assert(strstr(out, "\"epoch\": 3") != NULL && strstr(out, "\"epoch\": 4") == NULL, "%s",
              out);
    /* --resume with another configuration names the first difference */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --set train.epochs=4 --set optim.lr=0.5 --out " DIR "/parts --resume",
             cfg);
    fails(1, cmd, (const char *const[]){"another configuration", "[optim]", "lr = 0.5", NULL});
    /* --resume without a checkpoint names it */
    fails(1, NDE " train " CONFIGS "/burgers_fno.ini --set data.path=" DIR "/b.h5 --out " DIR
             "/none --resume", (const char *const[]){DIR "/none/checkpoint.safetensors", NULL});
}

/* Every shipped configuration parses (the run then stops at the missing data file). */
Test(cli, every_example_configuration_parses, .init = setup)
{
    const char *names[] = {"burgers_fno", "burgers_fno_paper", "burgers_stagger", "darcy_fno",
                           "darcy_fno_paper", "darcy_mgno", "spiral_node"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, NDE " train " CONFIGS "/%s.ini --set data.path=" DIR
                 "/absent.h5 --out " DIR "/absent", names[i]);
        fails(1, cmd, (const char *const[]){DIR "/absent.h5", "No such file", NULL});
    }
    cr_assert_eq(runf("ls " CONFIGS "/*.ini | wc -l"), 0);
    cr_assert_eq(atoi(out), (int)(sizeof names / sizeof names[0]), "a config is not listed: %s", out);
}

/* nde bench runs the bench programs (execv, arguments passed through) and names an
 * unknown benchmark with the list of valid ones. */
Test(cli, bench_runs_the_bench_programs)
{
    cr_assert_eq(run(NDE " bench --list"), 0, "%s", out);
    const char *names[] = {"adjoint_memory", "constraint", "fno", "fno2d", "mgno", "nn", "optim",
                           "optim_operator", "regularizers", "spiral"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "  %s ", names[i]);
        cr_assert(strstr(out, line) != NULL, "%s not listed: %s", names[i], out);
    }
#ifdef NDE_HAVE_BENCH
    /* the fastest, shrunk; its own options pass through unchanged */
    cr_assert_eq(run(NDE " bench regularizers --reps 1 --batch 2 --dim 2 --hidden 4 2>&1"), 0,
                 "%s", out);
    cr_assert(strstr(out, "{\"bench\": \"regularizers\"") != NULL, "%s", out);
    cr_assert_eq(run(NDE " bench regularizers --reps 0x 2>&1"), 2, "%s", out);
    cr_assert(strstr(out, "--reps") != NULL, "%s", out);
    cr_assert_eq(run(NDE " bench constraint --n 8 --reps 1 --batch 1 2>&1"), 0, "%s", out);
    cr_assert(strstr(out, "\"config\": \"experts_4x4\", \"N\": 8, \"metric\": \"max_div_constrained\"") != NULL,
              "%s", out);
#endif
    fails(2, NDE " bench nosuch", (const char *const[]){"nosuch", "regularizers", "spiral", NULL});
    fails(2, NDE " bench", (const char *const[]){"name the benchmark", "fno2d", NULL});
    fails(2, NDE " bench --bogus", (const char *const[]){"--bogus", NULL});
}

/* examples/configs/darcy_fno.ini is the darcy driver's FNO run (pointwise normalizers of
 * input and output, the loss and metric on the decoded output, the driver's seeds): on the
 * same data file at a tiny size the two runs end with the same bits — every tensor of the
 * checkpoints (θ, Adam's moments, the generator, the order) and every metrics line but the
 * wall times. */
#if defined(NDE_DARCY_EXE)
Test(cli, darcy_config_reproduces_the_darcy_driver, .init = setup)
{
    cr_assert_eq(run(NDE " data darcy --n 12 --s 25 --seed 1 --out " DIR "/d.h5 2>&1"), 0, "%s", out);
    cr_assert_eq(run(NDE " train " CONFIGS "/darcy_fno.ini --set data.path=" DIR "/d.h5 "
                     "--set data.ntrain=8 --set data.ntest=4 --set train.epochs=3 "
                     "--set train.batch=4 --set schedule.period=1 --out " DIR "/cli 2>&1"),
                 0, "%s", out);
    cr_assert_eq(run(NDE_DARCY_EXE " --model fno --data " DIR "/d.h5 --s 25 --ntrain 8 --ntest 4 "
                     "--epochs 3 --batch-fno 4 --seed 1 --no-plot --out " DIR "/drv 2>&1"),
                 0, "%s", out);
    same_tensors(DIR "/cli/checkpoint.safetensors", DIR "/drv/fno_checkpoint.safetensors");
    char a[8192], b[8192];
    read_file(DIR "/cli/metrics.jsonl", a, sizeof a);
    read_file(DIR "/drv/fno_metrics.jsonl", b, sizeof b);
    for (const char *p = a, *q = b; *p || *q;) { /* each line up to "train_seconds" */
        const char *pe = strstr(p, "\"train_seconds\""), *qe = strstr(q, "\"train_seconds\"");
        cr_assert(pe && qe && pe - p == qe - q && !strncmp(p, q, (size_t)(pe - p)),
                  "metrics differ:\n%s\n%s", a, b);
        p = strchr(pe, '\n') + 1, q = strchr(qe, '\n') + 1;
    }
    cr_assert(strstr(a, "\"epoch\": 3") != NULL, "%s", a);
    /* nde eval applies the stored normalizer: its metric is the trainer's last one */
    cr_assert_eq(run(NDE " eval " DIR "/cli/checkpoint.safetensors " DIR "/d.h5"), 0, "%s", out);
    char summary[4096];
    read_file(DIR "/cli/summary.json", summary, sizeof summary);
    cr_assert_eq(json_number(out, "value"), json_number(summary, "test_metric"), "%s vs %s", out,
                 summary);
}
#endif

/* examples/configs/burgers_fno.ini is the burgers_fno driver's run: the same bits on the
 * same data file at a tiny size, with the default schedule (linear decay to zero per step)
 * and with StepLR plus a moving average of θ (train.ema in both checkpoints); nde eval
 * --ema evaluates the average. */
#if defined(NDE_BURGERS_EXE)
Test(cli, burgers_config_reproduces_the_burgers_driver, .init = setup)
{
    cr_assert_eq(run(NDE " data burgers --n 24 --s 64 --out " DIR "/b.h5 2>&1"), 0, "%s", out);
    cr_assert_eq(run(NDE " train " CONFIGS "/burgers_fno.ini --set data.path=" DIR "/b.h5 "
                     "--set data.ntrain=16 --set data.ntest=8 --set train.batch=4 "
                     "--set train.epochs=3 --set schedule.period=1 --set output.plots=false "
                     "--out " DIR "/cli 2>&1"), 0, "%s", out);
    cr_assert_eq(run(NDE_BURGERS_EXE " --data " DIR "/b.h5 --n 32 --ntrain 16 --ntest 8 --batch 4 "
                     "--epochs 3 --step 1 --threads 2 --seed 0 --out " DIR "/drv 2>&1"),
                 0, "%s", out);
    same_tensors(DIR "/cli/checkpoint.safetensors", DIR "/drv/checkpoint.safetensors");
    cr_assert_eq(run(NDE " train " CONFIGS "/burgers_fno.ini --set data.path=" DIR "/b.h5 "
                     "--set data.ntrain=16 --set data.ntest=8 --set train.batch=4 "
                     "--set train.epochs=3 --set schedule.kind=step --set schedule.per=epoch "
                     "--set schedule.period=1 --set train.ema_decay=0.9 "
                     "--set train.ema_warmup=true --set output.plots=false "
                     "--out " DIR "/cli_ema 2>&1"), 0, "%s", out);
    cr_assert_eq(run(NDE_BURGERS_EXE " --data " DIR "/b.h5 --n 32 --ntrain 16 --ntest 8 --batch 4 "
                     "--epochs 3 --schedule step --step 1 --ema 0.9 --ema-warmup --threads 2 "
                     "--seed 0 --out " DIR "/drv_ema 2>&1"),
                 0, "%s", out);
    same_tensors(DIR "/cli_ema/checkpoint.safetensors", DIR "/drv_ema/checkpoint.safetensors");
    char summary[4096];
    read_file(DIR "/cli_ema/summary.json", summary, sizeof summary);
    const double theta = json_number(summary, "test_metric"), ema = json_number(summary, "test_metric_ema");
    cr_assert(theta > 0 && ema > 0 && theta != ema, "%s", summary);
    /* nde eval sums the per-sample errors in one pass, the trainer per batch: the same
     * figures up to the order of the additions */
    cr_assert_eq(run(NDE " eval " DIR "/cli_ema/checkpoint.safetensors " DIR "/b.h5 --ema"), 0,
                 "%s", out);
    cr_assert(strstr(out, "\"weights\": \"ema\"") != NULL, "%s", out);
    cr_assert(fabs(json_number(out, "value") - ema) <= 1e-12 * ema, "%s vs %s", out, summary);
    cr_assert_eq(run(NDE " eval " DIR "/cli_ema/checkpoint.safetensors " DIR "/b.h5"), 0, "%s", out);
    cr_assert(fabs(json_number(out, "value") - theta) <= 1e-12 * theta, "%s vs %s", out, summary);
    /* a checkpoint without an average */
    cr_assert_neq(run(NDE " eval " DIR "/cli/checkpoint.safetensors " DIR "/b.h5 --ema 2>&1"), 0,
                  "%s", out);
    cr_assert(strstr(out, "train.ema") != NULL, "%s", out);
}
#endif

/* Run cmd with stdout and stderr into separate strings; its exit code. */
static int run_split(const char *cmd, char *so, char *se, size_t cap)
{
    char full[4096];
    snprintf(full, sizeof full, "%s >" DIR "/sweep.out 2>" DIR "/sweep.err", cmd);
    int st = system(full);
    read_file(DIR "/sweep.out", so, cap);
    read_file(DIR "/sweep.err", se, cap);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One command of the acceptance sweep: `base` (the command with what it needs to reach its
 * options), a bad value of an option (NULL: the command has no option taking a value) and
 * the option it names, and failing file commands with the file they must name. */
typedef struct sweep_cmd {
    const char *base, *bad_value, *bad_value_names;
    const char *missing, *missing_names, *missing_errno;
    int dir_is_input; /* the file argument is a folder (fashion_mnist_node --data) */
} sweep_cmd;

/* Every nde subcommand and every example driver, as the acceptance asks: --help
 * exits 0 with the usage on stdout and nothing on stderr; an unknown option and a bad
 * value exit 2 naming the option; a missing file is named with the system's reason, and
 * so is an unreadable one (chmod 000; as root, who reads everything, a dangling symlink
 * and a directory instead). */
Test(cli, acceptance_sweep_of_every_command_and_driver, .init = setup)
{
    static char so[1 << 16], se[1 << 16];
    cr_assert_eq(run(NDE " data burgers --n 4 --s 16 --out " DIR "/b.h5 2>&1"), 0, "%s", out);
    const sweep_cmd cmds[] = {
        {NDE " data burgers --out " DIR "/x.h5", "--n x", "--n", NDE " data burgers --out " DIR
         "/nodir/x.h5", DIR "/nodir", "No such file or directory", 0},
        {NDE " train " CONFIGS "/burgers_fno.ini", "--set oops", "--set", NDE " train " DIR
         "/FILE", DIR "/FILE", NULL, 0},
        {NDE " eval x.safetensors " DIR "/b.h5", "--split nope", "--split", NDE " eval " DIR
         "/FILE " DIR "/b.h5", DIR "/FILE", NULL, 0},
        {NDE " predict x.safetensors " DIR "/b.h5", "--out ''", "--out", NDE " predict " DIR
         "/FILE " DIR "/b.h5 --out " DIR "/p.h5", DIR "/FILE", NULL, 0},
        {NDE " inspect " DIR "/b.h5", NULL, NULL, NDE " inspect " DIR "/FILE.h5 a", DIR "/FILE",
         NULL, 0},
        {NDE " steps", "--mu x", "--mu", NULL, NULL, NULL, 0},
        {NDE " info", NULL, NULL, NULL, NULL, NULL, 0},
        {NDE " bench", "--list=1", "--list", NULL, NULL, NULL, 0},
#ifdef NDE_SPIRAL_EXE
        {NDE_SPIRAL_EXE, "--iters x", "--iters", NDE_SPIRAL_EXE " --iters 1 --no-plot --out " DIR
         "/b.h5/x", DIR "/b.h5", NULL, 0},
        {NDE_STIFF_EXE, "--iters x", "--iters", NDE_STIFF_EXE " --iters 1 --out " DIR "/b.h5/x",
         DIR "/b.h5", NULL, 0},
        {NDE_FASHION_EXE, "--steps x", "--steps", NDE_FASHION_EXE " --data " DIR "/FILE",
         DIR "/FILE", NULL, 1},
        {NDE_BURGERS_EXE, "--n x", "--n", NDE_BURGERS_EXE " --data " DIR "/FILE.h5", DIR "/FILE",
         NULL, 0},
        {NDE_DARCY_EXE, "--s x", "--s", NDE_DARCY_EXE " --data " DIR "/FILE.h5", DIR "/FILE",
         NULL, 0},
#endif
    };
    const int root = geteuid() == 0;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const sweep_cmd *c = &cmds[i];
        char cmd[2048];
        /* --help: usage on stdout, nothing on stderr, exit 0 */
        snprintf(cmd, sizeof cmd, "%s --help", c->base);
        int rc = run_split(cmd, so, se, sizeof so);
        cr_assert_eq(rc, 0, "%s: exit %d: %s", cmd, rc, se);
        cr_assert(!strncmp(so, "usage: ", 7) && strstr(so, "--help") != NULL, "%s: %s", cmd, so);
        cr_assert_eq(se[0], '\0', "%s wrote to stderr: %s", cmd, se);
        /* an unknown option and a bad value: exit 2, the option named */
        snprintf(cmd, sizeof cmd, "%s --bogus-option", c->base);
        fails(2, cmd, (const char *const[]){"--bogus-option", NULL});
        if (c->bad_value) {
            snprintf(cmd, sizeof cmd, "%s %s", c->base, c->bad_value);
            fails(2, cmd, (const char *const[]){c->bad_value_names, NULL});
        }
        if (!c->missing) continue;
        /* FILE does not exist / cannot be read */
        const char *what[3] = {"missing", root ? "dangling symlink" : "chmod 000", "directory"};
        for (int k = 0; k < (root ? 3 : 2); k++) {
            cr_assert_eq(system("rm -rf " DIR "/FILE " DIR "/FILE.h5 " DIR "/FILE.ini"), 0);
            const char *file = strstr(c->missing, DIR "/FILE.h5") ? DIR "/FILE.h5" : DIR "/FILE";
            const char *reason = c->missing_errno ? c->missing_errno : "No such file or directory";
            char prep[512];
            if (k == 1 && root)
                snprintf(prep, sizeof prep, "ln -s " DIR "/nowhere %s", file);
            else if (k == 1)
                snprintf(prep, sizeof prep, "echo x > %s && chmod 000 %s", file, file);
            else if (k == 2)
                snprintf(prep, sizeof prep, "mkdir %s", file);
            if (k) cr_assert_eq(system(prep), 0, "%s", prep);
            if (k == 1 && !root) reason = "Permission denied";
            if (k == 2 && !c->dir_is_input)
                reason = "s a directory"; /* "Is a directory" or "…: it is a directory" */
            if (c->missing_errno && k) continue; /* nde data's destination: only missing */
            snprintf(cmd, sizeof cmd, "%s", c->missing);
            rc = run(strcat(cmd, " 2>&1 >/dev/null"));
            cr_assert(rc == 1 || rc == 2, "%s (%s): exit %d: %s", c->missing, what[k], rc, out);
            cr_assert(strstr(out, c->missing_names) != NULL, "%s (%s): file not named: %s",
                      c->missing, what[k], out);
            if (strstr(c->missing, "/b.h5/x")) continue; /* --out under a file: named */
            cr_assert(strstr(out, reason) != NULL, "%s (%s): no '%s' in: %s", c->missing,
                      what[k], reason, out);
        }
    }
}
