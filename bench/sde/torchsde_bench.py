"""torchsde side of bench/sde: one neural-SDE training iteration (forward sdeint on a fresh
Brownian interval + backpropagation of the sum of the final states) with the same MLPs,
batch, steps and methods as bench_sde ('euler' ~ nde em, 'srk' ~ nde sriw1; both fixed
step dt = 1/steps, float64, one thread). Prints one JSON line per method and clock.
Run through bench/sde/torchsde_compare.sh (it puts torchsde on PYTHONPATH)."""
import argparse
import json
import statistics
import time

import torch
import torchsde


class SDE(torch.nn.Module):
    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, d, h):
        super().__init__()
        self.f_net = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, d))
        self.g_net = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, d))

    def f(self, t, y):
        return self.f_net(y)

    def g(self, t, y):
        return self.g_net(y)


def main():
    ap = argparse.ArgumentParser()
    for k, v in (("dim", 4), ("hidden", 32), ("batch", 64), ("steps", 50), ("iters", 20), ("seed", 0)):
        ap.add_argument("--" + k, type=int, default=v)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    sde = SDE(a.dim, a.hidden).double()
    y0 = 0.1 * torch.randn(a.batch, a.dim, dtype=torch.float64)
    ts = torch.tensor([0.0, 1.0], dtype=torch.float64)
    for method in ("euler", "srk"):
        wall, cpu = [], []
        for it in range(a.iters + 1):  # iteration 0: warm-up
            w0, c0 = time.perf_counter(), time.thread_time()
            bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(a.batch, a.dim), dtype=torch.float64,
                                           entropy=a.seed + it,
                                           levy_area_approximation="space-time" if method == "srk" else "none")
            sde.zero_grad()
            ys = torchsde.sdeint(sde, y0, ts, bm=bm, method=method, dt=1.0 / a.steps)
            ys[-1].sum().backward()
            if it > 0:
                wall.append(1e6 * (time.perf_counter() - w0))
                cpu.append(1e6 * (time.thread_time() - c0))
        for clock, v in (("wall", wall), ("cpu", cpu)):
            print(json.dumps({"bench": "sde", "metric": "us_per_iter_median", "impl": "torchsde",
                              "method": method, "clock": clock, "dim": a.dim, "hidden": a.hidden,
                              "batch": a.batch, "steps": a.steps,
                              "value": round(statistics.median(v), 1), "unit": "us"}))


if __name__ == "__main__":
    main()
