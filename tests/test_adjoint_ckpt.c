/* Memory-bounded discrete adjoint (NDE_TAPE_CHECKPOINT): fixed-interval and binomial
 * schedules give bitwise the store-everything gradient (they repeat the forward's
 * arithmetic), hold no more states than the schedule promises, report their
 * recomputation, match finite differences, and reject misuse. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fields.h"
#include "gradcheck.h"
#include "nde/nde.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

enum { D = 3, B = 2, NP = D * D + 2 * D, NT = 6 };

static const double ts[NT] = {0.0, 0.5, 1.3, 2.0, 3.1, 4.0};
static const double u0_init[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1};

static void init_theta(double *theta)
{
    nde_rng r;
    nde_rng_seed(&r, 11);
    for (int i = 0; i < NP; i++) theta[i] = 0.8 * nde_rng_normal(&r);
}

static void init_g(double *g)
{
    nde_rng r;
    nde_rng_seed(&r, 5);
    for (int i = 0; i < NT * B * D; i++) g[i] = nde_rng_normal(&r);
}

typedef struct run_out {
    double gth[NP], gu0[B * D];
    size_t n_steps;
    nde_solver_stats st;
} run_out;

/* Solve with the given tape and take the discrete adjoint of L = Σ g·traj. */
static run_out run(nde_method m, double h0, nde_tape tape, size_t every, size_t slots)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(m);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    o.h0 = h0;
    o.tape = tape;
    o.checkpoint_every = every;
    o.checkpoint_slots = slots;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double traj[NT * B * D], g[NT * B * D];
    init_g(g);
    CHECK(nde_solve(s, B, D, u0_init, NT, ts, traj));
    run_out r = {{0}, {0}, 0, {0}};
    CHECK(nde_adjoint_discrete(s, g, r.gth, NP, r.gu0));
    nde_solver_steps(s, &r.n_steps);
    r.st = *nde_solver_get_stats(s);
    nde_solver_destroy(&s);
    return r;
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

static void expect_same_bits(const run_out *a, const run_out *ref, const char *what)
{
    cr_assert_eq(a->n_steps, ref->n_steps, "%s: step counts differ", what);
    cr_expect(memcmp(a->gth, ref->gth, sizeof a->gth) == 0, "%s: theta gradient differs", what);
    cr_expect(memcmp(a->gu0, ref->gu0, sizeof a->gu0) == 0, "%s: u0 gradient differs", what);
}

Test(adjoint_ckpt, every_schedule_gives_the_store_everything_bits)
{
    /* Tsit5 (FSAL, adaptive) and RK4 (not FSAL, fixed step) */
    const nde_method ms[] = {NDE_TSIT5, NDE_RK4};
    const double h0[] = {0.0, 0.05};
    const size_t sched[][2] = {{0, 0}, {0, 1}, {0, 2}, {0, 5}, {1, 0}, {4, 0},
                               {7, 2}, {9, 1}, {5, 1000}, {100000, 0}};
    for (int mi = 0; mi < 2; mi++) {
        run_out ref = run(ms[mi], h0[mi], NDE_TAPE_STAGES, 0, 0);
        cr_assert(ref.n_steps >= 20, "%s: want a long solve, got %zu steps",
                  nde_method_name(ms[mi]), ref.n_steps);
        for (size_t i = 0; i < sizeof sched / sizeof sched[0]; i++) {
            size_t every = sched[i][0], slots = sched[i][1];
            run_out r = run(ms[mi], h0[mi], NDE_TAPE_CHECKPOINT, every, slots);
            char what[96];
            snprintf(what, sizeof what, "%s every %zu slots %zu", nde_method_name(ms[mi]), every,
                     slots);
            expect_same_bits(&r, &ref, what);
            size_t N = r.n_steps, seg = every ? every : N;
            size_t n_ck = ceil_div(N, seg);
            /* the forward keeps one state per segment */
            cr_expect_eq(r.st.tape_bytes, n_ck * B * D * sizeof(double), "%s: tape bytes", what);
            /* states held: the checkpoints plus at most (slots − 1) snapshots per segment */
            size_t c = slots ? slots : (every ? every : 0);
            if (c == 0) {
                size_t l = 0;
                while (((size_t)1 << l) < N) l++;
                c = l + 1;
            }
            if (c > seg) c = seg;
            cr_expect(r.st.adjoint_max_states <= n_ck + c - 1, "%s: %zu states held, bound %zu",
                      what, r.st.adjoint_max_states, n_ck + c - 1);
            /* recomputation: at least the steps between checkpoints, exactly N − n_ck when
             * every segment fits its slots; never more than the quadratic worst case */
            cr_expect(r.st.n_recomputed_steps >= N - n_ck, "%s: recomputed %zu", what,
                      r.st.n_recomputed_steps);
            if (c >= seg)
                cr_expect_eq(r.st.n_recomputed_steps, N - n_ck, "%s: recomputed %zu", what,
                             r.st.n_recomputed_steps);
            cr_expect(r.st.n_recomputed_steps <= seg * (seg - 1) / 2 * n_ck, "%s", what);
            cr_log_info("%s: N %zu states %zu recomputed %zu", what, N, r.st.adjoint_max_states,
                        r.st.n_recomputed_steps);
        }
    }
}

Test(adjoint_ckpt, binomial_memory_grows_logarithmically)
{
    /* fixed-step Heun so N is chosen exactly; default slots ⌈log2 N⌉ + 1 */
    const size_t Ns[] = {16, 64, 256};
    for (int i = 0; i < 3; i++) {
        run_out r = run(NDE_HEUN, ts[NT - 1] / (double)Ns[i], NDE_TAPE_CHECKPOINT, 0, 0);
        cr_assert_eq(r.n_steps, Ns[i]);
        size_t l = 0;
        while (((size_t)1 << l) < Ns[i]) l++;
        cr_expect(r.st.adjoint_max_states <= l + 1, "N %zu: %zu states", Ns[i],
                  r.st.adjoint_max_states);
        /* Griewank: c snapshots reverse N steps with at most r recomputations of each step,
         * r the smallest with C(c + r, c) >= N */
        size_t cs = l + 1, rep = 0;
        double binom = 1.0;
        while (binom < (double)Ns[i]) {
            rep++;
            binom = binom * (double)(cs + rep) / (double)rep;
        }
        cr_expect(r.st.n_recomputed_steps <= rep * Ns[i], "N %zu: recomputed %zu, r = %zu",
                  Ns[i], r.st.n_recomputed_steps, rep);
        cr_log_info("heun N %zu: %zu states, %zu recomputed steps (r = %zu)", Ns[i],
                    r.st.adjoint_max_states, r.st.n_recomputed_steps, rep);
        run_out ref = run(NDE_HEUN, ts[NT - 1] / (double)Ns[i], NDE_TAPE_STEP_STARTS, 0, 0);
        expect_same_bits(&r, &ref, "heun binomial");
    }
}

Test(adjoint_ckpt, checkpointed_gradient_matches_finite_differences)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-6;
    o.atol = 1e-8;
    o.tape = NDE_TAPE_CHECKPOINT;
    o.checkpoint_every = 3;
    o.checkpoint_slots = 2;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u0[B * D], traj[NT * B * D], g[NT * B * D];
    memcpy(u0, u0_init, sizeof u0);
    init_g(g);
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    double gth[NP] = {0}, gu0[B * D];
    CHECK(nde_adjoint_discrete(s, g, gth, NP, gu0));
    CHECK(nde_solver_freeze_steps(s));
    /* [θ, u0] as one vector */
    double fd[NP + B * D], ad[NP + B * D];
    gc_solve_loss sl = {.s = s, .batch = B, .dim = D, .nt = NT, .ts = ts, .u0 = u0, .traj = traj,
                        .g = g};
    gc_fd_gradient(theta, NP, 1e-6, GC_CENTRAL2, gc_solve_loss_eval, &sl, fd);
    gc_fd_gradient(u0, B * D, 1e-6, GC_CENTRAL2, gc_solve_loss_eval, &sl, fd + NP);
    memcpy(ad, gth, sizeof gth);
    memcpy(ad + NP, gu0, sizeof gu0);
    double rel = gc_expect_close(ad, fd, NP + B * D, gc_l2(1e-6), "checkpointed [θ, u0]");
    cr_log_info("checkpointed gradient vs finite differences: rel err %.2e", rel);
    nde_solver_destroy(&s);
}

Test(adjoint_ckpt, misuse_returns_status)
{
    double theta[NP];
    init_theta(theta);
    tanh_ctx c = {.d = D, .theta = theta};
    nde_field f = tanh_field(&c);
    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.tape = NDE_TAPE_CHECKPOINT;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double g[NT * B * D] = {0}, gth[NP] = {0};
    cr_expect_eq(nde_adjoint_discrete(s, g, gth, NP, NULL), NDE_ERR_STATE); /* no solve yet */
    nde_solver_destroy(&s);
    o.tape = (nde_tape)(NDE_TAPE_CHECKPOINT + 1);
    cr_expect_eq(nde_solver_create(NULL, &f, &o, &s), NDE_ERR_ARG);
    cr_expect_null(s);
    /* a checkpoint tape needs the field's vjp */
    nde_field novjp = f;
    novjp.vjp = NULL;
    o.tape = NDE_TAPE_CHECKPOINT;
    cr_expect_neq(nde_solver_create(NULL, &novjp, &o, &s), NDE_OK);
}
