#!/usr/bin/env bash
# bench/fno/run_side_by_side.sh — seconds per epoch of nde float32, nde float64 and PyTorch
# float32 (and float64) for the FNO, on the same cached data, one after the other in this
# run, 2 threads each (nde: the batch split over a team of NDE_THREADS threads with
# single-threaded OpenBLAS; torch: torch.set_num_threads), plus the MgNO epoch time.
#   burgers: FNO-1D (legacy fourier_1d.py: 16 modes, width 64) at s = 1024, 1000 train +
#     100 test samples, batch 20 (bench/fno/fno_bench, fno1d_torch.py).
#   darcy: FNO-2D (legacy fourier_2d.py: 12×12 modes, width 32, 4 layers, padding 9 at
#     s = 85), 1000 train + 100 test samples, batch 20, pointwise normalizers, relative L2
#     on decoded outputs; nde's Darcy data (seed 1), of which the nde bench writes .npy
#     copies for torch (bench/fno/fno2d_bench, fno2d_torch.py). Each nde run also reports
#     its peak memory (max_rss, getrusage: the process's maximum resident set, data
#     included), float32 against float64.
#   mgno: the MgNO of examples/darcy (float32, then float64) on the same Darcy data at s = 85, its
#     train_seconds_per_epoch (training pass only) from the darcy driver.
#
#   bench/fno/run_side_by_side.sh [BUILD_DIR] [EPOCHS] [all|burgers|darcy|mgno]
#
# Prints JSON lines only: the benches' own, the machine (cpus, load before and after each
# part) and speedup lines (torch float32 / nde float32, torch float32 / nde float64).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
epochs=${2:-2}
what=${3:-all}
threads=${NDE_THREADS:-2}
case "$what" in all|burgers|darcy|mgno) ;; *)
    echo "usage: $0 [BUILD_DIR] [EPOCHS] [all|burgers|darcy|mgno]" >&2; exit 2 ;;
esac
machine() { echo "{\"bench\": \"$1\", \"metric\": \"$2\", \"value\": \"$(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"; }
speedups() { # bench, then the JSON lines
    /usr/bin/python3 - "$@" <<'PY'
import json, sys
bench = sys.argv[1]
rows = [json.loads(l) for l in "\n".join(sys.argv[2:]).splitlines() if l.strip().startswith("{")]
def get(impl, dtype, metric):
    return next(r["value"] for r in rows if r.get("impl") == impl and r.get("dtype") == dtype
                and r["metric"] == metric)
for nde_dt in ("float32", "float64"):
    for m, name in (("s_per_epoch_mean", "speedup"), ("cpu_s_per_epoch_mean", "cpu_time_ratio")):
        print(json.dumps({"bench": bench, "metric": f"{name}_torch_float32_over_nde_{nde_dt}",
                          "value": round(get("torch", "float32", m) / get("nde", nde_dt, m), 2),
                          "unit": "x"}))
PY
}

stem=
fno() { # bench nde_exe torch_py
    local bench=$1 exe=$2 py=$3
    machine "$bench" machine
    local n32 n64 t
    n32=$("$build/bench/fno/$exe" --epochs "$epochs" --threads "$threads" --precision float32)
    echo "$n32"
    n64=$("$build/bench/fno/$exe" --epochs "$epochs" --threads "$threads" --precision float64)
    echo "$n64"
    stem=$(echo "$n32" | sed -n 's/.*"metric": "data", "value": "\([^"]*\)".*/\1/p')
    t=$(/usr/bin/python3 "bench/fno/$py" --data-a "${stem}_a.npy" --data-u "${stem}_u.npy" \
        --epochs "$epochs" --threads "$threads" --dtypes float32)
    echo "$t"
    machine "$bench" machine_after
    speedups "$bench" "$n32" "$n64" "$t"
}

[ "$what" = all ] || [ "$what" = burgers ] && fno fno1d_burgers fno_bench fno1d_torch.py
if [ "$what" = all ] || [ "$what" = darcy ] || [ "$what" = mgno ]; then
    if [ "$what" = mgno ]; then # only the data of the darcy bench (1 epoch of nde float32)
        out=$("$build/bench/fno/fno2d_bench" --epochs 1 --threads "$threads")
        stem=$(echo "$out" | sed -n 's/.*"metric": "data", "value": "\([^"]*\)".*/\1/p')
    else
        fno fno2d_darcy fno2d_bench fno2d_torch.py
    fi
    machine mgno_darcy machine
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for dt in float32 float64; do
        "$build/examples/darcy/darcy" --model mgno --precision "$dt" --data "${stem}_a.npy" \
            --sol "${stem}_u.npy" --s 85 --ntrain 1000 --ntest 100 --epochs "$epochs" --no-plot \
            --out "$tmp/$dt" >/dev/null 2>&1
        sed -n '/"train_seconds_per_epoch"\|"params"/p' "$tmp/$dt/results.jsonl" |
            sed "s/^{\"bench\": \"darcy\", /{\"bench\": \"mgno_darcy\", \"impl\": \"nde\", \"dtype\": \"$dt\", /"
    done
    machine mgno_darcy machine_after
fi
