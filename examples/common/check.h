/* Failure handling shared by the example drivers and benchmarks: a failed library call
 * prints the call, its status and the library's message, then leaves. */
#ifndef NDE_EXAMPLES_CHECK_H
#define NDE_EXAMPLES_CHECK_H

#include <stdio.h>

#include "nde/core.h"

/* Run x; on failure report it and execute `leave` (e.g. `return 1` or `exit(1)`). */
#define CHECK_OR(leave, x)                                                                 \
    do {                                                                                   \
        nde_status s_ = (x);                                                               \
        if (s_ != NDE_OK) {                                                                \
            fprintf(stderr, "%s: %s (%s)\n", #x, nde_status_str(s_), nde_last_error());    \
            leave;                                                                         \
        }                                                                                  \
    } while (0)

/* In main and functions returning int: return 1 on failure. */
#define CHECK(x) CHECK_OR(return 1, x)

#endif
