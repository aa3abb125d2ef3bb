/* Validation of user-supplied vector fields. */
#include "nde/field.h"

nde_status nde_field_check(const nde_field *f, int need_vjp)
{
    if (!f) return NDE_FAIL(NDE_ERR_ARG, "vector field is NULL");
    if (!f->f) return NDE_FAIL(NDE_ERR_ARG, "vector field has no f callback");
    if (f->dim == 0) return NDE_FAIL(NDE_ERR_ARG, "vector field has dim 0");
    if (!f->f_rec != !f->vjp_rec)
        return NDE_FAIL(NDE_ERR_ARG, "vector field has only one of f_rec and vjp_rec");
    if (f->f_rec && f->rec_size == 0)
        return NDE_FAIL(NDE_ERR_ARG, "vector field has f_rec but rec_size 0");
    if (need_vjp && !f->vjp)
        return NDE_FAIL(NDE_ERR_ARG, "vector field has no vjp callback (needed for gradients)");
    return NDE_OK;
}
