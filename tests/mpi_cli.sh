#!/bin/sh
# The nde tool under mpirun (meson suite `mpi`):
#   mpi_cli.sh MPIRUN NDE DIR
# - `nde data burgers|darcy` at 2 ranks writes the file the serial command writes, byte
#   for byte (.h5, .npy, .mat);
# - `nde train` at 2 ranks trains, rank 0 alone writes the run folder, and the final test
#   metric equals the serial run's to the printed digits' relative 1e-9;
# - `nde train --resume` serially (P = 1) continues the 2-rank checkpoint.
set -eu
mpirun=$1
nde=$2
dir=$3
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
run2() { "$mpirun" -np 2 --oversubscribe "$@"; }

fail() { echo "FAIL: $*" >&2; exit 1; }

gen() { # PROBLEM OUT ARGS...: serial and 2-rank files must be equal
    problem=$1 out=$2
    shift 2
    "$nde" data "$problem" "$@" --out "serial_$out" 2>/dev/null
    run2 "$nde" data "$problem" "$@" --out "par_$out" 2>/dev/null
    case "$out" in
        *.npy) for f in serial_"${out%.npy}"_*.npy; do
                   cmp "$f" "par_${f#serial_}" || fail "nde data $problem: $f differs"
               done ;;
        *) cmp "serial_$out" "par_$out" || fail "nde data $problem: $out differs" ;;
    esac
    echo "ok: nde data $problem $* at 2 ranks equals the serial file ($out)"
}
gen burgers B.h5 --n 7 --s 32 --seed 4
gen darcy D.npy --n 5 --s 9 --seed 2
gen darcy D.mat --n 3 --s 9

cat > run.ini <<'INI'
[model]
kind = fno1d
width = 6
modes = 4
layers = 2
proj_hidden = 8
; float64: the 2-rank gradient is summed in another grouping, so equal to 1e-9 only in double
precision = float64
[data]
path = serial_B.h5
x = a
y = u
ntrain = 5
ntest = 2
subsample = 2
[train]
epochs = 2
batch = 3
seed = 1
loss = rel_l2
metric = rel_l2
[optim]
kind = adam
lr = 1e-2
INI
"$nde" train run.ini --out serial 2>/dev/null >/dev/null
run2 "$nde" train run.ini --out par 2>par.err >par.out || { cat par.err >&2; fail "nde train at 2 ranks"; }
[ "$(grep -c checkpoint.safetensors par.out)" -eq 1 ] || fail "nde train at 2 ranks: rank 0 alone prints the checkpoint"
[ "$(grep -c '^epoch 2/2' par.err)" -eq 1 ] || fail "nde train at 2 ranks: rank 0 alone reports epochs"
for f in checkpoint.safetensors config.ini metrics.jsonl summary.json; do
    [ -f "par/$f" ] || fail "nde train at 2 ranks wrote no $f"
done
metric() { sed -n 's/.*"test_metric": \([^,}]*\).*/\1/p' "$1/summary.json"; }
python3 - "$(metric serial)" "$(metric par)" <<'PY' || fail "test metric at 2 ranks vs serial"
import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if abs(a - b) <= 1e-9 * abs(a) else 1)
PY
echo "ok: nde train at 2 ranks: rank 0 writes the run, test metric $(metric par) = serial $(metric serial)"
# per-rank reading of a .npy family (row offsets) with the input normalizer fitted from
# the ranks' parts: an FNO-2D on the Darcy files, against the serial run
cat > run2d.ini <<'INI'
[model]
kind = fno2d
width = 4
modes = 2
layers = 1
proj_hidden = 4
[data]
path = serial_D.npy
x = coeff
y = sol
ntrain = 3
ntest = 2
normalize = scalar
[train]
epochs = 2
batch = 3
loss = rel_l2
metric = rel_l2
INI
"$nde" train run2d.ini --out serial2d 2>/dev/null >/dev/null
run2 "$nde" train run2d.ini --out par2d 2>par2d.err >/dev/null || { cat par2d.err >&2; fail "nde train fno2d at 2 ranks"; }
python3 - "$(metric serial2d)" "$(metric par2d)" <<'PY' || fail "fno2d test metric at 2 ranks vs serial"
import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if abs(a - b) <= 1e-9 * abs(a) else 1)
PY
grep -q '^x_shift' serial2d/config.ini || fail "no x_shift in the resolved configuration"
python3 - serial2d/config.ini par2d/config.ini <<'PY' || fail "normalizer fitted from the ranks' parts differs"
import sys
def keys(p):
    return {l.split("=")[0].strip(): float(l.split("=")[1]) for l in open(p) if l.startswith(("x_shift", "x_scale"))}
a, b = keys(sys.argv[1]), keys(sys.argv[2])
sys.exit(0 if a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-12 * abs(a[k]) for k in a) else 1)
PY
echo "ok: nde train fno2d at 2 ranks reading its parts of a .npy family (normalizer from parts): test metric $(metric par2d) = serial $(metric serial2d)"

"$nde" train run.ini --out par --resume --set train.epochs=3 2>res.err >/dev/null || { cat res.err >&2; fail "serial --resume of a 2-rank run"; }
grep -q 'resumed from par/checkpoint.safetensors after epoch 2' res.err || fail "resume message"
[ "$(wc -l < par/metrics.jsonl)" -eq 3 ] || fail "resumed run has 3 metrics lines"
echo "ok: nde train --resume at 1 rank continues the 2-rank checkpoint to epoch 3"
