/* Examples double as regression tests: the README's C example and the spiral driver
 * (shortened) run to completion with the expected output. */
#include <criterion/criterion.h>
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
