#!/usr/bin/env bash
# Side-by-side: torchdiffeq's ode_demo training (Debian python3-torch, 2 threads, float64
# and float32, direct backpropagation) and nde's bench_spiral, one after the other in one
# run, over the same seeds. Prints every JSON line of both and, last, the speed-up of nde's
# default mode over torchdiffeq float64 (median µs per iteration, median over seeds).
#
#   bench/spiral/compare.sh [TORCHDIFFEQ_DIR] [BUILD_DIR] [SEEDS...]
#
# TORCHDIFFEQ_DIR (default /tmp/torchdiffeq) holds the torchdiffeq package (a checkout of rtqichen/torchdiffeq; it is
# pure Python and not packaged by Debian; it needs python3-scipy).
set -euo pipefail
td=${1:-/tmp/torchdiffeq}
build=${2:-build}
shift 2 || shift $#
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(0 1 2)
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
for s in "${seeds[@]}"; do
    for dt in float64 float32; do
        /usr/bin/python3 "$here/ode_demo_torch.py" --torchdiffeq "$td" --dtype "$dt" --seed "$s" \
            --threads 2 2>/dev/null | sed "s/}\$/, \"seed\": $s}/" | tee -a "$out"
    done
    "$build/bench/spiral/bench_spiral" --seed "$s" 2>/dev/null | sed "s/}\$/, \"seed\": $s}/" | tee -a "$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(bench, mode, metric):
    v = [r["value"] for r in rows if r["bench"] == bench and r["mode"] == mode and r["metric"] == metric]
    return statistics.median(v) if v else float("nan")
t64 = med("spiral_torchdiffeq", "direct_float64", "us_per_iter_median")
for mode in ("discrete_step_starts", "discrete_stages"):
    nde = med("spiral", mode, "us_per_iter_median")
    print(json.dumps({"bench": "spiral_compare", "mode": mode, "metric": "speedup_vs_torchdiffeq_float64",
                      "value": round(t64 / nde, 2), "unit": "x"}))
PY
rm -f "$out"
