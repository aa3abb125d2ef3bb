/* HDF5 datasets through libhdf5 (serial), shared with the .mat reader and writer. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/dataset_internal.h"
#include "nde_config.h"

#if NDE_HAVE_HDF5
#include <hdf5.h>

/* HDF5 prints an error stack on every failed call unless told not to; nde reports
 * through its own messages, so printing is switched off around each operation. */
typedef struct quiet {
    H5E_auto2_t func;
    void *data;
} quiet;

static void quiet_begin(quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference (MATLAB cell or struct)";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    default: return "unknown";
    }
}

/* Collect the root's link names into buf as "a, b, c". */
static herr_t list_link(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)g;
    (void)info;
    char *buf = op;
    size_t len = strlen(buf);
    if (len + strlen(name) + 3 < 200) snprintf(buf + len, 200 - len, "%s%s", len ? ", " : "", name);
    return 0;
}

/* 1 if every component of the path `name` exists in the file. */
static int path_exists(hid_t file, const char *name)
{
    char part[256];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof part) return 0;
    for (size_t i = 1; i <= n; i++) {
        if (name[i] != '/' && name[i] != '\0') continue;
        memcpy(part, name, i);
        part[i] = '\0';
        if (H5Lexists(file, part, H5P_DEFAULT) <= 0) return 0;
    }
    return 1;
}

/* Before H5Dread: the storage HDF5 would read must fit the file and agree with the shape
 * and type, or a corrupted file makes libhdf5 read out of bounds (a known class of its
 * bugs) or makes nde allocate what the header claims. Contiguous and compact data must be
 * exactly numel × type size and (contiguous) lie inside the file; chunked data may be
 * compressed, by at most deflate's ratio of about 1032:1, so its claim is bounded by
 * 1100 × its stored bytes, which must fit in the file. */
static nde_status check_storage(hid_t ds, hid_t type, size_t numel, size_t file_size,
                                const char *path, const char *name)
{
    const size_t type_size = H5Tget_size(type);
    if (type_size == 0 || type_size > 16)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: dataset '%s' has elements of %zu bytes", path, name,
                        type_size);
    if (numel > SIZE_MAX / type_size)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: dataset '%s' claims too many elements", path, name);
    const size_t claim = numel * type_size;
    const hsize_t stored = H5Dget_storage_size(ds);
    hid_t plist = H5Dget_create_plist(ds);
    const H5D_layout_t layout = plist < 0 ? H5D_LAYOUT_ERROR : H5Pget_layout(plist);
    if (plist >= 0) H5Pclose(plist);
    if (stored > file_size)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: dataset '%s' claims %llu bytes of storage in a file "
                        "of %zu bytes (corrupted)", path, name, (unsigned long long)stored,
                        file_size);
    switch (layout) {
    case H5D_CONTIGUOUS: {
        const haddr_t offset = H5Dget_offset(ds);
        if (stored != claim || offset == HADDR_UNDEF || offset > file_size ||
            stored > file_size - offset)
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: dataset '%s' of %zu elements of %zu bytes has "
                            "%llu bytes stored%s (corrupted or never written)", path, name, numel,
                            type_size, (unsigned long long)stored,
                            offset == HADDR_UNDEF || offset > file_size ? " outside the file" : "");
        return NDE_OK;
    }
    case H5D_COMPACT:
        if (stored != claim)
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: dataset '%s' of %zu elements of %zu bytes has "
                            "%llu bytes stored (corrupted)", path, name, numel, type_size,
                            (unsigned long long)stored);
        return NDE_OK;
    case H5D_CHUNKED:
        if (claim / 1100 > stored)
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: dataset '%s' claims %zu bytes from %llu stored "
                            "(more than any compression gives: corrupted)", path, name, claim,
                            (unsigned long long)stored);
        return NDE_OK;
    default:
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: dataset '%s' has an unsupported storage layout",
                        path, name);
    }
}

/* matlab_class (class_len bytes) ← the dataset's MATLAB_class attribute, "" if absent or
 * not one fixed-length string. nde decodes it from the object header itself
 * (hdf5_attr.c): libhdf5's attribute decoding reads out of bounds on corrupted files. */
static nde_status read_matlab_class(hid_t file, hid_t ds, const char *path, size_t file_size,
                                    const char *name, char *matlab_class, size_t class_len)
{
    matlab_class[0] = '\0';
    H5O_info_t info;
    hid_t fcpl = H5Fget_create_plist(file);
    size_t sizeof_addr = 0, sizeof_size = 0;
    hsize_t userblock = 0;
    const int ok = fcpl >= 0 && H5Pget_sizes(fcpl, &sizeof_addr, &sizeof_size) >= 0 &&
                   H5Pget_userblock(fcpl, &userblock) >= 0 &&
                   H5Oget_info2(ds, &info, H5O_INFO_BASIC) >= 0;
    if (fcpl >= 0) H5Pclose(fcpl);
    if (!ok)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s': its object header cannot be located",
                        path, name);
    return io_h5_string_attr(path, name, file_size, userblock, (unsigned)sizeof_addr,
                             (unsigned)sizeof_size, info.addr, "MATLAB_class", matlab_class,
                             class_len);
}

static nde_status read_open(hid_t file, const char *path, size_t file_size, const char *name,
                            nde_array *out, char *matlab_class, size_t class_len,
                            const io_rows *rows)
{
    if (!path_exists(file, name)) {
        char have[200] = "";
        H5Literate(file, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, list_link, have);
        return NDE_FAIL(NDE_ERR_MISSING, "%s: no dataset '%s' (the file has: %s)", path, name,
                        have[0] ? have : "nothing");
    }
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return NDE_FAIL(NDE_ERR_FORMAT, "%s: '%s' is not a dataset", path, name);
    nde_status st = NDE_OK;
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    const H5T_class_t cls = H5Tget_class(type);
    const int ndim = H5Sget_simple_extent_ndims(space);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: dataset '%s' has %s type; expected integer or float",
                      path, name, class_name(cls));
    else if (ndim < 0 || ndim > NDE_ARRAY_MAX_DIMS)
        st = NDE_FAIL(NDE_ERR_SHAPE, "%s: dataset '%s' has rank %d (at most %d supported)", path,
                      name, ndim, NDE_ARRAY_MAX_DIMS);
    /* before the data: a header nde finds corrupted is refused before libhdf5 reads it */
    if (st == NDE_OK && matlab_class)
        st = read_matlab_class(file, ds, path, file_size, name, matlab_class, class_len);
    if (st == NDE_OK) {
        hsize_t dims[NDE_ARRAY_MAX_DIMS];
        size_t shape[NDE_ARRAY_MAX_DIMS];
        H5Sget_simple_extent_dims(space, dims, NULL);
        for (int d = 0; d < ndim; d++) shape[d] = (size_t)dims[d];
        size_t numel = 1;
        for (int d = 0; d < ndim; d++)
            numel = shape[d] && numel > SIZE_MAX / shape[d] ? SIZE_MAX : numel * shape[d];
        if (numel) st = check_storage(ds, type, numel, file_size, path, name);
        const int axis = rows && rows->last_axis ? ndim - 1 : 0;
        if (st == NDE_OK && rows && ndim == 0)
            st = NDE_FAIL(NDE_ERR_SHAPE, "%s: dataset '%s' is a scalar: it has no rows", path, name);
        else if (st == NDE_OK && rows &&
                 (rows->first > shape[axis] || rows->count > shape[axis] - rows->first))
            st = NDE_FAIL(NDE_ERR_ARG, "%s: rows %zu..%zu of dataset '%s', which has %zu", path,
                          rows->first, rows->first + rows->count, name, shape[axis]);
        if (st == NDE_OK && rows && rows->count == 0) { /* the shape alone */
            memset(out, 0, sizeof *out);
            out->ndim = ndim;
            for (int d = 0; d < ndim; d++) out->shape[d] = shape[d];
        } else if (st == NDE_OK && rows) { /* a hyperslab: the rows' bytes alone are read */
            hsize_t start[NDE_ARRAY_MAX_DIMS] = {0}, cnt[NDE_ARRAY_MAX_DIMS];
            for (int d = 0; d < ndim; d++) cnt[d] = dims[d];
            start[axis] = rows->first, cnt[axis] = rows->count;
            shape[axis] = rows->count;
            st = io_array_alloc(out, ndim, shape, path);
            hid_t mem = st == NDE_OK ? H5Screate_simple(ndim, cnt, NULL) : -1;
            if (st == NDE_OK &&
                (mem < 0 ||
                 H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
                 H5Dread(ds, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, out->data) < 0))
                st = NDE_FAIL(NDE_ERR_IO, "%s: reading rows %zu..%zu of dataset '%s' failed",
                              path, rows->first, rows->first + rows->count, name);
            if (mem >= 0) H5Sclose(mem);
        } else {
            if (st == NDE_OK) st = io_array_alloc(out, ndim, shape, path);
            if (st == NDE_OK && out->numel &&
                H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->data) < 0)
                st = NDE_FAIL(NDE_ERR_IO, "%s: reading dataset '%s' failed", path, name);
        }
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(ds);
    if (st != NDE_OK) nde_array_free(out);
    return st;
}

/* libhdf5 1.10.8 mallocs the data segment a group's local heap claims before checking it
 * against the file, and copies into the result without checking it for NULL: a heap size
 * of 2^38 made H5Lexists segfault in H5F__accum_read (found by fuzzing; the crash of
 * issue 12). For the root group of a version 0/1 superblock (what nde, h5py's defaults
 * and MATLAB v7.3 write), the heap's address is cached in the superblock, so nde checks
 * the heap header and data segment against the file before libhdf5 opens it (HDF5 File
 * Format Specification 2.0, sections II.A and III.D). Other layouts are left to libhdf5. */
static nde_status check_root_heap(FILE *fp, size_t file_size, const char *path)
{
    unsigned char sb[128];
    size_t at = 0;
    for (;;) { /* the superblock is at 0, 512, 1024, 2048, … */
        if (at > file_size || file_size - at < sizeof sb) return NDE_OK;
        if (fseek(fp, (long)at, SEEK_SET) != 0 || fread(sb, 1, sizeof sb, fp) != sizeof sb)
            return NDE_OK;
        if (memcmp(sb, "\211HDF\r\n\032\n", 8) == 0) break;
        at = at ? 2 * at : 512;
    }
    if (sb[8] > 1 || sb[13] != 8 || sb[14] != 8) return NDE_OK; /* v2+, or not 8-byte sizes */
    size_t p = sb[8] == 1 ? 28 : 24;
    const uint64_t base = io_le(sb + p, 8);
    p += 4 * 8 + 2 * 8; /* base, free space, end of file, driver info; link name, header */
    const uint64_t cache = io_le(sb + p, 4);
    if (cache != 1) return NDE_OK; /* no symbol table cached in the superblock */
    const uint64_t heap = io_le(sb + p + 8 + 8, 8);
    unsigned char h[32];
    if (base > file_size || heap > file_size - base || file_size - base - heap < sizeof h ||
        fseek(fp, (long)(base + heap), SEEK_SET) != 0 || fread(h, 1, sizeof h, fp) != sizeof h ||
        memcmp(h, "HEAP", 4) != 0)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: the root group's local heap is missing (corrupted "
                        "HDF5 file)", path);
    const uint64_t size = io_le(h + 8, 8), data = io_le(h + 24, 8);
    if (size > file_size || data > file_size - base || size > file_size - base - data)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: the root group's local heap claims %llu bytes at "
                        "%llu in a file of %zu bytes (corrupted HDF5 file)", path,
                        (unsigned long long)size, (unsigned long long)data, file_size);
    return NDE_OK;
}

nde_status io_h5_read(const char *path, const char *name, nde_array *out, char *matlab_class,
                      size_t class_len)
{
    return io_h5_read_sel(path, name, out, matlab_class, class_len, NULL);
}

nde_status io_h5_read_sel(const char *path, const char *name, nde_array *out, char *matlab_class,
                          size_t class_len, const io_rows *rows)
{
    memset(out, 0, sizeof *out);
    FILE *fp;
    size_t file_size;
    NDE_TRY(io_open_read(path, "an HDF5 file", &fp, &file_size));
    const nde_status pre = check_root_heap(fp, file_size, path);
    fclose(fp);
    NDE_TRY(pre);
    quiet q;
    quiet_begin(&q);
    nde_status st;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: not an HDF5 file", path);
    } else {
        st = read_open(file, path, file_size, name, out, matlab_class, class_len, rows);
        H5Fclose(file);
    }
    quiet_end(&q);
    return st;
}

struct io_h5_rows {
    hid_t file, ds, space;
    int ndim, axis;
    hsize_t dims[NDE_ARRAY_MAX_DIMS];
    char where[512]; /* "path: dataset 'name'" for messages */
};

void io_h5_rows_close(io_h5_rows **hp)
{
    if (!hp || !*hp) return;
    io_h5_rows *h = *hp;
    quiet q;
    quiet_begin(&q);
    if (h->space >= 0) H5Sclose(h->space);
    if (h->ds >= 0) H5Dclose(h->ds);
    if (h->file >= 0) H5Fclose(h->file);
    quiet_end(&q);
    nde_free(h);
    *hp = NULL;
}

nde_status io_h5_rows_open(const char *path, const char *name, int last_axis, io_h5_rows **out,
                           char *matlab_class, size_t class_len, int *ndim, size_t *shape)
{
    *out = NULL;
    /* the same checks as a whole read, once: a read of the shape alone */
    nde_array probe;
    const io_rows none = {.last_axis = last_axis};
    NDE_TRY(io_h5_read_sel(path, name, &probe, matlab_class, class_len, &none));
    if (probe.ndim == 0)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: dataset '%s' is a scalar: it has no rows", path, name);
    io_h5_rows *h = nde_alloc(sizeof *h);
    if (!h) return NDE_ERR_NOMEM;
    h->file = h->ds = h->space = -1;
    h->ndim = probe.ndim;
    h->axis = last_axis ? probe.ndim - 1 : 0;
    for (int d = 0; d < probe.ndim; d++) h->dims[d] = probe.shape[d];
    *ndim = probe.ndim;
    for (int d = 0; d < probe.ndim; d++) shape[d] = probe.shape[d];
    snprintf(h->where, sizeof h->where, "%s: dataset '%s'", path, name);
    quiet q;
    quiet_begin(&q);
    h->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    h->ds = h->file < 0 ? -1 : H5Dopen2(h->file, name, H5P_DEFAULT);
    h->space = h->ds < 0 ? -1 : H5Dget_space(h->ds);
    quiet_end(&q);
    if (h->space < 0) {
        io_h5_rows_close(&h);
        return NDE_FAIL(NDE_ERR_IO, "%s: cannot open dataset '%s' again", path, name);
    }
    *out = h;
    return NDE_OK;
}

nde_status io_h5_rows_read(io_h5_rows *h, size_t first, size_t count, nde_array *out)
{
    memset(out, 0, sizeof *out);
    const size_t n = (size_t)h->dims[h->axis];
    if (first > n || count > n - first || count == 0)
        return NDE_FAIL(NDE_ERR_ARG, "%s: rows %zu..%zu of %zu", h->where, first, first + count, n);
    hsize_t start[NDE_ARRAY_MAX_DIMS] = {0}, cnt[NDE_ARRAY_MAX_DIMS];
    size_t shape[NDE_ARRAY_MAX_DIMS];
    for (int d = 0; d < h->ndim; d++) cnt[d] = h->dims[d], shape[d] = (size_t)h->dims[d];
    start[h->axis] = first, cnt[h->axis] = count, shape[h->axis] = count;
    NDE_TRY(io_array_alloc(out, h->ndim, shape, h->where));
    quiet q;
    quiet_begin(&q);
    hid_t mem = H5Screate_simple(h->ndim, cnt, NULL);
    const int ok = mem >= 0 &&
                   H5Sselect_hyperslab(h->space, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
                   H5Dread(h->ds, H5T_NATIVE_DOUBLE, mem, h->space, H5P_DEFAULT, out->data) >= 0;
    if (mem >= 0) H5Sclose(mem);
    quiet_end(&q);
    if (!ok) {
        nde_array_free(out);
        return NDE_FAIL(NDE_ERR_IO, "%s: reading rows %zu..%zu failed", h->where, first,
                        first + count);
    }
    return NDE_OK;
}

static nde_status write_open(hid_t file, const char *path, const char *name, int ndim,
                             const size_t *dims, const double *data, const char *matlab_class)
{
    if (path_exists(file, name))
        return NDE_FAIL(NDE_ERR_ARG, "%s: dataset '%s' already exists", path, name);
    hsize_t hd[NDE_ARRAY_MAX_DIMS];
    for (int d = 0; d < ndim; d++) hd[d] = dims[d];
    hid_t space = ndim ? H5Screate_simple(ndim, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    /* no modification times: the same data gives the same bytes (a parallel nde data
     * equals the serial file, docs/scaling.md) */
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t ds = H5Dcreate2(file, name, H5T_IEEE_F64LE, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    nde_status st = NDE_OK;
    if (ds < 0)
        st = NDE_FAIL(NDE_ERR_IO, "%s: cannot create dataset '%s'", path, name);
    else if (H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        st = NDE_FAIL(NDE_ERR_IO, "%s: writing dataset '%s' failed", path, name);
    if (st == NDE_OK && matlab_class) {
        hid_t str = H5Tcopy(H5T_C_S1), scal = H5Screate(H5S_SCALAR);
        H5Tset_size(str, strlen(matlab_class));
        H5Tset_strpad(str, H5T_STR_NULLTERM);
        hid_t at = H5Acreate2(ds, "MATLAB_class", str, scal, H5P_DEFAULT, H5P_DEFAULT);
        if (at < 0 || H5Awrite(at, str, matlab_class) < 0)
            st = NDE_FAIL(NDE_ERR_IO, "%s: cannot write the MATLAB_class of '%s'", path, name);
        if (at >= 0) H5Aclose(at);
        H5Sclose(scal);
        H5Tclose(str);
    }
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(lcpl);
    H5Sclose(space);
    return st;
}

nde_status io_h5_write(const char *path, const char *name, int ndim, const size_t *dims,
                       const double *data, int append, size_t userblock,
                       const char *matlab_class)
{
    if (ndim < 0 || ndim > NDE_ARRAY_MAX_DIMS)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: rank %d of '%s' outside [0, %d]", path, ndim, name,
                        NDE_ARRAY_MAX_DIMS);
    quiet q;
    quiet_begin(&q);
    hid_t file = -1;
    FILE *fp = append ? fopen(path, "rb") : NULL;
    if (fp) {
        fclose(fp);
        file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    } else {
        hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
        if (userblock) H5Pset_userblock(fcpl, userblock);
        file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
        H5Pclose(fcpl);
    }
    nde_status st;
    if (file < 0) {
        st = NDE_FAIL(NDE_ERR_IO, "%s: cannot %s as HDF5", path, fp ? "open for writing" : "create");
    } else {
        st = write_open(file, path, name, ndim, dims, data, matlab_class);
        if (H5Fclose(file) < 0 && st == NDE_OK)
            st = NDE_FAIL(NDE_ERR_IO, "%s: closing the file failed", path);
    }
    quiet_end(&q);
    return st;
}

#else

struct io_h5_rows {
    int unused;
};

nde_status io_h5_rows_open(const char *path, const char *name, int last_axis, io_h5_rows **out,
                           char *matlab_class, size_t class_len, int *ndim, size_t *shape)
{
    (void)last_axis, (void)matlab_class, (void)class_len, (void)ndim, (void)shape;
    *out = NULL;
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: cannot read '%s': nde was built without HDF5",
                    path, name);
}

nde_status io_h5_rows_read(io_h5_rows *h, size_t first, size_t count, nde_array *out)
{
    (void)h, (void)first, (void)count;
    memset(out, 0, sizeof *out);
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde was built without HDF5");
}

void io_h5_rows_close(io_h5_rows **h)
{
    if (h) *h = NULL;
}

nde_status io_h5_read_sel(const char *path, const char *name, nde_array *out, char *matlab_class,
                          size_t class_len, const io_rows *rows)
{
    (void)rows;
    return io_h5_read(path, name, out, matlab_class, class_len);
}

nde_status io_h5_read(const char *path, const char *name, nde_array *out, char *matlab_class,
                      size_t class_len)
{
    (void)matlab_class;
    (void)class_len;
    memset(out, 0, sizeof *out);
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: cannot read '%s': nde was built without HDF5",
                    path, name);
}

nde_status io_h5_write(const char *path, const char *name, int ndim, const size_t *dims,
                       const double *data, int append, size_t userblock,
                       const char *matlab_class)
{
    (void)ndim, (void)dims, (void)data, (void)append, (void)userblock, (void)matlab_class;
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: cannot write '%s': nde was built without HDF5",
                    path, name);
}

#endif

nde_status nde_h5_read(const char *path, const char *name, int expect_ndim, nde_array *out)
{
    if (!path || !name || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_h5_read: NULL argument");
    NDE_TRY(io_h5_read(path, name, out, NULL, 0));
    nde_status st = io_check_rank(out->ndim, expect_ndim, path, name);
    if (st == NDE_OK) st = io_check_finite(out, path, name);
    if (st != NDE_OK) nde_array_free(out);
    return st;
}

nde_status nde_h5_write(const char *path, const char *name, int ndim, const size_t *shape,
                        const double *data, int append)
{
    if (!path || !name || (ndim && !shape) || !data)
        return NDE_FAIL(NDE_ERR_ARG, "nde_h5_write: NULL argument");
    return io_h5_write(path, name, ndim, shape, data, append, 0, NULL);
}
