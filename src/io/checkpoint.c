/* Checkpoints: parameters, optimizer state and training position in one safetensors
 * file (layout in nde/checkpoint.h and docs/checkpoints.md). Loading checks every
 * tensor against the live objects first and copies only when all of them match. */
#include "nde/checkpoint.h"
#include "io/checkpoint_internal.h"
#include "nde/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CKPT_FORMAT "nde-checkpoint"
#define CKPT_VERSION "1"

static const size_t one[1] = {1};
static const size_t four[1] = {4};

static void fmt_u64(char *buf, size_t n, uint64_t v) { snprintf(buf, n, "%llu", (unsigned long long)v); }

/* The optimizer settings a checkpoint records as metadata: key i (0 <= i <
 * N_OPTIM_META) and its value for sp, written into buf (32 chars) when a number. */
enum { N_OPTIM_META = 3 };
static const char *optim_meta(const nde_optim_spec *sp, int i, char *buf, const char **key)
{
    static const char *const keys[N_OPTIM_META] = {"optim.kind", "optim.state_bits",
                                                   "optim.block_size"};
    *key = keys[i];
    if (i == 0) return nde_optim_kind_name(sp->kind);
    fmt_u64(buf, 32, i == 1 ? (uint64_t)sp->state_bits : (uint64_t)sp->block_size);
    return buf;
}

/* The file dtype of an optimizer state array. */
static nde_st_dtype state_dtype(const nde_optim_state_view *v)
{
    return v->dtype == NDE_OPTIM_U8 ? NDE_ST_U8 : NDE_ST_F64;
}

static nde_status add_optim(nde_st_writer *w, nde_optim *opt, uint64_t *step, double *lr)
{
    const nde_optim_spec *sp = nde_optim_get_spec(opt);
    char buf[32];
    for (int i = 0; i < N_OPTIM_META; i++) {
        const char *key, *value = optim_meta(sp, i, buf, &key);
        NDE_TRY(nde_st_writer_meta(w, key, value));
    }
    const size_t n = nde_optim_n_state(opt);
    for (size_t i = 0; i < n; i++) {
        nde_optim_state_view v;
        NDE_TRY(nde_optim_state(opt, i, &v));
        NDE_TRY(nde_st_writer_add(w, v.name, state_dtype(&v), v.ndim, v.shape, v.data));
    }
    *step = nde_optim_step_count(opt);
    *lr = nde_optim_lr(opt);
    NDE_TRY(nde_st_writer_add(w, "optim.step", NDE_ST_U64, 1, one, step));
    return nde_st_writer_add(w, "optim.lr", NDE_ST_F64, 1, one, lr);
}

static nde_status add_train(nde_st_writer *w, const nde_train_state *ts, int32_t *has_spare)
{
    *has_spare = ts->rng.has_spare ? 1 : 0;
    NDE_TRY(nde_st_writer_add(w, "train.step", NDE_ST_U64, 1, one, &ts->step));
    NDE_TRY(nde_st_writer_add(w, "train.rng.s", NDE_ST_U64, 1, four, ts->rng.s));
    NDE_TRY(nde_st_writer_add(w, "train.rng.spare_normal", NDE_ST_F64, 1, one,
                              &ts->rng.spare_normal));
    return nde_st_writer_add(w, "train.rng.has_spare", NDE_ST_I32, 1, one, has_spare);
}

static size_t extra_numel(const nde_checkpoint_extra *e)
{
    return e->ndim == 1 ? e->shape[0] : e->shape[0] * e->shape[1];
}

/* Extras are "train.<…>" tensors other than the fixed train entries, 1-D or 2-D. */
static int is_train_name(const char *name);
static nde_status check_extras(const nde_checkpoint_extra *extra, size_t n_extra, const char *fn)
{
    for (size_t i = 0; i < n_extra; i++) {
        const nde_checkpoint_extra *e = &extra[i];
        if (!e->name || strncmp(e->name, "train.", 6) != 0 || is_train_name(e->name) ||
            (e->ndim != 1 && e->ndim != 2) || nde_st_dtype_size(e->dtype) == 0 ||
            (extra_numel(e) && !e->data))
            return NDE_FAIL(NDE_ERR_ARG, "%s: extra tensor %zu ('%s') needs a free train.* name, "
                            "1 or 2 dimensions, a known dtype and data", fn, i,
                            e->name ? e->name : "(null)");
    }
    return NDE_OK;
}

static nde_status fill_writer(nde_st_writer *w, const nde_params *params, nde_optim *opt,
                              const nde_train_state *ts, uint64_t *opt_step, double *opt_lr,
                              int32_t *has_spare)
{
    NDE_TRY(nde_st_writer_meta(w, "format", CKPT_FORMAT));
    NDE_TRY(nde_st_writer_meta(w, "format_version", CKPT_VERSION));
    const double *theta = nde_params_theta_const(params);
    for (size_t i = 0; i < nde_params_n_tensors(params); i++) {
        const nde_tensor_info *t = nde_params_tensor(params, i);
        NDE_TRY(nde_st_writer_add(w, t->name, NDE_ST_F64, t->ndim, t->shape, theta + t->offset));
    }
    if (opt) NDE_TRY(add_optim(w, opt, opt_step, opt_lr));
    if (ts) NDE_TRY(add_train(w, ts, has_spare));
    return NDE_OK;
}

nde_status nde_checkpoint_save(const char *path, const nde_params *params, nde_optim *opt,
                               const nde_train_state *ts)
{
    if (!path || !params) return NDE_FAIL(NDE_ERR_ARG, "nde_checkpoint_save: NULL path or params");
    return nde_checkpoint_save_extra(path, params, opt, ts, NULL, 0);
}

nde_status nde_checkpoint_save_extra(const char *path, const nde_params *params, nde_optim *opt,
                                     const nde_train_state *ts,
                                     const nde_checkpoint_extra *extra, size_t n_extra)
{
    return nde_checkpoint_write(path, params, opt, ts, extra, n_extra, NULL);
}

nde_status nde_checkpoint_write(const char *path, const nde_params *params, nde_optim *opt,
                                const nde_train_state *ts, const nde_checkpoint_extra *extra,
                                size_t n_extra, const char *const *meta)
{
    if (!path || !params || (n_extra && (!extra || !ts)))
        return NDE_FAIL(NDE_ERR_ARG, "nde_checkpoint_save_extra: NULL path, params, extras or ts");
    NDE_TRY(check_extras(extra, n_extra, "nde_checkpoint_save_extra"));
    for (size_t i = 0; meta && meta[i]; i += 2)
        if (!meta[i + 1] || !strcmp(meta[i], "format") || !strcmp(meta[i], "format_version") ||
            !strncmp(meta[i], "optim.", 6))
            return NDE_FAIL(NDE_ERR_ARG, "checkpoint '%s': metadata key '%s' %s", path, meta[i],
                            meta[i + 1] ? "is the checkpoint's own" : "has no value");
    nde_st_writer *w = NULL;
    NDE_TRY(nde_st_writer_create(&w));
    uint64_t opt_step = 0;
    double opt_lr = 0.0;
    int32_t has_spare = 0;
    nde_status st = fill_writer(w, params, opt, ts, &opt_step, &opt_lr, &has_spare);
    for (size_t i = 0; i < n_extra && st == NDE_OK; i++)
        st = nde_st_writer_add(w, extra[i].name, extra[i].dtype, extra[i].ndim, extra[i].shape,
                               extra[i].data);
    for (size_t i = 0; meta && meta[i] && st == NDE_OK; i += 2)
        st = nde_st_writer_meta(w, meta[i], meta[i + 1]);
    if (st == NDE_OK) st = nde_st_writer_write(w, path);
    nde_st_writer_destroy(&w);
    return st;
}

/* ---- loading ---- */

static void fmt_shape(char *buf, size_t n, int ndim, const size_t *shape)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ", %zu" : "%zu", shape[d]);
    if (k < n) snprintf(buf + k, n - k, ")");
}

/* The tensor `name` with dtype `dtype` (or `alt`, unless NDE_ST_DTYPE_COUNT) and the
 * given shape, or NDE_ERR_FORMAT saying what differs. */
static nde_status expect(const nde_st_file *f, const char *name, nde_st_dtype dtype,
                         nde_st_dtype alt, int ndim, const size_t *shape, const nde_st_tensor **out)
{
    const nde_st_tensor *t = nde_st_find(f, name);
    char want[160], got[160];
    fmt_shape(want, sizeof want, ndim, shape);
    if (!t)
        return NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': missing tensor '%s' (%s %s)",
                        nde_st_label(f), name, nde_st_dtype_name(dtype), want);
    int same = t->ndim == ndim && (t->dtype == dtype || t->dtype == alt);
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        fmt_shape(got, sizeof got, t->ndim, t->shape);
        return NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': tensor '%s' is %s %s, expected %s %s",
                        nde_st_label(f), name, nde_st_dtype_name(t->dtype), got,
                        nde_st_dtype_name(dtype), want);
    }
    *out = t;
    return NDE_OK;
}

static nde_status expect_meta(const nde_st_file *f, const char *key, const char *want)
{
    const char *got = nde_st_meta(f, key);
    if (!got || strcmp(got, want) != 0)
        return NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': metadata %s is '%s', expected '%s'",
                        nde_st_label(f), key, got ? got : "(absent)", want);
    return NDE_OK;
}

static double read_f64(const void *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}

static nde_status check_optim(const nde_st_file *f, nde_optim *opt)
{
    const nde_optim_spec *sp = nde_optim_get_spec(opt);
    char buf[32];
    for (int i = 0; i < N_OPTIM_META; i++) {
        const char *key, *value = optim_meta(sp, i, buf, &key);
        NDE_TRY(expect_meta(f, key, value));
    }
    const nde_st_tensor *t;
    for (size_t i = 0; i < nde_optim_n_state(opt); i++) {
        nde_optim_state_view v;
        NDE_TRY(nde_optim_state(opt, i, &v));
        NDE_TRY(expect(f, v.name, state_dtype(&v), NDE_ST_DTYPE_COUNT, v.ndim, v.shape, &t));
    }
    NDE_TRY(expect(f, "optim.step", NDE_ST_U64, NDE_ST_DTYPE_COUNT, 1, one, &t));
    NDE_TRY(expect(f, "optim.lr", NDE_ST_F64, NDE_ST_DTYPE_COUNT, 1, one, &t));
    const double lr = read_f64(t->data);
    if (!(isfinite(lr) && lr >= 0.0))
        return NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': optim.lr is %g", nde_st_label(f), lr);
    return NDE_OK;
}

static nde_status check_train(const nde_st_file *f)
{
    const nde_st_tensor *t;
    NDE_TRY(expect(f, "train.step", NDE_ST_U64, NDE_ST_DTYPE_COUNT, 1, one, &t));
    NDE_TRY(expect(f, "train.rng.s", NDE_ST_U64, NDE_ST_DTYPE_COUNT, 1, four, &t));
    NDE_TRY(expect(f, "train.rng.spare_normal", NDE_ST_F64, NDE_ST_DTYPE_COUNT, 1, one, &t));
    NDE_TRY(expect(f, "train.rng.has_spare", NDE_ST_I32, NDE_ST_DTYPE_COUNT, 1, one, &t));
    int32_t hs;
    memcpy(&hs, t->data, sizeof hs);
    if (hs != 0 && hs != 1)
        return NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': train.rng.has_spare is %d (0 or 1)",
                        nde_st_label(f), (int)hs);
    return NDE_OK;
}

static int is_optim_name(nde_optim *opt, const char *name)
{
    if (strcmp(name, "optim.step") == 0 || strcmp(name, "optim.lr") == 0) return 1;
    for (size_t i = 0; i < nde_optim_n_state(opt); i++) {
        nde_optim_state_view v;
        if (nde_optim_state(opt, i, &v) == NDE_OK && strcmp(v.name, name) == 0) return 1;
    }
    return 0;
}

static int is_train_name(const char *name)
{
    return strcmp(name, "train.step") == 0 || strcmp(name, "train.rng.s") == 0 ||
           strcmp(name, "train.rng.spare_normal") == 0 || strcmp(name, "train.rng.has_spare") == 0;
}

/* Every tensor in the file must be one the call restores or deliberately skips. */
static int is_extra_name(const nde_checkpoint_extra *extra, size_t n_extra, const char *name)
{
    for (size_t i = 0; i < n_extra; i++)
        if (strcmp(extra[i].name, name) == 0) return 1;
    return 0;
}

static nde_status check_unknown(const nde_st_file *f, const nde_params *params, nde_optim *opt,
                                const nde_train_state *ts, const nde_checkpoint_extra *extra,
                                size_t n_extra)
{
    for (size_t i = 0; i < nde_st_n_tensors(f); i++) {
        const char *name = nde_st_tensor_at(f, i)->name;
        if (nde_params_find(params, name) || is_extra_name(extra, n_extra, name)) continue;
        const int is_opt = strncmp(name, "optim.", 6) == 0;
        const int is_train = strncmp(name, "train.", 6) == 0;
        if ((is_opt && (!opt || is_optim_name(opt, name))) ||
            (is_train && (!ts || is_train_name(name))))
            continue;
        return NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': tensor '%s' matches nothing in the model%s",
                        nde_st_label(f), name, is_opt ? " (different optimizer settings?)" : "");
    }
    return NDE_OK;
}

/* A parameter tensor with NaN or Inf would only fail much later, in a loss far from
 * the file that caused it: reject it here, naming both. */
static nde_status check_finite(const nde_st_file *f, const nde_st_tensor *t)
{
    const unsigned char *src = t->data;
    for (size_t j = 0; j < t->numel; j++) {
        double v;
        if (t->dtype == NDE_ST_F64) {
            memcpy(&v, src + 8 * j, sizeof v);
        } else {
            float x;
            memcpy(&x, src + 4 * j, sizeof x);
            v = (double)x;
        }
        if (!isfinite(v))
            return NDE_FAIL(NDE_ERR_NONFINITE, "checkpoint '%s': tensor '%s' holds %g at index %zu",
                            nde_st_label(f), t->name, v, j);
    }
    return NDE_OK;
}

static nde_status validate(const nde_st_file *f, nde_params *params, nde_optim *opt,
                           const nde_train_state *ts, const nde_checkpoint_extra *extra,
                           size_t n_extra)
{
    const nde_st_tensor *t;
    for (size_t i = 0; i < nde_params_n_tensors(params); i++) {
        const nde_tensor_info *p = nde_params_tensor(params, i);
        NDE_TRY(expect(f, p->name, NDE_ST_F64, NDE_ST_F32, p->ndim, p->shape, &t));
        NDE_TRY(check_finite(f, t));
    }
    if (opt) NDE_TRY(check_optim(f, opt));
    if (ts) NDE_TRY(check_train(f));
    for (size_t i = 0; i < n_extra; i++)
        NDE_TRY(expect(f, extra[i].name, extra[i].dtype, NDE_ST_DTYPE_COUNT, extra[i].ndim,
                       extra[i].shape, &t));
    return check_unknown(f, params, opt, ts, extra, n_extra);
}

/* Copy after validation: nothing here can fail. */
static void restore(const nde_st_file *f, nde_params *params, nde_optim *opt, nde_train_state *ts)
{
    double *theta = nde_params_theta(params);
    for (size_t i = 0; i < nde_params_n_tensors(params); i++) {
        const nde_tensor_info *p = nde_params_tensor(params, i);
        const nde_st_tensor *t = nde_st_find(f, p->name);
        if (t->dtype == NDE_ST_F64) {
            memcpy(theta + p->offset, t->data, t->nbytes);
        } else {
            const unsigned char *src = t->data;
            for (size_t j = 0; j < t->numel; j++) {
                float v;
                memcpy(&v, src + 4 * j, sizeof v);
                theta[p->offset + j] = (double)v;
            }
        }
    }
    if (opt) {
        for (size_t i = 0; i < nde_optim_n_state(opt); i++) {
            nde_optim_state_view v;
            nde_optim_state(opt, i, &v);
            const nde_st_tensor *t = nde_st_find(f, v.name);
            memcpy(v.data, t->data, t->nbytes);
        }
        uint64_t step;
        memcpy(&step, nde_st_find(f, "optim.step")->data, sizeof step);
        nde_optim_restore(opt, step, read_f64(nde_st_find(f, "optim.lr")->data));
    }
    if (ts) {
        memcpy(&ts->step, nde_st_find(f, "train.step")->data, sizeof ts->step);
        memcpy(ts->rng.s, nde_st_find(f, "train.rng.s")->data, sizeof ts->rng.s);
        ts->rng.spare_normal = read_f64(nde_st_find(f, "train.rng.spare_normal")->data);
        int32_t hs;
        memcpy(&hs, nde_st_find(f, "train.rng.has_spare")->data, sizeof hs);
        ts->rng.has_spare = hs;
    }
}

nde_status nde_checkpoint_load(const char *path, nde_params *params, nde_optim *opt,
                               nde_train_state *ts)
{
    if (!path || !params) return NDE_FAIL(NDE_ERR_ARG, "nde_checkpoint_load: NULL path or params");
    return nde_checkpoint_load_extra(path, params, opt, ts, NULL, 0);
}

nde_status nde_checkpoint_load_extra(const char *path, nde_params *params, nde_optim *opt,
                                     nde_train_state *ts, const nde_checkpoint_extra *extra,
                                     size_t n_extra)
{
    if (!path || !params || (n_extra && (!extra || !ts)))
        return NDE_FAIL(NDE_ERR_ARG, "nde_checkpoint_load_extra: NULL path, params, extras or ts");
    NDE_TRY(check_extras(extra, n_extra, "nde_checkpoint_load_extra"));
    nde_st_file *f = NULL;
    NDE_TRY(nde_st_open(path, &f));
    nde_status st = validate(f, params, opt, ts, extra, n_extra);
    if (st == NDE_OK) {
        restore(f, params, opt, ts);
        for (size_t i = 0; i < n_extra; i++) {
            const nde_st_tensor *t = nde_st_find(f, extra[i].name);
            if (t->nbytes) memcpy(extra[i].data, t->data, t->nbytes);
        }
    }
    nde_st_close(&f);
    return st;
}
