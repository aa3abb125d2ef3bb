/* nde_array, axis reversal, rank and finiteness checks, and the by-extension reader. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/dataset_internal.h"

void nde_array_free(nde_array *a)
{
    if (!a) return;
    nde_free(a->data);
    memset(a, 0, sizeof *a);
}

nde_status io_array_alloc(nde_array *a, int ndim, const size_t *shape, const char *what)
{
    memset(a, 0, sizeof *a);
    if (ndim < 0 || ndim > NDE_ARRAY_MAX_DIMS)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: rank %d exceeds the supported %d dimensions", what,
                        ndim, NDE_ARRAY_MAX_DIMS);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] && numel > SIZE_MAX / sizeof(double) / shape[d])
            return NDE_FAIL(NDE_ERR_SHAPE, "%s: array size overflows", what);
        numel *= shape[d];
        a->shape[d] = shape[d];
    }
    a->ndim = ndim;
    a->numel = numel;
    a->data = nde_alloc_array(numel ? numel : 1, sizeof(double));
    if (!a->data) {
        memset(a, 0, sizeof *a);
        return NDE_ERR_NOMEM;
    }
    return NDE_OK;
}

void io_reverse_axes(int ndim, const size_t *shape, const double *in, double *out)
{
    size_t numel = 1, stride[NDE_ARRAY_MAX_DIMS], idx[NDE_ARRAY_MAX_DIMS] = {0};
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = numel; /* row-major stride of axis d of `in` */
        numel *= shape[d];
    }
    /* Walk `out` in order; its axis e is in's axis ndim−1−e, so its last (fastest) axis
     * is in's axis 0. idx[] is the odometer over in's axes with axis 0 fastest. */
    size_t off = 0;
    for (size_t k = 0; k < numel; k++) {
        out[k] = in[off];
        for (int d = 0; d < ndim; d++) {
            if (++idx[d] < shape[d]) {
                off += stride[d];
                break;
            }
            off -= (shape[d] - 1) * stride[d];
            idx[d] = 0;
        }
    }
}

nde_status io_check_rank(int ndim, int expect, const char *path, const char *name)
{
    if (expect > 0 && ndim != expect)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: dataset '%s' has rank %d, expected %d", path, name,
                        ndim, expect);
    return NDE_OK;
}

nde_status io_check_finite(const nde_array *a, const char *path, const char *name)
{
    for (size_t k = 0; k < a->numel; k++) {
        if (isfinite(a->data[k])) continue;
        char idx[160];
        size_t rem = k, len = 0;
        size_t sub[NDE_ARRAY_MAX_DIMS];
        for (int d = a->ndim - 1; d >= 0; d--) {
            sub[d] = rem % a->shape[d];
            rem /= a->shape[d];
        }
        idx[0] = '\0';
        for (int d = 0; d < a->ndim && len < sizeof idx; d++) {
            int w = snprintf(idx + len, sizeof idx - len, d ? ", %zu" : "%zu", sub[d]);
            if (w < 0) break;
            len += (size_t)w;
        }
        return NDE_FAIL(NDE_ERR_NONFINITE, "%s: dataset '%s' holds %g at index (%s)", path, name,
                        a->data[k], idx);
    }
    return NDE_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m) return 0;
    for (size_t i = 0; i < m; i++) {
        char c = s[n - m + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != suffix[i]) return 0;
    }
    return 1;
}

nde_status nde_dataset_read(const char *path, const char *name, int expect_ndim, nde_array *out)
{
    if (!path || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_dataset_read: NULL argument");
    unsigned char magic[6] = {0};
    FILE *fp = fopen(path, "rb");
    if (fp) {
        if (fread(magic, 1, sizeof magic, fp) != sizeof magic) memset(magic, 0, sizeof magic);
        fclose(fp);
    }
    if (!memcmp(magic, "\x93NUMPY", 6)) return nde_npy_read(path, expect_ndim, out);
    if (name && io_mat_version(path) > 0) return nde_mat_read(path, name, expect_ndim, out);
    if (ends_with(path, ".npy")) return nde_npy_read(path, expect_ndim, out);
    if (ends_with(path, ".mat")) return nde_mat_read(path, name, expect_ndim, out);
    return nde_h5_read(path, name, expect_ndim, out);
}

nde_status nde_dataset_read_rows(const char *path, const char *name, int expect_ndim,
                                 size_t first, size_t count, nde_array *out)
{
    if (!path || !out || (!name && !ends_with(path, ".npy")))
        return NDE_FAIL(NDE_ERR_ARG, "nde_dataset_read_rows: NULL argument");
    memset(out, 0, sizeof *out);
    const io_rows rows = {.first = first, .count = count};
    nde_status st;
    if (ends_with(path, ".npy")) st = io_npy_read_sel(path, expect_ndim, out, &rows);
    else if (ends_with(path, ".mat")) st = io_mat_read_sel(path, name, expect_ndim, out, &rows);
    else st = io_h5_read_sel(path, name, out, NULL, 0, &rows);
    if (st == NDE_OK) st = io_check_rank(out->ndim, expect_ndim, path, name ? name : "array");
    if (st == NDE_OK && out->data) st = io_check_finite(out, path, name ? name : "array");
    if (st != NDE_OK) nde_array_free(out);
    return st;
}

/* ---- a dataset kept open for row reads ---- */

struct nde_rows_reader {
    int kind;          /* 0 .npy, 1 .mat, 2 HDF5 */
    char path[4096], name[512];
    int ndim;
    size_t shape[NDE_ARRAY_MAX_DIMS]; /* as nde_dataset_read returns it */
    io_h5_rows *h5;
};

nde_status nde_rows_reader_open(const char *path, const char *name, nde_rows_reader **out)
{
    if (!out) return NDE_FAIL(NDE_ERR_ARG, "nde_rows_reader_open: NULL argument");
    *out = NULL;
    if (!path || (!name && !ends_with(path, ".npy")))
        return NDE_FAIL(NDE_ERR_ARG, "nde_rows_reader_open: NULL argument");
    if (strlen(path) >= sizeof((nde_rows_reader *)0)->path ||
        (name && strlen(name) >= sizeof((nde_rows_reader *)0)->name))
        return NDE_FAIL(NDE_ERR_ARG, "nde_rows_reader_open: path or name too long: %s", path);
    nde_rows_reader *r = nde_alloc(sizeof *r);
    if (!r) return NDE_ERR_NOMEM;
    r->kind = ends_with(path, ".npy") ? 0 : ends_with(path, ".mat") ? 1 : 2;
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->name, sizeof r->name, "%s", name ? name : "array");
    nde_array sh;
    nde_status st = nde_dataset_read_rows(path, name, 0, 0, 0, &sh); /* checks; the shape */
    if (st == NDE_OK) {
        r->ndim = sh.ndim;
        memcpy(r->shape, sh.shape, sizeof r->shape);
    }
    if (st == NDE_OK && r->kind) {
        char cls[32];
        int nd;
        size_t stored[NDE_ARRAY_MAX_DIMS];
        st = io_h5_rows_open(path, name, r->kind == 1, &r->h5, cls, sizeof cls, &nd, stored);
    }
    if (st != NDE_OK) {
        nde_rows_reader_close(&r);
        return st;
    }
    *out = r;
    return NDE_OK;
}

size_t nde_rows_reader_rows(const nde_rows_reader *r) { return r && r->ndim ? r->shape[0] : 0; }

nde_status nde_rows_reader_read(nde_rows_reader *r, size_t first, size_t count, nde_array *out)
{
    if (!r || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_rows_reader_read: NULL argument");
    memset(out, 0, sizeof *out);
    if (count == 0 || first > r->shape[0] || count > r->shape[0] - first)
        return NDE_FAIL(NDE_ERR_ARG, "%s: rows %zu..%zu of %s, which has %zu", r->path, first,
                        first + count, r->name, r->shape[0]);
    if (r->kind == 0) {
        const io_rows rows = {.first = first, .count = count};
        NDE_TRY(io_npy_read_sel(r->path, 0, out, &rows));
    } else if (r->kind == 2) {
        NDE_TRY(io_h5_rows_read(r->h5, first, count, out));
    } else { /* .mat: the block in stored (reversed) order, then MATLAB's */
        nde_array raw;
        NDE_TRY(io_h5_rows_read(r->h5, first, count, &raw));
        size_t shape[NDE_ARRAY_MAX_DIMS];
        for (int d = 0; d < raw.ndim; d++) shape[d] = raw.shape[raw.ndim - 1 - d];
        nde_status st = io_array_alloc(out, raw.ndim, shape, r->path);
        if (st == NDE_OK) io_reverse_axes(raw.ndim, raw.shape, raw.data, out->data);
        nde_array_free(&raw);
        NDE_TRY(st);
    }
    const nde_status st = io_check_finite(out, r->path, r->name);
    if (st != NDE_OK) nde_array_free(out);
    return st;
}

void nde_rows_reader_close(nde_rows_reader **r)
{
    if (!r || !*r) return;
    io_h5_rows_close(&(*r)->h5);
    nde_free(*r);
    *r = NULL;
}
