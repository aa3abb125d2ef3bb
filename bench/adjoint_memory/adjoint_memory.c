/* bench/adjoint_memory — memory and time of every gradient method for solves of
 * N = 10², 10³, 10⁴ steps.
 *
 *   adjoint_memory [--sizes 100,1000,10000] [--reps 3] [--method NAME]
 *
 * Problem: a tanh MLP field (dim 8, one hidden layer of 32, batch 8: 64 unknowns, 584
 * parameters) on [0, 1] with fixed-step Tsit5 (h = 1/N, so the forward takes exactly N
 * steps), 11 save times, loss Σ g·traj. Methods: the discrete adjoint storing stages,
 * step starts, every ⌈√N⌉-th step start (fixed interval), only u0 (binomial, ⌈log2 N⌉+1
 * slots); the backsolve and interpolating adjoints (Tsit5 backwards at rtol 1e-6); the
 * CVODES adjoint (forward CVODES Adams with h ≤ 1/N, checkpoints every ⌈√N⌉ steps).
 * Each (method, N) runs in a fresh process (re-executing this program with --one) so
 * the peak resident set is its own. One JSON object per result line:
 *   adjoint_bytes        tape + workspace the library holds for the gradient (CVODES:
 *                        estimate from its checkpoint count)
 *   adjoint_states       that, in state copies of 64 doubles
 *   peak_rss_delta_kb    growth of the process's peak RSS over forward + adjoint
 *   ms_median            forward + adjoint wall time (median of --reps)
 *   recomputed_steps     steps re-integrated by the adjoint
 *   grad_rel_diff        ‖g − g_stages‖/‖g_stages‖ (0 for the discrete modes: same bits) */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nde/nde.h"
#include "nde/nn.h"
#include "nde_args.h"

enum { DIM = 8, HIDDEN = 32, BATCH = 8, N_UNK = DIM * BATCH, NT = 11 };

typedef enum meth {
    M_STAGES, M_STARTS, M_FIXED, M_BINOMIAL, M_BACKSOLVE, M_INTERP, M_CVODES, M_COUNT
} meth;
/* NULL-terminated: the choices of --method */
static const char *const names[M_COUNT + 1] = {"discrete_stages", "discrete_step_starts",
                                           "discrete_ckpt_sqrt", "discrete_ckpt_binomial",
                                           "backsolve", "interpolating", "cvodes"};

static size_t isqrt_ceil(size_t n)
{
    size_t r = (size_t)ceil(sqrt((double)n));
    return r ? r : 1;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct setup {
    nde_ctx *ctx;
    nde_params *p;
    nde_mlp *net;
    nde_field f;
    double u0[N_UNK], g[NT * N_UNK], ts[NT], traj[NT * N_UNK];
} setup;

static nde_status make_setup(setup *su)
{
    memset(su, 0, sizeof *su);
    NDE_TRY(nde_ctx_create(&su->ctx));
    NDE_TRY(nde_params_create(&su->p));
    NDE_TRY(nde_mlp_create(su->p, &(nde_mlp_spec){.in = DIM, .out = DIM, .hidden = {HIDDEN},
                                                  .act = NDE_ACT_TANH},
                           "mlp", &su->net));
    nde_rng r;
    nde_rng_seed(&r, 7);
    NDE_TRY(nde_mlp_init(su->net, su->p, NDE_INIT_XAVIER_NORMAL, 1.0, &r));
    NDE_TRY(nde_mlp_field(su->net, su->p, &su->f));
    for (int i = 0; i < N_UNK; i++) su->u0[i] = nde_rng_normal(&r);
    for (int i = 0; i < NT * N_UNK; i++) su->g[i] = nde_rng_normal(&r);
    for (int k = 0; k < NT; k++) su->ts[k] = (double)k / (NT - 1);
    return NDE_OK;
}

static void free_setup(setup *su)
{
    nde_mlp_destroy(&su->net);
    nde_params_destroy(&su->p);
    nde_ctx_destroy(&su->ctx);
}

/* One forward + gradient of method m for N steps into grad (n_params). */
static nde_status run(setup *su, meth m, size_t N, nde_solver **sp, double *grad)
{
    nde_solver_opts o = nde_solver_defaults(m == M_CVODES ? NDE_CVODE_ADAMS : NDE_TSIT5);
    o.fixed_step = 1;
    o.h0 = 1.0 / (double)N;
    o.max_steps = 10 * N + 100;
    if (m == M_STAGES) o.tape = NDE_TAPE_STAGES;
    if (m == M_STARTS) o.tape = NDE_TAPE_STEP_STARTS;
    if (m == M_FIXED || m == M_BINOMIAL) o.tape = NDE_TAPE_CHECKPOINT;
    if (m == M_FIXED) o.checkpoint_every = isqrt_ceil(N);
    if (m == M_CVODES) {
        o.fixed_step = 0;
        o.linsol = NDE_LINSOL_FIXED_POINT;
        o.dt_max = 1.0 / (double)N;
        o.rtol = 1e-8;
        o.atol = 1e-10;
        o.cvodes_adj_steps = isqrt_ceil(N);
    }
    if (!*sp) NDE_TRY(nde_solver_create(su->ctx, &su->f, &o, sp));
    nde_solver *s = *sp;
    NDE_TRY(nde_solve(s, BATCH, DIM, su->u0, NT, su->ts, su->traj));
    size_t np = su->f.n_params;
    memset(grad, 0, np * sizeof *grad);
    nde_cont_adjoint_opts ao = nde_cont_adjoint_defaults(s);
    ao.method = NDE_TSIT5;
    ao.rtol = 1e-6;
    ao.atol = 1e-9;
    switch (m) {
    case M_BACKSOLVE: return nde_adjoint_backsolve(s, su->traj, su->g, grad, np, NULL, &ao);
    case M_INTERP: return nde_adjoint_interpolating(s, su->traj, su->g, grad, np, NULL, &ao);
    case M_CVODES: return nde_adjoint_cvodes(s, su->g, grad, np, NULL, &ao);
    default: return nde_adjoint_discrete(s, su->g, grad, np, NULL);
    }
}

static void line(meth m, size_t N, const char *metric, double v, const char *unit)
{
    printf("{\"bench\": \"adjoint_memory\", \"method\": \"%s\", \"n_steps\": %zu, "
           "\"metric\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n",
           names[m], N, metric, v, unit);
}

/* The child: one method, one size. */
static int one(meth m, size_t N, int reps)
{
    setup su;
    nde_solver *s = NULL, *ref = NULL;
    if (make_setup(&su) != NDE_OK) goto fail;
    size_t np = su.f.n_params;
    double *grad = nde_alloc_array(np, sizeof *grad), *gref = nde_alloc_array(np, sizeof *gref);
    double times[64];
    if (!grad || !gref) goto fail;
    long rss0 = peak_rss_kb();
    for (int r = 0; r < reps && r < 64; r++) {
        double t0 = nde_wall_seconds();
        if (run(&su, m, N, &s, grad) != NDE_OK) goto fail;
        times[r] = 1e3 * (nde_wall_seconds() - t0);
    }
    long rss1 = peak_rss_kb();
    const nde_solver_stats *st = nde_solver_get_stats(s);
    size_t steps = st->n_accepted, rec = st->n_recomputed_steps;
    double bytes = (double)st->adjoint_peak_bytes, states = (double)st->adjoint_max_states;
    qsort(times, (size_t)(reps < 64 ? reps : 64), sizeof *times, cmp_double);
    /* reference gradient: the store-everything discrete adjoint */
    if (run(&su, M_STAGES, N, &ref, gref) != NDE_OK) goto fail;
    double num = 0, den = 0;
    for (size_t i = 0; i < np; i++) num += (grad[i] - gref[i]) * (grad[i] - gref[i]), den += gref[i] * gref[i];
    line(m, N, "forward_steps", (double)steps, "steps");
    line(m, N, "adjoint_bytes", bytes, "B");
    line(m, N, "adjoint_states", states, "states");
    line(m, N, "peak_rss_delta_kb", (double)(rss1 - rss0), "KiB");
    line(m, N, "ms_median", times[(reps - 1) / 2], "ms");
    line(m, N, "recomputed_steps", (double)rec, "steps");
    line(m, N, "grad_rel_diff", sqrt(num / den), "1");
    fflush(stdout);
    nde_free(grad);
    nde_free(gref);
    nde_solver_destroy(&s);
    nde_solver_destroy(&ref);
    free_setup(&su);
    return 0;
fail:
    fprintf(stderr, "adjoint_memory: %s N %zu: %s\n", names[m], N, nde_last_error());
    return 1;
}

typedef struct size_list {
    size_t v[8], n;
} size_list;

/* Up to 8 comma-separated step counts, each >= 1; dest is a size_list. */
static const char *parse_sizes(const char *s, void *dest)
{
    size_list *l = dest;
    l->n = 0;
    for (const char *p = s;; p++) {
        char *end;
        if (*p < '0' || *p > '9' || l->n == 8) break;
        errno = 0;
        unsigned long long x = strtoull(p, &end, 10);
        if (errno || x == 0 || (*end && *end != ',')) break;
        l->v[l->n++] = (size_t)x;
        if (!*end) return NULL;
        p = end;
    }
    return "expected up to 8 comma-separated step counts, each >= 1";
}

int main(int argc, char **argv)
{
    size_list sizes = {{100, 1000, 10000}, 3};
    size_t reps = 3;
    int only = -1, one_run = 0;
    const nde_arg opts[] = {
        {.name = "sizes", .kind = NDE_ARG_CUSTOM, .dest = &sizes, .parse = parse_sizes,
         .metavar = "N[,N...]", .default_text = "100,1000,10000", .help = "solve lengths in steps"},
        {.name = "reps", .kind = NDE_ARG_SIZE, .dest = &reps, .min = 1, .max = 1000,
         .help = "timed repetitions (the median is reported)"},
        {.name = "method", .kind = NDE_ARG_CHOICE, .dest = &only, .choices = names,
         .metavar = "NAME", .default_text = "all", .help = "one gradient method"},
        {.name = "one", .kind = NDE_ARG_FLAG, .dest = &one_run,
         .help = "measure --method at --sizes N in this process (how each\n"
                 "measurement runs)"},
    };
    const nde_args_spec spec = {
        .prog = "adjoint_memory",
        .about = "Memory and time of every gradient method (one process per method and size).",
        NDE_ARGS_TABLE(opts)};
    int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    if (one_run) {
        if (only < 0 || sizes.n != 1) {
            fprintf(stderr, "adjoint_memory: --one needs --method and one size in --sizes "
                            "(try --help)\n");
            return 2;
        }
        return one((meth)only, sizes.v[0], (int)reps);
    }
    int rc = 0;
    for (size_t si = 0; si < sizes.n; si++)
        for (int m = 0; m < M_COUNT; m++) {
            if (only >= 0 && m != only) continue;
            char nbuf[32], rbuf[16];
            snprintf(nbuf, sizeof nbuf, "%zu", sizes.v[si]);
            snprintf(rbuf, sizeof rbuf, "%zu", reps);
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                char *args[] = {argv[0], "--one",  "--method", (char *)names[m], "--sizes", nbuf,
                                "--reps", rbuf, NULL};
                execv(argv[0], args);
                _exit(127);
            }
            int status = 0;
            if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
                WEXITSTATUS(status) != 0)
                rc = 1;
        }
    return rc;
}
