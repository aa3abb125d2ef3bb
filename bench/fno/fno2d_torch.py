#!/usr/bin/python3
"""PyTorch reference timing for the FNO-2D Darcy benchmark (bench/fno).

The model follows the description of the legacy fourier_2d.py architecture of Li et al.
(docs: shared reference operators.md, "FNO2d (Darcy)"): the normalized coefficient a plus
two grid channels (linspace(0, 1, s) along each axis) -> fc0 Linear(3->32) -> zero padding
of 9 at the right/bottom (9/85 of s) -> 4 x [SpectralConv2d(32, 32, 12x12 modes, both
low-frequency corners of the rfft2 spectrum) + Conv2d(32, 32, 1)] with GELU except after the
last -> crop -> fc1 32->128, GELU, fc2 128->1 -> pointwise Gaussian decode of the output
(2,368,001 parameters). Adam (lr 1e-3, weight decay 1e-4), StepLR(100, 0.5), relative L2
loss summed over the batch on decoded outputs, batch 20. One epoch = a shuffled training
pass plus the test evaluation. Written for this benchmark (not copied from the FNO
repository); run with Debian's python3-torch:

    /usr/bin/python3 bench/fno/fno2d_torch.py --data-a STEM_a.npy --data-u STEM_u.npy --epochs 2

(the .npy files are written by build/bench/fno/fno2d_bench beside its cached data).
Prints one JSON object per result line.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_timing import print_results, timed_epochs


class SpectralConv2d(nn.Module):
    def __init__(self, cin, cout, modes1, modes2, cdtype):
        super().__init__()
        self.m1, self.m2, self.cout = modes1, modes2, cout
        scale = 1.0 / (cin * cout)
        self.w_low = nn.Parameter(scale * torch.rand(cin, cout, modes1, modes2, dtype=cdtype))
        self.w_high = nn.Parameter(scale * torch.rand(cin, cout, modes1, modes2, dtype=cdtype))

    def forward(self, x):  # x: (batch, cin, h, w)
        h, w = x.shape[-2], x.shape[-1]
        x_ft = torch.fft.rfft2(x)
        out_ft = torch.zeros(x.shape[0], self.cout, h, w // 2 + 1, dtype=x_ft.dtype, device=x.device)
        m1, m2 = self.m1, self.m2
        out_ft[:, :, :m1, :m2] = torch.einsum("bixy,ioxy->boxy", x_ft[:, :, :m1, :m2], self.w_low)
        out_ft[:, :, -m1:, :m2] = torch.einsum("bixy,ioxy->boxy", x_ft[:, :, -m1:, :m2], self.w_high)
        return torch.fft.irfft2(out_ft, s=(h, w))


class FNO2d(nn.Module):
    def __init__(self, modes=12, width=32, layers=4, cdtype=torch.cfloat):
        super().__init__()
        self.layers = layers
        self.fc0 = nn.Linear(3, width)
        self.convs = nn.ModuleList([SpectralConv2d(width, width, modes, modes, cdtype) for _ in range(layers)])
        self.ws = nn.ModuleList([nn.Conv2d(width, width, 1) for _ in range(layers)])
        self.fc1 = nn.Linear(width, 128)
        self.fc2 = nn.Linear(128, 1)

    def forward(self, a):  # a: (batch, s, s), normalized
        b, s = a.shape[0], a.shape[1]
        g = torch.linspace(0, 1, s, dtype=a.dtype)
        gx = g.reshape(1, s, 1, 1).expand(b, s, s, 1)
        gy = g.reshape(1, 1, s, 1).expand(b, s, s, 1)
        x = self.fc0(torch.cat((a.unsqueeze(-1), gx, gy), dim=-1)).permute(0, 3, 1, 2)
        pad = int(round(9 * s / 85))
        x = F.pad(x, [0, pad, 0, pad])
        for i, (conv, w) in enumerate(zip(self.convs, self.ws)):
            x = conv(x) + w(x)
            if i < self.layers - 1:
                x = F.gelu(x)
        x = x[..., :s, :s].permute(0, 2, 3, 1)
        x = F.gelu(self.fc1(x))
        return self.fc2(x).squeeze(-1)


def run(name, a, u, args):
    dtype = getattr(torch, name)
    torch.manual_seed(0)
    cdtype = torch.cfloat if dtype == torch.float32 else torch.cdouble
    # Build in the target precision (Module.to(dtype) would also cast the complex weights).
    torch.set_default_dtype(dtype)
    model = FNO2d(cdtype=cdtype)
    nparams = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    x = torch.tensor(a, dtype=dtype)
    y = torch.tensor(u, dtype=dtype)
    # pointwise Gaussian normalizers from the training samples (unbiased std, eps 1e-5)
    eps = 1e-5
    xm, xs = x[:args.ntrain].mean(0), x[:args.ntrain].std(0)
    ym, ys = y[:args.ntrain].mean(0), y[:args.ntrain].std(0)
    x = (x - xm) / (xs + eps)
    xtr, ytr = x[:args.ntrain], y[:args.ntrain]
    xte, yte = x[args.ntrain:args.ntrain + args.ntest], y[args.ntrain:args.ntrain + args.ntest]

    def predict(xb):
        return model(xb) * (ys + eps) + ym

    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5)
    times, cpu, test = timed_epochs(model, predict, opt, sched, xtr, ytr, xte, yte, args, label=name)
    return nparams, times, cpu, test


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-a", help="coefficients (count, s, s) .npy; random data if absent")
    ap.add_argument("--data-u", help="solutions (count, s, s) .npy")
    ap.add_argument("--s", type=int, default=85, help="grid side for random data")
    ap.add_argument("--ntrain", type=int, default=1000)
    ap.add_argument("--ntest", type=int, default=100)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtypes", default="float32,float64")
    args = ap.parse_args()
    if min(args.ntrain - 1, args.ntest, args.batch, args.epochs, args.threads) < 1:
        ap.error("--ntrain must be >= 2 and --ntest, --batch, --epochs, --threads >= 1")
    if bool(args.data_a) != bool(args.data_u):
        ap.error("--data-a and --data-u go together")
    if not set(args.dtypes.split(",")) <= {"float32", "float64"}:
        ap.error("--dtypes: a comma-separated list of float32, float64")
    torch.set_num_threads(args.threads)
    if args.data_a:
        a, u = np.load(args.data_a), np.load(args.data_u)
        if a.ndim != 3 or a.shape != u.shape or a.shape[1] != a.shape[2]:
            ap.error(f"expected two (count, s, s) arrays, got {a.shape} and {u.shape}")
        if a.shape[0] < args.ntrain + args.ntest:
            ap.error(f"{a.shape[0]} samples, {args.ntrain + args.ntest} needed")
    else:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((args.ntrain + args.ntest, args.s, args.s))
        u = rng.standard_normal((args.ntrain + args.ntest, args.s, args.s))
    for name in args.dtypes.split(","):
        nparams, times, cpu, test = run(name, a, u, args)
        base = {"bench": "fno2d_darcy", "impl": "torch", "dtype": name,
                "torch": torch.__version__, "threads": args.threads, "s": a.shape[1]}
        print_results(base, nparams, times, cpu, test, args.epochs)

if __name__ == "__main__":
    main()
