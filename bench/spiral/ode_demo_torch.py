#!/usr/bin/python3
"""torchdiffeq's examples/ode_demo.py training, timed per iteration, for a side-by-side
comparison with bench/spiral. Not part of the build: it needs Debian's python3-torch
and a torchdiffeq checkout (pure Python) on PYTHONPATH or in --torchdiffeq DIR.

    /usr/bin/python3 bench/spiral/ode_demo_torch.py --torchdiffeq /tmp/torchdiffeq \
        --dtype float64 [--niters 2000] [--adjoint] [--threads 2]

Prints JSON lines like bench/spiral:
  {"bench": "spiral_torchdiffeq", "mode": "direct_float64", "metric": "us_per_iter_median", ...}
The iteration is timed from zero_grad to optimizer.step, as ode_demo's time meter does
(batch sampling included)."""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

p = argparse.ArgumentParser()
p.add_argument("--torchdiffeq", default=None, help="directory holding the torchdiffeq package")
p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
p.add_argument("--niters", type=int, default=2000)
p.add_argument("--adjoint", action="store_true")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
if a.torchdiffeq:
    sys.path.insert(0, a.torchdiffeq)
if a.adjoint:
    from torchdiffeq import odeint_adjoint as odeint
else:
    from torchdiffeq import odeint

torch.set_num_threads(a.threads)
torch.set_default_dtype(getattr(torch, a.dtype))
np.random.seed(a.seed)
torch.manual_seed(a.seed)

data_size, batch_time, batch_size = 1000, 10, 20
true_y0 = torch.tensor([[2.0, 0.0]])
t = torch.linspace(0.0, 25.0, data_size)
true_A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])


class Lambda(nn.Module):
    def forward(self, t, y):
        return torch.mm(y ** 3, true_A)


with torch.no_grad():
    true_y = odeint(Lambda(), true_y0, t, method="dopri5")


def get_batch():
    s = torch.from_numpy(np.random.choice(np.arange(data_size - batch_time, dtype=np.int64),
                                          batch_size, replace=False))
    return true_y[s], t[:batch_time], torch.stack([true_y[s + i] for i in range(batch_time)], dim=0)


class ODEFunc(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))
        for m in self.net.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0, std=0.1)
                nn.init.constant_(m.bias, val=0)
        self.nfe = 0

    def forward(self, t, y):
        self.nfe += 1
        return self.net(y ** 3)


func = ODEFunc()
opt = optim.RMSprop(func.parameters(), lr=1e-3)
us, nfes = [], []
start = time.time()
for itr in range(1, a.niters + 1):
    t0 = time.perf_counter()
    opt.zero_grad()
    y0, bt, by = get_batch()
    func.nfe = 0
    pred = odeint(func, y0, bt)
    nfes.append(func.nfe)
    loss = torch.mean(torch.abs(pred - by))
    loss.backward()
    opt.step()
    us.append(1e6 * (time.perf_counter() - t0))
    if itr % 500 == 0:
        print(f"ode_demo_torch: {itr}/{a.niters}", file=sys.stderr, flush=True)
total = time.time() - start
with torch.no_grad():
    mae = torch.mean(torch.abs(odeint(func, true_y0, t) - true_y)).item()
mode = ("adjoint_" if a.adjoint else "direct_") + a.dtype


def emit(metric, value, unit):
    print(json.dumps({"bench": "spiral_torchdiffeq", "mode": mode, "metric": metric,
                      "value": value, "unit": unit}), flush=True)


emit("us_per_iter_mean", statistics.fmean(us), "us")
emit("nfe_per_iter_median", statistics.median(nfes), "evals")
emit("total_s", total, "s")
emit("full_traj_mae", mae, "abs")
emit("us_per_iter_median", statistics.median(us), "us")
