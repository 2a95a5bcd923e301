#!/usr/bin/env bash
# The same seed gives bit-identical checkpoints (model and optimizer state)
# for mpirun -np 1, 2 and 3 with the exact exchange, and a run stopped at
# step 4 and resumed (with another rank count) ends bit-identical to the run
# that never stopped.
. "$SRC/tests/lib.sh"
. "$SRC/tests/train/corpus.sh"
args=(--steps 8 --batch 6 --warmup 2 --lr 5e-3 --eval-every 4 --seed 7)
for q in none bitnet; do
    for np in 1 2 3; do
        mpirun --oversubscribe -np $np "$BNC" train --train "$C/kjv-train.txt" \
            --valid "$C/kjv-valid.txt" --dim 64 --heads 2 --ff 128 --ctx 64 --eval-seqs 16 \
            --quiet --quant $q "${args[@]}" --out "$T/$q-np$np.gguf" >"$T/$q-np$np.json"
    done
    for np in 2 3; do
        cmp "$T/$q-np1.gguf" "$T/$q-np$np.gguf" || fail "$q: -np $np model differs from -np 1"
        cmp "$T/$q-np1.gguf.train" "$T/$q-np$np.gguf.train" ||
            fail "$q: -np $np optimizer state differs from -np 1"
        expect_eq "$(json_field "$T/$q-np$np.json" valid_loss)" \
            "$(json_field "$T/$q-np1.json" valid_loss)" "$q -np $np validation loss"
    done
    # stop after 4 steps on 2 ranks, resume on 3
    mpirun --oversubscribe -np 2 "$BNC" train --train "$C/kjv-train.txt" --valid "$C/kjv-valid.txt" \
        --dim 64 --heads 2 --ff 128 --ctx 64 --eval-seqs 16 --quiet --quant $q "${args[@]}" \
        --stop-after 4 --out "$T/$q-res.gguf" >"$T/$q-stop.json"
    expect_eq "$(json_field "$T/$q-stop.json" steps)" 4 "$q: steps after --stop-after 4"
    mpirun --oversubscribe -np 3 "$BNC" train --train "$C/kjv-train.txt" --valid "$C/kjv-valid.txt" \
        --dim 64 --heads 2 --ff 128 --ctx 64 --eval-seqs 16 --quiet --quant $q "${args[@]}" \
        --resume "$T/$q-res.gguf" --out "$T/$q-res.gguf" >"$T/$q-res.json"
    expect_eq "$(json_field "$T/$q-res.json" start_step)" 4 "$q: resumed at"
    cmp "$T/$q-np1.gguf" "$T/$q-res.gguf" || fail "$q: resumed model differs"
    cmp "$T/$q-np1.gguf.train" "$T/$q-res.gguf.train" || fail "$q: resumed state differs"
done
# compressed exchange: the error-feedback residuals are saved per rank, so a
# resume on as many ranks continues bit-identically, and another count is refused
gc=(--train "$C/kjv-train.txt" --valid "$C/kjv-valid.txt" --dim 64 --heads 2 --ff 128 --ctx 64
    --eval-seqs 4 --quiet --grad-compress ternary --batch 6 --steps 6)
mpirun --oversubscribe -np 2 "$BNC" train "${gc[@]}" --out "$T/gc.gguf" >/dev/null
mpirun --oversubscribe -np 2 "$BNC" train "${gc[@]}" --stop-after 3 --out "$T/gc-res.gguf" >/dev/null
set +e
mpirun --oversubscribe -np 3 "$BNC" train "${gc[@]}" --resume "$T/gc-res.gguf" \
    --out "$T/gc-res.gguf" >/dev/null 2>"$T/gc.err"
rc=$?
set -e
expect_eq $rc 2 "compressed resume on another rank count"
grep -q "error-feedback state is for 2 ranks, this run has 3" "$T/gc.err" || fail "$(cat "$T/gc.err")"
mpirun --oversubscribe -np 2 "$BNC" train "${gc[@]}" --resume "$T/gc-res.gguf" \
    --out "$T/gc-res.gguf" >/dev/null
cmp "$T/gc.gguf.train" "$T/gc-res.gguf.train" || fail "compressed resume differs"
# the models differ between modes and seeds (the comparison above can fail)
cmp -s "$T/none-np1.gguf.train" "$T/bitnet-np1.gguf.train" && fail "modes gave the same state"
train_small --steps 8 --batch 6 --warmup 2 --lr 5e-3 --seed 8 --out "$T/seed8.gguf" >/dev/null
cmp -s "$T/none-np1.gguf" "$T/seed8.gguf" && fail "seeds 7 and 8 gave the same model"
echo "ok: -np 1/2/3 and stop/resume bit-identical for none and bitnet; compressed resume too"
