/* Directory creation for outputs (examples, benchmarks, checkpoints). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "nde/io.h"

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
