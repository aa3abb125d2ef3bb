/* Stage evaluation and linear combinations of one explicit RK step. */
#include "ode/rk_step.h"

#include "ode/solver_internal.h"

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

nde_status nde_rk_extra_stages(const nde_tableau *tab, const nde_field *f, size_t batch,
                               double t, double h, const double *u, const double *k, double *kx,
                               double *yx, double *recx, size_t *nfe)
{
    size_t n = batch * f->dim, rs = batch * f->rec_size;
    int ns = tab->stages, nx = nde_tableau_dense_stages(tab);
    for (int i = ns; i < nx; i++) {
        double *yi = yx + (size_t)(i - ns) * n;
        double ha[NDE_RK_MAX_STAGES];
        for (int j = 0; j < i; j++) ha[j] = h * tab->a[i][j];
        for (size_t e = 0; e < n; e++) {
            double acc = u[e];
            for (int j = 0; j < ns; j++) acc += ha[j] * k[(size_t)j * n + e];
            for (int j = ns; j < i; j++) acc += ha[j] * kx[(size_t)(j - ns) * n + e];
            yi[e] = acc;
        }
        NDE_TRY(eval(f, t + tab->c[i] * h, yi, kx + (size_t)(i - ns) * n,
                     recx ? recx + (size_t)(i - ns) * rs : NULL, batch));
        (*nfe)++;
    }
    return NDE_OK;
}

static void combine(int stages, const double *w, double h, const double *u, const double *k,
                    size_t n, double *out)
{
    double hw[NDE_RK_MAX_STAGES];
    int used[NDE_RK_MAX_STAGES], m = 0;
    for (int i = 0; i < stages; i++)
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

void nde_rk_combine(const nde_tableau *tab, const double *w, double h, const double *u,
                    const double *k, size_t n, double *out)
{
    combine(tab->stages, w, h, u, k, n, out);
}

void nde_rk_combine_dense(const nde_tableau *tab, const double *w, double h, const double *u,
                          const double *k, size_t n, double *out)
{
    combine(nde_tableau_dense_stages(tab), w, h, u, k, n, out);
}

static double sgn(double x) { return (x > 0.0) - (x < 0.0); }

/* Route w·∂E/∂sc (sc = atol + rtol·max(|u|, |u_new|)) to u or u_new (half each on a tie). */
static void push_scale(double d_sc, double u, double un, double *ub, double *unb)
{
    double au = fabs(u), an = fabs(un);
    if (au > an) {
        *ub += d_sc * sgn(u);
    } else if (an > au) {
        *unb += d_sc * sgn(un);
    } else {
        *ub += 0.5 * d_sc * sgn(u);
        *unb += 0.5 * d_sc * sgn(un);
    }
}

/* Hairer's DOP853 estimate (dop853.f, "ERROR ESTIMATION"): with r5, r3 the weighted
 * components of h Σ btilde_i k_i and h Σ btilde3_i k_i, S5 = mean r5², S3 = mean r3²,
 * E = S5 / sqrt(S5 + 0.01·S3) (0 when the denominator vanishes). */
static double err_dop853(const nde_tableau *tab, double h, const double *u, const double *u_new,
                         const double *k, size_t n, double atol, double rtol, double w,
                         double *kbar, double *ubar, double *ubar_new)
{
    int ns = tab->stages;
    double s5 = 0.0, s3 = 0.0;
    for (size_t e = 0; e < n; e++) {
        double e5 = 0.0, e3 = 0.0;
        for (int j = 0; j < ns; j++) {
            double kj = k[(size_t)j * n + e];
            e5 += tab->btilde[j] * kj;
            e3 += tab->btilde3[j] * kj;
        }
        double sc = atol + rtol * fmax(fabs(u[e]), fabs(u_new[e]));
        double r5 = h * e5 / sc, r3 = h * e3 / sc;
        s5 += r5 * r5;
        s3 += r3 * r3;
    }
    s5 /= (double)n;
    s3 /= (double)n;
    double den = s5 + 0.01 * s3;
    if (!(den > 0.0)) return isfinite(den) ? 0.0 : den;
    double E = s5 / sqrt(den);
    if (w == 0.0 || !kbar || !isfinite(E)) return E;
    /* ∂E/∂S5 = (den − S5/2)/den^{3/2}, ∂E/∂S3 = −0.005·S5/den^{3/2}; ∂S/∂r = 2r/n */
    double d32 = den * sqrt(den);
    double g5 = w * (den - 0.5 * s5) / d32 * 2.0 / (double)n;
    double g3 = w * (-0.005 * s5) / d32 * 2.0 / (double)n;
    for (size_t e = 0; e < n; e++) {
        double e5 = 0.0, e3 = 0.0;
        for (int j = 0; j < ns; j++) {
            double kj = k[(size_t)j * n + e];
            e5 += tab->btilde[j] * kj;
            e3 += tab->btilde3[j] * kj;
        }
        double sc = atol + rtol * fmax(fabs(u[e]), fabs(u_new[e]));
        double r5 = h * e5 / sc, r3 = h * e3 / sc;
        double d5 = g5 * r5 / sc, d3 = g3 * r3 / sc; /* ∂/∂e5·h⁻¹, ∂/∂e3·h⁻¹ */
        for (int j = 0; j < ns; j++) {
            double c = h * (tab->btilde[j] * d5 + tab->btilde3[j] * d3);
            if (c != 0.0) kbar[(size_t)j * n + e] += c;
        }
        double d_sc = -(g5 * r5 * r5 + g3 * r3 * r3) / sc * rtol;
        push_scale(d_sc, u[e], u_new[e], &ubar[e], &ubar_new[e]);
    }
    return E;
}

double nde_rk_error(const nde_tableau *tab, double h, const double *u, const double *u_new,
                    const double *k, size_t n, double atol, double rtol, double *scratch,
                    double w, double *kbar, double *ubar, double *ubar_new)
{
    if (tab->err_kind == NDE_RK_ERR_DOP853)
        return err_dop853(tab, h, u, u_new, k, n, atol, rtol, w, kbar, ubar, ubar_new);
    size_t ns = (size_t)tab->stages;
    nde_rk_combine(tab, tab->btilde, h, NULL, k, n, scratch);
    double E = nde_err_norm(scratch, u, u_new, n, atol, rtol);
    if (w == 0.0 || !kbar || !(E > 0.0) || !isfinite(E)) return E;
    /* E = sqrt(Σ r²/n), r = ẽ/sc: ∂E/∂ẽ = r/(n E sc), ∂E/∂sc = −r²/(n E sc) */
    double c = w / ((double)n * E);
    for (size_t e = 0; e < n; e++) {
        double sc = atol + rtol * fmax(fabs(u[e]), fabs(u_new[e]));
        double r = scratch[e] / sc;
        double d_err = c * r / sc;
        for (size_t j = 0; j < ns; j++)
            if (tab->btilde[j] != 0.0) kbar[j * n + e] += h * tab->btilde[j] * d_err;
        push_scale(-c * r * r / sc * rtol, u[e], u_new[e], &ubar[e], &ubar_new[e]);
    }
    return E;
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
