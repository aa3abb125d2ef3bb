/* The run-time version and feature query (include/nde/version.h). */
#include <string.h>

#include "nde/version.h"
#include "nde_config.h"

const char *nde_version(void) { return NDE_VERSION; }

static const struct {
    const char *name;
    int on;
} features[] = {
    {"hdf5", NDE_HAVE_HDF5},         {"sundials", NDE_HAVE_SUNDIALS},
    {"mpi", NDE_HAVE_MPI},           {"matio", NDE_HAVE_MATIO},
    {"fault_injection", NDE_FAULT_INJECTION},
};
enum { N_FEATURES = sizeof features / sizeof features[0] };

int nde_has_feature(const char *name)
{
    if (!name) return 0;
    for (int i = 0; i < N_FEATURES; i++)
        if (!strcmp(name, features[i].name)) return features[i].on;
    return 0;
}

const char *nde_feature_name(int i) { return i >= 0 && i < N_FEATURES ? features[i].name : NULL; }
