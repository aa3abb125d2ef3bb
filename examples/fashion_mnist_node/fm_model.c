/* The neural-ODE classifier as a user model: see fm_model.h. */
#include "fm_model.h"

#include <string.h>

#include "fm_data.h"

typedef struct fm {
    nde_params *p;          /* the model's store (owned by the model) */
    nde_mlp *net;
    nde_dense cls;
    nde_field field;        /* f(t, u) = the network; n_params covers all of θ */
    nde_solver *train, *eval;
    nde_reg *reg;           /* NULL unless a global regularizer */
    nde_local_reg *local;   /* NULL unless a local one */
    nde_local_sampling sampling;
    double steer_b;
    nde_rng steer_rng;
    nde_schedule coef;
    double lambda;          /* coef at the current step */
    size_t max_batch;
    int training;
    /* the last training forward */
    size_t batch, nt, k_reg, nfe;
    double t_reg, reg_value;
    double *traj;           /* (3, max_batch, 784): u at the save times */
    double *dl, *du;        /* (3, max_batch, 784), (max_batch, 784) */
    double *logits;         /* (max_batch, 10) */
} fm;

static nde_status fm_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    fm *f = self;
    if (batch > f->max_batch)
        return NDE_FAIL(NDE_ERR_ARG, "fashion_mnist: batch %zu > %zu", batch, f->max_batch);
    const size_t n = batch * FM_PIXELS;
    double ts[3] = {0.0, 1.0, 0.0};
    size_t nt = 2;
    f->batch = 0;
    if (!f->training) {
        NDE_TRY(nde_solve(f->eval, batch, FM_PIXELS, x, nt, ts, f->traj));
        return nde_dense_forward(&f->cls, p, 0.0, f->traj + n, y, batch);
    }
    f->k_reg = 0;
    f->t_reg = 0.0;
    if (f->steer_b > 0.0) NDE_TRY(nde_steer_end_time(&f->steer_rng, 0.0, 1.0, f->steer_b, &ts[1]));
    if (f->local && f->sampling == NDE_LOCAL_UNBIASED) {
        const double base[2] = {0.0, 1.0};
        NDE_TRY(nde_local_reg_draw_time(f->local, 0.0, 1.0, &f->t_reg));
        NDE_TRY(nde_reg_insert_time(base, 2, f->t_reg, ts, &nt, &f->k_reg));
    }
    if (f->local && f->sampling == NDE_LOCAL_BIASED)
        NDE_TRY(nde_local_reg_begin(f->local, batch, 0.0, x));
    NDE_TRY(nde_solve(f->train, batch, FM_PIXELS, x, nt, ts, f->traj));
    f->nfe = nde_solver_get_stats(f->train)->nfe;
    NDE_TRY(nde_dense_forward(&f->cls, p, 0.0, f->traj + (nt - 1) * n, y, batch));
    memcpy(f->logits, y, batch * FM_CLASSES * sizeof *y);
    f->nt = nt;
    f->batch = batch;
    return NDE_OK;
}

/* Classifier backward (its gradient and ∂L/∂u(T)), the discrete adjoint (with the global
 * regularizer), then the local regularizer, all added to gtheta. */
static nde_status fm_backward(void *self, nde_params *p, const double *gy, double *gx,
                              double *gtheta, size_t batch)
{
    fm *f = self;
    if (gx)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "fashion_mnist: the model gives no input gradient");
    if (f->batch != batch)
        return NDE_FAIL(NDE_ERR_STATE, "fashion_mnist backward: no training forward of a batch "
                        "of %zu", batch);
    const size_t n = batch * FM_PIXELS, nt = f->nt, np = nde_params_count(p);
    NDE_TRY(nde_dense_backward(&f->cls, p, 0.0, f->traj + (nt - 1) * n, gy, f->du, gtheta, batch));
    memset(f->dl, 0, nt * n * sizeof *f->dl);
    memcpy(f->dl + (nt - 1) * n, f->du, n * sizeof *f->dl);
    f->reg_value = 0.0;
    if (f->reg) {
        NDE_TRY(nde_reg_set_coef(f->reg, f->lambda));
        NDE_TRY(nde_adjoint_discrete_reg(f->train, f->dl, f->reg, gtheta, np, NULL, &f->reg_value));
    } else {
        NDE_TRY(nde_adjoint_discrete(f->train, f->dl, gtheta, np, NULL));
    }
    if (f->local) {
        double t_reg = f->t_reg;
        const double *u_reg = f->traj + f->k_reg * n;
        if (f->sampling == NDE_LOCAL_BIASED) NDE_TRY(nde_local_reg_sample(f->local, &t_reg, &u_reg));
        nde_local_reg_result res;
        NDE_TRY(nde_local_reg_set_coef(f->local, f->lambda));
        NDE_TRY(nde_local_reg_eval(f->local, batch, t_reg, u_reg, NULL, 1.0, 0.0, gtheta, NULL,
                                   &res));
        f->reg_value = res.value;
    }
    return NDE_OK;
}

static nde_status fm_init(void *self, nde_params *p, nde_rng *rng)
{
    fm *f = self;
    NDE_TRY(nde_mlp_init(f->net, p, NDE_INIT_TORCH, 0.0, rng));
    return nde_dense_init(&f->cls, p, NDE_INIT_TORCH, 0.0, rng);
}

static nde_status fm_set_training(void *self, int training)
{
    fm *f = self;
    f->training = training != 0;
    f->batch = 0;
    return NDE_OK;
}

static void fm_destroy(void *self)
{
    fm *f = self;
    nde_solver_destroy(&f->train);
    nde_solver_destroy(&f->eval);
    nde_reg_destroy(&f->reg);
    nde_local_reg_destroy(&f->local);
    nde_mlp_destroy(&f->net);
    nde_free(f->traj), nde_free(f->dl), nde_free(f->du), nde_free(f->logits);
    nde_free(f);
}

static const nde_model_ops fm_ops = {.kind = "fashion_mnist_node", .forward = fm_forward,
                                     .backward = fm_backward, .init = fm_init,
                                     .set_training = fm_set_training, .destroy = fm_destroy};

static nde_status fm_build(fm *f, const fm_model_spec *spec)
{
    const size_t B = spec->max_batch, n = B * FM_PIXELS;
    nde_mlp_spec ms = {.in = FM_PIXELS, .out = FM_PIXELS, .hidden = {100},
                       .act = NDE_ACT_TANH, .out_act = NDE_ACT_TANH, .time = NDE_TIME_ALL};
    NDE_TRY(nde_mlp_create(f->p, &ms, "ode", &f->net));
    NDE_TRY(nde_dense_add(f->p, "classifier", FM_PIXELS, FM_CLASSES, 0, &f->cls));
    NDE_TRY(nde_mlp_reserve(f->net, B));
    NDE_TRY(nde_mlp_field(f->net, f->p, &f->field));
    f->traj = nde_alloc_array(3 * n, sizeof *f->traj);
    f->dl = nde_alloc_array(3 * n, sizeof *f->dl);
    f->du = nde_alloc_array(n, sizeof *f->du);
    f->logits = nde_alloc_array(B * FM_CLASSES, sizeof *f->logits);
    if (!f->traj || !f->dl || !f->du || !f->logits) return NDE_ERR_NOMEM;
    if (spec->reg) NDE_TRY(nde_reg_create(spec->reg, &f->reg));
    nde_solver_opts o = spec->solver, op = spec->solver;
    if (spec->local) {
        f->sampling = spec->local->sampling;
        NDE_TRY(nde_local_reg_create(&f->field, B, spec->local, &f->local));
        if (f->sampling == NDE_LOCAL_BIASED) {
            o.callback = nde_local_reg_callback;
            o.callback_user = f->local;
        }
    }
    NDE_TRY(nde_schedule_check(&f->coef));
    op.tape = NDE_TAPE_NONE;
    op.callback = NULL;
    op.callback_user = NULL;
    NDE_TRY(nde_solver_create(NULL, &f->field, &o, &f->train));
    return nde_solver_create(NULL, &f->field, &op, &f->eval);
}

nde_status fm_model_create(const fm_model_spec *spec, nde_model **out)
{
    if (!spec || !out || spec->max_batch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "fm_model_create: NULL argument or batch 0");
    nde_params *p = NULL;
    NDE_TRY(nde_params_create(&p));
    fm *f = nde_alloc(sizeof *f);
    if (!f) {
        nde_params_destroy(&p);
        return NDE_ERR_NOMEM;
    }
    f->p = p;
    f->max_batch = spec->max_batch;
    f->steer_b = spec->steer_b;
    nde_rng_seed(&f->steer_rng, spec->steer_seed);
    f->coef = spec->coef;
    f->training = 1;
    nde_status st = fm_build(f, spec);
    if (st != NDE_OK) {
        fm_destroy(f);
        nde_params_destroy(&p);
        return st;
    }
    return nde_model_create(&fm_ops, f, p, FM_PIXELS, FM_CLASSES, out);
}

void fm_model_set_step(nde_model *m, uint64_t step)
{
    fm *f = nde_model_content(m);
    f->lambda = nde_schedule_value(&f->coef, step);
}

size_t fm_model_nfe(nde_model *m) { return ((fm *)nde_model_content(m))->nfe; }
double fm_model_reg_value(nde_model *m) { return ((fm *)nde_model_content(m))->reg_value; }
const double *fm_model_logits(nde_model *m) { return ((fm *)nde_model_content(m))->logits; }
nde_solver *fm_model_eval_solver(nde_model *m) { return ((fm *)nde_model_content(m))->eval; }
