/* Fault injection (private; built only with -Dfault_injection=true).
 *
 * In the SQLite style: the N-th call of a kind of resource acquisition fails, so tests can loop
 * N = 1, 2, ... until the path completes and check that each failure is clean (a status with a
 * message, no leak, no partial output). Kinds: NDE_FAULT_ALLOC counts nde_alloc calls (and so
 * nde_alloc_array, nde_grow, ...); NDE_FAULT_WRITE counts the file-writing calls of src/io and
 * src/train (fopen for writing, fwrite, fflush, fsync, rename).
 *
 * Without the option every hook is the plain call and nde_fault_hit is the constant 0: zero cost. */
#ifndef NDE_CORE_FAULT_H
#define NDE_CORE_FAULT_H

#include "nde_config.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

typedef enum { NDE_FAULT_ALLOC = 0, NDE_FAULT_WRITE = 1, NDE_FAULT_NKINDS = 2 } nde_fault_kind;

#if NDE_FAULT_INJECTION
/* Arm `kind` so that its n-th call from now fails (n >= 1); n = 0 disarms and resets the count.
 * Every later call fails too while armed (a failing allocator stays failing), as SQLite's
 * "persistent" mode does: cleanup code must not depend on a later allocation succeeding. */
void nde_fault_set(nde_fault_kind kind, long n);
/* Number of calls of `kind` counted since the last nde_fault_set. */
long nde_fault_count(nde_fault_kind kind);
/* Number of calls that were failed since the last nde_fault_set. */
long nde_fault_failed(nde_fault_kind kind);
/* 1 when this call of `kind` must fail (counts it). */
int nde_fault_hit(nde_fault_kind kind);
#else
#define nde_fault_hit(kind) 0
#endif

/* Write-side hooks: the call, or an injected EIO failure. */
static inline FILE *nde_fault_fopen(const char *path, const char *mode)
{
    if (nde_fault_hit(NDE_FAULT_WRITE)) { errno = EIO; return NULL; }
    return fopen(path, mode);
}
static inline size_t nde_fault_fwrite(const void *p, size_t size, size_t n, FILE *fp)
{
    if (nde_fault_hit(NDE_FAULT_WRITE)) { errno = EIO; return 0; }
    return fwrite(p, size, n, fp);
}
static inline int nde_fault_fflush(FILE *fp)
{
    if (nde_fault_hit(NDE_FAULT_WRITE)) { errno = EIO; return EOF; }
    return fflush(fp);
}
static inline int nde_fault_fsync(int fd)
{
    if (nde_fault_hit(NDE_FAULT_WRITE)) { errno = EIO; return -1; }
    return fsync(fd);
}
static inline int nde_fault_rename(const char *from, const char *to)
{
    if (nde_fault_hit(NDE_FAULT_WRITE)) { errno = EIO; return -1; }
    return rename(from, to);
}

#endif
