/* Flat parameter store: θ and gradient contiguous, named tensors as offsets. */
#include "nde/params.h"

#include <stdio.h>
#include <string.h>

#include "core/grow.h"

struct nde_params {
    double *theta; /* (cap) */
    double *grad;  /* (cap) */
    size_t count, cap;
    nde_tensor_info *tensors;
    size_t n_tensors, tensors_cap;
};

nde_status nde_params_create(nde_params **p)
{
    if (!p) return NDE_FAIL(NDE_ERR_ARG, "nde_params_create: p is NULL");
    *p = nde_alloc(sizeof **p);
    return *p ? NDE_OK : NDE_ERR_NOMEM;
}

void nde_params_destroy(nde_params **p)
{
    if (!p || !*p) return;
    nde_free((*p)->theta);
    nde_free((*p)->grad);
    nde_free((*p)->tensors);
    nde_free(*p);
    *p = NULL;
}

/* Grow θ and the gradient to hold `need` doubles, preserving contents. */
static nde_status reserve(nde_params *p, size_t need)
{
    if (need <= p->cap) return NDE_OK;
    size_t cap = p->cap ? p->cap : 256;
    while (cap < need) cap *= 2;
    double *th = nde_alloc_array(cap, sizeof *th);
    double *gr = nde_alloc_array(cap, sizeof *gr);
    if (!th || !gr) {
        nde_free(th);
        nde_free(gr);
        return NDE_ERR_NOMEM;
    }
    if (p->count) {
        memcpy(th, p->theta, p->count * sizeof *th);
        memcpy(gr, p->grad, p->count * sizeof *gr);
    }
    nde_free(p->theta);
    nde_free(p->grad);
    p->theta = th;
    p->grad = gr;
    p->cap = cap;
    return NDE_OK;
}

nde_status nde_params_add(nde_params *p, const char *name, int ndim, const size_t *shape,
                          int group, size_t *offset)
{
    if (!p || !name || !shape) return NDE_FAIL(NDE_ERR_ARG, "nde_params_add: NULL argument");
    if (!name[0] || strlen(name) >= NDE_PARAM_NAME_MAX)
        return NDE_FAIL(NDE_ERR_ARG, "nde_params_add: name '%s' is empty or longer than %d",
                        name, NDE_PARAM_NAME_MAX - 1);
    if (ndim < 1 || ndim > NDE_PARAM_MAX_DIMS)
        return NDE_FAIL(NDE_ERR_ARG, "nde_params_add: tensor '%s' has ndim %d (1..%d)", name,
                        ndim, NDE_PARAM_MAX_DIMS);
    if (nde_params_find(p, name))
        return NDE_FAIL(NDE_ERR_ARG, "nde_params_add: duplicate tensor name '%s'", name);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0)
            return NDE_FAIL(NDE_ERR_ARG, "nde_params_add: tensor '%s' has zero dimension %d",
                            name, d);
        numel *= shape[d];
    }
    NDE_TRY(nde_grow((void **)&p->tensors, &p->tensors_cap, p->n_tensors, sizeof *p->tensors,
                     16));
    NDE_TRY(reserve(p, p->count + numel));
    nde_tensor_info *t = &p->tensors[p->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->offset = p->count;
    t->numel = numel;
    t->group = group;
    if (offset) *offset = p->count;
    p->count += numel;
    return NDE_OK;
}

size_t nde_params_count(const nde_params *p) { return p ? p->count : 0; }
double *nde_params_theta(nde_params *p) { return p ? p->theta : NULL; }
double *nde_params_grad(nde_params *p) { return p ? p->grad : NULL; }
const double *nde_params_theta_const(const nde_params *p) { return p ? p->theta : NULL; }

void nde_params_zero_grad(nde_params *p)
{
    if (p && p->count) memset(p->grad, 0, p->count * sizeof *p->grad);
}

size_t nde_params_n_tensors(const nde_params *p) { return p ? p->n_tensors : 0; }

const nde_tensor_info *nde_params_tensor(const nde_params *p, size_t i)
{
    return (p && i < p->n_tensors) ? &p->tensors[i] : NULL;
}

const nde_tensor_info *nde_params_find(const nde_params *p, const char *name)
{
    if (!p || !name) return NULL;
    for (size_t i = 0; i < p->n_tensors; i++)
        if (strcmp(p->tensors[i].name, name) == 0) return &p->tensors[i];
    return NULL;
}
