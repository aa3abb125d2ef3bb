#!/bin/sh
# examples/fortran/predict_fno_test.sh NDE PREDICT_FNO CONFIG — the test of predict_fno:
#   1. nde data burgers: 24 samples on 64 points (.npy);
#   2. nde train CONFIG, shrunk to a tiny FNO (width 8, 6 modes, 2 layers, projection 16)
#      and 20 epochs, so it runs in about a second;
#   3. predict_fno loads the checkpoint and runs its time loop (8 steps), writing the
#      fields it fed the FNO (loop_a.npy) and the FNO's predictions (loop_u.npy);
#   4. nde predict — the C library through the command line, rebuilding the model from
#      the configuration stored in the checkpoint — predicts the same fields (pred_u.npy);
#   5. the two agree: max |fortran − nde predict| <= 1e-12 · max(1, max |nde predict|)
#      (in float64: model.precision = float64 and --float64; float32 would sum in another
#      order for predict_fno's batch of 1 than for nde predict's batches);
#      and the comparison can fail: the loop's inputs do not pass as its predictions.
set -eu
nde=$1 predict=$2 config=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/nde_fortran_XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$nde" data burgers --n 24 --s 64 --seed 3 --out "$dir/b.npy" 2>/dev/null
"$nde" train "$config" --set "data.path=$dir/b.npy" --set data.ntrain=16 --set data.ntest=8 \
    --set data.subsample=1 --set model.width=8 --set model.modes=6 --set model.layers=2 \
    --set model.proj_hidden=16 --set model.precision=float64 --set train.epochs=20 --set train.batch=4 --set optim.lr=5e-3 \
    --out "$dir/run" 2>/dev/null
"$predict" "$dir/run/checkpoint.safetensors" "$dir/loop" --s 64 --width 8 --modes 6 \
    --layers 2 --proj 16 --steps 8 --float64
"$nde" predict "$dir/run/checkpoint.safetensors" "$dir/loop.npy" --out "$dir/pred.npy"
"$predict" --compare "$dir/loop_u.npy" "$dir/pred_u.npy" 1e-12
if "$predict" --compare "$dir/loop_a.npy" "$dir/pred_u.npy" 1e-12 2>/dev/null; then
    echo "predict_fno_test: --compare accepted different arrays" >&2
    exit 1
fi
