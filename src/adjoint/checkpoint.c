/* Binomial checkpointing for the discrete adjoint: see checkpoint.h. */
#include "adjoint/checkpoint.h"

#include <math.h>
#include <string.h>

#include "ode/rk_step.h"

typedef struct ckpt_run {
    const nde_tape_view *v;
    nde_adjoint_stats *st;
    nde_ckpt_visit visit;
    void *user;
    size_t n;
    double *snap;     /* (slots − 1, n) */
    double *work[2];  /* (n) each: the state while advancing */
    double *y, *k;    /* (stages, n) */
    size_t in_use, max_in_use; /* snapshots held beyond the segment start */
} ckpt_run;

static size_t ceil_log2(size_t v)
{
    size_t l = 0;
    while (l < 8 * sizeof v && ((size_t)1 << l) < v) l++;
    return l;
}

size_t nde_ckpt_slots(const nde_tape_view *v)
{
    size_t every = v->opts->checkpoint_every;
    size_t seg = every ? every : v->n_steps;
    size_t c = v->opts->checkpoint_slots;
    if (c == 0) c = every ? every : ceil_log2(v->n_steps) + 1;
    if (c > seg) c = seg;
    return c ? c : 1;
}

size_t nde_ckpt_workspace(const nde_tape_view *v)
{
    return (nde_ckpt_slots(v) - 1 + 2 + 2 * (size_t)v->tab->stages) * v->n;
}

/* β(c, r) = C(c + r, c), saturated just above `cap` (only comparisons with cap matter). */
static size_t beta(size_t c, size_t r, size_t cap)
{
    size_t v = 1;
    for (size_t i = 1; i <= r; i++) {
        /* C(c+i, i) = C(c+i−1, i−1)·(c+i)/i is exact in integers */
        if (v > cap) return cap + 1;
        v = v * (c + i) / i;
    }
    return v;
}

/* dst = u_{m0+count}, recomputed from src = u_{m0} (count >= 1). */
static nde_status advance(ckpt_run *r, size_t m0, size_t count, const double *src, double *dst)
{
    const nde_tape_view *v = r->v;
    const nde_tableau *tab = v->tab;
    size_t n = r->n, ns = (size_t)tab->stages;
    const double *cur = src;
    for (size_t j = 0; j < count; j++) {
        size_t m = m0 + j;
        double h = v->steps[m].h;
        double *out = j + 1 == count ? dst : r->work[j % 2];
        NDE_TRY(nde_rk_stages(tab, v->field, v->batch, v->steps[m].t, h, cur, r->k, r->y, 0,
                              &r->st->nfe));
        /* exactly the forward's u_{n+1} (rk_solve.c) */
        if (tab->fsal)
            memcpy(out, r->y + (ns - 1) * n, n * sizeof *out);
        else
            nde_rk_combine(tab, tab->b, h, cur, r->k, n, out);
        r->st->n_recomputed_steps++;
        cur = out;
    }
    return NDE_OK;
}

/* Reverse steps [a, b) given u_a (not owned) and c snapshots counting the one of u_a;
 * snapshot slots from `slot` on are free. */
static nde_status reverse_range(ckpt_run *r, size_t a, size_t b, const double *ua, size_t c,
                                size_t slot)
{
    size_t n = r->n;
    while (b - a > 1 && c > 1) {
        size_t len = b - a, rep = 0;
        while (beta(c, rep, len) < len) rep++;
        size_t behind = beta(c - 1, rep, len);
        size_t d = behind >= len ? 1 : len - behind;
        if (d >= len) d = len - 1;
        double *snap = r->snap + slot * n;
        NDE_TRY(advance(r, a, d, ua, snap));
        r->in_use = slot + 1;
        if (r->in_use > r->max_in_use) r->max_in_use = r->in_use;
        NDE_TRY(reverse_range(r, a + d, b, snap, c - 1, slot + 1));
        r->in_use = slot;
        b = a + d;
    }
    if (b - a == 1) return r->visit(r->user, a, ua);
    /* one snapshot left: recompute each step start from u_a (quadratic in b − a) */
    for (size_t m = b; m-- > a;) {
        if (m == a) {
            NDE_TRY(r->visit(r->user, a, ua));
        } else {
            double *um = r->work[(m - a) % 2 ? 0 : 1];
            NDE_TRY(advance(r, a, m - a, ua, um));
            NDE_TRY(r->visit(r->user, m, um));
        }
    }
    return NDE_OK;
}

nde_status nde_ckpt_reverse(const nde_tape_view *v, nde_adjoint_stats *st, nde_ckpt_visit visit,
                            void *user, double *ws)
{
    size_t n = v->n, ns = (size_t)v->tab->stages, c = nde_ckpt_slots(v);
    ckpt_run r = {.v = v, .st = st, .visit = visit, .user = user, .n = n, .snap = ws};
    r.work[0] = ws + (c - 1) * n;
    r.work[1] = r.work[0] + n;
    r.y = r.work[1] + n;
    r.k = r.y + ns * n;
    size_t every = v->opts->checkpoint_every, N = v->n_steps;
    size_t seg = every ? every : N;
    size_t n_seg = (N + seg - 1) / seg;
    for (size_t j = n_seg; j-- > 0;) {
        size_t a = j * seg, b = a + seg < N ? a + seg : N;
        NDE_TRY(reverse_range(&r, a, b, nde_tape_record(v, j), c, 0));
    }
    st->max_states = n_seg + r.max_in_use;
    return NDE_OK;
}
