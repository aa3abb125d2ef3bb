/* The trainer: a fit that converges, bit-exact resume after an interruption at a random
 * step (MLP neural ODE and FNO, also with a moving average of θ), the moving average
 * against a hand loop, the non-finite stop that keeps the last good checkpoint, bad
 * specs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gradcheck.h"
#include "nde/nde.h"

#define CHECK(x) cr_assert_eq((x), NDE_OK, "%s", nde_last_error())

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- a plain fit ---- */

Test(trainer, mlp_fit_decreases_the_loss)
{
    double x[32], y[32];
    for (int i = 0; i < 32; i++) x[i] = i / 16.0 - 1.0, y[i] = sin(2.0 * x[i]);
    nde_model *m;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {16},
                                               .act = NDE_ACT_TANH},
                               "mlp", NDE_INIT_TORCH, 0.0, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    CHECK(nde_model_init(m, &rng));
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 8;
    ts.epochs = 300;
    ts.optim.lr = 1e-2;
    ts.loss = nde_loss_mse();
    ts.progress = 0;
    nde_data d = {.n = 32, .x_size = 1, .y_size = 1, .x = x, .y = y};
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &d, &d, &ts, &tr));
    double before;
    CHECK(nde_trainer_evaluate(tr, &d, &before));
    CHECK(nde_trainer_run(tr));
    cr_assert_eq(nde_trainer_epoch(tr), 300);
    cr_assert_eq(nde_trainer_step(tr), 300 * 4);
    cr_expect_lt(nde_trainer_test_metric(tr), 0.02 * before, "mse %g from %g",
                 nde_trainer_test_metric(tr), before);
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
}

/* ---- softmax cross-entropy ---- */

typedef struct ce_objective {
    const double *z, *y;
    size_t batch, classes;
} ce_objective;

static double ce_eval(void *ctx)
{
    const ce_objective *o = ctx;
    nde_loss ce = nde_loss_softmax_ce();
    double v;
    CHECK(ce.fn(ce.ctx, o->z, o->y, NULL, o->batch, o->classes, &v));
    return v;
}

/* Value against a direct −log softmax (large logits included), gradient against central
 * differences, labels that are not class indices rejected. */
Test(trainer, softmax_ce_value_and_gradient)
{
    enum { B = 3, C = 4 };
    double z[B * C] = {0.3, -1.2, 2.0, 0.5, 700.0, 702.0, 699.0, -5.0, 0.0, 0.0, 0.0, 0.0};
    const double y[B] = {2, 0, 3};
    nde_loss ce = nde_loss_softmax_ce();
    cr_assert_eq(ce.target_size, 1);
    double v, g[B * C];
    CHECK(ce.fn(ce.ctx, z, y, g, B, C, &v));
    double want = 0.0;
    for (int b = 0; b < B; b++) { /* shifted by 700 by hand for the second sample */
        const double sh = b == 1 ? 700.0 : 0.0;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += exp(z[b * C + c] - sh);
        want += -(z[b * C + (int)y[b]] - sh - log(s));
    }
    want /= B;
    cr_assert_float_eq(v, want, 1e-12 * fabs(want), "%.17g vs %.17g", v, want);
    ce_objective obj = {.z = z, .y = y, .batch = B, .classes = C};
    gc_check(z, B * C, 1e-5, GC_CENTRAL2, ce_eval, &obj, g, gc_each(1e-6, 1e-9),
             "softmax cross-entropy: logit gradient");
    cr_assert_eq(nde_argmax(z + C, C), 1);
    cr_assert_eq(nde_argmax(z + 2 * C, C), 0); /* ties: the first */
    const double bad[B] = {2, 4, 0}, frac[B] = {0.5, 0, 0};
    cr_assert_eq(ce.fn(ce.ctx, z, bad, g, B, C, &v), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "sample 1") != NULL, "%s", nde_last_error());
    cr_assert_eq(ce.fn(ce.ctx, z, frac, g, B, C, &v), NDE_ERR_ARG);
}

/* ---- resume ---- */

/* A run configuration that can be built twice from scratch. */
typedef struct run_cfg {
    nde_model *(*make_model)(void);
    nde_data train, test;
    nde_trainer_spec spec;
} run_cfg;

static size_t stop_at; /* stop the run when this step is done (0: never) */
static double *run_ema;  /* train_run: the trainer's moving average at the end (or NULL) */

static int stop_cb(const nde_train_info *info, void *user)
{
    (void)user;
    return stop_at && info->step == stop_at;
}

/* Train the configuration; with interrupt, stop at a random step and resume from the
 * checkpoint in a fresh process-like state (new model, new trainer). θ and the metrics
 * file are returned for comparison. */
static double *train_run(const run_cfg *c, const char *dir, int interrupt, uint64_t seed,
                         char **metrics, size_t *metrics_len, size_t *np)
{
    char ckpt[512], mpath[512];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", dir);
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", dir);
    mkdir(dir, 0755);
    remove(ckpt);
    nde_trainer_spec s = c->spec;
    s.checkpoint_path = ckpt;
    s.metrics_path = mpath;
    s.progress = 0;
    s.on_step = stop_cb;
    nde_model *m = c->make_model();
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &c->train, &c->test, &s, &tr));
    if (interrupt) {
        nde_rng r;
        nde_rng_seed(&r, seed);
        const size_t total = s.epochs * (s.steps_per_epoch ? s.steps_per_epoch
                                                           : (c->train.n + s.batch - 1) / s.batch);
        /* after the first checkpoint, before the last step */
        const size_t per_epoch = total / s.epochs;
        stop_at = per_epoch + 1 + (size_t)nde_rng_below(&r, total - per_epoch - 1);
        cr_assert_eq(nde_trainer_run(tr), NDE_ERR_STOPPED);
        stop_at = 0;
        nde_trainer_destroy(&tr);
        nde_model_destroy(&m);
        m = c->make_model(); /* fresh objects: θ and the optimizer come from the file */
        CHECK(nde_trainer_create(m, &c->train, &c->test, &s, &tr));
        CHECK(nde_trainer_resume(tr, ckpt));
    }
    CHECK(nde_trainer_run(tr));
    *np = nde_model_n_params(m);
    double *theta = malloc(*np * sizeof *theta);
    memcpy(theta, nde_params_theta(nde_model_params(m)), *np * sizeof *theta);
    run_ema = NULL;
    if (nde_trainer_ema(tr)) {
        run_ema = malloc(*np * sizeof *run_ema);
        memcpy(run_ema, nde_trainer_ema(tr), *np * sizeof *run_ema);
    }
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
    *metrics = slurp(mpath, metrics_len);
    return theta;
}

/* Same bits with and without the interruption; the metrics agree but for the seconds. */
static void check_resume(const run_cfg *c, const char *name)
{
    char d1[256], d2[256];
    snprintf(d1, sizeof d1, "trainer_%s_a_test_out", name);
    snprintf(d2, sizeof d2, "trainer_%s_b_test_out", name);
    for (uint64_t seed = 1; seed <= 2; seed++) {
        char *m1, *m2;
        size_t l1, l2, n1, n2;
        double *t1 = train_run(c, d1, 0, seed, &m1, &l1, &n1);
        double *e1 = run_ema;
        double *t2 = train_run(c, d2, 1, seed, &m2, &l2, &n2);
        double *e2 = run_ema;
        cr_assert_eq(n1, n2);
        cr_assert_eq(memcmp(t1, t2, n1 * sizeof *t1), 0, "%s: θ differs after resume", name);
        cr_assert_eq(!e1, c->spec.ema_decay == 0.0);
        cr_assert_eq(!e2, c->spec.ema_decay == 0.0);
        if (e1) {
            cr_assert_eq(memcmp(e1, e2, n1 * sizeof *e1), 0, "%s: EMA differs after resume", name);
            cr_assert_neq(memcmp(e1, t1, n1 * sizeof *e1), 0, "%s: EMA is θ", name);
            cr_assert(strstr(m1, "\"test_metric_ema\": ") != NULL &&
                          strstr(m1, "\"test_metric_ema\": null") == NULL, "%s: %s", name, m1);
        }
        free(e1), free(e2);
        /* compare line by line up to the timing fields */
        char *s1 = m1, *s2 = m2;
        int lines = 0;
        while (*s1 && *s2) {
            char *e1 = strstr(s1, "\"train_seconds\""), *e2 = strstr(s2, "\"train_seconds\"");
            cr_assert(e1 && e2);
            cr_assert_eq(e1 - s1, e2 - s2, "%s: metrics line %d differs", name, lines);
            cr_assert_eq(memcmp(s1, s2, (size_t)(e1 - s1)), 0, "%s: metrics line %d: %.*s vs %.*s",
                         name, lines, (int)(e1 - s1), s1, (int)(e2 - s2), s2);
            s1 = strchr(e1, '\n') + 1;
            s2 = strchr(e2, '\n') + 1;
            lines++;
        }
        cr_assert(!*s1 && !*s2, "%s: metrics files have different lengths", name);
        cr_assert_eq(lines, (int)c->spec.epochs);
        free(t1), free(t2), free(m1), free(m2);
    }
}

/* MLP neural ODE: 12 trajectories of a damped rotation, trajectory output. */
static double node_x[12 * 2], node_y[12 * 3 * 2];
static const double node_ts[3] = {0.0, 0.5, 1.0};

static nde_model *make_node(void)
{
    nde_model *f, *node;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 2, .hidden = {8},
                                               .act = NDE_ACT_TANH},
                               "f", NDE_INIT_NORMAL, 0.3, &f));
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_TSIT5), .ts = node_ts, .nt = 3};
    CHECK(nde_model_node_create(NULL, f, &ns, &node));
    nde_rng rng;
    nde_rng_seed(&rng, 4);
    CHECK(nde_model_init(node, &rng));
    return node;
}

Test(trainer, resume_is_bit_exact_neural_ode)
{
    nde_rng rng;
    nde_rng_seed(&rng, 9);
    for (int s = 0; s < 12; s++) {
        double a = nde_rng_uniform_in(&rng, -1, 1), b = nde_rng_uniform_in(&rng, -1, 1);
        node_x[2 * s] = a, node_x[2 * s + 1] = b;
        for (int k = 0; k < 3; k++) {
            double t = node_ts[k], e = exp(-0.1 * t);
            node_y[(s * 3 + k) * 2] = e * (cos(t) * a + sin(t) * b);
            node_y[(s * 3 + k) * 2 + 1] = e * (-sin(t) * a + cos(t) * b);
        }
    }
    run_cfg c = {.make_model = make_node,
                 .train = {.n = 10, .x_size = 2, .y_size = 6, .x = node_x, .y = node_y},
                 .test = {.n = 2, .x_size = 2, .y_size = 6, .x = node_x + 20, .y = node_y + 60},
                 .spec = nde_trainer_defaults()};
    c.spec.batch = 4; /* 3 steps an epoch, the last one partial */
    c.spec.epochs = 5;
    c.spec.sampling = NDE_SAMPLE_RESHUFFLE;
    c.spec.loss = nde_loss_l1();
    c.spec.optim = nde_optim_defaults(NDE_OPT_ADAMW);
    c.spec.optim.lr = 1e-2;
    c.spec.schedule = nde_schedule_cosine(1e-2, 1e-3, 15, 2);
    c.spec.schedule_per_step = 1;
    check_resume(&c, "node");
    /* random batches too */
    c.spec.sampling = NDE_SAMPLE_RANDOM;
    c.spec.steps_per_epoch = 2;
    check_resume(&c, "node_random");
    /* and one stream of passes, batches spanning two of them (10 samples, batches of 4) */
    c.spec.sampling = NDE_SAMPLE_STREAM;
    c.spec.steps_per_epoch = 3;
    check_resume(&c, "node_stream");
}

/* FNO-1D, 2 modes, width 4, on a tiny grid: fresh shuffles, StepLR per epoch. */
static nde_ctx *fno_ctx;
static nde_precision fno_precision;

static nde_model *make_fno(void)
{
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.precision = fno_precision;
    sp.n_modes[0] = 3;
    sp.width = 4;
    sp.n_layers = 2;
    sp.proj_hidden[0] = 8;
    nde_model *m;
    const size_t n = 16;
    CHECK(nde_model_fno_create(fno_ctx, &sp, &n, 4, 1, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 2);
    CHECK(nde_model_init(m, &rng));
    return m;
}

Test(trainer, resume_is_bit_exact_fno)
{
    CHECK(nde_ctx_create(&fno_ctx));
    static double a[10 * 16], u[10 * 16];
    for (int s = 0; s < 10; s++)
        for (int j = 0; j < 16; j++) {
            a[s * 16 + j] = sin(2 * NDE_PI * (j / 16.0 + 0.1 * s));
            u[s * 16 + j] = 0.5 * a[s * 16 + j] + 0.1 * cos(2 * NDE_PI * j / 16.0);
        }
    run_cfg c = {.make_model = make_fno,
                 .train = {.n = 8, .x_size = 16, .y_size = 16, .x = a, .y = u},
                 .test = {.n = 2, .x_size = 16, .y_size = 16, .x = a + 128, .y = u + 128},
                 .spec = nde_trainer_defaults()};
    c.spec.batch = 4;
    c.spec.epochs = 4;
    c.spec.loss = nde_loss_rel_l2();
    c.spec.optim.lr = 1e-3;
    c.spec.optim.weight_decay = 1e-4;
    c.spec.schedule = (nde_schedule){.kind = NDE_SCHED_STEP, .v0 = 1e-3, .gamma = 0.5, .period = 1};
    /* float32 layers (the default of operator models) and float64 ones */
    for (int prec = 0; prec < 2; prec++) {
        fno_precision = prec ? NDE_PRECISION_FLOAT64 : NDE_PRECISION_FLOAT32;
        c.spec.checkpoint_every_steps = 0;
        check_resume(&c, prec ? "fno64" : "fno");
        /* checkpoints inside epochs too: a resume from the middle of an epoch (its order and
         * loss accumulators) continues with the same bits */
        c.spec.checkpoint_every_steps = 1;
        check_resume(&c, prec ? "fno64_steps" : "fno_steps");
    }
    fno_precision = NDE_PRECISION_FLOAT32;
    /* with a moving average of θ (warm-up), linear decay per step: the average, its update
     * count and its test metrics come back from the checkpoint */
    c.spec.ema_decay = 0.9;
    c.spec.ema_warmup = 1;
    c.spec.schedule = nde_schedule_linear(1e-3, 0.0, 8, 2);
    c.spec.schedule_per_step = 1;
    check_resume(&c, "fno_ema");
    /* a checkpoint without an average does not resume a run that keeps one */
    nde_model *m = make_fno();
    nde_trainer_spec s = c.spec;
    s.progress = 0;
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &c.train, &c.test, &s, &tr));
    cr_assert_neq(nde_trainer_resume(tr, "trainer_fno_steps_b_test_out/ckpt.safetensors"), NDE_OK);
    cr_assert(strstr(nde_last_error(), "train.ema") != NULL, "%s", nde_last_error());
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
    nde_ctx_destroy(&fno_ctx);
}

/* ---- moving average of θ ---- */

/* The hand loop: θ after every step (on_step), averaged outside the trainer. */
typedef struct ema_hand {
    double *ema, decay;
    int warmup;
    size_t np, updates;
} ema_hand;

static int ema_hand_step(const nde_train_info *info, void *user)
{
    ema_hand *h = user;
    const double *th = nde_params_theta(nde_model_params(info->model));
    h->updates++;
    double d = h->decay;
    if (h->warmup) d = fmin(d, (1.0 + (double)h->updates) / (10.0 + (double)h->updates));
    for (size_t i = 0; i < h->np; i++) h->ema[i] = d * h->ema[i] + (1.0 - d) * th[i];
    return 0;
}

Test(trainer, ema_matches_a_hand_loop)
{
    double x[24], y[24];
    for (int i = 0; i < 24; i++) x[i] = i / 12.0 - 1.0, y[i] = cos(1.5 * x[i]);
    for (int warm = 0; warm <= 1; warm++) {
        nde_model *m;
        CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {6},
                                                   .act = NDE_ACT_TANH},
                                   "mlp", NDE_INIT_TORCH, 0.0, &m));
        nde_rng rng;
        nde_rng_seed(&rng, 3);
        CHECK(nde_model_init(m, &rng));
        const size_t np = nde_model_n_params(m);
        ema_hand h = {.ema = malloc(np * sizeof(double)), .decay = 0.8, .warmup = warm, .np = np};
        memcpy(h.ema, nde_params_theta(nde_model_params(m)), np * sizeof(double));
        nde_trainer_spec ts = nde_trainer_defaults();
        ts.batch = 8;
        ts.epochs = 6;
        ts.optim.lr = 2e-2;
        ts.loss = nde_loss_mse();
        ts.progress = 0;
        ts.ema_decay = h.decay;
        ts.ema_warmup = warm;
        ts.on_step = ema_hand_step;
        ts.user = &h;
        nde_data train = {.n = 16, .x_size = 1, .y_size = 1, .x = x, .y = y};
        nde_data test = {.n = 8, .x_size = 1, .y_size = 1, .x = x + 16, .y = y + 16};
        nde_trainer *tr;
        CHECK(nde_trainer_create(m, &train, &test, &ts, &tr));
        cr_assert_eq(memcmp(nde_trainer_ema(tr), h.ema, np * sizeof(double)), 0,
                     "the average starts at θ");
        CHECK(nde_trainer_run(tr));
        cr_assert_eq(h.updates, 12);
        const double *e = nde_trainer_ema(tr);
        double *th = nde_params_theta(nde_model_params(m)), diff = 0.0, moved = 0.0;
        for (size_t i = 0; i < np; i++) {
            cr_assert(fabs(e[i] - h.ema[i]) <= 1e-15 * (1.0 + fabs(h.ema[i])),
                      "warm-up %d: ema[%zu] %.17g, hand loop %.17g", warm, i, e[i], h.ema[i]);
            diff = fmax(diff, fabs(e[i] - th[i]));
        }
        cr_assert_gt(diff, 1e-6, "the average is not θ");
        /* the metric of the average: θ ← the hand loop's average, evaluated plainly */
        double *saved = malloc(np * sizeof(double));
        memcpy(saved, th, np * sizeof(double));
        double v_ema, v_theta, v_hand;
        CHECK(nde_trainer_evaluate_ema(tr, &test, &v_ema));
        cr_assert_eq(memcmp(saved, th, np * sizeof(double)), 0, "θ restored after the swap");
        CHECK(nde_trainer_evaluate(tr, &test, &v_theta));
        cr_assert_eq(v_theta, nde_trainer_test_metric(tr));
        cr_assert_eq(v_ema, nde_trainer_test_metric_ema(tr));
        memcpy(th, h.ema, np * sizeof(double));
        CHECK(nde_trainer_evaluate(tr, &test, &v_hand));
        cr_assert(fabs(v_hand - v_ema) <= 1e-12 * v_ema, "%.17g vs %.17g", v_hand, v_ema);
        moved = fabs(v_ema - v_theta);
        cr_assert_gt(moved, 0.0);
        nde_trainer_destroy(&tr);
        nde_model_destroy(&m);
        free(h.ema), free(saved);
    }
    /* decays outside [0, 1) are refused; evaluate_ema without an average too */
    nde_model *m;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {2}}, "mlp",
                               NDE_INIT_TORCH, 0.0, &m));
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 4;
    ts.loss = nde_loss_mse();
    nde_data d = {.n = 8, .x_size = 1, .y_size = 1, .x = x, .y = y};
    nde_trainer *tr = NULL;
    const double bad[] = {1.0, -0.1, NAN};
    for (int k = 0; k < 3; k++) {
        ts.ema_decay = bad[k];
        cr_assert_eq(nde_trainer_create(m, &d, NULL, &ts, &tr), NDE_ERR_ARG);
        cr_assert(strstr(nde_last_error(), "ema_decay") != NULL, "%s", nde_last_error());
    }
    ts.ema_decay = 0.0;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    cr_assert_null(nde_trainer_ema(tr));
    double v;
    cr_assert_eq(nde_trainer_evaluate_ema(tr, &d, &v), NDE_ERR_ARG);
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
}

/* ---- non-finite stop ---- */

static size_t nan_at_call;
static size_t loss_calls;

static nde_status nan_mse(void *ctx, const double *pred, const double *target, double *grad,
                          size_t batch, size_t size, double *value)
{
    nde_loss mse = nde_loss_mse();
    NDE_TRY(mse.fn(ctx, pred, target, grad, batch, size, value));
    if (++loss_calls == nan_at_call) *value = NAN;
    return NDE_OK;
}

Test(trainer, nonfinite_loss_stops_and_keeps_the_last_checkpoint)
{
    double x[8], y[8];
    for (int i = 0; i < 8; i++) x[i] = i, y[i] = 2 * i;
    nde_model *m;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {4}}, "mlp",
                               NDE_INIT_TORCH, 0.0, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    CHECK(nde_model_init(m, &rng));
    mkdir("trainer_nan_test_out", 0755);
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 4;
    ts.epochs = 10;
    ts.progress = 0;
    ts.eval_every = 0;
    ts.loss = (nde_loss){.fn = nan_mse, .reduction = NDE_LOSS_MEAN};
    ts.checkpoint_path = "trainer_nan_test_out/ckpt.safetensors";
    nan_at_call = 7; /* step 7: epoch 4's first step; the checkpoint after epoch 3 stays */
    loss_calls = 0;
    nde_data d = {.n = 8, .x_size = 1, .y_size = 1, .x = x, .y = y};
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    cr_assert_eq(nde_trainer_run(tr), NDE_ERR_NONFINITE);
    cr_assert(strstr(nde_last_error(), "step 7") != NULL, "%s", nde_last_error());
    cr_assert(strstr(nde_last_error(), "ckpt.safetensors") != NULL, "%s", nde_last_error());
    cr_assert_eq(nde_trainer_epoch(tr), 3);
    cr_assert_eq(nde_trainer_step(tr), 6);
    nde_trainer_destroy(&tr);
    /* the file on disk is the epoch-3 checkpoint: it resumes at step 6 */
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    CHECK(nde_trainer_resume(tr, ts.checkpoint_path));
    cr_assert_eq(nde_trainer_step(tr), 6);
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
}

/* ---- skipped steps ---- */

static size_t fail_calls, fail_from, fail_to; /* loss calls fail_from..fail_to fail */

static nde_status failing_mse(void *ctx, const double *pred, const double *target, double *grad,
                              size_t batch, size_t size, double *value)
{
    ++fail_calls;
    if (fail_calls >= fail_from && fail_calls <= fail_to)
        return NDE_FAIL(NDE_ERR_LIMIT, "test loss: call %zu fails", fail_calls);
    nde_loss mse = nde_loss_mse();
    return mse.fn(ctx, pred, target, grad, batch, size, value);
}

typedef struct skip_log {
    nde_status status[8];
    double theta[8][16];
    size_t np, calls, stop_after; /* stop_after: stop at this many failures in a row (0: never) */
    size_t in_row;
} skip_log;

static int skip_cb(const nde_train_info *info, void *user)
{
    skip_log *l = user;
    cr_assert_eq(info->step, l->calls + 1);
    l->status[l->calls] = info->status;
    cr_assert(info->status == NDE_OK || isnan(info->loss));
    memcpy(l->theta[l->calls++], nde_params_theta(nde_model_params(info->model)),
           l->np * sizeof(double));
    l->in_row = info->status == NDE_OK ? 0 : l->in_row + 1;
    return l->stop_after && l->in_row == l->stop_after;
}

/* A step whose loss fails is skipped with skip_failed_steps: θ stays, the step counts and
 * on_step sees the status; without it the run stops; on_step may stop after a streak. */
Test(trainer, skip_failed_steps)
{
    double x[8], y[8];
    for (int i = 0; i < 8; i++) x[i] = i / 8.0, y[i] = 1.0 - x[i];
    for (int mode = 0; mode < 3; mode++) {
        nde_model *m;
        CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {3}}, "mlp",
                                   NDE_INIT_TORCH, 0.0, &m));
        nde_rng rng;
        nde_rng_seed(&rng, 3);
        CHECK(nde_model_init(m, &rng));
        skip_log l = {.np = nde_model_n_params(m), .stop_after = mode == 2 ? 2 : 0};
        cr_assert_leq(l.np, 16);
        nde_trainer_spec ts = nde_trainer_defaults();
        ts.batch = 4;
        ts.epochs = 3;
        ts.sampling = NDE_SAMPLE_ORDERED;
        ts.progress = 0;
        ts.eval_every = 0;
        ts.optim.lr = 1e-2;
        ts.skip_failed_steps = mode != 1;
        ts.loss = (nde_loss){.fn = failing_mse, .reduction = NDE_LOSS_MEAN};
        ts.on_step = skip_cb;
        ts.user = &l;
        fail_calls = 0, fail_from = 3, fail_to = 4;
        nde_data d = {.n = 8, .x_size = 1, .y_size = 1, .x = x, .y = y};
        nde_trainer *tr;
        CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
        nde_status st = nde_trainer_run(tr);
        if (mode == 0) {
            CHECK(st);
            cr_assert_eq(nde_trainer_step(tr), 6);
            for (int k = 0; k < 6; k++)
                cr_assert_eq(l.status[k], k == 2 || k == 3 ? NDE_ERR_LIMIT : NDE_OK, "step %d", k + 1);
            cr_assert(memcmp(l.theta[2], l.theta[1], l.np * sizeof(double)) == 0);
            cr_assert(memcmp(l.theta[3], l.theta[1], l.np * sizeof(double)) == 0);
            cr_assert(memcmp(l.theta[4], l.theta[3], l.np * sizeof(double)) != 0);
            cr_assert(isfinite(nde_trainer_train_loss(tr))); /* epoch 3: both steps applied */
        } else if (mode == 1) {
            cr_assert_eq(st, NDE_ERR_LIMIT);
            cr_assert_eq(nde_trainer_step(tr), 2);
            cr_assert_eq(l.calls, 2);
        } else {
            cr_assert_eq(st, NDE_ERR_STOPPED);
            cr_assert_eq(nde_trainer_step(tr), 4);
        }
        nde_trainer_destroy(&tr);
        nde_model_destroy(&m);
    }
}

Test(trainer, rejects_bad_specs_with_messages)
{
    nde_model *m;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 1, .hidden = {4}}, "mlp",
                               NDE_INIT_TORCH, 0.0, &m));
    double x[8] = {0}, y[4] = {0};
    nde_data d = {.n = 4, .x_size = 2, .y_size = 1, .x = x, .y = y};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.loss = nde_loss_mse();
    nde_trainer *tr = NULL;
    cr_assert_eq(nde_trainer_create(m, &d, NULL, &ts, &tr), NDE_ERR_ARG); /* batch 0 */
    ts.batch = 2;
    nde_data bad = d;
    bad.x_size = 3;
    cr_assert_eq(nde_trainer_create(m, &bad, NULL, &ts, &tr), NDE_ERR_SHAPE);
    cr_assert(strstr(nde_last_error(), "mlp") != NULL);
    ts.epochs = SIZE_MAX; /* 2 steps an epoch: the step count would overflow */
    cr_assert_eq(nde_trainer_create(m, &d, NULL, &ts, &tr), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "overflow") != NULL, "%s", nde_last_error());
    ts.epochs = 1;
    ts.sampling = NDE_SAMPLE_RANDOM; /* no steps_per_epoch */
    cr_assert_eq(nde_trainer_create(m, &d, NULL, &ts, &tr), NDE_ERR_ARG);
    ts.sampling = NDE_SAMPLE_SHUFFLE;
    ts.loss.fn = NULL;
    cr_assert_eq(nde_trainer_create(m, &d, NULL, &ts, &tr), NDE_ERR_ARG);
    cr_assert_null(tr);
    /* a checkpoint from another data size is refused before anything changes */
    ts.loss = nde_loss_mse();
    mkdir("trainer_bad_test_out", 0755);
    ts.checkpoint_path = "trainer_bad_test_out/c.safetensors";
    ts.progress = 0;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    CHECK(nde_trainer_run(tr));
    nde_trainer_destroy(&tr);
    d.n = 3;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    cr_assert_eq(nde_trainer_resume(tr, ts.checkpoint_path), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "4 training samples") != NULL, "%s", nde_last_error());
    cr_assert_eq(nde_trainer_resume(tr, "trainer_bad_test_out/missing.safetensors"), NDE_ERR_IO);
    nde_trainer_destroy(&tr);
    nde_model_destroy(&m);
}

/* A model whose solves need more tape than allowed fails the run with NDE_ERR_LIMIT and
 * a message that says how to raise the cap, instead of growing without bound. */
Test(trainer, tape_memory_cap_stops_the_run)
{
    nde_model *f, *node;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 2, .hidden = {8},
                                               .act = NDE_ACT_TANH},
                               "f", NDE_INIT_NORMAL, 3.0, &f));
    const double ts[2] = {0.0, 20.0};
    nde_node_spec ns = {.solver = nde_solver_defaults(NDE_TSIT5), .ts = ts, .nt = 2,
                        .output = NDE_NODE_FINAL};
    ns.solver.rtol = 1e-10;
    ns.solver.atol = 1e-12;
    ns.solver.tape_max_bytes = 64 * 1024; /* a few dozen steps of stages */
    CHECK(nde_model_node_create(NULL, f, &ns, &node));
    nde_rng rng;
    nde_rng_seed(&rng, 5);
    CHECK(nde_model_init(node, &rng));
    double x[8] = {1, 0, 0, 1, -1, 0, 0, -1}, y[8] = {0};
    nde_data d = {.n = 4, .x_size = 2, .y_size = 2, .x = x, .y = y};
    nde_trainer_spec tsp = nde_trainer_defaults();
    tsp.batch = 4;
    tsp.epochs = 2;
    tsp.progress = 0;
    tsp.loss = nde_loss_mse();
    nde_trainer *tr;
    CHECK(nde_trainer_create(node, &d, NULL, &tsp, &tr));
    cr_assert_eq(nde_trainer_run(tr), NDE_ERR_LIMIT, "%s", nde_last_error());
    cr_assert(strstr(nde_last_error(), "tape_max_bytes") != NULL, "%s", nde_last_error());
    cr_assert_eq(nde_trainer_step(tr), 0);
    cr_assert_leq(nde_solver_get_stats(nde_model_node_solver(node))->tape_bytes, 64 * 1024);
    nde_trainer_destroy(&tr);
    nde_model_destroy(&node);
}

/* checkpoint_meta: the strings are in every checkpoint's metadata (with newlines and
 * quotes intact), the checkpoint still resumes, and a key of the checkpoint's own is
 * refused with a message naming it. */
Test(trainer, checkpoint_metadata_is_stored)
{
    double x[8], y[8];
    for (int i = 0; i < 8; i++) x[i] = i / 8.0, y[i] = 2 * x[i];
    nde_model *m;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {4}}, "mlp",
                               NDE_INIT_TORCH, 0.0, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    CHECK(nde_model_init(m, &rng));
    mkdir("trainer_meta_test_out", 0755);
    const char *config = "[model]\nkind = \"mlp\" ; a comment\n\n[train]\nepochs = 2\n";
    const char *const meta[] = {"nde.config", config, "user.note", "", NULL};
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = 4;
    ts.epochs = 2;
    ts.progress = 0;
    ts.loss = nde_loss_mse();
    ts.checkpoint_path = "trainer_meta_test_out/ckpt.safetensors";
    ts.checkpoint_meta = meta;
    nde_data d = {.n = 8, .x_size = 1, .y_size = 1, .x = x, .y = y};
    nde_trainer *tr;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    CHECK(nde_trainer_run(tr));
    nde_trainer_destroy(&tr);
    nde_st_file *f;
    CHECK(nde_st_open(ts.checkpoint_path, &f));
    cr_assert_str_eq(nde_st_meta(f, "nde.config"), config);
    cr_assert_str_eq(nde_st_meta(f, "user.note"), "");
    cr_assert_not_null(nde_st_meta(f, "format"));
    nde_st_close(&f);
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    CHECK(nde_trainer_resume(tr, ts.checkpoint_path));
    cr_assert_eq(nde_trainer_epoch(tr), 2);
    nde_trainer_destroy(&tr);
    /* a clash with the checkpoint's own keys fails the save and leaves the file */
    const char *const bad[] = {"format", "mine", NULL};
    ts.checkpoint_meta = bad;
    ts.epochs = 3;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &tr));
    CHECK(nde_trainer_resume(tr, ts.checkpoint_path));
    cr_assert_eq(nde_trainer_run(tr), NDE_ERR_ARG);
    cr_assert(strstr(nde_last_error(), "'format'") != NULL, "%s", nde_last_error());
    nde_trainer_destroy(&tr);
    CHECK(nde_st_open(ts.checkpoint_path, &f));
    cr_assert_str_eq(nde_st_meta(f, "nde.config"), config);
    nde_st_close(&f);
    nde_model_destroy(&m);
}
