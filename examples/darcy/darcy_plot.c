/* One test sample as four gnuplot heat maps. */
#include "darcy_plot.h"

#include <math.h>
#include <stdio.h>

#include "nde_plot.h"

/* One field as a gnuplot "matrix" block: s lines of s values, then two blank lines. */
static void write_block(FILE *f, size_t s, const double *a, const double *b)
{
    for (size_t i = 0; i < s; i++) {
        for (size_t j = 0; j < s; j++)
            fprintf(f, "%s%.9g", j ? " " : "", b ? a[i * s + j] - b[i * s + j] : a[i * s + j]);
        fputc('\n', f);
    }
    fputs("\n\n", f);
}

nde_status darcy_plot_sample(const char *out, const char *model, size_t s, const double *a,
                             const double *u, const double *pred)
{
    char dat[700], png[700], script[4096];
    snprintf(dat, sizeof dat, "%s/%s_sample.dat", out, model);
    snprintf(png, sizeof png, "%s/%s_sample.png", out, model);
    FILE *f = fopen(dat, "w");
    if (!f) return NDE_FAIL(NDE_ERR_IO, "cannot write %s", dat);
    write_block(f, s, a, NULL);
    write_block(f, s, u, NULL);
    write_block(f, s, pred, NULL);
    write_block(f, s, pred, u);
    if (fclose(f) != 0) return NDE_FAIL(NDE_ERR_IO, "cannot write %s", dat);
    /* truth and prediction share one colour scale, so they can be compared by eye */
    double lo = u[0], hi = u[0];
    for (size_t i = 0; i < s * s; i++) {
        lo = fmin(lo, fmin(u[i], pred[i]));
        hi = fmax(hi, fmax(u[i], pred[i]));
    }
    /* index k picks block k; "matrix" reads it as z(column, row) */
    snprintf(script, sizeof script,
             "set terminal pngcairo size 1500,380 noenhanced\n"
             "set output ARG1\n"
             "set multiplot layout 1,4 title '%s on Darcy: first test sample (%zux%zu)'\n"
             "set size ratio -1\n"
             "unset key\n"
             "set xrange [-0.5:%zu.5]\n"
             "set yrange [-0.5:%zu.5]\n"
             "set palette rgb 33,13,10\n"
             "titles = 'coefficient_a true_u prediction prediction-true'\n"
             "do for [k=0:3] {\n"
             "  set title word(titles, k + 1)\n"
             "  if (k == 1 || k == 2) { set cbrange [%.9g:%.9g] } else { set autoscale cb }\n"
             "  plot ARG2 index k matrix with image\n"
             "}\n"
             "unset multiplot\n",
             model, s, s, s - 1, s - 1, lo, hi);
    return nde_plot_run_args(script, 2, (const char *const[]){png, dat});
}
