# Shared helpers for the integration tests (bash). Each test sources this
# file; ctest passes BNC (the binary), SRC (the source tree) and BNC_TEST_DB.
set -euo pipefail
: "${BNC:?BNC must point at build/bnc}"
: "${SRC:?SRC must point at the source tree}"
. "$SRC/scripts/env.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/bnc-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

fail() { echo "FAIL: $*" >&2; exit 1; }
need_db() {
    if [ -z "${BNC_TEST_DB:-}" ]; then echo "BNC_TEST_DB unset: skipping"; exit 77; fi
}
# psql_val SQL: one value from the test database.
psql_val() { psql "$BNC_TEST_DB" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
# mpi N args...: bnc under mpirun with N ranks.
mpi() { local n=$1; shift; mpirun --oversubscribe -np "$n" "$BNC" "$@"; }
# spec_named FILE NAME: a copy of FILE with its campaign renamed (isolation).
spec_named() { sed "s/^name: .*/name: $2/" "$1" > "$T/$2.yaml"; echo "$T/$2.yaml"; }
# private_pg: a PostgreSQL server of the test's own under $T/pg (stopped on
# exit); sets db (its URL) and val SQL (one value from it).
private_pg() {
    export BNC_PG_DIR=$T/pg
    "$SRC/scripts/pg" start
    trap '"$SRC/scripts/pg" stop >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
    db=$("$SRC/scripts/pg" url)
}
val() { psql "$db" -qAt -c "$1"; }
# outage_start NAME SLEEP_MS ROWS: starts a 600-task noop campaign NAME under
# mpirun -np 3 in the background (job: its pid, log in $T/run.log), waits
# until ROWS tasks are stored, then stops the private server (n: rows then).
outage_start() {
    cat > "$T/spec.yaml" <<SPEC
name: $1
seeds: [1, 2, 3, 4, 5]
repetitions: 20
groups:
  - kind: noop
    grid: {i: [1, 2, 3, 4, 5, 6], sleep_ms: $2}
SPEC
    mpirun --oversubscribe -np 3 "$BNC" campaign run "$T/spec.yaml" --db "$db" --journal "$T/j" \
        > "$T/run.log" 2>&1 &
    job=$!
    for _ in $(seq 1 300); do
        n=$(val "SELECT count(*) FROM tasks" 2>/dev/null || echo 0)
        [ "$n" -ge "$3" ] && break
        sleep 0.1
    done
    "$SRC/scripts/pg" stop
    echo "database stopped with $n tasks stored"
}
