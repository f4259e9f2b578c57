#!/usr/bin/env bash
# Keeps the benchmark profile runnable as the modules change: every bench/configs/*.yaml must pass
# `strowger --check-config`, and strowger-regauth.sh must turn a users.csv as the harness writes it
# into a configuration that names a users file with exactly those users, that the auth module
# accepts, and that the daemon is started on. A users.csv without passwords or a missing one must
# stop it.
#
#   check-configs.sh STROWGER
set -euo pipefail
strowger=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for config in "$here"/configs/*.yaml; do
  if ! "$strowger" --check-config "$config"; then
    fail "$config does not pass --check-config"
  fi
done

# Stands in for the daemon: strowger-regauth.sh execs it with "-c CONFIG --workers N ...";
# it checks that configuration instead of running it, and records what it was given.
cat > "$work/fake-strowger" <<EOF
#!/usr/bin/env bash
echo "\$@" > "$work/fake-args"
exec "$strowger" --check-config "\$2"
EOF
chmod +x "$work/fake-strowger"

run_dir=$work/run
mkdir "$run_dir"
{
  echo SEQUENTIAL
  for i in 0 1 2; do
    echo "u$i;127.0.0.1:5080;[authentication username=u$i password=bench]"
  done
} > "$run_dir/users.csv"
if ! (cd "$run_dir" && "$here/strowger-regauth.sh" "$work/fake-strowger" \
  "$here/configs/regauth.yaml" 3); then
  fail "strowger-regauth.sh did not produce a valid configuration"
fi
if [[ "$(cat "$work/fake-args" 2>/dev/null)" != "-c $run_dir/regauth.yaml --workers 3 --log-level warning" ]]; then
  fail "strowger-regauth.sh started the daemon with: $(cat "$work/fake-args" 2>/dev/null)"
fi
expected_users=$'users:
  - { user: "u0", domain: "127.0.0.1", password: "bench" }
  - { user: "u1", domain: "127.0.0.1", password: "bench" }
  - { user: "u2", domain: "127.0.0.1", password: "bench" }'
if [[ "$(cat "$run_dir/regauth-users.yaml" 2>/dev/null)" != "$expected_users" ]]; then
  fail "regauth-users.yaml is not the users of users.csv:"
  cat "$run_dir/regauth-users.yaml" >&2 || true
fi
if ! grep -q '^    users_file: regauth-users.yaml$' "$run_dir/regauth.yaml" 2>/dev/null; then
  fail "the run's regauth.yaml does not name regauth-users.yaml"
fi

no_password_dir=$work/no-password
mkdir "$no_password_dir"
printf 'SEQUENTIAL\nu0;127.0.0.1:5080;[authentication username=u0]\n' > "$no_password_dir/users.csv"
if (cd "$no_password_dir" && "$here/strowger-regauth.sh" "$work/fake-strowger" \
  "$here/configs/regauth.yaml" 2) 2>/dev/null; then
  fail "strowger-regauth.sh accepted a users.csv line without a password"
fi
if (cd "$work" && "$here/strowger-regauth.sh" "$work/fake-strowger" \
  "$here/configs/regauth.yaml" 2) 2>/dev/null; then
  fail "strowger-regauth.sh started without a users.csv"
fi

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "bench configurations OK"
