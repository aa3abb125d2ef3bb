#!/usr/bin/env python3
"""Paper model of data-parallel allreduce cost for nde's operators (docs/scaling.md).

Message = the flat gradient, 8 bytes per parameter (float64; parameter counts from nde,
docs/scaling.md). Allreduce cost with the alpha-beta model (latency alpha per message,
beta seconds per byte; reduction arithmetic neglected):
  ring (reduce-scatter + allgather): 2 (P-1) alpha + 2 (P-1)/P n beta
  tree (binomial reduce + broadcast): 2 ceil(log2 P) (alpha + n beta)
Per-sample compute t_s (forward + backward, one core) from docs/benchmarks.md.
b_hide: samples per rank whose compute covers the allreduce (b t_s >= T, with overlap);
b_85:   samples per rank for 85 % efficiency without overlap (b t_s >= T 0.85/0.15).
Prints one JSON line per (model, network, P).
"""
import json
import math

MODELS = {  # name: (parameters, per-sample seconds, where t_s comes from)
    "fno1d_burgers_s1024": (549569, 7.5e-3, "fno_bench: 3.74 s/epoch of 1000 samples on 2 threads"),
    "fno2d_darcy": (2368001, 38.1e-3, "examples/darcy FNO-2D at s=64: 38.1 s/epoch of 1000"),
    "mgno_darcy": (508149, 86e-3, "bench/mgno: forward + VJP 86 ms at 64x64"),
    # bench/scaling's FNO (burgers_fno.ini, s = 128): 23.6 ms per step of 20 at P = 1,
    # measured under load (docs/scaling.md)
    "fno1d_bench_s128": (104801, 1.18e-3, "bench/scaling P=1 under load"),
}
NETWORKS = {  # name: (alpha seconds, beta seconds per byte)
    "shared_memory": (1e-6, 1 / 5e9),
    "infiniband_hdr100": (2e-6, 1 / 12.5e9),
    "ethernet_10g": (20e-6, 1 / 1.25e9),
}


def ring(p, n, a, b):
    return 2 * (p - 1) * a + 2 * (p - 1) / p * n * b


def tree(p, n, a, b):
    return 2 * math.ceil(math.log2(p)) * (a + n * b)


for model, (params, ts, _) in MODELS.items():
    nbytes = 8 * params
    for net, (a, b) in NETWORKS.items():
        for p in ((2,) if net == "shared_memory" else (2, 8, 64, 512)):
            tr, tt = ring(p, nbytes, a, b), tree(p, nbytes, a, b)
            print(json.dumps({"model": model, "params": params, "message_MB": round(nbytes / 1e6, 2),
                              "network": net, "P": p, "ring_ms": round(tr * 1e3, 3),
                              "tree_ms": round(tt * 1e3, 3), "t_sample_ms": ts * 1e3,
                              "b_hide": math.ceil(tr / ts), "b_85": math.ceil(tr * 0.85 / 0.15 / ts)}))
