/* Helpers shared by the dataset readers and writers (HDF5, .mat, .npy). */
#ifndef NDE_IO_DATASET_INTERNAL_H
#define NDE_IO_DATASET_INTERNAL_H

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
nde_status io_h5_write(const char *path, const char *name, int ndim, const size_t *dims,
                       const double *data, int append, size_t userblock,
                       const char *matlab_class);

/* MATLAB v5/v7 MAT-files through libmatio (mat5.c; NDE_ERR_UNSUPPORTED without it).
 * io_mat5_read returns the variable in MATLAB's axis order, row-major, unchecked for rank
 * and finiteness. */
nde_status io_mat5_read(const char *path, const char *name, nde_array *out);
nde_status io_mat5_list(const char *path, nde_mat_var **vars, size_t *count);

/* The MAT-file version of the file's header (0x0100 v5/v7, 0x0200 v7.3), 0 if it has no
 * MATLAB header, -1 if it cannot be read. */
int io_mat_version(const char *path);

#endif
