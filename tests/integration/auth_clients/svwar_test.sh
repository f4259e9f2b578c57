#!/usr/bin/env bash
# sipvicious' svwar (SIP extension enumeration) against the auth module in the real daemon on
# loopback. Users 101, 105 and 110 exist; svwar scans extensions 100-120, with REGISTER and with
# INVITE.
#
# How svwar decides (sipvicious 0.3.3, the Debian 12 package): it first sends the request for a
# random extension and remembers the first line of the answer as the "unknown user" answer. If
# that answer is already a 401, 407 or 403, it stops at once ("SIP server replied with an
# authentication request for an unknown extension"); with --force it goes on, and then reports an
# extension as existing (a row "| N | reqauth |" in its result table) only when its answer's
# first line differs from the unknown user's. An answer identical to the unknown user's, which is
# neither 404 nor another status it knows, ends the scan with "We got an unknown response".
# "Cannot tell existing users from unknown ones" is therefore: no extension reported as existing
# and the final "found nothing", in every run; and, since svwar compares first lines only, the
# stricter check that users and unknown extensions got the same answer (below).
#
# What is asserted:
#   - control: a deliberately leaky daemon (known users are challenged, unknown ones get 404)
#     lets svwar find exactly 101, 105 and 110. This proves svwar works here, so that its "found
#     nothing" below means the proxy gave nothing away, not that the scan never ran.
#   - REGISTER, INVITE: against auth.require for every request (the documented configuration),
#     svwar without --force refuses to scan 100-120 (it recognises a challenge for its random
#     unknown user). With --force, scanning each of 100, 101, 105, 110 and 120 alone (it never
#     gets past the first extension, whose answer is the unknown user's), it finds nothing, and
#     the answer it got is the same for users and unknown extensions (status line, header names
#     and order, challenge parameters): 401 for REGISTER, 407 for INVITE. The daemon answered
#     every request with a challenge (auth statistics: challenges, and no success).
#   svwar_test.sh STROWGER_BIN
# Exit 77 (skipped) without svwar. CLIENTS_KEEP=1 keeps the scratch directory.
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
# shellcheck source=clients_lib.sh
. "$here/clients_lib.sh"
require_tool svwar "sipvicious"
require_modules auth location registrar

work=$(mktemp -d)
cleanup() {
  stop_daemon >/dev/null 2>&1
  if [ -n "${CLIENTS_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

# The routes of the daemon under test: every REGISTER and every other request must authenticate.
protected_routes() {
  cat <<'YAML'
routes:
  request:
    - if: { method: ACK }
      then: [ drop ]
    - if: { method: REGISTER }
      then: [ auth.require, registrar.save ]
    - auth.require
    - auth.check_from
    - location.lookup
    - relay
YAML
}

# The control's routes: what a registrar that leaks its user list does (challenge known users,
# 404 for the rest).
leaky_routes() {
  cat <<'YAML'
routes:
  request:
    - if: { method: ACK }
      then: [ drop ]
    - if: { not: { to.user: [ "101", "105", "110" ] } }
      then: [ { reply: [404, "Not Found"] } ]
    - if: { method: REGISTER }
      then: [ auth.require, registrar.save ]
    - auth.require
    - location.lookup
    - relay
YAML
}

# start_proxy NAME ROUTES_FUNCTION: a daemon of its own (bans are per source address, and every
# scan comes from 127.0.0.1), its log $work/NAME.log; sets PROXY_PORT.
start_proxy() {
  local name=$1 routes=$2
  stop_daemon || fail "the previous daemon did not stop cleanly"
  read -r PROXY_PORT <<<"$(free_ports 1)"
  {
    cat <<YAML
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
      - { user: "101", domain: 127.0.0.1, password: pw-101 }
      - { user: "105", domain: 127.0.0.1, password: pw-105 }
      - { user: "110", domain: 127.0.0.1, password: pw-110 }
YAML
    "$routes"
  } >"$work/$name.yaml"
  check_config "$work/$name.yaml"
  DAEMON_LOG="$work/$name.log"
  : >"$DAEMON_LOG"  # start_daemon greps it, maybe before the daemon has opened it
  start_daemon "$bin" "$work/$name.yaml" "$DAEMON_LOG" || fail "$name: the daemon did not start"
}

# scan NAME METHOD EXTENSIONS [SVWAR_OPTIONS...]: svwar over EXTENSIONS (100-120) against the
# current daemon, from a free local port, bounded to 60 s; its output is $work/NAME.out.
scan() {
  local name=$1 method=$2 extensions=$3 local_port
  shift 3
  read -r local_port <<<"$(free_ports 1)"
  timeout 60 svwar -e "$extensions" -m "$method" -P "$local_port" -b 127.0.0.1 -x 127.0.0.1 \
    --maximumtime 5 "$@" "udp://127.0.0.1:$PROXY_PORT" >"$work/$name.out" 2>&1
  local rc=$?
  [ $rc -eq 124 ] && fail "$name: svwar did not finish within 60 s"
  return 0
}

# found NAME: the extensions in svwar's result table (rows "| 101 | reqauth |"), sorted, one
# line.
found() {
  grep -E '^\| *[^ |]+ *\| *[^ |]+ *\|$' "$work/$1.out" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
    grep -vx Extension | sort -n | tr '\n' ' ' | sed 's/ $//'
}

show_scan() {
  echo "--- svwar $1:"
  tail -n 30 "$work/$1.out"
  echo "--- daemon log (last lines):"
  tail -n 20 "$DAEMON_LOG"
}

# --- control: the leaky daemon gives its users away, and svwar finds them.
for method in REGISTER INVITE; do
  start_proxy "leaky-$method" leaky_routes
  scan "leaky-$method" "$method" 100-120
  got=$(found "leaky-$method")
  [ "$got" = "101 105 110" ] || {
    show_scan "leaky-$method"
    fail "control ($method): svwar found '$got' against the leaky routes, expected '101 105 110'"
  }
  echo "ok: control $method (svwar finds 101 105 110 when the proxy leaks them)"
done

# signature NAME: the answer svwar printed as "unknown response" (the answer to the extension it
# scanned, identical to the one for its random unknown user), reduced to what does not change
# from one request to the next: the status line and the header names with the challenge's
# parameter names, in order. Empty when svwar printed no such answer.
signature() {
  python3 - "$work/$1.out" <<'PY'
import ast, re, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.search(r"Response: ('.*')$", line.rstrip("\n"))
    if not m:
        continue
    lines = ast.literal_eval(m.group(1)).split("\r\n")
    parts = [lines[0]]
    for header in lines[1:]:
        if not header:
            break
        name, _, value = header.partition(":")
        if name.lower().endswith("authenticate"):
            params = re.findall(r"([A-Za-z-]+)=", value)
            algorithm = re.search(r"algorithm=([^,\s]+)", value)
            name += "(" + ",".join(params) + ";" + (algorithm.group(1) if algorithm else "") + ")"
        parts.append(name)
    print(" ".join(parts))
    break
PY
}

# --- the auth module: nothing to find, with either method, with or without --force.
# Without --force svwar scans the whole range; it stops at its probe for a random unknown user.
# With --force it stops at the first extension it scans (see above), so it scans each of the
# users 101, 105, 110 and the unknown 100 and 120 in a run of its own: every run must find
# nothing, and the answers (status line, headers, challenges) must be the same for all five.
for method in REGISTER INVITE; do
  start_proxy "auth-$method" protected_routes

  scan "auth-$method" "$method" 100-120
  grep -q "authentication request for an unknown extension" "$work/auth-$method.out" || {
    show_scan "auth-$method"
    fail "$method: svwar did not recognise the challenge of an unknown extension"
  }
  got=$(found "auth-$method")
  [ -z "$got" ] || {
    show_scan "auth-$method"
    fail "$method: svwar found extensions: $got"
  }

  first_signature=
  for extension in 100 101 105 110 120; do
    run="auth-$method-force-$extension"
    scan "$run" "$method" "$extension" --force
    got=$(found "$run")
    [ -z "$got" ] || {
      show_scan "$run"
      fail "$method --force: svwar found extension $got"
    }
    grep -q "found nothing" "$work/$run.out" || {
      show_scan "$run"
      fail "$method --force, extension $extension: svwar did not report 'found nothing'"
    }
    this_signature=$(signature "$run")
    [ -n "$this_signature" ] || {
      show_scan "$run"
      fail "$method --force, extension $extension: svwar printed no answer"
    }
    if [ -z "$first_signature" ]; then
      first_signature=$this_signature
    elif [ "$this_signature" != "$first_signature" ]; then
      fail "$method --force: extension $extension was answered differently:" \
        "'$this_signature', extension 100: '$first_signature'"
    fi
  done
  case "$method:$first_signature" in
    "REGISTER:SIP/2.0 401 Unauthorized "*) ;;
    "INVITE:SIP/2.0 407 Proxy Authentication Required "*) ;;
    *) fail "$method: svwar saw '$first_signature', not the auth module's challenge" ;;
  esac
  # Six scans, two requests or more each (the probe for a random user, then an extension),
  # every one challenged, none accepted.
  expect_stat auth challenges -ge 11
  expect_stat auth successes -eq 0
  echo "ok: $method (svwar cannot tell the users from unknown extensions: $first_signature)"
done

stop_daemon || fail "the daemon did not stop cleanly"
echo "PASS"
