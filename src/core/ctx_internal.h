/* The library context's fields, shared by the modules that keep state in it.
 * Modules add their own slot here and free it in nde_ctx_destroy (src/core/ctx.c)
 * through the cleanup hook they register. */
#ifndef NDE_CTX_INTERNAL_H
#define NDE_CTX_INTERNAL_H

#include "nde/core.h"

#define NDE_CTX_MAX_SLOTS 8

typedef struct nde_ctx_slot {
    void *data;
    void (*cleanup)(void *data);
} nde_ctx_slot;

enum nde_ctx_slot_id {
    NDE_SLOT_SUNDIALS = 0, /* SUNContext */
    NDE_SLOT_FFT,          /* FFTW plan cache */
};

struct nde_ctx {
    nde_rng rng;
    nde_ctx_slot slots[NDE_CTX_MAX_SLOTS];
};

#endif
