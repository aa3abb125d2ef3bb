/* Dataset files: HDF5 round trips, the MATLAB v7.3 layout checked with the raw HDF5
 * API, .npy files written by numpy (tests/data/npy, make_fixtures.py), and bad files. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/io.h"
#include "nde/nde.h"

#define NPY_DIR NDE_SOURCE_ROOT "/tests/data/npy/"

static void ramp(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = 0.25 * (double)i - 1.5 + 1e-3 * sin((double)i);
}

Test(h5, round_trip_append_and_groups)
{
    const char *path = "io_round_trip.h5";
    double a[24], b[6];
    ramp(a, 24);
    ramp(b, 6);
    size_t sa[3] = {2, 3, 4}, sb[2] = {3, 2};
    cr_assert_eq(nde_h5_write(path, "coeff", 3, sa, a, 0), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_h5_write(path, "train/sol", 2, sb, b, 1), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_h5_write(path, "coeff", 3, sa, a, 1), NDE_ERR_ARG);
    nde_array x;
    cr_assert_eq(nde_h5_read(path, "coeff", 3, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.ndim, 3);
    cr_assert_eq(x.shape[0], 2);
    cr_assert_eq(x.shape[1], 3);
    cr_assert_eq(x.shape[2], 4);
    cr_assert_eq(x.numel, 24);
    cr_assert_eq(memcmp(x.data, a, sizeof a), 0);
    nde_array_free(&x);
    cr_assert_null(x.data);
    cr_assert_eq(nde_dataset_read(path, "train/sol", 0, &x), NDE_OK);
    cr_assert_eq(x.shape[0], 3);
    cr_assert_eq(x.shape[1], 2);
    cr_assert_eq(memcmp(x.data, b, sizeof b), 0);
    nde_array_free(&x);
    nde_array_free(&x);
    nde_array_free(NULL);
    /* append = 0 truncates */
    cr_assert_eq(nde_h5_write(path, "sol", 2, sb, b, 0), NDE_OK);
    cr_assert_eq(nde_h5_read(path, "coeff", 0, &x), NDE_ERR_MISSING);
    remove(path);
}

/* float32 and int32 datasets made with the raw API are converted exactly. */
Test(h5, converts_other_numeric_types)
{
    const char *path = "io_types.h5";
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[2] = {2, 3};
    hid_t sp = H5Screate_simple(2, d, NULL);
    float fv[6] = {0.5f, -1.25f, 3.0f, 1e-3f, 7.0f, -0.0f};
    int iv[6] = {-4, 0, 9, 100000, 3, -2};
    hid_t ds = H5Dcreate2(f, "f32", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, fv);
    H5Dclose(ds);
    ds = H5Dcreate2(f, "i32", H5T_STD_I32BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, iv);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
    nde_array x;
    cr_assert_eq(nde_h5_read(path, "f32", 2, &x), NDE_OK, "%s", nde_last_error());
    for (int i = 0; i < 6; i++) cr_assert_eq(x.data[i], (double)fv[i]);
    nde_array_free(&x);
    cr_assert_eq(nde_h5_read(path, "i32", 2, &x), NDE_OK);
    for (int i = 0; i < 6; i++) cr_assert_eq(x.data[i], (double)iv[i]);
    nde_array_free(&x);
    remove(path);
}

/* What MATLAB's save -v7.3 produces: 512-byte user block starting with the text
 * header, dims reversed, data column-major, MATLAB_class "double". */
Test(mat, writer_uses_the_matlab_layout_and_reader_inverts_it)
{
    const char *path = "io_layout.mat";
    double a[24];
    ramp(a, 24);
    size_t sa[3] = {2, 3, 4};
    cr_assert_eq(nde_mat_write(path, "coeff", 3, sa, a, 0), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mat_write(path, "sol", 3, sa, a, 1), NDE_OK, "%s", nde_last_error());
    FILE *fp = fopen(path, "rb");
    unsigned char hdr[128];
    cr_assert_eq(fread(hdr, 1, 128, fp), 128);
    fclose(fp);
    cr_assert_eq(memcmp(hdr, "MATLAB 7.3 MAT-file", 19), 0);
    cr_assert_eq(hdr[124], 0x00);
    cr_assert_eq(hdr[125], 0x02);
    cr_assert_eq(hdr[126], 'I');
    cr_assert_eq(hdr[127], 'M');
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t fcpl = H5Fget_create_plist(f);
    hsize_t ub = 0;
    H5Pget_userblock(fcpl, &ub);
    cr_assert_eq(ub, 512);
    H5Pclose(fcpl);
    hid_t ds = H5Dopen2(f, "coeff", H5P_DEFAULT), sp = H5Dget_space(ds);
    hsize_t d[3];
    cr_assert_eq(H5Sget_simple_extent_dims(sp, d, NULL), 3);
    cr_assert_eq(d[0], 4);
    cr_assert_eq(d[1], 3);
    cr_assert_eq(d[2], 2);
    double raw[24];
    H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) /* MATLAB (i,j,k) at i + 2(j + 3k) */
                cr_assert_eq(raw[i + 2 * (j + 3 * k)], a[(i * 3 + j) * 4 + k]);
    hid_t at = H5Aopen(ds, "MATLAB_class", H5P_DEFAULT), at_t = H5Aget_type(at);
    char cls[16] = "";
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5Tget_size(at_t) + 1);
    H5Aread(at, mem, cls);
    cr_assert_str_eq(cls, "double");
    H5Tclose(mem), H5Tclose(at_t), H5Aclose(at), H5Sclose(sp), H5Dclose(ds), H5Fclose(f);
    nde_array x;
    cr_assert_eq(nde_mat_read(path, "sol", 3, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.shape[0], 2);
    cr_assert_eq(x.shape[1], 3);
    cr_assert_eq(x.shape[2], 4);
    cr_assert_eq(memcmp(x.data, a, sizeof a), 0);
    nde_array_free(&x);
    cr_assert_eq(nde_dataset_read(path, "coeff", 3, &x), NDE_OK);
    cr_assert_eq(memcmp(x.data, a, sizeof a), 0);
    nde_array_free(&x);
    remove(path);
}

/* A v7.3-style file without the user block (as h5py writes one), uint8 "logical". */
static void write_raw_mat(const char *path, const char *cls, hid_t type, const void *buf,
                          int ndim, const hsize_t *dims)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(ndim, dims, NULL);
    hid_t ds = H5Dcreate2(f, "a", type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    hid_t st = H5Tcopy(H5T_C_S1), sc = H5Screate(H5S_SCALAR);
    H5Tset_size(st, strlen(cls));
    hid_t at = H5Acreate2(ds, "MATLAB_class", st, sc, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, st, cls);
    H5Aclose(at), H5Sclose(sc), H5Tclose(st), H5Dclose(ds), H5Sclose(sp), H5Fclose(f);
}

Test(mat, reads_files_without_user_block_and_logical_class)
{
    const char *path = "io_nouserblock.mat";
    /* MATLAB 2×3 logical [1 0 1; 0 1 1] stored column-major with dims (3, 2) */
    unsigned char v[6] = {1, 0, 0, 1, 1, 1};
    hsize_t d[2] = {3, 2};
    write_raw_mat(path, "logical", H5T_NATIVE_UCHAR, v, 2, d);
    nde_array x;
    cr_assert_eq(nde_mat_read(path, "a", 2, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.shape[0], 2);
    cr_assert_eq(x.shape[1], 3);
    const double want[6] = {1, 0, 1, 0, 1, 1};
    for (int i = 0; i < 6; i++) cr_assert_eq(x.data[i], want[i]);
    nde_array_free(&x);
    /* a char array (MATLAB string) is not data */
    write_raw_mat(path, "char", H5T_NATIVE_UCHAR, v, 2, d);
    cr_assert_eq(nde_mat_read(path, "a", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "'char'") != NULL, "%s", nde_last_error());
    cr_assert_null(x.data);
    remove(path);
}

/* ---- MATLAB_class, decoded by nde from the object header (src/io/hdf5_attr.c) ------ */

/* One way of laying out a variable's object header. */
typedef struct header_kind {
    const char *what;
    int latest;      /* version 2 object headers ("OHDR", checksums; times stored) */
    int order;       /* attribute creation order tracked: 6-byte message headers */
    int userblock;   /* a 512-byte user block: addresses start at 512 */
    int small;       /* 4-byte addresses and lengths */
    int extra;       /* 200-byte attributes written before MATLAB_class (continuations) */
} header_kind;

static const header_kind header_kinds[] = {
    {"v1", 0, 0, 0, 0, 0},
    {"v1, user block", 0, 0, 1, 0, 0},
    {"v1, continuation chunks", 0, 0, 1, 0, 6},
    {"v1, 4-byte addresses, continuation chunks", 0, 0, 0, 1, 6},
    {"v2 with times", 1, 0, 0, 0, 0},
    {"v2, creation order, user block", 1, 1, 1, 0, 0},
    {"v2, creation order, continuation chunks", 1, 1, 0, 0, 7},
    {"v2, 4-byte addresses, continuation chunks", 1, 0, 1, 1, 7},
};

/* path ← a uint8 variable "a" of 4 elements whose MATLAB_class is cls, laid out as k says;
 * *chunks ← the number of chunks of its object header (libhdf5's count). */
static void write_header_kind(const char *path, const header_kind *k, const char *cls,
                              unsigned *chunks)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (k->userblock) H5Pset_userblock(fcpl, 512);
    if (k->small) H5Pset_sizes(fcpl, 4, 4);
    if (k->latest) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    cr_assert(f >= 0, "%s", k->what);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (k->order) H5Pset_attr_creation_order(dcpl, H5P_CRT_ORDER_TRACKED);
    const hsize_t n = 4;
    const unsigned char v[4] = {1, 0, 1, 1};
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(f, "a", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    hid_t sc = H5Screate(H5S_SCALAR);
    char filler[201];
    memset(filler, 'x', 200), filler[200] = '\0';
    for (int i = 0; i < k->extra; i++) {
        char name[16];
        snprintf(name, sizeof name, "note%d", i);
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, 200);
        hid_t at = H5Acreate2(ds, name, st, sc, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, st, filler);
        H5Aclose(at), H5Tclose(st);
        /* an object after each attribute, so that the header cannot grow in place */
        snprintf(name, sizeof name, "g%d", i);
        H5Gclose(H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    }
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, strlen(cls));
    hid_t at = H5Acreate2(ds, "MATLAB_class", st, sc, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, st, cls);
    H5Aclose(at), H5Tclose(st), H5Sclose(sc);
    H5O_info_t info;
    cr_assert(H5Oget_info2(ds, &info, H5O_INFO_HDR | H5O_INFO_NUM_ATTRS) >= 0);
    cr_assert_eq(info.num_attrs, (hsize_t)k->extra + 1, "%s", k->what);
    *chunks = info.hdr.nchunks;
    H5Dclose(ds), H5Sclose(sp), H5Pclose(dcpl), H5Fclose(f), H5Pclose(fapl), H5Pclose(fcpl);
}

/* The class nde decodes is the one libhdf5 wrote, for every header layout: a class that
 * is not numeric is refused by name, "logical" is read. */
Test(mat, matlab_class_is_decoded_from_every_object_header_layout)
{
    const char *path = "io_header_kinds.mat";
    for (size_t i = 0; i < sizeof header_kinds / sizeof header_kinds[0]; i++) {
        const header_kind *k = &header_kinds[i];
        unsigned chunks = 0;
        write_header_kind(path, k, "struct_of_things", &chunks);
        if (k->extra) cr_assert_gt(chunks, 1, "%s: one chunk only", k->what);
        nde_array x;
        cr_assert_eq(nde_mat_read(path, "a", 0, &x), NDE_ERR_FORMAT, "%s", k->what);
        cr_assert(strstr(nde_last_error(), "MATLAB class 'struct_of_things'") != NULL, "%s: %s",
                  k->what, nde_last_error());
        write_header_kind(path, k, "logical", &chunks);
        cr_assert_eq(nde_mat_read(path, "a", 1, &x), NDE_OK, "%s: %s", k->what, nde_last_error());
        cr_assert_eq(x.numel, 4);
        cr_assert_eq(x.data[0] + x.data[1] + x.data[2] + x.data[3], 3.0);
        nde_array_free(&x);
    }
    remove(path);
}

/* Attributes libhdf5 keeps outside the header (dense storage) are not decoded: such a
 * variable reads as plain HDF5 numeric data (docs/cli.md). */
Test(mat, attributes_in_dense_storage_count_as_absent)
{
    const char *path = "io_dense_attrs.mat";
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_attr_phase_change(dcpl, 0, 0);
    const hsize_t n = 2;
    const unsigned char v[2] = {7, 9};
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(f, "a", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    hid_t st = H5Tcopy(H5T_C_S1), sc = H5Screate(H5S_SCALAR);
    H5Tset_size(st, 4);
    hid_t at = H5Acreate2(ds, "MATLAB_class", st, sc, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, st, "char");
    H5Aclose(at), H5Sclose(sc), H5Tclose(st), H5Dclose(ds), H5Sclose(sp), H5Pclose(dcpl);
    H5Fclose(f), H5Pclose(fapl);
    nde_array x;
    cr_assert_eq(nde_mat_read(path, "a", 1, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.data[0], 7.0);
    cr_assert_eq(x.data[1], 9.0);
    nde_array_free(&x);
    remove(path);
}

/* The file's bytes from `at`, `n` of them, replaced by `bytes`. */
static void patch(const char *path, long at, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "r+b");
    cr_assert_not_null(fp);
    cr_assert_eq(fseek(fp, at, SEEK_SET), 0);
    cr_assert_eq(fwrite(bytes, 1, n, fp), n);
    fclose(fp);
}

/* Where "MATLAB_class" starts in the file (the attribute's name). */
static long find_name(const char *path)
{
    static unsigned char buf[1 << 16];
    FILE *fp = fopen(path, "rb");
    const size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    for (size_t i = 0; i + 12 <= n; i++)
        if (memcmp(buf + i, "MATLAB_class", 12) == 0) return (long)i;
    cr_assert_fail("no MATLAB_class in %s", path);
    return -1;
}

/* Corrupted attribute and message sizes (libhdf5 1.10.8 read out of bounds on one such
 * file): each is refused naming what runs past what, nothing is read beyond it. The
 * sanitizer builds run this too. */
Test(mat, corrupted_matlab_class_attributes_are_refused)
{
    const char *path = "io_bad_class.mat";
    const header_kind *v1 = &header_kinds[1]; /* with a user block: offsets start at 512 */
    static const struct {
        int from_name;   /* offset of the patch from the attribute's name */
        unsigned char bytes[2];
        const char *word;
    } cases[] = {
        {-4, {0xff, 0xff}, "attribute larger than its message"},  /* datatype size */
        {-2, {0x00, 0x40}, "attribute larger than its message"},  /* dataspace size */
        {16 + 4, {0xff, 0x7f}, "value larger than its message"},  /* the string's length */
        {16 + 8 + 1, {2, 0}, "dataspace larger than its message"}, /* rank 2, no dims */
        {-8, {9, 0}, "attribute message of unknown version"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned chunks;
        write_header_kind(path, v1, "double", &chunks);
        const long name = find_name(path);
        patch(path, name + cases[i].from_name, cases[i].bytes, 2);
        nde_array x;
        cr_assert_eq(nde_mat_read(path, "a", 0, &x), NDE_ERR_FORMAT, "case %zu", i);
        cr_assert(strstr(nde_last_error(), cases[i].word) != NULL, "case %zu: %s", i,
                  nde_last_error());
        cr_assert(strstr(nde_last_error(), "variable 'a'") != NULL, "%s", nde_last_error());
        /* the file offset of the message: its 8-byte header, the attribute's 8, the name */
        char where[64];
        snprintf(where, sizeof where, "at byte %ld of the file", name - 16);
        cr_assert(strstr(nde_last_error(), where) != NULL, "want '%s': %s", where,
                  nde_last_error());
        cr_assert_null(x.data);
    }
    /* a class of two strings */
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t one = 1, two = 2;
    hid_t sp = H5Screate_simple(1, &one, NULL), sp2 = H5Screate_simple(1, &two, NULL);
    const double v = 1;
    hid_t ds = H5Dcreate2(f, "a", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 6);
    hid_t at = H5Acreate2(ds, "MATLAB_class", st, sp2, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, st, "doublesingle");
    H5Aclose(at), H5Tclose(st), H5Dclose(ds), H5Sclose(sp2), H5Sclose(sp), H5Fclose(f);
    nde_array x;
    cr_assert_eq(nde_mat_read(path, "a", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "holds 2 values") != NULL, "%s", nde_last_error());
    remove(path);
}

Test(mat, broken_v5_files_are_refused)
{
    const char *path = "io_v5.mat";
    FILE *fp = fopen(path, "wb");
    char hdr[128];
    memset(hdr, ' ', sizeof hdr);
    memcpy(hdr, "MATLAB 5.0 MAT-file, Platform: GLNXA64", 38);
    memcpy(hdr + 124, "\x00\x01IM", 4);
    fwrite(hdr, 1, sizeof hdr, fp);
    fwrite("\x0e\0\0\0\x40\0\0\0", 1, 8, fp);
    fclose(fp);
    nde_array x;
    const nde_status st = nde_mat_read(path, "coeff", 0, &x);
    cr_assert(st == NDE_ERR_MISSING || st == NDE_ERR_FORMAT || st == NDE_ERR_UNSUPPORTED,
              "%s", nde_last_error());
    cr_assert(strstr(nde_last_error(), path) != NULL, "%s", nde_last_error());
    cr_assert_null(x.data);
    remove(path);
}

/* ---- .npy written by numpy ---------------------------------------------------- */

Test(npy, reads_numpy_files_of_every_supported_kind)
{
    nde_array x;
    cr_assert_eq(nde_npy_read(NPY_DIR "f8_c_3d.npy", 3, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.shape[0], 2);
    cr_assert_eq(x.shape[1], 3);
    cr_assert_eq(x.shape[2], 4);
    for (int i = 0; i < 24; i++) cr_assert_eq(x.data[i], 0.5 * i - 3.0);
    nde_array_free(&x);
    cr_assert_eq(nde_npy_read(NPY_DIR "f4_fortran_2d.npy", 2, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.shape[0], 3);
    cr_assert_eq(x.shape[1], 4);
    for (int i = 0; i < 12; i++) cr_assert_eq(x.data[i], 0.25 * i); /* row-major after transposing */
    nde_array_free(&x);
    cr_assert_eq(nde_npy_read(NPY_DIR "f8_big_endian.npy", 1, &x), NDE_OK);
    for (int i = 0; i < 6; i++) cr_assert_eq(x.data[i], 1.5 * i);
    nde_array_free(&x);
    cr_assert_eq(nde_npy_read(NPY_DIR "bool_2d.npy", 2, &x), NDE_OK);
    const double b[6] = {1, 0, 1, 0, 1, 0};
    for (int i = 0; i < 6; i++) cr_assert_eq(x.data[i], b[i]);
    nde_array_free(&x);
    cr_assert_eq(nde_npy_read(NPY_DIR "i8_1d.npy", 1, &x), NDE_OK);
    const double iv[4] = {-3, 0, 7, 1099511627776.0};
    for (int i = 0; i < 4; i++) cr_assert_eq(x.data[i], iv[i]);
    nde_array_free(&x);
    cr_assert_eq(nde_npy_read(NPY_DIR "u2_1d.npy", 1, &x), NDE_OK);
    cr_assert_eq(x.data[2], 65535.0);
    nde_array_free(&x);
    cr_assert_eq(nde_dataset_read(NPY_DIR "f8_v2.npy", NULL, 1, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.numel, 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(x.data[i], i - 2.0);
    nde_array_free(&x);
}

/* The writer's bytes are numpy's for the same array: compare with the fixture. */
Test(npy, writer_matches_numpy_bytes_and_round_trips)
{
    const char *path = "io_written.npy";
    double a[24];
    for (int i = 0; i < 24; i++) a[i] = 0.5 * i - 3.0;
    size_t s[3] = {2, 3, 4};
    cr_assert_eq(nde_npy_write(path, 3, s, a), NDE_OK);
    unsigned char mine[400], ref[400];
    FILE *fp = fopen(path, "rb");
    size_t nm = fread(mine, 1, sizeof mine, fp);
    fclose(fp);
    fp = fopen(NPY_DIR "f8_c_3d.npy", "rb");
    size_t nr = fread(ref, 1, sizeof ref, fp);
    fclose(fp);
    cr_assert_eq(nm, nr);
    cr_assert_eq(memcmp(mine, ref, nm), 0);
    size_t s1[1] = {5};
    cr_assert_eq(nde_npy_write(path, 1, s1, a), NDE_OK);
    nde_array x;
    cr_assert_eq(nde_npy_read(path, 1, &x), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(x.shape[0], 5);
    cr_assert_eq(memcmp(x.data, a, 5 * sizeof *a), 0);
    nde_array_free(&x);
    remove(path);
}

/* ---- bad files ------------------------------------------------------------------- */

Test(bad_files, missing_file_dataset_rank_type_and_nan)
{
    nde_array x;
    cr_assert_eq(nde_h5_read("io_does_not_exist.h5", "a", 0, &x), NDE_ERR_IO);
    cr_assert(strstr(nde_last_error(), "io_does_not_exist.h5") != NULL);
    cr_assert_eq(nde_mat_read("io_does_not_exist.mat", "a", 0, &x), NDE_ERR_IO);
    cr_assert_eq(nde_npy_read("io_does_not_exist.npy", 0, &x), NDE_ERR_IO);
    const char *path = "io_bad.h5";
    double a[4] = {1, 2, NAN, 4};
    size_t s[2] = {2, 2};
    cr_assert_eq(nde_h5_write(path, "nan", 2, s, a, 0), NDE_OK);
    a[2] = 3;
    cr_assert_eq(nde_h5_write(path, "ok", 2, s, a, 1), NDE_OK);
    cr_assert_eq(nde_h5_read(path, "coeff", 0, &x), NDE_ERR_MISSING);
    cr_assert(strstr(nde_last_error(), "no dataset 'coeff'") != NULL, "%s", nde_last_error());
    cr_assert(strstr(nde_last_error(), "nan, ok") != NULL, "%s", nde_last_error());
    cr_assert_eq(nde_h5_read(path, "grp/ok", 0, &x), NDE_ERR_MISSING);
    cr_assert_eq(nde_h5_read(path, "ok", 3, &x), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "rank 2, expected 3") != NULL, "%s", nde_last_error());
    cr_assert_null(x.data);
    cr_assert_eq(nde_h5_read(path, "nan", 2, &x), NDE_ERR_NONFINITE);
    cr_assert(strstr(nde_last_error(), "index (1, 0)") != NULL, "%s", nde_last_error());
    cr_assert_null(x.data);
    /* a string dataset */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t st = H5Tcopy(H5T_C_S1), sc = H5Screate(H5S_SCALAR);
    H5Tset_size(st, 5);
    hid_t ds = H5Dcreate2(f, "text", st, sc, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, "hello");
    H5Dclose(ds), H5Sclose(sc), H5Tclose(st), H5Fclose(f);
    cr_assert_eq(nde_h5_read(path, "text", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "string") != NULL, "%s", nde_last_error());
    /* a file that is not HDF5 */
    cr_assert_eq(nde_h5_read(NPY_DIR "f8_c_3d.npy", "a", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "not an HDF5 file") != NULL);
    cr_assert_eq(nde_h5_read(NULL, "a", 0, &x), NDE_ERR_ARG);
    cr_assert_eq(nde_h5_write(path, "b", 2, s, NULL, 1), NDE_ERR_ARG);
    cr_assert_eq(nde_h5_write("io_no_such_dir/x.h5", "b", 2, s, a, 0), NDE_ERR_IO);
    remove(path);
}

Test(bad_files, npy_truncated_magic_dtype_and_nan)
{
    nde_array x;
    cr_assert_eq(nde_npy_read(NPY_DIR "c16.npy", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "'<c16'") != NULL, "%s", nde_last_error());
    cr_assert_eq(nde_npy_read(NPY_DIR "nan.npy", 0, &x), NDE_ERR_NONFINITE);
    cr_assert(strstr(nde_last_error(), "(1, 0)") != NULL, "%s", nde_last_error());
    cr_assert_eq(nde_npy_read(NPY_DIR "f8_c_3d.npy", 2, &x), NDE_ERR_SHAPE);
    cr_assert_eq(nde_npy_read(NPY_DIR "make_fixtures.py", 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "magic") != NULL);
    /* cut the fixture short: header intact, data truncated */
    unsigned char buf[400];
    FILE *fp = fopen(NPY_DIR "f8_c_3d.npy", "rb");
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    const char *path = "io_truncated.npy";
    fp = fopen(path, "wb");
    fwrite(buf, 1, n - 20, fp);
    fclose(fp);
    cr_assert_eq(nde_npy_read(path, 0, &x), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "truncated") != NULL, "%s", nde_last_error());
    cr_assert_null(x.data);
    fp = fopen(path, "wb");
    fwrite(buf, 1, 40, fp); /* inside the header */
    fclose(fp);
    cr_assert_eq(nde_npy_read(path, 0, &x), NDE_ERR_FORMAT);
    remove(path);
}

Test(fs, mkdir_p_creates_parents_and_reports_obstacles)
{
    char base[] = "/tmp/nde_mkdir_XXXXXX";
    cr_assert_not_null(mkdtemp(base));
    char path[256], file[256];
    snprintf(path, sizeof path, "%s/a/b//c", base);
    cr_assert_eq(nde_mkdir_p(path), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_mkdir_p(path), NDE_OK); /* already there */
    snprintf(file, sizeof file, "%s/f", base);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/f/x", base);
    cr_assert_eq(nde_mkdir_p(path), NDE_ERR_IO);
    cr_assert(strstr(nde_last_error(), "a file of that name exists") != NULL, "%s",
              nde_last_error());
    cr_assert_eq(nde_mkdir_p(""), NDE_ERR_ARG);
    cr_assert_eq(nde_mkdir_p(NULL), NDE_ERR_ARG);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    cr_assert_eq(system(cmd), 0);
}

/* nde_dataset_read_rows: rows of every format equal the same rows of the whole read; count
 * 0 gives the shape; rows beyond the end are refused. The Fortran-order .npy is written by
 * hand (numpy's layout: the header says fortran_order True, data column-major). */
Test(dataset, read_rows_equals_the_rows_of_the_whole_array)
{
    enum { R = 7, C = 3, K = 2 };
    double a[R * C * K];
    ramp(a, R * C * K);
    for (size_t i = 0; i < R * C * K; i++) a[i] = a[i] * a[i] - 3.0 * (double)i; /* not a ramp */
    const size_t shape[3] = {R, C, K};
    cr_assert_eq(nde_h5_write("rows_test.h5", "g/a", 3, shape, a, 0), NDE_OK);
    cr_assert_eq(nde_mat_write("rows_test.mat", "a", 3, shape, a, 0), NDE_OK);
    cr_assert_eq(nde_npy_write("rows_test.npy", 3, shape, a), NDE_OK);
    /* Fortran order by hand: header then the column-major data */
    FILE *f = fopen("rows_test_f.npy", "wb");
    cr_assert(f);
    const char *hdr = "{'descr': '<f8', 'fortran_order': True, 'shape': (7, 3, 2), }";
    char line[128];
    int n = snprintf(line, sizeof line, "%-117s\n", hdr);
    cr_assert_eq(n, 118);
    fwrite("\x93NUMPY\x01\x00\x76\x00", 1, 10, f);
    fwrite(line, 1, 118, f);
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < C; j++)
            for (size_t i = 0; i < R; i++) fwrite(&a[(i * C + j) * K + k], sizeof(double), 1, f);
    fclose(f);
    const char *files[4][2] = {{"rows_test.h5", "g/a"}, {"rows_test.mat", "a"},
                               {"rows_test.npy", NULL}, {"rows_test_f.npy", NULL}};
    for (int fi = 0; fi < 4; fi++) {
        nde_array whole = {0}, part = {0}, sh = {0};
        cr_assert_eq(nde_dataset_read(files[fi][0], files[fi][1], 3, &whole), NDE_OK, "%s: %s",
                     files[fi][0], nde_last_error());
        cr_assert_eq(whole.shape[0], R);
        cr_assert_eq(nde_dataset_read_rows(files[fi][0], files[fi][1], 3, 2, 4, &part), NDE_OK,
                     "%s: %s", files[fi][0], nde_last_error());
        cr_assert_eq(part.ndim, 3);
        cr_assert_eq(part.shape[0], 4);
        cr_assert_eq(part.shape[1], C);
        cr_assert_eq(part.shape[2], K);
        cr_assert_eq(part.numel, 4 * C * K);
        cr_assert(!memcmp(part.data, whole.data + 2 * C * K, 4 * C * K * sizeof(double)), "%s",
                  files[fi][0]);
        cr_assert_eq(nde_dataset_read_rows(files[fi][0], files[fi][1], 0, 0, 0, &sh), NDE_OK);
        cr_assert_eq(sh.ndim, 3);
        cr_assert_eq(sh.shape[0], R);
        cr_assert_eq(sh.numel, 0);
        cr_assert_null(sh.data);
        nde_array bad = {0};
        cr_assert_eq(nde_dataset_read_rows(files[fi][0], files[fi][1], 3, 5, 3, &bad), NDE_ERR_ARG,
                     "%s", files[fi][0]);
        cr_assert_null(bad.data);
        cr_assert_eq(nde_dataset_read_rows(files[fi][0], files[fi][1], 2, 0, 1, &bad), NDE_ERR_SHAPE);
        /* the same rows through a reader kept open, read twice in another order */
        nde_rows_reader *r = NULL;
        cr_assert_eq(nde_rows_reader_open(files[fi][0], files[fi][1], &r), NDE_OK, "%s: %s",
                     files[fi][0], nde_last_error());
        cr_assert_eq(nde_rows_reader_rows(r), R);
        for (int pass = 0; pass < 2; pass++)
            for (size_t i0 = 0; i0 < R; i0++) {
                const size_t i = pass ? R - 1 - i0 : i0;
                nde_array one = {0};
                cr_assert_eq(nde_rows_reader_read(r, i, 1, &one), NDE_OK, "%s", nde_last_error());
                cr_assert_eq(one.shape[0], 1);
                cr_assert_eq(one.numel, C * K);
                cr_assert(!memcmp(one.data, whole.data + i * C * K, C * K * sizeof(double)),
                          "%s row %zu", files[fi][0], i);
                nde_array_free(&one);
            }
        cr_assert_eq(nde_rows_reader_read(r, R - 1, 2, &bad), NDE_ERR_ARG);
        cr_assert_eq(nde_rows_reader_read(r, 0, 0, &bad), NDE_ERR_ARG);
        nde_rows_reader_close(&r);
        cr_assert_null(r);
        nde_rows_reader_close(&r);
        nde_array_free(&whole);
        nde_array_free(&part);
    }
    nde_rows_reader *none = NULL;
    cr_assert_neq(nde_rows_reader_open("rows_test_missing.h5", "a", &none), NDE_OK);
    cr_assert_null(none);
    remove("rows_test.h5"), remove("rows_test.mat"), remove("rows_test.npy");
    remove("rows_test_f.npy");
}
