/* The explicit Runge–Kutta driver: adaptive embedded pairs with PI control and FSAL,
 * or fixed steps; dense output at the save times; step log, tape and callback. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ode/rk_step.h"
#include "ode/solver_internal.h"
#include "ode/step_control.h"

/* Everything one solve carries from step to step. */
typedef struct rk_run {
    nde_solver *s;
    const nde_tableau *tab;
    const nde_solver_opts *o;
    const nde_field *f;
    size_t n, ns;          /* unknowns (batch·dim) and stages */
    double *traj;          /* (nt, n) output */
    double dir, t0, t_end, span, dt_min;
    int has_estimate;      /* the tableau has an embedded error estimate */
    int adaptive;          /* error control on (embedded pair, not fixed_step, not replay) */
    size_t next;           /* next save index to fill */
    size_t n_fixed;        /* fixed-step methods: number of steps */
    double h_fixed;
    /* the step loop's state */
    double t, h;           /* current time; the step to attempt next */
    double *u, *u_new;     /* state at t and the attempt's end (swapped on acceptance) */
    double *rec;           /* where the attempt's stage records go (NULL: not recorded) */
    double err_prev;       /* the PI controller's previous accepted error */
    int after_reject;      /* the previous attempt was rejected */
    int k1_ready;          /* k[0] holds f(t, u) (FSAL) */
    int nonfinite;         /* the last rejection came from a non-finite estimate */
    size_t attempts;
} rk_run;

/* Doubles of one stage's field record for the whole batch (0: the field keeps none or
 * the tape does not store stages). */
static size_t rec_doubles(const nde_solver *s)
{
    return s->field.f_rec ? s->batch * s->field.rec_size : 0;
}

/* Where the stages of the step being attempted write their records: the tape slot of
 * that step (NDE_TAPE_STAGES with a recording field), else NULL. */
static nde_status stage_records(nde_solver *s, double **rec)
{
    *rec = NULL;
    if (s->opts.tape != NDE_TAPE_STAGES || !s->field.f_rec) return NDE_OK;
    double *slot;
    NDE_TRY(nde_solver_tape_slot(s, &slot));
    *rec = slot + 2 * (size_t)s->tab->stages * s->n;
    return NDE_OK;
}

static size_t tape_stride(const nde_solver *s)
{
    switch (s->opts.tape) {
    case NDE_TAPE_STAGES: /* Y, k, and the field's records: (2, stages, n), (stages, rec) */
        return (size_t)s->tab->stages * (2 * s->n + rec_doubles(s));
    case NDE_TAPE_STEP_STARTS:
    case NDE_TAPE_CHECKPOINT: return s->n;
    default: return 0;
    }
}

static nde_status record_tape(nde_solver *s, const double *u, const double *y, const double *k)
{
    if (s->tape_stride == 0) return NDE_OK;
    double *slot;
    if (s->opts.tape == NDE_TAPE_CHECKPOINT) {
        /* only every checkpoint_every-th step start (or u0 alone when it is 0) */
        size_t every = s->opts.checkpoint_every;
        if (every ? s->n_steps % every != 0 : s->n_steps != 0) return NDE_OK;
        NDE_TRY(nde_solver_tape_slot_at(s, every ? s->n_steps / every : 0, &slot));
        memcpy(slot, u, s->tape_stride * sizeof *slot);
        return NDE_OK;
    }
    NDE_TRY(nde_solver_tape_slot(s, &slot));
    if (s->opts.tape == NDE_TAPE_STAGES) {
        size_t sn = (size_t)s->tab->stages * s->n; /* records are already in place */
        memcpy(slot, y, sn * sizeof *slot);
        memcpy(slot + sn, k, sn * sizeof *slot);
    } else {
        memcpy(slot, u, s->tape_stride * sizeof *slot);
    }
    return NDE_OK;
}

/* Fill every save time that falls in (t, t_new] from the step's dense output. A
 * continuous extension with extra stages (DOP853, Verner) evaluates them here, once, and
 * only when a save time falls strictly inside the step; they go after the step's stages
 * in s->k, s->y and count in nfe. */
static nde_status write_outputs(rk_run *r, double t, double h, double t_new, const double *u,
                                const double *u_new, double *traj)
{
    nde_solver *s = r->s;
    const nde_tableau *tab = r->tab;
    size_t n = s->n, step = s->n_steps - 1, ns = (size_t)tab->stages;
    int extra_ready = nde_tableau_dense_stages(tab) == tab->stages;
    while (r->next < s->nt && r->dir * (s->ts[r->next] - t_new) <= 0.0) {
        double *out = traj + r->next * n;
        double tk = s->ts[r->next];
        if (tk == t_new || r->next == s->nt - 1) {
            memcpy(out, u_new, n * sizeof *out);
            s->save_src[r->next] = (nde_save_src){.step = step, .theta = 1.0};
        } else {
            double theta = (tk - t) / h;
            double w[NDE_RK_MAX_STAGES] = {0};
            if (!extra_ready) {
                NDE_TRY(nde_rk_extra_stages(tab, r->f, s->batch, t, h, u, s->k, s->k + ns * n,
                                            s->y + ns * n, NULL, &s->stats.nfe));
                extra_ready = 1;
            }
            tab->dense(theta, w);
            nde_rk_combine_dense(tab, w, h, u, s->k, n, out);
            s->save_src[r->next] = (nde_save_src){.step = step, .theta = theta};
        }
        r->next++;
    }
    return NDE_OK;
}

static int callback(nde_solver *s, double t, double h, double err, double stiff, int accepted,
                    const double *u)
{
    if (!s->opts.callback) return 0;
    nde_step_info info = {
        .step = s->stats.n_accepted + s->stats.n_rejected - 1,
        .t = t, .h = h, .err_est = err, .stiff_est = stiff, .accepted = accepted,
        .nfe = s->stats.nfe, .u = u, .n = s->n,
    };
    return s->opts.callback(&info, s->opts.callback_user);
}

/* The step to attempt from t: the controller's h clamped to the end (adaptive), or the
 * next point of the uniform grid (fixed). Fixed grids are t0 + j·h so that rounding
 * does not accumulate, with the last point exactly t_end. */
static double next_step(const rk_run *r, double t, double h)
{
    const nde_solver *s = r->s;
    if (s->replay_h) {
        size_t j = s->stats.n_accepted;
        return j + 1 == s->n_replay ? r->t_end - t : s->replay_h[j];
    }
    if (!r->adaptive) {
        size_t j = r->s->stats.n_accepted + 1;
        double t_next = j >= r->n_fixed ? r->t_end : r->s->ts[0] + r->dir * (double)j * r->h_fixed;
        return t_next - t;
    }
    double remaining = r->t_end - t;
    if (fabs(h) >= fabs(remaining)) return remaining;
    return h;
}

/* Set up a solve: time span and guards, tape layout, traj[0] = u0. */
static void begin(rk_run *r, nde_solver *s, const double *u0, double *traj)
{
    *r = (rk_run){.s = s, .tab = s->tab, .o = &s->opts, .f = &s->field, .n = s->n,
                  .ns = (size_t)s->tab->stages, .traj = traj, .next = 1};
    r->has_estimate = r->tab->est_order > 0;
    r->adaptive = r->has_estimate && !r->o->fixed_step && !s->replay_h;
    r->t0 = s->ts[0];
    r->t_end = s->ts[s->nt - 1];
    r->dir = r->t_end > r->t0 ? 1.0 : -1.0;
    r->span = fabs(r->t_end - r->t0);
    r->dt_min = r->o->dt_min > 0.0 ? r->o->dt_min
                                   : 1e-14 * fmax(r->span, fmax(fabs(r->t0), fabs(r->t_end)));
    size_t stride = tape_stride(s);
    if (stride != s->tape_stride) {
        nde_free(s->tape);
        s->tape = NULL;
        s->tape_cap_steps = 0;
        s->tape_stride = stride;
    }
    r->u = s->u;
    r->u_new = s->u_new;
    memcpy(r->u, u0, r->n * sizeof *r->u);
    memcpy(traj, u0, r->n * sizeof *traj);
    s->save_src[0] = (nde_save_src){.step = SIZE_MAX, .theta = 0.0};
    r->t = r->t0;
    r->err_prev = 1e-4; /* Hairer's initial facold */
    r->k1_ready = 1;
}

/* Keep |h| <= dt_max. */
static void limit_step(rk_run *r)
{
    if (r->o->dt_max > 0.0 && fabs(r->h) > r->o->dt_max) r->h = r->dir * r->o->dt_max;
}

/* k1 = f(t0, u0) and the first step: the frozen sequence's, the fixed grid's, h0, or
 * Hairer's initial-step heuristic (Hairer, Nørsett & Wanner I, II.4). */
static nde_status first_step(rk_run *r)
{
    nde_solver *s = r->s;
    const nde_solver_opts *o = r->o;
    const nde_field *f = r->f;
    NDE_TRY(stage_records(s, &r->rec));
    if (r->rec)
        NDE_TRY(f->f_rec(f->ctx, r->t, r->u, s->k, r->rec, s->batch));
    else
        NDE_TRY(f->f(f->ctx, r->t, r->u, s->k, s->batch));
    s->stats.nfe++;
    if (s->replay_h) {
        r->h = s->replay_h[0];
    } else if (!r->adaptive) {
        r->h_fixed = o->h0 > 0.0 ? o->h0 : r->span / 100.0;
        double steps = ceil(r->span / r->h_fixed * (1.0 - 1e-12));
        if (steps > (double)o->max_steps)
            return NDE_FAIL(NDE_ERR_MAX_STEPS,
                            "%s with step %g needs %.0f steps on [%g, %g], max_steps is %zu",
                            r->tab->name, r->h_fixed, steps, r->t0, r->t_end, o->max_steps);
        r->n_fixed = steps < 1.0 ? 1 : (size_t)steps;
        r->h = r->dir * r->h_fixed;
    } else if (o->h0 > 0.0) {
        r->h = r->dir * o->h0;
    } else {
        double habs;
        NDE_TRY(nde_initial_step(f, s->batch, r->t, r->dir, r->u, s->k, r->tab->order, o->atol,
                                 o->rtol, s->y, &habs, &s->stats.nfe));
        r->h = r->dir * habs;
    }
    limit_step(r);
    return NDE_OK;
}

/* Before an attempt: the guards (frozen sequence exhausted, max_steps, dt_min) and the
 * step actually attempted (clamped to the end or on the grid). */
static nde_status plan_attempt(rk_run *r)
{
    nde_solver *s = r->s;
    const char *name = r->tab->name;
    if (s->replay_h && s->stats.n_accepted >= s->n_replay)
        return NDE_FAIL(NDE_ERR_STATE,
                        "%s: frozen step sequence of %zu steps ended at t = %.17g before "
                        "t_end = %.17g",
                        name, s->n_replay, r->t, r->t_end);
    if (r->attempts++ >= r->o->max_steps)
        return NDE_FAIL(NDE_ERR_MAX_STEPS,
                        "%s: max_steps = %zu reached at t = %.17g of [%g, %g] (h = %g, "
                        "%zu accepted, %zu rejected)",
                        name, r->o->max_steps, r->t, r->t0, r->t_end, r->h, s->stats.n_accepted,
                        s->stats.n_rejected);
    r->h = next_step(r, r->t, r->h);
    if (fabs(r->h) < r->dt_min && fabs(r->h) < fabs(r->t_end - r->t)) {
        if (r->nonfinite)
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "%s: state or derivative became non-finite near t = %.17g and "
                            "shrinking the step to %g did not help",
                            name, r->t, fabs(r->h));
        return NDE_FAIL(NDE_ERR_DT_MIN,
                        "%s: step size %g fell below dt_min = %g at t = %.17g "
                        "(%zu accepted, %zu rejected steps)",
                        name, fabs(r->h), r->dt_min, r->t, s->stats.n_accepted,
                        s->stats.n_rejected);
    }
    return NDE_OK;
}

/* Attempt the step (t, h): stages, u_new and the normalized error estimate *err
 * (non-finite values make it non-finite; fixed-step methods have no estimate, so it is
 * 0 unless u_new is non-finite). */
static nde_status attempt(rk_run *r, double *err)
{
    nde_solver *s = r->s;
    const nde_tableau *tab = r->tab;
    size_t n = r->n;
    NDE_TRY(stage_records(s, &r->rec));
    NDE_TRY(nde_rk_stages_rec(tab, r->f, s->batch, r->t, r->h, r->u, s->k, s->y, r->rec,
                              r->k1_ready, &s->stats.nfe));
    r->k1_ready = 1;
    if (tab->fsal)
        memcpy(r->u_new, s->y + (r->ns - 1) * n, n * sizeof *r->u_new);
    else
        nde_rk_combine(tab, tab->b, r->h, r->u, s->k, n, r->u_new);
    double e = 0.0;
    if (r->has_estimate) {
        e = nde_rk_error(tab, r->h, r->u, r->u_new, s->k, n, r->o->atol, r->o->rtol,
                         s->scratch, 0.0, NULL, NULL, NULL);
    } else {
        for (size_t i = 0; i < n && isfinite(e); i++) e += r->u_new[i] - r->u_new[i];
    }
    if (!isfinite(e)) {
        if (!r->adaptive)
            return NDE_FAIL(NDE_ERR_NONFINITE,
                            "%s: state became non-finite in the step from t = %.17g (h = %g)",
                            tab->name, r->t, r->h);
        r->nonfinite = 1;
    }
    *err = e;
    return NDE_OK;
}

/* Accept the attempted step: tape, step log, outputs at the save times it covers,
 * callback, FSAL hand-over, then advance t and let the PI controller pick the next h. */
static nde_status accept(rk_run *r, double err)
{
    nde_solver *s = r->s;
    const nde_tableau *tab = r->tab;
    size_t n = r->n, ns = r->ns;
    double t = r->t, h = r->h;
    double stiff = nde_rk_stiffness(tab, s->k, s->y, n);
    double t_new = (h == r->t_end - t) ? r->t_end : t + h;
    NDE_TRY(record_tape(s, r->u, s->y, s->k));
    NDE_TRY(nde_solver_log_step(s, t, h, err, stiff));
    s->stats.n_accepted++;
    NDE_TRY(write_outputs(r, t, h, t_new, r->u, r->u_new, r->traj));
    if (callback(s, t, h, err, stiff, 1, r->u_new))
        return NDE_FAIL(NDE_ERR_STOPPED, "%s: callback stopped the solve at t = %.17g",
                        tab->name, t_new);
    if (tab->fsal) {
        memcpy(s->k, s->k + (ns - 1) * n, n * sizeof *s->k);
        if (r->rec) {
            /* the next step's first record is this step's last */
            size_t rd = rec_doubles(s);
            double *next;
            NDE_TRY(stage_records(s, &next)); /* may move the tape */
            const double *last = s->tape + (s->n_steps - 1) * s->tape_stride + 2 * ns * n +
                                 (ns - 1) * rd;
            memcpy(next, last, rd * sizeof *next);
        }
    } else {
        r->k1_ready = 0;
    }
    double *swap = r->u;
    r->u = r->u_new;
    r->u_new = swap;
    r->t = t_new;
    if (r->adaptive) {
        r->h *= nde_pi_accept_factor(r->o, err, r->err_prev, r->after_reject);
        r->err_prev = fmax(err, 1e-4);
    }
    r->after_reject = 0;
    r->nonfinite = 0;
    return NDE_OK;
}

/* Reject the attempted step: count it, tell the callback, shrink h. */
static nde_status reject(rk_run *r, double err)
{
    nde_solver *s = r->s;
    s->stats.n_rejected++;
    if (callback(s, r->t, r->h, err, 0.0, 0, r->u))
        return NDE_FAIL(NDE_ERR_STOPPED, "%s: callback stopped the solve at t = %.17g",
                        r->tab->name, r->t);
    r->h *= nde_pi_reject_factor(r->o, err);
    r->after_reject = 1;
    return NDE_OK;
}

/* The adaptive (or fixed-grid) loop: attempt steps until the last save time is
 * written, accepting those whose estimate passes (all of them without error control). */
static nde_status run(rk_run *r)
{
    NDE_TRY(first_step(r));
    while (r->next < r->s->nt) {
        NDE_TRY(plan_attempt(r));
        double err = 0.0;
        NDE_TRY(attempt(r, &err));
        if (isfinite(err) && (err <= 1.0 || !r->adaptive))
            NDE_TRY(accept(r, err));
        else
            NDE_TRY(reject(r, err));
        limit_step(r);
    }
    return NDE_OK;
}

static nde_status rk_solve(nde_solver *s, const double *u0, double *traj)
{
    rk_run r;
    begin(&r, s, u0, traj);
    nde_status st = run(&r);
    /* u and u_new may have been swapped an odd number of times: keep the pointers the
     * solver owns consistent for the next solve. */
    s->u = r.u;
    s->u_new = r.u_new;
    return st;
}

const nde_backend_ops nde_rk_backend_ops = {.solve = rk_solve, .free_data = NULL};
