/* MgNO: the multigrid V-cycle operator W_Mg and the MgNO_DC network, built as
 * operation lists over the graph executor (mgno_graph.c).
 * He, Liu & Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid",
 * ICLR 2024 (arXiv 2310.19809); layer structure as MgConv_DC / MgNO_DC in
 * github.com/xlliu2017/MgNO (models.py). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/grow.h"
#include "operators/mgno_graph.h"

/* One tensor to draw at init: θ[off, off + numel) from U(−bound, bound). */
typedef struct init_tensor {
    size_t off, numel;
    double bound;
} init_tensor;

/* The tensors of one object in the order they were added (= the order of the draws). */
typedef struct init_list {
    init_tensor *t;
    size_t n, cap;
} init_list;

/* What the layer and the model share: the op graph, the draws of its init and the number
 * of parameters it added to the store. */
typedef struct mg_net {
    mg_graph g;
    init_list init;
    size_t n_params;
} mg_net;

struct nde_mgconv {
    mg_net net;
};

struct nde_mgno {
    mg_net net;
    nde_mgno_spec spec;
};

/* What every builder step needs: the store, name prefix, init list and grid geometry. */
typedef struct builder {
    mg_graph *g;
    nde_params *params;
    const char *prefix;
    init_list *init;
    int ndim;
    nde_pad_mode pad_mode;
} builder;

/* Add a tensor "<prefix>.<name>" (left zero) and record it for init_draw with its
 * U(−bound, bound) range. */
static nde_status add_tensor(builder *b, const char *name, int ndim, const size_t *shape,
                             int group, double bound, size_t *off)
{
    char full[NDE_PARAM_NAME_MAX];
    int len = snprintf(full, sizeof full, "%s.%s", b->prefix, name);
    if (len < 0 || (size_t)len >= sizeof full)
        return NDE_FAIL(NDE_ERR_ARG, "mgno: tensor name '%s.%s' is too long", b->prefix, name);
    init_list *il = b->init;
    NDE_TRY(nde_grow((void **)&il->t, &il->cap, il->n, sizeof *il->t, 64));
    NDE_TRY(nde_params_add(b->params, full, ndim, shape, group, off));
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= shape[d];
    il->t[il->n++] = (init_tensor){.off = *off, .numel = numel, .bound = bound};
    return NDE_OK;
}

/* Fill every recorded tensor from U(−bound, bound) in the order they were added
 * (PyTorch's default for conv weights and biases, kaiming_uniform with a = √5). */
static void init_draw(const init_list *il, nde_params *params, nde_rng *rng)
{
    double *th = nde_params_theta(params);
    for (size_t k = 0; k < il->n; k++) {
        double *t = th + il->t[k].off;
        const double bound = il->t[k].bound;
        for (size_t i = 0; i < il->t[k].numel; i++) t[i] = nde_rng_uniform_in(rng, -bound, bound);
    }
}

/* Add the weight (and optional bias) of one convolution named `name` and the
 * operation dst (+)= alpha·conv(src). */
static nde_status add_conv(builder *b, const char *name, const nde_conv_spec *cs, int bias,
                           int src, int dst, double alpha, int accumulate)
{
    size_t shape[4] = {cs->transposed ? cs->c_in : cs->c_out, cs->transposed ? cs->c_out : cs->c_in,
                       cs->kernel, cs->kernel};
    size_t taps = cs->ndim == 2 ? cs->kernel * cs->kernel : cs->kernel;
    double bound = 1.0 / sqrt((double)(shape[1] * taps));
    char tname[NDE_PARAM_NAME_MAX];
    size_t w_off, b_off = 0;
    snprintf(tname, sizeof tname, "%s.weight", name);
    NDE_TRY(add_tensor(b, tname, 2 + cs->ndim, shape, NDE_GROUP_DEFAULT, bound, &w_off));
    if (bias) {
        snprintf(tname, sizeof tname, "%s.bias", name);
        size_t bshape[1] = {cs->c_out};
        NDE_TRY(add_tensor(b, tname, 1, bshape, NDE_GROUP_NO_DECAY, bound, &b_off));
    }
    return mg_graph_conv(b->g, cs, w_off, bias, b_off, src, dst, alpha, accumulate);
}

static nde_conv_spec conv3(const builder *b, const size_t n[2], size_t c_in, size_t c_out,
                           size_t stride)
{
    nde_conv_spec cs = {.ndim = b->ndim, .c_in = c_in, .c_out = c_out, .n_in = {n[0], n[1]},
                        .kernel = 3, .stride = stride, .pad = 1, .pad_mode = b->pad_mode};
    return cs;
}

static size_t points(int ndim, const size_t n[2]) { return ndim == 2 ? n[0] * n[1] : n[0]; }

/* One smoothing step u ← u + S ∗ (f − A ∗ u); returns the new u slot. */
static nde_status smooth(builder *b, const nde_mgconv_spec *sp, const size_t n[2], int u, int f,
                         const char *name, int *u_new)
{
    const size_t p = points(b->ndim, n);
    char cname[NDE_PARAM_NAME_MAX];
    int r;
    NDE_TRY(mg_graph_slot(b->g, sp->c_f * p, &r));
    NDE_TRY(mg_graph_copy(b->g, f, r));
    nde_conv_spec a = conv3(b, n, sp->c_u, sp->c_f, 1);
    snprintf(cname, sizeof cname, "%s.A", name);
    NDE_TRY(add_conv(b, cname, &a, sp->bias, u, r, -1.0, 1));
    NDE_TRY(mg_graph_slot(b->g, sp->c_u * p, u_new));
    NDE_TRY(mg_graph_copy(b->g, u, *u_new));
    nde_conv_spec s = conv3(b, n, sp->c_f, sp->c_u, 1);
    snprintf(cname, sizeof cname, "%s.S", name);
    return add_conv(b, cname, &s, sp->bias, r, *u_new, 1.0, 1);
}

static nde_status check_mgconv_spec(const nde_mgconv_spec *sp)
{
    if (sp->ndim != 1 && sp->ndim != 2)
        return NDE_FAIL(NDE_ERR_ARG, "mgno: ndim %d (must be 1 or 2)", sp->ndim);
    if (!sp->c_f || !sp->c_u) return NDE_FAIL(NDE_ERR_ARG, "mgno: zero channel count");
    if (sp->levels < 1 || sp->levels > NDE_MGNO_MAX_LEVELS)
        return NDE_FAIL(NDE_ERR_ARG, "mgno: levels %d outside [1, %d]", sp->levels,
                        NDE_MGNO_MAX_LEVELS);
    if (sp->pre[0] < 1) return NDE_FAIL(NDE_ERR_ARG, "mgno: pre[0] = %d (must be >= 1)", sp->pre[0]);
    if (sp->precision != NDE_PRECISION_FLOAT64 && sp->precision != NDE_PRECISION_FLOAT32)
        return NDE_FAIL(NDE_ERR_ARG, "mgno: precision %d (NDE_PRECISION_FLOAT64 or _FLOAT32)",
                        (int)sp->precision);
    for (int l = 0; l < sp->levels; l++)
        if (sp->pre[l] < 0 || sp->post[l] < 0)
            return NDE_FAIL(NDE_ERR_ARG, "mgno: negative smoothing count on level %d", l);
    if (sp->post[sp->levels - 1] != 0)
        return NDE_FAIL(NDE_ERR_ARG, "mgno: post[%d] = %d but the coarsest level has no "
                        "post-smoothing", sp->levels - 1, sp->post[sp->levels - 1]);
    size_t n0 = sp->n[0], n1 = sp->ndim == 2 ? sp->n[1] : sp->n[0];
    for (int l = 0; l < sp->levels; l++) {
        if (n0 < 2 || n1 < 2)
            return NDE_FAIL(NDE_ERR_ARG, "mgno: grid %zu×%zu has only %zu×%zu points on level %d "
                            "of %d (need >= 2)", sp->n[0], sp->ndim == 2 ? sp->n[1] : 1, n0,
                            sp->ndim == 2 ? n1 : 1, l, sp->levels);
        if (l + 1 < sp->levels && n0 % 2 != n1 % 2)
            return NDE_FAIL(NDE_ERR_ARG, "mgno: grid sizes %zu and %zu on level %d differ in "
                            "parity (one prolongation kernel serves both dimensions)", n0, n1, l);
        n0 = (n0 + 1) / 2;
        n1 = (n1 + 1) / 2;
    }
    return NDE_OK;
}

/* Append the V-cycle W_Mg applied to slot f; its output slot goes to *u_out. */
static nde_status build_vcycle(builder *b, const nde_mgconv_spec *sp, const char *name, int f0,
                               int *u_out)
{
    size_t n[NDE_MGNO_MAX_LEVELS][2];
    int f[NDE_MGNO_MAX_LEVELS], u[NDE_MGNO_MAX_LEVELS];
    char cname[NDE_PARAM_NAME_MAX];
    n[0][0] = sp->n[0];
    n[0][1] = sp->ndim == 2 ? sp->n[1] : 1;
    for (int l = 1; l < sp->levels; l++)
        for (int d = 0; d < 2; d++) n[l][d] = (n[l - 1][d] + 1) / 2; /* stride 2, pad 1, k 3 */
    f[0] = f0;
    /* level 0: u = S ∗ f, then pre[0] − 1 smoothing steps */
    NDE_TRY(mg_graph_slot(b->g, sp->c_u * points(b->ndim, n[0]), &u[0]));
    nde_conv_spec s0 = conv3(b, n[0], sp->c_f, sp->c_u, 1);
    snprintf(cname, sizeof cname, "%s.l0.pre0.S", name);
    NDE_TRY(add_conv(b, cname, &s0, sp->bias, f[0], u[0], 1.0, 0));
    for (int i = 1; i < sp->pre[0]; i++) {
        snprintf(cname, sizeof cname, "%s.l0.pre%d", name, i);
        NDE_TRY(smooth(b, sp, n[0], u[0], f[0], cname, &u[0]));
    }
    /* down: u_l = Π ∗₂ u_{l−1}, f_l = R ∗₂ f_{l−1}, pre[l] smoothing steps */
    for (int l = 1; l < sp->levels; l++) {
        const size_t p = points(b->ndim, n[l]);
        NDE_TRY(mg_graph_slot(b->g, sp->c_u * p, &u[l]));
        NDE_TRY(mg_graph_slot(b->g, sp->c_f * p, &f[l]));
        nde_conv_spec pi = conv3(b, n[l - 1], sp->c_u, sp->c_u, 2);
        nde_conv_spec r = conv3(b, n[l - 1], sp->c_f, sp->c_f, 2);
        snprintf(cname, sizeof cname, "%s.l%d.Pi", name, l);
        NDE_TRY(add_conv(b, cname, &pi, 0, u[l - 1], u[l], 1.0, 0));
        snprintf(cname, sizeof cname, "%s.l%d.R", name, l);
        NDE_TRY(add_conv(b, cname, &r, 0, f[l - 1], f[l], 1.0, 0));
        for (int i = 0; i < sp->pre[l]; i++) {
            snprintf(cname, sizeof cname, "%s.l%d.pre%d", name, l, i);
            NDE_TRY(smooth(b, sp, n[l], u[l], f[l], cname, &u[l]));
        }
    }
    /* up: u_l ← u_l + Πᵀ ∗ u_{l+1} (transposed conv, zero padding), post[l] steps */
    for (int l = sp->levels - 2; l >= 0; l--) {
        int un;
        NDE_TRY(mg_graph_slot(b->g, sp->c_u * points(b->ndim, n[l]), &un));
        NDE_TRY(mg_graph_copy(b->g, u[l], un));
        nde_conv_spec rt = {.ndim = b->ndim, .transposed = 1, .c_in = sp->c_u, .c_out = sp->c_u,
                            .n_in = {n[l + 1][0], n[l + 1][1]},
                            .kernel = n[l][0] % 2 == 0 ? 4 : 3, .stride = 2, .pad = 1,
                            .pad_mode = NDE_PAD_ZERO};
        snprintf(cname, sizeof cname, "%s.l%d.RT", name, l);
        NDE_TRY(add_conv(b, cname, &rt, 0, u[l + 1], un, 1.0, 1));
        u[l] = un;
        for (int i = 0; i < sp->post[l]; i++) {
            snprintf(cname, sizeof cname, "%s.l%d.post%d", name, l, i);
            NDE_TRY(smooth(b, sp, n[l], u[l], f[l], cname, &u[l]));
        }
    }
    *u_out = u[0];
    return NDE_OK;
}

/* Start a net over `params`: the graph with an input of in_len doubles, and the builder
 * b that adds to it. */
static nde_status net_begin(mg_net *n, builder *b, nde_params *params, const char *prefix,
                            int ndim, nde_pad_mode pad_mode, size_t in_len,
                            nde_precision precision)
{
    *b = (builder){.g = &n->g, .params = params, .prefix = prefix, .init = &n->init,
                   .ndim = ndim, .pad_mode = pad_mode};
    return mg_graph_init(&n->g, params, in_len, precision);
}

/* After the build (status st): finalize the graph with output slot out and count the
 * parameters added since the store held `before`. */
static nde_status net_end(mg_net *n, nde_status st, int out, size_t before)
{
    if (st == NDE_OK) st = mg_graph_finalize(&n->g, out);
    if (st == NDE_OK) n->n_params = nde_params_count(n->g.params) - before;
    return st;
}

static void net_free(mg_net *n)
{
    mg_graph_free(&n->g);
    nde_free(n->init.t);
}

nde_status nde_mgconv_create(const nde_mgconv_spec *spec, nde_params *params, const char *prefix,
                             nde_mgconv **layer)
{
    if (!spec || !params || !prefix || !layer)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgconv_create: NULL argument");
    *layer = NULL;
    NDE_TRY(check_mgconv_spec(spec));
    nde_mgconv *m = nde_alloc(sizeof *m);
    if (!m) return NDE_ERR_NOMEM;
    const size_t p = points(spec->ndim, spec->n), before = nde_params_count(params);
    builder b;
    int out = 0;
    nde_status st = net_begin(&m->net, &b, params, prefix, spec->ndim, spec->pad_mode,
                              spec->c_f * p, spec->precision);
    if (st == NDE_OK) st = build_vcycle(&b, spec, "mg", 0, &out);
    st = net_end(&m->net, st, out, before);
    if (st != NDE_OK) {
        nde_mgconv_destroy(&m);
        return st;
    }
    *layer = m;
    return NDE_OK;
}

nde_status nde_mgconv_init(nde_mgconv *layer, nde_rng *rng)
{
    if (!layer || !rng) return NDE_FAIL(NDE_ERR_ARG, "nde_mgconv_init: NULL argument");
    init_draw(&layer->net.init, layer->net.g.params, rng);
    return NDE_OK;
}

void nde_mgconv_destroy(nde_mgconv **layer)
{
    if (!layer || !*layer) return;
    net_free(&(*layer)->net);
    nde_free(*layer);
    *layer = NULL;
}

static nde_status check_mgno_spec(const nde_mgno_spec *sp, nde_mgconv_spec *mg)
{
    if (!sp->c_in || !sp->c_out || !sp->width || !sp->n_layers)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgno_create: zero size (c_in %zu, c_out %zu, width %zu, "
                        "layers %zu)", sp->c_in, sp->c_out, sp->width, sp->n_layers);
    memset(mg, 0, sizeof *mg);
    mg->ndim = sp->ndim;
    mg->n[0] = sp->n[0];
    mg->n[1] = sp->n[1];
    mg->c_f = sp->c_in;
    mg->c_u = sp->width;
    mg->levels = sp->levels;
    memcpy(mg->pre, sp->pre, sizeof mg->pre);
    memcpy(mg->post, sp->post, sizeof mg->post);
    mg->pad_mode = sp->pad_mode;
    mg->bias = sp->bias;
    mg->precision = sp->precision;
    return check_mgconv_spec(mg);
}

nde_status nde_mgno_create(const nde_mgno_spec *spec, nde_params *params, const char *prefix,
                           nde_mgno **model)
{
    if (!spec || !params || !prefix || !model)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgno_create: NULL argument");
    *model = NULL;
    nde_mgconv_spec mg;
    NDE_TRY(check_mgno_spec(spec, &mg));
    nde_mgno *m = nde_alloc(sizeof *m);
    if (!m) return NDE_ERR_NOMEM;
    m->spec = *spec;
    const size_t p = points(spec->ndim, spec->n), before = nde_params_count(params);
    builder b;
    char name[NDE_PARAM_NAME_MAX];
    int u = 0, out = 0;
    nde_status st = net_begin(&m->net, &b, params, prefix, spec->ndim, spec->pad_mode,
                              spec->c_in * p, spec->precision);
    /* layer i: u ← GELU(W_Mg u + W u + b) */
    for (size_t i = 0; i < spec->n_layers && st == NDE_OK; i++) {
        mg.c_f = i == 0 ? spec->c_in : spec->width;
        int t = 0, v = 0; /* set only on success; 0 keeps clang quiet */
        snprintf(name, sizeof name, "%zu.mg", i);
        st = build_vcycle(&b, &mg, name, u, &t);
        nde_conv_spec pw = {.ndim = spec->ndim, .c_in = mg.c_f, .c_out = spec->width,
                            .n_in = {spec->n[0], spec->n[1]}, .kernel = 1, .stride = 1};
        snprintf(name, sizeof name, "%zu.pw", i);
        if (st == NDE_OK) st = add_conv(&b, name, &pw, 1, u, t, 1.0, 1);
        if (st == NDE_OK) st = mg_graph_slot(&m->net.g, spec->width * p, &v);
        if (st == NDE_OK) st = mg_graph_gelu(&m->net.g, t, v);
        u = v;
    }
    /* projection: y = P u, bias-free 1×1 convolution */
    nde_conv_spec proj = {.ndim = spec->ndim, .c_in = spec->width, .c_out = spec->c_out,
                          .n_in = {spec->n[0], spec->n[1]}, .kernel = 1, .stride = 1};
    if (st == NDE_OK) st = mg_graph_slot(&m->net.g, spec->c_out * p, &out);
    if (st == NDE_OK) st = add_conv(&b, "proj", &proj, 0, u, out, 1.0, 0);
    st = net_end(&m->net, st, out, before);
    if (st != NDE_OK) {
        nde_mgno_destroy(&m);
        return st;
    }
    *model = m;
    return NDE_OK;
}

nde_status nde_mgno_init(nde_mgno *model, nde_rng *rng)
{
    if (!model || !rng) return NDE_FAIL(NDE_ERR_ARG, "nde_mgno_init: NULL argument");
    init_draw(&model->net.init, model->net.g.params, rng);
    return NDE_OK;
}

void nde_mgno_destroy(nde_mgno **model)
{
    if (!model || !*model) return;
    net_free(&(*model)->net);
    nde_free(*model);
    *model = NULL;
}

nde_mgno_spec nde_mgno_darcy_spec(size_t n)
{
    nde_mgno_spec s = {.ndim = 2, .n = {n, n}, .c_in = 1, .c_out = 1, .width = 24, .n_layers = 4,
                       .levels = 6, .pre = {1, 1, 1, 1, 1, 2}, .pad_mode = NDE_PAD_ZERO,
                       .precision = NDE_PRECISION_FLOAT32};
    return s;
}

size_t nde_mgconv_in_numel(const nde_mgconv *l) { return l ? mg_graph_in_len(&l->net.g) : 0; }
size_t nde_mgconv_out_numel(const nde_mgconv *l) { return l ? mg_graph_out_len(&l->net.g) : 0; }
size_t nde_mgno_in_numel(const nde_mgno *m) { return m ? mg_graph_in_len(&m->net.g) : 0; }
size_t nde_mgno_out_numel(const nde_mgno *m) { return m ? mg_graph_out_len(&m->net.g) : 0; }
size_t nde_mgconv_n_params(const nde_mgconv *l) { return l ? l->net.n_params : 0; }
size_t nde_mgno_n_params(const nde_mgno *m) { return m ? m->net.n_params : 0; }

nde_status nde_mgconv_forward(nde_mgconv *layer, const double *x, double *y, size_t batch)
{
    if (!layer || !x || !y || !batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgconv_forward: NULL argument or empty batch");
    return mg_graph_forward(&layer->net.g, x, y, batch, 0);
}

nde_status nde_mgno_forward(nde_mgno *model, const double *x, double *y, size_t batch)
{
    if (!model || !x || !y || !batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgno_forward: NULL argument or empty batch");
    return mg_graph_forward(&model->net.g, x, y, batch, 0);
}

nde_status nde_mgconv_vjp(nde_mgconv *layer, const double *x, const double *gy, double *gx,
                          double *gtheta, size_t batch)
{
    if (!layer || !x || !gy || !batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgconv_vjp: NULL argument or empty batch");
    return mg_graph_vjp(&layer->net.g, x, gy, gx, gtheta, batch);
}

nde_status nde_mgno_vjp(nde_mgno *model, const double *x, const double *gy, double *gx,
                        double *gtheta, size_t batch)
{
    if (!model || !x || !gy || !batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgno_vjp: NULL argument or empty batch");
    return mg_graph_vjp(&model->net.g, x, gy, gx, gtheta, batch);
}

nde_status nde_mgno_reserve(nde_mgno *model, size_t max_batch)
{
    if (!model || !max_batch) return NDE_FAIL(NDE_ERR_ARG, "nde_mgno_reserve: NULL model or 0");
    return mg_graph_reserve(&model->net.g, max_batch);
}

nde_status nde_mgno_forward_keep(nde_mgno *model, const double *x, double *y, size_t batch)
{
    if (!model || !x || !y || !batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgno_forward_keep: NULL argument or empty batch");
    return mg_graph_forward(&model->net.g, x, y, batch, 1);
}

nde_status nde_mgno_backward(nde_mgno *model, const double *gy, double *gx, double *gtheta,
                             size_t batch)
{
    if (!model || !gy || !batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_mgno_backward: NULL argument or empty batch");
    return mg_graph_backward(&model->net.g, gy, gx, gtheta, batch);
}

static nde_status field_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    return nde_mgno_forward(ctx, u, du, batch);
}

static nde_status field_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                            double *gtheta, size_t batch)
{
    (void)t;
    return nde_mgno_vjp(ctx, u, v, vu, gtheta, batch);
}

nde_field nde_mgno_field(nde_mgno *model)
{
    nde_field f = {0};
    if (!model || model->spec.c_in != model->spec.c_out) return f;
    f.dim = nde_mgno_in_numel(model);
    f.n_params = nde_params_count(model->net.g.params);
    f.ctx = model;
    f.f = field_f;
    f.vjp = field_vjp;
    return f;
}
