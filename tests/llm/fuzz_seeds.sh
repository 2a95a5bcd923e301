#!/usr/bin/env bash
# Seeds for fuzz_llm (run_fuzz.sh's MKBAD argument): tiny valid models in
# llama/BitNet layout with SentencePiece and BPE vocabularies, and variants
# that break one key each. usage: fuzz_seeds.sh DIR (LLM_TOOL in the env)
set -eu
for v in llama-small bitnet-small llama-bpe-small bad-arch-small no-block-count-small \
         bad-eps-small bad-shape-small bad-tokenizer-small no-tokens-small; do
    "$LLM_TOOL" --tiny "$v" "$1/$v.gguf"
done
