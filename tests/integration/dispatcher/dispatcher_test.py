#!/usr/bin/env python3
"""The dispatcher module end to end: the real daemon on loopback in front of three sipp
"gateways" (which answer the module's OPTIONS probes and take calls), a sipp caller.

  1. round robin: six calls, each gateway takes two;
  2. failover: one gateway answers 503 to every call; every caller still gets its 200, from the
     next gateway (the failure route's `dispatcher.next`);
  3. health: a gateway is stopped; the probes mark it inactive (the transition line in the log) and
     no further call is dispatched to it; it is started again, comes back (transition line) and
     takes calls again;
  4. all down: a set whose only gateway never answers: the caller gets the configured reply (480);
  5. reload: SIGHUP with the third gateway removed from the set and the first disabled by the admin
     state file: the remaining destinations keep their state (the dead set stays inactive, without
     a new transition), the disabled one takes no call, and SIGUSR1 lists every destination.

  dispatcher_test.py STROWGER_BIN SCENARIO_DIR

Exit status: 0 pass, 1 fail, 77 skip (sipp missing); a missing module is a failure.
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

HERE = os.path.dirname(os.path.abspath(__file__))
TRACE = os.path.join(os.path.dirname(HERE), "sipp_trace.py")


class Failure(Exception):
    pass


def free_ports(n):
    """N distinct ports free for both UDP and TCP on 127.0.0.1 at the time of asking."""
    ports, held = [], []
    for _ in range(200):
        if len(ports) == n:
            break
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        held += [t, u]
        ports.append(port)
    for s in held:
        s.close()
    if len(ports) != n:
        raise Failure("no free ports")
    return ports


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise Failure(f"{what} within {seconds} s")


def udp_bound(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        return True
    finally:
        s.close()
    return False


class Test:
    def __init__(self, binary, scenarios, work):
        self.binary = binary
        self.scenarios = scenarios
        self.work = work
        self.proxy, self.caller_port, *self.gw_ports, self.dead_port = free_ports(6)
        self.gateways = {}  # name -> (process, trace path)
        self.generation = 0
        self.daemon = None
        self.config_path = os.path.join(work, "strowger.yaml")
        self.admin_path = os.path.join(work, "admin.yaml")
        self.log_path = os.path.join(work, "daemon.log")
        self.caller_runs = 0

    # --- peers ------------------------------------------------------------------------------

    def uri(self, index):
        return f"sip:127.0.0.1:{self.gw_ports[index]}"

    def start_gateway(self, index, scenario="gateway.xml"):
        self.generation += 1
        base = os.path.join(self.work, f"gw{index + 1}-{self.generation}")
        process = subprocess.Popen(
            ["timeout", "150", "sipp", "-sf", os.path.join(self.scenarios, scenario),
             "-i", "127.0.0.1", "-p", str(self.gw_ports[index]), "-t", "u1", "-m", "100000",
             "-nostdin", "-timeout", "140s", "-trace_msg", "-message_file", base + ".msg",
             "-trace_err", "-error_file", base + ".err"],
            stdout=open(base + ".out", "w"), stderr=subprocess.STDOUT)
        self.gateways[index] = (process, base + ".msg")
        wait_for(lambda: udp_bound(self.gw_ports[index]), 5, f"gateway {index + 1} listening")

    def stop_gateway(self, index):
        process, _ = self.gateways.pop(index)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        wait_for(lambda: not udp_bound(self.gw_ports[index]), 5, f"gateway {index + 1} stopped")

    def invites(self, index):
        """INVITEs gateway INDEX (as now running) has received, by its sipp message trace."""
        trace = self.gateways[index][1]
        if not os.path.exists(trace):
            return 0
        out = subprocess.run([sys.executable, TRACE, trace, "count", "recv", "^INVITE "],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.strip() or 0)

    def call(self, count, scenario="caller.xml", service="100"):
        """COUNT calls one after the other from a sipp caller; raises unless every one went as the
        scenario says."""
        self.caller_runs += 1
        base = os.path.join(self.work, f"caller-{self.caller_runs}")
        result = subprocess.run(
            ["timeout", "60", "sipp", f"127.0.0.1:{self.proxy}", "-sf",
             os.path.join(self.scenarios, scenario), "-i", "127.0.0.1", "-p",
             str(self.caller_port), "-t", "u1", "-s", service, "-m", str(count), "-l", "1",
             "-r", "20", "-nostdin", "-timeout", "50s", "-timeout_error", "-recv_timeout",
             "10000", "-trace_msg", "-message_file", base + ".msg", "-trace_err",
             "-error_file", base + ".err"],
            stdout=open(base + ".out", "w"), stderr=subprocess.STDOUT)
        if result.returncode != 0:
            errors = open(base + ".err").read() if os.path.exists(base + ".err") else ""
            raise Failure(f"caller run {self.caller_runs} ({count} x {scenario}) exited "
                          f"{result.returncode}:\n{errors[-3000:]}\n--- daemon log:\n"
                          + self.log()[-3000:])

    def settle(self):
        """Lets the gateways write their traces of the calls just made."""
        time.sleep(0.7)

    # --- the daemon -------------------------------------------------------------------------

    def write_config(self, gateways, admin=False):
        destinations = "\n".join(
            f'          - {{ uri: "{self.uri(i)}", attrs: {{ name: gw{i + 1} }} }}'
            for i in gateways)
        admin_line = f"    admin_file: {self.admin_path}\n" if admin else ""
        text = f"""server:
  listen: [ "udp:127.0.0.1:{self.proxy}" ]
  workers: 2
  log: {{ level: info }}
  transactions: {{ fr_timeout: 2000, fr_inv_timeout: 5000 }}
modules:
  dispatcher:
    probe:
      interval: 1
      timeout: 1
      failures_to_inactive: 2
      successes_to_active: 2
      probe_mode: all
    failover:
      codes: [ "5xx" ]
      max_attempts: 3
{admin_line}    sets:
      gateways:
        algorithm: round_robin
        destinations:
{destinations}
      offline:
        destinations:
          - {{ uri: "sip:127.0.0.1:{self.dead_port}" }}
routes:
  request:
    - if: {{ has_to_tag: true }}
      then:
        - if: {{ loose_route: true }}
          then: [ relay ]
        - reply: [404, "Not Here"]
    - record_route
    - if: {{ ruri.user: down }}
      then:
        - dispatcher.select: {{ set: offline, all_down: [480, "All Gateways Down"] }}
        - relay
    - dispatcher.select: gateways
    - log: "dispatch ${{callid}} to ${{dst.uri}} (${{dst.set}} ${{dst.attr.name}})"
    - on_failure: next_gateway
    - relay
  failure:
    next_gateway:
      - if: {{ dispatcher.next: true }}
        then:
          - log: "failover ${{callid}} to ${{dst.uri}} after ${{reply.code}}"
          - on_failure: next_gateway
          - relay
"""
        with open(self.config_path, "w") as f:
            f.write(text)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def start_daemon(self):
        self.daemon = subprocess.Popen([self.binary, "-c", self.config_path],
                                       stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        wait_for(lambda: " ready: " in self.log() or self.daemon.poll() is not None, 10,
                 "the daemon ready")
        if self.daemon.poll() is not None:
            raise Failure("the daemon exited during start:\n" + self.log())

    def stop_daemon(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(5)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()

    def transition(self, uri, to, since=0):
        """The log's transition line for URI to state TO after offset SINCE, or None."""
        pattern = re.compile(r"dispatcher: \S+ " + re.escape(uri) + r" \S+ -> " + re.escape(to)
                             + r" \(")
        for line in self.log()[since:].splitlines():
            if pattern.search(line):
                return line
        return None

    def dispatched(self, since=0):
        """The destinations the `log` step named, in order, after offset SINCE."""
        return re.findall(r"dispatch \S+ to (sip:[0-9.:]+) ", self.log()[since:])

    # --- the test ---------------------------------------------------------------------------

    def run(self):
        for i in range(3):
            self.start_gateway(i)
        self.write_config([0, 1, 2])
        self.start_daemon()

        # 1. Round robin.
        self.call(6)
        self.settle()
        counts = [self.invites(i) for i in range(3)]
        if counts != [2, 2, 2]:
            raise Failure(f"round robin over three gateways, six calls: INVITEs {counts}")
        names = re.findall(r"dispatch \S+ to sip:\S+ \(gateways (gw\d)\)", self.log())
        if sorted(names) != ["gw1", "gw1", "gw2", "gw2", "gw3", "gw3"]:
            raise Failure(f"the dst.* variables in the log step: {names}")
        print(f"ok: round robin: six calls, INVITEs per gateway {counts}")

        # 2. Failover from a gateway that answers 503.
        self.stop_gateway(1)
        self.start_gateway(1, "gateway_busy.xml")
        before = [self.invites(0), self.invites(2)]
        mark = len(self.log())
        self.call(6)
        self.settle()
        busy = self.invites(1)
        after = [self.invites(0) - before[0], self.invites(2) - before[1]]
        failovers = re.findall(r"failover \S+ to (sip:\S+) after 503", self.log()[mark:])
        if busy == 0 or len(failovers) != busy or sum(after) != 6:
            raise Failure(f"failover: the busy gateway got {busy} INVITEs, the others {after}, "
                          f"failovers logged {failovers}")
        print(f"ok: failover: {busy} calls refused with 503 went to the next gateway; all six "
              "callers got 200")

        # 3. A stopped gateway goes inactive, takes no call, and comes back when it returns.
        self.stop_gateway(1)
        mark = len(self.log())
        wait_for(lambda: self.transition(self.uri(1), "inactive", mark), 15,
                 f"a transition of {self.uri(1)} to inactive in the log")
        print("ok: " + self.transition(self.uri(1), "inactive", mark).split("] ")[-1])
        mark = len(self.log())
        before = [self.invites(0), self.invites(2)]
        self.call(4)
        self.settle()
        dispatched = self.dispatched(mark)
        if self.uri(1) in dispatched or len(dispatched) != 4:
            raise Failure(f"calls while gateway 2 is inactive went to {dispatched}")
        after = [self.invites(0) - before[0], self.invites(2) - before[1]]
        if after != [2, 2]:
            raise Failure(f"calls while gateway 2 is inactive: INVITEs {after}")
        print(f"ok: no call to the inactive gateway; the other two took {after}")

        mark = len(self.log())
        self.start_gateway(1)
        wait_for(lambda: self.transition(self.uri(1), "active", mark), 15,
                 f"a transition of {self.uri(1)} back to active in the log")
        print("ok: " + self.transition(self.uri(1), "active", mark).split("] ")[-1])
        self.call(6)
        self.settle()
        if self.invites(1) != 2:
            raise Failure(f"the gateway that came back took {self.invites(1)} of six calls")
        print("ok: the gateway that came back takes its share of calls again")

        # 4. Every destination of a set down: the configured reply.
        wait_for(lambda: self.transition(f"sip:127.0.0.1:{self.dead_port}", "inactive"), 15,
                 "the offline set's destination inactive")
        self.call(1, "caller_rejected.xml", service="down")
        print("ok: all destinations down: the caller got 480 All Gateways Down")

        # 5. Reload: gateway 3 removed, gateway 1 disabled by the admin state file.
        with open(self.admin_path, "w") as f:
            f.write(f'disabled: [ "gateways {self.uri(0)}" ]\n')
        self.write_config([0, 1], admin=True)
        mark = len(self.log())
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "the new configuration is in service" in self.log()[mark:], 10,
                 "the reload in service")
        if not self.transition(self.uri(0), "admin-disabled", mark):
            raise Failure("no transition to admin-disabled after the reload:\n"
                          + self.log()[mark:])
        time.sleep(2.5)  # a few probe rounds
        dead = f"sip:127.0.0.1:{self.dead_port}"
        for uri in (dead, self.uri(1)):
            moved = [line for line in self.log()[mark:].splitlines()
                     if "dispatcher: " in line and f" {uri} " in line and " -> " in line]
            if moved:
                raise Failure(f"{uri} changed state across the reload: {moved}")
        self.call(1, "caller_rejected.xml", service="down")
        mark = len(self.log())
        self.call(4)
        dispatched = self.dispatched(mark)
        if dispatched != [self.uri(1)] * 4:
            raise Failure(f"after the reload, calls went to {dispatched}")
        print("ok: reload: states kept (offline still inactive, no new transition), the "
              "disabled gateway and the removed one take no call")

        mark = len(self.log())
        self.daemon.send_signal(signal.SIGUSR1)
        wait_for(lambda: "module dispatcher" in self.log()[mark:], 5, "statistics after SIGUSR1")
        stats = [line for line in self.log()[mark:].splitlines() if "module dispatcher" in line][0]
        for expected in (f"gateways {self.uri(0)} admin-disabled", f"gateways {self.uri(1)} active",
                         f"offline {dead} inactive", "all_down 2", "failovers "):
            if expected not in stats:
                raise Failure(f"statistics without {expected!r}: {stats}")
        if self.uri(2) in stats:
            raise Failure(f"the removed destination is still listed: {stats}")
        print("ok: SIGUSR1 lists every set and destination with its state")

    def cleanup(self):
        self.stop_daemon()
        for index in list(self.gateways):
            process, _ = self.gateways.pop(index)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, scenarios = sys.argv[1], sys.argv[2]
    if shutil.which("sipp") is None:
        print("SKIP: sipp is not installed (Debian package sip-tester)")
        return 77
    module = os.path.join(os.path.dirname(os.path.abspath(binary)), "modules", "dispatcher.so")
    if not os.path.exists(module):
        print(f"FAIL: {module} is not built (it is part of every build)")
        return 1
    work = tempfile.mkdtemp(prefix="strowger-dispatcher-")
    test = Test(binary, scenarios, work)
    try:
        test.run()
    except Failure as failure:
        print(f"FAIL: {failure}")
        print(f"(files kept in {work})")
        test.cleanup()
        return 1
    test.cleanup()
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
