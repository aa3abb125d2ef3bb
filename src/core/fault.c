/* Fault injection counters (src/core/fault.h); compiled only with -Dfault_injection=true. */
#include "core/fault.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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

/* NDE_FAULT=alloc:N or write:N arms that kind from the start of the process, so that whole
 * programs (the nde CLI, the drivers) can be looped over N from a test; at exit the calls
 * counted and failed are printed to stderr ("nde fault: alloc calls C failed F"), which
 * gives the loop its end. Read only in fault-injection builds (this file is compiled in
 * no other). A malformed value is reported and ignored. */
static nde_fault_kind env_kind;

static void report_at_exit(void)
{
    fprintf(stderr, "nde fault: %s calls %ld failed %ld\n",
            env_kind == NDE_FAULT_ALLOC ? "alloc" : "write", (long)calls[env_kind],
            (long)failed[env_kind]);
}

__attribute__((constructor)) static void arm_from_env(void)
{
    const char *v = getenv("NDE_FAULT");
    if (!v || !*v) return;
    const char *colon = strchr(v, ':');
    char *end = NULL;
    long n = colon ? strtol(colon + 1, &end, 10) : -1;
    size_t klen = colon ? (size_t)(colon - v) : 0;
    int alloc = klen == 5 && !strncmp(v, "alloc", 5), write = klen == 5 && !strncmp(v, "write", 5);
    if (!colon || (!alloc && !write) || end == colon + 1 || *end || n < 0) {
        fprintf(stderr, "nde fault: ignoring NDE_FAULT='%s' (expected alloc:N or write:N, N >= 0)\n",
                v);
        return;
    }
    env_kind = alloc ? NDE_FAULT_ALLOC : NDE_FAULT_WRITE;
    nde_fault_set(env_kind, n);
    atexit(report_at_exit);
}
