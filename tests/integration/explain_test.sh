#!/usr/bin/env bash
# Explain mode: a message runs through the routing script, each step and condition is printed with
# its line, and nothing is sent.
#   explain_test.sh STROWGER_BIN
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$work/out" 2>/dev/null; exit 1; }

cat >"$work/strowger.yaml" <<'YAML'
server:
  listen: [ "udp:127.0.0.1:5090" ]
routes:
  request:
    - if: { method: OPTIONS, addressed_to_me: true }
      then: [ { reply: [200, "OK"] } ]
    - if: { ruri.user: { regex: "^\\+?[0-9]{7,15}$" } }
      then:
        - record_route
        - forward: { to: "sip:127.0.0.1:5070" }
    - { reply: [404, "Not Found"] }
YAML
# A message written with LF line ends, as an editor saves it.
cat >"$work/invite.sip" <<'SIP'
INVITE sip:+14155550123@pbx.example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c2e;rport
Max-Forwards: 70
From: "Alice" <sip:alice@example.com>;tag=9fxced76sl
To: <sip:+14155550123@pbx.example.com>
Call-ID: explain-1@example.com
CSeq: 1 INVITE
Content-Length: 0

SIP
"$bin" --explain "$work/invite.sip" -c "$work/strowger.yaml" >"$work/out" 2>&1 || fail "exit status $?"
grep -q "route request" "$work/out" || fail "no route printed"
grep -Eq "if .*OPTIONS.* -> false" "$work/out" || fail "the OPTIONS condition's outcome is missing"
grep -Eq "if .*ruri.user.* -> true" "$work/out" || fail "the ruri.user condition's outcome is missing"
grep -q "(line 8)" "$work/out" || fail "step lines are not printed"
grep -q "outcome: forward over UDP to 127.0.0.1:5070" "$work/out" || fail "the destination is missing"
grep -q "^Record-Route: <sip:127.0.0.1:5090;lr>" "$work/out" || fail "the forwarded message lacks Record-Route"
grep -q "^Max-Forwards: 69" "$work/out" || fail "Max-Forwards was not decremented"

sed -i 's/^INVITE sip:+14155550123@/INVITE sip:alice@/; s/^To: <sip:+14155550123@/To: <sip:alice@/' "$work/invite.sip"
"$bin" --explain "$work/invite.sip" -c "$work/strowger.yaml" >"$work/out" 2>&1 || fail "exit status $?"
grep -q "outcome: reply over UDP to 192.0.2.10:5060" "$work/out" && fail "a reply must go to the source address"
grep -q "outcome: reply over UDP to 127.0.0.1:5062" "$work/out" || fail "the 404 is not where rport says"
grep -q "^SIP/2.0 404 Not Found" "$work/out" || fail "no 404"
echo PASS
