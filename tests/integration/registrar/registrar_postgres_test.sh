#!/usr/bin/env bash
# The registrar and the location service on a real PostgreSQL (a throwaway server from
# tests/support/postgres/pg_harness.sh, unix socket only), the real daemon between sipp peers:
#   write_through
#     - the daemon applies the schema itself on an empty database; a REGISTER's row is in the table
#       once it is answered 200; after a restart (SIGTERM, same configuration) the binding is
#       loaded back and a call by address of record reaches the phone;
#     - outage: with PostgreSQL stopped REGISTERs are still answered 200 (from memory), the outage
#       is logged once, the statistics say db DOWN with the writes owed; once PostgreSQL is back
#       the owed writes are flushed (the rows appear), the recovery is logged, db up, owed 0;
#   db_only, two daemons sharing the database
#     - a phone registered through A is called through B; unregistered through B, a call through A
#       gets 404; with PostgreSQL stopped a lookup through B gets 500 (and a REGISTER 500), B keeps
#       running, and once PostgreSQL is back calls through B and through A reach the phone again.
#   registrar_postgres_test.sh STROWGER_BIN
# Exit 77 (skipped) without sipp or without PostgreSQL. REGISTRAR_KEEP=1 keeps the scratch
# directory (traces, logs); the database is always removed.
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../lib.sh
. "$here/lib.sh"
# shellcheck source=../stateful_lib.sh
. "$here/stateful_lib.sh"
# shellcheck source=registrar_lib.sh
. "$here/registrar/registrar_lib.sh"
# shellcheck source=../../support/postgres/pg_harness.sh
. "$here/../support/postgres/pg_harness.sh"
require_sipp
if ! pg_available || ! command -v psql >/dev/null; then
  echo "SKIP: PostgreSQL (server binaries, psql) is not installed"
  exit 77
fi

work=$(mktemp -d)
cleanup() {
  stop_peers
  stop_all_named
  pg_cleanup
  if [ -n "${REGISTRAR_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM
started=$(date +%s)

pg_start || fail "the PostgreSQL test server did not start"
# One database per storage mode, in the one server (stopped and started for the outages).
psql "$PG_CONNINFO" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE wt" -c "CREATE DATABASE dbo" ||
  fail "creating the test databases"
wt_db="${PG_CONNINFO/dbname=postgres/dbname=wt}"
dbo_db="${PG_CONNINFO/dbname=postgres/dbname=dbo}"

# sql CONNINFO QUERY: one value (or rows, |-separated), or nothing when the query fails.
sql() { psql "$1" -XtAc "$2" 2>/dev/null; }

read -r proxy_w proxy_a proxy_b uas CALLER_PORT REG_PORT <<<"$(free_ports 6)"

# config FILE PORT STORAGE DATABASE NODE POOL_SIZE
config() {
  cat >"$1" <<YAML
server:
  listen: [ "udp:127.0.0.1:$2" ]
  workers: 2
  log: { level: info }
modules:
  location:
    storage: $3
    database: "$4"
    pool_size: $6
    node: $5
    expiry_interval: 3600
    keepalive: { interval: 0 }
  registrar:
    min_expires: 60
YAML
  registrar_routes >>"$1"
  check_config "$1"
}

# count_lines NAME PATTERN: lines of daemon NAME's log matching PATTERN (grep -c, fixed string).
count_lines() { grep -cF -- "$2" "${NAMED_LOG[$1]}"; }

# =============================== write_through ===============================
config "$work/w.yaml" "$proxy_w" write_through "$wt_db" node-w 2

[ -z "$(sql "$wt_db" "SELECT to_regclass('public.location')")" ] ||
  fail "the database wt is not empty before the first start"
start_named w "$work/w.yaml"
grep -qF "location: storage write_through (PostgreSQL), node node-w" "${NAMED_LOG[w]}" ||
  fail "no 'storage write_through' line in the log"
[ "$(sql "$wt_db" "SELECT version FROM strowger_schema WHERE component = 'location'")" = 1 ] ||
  fail "the daemon did not apply the location schema (version 1) on the empty database"
echo "ok: schema applied by the daemon on the empty database"

reg wt-alice "$proxy_w" alice alice-1@test 1 "Contact: <sip:alice@127.0.0.1:$uas>" \
  "Expires: 3600" --status 200 --contact "sip:alice@127.0.0.1:$uas=3598..3600" --date
# Answered 200 once PostgreSQL has it.
row=$(sql "$wt_db" "SELECT aor, contact, node, cseq FROM location")
[ "$row" = "alice@127.0.0.1|sip:alice@127.0.0.1:$uas|node-w|1" ] ||
  fail "the location table holds '$row', expected alice's binding written by node-w"
echo "ok: wt-row (the binding is in the table when the 200 is sent)"

stop_named w
start_named w "$work/w.yaml"
grep -qF "location: loaded 1 bindings from PostgreSQL" "${NAMED_LOG[w]}" || {
  grep -F "location:" "${NAMED_LOG[w]}"
  fail "the restarted daemon did not load alice's binding back"
}
call_ok wt-call-after-restart "$proxy_w" alice "$uas"

# --- Outage ---
pg_stop || fail "stopping PostgreSQL"
reg wt-outage-carol "$proxy_w" carol carol-1@test 1 "Contact: <sip:carol@127.0.0.1:40041>" \
  "Expires: 3600" --status 200 --contact "sip:carol@127.0.0.1:40041=3598..3600"
reg wt-outage-dave "$proxy_w" dave dave-1@test 1 "Contact: <sip:dave@127.0.0.1:40042>" \
  "Expires: 3600" --status 200 --contact "sip:dave@127.0.0.1:40042=3598..3600"
# The bindings are in memory: alice can still be called.
call_ok wt-call-during-outage "$proxy_w" alice "$uas"
down_line="location: PostgreSQL is unreachable"
[ "$(count_lines w "$down_line")" = 1 ] || {
  grep -F "$down_line" "${NAMED_LOG[w]}"
  fail "the outage is logged $(count_lines w "$down_line") times, expected once"
}
stats w
expect_stats "module location (write_through, PostgreSQL down)" "$LOC_STATS" \
  "storage write_through" "db DOWN" "db_owed 2" "aors 3" "bindings 3"
expect_stats "module registrar (write_through, PostgreSQL down)" "$REG_STATS" "not_durable 2"
echo "ok: wt-outage (200 from memory, logged once; $LOC_STATS)"

pg_restart || fail "starting PostgreSQL again"
flushed() {
  [ "$(sql "$wt_db" "SELECT count(*) FROM location WHERE aor IN ('carol@127.0.0.1', 'dave@127.0.0.1')")" = 2 ]
}
# Reconnecting backs off from 1 s, doubling (30 s at most): the outage was a few seconds.
wait_for 45 "the owed writes reaching PostgreSQL" flushed
recovered() {
  stats w
  case ", $LOC_STATS," in *", db up,"*", db_owed 0,"*) return 0 ;; esac
  return 1
}
wait_for 10 "the statistics saying db up, db_owed 0" recovered
wait_for 5 "the recovery line" grep -qF "location: PostgreSQL is reachable again after" \
  "${NAMED_LOG[w]}"
[ "$(count_lines w "$down_line")" = 1 ] || fail "the outage is logged more than once"
echo "ok: wt-recovery (owed writes flushed; $LOC_STATS)"
stop_named w

# ================================= db_only ==================================
config "$work/a.yaml" "$proxy_a" db_only "$dbo_db" node-a 1
config "$work/b.yaml" "$proxy_b" db_only "$dbo_db" node-b 1
start_named a "$work/a.yaml"
start_named b "$work/b.yaml"

reg dbo-register-via-a "$proxy_a" phone phone-1@test 1 "Contact: <sip:phone@127.0.0.1:$uas>" \
  "Expires: 3600" --status 200 --contact "sip:phone@127.0.0.1:$uas=3598..3600"
call_ok dbo-call-via-b "$proxy_b" phone "$uas"
reg dbo-unregister-via-b "$proxy_b" phone phone-1@test 2 \
  "Contact: <sip:phone@127.0.0.1:$uas>;expires=0" - --status 200 --no-contact
call_refused dbo-call-via-a-unregistered "$proxy_a" phone 404
reg dbo-register-again "$proxy_a" phone phone-1@test 3 "Contact: <sip:phone@127.0.0.1:$uas>" \
  "Expires: 3600" --status 200 --contact "sip:phone@127.0.0.1:$uas=3598..3600"

pg_stop || fail "stopping PostgreSQL"
call_refused dbo-call-via-b-db-down "$proxy_b" phone 500
reg dbo-register-db-down "$proxy_b" phone phone-2@test 1 \
  "Contact: <sip:phone-2@127.0.0.1:40051>" "Expires: 3600" --status 500
alive b || fail "daemon B exited while PostgreSQL was down"
stats b
expect_stats "module location (db_only B, PostgreSQL down)" "$LOC_STATS" "storage db_only" \
  "db DOWN" "lookups 2" "found 1" "lookup_errors 1"
expect_stats "module registrar (db_only B, PostgreSQL down)" "$REG_STATS" "store_failures 1"
echo "ok: dbo-db-down (B answers 500 and keeps running; $LOC_STATS)"

pg_restart || fail "starting PostgreSQL again"
# B reconnects by itself (1 s, 2 s, 4 s... after its failures).
wait_for 45 "daemon B reconnecting" grep -qF "location: PostgreSQL is reachable again" \
  "${NAMED_LOG[b]}"
call_ok dbo-call-via-b-db-back "$proxy_b" phone "$uas"
# A never saw the outage: its connection is stale, and the lookup's retry on a new one gets
# through.
call_ok dbo-call-via-a-db-back "$proxy_a" phone "$uas"
alive a || fail "daemon A exited"
stop_named a
stop_named b
echo "PASS: registrar + location on PostgreSQL ($(($(date +%s) - started)) s)"
