/* SDE solver: driver, step-size control, step log, tape and discrete adjoint for the
 * generic stochastic Runge–Kutta form of sde_internal.h, plus Milstein (with g ∂g/∂u from
 * the diffusion's vjp) and Euler–Maruyama for general noise. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "sde/sde_internal.h"

#define MAXS 4

struct nde_sde_solver {
    nde_field drift;
    nde_diffusion diff;
    nde_sde_opts o;
    const sde_tab *tab;
    double delta;
    /* last solve */
    size_t batch, n, nw, gs; /* n = batch·dim, nw = batch·m, gs = batch·(diffusion size) */
    size_t nt;
    int solved_ok;
    nde_solver_stats stats;
    nde_step_rec *steps;
    size_t n_steps, steps_cap;
    /* tape, per accepted step: u_n (n), ΔW (nw), H (nw) (NDE_TAPE_STEP_STARTS and
     * NDE_TAPE_STAGES), then for NDE_TAPE_STAGES the stages X0 (S, n), X1 (S, n),
     * k (s0, n), g (s1, n) (stage_doubles; 0 for general noise, whose EM step has none)
     * and, when the drift / diffusion offer f_rec / g_rec, their records (s0, rf) and
     * (s1, rg), rf = batch·drift.rec_size, rg = batch·diff.rec_size (0 when not kept) */
    double *tape;
    size_t tape_stride, tape_cap, stage_doubles, rf, rg;
    double *rec_dst; /* records of the step being taken (in the tape), or NULL */
    /* NDE_TAPE_CHECKPOINT: the start of every every-th step (n each) and the tree */
    double *ckpt;
    size_t n_ckpt, ckpt_cap, every;
    nde_brownian *bm;
    double *seg;      /* reverse sweep: one segment's step starts and increments */
    size_t seg_cap;   /* doubles */
    /* local regularizer: the selected step of the last solve, or −1 */
    long local_step;
    long *save_after; /* (steps_cap) save index reached by the step, or −1 */
    double *tend;     /* (steps_cap) end time of each accepted step */
    /* frozen step end times */
    double *replay;
    size_t n_replay;
    /* workspace */
    size_t n_cap, nw_cap, gs_cap;
    double *X0, *X1, *k, *g;      /* (MAXS, n), (MAXS, n), (MAXS, n), (MAXS, gs) */
    double *u, *u_new, *e1, *e2;  /* (n) */
    double *dWx, *c1x, *c2x, *c3x; /* (n) noise terms per state component */
    int need_c1, need_c2, need_c3; /* whether the tableau reads χ1, χ2, χ3 (else left 0) */
    int need_e2;                  /* whether some β[2][j], β[3][j] (the E2 terms) is not 0 */
    double *acc;                  /* (MAXS, n) accumulators of the stage and output sums */
    double *Wt, *At, *Wn, *An, *dW, *dH; /* (nw) */
    /* adjoint workspace */
    double *ub, *kb, *gb, *vb;    /* (n), (MAXS, n), (MAXS, gs), (n) */
};

/* ---- names ---------------------------------------------------------------------- */

static const char *const method_names[NDE_SDE_METHOD_COUNT] = {
    "em", "milstein", "milstein_df", "sriw1", "sosri", "sosri2", "sra1", "sosra"};

const char *nde_sde_method_name(nde_sde_method m)
{
    if ((int)m < 0 || m >= NDE_SDE_METHOD_COUNT) return "unknown";
    return method_names[m];
}

nde_status nde_sde_method_parse(const char *name, nde_sde_method *m)
{
    if (!name || !m) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_method_parse: NULL argument");
    for (int i = 0; i < NDE_SDE_METHOD_COUNT; i++)
        if (strcasecmp(name, method_names[i]) == 0) {
            *m = (nde_sde_method)i;
            return NDE_OK;
        }
    return NDE_FAIL(NDE_ERR_ARG, "unknown SDE method '%.64s' (em, milstein, milstein_df, sriw1, "
                                 "sosri, sosri2, sra1, sosra)", name);
}

int nde_sde_method_is_adaptive(nde_sde_method m)
{
    const sde_tab *t = ((int)m >= 0 && m < NDE_SDE_METHOD_COUNT) ? nde_sde_tableau(m) : NULL;
    return t ? t->adaptive : 0;
}

int nde_sde_needs_area(nde_sde_method m)
{
    const sde_tab *T = ((int)m >= 0 && m < NDE_SDE_METHOD_COUNT) ? nde_sde_tableau(m) : NULL;
    if (!T) return 0;
    int need = 0;
    for (int j = 0; j < T->s1; j++) {
        need |= T->beta[2][j] != 0;
        for (int i = 0; i < 4; i++) need |= T->b0[i][j] != 0;
    }
    return need;
}

/* ---- diffusion ------------------------------------------------------------------ */

size_t nde_diffusion_size(const nde_diffusion *g)
{
    if (!g) return 0;
    return g->noise == NDE_NOISE_GENERAL ? g->dim * g->m : g->dim;
}

nde_status nde_diffusion_check(const nde_diffusion *g, size_t dim, int need_vjp)
{
    if (!g) return NDE_FAIL(NDE_ERR_ARG, "diffusion is NULL");
    if (!g->g) return NDE_FAIL(NDE_ERR_ARG, "diffusion: g callback is NULL");
    if (need_vjp && !g->vjp) return NDE_FAIL(NDE_ERR_ARG, "diffusion: vjp callback is NULL (the adjoint needs it)");
    if ((int)g->noise < 0 || g->noise >= NDE_NOISE_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "diffusion: unknown noise type %d", (int)g->noise);
    if (g->m == 0) return NDE_FAIL(NDE_ERR_ARG, "diffusion: m = 0 Wiener processes");
    if (!g->g_rec != !g->vjp_rec)
        return NDE_FAIL(NDE_ERR_ARG, "diffusion: has only one of g_rec and vjp_rec");
    if (g->g_rec && g->rec_size == 0)
        return NDE_FAIL(NDE_ERR_ARG, "diffusion: has g_rec but rec_size 0");
    if (g->dim != dim)
        return NDE_FAIL(NDE_ERR_SHAPE, "diffusion: dim %zu does not match the state dim %zu", g->dim, dim);
    if ((g->noise == NDE_NOISE_DIAGONAL || g->noise == NDE_NOISE_ADDITIVE) && g->m != g->dim)
        return NDE_FAIL(NDE_ERR_SHAPE, "diffusion: %s noise needs m = dim, got m = %zu, dim = %zu",
                        g->noise == NDE_NOISE_DIAGONAL ? "diagonal" : "additive", g->m, g->dim);
    if (g->noise == NDE_NOISE_SCALAR && g->m != 1)
        return NDE_FAIL(NDE_ERR_SHAPE, "diffusion: scalar noise needs m = 1, got m = %zu", g->m);
    if (g->dim > SIZE_MAX / (g->m ? g->m : 1))
        return NDE_FAIL(NDE_ERR_SHAPE, "diffusion: dim·m overflows");
    return NDE_OK;
}

/* ---- options and lifetime --------------------------------------------------------- */

nde_sde_opts nde_sde_defaults(nde_sde_method m)
{
    return (nde_sde_opts){.method = m, .rtol = 1e-3, .atol = 1e-3};
}

static void free_work(nde_sde_solver *s)
{
    double **bufs[] = {&s->X0, &s->X1, &s->k, &s->g, &s->acc, &s->u, &s->u_new, &s->e1, &s->e2,
                       &s->dWx, &s->c1x, &s->c2x, &s->c3x, &s->Wt, &s->At, &s->Wn, &s->An,
                       &s->dW, &s->dH, &s->ub, &s->kb, &s->gb, &s->vb};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        nde_free(*bufs[i]);
        *bufs[i] = NULL;
    }
    s->n_cap = s->nw_cap = s->gs_cap = 0;
}

void nde_sde_solver_destroy(nde_sde_solver **sp)
{
    if (!sp || !*sp) return;
    nde_sde_solver *s = *sp;
    free_work(s);
    nde_free(s->steps);
    nde_free(s->tape);
    nde_free(s->ckpt);
    nde_free(s->seg);
    nde_free(s->save_after);
    nde_free(s->tend);
    nde_free(s->replay);
    nde_free(s);
    *sp = NULL;
}

nde_status nde_sde_solver_create(const nde_field *drift, const nde_diffusion *diff,
                                 const nde_sde_opts *opts, nde_sde_solver **sp)
{
    if (!sp) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solver_create: solver pointer is NULL");
    *sp = NULL;
    if (!drift || !diff || !opts) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solver_create: NULL argument");
    nde_sde_opts o = *opts;
    if ((int)o.method < 0 || o.method >= NDE_SDE_METHOD_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solver_create: unknown method %d", (int)o.method);
    int taped = o.tape != NDE_TAPE_NONE;
    if (o.tape != NDE_TAPE_NONE && o.tape != NDE_TAPE_STEP_STARTS && o.tape != NDE_TAPE_STAGES &&
        o.tape != NDE_TAPE_CHECKPOINT)
        return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solver_create: unknown tape mode %d (NDE_TAPE_NONE, "
                                     "_STAGES, _STEP_STARTS or _CHECKPOINT)", (int)o.tape);
    NDE_TRY(nde_field_check(drift, taped));
    NDE_TRY(nde_diffusion_check(diff, drift->dim, taped || o.method == NDE_SDE_MILSTEIN));
    if (taped && o.method == NDE_SDE_MILSTEIN)
        return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solver_create: milstein has no adjoint (it needs "
                                     "second derivatives of g); use milstein_df");
    nde_noise nz = diff->noise;
    const char *mn = nde_sde_method_name(o.method);
    if (nz == NDE_NOISE_GENERAL && o.method != NDE_SDE_EM)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_sde_solver_create: %s does not handle general "
                                             "noise (only em does)", mn);
    if (o.method == NDE_SDE_MILSTEIN && nz != NDE_NOISE_DIAGONAL && nz != NDE_NOISE_ADDITIVE)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_sde_solver_create: milstein needs diagonal noise "
                                             "(milstein_df also takes scalar noise)");
    if ((o.method == NDE_SDE_SRA1 || o.method == NDE_SDE_SOSRA) && nz != NDE_NOISE_ADDITIVE)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_sde_solver_create: %s needs additive noise", mn);
    if (!(o.rtol > 0) || !(o.atol > 0) || !isfinite(o.rtol) || !isfinite(o.atol))
        return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solver_create: rtol = %g, atol = %g must be positive",
                        o.rtol, o.atol);
    if (!(o.h0 >= 0) || !(o.dt_min >= 0) || !(o.dt_max >= 0) || !(o.safety >= 0) ||
        !(o.fac_min >= 0) || !(o.fac_max >= 0) || !(o.expo >= 0) || !(o.delta >= 0) ||
        !isfinite(o.h0) || !isfinite(o.dt_max))
        return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solver_create: negative or non-finite step option "
                                     "(h0 %g, dt_min %g, dt_max %g)", o.h0, o.dt_min, o.dt_max);
    if (o.max_steps == 0) o.max_steps = 100000;
    if (o.safety == 0) o.safety = 0.9;
    if (o.fac_min == 0) o.fac_min = 0.2;
    if (o.fac_max == 0) o.fac_max = 10;
    if (o.expo == 0) o.expo = 0.5;
    nde_sde_solver *s = nde_alloc(sizeof *s);
    if (!s) return NDE_ERR_NOMEM;
    s->drift = *drift;
    s->diff = *diff;
    s->o = o;
    s->tab = nde_sde_tableau(o.method);
    s->delta = o.delta > 0 ? o.delta : s->tab->delta;
    const sde_tab *T = s->tab;
    s->need_c2 = nde_sde_needs_area(o.method);
    for (int j = 0; j < T->s1; j++) {
        s->need_c1 |= T->beta[1][j] != 0;
        s->need_c3 |= T->beta[3][j] != 0;
        s->need_e2 |= T->beta[2][j] != 0 || T->beta[3][j] != 0;
    }
    s->local_step = -1;
    *sp = s;
    return NDE_OK;
}

static nde_status reserve(nde_sde_solver *s, size_t n, size_t nw, size_t gs)
{
    if (n <= s->n_cap && nw <= s->nw_cap && gs <= s->gs_cap) return NDE_OK;
    free_work(s);
    if (n > SIZE_MAX / (MAXS * sizeof(double)) || gs > SIZE_MAX / (MAXS * sizeof(double)))
        return NDE_FAIL(NDE_ERR_NOMEM, "SDE workspace for %zu unknowns overflows", n);
    double **bn[] = {&s->u, &s->u_new, &s->e1, &s->e2, &s->dWx, &s->c1x, &s->c2x, &s->c3x,
                     &s->ub, &s->vb};
    for (size_t i = 0; i < sizeof bn / sizeof bn[0]; i++)
        if (!(*bn[i] = nde_alloc_array(n, sizeof(double)))) goto fail;
    double **bs[] = {&s->X0, &s->X1, &s->k, &s->kb, &s->acc};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
        if (!(*bs[i] = nde_alloc_array(MAXS * n, sizeof(double)))) goto fail;
    if (!(s->g = nde_alloc_array(MAXS * gs, sizeof(double)))) goto fail;
    if (!(s->gb = nde_alloc_array(MAXS * gs, sizeof(double)))) goto fail;
    double **bw[] = {&s->Wt, &s->At, &s->Wn, &s->An, &s->dW, &s->dH};
    for (size_t i = 0; i < sizeof bw / sizeof bw[0]; i++)
        if (!(*bw[i] = nde_alloc_array(nw, sizeof(double)))) goto fail;
    s->n_cap = n;
    s->nw_cap = nw;
    s->gs_cap = gs;
    return NDE_OK;
fail:
    free_work(s);
    return NDE_ERR_NOMEM;
}

/* Room for accepted step number idx in the log, tape and bookkeeping. */
static nde_status grow_steps(nde_sde_solver *s, size_t idx)
{
    if (idx < s->steps_cap) return NDE_OK;
    size_t cap = s->steps_cap ? 2 * s->steps_cap : 64;
    nde_step_rec *st = nde_alloc_array(cap, sizeof *st);
    long *sa = nde_alloc_array(cap, sizeof *sa);
    double *te = nde_alloc_array(cap, sizeof *te);
    double *tp = NULL;
    if (s->tape_stride) tp = nde_alloc_array(cap, s->tape_stride * sizeof(double));
    if (!st || !sa || !te || (s->tape_stride && !tp)) {
        nde_free(st);
        nde_free(sa);
        nde_free(te);
        nde_free(tp);
        return NDE_FAIL(NDE_ERR_NOMEM, "SDE step log: %zu steps", cap);
    }
    if (s->steps_cap) {
        memcpy(st, s->steps, s->steps_cap * sizeof *st);
        memcpy(sa, s->save_after, s->steps_cap * sizeof *sa);
        memcpy(te, s->tend, s->steps_cap * sizeof *te);
        if (tp && s->tape) memcpy(tp, s->tape, s->steps_cap * s->tape_stride * sizeof(double));
    }
    nde_free(s->steps);
    nde_free(s->save_after);
    nde_free(s->tend);
    nde_free(s->tape);
    s->steps = st;
    s->save_after = sa;
    s->tend = te;
    s->tape = tp;
    s->steps_cap = cap;
    return NDE_OK;
}

/* ---- one step ---------------------------------------------------------------------- */

/* Per-state-component noise terms ΔW, χ1, χ2, χ3 of a step (diagonal/additive: component
 * i of sample b uses noise (b, i); scalar: noise b). */
static void noise_terms(nde_sde_solver *s, double h, const double *dW, const double *dH)
{
    size_t dim = s->drift.dim, n = s->n;
    double sh = sqrt(h);
    if (s->diff.noise == NDE_NOISE_SCALAR) { /* one noise per sample: spread it over dim */
        for (size_t b = 0; b < s->batch; b++)
            for (size_t i = 0; i < dim; i++) {
                s->dWx[b * dim + i] = dW[b];
                if (s->need_c2) s->c2x[b * dim + i] = dH[b];
            }
    } else {
        memcpy(s->dWx, dW, n * sizeof(double));
        if (s->need_c2) memcpy(s->c2x, dH, n * sizeof(double));
    }
    /* χ1, χ2, χ3 from ΔW (and H, staged in c2x); the ones the tableau never reads stay 0
     * as allocated (their coefficients are 0: a 0·0 term leaves the sums' bits as a 0·χ
     * term did) */
    if (s->need_c1)
        for (size_t q = 0; q < n; q++) {
            double dw = s->dWx[q];
            s->c1x[q] = (dw * dw - h) / (2 * sh);
        }
    if (s->need_c3)
        for (size_t q = 0; q < n; q++) {
            double dw = s->dWx[q];
            s->c3x[q] = (dw * dw * dw - 3 * dw * h) / (6 * h);
        }
    if (s->need_c2)
        for (size_t q = 0; q < n; q++) s->c2x[q] = s->dWx[q] / 2 + s->c2x[q];
}

static nde_status srk_outputs(nde_sde_solver *s, double h, const double *u, double *err,
                              double *stiff);

/* X0_i, X1_i (i ≥ 1) from u and the stages j < i: the sums over j accumulated in j order
 * from 0 in s->acc, the sample index innermost (vectorized). */
static void stage_inputs(nde_sde_solver *s, int i, double h, double sh, const double *u,
                         double *x0, double *x1)
{
    const sde_tab *T = s->tab;
    size_t n = s->n;
    double *a0 = s->acc, *b0 = s->acc + n, *a1 = s->acc + 2 * n, *b1 = s->acc + 3 * n;
    memset(s->acc, 0, 4 * n * sizeof(double));
    for (int j = 0; j < i; j++) {
        if (j < T->s0) {
            const double *kj = s->k + (size_t)j * n, ca0 = T->a0[i][j], ca1 = T->a1[i][j];
            for (size_t q = 0; q < n; q++) {
                a0[q] += ca0 * kj[q];
                a1[q] += ca1 * kj[q];
            }
        }
        if (j < T->s1) {
            const double *gj = s->g + (size_t)j * n, cb0 = T->b0[i][j], cb1 = T->b1[i][j];
            for (size_t q = 0; q < n; q++) {
                b0[q] += cb0 * gj[q];
                b1[q] += cb1 * gj[q];
            }
        }
    }
    for (size_t q = 0; q < n; q++) {
        x0[q] = u[q] + h * a0[q] + s->c2x[q] * b0[q];
        x1[q] = u[q] + h * a1[q] + sh * b1[q];
    }
}

/* Stage inputs of the generic form from (t, u); computes k (s0, n), g (s1, n) and, when
 * want_out, u_new, e1, e2, the error and stiffness estimates. Without want_out (the
 * reverse sweep's recomputation of the stage inputs) the last stage's k and g, which
 * only the outputs read, are not evaluated. With s->rec_dst the drift and diffusion
 * write their records there (the stage tape). */
static nde_status srk_stages(nde_sde_solver *s, double t, double h, const double *u, int want_out,
                             double *err, double *stiff)
{
    const sde_tab *T = s->tab;
    size_t n = s->n, batch = s->batch;
    double sh = sqrt(h);
    int S = T->s0 > T->s1 ? T->s0 : T->s1;
    for (int i = 0; i < S; i++) {
        double *x0 = s->X0 + (size_t)i * n, *x1 = s->X1 + (size_t)i * n;
        if (i == 0) { /* the empty sums: the same operations on zeros */
            for (size_t q = 0; q < n; q++) {
                x0[q] = u[q] + h * 0.0 + s->c2x[q] * 0.0;
                x1[q] = u[q] + h * 0.0 + sh * 0.0;
            }
        } else {
            stage_inputs(s, i, h, sh, u, x0, x1);
        }
        if (!want_out && i == S - 1) break;
        double *rec = s->rec_dst;
        if (i < T->s0) {
            double ti = t + T->c0[i] * h, *ki = s->k + (size_t)i * n;
            if (rec && s->rf)
                NDE_TRY(s->drift.f_rec(s->drift.ctx, ti, x0, ki, rec + (size_t)i * s->rf, batch));
            else
                NDE_TRY(s->drift.f(s->drift.ctx, ti, x0, ki, batch));
            s->stats.nfe++;
        }
        if (i < T->s1) {
            double ti = t + T->c1[i] * h, *gi = s->g + (size_t)i * n;
            if (rec && s->rg)
                NDE_TRY(s->diff.g_rec(s->diff.ctx, ti, x1, gi,
                                      rec + (size_t)T->s0 * s->rf + (size_t)i * s->rg, batch));
            else
                NDE_TRY(s->diff.g(s->diff.ctx, ti, x1, gi, batch));
        }
    }
    if (!want_out) return NDE_OK;
    return srk_outputs(s, h, u, err, stiff);
}

/* From the stages in X0, k, g: u_new, e1, e2, the error and stiffness estimates. */
static nde_status srk_outputs(nde_sde_solver *s, double h, const double *u, double *err,
                              double *stiff)
{
    const sde_tab *T = s->tab;
    size_t n = s->n;
    /* Σ α_j k_j (in u_new), Σ k_j (e1), the noise sum d (acc) and E2 (e2), each summed
     * in j order from 0 with q innermost */
    double *dk = s->u_new, *e1 = s->e1, *d = s->acc, *e2 = s->e2;
    /* E1 only feeds the error estimate; E2 also the update, unless its β are all 0, when
     * it is exactly +0 (a +0 start plus ±0 terms) and "+ 0.0" stands for it */
    const int want_e1 = T->adaptive, want_e2 = T->adaptive || s->need_e2;
    memset(dk, 0, n * sizeof(double));
    if (want_e1) memset(e1, 0, n * sizeof(double));
    memset(d, 0, n * sizeof(double));
    if (want_e2) memset(e2, 0, n * sizeof(double));
    for (int j = 0; j < T->s0; j++) {
        const double *kj = s->k + (size_t)j * n, al = T->alpha[j];
        for (size_t q = 0; q < n; q++) dk[q] += al * kj[q];
        if (want_e1)
            for (size_t q = 0; q < n; q++) e1[q] += kj[q];
    }
    for (int j = 0; j < T->s1; j++) {
        const double *gj = s->g + (size_t)j * n;
        const double be0 = T->beta[0][j], be1 = T->beta[1][j], be2 = T->beta[2][j], be3 = T->beta[3][j];
        for (size_t q = 0; q < n; q++) d[q] += (be0 * s->dWx[q] + be1 * s->c1x[q]) * gj[q];
        if (want_e2)
            for (size_t q = 0; q < n; q++) e2[q] += (be2 * s->c2x[q] + be3 * s->c3x[q]) * gj[q];
    }
    if (want_e2)
        for (size_t q = 0; q < n; q++) s->u_new[q] = u[q] + h * dk[q] + d[q] + e2[q];
    else
        for (size_t q = 0; q < n; q++) s->u_new[q] = u[q] + h * dk[q] + d[q] + 0.0;
    if (want_e1)
        for (size_t q = 0; q < n; q++) e1[q] = h * e1[q];
    *err = 0;
    *stiff = 0;
    if (T->adaptive) {
        double acc = 0;
        for (size_t q = 0; q < n; q++) {
            double sc = s->o.atol + s->o.rtol * fmax(fabs(u[q]), fabs(s->u_new[q]));
            double r = (s->delta * s->e1[q] + s->e2[q]) / sc;
            acc += r * r;
        }
        *err = sqrt(acc / (double)n);
    }
    if (T->stiff && T->s0 >= 2) {
        /* ‖k4 − k3‖ / ‖X0_3 − X0_2‖ with the RMS norm (the ratio makes the 1/n cancel) */
        int a = T->s0 - 1, b = T->s0 - 2;
        double nk = 0, nx = 0;
        for (size_t q = 0; q < n; q++) {
            double dk = s->k[(size_t)a * n + q] - s->k[(size_t)b * n + q];
            double dx = s->X0[(size_t)a * n + q] - s->X0[(size_t)b * n + q];
            nk += dk * dk;
            nx += dx * dx;
        }
        *stiff = nx > 0 ? sqrt(nk / nx) : 0.0;
    }
    return NDE_OK;
}

/* Milstein for diagonal noise: u + h f + g ΔW + ½ (g ∂g/∂u) (ΔW² − h), with g ∂g/∂u the
 * diffusion's vjp at v = g (exact for diagonal noise, where g_i depends on u_i only). */
static nde_status milstein_step(nde_sde_solver *s, double t, double h, const double *u)
{
    size_t n = s->n;
    NDE_TRY(s->drift.f(s->drift.ctx, t, u, s->k, s->batch));
    s->stats.nfe++;
    NDE_TRY(s->diff.g(s->diff.ctx, t, u, s->g, s->batch));
    NDE_TRY(s->diff.vjp(s->diff.ctx, t, u, s->g, s->vb, NULL, s->batch));
    for (size_t q = 0; q < n; q++) {
        double dw = s->dWx[q];
        s->u_new[q] = u[q] + h * s->k[q] + s->g[q] * dw + 0.5 * s->vb[q] * (dw * dw - h);
    }
    return NDE_OK;
}

/* Euler–Maruyama with general noise: u + h f + G ΔW, G (dim, m) per sample. */
static nde_status em_general_step(nde_sde_solver *s, double t, double h, const double *u)
{
    size_t dim = s->drift.dim, m = s->diff.m;
    NDE_TRY(s->drift.f(s->drift.ctx, t, u, s->k, s->batch));
    s->stats.nfe++;
    NDE_TRY(s->diff.g(s->diff.ctx, t, u, s->g, s->batch));
    for (size_t b = 0; b < s->batch; b++)
        for (size_t i = 0; i < dim; i++) {
            size_t q = b * dim + i;
            const double *G = s->g + (b * dim + i) * m, *dw = s->dW + b * m;
            double acc = 0;
            for (size_t j = 0; j < m; j++) acc += G[j] * dw[j];
            s->u_new[q] = u[q] + h * s->k[q] + acc;
        }
    return NDE_OK;
}

static nde_status take_step(nde_sde_solver *s, double t, double h, const double *u, double *err,
                            double *stiff)
{
    *err = 0;
    *stiff = 0;
    if (s->diff.noise == NDE_NOISE_GENERAL) return em_general_step(s, t, h, u);
    noise_terms(s, h, s->dW, s->dH);
    if (s->o.method == NDE_SDE_MILSTEIN) return milstein_step(s, t, h, u);
    return srk_stages(s, t, h, u, 1, err, stiff);
}

/* ΔW and H of the step [t, t + hs] from the tree's points (Wt, At) at t and (Wn, An) at
 * t + hs: the forward and the checkpointed reverse sweep use this one formula. */
static void increments(nde_sde_solver *s, double hs)
{
    for (size_t i = 0; i < s->nw; i++) s->dW[i] = s->Wn[i] - s->Wt[i];
    if (s->need_c2)
        for (size_t i = 0; i < s->nw; i++)
            s->dH[i] = (s->An[i] - s->At[i] - hs * s->Wt[i]) / hs - s->dW[i] / 2;
}

/* Where the tree writes its space–time areas: nowhere for methods that never read H
 * (only χ2 does), which spares the tree half the normals of a point inside a leaf. */
static double *area(const nde_sde_solver *s, double *a) { return s->need_c2 ? a : NULL; }

/* Stages of the generic form kept per step by NDE_TAPE_STAGES (0 for general noise). */
static size_t stage_doubles(const nde_sde_solver *s, size_t n)
{
    if (s->diff.noise == NDE_NOISE_GENERAL) return 0;
    size_t S = (size_t)(s->tab->s0 > s->tab->s1 ? s->tab->s0 : s->tab->s1);
    return (2 * S + (size_t)s->tab->s0 + (size_t)s->tab->s1) * n;
}

static void stages_to(const nde_sde_solver *s, double *dst)
{
    size_t n = s->n, S = (size_t)(s->tab->s0 > s->tab->s1 ? s->tab->s0 : s->tab->s1);
    memcpy(dst, s->X0, S * n * sizeof(double));
    memcpy(dst + S * n, s->X1, S * n * sizeof(double));
    memcpy(dst + 2 * S * n, s->k, (size_t)s->tab->s0 * n * sizeof(double));
    memcpy(dst + (2 * S + (size_t)s->tab->s0) * n, s->g, (size_t)s->tab->s1 * n * sizeof(double));
}

static void stages_from(nde_sde_solver *s, const double *src)
{
    size_t n = s->n, S = (size_t)(s->tab->s0 > s->tab->s1 ? s->tab->s0 : s->tab->s1);
    memcpy(s->X0, src, S * n * sizeof(double));
    memcpy(s->X1, src + S * n, S * n * sizeof(double));
    memcpy(s->k, src + 2 * S * n, (size_t)s->tab->s0 * n * sizeof(double));
    memcpy(s->g, src + (2 * S + (size_t)s->tab->s0) * n, (size_t)s->tab->s1 * n * sizeof(double));
}

/* Keep u (n) as checkpoint number n_ckpt. */
static nde_status push_ckpt(nde_sde_solver *s, const double *u)
{
    size_t n = s->n;
    if (s->n_ckpt * n + n > s->ckpt_cap) {
        size_t cap = s->ckpt_cap ? 2 * s->ckpt_cap : 8 * n;
        while (cap < s->n_ckpt * n + n) cap *= 2;
        double *c = nde_alloc_array(cap, sizeof *c);
        if (!c) return NDE_FAIL(NDE_ERR_NOMEM, "SDE checkpoints: %zu doubles", cap);
        if (s->n_ckpt) memcpy(c, s->ckpt, s->n_ckpt * n * sizeof *c);
        nde_free(s->ckpt);
        s->ckpt = c;
        s->ckpt_cap = cap;
    }
    memcpy(s->ckpt + s->n_ckpt * n, u, n * sizeof *u);
    s->n_ckpt++;
    return NDE_OK;
}

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* ---- driver ----------------------------------------------------------------------- */

nde_status nde_sde_solve(nde_sde_solver *s, nde_brownian *bm, size_t batch, size_t dim,
                         const double *u0, size_t nt, const double *ts, double *traj)
{
    if (!s || !bm || !u0 || !ts || !traj) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solve: NULL argument");
    s->solved_ok = 0;
    s->n_steps = 0;
    s->n_ckpt = 0;
    s->local_step = -1;
    s->bm = NULL;
    memset(&s->stats, 0, sizeof s->stats);
    if (batch == 0) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solve: batch = 0");
    if (dim != s->drift.dim)
        return NDE_FAIL(NDE_ERR_SHAPE, "nde_sde_solve: dim %zu, but the drift has dim %zu", dim, s->drift.dim);
    if (nt < 2) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solve: nt = %zu < 2", nt);
    for (size_t k = 0; k < nt; k++) {
        if (!isfinite(ts[k])) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solve: ts[%zu] = %g is not finite", k, ts[k]);
        if (k && !(ts[k] > ts[k - 1]))
            return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solve: ts must be strictly increasing (ts[%zu] = %g, "
                                         "ts[%zu] = %g)", k - 1, ts[k - 1], k, ts[k]);
    }
    if (batch > SIZE_MAX / dim / (s->diff.m ? s->diff.m : 1))
        return NDE_FAIL(NDE_ERR_SHAPE, "nde_sde_solve: batch %zu · dim %zu overflows", batch, dim);
    size_t n = batch * dim, nw = batch * s->diff.m, gs = batch * nde_diffusion_size(&s->diff);
    if (nde_brownian_size(bm) != nw)
        return NDE_FAIL(NDE_ERR_SHAPE, "nde_sde_solve: the Brownian tree has %zu components, the "
                                       "problem needs batch·m = %zu·%zu = %zu",
                        nde_brownian_size(bm), batch, s->diff.m, nw);
    if (s->need_c2 && !nde_brownian_has_areas(bm))
        return NDE_FAIL(NDE_ERR_ARG, "nde_sde_solve: %s reads the space-time areas of its steps; "
                                     "the tree has W only (make it with nde_brownian_create)",
                        nde_sde_method_name(s->o.method));
    if (!all_finite(u0, n)) return NDE_FAIL(NDE_ERR_NONFINITE, "nde_sde_solve: u0 is not finite");
    /* the stage buffers hold g as (stage, n) for the generic form: gs = n there */
    NDE_TRY(reserve(s, n, nw, gs > n ? gs : n));
    s->batch = batch;
    s->n = n;
    s->nw = nw;
    s->gs = gs;
    s->nt = nt;
    s->stage_doubles = s->o.tape == NDE_TAPE_STAGES ? stage_doubles(s, n) : 0;
    s->rf = s->rg = 0;
    s->rec_dst = NULL;
    if (s->stage_doubles) { /* keep the networks' records too, where they offer them */
        size_t rsf = s->drift.f_rec ? s->drift.rec_size : 0, rsg = s->diff.g_rec ? s->diff.rec_size : 0;
        size_t per = (size_t)s->tab->s0 * rsf + (size_t)s->tab->s1 * rsg;
        if (per && batch > (SIZE_MAX / sizeof(double) - n - 2 * nw - s->stage_doubles) / per)
            return NDE_FAIL(NDE_ERR_SHAPE, "nde_sde_solve: stage tape records of batch %zu × %zu "
                                           "doubles overflow", batch, per);
        s->rf = batch * rsf;
        s->rg = batch * rsg;
    }
    size_t recs = (size_t)s->tab->s0 * s->rf + (size_t)s->tab->s1 * s->rg;
    size_t stride = s->o.tape == NDE_TAPE_STEP_STARTS || s->o.tape == NDE_TAPE_STAGES
                        ? n + 2 * nw + s->stage_doubles + recs
                        : 0;
    s->every = s->o.checkpoint_every ? s->o.checkpoint_every : SIZE_MAX;
    if (s->o.tape == NDE_TAPE_CHECKPOINT) s->bm = bm;
    if (stride != s->tape_stride) {
        nde_free(s->tape);
        s->tape = NULL;
        if (stride && s->steps_cap) {
            s->tape = nde_alloc_array(s->steps_cap, stride * sizeof(double));
            if (!s->tape) return NDE_ERR_NOMEM;
        }
        s->tape_stride = stride;
    }

    const nde_sde_opts *o = &s->o;
    double t = ts[0], span = ts[nt - 1] - ts[0];
    int adaptive = s->tab->adaptive && !o->fixed_step && !s->replay && s->o.method != NDE_SDE_MILSTEIN;
    double h = o->h0 > 0 ? o->h0 : span / 100;
    if (o->dt_max > 0 && h > o->dt_max) h = o->dt_max;
    double dt_min = o->dt_min > 0 ? o->dt_min : 1e-12 * span;
    memcpy(s->u, u0, n * sizeof(double));
    memcpy(traj, u0, n * sizeof(double));
    NDE_TRY(nde_brownian_point(bm, t, s->Wt, area(s, s->At)));
    size_t k = 1, attempts = 0;
    nde_status st = NDE_OK;
    while (k < nt) {
        if (attempts >= o->max_steps) {
            st = NDE_FAIL(NDE_ERR_MAX_STEPS, "nde_sde_solve (%s): %zu steps attempted at t = %.17g "
                                             "without reaching %.17g (max_steps)",
                          nde_sde_method_name(o->method), attempts, t, ts[nt - 1]);
            goto done;
        }
        double t_new;
        int clipped = 0;
        if (s->replay) {
            if (s->n_steps >= s->n_replay) {
                st = NDE_FAIL(NDE_ERR_STATE, "nde_sde_solve: frozen steps end at t = %.17g before "
                                             "ts[%zu] = %.17g", t, k, ts[k]);
                goto done;
            }
            t_new = s->replay[s->n_steps];
            if (!(t_new > t) || t_new > ts[k]) {
                st = NDE_FAIL(NDE_ERR_STATE, "nde_sde_solve: frozen step %zu ends at %.17g, which "
                                             "does not fit t = %.17g, next save %.17g",
                              s->n_steps, t_new, t, ts[k]);
                goto done;
            }
        } else {
            if (t + h >= ts[k] - 1e-12 * span) {
                t_new = ts[k];
                clipped = 1;
            } else {
                t_new = t + h;
            }
            if (!clipped && h < dt_min) {
                st = NDE_FAIL(NDE_ERR_DT_MIN, "nde_sde_solve (%s): step %.3g below dt_min %.3g at t = %.17g",
                              nde_sde_method_name(o->method), h, dt_min, t);
                goto done;
            }
        }
        double hs = t_new - t;
        if ((st = nde_brownian_point(bm, t_new, s->Wn, area(s, s->An))) != NDE_OK) goto done;
        increments(s, hs);
        double err, stiff;
        if (recs) { /* the records go straight to the tape row this step takes if accepted */
            if ((st = grow_steps(s, s->n_steps)) != NDE_OK) goto done;
            s->rec_dst = s->tape + s->n_steps * stride + n + 2 * nw + s->stage_doubles;
        }
        if ((st = take_step(s, t, hs, s->u, &err, &stiff)) != NDE_OK) goto done;
        attempts++;
        int finite = all_finite(s->u_new, n) && isfinite(err);
        int accept = adaptive ? (finite && err <= 1.0) : 1;
        if (o->callback) {
            nde_step_info info = {.step = attempts - 1, .t = t, .h = hs, .err_est = err,
                                  .stiff_est = stiff, .accepted = accept, .nfe = s->stats.nfe,
                                  .u = accept ? s->u_new : s->u, .n = n};
            if (o->callback(&info, o->callback_user)) {
                st = NDE_FAIL(NDE_ERR_STOPPED, "nde_sde_solve: stopped by the callback at t = %.17g", t);
                goto done;
            }
        }
        if (!accept) {
            s->stats.n_rejected++;
            h = hs * (finite ? fmin(1.0, fmax(o->fac_min, o->safety * pow(err, -o->expo))) : o->fac_min);
            continue;
        }
        if (!finite) {
            st = NDE_FAIL(NDE_ERR_NONFINITE, "nde_sde_solve (%s): non-finite state or error estimate "
                                             "after the step from t = %.17g (h = %.3g)",
                          nde_sde_method_name(o->method), t, hs);
            goto done;
        }
        if ((st = grow_steps(s, s->n_steps)) != NDE_OK) goto done;
        size_t idx = s->n_steps;
        s->steps[idx] = (nde_step_rec){.t = t, .h = hs, .err_est = err, .stiff_est = stiff};
        s->tend[idx] = t_new;
        s->save_after[idx] = -1;
        if (stride) {
            double *slot = s->tape + idx * stride;
            memcpy(slot, s->u, n * sizeof(double));
            memcpy(slot + n, s->dW, nw * sizeof(double));
            memcpy(slot + n + nw, s->dH, nw * sizeof(double));
            if (s->stage_doubles) stages_to(s, slot + n + 2 * nw);
        }
        if (s->o.tape == NDE_TAPE_CHECKPOINT && idx % s->every == 0 &&
            (st = push_ckpt(s, s->u)) != NDE_OK)
            goto done;
        s->n_steps++;
        s->stats.n_accepted++;
        t = t_new;
        memcpy(s->u, s->u_new, n * sizeof(double));
        memcpy(s->Wt, s->Wn, nw * sizeof(double));
        if (s->need_c2) memcpy(s->At, s->An, nw * sizeof(double));
        if (t == ts[k]) {
            memcpy(traj + k * n, s->u, n * sizeof(double));
            s->save_after[idx] = (long)k;
            k++;
        }
        if (adaptive) {
            double fac = err <= 0 ? o->fac_max : o->safety * pow(err, -o->expo);
            fac = fmin(o->fac_max, fmax(o->fac_min, fac));
            double hn = hs * fac;
            if (clipped && h > hn) hn = h; /* a save time shortened the step, not the error */
            h = hn;
        } else if (!s->replay) {
            /* fixed step: keep h (a save time may have shortened this one) */
        }
        if (o->dt_max > 0 && h > o->dt_max) h = o->dt_max;
    }
done:
    s->rec_dst = NULL;
    s->stats.tape_bytes = (s->n_steps * s->tape_stride + s->n_ckpt * n) * sizeof(double);
    if (st == NDE_OK) s->solved_ok = 1;
    return st;
}

nde_status nde_sde_freeze_steps(nde_sde_solver *s)
{
    if (!s) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_freeze_steps: solver is NULL");
    if (!s->solved_ok || s->n_steps == 0)
        return NDE_FAIL(NDE_ERR_STATE, "nde_sde_freeze_steps: no successful solve to replay");
    double *r = nde_alloc_array(s->n_steps, sizeof *r);
    if (!r) return NDE_ERR_NOMEM;
    memcpy(r, s->tend, s->n_steps * sizeof *r);
    nde_free(s->replay);
    s->replay = r;
    s->n_replay = s->n_steps;
    return NDE_OK;
}

void nde_sde_unfreeze_steps(nde_sde_solver *s)
{
    if (!s) return;
    nde_free(s->replay);
    s->replay = NULL;
    s->n_replay = 0;
}

const nde_step_rec *nde_sde_steps(const nde_sde_solver *s, size_t *n_steps)
{
    if (n_steps) *n_steps = s ? s->n_steps : 0;
    return s ? s->steps : NULL;
}

const nde_solver_stats *nde_sde_get_stats(const nde_sde_solver *s) { return s ? &s->stats : NULL; }

/* ---- discrete adjoint ------------------------------------------------------------- */

/* ub ← (∂u_new/∂u)ᵀ ub for one generic-form step from (t, u), accumulating θ gradients. */
/* Regularizer weights of one step: cE = ∂R/∂E_j, cS = ∂R/∂S_j (0 → no term). The error
 * and stiffness estimates are differentiated through the stages that produce them (step
 * sizes constant; max(|u|, |u'|) at its argmax, half to each on a tie; zero estimates give
 * zero gradient), as src/reg does for the ODE solvers. */
static nde_status srk_step_vjp(nde_sde_solver *s, double t, double h, const double *u,
                               const double *stages, double *gdrift, double *gdiff, double cE,
                               double cS)
{
    const sde_tab *T = s->tab;
    size_t n = s->n, batch = s->batch;
    double sh = sqrt(h), err = 0, stiff = 0;
    int want = cE != 0 || cS != 0;
    /* the forward's records of the drift (s0, rf) and diffusion (s1, rg) evaluations */
    const double *recf = stages && s->rf ? stages + s->stage_doubles : NULL;
    const double *recg = stages && s->rg ? stages + s->stage_doubles + (size_t)T->s0 * s->rf : NULL;
    int S = T->s0 > T->s1 ? T->s0 : T->s1;
    /* the stage inputs the vjps are taken at: read in place on a stage tape unless the
     * regularizer's terms need the stages in the workspace */
    const double *X0 = s->X0, *X1 = s->X1;
    if (stages && !want) {
        X0 = stages;
        X1 = stages + (size_t)S * n;
    } else if (stages) { /* NDE_TAPE_STAGES: the forward's own stages, nothing re-evaluated */
        stages_from(s, stages);
        NDE_TRY(srk_outputs(s, h, u, &err, &stiff));
    } else {
        size_t nfe = s->stats.nfe;
        NDE_TRY(srk_stages(s, t, h, u, want, &err, &stiff));
        s->stats.n_adjoint_nfe += s->stats.nfe - nfe;
        s->stats.nfe = nfe;
    }
    /* the error estimate's scale depends on u' (added to ū' before the step's backprop)
     * and on u (kept in e1 and added to ū after it) */
    double *uextra = s->e1; /* e1 is not needed after the weights below are formed */
    double *rr = s->e2;     /* per component: ∂R/∂r_q · 1/sc_q */
    if (cE != 0 && err > 0) {
        for (size_t q = 0; q < n; q++) {
            double sc = s->o.atol + s->o.rtol * fmax(fabs(u[q]), fabs(s->u_new[q]));
            double r = (s->delta * s->e1[q] + s->e2[q]) / sc;
            double rho = cE * r / ((double)n * err); /* ∂R/∂r_q */
            double scb = -rho * r / sc;               /* ∂R/∂sc_q */
            double au = fabs(u[q]), an = fabs(s->u_new[q]);
            double wu = au > an ? 1.0 : au < an ? 0.0 : 0.5;
            double sgu = u[q] > 0 ? 1.0 : u[q] < 0 ? -1.0 : 0.0;
            double sgn = s->u_new[q] > 0 ? 1.0 : s->u_new[q] < 0 ? -1.0 : 0.0;
            s->ub[q] += scb * s->o.rtol * (1 - wu) * sgn;
            uextra[q] = scb * s->o.rtol * wu * sgu;
            rr[q] = rho / sc;
        }
    } else {
        memset(uextra, 0, n * sizeof(double));
        memset(rr, 0, n * sizeof(double));
    }
    /* the adjoints of the stage outputs, k̄_j and ḡ_j (plain pointers and hoisted
     * coefficients, so the loops vectorize; the same products in the same order) */
    const double *restrict ub = s->ub, *restrict rrc = rr, *restrict dWx = s->dWx,
                           *restrict c1x = s->c1x, *restrict c2x = s->c2x, *restrict c3x = s->c3x;
    const double hd = h * s->delta;
    for (int j = 0; j < S; j++) {
        double *restrict kbj = s->kb + (size_t)j * n, *restrict gbj = s->gb + (size_t)j * n;
        if (j < T->s0) {
            const double ha = h * T->alpha[j];
            for (size_t q = 0; q < n; q++) kbj[q] = ha * ub[q] + hd * rrc[q];
        }
        if (j < T->s1) {
            const double be0 = T->beta[0][j], be1 = T->beta[1][j], be2 = T->beta[2][j],
                         be3 = T->beta[3][j];
            for (size_t q = 0; q < n; q++) {
                double e2w = be2 * c2x[q] + be3 * c3x[q];
                gbj[q] = (be0 * dWx[q] + be1 * c1x[q] + e2w) * ub[q] + e2w * rrc[q];
            }
        }
    }
    /* stiffness S = ‖k_a − k_b‖ / ‖X0_a − X0_b‖: direct adjoints of k_a, k_b, X0_a, X0_b */
    int sa = T->s0 - 1, sb = T->s0 - 2;
    double Sk = 0, Sx = 0;
    if (cS != 0 && T->stiff && T->s0 >= 2) {
        for (size_t q = 0; q < n; q++) {
            double dk = s->k[(size_t)sa * n + q] - s->k[(size_t)sb * n + q];
            double dx = s->X0[(size_t)sa * n + q] - s->X0[(size_t)sb * n + q];
            Sk += dk * dk;
            Sx += dx * dx;
        }
        Sk = sqrt(Sk);
        Sx = sqrt(Sx);
        if (Sk > 0 && Sx > 0)
            for (size_t q = 0; q < n; q++) {
                double dk = s->k[(size_t)sa * n + q] - s->k[(size_t)sb * n + q];
                double w = cS * dk / (Sk * Sx);
                s->kb[(size_t)sa * n + q] += w;
                s->kb[(size_t)sb * n + q] -= w;
            }
        else
            Sk = 0;
    }
    /* ub keeps accumulating the adjoint of u (the identity part of every stage input) */
    for (int i = S - 1; i >= 0; i--) {
        if (i < T->s1) {
            double ti = t + T->c1[i] * h, *vi = s->gb + (size_t)i * n;
            const double *xi = X1 + (size_t)i * n;
            if (recg)
                NDE_TRY(s->diff.vjp_rec(s->diff.ctx, ti, xi, recg + (size_t)i * s->rg, vi, s->vb,
                                        gdiff, batch));
            else
                NDE_TRY(s->diff.vjp(s->diff.ctx, ti, xi, vi, s->vb, gdiff, batch));
            s->stats.n_vjp++;
            for (size_t q = 0; q < n; q++) s->ub[q] += s->vb[q];
            for (int j = 0; j < i; j++) { /* each kb, gb entry gets its terms in i order */
                double *kbj = s->kb + (size_t)j * n, *gbj = s->gb + (size_t)j * n;
                const double ca = h * T->a1[i][j], cb = sh * T->b1[i][j];
                if (j < T->s0)
                    for (size_t q = 0; q < n; q++) kbj[q] += ca * s->vb[q];
                if (j < T->s1)
                    for (size_t q = 0; q < n; q++) gbj[q] += cb * s->vb[q];
            }
        }
        if (i < T->s0) {
            double ti = t + T->c0[i] * h, *vi = s->kb + (size_t)i * n;
            const double *xi = X0 + (size_t)i * n;
            if (recf)
                NDE_TRY(s->drift.vjp_rec(s->drift.ctx, ti, xi, recf + (size_t)i * s->rf, vi, s->vb,
                                         gdrift, batch));
            else
                NDE_TRY(s->drift.vjp(s->drift.ctx, ti, xi, vi, s->vb, gdrift, batch));
            s->stats.n_vjp++;
            if (Sk > 0 && (i == sa || i == sb)) {
                double sgn = i == sa ? 1.0 : -1.0, Sv = Sk / Sx;
                for (size_t q = 0; q < n; q++) {
                    double dx = s->X0[(size_t)sa * n + q] - s->X0[(size_t)sb * n + q];
                    s->vb[q] += sgn * (-cS * Sv * dx / (Sx * Sx));
                }
            }
            for (size_t q = 0; q < n; q++) s->ub[q] += s->vb[q];
            for (int j = 0; j < i; j++) {
                double *kbj = s->kb + (size_t)j * n, *gbj = s->gb + (size_t)j * n;
                const double ca = h * T->a0[i][j], cb = T->b0[i][j];
                if (j < T->s0)
                    for (size_t q = 0; q < n; q++) kbj[q] += ca * s->vb[q];
                if (j < T->s1)
                    for (size_t q = 0; q < n; q++) gbj[q] += s->c2x[q] * cb * s->vb[q];
            }
        }
    }
    for (size_t q = 0; q < n; q++) s->ub[q] += uextra[q];
    return NDE_OK;
}

/* General-noise Euler–Maruyama: u' = u + h f(u) + G(u) ΔW. */
static nde_status em_general_vjp(nde_sde_solver *s, double t, double h, const double *u,
                                 double *gdrift, double *gdiff)
{
    size_t dim = s->drift.dim, m = s->diff.m, n = s->n;
    for (size_t q = 0; q < n; q++) s->kb[q] = h * s->ub[q];
    for (size_t b = 0; b < s->batch; b++)
        for (size_t i = 0; i < dim; i++)
            for (size_t j = 0; j < m; j++)
                s->gb[(b * dim + i) * m + j] = s->ub[b * dim + i] * s->dW[b * m + j];
    NDE_TRY(s->drift.vjp(s->drift.ctx, t, u, s->kb, s->vb, gdrift, s->batch));
    for (size_t q = 0; q < n; q++) s->ub[q] += s->vb[q];
    NDE_TRY(s->diff.vjp(s->diff.ctx, t, u, s->gb, s->vb, gdiff, s->batch));
    for (size_t q = 0; q < n; q++) s->ub[q] += s->vb[q];
    s->stats.n_vjp += 2;
    return NDE_OK;
}

/* Per-step weights ∂R/∂est_j of a built-in error or stiffness regularizer, and R. */
static nde_status reg_weights(const nde_reg *reg, const nde_sde_solver *s, double *w, double *value,
                              int *is_stiff)
{
    const nde_reg_spec *sp = nde_reg_get_spec(reg);
    if (!sp || (sp->kind != NDE_REG_ERROR_EST && sp->kind != NDE_REG_STIFF_EST))
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "SDE regularizer: only the built-in error-estimate "
                                             "(ERNSDE) and stiffness (SRNSDE) kinds are supported");
    *is_stiff = sp->kind == NDE_REG_STIFF_EST;
    if (!s->tab->adaptive || s->o.method == NDE_SDE_MILSTEIN || s->diff.noise == NDE_NOISE_GENERAL)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "SDE regularizer: %s has no error estimate",
                        nde_sde_method_name(s->o.method));
    if (*is_stiff && !s->tab->stiff)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "SDE regularizer: %s has no stiffness estimate (sosri2 has)",
                        nde_sde_method_name(s->o.method));
    if (!s->solved_ok || s->n_steps == 0)
        return NDE_FAIL(NDE_ERR_STATE, "SDE regularizer: no successful solve");
    size_t N = s->n_steps, arg = 0;
    if (sp->agg == NDE_REG_LOCAL_UNBIASED || sp->agg == NDE_REG_LOCAL_BIASED) {
        if (s->local_step < 0 || (size_t)s->local_step >= N)
            return NDE_FAIL(NDE_ERR_STATE, "local SDE regularizer: no step selected since the last "
                                           "solve (nde_sde_local_select)");
        size_t J = (size_t)s->local_step;
        double e = *is_stiff ? s->steps[J].stiff_est : s->steps[J].err_est;
        double c = sp->coef / sp->scale * (sp->weight_dt ? fabs(s->steps[J].h) : 1.0);
        if (w) {
            memset(w, 0, N * sizeof *w);
            w[J] = c;
        }
        *value = c * e;
        return NDE_OK;
    }
    double best = -1, sum = 0;
    for (size_t j = 0; j < N; j++) {
        double e = *is_stiff ? s->steps[j].stiff_est : s->steps[j].err_est;
        double v = e / sp->scale * (sp->weight_dt ? fabs(s->steps[j].h) : 1.0);
        if (w) w[j] = sp->coef / sp->scale * (sp->weight_dt ? fabs(s->steps[j].h) : 1.0);
        sum += v;
        if (v > best) best = v, arg = j;
    }
    if (sp->agg == NDE_REG_MEAN) {
        *value = sp->coef * sum / (double)N;
        if (w)
            for (size_t j = 0; j < N; j++) w[j] /= (double)N;
    } else if (sp->agg == NDE_REG_MAX) {
        *value = sp->coef * best;
        if (w)
            for (size_t j = 0; j < N; j++)
                if (j != arg) w[j] = 0;
    } else {
        *value = sp->coef * sum;
    }
    return NDE_OK;
}

nde_status nde_sde_reg_value(const nde_reg *reg, const nde_sde_solver *s, double *value)
{
    if (!reg || !s || !value) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_reg_value: NULL argument");
    int stiff;
    return reg_weights(reg, s, NULL, value, &stiff);
}

static nde_status sde_adjoint_impl(nde_sde_solver *s, const double *dtraj, const nde_reg *reg,
                                   double *du0, double *gdrift, double *gdiff);

nde_status nde_sde_adjoint(nde_sde_solver *s, const double *dtraj, double *du0, double *gdrift,
                           double *gdiff)
{
    return sde_adjoint_impl(s, dtraj, NULL, du0, gdrift, gdiff);
}

nde_status nde_sde_adjoint_reg(nde_sde_solver *s, const double *dtraj, const nde_reg *reg,
                               double *du0, double *gdrift, double *gdiff)
{
    if (!reg) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_adjoint_reg: reg is NULL");
    return sde_adjoint_impl(s, dtraj, reg, du0, gdrift, gdiff);
}

/* Reverse of accepted step idx: its start u, increments and (stage tape) stages at slot. */
static nde_status step_reverse(nde_sde_solver *s, size_t idx, const double *slot,
                               const double *stages, const double *dtraj, const double *w,
                               int is_stiff, double *gdrift, double *gdiff)
{
    size_t n = s->n, nw = s->nw;
    if (s->save_after[idx] >= 0) {
        const double *d = dtraj + (size_t)s->save_after[idx] * n;
        for (size_t q = 0; q < n; q++) s->ub[q] += d[q];
    }
    double t = s->steps[idx].t, h = s->steps[idx].h;
    if (s->diff.noise == NDE_NOISE_GENERAL) {
        memcpy(s->dW, slot + n, nw * sizeof(double));
        return em_general_vjp(s, t, h, slot, gdrift, gdiff);
    }
    /* the step's start and increments are read in place on the tape */
    noise_terms(s, h, slot + n, slot + n + nw);
    double cE = w && !is_stiff ? w[idx] : 0, cS = w && is_stiff ? w[idx] : 0;
    return srk_step_vjp(s, t, h, slot, stages, gdrift, gdiff, cE, cS);
}

/* NDE_TAPE_CHECKPOINT: re-integrate each segment [a, b) of steps from its checkpoint on
 * the same tree (the forward's formulas and inputs, so the same bits), keep its step
 * starts and increments in s->seg, and reverse it; last segment first. */
static nde_status checkpoint_sweep(nde_sde_solver *s, const double *dtraj, const double *w,
                                   int is_stiff, double *gdrift, double *gdiff)
{
    size_t n = s->n, nw = s->nw, N = s->n_steps, stride = n + 2 * nw;
    size_t every = s->every < N ? s->every : N;
    if (!s->bm || nde_brownian_size(s->bm) != nw)
        return NDE_FAIL(NDE_ERR_STATE, "nde_sde_adjoint: the checkpoint tape needs the solve's "
                                       "Brownian tree");
    if (s->n_ckpt != (N + every - 1) / every)
        return NDE_FAIL(NDE_ERR_STATE, "nde_sde_adjoint: %zu checkpoints for %zu steps every %zu",
                        s->n_ckpt, N, every);
    if (every * stride > s->seg_cap) {
        double *g = nde_alloc_array(every, stride * sizeof(double));
        if (!g) return NDE_FAIL(NDE_ERR_NOMEM, "SDE checkpoint segment: %zu steps", every);
        nde_free(s->seg);
        s->seg = g;
        s->seg_cap = every * stride;
    }
    for (size_t c = s->n_ckpt; c-- > 0;) {
        size_t a = c * every, b = a + every < N ? a + every : N, nfe = s->stats.nfe;
        memcpy(s->u, s->ckpt + c * n, n * sizeof(double));
        NDE_TRY(nde_brownian_point(s->bm, s->steps[a].t, s->Wt, area(s, s->At)));
        for (size_t j = a; j < b; j++) {
            double t = s->steps[j].t, hs = s->steps[j].h, err, stiff;
            NDE_TRY(nde_brownian_point(s->bm, s->tend[j], s->Wn, area(s, s->An)));
            increments(s, hs);
            double *slot = s->seg + (j - a) * stride;
            memcpy(slot, s->u, n * sizeof(double));
            memcpy(slot + n, s->dW, nw * sizeof(double));
            memcpy(slot + n + nw, s->dH, nw * sizeof(double));
            if (j + 1 < b) {
                NDE_TRY(take_step(s, t, hs, s->u, &err, &stiff));
                memcpy(s->u, s->u_new, n * sizeof(double));
                s->stats.n_recomputed_steps++;
            }
            memcpy(s->Wt, s->Wn, nw * sizeof(double));
            if (s->need_c2) memcpy(s->At, s->An, nw * sizeof(double));
        }
        s->stats.n_adjoint_nfe += s->stats.nfe - nfe;
        for (size_t j = b; j-- > a;)
            NDE_TRY(step_reverse(s, j, s->seg + (j - a) * stride, NULL, dtraj, w, is_stiff, gdrift,
                                 gdiff));
    }
    s->stats.adjoint_max_states = s->n_ckpt + every;
    return NDE_OK;
}

static nde_status sde_adjoint_impl(nde_sde_solver *s, const double *dtraj, const nde_reg *reg,
                                   double *du0, double *gdrift, double *gdiff)
{
    if (!s || !dtraj) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_adjoint: NULL argument");
    if (s->o.method == NDE_SDE_MILSTEIN)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "nde_sde_adjoint: milstein needs second derivatives "
                                             "of g; use milstein_df");
    int ck = s->o.tape == NDE_TAPE_CHECKPOINT;
    if (!s->solved_ok || s->o.tape == NDE_TAPE_NONE || (!ck && !s->tape) || (ck && !s->n_ckpt))
        return NDE_FAIL(NDE_ERR_STATE, "nde_sde_adjoint: needs a successful solve with a tape "
                                       "(opts.tape not NDE_TAPE_NONE)");
    size_t n = s->n, nw = s->nw;
    double *w = NULL, rval;
    int is_stiff = 0;
    if (reg) {
        w = nde_alloc_array(s->n_steps, sizeof *w);
        if (!w) return NDE_ERR_NOMEM;
        nde_status rs = reg_weights(reg, s, w, &rval, &is_stiff);
        if (rs != NDE_OK) {
            nde_free(w);
            return rs;
        }
    }
    nde_status st = NDE_OK;
    size_t nfe = s->stats.nfe; /* the forward's count: recomputations go to n_adjoint_nfe */
    s->stats.n_vjp = 0;
    s->stats.n_adjoint_nfe = 0;
    s->stats.n_recomputed_steps = 0;
    memset(s->ub, 0, n * sizeof(double));
    if (ck) {
        st = checkpoint_sweep(s, dtraj, w, is_stiff, gdrift, gdiff);
    } else {
        for (size_t idx = s->n_steps; idx-- > 0 && st == NDE_OK;) {
            const double *slot = s->tape + idx * s->tape_stride;
            st = step_reverse(s, idx, slot, s->stage_doubles ? slot + n + 2 * nw : NULL, dtraj, w,
                              is_stiff, gdrift, gdiff);
        }
        s->stats.adjoint_max_states = s->n_steps;
    }
    nde_free(w);
    s->stats.nfe = nfe;
    if (st != NDE_OK) return st;
    for (size_t q = 0; q < n; q++) s->ub[q] += dtraj[q];
    if (du0) memcpy(du0, s->ub, n * sizeof(double));
    s->stats.adjoint_peak_bytes = s->stats.tape_bytes + s->seg_cap * (ck ? sizeof(double) : 0) +
                                  (6 * MAXS + 10) * n * sizeof(double);
    return NDE_OK;
}

/* ---- local ERNSDE ------------------------------------------------------------------ */

nde_reg_spec nde_sde_reg_local(double coef, nde_local_sampling sampling)
{
    return (nde_reg_spec){.kind = NDE_REG_ERROR_EST,
                          .agg = sampling == NDE_LOCAL_BIASED ? NDE_REG_LOCAL_BIASED
                                                              : NDE_REG_LOCAL_UNBIASED,
                          .coef = coef, .weight_dt = 1, .scale = 1.0};
}

nde_status nde_sde_local_draw_time(nde_rng *rng, double t0, double t1, double *t_reg)
{
    if (!rng || !t_reg) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_local_draw_time: NULL argument");
    if (!isfinite(t0) || !isfinite(t1) || !(t0 < t1))
        return NDE_FAIL(NDE_ERR_ARG, "nde_sde_local_draw_time: bad span [%g, %g]", t0, t1);
    double t = t0 + nde_rng_uniform(rng) * (t1 - t0);
    *t_reg = t < t1 ? t : nextafter(t1, t0); /* rounding must not reach t1 */
    return NDE_OK;
}

nde_status nde_sde_local_select(nde_sde_solver *s, const nde_reg *reg, nde_rng *rng, double t_reg,
                                size_t *step)
{
    if (!s || !reg) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_local_select: NULL argument");
    const nde_reg_spec *sp = nde_reg_get_spec(reg);
    if (!sp || (sp->agg != NDE_REG_LOCAL_UNBIASED && sp->agg != NDE_REG_LOCAL_BIASED))
        return NDE_FAIL(NDE_ERR_ARG, "nde_sde_local_select: not a local regularizer (aggregation "
                                     "NDE_REG_LOCAL_UNBIASED or _BIASED)");
    s->local_step = -1;
    if (!s->solved_ok || s->n_steps == 0)
        return NDE_FAIL(NDE_ERR_STATE, "nde_sde_local_select: no successful solve");
    size_t J;
    if (sp->agg == NDE_REG_LOCAL_BIASED) {
        if (!rng)
            return NDE_FAIL(NDE_ERR_ARG, "nde_sde_local_select: biased sampling needs an rng");
        J = (size_t)nde_rng_below(rng, s->n_steps);
    } else {
        size_t lo = 0, hi = s->n_steps; /* step start times increase: bisect */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (s->steps[mid].t <= t_reg) lo = mid;
            else hi = mid;
        }
        if (!(s->steps[lo].t == t_reg))
            return NDE_FAIL(NDE_ERR_ARG, "nde_sde_local_select: no accepted step starts at t_reg = "
                                         "%.17g (add it to the save times: nde_reg_insert_time)",
                            t_reg);
        J = lo;
    }
    if (J > (size_t)LONG_MAX) return NDE_FAIL(NDE_ERR_ARG, "nde_sde_local_select: step %zu", J);
    s->local_step = (long)J;
    if (step) *step = J;
    return NDE_OK;
}

/* ---- example fields --------------------------------------------------------------- */

static nde_status lin_f(void *ctx, double t, const double *u, double *du, size_t batch)
{
    (void)t;
    double a = *(const double *)ctx;
    for (size_t b = 0; b < batch; b++) du[b] = a * u[b];
    return NDE_OK;
}

static nde_status lin_vjp(void *ctx, double t, const double *u, const double *v, double *vu,
                          double *gth, size_t batch)
{
    (void)t;
    (void)u;
    (void)gth;
    double a = *(const double *)ctx;
    if (vu)
        for (size_t b = 0; b < batch; b++) vu[b] = a * v[b];
    return NDE_OK;
}

nde_field nde_sde_example_linear_drift(const double *a)
{
    return (nde_field){.dim = 1, .ctx = (void *)(uintptr_t)a, .f = lin_f, .vjp = lin_vjp};
}

nde_diffusion nde_sde_example_linear_diffusion(const double *b)
{
    return (nde_diffusion){.dim = 1, .m = 1, .noise = NDE_NOISE_DIAGONAL,
                           .ctx = (void *)(uintptr_t)b, .g = lin_f, .vjp = lin_vjp};
}
