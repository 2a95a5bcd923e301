#!/usr/bin/env bash
# Journal damage, end to end: a 300-result journal with one flipped length
# bit in the middle keeps the other 299 (`bnc db sync` loads them and exits 2
# naming the skipped bytes; --salvage accepts the loss); `campaign run`
# refuses the damaged journal and leaves it byte for byte, and with --salvage
# moves it aside and reruns only the lost task. A second run on a journal in
# use is refused. An empty --db is refused.
. "$SRC/tests/lib.sh"
need_db
cat > "$T/spec.yaml" <<SPEC
name: t_jdamage
seeds: [1, 2, 3]
repetitions: 10
groups:
  - kind: noop
    grid: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
SPEC
rows() { psql_val "SELECT count(*) FROM tasks WHERE campaign='$1'"; }
mpi 1 campaign run "$T/spec.yaml" --no-db --journal "$T/j" > "$T/run1.log"
grep -q "300 run: 300 done" "$T/run1.log" || fail "first run"
cp "$T/j" "$T/j.orig"
# Flip bit 2 of the second length byte of the 151st result (frame 152 after
# the header): the record now claims 1 KiB more than it holds.
python3 - "$T/j" > "$T/range" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
offs = [i for i in range(len(b) - 3) if b[i:i + 4] == b'BNJ1']
assert len(offs) == 301, len(offs)
at = offs[151]
b[at + 5] ^= 1 << 2
open(p, 'wb').write(b)
print(at, offs[152] - 1)
PY
read -r lo hi < "$T/range"

# db sync: the 299 that verify are loaded, the skipped bytes named, exit 2.
set +e
out=$("$BNC" db sync "$T/j" --db "$BNC_TEST_DB" 2>"$T/sync.err"); code=$?
set -e
echo "$out"; cat "$T/sync.err"
expect_eq "$code" 2 "sync exit status on a damaged journal"
echo "$out" | grep -q "299 results read, 299 new task rows" || fail "sync counts"
grep -q "bytes $lo-$hi (1 record)" "$T/sync.err" || fail "skipped range not named"
expect_eq "$(rows t_jdamage)" 299 "task rows after sync"
out=$("$BNC" db sync "$T/j" --db "$BNC_TEST_DB" --salvage)
echo "$out" | grep -q "299 results read, 0 new task rows" || fail "salvage sync: $out"
echo "$out" | grep -q "salvaged" || fail "salvage sync does not say so"

# campaign run without --salvage: refused, the journal unchanged.
cp "$T/j" "$T/j.damaged.copy"
set +e
mpi 1 campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j" > "$T/run2.log" 2>&1
code=$?
set -e
cat "$T/run2.log"
expect_eq "$code" 2 "run on a damaged journal"
grep -q "is damaged: .*bytes $lo-$hi" "$T/run2.log" || fail "run does not name the damage"
grep -q -- "--salvage" "$T/run2.log" || fail "run does not say how to go on"
cmp "$T/j" "$T/j.damaged.copy" || fail "a refused run changed the journal"
# With --salvage: moved aside byte for byte, only the lost task runs again
# (the database already holds the 299; the journal keeps them too).
mpi 1 campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j" --salvage > "$T/run3.log" 2>&1
cat "$T/run3.log"
grep -q "299 skipped (already stored), 1 run: 1 done" "$T/run3.log" || fail "salvage rerun"
grep -q "moved aside to $T/j.damaged" "$T/run3.log" || fail "salvage not reported"
cmp "$T/j.damaged" "$T/j.damaged.copy" || fail "the damaged journal was not kept as it was"
expect_eq "$(rows t_jdamage)" 300 "task rows after the salvaged run"
out=$("$BNC" db sync "$T/j" --db "$BNC_TEST_DB")
echo "$out" | grep -q "300 results read, 0 new task rows" || fail "salvaged journal: $out"
expect_eq "$(psql_val "SELECT status FROM campaigns WHERE name='t_jdamage'")" done "status"

# A torn tail is reported and cut; the rerun has nothing to do.
head -c -5 "$T/j" > "$T/j.t" && mv "$T/j.t" "$T/j"
mpi 1 campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j" > "$T/run4.log" 2>&1
grep -q "torn tail of .* bytes at byte .* dropped" "$T/run4.log" || fail "torn tail not reported"

# A second run on a journal in use is refused and writes nothing.
cat > "$T/slow.yaml" <<SPEC
name: t_jlock
seeds: [1]
groups:
  - kind: noop
    grid: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], sleep_ms: 150}
SPEC
mpi 1 campaign run "$T/slow.yaml" --db "$BNC_TEST_DB" --journal "$T/jl" > "$T/lock1.log" 2>&1 &
job=$!
for _ in $(seq 1 100); do
    [ "$(rows t_jlock)" -ge 1 ] && break
    sleep 0.1
done
envs=$(psql_val "SELECT count(*) FROM environments WHERE campaign='t_jlock'")
set +e
mpi 1 campaign run "$T/slow.yaml" --db "$BNC_TEST_DB" --journal "$T/jl" > "$T/lock2.log" 2>&1
code=$?
set -e
cat "$T/lock2.log"
expect_eq "$code" 1 "second run on a locked journal"
grep -q "journal $T/jl is in use" "$T/lock2.log" || fail "lock message"
expect_eq "$(psql_val "SELECT count(*) FROM environments WHERE campaign='t_jlock'")" "$envs" \
    "environments rows written by the refused run"
wait "$job" || { cat "$T/lock1.log"; fail "the first run failed"; }
grep -q "20 run: 20 done" "$T/lock1.log" || fail "first run's tasks"
expect_eq "$(rows t_jlock)" 20 "rows of the locked campaign"

# An empty --db (an unset variable) is refused, not the default server.
for cmd in "campaign run $T/spec.yaml" "campaign list" "campaign status t_jdamage" \
    "campaign export t_jdamage" "db sync $T/j" "db migrate" "analyze t_jdamage" \
    "report t_jdamage"; do
    set +e
    # shellcheck disable=SC2086
    msg=$("$BNC" $cmd --db "" 2>&1 >/dev/null); code=$?
    set -e
    expect_eq "$code" 2 "bnc $cmd --db ''"
    echo "$msg" | grep -q "empty" || fail "bnc $cmd --db '': $msg"
done
# Outputs: every write is checked. A device node (one this test makes, like
# /dev/full) is refused as -o and stays a device; a full standard output
# fails with exit 1 naming it; a good export is complete.
mknod "$T/full" c 1 7
for cmd in "campaign export t_jdamage" "report t_jdamage --by i --format csv"; do
    set +e
    # shellcheck disable=SC2086
    msg=$("$BNC" $cmd --db "$BNC_TEST_DB" -o "$T/full" 2>&1 >/dev/null); code=$?
    set -e
    expect_eq "$code" 2 "bnc $cmd -o a device"
    echo "$msg" | grep -q "$T/full: is a character device" || fail "bnc $cmd -o device: $msg"
    [ -c "$T/full" ] || fail "bnc $cmd replaced the device node"
    set +e
    # shellcheck disable=SC2086
    msg=$("$BNC" $cmd --db "$BNC_TEST_DB" 2>&1 >"$T/full"); code=$?
    set -e
    expect_eq "$code" 1 "bnc $cmd > a full device"
    echo "$msg" | grep -q "standard output: write error" || fail "bnc $cmd > full: $msg"
done
"$BNC" campaign export t_jdamage --db "$BNC_TEST_DB" -o "$T/x.csv"
expect_eq "$(wc -l < "$T/x.csv")" 301 "export lines (header + 300 tasks of one metric)"
"$BNC" campaign export t_jdamage --db "$BNC_TEST_DB" --format jsonl -o - > "$T/x.jsonl"
expect_eq "$(grep -c '"status":"done"' "$T/x.jsonl")" 300 "jsonl lines"
echo "1 passed, 0 failed"
