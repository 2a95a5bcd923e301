#!/usr/bin/env bash
# Bad input gets a clear message and nothing is lost: a missing or empty
# corpus, a --resume checkpoint of another shape or mode (the checkpoint is
# left untouched), a NaN loss (stop before the update, the last good
# weights kept and named), bad option values.
. "$SRC/tests/lib.sh"
. "$SRC/tests/train/corpus.sh"
# expect_fail CODE PATTERN CMD...: CMD exits with CODE and stderr matches PATTERN
expect_fail() {
    local code=$1 pat=$2
    shift 2
    set +e
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    set -e
    [ $rc = "$code" ] || fail "expected exit $code, got $rc: $* ($(cat "$T/err"))"
    grep -q -- "$pat" "$T/err" || fail "stderr lacks '$pat': $(cat "$T/err")"
}
small=(--dim 64 --heads 2 --ff 128 --ctx 64 --eval-seqs 4 --quiet)
V=$C/kjv-valid.txt
# a missing or directory corpus is bad input (exit 2, issue 17 item 11)
expect_fail 2 "$T/nope.txt: cannot open corpus" \
    "$BNC" train --train "$T/nope.txt" --valid "$V" --out "$T/m.gguf" "${small[@]}"
mkdir -p "$T/adir"
expect_fail 2 "$T/adir: is a directory" \
    "$BNC" train --train "$T/adir" --valid "$V" --out "$T/m.gguf" "${small[@]}"
# --out never replaces a corpus (same path, ./, a symlink) or a device node
cp "$V" "$T/v.txt" && cp "$V" "$T/v.copy" && ln -s "$T/v.txt" "$T/v.link"
for out in "$T/v.txt" "$T/./v.txt" "$T/v.link"; do
    expect_fail 2 "is the input" \
        "$BNC" train --train "$C/kjv-train.txt" --valid "$T/v.txt" --out "$out" "${small[@]}"
done
cp "$V" "$T/st.gguf.train" # the optimizer state OUT.train must not replace an input either
expect_fail 2 "st.gguf.train: is the input" \
    "$BNC" train --train "$C/kjv-train.txt" --valid "$V" --ood "$T/st.gguf.train" --out "$T/st.gguf" "${small[@]}"
cmp "$T/st.gguf.train" "$V" || fail "train replaced an input with its optimizer state"
cmp "$T/v.txt" "$T/v.copy" || fail "train --out replaced its input"
[ -L "$T/v.link" ] || fail "v.link is no longer a symlink"
if mknod "$T/null" c 1 3 2>/dev/null; then
    expect_fail 2 "$T/null: is a character device" \
        "$BNC" train --train "$C/kjv-train.txt" --valid "$V" --out "$T/null" "${small[@]}"
    [ -c "$T/null" ] || fail "train --out replaced a device node"
fi
: >"$T/empty.txt"
expect_fail 2 "$T/empty.txt: corpus is empty" \
    "$BNC" train --train "$C/kjv-train.txt" --valid "$T/empty.txt" --out "$T/m.gguf" "${small[@]}"
head -c 20 "$V" >"$T/short.txt"
expect_fail 2 "short.txt: corpus is too short" \
    "$BNC" train --train "$T/short.txt" --valid "$V" --out "$T/m.gguf" "${small[@]}"
[ ! -e "$T/m.gguf" ] || fail "a checkpoint was written for bad input"

# a good checkpoint, then resumes of another configuration
"$BNC" train --train "$C/kjv-train.txt" --valid "$V" --out "$T/good.gguf" --steps 3 "${small[@]}" >/dev/null
cp "$T/good.gguf" "$T/good.copy"
cp "$T/good.gguf.train" "$T/good.train.copy"
expect_fail 2 "checkpoint of another configuration: llama.embedding_length is 64, this run has 32" \
    "$BNC" train --train "$C/kjv-train.txt" --valid "$V" --resume "$T/good.gguf" \
    --out "$T/good.gguf" --steps 6 --dim 32 --heads 2 --ff 128 --ctx 64 --eval-seqs 4 --quiet
expect_fail 2 "general.architecture is llama, this run has bitnet" \
    "$BNC" train --train "$C/kjv-train.txt" --valid "$V" --resume "$T/good.gguf" \
    --out "$T/good.gguf" --steps 6 --quant bitnet "${small[@]}"
expect_fail 2 "bnc.train.quant is none, this run has bitnet" \
    "$BNC" train --train "$C/kjv-train.txt" --valid "$V" --resume "$T/good.gguf" \
    --out "$T/good.gguf" --steps 6 --quant bitnet --arch llama "${small[@]}"
expect_fail 2 "nothere.gguf.train: cannot open checkpoint" \
    "$BNC" train --train "$C/kjv-train.txt" --valid "$V" --resume "$T/nothere.gguf" \
    --out "$T/good.gguf" --steps 6 "${small[@]}"
cmp "$T/good.gguf" "$T/good.copy" || fail "a refused resume changed the checkpoint"
cmp "$T/good.gguf.train" "$T/good.train.copy" || fail "a refused resume changed the state"

# NaN: a huge learning rate makes the weights diverge after step 1; step 2's loss is NaN.
# The run stops before updating and keeps the weights of step 0 (the last with a finite loss).
expect_fail 2 "step 2: loss is NaN.*stopped before the update; the last good checkpoint (step 0" \
    "$BNC" train --train "$C/kjv-train.txt" --valid "$V" --out "$T/nan.gguf" --steps 10 \
    --warmup 0 --lr 1e30 "${small[@]}"
grep -q '"done": false, "steps": 0' "$T/out" || fail "summary: $(cat "$T/out")"
"$BNC" model info "$T/nan.gguf" >"$T/info" 2>&1 || fail "the kept checkpoint does not load"
grep -q "bnc.train.step .* 0$" "$T/info" || fail "kept checkpoint's step: $(grep train.step "$T/info")"
# and it resumes (at step 0) with a sane learning rate
"$BNC" train --train "$C/kjv-train.txt" --valid "$V" --resume "$T/nan.gguf" --out "$T/nan.gguf" \
    --steps 2 "${small[@]}" >"$T/out" || fail "resume after NaN"
grep -q '"done": true, "steps": 2, "start_step": 0' "$T/out" || fail "resume: $(cat "$T/out")"

# option values
expect_fail 2 "quant: 'ternary' (none or bitnet)" "$BNC" train --quant ternary
expect_fail 2 "grad-compress: 'fp4'" "$BNC" train --grad-compress fp4
expect_fail 2 "are required" "$BNC" train --train "$V"
expect_fail 2 "heads 3 must divide dim 64" "$BNC" train --train "$C/kjv-train.txt" --valid "$V" \
    --out "$T/h.gguf" --dim 64 --heads 3
expect_fail 2 "batch 2 is smaller than the 3 ranks" mpirun --oversubscribe -np 3 "$BNC" train \
    --train "$C/kjv-train.txt" --valid "$V" --out "$T/b.gguf" --batch 2 "${small[@]}"
echo "ok"
