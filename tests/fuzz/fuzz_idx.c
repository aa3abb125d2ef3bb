/* libFuzzer: the IDX reader (gzip and plain alike, as gzread decides), all items and at
 * most two, through a temporary file. */
#include "fuzz_common.h"
#include "nde/nde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_temp_file(data, size, ".idx");
    if (!path) return 0;
    for (size_t max_items = 0; max_items < 3; max_items += 2) {
        nde_idx *x = NULL;
        if (nde_idx_read(path, max_items, &x) != NDE_OK) {
            if (x) __builtin_trap();
            continue;
        }
        double v[4];
        size_t n = x->count < 4 ? x->count : 4;
        if (nde_idx_to_double(x, 0, n, 1.0, v) != NDE_OK) __builtin_trap();
        if (x->count && nde_idx_to_double(x, x->count - 1, 1, 1.0, v) != NDE_OK) __builtin_trap();
        if (nde_idx_to_double(x, x->count, 1, 1.0, v) == NDE_OK) __builtin_trap();
        nde_idx_destroy(&x);
    }
    return 0;
}
