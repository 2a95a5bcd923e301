#!/usr/bin/env bash
# The ppl_eval kind through mpirun -np 3 into the real PostgreSQL: one GGUF
# model by path and one synthetic BitNet-layout model, four schemes each;
# the f32 task's PPL and the q4_0 task's PPL equal `bnc eval ppl`'s on the
# same file, f32 has KLD 0 and the same top token everywhere; -np 1 stores
# the same values (timings aside); bnc analyze reads it against f32.
. "$SRC/tests/lib.sh"
need_db
export TMPDIR="$T"
psql_val "DELETE FROM campaigns WHERE name IN ('t_llm_pe3', 't_llm_pe1')" >/dev/null
head -c 12000 /usr/share/common-licenses/GPL-3 > "$T/text.txt"
"$BNC" model synth "$T/llama.gguf" --dim 256 --layers 2 --ff 512 --vocab 384 --kv-dim 128 \
    --byte-vocab --seed 3 > /dev/null
cat > "$T/pe.yaml" <<SPEC
name: t_llm_pe3
seeds: [1]
models:
  llama: {path: llama.gguf}
  bitnet: {synth: {dim: 256, layers: 2, ff: 512, vocab: 384, kv_dim: 128, seed: 3, format: gguf, byte_vocab: true, arch: bitnet}}
groups:
  - kind: ppl_eval
    grid:
      model: [llama, bitnet]
      scheme: [f32, q8_0, q4_0, bitnet]
      text: text.txt
      ctx: 64
      chunks: 3
      gen_tokens: 4
SPEC
out=$(mpi 3 campaign run "$T/pe.yaml" --db "$BNC_TEST_DB" --journal "$T/j3")
echo "$out"
echo "$out" | grep -q "8 tasks planned, 0 skipped" || fail "did not plan 8 tasks"
c="campaign='t_llm_pe3'"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE $c AND status='done'")" 8 "tasks done"
v() { psql_val "SELECT m.value FROM tasks t JOIN metrics m ON m.task_id=t.id WHERE t.$c
                AND t.params->>'model'='$1' AND t.params->>'scheme'='$2' AND m.name='$3'"; }
ppl_cli() { "$BNC" eval ppl "$T/llama.gguf" --text "$T/text.txt" --ctx 64 --chunks 3 --json "$@" |
            /usr/bin/python3 -c 'import json,sys; print("%.6f" % json.loads(sys.stdin.read())["ppl"])'; }
expect_eq "$(printf '%.6f' "$(v llama f32 ppl)")" "$(ppl_cli)" "f32 ppl against bnc eval ppl"
expect_eq "$(printf '%.6f' "$(v llama q4_0 ppl)")" "$(ppl_cli --quant q4_0)" "q4_0 ppl against bnc eval ppl"
expect_eq "$(v llama f32 kld)" 0 "f32 KLD"
expect_eq "$(v bitnet f32 same_top)" 1 "f32 same top"
expect_eq "$(v llama q8_0 bits_per_weight)" 8.5 "q8_0 bits per weight"
expect_eq "$(v llama q4_0 quantized_tensors)" 14 "matrices quantized (2 layers x 7)"
expect_eq "$(v bitnet bitnet tokens_scored)" 93 "tokens scored (3 x 31)"
# each task's ppl_base is the f32 task's ppl
expect_eq "$(printf '%.9g' "$(v bitnet q4_0 ppl_base)")" "$(printf '%.9g' "$(v bitnet f32 ppl)")" "ppl_base"

# The same values from one rank (timings aside).
sed 's/^name: .*/name: t_llm_pe1/' "$T/pe.yaml" > "$T/pe1.yaml"
mpi 1 campaign run "$T/pe1.yaml" --db "$BNC_TEST_DB" --journal "$T/j1" >/dev/null
expect_eq "$(psql_val "SELECT count(*) FROM tasks t JOIN metrics m ON m.task_id=t.id
    WHERE t.campaign='t_llm_pe1' AND m.unit NOT IN ('s','tok/s')")" \
    "$(psql_val "SELECT count(*) FROM tasks t JOIN metrics m ON m.task_id=t.id
    WHERE t.campaign='t_llm_pe3' AND m.unit NOT IN ('s','tok/s')")" "metric rows of -np 1 and -np 3"
expect_eq "$(psql_val "SELECT count(*) FROM (
    (SELECT t.params, m.name, m.value FROM tasks t JOIN metrics m ON m.task_id=t.id
     WHERE t.campaign='t_llm_pe3' AND m.unit NOT IN ('s','tok/s')
     EXCEPT SELECT t.params, m.name, m.value FROM tasks t JOIN metrics m ON m.task_id=t.id
     WHERE t.campaign='t_llm_pe1' AND m.unit NOT IN ('s','tok/s'))) d")" 0 "values differing from -np 1"

a=$("$BNC" analyze t_llm_pe3 --metric ppl --baseline f32 --db "$BNC_TEST_DB")
echo "$a"
echo "$a" | grep -q "baseline f32" || fail "analyze output"
echo "1 passed, 0 failed"
