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

/* The 128-byte header at the start of the file (hdr[MAT_HEADER]; *got ← bytes present). */
static nde_status read_header(const char *path, unsigned char *hdr, size_t *got)
{
    FILE *fp;
    NDE_TRY(io_open_read(path, "a .mat file", &fp, NULL));
    memset(hdr, 0, MAT_HEADER);
    *got = fread(hdr, 1, MAT_HEADER, fp);
    fclose(fp);
    return NDE_OK;
}

/* MAT-file version from the header's last 4 bytes: the version (0x0100 for v5 and v7,
 * 0x0200 for v7.3) in the byte order that the endian indicator "IM"/"MI" gives. 0 if the
 * file has no MATLAB header (v4, plain HDF5, anything else). */
static int header_version(const unsigned char *hdr, size_t got)
{
    if (got < MAT_HEADER || memcmp(hdr, "MATLAB", 6) != 0) return 0;
    if (hdr[126] == 'I' && hdr[127] == 'M') return hdr[124] | hdr[125] << 8;
    if (hdr[126] == 'M' && hdr[127] == 'I') return hdr[124] << 8 | hdr[125];
    return 0;
}

int io_mat_version(const char *path)
{
    unsigned char hdr[MAT_HEADER];
    size_t got;
    if (read_header(path, hdr, &got) != NDE_OK) return -1;
    return header_version(hdr, got);
}

nde_status nde_mat_list(const char *path, nde_mat_var **vars, size_t *count)
{
    if (!path || !vars || !count) return NDE_FAIL(NDE_ERR_ARG, "nde_mat_list: NULL argument");
    *vars = NULL;
    *count = 0;
    unsigned char hdr[MAT_HEADER];
    size_t got;
    NDE_TRY(read_header(path, hdr, &got));
    if (header_version(hdr, got) == 0x0100) return io_mat5_list(path, vars, count);
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: not a MATLAB v5/v7 MAT-file: variables are listed "
                    "for v5/v7 files only (name the dataset of an HDF5 or v7.3 file)", path);
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
    unsigned char hdr[MAT_HEADER];
    size_t got;
    NDE_TRY(read_header(path, hdr, &got));
    const int version = header_version(hdr, got);
    char cls[32] = "";
    nde_array raw;
    nde_status st;
    if (version == 0x0100) {
        /* v5/v7: matio, which returns MATLAB's axis order already; a row selection (along
         * MATLAB's first axis, the slowest in this row-major copy) is cut from the whole */
        nde_array all;
        st = io_mat5_read(path, name, &all);
        if (st == NDE_OK) st = io_check_rank(all.ndim, expect_ndim, path, name);
        if (st == NDE_OK && rows) {
            if (rows->first > all.shape[0] || rows->count > all.shape[0] - rows->first)
                st = NDE_FAIL(NDE_ERR_SHAPE, "%s: rows [%zu, %zu) of '%s' outside its %zu rows",
                              path, rows->first, rows->first + rows->count, name, all.shape[0]);
            else if (rows->count == 0) { /* the shape alone */
                *out = (nde_array){.ndim = all.ndim};
                for (int d = 0; d < all.ndim; d++) out->shape[d] = all.shape[d];
                nde_array_free(&all);
                return NDE_OK;
            } else {
                size_t shape[NDE_ARRAY_MAX_DIMS], row = 1;
                for (int d = 0; d < all.ndim; d++) shape[d] = all.shape[d];
                for (int d = 1; d < all.ndim; d++) row *= all.shape[d];
                shape[0] = rows->count;
                st = io_array_alloc(out, all.ndim, shape, path);
                if (st == NDE_OK)
                    memcpy(out->data, all.data + rows->first * row, rows->count * row * sizeof(double));
            }
            nde_array_free(&all);
        } else if (st == NDE_OK) {
            *out = all;
        } else {
            nde_array_free(&all);
        }
        if (st == NDE_OK) st = io_check_finite(out, path, name);
        if (st != NDE_OK) nde_array_free(out);
        return st;
    }
    if (version != 0 && version != 0x0200)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: MATLAB MAT-file of unknown version 0x%04x",
                        path, (unsigned)version);
    /* MATLAB's first axis is the last stored one */
    io_rows sel = rows ? *rows : (io_rows){0};
    sel.last_axis = 1;
    st = io_h5_read_sel(path, name, &raw, cls, sizeof cls, rows ? &sel : NULL);
    if (st == NDE_ERR_FORMAT && version == 0 && strstr(nde_last_error(), "not an HDF5 file"))
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: neither a MATLAB v5/v7/v7.3 MAT-file nor HDF5 (no "
                        "MATLAB header; MATLAB v4 files are not supported: save with -v7 or "
                        "-v7.3)", path);
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
    unsigned char hdr[MAT_HEADER];
    size_t got;
    const int exists = append && read_header(path, hdr, &got) == NDE_OK;
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
