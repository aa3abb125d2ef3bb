/** @file
 * nde/io.h — dataset files: HDF5, MATLAB v7.3 .mat and NumPy .npy.
 *
 * Readers return an nde_array of doubles in row-major (C) order whatever the file
 * stores: any integer or floating type is converted, MATLAB's column-major arrays and
 * .npy files with fortran_order are transposed so that shape[] is the array's own
 * axis order (a MATLAB 1024×421×421 `coeff` comes back with shape {1024, 421, 421}).
 *
 * Errors, each with a message naming the file, dataset, shape or value:
 *   NDE_ERR_IO          file cannot be opened, read or written
 *   NDE_ERR_MISSING     the dataset is not in the file (the message lists what is)
 *   NDE_ERR_SHAPE       the rank differs from expect_ndim, or more than NDE_ARRAY_MAX_DIMS
 *   NDE_ERR_FORMAT      not an HDF5/.npy file, malformed header, truncated data, or a
 *                       non-numeric type (strings, compounds, cells, complex, objects)
 *   NDE_ERR_NONFINITE   the data hold NaN or ±Inf (the message gives the first index)
 *   NDE_ERR_UNSUPPORTED a MATLAB v5/v7 .mat file in a build without libmatio, a v4
 *                       .mat file, or HDF5 I/O in a build without HDF5
 * On failure the output array is left empty (data NULL). */
#ifndef NDE_IO_H
#define NDE_IO_H

#include "nde/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most dimensions an nde_array may have. */
#define NDE_ARRAY_MAX_DIMS 8

/** An array of doubles read from a dataset file (HDF5, .mat, .npy); free with nde_array_free(). */
typedef struct nde_array {
    int ndim;                          /**< 0 for a scalar */
    size_t shape[NDE_ARRAY_MAX_DIMS]; /**< dimensions, row-major */
    size_t numel;                      /**< Π shape */
    double *data;                      /**< (numel), row-major; owned, nde_alloc'ed */
} nde_array;

/** Free the data and zero the struct. NULL or an empty array: no-op. */
NDE_API void nde_array_free(nde_array *a);

/* ---- HDF5 ----------------------------------------------------------------------
 * nde_h5_write stores data (shape, row-major) as a float64 dataset `name` (a path
 * such as "coeff" or "train/x"; missing groups are created). append = 0 creates or
 * truncates the file; append = 1 adds to an existing file (created if absent) and
 * fails with NDE_ERR_ARG if the dataset exists.
 * nde_h5_read reads dataset `name`; expect_ndim > 0 requires that rank. */
/** Write data (shape, row-major) as the float64 dataset `name` of the HDF5 file `path` (see the HDF5 section above: append, groups). */
NDE_API nde_status nde_h5_write(const char *path, const char *name, int ndim, const size_t *shape,
                                const double *data, int append);
/** Read the HDF5 dataset `name` into *out (converted to double); expect_ndim > 0 requires that rank. */
NDE_API nde_status nde_h5_read(const char *path, const char *name, int expect_ndim, nde_array *out);

/* ---- MATLAB v7.3 .mat ----------------------------------------------------------
 * A v7.3 .mat file is HDF5 (after a 512-byte user block holding MATLAB's 128-byte
 * text header); each variable is a dataset whose HDF5 dimensions are MATLAB's in
 * reverse order, with a "MATLAB_class" attribute. The reader accepts files with or
 * without the user block, numeric and logical classes, and returns the variable in
 * MATLAB's axis order (as scipy/h5py users get from FNO's MatReader). The writer
 * produces what MATLAB's `save -v7.3` does for a double array of that shape. */
/** Read variable `name` of a MATLAB .mat file as an array in MATLAB's axis order.
 *  The version is taken from the file's 128-byte header: v5/v7 files (version 0x0100,
 *  compressed or not) are read through libmatio (NDE_ERR_UNSUPPORTED in builds without
 *  it), v7.3 files and plain HDF5 files through HDF5. Classes double, single, logical and
 *  the integer classes are converted to double; sparse, complex, char, cell, struct and
 *  object variables are NDE_ERR_FORMAT naming the class. MATLAB v4 files are refused.
 *  @param path the .mat file
 *  @param name the variable
 *  @param expect_ndim required rank, or 0 for any
 *  @param out receives the array (free with nde_array_free)
 *  @return NDE_OK, or an error as listed at the top of this header */
NDE_API nde_status nde_mat_read(const char *path, const char *name, int expect_ndim,
                                nde_array *out);

/** One variable of a MATLAB v5/v7 MAT-file, as listed by nde_mat_list(). */
typedef struct nde_mat_var {
    char name[64];                    /**< variable name (MATLAB allows at most 63 characters) */
    char mclass[16];                  /**< MATLAB class: "double", "int32", "logical", "cell", ... */
    int is_complex;                   /**< 1 if the variable is complex */
    int ndim;                         /**< MATLAB's rank (at least 2 for arrays) */
    size_t shape[NDE_ARRAY_MAX_DIMS]; /**< dimensions in MATLAB's order (first ndim, at most 8) */
} nde_mat_var;

/** List the variables of a MATLAB v5/v7 MAT-file without reading their data.
 *  *vars receives an array of *count entries, to be freed with nde_free(). Files of other
 *  versions (v7.3, HDF5) give NDE_ERR_UNSUPPORTED; builds without libmatio too. */
NDE_API nde_status nde_mat_list(const char *path, nde_mat_var **vars, size_t *count);

/** Write data (shape, row-major) as the double variable `name` of a MATLAB v7.3 .mat file, as MATLAB's `save -v7.3` does; append as nde_h5_write(). */
NDE_API nde_status nde_mat_write(const char *path, const char *name, int ndim, const size_t *shape,
                                 const double *data, int append);

/* ---- NumPy .npy ----------------------------------------------------------------
 * Format versions 1.0–3.0; dtypes bool, int8–int64, uint8–uint64, float32, float64 in
 * either byte order; C or Fortran order. The writer stores '<f8', C order, version
 * 1.0, header padded to 64 bytes (as numpy.save). */
/** Read a NumPy .npy file into *out (converted to double, C order); expect_ndim > 0 requires that rank. */
NDE_API nde_status nde_npy_read(const char *path, int expect_ndim, nde_array *out);
/** Write data (shape, row-major) as a NumPy .npy file ('<f8', C order, version 1.0). */
NDE_API nde_status nde_npy_write(const char *path, int ndim, const size_t *shape,
                                 const double *data);

/** Read a dataset by content, then by file name: a file starting with the .npy magic →
 *  nde_npy_read (name ignored), a file with a MATLAB header (v5, v7, v7.3) →
 *  nde_mat_read; otherwise ".npy" → nde_npy_read, ".mat" → nde_mat_read, anything else →
 *  nde_h5_read. */

/** Write data (shape, row-major) as the double variable `name` of a MATLAB v7.3 .mat file, as MATLAB's `save -v7.3` does; append as nde_h5_write(). */
NDE_API nde_status nde_dataset_read(const char *path, const char *name, int expect_ndim,
                                    nde_array *out);

/** Read rows first .. first + count − 1 of a dataset (its first axis, as nde_dataset_read
 * returns it), reading only their bytes where the format allows: an HDF5 hyperslab, the
 * rows' offset in a C-order .npy, a hyperslab over the last stored axis of a .mat (MATLAB's
 * first axis). A Fortran-order .npy is read whole and cut. out->shape[0] is count.
 * count 0 gives the dataset's full shape with no data (numel 0, data NULL): the row count
 * without reading it. Used for per-rank reading under MPI (docs/scaling.md).
 * Errors: those of nde_dataset_read; NDE_ERR_ARG (rows beyond the first axis, NULL);
 * NDE_ERR_SHAPE (a scalar has no rows). */
NDE_API nde_status nde_dataset_read_rows(const char *path, const char *name, int expect_ndim,
                                         size_t first, size_t count, nde_array *out);

/** A dataset kept open for row reads: nde_dataset_read_rows without opening and checking
 * the file at every call (HDF5 and .mat keep the file and dataset open; a .npy is read by
 * offset each time). Not thread-safe. Used by `nde train` under MPI. */
typedef struct nde_rows_reader nde_rows_reader;

/** Open dataset `name` of `path` (name ignored for .npy) for row reads, after the checks of
 * a whole read (type, rank, storage against the file size).
 * @return NDE_OK, or the errors of nde_dataset_read_rows. */
NDE_API nde_status nde_rows_reader_open(const char *path, const char *name, nde_rows_reader **out);
/** The length of the dataset's first axis (0 for NULL). */
NDE_API size_t nde_rows_reader_rows(const nde_rows_reader *r);
/** Rows first .. first + count − 1 (count > 0) into out, as nde_dataset_read_rows gives them.
 * Errors: NDE_ERR_ARG (rows out of range, count 0), NDE_ERR_IO, NDE_ERR_NONFINITE. */
NDE_API nde_status nde_rows_reader_read(nde_rows_reader *r, size_t first, size_t count,
                                        nde_array *out);
/** Close the reader (NULL-safe; sets *r = NULL). */
NDE_API void nde_rows_reader_close(nde_rows_reader **r);

/* ---- directories ---------------------------------------------------------------
 * Create `path` and any missing parents (mkdir -p), mode 0777 before the umask.
 * NDE_OK if it exists as a directory afterwards; NDE_ERR_IO with the failing component
 * and the system's reason otherwise; NDE_ERR_ARG for NULL, "" or a path over 4095 bytes. */
/** Create `path` and any missing parents (mkdir -p); see the directories section above for the errors. */
NDE_API nde_status nde_mkdir_p(const char *path);

#ifdef __cplusplus
}
#endif
#endif
