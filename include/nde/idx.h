/** @file
 * nde/idx.h — IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
 *
 * Format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * 0x00 0x00 \<type\> \<ndim\>, then ndim big-endian uint32 dimensions, then the elements in
 * row-major order, big-endian. Types: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 * 0x0D float32, 0x0E float64. Files ending in anything are read through zlib's gzread,
 * which reads gzip and uncompressed files alike.
 *
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) comes with Debian as the package
 * dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,
 * labels-idx1}-ubyte.gz (60000/10000 images of 28×28 uint8, labels 0..9). */
#ifndef NDE_IDX_H
#define NDE_IDX_H

#include <stdint.h>

#include "nde/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most dimensions an IDX file may have. */
#define NDE_IDX_MAX_DIMS 8
/** Where Debian's dataset-fashion-mnist package installs the files. */
#define NDE_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/** Element type of an IDX file (the third magic byte). */
typedef enum nde_idx_type {
    NDE_IDX_U8 = 0x08, /**< uint8 */
    NDE_IDX_I8 = 0x09, /**< int8 */
    NDE_IDX_I16 = 0x0B, /**< int16, big-endian in the file */
    NDE_IDX_I32 = 0x0C, /**< int32, big-endian in the file */
    NDE_IDX_F32 = 0x0D, /**< float32, big-endian in the file */
    NDE_IDX_F64 = 0x0E, /**< float64, big-endian in the file */
} nde_idx_type;

/** An IDX array in host byte order. `data` holds count elements of `type`. */
typedef struct nde_idx {
    nde_idx_type type; /**< element type */
    int ndim; /**< number of dimensions, 1 … NDE_IDX_MAX_DIMS */
    uint32_t dims[NDE_IDX_MAX_DIMS]; /**< dimensions, outermost first */
    size_t count;     /**< product of dims */
    size_t elem_size; /**< bytes per element */
    void *data;       /**< owned */
} nde_idx;

/** Read `path` (gzip or plain). At most max_items entries of the first dimension are
 * read (0: all); dims[0] reports how many were kept.
 * Errors: NDE_ERR_ARG (NULL), NDE_ERR_MISSING (no such file; the message names the
 * path), NDE_ERR_IO (cannot open or read), NDE_ERR_FORMAT (bad magic, unknown type,
 * ndim 0 or > NDE_IDX_MAX_DIMS, a zero or overflowing size, data shorter than the header
 * says, trailing bytes), NDE_ERR_NOMEM. On failure *out is NULL. */
NDE_API nde_status nde_idx_read(const char *path, size_t max_items, nde_idx **out);
NDE_API void nde_idx_destroy(nde_idx **idx); /**< NULL-safe; sets *idx = NULL */

/** out[i] = scale · element[first + i] for i < n, as doubles. NDE_ERR_ARG if the range
 * leaves the array or an argument is NULL. out: (n) */
NDE_API nde_status nde_idx_to_double(const nde_idx *idx, size_t first, size_t n, double scale,
                                     double *out);

/** Write an array (data in host order, count = Π dims elements of `type`) to `path`,
 * gzip-compressed when gzip != 0. Errors: NDE_ERR_ARG (NULL, unknown type, bad ndim or a
 * zero dimension), NDE_ERR_IO. */
NDE_API nde_status nde_idx_write(const char *path, nde_idx_type type, int ndim,
                                 const uint32_t *dims, const void *data, int gzip);

#ifdef __cplusplus
}
#endif
#endif
