#!/usr/bin/env bash
# The main job: a two-node mesh in network namespaces on this machine. ambit-controller reads
# a directory of Kubernetes/Istio YAML and pushes each node's view to the ambit-agent on that
# node (certificates signed over the same mTLS channel); pods are namespaces with their own
# cgroup. The demo enrolls namespace "shop" by labelling it ambit.io/dataplane-mode=ambient,
# sends traffic from processes inside the pods, and prints what happened: capture, identities on
# both sides (access logs), policy and STRICT refusals, what a packet capture on the
# node-to-node link saw, the controller's view of its clients. Everything is torn down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
./scripts/install-deps.sh
source scripts/build-env.sh
echo "== building ambit-controller, ambit-agent, ambit-waypoint, ambitctl, ambit-netlab, ambit-probe (release)"
cmake --preset release >/dev/null
cmake --build build/release -j"${JOBS:-2}" --target ambit-controller ambit-agent ambit-waypoint \
  ambitctl ambit-netlab ambit-probe >/dev/null
if [[ $(id -u) -ne 0 ]]; then
  echo "demo: needs root (network namespaces, cgroups, BPF)" >&2
  exit 1
fi

bin=$repo/build/release
netlab=$bin/tests/e2e/ambit-netlab
probe=$bin/tests/e2e/ambit-probe
agent=$bin/agent/ambit-agent
controller=$bin/controller/ambit-controller
waypoint=$bin/waypoint/ambit-waypoint
ambitctl=$bin/ambitctl/ambitctl
cluster=demo$$
work=$(mktemp -d /tmp/ambit-demo.XXXXXX)
capture=${CAPTURE:-auto}
pids=()

state_args() { echo "--state-dir /run/ambit-demo/$cluster-$1 --bpf-pin-dir /sys/fs/bpf/ambit-demo-$cluster-$1"; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in node1 node2; do
    # shellcheck disable=SC2046
    "$netlab" exec "$cluster" "$n" -- "$agent" --uninstall $(state_args "$n") >/dev/null 2>&1 || true
  done
  "$netlab" down "$cluster" >/dev/null 2>&1 || true
  rmdir /run/ambit-demo 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== cluster: 2 nodes, pods as network namespaces (nothing touches this machine's network)"
"$netlab" up "$cluster" --nodes 2 \
  --pods "node1:shop/sleep,node1:shop/web,node1:shop/shop-waypoint-0,node2:shop/api,node2:legacy/old,node2:shop/shop-v1,node2:shop/shop-v2,node1:shop/ledger-1,node2:shop/ledger-2,node2:shop/ledger-3" \
  >"$work/cluster.json"
python3 - "$work/cluster.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for n in d["nodes"]:
    pods = [f"{p['ns']}/{p['name']} {p['ip']}" for p in d["pods"] if p["node"] == n["name"]]
    print(f"  {n['name']} {n['ip']}: " + ", ".join(pods))
PY
ip_of() { python3 -c "import json,sys; print(next(p['ip'] for p in json.load(open('$work/cluster.json'))['pods'] if p['name']=='$1'))"; }
node_ip() { python3 -c "import json,sys; print(next(n['ip'] for n in json.load(open('$work/cluster.json'))['nodes'] if n['name']=='$1'))"; }

# The configuration, as users write it for Kubernetes and Istio: $1 = labels of namespace shop.
mkdir -p "$work/config"
write_namespaces() {
  cat >"$work/config/namespaces.yaml.tmp" <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {$1}
---
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
YAML
  mv "$work/config/namespaces.yaml.tmp" "$work/config/namespaces.yaml"
}
python3 - "$work/cluster.json" >"$work/config/pods.yaml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
docs = []
# The shop service's two versions, and the waypoint's pod (its Gateway's label and account).
labels = {"shop-v1": "app: shop, version: v1", "shop-v2": "app: shop, version: v2",
          "shop-waypoint-0": "gateway.networking.k8s.io/gateway-name: shop-waypoint"}
accounts = {"shop-v1": "shop", "shop-v2": "shop", "shop-waypoint-0": "shop-waypoint"}
for n in ("ledger-1", "ledger-2", "ledger-3"):  # one Service's three pods
    labels[n], accounts[n] = "app: ledger", "ledger"
for p in d["pods"]:
    docs.append(f"""apiVersion: v1
kind: Pod
metadata:
  name: {p['name']}
  namespace: {p['ns']}
  labels: {{{labels.get(p['name'], 'app: ' + p['name'])}}}
  annotations:
    ambit.io/netns: {p['netns_path']}
    ambit.io/cgroup: {p['cgroup_path']}
spec:
  nodeName: {p['node']}
  serviceAccountName: {accounts.get(p['name'], p['name'])}
status:
  podIP: {p['ip']}
""")
print("---\n".join(docs), end="")
PY
cat >"$work/config/shop.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  clusterIP: 10.96.0.20
  selector: {app: api}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: api-allow-sleep
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/sleep"]
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: api-strict
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  mtls:
    mode: STRICT
YAML
# L7: the shop Service goes through its waypoint, which splits v1/v2, sends "end-user: debug"
# to v2 and lets only sleep's identity POST orders.
# The demo adds routes of its own ahead of them (the benchmark keeps the two): /fault aborts
# 10 % of requests, /slow times out after 200 ms (v2 answers it in 1 s), /burst is rate limited
# (20 requests a minute) by the Istio EnvoyFilter below.
python3 - scripts/shop-waypoint.yaml "$work/config/shop-waypoint.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
extra = """  - name: fault-demo
    match: [{uri: {prefix: /fault}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 10}}}
    route: [{destination: {host: shop, subset: v2}}]
  - name: timeout-demo
    match: [{uri: {prefix: /slow}}]
    timeout: 200ms
    route: [{destination: {host: shop, subset: v2}}]
  - name: burst-demo
    match: [{uri: {prefix: /burst}}]
    route: [{destination: {host: shop, subset: v2}}]
"""
anchor = "  - name: debug-to-v2\n"
assert anchor in text
open(sys.argv[2], "w").write(text.replace(anchor, extra + anchor, 1))
PY
# Envoy's local rate limit as Istio users write it: the filter inserted, its bucket given to one
# route (Istio's per-route form). The waypoint of the pods it selects enforces it.
cat >"$work/config/rate-limit.yaml" <<'YAML'
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: shop-burst-limit
  namespace: shop
spec:
  workloadSelector:
    labels: {app: shop}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value: {stat_prefix: http_local_rate_limiter}
  - applyTo: HTTP_ROUTE
    match:
      context: SIDECAR_INBOUND
      routeConfiguration: {vhost: {route: {name: burst-demo}}}
    patch:
      operation: MERGE
      value:
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit:
            "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            stat_prefix: http_local_rate_limiter
            token_bucket: {max_tokens: 20, tokens_per_fill: 20, fill_interval: 60s}
            filter_enabled:
              runtime_key: local_rate_limit_enabled
              default_value: {numerator: 100, denominator: HUNDRED}
            filter_enforced:
              runtime_key: local_rate_limit_enforced
              default_value: {numerator: 100, denominator: HUNDRED}
YAML
cat >"$work/config/waypoint.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: shop
  labels: {istio.io/use-waypoint: shop-waypoint}
spec:
  clusterIP: 10.96.0.30
  selector: {app: shop}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: orders-authz
  namespace: shop
spec:
  targetRefs:
  - {kind: Service, group: "", name: shop}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/sleep"]
    to:
    - operation:
        methods: ["POST"]
        paths: ["/api/orders"]
  - to:
    - operation:
        methods: ["GET"]
YAML
# Outlier detection: the ledger Service's three pods, one of which (ledger-3) answers every
# request 503. Istio's default retries hide its answers; after 3 in a row it is ejected.
cat >"$work/config/ledger.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: ledger
  namespace: shop
  labels: {istio.io/use-waypoint: shop-waypoint}
spec:
  clusterIP: 10.96.0.40
  selector: {app: ledger}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ledger
  namespace: shop
spec:
  host: ledger
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 10s
      baseEjectionTime: 60s
      maxEjectionPercent: 50
YAML
write_namespaces ""

echo "== ambitctl analyze (the configuration the controller will serve)"
"$ambitctl" analyze "$work/config" | sed 's/^/  /'

controller_at="$(node_ip node1):15012"
echo "== controller on node1 ($controller_at), agents on both nodes (capture: $capture)"
for n in node1 node2; do
  "$controller" bootstrap-node --ca-dir "$work/ca" --node "$n" --out "$work/$n" >/dev/null 2>&1
done
"$controller" bootstrap-waypoint --ca-dir "$work/ca" --waypoint shop/shop-waypoint \
  --out "$work/waypoint" >/dev/null 2>&1
"$netlab" exec "$cluster" node1 -- "$controller" --config-dir "$work/config" --ca-dir "$work/ca" \
  --listen "$controller_at" --monitor 127.0.0.1:15014 >"$work/controller.log" 2>&1 &
pids+=($!)
for n in node1 node2; do
  # shellcheck disable=SC2046
  "$netlab" exec "$cluster" "$n" -- "$agent" --controller "$controller_at" --node "$n" \
    --credentials "$work/$n" --workers 1 --capture "$capture" --resync-ms 1000 \
    $(state_args "$n") >"$work/$n.log" 2>&1 &
  pids+=($!)
done
for p in web api old; do
  "$netlab" exec "$cluster" "$p" -- "$probe" serve --port 8080 --echo >/dev/null 2>&1 &
  pids+=($!)
done
# v1 is flaky (every third answer a 503); v2 takes a second on /slow.
"$netlab" exec "$cluster" shop-v1 -- python3 "$repo/tests/e2e/tools/http_backend.py" --name v1 \
  --fail-every 3 >/dev/null 2>&1 &
pids+=($!)
"$netlab" exec "$cluster" shop-v2 -- python3 "$repo/tests/e2e/tools/http_backend.py" --name v2 \
  --delay-ms 1000 --slow-prefix /slow >/dev/null 2>&1 &
pids+=($!)
for p in ledger-1 ledger-2 ledger-3; do
  fail=(); [[ $p == ledger-3 ]] && fail=(--fail-every 1)
  "$netlab" exec "$cluster" "$p" -- python3 "$repo/tests/e2e/tools/http_backend.py" --name "$p" \
    "${fail[@]}" >/dev/null 2>&1 &
  pids+=($!)
done
# The waypoint runs in its own pod, as its Gateway's Deployment would.
"$netlab" exec "$cluster" shop-waypoint-0 -- "$waypoint" --controller "$controller_at" \
  --waypoint shop/shop-waypoint --workload shop/shop-waypoint-0 --credentials "$work/waypoint" \
  --workers 1 >"$work/waypoint.log" 2>&1 &
pids+=($!)
sleep 0.5

wait_log() {  # $1 node, $2 text; bounded: 15 s
  for _ in $(seq 150); do
    grep -q "$2" "$work/$1.log" && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1's log:" >&2
  tail -5 "$work/$1.log" >&2
  return 1
}
wait_log node1 "controller view"
wait_log node2 "controller view"

# $1 pod, $2 destination, $3 message; prints ok/refused.
send() {
  if "$netlab" exec "$cluster" "$1" -- "$probe" connect "$2" --message "$3" --expect-echo \
    --timeout-ms 2000 >/dev/null 2>&1; then echo ok; else echo refused; fi
}
sniff_start() {  # packet capture on the node-to-node bridge; returns once tcpdump listens
  "$netlab" exec "$cluster" fabric -- tcpdump --immediate-mode -i any -nn -U -w "$work/$1.pcap" tcp >/dev/null 2>"$work/$1.tcpdump" &
  sniffer=$!
  for _ in $(seq 50); do
    grep -q "listening on" "$work/$1.tcpdump" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "tcpdump did not start: $(cat "$work/$1.tcpdump")" >&2
  return 1
}
sniff_stop() {  # prints what crossed the link: frames to 8080 (plaintext app) and 15008 (HBONE)
  sleep 0.3
  kill -INT "$sniffer" 2>/dev/null || true
  wait "$sniffer" 2>/dev/null || true
  local app hbone marker
  app=$(tcpdump -nn -r "$work/$1.pcap" 'tcp port 8080' 2>/dev/null | wc -l)
  hbone=$(tcpdump -nn -r "$work/$1.pcap" 'tcp port 15008' 2>/dev/null | wc -l)
  marker=$(tcpdump -nn -A -r "$work/$1.pcap" 2>/dev/null | grep -c "$2" || true)
  echo "  node-to-node link: $app packets on app port 8080, $hbone on HBONE 15008; message seen in clear: $marker times"
}

api=$(ip_of api)
status=0
echo "== before enrollment: namespace shop has no label"
sniff_start before
echo "  sleep -> api $api:8080 : $(send sleep "$api:8080" secret-before)"
sniff_stop before secret-before

echo "== label namespace shop ambit.io/dataplane-mode=ambient (edit namespaces.yaml)"
start=$(date +%s%N)
write_namespaces "ambit.io/dataplane-mode: ambient"
wait_log node1 "enrolled pod shop/sleep"
wait_log node1 "enrolled pod shop/web"
wait_log node2 "enrolled pod shop/api"
echo "  pods captured $(( ($(date +%s%N) - start) / 1000000 )) ms after the label changed:"
grep -h "enrolled pod" "$work/node1.log" "$work/node2.log" | sed 's/.*enrolled pod/    enrolled pod/'

echo "== traffic in the mesh"
sniff_start after
expect() {  # $1 expected, $2 what, then send args
  local want=$1 what=$2 got
  shift 2
  got=$(send "$@")
  printf '  %-52s %-8s (expected %s)\n' "$what" "$got" "$want"
  [[ $got == "$want" ]] || status=1
}
for i in $(seq 20); do
  [[ $(send sleep 10.96.0.20:80 "secret-after-$i") == ok ]] || status=1
done
echo "  sleep -> service api 10.96.0.20:80, 20 connections:  $( ((status == 0)) && echo ok || echo FAILED)"
expect ok "sleep (shop) -> api $api:8080" sleep "$api:8080" secret-after
expect refused "web (shop, not allowed by policy) -> api" web "$api:8080" secret-after
expect refused "old (legacy, plaintext) -> api (STRICT)" old "$api:8080" secret-after
expect ok "sleep -> web (same node)" sleep "$(ip_of web):8080" secret-after
sniff_stop after secret-after

echo "== L7 through the waypoint shop/shop-waypoint (Service shop 10.96.0.30:80)"
load() {  # $1 pod, then http_load.py args; prints its JSON line
  local pod=$1
  shift
  "$netlab" exec "$cluster" "$pod" -- python3 "$repo/tests/e2e/tools/http_load.py" 10.96.0.30 "$@"
}
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))" "$1" "$2"; }
for _ in $(seq 100); do  # bounded: 10 s for the waypoint's view and certificate
  [[ $(field "$(load sleep -n 1)" 'd["statuses"].get("200", 0)') == 1 ]] && break
  sleep 0.1
done
canary=$(load sleep -n 1000)
v1=$(field "$canary" 'd["served"].get("v1", 0)')
v2=$(field "$canary" 'd["served"].get("v2", 0)')
printf '  %-52s v1 %s, v2 %s (expected about 900/100)\n' "canary 90/10, 1000 GETs from sleep:" "$v1" "$v2"
(( v1 + v2 == 1000 && v2 > 60 && v2 < 140 )) || status=1
metric() {  # $1 metric name: its sum over labels on the waypoint's /metrics
  "$netlab" exec "$cluster" shop-waypoint-0 -- curl -s --max-time 5 http://127.0.0.1:15000/metrics |
    awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m {s += $NF} END {print s + 0}'
}
ok=$(field "$canary" 'd["statuses"].get("200", 0)')
retries=$(metric ambit_waypoint_retries_total)
printf '  %-52s %s of 1000 were 200, after %s retries (expected 1000)\n' \
  "v1 fails every 3rd answer (503), Istio's default retries:" "$ok" "$retries"
(( ok == 1000 && retries > 150 )) || status=1
faults=$(load sleep -n 400 --path /fault)
aborted=$(field "$faults" 'd["statuses"].get("503", 0)')
printf '  %-52s %s of 400 aborted with 503 (expected about 40)\n' "fault abort 10 % on /fault:" "$aborted"
(( aborted > 15 && aborted < 70 )) || status=1
slow=$(field "$(load sleep -n 1 --path /slow)" 'list(d["statuses"])[0] if d["statuses"] else "error"')
took=$(grep 'status=504 flags=UT' "$work/waypoint.log" | tail -1 | grep -o 'duration_ms=[0-9.]*' | cut -d= -f2)
printf '  %-52s %s after %s ms (expected 504 UT after 200 ms)\n' "timeout 200ms on /slow (v2 takes 1 s):" "$slow" "${took:-?}"
[[ $slow == 504 ]] || status=1
burst=$(load sleep -n 50 --path /burst)
limited=$(metric ambit_waypoint_rate_limited_total)
printf '  %-52s %s 200, %s 429 (%s counted; expected 20 / 30 / 30)\n' \
  "EnvoyFilter local_ratelimit 20/min, 50 GETs /burst:" "$(field "$burst" 'd["statuses"].get("200", 0)')" \
  "$(field "$burst" 'd["statuses"].get("429", 0)')" "$limited"
[[ $(field "$burst" 'd["statuses"].get("429", 0)') == 30 && $limited == 30 ]] || status=1
ledger=$("$netlab" exec "$cluster" sleep -- python3 "$repo/tests/e2e/tools/http_load.py" 10.96.0.40 -n 300)
ledger_retried=$(grep 'service="shop/ledger"' "$work/waypoint.log" | grep -c 'attempts=2' || true)
ejections=$(metric ambit_waypoint_outlier_ejections_total)
printf '  %-52s %s of 300 were 200, %s retried off ledger-3, %s ejection (expected 300 / 3 / 1)\n' \
  "ledger-3 always 503, outlierDetection 3 in a row:" "$(field "$ledger" 'd["statuses"].get("200", 0)')" \
  "$ledger_retried" "$ejections"
[[ $(field "$ledger" 'd["statuses"].get("200", 0)') == 300 && $ledger_retried == 3 && $ejections == 1 ]] || status=1
debug=$(field "$(load sleep -n 50 -H 'end-user: debug')" 'd["served"].get("v2", 0)')
printf '  %-52s %s of 50 to v2 (expected 50)\n' "header end-user: debug" "$debug"
(( debug == 50 )) || status=1
h2=$("$netlab" exec "$cluster" sleep -- curl -s --max-time 5 --http2-prior-knowledge \
  -H 'end-user: debug' -w '\nHTTP/%{http_version} %{http_code}' http://10.96.0.30/ || true)
h2got="$(tail -1 <<<"$h2") from $(grep -o '"name": "v[12]"' <<<"$h2" | grep -o 'v[12]' || echo none)"
printf '  %-52s %-16s (expected HTTP/2 200 from v2)\n' "curl --http2-prior-knowledge, end-user: debug" "$h2got"
[[ $h2got == "HTTP/2 200 from v2" ]] || status=1
l7() {  # $1 expected status, $2 what, $3 pod, then http_load.py args
  local want=$1 what=$2 pod=$3 got
  shift 3
  got=$(field "$(load "$pod" -n 1 "$@")" 'list(d["statuses"])[0] if d["statuses"] else "error"')
  printf '  %-52s %-8s (expected %s)\n' "$what" "$got" "$want"
  [[ $got == "$want" ]] || status=1
}
l7 200 "sleep POST /api/orders (orders-authz allows it)" sleep --method POST --path /api/orders
l7 403 "web POST /api/orders (wrong principal)" web --method POST --path /api/orders
l7 200 "web GET /api/orders/7/status" web --path /api/orders/7/status
bypass=$("$netlab" exec "$cluster" web -- python3 "$repo/tests/e2e/tools/http_load.py" "$(ip_of shop-v1)" \
  --port 8080 -n 1 --deadline 5)
got=$( [[ $(field "$bypass" 'd["errors"]') == 1 ]] && echo refused || echo ok)
printf '  %-52s %-8s (expected refused)\n' "web GET shop-v1's pod IP (bypassing the waypoint)" "$got"
[[ $got == refused ]] || status=1
grep -m1 'status=403' "$work/waypoint.log" | sed 's/^.*request complete/  waypoint log: /' || true
grep -m1 'status=200' "$work/waypoint.log" | sed 's/^.*request complete/  waypoint log: /' || true

echo "== capture on the nodes"
for n in node1 node2; do
  echo "  $n: $(grep -o 'capture=[a-z]*' "$work/$n.log" | head -1), $(grep -c 'enrolled pod' "$work/$n.log") pods enrolled"
done
if command -v bpftool >/dev/null && bpftool prog show 2>/dev/null | grep -q ambit; then
  echo "  bpftool prog show (ambit programs):"
  bpftool prog show 2>/dev/null | grep -o 'name ambit[a-z0-9_]*' | sort | uniq -c | sed 's/^/   /'
fi

echo "== the controller's view of its clients (http://127.0.0.1:15014/status on node1)"
"$netlab" exec "$cluster" node1 -- python3 -c '
import json, urllib.request
s = json.load(urllib.request.urlopen("http://127.0.0.1:15014/status", timeout=5))
print("  configuration version", s.get("version"), "| errors:", len(s.get("config_errors", [])))
for c in s.get("clients", []):
    print("  ", c.get("role"), c.get("node"), "connected" if c.get("connected") else "gone",
          "acked", c.get("acked_version"), "nacks", c.get("nacks", 0))
' || true
grep -h "issued spiffe" "$work/controller.log" | sed 's/.*control: /  controller: /'

# Stop the agents (SIGTERM drains) so every access-log line is written.
kill -TERM "${pids[1]}" "${pids[2]}" 2>/dev/null || true
wait "${pids[1]}" "${pids[2]}" 2>/dev/null || true

echo "== what the agents saw (access logs)"
for n in node1 node2; do
  log="$work/$n.log"
  total=$(grep -c 'connection complete' "$log" || true)
  failed=$(grep 'connection complete' "$log" | grep -c 'error=' || true)
  bytes=$(grep 'connection complete' "$log" | grep -o 'bytes_sent=[0-9]*' | cut -d= -f2 | awk '{s+=$1} END {print s+0}')
  echo "$n: $total connections closed ($failed refused), $bytes bytes sent to destinations"
  { grep 'connection complete' "$log" | grep 'direction="outbound"' | grep -v 'error=' | head -1 | sed 's/^.*connection complete/  outbound:/'
    grep 'connection complete' "$log" | grep 'direction="inbound"' | grep -v 'error=' | head -1 | sed 's/^.*connection complete/  inbound: /'
    grep 'connection complete' "$log" | grep 'error=' | head -2 | sed 's/^.*connection complete/  refused: /'; } || true
done
echo "== teardown: uninstall capture, remove the cluster"
if [[ $status -eq 0 ]]; then echo "demo: OK"; else echo "demo: FAILED"; fi
exit $status
