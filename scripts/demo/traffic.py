#!/usr/bin/env python3
"""Demo traffic: an echo server and the client side of the demo. Stdlib only, loopback only,
every loop bounded in count and time."""
import socket
import socketserver
import sys
import threading
import time


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(30)
        while True:
            data = self.request.recv(262144)
            if not data:
                return
            self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve(addr):
    host, port = addr.rsplit(":", 1)
    with Server((host, int(port)), Echo) as srv:
        print(f"echo server on {addr}", flush=True)
        srv.serve_forever()


def connect(addr, timeout=10, source=None):
    host, port = addr.rsplit(":", 1)
    # Bind the workload's own address, as a pod's socket would have it.
    s = socket.create_connection((host, int(port)), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    return s


def round_trip(addr, payload, source=None):
    """Send payload, half-close, read everything back. Returns (bytes, error string)."""
    try:
        s = connect(addr, source=source)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while len(got) < len(payload) + 1:
            chunk = s.recv(262144)
            if not chunk:
                break
            got += chunk
        s.close()
        return bytes(got), ""
    except OSError as e:
        return b"", e.strerror or str(e)


def bulk(addr, total, source=None):
    """Stream `total` bytes through an echo connection in both directions at once."""
    s = connect(addr, timeout=60, source=source)
    block = bytes(range(256)) * 1024  # 256 KiB
    def send():
        sent = 0
        while sent < total:
            s.sendall(block)
            sent += len(block)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    start = time.monotonic()
    t.start()
    received = 0
    ok = True
    while received < total:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        off = received % len(block)
        n = len(chunk)
        # cheap integrity check: compare against the repeating block
        ref = (block[off:] + block * (1 + n // len(block)))[:n]
        ok = ok and chunk == ref
        received += n
    t.join()
    s.close()
    return received, ok, time.monotonic() - start


SLEEP_IP = "127.0.0.11"
INTRUDER_IP = "127.0.0.12"


def client(mesh_addr, intruder_addr, plaintext_addr):
    results = {}
    ok = 0
    for i in range(50):
        msg = f"request {i} from default/sleep".encode()
        got, err = round_trip(mesh_addr, msg, SLEEP_IP)
        ok += got == msg
    results["requests"] = (ok, 50)
    print(f"  requests through the mesh (sleep -> echo.default VIP 10.96.0.10:80): {ok}/50 echoed")
    total = 256 << 20
    received, intact, secs = bulk(mesh_addr, total, SLEEP_IP)
    print(f"  bulk: {received >> 20} MiB echoed {'intact' if intact else 'CORRUPTED'} in {secs:.2f} s "
          f"({received * 8 / secs / 1e9:.2f} Gbit/s each way)")
    got, err = round_trip(intruder_addr, b"let me in", INTRUDER_IP)
    refused_policy = got == b""
    print(f"  default/intruder -> echo: {'refused by AuthorizationPolicy' if refused_policy else 'NOT refused'}"
          f" ({err or 'closed'})")
    got, err = round_trip(plaintext_addr, b"plaintext hello")
    refused_plain = got == b""
    print(f"  plaintext -> echo (STRICT): {'refused' if refused_plain else 'NOT refused'} ({err or 'closed'})")
    good = ok == 50 and received == total and intact and refused_policy and refused_plain
    return 0 if good else 1


def summarize_dump():
    """Prints the interesting part of an agent's /config_dump (JSON on stdin)."""
    import json
    d = json.load(sys.stdin)
    for w in d["workloads"]:
        print(f"  workload {w['uid']:18} {w['identity']:45} {','.join(w['addresses']):12} "
              f"{w['peerAuthentication']}")
    for s in d["services"]:
        print(f"  service  {s['uid']:18} {','.join(s['addresses'])} -> {','.join(s['endpoints'])}")
    for p in d["authorizationPolicies"]:
        print(f"  policy   {p['uid']:18} {p['action']}")


if __name__ == "__main__":
    if sys.argv[1] == "summarize-dump":
        summarize_dump()
    elif sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(client(sys.argv[2], sys.argv[3], sys.argv[4]))
