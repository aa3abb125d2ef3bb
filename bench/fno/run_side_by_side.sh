#!/usr/bin/env bash
# bench/fno/run_side_by_side.sh — nde vs PyTorch seconds per epoch for the FNO-1D Burgers
# model (legacy fourier_1d.py: 16 modes, width 64, s = 1024, 1000 train + 100 test samples,
# batch 20), both on the same cached data, one after the other in this run, 2 threads each
# (nde: the batch split over a team of NDE_THREADS threads with single-threaded OpenBLAS;
# torch: torch.set_num_threads).
#
#   bench/fno/run_side_by_side.sh [BUILD_DIR] [EPOCHS]
#
# Prints the JSON lines of both and a speedup line (torch float32 / nde float64).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
epochs=${2:-2}
threads=${NDE_THREADS:-2}
echo "{\"bench\": \"fno1d_burgers\", \"metric\": \"machine\", \"value\": \"$(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
nde_out=$("$build/bench/fno/fno_bench" --epochs "$epochs" --threads "$threads")
echo "$nde_out"
stem=$(echo "$nde_out" | sed -n 's/.*"metric": "data", "value": "\([^"]*\)".*/\1/p')
torch_out=$(/usr/bin/python3 bench/fno/fno1d_torch.py --data-a "${stem}_a.npy" --data-u "${stem}_u.npy" \
            --epochs "$epochs" --threads "$threads")
echo "$torch_out"
/usr/bin/python3 - "$nde_out" "$torch_out" <<'PY'
import json, sys
rows = [json.loads(l) for l in (sys.argv[1] + "\n" + sys.argv[2]).splitlines() if l.strip()]
def get(impl, dtype):
    return next(r["value"] for r in rows if r.get("impl") == impl and r.get("dtype") == dtype
                and r["metric"] == "s_per_epoch_mean")
nde = get("nde", "float64")
def cpu(impl, dtype):
    return next(r["value"] for r in rows if r.get("impl") == impl and r.get("dtype") == dtype
                and r["metric"] == "cpu_s_per_epoch_mean")
for dt in ("float32", "float64"):
    print(json.dumps({"bench": "fno1d_burgers", "metric": f"speedup_nde_f64_vs_torch_{dt}",
                      "value": round(get("torch", dt) / nde, 2), "unit": "x"}))
    print(json.dumps({"bench": "fno1d_burgers", "metric": f"cpu_time_ratio_torch_{dt}_over_nde_f64",
                      "value": round(cpu("torch", dt) / cpu("nde", "float64"), 2), "unit": "x"}))
PY
