#!/usr/bin/env bash
# The main job: two ambit engines ("node-a" and "node-b", on loopback addresses) carry real
# traffic over HBONE (HTTP/2 CONNECT over mTLS), then print what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
echo "== building ambit-agent (release)"
cmake --preset release >/dev/null
cmake --build build/release -j"${JOBS:-2}" --target ambit-agent >/dev/null

work=$(mktemp -d /tmp/ambit-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

./scripts/gen-certs.sh "$work/certs" sleep=default/sleep intruder=default/intruder echo=default/echo

workloads() {  # $1 = the node whose certificates are listed
  local a_certs="" b_certs=""
  if [[ $1 == node-a ]]; then
    a_certs=1
  else
    b_certs=1
  fi
  cat <<YAML
workloads:
- name: sleep
  namespace: default
  serviceAccount: sleep
  node: node-a
  addresses: [127.0.0.11]
  hboneAddress: 127.0.0.1:15008
  labels: {app: sleep}
${a_certs:+  certificate: certs/sleep.pem
  privateKey: certs/sleep.key}
- name: intruder
  namespace: default
  serviceAccount: intruder
  node: node-a
  addresses: [127.0.0.12]
  hboneAddress: 127.0.0.1:15008
  labels: {app: intruder}
${a_certs:+  certificate: certs/intruder.pem
  privateKey: certs/intruder.key}
- name: echo
  namespace: default
  serviceAccount: echo
  node: node-b
  addresses: [127.0.0.21]
  hboneAddress: 127.0.0.2:15008
  labels: {app: echo}
  peerAuthentication: STRICT
${b_certs:+  certificate: certs/echo.pem
  privateKey: certs/echo.key}
services:
- name: echo
  namespace: default
  addresses: [10.96.0.10]
  ports: [{port: 80, targetPort: 8080}]
  selector: {app: echo}
YAML
}

{
  echo "node: node-a"
  echo "trustBundle: certs/root.pem"
  workloads node-a
  cat <<'YAML'
listeners:
- {kind: outbound, address: "127.0.0.1:15001", workload: default/sleep, destination: "10.96.0.10:80"}
- {kind: outbound, address: "127.0.0.1:16001", workload: default/intruder, destination: "10.96.0.10:80"}
YAML
} > "$work/node-a.yaml"
{
  echo "node: node-b"
  echo "trustBundle: certs/root.pem"
  workloads node-b
  cat <<'YAML'
authorizationPolicies:
- name: echo-allow-sleep
  namespace: default
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]
listeners:
- {kind: inbound, address: "127.0.0.2:15008", workload: default/echo}
- {kind: inboundPlaintext, address: "127.0.0.2:15006", workload: default/echo, destination: "127.0.0.21:8080"}
YAML
} > "$work/node-b.yaml"

wait_port() {  # bounded: 10 s
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $1:$2" >&2
  return 1
}

python3 scripts/demo/traffic.py serve 127.0.0.21:8080 >"$work/echo.log" 2>&1 &
pids+=($!)
build/release/agent/ambit-agent --config "$work/node-b.yaml" --workers 1 \
  --admin 127.0.0.2:15000 --metrics 127.0.0.2:15020 --readiness 127.0.0.2:15021 >"$work/node-b.log" 2>&1 &
pids+=($!)
build/release/agent/ambit-agent --config "$work/node-a.yaml" --workers 1 \
  --admin 127.0.0.1:15000 --metrics 127.0.0.1:15020 --readiness 127.0.0.1:15021 >"$work/node-a.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.21 8080
wait_port 127.0.0.2 15008
wait_port 127.0.0.1 15001
wait_port 127.0.0.1 15021

http_get() {  # $1 host, $2 port, $3 path; plain bash, no curl needed
  exec 3<>"/dev/tcp/$1/$2"
  printf 'GET %s HTTP/1.0\r\n\r\n' "$3" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}

echo "== traffic"
status=0
python3 scripts/demo/traffic.py client 127.0.0.1:15001 127.0.0.1:16001 127.0.0.2:15006 || status=1

echo "== metrics (http://127.0.0.x:15020/metrics)"
for node in "node-a 127.0.0.1" "node-b 127.0.0.2"; do
  set -- $node
  echo "$1: $(http_get "$2" 15020 /metrics | grep -v '^#' | sed 's/ambit_//' | paste -sd' ')"
done
echo "== node-b's view (http://127.0.0.2:15000/config_dump, abridged)"
http_get 127.0.0.2 15000 /config_dump | python3 scripts/demo/traffic.py summarize-dump

# Stop the agents cleanly (SIGTERM drains) so every access-log line is written.
kill -TERM "${pids[2]}" "${pids[1]}"
wait "${pids[2]}" "${pids[1]}" 2>/dev/null || true

echo "== what the agents saw (access logs)"
for node in node-a node-b; do
  log="$work/$node.log"
  total=$(grep -c 'connection complete' "$log" || true)
  failed=$(grep 'connection complete' "$log" | grep -c 'error=' || true)
  bytes=$(grep 'connection complete' "$log" | grep -o 'bytes_sent=[0-9]*' | cut -d= -f2 | awk '{s+=$1} END {print s+0}')
  echo "$node: $total connections closed ($failed refused or failed), $((${bytes:-0} >> 20)) MiB sent to destinations"
  grep 'connection complete' "$log" | grep 'bytes_sent=[1-9]' | grep -v 'error=' | head -1 | sed 's/^/  e.g. /'
  grep 'connection complete' "$log" | grep 'error=' | head -2 | sed 's/^/  refused: /'
done
if [[ $status -eq 0 ]]; then echo "demo: OK"; else echo "demo: FAILED"; fi
exit $status
