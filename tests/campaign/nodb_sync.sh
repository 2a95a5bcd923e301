#!/usr/bin/env bash
# A campaign run without a database (--no-db), stopped after some of its
# tasks, then `bnc db sync`: the campaign is not marked done (the journal's
# header records the planned task count); after a second run finishes it,
# the sync marks it done with every task row present.
. "$SRC/tests/lib.sh"
need_db
cat > "$T/spec.yaml" <<SPEC
name: t_nodb_sync
seeds: [1, 2, 3, 4]
groups:
  - kind: noop
    grid: {i: [1, 2, 3, 4, 5], sleep_ms: 250}
SPEC
# 20 tasks of 250 ms on one rank: about 5 s. Stop it once the journal holds
# more than its header (the first results are in), whatever the machine's speed.
"$BNC" campaign run "$T/spec.yaml" --no-db --journal "$T/j" > "$T/run1.log" 2>&1 &
pid=$!
first=""
for _ in $(seq 1 200); do
    size=$(stat -c %s "$T/j" 2>/dev/null || echo 0)
    if [ "$size" -gt 0 ] && [ -z "$first" ]; then first=$size; fi
    if [ -n "$first" ] && [ "$size" -gt "$first" ]; then break; fi
    sleep 0.05
done
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
out=$("$BNC" db sync "$T/j" --db "$BNC_TEST_DB" 2>&1) || fail "sync after the stop: $out"
echo "$out"
n=$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_nodb_sync'")
[ "$n" -ge 1 ] && [ "$n" -lt 20 ] || fail "expected some but not all 20 tasks after the stop, got $n"
expect_eq "$(psql_val "SELECT total_tasks FROM campaigns WHERE name='t_nodb_sync'")" 20 "planned tasks from the journal header"
status=$(psql_val "SELECT status FROM campaigns WHERE name='t_nodb_sync'")
[ "$status" != done ] || fail "a campaign with $n of 20 tasks was marked done"
echo "$out" | grep -q "campaign status: done" && fail "sync said done with $n of 20 tasks"

# Finish it, still without the database, and sync again.
"$BNC" campaign run "$T/spec.yaml" --no-db --journal "$T/j" > "$T/run2.log" 2>&1 || fail "second run: $(cat "$T/run2.log")"
"$BNC" db sync "$T/j" --db "$BNC_TEST_DB" > /dev/null
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_nodb_sync' AND status='done'")" 20 "tasks after the second run"
expect_eq "$(psql_val "SELECT status FROM campaigns WHERE name='t_nodb_sync'")" done "status after the finished run's sync"
echo "nodb sync ok ($n of 20 after the stop)"
