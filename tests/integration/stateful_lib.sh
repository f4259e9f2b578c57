# shellcheck shell=bash
# shellcheck disable=SC2154  # $work and $scenarios are set by the sourcing script.
# Helpers of the stateful-proxy sipp tests (stateful_sipp_test.sh, stateful_scenarios_check.sh):
# sipp peers started and waited for by process id, message traces kept per peer, and assertions
# on those traces. Sourced after lib.sh; the caller sets $work (a scratch directory) and
# $scenarios (the scenario directory). Every sipp run is bounded three ways: sipp's own -timeout
# and -recv_timeout, and timeout(1) around it.

here=${here:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
TRACE="python3 $here/sipp_trace.py"
PEER_PIDS=()
PEER_NAMES=()
CURRENT_TEST=""

# Exits 77 (ctest: skipped) when sipp is not installed.
require_sipp() {
  if ! command -v sipp >/dev/null; then
    echo "SKIP: sipp is not installed (Debian package sip-tester)"
    exit 77
  fi
}

# Stops the peers still running (by their own process ids).
stop_peers() {
  local pid
  for pid in "${PEER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PEER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null
  done
  PEER_PIDS=()
  PEER_NAMES=()
}

# begin NAME: starts a test; its files are $work/NAME-*.
begin() {
  CURRENT_TEST=$1
  PEER_PIDS=()
  PEER_NAMES=()
}

# sipp_opts ROLE TRANSPORT CALLS: the options every sipp run gets; traces go to
# $work/$CURRENT_TEST-ROLE.{msg,err,out}.
sipp_opts() {
  local role=$1 transport=$2 calls=$3 base="$work/$CURRENT_TEST-$1"
  echo "-i 127.0.0.1 -t $transport -m $calls -nostdin -timeout 20s -timeout_error" \
       "-recv_timeout 10000 -trace_msg -message_file $base.msg -trace_err -error_file $base.err"
}

# wait_bound PORT TRANSPORT: waits (5 s at most) until something listens on 127.0.0.1:PORT.
wait_bound() {
  local port=$1 proto=udp
  [ "$2" = t1 ] && proto=tcp
  python3 - "$port" "$proto" <<'PY' || fail "$CURRENT_TEST: nothing listens on port $1 after 5 s"
import socket, sys, time
port, proto = int(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(0)
    finally:
        s.close()
    time.sleep(0.05)
sys.exit(1)
PY
}

# uas ROLE PORT TRANSPORT CALLS SCENARIO: a sipp callee in the background, ready when this returns.
uas() {
  local role=$1 port=$2 transport=$3 calls=$4 sf=$5
  # shellcheck disable=SC2046
  timeout 30 sipp -sf "$scenarios/$sf" -p "$port" $(sipp_opts "$role" "$transport" "$calls") \
    >"$work/$CURRENT_TEST-$role.out" 2>&1 &
  PEER_PIDS+=("$!")
  PEER_NAMES+=("$role")
  wait_bound "$port" "$transport"
}

# uac ROLE DEST_PORT LOCAL_PORT TRANSPORT CALLS SCENARIO SERVICE CALLEE: a sipp caller sending
# to 127.0.0.1:DEST_PORT, Request-URI sip:SERVICE@CALLEE; runs in the foreground, returns its
# exit status.
uac() {
  local role=$1 dest=$2 port=$3 transport=$4 calls=$5 sf=$6 service=$7 callee=$8
  # shellcheck disable=SC2046
  timeout 30 sipp "127.0.0.1:$dest" -sf "$scenarios/$sf" -p "$port" -s "$service" \
    -key callee "$callee" -r 5 $(sipp_opts "$role" "$transport" "$calls") \
    >"$work/$CURRENT_TEST-$role.out" 2>&1
}

# show_peer ROLE: what a peer printed and reported, for a failure report.
show_peer() {
  local base="$work/$CURRENT_TEST-$1"
  echo "--- $CURRENT_TEST, $1:"
  tail -n 15 "$base.out" 2>/dev/null
  [ -s "$base.err" ] && tail -n 30 "$base.err"
  if [ -s "$base.msg" ]; then
    echo "--- $CURRENT_TEST, $1, message trace (first lines of each message):"
    awk '/^--------------------/{getline h; getline; getline l; print substr($0, 49) "  " h "  " l}' "$base.msg" |
      head -n 40
  fi
}

# test_failed WHAT: reports every peer of the current test (and the daemon's log, if any), fails.
test_failed() {
  local role
  echo "=== $CURRENT_TEST: $*"
  for role in "${PEER_NAMES[@]}" caller; do
    show_peer "$role"
  done
  if [ -n "${DAEMON_LOG:-}" ] && [ -s "$DAEMON_LOG" ]; then
    echo "--- daemon log (last lines):"
    tail -n 30 "$DAEMON_LOG"
  fi
  fail "$CURRENT_TEST: $*"
}

# finish CALLER_STATUS: waits for the callees and fails the test unless the caller and every
# callee exited 0. After a failed caller the callees get 3 s to finish before they are stopped,
# instead of their own 20 s bound.
finish() {
  local caller_rc=$1 i rc bad="" waited=0
  [ "$caller_rc" -eq 0 ] || bad=" caller exit $caller_rc"
  if [ "$caller_rc" -ne 0 ]; then
    for i in "${!PEER_PIDS[@]}"; do
      while kill -0 "${PEER_PIDS[$i]}" 2>/dev/null && [ $waited -lt 30 ]; do
        sleep 0.1
        waited=$((waited + 1))
      done
      kill -TERM "${PEER_PIDS[$i]}" 2>/dev/null
    done
  fi
  for i in "${!PEER_PIDS[@]}"; do
    wait "${PEER_PIDS[$i]}"
    rc=$?
    [ $rc -eq 0 ] || bad="$bad ${PEER_NAMES[$i]} exit $rc"
  done
  PEER_PIDS=()
  [ -z "$bad" ] || test_failed "sipp failed:$bad"
}

# count ROLE recv|sent FIRST_LINE_REGEX [CSEQ_METHOD]: messages of that kind in ROLE's trace.
count() {
  local role=$1
  shift
  $TRACE "$work/$CURRENT_TEST-$role.msg" count "$@"
}

# expect_count ROLE recv|sent FIRST_LINE_REGEX CSEQ_METHOD|- EXPECTED WHAT
expect_count() {
  local role=$1 dir=$2 regex=$3 cseq=$4 want=$5 what=$6 got
  if [ "$cseq" = - ]; then
    got=$(count "$role" "$dir" "$regex")
  else
    got=$(count "$role" "$dir" "$regex" "$cseq")
  fi
  [ "$got" = "$want" ] || test_failed "$what: $role $dir $got, expected $want"
}

# expect_hop_by_hop ROLE ACK|CANCEL: every ACK or CANCEL that ROLE received is the proxy's own,
# built from the INVITE it sent to ROLE (sipp_trace.py hop-by-hop).
expect_hop_by_hop() {
  local out
  out=$($TRACE "$work/$CURRENT_TEST-$1.msg" hop-by-hop "$2") ||
    test_failed "the $2 that $1 received is not the proxy's hop-by-hop $2: $out"
}

# expect_between WHAT VALUE LOW HIGH
expect_between() {
  if [ -z "$2" ] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
    test_failed "$1: ${2:-none}, expected $3..$4"
  fi
}

passed() {
  echo "ok: $CURRENT_TEST${1:+ ($1)}"
}
