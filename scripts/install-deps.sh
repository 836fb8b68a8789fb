#!/usr/bin/env bash
# Installs the Debian 12 packages ambit needs to build, test, demo and benchmark.
# Idempotent: packages already present are left alone; apt runs only when something is missing.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git ccache
  liburing-dev libssl-dev libnghttp2-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libbpf-dev bpftool clang llvm
  protobuf-compiler libprotobuf-dev libre2-dev libboost-dev
)
# iptables: the agent's fallback capture mode runs it (in pods' netns) and its test needs it.
# python3-h2: the foreign HBONE peer of the interop test (tests/interop/hbone_peer.py).
# dnsmasq-base: the resolver of the waypoint e2e egress test (DNS ServiceEntries), no service.
# python3-grpcio, nghttp2-client, curl: real gRPC and HTTP/2 clients and servers of the waypoint
# e2e test (tests/e2e/tools/grpc_peer.py, nghttp, h2load, curl --http2-prior-knowledge).
TEST_PKGS=( iproute2 openssl procps psmisc tcpdump iptables python3 python3-h2 python3-grpcio curl
  nghttp2-client dnsmasq-base )
BENCH_PKGS=( stunnel4 haproxy nginx libnginx-mod-stream iperf3 sockperf wrk )

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
if [[ "${1:-}" == "--bench" ]]; then want+=("${BENCH_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The peers are run by hand in the benchmark; never as the system's services.
for s in nginx haproxy stunnel4; do
  if systemctl is-active --quiet "$s" 2>/dev/null; then systemctl stop "$s" || true; fi
done
