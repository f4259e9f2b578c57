# shellcheck shell=bash
# shellcheck disable=SC2154  # $work is set by the sourcing script.
# Helpers of the registrar + location integration tests (registrar_memory_test.sh,
# registrar_postgres_test.sh). Sourced after ../lib.sh and ../stateful_lib.sh (whose begin, uas,
# uac, finish, expect_count and test_failed drive the calls); the caller sets $work, and
# $REG_PORT, the local port of the sipp that sends the REGISTERs (one at a time).
# Every sipp run is bounded by its own -timeout and -recv_timeout and by timeout(1).

reg_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scenarios="$reg_dir/scenarios"
CHECK="python3 $reg_dir/check_response.py"

# Daemons started by start_named, by name: their process ids and logs.
declare -A NAMED_PID=()
declare -A NAMED_LOG=()

# start_named NAME CONFIG: starts a daemon (log $work/NAME.log; a name used again gets a new log,
# NAME.2.log...) and waits for it to be ready.
start_named() {
  local name=$1 config=$2 log="$work/$1.log" n=1
  while [ -e "$log" ]; do
    n=$((n + 1))
    log="$work/$name.$n.log"
  done
  DAEMON_PID=
  start_daemon "$bin" "$config" "$log" || fail "daemon $name did not start"
  NAMED_PID[$name]=$DAEMON_PID
  NAMED_LOG[$name]=$log
  DAEMON_LOG=$log
  DAEMON_PID=
}

# stop_named NAME: SIGTERM and a clean exit (status 0) within 5 s.
stop_named() {
  local name=$1
  DAEMON_PID=${NAMED_PID[$name]:-}
  [ -n "$DAEMON_PID" ] || return 0
  stop_daemon || fail "daemon $name did not stop cleanly (see ${NAMED_LOG[$name]})"
  NAMED_PID[$name]=
}

# Stops every daemon still running (for the EXIT trap).
stop_all_named() {
  local name
  for name in "${!NAMED_PID[@]}"; do
    [ -n "${NAMED_PID[$name]}" ] || continue
    DAEMON_PID=${NAMED_PID[$name]}
    stop_daemon >/dev/null 2>&1
    NAMED_PID[$name]=
  done
}

# alive NAME: the daemon still runs.
alive() {
  [ -n "${NAMED_PID[$1]:-}" ] && kill -0 "${NAMED_PID[$1]}" 2>/dev/null
}

# register NAME PROXY_PORT USER CALL_ID CSEQ CONTACT_LINE EXPIRES_LINE: one REGISTER for
# sip:USER@127.0.0.1 to the proxy (UDP), from $REG_PORT; its trace is $work/reg-NAME.msg.
# CONTACT_LINE and EXPIRES_LINE are whole header lines ("Contact: <sip:...>", "Contact: *",
# "Expires: 60"), or - for none. Fails the test unless sipp got one of the final responses
# register.xml knows.
register() {
  local name=$1 proxy=$2 user=$3 callid=$4 cseq=$5 contact=$6 expires=$7
  local base="$work/reg-$name"
  [ "$contact" = - ] && contact="X-No-Contact: 1"
  [ "$expires" = - ] && expires="X-No-Expires: 1"
  rm -f "$base.msg" "$base.err"
  timeout 20 sipp "127.0.0.1:$proxy" -sf "$scenarios/register.xml" -i 127.0.0.1 -p "$REG_PORT" \
    -t u1 -m 1 -nostdin -timeout 10s -timeout_error -recv_timeout 5000 \
    -trace_msg -message_file "$base.msg" -trace_err -error_file "$base.err" \
    -cid_str "$callid" -key user "$user" -key reg_cseq "$cseq" \
    -key contact "$contact" -key expires "$expires" >"$base.out" 2>&1
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "--- REGISTER $name: sipp exit $rc"
    tail -n 20 "$base.out"
    [ -s "$base.err" ] && tail -n 20 "$base.err"
    [ -s "$base.msg" ] && cat "$base.msg"
    [ -n "${DAEMON_LOG:-}" ] && tail -n 20 "$DAEMON_LOG"
    fail "REGISTER $name: no usable final response"
  fi
}

# expect_reply NAME CHECK_ARGS...: the last final response in $work/reg-NAME.msg passes
# check_response.py (--status CODE, --contact URI=LOW..HIGH, --no-contact, --header, --date).
expect_reply() {
  local name=$1 out
  shift
  out=$($CHECK "$work/reg-$name.msg" "$@") || {
    echo "$out"
    fail "$name: the response is not as expected ($*)"
  }
}

# reg NAME PROXY USER CALL_ID CSEQ CONTACT_LINE EXPIRES_LINE CHECK_ARGS...: register, then
# expect_reply.
reg() {
  local name=$1
  register "$@"
  shift 7
  expect_reply "$name" "$@"
  echo "ok: $name"
}

# call_refused NAME PROXY_PORT USER STATUS: a call to sip:USER@127.0.0.1:PROXY_PORT from the
# caller port $CALLER_PORT, which the proxy answers STATUS itself (404, 480, 500).
call_refused() {
  local name=$1 proxy=$2 user=$3 status=$4 out
  begin "$name"
  uac caller "$proxy" "$CALLER_PORT" u1 1 uac_refused.xml "$user" "127.0.0.1:$proxy"
  local rc=$?
  [ $rc -eq 0 ] || test_failed "the caller got no 404, 480 or 500 (sipp exit $rc)"
  out=$($CHECK "$work/$name-caller.msg" --status "$status") || {
    echo "$out"
    test_failed "the proxy's answer to the call is not $status"
  }
  passed "$status"
}

# call_ok NAME PROXY_PORT USER UAS_PORT: a full call to sip:USER@127.0.0.1:PROXY_PORT that the
# location service sends to the sipp phone at UAS_PORT (registered as sip:USER@127.0.0.1:UAS_PORT).
call_ok() {
  local name=$1 proxy=$2 user=$3 uas_port=$4
  begin "$name"
  uas phone "$uas_port" u1 1 uas_call.xml
  uac caller "$proxy" "$CALLER_PORT" u1 1 uac_call.xml "$user" "127.0.0.1:$proxy"
  finish $?
  expect_count phone recv "^INVITE sip:$user@127\\.0\\.0\\.1:$uas_port SIP/2\\.0\$" - 1 \
    "INVITEs at the phone for the Contact it registered"
  expect_count phone recv '^BYE ' - 1 "BYEs at the phone"
  # The phone retransmits its 200 until the ACK reaches it (RFC 3261 §13.3.1.4); on a busy
  # machine that may take more than T1, and the proxy passes each retransmission on.
  expect_between "200s for the INVITE at the caller" \
    "$(count caller recv '^SIP/2.0 200 ' INVITE)" 1 3
  passed "call reached the registered phone"
}

# stats NAME: SIGUSR1 to daemon NAME, then (5 s at most) its new statistics lines. Sets LOC_STATS
# and REG_STATS to what follows "module location: " and "module registrar: ".
stats() {
  local name=$1 log=${NAMED_LOG[$1]} before
  before=$(grep -c 'module registrar: ' "$log")
  kill -USR1 "${NAMED_PID[$name]}" || fail "$name: SIGUSR1 failed"
  for _ in $(seq 1 50); do
    [ "$(grep -c 'module registrar: ' "$log")" -gt "$before" ] && break
    sleep 0.1
  done
  [ "$(grep -c 'module registrar: ' "$log")" -gt "$before" ] ||
    fail "$name: no module statistics in the log 5 s after SIGUSR1"
  # The location module is loaded (and reports) before the registrar.
  # shellcheck disable=SC2034  # both are read by the test scripts
  LOC_STATS=$(grep 'module location: ' "$log" | tail -n 1 | sed 's/.*module location: //')
  # shellcheck disable=SC2034
  REG_STATS=$(grep 'module registrar: ' "$log" | tail -n 1 | sed 's/.*module registrar: //')
}

# expect_stats WHAT LINE "name value"...: each "name value" is a field of the statistics line.
expect_stats() {
  local what=$1 line=$2 field
  shift 2
  for field in "$@"; do
    case ", $line," in
      *", $field,"*) ;;
      *) fail "$what statistics: expected \"$field\" in: $line" ;;
    esac
  done
}

# stat_value LINE NAME: the value of one field of a statistics line.
stat_value() {
  echo ", $1," | grep -o ", $2 [^,]*," | sed "s/^, $2 //; s/,\$//"
}

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds; fails after
# SECONDS.
wait_for() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + limit))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within $limit s"
    sleep 0.2
  done
}

# registrar_routes: the routes section both registrar tests run: in-dialog requests by their
# route set, REGISTER to the registrar, everything else looked up and relayed.
registrar_routes() {
  cat <<'YAML'
routes:
  request:
    - if: { has_to_tag: true }
      then:
        - if: { loose_route: true }
          then: [ relay ]
        - if: { method: ACK }
          then: [ drop ]
        - { reply: [404, "Not Here"] }
    - if: { method: REGISTER }
      then: [ registrar.save ]
    - record_route
    # Defaults: 404 not found, 480 all expired, 500 failed.
    - location.lookup
    - relay
YAML
}

# check_config FILE: the daemon must accept FILE (uses $bin).
check_config() {
  "$bin" --check-config "$1" >"$1.check" 2>&1 || {
    cat "$1.check"
    fail "the daemon refuses the configuration $1"
  }
}
