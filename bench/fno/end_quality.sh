#!/usr/bin/env bash
# bench/fno/end_quality.sh — how good is the model a run ends with? (issue 16, item 3)
#
# Trains FNO-1D on Burgers (examples/burgers_fno) and FNO-2D on Darcy (examples/darcy
# --model fno) with three end-of-training recipes, SEEDS seeds each, and reads the test
# error of every epoch from the trainer's metrics file:
#   step        the papers' StepLR (Burgers: x0.5 every STEP epochs, default EPOCHS/10 as
#               the paper's 50 of 500; Darcy: the recipe's x0.5 every epochs/5)
#   linear      the drivers' default: linear decay to zero over the run's steps
#   linear_ema  linear decay plus an exponential moving average of the parameters
#               (decay EMA, TensorFlow-style warm-up), evaluated every epoch. The average
#               does not change the training (θ, order and schedule are the same bits), so
#               the same run's θ rows are the `linear` rows: with linear_ema in VARIANTS,
#               `linear` is not run again.
# For each run it prints JSON lines with the final test relative L2 (last epoch), the best
# of the last 10 epochs and the ratio last / best-of-last-10, then the mean over the seeds
# and the worst ratio per problem and variant ("seed": "all").
#
#   bench/fno/end_quality.sh [BUILD_DIR]
#
# Sizes (environment; defaults are the issue's measurement):
#   PROBLEMS="burgers darcy"  VARIANTS="step linear_ema"  SEEDS="1 2"
#   EPOCHS=100 (both problems; DARCY_EPOCHS overrides Darcy's)  EMA=0.999
#   BURGERS_N=1024 NTRAIN=1000 NTEST=100 (Burgers)  DARCY_S=85 DARCY_NTRAIN=1000
#   DARCY_NTEST=100  THREADS=2 (Burgers' batch split)  OUT=out/end_quality
#   PRECISION=float32 (the operators' arithmetic, --precision of both drivers: float32|float64)
# A reduced run that finishes in minutes (shape check, not a measurement):
#   EPOCHS=12 BURGERS_N=128 NTRAIN=100 NTEST=20 DARCY_S=29 DARCY_NTRAIN=40 DARCY_NTEST=20 \
#     bench/fno/end_quality.sh build
# The full run is hours on 2 cores (Burgers: about 4 s per epoch unloaded, 600 epochs).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
problems=${PROBLEMS:-burgers darcy}
variants=${VARIANTS:-step linear_ema}
seeds=${SEEDS:-1 2}
epochs=${EPOCHS:-100}
darcy_epochs=${DARCY_EPOCHS:-$epochs}
ema=${EMA:-0.999}
step=${STEP:-$(( epochs >= 10 ? epochs / 10 : 1 ))}
bn=${BURGERS_N:-1024}; ntrain=${NTRAIN:-1000}; ntest=${NTEST:-100}
ds=${DARCY_S:-85}; dtrain=${DARCY_NTRAIN:-1000}; dtest=${DARCY_NTEST:-100}
threads=${THREADS:-2}
precision=${PRECISION:-float32}
out=${OUT:-out/end_quality}
mkdir -p "$out"
echo "{\"bench\": \"end_quality\", \"metric\": \"machine\", \"value\": \"$(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"

# summarize PROBLEM VARIANT SEED METRICS_FILE COLUMN: the run's JSON lines
summarize() {
    /usr/bin/python3 - "$@" <<'PY'
import json, sys
problem, variant, seed, path, col = sys.argv[1:6]
rows = [json.loads(l) for l in open(path) if l.strip()]
errs = [r[col] for r in rows if r.get(col) is not None]
if not errs:
    sys.exit(f"end_quality: no {col} in {path}")
last, best = errs[-1], min(errs[-10:])
for metric, value, unit in (("final_test_rel_l2", last, "1"),
                            ("best_of_last10_test_rel_l2", best, "1"),
                            ("last_over_best_of_last10", last / best, "x"),
                            ("epochs", len(errs), "count")):
    print(json.dumps({"bench": "end_quality", "problem": problem, "variant": variant,
                      "seed": int(seed), "metric": metric, "value": round(value, 6),
                      "unit": unit}))
PY
}

all="$out/results.jsonl"
: > "$all"
for problem in $problems; do
    for variant in $variants; do
        case " $variants " in
            *" linear_ema "*) [ "$variant" = linear ] && continue ;;
        esac
        case "$variant" in
            step) sched=(--schedule step); [ "$problem" = darcy ] && sched=(--schedule recipe) ;;
            linear) sched=() ;;
            linear_ema) sched=(--ema "$ema" --ema-warmup) ;;
            *) echo "end_quality: unknown variant $variant (step, linear, linear_ema)" >&2; exit 2 ;;
        esac
        [ "$problem" = burgers ] && [ "$variant" = step ] && sched+=(--step "$step")
        for seed in $seeds; do
            dir="$out/$problem-$variant-s$seed"
            mkdir -p "$dir"
            case "$problem" in
                burgers)
                    "$build/examples/burgers_fno/burgers_fno" --n "$bn" --ntrain "$ntrain" \
                        --ntest "$ntest" --epochs "$epochs" --seed "$seed" --threads "$threads" \
                        --precision "$precision" "${sched[@]}" --out "$dir" > "$dir/stdout" 2> "$dir/stderr"
                    metrics="$dir/metrics.jsonl" ;;
                darcy)
                    "$build/examples/darcy/darcy" --model fno --s "$ds" --ntrain "$dtrain" \
                        --ntest "$dtest" --epochs "$darcy_epochs" --seed "$seed" --no-plot \
                        --precision "$precision" "${sched[@]}" --out "$dir" > "$dir/stdout" 2> "$dir/stderr"
                    metrics="$dir/fno_metrics.jsonl" ;;
                *) echo "end_quality: unknown problem $problem (burgers, darcy)" >&2; exit 2 ;;
            esac
            if [ "$variant" = linear_ema ]; then
                summarize "$problem" linear_ema "$seed" "$metrics" test_metric_ema | tee -a "$all"
                summarize "$problem" linear "$seed" "$metrics" test_metric | tee -a "$all"
            else
                summarize "$problem" "$variant" "$seed" "$metrics" test_metric | tee -a "$all"
            fi
        done
    done
done
# over the seeds: mean final error, mean best-of-last-10, worst ratio
/usr/bin/python3 - "$all" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = []
for r in rows:
    k = (r["problem"], r["variant"])
    if k not in keys:
        keys.append(k)
for p, v in keys:
    def vals(m):
        return [r["value"] for r in rows if (r["problem"], r["variant"], r["metric"]) == (p, v, m)]
    for metric, value, unit in (
            ("mean_final_test_rel_l2", sum(vals("final_test_rel_l2")) / len(vals("final_test_rel_l2")), "1"),
            ("mean_best_of_last10_test_rel_l2",
             sum(vals("best_of_last10_test_rel_l2")) / len(vals("best_of_last10_test_rel_l2")), "1"),
            ("max_last_over_best_of_last10", max(vals("last_over_best_of_last10")), "x")):
        print(json.dumps({"bench": "end_quality", "problem": p, "variant": v, "seed": "all",
                          "metric": metric, "value": round(value, 6), "unit": unit}))
PY
echo "{\"bench\": \"end_quality\", \"metric\": \"machine_after\", \"value\": \"load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
