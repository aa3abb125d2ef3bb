/* tools/args — the command-line parser of the example drivers, the benchmarks and the nde
 * tool: one table of options on getopt_long, so that every program follows the same
 * conventions.
 *
 *   - --help / -h prints a usage generated from the table (with each option's default,
 *     read from its destination before parsing) on stdout: exit status 0;
 *   - an unknown option, a missing or bad value, an option given twice or a wrong number
 *     of positional arguments prints one line on stderr naming the option and the value,
 *     ending in "(try --help)": exit status 2;
 *   - numbers are strict: the whole string, decimal digits only for counts and seeds (no
 *     sign, no trailing junk, no overflow), finite doubles, each within its bounds;
 *   - as with getopt_long, "--name=value" equals "--name value", a long name may be
 *     shortened to a unique prefix, and "--" ends the options.
 *
 * This is front-end code, not part of libnde: it prints, but it never exits; the caller
 * returns nde_args_exit_status(rc) from main.
 *
 * Typical use:
 *
 *   size_t iters = 2000;
 *   double rtol = 1e-7;
 *   int plot = 1;
 *   const nde_arg opts[] = {
 *       {.name = "iters", .kind = NDE_ARG_SIZE, .dest = &iters, .help = "iterations"},
 *       {.name = "rtol", .kind = NDE_ARG_DOUBLE, .dest = &rtol, .bounds = NDE_ARG_LO_OPEN,
 *        .help = "relative tolerance"},
 *       {.name = "no-plot", .kind = NDE_ARG_UNFLAG, .dest = &plot, .help = "no PNG"},
 *   };
 *   const nde_args_spec spec = {.prog = "spiral", NDE_ARGS_TABLE(opts)};
 *   int rc = nde_args_parse(&spec, argc, argv, NULL);
 *   if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
 */
#ifndef NDE_TOOLS_ARGS_H
#define NDE_TOOLS_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nde/ode.h"

typedef enum nde_arg_kind {
    NDE_ARG_FLAG,   /* no value; stores 1 in *(int *)dest */
    NDE_ARG_UNFLAG, /* no value; stores 0 in *(int *)dest (e.g. --no-plot clears `plot`) */
    NDE_ARG_SIZE,   /* size_t: decimal digits only, min <= v <= max (max 0: SIZE_MAX) */
    NDE_ARG_U64,    /* uint64_t: decimal digits only (seeds) */
    NDE_ARG_DOUBLE, /* double: the whole string, finite, within the bounds of .bounds */
    NDE_ARG_STRING, /* const char *: non-empty; points into argv */
    NDE_ARG_CHOICE, /* int: index of the value in .choices (exact match) */
    NDE_ARG_CUSTOM  /* .parse(value, dest): NULL when stored, else why the value is bad */
} nde_arg_kind;

/* Bounds of an NDE_ARG_DOUBLE, or-ed in .bounds: v >= lo, v > lo, v <= hi, v < hi. */
enum { NDE_ARG_LO = 1u, NDE_ARG_LO_OPEN = 2u, NDE_ARG_HI = 4u, NDE_ARG_HI_OPEN = 8u };

typedef struct nde_arg {
    const char *name;      /* long name without the dashes: "iters" is --iters */
    char short_name;       /* 0: none ('h' is taken by --help) */
    nde_arg_kind kind;
    void *dest;            /* int, size_t, uint64_t, double or const char * as the kind says */
    const char *metavar;   /* the value's name in the usage; NULL: N, SEED, X, STR or a|b|c */
    const char *help;      /* one sentence; '\n' starts an indented continuation line */
    size_t min, max;       /* NDE_ARG_SIZE range (inclusive; max 0 means SIZE_MAX) */
    double lo, hi;         /* NDE_ARG_DOUBLE bounds, used as .bounds says */
    unsigned bounds;
    const char *const *choices; /* NDE_ARG_CHOICE: the names, NULL-terminated */
    /* NDE_ARG_CUSTOM: store the parsed value in dest and return NULL, or return a
     * sentence saying why `value` is bad (printed after the option and value) */
    const char *(*parse)(const char *value, void *dest);
    /* shown as "(default ...)" instead of the value in dest; "" shows none (the default
     * of NDE_ARG_CUSTOM and of NULL strings) */
    const char *default_text;
    /* non-zero: the option may be given more than once (each value is stored in turn;
     * an NDE_ARG_CUSTOM parser can collect them, e.g. `nde train --set`) */
    int repeat;
} nde_arg;

typedef struct nde_args_spec {
    const char *prog;      /* the program in messages and usage: "spiral", "nde steps" */
    const char *synopsis;  /* after prog on the usage line; NULL: "[options]" */
    const char *about;     /* printed after the usage line; may be NULL */
    const nde_arg *opts;   /* n_opts options */
    size_t n_opts;
    size_t min_positional, max_positional; /* positional arguments allowed (default none) */
} nde_args_spec;

/* Entries many programs share, so that they read the same everywhere. */
#define NDE_ARGS_SEED(d) {.name = "seed", .kind = NDE_ARG_U64, .dest = (d), .help = "random seed"}
#define NDE_ARGS_OUT(d)                                                                         \
    {.name = "out", .kind = NDE_ARG_STRING, .dest = (d), .metavar = "DIR", .help = "output folder"}
#define NDE_ARGS_CACHE(d)                                                                       \
    {.name = "cache", .kind = NDE_ARG_STRING, .dest = (d), .metavar = "DIR",                    \
     .help = "cache of generated data"}
/* file: what --no-plot skips, e.g. "spiral.png" */
#define NDE_ARGS_NO_PLOT(d, file)                                                               \
    {.name = "no-plot", .kind = NDE_ARG_UNFLAG, .dest = (d), .help = "skip " file}
/* unit: "iterations", "steps", ... */
#define NDE_ARGS_PRINT_EVERY(d, unit)                                                           \
    {.name = "print-every", .kind = NDE_ARG_SIZE, .dest = (d),                                  \
     .help = "progress line every N " unit " (0: none)"}
/* --rtol and --atol, both > 0 */
#define NDE_ARGS_TOLERANCES(rtol, atol)                                                         \
    {.name = "rtol", .kind = NDE_ARG_DOUBLE, .dest = (rtol), .bounds = NDE_ARG_LO_OPEN,         \
     .help = "relative tolerance"},                                                             \
    {.name = "atol", .kind = NDE_ARG_DOUBLE, .dest = (atol), .bounds = NDE_ARG_LO_OPEN,         \
     .help = "absolute tolerance"}
/* d: an nde_method, read by nde_args_method */
#define NDE_ARGS_METHOD(d)                                                                      \
    {.name = "method", .kind = NDE_ARG_CUSTOM, .dest = (d), .parse = nde_args_method,           \
     .metavar = "NAME", .default_text = nde_method_name(*(d)),                                  \
     .help = "ODE method (nde info lists them)"}
/* In an nde_args_spec initializer: the option table `opts`, an array. */
#define NDE_ARGS_TABLE(opts) .opts = (opts), .n_opts = sizeof(opts) / sizeof(opts)[0]

/* Results of nde_args_parse. */
enum {
    NDE_ARGS_OK = 0,   /* parsed: continue */
    NDE_ARGS_HELP = 1, /* the usage was printed on stdout: exit 0 */
    NDE_ARGS_ERROR = 2 /* a message was printed on stderr: exit 2 */
};

/* Parse argv[1..argc-1] against spec (argv[0] is not used; spec->prog names the program).
 * Each option's value is stored in its dest as it is parsed (so on error some may have
 * been stored). getopt_long's state is reset first, so the function may be called again
 * (for another argv, or a subcommand's). GNU getopt moves positional arguments behind the
 * options: on NDE_ARGS_OK they are argv[*first_positional .. argc-1] (first_positional may
 * be NULL when the spec allows none). Returns NDE_ARGS_OK, NDE_ARGS_HELP or
 * NDE_ARGS_ERROR. */
int nde_args_parse(const nde_args_spec *spec, int argc, char **argv, int *first_positional);

/* The exit status for a result of nde_args_parse that is not NDE_ARGS_OK: 0 after the
 * help, 2 after an error. */
int nde_args_exit_status(int rc);

/* An NDE_ARG_CUSTOM parser for ODE method names (nde_method_parse): dest is an
 * nde_method; on a bad name returns nde_last_error(). */
const char *nde_args_method(const char *value, void *dest);

#endif
