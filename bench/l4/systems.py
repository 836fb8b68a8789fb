"""The systems under test. All share one topology, every hop on its own loopback address:

    client --plain--> A on 127.0.0.1:port --TLS 1.3 mTLS--> B on 127.0.0.2 --plain--> server on 127.0.0.3:port

A presents the client certificate and verifies B's chain; B requires a client certificate from the same CA.
Each proxy carries one route per backend (iperf3, sockperf, echo), so it is started once per run and serves
every test of that run. TLS everywhere: TLS 1.3 only, TLS_AES_256_GCM_SHA384, X25519.
"""

import os
import shutil

import procs
from measure import BACKENDS

A_HOST, B_HOST = "127.0.0.1", "127.0.0.2"
CIPHERSUITE = "TLS_AES_256_GCM_SHA384"
GROUP = "X25519"
ROUTES = ("iperf", "sockperf", "echo")
# A of system S listens on BASE[S]+1..3 (one port per route), B on BASE[S]+11..13.
BASE = {"stunnel": 21000, "haproxy": 22000, "nginx": 23000, "ambit": 24000}
AMBIT_HBONE = (B_HOST, 15008)


class StartError(Exception):
    pass


class System:
    name = ""
    proxied = True

    def __init__(self, ctx):
        self.ctx = ctx
        self.a = self.b = None
        self.dir = None

    # --- overridden per system -------------------------------------------------------------
    def unavailable(self):
        """A reason why this system cannot run on this machine, or None."""
        return None

    def launch(self):
        """Writes the configs into self.dir and starts A and B (self.a, self.b)."""
        raise NotImplementedError

    def b_addr(self, route):
        return (B_HOST, BASE[self.name] + 10 + 1 + ROUTES.index(route))

    def alpn(self):
        return None

    # --- common ----------------------------------------------------------------------------
    def route(self, backend):
        """The address the client connects to for a backend."""
        return (A_HOST, BASE[self.name] + 1 + ROUTES.index(backend))

    def listen_addrs(self):
        return [self.route(r) for r in ROUTES] + sorted({self.b_addr(r) for r in ROUTES})

    def start(self, run_dir):
        self.dir = run_dir
        os.makedirs(self.dir, exist_ok=True)
        busy = [f"{h}:{p}" for h, p in self.listen_addrs() if procs.listening(h, p)]
        if busy:
            raise StartError(f"address already in use by another process: {', '.join(busy)}")
        self.launch()
        err = procs.wait_listening(self.listen_addrs(), [self.a, self.b], timeout=15)
        if err is None:
            err = procs.wait_round_trip(self.route("echo"), timeout=15)
            err = f"echo round trip through the proxies failed: {err}" if err else None
        if err:
            logs = "\n".join(f"  {f}: {procs.tail(os.path.join(self.dir, f), 5)}"
                             for f in sorted(os.listdir(self.dir)) if f.endswith(".log"))
            self.stop()
            raise StartError(f"{err}\n{logs}")

    def stop(self):
        for p in (self.a, self.b):
            self.ctx.procs.stop(p)
        self.a = self.b = None

    def sides(self):
        """Root pids of the A and B proxies (their descendants are included when sampling)."""
        return {"a": self.a.pid, "b": self.b.pid}

    def path(self, name):
        return os.path.join(self.dir, name)

    def cert(self, name):
        return os.path.join(self.ctx.certs, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)


class Direct(System):
    """No mesh: the client connects to the server itself."""

    name = "direct"
    proxied = False

    def route(self, backend):
        return BACKENDS[backend]

    def start(self, run_dir):
        pass

    def stop(self):
        pass

    def sides(self):
        return {}


class Stunnel(System):
    """stunnel 5: one thread per connection (it has no single-threaded or fixed-pool mode)."""

    name = "stunnel"

    def unavailable(self):
        return None if shutil.which("stunnel") else "stunnel not installed"

    def _conf(self, side):
        lines = ["foreground = yes", "pid =", "syslog = no", "debug = warning", f"output = {self.path(side + '.log')}", ""]
        for r in ROUTES:
            lines += [f"[{r}]"]
            if side == "a":
                a, b = self.route(r), self.b_addr(r)
                lines += ["client = yes", f"accept = {a[0]}:{a[1]}", f"connect = {b[0]}:{b[1]}",
                          f"cert = {self.cert('client.pem')}", f"key = {self.cert('client.key')}",
                          "checkHost = server"]
            else:
                b, s = self.b_addr(r), BACKENDS[r]
                lines += [f"accept = {b[0]}:{b[1]}", f"connect = {s[0]}:{s[1]}",
                          f"cert = {self.cert('server.pem')}", f"key = {self.cert('server.key')}",
                          "requireCert = yes"]
            lines += [f"CAfile = {self.cert('root.pem')}", "verifyChain = yes", "sslVersionMin = TLSv1.3",
                      f"ciphersuites = {CIPHERSUITE}", f"curves = {GROUP}", ""]
        return "\n".join(lines)

    def launch(self):
        self.b = self.ctx.procs.start(["stunnel", self.write("b.conf", self._conf("b"))], log_path=self.path("b.out.log"))
        self.a = self.ctx.procs.start(["stunnel", self.write("a.conf", self._conf("a"))], log_path=self.path("a.out.log"))


class Haproxy(System):
    """HAProxy in TCP mode, `nbthread` = --threads, maxconn 8000, TLS session reuse A->B left on (default)."""

    name = "haproxy"

    def unavailable(self):
        return None if shutil.which("haproxy") else "haproxy not installed"

    def _conf(self, side):
        out = [
            "global",
            "    maxconn 8000",
            f"    nbthread {self.ctx.threads}",
            f"    ssl-default-bind-ciphersuites {CIPHERSUITE}",
            f"    ssl-default-server-ciphersuites {CIPHERSUITE}",
            "    ssl-default-bind-options ssl-min-ver TLSv1.3",
            "    ssl-default-server-options ssl-min-ver TLSv1.3",
            "",
            "defaults",
            "    mode tcp",
            "    timeout connect 5s",
            "    timeout client 10m",
            "    timeout server 10m",
            "",
        ]
        ca = self.cert("root.pem")
        for r in ROUTES:
            out.append(f"listen {r}")
            if side == "a":
                a, b = self.route(r), self.b_addr(r)
                out += [f"    bind {a[0]}:{a[1]}",
                        f"    server b {b[0]}:{b[1]} ssl crt {self.cert('client.combined.pem')} ca-file {ca}"
                        f" verify required verifyhost server"]
            else:
                b, s = self.b_addr(r), BACKENDS[r]
                out += [f"    bind {b[0]}:{b[1]} ssl crt {self.cert('server.combined.pem')} ca-file {ca}"
                        f" verify required curves {GROUP}",
                        f"    server s {s[0]}:{s[1]}"]
            out.append("")
        return "\n".join(out)

    def launch(self):
        for side in ("b", "a"):
            conf = self.write(f"{side}.cfg", self._conf(side))
            p = self.ctx.procs.start(["haproxy", "-db", "-f", conf], log_path=self.path(f"{side}.log"))
            setattr(self, side, p)


class Nginx(System):
    """nginx stream module, `worker_processes` = --threads (master + workers are summed)."""

    name = "nginx"
    MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"

    def unavailable(self):
        if not shutil.which("nginx"):
            return "nginx not installed"
        return None if os.path.exists(self.MODULE) else f"{self.MODULE} missing (libnginx-mod-stream)"

    def _conf(self, side):
        out = [
            f"load_module {self.MODULE};",
            "daemon off;",
            "master_process on;",
            f"worker_processes {self.ctx.threads};",
            "worker_rlimit_nofile 19000;",
            f"pid {self.path(side + '.pid')};",
            f"error_log {self.path(side + '.log')} warn;",
            "events { worker_connections 8000; }",
            "stream {",
            "    proxy_timeout 10m;",
        ]
        if side == "a":
            out += [
                "    proxy_ssl on;",
                "    proxy_ssl_protocols TLSv1.3;",
                f"    proxy_ssl_conf_command Ciphersuites {CIPHERSUITE};",
                f"    proxy_ssl_conf_command Groups {GROUP};",
                f"    proxy_ssl_certificate {self.cert('client.pem')};",
                f"    proxy_ssl_certificate_key {self.cert('client.key')};",
                f"    proxy_ssl_trusted_certificate {self.cert('root.pem')};",
                "    proxy_ssl_verify on;",
                "    proxy_ssl_name server;",
            ]
            for r in ROUTES:
                a, b = self.route(r), self.b_addr(r)
                out.append(f"    server {{ listen {a[0]}:{a[1]}; proxy_pass {b[0]}:{b[1]}; }}")
        else:
            out += [
                "    ssl_protocols TLSv1.3;",
                f"    ssl_conf_command Ciphersuites {CIPHERSUITE};",
                f"    ssl_ecdh_curve {GROUP};",
                f"    ssl_certificate {self.cert('server.pem')};",
                f"    ssl_certificate_key {self.cert('server.key')};",
                f"    ssl_client_certificate {self.cert('root.pem')};",
                "    ssl_verify_client on;",
            ]
            for r in ROUTES:
                b, s = self.b_addr(r), BACKENDS[r]
                out.append(f"    server {{ listen {b[0]}:{b[1]} ssl; proxy_pass {s[0]}:{s[1]}; }}")
        out.append("}")
        return "\n".join(out) + "\n"

    def launch(self):
        for side in ("b", "a"):
            conf = self.write(f"{side}.conf", self._conf(side))
            p = self.ctx.procs.start(["nginx", "-p", self.dir, "-c", conf, "-e", self.path(side + ".log")],
                                     log_path=self.path(f"{side}.out.log"))
            setattr(self, side, p)


class Ambit(System):
    """ambit-agent as two engines: A holds the client workload's certificate and one outbound listener per
    backend port; B holds the server workload's certificate and the HBONE inbound listener 127.0.0.2:15008.
    A carries every application connection as an HTTP/2 CONNECT stream over pooled mTLS connections to B."""

    name = "ambit"

    def unavailable(self):
        agent = self.ctx.agent
        if not agent:
            return "ambit-agent was not built"
        return None if os.access(agent, os.X_OK) else f"{agent} not found"

    def b_addr(self, route):
        return AMBIT_HBONE

    def alpn(self):
        return "h2"

    def _workloads(self, node):
        certs = {"client": "node-a", "server": "node-b"}
        addrs = {"client": ("127.0.0.1", "127.0.0.1:15008"), "server": ("127.0.0.3", f"{AMBIT_HBONE[0]}:{AMBIT_HBONE[1]}")}
        out = ["workloads:"]
        for sa in ("client", "server"):
            ip, hbone = addrs[sa]
            fields = [f"name: {sa}", "namespace: bench", f"serviceAccount: {sa}", f"node: {certs[sa]}",
                      f"addresses: [{ip}]", f'hboneAddress: "{hbone}"', "peerAuthentication: STRICT"]
            if certs[sa] == node:
                fields += [f'certificate: "{self.cert(sa + ".pem")}"', f'privateKey: "{self.cert(sa + ".key")}"']
            out.append("- {" + ", ".join(fields) + "}")
        return out

    def _conf(self, side):
        node = "node-a" if side == "a" else "node-b"
        out = [f"node: {node}", "trustDomain: cluster.local", f'trustBundle: "{self.cert("root.pem")}"']
        out += self._workloads(node)
        out.append("listeners:")
        if side == "a":
            for r in ROUTES:
                a, s = self.route(r), BACKENDS[r]
                out.append(f'- {{kind: outbound, address: "{a[0]}:{a[1]}", workload: bench/client, '
                           f'destination: "{s[0]}:{s[1]}"}}')
        else:
            out.append(f'- {{kind: inbound, address: "{AMBIT_HBONE[0]}:{AMBIT_HBONE[1]}", workload: bench/server}}')
        return "\n".join(out) + "\n"

    def launch(self):
        for side in ("b", "a"):
            conf = self.write(f"{side}.yaml", self._conf(side))
            p = self.ctx.procs.start([self.ctx.agent, "--config", conf, "--workers", str(self.ctx.threads),
                                      "--log-level", "warn"], log_path=self.path(f"{side}.log"))
            setattr(self, side, p)


ALL = {cls.name: cls for cls in (Direct, Ambit, Stunnel, Haproxy, Nginx)}
ORDER = ["direct", "ambit", "stunnel", "haproxy", "nginx"]
PEERS = ["stunnel", "haproxy", "nginx"]
