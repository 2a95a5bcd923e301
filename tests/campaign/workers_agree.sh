#!/usr/bin/env bash
# The same spec and seeds give the same metric values (timings aside) with
# 1, 2 and 3 workers.
. "$SRC/tests/lib.sh"
need_db
for np in 2 3 4; do
    cat > "$T/w$np.yaml" <<SPEC
name: t_workers$np
seeds: [11, 12]
tensors:
  g: {rows: 64, cols: 512, distribution: normal, seed: 5}
  h: {rows: 96, cols: 256, distribution: student_t, df: 3, seed: 6}
  l: {rows: 64, cols: 256, distribution: llm, seed: 7}
groups:
  - kind: quant_error
    grid: {tensor: [g, h, l], scheme: [f32, bitnet]}
  - kind: quant_error
    grid: {tensor: g, scheme: bitnet, row_begin: 16, row_end: 48}
SPEC
    mpirun --oversubscribe -np $np "$BNC" campaign run "$T/w$np.yaml" --db "$BNC_TEST_DB" --journal "$T/j$np" >/dev/null
    expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_workers$np' AND status='done'")" 14 "tasks with $np ranks"
done
for np in 3 4; do
    d=$(psql_val "
      SELECT count(*) FROM (
        (SELECT t.params, t.seed, m.name, m.value FROM tasks t JOIN metrics m ON m.task_id=t.id
         WHERE t.campaign='t_workers2' AND m.unit NOT IN ('s','GB/s')
         EXCEPT
         SELECT t.params, t.seed, m.name, m.value FROM tasks t JOIN metrics m ON m.task_id=t.id
         WHERE t.campaign='t_workers$np' AND m.unit NOT IN ('s','GB/s'))
        UNION ALL
        (SELECT t.params, t.seed, m.name, m.value FROM tasks t JOIN metrics m ON m.task_id=t.id
         WHERE t.campaign='t_workers$np' AND m.unit NOT IN ('s','GB/s')
         EXCEPT
         SELECT t.params, t.seed, m.name, m.value FROM tasks t JOIN metrics m ON m.task_id=t.id
         WHERE t.campaign='t_workers2' AND m.unit NOT IN ('s','GB/s'))) d")
    expect_eq "$d" 0 "metric values differing between 1 and $((np - 1)) workers"
done
echo "1 passed, 0 failed"
