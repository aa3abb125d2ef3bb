/* Convolution lowering choice for MgNO: nde_conv (im2col + OpenBLAS GEMM) against a
 * direct loop nest for the MgNO geometries (3×3, 24→24 channels, stride 1 and 2, zero
 * padding) on 64×64, plus one MgNO (rough-Darcy recipe) per sample in --precision
 * float32 (the recipe's default) or float64: forward, VJP (which recomputes the forward)
 * and forward_keep + backward (the trainer's path). Times are thread CPU seconds (robust
 * to other load on the machine); run with OPENBLAS_NUM_THREADS=1 so that all work is on
 * the timed thread. Prints one JSON object per result line.
 * Usage: mgno_bench [--reps 20] [--n 64] [--precision float32|float64]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "nde/nde.h"
#include "nde_args.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* y[o,i,j] = Σ w[o,c,a,b] x[c, s·i+a−1, s·j+b−1] with zero padding 1, kernel 3. */
static void direct_conv3(size_t ci, size_t co, size_t n, size_t s, const double *w,
                         const double *x, double *y)
{
    const size_t m = (n + 2 - 3) / s + 1;
    memset(y, 0, co * m * m * sizeof *y);
    for (size_t o = 0; o < co; o++)
        for (size_t c = 0; c < ci; c++)
            for (size_t a = 0; a < 3; a++)
                for (size_t b = 0; b < 3; b++) {
                    const double wv = w[((o * ci + c) * 3 + a) * 3 + b];
                    for (size_t i = 0; i < m; i++) {
                        const long r = (long)(s * i + a) - 1;
                        if (r < 0 || r >= (long)n) continue;
                        const double *xr = x + (c * n + (size_t)r) * n;
                        double *yr = y + (o * m + i) * m;
                        for (size_t j = 0; j < m; j++) {
                            const long q = (long)(s * j + b) - 1;
                            if (q >= 0 && q < (long)n) yr[j] += wv * xr[q];
                        }
                    }
                }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    return t[n / 2];
}

/* One result line; dtype NULL for the double-only convolution lines. */
static void emit(const char *metric, double v, const char *unit, const char *dtype)
{
    printf("{\"bench\": \"mgno\", \"metric\": \"%s\", ", metric);
    if (dtype) printf("\"dtype\": \"%s\", ", dtype);
    printf("\"value\": %.4g, \"unit\": \"%s\"}\n", v, unit);
}

int main(int argc, char **argv)
{
    size_t n_reps = 20, n = 64;
    int precision = NDE_PRECISION_FLOAT32;
    static const char *const precisions[] = {"float64", "float32", NULL}; /* nde_precision */
    const nde_arg opts[] = {
        {.name = "reps", .kind = NDE_ARG_SIZE, .dest = &n_reps, .min = 1, .max = 1000,
         .help = "timed repetitions (the median is reported)"},
        {.name = "n", .kind = NDE_ARG_SIZE, .dest = &n, .min = 1, .help = "grid points per side"},
        {.name = "precision", .kind = NDE_ARG_CHOICE, .dest = &precision, .choices = precisions,
         .help = "MgNO layer arithmetic: float32 (default) or float64"},
    };
    const nde_args_spec spec = {
        .prog = "mgno_bench",
        .about = "CPU time of the 3x3 convolution (GEMM and direct) and of one MgNO sample.",
        NDE_ARGS_TABLE(opts)};
    int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    const int reps = (int)n_reps;
    const size_t c = 24;
    nde_rng r;
    nde_rng_seed(&r, 1);
    double *w = nde_alloc_array(c * c * 9, 8), *x = nde_alloc_array(c * n * n, 8);
    double *y = nde_alloc_array(c * n * n, 8), *y2 = nde_alloc_array(c * n * n, 8);
    double *t = nde_alloc_array((size_t)reps, 8);
    for (size_t i = 0; i < c * c * 9; i++) w[i] = nde_rng_uniform_in(&r, -0.1, 0.1);
    for (size_t i = 0; i < c * n * n; i++) x[i] = nde_rng_uniform_in(&r, -1, 1);
    for (size_t s = 1; s <= 2; s++) {
        nde_conv_spec sp = {.ndim = 2, .c_in = c, .c_out = c, .n_in = {n, n}, .kernel = 3,
                            .stride = s, .pad = 1};
        nde_conv *cv;
        if (nde_conv_create(&sp, &cv) != NDE_OK) return 1;
        for (int k = 0; k < reps; k++) {
            double t0 = cpu_seconds();
            nde_conv_forward(cv, w, NULL, x, y, 1, 0);
            t[k] = 1e6 * (cpu_seconds() - t0);
        }
        char name[64];
        snprintf(name, sizeof name, "conv3x3_s%zu_im2col_gemm_us", s);
        emit(name, median(t, reps), "us", NULL);
        for (int k = 0; k < reps; k++) {
            double t0 = cpu_seconds();
            direct_conv3(c, c, n, s, w, x, y2);
            t[k] = 1e6 * (cpu_seconds() - t0);
        }
        snprintf(name, sizeof name, "conv3x3_s%zu_direct_us", s);
        emit(name, median(t, reps), "us", NULL);
        double diff = 0;
        for (size_t i = 0; i < nde_conv_out_numel(cv); i++) diff += (y[i] - y2[i]) * (y[i] - y2[i]);
        if (diff > 1e-20) fprintf(stderr, "mgno_bench: direct and GEMM results differ (%g)\n", diff);
        nde_conv_destroy(&cv);
    }
    /* one MgNO sample: forward, and VJP (which recomputes the forward) */
    nde_params *p;
    nde_params_create(&p);
    nde_mgno_spec ms = nde_mgno_darcy_spec(n);
    ms.precision = (nde_precision)precision;
    const char *dtype = precisions[precision];
    nde_mgno *m;
    if (nde_mgno_create(&ms, p, "mgno", &m) != NDE_OK || nde_mgno_init(m, &r) != NDE_OK ||
        nde_mgno_reserve(m, 1) != NDE_OK) {
        fprintf(stderr, "mgno_bench: %s\n", nde_last_error());
        return 1;
    }
    const int mreps = reps;
    for (int k = 0; k < mreps; k++) {
        double t0 = cpu_seconds();
        nde_mgno_forward(m, x, y, 1);
        t[k] = 1e3 * (cpu_seconds() - t0);
    }
    emit("mgno_darcy_forward_ms_per_sample", median(t, mreps), "ms", dtype);
    for (int k = 0; k < mreps; k++) {
        double t0 = cpu_seconds();
        nde_mgno_vjp(m, x, y, y2, nde_params_grad(p), 1);
        t[k] = 1e3 * (cpu_seconds() - t0);
    }
    emit("mgno_darcy_vjp_ms_per_sample", median(t, mreps), "ms", dtype);
    for (int k = 0; k < mreps; k++) {
        double t0 = cpu_seconds();
        nde_mgno_forward_keep(m, x, y, 1);
        nde_mgno_backward(m, y, y2, nde_params_grad(p), 1);
        t[k] = 1e3 * (cpu_seconds() - t0);
    }
    emit("mgno_darcy_keep_backward_ms_per_sample", median(t, mreps), "ms", dtype);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);
    nde_free(w), nde_free(x), nde_free(y), nde_free(y2), nde_free(t);
    return 0;
}
