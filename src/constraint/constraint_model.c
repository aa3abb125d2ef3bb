/* A model followed by the hard-constraint projection: one nde_model the trainer trains
 * like any other (the projection has no parameters; the store is the inner model's). */
#include <string.h>

#include "constraint/constraint_internal.h"
#include "model/model_internal.h"

typedef struct constrained {
    nde_model *inner;   /* borrowed view (the nde_model owns it) */
    nde_constraint *c;  /* owned */
    double *B;          /* (m, in) or NULL: b = B x + b0 */
    double *b0;         /* (m) */
    size_t in, n, m, cap;
    double *y;          /* (cap, n) inner output, then the inner cotangent */
    double *b, *gb;     /* (cap, m) */
} constrained;

static void constrained_destroy(void *self)
{
    constrained *cm = self;
    nde_constraint_destroy(&cm->c);
    nde_free(cm->B);
    nde_free(cm->b0);
    nde_free(cm->y);
    nde_free(cm->b);
    nde_free(cm->gb);
    nde_free(cm);
}

static nde_status constrained_reserve(void *self, size_t max_batch)
{
    constrained *cm = self;
    NDE_TRY(nde_model_reserve(cm->inner, max_batch));
    if (max_batch <= cm->cap) return NDE_OK;
    double *y = nde_alloc_array(max_batch * cm->n, sizeof *y);
    double *b = nde_alloc_array(max_batch * cm->m, sizeof *b);
    double *gb = nde_alloc_array(max_batch * cm->m, sizeof *gb);
    if (!y || !b || !gb) {
        nde_free(y);
        nde_free(b);
        nde_free(gb);
        return NDE_FAIL(NDE_ERR_NOMEM, "constrained model: no room for a batch of %zu (n %zu, m %zu)",
                        max_batch, cm->n, cm->m);
    }
    nde_free(cm->y);
    nde_free(cm->b);
    nde_free(cm->gb);
    cm->y = y;
    cm->b = b;
    cm->gb = gb;
    cm->cap = max_batch;
    return NDE_OK;
}

static nde_status constrained_forward(void *self, nde_params *p, const double *x, double *y,
                                      size_t batch)
{
    (void)p;
    constrained *cm = self;
    NDE_TRY(constrained_reserve(cm, batch));
    NDE_TRY(nde_model_forward(cm->inner, x, cm->y, batch));
    const double *b = NULL;
    if (cm->B) { /* b (batch, m) = b0 + B x */
        for (size_t s = 0; s < batch; s++)
            for (size_t i = 0; i < cm->m; i++) {
                const double *Bi = cm->B + i * cm->in, *xs = x + s * cm->in;
                double v = cm->b0[i];
                for (size_t j = 0; j < cm->in; j++) v += Bi[j] * xs[j];
                cm->b[s * cm->m + i] = v;
            }
        b = cm->b;
    }
    return nde_constraint_project(cm->c, cm->y, b, y, batch);
}

static nde_status constrained_backward(void *self, nde_params *p, const double *gy, double *gx,
                                       double *gtheta, size_t batch)
{
    (void)p;
    constrained *cm = self;
    if (batch > cm->cap)
        return NDE_FAIL(NDE_ERR_STATE, "constrained model backward: batch %zu without a forward "
                        "(workspace for %zu)", batch, cm->cap);
    double *gb = cm->B && gx ? cm->gb : NULL;
    NDE_TRY(nde_constraint_vjp(cm->c, gy, cm->y, gb, batch));
    NDE_TRY(nde_model_backward(cm->inner, cm->y, gx, gtheta, batch));
    if (gb) /* gx += Bᵀ gb */
        for (size_t s = 0; s < batch; s++)
            for (size_t i = 0; i < cm->m; i++) {
                const double g = gb[s * cm->m + i], *Bi = cm->B + i * cm->in;
                double *gxs = gx + s * cm->in;
                for (size_t j = 0; j < cm->in; j++) gxs[j] += Bi[j] * g;
            }
    return NDE_OK;
}

static nde_status constrained_init(void *self, nde_params *p, nde_rng *rng)
{
    (void)p;
    return nde_model_init(((constrained *)self)->inner, rng);
}

static nde_status constrained_set_training(void *self, int training)
{
    return nde_model_set_training(((constrained *)self)->inner, training);
}

static const nde_model_ops constrained_ops = {
    .kind = "constrained", .forward = constrained_forward, .backward = constrained_backward,
    .init = constrained_init, .reserve = constrained_reserve,
    .set_training = constrained_set_training, .destroy = constrained_destroy};

nde_status nde_model_constraint_create(nde_model *inner, nde_constraint *c, const double *B,
                                       nde_model **out)
{
    nde_status st = NDE_OK;
    if (!inner || !c || !out)
        st = NDE_FAIL(NDE_ERR_ARG, "nde_model_constraint_create: NULL inner model, constraint or out");
    else if (nde_model_out_size(inner) != c->n)
        st = NDE_FAIL(NDE_ERR_SHAPE, "nde_model_constraint_create: model '%s' outputs %zu values, "
                      "the constraint is on %zu", nde_model_kind(inner), nde_model_out_size(inner), c->n);
    constrained *cm = st == NDE_OK ? nde_alloc(sizeof *cm) : NULL;
    if (st == NDE_OK && !cm) st = NDE_ERR_NOMEM;
    if (cm) {
        const size_t in = nde_model_in_size(inner);
        *cm = (constrained){.inner = inner, .c = c, .in = in, .n = c->n, .m = c->m};
        cm->b0 = nde_alloc_array(c->m, sizeof *cm->b0);
        cm->B = B ? nde_alloc_array(c->m * in, sizeof *cm->B) : NULL;
        if (!cm->b0 || (B && !cm->B)) {
            st = NDE_ERR_NOMEM;
        } else {
            nde_constraint_default_b(c, cm->b0);
            if (B) memcpy(cm->B, B, c->m * in * sizeof *B);
        }
        if (st != NDE_OK) {
            constrained_destroy(cm); /* frees c */
            c = NULL;
            cm = NULL;
        }
    }
    if (st != NDE_OK) {
        nde_constraint_destroy(&c);
        nde_model_destroy(&inner);
        if (out) *out = NULL;
        return st;
    }
    return nde_model_wrap(&constrained_ops, cm, inner, nde_model_in_size(inner), c->n, out);
}

static constrained *as_constrained(nde_model *m) { return nde_model_content_of(m, &constrained_ops); }

nde_constraint *nde_model_constraint(nde_model *m)
{
    constrained *cm = as_constrained(m);
    return cm ? cm->c : NULL;
}

nde_model *nde_model_constraint_inner(nde_model *m)
{
    constrained *cm = as_constrained(m);
    return cm ? cm->inner : NULL;
}
