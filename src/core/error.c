/* Status strings and the per-thread last-error message. */
#include "nde/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NDE_MSG_CAP 1024

static _Thread_local char last_msg[NDE_MSG_CAP];

static const char *const status_names[NDE_STATUS_COUNT] = {
    [NDE_OK] = "ok",
    [NDE_ERR_ARG] = "invalid argument",
    [NDE_ERR_NOMEM] = "out of memory",
    [NDE_ERR_SHAPE] = "shape mismatch",
    [NDE_ERR_NONFINITE] = "non-finite value",
    [NDE_ERR_MAX_STEPS] = "maximum number of steps exceeded",
    [NDE_ERR_DT_MIN] = "step size underflow",
    [NDE_ERR_STATE] = "call out of order",
    [NDE_ERR_IO] = "input/output error",
    [NDE_ERR_FORMAT] = "malformed or mismatched file",
    [NDE_ERR_SOLVER] = "external solver failure",
    [NDE_ERR_UNSUPPORTED] = "unsupported",
    [NDE_ERR_STOPPED] = "stopped by callback",
    [NDE_ERR_MISSING] = "missing resource",
    [NDE_ERR_LIMIT] = "resource limit exceeded",
};

const char *nde_status_str(nde_status s)
{
    if ((int)s < 0 || s >= NDE_STATUS_COUNT) return "unknown status";
    return status_names[s];
}

const char *nde_last_error(void) { return last_msg; }

void nde_clear_error(void) { last_msg[0] = '\0'; }

nde_status nde_fail(nde_status s, const char *file, int line, const char *fmt, ...)
{
    /* Keep only the file name: the full build path is noise in a message. Format into
     * a local buffer first: callers often wrap the previous message
     * (NDE_FAIL(..., "...: %s", nde_last_error())), and formatting straight into
     * last_msg would read the buffer while overwriting it. */
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char msg[NDE_MSG_CAP];
    int n = snprintf(msg, sizeof msg, "%s:%d: ", base, line);
    if (n < 0 || (size_t)n >= sizeof msg) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    memcpy(last_msg, msg, strlen(msg) + 1);
    return s;
}
