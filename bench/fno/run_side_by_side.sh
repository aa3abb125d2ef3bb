#!/usr/bin/env bash
# bench/fno/run_side_by_side.sh — nde vs PyTorch seconds per epoch for an FNO, both on the
# same cached data, one after the other in this run, 2 threads each (nde: the batch split
# over a team of NDE_THREADS threads with single-threaded OpenBLAS; torch:
# torch.set_num_threads).
#   burgers (default): FNO-1D (legacy fourier_1d.py: 16 modes, width 64) at s = 1024, 1000
#     train + 100 test samples, batch 20 (bench/fno/fno_bench, fno1d_torch.py).
#   darcy: FNO-2D (legacy fourier_2d.py: 12×12 modes, width 32, 4 layers, padding 9 at
#     s = 85), 1000 train + 100 test samples, batch 20, pointwise normalizers, relative L2
#     on decoded outputs; nde's Darcy data (seed 1), of which the nde bench writes .npy
#     copies for torch (bench/fno/fno2d_bench, fno2d_torch.py).
#
#   bench/fno/run_side_by_side.sh [BUILD_DIR] [EPOCHS] [burgers|darcy]
#
# Prints the JSON lines of both, the machine load before and after, and speedup lines
# (torch / nde float64).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
epochs=${2:-2}
model=${3:-burgers}
threads=${NDE_THREADS:-2}
case "$model" in
    burgers) bench=fno1d_burgers; nde_exe=fno_bench; torch_py=fno1d_torch.py ;;
    darcy) bench=fno2d_darcy; nde_exe=fno2d_bench; torch_py=fno2d_torch.py ;;
    *) echo "usage: $0 [BUILD_DIR] [EPOCHS] [burgers|darcy]" >&2; exit 2 ;;
esac
machine() { echo "{\"bench\": \"$bench\", \"metric\": \"$1\", \"value\": \"$2load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"; }
machine machine "$(nproc) cpus, "
nde_out=$("$build/bench/fno/$nde_exe" --epochs "$epochs" --threads "$threads")
echo "$nde_out"
stem=$(echo "$nde_out" | sed -n 's/.*"metric": "data", "value": "\([^"]*\)".*/\1/p')
torch_out=$(/usr/bin/python3 "bench/fno/$torch_py" --data-a "${stem}_a.npy" --data-u "${stem}_u.npy" \
            --epochs "$epochs" --threads "$threads")
echo "$torch_out"
machine machine_after ""
/usr/bin/python3 - "$bench" "$nde_out" "$torch_out" <<'PY'
import json, sys
bench = sys.argv[1]
rows = [json.loads(l) for l in (sys.argv[2] + "\n" + sys.argv[3]).splitlines() if l.strip()]
def get(impl, dtype, metric):
    return next(r["value"] for r in rows if r.get("impl") == impl and r.get("dtype") == dtype
                and r["metric"] == metric)
for dt in ("float32", "float64"):
    print(json.dumps({"bench": bench, "metric": f"speedup_nde_f64_vs_torch_{dt}",
                      "value": round(get("torch", dt, "s_per_epoch_mean") / get("nde", "float64", "s_per_epoch_mean"), 2),
                      "unit": "x"}))
    print(json.dumps({"bench": bench, "metric": f"cpu_time_ratio_torch_{dt}_over_nde_f64",
                      "value": round(get("torch", dt, "cpu_s_per_epoch_mean") / get("nde", "float64", "cpu_s_per_epoch_mean"), 2),
                      "unit": "x"}))
PY
