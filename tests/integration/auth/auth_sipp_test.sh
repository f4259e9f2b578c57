#!/usr/bin/env bash
# Digest authentication (the auth module) with sipp's own [authentication] (MD5), the real daemon
# on loopback:
#   - REGISTER with the right password: 401, then the registrar's 200;
#   - REGISTER with a wrong password: 401, then 401 again, never a 200;
#   - INVITE to a sipp callee: 407, then relayed with the credentials; the callee sees
#     X-Auth-User: bob and no Proxy-Authorization; the call completes (200, ACK, BYE).
#   auth_sipp_test.sh STROWGER_BIN
# Exit 77 (skipped) without sipp; a missing auth, location or registrar module is a failure.
# AUTH_KEEP=1 keeps the scratch directory (traces, logs).
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../lib.sh
. "$here/lib.sh"
# shellcheck source=../stateful_lib.sh
. "$here/stateful_lib.sh"
require_sipp
for module in auth location registrar; do
  if [ ! -f "$(dirname "$bin")/modules/$module.so" ]; then
    echo "FAIL: $module.so is not built beside $bin (it is part of every build)"
    exit 1
  fi
done
scenarios="$here/auth/scenarios"

work=$(mktemp -d)
cleanup() {
  stop_peers
  stop_daemon >/dev/null 2>&1
  if [ -n "${AUTH_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

read -r proxy uas_port caller_port <<<"$(free_ports 3)"
cat >"$work/auth.yaml" <<YAML
server:
  listen: [ "udp:127.0.0.1:$proxy" ]
  workers: 2
  log: { level: info }
modules:
  location:
    storage: memory
    keepalive: { interval: 0 }
  registrar: {}
  auth:
    algorithms: [MD5]
    secret: "a-test-secret-that-is-long-enough"
    users:
      - { user: alice, domain: 127.0.0.1, password: alice-secret }
      - { user: bob, domain: 127.0.0.1, password: bob-secret }
routes:
  request:
    # In-dialog requests follow the route set recorded with the INVITE, which was authorized;
    # an ACK without one (for the proxy's own 407) ends here.
    - if: { has_to_tag: true }
      then:
        - if: { loose_route: true }
          then: [ relay ]
        - if: { method: ACK }
          then: [ drop ]
        - { reply: [404, "Not Here"] }
    - if: { method: [ACK, CANCEL] }
      then: [ drop ]
    - if: { method: REGISTER }
      then: [ auth.require, registrar.save ]
    - auth.require: { user_header: X-Auth-User }
    - record_route
    - relay
YAML
"$bin" --check-config "$work/auth.yaml" >"$work/check.out" 2>&1 || {
  cat "$work/check.out"
  fail "the daemon refuses the configuration"
}
DAEMON_LOG="$work/daemon.log"
start_daemon "$bin" "$work/auth.yaml" "$DAEMON_LOG" || fail "the daemon did not start"

# auth_uac NAME SCENARIO USER PASSWORD AUTH_URI [SIPP_ARGS...]: a sipp client authenticating as
# USER; its trace is $work/NAME-caller.msg. Returns sipp's exit status. AUTH_URI is the
# Request-URI without "sip:": the digest's uri must be it (RFC 3261 §22.4), and sipp would
# otherwise use the proxy's address.
auth_uac() {
  local name=$1 sf=$2 user=$3 password=$4 auth_uri=$5
  shift 5
  timeout 30 sipp "127.0.0.1:$proxy" -sf "$scenarios/$sf" -p "$caller_port" -s "$user" \
    -au "$user" -ap "$password" -auth_uri "$auth_uri" -i 127.0.0.1 -t u1 -m 1 -nostdin -timeout 15s -timeout_error \
    -recv_timeout 5000 -trace_msg -message_file "$work/$name-caller.msg" -trace_err \
    -error_file "$work/$name-caller.err" "$@" >"$work/$name-caller.out" 2>&1
}

# count_in FILE REGEX: lines of the trace matching REGEX.
count_in() {
  grep -cE "$2" "$1" 2>/dev/null || true
}

begin register-md5
auth_uac register-md5 register_md5.xml alice alice-secret 127.0.0.1
rc=$?
[ $rc -eq 0 ] || test_failed "sipp did not get 401 then 200 (exit $rc)"
grep -q 'Authorization: Digest username="alice"' "$work/register-md5-caller.msg" ||
  test_failed "sipp sent no Authorization"
grep -q 'WWW-Authenticate: Digest realm="127.0.0.1", nonce="[^"]*", qop="auth", algorithm=MD5' \
  "$work/register-md5-caller.msg" || test_failed "the challenge is not as documented"
passed "401 then 200"

begin register-wrong
auth_uac register-wrong register_wrong.xml alice not-the-password 127.0.0.1
rc=$?
[ $rc -eq 0 ] || test_failed "sipp did not get 401 twice (exit $rc)"
[ "$(count_in "$work/register-wrong-caller.msg" '^SIP/2.0 401 ')" -eq 2 ] ||
  test_failed "expected two 401s"
[ "$(count_in "$work/register-wrong-caller.msg" '^SIP/2.0 200 ')" -eq 0 ] ||
  test_failed "a wrong password got a 200"
passed "401, 401, no 200"

begin invite
uas callee "$uas_port" u1 1 uas_auth.xml
auth_uac invite invite_auth.xml bob bob-secret "bob@127.0.0.1:$uas_port" \
  -key callee "127.0.0.1:$uas_port"
finish $?
[ "$(count_in "$work/invite-caller.msg" '^SIP/2.0 407 ')" -ge 1 ] || test_failed "no 407"
grep -q '^Proxy-Authenticate: Digest realm="127.0.0.1"' "$work/invite-caller.msg" ||
  test_failed "the 407 has no Proxy-Authenticate for the realm"
grep -q '^Proxy-Authorization: Digest username="bob"' "$work/invite-caller.msg" ||
  test_failed "sipp sent no Proxy-Authorization"
[ "$(count_in "$work/invite-callee.msg" '^X-Auth-User: bob')" -ge 1 ] ||
  test_failed "the callee saw no X-Auth-User: bob"
[ "$(count_in "$work/invite-callee.msg" '^Proxy-Authorization')" -eq 0 ] ||
  test_failed "the callee saw the caller's credentials"
passed "407, then the call with X-Auth-User and without credentials"

stop_daemon || fail "the daemon did not stop cleanly"
echo "PASS"
