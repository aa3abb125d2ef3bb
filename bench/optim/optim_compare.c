/* Optimizer comparison helpers shared by bench/optim and bench/optim_operator.
 *
 * Settings, from each method's reference (docs/optimizers.md): SGD with momentum 0.9;
 * RMSprop lr 1e-3 (torchdiffeq's ode_demo); Adam, AdamW, NAdamW, AdaBelief lr 1e-3
 * with their default decay; Adamax its 2e-3; Lion lr 1e-4 and 10× AdamW's decay (Lion
 * README: 3–10× smaller lr, larger λ); Adan its defaults with the README's wd 0.02;
 * the 8-bit variants use blocks of 64 and quantize every tensor of at least 64 entries
 * (the spiral MLP has only 302 parameters, below bitsandbytes' 4096 threshold). */
#include "optim_compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/core.h"
#include "nde_plot.h"

void optim_entries_make(optim_entry *e)
{
    const nde_optim_kind kinds[9] = {NDE_OPT_SGD, NDE_OPT_RMSPROP, NDE_OPT_ADAM,
                                     NDE_OPT_ADAMW, NDE_OPT_ADAMAX, NDE_OPT_NADAMW,
                                     NDE_OPT_LION, NDE_OPT_ADAN, NDE_OPT_ADABELIEF};
    for (int k = 0; k < 9; k++) {
        e[k].name = nde_optim_kind_name(kinds[k]);
        e[k].spec = nde_optim_defaults(kinds[k]);
    }
    e[0].spec.momentum = 0.9;
    e[1].spec.lr = 1e-3;
    e[6].spec.weight_decay = 0.1;
    e[7].spec.weight_decay = 0.02;
    e[9] = (optim_entry){"adamw-8bit", e[3].spec};
    e[10] = (optim_entry){"lion-8bit", e[6].spec};
    for (int k = 9; k < OPTIM_N_ENTRIES; k++) {
        e[k].spec.state_bits = 8;
        e[k].spec.block_size = 64;
        e[k].spec.min_8bit_numel = 64;
    }
}

const char *optim_parse_only(const char *value, void *dest)
{
    optim_entry e[OPTIM_N_ENTRIES];
    optim_entries_make(e);
    static char why[256];
    size_t len = (size_t)snprintf(why, sizeof why, "expected one of");
    for (int i = 0; i < OPTIM_N_ENTRIES; i++) {
        if (!strcmp(value, e[i].name)) {
            *(const char **)dest = e[i].name;
            return NULL;
        }
        if (len < sizeof why)
            len += (size_t)snprintf(why + len, sizeof why - len, "%s %s", i ? "," : "", e[i].name);
    }
    return why;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double optim_median(double *x, size_t n)
{
    qsort(x, n, sizeof *x, cmp_double);
    return x[n / 2];
}

int optim_write_curve(const char *out, const char *name, const double *loss, const double *secs,
                      size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.csv", out, name);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f, "step,seconds,loss,loss_ema\n");
    double ema = loss[0];
    for (size_t i = 0; i < n; i++) {
        ema = 0.95 * ema + 0.05 * loss[i];
        fprintf(f, "%zu,%.6f,%.8g,%.8g\n", i + 1, secs[i], loss[i], ema);
    }
    return fclose(f) == 0;
}

void optim_plot(const char *out, const char *png, const char *title, const char *ylabel,
                double y_max, const optim_entry *e, const int *ran)
{
    /* One colour per optimizer; the 8-bit variants are dashed in their base colour. */
    static const char *const colors[OPTIM_N_ENTRIES] = {
        "#7f7f7f", "#2ca02c", "#1f77b4", "#ff7f0e", "#bcbd22", "#17becf",
        "#d62728", "#000000", "#9467bd", "#ff7f0e", "#d62728"};
    char script[8192];
    size_t k = (size_t)snprintf(script, sizeof script,
                                "set terminal pngcairo size 1400,560 font ',10'\n"
                                "set output ARG1.'/'.ARG2\n"
                                "set datafile separator ','\nset key autotitle columnhead\n"
                                "set logscale y\nset grid\nset multiplot layout 1,2 title "
                                "'%s'\n",
                                title);
    if (y_max > 0.0)
        k += (size_t)snprintf(script + k, sizeof script - k, "set yrange [*:%g]\n", y_max);
    for (int panel = 0; panel < 2; panel++) {
        k += (size_t)snprintf(script + k, sizeof script - k,
                              "set xlabel '%s'\nset ylabel '%s'\nplot ",
                              panel ? "wall time of training steps (s)" : "step", ylabel);
        int first = 1;
        for (int i = 0; i < OPTIM_N_ENTRIES; i++) {
            if (!ran[i]) continue;
            k += (size_t)snprintf(script + k, sizeof script - k,
                                  "%sARG1.'/%s.csv' using %d:4 with lines lw 1.5 lc rgb '%s' dt %d "
                                  "title '%s'",
                                  first ? "" : ", ", e[i].name, panel ? 2 : 1, colors[i],
                                  e[i].spec.state_bits == 8 ? 2 : 1, e[i].name);
            first = 0;
        }
        k += (size_t)snprintf(script + k, sizeof script - k, "\n");
    }
    snprintf(script + k, sizeof script - k, "unset multiplot\n");
    if (nde_plot_run_args(script, 2, (const char *const[]){out, png}) != NDE_OK) fprintf(stderr, "%s: %s\n", png, nde_last_error());
}
