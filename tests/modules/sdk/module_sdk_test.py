#!/usr/bin/env python3
"""The module SDK end to end, with the real daemon on loopback and test modules built for it.

Loading: a module that loads (`wait`), one built for another module ABI, one with an undefined
symbol, a shared object that is no module, a module file that does not exist, a step of a module
the configuration does not load, and a bad key in a module's section: `--check-config` must
accept the first and refuse each of the others with its own clear message and position.

Running: `wait.resume` suspends a request and resumes it from another thread; the script must go
on after the step (the forwarded request carries the header the resumption added), a
retransmission while it waits must be absorbed (the next hop sees the request once), `wait.answer`
answers from the resumption, `wait.lose` drops its suspension and the caller gets 500. SIGUSR1
logs the module's statistics; SIGTERM stops the daemon with status 0.

  module_sdk_test.py STROWGER_BIN TEST_MODULE_DIR

Exit status: 0 pass, 1 fail.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import re

# The daemon's module ABI version, as the SDK header says (the wrongabi module claims it + 1000).
_SDK_HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                           "include", "strowger", "module", "module.h")
with open(_SDK_HEADER) as _header:
    ABI = int(re.search(r"kAbiVersion = (\d+);", _header.read()).group(1))


class Failure(Exception):
    pass


# Free ports drawn below the ephemeral range (tests/support/ports/free_ports.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support", "ports"))
from free_ports import free_port  # noqa: E402


def check_config(binary, text, tmp):
    path = os.path.join(tmp, "check.yaml")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([binary, "--check-config", path], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def expect_refused(binary, tmp, text, *needles):
    rc, out = check_config(binary, text, tmp)
    if rc != 1:
        raise Failure(f"--check-config accepted (rc {rc}) a config that must fail:\n{text}\n{out}")
    for needle in needles:
        if needle not in out:
            raise Failure(f"expected {needle!r} in the error output:\n{out}")
    print(f"ok: refused with {needles[0]!r}")


def request(method, port, local_port, branch, call_id, extra=""):
    return (f"{method} sip:bob@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
            f"To: <sip:bob@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\n"
            f"{extra}"
            f"Content-Length: 0\r\n\r\n").encode()


def receive(sock, timeout):
    sock.settimeout(timeout)
    try:
        data, _ = sock.recvfrom(65535)
        return data.decode(errors="replace")
    except socket.timeout:
        return None


def main():
    binary, module_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="strowger-sdk-")
    head = 'server:\n  listen: [ "udp:127.0.0.1:5999" ]\n'

    # --- loading --------------------------------------------------------------------------
    rc, out = check_config(binary, head + f"modules:\n  directory: {module_dir}\n  wait:\n"
                           "    delay_ms: 30\nroutes:\n  request: [ wait.resume, forward ]\n", tmp)
    if rc != 0:
        raise Failure(f"a valid module config was refused:\n{out}")
    print("ok: a module loads and its steps compile")

    expect_refused(binary, tmp, head + f"modules:\n  directory: {module_dir}\n  wrongabi: {{}}\n",
                   "check.yaml:5:3: modules.wrongabi: module wrongabi not loaded:",
                   f"was built for module ABI {ABI + 1000}", f"has module ABI {ABI};",
                   "rebuild the module")
    expect_refused(binary, tmp, head + f"modules:\n  directory: {module_dir}\n  unresolved: {{}}\n",
                   "check.yaml:5:3: modules.unresolved: module unresolved not loaded: cannot load",
                   "undefined symbol: strowger_test_symbol_nobody_defines")
    expect_refused(binary, tmp, head + f"modules:\n  directory: {module_dir}\n  notamodule: {{}}\n",
                   "is not a Strowger module")
    expect_refused(binary, tmp, head + f"modules:\n  directory: {module_dir}\n  nosuch: {{}}\n",
                   "check.yaml:5:3: modules.nosuch: module nosuch not loaded: no module file",
                   "nosuch.so")
    expect_refused(binary, tmp, head + f"modules:\n  directory: {module_dir}\nroutes:\n"
                   "  request:\n    - wait.resume\n",
                   "check.yaml:7:7: routes.request[0].wait.resume: unknown step \"wait.resume\": "
                   "it belongs to the module wait, which this configuration does not load; "
                   "add \"wait:\" under \"modules:\"")
    expect_refused(binary, tmp, head + f"modules:\n  directory: {module_dir}\n  wait:\n"
                   "    delay: 5\n",
                   "check.yaml:6:5: modules.wait.delay: unknown key; expected one of delay_ms; "
                   "did you mean \"delay_ms\"?")
    expect_refused(binary, tmp, head + f"modules:\n  directory: {module_dir}\n  wait:\n"
                   "    delay_ms: lots\n",
                   "check.yaml:6:15: modules.wait.delay_ms: expected an integer from 0 to 5000")

    # --- running --------------------------------------------------------------------------
    port = free_port()
    hop = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hop.bind(("127.0.0.1", 0))
    hop_port = hop.getsockname()[1]
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    caller_port = caller.getsockname()[1]
    config = os.path.join(tmp, "run.yaml")
    with open(config, "w") as f:
        f.write(f"""server:
  listen: [ "udp:127.0.0.1:{port}" ]
  workers: 2
  log: {{ level: info }}
modules:
  directory: {module_dir}
  wait: {{ delay_ms: 300 }}
routes:
  request:
    - if: {{ method: MESSAGE }}
      then: [ wait.answer ]
    - if: {{ method: SUBSCRIBE }}
      then: [ wait.lose ]
    - wait.resume
    - forward: {{ to: "sip:127.0.0.1:{hop_port}" }}
""")
    log_path = os.path.join(tmp, "daemon.log")
    log = open(log_path, "w")
    daemon = subprocess.Popen([binary, "-c", config], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while " ready: " not in open(log_path).read():
            if daemon.poll() is not None or time.time() > deadline:
                raise Failure("daemon did not start:\n" + open(log_path).read())
            time.sleep(0.05)
        if "module wait 1.0 started" not in open(log_path).read():
            raise Failure("no start line for the module:\n" + open(log_path).read())

        # The script goes on after the suspending step, and a retransmission is absorbed.
        invite = request("OPTIONS", port, caller_port, "z9hG4bKsdk1", "sdk-1@test")
        caller.sendto(invite, ("127.0.0.1", port))
        time.sleep(0.1)
        caller.sendto(invite, ("127.0.0.1", port))
        got = receive(hop, 3)
        if got is None:
            raise Failure("the resumed request was never forwarded")
        if "X-Resumed: yes" not in got:
            raise Failure("the forwarded request lacks the header the resumption added:\n" + got)
        again = receive(hop, 0.8)
        if again is not None:
            raise Failure("a retransmission made while the request waited was forwarded too")
        print("ok: resumed after the step, retransmission absorbed")

        caller.sendto(request("MESSAGE", port, caller_port, "z9hG4bKsdk2", "sdk-2@test"),
                      ("127.0.0.1", port))
        got = receive(caller, 3)
        if got is None or not got.startswith("SIP/2.0 202 Answered After Waiting"):
            raise Failure(f"expected 202 from the resumption, got {got!r}")
        print("ok: answered from the resumption")

        caller.sendto(request("SUBSCRIBE", port, caller_port, "z9hG4bKsdk3", "sdk-3@test"),
                      ("127.0.0.1", port))
        got = receive(caller, 3)
        if got is None or not got.startswith("SIP/2.0 500 "):
            raise Failure(f"a lost suspension must be answered 500, got {got!r}")
        print("ok: a lost suspension is answered 500")

        daemon.send_signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while "module wait: resumed 2" not in open(log_path).read():
            if time.time() > deadline:
                raise Failure("SIGUSR1 did not log the module statistics:\n" +
                              open(log_path).read())
            time.sleep(0.05)
        print("ok: module statistics on SIGUSR1")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise Failure("daemon did not stop within 5 s")
    if rc != 0:
        raise Failure(f"daemon exited with {rc}:\n" + open(log_path).read())
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
