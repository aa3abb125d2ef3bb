/* A small persistent thread team: run fn(arg, i) for i = 0..n−1 with i = 0 on the calling
 * thread and the others on workers made once at creation (no thread creation or
 * allocation per run). Used to split an FNO batch over cores with coarse-grained work. */
#ifndef NDE_POOL_H
#define NDE_POOL_H

#include "nde/core.h"

typedef struct nde_pool nde_pool;

/* n_workers extra threads (0 allowed: everything runs on the caller). */
nde_status nde_pool_create(size_t n_workers, nde_pool **pool);
void nde_pool_destroy(nde_pool **pool); /* NULL-safe; joins the workers */
/* n ≤ n_workers + 1. Returns when every call has finished. */
void nde_pool_run(nde_pool *pool, void (*fn)(void *arg, size_t i), void *arg, size_t n);

#endif
