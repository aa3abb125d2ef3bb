/* Neural operators as the vector field of a neural ODE, end to end: du/dt = FNO(u) and
 * du/dt = MgNO(u) solved adaptively, the discrete adjoint's gradients with respect to the
 * operator's weights and the initial field against central finite differences of the
 * same discrete solve (accepted steps frozen), with the stage tape and with binomial
 * checkpointing (which must give the same bits). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nde/nde.h"
#include "gradcheck.h"
#include "numcheck.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

enum { NT = 4, B = 2 };
static const double ts[NT] = {0.0, 0.5, 1.2, 2.0};

/* Adaptive Tsit5 solve (rtol, atol rtol/100) of du/dt = field(u) for B fields; the gradient
 * of L = Σ g · traj over all save times (gc_solve_loss) with respect
 * to θ (the store the field reads) and u0 from the discrete adjoint, against central
 * differences with the steps frozen. */
static void check_operator_ode(const nde_field *f, nde_params *p, double rtol, nde_tape tape,
                               double *gth_out)
{
    const size_t dim = f->dim, np = nde_params_count(p), len = NT * B * dim;
    cr_assert_eq(f->n_params, np);
    nde_rng r;
    nde_rng_seed(&r, 3);
    double *u0 = nde_alloc_array(B * dim, sizeof *u0), *g = nde_alloc_array(len, sizeof *g);
    double *traj = nde_alloc_array(len, sizeof *traj), *gu0 = nde_alloc_array(B * dim, sizeof *gu0);
    double *gth = nde_alloc_array(np, sizeof *gth);
    cr_assert(u0 && g && traj && gu0 && gth);
    for (size_t i = 0; i < B * dim; i++) u0[i] = nde_rng_normal(&r);
    for (size_t i = 0; i < len; i++) g[i] = nde_rng_normal(&r);

    nde_solver_opts o = nde_solver_defaults(NDE_TSIT5);
    o.rtol = rtol;
    o.atol = 1e-2 * rtol;
    o.tape = tape;
    o.checkpoint_slots = 2; /* NDE_TAPE_CHECKPOINT: recompute with two slots */
    nde_solver *s;
    CHECK(nde_solver_create(NULL, f, &o, &s));
    CHECK(nde_solve(s, B, dim, u0, NT, ts, traj));
    size_t nsteps;
    nde_solver_steps(s, &nsteps);
    cr_assert(nsteps >= 4, "want a multi-step solve, got %zu steps", nsteps);
    memset(gth, 0, np * sizeof *gth);
    CHECK(nde_adjoint_discrete(s, g, gth, np, gu0));

    CHECK(nde_solver_freeze_steps(s));
    gc_solve_loss sl = {.s = s, .batch = B, .dim = dim, .nt = NT, .ts = ts, .u0 = u0,
                        .traj = traj, .g = g};
    const double eth = gc_check(nde_params_theta(p), np, 1e-6, GC_CENTRAL2, gc_solve_loss_eval,
                                &sl, gth, gc_l2(1e-6), "theta");
    const double eu = gc_check(u0, B * dim, 1e-6, GC_CENTRAL2, gc_solve_loss_eval, &sl, gu0,
                               gc_l2(1e-6), "u0");
    cr_log_info("%zu steps, %zu parameters: rel err theta %.2e, u0 %.2e", nsteps, np, eth, eu);
    memcpy(gth_out, gth, np * sizeof *gth);
    nde_solver_destroy(&s);
    double *bufs[] = {u0, g, traj, gu0, gth};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) nde_free(bufs[i]);
}

/* Both tapes through check_operator_ode; their θ-gradients must be bit-identical. rtol:
 * tight enough for several steps (the tiny FNO field is smooth and small). */
static void check_both_tapes(const nde_field *f, nde_params *p, double rtol)
{
    const size_t np = nde_params_count(p);
    double *g1 = nde_alloc_array(np, sizeof *g1), *g2 = nde_alloc_array(np, sizeof *g2);
    cr_assert(g1 && g2);
    check_operator_ode(f, p, rtol, NDE_TAPE_STAGES, g1);
    check_operator_ode(f, p, rtol, NDE_TAPE_CHECKPOINT, g2);
    cr_assert_eq(memcmp(g1, g2, np * sizeof *g1), 0, "checkpointed gradient differs");
    nde_free(g1);
    nde_free(g2);
}

Test(operator_ode, fno_vector_field_gradient_matches_finite_differences)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.precision = NDE_PRECISION_FLOAT64; /* finite differences need double */
    sp.width = 3;
    sp.n_modes[0] = 3;
    sp.n_layers = 2;
    sp.proj_hidden[0] = 4;
    nde_fno *fno;
    nde_params *p;
    CHECK(nde_params_create(&p));
    CHECK(nde_fno_create(ctx, p, &sp, &fno));
    nde_rng r;
    nde_rng_seed(&r, 5);
    nde_fno_init(fno, &r);
    size_t n = 8;
    nde_fno_work *w;
    CHECK(nde_fno_work_create(fno, B, &n, &w));
    nde_field f;
    CHECK(nde_fno_field(fno, w, &f));
    cr_assert_eq(f.dim, 8);
    check_both_tapes(&f, nde_fno_params(fno), 1e-9);
    nde_fno_work_destroy(&w);
    nde_fno_destroy(&fno);
    nde_params_destroy(&p);
    nde_ctx_destroy(&ctx);
}

Test(operator_ode, mgno_vector_field_gradient_matches_finite_differences)
{
    nde_mgno_spec sp = {.ndim = 2, .n = {8, 8}, .c_in = 1, .c_out = 1, .width = 2,
                        .n_layers = 1, .levels = 2, .pre = {1, 1}, .post = {1, 0},
                        .pad_mode = NDE_PAD_ZERO};
    nde_params *p;
    CHECK(nde_params_create(&p));
    nde_rng r;
    nde_rng_seed(&r, 6);
    nde_mgno *m;
    CHECK(nde_mgno_create(&sp, p, "mg", &m));
    CHECK(nde_mgno_init(m, &r));
    nde_field f = nde_mgno_field(m);
    CHECK(nde_field_check(&f, 1));
    cr_assert_eq(f.dim, 64);
    check_both_tapes(&f, p, 1e-6);
    nde_mgno_destroy(&m);
    nde_params_destroy(&p);
}
