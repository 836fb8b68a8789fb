#!/usr/bin/env python3
"""bench/run l7: the waypoint's L7 path against nginx and HAProxy, in one run, on one machine.

A two-node netns cluster (ambit-netlab): node1 holds shop/client, shop/shop-waypoint-0 and
shop/proxy; node2 holds shop/shop-v1 and shop/shop-v2, each an nginx answering 1 KiB bodies with
"x-served-by: v1|v2" on :8080. wrk in the client pod drives HTTP/1.1 keep-alive, closed loop,
against:
  direct          client -> shop-v1 pod IP:8080 (no proxy, no mesh: the floor)
  nginx-wN        nginx reverse proxy in the proxy pod, N workers
  haproxy-tN      HAProxy (HTTP mode) in the proxy pod, nbthread N
  mesh-l4         controller + agents, no waypoint: client -> VIP 10.96.0.30:80 -> HBONE -> pod
  mesh-waypoint-wN  the same through ambit-waypoint (--workers N) in shop-waypoint-0: two HBONE
                  hops (client's agent -> waypoint -> backend's agent)
Every proxy carries the same route, checked before it is measured: "end-user: debug" -> v2,
otherwise 90/10 v1/v2 (mesh-l4 has no L7 route: the agents spread connections over both pods).

Per system: requests/s, p50/p99 at that load, CPU seconds of the proxy processes per 1,000
requests (mesh: both agents + the waypoint), RSS of those processes idle and under load, and ratios
against nginx and HAProxy at the same worker count. A table, then one JSON object as the last line.

--fail-percent P (default 0: none of this): retries under failure. Both backends answer P % of
requests, picked at random, with 503, and every proxy drops the canary and the header route for one
pool of both pods that tries a 503 again on another endpoint up to 2 more times: nginx
proxy_next_upstream http_503 + proxy_next_upstream_tries 3 (nginx tries each of its 2 servers at
most once, so 2 tries), HAProxy retry-on 503 + retries 2 + option redispatch 1, the waypoint a
VirtualService route to the whole Service with retries {attempts: 2, retryOn: 5xx}; direct and
mesh-l4 do not retry. The route check asks for both pods serving and no more 503s than the
system's tries allow. A second table gives per system req/s, the share of requests wrk saw
answered 2xx/3xx against the expected 100 x (1 - (P/100)^tries) %, and the req/s ratios against
nginx and HAProxy; the JSON line gains "fail_percent", and each result tries, success_pct and
expected_success_pct.
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import configs  # noqa: E402

PODS = "node1:shop/client,node1:shop/shop-waypoint-0,node1:shop/proxy,node2:shop/shop-v1,node2:shop/shop-v2"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- /proc figures of a set of processes (each with its descendants) ----

def descendants(roots):
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(d))
            except OSError:
                pass
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    total = 0
    for p in descendants(pids):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])  # utime + stime
        except OSError:
            pass
    return total / CLK_TCK


def rss_mib(pids):
    total = 0
    for p in descendants(pids):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class PeakRss:
    """Samples the RSS (MiB) of a set of processes, and of the last of them alone, every 0.25 s
    while the `with` block runs; `all` and `last` are the peaks."""

    def __init__(self, pids):
        self.pids, self.all, self.last = pids, 0.0, 0.0
        self.running = threading.Event()
        self.thread = threading.Thread(target=self.sample)

    def sample(self):
        while self.running.is_set():
            self.all = max(self.all, rss_mib(self.pids))
            self.last = max(self.last, rss_mib(self.pids[-1:]))
            time.sleep(0.25)

    def __enter__(self):
        self.running.set()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running.clear()
        self.thread.join()
        return False


# ---- wrk ----

UNIT = {"us": 1, "ms": 1000, "s": 1000000}


def parse_wrk(text):
    def lat(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * UNIT[m.group(2)] if m else None
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    total = re.search(r"^\s+(\d+) requests in ([\d.]+)(\w+)", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if not rps or not total:
        raise RuntimeError("wrk: no result: " + text[-400:])
    return {"rps": float(rps.group(1)), "requests": int(total.group(1)),
            "p50_us": lat(50), "p99_us": lat(99),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0}


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = args.build_dir
        self.netlab = os.path.join(self.build, "tests/e2e/ambit-netlab")
        self.agent = os.path.join(self.build, "agent/ambit-agent")
        self.controller = os.path.join(self.build, "controller/ambit-controller")
        self.waypoint = os.path.join(self.build, "waypoint/ambit-waypoint")
        self.tmp = tempfile.mkdtemp(prefix="ambit-bench-l7.")
        self.procs = []  # every long-running child, each leading its own process group
        self.cluster = None
        self.mesh = False
        self.pods = {}
        self.nodes = {}

    def sh(self, *argv, check=True, timeout=120):
        return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)

    def start(self, target, *argv, log_name):
        logf = open(os.path.join(self.tmp, log_name), "w+")
        p = subprocess.Popen([self.netlab, "exec", self.cluster, target, "--", *argv],
                             stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                             start_new_session=True)
        p.log_path = logf.name
        self.procs.append(p)
        return p

    def stop(self, procs):
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            if p in self.procs:
                self.procs.remove(p)

    # ---- cluster ----

    def up(self, name, mesh):
        out = self.sh(self.netlab, "up", name, "--nodes", "2", "--pods", PODS).stdout
        self.cluster, self.mesh = name, mesh
        d = json.loads(out)
        self.pods = {p["name"]: p for p in d["pods"]}
        self.nodes = {n["name"]: n for n in d["nodes"]}
        for v in ("v1", "v2"):
            self.start_nginx(f"shop-{v}", f"be-{v}", configs.nginx_backend, v,
                             self.args.fail_percent)
        for v in ("v1", "v2"):
            self.wait_http(f"{self.pods['shop-' + v]['ip']}", 8080, f"backend {v}")

    def state_args(self, node):
        return ["--state-dir", f"/run/ambit-bench/{self.cluster}-{node}",
                "--bpf-pin-dir", f"/sys/fs/bpf/ambit-bench-{self.cluster}-{node}"]

    def down(self):
        self.stop(list(self.procs))
        if self.cluster:
            if self.mesh:
                for node in ("node1", "node2"):
                    self.sh(self.netlab, "exec", self.cluster, node, "--", self.agent, "--uninstall",
                            *self.state_args(node), check=False)
            self.sh(self.netlab, "down", self.cluster, check=False)
            self.cluster = None
        try:
            os.rmdir("/run/ambit-bench")
        except OSError:
            pass

    # ---- processes under test ----

    def start_nginx(self, pod, tag, make_conf, *conf_args):
        prefix = os.path.join(self.tmp, tag)
        os.makedirs(prefix, exist_ok=True)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(make_conf(prefix, *conf_args))
        return self.start(pod, "nginx", "-p", prefix, "-c", conf, "-e", f"{prefix}/error.log",
                          "-g", "daemon off;", log_name=f"{tag}.log")

    def start_haproxy(self, threads):
        conf = os.path.join(self.tmp, f"haproxy-t{threads}.cfg")
        with open(conf, "w") as f:
            make = configs.haproxy_retries if self.args.fail_percent else configs.haproxy
            f.write(make(threads, self.pods["shop-v1"]["ip"], self.pods["shop-v2"]["ip"]))
        return self.start("proxy", "haproxy", "-db", "-f", conf, log_name=f"haproxy-t{threads}.log")

    def start_mesh(self, with_waypoint):
        cfg = os.path.join(self.tmp, "config")
        os.makedirs(cfg, exist_ok=True)
        files = {"namespaces.yaml": configs.NAMESPACE, "pods.yaml": configs.mesh_pods(self.pods),
                 "shop.yaml": configs.mesh_service(with_waypoint)}
        if with_waypoint:
            files["waypoint.yaml"] = configs.WAYPOINT_RETRIES if self.args.fail_percent else configs.WAYPOINT
        for n, text in files.items():
            with open(os.path.join(cfg, n), "w") as f:
                f.write(text)
        ca = os.path.join(self.tmp, "ca")
        for n in ("node1", "node2"):
            self.sh(self.controller, "bootstrap-node", "--ca-dir", ca, "--node", n,
                    "--out", os.path.join(self.tmp, n))
        self.sh(self.controller, "bootstrap-waypoint", "--ca-dir", ca, "--waypoint",
                "shop/shop-waypoint", "--out", os.path.join(self.tmp, "waypoint"))
        at = f"{self.nodes['node1']['ip']}:15012"
        self.controller_at = at
        self.start("node1", self.controller, "--config-dir", cfg, "--ca-dir", ca, "--listen", at,
                   "--monitor", "127.0.0.1:15014", log_name="controller.log")
        agents = []
        for n in ("node1", "node2"):
            agents.append(self.start(n, self.agent, "--controller", at, "--node", n, "--credentials",
                                     os.path.join(self.tmp, n), "--workers", "1", "--capture", "auto",
                                     "--resync-ms", "1000", *self.state_args(n), log_name=f"{n}.log"))
        want = [(agents[0], "enrolled pod shop/client"), (agents[1], "enrolled pod shop/shop-v1"),
                (agents[1], "enrolled pod shop/shop-v2")]
        deadline = time.time() + 20
        while not all(w in open(a.log_path).read() for a, w in want):
            if time.time() > deadline:
                raise RuntimeError("agents did not enroll the pods: " +
                                   " | ".join(open(a.log_path).read()[-600:] for a in agents))
            time.sleep(0.1)
        return agents

    def start_waypoint(self, workers):
        # Access logs off (--log-level warn), as for nginx and HAProxy (access_log off / no log).
        return self.start("shop-waypoint-0", self.waypoint, "--controller", self.controller_at,
                          "--waypoint", "shop/shop-waypoint", "--workload", "shop/shop-waypoint-0",
                          "--credentials", os.path.join(self.tmp, "waypoint"),
                          "--workers", str(workers), "--log-level", "warn",
                          log_name=f"waypoint-w{workers}.log")

    # ---- probes from the client pod ----

    def route_check(self, host, port, n=200, m=20):
        out = self.sh(self.netlab, "exec", self.cluster, "client", "--", "python3", "-c",
                      configs.ROUTE_CHECK, host, str(port), str(n), str(m), timeout=60).stdout
        return json.loads(out.strip().splitlines()[-1])

    def wait_http(self, host, port, what, timeout=20, proc=None):
        deadline = time.time() + timeout
        while True:
            r = self.route_check(host, port, 1, 0)
            if sum(v for k, v in r["plain"].items() if k in ("v1", "v2")) == 1:
                return
            if time.time() > deadline or (proc is not None and proc.poll() is not None):
                tail = open(proc.log_path).read()[-400:] if proc is not None else ""
                raise RuntimeError(f"{what} at {host}:{port} does not answer: {r} {tail}")
            time.sleep(0.2)

    def wrk(self, url, duration):
        a = self.args
        out = self.sh(self.netlab, "exec", self.cluster, "client", "--", "wrk", f"-t{a.threads}",
                      f"-c{a.connections}", f"-d{duration}s", "--latency", url,
                      timeout=duration + 60).stdout
        return parse_wrk(out)

    def fixed_rate(self, url, rps, duration, clients=10):
        """p50/p99 (µs) of HTTP/1.1 requests sent at a fixed rate (h2load --rps per client),
        from h2load's per-request log; None when the rate was not held."""
        logf = os.path.join(self.tmp, f"rate-{int(rps)}.log")
        per_client = max(1, int(round(rps / clients)))
        out = self.sh(self.netlab, "exec", self.cluster, "client", "--", "h2load", "--h1", "-t1",
                      f"-c{clients}", f"--rps={per_client}", f"-D{duration}", f"--log-file={logf}",
                      url, check=False, timeout=duration + 60).stdout
        try:
            lines = open(logf).read().split("\n")
        except OSError:
            lines = []
        # Each line: start time (µs since epoch), status, duration (µs).
        d = sorted(int(l.split("\t")[2]) for l in lines if l.count("\t") == 2 and l.split("\t")[1] == "200")
        if len(d) < 0.9 * per_client * clients * duration:
            log(f"h2load --rps {url}: {len(d)} answered of {per_client * clients * duration}: "
                + " | ".join(l for l in out.splitlines() if "progress" not in l)[-400:])
            return None
        return {"rate": per_client * clients, "p50_us": d[len(d) // 2],
                "p99_us": d[min(len(d) - 1, int(len(d) * 0.99))]}

    def many_connections(self, url, pids, n=1000, duration=4):
        """Peak RSS (MiB) of `pids`, and of the last of them alone, while `n` HTTP/1.1 keep-alive
        clients each send 1 request/s."""
        with PeakRss(pids) as peak:
            out = self.sh(self.netlab, "exec", self.cluster, "client", "--", "h2load", "--h1", "-t1",
                          f"-c{n}", "--rps=1", f"-D{duration}", url, check=False,
                          timeout=duration + 60).stdout
        ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
        done = int(ok.group(1)) if ok else 0
        if done < n * duration * 0.8:
            log(f"{n} connections to {url}: {done} answered: " +
                " | ".join(l for l in out.splitlines() if "progress" not in l)[-400:])
            return {"answered": done, "rss_mib": None}
        return {"answered": done, "rss_mib": round(peak.all, 1), "own_rss_mib": round(peak.last, 1)}

    def h2load(self, url, duration):
        a = self.args
        out = self.sh(self.netlab, "exec", self.cluster, "client", "--", "h2load", "-t1",
                      f"-c{a.connections}", "-m1", f"-D{duration}", url, check=False,
                      timeout=duration + 60).stdout
        m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
        ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
        if not m or not ok or int(ok.group(1)) == 0:
            log(f"h2load {url}: no result: " + " | ".join(l for l in out.splitlines() if "progress" not in l)[:900])
            return None
        return float(m.group(1))

    # ---- one measurement ----

    def retry_route_ok(self, plain, tries, pool, n=200):
        """--fail-percent: every answer a pod's 200 or a 503, both pods serving when `pool`, and
        no more 503s than `tries` tries of each request allow (a bound that a proxy not retrying,
        at n * P %, exceeds when P is 10 % or more)."""
        served, failed = plain.get("v1", 0) + plain.get("v2", 0), plain.get("status-503", 0)
        if served + failed != n or served == 0:
            return False
        if pool and min(plain.get("v1", 0), plain.get("v2", 0)) < n // 10:
            return False
        expected = n * (self.args.fail_percent / 100) ** tries
        return tries == 1 or failed <= expected + 4 * math.sqrt(expected) + 3

    def measure(self, name, url, procs, route_to, expect_route=True, h2_url=None):
        host, port = route_to
        fail = self.args.fail_percent
        tries = configs.TRIES[re.sub(r"-[wt]\d+$", "", name)] if fail else None
        route = self.route_check(host, port, m=0 if fail else 20)
        plain, debug = route["plain"], route["debug"]
        if fail:
            ok = self.retry_route_ok(plain, tries, expect_route)
        elif expect_route:
            v2 = plain.get("v2", 0)
            ok = (plain.get("v1", 0) + v2 == 200 and 5 <= v2 <= 40 and debug.get("v2", 0) == 20)
        else:
            ok = sum(plain.get(k, 0) for k in ("v1", "v2")) == 200
        if not ok or route["errors"]:
            raise RuntimeError(f"{name}: route check failed: {route}")
        pids = [p.pid for p in procs]
        time.sleep(0.3)
        rss_idle, own_idle = rss_mib(pids), rss_mib(pids[-1:])
        self.wrk(url, 1)  # warm-up: pools, caches, ARP
        cpu0, own0 = cpu_seconds(pids), cpu_seconds(pids[-1:])
        with PeakRss(pids) as peak:
            r = self.wrk(url, self.args.duration)
        cpu1, own1 = cpu_seconds(pids), cpu_seconds(pids[-1:])
        if r["non_2xx"] or r["socket_errors"]:
            log(f"{name}: {r['non_2xx']} non-2xx, {r['socket_errors']} socket errors")
        r.update({"cpu_s": round(cpu1 - cpu0, 3),
                  "cpu_ms_per_1k": round((cpu1 - cpu0) * 1e6 / max(r["requests"], 1), 2),
                  "rss_idle_mib": round(rss_idle, 1), "rss_load_mib": round(peak.all, 1),
                  "route": route})
        if fail:
            r["tries"] = tries
            r["success_pct"] = round(100 * (1 - r["non_2xx"] / max(r["requests"], 1)), 3)
            r["expected_success_pct"] = round(100 * (1 - (fail / 100) ** tries), 3)
        if name.startswith("mesh-waypoint"):  # the waypoint's own share (the last process)
            r["waypoint_cpu_ms_per_1k"] = round((own1 - own0) * 1e6 / max(r["requests"], 1), 2)
            r["waypoint_rss_idle_mib"] = round(own_idle, 1)
        if h2_url:
            r["h2_rps"] = self.h2load(h2_url, min(self.args.duration, 3))
        if not self.args.no_latency:
            r["at_1k"] = self.fixed_rate(url, 1000, 4)
            # More clients than wrk's connections: each paced client has one request in flight,
            # so at 80 % of the closed-loop maximum 16 of them would be latency-bound.
            r["at_80pct"] = self.fixed_rate(url, 0.8 * r["rps"], 4, clients=2 * self.args.connections)
            if pids:
                r["conns_1k"] = self.many_connections(url, pids)
        log(f"  {name}: {r['rps']:.0f} req/s, p50 {r['p50_us']:.0f} µs, p99 {r['p99_us']:.0f} µs, "
            f"{r['cpu_ms_per_1k']} ms CPU/1k, RSS {r['rss_idle_mib']}->{r['rss_load_mib']} MiB, "
            f"fixed 1k/s {r.get('at_1k')}, 80% {r.get('at_80pct')}, 1k conns {r.get('conns_1k')}, "
            f"h2 {r.get('h2_rps')}" +
            (f", {r['success_pct']} % succeeded (expected {r['expected_success_pct']})" if fail else ""))
        return r


def run(bench, systems, results):
    want = set(systems)
    tag = os.getpid() % 10000

    def attempt(name, fn):
        if re.sub(r"-[wt]\d+$", "", name) not in want and name not in want:
            return
        log(f"== {name}")
        try:
            results[name] = fn()
        except (RuntimeError, subprocess.SubprocessError, json.JSONDecodeError, OSError) as e:
            detail = getattr(e, "stderr", "") or ""
            log(f"{name}: unavailable: {e} {detail[-500:]}")
            results[name] = {"error": str(e)[:300]}

    plain = {"direct", "nginx", "haproxy"} & want
    if plain:
        bench.up(f"bl7p{tag}", mesh=False)
        try:
            v1 = bench.pods["shop-v1"]["ip"]
            proxy = bench.pods["proxy"]["ip"]
            h2 = not bench.args.no_h2 and shutil.which("h2load") is not None

            def direct():
                r = bench.route_check(v1, 8080, 20, 0)
                ok = r["plain"].get("v1", 0) == 20 if not bench.args.fail_percent else \
                    bench.retry_route_ok(r["plain"], 1, False, 20)
                if not ok:
                    raise RuntimeError(f"direct: {r}")
                return bench.measure("direct", f"http://{v1}:8080/", [], (v1, 8080),
                                     expect_route=False)
            attempt("direct", direct)
            for w in bench.args.workers:
                def nginx(w=w):
                    make = configs.nginx_proxy_retries if bench.args.fail_percent else configs.nginx_proxy
                    p = bench.start_nginx("proxy", f"nginx-w{w}", make, w, v1, bench.pods["shop-v2"]["ip"])
                    try:
                        bench.wait_http(proxy, 80, "nginx", proc=p)
                        return bench.measure(f"nginx-w{w}", f"http://{proxy}/", [p], (proxy, 80),
                                             h2_url=f"http://{proxy}:81/" if h2 else None)
                    finally:
                        bench.stop([p])
                attempt(f"nginx-w{w}", nginx)

                def haproxy(w=w):
                    p = bench.start_haproxy(w)
                    try:
                        bench.wait_http(proxy, 80, "haproxy", proc=p)
                        return bench.measure(f"haproxy-t{w}", f"http://{proxy}/", [p], (proxy, 80),
                                             h2_url=f"http://{proxy}:81/" if h2 else None)
                    finally:
                        bench.stop([p])
                attempt(f"haproxy-t{w}", haproxy)
        finally:
            bench.down()

    vip = configs.SHOP_VIP
    if "mesh-l4" in want:
        bench.up(f"bl7l{tag}", mesh=True)
        try:
            def mesh_l4():
                agents = bench.start_mesh(with_waypoint=False)
                bench.wait_http(vip, 80, "mesh-l4 service")
                return bench.measure("mesh-l4", f"http://{vip}/", agents, (vip, 80),
                                     expect_route=False)
            attempt("mesh-l4", mesh_l4)
        finally:
            bench.down()
    if "mesh-waypoint" in want:
        bench.up(f"bl7w{tag}", mesh=True)
        try:
            agents = []

            def mesh_setup():
                agents.extend(bench.start_mesh(with_waypoint=True))
                return {}
            attempt("mesh-waypoint", mesh_setup)
            if "error" not in results.get("mesh-waypoint", {"error": ""}):
                results.pop("mesh-waypoint")  # the setup has no figures of its own
            for w in bench.args.workers:
                def waypoint(w=w):
                    if not agents:
                        raise RuntimeError("the mesh did not start")
                    p = bench.start_waypoint(w)
                    try:
                        bench.wait_http(vip, 80, "waypoint", timeout=30, proc=p)
                        # h2c with prior knowledge on the Service's own port: the waypoint
                        # tells HTTP/2 from HTTP/1.1 by the first bytes.
                        h2 = not bench.args.no_h2 and shutil.which("h2load") is not None
                        r = bench.measure(f"mesh-waypoint-w{w}", f"http://{vip}/", agents + [p],
                                          (vip, 80), h2_url=f"http://{vip}/" if h2 else None)
                        return r
                    finally:
                        bench.stop([p])
                attempt(f"mesh-waypoint-w{w}", waypoint)
        finally:
            bench.down()


def report(results, args):
    def f(v, fmt):
        width = int(re.match(r"\d*", fmt).group(0) or 0)
        return format(v, fmt) if isinstance(v, (int, float)) else "n/a".rjust(width)
    print(f"{'system':20} {'req/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'CPU ms/1k':>10} "
          f"{'(wp)':>6} {'RSS idle':>9} {'RSS load':>9} {'h2 req/s':>9} {'vs nginx':>9} {'vs haproxy':>10}")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:20} unavailable: {r['error'][:100]}")
            continue
        w = re.search(r"-[wt](\d+)$", name)
        w = w.group(1) if w else "1"
        for peer, key in (("nginx", f"nginx-w{w}"), ("haproxy", f"haproxy-t{w}")):
            p = results.get(key, {})
            if "rps" in p and name != key and r["cpu_s"]:
                r[f"rps_vs_{peer}"] = round(r["rps"] / p["rps"], 3)
                r[f"p50_vs_{peer}"] = round(r["p50_us"] / p["p50_us"], 3)
                r[f"cpu_per_req_vs_{peer}"] = round(r["cpu_ms_per_1k"] / p["cpu_ms_per_1k"], 3) \
                    if p["cpu_ms_per_1k"] else None
        h2 = r.get("h2_rps")
        print(f"{name:20} {r['rps']:9.0f} {f(r['p50_us'], '8.0f')} {f(r['p99_us'], '8.0f')} "
              f"{f(r['cpu_ms_per_1k'] if r['cpu_s'] else None, '10.2f')} "
              f"{f(r.get('waypoint_cpu_ms_per_1k'), '6.1f')} {f(r['rss_idle_mib'] or None, '9.1f')} {f(r['rss_load_mib'] or None, '9.1f')} "
              f"{h2 if isinstance(h2, str) else f(h2, '9.0f'):>9} "
              f"{f(r.get('rps_vs_nginx'), '9.2f')} {f(r.get('rps_vs_haproxy'), '10.2f')}")
    print(f"(wrk -t{args.threads} -c{args.connections} -d{args.duration}s, HTTP/1.1 keep-alive, 1 KiB "
          f"bodies; CPU (ms per 1,000 requests) and RSS (MiB): the proxy processes, for mesh both "
          f"agents + the waypoint, (wp) = the waypoint's own share; "
          f"vs = req/s ratio at the same worker count; h2: h2load -c{args.connections} -m1, h2c)")
    if not args.no_latency:
        print()
        print(f"{'system':20} {'1k/s p50':>9} {'1k/s p99':>9} {'80% rate':>9} {'80% p50':>8} "
              f"{'80% p99':>8} {'RSS 1k conns':>13} {'(wp)':>6} {'p99@1k vs best':>15}")
        for name, r in results.items():
            if "error" in r:
                continue
            a, b = r.get("at_1k") or {}, r.get("at_80pct") or {}
            w = re.search(r"-[wt](\d+)$", name)
            w = w.group(1) if w else "1"
            peers = [results.get(k, {}).get("at_1k") or {} for k in (f"nginx-w{w}", f"haproxy-t{w}")]
            best = min((p["p99_us"] for p in peers if p.get("p99_us")), default=None)
            ratio = a["p99_us"] / best if best and a.get("p99_us") and not name.startswith(("nginx", "haproxy")) else None
            if ratio:
                r["p99_at_1k_vs_best_peer"] = round(ratio, 3)
            c = (r.get("conns_1k") or {}).get("rss_mib")
            own = (r.get("conns_1k") or {}).get("own_rss_mib") if name.startswith("mesh-waypoint") else None
            print(f"{name:20} {f(a.get('p50_us'), '9.0f')} {f(a.get('p99_us'), '9.0f')} "
                  f"{f(b.get('rate'), '9.0f')} {f(b.get('p50_us'), '8.0f')} {f(b.get('p99_us'), '8.0f')} "
                  f"{f(c, '13.1f')} {f(own, '6.1f')} {f(ratio, '15.2f')}")
        print(f"(h2load --h1 --rps: HTTP/1.1 at a fixed 1,000 requests/s (10 clients) and at 80 % of the wrk "
              f"maximum ({2 * args.connections} clients), latencies in µs from h2load's per-request log; RSS (MiB) of the proxy "
              "processes with 1,000 keep-alive connections each sending 1 request/s, (wp) the "
              "waypoint's own)")
    if args.fail_percent:
        print()
        print(f"{'system':20} {'req/s':>9} {'succeeded':>10} {'expected':>9} {'failed':>8} {'tries':>6} "
              f"{'vs nginx':>9} {'vs haproxy':>10}")
        for name, r in results.items():
            if "error" in r:
                continue
            print(f"{name:20} {r['rps']:9.0f} {r['success_pct']:9.3f}% {r['expected_success_pct']:8.3f}% "
                  f"{r['non_2xx']:8d} {r['tries']:6d} {f(r.get('rps_vs_nginx'), '9.2f')} "
                  f"{f(r.get('rps_vs_haproxy'), '10.2f')}")
        print(f"(retries under failure: the backends answer {args.fail_percent:g} % of requests with 503; "
              f"succeeded = share of wrk's requests answered 2xx/3xx, expected = 100 x (1 - (P/100)^tries) %, "
              f"failed = wrk's non-2xx/3xx count, tries = the first try and its retries; "
              f"vs = req/s ratio at the same worker count)")
    summary = {"benchmark": "l7", "duration_s": args.duration, "connections": args.connections,
               "wrk_threads": args.threads, "workers": args.workers, "body_bytes": 1024,
               "results": results}
    if args.fail_percent:
        summary["fail_percent"] = args.fail_percent
    print(json.dumps(summary))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--systems", default="direct,nginx,haproxy,mesh-l4,mesh-waypoint")
    ap.add_argument("--duration", type=int, default=10, help="seconds of load per point")
    ap.add_argument("--connections", type=int, default=16, help="wrk keep-alive connections")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--workers", default="1,2", help="proxy workers/threads to measure")
    ap.add_argument("--no-h2", action="store_true", help="skip the HTTP/2 (h2load) column")
    ap.add_argument("--no-latency", action="store_true",
                    help="skip the fixed-rate latency points and the 1,000-connection RSS")
    ap.add_argument("--quick", action="store_true", help="4 s per point")
    ap.add_argument("--build-dir", default=os.path.join(repo, "build/release"))
    ap.add_argument("--fail-percent", type=float, default=0,
                    help="backends answer this %% of requests with 503; proxies retry (see above)")
    args = ap.parse_args()
    if not 0 <= args.fail_percent < 100:
        ap.error("--fail-percent: 0 <= P < 100")
    args.fail_percent = round(args.fail_percent, 2)  # nginx's split_clients takes 2 decimals
    if args.quick:
        args.duration = 4
    args.workers = [int(w) for w in args.workers.split(",")]
    for tool in ("nginx", "haproxy", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"bench/l7: {tool} is missing (scripts/install-deps.sh --bench)")
    for rel in ("tests/e2e/ambit-netlab", "agent/ambit-agent", "controller/ambit-controller",
                "waypoint/ambit-waypoint"):
        if not os.access(os.path.join(args.build_dir, rel), os.X_OK):
            sys.exit(f"bench/l7: {args.build_dir}/{rel} is missing (build it, or pass --build-dir)")
    if os.geteuid() != 0:
        sys.exit("bench/l7: needs root (network namespaces, cgroups, BPF)")
    bench = Bench(args)
    results = {}
    interrupted = False

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        run(bench, args.systems.split(","), results)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bench.down()
        shutil.rmtree(bench.tmp, ignore_errors=True)
    if interrupted:
        sys.exit(130)
    report(results, args)


if __name__ == "__main__":
    main()
