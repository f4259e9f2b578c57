#!/usr/bin/env python3
"""The running daemon against the shared conformance corpus over UDP, on loopback only.

Every RFC 4475 message is sent to the daemon, whose routing script forwards everything to a
static next hop on loopback (this script listens there) and answers OPTIONS addressed to itself.
The outcome is checked against the rule of INDEX.md, then the daemon must still answer OPTIONS.
With --protos, every PROTOS c07-sip case is sent as well and the daemon must survive all 4527.

  conformance_udp_test.py STROWGER_BIN SHARED_DIR [--protos]

Exit status: 0 pass, 1 fail, 77 skip (the shared corpus is absent).
"""
import lzma
import os
import re
import select
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

SKIP = 77


# Free ports drawn below the ephemeral range (tests/support/ports/free_ports.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support", "ports"))
from free_ports import free_port  # noqa: E402


def udp_socket(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", port))
    s.setblocking(False)
    return s


def read_rules(index_path):
    """file name -> checker rule, from the last column of the table in INDEX.md."""
    rules = {}
    for line in open(index_path, encoding="utf-8"):
        cells = [c.strip() for c in line.split(" | ")]
        if len(cells) < 7 or not cells[0].startswith("| `"):
            continue
        name = cells[0][3:].strip("`")
        rules[name] = cells[-1].rstrip(" |").strip("`").replace("\\|", "|")
    return rules


def status_of(packet):
    m = re.match(rb"SIP/2\.0 (\d{3})", packet)
    return int(m.group(1)) if m else None


FORWARD_CHECKS = {
    # The unknown header travels unchanged (RFC 4475 §3.1.1.1).
    "wsinv": lambda p: b"UnknownHeaderWithUnusualValue: ;;,,;;,;" in p,
    # The octets after Content-Length are not part of the forwarded request (§3.1.1.8).
    "dblreq": lambda p: b"INVITE sip:" not in p,
    # The unknown Authorization is forwarded unmodified (§3.3.7).
    "regaut01": lambda p: b"Authorization: NoOneKnowsThisScheme opaque-data=here" in p,
    # Liberal handling must not propagate the error (§3.1.2.x).
    "ltgtruri": lambda p: not p.startswith(b"INVITE <"),
    "lwsruri": lambda p: b"; lr SIP/2.0" not in p,
    "lwsstart": lambda p: b"  " not in p.split(b"\r\n", 1)[0],
    "trws": lambda p: not p.split(b"\r\n", 1)[0].endswith(b" "),
    "escruri": lambda p: b"?Route=" not in p.split(b"\r\n", 1)[0],
    "baddn": lambda p: b"From: Bell, Alexander" not in p,
}


class Harness:
    def __init__(self, binary, workdir):
        self.proxy_port = free_port()
        self.next_hop = udp_socket()
        self.sender = udp_socket()
        # Replies to these messages go to the Via's sent-by port (5060, 5050 for quotbal) at the
        # source address (RFC 3261 §18.2.2); listen there too when the ports are free.
        self.reply_sockets = [self.sender]
        for port in (5060, 5050):
            try:
                self.reply_sockets.append(udp_socket(port))
            except OSError:
                print(f"note: port {port} is busy; replies sent there are not seen")
        config = os.path.join(workdir, "strowger.yaml")
        with open(config, "w") as f:
            f.write(f"""server:
  listen: [ "udp:127.0.0.1:{self.proxy_port}" ]
  workers: 2
  log: {{ level: info }}
routes:
  request:
    - if: {{ method: OPTIONS, addressed_to_me: true }}
      then: [ {{ reply: [200, "OK"] }} ]
    - forward: {{ to: "sip:127.0.0.1:{self.next_hop.getsockname()[1]}" }}
""")
        self.log = open(os.path.join(workdir, "strowger.log"), "w+")
        self.daemon = subprocess.Popen([binary, "-c", config], stdout=self.log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            self.log.seek(0)
            if " ready: " in self.log.read():
                break
            if self.daemon.poll() is not None:
                raise SystemExit("daemon exited during start")
            time.sleep(0.05)
        else:
            # Never leave a daemon behind, whatever the outcome.
            self.daemon.kill()
            self.daemon.wait()
            raise SystemExit("daemon not ready within 10 s")
        self.options_seq = 0

    def drain(self, sockets, seconds):
        got = {s: [] for s in sockets}
        deadline = time.time() + seconds
        while True:
            left = deadline - time.time()
            if left <= 0:
                return got
            ready, _, _ = select.select(sockets, [], [], left)
            for s in ready:
                try:
                    while True:
                        got[s].append(s.recvfrom(70000)[0])
                except BlockingIOError:
                    pass

    def send(self, data):
        self.sender.sendto(data, ("127.0.0.1", self.proxy_port))

    def options_answered(self, timeout=2.0):
        """Sends OPTIONS to the daemon and waits for its 200."""
        self.options_seq += 1
        port = self.sender.getsockname()[1]
        call_id = f"alive-{self.options_seq}@harness"
        msg = (f"OPTIONS sip:127.0.0.1:{self.proxy_port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKalive{self.options_seq};rport\r\n"
               f"From: <sip:harness@127.0.0.1>;tag=h{self.options_seq}\r\n"
               f"To: <sip:127.0.0.1:{self.proxy_port}>\r\n"
               f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
               f"Content-Length: 0\r\n\r\n").encode()
        self.send(msg)
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.sender], [], [], left)
            if not ready:
                continue
            try:
                while True:
                    p = self.sender.recvfrom(70000)[0]
                    if call_id.encode() in p and status_of(p) == 200:
                        return True
            except BlockingIOError:
                pass

    def exchange(self, data, wait=0.25):
        """Sends one message; returns (replies, forwarded) seen within `wait` seconds."""
        self.drain(self.reply_sockets + [self.next_hop], 0)  # stale traffic
        self.send(data)
        got = self.drain(self.reply_sockets + [self.next_hop], wait)
        replies = [p for s in self.reply_sockets for p in got[s] if status_of(p)]
        return replies, got[self.next_hop]

    def stop(self):
        self.daemon.terminate()
        try:
            rc = self.daemon.wait(10)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            return False
        return rc == 0


def check(name, rule, replies, forwarded):
    """None when the outcome meets the rule, else what is wrong."""
    codes = [status_of(p) for p in replies]
    fwd_check = None
    m = re.search(r"fwd=(\w+)", rule)
    if m:
        fwd_check = FORWARD_CHECKS[m.group(1)]
    kind = re.split(r"[:|\s]", rule)[0]
    if kind == "skip":
        return None
    if kind == "valid":
        if 400 in codes:
            return f"answered 400 ({codes})"
        if not replies and not forwarded:
            return "neither forwarded nor answered"
        if forwarded and fwd_check and not all(fwd_check(p) for p in forwarded):
            return "the forwarded copy fails its check"
        return None
    if kind == "response":
        if replies or forwarded:
            return f"a response was answered or forwarded ({codes}, {len(forwarded)} forwarded)"
        return None
    if kind == "reject":
        if forwarded and "liberal" not in rule:
            return "forwarded"
        if forwarded:
            if fwd_check and not all(fwd_check(p) for p in forwarded):
                return "forwarded with the error propagated"
            return None
        if any(c is not None and c < 400 for c in codes):
            return f"answered with success {codes}"
        first = rule.split()[0]
        want = first.split(":")[1] if ":" in first else None
        if want and codes and int(want) not in codes:
            return f"answered {codes}, the RFC prefers {want}"
        return None
    if kind == "no-fwd":
        allowed = {int(c) for c in rule.split()[0].split(":")[1].split(",")}
        if forwarded:
            return "forwarded"
        if not set(codes) & allowed:
            return f"answered {codes}, expected one of {sorted(allowed)}"
        return None
    return f"unknown rule {rule}"


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    binary, shared = sys.argv[1], sys.argv[2]
    protos = "--protos" in sys.argv[3:]
    corpus = os.path.join(shared, "conformance")
    if not os.path.isdir(corpus):
        print(f"SKIP: no shared corpus at {corpus}")
        return SKIP
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        h = Harness(binary, work)
        try:
            if not h.options_answered():
                print("FAIL: the daemon does not answer OPTIONS at all")
                return 1
            if not protos:
                rules = read_rules(os.path.join(corpus, "rfc4475", "INDEX.md"))
                for name in sorted(os.listdir(os.path.join(corpus, "rfc4475"))):
                    if not name.endswith(".dat"):
                        continue
                    data = open(os.path.join(corpus, "rfc4475", name), "rb").read()
                    rule = rules.get(name)
                    if rule is None:
                        print(f"FAIL {name}: no rule in INDEX.md")
                        failures += 1
                        continue
                    replies, forwarded = h.exchange(data)
                    problem = check(name, rule, replies, forwarded)
                    alive = h.options_answered()
                    codes = [status_of(p) for p in replies]
                    if problem or not alive:
                        failures += 1
                        print(f"FAIL {name} [{rule}]: {problem or 'no answer to OPTIONS afterwards'}")
                    else:
                        outcome = f"answered {codes}" if codes else (
                            f"forwarded" if forwarded else "dropped")
                        print(f"ok   {name} [{rule}]: {outcome}")
                for name in sorted(os.listdir(os.path.join(corpus, "rfc5118", "wire"))):
                    data = open(os.path.join(corpus, "rfc5118", "wire", name), "rb").read()
                    replies, forwarded = h.exchange(data)
                    codes = [status_of(p) for p in replies]
                    expect_reject = name.startswith("ipv6-bad")
                    bad = (not codes or codes[0] != 400) if expect_reject else (
                        400 in codes or not (forwarded or codes))
                    if bad or not h.options_answered():
                        failures += 1
                        print(f"FAIL rfc5118 {name}: answered {codes}, forwarded {len(forwarded)}")
                    else:
                        print(f"ok   rfc5118 {name}: {'answered ' + str(codes) if codes else 'forwarded'}")
            else:
                tarball = os.path.join(corpus, "protos-c07-sip", "invites-rendered.tar.xz")
                if not os.path.exists(tarball):
                    print(f"SKIP: no {tarball}")
                    return SKIP
                count = 0
                with tarfile.open(tarball, "r:xz") as tar:
                    for member in tar:
                        if not member.isfile() or not member.name.endswith(".sip"):
                            continue
                        data = tar.extractfile(member).read()
                        h.send(data)
                        count += 1
                        if count % 25 == 0:
                            h.drain([h.next_hop], 0)
                            if not h.options_answered(5.0):
                                print(f"FAIL: no answer to OPTIONS after case {member.name}")
                                return 1
                if not h.options_answered(5.0):
                    print("FAIL: no answer to OPTIONS after the last case")
                    return 1
                print(f"ok   all {count} PROTOS c07-sip cases sent; the daemon still answers OPTIONS")
                if count != 4527:
                    print(f"FAIL: expected 4527 cases, found {count}")
                    failures += 1
        finally:
            if h.daemon.poll() is not None:
                print(f"FAIL: the daemon exited with {h.daemon.returncode}")
                failures += 1
            elif not h.stop():
                print("FAIL: the daemon did not stop cleanly")
                failures += 1
            h.log.seek(0)
            tail = h.log.read().splitlines()[-5:]
            print("daemon log (last lines):", *tail, sep="\n  ")
    print("PASS" if failures == 0 else f"{failures} failure(s)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
