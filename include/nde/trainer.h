/** @file
 * nde/trainer.h — one trainer for every model: batching, loss, gradient, optimizer step,
 * schedule, evaluation, metrics, progress, checkpoint/resume and stopping.
 *
 * A run is `epochs` epochs of steps. Each step takes `batch` samples of the training
 * data (in the order the sampling mode gives), runs the model forward, evaluates the
 * loss and its gradient, runs the model backward into the store's gradient and steps
 * the optimizer. After each epoch the trainer may evaluate on a test split, writes one
 * JSON line of metrics, calls the epoch callback and writes a checkpoint.
 *
 * Checkpoints are atomic (temporary file, fsync, rename: a crash leaves the previous
 * checkpoint whole) and hold θ, the optimizer state, the generator, the epoch and step,
 * the sample order and the metrics history, so nde_trainer_resume continues with the
 * bits an uninterrupted run gives. A non-finite loss or gradient stops the run with
 * NDE_ERR_NONFINITE naming the step; the last good checkpoint is left as it was.
 *
 * Typical use (compiled and run by the test suite; an MLP fitted to y = 2x by mean
 * squared error):
 *     double x[8][1], y[8][1];
 *     for (int i = 0; i < 8; i++) x[i][0] = i / 8.0, y[i][0] = 2.0 * x[i][0];
 *     nde_model *m;
 *     NDE_TRY(nde_model_mlp_create(&(nde_mlp_spec){.in = 1, .out = 1, .hidden = {8},
 *                                  .act = NDE_ACT_TANH}, "mlp", NDE_INIT_TORCH, 0.0, &m));
 *     nde_rng rng;  nde_rng_seed(&rng, 1);
 *     NDE_TRY(nde_model_init(m, &rng));
 *     nde_trainer_spec ts = nde_trainer_defaults();
 *     ts.batch = 4;  ts.epochs = 50;  ts.optim.lr = 1e-2;  ts.loss = nde_loss_mse();
 *     ts.use_rng = 1;  ts.rng = rng;  ts.progress = 0;
 *     nde_data train = {.n = 8, .x_size = 1, .y_size = 1, .x = &x[0][0], .y = &y[0][0]};
 *     nde_trainer *tr;
 *     NDE_TRY(nde_trainer_create(m, &train, NULL, &ts, &tr));
 *     NDE_TRY(nde_trainer_run(tr));
 *     nde_trainer_destroy(&tr);  nde_model_destroy(&m);
 */
#ifndef NDE_TRAINER_H
#define NDE_TRAINER_H

#include "nde/core.h"
#include "nde/model.h"
#include "nde/optim.h"
#include "nde/schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data ----------------------------------------------------------------------
 * n samples; sample i is x (x_size doubles) and target y (y_size doubles). Either
 * in-memory rows (x (n, x_size), y (n, y_size), borrowed) or, when fetch is set, a reader
 * that writes the samples idx[0..count) into x (count, x_size) and y (count, y_size).
 * Data-parallel (nde/mpi.h) each rank's reader is asked only for its rank's shard of a
 * batch, so a file-backed reader reads only that rank's part. */
/** A dataset of n samples, sample i being x (x_size doubles) and target y (y_size doubles): in-memory rows (x, y) or, when fetch is set, a reader. */
typedef struct nde_data {
    /** number of samples */
    size_t n, x_size, y_size; /**< doubles per target */
    /** (n, x_size) inputs, borrowed (unless fetch is set) */
    const double *x, *y; /**< (n, y_size) targets, borrowed (unless fetch is set) */
    nde_status (*fetch)(void *ctx, const size_t *idx, size_t count, double *x, double *y); /**< optional reader: writes samples idx[0..count) into x (count, x_size) and y (count, y_size) */
    void *ctx; /**< passed to fetch */
/** @var nde_data::x_size
 *  doubles per input sample */
} nde_data;

/* ---- losses ---------------------------------------------------------------------
 * fn: value of the batch's loss for pred (batch, size) — size is the model's out_size —
 * and target (batch, target_size), and, when grad is not NULL, grad (batch, size) =
 * ∂value/∂pred (overwritten). target_size 0 means size (all built-in losses).
 * reduction says what `value` is, so epoch figures are per sample:
 *   NDE_LOSS_SUM   a sum over the batch's samples (epoch figure = Σ values / samples)
 *   NDE_LOSS_MEAN  a mean over the batch (epoch figure = Σ value·batch / samples) */
/** What a loss's value is, so epoch figures are per sample. */
typedef enum nde_loss_reduction { NDE_LOSS_MEAN = 0, /**< a mean over the batch */ NDE_LOSS_SUM /**< a sum over the batch's samples */ } nde_loss_reduction;

/** A loss function (built-in: nde_loss_mse() and the others below; or the user's own). */
typedef struct nde_loss {
    /** value of the batch's loss for pred (batch, size) and target (batch, target_size), and, when grad is not NULL, grad (batch, size) = ∂value/∂pred (overwritten) */
    nde_status (*fn)(void *ctx, const double *pred, const double *target, double *grad,
                     size_t batch, size_t size, double *value);
    void *ctx; /**< passed to fn */
    nde_loss_reduction reduction; /**< whether value is a sum or a mean over the batch */
    const char *name;   /**< for metrics ("mse", "l1", "rel_l2", …) */
    size_t target_size; /**< values per sample of the target (0: the prediction's size), e.g.
                           1 for a class label against 10 logits */
} nde_loss;

/** mean over all batch·size entries of (pred − target)². */
NDE_API nde_loss nde_loss_mse(void);
/** mean over all batch·size entries of |pred − target| (derivative sign(d), 0 at 0). */
NDE_API nde_loss nde_loss_l1(void);
/** Σ over samples of ‖pred − target‖₂ / ‖target‖₂ (nde_rel_l2_loss; reduction SUM). */
NDE_API nde_loss nde_loss_rel_l2(void);

/** Softmax cross-entropy against class labels: pred (batch, size) are logits, target
 * (batch, 1) class indices 0..size−1 stored as doubles; value = mean over the batch of
 * −log softmax(pred)_label (computed as log Σ e^{z − max z} + max z − z_label), grad =
 * (softmax − one-hot) / batch. target_size 1, reduction MEAN. A label that is not an
 * integer in range is NDE_ERR_ARG naming the sample. */
NDE_API nde_loss nde_loss_softmax_ce(void);
/** The index of the first largest of z[0..n) (n > 0): the predicted class of logits. */
NDE_API size_t nde_argmax(const double *z, size_t n);

/* ---- the trainer -------------------------------------------------------------------- */

/** How steps pick their samples:
 *   NDE_SAMPLE_SHUFFLE   every epoch a fresh random permutation of 0..n−1 (Fisher–Yates
 *                        from the identity), taken in batches (PyTorch DataLoader shuffle)
 *   NDE_SAMPLE_RESHUFFLE every epoch the previous epoch's order permuted again
 *   NDE_SAMPLE_ORDERED   0..n−1 in order every epoch
 *   NDE_SAMPLE_RANDOM    every step `batch` distinct samples drawn afresh (partial
 *                        Fisher–Yates from the identity; torchdiffeq's get_batch);
 *                        an epoch is steps_per_epoch steps
 *   NDE_SAMPLE_STREAM    one stream of passes over the data, each pass the previous
 *                        order permuted again (the first pass too); batches are always
 *                        full and may span two passes; an epoch is steps_per_epoch steps */
typedef enum nde_sampling {
    NDE_SAMPLE_SHUFFLE = 0, /**< a fresh random permutation every epoch */
    NDE_SAMPLE_RESHUFFLE, /**< the previous epoch's order permuted again */
    NDE_SAMPLE_ORDERED, /**< 0..n−1 in order */
    NDE_SAMPLE_RANDOM, /**< `batch` distinct samples drawn afresh every step */
    NDE_SAMPLE_STREAM, /**< one stream of passes, batches always full */
} nde_sampling;

/** What the callbacks see. */
typedef struct nde_train_info {
    size_t epoch;        /**< 1-based epoch in progress (epoch callback: the one just done) */
    size_t epochs; /**< epochs of the run */
    size_t step;         /**< training steps done in the whole run */
    size_t epoch_step;   /**< steps done in this epoch */
    size_t batch;        /**< samples in the last step */
    double loss;         /**< the last step's loss value (NaN for a skipped step) */
    nde_status status;   /**< on_step: NDE_OK, or why the step was skipped (skip_failed_steps;
                            nde_last_error() has the message) */
    double lr;           /**< learning rate of the last step */
    double train_loss;   /**< epoch callback: the epoch's per-sample training loss */
    double test_metric;  /**< epoch callback: test metric of this epoch, NaN if not evaluated */
    double test_metric_ema; /**< epoch callback: test metric of the parameters' moving average
                               (ema_decay > 0), NaN if not evaluated */
    double seconds;      /**< wall time of the epoch so far */
    double train_seconds;/**< epoch callback: the epoch's training steps alone (no evaluation) */
    double reg;          /**< neural ODEs and SDEs: the regularizer's value on the last step's solve (0
                            without one); data parallel: the ranks' values weighted by their
                            share of the batch */
    size_t nfe;          /**< neural ODEs and SDEs: right-hand-side evaluations of the last step's
                            forward solve; data parallel: summed over the ranks */
    nde_model *model; /**< the model being trained */
    nde_optim *optim; /**< the trainer's optimizer */
} nde_train_info;

/** Return 0 to go on, non-zero to stop the run with NDE_ERR_STOPPED (after the epoch's
 * checkpoint when returned from the epoch callback; before the step from on_step_begin). */
typedef int (*nde_train_callback)(const nde_train_info *info, void *user);

/** How nde_trainer_create() trains (nde_trainer_defaults() fills it). */
typedef struct nde_trainer_spec {
    size_t batch;            /**< samples per step (> 0) */
    size_t epochs;           /**< > 0 */
    size_t steps_per_epoch;  /**< NDE_SAMPLE_RANDOM and _STREAM: steps in an epoch (> 0);
                                else 0 = all batches of the data */
    size_t max_steps;        /**< stop after this many steps in all (0: no limit), e.g. an
                                iteration count that is not a multiple of steps_per_epoch */
    nde_sampling sampling; /**< how steps pick their samples */
    int drop_last;           /**< 1: skip a last partial batch; 0: train on it */
    uint64_t seed;           /**< seeds the generator unless use_rng */
    int use_rng;             /**< 1: start from `rng` instead (e.g. continue the init draws) */
    nde_rng rng; /**< the generator to start from when use_rng */
    nde_optim_spec optim;    /**< the optimizer the trainer creates (nde_optim_defaults) */
    nde_schedule schedule;   /**< learning rate; kind NDE_SCHED_CONSTANT at 0 → optim.lr */
    int schedule_per_step;   /**< 1: schedule position = step; 0: = epoch (0-based) */
    double clip_grad_norm;   /**< > 0: clip the gradient's 2-norm first (0: off) */
    int skip_failed_steps;   /**< 1: a step whose forward, loss or backward fails (e.g. a solve
                                that gives up at max_steps or on a non-finite state, or a
                                non-finite loss or gradient) is skipped: θ and the optimizer
                                stay as they were, its batch is used up and it counts as a step
                                (schedule position, max_steps), it adds nothing to the epoch's
                                loss, and on_step sees its status (return non-zero there to stop,
                                e.g. after several in a row). 0: the run stops with the status */
    nde_loss loss;           /**< required */
    nde_loss eval;           /**< test metric (fn NULL → the loss) */
    size_t eval_every;       /**< evaluate on the test data every k epochs and after the last
                                (0: never) */
    size_t eval_batch;       /**< test batch (0 → batch) */
    const char *checkpoint_path; /**< NULL: no checkpoints */
    size_t checkpoint_every; /**< epochs (0 → 1 when a path is given) */
    size_t checkpoint_every_steps; /**< also every this many steps inside epochs (0: off) */
    /** NULL, or "key", "value", …, NULL (borrowed): string entries stored in every
     * checkpoint's safetensors metadata (read with nde_st_meta), e.g. the configuration
     * that rebuilds the model; keys must not be "format", "format_version" or "optim.*" */
    const char *const *checkpoint_meta;
    const char *metrics_path;    /**< JSON lines, one per epoch (NULL: none); rewritten from the
                                    checkpoint's history on resume */
    int progress;            /**< -1: a progress line on stderr if it is a terminal; 0 off; 1 on */
    const char *name;        /**< for progress and messages ("train") */
    /** after each training step (NULL: none) */
    nde_train_callback on_step, on_epoch; /**< after each epoch, its evaluation and checkpoint (NULL: none) */
    /** before each training step's forward, with its batch chosen (info->step: steps done
     * so far): e.g. draw a per-step end time or set a regularizer's coefficient */
    nde_train_callback on_step_begin;
    void *user; /**< passed to the callbacks */
    /** > 0 (and < 1): keep an exponential moving average (EMA) of θ, updated after every
     * optimizer step that was taken (not after skipped ones): ema ← d·ema + (1 − d)·θ,
     * starting from θ as the run begins. d = ema_decay, or with ema_warmup
     * d_k = min(ema_decay, (1 + k)/(10 + k)) at the k-th update (k = 1, 2, …; TensorFlow's
     * ExponentialMovingAverage with num_updates), so early averages do not cling to the
     * initialization. Every test evaluation then also reports the average's metric
     * (test_metric_ema, in the metrics file and history); checkpoints hold the average as
     * the tensor "train.ema" beside θ (resume stays bit-exact; `nde eval --ema` and
     * nde_trainer_ema() use it). 0: off. */
    double ema_decay;
    int ema_warmup; /**< 1: the warm-up d_k above; 0: d = ema_decay from the first update */
} nde_trainer_spec;

/** batch 0 (set it), epochs 1, Adam with its defaults, NDE_SAMPLE_SHUFFLE, seed 0,
 * eval_every 1, progress −1, no checkpoints or metrics file. */
NDE_API nde_trainer_spec nde_trainer_defaults(void);

/** A trainer (opaque): model, data, optimizer, schedule, loss, checkpoints and metrics of one run. */
typedef struct nde_trainer nde_trainer;

/** The trainer borrows model, train and test (test may be NULL), which must outlive it;
 * it copies the spec (strings are borrowed) and creates the optimizer over the model's
 * store. Errors: NDE_ERR_ARG (NULL, batch 0, epochs 0, a loss without fn, sizes that do
 * not match the model's in/out sizes, test data of another shape, unknown sampling,
 * RANDOM without steps_per_epoch or with batch > n, bad schedule), optimizer errors,
 * NDE_ERR_NOMEM. */
NDE_API nde_status nde_trainer_create(nde_model *model, const nde_data *train,
                                      const nde_data *test, const nde_trainer_spec *spec,
                                      nde_trainer **out);
NDE_API void nde_trainer_destroy(nde_trainer **tr); /**< NULL-safe; sets *tr = NULL */

/** Restore θ, the optimizer, the generator, the position and the history from a
 * checkpoint the same run configuration wrote; the next nde_trainer_run continues from
 * there. Errors: NDE_ERR_IO / NDE_ERR_FORMAT (the file, tensor and what differs),
 * NDE_ERR_NONFINITE (a non-finite θ, naming the tensor), NDE_ERR_ARG (a position beyond
 * the configured epochs, or another data size). On error nothing is changed. */
NDE_API nde_status nde_trainer_resume(nde_trainer *tr, const char *path);

/** Run the remaining epochs. Errors: the model's, loss's and optimizer's statuses (with
 * the step in the message), NDE_ERR_NONFINITE (loss or gradient), NDE_ERR_STOPPED (a
 * callback), NDE_ERR_IO (checkpoint or metrics file). */
NDE_API nde_status nde_trainer_run(nde_trainer *tr);

/** Mean test metric per sample of the current θ over `data` (model in evaluation mode). */
NDE_API nde_status nde_trainer_evaluate(nde_trainer *tr, const nde_data *data, double *metric);

/** nde_trainer_evaluate with the parameters' moving average in θ (ema_decay > 0): θ and
 * the average are swapped for the evaluation and back, so θ is unchanged bit for bit.
 * Errors: NDE_ERR_ARG without an average, as nde_trainer_evaluate otherwise. */
NDE_API nde_status nde_trainer_evaluate_ema(nde_trainer *tr, const nde_data *data, double *metric);

/** The moving average of θ (nde_model_n_params values, owned by the trainer; the same
 * layout as θ), or NULL when ema_decay is 0. Until the first update it is θ as the run
 * began (copied at creation and again when nde_trainer_run starts); after a resume it is
 * the checkpoint's average. */
NDE_API const double *nde_trainer_ema(const nde_trainer *tr);

/** The last completed epoch's test metric of the moving average (NaN if none). */
NDE_API double nde_trainer_test_metric_ema(const nde_trainer *tr);

/** The trainer's optimizer (owned by the trainer). */
NDE_API nde_optim *nde_trainer_optim(nde_trainer *tr);
NDE_API size_t nde_trainer_epoch(const nde_trainer *tr); /**< completed epochs */
NDE_API size_t nde_trainer_step(const nde_trainer *tr);  /**< completed steps */
/** The last completed epoch's training loss and test metric (NaN if none). */
NDE_API double nde_trainer_train_loss(const nde_trainer *tr);
/** The last completed epoch's test metric (NaN if none). */
NDE_API double nde_trainer_test_metric(const nde_trainer *tr);

/** Seconds spent in the steps' gradient reduction across ranks (MPI_Allreduce; data
 * parallel training, include/nde/mpi.h), summed over the trainer's runs; 0 for a serial
 * trainer. With the step's wall time it gives the communication share. */
NDE_API double nde_trainer_comm_seconds(const nde_trainer *tr);

#ifdef __cplusplus
}
#endif
#endif
