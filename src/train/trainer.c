/* The trainer: one loop for every model (nde/trainer.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/trainer_internal.h"

nde_trainer_spec nde_trainer_defaults(void)
{
    return (nde_trainer_spec){.epochs = 1, .optim = nde_optim_defaults(NDE_OPT_ADAM),
                              .sampling = NDE_SAMPLE_SHUFFLE, .eval_every = 1, .progress = -1,
                              .name = "train"};
}

static nde_status check_data(const nde_data *d, const nde_model *m, size_t target_size,
                             const char *which)
{
    if (d->n == 0 || (!d->fetch && (!d->x || !d->y)))
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: %s data has %zu samples%s", which, d->n,
                        d->fetch ? "" : " or NULL arrays");
    const size_t ys = target_size ? target_size : nde_model_out_size(m);
    if (d->x_size != nde_model_in_size(m) || d->y_size != ys)
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "nde_trainer_create: %s data has samples of (%zu → %zu) values, model "
                        "'%s' maps %zu values to predictions compared with %zu target values",
                        which, d->x_size, d->y_size, nde_model_kind(m), nde_model_in_size(m), ys);
    return NDE_OK;
}

static nde_status check_spec(const nde_trainer_spec *s, const nde_data *train)
{
    if (s->batch == 0 || s->epochs == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: batch %zu, epochs %zu (need > 0)",
                        s->batch, s->epochs);
    if (!s->loss.fn) return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: no loss function");
    if ((int)s->sampling < NDE_SAMPLE_SHUFFLE || s->sampling > NDE_SAMPLE_STREAM)
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: unknown sampling %d", (int)s->sampling);
    const int per_step = s->sampling == NDE_SAMPLE_RANDOM || s->sampling == NDE_SAMPLE_STREAM;
    if (per_step && s->steps_per_epoch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: random and stream sampling need "
                        "steps_per_epoch > 0");
    if (s->sampling == NDE_SAMPLE_RANDOM && s->batch > train->n)
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: random batches of %zu from %zu samples",
                        s->batch, train->n);
    if (!per_step && s->drop_last && train->n < s->batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: drop_last with %zu samples < batch %zu",
                        train->n, s->batch);
    if (!(s->clip_grad_norm >= 0.0) || !isfinite(s->clip_grad_norm))
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: clip_grad_norm %g", s->clip_grad_norm);
    if (!(s->ema_decay >= 0.0 && s->ema_decay < 1.0))
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: ema_decay %g (need 0 <= decay < 1; 0: "
                        "no moving average)", s->ema_decay);
    const int sched_default = s->schedule.kind == NDE_SCHED_CONSTANT && s->schedule.v0 == 0.0 &&
                              s->schedule.warmup == 0;
    return sched_default ? NDE_OK : nde_schedule_check(&s->schedule);
}

static nde_status grow_buffers(nde_trainer *tr, size_t batch)
{
    if (batch <= tr->buf_batch) return NDE_OK;
    const size_t xs = tr->train.x_size, ys = tr->train.y_size, os = nde_model_out_size(tr->model);
    nde_free(tr->xb), nde_free(tr->yb), nde_free(tr->pred), nde_free(tr->grad), nde_free(tr->idx);
    tr->xb = nde_alloc_array(batch * xs, sizeof(double));
    tr->yb = nde_alloc_array(batch * ys, sizeof(double));
    tr->pred = nde_alloc_array(batch * os, sizeof(double));
    tr->grad = nde_alloc_array(batch * os, sizeof(double));
    tr->idx = nde_alloc_array(batch, sizeof(size_t));
    tr->buf_batch = batch;
    if (!tr->xb || !tr->yb || !tr->pred || !tr->grad || !tr->idx) {
        tr->buf_batch = 0;
        return NDE_FAIL(NDE_ERR_NOMEM, "trainer: no room for batch buffers of %zu samples", batch);
    }
    return NDE_OK;
}

nde_status nde_trainer_create(nde_model *model, const nde_data *train, const nde_data *test,
                              const nde_trainer_spec *spec, nde_trainer **out)
{
    if (!model || !train || !spec || !out)
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: NULL argument");
    *out = NULL;
    NDE_TRY(check_spec(spec, train));
    NDE_TRY(check_data(train, model, spec->loss.target_size, "training"));
    const nde_loss *ev = spec->eval.fn ? &spec->eval : &spec->loss;
    if (test) NDE_TRY(check_data(test, model, ev->target_size, "test"));
    nde_trainer *tr = nde_alloc(sizeof *tr);
    if (!tr) return NDE_ERR_NOMEM;
    tr->model = model;
    tr->rank = 0, tr->size = 1;
#if NDE_HAVE_MPI
    tr->comm = MPI_COMM_NULL;
#endif
    tr->train = *train;
    if (test) tr->test = *test, tr->has_test = 1;
    tr->spec = *spec;
    if (!tr->spec.eval.fn) tr->spec.eval = tr->spec.loss;
    if (!tr->spec.eval_batch) tr->spec.eval_batch = spec->batch;
    if (spec->checkpoint_path && !tr->spec.checkpoint_every) tr->spec.checkpoint_every = 1;
    if (!tr->spec.name) tr->spec.name = "train";
    if (spec->use_rng) tr->rng = spec->rng;
    else nde_rng_seed(&tr->rng, spec->seed);
    const size_t n = train->n, b = spec->batch;
    const int per_step = spec->sampling == NDE_SAMPLE_RANDOM || spec->sampling == NDE_SAMPLE_STREAM;
    tr->steps_per_epoch = per_step          ? spec->steps_per_epoch
                          : spec->drop_last ? n / b
                                            : (n + b - 1) / b;
    tr->stream_pos = n; /* the stream's first pass starts with a shuffle */
    const size_t per_epoch = tr->steps_per_epoch;
    if (per_epoch && spec->epochs > SIZE_MAX / per_epoch) {
        nde_free(tr);
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_create: %zu epochs of %zu steps overflow a "
                        "step count", spec->epochs, per_epoch);
    }
    tr->last_train = tr->last_test = tr->last_test_ema = NAN;
    tr->perm = nde_alloc_array(n, sizeof *tr->perm);
    nde_status st = tr->perm ? NDE_OK : NDE_ERR_NOMEM;
    const size_t np = nde_model_n_params(model);
    if (st == NDE_OK && spec->ema_decay > 0.0) {
        tr->ema = nde_alloc_array(np ? np : 1, sizeof *tr->ema);
        if (!tr->ema) st = NDE_FAIL(NDE_ERR_NOMEM, "trainer: moving average of %zu parameters", np);
        else if (np) memcpy(tr->ema, nde_params_theta(nde_model_params(model)), np * sizeof *tr->ema);
    }
    const size_t bmax = spec->batch > tr->spec.eval_batch ? spec->batch : tr->spec.eval_batch;
    if (st == NDE_OK) st = grow_buffers(tr, bmax);
    if (st == NDE_OK) st = nde_model_reserve(model, bmax);
    if (st == NDE_OK) st = nde_optim_create(&tr->spec.optim, nde_model_params(model), &tr->optim);
    if (st != NDE_OK) {
        nde_trainer_destroy(&tr);
        return st;
    }
    for (size_t i = 0; i < n; i++) tr->perm[i] = i;
    *out = tr;
    return NDE_OK;
}

void nde_trainer_destroy(nde_trainer **trp)
{
    if (!trp || !*trp) return;
    nde_trainer *tr = *trp;
    nde_trainer_comm_free(tr);
    nde_free(tr->red);
    nde_optim_destroy(&tr->optim);
    nde_free(tr->perm), nde_free(tr->idx);
    nde_free(tr->xb), nde_free(tr->yb), nde_free(tr->pred), nde_free(tr->grad);
    nde_free(tr->hist);
    nde_free(tr->hist_ema);
    nde_free(tr->ema);
    nde_free(tr);
    *trp = NULL;
}

/* Fisher–Yates over the whole order, last index first. */
static void shuffle(size_t *perm, size_t n, nde_rng *rng)
{
    for (size_t i = n; i-- > 1;) {
        const size_t j = (size_t)nde_rng_below(rng, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static void begin_epoch_order(nde_trainer *tr)
{
    const size_t n = tr->train.n;
    switch (tr->spec.sampling) {
    case NDE_SAMPLE_SHUFFLE:
        for (size_t i = 0; i < n; i++) tr->perm[i] = i;
        shuffle(tr->perm, n, &tr->rng);
        break;
    case NDE_SAMPLE_RESHUFFLE: shuffle(tr->perm, n, &tr->rng); break;
    case NDE_SAMPLE_ORDERED:
    case NDE_SAMPLE_RANDOM:
    case NDE_SAMPLE_STREAM: break;
    }
}

/* The samples of step s of the epoch: a slice of the order, or (random sampling) batch
 * distinct samples by a partial Fisher–Yates from the identity. */
static size_t pick_batch(nde_trainer *tr, size_t s)
{
    const size_t n = tr->train.n, b = tr->spec.batch;
    if (tr->spec.sampling == NDE_SAMPLE_RANDOM) {
        for (size_t i = 0; i < n; i++) tr->perm[i] = i;
        for (size_t i = 0; i < b; i++) {
            const size_t j = i + (size_t)nde_rng_below(&tr->rng, n - i), t = tr->perm[i];
            tr->perm[i] = tr->perm[j];
            tr->perm[j] = t;
        }
        memcpy(tr->idx, tr->perm, b * sizeof *tr->idx);
        return b;
    }
    if (tr->spec.sampling == NDE_SAMPLE_STREAM) {
        for (size_t k = 0; k < b; k++) {
            if (tr->stream_pos == n) {
                shuffle(tr->perm, n, &tr->rng);
                tr->stream_pos = 0;
            }
            tr->idx[k] = tr->perm[tr->stream_pos++];
        }
        return b;
    }
    const size_t at = s * b, count = n - at < b ? n - at : b;
    memcpy(tr->idx, tr->perm + at, count * sizeof *tr->idx);
    return count;
}

static nde_status fetch(const nde_data *d, const size_t *idx, size_t count, double *x, double *y)
{
    if (d->fetch) return d->fetch(d->ctx, idx, count, x, y);
    for (size_t k = 0; k < count; k++) {
        memcpy(x + k * d->x_size, d->x + idx[k] * d->x_size, d->x_size * sizeof *x);
        memcpy(y + k * d->y_size, d->y + idx[k] * d->y_size, d->y_size * sizeof *y);
    }
    return NDE_OK;
}

static double lr_at(const nde_trainer *tr, size_t pos)
{
    const nde_schedule *s = &tr->spec.schedule;
    if (s->kind == NDE_SCHED_CONSTANT && s->v0 == 0.0 && s->warmup == 0) return tr->spec.optim.lr;
    return nde_schedule_value(s, pos);
}

static nde_status first_nonfinite(const double *v, size_t n, size_t *at)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            *at = i;
            return NDE_ERR_NONFINITE;
        }
    return NDE_OK;
}

/* ", the last good checkpoint is F (unchanged)" when the run has a checkpoint path and
 * the file is there, ", no checkpoint written yet" when it is not, "" without a path. */
static const char *kept_checkpoint(const nde_trainer *tr, char *buf, size_t cap)
{
    const char *ck = tr->spec.checkpoint_path;
    if (!ck) return "";
    FILE *f = fopen(ck, "rb");
    if (!f) return ", no checkpoint written yet";
    fclose(f);
    snprintf(buf, cap, ", the last good checkpoint is %s (unchanged)", ck);
    return buf;
}

static nde_status stop_nonfinite(const nde_trainer *tr, const char *what, double v, size_t index)
{
    char kept[600];
    return NDE_FAIL(NDE_ERR_NONFINITE,
                    "%s: step %zu (epoch %zu): %s is %g at index %zu; training stopped%s",
                    tr->spec.name, tr->step + 1, tr->epoch + 1, what, v, index,
                    kept_checkpoint(tr, kept, sizeof kept));
}

/* A failure `st` of the model's forward or backward in the step under way: the same
 * status, its message prefixed with the step and epoch (a solve that gives up names its
 * time, not which training step it served) and followed by the checkpoint kept. */
static nde_status stop_failed(const nde_trainer *tr, const char *what, nde_status st)
{
    char why[1024], kept[600];
    snprintf(why, sizeof why, "%s", nde_last_error());
    return NDE_FAIL(st, "%s: step %zu (epoch %zu): the %s failed: %s; training stopped%s",
                    tr->spec.name, tr->step + 1, tr->epoch + 1, what, why,
                    kept_checkpoint(tr, kept, sizeof kept));
}

/* Forward, loss, checks and backward on the fetched batch: the store's gradient. */
static nde_status gradient(nde_trainer *tr, size_t count, double *loss)
{
    nde_params *p = nde_model_params(tr->model);
    const size_t np = nde_params_count(p);
    size_t at = 0;
    nde_params_zero_grad(p);
    nde_status st = nde_model_forward(tr->model, tr->xb, tr->pred, count);
    if (st != NDE_OK) return stop_failed(tr, "forward pass", st);
    NDE_TRY(tr->spec.loss.fn(tr->spec.loss.ctx, tr->pred, tr->yb, tr->grad, count,
                             nde_model_out_size(tr->model), loss));
    if (!isfinite(*loss)) return stop_nonfinite(tr, "the loss", *loss, 0);
    st = nde_model_backward(tr->model, tr->grad, NULL, nde_params_grad(p), count);
    if (st != NDE_OK) return stop_failed(tr, "backward pass", st);
    if (first_nonfinite(nde_params_grad(p), np, &at) != NDE_OK)
        return stop_nonfinite(tr, "the gradient", nde_params_grad(p)[at], at);
    return NDE_OK;
}

/* The neural ODE's or SDE's regularizer value and forward NFE of the last training solve
 * (0 for other models). */
static void solve_figures(nde_trainer *tr, double *reg, double *nfe)
{
    *reg = nde_model_node_reg_value(tr->model) + nde_model_sde_reg_value(tr->model);
    nde_solver *s = nde_model_node_solver(tr->model);
    nde_sde_solver *sde = nde_model_sde_solver(tr->model);
    const nde_solver_stats *st = s ? nde_solver_get_stats(s) : sde ? nde_sde_get_stats(sde) : NULL;
    *nfe = st ? (double)st->nfe : 0.0;
}

/* Data parallel (tr->size > 1): this rank's contiguous shard of the global batch, its
 * gradient weighted by its share, then one fused MPI_Allreduce of gradient, loss, flags,
 * regularizer and NFE. Every rank leaves with the same global figures: the step fails
 * (or is skipped) on all ranks when it failed on any. */
static nde_status parallel_gradient(nde_trainer *tr, size_t count, double *loss, nde_status *failed)
{
    nde_params *p = nde_model_params(tr->model);
    const size_t np = nde_params_count(p);
    if (!tr->red) {
        tr->red = nde_alloc_array(np + RED_EXTRA, sizeof *tr->red);
        if (!tr->red) return NDE_FAIL(NDE_ERR_NOMEM, "trainer: reduction buffer of %zu values", np);
    }
    const size_t P = (size_t)tr->size, r = (size_t)tr->rank;
    const size_t lo = count * r / P, hi = count * (r + 1) / P, c = hi - lo;
    const int sum = tr->spec.loss.reduction == NDE_LOSS_SUM;
    /* a mean loss: the rank's share of the batch; a sum loss keeps its gradient, but the
     * model's own terms (a regularizer) are averaged like a mean's */
    const double w = (double)c / (double)count;
    double *red = tr->red, *g = nde_params_grad(p), local = 0.0;
    memset(red + np, 0, RED_EXTRA * sizeof *red);
    nde_status st = NDE_OK;
    int fatal = 0;
    if (c) {
        st = fetch(&tr->train, tr->idx + lo, c, tr->xb, tr->yb);
        fatal = st != NDE_OK;
        if (st == NDE_OK) {
            nde_params_zero_grad(p);
            st = nde_model_forward(tr->model, tr->xb, tr->pred, c);
            if (st == NDE_OK)
                st = tr->spec.loss.fn(tr->spec.loss.ctx, tr->pred, tr->yb, tr->grad, c,
                                      nde_model_out_size(tr->model), &local);
            if (st == NDE_OK && !isfinite(local)) st = stop_nonfinite(tr, "the loss", local, 0);
            if (st == NDE_OK && sum)
                for (size_t i = 0; i < c * nde_model_out_size(tr->model); i++) tr->grad[i] /= w;
            if (st == NDE_OK) st = nde_model_backward(tr->model, tr->grad, NULL, g, c);
            size_t at = 0;
            if (st == NDE_OK && first_nonfinite(g, np, &at) != NDE_OK)
                st = stop_nonfinite(tr, "the gradient", g[at], at);
        }
    }
    if (st == NDE_OK && c) {
        for (size_t i = 0; i < np; i++) red[i] = w * g[i];
        red[np + RED_LOSS] = sum ? local : w * local;
        double reg, nfe;
        solve_figures(tr, &reg, &nfe);
        red[np + RED_REG] = w * reg;
        red[np + RED_NFE] = nfe;
    } else {
        memset(red, 0, np * sizeof *red);
    }
    if (st != NDE_OK) red[np + (fatal ? RED_FATAL : RED_FAILED)] = 1.0;
    const double t0 = nde_wall_seconds();
    const nde_status cs = nde_trainer_allreduce(tr, red, np + RED_EXTRA);
    tr->comm_seconds += nde_wall_seconds() - t0;
    if (cs != NDE_OK) return cs;
    if (red[np + RED_FATAL] > 0.0 || red[np + RED_FAILED] > 0.0) {
        if (st == NDE_OK)
            st = NDE_FAIL(NDE_ERR_NONFINITE, "%s: step %zu (epoch %zu) failed on another rank "
                          "(its message is on that rank's stderr)", tr->spec.name, tr->step + 1,
                          tr->epoch + 1);
        if (red[np + RED_FATAL] > 0.0 || !tr->spec.skip_failed_steps) return st;
        *failed = st;
        *loss = NAN;
        return NDE_OK;
    }
    memcpy(g, red, np * sizeof *g);
    *loss = red[np + RED_LOSS];
    tr->last_reg = red[np + RED_REG];
    tr->last_nfe = (size_t)red[np + RED_NFE];
    return NDE_OK;
}

/* One optimizer step on `count` samples; *loss receives the loss value. With
 * skip_failed_steps a failing gradient leaves θ and the optimizer as they were and its
 * status in *failed (else NDE_OK). */
static nde_status train_step(nde_trainer *tr, size_t count, double *loss, nde_status *failed)
{
    nde_params *p = nde_model_params(tr->model);
    *failed = NDE_OK;
    if (tr->size > 1) {
        NDE_TRY(parallel_gradient(tr, count, loss, failed));
        if (*failed != NDE_OK) return NDE_OK;
    } else {
        NDE_TRY(fetch(&tr->train, tr->idx, count, tr->xb, tr->yb));
        const nde_status st = gradient(tr, count, loss);
        if (st != NDE_OK) {
            if (!tr->spec.skip_failed_steps) return st;
            *failed = st;
            *loss = NAN;
            return NDE_OK;
        }
        double reg, nfe;
        solve_figures(tr, &reg, &nfe);
        tr->last_reg = reg, tr->last_nfe = (size_t)nfe;
    }
    if (tr->spec.clip_grad_norm > 0.0)
        NDE_TRY(nde_clip_grad_norm(nde_params_grad(p), nde_params_count(p),
                                   tr->spec.clip_grad_norm, NULL));
    NDE_TRY(nde_optim_step(tr->optim));
    if (tr->ema) { /* ema ← d·ema + (1 − d)·θ */
        const double k = (double)++tr->ema_updates, w = (1.0 + k) / (10.0 + k);
        const double d = tr->spec.ema_warmup && w < tr->spec.ema_decay ? w : tr->spec.ema_decay;
        const double *th = nde_params_theta(p);
        const size_t np = nde_params_count(p);
        for (size_t i = 0; i < np; i++) tr->ema[i] = d * tr->ema[i] + (1.0 - d) * th[i];
    }
    return NDE_OK;
}

nde_status nde_trainer_evaluate(nde_trainer *tr, const nde_data *data, double *metric)
{
    if (!tr || !data || !metric) return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_evaluate: NULL argument");
    if (data->x_size != tr->train.x_size || data->y_size != tr->train.y_size || data->n == 0)
        return NDE_FAIL(NDE_ERR_SHAPE, "nde_trainer_evaluate: data of %zu samples (%zu → %zu), "
                        "model maps %zu → %zu", data->n, data->x_size, data->y_size,
                        tr->train.x_size, tr->train.y_size);
    const size_t b = tr->spec.eval_batch;
    NDE_TRY(grow_buffers(tr, b));
    NDE_TRY(nde_model_set_training(tr->model, 0));
    /* with a communicator: rank r evaluates samples ⌊n·r/P⌋ .. ⌊n·(r+1)/P⌋ − 1 */
    const size_t P = (size_t)tr->size, r = (size_t)tr->rank;
    const size_t lo = data->n * r / P, hi = data->n * (r + 1) / P;
    double sum = 0.0;
    nde_status st = NDE_OK;
    for (size_t at = lo; at < hi && st == NDE_OK; at += b) {
        const size_t count = hi - at < b ? hi - at : b;
        for (size_t k = 0; k < count; k++) tr->idx[k] = at + k;
        double v = 0.0;
        st = fetch(data, tr->idx, count, tr->xb, tr->yb);
        if (st == NDE_OK) st = nde_model_forward(tr->model, tr->xb, tr->pred, count);
        if (st == NDE_OK)
            st = tr->spec.eval.fn(tr->spec.eval.ctx, tr->pred, tr->yb, NULL, count,
                                  nde_model_out_size(tr->model), &v);
        sum += tr->spec.eval.reduction == NDE_LOSS_SUM ? v : v * (double)count;
    }
    nde_status st2 = nde_model_set_training(tr->model, 1);
    if (tr->size > 1) {
        double red[2] = {sum, st != NDE_OK || st2 != NDE_OK};
        const nde_status cs = nde_trainer_allreduce(tr, red, 2);
        if (st == NDE_OK && st2 == NDE_OK && cs != NDE_OK) return cs;
        if (st == NDE_OK && st2 == NDE_OK && red[1] > 0.0)
            return NDE_FAIL(NDE_ERR_IO, "%s: evaluation failed on another rank (its message is "
                            "on that rank's stderr)", tr->spec.name);
        sum = red[0];
    }
    NDE_TRY(st);
    NDE_TRY(st2);
    *metric = sum / (double)data->n;
    return NDE_OK;
}

/* Exchange θ and the moving average (their values, bit for bit). */
static void swap_ema(nde_trainer *tr)
{
    nde_params *p = nde_model_params(tr->model);
    double *th = nde_params_theta(p);
    for (size_t i = 0, np = nde_params_count(p); i < np; i++) {
        const double t = th[i];
        th[i] = tr->ema[i];
        tr->ema[i] = t;
    }
}

nde_status nde_trainer_evaluate_ema(nde_trainer *tr, const nde_data *data, double *metric)
{
    if (!tr || !data || !metric)
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_evaluate_ema: NULL argument");
    if (!tr->ema)
        return NDE_FAIL(NDE_ERR_ARG, "%s: nde_trainer_evaluate_ema: the trainer keeps no moving "
                        "average (ema_decay is 0)", tr->spec.name);
    swap_ema(tr);
    const nde_status st = nde_trainer_evaluate(tr, data, metric);
    swap_ema(tr);
    return st;
}

static nde_train_info info_of(const nde_trainer *tr, size_t count, double loss, double lr, double sec)
{
    return (nde_train_info){.epoch = tr->epoch + 1, .epochs = tr->spec.epochs, .step = tr->step,
                            .epoch_step = tr->epoch_step, .batch = count, .loss = loss, .lr = lr,
                            .train_loss = tr->last_train, .test_metric = tr->last_test,
                            .test_metric_ema = tr->last_test_ema,
                            .seconds = sec, .reg = tr->last_reg, .nfe = tr->last_nfe,
                            .model = tr->model, .optim = tr->optim};
}

static size_t total_steps(const nde_trainer *tr)
{
    const size_t all = tr->spec.epochs * tr->steps_per_epoch;
    return tr->spec.max_steps && tr->spec.max_steps < all ? tr->spec.max_steps : all;
}

/* After the last step of an epoch: evaluation, history, metrics line, checkpoint and the
 * epoch callback. `last` marks the run's final epoch. */
static nde_status end_epoch(nde_trainer *tr, double lr, double t0, int last)
{
    tr->last_train = tr->acc_samples > 0 ? tr->acc_loss / tr->acc_samples : NAN;
    tr->last_test = tr->last_test_ema = NAN;
    const double train_sec = tr->epoch_seconds + nde_wall_seconds() - t0;
    const size_t e = tr->epoch + 1, k = tr->spec.eval_every;
    if (tr->has_test && k && (e % k == 0 || last)) {
        NDE_TRY(nde_trainer_evaluate(tr, &tr->test, &tr->last_test));
        if (tr->ema) NDE_TRY(nde_trainer_evaluate_ema(tr, &tr->test, &tr->last_test_ema));
    }
    const double sec = tr->epoch_seconds + nde_wall_seconds() - t0;
    const double row[HIST_COLS] = {(double)e,     (double)tr->step, lr,  tr->last_train,
                                   tr->last_test, train_sec,        sec};
    NDE_TRY(nde_trainer_hist_push(tr, row, tr->last_test_ema));
    tr->epoch = e;
    tr->epoch_step = 0;
    tr->acc_loss = tr->acc_samples = tr->epoch_seconds = 0.0;
    NDE_TRY(nde_trainer_write_metrics(tr, 0));
    if (tr->spec.checkpoint_path && (e % tr->spec.checkpoint_every == 0 || last))
        NDE_TRY(nde_trainer_save(tr));
    nde_progress_clear(&tr->progress);
    if (tr->spec.on_epoch) {
        nde_train_info info = info_of(tr, 0, NAN, lr, sec);
        info.epoch = e;
        info.train_seconds = train_sec;
        if (nde_trainer_any(tr, tr->spec.on_epoch(&info, tr->spec.user)))
            return NDE_FAIL(NDE_ERR_STOPPED, "%s: stopped by the epoch callback after epoch %zu",
                            tr->spec.name, e);
    }
    return NDE_OK;
}

nde_status nde_trainer_run(nde_trainer *tr)
{
    if (!tr) return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_run: NULL trainer");
    const size_t total = total_steps(tr);
    nde_status st = nde_model_set_training(tr->model, 1);
    /* every rank starts from rank 0's θ; only rank 0 draws the progress line */
    if (st == NDE_OK) st = nde_trainer_bcast_params(tr);
    if (st == NDE_OK && tr->ema && tr->ema_updates == 0) /* the average starts at the run's θ */
        memcpy(tr->ema, nde_params_theta(nde_model_params(tr->model)),
               nde_model_n_params(tr->model) * sizeof *tr->ema);
    nde_progress_begin(&tr->progress, tr->rank ? 0 : tr->spec.progress, tr->spec.name, tr->step);
    while (st == NDE_OK && tr->epoch < tr->spec.epochs && tr->step < total) {
        const double t0 = nde_wall_seconds();
        if (tr->epoch_step == 0) begin_epoch_order(tr);
        double lr = lr_at(tr, tr->epoch), loss = NAN;
        while (st == NDE_OK && tr->epoch_step < tr->steps_per_epoch && tr->step < total) {
            if (tr->spec.schedule_per_step) lr = lr_at(tr, tr->step);
            st = nde_optim_set_lr(tr->optim, lr);
            const size_t count = pick_batch(tr, tr->epoch_step);
            if (st == NDE_OK && tr->spec.on_step_begin) {
                const nde_train_info info = info_of(tr, count, NAN, lr, nde_wall_seconds() - t0);
                if (nde_trainer_any(tr, tr->spec.on_step_begin(&info, tr->spec.user)))
                    st = NDE_FAIL(NDE_ERR_STOPPED, "%s: stopped by the step-begin callback before "
                                  "step %zu", tr->spec.name, tr->step + 1);
            }
            nde_status failed = NDE_OK;
            if (st == NDE_OK) st = train_step(tr, count, &loss, &failed);
            if (st != NDE_OK) break;
            if (failed == NDE_OK) {
                tr->acc_loss += tr->spec.loss.reduction == NDE_LOSS_SUM ? loss : loss * (double)count;
                tr->acc_samples += (double)count;
            }
            tr->step++;
            tr->epoch_step++;
            if (failed == NDE_OK) {
                const double per_sample =
                    tr->spec.loss.reduction == NDE_LOSS_SUM ? loss / (double)count : loss;
                nde_progress_update(&tr->progress, tr->epoch + 1, tr->spec.epochs, tr->step,
                                    total, per_sample);
            }
            const int mid_epoch = tr->epoch_step < tr->steps_per_epoch && tr->step < total;
            if (tr->spec.checkpoint_path && tr->spec.checkpoint_every_steps && mid_epoch &&
                tr->step % tr->spec.checkpoint_every_steps == 0) {
                const double before = tr->epoch_seconds; /* the epoch's time so far goes along */
                tr->epoch_seconds += nde_wall_seconds() - t0;
                st = nde_trainer_save(tr);
                tr->epoch_seconds = before;
                if (st != NDE_OK) break;
            }
            if (tr->spec.on_step) {
                nde_train_info info = info_of(tr, count, loss, lr, nde_wall_seconds() - t0);
                info.status = failed;
                if (nde_trainer_any(tr, tr->spec.on_step(&info, tr->spec.user)))
                    st = NDE_FAIL(NDE_ERR_STOPPED, "%s: stopped by the step callback at step %zu",
                                  tr->spec.name, tr->step);
            }
        }
        if (st == NDE_OK) {
            const int last = tr->epoch + 1 == tr->spec.epochs || tr->step >= total;
            st = end_epoch(tr, lr, t0, last);
        }
    }
    nde_progress_end(&tr->progress);
    return st;
}

nde_optim *nde_trainer_optim(nde_trainer *tr) { return tr ? tr->optim : NULL; }
size_t nde_trainer_epoch(const nde_trainer *tr) { return tr ? tr->epoch : 0; }
size_t nde_trainer_step(const nde_trainer *tr) { return tr ? tr->step : 0; }
double nde_trainer_train_loss(const nde_trainer *tr) { return tr ? tr->last_train : NAN; }
double nde_trainer_test_metric(const nde_trainer *tr) { return tr ? tr->last_test : NAN; }
double nde_trainer_test_metric_ema(const nde_trainer *tr) { return tr ? tr->last_test_ema : NAN; }
const double *nde_trainer_ema(const nde_trainer *tr) { return tr ? tr->ema : NULL; }
double nde_trainer_comm_seconds(const nde_trainer *tr) { return tr ? tr->comm_seconds : 0.0; }
