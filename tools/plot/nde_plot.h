/* tools/plot — PNG plots through gnuplot (Debian package gnuplot-nox), for the nde tool,
 * the example drivers and the benchmarks. Front-end code, not part of libnde.
 *
 * Programs write their numbers to data files and hand gnuplot a fixed script; every path
 * or other user text reaches the script only as one of the string variables ARG1…ARG9
 * (`gnuplot -c /dev/stdin ARG…`, started without a shell), never as script text. */
#ifndef NDE_TOOLS_PLOT_H
#define NDE_TOOLS_PLOT_H

#include "nde/core.h"

/* 1 if an executable gnuplot is on PATH (searched directly, no shell). */
int nde_plot_available(void);

/** Run `script` (gnuplot commands; it should set its own terminal and output) through
 * `gnuplot`. The script must hold no user-supplied text (paths, names): use
 * nde_plot_run_args for those. NDE_ERR_MISSING if gnuplot is not installed, NDE_ERR_IO if
 * it fails (its exit status in the message). Same as nde_plot_run_args(script, 0, NULL). */
nde_status nde_plot_run(const char *script);

/** Run `script` through gnuplot with args[0 .. n_args−1] (0 <= n_args <= 9, borrowed)
 * visible to it as the string variables ARG1 … ARGn (as in `gnuplot -c`). This is how
 * paths and other user text reach a script: write `set output ARG1` or
 * `plot ARG2.'/loss.csv' using 1:2`, never paste them into the script text, where a quote
 * or newline would end the string and let the rest run as gnuplot commands (`system`).
 * gnuplot is started without a shell. Errors: NDE_ERR_ARG (NULL script or argument,
 * n_args out of range), NDE_ERR_MISSING, NDE_ERR_IO as nde_plot_run. */
nde_status nde_plot_run_args(const char *script, int n_args, const char *const *args);

#endif
