/* Stage evaluation and linear combinations of one explicit RK step. */
#include "ode/rk_step.h"

#include <math.h>
#include <string.h>

/* One stage evaluation, recorded when rec is given. */
static nde_status eval(const nde_field *f, double t, const double *u, double *k, double *rec,
                       size_t batch)
{
    return rec ? f->f_rec(f->ctx, t, u, k, rec, batch) : f->f(f->ctx, t, u, k, batch);
}

nde_status nde_rk_stages(const nde_tableau *tab, const nde_field *f, size_t batch, double t,
                         double h, const double *u, double *k, double *y, int k1_ready,
                         size_t *nfe)
{
    return nde_rk_stages_rec(tab, f, batch, t, h, u, k, y, NULL, k1_ready, nfe);
}

nde_status nde_rk_stages_rec(const nde_tableau *tab, const nde_field *f, size_t batch,
                             double t, double h, const double *u, double *k, double *y,
                             double *rec, int k1_ready, size_t *nfe)
{
    size_t n = batch * f->dim, rs = batch * f->rec_size;
    memcpy(y, u, n * sizeof *y);
    if (!k1_ready) {
        NDE_TRY(eval(f, t, u, k, rec, batch));
        (*nfe)++;
    }
    for (int i = 1; i < tab->stages; i++) {
        double *yi = y + (size_t)i * n;
        double ha[NDE_RK_MAX_STAGES];
        for (int j = 0; j < i; j++) ha[j] = h * tab->a[i][j];
        for (size_t e = 0; e < n; e++) {
            double acc = u[e];
            for (int j = 0; j < i; j++) acc += ha[j] * k[(size_t)j * n + e];
            yi[e] = acc;
        }
        NDE_TRY(eval(f, t + tab->c[i] * h, yi, k + (size_t)i * n, rec ? rec + (size_t)i * rs : NULL,
                     batch));
        (*nfe)++;
    }
    return NDE_OK;
}

void nde_rk_combine(const nde_tableau *tab, const double *w, double h, const double *u,
                    const double *k, size_t n, double *out)
{
    double hw[NDE_RK_MAX_STAGES];
    int used[NDE_RK_MAX_STAGES], m = 0;
    for (int i = 0; i < tab->stages; i++)
        if (w[i] != 0.0) {
            used[m] = i;
            hw[m++] = h * w[i];
        }
    for (size_t e = 0; e < n; e++) {
        double acc = u ? u[e] : 0.0;
        for (int j = 0; j < m; j++) acc += hw[j] * k[(size_t)used[j] * n + e];
        out[e] = acc;
    }
}

void nde_rk_stiffness_sums(const nde_tableau *tab, const double *k, const double *y, size_t n,
                           double *num, double *den)
{
    const double *ki = k + (size_t)tab->stiff_i * n, *kj = k + (size_t)tab->stiff_j * n;
    const double *yi = y + (size_t)tab->stiff_i * n, *yj = y + (size_t)tab->stiff_j * n;
    double sk = 0.0, sy = 0.0;
    for (size_t e = 0; e < n; e++) {
        double dk = ki[e] - kj[e], dy = yi[e] - yj[e];
        sk += dk * dk;
        sy += dy * dy;
    }
    *num = sk;
    *den = sy;
}

double nde_rk_stiffness(const nde_tableau *tab, const double *k, const double *y, size_t n)
{
    if (tab->stiff_i < 0) return 0.0;
    double num, den;
    nde_rk_stiffness_sums(tab, k, y, n, &num, &den);
    if (!(den > 0.0)) return 0.0;
    return sqrt(num / den);
}
