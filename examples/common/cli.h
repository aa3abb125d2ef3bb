/* Option parsing shared by the example drivers, benchmarks and the nde tool:
 * strict numbers (the whole string, no sign for sizes), 0 on success, -1 otherwise. */
#ifndef NDE_EXAMPLES_CLI_H
#define NDE_EXAMPLES_CLI_H

#include <errno.h>
#include <stdlib.h>

static inline int cli_parse_size(const char *s, size_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] == '-') return -1;
    *v = (size_t)x;
    return 0;
}

static inline int cli_parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || *end || end == s) return -1;
    *v = x;
    return 0;
}

#endif
