#!/usr/bin/env bash
# The scenarios of the stateful-proxy test checked without the proxy: each caller straight to its
# callee over loopback (and, where the proxy's part is the point, a stand-in scenario from
# scenarios/stateful/selfcheck/ playing it). When stateful_sipp_test.sh fails and this passes,
# the scenarios are not the cause.
#   stateful_scenarios_check.sh SCENARIO_DIR      (SCENARIO_DIR: tests/integration/scenarios)
set -uo pipefail
scenarios=$1/stateful
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=stateful_lib.sh
. "$here/stateful_lib.sh"
require_sipp

work=$(mktemp -d)
cleanup() {
  stop_peers
  if [ -n "${STATEFUL_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

read -r callee caller <<<"$(free_ports 2)"

# A full call, three calls each over UDP and TCP.
for transport in u1 t1; do
  begin "call-$transport"
  suffix=""
  [ "$transport" = t1 ] && suffix=";transport=tcp"
  uas callee "$callee" "$transport" 3 uas_call.xml
  uac caller "$callee" "$caller" "$transport" 3 uac_call.xml alice "127.0.0.1:$callee$suffix"
  finish $?
  expect_count callee recv '^INVITE ' - 3 "INVITEs"
  expect_count callee recv '^BYE ' - 3 "BYEs"
  passed
done

# CANCEL while it rings, over UDP and TCP.
for transport in u1 t1; do
  begin "cancel-$transport"
  suffix=""
  [ "$transport" = t1 ] && suffix=";transport=tcp"
  uas callee "$callee" "$transport" 2 uas_ring.xml
  uac caller "$callee" "$caller" "$transport" 2 uac_cancel.xml alice "127.0.0.1:$callee$suffix"
  finish $?
  expect_count callee recv '^CANCEL ' - 2 "CANCELs"
  expect_count callee recv '^ACK ' - 2 "ACKs"
  expect_count caller recv '^SIP/2.0 487 ' INVITE 2 "487s"
  passed
done

begin busy
uas callee "$callee" u1 1 uas_busy.xml
uac caller "$callee" "$caller" u1 1 selfcheck/uac_busy.xml busy "127.0.0.1:$callee"
finish $?
expect_count callee recv '^ACK ' - 1 "ACKs"
passed

# The silent callee absorbs the INVITE's retransmissions (sipp's own: 0.5 s and 1.5 s).
begin silent
uas callee "$callee" u1 1 uas_silent.xml
uac caller "$callee" "$caller" u1 1 selfcheck/uac_silent.xml alice "127.0.0.1:$callee"
finish $?
expect_count callee recv '^INVITE ' - 3 "INVITEs (with retransmissions)"
passed

begin timeout
uas callee "$callee" u1 1 selfcheck/uas_408.xml
uac caller "$callee" "$caller" u1 1 uac_timeout.xml alice "127.0.0.1:$callee"
finish $?
expect_count callee recv '^ACK ' - 1 "ACKs"
passed

begin trying
uas callee "$callee" u1 1 uas_trying.xml
uac caller "$callee" "$caller" u1 1 selfcheck/uac_cancel_trying.xml alice "127.0.0.1:$callee"
finish $?
expect_count callee recv '^CANCEL ' - 1 "CANCELs"
passed

# The slow callee completes the call after the INVITE was retransmitted twice (by sipp here),
# at the intervals the daemon test expects of the proxy's timer A.
begin slow
uas callee "$callee" u1 1 uas_slow.xml
uac caller "$callee" "$caller" u1 1 uac_call.xml alice "127.0.0.1:$callee"
finish $?
expect_count callee recv '^INVITE ' - 3 "INVITEs (with retransmissions)"
gaps=$($TRACE "$work/slow-callee.msg" gaps recv '^INVITE ' | paste -sd ' ')
read -r gap1 gap2 <<<"$gaps"
expect_between "first INVITE retransmission after (ms)" "$gap1" 400 700
expect_between "second INVITE retransmission after (ms)" "$gap2" 850 1300
passed "gaps $gaps"

# The retransmitting caller straight to the callee: the callee absorbs and re-answers each copy.
begin retrans-invite
uas callee "$callee" u1 1 uas_ring.xml
python3 "$here/stateful_retrans_caller.py" invite "$callee" "$callee" "$caller" direct \
  >"$work/retrans-invite-caller.out" 2>&1
finish $?
expect_count callee recv '^INVITE ' - 3 "INVITEs (the caller sends 3 copies)"
passed

begin retrans-message
uas callee "$callee" u1 1 uas_message.xml
python3 "$here/stateful_retrans_caller.py" message "$callee" "$callee" "$caller" direct \
  >"$work/retrans-message-caller.out" 2>&1
finish $?
expect_count callee recv '^MESSAGE ' - 3 "MESSAGEs (the caller sends 3 copies)"
passed

echo "PASS"
