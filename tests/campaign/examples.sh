#!/usr/bin/env bash
# Every example spec stays valid: `--dry-run` parses and plans it (task kinds
# validate every parameter set) without a database, and the task counts are
# the grids' sizes.
. "$SRC/tests/lib.sh"
declare -A want=([hello]=6 [ternary-vs-baselines]=225 [ternary-vs-baselines-quick]=60
                 [kernels]=78 [mixed-precision]=16 [fed_compressors]=54
                 [ppl-eval]=14 [fed_defences]=48 [ptq-vs-qat]=30)
for f in "$SRC"/examples/*.yaml; do
    base=$(basename "$f" .yaml)
    out=$(mpi 2 campaign run "$f" --dry-run) || fail "$f: $out"
    echo "$out"
    n=$(echo "$out" | sed -n 's/.* is valid, \([0-9]*\) tasks planned.*/\1/p')
    [ -n "${want[$base]:-}" ] || fail "no expected task count for $base"
    expect_eq "$n" "${want[$base]}" "tasks of $base"
done
[ ! -e var/journal ] || fail "a dry run wrote a journal"
echo "1 passed, 0 failed"
