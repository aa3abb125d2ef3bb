/* Inside libnde: the checkpoint writer with string metadata (the trainer's
 * checkpoint_meta). Not part of the public API. */
#ifndef NDE_IO_CHECKPOINT_INTERNAL_H
#define NDE_IO_CHECKPOINT_INTERNAL_H

#include "nde/checkpoint.h"

/* nde_checkpoint_save_extra plus meta: NULL, or "key", "value", …, NULL — string entries
 * of the file's __metadata__ (copied). NDE_ERR_ARG for a key the checkpoint itself uses
 * ("format", "format_version", "optim.*", "nde.*" of the library) or given twice. */
nde_status nde_checkpoint_write(const char *path, const nde_params *params, nde_optim *opt,
                                const nde_train_state *ts, const nde_checkpoint_extra *extra,
                                size_t n_extra, const char *const *meta);

#endif
