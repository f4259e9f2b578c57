#!/usr/bin/env bash
# After a load of stateful calls ends, no transaction outlives its timers and the daemon's memory
# goes back near where it started (docs/transactions.md, "Lifetime"). The real daemon relays
# calls between two sipp instances on loopback; T1 is 100 ms so every timer (64*T1 = 6.4 s) runs
# out within the test. Bounded: a fixed number of calls, sipp's own timeout, bounded waits.
set -u
bin=$1
scenarios=$2  # the shared bench scenarios: uac_call.xml and uas.xml
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

command -v sipp >/dev/null || { echo "SKIP: sipp is not installed"; exit 77; }
[ -f "$scenarios/uac_call.xml" ] || { echo "SKIP: $scenarios has no uac_call.xml"; exit 77; }

work=$(mktemp -d)
uas_pid=
cleanup() {
  stop_daemon >/dev/null 2>&1
  [ -n "$uas_pid" ] && kill "$uas_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

read -r proxy_port uas_port uac_port <<<"$(free_ports 3)"
calls=3000
cat >"$work/strowger.yaml" <<EOF
server:
  listen: [ "udp:127.0.0.1:$proxy_port" ]
  workers: 2
  log: { level: info }
  transactions: { t1: 100, t2: 400, t4: 1000 }
routes:
  request:
    - if: { has_to_tag: true }
      then:
        - if: { loose_route: true }
          then: [ relay ]
        - reply: [ 404, "Not Here" ]
    - record_route
    - relay: { to: "sip:127.0.0.1:$uas_port" }
EOF
{ echo SEQUENTIAL; for i in $(seq 1 100); do echo "u$i"; done; } >"$work/callees.csv"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
# The `transactions:` line SIGUSR1 makes the daemon log; waits (5 s at most) for a new one.
stats_line() {
  local before
  before=$(grep -c "transactions: live" "$work/daemon.log")
  kill -USR1 "$DAEMON_PID"
  for _ in $(seq 1 50); do
    if [ "$(grep -c "transactions: live" "$work/daemon.log")" -gt "$before" ]; then
      grep "transactions: live" "$work/daemon.log" | tail -1
      return 0
    fi
    sleep 0.1
  done
  return 1
}

start_daemon "$bin" "$work/strowger.yaml" "$work/daemon.log" || fail "the daemon did not start"
sleep 1
baseline=$(rss_kb)

(cd "$work" && exec timeout 60 sipp -sf "$scenarios/uas.xml" -i 127.0.0.1 -p "$uas_port" \
  -nostdin -timeout 50s >/dev/null 2>&1) &
uas_pid=$!
sleep 0.3
(cd "$work" && timeout 60 sipp "127.0.0.1:$proxy_port" -sf "$scenarios/uac_call.xml" \
  -inf "$work/callees.csv" -i 127.0.0.1 -p "$uac_port" -r 1000 -rp 1000 -m "$calls" \
  -l 3000 -timeout 40s -recv_timeout 10000 -nostdin -trace_stat -stf "$work/uac.csv" \
  >/dev/null 2>&1) || fail "sipp reported failed calls (uac exit status $?)"

line=$(stats_line) || fail "no statistics after SIGUSR1"
echo "after the load: $line; RSS $(rss_kb) kB (baseline $baseline kB)"
echo "$line" | grep -q "created $((2 * calls))," ||
  fail "expected $((2 * calls)) transactions (INVITE and BYE of each call): $line"
echo "$line" | grep -qE "live [1-9]" || fail "no transaction lingers right after the load: $line"

# Every timer is over after 64*T1 = 6.4 s; the memory check runs every 5 s.
for _ in $(seq 1 30); do
  sleep 0.5
  line=$(stats_line) || fail "no statistics after SIGUSR1"
  echo "$line" | grep -q "live 0," && break
done
echo "$line" | grep -q "live 0," || fail "transactions outlived their timers: $line"
sleep 6
rss=$(rss_kb)
echo "after the timers: $line; RSS $rss kB (baseline $baseline kB)"
[ "$rss" -le $((baseline + 8192)) ] ||
  fail "memory did not return to its baseline: $rss kB now, $baseline kB before the load"
stop_daemon || fail "the daemon did not stop cleanly"
echo "PASS: $calls calls, every transaction gone, memory back to $rss kB (baseline $baseline kB)"
