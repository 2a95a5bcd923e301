#!/usr/bin/env bash
# PostgreSQL stopped in the middle of a campaign: the campaign completes on
# its journal, and `bnc db sync` brings every row in afterwards. Uses a
# private server of its own so the other tests keep theirs.
. "$SRC/tests/lib.sh"
private_pg
outage_start t_outage 4 100
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
