#!/usr/bin/env bash
# The real daemon between two sipp peers on loopback: calls over UDP and over TCP with the
# in-dialog requests following the Record-Route, OPTIONS to the proxy, and Max-Forwards.
#   proxy_sipp_test.sh STROWGER_BIN SCENARIO_DIR
set -uo pipefail
bin=$1
scenarios=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
command -v sipp >/dev/null || fail "sipp is not installed (Debian package sip-tester)"

work=$(mktemp -d)
cleanup() {
  stop_daemon >/dev/null 2>&1
  pkill -P $$ sipp 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

read -r proxy uas caller <<<"$(free_ports 3)"
cat >"$work/strowger.yaml" <<YAML
server:
  listen: [ "udp:127.0.0.1:$proxy", "tcp:127.0.0.1:$proxy" ]
  workers: 2
  log: { level: info }
routes:
  request:
    - if: { method: OPTIONS, addressed_to_me: true }
      then: [ { reply: [200, "OK"] } ]
    - if: { has_to_tag: true }
      then: [ loose_route, forward ]
    - record_route
    - forward
YAML
start_daemon "$bin" "$work/strowger.yaml" "$work/strowger.log" || fail "daemon did not start"

# run_pair NAME TRANSPORT CALLS UAS_SCENARIO UAC_SCENARIO: a sipp UAS and a sipp UAC; both must
# finish every call successfully within 30 s.
run_pair() {
  local name=$1 transport=$2 calls=$3 uas_sf=$4 uac_sf=$5 suffix=""
  [ "$transport" = t1 ] && suffix=";transport=tcp"
  timeout 30 sipp -sf "$scenarios/$uas_sf" -i 127.0.0.1 -p "$uas" -t "$transport" -m "$calls" \
    -nostdin -timeout 25s -timeout_error -trace_err -error_file "$work/$name-uas.err" \
    >"$work/$name-uas.out" 2>&1 &
  local uas_pid=$!
  sleep 0.3
  timeout 30 sipp "127.0.0.1:$proxy" -sf "$scenarios/$uac_sf" -i 127.0.0.1 -p "$caller" \
    -t "$transport" -s alice -key callee "127.0.0.1:$uas$suffix" -m "$calls" -r 5 \
    -nostdin -timeout 25s -timeout_error -trace_err -error_file "$work/$name-uac.err" \
    >"$work/$name-uac.out" 2>&1
  local uac_rc=$?
  wait "$uas_pid"
  local uas_rc=$?
  if [ $uac_rc -ne 0 ] || [ $uas_rc -ne 0 ]; then
    echo "--- $name: caller exit $uac_rc, callee exit $uas_rc"
    cat "$work/$name-uac.err" "$work/$name-uas.err" 2>/dev/null | tail -40
    tail -20 "$work/strowger.log"
    fail "$name"
  fi
  echo "ok: $name ($calls)"
}

run_pair "call over UDP" u1 5 uas_call.xml uac_call.xml
run_pair "call over TCP" t1 5 uas_call.xml uac_call.xml
run_pair "Max-Forwards 0 and 1" u1 1 uas_message.xml max_forwards.xml

timeout 15 sipp "127.0.0.1:$proxy" -sf "$scenarios/options_self.xml" -i 127.0.0.1 -p "$caller" \
  -m 1 -nostdin -timeout 10s -timeout_error >"$work/options.out" 2>&1 || {
  cat "$work/options.out" | tail -20; fail "OPTIONS to the proxy"; }
echo "ok: OPTIONS to the proxy"

kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died"
stop_daemon || fail "the daemon did not stop cleanly"
grep -q "statistics:" "$work/strowger.log" || fail "no statistics line at stop"
echo "PASS"
