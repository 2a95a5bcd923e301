#!/usr/bin/env bash
# Failing tasks are retried, then recorded as failed with their message; a
# task past its timeout is killed; the run exits non-zero with a summary,
# and the other tasks are stored.
. "$SRC/tests/lib.sh"
need_db
cat > "$T/spec.yaml" <<SPEC
name: t_failures
seeds: [1, 2]
retries: 1
groups:
  - kind: noop
    grid: {i: [1, 2, 3]}
  - kind: noop
    grid: {i: 4, fail: true}
  - kind: noop
    grid: {i: 5, sleep_ms: 20000}
    timeout: 0.5
SPEC
start=$(date +%s)
set +e
mpi 3 campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j" > "$T/out" 2> "$T/err"
code=$?
set -e
cat "$T/out" "$T/err"
expect_eq "$code" 1 "exit status with failed tasks"
[ $(( $(date +%s) - start )) -lt 15 ] || fail "the timed-out task was not killed"
grep -q "10 tasks planned, 0 skipped.*: 6 done, 4 failed, 4 retried" "$T/out" || fail "summary"
grep -q "4 of 10 tasks failed after 1 retries" "$T/err" || fail "final message"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_failures' AND status='done'")" 6 "done rows"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_failures' AND status='failed' AND attempts=2 AND error='noop task asked to fail'")" 2 "failed rows"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_failures' AND status='failed' AND error LIKE 'timed out after 0.5 s%'")" 2 "timed-out rows"
expect_eq "$(psql_val "SELECT status FROM campaigns WHERE name='t_failures'")" failed "campaign status"
"$BNC" campaign status t_failures --db "$BNC_TEST_DB" | grep -q "failed .* after 2 attempts: noop task asked to fail" || fail "status lists failures"
# Export: one CSV line per (task, metric), one JSON line per task.
"$BNC" campaign export t_failures --db "$BNC_TEST_DB" --format csv -o "$T/x.csv"
expect_eq "$(wc -l < "$T/x.csv")" 11 "csv lines (header + 6 metric rows + 4 failed tasks)"
expect_eq "$("$BNC" campaign export t_failures --db "$BNC_TEST_DB" --format jsonl | grep -c '"status":"done"')" 6 "jsonl done lines"
# A rerun retries only the failed tasks.
set +e
out=$(mpi 2 campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j" 2>/dev/null)
set -e
echo "$out" | grep -q "6 skipped" || fail "rerun skipped: $out"
echo "1 passed, 0 failed"
