#!/usr/bin/env python3
"""NAT help, Path and keepalives end to end, with the real daemon on loopback.

nat: `nat.fix_contact` behind `if: {nat.detected: true}` rewrites a private Contact of an INVITE
to the address it came from, and leaves a Contact that already names its source alone; in a
reply route it does the same for a 200 whose Contact is private (the callee's side).

path: an edge proxy in front of a "PBX" (a python socket) puts its Path on a REGISTER it relays,
with `received=` the phone's address when asked (`path.add: {received: true}`) and without it
otherwise, on top of a Path already there. The PBX's 200 reaches the phone. An INVITE from the
PBX to the phone's private Contact, with that Path as its Route, is relayed to the address the
phone registered from; over TCP, down the connection the phone registered over.

keepalives: the location module sends an OPTIONS every `interval` to a phone registered over UDP
from behind NAT (from the proxy's port, Request-URI the Contact), none to a phone whose Contact is
its source (`only_natted`), a CRLF keepalive on the TCP connection of a phone registered over TCP;
once that connection closes the binding is removed (SIGUSR1: dead_flows 1) and an INVITE for it
gets 480 while the emptied record waits for the expiry sweep, then 404.

  nat_path_test.py STROWGER_BIN MODULE_DIR

Exit status: 0 pass, 1 fail, 77 skip (a module is not built).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


class Failure(Exception):
    pass


# --- helpers ---------------------------------------------------------------------------------

# Free ports drawn below the ephemeral range (tests/support/ports/free_ports.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support", "ports"))
from free_ports import free_port  # noqa: E402


def udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


class Msg:
    """A parsed SIP message: start line, header lines in order, body."""

    def __init__(self, text, source=None):
        self.text = text
        self.source = source
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name.strip(), value.strip()))

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def get(self, name):
        values = self.all(name)
        return values[0] if values else None

    @property
    def is_request(self):
        return not self.start.startswith("SIP/2.0 ")

    @property
    def method(self):
        return self.start.split(" ", 1)[0] if self.is_request else None

    @property
    def ruri(self):
        return self.start.split(" ")[1] if self.is_request else None

    @property
    def code(self):
        return None if self.is_request else int(self.start.split(" ")[1])

    def __str__(self):
        return self.text


def receive(sock, timeout, want=None):
    """The next UDP message for which want(msg) holds, within timeout seconds; None if none."""
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, source = sock.recvfrom(65535)
        except socket.timeout:
            return None
        msg = Msg(data.decode(errors="replace"), source)
        if want is None or want(msg):
            return msg


def final(msg):
    return not msg.is_request and msg.code >= 200


def request(method, ruri, local, transport="UDP", branch="z9hG4bK1", call_id="c1@test",
            from_uri="<sip:alice@127.0.0.1>;tag=a1", to_uri=None, cseq=1, headers=(),
            body=""):
    host, port = local
    lines = [f"{method} {ruri} SIP/2.0",
             f"Via: SIP/2.0/{transport} {host}:{port};branch={branch};rport",
             "Max-Forwards: 70",
             f"From: {from_uri}",
             f"To: {to_uri or '<' + ruri + '>'}",
             f"Call-ID: {call_id}",
             f"CSeq: {cseq} {method}"]
    lines.extend(headers)
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def response(req, code, reason, headers=(), to_tag="b1"):
    """A response to a parsed request: its Vias, From, Call-ID, CSeq, To with a tag."""
    lines = [f"SIP/2.0 {code} {reason}"]
    for name, value in req.headers:
        if name.lower() in ("via", "v", "from", "f", "call-id", "i", "cseq", "record-route"):
            lines.append(f"{name}: {value}")
        elif name.lower() in ("to", "t"):
            lines.append(f"{name}: {value}" + ("" if ";tag=" in value else f";tag={to_tag}"))
    lines.extend(headers)
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ack_for(req, resp):
    """The ACK of a non-2xx final response (RFC 3261 §17.1.1.3), from a parsed request."""
    lines = [f"ACK {req.ruri} SIP/2.0", f"Via: {req.all('Via')[0]}", "Max-Forwards: 70",
             f"From: {req.get('From')}", f"To: {resp.get('To')}",
             f"Call-ID: {req.get('Call-ID')}", f"CSeq: {req.get('CSeq').split()[0]} ACK",
             "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def of_call(call_id, want):
    return lambda m: m.get("Call-ID") == call_id and want(m)


def path_entries(msg):
    """The Path header's entries, in order, across lines and commas."""
    out = []
    for value in msg.all("Path"):
        out.extend(e.strip() for e in value.split(","))
    return out


class Daemon:
    def __init__(self, binary, tmp, name, config):
        self.log_path = os.path.join(tmp, name + ".log")
        config_path = os.path.join(tmp, name + ".yaml")
        with open(config_path, "w") as f:
            f.write(config)
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "-c", config_path], stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        self.stopped = False
        deadline = time.time() + 10
        while " ready: " not in self.log():
            if self.proc.poll() is not None or time.time() > deadline:
                self.kill()
                raise Failure(f"daemon {name} did not start:\n" + self.log())
            time.sleep(0.05)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stats(self, module, timeout=5):
        """The next statistics line of `module` after a SIGUSR1, as a dict of counters."""
        pattern = re.compile(rf"module {module}: (.*)$", re.M)
        before = len(pattern.findall(self.log()))
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + timeout
        while True:
            found = pattern.findall(self.log())
            if len(found) > before:
                return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", found[-1])}
            if time.time() > deadline:
                raise Failure(f"SIGUSR1 logged no statistics for {module}:\n" + self.log())
            time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.stopped = True

    def stop(self):
        """SIGTERM; the daemon must exit 0 within 5 s."""
        if self.stopped:
            return
        self.stopped = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise Failure("daemon did not stop within 5 s")
        self.log_file.close()
        if rc != 0:
            raise Failure(f"daemon exited with {rc}:\n" + self.log())


def running(daemon, body):
    try:
        body(daemon)
    except BaseException:
        daemon.kill()
        print("--- daemon log ---\n" + daemon.log()[-6000:])
        raise
    daemon.stop()


# --- nat -------------------------------------------------------------------------------------

def test_nat(binary, module_dir, tmp):
    port = free_port()
    caller, callee = udp_socket(), udp_socket()
    caller_port, callee_port = caller.getsockname()[1], callee.getsockname()[1]
    config = f"""server:
  listen: [ "udp:127.0.0.1:{port}" ]
  workers: 2
  log: {{ level: info }}
modules:
  directory: {module_dir}
  nat: {{}}
routes:
  request:
    - if: {{ nat.detected: true }}
      then: [ nat.fix_contact, {{ add_header: {{ name: X-Nat, value: "yes" }} }} ]
      else: [ {{ add_header: {{ name: X-Nat, value: "no" }} }} ]
    - on_reply: callee_side
    - relay: {{ to: "sip:127.0.0.1:{callee_port}" }}
  reply:
    callee_side:
      - if: {{ nat.detected: true }}
        then: [ nat.fix_contact ]
"""

    def body(daemon):
        proxy = ("127.0.0.1", port)
        me = ("127.0.0.1", caller_port)

        # A private Contact: rewritten to the source address, parameters kept.
        caller.sendto(request("INVITE", f"sip:bob@127.0.0.1:{port}", me, branch="z9hG4bKn1",
                              call_id="nat-1@test",
                              headers=["Contact: <sip:alice@10.0.0.5:5062;ob>;expires=60"]),
                      proxy)
        got = receive(callee, 3, lambda m: m.method == "INVITE")
        if got is None:
            raise Failure("the INVITE with a private Contact never reached the callee")
        want = f"<sip:alice@127.0.0.1:{caller_port};ob>;expires=60"
        if got.get("Contact") != want:
            raise Failure(f"Contact {got.get('Contact')!r}, expected {want!r}:\n{got}")
        if got.get("X-Nat") != "yes":
            raise Failure(f"nat.detected did not hold for a private Contact:\n{got}")
        print("ok: nat.fix_contact rewrote a private Contact to the source address")

        # The callee answers with a private Contact of its own: the reply route fixes it.
        callee.sendto(response(got, 200, "OK", ["Contact: <sip:bob@192.168.1.20:5070>"]),
                      got.source)
        ok = receive(caller, 3, final)
        if ok is None or ok.code != 200:
            raise Failure(f"the caller got no 200: {ok}")
        want = f"<sip:bob@127.0.0.1:{callee_port}>"
        if ok.get("Contact") != want:
            raise Failure(f"the 200's Contact is {ok.get('Contact')!r}, expected {want!r}:\n{ok}")
        print("ok: nat.fix_contact in a reply route rewrote the callee's private Contact")

        # A Contact that already names the source: nat.detected is false, nothing changes.
        contact = f"<sip:alice@127.0.0.1:{caller_port};transport=udp>"
        caller.sendto(request("INVITE", f"sip:bob@127.0.0.1:{port}", me, branch="z9hG4bKn2",
                              call_id="nat-2@test", headers=[f"Contact: {contact}"]), proxy)
        got = receive(callee, 3, lambda m: m.method == "INVITE")
        if got is None:
            raise Failure("the INVITE with a public Contact never reached the callee")
        if got.get("X-Nat") != "no":
            raise Failure(f"nat.detected held for a Contact equal to the source:\n{got}")
        if got.get("Contact") != contact:
            raise Failure(f"a Contact equal to the source was changed:\n{got}")
        callee.sendto(response(got, 200, "OK", [f"Contact: <sip:bob@127.0.0.1:{callee_port}>"]),
                      got.source)
        ok = receive(caller, 3, final)
        if ok is None or ok.get("Contact") != f"<sip:bob@127.0.0.1:{callee_port}>":
            raise Failure(f"a public Contact in a 200 was changed or the 200 was lost: {ok}")
        print("ok: a Contact that names its source is left alone (request and reply)")

    running(Daemon(binary, tmp, "nat", config), body)


# --- path ------------------------------------------------------------------------------------

def test_path(binary, module_dir, tmp):
    port = free_port()
    phone, pbx = udp_socket(), udp_socket()
    phone_port, pbx_port = phone.getsockname()[1], pbx.getsockname()[1]
    config = f"""server:
  listen: [ "udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}" ]
  workers: 2
  log: {{ level: info }}
modules:
  directory: {module_dir}
  path: {{}}
routes:
  request:
    - if: {{ loose_route: true }}
      then: [ relay ]
    - if: {{ method: REGISTER, to.user: plain }}
      then: [ path.add, {{ relay: {{ to: "sip:127.0.0.1:{pbx_port}" }} }} ]
    - if: {{ method: REGISTER }}
      then: [ {{ path.add: {{ received: true }} }}, {{ relay: {{ to: "sip:127.0.0.1:{pbx_port}" }} }} ]
    - reply: [404, "Not Here"]
"""

    def body(daemon):
        proxy = ("127.0.0.1", port)
        me = ("127.0.0.1", phone_port)

        # REGISTER with received: our Path, with the phone's address, on top.
        phone.sendto(request("REGISTER", "sip:example.com", me, branch="z9hG4bKp1",
                             call_id="path-1@test", from_uri="<sip:phone@example.com>;tag=p1",
                             to_uri="<sip:phone@example.com>",
                             headers=["Contact: <sip:phone@10.0.0.9:5060>", "Expires: 300",
                                      "Supported: path"]), proxy)
        reg = receive(pbx, 3, lambda m: m.method == "REGISTER")
        if reg is None:
            raise Failure("the REGISTER never reached the PBX")
        entries = path_entries(reg)
        want = f"<sip:127.0.0.1:{port};lr;received=sip:127.0.0.1:{phone_port}>"
        if not entries or entries[0] != want:
            raise Failure(f"Path {entries}, expected {want!r} on top:\n{reg}")
        print(f"ok: path.add with received: Path {want}")
        pbx.sendto(response(reg, 200, "OK", [f"Path: {want}",
                                              "Contact: <sip:phone@10.0.0.9:5060>;expires=300"]),
                   reg.source)
        ok = receive(phone, 3, final)
        if ok is None or ok.code != 200:
            raise Failure(f"the phone did not get the PBX's 200: {ok}")
        print("ok: the PBX's 200 reached the phone")

        # The PBX calls the phone at its private Contact, with the Path as its Route: the proxy
        # sends the INVITE to the address the phone registered from.
        pbx_me = ("127.0.0.1", pbx_port)
        pbx.sendto(request("INVITE", "sip:phone@10.0.0.9:5060", pbx_me, branch="z9hG4bKp2",
                           call_id="path-2@test", from_uri="<sip:pbx@example.com>;tag=x1",
                           headers=[f"Route: {want}",
                                    f"Contact: <sip:pbx@127.0.0.1:{pbx_port}>"]), proxy)
        inv = receive(phone, 3, lambda m: m.method == "INVITE")
        if inv is None:
            raise Failure("the INVITE with the Path as Route never reached the phone's address:\n"
                          + "".join(l + "\n" for l in daemon.log().splitlines()[-10:]))
        if inv.ruri != "sip:phone@10.0.0.9:5060":
            raise Failure(f"the Request-URI changed on the way: {inv.ruri}")
        if inv.all("Route"):
            raise Failure(f"our Route was not removed:\n{inv}")
        phone.sendto(response(inv, 200, "OK", [f"Contact: <sip:phone@127.0.0.1:{phone_port}>"]),
                     inv.source)
        ok = receive(pbx, 3, final)
        if ok is None or ok.code != 200:
            raise Failure(f"the PBX did not get the phone's 200: {ok}")
        print("ok: an INVITE routed by the Path reached the received address; 200 back to the PBX")

        # Without received: no received parameter, and on top of a Path already there.
        phone.sendto(request("REGISTER", "sip:example.com", me, branch="z9hG4bKp3",
                             call_id="path-3@test", from_uri="<sip:plain@example.com>;tag=p3",
                             to_uri="<sip:plain@example.com>",
                             headers=["Path: <sip:10.9.9.9;lr>",
                                      "Contact: <sip:plain@10.0.0.9:5060>", "Expires: 300"]),
                     proxy)
        reg = receive(pbx, 3, lambda m: m.method == "REGISTER")
        if reg is None:
            raise Failure("the second REGISTER never reached the PBX")
        entries = path_entries(reg)
        want = [f"<sip:127.0.0.1:{port};lr>", "<sip:10.9.9.9;lr>"]
        if entries != want:
            raise Failure(f"Path {entries}, expected {want}:\n{reg}")
        pbx.sendto(response(reg, 200, "OK"), reg.source)
        ok = receive(phone, 3, final)
        if ok is None or ok.code != 200:
            raise Failure(f"the phone did not get the second 200: {ok}")
        print("ok: path.add without received, on top of an earlier Path")

        # Over TCP: the received URI carries the transport (escaped), and the INVITE that comes
        # back goes down the connection the phone registered over (it cannot accept one).
        tcp = TcpPhone(proxy)
        host, local_port = tcp.local
        tcp.send(request("REGISTER", "sip:example.com", (host, local_port), transport="TCP",
                         branch="z9hG4bKp4", call_id="path-4@test",
                         from_uri="<sip:tphone@example.com>;tag=p4",
                         to_uri="<sip:tphone@example.com>",
                         headers=["Contact: <sip:tphone@10.0.0.10:5060;transport=tcp>",
                                  "Expires: 300", "Supported: path"]))
        reg = receive(pbx, 3, lambda m: m.method == "REGISTER")
        if reg is None:
            raise Failure("the REGISTER over TCP never reached the PBX")
        top = path_entries(reg)[0] if path_entries(reg) else ""
        suffix = f";lr;received=sip:127.0.0.1:{local_port}%3Btransport%3Dtcp>"
        if not top.startswith(f"<sip:127.0.0.1:{port}") or not top.endswith(suffix):
            raise Failure(f"Path {top!r}, expected ...{suffix!r}:\n{reg}")
        pbx.sendto(response(reg, 200, "OK"), reg.source)
        ok = tcp.message(3)
        if ok is None or ok.code != 200:
            raise Failure(f"the TCP phone did not get the 200: {ok}")
        # The PBX reaches the proxy the way the Path URI says (it names the listener the
        # REGISTER came in on: TCP here).
        invite_args = dict(branch="z9hG4bKp5", call_id="path-5@test",
                           from_uri="<sip:pbx@example.com>;tag=x5",
                           headers=[f"Route: {top}", f"Contact: <sip:pbx@127.0.0.1:{pbx_port}>"])
        pbx_tcp = None
        if ";transport=tcp;" in top.split(";received=")[0] + ";":
            pbx_tcp = TcpPhone(proxy)
            pbx_tcp.send(request("INVITE", "sip:tphone@10.0.0.10:5060;transport=tcp",
                                 pbx_tcp.local, transport="TCP", **invite_args))
        else:
            pbx.sendto(request("INVITE", "sip:tphone@10.0.0.10:5060;transport=tcp", pbx_me,
                               **invite_args), proxy)
        inv = tcp.message(3)
        if inv is None or inv.method != "INVITE":
            raise Failure(f"the INVITE did not come down the phone's TCP connection: {inv}")
        tcp.send(response(inv, 200, "OK", [f"Contact: <sip:tphone@127.0.0.1:{local_port}>"]))
        if pbx_tcp is not None:
            ok = pbx_tcp.message(3)
            pbx_tcp.close()
        else:
            ok = receive(pbx, 3, of_call("path-5@test", final))
        if ok is None or ok.code != 200:
            raise Failure(f"the PBX did not get the TCP phone's 200: {ok}")
        tcp.close()
        print("ok: Path received over TCP: the INVITE came down the registering connection")

    running(Daemon(binary, tmp, "path", config), body)


# --- keepalives ------------------------------------------------------------------------------

class TcpPhone:
    def __init__(self, proxy):
        self.sock = socket.create_connection(proxy, timeout=3)
        self.local = self.sock.getsockname()
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def read(self, timeout, want):
        """Reads until want(buffer) returns how many bytes it consumed (or None to go on)."""
        deadline = time.time() + timeout
        while True:
            used = want(self.buffer)
            if used is not None:
                taken, self.buffer = self.buffer[:used], self.buffer[used:]
                return taken
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                return None
            if not data:
                return None
            self.buffer += data

    def message(self, timeout):
        def one(buf):
            stripped = len(buf) - len(buf.lstrip(b"\r\n"))
            end = buf.find(b"\r\n\r\n", stripped)
            if end < 0:
                return None
            m = re.search(rb"\r\n(?:Content-Length|l)\s*:\s*(\d+)", buf[stripped:end],
                          re.I)
            total = end + 4 + (int(m.group(1)) if m else 0)
            return total if len(buf) >= total else None
        data = self.read(timeout, one)
        return None if data is None else Msg(data.lstrip(b"\r\n").decode(errors="replace"))

    def close(self):
        self.sock.close()


def test_keepalive(binary, module_dir, tmp):
    port = free_port()
    natted, public, caller = udp_socket(), udp_socket(), udp_socket()
    config = f"""server:
  listen: [ "udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}" ]
  workers: 2
  log: {{ level: info }}
modules:
  directory: {module_dir}
  location:
    storage: memory
    expiry_interval: 1
    keepalive: {{ interval: 1, only_natted: true, from: "sip:ka@example.com" }}
  registrar: {{}}
routes:
  request:
    - if: {{ method: REGISTER }}
      then: [ registrar.save ]
    - location.lookup
    - relay
"""

    def register(sock, user, contact, branch):
        me = sock.getsockname()
        sock.sendto(request("REGISTER", "sip:example.com", me, branch=branch,
                            call_id=f"{user}-reg@test", from_uri=f"<sip:{user}@example.com>;tag=r",
                            to_uri=f"<sip:{user}@example.com>",
                            headers=[f"Contact: <{contact}>", "Expires: 300"]),
                    ("127.0.0.1", port))
        ok = receive(sock, 3, final)
        if ok is None or ok.code != 200:
            raise Failure(f"REGISTER of {user} not answered 200: {ok}")
        return ok

    def body(daemon):
        proxy = ("127.0.0.1", port)
        # UDP: one phone behind NAT, one whose Contact is its source address.
        register(natted, "p1", "sip:p1@10.1.2.3:5060", "z9hG4bKk1")
        register(public, "p2", f"sip:p2@127.0.0.1:{public.getsockname()[1]}", "z9hG4bKk2")
        registered = time.time()
        options = receive(natted, 3, lambda m: m.method == "OPTIONS")
        if options is None:
            raise Failure("the phone behind NAT got no OPTIONS keepalive within 3 s")
        if options.source != proxy:
            raise Failure(f"the keepalive came from {options.source}, not the proxy's port {proxy}")
        if options.ruri != "sip:p1@10.1.2.3:5060":
            raise Failure(f"keepalive Request-URI {options.ruri}, expected the Contact")
        if "sip:ka@example.com" not in (options.get("From") or ""):
            raise Failure(f"the keepalive's From is not the configured one:\n{options}")
        print(f"ok: OPTIONS keepalive to the NATted phone after {time.time() - registered:.1f} s")
        natted.sendto(response(options, 200, "OK"), options.source)  # answered, as phones do
        stray = receive(public, max(0.1, registered + 2.5 - time.time()))
        if stray is not None:
            raise Failure(f"a phone not behind NAT got a keepalive with only_natted:\n{stray}")
        print("ok: no keepalive to a phone whose Contact is its source (only_natted)")

        # A call for the NATted phone goes to the address it registered from.
        me = caller.getsockname()
        invite = request("INVITE", "sip:p1@example.com", me, branch="z9hG4bKk3",
                         call_id="ka-call-1@test")
        caller.sendto(invite, proxy)
        inv = receive(natted, 3, lambda m: m.method == "INVITE")
        if inv is None:
            raise Failure("an INVITE for the NATted phone did not reach its source address")
        natted.sendto(response(inv, 486, "Busy Here"), inv.source)
        busy = receive(caller, 3, of_call("ka-call-1@test", final))
        if busy is None or busy.code != 486:
            raise Failure(f"the caller did not get the 486: {busy}")
        caller.sendto(ack_for(Msg(invite.decode()), busy), proxy)
        if receive(natted, 3, lambda m: m.method == "ACK") is None:
            raise Failure("the proxy did not ACK the phone's 486")
        print("ok: an INVITE for the NATted phone went to its source address")

        # TCP: a CRLF keepalive on the connection the phone registered over.
        tcp = TcpPhone(proxy)
        host, local_port = tcp.local
        tcp.send(request("REGISTER", "sip:example.com", (host, local_port), transport="TCP",
                         branch="z9hG4bKk4", call_id="p3-reg@test",
                         from_uri="<sip:p3@example.com>;tag=r", to_uri="<sip:p3@example.com>",
                         headers=[f"Contact: <sip:p3@127.0.0.1:{local_port};transport=tcp>",
                                  "Expires: 300"]))
        ok = tcp.message(3)
        if ok is None or ok.code != 200:
            raise Failure(f"the TCP REGISTER was not answered 200: {ok}")
        before = daemon.stats("location")
        start = time.time()
        crlf = tcp.read(3, lambda buf: 4 if buf.startswith(b"\r\n\r\n") else None)
        if crlf is None:
            raise Failure(f"no CRLF keepalive on the TCP connection within 3 s "
                          f"(buffered {tcp.buffer!r})")
        print(f"ok: CRLF keepalive on the TCP flow after {time.time() - start:.1f} s")
        if before.get("dead_flows") != 0:
            raise Failure(f"dead_flows before any connection closed: {before}")

        # The phone hangs up the connection: the binding goes, counted as a dead flow.
        tcp.close()
        deadline = time.time() + 6
        while True:
            stats = daemon.stats("location")
            if stats.get("dead_flows") == 1:
                break
            if time.time() > deadline:
                raise Failure(f"dead_flows is not 1 six seconds after the close: {stats}")
            time.sleep(0.3)
        print(f"ok: dead_flows 1 after {time.time() - start:.1f} s (keepalives "
              f"{stats.get('keepalives')})")
        # The AOR's record stays, empty, until the next expiry sweep (memory_store.cc: "An AOR
        # whose last binding went stays known"): 480 until then, 404 after it.
        codes = []
        deadline = time.time() + 4
        while True:
            call_id = f"ka-call-dead-{len(codes)}@test"
            invite = request("INVITE", "sip:p3@example.com", me, branch=f"z9hG4bKd{len(codes)}",
                             call_id=call_id)
            caller.sendto(invite, proxy)
            gone = receive(caller, 3, of_call(call_id, final))
            if gone is None:
                raise Failure("an INVITE for the dead flow's AOR got no final response")
            caller.sendto(ack_for(Msg(invite.decode()), gone), proxy)
            codes.append(gone.code)
            if gone.code == 404:
                break
            if gone.code != 480 or time.time() > deadline:
                raise Failure(f"an INVITE for the dead flow's AOR got {codes}, expected 480s "
                              "(the record awaits the expiry sweep) then 404")
            time.sleep(0.3)
        print(f"ok: the binding of the closed flow is gone: {codes[0]} at once, 404 "
              f"{'at once' if len(codes) == 1 else 'after the expiry sweep'}")

    running(Daemon(binary, tmp, "keepalive", config), body)


def test_keepalive_timeout(binary, module_dir, tmp):
    """keepalive.timeout: a UDP binding that leaves its OPTIONS unanswered that long is removed;
    one that answers stays, and its answers are taken by the location module."""
    port = free_port()
    answering, silent, caller = udp_socket(), udp_socket(), udp_socket()
    config = f"""server:
  listen: [ "udp:127.0.0.1:{port}" ]
  workers: 2
  log: {{ level: info }}
modules:
  directory: {module_dir}
  location:
    storage: memory
    keepalive: {{ interval: 1, timeout: 2 }}
  registrar: {{}}
routes:
  request:
    - if: {{ method: REGISTER }}
      then: [ registrar.save ]
    - location.lookup
    - relay
"""

    def body(daemon):
        proxy = ("127.0.0.1", port)
        for sock, user, branch in ((answering, "a1", "z9hG4bKt1"), (silent, "s1", "z9hG4bKt2")):
            sock.sendto(request("REGISTER", "sip:example.com", sock.getsockname(), branch=branch,
                                call_id=f"{user}-reg@test",
                                from_uri=f"<sip:{user}@example.com>;tag=r",
                                to_uri=f"<sip:{user}@example.com>",
                                headers=[f"Contact: <sip:{user}@10.7.7.7:5060>", "Expires: 300"]),
                        proxy)
            ok = receive(sock, 3, final)
            if ok is None or ok.code != 200:
                raise Failure(f"REGISTER of {user} not answered 200: {ok}")
        # The answering phone answers every keepalive; the silent one never does.
        deadline = time.time() + 8
        removed = False
        while time.time() < deadline:
            options = receive(answering, 0.5, lambda m: m.method == "OPTIONS")
            if options is not None:
                answering.sendto(response(options, 200, "OK"), options.source)
            stats = daemon.stats("location")
            if stats.get("unanswered_removed") == 1:
                removed = True
                break
        if not removed:
            raise Failure(f"the silent phone was not removed within 8 s: {stats}")
        if stats.get("keepalive_answers", 0) < 1:
            raise Failure(f"the answering phone's answers were not taken: {stats}")
        print(f"ok: unanswered binding removed, answers counted ({stats.get('keepalive_answers')})")
        if "s1@example.com at 127.0.0.1:" not in daemon.log() or \
                "has not answered keepalives for 2 s" not in daemon.log():
            raise Failure("no log line for the removed binding:\n" + daemon.log())
        unroutable = re.findall(r"unroutable responses (\d+)", daemon.log())
        if not unroutable or unroutable[-1] != "0":
            raise Failure(f"keepalive answers reached the proxy core: unroutable {unroutable}")
        me = caller.getsockname()
        for user, want in (("s1", 404), ("a1", None)):
            call_id = f"timeout-{user}@test"
            invite = request("INVITE", f"sip:{user}@example.com", me, branch=f"z9hG4bKti{user}",
                             call_id=call_id)
            caller.sendto(invite, proxy)
            if want is not None:
                got = receive(caller, 3, of_call(call_id, final))
                if got is None or got.code != want:
                    raise Failure(f"a call to the removed phone got {got}, expected {want}")
                caller.sendto(ack_for(Msg(invite.decode()), got), proxy)
            else:
                inv = receive(answering, 3, lambda m: m.method == "INVITE")
                if inv is None:
                    raise Failure("the answering phone is no longer reachable")
                answering.sendto(response(inv, 486, "Busy Here"), inv.source)
                busy = receive(caller, 3, of_call(call_id, final))
                if busy is not None:
                    caller.sendto(ack_for(Msg(invite.decode()), busy), proxy)
        print("ok: the removed phone is not found, the answering one is still called")

    running(Daemon(binary, tmp, "keepalive-timeout", config), body)


def main():
    binary, module_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    for name in ("nat", "path", "location", "registrar"):
        if not os.path.exists(os.path.join(module_dir, name + ".so")):
            print(f"SKIP: module {name}.so is not built in {module_dir}")
            sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="strowger-nat-")
    test_nat(binary, module_dir, tmp)
    test_path(binary, module_dir, tmp)
    test_keepalive(binary, module_dir, tmp)
    test_keepalive_timeout(binary, module_dir, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
