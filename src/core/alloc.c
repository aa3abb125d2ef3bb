/* Aligned, zero-filled allocation. */
#include "nde/core.h"
#include "core/fault.h"
#include "core/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Aligned allocation of at least `bytes` (rounded up to NDE_ALIGN), not initialized. */
static void *alloc_raw(size_t bytes, size_t *rounded_out)
{
    if (bytes == 0) bytes = 1;
    /* aligned_alloc needs a size that is a multiple of the alignment. */
    if (bytes > SIZE_MAX - (NDE_ALIGN - 1)) {
        NDE_FAIL(NDE_ERR_NOMEM, "allocation of %zu bytes overflows", bytes);
        return NULL;
    }
    if (nde_fault_hit(NDE_FAULT_ALLOC)) {
        NDE_FAIL(NDE_ERR_NOMEM, "cannot allocate %zu bytes (injected fault)", bytes);
        return NULL;
    }
    size_t rounded = (bytes + NDE_ALIGN - 1) / NDE_ALIGN * NDE_ALIGN;
    void *p = aligned_alloc(NDE_ALIGN, rounded);
    if (!p) {
        NDE_FAIL(NDE_ERR_NOMEM, "cannot allocate %zu bytes", bytes);
        return NULL;
    }
    *rounded_out = rounded;
    return p;
}

void *nde_alloc(size_t bytes)
{
    size_t rounded = 0;
    void *p = alloc_raw(bytes, &rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void *nde_alloc_uninit(size_t count, size_t elem_size)
{
    if (elem_size != 0 && count > SIZE_MAX / elem_size) {
        NDE_FAIL(NDE_ERR_NOMEM, "array of %zu x %zu bytes overflows", count, elem_size);
        return NULL;
    }
    size_t rounded;
    return alloc_raw(count * elem_size, &rounded);
}

void *nde_alloc_array(size_t count, size_t elem_size)
{
    if (elem_size != 0 && count > SIZE_MAX / elem_size) {
        NDE_FAIL(NDE_ERR_NOMEM, "array of %zu x %zu bytes overflows", count, elem_size);
        return NULL;
    }
    return nde_alloc(count * elem_size);
}

void nde_free(void *p) { free(p); }

nde_status nde_reserve_doubles(double **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return NDE_OK;
    double *p = nde_alloc_array(need, sizeof *p);
    if (!p) return NDE_ERR_NOMEM;
    nde_free(*buf);
    *buf = p;
    *cap = need;
    return NDE_OK;
}

nde_status nde_grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap) return NDE_OK;
    size_t nc = *cap ? 2 * *cap : first;
    void *p = nde_alloc_array(nc, elem);
    if (!p) return NDE_ERR_NOMEM;
    if (n) memcpy(p, *arr, n * elem);
    nde_free(*arr);
    *arr = p;
    *cap = nc;
    return NDE_OK;
}
