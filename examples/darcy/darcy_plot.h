/* Figures for the darcy driver. */
#ifndef DARCY_PLOT_H
#define DARCY_PLOT_H

#include "nde/nde.h"

/* <out>/<model>_sample.png: heat maps of one sample's coefficient a, true solution u,
 * prediction and pointwise error, each (s, s) row-major; the numbers go to
 * <out>/<model>_sample.dat (four gnuplot matrix blocks). NDE_ERR_IO if the data file
 * cannot be written; nde_plot_run's errors (gnuplot missing or failing). */
nde_status darcy_plot_sample(const char *out, const char *model, size_t s, const double *a,
                             const double *u, const double *pred);

#endif
