/* PNG plots of `nde train` and `nde eval` (tools/plot runs gnuplot). The numbers go to
 * data files in the output folder; the folder reaches gnuplot only as ARG1 (never as
 * script text), so no quote, semicolon, newline or `system` call in a path can run. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nde_plot.h"

int cli_plots_possible(const char *prog)
{
    if (nde_plot_available()) return 1;
    fprintf(stderr, "%s: warning: no plots: gnuplot is not installed (apt-get install "
                    "gnuplot-nox; or [output] plots = false)\n", prog);
    return 0;
}

static FILE *open_data(const char *dir, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static nde_status close_data(FILE *f, const char *path)
{
    if (ferror(f) | (fclose(f) != 0))
        return NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return NDE_OK;
}

/* The number after "key": on a JSON line; NaN when absent or null. */
static double json_field(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    if (!p) return NAN;
    char *end;
    double v = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? NAN : v;
}

nde_status cli_plot_loss(const char *dir, const char *metrics, const char *loss_name,
                         const char *metric_name, int has_test)
{
    FILE *in = fopen(metrics, "r");
    if (!in) return NDE_FAIL(NDE_ERR_IO, "cannot open %s: %s", metrics, strerror(errno));
    char path[4200];
    FILE *out = open_data(dir, "loss.dat", path, sizeof path);
    if (!out) {
        fclose(in);
        return NDE_ERR_IO;
    }
    fprintf(out, "# epoch train_loss test_metric (from metrics.jsonl)\n");
    char line[4096];
    size_t rows = 0;
    while (fgets(line, sizeof line, in)) {
        const double e = json_field(line, "epoch"), tr = json_field(line, "train_loss"),
                     te = json_field(line, "test_metric");
        if (!isfinite(e)) continue;
        fprintf(out, "%.0f %.9g %.9g\n", e, tr, te);
        rows++;
    }
    fclose(in);
    NDE_TRY(close_data(out, path));
    if (!rows) return NDE_FAIL(NDE_ERR_IO, "%s holds no epoch", metrics);
    const char *script =
        "set terminal pngcairo size 900,600 noenhanced\n"
        "set output ARG1.'/loss.png'\n"
        "set title 'nde train: loss per epoch'\n"
        "set xlabel 'epoch'\nset ylabel 'loss'\nset logscale y\nset grid\n"
        "set key top right\n"
        "if (ARG4 eq '1') {\n"
        "  plot ARG1.'/loss.dat' using 1:2 with linespoints lw 2 title 'train '.ARG2, \\\n"
        "       '' using 1:3 with linespoints lw 2 title 'test '.ARG3\n"
        "} else {\n"
        "  plot ARG1.'/loss.dat' using 1:2 with linespoints lw 2 title 'train '.ARG2\n"
        "}\n";
    return nde_plot_run_args(script, 4,
                             (const char *const[]){dir, loss_name, metric_name, has_test ? "1" : "0"});
}

nde_status cli_plot_nfe(const char *dir, size_t first_epoch, size_t n, const double *nfe)
{
    char path[4200];
    FILE *out = open_data(dir, "nfe.dat", path, sizeof path);
    if (!out) return NDE_ERR_IO;
    fprintf(out, "# epoch mean_forward_nfe_per_training_step\n");
    for (size_t i = 0; i < n; i++) fprintf(out, "%zu %.9g\n", first_epoch + i, nfe[i]);
    NDE_TRY(close_data(out, path));
    const char *script =
        "set terminal pngcairo size 900,600 noenhanced\n"
        "set output ARG1.'/nfe.png'\n"
        "set title 'nde train: function evaluations of the forward solve'\n"
        "set xlabel 'epoch'\nset ylabel 'NFE per training step (mean)'\nset grid\n"
        "plot ARG1.'/nfe.dat' using 1:2 with linespoints lw 2 notitle\n";
    return nde_plot_run_args(script, 1, (const char *const[]){dir});
}

nde_status cli_plot_pred(const char *dir, cli_plot_layout layout, size_t count, size_t n0,
                         size_t n1, const double *t, const double *y, const double *pred)
{
    char path[4200];
    FILE *out = open_data(dir, "pred.dat", path, sizeof path);
    if (!out) return NDE_ERR_IO;
    const size_t k = count < 4 ? count : 4; /* samples shown */
    const char *script = NULL;
    char buf[2048];
    switch (layout) {
    case CLI_PLOT_1D: /* x, then true and predicted u of each sample */
        fprintf(out, "# x true_0 pred_0 ...\n");
        for (size_t j = 0; j < n0; j++) {
            fprintf(out, "%.9g", (double)j / (double)n0);
            for (size_t s = 0; s < k; s++)
                fprintf(out, " %.9g %.9g", y[s * n0 + j], pred[s * n0 + j]);
            fprintf(out, "\n");
        }
        snprintf(buf, sizeof buf,
                 "set terminal pngcairo size 1200,800 noenhanced\n"
                 "set output ARG1.'/pred.png'\n"
                 "set multiplot layout 2,2 title 'predicted vs true: first test samples'\n"
                 "do for [s=0:%zu] {\n"
                 "  set title sprintf('sample %%d', s)\n  set xlabel 'x'\n"
                 "  plot ARG1.'/pred.dat' using 1:(column(2+2*s)) with lines lw 2 title 'true', \\\n"
                 "       '' using 1:(column(3+2*s)) with lines dt 2 lw 2 title 'predicted'\n"
                 "}\nunset multiplot\n", k - 1);
        script = buf;
        break;
    case CLI_PLOT_2D: /* three matrix blocks of the first sample: true, predicted, error */
        for (int b = 0; b < 3; b++) {
            for (size_t i = 0; i < n0; i++) {
                for (size_t j = 0; j < n1; j++) {
                    const double u = y[i * n1 + j], p = pred[i * n1 + j];
                    fprintf(out, j ? " %.9g" : "%.9g", b == 0 ? u : b == 1 ? p : p - u);
                }
                fprintf(out, "\n");
            }
            fprintf(out, "\n\n");
        }
        script = "set terminal pngcairo size 1500,480 noenhanced\n"
                 "set output ARG1.'/pred.png'\n"
                 "set multiplot layout 1,3 title 'first test sample'\n"
                 "set size ratio -1\nunset key\nset palette rgb 33,13,10\nset autoscale xfix\nset autoscale yfix\n"
                 "titles = 'true predicted error'\n"
                 "do for [k=0:2] {\n"
                 "  set title word(titles, k+1)\n"
                 "  plot ARG1.'/pred.dat' index k matrix with image\n"
                 "}\nunset multiplot\n";
        break;
    case CLI_PLOT_TRAJECTORY: /* t, true and predicted components of the first sample */
        fprintf(out, "# t true_0 pred_0 true_1 pred_1 ...\n");
        for (size_t i = 0; i < n0; i++) {
            fprintf(out, "%.9g", t ? t[i] : (double)i);
            for (size_t d = 0; d < n1; d++)
                fprintf(out, " %.9g %.9g", y[i * n1 + d], pred[i * n1 + d]);
            fprintf(out, "\n");
        }
        snprintf(buf, sizeof buf,
                 "set terminal pngcairo size 900,600 noenhanced\n"
                 "set output ARG1.'/pred.png'\n"
                 "set title 'first test sample: state components, predicted vs true'\n"
                 "set xlabel 't'\nset grid\n"
                 "plot for [d=0:%zu] ARG1.'/pred.dat' using 1:(column(2+2*d)) with linespoints "
                 "lw 2 title sprintf('true u_%%d', d), \\\n"
                 "     for [d=0:%zu] '' using 1:(column(3+2*d)) with lines dt 2 lw 2 "
                 "title sprintf('predicted u_%%d', d)\n", n1 - 1, n1 - 1);
        script = buf;
        break;
    case CLI_PLOT_SCATTER: /* every value of every sample: true, predicted */
        fprintf(out, "# true predicted\n");
        for (size_t i = 0; i < count * n0; i++) fprintf(out, "%.9g %.9g\n", y[i], pred[i]);
        script = "set terminal pngcairo size 700,700 noenhanced\n"
                 "set output ARG1.'/pred.png'\n"
                 "set title 'predicted vs true (test samples)'\n"
                 "set xlabel 'true'\nset ylabel 'predicted'\nset grid\nset size ratio -1\n"
                 "plot ARG1.'/pred.dat' using 1:2 with points pt 7 ps 0.6 notitle, "
                 "x with lines dt 2 notitle\n";
        break;
    }
    NDE_TRY(close_data(out, path));
    return nde_plot_run_args(script, 1, (const char *const[]){dir});
}
