#!/usr/bin/env bash
# PostgreSQL stopped and started again in the middle of a campaign: the sink
# reconnects with backoff and loads the journal's backlog, so every row is
# in the database at the end without `bnc db sync`, and the campaign's
# status is done. Uses a private server of its own.
. "$SRC/tests/lib.sh"
private_pg
outage_start t_restart 30 60
sleep 1.5
"$SRC/scripts/pg" start
kill -0 "$job" 2>/dev/null || fail "the campaign ended before the database came back"
wait "$job" || { cat "$T/run.log"; fail "the campaign failed"; }
cat "$T/run.log"
grep -q "600 run: 600 done" "$T/run.log" || fail "not every task ran"
grep -q "warning: " "$T/run.log" || fail "the outage was not reported"
grep -q "the database is back" "$T/run.log" || fail "the reconnection was not reported"
if grep -q "database: unavailable" "$T/run.log"; then fail "the run ended without its database"; fi
expect_eq "$(val "SELECT count(*) FROM tasks WHERE status='done'")" 600 "task rows, no sync"
expect_eq "$(val "SELECT count(*) FROM metrics")" 600 "metric rows, no sync"
expect_eq "$(val "SELECT status FROM campaigns WHERE name='t_restart'")" done "campaign status"
"$BNC" campaign status t_restart --db "$db" | grep -q "campaign t_restart: done" || fail "status"
echo "1 passed, 0 failed"
