#!/usr/bin/env bash
# Training lowers the validation loss on KJV well below the unigram entropy
# of the training bytes, in full precision and under BitNet QAT (a short
# run of a small model; docs/train.md has the full figures), and the QAT
# checkpoint stores its BitLinear weights as tq2_0 holding gamma * {-1,0,1}.
. "$SRC/tests/lib.sh"
. "$SRC/tests/train/corpus.sh"
for q in none bitnet; do
    "$BNC" train --train "$C/kjv-train.txt" --valid "$C/kjv-valid.txt" --test "$C/kjv-test.txt" \
        --ood "$C/brown.txt" --dim 64 --layers 2 --heads 2 --ff 128 --ctx 64 --batch 8 \
        --steps 300 --warmup 20 --lr 1e-2 --eval-every 0 --eval-seqs 32 --quiet --quant $q \
        --out "$T/$q.gguf" >"$T/$q.json"
    python3 - "$T/$q.json" $q <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
bpb, h = r['valid_bpb'], r['unigram_bits']
assert abs(h - 4.3568) < 1e-3, 'unigram entropy of kjv-train %.4f' % h
assert bpb < h - 1.0, '%s: validation %.3f bits/byte is not 1 bit below the unigram %.3f' % (sys.argv[2], bpb, h)
assert r['test_ppl'] < 2 ** (h - 0.8) and r['ood_ppl'] > r['test_ppl'], r
print('%s: valid %.3f bits/byte (unigram %.3f), test ppl %.2f, ood ppl %.2f' % (sys.argv[2], bpb, h, r['test_ppl'], r['ood_ppl']))
PY
done
# the QAT model: BitLinear weights stored as tq2_0 (type 35), norms and embeddings f32
# (dim 256 so that rows fill tq2_0 blocks of 256)
for q in none bitnet; do
    "$BNC" train --train "$C/kjv-train.txt" --valid "$C/kjv-valid.txt" --dim 256 --layers 1 \
        --heads 4 --ff 256 --ctx 32 --batch 2 --steps 2 --eval-seqs 2 --quiet --quant $q \
        --out "$T/$q.gguf" >/dev/null
done
"$BNC" model info "$T/bitnet.gguf" >"$T/info.txt" 2>&1 || fail "bnc model info on the QAT checkpoint"
grep -q "blk.0.attn_q.weight.*tq2_0" "$T/info.txt" || fail "attn_q is not tq2_0: $(grep attn_q "$T/info.txt")"
grep -q "blk.0.ffn_sub_norm.weight.*f32" "$T/info.txt" || fail "ffn_sub_norm missing or not f32"
grep -q "token_embd.weight.*f32" "$T/info.txt" || fail "token_embd is not f32"
# the QAT model is smaller than the f32 one
[ "$(stat -c %s "$T/bitnet.gguf")" -lt "$(stat -c %s "$T/none.gguf")" ] || fail "QAT file not smaller"
echo "ok"
