#!/usr/bin/env bash
# Caps on what a spec or an option can make us do (issue 17, items 5 and 11):
# a 1e9-task grid refused before it is planned (exit 2, naming the keys that
# multiply, in little memory), --max-tasks, value ranges, one YAML document,
# campaign names that fit a journal file name, bad numeric options. Every
# case asserts that nothing reached the database or the journal folder.
. "$SRC/tests/lib.sh"
need_db
$BNC db migrate --db "$BNC_TEST_DB" > /dev/null
# Only this test's campaign names: other tests write campaigns at the same time.
mine="SELECT count(*) FROM campaigns WHERE name IN ('t_lim_huge', 't_lim_small', 'df_zero',
      'scale_neg', 'outliers', 'outliers_ok', 't_lim_docs', 'other') OR name LIKE 'nnnnnnnnnn%'"
before=$(psql_val "$mine")
mkdir -p "$T/var"

# bad NAME REGEX ARGS...: exit 2 and a message matching REGEX
bad() {
    local name=$1 re=$2
    shift 2
    set +e
    msg=$("$@" 2>&1 > /dev/null)
    code=$?
    set -e
    echo "$name: exit $code: ${msg:0:300}"
    expect_eq "$code" 2 "$name exit code"
    echo "$msg" | grep -Eq -- "$re" || fail "$name: message does not match /$re/"
}
run() { $BNC campaign run "$@" --db "$BNC_TEST_DB" --journal "$T/var/j"; }

# a grid of 1000 x 1000 x 1000 = 1e9 tasks
vals=$(seq -s, 1 1000)
printf 'name: t_lim_huge\nseeds: [1]\ngroups:\n  - kind: noop\n    grid: {a: [%s], b: [%s], c: [%s]}\n' \
    "$vals" "$vals" "$vals" > "$T/huge.yaml"
t0=$(date +%s.%N)
bad huge "huge.yaml:5: group 1 \(kind noop\) expands to 1000000000 tasks \(grid a: 1000 x b: 1000 x c: 1000" \
    /usr/bin/time -f "%M" -o "$T/rss" $BNC campaign run "$T/huge.yaml" --db "$BNC_TEST_DB" --journal "$T/var/j"
t1=$(date +%s.%N)
rss_kb=$(tail -1 "$T/rss")
secs=$(awk "BEGIN {print $t1 - $t0}")
echo "1e9-task grid refused in $secs s, peak RSS $rss_kb kB"
[ "$rss_kb" -lt 200000 ] || fail "refusing the 1e9 grid took $rss_kb kB: it was expanded"
echo "$msg" | grep -q -- "--max-tasks" || fail "the message does not name --max-tasks"
# the limit is the total over groups, and --max-tasks moves it
printf 'name: t_lim_small\nseeds: [1, 2, 3]\ngroups:\n  - kind: noop\n    grid: {i: [1, 2, 3, 4, 5], sleep_ms: [0, 1]}\n' > "$T/small.yaml"
bad max_tasks "small.yaml:5: group 1 \(kind noop\) expands to 30 tasks \(grid i: 5 x sleep_ms: 2, plus 0 include, x 1 repetitions x 3 seeds\), above the limit of 29" \
    run "$T/small.yaml" --max-tasks 29 --dry-run
out=$(run "$T/small.yaml" --max-tasks 30 --dry-run)
echo "$out" | grep -q "30 tasks planned" || fail "--max-tasks 30 did not plan 30 tasks: $out"
bad max_tasks_word "--max-tasks wants a positive integer" run "$T/small.yaml" --max-tasks lots
bad inflight_word "--inflight wants a positive integer" run "$T/small.yaml" --inflight x
bad threads_zero "--threads wants a positive integer" run "$T/small.yaml" --threads 0
# the federated server's message cap (item 11: --max-msg 1 was accepted)
bad max_msg_one "--max-msg: 1 bytes is out of range" timeout 20 $BNC fed server \
    --bind tcp://127.0.0.1:0 --rounds 1 --max-msg 1

# value ranges, with FILE:LINE
spec_t() { # name, tensor line
    printf 'name: %s\nseeds: [1]\ntensors:\n  g:\n    rows: 4\n    cols: 64\n    distribution: student_t\n    %s\ngroups: [{kind: quant_error, grid: {tensor: [g], scheme: [bitnet]}}]\n' \
        "$1" "$2" > "$T/$1.yaml"
    echo "$T/$1.yaml"
}
bad df_zero "df_zero.yaml:8: key 'df' = 0 must be greater than 0" run "$(spec_t df_zero 'df: 0')"
bad scale_neg "scale_neg.yaml:8: key 'scale' must be a non-negative number" run "$(spec_t scale_neg 'scale: -1')"
bad outliers "outliers.yaml:8: key 'outlier_fraction' = 2 is a fraction: it must lie in \[0, 1\]" \
    run "$(spec_t outliers 'outlier_fraction: 2')"
out=$(run "$(spec_t outliers_ok 'outlier_fraction: 1')" --dry-run)
echo "$out" | grep -q "1 tasks planned" || fail "outlier_fraction: 1 was refused: $out"

# one YAML document
printf 'name: t_lim_docs\nseeds: [1]\ngroups: [{kind: noop, grid: {i: [1]}}]\n---\nname: other\n' > "$T/docs.yaml"
bad two_docs "docs.yaml:4: a second YAML document starts here" run "$T/docs.yaml"

# a campaign name longer than a journal file name can hold, at parse time
long=$(printf 'n%.0s' $(seq 1 300))
printf 'name: %s\nseeds: [1]\ngroups: [{kind: noop, grid: {i: [1]}}]\n' "$long" > "$T/long.yaml"
bad long_name "long.yaml:1: key 'name' is 300 characters long; a campaign name may have at most 200" \
    $BNC campaign run "$T/long.yaml" --db "$BNC_TEST_DB"
name200=$(printf 'n%.0s' $(seq 1 200))
printf 'name: %s\nseeds: [1]\ngroups: [{kind: noop, grid: {i: [1]}}]\n' "$name200" > "$T/ok200.yaml"
out=$($BNC campaign run "$T/ok200.yaml" --no-db)
echo "$out" | grep -q "1 done" || fail "a 200-character name did not run: $out"
[ -f "var/journal/$name200.journal" ] || fail "no journal for the 200-character name"

# nothing reached the database or the journal folder
expect_eq "$(psql_val "$mine")" "$before" "campaigns after the refused specs"
[ ! -e "$T/var/j" ] || fail "a refused spec created the journal $T/var/j"
echo "1 passed, 0 failed"
