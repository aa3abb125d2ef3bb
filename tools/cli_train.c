/* `nde train`, `nde eval` and `nde predict`: a model built from a configuration
 * (cli_config.h), trained by the library's trainer, and rebuilt from the config.ini that
 * training writes beside its checkpoint. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_config.h"
#include "nde/checkpoint.h"
#include "nde/nde.h"
#include "nde/safetensors.h"
#include "nde_args.h"

/* ---- data ---- */

/* Samples of one file after subsampling: x (count, x_size), y (count, y_size). The grid
 * (operators) or state dimension (neural ODEs) is read from the data. */
typedef struct dataset {
    size_t count, x_size, y_size;
    size_t n[2];   /* operators: grid points per axis (n[1] 0 in 1-D) */
    size_t dim;    /* neural ODEs: state dimension */
    int y_ndim;    /* rank of y per file (for predict) */
    size_t y_shape[3];
    double *x, *y;
} dataset;

static void dataset_free(dataset *d)
{
    nde_free(d->x);
    nde_free(d->y);
    memset(d, 0, sizeof *d);
}

static int grid_ndim(const cli_config *c)
{
    return c->kind == CLI_FNO2D || c->kind == CLI_MGNO ? 2 : c->kind == CLI_MLP_NODE ? 0 : 1;
}

/* dst (count, s[, s]) ← every r-th point of src (count, S[, S]) (numpy's a[:, ::r]). */
static double *subsample(const nde_array *a, int gd, size_t r, size_t *s)
{
    const size_t count = a->shape[0], S = a->shape[1];
    *s = (S + r - 1) / r;
    const size_t per = gd == 2 ? *s * *s : *s;
    double *out = nde_alloc_array(count * per, sizeof *out);
    if (!out) return NULL;
    for (size_t k = 0; k < count; k++)
        for (size_t i = 0; i < (gd == 2 ? *s : 1); i++)
            for (size_t j = 0; j < *s; j++) {
                size_t src = gd == 2 ? (k * S + i * r) * S + j * r : k * S + j * r;
                out[k * per + i * *s + j] = a->data[src];
            }
    return out;
}

static nde_status shape_error(const char *path, const char *name, const nde_array *a,
                              const char *expected)
{
    char got[128] = "(";
    for (int d = 0; d < a->ndim; d++)
        snprintf(got + strlen(got), sizeof got - strlen(got), d ? ", %zu" : "%zu", a->shape[d]);
    strcat(got, ")");
    return NDE_FAIL(NDE_ERR_SHAPE, "%s: dataset %s has shape %s, expected %s", path, name, got,
                    expected);
}

/* Read x (and y unless x_only) from path as the configuration's model expects: all
 * samples, or (count > 0) samples first .. first+count−1 only. */
static nde_status dataset_of_arrays(const cli_config *c, const char *path, int x_only,
                                    nde_status st, nde_array xa, nde_array ya, dataset *d);

static nde_status dataset_read_rows(const cli_config *c, const char *path, int x_only,
                                    size_t first, size_t count, dataset *d)
{
    memset(d, 0, sizeof *d);
    nde_array xa = {0}, ya = {0};
    nde_status st = count ? cli_dataset_read_rows(path, c->x, first, count, &xa)
                          : cli_dataset_read(path, c->x, &xa);
    if (st == NDE_OK && !x_only && c->loss != CLI_LOSS_BURGERS)
        st = count ? cli_dataset_read_rows(path, c->y, first, count, &ya)
                   : cli_dataset_read(path, c->y, &ya);
    return dataset_of_arrays(c, path, x_only, st, xa, ya, d);
}

/* The checks, subsampling and layout of dataset_read_rows on arrays read (owned; freed). */
static nde_status dataset_of_arrays(const cli_config *c, const char *path, int x_only,
                                    nde_status st, nde_array xa, nde_array ya, dataset *d)
{
    memset(d, 0, sizeof *d);
    const int gd = grid_ndim(c);
    /* loss = burgers_residual: the target is the input window itself ([data] y unread) */
    const int phys = c->loss == CLI_LOSS_BURGERS, want_y = !x_only && !phys;
    const size_t st_t = c->stagger_time; /* levels per window */
    /* 1-D windows (samples, stagger_time, S) (nde data burgers --windows) */
    const int win = st == NDE_OK && gd == 1 && (st_t > 1 || xa.ndim == 3);
    if (st == NDE_OK) {
        if (gd == 0 && xa.ndim != 2)
            st = shape_error(path, c->x, &xa, "(samples, dim)");
        else if (win && (xa.ndim != 3 || xa.shape[1] != st_t)) {
            char e[160];
            snprintf(e, sizeof e, "(samples, %zu, S): windows of [model] stagger_time levels", st_t);
            st = shape_error(path, c->x, &xa, e);
        } else if (gd == 1 && !win && xa.ndim != 2)
            st = shape_error(path, c->x, &xa, "(samples, S)");
        else if (gd == 2 && (xa.ndim != 3 || xa.shape[1] != xa.shape[2]))
            st = shape_error(path, c->x, &xa, "(samples, S, S)");
    }
    if (st == NDE_OK && win) { /* the levels as rows: subsampled alike */
        xa.shape[0] *= st_t;
        xa.shape[1] = xa.shape[2];
        xa.ndim = 2;
        if (ya.ndim == 3 && ya.shape[1] == st_t) {
            ya.shape[0] *= st_t;
            ya.shape[1] = ya.shape[2];
            ya.ndim = 2;
        }
    }
    if (st == NDE_OK && want_y) {
        int same = ya.ndim == xa.ndim;
        for (int k = 0; same && k < xa.ndim; k++) same = ya.shape[k] == xa.shape[k];
        if (gd == 0 && c->output == NDE_NODE_TRAJECTORY &&
            !(ya.ndim == 3 && ya.shape[0] == xa.shape[0] && ya.shape[1] == c->nt &&
              ya.shape[2] == xa.shape[1])) {
            char e[128];
            snprintf(e, sizeof e, "(%zu, %zu, %zu): [node] nt states of every sample", xa.shape[0],
                     c->nt, xa.shape[1]);
            st = shape_error(path, c->y, &ya, e);
        } else if (!(gd == 0 && c->output == NDE_NODE_TRAJECTORY) && !same) {
            st = shape_error(path, c->y, &ya, "the shape of x");
        }
    }
    if (st == NDE_OK) {
        d->count = xa.shape[0];
        if (gd == 0) {
            d->dim = xa.shape[1];
            d->x_size = d->dim;
            d->y_size = c->output == NDE_NODE_TRAJECTORY ? c->nt * d->dim : d->dim;
            d->x = xa.data, xa.data = NULL;
            d->y = ya.data, ya.data = NULL;
            d->y_ndim = c->output == NDE_NODE_TRAJECTORY ? 3 : 2;
            d->y_shape[0] = d->count, d->y_shape[1] = c->output == NDE_NODE_TRAJECTORY ? c->nt : d->dim;
            d->y_shape[2] = d->dim;
        } else {
            size_t s;
            d->x = subsample(&xa, gd, c->subsample, &s);
            if (d->x && want_y) d->y = subsample(&ya, gd, c->subsample, &s);
            if (d->x && phys && !x_only) {
                d->y = nde_alloc_array(xa.shape[0] * s, sizeof *d->y);
                if (d->y) memcpy(d->y, d->x, xa.shape[0] * s * sizeof *d->y);
            }
            if (!d->x || (!x_only && !d->y)) st = NDE_FAIL(NDE_ERR_NOMEM, "%s", path);
            d->n[0] = s, d->n[1] = gd == 2 ? s : 0;
            d->x_size = d->y_size = gd == 2 ? s * s : s;
            d->y_ndim = gd + 1;
            d->y_shape[0] = d->count, d->y_shape[1] = s, d->y_shape[2] = s;
            if (win) { /* windows (count, st, s) */
                d->count /= st_t;
                d->x_size = d->y_size = st_t * s;
                d->y_ndim = 3;
                d->y_shape[0] = d->count, d->y_shape[1] = st_t, d->y_shape[2] = s;
            }
        }
    }
    nde_array_free(&xa);
    nde_array_free(&ya);
    if (st != NDE_OK) dataset_free(d);
    return st;
}

static nde_status dataset_read(const cli_config *c, const char *path, int x_only, dataset *d)
{
    return dataset_read_rows(c, path, x_only, 0, 0, d);
}

/* x ← (x − shift) / scale over count·x_size values (normalize = scalar). */
static void normalize_x(const cli_config *c, dataset *d)
{
    if (c->normalize != 1) return;
    for (size_t i = 0; i < d->count * d->x_size; i++) d->x[i] = (d->x[i] - c->x_shift) / c->x_scale;
}

/* The mean and standard deviation of the first ntrain inputs (normalize = scalar and no
 * x_scale given); a constant input keeps scale 1. */
static void fit_normalizer(cli_config *c, const dataset *d)
{
    if (c->normalize != 1 || c->x_scale > 0) return;
    const size_t n = c->ntrain * d->x_size;
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++) mean += d->x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) var += (d->x[i] - mean) * (d->x[i] - mean);
    double sd = sqrt(var / (double)n);
    c->x_shift = mean;
    c->x_scale = sd > 0 ? sd : 1.0;
}

/* ---- per-rank reading under MPI ----
 * With more than one rank, nde train holds no data in memory: the trainer asks each rank
 * for its shard of every batch (and of the test split) and this reader reads those
 * samples alone (HDF5 hyperslabs, .npy offsets; nde_dataset_read_rows). */

typedef struct shard_src {
    const cli_config *c;
    const char *path;
    size_t offset;          /* sample index of the split's first sample in the file */
    size_t x_size, y_size;
    nde_rows_reader *rx, *ry; /* opened on the first fetch, kept open */
} shard_src;

static void normalize_x(const cli_config *c, dataset *d);

static nde_status shard_open(shard_src *s)
{
    char fx[4200], fy[4200];
    cli_dataset_file(s->path, s->c->x, fx, sizeof fx);
    cli_dataset_file(s->path, s->c->y, fy, sizeof fy);
    if (!s->rx) NDE_TRY(nde_rows_reader_open(fx, s->c->x, &s->rx));
    if (!s->ry && s->c->loss != CLI_LOSS_BURGERS) NDE_TRY(nde_rows_reader_open(fy, s->c->y, &s->ry));
    return NDE_OK;
}

static void shard_close(shard_src *s)
{
    nde_rows_reader_close(&s->rx);
    nde_rows_reader_close(&s->ry);
}

static nde_status shard_fetch(void *ctx, const size_t *idx, size_t count, double *x, double *y)
{
    shard_src *s = ctx;
    NDE_TRY(shard_open(s));
    for (size_t k = 0; k < count; k++) {
        dataset one;
        nde_array xa = {0}, ya = {0};
        nde_status st = nde_rows_reader_read(s->rx, s->offset + idx[k], 1, &xa);
        if (st == NDE_OK && s->ry) st = nde_rows_reader_read(s->ry, s->offset + idx[k], 1, &ya);
        NDE_TRY(dataset_of_arrays(s->c, s->path, 0, st, xa, ya, &one));
        if (one.x_size != s->x_size || one.y_size != s->y_size) {
            dataset_free(&one);
            return NDE_FAIL(NDE_ERR_SHAPE, "%s: sample %zu has another size", s->path,
                            s->offset + idx[k]);
        }
        normalize_x(s->c, &one);
        memcpy(x + k * s->x_size, one.x, s->x_size * sizeof *x);
        memcpy(y + k * s->y_size, one.y, s->y_size * sizeof *y);
        dataset_free(&one);
    }
    return NDE_OK;
}

/* The data's sizes from its first sample and its sample count (nothing else is read). */
static nde_status dataset_probe(const cli_config *c, const char *path, dataset *d)
{
    nde_array shape = {0};
    NDE_TRY(cli_dataset_read_rows(path, c->x, 0, 0, &shape));
    const size_t total = shape.ndim ? shape.shape[0] : 0;
    if (total == 0)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: dataset %s holds no samples", path, c->x);
    NDE_TRY(dataset_read_rows(c, path, 0, 0, 1, d));
    nde_free(d->x), nde_free(d->y);
    d->x = d->y = NULL;
    d->count = total;
    d->y_shape[0] = total;
    return NDE_OK;
}

/* fit_normalizer over the ranks: each reads its contiguous part of the training inputs;
 * the sums are reduced (so the figures equal the serial ones up to rounding). */
static nde_status fit_normalizer_parts(cli_config *c, const char *path, size_t x_size)
{
    if (c->normalize != 1 || c->x_scale > 0) return NDE_OK;
    const size_t lo = cli_share(c->ntrain, cli_rank(), 0), hi = cli_share(c->ntrain, cli_rank(), 1);
    dataset part = {0};
    nde_status st = hi > lo ? dataset_read_rows(c, path, 1, lo, hi - lo, &part) : NDE_OK;
    double sum[2] = {0.0, 0.0};
    for (size_t i = 0; st == NDE_OK && i < (hi - lo) * x_size; i++) sum[0] += part.x[i];
    if (cli_any(st != NDE_OK)) {
        dataset_free(&part);
        return st != NDE_OK ? st : NDE_FAIL(NDE_ERR_IO, "another rank failed to read its part");
    }
    const double n = (double)(c->ntrain * x_size);
    st = cli_sum(sum, 1);
    const double mean = sum[0] / n;
    for (size_t i = 0; st == NDE_OK && i < (hi - lo) * x_size; i++)
        sum[1] += (part.x[i] - mean) * (part.x[i] - mean);
    if (st == NDE_OK) st = cli_sum(sum + 1, 1);
    dataset_free(&part);
    NDE_TRY(st);
    const double sd = sqrt(sum[1] / n);
    c->x_shift = mean;
    c->x_scale = sd > 0 ? sd : 1.0;
    return NDE_OK;
}

/* ---- normalize = pointwise: per-point Gaussian normalizers of x and y ----
 *
 * The legacy FNO UnitGaussianNormalizer (nde_normalizer, src/operators/normalizer.c) as
 * the darcy driver uses it: mean and unbiased standard deviation per point over the
 * training samples, x ← (x − μ)/(σ + eps) for every sample, and the model's output
 * decoded, out·(σ + eps) + μ, before the loss and the metric (y stays raw). The statistics
 * are fitted by nde_normalizer_create and stored beside the checkpoint
 * (normalizer.safetensors) for nde eval and nde predict, which apply them with the same
 * expressions as nde_normalizer_encode/decode. */

#define PW_EPS 1e-5

typedef struct pw_norm {
    size_t n;            /* values per sample; 0: not in use */
    double *mean, *std;  /* (n) */
} pw_norm;

static void pw_free(pw_norm *z)
{
    nde_free(z->mean);
    nde_free(z->std);
    memset(z, 0, sizeof *z);
}

static nde_status pw_fit(const double *data, size_t count, size_t n, pw_norm *z)
{
    nde_normalizer *nz = NULL;
    NDE_TRY(nde_normalizer_create(data, count, n, PW_EPS, &nz));
    z->n = n;
    z->mean = nde_alloc_array(n, sizeof *z->mean);
    z->std = nde_alloc_array(n, sizeof *z->std);
    if (z->mean && z->std) {
        memcpy(z->mean, nde_normalizer_mean(nz), n * sizeof *z->mean);
        memcpy(z->std, nde_normalizer_std(nz), n * sizeof *z->std);
    }
    nde_normalizer_destroy(&nz);
    if (!z->mean || !z->std) {
        pw_free(z);
        return NDE_FAIL(NDE_ERR_NOMEM, "normalizer of %zu points", n);
    }
    return NDE_OK;
}

static void pw_encode(const pw_norm *z, double *x, size_t count)
{
    for (size_t s = 0; s < count; s++)
        for (size_t p = 0; p < z->n; p++)
            x[s * z->n + p] = (x[s * z->n + p] - z->mean[p]) / (z->std[p] + PW_EPS);
}

static void pw_decode(const pw_norm *z, const double *x, double *y, size_t count)
{
    for (size_t s = 0; s < count; s++)
        for (size_t p = 0; p < z->n; p++)
            y[s * z->n + p] = x[s * z->n + p] * (z->std[p] + PW_EPS) + z->mean[p];
}

static nde_status pw_save(const pw_norm *x, const pw_norm *y, const char *path)
{
    nde_st_writer *w = NULL;
    NDE_TRY(nde_st_writer_create(&w));
    const pw_norm *z[2] = {x, y};
    const char *names[2][2] = {{"x_mean", "x_std"}, {"y_mean", "y_std"}};
    nde_status st = nde_st_writer_meta(w, "nde.normalizer", "pointwise, eps 1e-5");
    for (int k = 0; k < 2 && st == NDE_OK; k++) {
        st = nde_st_writer_add(w, names[k][0], NDE_ST_F64, 1, &z[k]->n, z[k]->mean);
        if (st == NDE_OK) st = nde_st_writer_add(w, names[k][1], NDE_ST_F64, 1, &z[k]->n, z[k]->std);
    }
    if (st == NDE_OK) st = nde_st_writer_write(w, path);
    nde_st_writer_destroy(&w);
    return st;
}

static nde_status pw_load(const char *path, size_t nx, size_t ny, pw_norm *x, pw_norm *y)
{
    nde_st_file *f = NULL;
    nde_status st = nde_st_open(path, &f);
    if (st != NDE_OK)
        return NDE_FAIL(st, "[data] normalize = pointwise: the run's normalizer: %s",
                        nde_last_error());
    pw_norm *z[2] = {x, y};
    const size_t n[2] = {nx, ny};
    const char *names[2][2] = {{"x_mean", "x_std"}, {"y_mean", "y_std"}};
    for (int k = 0; k < 2 && st == NDE_OK; k++) {
        z[k]->n = n[k];
        z[k]->mean = nde_alloc_array(n[k], sizeof(double));
        z[k]->std = nde_alloc_array(n[k], sizeof(double));
        if (!z[k]->mean || !z[k]->std) st = NDE_FAIL(NDE_ERR_NOMEM, "%s", path);
        for (int j = 0; j < 2 && st == NDE_OK; j++) {
            const nde_st_tensor *t = nde_st_find(f, names[k][j]);
            if (!t || t->dtype != NDE_ST_F64 || t->ndim != 1 || t->numel != n[k])
                st = NDE_FAIL(NDE_ERR_SHAPE, "%s: %s is missing or not %zu float64 values (the "
                              "data's points after subsampling)", path, names[k][j], n[k]);
            else
                memcpy(j ? z[k]->std : z[k]->mean, t->data, n[k] * sizeof(double));
        }
    }
    nde_st_close(&f);
    if (st != NDE_OK) {
        pw_free(x);
        pw_free(y);
    }
    return st;
}

/* The loss or metric of the decoded output: pred = decode(out), inner(pred, y), and the
 * cotangent back through the decoder, g·(σ + eps) (nde_normalizer_decode_vjp). */
typedef struct decoded_loss {
    const pw_norm *y;
    nde_loss inner;
    double *pred, *g; /* (batch, y_size) */
} decoded_loss;

static nde_status decoded_fn(void *ctx, const double *out, const double *y, double *grad,
                             size_t b, size_t size, double *value)
{
    decoded_loss *d = ctx;
    pw_decode(d->y, out, d->pred, b);
    NDE_TRY(d->inner.fn(d->inner.ctx, d->pred, y, grad ? d->g : NULL, b, size, value));
    if (grad)
        for (size_t s = 0; s < b; s++)
            for (size_t p = 0; p < d->y->n; p++)
                grad[s * d->y->n + p] = d->g[s * d->y->n + p] * (d->y->std[p] + PW_EPS);
    return NDE_OK;
}

/* The path of a file beside the checkpoint (or in the current folder). */
static void beside(const char *ckpt, const char *name, char *buf, size_t cap)
{
    const char *slash = strrchr(ckpt, '/');
    if (slash)
        snprintf(buf, cap, "%.*s/%s", (int)(slash - ckpt), ckpt, name);
    else
        snprintf(buf, cap, "%s", name);
}

/* ---- model ---- */

static nde_status fno_create(nde_ctx *ctx, const cli_config *c, int nd, const size_t *n,
                             size_t max_batch, nde_model **m)
{
    nde_fno_spec sp = nd == 2 ? nde_fno2d_darcy_spec() : nde_fno1d_burgers_spec();
    sp.width = c->width;
    sp.n_modes[0] = c->modes;
    if (nd == 2) sp.n_modes[1] = c->modes;
    sp.n_layers = c->layers;
    sp.n_proj_hidden = c->proj_hidden ? 1 : 0;
    sp.proj_hidden[0] = c->proj_hidden;
    sp.padding = c->padding;
    sp.precision = (nde_precision)c->precision;
    /* a team of threads splits each batch; each runs a single-threaded BLAS */
    if (c->threads > 1) openblas_set_num_threads(1);
    return nde_model_fno_create(ctx, &sp, n, max_batch, c->threads, m);
}

static nde_status node_wrap(nde_ctx *ctx, const cli_config *c, nde_model *field, nde_model **m)
{
    double *ts = malloc(c->nt * sizeof *ts);
    if (!ts) {
        nde_model_destroy(&field);
        return NDE_FAIL(NDE_ERR_NOMEM, "save times");
    }
    for (size_t k = 0; k < c->nt; k++) ts[k] = c->t1 * (double)k / (double)(c->nt - 1);
    nde_node_spec ns = {.solver = nde_solver_defaults(c->method), .ts = ts, .nt = c->nt,
                        .output = (nde_node_output)c->output};
    ns.solver.rtol = c->rtol;
    ns.solver.atol = c->atol;
    ns.solver.h0 = c->h0;
    ns.solver.max_steps = c->max_steps;
    ns.solver.tape = (nde_tape)c->tape;
    nde_adjoint_opts ao = nde_adjoint_defaults(NULL, (nde_adjoint_kind)c->adjoint);
    ns.adjoint = &ao;
    nde_status st = nde_model_node_create(ctx, field, &ns, m);
    free(ts);
    return st;
}

/* [model] stagger_space > 0: NeuralStagger (nde/stagger.h) — the fine window (stagger_time
 * levels of n points) split into stagger_time·stagger_space pieces of n/stagger_space
 * points, each advanced by an FNO-1D of the [model] keys (one shared, or one per piece). */
static nde_status stagger_create(nde_ctx *ctx, const cli_config *c, const dataset *d,
                                 size_t max_batch, nde_model **m)
{
    const size_t n = d->n[0], s = c->stagger_space, st = c->stagger_time;
    if (n % s)
        return NDE_FAIL(NDE_ERR_ARG, "[model] stagger_space = %zu does not divide the data's %zu "
                        "points (after [data] subsample)", s, n);
    nde_stagger_model_spec spec = {.grid = {.ndim = 1, .channels = 1, .nt = st, .n = {n},
                                            .s_t = st, .s = {s}},
                                   .residual = c->stagger_residual};
    const size_t n_sub = st * s, pts = n / s, n_models = c->stagger_shared ? 1 : n_sub;
    nde_model **subs = calloc(n_models, sizeof *subs);
    if (!subs) return NDE_FAIL(NDE_ERR_NOMEM, "%zu sub-solvers", n_models);
    nde_status st_ = NDE_OK;
    for (size_t k = 0; k < n_models && st_ == NDE_OK; k++)
        st_ = fno_create(ctx, c, 1, &pts, c->stagger_shared ? n_sub * max_batch : max_batch,
                         &subs[k]);
    if (st_ == NDE_OK) {
        st_ = nde_model_stagger_create(&spec, subs, n_models, m); /* takes subs[k] */
    } else {
        for (size_t k = 0; k < n_models; k++) nde_model_destroy(&subs[k]);
    }
    free(subs);
    return st_;
}

/* The configuration's model for data d, before any constraint. */
static nde_status model_create_bare(nde_ctx *ctx, const cli_config *c, const dataset *d,
                                    size_t max_batch, nde_model **m)
{
    *m = NULL;
    switch ((cli_model_kind)c->kind) {
    case CLI_FNO1D: return c->stagger_space ? stagger_create(ctx, c, d, max_batch, m)
                                            : fno_create(ctx, c, 1, d->n, max_batch, m);
    case CLI_FNO2D: return fno_create(ctx, c, 2, d->n, max_batch, m);
    case CLI_MGNO: {
        nde_mgno_spec sp = nde_mgno_darcy_spec(d->n[0]);
        sp.precision = (nde_precision)c->precision;
        sp.width = c->width;
        sp.n_layers = c->layers;
        if (c->levels) {
            if (c->levels > NDE_MGNO_MAX_LEVELS)
                return NDE_FAIL(NDE_ERR_ARG, "[model] levels %zu: at most %d", c->levels,
                                NDE_MGNO_MAX_LEVELS);
            sp.levels = (int)c->levels;
        }
        while (sp.levels > 1 && (d->n[0] + (1u << (sp.levels - 1)) - 1) >> (sp.levels - 1) < 2) {
            sp.levels--; /* the coarsest level keeps >= 2 points */
            sp.pre[sp.levels - 1] = 2;
        }
        return nde_model_mgno_create(&sp, "mgno", max_batch, m);
    }
    case CLI_MLP_NODE: {
        nde_mlp_spec sp = {.in = d->dim, .out = d->dim, .act = c->act};
        for (size_t k = 0; k < CLI_MAX_HIDDEN && c->hidden[k]; k++) sp.hidden[k] = c->hidden[k];
        nde_model *f;
        NDE_TRY(nde_model_mlp_create(&sp, "field", NDE_INIT_TORCH, 0.0, &f));
        return node_wrap(ctx, c, f, m);
    }
    case CLI_FNO_NODE: {
        nde_model *f;
        NDE_TRY(fno_create(ctx, c, 1, d->n, max_batch, &f));
        return node_wrap(ctx, c, f, m);
    }
    }
    return NDE_FAIL(NDE_ERR_ARG, "unknown model kind %d", c->kind);
}

/* constraint = mean: the output u keeps the mean of the input a (viscous Burgers on a
 * periodic domain conserves ∫u). With the scalar normalizer x = (a − shift) / scale, so
 * mean(u) = scale · mean(x) + shift: b = B x + b0 with B = scale / n, b0 = shift. */
static nde_status constrain_mean(const cli_config *c, nde_model *inner, nde_model **m)
{
    const size_t n = nde_model_out_size(inner);
    const double scale = c->normalize == 1 ? c->x_scale : 1.0;
    const double shift = c->normalize == 1 ? c->x_shift : 0.0;
    double *row = nde_alloc_array(n, sizeof *row), *B = nde_alloc_array(n, sizeof *B);
    nde_constraint *con = NULL;
    nde_status st = row && B ? NDE_OK : NDE_ERR_NOMEM;
    if (st == NDE_OK && nde_model_in_size(inner) != n)
        st = NDE_FAIL(NDE_ERR_SHAPE, "[model] constraint = mean: input of %zu values, output of %zu",
                      nde_model_in_size(inner), n);
    if (st == NDE_OK) {
        for (size_t i = 0; i < n; i++) row[i] = 1.0 / (double)n, B[i] = scale / (double)n;
        st = nde_constraint_create(n, 1, &(nde_constraint_block){.n_idx = n, .m = 1, .A = row,
                                   .b = &shift}, 1, &con);
    }
    if (st == NDE_OK) {
        st = nde_model_constraint_create(inner, con, B, m);
    } else {
        nde_model_destroy(&inner);
    }
    nde_free(row);
    nde_free(B);
    return st;
}

/* The configuration's model for data d, with its constraint. */
static nde_status model_create(nde_ctx *ctx, const cli_config *c, const dataset *d,
                               size_t max_batch, nde_model **m)
{
    nde_model *inner;
    NDE_TRY(model_create_bare(ctx, c, d, max_batch, &inner));
    if (c->constraint == CLI_CONSTRAINT_MEAN) return constrain_mean(c, inner, m);
    *m = inner;
    return NDE_OK;
}

/* The Burgers residual of [train] burgers_* on windows of d (loss burgers_residual). */
static nde_burgers_residual_spec burgers_spec(const cli_config *c, const dataset *d)
{
    return (nde_burgers_residual_spec){.n = d->n[0], .nt = c->stagger_time,
                                       .length = c->burgers_length, .dt = c->burgers_dt,
                                       .nu = c->burgers_nu, .theta = c->burgers_theta};
}

/* rs: the Burgers residual's spec (borrowed by the loss burgers_residual). */
static nde_loss loss_of(int which, const nde_burgers_residual_spec *rs)
{
    if (which == CLI_LOSS_BURGERS) return nde_loss_burgers_residual(rs);
    return which == CLI_LOSS_MSE ? nde_loss_mse() : which == CLI_LOSS_L1 ? nde_loss_l1()
                                                                          : nde_loss_rel_l2();
}

/* ---- train ---- */

typedef struct run_log {
    double seconds;
    size_t epochs_run, first_epoch;
    int node;                /* a neural ODE: count the forward NFE of each training step */
    double nfe_sum;          /* this epoch's */
    size_t nfe_steps;
    double nfe[4096];        /* mean forward NFE per step of epochs first_epoch.. */
    size_t n_nfe;
} run_log;

static int count_nfe(const nde_train_info *info, void *user)
{
    run_log *lg = user;
    nde_solver *s = nde_model_node_solver(info->model);
    if (s && info->status == NDE_OK) {
        lg->nfe_sum += (double)nde_solver_get_stats(s)->nfe;
        lg->nfe_steps++;
    }
    return 0;
}

static int print_epoch(const nde_train_info *info, void *user)
{
    run_log *lg = user;
    lg->seconds += info->seconds;
    if (!lg->epochs_run) lg->first_epoch = info->epoch;
    lg->epochs_run++;
    if (lg->node && lg->n_nfe < sizeof lg->nfe / sizeof lg->nfe[0]) {
        lg->nfe[lg->n_nfe++] = lg->nfe_steps ? lg->nfe_sum / (double)lg->nfe_steps : NAN;
        lg->nfe_sum = 0;
        lg->nfe_steps = 0;
    }
    if (cli_rank() == 0) /* under mpirun: rank 0 reports (the figures are global) */
    {
        fprintf(stderr, "epoch %zu/%zu  lr %.3g  train %.6g  test %.6g", info->epoch,
                info->epochs, info->lr, info->train_loss, info->test_metric);
        if (isfinite(info->test_metric_ema)) fprintf(stderr, "  test (EMA) %.6g", info->test_metric_ema);
        fprintf(stderr, "  (%.2f s)\n", info->seconds);
    }
    return 0;
}

static const char *collect_set(const char *value, void *dest)
{
    struct sets {
        const char *v[256];
        size_t n;
    } *s = dest;
    if (s->n == 256) return "at most 256 --set options";
    s->v[s->n++] = value;
    return NULL;
}

/* Write c as INI to path atomically. */
static nde_status write_config(const cli_config *c, const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "; the resolved configuration of this run (nde train); nde eval and nde predict\n"
               "; rebuild the model from it\n");
    cli_config_write(c, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return NDE_FAIL(NDE_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    return NDE_OK;
}

/* --resume: the run's config.ini must match c in everything but the keys a continued run
 * may change ([train] epochs, [output] every, every_steps and dir); NDE_OK or NDE_ERR_ARG naming the
 * first differing line. */
static nde_status same_run(const cli_config *c, const char *path)
{
    cli_config old;
    cli_config_defaults(&old);
    if (cli_config_read(&old, path)) return NDE_FAIL(NDE_ERR_ARG, "--resume: cannot read %s", path);
    old.epochs = c->epochs;
    old.every = c->every;
    old.every_steps = c->every_steps;
    old.plots = c->plots;
    memcpy(old.dir, c->dir, sizeof old.dir);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    FILE *fa = open_memstream(&a, &na), *fb = open_memstream(&b, &nb);
    if (fa) cli_config_write(&old, fa);
    if (fb) cli_config_write(c, fb);
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    nde_status st = NDE_OK;
    if (!a || !b) {
        st = NDE_FAIL(NDE_ERR_NOMEM, "--resume: comparing configurations");
    } else if (strcmp(a, b)) {
        size_t i = 0, line = 0;
        while (a[i] == b[i]) i++;
        while (i > 0 && a[i - 1] != '\n') i--;
        const char *sect = NULL;
        for (size_t j = 0; j < i; j++)
            if (a[j] == '[' && (j == 0 || a[j - 1] == '\n')) sect = a + j;
        line = strcspn(a + i, "\n");
        st = NDE_FAIL(NDE_ERR_ARG, "--resume: %s was written by another configuration: %.*s "
                      "'%.*s' there, '%.*s' now (only [train] epochs may change)", path,
                      sect ? (int)strcspn(sect, "\n") : 0, sect ? sect : "", (int)line, a + i,
                      (int)strcspn(b + i, "\n"), b + i);
    }
    free(a);
    free(b);
    return st;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* out dir from --out, [output] dir, or out/<config's name without .ini>. */
static void out_dir(const cli_config *c, const char *opt, const char *config, char *buf, size_t cap)
{
    if (opt) {
        snprintf(buf, cap, "%s", opt);
    } else if (*c->dir) {
        snprintf(buf, cap, "%s", c->dir);
    } else {
        const char *base = strrchr(config, '/');
        base = base ? base + 1 : config;
        size_t len = strlen(base);
        if (len > 4 && !strcmp(base + len - 4, ".ini")) len -= 4;
        snprintf(buf, cap, "out/%.*s", (int)len, base);
    }
}

/* s as the inside of a JSON string (quotes, backslashes and control characters escaped;
 * truncated to fit cap). */
static const char *json_str(const char *s, char *buf, size_t cap)
{
    size_t k = 0;
    for (; *s && k + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            buf[k++] = '\\', buf[k++] = (char)ch;
        else if (ch < 0x20)
            k += (size_t)snprintf(buf + k, cap - k, "\\u%04x", ch);
        else
            buf[k++] = (char)ch;
    }
    buf[k] = '\0';
    return buf;
}

/* pred (count, y_size) = model(x) in batches of at most `batch`. */
static nde_status predict_all(nde_model *m, const double *x, size_t x_size, size_t count,
                              size_t batch, double *pred, size_t y_size)
{
    for (size_t b = 0; b < count; b += batch) {
        size_t k = count - b < batch ? count - b : batch;
        NDE_TRY(nde_model_forward(m, x + b * x_size, pred + b * y_size, k));
    }
    return NDE_OK;
}

/* pred.png in dir: the model's predictions for samples first.. of d (inputs already
 * normalized) against the raw targets, decoded when yn is in use. Up to 4 samples (1-D
 * fields), the first (2-D fields, trajectories), up to 64 (final states). */
static nde_status plot_predictions(const char *dir, const cli_config *c, const dataset *d,
                                   nde_model *m, const pw_norm *yn, size_t first, size_t avail)
{
    const int gd = grid_ndim(c);
    const int traj = c->kind == CLI_MLP_NODE && c->output == NDE_NODE_TRAJECTORY;
    size_t k = gd == 1 ? 4 : gd == 2 || traj ? 1 : 64;
    if (k > avail) k = avail;
    if (!k) return NDE_FAIL(NDE_ERR_ARG, "no samples to plot");
    double *pred = nde_alloc_array(k * d->y_size, sizeof *pred);
    double *ts = nde_alloc_array(c->nt, sizeof *ts);
    if (!pred || !ts) {
        nde_free(pred);
        nde_free(ts);
        return NDE_FAIL(NDE_ERR_NOMEM, "predictions to plot");
    }
    nde_status st = nde_model_set_training(m, 0);
    if (st == NDE_OK)
        st = predict_all(m, d->x + first * d->x_size, d->x_size, k, c->batch, pred, d->y_size);
    if (st == NDE_OK && yn && yn->n) pw_decode(yn, pred, pred, k);
    for (size_t i = 0; i < c->nt; i++) ts[i] = c->t1 * (double)i / (double)(c->nt - 1);
    const double *y = d->y + first * d->y_size;
    if (st == NDE_OK && gd == 1 && d->y_size > d->n[0]) {
        /* windows of several levels: the first level of each sample (pred compacted in
         * place, y copied) */
        const size_t n = d->n[0], L = d->y_size / n;
        double *yc = nde_alloc_array(k * n, sizeof *yc);
        if (!yc) st = NDE_FAIL(NDE_ERR_NOMEM, "predictions to plot");
        for (size_t i = 0; st == NDE_OK && i < k; i++) {
            memmove(pred + i * n, pred + i * L * n, n * sizeof *pred);
            memcpy(yc + i * n, y + i * L * n, n * sizeof *yc);
        }
        if (st == NDE_OK) st = cli_plot_pred(dir, CLI_PLOT_1D, k, n, 0, NULL, yc, pred);
        nde_free(yc);
        nde_free(pred);
        nde_free(ts);
        return st;
    }
    if (st == NDE_OK) {
        if (gd == 1)
            st = cli_plot_pred(dir, CLI_PLOT_1D, k, d->n[0], 0, NULL, y, pred);
        else if (gd == 2)
            st = cli_plot_pred(dir, CLI_PLOT_2D, k, d->n[0], d->n[1], NULL, y, pred);
        else if (traj)
            st = cli_plot_pred(dir, CLI_PLOT_TRAJECTORY, k, c->nt, d->dim, ts, y, pred);
        else
            st = cli_plot_pred(dir, CLI_PLOT_SCATTER, k, d->y_size, 0, NULL, y, pred);
    }
    nde_free(pred);
    nde_free(ts);
    return st;
}

static int write_summaries(const char *dir, const char *config, const cli_config *c,
                           nde_model *m, nde_trainer *tr, const run_log *lg, double seconds,
                           const char *const *plots, size_t n_plots)
{
    char pj[256] = "", pm[256] = "";
    for (size_t i = 0; i < n_plots; i++) {
        snprintf(pj + strlen(pj), sizeof pj - strlen(pj), "%s\"%s\"", i ? ", " : "", plots[i]);
        snprintf(pm + strlen(pm), sizeof pm - strlen(pm), "%s`%s`", i ? ", " : "", plots[i]);
    }
    char path[4200];
    const double train = nde_trainer_train_loss(tr), test = nde_trainer_test_metric(tr);
    const double test_ema = nde_trainer_test_metric_ema(tr);
    char tr_s[64] = "null", te_s[64] = "null", spe[64] = "null", ema_s[64] = "null";
    if (isfinite(test_ema)) snprintf(ema_s, sizeof ema_s, "%.9g", test_ema);
    if (isfinite(train)) snprintf(tr_s, sizeof tr_s, "%.9g", train);
    if (isfinite(test)) snprintf(te_s, sizeof te_s, "%.9g", test);
    if (lg->epochs_run) snprintf(spe, sizeof spe, "%.4f", lg->seconds / (double)lg->epochs_run);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char jc[8192], jd[8192];
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "nde train: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(f,
            "{\"config\": \"%s\", \"model\": \"%s\", \"params\": %zu, \"epochs\": %zu, "
            "\"steps\": %zu, \"loss\": \"%s\", \"train_loss\": %s, \"metric\": \"%s\", "
            "\"test_metric\": %s, \"test_metric_ema\": %s, \"seconds_per_epoch\": %s, "
            "\"seconds\": %.3f, \"checkpoint\": \"%s/checkpoint.safetensors\", \"plots\": [%s]}\n",
            json_str(config, jc, sizeof jc), cli_model_kind_name(c->kind), nde_model_n_params(m),
            nde_trainer_epoch(tr), nde_trainer_step(tr), cli_loss_name(c->loss), tr_s,
            cli_loss_name(c->metric), te_s, ema_s, spe, seconds, json_str(dir, jd, sizeof jd), pj);
    fclose(f);
    snprintf(path, sizeof path, "%s/summary.md", dir);
    f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "nde train: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(f,
            "# nde train: %s\n\n"
            "| | |\n|---|---|\n"
            "| model | %s, %zu parameters |\n"
            "| data | %s (%zu train, %zu test) |\n"
            "| epochs | %zu (%zu steps) |\n"
            "| final train %s | %s |\n"
            "| final test %s | %s |\n"
            "| seconds per epoch | %s |\n"
            "| plots | %s |\n\n"
            "Files: `config.ini` (the resolved configuration), `checkpoint.safetensors`, "
            "`metrics.jsonl` (one line per epoch), `summary.json`.\n",
            config, cli_model_kind_name(c->kind), nde_model_n_params(m), c->path, c->ntrain,
            c->ntest, nde_trainer_epoch(tr), nde_trainer_step(tr), cli_loss_name(c->loss), tr_s,
            cli_loss_name(c->metric), te_s, spe, n_plots ? pm : "none");
    fclose(f);
    return 0;
}

int cli_train(int argc, char **argv)
{
    struct sets {
        const char *v[256];
        size_t n;
    } sets = {0};
    const char *out = NULL;
    int resume = 0;
    const nde_arg opts[] = {
        {.name = "set", .kind = NDE_ARG_CUSTOM, .dest = &sets, .parse = collect_set,
         .metavar = "SECTION.KEY=VALUE", .repeat = 1,
         .help = "override a key of the configuration (repeatable)"},
        {.name = "out", .kind = NDE_ARG_STRING, .dest = &out, .metavar = "DIR",
         .default_text = "[output] dir, else out/<CONFIG without .ini>", .help = "output folder"},
        {.name = "resume", .kind = NDE_ARG_FLAG, .dest = &resume,
         .help = "continue from DIR/checkpoint.safetensors (same configuration;\n"
                 "train.epochs may grow)"},
    };
    const nde_args_spec spec = {
        .prog = "nde train", .synopsis = "CONFIG [--set section.key=value ...] [--out DIR] [--resume]",
        .about = "Trains the model a configuration (INI, docs/cli.md) describes through the\n"
                 "library's trainer. Writes to DIR: config.ini (resolved), checkpoint.safetensors\n"
                 "(every [output] every epochs), metrics.jsonl, summary.json, summary.md.",
        NDE_ARGS_TABLE(opts), .min_positional = 1, .max_positional = 1};
    int first;
    int rc = nde_args_parse(&spec, argc, argv, &first);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    const char *config = argv[first];
    cli_config c;
    cli_config_defaults(&c);
    if (cli_config_read(&c, config)) return 2;
    for (size_t i = 0; i < sets.n; i++)
        if (cli_config_set(&c, sets.v[i], "--set")) return 2;
    if (cli_config_check(&c, config)) return 2;

    char dir[2048], ckpt[2200], metrics[2200], cfg[2200];
    out_dir(&c, out, config, dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(cfg, sizeof cfg, "%s/config.ini", dir);
    if (resume && !file_exists(ckpt)) {
        fprintf(stderr, "nde train: --resume: cannot open %s: %s\n", ckpt, strerror(errno));
        return 1;
    }

    dataset d = {0};
    nde_ctx *ctx = NULL;
    nde_model *m = NULL;
    nde_trainer *tr = NULL;
    run_log lg = {0};
    const double t0 = nde_wall_seconds();
    const int parts = cli_size() > 1; /* per-rank reading */
    nde_status st = parts ? dataset_probe(&c, c.path, &d) : dataset_read(&c, c.path, 0, &d);
    if (st == NDE_OK && d.count < c.ntrain + c.ntest)
        st = NDE_FAIL(NDE_ERR_SHAPE, "%s holds %zu samples; [data] ntrain %zu + ntest %zu needed",
                      c.path, d.count, c.ntrain, c.ntest);
    pw_norm xn = {0}, yn = {0}; /* normalize = pointwise */
    if (st == NDE_OK && parts && c.normalize == 2)
        st = NDE_FAIL(NDE_ERR_UNSUPPORTED, "[data] normalize = pointwise is not supported with "
                      "more than one MPI rank yet; use scalar or none, or run on one rank");
    if (parts) { /* collective: all ranks reach the normalizer's reductions */
        if (cli_any(st != NDE_OK) && st == NDE_OK)
            st = NDE_FAIL(NDE_ERR_ARG, "another rank failed to read %s", c.path);
        if (st == NDE_OK) st = fit_normalizer_parts(&c, c.path, d.x_size);
    }
    if (st == NDE_OK) {
        if (!parts) { /* in memory; per-rank reading normalizes each fetched sample */
            fit_normalizer(&c, &d);
            normalize_x(&c, &d);
            if (c.normalize == 2) {
                st = pw_fit(d.x, c.ntrain, d.x_size, &xn);
                if (st == NDE_OK) st = pw_fit(d.y, c.ntrain, d.y_size, &yn);
                if (st == NDE_OK) pw_encode(&xn, d.x, d.count);
            }
        }
        if (st == NDE_OK)
            st = resume ? same_run(&c, cfg) : cli_rank() == 0 ? nde_mkdir_p(dir) : NDE_OK;
    }
    if (st == NDE_OK && cli_rank() == 0) st = write_config(&c, cfg);
    char nzpath[2200];
    snprintf(nzpath, sizeof nzpath, "%s/normalizer.safetensors", dir);
    if (st == NDE_OK && c.normalize == 2 && cli_rank() == 0) st = pw_save(&xn, &yn, nzpath);
    if (cli_size() > 1) st = cli_share_status(st, "creating the output folder");
    if (st == NDE_OK) st = nde_ctx_create(&ctx);
    if (st == NDE_OK) st = model_create(ctx, &c, &d, c.batch, &m);
    nde_rng rng;
    nde_rng_seed(&rng, c.seed);
    if (st == NDE_OK) st = nde_model_init(m, &rng);
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.batch = c.batch;
    ts.epochs = c.epochs;
    ts.steps_per_epoch = c.steps_per_epoch;
    ts.sampling = (nde_sampling)c.sampling;
    if (c.order_seed_set) { /* the trainer's own generator (as the darcy driver seeds it) */
        ts.seed = c.order_seed;
    } else {
        ts.use_rng = 1; /* the data order continues the init's generator */
        ts.rng = rng;
    }
    ts.optim = nde_optim_defaults(c.optim);
    ts.optim.lr = c.lr;
    ts.optim.weight_decay = c.weight_decay;
    uint64_t horizon = c.sched_steps ? c.sched_steps
                       : c.per_step  ? (uint64_t)c.epochs *
                                          (c.steps_per_epoch ? c.steps_per_epoch
                                                             : (c.ntrain + c.batch - 1) / c.batch)
                                     : (uint64_t)c.epochs;
    const uint64_t warmup = c.warmup_frac > 0.0 ? (uint64_t)(c.warmup_frac * (double)horizon)
                                                : c.warmup;
    ts.schedule = (nde_schedule){.kind = (nde_schedule_kind)c.schedule, .v0 = c.lr, .v1 = c.v1,
                                 .steps = horizon, .warmup = warmup, .gamma = c.gamma,
                                 .period = c.period, .pct_start = c.pct_start,
                                 .div_factor = c.div_factor,
                                 .final_div_factor = c.final_div_factor};
    ts.schedule_per_step = c.per_step;
    ts.clip_grad_norm = c.clip_grad_norm;
    ts.ema_decay = c.ema_decay;
    ts.ema_warmup = c.ema_warmup;
    const nde_burgers_residual_spec rs = burgers_spec(&c, &d);
    ts.loss = loss_of(c.loss, &rs);
    ts.eval = loss_of(c.metric, &rs);
    decoded_loss dl = {.y = &yn, .inner = ts.loss}, dm = {.y = &yn, .inner = ts.eval};
    double *dbuf = NULL;
    if (st == NDE_OK && c.normalize == 2) { /* loss and metric of the decoded output */
        dbuf = nde_alloc_array(2 * c.batch * d.y_size, sizeof *dbuf);
        if (!dbuf) st = NDE_FAIL(NDE_ERR_NOMEM, "decoder buffers");
        dl.pred = dm.pred = dbuf;
        dl.g = dm.g = dbuf ? dbuf + c.batch * d.y_size : NULL;
        ts.loss.fn = ts.eval.fn = decoded_fn;
        ts.loss.ctx = &dl;
        ts.eval.ctx = &dm;
    }
    ts.eval_every = c.ntest ? 1 : 0;
    ts.checkpoint_path = ckpt;
    ts.checkpoint_every = c.every;
    ts.checkpoint_every_steps = c.every_steps;
    char *config_text = cli_config_text(&c); /* rebuilds the model from the checkpoint alone */
    const char *const meta[] = {"nde.config", config_text ? config_text : "", NULL};
    if (st == NDE_OK && !config_text) st = NDE_FAIL(NDE_ERR_NOMEM, "configuration text");
    ts.checkpoint_meta = meta;
    ts.metrics_path = metrics;
    ts.name = "nde train";
    ts.on_epoch = print_epoch;
    ts.user = &lg;
    lg.node = c.kind == CLI_MLP_NODE || c.kind == CLI_FNO_NODE;
    if (lg.node) ts.on_step = count_nfe;
    nde_data train = {.n = c.ntrain, .x_size = d.x_size, .y_size = d.y_size, .x = d.x, .y = d.y};
    const size_t t_first = d.count - c.ntest;
    nde_data test = {.n = c.ntest, .x_size = d.x_size, .y_size = d.y_size,
                     .x = d.x ? d.x + t_first * d.x_size : NULL,
                     .y = d.y ? d.y + t_first * d.y_size : NULL};
    shard_src train_src = {.c = &c, .path = c.path, .x_size = d.x_size, .y_size = d.y_size};
    shard_src test_src = train_src;
    test_src.offset = t_first;
    if (parts) {
        train.fetch = shard_fetch, train.ctx = &train_src;
        test.fetch = shard_fetch, test.ctx = &test_src;
    }
    if (st == NDE_OK) st = nde_trainer_create(m, &train, c.ntest ? &test : NULL, &ts, &tr);
    /* under mpirun: every rank got this far, then the trainer is collective */
    if (cli_any(st != NDE_OK) && st == NDE_OK)
        st = NDE_FAIL(NDE_ERR_ARG, "another rank failed to set up (see its message)");
    if (st == NDE_OK) st = cli_set_comm(tr);
    if (st == NDE_OK && resume) {
        st = nde_trainer_resume(tr, ckpt);
        if (st == NDE_OK && cli_rank() == 0)
            fprintf(stderr, "nde train: resumed from %s after epoch %zu\n", ckpt,
                    nde_trainer_epoch(tr));
    }
    if (st == NDE_OK && cli_rank() == 0)
        fprintf(stderr, "nde train: %s%s, %zu parameters, %zu train / %zu test samples, %zu epochs "
                        "→ %s%s\n", cli_model_kind_name(c.kind),
                c.stagger_space ? " sub-solvers of NeuralStagger" : "", nde_model_n_params(m), c.ntrain,
                c.ntest, c.epochs, dir, cli_size() > 1 ? " (data parallel over MPI ranks)" : "");
    if (st == NDE_OK) st = nde_trainer_run(tr);
    rc = 0;
    if (st != NDE_OK) {
        fprintf(stderr, "nde train: %s\n", nde_last_error());
        rc = 1;
    } else if (cli_rank() == 0) {
        const double seconds = nde_wall_seconds() - t0;
        /* plots: a missing gnuplot or a failing plot is a warning */
        const char *plots[3];
        size_t n_plots = 0;
        if (c.plots && cli_plots_possible("nde train")) {
            if (cli_plot_loss(dir, metrics, cli_loss_name(c.loss), cli_loss_name(c.metric),
                              c.ntest > 0) == NDE_OK)
                plots[n_plots++] = "loss.png";
            else
                fprintf(stderr, "nde train: warning: no loss plot: %s\n", nde_last_error());
            if (lg.node && lg.n_nfe) {
                if (cli_plot_nfe(dir, lg.first_epoch, lg.n_nfe, lg.nfe) == NDE_OK)
                    plots[n_plots++] = "nfe.png";
                else
                    fprintf(stderr, "nde train: warning: no NFE plot: %s\n", nde_last_error());
            }
            const size_t first_s = c.ntest ? d.count - c.ntest : 0;
            if (parts) /* per-rank reading: rank 0 holds no data (nde eval --plots can) */
                ;
            else if (plot_predictions(dir, &c, &d, m, &yn, first_s,
                                      c.ntest ? c.ntest : c.ntrain) == NDE_OK)
                plots[n_plots++] = "pred.png";
            else
                fprintf(stderr, "nde train: warning: no prediction plot: %s\n", nde_last_error());
        }
        rc = write_summaries(dir, config, &c, m, tr, &lg, seconds, plots, n_plots);
        if (!rc) printf("%s/checkpoint.safetensors\n", dir);
    }
    nde_trainer_destroy(&tr);
    shard_close(&train_src);
    shard_close(&test_src);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
    dataset_free(&d);
    pw_free(&xn);
    pw_free(&yn);
    nde_free(dbuf);
    free(config_text);
    return rc;
}

/* ---- eval and predict: the model from config.ini beside the checkpoint ---- */

static int load_run_config(const char *prog, const char *ckpt, cli_config *c)
{
    FILE *f = fopen(ckpt, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, ckpt, strerror(errno));
        return 1;
    }
    fclose(f);
    cli_config_defaults(c);
    /* the configuration nde train stored in the checkpoint, else config.ini beside it */
    nde_st_file *st = NULL;
    if (nde_st_open(ckpt, &st) != NDE_OK) {
        fprintf(stderr, "%s: %s\n", prog, nde_last_error());
        return 1;
    }
    const char *text = nde_st_meta(st, "nde.config");
    int rc;
    if (text) {
        char label[4200];
        snprintf(label, sizeof label, "%s:nde.config", ckpt);
        rc = cli_config_read_string(c, text, label);
    } else {
        char cfg[4200];
        const char *slash = strrchr(ckpt, '/');
        if (slash)
            snprintf(cfg, sizeof cfg, "%.*s/config.ini", (int)(slash - ckpt), ckpt);
        else
            snprintf(cfg, sizeof cfg, "config.ini");
        rc = cli_config_read(c, cfg);
    }
    nde_st_close(&st);
    return rc ? 1 : 0;
}

/* θ ← the checkpoint's moving average "train.ema" (a run with [train] ema_decay > 0). */
static nde_status load_ema(const char *ckpt, nde_model *m)
{
    nde_st_file *f = NULL;
    NDE_TRY(nde_st_open(ckpt, &f));
    const nde_st_tensor *t = nde_st_find(f, "train.ema");
    const size_t np = nde_model_n_params(m);
    nde_status st = NDE_OK;
    if (!t)
        st = NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s' holds no moving average (train.ema): the "
                      "run had no [train] ema_decay", ckpt);
    else if (t->dtype != NDE_ST_F64 || t->numel != np)
        st = NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': train.ema has %zu values of %s, the model "
                      "has %zu float64 parameters", ckpt, t->numel, nde_st_dtype_name(t->dtype), np);
    double *th = nde_params_theta(nde_model_params(m));
    if (st == NDE_OK) memcpy(th, t->data, np * sizeof *th);
    for (size_t i = 0; st == NDE_OK && i < np; i++)
        if (!isfinite(th[i]))
            st = NDE_FAIL(NDE_ERR_NONFINITE, "checkpoint '%s': train.ema[%zu] is %g", ckpt, i, th[i]);
    nde_st_close(&f);
    return st;
}

/* The model of c for data d with the checkpoint's θ (or, with ema, its moving average). */
static nde_status model_load(nde_ctx *ctx, const cli_config *c, const dataset *d, const char *ckpt,
                             int ema, nde_model **m)
{
    NDE_TRY(model_create(ctx, c, d, c->batch, m));
    nde_status st = nde_checkpoint_load(ckpt, nde_model_params(*m), NULL, NULL);
    if (st == NDE_OK && ema) st = load_ema(ckpt, *m);
    if (st == NDE_OK) st = nde_model_set_training(*m, 0);
    if (st != NDE_OK) nde_model_destroy(m);
    return st;
}

/* normalize = pointwise: the run's normalizer beside the checkpoint, applied to d's
 * inputs; yn then decodes the outputs. Other normalizers: nothing to do. */
static nde_status load_normalizer(const cli_config *c, const char *ckpt, dataset *d,
                                  pw_norm *xn, pw_norm *yn)
{
    if (c->normalize != 2) return NDE_OK;
    char path[4200];
    beside(ckpt, "normalizer.safetensors", path, sizeof path);
    NDE_TRY(pw_load(path, d->x_size, d->y_size, xn, yn));
    pw_encode(xn, d->x, d->count);
    return NDE_OK;
}

int cli_eval(int argc, char **argv)
{
    static const char *const splits[] = {"test", "all", NULL};
    int split = 0, ema = 0;
    const char *plots = NULL;
    const nde_arg opts[] = {
        {.name = "ema", .kind = NDE_ARG_FLAG, .dest = &ema,
         .help = "use the checkpoint's moving average of the parameters\n"
                 "([train] ema_decay) instead of the parameters"},
        {.name = "split", .kind = NDE_ARG_CHOICE, .dest = &split, .choices = splits,
         .help = "the last [data] ntest samples of DATA, or all of them"},
        {.name = "plots", .kind = NDE_ARG_STRING, .dest = &plots, .metavar = "DIR",
         .help = "write DIR/pred.png: predicted against true samples of the split\n"
                 "(needs gnuplot)"},
    };
    const nde_args_spec spec = {
        .prog = "nde eval", .synopsis = "CHECKPOINT DATA [--split test|all] [--plots DIR] [--ema]",
        .about = "Evaluates a checkpoint of nde train (its model rebuilt from config.ini beside\n"
                 "it) on DATA and prints one JSON line per metric (rel_l2, mse, l1) on stdout;\n"
                 "a run of [train] loss = burgers_residual prints that residual, then, when\n"
                 "DATA holds windows (samples, levels, S) and [data] y of their shape (nde data\n"
                 "burgers --windows), the metrics against y.",
        NDE_ARGS_TABLE(opts), .min_positional = 2, .max_positional = 2};
    int first;
    int rc = nde_args_parse(&spec, argc, argv, &first);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    const char *ckpt = argv[first], *data = argv[first + 1];
    cli_config c;
    if (load_run_config("nde eval", ckpt, &c)) return 1;
    dataset d = {0};
    nde_ctx *ctx = NULL;
    nde_model *m = NULL;
    double *pred = NULL;
    pw_norm xn = {0}, yn = {0};
    nde_status st = dataset_read(&c, data, 0, &d);
    if (st == NDE_OK) normalize_x(&c, &d);
    if (st == NDE_OK) st = load_normalizer(&c, ckpt, &d, &xn, &yn);
    size_t first_s = 0, count = d.count;
    if (st == NDE_OK && split == 0) {
        if (!c.ntest || d.count < c.ntest)
            st = NDE_FAIL(NDE_ERR_SHAPE, "%s holds %zu samples, the test split is the last %zu "
                          "(use --split all)", data, d.count, c.ntest);
        first_s = d.count - c.ntest, count = c.ntest;
    }
    if (st == NDE_OK) st = nde_ctx_create(&ctx);
    if (st == NDE_OK) st = model_load(ctx, &c, &d, ckpt, ema, &m);
    if (st == NDE_OK) {
        pred = nde_alloc_array(count * d.y_size, sizeof *pred);
        if (!pred) st = NDE_FAIL(NDE_ERR_NOMEM, "predictions");
    }
    if (st == NDE_OK)
        st = predict_all(m, d.x + first_s * d.x_size, d.x_size, count, c.batch, pred, d.y_size);
    if (st == NDE_OK && yn.n) pw_decode(&yn, pred, pred, count);
    char jc[8192], jd[8192];
    const nde_burgers_residual_spec rs = burgers_spec(&c, &d);
    /* a physics-constrained run: its residual on the windows (the other metrics compare
     * with [data] y, which such a run does not have) */
    const int phys = c.loss == CLI_LOSS_BURGERS;
    for (int k = phys ? CLI_LOSS_BURGERS : 0; st == NDE_OK && k < (phys ? CLI_LOSS_BURGERS + 1 : 3);
         k++) {
        nde_loss l = loss_of(k, &rs);
        double v;
        st = l.fn(l.ctx, pred, d.y + first_s * d.y_size, NULL, count, d.y_size, &v);
        if (l.reduction == NDE_LOSS_SUM) v /= (double)count;
        if (st == NDE_OK)
            printf("{\"checkpoint\": \"%s\", \"data\": \"%s\", \"split\": \"%s\", \"samples\": %zu, "
                   "\"weights\": \"%s\", \"metric\": \"%s\", \"value\": %.9g}\n",
                   json_str(ckpt, jc, sizeof jc), json_str(data, jd, sizeof jd), splits[split],
                   count, ema ? "ema" : "theta", cli_loss_name(k), v);
    }
    /* a physics-constrained run on windows (samples, levels, S) with [data] y of the same
     * shape (nde data burgers --windows: the true next window): the error against it */
    cli_config cy = c;
    cy.loss = cy.metric = CLI_LOSS_REL_L2;
    dataset dy = {0};
    if (st == NDE_OK && phys && d.y_ndim == 3 && dataset_read(&cy, data, 0, &dy) == NDE_OK &&
        dy.count == d.count && dy.y_size == d.y_size) {
        for (int k = 0; st == NDE_OK && k < 3; k++) {
            nde_loss l = loss_of(k, &rs);
            double v;
            st = l.fn(l.ctx, pred, dy.y + first_s * dy.y_size, NULL, count, dy.y_size, &v);
            if (l.reduction == NDE_LOSS_SUM) v /= (double)count;
            if (st == NDE_OK)
                printf("{\"checkpoint\": \"%s\", \"data\": \"%s\", \"split\": \"%s\", "
                       "\"samples\": %zu, \"target\": \"%s\", \"metric\": \"%s\", \"value\": %.9g}\n",
                       json_str(ckpt, jc, sizeof jc), json_str(data, jd, sizeof jd),
                       splits[split], count, c.y, cli_loss_name(k), v);
        }
    }
    dataset dp = d; /* the plot's "true": [data] y when read above, else the targets */
    if (dy.y) dp.y = dy.y;
    if (st != NDE_OK) {
        fprintf(stderr, "nde eval: %s\n", nde_last_error());
        rc = 1;
    } else if (plots && cli_plots_possible("nde eval")) {
        if (nde_mkdir_p(plots) != NDE_OK ||
            plot_predictions(plots, &c, &dp, m, &yn, first_s, count) != NDE_OK)
            fprintf(stderr, "nde eval: warning: no plot: %s\n", nde_last_error());
        else
            fprintf(stderr, "nde eval: wrote %s/pred.png\n", plots);
    }
    dataset_free(&dy);
    pw_free(&xn);
    pw_free(&yn);
    nde_free(pred);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
    dataset_free(&d);
    return rc;
}

int cli_predict(int argc, char **argv)
{
    const char *out = NULL;
    int ema = 0;
    const nde_arg opts[] = {
        {.name = "out", .kind = NDE_ARG_STRING, .dest = &out, .metavar = "FILE",
         .help = "where to write the predictions (.h5, .mat or .npy)"},
        {.name = "ema", .kind = NDE_ARG_FLAG, .dest = &ema,
         .help = "use the checkpoint's moving average of the parameters\n"
                 "([train] ema_decay) instead of the parameters"},
    };
    const nde_args_spec spec = {
        .prog = "nde predict", .synopsis = "CHECKPOINT INPUT --out FILE [--ema]",
        .about = "Runs a checkpoint of nde train on every sample of the input dataset ([data] x\n"
                 "of its config.ini) in INPUT and writes the predictions as dataset [data] y,\n"
                 "shaped as the targets are (e.g. a → u, coeff → sol).",
        NDE_ARGS_TABLE(opts), .min_positional = 2, .max_positional = 2};
    int first;
    int rc = nde_args_parse(&spec, argc, argv, &first);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    if (!out) {
        fprintf(stderr, "nde predict: --out FILE is required (try --help)\n");
        return 2;
    }
    const char *ckpt = argv[first], *input = argv[first + 1];
    cli_config c;
    if (load_run_config("nde predict", ckpt, &c)) return 1;
    char first_file[4200];
    cli_dataset_file(out, c.y, first_file, sizeof first_file);
    if (cli_check_writable(first_file) != NDE_OK) {
        fprintf(stderr, "nde predict: %s\n", nde_last_error());
        return 1;
    }
    dataset d = {0};
    nde_ctx *ctx = NULL;
    nde_model *m = NULL;
    double *pred = NULL;
    pw_norm xn = {0}, yn = {0};
    nde_status st = dataset_read(&c, input, 1, &d);
    if (st == NDE_OK) normalize_x(&c, &d);
    if (st == NDE_OK) {
        d.y_size = d.x_size; /* operators: y has x's points (no targets read) */
        if (c.kind == CLI_MLP_NODE) d.y_size = c.output == NDE_NODE_TRAJECTORY ? c.nt * d.dim : d.dim;
        st = load_normalizer(&c, ckpt, &d, &xn, &yn);
    }
    if (st == NDE_OK) st = nde_ctx_create(&ctx);
    if (st == NDE_OK) st = model_load(ctx, &c, &d, ckpt, ema, &m);
    if (st == NDE_OK) {
        pred = nde_alloc_array(d.count * d.y_size, sizeof *pred);
        if (!pred) st = NDE_FAIL(NDE_ERR_NOMEM, "predictions");
    }
    if (st == NDE_OK) st = predict_all(m, d.x, d.x_size, d.count, c.batch, pred, d.y_size);
    if (st == NDE_OK && yn.n) pw_decode(&yn, pred, pred, d.count);
    if (st == NDE_OK) {
        const char *names[1] = {c.y};
        const size_t(*shape)[3] = (const size_t(*)[3])d.y_shape;
        const double *data[1] = {pred};
        st = cli_datasets_write(out, 1, names, &d.y_ndim, shape, data);
    }
    if (st != NDE_OK) {
        fprintf(stderr, "nde predict: %s\n", nde_last_error());
        rc = 1;
    } else {
        fprintf(stderr, "nde predict: wrote %zu predictions to %s\n", d.count, out);
    }
    pw_free(&xn);
    pw_free(&yn);
    nde_free(pred);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
    dataset_free(&d);
    return rc;
}
