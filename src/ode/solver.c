/* Solver object: options, creation, per-solve buffers, step log and getters. The
 * integration itself lives in the backend (rk_solve.c, sundials*.c). */
#include "ode/solver_internal.h"

#include "nde_config.h"

#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/grow.h"
#include "core/names.h"


static const char *const method_names[NDE_METHOD_COUNT] = {
    [NDE_EULER] = "euler",        [NDE_HEUN] = "heun",
    [NDE_RK4] = "rk4",            [NDE_BS3] = "bs3",
    [NDE_DOPRI5] = "dopri5",      [NDE_TSIT5] = "tsit5",
    [NDE_CVODE_BDF] = "cvode_bdf", [NDE_CVODE_ADAMS] = "cvode_adams",
    [NDE_ARK_ERK] = "ark_erk",    [NDE_ARK_DIRK] = "ark_dirk",
    [NDE_ARK_IMEX] = "ark_imex",
    [NDE_DOP853] = "dop853",      [NDE_VERN6] = "vern6",
    [NDE_VERN7] = "vern7",        [NDE_VERN9] = "vern9",
    [NDE_AUTO] = "auto",
};

nde_method nde_method_choose(double rtol)
{
    /* crossovers from bench/method_choice (docs/solvers.md, "Choosing a method") */
    if (!(rtol > 0.0) || !isfinite(rtol) || rtol >= 1e-6) return NDE_TSIT5;
    if (rtol >= 1e-9) return NDE_VERN7;
    return NDE_VERN9;
}

/* Stage vectors the workspace holds: the tableau's with its continuous extension's lazy
 * stages (7 for the SUNDIALS methods, which use only the initial-step heuristic's). */
static size_t work_stages(const nde_solver *s)
{
    return s->tab ? (size_t)nde_tableau_dense_stages(s->tab) : 7;
}

const char *nde_method_name(nde_method m)
{
    return nde_name_at(method_names, NDE_METHOD_COUNT, (int)m);
}

nde_status nde_method_parse(const char *name, nde_method *m)
{
    if (!name || !m) return NDE_FAIL(NDE_ERR_ARG, "nde_method_parse: NULL argument");
    int i = nde_name_index(name, method_names, NDE_METHOD_COUNT);
    if (i >= 0) {
        *m = (nde_method)i;
        return NDE_OK;
    }
    return NDE_FAIL(NDE_ERR_ARG, "unknown ODE method '%s' (try dopri5, tsit5, bs3, rk4, ...)",
                    name);
}

int nde_method_is_explicit_adaptive(nde_method m)
{
    /* a tableau with an embedded estimator; the SUNDIALS methods have no tableau */
    const nde_tableau *tab = nde_tableau_get(m);
    return tab && tab->est_order > 0;
}

nde_solver_opts nde_solver_defaults(nde_method m)
{
    nde_solver_opts o;
    memset(&o, 0, sizeof o);
    o.method = m;
    o.rtol = 1e-6;
    o.atol = 1e-9;
    o.max_steps = 100000;
    o.safety = 0.9;
    o.fac_min = 0.2;
    o.fac_max = 10.0;
    /* NDE_AUTO: the controller constants of the method chosen for the default rtol */
    const nde_tableau *tab = nde_tableau_get(m == NDE_AUTO ? nde_method_choose(o.rtol) : m);
    if (tab) {
        o.beta1 = tab->beta1;
        o.beta2 = tab->beta2;
    }
    return o;
}

static nde_status check_opts(const nde_solver_opts *o)
{
    if ((int)o->method < 0 || o->method >= NDE_METHOD_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "unknown ODE method %d", (int)o->method);
    if (!(o->rtol > 0.0) || !isfinite(o->rtol))
        return NDE_FAIL(NDE_ERR_ARG, "rtol must be positive and finite, got %g", o->rtol);
    if (!(o->atol > 0.0) || !isfinite(o->atol))
        return NDE_FAIL(NDE_ERR_ARG, "atol must be positive and finite, got %g", o->atol);
    if (!(o->h0 >= 0.0) || !isfinite(o->h0))
        return NDE_FAIL(NDE_ERR_ARG, "h0 must be >= 0 (0: automatic), got %g", o->h0);
    if (!(o->dt_min >= 0.0) || !(o->dt_max >= 0.0))
        return NDE_FAIL(NDE_ERR_ARG, "dt_min and dt_max must be >= 0, got %g and %g", o->dt_min,
                        o->dt_max);
    if (o->dt_max > 0.0 && o->dt_min > o->dt_max)
        return NDE_FAIL(NDE_ERR_ARG, "dt_min %g exceeds dt_max %g", o->dt_min, o->dt_max);
    if (o->max_steps == 0) return NDE_FAIL(NDE_ERR_ARG, "max_steps must be positive");
    if (!(o->safety > 0.0 && o->safety <= 1.0))
        return NDE_FAIL(NDE_ERR_ARG, "safety must be in (0, 1], got %g", o->safety);
    if (!(o->fac_min > 0.0 && o->fac_min < 1.0) || !(o->fac_max > 1.0))
        return NDE_FAIL(NDE_ERR_ARG, "need 0 < fac_min < 1 < fac_max, got %g and %g", o->fac_min,
                        o->fac_max);
    if (!(o->beta1 >= 0.0) || !(o->beta2 >= 0.0))
        return NDE_FAIL(NDE_ERR_ARG, "PI exponents must be >= 0, got beta1 %g beta2 %g", o->beta1,
                        o->beta2);
    if ((int)o->tape < NDE_TAPE_NONE || o->tape > NDE_TAPE_CHECKPOINT)
        return NDE_FAIL(NDE_ERR_ARG, "unknown tape mode %d", (int)o->tape);
    return NDE_OK;
}

/* Half of the machine's physical memory or a quarter of the process's address-space
 * limit (`ulimit -v`), whichever is smaller (SIZE_MAX if the system says neither). A
 * quarter, because growing by doubling holds the old and the new buffer at once: under a
 * limit the tape then fails with NDE_ERR_LIMIT and its advice, not with NDE_ERR_NOMEM. */
static size_t default_tape_max_bytes(void)
{
    uintmax_t half = UINTMAX_MAX;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGE_SIZE)
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) half = (uintmax_t)pages / 2 * (uintmax_t)page;
#endif
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY &&
        (uintmax_t)as.rlim_cur / 4 < half)
        half = (uintmax_t)as.rlim_cur / 4;
    return half > SIZE_MAX ? SIZE_MAX : (size_t)half;
}

nde_status nde_solver_create(nde_ctx *ctx, const nde_field *field, const nde_solver_opts *opts,
                             nde_solver **out)
{
    if (!out || !opts) return NDE_FAIL(NDE_ERR_ARG, "nde_solver_create: NULL argument");
    *out = NULL;
    NDE_TRY(nde_field_check(field, opts->tape != NDE_TAPE_NONE));
    NDE_TRY(check_opts(opts));
    nde_solver_opts resolved = *opts;
    if (opts->method == NDE_AUTO) {
        /* pick by tolerance; controller constants left at NDE_AUTO's defaults (or unset)
         * become the chosen method's */
        nde_solver_opts auto_def = nde_solver_defaults(NDE_AUTO);
        resolved.method = nde_method_choose(opts->rtol);
        nde_solver_opts chosen = nde_solver_defaults(resolved.method);
        if ((opts->beta1 == auto_def.beta1 && opts->beta2 == auto_def.beta2) ||
            (opts->beta1 == 0.0 && opts->beta2 == 0.0)) {
            resolved.beta1 = chosen.beta1;
            resolved.beta2 = chosen.beta2;
        }
        opts = &resolved;
    }
    const nde_backend_ops *ops = NULL;
    const nde_tableau *tab = nde_tableau_get(opts->method);
    if (tab) {
        ops = &nde_rk_backend_ops;
    } else {
#if NDE_HAVE_SUNDIALS
        ops = &nde_sundials_backend_ops;
#else
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "method %s is not available in this build",
                        nde_method_name(opts->method));
#endif
    }
    nde_solver *s = nde_alloc(sizeof *s);
    if (!s) return NDE_ERR_NOMEM;
    s->ctx = ctx;
    s->field = *field;
    s->opts = *opts;
    s->tab = tab;
    s->ops = ops;
    s->record_limit = opts->tape_max_bytes ? opts->tape_max_bytes : default_tape_max_bytes();
    if (ops->init) {
        nde_status st = ops->init(s);
        if (st != NDE_OK) {
            nde_solver_destroy(&s);
            return st;
        }
    }
    *out = s;
    return NDE_OK;
}

void nde_solver_destroy(nde_solver **sp)
{
    if (!sp || !*sp) return;
    nde_solver *s = *sp;
    if (s->shared_adj_destroy) s->shared_adj_destroy(&s->shared_adj);
    if (s->ops && s->ops->free_data) s->ops->free_data(s);
    nde_free(s->ts);
    nde_free(s->steps);
    nde_free(s->save_src);
    nde_free(s->tape);
    nde_free(s->k);
    nde_free(s->y);
    nde_free(s->u);
    nde_free(s->u_new);
    nde_free(s->scratch);
    nde_free(s->replay_h);
    nde_free(s);
    *sp = NULL;
}

nde_status nde_solver_reserve(nde_solver *s, size_t n, size_t nt)
{
    if (n > s->n_cap) {
        size_t st = work_stages(s);
        double *k = nde_alloc_array(st * n, sizeof *k), *y = nde_alloc_array(st * n, sizeof *y);
        double *u = nde_alloc_array(n, sizeof *u), *un = nde_alloc_array(n, sizeof *un);
        double *sc = nde_alloc_array(n, sizeof *sc);
        if (!k || !y || !u || !un || !sc) {
            nde_free(k), nde_free(y), nde_free(u), nde_free(un), nde_free(sc);
            return NDE_ERR_NOMEM;
        }
        nde_free(s->k), nde_free(s->y), nde_free(s->u), nde_free(s->u_new), nde_free(s->scratch);
        s->k = k, s->y = y, s->u = u, s->u_new = un, s->scratch = sc;
        s->n_cap = n;
        /* the tape's stride depends on n: drop the old one */
        nde_free(s->tape);
        s->tape = NULL;
        s->tape_cap_steps = 0;
    }
    if (nt > s->save_cap) {
        nde_save_src *src = nde_alloc_array(nt, sizeof *src);
        double *ts = nde_alloc_array(nt, sizeof *ts);
        if (!src || !ts) {
            nde_free(src), nde_free(ts);
            return NDE_ERR_NOMEM;
        }
        nde_free(s->save_src), nde_free(s->ts);
        s->save_src = src, s->ts = ts;
        s->save_cap = nt;
    }
    return NDE_OK;
}

/* Tape records a solve of `steps` accepted steps needs (plus the step being attempted
 * when counting its slot): one per step, or one per checkpoint_every steps (only u0 when
 * 0) for NDE_TAPE_CHECKPOINT, none without a tape. */
static size_t tape_records(const nde_solver *s, size_t steps)
{
    if (s->tape_stride == 0 || steps == 0) return 0;
    if (s->opts.tape != NDE_TAPE_CHECKPOINT) return steps;
    size_t every = s->opts.checkpoint_every;
    return every ? (steps - 1) / every + 1 : 1;
}

/* Bytes of step log and tape for `steps` steps, if they fit in `limit` (else 0 → no). */
static int fits(const nde_solver *s, size_t steps, size_t limit)
{
    size_t log_bytes = sizeof(nde_step_rec), rec_bytes = s->tape_stride * sizeof(double);
    if (steps > limit / log_bytes) return 0;
    size_t room = limit - steps * log_bytes, recs = tape_records(s, steps);
    return recs == 0 || recs <= room / rec_bytes;
}

/* The most accepted steps whose step log and tape fit in the limit together: both
 * buffers are clamped to this many steps' worth, so growing one never leaves the other
 * without room and their sum never exceeds the limit. */
static size_t steps_within_limit(const nde_solver *s)
{
    if (s->record_limit == SIZE_MAX) return SIZE_MAX;
    size_t lo = 0, hi = s->record_limit / sizeof(nde_step_rec); /* fits(lo); answer <= hi */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (fits(s, mid, s->record_limit))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static nde_status limit_failure(const nde_solver *s, const char *what)
{
    size_t steps = s->n_steps + 1, recs = tape_records(s, steps);
    size_t need = steps * sizeof(nde_step_rec) + recs * s->tape_stride * sizeof(double);
    double t = s->n_steps ? s->steps[s->n_steps - 1].t + s->steps[s->n_steps - 1].h
                          : (s->ts ? s->ts[0] : 0.0);
    return NDE_FAIL(NDE_ERR_LIMIT,
                    "%s: recording step %zu (t = %.17g) needs %zu bytes of tape and step log "
                    "(growing the %s), more than the limit of %zu bytes; raise "
                    "nde_solver_opts.tape_max_bytes (SIZE_MAX: unlimited) or record less per "
                    "step (NDE_TAPE_STEP_STARTS, NDE_TAPE_CHECKPOINT)",
                    nde_method_name(s->opts.method), s->n_steps, t, need, what,
                    s->record_limit);
}

/* Before growing tape or step log to `new_bytes` in all: once a solve holds more than a
 * sixteenth of the limit and at least PACE_MIN_STEPS steps, project the steps it needs from its pace so far (accepted steps
 * per length of [t0, t_end] covered) and fail now if even half of them would not fit,
 * rather than fill the limit first (a diverging training solve creeps along with tiny
 * steps: spiral --lr 16 covered 0.05 of its 0.225 window in 8623 steps, 1 GB of tape). */
#define PACE_MIN_STEPS 256 /* steps before a pace is trusted */

static nde_status check_pace(const nde_solver *s, size_t new_bytes)
{
    if (s->record_limit == SIZE_MAX || new_bytes <= s->record_limit / 16 ||
        s->n_steps < PACE_MIN_STEPS || !s->ts || s->nt < 2)
        return NDE_OK;
    const nde_step_rec *last = &s->steps[s->n_steps - 1];
    double t0 = s->ts[0], t_end = s->ts[s->nt - 1], t = last->t + last->h;
    double span = fabs(t_end - t0), covered = fabs(t - t0);
    if (!(covered > 0.0) || !(covered < span) || !(fabs(last->h) > 0.0)) return NDE_OK;
    /* both the average pace and the last step's must say so: a start-up transient
     * (small first steps, then growing) or one small step alone does not */
    double projected = (double)s->n_steps * span / covered;
    double at_last_h = (double)s->n_steps + (span - covered) / fabs(last->h);
    double most = (double)steps_within_limit(s);
    if (projected / 2 < most || at_last_h / 2 < most) return NDE_OK;
    if (at_last_h < projected) projected = at_last_h;
    size_t recs = tape_records(s, 1);
    double per_step = (double)(sizeof(nde_step_rec) + recs * s->tape_stride * sizeof(double));
    return NDE_FAIL(NDE_ERR_LIMIT,
                    "%s: after %zu steps the solve has reached t = %.17g of [%g, %g] (last step "
                    "h = %g): at this pace it needs about %.3g steps and %.3g bytes of tape and "
                    "step log, over twice the limit of %zu bytes: the solution diverges or is "
                    "very stiff (training: lower the learning rate or clip the gradient; else "
                    "an implicit method), or raise nde_solver_opts.tape_max_bytes",
                    nde_method_name(s->opts.method), s->n_steps, t, t0, t_end, last->h,
                    projected, projected * per_step, s->record_limit);
}

/* Bytes a buffer already holds, to keep the sum strict even if the other buffer grew
 * under different sizes in an earlier solve. */
static size_t tape_alloc_bytes(const nde_solver *s)
{
    return s->tape_cap_steps * s->tape_stride * sizeof(double);
}

static size_t clamp_cap(size_t want, size_t need, size_t most)
{
    return want < need ? need : want > most ? most : want;
}

nde_status nde_solver_log_step(nde_solver *s, double t, double h, double err_est,
                               double stiff_est)
{
    if (s->n_steps == s->steps_cap) {
        size_t most = steps_within_limit(s), other = tape_alloc_bytes(s);
        size_t room = s->record_limit > other ? (s->record_limit - other) / sizeof(nde_step_rec)
                                              : 0;
        if (room < most) most = room;
        if (s->n_steps + 1 > most) return limit_failure(s, "step log");
        size_t cap = clamp_cap(s->steps_cap ? 2 * s->steps_cap : 64, s->n_steps + 1, most);
        NDE_TRY(check_pace(s, other + cap * sizeof(nde_step_rec)));
        nde_step_rec *st = nde_alloc_uninit(cap, sizeof *st);
        if (!st) return NDE_ERR_NOMEM;
        if (s->n_steps) memcpy(st, s->steps, s->n_steps * sizeof *st);
        nde_free(s->steps);
        s->steps = st;
        s->steps_cap = cap;
    }
    s->steps[s->n_steps++] = (nde_step_rec){.t = t, .h = h, .err_est = err_est,
                                            .stiff_est = stiff_est};
    return NDE_OK;
}

nde_status nde_solver_tape_slot(nde_solver *s, double **slot)
{
    return nde_solver_tape_slot_at(s, s->n_steps, slot); /* the step about to be logged */
}

nde_status nde_solver_tape_slot_at(nde_solver *s, size_t idx, double **slot)
{
    if (idx >= s->tape_cap_steps) {
        size_t most = tape_records(s, steps_within_limit(s));
        size_t other = s->steps_cap * sizeof(nde_step_rec), rec = s->tape_stride * sizeof(double);
        size_t room = s->record_limit > other ? (s->record_limit - other) / rec : 0;
        if (room < most) most = room;
        if (idx + 1 > most) return limit_failure(s, "tape");
        /* checkpoint tapes stay small: O(√N) or O(1) records, so start at one */
        size_t first = s->opts.tape == NDE_TAPE_CHECKPOINT ? 1 : 64;
        size_t cap = clamp_cap(s->tape_cap_steps ? 2 * s->tape_cap_steps : first, idx + 1, most);
        NDE_TRY(check_pace(s, other + cap * rec));
        double *t = nde_alloc_uninit(cap, s->tape_stride * sizeof *t);
        if (!t) return NDE_ERR_NOMEM;
        if (idx) memcpy(t, s->tape, idx * s->tape_stride * sizeof *t);
        nde_free(s->tape);
        s->tape = t;
        s->tape_cap_steps = cap;
    }
    *slot = s->tape + idx * s->tape_stride;
    return NDE_OK;
}

double nde_err_norm(const double *err, const double *u, const double *u_new, size_t n,
                    double atol, double rtol)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double scale = atol + rtol * fmax(fabs(u[i]), fabs(u_new[i]));
        double r = err[i] / scale;
        acc += r * r;
    }
    return sqrt(acc / (double)n);
}

static nde_status check_solve_args(const nde_solver *s, size_t batch, const double *u0, size_t nt,
                                   const double *ts, const double *traj)
{
    if (!u0 || !ts || !traj) return NDE_FAIL(NDE_ERR_ARG, "nde_solve: NULL u0, ts or traj");
    if (batch == 0) return NDE_FAIL(NDE_ERR_ARG, "nde_solve: batch is 0");
    if (nt < 2) return NDE_FAIL(NDE_ERR_ARG, "nde_solve: need at least 2 save times, got %zu", nt);
    for (size_t k = 0; k < nt; k++)
        if (!isfinite(ts[k]))
            return NDE_FAIL(NDE_ERR_ARG, "nde_solve: save time ts[%zu] = %g is not finite", k,
                            ts[k]);
    double dir = ts[1] > ts[0] ? 1.0 : -1.0;
    for (size_t k = 1; k < nt; k++)
        if (!(dir * (ts[k] - ts[k - 1]) > 0.0))
            return NDE_FAIL(NDE_ERR_ARG,
                            "nde_solve: save times must be strictly monotone: ts[%zu] = %.17g "
                            "after ts[%zu] = %.17g",
                            k, ts[k], k - 1, ts[k - 1]);
    size_t n = batch * s->field.dim;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(u0[i]))
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "nde_solve: initial state u0[%zu] (sample %zu, component %zu) = %g",
                            i, i / s->field.dim, i % s->field.dim, u0[i]);
    return NDE_OK;
}

nde_status nde_solve(nde_solver *s, size_t batch, size_t dim, const double *u0, size_t nt,
                     const double *ts, double *traj)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "nde_solve: solver is NULL");
    if (dim != s->field.dim)
        return NDE_FAIL(NDE_ERR_SHAPE, "nde_solve: state has %zu components per sample, the "
                        "vector field has dim %zu", dim, s->field.dim);
    s->solved_ok = 0;
    s->n_steps = 0;
    memset(&s->stats, 0, sizeof s->stats);
    NDE_TRY(check_solve_args(s, batch, u0, nt, ts, traj));
    size_t n = batch * s->field.dim;
    NDE_TRY(nde_solver_reserve(s, n, nt));
    s->batch = batch;
    s->n = n;
    s->nt = nt;
    memcpy(s->ts, ts, nt * sizeof *ts);
    nde_status st = s->ops->solve(s, u0, traj);
    s->solved_ok = st == NDE_OK;
    s->stats.tape_bytes = nde_solver_tape_view(s).tape_bytes; /* also after a failure */
    return st;
}

nde_status nde_solver_freeze_steps(nde_solver *s)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "nde_solver_freeze_steps: solver is NULL");
    if (!s->solved_ok || s->n_steps == 0)
        return NDE_FAIL(NDE_ERR_STATE, "nde_solver_freeze_steps: no successful solve to replay");
    double *h = nde_alloc_array(s->n_steps, sizeof *h);
    if (!h) return NDE_ERR_NOMEM;
    for (size_t i = 0; i < s->n_steps; i++) h[i] = s->steps[i].h;
    nde_free(s->replay_h);
    s->replay_h = h;
    s->n_replay = s->n_steps;
    return NDE_OK;
}

void nde_solver_unfreeze_steps(nde_solver *s)
{
    if (!s) return;
    nde_free(s->replay_h);
    s->replay_h = NULL;
    s->n_replay = 0;
}

nde_tape_view nde_solver_tape_view(const nde_solver *s)
{
    size_t recs = s->n_steps, every = s->opts.checkpoint_every;
    if (s->opts.tape == NDE_TAPE_CHECKPOINT) recs = every ? (s->n_steps + every - 1) / every : 1;
    if (!s->tape || s->tape_stride == 0) recs = 0;
    return (nde_tape_view){
        .field = &s->field, .opts = &s->opts, .tab = s->tab, .ctx = s->ctx,
        .solved_ok = s->solved_ok, .batch = s->batch, .n = s->n, .nt = s->nt, .ts = s->ts,
        .save_src = s->save_src, .steps = s->steps, .n_steps = s->n_steps, .tape = s->tape,
        .tape_stride = s->tape_stride, .n_records = recs,
        .tape_bytes = recs * s->tape_stride * sizeof(double),
    };
}

nde_status nde_solver_set_recording(nde_solver *s, nde_tape tape, size_t checkpoint_every,
                                    size_t checkpoint_slots, size_t cvodes_adj_steps)
{
    nde_solver_opts o = s->opts;
    o.tape = tape;
    o.checkpoint_every = checkpoint_every;
    o.checkpoint_slots = checkpoint_slots;
    o.cvodes_adj_steps = cvodes_adj_steps;
    if (o.tape == s->opts.tape && o.checkpoint_every == s->opts.checkpoint_every &&
        o.checkpoint_slots == s->opts.checkpoint_slots &&
        o.cvodes_adj_steps == s->opts.cvodes_adj_steps)
        return NDE_OK;
    NDE_TRY(nde_field_check(&s->field, tape != NDE_TAPE_NONE));
    NDE_TRY(check_opts(&o));
    const char *m = nde_method_name(o.method);
    if (tape != NDE_TAPE_NONE && !s->tab)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED,
                        "%s: the discrete-adjoint tape is for explicit RK methods", m);
    if (cvodes_adj_steps > 0 && o.method != NDE_CVODE_BDF && o.method != NDE_CVODE_ADAMS)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: CVODES checkpoints need NDE_CVODE_BDF/ADAMS",
                        m);
    if (cvodes_adj_steps > 0 && !s->field.vjp)
        return NDE_FAIL(NDE_ERR_ARG, "%s: the CVODES adjoint needs a field with a vjp", m);
    /* the backend was built for the old options (CVodeAdjInit or not): rebuild it */
    nde_solver_opts old = s->opts;
    if (s->ops->free_data) s->ops->free_data(s);
    s->opts = o;
    s->solved_ok = 0;
    nde_status st = s->ops->init ? s->ops->init(s) : NDE_OK;
    if (st != NDE_OK) {
        /* keep a usable solver: back to the options it had (their backend was valid) */
        s->opts = old;
        if (s->ops->init) (void)s->ops->init(s);
    }
    return st;
}

void nde_solver_note_adjoint(nde_solver *s, const nde_adjoint_stats *st)
{
    s->stats.n_vjp = st->n_vjp;
    s->stats.n_adjoint_nfe = st->nfe;
    s->stats.n_recomputed_steps = st->n_recomputed_steps;
    s->stats.adjoint_peak_bytes = st->peak_bytes;
    s->stats.adjoint_max_states = st->max_states;
}

nde_adjoint *nde_solver_shared_adjoint(const nde_solver *s) { return s->shared_adj; }

void nde_solver_set_shared_adjoint(nde_solver *s, nde_adjoint *adj,
                                   void (*destroy)(nde_adjoint **adj))
{
    if (s->shared_adj_destroy) s->shared_adj_destroy(&s->shared_adj);
    s->shared_adj = adj;
    s->shared_adj_destroy = destroy;
}

size_t nde_solver_bytes(const nde_solver *s)
{
    if (!s) return 0;
    return (s->n_cap * (2 * work_stages(s) + 3) + s->tape_cap_steps * s->tape_stride) *
               sizeof(double) +
           s->steps_cap * sizeof(nde_step_rec);
}

const nde_step_rec *nde_solver_steps(const nde_solver *s, size_t *n_steps)
{
    if (n_steps) *n_steps = s ? s->n_steps : 0;
    return s ? s->steps : NULL;
}

const nde_solver_stats *nde_solver_get_stats(const nde_solver *s) { return s ? &s->stats : NULL; }
const nde_solver_opts *nde_solver_get_opts(const nde_solver *s) { return s ? &s->opts : NULL; }
const nde_field *nde_solver_field(const nde_solver *s) { return s ? &s->field : NULL; }
