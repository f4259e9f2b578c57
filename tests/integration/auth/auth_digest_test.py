#!/usr/bin/env python3
"""Digest authentication (the `auth` module) end to end, the real daemon on loopback, driven by a
small SIP client of this file's own (hashlib computes the digests):

  - REGISTER challenged with 401 and one WWW-Authenticate per algorithm, SHA-256 first; answered
    with SHA-256 it gets the registrar's 200 (and with MD5 too);
  - the same Authorization sent again (same nonce, same nc) is refused: a new challenge, never 200;
    with nc incremented it is accepted;
  - --check-config refuses bad sections (a misspelt key, a bad HA1 in the users file, a CIDR with
    host bits, an unknown algorithm, ban action or trusted list, a short secret) naming file, line
    and column;
  - a nonce past nonce_lifetime is answered with a new challenge carrying stale=true (a second
    daemon with a 2 s lifetime), and is not a failure;
  - on that daemon, ban action drop: two wrong passwords, then no answers at all;
  - a source in a trusted list is relayed without a challenge;
  - an unknown user and a wrong password get answers with the same status and the same header
    names;
  - an INVITE (not for the proxy) is challenged with 407 and Proxy-Authenticate; with
    Proxy-Authorization it is relayed to a UAS of this file, which sees X-Auth-User (the one the
    client forged removed) and no Proxy-Authorization for our realm (another realm's kept);
  - auth.check_from: an authenticated INVITE whose From user is another user gets 403;
  - a burst of wrong passwords from one address: one "auth: ban source=..." line (and one for the
    user), then 403 for that address even with the right password, while another address and
    another user still register;
  - SIGHUP re-reads the users file: a user added there can register, the bans stay;
  - SIGUSR1: the "module auth:" statistics.

  auth_digest_test.py STROWGER_BIN

Exit status: 0 pass, 1 or 2 fail (a missing auth, location or registrar module too).
"""
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)


def free_port():
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise Failure("no port free for both UDP and TCP")


class Msg:
    def __init__(self, text):
        self.text = text
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
    def code(self):
        return None if self.is_request else int(self.start.split(" ")[1])


def challenge_params(value):
    """The auth-params of a WWW-/Proxy-Authenticate value as a dict (quotes removed)."""
    check(value.startswith("Digest "), f"not a Digest challenge: {value}")
    params = {}
    for m in re.finditer(r'(\w+)=("([^"\\]|\\.)*"|[^,\s]+)', value[7:]):
        v = m.group(2)
        params[m.group(1).lower()] = v[1:-1] if v.startswith('"') else v
    return params


def digest_response(algorithm, user, realm, password, method, uri, nonce, nc, cnonce):
    h = hashlib.sha256 if algorithm.upper().startswith("SHA-256") else hashlib.md5

    def hexdigest(text):
        return h(text.encode()).hexdigest()

    ha1 = hexdigest(f"{user}:{realm}:{password}")
    ha2 = hexdigest(f"{method}:{uri}")
    return hexdigest(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def credentials(algorithm, user, realm, password, method, uri, nonce, nc="00000001",
                cnonce=None):
    cnonce = cnonce or secrets.token_hex(8)
    response = digest_response(algorithm, user, realm, password, method, uri, nonce, nc, cnonce)
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm={algorithm}, cnonce="{cnonce}", qop=auth, nc={nc}')


class Phone:
    """A UDP SIP client bound to a loopback address of its own (127.0.0.X)."""

    def __init__(self, ip, proxy_port):
        self.ip = ip
        self.proxy = ("127.0.0.1", proxy_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.port = self.sock.getsockname()[1]
        self.cseq = 0

    def close(self):
        self.sock.close()

    def send(self, method, ruri, user, call_id, headers=(), to_uri=None, from_user=None):
        """Sends one request; returns (its bytes, its Via branch)."""
        self.cseq += 1
        branch = "z9hG4bK" + secrets.token_hex(8)
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.ip}:{self.port};branch={branch};rport",
                 "Max-Forwards: 70",
                 f"From: <sip:{from_user or user}@127.0.0.1>;tag={secrets.token_hex(4)}",
                 f"To: <{to_uri or ruri}>",
                 f"Call-ID: {call_id}",
                 f"CSeq: {self.cseq} {method}",
                 f"Contact: <sip:{user}@{self.ip}:{self.port}>"]
        lines.extend(headers)
        lines.append("Content-Length: 0")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.sock.sendto(data, self.proxy)
        return data, branch

    def resend(self, data):
        self.sock.sendto(data, self.proxy)

    def final(self, branch, timeout=5):
        """The final response to the request with this branch, or None within `timeout`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(deadline - time.time(), 0.01))
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            msg = Msg(data.decode(errors="replace"))
            if msg.is_request or msg.code < 200:
                continue
            if branch in (msg.get("Via") or ""):
                return msg
        return None

    def silence(self, branch, seconds):
        """True when no final response to `branch` arrives within `seconds`."""
        return self.final(branch, seconds) is None

    def request(self, method, ruri, user, call_id=None, headers=(), to_uri=None, from_user=None):
        call_id = call_id or secrets.token_hex(6) + "@auth-test"
        _, branch = self.send(method, ruri, user, call_id, headers, to_uri, from_user)
        msg = self.final(branch)
        check(msg is not None, f"{method} {ruri} from {self.ip}: no final response")
        return msg

    def authenticated(self, method, ruri, user, password, algorithm="SHA-256", headers=(),
                      to_uri=None, from_user=None, expect_first=None, wait=True):
        """Sends the request, answers its challenge for `algorithm`, returns (challenge, final);
        without `wait`, (challenge, branch of the second request) and the caller reads the
        final response itself."""
        call_id = secrets.token_hex(6) + "@auth-test"
        first = self.request(method, ruri, user, call_id, headers, to_uri, from_user)
        if expect_first is not None:
            check(first.code == expect_first, f"{method} not challenged with {expect_first}: "
                  f"{first.start}")
        check(first.code in (401, 407), f"{method} not challenged: {first.start}")
        name = "WWW-Authenticate" if first.code == 401 else "Proxy-Authenticate"
        offered = [challenge_params(v) for v in first.all(name)]
        chosen = [p for p in offered if p.get("algorithm") == algorithm]
        check(chosen, f"no {algorithm} challenge among {first.all(name)}")
        p = chosen[0]
        auth_name = "Authorization" if first.code == 401 else "Proxy-Authorization"
        auth = credentials(algorithm, user, p["realm"], password, method, ruri, p["nonce"])
        if not wait:
            _, branch = self.send(method, ruri, user, call_id,
                                  list(headers) + [f"{auth_name}: {auth}"], to_uri, from_user)
            return first, branch
        final = self.request(method, ruri, user, call_id,
                             list(headers) + [f"{auth_name}: {auth}"], to_uri, from_user)
        return first, final


class Daemon:
    def __init__(self, binary, tmp, name, config):
        self.log_path = os.path.join(tmp, name + ".log")
        self.config_path = os.path.join(tmp, name + ".yaml")
        with open(self.config_path, "w") as f:
            f.write(config)
        check_run = subprocess.run([binary, "--check-config", self.config_path],
                                   capture_output=True, text=True, timeout=30)
        if check_run.returncode != 0:
            raise Failure(f"configuration {name} refused:\n{check_run.stdout}{check_run.stderr}")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "-c", self.config_path], stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while " ready: " not in self.log():
            if self.proc.poll() is not None or time.time() > deadline:
                self.kill()
                raise Failure(f"daemon {name} did not start:\n" + self.log())
            time.sleep(0.05)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, count=1, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(re.findall(pattern, self.log(), re.M)) >= count:
                return True
            time.sleep(0.05)
        return False

    def stats(self, timeout=5):
        pattern = r"module auth: (.*)$"
        before = len(re.findall(pattern, self.log(), re.M))
        self.proc.send_signal(signal.SIGUSR1)
        check(self.wait_log(pattern, before + 1, timeout), "no auth statistics after SIGUSR1")
        line = re.findall(pattern, self.log(), re.M)[-1]
        out = {}
        for field in line.split(", "):
            name, _, value = field.partition(" ")
            out[name] = value
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
                raise Failure("daemon did not stop within 5 s")
        self.log_file.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def config(port, auth_section, routes):
    return f"""server:
  listen: [ "udp:127.0.0.1:{port}" ]
  workers: 2
  log: {{ level: info }}
modules:
  location:
    storage: memory
    keepalive: {{ interval: 0 }}
  registrar: {{}}
  auth:
{auth_section}
{routes}
"""


ROUTES = """routes:
  request:
    - if: { method: [ACK, CANCEL] }
      then: [ drop ]
    - if: { method: REGISTER }
      then: [ auth.require, registrar.save ]
    - if: { auth.trusted: pbx }
      then: [ relay ]
    - auth.require: { user_header: X-Auth-User }
    - auth.check_from
    - relay
"""


class Uas:
    """Answers every INVITE 486 and keeps what it received."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def answer_one(self, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(deadline - time.time(), 0.01))
            try:
                data, source = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            msg = Msg(data.decode(errors="replace"))
            if not msg.is_request or msg.start.split(" ")[0] != "INVITE":
                continue
            lines = ["SIP/2.0 486 Busy Here"]
            for name, value in msg.headers:
                if name.lower() in ("via", "from", "call-id", "cseq"):
                    lines.append(f"{name}: {value}")
                elif name.lower() == "to":
                    lines.append(f"{name}: {value};tag=uas1")
            lines.append("Content-Length: 0")
            self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), source)
            return msg
        return None


def config_errors(binary, tmp):
    """--check-config refuses bad auth sections, naming file, line, column and what was expected."""
    bad_users = os.path.join(tmp, "bad-users.yaml")
    with open(bad_users, "w") as f:
        f.write("users:\n  - user: a\n    domain: d\n    ha1_md5: abc\n")
    cases = [
        ("    realm: x\n    nonce_lifetme: 60",
         r"bad\.yaml:\d+:\d+: .*nonce_lifetme.*did you mean \"nonce_lifetime\""),
        (f"    users_file: {bad_users}",
         re.escape(bad_users) + r":4:14: users\[0\]\.ha1_md5: expected 32 hex digits"),
        ("    users: [ { user: a, domain: d, ha1_sha256: 0123 } ]",
         r"bad\.yaml:\d+:\d+: .*users\[0\]\.ha1_sha256: expected 64 hex digits"),
        ("    trusted: { pbx: [ \"10.1.2.3/8\" ] }",
         r"bad\.yaml:\d+:\d+: .*trusted\.pbx: .*bits set past its /8 prefix"),
        ("    algorithms: [SHA-512]", r"bad\.yaml:\d+:\d+: .*algorithms: expected SHA-256, MD5"),
        ("    ban: { action: ignore }", r"bad\.yaml:\d+:\d+: .*ban\.action"),
        ("    secret: short", r"bad\.yaml:\d+:\d+: .*secret: expected at least 16 characters"),
        ("    trusted: { pbx: [ \"127.0.0.7\" ] }\n    users: []",
         None),  # the routes name "pbx"; this one is valid
    ]
    path = os.path.join(tmp, "bad.yaml")
    for section, expected in cases:
        with open(path, "w") as f:
            f.write(config(free_port(), section, ROUTES))
        result = subprocess.run([binary, "--check-config", path], capture_output=True, text=True,
                                timeout=30)
        output = result.stdout + result.stderr
        if expected is None:
            check(result.returncode == 0, f"a valid section refused:\n{output}")
            continue
        check(result.returncode != 0, f"accepted: {section}")
        check(re.search(expected, output), f"for {section!r} expected /{expected}/ in:\n{output}")
    # An unknown trusted list in the routes.
    with open(path, "w") as f:
        f.write(config(free_port(), "    trusted: { office: [ \"10.0.0.0/8\" ] }", ROUTES))
    result = subprocess.run([binary, "--check-config", path], capture_output=True, text=True,
                            timeout=30)
    check(result.returncode != 0 and re.search(
        r"bad\.yaml:\d+:\d+: .*unknown trusted list \"pbx\"; modules\.auth\.trusted defines office",
        result.stdout + result.stderr), "unknown trusted list:\n" + result.stdout + result.stderr)
    print("ok: configuration errors name file:line:column and what was expected")


def run(binary, tmp):
    config_errors(binary, tmp)
    port, stale_port = free_port(), free_port()
    users_file = os.path.join(tmp, "users.yaml")
    with open(users_file, "w") as f:
        f.write("users:\n  - { user: carol, domain: 127.0.0.1, password: carol-secret }\n")
    auth = f"""    algorithms: [SHA-256, MD5]
    secret: "an-example-secret-of-32-characters"
    users_file: {users_file}
    users:
      - {{ user: alice, domain: 127.0.0.1, password: alice-secret }}
      - {{ user: bob, domain: 127.0.0.1, password: bob-secret }}
      - {{ user: victim, domain: 127.0.0.1, password: victim-secret }}
    trusted:
      pbx: [ "127.0.0.7", "10.0.0.0/8" ]
    ban: {{ threshold: 5, window: 60, duration: 600, action: reject, per_user: true }}"""
    main = Daemon(binary, tmp, "main", config(port, auth, ROUTES))
    stale_auth = """    secret: "another-secret-of-32-characters!!"
    nonce_lifetime: 2
    trusted: { pbx: [ "127.0.0.7" ] }
    ban: { threshold: 2, window: 60, duration: 600, action: drop, per_user: false }
    users:
      - { user: alice, domain: 127.0.0.1, password: alice-secret }"""
    stale = Daemon(binary, tmp, "stale", config(stale_port, stale_auth, ROUTES))
    daemons = [main, stale]
    phones = []

    def phone(ip, proxy=port):
        p = Phone(ip, proxy)
        phones.append(p)
        return p

    try:
        reg_uri = "sip:127.0.0.1"
        alice = phone("127.0.0.1")

        # --- REGISTER: 401, SHA-256 first, then 200 from the registrar ---
        first, final = alice.authenticated("REGISTER", reg_uri, "alice", "alice-secret",
                                           to_uri="sip:alice@127.0.0.1", expect_first=401)
        offered = first.all("WWW-Authenticate")
        check(len(offered) == 2, f"expected two challenges, got {offered}")
        algorithms = [challenge_params(v).get("algorithm") for v in offered]
        check(algorithms == ["SHA-256", "MD5"], f"challenge order {algorithms}")
        for value in offered:
            p = challenge_params(value)
            check(p.get("realm") == "127.0.0.1" and p.get("qop") == "auth" and p.get("nonce"),
                  f"challenge fields: {value}")
            check("stale" not in p, f"a first challenge is not stale: {value}")
        check(final.code == 200, f"SHA-256 REGISTER: {final.start}")
        check(final.get("Contact") and "alice@127.0.0.1" in final.get("Contact"),
              "the 200 lists the registered Contact")
        print("ok: REGISTER with SHA-256 -> 401 (SHA-256, MD5) then 200")

        _, final = alice.authenticated("REGISTER", reg_uri, "alice", "alice-secret",
                                       algorithm="MD5", to_uri="sip:alice@127.0.0.1")
        check(final.code == 200, f"MD5 REGISTER: {final.start}")
        print("ok: REGISTER with MD5 -> 200")

        # --- replay: the same Authorization again ---
        call_id = secrets.token_hex(6) + "@auth-test"
        challenged = alice.request("REGISTER", reg_uri, "alice", call_id,
                                   to_uri="sip:alice@127.0.0.1")
        p = challenge_params(challenged.all("WWW-Authenticate")[0])
        cnonce = secrets.token_hex(8)
        auth = credentials("SHA-256", "alice", p["realm"], "alice-secret", "REGISTER", reg_uri,
                           p["nonce"], "00000001", cnonce)
        ok = alice.request("REGISTER", reg_uri, "alice", call_id, [f"Authorization: {auth}"],
                           to_uri="sip:alice@127.0.0.1")
        check(ok.code == 200, f"first use of the nonce: {ok.start}")
        replayed = alice.request("REGISTER", reg_uri, "alice", call_id,
                                 [f"Authorization: {auth}"], to_uri="sip:alice@127.0.0.1")
        check(replayed.code == 401, f"replayed Authorization: {replayed.start}")
        check(all("stale" not in challenge_params(v) for v in replayed.all("WWW-Authenticate")),
              "a replay is not answered as stale")
        auth2 = credentials("SHA-256", "alice", p["realm"], "alice-secret", "REGISTER", reg_uri,
                            p["nonce"], "00000002", cnonce)
        next_nc = alice.request("REGISTER", reg_uri, "alice", call_id,
                                [f"Authorization: {auth2}"], to_uri="sip:alice@127.0.0.1")
        check(next_nc.code == 200, f"nc 2 with the same nonce: {next_nc.start}")
        print("ok: replayed nonce count -> 401; the next nc -> 200")

        # --- stale nonce (2 s lifetime) ---
        stale_phone = phone("127.0.0.1", stale_port)
        call_id = secrets.token_hex(6) + "@auth-test"
        challenged = stale_phone.request("REGISTER", reg_uri, "alice", call_id,
                                         to_uri="sip:alice@127.0.0.1")
        p = challenge_params(challenged.all("WWW-Authenticate")[0])
        time.sleep(3.5)
        auth = credentials("SHA-256", "alice", p["realm"], "alice-secret", "REGISTER", reg_uri,
                           p["nonce"])
        late = stale_phone.request("REGISTER", reg_uri, "alice", call_id,
                                   [f"Authorization: {auth}"], to_uri="sip:alice@127.0.0.1")
        check(late.code == 401, f"stale nonce: {late.start}")
        late_params = [challenge_params(v) for v in late.all("WWW-Authenticate")]
        check(all(q.get("stale") == "true" for q in late_params),
              f"stale=true in every challenge: {late.all('WWW-Authenticate')}")
        check(all(q["nonce"] != p["nonce"] for q in late_params), "a stale answer has a new nonce")
        auth = credentials("SHA-256", "alice", p["realm"], "alice-secret", "REGISTER", reg_uri,
                           late_params[0]["nonce"])
        fresh = stale_phone.request("REGISTER", reg_uri, "alice", call_id,
                                    [f"Authorization: {auth}"], to_uri="sip:alice@127.0.0.1")
        check(fresh.code == 200, f"with the fresh nonce: {fresh.start}")
        stale_stats = stale.stats()
        check(stale_stats.get("stale") == "1" and stale_stats.get("failures") == "0",
              f"stale is counted as stale, not as a failure: {stale_stats}")
        print("ok: stale nonce -> 401 stale=true, not a failure; the new nonce -> 200")

        # --- ban with action drop (second daemon: threshold 2) ---
        dropper = phone("127.0.0.70", stale_port)
        _, final = dropper.authenticated("REGISTER", reg_uri, "alice", "wrong-1",
                                         to_uri="sip:alice@127.0.0.1")
        check(final.code == 401, f"first wrong password: {final.start}")
        call_id = secrets.token_hex(6) + "@auth-test"
        challenged = dropper.request("REGISTER", reg_uri, "alice", call_id,
                                     to_uri="sip:alice@127.0.0.1")
        p = challenge_params(challenged.all("WWW-Authenticate")[0])
        auth = credentials("SHA-256", "alice", p["realm"], "wrong-2", "REGISTER", reg_uri,
                           p["nonce"])
        _, branch = dropper.send("REGISTER", reg_uri, "alice", call_id,
                                 [f"Authorization: {auth}"], "sip:alice@127.0.0.1")
        check(dropper.silence(branch, 1.5), "the failure that starts a drop ban is answered")
        _, branch = dropper.send("REGISTER", reg_uri, "alice", call_id, (), "sip:alice@127.0.0.1")
        check(dropper.silence(branch, 1.0), "a source banned with action drop is answered")
        check(stale.wait_log(r"auth: ban source=127\.0\.0\.70 reason=failures count=2 "
                             r"window=60s duration=600s$"), "no ban line for the drop ban")
        drop_stats = stale.stats()
        check(drop_stats.get("banned_dropped") == "2" and drop_stats.get("bans") == "1",
              f"drop statistics: {drop_stats}")
        print("ok: ban with action drop: no answers, banned_dropped counted")

        # --- INVITE: 407, then relayed with X-Auth-User, credentials removed ---
        uas = Uas()
        callee = f"sip:bob@127.0.0.1:{uas.port}"
        bob = phone("127.0.0.2")
        other_realm = ('Proxy-Authorization: Digest username="bob", realm="elsewhere", '
                       'nonce="x", uri="' + callee + '", response="00"')
        first, branch = bob.authenticated(
            "INVITE", callee, "bob", "bob-secret",
            headers=["X-Auth-User: admin", other_realm], expect_first=407, wait=False)
        check(first.all("Proxy-Authenticate") and not first.all("WWW-Authenticate"),
              "an INVITE to elsewhere is challenged with Proxy-Authenticate")
        received = uas.answer_one()
        check(received is not None, "the authenticated INVITE did not reach the UAS")
        check(received.all("X-Auth-User") == ["bob"],
              f"X-Auth-User at the UAS: {received.all('X-Auth-User')}")
        proxy_auth = received.all("Proxy-Authorization")
        check(len(proxy_auth) == 1 and 'realm="elsewhere"' in proxy_auth[0],
              f"our credentials removed, another realm's kept: {proxy_auth}")
        final = bob.final(branch)
        check(final is not None and final.code == 486, f"the UAS's answer reaches the caller: {final.start}")
        print("ok: INVITE -> 407, then relayed with X-Auth-User: bob, our credentials removed")

        # --- auth.check_from: authenticated as bob, From alice ---
        _, final = bob.authenticated("INVITE", callee, "bob", "bob-secret", from_user="alice")
        check(final.code == 403, f"From another user than the authenticated: {final.start}")
        print("ok: auth.check_from -> 403 for a From that is not the authenticated user")

        # --- trusted source: no challenge ---
        pbx = phone("127.0.0.7")
        call_id = secrets.token_hex(6) + "@auth-test"
        _, branch = pbx.send("INVITE", callee, "pbx", call_id)
        received = uas.answer_one()
        check(received is not None, "an INVITE from the trusted PBX did not reach the UAS")
        final = pbx.final(branch)
        check(final is not None and final.code == 486, "the trusted PBX's INVITE was challenged")
        check(not received.all("X-Auth-User"), "no X-Auth-User without auth.require")
        print("ok: trusted source relayed without a challenge")

        # --- unknown user vs wrong password: indistinguishable ---
        probe = phone("127.0.0.60")

        def shape(msg):
            names = [n.lower() for n, _ in msg.headers]
            challenges = [sorted(challenge_params(v)) for v in msg.all("WWW-Authenticate")]
            return msg.code, msg.start, names, challenges

        _, unknown = probe.authenticated("REGISTER", reg_uri, "nobody", "guess",
                                         to_uri="sip:nobody@127.0.0.1")
        _, wrong = probe.authenticated("REGISTER", reg_uri, "bob", "guess",
                                       to_uri="sip:bob@127.0.0.1")
        check(unknown.code == 401, f"unknown user: {unknown.start}")
        check(shape(unknown) == shape(wrong),
              f"unknown user and wrong password differ:\n{unknown.text}\n{wrong.text}")
        print("ok: unknown user and wrong password answered alike (401, same headers)")

        # --- REGISTER for another user's address: 403 ---
        _, final = alice.authenticated("REGISTER", reg_uri, "alice", "alice-secret",
                                       to_uri="sip:bob@127.0.0.1")
        check(final.code == 403, f"alice registering bob: {final.start}")
        print("ok: REGISTER whose To is another user -> 403")

        # --- ban: 5 wrong passwords from 127.0.0.50 ---
        attacker = phone("127.0.0.50")
        for attempt in range(4):
            _, final = attacker.authenticated("REGISTER", reg_uri, "victim", f"guess{attempt}",
                                              to_uri="sip:victim@127.0.0.1")
            check(final.code == 401, f"wrong password {attempt + 1}: {final.start}")
        _, final = attacker.authenticated("REGISTER", reg_uri, "victim", "guess4",
                                          to_uri="sip:victim@127.0.0.1")
        check(final.code == 403, f"the failure that starts the ban: {final.start}")
        check(main.wait_log(r"auth: ban source=127\.0\.0\.50 reason=failures count=5 "
                            r"window=60s duration=600s$"), "no source ban line in the log")
        check(main.wait_log(r"auth: ban user=victim@127\.0\.0\.1 reason=failures count=5 "
                            r"window=60s duration=600s$"), "no user ban line in the log")
        check(len(re.findall(r"auth: ban source=127\.0\.0\.50 ", main.log())) == 1,
              "one line per ban start")
        banned = attacker.request("REGISTER", reg_uri, "alice", to_uri="sip:alice@127.0.0.1")
        check(banned.code == 403, f"banned source, no credentials: {banned.start}")
        # Another source: alice still registers; victim is banned as a user, from anywhere.
        elsewhere = phone("127.0.0.51")
        _, final = elsewhere.authenticated("REGISTER", reg_uri, "alice", "alice-secret",
                                           to_uri="sip:alice@127.0.0.1")
        check(final.code == 200, f"another source while one is banned: {final.start}")
        _, final = elsewhere.authenticated("REGISTER", reg_uri, "victim", "victim-secret",
                                           to_uri="sip:victim@127.0.0.1")
        check(final.code == 403, f"a banned user with the right password: {final.start}")
        print("ok: 5 wrong passwords -> ban lines, 403 for that source and user; others work")

        # --- SIGHUP: the users file again, bans kept ---
        _, final = elsewhere.authenticated("REGISTER", reg_uri, "dave", "dave-secret",
                                           to_uri="sip:dave@127.0.0.1")
        check(final.code == 401, f"dave before the reload: {final.start}")
        with open(users_file, "a") as f:
            f.write("  - { user: dave, domain: 127.0.0.1, password: dave-secret }\n")
        infos = main.log().count("auth: 5 users")
        main.proc.send_signal(signal.SIGHUP)
        check(main.wait_log(r"auth: 5 users", infos + 1, 10), "no reload with 5 users")
        _, final = elsewhere.authenticated("REGISTER", reg_uri, "dave", "dave-secret",
                                           to_uri="sip:dave@127.0.0.1")
        check(final.code == 200, f"dave after the reload: {final.start}")
        banned = attacker.request("REGISTER", reg_uri, "alice", to_uri="sip:alice@127.0.0.1")
        check(banned.code == 403, f"the ban survives the reload: {banned.start}")
        print("ok: SIGHUP re-reads the users file; bans survive it")

        stats = main.stats()
        for name in ("challenges", "successes", "failures", "stale", "replays", "bans",
                     "banned_rejected", "banned_dropped", "users", "trusted_lists"):
            check(name in stats, f"statistics lack {name}: {stats}")
        check(stats["bans"] == "2" and stats["replays"] == "1" and stats["users"] == "5"
              and stats["trusted_lists"] == "1", f"statistics: {stats}")
        check(int(stats["banned_rejected"]) >= 4, f"banned_rejected: {stats}")
        print("ok: statistics " + ", ".join(f"{k} {v}" for k, v in stats.items()))

        for d in daemons:
            d.stop()
    finally:
        for p in phones:
            p.close()
        for d in daemons:
            d.kill()


def main():
    binary = sys.argv[1]
    module_dir = os.path.join(os.path.dirname(binary), "modules")
    for module in ("auth", "location", "registrar"):
        if not os.path.exists(os.path.join(module_dir, module + ".so")):
            print(f"FAIL: {module}.so is not built in {module_dir} (it is part of every build)")
            return 1
    tmp = tempfile.mkdtemp(prefix="strowger-auth-")
    try:
        run(binary, tmp)
    except Failure as failure:
        print(f"FAIL: {failure}")
        for name in ("main", "stale"):
            path = os.path.join(tmp, name + ".log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    print(f"--- {name}.log (tail)\n" + "".join(f.readlines()[-30:]))
        return 1
    finally:
        if os.environ.get("AUTH_TEST_KEEP"):
            print("kept:", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
