#!/usr/bin/env python3
"""The auth module's users and trusted lists from PostgreSQL, end to end: the real daemon on
loopback and a real PostgreSQL server this test starts in a temporary directory
(tests/support/postgres/pg_harness.sh: initdb and pg_ctl, a unix socket only).

  - a subscriber row (Kamailio's columns and ha1_sha256): REGISTER with SHA-256 and with MD5
    (this file's client) succeeds, and with sipp's own MD5 [authentication] for a row without
    ha1_sha256;
  - a user in both the configuration and the table: the configuration's password wins;
  - a trusted row (list "carriers", declared empty in the configuration) lets its source through
    without a challenge; another source is challenged;
  - a row added, then SIGHUP (refresh 0: only a reload reads the table): that user registers;
  - PostgreSQL stopped, then SIGHUP (several): a cached user still registers, the daemon logs the
    outage once and counts the failures (db DOWN);
  - a second daemon started while PostgreSQL is down starts in time with its configured users
    and one warning;
  - PostgreSQL back: both daemons log the recovery once (retrying every 5 s), a user added
    during the outage registers, the statistics say db up.

  auth_postgres_test.py STROWGER_BIN

Exit status: 0 pass, 77 skipped (no PostgreSQL server binaries, psql or sipp), 1 fail.
"""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from auth_digest_test import (  # noqa: E402  (the shared client lives beside this file)
    Daemon, Failure, Phone, check, config, free_port)

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "..", "..", "support", "postgres", "pg_harness.sh")
SCENARIOS = os.path.join(HERE, "scenarios")
REALM = "127.0.0.1"
REG_URI = "sip:127.0.0.1"

ROUTES = """routes:
  request:
    - if: { method: [ACK, CANCEL] }
      then: [ drop ]
    - if: { method: REGISTER }
      then: [ auth.require, registrar.save ]
    - if: { auth.trusted: carriers }
      then: [ { reply: [200, "Trusted"] } ]
    - auth.require
    - { reply: [200, "Authenticated"] }
"""


class Postgres:
    """pg_harness.sh's server, driven from here: each call sources the harness in a new bash with
    the variables pg_start exported."""

    def __init__(self):
        self.env = dict(os.environ)
        self.started = False

    def _bash(self, command, timeout=120):
        return subprocess.run(["bash", "-c", f'source "{HARNESS}"; {command}'], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def available(self):
        return self._bash("pg_available").returncode == 0

    def start(self):
        result = self._bash('pg_start || exit 1; for v in PG_DIR PG_PORT PG_BINDIR PG_CONNINFO; '
                            'do echo "$v=${!v}"; done')
        check(result.returncode == 0, "pg_start failed:\n" + result.stdout + result.stderr)
        for line in result.stdout.splitlines():
            name, _, value = line.partition("=")
            self.env[name] = value
        self.started = True
        return self.env["PG_CONNINFO"]

    def stop(self):
        result = self._bash("pg_stop")
        check(result.returncode == 0, "pg_stop failed:\n" + result.stderr)

    def restart(self):
        result = self._bash("pg_restart")
        check(result.returncode == 0, "pg_restart failed:\n" + result.stderr)

    def cleanup(self):
        if self.started:
            self._bash("pg_cleanup", timeout=60)
            self.started = False

    def sql(self, statement):
        result = subprocess.run(["psql", self.env["PG_CONNINFO"], "-v", "ON_ERROR_STOP=1", "-qAt",
                                 "-c", statement], capture_output=True, text=True, timeout=30)
        check(result.returncode == 0, f"psql {statement!r}:\n{result.stderr}")
        return result.stdout


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def add_subscriber(pg, user, password, with_sha256=True):
    ha1 = md5(f"{user}:{REALM}:{password}")
    # Kamailio's ha1b: H(user@domain:realm:password), for clients that send user@domain as the
    # user name. Not used by the auth module; filled here as Kamailio would.
    ha1b = md5(f"{user}@{REALM}:{REALM}:{password}")
    ha1_sha256 = f"'{sha256(f'{user}:{REALM}:{password}')}'" if with_sha256 else "NULL"
    pg.sql("INSERT INTO subscriber (username, domain, ha1, ha1b, ha1_sha256) VALUES "
           f"('{user}', '{REALM}', '{ha1}', '{ha1b}', {ha1_sha256})")


def register(phone, user, password, algorithm):
    _, final = phone.authenticated("REGISTER", REG_URI, user, password, algorithm=algorithm,
                                   to_uri=f"sip:{user}@{REALM}")
    return final


def sipp_register(tmp, proxy_port, user, password):
    """sipp's MD5 [authentication]: 401, then 200. Returns sipp's exit status."""
    caller_port = free_port()
    with open(os.path.join(tmp, f"sipp-{user}.out"), "w") as out:
        return subprocess.run(
            ["sipp", f"127.0.0.1:{proxy_port}", "-sf", os.path.join(SCENARIOS, "register_md5.xml"),
             "-p", str(caller_port), "-s", user, "-au", user, "-ap", password, "-auth_uri",
             REALM, "-i", "127.0.0.1", "-t", "u1", "-m", "1", "-nostdin", "-timeout", "15s",
             "-timeout_error", "-recv_timeout", "5000"],
            stdout=out, stderr=subprocess.STDOUT, timeout=30, cwd=tmp).returncode


def wait_stats(daemon, condition, what, timeout=15):
    """Statistics (SIGUSR1) until `condition` holds for them, at most `timeout` seconds."""
    deadline = time.time() + timeout
    stats = daemon.stats()
    while not condition(stats):
        check(time.time() < deadline, f"{what}: statistics {stats}")
        time.sleep(0.2)
        stats = daemon.stats()
    return stats


def reload(daemon):
    """SIGHUP, and the reload's database load finished (one more load or failure)."""
    before = daemon.stats()
    done = int(before["db_loads"]) + int(before["db_failures"])
    daemon.proc.send_signal(signal.SIGHUP)
    return wait_stats(daemon, lambda s: int(s["db_loads"]) + int(s["db_failures"]) > done,
                      "no database load after SIGHUP")


def auth_section(conninfo):
    return f"""    algorithms: [MD5, SHA-256]   # sipp answers the first challenge and knows only MD5
    secret: "an-example-secret-of-32-characters"
    users:
      - {{ user: yamluser, domain: {REALM}, password: yaml-secret }}
      - {{ user: clash, domain: {REALM}, password: from-the-configuration }}
    trusted:
      carriers: []
    database:
      conninfo: "{conninfo}"
      table: subscriber
      trusted_table: trusted
      refresh: 0
    ban: {{ threshold: 50 }}"""


def config_errors(binary, tmp):
    """--check-config refuses bad database settings, naming file, line, column and what was
    expected (no server needed: the configuration is only read)."""
    path = os.path.join(tmp, "bad.yaml")
    cases = [
        ("    database: { table: subscriber }",
         r"bad\.yaml:\d+:\d+: modules\.auth\.database\.conninfo: missing; expected a libpq"),
        ('    database: { conninfo: "dbname=x", table: "x; DROP TABLE y" }',
         r"bad\.yaml:\d+:\d+: modules\.auth\.database\.table: expected a table name"),
        ('    database: { conninfo: "dbname=x", refrsh: 5 }',
         r"bad\.yaml:\d+:\d+: modules\.auth\.database\.refrsh: unknown key.*did you mean "
         r"\"refresh\""),
        ('    database: { conninfo: "dbname=x", refresh: -1 }',
         r"bad\.yaml:\d+:\d+: modules\.auth\.database\.refresh: expected an integer from 0"),
        # A list only the table names is not usable: the routes are checked at load.
        ('    database: { conninfo: "dbname=x", trusted_table: trusted }',
         r"bad\.yaml:\d+:\d+: .*unknown trusted list \"carriers\".*maybe empty: carriers: \[\]"),
    ]
    for section, expected in cases:
        with open(path, "w") as f:
            f.write(config(free_port(), section, ROUTES))
        result = subprocess.run([binary, "--check-config", path], capture_output=True, text=True,
                                timeout=30)
        output = result.stdout + result.stderr
        check(result.returncode != 0, f"accepted: {section}")
        check(re.search(expected, output), f"for {section!r} expected /{expected}/ in:\n{output}")
    print("ok: bad database settings refused, naming file:line:column and what was expected")


def run(binary, tmp, pg):
    config_errors(binary, tmp)
    conninfo = pg.start()
    # Kamailio's subscriber columns, and ha1_sha256 for SHA-256.
    pg.sql("CREATE TABLE subscriber (id serial PRIMARY KEY, username varchar(64) NOT NULL, "
           "domain varchar(64) NOT NULL, password varchar(64) NOT NULL DEFAULT '', "
           "ha1 varchar(128) NOT NULL DEFAULT '', ha1b varchar(128) NOT NULL DEFAULT '', "
           "ha1_sha256 varchar(128), UNIQUE (username, domain))")
    pg.sql("CREATE TABLE trusted (id serial PRIMARY KEY, list varchar(32) NOT NULL, "
           "cidr inet NOT NULL)")
    add_subscriber(pg, "alice", "alice-secret")
    add_subscriber(pg, "bob", "bob-secret", with_sha256=False)
    add_subscriber(pg, "clash", "from-the-database")
    pg.sql("INSERT INTO trusted (list, cidr) VALUES ('carriers', '127.0.0.9/32')")

    port = free_port()
    main = Daemon(binary, tmp, "main", config(port, auth_section(conninfo), ROUTES))
    daemons = [main]
    phones = []

    def phone(ip, proxy=port):
        p = Phone(ip, proxy)
        phones.append(p)
        return p

    try:
        check(main.wait_log(r"auth: 3 users and 1 trusted ranges loaded from the database"),
              "no first load in the log")
        stats = main.stats()
        check(stats.get("db") == "up" and stats.get("db_users") == "3"
              and stats.get("db_loads") == "1" and stats.get("db_failures") == "0",
              f"statistics after the first load: {stats}")
        print("ok: the first load at start: 3 users, 1 trusted range, db up")

        alice = phone("127.0.0.1")
        final = register(alice, "alice", "alice-secret", "SHA-256")
        check(final.code == 200, f"alice with SHA-256: {final.start}")
        final = register(alice, "alice", "alice-secret", "MD5")
        check(final.code == 200, f"alice with MD5: {final.start}")
        final = register(alice, "alice", "wrong", "SHA-256")
        check(final.code == 401, f"alice with a wrong password: {final.start}")
        print("ok: a subscriber row registers with SHA-256 and with MD5; a wrong password -> 401")

        rc = sipp_register(tmp, port, "bob", "bob-secret")
        check(rc == 0, f"sipp (MD5) as bob, a row without ha1_sha256: exit {rc}")
        final = register(alice, "bob", "bob-secret", "SHA-256")
        check(final.code == 401, f"bob has no SHA-256 HA1, yet SHA-256 passed: {final.start}")
        print("ok: sipp registers bob with MD5; bob (ha1_sha256 NULL) cannot use SHA-256")

        final = register(alice, "clash", "from-the-configuration", "SHA-256")
        check(final.code == 200, f"clash with the configuration's password: {final.start}")
        final = register(alice, "clash", "from-the-database", "SHA-256")
        check(final.code == 401, f"clash with the table's password: {final.start}")
        final = register(alice, "yamluser", "yaml-secret", "MD5")
        check(final.code == 200, f"a configuration user beside the table: {final.start}")
        print("ok: configuration and table merged; on a clash the configuration wins")

        carrier = phone("127.0.0.9")
        answer = carrier.request("OPTIONS", REG_URI, "carrier")
        check(answer.code == 200 and answer.start.endswith("Trusted"),
              f"the trusted row's source: {answer.start}")
        stranger = phone("127.0.0.10")
        answer = stranger.request("OPTIONS", REG_URI, "stranger")
        check(answer.code in (401, 407), f"a source in no trusted row: {answer.start}")
        print("ok: a trusted row lets its source through; another source is challenged")

        add_subscriber(pg, "dave", "dave-secret")
        final = register(alice, "dave", "dave-secret", "SHA-256")
        check(final.code == 401, f"dave before the reload: {final.start}")
        stats = reload(main)
        check(stats["db_users"] == "4" and stats["db"] == "up", f"after SIGHUP: {stats}")
        final = register(alice, "dave", "dave-secret", "SHA-256")
        check(final.code == 200, f"dave after SIGHUP: {final.start}")
        print("ok: a row added, SIGHUP: that user registers")

        # --- the outage ---
        pg.stop()
        stats = reload(main)
        check(stats["db"] == "DOWN" and int(stats["db_failures"]) >= 1, f"after the stop: {stats}")
        check(main.wait_log(r"\[warning\] auth: database unavailable, serving 4 cached users: "),
              "no outage line")
        final = register(alice, "dave", "dave-secret", "SHA-256")
        check(final.code == 200, f"a cached user during the outage: {final.start}")
        final = register(alice, "bob", "bob-secret", "MD5")
        check(final.code == 200, f"another cached user during the outage: {final.start}")
        for _ in range(2):
            reload(main)
        stats = main.stats()
        check(int(stats["db_failures"]) >= 3 and stats["db_users"] == "4",
              f"statistics during the outage: {stats}")
        check(len(re.findall(r"auth: database unavailable", main.log())) == 1,
              "the outage is logged more than once:\n" + main.log())
        check(md5(f"alice:{REALM}:alice-secret") not in main.log(), "the log shows an HA1")
        print("ok: PostgreSQL stopped: cached users register, the outage logged once, "
              f"db_failures {stats['db_failures']}")

        # A daemon started while the database is down: in time, with its configured users.
        cold_port = free_port()
        started = time.time()
        cold = Daemon(binary, tmp, "cold", config(cold_port, auth_section(conninfo), ROUTES))
        daemons.append(cold)
        check(time.time() - started < 9, "start-up waited too long for the database")
        cold_phone = phone("127.0.0.1", cold_port)
        final = register(cold_phone, "yamluser", "yaml-secret", "SHA-256")
        check(final.code == 200, f"a configured user with the database down: {final.start}")
        final = register(cold_phone, "alice", "alice-secret", "SHA-256")
        check(final.code == 401, f"a table user before any load: {final.start}")
        check(len(re.findall(r"\[warning\] auth: database unavailable, serving 0 cached users",
                             cold.log())) == 1, "the cold start's warning:\n" + cold.log())
        print("ok: started with the database down: configured users only, one warning")

        # --- the recovery: refresh 0, so the retries come every 5 s ---
        pg.restart()
        add_subscriber(pg, "erin", "erin-secret")
        for daemon in (main, cold):
            check(daemon.wait_log(r"auth: database available again", 1, 20),
                  "no recovery line:\n" + daemon.log())
        stats = wait_stats(main, lambda s: s["db"] == "up", "db up after the restart")
        check(stats["db_users"] == "5", f"after the recovery: {stats}")
        final = register(alice, "erin", "erin-secret", "SHA-256")
        check(final.code == 200, f"a row added during the outage, after it: {final.start}")
        final = register(cold_phone, "alice", "alice-secret", "MD5")
        check(final.code == 200, f"the cold daemon after the recovery: {final.start}")
        time.sleep(6)  # past the next retry time: no second line now that it is up
        for daemon in (main, cold):
            check(len(re.findall(r"auth: database available again", daemon.log())) == 1,
                  "the recovery is logged more than once")
            check(len(re.findall(r"auth: database unavailable", daemon.log())) == 1,
                  "the outage is logged again")
        print("ok: PostgreSQL back: recovery logged once, new rows served, db up")

        for daemon in daemons:
            daemon.stop()
    finally:
        for p in phones:
            p.close()
        for daemon in daemons:
            daemon.kill()


def main():
    binary = sys.argv[1]
    module_dir = os.path.join(os.path.dirname(binary), "modules")
    for module in ("auth", "location", "registrar"):
        if not os.path.exists(os.path.join(module_dir, module + ".so")):
            print(f"FAIL: {module}.so is not built in {module_dir} (it is part of every build)")
            return 1
    for tool in ("sipp", "psql"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is not installed")
            return 77
    pg = Postgres()
    if not pg.available():
        print("SKIP: no PostgreSQL server binaries (or, as root, no postgres user)")
        return 77
    tmp = tempfile.mkdtemp(prefix="strowger-authpg-")
    os.chmod(tmp, 0o755)
    try:
        run(binary, tmp, pg)
    except (Failure, subprocess.TimeoutExpired) as failure:
        print(f"FAIL: {failure}")
        for name in ("main", "cold"):
            path = os.path.join(tmp, name + ".log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    print(f"--- {name}.log (tail)\n" + "".join(f.readlines()[-30:]))
        return 1
    finally:
        pg.cleanup()
        if os.environ.get("AUTH_TEST_KEEP"):
            print("kept:", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
