/* The optimizer kinds: names, reference defaults and the state each rule keeps. */
#include "optim/optim_internal.h"

#include <string.h>

#include "core/names.h"

static const char *const kind_names[NDE_OPT_KIND_COUNT] = {
    [NDE_OPT_SGD] = "sgd",       [NDE_OPT_RMSPROP] = "rmsprop", [NDE_OPT_ADAM] = "adam",
    [NDE_OPT_ADAMW] = "adamw",   [NDE_OPT_ADAMAX] = "adamax",   [NDE_OPT_NADAMW] = "nadamw",
    [NDE_OPT_LION] = "lion",     [NDE_OPT_ADAN] = "adan",       [NDE_OPT_ADABELIEF] = "adabelief",
    [NDE_OPT_NADAM] = "nadam",
};

const char *nde_optim_kind_name(nde_optim_kind kind)
{
    return nde_name_at(kind_names, NDE_OPT_KIND_COUNT, (int)kind);
}

nde_status nde_optim_kind_parse(const char *name, nde_optim_kind *kind)
{
    if (!name || !kind) return NDE_FAIL(NDE_ERR_ARG, "nde_optim_kind_parse: NULL argument");
    int k = nde_name_index(name, kind_names, NDE_OPT_KIND_COUNT);
    if (k >= 0) {
        *kind = (nde_optim_kind)k;
        return NDE_OK;
    }
    return NDE_FAIL(NDE_ERR_ARG, "unknown optimizer '%s' (sgd, rmsprop, adam, adamw, adamax, "
                                 "nadamw, lion, adan, adabelief, nadam)", name);
}

/* Defaults of the reference implementations named in nde/optim.h. torch's SGD has no
 * default lr; 1e-2 is ours. */
nde_optim_spec nde_optim_defaults(nde_optim_kind kind)
{
    nde_optim_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.lr = 1e-2;
    s.beta1 = 0.9;
    s.beta2 = 0.999;
    s.eps = 1e-8;
    s.lion_k = NDE_LION_K_L1;
    s.state_bits = 32;
    s.block_size = 256;
    s.min_8bit_numel = 4096;
    switch (kind) {
    case NDE_OPT_RMSPROP: s.alpha = 0.99; break;
    case NDE_OPT_ADAM: s.lr = 1e-3; break;
    case NDE_OPT_ADAMW:
    case NDE_OPT_NADAMW:
        s.lr = 1e-3;
        s.weight_decay = 1e-2;
        break;
    case NDE_OPT_ADAMAX: s.lr = 2e-3; break;
    case NDE_OPT_LION:
        s.lr = 1e-4;
        s.beta2 = 0.99;
        break;
    case NDE_OPT_ADAN:
        s.lr = 1e-3;
        s.beta1 = 0.98;
        s.beta2 = 0.92;
        s.beta3 = 0.99;
        break;
    case NDE_OPT_ADABELIEF:
        s.lr = 1e-3;
        s.eps = 1e-16;
        s.decoupled_wd = 1;
        s.rectify = 1;
        s.degenerated_to_sgd = 1;
        break;
    case NDE_OPT_NADAM:
        s.lr = 2e-3;
        s.momentum_decay = 4e-3;
        break;
    default: break;
    }
    return s;
}

static void add_state(opt_layout *l, const char *name, int is_signed)
{
    l->names[l->n_states] = name;
    l->is_signed[l->n_states] = is_signed;
    l->n_states++;
}

void opt_layout_for(const nde_optim_spec *spec, opt_layout *l)
{
    memset(l, 0, sizeof *l);
    l->elementwise = 1;
    switch (spec->kind) {
    case NDE_OPT_SGD:
        l->update = opt_update_sgd;
        if (spec->momentum != 0.0) add_state(l, "momentum_buffer", 1);
        break;
    case NDE_OPT_RMSPROP:
        l->update = opt_update_rmsprop;
        add_state(l, "square_avg", 0);
        if (spec->centered) add_state(l, "grad_avg", 1);
        if (spec->momentum > 0.0) add_state(l, "momentum_buffer", 1);
        break;
    case NDE_OPT_ADAM:
    case NDE_OPT_ADAMW:
        l->update = opt_update_adam;
        add_state(l, "exp_avg", 1);
        add_state(l, "exp_avg_sq", 0);
        if (spec->amsgrad) add_state(l, "max_exp_avg_sq", 0);
        break;
    case NDE_OPT_ADAMAX:
        l->update = opt_update_adamax;
        add_state(l, "exp_avg", 1);
        add_state(l, "exp_inf", 0);
        break;
    case NDE_OPT_NADAMW:
        l->update = opt_update_nadamw;
        add_state(l, "exp_avg", 1);
        add_state(l, "exp_avg_sq", 0);
        break;
    case NDE_OPT_LION:
        l->update = opt_update_lion;
        add_state(l, "exp_avg", 1);
        l->elementwise = spec->lion_k != NDE_LION_K_L2 && spec->lion_k != NDE_LION_K_CUSTOM;
        break;
    case NDE_OPT_ADAN:
        l->update = opt_update_adan;
        add_state(l, "exp_avg", 1);
        add_state(l, "exp_avg_diff", 1);
        add_state(l, "exp_avg_sq", 0);
        add_state(l, "prev_grad", 1);
        break;
    case NDE_OPT_ADABELIEF:
        l->update = opt_update_adabelief;
        add_state(l, "exp_avg", 1);
        add_state(l, "exp_avg_var", 0);
        if (spec->amsgrad) add_state(l, "max_exp_avg_var", 0);
        break;
    case NDE_OPT_NADAM:
        l->update = opt_update_nadam;
        add_state(l, "exp_avg", 1);
        add_state(l, "exp_avg_sq", 0);
        break;
    default: break;
    }
}
