/* The trainer's checkpoints (θ, optimizer, generator, position, sample order, history)
 * and its JSON-lines metrics file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fault.h"
#include "nde/checkpoint.h"
#include "nde/safetensors.h"
#include "io/checkpoint_internal.h"
#include "train/trainer_internal.h"

nde_status nde_trainer_hist_push(nde_trainer *tr, const double row[HIST_COLS], double test_ema)
{
    if (tr->epoch >= tr->hist_cap) {
        const size_t cap = tr->hist_cap ? 2 * tr->hist_cap : 16;
        double *h = nde_alloc_array(cap * HIST_COLS, sizeof *h);
        double *he = tr->ema ? nde_alloc_array(cap, sizeof *he) : NULL;
        if (!h || (tr->ema && !he)) {
            nde_free(h), nde_free(he);
            return NDE_FAIL(NDE_ERR_NOMEM, "trainer: no room for %zu history rows", cap);
        }
        if (tr->hist) memcpy(h, tr->hist, tr->epoch * HIST_COLS * sizeof *h);
        if (tr->hist_ema) memcpy(he, tr->hist_ema, tr->epoch * sizeof *he);
        nde_free(tr->hist);
        nde_free(tr->hist_ema);
        tr->hist = h;
        tr->hist_ema = he;
        tr->hist_cap = cap;
    }
    memcpy(tr->hist + tr->epoch * HIST_COLS, row, HIST_COLS * sizeof *row);
    if (tr->hist_ema) tr->hist_ema[tr->epoch] = test_ema;
    return NDE_OK;
}

/* ---- checkpoints ---- */

enum { X_EPOCH, X_EPOCH_STEP, X_N, X_STREAM, X_ACC, X_PERM, X_HIST, X_EMA, X_EMA_N, X_HIST_EMA,
       X_COUNT };

/* The moving average's tensors in a checkpoint: the average (np), its update count and
 * (with rows) its test metrics per epoch. */
typedef struct ema_extra {
    double *ema;
    size_t np;
    uint64_t *updates;
    double *hist;
} ema_extra;

/* The extra tensors of a trainer checkpoint over the given buffers (the history only
 * when it has rows; the order only for ordered sampling modes; the moving average when
 * e->ema is set). */
static size_t extras(nde_checkpoint_extra *x, uint64_t *pos, double *acc, uint64_t *perm,
                     size_t n, int with_perm, double *hist, size_t rows, const ema_extra *e)
{
    size_t k = 0;
    x[k++] = (nde_checkpoint_extra){"train.epoch", NDE_ST_U64, 1, {1, 0}, &pos[0]};
    x[k++] = (nde_checkpoint_extra){"train.epoch_step", NDE_ST_U64, 1, {1, 0}, &pos[1]};
    x[k++] = (nde_checkpoint_extra){"train.n", NDE_ST_U64, 1, {1, 0}, &pos[2]};
    x[k++] = (nde_checkpoint_extra){"train.stream_pos", NDE_ST_U64, 1, {1, 0}, &pos[3]};
    x[k++] = (nde_checkpoint_extra){"train.acc", NDE_ST_F64, 1, {3, 0}, acc};
    if (with_perm) x[k++] = (nde_checkpoint_extra){"train.perm", NDE_ST_U64, 1, {n, 0}, perm};
    if (rows) x[k++] = (nde_checkpoint_extra){"train.history", NDE_ST_F64, 2, {rows, HIST_COLS}, hist};
    if (e->ema) {
        x[k++] = (nde_checkpoint_extra){"train.ema", NDE_ST_F64, 1, {e->np, 0}, e->ema};
        x[k++] = (nde_checkpoint_extra){"train.ema_updates", NDE_ST_U64, 1, {1, 0}, e->updates};
        if (rows)
            x[k++] = (nde_checkpoint_extra){"train.history_ema", NDE_ST_F64, 1, {rows, 0}, e->hist};
    }
    return k;
}

static int with_perm(const nde_trainer *tr) { return tr->spec.sampling != NDE_SAMPLE_RANDOM; }

static nde_status save_file(nde_trainer *tr);

/* Data parallel: rank 0 alone writes (the checkpoint holds no rank-dependent state) and
 * every rank learns how it went. */
nde_status nde_trainer_save(nde_trainer *tr)
{
    const nde_status st = tr->rank == 0 ? save_file(tr) : NDE_OK;
    return nde_trainer_share_status(tr, st, "writing the checkpoint");
}

static nde_status save_file(nde_trainer *tr)
{
    const size_t n = tr->train.n;
    uint64_t pos[4] = {tr->epoch, tr->epoch_step, n, tr->stream_pos};
    double acc[3] = {tr->acc_loss, tr->acc_samples, tr->epoch_seconds};
    uint64_t *perm = with_perm(tr) ? nde_alloc_array(n, sizeof *perm) : NULL;
    if (with_perm(tr) && !perm) return NDE_FAIL(NDE_ERR_NOMEM, "trainer: checkpoint buffers");
    for (size_t i = 0; perm && i < n; i++) perm[i] = tr->perm[i];
    nde_checkpoint_extra x[X_COUNT];
    uint64_t updates = tr->ema_updates;
    const ema_extra e = {tr->ema, nde_model_n_params(tr->model), &updates, tr->hist_ema};
    const size_t k = extras(x, pos, acc, perm, n, with_perm(tr), tr->hist, tr->epoch, &e);
    const nde_train_state ts = {.step = tr->step, .rng = tr->rng};
    nde_status st = nde_checkpoint_write(tr->spec.checkpoint_path, nde_model_params(tr->model),
                                         tr->optim, &ts, x, k, tr->spec.checkpoint_meta);
    nde_free(perm);
    return st;
}

static uint64_t read_u64(const nde_st_tensor *t)
{
    uint64_t v;
    memcpy(&v, t->data, sizeof v);
    return v;
}

/* What the checkpoint says about the run, checked against this trainer before anything
 * is loaded: data size, epoch and position in range, the history's length. */
static nde_status peek(nde_trainer *tr, const char *path, size_t *epoch, size_t *rows)
{
    nde_st_file *f = NULL;
    NDE_TRY(nde_st_open(path, &f));
    const char *need[] = {"train.epoch", "train.epoch_step", "train.n"};
    uint64_t v[3] = {0, 0, 0};
    nde_status st = NDE_OK;
    for (int i = 0; i < 3 && st == NDE_OK; i++) {
        const nde_st_tensor *t = nde_st_find(f, need[i]);
        if (!t || t->dtype != NDE_ST_U64 || t->numel != 1)
            st = NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': no trainer position (%s); was it "
                          "written by nde_trainer?", path, need[i]);
        else
            v[i] = read_u64(t);
    }
    if (st == NDE_OK && v[2] != tr->train.n)
        st = NDE_FAIL(NDE_ERR_ARG, "checkpoint '%s' was written for %llu training samples, this "
                      "run has %zu", path, (unsigned long long)v[2], tr->train.n);
    if (st == NDE_OK && (v[0] > tr->spec.epochs || v[1] >= tr->steps_per_epoch))
        st = NDE_FAIL(NDE_ERR_ARG, "checkpoint '%s' is at epoch %llu step %llu, beyond this run's "
                      "%zu epochs of %zu steps", path, (unsigned long long)v[0],
                      (unsigned long long)v[1], tr->spec.epochs, tr->steps_per_epoch);
    const nde_st_tensor *h = st == NDE_OK ? nde_st_find(f, "train.history") : NULL;
    *rows = h && h->ndim == 2 ? h->shape[0] : 0;
    if (st == NDE_OK && *rows != v[0])
        st = NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': %zu history rows for %llu epochs", path,
                      *rows, (unsigned long long)v[0]);
    *epoch = (size_t)v[0];
    nde_st_close(&f);
    return st;
}

/* The saved order must be a permutation of 0..n−1 (it indexes the data). */
static nde_status check_perm(const uint64_t *perm, size_t n, const char *path)
{
    unsigned char *seen = nde_alloc(n ? n : 1);
    if (!seen) return NDE_ERR_NOMEM;
    nde_status st = NDE_OK;
    for (size_t i = 0; i < n && st == NDE_OK; i++) {
        if (perm[i] >= n || seen[perm[i]])
            st = NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': train.perm is not a permutation "
                          "(entry %zu = %llu)", path, i, (unsigned long long)perm[i]);
        else
            seen[perm[i]] = 1;
    }
    nde_free(seen);
    return st;
}

static nde_status resume_file(nde_trainer *tr, const char *path);

/* Data parallel: every rank reads the checkpoint; all go on only if all succeeded. */
nde_status nde_trainer_resume(nde_trainer *tr, const char *path)
{
    if (!tr || !path) return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_resume: NULL argument");
    const nde_status st = resume_file(tr, path);
    if (nde_trainer_any(tr, st != NDE_OK) && st == NDE_OK)
        return NDE_FAIL(NDE_ERR_IO, "%s: resuming from '%s' failed on another rank (its message "
                        "is on that rank's stderr)", tr->spec.name, path);
    NDE_TRY(st);
    return nde_trainer_write_metrics(tr, 1); /* the file becomes the checkpoint's history */
}

static nde_status resume_file(nde_trainer *tr, const char *path)
{
    size_t epoch, rows;
    NDE_TRY(peek(tr, path, &epoch, &rows));
    const size_t n = tr->train.n;
    uint64_t pos[4];
    double acc[3];
    uint64_t *perm = with_perm(tr) ? nde_alloc_array(n, sizeof *perm) : NULL;
    double *hist = rows ? nde_alloc_array(rows * HIST_COLS, sizeof *hist) : NULL;
    const size_t np = nde_model_n_params(tr->model);
    uint64_t updates = 0;
    ema_extra e = {NULL, np, &updates, NULL};
    if (tr->ema) {
        e.ema = nde_alloc_array(np, sizeof *e.ema);
        e.hist = rows ? nde_alloc_array(rows, sizeof *e.hist) : NULL;
    }
    nde_status st = (with_perm(tr) && !perm) || (rows && !hist) ? NDE_ERR_NOMEM : NDE_OK;
    if (tr->ema && (!e.ema || (rows && !e.hist))) st = NDE_ERR_NOMEM;
    /* Nothing may change on error: first a dry run into a throw-away store of the same
     * tensors, which reads and validates the trainer's own entries (order, history,
     * accumulators); only then θ and the optimizer are restored for real. */
    nde_params *p = nde_model_params(tr->model), *probe = NULL;
    if (st == NDE_OK) st = nde_params_create(&probe);
    for (size_t i = 0; st == NDE_OK && i < nde_params_n_tensors(p); i++) {
        const nde_tensor_info *t = nde_params_tensor(p, i);
        st = nde_params_add(probe, t->name, t->ndim, t->shape, t->group, NULL);
    }
    nde_checkpoint_extra x[X_COUNT];
    const size_t k = extras(x, pos, acc, perm, n, with_perm(tr), hist, rows, &e);
    nde_train_state ts;
    if (st == NDE_OK) st = nde_checkpoint_load_extra(path, probe, NULL, &ts, x, k);
    if (st == NDE_OK && perm) st = check_perm(perm, n, path);
    for (size_t i = 0; st == NDE_OK && e.ema && i < np; i++)
        if (!isfinite(e.ema[i]))
            st = NDE_FAIL(NDE_ERR_NONFINITE, "checkpoint '%s': train.ema[%zu] is %g", path, i,
                          e.ema[i]);
    if (st == NDE_OK && pos[3] > n)
        st = NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': train.stream_pos %llu > %zu samples", path,
                      (unsigned long long)pos[3], n);
    if (st == NDE_OK && !(acc[1] >= 0.0 && acc[1] <= (double)n * (double)tr->steps_per_epoch))
        st = NDE_FAIL(NDE_ERR_FORMAT, "checkpoint '%s': train.acc holds %g samples", path, acc[1]);
    if (st == NDE_OK) st = nde_checkpoint_load_extra(path, p, tr->optim, &ts, x, k);
    if (st == NDE_OK) {
        tr->epoch = epoch;
        tr->epoch_step = (size_t)pos[1];
        tr->stream_pos = (size_t)pos[3];
        tr->step = (size_t)ts.step;
        tr->rng = ts.rng;
        tr->acc_loss = acc[0];
        tr->acc_samples = acc[1];
        tr->epoch_seconds = acc[2];
        for (size_t i = 0; perm && i < n; i++) tr->perm[i] = (size_t)perm[i];
        nde_free(tr->hist);
        tr->hist = hist;
        tr->hist_cap = rows;
        hist = NULL;
        if (rows) {
            tr->last_train = tr->hist[(rows - 1) * HIST_COLS + HIST_TRAIN];
            tr->last_test = tr->hist[(rows - 1) * HIST_COLS + HIST_TEST];
        }
        if (tr->ema) {
            memcpy(tr->ema, e.ema, np * sizeof *tr->ema);
            tr->ema_updates = updates;
            nde_free(tr->hist_ema);
            tr->hist_ema = e.hist;
            e.hist = NULL;
            tr->last_test_ema = rows ? tr->hist_ema[rows - 1] : NAN;
        }
    }
    nde_params_destroy(&probe);
    nde_free(perm);
    nde_free(hist);
    nde_free(e.ema);
    nde_free(e.hist);
    return st;
}

/* ---- metrics (JSON lines) ---- */

static void json_num(FILE *f, const char *key, double v, const char *sep)
{
    if (isfinite(v)) fprintf(f, "\"%s\": %.10g%s", key, v, sep);
    else fprintf(f, "\"%s\": null%s", key, sep);
}

/* History row r as one JSON line (test_metric_ema only when the run keeps an average). */
static void write_row(FILE *f, const nde_trainer *tr, size_t row)
{
    const double *r = tr->hist + row * HIST_COLS;
    fprintf(f, "{\"epoch\": %.0f, \"step\": %.0f, ", r[HIST_EPOCH], r[HIST_STEP]);
    json_num(f, "lr", r[HIST_LR], ", ");
    json_num(f, "train_loss", r[HIST_TRAIN], ", ");
    json_num(f, "test_metric", r[HIST_TEST], ", ");
    if (tr->hist_ema) json_num(f, "test_metric_ema", tr->hist_ema[row], ", ");
    json_num(f, "train_seconds", r[HIST_TRAIN_SECONDS], ", ");
    json_num(f, "seconds", r[HIST_SECONDS], "}\n");
}

static nde_status io_fail(const char *what, const char *path, int err)
{
    return NDE_FAIL(NDE_ERR_IO, "trainer: cannot %s metrics file '%s': %s", what, path, strerror(err));
}

static nde_status write_metrics_file(nde_trainer *tr, int rewrite);

/* Data parallel: rank 0 alone writes; every rank learns how it went. */
nde_status nde_trainer_write_metrics(nde_trainer *tr, int rewrite)
{
    if (!tr->spec.metrics_path) return NDE_OK;
    const nde_status st = tr->rank == 0 ? write_metrics_file(tr, rewrite) : NDE_OK;
    return nde_trainer_share_status(tr, st, "writing the metrics file");
}

static nde_status write_metrics_file(nde_trainer *tr, int rewrite)
{
    const char *path = tr->spec.metrics_path;
    if (!rewrite) {
        FILE *f = nde_fault_fopen(path, tr->epoch <= 1 ? "w" : "a");
        if (!f) return io_fail("open", path, errno);
        write_row(f, tr, tr->epoch - 1);
        return fclose(f) == 0 ? NDE_OK : io_fail("write", path, errno);
    }
    /* resume: the file becomes exactly the checkpoint's history (lines written after the
     * checkpoint by an interrupted run are dropped), replaced atomically */
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return NDE_FAIL(NDE_ERR_ARG, "trainer: metrics path too long: %s", path);
    FILE *f = nde_fault_fopen(tmp, "w");
    if (!f) return io_fail("create", tmp, errno);
    for (size_t r = 0; r < tr->epoch; r++) write_row(f, tr, r);
    if (fclose(f) != 0) {
        remove(tmp);
        return io_fail("write", tmp, errno);
    }
    if (nde_fault_rename(tmp, path) != 0) {
        const int err = errno;
        remove(tmp);
        return io_fail("replace", path, err);
    }
    return NDE_OK;
}
