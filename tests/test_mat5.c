/* MATLAB v5/v7 .mat files written by scipy.io.savemat (tests/data/mat/make_mat_v5.py):
 * values against the generator's closed formulas, the same data written as v7.3 by nde's
 * writer, integer and logical classes, unsupported classes, v4 files, and corrupted headers. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"
#include "nde_config.h"

#define MAT_DIR NDE_SOURCE_ROOT "/tests/data/mat/"

/* The formulas of make_mat_v5.py. */
static double burgers_a(int n, int i, int N, int S)
{
    return sin(2 * NDE_PI * (i + 1) / S) * (n + 1) / N;
}
static double burgers_u(int n, int i, int N, int S) { return burgers_a(n, i, N, S) / 2 + (double)i / S; }
static double darcy_coeff(int n, int i, int j) { return 3.0 + ((n + 2 * i + 3 * j) % 7); }
static double darcy_sol(int n, int i, int j, int S)
{
    (void)S;
    return darcy_coeff(n, i, j) * (i + 1) / (j + 2) / 100;
}

#if NDE_HAVE_MATIO

/* |got − want| within the rounding of the stored type (float32: half an ulp of it). */
static void check_close(double got, double want, int f32, const char *what, size_t k)
{
    /* numpy's and C's sin may differ in the last bit or two */
    const double tol = f32 ? fabs(want) * 6e-8 + 1e-45 : fabs(want) * 5e-16;
    if (f32) want = (double)(float)want;
    cr_assert(fabs(got - want) <= tol, "%s[%zu] = %.17g, expected %.17g", what, k, got, want);
}

static void check_burgers(const char *file, int f32)
{
    const int N = 6, S = 16;
    nde_array a, u;
    cr_assert_eq(nde_dataset_read(file, "a", 2, &a), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mat_read(file, "u", 2, &u), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(a.shape[0], (size_t)N);
    cr_assert_eq(a.shape[1], (size_t)S);
    cr_assert_eq(u.shape[0], (size_t)N);
    cr_assert_eq(u.shape[1], (size_t)S);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < S; i++) {
            size_t k = (size_t)n * S + i;
            check_close(a.data[k], burgers_a(n, i, N, S), f32, "a", k);
            check_close(u.data[k], burgers_u(n, i, N, S), f32, "u", k);
        }
    nde_array_free(&a);
    nde_array_free(&u);
}

static void check_darcy(const char *file, int f32)
{
    const int N = 3, S = 5;
    nde_array c, s;
    cr_assert_eq(nde_dataset_read(file, "coeff", 3, &c), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_dataset_read(file, "sol", 3, &s), NDE_OK, "%s", nde_last_error());
    for (int d = 0; d < 3; d++) cr_assert_eq(c.shape[d], d ? (size_t)S : (size_t)N);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                size_t k = ((size_t)n * S + i) * S + j;
                check_close(c.data[k], darcy_coeff(n, i, j), f32, "coeff", k);
                check_close(s.data[k], darcy_sol(n, i, j, S), f32, "sol", k);
            }
    nde_array_free(&c);
    nde_array_free(&s);
}

Test(mat5, burgers_layout_plain_compressed_and_single)
{
    check_burgers(MAT_DIR "burgers_v5.mat", 0);
    check_burgers(MAT_DIR "burgers_v5_z.mat", 0);
    check_burgers(MAT_DIR "burgers_v5_f32.mat", 1);
}

Test(mat5, darcy_layout_plain_and_compressed_single)
{
    check_darcy(MAT_DIR "darcy_v5.mat", 0);
    check_darcy(MAT_DIR "darcy_v5_z_f32.mat", 1);
}

/* The same values written as v7.3 (HDF5, reversed dimensions) read back identically. */
Test(mat5, v5_and_v73_of_the_same_data_agree_bitwise)
{
    const char *names[] = {"coeff", "sol"};
    const char *v73 = "mat5_same.mat";
    for (int t = 0; t < 2; t++) {
        nde_array x5, x73;
        cr_assert_eq(nde_mat_read(MAT_DIR "darcy_v5.mat", names[t], 3, &x5), NDE_OK, "%s",
                     nde_last_error());
        cr_assert_eq(nde_mat_write(v73, names[t], 3, x5.shape, x5.data, t), NDE_OK, "%s",
                     nde_last_error());
        cr_assert_eq(nde_mat_read(v73, names[t], 3, &x73), NDE_OK, "%s", nde_last_error());
        for (int d = 0; d < 3; d++) cr_assert_eq(x73.shape[d], x5.shape[d]);
        cr_assert_eq(memcmp(x73.data, x5.data, x5.numel * sizeof(double)), 0);
        nde_array_free(&x5);
        nde_array_free(&x73);
    }
    remove(v73);
}

Test(mat5, integer_and_logical_classes_are_converted)
{
    const char *f = MAT_DIR "ints_v5.mat";
    nde_array x;
    cr_assert_eq(nde_mat_read(f, "i32", 2, &x), NDE_OK, "%s", nde_last_error());
    const double i32[] = {-1, 2, -3, 4, -5, 6};
    cr_assert_eq(x.shape[0], 2);
    cr_assert_eq(x.shape[1], 3);
    for (int k = 0; k < 6; k++) cr_assert_eq(x.data[k], i32[k]);
    nde_array_free(&x);
    cr_assert_eq(nde_mat_read(f, "u8", 2, &x), NDE_OK, "%s", nde_last_error());
    for (int k = 0; k < 4; k++) cr_assert_eq(x.data[k], k);
    nde_array_free(&x);
    cr_assert_eq(nde_mat_read(f, "b", 2, &x), NDE_OK, "%s", nde_last_error());
    const double b[] = {1, 0, 0, 1};
    for (int k = 0; k < 4; k++) cr_assert_eq(x.data[k], b[k]);
    nde_array_free(&x);
    cr_assert_eq(nde_mat_read(f, "i64", 0, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.ndim, 2); /* MATLAB stores a vector as 1×3 */
    for (int k = 0; k < 3; k++) cr_assert_eq(x.data[k], 1099511627776.0 + k);
    nde_array_free(&x);
    cr_assert_eq(nde_mat_read(f, "nan", 0, &x), NDE_ERR_NONFINITE);
    cr_assert(strstr(nde_last_error(), "(0, 1)"), "%s", nde_last_error());
    cr_assert_null(x.data);
}

Test(mat5, unsupported_classes_are_named)
{
    const char *f = MAT_DIR "unsupported_v5.mat";
    const char *vars[] = {"c", "s", "t", "z", "sp"};
    const char *words[] = {"'cell'", "'struct'", "'char'", "complex", "sparse"};
    nde_array x;
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(nde_mat_read(f, vars[k], 0, &x), NDE_ERR_FORMAT, "%s", vars[k]);
        cr_assert(strstr(nde_last_error(), words[k]), "%s", nde_last_error());
        cr_assert_null(x.data);
    }
    cr_assert_eq(nde_mat_read(f, "nope", 0, &x), NDE_ERR_MISSING);
    cr_assert(strstr(nde_last_error(), "c, s, t, z, sp, ok"), "%s", nde_last_error());
    cr_assert_eq(nde_mat_read(f, "ok", 3, &x), NDE_ERR_SHAPE);
    cr_assert_eq(nde_mat_read(MAT_DIR "burgers_v4.mat", "a", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "v4"), "%s", nde_last_error());
}

Test(mat5, list_gives_names_classes_and_matlab_shapes)
{
    nde_mat_var *v;
    size_t n;
    cr_assert_eq(nde_mat_list(MAT_DIR "unsupported_v5.mat", &v, &n), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(n, 6);
    cr_assert_str_eq(v[0].name, "c");
    cr_assert_str_eq(v[0].mclass, "cell");
    cr_assert_str_eq(v[3].mclass, "double");
    cr_assert_eq(v[3].is_complex, 1);
    cr_assert_str_eq(v[4].mclass, "sparse");
    cr_assert_eq(v[5].ndim, 2);
    nde_free(v);
    cr_assert_eq(nde_mat_list(MAT_DIR "darcy_v5.mat", &v, &n), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(n, 2);
    cr_assert_str_eq(v[1].name, "sol");
    cr_assert_eq(v[1].ndim, 3);
    cr_assert_eq(v[1].shape[0], 3);
    cr_assert_eq(v[1].shape[2], 5);
    nde_free(v);
}

/* nde train on the Burgers config reads a v5 file (compressed), and the run equals the
 * same run on the same data written as v7.3: the summary's test metric bit for bit. */
static double train_metric(const char *data, const char *out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             NDE_CLI_EXE " train " NDE_SOURCE_ROOT "/examples/configs/burgers_fno.ini --set "
             "data.path=%s --set data.ntrain=4 --set data.ntest=2 --set data.subsample=1 --set "
             "train.epochs=2 --set train.batch=2 --set model.modes=4 --set model.width=8 --set "
             "model.layers=1 --set model.proj_hidden=8 --out %s >/dev/null 2>&1", data, out);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    char path[512], buf[4096];
    snprintf(path, sizeof path, "%s/summary.json", out);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    const char *k = strstr(buf, "\"test_metric\"");
    cr_assert_not_null(k, "%s", buf);
    k = strchr(k, ':');
    cr_assert_not_null(k);
    return strtod(k + 1, NULL);
}

Test(mat5, nde_train_reads_a_v5_burgers_file)
{
    const char *v73 = "mat5_train_v73.mat";
    const char *names[] = {"a", "u"};
    for (int t = 0; t < 2; t++) {
        nde_array x;
        cr_assert_eq(nde_mat_read(MAT_DIR "burgers_v5_z.mat", names[t], 2, &x), NDE_OK);
        cr_assert_eq(nde_mat_write(v73, names[t], 2, x.shape, x.data, t), NDE_OK, "%s",
                     nde_last_error());
        nde_array_free(&x);
    }
    const double m5 = train_metric(MAT_DIR "burgers_v5_z.mat", "mat5_train_v5");
    const double m73 = train_metric(v73, "mat5_train_v73");
    cr_assert(isfinite(m5) && m5 > 0, "%g", m5);
    cr_assert_eq(m5, m73, "v5 %.17g, v7.3 %.17g", m5, m73);
    remove(v73);
    cr_assert_eq(system("rm -rf mat5_train_v5 mat5_train_v73"), 0);
}

static size_t copy_file(const char *from, const char *to, unsigned char *buf, size_t cap)
{
    FILE *fp = fopen(from, "rb");
    cr_assert_not_null(fp);
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    fp = fopen(to, "wb");
    cr_assert_not_null(fp);
    fwrite(buf, 1, n, fp);
    fclose(fp);
    return n;
}

/* Dimensions claiming more than the file holds are refused before any allocation;
 * truncated files give an error, not a crash. */
Test(mat5, corrupted_headers_are_refused_before_reading)
{
    unsigned char buf[4096];
    const char *path = "mat5_corrupt.mat";
    size_t n = copy_file(MAT_DIR "burgers_v5.mat", path, buf, sizeof buf);
    /* first variable: tag at 128, array flags 136..151, dims tag 152, dims at 160 */
    cr_assert_eq(buf[152], 5); /* miINT32 */
    const unsigned char huge[4] = {0xff, 0xff, 0xff, 0x7f};
    memcpy(buf + 160, huge, 4);
    FILE *fp = fopen(path, "wb");
    fwrite(buf, 1, n, fp);
    fclose(fp);
    nde_array x;
    cr_assert_eq(nde_mat_read(path, "a", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "claim"), "%s", nde_last_error());
    const char *files[] = {MAT_DIR "burgers_v5_z.mat", MAT_DIR "burgers_v5.mat"};
    for (int f = 0; f < 2; f++) {
        const size_t len = copy_file(files[f], path, buf, sizeof buf);
        for (size_t cut = 129; cut < len; cut += 37) {
            fp = fopen(path, "wb");
            fwrite(buf, 1, cut, fp);
            fclose(fp);
            nde_status st = nde_mat_read(path, "u", 0, &x);
            cr_assert_neq(st, NDE_OK, "%s cut at %zu", files[f], cut);
            cr_assert_null(x.data);
        }
    }
    remove(path);
}

/* Fuzzing findings (tests/fuzz/corpus/dataset): a cell claiming 4294967042 elements made
 * libmatio calloc 32 GB while listing the variables; nde's structure check refuses it. */
Test(mat5, fuzz_findings_are_refused_before_matio_allocates)
{
    nde_array x;
    cr_assert_eq(nde_dataset_read(NDE_SOURCE_ROOT "/tests/fuzz/corpus/dataset/matio-cell-huge-dims.mat",
                                  "a", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "negative dimension"), "%s", nde_last_error());
    nde_mat_var *v;
    size_t n;
    cr_assert_eq(nde_mat_list(NDE_SOURCE_ROOT "/tests/fuzz/corpus/dataset/matio-cell-huge-dims.mat",
                              &v, &n), NDE_ERR_FORMAT);
}

#else

Test(mat5, without_matio_v5_files_are_refused_with_the_reason)
{
    nde_array x;
    cr_assert_eq(nde_mat_read(MAT_DIR "burgers_v5.mat", "a", 0, &x), NDE_ERR_UNSUPPORTED);
    cr_assert(strstr(nde_last_error(), "without libmatio"), "%s", nde_last_error());
    cr_assert_eq(nde_dataset_read(MAT_DIR "darcy_v5.mat", "coeff", 0, &x), NDE_ERR_UNSUPPORTED);
    (void)burgers_u;
    (void)darcy_sol;
}

#endif
