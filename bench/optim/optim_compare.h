/* What bench/optim (spiral neural ODE) and bench/optim_operator (FNO-1D on Burgers, MgNO
 * on Darcy) share: the optimizer configurations they compare, each at its recommended
 * settings, the CSV of one optimizer's loss curve and the gnuplot figure of all curves. */
#ifndef BENCH_OPTIM_COMPARE_H
#define BENCH_OPTIM_COMPARE_H

#include <stddef.h>

#include "nde/optim.h"

typedef struct optim_entry {
    const char *name;
    nde_optim_spec spec;
} optim_entry;

enum { OPTIM_N_ENTRIES = 11 };

/* e (OPTIM_N_ENTRIES): the nine optimizers, then 8-bit AdamW and 8-bit Lion. */
void optim_entries_make(optim_entry *e);

/* The --only option of both benches (an NDE_ARG_CUSTOM parser of tools/args): stores value
 * in *(const char **)dest when it names an entry, else returns why not. */
const char *optim_parse_only(const char *value, void *dest);

/* Median of x (n > 0); sorts x in place. */
double optim_median(double *x, size_t n);

/* <out>/<name>.csv with columns step, seconds, loss, loss_ema (EMA 0.95 of loss);
 * loss, secs (n). Returns 1 on success, 0 if the file cannot be written. */
int optim_write_curve(const char *out, const char *name, const double *loss, const double *secs,
                      size_t n);

/* <out>/<png>: two panels, loss EMA against step and against wall time (log y, clipped at
 * y_max when y_max > 0, so a diverged run leaves the top of the plot instead of
 * flattening the others), one curve per entry i with ran[i] set, read from the CSVs of
 * optim_write_curve. Reports gnuplot failures on stderr. */
void optim_plot(const char *out, const char *png, const char *title, const char *ylabel,
                double y_max, const optim_entry *e, const int *ran);

#endif
