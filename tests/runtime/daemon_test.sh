#!/usr/bin/env bash
# Drives the real strowger program: --version, --check-config, start-up, SIGHUP reload with a
# broken and then a fixed configuration, and SIGTERM. Every wait is bounded; whatever happens,
# the daemon is killed and the temporary directory removed on exit.
#
# usage: daemon_test.sh STROWGER_BINARY CONFIG_DIR
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 STROWGER_BINARY CONFIG_DIR" >&2
  exit 2
fi
strowger=$1
config_dir=$2

work=$(mktemp -d "${TMPDIR:-/tmp}/strowger-daemon-test.XXXXXX")
log=$work/daemon.log
daemon_pid=

cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [[ -s $log ]]; then
    echo "--- daemon log ---" >&2
    cat "$log" >&2
  fi
  exit 1
}

pass() { echo "ok: $*"; }

# wait_for_log PATTERN SECONDS: true once the daemon's log matches PATTERN (grep -E).
wait_for_log() {
  local pattern=$1 tries=$(($2 * 10))
  while ((tries-- > 0)); do
    grep -qE -- "$pattern" "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# wait_for_exit SECONDS: true once the daemon has exited.
wait_for_exit() {
  local tries=$(($1 * 10))
  while ((tries-- > 0)); do
    kill -0 "$daemon_pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# run_bounded SECONDS COMMAND...: the one-shot commands must not hang either.
run_bounded() {
  local seconds=$1
  shift
  timeout --kill-after=2 "$seconds" "$@"
}

# A configuration on loopback only; nothing binds yet, but the ports stay out of others' way.
write_good_config() {
  cat >"$work/strowger.yaml" <<'EOF'
server:
  listen: [ "udp:127.0.0.1:25060", "tcp:127.0.0.1:25060" ]
  workers: auto
  log: { level: info, format: text, target: stderr }
EOF
}

# The same with a bad value at line 4, column 12.
write_broken_config() {
  cat >"$work/strowger.yaml" <<'EOF'
server:
  listen: [ "udp:127.0.0.1:25060", "tcp:127.0.0.1:25060" ]
  log: { level: info, format: text, target: stderr }
  workers: many
EOF
}

# --- one-shot commands ----------------------------------------------------------------------

out=$(run_bounded 10 "$strowger" --version) || fail "--version exited with $?"
[[ $out =~ ^strowger\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$out'"
pass "--version prints '$out'"

status=0
out=$(run_bounded 10 "$strowger" --no-such-option 2>&1) || status=$?
[[ $status -eq 2 ]] || fail "bad usage exited with $status, expected 2"
[[ $out == *"unknown option"* ]] || fail "bad usage printed '$out'"
pass "bad usage exits 2"

for file in "$config_dir/strowger.yaml" "$config_dir"/examples/*.yaml; do
  out=$(run_bounded 10 "$strowger" --check-config "$file" 2>&1) || fail "--check-config $file: $out"
  [[ $out == "$file: configuration OK" ]] || fail "--check-config $file printed '$out'"
  pass "--check-config accepts $file"
done

# Every whole configuration in the modules' documentation (a ```yaml block with a modules: or
# server: section and routes:) loads; one without a server: section gets a listener first. A
# users_file it names is an empty one beside it.
docs_dir="$config_dir/../docs"
mkdir -p "$work/docs"
printf 'users: []\n' >"$work/docs/users.yaml"
checked=0
for doc in "$docs_dir"/{auth,dispatcher,location,registrar,modules}.md; do
  while IFS= read -r -d '' block; do
    checked=$((checked + 1))
    example="$work/docs/$(basename "$doc" .md)-$checked.yaml"
    if [[ $block != server:* ]]; then
      printf 'server:\n  listen: [ "udp:127.0.0.1:5999" ]\n' >"$example"
    else
      : >"$example"
    fi
    printf '%s' "$block" >>"$example"
    out=$(run_bounded 10 "$strowger" --check-config "$example" 2>&1) ||
      fail "the example #$checked of $(basename "$doc") does not load: $out"
  done < <(python3 - "$doc" <<'PY'
import re, sys
for block in re.findall(r"```yaml\n(.*?)```", open(sys.argv[1]).read(), re.S):
    if block.startswith(("modules:", "server:")) and "\nroutes:" in block:
        sys.stdout.write(block + "\0")
PY
  )
done
((checked >= 5)) || fail "only $checked whole configurations found in the modules' documentation"
pass "--check-config accepts the $checked whole configurations of the modules' documentation"

write_broken_config
status=0
out=$(run_bounded 10 "$strowger" --check-config "$work/strowger.yaml" 2>&1) || status=$?
[[ $status -eq 1 ]] || fail "--check-config on a broken config exited with $status, expected 1"
[[ $out == *"strowger.yaml:4:12: server.workers:"* ]] || fail "--check-config printed '$out'"
pass "--check-config refuses a broken config with its position"

status=0
out=$(run_bounded 10 "$strowger" -c "$work/strowger.yaml" 2>&1) || status=$?
[[ $status -eq 1 ]] || fail "starting with a broken config exited with $status, expected 1"
[[ $out == *":4:12:"* ]] || fail "starting with a broken config printed '$out'"
pass "the daemon does not start with a broken config"

# --- the running daemon ---------------------------------------------------------------------

write_good_config
"$strowger" -c "$work/strowger.yaml" --workers 3 >"$log" 2>&1 &
daemon_pid=$!

wait_for_log "ready: config .*strowger\.yaml, listen udp:127\.0\.0\.1:25060, tcp:127\.0\.0\.1:25060, 3 workers" 10 ||
  fail "no ready line within 10 s"
pass "the daemon logs that it is ready, with --workers applied"

write_broken_config
kill -HUP "$daemon_pid"
wait_for_log "reload failed" 10 || fail "no reload failure logged within 10 s"
grep -qE "strowger\.yaml:4:12: server\.workers: expected" "$log" ||
  fail "the reload error does not name its position"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died on a broken reload"
pass "SIGHUP with a broken config logs the error with its position and keeps running"

write_good_config
kill -HUP "$daemon_pid"
wait_for_log "configuration reloaded" 10 || fail "no reload logged within 10 s"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died on a good reload"
pass "SIGHUP with a fixed config puts it in service"

kill -USR1 "$daemon_pid"
wait_for_log "transactions: live 0, created 0" 10 || fail "SIGUSR1 logged no transaction statistics"
grep -q "statistics: requests" "$log" || fail "SIGUSR1 logged no proxy statistics"
grep -q "stopped" "$log" && fail "SIGUSR1 stopped the daemon"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died on SIGUSR1"
pass "SIGUSR1 logs the statistics and the daemon carries on"

kill -TERM "$daemon_pid"
wait_for_exit 5 || fail "the daemon did not exit within 5 s of SIGTERM"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=
[[ $status -eq 0 ]] || fail "the daemon exited with $status after SIGTERM, expected 0"
grep -q "stopped" "$log" || fail "no 'stopped' line logged"
pass "SIGTERM stops the daemon with status 0"

# --- JSON logs ------------------------------------------------------------------------------

cat >"$work/json.yaml" <<'EOF'
server:
  listen: [ "udp:127.0.0.1:25062" ]
  log: { format: json }
EOF
"$strowger" -c "$work/json.yaml" >"$log" 2>&1 &
daemon_pid=$!
wait_for_log '^\{"time":"[0-9T:.-]+Z","level":"info","thread":[0-9]+,"msg":"strowger .* ready: ' 10 ||
  fail "no JSON ready line within 10 s"
kill -INT "$daemon_pid"
wait_for_exit 5 || fail "the daemon did not exit within 5 s of SIGINT"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=
[[ $status -eq 0 ]] || fail "the daemon exited with $status after SIGINT, expected 0"
pass "format: json writes one JSON object per line; SIGINT stops with status 0"

echo "all daemon tests passed"
