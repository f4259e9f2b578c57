#!/usr/bin/env bash
# Starts Strowger for a bench scenario with the location store in PostgreSQL, write-through:
# bench/configs/SCENARIO.yaml with `storage: memory` replaced. The database is the one
# $STROWGER_BENCH_PG names (a libpq conninfo); start one with tests/support/postgres/pg_harness.sh
# (see docs/performance.md). Its table is emptied first, so every run starts from the same state.
#
#   strowger-pg.sh BINARY SCENARIO WORKERS
set -euo pipefail
binary=$1 scenario=$2 workers=$3
here=$(cd "$(dirname "$0")" && pwd)
: "${STROWGER_BENCH_PG:?set STROWGER_BENCH_PG to the conninfo of a PostgreSQL for the benchmark}"
config=$(mktemp --tmpdir "strowger-pg-$scenario-XXXXXX.yaml")
sed "s|location: { storage: memory }|location: { storage: write_through, database: \"$STROWGER_BENCH_PG\" }|" \
  "$here/configs/$scenario.yaml" > "$config"
grep -q write_through "$config" || { echo "no in-memory location in $scenario.yaml" >&2; exit 1; }
psql "$STROWGER_BENCH_PG" -q -c "DO \$\$ BEGIN IF to_regclass('location') IS NOT NULL THEN TRUNCATE location; END IF; END \$\$;" >/dev/null
exec "$binary" -c "$config" --workers "$workers" --log-level warning
