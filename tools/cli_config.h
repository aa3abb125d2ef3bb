/* tools/cli_config.h — the configuration of `nde train` (front-end code, not libnde).
 *
 * An INI file read with libinih; every section and key is in one table (cli_config.c),
 * every value is parsed strictly, and an unknown section or key or a bad value is an
 * error naming the file, the line and the key. `--set section.key=value` goes through the
 * same table. The resolved configuration (every key, defaults included) is written as
 * config.ini beside the checkpoint, so that `nde eval` and `nde predict` rebuild the model
 * from it. docs/cli.md documents every key. */
#ifndef NDE_CLI_CONFIG_H
#define NDE_CLI_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nde/nde.h"

#define CLI_STR 1024
#define CLI_MAX_HIDDEN 8

typedef enum cli_model_kind {
    CLI_MLP_NODE = 0, /* MLP vector field in a neural ODE: x = u0 (dim), y = states */
    CLI_FNO1D,        /* FNO-1D: x (s), y (s) */
    CLI_FNO2D,        /* FNO-2D: x (s, s), y (s, s) */
    CLI_MGNO,         /* MgNO 2-D: x (s, s), y (s, s) */
    CLI_FNO_NODE,     /* FNO-1D as the vector field of a neural ODE: y = u(t1) */
} cli_model_kind;

typedef enum cli_constraint {
    CLI_CONSTRAINT_NONE = 0,
    CLI_CONSTRAINT_MEAN, /* the output's mean is the input's (nde/constraint.h) */
} cli_constraint;

typedef enum cli_loss {
    CLI_LOSS_REL_L2 = 0,
    CLI_LOSS_MSE,
    CLI_LOSS_L1,
    CLI_LOSS_BURGERS, /* physics-constrained: the viscous Burgers residual (nde/stagger.h);
                         the target is the input window itself */
} cli_loss;

typedef struct cli_config {
    /* [model] */
    int kind;
    size_t width, modes, layers, proj_hidden, levels;
    size_t threads; /* FNO: threads per batch (1: the calling thread) */
    size_t hidden[CLI_MAX_HIDDEN]; /* mlp_node: hidden widths, ends at the first 0 */
    nde_act act;
    double padding;
    int constraint; /* cli_constraint: a hard constraint on the output (fno1d) */
    int precision; /* FNO kinds and MgNO: nde_precision (default float32; the MLP runs in double) */
    size_t stagger_space; /* > 0: NeuralStagger (nde/stagger.h) around the fno1d sub-solver,
                             spatial stride stagger_space; 0: no staggering */
    size_t stagger_time;  /* time stride = levels per input window (x (samples, st, S)) */
    int stagger_shared;   /* 1: one sub-solver shared by all pieces; 0: one per piece */
    int stagger_residual; /* 1: a sub-solver predicts the increment */
    /* [data] */
    char path[CLI_STR], x[CLI_STR], y[CLI_STR];
    size_t ntrain, ntest, subsample;
    int normalize;          /* 0 none, 1 scalar: x ← (x − x_shift) / x_scale, 2 pointwise:
                               x and y per point (UnitGaussianNormalizer), the output decoded
                               for the loss and the metric */
    double x_shift, x_scale; /* x_scale 0: the training inputs' mean and std (then stored) */
    /* [node] */
    double t1;
    size_t nt;
    int output; /* nde_node_output */
    /* [train] */
    size_t epochs, batch, steps_per_epoch;
    uint64_t seed;
    int order_seed_set;  /* 0: the sample order continues the initialization's generator */
    uint64_t order_seed; /* else: the trainer's generator is seeded with order_seed */
    int sampling; /* nde_sampling */
    int loss, metric; /* cli_loss */
    double clip_grad_norm;
    double ema_decay; /* [train] ema_decay: moving average of θ (0: none) */
    int ema_warmup;   /* [train] ema_warmup: 1 = the num_updates warm-up */
    double burgers_nu, burgers_dt, burgers_theta, burgers_length; /* loss burgers_residual */
    /* [optim] */
    nde_optim_kind optim;
    double lr, weight_decay;
    /* [schedule] */
    int schedule; /* nde_schedule_kind (not TABLE) */
    double gamma, v1;
    uint64_t period, sched_steps, warmup;
    double warmup_frac; /* > 0: warm-up = ⌊warmup_frac · steps⌋ positions (overrides warmup) */
    double pct_start, div_factor, final_div_factor;
    int per_step;
    /* [solver] */
    nde_method method;
    double rtol, atol, h0;
    int tape; /* nde_tape */
    size_t max_steps;
    /* [adjoint] */
    int adjoint; /* nde_adjoint_kind */
    /* [output] */
    size_t every, every_steps;
    char dir[CLI_STR];
    int plots; /* 1: PNG plots (loss, NFE, predicted vs true) when gnuplot is installed */
} cli_config;

/* The defaults (an FNO-1D on Burgers' a → u). */
void cli_config_defaults(cli_config *c);

/* Read `path` into c (over what c holds). 0 on success; otherwise a message
 * "FILE:LINE: [section] key: why" (or the file and errno text) is printed on stderr
 * and 2 is returned. */
int cli_config_read(cli_config *c, const char *path);

/* Read INI text (e.g. a checkpoint's "nde.config" metadata) into c; `label` names it in
 * messages ("FILE:nde.config:LINE: …"). 0 or (message on stderr) 2. */
int cli_config_read_string(cli_config *c, const char *text, const char *label);

/* c as INI text (free with free()); NULL when out of memory. */
char *cli_config_text(const cli_config *c);

/* Apply one "section.key=value"; 0 or (message on stderr naming `origin`) 2. */
int cli_config_set(cli_config *c, const char *assignment, const char *origin);

/* Write every key of c as INI to f. */
void cli_config_write(const cli_config *c, FILE *f);

/* Consistency across keys (e.g. batch <= ntrain); 0 or (message) 2. */
int cli_config_check(const cli_config *c, const char *origin);

const char *cli_model_kind_name(int kind);
const char *cli_loss_name(int loss);

#endif
