/* Examples double as regression tests: the C examples of README.md, docs/operators.md and
 * docs/regularizers.md, the "Typical use" blocks of the public headers, the nde tool and
 * every example driver (shortened to tiny sizes) run to completion with the expected
 * output, and bad input files give a clear error. */
#include <criterion/criterion.h>
#include <glob.h>

#include "nde/safetensors.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Run a command, capture up to `cap` bytes of its stdout, return its exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return rc;
}

/* The exit code of a command run by `run`, or -1 if it did not exit normally. */
static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The conventions of tools/args for the program `exe` (a command line prefix, e.g. the
 * nde tool and a command), whose usage line begins "usage: prog": --help prints the usage
 * on stdout (nothing on stderr) and exits 0; an unknown option and each bad argument list
 * of bad[] (NULL-terminated; "--option value", or positional arguments) exit 2 with nothing
 * on stdout and a message on stderr naming the option and the bad (last) word. */
static void check_cli_conventions(const char *exe, const char *prog, const char *const *bad)
{
    static char out[1 << 14];
    char cmd[4096], usage[128];
    snprintf(usage, sizeof usage, "usage: %s ", prog);
    snprintf(cmd, sizeof cmd, "%s --help 2>/dev/null", exe);
    int rc = run(cmd, out, sizeof out);
    cr_assert_eq(exit_code(rc), 0, "%s: exit %d", cmd, rc);
    cr_assert(strncmp(out, usage, strlen(usage)) == 0, "%s:\n%s", cmd, out);
    cr_assert(strstr(out, "--help") != NULL, "%s:\n%s", cmd, out);
    snprintf(cmd, sizeof cmd, "%s --help 2>&1 >/dev/null", exe);
    cr_assert_eq(exit_code(run(cmd, out, sizeof out)), 0);
    cr_assert_str_empty(out, "%s wrote on stderr: %s", cmd, out);
    /* an unknown option, then the bad values */
    char what[256];
    for (int i = -1; i < 0 || bad[i]; i++) {
        const char *arg = i < 0 ? "--no-such-option" : bad[i];
        snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", exe, arg);
        rc = run(cmd, out, sizeof out);
        cr_assert_eq(exit_code(rc), 2, "%s: exit %d", cmd, rc);
        cr_assert_str_empty(out, "%s wrote on stdout: %s", cmd, out);
        snprintf(cmd, sizeof cmd, "%s %s 2>&1 >/dev/null", exe, arg);
        cr_assert_eq(exit_code(run(cmd, out, sizeof out)), 2);
        /* the option (the first word, when it is one) and the bad value (the last word) */
        snprintf(what, sizeof what, "%s", arg);
        char *value = strrchr(what, ' '), *space = strchr(what, ' ');
        if (space) *space = '\0';
        value = value ? value + 1 : what;
        cr_assert(strncmp(what, "--", 2) || strstr(out, what) != NULL, "%s: '%s' not named: %s",
                  cmd, what, out);
        cr_assert(strstr(out, value) != NULL, "%s: '%s' not named: %s", cmd, value, out);
        cr_assert(strstr(out, "(try --help)") != NULL, "%s: %s", cmd, out);
    }
}

Test(examples, cli_follows_the_option_conventions)
{
    char exe[1024];
    cr_assert_eq(exit_code(system(NDE_CLI_EXE " --help >/dev/null 2>&1")), 0);
    cr_assert_eq(exit_code(system(NDE_CLI_EXE " --no-such-option >/dev/null 2>&1")), 2);
    cr_assert_eq(exit_code(system(NDE_CLI_EXE " >/dev/null 2>&1")), 2);
    snprintf(exe, sizeof exe, "%s steps", NDE_CLI_EXE);
    check_cli_conventions(exe, "nde steps",
                          (const char *const[]){"--rtol -3", "--mu x", "--t1 2x", "--rtol nan",
                                                "--problem nosuch", "--method rk45", NULL});
    snprintf(exe, sizeof exe, "%s inspect", NDE_CLI_EXE);
    check_cli_conventions(exe, "nde inspect", (const char *const[]){"a b c", NULL});
    snprintf(exe, sizeof exe, "%s info", NDE_CLI_EXE);
    check_cli_conventions(exe, "nde info", (const char *const[]){"extra", NULL});
}

Test(examples, readme_example_trains_and_exits_zero)
{
    char out[4096];
    int rc = run(NDE_README_EXAMPLE, out, sizeof out);
    cr_assert_eq(rc, 0, "README example failed (%d): %s", rc, out);
    cr_assert(strstr(out, "after 200 iterations") != NULL, "%s", out);
}

Test(examples, operators_guide_example_trains_and_transfers_resolution)
{
    char out[4096];
    int rc = run(NDE_OPERATORS_EXAMPLE, out, sizeof out);
    cr_assert_eq(rc, 0, "docs/operators.md example failed (%d): %s", rc, out);
    cr_assert(strstr(out, "test relative L2") != NULL, "%s", out);
}

Test(examples, regularizers_guide_example_trains_with_a_user_regularizer)
{
    char out[4096];
    int rc = run(NDE_REGULARIZERS_EXAMPLE, out, sizeof out);
    cr_assert_eq(rc, 0, "docs/regularizers.md example failed (%d): %s", rc, out);
    cr_assert(strstr(out, "acceleration penalty") != NULL, "%s", out);
}

Test(examples, constraints_guide_example_keeps_the_mean)
{
    char out[4096];
    int rc = run(NDE_CONSTRAINTS_EXAMPLE, out, sizeof out);
    cr_assert_eq(rc, 0, "docs/constraints.md example failed (%d): %s", rc, out);
    cr_assert(strstr(out, "experts: 2, violation") != NULL, "%s", out);
}

/* "Typical use" lines in the headers of include/nde, counted now (the build read the list of headers
 * at configure time). */
static int count_header_examples(void)
{
    glob_t g;
    cr_assert_eq(glob(NDE_SOURCE_ROOT "/include/nde/*.h", 0, NULL, &g), 0);
    int n = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        cr_assert_not_null(f, "%s", g.gl_pathv[i]);
        char line[1024];
        while (fgets(line, sizeof line, f))
            if (strstr(line, "Typical use")) n++;
        fclose(f);
    }
    globfree(&g);
    return n;
}

Test(examples, header_examples_compile_and_run)
{
    char out[4096];
    int rc = run(NDE_HEADER_EXAMPLES " 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "a header example failed (%d): %s", rc, out);
    int ran = -1;
    const char *summary = strstr(out, "header examples: ");
    cr_assert(summary && sscanf(summary, "header examples: %d ran", &ran) == 1, "%s", out);
    int expected = count_header_examples();
    cr_assert_geq(expected, 3);
    cr_assert_eq(ran, expected,
                 "%d \"Typical use\" blocks in include/nde but %d compiled: reconfigure the build",
                 expected, ran);
    cr_assert(strstr(out, "u(1) of sample 0: ") != NULL, "%s", out);
    cr_assert(strstr(out, "dL/du0 of sample 0: ") != NULL, "%s", out);
}

Test(examples, cli_info_steps_and_inspect)
{
    char out[65536], cmd[4096];
    snprintf(cmd, sizeof cmd, "%s info", NDE_CLI_EXE);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "tsit5") != NULL && strstr(out, "adamw") != NULL, "%s", out);
    /* the decay problem's stiffness estimate is its rate */
    snprintf(cmd, sizeof cmd, "%s steps --problem decay --mu 25 --method dopri5 2>/dev/null",
             NDE_CLI_EXE);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strncmp(out, "t,h,err_est,stiff_est\n", 22) == 0, "%s", out);
    char *second = strchr(out, '\n') + 1;
    double t, h, e, st;
    cr_assert_eq(sscanf(second, "%lf,%lf,%lf,%lf", &t, &h, &e, &st), 4);
    cr_assert(t == 0.0 && h > 0.0 && e <= 1.0 && fabs(st - 25.0) < 1e-6, "%s", second);
    snprintf(cmd, sizeof cmd, "%s steps --method nosuch 2>&1", NDE_CLI_EXE);
    cr_assert_neq(run(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "unknown ODE method") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s inspect %s/tests/ref/foreign_model.safetensors", NDE_CLI_EXE,
             NDE_SOURCE_ROOT);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "tensors") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s inspect /nonexistent.safetensors 2>&1", NDE_CLI_EXE);
    cr_assert_neq(run(cmd, out, sizeof out), 0);
}

#ifdef NDE_SPIRAL_EXE
Test(examples, drivers_follow_the_option_conventions)
{
    check_cli_conventions(NDE_SPIRAL_EXE, "spiral",
                          (const char *const[]){"--iters -3", "--seed x", "--iters 2x",
                                                "--print-every 1.5", "--rtol 0", "--tape all",
                                                "--out ''", "--reg nosuch", NULL});
    check_cli_conventions(NDE_STIFF_EXE, "stiff",
                          (const char *const[]){"--iters -3", "--seed x", "--iters 2x",
                                                "--tmax -1", "--atol inf", NULL});
    check_cli_conventions(NDE_FASHION_EXE, "fashion_mnist_node",
                          (const char *const[]){"--steps -3", "--seed x", "--batch 0",
                                                "--steer-b 1", "--methods vanilla,nosuch",
                                                "--ernode-coef 1,0", "--ernsde-coef 0",
                                                "--lr-decay -1", NULL});
    check_cli_conventions(NDE_BURGERS_EXE, "burgers_fno",
                          (const char *const[]){"--epochs -3", "--seed x", "--n 2x",
                                                "--batch 0", NULL});
#ifdef NDE_HARD_CONSTRAINT_EXE
    check_cli_conventions(NDE_HARD_CONSTRAINT_EXE, "hard_constraint",
                          (const char *const[]){"--epochs 0", "--seed x", "--n 2x", "--n 4",
                                                "--lr 0", NULL});
#endif
    /* options that only go together */
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "%s --data-a a.npy 2>&1 >/dev/null", NDE_BURGERS_EXE);
    cr_assert_eq(exit_code(run(cmd, out, sizeof out)), 2);
    cr_assert(strstr(out, "--data-u") != NULL, "%s", out);
    check_cli_conventions(NDE_DARCY_EXE, "darcy",
                          (const char *const[]){"--epochs -3", "--seed x", "--s 2x",
                                                "--epochs 0", "--model nosuch", "--lr-fno 0",
                                                NULL});
    check_cli_conventions(NDE_BENCH_OPTIM_OPERATOR_EXE, "bench_optim_operator",
                          (const char *const[]){"--epochs -3", "--seed x", "--only nosuch",
                                                "--model nosuch", NULL});
}
#endif

#ifdef NDE_HARD_CONSTRAINT_EXE
/* The value of "key": in the first line of text that contains `tag`. */
static double line_number(const char *text, const char *tag, const char *key)
{
    const char *line = strstr(text, tag);
    cr_assert_not_null(line, "no %s in %s", tag, text);
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    cr_assert_not_null(p, "no %s after %s in %s", key, tag, text);
    return strtod(p + strlen(pat), NULL);
}

/* Both variants train; the projected one keeps the mean to rounding, the plain one not. */
Test(examples, hard_constraint_reports_error_and_violation)
{
    char out[8192], cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --n 32 --ntrain 20 --ntest 10 --epochs 2 --width 8 --modes 4",
             NDE_HARD_CONSTRAINT_EXE);
    int rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "hard_constraint failed (%d): %s", rc, out);
    const double data = line_number(out, "\"data_violation_max\"", "data_violation_max");
    const double plain = line_number(out, "\"model\": \"fno\"", "violation_max");
    const double proj = line_number(out, "fno+mean_projection", "violation_max");
    const double err = line_number(out, "fno+mean_projection", "test_rel_l2");
    cr_expect(data <= 1e-12, "the data's own violation %.3g", data);
    cr_expect(proj <= 1e-12, "projected violation %.3g", proj);
    cr_expect(plain > 1e-6, "plain FNO violation %.3g", plain);
    cr_expect(isfinite(err) && err > 0.0, "%s", out);
}
#endif

#ifdef NDE_SPIRAL_EXE
Test(examples, spiral_short_run_writes_csv_and_reports)
{
    char out[16384], cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --iters 40 --print-every 20 --no-plot --out spiral_test_out",
             NDE_SPIRAL_EXE);
    int rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "spiral failed (%d): %s", rc, out);
    cr_assert(strstr(out, "iter    40/40") != NULL, "%s", out);
    cr_assert(strstr(out, "final full-trajectory MAE") != NULL, "%s", out);
    FILE *f = fopen("spiral_test_out/trajectory.csv", "r");
    cr_assert_not_null(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f)) lines++;
    fclose(f);
    cr_assert_eq(lines, 1001); /* header + 1000 points */
}

Test(examples, spiral_rejects_bad_options)
{
    char out[4096], cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --iters x 2>&1", NDE_SPIRAL_EXE);
    cr_assert_neq(run(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "bad value") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s --method rk45 2>&1", NDE_SPIRAL_EXE);
    cr_assert_neq(run(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "unknown ODE method") != NULL, "%s", out);
}
#endif

#ifdef NDE_SDE_SPIRAL_EXE
/* examples/sde_spiral at a tiny size: both modes report a finite moment loss, the ERNSDE
 * run a positive regularizer and the vanilla one none; a second run gives the same
 * figures (same seed, same bits) apart from the timing; bad options are refused. */
static double json_number(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    cr_assert_not_null(p, "no %s in %s", key, line);
    return strtod(p + strlen(pat), NULL);
}

Test(examples, sde_spiral_tiny_run)
{
    char out[8192], out2[8192], cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --iters 4 --paths 6 --data-paths 40 --nt 5 --seed 3", NDE_SDE_SPIRAL_EXE);
    int rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "sde_spiral failed (%d): %s", rc, out);
    const char *van = strstr(out, "\"mode\": \"vanilla\""), *ern = strstr(out, "\"mode\": \"ernsde\"");
    cr_assert(van && ern, "%s", out);
    cr_expect(json_number(van, "reg") == 0.0, "%s", out);
    cr_expect(json_number(ern, "reg") > 0.0, "%s", out);
    cr_expect(isfinite(json_number(van, "loss")) && json_number(van, "nfe") > 0, "%s", out);
    cr_expect(isfinite(json_number(ern, "loss")) && json_number(ern, "steps") > 0, "%s", out);
    cr_assert_eq(run(cmd, out2, sizeof out2), 0, "%s", out2);
    const char *van2 = strstr(out2, "\"mode\": \"vanilla\""), *ern2 = strstr(out2, "\"mode\": \"ernsde\"");
    cr_assert(van2 && ern2, "%s", out2);
    static const char *const keys[] = {"loss", "reg", "nfe", "steps"};
    for (size_t k = 0; k < 4; k++) {
        cr_expect_eq(json_number(van, keys[k]), json_number(van2, keys[k]), "%s", keys[k]);
        cr_expect_eq(json_number(ern, keys[k]), json_number(ern2, keys[k]), "%s", keys[k]);
    }
    check_cli_conventions(NDE_SDE_SPIRAL_EXE, "sde_spiral",
                          (const char *const[]){"--iters -3", "--seed x", "--paths 1",
                                                "--tol 0", "--mode both2", NULL});
}
#endif

#ifdef NDE_STIFF_EXE
/* examples/stiff: a few training iterations of the Robertson model; CVODES BDF needs at
 * least 10x fewer right-hand-side evaluations (f + jvp) than Tsit5 for the same model. */
Test(examples, stiff_short_run_reports_bdf_and_tsit5)
{
    char out[16384], cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --iters 5 --print-every 5 --out stiff_test_out", NDE_STIFF_EXE);
    int rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "stiff failed (%d): %s", rc, out);
    cr_assert(strstr(out, "iter    5/5") != NULL, "%s", out);
    FILE *f = fopen("stiff_test_out/summary.json", "r");
    cr_assert_not_null(f);
    char js[2048];
    size_t n = fread(js, 1, sizeof js - 1, f);
    js[n] = '\0';
    fclose(f);
    unsigned long bdf_nfe = 0, bdf_jvp = 0, tsit5_nfe = 0;
    const char *b = strstr(js, "\"cvode_bdf\""), *t = strstr(js, "\"tsit5\"");
    cr_assert(b && t, "%s", js);
    cr_assert_eq(sscanf(b, "\"cvode_bdf\": {\"nfe\": %lu, \"jvp\": %lu", &bdf_nfe, &bdf_jvp), 2);
    cr_assert_eq(sscanf(t, "\"tsit5\": {\"nfe\": %lu", &tsit5_nfe), 1);
    cr_expect(10 * (bdf_nfe + bdf_jvp) <= tsit5_nfe, "BDF %lu + %lu, Tsit5 %lu", bdf_nfe,
              bdf_jvp, tsit5_nfe);
}
#endif

#ifdef NDE_FASHION_EXE
#include <stdint.h>
#include <stdlib.h>

#include "nde/idx.h"

/* A tiny Fashion-MNIST look-alike (random pixels, labels = brightest quarter) in
 * Debian's file layout, so the classifier driver runs in the test suite without the
 * 30 MB dataset package. */
static void write_fake_split(const char *dir, const char *split, uint32_t n, unsigned seed)
{
    uint8_t *img = malloc((size_t)n * 784), *lab = malloc(n);
    cr_assert(img && lab);
    srand(seed);
    for (uint32_t i = 0; i < n; i++) {
        lab[i] = (uint8_t)(i % 10);
        for (int p = 0; p < 784; p++) img[(size_t)i * 784 + p] = (uint8_t)((rand() % 64) + 19 * lab[i]);
    }
    char path[512];
    uint32_t dims_i[3] = {n, 28, 28}, dims_l[1] = {n};
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, split);
    cr_assert_eq(nde_idx_write(path, NDE_IDX_U8, 3, dims_i, img, 1), NDE_OK, "%s", nde_last_error());
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    cr_assert_eq(nde_idx_write(path, NDE_IDX_U8, 1, dims_l, lab, 1), NDE_OK, "%s", nde_last_error());
    free(img);
    free(lab);
}

Test(examples, fashion_mnist_node_trains_every_method_on_tiny_data)
{
    char dir[] = "/tmp/nde_fmnist_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    write_fake_split(dir, "train", 48, 1);
    write_fake_split(dir, "t10k", 32, 2);
    static char out[1 << 16];
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s --data %s --methods vanilla,ernode,srnode,local_unbiased,local_biased,steer,kinetic "
             "--steps 2 --batch 16 --train-eval 16 --rtol 1e-4 --atol 1e-4 --print-every 1 "
             "--out %s/out --no-plot 2>&1",
             NDE_FASHION_EXE, dir, dir);
    int rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "fashion_mnist_node failed (%d): %s", rc, out);
    cr_assert(strstr(out, "local_biased") != NULL && strstr(out, "kinetic") != NULL, "%s", out);
    /* a missing dataset is a clear error, not a crash */
    snprintf(cmd, sizeof cmd, "%s --data %s/nowhere --steps 1 --no-plot --out %s/out2 2>&1",
             NDE_FASHION_EXE, dir, dir);
    cr_assert_neq(run(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "dataset-fashion-mnist") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* θ and the optimizer's state of two trainer checkpoints have the same bytes (the
 * trainer's "train.*" entries hold wall-clock history and are skipped) */
static void same_theta_and_optim(const char *a, const char *b)
{
    nde_st_file *fa = NULL, *fb = NULL;
    cr_assert_eq(nde_st_open(a, &fa), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_open(b, &fb), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_n_tensors(fa), nde_st_n_tensors(fb));
    size_t compared = 0;
    for (size_t i = 0; i < nde_st_n_tensors(fa); i++) {
        const nde_st_tensor *ta = nde_st_tensor_at(fa, i), *tb = nde_st_find(fb, ta->name);
        cr_assert_not_null(tb, "%s has no %s", b, ta->name);
        if (!strncmp(ta->name, "train.", 6)) continue;
        cr_assert(ta->nbytes == tb->nbytes && !memcmp(ta->data, tb->data, ta->nbytes),
                  "%s differs between %s and %s", ta->name, a, b);
        compared++;
    }
    cr_assert_gt(compared, 8);
    nde_st_close(&fa);
    nde_st_close(&fb);
}

/* --sde: the neural-SDE classifier trains with each SDE method and writes the paper's
 * table; neural-ODE methods are refused; a run stopped after one
 * step and resumed ends with the bits of the uninterrupted one (the Brownian paths are
 * reseeded per step). */
Test(examples, fashion_mnist_node_sde_trains_and_resumes_on_tiny_data)
{
    char dir[] = "/tmp/nde_fmnist_sde_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    write_fake_split(dir, "train", 48, 1);
    write_fake_split(dir, "t10k", 32, 2);
    static char out[1 << 16];
    char cmd[2048], path[600];
    const char *common = "--sde --batch 16 --train-eval 16 --print-every 1 --no-plot";
    snprintf(cmd, sizeof cmd, "%s --data %s %s --steps 2 --methods vanilla,ernsde,srnsde,local "
             "--out %s/all 2>&1",
             NDE_FASHION_EXE, dir, common, dir);
    int rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "fashion_mnist_node --sde failed (%d): %s", rc, out);
    cr_assert(strstr(out, "neural SDE") && strstr(out, "srnsde step    1/2"), "%s", out);
    snprintf(path, sizeof path, "%s/all/summary.md", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    cr_assert(strstr(out, "Fashion-MNIST neural SDE") && strstr(out, "| vanilla |") &&
              strstr(out, "| ernsde |") && strstr(out, "| srnsde |") && strstr(out, "| local |"),
              "%s", out);
    /* the regularizers' values are logged and positive */
    const char *regularized[3] = {"ernsde", "srnsde", "local"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/all/%s.csv", dir, regularized[k]);
        f = fopen(path, "r");
        cr_assert_not_null(f, "no %s", path);
        char line[512];
        cr_assert_not_null(fgets(line, sizeof line, f));
        cr_assert_not_null(fgets(line, sizeof line, f));
        fclose(f);
        unsigned long step, nfe;
        double loss, acc, reg;
        cr_assert_eq(sscanf(line, "%lu,%lf,%lf,%lu,%lf", &step, &loss, &acc, &nfe, &reg), 5, "%s",
                     line);
        cr_assert(step == 0 && nfe > 0 && reg > 0.0 && isfinite(loss), "%s: %s", path, line);
    }
    /* refused: an ODE method with --sde */
    snprintf(cmd, sizeof cmd, "%s --data %s %s --steps 2 --methods vanilla,ernode --out %s/no 2>&1 >/dev/null",
             NDE_FASHION_EXE, dir, common, dir);
    rc = run(cmd, out, sizeof out);
    cr_assert_eq(exit_code(rc), 2, "%s: exit %d: %s", cmd, rc, out);
    cr_assert(strstr(out, "ernode"), "%s", out);
    /* --tape starts trains the same bits as the default stage tape; --pred-paths 2 predicts
     * from the mean logits of two paths and says so; --pred-paths needs --sde */
    snprintf(cmd, sizeof cmd, "%s --data %s %s --steps 2 --methods vanilla --tape starts "
             "--pred-paths 2 --out %s/paths 2>&1", NDE_FASHION_EXE, dir, common, dir);
    rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "--pred-paths 2 failed (%d): %s", rc, out);
    {
        char full[600];
        snprintf(full, sizeof full, "%s/all/vanilla.checkpoint.safetensors", dir);
        snprintf(path, sizeof path, "%s/paths/vanilla.checkpoint.safetensors", dir);
        same_theta_and_optim(full, path);
    }
    snprintf(path, sizeof path, "%s/paths/summary.md", dir);
    f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    cr_assert(strstr(out, "mean logits of 2 Brownian paths"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s --data %s --steps 1 --pred-paths 2 --no-plot --out %s/no 2>&1 >/dev/null",
             NDE_FASHION_EXE, dir, dir);
    rc = run(cmd, out, sizeof out);
    cr_assert_eq(exit_code(rc), 2, "%s: exit %d: %s", cmd, rc, out);
    cr_assert(strstr(out, "--pred-paths 2 needs --sde"), "%s", out);
    /* stopped after one step (as if interrupted), then resumed: the same θ and Adam state
     * as two steps in one go */
    snprintf(cmd, sizeof cmd, "%s --data %s %s --methods ernsde,local --steps 2 --checkpoint-every 1 "
             "--stop-after 1 --out %s/part 2>&1 && "
             "%s --data %s %s --methods ernsde,local --steps 2 --resume --out %s/part 2>&1",
             NDE_FASHION_EXE, dir, common, dir, NDE_FASHION_EXE, dir, common, dir);
    rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "resume failed (%d): %s", rc, out);
    cr_assert(strstr(out, "resumed from") && strstr(out, "at step 1"), "%s", out);
    /* local draws t_reg from the per-step path generator, so it resumes bit-exact too */
    for (int k = 0; k < 2; k++) {
        char full[600];
        snprintf(full, sizeof full, "%s/all/%s.checkpoint.safetensors", dir, k ? "local" : "ernsde");
        snprintf(path, sizeof path, "%s/part/%s.checkpoint.safetensors", dir, k ? "local" : "ernsde");
        same_theta_and_optim(full, path);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
#endif

#ifdef NDE_BURGERS_EXE
/* Read a small text file whole into out (cap bytes); 0 if it cannot be read. */
static int slurp(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
    return 1;
}

/* Two checkpoints hold the same tensors with the same bytes, except the trainer's
 * history (wall-clock columns) and accumulators (the epoch's partial wall time). */
static void same_tensors_but_history(const char *a, const char *b)
{
    nde_st_file *fa = NULL, *fb = NULL;
    cr_assert_eq(nde_st_open(a, &fa), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_open(b, &fb), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_n_tensors(fa), nde_st_n_tensors(fb), "%s vs %s: tensor counts", a, b);
    for (size_t i = 0; i < nde_st_n_tensors(fa); i++) {
        const nde_st_tensor *ta = nde_st_tensor_at(fa, i), *tb = nde_st_find(fb, ta->name);
        cr_assert_not_null(tb, "%s has no %s", b, ta->name);
        if (!strcmp(ta->name, "train.history") || !strcmp(ta->name, "train.acc")) continue;
        cr_assert(ta->nbytes == tb->nbytes && !memcmp(ta->data, tb->data, ta->nbytes),
                  "%s differs between %s and %s", ta->name, a, b);
    }
    nde_st_close(&fa);
    nde_st_close(&fb);
}

/* Cut each line of a trainer metrics file (JSON lines) at its timing fields, which are
 * the last ones ("train_seconds", "seconds"): what is left must repeat exactly. */
static void drop_timings(char *text)
{
    char *w = text;
    for (const char *l = text; *l;) {
        const char *eol = strchr(l, '\n'), *end = eol ? eol : l + strlen(l);
        const char *cut = strstr(l, "\"train_seconds\"");
        if (!cut || cut > end) cut = end;
        memmove(w, l, (size_t)(cut - l));
        w += cut - l;
        if (eol) *w++ = '\n';
        l = eol ? eol + 1 : end;
    }
    *w = '\0';
}

/* The line of darcy's results.jsonl text with MgNO's test error, copied to line (cap). */
static int mgno_test_line(const char *results, char *line, size_t cap)
{
    for (const char *l = results; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        if (len >= cap) continue;
        memcpy(line, l, len);
        line[len] = '\0';
        if (strstr(line, "\"model\": \"mgno\"") && strstr(line, "\"test_rel_l2\"")) return 1;
    }
    return 0;
}

/* The operator drivers on tiny generated data: they train, write their outputs, report
 * the published architectures' parameter counts, and reject a missing data file. */
Test(examples, operator_drivers_train_on_tiny_generated_data)
{
    char dir[] = "/tmp/nde_operators_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    static char out[1 << 16];
    char cmd[2048], path[600];

    snprintf(cmd, sizeof cmd, "%s --n 64 --ntrain 8 --ntest 4 --batch 4 --epochs 2 --threads 1 "
             "--cache %s/cache --out %s/burgers/run 2>&1", NDE_BURGERS_EXE, dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "burgers_fno failed: %s", out);
    snprintf(path, sizeof path, "%s/burgers/run/summary.json", dir);
    cr_assert(slurp(path, out, sizeof out), "no %s", path);
    cr_assert(strstr(out, "\"params\": 549569") && strstr(out, "\"test_rel_l2_at_2s\": null"),
              "%s", out);
    snprintf(cmd, sizeof cmd, "%s --data %s/missing.mat --n 64 --ntrain 8 --ntest 4 --batch 4 "
             "--epochs 1 --out %s/burgers2 2>&1", NDE_BURGERS_EXE, dir, dir);
    cr_assert_neq(run(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "missing.mat") != NULL, "%s", out);

    snprintf(cmd, sizeof cmd, "%s --model both --s 32 --ntrain 8 --ntest 4 --epochs 1 "
             "--batch-fno 4 --batch-mgno 4 --cache %s/cache --out %s/darcy 2>&1",
             NDE_DARCY_EXE, dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "darcy failed: %s", out);
    snprintf(path, sizeof path, "%s/darcy/results.jsonl", dir);
    cr_assert(slurp(path, out, sizeof out), "no %s", path);
    cr_assert(strstr(out, "\"model\": \"fno\"") && strstr(out, "\"model\": \"mgno\"") &&
              strstr(out, "2.368e+06"), "%s", out);
    for (int k = 0; k < 2; k++) { /* the plotted sample's numbers: 4 fields of 32×32 */
        static char dat[1 << 17];
        snprintf(path, sizeof path, "%s/darcy/%s_sample.dat", dir, k ? "mgno" : "fno");
        cr_assert(slurp(path, dat, sizeof dat), "no %s", path);
        size_t lines = 0;
        for (const char *c = dat; *c; c++) lines += *c == '\n';
        cr_assert_eq(lines, 4 * (32 + 2), "%s: %zu lines", path, lines);
    }
    /* MgNO trained after FNO (--model both) gives the bits it gives alone */
    char both_mgno[256], alone_mgno[256];
    cr_assert(mgno_test_line(out, both_mgno, sizeof both_mgno), "%s", out);
    snprintf(cmd, sizeof cmd, "%s --model mgno --s 32 --ntrain 8 --ntest 4 --epochs 1 "
             "--batch-mgno 4 --cache %s/cache --out %s/darcy_mgno 2>&1", NDE_DARCY_EXE, dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "darcy --model mgno failed: %s", out);
    snprintf(path, sizeof path, "%s/darcy_mgno/results.jsonl", dir);
    cr_assert(slurp(path, out, sizeof out), "no %s", path);
    cr_assert(mgno_test_line(out, alone_mgno, sizeof alone_mgno), "%s", out);
    cr_assert_str_eq(both_mgno, alone_mgno);
    /* interrupted after epoch 1 and resumed: the same history as the uninterrupted run
     * (3 epochs keep both recipe schedules identical for 1 and 3 epochs: StepLR every
     * epoch, constant MgNO lr; the default linear decay spans the configured epochs) */
    char full_hist[2][4096], part_hist[2][4096];
    const char *names[2] = {"fno", "mgno"};
    for (int k = 0; k < 2; k++) {
        const char *run_dir[2] = {"full", "part"};
        for (int r = 0; r < 2; r++) {
            snprintf(cmd, sizeof cmd, "%s --model %s --s 32 --ntrain 8 --ntest 4 --epochs %d "
                     "--schedule recipe --batch-fno 4 --batch-mgno 4 --cache %s/cache --out %s/%s 2>&1",
                     NDE_DARCY_EXE, names[k], r ? 1 : 3, dir, dir, run_dir[r]);
            cr_assert_eq(run(cmd, out, sizeof out), 0, "darcy failed: %s", out);
        }
        snprintf(cmd, sizeof cmd, "%s --model %s --s 32 --ntrain 8 --ntest 4 --epochs 3 "
                 "--schedule recipe --batch-fno 4 --batch-mgno 4 --cache %s/cache --out %s/part "
                 "--resume 2>&1",
                 NDE_DARCY_EXE, names[k], dir, dir);
        cr_assert_eq(run(cmd, out, sizeof out), 0, "darcy --resume failed: %s", out);
        cr_assert(strstr(out, "resumed from") != NULL, "%s", out);
        for (int r = 0; r < 2; r++) {
            char *h = r ? part_hist[k] : full_hist[k];
            snprintf(path, sizeof path, "%s/%s/%s_metrics.jsonl", dir, r ? "part" : "full", names[k]);
            cr_assert(slurp(path, h, sizeof full_hist[k]), "no %s", path);
            drop_timings(h);
        }
        cr_assert_str_eq(part_hist[k], full_hist[k], "%s: resumed history differs", names[k]);
        /* and the final checkpoints hold the same bytes for θ, the Adam state, the position
         * and the generator (their history differs in its wall-clock columns only, which
         * the metrics comparison above covers) */
        char full[600], part[600];
        snprintf(full, sizeof full, "%s/full/%s_checkpoint.safetensors", dir, names[k]);
        snprintf(part, sizeof part, "%s/part/%s_checkpoint.safetensors", dir, names[k]);
        same_tensors_but_history(full, part);
    }
    /* numbers are checked whole */
    snprintf(cmd, sizeof cmd, "%s --s 64x --out %s/bad 2>&1", NDE_DARCY_EXE, dir);
    cr_assert_neq(run(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "--s 64x") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s --data %s/missing.h5 --s 32 --ntrain 8 --ntest 4 --epochs 1 "
             "--out %s/darcy2 2>&1", NDE_DARCY_EXE, dir, dir);
    cr_assert_neq(run(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "missing.h5") != NULL, "%s", out);

    const char *models[2] = {"fno --n 32", "mgno --n 16 --levels 3"};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s --model %s --ntrain 8 --ntest 4 --batch 4 --epochs 1 "
                 "--only adam --no-plot --cache %s/cache --out %s/bench%d 2>/dev/null",
                 NDE_BENCH_OPTIM_OPERATOR_EXE, models[k], dir, dir, k);
        cr_assert_eq(run(cmd, out, sizeof out), 0, "bench_optim_operator %s: %s", models[k], out);
        cr_assert(strstr(out, "\"metric\": \"test_rel_l2\"") && strstr(out, "\"steps_done\""),
                  "%s", out);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
#endif
