#!/usr/bin/env bash
# Transaction-stateful proxying (RFC 3261 §16, §17), the real daemon between sipp peers on
# loopback: a full call over UDP and TCP; CANCEL while ringing (UDP and TCP); a busy callee with a
# failure route to a second callee; a callee that never answers (408 after fr_timeout) and one that
# only sends 100 (CANCEL and 408 after fr_inv_timeout); an INVITE retransmitted to a slow callee
# (timer A); parallel forking with the losing branch CANCELled; and a caller's retransmissions of
# an INVITE and of a MESSAGE absorbed by the proxy and answered with its latest response.
#   stateful_sipp_test.sh STROWGER_BIN SCENARIO_DIR      (SCENARIO_DIR: tests/integration/scenarios)
# Exit 77 (skipped) without sipp. STATEFUL_KEEP=1 keeps the scratch directory (traces, daemon log).
# The scenarios themselves are checked without the daemon by stateful_scenarios_check.sh.
set -uo pipefail
bin=$1
scenarios=$2/stateful
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=stateful_lib.sh
. "$here/stateful_lib.sh"
require_sipp

work=$(mktemp -d)
cleanup() {
  stop_peers
  stop_daemon >/dev/null 2>&1
  if [ -n "${STATEFUL_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

# The proxy, the first and the second callee, the caller.
read -r proxy uas1 uas2 caller <<<"$(free_ports 4)"
# Timers: T1 500 ms (timer A at 0.5 s, 1.5 s, 3.5 s...); a branch with no reply at all ends with
# 408 after fr_timeout; an INVITE branch with only provisional replies is CANCELled and ends with
# 408 after fr_inv_timeout. Every callee here that does answer does so well within both.
fr_timeout=2500
fr_inv_timeout=3000
cat >"$work/strowger.yaml" <<YAML
server:
  listen: [ "udp:127.0.0.1:$proxy", "tcp:127.0.0.1:$proxy" ]
  workers: 2
  log: { level: info }
  transactions:
    t1: 500
    fr_timeout: $fr_timeout
    fr_inv_timeout: $fr_inv_timeout
routes:
  request:
    - if: { has_to_tag: true }
      then: [ { route: in_dialog } ]
    - record_route
    - if: { ruri.user: "fork" }
      then:
        - append_branch: "sip:fork@127.0.0.1:$uas2"
    - on_failure: next_callee
    # To the Request-URI, which names the callee (and ;transport=tcp for TCP).
    - relay
  in_dialog:
    - if: { loose_route: true }
      then: [ relay ]
    - reply: [404, "Not Here"]
  failure:
    next_callee:
      - if: { reply.code: 486 }
        then: [ { relay: { to: "sip:127.0.0.1:$uas2" } } ]
YAML
DAEMON_LOG="$work/strowger.log"
if ! "$bin" --check-config "$work/strowger.yaml" >"$work/check-config.out" 2>&1; then
  cat "$work/check-config.out"
  fail "the daemon refuses the stateful configuration (relay, append_branch, on_failure, failure routes, server.transactions)"
fi
start_daemon "$bin" "$work/strowger.yaml" "$DAEMON_LOG" || fail "daemon did not start"

tcp_suffix() { [ "$1" = t1 ] && echo ";transport=tcp"; }

# 1. A full call, five calls over UDP and over TCP: INVITE/100/180/200/ACK/BYE/200.
for transport in u1 t1; do
  begin "call-$transport"
  uas callee "$uas1" "$transport" 5 uas_call.xml
  uac caller "$proxy" "$caller" "$transport" 5 uac_call.xml alice "127.0.0.1:$uas1$(tcp_suffix $transport)"
  finish $?
  # The callee answered 100 at once, so the proxy had no reason to retransmit the INVITE.
  expect_count callee recv '^INVITE ' - 5 "INVITEs at the callee"
  expect_count callee recv '^ACK ' - 5 "ACKs (end to end) at the callee"
  expect_count callee recv '^BYE ' - 5 "BYEs at the callee"
  expect_count caller recv '^SIP/2.0 200 ' INVITE 5 "200s for the INVITEs at the caller"
  passed "5 calls"
done

# 2. CANCEL while it rings, over UDP and TCP: the proxy answers the CANCEL 200 itself, CANCELs the
#    branch (the callee answers 200 and 487), ACKs the 487 hop by hop and passes the 487 on; the
#    caller's ACK for the 487 stays at the proxy.
for transport in u1 t1; do
  begin "cancel-$transport"
  uas callee "$uas1" "$transport" 2 uas_ring.xml
  uac caller "$proxy" "$caller" "$transport" 2 uac_cancel.xml alice "127.0.0.1:$uas1$(tcp_suffix $transport)"
  finish $?
  expect_count callee recv '^INVITE ' - 2 "INVITEs at the callee"
  expect_count callee recv '^CANCEL ' - 2 "CANCELs at the callee"
  expect_count callee recv '^ACK ' - 2 "ACKs at the callee (the proxy's for the 487s, not the caller's)"
  expect_hop_by_hop callee CANCEL
  expect_hop_by_hop callee ACK
  expect_count caller recv '^SIP/2.0 487 ' INVITE 2 "487s at the caller"
  passed "2 calls"
done

# 3. The first callee is busy: the failure route relays the INVITE to the second callee, which
#    answers. The caller never sees the 486; the first callee gets the proxy's ACK for it.
begin busy-failover
uas busy "$uas1" u1 2 uas_busy.xml
uas callee "$uas2" u1 2 uas_call.xml
uac caller "$proxy" "$caller" u1 2 uac_call.xml busy "127.0.0.1:$uas1"
finish $?
expect_count busy recv '^INVITE ' - 2 "INVITEs at the busy callee"
expect_hop_by_hop busy ACK
expect_count caller recv '^SIP/2.0 486 ' - 0 "486s at the caller"
expect_count callee recv '^INVITE ' - 2 "INVITEs at the second callee"
expect_count callee recv '^BYE ' - 2 "BYEs at the second callee"
passed "2 calls"

# 4a. A callee that never answers at all: the proxy retransmits the INVITE (0.5 s, 1.5 s), gives
#     up after fr_timeout with 408 to the caller, stops retransmitting, and sends no CANCEL (no
#     provisional response came; RFC 3261 §9.1); the callee's scenario fails on a CANCEL.
begin no-answer
uas callee "$uas1" u1 1 uas_silent.xml
uac caller "$proxy" "$caller" u1 1 uac_timeout.xml alice "127.0.0.1:$uas1"
finish $?
expect_count callee recv '^INVITE ' - 3 "INVITEs at the silent callee (the INVITE and its retransmissions at 0.5 s and 1.5 s; none after the 408)"
expect_count callee recv '^CANCEL ' - 0 "CANCELs at the silent callee"
expect_count caller recv '^SIP/2.0 408 ' - 1 "408s at the caller (again would mean the ACK was not absorbed)"
delay=$($TRACE "$work/no-answer-caller.msg" delay '^INVITE ' '^SIP/2.0 408 ')
expect_between "408 after the INVITE (ms; fr_timeout $fr_timeout)" "$delay" $((fr_timeout - 100)) $((fr_timeout + 1000))
passed "408 after $delay ms"

# 4b. A callee that sends 100 and nothing more: after fr_inv_timeout the proxy CANCELs the branch
#     (the callee answers 200 and 487 and gets the proxy's ACK) and answers the caller 408.
begin trying-only
uas callee "$uas1" u1 1 uas_trying.xml
uac caller "$proxy" "$caller" u1 1 uac_timeout.xml alice "127.0.0.1:$uas1"
finish $?
expect_count callee recv '^INVITE ' - 1 "INVITEs at the callee"
expect_count callee recv '^CANCEL ' - 1 "CANCELs at the callee"
expect_hop_by_hop callee CANCEL
expect_hop_by_hop callee ACK
expect_count caller recv '^SIP/2.0 487 ' - 0 "487s at the caller (the caller is owed a 408)"
expect_count caller recv '^SIP/2.0 408 ' - 1 "408s at the caller (again would mean the ACK was not absorbed)"
delay=$($TRACE "$work/trying-only-caller.msg" delay '^INVITE ' '^SIP/2.0 408 ')
expect_between "408 after the INVITE (ms; fr_inv_timeout $fr_inv_timeout)" "$delay" $((fr_inv_timeout - 100)) $((fr_inv_timeout + 1500))
passed "408 after $delay ms"

# 5. Retransmission by the proxy (timer A, UDP): the callee ignores the INVITE for 1.8 s, as if
#    the first two had been lost; the proxy sends it again after T1 and 2*T1 more, and the call
#    then completes.
begin timer-a
uas callee "$uas1" u1 1 uas_slow.xml
uac caller "$proxy" "$caller" u1 1 uac_call.xml alice "127.0.0.1:$uas1"
finish $?
expect_count callee recv '^INVITE ' - 3 "INVITEs at the slow callee (the INVITE and two retransmissions)"
gaps=$($TRACE "$work/timer-a-callee.msg" gaps recv '^INVITE ' | paste -sd ' ')
read -r gap1 gap2 <<<"$gaps"
expect_between "first retransmission of the INVITE after (ms; T1)" "$gap1" 400 750
expect_between "second retransmission after the first (ms; 2*T1)" "$gap2" 850 1350
expect_count caller sent '^INVITE ' - 1 "INVITEs sent by the caller (the proxy's 100 stops its retransmissions)"
passed "retransmitted after $gaps ms"

# 6. Parallel forking: the Request-URI's callee (uas1) rings and answers; the appended branch
#    (uas2) rings and is CANCELled by the proxy once the 200 came. The caller gets one 200 per
#    call and never the 487.
begin fork
uas winner "$uas1" u1 2 uas_call.xml
uas loser "$uas2" u1 2 uas_ring.xml
uac caller "$proxy" "$caller" u1 2 uac_call.xml fork "127.0.0.1:$uas1"
finish $?
expect_count winner recv '^INVITE ' - 2 "INVITEs at the answering callee"
expect_count loser recv '^INVITE ' - 2 "INVITEs at the ringing callee"
expect_count loser recv '^CANCEL ' - 2 "CANCELs at the ringing callee"
expect_hop_by_hop loser CANCEL
expect_hop_by_hop loser ACK
expect_count caller recv '^SIP/2.0 200 ' INVITE 2 "200s for the INVITEs at the caller"
expect_count caller recv '^SIP/2.0 487 ' - 0 "487s at the caller"
expect_count winner recv '^BYE ' - 2 "BYEs at the answering callee"
passed "2 calls"

# 7a. The caller retransmits its INVITE (50 ms after it, after the 100, after the 180): the proxy
#     forwards it once and answers each copy with its latest provisional response.
begin retrans-invite
uas callee "$uas1" u1 1 uas_ring.xml
python3 "$here/stateful_retrans_caller.py" invite "$proxy" "$uas1" "$caller" \
  >"$work/retrans-invite-caller.out" 2>&1
finish $?
expect_count callee recv '^INVITE ' - 1 "INVITEs at the callee (the caller sent 4 copies)"
expect_count callee recv '^CANCEL ' - 1 "CANCELs at the callee"
expect_hop_by_hop callee CANCEL
expect_hop_by_hop callee ACK
passed

# 7b. The caller retransmits a MESSAGE before and after the answer: the proxy forwards it once,
#     absorbs the copy while it waits, and re-sends the 200 for the copy after it.
begin retrans-message
uas callee "$uas1" u1 1 uas_message.xml
python3 "$here/stateful_retrans_caller.py" message "$proxy" "$uas1" "$caller" \
  >"$work/retrans-message-caller.out" 2>&1
finish $?
expect_count callee recv '^MESSAGE ' - 1 "MESSAGEs at the callee (the caller sent 3 copies)"
passed

begin daemon
kill -0 "$DAEMON_PID" 2>/dev/null || test_failed "the daemon died"
stop_daemon || test_failed "the daemon did not stop cleanly"
grep -q "statistics:" "$DAEMON_LOG" || test_failed "no statistics line at stop"
echo "PASS"
