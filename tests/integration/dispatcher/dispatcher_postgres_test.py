#!/usr/bin/env python3
"""The dispatcher's sets from PostgreSQL end to end: a real PostgreSQL server that the test starts
in a temporary directory (unix socket only), the real daemon on loopback, three sipp "gateways"
and a sipp caller.

  1. the database is down at start: the daemon starts with the set empty and one warning; a call
     gets the all-down reply; the server comes up with a table of two gateways and the module's
     retries load it without another warning;
  2. calls spread over the two gateways (round robin);
  3. a row for a third gateway and SIGHUP: the table is read again, calls reach all three, and the
     first two keep their states (no transition line);
  4. a bad row (weight 500) and SIGHUP: the table is refused with a line naming the row, and calls
     still spread over the three;
  5. the database stopped and SIGHUP: one warning, the running sets stay and take calls; SIGUSR1
     says db DOWN with the counts; the server back: the retries load the table again.

  dispatcher_postgres_test.py STROWGER_BIN SCENARIO_DIR

Exit status: 0 pass, 1 fail, 77 skip (sipp or the PostgreSQL server missing).
"""
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dispatcher_test import Failure, Test, wait_for  # noqa: E402


def pg_bindir():
    """The directory of initdb, pg_ctl and postgres, or None."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    # Debian keeps the server binaries beside the version; the newest first.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda d: int(re.sub(r"\D", "", d.split("/")[-2]) or 0), reverse=True)
    for d in candidates:
        if all(os.access(os.path.join(d, tool), os.X_OK) for tool in ("initdb", "pg_ctl",
                                                                       "postgres")):
            return d
    return None


def pg_available():
    if pg_bindir() is None:
        return False
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            return False
        return shutil.which("runuser") is not None
    return True


class Postgres:
    """A throwaway cluster listening on a unix socket in its own directory only."""

    def __init__(self):
        self.bindir = pg_bindir()
        self.dir = tempfile.mkdtemp(prefix="strowger-pg-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        # Names the socket and the shared-memory key only: no TCP port is opened.
        self.port = random.randint(20000, 59999)
        self.conninfo = f"host={self.dir} port={self.port} dbname=postgres user=postgres"

    def _as_owner(self, argv):
        return (["runuser", "-u", "postgres", "--"] + argv) if os.geteuid() == 0 else argv

    def _run(self, argv, what):
        with open(os.path.join(self.dir, "pg_ctl.log"), "a") as log:
            result = subprocess.run(self._as_owner(argv), stdout=log, stderr=subprocess.STDOUT,
                                    timeout=90)
        if result.returncode != 0:
            server_log = os.path.join(self.dir, "server.log")
            text = open(server_log).read()[-2000:] if os.path.exists(server_log) else ""
            raise Failure(f"PostgreSQL {what} failed:\n{text}")

    def init(self):
        self._run([os.path.join(self.bindir, "initdb"), "-D", os.path.join(self.dir, "data"),
                   "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
                  "initdb")
        with open(os.path.join(self.dir, "data", "postgresql.conf"), "a") as conf:
            conf.write(f"listen_addresses = ''\nunix_socket_directories = '{self.dir}'\n"
                       f"port = {self.port}\nfsync = off\nsynchronous_commit = off\n"
                       "full_page_writes = off\nshared_buffers = 16MB\nmax_connections = 20\n"
                       "dynamic_shared_memory_type = mmap\n")

    def start(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", os.path.join(self.dir, "data"),
                   "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60", "start"],
                  "start")

    def stop(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", os.path.join(self.dir, "data"),
                   "-m", "fast", "-w", "-t", "60", "stop"], "stop")

    def sql(self, statements):
        """Runs STATEMENTS in one transaction (psql -c)."""
        psql = os.path.join(self.bindir, "psql")
        if not os.access(psql, os.X_OK):
            psql = "psql"
        result = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.conninfo,
                                 "-c", statements], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise Failure(f"psql: {statements}: {result.stderr}")

    def cleanup(self):
        if os.path.exists(os.path.join(self.dir, "data", "postmaster.pid")):
            subprocess.run(self._as_owner([os.path.join(self.bindir, "pg_ctl"), "-D",
                                           os.path.join(self.dir, "data"), "-m", "immediate",
                                           "-w", "-t", "30", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresTest(Test):
    def __init__(self, binary, scenarios, work):
        super().__init__(binary, scenarios, work)
        self.pg = Postgres()

    def write_db_config(self):
        text = f"""server:
  listen: [ "udp:127.0.0.1:{self.proxy}" ]
  workers: 2
  log: {{ level: info }}
  transactions: {{ fr_timeout: 2000, fr_inv_timeout: 5000 }}
modules:
  dispatcher:
    database:
      conninfo: "{self.pg.conninfo}"
      table: dispatcher
      retry_interval: 1
      load_timeout: 2
    probe:
      interval: 1
      timeout: 1
      failures_to_inactive: 2
      successes_to_active: 2
      probe_mode: all
    sets:
      gateways:
        algorithm: round_robin
        from_database: true
routes:
  request:
    - if: {{ has_to_tag: true }}
      then:
        - if: {{ loose_route: true }}
          then: [ relay ]
        - reply: [404, "Not Here"]
    - record_route
    - dispatcher.select: {{ set: gateways, all_down: [480, "All Gateways Down"] }}
    - log: "dispatch ${{callid}} to ${{dst.uri}} (${{dst.set}} ${{dst.attr.name}})"
    - relay
"""
        with open(self.config_path, "w") as f:
            f.write(text)

    def row(self, index, weight=1):
        return f"('gateways', '{self.uri(index)}', {weight}, 0, NULL, 'name=gw{index + 1}')"

    def lines(self, text, since=0):
        return [line for line in self.log()[since:].splitlines() if text in line]

    def hup(self):
        mark = len(self.log())
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "the new configuration is in service" in self.log()[mark:], 10,
                 "the reload in service")
        return mark

    def spread(self, calls, gateways, what):
        """CALLS calls; each of GATEWAYS must take calls / len(GATEWAYS) of them."""
        before = [self.invites(i) for i in gateways]
        mark = len(self.log())
        self.call(calls)
        self.settle()
        got = [self.invites(i) - b for i, b in zip(gateways, before)]
        share = calls // len(gateways)
        if got != [share] * len(gateways):
            raise Failure(f"{what}: INVITEs per gateway {got}, dispatched to "
                          f"{self.dispatched(mark)}")
        return got

    def run(self):
        for i in range(3):
            self.start_gateway(i)
        self.pg.init()
        self.write_db_config()

        # 1. The database is down at start.
        self.start_daemon()
        wait_for(lambda: self.lines("dispatcher: database DOWN"), 10, "the warning of a database "
                 "that is down")
        self.call(1, "caller_rejected.xml")
        self.pg.start()
        self.pg.sql("CREATE TABLE dispatcher (setid text NOT NULL, destination text NOT NULL, "
                    "weight integer DEFAULT 1, priority integer DEFAULT 0, socket text, "
                    "attrs text, PRIMARY KEY (setid, destination)); "
                    f"INSERT INTO dispatcher VALUES {self.row(0)}, {self.row(1)};")
        wait_for(lambda: self.lines("dispatcher: loaded 2 rows from table dispatcher"), 15,
                 "the retries loading the table")
        warnings = self.lines("dispatcher: database DOWN")
        if len(warnings) != 1:
            raise Failure(f"a database down at start: {len(warnings)} warnings, expected one:\n"
                          + "\n".join(warnings))
        print("ok: database down at start: one warning, the all-down reply, then the retries "
              "loaded the table")

        # 2. Calls spread over the two gateways.
        got = self.spread(4, [0, 1], "two gateways from the table")
        if self.invites(2) != 0:
            raise Failure("the third gateway, not in the table, got calls")
        names = re.findall(r"dispatch \S+ to sip:\S+ \(gateways (gw\d)\)", self.log())
        if sorted(names) != ["gw1", "gw1", "gw2", "gw2"]:
            raise Failure(f"the attrs column as ${{dst.attr.name}}: {names}")
        print(f"ok: two gateways from the table: INVITEs {got}, attrs as dst.attr")

        # 3. A third row and SIGHUP.
        self.pg.sql(f"INSERT INTO dispatcher VALUES {self.row(2)};")
        mark = self.hup()
        wait_for(lambda: self.lines("dispatcher: loaded 3 rows", mark), 10,
                 "the table read again after SIGHUP")
        got = self.spread(6, [0, 1, 2], "three gateways after the reload")
        time.sleep(1.5)  # probe rounds that a reset state would show as transitions
        for uri in (self.uri(0), self.uri(1), self.uri(2)):
            moved = [line for line in self.lines(f" {uri} ", mark) if " -> " in line]
            if moved:
                raise Failure(f"{uri} changed state across the reload: {moved}")
        print(f"ok: a row added and SIGHUP: INVITEs {got}; no state changed")

        # 4. A bad row and SIGHUP: refused, the old sets stay.
        dead = f"sip:127.0.0.1:{self.dead_port}"
        self.pg.sql(f"INSERT INTO dispatcher VALUES ('gateways', '{dead}', 500, 0, NULL, NULL);")
        mark = self.hup()
        expected = (f'dispatcher: table dispatcher refused: row (setid "gateways", destination '
                    f'"{dead}"): weight "500": expected an integer from 0 to 100')
        wait_for(lambda: self.lines(expected, mark), 10, "the refusal naming the bad row")
        got = self.spread(3, [0, 1, 2], "after the refused reload")
        if dead in self.dispatched(mark):
            raise Failure("a call went to the bad row's destination")
        print(f"ok: a bad row and SIGHUP: refused naming the row; calls still spread {got}")

        # 5. The database stopped and SIGHUP.
        self.pg.sql(f"DELETE FROM dispatcher WHERE destination = '{dead}';")
        self.pg.stop()
        mark = self.hup()
        wait_for(lambda: self.lines("dispatcher: database DOWN", mark), 10,
                 "the warning of a database down at reload")
        time.sleep(2.5)  # retries, which say nothing more
        warnings = self.lines("dispatcher: database DOWN", mark)
        if len(warnings) != 1:
            raise Failure(f"a database down at reload: {len(warnings)} warnings, expected one")
        got = self.spread(3, [0, 1, 2], "with the database down")
        stats_mark = len(self.log())
        self.daemon.send_signal(signal.SIGUSR1)
        wait_for(lambda: self.lines("module dispatcher", stats_mark), 5, "statistics")
        stats = self.lines("module dispatcher", stats_mark)[0]
        for wanted in ("db DOWN", "db_loads 2,", "db_rejected 1,", "db_rows 3",
                       f"gateways {self.uri(2)} active"):
            if wanted not in stats:
                raise Failure(f"statistics without {wanted!r}: {stats}")
        failures = int(re.search(r"db_failures (\d+)", stats).group(1))
        if failures < 3:  # start, the reload, and at least one retry
            raise Failure(f"db_failures {failures}: {stats}")
        print(f"ok: database stopped and SIGHUP: one warning, the sets kept (INVITEs {got}), "
              "statistics say db DOWN")

        mark = len(self.log())
        self.pg.start()
        wait_for(lambda: self.lines("dispatcher: loaded 3 rows", mark), 15,
                 "the retries loading the table once the database is back")
        if not self.lines("dispatcher: database up again", mark):
            raise Failure("no line saying the database is up again")
        print("ok: the database back: the retries loaded the table")

    def cleanup(self):
        super().cleanup()
        self.pg.cleanup()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, scenarios = sys.argv[1], sys.argv[2]
    if shutil.which("sipp") is None:
        print("SKIP: sipp is not installed (Debian package sip-tester)")
        return 77
    if not pg_available():
        print("SKIP: the PostgreSQL server is not installed (Debian package postgresql)")
        return 77
    module = os.path.join(os.path.dirname(os.path.abspath(binary)), "modules", "dispatcher.so")
    if not os.path.exists(module):
        print(f"FAIL: {module} is not built (it is part of every build)")
        return 1
    work = tempfile.mkdtemp(prefix="strowger-dispatcher-pg-")
    test = PostgresTest(binary, scenarios, work)
    try:
        test.run()
    except (Failure, subprocess.TimeoutExpired) as failure:
        print(f"FAIL: {failure}")
        print(f"(files kept in {work})")
        test.cleanup()
        return 1
    test.cleanup()
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
