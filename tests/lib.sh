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
