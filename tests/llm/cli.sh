#!/usr/bin/env bash
# bnc eval / generate / bench llm on tiny and small synthetic models: every
# bad input exits 2 with a message naming the file and the key; tokenizers
# give the ids worked out by hand from the tiny vocabularies; generation is
# deterministic for a seed; bench llm's JSON lines carry the bandwidth ratio.
. "$SRC/tests/lib.sh"
TOOL=${LLM_TOOL:?}
# bad_case VARIANT EXPECTED-SUBSTRING
bad_case() {
    "$TOOL" --tiny "$1" "$T/$1.gguf"
    set +e
    err=$("$BNC" eval ppl "$T/$1.gguf" --text "$T/text.txt" --ctx 8 2>&1); rc=$?
    set -e
    expect_eq "$rc" 2 "exit status for $1 ($err)"
    echo "$err" | grep -qF "$1.gguf: $2" || fail "$1: message '$err' lacks '$1.gguf: $2'"
    echo "ok   $1: $err"
}
head -c 4000 /usr/share/common-licenses/GPL-3 > "$T/text.txt"
bad_case bad-arch "general.architecture: unknown architecture 'gptj'"
bad_case no-block-count "llama.block_count: missing"
bad_case bad-eps "llama.attention.layer_norm_rms_epsilon: expected a float"
bad_case bad-shape "blk.0.attn_k.weight: shape 8x8 (cols x rows) disagrees"
bad_case bad-tokenizer "tokenizer.ggml.model: unsupported tokenizer 'bert'"
bad_case no-tokens "tokenizer.ggml.tokens: missing"
bad_case bitnet-no-subnorm "blk.0.ffn_sub_norm.weight: tensor missing"
# a truncated file and a file that is not a model
head -c 300 "$T/bad-arch.gguf" > "$T/cut.gguf"
set +e
err=$("$BNC" eval ppl "$T/cut.gguf" --text "$T/text.txt" 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "exit status for a truncated GGUF"
echo "$err" | grep -q "cut.gguf" || fail "truncated: $err"
# a text too short for one chunk (2 x ctx tokens)
"$TOOL" --tiny llama "$T/ok.gguf"
printf 'ab cab' > "$T/short.txt"
set +e
err=$("$BNC" eval ppl "$T/ok.gguf" --text "$T/short.txt" --ctx 8 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "exit status for a short text"
echo "$err" | grep -qF "short.txt: text: 6 tokens, too short: at least 16" || fail "short: $err"
set +e
err=$("$BNC" eval ppl "$T/ok.gguf" --text "$T/missing.txt" 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "exit status for a missing text"
echo "$err" | grep -qF "missing.txt" || fail "missing text: $err"
mkdir -p "$T/textdir"
set +e
err=$("$BNC" eval ppl "$T/ok.gguf" --text "$T/textdir" 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "exit status for a directory as text"
echo "$err" | grep -qF "textdir: is a directory" || fail "directory as text: $err"
set +e
err=$("$BNC" eval ppl "$T/ok.gguf" --text "$T/text.txt" --ctx 8 --quant f16 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "exit status for a scheme without GEMV"
echo "$err" | grep -qF "scheme: 'f16' is unknown" || echo "$err" | grep -qF "'f16' has no GEMV" ||
    fail "quant: $err"
echo "ok   short text, missing text, bad --quant"

# Tokenizers: SentencePiece "▁ab▁cab" merges "▁a", "▁c", bytes for b/a; BPE
# merges "a b" then "ab c"; the space (Ġ) is not in the tiny vocabulary.
expect_eq "$("$TOOL" --tokenize "$T/ok.gguf" "ab cab")" "1,259,101,261,100,101" "llama ids"
"$TOOL" --tiny llama-bpe "$T/bpe.gguf"
expect_eq "$("$TOOL" --tokenize "$T/bpe.gguf" "ab cab")" "298,69,298" "gpt2 ids"
expect_eq "$("$TOOL" --tokenize "$T/bpe.gguf" "abc")" "299" "gpt2 merge of merges"
echo "ok   tokenizer ids"

# Generation: the same seed gives the same text, greedy ignores the seed.
"$BNC" model synth "$T/m.gguf" --dim 256 --layers 2 --ff 512 --vocab 384 --kv-dim 128 \
    --byte-vocab --seed 4 > /dev/null
g() { "$BNC" generate "$T/m.gguf" --prompt "The GNU" -n 12 --threads 1 "$@" 2>/dev/null; }
expect_eq "$(g --temp 0.8 --seed 5)" "$(g --temp 0.8 --seed 5)" "sampled text for one seed"
expect_eq "$(g --seed 1)" "$(g --seed 2)" "greedy text"
[ "$(g --temp 1.5 --seed 1)" != "$(g --temp 1.5 --seed 2)" ] || fail "seeds 1 and 2 gave the same text"
expect_eq "$(g --quant q4_0 --threads 2)" "$(g --quant q4_0)" "q4_0 text on 1 and 2 threads"
echo "ok   generate"

# bench llm: one JSON line per test with the bandwidth ratio of the same run.
out=$("$BNC" bench llm "$T/m.gguf" -p 16 -n 8 -r 2 --threads 1 --quant q4_0 -o jsonl)
echo "$out"
expect_eq "$(echo "$out" | wc -l)" 2 "bench lines"
echo "$out" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert [r["test"] for r in rows] == ["pp16", "tg8"], rows
for r in rows:
    assert r["tps_mean"] > 0 and r["bw_gbps"] > 0 and r["quant"] == "q4_0"
    assert abs(r["bw_fraction"] - r["read_gbps"] / r["bw_gbps"]) < 1e-3
    # q4_0 matrices (4.5 bits) + f32 embeddings row and output head
    assert r["bytes_per_token"] > 0
'
md=$("$BNC" bench llm "$T/m.gguf" -p 16 -n 8 -r 1 --threads 1)
echo "$md" | grep -q "^| model | size MiB" || fail "md header: $md"
expect_eq "$("$BNC" bench llm "$T/m.gguf" -p 16 -n 8 -r 1 --threads 1 -o csv | wc -l)" 3 "csv lines"
echo "1 passed, 0 failed"
