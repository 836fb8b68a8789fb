"""The load generators: iperf3 (bulk), sockperf (request/response latency), ambit-bench-connrate (new
connections) and ambit-bench-hold (idle connections). Each function runs one measurement against a route
(host, port) and returns plain numbers, or raises MeasureError. Clients run under ctx.client_cpu and servers
under ctx.server_cpu (a taskset prefix, or nothing)."""

import json
import os
import re
import signal
import subprocess

import procs

# Backends, all on the server workload's own address.
SERVER_HOST = "127.0.0.3"
BACKENDS = {"iperf": (SERVER_HOST, 26001), "sockperf": (SERVER_HOST, 26002), "echo": (SERVER_HOST, 26003)}


class MeasureError(Exception):
    pass


def _addr(route):
    return f"{route[0]}:{route[1]}"


def iperf3(ctx, route, streams, duration, sample_cpu):
    """Bulk transfer client -> server. A one-off iperf3 server is started for each test (a stuck server
    cannot poison the next test). sample_cpu() returns the proxies' CPU seconds; it is read right before the
    client starts and right after it ends. Returns (Gb/s received by the server, bytes, proxy CPU seconds)."""
    host, port = BACKENDS["iperf"]
    server = ctx.procs.start(
        ctx.server_cpu + ["iperf3", "-s", "-1", "-B", host, "-p", str(port)], log_path=os.path.join(ctx.tmp, "iperf3-server.log")
    )
    try:
        err = procs.wait_listening([(host, port)], [server], timeout=10)
        if err:
            raise MeasureError(f"iperf3 server: {err}")
        cpu0 = sample_cpu()
        rc, out, errtext = procs.run(
            ctx.client_cpu + ["iperf3", "-c", route[0], "-p", str(route[1]), "-t", str(duration), "-P", str(streams), "-J"],
            timeout=duration + 30,
        )
        cpu1 = sample_cpu()
    finally:
        ctx.procs.stop(server, grace=2)
    try:
        doc = json.loads(out)
    except ValueError:
        raise MeasureError(f"iperf3 -P {streams}: no JSON (rc={rc}) {errtext.strip()[:200]}")
    if "error" in doc:
        raise MeasureError(f"iperf3 -P {streams}: {doc['error']}")
    received = doc["end"]["sum_received"]
    return received["bits_per_second"] / 1e9, received["bytes"], (cpu1 - cpu0) if cpu0 is not None else None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sockperf(ctx, route, mps, duration, size=1024):
    """Ping-pong of `size`-byte messages over TCP (one outstanding at a time) at `mps` messages/s or "max".
    Returns dict(p50_us, p99_us, rr_per_s) with full round-trip times."""
    rc, out, errtext = procs.run(
        ctx.client_cpu + ["sockperf", "ping-pong", "--tcp", "-i", route[0], "-p", str(route[1]), "-m", str(size),
         "--mps", str(mps), "-t", str(duration), "--full-rtt"],
        timeout=duration + 30,
    )
    text = _ANSI.sub("", out + "\n" + errtext)

    def grab(pattern):
        m = re.search(pattern, text)
        if not m:
            raise MeasureError(f"sockperf --mps {mps}: no '{pattern}' in output (rc={rc}): {text.strip()[-300:]}")
        return m

    p50 = float(grab(r"percentile 50\.000 =\s*([\d.]+)").group(1))
    p99 = float(grab(r"percentile 99\.000 =\s*([\d.]+)").group(1))
    valid = grab(r"\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)")
    runtime, received = float(valid.group(1)), int(valid.group(3))
    return {"p50_us": p50, "p99_us": p99, "rr_per_s": received / runtime if runtime > 0 else None}


def connrate(ctx, route, clients, duration, size=1024):
    """`clients` concurrent loops of connect / send `size` bytes / read the echo / close.
    Returns the tool's JSON (connections, failures, rate, p50_us, p99_us, ...)."""
    rc, out, errtext = procs.run(
        ctx.client_cpu + [ctx.tool("connrate"), "--connect", _addr(route), "--clients", str(clients), "--duration", str(duration),
         "--size", str(size)],
        timeout=duration + 30,
    )
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if rc != 0 or not lines:
        raise MeasureError(f"connrate: rc={rc} {errtext.strip()[:200]}")
    return json.loads(lines[-1])


def hold(ctx, route, count, while_held, timeout=120):
    """Opens `count` connections through route (one echo round trip each), calls while_held() once they
    are all open, then releases them. Returns (opened, failures, closed_by_peer)."""
    p = ctx.procs.start(
        ctx.client_cpu + [ctx.tool("hold"), "--connect", _addr(route), "--count", str(count), "--duration", str(timeout),
         "--parallel", "4"],
        log_path=os.path.join(ctx.tmp, "hold.err"),
        stdout=subprocess.PIPE,
    )
    try:
        line = procs.read_line(p.stdout, timeout)
        m = re.match(r"READY connections=(\d+) failures=(\d+)", line or "")
        if not m:
            raise MeasureError(f"hold: no READY line (got {line!r})")
        opened, failures = int(m.group(1)), int(m.group(2))
        while_held()
        p.send_signal(signal.SIGUSR1)
        line = procs.read_line(p.stdout, 15) or ""
        m = re.match(r"DONE closed_by_peer=(\d+)", line)
        closed = int(m.group(1)) if m else None
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        return opened, failures, closed
    finally:
        if p.stdout:
            p.stdout.close()
        ctx.procs.stop(p, grace=2)

