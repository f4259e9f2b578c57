#!/usr/bin/env python3
"""SIGHUP reload of the routing script, on loopback only.

The daemon starts with routes that answer MESSAGE with 480 "Route A". Two broken versions of the
file (an unknown step name, then a regular expression that does not compile) are written in turn
and the daemon is sent SIGHUP: each time it must log the error at the exact line and column, keep
the running configuration in service and still answer 480 "Route A". `--check-config` must
report the same positions and exit 1. Then a valid file answering 486 "Route B" is written and
SIGHUP puts it in service. SIGTERM must end the daemon with status 0 within 5 s.

  reload_test.py STROWGER_BIN

Exit status: 0 pass, 1 fail.
"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time


# Free ports drawn below the ephemeral range (tests/support/ports/free_ports.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support", "ports"))
from free_ports import free_port  # noqa: E402


class Failure(Exception):
    pass


def config_text(port, routes):
    """A whole configuration file; `routes` is the YAML of the routes section, indented."""
    return f"""server:
  listen: [ "udp:127.0.0.1:{port}" ]
  workers: 2
  log: {{ level: info }}
routes:
  request:
    - if: {{ method: OPTIONS, addressed_to_me: true }}
      then: [ {{ reply: [200, "OK"] }} ]
{routes}"""


# Line numbers below count from 1 in the whole file: the routes passed to config_text start on
# line 9, their first character in column 5 ("    - ...").
ROUTE_A = """    - if: { method: MESSAGE }
      then: [ { reply: [480, "Route A"] } ]
    - reply: [404, "Not Found"]
"""
ROUTE_B = """    - if: { method: MESSAGE }
      then: [ { reply: [486, "Route B"] } ]
    - reply: [404, "Not Found"]
"""
# Line 11: the step "forwrad" starts at column 7.
BROKEN_STEP = """    - if: { method: MESSAGE }
      then: [ { reply: [486, "Route B"] } ]
    - forwrad
"""
BROKEN_STEP_ERROR = (11, 7, 'routes.request[2].forwrad: unknown step "forwrad"')
# Line 9: the pattern "^(12" starts (at its opening quote) at column 33.
BROKEN_REGEX = """    - if: { ruri.user: { regex: "^(12" } }
      then: [ { reply: [486, "Route B"] } ]
    - reply: [404, "Not Found"]
"""
BROKEN_REGEX_ERROR = (9, 33, 'routes.request[1].if.ruri.user: invalid regular expression "^(12"')


class Daemon:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.port = free_port()
        self.config = os.path.join(workdir, "strowger.yaml")
        self.write_config(ROUTE_A)
        self.log_path = os.path.join(workdir, "strowger.log")
        self.log = open(self.log_path, "w+")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.seq = 0
        self.process = subprocess.Popen([binary, "-c", self.config], stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def write_config(self, routes, path=None):
        with open(path or self.config, "w") as f:
            f.write(config_text(self.port, routes))

    def log_text(self):
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, needle, count=1, timeout=5.0):
        """Waits until `needle` occurs `count` times in the log; returns the log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log_text()
            if text.count(needle) >= count:
                return text
            if self.process.poll() is not None:
                raise Failure(f"the daemon exited ({self.process.returncode}) waiting for "
                              f"{needle!r}")
            time.sleep(0.05)
        raise Failure(f"{needle!r} not logged {count} time(s) within {timeout} s")

    def request(self, method, timeout=2.0):
        """Sends one request to the daemon; returns (status, reason) of its final answer."""
        self.seq += 1
        local = self.sock.getsockname()[1]
        call_id = f"reload-{self.seq}@harness"
        body = "hello" if method == "MESSAGE" else ""
        ruri = (f"sip:bob@127.0.0.1:{self.port}" if method == "MESSAGE"
                else f"sip:127.0.0.1:{self.port}")
        content_type = "Content-Type: text/plain\r\n" if body else ""
        msg = (f"{method} {ruri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKreload{self.seq};rport\r\n"
               f"Max-Forwards: 70\r\n"
               f"From: <sip:alice@127.0.0.1>;tag=a{self.seq}\r\n"
               f"To: <{ruri}>\r\n"
               f"Call-ID: {call_id}\r\nCSeq: {self.seq} {method}\r\n"
               f"{content_type}Content-Length: {len(body)}\r\n\r\n{body}").encode()
        self.sock.sendto(msg, ("127.0.0.1", self.port))
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise Failure(f"no answer to {method} within {timeout} s")
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            try:
                while True:
                    packet = self.sock.recvfrom(70000)[0]
                    m = re.match(rb"SIP/2\.0 (\d{3}) ([^\r\n]*)\r\n", packet)
                    if not m or call_id.encode() not in packet:
                        continue  # stale, or not a response to this request
                    status = int(m.group(1))
                    if status >= 200:
                        return status, m.group(2).decode()
            except BlockingIOError:
                pass

    def expect(self, method, status, reason):
        got = self.request(method)
        if got != (status, reason):
            raise Failure(f"{method} answered {got[0]} {got[1]!r}, expected {status} {reason!r}")
        print(f"ok   {method} -> {status} {reason}")

    def stop(self, timeout=5.0):
        """SIGTERM; returns the exit status, or None when the daemon did not stop in time."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def check_config(binary, path, error):
    line, column, text = error
    result = subprocess.run([binary, "--check-config", path], capture_output=True, text=True,
                            timeout=10)
    expected = f"{path}:{line}:{column}: {text}"
    if result.returncode != 1:
        raise Failure(f"--check-config exited {result.returncode}, expected 1")
    if expected not in result.stderr:
        raise Failure(f"--check-config did not print {expected!r}:\n{result.stderr}")
    print(f"ok   --check-config exits 1 with {path}:{line}:{column}")


def broken_reload(d, routes, error, nth):
    """Writes a broken file, sends SIGHUP; the old routes must stay in service."""
    line, column, text = error
    d.write_config(routes)
    d.process.send_signal(signal.SIGHUP)
    log = d.wait_log("the running configuration stays in service", nth)
    expected = f"{d.config}:{line}:{column}: {text}"
    if expected not in log:
        raise Failure(f"the log does not hold {expected!r}")
    if "the new configuration is in service" in log:
        raise Failure("a broken configuration was put in service")
    print(f"ok   broken reload {nth} logged {d.config}:{line}:{column} and kept the old routes")
    d.expect("MESSAGE", 480, "Route A")
    check_config(d.binary, d.config, error)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    started = time.time()
    with tempfile.TemporaryDirectory() as work:
        d = Daemon(binary, work)
        try:
            d.wait_log(" ready: ", timeout=10.0)
            d.expect("OPTIONS", 200, "OK")
            d.expect("MESSAGE", 480, "Route A")

            broken_reload(d, BROKEN_STEP, BROKEN_STEP_ERROR, 1)
            broken_reload(d, BROKEN_REGEX, BROKEN_REGEX_ERROR, 2)

            d.write_config(ROUTE_B)
            d.process.send_signal(signal.SIGHUP)
            d.wait_log("the new configuration is in service")
            print("ok   valid reload put in service")
            d.expect("MESSAGE", 486, "Route B")
            d.expect("OPTIONS", 200, "OK")

            t0 = time.time()
            rc = d.stop()
            if rc is None:
                raise Failure("the daemon did not stop within 5 s of SIGTERM")
            if rc != 0:
                raise Failure(f"the daemon exited with {rc} after SIGTERM")
            print(f"ok   SIGTERM: exit 0 after {time.time() - t0:.2f} s")
        except Failure as e:
            print(f"FAIL: {e}")
            tail = d.log_text().splitlines()[-15:]
            print("daemon log (last lines):", *tail, sep="\n  ")
            return 1
        finally:
            if d.process.poll() is None:
                d.process.kill()
                d.process.wait(5)
            d.sock.close()
            d.log.close()
    print(f"PASS ({time.time() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
