#!/usr/bin/env bash
# Builds everything and runs every test: the Release build (what ships), the AddressSanitizer/
# UBSan build of the same tests, then the unit and integration tests (ctest label "threaded")
# under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
source scripts/build-env.sh
jobs=${JOBS:-2}
status=0
for preset in release asan; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build "build/$preset" -j"$jobs"
  echo "== $preset: tests"
  ctest --test-dir "build/$preset" --output-on-failure -j1 --timeout 600 || status=1
done

# Only the "threaded" binaries: the e2e, BPF and iptables tests run the same code as separate
# single-threaded processes in namespaces, and the fuzz replays are single-threaded; ASan covers
# them. libprotobuf is not instrumented and was built without TSan, so our files see its class
# layouts through proto/protobuf_tsan_layout.h (PushServerTest aborted without it).
tsan_targets=(core_test ztunnel_test agent_test controller_config_test ztunnel_integration_test
  controller_server_test waypoint_test waypoint_integration_test)
echo "== tsan: configure and build"
cmake --preset tsan >/dev/null
cmake --build build/tsan -j"$jobs" --target "${tsan_targets[@]}"
echo "== tsan: tests"
# A data race or lock-order report fails its test (TSan exits 66).
TSAN_OPTIONS="${TSAN_OPTIONS:-second_deadlock_stack=1}" \
  ctest --test-dir build/tsan --output-on-failure -j1 --timeout 600 -L threaded || status=1
exit $status
