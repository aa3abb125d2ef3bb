/* Forward and reverse execution of the MgNO operation list (see mgno_graph.h). */
#include "operators/mgno_graph.h"

#include <math.h>
#include <string.h>

#include "core/grow.h"
#include "nde/operators.h"
#include "operators/conv_internal.h"

nde_status mg_graph_init(mg_graph *g, nde_params *params, size_t in_len)
{
    memset(g, 0, sizeof *g);
    g->params = params;
    g->out_slot = -1;
    int in;
    return mg_graph_slot(g, in_len, &in);
}

void mg_graph_free(mg_graph *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_plans; i++) nde_conv_destroy(&g->plans[i]);
    nde_free(g->plans);
    nde_free(g->ops);
    nde_free(g->slot_off);
    nde_free(g->slot_len);
    nde_free(g->val);
    nde_free(g->tape);
    nde_free(g->grad);
    memset(g, 0, sizeof *g);
}

nde_status mg_graph_slot(mg_graph *g, size_t len, int *slot)
{
    size_t cap = g->slots_cap;
    NDE_TRY(nde_grow((void **)&g->slot_off, &cap, g->n_slots, sizeof *g->slot_off, 16));
    cap = g->slots_cap;
    NDE_TRY(nde_grow((void **)&g->slot_len, &cap, g->n_slots, sizeof *g->slot_len, 16));
    g->slots_cap = cap;
    g->slot_off[g->n_slots] = g->arena_len;
    g->slot_len[g->n_slots] = len;
    g->arena_len += (len + 7) / 8 * 8; /* keep every slot 64-byte aligned */
    *slot = (int)g->n_slots++;
    return NDE_OK;
}

static nde_status push_op(mg_graph *g, const mg_op *op)
{
    NDE_TRY(nde_grow((void **)&g->ops, &g->ops_cap, g->n_ops, sizeof *g->ops, 16));
    g->ops[g->n_ops++] = *op;
    return NDE_OK;
}

static int same_spec(const nde_conv_spec *a, const nde_conv_spec *b)
{
    return a->ndim == b->ndim && a->transposed == b->transposed && a->c_in == b->c_in &&
           a->c_out == b->c_out && a->n_in[0] == b->n_in[0] &&
           (a->ndim == 1 || a->n_in[1] == b->n_in[1]) && a->kernel == b->kernel &&
           a->stride == b->stride && a->pad == b->pad && a->pad_mode == b->pad_mode;
}

/* An elementwise op (`what` in messages) from slot src into a slot of the same length. */
static nde_status push_elementwise(mg_graph *g, mg_op_kind kind, const char *what, int src,
                                   int dst)
{
    if (g->slot_len[src] != g->slot_len[dst])
        return NDE_FAIL(NDE_ERR_SHAPE, "mgno graph: %s of %zu values into a slot of %zu", what,
                        g->slot_len[src], g->slot_len[dst]);
    mg_op op = {.kind = kind, .src = src, .dst = dst};
    return push_op(g, &op);
}

nde_status mg_graph_copy(mg_graph *g, int src, int dst)
{
    return push_elementwise(g, MG_OP_COPY, "copy", src, dst);
}

nde_status mg_graph_gelu(mg_graph *g, int src, int dst)
{
    return push_elementwise(g, MG_OP_GELU, "GELU", src, dst);
}

nde_status mg_graph_conv(mg_graph *g, const nde_conv_spec *spec, size_t w_off, int has_bias,
                         size_t b_off, int src, int dst, double alpha, int accumulate)
{
    nde_conv *plan = NULL;
    for (size_t i = 0; i < g->n_plans && !plan; i++)
        if (same_spec(nde_conv_get_spec(g->plans[i]), spec)) plan = g->plans[i];
    if (!plan) {
        NDE_TRY(nde_grow((void **)&g->plans, &g->plans_cap, g->n_plans, sizeof *g->plans, 16));
        NDE_TRY(nde_conv_create(spec, &plan));
        g->plans[g->n_plans++] = plan;
    }
    if (nde_conv_in_numel(plan) != g->slot_len[src] || nde_conv_out_numel(plan) != g->slot_len[dst])
        return NDE_FAIL(NDE_ERR_SHAPE, "mgno graph: convolution maps %zu → %zu values but the "
                        "slots hold %zu → %zu", nde_conv_in_numel(plan), nde_conv_out_numel(plan),
                        g->slot_len[src], g->slot_len[dst]);
    mg_op op = {.kind = MG_OP_CONV, .src = src, .dst = dst, .conv = plan, .w_off = w_off,
                .b_off = b_off, .has_bias = has_bias, .alpha = alpha, .accumulate = accumulate};
    return push_op(g, &op);
}

nde_status mg_graph_finalize(mg_graph *g, int out_slot)
{
    for (size_t i = 0; i < g->n_ops; i++)
        for (size_t j = 0; j < g->n_ops && g->ops[i].kind == MG_OP_GELU; j++)
            if (j != i && g->ops[j].src == g->ops[i].src)
                return NDE_FAIL(NDE_ERR_STATE, "mgno graph: the source slot %d of a GELU has "
                                "another reader", g->ops[i].src);
    g->out_slot = out_slot;
    g->val = nde_alloc_array(g->arena_len, sizeof *g->val);
    g->grad = nde_alloc_array(g->arena_len, sizeof *g->grad);
    return g->val && g->grad ? NDE_OK : NDE_ERR_NOMEM;
}

size_t mg_graph_in_len(const mg_graph *g) { return g->slot_len[0]; }
size_t mg_graph_out_len(const mg_graph *g) { return g->slot_len[g->out_slot]; }

/* Run all operations on the sample already copied into slot 0 of val. */
static nde_status run_forward(const mg_graph *g, const double *theta, double *val)
{
    for (size_t i = 0; i < g->n_ops; i++) {
        const mg_op *op = &g->ops[i];
        const double *src = val + g->slot_off[op->src];
        double *dst = val + g->slot_off[op->dst];
        const size_t n = g->slot_len[op->src];
        switch (op->kind) {
        case MG_OP_COPY: memcpy(dst, src, n * sizeof *dst); break;
        case MG_OP_GELU: nde_gelu(src, dst, n); break;
        case MG_OP_CONV:
            NDE_TRY(nde_conv_apply(op->conv, theta + op->w_off,
                                   op->has_bias ? theta + op->b_off : NULL, src, dst, 1, op->alpha,
                                   op->accumulate));
            break;
        }
    }
    return NDE_OK;
}

/* Reverse sweep for one sample whose activations are in val; gy is its output gradient. */
static nde_status run_reverse(mg_graph *g, const double *theta, const double *val,
                              const double *gy, double *gx, double *gtheta)
{
    memset(g->grad, 0, g->arena_len * sizeof *g->grad);
    memcpy(g->grad + g->slot_off[g->out_slot], gy, mg_graph_out_len(g) * sizeof *gy);
    for (size_t i = g->n_ops; i-- > 0;) {
        const mg_op *op = &g->ops[i];
        const double *src = val + g->slot_off[op->src];
        double *gsrc = g->grad + g->slot_off[op->src];
        const double *gdst = g->grad + g->slot_off[op->dst];
        const size_t n = g->slot_len[op->src];
        switch (op->kind) {
        case MG_OP_COPY:
            for (size_t k = 0; k < n; k++) gsrc[k] += gdst[k];
            break;
        case MG_OP_GELU: /* the source has no other reader (checked at finalize) */
            nde_gelu_vjp(src, gdst, gsrc, n);
            break;
        case MG_OP_CONV:
            NDE_TRY(nde_conv_apply_vjp(op->conv, theta + op->w_off, src, gdst, gsrc,
                                       gtheta ? gtheta + op->w_off : NULL,
                                       gtheta && op->has_bias ? gtheta + op->b_off : NULL, 1,
                                       op->alpha));
            break;
        }
    }
    if (gx) memcpy(gx, g->grad, mg_graph_in_len(g) * sizeof *gx);
    return NDE_OK;
}

nde_status mg_graph_reserve(mg_graph *g, size_t max_batch)
{
    if (max_batch <= g->tape_cap) return NDE_OK;
    double *t = nde_alloc_array(max_batch, g->arena_len * sizeof(double));
    if (!t) return NDE_ERR_NOMEM;
    nde_free(g->tape);
    g->tape = t;
    g->tape_cap = max_batch;
    g->tape_batch = 0;
    return NDE_OK;
}

nde_status mg_graph_forward(mg_graph *g, const double *x, double *y, size_t batch, int keep)
{
    if (keep && batch > g->tape_cap)
        return NDE_FAIL(NDE_ERR_ARG, "mgno: batch %zu exceeds the %zu samples reserved for "
                        "keeping activations", batch, g->tape_cap);
    const double *theta = nde_params_theta_const(g->params);
    const size_t in = mg_graph_in_len(g), out = mg_graph_out_len(g);
    g->tape_batch = 0;
    for (size_t s = 0; s < batch; s++) {
        double *val = keep ? g->tape + s * g->arena_len : g->val;
        memcpy(val, x + s * in, in * sizeof *x);
        NDE_TRY(run_forward(g, theta, val));
        const double *res = val + g->slot_off[g->out_slot];
        for (size_t k = 0; k < out; k++)
            if (!isfinite(res[k]))
                return NDE_FAIL(NDE_ERR_NONFINITE, "mgno: output %zu of sample %zu is %g", k, s,
                                res[k]);
        memcpy(y + s * out, res, out * sizeof *y);
    }
    if (keep) g->tape_batch = batch;
    return NDE_OK;
}

nde_status mg_graph_backward(mg_graph *g, const double *gy, double *gx, double *gtheta,
                             size_t batch)
{
    if (!g->tape_batch || batch != g->tape_batch)
        return NDE_FAIL(NDE_ERR_STATE, "mgno: backward for %zu samples needs a forward that kept "
                        "the activations of as many (kept: %zu)", batch, g->tape_batch);
    const double *theta = nde_params_theta_const(g->params);
    const size_t in = mg_graph_in_len(g), out = mg_graph_out_len(g);
    for (size_t s = 0; s < batch; s++)
        NDE_TRY(run_reverse(g, theta, g->tape + s * g->arena_len, gy + s * out,
                            gx ? gx + s * in : NULL, gtheta));
    return NDE_OK;
}

nde_status mg_graph_vjp(mg_graph *g, const double *x, const double *gy, double *gx,
                        double *gtheta, size_t batch)
{
    const double *theta = nde_params_theta_const(g->params);
    const size_t in = mg_graph_in_len(g), out = mg_graph_out_len(g);
    for (size_t s = 0; s < batch; s++) {
        memcpy(g->val, x + s * in, in * sizeof *x);
        NDE_TRY(run_forward(g, theta, g->val));
        NDE_TRY(run_reverse(g, theta, g->val, gy + s * out, gx ? gx + s * in : NULL, gtheta));
    }
    return NDE_OK;
}
