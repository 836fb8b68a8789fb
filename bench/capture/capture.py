#!/usr/bin/env python3
"""bench/run capture: what capture costs, pod to pod across two netns nodes.

For each mode, in one run and on one fresh two-node netlab cluster per mode:
  direct    no agents, plain TCP between the pods (the floor)
  ebpf      agents with eBPF capture (cgroup connect + sk_lookup) and the mTLS tunnel
  iptables  agents with the in-pod iptables REDIRECT fallback and the same tunnel
it measures connection setup (connect + one 1 KiB exchange + close, one after another), the
1 KiB round trip on one open connection, and a bulk round trip (--bulk-size, 64 KiB by default:
send it all, read the echo back; MB/s = bytes one way / mean round trip), with ambit-probe
inside the client pod. ebpf and iptables carry the same tunnel, so their difference is the
capture itself.

Prints a table, then as the last line one JSON object with every figure.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = args.build_dir
        self.netlab = os.path.join(self.build, "tests/e2e/ambit-netlab")
        self.probe = os.path.join(self.build, "tests/e2e/ambit-probe")
        self.agent = os.path.join(self.build, "agent/ambit-agent")
        self.tmp = tempfile.mkdtemp(prefix="ambit-bench-capture.")
        subprocess.run([os.path.join(args.repo, "scripts/gen-certs.sh"), self.tmp], check=True)
        self.procs = []
        self.cluster = None

    def sh(self, *argv, check=True, timeout=120):
        return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)

    def up(self, name):
        out = self.sh(self.netlab, "up", name, "--nodes", "2", "--pods",
                      "node1:shop/client,node2:shop/server").stdout
        self.cluster = name
        return {p["name"]: p for p in json.loads(out)["pods"]}

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []
        if self.cluster:
            for node in ("node1", "node2"):
                self.sh(self.netlab, "exec", self.cluster, node, "--", self.agent, "--uninstall",
                        *self.state_args(node), check=False)
            self.sh(self.netlab, "down", self.cluster, check=False)
            self.cluster = None

    def state_args(self, node):
        return ["--state-dir", f"/run/ambit-bench/{self.cluster}-{node}",
                "--bpf-pin-dir", f"/sys/fs/bpf/ambit-bench-{self.cluster}-{node}"]

    def write_config(self, node, pods):
        lines = [f"node: {node}",
                 "certificateAuthority: {certificate: root.pem, privateKey: root.key}",
                 "namespaces:", "- {name: shop, labels: {ambit.io/dataplane-mode: ambient}}",
                 "workloads:"]
        for name, p in pods.items():
            lines.append(f"- {{name: {name}, namespace: shop, serviceAccount: {name}, "
                         f"node: {p['node']}, addresses: [{p['ip']}], "
                         f"netns: {p['netns_path']}, cgroup: {p['cgroup_path']}}}")
        path = os.path.join(self.tmp, f"{node}.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start_agents(self, mode, pods):
        logs = {}
        for node in ("node1", "node2"):
            cfg = self.write_config(node, pods)
            logs[node] = open(os.path.join(self.tmp, f"{self.cluster}-{node}.log"), "w+")
            self.procs.append(subprocess.Popen(
                [self.netlab, "exec", self.cluster, node, "--", self.agent, "--config", cfg,
                 "--capture", mode, "--workers", "1", *self.state_args(node)],
                stdout=subprocess.DEVNULL, stderr=logs[node]))
        deadline = time.time() + 15
        want = {"node1": "enrolled pod shop/client", "node2": "enrolled pod shop/server"}
        while time.time() < deadline:
            done = all(want[n] in open(logs[n].name).read() for n in want)
            if done:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{mode}: agents did not enroll the pods: " +
                           " | ".join(open(logs[n].name).read()[-800:] for n in want))

    def serve(self, pods):
        p = subprocess.Popen([self.netlab, "exec", self.cluster, "server", "--", self.probe,
                              "serve", "--port", "8080", "--echo"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        if "listening" not in line:
            raise RuntimeError("server did not start")

    def probe_rr(self, to, *extra, size=1024):
        out = self.sh(self.netlab, "exec", self.cluster, "client", "--", self.probe, "rr", to,
                      "--size", str(size), *extra, timeout=300).stdout
        return json.loads(out.strip().splitlines()[-1])

    def measure(self, mode):
        name = f"bc{mode[:4]}{os.getpid() % 10000}"
        pods = self.up(name)
        try:
            if mode != "direct":
                self.start_agents(mode, pods)
            self.serve(pods)
            to = f"{pods['server']['ip']}:8080"
            self.probe_rr(to, "--connections", "200")  # warm-up: pools, ARP, caches
            setup, rr, bulk = [], [], []
            for _ in range(self.args.runs):
                setup.append(self.probe_rr(to, "--connections", str(self.args.connections)))
                rr.append(self.probe_rr(to, "--count", str(self.args.count)))
                if self.args.bulk_count > 0:
                    bulk.append(self.probe_rr(to, "--count", str(self.args.bulk_count),
                                              size=self.args.bulk_size))
            bulk_fields = {}
            if bulk:
                bulk_fields = {
                    "bulk_p50_us": statistics.median(r["p50_us"] for r in bulk),
                    "bulk_mb_per_s": statistics.median(
                        self.args.bulk_size / r["mean_us"] for r in bulk),
                }
            return {
                **bulk_fields,
                "conns_per_s": statistics.median(r["conns_per_s"] for r in setup),
                "setup_p50_us": statistics.median(r["p50_us"] for r in setup),
                "setup_p99_us": statistics.median(r["p99_us"] for r in setup),
                "rr_p50_us": statistics.median(r["p50_us"] for r in rr),
                "rr_p99_us": statistics.median(r["p99_us"] for r in rr),
                "samples": {"setup": setup, "rr": rr, "bulk": bulk},
            }
        finally:
            self.down()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--modes", default="direct,ebpf,iptables")
    ap.add_argument("--runs", type=int, default=3, help="median of this many runs per figure")
    ap.add_argument("--connections", type=int, default=2000, help="new connections per run")
    ap.add_argument("--count", type=int, default=10000, help="round trips per run")
    ap.add_argument("--bulk-size", type=int, default=65536, help="bytes per bulk round trip")
    ap.add_argument("--bulk-count", type=int, default=2000, help="bulk round trips per run (0: none)")
    ap.add_argument("--quick", action="store_true", help="1 run, 500 connections, 2000 round trips")
    ap.add_argument("--build-dir", default=os.path.join(repo, "build/release"))
    args = ap.parse_args()
    args.repo = repo
    if args.quick:
        args.runs, args.connections, args.count, args.bulk_count = 1, 500, 2000, 500
    bench = Bench(args)
    results = {}
    interrupted = False

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        for mode in args.modes.split(","):
            log(f"== {mode}")
            try:
                results[mode] = bench.measure(mode)
            except (RuntimeError, subprocess.CalledProcessError, json.JSONDecodeError) as e:
                detail = getattr(e, "stderr", "") or ""
                log(f"{mode}: unavailable: {e} {detail[-500:]}")
                results[mode] = {"error": str(e)}
    except KeyboardInterrupt:
        interrupted = True
        bench.down()
    finally:
        subprocess.run(["rm", "-rf", bench.tmp])
    if interrupted:
        sys.exit(130)

    direct = results.get("direct", {})
    print(f"{'mode':10} {'conns/s':>9} {'setup p50':>10} {'setup p99':>10} {'+setup':>8} "
          f"{'rr p50':>8} {'rr p99':>8} {'+rr':>7} {'bulk p50':>9} {'bulk MB/s':>9}"
          f"   (µs; + = added over direct; bulk = {args.bulk_size} B echoed)")
    for mode, r in results.items():
        if "error" in r:
            print(f"{mode:10} unavailable: {r['error']}")
            continue
        add_setup = r["setup_p50_us"] - direct.get("setup_p50_us", 0) if direct else 0
        add_rr = r["rr_p50_us"] - direct.get("rr_p50_us", 0) if direct else 0
        r["added_setup_p50_us"] = round(add_setup, 1)
        r["added_rr_p50_us"] = round(add_rr, 1)
        print(f"{mode:10} {r['conns_per_s']:9.0f} {r['setup_p50_us']:10.1f} "
              f"{r['setup_p99_us']:10.1f} {add_setup:8.1f} {r['rr_p50_us']:8.1f} "
              f"{r['rr_p99_us']:8.1f} {add_rr:7.1f} {r.get('bulk_p50_us', 0):9.1f} "
              f"{r.get('bulk_mb_per_s', 0):9.1f}")
    summary = {"benchmark": "capture", "runs": args.runs, "connections": args.connections,
               "round_trips": args.count, "bulk_size": args.bulk_size,
               "bulk_round_trips": args.bulk_count, "results": results}
    e, i = results.get("ebpf", {}), results.get("iptables", {})
    if "setup_p50_us" in e and "setup_p50_us" in i:
        summary["ebpf_vs_iptables_setup_p50"] = round(e["setup_p50_us"] / i["setup_p50_us"], 3)
        summary["target_ebpf_adds_less_setup_latency"] = (
            e.get("added_setup_p50_us", e["setup_p50_us"]) <
            i.get("added_setup_p50_us", i["setup_p50_us"]))
        print(f"eBPF/iptables setup p50: {summary['ebpf_vs_iptables_setup_p50']}x; target "
              f"(eBPF adds less setup latency): "
              f"{'met' if summary['target_ebpf_adds_less_setup_latency'] else 'NOT met'}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
