#!/usr/bin/env bash
# A 600-task campaign on 4 ranks, killed with SIGKILL midway (the whole job:
# Open MPI 4.1 has no fault tolerance), then rerun: every task ends up stored
# exactly once, and the rerun skips what was acknowledged before the kill.
. "$SRC/tests/lib.sh"
need_db
cat > "$T/spec.yaml" <<SPEC
name: t_kill
seeds: [1, 2, 3]
repetitions: 50
groups:
  - kind: noop
    grid: {i: [1, 2, 3, 4], sleep_ms: 8}
SPEC
count() { psql_val "SELECT count(*) FROM tasks WHERE campaign='t_kill'"; }
setsid mpirun --oversubscribe -np 4 "$BNC" campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" \
    --journal "$T/j" --inflight 2 > "$T/run1.log" 2>&1 &
job=$!
for _ in $(seq 1 300); do
    n=$(count)
    [ "$n" -ge 150 ] && break
    sleep 0.1
done
kill -KILL -- -"$job" 2>/dev/null || true
wait "$job" 2>/dev/null || true
at_kill=$(count)
echo "stored at the kill: $at_kill of 600"
[ "$at_kill" -ge 150 ] && [ "$at_kill" -lt 600 ] || fail "the kill did not land midway ($at_kill)"
journaled=$("$BNC" db sync "$T/j" --db "$BNC_TEST_DB" | sed -n 's/.*: \([0-9]*\) results read.*/\1/p')
echo "journal held $journaled results"

out=$(mpirun --oversubscribe -np 4 "$BNC" campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j")
echo "$out"
skipped=$(echo "$out" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
[ "$skipped" -ge "$at_kill" ] || fail "rerun skipped $skipped, fewer than the $at_kill stored"
expect_eq "$(count)" 600 "tasks after the rerun"
expect_eq "$(psql_val "SELECT count(DISTINCT id) FROM tasks WHERE campaign='t_kill' AND status='done'")" 600 "distinct done tasks"
expect_eq "$(psql_val "SELECT count(*) FROM metrics m JOIN tasks t ON t.id=m.task_id WHERE t.campaign='t_kill'")" 600 "metric rows"
expect_eq "$(psql_val "SELECT count(DISTINCT rank) FROM tasks WHERE campaign='t_kill'")" 3 "worker ranks used"
echo "1 passed, 0 failed"
