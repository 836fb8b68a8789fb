#!/usr/bin/env python3
"""Sends N HTTP/1.1 requests over C keep-alive connections at once (one by default; each
reconnects if the server closes it) and prints one JSON line: how many answers each backend gave (x-served-by), by status, and
the first body. Bounded in count and in time (--deadline seconds); --stop-file ends it early
once that file exists (a test's "enough")."""
import os
import argparse
import http.client
import json
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("-n", type=int, default=1)
    ap.add_argument("--method", default="GET")
    ap.add_argument("--path", default="/")
    ap.add_argument("-H", action="append", default=[], help="Name: value")
    ap.add_argument("--deadline", type=float, default=30)
    ap.add_argument("-c", type=int, default=1, help="connections, each sending n/c requests")
    ap.add_argument("--stop-file", help="stop sending once this file exists")
    args = ap.parse_args()
    results = [None] * args.c
    def worker(i):
        results[i] = run(args, args.n // args.c)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = {"served": {}, "statuses": {}, "errors": 0, "first": None}
    for r in results:
        for key in ("served", "statuses"):
            for k, v in r[key].items():
                out[key][k] = out[key].get(k, 0) + v
        out["errors"] += r["errors"]
        out["first"] = out["first"] or r["first"]
    print(json.dumps(out))


def run(args, n):
    headers = dict(h.split(": ", 1) for h in args.H)
    served, statuses, first = {}, {}, None
    errors = 0
    end = time.monotonic() + args.deadline
    conn = None
    for _ in range(n):
        if time.monotonic() > end or (args.stop_file and os.path.exists(args.stop_file)):
            break
        try:
            if conn is None:
                conn = http.client.HTTPConnection(args.host, args.port, timeout=5)
            conn.request(args.method, args.path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
            who = resp.getheader("x-served-by") or "-"
            served[who] = served.get(who, 0) + 1
            if first is None:
                first = body.decode(errors="replace")
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:  # noqa: BLE001 - counted, the test judges
            errors += 1
            first = first or f"error: {e}"
            if conn is not None:
                conn.close()
            conn = None
    return {"served": served, "statuses": statuses, "errors": errors, "first": first}


if __name__ == "__main__":
    sys.exit(main())
