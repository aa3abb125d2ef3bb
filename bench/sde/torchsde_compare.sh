#!/bin/sh
# bench/sde side by side with torchsde: the same drift/diffusion MLPs, batch, steps and
# methods (nde em vs torchsde 'euler', nde sriw1 vs torchsde 'srk'), one training
# iteration each (forward + gradient), float64, one thread. Prints both programs' JSON
# lines and one "ratio" line per method and clock (torchsde time / nde time).
#
#   bench/sde/torchsde_compare.sh [TORCHSDE_GIT_DIR] [BUILD_DIR] [bench options...]
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
"$build/bench/sde/bench_sde" "$@" > "$tmp/nde.jsonl"
PYTHONPATH="$tmp" /usr/bin/python3 "$here/torchsde_bench.py" "$@" > "$tmp/torchsde.jsonl"
cat "$tmp/nde.jsonl" "$tmp/torchsde.jsonl"
/usr/bin/python3 - "$tmp/nde.jsonl" "$tmp/torchsde.jsonl" <<'PY'
import json, sys
nde = [json.loads(l) for l in open(sys.argv[1])]
ts = [json.loads(l) for l in open(sys.argv[2])]
pair = {"em": "euler", "sriw1": "srk"}
for r in nde:
    for t in ts:
        if t["method"] == pair[r["method"]] and t["clock"] == r["clock"]:
            print(json.dumps({"bench": "sde", "metric": "ratio_torchsde_over_nde", "method": r["method"],
                              "torchsde_method": t["method"], "clock": r["clock"],
                              "value": round(t["value"] / r["value"], 2), "unit": "x"}))
PY
