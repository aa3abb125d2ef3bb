#!/usr/bin/env bash
# bench/work_precision: nde's adaptive explicit pairs and scipy's RK45 and DOP853 on the
# same problems, tolerances and references, in one run. Writes into OUT (default
# out/work_precision): nde.jsonl, scipy.jsonl (JSON lines, one per problem x method x
# tolerance), table.md and goal.jsonl (report.py), <problem>.dat and <problem>.png.
#
#   bench/work_precision/run.sh [--build DIR] [--out DIR] [--quick] [work_precision options]
#
# --quick: tolerances 1e-3, 1e-5, ..., 1e-11 and the problems arenstorf,lotka_volterra
# (about a tenth of the time); other options go to the work_precision program, e.g.
# --problems pleiades --tol-max-exp 6 --tol-min-exp 12 --tol-step 2 --min-seconds 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=build
out=out/work_precision
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=${2:?--build needs a directory}; shift 2 ;;
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        --quick) extra+=(--tol-max-exp 3 --tol-min-exp 11 --tol-step 2
                         --problems arenstorf,lotka_volterra); shift ;;
        *) extra+=("$1"); shift ;;
    esac
done
exe=$build/bench/work_precision/work_precision
[ -x "$exe" ] || { echo "run.sh: $exe not built (ninja -C $build)" >&2; exit 2; }
mkdir -p "$out"
rm -f "$out"/*.dat "$out"/*.png
"$exe" --out "$out" ${extra[@]+"${extra[@]}"} | tee "$out/nde.jsonl"
/usr/bin/python3 "$here/scipy_wp.py" "$out" | tee "$out/scipy.jsonl"
/usr/bin/python3 "$here/report.py" "$out"
for dat in "$out"/*.dat; do
    name=$(basename "$dat" .dat)
    "$exe" --plot "$dat" --png "$out/$name.png" --title "$name" && echo "wrote $out/$name.png"
done
