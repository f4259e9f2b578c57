#!/usr/bin/env python3
"""Checks the last final response a sipp run received (the answer to a REGISTER of
scenarios/register.xml, or to a call the proxy refused, scenarios/uac_refused.xml) in its message
trace (-trace_msg), exactly: the status, the bindings its Contact headers list (URI and expires),
and the other headers asked for.

  check_response.py TRACE --status CODE [--contact URI=LOW..HIGH ...] [--no-contact]
               [--header 'Name: value' ...] [--date]

  --status CODE          the last final response received has this status code
  --contact URI=LOW..HIGH  the response lists a Contact <URI> with expires=N, LOW <= N <= HIGH;
                         given one or more times, the listed URIs must be exactly these
  --no-contact           the response has no Contact header at all
  --header 'Name: value' the response has this header with exactly this value
  --date                 the response has a Date header in the RFC 1123 form (RFC 3261 §20.17),
                         within 10 s of this machine's clock

Prints what is wrong (and the response) and exits 1; prints "ok" otherwise.
"""
import argparse
import email.utils
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sipp_trace  # noqa: E402  (tests/integration/sipp_trace.py)

_DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                   r"Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


def split_commas(value):
    """Splits a header value at the commas outside <...> and "..." (several Contacts in one)."""
    out, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(value):
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "<":
            depth += 1
        elif not quoted and c == ">":
            depth -= 1
        elif not quoted and depth == 0 and c == ",":
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [v for v in out if v]


def contacts_of(message):
    """{uri: expires or None} of every Contact value (the compact form m counts)."""
    found = {}
    for line in message.lines[1:]:
        if not line.strip():
            break
        name, _, value = line.partition(":")
        if name.strip().lower() not in ("contact", "m"):
            continue
        for one in split_commas(value.strip()):
            match = re.match(r"^<([^>]*)>(.*)$", one)
            uri, params = (match.group(1), match.group(2)) if match else (one.split(";")[0],
                                                                           ";" + one.partition(";")[2])
            expires = re.search(r";\s*expires\s*=\s*(\d+)", params, re.IGNORECASE)
            found[uri] = int(expires.group(1)) if expires else None
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace")
    parser.add_argument("--status", type=int, required=True)
    parser.add_argument("--contact", action="append", default=[])
    parser.add_argument("--no-contact", action="store_true")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--date", action="store_true")
    args = parser.parse_args()

    messages = sipp_trace.parse(args.trace)
    finals = [m for m in messages
              if m.direction == "recv" and re.match(r"^SIP/2\.0 [2-6]\d\d ", m.first_line)]
    if not finals:
        print(f"no final response in {args.trace}")
        return 1
    response = finals[-1]
    problems = []
    status = int(response.first_line.split()[1])
    if status != args.status:
        problems.append(f"status {status}, expected {args.status}")

    listed = contacts_of(response)
    if args.no_contact and listed:
        problems.append(f"Contact listed {sorted(listed)}, expected none")
    if args.contact:
        wanted = {}
        for spec in args.contact:
            uri, _, bounds = spec.rpartition("=")
            low, _, high = bounds.partition("..")
            wanted[uri] = (int(low), int(high))
        if set(listed) != set(wanted):
            problems.append(f"Contacts {sorted(listed)}, expected {sorted(wanted)}")
        for uri, (low, high) in wanted.items():
            if uri in listed and (listed[uri] is None or not low <= listed[uri] <= high):
                problems.append(f"Contact <{uri}> expires={listed[uri]}, expected {low}..{high}")

    for spec in args.header:
        name, _, value = spec.partition(":")
        values = response.headers(name.strip())
        if values != [value.strip()]:
            problems.append(f"{name.strip()}: {values}, expected [{value.strip()!r}]")

    if args.date:
        dates = response.headers("Date")
        if len(dates) != 1 or not _DATE.match(dates[0]):
            problems.append(f"Date {dates}, expected one in the RFC 1123 form")
        else:
            when = email.utils.parsedate_to_datetime(dates[0]).timestamp()
            if abs(when - time.time()) > 10:
                problems.append(f"Date {dates[0]} is more than 10 s from this machine's clock")

    if problems:
        for p in problems:
            print(p)
        print("--- the response:")
        print("\n".join(response.lines))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
