/** @file
 * nde/safetensors.h — reading and writing safetensors files.
 *
 * Format (huggingface/safetensors, docs "Format"): an 8-byte little-endian unsigned
 * header length N, N bytes of UTF-8 JSON, then the byte buffer. The JSON object maps
 * each tensor name to {"dtype": "F64", "shape": [2, 3], "data_offsets": [begin, end]}
 * with offsets relative to the buffer start; an optional "__metadata__" object maps
 * strings to strings. Tensor data are little-endian, row-major.
 *
 * The writer pads the header with spaces to a multiple of 8 bytes, stores tensors with
 * wider dtypes first (so doubles are 8-byte aligned in the file) and writes atomically:
 * a temporary file in the same directory is written, flushed, fsync'ed and renamed
 * over the target, so a crash leaves either the old file or the new one.
 *
 * The reader validates everything before it hands out a tensor: header length within
 * the file and at most 100 MB, JSON syntax and types, known dtypes, integer shapes and
 * offsets, byte counts equal to numel · dtype size, offsets that cover the buffer
 * exactly without holes or overlap, unique non-empty names. Any violation is
 * NDE_ERR_FORMAT with a message naming the file and the tensor. Only little-endian
 * hosts are supported (NDE_ERR_UNSUPPORTED otherwise). */
#ifndef NDE_SAFETENSORS_H
#define NDE_SAFETENSORS_H

#include "nde/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Element type of a safetensors tensor (the format's dtype strings). */
typedef enum nde_st_dtype {
    NDE_ST_BOOL = 0, /**< boolean, one byte */
    NDE_ST_U8, /**< uint8 */
    NDE_ST_I8, /**< int8 */
    NDE_ST_U16, /**< uint16 */
    NDE_ST_I16, /**< int16 */
    NDE_ST_F16, /**< IEEE half precision */
    NDE_ST_BF16, /**< bfloat16 */
    NDE_ST_U32, /**< uint32 */
    NDE_ST_I32, /**< int32 */
    NDE_ST_F32, /**< float32 */
    NDE_ST_U64, /**< uint64 */
    NDE_ST_I64, /**< int64 */
    NDE_ST_F64, /**< float64 */
    NDE_ST_DTYPE_COUNT /**< number of dtypes */
} nde_st_dtype;

/** "BOOL", "U8", ..., "F64" as in the format; "?" when out of range. */
NDE_API const char *nde_st_dtype_name(nde_st_dtype dtype);
NDE_API size_t nde_st_dtype_size(nde_st_dtype dtype); /**< bytes per element; 0 when out of range */

/** Capacity of a tensor name, including the terminating NUL. */
#define NDE_ST_NAME_MAX 256
/** Most dimensions a tensor may have. */
#define NDE_ST_MAX_DIMS 8

/** One tensor of a safetensors file (reader) or queued for one (writer). */
typedef struct nde_st_tensor {
    char name[NDE_ST_NAME_MAX]; /**< the tensor's name */
    nde_st_dtype dtype; /**< element type */
    int ndim; /**< 0 (scalar) .. NDE_ST_MAX_DIMS */
    size_t shape[NDE_ST_MAX_DIMS]; /**< dimensions, row-major */
    size_t numel; /**< number of elements (1 for a scalar) */
    size_t nbytes; /**< numel · element size */
    /** Reader: the tensor's little-endian bytes inside the file buffer; not aligned,
     * copy with memcpy. Writer: the caller's data (borrowed until the write). */
    const void *data;
} nde_st_tensor;

/* ---- writing ---- */
/** A safetensors writer (opaque): queues tensors and metadata, then writes the file atomically. */
typedef struct nde_st_writer nde_st_writer;

/** Create an empty writer in *w. */
NDE_API nde_status nde_st_writer_create(nde_st_writer **w);
NDE_API void nde_st_writer_destroy(nde_st_writer **w); /**< NULL-safe; sets *w = NULL */

/** Queue a tensor. `data` (numel · dtype size bytes, host order) is borrowed until
 * nde_st_writer_write returns. NDE_ERR_ARG for an empty, too long or duplicate name
 * (or "__metadata__"), ndim outside [0, NDE_ST_MAX_DIMS], NULL data with numel > 0. */
NDE_API nde_status nde_st_writer_add(nde_st_writer *w, const char *name, nde_st_dtype dtype,
                                     int ndim, const size_t *shape, const void *data);
/** Add a "__metadata__" string entry (copied). NDE_ERR_ARG for a duplicate key. */
NDE_API nde_status nde_st_writer_meta(nde_st_writer *w, const char *key, const char *value);
/** Write the file atomically (see above). NDE_ERR_IO with the path and the system's
 * reason on any failure; the target is then untouched and no temporary is left.
 * The temporary is "<path>.tmp.<pid>"; after a successful write, such temporaries of
 * processes that no longer exist (a writer killed mid-write) are removed. */
NDE_API nde_status nde_st_writer_write(nde_st_writer *w, const char *path);

/* ---- reading ---- */
/** A safetensors file read and validated into memory (opaque). */
typedef struct nde_st_file nde_st_file;

/** Read and validate a whole file. NDE_ERR_IO if it cannot be read, NDE_ERR_FORMAT for
 * any violation of the format. */
NDE_API nde_status nde_st_open(const char *path, nde_st_file **f);
/** Validate an in-memory image (copied); `label` names it in messages. */
NDE_API nde_status nde_st_open_memory(const void *bytes, size_t len, const char *label,
                                      nde_st_file **f);
NDE_API void nde_st_close(nde_st_file **f); /**< NULL-safe; sets *f = NULL */

/** Number of tensors in the file. */
NDE_API size_t nde_st_n_tensors(const nde_st_file *f);
NDE_API const nde_st_tensor *nde_st_tensor_at(const nde_st_file *f, size_t i); /**< NULL if out of range */
NDE_API const nde_st_tensor *nde_st_find(const nde_st_file *f, const char *name); /**< NULL if absent */
NDE_API const char *nde_st_meta(const nde_st_file *f, const char *key);            /**< NULL if absent */
NDE_API const char *nde_st_label(const nde_st_file *f); /**< the path or label given at open */

#ifdef __cplusplus
}
#endif
#endif
