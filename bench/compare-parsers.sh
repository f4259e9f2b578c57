#!/usr/bin/env bash
# Runs strowger-bench-parse and the sofia-sip / libosip2 anchor on the same message, one after the
# other on this machine, and prints all figures. The anchor is built from the shared bench
# harness into a temporary directory; nothing from it is kept in the project.
#
#   bench/compare-parsers.sh [BUILD_DIR] [MESSAGE]
#
# Needs: scripts/install-deps.sh --bench (libsofia-sip-ua-dev libosip2-dev).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
shared=${STROWGER_SHARED_DIR:-$root/../shared}
message=${2:-$shared/bench/parsers/invite.sip}
anchor_src=$shared/bench/parsers/parse_bench.c
[ -f "$anchor_src" ] || { echo "no anchor at $anchor_src (set STROWGER_SHARED_DIR)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2046
gcc -O2 -w "$anchor_src" $(pkg-config --cflags --libs sofia-sip-ua libosip2) -o "$tmp/parse_bench"
echo "message: $message ($(wc -c < "$message") bytes)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for round in 1 2 3; do
  echo "-- round $round"
  "$build/bench/strowger-bench-parse" "$message" 1000000 | sed 's/^/strowger_/'
  "$tmp/parse_bench" "$message" 200000 | grep -E 'sofia|osip|memchr'
done
