#!/usr/bin/env bash
# Bad specs and bad databases: exit code 2 (input) or 1 (runtime), a message
# naming file, line and key, and nothing written to the database.
. "$SRC/tests/lib.sh"
need_db
$BNC db migrate --db "$BNC_TEST_DB" >/dev/null
# Only this test's names: other tests write campaigns of their own meanwhile.
bad_rows() { psql_val "SELECT count(*) FROM campaigns WHERE name ~ '^bad[0-9]+\$'"; }
before=$(bad_rows)

check_bad() { # name, expected message regex, spec text
    printf '%s\n' "$3" > "$T/$1.yaml"
    set +e
    msg=$(mpi 2 campaign run "$T/$1.yaml" --db "$BNC_TEST_DB" 2>&1 >/dev/null)
    code=$?
    set -e
    echo "$1: exit $code: $msg"
    expect_eq "$code" 2 "$1 exit code"
    echo "$msg" | grep -Eq "$2" || fail "$1: message does not match /$2/"
}
check_bad unknown_key "$T/unknown_key.yaml:3: unknown key 'sedes'" \
'name: bad1
seeds: [1]
sedes: [2]
groups: [{kind: noop, grid: {i: [1]}}]'
check_bad wrong_type "$T/wrong_type.yaml:2: key 'seeds' must be a list" \
'name: bad2
seeds: 3
groups: [{kind: noop, grid: {i: [1]}}]'
check_bad missing "$T/missing.yaml:1: missing required key 'groups'" \
'name: bad3
seeds: [1]'
check_bad tensor_rows "$T/tensor_rows.yaml:6: key 'rows' must be an integer" \
'name: bad4
seeds: [1]
tensors:
  g:
    cols: 64
    rows: many
    distribution: normal
groups: [{kind: quant_error, grid: {tensor: g, scheme: [bitnet]}}]'
check_bad unknown_kind "$T/unknown_kind.yaml:4: unknown task kind 'quant_errr'" \
'name: bad5
seeds: [1]
groups:
  - kind: quant_errr
    grid: {scheme: [bitnet]}'
check_bad unknown_scheme "$T/unknown_scheme.yaml:6: group 1 .*unknown scheme 'bitnot'" \
'name: bad6
seeds: [1]
tensors: {g: {rows: 4, cols: 64, distribution: normal}}
groups:
  - kind: quant_error
    grid: {tensor: g, scheme: [f32, bitnot]}'
check_bad empty_grid "$T/empty_grid.yaml:6: grid key 'scheme' has an empty list" \
'name: bad7
seeds: [1]
tensors: {g: {rows: 4, cols: 64, distribution: normal}}
groups:
  - kind: quant_error
    grid: {tensor: g, scheme: []}'
check_bad yaml_syntax "$T/yaml_syntax.yaml:[0-9]+: YAML syntax error" \
'name: bad8
seeds: [1
groups: x'
expect_eq "$(bad_rows)" "$before" "campaign rows after bad specs"

# The same name with a different spec is refused, and writes nothing.
printf 'name: t_dup\nseeds: [1]\ngroups: [{kind: noop, grid: {i: [1, 2]}}]\n' > "$T/a.yaml"
printf 'name: t_dup\nseeds: [1]\ngroups: [{kind: noop, grid: {i: [1, 2, 3]}}]\n' > "$T/b.yaml"
mpi 1 campaign run "$T/a.yaml" --db "$BNC_TEST_DB" --journal "$T/dup.j" >/dev/null
set +e
msg=$(mpi 1 campaign run "$T/b.yaml" --db "$BNC_TEST_DB" --journal "$T/dup2.j" 2>&1 >/dev/null); code=$?
set -e
expect_eq "$code" 2 "duplicate campaign exit code"
echo "$msg" | grep -q "already exists in the database with a different spec" || fail "duplicate: $msg"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_dup'")" 2 "tasks of t_dup"

# An unreachable database fails within seconds with a clear message.
start=$(date +%s)
set +e
msg=$(timeout 30 "$BNC" campaign run "$SRC/examples/hello.yaml" --db "postgresql:///nodb?host=$T/nowhere&user=postgres" 2>&1 >/dev/null); code=$?
set -e
echo "unreachable: exit $code after $(( $(date +%s) - start )) s: $msg"
expect_eq "$code" 1 "unreachable database exit code"
echo "$msg" | grep -q "cannot connect to database" || fail "unreachable: $msg"
[ $(( $(date +%s) - start )) -lt 15 ] || fail "unreachable database took too long"
# A TCP address where nothing listens (loopback, a closed port).
set +e
msg=$(timeout 30 "$BNC" db migrate --db "postgresql://bnc@127.0.0.1:9/bnc" 2>&1); code=$?
set -e
expect_eq "$code" 1 "closed port exit code"
echo "$msg" | grep -q "cannot connect to database postgresql://bnc@127.0.0.1:9/bnc" || fail "closed port: $msg"
echo "1 passed, 0 failed"
