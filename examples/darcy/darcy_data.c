/* Reading, subsampling, generating and caching Darcy samples. */
#include "darcy_data.h"

#include <stdio.h>
#include <string.h>

void darcy_data_free(darcy_data *d)
{
    nde_free(d->coeff);
    nde_free(d->sol);
    memset(d, 0, sizeof *d);
}

/* "shape (a, b, c)" of a, in buf (cap bytes). */
static const char *describe_shape(const nde_array *a, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "shape (");
    for (int d = 0; d < a->ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, d ? ", %zu" : "%zu", a->shape[d]);
    if (len < cap) snprintf(buf + len, cap - len, ")");
    return buf;
}

/* dst (count, s, s) ← every r-th point of src (≥ count, S, S). */
static nde_status subsample(const nde_array *src, const char *what, size_t count, size_t s,
                            double **dst)
{
    char shape[160];
    if (src->ndim != 3 || src->shape[1] != src->shape[2])
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: expected a (samples, S, S) array of square S×S "
                        "fields, got %s", what, describe_shape(src, shape, sizeof shape));
    const size_t n = src->shape[0], S = src->shape[1];
    if (n < count)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: %zu samples, %zu requested", what, n, count);
    if (s < 2 || S < s || (S - 1) % (s - 1))
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: cannot subsample %zu points to %zu (need (S−1)/(s−1) "
                        "integral)", what, S, s);
    const size_t r = (S - 1) / (s - 1);
    *dst = nde_alloc_array(count * s * s, sizeof(double));
    if (!*dst) return NDE_ERR_NOMEM;
    for (size_t k = 0; k < count; k++)
        for (size_t i = 0; i < s; i++)
            for (size_t j = 0; j < s; j++)
                (*dst)[(k * s + i) * s + j] = src->data[(k * S + i * r) * S + j * r];
    return NDE_OK;
}

nde_status darcy_data_read(const char *path, const char *sol_path, const char *xname,
                           const char *yname, size_t count, size_t s, darcy_data *d)
{
    memset(d, 0, sizeof *d);
    const size_t len = strlen(path);
    const int npy = len > 4 && strcmp(path + len - 4, ".npy") == 0;
    if (npy && !sol_path)
        return NDE_FAIL(NDE_ERR_ARG, "%s: a .npy coefficient file needs --sol with the solutions", path);
    nde_array x = {0}, y = {0};
    nde_status st = nde_dataset_read(path, xname, 3, &x);
    if (st == NDE_OK) st = nde_dataset_read(npy ? sol_path : path, yname, 3, &y);
    if (st == NDE_OK) st = subsample(&x, path, count, s, &d->coeff);
    if (st == NDE_OK) st = subsample(&y, npy ? sol_path : path, count, s, &d->sol);
    nde_array_free(&x);
    nde_array_free(&y);
    if (st != NDE_OK) {
        darcy_data_free(d);
        return st;
    }
    d->count = count;
    d->s = s;
    return NDE_OK;
}

static int progress(void *user, size_t done, size_t total)
{
    const double t0 = *(const double *)user;
    if (done % 50 == 0 || done == total)
        fprintf(stderr, "darcy: generated %zu/%zu samples (%.1f s)\n", done, total,
                nde_wall_seconds() - t0);
    return 0;
}

nde_status darcy_data_generate(size_t s, size_t count, uint64_t seed, const char *cache_dir,
                               darcy_data *d)
{
    memset(d, 0, sizeof *d);
    char path[600];
    snprintf(path, sizeof path, "%s/darcy_s%zu_n%zu_seed%llu.h5", cache_dir, s, count,
             (unsigned long long)seed);
    FILE *fp = fopen(path, "rb");
    if (fp) {
        fclose(fp);
        fprintf(stderr, "darcy: reading cached data %s\n", path);
        nde_status st = darcy_data_read(path, NULL, "coeff", "sol", count, s, d);
        if (st != NDE_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", nde_last_error());
            return NDE_FAIL(st, "the data cache %s is unreadable (%s): delete it, and the next "
                            "run regenerates it", path, why);
        }
        return NDE_OK;
    }
    nde_darcy_spec spec = nde_darcy_defaults(s);
    nde_darcy *gen;
    NDE_TRY(nde_darcy_create(&spec, &gen));
    d->coeff = nde_alloc_array(count * s * s, sizeof(double));
    d->sol = nde_alloc_array(count * s * s, sizeof(double));
    nde_status st = d->coeff && d->sol ? NDE_OK : NDE_ERR_NOMEM;
    double t0 = nde_wall_seconds();
    fprintf(stderr, "darcy: generating %zu samples at s = %zu (solver grid %zu, %d multigrid levels)\n",
            count, s, nde_darcy_grid(gen), nde_darcy_levels(gen));
    if (st == NDE_OK) st = nde_darcy_generate(gen, seed, 0, count, d->coeff, d->sol, progress, &t0);
    nde_darcy_destroy(&gen);
    const size_t shape[3] = {count, s, s};
    if (st == NDE_OK) st = nde_mkdir_p(cache_dir);
    if (st == NDE_OK) st = nde_h5_write(path, "coeff", 3, shape, d->coeff, 0);
    if (st == NDE_OK) st = nde_h5_write(path, "sol", 3, shape, d->sol, 1);
    if (st != NDE_OK) {
        darcy_data_free(d);
        return st;
    }
    d->count = count;
    d->s = s;
    fprintf(stderr, "darcy: cached %s\n", path);
    return NDE_OK;
}
