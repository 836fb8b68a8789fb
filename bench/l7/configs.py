"""The configuration of every system bench/l7 runs, as text: the nginx backends, the nginx and
HAProxy reverse proxies, and the mesh's Kubernetes/Istio YAML (the same objects scripts/demo.sh
serves). Every proxy carries the same route: "end-user: debug" -> v2, otherwise 90/10 v1/v2."""
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


def nginx_backend(prefix, name):
    body = BODY_1K
    return nginx_common(prefix, 1) + f"""  server {{
    listen 8080;
    default_type text/plain;
    location / {{
      add_header x-served-by {name} always;
      return 200 "{body}";
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

# Run in the client pod: N keep-alive GETs (and M with "end-user: debug") counting x-served-by,
# so every system is checked to carry the same route before it is measured.
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
        who = r.getheader("x-served-by") or f"status-{r.status}"
        if r.status == 200 and len(body) != 1024:
            who += "-badsize"
        out[kind][who] = out[kind].get(who, 0) + 1
    except Exception:
        out["errors"] += 1
        conn.close()
        conn = http.client.HTTPConnection(host, port, timeout=5)
print(json.dumps(out))
"""
