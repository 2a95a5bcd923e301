#!/usr/bin/env bash
# The gemv_bench kind in a campaign (throughput next to the bandwidth taken in
# the same task, and the GEMV's error against f64), and the scheduler and
# ingest benchmarks end to end with their JSON lines checked.
. "$SRC/tests/lib.sh"
need_db
cat > "$T/spec.yaml" <<SPEC
name: t_gemv_bench
seeds: [1, 2]
groups:
  - kind: gemv_bench
    grid: {scheme: [bitnet, tq2_0, q8_0], rows: 512, cols: 2048, footprint_mb: 32, min_ms: 5, reps: 1}
SPEC
mpi 3 campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j" >/dev/null
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_gemv_bench' AND status='done'")" 6 "tasks"
bad=$(psql_val "
  SELECT count(*) FROM tasks t
  JOIN metrics g ON g.task_id = t.id AND g.name = 'gbps'
  JOIN metrics b ON b.task_id = t.id AND b.name = 'bw_gbps'
  JOIN metrics r ON r.task_id = t.id AND r.name = 'ratio'
  JOIN metrics e ON e.task_id = t.id AND e.name = 'gemv_rel_err'
  WHERE t.campaign = 't_gemv_bench'
    AND NOT (g.value > 0 AND b.value > 0 AND abs(r.value - g.value / b.value) < 1e-9 * r.value
             AND e.value > 0 AND e.value < 0.03)")
expect_eq "$bad" 0 "tasks with inconsistent gemv_bench metrics"
# bits per weight of the packed weights: bitnet 2 (+ one scale), tq2_0 2.0625, q8_0 8.5
expect_eq "$(psql_val "SELECT string_agg(DISTINCT t.params->>'scheme' || '=' || round(m.value::numeric, 4), ',' ORDER BY t.params->>'scheme' || '=' || round(m.value::numeric, 4))
  FROM tasks t JOIN metrics m ON m.task_id = t.id AND m.name = 'bits_per_weight' WHERE t.campaign = 't_gemv_bench'")" \
    "bitnet=2.0000,q8_0=8.5000,tq2_0=2.0625" "bits per weight"
# An unknown scheme for GEMV is refused at plan time.
sed -e 's/t_gemv_bench/t_gemv_bad/' -e 's/q8_0\]/int4]/' "$T/spec.yaml" > "$T/bad.yaml"
set +e
msg=$(mpi 1 campaign run "$T/bad.yaml" --db "$BNC_TEST_DB" --journal "$T/j2" 2>&1 >/dev/null); code=$?
set -e
expect_eq "$code" 2 "gemv_bench with int4"
echo "$msg" | grep -q "'int4' has no GEMV kernel" || fail "message: $msg"

out=$(mpi 3 bench scheduler --tasks 3000 --db "$BNC_TEST_DB" --workdir "$T")
echo "$out"
expect_eq "$(echo "$out" | grep -c '"bench":"scheduler","ranks":3,"workers":2,"tasks":3000')" 2 "scheduler lines"
out=$("$BNC" bench ingest --tasks 2000 --metrics 10 --db "$BNC_TEST_DB")
echo "$out"
echo "$out" | grep -q '"path":"sink","tasks":2000,"metric_rows":20000,"new_metric_rows":20000' || fail "ingest line"
echo "$out" | grep -q '"path":"copy_raw","metric_rows":20000' || fail "copy line"
expect_eq "$(psql_val "SELECT count(*) FROM campaigns WHERE name LIKE 'bench_%'")" 0 "benchmark campaigns left behind"
echo "1 passed, 0 failed"
