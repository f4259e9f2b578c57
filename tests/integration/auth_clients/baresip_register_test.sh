#!/usr/bin/env bash
# A real SIP phone, baresip, against the auth module in the real daemon on loopback
# (location + registrar + auth, `auth.require` before `registrar.save`; calls need
# `auth.require` and `auth.check_from`, then `location.lookup`):
#   - register: baresip (headless: no UI module, no audio device, a configuration directory of
#     its own) registers alice with her password. Its log reports the registrar's 200 OK; the
#     daemon's statistics show one binding, one challenge answered (auth successes) and no
#     failure.
#   - call: sipp calls alice as bob, authenticating with MD5 after the proxy's 401 (the
#     Request-URI names the proxy itself). The INVITE reaches baresip (its SIP trace shows it,
#     with X-Auth-User: bob and without the caller's Authorization); baresip answers it (auto answer) with 200, the call is acknowledged
#     and hung up along the recorded route.
#   - unregister: baresip, told to quit, removes its binding (an authenticated REGISTER with
#     Expires 0): the daemon's statistics show no binding left.
#   - wrong password: a second baresip registers bob with a wrong password. It is challenged
#     again after each attempt, and retries at once, until the ban (10 failures) refuses it with
#     403 and the daemon logs "auth: ban user=bob@127.0.0.1 ..."; it is never registered (no
#     200 OK in its log) and the daemon has no binding.
#   baresip_register_test.sh STROWGER_BIN
# The daemon offers MD5 alone: baresip 1.0.0, the Debian 12 package, cannot register when a
# SHA-256 challenge is offered at all (see the configuration below).
# Exit 77 (skipped) without baresip or sipp. CLIENTS_KEEP=1 keeps the scratch directory.
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
# shellcheck source=clients_lib.sh
. "$here/clients_lib.sh"
require_tool baresip "baresip-core"
require_tool sipp "sip-tester"
require_modules auth location registrar

work=$(mktemp -d)
PHONE_PIDS=()
# stop_pid PID SECONDS: SIGTERM, and SIGKILL if PID still runs SECONDS later. Status 1 when it
# had to be killed.
stop_pid() {
  local pid=$1 tenths=$(($2 * 10)) rc=0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 "$tenths"); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    rc=1
  fi
  wait "$pid" 2>/dev/null
  return $rc
}
cleanup() {
  local pid
  for pid in "${PHONE_PIDS[@]}"; do
    stop_pid "$pid" 5
  done
  stop_daemon >/dev/null 2>&1
  if [ -n "${CLIENTS_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

read -r proxy alice_sip bob_sip caller_port media_port <<<"$(free_ports 5)"
cat >"$work/strowger.yaml" <<YAML
server:
  listen: [ "udp:127.0.0.1:$proxy" ]
  workers: 2
  log: { level: info }
modules:
  location:
    storage: memory
    keepalive: { interval: 0 }
  registrar: {}
  auth:
    # baresip 1.0.0 (libre 1.1) refuses a 401 that holds any challenge but MD5 ("Register:
    # Function not implemented"), whichever header comes first: offer MD5 alone.
    algorithms: [MD5]
    secret: "a-test-secret-that-is-long-enough"
    users:
      - { user: alice, domain: 127.0.0.1, password: alice-secret }
      - { user: bob, domain: 127.0.0.1, password: bob-secret }
routes:
  request:
    - if: { has_to_tag: true }
      then:
        - if: { loose_route: true }
          then: [ relay ]
        - if: { method: ACK }
          then: [ drop ]
        - { reply: [404, "Not Here"] }
    - if: { method: ACK }
      then: [ drop ]
    - if: { method: CANCEL }
      then: [ relay ]
    - if: { method: REGISTER }
      then: [ auth.require, registrar.save ]
    - auth.require: { user_header: X-Auth-User }
    - auth.check_from
    - record_route
    - location.lookup
    - relay
YAML
check_config "$work/strowger.yaml"
DAEMON_LOG="$work/daemon.log"
: >"$DAEMON_LOG"  # start_daemon greps it, maybe before the daemon has opened it
start_daemon "$bin" "$work/strowger.yaml" "$DAEMON_LOG" || fail "the daemon did not start"

# start_phone NAME SIP_PORT ACCOUNT_LINE: baresip in the background with a configuration
# directory of its own ($work/NAME), listening on 127.0.0.1:SIP_PORT, its SIP trace (-s) and log
# in $work/NAME.log. No audio device: aubridge is both source and player. No UI module reads the
# terminal; menu only prints the events (registration, calls) to the log. It quits by itself after 120 s (-t), and the EXIT trap stops it in any case.
start_phone() {
  local name=$1 port=$2 account=$3 dir="$work/$1"
  mkdir -p "$dir"
  cat >"$dir/config" <<CONFIG
poll_method		epoll
sip_listen		127.0.0.1:$port
call_local_timeout	30
call_max_calls		2
audio_player		aubridge,nil
audio_source		aubridge,nil
audio_alert		aubridge,nil
module_path		/usr/lib/baresip/modules
module			g711.so
module			aubridge.so
module_tmp		account.so
module_app		menu.so
CONFIG
  echo "$account" >"$dir/accounts"
  : >"$dir/contacts"
  baresip -f "$dir" -s -t 120 </dev/null >"$work/$name.log" 2>&1 &
  PHONE_PIDS+=("$!")
  eval "${name}_pid=\$!"
}

# stop_phone NAME: SIGTERM; baresip unregisters, then exits, within 10 s.
stop_phone() {
  local pid_var="${1}_pid" pid others=()
  for pid in "${PHONE_PIDS[@]}"; do
    [ "$pid" = "${!pid_var}" ] || others+=("$pid")
  done
  PHONE_PIDS=("${others[@]}")
  stop_pid "${!pid_var}" 10 || fail "$1: baresip did not quit within 10 s of SIGTERM"
}

# registered NAME: the phone's log reports the registrar's 200 OK.
registered() {
  grep -qE '\b200 OK\b.*\[[0-9]+ binding' "$work/$1.log"
}

show_phone() {
  echo "--- $1 (last lines):"
  tail -n 40 "$work/$1.log"
  echo "--- daemon log (last lines):"
  tail -n 20 "$DAEMON_LOG"
}

# --- register
start_phone alice "$alice_sip" \
  "<sip:alice@127.0.0.1:$proxy>;auth_pass=alice-secret;regint=300;answermode=auto"
poll_until 15 registered alice || {
  show_phone alice
  fail "register: baresip did not report 200 OK"
}
grep -q '^SIP/2.0 401 Unauthorized' "$work/alice.log" ||
  fail "register: baresip did not see the 401 challenge first"
grep -qE '^(Authorization|authorization): Digest ' "$work/alice.log" ||
  fail "register: baresip sent no Authorization"
expect_stat location bindings -eq 1
expect_stat auth successes -ge 1
expect_stat auth failures -eq 0
echo "ok: register (baresip 200 OK, 1 binding)"

# phone_messages NAME sent|received: the first line and the CSeq of every SIP message in the
# phone's trace (-s) that it sent or received, one "START-LINE | CSEQ" line each. baresip prints
# each message after a line "UDP FROM -> TO".
phone_messages() {
  local name=$1 direction=$2 port_var="${1}_sip"
  awk -v me="127.0.0.1:${!port_var}" -v direction="$direction" '
    /^UDP [0-9.:]+ -> [0-9.:]+$/ {
      mine = (direction == "sent") ? ($2 == me) : ($4 == me)
      getline start
      start_line = start
      next
    }
    mine && /^CSeq:/ { print start_line " | " $0; mine = 0 }
  ' "$work/$name.log" | tr -d '\r'
}

# --- call: sipp calls alice as bob through the proxy; baresip answers.
timeout 40 sipp "127.0.0.1:$proxy" -sf "$here/scenarios/call_auth_sdp.xml" -p "$caller_port" \
  -mp "$media_port" -s alice -key caller bob -key callee "127.0.0.1:$proxy" \
  -au bob -ap bob-secret -auth_uri "alice@127.0.0.1:$proxy" -i 127.0.0.1 -t u1 -m 1 -nostdin \
  -timeout 30s -timeout_error -recv_timeout 10000 -trace_msg -message_file "$work/call.msg" \
  -trace_err -error_file "$work/call.err" >"$work/call.out" 2>&1
rc=$?
[ $rc -eq 0 ] || {
  tail -n 20 "$work/call.out"
  cat "$work/call.err" 2>/dev/null
  show_phone alice
  fail "call: the caller did not complete the call (sipp exit $rc)"
}
grep -q '^SIP/2.0 401 ' "$work/call.msg" || fail "call: the proxy did not challenge the INVITE"
grep -q '^Authorization: Digest username="bob"' "$work/call.msg" ||
  fail "call: sipp sent no Authorization"
# The INVITE as baresip received it (its SIP trace): from the proxy, authenticated as bob, with
# the caller's credentials removed.
invite=$(awk '/^INVITE sip:/{p=1} p&&/^$/{exit} p' "$work/alice.log")
[ -n "$invite" ] || {
  show_phone alice
  fail "call: the INVITE never reached baresip"
}
echo "$invite" | grep -q '^X-Auth-User: bob' || {
  echo "$invite"
  fail "call: the INVITE reached baresip without X-Auth-User: bob"
}
if echo "$invite" | grep -qiE '^(Proxy-)?Authorization:'; then
  echo "$invite"
  fail "call: the INVITE reached baresip with the caller's credentials"
fi
phone_messages alice sent | grep -qE '^SIP/2.0 200 .* \| CSeq: 2 INVITE$' || {
  phone_messages alice sent
  fail "call: baresip did not answer the INVITE with 200"
}
grep -q 'Call established' "$work/alice.log" || {
  show_phone alice
  fail "call: baresip does not report the call established (no ACK?)"
}
phone_messages alice received | grep -qE '^BYE sip:.* \| CSeq: 3 BYE$' || {
  phone_messages alice received
  fail "call: the BYE never reached baresip"
}
phone_messages alice sent | grep -qE '^SIP/2.0 200 .* \| CSeq: 3 BYE$' ||
  fail "call: baresip did not answer the BYE"
echo "ok: call (401, then the INVITE reaches baresip and is answered)"

# --- unregister: baresip removes its binding when it quits.
stop_phone alice
expect_stat location bindings -eq 0
echo "ok: unregister (no binding left)"

# --- wrong password: bob's phone is challenged again and again, never registered.
start_phone bob "$bob_sip" \
  "<sip:bob@127.0.0.1:$proxy>;auth_pass=not-bobs-password;regint=300;answermode=auto"
# baresip 1.0.0 answers every new challenge at once, so with a wrong password it fails again
# and again until the ban (threshold 10 by default, per source and per user) answers 403, which
# ends its attempts. Since every peer of this test shares 127.0.0.1, this comes last.
bob_banned() {
  phone_messages bob received | grep -qE '^SIP/2.0 403 .* REGISTER$'
}
poll_until 15 bob_banned || {
  show_phone bob
  fail "wrong password: baresip was not refused (403) within 15 s"
}
[ "$(phone_messages bob received | grep -c '^SIP/2.0 401 .* REGISTER$')" -ge 2 ] || {
  show_phone bob
  fail "wrong password: baresip was not challenged again after its first attempt"
}
if registered bob; then
  show_phone bob
  fail "wrong password: baresip reports a registration"
fi
grep -qF "auth: ban user=bob@127.0.0.1 reason=failures count=10 window=60s duration=600s" \
  "$DAEMON_LOG" || fail "wrong password: the daemon did not log the ban of bob"
stop_phone bob
expect_stat auth failures -eq 10
expect_stat location bindings -eq 0
echo "ok: wrong password (401 again and again, then 403 from the ban; no binding)"

stop_daemon || fail "the daemon did not stop cleanly"
echo "PASS"
