#!/usr/bin/env bash
# Installs what is needed, builds and runs every test through ctest:
#   1. the `release` preset (gcc): unit, conformance and integration tests;
#   2. the `asan` preset (clang-14, ASan+UBSan, libFuzzer): unit, conformance and fuzz tests.
# Works from any directory; as root on a fresh Debian 12 machine. CI runs it via .ci/run.
#
# Options:
#   --quick            skip the asan preset (release build and tests only)
#   --fuzz-seconds N   seconds each fuzz-smoke test runs (STROWGER_FUZZ_SECONDS, asan only)
# Environment:
#   STROWGER_SHARED_DIR  where the shared conformance corpus lives (default: ../shared)
set -euo pipefail

usage() {
  cat << 'USAGE'
Usage: scripts/test.sh [--quick] [--fuzz-seconds N]
  --quick            skip the asan preset (release build and tests only)
  --fuzz-seconds N   seconds each fuzz-smoke test runs (asan preset only)
Environment: STROWGER_SHARED_DIR overrides where the shared conformance corpus lives.
USAGE
}

quick=0
fuzz_seconds=""
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --fuzz-seconds)
      if (($# < 2)) || ! [[ "$2" =~ ^[0-9]+$ ]]; then
        echo "test.sh: --fuzz-seconds needs a whole number of seconds" >&2
        exit 2
      fi
      fuzz_seconds="$2"
      shift
      ;;
    --fuzz-seconds=*)
      fuzz_seconds="${1#*=}"
      if ! [[ "$fuzz_seconds" =~ ^[0-9]+$ ]]; then
        echo "test.sh: --fuzz-seconds needs a whole number of seconds" >&2
        exit 2
      fi
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "test.sh: unknown option '$1'" >&2
      usage >&2
      exit 2
      ;;
  esac
  shift
done

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

common_defs=()
if [[ -n "${STROWGER_SHARED_DIR:-}" ]]; then
  common_defs+=("-DSTROWGER_SHARED_DIR=${STROWGER_SHARED_DIR}")
fi
asan_defs=()
if [[ -n "$fuzz_seconds" ]]; then
  asan_defs+=("-DSTROWGER_FUZZ_SECONDS=${fuzz_seconds}")
fi

# UBSan reports should carry a stack trace; callers may override.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

# The test presets already print the output of failing tests; cap it so one
# runaway test cannot flood the log.
ctest_args=(--test-output-size-failed 65536)

fmt_duration() {
  local s=$1
  printf '%dm%02ds' $((s / 60)) $((s % 60))
}

start_all=$SECONDS
phase_no=0
results=()  # "name:ok|FAILED|skipped:seconds"
failed=0

# run_phase NAME COMMAND... -- runs one phase with a header and a timing line.
run_phase() {
  local name=$1
  shift
  phase_no=$((phase_no + 1))
  printf '\n==================== [%d] %s ====================\n' "$phase_no" "$name"
  printf '$ %s\n' "$*"
  local start=$SECONDS rc=0
  "$@" || rc=$?
  local took=$((SECONDS - start))
  if ((rc == 0)); then
    printf -- '---- %s: ok (%s)\n' "$name" "$(fmt_duration "$took")"
    results+=("$name:ok:$took")
  else
    printf -- '---- %s: FAILED with exit code %d (%s)\n' "$name" "$rc" "$(fmt_duration "$took")"
    results+=("$name:FAILED:$took")
    failed=1
  fi
  return "$rc"
}

skip_phase() {
  printf -- '---- %s: skipped (%s)\n' "$1" "$2"
  results+=("$1:skipped:0")
}

# run_preset PRESET EXTRA_CMAKE_DEFS... -- configure, build and test one preset.
# A failed step skips the rest of that preset, not the other presets.
run_preset() {
  local preset=$1
  shift
  if ! run_phase "$preset configure" cmake --preset "$preset" "$@"; then
    skip_phase "$preset build" "configure failed"
    skip_phase "$preset test" "configure failed"
    return
  fi
  if ! run_phase "$preset build" cmake --build --preset "$preset"; then
    skip_phase "$preset test" "build failed"
    return
  fi
  if ! run_phase "$preset test" ctest --preset "$preset" "${ctest_args[@]}"; then
    show_failed_tests "$preset"
  fi
}

# show_failed_tests PRESET -- the last lines each failed test printed, again, after the ctest
# summary: a CI log that keeps only its end still says why each test failed.
show_failed_tests() {
  local dir="build/$1/Testing/Temporary" name
  [[ -s "$dir/LastTestsFailed.log" ]] || return 0
  while IFS=: read -r _ name; do
    printf '\n---- %s: the last lines it printed\n' "$name"
    awk -v name="$name" '
      $0 ~ ("^[0-9]+/[0-9]+ Testing: " name "$") { on = 1; next }
      on && $0 ~ ("^\"" name "\" end time:") { on = 0 }
      on { print }' "$dir/LastTest.log" | tail -n 60
  done < "$dir/LastTestsFailed.log"
}

if ! run_phase "dependencies" scripts/install-deps.sh; then
  echo "test.sh: FAIL: could not install dependencies" >&2
  exit 1
fi

run_preset release "${common_defs[@]}"
if ((quick)); then
  skip_phase "asan" "--quick"
else
  run_preset asan "${common_defs[@]}" "${asan_defs[@]}"
fi

summary=()
for r in "${results[@]}"; do
  IFS=: read -r name state took <<< "$r"
  if [[ "$state" == skipped ]]; then
    summary+=("$name=skipped")
  else
    summary+=("$name=$state($(fmt_duration "$took"))")
  fi
done
total=$(fmt_duration $((SECONDS - start_all)))
joined=$(printf '%s, ' "${summary[@]}")
verdict=PASS
if ((failed)); then verdict=FAIL; fi
printf '\ntest.sh: %s in %s: %s\n' "$verdict" "$total" "${joined%, }"
exit "$failed"
