#!/usr/bin/python3
"""Reference trajectories for tests/test_optim_ref.c (run with Debian's /usr/bin/python3,
torch 1.13, float64):  /usr/bin/python3 tests/ref/gen_optim_ref.py > tests/ref/optim_ref.h

Problem (reference notes §10, split into two tensors so parameter groups matter):
  x0[i] = 1 - 0.25 i, i = 0..5;  w = x[0:4] as (2, 2) in the default group,
  b = x[4:6] in the no-decay group (weight_decay 0);
  at step t = 1..12:  g_t[i] = (1 + i) x_{t-1}[i] + 0.1 sin(0.37 t + 0.5 i).
The parameters after each step are recorded.

Optimizers that torch 1.13 ships run through torch.optim. The others are transcriptions
of their reference code, written here independently of the C library:
  NAdamW     mlcommons/algorithmic-efficiency pytorch_nadamw_full_budget.py (nadamw)
  Lion       google/automl lion/lion_pytorch.py (Lion.step); Lion-K replaces sign by grad K
  Adan       sail-sg/Adan adan.py (Adan.step with its global max_grad_norm clipping,
             _single_tensor_adan)
  AdaBelief  adabelief_pytorch 0.2.1 AdaBelief.step (fixed_decay included)
  NAdam with decoupled_weight_decay=True: torch >= 2.1 torch/optim/nadam.py
             (_single_tensor_nadam, not capturable/differentiable); torch 1.13 lacks it.

torch.optim.NAdam runs with foreach=True: torch 1.13's default single-tensor path computes
the last step size with Pi_t * mu_t * mu_{t+1} (mu_t counted twice), a bug fixed in torch
2.0 (PyTorch PR 92699); its foreach path has the documented Pi_t * mu_{t+1}, as all later
versions. The script checks that the decoupled transcription with L2 decay instead
reproduces torch 1.13's foreach NAdam.
"""
import math

import torch

torch.set_default_dtype(torch.float64)
N_STEPS = 12
N = 6


def gradient(x, t):
    i = torch.arange(N, dtype=torch.float64)
    return (1 + i) * x + 0.1 * torch.sin(0.37 * t + 0.5 * i)


def run(make_opt):
    """make_opt(w, b) -> object with .step(); returns the (12, 6) trajectory."""
    x0 = 1 - 0.25 * torch.arange(N, dtype=torch.float64)
    w = x0[:4].clone().reshape(2, 2).requires_grad_(True)
    b = x0[4:].clone().requires_grad_(True)
    opt = make_opt(w, b)
    out = []
    for t in range(1, N_STEPS + 1):
        with torch.no_grad():
            x = torch.cat([w.reshape(-1), b])
            g = gradient(x, t)
        w.grad = g[:4].reshape(2, 2).clone()
        b.grad = g[4:].clone()
        opt.step()
        out.append(torch.cat([w.detach().reshape(-1), b.detach()]).tolist())
    return out


def groups(w, b):
    return [{"params": [w]}, {"params": [b], "weight_decay": 0.0}]


class Transcribed:
    """Per-parameter loop shared by the transcribed optimizers: `rule(p, grad, state,
    lr, wd)` is the reference algorithm's body for one parameter."""

    def __init__(self, w, b, lr, wd, rule):
        self.items = [(w, wd, {}), (b, 0.0, {})]
        self.lr = lr
        self.rule = rule

    @torch.no_grad()
    def step(self):
        for p, wd, state in self.items:
            self.rule(p, p.grad, state, self.lr, wd)


def nadamw_rule(beta1=0.9, beta2=0.999, eps=1e-8):
    def rule(param, grad, state, lr, weight_decay):
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(param)
            state["exp_avg_sq"] = torch.zeros_like(param)
        exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        step_t += 1
        param.mul_(1 - lr * weight_decay)
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        step = step_t.item()
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = math.sqrt(bias_correction2)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-step_size)
        exp_avg.sub_(grad, alpha=1 - beta1).div_(beta1)
    return rule


def lion_rule(beta1=0.9, beta2=0.99, grad_k=torch.sign):
    def rule(p, grad, state, lr, weight_decay):
        p.data.mul_(1 - lr * weight_decay)
        if not state:
            state["exp_avg"] = torch.zeros_like(p)
        exp_avg = state["exp_avg"]
        update = exp_avg * beta1 + grad * (1 - beta1)
        p.add_(grad_k(update), alpha=-lr)
        exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)
    return rule


def k_l2(c):
    norm = torch.sqrt(torch.sum(c * c))
    return c / norm if norm > 0 else torch.zeros_like(c)


def adan_rule(beta1=0.98, beta2=0.92, beta3=0.99, eps=1e-8, no_prox=False):
    def rule(param, grad, state, lr, weight_decay, clip_global_grad_norm=1.0):
        state["step"] = state.get("step", 0) + 1
        step = state["step"]
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        bias_correction3_sqrt = math.sqrt(1.0 - beta3 ** step)
        if "exp_avg" not in state:
            state["exp_avg"] = torch.zeros_like(param)
            state["exp_avg_sq"] = torch.zeros_like(param)
            state["exp_avg_diff"] = torch.zeros_like(param)
        if "neg_pre_grad" not in state or step == 1:
            state["neg_pre_grad"] = grad.clone().mul_(-clip_global_grad_norm)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg_diff, neg_grad_or_diff = state["exp_avg_diff"], state["neg_pre_grad"]
        grad.mul_(clip_global_grad_norm)
        neg_grad_or_diff.add_(grad)
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_diff.mul_(beta2).add_(neg_grad_or_diff, alpha=1 - beta2)
        neg_grad_or_diff.mul_(beta2).add_(grad)
        exp_avg_sq.mul_(beta3).addcmul_(neg_grad_or_diff, neg_grad_or_diff, value=1 - beta3)
        denom = ((exp_avg_sq).sqrt() / bias_correction3_sqrt).add_(eps)
        step_size_diff = lr * beta2 / bias_correction2
        step_size = lr / bias_correction1
        if no_prox:
            param.mul_(1 - lr * weight_decay)
            param.addcdiv_(exp_avg, denom, value=-step_size)
            param.addcdiv_(exp_avg_diff, denom, value=-step_size_diff)
        else:
            param.addcdiv_(exp_avg, denom, value=-step_size)
            param.addcdiv_(exp_avg_diff, denom, value=-step_size_diff)
            param.div_(1 + lr * weight_decay)
        neg_grad_or_diff.zero_().add_(grad, alpha=-1.0)
    return rule


class TranscribedAdan(Transcribed):
    """Adan.step with max_grad_norm > 0: the clip coefficient over all parameters first."""

    def __init__(self, w, b, lr, wd, max_grad_norm, eps=1e-8, **kwargs):
        super().__init__(w, b, lr, wd, adan_rule(eps=eps, **kwargs))
        self.max_grad_norm, self.eps = max_grad_norm, eps

    @torch.no_grad()
    def step(self):
        global_grad_norm = torch.zeros(1)
        max_grad_norm = torch.tensor(self.max_grad_norm)
        for p, _, _ in self.items:
            global_grad_norm.add_(p.grad.pow(2).sum())
        global_grad_norm = torch.sqrt(global_grad_norm)
        clip_global_grad_norm = torch.clamp(max_grad_norm / (global_grad_norm + self.eps),
                                            max=1.0).item()
        for p, wd, state in self.items:
            self.rule(p, p.grad, state, self.lr, wd, clip_global_grad_norm)


def nadam_rule(beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3,
               decoupled_weight_decay=True):
    def rule(param, grad, state, lr, weight_decay):
        if not state:
            state["step"] = torch.tensor(0.0)
            state["mu_product"] = torch.tensor(1.0)
            state["exp_avg"] = torch.zeros_like(param)
            state["exp_avg_sq"] = torch.zeros_like(param)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        mu_product, step_t = state["mu_product"], state["step"]
        step_t += 1
        step = step_t.item()
        bias_correction2 = 1 - beta2 ** step
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        mu = beta1 * (1. - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1. - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product *= mu
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = exp_avg_sq.div(bias_correction2).sqrt()
        mu_product_next = mu_product.item() * mu_next
        denom.add_(eps)
        param.addcdiv_(grad, denom, value=(-lr * (1. - mu) / (1. - mu_product.item())))
        param.addcdiv_(exp_avg, denom, value=(-lr * mu_next) / (1. - mu_product_next))
    return rule


def adabelief_rule(beta1=0.9, beta2=0.999, eps=1e-16, weight_decouple=True, rectify=True,
                   amsgrad=False, degenerated_to_sgd=True, fixed_decay=False):
    buffer = [[None, None, None] for _ in range(10)]

    def rule(p, grad, state, lr, weight_decay):
        grad = grad.clone()
        if len(state) == 0:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p.data)
            state["exp_avg_var"] = torch.zeros_like(p.data)
            if amsgrad:
                state["max_exp_avg_var"] = torch.zeros_like(p.data)
        if weight_decouple:
            if not fixed_decay:
                p.data.mul_(1.0 - lr * weight_decay)
            else:
                p.data.mul_(1.0 - weight_decay)
        elif weight_decay != 0:
            grad.add_(p.data, alpha=weight_decay)
        exp_avg, exp_avg_var = state["exp_avg"], state["exp_avg_var"]
        state["step"] += 1
        bias_correction1 = 1 - beta1 ** state["step"]
        bias_correction2 = 1 - beta2 ** state["step"]
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        grad_residual = grad - exp_avg
        exp_avg_var.mul_(beta2).addcmul_(grad_residual, grad_residual, value=1 - beta2)
        if amsgrad:
            max_exp_avg_var = state["max_exp_avg_var"]
            torch.max(max_exp_avg_var, exp_avg_var.add_(eps), out=max_exp_avg_var)
            denom = (max_exp_avg_var.sqrt() / math.sqrt(bias_correction2)).add_(eps)
        else:
            denom = (exp_avg_var.add_(eps).sqrt() / math.sqrt(bias_correction2)).add_(eps)
        if not rectify:
            step_size = lr / bias_correction1
            p.data.addcdiv_(exp_avg, denom, value=-step_size)
        else:
            buffered = buffer[int(state["step"] % 10)]
            if state["step"] == buffered[0]:
                N_sma, step_size = buffered[1], buffered[2]
            else:
                buffered[0] = state["step"]
                beta2_t = beta2 ** state["step"]
                N_sma_max = 2 / (1 - beta2) - 1
                N_sma = N_sma_max - 2 * state["step"] * beta2_t / (1 - beta2_t)
                buffered[1] = N_sma
                if N_sma >= 5:
                    step_size = math.sqrt(
                        (1 - beta2_t) * (N_sma - 4) / (N_sma_max - 4) * (N_sma - 2) / N_sma
                        * N_sma_max / (N_sma_max - 2)) / (1 - beta1 ** state["step"])
                elif degenerated_to_sgd:
                    step_size = 1.0 / (1 - beta1 ** state["step"])
                else:
                    step_size = -1
                buffered[2] = step_size
            if N_sma >= 5:
                denom = exp_avg_var.sqrt().add_(eps)
                p.data.addcdiv_(exp_avg, denom, value=-step_size * lr)
            elif step_size > 0:
                p.data.add_(exp_avg, alpha=-step_size * lr)
    return rule


def transcribed(lr, wd, rule):
    return lambda w, b: Transcribed(w, b, lr, wd, rule)


O = torch.optim
CASES = [
    ("sgd lr=0.1", lambda w, b: O.SGD(groups(w, b), lr=0.1)),
    ("sgd momentum=0.9 dampening=0.1 wd=0.1 lr=0.05",
     lambda w, b: O.SGD(groups(w, b), lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.1)),
    ("sgd nesterov momentum=0.9 wd=0.01 lr=0.05",
     lambda w, b: O.SGD(groups(w, b), lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("rmsprop lr=1e-2", lambda w, b: O.RMSprop(groups(w, b), lr=1e-2)),
    ("rmsprop centered momentum=0.5 wd=0.1 lr=1e-2",
     lambda w, b: O.RMSprop(groups(w, b), lr=1e-2, centered=True, momentum=0.5, weight_decay=0.1)),
    ("adam lr=1e-2", lambda w, b: O.Adam(groups(w, b), lr=1e-2)),
    ("adam amsgrad wd=0.1 lr=1e-2",
     lambda w, b: O.Adam(groups(w, b), lr=1e-2, amsgrad=True, weight_decay=0.1)),
    ("adamw lr=1e-2 wd=0.1", lambda w, b: O.AdamW(groups(w, b), lr=1e-2, weight_decay=0.1)),
    ("adamw amsgrad lr=1e-2 wd=0.1",
     lambda w, b: O.AdamW(groups(w, b), lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("adamax lr=1e-2 wd=0.1", lambda w, b: O.Adamax(groups(w, b), lr=1e-2, weight_decay=0.1)),
    ("nadamw lr=1e-2 wd=0.1", transcribed(1e-2, 0.1, nadamw_rule())),
    ("lion lr=1e-2 wd=1.0", transcribed(1e-2, 1.0, lion_rule())),
    ("lion-k l2 lr=1e-2 wd=0.5", transcribed(1e-2, 0.5, lion_rule(grad_k=k_l2))),
    ("lion-k huber lr=1e-2 wd=0.5",
     transcribed(1e-2, 0.5, lion_rule(grad_k=lambda c: torch.clamp(c, -1.0, 1.0)))),
    ("lion-k quadratic lr=1e-2 wd=0.1", transcribed(1e-2, 0.1, lion_rule(grad_k=lambda c: c))),
    ("adan lr=1e-2 wd=0.02", transcribed(1e-2, 0.02, adan_rule())),
    ("adan no_prox lr=1e-2 wd=0.02", transcribed(1e-2, 0.02, adan_rule(no_prox=True))),
    # clipped at steps 1-7 (norm 3.08 -> 2.55), not after
    ("adan max_grad_norm=2.5 lr=1e-2 wd=0.02",
     lambda w, b: TranscribedAdan(w, b, 1e-2, 0.02, max_grad_norm=2.5)),
    ("adan no_prox max_grad_norm=1 lr=1e-2 wd=0.02",
     lambda w, b: TranscribedAdan(w, b, 1e-2, 0.02, max_grad_norm=1.0, no_prox=True)),
    ("adabelief lr=1e-2 wd=0.1 rectify=0",
     transcribed(1e-2, 0.1, adabelief_rule(rectify=False))),
    ("adabelief lr=1e-2 wd=0.1 rectify=1", transcribed(1e-2, 0.1, adabelief_rule())),
    ("adabelief lr=1e-2 wd=0.1 rectify=1 degenerated_to_sgd=0",
     transcribed(1e-2, 0.1, adabelief_rule(degenerated_to_sgd=False))),
    ("adabelief amsgrad l2 eps=1e-8 lr=1e-2 wd=0.1 rectify=0",
     transcribed(1e-2, 0.1, adabelief_rule(eps=1e-8, weight_decouple=False, rectify=False,
                                           amsgrad=True))),
    ("adabelief fixed_decay lr=1e-2 wd=0.01 rectify=0",
     transcribed(1e-2, 0.01, adabelief_rule(rectify=False, fixed_decay=True))),
    ("adabelief fixed_decay amsgrad lr=1e-2 wd=0.02 rectify=1",
     transcribed(1e-2, 0.02, adabelief_rule(amsgrad=True, fixed_decay=True))),
    ("nadam lr=1e-2", lambda w, b: O.NAdam(groups(w, b), lr=1e-2, foreach=True)),
    ("nadam wd=0.1 lr=1e-2",
     lambda w, b: O.NAdam(groups(w, b), lr=1e-2, weight_decay=0.1, foreach=True)),
    ("nadam betas=(0.8,0.99) psi=0.1 eps=1e-6 lr=1e-2",
     lambda w, b: O.NAdam(groups(w, b), lr=1e-2, betas=(0.8, 0.99), momentum_decay=0.1,
                          eps=1e-6, foreach=True)),
    ("nadam decoupled_weight_decay wd=0.1 lr=1e-2", transcribed(1e-2, 0.1, nadam_rule())),
]


def check_nadam_transcription():
    """The transcription with L2 decay must reproduce torch 1.13's foreach NAdam."""
    torch_run = run(lambda w, b: O.NAdam(groups(w, b), lr=1e-2, weight_decay=0.1, foreach=True))
    ours = run(transcribed(1e-2, 0.1, nadam_rule(decoupled_weight_decay=False)))
    worst = max(abs(a - b) / abs(a) for ra, rb in zip(torch_run, ours) for a, b in zip(ra, rb))
    assert worst < 1e-14, "NAdam transcription differs from torch.optim.NAdam: %g" % worst


def clip_case():
    """torch.nn.utils.clip_grad_norm_ on g_1 scaled by 10 (clipped) and by 0.01 (not)."""
    x0 = 1 - 0.25 * torch.arange(N, dtype=torch.float64)
    out = []
    for scale, max_norm in ((10.0, 1.5), (0.01, 1.5)):
        p = torch.zeros(N, requires_grad=True)
        p.grad = scale * gradient(x0, 1)
        norm = torch.nn.utils.clip_grad_norm_([p], max_norm)
        out.append((scale, max_norm, float(norm), p.grad.tolist()))
    return out


def main():
    check_nadam_transcription()
    print("/* Generated by tests/ref/gen_optim_ref.py (torch %s, float64); do not edit. */"
          % torch.__version__)
    print("#define OPTIM_REF_STEPS %d\n#define OPTIM_REF_N %d" % (N_STEPS, N))
    print("typedef struct optim_ref_case { const char *name; double x[%d][%d]; } optim_ref_case;"
          % (N_STEPS, N))
    print("static const optim_ref_case optim_ref_cases[] = {")
    for name, make in CASES:
        traj = run(make)
        print('    {"%s", {' % name)
        for row in traj:
            print("        {" + ", ".join("%.17g" % v for v in row) + "},")
        print("    }},")
    print("};")
    print("typedef struct optim_ref_clip { double scale, max_norm, norm; double g[%d]; } "
          "optim_ref_clip;" % N)
    print("static const optim_ref_clip optim_ref_clips[] = {")
    for scale, max_norm, norm, g in clip_case():
        print("    {%.17g, %.17g, %.17g, {%s}}," % (scale, max_norm, norm,
                                                  ", ".join("%.17g" % v for v in g)))
    print("};")


if __name__ == "__main__":
    main()
