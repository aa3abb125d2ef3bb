/* The neural ODE as a model: forward = solve, backward = discrete adjoint (plus an
 * optional step regularizer on the same solve). */
#include <string.h>

#include "model/model_internal.h"
#include "nde/adjoint.h"

typedef struct node_model {
    nde_model *field_model; /* borrowed view of the wrapped model (owned by the nde_model) */
    nde_field field;
    nde_solver *train, *eval;
    nde_adjoint *adj;       /* the gradient of solves without a regularizer */
    nde_reg *reg;           /* borrowed */
    nde_node_output output;
    int training;
    size_t nt, dim;
    double *ts;             /* (nt) */
    double *traj, *dl;      /* (nt, batch, dim) */
    size_t cap;             /* batch capacity of traj and dl */
    size_t last_batch;      /* batch of the last training forward (0: none) */
    double reg_value;
} node_model;

static nde_status node_reserve(void *self, size_t max_batch)
{
    node_model *nm = self;
    if (max_batch <= nm->cap) return NDE_OK;
    NDE_TRY(nde_model_reserve(nm->field_model, max_batch));
    double *traj = nde_alloc_array(nm->nt * max_batch * nm->dim, sizeof *traj);
    double *dl = nde_alloc_array(nm->nt * max_batch * nm->dim, sizeof *dl);
    if (!traj || !dl) {
        nde_free(traj);
        nde_free(dl);
        return NDE_FAIL(NDE_ERR_NOMEM, "neural ODE: no room for a batch of %zu (%zu save times, dim %zu)",
                        max_batch, nm->nt, nm->dim);
    }
    nde_free(nm->traj);
    nde_free(nm->dl);
    nm->traj = traj;
    nm->dl = dl;
    nm->cap = max_batch;
    return NDE_OK;
}

static nde_status node_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    (void)p;
    node_model *nm = self;
    NDE_TRY(node_reserve(nm, batch));
    nde_solver *s = nm->training ? nm->train : nm->eval;
    nm->last_batch = 0;
    NDE_TRY(nde_solve(s, batch, nm->dim, x, nm->nt, nm->ts, nm->traj));
    const size_t d = nm->dim;
    if (nm->output == NDE_NODE_FINAL) {
        memcpy(y, nm->traj + (nm->nt - 1) * batch * d, batch * d * sizeof *y);
    } else {
        for (size_t b = 0; b < batch; b++)      /* (nt, batch, dim) → (batch, nt, dim) */
            for (size_t k = 0; k < nm->nt; k++)
                memcpy(y + (b * nm->nt + k) * d, nm->traj + (k * batch + b) * d, d * sizeof *y);
    }
    if (nm->training) nm->last_batch = batch;
    return NDE_OK;
}

static nde_status node_backward(void *self, nde_params *p, const double *gy, double *gx,
                                double *gtheta, size_t batch)
{
    node_model *nm = self;
    if (nm->last_batch != batch)
        return NDE_FAIL(NDE_ERR_STATE, "neural ODE backward: no training forward of a batch of %zu "
                        "(last: %zu; evaluation-mode forwards keep no tape)", batch, nm->last_batch);
    const size_t d = nm->dim;
    if (nm->output == NDE_NODE_FINAL) {
        memset(nm->dl, 0, (nm->nt - 1) * batch * d * sizeof *nm->dl);
        memcpy(nm->dl + (nm->nt - 1) * batch * d, gy, batch * d * sizeof *gy);
    } else {
        for (size_t b = 0; b < batch; b++)
            for (size_t k = 0; k < nm->nt; k++)
                memcpy(nm->dl + (k * batch + b) * d, gy + (b * nm->nt + k) * d, d * sizeof *gy);
    }
    const size_t n = nde_params_count(p);
    if (nm->reg)
        return nde_adjoint_discrete_reg(nm->train, nm->dl, nm->reg, gtheta, n, gx, &nm->reg_value);
    return nde_adjoint_run(nm->adj, nm->traj, nm->dl, gtheta, n, gx);
}

static nde_status node_init(void *self, nde_params *p, nde_rng *rng)
{
    (void)p;
    return nde_model_init(((node_model *)self)->field_model, rng);
}

static nde_status node_set_training(void *self, int training)
{
    node_model *nm = self;
    nm->training = training != 0;
    nm->last_batch = 0;
    return NDE_OK;
}

static void node_destroy(void *self)
{
    node_model *nm = self;
    nde_adjoint_destroy(&nm->adj);
    nde_solver_destroy(&nm->train);
    nde_solver_destroy(&nm->eval);
    nde_free(nm->ts);
    nde_free(nm->traj);
    nde_free(nm->dl);
    nde_free(nm);
}

static const nde_model_ops node_ops = {.kind = "node", .forward = node_forward,
                                       .backward = node_backward, .init = node_init,
                                       .reserve = node_reserve,
                                       .set_training = node_set_training,
                                       .destroy = node_destroy};

static nde_status node_build(nde_ctx *ctx, node_model *nm, const nde_node_spec *spec)
{
    NDE_TRY(nde_model_field(nm->field_model, &nm->field));
    NDE_TRY(nde_field_check(&nm->field, 1));
    nm->dim = nm->field.dim;
    nm->ts = nde_alloc_array(spec->nt, sizeof *nm->ts);
    if (!nm->ts) return NDE_ERR_NOMEM;
    memcpy(nm->ts, spec->ts, spec->nt * sizeof *nm->ts);
    nde_solver_opts o = spec->solver;
    nde_adjoint_opts ao = spec->adjoint ? *spec->adjoint : nde_adjoint_defaults(NULL, NDE_ADJ_DISCRETE_STAGES);
    if (!spec->adjoint) {
        ao.kind = o.tape == NDE_TAPE_STEP_STARTS ? NDE_ADJ_DISCRETE_STEP_STARTS
                  : o.tape == NDE_TAPE_CHECKPOINT ? NDE_ADJ_DISCRETE_CHECKPOINT
                                                   : NDE_ADJ_DISCRETE_STAGES;
        ao.checkpoint_every = o.checkpoint_every;
        ao.checkpoint_slots = o.checkpoint_slots;
    }
    const int discrete = ao.kind == NDE_ADJ_DISCRETE_STAGES ||
                         ao.kind == NDE_ADJ_DISCRETE_STEP_STARTS ||
                         ao.kind == NDE_ADJ_DISCRETE_CHECKPOINT;
    /* a continuous or CVODES adjoint needs no tape (SUNDIALS methods record none);
     * nde_adjoint_create sets what its kind records */
    if (o.tape == NDE_TAPE_NONE && discrete) o.tape = NDE_TAPE_STAGES;
    if (nm->reg && !discrete)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "neural ODE: a step regularizer needs a discrete "
                        "adjoint (adjoint kind %d)", (int)ao.kind);
    NDE_TRY(nde_solver_create(ctx, &nm->field, &o, &nm->train));
    /* the regularized gradient goes through nde_adjoint_discrete_reg, which keeps its own
     * adjoint in the solver; an adjoint object here would take the solver over */
    if (!nm->reg) NDE_TRY(nde_adjoint_create(nm->train, &ao, &nm->adj));
    o.tape = NDE_TAPE_NONE;
    o.cvodes_adj_steps = 0;
    return nde_solver_create(ctx, &nm->field, &o, &nm->eval);
}

nde_status nde_model_node_create(nde_ctx *ctx, nde_model *field_model, const nde_node_spec *spec,
                                 nde_model **out)
{
    nde_status st = NDE_OK;
    if (!field_model || !spec || !out || !spec->ts)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_node_create: NULL argument");
    else if (spec->nt < 2)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_node_create: %zu save times (need >= 2)", spec->nt);
    else if ((int)spec->output < NDE_NODE_TRAJECTORY || spec->output > NDE_NODE_FINAL)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_node_create: unknown output %d", (int)spec->output);
    node_model *nm = st == NDE_OK ? nde_alloc(sizeof *nm) : NULL;
    if (st == NDE_OK && !nm) st = NDE_ERR_NOMEM;
    if (st == NDE_OK) {
        *nm = (node_model){.field_model = field_model, .reg = spec->reg, .output = spec->output,
                           .training = 1, .nt = spec->nt};
        st = node_build(ctx, nm, spec);
        if (st != NDE_OK) node_destroy(nm);
    }
    if (st != NDE_OK) {
        nde_model_destroy(&field_model);
        if (out) *out = NULL;
        return st;
    }
    const size_t out_size = spec->output == NDE_NODE_FINAL ? nm->dim : nm->nt * nm->dim;
    return nde_model_wrap(&node_ops, nm, field_model, nm->dim, out_size, out);
}

static node_model *as_node(nde_model *m) { return nde_model_content_of(m, &node_ops); }

nde_solver *nde_model_node_solver(nde_model *m)
{
    node_model *nm = as_node(m);
    return nm ? nm->train : NULL;
}

nde_solver *nde_model_node_eval_solver(nde_model *m)
{
    node_model *nm = as_node(m);
    return nm ? nm->eval : NULL;
}

nde_model *nde_model_node_field_model(nde_model *m)
{
    node_model *nm = as_node(m);
    return nm ? nm->field_model : NULL;
}

double nde_model_node_reg_value(const nde_model *m)
{
    node_model *nm = as_node((nde_model *)m);
    return nm ? nm->reg_value : 0.0;
}
