#!/bin/sh
# Data-parallel scaling of nde's trainer: FNO-1D Burgers and a neural ODE at P = 1 and
# P = 2 ranks, one thread each, then the parallel efficiency T(2)/(2·T(1)) of the
# throughput T (samples/s). JSON lines on stdout (bench_scaling's, then the efficiencies).
#
#   bench/scaling/run.sh [BUILD_DIR]      (default: build)
#
# Extra arguments for bench_scaling: NDE_SCALING_ARGS (e.g. "--steps 100").
set -eu
build=${1:-build}
exe=$build/bench/scaling/bench_scaling
[ -x "$exe" ] || { echo "run.sh: no $exe (an MPI build: meson option mpi)" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for model in fno node; do
    for p in 1 2; do
        # shellcheck disable=SC2086
        mpirun -np "$p" --oversubscribe --bind-to core "$exe" --model "$model" ${NDE_SCALING_ARGS:-} | tee -a "$out"
    done
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for bench in sorted({r["bench"] for r in rows}):
    t = {r["ranks"]: r["value"] for r in rows if r["bench"] == bench and r["metric"] == "samples_per_s"}
    if 1 in t and 2 in t:
        print(json.dumps({"bench": bench, "metric": "parallel_efficiency", "ranks": 2,
                          "value": round(t[2] / (2 * t[1]), 4), "unit": "fraction"}))
PY
