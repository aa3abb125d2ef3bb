/* Hostile input (issue 12): every case a hostile user tried runs here through the public
 * tools, exactly as typed, under `ulimit -v 4000000` (4 GB of address space) and
 * `timeout 20`: each must end with a clear message and a non-zero exit code, never a
 * crash, a hang, a multi-GB allocation or a silent success. docs/reliability.md lists
 * the cases and their outcomes. Sanitizer builds (NDE_TEST_SANITIZED) reserve terabytes
 * of shadow address space, so there the address-space limits are left out and only the
 * messages, exit codes and time limit are checked. */
#include <criterion/criterion.h>

#include "nde/idx.h"
#include "nde/io.h"
#include "nde_config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef NDE_TEST_HDF5
#include <hdf5.h>
#endif

/* Run `cmd` through sh under `ulimit -v kb` and `timeout 20`, with stderr merged into
 * stdout; its output goes to out (cap bytes), its exit code is returned (−1 if it did not
 * exit normally). */
static int limited_to(const char *cmd, long kb, char *out, size_t cap)
{
    static char full[8192];
#ifdef NDE_TEST_SANITIZED
    snprintf(full, sizeof full, "timeout 20 %s 2>&1", cmd);
    (void)kb;
#else
    snprintf(full, sizeof full, "ulimit -v %ld; timeout 20 %s 2>&1", kb, cmd);
#endif
    FILE *p = popen(full, "r");
    cr_assert_not_null(p, "cannot run %s", full);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* limited_to with the 4 GB of issue 12's acceptance. */
static int limited(const char *cmd, char *out, size_t cap)
{
    return limited_to(cmd, 4000000, out, cap);
}

/* `cmd` fails cleanly: exit code in [1, 123] (124 is timeout's, above 128 a signal) and
 * its output holds every one of the NULL-terminated words. */
static void fails_with(const char *cmd, const char *const *words)
{
    static char out[1 << 16];
    int code = limited(cmd, out, sizeof out);
    cr_assert(code >= 1 && code <= 123, "%s: exit code %d (expected a clean failure):\n%s", cmd,
              code, out);
    for (int i = 0; words[i]; i++)
        cr_assert(strstr(out, words[i]) != NULL, "%s: message lacks '%s':\n%s", cmd, words[i], out);
}

#ifdef NDE_SPIRAL_EXE
static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
#endif

/* A fresh directory under /tmp, its name in dir (cap bytes). */
static void temp_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/nde_hostile_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

#ifdef NDE_SPIRAL_EXE
/* `--out` paths that would end a single-quoted gnuplot string, with a `system` call after
 * it: the plot is written under that literal path and no command ever runs. */
Test(hostile, out_path_never_reaches_the_gnuplot_script_as_code)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) cr_skip_test("gnuplot not installed");
    char dir[64], cmd[2048], path[1024];
    static char out[1 << 16];
    temp_dir(dir, sizeof dir);
    const char *outs[3] = {"x'; system \"touch PWNED\"; set output 'y",
                           "a\nsystem \"touch PWNED\"\nb\\",
                           "q\"; system 'touch PWNED'; set output \"@ARG0"};
    for (int k = 0; k < 3; k++) {
        /* the path goes in through an environment variable: no shell quoting to get wrong */
        setenv("NDE_HOSTILE_OUT", outs[k], 1);
        cr_assert_eq(chdir(dir), 0); /* this test's own process (Criterion forks per test) */
        snprintf(cmd, sizeof cmd, "%s --iters 2 --print-every 1 --out \"$NDE_HOSTILE_OUT\"",
                 NDE_SPIRAL_EXE);
        int code = limited(cmd, out, sizeof out);
        cr_assert_eq(code, 0, "%s (out %s): exit %d\n%s", cmd, outs[k], code, out);
        snprintf(path, sizeof path, "%s/PWNED", dir);
        cr_assert(!exists(path), "--out '%s' ran a command through gnuplot", outs[k]);
        snprintf(path, sizeof path, "%s/%s/spiral.png", dir, outs[k]);
        cr_assert(exists(path), "no plot at %s:\n%s", path, out);
    }
    /* the operator drivers' and the optimizer benchmark's plots, with the first path */
    setenv("NDE_HOSTILE_OUT", outs[0], 1);
    const char *runs[3][2] = {
#ifdef NDE_BURGERS_EXE
        {NDE_BURGERS_EXE " --n 64 --ntrain 8 --ntest 4 --batch 4 --epochs 1 --cache cache", "pred.png"},
#else
        {NULL, NULL},
#endif
#if defined(NDE_DARCY_EXE) && defined(NDE_TEST_HDF5)
        {NDE_DARCY_EXE " --model fno --s 32 --ntrain 8 --ntest 4 --epochs 1 --cache cache",
         "fno_sample.png"},
#else
        {NULL, NULL},
#endif
#ifdef NDE_BENCH_OPTIM_EXE
        {NDE_BENCH_OPTIM_EXE " --iters 3 --only adam", "optim_comparison.png"},
#else
        {NULL, NULL},
#endif
    };
    for (int k = 0; k < 3; k++) {
        if (!runs[k][0]) continue;
        snprintf(cmd, sizeof cmd, "%s --out \"$NDE_HOSTILE_OUT\"", runs[k][0]);
        int code = limited(cmd, out, sizeof out);
        cr_assert_eq(code, 0, "%s: exit %d\n%s", cmd, code, out);
        snprintf(path, sizeof path, "%s/PWNED", dir);
        cr_assert(!exists(path), "%s ran a command through gnuplot", cmd);
        snprintf(path, sizeof path, "%s/%s/%s", dir, outs[0], runs[k][1]);
        cr_assert(exists(path), "no plot at %s:\n%s", path, out);
    }
    /* nde train's plots (loss, NFE, predicted vs true) and nde eval --plots, with every
     * hostile path: the PNGs appear under the literal path, nothing runs */
    snprintf(cmd, sizeof cmd, "%s data spiral --n 24 --out s.h5", NDE_CLI_EXE);
    cr_assert_eq(limited(cmd, out, sizeof out), 0, "%s", out);
    for (int k = 0; k < 3; k++) {
        setenv("NDE_HOSTILE_OUT", outs[k], 1);
        snprintf(cmd, sizeof cmd, "%s train %s/examples/configs/spiral_node.ini --set data.path=s.h5 "
                 "--set data.ntrain=16 --set data.ntest=8 --set train.epochs=2 --set train.batch=8 "
                 "--set model.hidden=8 --out \"$NDE_HOSTILE_OUT\" && %s eval "
                 "\"$NDE_HOSTILE_OUT\"/checkpoint.safetensors s.h5 --plots \"$NDE_HOSTILE_OUT\"/ev",
                 NDE_CLI_EXE, NDE_SOURCE_ROOT, NDE_CLI_EXE);
        int code = limited(cmd, out, sizeof out);
        cr_assert_eq(code, 0, "nde train --out '%s': exit %d\n%s", outs[k], code, out);
        snprintf(path, sizeof path, "%s/PWNED", dir);
        cr_assert(!exists(path), "nde train --out '%s' ran a command through gnuplot", outs[k]);
        const char *pngs[] = {"loss.png", "nfe.png", "pred.png", "ev/pred.png"};
        for (int j = 0; j < 4; j++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, outs[k], pngs[j]);
            cr_assert(exists(path), "no plot at %s:\n%s", path, out);
        }
    }
    unsetenv("NDE_HOSTILE_OUT");
    remove_dir(dir);
}
#endif

/* Numbers on the command line are parsed whole and range-checked (tools/args): a negative
 * count no longer wraps to 2^64 iterations, a typo is no longer silently ignored. */
Test(hostile, command_line_numbers_and_names_are_strict)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s steps --t1 -1", NDE_CLI_EXE);
    fails_with(cmd, (const char *const[]){"--t1", "-1", NULL});
#ifdef NDE_STIFF_EXE
    snprintf(cmd, sizeof cmd, "%s --iters -3", NDE_STIFF_EXE);
    fails_with(cmd, (const char *const[]){"--iters", "-3", NULL});
    snprintf(cmd, sizeof cmd, "%s --seed x", NDE_STIFF_EXE);
    fails_with(cmd, (const char *const[]){"--seed", "x", NULL});
    snprintf(cmd, sizeof cmd, "%s --iters 2x", NDE_STIFF_EXE);
    fails_with(cmd, (const char *const[]){"--iters", "2x", NULL});
#endif
#ifdef NDE_BENCH_OPTIM_EXE
    snprintf(cmd, sizeof cmd, "%s --only adamm", NDE_BENCH_OPTIM_EXE);
    fails_with(cmd, (const char *const[]){"--only", "adamm", NULL});
#endif
}

#if defined(NDE_BURGERS_EXE) && defined(NDE_TEST_HDF5)
/* `--n 0` divided the grid size by zero (SIGFPE) once data came from a file; and a file
 * with fewer columns than --n is refused rather than subsampled by zero. */
Test(hostile, burgers_grid_size_zero_and_empty_data)
{
    char dir[64], cmd[2048], path[600];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/FILE.h5", dir);
    const double v[1] = {0.0};
    cr_assert_eq(nde_h5_write(path, "a", 2, (const size_t[]){12, 0}, v, 0), NDE_OK, "%s",
                 nde_last_error());
    cr_assert_eq(nde_h5_write(path, "u", 2, (const size_t[]){12, 0}, v, 1), NDE_OK, "%s",
                 nde_last_error());
    snprintf(cmd, sizeof cmd, "%s --n 0 --data %s --out %s/o", NDE_BURGERS_EXE, path, dir);
    fails_with(cmd, (const char *const[]){"--n", "0", NULL});
    snprintf(cmd, sizeof cmd, "%s --n 8 --ntrain 4 --ntest 4 --batch 4 --data %s --out %s/o",
             NDE_BURGERS_EXE, path, dir);
    fails_with(cmd, (const char *const[]){"(12, 0)", "multiple of 8", NULL});
    remove_dir(dir);
}
#endif

/* A version-1.0 .npy header with `dict` (padded to 64 bytes) followed by `data_len` zero
 * bytes of data. */
static void write_npy(const char *path, const char *dict, size_t data_len)
{
    unsigned char buf[512] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    const size_t hlen = (strlen(dict) + 1 + 10 + 63) / 64 * 64 - 10;
    cr_assert(10 + hlen + data_len <= sizeof buf);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memset(buf + 10, ' ', hlen);
    memcpy(buf + 10, dict, strlen(dict));
    buf[10 + hlen - 1] = '\n';
    memset(buf + 10 + hlen, 0, data_len);
    write_file(path, buf, 10 + hlen + data_len);
}

/* .npy headers are checked against the bytes present before anything is allocated: a
 * 144-byte file claiming 250 million doubles, a bad dtype, trailing bytes; and failures to
 * open say why. */
Test(hostile, npy_header_claims_are_checked_against_the_file)
{
    char dir[64], cmd[2048], path[600];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/huge.npy", dir);
    write_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (250000000,), }", 16);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 144);
    snprintf(cmd, sizeof cmd, "%s inspect %s", NDE_CLI_EXE, path);
    fails_with(cmd, (const char *const[]){"huge.npy", "2000000000 bytes", "holds 16", "truncated",
                                          NULL});
    snprintf(path, sizeof path, "%s/junk.npy", dir);
    write_npy(path, "{'descr': '<f8junk', 'fortran_order': False, 'shape': (2,), }", 16);
    snprintf(cmd, sizeof cmd, "%s inspect %s", NDE_CLI_EXE, path);
    fails_with(cmd, (const char *const[]){"junk.npy", "'<f8junk' is not supported", NULL});
    snprintf(path, sizeof path, "%s/trailing.npy", dir);
    write_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 17);
    snprintf(cmd, sizeof cmd, "%s inspect %s", NDE_CLI_EXE, path);
    fails_with(cmd, (const char *const[]){"trailing.npy", "holds 17", "trailing bytes", NULL});
    /* the same file without the extra byte is read */
    write_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16);
    static char out[4096];
    cr_assert_eq(limited(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s inspect %s/missing.npy", NDE_CLI_EXE, dir);
    fails_with(cmd, (const char *const[]){"missing.npy", "No such file or directory", NULL});
    snprintf(path, sizeof path, "%s/dir.npy", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(cmd, sizeof cmd, "%s inspect %s", NDE_CLI_EXE, path);
    fails_with(cmd, (const char *const[]){"dir.npy", "is a directory", NULL});
    remove_dir(dir);
}

/* Address space of this test's own process capped at `bytes` (Criterion forks per test;
 * not in sanitizer builds). */
static void cap_address_space(rlim_t bytes)
{
#ifdef NDE_TEST_SANITIZED
    (void)bytes;
#else
    struct rlimit lim = {.rlim_cur = bytes, .rlim_max = bytes};
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
#endif
}

/* IDX headers are checked against the data that can really be read, plain or gzip: a
 * 40-byte gzip file claiming 2.7M×28×28 images (2.1 GB) fails as truncated with the
 * counts, allocating at most twice what it holds. */
Test(hostile, idx_header_claims_are_bounded_by_the_data_present)
{
    char dir[64], cmd[2048], path[600];
    temp_dir(dir, sizeof dir);
    /* magic 00 00 08 03, dims 2700000 (0x002932e0), 28, 28, then 4 pixel bytes */
    const char *header = "\\0\\0\\010\\003\\0\\051\\062\\340\\0\\0\\0\\034\\0\\0\\0\\034\\1\\2\\3\\4";
    snprintf(cmd, sizeof cmd, "printf '%s' | gzip -9 -c > %s/train-images-idx3-ubyte.gz && "
             "printf '%s' > %s/plain-idx3-ubyte", header, dir, header, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_lt(st.st_size, 64, "%s: %lld bytes", path, (long long)st.st_size);
#ifdef NDE_FASHION_EXE
    snprintf(cmd, sizeof cmd, "%s --data %s --train-eval 16 --steps 1 --no-plot --out %s/o",
             NDE_FASHION_EXE, dir, dir);
    fails_with(cmd, (const char *const[]){"train-images-idx3-ubyte.gz", "holds 4", "truncated",
                                          NULL});
#endif
    /* through the reader itself, with 256 MB of address space: no room for the claim */
    cap_address_space((rlim_t)256 << 20);
    for (int k = 0; k < 2; k++) {
        if (k) snprintf(path, sizeof path, "%s/plain-idx3-ubyte", dir);
        nde_idx *x = NULL;
        cr_assert_eq(nde_idx_read(path, 0, &x), NDE_ERR_FORMAT, "%s", nde_last_error());
        cr_assert_null(x);
        cr_assert(strstr(nde_last_error(), "claims 2116800000 bytes") &&
                  strstr(nde_last_error(), "holds 4 (truncated)"), "%s", nde_last_error());
    }
    remove_dir(dir);
}

#ifdef NDE_TEST_HDF5
/* Replace the MATLAB_class attribute of dataset `name` in an existing file by `count`
 * copies of the fixed-length string `value`. */
static void set_matlab_class(const char *path, const char *name, const char *value, int count)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(file, 0);
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    if (H5Aexists(ds, "MATLAB_class") > 0) cr_assert_geq(H5Adelete(ds, "MATLAB_class"), 0);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value));
    const hsize_t n = (hsize_t)count;
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t at = H5Acreate2(ds, "MATLAB_class", type, space, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(at, 0);
    char buf[256];
    for (int i = 0; i < count; i++) memcpy(buf + i * strlen(value), value, strlen(value));
    cr_assert_geq(H5Awrite(at, type, buf), 0);
    H5Aclose(at);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(ds);
    H5Fclose(file);
}

/* A valid .mat file whose MATLAB_class holds 16 copies of "double": HDF5 would write 112
 * bytes into the reader's 32-byte buffer. Now refused, naming the attribute. */
Test(hostile, mat_class_attribute_with_many_strings)
{
    char dir[64], cmd[2048], path[600];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/class16.mat", dir);
    const double v[4] = {1, 2, 3, 4};
    cr_assert_eq(nde_mat_write(path, "a", 2, (const size_t[]){2, 2}, v, 0), NDE_OK, "%s",
                 nde_last_error());
    set_matlab_class(path, "a", "double", 1);
    snprintf(cmd, sizeof cmd, "%s inspect %s a", NDE_CLI_EXE, path);
    static char out[4096];
    cr_assert_eq(limited(cmd, out, sizeof out), 0, "one string is fine: %s", out);
    set_matlab_class(path, "a", "double", 16);
    fails_with(cmd, (const char *const[]){"class16.mat", "MATLAB_class", "16 values", NULL});
    nde_array a;
    cr_assert_eq(nde_mat_read(path, "a", 0, &a), NDE_ERR_FORMAT);
    cr_assert_null(a.data);
    remove_dir(dir);
}

/* A tiny HDF5 file whose dataset claims 250 million doubles that were never stored
 * (contiguous, and chunked): refused before anything is allocated or read. */
Test(hostile, hdf5_dataset_storage_is_checked_before_reading)
{
    char dir[64], cmd[2048], path[600];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/claims.h5", dir);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(file, 0);
    const hsize_t n = 250000000, chunk = 1000;
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(file, "contiguous", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    H5Dclose(ds);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(plist, 1, &chunk);
    ds = H5Dcreate2(file, "chunked", H5T_IEEE_F64LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    H5Dclose(ds);
    H5Pclose(plist);
    H5Sclose(space);
    H5Fclose(file);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_lt(st.st_size, 1 << 16);
    snprintf(cmd, sizeof cmd, "%s inspect %s contiguous", NDE_CLI_EXE, path);
    fails_with(cmd, (const char *const[]){"claims.h5", "'contiguous'", "0 bytes stored", NULL});
    snprintf(cmd, sizeof cmd, "%s inspect %s chunked", NDE_CLI_EXE, path);
    fails_with(cmd, (const char *const[]){"claims.h5", "'chunked'", "2000000000 bytes from 0 stored",
                                          NULL});
    cap_address_space((rlim_t)1 << 30); /* the reader itself, with 1 GB: no room for the claim */
    nde_array a;
    cr_assert_eq(nde_h5_read(path, "contiguous", 0, &a), NDE_ERR_FORMAT, "%s", nde_last_error());
    cr_assert_eq(nde_h5_read(path, "chunked", 0, &a), NDE_ERR_FORMAT, "%s", nde_last_error());
    remove_dir(dir);
}
#endif

/* A safetensors file of n one-byte U8 tensors "t000000", …; with dup, the last one takes
 * the first one's name. */
static void write_many_tensors(const char *path, size_t n, int dup)
{
    enum { entry = 96 }; /* bytes reserved per entry, more than it takes */
    char *hdr = malloc(n * entry + 16);
    cr_assert_not_null(hdr);
    size_t len = 0;
    hdr[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        const int w = snprintf(hdr + len, entry,
                               "%s\"t%06zu\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}",
                               i ? "," : "", dup && i == n - 1 ? (size_t)0 : i, i, i + 1);
        cr_assert(w > 0 && w < entry);
        len += (size_t)w;
    }
    hdr[len++] = '}';
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    unsigned char hl[8];
    for (int b = 0; b < 8; b++) hl[b] = (unsigned char)((uint64_t)len >> (8 * b));
    cr_assert_eq(fwrite(hl, 1, 8, f), 8);
    cr_assert_eq(fwrite(hdr, 1, len, f), len);
    for (size_t i = 0; i < n; i++) fputc((int)(i & 0xff), f);
    cr_assert_eq(fclose(f), 0);
    free(hdr);
}

/* 100k entries (a 6 MB header) took 21 s with a quadratic duplicate-name check, so 200k
 * would take about 80 s; now they load well within the time limit, and a duplicate among
 * them is still found. A directory given as a .safetensors file says so. */
Test(hostile, safetensors_with_200k_entries_and_a_directory)
{
    char dir[64], cmd[2048], path[600];
    static char out[1 << 16];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/many.safetensors", dir);
    write_many_tensors(path, 200000, 0);
    snprintf(cmd, sizeof cmd, "%s inspect %s | tail -n 2", NDE_CLI_EXE, path);
    cr_assert_eq(limited(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "t199999") && strstr(out, "200000 elements"), "%s", out);
    snprintf(path, sizeof path, "%s/dup.safetensors", dir);
    write_many_tensors(path, 200000, 1);
    snprintf(cmd, sizeof cmd, "%s inspect %s", NDE_CLI_EXE, path);
    fails_with(cmd, (const char *const[]){"dup.safetensors", "duplicate tensor 't000000'", NULL});
    snprintf(path, sizeof path, "%s/dir.safetensors", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(cmd, sizeof cmd, "%s inspect %s", NDE_CLI_EXE, path);
    fails_with(cmd, (const char *const[]){"dir.safetensors", "is a directory", NULL});
    remove_dir(dir);
}

#ifdef NDE_BURGERS_EXE
/* A corrupted Burgers cache is named, with what is wrong, and regenerated. */
Test(hostile, burgers_corrupted_cache_is_named_and_regenerated)
{
    char dir[64], cmd[2048], path[600];
    static char out[1 << 16];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/cache", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/cache/burgers_n64_solve64_steps200_nu0.1_seed0_count12_a.npy",
             dir);
    write_file(path, "junk", 4);
    snprintf(cmd, sizeof cmd, "%s --n 64 --ntrain 8 --ntest 4 --batch 4 --epochs 1 --cache %s/cache "
             "--out %s/o", NDE_BURGERS_EXE, dir, dir);
    cr_assert_eq(limited(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "burgers_n64_solve64_steps200_nu0.1_seed0_count12_{a,u}.npy is "
                          "unreadable") && strstr(out, "bad magic") &&
              strstr(out, "regenerating it"), "%s", out);
    cr_assert_eq(limited(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(!strstr(out, "unreadable"), "not regenerated: %s", out);
    remove_dir(dir);
}
#endif

#if defined(NDE_DARCY_EXE) && defined(NDE_TEST_HDF5)
/* A corrupted data cache names the cache file and the fix; an array of non-square fields
 * says what is wrong with its shape (it said "got rank 3"). */
Test(hostile, darcy_corrupted_cache_and_non_square_data)
{
    char dir[64], cmd[2048], path[600];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/cache", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/cache/darcy_s32_n12_seed1.h5", dir);
    write_file(path, "\x89HDF\r\n\x1a\n garbage", 17);
    snprintf(cmd, sizeof cmd, "%s --model fno --s 32 --ntrain 8 --ntest 4 --epochs 1 --cache %s/cache "
             "--out %s/o", NDE_DARCY_EXE, dir, dir);
    fails_with(cmd, (const char *const[]){"darcy_s32_n12_seed1.h5", "unreadable",
                                          "delete it", NULL});
    snprintf(path, sizeof path, "%s/rect.h5", dir);
    static double v[12 * 5 * 7];
    cr_assert_eq(nde_h5_write(path, "coeff", 3, (const size_t[]){12, 5, 7}, v, 0), NDE_OK);
    cr_assert_eq(nde_h5_write(path, "sol", 3, (const size_t[]){12, 5, 7}, v, 1), NDE_OK);
    snprintf(cmd, sizeof cmd, "%s --model fno --data %s --s 5 --ntrain 8 --ntest 4 --epochs 1 "
             "--out %s/o", NDE_DARCY_EXE, path, dir);
    fails_with(cmd, (const char *const[]){"rect.h5", "square", "shape (12, 5, 7)", NULL});
    remove_dir(dir);
}
#endif

#if defined(NDE_TEST_HDF5) && defined(NDE_CRASH_HDF5)
/* Where libhdf5 itself crashes on a corrupted file, nde inspect contains it: the reader
 * runs in a child process, and a crash becomes a message and exit code 1. The crash is
 * simulated by an H5Fopen that raises SIGSEGV (tests/crash_hdf5.c, LD_PRELOAD). */
Test(hostile, a_crash_inside_libhdf5_is_contained_by_nde_inspect)
{
    char dir[64], cmd[2048], path[600];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/corrupt.h5", dir);
    const double v[4] = {1, 2, 3, 4};
    cr_assert_eq(nde_h5_write(path, "a", 1, (const size_t[]){4}, v, 0), NDE_OK);
    snprintf(cmd, sizeof cmd, "env LD_PRELOAD=%s %s inspect %s a", NDE_CRASH_HDF5, NDE_CLI_EXE,
             path);
    fails_with(cmd, (const char *const[]){"corrupt.h5", "crashed inside libhdf5", "signal 11",
                                          NULL});
    remove_dir(dir);
}
#endif

#ifdef NDE_TEST_HDF5
/* .h5 and .mat files that cannot be opened say why (they said "cannot open for reading"). */
Test(hostile, hdf5_and_mat_open_failures_say_why)
{
    char dir[64], cmd[2048], path[600];
    temp_dir(dir, sizeof dir);
    const char *ext[2] = {"h5", "mat"};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s inspect %s/missing.%s a", NDE_CLI_EXE, dir, ext[k]);
        fails_with(cmd, (const char *const[]){"missing.", "No such file or directory", NULL});
        snprintf(path, sizeof path, "%s/dir.%s", dir, ext[k]);
        cr_assert_eq(mkdir(path, 0700), 0);
        snprintf(cmd, sizeof cmd, "%s inspect %s a", NDE_CLI_EXE, path);
        fails_with(cmd, (const char *const[]){"dir.", "is a directory", NULL});
    }
    remove_dir(dir);
}
#endif

#if defined(NDE_SPIRAL_EXE) && !defined(NDE_TEST_SANITIZED)
/* A diverging training (`spiral --lr 16`) grew the adjoint tape past 15 GB, then (with
 * the tape's cap) took about a minute of tiny steps to fill a quarter of 4 GB. Once a
 * solve holds a sixteenth of the cap the solver projects the steps it needs from its
 * pace and stops if even half of them would not fit; the trainer names the step. */
Test(hostile, diverging_training_stops_early_within_the_limits)
{
    /* exactly issue 12's case: spiral --lr 16 under ulimit -v 4000000 and timeout 20 */
    char cmd[2048];
    static char out[1 << 16];
    snprintf(cmd, sizeof cmd, "%s --lr 16 --no-plot --out /tmp/nde_hostile_spiral_lr16",
             NDE_SPIRAL_EXE);
    const int code = limited(cmd, out, sizeof out);
    cr_assert_eq(code, 1, "%s: exit %d\n%s", cmd, code, out);
    /* the training step, the solver's projection, and what to change */
    cr_assert(strstr(out, "spiral: step ") && strstr(out, "the forward pass failed") &&
              strstr(out, "at this pace it needs about") &&
              strstr(out, "lower the learning rate") &&
              strstr(out, "raise nde_solver_opts.tape_max_bytes") &&
              strstr(out, "training stopped"), "%s", out);
    cr_assert_eq(system("rm -rf /tmp/nde_hostile_spiral_lr16"), 0);
}
#endif

#if defined(NDE_CLI_EXE) && defined(NDE_TEST_HDF5) && !defined(NDE_TEST_SANITIZED)
/* Issue 12 item 5 through the CLI: `nde train` with a learning rate that makes the second
 * step's solve diverge stops with the training step named, and says no checkpoint was
 * written yet (the first epoch never ended); nothing is left named like a checkpoint. */
Test(hostile, nde_train_with_a_diverging_learning_rate_names_the_step)
{
    char cmd[4096];
    static char out[1 << 16];
    const char *dir = "/tmp/nde_hostile_train_lr";
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && %s data spiral --out %s/s.h5 >/dev/null",
             dir, dir, NDE_CLI_EXE, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(cmd, sizeof cmd,
             "%s train %s/examples/configs/spiral_node.ini --set data.path=%s/s.h5 "
             "--set optim.lr=1e6 --set train.epochs=2 --out %s/o",
             NDE_CLI_EXE, NDE_SOURCE_ROOT, dir, dir);
    const int code = limited(cmd, out, sizeof out);
    cr_assert_eq(code, 1, "%s: exit %d\n%s", cmd, code, out);
    cr_assert(strstr(out, "nde train: step 2 (epoch 1): the forward pass failed") &&
              strstr(out, "at this pace it needs about") &&
              strstr(out, "training stopped, no checkpoint written yet"), "%s", out);
    snprintf(cmd, sizeof cmd, "test ! -e %s/o/checkpoint.safetensors", dir);
    cr_assert_eq(system(cmd), 0, "a checkpoint was left: %s", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
#endif

#if defined(NDE_CLI_EXE) && defined(NDE_TEST_HDF5)
/* Overwrite the first value of tensor `name` of a safetensors file with NaN. */
static void poison_tensor(const char *path, const char *name)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f, "%s", path);
    unsigned char len8[8];
    cr_assert_eq(fread(len8, 1, 8, f), 8u);
    size_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    cr_assert(hlen > 0 && hlen < (1u << 20));
    char *h = calloc(hlen + 1, 1);
    cr_assert(h && fread(h, 1, hlen, f) == hlen);
    char key[256];
    snprintf(key, sizeof key, "\"%s\"", name);
    const char *at = strstr(h, key), *offs = at ? strstr(at, "\"data_offsets\"") : NULL;
    size_t begin = 0;
    cr_assert(offs && sscanf(strchr(offs, '[') + 1, "%zu", &begin) == 1, "%s", h);
    const double nan_value = NAN;
    cr_assert_eq(fseek(f, (long)(8 + hlen + begin), SEEK_SET), 0);
    cr_assert_eq(fwrite(&nan_value, sizeof nan_value, 1, f), 1u);
    cr_assert_eq(fclose(f), 0);
    free(h);
}

/* Issue 12 item 5: a checkpoint holding NaN is refused by `nde eval`, `nde predict` and
 * `nde train --resume`, each naming the file and the tensor; nothing is written. */
Test(hostile, nde_cli_refuses_a_checkpoint_with_nan)
{
    char cmd[4096], ck[512];
    const char *dir = "/tmp/nde_hostile_nan_ckpt";
    snprintf(cmd, sizeof cmd,
             "rm -rf %s && mkdir -p %s && %s data spiral --out %s/s.h5 >/dev/null && "
             "%s train %s/examples/configs/spiral_node.ini --set data.path=%s/s.h5 "
             "--set train.epochs=1 --set data.ntrain=16 --set data.ntest=8 "
             "--set model.hidden=4 --out %s/o > /dev/null 2>&1",
             dir, dir, NDE_CLI_EXE, dir, NDE_CLI_EXE, NDE_SOURCE_ROOT, dir, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(ck, sizeof ck, "%s/o/checkpoint.safetensors", dir);
    poison_tensor(ck, "field.0.weight");
    char want[700];
    snprintf(want, sizeof want, "checkpoint '%s': tensor 'field.0.weight' holds nan", ck);
    const char *const words[] = {want, NULL};
    snprintf(cmd, sizeof cmd, "%s eval %s %s/s.h5", NDE_CLI_EXE, ck, dir);
    fails_with(cmd, words);
    snprintf(cmd, sizeof cmd, "%s predict %s %s/s.h5 --out %s/p.npy", NDE_CLI_EXE, ck, dir, dir);
    fails_with(cmd, words);
    snprintf(cmd, sizeof cmd, "test ! -e %s/p.npy", dir);
    cr_assert_eq(system(cmd), 0, "nde predict wrote its output from a NaN checkpoint");
    snprintf(cmd, sizeof cmd,
             "%s train %s/examples/configs/spiral_node.ini --set data.path=%s/s.h5 "
             "--set train.epochs=2 --set data.ntrain=16 --set data.ntest=8 "
             "--set model.hidden=4 --out %s/o --resume",
             NDE_CLI_EXE, NDE_SOURCE_ROOT, dir, dir);
    fails_with(cmd, words);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
#endif

/* Fuzzing findings (tests/fuzz, docs/reliability.md), each reproducer through `nde inspect`
 * under the address-space and time limits: a clean error naming what is wrong, no crash
 * (not even a contained one). */
Test(hostile, fuzzing_reproducers_fail_cleanly)
{
    static const struct {
        const char *file, *word;
    } cases[] = {
        /* libhdf5 malloc'ed a 382 GB local heap (the root group's) before checking it */
        {"hdf5-local-heap-huge", "local heap claims"},
        /* libhdf5 segfaulted in H5F__accum_read from H5Lexists (the crash of issue 12) */
        {"hdf5-root-heap-missing", "local heap is missing"},
        /* libhdf5 leaked an object header when H5Fopen failed */
        {"leak-h5fopen-mkroot", "local heap"},
        /* libhdf5 read a wild address decoding the MATLAB_class attribute (H5Aexists); nde
         * decodes that attribute itself, and shows the corrupted byte of its value */
        {"hdf5-attr-decode.mat", "MATLAB class 'dou?le'"},
        /* libmatio calloc'ed 32 GB for a cell claiming 4294967042 elements */
        {"matio-cell-huge-dims.mat", "negative dimension"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s inspect %s/tests/fuzz/corpus/dataset/%s a", NDE_CLI_EXE,
                 NDE_SOURCE_ROOT, cases[i].file);
        if (NDE_HAVE_HDF5 && (NDE_HAVE_MATIO || !strstr(cases[i].file, ".mat")))
            fails_with(cmd, (const char *const[]){cases[i].file, cases[i].word, NULL});
    }
}
