#!/usr/bin/env bash
# PostgreSQL stopped in the middle of a campaign: the campaign completes on
# its journal, and `bnc db sync` brings every row in afterwards. Uses a
# private server of its own so the other tests keep theirs.
. "$SRC/tests/lib.sh"
export BNC_PG_DIR=$T/pg
"$SRC/scripts/pg" start
trap '"$SRC/scripts/pg" stop >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
db=$("$SRC/scripts/pg" url)
val() { psql "$db" -qAt -c "$1"; }
cat > "$T/spec.yaml" <<SPEC
name: t_outage
seeds: [1, 2, 3, 4, 5]
repetitions: 20
groups:
  - kind: noop
    grid: {i: [1, 2, 3, 4, 5, 6], sleep_ms: 4}
SPEC
mpirun --oversubscribe -np 3 "$BNC" campaign run "$T/spec.yaml" --db "$db" --journal "$T/j" \
    > "$T/run.log" 2>&1 &
job=$!
for _ in $(seq 1 300); do
    n=$(val "SELECT count(*) FROM tasks" 2>/dev/null || echo 0)
    [ "$n" -ge 100 ] && break
    sleep 0.1
done
"$SRC/scripts/pg" stop
echo "database stopped with $n tasks stored"
wait "$job" || { cat "$T/run.log"; fail "the campaign did not complete without its database"; }
cat "$T/run.log"
grep -q "600 run: 600 done" "$T/run.log" || fail "not every task ran"
grep -q "database: unavailable" "$T/run.log" || fail "the outage was not reported"
"$SRC/scripts/pg" start
before=$(val "SELECT count(*) FROM tasks")
[ "$before" -lt 600 ] || fail "the outage did not land midway"
out=$("$BNC" db sync "$T/j" --db "$db")
echo "$out"
echo "$out" | grep -q "600 results read, $((600 - before)) new task rows" || fail "sync counts"
expect_eq "$(val "SELECT count(*) FROM tasks WHERE status='done'")" 600 "tasks after sync"
expect_eq "$(val "SELECT count(*) FROM metrics")" 600 "metric rows after sync"
# The sync completed the campaign: its status says so (not `running`).
echo "$out" | grep -q "campaign status: done" || fail "sync's status line"
"$BNC" campaign status t_outage --db "$db" | grep -q "campaign t_outage: done" || fail "status after sync"
# Syncing twice adds nothing.
"$BNC" db sync "$T/j" --db "$db" | grep -q "0 new task rows, 0 new metric rows" || fail "second sync"
echo "1 passed, 0 failed"
