#!/usr/bin/env bash
# bench/fno/run_side_by_side_2d.sh — nde vs PyTorch seconds per epoch for the FNO-2D Darcy
# model (legacy fourier_2d.py: 12×12 modes, width 32, 4 layers, padding 9 at s = 85, 1000
# train + 100 test samples, batch 20, pointwise normalizers, relative L2 on decoded
# outputs), both on the same cached data (nde's Darcy generator, seed 1; the nde bench
# writes .npy copies for torch), one after the other in this run, 2 threads each (nde: the
# batch split over a team of NDE_THREADS threads with single-threaded OpenBLAS; torch:
# torch.set_num_threads).
#
#   bench/fno/run_side_by_side_2d.sh [BUILD_DIR] [EPOCHS]
#
# Prints the JSON lines of both and speedup lines (torch / nde float64).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
epochs=${2:-2}
threads=${NDE_THREADS:-2}
echo "{\"bench\": \"fno2d_darcy\", \"metric\": \"machine\", \"value\": \"$(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
nde_out=$("$build/bench/fno/fno2d_bench" --epochs "$epochs" --threads "$threads")
echo "$nde_out"
stem=$(echo "$nde_out" | sed -n 's/.*"metric": "data", "value": "\([^"]*\)".*/\1/p')
torch_out=$(/usr/bin/python3 bench/fno/fno2d_torch.py --data-a "${stem}_a.npy" --data-u "${stem}_u.npy" \
            --epochs "$epochs" --threads "$threads")
echo "$torch_out"
echo "{\"bench\": \"fno2d_darcy\", \"metric\": \"machine_after\", \"value\": \"load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
/usr/bin/python3 - "$nde_out" "$torch_out" <<'PY'
import json, sys
rows = [json.loads(l) for l in (sys.argv[1] + "\n" + sys.argv[2]).splitlines() if l.strip()]
def get(impl, dtype, metric):
    return next(r["value"] for r in rows if r.get("impl") == impl and r.get("dtype") == dtype
                and r["metric"] == metric)
for dt in ("float32", "float64"):
    print(json.dumps({"bench": "fno2d_darcy", "metric": f"speedup_nde_f64_vs_torch_{dt}",
                      "value": round(get("torch", dt, "s_per_epoch_mean") / get("nde", "float64", "s_per_epoch_mean"), 2),
                      "unit": "x"}))
    print(json.dumps({"bench": "fno2d_darcy", "metric": f"cpu_time_ratio_torch_{dt}_over_nde_f64",
                      "value": round(get("torch", dt, "cpu_s_per_epoch_mean") / get("nde", "float64", "cpu_s_per_epoch_mean"), 2),
                      "unit": "x"}))
PY
