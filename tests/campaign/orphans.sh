#!/usr/bin/env bash
# mpirun killed with SIGKILL alone (its ranks are not signalled): every rank
# sees its launcher gone and stops within a short bound, so the database row
# count and the journal stop changing; a rerun then finishes the campaign.
. "$SRC/tests/lib.sh"
need_db
cat > "$T/spec.yaml" <<SPEC
name: t_orphans
seeds: [1, 2, 3]
repetitions: 100
groups:
  - kind: noop
    grid: {i: [1, 2, 3, 4], sleep_ms: 5}
SPEC
count() { psql_val "SELECT count(*) FROM tasks WHERE campaign='t_orphans'" 2>/dev/null || echo 0; }
mpirun --oversubscribe -np 4 "$BNC" campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" \
    --journal "$T/j" --inflight 2 > "$T/run1.log" 2>&1 &
launcher=$!
for _ in $(seq 1 300); do
    [ "$(count)" -ge 100 ] && break
    sleep 0.1
done
ranks=$(pgrep -P "$launcher" | tr '\n' ' ')
[ -n "$ranks" ] || fail "no rank processes under mpirun $launcher"
kill -KILL "$launcher"
wait "$launcher" 2>/dev/null || true
sleep 0.5
rows_a=$(count)
size_a=$(stat -c %s "$T/j")
sleep 2
rows_b=$(count)
size_b=$(stat -c %s "$T/j")
echo "rows 0.5 s after the kill: $rows_a, 2.5 s after: $rows_b; journal $size_a -> $size_b bytes"
[ "$rows_a" -lt 1200 ] || fail "the campaign finished before the kill ($rows_a rows)"
expect_eq "$rows_b" "$rows_a" "rows written by orphan ranks after the kill"
expect_eq "$size_b" "$size_a" "journal bytes written by orphan ranks after the kill"
for p in $ranks; do
    if kill -0 "$p" 2>/dev/null; then fail "rank process $p still alive 2.5 s after mpirun died"; fi
done
out=$(mpirun --oversubscribe -np 4 "$BNC" campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j")
echo "$out"
expect_eq "$(count)" 1200 "tasks after the rerun"
expect_eq "$(psql_val "SELECT count(DISTINCT id) FROM tasks WHERE campaign='t_orphans' AND status='done'")" 1200 "distinct done tasks"
echo "1 passed, 0 failed"
