/** @file
 * nde/params.h — the flat parameter store.
 *
 * A model owns one nde_params: a contiguous θ and a contiguous gradient of the same
 * length, plus a table of named tensors (name, shape, offset into θ). Layers keep
 * offsets, never pointers, because θ may move while tensors are being added.
 * Optimizers, checkpoints, MPI reductions and adjoint accumulation all work on the
 * two flat arrays. */
#ifndef NDE_PARAMS_H
#define NDE_PARAMS_H

#include "nde/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Capacity of a tensor name, including the terminating NUL. */
#define NDE_PARAM_NAME_MAX 96
/** Most dimensions a parameter tensor may have. */
#define NDE_PARAM_MAX_DIMS 6

/** One named tensor of a parameter store: where its values are in θ and the gradient. */
typedef struct nde_tensor_info {
    char name[NDE_PARAM_NAME_MAX]; /**< unique, e.g. "mlp.0.weight" */
    int ndim; /**< number of dimensions, 1 … NDE_PARAM_MAX_DIMS */
    size_t shape[NDE_PARAM_MAX_DIMS]; /**< row-major */
    size_t offset;                    /**< into θ and the gradient, in doubles */
    size_t numel; /**< number of elements (product of the shape) */
    int group; /**< optimizer parameter group: 0 = default, NDE_GROUP_NO_DECAY for biases etc. */
} nde_tensor_info;

/** Optimizer parameter groups of nde_tensor_info.group. */
enum { NDE_GROUP_DEFAULT = 0, NDE_GROUP_NO_DECAY = 1 };

/** The flat parameter store of a model (opaque): θ, its gradient and the tensor table. */
typedef struct nde_params nde_params;

/** Create an empty parameter store in *p. */
NDE_API nde_status nde_params_create(nde_params **p);
NDE_API void nde_params_destroy(nde_params **p); /**< NULL-safe; sets *p = NULL */

/** Append a zero-initialized tensor; its offset is returned in *offset (may be NULL).
 * Fails with NDE_ERR_ARG on a duplicate or empty name, a zero dimension, or ndim out
 * of [1, NDE_PARAM_MAX_DIMS]. Invalidates earlier θ/gradient pointers. */
NDE_API nde_status nde_params_add(nde_params *p, const char *name, int ndim, const size_t *shape,
                                  int group, size_t *offset);

NDE_API size_t nde_params_count(const nde_params *p);     /**< total doubles in θ */
NDE_API double *nde_params_theta(nde_params *p);          /**< (count) */
NDE_API double *nde_params_grad(nde_params *p);           /**< (count) */
/** θ, read-only (count doubles). */
NDE_API const double *nde_params_theta_const(const nde_params *p);
/** Set the whole gradient to zero. */
NDE_API void nde_params_zero_grad(nde_params *p);

/** Number of named tensors. */
NDE_API size_t nde_params_n_tensors(const nde_params *p);
NDE_API const nde_tensor_info *nde_params_tensor(const nde_params *p, size_t i); /**< NULL if out of range */
/** The tensor named `name`, or NULL if there is none. */
NDE_API const nde_tensor_info *nde_params_find(const nde_params *p, const char *name);

#ifdef __cplusplus
}
#endif
#endif
