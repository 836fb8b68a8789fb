#!/usr/bin/env python3
"""gRPC peers for the waypoint e2e test and the demo, on Debian's python3-grpcio (no generated
code: methods are registered with raw-bytes handlers).

  grpc_peer.py serve --name v1 [--port 9090] [--fail-every N]
      shop.Cart/Echo (unary): answers "<name>|<deadline-seen>|<request>" (every Nth call
      UNAVAILABLE instead, with --fail-every);
      shop.Cart/Slow (unary): answers after 3 s unless the call is cancelled first;
      shop.Cart/Stats (unary): "calls=<n> cancelled=<n>" (Echo and Slow calls, Slow cancelled);
      shop.Cart/List (server streaming): three messages "<name>:<i>";
      shop.Cart/Chat (bidirectional): "<name>:<message>" for each message, as it arrives.
      Prints "listening" once bound.
  grpc_peer.py call TARGET [-n N] [--deadline S] [--metadata k=v ...] [--method Echo|List|...]
      N calls on one channel; prints JSON: {"codes": {"OK": n, ...}, "served": {"v1": n, ...},
      "deadline_seen": n, "messages": n}.
"""
import argparse
import collections
import json
import sys
import time
from concurrent import futures

import grpc


def serve(args):
    import threading
    counts = collections.Counter()
    lock = threading.Lock()

    def echo(request, context):
        with lock:
            counts["calls"] += 1
            n = counts["calls"]
        if args.fail_every and n % args.fail_every == 0:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{args.name} fails every {args.fail_every}")
        remaining = context.time_remaining()
        seen = remaining is not None and remaining < 3600
        return f"{args.name}|{int(seen)}|".encode() + request

    def slow(request, context):
        with lock:
            counts["calls"] += 1
        done = threading.Event()
        def cancelled():
            with lock:
                counts["cancelled"] += 1
            done.set()
        context.add_callback(cancelled)
        if done.wait(3.0) or not context.is_active():
            return b""
        return f"{args.name}|slow".encode()

    def stats(request, context):
        with lock:
            return f"calls={counts['calls']} cancelled={counts['cancelled']}".encode()

    def listing(request, context):
        for i in range(3):
            yield f"{args.name}:{i}".encode()

    def chat(requests, context):
        for m in requests:
            yield f"{args.name}:".encode() + m

    handler = grpc.method_handlers_generic_handler("shop.Cart", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Delete": grpc.unary_unary_rpc_method_handler(echo),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
        "Stats": grpc.unary_unary_rpc_method_handler(stats),
        "List": grpc.unary_stream_rpc_method_handler(listing),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"0.0.0.0:{args.port}")
    server.start()
    print("listening", flush=True)
    server.wait_for_termination()


def call(args):
    options = [("grpc.enable_http_proxy", 0)]
    codes = collections.Counter()
    served = collections.Counter()
    deadline_seen = 0
    messages = 0
    metadata = [tuple(m.split("=", 1)) for m in args.metadata]
    end = time.monotonic() + args.total
    with grpc.insecure_channel(args.target, options=options) as channel:
        path = f"/shop.Cart/{args.method}"
        for i in range(args.n):
            if time.monotonic() > end:
                codes["TEST_DEADLINE"] += 1
                break
            try:
                if args.method == "Chat":
                    stub = channel.stream_stream(path)
                    sent = (f"m{k}".encode() for k in range(5))
                    for m in stub(sent, timeout=args.deadline, metadata=metadata):
                        name, text = m.decode().split(":", 1)
                        served[name] += 1
                        messages += text.startswith("m")
                    codes["OK"] += 1
                elif args.method == "List":
                    stub = channel.unary_stream(path)
                    for m in stub(b"list", timeout=args.deadline, metadata=metadata):
                        messages += 1
                        served[m.decode().split(":")[0]] += 1
                    codes["OK"] += 1
                elif args.method in ("Slow", "Stats"):
                    reply = channel.unary_unary(path)(b"", timeout=args.deadline,
                                                      metadata=metadata)
                    codes["OK"] += 1
                    served[reply.decode()] += 1
                else:
                    stub = channel.unary_unary(path)
                    reply = stub(f"call-{i}".encode(), timeout=args.deadline, metadata=metadata)
                    name, seen, _ = reply.decode().split("|", 2)
                    served[name] += 1
                    deadline_seen += int(seen)
                    messages += 1
                    codes["OK"] += 1
            except grpc.RpcError as e:
                codes[e.code().name] += 1
    print(json.dumps({"codes": codes, "served": served, "deadline_seen": deadline_seen,
                      "messages": messages}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--port", type=int, default=9090)
    s.add_argument("--fail-every", type=int, default=0)
    c = sub.add_parser("call")
    c.add_argument("target")
    c.add_argument("-n", type=int, default=1)
    c.add_argument("--deadline", type=float, default=5.0, help="each call's gRPC deadline (s)")
    c.add_argument("--total", type=float, default=40.0, help="stop calling after this long (s)")
    c.add_argument("--metadata", action="append", default=[])
    c.add_argument("--method", default="Echo", help="Echo, Delete, Slow, Stats, List or Chat")
    args = ap.parse_args()
    return serve(args) if args.cmd == "serve" else call(args)


if __name__ == "__main__":
    sys.exit(main())
