#!/bin/sh
# bench/sde side by side with torchsde: the same drift/diffusion MLPs, batch, steps and
# methods (nde em vs torchsde 'euler', nde sriw1 vs torchsde 'srk'), one training
# iteration each (forward + gradient), float64, one thread. Prints both programs' JSON
# lines and one "ratio" line per method and clock (torchsde time / nde time).
#
#   bench/sde/torchsde_compare.sh [TORCHSDE_GIT_DIR] [BUILD_DIR] [bench options...]
#
# REPEAT=N (environment, default 1): run the two programs N times, alternately, and add
# per method and clock the medians over the runs and their ratio ("median_ratio"), with
# the smallest and largest single-run ratio — on a shared machine whose speed drifts
# between runs, the pair of medians is the steadier comparison.
#
# TORCHSDE_GIT_DIR: a clone or bare git directory of google-research/torchsde (default
# /work/.mirror/google-research+torchsde/repo); its torchsde/ package is exported to a
# temporary folder, never into this repository. torchsde imports the small PyPI package
# `trampoline` (not in Debian); a stand-in with the same two names (trampoline(),
# TailCall) is written next to it. Runs with /usr/bin/python3 (python3-torch).
set -eu
src=${1:-/work/.mirror/google-research+torchsde/repo}
build=${2:-build}
[ $# -ge 1 ] && shift
[ $# -ge 1 ] && shift
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git --git-dir="$src" archive HEAD torchsde 2>/dev/null | tar -x -C "$tmp" ||
    git -C "$src" archive HEAD torchsde | tar -x -C "$tmp"
cat > "$tmp/trampoline.py" <<'PY'
"""Stand-in for the `trampoline` package: run generator-based recursion without the
Python stack. A generator yields a generator to call it (the result is sent back) and
raises TailCall(gen) to be replaced by gen; trampoline(gen) returns the outer result."""


class TailCall(BaseException):
    def __init__(self, call):
        super().__init__()
        self.call = call


def trampoline(gen):
    stack, value = [gen], None
    while stack:
        try:
            nxt = stack[-1].send(value)
            value = None
            stack.append(nxt)
        except StopIteration as e:
            stack.pop()
            value = e.value
        except TailCall as t:
            stack.pop()
            stack.append(t.call)
            value = None
    return value
PY
repeat=${REPEAT:-1}
case $repeat in
'' | *[!0-9]* | ???????*) echo "torchsde_compare.sh: REPEAT='$repeat' is not a count from 1 to 999999" >&2; exit 2 ;;
esac
[ "$repeat" -ge 1 ] || { echo "torchsde_compare.sh: REPEAT must be at least 1" >&2; exit 2; }
: > "$tmp/nde.jsonl"
: > "$tmp/torchsde.jsonl"
r=0
while [ "$r" -lt "$repeat" ]; do
    "$build/bench/sde/bench_sde" "$@" > "$tmp/nde_run.jsonl"
    PYTHONPATH="$tmp" /usr/bin/python3 "$here/torchsde_bench.py" "$@" > "$tmp/torchsde_run.jsonl"
    cat "$tmp/nde_run.jsonl" "$tmp/torchsde_run.jsonl"
    cat "$tmp/nde_run.jsonl" >> "$tmp/nde.jsonl"
    cat "$tmp/torchsde_run.jsonl" >> "$tmp/torchsde.jsonl"
    r=$((r + 1))
done
/usr/bin/python3 - "$tmp/nde.jsonl" "$tmp/torchsde.jsonl" "$repeat" <<'PY'
import json, statistics, sys
nde = [json.loads(l) for l in open(sys.argv[1])]
ts = [json.loads(l) for l in open(sys.argv[2])]
runs = int(sys.argv[3])
pair = {"em": "euler", "sriw1": "srk"}
for method in ("em", "sriw1"):
    for clock in ("wall", "cpu"):
        a = [r["value"] for r in nde if r["method"] == method and r["clock"] == clock]
        b = [t["value"] for t in ts if t["method"] == pair[method] and t["clock"] == clock]
        if not a or len(a) != len(b):
            continue
        ratios = [y / x for x, y in zip(a, b)]
        for x, y in zip(a, b):
            print(json.dumps({"bench": "sde", "metric": "ratio_torchsde_over_nde", "method": method,
                              "torchsde_method": pair[method], "clock": clock,
                              "value": round(y / x, 2), "unit": "x"}))
        if runs > 1:
            ma, mb = statistics.median(a), statistics.median(b)
            print(json.dumps({"bench": "sde", "metric": "median_ratio_torchsde_over_nde",
                              "method": method, "torchsde_method": pair[method], "clock": clock,
                              "runs": runs, "nde_median_us": round(ma, 1),
                              "torchsde_median_us": round(mb, 1), "value": round(mb / ma, 2),
                              "min_run_ratio": round(min(ratios), 2),
                              "max_run_ratio": round(max(ratios), 2), "unit": "x"}))
PY
