# shellcheck shell=bash
# shellcheck disable=SC2154  # $work and $bin are set by the sourcing script.
# Helpers of the tests that drive real SIP clients and attack tools (baresip, sipvicious) against
# the auth module. Sourced after ../lib.sh, which starts and stops the daemon (start_daemon,
# stop_daemon, DAEMON_PID) and provides free_ports and fail. Every wait here is bounded.

# require_tool COMMAND PACKAGE: exits 77 (ctest: skipped) when COMMAND is not installed.
require_tool() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "SKIP: $1 is not installed (Debian package $2)"
    exit 77
  fi
}

# require_modules NAME...: the modules are built beside the daemon (they are part of every
# build, so a missing one is a failure, not a skip).
require_modules() {
  local module
  for module in "$@"; do
    [ -f "$(dirname "$bin")/modules/$module.so" ] ||
      fail "$module.so is not built beside $bin (it is part of every build)"
  done
}

# check_config FILE: the daemon accepts the configuration, or the test fails showing why.
check_config() {
  "$bin" --check-config "$1" >"$1.check" 2>&1 || {
    cat "$1.check"
    fail "the daemon refuses the configuration $1"
  }
}

# poll_until SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds (status 0) or
# SECONDS have passed (status 1).
poll_until() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# module_stats MODULE: asks the running daemon ($DAEMON_PID, log $DAEMON_LOG) for its statistics
# (SIGUSR1) and prints the newest "module MODULE: ..." line without its prefix.
module_stats() {
  local module=$1 before
  before=$(grep -c "module $module: " "$DAEMON_LOG")
  kill -USR1 "$DAEMON_PID" || fail "SIGUSR1 to the daemon failed"
  for _ in $(seq 1 50); do
    [ "$(grep -c "module $module: " "$DAEMON_LOG")" -gt "$before" ] && break
    sleep 0.1
  done
  [ "$(grep -c "module $module: " "$DAEMON_LOG")" -gt "$before" ] ||
    fail "no \"module $module:\" statistics in the log 5 s after SIGUSR1"
  grep "module $module: " "$DAEMON_LOG" | tail -n 1 | sed "s/.*module $module: //"
}

# stat_value LINE NAME: the value of one "NAME VALUE" field of a statistics line.
stat_value() {
  echo ", $1," | grep -o ", $2 [^,]*," | sed "s/^, $2 //; s/,\$//"
}

# expect_stat MODULE NAME OP VALUE: a field of the module's statistics compares (test(1)'s -eq,
# -ge, ...) with VALUE.
expect_stat() {
  local module=$1 name=$2 op=$3 want=$4 line got
  line=$(module_stats "$module")
  got=$(stat_value "$line" "$name")
  if [ -z "$got" ] || ! test "$got" "$op" "$want"; then
    fail "module $module statistics: expected $name $op $want in: $line"
  fi
}
