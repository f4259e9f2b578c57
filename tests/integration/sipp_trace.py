#!/usr/bin/env python3
"""Reads a sipp message trace (-trace_msg, -message_file) and answers the questions the stateful
integration tests ask of it: how many messages of a kind were received or sent, at what intervals,
and whether an ACK or a CANCEL was built hop by hop.

  sipp_trace.py FILE count recv|sent FIRST_LINE_REGEX [CSEQ_METHOD]
      prints how many messages went that way whose first line matches the regex (re.search) and,
      when given, whose CSeq method is CSEQ_METHOD.
  sipp_trace.py FILE gaps recv|sent FIRST_LINE_REGEX [CSEQ_METHOD]
      prints the intervals between those messages in milliseconds, one line each.
  sipp_trace.py FILE delay SENT_FIRST_LINE_REGEX RECV_FIRST_LINE_REGEX
      prints the milliseconds from the first sent message matching the first regex to the first
      received message matching the second.
  sipp_trace.py FILE hop-by-hop ACK|CANCEL
      checks every ACK or CANCEL received against the INVITE received with the same Call-ID, as
      a proxy builds them hop by hop (RFC 3261 §9.1, §17.1.1.3): a single Via, the INVITE's top
      one; the INVITE's Request-URI, From, Call-ID, CSeq number and Route headers; To as in the
      INVITE (CANCEL) or as in the final response sent for it (ACK). Prints what is wrong and
      exits 1, or prints the number of messages checked.

A retransmission that sipp absorbs is written to the trace like any message, so counts include
retransmissions in both directions.
"""
import re
import sys
from datetime import datetime

_SEPARATOR = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)\s*$")
_HEAD = re.compile(r"^(UDP|TCP|TLS|SCTP) message (received|sent)")


class Message:
    def __init__(self, when, direction, lines):
        self.when = when
        self.direction = direction
        while lines and not lines[0].strip():
            lines = lines[1:]
        self.lines = lines

    @property
    def first_line(self):
        return self.lines[0] if self.lines else ""

    def headers(self, name):
        """Values of every line of header NAME (Via split at its commas; the compact forms of Via
        and Call-ID count)."""
        names = {name.lower(), {"via": "v", "call-id": "i"}.get(name.lower(), name.lower())}
        out = []
        for line in self.lines[1:]:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            if key.strip().lower() not in names:
                continue
            if name.lower() == "via":
                out.extend(v.strip() for v in value.split(","))
            else:
                out.append(value.strip())
        return out

    @property
    def cseq_method(self):
        values = self.headers("CSeq")
        return values[0].split()[-1] if values else ""


def parse(path):
    messages = []
    when, direction, lines = None, None, []

    def flush():
        if direction is not None:
            messages.append(Message(when, direction, lines))

    with open(path, encoding="latin-1") as trace:
        for raw in trace:
            line = raw.rstrip("\r\n")
            sep = _SEPARATOR.match(line)
            if sep:
                flush()
                when = datetime.strptime(sep.group(1) + " " + sep.group(2), "%Y-%m-%d %H:%M:%S.%f")
                direction, lines = None, []
                continue
            if direction is None and when is not None:
                head = _HEAD.match(line)
                if head:
                    direction = "recv" if head.group(2) == "received" else "sent"
                continue
            if direction is not None:
                lines.append(line)
    flush()
    return messages


def select(messages, direction, regex, cseq=None):
    pattern = re.compile(regex)
    return [m for m in messages if m.direction == direction and pattern.search(m.first_line)
            and (cseq is None or m.cseq_method == cseq)]


def branch_of(via):
    match = re.search(r";\s*branch=([^;\s,]+)", via, re.IGNORECASE)
    return match.group(1) if match else None


def hop_by_hop(messages, method):
    """Problems of the ACKs or CANCELs received, each checked against the INVITE received before
    it with the same Call-ID (RFC 3261 §9.1 for CANCEL, §17.1.1.3 for the ACK of a non-2xx): the
    same Request-URI, From, Call-ID, CSeq number and Route headers; one Via, equal to the INVITE's
    top Via; To as in the INVITE (CANCEL) or as in the final response sent for it (ACK)."""
    invites, finals = {}, {}
    for m in messages:
        call_id = tuple(m.headers("Call-ID"))
        if m.direction == "recv" and m.first_line.startswith("INVITE "):
            invites.setdefault(call_id, m)
        elif (m.direction == "sent" and re.match(r"SIP/2\.0 [3-6]\d\d ", m.first_line)
              and m.cseq_method == "INVITE"):
            finals[call_id] = m
    problems, checked = [], 0
    for m in select(messages, "recv", "^" + method + " "):
        checked += 1
        call_id = tuple(m.headers("Call-ID"))
        invite = invites.get(call_id)
        what = f"{method} of Call-ID {call_id[0] if call_id else '?'}"
        if invite is None:
            problems.append(f"{what}: no INVITE received before it")
            continue
        vias = m.headers("Via")
        top = invite.headers("Via")[0]
        if vias != [top]:
            problems.append(f"{what}: Via {vias}, expected the INVITE's top Via only: {top}")
        if m.first_line.split()[1:2] != invite.first_line.split()[1:2]:
            problems.append(f"{what}: Request-URI of {m.first_line!r} is not the INVITE's")
        for name in ("From", "Call-ID", "Route"):
            if m.headers(name) != invite.headers(name):
                problems.append(f"{what}: {name} {m.headers(name)} is not the INVITE's "
                                f"{invite.headers(name)}")
        cseq, invite_cseq = m.headers("CSeq"), invite.headers("CSeq")
        if not cseq or not invite_cseq or cseq[0].split() != [invite_cseq[0].split()[0], method]:
            problems.append(f"{what}: CSeq {cseq}, expected {invite_cseq[0].split()[0]} {method}")
        if method == "CANCEL":
            to = invite.headers("To")
        else:
            final = finals.get(call_id)
            to = final.headers("To") if final else ["(no final response sent)"]
        if m.headers("To") != to:
            problems.append(f"{what}: To {m.headers('To')}, expected {to}")
    if checked == 0:
        problems.append(f"no {method} received")
    return problems, checked


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    messages = parse(argv[1])
    command = argv[2]
    if command in ("count", "gaps"):
        chosen = select(messages, argv[3], argv[4], argv[5] if len(argv) > 5 else None)
        if command == "count":
            print(len(chosen))
        else:
            for a, b in zip(chosen, chosen[1:]):
                print(round((b.when - a.when).total_seconds() * 1000))
    elif command == "delay":
        sent = select(messages, "sent", argv[3])
        got = select(messages, "recv", argv[4])
        if not sent or not got:
            sys.exit(f"delay: no sent message matching {argv[3]!r} or no received one matching "
                     f"{argv[4]!r}")
        print(round((got[0].when - sent[0].when).total_seconds() * 1000))
    elif command == "hop-by-hop":
        problems, checked = hop_by_hop(messages, argv[3])
        for problem in problems:
            print(problem)
        if problems:
            sys.exit(1)
        print(checked)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
