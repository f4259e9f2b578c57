#!/usr/bin/env bash
# Installs what is needed, builds the release preset and starts the daemon with
# config/strowger.yaml. Extra arguments are passed to the daemon.
# Works from any directory; as root on a fresh Debian 12 machine.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release
exec build/release/src/runtime/strowger -c config/strowger.yaml "$@"
