/* Examples double as regression tests: the README's C example and the spiral driver
 * (shortened) run to completion with the expected output. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

Test(examples, readme_example_trains_and_exits_zero)
{
    char out[4096];
    int rc = run(NDE_README_EXAMPLE, out, sizeof out);
    cr_assert_eq(rc, 0, "README example failed (%d): %s", rc, out);
    cr_assert(strstr(out, "after 200 iterations") != NULL, "%s", out);
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
