/* The small model of the checkpoint harness and of its seed files (make_seeds.c):
 * parameters "w" (4, 3) and "b" (4), and the optimizers and extra tensors a load asks for. */
#ifndef NDE_FUZZ_MODEL_H
#define NDE_FUZZ_MODEL_H

#include "nde/nde.h"

enum { FUZZ_OPT_NONE, FUZZ_OPT_ADAM32, FUZZ_OPT_ADAM8, FUZZ_OPT_COUNT };

/* params ← the model, *opt ← the optimizer `which` (NULL for FUZZ_OPT_NONE). */
static nde_status fuzz_model_create(int which, nde_params **params, nde_optim **opt)
{
    *opt = NULL;
    NDE_TRY(nde_params_create(params));
    const size_t sw[2] = {4, 3}, sb[1] = {4};
    nde_status st = nde_params_add(*params, "w", 2, sw, 0, NULL);
    if (st == NDE_OK) st = nde_params_add(*params, "b", 1, sb, 0, NULL);
    if (st == NDE_OK && which != FUZZ_OPT_NONE) {
        nde_optim_spec spec = nde_optim_defaults(NDE_OPT_ADAM);
        if (which == FUZZ_OPT_ADAM8) {
            spec.state_bits = 8;
            spec.block_size = 64;
            spec.min_8bit_numel = 1;
        }
        st = nde_optim_create(&spec, *params, opt);
    }
    if (st != NDE_OK) nde_params_destroy(params);
    return st;
}

#endif
