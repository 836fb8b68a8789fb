"""Child processes, /proc sampling and readiness polling for the L4 benchmark driver.

Every child runs in a session of its own (so a terminal Ctrl-C reaches only the driver, which then stops
them in order) and its pid is written to a file that bench/run's exit trap reads, so nothing outlives the
benchmark even if the driver itself is killed.
"""

import os
import select
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


class ProcessGroup:
    def __init__(self, pidfile):
        self.pidfile = pidfile
        self.live = {}  # pid -> Popen

    def _write_pidfile(self):
        tmp = self.pidfile + ".new"
        with open(tmp, "w") as f:
            for pid in self.live:
                f.write(f"{pid}\n")
        os.replace(tmp, self.pidfile)

    def start(self, argv, log_path=None, stdout=None, env=None):
        """Starts argv in its own session; stdout/stderr go to log_path unless stdout is given."""
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            p = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else log,
                stderr=log,
                start_new_session=True,
                env=env,
            )
        finally:
            if log_path:
                log.close()
        self.live[p.pid] = p
        self._write_pidfile()
        return p

    def stop(self, p, grace=5.0):
        """SIGTERM to the child's process group, SIGKILL after `grace` seconds."""
        if p is None or p.pid not in self.live:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if p.poll() is not None:
                break
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        # Reap leftovers of the group (e.g. nginx workers) that outlived their leader.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        del self.live[p.pid]
        self._write_pidfile()

    def stop_all(self):
        for p in list(self.live.values()):
            self.stop(p, grace=2.0)


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2 :].split()


def process_tree(root):
    """root and all its descendants that are alive now."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(entry)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if os.path.exists(f"/proc/{pid}"):
            out.append(pid)
            todo.extend(children.get(pid, []))
    return out


def rss_mib(root):
    """Sum of VmRSS over the process tree, in MiB (shared pages count once per process)."""
    total_kib = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
                        break
        except OSError:
            pass
    return total_kib / 1024.0


def cpu_seconds(root):
    """utime+stime of every process in the tree (all threads, including exited ones), in seconds."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return ticks / CLK_TCK


def _hex_addr(host):
    return socket.inet_aton(host)[::-1].hex().upper()


def listening(host, port):
    """True when some socket LISTENs on host:port (or the wildcard) in this network namespace."""
    want = {f"{_hex_addr(host)}:{port:04X}", f"00000000:{port:04X}"}
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "0A" and parts[1] in want:
                    return True
    except OSError:
        pass
    return False


def wait_listening(addrs, procs, timeout=15.0):
    """Polls until every (host, port) listens; fails early if one of procs exits. Returns an error or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                return f"process {p.args[0]} exited with status {p.returncode}"
        if all(listening(h, port) for h, port in addrs):
            return None
        time.sleep(0.05)
    missing = [f"{h}:{port}" for h, port in addrs if not listening(h, port)]
    return f"not listening after {timeout:.0f}s: {', '.join(missing)}"


def echo_round_trip(addr, size=64, timeout=3.0):
    """One request/reply through addr (the echo route). Returns an error string or None."""
    payload = b"p" * size
    try:
        with socket.create_connection(addr, timeout=timeout) as s:
            s.sendall(payload)
            got = b""
            while len(got) < size:
                chunk = s.recv(size - len(got))
                if not chunk:
                    return "connection closed before the reply"
                got += chunk
            return None if got == payload else "reply differs from request"
    except OSError as e:
        return str(e)


def wait_round_trip(addr, timeout=15.0):
    """Retries echo_round_trip until it works (bounded). Returns the last error or None."""
    deadline = time.monotonic() + timeout
    err = "no attempt"
    while time.monotonic() < deadline:
        err = echo_round_trip(addr)
        if err is None:
            return None
        time.sleep(0.2)
    return err


def read_line(stream, timeout):
    """Reads one line from a pipe with a deadline; returns None on timeout or EOF."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 1)
        if not chunk:
            return buf.decode(errors="replace") if buf else None
        if chunk == b"\n":
            return buf.decode(errors="replace")
        buf += chunk
    return None


def run(argv, timeout):
    """Runs a short-lived tool (not in a new session: it ends with the driver); returns (rc, stdout, stderr)."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, text=True)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return None, out, f"timed out after {timeout:.0f}s"


def tail(path, lines=8):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""
