/* The neural-SDE classifier as a user model: see fm_sde_model.h. */
#include "fm_sde_model.h"

#include <stdio.h>
#include <string.h>

#include "fm_data.h"

typedef struct fsm {
    nde_dense enc, out;   /* encoder 784 → 32, readout 32 → 10 */
    nde_model *sde;       /* owned; its θ mirrors the store's [sde_off, sde_off + n_sde) */
    size_t sde_off, n_sde;
    nde_reg *reg;         /* NULL unless regularized; borrowed by sde, so destroyed after it */
    nde_schedule coef;
    uint64_t path_seed;
    size_t max_batch;
    int training;
    size_t batch;         /* of the last training forward (0: none) */
    size_t nfe;           /* of the last training forward's solve (without the adjoint's) */
    double *x;            /* (max_batch, 784): the images of the last training forward */
    double *h0, *h1;      /* (max_batch, 32): the SDE's start and end */
    double *dh1, *dh0;    /* (max_batch, 32): their gradients */
    double *logits;       /* (max_batch, 10) */
} fsm;

/* θ of the SDE part of the store into the SDE model's own store */
static void sync_sde(fsm *f, nde_params *p)
{
    memcpy(nde_params_theta(nde_model_params(f->sde)), nde_params_theta(p) + f->sde_off,
           f->n_sde * sizeof(double));
}

static nde_status fsm_forward(void *self, nde_params *p, const double *x, double *y, size_t batch)
{
    fsm *f = self;
    if (batch > f->max_batch)
        return NDE_FAIL(NDE_ERR_ARG, "fashion_mnist nsde: batch %zu > %zu", batch, f->max_batch);
    f->batch = 0;
    NDE_TRY(nde_dense_forward(&f->enc, p, 0.0, x, f->h0, batch));
    sync_sde(f, p);
    NDE_TRY(nde_model_forward(f->sde, f->h0, f->h1, batch));
    NDE_TRY(nde_dense_forward(&f->out, p, 0.0, f->h1, y, batch));
    if (f->training) {
        f->nfe = nde_sde_get_stats(nde_model_sde_solver(f->sde))->nfe;
        memcpy(f->x, x, batch * FM_PIXELS * sizeof *x);
        memcpy(f->logits, y, batch * FM_CLASSES * sizeof *y);
        f->batch = batch;
    }
    return NDE_OK;
}

/* readout backward, the SDE's discrete adjoint (with the regularizer) into the SDE's
 * slice of gtheta, then the encoder's backward */
static nde_status fsm_backward(void *self, nde_params *p, const double *gy, double *gx,
                               double *gtheta, size_t batch)
{
    fsm *f = self;
    if (gx)
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "fashion_mnist nsde: the model gives no input gradient");
    if (f->batch != batch)
        return NDE_FAIL(NDE_ERR_STATE, "fashion_mnist nsde backward: no training forward of a "
                        "batch of %zu", batch);
    NDE_TRY(nde_dense_backward(&f->out, p, 0.0, f->h1, gy, f->dh1, gtheta, batch));
    NDE_TRY(nde_model_backward(f->sde, f->dh1, f->dh0, gtheta ? gtheta + f->sde_off : NULL,
                               batch));
    return nde_dense_backward(&f->enc, p, 0.0, f->x, f->dh0, NULL, gtheta, batch);
}

static nde_status fsm_init(void *self, nde_params *p, nde_rng *rng)
{
    fsm *f = self;
    NDE_TRY(nde_dense_init(&f->enc, p, NDE_INIT_TORCH, 0.0, rng));
    NDE_TRY(nde_model_init(f->sde, rng));
    memcpy(nde_params_theta(p) + f->sde_off, nde_params_theta(nde_model_params(f->sde)),
           f->n_sde * sizeof(double));
    return nde_dense_init(&f->out, p, NDE_INIT_TORCH, 0.0, rng);
}

static nde_status fsm_set_training(void *self, int training)
{
    fsm *f = self;
    f->training = training != 0;
    f->batch = 0;
    return nde_model_set_training(f->sde, training);
}

static void fsm_destroy(void *self)
{
    fsm *f = self;
    nde_model_destroy(&f->sde);
    nde_reg_destroy(&f->reg);
    nde_free(f->x), nde_free(f->h0), nde_free(f->h1), nde_free(f->dh1), nde_free(f->dh0);
    nde_free(f->logits);
    nde_free(f);
}

static const nde_model_ops fsm_ops = {.kind = "fashion_mnist_nsde", .forward = fsm_forward,
                                      .backward = fsm_backward, .init = fsm_init,
                                      .set_training = fsm_set_training, .destroy = fsm_destroy};

/* "sde.<name>" in p for every tensor of the SDE model's store, in its order */
static nde_status mirror_tensors(nde_params *p, nde_params *src, size_t *first)
{
    for (size_t i = 0; i < nde_params_n_tensors(src); i++) {
        const nde_tensor_info *ti = nde_params_tensor(src, i);
        char name[NDE_PARAM_NAME_MAX];
        const int n = snprintf(name, sizeof name, "sde.%s", ti->name);
        if (n < 0 || (size_t)n >= sizeof name)
            return NDE_FAIL(NDE_ERR_ARG, "fashion_mnist nsde: tensor name 'sde.%s' too long",
                            ti->name);
        size_t off;
        NDE_TRY(nde_params_add(p, name, ti->ndim, ti->shape, ti->group, &off));
        if (i == 0) *first = off;
        if (off != *first + ti->offset)
            return NDE_FAIL(NDE_ERR_STATE, "fashion_mnist nsde: tensor %s not contiguous", name);
    }
    return NDE_OK;
}

static nde_status fsm_build(fsm *f, nde_params *p, const fm_sde_model_spec *spec)
{
    const size_t B = spec->max_batch, D = FM_SDE_DIM;
    NDE_TRY(nde_schedule_check(&f->coef));
    NDE_TRY(nde_dense_add(p, "encoder", FM_PIXELS, D, 0, &f->enc));
    if (spec->reg) NDE_TRY(nde_reg_create(spec->reg, &f->reg));
    nde_model *drift = NULL, *diff = NULL;
    const nde_mlp_spec ds = {.in = D, .out = D, .hidden = {64}, .act = NDE_ACT_TANH};
    const nde_mlp_spec gs = {.in = D, .out = D, .act = NDE_ACT_TANH}; /* one linear layer */
    nde_status st = nde_model_mlp_create(&ds, "drift", NDE_INIT_TORCH, 0.0, &drift);
    if (st == NDE_OK) st = nde_model_mlp_create(&gs, "diffusion", NDE_INIT_TORCH, 0.0, &diff);
    if (st != NDE_OK) {
        nde_model_destroy(&drift);
        return st;
    }
    const double ts[2] = {0.0, 1.0};
    nde_sde_model_spec ss = {.noise = NDE_NOISE_DIAGONAL, .solver = spec->solver, .ts = ts,
                             .nt = 2, .output = NDE_SDE_OUT_FINAL, .seed = spec->path_seed,
                             .reg = f->reg};
    NDE_TRY(nde_model_sde_create(NULL, drift, diff, &ss, &f->sde)); /* takes drift, diff */
    NDE_TRY(nde_model_reserve(f->sde, B));
    f->n_sde = nde_model_n_params(f->sde);
    NDE_TRY(mirror_tensors(p, nde_model_params(f->sde), &f->sde_off));
    NDE_TRY(nde_dense_add(p, "readout", D, FM_CLASSES, 0, &f->out));
    f->x = nde_alloc_array(B * FM_PIXELS, sizeof *f->x);
    f->h0 = nde_alloc_array(B * D, sizeof *f->h0);
    f->h1 = nde_alloc_array(B * D, sizeof *f->h1);
    f->dh1 = nde_alloc_array(B * D, sizeof *f->dh1);
    f->dh0 = nde_alloc_array(B * D, sizeof *f->dh0);
    f->logits = nde_alloc_array(B * FM_CLASSES, sizeof *f->logits);
    if (!f->x || !f->h0 || !f->h1 || !f->dh1 || !f->dh0 || !f->logits) return NDE_ERR_NOMEM;
    return NDE_OK;
}

nde_status fm_sde_model_create(const fm_sde_model_spec *spec, nde_model **out)
{
    if (!spec || !out || spec->max_batch == 0)
        return NDE_FAIL(NDE_ERR_ARG, "fm_sde_model_create: NULL argument or batch 0");
    nde_params *p = NULL;
    NDE_TRY(nde_params_create(&p));
    fsm *f = nde_alloc(sizeof *f);
    if (!f) {
        nde_params_destroy(&p);
        return NDE_ERR_NOMEM;
    }
    *f = (fsm){.coef = spec->coef, .path_seed = spec->path_seed, .max_batch = spec->max_batch,
               .training = 1};
    nde_status st = fsm_build(f, p, spec);
    if (st != NDE_OK) {
        fsm_destroy(f);
        nde_params_destroy(&p);
        return st;
    }
    return nde_model_create(&fsm_ops, f, p, FM_PIXELS, FM_CLASSES, out);
}

nde_status fm_sde_model_set_step(nde_model *m, uint64_t step)
{
    fsm *f = nde_model_content(m);
    if (f->reg) NDE_TRY(nde_reg_set_coef(f->reg, nde_schedule_value(&f->coef, step)));
    return nde_model_sde_reseed(f->sde, f->path_seed ^ step);
}

nde_status fm_sde_model_reseed(nde_model *m, uint64_t seed)
{
    return nde_model_sde_reseed(((fsm *)nde_model_content(m))->sde, seed);
}

size_t fm_sde_model_nfe(nde_model *m) { return ((fsm *)nde_model_content(m))->nfe; }

double fm_sde_model_reg_value(nde_model *m)
{
    return nde_model_sde_reg_value(((fsm *)nde_model_content(m))->sde);
}

const double *fm_sde_model_logits(nde_model *m) { return ((fsm *)nde_model_content(m))->logits; }

size_t fm_sde_model_eval_nfe(nde_model *m)
{
    return nde_sde_get_stats(nde_model_sde_eval_solver(((fsm *)nde_model_content(m))->sde))->nfe;
}
