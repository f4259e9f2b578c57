#!/usr/bin/env python3
"""A UDP caller that retransmits its requests on purpose, for the stateful proxy test: the proxy
must absorb each retransmission (the callee sees the request once; the callee's sipp trace is
counted by the test script) and answer it with its latest response (RFC 3261 §17.2.1, §17.2.2).
sipp cannot play this part: a caller sipp answers every duplicate response by resending its last
request, which against a proxy that re-sends its response never ends.

  stateful_retrans_caller.py invite|message DEST_PORT CALLEE_PORT LOCAL_PORT [direct]

DEST_PORT is where the requests go (the proxy; the callee itself to check the scenario), the
Request-URI is sip:retrans@127.0.0.1:CALLEE_PORT, and LOCAL_PORT is the caller's port. With
"direct" (straight to a sipp callee) the INVITE is not sent again after the 180: sipp re-answers a
retransmission only until it has sent a second message, and takes a later copy for a new request.

invite: INVITE, the same INVITE 50 ms later; a 100 must come and the INVITE sent again must be
answered with a 100 again; a 180 must come (the callee rings after 500 ms) and the INVITE sent
again must be answered with the same 180; then CANCEL (200), 487, ACK.
message: MESSAGE, the same MESSAGE 50 ms later; one 200 (the callee answers after 200 ms), and the
MESSAGE sent once more must be answered with that same 200 again.
Exits 0 when all went so, 1 with what went wrong otherwise; every wait is bounded.
"""
import os
import random
import socket
import sys
import time


class Caller:
    def __init__(self, dest_port, callee_port, local_port):
        self.dest = ("127.0.0.1", dest_port)
        self.callee_port = callee_port
        self.local_port = local_port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", local_port))
        tag = f"{os.getpid()}-{random.randrange(1 << 30)}"
        self.call_id = f"retrans-{tag}@127.0.0.1"
        self.from_tag = f"py{tag}"
        self.branch = f"z9hG4bK-py-{tag}"
        self.ruri = f"sip:retrans@127.0.0.1:{callee_port}"
        self.received = []  # (seconds since start, status, cseq method, raw bytes)
        self.start = time.monotonic()

    def request(self, method, cseq_method=None, to_tag=None, body=b"", content_type=None):
        to = f"<{self.ruri}>" + (f";tag={to_tag}" if to_tag else "")
        lines = [
            f"{method} {self.ruri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.local_port};branch={self.branch};rport",
            f"From: <sip:caller@127.0.0.1:{self.local_port}>;tag={self.from_tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: 1 {cseq_method or method}",
            f"Contact: <sip:caller@127.0.0.1:{self.local_port}>",
            "Max-Forwards: 70",
        ]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def send(self, data):
        self.sock.sendto(data, self.dest)

    def wait_for(self, status, method, seconds):
        """The first response STATUS with CSeq method METHOD received within SECONDS; every
        response received meanwhile is recorded."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            got = self.record(data)
            if got and got[1] == status and got[2] == method:
                return got

    def drain(self, seconds):
        """Records what arrives within SECONDS."""
        self.wait_for(-1, "", seconds)

    def record(self, data):
        head, _, _ = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[0] != "SIP/2.0" or not parts[1].isdigit():
            self.received.append((self.elapsed(), 0, "", data))
            return None
        method = ""
        for line in lines[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == "cseq":
                method = value.split()[-1]
        got = (self.elapsed(), int(parts[1]), method, data)
        self.received.append(got)
        return got

    def elapsed(self):
        return round(time.monotonic() - self.start, 3)

    def summary(self):
        return ", ".join(f"{t:.3f}s {s} {m}" for t, s, m, _ in self.received) or "nothing"


def to_tag_of(data):
    for line in data.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() in ("to", "t"):
            for param in value.split(";")[1:]:
                name, _, tag = param.strip().partition("=")
                if name.lower() == "tag":
                    return tag
    return None


def run_invite(c, direct):
    invite = c.request("INVITE")
    c.send(invite)
    time.sleep(0.05)
    c.send(invite)
    if not c.wait_for(100, "INVITE", 2):
        return "no 100 Trying within 2 s of the INVITE"
    c.drain(0.05)
    c.send(invite)
    if not c.wait_for(100, "INVITE", 1):
        return "the INVITE retransmitted after the 100 was not answered with a 100 within 1 s"
    ringing = c.wait_for(180, "INVITE", 2)
    if not ringing:
        return "no 180 within 2 s"
    c.drain(0.05)
    if not direct:
        c.send(invite)
        again = c.wait_for(180, "INVITE", 1)
        if not again:
            return "the INVITE retransmitted after the 180 was not answered with the 180 within 1 s"
        if again[3] != ringing[3]:
            return "the 180 re-sent for the retransmitted INVITE differs from the first 180"
    c.send(c.request("CANCEL"))
    if not c.wait_for(200, "CANCEL", 2):
        return "no 200 for the CANCEL within 2 s"
    terminated = c.wait_for(487, "INVITE", 2)
    if not terminated:
        return "no 487 for the INVITE within 2 s of the CANCEL"
    c.send(c.request("ACK", to_tag=to_tag_of(terminated[3])))
    # Past timer G (T1): a proxy that did not take the ACK would send the 487 again by now.
    c.drain(0.8)
    count = sum(1 for r in c.received if r[1] == 487)
    if count != 1:
        return f"{count} responses 487, expected 1 (the ACK for the 487 was not absorbed?)"
    unexpected = [r for r in c.received if (r[1], r[2]) not in
                  ((100, "INVITE"), (180, "INVITE"), (200, "CANCEL"), (487, "INVITE"))]
    if unexpected:
        return "unexpected responses: " + ", ".join(f"{s} {m}" for _, s, m, _ in unexpected)
    return None


def run_message(c, _direct):
    message = c.request("MESSAGE", body=b"retransmitted\r\n", content_type="text/plain")
    c.send(message)
    time.sleep(0.05)
    c.send(message)
    first = c.wait_for(200, "MESSAGE", 2)
    if not first:
        return "no 200 for the MESSAGE within 2 s"
    c.drain(0.3)
    count = sum(1 for r in c.received if r[1] == 200)
    if count != 1:
        return (f"{count} responses 200 to a MESSAGE sent twice before the answer; the proxy "
                "must absorb the retransmission while it waits (RFC 3261 §17.2.2, Trying)")
    c.send(message)
    again = c.wait_for(200, "MESSAGE", 1)
    if not again:
        return "the MESSAGE retransmitted after the 200 was not answered again within 1 s"
    if again[3] != first[3]:
        return "the 200 re-sent for the retransmitted MESSAGE differs from the first 200"
    c.drain(0.3)
    unexpected = [r for r in c.received if (r[1], r[2]) != (200, "MESSAGE")]
    if unexpected:
        return "unexpected responses: " + ", ".join(f"{s} {m}" for _, s, m, _ in unexpected)
    return None


def main(argv):
    if len(argv) not in (5, 6) or argv[1] not in ("invite", "message") or \
            argv[5:] not in ([], ["direct"]):
        sys.exit(__doc__)
    caller = Caller(int(argv[2]), int(argv[3]), int(argv[4]))
    problem = (run_invite if argv[1] == "invite" else run_message)(caller, len(argv) == 6)
    print(f"received: {caller.summary()}")
    if problem:
        print(f"FAIL: {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
