/* Shared by the libFuzzer harnesses of tests/fuzz: the readers that take a path get the
 * input through a per-process temporary file (in /dev/shm when it exists). */
#ifndef NDE_FUZZ_COMMON_H
#define NDE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path_[256];

static void fuzz_remove_temp_(void)
{
    if (fuzz_path_[0]) unlink(fuzz_path_);
}

/* The path holding data (size bytes); the same path on every call of this process. NULL
 * if the file cannot be written (the input is then skipped). */
__attribute__((unused)) static const char *fuzz_temp_file(const uint8_t *data, size_t size, const char *suffix)
{
    if (!fuzz_path_[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_path_, sizeof fuzz_path_, "%s/nde-fuzz-%ld%s", dir, (long)getpid(), suffix);
        atexit(fuzz_remove_temp_);
    }
    FILE *fp = fopen(fuzz_path_, "wb");
    if (!fp) return NULL;
    const size_t put = size ? fwrite(data, 1, size, fp) : 0;
    if (fclose(fp) != 0 || put != size) return NULL;
    return fuzz_path_;
}

#endif
