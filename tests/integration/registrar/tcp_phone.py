#!/usr/bin/env python3
"""A phone registered over TCP that is then called over the very connection it registered on
(RFC 5626 flows; RFC 3261 §18 connection reuse): it connects to the proxy, REGISTERs with a Contact
naming its own ephemeral port (where nothing listens: a call can only reach it over this
connection), writes READY_FILE, then answers one call: INVITE, 100, 180, 200 (Record-Route
echoed), ACK, BYE, 200.

  tcp_phone.py PROXY_PORT USER READY_FILE [DEADLINE_SECONDS]

Checks the 200 to the REGISTER (it lists the Contact), and that the INVITE, ACK and BYE all
arrive over this connection with the Request-URI the phone registered (the ACK and BYE: its
Contact in the 200). Prints what it got, and what is wrong; exits 0 when the call went through.
"""
import re
import socket
import sys
import time


class Phone:
    def __init__(self, proxy_port, deadline):
        self.deadline = deadline
        self.sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
        self.local_port = self.sock.getsockname()[1]
        self.buffer = b""

    def send(self, text):
        print(">>> " + text.split("\r\n", 1)[0], flush=True)
        self.sock.sendall(text.encode())

    def receive(self):
        """The next SIP message on the connection (CRLF keepalives skipped), as (start line,
        {lower-case header name: [values]}, raw text)."""
        while True:
            self.buffer = self.buffer.lstrip(b"\r\n")
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buffer[:end].decode("latin-1")
                length = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                size = end + 4 + (int(length.group(1)) if length else 0)
                if len(self.buffer) >= size:
                    raw = self.buffer[:size].decode("latin-1")
                    self.buffer = self.buffer[size:]
                    lines = head.split("\r\n")
                    headers = {}
                    for line in lines[1:]:
                        name, _, value = line.partition(":")
                        headers.setdefault(name.strip().lower(), []).append(value.strip())
                    print("<<< " + lines[0], flush=True)
                    return lines[0], headers, raw
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("nothing more arrived before the deadline")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the proxy closed the connection")
            self.buffer += data


def response(status, request_headers, extra, to_tag=None):
    h = request_headers
    to = h["to"][0] + (f";tag={to_tag}" if to_tag and "tag=" not in h["to"][0] else "")
    lines = [f"SIP/2.0 {status}"]
    lines += [f"Via: {v}" for v in h.get("via", [])]
    lines += extra
    lines += [f"From: {h['from'][0]}", f"To: {to}", f"Call-ID: {h['call-id'][0]}",
              f"CSeq: {h['cseq'][0]}", "Content-Length: 0", "", ""]
    return "\r\n".join(lines)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    proxy_port, user, ready_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) > 4 else 20)
    phone = Phone(proxy_port, deadline)
    contact = f"sip:{user}@127.0.0.1:{phone.local_port};transport=tcp"
    local = f"127.0.0.1:{phone.local_port}"

    phone.send("\r\n".join([
        f"REGISTER sip:127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/TCP {local};branch=z9hG4bK-tcpphone-reg;rport",
        f"From: <sip:{user}@127.0.0.1>;tag=tcpphone1",
        f"To: <sip:{user}@127.0.0.1>",
        f"Call-ID: tcpphone-{phone.local_port}@127.0.0.1",
        "CSeq: 1 REGISTER",
        "Max-Forwards: 70",
        f"Contact: <{contact}>",
        "Expires: 300",
        "Content-Length: 0", "", ""]))
    start, headers, raw = phone.receive()
    if not start.startswith("SIP/2.0 200 "):
        print(f"FAIL: the REGISTER got {start!r}:\n{raw}")
        return 1
    if not any(f"<{contact}>" in c for c in headers.get("contact", [])):
        print(f"FAIL: the 200 does not list <{contact}>:\n{raw}")
        return 1
    with open(ready_file, "w") as ready:
        ready.write(contact + "\n")

    start, invite, raw = phone.receive()
    if start != f"INVITE {contact} SIP/2.0":
        print(f"FAIL: expected an INVITE for {contact} over the registration's connection, got:\n"
              f"{raw}")
        return 1
    record_route = [f"Record-Route: {r}" for r in invite.get("record-route", [])]
    phone.send(response("100 Trying", invite, []))
    phone.send(response("180 Ringing", invite, record_route + [f"Contact: <{contact}>"],
                        "tcpphone-callee"))
    phone.send(response("200 OK", invite, record_route + [f"Contact: <{contact}>"],
                        "tcpphone-callee"))
    start, ack, raw = phone.receive()
    if start != f"ACK {contact} SIP/2.0":
        print(f"FAIL: expected the ACK for the 200 (to {contact}), got:\n{raw}")
        return 1
    start, bye, raw = phone.receive()
    if start != f"BYE {contact} SIP/2.0":
        print(f"FAIL: expected the BYE (to {contact}), got:\n{raw}")
        return 1
    phone.send(response("200 OK", bye, []))
    # Until the caller has the 200 for the BYE: the connection stays up meanwhile.
    time.sleep(0.3)
    phone.sock.close()
    print("ok: registered over TCP, called over the same connection")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, TimeoutError, ConnectionError) as e:
        print(f"FAIL: {e}")
        sys.exit(1)
