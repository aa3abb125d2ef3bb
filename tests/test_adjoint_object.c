/* The adjoint object (nde_adjoint): every kind configures what the solver records, gives
 * the same bits as the matching free function on a solver configured by hand, and
 * agrees with central finite differences of a tightly solved flow; the CVODES adjoint's
 * re-integration is adjoint work, not forward nfe; misuse is a status. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fields.h"
#include "nde/nde.h"
#include "nde_config.h"
#include "numcheck.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

enum { D = 3, B = 2, NP = D * D + 2 * D, NT = 5, NX = NP + B * D };

static const double ts[NT] = {0.0, 0.4, 1.1, 1.7, 2.5};
static const double u0[B * D] = {0.5, -1.0, 0.2, -0.3, 0.8, 1.1};
static double theta[NP], g[NT * B * D];
static tanh_ctx tc = {.d = D, .theta = theta};
static nde_ctx *ctx;

static void setup(void)
{
    nde_rng r;
    nde_rng_seed(&r, 11);
    for (int i = 0; i < NP; i++) theta[i] = 0.6 * nde_rng_normal(&r);
    nde_rng_seed(&r, 5);
    for (int i = 0; i < NT * B * D; i++) g[i] = nde_rng_normal(&r);
    CHECK(nde_ctx_create(&ctx));
}
static void teardown(void) { nde_ctx_destroy(&ctx); }
TestSuite(adjoint_object, .init = setup, .fini = teardown);

static nde_field field(void)
{
    nde_field f = tanh_field(&tc);
    f.jvp = tanh_jvp;
    return f;
}

static double loss(const double *traj)
{
    double l = 0.0;
    for (int i = 0; i < NT * B * D; i++) l += g[i] * traj[i];
    return l;
}

/* [∂L/∂θ, ∂L/∂u0] of the exact flow: central differences of DOPRI5 at rtol 1e-12. */
static void reference_gradient(double *ref)
{
    nde_field f = field();
    nde_solver_opts o = nde_solver_defaults(NDE_DOPRI5);
    o.rtol = 1e-12;
    o.atol = 1e-14;
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    double u[B * D], traj[NT * B * D];
    memcpy(u, u0, sizeof u);
    const double eps = 1e-5;
    for (int i = 0; i < NX; i++) {
        double *x = i < NP ? &theta[i] : &u[i - NP], keep = *x;
        *x = keep + eps;
        CHECK(nde_solve(s, B, D, u, NT, ts, traj));
        double lp = loss(traj);
        *x = keep - eps;
        CHECK(nde_solve(s, B, D, u, NT, ts, traj));
        double lm = loss(traj);
        *x = keep;
        ref[i] = (lp - lm) / (2 * eps);
    }
    nde_solver_destroy(&s);
}

typedef struct obj_case {
    const char *name;
    nde_adjoint_kind kind;
    nde_method m;
    size_t every;
    nde_tape tape; /* what the solver must record */
} obj_case;

static nde_solver_opts forward_opts(nde_method m)
{
    nde_solver_opts o = nde_solver_defaults(m);
    o.rtol = 1e-8;
    o.atol = 1e-10;
    return o;
}

/* The free function of the kind on a solver configured by hand (the old way). */
static void free_function_gradient(const obj_case *c, const nde_adjoint_opts *ao, double *out)
{
    nde_field f = field();
    nde_solver_opts o = forward_opts(c->m);
    o.tape = c->tape;
    o.checkpoint_every = c->every;
    if (c->kind == NDE_ADJ_CVODES) o.cvodes_adj_steps = ao->cvodes_steps;
    nde_solver *s;
    CHECK(nde_solver_create(ctx, &f, &o, &s));
    double traj[NT * B * D];
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    memset(out, 0, NX * sizeof *out);
    switch (c->kind) {
    case NDE_ADJ_BACKSOLVE:
        CHECK(nde_adjoint_backsolve(s, traj, g, out, NP, out + NP, &ao->cont));
        break;
    case NDE_ADJ_INTERPOLATING:
        CHECK(nde_adjoint_interpolating(s, traj, g, out, NP, out + NP, &ao->cont));
        break;
    case NDE_ADJ_CVODES: CHECK(nde_adjoint_cvodes(s, g, out, NP, out + NP, &ao->cont)); break;
    default: CHECK(nde_adjoint_discrete(s, g, out, NP, out + NP)); break;
    }
    nde_solver_destroy(&s);
}

Test(adjoint_object, every_kind_matches_its_free_function_bitwise_and_finite_differences)
{
    const obj_case cases[] = {
        {"discrete stages", NDE_ADJ_DISCRETE_STAGES, NDE_TSIT5, 0, NDE_TAPE_STAGES},
        {"discrete step starts", NDE_ADJ_DISCRETE_STEP_STARTS, NDE_DOPRI5, 0,
         NDE_TAPE_STEP_STARTS},
        {"discrete every 3", NDE_ADJ_DISCRETE_CHECKPOINT, NDE_TSIT5, 3, NDE_TAPE_CHECKPOINT},
        {"discrete binomial", NDE_ADJ_DISCRETE_CHECKPOINT, NDE_BS3, 0, NDE_TAPE_CHECKPOINT},
        {"backsolve", NDE_ADJ_BACKSOLVE, NDE_TSIT5, 0, NDE_TAPE_NONE},
        {"interpolating", NDE_ADJ_INTERPOLATING, NDE_DOPRI5, 0, NDE_TAPE_NONE},
#if NDE_HAVE_SUNDIALS
        {"cvodes bdf", NDE_ADJ_CVODES, NDE_CVODE_BDF, 0, NDE_TAPE_NONE},
        {"backsolve cvode_adams", NDE_ADJ_BACKSOLVE, NDE_CVODE_ADAMS, 0, NDE_TAPE_NONE},
#endif
    };
    double ref[NX];
    reference_gradient(ref);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const obj_case *c = &cases[i];
        nde_field f = field();
        nde_solver_opts o = forward_opts(c->m);
        /* a recording the kind does not want, which creating the adjoint must replace */
        if (c->m != NDE_CVODE_BDF && c->m != NDE_CVODE_ADAMS) o.tape = NDE_TAPE_STAGES;
        nde_solver *s;
        CHECK(nde_solver_create(ctx, &f, &o, &s));
        nde_adjoint_opts ao = nde_adjoint_defaults(s, c->kind);
        ao.checkpoint_every = c->every;
        ao.cvodes_steps = 25;
        nde_adjoint *adj;
        CHECK(nde_adjoint_create(s, &ao, &adj));
        const nde_solver_opts *so = nde_solver_get_opts(s);
        cr_assert_eq(so->tape, c->tape, "%s", c->name);
        cr_assert_eq(so->checkpoint_every, c->every, "%s", c->name);
        cr_assert_eq(so->cvodes_adj_steps, c->kind == NDE_ADJ_CVODES ? 25u : 0u, "%s", c->name);
        double traj[NT * B * D], got[NX] = {0}, want[NX];
        CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
        CHECK(nde_adjoint_run(adj, traj, g, got, NP, got + NP));
        const nde_adjoint_stats *as = nde_adjoint_get_stats(adj);
        const nde_solver_stats *ss = nde_solver_get_stats(s);
        cr_assert(as->n_vjp > 0 && as->peak_bytes > 0 && as->max_states > 0, "%s", c->name);
        cr_assert_eq(ss->n_vjp, as->n_vjp);
        cr_assert_eq(ss->n_adjoint_nfe, as->nfe);
        cr_assert_eq(ss->n_recomputed_steps, as->n_recomputed_steps);
        cr_assert_eq(ss->adjoint_peak_bytes, as->peak_bytes);
        cr_assert_eq(ss->adjoint_max_states, as->max_states);
        if (c->kind == NDE_ADJ_DISCRETE_CHECKPOINT || c->kind == NDE_ADJ_INTERPOLATING)
            cr_assert(as->n_recomputed_steps > 0, "%s", c->name);
        /* a second run on the same solve reuses the workspace and gives the same bits */
        double again[NX] = {0};
        CHECK(nde_adjoint_run(adj, traj, g, again, NP, again + NP));
        cr_assert_eq(memcmp(again, got, sizeof got), 0, "%s: second run differs", c->name);

        free_function_gradient(c, &ao, want);
        cr_assert_eq(memcmp(got, want, sizeof got), 0, "%s: object and free function differ",
                     c->name);
        double e = rel_err(got, ref, NX);
        cr_log_info("%-24s rel err vs finite differences %.2e", c->name, e);
        /* as tests/test_adjoint_cont.c: rtol 1e-8 forward and backward, FD error ~1e-9 */
        cr_expect(e <= 1e-5, "%s: relative error %.3e vs finite differences", c->name, e);
        nde_adjoint_destroy(&adj);
        cr_assert_null(adj);
        nde_solver_destroy(&s);
    }
}

#if NDE_HAVE_SUNDIALS
/* CVodeB re-integrates the forward between CVODES' checkpoints: those evaluations are
 * the adjoint's (stats.nfe, the solver's n_adjoint_nfe), the forward's nfe stays what
 * the solve took — through the object and through nde_adjoint_cvodes. */
Test(adjoint_object, cvodes_reforward_is_adjoint_work_not_forward_nfe)
{
    for (int path = 0; path < 2; path++) {
        nde_field f = field();
        nde_solver_opts o = forward_opts(NDE_CVODE_BDF);
        if (path == 1) o.cvodes_adj_steps = 10;
        nde_solver *s;
        CHECK(nde_solver_create(ctx, &f, &o, &s));
        nde_adjoint *adj = NULL;
        if (path == 0) {
            nde_adjoint_opts ao = nde_adjoint_defaults(s, NDE_ADJ_CVODES);
            ao.cvodes_steps = 10;
            CHECK(nde_adjoint_create(s, &ao, &adj));
        }
        double traj[NT * B * D], gr[NX] = {0};
        CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
        nde_solver_stats fwd = *nde_solver_get_stats(s);
        cr_assert(fwd.nfe > 0);
        if (path == 0)
            CHECK(nde_adjoint_run(adj, NULL, g, gr, NP, gr + NP));
        else
            CHECK(nde_adjoint_cvodes(s, g, gr, NP, gr + NP, NULL));
        const nde_solver_stats *after = nde_solver_get_stats(s);
        cr_assert_eq(after->nfe, fwd.nfe, "path %d: forward nfe grew from %zu to %zu", path,
                     fwd.nfe, after->nfe);
        cr_assert_eq(after->n_jvp, fwd.n_jvp, "path %d: forward n_jvp changed", path);
        cr_assert(after->n_adjoint_nfe > 0, "path %d: re-forward work not counted", path);
        if (adj) cr_assert_eq(nde_adjoint_get_stats(adj)->nfe, after->n_adjoint_nfe);
        nde_adjoint_destroy(&adj);
        nde_solver_destroy(&s);
    }
}
#endif

#if NDE_HAVE_SUNDIALS
/* opts.tape_max_bytes also bounds CVODES' adjoint check points (with the step log): a
 * small cap stops the solve with NDE_ERR_LIMIT, an ample one changes nothing. */
Test(adjoint_object, cvodes_checkpoints_respect_the_tape_cap)
{
    nde_field f = field();
    double traj[NT * B * D], ref[NT * B * D];
    size_t caps[3] = {SIZE_MAX, 100 * 1024 * 1024, 4096};
    for (int k = 0; k < 3; k++) {
        nde_solver_opts o = forward_opts(NDE_CVODE_BDF);
        o.cvodes_adj_steps = 2; /* a check point every other step */
        o.tape_max_bytes = caps[k];
        nde_solver *s;
        CHECK(nde_solver_create(ctx, &f, &o, &s));
        nde_status st = nde_solve(s, B, D, u0, NT, ts, k == 0 ? ref : traj);
        if (k < 2) {
            cr_assert_eq(st, NDE_OK, "cap %zu: %s", caps[k], nde_last_error());
            if (k == 1) cr_assert_eq(memcmp(traj, ref, sizeof ref), 0);
        } else {
            cr_assert_eq(st, NDE_ERR_LIMIT, "cap %zu: %s", caps[k], nde_last_error());
            cr_assert(strstr(nde_last_error(), "CVODES adjoint check points"), "%s",
                      nde_last_error());
            cr_assert(strstr(nde_last_error(), "raise nde_solver_opts.tape_max_bytes"));
            cr_assert_eq(nde_adjoint_cvodes(s, g, NULL, 0, NULL, NULL), NDE_ERR_STATE);
        }
        nde_solver_destroy(&s);
    }
}
#endif

Test(adjoint_object, misuse_is_a_status)
{
    nde_field f = field();
    nde_solver_opts o = forward_opts(NDE_TSIT5);
    nde_solver *s;
    CHECK(nde_solver_create(NULL, &f, &o, &s));
    nde_adjoint *adj = NULL, *other = NULL;
    nde_adjoint_opts ao = nde_adjoint_defaults(s, NDE_ADJ_DISCRETE_STAGES);
    cr_assert_eq(nde_adjoint_create(NULL, &ao, &adj), NDE_ERR_ARG);
    cr_assert_eq(nde_adjoint_create(s, &ao, NULL), NDE_ERR_ARG);
    ao.kind = NDE_ADJ_KIND_COUNT;
    cr_assert_eq(nde_adjoint_create(s, &ao, &adj), NDE_ERR_ARG);
    ao = nde_adjoint_defaults(s, NDE_ADJ_BACKSOLVE);
    ao.cont.rtol = 0.0;
    cr_assert_eq(nde_adjoint_create(s, &ao, &adj), NDE_ERR_ARG);
    ao = nde_adjoint_defaults(s, NDE_ADJ_CVODES);
    cr_assert_eq(nde_adjoint_create(s, &ao, &adj), NDE_ERR_UNSUPPORTED);
    cr_assert_null(adj);
    /* a field without vjp cannot be differentiated */
    nde_field nov = {.dim = D, .n_params = NP, .ctx = &tc, .f = tanh_f};
    nde_solver *s2;
    CHECK(nde_solver_create(NULL, &nov, &o, &s2));
    ao = nde_adjoint_defaults(s2, NDE_ADJ_INTERPOLATING);
    cr_assert_eq(nde_adjoint_create(s2, &ao, &adj), NDE_ERR_ARG);
    nde_solver_destroy(&s2);

    double traj[NT * B * D], gr[NP] = {0};
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    ao = nde_adjoint_defaults(s, NDE_ADJ_DISCRETE_STEP_STARTS);
    CHECK(nde_adjoint_create(s, &ao, &adj));
    /* configuring the recording invalidated the last solve */
    cr_assert_eq(nde_adjoint_run(adj, traj, g, gr, NP, NULL), NDE_ERR_STATE);
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    cr_assert_eq(nde_adjoint_run(adj, traj, g, gr, NP + 1, NULL), NDE_ERR_SHAPE);
    cr_assert_eq(nde_adjoint_run(adj, traj, NULL, gr, NP, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_adjoint_run(NULL, traj, g, gr, NP, NULL), NDE_ERR_ARG);
    CHECK(nde_adjoint_run(adj, NULL, g, gr, NP, NULL));
    /* another adjoint reconfigures the solver: the first one says so */
    ao = nde_adjoint_defaults(s, NDE_ADJ_BACKSOLVE);
    CHECK(nde_adjoint_create(s, &ao, &other));
    CHECK(nde_solve(s, B, D, u0, NT, ts, traj));
    cr_assert_eq(nde_adjoint_run(adj, traj, g, gr, NP, NULL), NDE_ERR_STATE);
    cr_assert(strstr(nde_last_error(), "another adjoint") != NULL);
    cr_assert_eq(nde_adjoint_run(other, NULL, g, gr, NP, NULL), NDE_ERR_ARG); /* traj needed */
    CHECK(nde_adjoint_run(other, traj, g, gr, NP, NULL));
    nde_adjoint_destroy(&adj);
    nde_adjoint_destroy(&other);
    nde_adjoint_destroy(&adj); /* NULL: no-op */
    nde_adjoint_destroy(NULL);
    cr_assert_null(nde_adjoint_get_stats(NULL));
    nde_solver_destroy(&s);
}
