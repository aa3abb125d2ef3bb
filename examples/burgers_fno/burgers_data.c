/* Cached Burgers data in .npy files (read and written with nde/io.h). */
#include "burgers_data.h"

#include <stdio.h>

static int progress(void *user, size_t done, size_t total)
{
    double *t0 = user;
    if (done % 50 == 0 || done == total)
        fprintf(stderr, "burgers data: %zu/%zu samples (%.1f s)\n", done, total,
                nde_wall_seconds() - *t0);
    return 0;
}

static nde_status load_one(const char *path, size_t count, size_t n, double **out)
{
    nde_array arr = {0};
    NDE_TRY(nde_npy_read(path, 2, &arr));
    if (arr.shape[0] != count || arr.shape[1] != n) {
        nde_status st = NDE_FAIL(NDE_ERR_FORMAT, "%s has shape (%zu, %zu), expected (%zu, %zu)",
                                 path, arr.shape[0], arr.shape[1], count, n);
        nde_array_free(&arr);
        return st;
    }
    *out = arr.data;
    return NDE_OK;
}

static nde_status load_pair(const char *stem, size_t count, size_t n, double **a, double **u)
{
    char path[1024];
    snprintf(path, sizeof path, "%s_a.npy", stem);
    NDE_TRY(load_one(path, count, n, a));
    snprintf(path, sizeof path, "%s_u.npy", stem);
    nde_status st = load_one(path, count, n, u);
    if (st != NDE_OK) nde_free(*a);
    return st;
}

nde_status burgers_data_get(nde_ctx *ctx, const nde_burgers_spec *spec, size_t count,
                            const char *cache_dir, double **a, double **u, char *stem,
                            size_t stem_cap)
{
    snprintf(stem, stem_cap, "%s/burgers_n%zu_solve%zu_steps%zu_nu%g_seed%llu_count%zu%s", cache_dir,
             spec->n, spec->n_solve ? spec->n_solve : spec->n, spec->n_steps, spec->nu,
             (unsigned long long)spec->seed, count, spec->zero_mean ? "" : "_mean");
    const nde_status cached = load_pair(stem, count, spec->n, a, u);
    if (cached == NDE_OK) return NDE_OK;
    if (cached != NDE_ERR_IO) /* there, but unreadable: say so before replacing it */
        fprintf(stderr, "burgers data: the cache %s_{a,u}.npy is unreadable (%s); regenerating it\n",
                stem, nde_last_error());
    *a = nde_alloc_array(count * spec->n, sizeof **a);
    *u = nde_alloc_array(count * spec->n, sizeof **u);
    if (!*a || !*u) {
        nde_free(*a);
        nde_free(*u);
        return NDE_ERR_NOMEM;
    }
    double t0 = nde_wall_seconds();
    nde_status st = nde_burgers_generate(ctx, spec, 0, count, *a, *u, progress, &t0);
    if (st == NDE_OK) st = nde_mkdir_p(cache_dir);
    if (st == NDE_OK) {
        char path[1024];
        size_t shape[2] = {count, spec->n};
        snprintf(path, sizeof path, "%s_a.npy", stem);
        st = nde_npy_write(path, 2, shape, *a);
        snprintf(path, sizeof path, "%s_u.npy", stem);
        if (st == NDE_OK) st = nde_npy_write(path, 2, shape, *u);
    }
    if (st != NDE_OK) {
        nde_free(*a);
        nde_free(*u);
    }
    return st;
}
