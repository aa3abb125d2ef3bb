#!/usr/bin/python3
"""PyTorch reference timing for the FNO-1D Burgers benchmark (bench/fno).

The model is the legacy fourier_1d.py architecture of Li et al. (github.com/zongyi-li/
fourier_neural_operator, commit e12ed83): fc0 Linear(2->64), 4 x [SpectralConv1d(64, 64,
16 modes) + Conv1d(64, 64, 1)] with GELU between, fc1 64->128, GELU, fc2 128->1; Adam
(lr 1e-3, weight decay 1e-4), StepLR(50, 0.5), relative L2 loss summed over the batch.
One epoch = a shuffled training pass plus the test evaluation, as in the legacy script.
Written for this benchmark (not copied); run with Debian's python3-torch:

    /usr/bin/python3 bench/fno/fno1d_torch.py --data-a A.npy --data-u U.npy --epochs 3

Prints one JSON object per result line.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_timing import print_results, timed_epochs


class SpectralConv1d(nn.Module):
    def __init__(self, cin, cout, modes, cdtype):
        super().__init__()
        self.modes = modes
        self.cout = cout
        scale = 1.0 / (cin * cout)
        self.weights = nn.Parameter(scale * torch.rand(cin, cout, modes, dtype=cdtype))

    def forward(self, x):
        x_ft = torch.fft.rfft(x)
        out_ft = torch.zeros(x.shape[0], self.cout, x.shape[-1] // 2 + 1,
                             dtype=x_ft.dtype, device=x.device)
        out_ft[:, :, :self.modes] = torch.einsum("bix,iox->box", x_ft[:, :, :self.modes], self.weights)
        return torch.fft.irfft(out_ft, n=x.shape[-1])


class FNO1d(nn.Module):
    def __init__(self, modes=16, width=64, cdtype=torch.cfloat):
        super().__init__()
        self.fc0 = nn.Linear(2, width)
        self.convs = nn.ModuleList([SpectralConv1d(width, width, modes, cdtype) for _ in range(4)])
        self.ws = nn.ModuleList([nn.Conv1d(width, width, 1) for _ in range(4)])
        self.fc1 = nn.Linear(width, 128)
        self.fc2 = nn.Linear(128, 1)

    def forward(self, x):  # x: (batch, s, 1)
        s = x.shape[1]
        grid = torch.linspace(0, 1, s, dtype=x.dtype).reshape(1, s, 1).repeat(x.shape[0], 1, 1)
        x = self.fc0(torch.cat((x, grid), dim=-1)).permute(0, 2, 1)
        for i, (conv, w) in enumerate(zip(self.convs, self.ws)):
            x = conv(x) + w(x)
            if i < 3:
                x = F.gelu(x)
        x = F.gelu(self.fc1(x.permute(0, 2, 1)))
        return self.fc2(x)


def run(dtype, a, u, args):
    torch.manual_seed(0)
    cdtype = torch.cfloat if dtype == torch.float32 else torch.cdouble
    # Build in the target precision (Module.to(dtype) would also cast the complex weights).
    torch.set_default_dtype(dtype)
    model = FNO1d(cdtype=cdtype)
    nparams = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    x = torch.tensor(a, dtype=dtype).unsqueeze(-1)
    y = torch.tensor(u, dtype=dtype).unsqueeze(-1)
    xtr, ytr = x[:args.ntrain], y[:args.ntrain]
    xte, yte = x[-args.ntest:], y[-args.ntest:]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=50, gamma=0.5)
    times, cpu, test = timed_epochs(model, model, opt, sched, xtr, ytr, xte, yte, args)
    return nparams, times, cpu, test


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-a", help="inputs (count, s) .npy; random data if absent")
    ap.add_argument("--data-u", help="targets (count, s) .npy")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--ntrain", type=int, default=1000)
    ap.add_argument("--ntest", type=int, default=100)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtypes", default="float32,float64")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.data_a:
        a, u = np.load(args.data_a), np.load(args.data_u)
        sub = a.shape[1] // args.n
        a, u = a[:, ::sub], u[:, ::sub]
    else:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((args.ntrain + args.ntest, args.n))
        u = rng.standard_normal((args.ntrain + args.ntest, args.n))
    for name in args.dtypes.split(","):
        dtype = getattr(torch, name)
        nparams, times, cpu, test = run(dtype, a, u, args)
        base = {"bench": "fno1d_burgers", "impl": "torch", "dtype": name,
                "torch": torch.__version__, "threads": args.threads}
        print_results(base, nparams, times, cpu, test, args.epochs)

if __name__ == "__main__":
    main()
