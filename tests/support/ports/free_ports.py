#!/usr/bin/env python3
"""Free loopback ports for tests that start the daemon and its peers, each free for both TCP and
UDP at the moment it is chosen.

Ports are drawn at random from below the kernel's ephemeral range (32768-60999 by default), not
asked of the kernel with bind(0). A port the kernel hands out for bind(0) is free now, but the
kernel hands the same range out again for every outgoing TCP connection and unbound UDP socket
of every test running at the same time, and one of those can take it before the test binds it.
Below the range only another test's explicit choice can collide, which the bind check and the
random draw make rare.

  free_ports.py COUNT      prints COUNT distinct ports, space-separated
  from free_ports import free_ports   (add this directory to sys.path)
"""
import random
import socket
import sys

LOW, HIGH = 20000, 32767


def _free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_ports(count):
    draw = random.SystemRandom()
    ports = []
    for _ in range(100 * count + 1000):
        if len(ports) == count:
            return ports
        port = draw.randint(LOW, HIGH)
        if port not in ports and _free(port):
            ports.append(port)
    raise RuntimeError(f"no {count} free ports between {LOW} and {HIGH}")


def free_port():
    return free_ports(1)[0]


if __name__ == "__main__":
    print(" ".join(map(str, free_ports(int(sys.argv[1]) if len(sys.argv) > 1 else 1))))
