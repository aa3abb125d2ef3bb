/* The evidence behind nde_method_choose: end-point error and function evaluations of
 * every adaptive explicit pair over tolerances 1e-3 … 1e-13 on two problems —
 *   arenstorf  the Arenstorf orbit over one period (Hairer, Nørsett & Wanner I, §II.0),
 *              error = distance of the position from its start after the period;
 *   tanh       a neural-ODE-like field u' = tanh(W u + b + t c) (dim 8, batch 4, fixed
 *              random weights, seed 5) on [0, 5], error against Vern9 at rtol 1e-14.
 * One JSON object per line:
 *   {"bench": "method_choice", "problem": "arenstorf", "method": "vern7", "rtol": 1e-08,
 *    "error": 4.4e-08, "nfe": 2349}
 * Counts are deterministic (no timing): run it anywhere. */
#include <math.h>
#include <stdio.h>

#include "nde/nde.h"

static nde_status arenstorf(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t, (void)batch;
    const double mu = 0.012277471, mp = 1.0 - mu;
    double y1 = u[0], y2 = u[1];
    double d1 = pow((y1 + mu) * (y1 + mu) + y2 * y2, 1.5);
    double d2 = pow((y1 - mp) * (y1 - mp) + y2 * y2, 1.5);
    du[0] = u[2];
    du[1] = u[3];
    du[2] = y1 + 2.0 * u[3] - mp * (y1 + mu) / d1 - mu * (y1 - mp) / d2;
    du[3] = y2 - 2.0 * u[2] - mp * y2 / d1 - mu * y2 / d2;
    return NDE_OK;
}

enum { D = 8, B = 4, NP = D * D + 2 * D };

static nde_status tanh_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    const double *W = ctx, *b = W + D * D, *c = b + D;
    for (size_t s = 0; s < batch; s++)
        for (int i = 0; i < D; i++) {
            double acc = b[i] + t * c[i];
            for (int j = 0; j < D; j++) acc += W[i * D + j] * u[s * D + j];
            du[s * D + i] = tanh(acc);
        }
    return NDE_OK;
}

static const nde_method methods[] = {NDE_BS3,   NDE_DOPRI5, NDE_TSIT5, NDE_DOP853,
                                     NDE_VERN6, NDE_VERN7,  NDE_VERN9};

static int solve(const nde_field *f, nde_method m, double rtol, size_t batch, const double *u0,
                 double t1, double *u1, size_t *nfe)
{
    nde_solver_opts o = nde_solver_defaults(m);
    o.rtol = rtol;
    o.atol = rtol;
    o.max_steps = 10000000;
    nde_solver *s;
    if (nde_solver_create(NULL, f, &o, &s) != NDE_OK) return -1;
    double ts[2] = {0.0, t1}, traj[2 * B * D];
    nde_status st = nde_solve(s, batch, f->dim, u0, 2, ts, traj);
    for (size_t i = 0; i < batch * f->dim; i++) u1[i] = traj[batch * f->dim + i];
    *nfe = nde_solver_get_stats(s)->nfe;
    nde_solver_destroy(&s);
    return st == NDE_OK ? 0 : -1;
}

static void row(const char *problem, nde_method m, double rtol, double err, size_t nfe)
{
    printf("{\"bench\": \"method_choice\", \"problem\": \"%s\", \"method\": \"%s\", "
           "\"rtol\": %.0e, \"error\": %.3e, \"nfe\": %zu}\n",
           problem, nde_method_name(m), rtol, err, nfe);
}

int main(void)
{
    nde_field fa = {.dim = 4, .f = arenstorf};
    const double ua[4] = {0.994, 0.0, 0.0, -2.00158510637908252240537862224};
    const double Ta = 17.0652165601579625588917206249;
    double theta[NP], ut[B * D], ref[B * D], u1[B * D];
    nde_rng r;
    nde_rng_seed(&r, 5);
    for (int i = 0; i < NP; i++) theta[i] = nde_rng_normal(&r);
    for (int i = 0; i < B * D; i++) ut[i] = nde_rng_normal(&r);
    nde_field ft = {.dim = D, .ctx = theta, .f = tanh_f};
    size_t nfe;
    if (solve(&ft, NDE_VERN9, 1e-14, B, ut, 5.0, ref, &nfe) != 0) {
        fprintf(stderr, "reference solve failed: %s\n", nde_last_error());
        return 1;
    }
    for (int e = 3; e <= 13; e++) {
        double rtol = pow(10.0, -e);
        for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
            double err = NAN;
            if (solve(&fa, methods[k], rtol, 1, ua, Ta, u1, &nfe) == 0)
                err = hypot(u1[0] - ua[0], u1[1] - ua[1]);
            row("arenstorf", methods[k], rtol, err, nfe);
            if (e > 12) continue; /* the reference is good to ~1e-14 */
            err = NAN;
            if (solve(&ft, methods[k], rtol, B, ut, 5.0, u1, &nfe) == 0) {
                err = 0.0;
                for (int i = 0; i < B * D; i++) err = fmax(err, fabs(u1[i] - ref[i]));
            }
            row("tanh", methods[k], rtol, err, nfe);
        }
    }
    return 0;
}
