/* libFuzzer: the safetensors reader (nde_st_open_memory, then every accessor). */
#include "fuzz_common.h"
#include "nde/nde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nde_st_file *f = NULL;
    if (nde_st_open_memory(data, size, "fuzz", &f) != NDE_OK) return 0;
    volatile double sink = 0;
    for (size_t i = 0; i < nde_st_n_tensors(f); i++) {
        const nde_st_tensor *t = nde_st_tensor_at(f, i);
        if (!t) __builtin_trap();
        if (nde_st_find(f, t->name) == NULL) __builtin_trap(); /* every listed name is found */
        const unsigned char *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sink += p[k]; /* the data lie inside the file */
    }
    (void)nde_st_meta(f, "format");
    (void)nde_st_tensor_at(f, nde_st_n_tensors(f));
    nde_st_close(&f);
    (void)sink;
    return 0;
}
