#!/usr/bin/env bash
# A database at an older schema version is migrated; one at a newer version
# is refused with a clear message.
. "$SRC/tests/lib.sh"
need_db
: "${BNC_TEST_ADMIN_DB:?}"
for db in bnc_t_old bnc_t_new; do
    psql "$BNC_TEST_ADMIN_DB" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
done
old=$(echo "$BNC_TEST_DB" | sed 's|/bnc_test?|/bnc_t_old?|')
new=$(echo "$BNC_TEST_DB" | sed 's|/bnc_test?|/bnc_t_new?|')
# Version 1 by hand: the first migration only.
psql "$old" -qAt -v ON_ERROR_STOP=1 \
    -c "CREATE TABLE schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())" \
    -f "$SRC/store/migrations/001_core.sql" \
    -c "INSERT INTO schema_version VALUES (1, '001_core')" >/dev/null
out=$("$BNC" db version --db "$old")
echo "$out"
echo "$out" | grep -q "database schema version 1," || fail "version 1 not reported"
set +e
msg=$("$BNC" campaign list --db "$old" 2>&1); code=$?
set -e
echo "list on old: $msg"
expect_eq "$code" 2 "old schema exit code"
echo "$msg" | grep -q "older than this bnc's .*bnc db migrate" || fail "old schema message"
spec=$(spec_named "$SRC/examples/hello.yaml" t_schema)
mpi 1 campaign run "$spec" --db "$old" --journal "$T/j" >/dev/null
latest=$(psql "$old" -qAt -c "SELECT max(version) FROM schema_version")
[ "$latest" -ge 1 ] || fail "no version"
expect_eq "$(psql "$old" -qAt -c "SELECT count(*) FROM tasks")" 6 "tasks in migrated database"
# Rerunning migrate changes nothing.
"$BNC" db migrate --db "$old" | grep -q "0 migrations applied" || fail "migrate not idempotent"

"$BNC" db migrate --db "$new" >/dev/null
psql "$new" -qAt -c "INSERT INTO schema_version VALUES (9999, '9999_future')" >/dev/null
set +e
msg=$(mpi 1 campaign run "$spec" --db "$new" --journal "$T/j2" 2>&1 >/dev/null); code=$?
set -e
echo "newer: exit $code: $msg"
expect_eq "$code" 2 "newer schema exit code"
echo "$msg" | grep -q "schema version 9999 is newer than this bnc" || fail "newer schema message"
expect_eq "$(psql "$new" -qAt -c "SELECT count(*) FROM campaigns")" 0 "campaigns in refused database"
for db in bnc_t_old bnc_t_new; do
    psql "$BNC_TEST_ADMIN_DB" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
done
echo "1 passed, 0 failed"
