#!/usr/bin/env bash
# PostgreSQL stopped and started again in the middle of a campaign: the sink
# reconnects with backoff and loads the journal's backlog, so every row is
# in the database at the end without `bnc db sync`, and the campaign's
# status is done. Uses a private server of its own.
. "$SRC/tests/lib.sh"
export BNC_PG_DIR=$T/pg
"$SRC/scripts/pg" start
trap '"$SRC/scripts/pg" stop >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
db=$("$SRC/scripts/pg" url)
val() { psql "$db" -qAt -c "$1"; }
cat > "$T/spec.yaml" <<SPEC
name: t_restart
seeds: [1, 2, 3, 4, 5]
repetitions: 20
groups:
  - kind: noop
    grid: {i: [1, 2, 3, 4, 5, 6], sleep_ms: 30}
SPEC
mpirun --oversubscribe -np 3 "$BNC" campaign run "$T/spec.yaml" --db "$db" --journal "$T/j" \
    > "$T/run.log" 2>&1 &
job=$!
for _ in $(seq 1 300); do
    n=$(val "SELECT count(*) FROM tasks" 2>/dev/null || echo 0)
    [ "$n" -ge 60 ] && break
    sleep 0.1
done
"$SRC/scripts/pg" stop
echo "database stopped with $n tasks stored"
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
