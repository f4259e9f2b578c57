#!/usr/bin/env bash
# sipvicious' svcrack (online password guessing) against the auth module's bans, the real daemon
# on loopback. svcrack guesses the password of user 101 from a wordlist of 30 wrong passwords
# followed by the right one, registering with MD5 digest credentials, one guess per challenge.
#
# sipvicious 0.3.3 (the Debian 12 package) computes MD5 digests only. It does not read the
# algorithm of the module's first challenge (SHA-256; its pattern wants a comma or CR after the
# value) and so answers it with MD5, which the module offers too (the default algorithms): it
# really guesses, as the control shows.
#
# What is asserted:
#   - control: with bans off (ban.threshold 0), svcrack finds the password (its result table
#     holds "| 101 | the password |"): the wordlist, the digest and the registration all work,
#     so its failure below is the ban's doing.
#   - ban, reject: threshold 10. The daemon logs "auth: ban source=127.0.0.1 reason=failures
#     count=10 window=60s duration=600s"; svcrack never finds the password (stopped after 10 s,
#     it reports "found nothing"): the daemon checked exactly 10 guesses (failures 10, no
#     success), so the right one, 31st in the list, never was; every request after the ban got
#     403 (banned_rejected), and 101 has no binding.
#   - ban, drop: the same with ban.action drop (the ban line, 10 failures, no success, no
#     binding). Banned requests get no answer (banned_dropped), and svcrack gives up by itself
#     ("since we last received a response - stopping"), without the password.
# Each case has a daemon of its own: bans are per source address, and everything comes from
# 127.0.0.1. svcrack runs are bounded with timeout(1).
#   svcrack_test.sh STROWGER_BIN
# Exit 77 (skipped) without svcrack. CLIENTS_KEEP=1 keeps the scratch directory.
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
# shellcheck source=clients_lib.sh
. "$here/clients_lib.sh"
require_tool svcrack "sipvicious"
require_modules auth location registrar

work=$(mktemp -d)
cleanup() {
  stop_daemon >/dev/null 2>&1
  if [ -n "${CLIENTS_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

right_password="K9-right-horse"
for i in $(seq 1 30); do echo "wrong-$i"; done >"$work/wordlist.txt"
echo "$right_password" >>"$work/wordlist.txt"

# start_proxy NAME BAN_YAML: a daemon of its own with user 101 and the given ban settings, its
# log $work/NAME.log; sets PROXY_PORT.
start_proxy() {
  local name=$1 ban=$2
  stop_daemon || fail "the previous daemon did not stop cleanly"
  read -r PROXY_PORT <<<"$(free_ports 1)"
  cat >"$work/$name.yaml" <<YAML
server:
  listen: [ "udp:127.0.0.1:$PROXY_PORT" ]
  workers: 2
  log: { level: info }
modules:
  location:
    storage: memory
    keepalive: { interval: 0 }
  registrar: {}
  auth:
    secret: "a-test-secret-that-is-long-enough"
    users:
      - { user: "101", domain: 127.0.0.1, password: "$right_password" }
      - { user: "102", domain: 127.0.0.1, password: "another-password" }
    ban: $ban
routes:
  request:
    - if: { method: ACK }
      then: [ drop ]
    - if: { method: REGISTER }
      then: [ auth.require, registrar.save ]
    - auth.require
    - location.lookup
    - relay
YAML
  check_config "$work/$name.yaml"
  DAEMON_LOG="$work/$name.log"
  : >"$DAEMON_LOG"  # start_daemon greps it, maybe before the daemon has opened it
  start_daemon "$bin" "$work/$name.yaml" "$DAEMON_LOG" || fail "$name: the daemon did not start"
}

# crack NAME SECONDS: svcrack against user 101 of the current daemon with the wordlist, from a
# free local port, for SECONDS at most; its output is $work/NAME.out, its exit status in
# CRACK_RC (124: stopped by timeout(1)). Stopped, it gets SIGINT first, on which it still
# reports what it found (SIGKILL 5 s later if it does not quit).
crack() {
  local name=$1 seconds=$2 local_port
  read -r local_port <<<"$(free_ports 1)"
  timeout -s INT -k 5 "$seconds" svcrack -u 101 -d "$work/wordlist.txt" -P "$local_port" -b 127.0.0.1 \
    -x 127.0.0.1 --maximumtime 3 "udp://127.0.0.1:$PROXY_PORT" >"$work/$name.out" 2>&1
  CRACK_RC=$?
}

# cracked NAME: svcrack's result table (rows "| 101 | password |"), as "EXTENSION PASSWORD"
# lines; nothing when it found no password.
cracked() {
  grep -E '^\| *[^ |]+ *\| *[^|]*[^ |] *\|$' "$work/$1.out" |
    awk -F'|' '{ gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3); print $2 " " $3 }' |
    grep -vx "Extension Password"
}

show_crack() {
  echo "--- svcrack $1 (exit $CRACK_RC):"
  tail -n 30 "$work/$1.out"
  echo "--- daemon log (last lines):"
  tail -n 20 "$DAEMON_LOG"
}

ban_line="auth: ban source=127.0.0.1 reason=failures count=10 window=60s duration=600s"

# --- control: no bans, and svcrack finds the password.
start_proxy control "{ threshold: 0 }"
crack control 60
[ "$(cracked control)" = "101 $right_password" ] || {
  show_crack control
  fail "control: svcrack did not find the password with bans off"
}
grep -q "auth: ban " "$DAEMON_LOG" && fail "control: a ban with bans off"
expect_stat auth successes -ge 1
expect_stat auth failures -ge 30
echo "ok: control (svcrack finds the password when nothing stops it)"

# --- ban with 403: svcrack keeps sending and is refused; timeout(1) ends it.
start_proxy reject "{ threshold: 10, window: 60, duration: 600, action: reject }"
crack reject 10
if [ -n "$(cracked reject)" ]; then
  show_crack reject
  fail "reject: svcrack found the password despite the ban"
fi
grep -q "found nothing" "$work/reject.out" || {
  show_crack reject
  fail "reject: svcrack did not report 'found nothing'"
}
grep -qF "$ban_line" "$DAEMON_LOG" || {
  show_crack reject
  fail "reject: no '$ban_line' in the daemon log"
}
[ "$(grep -c "auth: ban source=" "$DAEMON_LOG")" -eq 1 ] ||
  fail "reject: the source ban was logged more than once"
# Exactly 10 guesses were checked: the 10th failure started the ban, nothing after it was.
expect_stat auth failures -eq 10
expect_stat auth successes -eq 0
expect_stat auth banned_rejected -ge 1
expect_stat location bindings -eq 0
echo "ok: reject (banned after 10 failures, 403 from then on, password not found)"

# --- ban with no answer: svcrack gives up by itself.
start_proxy drop "{ threshold: 10, window: 60, duration: 600, action: drop }"
crack drop 30
[ "$CRACK_RC" -ne 124 ] || {
  show_crack drop
  fail "drop: svcrack did not give up within 30 s"
}
if [ -n "$(cracked drop)" ]; then
  show_crack drop
  fail "drop: svcrack found the password despite the ban"
fi
grep -q "since we last received a response - stopping" "$work/drop.out" || {
  show_crack drop
  fail "drop: svcrack did not stop for lack of answers"
}
grep -qF "$ban_line" "$DAEMON_LOG" || {
  show_crack drop
  fail "drop: no '$ban_line' in the daemon log"
}
expect_stat auth failures -eq 10
expect_stat auth successes -eq 0
expect_stat auth banned_dropped -ge 1
expect_stat location bindings -eq 0
echo "ok: drop (banned after 10 failures, no answer from then on, svcrack gives up)"

stop_daemon || fail "the daemon did not stop cleanly"
echo "PASS"
