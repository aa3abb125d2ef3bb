/* Fault injection counters (src/core/fault.h); compiled only with -Dfault_injection=true. */
#include "core/fault.h"

#include <stdatomic.h>

static _Atomic long armed[NDE_FAULT_NKINDS];
static _Atomic long calls[NDE_FAULT_NKINDS];
static _Atomic long failed[NDE_FAULT_NKINDS];

void nde_fault_set(nde_fault_kind kind, long n)
{
    armed[kind] = n;
    calls[kind] = 0;
    failed[kind] = 0;
}

long nde_fault_count(nde_fault_kind kind) { return calls[kind]; }

long nde_fault_failed(nde_fault_kind kind) { return failed[kind]; }

int nde_fault_hit(nde_fault_kind kind)
{
    long c = ++calls[kind];
    if (armed[kind] > 0 && c >= armed[kind]) {
        failed[kind]++;
        return 1;
    }
    return 0;
}
