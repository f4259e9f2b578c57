#!/usr/bin/env bash
# The registrar and the location service with memory storage, the real daemon between sipp peers
# on loopback (RFC 3261 §10.3):
#   - REGISTER answered exactly: a binding (200 listing the Contact with its expires, and a Date),
#     refreshed by a higher CSeq (still one binding), a second contact (both listed), one removed
#     with expires=0 (the other listed), `Contact: *` with Expires 0 (200 with no Contact), `*`
#     with a non-zero Expires (400), an interval below min_expires (423 with Min-Expires), an
#     older CSeq of the same Call-ID (500), a contact past max_contacts (403 with reject; with
#     drop_oldest accepted, the least recently updated binding gone);
#   - calls by address of record: to a sipp phone that registered (UDP), to a phone registered
#     over TCP (the INVITE comes back over its connection), to an unknown user (404), to one who
#     unregistered with `*` (404: forgotten), to one who only queried or was refused (404: a
#     REGISTER that stores nothing leaves nothing behind), to one whose binding expired but is
#     still remembered (480), and to one whose expired binding the expiry timer swept away (404);
#   - SIGUSR1: the "module location:" and "module registrar:" statistics lines, counts checked.
#   registrar_memory_test.sh STROWGER_BIN
# Exit 77 (skipped) without sipp. REGISTRAR_KEEP=1 keeps the scratch directory (traces, logs).
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../lib.sh
. "$here/lib.sh"
# shellcheck source=../stateful_lib.sh
. "$here/stateful_lib.sh"
# shellcheck source=registrar_lib.sh
. "$here/registrar/registrar_lib.sh"
require_sipp

work=$(mktemp -d)
cleanup() {
  stop_peers
  [ -n "${PHONE_PID:-}" ] && kill "$PHONE_PID" 2>/dev/null
  stop_all_named
  if [ -n "${REGISTRAR_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM
started=$(date +%s)

# Three proxies (reject, drop_oldest, a fast expiry timer), the sipp phone, the caller, the sipp
# that registers.
read -r proxy_a proxy_b proxy_c uas CALLER_PORT REG_PORT <<<"$(free_ports 6)"

# config FILE PORT LOCATION_EXTRA REGISTRAR_EXTRA: a proxy that registers phones and calls them by
# address of record.
config() {
  cat >"$1" <<YAML
server:
  listen: [ "udp:127.0.0.1:$2", "tcp:127.0.0.1:$2" ]
  workers: 2
  log: { level: info }
modules:
  location:
    storage: memory
    keepalive: { interval: 0 }
$3
  registrar:
$4
YAML
  registrar_routes >>"$1"
  check_config "$1"
}

# A: min_expires 60, two contacts at most, a third refused; the expiry timer (hourly) stays out
# of the way, so that what a lookup finds depends only on the requests.
config "$work/a.yaml" "$proxy_a" "    expiry_interval: 3600" "$(cat <<'YAML'
    default_expires: 3600
    min_expires: 60
    max_expires: 7200
    max_contacts: 2
    on_max_contacts: reject
YAML
)"
# B: drop_oldest; min_expires 1 so that a binding can expire within the test.
config "$work/b.yaml" "$proxy_b" "    expiry_interval: 3600" "$(cat <<'YAML'
    default_expires: 60
    min_expires: 1
    max_expires: 7200
    max_contacts: 2
    on_max_contacts: drop_oldest
YAML
)"
# C: the expiry timer every second.
config "$work/c.yaml" "$proxy_c" "    expiry_interval: 1" "$(cat <<'YAML'
    default_expires: 60
    min_expires: 1
    max_expires: 7200
YAML
)"

start_named a "$work/a.yaml"

# Contacts that are never called (nothing listens there); the phones below are the sipp callee.
desk="sip:alice-desk@127.0.0.1:40001"
mobile="sip:alice-mobile@127.0.0.1:40002"
laptop="sip:alice-laptop@127.0.0.1:40003"

# --- REGISTER, answered exactly (proxy A) ---
reg register "$proxy_a" alice desk-1@test 1 "Contact: <$desk>" "Expires: 120" \
  --status 200 --contact "$desk=118..120" --date
reg refresh "$proxy_a" alice desk-1@test 2 "Contact: <$desk>" "Expires: 300" \
  --status 200 --contact "$desk=298..300" --date
reg second-contact "$proxy_a" alice mobile-1@test 1 "Contact: <$mobile>" "Expires: 200" \
  --status 200 --contact "$desk=280..300" --contact "$mobile=198..200" --date
reg unregister-one "$proxy_a" alice mobile-1@test 2 "Contact: <$mobile>;expires=0" - \
  --status 200 --contact "$desk=280..300" --date
# The desk's last REGISTER had CSeq 2 of this Call-ID: CSeq 1 again is out of order.
reg older-cseq "$proxy_a" alice desk-1@test 1 "Contact: <$desk>" "Expires: 600" --status 500
reg query-unchanged "$proxy_a" alice query-1@test 1 - - \
  --status 200 --contact "$desk=280..300" --date
reg too-brief "$proxy_a" alice laptop-1@test 1 "Contact: <$laptop>" "Expires: 30" \
  --status 423 --header "Min-Expires: 60" --no-contact
reg star-nonzero "$proxy_a" alice desk-1@test 3 "Contact: *" "Expires: 300" --status 400
reg mobile-again "$proxy_a" alice mobile-1@test 3 "Contact: <$mobile>" "Expires: 300" \
  --status 200 --contact "$desk=280..300" --contact "$mobile=298..300"
reg third-contact-rejected "$proxy_a" alice laptop-1@test 2 "Contact: <$laptop>" "Expires: 300" \
  --status 403
reg query-two "$proxy_a" alice query-1@test 2 - - \
  --status 200 --contact "$desk=280..300" --contact "$mobile=280..300"
reg star-removes-all "$proxy_a" alice desk-1@test 4 "Contact: *" "Expires: 0" \
  --status 200 --no-contact --date
reg query-none "$proxy_a" alice query-1@test 3 - - --status 200 --no-contact

# --- Calls by address of record (proxy A) ---
reg bob "$proxy_a" bob bob-1@test 1 "Contact: <sip:bob@127.0.0.1:$uas>" "Expires: 300" \
  --status 200 --contact "sip:bob@127.0.0.1:$uas=298..300"
call_ok call-bob "$proxy_a" bob "$uas"
call_refused call-unknown "$proxy_a" nobody 404
# alice removed all her bindings with `*`: unregistered, she is forgotten at once ("not found",
# not "all expired", which is for bindings that lapsed).
call_refused call-alice-removed "$proxy_a" alice 404
# A REGISTER that stores nothing (a query, or one refused as a whole) leaves no trace of an AOR
# that had no bindings: calls to it are still "not found".
reg ghost-query "$proxy_a" ghost ghost-1@test 1 - - --status 200 --no-contact --date
reg ghost-refused "$proxy_a" ghost2 ghost2-1@test 1 \
  "Contact: <sip:g1@127.0.0.1:40061>, <sip:g2@127.0.0.1:40062>, <sip:g3@127.0.0.1:40063>" \
  "Expires: 300" --status 403
call_refused call-ghost-queried "$proxy_a" ghost 404
call_refused call-ghost-refused "$proxy_a" ghost2 404

# A phone registered over TCP is called over the connection it registered on (its Contact names
# a port where nothing listens), by a caller over TCP and by one over UDP.
for caller_transport in t1 u1; do
  begin "call-tcp-phone-$caller_transport"
  rm -f "$work/tcp-phone.ready"
  python3 "$here/registrar/tcp_phone.py" "$proxy_a" "tcpbob-$caller_transport" \
    "$work/tcp-phone.ready" 20 >"$work/tcp-phone-$caller_transport.out" 2>&1 &
  PHONE_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$work/tcp-phone.ready" ] && break
    kill -0 "$PHONE_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$work/tcp-phone.ready" ] || {
    cat "$work/tcp-phone-$caller_transport.out"
    test_failed "the TCP phone did not register within 10 s"
  }
  uac caller "$proxy_a" "$CALLER_PORT" "$caller_transport" 1 uac_call.xml \
    "tcpbob-$caller_transport" "127.0.0.1:$proxy_a"
  caller_rc=$?
  wait "$PHONE_PID"
  phone_rc=$?
  PHONE_PID=
  if [ $caller_rc -ne 0 ] || [ $phone_rc -ne 0 ]; then
    echo "--- the TCP phone:"
    cat "$work/tcp-phone-$caller_transport.out"
    test_failed "call to the phone registered over TCP: caller exit $caller_rc, phone exit $phone_rc"
  fi
  passed "INVITE, ACK and BYE over the registration's TCP connection"
done

# --- Statistics (proxy A): 18 REGISTERs (the TCP phones' two included), 5 refused (500, 423,
# 400, 403, 403); bob and the two TCP phones; 7 lookups: bob and the TCP phones found, nobody,
# alice, ghost and ghost2 not found.
stats a
expect_stats "module location (A)" "$LOC_STATS" "storage memory" "aors 3" "bindings 3" \
  "expired 0" "lookups 7" "found 3" "not_found 4" "all_expired 0" "lookup_errors 0"
expect_stats "module registrar (A)" "$REG_STATS" "registers 18" "accepted 13" "refused 5" \
  "store_failures 0"
echo "ok: statistics A: $LOC_STATS / $REG_STATS"

# --- drop_oldest (proxy B): the third contact is accepted and the least recently updated one
# goes, even though it would expire last. Each REGISTER in a second of its own: the bindings'
# update times are whole seconds.
start_named b "$work/b.yaml"
next_second() {
  local now
  now=$(date +%s)
  while [ "$(date +%s)" -le "$now" ]; do sleep 0.05; done
}
reg drop-first "$proxy_b" carol carol-desk@test 1 "Contact: <sip:carol-desk@127.0.0.1:40011>" \
  "Expires: 3000" --status 200 --contact "sip:carol-desk@127.0.0.1:40011=2998..3000"
next_second
reg drop-second "$proxy_b" carol carol-mobile@test 1 \
  "Contact: <sip:carol-mobile@127.0.0.1:40012>" "Expires: 300" --status 200 \
  --contact "sip:carol-desk@127.0.0.1:40011=2980..3000" \
  --contact "sip:carol-mobile@127.0.0.1:40012=298..300"
next_second
reg drop-third "$proxy_b" carol carol-laptop@test 1 \
  "Contact: <sip:carol-laptop@127.0.0.1:40013>" "Expires: 300" --status 200 \
  --contact "sip:carol-mobile@127.0.0.1:40012=280..300" \
  --contact "sip:carol-laptop@127.0.0.1:40013=298..300"

# --- An expired binding still remembered (proxy B, expiry timer hourly): 480. ---
reg short "$proxy_b" erin erin-1@test 1 "Contact: <sip:erin@127.0.0.1:40021>" "Expires: 1" \
  --status 200 --contact "sip:erin@127.0.0.1:40021=0..1"
# Expired once the clock has passed the second the binding was saved in plus its 1 s.
registered_at=$(date +%s)
clock_past() { [ "$(date +%s)" -ge "$1" ]; }
wait_for 3 "erin's binding expiring" clock_past $((registered_at + 1))
call_refused call-erin-expired "$proxy_b" erin 480
stats b
expect_stats "module location (B)" "$LOC_STATS" "aors 2" "bindings 3" "expired 0" "lookups 1" \
  "found 0" "not_found 0" "all_expired 1"
expect_stats "module registrar (B)" "$REG_STATS" "registers 4" "accepted 4" "refused 0"
echo "ok: statistics B: $LOC_STATS / $REG_STATS"

# --- The expiry timer (proxy C, every second) removes the expired binding and, with its last
# binding, the AOR itself: the lookup then says 404, not 480. ---
start_named c "$work/c.yaml"
reg short-swept "$proxy_c" frank frank-1@test 1 "Contact: <sip:frank@127.0.0.1:40031>" \
  "Expires: 1" --status 200 --contact "sip:frank@127.0.0.1:40031=0..1"
swept() {
  stats c
  [ "$(stat_value "$LOC_STATS" expired)" = 1 ]
}
wait_for 5 "the expiry timer removing frank's binding" swept
expect_stats "module location (C)" "$LOC_STATS" "aors 0" "bindings 0" "expired 1"
call_refused call-frank-swept "$proxy_c" frank 404
stats c
expect_stats "module location (C)" "$LOC_STATS" "lookups 1" "not_found 1" "all_expired 0"
echo "ok: statistics C: $LOC_STATS / $REG_STATS"

for name in a b c; do
  stop_named "$name"
done
echo "PASS: registrar + location, memory storage ($(($(date +%s) - started)) s)"
