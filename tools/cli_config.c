/* The configuration table of `nde train` (cli_config.h). */
#include "cli_config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const model_names[] = {"mlp_node", "fno1d", "fno2d", "mgno", "fno_node", NULL};
static const char *const loss_names[] = {"rel_l2", "mse", "l1", "burgers_residual", NULL};
static const char *const sampling_names[] = {"shuffle", "reshuffle", "ordered", "random",
                                             "stream", NULL};
static const char *const constraint_names[] = {"none", "mean", NULL};
static const char *const normalize_names[] = {"none", "scalar", "pointwise", NULL};
/* index = nde_precision */
static const char *const precision_names[] = {"float64", "float32", NULL};
static const char *const bool_names[] = {"false", "true", NULL};
static const char *const output_names[] = {"trajectory", "final", NULL};
static const char *const schedule_names[] = {"constant", "step", "exponential", "inverse",
                                             "cosine", "linear", "one_cycle", NULL};
static const char *const per_names[] = {"epoch", "step", NULL};
static const char *const tape_names[] = {"none", "stages", "step_starts", "checkpoint", NULL};
static const char *const adjoint_names[] = {"discrete_stages", "discrete_step_starts",
                                            "discrete_checkpoint", "backsolve",
                                            "interpolating", "cvodes", NULL};

const char *cli_model_kind_name(int kind) { return model_names[kind]; }
const char *cli_loss_name(int loss) { return loss_names[loss]; }

typedef enum key_type {
    K_SIZE,   /* size_t >= min */
    K_U64,    /* uint64_t */
    K_DOUBLE, /* finite double, > 0 when pos, >= 0 when nonneg */
    K_STRING, /* char[CLI_STR] */
    K_CHOICE, /* int index into choices */
    K_METHOD, /* nde_method */
    K_OPTIM,  /* nde_optim_kind */
    K_ACT,    /* nde_act */
    K_LIST,   /* size_t[CLI_MAX_HIDDEN]: comma-separated positive integers */
    K_ORDER,  /* order_seed_set, order_seed: "init" or a non-negative integer */
} key_type;

enum { POS = 1, NONNEG = 2, UNIT = 4 /* at most 1 */ };

typedef struct key {
    const char *section, *name;
    key_type type;
    size_t offset;
    size_t min;                 /* K_SIZE */
    unsigned bounds;            /* K_DOUBLE */
    const char *const *choices; /* K_CHOICE */
} key;

#define K(s, n, t, f) .section = s, .name = n, .type = t, .offset = offsetof(cli_config, f)
static const key keys[] = {
    {K("model", "kind", K_CHOICE, kind), .choices = model_names},
    {K("model", "width", K_SIZE, width), .min = 1},
    {K("model", "modes", K_SIZE, modes), .min = 1},
    {K("model", "layers", K_SIZE, layers), .min = 1},
    {K("model", "proj_hidden", K_SIZE, proj_hidden)},
    {K("model", "levels", K_SIZE, levels)},
    {K("model", "padding", K_DOUBLE, padding), .bounds = NONNEG},
    {K("model", "threads", K_SIZE, threads), .min = 1},
    {K("model", "precision", K_CHOICE, precision), .choices = precision_names},
    {K("model", "hidden", K_LIST, hidden)},
    {K("model", "act", K_ACT, act)},
    {K("model", "constraint", K_CHOICE, constraint), .choices = constraint_names},
    {K("model", "stagger_space", K_SIZE, stagger_space)},
    {K("model", "stagger_time", K_SIZE, stagger_time), .min = 1},
    {K("model", "stagger_shared", K_CHOICE, stagger_shared), .choices = bool_names},
    {K("model", "stagger_residual", K_CHOICE, stagger_residual), .choices = bool_names},
    {K("data", "path", K_STRING, path)},
    {K("data", "x", K_STRING, x)},
    {K("data", "y", K_STRING, y)},
    {K("data", "ntrain", K_SIZE, ntrain), .min = 1},
    {K("data", "ntest", K_SIZE, ntest)},
    {K("data", "subsample", K_SIZE, subsample), .min = 1},
    {K("data", "normalize", K_CHOICE, normalize), .choices = normalize_names},
    {K("data", "x_shift", K_DOUBLE, x_shift)},
    {K("data", "x_scale", K_DOUBLE, x_scale), .bounds = NONNEG},
    {K("node", "t1", K_DOUBLE, t1), .bounds = POS},
    {K("node", "nt", K_SIZE, nt), .min = 2},
    {K("node", "output", K_CHOICE, output), .choices = output_names},
    {K("train", "epochs", K_SIZE, epochs), .min = 1},
    {K("train", "batch", K_SIZE, batch), .min = 1},
    {K("train", "steps_per_epoch", K_SIZE, steps_per_epoch)},
    {K("train", "seed", K_U64, seed)},
    {K("train", "order_seed", K_ORDER, order_seed_set)},
    {K("train", "sampling", K_CHOICE, sampling), .choices = sampling_names},
    {K("train", "loss", K_CHOICE, loss), .choices = loss_names},
    {K("train", "metric", K_CHOICE, metric), .choices = loss_names},
    {K("train", "clip_grad_norm", K_DOUBLE, clip_grad_norm), .bounds = NONNEG},
    {K("train", "ema_decay", K_DOUBLE, ema_decay), .bounds = NONNEG},
    {K("train", "ema_warmup", K_CHOICE, ema_warmup), .choices = bool_names},
    {K("train", "burgers_nu", K_DOUBLE, burgers_nu), .bounds = NONNEG},
    {K("train", "burgers_dt", K_DOUBLE, burgers_dt), .bounds = POS},
    {K("train", "burgers_theta", K_DOUBLE, burgers_theta), .bounds = NONNEG | UNIT},
    {K("train", "burgers_length", K_DOUBLE, burgers_length), .bounds = POS},
    {K("optim", "kind", K_OPTIM, optim)},
    {K("optim", "lr", K_DOUBLE, lr), .bounds = POS},
    {K("optim", "weight_decay", K_DOUBLE, weight_decay), .bounds = NONNEG},
    {K("schedule", "kind", K_CHOICE, schedule), .choices = schedule_names},
    {K("schedule", "per", K_CHOICE, per_step), .choices = per_names},
    {K("schedule", "gamma", K_DOUBLE, gamma), .bounds = NONNEG},
    {K("schedule", "period", K_U64, period)},
    {K("schedule", "v1", K_DOUBLE, v1), .bounds = NONNEG},
    {K("schedule", "steps", K_U64, sched_steps)},
    {K("schedule", "warmup", K_U64, warmup)},
    {K("schedule", "warmup_frac", K_DOUBLE, warmup_frac), .bounds = NONNEG},
    {K("schedule", "pct_start", K_DOUBLE, pct_start), .bounds = POS},
    {K("schedule", "div_factor", K_DOUBLE, div_factor), .bounds = POS},
    {K("schedule", "final_div_factor", K_DOUBLE, final_div_factor), .bounds = POS},
    {K("solver", "method", K_METHOD, method)},
    {K("solver", "rtol", K_DOUBLE, rtol), .bounds = POS},
    {K("solver", "atol", K_DOUBLE, atol), .bounds = POS},
    {K("solver", "h0", K_DOUBLE, h0), .bounds = NONNEG},
    {K("solver", "tape", K_CHOICE, tape), .choices = tape_names},
    {K("solver", "max_steps", K_SIZE, max_steps), .min = 1},
    {K("adjoint", "kind", K_CHOICE, adjoint), .choices = adjoint_names},
    {K("output", "every", K_SIZE, every), .min = 1},
    {K("output", "every_steps", K_SIZE, every_steps)},
    {K("output", "dir", K_STRING, dir)},
    {K("output", "plots", K_CHOICE, plots), .choices = bool_names},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

void cli_config_defaults(cli_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = CLI_FNO1D;
    c->width = 32;
    c->modes = 12;
    c->layers = 4;
    c->proj_hidden = 64;
    c->levels = 0;
    c->threads = 1;
    c->padding = 0.0;
    c->precision = NDE_PRECISION_FLOAT32;
    c->stagger_space = 0;
    c->stagger_time = 1;
    c->stagger_shared = 1;
    c->stagger_residual = 1;
    c->hidden[0] = 32;
    c->hidden[1] = 32;
    c->act = NDE_ACT_GELU;
    strcpy(c->x, "a");
    strcpy(c->y, "u");
    c->ntrain = 100;
    c->ntest = 20;
    c->subsample = 1;
    c->t1 = 1.0;
    c->nt = 2;
    c->output = NDE_NODE_FINAL;
    c->epochs = 10;
    c->batch = 10;
    c->seed = 0;
    c->sampling = NDE_SAMPLE_SHUFFLE;
    c->loss = CLI_LOSS_REL_L2;
    c->metric = CLI_LOSS_REL_L2;
    c->burgers_nu = 0.1;
    c->burgers_dt = 0.005;
    c->burgers_theta = 0.5;
    c->burgers_length = 1.0;
    c->optim = NDE_OPT_ADAM;
    c->lr = 1e-3;
    c->weight_decay = 0.0;
    c->schedule = NDE_SCHED_CONSTANT;
    c->gamma = 0.5;
    c->period = 10;
    c->pct_start = 0.3;
    c->div_factor = 25.0;
    c->final_div_factor = 1e4;
    nde_solver_opts so = nde_solver_defaults(NDE_DOPRI5);
    c->method = so.method;
    c->rtol = 1e-6;
    c->atol = 1e-8;
    c->tape = NDE_TAPE_STAGES;
    c->max_steps = so.max_steps;
    c->adjoint = NDE_ADJ_DISCRETE_STAGES;
    c->every = 1;
    c->plots = 1;
}

/* Decimal digits only, the whole string, no overflow. */
static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    if (!(*s >= '0' && *s <= '9')) return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > max) return -1;
    *v = (uint64_t)x;
    return 0;
}

/* Store value in c; NULL, or why the value is bad (in why). */
static const char *store(cli_config *c, const key *k, const char *value, char *why, size_t cap)
{
    char *dest = (char *)c + k->offset;
    switch (k->type) {
    case K_SIZE: {
        uint64_t v;
        if (parse_u64(value, SIZE_MAX, &v) == 0 && v >= k->min) {
            *(size_t *)(void *)dest = (size_t)v;
            return NULL;
        }
        snprintf(why, cap, "expected an integer >= %zu", k->min);
        return why;
    }
    case K_U64: {
        uint64_t v;
        if (parse_u64(value, UINT64_MAX, &v) == 0) {
            *(uint64_t *)(void *)dest = v;
            return NULL;
        }
        snprintf(why, cap, "expected a non-negative integer");
        return why;
    }
    case K_DOUBLE: {
        char *end;
        errno = 0;
        double x = isspace((unsigned char)*value) ? NAN : strtod(value, &end);
        int ok = !isspace((unsigned char)*value) && end != value && !*end && errno != ERANGE &&
                 isfinite(x) && (!(k->bounds & POS) || x > 0) && (!(k->bounds & NONNEG) || x >= 0) &&
                 (!(k->bounds & UNIT) || x <= 1);
        if (ok) {
            *(double *)(void *)dest = x;
            return NULL;
        }
        snprintf(why, cap, "expected a finite number%s",
                 k->bounds & UNIT ? " in [0, 1]" : k->bounds & POS ? " > 0"
                 : k->bounds & NONNEG ? " >= 0" : "");
        return why;
    }
    case K_STRING: {
        size_t len = strlen(value);
        if (!*value || len >= CLI_STR) {
            snprintf(why, cap, "expected a non-empty string under %d bytes", CLI_STR);
            return why;
        }
        /* the value must read back from the run's config.ini as it is: libinih reads lines
         * of at most INI_MAX_LINE − 3 characters (then "\r\n\0") */
        if (strlen(k->name) + 3 + len > (size_t)INI_MAX_LINE - 3) {
            snprintf(why, cap, "a value of %zu bytes is too long: a line 'key = value' of the "
                     "configuration holds at most %d characters", len, INI_MAX_LINE - 3);
            return why;
        }
        int bad = isspace((unsigned char)value[0]) || isspace((unsigned char)value[len - 1]);
        for (size_t i = 0; i < len && !bad; i++)
            bad = (unsigned char)value[i] < 0x20 ||
                  (value[i] == ';' && (i == 0 || isspace((unsigned char)value[i - 1])));
        if (bad) {
            snprintf(why, cap, "control characters, leading or trailing blanks, a leading ';' "
                               "and ' ;' cannot be stored in an INI file");
            return why;
        }
        strcpy(dest, value);
        return NULL;
    }
    case K_CHOICE: {
        size_t len = (size_t)snprintf(why, cap, "expected one of ");
        for (int i = 0; k->choices[i]; i++) {
            if (!strcmp(value, k->choices[i])) {
                *(int *)(void *)dest = i;
                return NULL;
            }
            if (len < cap)
                len += (size_t)snprintf(why + len, cap - len, "%s%s", i ? ", " : "", k->choices[i]);
        }
        return why;
    }
    case K_METHOD:
        if (nde_method_parse(value, (nde_method *)(void *)dest) == NDE_OK) return NULL;
        snprintf(why, cap, "%s", nde_last_error());
        return why;
    case K_OPTIM:
        if (nde_optim_kind_parse(value, (nde_optim_kind *)(void *)dest) == NDE_OK) return NULL;
        snprintf(why, cap, "%s", nde_last_error());
        return why;
    case K_ACT:
        if (nde_act_parse(value, (nde_act *)(void *)dest) == NDE_OK) return NULL;
        snprintf(why, cap, "%s", nde_last_error());
        return why;
    case K_ORDER: {
        uint64_t v;
        if (!strcmp(value, "init")) {
            c->order_seed_set = 0;
            c->order_seed = 0;
            return NULL;
        }
        if (parse_u64(value, UINT64_MAX, &v) == 0) {
            c->order_seed_set = 1;
            c->order_seed = v;
            return NULL;
        }
        snprintf(why, cap, "expected init (continue the initialization's generator) or a "
                           "non-negative integer");
        return why;
    }
    case K_LIST: {
        size_t v[CLI_MAX_HIDDEN] = {0}, n = 0;
        const char *p = value;
        while (*p) {
            char item[32];
            size_t len = strcspn(p, ",");
            uint64_t x;
            if (n == CLI_MAX_HIDDEN || len == 0 || len >= sizeof item) break;
            memcpy(item, p, len);
            item[len] = '\0';
            if (parse_u64(item, SIZE_MAX, &x) || x == 0) break;
            v[n++] = (size_t)x;
            p += len;
            if (*p == ',' && p[1]) p++;
            else if (*p == ',') break;
        }
        if (*p || n == 0) {
            snprintf(why, cap, "expected 1 to %d positive integers separated by commas",
                     CLI_MAX_HIDDEN);
            return why;
        }
        memcpy(dest, v, sizeof v);
        return NULL;
    }
    }
    snprintf(why, cap, "unknown key type");
    return why;
}

static const key *find(const char *section, const char *name, int *section_known)
{
    *section_known = 0;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].section, section)) continue;
        *section_known = 1;
        if (!strcmp(keys[i].name, name)) return &keys[i];
    }
    return NULL;
}

/* One assignment; NULL or why it fails (in msg). */
static const char *assign(cli_config *c, const char *section, const char *name,
                          const char *value, char *msg, size_t cap)
{
    int known;
    const key *k = find(section, name, &known);
    if (!k) {
        if (!known)
            snprintf(msg, cap, "unknown section [%s] (sections: model, data, node, train, optim, "
                               "schedule, solver, adjoint, output)", section);
        else
            snprintf(msg, cap, "[%s] %s: unknown key", section, name);
        return msg;
    }
    char why[512];
    if (store(c, k, value, why, sizeof why)) {
        snprintf(msg, cap, "[%s] %s = '%s': bad value: %s", section, name, value, why);
        return msg;
    }
    return NULL;
}

typedef struct read_state {
    cli_config *c;
    char msg[1200];
    int failed;
} read_state;

static int handler(void *user, const char *section, const char *name, const char *value)
{
    read_state *rs = user;
    if (rs->failed) return 1; /* only the first error is reported */
    if (assign(rs->c, section, name, value, rs->msg, sizeof rs->msg)) {
        rs->failed = 1;
        return 0;
    }
    return 1;
}

int cli_config_read(cli_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    struct stat sb;
    if (f && fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f); /* fopen accepts a directory; reading it would look like an empty file */
        f = NULL;
        errno = EISDIR;
    }
    if (!f) {
        fprintf(stderr, "nde train: cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    read_state rs = {.c = c};
    int line = ini_parse_file(f, handler, &rs);
    fclose(f);
    if (line == 0) return 0;
    if (line < 0) {
        fprintf(stderr, "nde train: %s: out of memory reading the file\n", path);
    } else if (rs.failed) {
        fprintf(stderr, "nde train: %s:%d: %s\n", path, line, rs.msg);
    } else {
        fprintf(stderr, "nde train: %s:%d: syntax error (expected [section] or key = value, "
                "on a line of at most %d characters)\n", path, line, INI_MAX_LINE - 3);
    }
    return 2;
}

int cli_config_read_string(cli_config *c, const char *text, const char *label)
{
    read_state rs = {.c = c};
    int line = ini_parse_string(text, handler, &rs);
    if (line == 0) return 0;
    if (line < 0)
        fprintf(stderr, "nde: %s: out of memory reading the configuration\n", label);
    else
        fprintf(stderr, "nde: %s:%d: %s\n", label, line,
                rs.failed ? rs.msg : "syntax error (expected [section] or key = value, on a line "
                                     "of at most 197 characters)");
    return 2;
}

char *cli_config_text(const cli_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    cli_config_write(c, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int cli_config_set(cli_config *c, const char *assignment, const char *origin)
{
    const char *dot = strchr(assignment, '.'), *eq = strchr(assignment, '=');
    char section[64], name[64], msg[1200];
    if (!dot || !eq || dot > eq || dot == assignment || eq == dot + 1 ||
        (size_t)(dot - assignment) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof name) {
        fprintf(stderr, "nde train: %s '%s': expected section.key=value (try --help)\n", origin,
                assignment);
        return 2;
    }
    memcpy(section, assignment, (size_t)(dot - assignment));
    section[dot - assignment] = '\0';
    memcpy(name, dot + 1, (size_t)(eq - dot - 1));
    name[eq - dot - 1] = '\0';
    if (assign(c, section, name, eq + 1, msg, sizeof msg)) {
        fprintf(stderr, "nde train: %s %s: %s\n", origin, assignment, msg);
        return 2;
    }
    return 0;
}

void cli_config_write(const cli_config *c, FILE *f)
{
    const char *section = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        const key *k = &keys[i];
        const char *src = (const char *)c + k->offset;
        if (strcmp(section, k->section)) {
            fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        switch (k->type) {
        case K_STRING:
            if (!*src) continue; /* unset (e.g. output.dir): the default applies */
            fprintf(f, "%s = %s\n", k->name, src);
            break;
        case K_SIZE: fprintf(f, "%s = %zu\n", k->name, *(const size_t *)(const void *)src); break;
        case K_U64:
            fprintf(f, "%s = %llu\n", k->name,
                    (unsigned long long)*(const uint64_t *)(const void *)src);
            break;
        case K_DOUBLE: {
            /* the shortest form that reads back as the same double */
            const double v = *(const double *)(const void *)src;
            char buf[40];
            for (int digits = 15; digits <= 17; digits++) {
                snprintf(buf, sizeof buf, "%.*g", digits, v);
                if (strtod(buf, NULL) == v) break;
            }
            fprintf(f, "%s = %s\n", k->name, buf);
            break;
        }
        case K_CHOICE: fprintf(f, "%s = %s\n", k->name, k->choices[*(const int *)(const void *)src]); break;
        case K_METHOD:
            fprintf(f, "%s = %s\n", k->name, nde_method_name(*(const nde_method *)(const void *)src));
            break;
        case K_OPTIM:
            fprintf(f, "%s = %s\n", k->name,
                    nde_optim_kind_name(*(const nde_optim_kind *)(const void *)src));
            break;
        case K_ACT: fprintf(f, "%s = %s\n", k->name, nde_act_name(*(const nde_act *)(const void *)src)); break;
        case K_ORDER:
            if (c->order_seed_set)
                fprintf(f, "%s = %llu\n", k->name, (unsigned long long)c->order_seed);
            else
                fprintf(f, "%s = init\n", k->name);
            break;
        case K_LIST: {
            const size_t *v = (const size_t *)(const void *)src;
            fprintf(f, "%s = ", k->name);
            for (size_t j = 0; j < CLI_MAX_HIDDEN && v[j]; j++) fprintf(f, j ? ",%zu" : "%zu", v[j]);
            fprintf(f, "\n");
            break;
        }
        }
    }
}

int cli_config_check(const cli_config *c, const char *origin)
{
    const char *why = NULL;
    char buf[256];
    if (!*c->path)
        why = "[data] path is not set (give it in the file or with --set data.path=FILE)";
    else if (c->normalize == 2 && c->ntrain < 2)
        why = "[data] normalize = pointwise needs ntrain >= 2 (a standard deviation per point)";
    else if (c->constraint == CLI_CONSTRAINT_MEAN && c->kind != CLI_FNO1D)
        why = "[model] constraint = mean needs kind = fno1d (an output of the input's shape)";
    else if (c->constraint == CLI_CONSTRAINT_MEAN && c->normalize == 2)
        why = "[model] constraint = mean works with [data] normalize = none or scalar, not "
              "pointwise (the model's output is then not the field)";
    else if (c->constraint == CLI_CONSTRAINT_MEAN && c->stagger_time > 1)
        why = "[model] constraint = mean needs stagger_time = 1 (one level out)";
    else if (c->stagger_space && c->kind != CLI_FNO1D)
        why = "[model] stagger_space > 0 (NeuralStagger) needs kind = fno1d (the sub-solver)";
    else if (c->stagger_time > 1 && !c->stagger_space)
        why = "[model] stagger_time > 1 needs stagger_space >= 1 (a staggered model)";
    else if ((c->loss == CLI_LOSS_BURGERS) != (c->metric == CLI_LOSS_BURGERS))
        why = "[train] loss and metric: burgers_residual is either both or neither (the target "
              "of the physics loss is the input window, not [data] y)";
    else if (c->loss == CLI_LOSS_BURGERS && c->kind != CLI_FNO1D)
        why = "[train] loss = burgers_residual needs [model] kind = fno1d (with or without "
              "stagger_space)";
    else if (c->loss == CLI_LOSS_BURGERS && c->normalize)
        why = "[train] loss = burgers_residual needs [data] normalize = none (the residual is "
              "taken on the field itself)";
    else if (c->stagger_time > 1 && c->loss != CLI_LOSS_BURGERS)
        why = "[model] stagger_time > 1 needs [train] loss = burgers_residual (x and y are "
              "windows of stagger_time levels)";
    else if (c->batch > c->ntrain) {
        snprintf(buf, sizeof buf, "[train] batch %zu is larger than [data] ntrain %zu", c->batch,
                 c->ntrain);
        why = buf;
    } else if ((c->sampling == NDE_SAMPLE_RANDOM || c->sampling == NDE_SAMPLE_STREAM) &&
               !c->steps_per_epoch)
        why = "[train] sampling random and stream need steps_per_epoch > 0";
    else if (!(c->ema_decay < 1.0))
        why = "[train] ema_decay must be below 1 (0: no moving average; e.g. 0.999)";
    else if (!(c->warmup_frac < 1.0))
        why = "[schedule] warmup_frac must be below 1 (a fraction of the schedule's steps)";
    if (why) {
        fprintf(stderr, "nde train: %s: %s\n", origin, why);
        return 2;
    }
    return 0;
}
