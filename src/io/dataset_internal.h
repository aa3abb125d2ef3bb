/* Helpers shared by the dataset readers and writers (HDF5, .mat, .npy). */
#ifndef NDE_IO_DATASET_INTERNAL_H
#define NDE_IO_DATASET_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "nde/io.h"

/* *fp ← `path` opened for binary reading, *size ← its size in bytes (size may be NULL).
 * NDE_ERR_IO naming the path and the reason (strerror, "is a directory", "is not a regular
 * file"); `kind` names the expected format in the message ("a .npy file"). */
nde_status io_open_read(const char *path, const char *kind, FILE **fp, size_t *size);

/* a ← empty array of that shape (data zeroed). Errors: NDE_ERR_SHAPE for ndim out of
 * [0, NDE_ARRAY_MAX_DIMS], NDE_ERR_NOMEM. `what` names the file in messages. */
nde_status io_array_alloc(nde_array *a, int ndim, const size_t *shape, const char *what);

/* out = in with its axes reversed: in has shape (s0, …, s_{k−1}) row-major, out has
 * shape (s_{k−1}, …, s0) row-major. Turns column-major data into row-major. */
void io_reverse_axes(int ndim, const size_t *shape, const double *in, double *out);

/* NDE_ERR_SHAPE unless expect <= 0 or ndim == expect. */
nde_status io_check_rank(int ndim, int expect, const char *path, const char *name);

/* NDE_ERR_NONFINITE naming the first non-finite element by its index. */
nde_status io_check_finite(const nde_array *a, const char *path, const char *name);

/* HDF5 access shared by nde_h5_* and nde_mat_* (in builds without HDF5 both return
 * NDE_ERR_UNSUPPORTED). io_h5_read returns the dataset with the file's own dimension order;
 * when matlab_class is not NULL it receives the "MATLAB_class" attribute ("" if
 * absent). io_h5_write writes dims/data verbatim; userblock > 0 reserves that many
 * bytes at the file start (new files only) and matlab_class, when not NULL, is stored
 * as the "MATLAB_class" attribute. */
nde_status io_h5_read(const char *path, const char *name, nde_array *out, char *matlab_class,
                      size_t class_len);
/* A selection of rows (nde_dataset_read_rows): `count` entries from `first` along the
 * stored axis 0, or along the last stored axis when last_axis (MATLAB's first axis);
 * count 0: only the shape (the array gets the full shape, numel 0, data NULL). */
typedef struct io_rows {
    size_t first, count;
    int last_axis;
} io_rows;
/* io_h5_read of the selected rows only (rows NULL: everything). */
nde_status io_h5_read_sel(const char *path, const char *name, nde_array *out, char *matlab_class,
                          size_t class_len, const io_rows *rows);
/* nde_npy_read of the selected rows only (rows NULL: everything). */
nde_status io_npy_read_sel(const char *path, int expect_ndim, nde_array *out, const io_rows *rows);
/* An HDF5 dataset kept open for row reads (nde_rows_reader): opened and checked once
 * (type, rank, storage against the file size; MATLAB_class into matlab_class), then each
 * read is a hyperslab of `count` entries from `first` along stored axis 0 (last_axis 0) or
 * the last stored axis, returned in stored axis order. Without HDF5: NDE_ERR_UNSUPPORTED. */
typedef struct io_h5_rows io_h5_rows;
nde_status io_h5_rows_open(const char *path, const char *name, int last_axis, io_h5_rows **out,
                           char *matlab_class, size_t class_len, int *ndim, size_t *shape);
nde_status io_h5_rows_read(io_h5_rows *h, size_t first, size_t count, nde_array *out);
void io_h5_rows_close(io_h5_rows **h);
/* nde_mat_read of the selected rows only (rows NULL: everything). */
nde_status io_mat_read_sel(const char *path, const char *name, int expect_ndim, nde_array *out,
                           const io_rows *rows);
nde_status io_h5_write(const char *path, const char *name, int ndim, const size_t *dims,
                       const double *data, int append, size_t userblock,
                       const char *matlab_class);

/* The unsigned little-endian integer of n ≤ 8 bytes at p (HDF5's byte order). */
static inline uint64_t io_le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = n; k-- > 0;) v = v << 8 | p[k];
    return v;
}

/* out (out_len bytes) ← the string attribute `attr` of the HDF5 object whose header is at
 * address addr (file offset base + addr), decoded by nde from the header's bytes
 * (hdf5_attr.c); "" if the attribute is absent, not one fixed-length string, or kept
 * outside the header. NDE_ERR_FORMAT when the header, or the attribute, runs past the
 * bytes that hold it; messages name the path and the variable `name`. */
nde_status io_h5_string_attr(const char *path, const char *name, size_t file_size, uint64_t base,
                             unsigned sizeof_addr, unsigned sizeof_size, uint64_t addr,
                             const char *attr, char *out, size_t out_len);

/* MATLAB v5/v7 MAT-files through libmatio (mat5.c; NDE_ERR_UNSUPPORTED without it).
 * io_mat5_read returns the variable in MATLAB's axis order, row-major, unchecked for rank
 * and finiteness. */
nde_status io_mat5_read(const char *path, const char *name, nde_array *out);
nde_status io_mat5_list(const char *path, nde_mat_var **vars, size_t *count);

/* The MAT-file version of the file's header (0x0100 v5/v7, 0x0200 v7.3), 0 if it has no
 * MATLAB header, -1 if it cannot be read. */
int io_mat_version(const char *path);

#endif
