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
    double dir, t_end, dt_min;
    int adaptive;  /* error control on (embedded pair, not fixed_step, not replay) */
    size_t next;   /* next save index to fill */
    size_t n_fixed; /* fixed-step methods: number of steps */
    double h_fixed;
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

/* Fill every save time that falls in (t, t_new] from the step's dense output. */
static void write_outputs(rk_run *r, double t, double h, double t_new, const double *u,
                          const double *u_new, double *traj)
{
    nde_solver *s = r->s;
    size_t n = s->n, step = s->n_steps - 1;
    while (r->next < s->nt && r->dir * (s->ts[r->next] - t_new) <= 0.0) {
        double *out = traj + r->next * n;
        double tk = s->ts[r->next];
        if (tk == t_new || r->next == s->nt - 1) {
            memcpy(out, u_new, n * sizeof *out);
            s->save_src[r->next] = (nde_save_src){.step = step, .theta = 1.0};
        } else {
            double theta = (tk - t) / h;
            double w[NDE_RK_MAX_STAGES] = {0};
            r->tab->dense(theta, w);
            nde_rk_combine(r->tab, w, h, u, s->k, n, out);
            s->save_src[r->next] = (nde_save_src){.step = step, .theta = theta};
        }
        r->next++;
    }
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

static nde_status rk_solve(nde_solver *s, const double *u0, double *traj)
{
    const nde_tableau *tab = s->tab;
    const nde_solver_opts *o = &s->opts;
    const nde_field *f = &s->field;
    size_t n = s->n, ns = (size_t)tab->stages;
    int has_estimate = tab->est_order > 0;
    int adaptive = has_estimate && !o->fixed_step && !s->replay_h;
    rk_run r = {.s = s, .tab = tab, .next = 1, .adaptive = adaptive};
    double t0 = s->ts[0];
    r.t_end = s->ts[s->nt - 1];
    r.dir = r.t_end > t0 ? 1.0 : -1.0;
    double span = fabs(r.t_end - t0);
    r.dt_min = o->dt_min > 0.0 ? o->dt_min : 1e-14 * fmax(span, fmax(fabs(t0), fabs(r.t_end)));

    size_t stride = tape_stride(s);
    if (stride != s->tape_stride) {
        nde_free(s->tape);
        s->tape = NULL;
        s->tape_cap_steps = 0;
        s->tape_stride = stride;
    }

    double *u = s->u, *u_new = s->u_new, *k = s->k, *y = s->y;
    memcpy(u, u0, n * sizeof *u);
    memcpy(traj, u0, n * sizeof *traj);
    s->save_src[0] = (nde_save_src){.step = SIZE_MAX, .theta = 0.0};

    double t = t0, h;
    double *rec;
    NDE_TRY(stage_records(s, &rec));
    if (rec)
        NDE_TRY(f->f_rec(f->ctx, t, u, k, rec, s->batch));
    else
        NDE_TRY(f->f(f->ctx, t, u, k, s->batch));
    s->stats.nfe++;
    if (s->replay_h) {
        h = s->replay_h[0];
    } else if (!adaptive) {
        r.h_fixed = o->h0 > 0.0 ? o->h0 : span / 100.0;
        double steps = ceil(span / r.h_fixed * (1.0 - 1e-12));
        if (steps > (double)o->max_steps)
            return NDE_FAIL(NDE_ERR_MAX_STEPS,
                            "%s with step %g needs %.0f steps on [%g, %g], max_steps is %zu",
                            tab->name, r.h_fixed, steps, t0, r.t_end, o->max_steps);
        r.n_fixed = steps < 1.0 ? 1 : (size_t)steps;
        h = r.dir * r.h_fixed;
    } else if (o->h0 > 0.0) {
        h = r.dir * o->h0;
    } else {
        double habs;
        NDE_TRY(nde_initial_step(f, s->batch, t, r.dir, u, k, tab->order, o->atol, o->rtol, y,
                                 &habs, &s->stats.nfe));
        h = r.dir * habs;
    }
    if (o->dt_max > 0.0 && fabs(h) > o->dt_max) h = r.dir * o->dt_max;

    double err_prev = 1e-4; /* Hairer's initial facold */
    int after_reject = 0, k1_ready = 1, nonfinite = 0;
    size_t attempts = 0;
    while (r.next < s->nt) {
        if (s->replay_h && s->stats.n_accepted >= s->n_replay)
            return NDE_FAIL(NDE_ERR_STATE,
                            "%s: frozen step sequence of %zu steps ended at t = %.17g before "
                            "t_end = %.17g",
                            tab->name, s->n_replay, t, r.t_end);
        if (attempts++ >= o->max_steps)
            return NDE_FAIL(NDE_ERR_MAX_STEPS,
                            "%s: max_steps = %zu reached at t = %.17g of [%g, %g] (h = %g, "
                            "%zu accepted, %zu rejected)",
                            tab->name, o->max_steps, t, t0, r.t_end, h, s->stats.n_accepted,
                            s->stats.n_rejected);
        h = next_step(&r, t, h);
        double remaining = r.t_end - t;
        if (fabs(h) < r.dt_min && fabs(h) < fabs(remaining)) {
            if (nonfinite)
                return NDE_FAIL(NDE_ERR_NONFINITE,
                                "%s: state or derivative became non-finite near t = %.17g and "
                                "shrinking the step to %g did not help",
                                tab->name, t, fabs(h));
            return NDE_FAIL(NDE_ERR_DT_MIN,
                            "%s: step size %g fell below dt_min = %g at t = %.17g "
                            "(%zu accepted, %zu rejected steps)",
                            tab->name, fabs(h), r.dt_min, t, s->stats.n_accepted,
                            s->stats.n_rejected);
        }
        NDE_TRY(stage_records(s, &rec));
        NDE_TRY(nde_rk_stages_rec(tab, f, s->batch, t, h, u, k, y, rec, k1_ready, &s->stats.nfe));
        k1_ready = 1;
        if (tab->fsal)
            memcpy(u_new, y + (ns - 1) * n, n * sizeof *u_new);
        else
            nde_rk_combine(tab, tab->b, h, u, k, n, u_new);

        double err = 0.0;
        if (has_estimate) {
            nde_rk_combine(tab, tab->btilde, h, NULL, k, n, s->scratch);
            err = nde_err_norm(s->scratch, u, u_new, n, o->atol, o->rtol);
        } else {
            for (size_t e = 0; e < n && isfinite(err); e++) err += u_new[e] - u_new[e];
        }
        if (!isfinite(err)) {
            if (!adaptive)
                return NDE_FAIL(NDE_ERR_NONFINITE,
                                "%s: state became non-finite in the step from t = %.17g "
                                "(h = %g)",
                                tab->name, t, h);
            nonfinite = 1;
        }

        if (isfinite(err) && (err <= 1.0 || !adaptive)) {
            double stiff = nde_rk_stiffness(tab, k, y, n);
            double t_new = (h == remaining) ? r.t_end : t + h;
            NDE_TRY(record_tape(s, u, y, k));
            NDE_TRY(nde_solver_log_step(s, t, h, err, stiff));
            s->stats.n_accepted++;
            write_outputs(&r, t, h, t_new, u, u_new, traj);
            if (callback(s, t, h, err, stiff, 1, u_new))
                return NDE_FAIL(NDE_ERR_STOPPED, "%s: callback stopped the solve at t = %.17g",
                                tab->name, t_new);
            if (tab->fsal) {
                memcpy(k, k + (ns - 1) * n, n * sizeof *k);
                if (rec) {
                    /* the next step's first record is this step's last */
                    size_t rd = rec_doubles(s);
                    double *next;
                    NDE_TRY(stage_records(s, &next)); /* may move the tape */
                    const double *last = s->tape + (s->n_steps - 1) * s->tape_stride +
                                         2 * ns * n + (ns - 1) * rd;
                    memcpy(next, last, rd * sizeof *next);
                }
            } else {
                k1_ready = 0;
            }
            double *swap = u;
            u = u_new;
            u_new = swap;
            t = t_new;
            if (adaptive) {
                h *= nde_pi_accept_factor(o, err, err_prev, after_reject);
                err_prev = fmax(err, 1e-4);
            }
            after_reject = 0;
            nonfinite = 0;
        } else {
            s->stats.n_rejected++;
            if (callback(s, t, h, err, 0.0, 0, u))
                return NDE_FAIL(NDE_ERR_STOPPED, "%s: callback stopped the solve at t = %.17g",
                                tab->name, t);
            h *= nde_pi_reject_factor(o, err);
            after_reject = 1;
        }
        if (o->dt_max > 0.0 && fabs(h) > o->dt_max) h = r.dir * o->dt_max;
    }
    /* u and u_new may have been swapped an odd number of times: keep the pointers the
     * solver owns consistent for the next solve. */
    s->u = u;
    s->u_new = u_new;
    return NDE_OK;
}

const nde_backend_ops nde_rk_backend_ops = {.solve = rk_solve, .free_data = NULL};
