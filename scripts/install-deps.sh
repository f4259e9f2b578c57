#!/usr/bin/env bash
# Installs every Debian 12 package Strowger needs to build, run and test.
# Used by scripts/run.sh, scripts/test.sh and CI. Fast when nothing is missing:
# apt is only touched if dpkg reports a package as not installed.
#
# Usage: scripts/install-deps.sh [--bench] [--dry-run]
#   --bench    also install the parsers the comparison benchmark measures against
#   --dry-run  print the missing packages and exit (0 if none are missing, 1 otherwise)
set -euo pipefail

usage() {
  cat << 'USAGE'
Usage: scripts/install-deps.sh [--bench] [--dry-run]
  --bench    also install the parsers the comparison benchmark measures against
  --dry-run  print the missing packages and exit (0 if none are missing, 1 otherwise)
USAGE
}

# Toolchain and build system.
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang-14 libclang-rt-14-dev llvm-14 clang-format clang-format-14
)
# Libraries the daemon and its tests link against.
packages+=(
  libboost-dev libboost-system-dev libssl-dev libpq-dev libyaml-cpp-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
)
# Tools the conformance and integration tests drive.
packages+=(
  sip-tester postgresql postgresql-client xz-utils procps iproute2 python3
)
# A real SIP phone (run headless) and the SIP attack tools, against the auth module.
packages+=(baresip-core sipvicious)
# Other SIP parsers, only for the parser comparison benchmark.
bench_packages=(libsofia-sip-ua-dev libosip2-dev)

dry_run=0
while (($#)); do
  case "$1" in
    --bench) packages+=("${bench_packages[@]}") ;;
    --dry-run) dry_run=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "install-deps: unknown option '$1'" >&2
      usage >&2
      exit 2
      ;;
  esac
  shift
done

if ! command -v dpkg-query > /dev/null 2>&1 || ! command -v apt-get > /dev/null 2>&1; then
  echo "install-deps: this script needs a Debian 12 system (dpkg and apt-get)" >&2
  exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2> /dev/null || true)
  if [[ "$status" != installed ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: missing ${#missing[@]} package(s): ${missing[*]}"
if ((dry_run)); then
  exit 1
fi

as_root=()
if ((EUID != 0)); then
  if command -v sudo > /dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-deps: not running as root and sudo is not available;" \
      "run this script as root" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
# env keeps DEBIAN_FRONTEND across sudo, which resets the environment.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
