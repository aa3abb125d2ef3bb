/* The model object shared by the built-in models (src/model). */
#ifndef NDE_MODEL_INTERNAL_H
#define NDE_MODEL_INTERNAL_H

#include "nde/model.h"

struct nde_model {
    const nde_model_ops *ops; /* borrowed */
    void *self;               /* owned: ops->destroy(self) */
    nde_params *params;       /* owned, or NULL when the store belongs to `inner` */
    nde_model *inner;         /* owned wrapped model (neural ODE), or NULL */
    size_t in_size, out_size;
};

/* The content of m if m was made with `ops`, else NULL (type-checked downcast). */
void *nde_model_content_of(nde_model *m, const nde_model_ops *ops);

/* A model whose store belongs to the wrapped model `inner` (taken over, also on
 * failure together with self). */
nde_status nde_model_wrap(const nde_model_ops *ops, void *self, nde_model *inner,
                          size_t in_size, size_t out_size, nde_model **out);

#endif
