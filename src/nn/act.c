/* Activation functions: names, forward and backward over arrays.
 * Definitions and derivative conventions follow torch.nn.functional (PyTorch 1.13,
 * aten/src/ATen/native/cpu/Activation.cpp and UnaryOpsKernel.cpp): relu'(0) = 0,
 * softplus with beta 1 and threshold 20, exact-erf GELU (computed in its erfc form, see
 * act_kernels.c), silu = x / (1 + e^-x). */
#include "nde/nn.h"

#include <math.h>
#include <stddef.h>
#include "core/names.h"
#include "nn/act_kernels.h"

static const char *const act_names[NDE_ACT_COUNT] = {
    [NDE_ACT_IDENTITY] = "identity", [NDE_ACT_TANH] = "tanh",   [NDE_ACT_SIGMOID] = "sigmoid",
    [NDE_ACT_RELU] = "relu",         [NDE_ACT_GELU] = "gelu",   [NDE_ACT_SOFTPLUS] = "softplus",
    [NDE_ACT_SWISH] = "swish",
};

const char *nde_act_name(nde_act a) { return nde_name_at(act_names, NDE_ACT_COUNT, (int)a); }

nde_status nde_act_parse(const char *name, nde_act *a)
{
    if (!name || !a) return NDE_FAIL(NDE_ERR_ARG, "nde_act_parse: NULL argument");
    static const char *const aliases[NDE_ACT_COUNT] = {[NDE_ACT_IDENTITY] = "linear",
                                                       [NDE_ACT_SWISH] = "silu"};
    int i = nde_name_index(name, act_names, NDE_ACT_COUNT);
    if (i < 0) i = nde_name_index(name, aliases, NDE_ACT_COUNT);
    if (i >= 0) {
        *a = (nde_act)i;
        return NDE_OK;
    }
    return NDE_FAIL(NDE_ERR_ARG,
                    "unknown activation '%s' (identity, tanh, sigmoid, relu, gelu, softplus, "
                    "swish)",
                    name);
}

static nde_status check_args(const char *fn, nde_act a, size_t n, const void *p1, const void *p2,
                             const void *p3, const void *p4)
{
    if ((int)a < 0 || a >= NDE_ACT_COUNT)
        return NDE_FAIL(NDE_ERR_ARG, "%s: unknown activation %d", fn, (int)a);
    if (n > 0 && (!p1 || !p2 || !p3 || !p4))
        return NDE_FAIL(NDE_ERR_ARG, "%s(%s): NULL array for n = %zu", fn, act_names[a], n);
    return NDE_OK;
}

/* softplus(x) = log(1 + e^x), or x beyond torch's threshold 20. */
static double softplus(double x) { return x > 20.0 ? x : log1p(exp(x)); }

nde_status nde_act_forward(nde_act a, const double *x, double *y, size_t n)
{
    NDE_TRY(check_args("nde_act_forward", a, n, x, y, x, y));
    switch (a) {
    case NDE_ACT_IDENTITY:
        if (y != x)
            for (size_t i = 0; i < n; i++) y[i] = x[i];
        break;
    case NDE_ACT_TANH: nde_kern_tanh(x, y, n); break;
    case NDE_ACT_SIGMOID: nde_kern_sigmoid(x, y, n); break;
    case NDE_ACT_RELU:
        /* x > 0 ? x : 0, with NaN passing through (torch's relu propagates NaN). */
        for (size_t i = 0; i < n; i++) y[i] = x[i] <= 0.0 ? 0.0 : x[i];
        break;
    case NDE_ACT_GELU: nde_kern_gelu(x, y, n); break;
    case NDE_ACT_SOFTPLUS:
        for (size_t i = 0; i < n; i++) y[i] = softplus(x[i]);
        break;
    case NDE_ACT_SWISH: nde_kern_swish(x, y, n); break;
    case NDE_ACT_COUNT: break;
    }
    return NDE_OK;
}

nde_status nde_act_backward(nde_act a, const double *x, const double *y, const double *dy,
                            double *dx, size_t n)
{
    NDE_TRY(check_args("nde_act_backward", a, n, x, y, dy, dx));
    switch (a) {
    case NDE_ACT_IDENTITY:
        if (dx != dy)
            for (size_t i = 0; i < n; i++) dx[i] = dy[i];
        break;
    case NDE_ACT_TANH: nde_kern_tanh_backward(y, dy, dx, n); break;
    case NDE_ACT_SIGMOID: nde_kern_sigmoid_backward(y, dy, dx, n); break;
    case NDE_ACT_RELU:
        /* torch's threshold_backward: NaN inputs pass the gradient. */
        for (size_t i = 0; i < n; i++) dx[i] = x[i] <= 0.0 ? 0.0 : dy[i];
        break;
    case NDE_ACT_GELU: nde_kern_gelu_backward(x, dy, dx, n); break;
    case NDE_ACT_SOFTPLUS: nde_kern_softplus_backward(x, dy, dx, n); break;
    case NDE_ACT_SWISH: nde_kern_swish_backward(x, dy, dx, n); break;
    case NDE_ACT_COUNT: break;
    }
    return NDE_OK;
}
