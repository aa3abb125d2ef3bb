/* bench_constraint — cost of the hard-constraint layer (nde/constraint.h), global against
 * mixture of experts, on the discrete divergence-free constraint of a periodic staggered
 * 2-D field of N × N cells (n = 2N², m = N² − 1 for the global projection).
 *
 * Experts (Chalapathi et al., ICLR 2024, PI-HC-MoE): the grid is cut into tiles of T × T
 * cells; an expert owns the left (u) and bottom (v) faces of its cells and constrains the
 * divergence of the cells all of whose four faces it owns ((T − 1)² per tile). The cells
 * along the tiles' top and right edges are left unconstrained: the experts enforce the
 * local constraints only, which is what makes them independent. Reported per
 * configuration: the set-up (forming and factoring every M_k), a projection and a VJP of a
 * batch, each a median over --reps, the fraction of cells constrained, and the largest
 * divergence over constrained and over all cells after the projection of a random field.
 * One JSON line per result. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nde/nde.h"
#include "nde_args.h"

#define CHECK(x)                                                                           \
    do {                                                                                   \
        nde_status s_ = (x);                                                               \
        if (s_ != NDE_OK) {                                                                \
            fprintf(stderr, "%s: %s (%s)\n", #x, nde_status_str(s_), nde_last_error());    \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Divergence of cell (i, j) of z = (u, v) on the periodic N × N grid, spacing 1/N. */
static double divergence(const double *z, size_t N, size_t i, size_t j)
{
    const double h = 1.0 / (double)N;
    return (z[j * N + (i + 1) % N] - z[j * N + i]) / h +
           (z[N * N + ((j + 1) % N) * N + i] - z[N * N + j * N + i]) / h;
}

/* Tiles of T × T cells as experts (T = N: one tile, but then the global builder is used). */
static nde_constraint *experts(size_t N, size_t T, size_t threads)
{
    const size_t tiles = (N / T) * (N / T), ni = 2 * T * T, mk = (T - 1) * (T - 1);
    nde_constraint_block *bl = calloc(tiles, sizeof *bl);
    size_t *idx = calloc(tiles * ni, sizeof *idx);
    double *A = calloc(tiles * mk * ni, sizeof *A);
    if (!bl || !idx || !A) CHECK(NDE_ERR_NOMEM);
    const double h = 1.0 / (double)N;
    for (size_t ty = 0, k = 0; ty < N / T; ty++)
        for (size_t tx = 0; tx < N / T; tx++, k++) {
            size_t *ik = idx + k * ni;
            double *Ak = A + k * mk * ni;
            for (size_t q = 0; q < T; q++) /* local face p = q·T + r: u; T² + p: v */
                for (size_t r = 0; r < T; r++) {
                    const size_t cell = (ty * T + q) * N + tx * T + r;
                    ik[q * T + r] = cell;
                    ik[T * T + q * T + r] = N * N + cell;
                }
            for (size_t q = 0, row = 0; q + 1 < T; q++)
                for (size_t r = 0; r + 1 < T; r++, row++) {
                    double *Ar = Ak + row * ni;
                    Ar[q * T + r + 1] += 1.0 / h;
                    Ar[q * T + r] -= 1.0 / h;
                    Ar[T * T + (q + 1) * T + r] += 1.0 / h;
                    Ar[T * T + q * T + r] -= 1.0 / h;
                }
            bl[k] = (nde_constraint_block){.n_idx = ni, .idx = ik, .m = mk, .A = Ak};
        }
    nde_constraint *c;
    CHECK(nde_constraint_create(2 * N * N, tiles, bl, threads, &c));
    free(bl);
    free(idx);
    free(A);
    return c;
}

int main(int argc, char **argv)
{
    size_t N = 32, batch = 8, reps = 3, threads = 2, only = (size_t)-1;
    const nde_arg opts[] = {
        {.name = "n", .kind = NDE_ARG_SIZE, .dest = &N, .min = 4, .help = "cells per side (N)"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &batch, .min = 1, .help = "samples per projection"},
        {.name = "reps", .kind = NDE_ARG_SIZE, .dest = &reps, .min = 1, .help = "repetitions (median)"},
        {.name = "threads", .kind = NDE_ARG_SIZE, .dest = &threads, .min = 1,
         .help = "threads of the experts"},
        {.name = "tile", .kind = NDE_ARG_SIZE, .dest = &only,
         .help = "only this configuration: 0 global, T experts on T x T tiles (default: all)"},
    };
    const nde_args_spec spec = {
        .prog = "bench_constraint",
        .about = "Set-up, projection and VJP cost of the divergence-free constraint on an N x N\n"
                 "staggered grid: global, and experts on tiles of 4 x 4, 8 x 8, 16 x 16 cells.",
        NDE_ARGS_TABLE(opts)};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    openblas_set_num_threads(1);
    const size_t n = 2 * N * N;
    double *y = malloc(batch * n * sizeof *y), *z = malloc(batch * n * sizeof *z);
    double *g = malloc(batch * n * sizeof *g), *t = malloc(reps * sizeof *t);
    if (!y || !z || !g || !t) CHECK(NDE_ERR_NOMEM);
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    for (size_t i = 0; i < batch * n; i++) y[i] = nde_rng_normal(&rng);
    const size_t tile_sizes[] = {0, 16, 8, 4}; /* 0: the global projection */
    const size_t n_conf = only == (size_t)-1 ? sizeof tile_sizes / sizeof *tile_sizes : 1;
    if (only != (size_t)-1 && only && (only < 2 || only >= N || N % only)) {
        fprintf(stderr, "bench_constraint: --tile %zu must divide --n %zu, 2 <= T < N\n", only, N);
        return 2;
    }
    for (size_t s = 0; s < n_conf; s++) {
        const size_t T = only == (size_t)-1 ? tile_sizes[s] : only;
        if (T && (T >= N || N % T)) continue;
        double setup[64];
        nde_constraint *c = NULL;
        const size_t setup_reps = reps < 64 ? reps : 64;
        for (size_t r = 0; r < setup_reps; r++) {
            nde_constraint_destroy(&c);
            const double t0 = nde_wall_seconds();
            if (T)
                c = experts(N, T, threads);
            else
                CHECK(nde_constraint_divfree2d_create(N, N, 1.0 / (double)N, 1.0 / (double)N, &c));
            setup[r] = nde_wall_seconds() - t0;
        }
        for (size_t r = 0; r < reps; r++) {
            const double t0 = nde_wall_seconds();
            CHECK(nde_constraint_project(c, y, NULL, z, batch));
            t[r] = nde_wall_seconds() - t0;
        }
        const double proj = median(t, reps);
        for (size_t r = 0; r < reps; r++) {
            const double t0 = nde_wall_seconds();
            CHECK(nde_constraint_vjp(c, y, g, NULL, batch));
            t[r] = nde_wall_seconds() - t0;
        }
        const double vjp = median(t, reps);
        double dmax_c = 0.0, dmax_all = 0.0;
        size_t constrained = 0;
        for (size_t j = 0; j < N; j++)
            for (size_t i = 0; i < N; i++) {
                const int in = !T || (i % T + 1 < T && j % T + 1 < T);
                const double d = fabs(divergence(z, N, i, j));
                constrained += (size_t)in;
                if (in) dmax_c = fmax(dmax_c, d);
                dmax_all = fmax(dmax_all, d);
            }
        char name[64];
        if (T)
            snprintf(name, sizeof name, "experts_%zux%zu", T, T);
        else
            snprintf(name, sizeof name, "global");
        const struct {
            const char *metric, *unit;
            double value;
        } res[] = {
            {"setup_s", "s", median(setup, setup_reps)},
            {"project_us_per_sample", "us", 1e6 * proj / (double)batch},
            {"vjp_us_per_sample", "us", 1e6 * vjp / (double)batch},
            {"experts", "count", (double)nde_constraint_n_blocks(c)},
            {"rows", "count", (double)nde_constraint_m(c)},
            {"cells_constrained", "fraction", (double)constrained / (double)(N * N)},
            {"max_div_constrained", "1", dmax_c},
            {"max_div_all_cells", "1", dmax_all},
        };
        for (size_t k = 0; k < sizeof res / sizeof *res; k++)
            printf("{\"bench\": \"constraint\", \"config\": \"%s\", \"N\": %zu, \"metric\": \"%s\", "
                   "\"value\": %.6g, \"unit\": \"%s\"}\n",
                   name, N, res[k].metric, res[k].value, res[k].unit);
        fflush(stdout);
        nde_constraint_destroy(&c);
    }
    free(y);
    free(z);
    free(g);
    free(t);
    return 0;
}
