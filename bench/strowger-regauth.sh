#!/usr/bin/env bash
# Starts Strowger for the bench scenario "regauth". Kamailio's regauth.cfg accepts any user with
# the one password; the auth module knows the users it is given, so this lists every user of the
# run: it reads the harness's injection file users.csv in the run directory (the working
# directory; one "USER;CONTACT;[authentication username=USER password=PASSWORD]" line per
# registration after the SEQUENTIAL header), writes regauth-users.yaml there (realm 127.0.0.1, the
# To host of the scenario) and a copy of CONFIG whose `users: []` names it, and runs Strowger on
# that copy.
#
#   strowger-regauth.sh BINARY CONFIG WORKERS
set -euo pipefail
binary=$1 config=$2 workers=$3
rundir=$PWD
users_csv=$rundir/users.csv
[[ -r $users_csv ]] || {
  echo "strowger-regauth.sh: no $users_csv (the harness writes it before starting the proxy)" >&2
  exit 1
}
awk -F';' '
  BEGIN { print "users:" }
  NR == 1 { next }
  $1 == "" { next }
  {
    if (!match($3, /password=[^] ]+/)) {
      printf "users.csv:%d: no password=... in the authentication field\n", NR > "/dev/stderr"
      exit 1
    }
    password = substr($3, RSTART + 9, RLENGTH - 9)
    printf "  - { user: \"%s\", domain: \"127.0.0.1\", password: \"%s\" }\n", $1, password
  }' "$users_csv" > "$rundir/regauth-users.yaml"
sed 's|^\( *\)users: \[\].*$|\1users_file: regauth-users.yaml|' "$config" > "$rundir/regauth.yaml"
grep -q 'users_file: regauth-users.yaml' "$rundir/regauth.yaml" || {
  echo "strowger-regauth.sh: no \"users: []\" line in the auth section of $config" >&2
  exit 1
}
exec "$binary" -c "$rundir/regauth.yaml" --workers "$workers" --log-level warning
