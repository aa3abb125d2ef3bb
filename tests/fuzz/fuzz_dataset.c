/* libFuzzer: nde_dataset_read on HDF5, MATLAB v7.3 and v5 .mat files (and .npy): the
 * reader dispatches by content. The temporary file is named .mat, so that files without a
 * MATLAB header go to the HDF5 path of nde_mat_read. Variables "a" and "u" are read (the
 * seeds hold those), and a v5 file's variables are listed. Afterwards no HDF5 handle may
 * be left open. */
#include "fuzz_common.h"
#include "nde/nde.h"
#include "nde_config.h"
#if NDE_HAVE_HDF5
#include <hdf5.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_temp_file(data, size, ".mat");
    if (!path) return 0;
    static const char *const names[] = {"a", "u"};
    for (int k = 0; k < 2; k++) {
        nde_array a;
        if (nde_dataset_read(path, names[k], 0, &a) == NDE_OK) {
            volatile double s = 0;
            for (size_t i = 0; i < a.numel; i++) s += a.data[i];
            (void)s;
            nde_array_free(&a);
        } else if (a.data) {
            __builtin_trap();
        }
    }
    nde_mat_var *vars = NULL;
    size_t n = 0;
    if (nde_mat_list(path, &vars, &n) == NDE_OK) nde_free(vars);
#if NDE_HAVE_HDF5
    /* every file, dataset, type, space and attribute handle is closed, on error paths too */
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) __builtin_trap();
#endif
    return 0;
}
