# Shared helpers of the integration tests: free ports, a daemon under test, bounded waits.
# Sourced by the test scripts; every wait is bounded and everything started is stopped on exit.

# Prints N distinct free ports on 127.0.0.1 (free for UDP and TCP at the time of asking), drawn
# below the ephemeral range so that no other test's outgoing connection takes one meanwhile
# (tests/support/ports/free_ports.py).
free_ports() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/../support/ports/free_ports.py" "$1"
}

# start_daemon BIN CONFIG LOG: starts strowger in the background and waits (10 s at most) for
# its ready line. Sets DAEMON_PID.
start_daemon() {
  local bin=$1 config=$2 log=$3
  : >"$log"  # the background job opens it later than the first grep may run
  "$bin" -c "$config" >"$log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 1 100); do
    if grep -q " ready: " "$log"; then return 0; fi
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      echo "daemon exited during start:"; cat "$log"; return 1
    fi
    sleep 0.1
  done
  echo "daemon not ready within 10 s:"; cat "$log"; return 1
}

# stop_daemon: SIGTERM, then wait (5 s at most) for a clean exit with status 0.
stop_daemon() {
  [ -n "${DAEMON_PID:-}" ] || return 0
  kill -TERM "$DAEMON_PID" 2>/dev/null || return 1
  for _ in $(seq 1 50); do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      wait "$DAEMON_PID"; local rc=$?
      DAEMON_PID=
      return $rc
    fi
    sleep 0.1
  done
  kill -KILL "$DAEMON_PID" 2>/dev/null
  DAEMON_PID=
  echo "daemon did not stop within 5 s"
  return 1
}

fail() {
  echo "FAIL: $*"
  exit 1
}
