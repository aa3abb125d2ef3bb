/* nde/plot.h — PNG plots through gnuplot (Debian package gnuplot-nox).
 *
 * Examples and benchmarks write their numbers as CSV and hand gnuplot a script; the
 * library only runs it and reports what went wrong. */
#ifndef NDE_PLOT_H
#define NDE_PLOT_H

#include "nde/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if a gnuplot executable is on PATH. */
NDE_API int nde_plot_available(void);

/* Run `script` (gnuplot commands; it should set its own terminal and output) through
 * `gnuplot`. NDE_ERR_MISSING if gnuplot is not installed, NDE_ERR_IO if it fails (its
 * exit status in the message). */
NDE_API nde_status nde_plot_run(const char *script);

#ifdef __cplusplus
}
#endif
#endif
