#!/usr/bin/env bash
# bnc quantize --method gptq|awq --calib FILE on a model bnc train wrote:
# normal GGUF files of the type (linear layers q4_0 / tq2_0, the rest kept,
# every metadata key kept plus bnc.quantize.*), loaded and scored by bnc eval
# ppl; GPTQ's layer output error below round-to-nearest's; bad input.
. "$SRC/tests/lib.sh"
. "$SRC/tests/train/corpus.sh"
"$BNC" train --train "$C/kjv-train.txt" --valid "$C/kjv-valid.txt" --dim 256 --layers 1 \
    --heads 4 --ff 256 --ctx 32 --batch 4 --steps 40 --lr 1e-2 --eval-seqs 4 --quiet \
    --out "$T/f32.gguf" >/dev/null
head -c 20000 "$C/kjv-test.txt" >"$T/test.txt"
for t in q4_0 tq2_0; do
    for m in gptq awq; do
        "$BNC" quantize "$T/f32.gguf" "$T/$m-$t.gguf" --type $t --method $m \
            --calib "$C/kjv-train.txt" >"$T/$m-$t.out"
        python3 - "$T/$m-$t.out" $m <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r['tensors'] == 7, r
assert r['rel_err'] < r['rel_err_rtn'], r
print('%s %s: relative output error %.5f, round-to-nearest %.5f' % (sys.argv[2], r['type'], r['rel_err'], r['rel_err_rtn']))
PY
        "$BNC" model info "$T/$m-$t.gguf" >"$T/info" 2>&1 || fail "model info $m $t"
        expect_eq "$(grep -c "blk\.0\.\(attn\|ffn\)_[a-z]*\.weight .*$t" "$T/info")" 7 "$m $t linear tensors"
        grep -q "token_embd.weight .*f32" "$T/info" || fail "$m $t: token_embd not kept"
        grep -q "bnc.quantize.method .*$m" "$T/info" || fail "$m $t: method key"
        grep -q "bnc.quantize.calib_sha256 .*$(sha256sum "$C/kjv-train.txt" | cut -c1-16)" "$T/info" ||
            fail "$m $t: calibration hash"
        grep -q "llama.embedding_length .*256" "$T/info" || fail "$m $t: metadata kept"
        "$BNC" eval ppl "$T/$m-$t.gguf" --text "$T/test.txt" --ctx 32 --threads 1 >"$T/ppl" 2>&1 ||
            fail "eval ppl $m $t: $(tail -3 "$T/ppl")"
    done
done
# bad input
set +e
"$BNC" quantize "$T/f32.gguf" "$T/x.gguf" --type q4_0 --method gptq 2>"$T/err"
expect_eq $? 2 "gptq without --calib"
grep -q "needs --calib" "$T/err" || fail "$(cat "$T/err")"
"$BNC" quantize "$T/f32.gguf" "$T/x.gguf" --type q4_0 --method obs --calib "$T/test.txt" 2>"$T/err"
expect_eq $? 2 "unknown method"
"$BNC" quantize "$T/gptq-q4_0.gguf" "$T/x.gguf" --type q4_0 --method gptq --calib "$T/test.txt" 2>"$T/err"
expect_eq $? 1 "quantized input"
grep -q "is already quantized" "$T/err" || fail "$(cat "$T/err")"
"$BNC" quantize "$T/f32.gguf" "$T/x.gguf" --type q4_0 --method awq --calib "$T/none.txt" 2>"$T/err"
expect_eq $? 2 "missing calibration file (bad input: exit 2)"
grep -q "none.txt: cannot open corpus" "$T/err" || fail "$(cat "$T/err")"
set -e
[ ! -e "$T/x.gguf" ] || fail "an output was written for bad input"
echo ok
