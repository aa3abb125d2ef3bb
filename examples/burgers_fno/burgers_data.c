/* Cached Burgers data in .npy files (NumPy format 1.0: magic, header dict, raw data). */
#include "burgers_data.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

nde_status npy_write_f64(const char *path, size_t rows, size_t cols, const double *data)
{
    char header[128];
    int len = snprintf(header, sizeof header,
                       "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    /* magic (6) + version (2) + header length (2) + header, padded with spaces to 64 bytes
     * and ended by a newline */
    size_t total = 10 + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    FILE *f = fopen(path, "wb");
    if (!f) return NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    unsigned short hlen = (unsigned short)(padded - 10);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(header, 1, (size_t)len, f);
    for (size_t i = total; i < padded; i++) fputc(' ', f);
    fputc('\n', f);
    size_t n = fwrite(data, sizeof *data, rows * cols, f);
    if (fclose(f) != 0 || n != rows * cols)
        return NDE_FAIL(NDE_ERR_IO, "short write to %s", path);
    return NDE_OK;
}

nde_status npy_read_f64(const char *path, size_t *rows, size_t *cols, double **data)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NDE_FAIL(NDE_ERR_MISSING, "cannot open %s: %s", path, strerror(errno));
    unsigned char pre[10];
    char header[512];
    nde_status st = NDE_OK;
    if (fread(pre, 1, 10, f) != 10 || pre[0] != 0x93 || memcmp(pre + 1, "NUMPY", 5) != 0 || pre[6] != 1) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s is not a version 1 .npy file", path);
        goto out;
    }
    size_t hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    if (hlen >= sizeof header || fread(header, 1, hlen, f) != hlen) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: bad header length %zu", path, hlen);
        goto out;
    }
    header[hlen] = '\0';
    const char *shape = strstr(header, "'shape': (");
    if (!strstr(header, "'descr': '<f8'") || !strstr(header, "'fortran_order': False") || !shape ||
        sscanf(shape, "'shape': (%zu, %zu)", rows, cols) != 2) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: need float64 C-order 2-D data, header %s", path, header);
        goto out;
    }
    *data = nde_alloc_array(*rows * *cols, sizeof **data);
    if (!*data) {
        st = NDE_ERR_NOMEM;
        goto out;
    }
    if (fread(*data, sizeof **data, *rows * *cols, f) != *rows * *cols) {
        nde_free(*data);
        *data = NULL;
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: truncated data (%zu x %zu expected)", path, *rows, *cols);
    }
out:
    fclose(f);
    return st;
}

static int progress(void *user, size_t done, size_t total)
{
    double *t0 = user;
    if (done % 50 == 0 || done == total)
        fprintf(stderr, "burgers data: %zu/%zu samples (%.1f s)\n", done, total,
                nde_wall_seconds() - *t0);
    return 0;
}

static nde_status load_pair(const char *stem, size_t count, size_t n, double **a, double **u)
{
    char path[1024];
    size_t r, c;
    snprintf(path, sizeof path, "%s_a.npy", stem);
    NDE_TRY(npy_read_f64(path, &r, &c, a));
    if (r != count || c != n) {
        nde_free(*a);
        return NDE_FAIL(NDE_ERR_FORMAT, "%s has shape (%zu, %zu), expected (%zu, %zu)", path, r, c, count, n);
    }
    snprintf(path, sizeof path, "%s_u.npy", stem);
    nde_status st = npy_read_f64(path, &r, &c, u);
    if (st == NDE_OK && (r != count || c != n)) {
        nde_free(*u);
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s has shape (%zu, %zu)", path, r, c);
    }
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
    if (load_pair(stem, count, spec->n, a, u) == NDE_OK) return NDE_OK;
    *a = nde_alloc_array(count * spec->n, sizeof **a);
    *u = nde_alloc_array(count * spec->n, sizeof **u);
    if (!*a || !*u) {
        nde_free(*a);
        nde_free(*u);
        return NDE_ERR_NOMEM;
    }
    double t0 = nde_wall_seconds();
    nde_status st = nde_burgers_generate(ctx, spec, 0, count, *a, *u, progress, &t0);
    if (st == NDE_OK) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", cache_dir);
        for (char *p = dir + 1; *p; p++)
            if (*p == '/') {
                *p = '\0';
                mkdir(dir, 0755);
                *p = '/';
            }
        mkdir(dir, 0755);
        char path[1024];
        snprintf(path, sizeof path, "%s_a.npy", stem);
        st = npy_write_f64(path, count, spec->n, *a);
        snprintf(path, sizeof path, "%s_u.npy", stem);
        if (st == NDE_OK) st = npy_write_f64(path, count, spec->n, *u);
    }
    if (st != NDE_OK) {
        nde_free(*a);
        nde_free(*u);
    }
    return st;
}
