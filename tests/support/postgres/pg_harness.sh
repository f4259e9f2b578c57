# A throwaway PostgreSQL server for tests: a bash library, meant to be sourced.
#
#   source tests/support/postgres/pg_harness.sh
#   pg_available || exit 77          # not installed: skip (ctest SKIP_RETURN_CODE 77)
#   trap pg_cleanup EXIT
#   pg_start || exit 1               # exports PG_CONNINFO, PG_DIR, PG_PORT
#   psql "$PG_CONNINFO" -c 'select 1'
#   pg_stop; pg_restart              # an outage, then the same cluster back
#
# The server listens on a unix socket in its own temporary directory only (no TCP, so tests run
# in parallel without fighting over ports); the port number only names the socket, and is still
# chosen per instance because PostgreSQL also derives its shared-memory key from it.
# PostgreSQL refuses to run as root, so as root the cluster belongs to `postgres` and every
# server command runs through `runuser`.

# The directory holding initdb, pg_ctl and postgres, or nothing.
pg_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null)
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
      echo "$dir"
      return 0
    fi
  fi
  # Debian puts the server binaries beside the version, not on PATH; take the newest.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

# True when a server can be started here (binaries present; as root, a `postgres` user to run it).
pg_available() {
  pg_bindir >/dev/null || return 1
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1 || return 1
  fi
  return 0
}

# Runs a server command as the cluster's owner.
_pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

_pg_ctl_start() {
  _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    >>"$PG_DIR/pg_ctl.log" 2>&1 || {
    echo "pg_harness: the server did not start; its log:" >&2
    cat "$PG_DIR/server.log" >&2 2>/dev/null
    return 1
  }
}

# Creates a cluster in a new temporary directory and starts it. Exports PG_DIR, PG_PORT, PG_BINDIR
# and PG_CONNINFO (libpq key=value form, user postgres, database postgres).
pg_start() {
  PG_BINDIR=$(pg_bindir) || {
    echo "pg_harness: PostgreSQL server binaries not found" >&2
    return 1
  }
  PG_DIR=$(mktemp -d /tmp/strowger-pg.XXXXXX) || return 1
  # postgres must be able to reach its socket and data directory under it.
  chmod 755 "$PG_DIR"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$PG_DIR"
  fi
  # Unique per instance: the pid and a random offset, inside the unprivileged range.
  PG_PORT=$((20000 + ($$ * 131 + RANDOM) % 40000))
  export PG_DIR PG_PORT PG_BINDIR

  # trust: the socket is only reachable through a private directory. --no-sync and fsync=off:
  # a test cluster need not survive a power cut.
  _pg_as_owner "$PG_BINDIR/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --locale=C \
    --no-sync >"$PG_DIR/initdb.log" 2>&1 || {
    echo "pg_harness: initdb failed:" >&2
    cat "$PG_DIR/initdb.log" >&2
    return 1
  }
  cat >>"$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_DIR'
port = $PG_PORT
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 40
dynamic_shared_memory_type = mmap
CONF
  _pg_ctl_start || return 1
  export PG_CONNINFO="host=$PG_DIR port=$PG_PORT dbname=postgres user=postgres"
}

# Stops the server fast (open sessions are cut off, as in an outage); the cluster stays.
pg_stop() {
  [[ -n "${PG_DIR:-}" && -d "$PG_DIR/data" ]] || return 0
  _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop \
    >>"$PG_DIR/pg_ctl.log" 2>&1
}

# Starts the stopped cluster again (same directory, port and PG_CONNINFO).
pg_restart() {
  pg_stop
  _pg_ctl_start
}

# Stops the server if it runs and removes everything; safe to call twice, and from a trap.
pg_cleanup() {
  [[ -n "${PG_DIR:-}" ]] || return 0
  if [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
    _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 30 stop \
      >/dev/null 2>&1
  fi
  rm -rf "$PG_DIR"
  unset PG_DIR PG_PORT PG_CONNINFO
}
