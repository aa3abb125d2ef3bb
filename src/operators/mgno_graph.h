/* A tiny static computation graph for MgNO: a list of operations (copy, scaled
 * convolution, GELU) over numbered value slots of one sample, run forward and in
 * reverse for the vector–Jacobian product.
 *
 * Rules that make the reverse sweep exact: every slot is written by one overwriting
 * operation followed only by accumulating ones, all before its first read, and
 * slots are never reused (single assignment); a GELU's source slot has no other
 * reader (its VJP overwrites the source gradient). Slot 0 is the input. Values and
 * gradients of all slots live in two arenas sized once at finalize time, so running
 * the graph never allocates; samples of a batch are processed one after another.
 *
 * Precision (issue 16): with NDE_PRECISION_FLOAT32 the arenas and the tape hold floats and
 * every operation runs its float twin (nde_conv_apply_f32, the float GELU); θ is read
 * through a float copy of the graph's θ range [th_lo, th_lo + th_len), refreshed at the
 * start of every forward, backward and vjp, and each sample's θ-gradient is computed in
 * float and added into the caller's double gtheta. One walk over the operations serves
 * both precisions (slots are addressed in elements of size elem). */
#ifndef NDE_MGNO_GRAPH_H
#define NDE_MGNO_GRAPH_H

#include "nde/mgno.h"

typedef enum mg_op_kind { MG_OP_COPY, MG_OP_CONV, MG_OP_GELU } mg_op_kind;

typedef struct mg_op {
    mg_op_kind kind;
    int src, dst;        /* slots */
    nde_conv *conv;      /* MG_OP_CONV: a plan owned by the graph */
    size_t w_off, b_off; /* offsets into θ */
    int has_bias;
    double alpha;        /* dst (+)= alpha·(conv(src) + b) */
    int accumulate;
} mg_op;

typedef struct mg_graph {
    nde_params *params; /* borrowed */
    size_t *slot_off, *slot_len;
    size_t n_slots, slots_cap;
    mg_op *ops;
    size_t n_ops, ops_cap;
    nde_conv **plans; /* distinct convolution geometries, shared by operations */
    size_t n_plans, plans_cap;
    nde_precision precision;
    size_t elem;        /* bytes per value: sizeof(double) or sizeof(float) */
    void *val, *grad;   /* (arena_len) values */
    size_t arena_len;
    void *tape;         /* (tape_cap, arena_len): activations kept for mg_graph_backward */
    size_t tape_cap, tape_batch;
    int out_slot;
    /* float32 only: θ range of the operations, its float copy and float gradient, and the
     * GELU derivative of the widest GELU slot */
    size_t th_lo, th_len;
    float *th32, *gth32, *gelu_d;
} mg_graph;

/* Start an empty graph whose input slot 0 has in_len values, computing in `precision`
 * (NDE_PRECISION_FLOAT64 or _FLOAT32, checked by the caller). */
nde_status mg_graph_init(mg_graph *g, nde_params *params, size_t in_len, nde_precision precision);
void mg_graph_free(mg_graph *g);

/* Add a slot of len values; its id goes to *slot. */
nde_status mg_graph_slot(mg_graph *g, size_t len, int *slot);

nde_status mg_graph_copy(mg_graph *g, int src, int dst);
nde_status mg_graph_gelu(mg_graph *g, int src, int dst);
/* dst (+)= alpha·(conv(src; θ[w_off…]) + θ[b_off…]); b_off ignored unless has_bias.
 * Plans are cached per geometry. */
nde_status mg_graph_conv(mg_graph *g, const nde_conv_spec *spec, size_t w_off, int has_bias,
                         size_t b_off, int src, int dst, double alpha, int accumulate);

/* Mark out_slot as the output, check the GELU rule and allocate the arenas. */
nde_status mg_graph_finalize(mg_graph *g, int out_slot);

size_t mg_graph_in_len(const mg_graph *g);
size_t mg_graph_out_len(const mg_graph *g);

/* Room to keep the activations of max_batch samples. */
nde_status mg_graph_reserve(mg_graph *g, size_t max_batch);
/* x (batch, in_len) → y (batch, out_len); keep != 0 stores every activation (batch must
 * not exceed the reserved count) for mg_graph_backward. */
nde_status mg_graph_forward(mg_graph *g, const double *x, double *y, size_t batch, int keep);
/* The VJP from the activations kept by the last forward (same batch), without
 * recomputing them. NDE_ERR_STATE when none were kept. */
nde_status mg_graph_backward(mg_graph *g, const double *gy, double *gx, double *gtheta,
                             size_t batch);
/* gx (batch, in_len) overwritten (may be NULL); gtheta accumulated (may be NULL). */
nde_status mg_graph_vjp(mg_graph *g, const double *x, const double *gy, double *gx,
                        double *gtheta, size_t batch);

#endif
