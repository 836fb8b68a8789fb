#!/usr/bin/env python3
"""A test backend for the waypoint e2e tests and the demo: answers every request with JSON
naming itself (--name, e.g. "v1"), the method, path, Host and request headers it got, so a test
can tell which version served a request and what the waypoint changed on the way. Serves until
killed; prints "listening" once bound."""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--name", required=True)
    ap.add_argument("--delay-ms", type=float, default=0, help="wait this long before answering")
    ap.add_argument("--slow-prefix", default="/",
                    help="only paths starting with this wait --delay-ms")
    ap.add_argument("--fail-every", type=int, default=0,
                    help="answer every Nth request with 503 (a flaky backend)")
    args = ap.parse_args()
    seen = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One write per response (flushed after each request) and no Nagle: a head and a body
        # in two small writes would wait out the peer's delayed ACK (40 ms) on every request.
        wbufsize = -1
        disable_nagle_algorithm = True

        def answer(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if args.delay_ms and self.path.startswith(args.slow_prefix):
                time.sleep(args.delay_ms / 1000)
            with lock:
                seen[0] += 1
                failing = args.fail_every > 0 and seen[0] % args.fail_every == 0
            out = json.dumps({
                "name": args.name,
                "method": self.command,
                "path": self.path,
                "host": self.headers.get("host"),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_bytes": len(body),
            }).encode()
            self.send_response(503 if failing else 200)
            self.send_header("content-type", "application/json")
            self.send_header("x-served-by", args.name)
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = answer

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("0.0.0.0", args.port), Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
