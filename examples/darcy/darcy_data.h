/* Darcy data for the darcy driver: read from a dataset file (HDF5, MATLAB v7.3 .mat or
 * .npy) or generated with nde's Darcy generator and cached as HDF5. */
#ifndef DARCY_DATA_H
#define DARCY_DATA_H

#include "nde/nde.h"

typedef struct darcy_data {
    size_t count, s;      /* samples and grid points per side */
    double *coeff, *sol;  /* (count, s, s), nde_alloc'ed */
} darcy_data;

/* From a file: `path` ending in .npy holds the coefficients and `sol_path` the solutions;
 * otherwise datasets `xname`/`yname` (FNO's "coeff"/"sol") of an HDF5 or .mat file. The
 * first `count` samples are kept and subsampled to s points per side with the stride
 * (S−1)/(s−1) (FNO's r), which must be an integer. */
nde_status darcy_data_read(const char *path, const char *sol_path, const char *xname,
                           const char *yname, size_t count, size_t s, darcy_data *d);

/* Samples 0..count−1 of `seed` at resolution s from cache_dir/darcy_s<s>_n<count>_seed<seed>.h5
 * or, when absent, generated (progress on stderr) and written there. */
nde_status darcy_data_generate(size_t s, size_t count, uint64_t seed, const char *cache_dir,
                               darcy_data *d);

void darcy_data_free(darcy_data *d);

#endif
