/* The model interface: every model's gradient through nde_model_forward/backward against
 * finite differences, ownership on success and failure, the neural ODE as a model. */
#include <criterion/criterion.h>
#include <string.h>

#include "model_check.h"
#include "nde/nde.h"
#include "nde_config.h"

#define CHECK(x) cr_assert_eq((x), NDE_OK, "%s", nde_last_error())

static void fill(double *v, size_t n, uint64_t seed, double scale)
{
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) v[i] = scale * nde_rng_normal(&rng);
}

Test(model, mlp_gradient)
{
    nde_model *m;
    nde_mlp_spec spec = {.in = 3, .out = 2, .hidden = {5, 4}, .act = NDE_ACT_TANH};
    CHECK(nde_model_mlp_create(&spec, "mlp", NDE_INIT_TORCH, 0.0, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 3);
    CHECK(nde_model_init(m, &rng));
    cr_assert_str_eq(nde_model_kind(m), "mlp");
    cr_assert_eq(nde_model_in_size(m), 3);
    cr_assert_eq(nde_model_out_size(m), 2);
    cr_assert_eq(nde_model_n_params(m), 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2);
    cr_assert_not_null(nde_params_find(nde_model_params(m), "mlp.1.weight"));
    double x[4 * 3];
    fill(x, 12, 7, 1.0);
    model_check_grad(m, x, 4, 1e-6, 1e-7, 11);
    nde_model_destroy(&m);
    cr_assert_null(m);
    nde_model_destroy(&m); /* NULL-safe */
}

/* A user's model: y = W x + b (2 → 2) with a hand-written backward; it keeps the last
 * forward's input, which dW needs. */
static int user_destroyed;

typedef struct affine {
    double x[2 * 8]; /* the last forward's input (batch <= 8) */
} affine;

static nde_status affine_fwd(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    if (self) memcpy(((affine *)self)->x, x, 2 * batch * sizeof *x);
    const double *W = nde_params_theta(p), *b = W + 4;
    for (size_t s = 0; s < batch; s++)
        for (int i = 0; i < 2; i++)
            y[2 * s + i] = W[2 * i] * x[2 * s] + W[2 * i + 1] * x[2 * s + 1] + b[i];
    return NDE_OK;
}

static nde_status affine_bwd(void *self, nde_params *p, const double *gy, double *gx,
                             double *gtheta, size_t batch)
{
    const double *W = nde_params_theta(p), *x = ((affine *)self)->x;
    for (size_t s = 0; s < batch; s++)
        for (int i = 0; gtheta && i < 2; i++) {
            gtheta[2 * i] += gy[2 * s + i] * x[2 * s];
            gtheta[2 * i + 1] += gy[2 * s + i] * x[2 * s + 1];
            gtheta[4 + i] += gy[2 * s + i];
        }
    for (size_t s = 0; gx && s < batch; s++)
        for (int j = 0; j < 2; j++) gx[2 * s + j] = gy[2 * s] * W[j] + gy[2 * s + 1] * W[2 + j];
    return NDE_OK;
}

static nde_status affine_init(void *self, nde_params *p, nde_rng *rng)
{
    (void)self;
    nde_init_normal(rng, 0.0, 1.0, nde_params_theta(p), nde_params_count(p));
    return NDE_OK;
}

static void affine_destroy(void *self)
{
    user_destroyed++;
    nde_free(self);
}

static const nde_model_ops affine_ops = {.kind = "affine", .forward = affine_fwd,
                                         .backward = affine_bwd, .init = affine_init,
                                         .destroy = affine_destroy};

static nde_status affine_create(nde_model **m)
{
    nde_params *p;
    NDE_TRY(nde_params_create(&p));
    nde_status st = nde_params_add(p, "W", 2, (size_t[]){2, 2}, NDE_GROUP_DEFAULT, NULL);
    if (st == NDE_OK) st = nde_params_add(p, "b", 1, (size_t[]){2}, NDE_GROUP_NO_DECAY, NULL);
    affine *a = nde_alloc(sizeof *a);
    if (st != NDE_OK || !a) {
        nde_free(a);
        nde_params_destroy(&p);
        return st != NDE_OK ? st : NDE_ERR_NOMEM;
    }
    return nde_model_create(&affine_ops, a, p, 2, 2, m);
}

Test(model, user_model_gradient_and_ownership)
{
    user_destroyed = 0;
    nde_model *m;
    CHECK(affine_create(&m));
    nde_rng rng;
    nde_rng_seed(&rng, 5);
    CHECK(nde_model_init(m, &rng));
    double x[3 * 2];
    fill(x, 6, 9, 1.0);
    model_check_grad(m, x, 3, 1e-6, 1e-8, 2);
    nde_field f;
    cr_assert_eq(nde_model_field(m, &f), NDE_ERR_UNSUPPORTED);
    cr_assert(strstr(nde_last_error(), "affine") != NULL);
    nde_model_destroy(&m);
    cr_assert_eq(user_destroyed, 1);
}

Test(model, create_takes_ownership_on_failure)
{
    user_destroyed = 0;
    nde_params *p;
    CHECK(nde_params_create(&p));
    nde_model *m = (nde_model *)&m;
    affine *a = nde_alloc(sizeof *a);
    /* in_size 0 is rejected; content and store are freed (ASan/valgrind see no leak) */
    cr_assert_eq(nde_model_create(&affine_ops, a, p, 0, 2, &m), NDE_ERR_ARG);
    cr_assert_null(m);
    cr_assert_eq(user_destroyed, 1);
    static const nde_model_ops no_bwd = {.kind = "half", .forward = affine_fwd};
    CHECK(nde_params_create(&p));
    cr_assert_eq(nde_model_create(&no_bwd, NULL, p, 2, 2, &m), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "half") != NULL);
    cr_assert_eq(nde_model_forward(NULL, NULL, NULL, 1), NDE_ERR_ARG);
}

/* du/dt = MLP(u) as a model: forward = solve, backward = discrete adjoint; finite
 * differences with the steps of the first solve frozen (the discrete solution's
 * gradient). Both output layouts. */
static void node_case(nde_node_output output, nde_tape tape)
{
    nde_model *field, *node;
    nde_mlp_spec spec = {.in = 2, .out = 2, .hidden = {6}, .act = NDE_ACT_TANH, .time = NDE_TIME_FIRST};
    CHECK(nde_model_mlp_create(&spec, "f", NDE_INIT_NORMAL, 0.5, &field));
    double ts[4] = {0.0, 0.3, 0.7, 1.0};
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_TSIT5), .ts = ts, .nt = 4, .output = output};
    ns.solver.rtol = 1e-6;
    ns.solver.atol = 1e-8;
    ns.solver.tape = tape;
    CHECK(nde_model_node_create(NULL, field, &ns, &node));
    cr_assert_eq(nde_model_node_field_model(node), field);
    cr_assert_eq(nde_model_out_size(node), output == NDE_NODE_FINAL ? 2 : 8);
    nde_rng rng;
    nde_rng_seed(&rng, 21);
    CHECK(nde_model_init(node, &rng));
    double x[3 * 2];
    fill(x, 6, 4, 1.0);
    double y[3 * 8];
    CHECK(nde_model_forward(node, x, y, 3));
    size_t n_steps;
    nde_solver_steps(nde_model_node_solver(node), &n_steps);
    cr_assert_gt(n_steps, 2);
    /* the trajectory layout is sample-major: sample 1's first save time is its u0 */
    if (output == NDE_NODE_TRAJECTORY) cr_assert_eq(memcmp(y + 8, x + 2, 2 * sizeof *y), 0);
    CHECK(nde_solver_freeze_steps(nde_model_node_solver(node)));
    model_check_grad(node, x, 3, 1e-6, 1e-6, 8);
    nde_model_destroy(&node);
}

Test(model, neural_ode_gradient_trajectory) { node_case(NDE_NODE_TRAJECTORY, NDE_TAPE_STAGES); }
Test(model, neural_ode_gradient_final_step_starts) { node_case(NDE_NODE_FINAL, NDE_TAPE_STEP_STARTS); }

Test(model, neural_ode_eval_mode_keeps_no_tape)
{
    nde_model *field, *node;
    nde_mlp_spec spec = {.in = 2, .out = 2, .hidden = {4}, .act = NDE_ACT_TANH};
    CHECK(nde_model_mlp_create(&spec, "f", NDE_INIT_NORMAL, 0.3, &field));
    double ts[2] = {0.0, 1.0};
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_DOPRI5), .ts = ts, .nt = 2,
                        .output = NDE_NODE_FINAL};
    CHECK(nde_model_node_create(NULL, field, &ns, &node));
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    CHECK(nde_model_init(node, &rng));
    double x[2] = {1.0, -0.5}, y_train[2], y_eval[2], g[2] = {1.0, 1.0};
    CHECK(nde_model_forward(node, x, y_train, 1));
    CHECK(nde_model_set_training(node, 0));
    CHECK(nde_model_forward(node, x, y_eval, 1));
    cr_assert_eq(memcmp(y_train, y_eval, sizeof y_eval), 0, "same solve with and without a tape");
    cr_assert_eq(nde_model_backward(node, g, NULL, NULL, 1), NDE_ERR_STATE);
    cr_assert(strstr(nde_last_error(), "evaluation") != NULL);
    nde_model_destroy(&node);
}

Test(model, neural_ode_rejects_bad_spec_and_frees_field)
{
    nde_model *field, *node = NULL;
    nde_mlp_spec spec = {.in = 2, .out = 3, .hidden = {4}, .act = NDE_ACT_TANH};
    CHECK(nde_model_mlp_create(&spec, "f", NDE_INIT_TORCH, 0.0, &field));
    double ts[2] = {0.0, 1.0};
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_DOPRI5), .ts = ts, .nt = 2};
    /* in 2 ≠ out 3: not a field; the wrapped model is freed (no leak under ASan) */
    cr_assert_neq(nde_model_node_create(NULL, field, &ns, &node), NDE_OK);
    cr_assert_null(node);
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 2, .hidden = {3}}, "f",
                               NDE_INIT_TORCH, 0.0, &field));
    ns.nt = 1;
    cr_assert_eq(nde_model_node_create(NULL, field, &ns, &node), NDE_ERR_ARG);
}

Test(model, fno_gradient)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.precision = NDE_PRECISION_FLOAT64; /* finite differences need double */
    sp.n_modes[0] = 3;
    sp.width = 3;
    sp.n_layers = 2;
    sp.proj_hidden[0] = 5;
    const size_t n = 8;
    nde_model *m;
    CHECK(nde_model_fno_create(ctx, &sp, &n, 2, 1, &m));
    cr_assert_str_eq(nde_model_kind(m), "fno");
    cr_assert_eq(nde_model_in_size(m), 8);
    cr_assert_not_null(nde_model_fno_net(m));
    nde_rng rng;
    nde_rng_seed(&rng, 6);
    CHECK(nde_model_init(m, &rng));
    double x[2 * 8];
    fill(x, 16, 3, 1.0);
    model_check_grad(m, x, 2, 1e-6, 1e-6, 5);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
}

Test(model, fno2d_gradient)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    nde_fno_spec sp = nde_fno2d_darcy_spec();
    sp.precision = NDE_PRECISION_FLOAT64; /* finite differences need double */
    sp.n_modes[0] = sp.n_modes[1] = 2;
    sp.width = 2;
    sp.n_layers = 1;
    sp.proj_hidden[0] = 3;
    sp.padding = 0.0;
    const size_t n[2] = {6, 6};
    nde_model *m;
    CHECK(nde_model_fno_create(ctx, &sp, n, 1, 1, &m));
    cr_assert_eq(nde_model_out_size(m), 36);
    nde_rng rng;
    nde_rng_seed(&rng, 7);
    CHECK(nde_model_init(m, &rng));
    double x[36];
    fill(x, 36, 8, 1.0);
    model_check_grad(m, x, 1, 1e-6, 1e-6, 9);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
}

Test(model, mgno_gradient)
{
    nde_mgno_spec sp = {.ndim = 1, .n = {8, 0}, .c_in = 1, .c_out = 1, .width = 3, .n_layers = 1,
                        .levels = 2, .pre = {1, 2}, .post = {1, 0}, .pad_mode = NDE_PAD_ZERO,
                        .bias = 1};
    nde_model *m;
    CHECK(nde_model_mgno_create(&sp, "mgno", 2, &m));
    cr_assert_str_eq(nde_model_kind(m), "mgno");
    cr_assert_eq(nde_model_n_params(m), nde_mgno_n_params(nde_model_mgno_net(m)));
    nde_rng rng;
    nde_rng_seed(&rng, 8);
    CHECK(nde_model_init(m, &rng));
    double x[2 * 8];
    fill(x, 16, 1, 1.0);
    model_check_grad(m, x, 2, 1e-6, 1e-6, 4);
    nde_field f;
    CHECK(nde_model_field(m, &f));
    cr_assert_eq(f.dim, 8);
    nde_model_destroy(&m);
}

/* The neural ODE with a continuous adjoint: at tight tolerances its gradient (of the exact
 * flow) agrees with the differences of the discrete solution to about the tolerance. */
Test(model, neural_ode_continuous_adjoint)
{
    const nde_adjoint_kind kinds[2] = {NDE_ADJ_BACKSOLVE, NDE_ADJ_INTERPOLATING};
    for (int k = 0; k < 2; k++) {
        nde_model *field, *node;
        nde_mlp_spec spec = {.in = 2, .out = 2, .hidden = {5}, .act = NDE_ACT_TANH};
        CHECK(nde_model_mlp_create(&spec, "f", NDE_INIT_NORMAL, 0.5, &field));
        double ts[3] = {0.0, 0.5, 1.0};
        nde_adjoint_opts ao = nde_adjoint_defaults(NULL, kinds[k]);
        ao.cont.rtol = 1e-11;
        ao.cont.atol = 1e-12;
        nde_node_spec ns = {.solver = nde_solver_defaults(NDE_DOPRI5), .ts = ts, .nt = 3,
                            .adjoint = &ao};
        ns.solver.rtol = 1e-11;
        ns.solver.atol = 1e-12;
        CHECK(nde_model_node_create(NULL, field, &ns, &node));
        nde_rng rng;
        nde_rng_seed(&rng, 30 + k);
        CHECK(nde_model_init(node, &rng));
        double x[2 * 2];
        fill(x, 4, 12, 1.0);
        double y[2 * 6];
        CHECK(nde_model_forward(node, x, y, 2));
        CHECK(nde_solver_freeze_steps(nde_model_node_solver(node)));
        model_check_grad(node, x, 2, 1e-6, 1e-6, 13);
        nde_model_destroy(&node);
    }
}

#if NDE_HAVE_SUNDIALS
/* The neural ODE on CVODES BDF with the CVODES adjoint (no discrete tape on a SUNDIALS
 * method): at tight tolerances its gradient agrees with central differences. */
Test(model, neural_ode_cvodes_adjoint)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    nde_model *field, *node;
    nde_mlp_spec spec = {.in = 2, .out = 2, .hidden = {4}, .act = NDE_ACT_TANH};
    CHECK(nde_model_mlp_create(&spec, "f", NDE_INIT_NORMAL, 0.5, &field));
    double ts[3] = {0.0, 0.5, 1.0};
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_CVODE_BDF), .ts = ts, .nt = 3};
    ns.solver.rtol = 1e-10;
    ns.solver.atol = 1e-12;
    nde_adjoint_opts ao = nde_adjoint_defaults(NULL, NDE_ADJ_CVODES);
    ao.cont.method = NDE_CVODE_BDF;
    ao.cont.rtol = 1e-10;
    ao.cont.atol = 1e-12;
    ns.adjoint = &ao;
    CHECK(nde_model_node_create(ctx, field, &ns, &node));
    nde_rng rng;
    nde_rng_seed(&rng, 41);
    CHECK(nde_model_init(node, &rng));
    double x[2 * 2];
    fill(x, 4, 14, 1.0);
    model_check_grad(node, x, 2, 1e-5, 1e-5, 15);
    nde_model_destroy(&node);
    nde_ctx_destroy(&ctx);
}
#endif

Test(model, neural_ode_regularizer_needs_a_discrete_adjoint)
{
    nde_model *field, *node = NULL;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 2, .hidden = {3}}, "f",
                               NDE_INIT_TORCH, 0.0, &field));
    nde_reg *reg;
    nde_reg_spec rs = nde_reg_error_estimate(0.1);
    CHECK(nde_reg_create(&rs, &reg));
    double ts[2] = {0.0, 1.0};
    nde_adjoint_opts ao = nde_adjoint_defaults(NULL, NDE_ADJ_BACKSOLVE);
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_DOPRI5), .ts = ts, .nt = 2, .reg = reg,
                        .adjoint = &ao};
    cr_assert_eq(nde_model_node_create(NULL, field, &ns, &node), NDE_ERR_UNSUPPORTED);
    cr_assert_null(node);
    nde_reg_destroy(&reg);
}
