/* LD_PRELOAD stand-in for a libhdf5 that crashes on a corrupted file (as 1.10.8 does in
 * H5F__accum_read, docs/reliability.md): H5Fopen raises SIGSEGV. tests/test_hostile.c
 * runs `nde inspect` with it to check that the crash is contained. */
#include <signal.h>
#include <stdint.h>

typedef int64_t hid_t;

hid_t H5Fopen(const char *name, unsigned flags, hid_t fapl);
hid_t H5Fopen(const char *name, unsigned flags, hid_t fapl)
{
    (void)name;
    (void)flags;
    (void)fapl;
    raise(SIGSEGV);
    return -1;
}
