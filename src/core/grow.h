/* Growing arrays by doubling. Internal. */
#ifndef NDE_CORE_GROW_H
#define NDE_CORE_GROW_H

#include "nde/core.h"

/* Make room for n + 1 items of `elem` bytes in *arr (capacity *cap items): nothing if
 * n < *cap, else *arr becomes a zero-filled array of twice the capacity (`first` when
 * *cap is 0) holding the n items, the old one is freed and *cap updated. NDE_ERR_NOMEM
 * (with *arr and *cap untouched) when the allocation fails. */
/* As nde_alloc_array, but the memory is not zero-filled: for large buffers that are
 * always written before they are read (the solver's tape and step log), so that pages
 * are touched only as they are used. nde_free releases it. */
void *nde_alloc_uninit(size_t count, size_t elem_size);

nde_status nde_grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first);

/* Make *buf hold at least `need` doubles (capacity *cap): nothing if need <= *cap, else
 * a zero-filled array of exactly `need` replaces it (the contents are not kept).
 * NDE_ERR_NOMEM (with *buf and *cap untouched) when the allocation fails. */
nde_status nde_reserve_doubles(double **buf, size_t *cap, size_t need);

#endif
