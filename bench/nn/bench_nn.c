/* bench/nn — micro-benchmarks of the nn module.
 *
 *   bench_nn [--samples 201] [--seed 0]
 *
 * One JSON object per result line, e.g.
 *   {"bench": "nn", "metric": "tanh_ns_per_elem", "impl": "nde", "n": 1000, "clock": "wall",
 *    "value": 2.5, "unit": "ns"}
 * Each metric is given twice: "wall" (monotonic wall clock) and "cpu" (this thread's CPU
 * time, which a busy shared machine inflates less). Metrics (medians over --samples
 * timed blocks):
 *   tanh_ns_per_elem       nde_act_forward(NDE_ACT_TANH) vs a libm tanh loop, n = 1000 and 100000
 *   mlp_forward_us         2→50(tanh)→2 MLP, batch 20 (the spiral model's network)
 *   mlp_vjp_us             nde_mlp_vjp (recomputed forward + dx + dθ), same network and batch
 *   mlp_backward_us        nde_mlp_backward after a recorded forward (dx + dθ)
 *   mlp_forward_rec_us     nde_mlp_forward_rec (forward writing a caller's record)
 *   mlp_vjp_rec_us         nde_mlp_vjp_rec from that record (dx + dθ, no forward pass)
 *   mlp_jvp_us             nde_mlp_jvp, same network and batch
 * On a shared machine, compare runs made under the same load. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nde/nde.h"
#include "nde_args.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void emit(const char *metric, const char *impl, size_t n, const char *clock, double value,
                 const char *unit)
{
    printf("{\"bench\": \"nn\", \"metric\": \"%s\", \"impl\": \"%s\", \"n\": %zu, \"clock\": \"%s\", "
           "\"value\": %.4g, \"unit\": \"%s\"}\n",
           metric, impl, n, clock, value, unit);
    fflush(stdout);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Median seconds per call by both clocks. */
typedef struct timing {
    double wall, cpu;
} timing;

/* Both lines of a metric, scaled from seconds per call. */
static void emit_both(const char *metric, const char *impl, size_t n, timing t, double scale,
                      const char *unit)
{
    emit(metric, impl, n, "wall", scale * t.wall, unit);
    emit(metric, impl, n, "cpu", scale * t.cpu, unit);
}

/* The libm baseline, kept out of line so the compiler cannot hoist or fuse it. */
static __attribute__((noinline)) void libm_tanh(const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = tanh(x[i]);
}

typedef enum { OP_TANH_NDE, OP_TANH_LIBM, OP_FWD, OP_VJP, OP_BWD, OP_FWD_REC, OP_VJP_REC, OP_JVP } op_kind;

typedef struct bench_state {
    double *x, *y;   /* tanh arrays (n) */
    size_t n;
    nde_mlp *net;
    nde_params *p;
    double *u, *v, *du, *vu, *g; /* MLP batch arrays */
    double *rec;                 /* (batch·rec_size) */
    size_t batch;
} bench_state;

static nde_status run_op(bench_state *s, op_kind op)
{
    switch (op) {
    case OP_TANH_NDE: return nde_act_forward(NDE_ACT_TANH, s->x, s->y, s->n);
    case OP_TANH_LIBM: libm_tanh(s->x, s->y, s->n); return NDE_OK;
    case OP_FWD: return nde_mlp_forward(s->net, s->p, 0.0, s->u, s->du, s->batch);
    case OP_VJP: return nde_mlp_vjp(s->net, s->p, 0.0, s->u, s->v, s->vu, s->g, s->batch);
    case OP_BWD: return nde_mlp_backward(s->net, s->p, s->v, s->vu, s->g, s->batch);
    case OP_FWD_REC: return nde_mlp_forward_rec(s->net, s->p, 0.0, s->u, s->du, s->rec, s->batch);
    case OP_VJP_REC:
        return nde_mlp_vjp_rec(s->net, s->p, 0.0, s->u, s->rec, s->v, s->vu, s->g, s->batch);
    case OP_JVP: return nde_mlp_jvp(s->net, s->p, 0.0, s->u, s->v, s->vu, s->batch);
    }
    return NDE_ERR_ARG;
}

/* Median seconds per call over `samples` blocks of calls, each block ~0.3 ms (short
 * enough that the scheduler rarely preempts one on a busy machine). */
static int time_op(bench_state *s, op_kind op, size_t samples, timing *out)
{
    double *tw = malloc(samples * sizeof *tw), *tc = malloc(samples * sizeof *tc);
    int rc = !tw || !tc;
    size_t reps = 1;
    for (int warm = 0; warm < 3 && !rc; warm++) { /* warm up, then calibrate */
        double w0 = nde_wall_seconds();
        rc = run_op(s, op) != NDE_OK;
        double once = nde_wall_seconds() - w0;
        reps = once > 0.0 && once < 3e-4 ? (size_t)(3e-4 / once) : 1;
    }
    for (size_t k = 0; k < samples && !rc; k++) {
        double w0 = nde_wall_seconds(), c0 = cpu_seconds();
        for (size_t r = 0; r < reps && !rc; r++)
            if (run_op(s, op) != NDE_OK) {
                fprintf(stderr, "bench_nn: %s\n", nde_last_error());
                rc = 1;
            }
        tc[k] = (cpu_seconds() - c0) / (double)reps;
        tw[k] = (nde_wall_seconds() - w0) / (double)reps;
    }
    if (!rc) *out = (timing){median(tw, samples), median(tc, samples)};
    free(tw);
    free(tc);
    return rc;
}

static int bench_tanh(size_t samples)
{
    const size_t sizes[] = {1000, 100000};
    for (size_t i = 0; i < 2; i++) {
        bench_state s = {.n = sizes[i]};
        s.x = nde_alloc_array(s.n, sizeof *s.x);
        s.y = nde_alloc_array(s.n, sizeof *s.y);
        if (!s.x || !s.y) return 1;
        /* pre-activations typical of a trained network: spread over [-4, 4] */
        for (size_t j = 0; j < s.n; j++) s.x[j] = 4.0 * sin(0.7 * (double)j);
        timing t_nde, t_libm;
        if (time_op(&s, OP_TANH_NDE, samples, &t_nde) ||
            time_op(&s, OP_TANH_LIBM, samples, &t_libm))
            return 1;
        emit_both("tanh_ns_per_elem", "nde", s.n, t_nde, 1e9 / (double)s.n, "ns");
        emit_both("tanh_ns_per_elem", "libm", s.n, t_libm, 1e9 / (double)s.n, "ns");
        nde_free(s.x);
        nde_free(s.y);
    }
    return 0;
}

static int bench_mlp(size_t samples, uint64_t seed)
{
    bench_state s = {.batch = 20};
    nde_mlp_spec spec = {.in = 2, .out = 2, .hidden = {50}, .act = NDE_ACT_TANH};
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    if (nde_params_create(&s.p) != NDE_OK || nde_mlp_create(s.p, &spec, "mlp", &s.net) != NDE_OK ||
        nde_mlp_init(s.net, s.p, NDE_INIT_NORMAL, 0.1, &rng) != NDE_OK ||
        nde_mlp_reserve(s.net, s.batch) != NDE_OK) {
        fprintf(stderr, "bench_nn: %s\n", nde_last_error());
        return 1;
    }
    size_t n = 2 * s.batch;
    s.u = nde_alloc_array(n, sizeof(double));
    s.v = nde_alloc_array(n, sizeof(double));
    s.du = nde_alloc_array(n, sizeof(double));
    s.vu = nde_alloc_array(n, sizeof(double));
    s.g = nde_alloc_array(nde_params_count(s.p), sizeof(double));
    s.rec = nde_alloc_array(s.batch * nde_mlp_rec_size(s.net), sizeof(double));
    if (!s.u || !s.v || !s.du || !s.vu || !s.g || !s.rec) return 1;
    for (size_t i = 0; i < n; i++) {
        s.u[i] = nde_rng_uniform_in(&rng, -2.0, 2.0);
        s.v[i] = nde_rng_normal(&rng);
    }
    const struct {
        op_kind op;
        const char *metric;
    } ops[] = {{OP_FWD, "mlp_forward_us"},         {OP_VJP, "mlp_vjp_us"},
               {OP_BWD, "mlp_backward_us"},        {OP_FWD_REC, "mlp_forward_rec_us"},
               {OP_VJP_REC, "mlp_vjp_rec_us"},     {OP_JVP, "mlp_jvp_us"}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        /* backward and vjp_rec start from the forward timed just before them */
        timing t;
        if (time_op(&s, ops[i].op, samples, &t)) return 1;
        emit_both(ops[i].metric, "nde", s.batch, t, 1e6, "us");
    }
    nde_free(s.u);
    nde_free(s.v);
    nde_free(s.du);
    nde_free(s.vu);
    nde_free(s.g);
    nde_free(s.rec);
    nde_mlp_destroy(&s.net);
    nde_params_destroy(&s.p);
    return 0;
}

int main(int argc, char **argv)
{
    size_t samples = 201;
    uint64_t seed = 0;
    const nde_arg opts[] = {
        {.name = "samples", .kind = NDE_ARG_SIZE, .dest = &samples, .min = 1,
         .help = "timed samples (the median is reported)"},
        NDE_ARGS_SEED(&seed),
    };
    const nde_args_spec spec = {.prog = "bench_nn", .about = "Speed of tanh and of the MLP.",
                                NDE_ARGS_TABLE(opts)};
    int parsed = nde_args_parse(&spec, argc, argv, NULL);
    if (parsed != NDE_ARGS_OK) return nde_args_exit_status(parsed);
    return bench_tanh(samples) || bench_mlp(samples, seed);
}
