#!/usr/bin/env python3
"""The L4 benchmark driver (run it through `bench/run l4`, which builds the tools and makes the certificates).

For each run and each system (direct, ambit, stunnel, haproxy, nginx) it starts fresh proxies A and B and
measures, in this order:
  1. RSS of A and B idle (0.5 s after the first end-to-end round trip);
  2. RSS of A and B while ambit-bench-hold keeps 1,000 idle connections open end to end;
  3. 1 KiB ping-pong RTT p50/p99 at 2,000 req/s and at the maximum rate (sockperf), and that rate;
  4. bulk throughput with 1 and 8 streams (iperf3), and the proxies' CPU seconds (utime+stime from /proc)
     during those two transfers divided by the GB moved;
  5. new-connection rate with 1 and 8 clients (ambit-bench-connrate).
The order of the systems rotates by one position every run. The figure reported is the median over runs.
The load generators are pinned (clients to the first CPU, servers to the second; --no-pin turns that off):
without it the scheduler sometimes puts a ping-pong client and server on one CPU, and the round trip then
drops from ~90 us to ~5 us, which made direct-TCP latency bimodal. The proxies are never pinned.
Progress goes to stderr; the machine, the table and (last line) one JSON object go to stdout.
"""

import argparse
import json
import os
import platform
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import measure  # noqa: E402
import procs  # noqa: E402
import report  # noqa: E402
import systems  # noqa: E402
from measure import BACKENDS, MeasureError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Ctx:
    def __init__(self, args):
        self.tmp = args.tmp
        self.certs = args.certs
        self.tools_dir = args.tools
        self.agent = args.agent
        self.threads = args.threads
        # Load generators: clients on CPU 0, servers on CPU 1 (the proxies float); see --no-pin.
        pin = not args.no_pin and len(os.sched_getaffinity(0)) >= 2
        cpus = sorted(os.sched_getaffinity(0))
        self.client_cpu = ["taskset", "-c", str(cpus[0])] if pin else []
        self.server_cpu = ["taskset", "-c", str(cpus[1])] if pin else []
        self.procs = procs.ProcessGroup(os.path.join(args.tmp, "pids"))

    def tool(self, name):
        return os.path.join(self.tools_dir, f"ambit-bench-{name}")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/run l4", description="L4 tunnel benchmark: ambit vs peers vs direct TCP")
    ap.add_argument("--runs", type=int, default=None, help="runs per system, the median is reported (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke mode: 1 run, 2-second tests")
    ap.add_argument("--systems", default=",".join(systems.ORDER),
                    help=f"comma-separated subset of {','.join(systems.ORDER)} (default: all)")
    ap.add_argument("--threads", type=int, default=2,
                    help="worker threads/processes for ambit (--workers), HAProxy (nbthread) and nginx "
                         "(worker_processes); stunnel always uses one thread per connection (default 2)")
    ap.add_argument("--duration", type=int, default=None, help="seconds per throughput/latency/connection test "
                                                                "(default 5, --quick 2)")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin the clients to the first CPU and the servers to the second one")
    ap.add_argument("--hold", type=int, default=1000, help="idle connections held for the RSS figure (default 1000)")
    ap.add_argument("--json", default=None, help="also write the JSON object to this file")
    # Set by bench/run:
    ap.add_argument("--tmp", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--certs", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--tools", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--agent", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in args.systems if s not in systems.ALL]
    if unknown or not args.systems:
        ap.error(f"unknown system(s) {','.join(unknown)}; choose from {','.join(systems.ORDER)}")
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.duration is None:
        args.duration = 2 if args.quick else 5
    if not (1 <= args.runs <= 50 and 1 <= args.duration <= 600 and 1 <= args.threads <= 64
            and 1 <= args.hold <= 8000):
        ap.error("out of range: --runs 1..50, --duration 1..600, --threads 1..64, --hold 1..8000")
    return args


# ---------------------------------------------------------------------------------------------------------
# Machine description


def _cmd_output(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return r.stdout + r.stderr
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            mem_gib = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    os_name = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass

    def version(argv, pattern):
        m = re.search(pattern, _cmd_output(argv))
        return m.group(1) if m else None

    commit = _cmd_output(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).strip() or None
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "os": os_name,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "ambit_commit": commit,
        "versions": {
            "openssl": version(["openssl", "version"], r"OpenSSL (\S+)"),
            "stunnel": version(["stunnel", "-version"], r"stunnel (\S+) on"),
            "haproxy": version(["haproxy", "-v"], r"HAProxy version (\S+)"),
            "nginx": version(["nginx", "-v"], r"nginx/(\S+)"),
            "iperf3": version(["iperf3", "-v"], r"iperf (\S+)"),
            "sockperf": version(["sockperf", "--version"], r"version (\S+)"),
        },
    }


def machine_lines(m, args, ctx):
    v = m["versions"]
    return [
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, {m['os']}, kernel {m['kernel']}, "
        f"load average at start {m['loadavg_at_start'][0]}",
        f"- software: OpenSSL {v['openssl']}, stunnel {v['stunnel']}, HAProxy {v['haproxy']}, nginx {v['nginx']}, "
        f"iperf3 {v['iperf3']}, sockperf {v['sockperf']}; ambit {m['ambit_commit']}",
        f"- method: median of {args.runs} run(s), {args.duration} s per test, {args.hold} held connections, "
        f"{args.threads} worker threads for ambit/HAProxy/nginx; "
        + (f"clients pinned to CPU {ctx.client_cpu[2]}, servers to CPU {ctx.server_cpu[2]}, proxies unpinned"
           if ctx.client_cpu else "nothing pinned"),
    ]


# ---------------------------------------------------------------------------------------------------------
# TLS check: what B negotiates, and that B refuses a client without a certificate.

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def tls_probe(ctx, system):
    addr = system.b_addr("echo")
    out = {"address": f"{addr[0]}:{addr[1]}"}
    for with_cert in (True, False):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.minimum_version = ssl.TLSVersion.TLSv1_3
        c.load_verify_locations(os.path.join(ctx.certs, "root.pem"))
        if with_cert:
            c.load_cert_chain(os.path.join(ctx.certs, "client.pem"), os.path.join(ctx.certs, "client.key"))
        if system.alpn():
            c.set_alpn_protocols([system.alpn()])
        accepted = False
        try:
            with socket.create_connection(addr, timeout=3) as raw:
                with c.wrap_socket(raw, server_hostname="server") as s:
                    if with_cert:
                        out.update(protocol=s.version(), cipher=s.cipher()[0], alpn=s.selected_alpn_protocol())
                    s.sendall(H2_PREFACE if system.alpn() else b"t" * 64)
                    accepted = len(s.recv(64)) > 0  # the echo, or the server's SETTINGS frame
        except (OSError, ssl.SSLError, ValueError):
            accepted = False
        out["with_client_cert" if with_cert else "without_client_cert"] = "accepted" if accepted else "refused"
    return out


# ---------------------------------------------------------------------------------------------------------
# One system, one run


def measure_system(ctx, system, args, run_dir, notes, tls):
    """Starts the system, runs every test, stops it. Returns {metric: value or None}. The first time a proxied
    system runs, its B side is also probed with a TLS client after the tests (result stored in tls)."""
    res = {k: None for k in report.METRIC_KEYS}
    tag = f"{system.name}"

    def step(label, fn):
        try:
            fn()
        except MeasureError as e:
            log(f"   {tag}: {label} FAILED: {e}")
            notes.append(f"{tag}: {label}: {e}")
        except Exception as e:  # a parser or tool surprise must not end the whole benchmark
            log(f"   {tag}: {label} FAILED: {type(e).__name__}: {e}")
            notes.append(f"{tag}: {label}: {type(e).__name__}: {e}")

    system.start(run_dir)  # raises StartError
    failed = 0
    try:
        sides = system.sides()
        if sides:
            time.sleep(0.5)
            res["rss_idle_a_mib"] = procs.rss_mib(sides["a"])
            res["rss_idle_b_mib"] = procs.rss_mib(sides["b"])
            log(f"   {tag}: RSS idle A {res['rss_idle_a_mib']:.1f} MiB, B {res['rss_idle_b_mib']:.1f} MiB")

            def held():
                time.sleep(1.0)  # let lazily allocated per-connection state settle
                res["rss_1k_a_mib"] = procs.rss_mib(sides["a"])
                res["rss_1k_b_mib"] = procs.rss_mib(sides["b"])

            def do_hold():
                nonlocal failed
                opened, fails, closed = measure.hold(ctx, system.route("echo"), args.hold, held)
                failed += fails + (closed or 0)
                if opened < args.hold:
                    res["rss_1k_a_mib"] = res["rss_1k_b_mib"] = None
                    raise MeasureError(f"only {opened} of {args.hold} connections opened")
                log(f"   {tag}: RSS with {opened} conns A {res['rss_1k_a_mib']:.1f} MiB, "
                    f"B {res['rss_1k_b_mib']:.1f} MiB (closed by peer while held: {closed})")

            step("hold", do_hold)

        def rtt(mps, prefix):
            def go():
                r = measure.sockperf(ctx, system.route("sockperf"), mps, args.duration)
                res[f"{prefix}_p50_us"], res[f"{prefix}_p99_us"] = r["p50_us"], r["p99_us"]
                if mps == "max":
                    res["rr_max_per_s"] = r["rr_per_s"]
                log(f"   {tag}: RTT @{mps if mps == 'max' else str(mps) + '/s'} p50 {r['p50_us']:.0f} µs p99 {r['p99_us']:.0f} µs "
                    f"({r['rr_per_s']:,.0f} req/s)")
            return go

        step("rtt@2000", rtt(2000, "rtt_2k"))
        step("rtt@max", rtt("max", "rtt_max"))

        def sample_cpu():
            return sum(procs.cpu_seconds(pid) for pid in sides.values()) if sides else None

        cpu_total, bytes_total = 0.0, 0

        def bulk(streams, key):
            def go():
                nonlocal cpu_total, bytes_total
                gbps, nbytes, cpu = measure.iperf3(ctx, system.route("iperf"), streams, args.duration, sample_cpu)
                res[key] = gbps
                bytes_total += nbytes
                cpu_total += cpu or 0.0
                log(f"   {tag}: iperf3 -P {streams}: {gbps:.2f} Gb/s" + (f", proxy CPU {cpu:.2f} s" if sides else ""))
            return go

        step("iperf3 -P 1", bulk(1, "throughput_1s_gbps"))
        step("iperf3 -P 8", bulk(8, "throughput_8s_gbps"))
        if sides and bytes_total > 0 and res["throughput_1s_gbps"] and res["throughput_8s_gbps"]:
            res["cpu_s_per_gb"] = cpu_total / (bytes_total / 1e9)
            log(f"   {tag}: proxy CPU {res['cpu_s_per_gb']:.2f} s/GB")

        def conns(clients, key):
            def go():
                nonlocal failed
                r = measure.connrate(ctx, system.route("echo"), clients, args.duration)
                res[key] = r["rate"] if r["connections"] > 0 else None
                failed += r["failures"]
                log(f"   {tag}: new connections, {clients} client(s): {r['rate']:,.0f}/s "
                    f"(cycle p50 {r['p50_us']:.0f} µs, failures {r['failures']}"
                    + (f", last error {r['last_error']}" if r["failures"] else "") + ")")
            return go

        step("connrate 1", conns(1, "connrate_1c_per_s"))
        step("connrate 8", conns(8, "connrate_8c_per_s"))
        res["failed_connections"] = failed
        if sides and system.name not in tls:

            def probe():
                tls[system.name] = tls_probe(ctx, system)
                log(f"   {tag}: TLS at B: {tls[system.name]}")

            step("TLS probe", probe)
    finally:
        system.stop()
    return res


# ---------------------------------------------------------------------------------------------------------


def start_backends(ctx):
    busy = [f"{h}:{p}" for h, p in BACKENDS.values() if procs.listening(h, p)]
    if busy:
        raise SystemExit(f"bench l4: backend address(es) already in use: {', '.join(busy)}")
    echo = ctx.procs.start(ctx.server_cpu + [ctx.tool("echo"), "--listen", "%s:%d" % BACKENDS["echo"]],
                           log_path=os.path.join(ctx.tmp, "echo.log"))
    sp = ctx.procs.start(ctx.server_cpu + ["sockperf", "server", "--tcp", "-i", BACKENDS["sockperf"][0], "-p",
                          str(BACKENDS["sockperf"][1])], log_path=os.path.join(ctx.tmp, "sockperf-server.log"))
    err = procs.wait_listening([BACKENDS["echo"], BACKENDS["sockperf"]], [echo, sp], timeout=10)
    if err:
        raise SystemExit(f"bench l4: backends did not start: {err}")


def main(argv):
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)

    args = parse_args(argv)
    ctx = Ctx(args)
    started = time.monotonic()
    m = machine()
    chosen = [s for s in systems.ORDER if s in args.systems]
    instances = {name: systems.ALL[name](ctx) for name in chosen}
    status, tls, notes, load_per_run = {}, {}, [], {}
    for name, inst in instances.items():
        why = inst.unavailable()
        if why:
            status[name] = f"unavailable: {why}"
            log(f"bench l4: {name} is unavailable ({why}); reported as null")
    samples = {k: {name: [] for name in chosen} for k in report.METRIC_KEYS}
    current = None
    rc = 0
    try:
        start_backends(ctx)
        runnable = [n for n in chosen if n not in status]
        for run in range(1, args.runs + 1):
            shift = (run - 1) % max(1, len(runnable))
            order = runnable[shift:] + runnable[:shift]
            for name in order:
                current = instances[name]
                load1 = round(os.getloadavg()[0], 2)
                load_per_run.setdefault(name, []).append(load1)
                log(f"== run {run}/{args.runs}: {name} (load average {load1})")
                run_dir = os.path.join(ctx.tmp, name, f"run{run}")
                try:
                    values = measure_system(ctx, current, args, run_dir, notes, tls)
                except systems.StartError as e:
                    log(f"   {name}: did not start: {e}")
                    notes.append(f"{name}: run {run}: did not start: {str(e).splitlines()[0]}")
                    status.setdefault(name, f"failed to start in run {run}")
                    values = {}
                current = None
                for k in report.METRIC_KEYS:
                    samples[k][name].append(values.get(k))
        for name in chosen:
            status.setdefault(name, "ok")
    except KeyboardInterrupt:
        log("bench l4: interrupted; stopping everything")
        rc = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if current is not None:
            current.stop()
        ctx.procs.stop_all()
    if rc:
        return rc

    medians = {k: {name: report.median(samples[k][name]) for name in chosen} for k in report.METRIC_KEYS}
    meta = {
        "machine": m,
        "runs": args.runs,
        "quick": args.quick,
        "duration_s": args.duration,
        "held_connections": args.hold,
        "threads": args.threads,
        "pinned": {"clients": ctx.client_cpu[2:], "servers": ctx.server_cpu[2:]},
        "systems": chosen,
        "status": status,
        "tls": tls,
        "notes": notes,
        "elapsed_s": round(time.monotonic() - started, 1),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "loadavg_1m_before_each_run": load_per_run,
    }
    out = report.json_object(medians, samples, meta)
    print("\n".join(machine_lines(m, args, ctx)))
    for name in chosen:
        if status[name] != "ok":
            print(f"- {name}: {status[name]}")
    print()
    print(report.table(medians, chosen, hold=args.hold))
    print()
    line = json.dumps(out, separators=(",", ":"), ensure_ascii=False)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
