/* The neural SDE as a model (nde_model_sde_create): gradients through the model interface
 * against central differences on a held Brownian path with frozen steps, for each output
 * layout and noise type and with an ERNSDE regularizer; a trainer run that lowers the
 * moment-matching loss and gives the same bits for the same seed; bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_check.h"
#include "nde/nde.h"
#include "numcheck.h"

#define CHECK(x) cr_assert_eq((x), NDE_OK, "%s", nde_last_error())

static void fill(double *a, size_t n, uint64_t seed, double scale)
{
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) a[i] = scale * nde_rng_normal(&rng);
}

/* drift MLP(t, u) and diffusion MLP(t, u) on dim 2, wrapped as a neural SDE */
static nde_model *make_sde(nde_sde_model_spec *spec, uint64_t seed)
{
    nde_model *f, *g, *m;
    nde_mlp_spec ms = {.in = 2, .out = 2, .hidden = {5}, .act = NDE_ACT_TANH, .time = NDE_TIME_FIRST};
    CHECK(nde_model_mlp_create(&ms, "f", NDE_INIT_NORMAL, 0.5, &f));
    CHECK(nde_model_mlp_create(&ms, "g", NDE_INIT_NORMAL, 0.3, &g));
    CHECK(nde_model_sde_create(NULL, f, g, spec, &m));
    cr_assert_str_eq(nde_model_kind(m), "sde");
    cr_assert_eq(nde_model_n_params(m), nde_model_n_params(nde_model_sde_drift_model(m)) +
                                            nde_model_n_params(nde_model_sde_diffusion_model(m)));
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    CHECK(nde_model_init(m, &rng));
    return m;
}

static const double g_ts[3] = {0.0, 0.4, 1.0};

static void grad_case(nde_noise noise, nde_sde_method method, nde_sde_output output)
{
    nde_sde_model_spec spec = {.noise = noise, .solver = nde_sde_defaults(method), .ts = g_ts,
                               .nt = 3, .output = output, .n_paths = 4, .seed = 5};
    spec.solver.rtol = spec.solver.atol = 1e-2;
    spec.solver.h0 = 0.1;
    nde_model *m = make_sde(&spec, 11);
    double x[3 * 2];
    fill(x, 6, 3, 1.0);
    double y[3 * 3 * 4];
    CHECK(nde_model_forward(m, x, y, 3));
    size_t n_steps;
    nde_sde_steps(nde_model_sde_solver(m), &n_steps);
    cr_assert_gt(n_steps, 2);
    if (output == NDE_SDE_OUT_TRAJECTORY) cr_assert_eq(memcmp(y + 6, x + 2, 2 * sizeof *y), 0);
    /* hold the path and the steps; a second forward gives the same bits */
    CHECK(nde_model_sde_hold(m, 1));
    double y2[3 * 3 * 4];
    CHECK(nde_model_forward(m, x, y2, 3));
    cr_assert_eq(memcmp(y, y2, 3 * nde_model_out_size(m) * sizeof *y), 0);
    model_check_grad(m, x, 3, 1e-6, 1e-6, 8);
    /* released: a fresh path gives other values */
    CHECK(nde_model_sde_hold(m, 0));
    CHECK(nde_model_forward(m, x, y2, 3));
    cr_assert_neq(memcmp(y, y2, 3 * nde_model_out_size(m) * sizeof *y), 0);
    /* an evaluation-mode forward counts on the evaluation solver, not the training one */
    const size_t train_nfe = nde_sde_get_stats(nde_model_sde_solver(m))->nfe;
    cr_assert_neq(nde_model_sde_eval_solver(m), nde_model_sde_solver(m));
    CHECK(nde_model_set_training(m, 0));
    CHECK(nde_model_forward(m, x, y2, 3));
    cr_assert_gt(nde_sde_get_stats(nde_model_sde_eval_solver(m))->nfe, 0);
    cr_assert_eq(nde_sde_get_stats(nde_model_sde_solver(m))->nfe, train_nfe);
    nde_model_destroy(&m);
}

Test(model_sde, gradient_diagonal_sosri_trajectory)
{
    grad_case(NDE_NOISE_DIAGONAL, NDE_SDE_SOSRI, NDE_SDE_OUT_TRAJECTORY);
}
Test(model_sde, gradient_scalar_sriw1_final)
{
    grad_case(NDE_NOISE_SCALAR, NDE_SDE_SRIW1, NDE_SDE_OUT_FINAL);
}
Test(model_sde, gradient_additive_sra1_moments)
{
    grad_case(NDE_NOISE_ADDITIVE, NDE_SDE_SRA1, NDE_SDE_OUT_MOMENTS);
}
Test(model_sde, gradient_diagonal_em_moments)
{
    grad_case(NDE_NOISE_DIAGONAL, NDE_SDE_EM, NDE_SDE_OUT_MOMENTS);
}

/* ERNSDE: the backward adds the regularizer's gradient; L = Σ w·y + R against central
 * differences over θ on the held path. */
Test(model_sde, gradient_with_ernsde_regularizer)
{
    nde_reg *reg;
    nde_reg_spec rs = nde_reg_error_estimate(0.7);
    CHECK(nde_reg_create(&rs, &reg));
    nde_sde_model_spec spec = {.noise = NDE_NOISE_DIAGONAL, .solver = nde_sde_defaults(NDE_SDE_SOSRI),
                               .ts = g_ts, .nt = 3, .output = NDE_SDE_OUT_FINAL, .seed = 9, .reg = reg};
    spec.solver.rtol = spec.solver.atol = 1e-2;
    nde_model *m = make_sde(&spec, 12);
    double x[2 * 2], y[2 * 2], w[2 * 2];
    fill(x, 4, 4, 1.0);
    fill(w, 4, 6, 1.0);
    CHECK(nde_model_forward(m, x, y, 2));
    const double r0 = nde_model_sde_reg_value(m);
    cr_assert_gt(r0, 0.0);
    CHECK(nde_model_sde_hold(m, 1));
    nde_params *p = nde_model_params(m);
    const size_t np = nde_params_count(p);
    double *g = nde_alloc_array(np, sizeof *g), *fd = nde_alloc_array(np, sizeof *fd);
    cr_assert(g && fd);
    memset(g, 0, np * sizeof *g);
    CHECK(nde_model_forward(m, x, y, 2));
    cr_assert_eq(nde_model_sde_reg_value(m), r0);
    CHECK(nde_model_backward(m, w, NULL, g, 2));
    double *th = nde_params_theta(p);
    for (size_t i = 0; i < np; i++) {
        double l[2];
        const double t0 = th[i], h = 1e-6 * (1.0 + fabs(t0));
        for (int s = 0; s < 2; s++) {
            th[i] = t0 + (s ? -h : h);
            CHECK(nde_model_forward(m, x, y, 2));
            l[s] = nde_model_sde_reg_value(m);
            for (size_t k = 0; k < 4; k++) l[s] += w[k] * y[k];
        }
        th[i] = t0;
        fd[i] = (l[0] - l[1]) / (2.0 * h);
    }
    const double e = rel_err(g, fd, np);
    cr_expect(e <= 1e-6, "ERNSDE model gradient relative error %.3g", e);
    nde_free(g), nde_free(fd);
    nde_model_destroy(&m);
    nde_reg_destroy(&reg);
}

/* A regularized model's gradient (θ of drift and diffusion, and x) of L = Σ w·y + R by the
 * backward into g (np) and gx (4); with fd, against central differences on the held path
 * (the local regularizer's drawn time or step is held with it). */
static void reg_grad(const nde_reg_spec *rs, nde_sde_output out, nde_tape tape, int fd_check,
                     double *g, double *gx)
{
    nde_reg *reg;
    CHECK(nde_reg_create(rs, &reg));
    nde_sde_model_spec spec = {.noise = NDE_NOISE_DIAGONAL, .solver = nde_sde_defaults(NDE_SDE_SOSRI),
                               .ts = g_ts, .nt = 3, .output = out, .seed = 9, .reg = reg};
    spec.solver.rtol = spec.solver.atol = 1e-2;
    spec.solver.tape = tape;
    spec.solver.checkpoint_every = 2;
    nde_model *m = make_sde(&spec, 12);
    const size_t ny = 2 * nde_model_out_size(m);
    double x[2 * 2], y[2 * 3 * 2], w[2 * 3 * 2];
    fill(x, 4, 4, 1.0);
    fill(w, ny, 6, 1.0);
    CHECK(nde_model_forward(m, x, y, 2));
    if (out == NDE_SDE_OUT_TRAJECTORY) /* t_reg is not an output row */
        cr_assert_eq(memcmp(y + 6, x + 2, 2 * sizeof *y), 0);
    const double r0 = nde_model_sde_reg_value(m);
    cr_assert_gt(r0, 0.0);
    CHECK(nde_model_sde_hold(m, 1));
    nde_params *p = nde_model_params(m);
    const size_t np = nde_params_count(p);
    double *fd = nde_alloc_array(np + 4, sizeof *fd);
    cr_assert(fd);
    memset(g, 0, np * sizeof *g);
    CHECK(nde_model_forward(m, x, y, 2));
    cr_assert_eq(nde_model_sde_reg_value(m), r0);
    CHECK(nde_model_backward(m, w, gx, g, 2));
    if (fd_check) {
        double *th = nde_params_theta(p);
        for (size_t i = 0; i < np + 4; i++) {
            double *v = i < np ? th + i : x + (i - np);
            double l[2];
            const double v0 = *v, h = 1e-6 * (1.0 + fabs(v0));
            for (int sgn = 0; sgn < 2; sgn++) {
                *v = v0 + (sgn ? -h : h);
                CHECK(nde_model_forward(m, x, y, 2));
                l[sgn] = nde_model_sde_reg_value(m);
                for (size_t k = 0; k < ny; k++) l[sgn] += w[k] * y[k];
            }
            *v = v0;
            fd[i] = (l[0] - l[1]) / (2.0 * h);
        }
        const double e = rel_err(g, fd, np), ex = rel_err(gx, fd + np, 4);
        cr_expect(e <= 1e-6 && ex <= 1e-6, "regularized model gradient relative error θ %.3g, x %.3g",
                  e, ex);
        cr_log_info("agg %d, output %d: R = %.6g, relative gradient error θ %.2e, x %.2e",
                    (int)rs->agg, (int)out, r0, e, ex);
    }
    nde_free(fd);
    nde_model_destroy(&m);
    nde_reg_destroy(&reg);
}

/* Local ERNSDE (unbiased: t_reg added to the training solve's save times but not to the
 * output; biased: a step drawn after the solve) through the model's backward. */
Test(model_sde, gradient_with_local_ernsde_regularizer)
{
    double g[256], gx[4];
    nde_reg_spec u = nde_sde_reg_local(1.5, NDE_LOCAL_UNBIASED);
    nde_reg_spec b = nde_sde_reg_local(1.5, NDE_LOCAL_BIASED);
    reg_grad(&u, NDE_SDE_OUT_TRAJECTORY, NDE_TAPE_NONE, 1, g, gx);
    reg_grad(&b, NDE_SDE_OUT_FINAL, NDE_TAPE_NONE, 1, g, gx);
}

/* The model's training tape (spec.solver.tape): stages, step starts and checkpoints every
 * 2nd step give the same bits of gradient. */
Test(model_sde, tape_modes_same_gradient)
{
    double g[3][256] = {{0}}, gx[3][4];
    nde_reg_spec u = nde_sde_reg_local(1.5, NDE_LOCAL_UNBIASED);
    const nde_tape tapes[3] = {NDE_TAPE_STEP_STARTS, NDE_TAPE_STAGES, NDE_TAPE_CHECKPOINT};
    for (int t = 0; t < 3; t++) reg_grad(&u, NDE_SDE_OUT_TRAJECTORY, tapes[t], 0, g[t], gx[t]);
    for (int t = 1; t < 3; t++) {
        cr_assert_eq(memcmp(g[t], g[0], sizeof g[0]), 0, "tape %d: θ gradient differs", t);
        cr_assert_eq(memcmp(gx[t], gx[0], sizeof gx[0]), 0, "tape %d: x gradient differs", t);
    }
}

/* Moment matching through the trainer: targets are the mean and variance of a known SDE
 * (du = −u dt + 0.5 dW from u0: mean u0 e^{−t}, variance (1 − e^{−2t})/8) at the save
 * times. The loss falls; the same seeds give the same bits. */
static void train_once(double *theta_out, size_t *np_out, double *first, double *last)
{
    nde_sde_model_spec spec = {.noise = NDE_NOISE_DIAGONAL, .solver = nde_sde_defaults(NDE_SDE_EM),
                               .ts = g_ts, .nt = 3, .output = NDE_SDE_OUT_MOMENTS, .n_paths = 32,
                               .seed = 17};
    spec.solver.h0 = 0.1;
    nde_model *m = make_sde(&spec, 13);
    enum { N = 4 };
    double x[N * 2], y[N * 3 * 4];
    fill(x, N * 2, 21, 1.0);
    for (size_t b = 0; b < N; b++)
        for (size_t k = 0; k < 3; k++)
            for (size_t i = 0; i < 2; i++) {
                double *row = y + (b * 3 + k) * 4;
                row[i] = x[b * 2 + i] * exp(-g_ts[k]);
                row[2 + i] = (1.0 - exp(-2.0 * g_ts[k])) / 8.0;
            }
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 2;
    ts.epochs = 30;
    ts.optim.lr = 2e-2;
    ts.loss = nde_loss_mse();
    ts.seed = 3;
    ts.progress = 0;
    ts.eval_every = 0;
    nde_data d = {.n = N, .x_size = 2, .y_size = 12, .x = x, .y = y};
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    ts.epochs = 1;
    CHECK(nde_trainer_run(tr));
    *first = nde_trainer_train_loss(tr);
    nde_trainer_destroy(&tr);
    ts.epochs = 30;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    CHECK(nde_trainer_run(tr));
    *last = nde_trainer_train_loss(tr);
    nde_trainer_destroy(&tr);
    *np_out = nde_model_n_params(m);
    memcpy(theta_out, nde_params_theta(nde_model_params(m)), *np_out * sizeof *theta_out);
    nde_model_destroy(&m);
}

Test(model_sde, trainer_lowers_moment_loss_same_bits)
{
    double th1[256], th2[256], f1, l1, f2, l2;
    size_t n1, n2;
    train_once(th1, &n1, &f1, &l1);
    train_once(th2, &n2, &f2, &l2);
    cr_assert_lt(n1, 256);
    cr_expect_lt(l1, 0.5 * f1, "moment loss %g after 30 epochs, %g after the first", l1, f1);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(th1, th2, n1 * sizeof *th1), 0, "same seeds, different θ");
    cr_assert_eq(memcmp(&l1, &l2, sizeof l1), 0);
}

/* A run interrupted after epoch 3 and resumed from its checkpoint ends with the bits of
 * an uninterrupted run when the path generator is reseeded from the step (the trainer's
 * checkpoint does not hold it); without reseeding the resumed run draws other paths. */
static int reseed(const nde_train_info *info, void *user)
{
    (void)user;
    return nde_model_sde_reseed(info->model, 1000 + info->step) != NDE_OK;
}

static int stop_at_3(const nde_train_info *info, void *user)
{
    (void)user;
    return info->epoch == 3;
}

static void resume_run(int interrupt, int use_reseed, double *theta, size_t *np)
{
    nde_sde_model_spec spec = {.noise = NDE_NOISE_DIAGONAL, .solver = nde_sde_defaults(NDE_SDE_EM),
                               .ts = g_ts, .nt = 3, .output = NDE_SDE_OUT_MOMENTS, .n_paths = 8,
                               .seed = 4};
    spec.solver.h0 = 0.2;
    nde_model *m = make_sde(&spec, 14);
    double x[2 * 2], y[2 * 12];
    fill(x, 4, 22, 1.0);
    fill(y, 24, 23, 0.5);
    nde_data d = {.n = 2, .x_size = 2, .y_size = 12, .x = x, .y = y};
    mkdir("model_sde_test_out", 0755);
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 1;
    ts.epochs = 6;
    ts.loss = nde_loss_mse();
    ts.progress = 0;
    ts.eval_every = 0;
    ts.checkpoint_path = "model_sde_test_out/ckpt.safetensors";
    ts.on_step_begin = use_reseed ? reseed : NULL;
    ts.on_epoch = interrupt ? stop_at_3 : NULL;
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    nde_status st = nde_trainer_run(tr);
    cr_assert_eq(st, interrupt ? NDE_ERR_STOPPED : NDE_OK, "%s", nde_last_error());
    nde_trainer_destroy(&tr);
    if (interrupt) { /* a new process: a fresh model, resumed from the checkpoint */
        nde_model_destroy(&m);
        m = make_sde(&spec, 99);
        ts.on_epoch = NULL;
        CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
        CHECK(nde_trainer_resume(tr, ts.checkpoint_path));
        CHECK(nde_trainer_run(tr));
        cr_assert_eq(nde_trainer_step(tr), 12);
        nde_trainer_destroy(&tr);
    }
    *np = nde_model_n_params(m);
    memcpy(theta, nde_params_theta(nde_model_params(m)), *np * sizeof *theta);
    nde_model_destroy(&m);
    remove(ts.checkpoint_path); /* nothing left in the working directory */
    rmdir("model_sde_test_out");
}

Test(model_sde, resume_with_reseed_is_bit_exact)
{
    double a[256], b[256], c[256], e[256];
    size_t na, nb, nc, ne;
    resume_run(0, 1, a, &na);
    resume_run(1, 1, b, &nb);
    cr_assert(na == nb && na < 256);
    cr_assert_eq(memcmp(a, b, na * sizeof *a), 0, "θ differs after a reseeded resume");
    resume_run(0, 0, c, &nc);
    resume_run(1, 0, e, &ne);
    cr_assert_neq(memcmp(c, e, nc * sizeof *c), 0, "without reseeding the paths should differ");
}

Test(model_sde, bad_input)
{
    nde_model *f, *g, *m = (nde_model *)1;
    nde_mlp_spec ms = {.in = 2, .out = 2, .hidden = {3}, .act = NDE_ACT_TANH};
    nde_mlp_spec ms3 = {.in = 3, .out = 3, .hidden = {3}, .act = NDE_ACT_TANH};
    nde_sde_model_spec spec = {.noise = NDE_NOISE_GENERAL, .solver = nde_sde_defaults(NDE_SDE_EM),
                               .ts = g_ts, .nt = 3};
    /* general noise: both models are freed (valgrind/ASan see no leak) */
    CHECK(nde_model_mlp_create(&ms, "f", NDE_INIT_NORMAL, 0.5, &f));
    CHECK(nde_model_mlp_create(&ms, "g", NDE_INIT_NORMAL, 0.5, &g));
    cr_assert_eq(nde_model_sde_create(NULL, f, g, &spec, &m), NDE_ERR_UNSUPPORTED);
    cr_assert_null(m);
    /* dims differ */
    spec.noise = NDE_NOISE_DIAGONAL;
    CHECK(nde_model_mlp_create(&ms, "f", NDE_INIT_NORMAL, 0.5, &f));
    CHECK(nde_model_mlp_create(&ms3, "g", NDE_INIT_NORMAL, 0.5, &g));
    cr_assert_eq(nde_model_sde_create(NULL, f, g, &spec, &m), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "dim 2") != NULL, "%s", nde_last_error());
    /* moments over one path; too few save times */
    spec.output = NDE_SDE_OUT_MOMENTS;
    spec.n_paths = 1;
    CHECK(nde_model_mlp_create(&ms, "f", NDE_INIT_NORMAL, 0.5, &f));
    CHECK(nde_model_mlp_create(&ms, "g", NDE_INIT_NORMAL, 0.5, &g));
    cr_assert_eq(nde_model_sde_create(NULL, f, g, &spec, &m), NDE_ERR_ARG);
    spec.output = NDE_SDE_OUT_FINAL;
    spec.nt = 1;
    CHECK(nde_model_mlp_create(&ms, "f", NDE_INIT_NORMAL, 0.5, &f));
    CHECK(nde_model_mlp_create(&ms, "g", NDE_INIT_NORMAL, 0.5, &g));
    cr_assert_eq(nde_model_sde_create(NULL, f, g, &spec, &m), NDE_ERR_ARG);
    /* SRA needs additive noise: the solver's status comes through */
    spec.nt = 3;
    spec.solver = nde_sde_defaults(NDE_SDE_SRA1);
    CHECK(nde_model_mlp_create(&ms, "f", NDE_INIT_NORMAL, 0.5, &f));
    CHECK(nde_model_mlp_create(&ms, "g", NDE_INIT_NORMAL, 0.5, &g));
    cr_assert_eq(nde_model_sde_create(NULL, f, g, &spec, &m), NDE_ERR_UNSUPPORTED);
    /* a (local) ERNSDE regularizer with a method without an error estimate */
    spec.solver = nde_sde_defaults(NDE_SDE_EM);
    nde_reg_spec ls = nde_sde_reg_local(1.0, NDE_LOCAL_UNBIASED);
    CHECK(nde_reg_create(&ls, &spec.reg));
    CHECK(nde_model_mlp_create(&ms, "f", NDE_INIT_NORMAL, 0.5, &f));
    CHECK(nde_model_mlp_create(&ms, "g", NDE_INIT_NORMAL, 0.5, &g));
    cr_assert_eq(nde_model_sde_create(NULL, f, g, &spec, &m), NDE_ERR_UNSUPPORTED);
    cr_assert(strstr(nde_last_error(), "error estimate") != NULL, "%s", nde_last_error());
    nde_reg_destroy(&spec.reg);
    /* holding without a forward; backward without a forward; not an SDE model */
    CHECK(nde_model_mlp_create(&ms, "f", NDE_INIT_NORMAL, 0.5, &f));
    CHECK(nde_model_mlp_create(&ms, "g", NDE_INIT_NORMAL, 0.5, &g));
    CHECK(nde_model_sde_create(NULL, f, g, &spec, &m));
    cr_assert_eq(nde_model_sde_hold(m, 1), NDE_ERR_STATE);
    double gy[2] = {1, 1};
    cr_assert_eq(nde_model_backward(m, gy, NULL, NULL, 1), NDE_ERR_STATE);
    cr_assert_eq(nde_model_sde_hold(nde_model_sde_drift_model(m), 1), NDE_ERR_ARG);
    cr_assert_null(nde_model_sde_solver(nde_model_sde_drift_model(m)));
    cr_assert_null(nde_model_sde_eval_solver(nde_model_sde_drift_model(m)));
    /* a non-finite start is the solver's NDE_ERR_NONFINITE */
    double x[2] = {NAN, 0.0}, y[2];
    cr_assert_eq(nde_model_forward(m, x, y, 1), NDE_ERR_NONFINITE);
    nde_model_destroy(&m);
}
