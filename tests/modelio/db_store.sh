#!/usr/bin/env bash
# `bnc quantize --db` stores one task per tensor and nine metrics per task in
# PostgreSQL, and a rerun inserts nothing twice. Needs BNC_TEST_DB.
# usage: db_store.sh BNC WORKDIR
set -u
bnc=$1 dir=$2
[ -n "${BNC_TEST_DB:-}" ] || { echo "BNC_TEST_DB unset: skipped"; exit 77; }
command -v psql > /dev/null || { echo "psql missing: skipped"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
camp="modelio-test-$$"
q() { psql "$BNC_TEST_DB" -Atc "$1"; }
"$bnc" db migrate --db "$BNC_TEST_DB" > /dev/null || exit 1
"$bnc" model synth in.gguf --dim 256 --layers 1 --ff 768 --vocab 300 > /dev/null || exit 1
for i in 1 2; do
    "$bnc" quantize in.gguf out.gguf --type q8_0 --quiet --db "$BNC_TEST_DB" --campaign "$camp" || exit 1
done
fail=0
tasks=$(q "SELECT count(*) FROM tasks WHERE campaign = '$camp' AND kind = 'quantize_tensor'")
mets=$(q "SELECT count(*) FROM metrics m JOIN tasks t ON t.id = m.task_id WHERE t.campaign = '$camp'")
# 1 layer: 9 tensors + embedding, output norm, output = 12 tensors, 9 metrics each
[ "$tasks" = 12 ] || { echo "FAIL tasks: $tasks (want 12)"; fail=1; }
[ "$mets" = 108 ] || { echo "FAIL metrics: $mets (want 108)"; fail=1; }
bpw=$(q "SELECT m.value FROM metrics m JOIN tasks t ON t.id = m.task_id WHERE t.campaign = '$camp'
         AND t.params->>'tensor' = 'blk.0.attn_q.weight' AND m.name = 'bits_per_weight'")
[ "$bpw" = 8.5 ] || { echo "FAIL q8_0 bits per weight: $bpw (want 8.5)"; fail=1; }
exact=$(q "SELECT m.value FROM metrics m JOIN tasks t ON t.id = m.task_id WHERE t.campaign = '$camp'
           AND t.params->>'tensor' = 'blk.0.attn_norm.weight' AND m.name = 'sqnr_db'")
[ "$exact" = Infinity ] || { echo "FAIL kept tensor's sqnr: $exact (want Infinity)"; fail=1; }
q "DELETE FROM campaigns WHERE name = '$camp'" > /dev/null
[ $fail = 0 ] && echo "ok: $tasks tasks, $mets metrics, q8_0 at $bpw bits per weight"
exit $fail
