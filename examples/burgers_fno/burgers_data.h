/* Burgers data for the FNO driver and benchmark: generated with nde's Burgers generator and
 * cached as two .npy files (float64, shape (count, n)) so later runs — and the PyTorch
 * benchmark script — read the same samples. */
#ifndef BURGERS_DATA_H
#define BURGERS_DATA_H

#include "nde/nde.h"

/* Load samples 0..count−1 of `spec` from `cache_dir` or generate them (printing progress to
 * stderr) and write the cache. *a, *u (count, spec->n) are nde_alloc'd; the caller frees.
 * The file stem (without _a.npy/_u.npy) is written to stem (size stem_cap). */
nde_status burgers_data_get(nde_ctx *ctx, const nde_burgers_spec *spec, size_t count,
                            const char *cache_dir, double **a, double **u, char *stem,
                            size_t stem_cap);

#endif
