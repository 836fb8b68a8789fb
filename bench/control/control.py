#!/usr/bin/env python3
"""bench/run control: the controller with a large mesh and many simulated agents.

Generates a mesh as a directory of Kubernetes/Istio YAML, at one of two scales (--scale):
  10k   10,000 Pods on 200 nodes, 1,000 Services, 1,000 AuthorizationPolicies, 200 agents
  100k  100,000 Pods on 1,000 nodes, 5,000 Services, 2,000 AuthorizationPolicies, 1,000 agents
starts ambit-controller on it (--config-dir: the real path, YAML -> model -> analyze -> per-node
views -> push) and ambit-bench-control-load with one agent connection per node, then measures:
  snapshot   first connect -> every client has acked its full snapshot
  change     one policy file rewritten (rename) -> every client has acked the change
             (p50/p99 over --changes edits)
  rss, cpu   the controller's resident memory (now and peak) and CPU time; the load client's CPU
             apart, so a reader sees the controller is what is measured
The table (with the scale's targets, met or missed) goes to stdout; the last line is one JSON
object ("scale" names the preset, the metric keys are the same at every scale). Progress goes
to stderr.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request, zlib

# Each scale: the mesh, and the targets one change / the full snapshot / peak RSS must meet.
SCALES = {
    "10k": {"workloads": 10000, "services": 1000, "policies": 1000, "clients": 200,
            "targets": {"change_p99_ms": 100.0, "snapshot_s": 2.0, "rss_peak_mb": 150.0}},
    "100k": {"workloads": 100000, "services": 5000, "policies": 2000, "clients": 1000,
             "targets": {"change_p99_ms": 200.0, "snapshot_s": 10.0, "rss_peak_mb": 1024.0}},
}


def log(*a):
    print("control:", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)  # atomic: the controller never reads half a file


def policy(ns, name, principal):
    return (f"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"
            f"  name: {name}\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels: {{app: app-{zlib.crc32(name.encode()) % 1000}}}\n"
            f"  action: ALLOW\n  rules:\n  - from:\n    - source:\n        principals: [\"{principal}\", \"cluster.local/ns/{ns}/sa/client\"]\n"
            f"    to:\n    - operation:\n        ports: [\"8080\"]\n")


def generate(config_dir, workloads, services, policies, nodes, namespaces=20):
    """The mesh as users write it: Namespaces, Pods, Services, AuthorizationPolicies in YAML."""
    os.makedirs(config_dir)
    ns_docs = [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{i}\n  labels:\n"
               f"    ambit.io/dataplane-mode: ambient\n" for i in range(namespaces)]
    ns_docs.append("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n")
    pods = []
    for i in range(workloads):
        ns = "ns-%d" % (i % namespaces)
        ip = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
        pods.append(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{i}\n  namespace: {ns}\n"
                    f"  labels: {{app: app-{i % services}}}\nspec:\n  nodeName: node-{i % nodes}\n"
                    f"  serviceAccountName: sa-{i % 1000}\nstatus:\n  podIP: {ip}\n")
    svcs = []
    for i in range(services):
        ns = "ns-%d" % (i % namespaces)
        svcs.append(f"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: {ns}\n"
                    f"spec:\n  clusterIP: 10.96.{i >> 8}.{i & 255}\n  selector: {{app: app-{i}}}\n"
                    f"  ports:\n  - {{name: http, port: 80, targetPort: 8080}}\n")
    pols = [policy("ns-%d" % (i % namespaces), "policy-%d" % i, "cluster.local/ns/x/sa/y")
            for i in range(policies - 1)]
    write_text(os.path.join(config_dir, "namespaces.yaml"), "---\n".join(ns_docs))
    write_text(os.path.join(config_dir, "pods.yaml"), "---\n".join(pods))
    write_text(os.path.join(config_dir, "services.yaml"), "---\n".join(svcs))
    write_text(os.path.join(config_dir, "policies.yaml"), "---\n".join(pols))
    write_text(os.path.join(config_dir, "bench-policy.yaml"), change_policy(0))


def change_policy(i):
    return policy("bench", "changing", "cluster.local/ns/bench/sa/change-%d" % i)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024.0
    return out.get("VmRSS", 0.0), out.get("VmHWM", 0.0)


def percentile(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def read_event(proc, want, timeout):
    deadline = time.time() + timeout
    import select
    while time.time() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.time()))
        if not r:
            break
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("load client exited")
        parts = line.split()
        if parts and parts[0] == want[0] and (len(want) == 1 or parts[1] == want[1]):
            return parts
    raise RuntimeError("timed out waiting for %s" % " ".join(want))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "build", "release"))
    ap.add_argument("--scale", choices=sorted(SCALES), default="10k")
    ap.add_argument("--workloads", type=int, help="override the scale's pods")
    ap.add_argument("--services", type=int)
    ap.add_argument("--policies", type=int)
    ap.add_argument("--clients", type=int, help="agents, one per node")
    ap.add_argument("--threads", type=int, default=2, help="the load client's epoll threads")
    ap.add_argument("--changes", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="20 changes")
    args = ap.parse_args()
    scale = SCALES[args.scale]
    for k in ("workloads", "services", "policies", "clients"):
        if getattr(args, k) is None:
            setattr(args, k, scale[k])
    targets = scale["targets"]
    if args.quick:
        args.changes = 20
    # Parsing and the first snapshot grow with the mesh.
    slow = max(1.0, args.workloads / 10000.0)
    controller_bin = os.path.join(args.build_dir, "controller", "ambit-controller")
    load_bin = os.path.join(args.build_dir, "bench", "ambit-bench-control-load")
    tmp = tempfile.mkdtemp(prefix="ambit-bench-control-")
    procs = []
    try:
        view = os.path.join(tmp, "config")
        t = time.time()
        generate(view, args.workloads, args.services, args.policies, args.clients)
        log("generated %d workloads, %d services, %d policies in %.1fs" % (args.workloads, args.services, args.policies, time.time() - t))
        port, mon = free_port(), free_port()
        ca = os.path.join(tmp, "ca")
        ctl = subprocess.Popen([controller_bin, "--ca-dir", ca, "--config-dir", view,
                                "--listen", "127.0.0.1:%d" % port, "--monitor", "127.0.0.1:%d" % mon,
                                "--log-level", "warn"])
        procs.append(ctl)
        deadline = time.time() + 60 * slow
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/healthz/ready" % mon, timeout=1).read()
                break
            except Exception:
                if time.time() > deadline or ctl.poll() is not None:
                    raise RuntimeError("controller did not start")
                time.sleep(0.1)
        rss_idle, _ = rss_mb(ctl.pid)
        log("controller up (pid %d, RSS %.1f MB with the mesh loaded)" % (ctl.pid, rss_idle))
        load = subprocess.Popen([load_bin, "--controller", "127.0.0.1:%d" % port, "--ca-dir", ca,
                                 "--clients", str(args.clients), "--threads", str(args.threads)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(load)
        cpu0 = cpu_seconds(ctl.pid)
        ev = read_event(load, ["SNAPSHOT"], 120 * slow)
        load_cpu_total = cpu_seconds(load.pid)
        snapshot_s = (int(ev[2]) - int(ev[1])) / 1e9
        cpu_snapshot = cpu_seconds(ctl.pid) - cpu0
        snapshot_objects = int(ev[3]) if len(ev) > 3 else 0
        # From connecting to all acked: without issuing the agents' credentials beforehand.
        load_cpu_snapshot = float(ev[5]) if len(ev) > 5 else load_cpu_total
        log("snapshot of %d objects to %d clients: %.3fs" % (snapshot_objects, args.clients, snapshot_s))
        time.sleep(0.5)
        latencies = []
        cpu1 = cpu_seconds(ctl.pid)
        load_cpu1 = cpu_seconds(load.pid)
        policy_path = os.path.join(view, "bench-policy.yaml")
        for i in range(1, args.changes + 1):
            marker = "cluster.local/ns/bench/sa/change-%d" % i
            t0 = time.time_ns()
            write_text(policy_path, change_policy(i))
            ev = read_event(load, ["ACKED", marker], 30)
            latencies.append((int(ev[2]) - t0) / 1e6)
            time.sleep(0.05)
        cpu_changes = cpu_seconds(ctl.pid) - cpu1
        load_cpu_changes = cpu_seconds(load.pid) - load_cpu1
        rss_now, rss_peak = rss_mb(ctl.pid)
        status = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/status" % mon, timeout=5).read())
        in_sync = sum(1 for c in status["clients"] if c["in_sync"])
        result = {
            "bench": "control", "scale": args.scale, "workloads": args.workloads,
            "services": args.services, "policies": args.policies, "clients": args.clients,
            "changes": args.changes, "snapshot_objects": snapshot_objects,
            "change_p50_ms": round(percentile(latencies, 50), 2),
            "change_p99_ms": round(percentile(latencies, 99), 2),
            "change_max_ms": round(max(latencies), 2),
            "snapshot_s": round(snapshot_s, 3),
            "controller_cpu_snapshot_s": round(cpu_snapshot, 2),
            "load_client_cpu_snapshot_s": round(load_cpu_snapshot, 2),
            "controller_cpu_per_change_ms": round(cpu_changes / args.changes * 1000, 1),
            "load_client_cpu_per_change_ms": round(load_cpu_changes / args.changes * 1000, 1),
            "rss_mb": round(rss_now, 1), "rss_peak_mb": round(rss_peak, 1),
            "clients_in_sync": in_sync,
            "targets": targets,
        }
        met = {k: result[k] <= v for k, v in targets.items()}
        result["targets_met"] = all(met.values()) and in_sync == args.clients

        def row(label, key, fmt, target=""):
            verdict = ("met" if met[key] else "MISSED") if key in met else ""
            print(("%-38s " + fmt + " %10s %7s") % (label, result[key], target, verdict))

        print("scale %s: %d pods on %d nodes, %d services, %d policies, %d agents" %
              (args.scale, args.workloads, args.clients, args.services, args.policies, args.clients))
        print("%-38s %12s %10s %7s" % ("measure", "value", "target", ""))
        row("change -> all acked p50 (ms)", "change_p50_ms", "%12.2f")
        row("change -> all acked p99 (ms)", "change_p99_ms", "%12.2f", "<= %g" % targets["change_p99_ms"])
        row("full snapshot to all clients (s)", "snapshot_s", "%12.3f", "<= %g" % targets["snapshot_s"])
        row("controller RSS now (MB)", "rss_mb", "%12.1f")
        row("controller RSS peak (MB)", "rss_peak_mb", "%12.1f", "<= %g" % targets["rss_peak_mb"])
        row("controller CPU, snapshot (s)", "controller_cpu_snapshot_s", "%12.2f")
        row("load client CPU, snapshot (s)", "load_client_cpu_snapshot_s", "%12.2f")
        row("controller CPU per change (ms)", "controller_cpu_per_change_ms", "%12.1f")
        row("load client CPU per change (ms)", "load_client_cpu_per_change_ms", "%12.1f")
        row("clients in sync (from /status)", "clients_in_sync", "%12d", str(args.clients))
        print(json.dumps(result))
        return 0 if result["targets_met"] else 1
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                if p.stdin:
                    try:
                        p.stdin.close()
                    except Exception:
                        pass
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
