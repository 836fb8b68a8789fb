"""The configuration of every system bench/l7 runs, as text: the nginx backends, the nginx and
HAProxy reverse proxies, and the mesh's Kubernetes/Istio YAML (the same objects scripts/demo.sh
serves). Every proxy carries the same route: "end-user: debug" -> v2, otherwise 90/10 v1/v2.
With --fail-percent P the backends answer P % of requests with 503 and every proxy instead sends all
requests to one pool of both pods, retrying a 503 on another endpoint up to 2 more times (the
*_retries configurations below)."""
import os

BODY_1K = "x" * 1024  # the response body: exactly 1 KiB


def nginx_common(prefix, workers):
    # A private prefix: no file of the system's nginx (pid, logs, temp paths) is touched.
    return f"""worker_processes {workers};
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
"""


def nginx_backend(prefix, name, fail_percent=0):
    body = BODY_1K
    # fail_percent > 0: that share of requests, picked by the random $request_id, answered 503
    # (still with x-served-by, so the client can tell which pod failed it).
    fail, fail_if = "", ""
    if fail_percent > 0:
        fail = f'  split_clients "${{request_id}}" $fail {{ {fail_percent:g}% 1; * 0; }}\n'
        fail_if = "      if ($fail) { return 503; }\n"
    return nginx_common(prefix, 1) + fail + f"""  server {{
    listen 8080;
    default_type text/plain;
    location / {{
      add_header x-served-by {name} always;
{fail_if}      return 200 "{body}";
    }}
  }}
}}
"""


def nginx_proxy(prefix, workers, v1, v2):
    return nginx_common(prefix, workers) + f"""  upstream v1 {{ server {v1}:8080; keepalive 64; keepalive_requests 10000000; }}
  upstream v2 {{ server {v2}:8080; keepalive 64; keepalive_requests 10000000; }}
  split_clients "$request_id" $canary {{ 90% v1; * v2; }}
  map $http_end_user $pool {{ debug v2; default $canary; }}
  server {{
    listen 80;
    listen 81 http2;  # h2c (prior knowledge) for h2load
    location / {{
      proxy_pass http://$pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""


def nginx_proxy_retries(prefix, workers, v1, v2):
    # One pool of both pods; a 503 (or a connect error/timeout) is tried again on the other server.
    # nginx tries each server of an upstream at most once per request: with two servers the
    # "tries 3" is capped at 2 (ngx_http_upstream_tries = the number of servers). max_fails=0:
    # a 503 counts as a server failure, and with the default max_fails=1 one 503 takes the server
    # out for 10 s, soon both are out and nginx answers 502 "no live upstreams"; HAProxy (no health
    # checks here) and the waypoint (no outlierDetection) eject nothing either.
    return nginx_common(prefix, workers) + f"""  upstream shop {{
    server {v1}:8080 max_fails=0;
    server {v2}:8080 max_fails=0;
    keepalive 64;
    keepalive_requests 10000000;
  }}
  server {{
    listen 80;
    listen 81 http2;  # h2c (prior knowledge) for h2load
    location / {{
      proxy_pass http://shop;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_503 non_idempotent;
      proxy_next_upstream_tries 3;
    }}
  }}
}}
"""


def haproxy(threads, v1, v2):
    return f"""global
  nbthread {threads}
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend shop
  bind :80
  bind :81 proto h2
  acl debug req.hdr(end-user) -m str debug
  use_backend shop-v2 if debug
  default_backend shop-canary
backend shop-canary
  balance random
  server v1 {v1}:8080 weight 9
  server v2 {v2}:8080 weight 1
backend shop-v2
  server v2 {v2}:8080
"""


def haproxy_retries(threads, v1, v2):
    # One pool of both pods; a 503 or a failed connect is retried up to 2 times, each retry
    # redispatched (roundrobin avoids the server the last try went to).
    return f"""global
  nbthread {threads}
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend shop
  bind :80
  bind :81 proto h2
  default_backend shop
backend shop
  balance roundrobin
  retry-on 503 conn-failure
  retries 2
  option redispatch 1
  server v1 {v1}:8080
  server v2 {v2}:8080
"""


# How many tries each system makes of a request with --fail-percent (the first and its retries):
# nginx is capped at its 2 servers (see nginx_proxy_retries); direct and mesh-l4 do not retry.
TRIES = {"direct": 1, "nginx": 2, "haproxy": 3, "mesh-l4": 1, "mesh-waypoint": 3}


NAMESPACE = """apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {ambit.io/dataplane-mode: ambient}
"""


def mesh_pods(pods):
    labels = {"shop-v1": "app: shop, version: v1", "shop-v2": "app: shop, version: v2",
              "shop-waypoint-0": "gateway.networking.k8s.io/gateway-name: shop-waypoint"}
    accounts = {"shop-v1": "shop", "shop-v2": "shop", "shop-waypoint-0": "shop-waypoint"}
    docs = []
    for p in pods.values():
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
    return "---\n".join(docs)


SHOP_VIP = "10.96.0.30"


def mesh_service(with_waypoint):
    label = "\n  labels: {istio.io/use-waypoint: shop-waypoint}" if with_waypoint else ""
    return f"""apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: shop{label}
spec:
  clusterIP: {SHOP_VIP}
  selector: {{app: shop}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
"""


# The Gateway, subsets and routes, as the demo has them.
with open(os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "shop-waypoint.yaml")) as f:
    WAYPOINT = f.read()

# With --fail-percent: the same Gateway, and one route to the whole Service (no subsets, so a retry
# can go to the other pod) retrying 5xx up to 2 times.
WAYPOINT_RETRIES = "\n".join(l for l in WAYPOINT.split("\n---\n")[0].splitlines()
                              if not l.startswith("#")) + """
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: shop
spec:
  hosts: [shop]
  http:
  - name: all
    route:
    - destination: {host: shop}
    retries: {attempts: 2, retryOn: 5xx}
"""

# Run in the client pod: N keep-alive GETs (and M with "end-user: debug") counting x-served-by,
# so every system is checked to carry the same route before it is measured. An answer other than
# 200 counts as "status-<code>", whoever served it.
ROUTE_CHECK = r"""
import http.client, json, sys
host, port, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
out = {"plain": {}, "debug": {}, "errors": 0}
conn = http.client.HTTPConnection(host, port, timeout=5)
for i in range(n + m):
    kind = "plain" if i < n else "debug"
    try:
        conn.request("GET", "/", headers={"end-user": "debug"} if kind == "debug" else {})
        r = conn.getresponse()
        body = r.read()
        who = (r.getheader("x-served-by") if r.status == 200 else None) or f"status-{r.status}"
        if r.status == 200 and len(body) != 1024:
            who += "-badsize"
        out[kind][who] = out[kind].get(who, 0) + 1
    except Exception:
        out["errors"] += 1
        conn.close()
        conn = http.client.HTTPConnection(host, port, timeout=5)
print(json.dumps(out))
"""
