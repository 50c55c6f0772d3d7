#!/usr/bin/env bash
# Builds and runs every test: the release build, then the same suite under ASan + UBSan.
#   scripts/test.sh           both builds, all tests but those labelled slow
#   scripts/test.sh --quick   release build only
#   scripts/test.sh --slow    also the slow cases (multi-GB streams, long trainings)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

quick=0 slow=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --slow) slow=1 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
jobs=$(nproc)
run() {
  local preset=$1
  echo "== $preset build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== $preset tests"
  if ((slow)); then
    ctest --test-dir "build$([[ $preset == release ]] || echo "-$preset")" --output-on-failure -j "$jobs" --timeout 3600
  else
    ctest --preset "$preset" -j "$jobs"
  fi
}
run release
if ((!quick)); then
  # ASan's allocator and OpenBLAS's threads disagree about stack sizes; tbml calls BLAS single-threaded.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run asan
fi
