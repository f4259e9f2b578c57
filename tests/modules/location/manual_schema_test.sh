#!/usr/bin/env bash
# The bash PostgreSQL harness (tests/support/postgres/pg_harness.sh) and the schema applied by hand
# with psql, as modules/location/sql/location-001.sql documents it.
# Usage: manual_schema_test.sh SOURCE_DIR. Exits 77 (skipped) without PostgreSQL.
set -euo pipefail

source_dir=$1
schema=$source_dir/modules/location/sql/location-001.sql
# shellcheck source=../../support/postgres/pg_harness.sh
source "$source_dir/tests/support/postgres/pg_harness.sh"

if ! pg_available || ! command -v psql >/dev/null 2>&1; then
  echo "PostgreSQL is not installed: skipped"
  exit 77
fi
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
trap pg_cleanup EXIT

pg_start || fail "pg_start"
[[ $PG_CONNINFO == *"host=$PG_DIR "* ]] || fail "PG_CONNINFO names the socket directory: $PG_CONNINFO"

psql "$PG_CONNINFO" -q -v ON_ERROR_STOP=1 -f "$schema" || fail "applying $schema by hand"
version=$(psql "$PG_CONNINFO" -Atc "SELECT version FROM strowger_schema WHERE component = 'location'")
[[ $version == 1 ]] || fail "strowger_schema says version '$version'"
# The file is one transaction: applied a second time it fails whole and changes nothing.
if psql "$PG_CONNINFO" -q -v ON_ERROR_STOP=1 -f "$schema" >/dev/null 2>&1; then
  fail "applying it twice succeeded"
fi
psql "$PG_CONNINFO" -q -v ON_ERROR_STOP=1 -c \
  "INSERT INTO location (id, aor, contact, expires_at, updated_at)
   VALUES ('0123456789abcdef', 'alice@example.com', 'sip:alice@192.0.2.1', 2000000000, 1)" ||
  fail "inserting a row"

pg_stop || fail "pg_stop"
if psql "$PG_CONNINFO" -Atc "SELECT 1" >/dev/null 2>&1; then
  fail "the server still answers after pg_stop"
fi
pg_restart || fail "pg_restart"
rows=$(psql "$PG_CONNINFO" -Atc "SELECT count(*) FROM location")
[[ $rows == 1 ]] || fail "after the restart the table has $rows rows"

dir=$PG_DIR
pg_cleanup
[[ ! -e $dir ]] || fail "pg_cleanup left $dir"
echo "ok"
