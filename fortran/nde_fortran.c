/* fortran/nde_fortran.c — the C helpers of the Fortran module (see nde_fortran.h). */
#include "nde_fortran.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A count from Fortran: ≥ 0 or an error naming what it is. */
static nde_status count_arg(int64_t v, const char *what, size_t *out)
{
    if (v < 0) return NDE_FAIL(NDE_ERR_ARG, "Fortran binding: %s = %lld is negative", what, (long long)v);
    *out = (size_t)v;
    return NDE_OK;
}

/* nde_solver_opts from a method and the scalars (≤ 0: default). */
static nde_solver_opts solver_opts(int64_t method, double rtol, double atol, double h0,
                                   int64_t max_steps, int64_t tape)
{
    nde_solver_opts o = nde_solver_defaults((nde_method)method);
    if (rtol > 0) o.rtol = rtol;
    if (atol > 0) o.atol = atol;
    if (h0 > 0) o.h0 = h0;
    if (max_steps > 0) o.max_steps = (size_t)max_steps;
    o.tape = (nde_tape)tape;
    return o;
}

nde_status ndef_model_mlp_create(int64_t in, int64_t out, int64_t n_hidden, const int64_t *hidden,
                                 int64_t act, int64_t time, int64_t init, double scale,
                                 nde_model **m)
{
    if (!m) return NDE_FAIL(NDE_ERR_ARG, "ndef_model_mlp_create: NULL model");
    *m = NULL;
    if (n_hidden < 0 || n_hidden > NDE_MLP_MAX_HIDDEN || (n_hidden > 0 && !hidden))
        return NDE_FAIL(NDE_ERR_ARG, "MLP: %lld hidden layers (0..%d)", (long long)n_hidden,
                        NDE_MLP_MAX_HIDDEN);
    nde_mlp_spec sp;
    memset(&sp, 0, sizeof sp);
    NDE_TRY(count_arg(in, "MLP in", &sp.in));
    NDE_TRY(count_arg(out, "MLP out", &sp.out));
    for (int64_t k = 0; k < n_hidden; k++) {
        if (hidden[k] <= 0)
            return NDE_FAIL(NDE_ERR_ARG, "MLP: hidden(%lld) = %lld must be > 0", (long long)k + 1,
                            (long long)hidden[k]);
        sp.hidden[k] = (size_t)hidden[k];
    }
    sp.act = (nde_act)act;
    sp.out_act = NDE_ACT_IDENTITY;
    sp.time = (nde_time_mode)time;
    return nde_model_mlp_create(&sp, "mlp", (nde_init)init, scale, m);
}

nde_status ndef_model_fno_create(nde_ctx *ctx, int64_t ndim, int64_t in_channels,
                                 int64_t out_channels, int64_t width, const int64_t *modes,
                                 int64_t layers, int64_t proj_hidden, int64_t grid, double padding,
                                 const int64_t *n, int64_t max_batch, int64_t n_threads,
                                 int64_t precision,
                                 nde_model **m)
{
    if (!m) return NDE_FAIL(NDE_ERR_ARG, "ndef_model_fno_create: NULL model");
    *m = NULL;
    if (ndim != 1 && ndim != 2) return NDE_FAIL(NDE_ERR_ARG, "FNO: ndim %lld (1 or 2)", (long long)ndim);
    if (!modes || !n) return NDE_FAIL(NDE_ERR_ARG, "FNO: NULL modes or grid");
    nde_fno_spec sp = ndim == 2 ? nde_fno2d_darcy_spec() : nde_fno1d_burgers_spec();
    NDE_TRY(count_arg(in_channels, "FNO in_channels", &sp.in_channels));
    NDE_TRY(count_arg(out_channels, "FNO out_channels", &sp.out_channels));
    NDE_TRY(count_arg(width, "FNO width", &sp.width));
    NDE_TRY(count_arg(layers, "FNO layers", &sp.n_layers));
    size_t ph = 0, nn[2] = {0, 0}, mb = 0, nt = 0;
    NDE_TRY(count_arg(proj_hidden, "FNO proj_hidden", &ph));
    for (int64_t d = 0; d < ndim; d++) {
        NDE_TRY(count_arg(modes[d], "FNO modes", &sp.n_modes[d]));
        NDE_TRY(count_arg(n[d], "FNO grid n", &nn[d]));
    }
    sp.n_proj_hidden = ph ? 1 : 0;
    sp.proj_hidden[0] = ph;
    sp.grid = grid != 0;
    sp.padding = padding;
    if (precision != NDE_PRECISION_FLOAT64 && precision != NDE_PRECISION_FLOAT32)
        return NDE_FAIL(NDE_ERR_ARG, "FNO precision %lld (0 float64, 1 float32)", (long long)precision);
    sp.precision = (nde_precision)precision;
    NDE_TRY(count_arg(max_batch, "FNO max_batch", &mb));
    NDE_TRY(count_arg(n_threads, "FNO n_threads", &nt));
    return nde_model_fno_create(ctx, &sp, nn, mb, nt ? nt : 1, m);
}

nde_status ndef_model_node_create(nde_ctx *ctx, nde_model *field_model, int64_t nt, const double *ts,
                                  int64_t output, int64_t method, double rtol, double atol,
                                  double h0, int64_t max_steps, int64_t adjoint_kind,
                                  nde_model **m)
{
    if (!m) {
        nde_model_destroy(&field_model);
        return NDE_FAIL(NDE_ERR_ARG, "ndef_model_node_create: NULL model");
    }
    *m = NULL;
    if (nt < 2 || !ts) {
        nde_model_destroy(&field_model);
        return NDE_FAIL(NDE_ERR_ARG, "neural ODE: %lld save times (>= 2)", (long long)nt);
    }
    nde_node_spec ns;
    memset(&ns, 0, sizeof ns);
    ns.solver = nde_solver_defaults((nde_method)method);
    if (rtol > 0) ns.solver.rtol = rtol;
    if (atol > 0) ns.solver.atol = atol;
    if (h0 > 0) ns.solver.h0 = h0;
    if (max_steps > 0) ns.solver.max_steps = (size_t)max_steps;
    ns.ts = ts;
    ns.nt = (size_t)nt;
    ns.output = output ? NDE_NODE_FINAL : NDE_NODE_TRAJECTORY;
    nde_adjoint_opts ao = nde_adjoint_defaults(NULL, (nde_adjoint_kind)adjoint_kind);
    ns.adjoint = &ao;
    return nde_model_node_create(ctx, field_model, &ns, m);
}

nde_status ndef_model_init_seed(nde_model *m, int64_t seed)
{
    nde_rng rng;
    nde_rng_seed(&rng, (uint64_t)seed);
    return nde_model_init(m, &rng);
}

nde_status ndef_solver_create(nde_ctx *ctx, nde_model *model, int64_t method, double rtol,
                              double atol, double h0, int64_t max_steps, int64_t tape,
                              nde_solver **s)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "ndef_solver_create: NULL solver");
    *s = NULL;
    nde_field field; /* nde_solver_create copies the struct */
    NDE_TRY(nde_model_field(model, &field));
    nde_solver_opts o = solver_opts(method, rtol, atol, h0, max_steps, tape);
    return nde_solver_create(ctx, &field, &o, s);
}

nde_status ndef_solver_create_field(nde_ctx *ctx, int64_t dim, int64_t n_params, ndef_field_f f,
                                    ndef_field_vjp vjp, ndef_field_jvp jvp, void *user,
                                    int64_t method, double rtol, double atol, double h0,
                                    int64_t max_steps, int64_t tape, nde_solver **s)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "ndef_solver_create_field: NULL solver");
    *s = NULL;
    nde_field field;
    memset(&field, 0, sizeof field);
    NDE_TRY(count_arg(dim, "field dim", &field.dim));
    NDE_TRY(count_arg(n_params, "field n_params", &field.n_params));
    field.ctx = user;
    field.f = f;
    field.vjp = vjp;
    field.jvp = jvp;
    NDE_TRY(nde_field_check(&field, 0));
    nde_solver_opts o = solver_opts(method, rtol, atol, h0, max_steps, tape);
    return nde_solver_create(ctx, &field, &o, s); /* copies the field */
}

nde_status ndef_optim_create(nde_model *model, int64_t kind, double lr, double weight_decay,
                             nde_optim **opt)
{
    if (!opt) return NDE_FAIL(NDE_ERR_ARG, "ndef_optim_create: NULL optimizer");
    *opt = NULL;
    if (!model) return NDE_FAIL(NDE_ERR_ARG, "ndef_optim_create: NULL model");
    nde_optim_spec sp = nde_optim_defaults((nde_optim_kind)kind);
    if (lr > 0) sp.lr = lr;
    if (weight_decay >= 0) sp.weight_decay = weight_decay;
    return nde_optim_create(&sp, nde_model_params(model), opt);
}

void ndef_train_defaults(ndef_train_opts *o)
{
    nde_trainer_spec d = nde_trainer_defaults();
    memset(o, 0, sizeof *o);
    o->batch = (int64_t)d.batch;
    o->epochs = (int64_t)d.epochs;
    o->steps_per_epoch = (int64_t)d.steps_per_epoch;
    o->max_steps = (int64_t)d.max_steps;
    o->sampling = (int64_t)d.sampling;
    o->drop_last = d.drop_last;
    o->seed = (int64_t)d.seed;
    o->optim_kind = (int64_t)d.optim.kind;
    o->lr = d.optim.lr;
    o->weight_decay = d.optim.weight_decay;
    o->loss = 0;
    o->metric = 0;
    o->clip_grad_norm = d.clip_grad_norm;
    o->eval_every = (int64_t)d.eval_every;
    o->eval_batch = (int64_t)d.eval_batch;
    o->checkpoint_every = (int64_t)d.checkpoint_every;
    o->progress = 0;
    o->sched_step_period = 0;
    o->sched_gamma = 1.0;
}

struct ndef_trainer {
    nde_trainer *tr;
    nde_data train, test; /* borrowed by tr */
    char *ckpt_path;      /* borrowed by tr */
};

static nde_loss loss_of(int64_t k) { return k == 1 ? nde_loss_l1() : k == 2 ? nde_loss_rel_l2() : nde_loss_mse(); }

nde_status ndef_trainer_create(nde_model *model, int64_t n, int64_t x_size, int64_t y_size,
                               const double *x, const double *y, int64_t n_test,
                               const double *x_test, const double *y_test,
                               const ndef_train_opts *o, const char *ckpt_path,
                               ndef_trainer **out)
{
    if (!out) return NDE_FAIL(NDE_ERR_ARG, "ndef_trainer_create: NULL trainer");
    *out = NULL;
    if (!o) return NDE_FAIL(NDE_ERR_ARG, "ndef_trainer_create: NULL options");
    if (o->loss < 0 || o->loss > 2 || o->metric < 0 || o->metric > 2)
        return NDE_FAIL(NDE_ERR_ARG, "trainer: loss %lld / metric %lld (0 mse, 1 l1, 2 rel_l2)",
                        (long long)o->loss, (long long)o->metric);
    size_t batch = 0, epochs = 0, spe = 0, ms = 0, ee = 0, eb = 0, ce = 0, nn = 0, xs = 0, ys = 0,
           nte = 0;
    NDE_TRY(count_arg(o->batch, "trainer batch", &batch));
    NDE_TRY(count_arg(o->epochs, "trainer epochs", &epochs));
    NDE_TRY(count_arg(o->steps_per_epoch, "trainer steps_per_epoch", &spe));
    NDE_TRY(count_arg(o->max_steps, "trainer max_steps", &ms));
    NDE_TRY(count_arg(o->eval_every, "trainer eval_every", &ee));
    NDE_TRY(count_arg(o->eval_batch, "trainer eval_batch", &eb));
    NDE_TRY(count_arg(o->checkpoint_every, "trainer checkpoint_every", &ce));
    NDE_TRY(count_arg(n, "training samples", &nn));
    NDE_TRY(count_arg(x_size, "x_size", &xs));
    NDE_TRY(count_arg(y_size, "y_size", &ys));
    NDE_TRY(count_arg(n_test, "test samples", &nte));
    if (o->sched_step_period < 0)
        return NDE_FAIL(NDE_ERR_ARG, "trainer: sched_step_period %lld < 0", (long long)o->sched_step_period);

    ndef_trainer *h = calloc(1, sizeof *h);
    if (!h) return NDE_FAIL(NDE_ERR_NOMEM, "Fortran trainer");
    h->train = (nde_data){.n = nn, .x_size = xs, .y_size = ys, .x = x, .y = y};
    h->test = (nde_data){.n = nte, .x_size = xs, .y_size = ys, .x = x_test, .y = y_test};
    if (ckpt_path && ckpt_path[0]) {
        size_t len = strlen(ckpt_path);
        h->ckpt_path = malloc(len + 1);
        if (!h->ckpt_path) {
            free(h);
            return NDE_FAIL(NDE_ERR_NOMEM, "checkpoint path");
        }
        memcpy(h->ckpt_path, ckpt_path, len + 1);
    }
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = batch;
    ts.epochs = epochs;
    ts.steps_per_epoch = spe;
    ts.max_steps = ms;
    ts.sampling = (nde_sampling)o->sampling;
    ts.drop_last = o->drop_last != 0;
    ts.seed = (uint64_t)o->seed;
    ts.optim = nde_optim_defaults((nde_optim_kind)o->optim_kind);
    if (o->lr > 0) ts.optim.lr = o->lr;
    if (o->weight_decay >= 0) ts.optim.weight_decay = o->weight_decay;
    if (o->sched_step_period > 0) {
        ts.schedule.kind = NDE_SCHED_STEP;
        ts.schedule.v0 = ts.optim.lr;
        ts.schedule.gamma = o->sched_gamma;
        ts.schedule.period = (uint64_t)o->sched_step_period;
    }
    ts.clip_grad_norm = o->clip_grad_norm;
    ts.loss = loss_of(o->loss);
    ts.eval = loss_of(o->metric);
    ts.eval_every = nte ? ee : 0;
    ts.eval_batch = eb;
    ts.checkpoint_path = h->ckpt_path;
    ts.checkpoint_every = ce;
    ts.progress = (int)o->progress;
    ts.name = "fortran";
    nde_status st = nde_trainer_create(model, &h->train, nte ? &h->test : NULL, &ts, &h->tr);
    if (st != NDE_OK) {
        free(h->ckpt_path);
        free(h);
        return st;
    }
    *out = h;
    return NDE_OK;
}

void ndef_trainer_destroy(ndef_trainer **tr)
{
    if (!tr || !*tr) return;
    nde_trainer_destroy(&(*tr)->tr);
    free((*tr)->ckpt_path);
    free(*tr);
    *tr = NULL;
}

nde_status ndef_trainer_run(ndef_trainer *tr)
{
    if (!tr) return NDE_FAIL(NDE_ERR_ARG, "ndef_trainer_run: NULL trainer");
    return nde_trainer_run(tr->tr);
}

double ndef_trainer_train_loss(const ndef_trainer *tr) { return tr ? nde_trainer_train_loss(tr->tr) : NAN; }
double ndef_trainer_test_metric(const ndef_trainer *tr) { return tr ? nde_trainer_test_metric(tr->tr) : NAN; }
int64_t ndef_trainer_epoch(const ndef_trainer *tr) { return tr ? (int64_t)nde_trainer_epoch(tr->tr) : 0; }
int64_t ndef_trainer_step(const ndef_trainer *tr) { return tr ? (int64_t)nde_trainer_step(tr->tr) : 0; }

nde_status ndef_fail(int64_t status, const char *msg)
{
    if (status <= 0 || status >= NDE_STATUS_COUNT) status = NDE_ERR_ARG;
    return NDE_FAIL((nde_status)status, "%s", msg ? msg : "(no message)");
}

nde_status ndef_trainer_evaluate(ndef_trainer *tr, int64_t n, int64_t x_size, int64_t y_size,
                                 const double *x, const double *y, double *metric)
{
    if (!tr || !metric) return NDE_FAIL(NDE_ERR_ARG, "ndef_trainer_evaluate: NULL argument");
    size_t nn = 0;
    NDE_TRY(count_arg(n, "evaluation samples", &nn));
    if (x_size != (int64_t)tr->train.x_size || y_size != (int64_t)tr->train.y_size)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "nde_trainer_evaluate: samples of %lld and %lld values, the training data's "
                        "have %zu and %zu", (long long)x_size, (long long)y_size, tr->train.x_size,
                        tr->train.y_size);
    nde_data d = {.n = nn, .x_size = tr->train.x_size, .y_size = tr->train.y_size, .x = x, .y = y};
    return nde_trainer_evaluate(tr->tr, &d, metric);
}
