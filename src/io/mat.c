/* MATLAB v7.3 .mat files: HDF5 behind a 512-byte user block, variables stored with
 * their dimensions reversed (MATLAB is column-major) and a "MATLAB_class" attribute.
 * Layout as documented by MathWorks ("MAT-File Versions": v7.3 uses HDF5) and as read
 * by FNO's MatReader (utilities3.py: h5py then reversed axes). */
#include <stdio.h>
#include <string.h>

#include "core/fault.h"
#include "io/dataset_internal.h"

#define MAT_USERBLOCK 512
#define MAT_HEADER 128

static int numeric_class(const char *cls)
{
    static const char *const ok[] = {"double", "single", "logical", "int8", "uint8", "int16",
                                     "uint16", "int32", "uint32", "int64", "uint64"};
    if (!cls[0]) return 1; /* no attribute: plain HDF5 numeric data */
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(cls, ok[i]) == 0) return 1;
    return 0;
}

/* The 128-byte header at the start of the file (NUL-terminated), if it is MATLAB's. */
static nde_status read_header(const char *path, char *hdr)
{
    FILE *fp;
    NDE_TRY(io_open_read(path, "a .mat file", &fp, NULL));
    size_t got = fread(hdr, 1, MAT_HEADER, fp);
    fclose(fp);
    hdr[got < MAT_HEADER ? got : MAT_HEADER - 1] = '\0';
    return NDE_OK;
}

nde_status nde_mat_read(const char *path, const char *name, int expect_ndim, nde_array *out)
{
    if (!path || !name || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_mat_read: NULL argument");
    return io_mat_read_sel(path, name, expect_ndim, out, NULL);
}

nde_status io_mat_read_sel(const char *path, const char *name, int expect_ndim, nde_array *out,
                           const io_rows *rows)
{
    memset(out, 0, sizeof *out);
    char hdr[MAT_HEADER];
    NDE_TRY(read_header(path, hdr));
    const int matlab5 = strncmp(hdr, "MATLAB 5.0 MAT-file", 19) == 0;
    char cls[32];
    nde_array raw;
    /* MATLAB's first axis is the last stored one */
    io_rows sel = rows ? *rows : (io_rows){0};
    sel.last_axis = 1;
    nde_status st = io_h5_read_sel(path, name, &raw, cls, sizeof cls, rows ? &sel : NULL);
    if (st == NDE_ERR_FORMAT && matlab5 && strstr(nde_last_error(), "not an HDF5 file"))
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: MATLAB v5/v7 MAT-file (not HDF5); save it with "
                        "save(..., '-v7.3') or convert it to HDF5 or .npy", path);
    NDE_TRY(st);
    if (!numeric_class(cls)) {
        nde_array_free(&raw);
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s' has MATLAB class '%s'; expected a "
                        "numeric or logical array", path, name, cls);
    }
    size_t shape[NDE_ARRAY_MAX_DIMS];
    for (int d = 0; d < raw.ndim; d++) shape[d] = raw.shape[raw.ndim - 1 - d];
    st = io_check_rank(raw.ndim, expect_ndim, path, name);
    if (st == NDE_OK && rows && rows->count == 0) { /* the shape alone */
        memset(out, 0, sizeof *out);
        out->ndim = raw.ndim;
        for (int d = 0; d < raw.ndim; d++) out->shape[d] = shape[d];
        nde_array_free(&raw);
        return NDE_OK;
    }
    if (st == NDE_OK) st = io_array_alloc(out, raw.ndim, shape, path);
    if (st == NDE_OK) io_reverse_axes(raw.ndim, raw.shape, raw.data, out->data);
    nde_array_free(&raw);
    if (st == NDE_OK) st = io_check_finite(out, path, name);
    if (st != NDE_OK) nde_array_free(out);
    return st;
}

/* MATLAB's text header: description padded with spaces to 116 bytes, 8 bytes of
 * subsystem offset, version 0x0200 and the endian indicator "IM" (little-endian). */
static nde_status write_header(const char *path)
{
    unsigned char hdr[MAT_HEADER];
    memset(hdr, ' ', 116);
    const char *text = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: nde, HDF5 schema 1.00 .";
    memcpy(hdr, text, strlen(text));
    memset(hdr + 116, 0, 8);
    hdr[124] = 0x00;
    hdr[125] = 0x02;
    hdr[126] = 'I';
    hdr[127] = 'M';
    FILE *fp = nde_fault_fopen(path, "r+b");
    if (!fp) return NDE_FAIL(NDE_ERR_IO, "%s: cannot reopen to write the MATLAB header", path);
    size_t put = nde_fault_fwrite(hdr, 1, sizeof hdr, fp);
    if (fclose(fp) != 0 || put != sizeof hdr)
        return NDE_FAIL(NDE_ERR_IO, "%s: writing the MATLAB header failed", path);
    return NDE_OK;
}

nde_status nde_mat_write(const char *path, const char *name, int ndim, const size_t *shape,
                         const double *data, int append)
{
    if (!path || !name || !shape || !data) return NDE_FAIL(NDE_ERR_ARG, "nde_mat_write: NULL argument");
    if (ndim < 1 || ndim > NDE_ARRAY_MAX_DIMS)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: rank %d of '%s' outside [1, %d]", path, ndim, name,
                        NDE_ARRAY_MAX_DIMS);
    char hdr[MAT_HEADER];
    const int exists = append && read_header(path, hdr) >= 0;
    nde_array t;
    size_t dims[NDE_ARRAY_MAX_DIMS];
    for (int d = 0; d < ndim; d++) dims[d] = shape[ndim - 1 - d];
    NDE_TRY(io_array_alloc(&t, ndim, dims, path));
    io_reverse_axes(ndim, shape, data, t.data);
    nde_status st = io_h5_write(path, name, ndim, dims, t.data, append, MAT_USERBLOCK, "double");
    nde_array_free(&t);
    if (st == NDE_OK && !exists) st = write_header(path);
    return st;
}
