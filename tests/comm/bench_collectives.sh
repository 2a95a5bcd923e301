#!/usr/bin/env bash
# bnc bench collectives under mpirun -np 2, 3 and 4: nccl-tests' columns
# with no wrong element, one JSON line per (algorithm, size), the bytes on
# the wire of each compressed algorithm against f32's (the codecs'
# geometry: int8 68 B per 64 values, ternary 68 B per 256, sign 36 B per
# 256, top-k 8 B per kept value), and --db rows in PostgreSQL.
. "$SRC/tests/lib.sh"
for np in 2 3 4; do
    out=$(mpi "$np" bench collectives -b 1K -e 256K -f 16 -n 2 -w 1 --topk 0.01)
    grep -v '^{' <<<"$out" | sed -n '1,12p'
    tables=$(echo "$out" | grep -c '^# Out of bounds values : 0 OK') || true
    expect_eq "$tables" 5 "np $np: tables with no out-of-bounds value"
    # the #wrong columns (9 and 13) of every data row are 0
    bad=$(echo "$out" | awk '/^ +[0-9]/ && ($9 != 0 || $13 != 0)' | wc -l)
    expect_eq "$bad" 0 "np $np: rows with wrong elements"
    expect_eq "$(echo "$out" | grep -c '^{"bench":"collectives"')" 15 "np $np: JSON lines (5 algorithms x 3 sizes)"
    # header columns exactly as nccl-tests prints them
    echo "$out" | grep -q '^#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong' ||
        fail "np $np: nccl-tests column header missing"
    # wire ratio at 256 KiB (65536 values) against a ring f32 allreduce
    echo "$out" | grep '"bytes":262144,' | python3 -c "
import json, sys, math
p = $np
n = 65536
def chunk(block):
    c = -(-n // p)
    return -(-c // block) * block
f32 = 2 * (p - 1) * n * 4 // p
want = {
    'int8': 2 * (p - 1) * chunk(64) // 64 * 68,
    'ternary': 2 * (p - 1) * chunk(256) // 256 * 68,
    'sign': 2 * (p - 1) * chunk(256) // 256 * 36,
    'topk': (p - 1) * math.ceil(0.01 * n) * 8,
    'f32': f32,
}
for line in sys.stdin:
    j = json.loads(line)
    a = j['algo']
    assert j['wire_bytes'] == want[a], (a, j['wire_bytes'], want[a])
    assert j['f32_wire_bytes'] == f32, (a, j['f32_wire_bytes'], f32)
    assert j['wrong'] == 0 and j['wrong_in_place'] == 0, j
    bound = {'f32': 0, 'int8': 0.02, 'ternary': 0.9, 'sign': 1.0, 'topk': 1.0}[a]
    assert j['rel_error'] <= bound, (a, j['rel_error'])
    print(a, 'wire ratio %.4f' % j['wire_ratio'], 'rel error %.4f' % j['rel_error'])
" || fail "np $np: wire bytes or errors"
done

# Bad options exit 2 with a message.
set +e
msg=$("$BNC" bench collectives --algos f32,nosuch 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "unknown algorithm exit status"
echo "$msg" | grep -q "nosuch" || fail "the message does not name the algorithm: $msg"
set +e
"$BNC" bench collectives -b 1M -e 1K >/dev/null 2>&1; rc=$?
set -e
expect_eq "$rc" 2 "min above max exit status"

if [ -n "${BNC_TEST_DB:-}" ]; then
    out=$(mpi 2 bench collectives -b 4K -e 64K -f 4 -n 2 -w 0 --algos f32,ternary --db "$BNC_TEST_DB")
    echo "$out" | grep '^# stored'
    run=$(echo "$out" | sed -n 's/^# stored 6 rows in collective_results (run \([0-9]*\))$/\1/p')
    [ -n "$run" ] || fail "no '# stored 6 rows' line"
    expect_eq "$(psql_val "SELECT count(*) FROM collective_results WHERE run_id=$run")" 6 "rows stored"
    expect_eq "$(psql_val "SELECT count(*) FROM collective_results WHERE run_id=$run AND wrong=0 AND wrong_in_place=0")" 6 "rows checked with no wrong element"
    expect_eq "$(psql_val "SELECT ranks || backend FROM collective_runs WHERE id=$run")" "2mpi" "run row"
    expect_eq "$(psql_val "SELECT wire_bytes FROM collective_results WHERE run_id=$run AND algo='ternary' AND bytes=65536")" 4352 "ternary wire bytes at 16384 values, 2 ranks (2 x 32 blocks x 68 B)"
fi
echo "bench collectives ok"
