#!/usr/bin/env python3
"""SIGHUP with modules: a module's new settings go into service, a module added by the reload
is started, and a reload whose module section is wrong is refused with the old settings kept.

The daemon starts with the registrar's min_expires 60: a REGISTER asking for 30 s gets 423.
  1. min_expires becomes 10 and SIGHUP: the same REGISTER gets 200.
  2. the file adds the `nat` module (and a route using `nat.detected`) and SIGHUP: the log says
     the module started, and the new route runs (a request from behind NAT gets 299).
  3. the file gets a misspelt registrar key and SIGHUP: the reload is refused with the key's
     line and column, and the running settings stay (30 s still accepted).
SIGTERM must stop the daemon with status 0.

  registrar_reload_test.py STROWGER_BIN

Exit status: 0 pass, 1 fail, 77 when the modules are not built.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


class Failure(Exception):
    pass


# Free ports drawn below the ephemeral range (tests/support/ports/free_ports.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support", "ports"))
from free_ports import free_port  # noqa: E402


def config(port, min_expires, nat=False, typo=False):
    key = "min_expire" if typo else "min_expires"
    modules = f"""modules:
  location: {{ storage: memory }}
  registrar:
    {key}: {min_expires}
"""
    if nat:
        modules += "  nat: {}\n"
    routes = """routes:
  request:
    - if: { method: REGISTER }
      then: [ registrar.save ]
"""
    if nat:
        routes += """    - if: { nat.detected: true }
      then: [ { reply: [299, "Behind NAT"] } ]
"""
    routes += """    - reply: [404, "Nothing Here"]
"""
    return f"""server:
  listen: [ "udp:127.0.0.1:{port}" ]
  workers: 2
  log: {{ level: info }}
{modules}{routes}"""


def main():
    binary = sys.argv[1]
    module_dir = os.path.join(os.path.dirname(os.path.abspath(binary)), "modules")
    if not all(os.path.exists(os.path.join(module_dir, m + ".so"))
               for m in ("location", "registrar", "nat")):
        print(f"SKIP: the modules are not built in {module_dir}")
        return 77
    tmp = tempfile.mkdtemp(prefix="strowger-reload-")
    port = free_port()
    path = os.path.join(tmp, "strowger.yaml")
    with open(path, "w") as f:
        f.write(config(port, 60))
    log_path = os.path.join(tmp, "daemon.log")
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.1", 0))
    phone.settimeout(3)
    phone_port = phone.getsockname()[1]
    sequence = [0]

    def send(method, contact_host, expires=None):
        sequence[0] += 1
        n = sequence[0]
        msg = (f"{method} sip:127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{phone_port};branch=z9hG4bKreload{n};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=t{n}\r\n"
               f"To: <sip:alice@127.0.0.1>\r\nCall-ID: reload@test\r\nCSeq: {n} {method}\r\n"
               f"Contact: <sip:alice@{contact_host}:{phone_port}>\r\n")
        if expires is not None:
            msg += f"Expires: {expires}\r\n"
        msg += "Content-Length: 0\r\n\r\n"
        phone.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            data, _ = phone.recvfrom(65535)
        except socket.timeout:
            raise Failure(f"no answer to {method}")
        return data.decode(errors="replace").split("\r\n", 1)[0]

    def reload(text, expect):
        with open(path, "w") as f:
            f.write(text)
        before = open(log_path).read().count(expect)
        daemon.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while open(log_path).read().count(expect) <= before:
            if time.time() > deadline:
                raise Failure(f"no {expect!r} after SIGHUP:\n" + open(log_path).read())
            time.sleep(0.05)

    log = open(log_path, "w")
    daemon = subprocess.Popen([binary, "-c", path], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while " ready: " not in open(log_path).read():
            if daemon.poll() is not None or time.time() > deadline:
                raise Failure("daemon did not start:\n" + open(log_path).read())
            time.sleep(0.05)
        got = send("REGISTER", "127.0.0.1", 30)
        if not got.startswith("SIP/2.0 423 "):
            raise Failure(f"min_expires 60: expected 423, got {got!r}")

        reload(config(port, 10), "the new configuration is in service")
        got = send("REGISTER", "127.0.0.1", 30)
        if not got.startswith("SIP/2.0 200 "):
            raise Failure(f"min_expires 10 after SIGHUP: expected 200, got {got!r}")
        print("ok: a module's new settings go into service on SIGHUP")

        reload(config(port, 10, nat=True), "module nat 1.0 started")
        got = send("OPTIONS", "10.9.8.7")
        if not got.startswith("SIP/2.0 299 "):
            raise Failure(f"the route of the module added by the reload did not run: {got!r}")
        print("ok: a module added by a reload is started and its steps run")

        reload(config(port, 90, nat=True, typo=True), "reload failed")
        text = open(log_path).read()
        if "strowger.yaml:8:5: modules.registrar.min_expire: unknown key" not in text:
            raise Failure("the refused reload does not name the key's position:\n" + text)
        got = send("REGISTER", "127.0.0.1", 30)
        if not got.startswith("SIP/2.0 200 "):
            raise Failure(f"a refused reload changed the running settings: {got!r}")
        print("ok: a wrong module section is refused and the running settings stay")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise Failure("daemon did not stop within 5 s")
    if rc != 0:
        raise Failure(f"daemon exited with {rc}")
    print("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
