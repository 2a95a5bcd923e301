#!/usr/bin/env bash
# layer_sensitivity and mixed_precision through mpirun -np 3 into the real
# database on a ~1M-parameter synthetic model (16 weight matrices): per-tensor
# rows, exact <= greedy, exact <= best uniform, bits within the budget, the
# same values as a rerun with one rank; a bad spec writes nothing.
. "$SRC/tests/lib.sh"
need_db
export TMPDIR="$T" # the synthetic model cache of this test only
# Start from nothing stored (tasks and metrics go with their campaign).
psql_val "DELETE FROM campaigns WHERE name IN ('t_kinds_mp', 't_kinds_mp1', 't_kinds_bad')" >/dev/null
cat > "$T/mp.yaml" <<'SPEC'
name: t_kinds_mp
seeds: [1]
models:
  m1: {synth: {dim: 256, layers: 2, ff: 256, vocab: 256, kv_dim: 256, seed: 9}}
groups:
  - kind: layer_sensitivity
    grid: {model: m1, scheme: [bitnet, q4_0, q8_0, tq2_0]}
  - kind: mixed_precision
    grid:
      model: m1
      budget: [2.5, 3, 4, 5, 6]
      schemes: "bitnet,int4,q4_0,q8_0,f16"
SPEC
out=$(mpi 3 campaign run "$T/mp.yaml" --db "$BNC_TEST_DB" --journal "$T/j3")
echo "$out"
echo "$out" | grep -q "9 tasks planned, 0 skipped" || fail "did not plan 9 new tasks"
c="campaign='t_kinds_mp'"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE $c AND status='done'")" 9 "tasks done"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE $c AND rank NOT IN (1,2)")" 0 "tasks on rank 0"
# 16 matrices: 2 layers x 7 plus embeddings and output; 1,048,576 weights.
q() { psql_val "SELECT count(*) FROM tasks t JOIN metrics m ON m.task_id=t.id WHERE t.$c AND $1"; }
expect_eq "$(q "t.kind='layer_sensitivity' AND m.name LIKE 'rel\\_rmse@%'")" 64 "per-tensor rel_rmse rows"
expect_eq "$(q "t.kind='layer_sensitivity' AND m.name LIKE 'sse@%'")" 64 "per-tensor sse rows"
expect_eq "$(q "m.name='tensors' AND m.value=16")" 9 "tasks that saw 16 tensors"
expect_eq "$(q "m.name='params' AND m.value=1048576")" 9 "tasks that saw 1,048,576 weights"
expect_eq "$(q "m.name='skipped_tensors' AND m.value=0")" 9 "skipped tensors"
expect_eq "$(q "t.kind='mixed_precision' AND m.name LIKE 'exact\\_bpw@%'")" 80 "per-tensor choices"
expect_eq "$(q "t.params->>'scheme'='q8_0' AND m.name='bits_per_weight' AND m.value=8.5")" 1 "q8_0 bits"
# Per-tensor sse adds up to the model's.
expect_eq "$(psql_val "SELECT count(*) FROM (SELECT t.id, sum(m.value) s FROM tasks t JOIN metrics m ON m.task_id=t.id
    WHERE t.$c AND t.kind='layer_sensitivity' AND m.name LIKE 'sse@%' GROUP BY t.id) a
    JOIN metrics w ON w.task_id=a.id AND w.name='sse' WHERE abs(a.s - w.value) <= 1e-9 * w.value")" 4 "sse sums"

# mixed_precision: one row per budget with exact, greedy, best uniform, bits.
rows=$(psql_val "SELECT t.params->>'budget',
    max(m.value) FILTER (WHERE m.name='exact_rel_err'),
    max(m.value) FILTER (WHERE m.name='greedy_rel_err'),
    coalesce(max(m.value) FILTER (WHERE m.name='best_uniform_rel_err'), 'Infinity'),
    max(m.value) FILTER (WHERE m.name='exact_bits_per_weight'),
    max(m.value) FILTER (WHERE m.name='greedy_bits_per_weight'),
    sum(m.value) FILTER (WHERE m.name LIKE 'exact\\_tensors@%')
  FROM tasks t JOIN metrics m ON m.task_id=t.id WHERE t.$c AND t.kind='mixed_precision'
  GROUP BY 1 ORDER BY 1::float8")
echo "budget|exact|greedy|best_uniform|exact_bpw|greedy_bpw|tensors"
echo "$rows"
expect_eq "$(echo "$rows" | wc -l)" 5 "budgets"
echo "$rows" | awk -F'|' '{
    if ($2 > $3) { print "FAIL: budget " $1 ": exact " $2 " > greedy " $3; exit 1 }
    if ($2 > $4) { print "FAIL: budget " $1 ": exact " $2 " > best uniform " $4; exit 1 }
    if ($5 > $1 || $6 > $1) { print "FAIL: budget " $1 ": bits " $5 " / " $6; exit 1 }
    if ($7 != 16) { print "FAIL: budget " $1 ": " $7 " tensors chosen"; exit 1 }
    if (NR > 1 && $2 >= prev) { print "FAIL: error did not fall with budget " $1; exit 1 }
    prev = $2 }'
# Uniform int4/q4_0 (4.5 bits) fit 5 and 6 bits but not 4.
expect_eq "$(q "m.name='uniform_rel_err@q4_0'")" 2 "budgets q4_0 fits"

# The same values from one rank (timings aside).
sed 's/^name: .*/name: t_kinds_mp1/' "$T/mp.yaml" > "$T/mp1.yaml"
mpi 1 campaign run "$T/mp1.yaml" --db "$BNC_TEST_DB" --journal "$T/j1" >/dev/null
expect_eq "$(psql_val "SELECT count(*) FROM (
    (SELECT t.params, m.name, m.value FROM tasks t JOIN metrics m ON m.task_id=t.id
     WHERE t.campaign='t_kinds_mp' AND m.unit NOT IN ('s','GB/s')
     EXCEPT SELECT t.params, m.name, m.value FROM tasks t JOIN metrics m ON m.task_id=t.id
     WHERE t.campaign='t_kinds_mp1' AND m.unit NOT IN ('s','GB/s'))) d")" 0 "values differing from -np 1"
# One synthetic file in the cache for all ranks and runs.
expect_eq "$(ls "$T"/bnc-synth-*/ | grep -c '\.safetensors$')" 1 "cached synthetic models"

# Bad specs: unknown model and bad budget stop the run before anything is written.
sed -e 's/^name: .*/name: t_kinds_bad/' -e 's/model: m1$/model: m2/' "$T/mp.yaml" > "$T/bad.yaml"
set +e
err=$(mpi 1 campaign run "$T/bad.yaml" --db "$BNC_TEST_DB" --journal "$T/jb" 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "exit status of an unknown model"
echo "$err" | grep -q "parameter 'model': unknown model 'm2'" || fail "message: $err"
sed -e 's/^name: .*/name: t_kinds_bad/' -e 's/budget: \[2.5,/budget: [0,/' "$T/mp.yaml" > "$T/bad.yaml"
set +e
err=$(mpi 1 campaign run "$T/bad.yaml" --db "$BNC_TEST_DB" --journal "$T/jb" 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "exit status of a bad budget"
echo "$err" | grep -q "parameter 'budget'" || fail "message: $err"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_kinds_bad'")" 0 "tasks of bad specs"
echo "1 passed, 0 failed"
