/* A one-line progress display on stderr, redrawn in place with \r (terminals only, so
 * logs and pipes stay clean). */
#include "train/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "nde/core.h"

void nde_progress_begin(nde_progress *p, int mode, const char *name, size_t step0)
{
    p->on = mode < 0 ? isatty(fileno(stderr)) : mode != 0;
    p->t_start = p->t_last = nde_wall_seconds();
    p->step0 = step0;
    p->name = name ? name : "train";
    p->drawn = 0;
}

static void fmt_time(char *buf, size_t n, double s)
{
    if (!(s >= 0.0) || s > 359999.0) {
        snprintf(buf, n, "--:--");
        return;
    }
    unsigned long t = (unsigned long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%02lu:%02lu", t / 60, t % 60);
}

void nde_progress_update(nde_progress *p, size_t epoch, size_t epochs, size_t step,
                         size_t total_steps, double loss)
{
    if (!p->on) return;
    const double now = nde_wall_seconds();
    if (now - p->t_last < 0.1 && step < total_steps) return;
    p->t_last = now;
    const double done = (double)(step - p->step0), rate = done / (now - p->t_start + 1e-12);
    char eta[32];
    fmt_time(eta, sizeof eta, total_steps > step && rate > 0 ? (double)(total_steps - step) / rate : 0.0);
    const int n = fprintf(stderr, "\r%s: epoch %zu/%zu  step %zu/%zu  loss %.4e  %.1f steps/s  ETA %s",
                          p->name, epoch, epochs, step, total_steps, loss, rate, eta);
    if (n - 1 < p->drawn) fprintf(stderr, "%*s", p->drawn - (n - 1), ""); /* longer last time */
    p->drawn = n - 1 > p->drawn ? n - 1 : p->drawn;
    fflush(stderr);
}

void nde_progress_clear(nde_progress *p)
{
    if (!p->on || !p->drawn) return;
    fprintf(stderr, "\r%*s\r", p->drawn, "");
    fflush(stderr);
    p->drawn = 0;
}

void nde_progress_end(nde_progress *p) { nde_progress_clear(p); }
