/* Forward and reverse execution of the MgNO operation list (see mgno_graph.h). */
#include "operators/mgno_graph.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/grow.h"
#include "nde/operators.h"
#include "operators/conv_internal.h"
#include "operators/f32.h"

nde_status mg_graph_init(mg_graph *g, nde_params *params, size_t in_len, nde_precision precision)
{
    memset(g, 0, sizeof *g);
    g->params = params;
    g->precision = precision;
    g->elem = precision == NDE_PRECISION_FLOAT32 ? sizeof(float) : sizeof(double);
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
    nde_free(g->th32);
    nde_free(g->gth32);
    nde_free(g->gelu_d);
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
    g->arena_len += (len + 7) / 8 * 8; /* keep every slot 64-byte (float: 32-byte) aligned */
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

static int is_f32(const mg_graph *g) { return g->precision == NDE_PRECISION_FLOAT32; }

nde_status mg_graph_finalize(mg_graph *g, int out_slot)
{
    size_t gelu_max = 0, th_hi = 0;
    g->th_lo = SIZE_MAX;
    for (size_t i = 0; i < g->n_ops; i++) {
        const mg_op *op = &g->ops[i];
        for (size_t j = 0; j < g->n_ops && op->kind == MG_OP_GELU; j++)
            if (j != i && g->ops[j].src == op->src)
                return NDE_FAIL(NDE_ERR_STATE, "mgno graph: the source slot %d of a GELU has "
                                "another reader", op->src);
        if (op->kind == MG_OP_GELU && g->slot_len[op->src] > gelu_max)
            gelu_max = g->slot_len[op->src];
        if (op->kind != MG_OP_CONV) continue;
        const size_t w_end = op->w_off + nde_conv_weight_numel(op->conv);
        const size_t b_end = op->b_off + nde_conv_get_spec(op->conv)->c_out;
        if (op->w_off < g->th_lo) g->th_lo = op->w_off;
        if (w_end > th_hi) th_hi = w_end;
        if (op->has_bias && op->b_off < g->th_lo) g->th_lo = op->b_off;
        if (op->has_bias && b_end > th_hi) th_hi = b_end;
    }
    if (th_hi == 0) g->th_lo = 0;
    g->th_len = th_hi - g->th_lo;
    g->out_slot = out_slot;
    g->val = nde_alloc_array(g->arena_len, g->elem);
    g->grad = nde_alloc_array(g->arena_len, g->elem);
    if (!g->val || !g->grad) return NDE_ERR_NOMEM;
    if (is_f32(g)) {
        g->th32 = nde_alloc_array(g->th_len + 1, sizeof *g->th32);
        g->gth32 = nde_alloc_array(g->th_len + 1, sizeof *g->gth32);
        g->gelu_d = nde_alloc_array(gelu_max + 1, sizeof *g->gelu_d);
        if (!g->th32 || !g->gth32 || !g->gelu_d) return NDE_ERR_NOMEM;
    }
    return NDE_OK;
}

size_t mg_graph_in_len(const mg_graph *g) { return g->slot_len[0]; }
size_t mg_graph_out_len(const mg_graph *g) { return g->slot_len[g->out_slot]; }

/* Value `off` (in elements) of an arena of the graph's precision. */
static void *at(const mg_graph *g, void *arena, size_t off)
{
    return (char *)arena + off * g->elem;
}

/* θ entry `off` of the store in the graph's precision: the double store itself, or the
 * float copy of the graph's θ range (theta is then unused); NULL for a NULL store. */
static const void *theta_at(const mg_graph *g, const double *theta, size_t off)
{
    if (!theta) return NULL;
    return is_f32(g) ? (const void *)(g->th32 + (off - g->th_lo)) : (const void *)(theta + off);
}

/* The gradient of θ entry `off` in the graph's precision: in the caller's double gtheta,
 * or in the float gradient of the current sample; NULL when gtheta is NULL. */
static void *grad_at(const mg_graph *g, double *gtheta, size_t off)
{
    if (!gtheta) return NULL;
    return is_f32(g) ? (void *)(g->gth32 + (off - g->th_lo)) : (void *)(gtheta + off);
}

/* Run all operations on the sample already copied into slot 0 of val. */
static nde_status run_forward(const mg_graph *g, const double *theta, void *val)
{
    for (size_t i = 0; i < g->n_ops; i++) {
        const mg_op *op = &g->ops[i];
        const void *src = at(g, val, g->slot_off[op->src]);
        void *dst = at(g, val, g->slot_off[op->dst]);
        const size_t n = g->slot_len[op->src];
        const void *w = op->kind == MG_OP_CONV ? theta_at(g, theta, op->w_off) : NULL;
        const void *b = op->has_bias ? theta_at(g, theta, op->b_off) : NULL;
        switch (op->kind) {
        case MG_OP_COPY: memcpy(dst, src, n * g->elem); break;
        case MG_OP_GELU:
            if (is_f32(g)) nde_f32_gelu_with_grad(src, dst, g->gelu_d, n);
            else nde_gelu(src, dst, n);
            break;
        case MG_OP_CONV:
            NDE_TRY(is_f32(g) ? nde_conv_apply_f32(op->conv, w, b, src, dst, 1, (float)op->alpha,
                                                   op->accumulate)
                              : nde_conv_apply(op->conv, w, b, src, dst, 1, op->alpha,
                                               op->accumulate));
            break;
        }
    }
    return NDE_OK;
}

/* gsrc (n) += gdst. */
static void add_into(const mg_graph *g, void *gsrc, const void *gdst, size_t n)
{
    if (is_f32(g)) {
        float *a = gsrc;
        const float *d = gdst;
        for (size_t k = 0; k < n; k++) a[k] += d[k];
    } else {
        double *a = gsrc;
        const double *d = gdst;
        for (size_t k = 0; k < n; k++) a[k] += d[k];
    }
}

/* Reverse sweep for one sample whose activations are in val; gy is its output gradient.
 * gx (double, may be NULL) is overwritten; gtheta (double, may be NULL) is accumulated
 * (float32: through the float gradient of this sample). */
static nde_status run_reverse(mg_graph *g, const double *theta, void *val, const double *gy,
                              double *gx, double *gtheta)
{
    const int f32 = is_f32(g);
    memset(g->grad, 0, g->arena_len * g->elem);
    void *gout = at(g, g->grad, g->slot_off[g->out_slot]);
    if (f32) nde_f32_from_f64(gy, gout, mg_graph_out_len(g));
    else memcpy(gout, gy, mg_graph_out_len(g) * sizeof *gy);
    if (gtheta && f32) memset(g->gth32, 0, g->th_len * sizeof *g->gth32);
    for (size_t i = g->n_ops; i-- > 0;) {
        const mg_op *op = &g->ops[i];
        const void *src = at(g, val, g->slot_off[op->src]);
        void *gsrc = at(g, g->grad, g->slot_off[op->src]);
        const void *gdst = at(g, g->grad, g->slot_off[op->dst]);
        const size_t n = g->slot_len[op->src];
        switch (op->kind) {
        case MG_OP_COPY: add_into(g, gsrc, gdst, n); break;
        case MG_OP_GELU: /* the source has no other reader (checked at finalize) */
            if (f32) {
                float *gs = gsrc;
                const float *gd = gdst;
                nde_f32_gelu_with_grad(src, gs, g->gelu_d, n); /* gs: scratch for gelu */
                for (size_t k = 0; k < n; k++) gs[k] = gd[k] * g->gelu_d[k];
            } else {
                nde_gelu_vjp(src, gdst, gsrc, n);
            }
            break;
        case MG_OP_CONV: {
            const void *w = theta_at(g, theta, op->w_off);
            void *gw = grad_at(g, gtheta, op->w_off);
            void *gb = op->has_bias ? grad_at(g, gtheta, op->b_off) : NULL;
            NDE_TRY(f32 ? nde_conv_apply_vjp_f32(op->conv, w, src, gdst, gsrc, gw, gb, 1,
                                                 (float)op->alpha)
                        : nde_conv_apply_vjp(op->conv, w, src, gdst, gsrc, gw, gb, 1, op->alpha));
            break;
        }
        }
    }
    if (gx && f32) nde_f64_from_f32(g->grad, gx, mg_graph_in_len(g));
    else if (gx) memcpy(gx, g->grad, mg_graph_in_len(g) * sizeof *gx);
    if (gtheta && f32) nde_f64_add_f32(g->gth32, gtheta + g->th_lo, g->th_len);
    return NDE_OK;
}

/* θ as the operations read it: the store, after refreshing the float copy (float32). */
static const double *theta_for_run(mg_graph *g)
{
    const double *theta = nde_params_theta_const(g->params);
    if (is_f32(g)) nde_f32_from_f64(theta + g->th_lo, g->th32, g->th_len);
    return theta;
}

/* Copy sample x (in_len doubles) into slot 0 of val. */
static void load_input(const mg_graph *g, const double *x, void *val)
{
    if (is_f32(g)) nde_f32_from_f64(x, val, mg_graph_in_len(g));
    else memcpy(val, x, mg_graph_in_len(g) * sizeof *x);
}

nde_status mg_graph_reserve(mg_graph *g, size_t max_batch)
{
    if (max_batch <= g->tape_cap) return NDE_OK;
    void *t = nde_alloc_array(max_batch, g->arena_len * g->elem);
    if (!t) return NDE_ERR_NOMEM;
    nde_free(g->tape);
    g->tape = t;
    g->tape_cap = max_batch;
    g->tape_batch = 0;
    return NDE_OK;
}

/* The kept activations of sample s. */
static void *tape_of(const mg_graph *g, size_t s) { return at(g, g->tape, s * g->arena_len); }

nde_status mg_graph_forward(mg_graph *g, const double *x, double *y, size_t batch, int keep)
{
    if (keep && batch > g->tape_cap)
        return NDE_FAIL(NDE_ERR_ARG, "mgno: batch %zu exceeds the %zu samples reserved for "
                        "keeping activations", batch, g->tape_cap);
    const double *theta = theta_for_run(g);
    const size_t in = mg_graph_in_len(g), out = mg_graph_out_len(g);
    g->tape_batch = 0;
    for (size_t s = 0; s < batch; s++) {
        void *val = keep ? tape_of(g, s) : g->val;
        load_input(g, x + s * in, val);
        NDE_TRY(run_forward(g, theta, val));
        const void *res = at(g, val, g->slot_off[g->out_slot]);
        double *ys = y + s * out;
        if (is_f32(g)) nde_f64_from_f32(res, ys, out);
        else memcpy(ys, res, out * sizeof *ys);
        for (size_t k = 0; k < out; k++)
            if (!isfinite(ys[k]))
                return NDE_FAIL(NDE_ERR_NONFINITE, "mgno: output %zu of sample %zu is %g", k, s,
                                ys[k]);
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
    const double *theta = theta_for_run(g);
    const size_t in = mg_graph_in_len(g), out = mg_graph_out_len(g);
    for (size_t s = 0; s < batch; s++)
        NDE_TRY(run_reverse(g, theta, tape_of(g, s), gy + s * out, gx ? gx + s * in : NULL,
                            gtheta));
    return NDE_OK;
}

nde_status mg_graph_vjp(mg_graph *g, const double *x, const double *gy, double *gx,
                        double *gtheta, size_t batch)
{
    const double *theta = theta_for_run(g);
    const size_t in = mg_graph_in_len(g), out = mg_graph_out_len(g);
    for (size_t s = 0; s < batch; s++) {
        load_input(g, x + s * in, g->val);
        NDE_TRY(run_forward(g, theta, g->val));
        NDE_TRY(run_reverse(g, theta, g->val, gy + s * out, gx ? gx + s * in : NULL, gtheta));
    }
    return NDE_OK;
}
