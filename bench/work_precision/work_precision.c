/* bench/work_precision — work-precision of nde's adaptive explicit Runge–Kutta pairs.
 *
 *   work_precision [--out DIR] [--problems LIST] [--tol-max-exp 3] [--tol-min-exp 13]
 *                  [--tol-step 1] [--min-seconds 0.02]
 *   work_precision --plot DAT --png PNG --title NAME
 *
 * Problems (Hairer, Nørsett & Wanner, Solving ODEs I, sections II.0 and II.10):
 *   arenstorf       the restricted three-body orbit, μ = 0.012277471, one period
 *                   t1 = 17.0652165601579625588917206249 (4 unknowns)
 *   pleiades        seven bodies of masses 1..7 in the plane, t in [0, 3] (28 unknowns)
 *   lotka_volterra  u' = 1.5u − uv, v' = −3v + uv, u0 = (1, 1), t in [0, 10]
 *   neural          du/dt = MLP(u), 4→32 tanh→32 tanh→4, PyTorch's default init drawn
 *                   with nde_rng seed 1, u0 = (1, −0.5, 0.25, 2), t in [0, 10]
 *
 * Every method that nde_method_is_explicit_adaptive lists is run at rtol = atol = 10^-k
 * for k = tol-max-exp … tol-min-exp (step tol-step), one JSON line per problem × method ×
 * tolerance on stdout:
 *   {"bench": "work_precision", "problem": ..., "impl": "nde", "method": ..., "tol": ...,
 *    "nfe": ..., "steps": ..., "rejected": ..., "error": ..., "seconds": ...}
 * error: max-norm of the end point's difference from the reference (absolute);
 * seconds: the fastest of repeated solves (repeated until min-seconds have passed).
 *
 * References: each problem is solved in IEEE binary128 (libquadmath) by Gragg–Bulirsch–
 * Stoer extrapolation (modified midpoint rule, step numbers 2, 4, …, 24, step size
 * control on the last two diagonal entries) at tolerance --ref-tol (1e-24) and, as a
 * check, at 100 times it; the difference between the two is printed ("metric":
 * "reference_self_check"), and for Arenstorf |y(T) − y0| over one exact period. This code
 * shares nothing with nde's solvers. DIR/problems.jsonl holds each problem (initial value,
 * span, reference end point, the network's weights, the tolerances) for the scipy side
 * (scipy_wp.py), which checks the references once more against scipy's DOP853.
 *
 * --plot draws DAT (blocks separated by two blank lines, each headed by its label; written
 * by report.py) as a log-log work-precision plot, error against NFE, into PNG. */
#include <errno.h>
#include <math.h>
#include <quadmath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"
#include "nde_plot.h"
#include "nde_args.h"

#define MAX_DIM 28

/* IEEE binary128 (libquadmath) for the references: 113-bit significands */
__extension__ typedef __float128 quad;

typedef struct problem problem;
struct problem {
    const char *name;
    size_t dim;
    double t0, t1;
    quad y0[MAX_DIM];
    /* long-double field for the reference */
    void (*fl)(const problem *p, quad t, const quad *y, quad *dy);
    nde_field field; /* double field for nde */
    /* neural: the network */
    nde_params *params;
    nde_mlp *net;
};

/* ---- Arenstorf orbit: y = (y1, y2, y1', y2') ---- */

#define ARENSTORF_MU (strtoflt128("0.012277471", NULL))

static void arenstorf_l(const problem *p, quad t, const quad *y, quad *dy)
{
    (void)p, (void)t;
    const quad mu = ARENSTORF_MU, mup = 1.0 - mu;
    quad a = (y[0] + mu) * (y[0] + mu) + y[1] * y[1];
    quad b = (y[0] - mup) * (y[0] - mup) + y[1] * y[1];
    quad d1 = a * sqrtq(a), d2 = b * sqrtq(b);
    dy[0] = y[2];
    dy[1] = y[3];
    dy[2] = y[0] + 2.0 * y[3] - mup * (y[0] + mu) / d1 - mu * (y[0] - mup) / d2;
    dy[3] = y[1] - 2.0 * y[2] - mup * y[1] / d1 - mu * y[1] / d2;
}

static nde_status arenstorf_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    const double mu = (double)ARENSTORF_MU, mup = 1.0 - mu;
    for (size_t k = 0; k < batch; k++) {
        const double *y = u + 4 * k;
        double *dy = du + 4 * k;
        double a = (y[0] + mu) * (y[0] + mu) + y[1] * y[1];
        double b = (y[0] - mup) * (y[0] - mup) + y[1] * y[1];
        double d1 = a * sqrt(a), d2 = b * sqrt(b);
        dy[0] = y[2];
        dy[1] = y[3];
        dy[2] = y[0] + 2.0 * y[3] - mup * (y[0] + mu) / d1 - mu * (y[0] - mup) / d2;
        dy[3] = y[1] - 2.0 * y[2] - mup * y[1] / d1 - mu * y[1] / d2;
    }
    return NDE_OK;
}

/* ---- Pleiades: y = (x1..x7, y1..y7, x1'..x7', y1'..y7'), m_i = i ---- */

static void pleiades_l(const problem *p, quad t, const quad *y, quad *dy)
{
    (void)p, (void)t;
    const quad *x = y, *yy = y + 7;
    for (int i = 0; i < 14; i++) dy[i] = y[14 + i];
    for (int i = 0; i < 7; i++) {
        quad ax = 0.0, ay = 0.0;
        for (int j = 0; j < 7; j++) {
            if (j == i) continue;
            quad dx = x[j] - x[i], dyy = yy[j] - yy[i];
            quad r2 = dx * dx + dyy * dyy, r3 = r2 * sqrtq(r2);
            ax += (quad)(j + 1) * dx / r3;
            ay += (quad)(j + 1) * dyy / r3;
        }
        dy[14 + i] = ax;
        dy[21 + i] = ay;
    }
}

static nde_status pleiades_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t k = 0; k < batch; k++) {
        const double *y = u + 28 * k, *x = y, *yy = y + 7;
        double *dy = du + 28 * k;
        for (int i = 0; i < 14; i++) dy[i] = y[14 + i];
        for (int i = 0; i < 7; i++) {
            double ax = 0.0, ay = 0.0;
            for (int j = 0; j < 7; j++) {
                if (j == i) continue;
                double dx = x[j] - x[i], dyy = yy[j] - yy[i];
                double r2 = dx * dx + dyy * dyy, r3 = r2 * sqrt(r2);
                ax += (double)(j + 1) * dx / r3;
                ay += (double)(j + 1) * dyy / r3;
            }
            dy[14 + i] = ax;
            dy[21 + i] = ay;
        }
    }
    return NDE_OK;
}

/* ---- Lotka–Volterra ---- */

static void lotka_l(const problem *p, quad t, const quad *y, quad *dy)
{
    (void)p, (void)t;
    dy[0] = 1.5 * y[0] - y[0] * y[1];
    dy[1] = -3.0 * y[1] + y[0] * y[1];
}

static nde_status lotka_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)ctx, (void)t;
    for (size_t k = 0; k < batch; k++) {
        const double *y = u + 2 * k;
        du[2 * k] = 1.5 * y[0] - y[0] * y[1];
        du[2 * k + 1] = -3.0 * y[1] + y[0] * y[1];
    }
    return NDE_OK;
}

/* ---- the neural field, in quad from the same weights ---- */

#define NEURAL_WIDTH 32

static void neural_l(const problem *p, quad t, const quad *y, quad *dy)
{
    (void)t;
    const double *th = nde_params_theta_const(p->params);
    quad a[NEURAL_WIDTH], b[NEURAL_WIDTH];
    size_t n_in = p->dim;
    for (size_t i = 0; i < n_in; i++) a[i] = y[i];
    const size_t layers = nde_mlp_n_layers(p->net);
    for (size_t l = 0; l < layers; l++) {
        const nde_dense *d = nde_mlp_layer(p->net, l);
        for (size_t o = 0; o < d->out; o++) {
            quad s = d->has_bias ? (quad)th[d->b_off + o] : 0.0;
            for (size_t i = 0; i < d->in; i++) s += (quad)th[d->w_off + o * d->in_cols + i] * a[i];
            b[o] = l + 1 < layers ? tanhq(s) : s;
        }
        memcpy(a, b, d->out * sizeof *a);
    }
    for (size_t i = 0; i < p->dim; i++) dy[i] = a[i];
}

static nde_status neural_setup(problem *p)
{
    NDE_TRY(nde_params_create(&p->params));
    nde_mlp_spec spec = {.in = 4, .out = 4, .hidden = {NEURAL_WIDTH, NEURAL_WIDTH},
                         .act = NDE_ACT_TANH};
    NDE_TRY(nde_mlp_create(p->params, &spec, "f", &p->net));
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    NDE_TRY(nde_mlp_init(p->net, p->params, NDE_INIT_TORCH, 0.0, &rng));
    return nde_mlp_field(p->net, p->params, &p->field);
}

/* ---- the problem table ---- */

enum { N_PROBLEMS = 4 };
static const char *const problem_names[N_PROBLEMS + 1] = {"arenstorf", "pleiades",
                                                           "lotka_volterra", "neural", NULL};

static nde_status problem_setup(int which, problem *p)
{
    memset(p, 0, sizeof *p);
    p->name = problem_names[which];
    switch (which) {
    case 0:
        p->dim = 4, p->t0 = 0.0, p->t1 = 17.0652165601579625588917206249;
        p->y0[0] = strtoflt128("0.994", NULL);
        p->y0[3] = strtoflt128("-2.00158510637908252240537862224", NULL);
        p->fl = arenstorf_l, p->field = (nde_field){.dim = 4, .f = arenstorf_f};
        break;
    case 1: {
        static const quad x0[7] = {3, 3, -1, -3, 2, -2, 2}, y0[7] = {3, -3, 2, 0, 0, -4, 4};
        static const quad vx[7] = {0, 0, 0, 0, 0, 1.75, -1.5};
        static const quad vy[7] = {0, 0, 0, -1.25, 1, 0, 0};
        p->dim = 28, p->t0 = 0.0, p->t1 = 3.0;
        for (int i = 0; i < 7; i++)
            p->y0[i] = x0[i], p->y0[7 + i] = y0[i], p->y0[14 + i] = vx[i], p->y0[21 + i] = vy[i];
        p->fl = pleiades_l, p->field = (nde_field){.dim = 28, .f = pleiades_f};
        break;
    }
    case 2:
        p->dim = 2, p->t0 = 0.0, p->t1 = 10.0;
        p->y0[0] = 1.0, p->y0[1] = 1.0;
        p->fl = lotka_l, p->field = (nde_field){.dim = 2, .f = lotka_f};
        break;
    default:
        p->dim = 4, p->t0 = 0.0, p->t1 = 10.0;
        p->y0[0] = 1.0, p->y0[1] = -0.5, p->y0[2] = 0.25, p->y0[3] = 2.0;
        p->fl = neural_l;
        return neural_setup(p);
    }
    return NDE_OK;
}

static void problem_free(problem *p)
{
    nde_mlp_destroy(&p->net);
    nde_params_destroy(&p->params);
}

/* ---- the reference: Gragg–Bulirsch–Stoer extrapolation in quad ---- */

enum { GBS_K = 12 }; /* step numbers n_j = 2(j + 1), j < GBS_K */

/* Integrate y (in: y(t0), out: y(t1)) with the tolerance tol (per component, relative to
 * max(1, |y_i|)). Returns the number of accepted steps, 0 if it gave up. */
static size_t gbs_solve(const problem *p, quad t1, quad tol, quad *y)
{
    const size_t n = p->dim;
    quad T[GBS_K][GBS_K][MAX_DIM], f0[MAX_DIM], z0[MAX_DIM], z1[MAX_DIM], fz[MAX_DIM];
    quad t = p->t0, H = (t1 - t) / 100.0;
    size_t steps = 0;
    for (size_t attempts = 0; attempts < 1000000 && t < t1; attempts++) {
        int last = 0;
        if (H < 1e-24 * (t1 - p->t0)) return 0; /* the tolerance is below round-off */
        if (t + H >= t1) H = t1 - t, last = 1;
        p->fl(p, t, y, f0);
        for (int j = 0; j < GBS_K; j++) {
            const int nj = 2 * (j + 1);
            const quad h = H / nj;
            for (size_t i = 0; i < n; i++) z0[i] = y[i], z1[i] = y[i] + h * f0[i];
            for (int m = 1; m < nj; m++) {
                p->fl(p, t + m * h, z1, fz);
                for (size_t i = 0; i < n; i++) {
                    quad z2 = z0[i] + 2.0 * h * fz[i];
                    z0[i] = z1[i], z1[i] = z2;
                }
            }
            for (size_t i = 0; i < n; i++) T[j][0][i] = z1[i];
            for (int k = 1; k <= j; k++) {
                const quad r = (quad)nj / (quad)(2 * (j - k + 1));
                const quad den = r * r - 1.0;
                for (size_t i = 0; i < n; i++)
                    T[j][k][i] = T[j][k - 1][i] + (T[j][k - 1][i] - T[j - 1][k - 1][i]) / den;
            }
        }
        quad err = 0.0;
        for (size_t i = 0; i < n; i++) {
            quad sc = tol * fmaxq(1.0, fabsq(y[i]));
            quad e = fabsq(T[GBS_K - 1][GBS_K - 1][i] - T[GBS_K - 1][GBS_K - 2][i]) / sc;
            if (e > err) err = e;
        }
        quad fac = err > 0.0 ? 0.9 * powq(err, -1.0 / (2 * GBS_K - 1)) : 4.0;
        fac = fminq(4.0, fmaxq(0.1, fac));
        if (err <= 1.0) {
            memcpy(y, T[GBS_K - 1][GBS_K - 1], n * sizeof *y);
            t = last ? t1 : t + H;
            steps++;
        }
        H *= fac;
    }
    return t >= t1 ? steps : 0;
}

/* ---- output helpers ---- */

static void json_q_array(FILE *f, const quad *v, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        char b[64];
        quadmath_snprintf(b, sizeof b, "%.36Qg", v[i]);
        fprintf(f, "%s%s", i ? ", " : "", b);
    }
    fputc(']', f);
}

static void json_d_array(FILE *f, const double *v, size_t n, size_t stride)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%.17g", i ? ", " : "", v[i * stride]);
    fputc(']', f);
}

/* One line of DIR/problems.jsonl. */
static void write_problem(FILE *f, const problem *p, const quad *ref, const double *tols,
                          size_t n_tols)
{
    fprintf(f, "{\"problem\": \"%s\", \"dim\": %zu, \"t0\": %.17g, \"t1\": %.17g, \"y0\": ", p->name,
            p->dim, p->t0, p->t1);
    json_q_array(f, p->y0, p->dim);
    fprintf(f, ", \"reference\": ");
    json_q_array(f, ref, p->dim);
    fprintf(f, ", \"tols\": ");
    json_d_array(f, tols, n_tols, 1);
    if (p->net) {
        /* layers: W (out, in) row-major, b (out); tanh on all but the last */
        const double *th = nde_params_theta_const(p->params);
        fprintf(f, ", \"layers\": [");
        for (size_t l = 0; l < nde_mlp_n_layers(p->net); l++) {
            const nde_dense *d = nde_mlp_layer(p->net, l);
            fprintf(f, "%s{\"in\": %zu, \"out\": %zu, \"tanh\": %d, \"W\": ", l ? ", " : "", d->in,
                    d->out, l + 1 < nde_mlp_n_layers(p->net));
            json_d_array(f, th + d->w_off, d->out * d->in_cols, 1);
            fprintf(f, ", \"b\": ");
            json_d_array(f, th + d->b_off, d->out, 1);
            fputc('}', f);
        }
        fputc(']', f);
    }
    fprintf(f, "}\n");
}

/* ---- one nde run ---- */

typedef struct result {
    size_t nfe, steps, rejected;
    double error, seconds;
} result;

static nde_status run_one(const problem *p, nde_method m, double tol, const double *ref,
                          double min_seconds, result *r)
{
    nde_solver_opts o = nde_solver_defaults(m);
    o.rtol = o.atol = tol;
    o.max_steps = 10000000;
    nde_solver *s = NULL;
    NDE_TRY(nde_solver_create(NULL, &p->field, &o, &s));
    double u0[MAX_DIM], traj[2 * MAX_DIM], ts[2] = {p->t0, p->t1};
    for (size_t i = 0; i < p->dim; i++) u0[i] = (double)p->y0[i];
    double best = INFINITY, spent = 0.0;
    nde_status st = NDE_OK;
    for (int rep = 0; rep < 1000 && (rep == 0 || spent < min_seconds); rep++) {
        double t0 = nde_wall_seconds();
        st = nde_solve(s, 1, p->dim, u0, 2, ts, traj);
        double dt = nde_wall_seconds() - t0;
        if (st != NDE_OK) break;
        spent += dt;
        if (dt < best) best = dt;
    }
    if (st == NDE_OK) {
        const nde_solver_stats *stt = nde_solver_get_stats(s);
        r->nfe = stt->nfe, r->steps = stt->n_accepted, r->rejected = stt->n_rejected;
        r->seconds = best;
        r->error = 0.0;
        for (size_t i = 0; i < p->dim; i++) {
            double e = fabs(traj[p->dim + i] - ref[i]);
            if (!(e <= r->error)) r->error = e; /* NaN propagates */
        }
    }
    nde_solver_destroy(&s);
    return st;
}

/* ---- --plot ---- */

static int plot(const char *dat, const char *png, const char *title)
{
    /* the number of series: lines that start a block (a quoted label) */
    FILE *f = fopen(dat, "r");
    if (!f) {
        fprintf(stderr, "work_precision: cannot read %s: %s\n", dat, strerror(errno));
        return 1;
    }
    int series = 0, c, bol = 1;
    while ((c = fgetc(f)) != EOF) {
        if (bol && c == '"') series++;
        bol = c == '\n';
    }
    fclose(f);
    if (series == 0) {
        fprintf(stderr, "work_precision: %s holds no series\n", dat);
        return 1;
    }
    char script[2048];
    snprintf(script, sizeof script,
             "set terminal png size 900,650\n"
             "set output ARG1\n"
             "set logscale xy\n"
             "set format x '10^{%%L}'; set format y '10^{%%L}'\n"
             "set xlabel 'function evaluations'\n"
             "set ylabel 'end-point error (max norm)'\n"
             "set title ARG3.': work-precision (rtol = atol = 1e-k)' noenhanced\n"
             "set key outside right top noenhanced\n"
             "set grid\n"
             "set linetype 9 lc rgb '#8b4513'; set linetype 10 lc rgb '#808080'\n"
             "set linetype 11 lc rgb '#ff1493'; set linetype 12 lc rgb '#00ced1'\n"
             "plot for [i=0:%d] ARG2 index i using 2:3 with linespoints lt i+1 lw 2 pt i+1 "
             "title columnheader(1)\n",
             series - 1);
    if (nde_plot_run_args(script, 3, (const char *const[]){png, dat, title}) != NDE_OK) {
        fprintf(stderr, "work_precision: no plot: %s\n", nde_last_error());
        return 1;
    }
    return 0;
}

/* ---- main ---- */

static int parse_problems(const char *list, int use[N_PROBLEMS])
{
    if (!list) {
        for (int i = 0; i < N_PROBLEMS; i++) use[i] = 1;
        return 0;
    }
    for (int i = 0; i < N_PROBLEMS; i++) use[i] = 0;
    const char *s = list;
    while (*s) {
        size_t len = strcspn(s, ",");
        int found = -1;
        for (int i = 0; i < N_PROBLEMS; i++)
            if (strlen(problem_names[i]) == len && strncmp(s, problem_names[i], len) == 0) found = i;
        if (found < 0) {
            fprintf(stderr,
                    "work_precision: --problems: unknown problem '%.*s' (arenstorf, pleiades, "
                    "lotka_volterra, neural) (try --help)\n",
                    (int)len, s);
            return 2;
        }
        use[found] = 1;
        s += len;
        if (*s == ',') s++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *out = "out/work_precision", *problems = NULL;
    const char *plot_dat = NULL, *plot_png = NULL, *plot_title = NULL;
    size_t tmax = 3, tmin = 13, tstep = 1;
    double min_seconds = 0.02, ref_tol_d = 1e-24;
    const nde_arg opts[] = {
        NDE_ARGS_OUT(&out),
        {.name = "problems", .kind = NDE_ARG_STRING, .dest = &problems, .metavar = "LIST",
         .help = "comma-separated: arenstorf,pleiades,lotka_volterra,neural (default all)"},
        {.name = "tol-max-exp", .kind = NDE_ARG_SIZE, .dest = &tmax, .min = 1, .max = 15,
         .help = "loosest tolerance 10^-N"},
        {.name = "tol-min-exp", .kind = NDE_ARG_SIZE, .dest = &tmin, .min = 1, .max = 15,
         .help = "tightest tolerance 10^-N"},
        {.name = "tol-step", .kind = NDE_ARG_SIZE, .dest = &tstep, .min = 1, .max = 15,
         .help = "decades between tolerances"},
        {.name = "min-seconds", .kind = NDE_ARG_DOUBLE, .dest = &min_seconds,
         .bounds = NDE_ARG_LO, .lo = 0.0, .help = "repeat each solve for this long (timing)"},
        {.name = "ref-tol", .kind = NDE_ARG_DOUBLE, .dest = &ref_tol_d, .bounds = NDE_ARG_LO_OPEN,
         .lo = 0.0, .help = "tolerance of the long-double reference (checked at 100 times it)"},
        {.name = "plot", .kind = NDE_ARG_STRING, .dest = &plot_dat, .metavar = "DAT",
         .help = "plot mode: the data file written by report.py"},
        {.name = "png", .kind = NDE_ARG_STRING, .dest = &plot_png, .metavar = "PNG",
         .help = "plot mode: the PNG to write"},
        {.name = "title", .kind = NDE_ARG_STRING, .dest = &plot_title, .metavar = "NAME",
         .help = "plot mode: the problem's name"},
    };
    const nde_args_spec spec = {.prog = "work_precision",
                                .about = "Work-precision of nde's adaptive explicit pairs on "
                                         "Arenstorf, Pleiades, Lotka-Volterra and a neural field "
                                         "(JSON lines on stdout), or --plot a report.py data file.",
                                NDE_ARGS_TABLE(opts)};
    int rc = nde_args_parse(&spec, argc, argv, NULL);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    if (plot_dat || plot_png || plot_title) {
        if (!plot_dat || !plot_png || !plot_title) {
            fprintf(stderr, "work_precision: --plot needs --png and --title (try --help)\n");
            return 2;
        }
        return plot(plot_dat, plot_png, plot_title);
    }
    if (tmin < tmax) {
        fprintf(stderr, "work_precision: --tol-min-exp %zu is looser than --tol-max-exp %zu "
                        "(try --help)\n", tmin, tmax);
        return 2;
    }
    const quad ref_tol = ref_tol_d;
    int use[N_PROBLEMS];
    if ((rc = parse_problems(problems, use)) != 0) return rc;
    double tols[16];
    size_t n_tols = 0;
    for (size_t k = tmax; k <= tmin; k += tstep) tols[n_tols++] = pow(10.0, -(double)k);

    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/problems.jsonl", out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *pf = fopen(tmp, "w");
    if (!pf) {
        fprintf(stderr, "work_precision: cannot write %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    int fail = 0;
    for (int w = 0; w < N_PROBLEMS && !fail; w++) {
        if (!use[w]) continue;
        problem p;
        if (problem_setup(w, &p) != NDE_OK) {
            fprintf(stderr, "work_precision: %s: %s\n", problem_names[w], nde_last_error());
            problem_free(&p);
            fail = 1;
            break;
        }
        quad ref[MAX_DIM], chk[MAX_DIM];
        memcpy(ref, p.y0, sizeof ref);
        memcpy(chk, p.y0, sizeof chk);
        size_t nref = gbs_solve(&p, p.t1, ref_tol, ref), nchk = gbs_solve(&p, p.t1, ref_tol * 100.0, chk);
        if (!nref || !nchk) {
            fprintf(stderr, "work_precision: %s: the reference solve gave up\n", p.name);
            problem_free(&p);
            fail = 1;
            break;
        }
        quad dmax = 0.0;
        double refd[MAX_DIM];
        for (size_t i = 0; i < p.dim; i++) {
            dmax = fmaxq(dmax, fabsq(ref[i] - chk[i]));
            refd[i] = (double)ref[i];
        }
        printf("{\"bench\": \"work_precision\", \"problem\": \"%s\", \"metric\": "
               "\"reference_self_check\", \"value\": %.3g, \"unit\": \"max abs difference of "
               "the binary128 GBS end points at tol %.0e and 100 times it\", \"steps\": %zu}\n",
               p.name, (double)dmax, ref_tol_d, nref);
        if (w == 0) {
            /* one period to the exact t1 (the runs end at t1 rounded to double) */
            quad per = 0.0, yp[MAX_DIM];
            memcpy(yp, p.y0, sizeof yp);
            if (!gbs_solve(&p, strtoflt128("17.0652165601579625588917206249", NULL), ref_tol, yp))
                per = NAN;
            for (size_t i = 0; i < p.dim; i++) per = fmaxq(per, fabsq(yp[i] - p.y0[i]));
            printf("{\"bench\": \"work_precision\", \"problem\": \"%s\", \"metric\": "
                   "\"reference_period_check\", \"value\": %.3g, \"unit\": \"max abs "
                   "difference of y(T) and y0 over one period T (binary128 GBS)\"}\n",
                   p.name, (double)per);
        }
        fflush(stdout);
        write_problem(pf, &p, ref, tols, n_tols);
        for (int m = 0; m < NDE_METHOD_COUNT && !fail; m++) {
            if (!nde_method_is_explicit_adaptive((nde_method)m)) continue;
            for (size_t k = 0; k < n_tols; k++) {
                result r;
                nde_status st = run_one(&p, (nde_method)m, tols[k], refd, min_seconds, &r);
                if (st != NDE_OK) {
                    printf("{\"bench\": \"work_precision\", \"problem\": \"%s\", \"impl\": "
                           "\"nde\", \"method\": \"%s\", \"tol\": %.0e, \"failed\": \"%s\"}\n",
                           p.name, nde_method_name((nde_method)m), tols[k],
                           nde_status_str(st));
                    continue;
                }
                printf("{\"bench\": \"work_precision\", \"problem\": \"%s\", \"impl\": \"nde\", "
                       "\"method\": \"%s\", \"tol\": %.0e, \"nfe\": %zu, \"steps\": %zu, "
                       "\"rejected\": %zu, \"error\": %.6e, \"seconds\": %.6e}\n",
                       p.name, nde_method_name((nde_method)m), tols[k], r.nfe, r.steps,
                       r.rejected, r.error, r.seconds);
                fflush(stdout);
            }
        }
        problem_free(&p);
    }
    if (fclose(pf) != 0 || fail) {
        remove(tmp);
        return 1;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "work_precision: cannot rename %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    return 0;
}
