/* libFuzzer: nde_checkpoint_load and nde_checkpoint_load_extra into a small model (the
 * parameters of fuzz_model.h), without an optimizer and with Adam's 32-bit and 8-bit
 * states, through a temporary file. */
#include "fuzz_common.h"
#include "fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_temp_file(data, size, ".safetensors");
    if (!path) return 0;
    for (int which = 0; which < FUZZ_OPT_COUNT; which++) {
        nde_params *p;
        nde_optim *opt;
        if (fuzz_model_create(which, &p, &opt) != NDE_OK) __builtin_trap();
        nde_train_state ts;
        memset(&ts, 0, sizeof ts);
        if (which == FUZZ_OPT_NONE) {
            (void)nde_checkpoint_load(path, p, NULL, NULL);
        } else if (which == FUZZ_OPT_ADAM32) {
            (void)nde_checkpoint_load(path, p, opt, &ts);
        } else {
            double hist[3];
            int64_t order[5];
            nde_checkpoint_extra extra[2] = {
                {.name = "train.hist", .dtype = NDE_ST_F64, .ndim = 1, .shape = {3, 0}, .data = hist},
                {.name = "train.order", .dtype = NDE_ST_I64, .ndim = 2, .shape = {1, 5}, .data = order},
            };
            (void)nde_checkpoint_load_extra(path, p, opt, &ts, extra, 2);
        }
        nde_optim_destroy(&opt);
        nde_params_destroy(&p);
    }
    return 0;
}
