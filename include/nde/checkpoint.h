/** @file
 * nde/checkpoint.h — training checkpoints as safetensors files, for exact resume.
 *
 * A checkpoint holds the parameters (one F64 tensor per parameter tensor, under its
 * own name), optionally the optimizer (its state arrays "optim.<state>.<param>" and, for
 * NAdam, the scalar "optim.mu_product", the step count "optim.step" and learning rate
 * "optim.lr", and metadata naming the kind
 * and state format) and optionally the training position ("train.step", the schedule
 * position, and the RNG words "train.rng.s", "train.rng.spare_normal",
 * "train.rng.has_spare"). docs/checkpoints.md lists the layout.
 *
 * Saving is atomic (nde/safetensors.h). Loading validates the whole file against the
 * model before it changes anything: on any error the params, optimizer and train
 * state are untouched. Resuming from a checkpoint and continuing gives bit-identical
 * results to never having stopped (the state is stored exactly: doubles as F64, 8-bit
 * codes as U8, RNG words as U64). Parameter tensors written by other safetensors
 * writers load if names and shapes match; F32 parameters are widened to double. */
#ifndef NDE_CHECKPOINT_H
#define NDE_CHECKPOINT_H

#include "nde/core.h"
#include "nde/optim.h"
#include "nde/params.h"
#include "nde/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Training state saved beside the parameters and optimizer: the step count and the training generator. */
typedef struct nde_train_state {
    uint64_t step; /**< completed training steps: the schedule position */
    nde_rng rng;   /**< the training generator (data order, noise) */
} nde_train_state;

/** Write params (required), opt (NULL: none; read only) and ts (NULL: none) to `path`.
 * NDE_ERR_ARG for NULL path/params, NDE_ERR_IO if the file cannot be written (the old
 * file, if any, is then unchanged). */
NDE_API nde_status nde_checkpoint_save(const char *path, const nde_params *params, nde_optim *opt,
                                       const nde_train_state *ts);

/** Restore params, and opt / ts when not NULL, from `path`. Every parameter tensor must
 * be present with its exact shape (F64 or F32); with opt, the file must come from the
 * same optimizer kind and state format with the same state arrays; with ts, the train
 * entries must be present. Tensors the call does not ask for ("optim.*" without opt,
 * "train.*" without ts) are ignored; any other unknown tensor is an error.
 * Errors: NDE_ERR_IO (unreadable), NDE_ERR_FORMAT (malformed or mismatched; the message
 * names the file, the tensor and the expected and found dtype/shape), NDE_ERR_NONFINITE
 * (a parameter tensor holds NaN or Inf: the message names the file, tensor and index). */
NDE_API nde_status nde_checkpoint_load(const char *path, nde_params *params, nde_optim *opt,
                                       nde_train_state *ts);

/** More training state beside the above (the trainer's position, sample order, metrics
 * history): tensors named "train.<…>" (not one of the names above), with a dtype, a shape
 * of up to two dimensions and `data` holding (save) or receiving (load) shape[0]·shape[1]
 * elements (shape[1] ignored when ndim is 1). */
typedef struct nde_checkpoint_extra {
    const char *name; /**< tensor name, "train.<…>" */
    nde_st_dtype dtype; /**< element type in the file and in `data` */
    int ndim; /**< 1 or 2 */
    size_t shape[2]; /**< dimensions (shape[1] ignored when ndim is 1) */
    void *data; /**< shape[0]·shape[1] elements of dtype: read on save, written on load */
} nde_checkpoint_extra;

/** nde_checkpoint_save plus the extras (ts required). Errors as nde_checkpoint_save, and
 * NDE_ERR_ARG for an extra whose name does not start with "train." or clashes. */
NDE_API nde_status nde_checkpoint_save_extra(const char *path, const nde_params *params, nde_optim *opt,
                                             const nde_train_state *ts,
                                             const nde_checkpoint_extra *extra, size_t n_extra);
/** nde_checkpoint_load plus the extras (ts required): each must be present with exactly
 * its dtype and shape, and everything is validated before anything is restored. */
NDE_API nde_status nde_checkpoint_load_extra(const char *path, nde_params *params, nde_optim *opt,
                                             nde_train_state *ts, const nde_checkpoint_extra *extra,
                                             size_t n_extra);

#ifdef __cplusplus
}
#endif
#endif
