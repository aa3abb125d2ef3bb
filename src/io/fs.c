/* Directory creation for outputs (examples, benchmarks, checkpoints), and opening input
 * files with a clear reason when that fails. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/dataset_internal.h"

static nde_status make_one(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) == 0) return NDE_OK;
    int err = errno;
    if (err == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return NDE_OK;
    return NDE_FAIL(NDE_ERR_IO, "cannot create directory '%s': %s", dir,
                    err == EEXIST ? "a file of that name exists" : strerror(err));
}

nde_status nde_mkdir_p(const char *path)
{
    char buf[4096];
    if (!path || !path[0]) return NDE_FAIL(NDE_ERR_ARG, "nde_mkdir_p: empty path");
    size_t n = strlen(path);
    if (n >= sizeof buf) return NDE_FAIL(NDE_ERR_ARG, "nde_mkdir_p: path of %zu bytes", n);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i < n; i++)
        if (buf[i] == '/' && buf[i - 1] != '/') {
            buf[i] = '\0';
            NDE_TRY(make_one(buf));
            buf[i] = '/';
        }
    return make_one(buf);
}

nde_status io_open_read(const char *path, const char *kind, FILE **fp, size_t *size)
{
    *fp = fopen(path, "rb");
    if (!*fp)
        return NDE_FAIL(NDE_ERR_IO, "%s: cannot open %s for reading: %s", path, kind, strerror(errno));
    struct stat st;
    const char *why = NULL;
    if (fstat(fileno(*fp), &st) != 0) why = strerror(errno);
    else if (S_ISDIR(st.st_mode)) why = "it is a directory";
    else if (!S_ISREG(st.st_mode)) why = "it is not a regular file";
    if (why) {
        fclose(*fp);
        *fp = NULL;
        return NDE_FAIL(NDE_ERR_IO, "%s: cannot read %s: %s", path, kind, why);
    }
    if (size) *size = (size_t)st.st_size;
    return NDE_OK;
}
