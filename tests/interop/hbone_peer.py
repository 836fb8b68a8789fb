#!/usr/bin/python3
"""A foreign HBONE peer, written with python3-h2 (not with ambit's code), shaped like Istio's
ztunnel on the wire: TLS 1.3 with ALPN h2 and a SPIFFE client certificate, then HTTP/2 CONNECT
streams carrying `Forwarded: for="ip:port"`, `baggage` and `traceparent`.

  hbone_peer.py client --connect IP:PORT --authority IP:PORT --ca F --cert F --key F
      Runs the checks below against an HBONE server (ambit's inbound) and exits 0 when all hold.
  hbone_peer.py server --listen IP --ca F --cert F --key F
      Serves HBONE like a ztunnel inbound: prints `listening PORT`, answers one CONNECT with 200
      and echoes its bytes, then prints the request headers as one JSON line and exits.

Every wait is bounded (socket timeouts); a failed check prints why and exits 1.
"""

import argparse
import json
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

TIMEOUT_S = 10


def fail(why):
    print("FAIL: " + why, flush=True)
    sys.exit(1)


def tls_context(server, args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.ca)
    ctx.check_hostname = False  # SPIFFE identities are URI SANs, not host names
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
    return ctx


class Peer:
    """One HTTP/2 connection over TLS, pumped by hand."""

    def __init__(self, sock, client, max_frame_size=None):
        self.sock = sock
        self.largest_data_frame = 0
        # h2 4.1 insists on :scheme and :path in every request, but a plain CONNECT has
        # neither (RFC 9113 section 8.5): header validation is off, on both sides.
        config = h2.config.H2Configuration(client_side=client, header_encoding="utf-8",
                                           validate_outbound_headers=False,
                                           validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if max_frame_size:
            self.conn.update_settings({h2.settings.SettingCodes.MAX_FRAME_SIZE: max_frame_size})
        self.flush()
        self.events = []

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def read_events(self):
        data = self.sock.recv(65536)
        if not data:
            fail("peer closed the connection")
        events = self.conn.receive_data(data)
        for e in events:
            if isinstance(e, h2.events.DataReceived):
                self.largest_data_frame = max(self.largest_data_frame, len(e.data))
                # Give the window back as soon as the bytes are ours.
                self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        self.flush()
        return events

    def wait(self, predicate, what):
        for _ in range(100000):
            for e in self.events:
                if predicate(e):
                    self.events.remove(e)
                    return e
            self.events.extend(self.read_events())
        fail("gave up waiting for " + what)

    def send_all(self, stream_id, payload, end):
        """Sends payload within the peer's flow-control windows, reading while blocked."""
        view = memoryview(payload)
        while view:
            window = min(self.conn.local_flow_control_window(stream_id),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                self.events.extend(self.read_events())
                continue
            chunk = view[:window]
            self.conn.send_data(stream_id, chunk.tobytes())
            self.flush()
            view = view[len(chunk):]
        if end:
            self.conn.end_stream(stream_id)
            self.flush()

    def receive_stream(self, stream_id, want):
        """Data of stream_id until END_STREAM or a reset; returns (bytes, ended, reset_code)."""
        got = bytearray()
        for _ in range(100000):
            for e in list(self.events):
                if getattr(e, "stream_id", None) != stream_id:
                    continue
                self.events.remove(e)
                if isinstance(e, h2.events.DataReceived):
                    got += e.data
                elif isinstance(e, h2.events.StreamEnded):
                    return bytes(got), True, None
                elif isinstance(e, h2.events.StreamReset):
                    return bytes(got), False, e.error_code
            if want is not None and len(got) >= want:
                return bytes(got), False, None
            self.events.extend(self.read_events())
        fail("stream %d never ended" % stream_id)


def status_of(event):
    return int(dict(event.headers)[":status"])


def connect_headers(authority, source):
    return [
        (":method", "CONNECT"),
        (":authority", authority),
        ("forwarded", 'for="%s"' % source),
        ("baggage", "k8s.namespace.name=default,k8s.deployment.name=sleep,service.name=sleep,"
                    "service.version=v1"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ]


def run_client(args):
    raw = socket.create_connection(tuple_of(args.connect), timeout=TIMEOUT_S)
    sock = tls_context(False, args).wrap_socket(raw)
    if sock.selected_alpn_protocol() != "h2":
        fail("ALPN h2 not negotiated: %r" % sock.selected_alpn_protocol())
    if sock.version() != "TLSv1.3":
        fail("not TLS 1.3: " + sock.version())
    peer = Peer(sock, client=True)
    source = "%s:%d" % sock.getsockname()[:2]
    checks = []

    # 1. A tunnel: 5 MiB each way, past the 4 MiB stream window, byte-identical; half-close.
    sid = peer.conn.get_next_available_stream_id()
    peer.conn.send_headers(sid, connect_headers(args.authority, source))
    peer.flush()
    resp = peer.wait(lambda e: isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid,
                     "the CONNECT response")
    if status_of(resp) != 200:
        fail("CONNECT answered %d, not 200" % status_of(resp))
    payload = bytes((i * 7 + 3) % 251 for i in range(5 * 1024 * 1024))
    # Send and read in turns so that neither side's window stalls the other.
    echoed = bytearray()
    for off in range(0, len(payload), 256 * 1024):
        peer.send_all(sid, payload[off:off + 256 * 1024], end=False)
        part, ended, reset = peer.receive_stream(sid, len(payload[:off + 256 * 1024]) - len(echoed))
        echoed += part
        if ended or reset is not None:
            fail("tunnel ended early (reset %r) after %d bytes" % (reset, len(echoed)))
    peer.conn.end_stream(sid)
    peer.flush()
    rest, ended, reset = peer.receive_stream(sid, None)
    echoed += rest
    if bytes(echoed) != payload:
        fail("echo differs: %d bytes back of %d" % (len(echoed), len(payload)))
    if not ended:
        fail("the half-close did not come back as END_STREAM (reset %r)" % reset)
    checks.append("5 MiB tunnelled both ways, half-close propagated")

    # 2. Requests ztunnel refuses, answered as ztunnel answers them.
    def status_for(headers, what):
        s = peer.conn.get_next_available_stream_id()
        peer.conn.send_headers(s, headers, end_stream=True)
        peer.flush()
        r = peer.wait(lambda e: isinstance(e, h2.events.ResponseReceived) and e.stream_id == s,
                      what)
        return status_of(r)

    got = status_for([(":method", "GET"), (":scheme", "https"), (":path", "/"),
                      (":authority", args.authority)], "the answer to a GET")
    if got != 400:
        fail("GET answered %d, ztunnel answers 400" % got)
    checks.append("GET -> 400")
    host, _, port = args.authority.rpartition(":")
    got = status_for(connect_headers("192.0.2.1:" + port, source), "the answer to a stranger")
    if got != 400:
        fail("CONNECT to an address that is no local workload answered %d, not 400" % got)
    checks.append("CONNECT to a non-local address -> 400")

    # 3. PING is answered.
    peer.conn.ping(b"ambitpng")
    peer.flush()
    peer.wait(lambda e: isinstance(e, h2.events.PingAckReceived), "the PING ack")
    checks.append("PING acked")
    print(json.dumps({"ok": True, "checks": checks}), flush=True)
    peer.conn.close_connection()
    peer.flush()
    sock.close()


def run_server(args):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((args.listen, 0))
    listener.listen(4)
    listener.settimeout(TIMEOUT_S)
    print("listening %d" % listener.getsockname()[1], flush=True)
    raw, _ = listener.accept()
    raw.settimeout(TIMEOUT_S)
    sock = tls_context(True, args).wrap_socket(raw, server_side=True)
    if sock.selected_alpn_protocol() != "h2":
        fail("client did not offer ALPN h2")
    peer_cert = sock.getpeercert()
    sans = [v for k, v in peer_cert.get("subjectAltName", ()) if k == "URI"]
    peer = Peer(sock, client=False, max_frame_size=args.max_frame_size)
    req = peer.wait(lambda e: isinstance(e, h2.events.RequestReceived), "a CONNECT")
    headers = dict(req.headers)
    sid = req.stream_id
    if headers.get(":method") != "CONNECT":
        fail("expected CONNECT, got %r" % headers.get(":method"))
    peer.conn.send_headers(sid, [(":status", "200")])
    peer.flush()
    # Echo until the client half-closes, then half-close too.
    while True:
        data, ended, reset = peer.receive_stream(sid, 1)
        if data:
            peer.send_all(sid, data, end=False)
        if ended:
            peer.conn.end_stream(sid)
            peer.flush()
            break
        if reset is not None:
            fail("stream reset by the client: %r" % reset)
    headers["client_spiffe"] = sans
    headers["largest_data_frame"] = peer.largest_data_frame
    print(json.dumps(headers), flush=True)
    # Let the client see the END_STREAM before the connection goes; it keeps the pooled
    # connection open, so this waits only a little.
    sock.settimeout(0.3)
    try:
        for _ in range(50):
            peer.events.extend(peer.read_events())
    except (SystemExit, OSError, ssl.SSLError, socket.timeout):
        pass


def tuple_of(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["client", "server"])
    p.add_argument("--connect")
    p.add_argument("--authority")
    p.add_argument("--listen")
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--max-frame-size", type=int, help="server: SETTINGS_MAX_FRAME_SIZE to advertise")
    args = p.parse_args()
    if args.mode == "client":
        run_client(args)
    else:
        run_server(args)


if __name__ == "__main__":
    main()
