#!/usr/bin/env bash
# Builds everything and runs every test: the Release build (what ships) and the
# AddressSanitizer/UBSan build of the same tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=${JOBS:-2}
status=0
for preset in release asan; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build "build/$preset" -j"$jobs"
  echo "== $preset: tests"
  ctest --test-dir "build/$preset" --output-on-failure -j1 --timeout 600 || status=1
done
exit $status
