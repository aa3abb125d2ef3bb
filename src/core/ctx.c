/* Library context and the wall clock. */
#include "core/ctx_internal.h"

#include <stdlib.h>
#include <time.h>

nde_status nde_ctx_create(nde_ctx **ctx)
{
    if (!ctx) return NDE_FAIL(NDE_ERR_ARG, "nde_ctx_create: ctx is NULL");
    nde_ctx *c = nde_alloc(sizeof *c);
    if (!c) return NDE_ERR_NOMEM;
    nde_rng_seed(&c->rng, 0);
    *ctx = c;
    return NDE_OK;
}

void nde_ctx_destroy(nde_ctx **ctx)
{
    if (!ctx || !*ctx) return;
    nde_ctx *c = *ctx;
    /* Later slots may depend on earlier ones (FFT plans before nothing, SUNDIALS last). */
    for (int i = NDE_CTX_MAX_SLOTS - 1; i >= 0; i--)
        if (c->slots[i].data && c->slots[i].cleanup) c->slots[i].cleanup(c->slots[i].data);
    nde_free(c);
    *ctx = NULL;
}

nde_rng *nde_ctx_rng(nde_ctx *ctx) { return ctx ? &ctx->rng : NULL; }

double nde_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
