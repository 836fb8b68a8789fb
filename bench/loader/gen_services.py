#!/usr/bin/env python3
"""Writes a multi-document YAML file of Kubernetes Services of about the size asked for.

    bench/loader/gen_services.py [--routes] MEGABYTES OUT.yaml

Each Service is ~140 bytes (50 MB is ~360,000 objects), spread over 100 namespaces, each with a
selector and one port: the input of the loader's memory and time figures in docs/controller.md.
--routes adds a VirtualService routing to each Service (the analyzer's host lookups).
"""
import sys

TEMPLATE = """apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: ns-{ns}
spec:
  selector:
    app: svc-{i}
  ports:
  - port: 80
---
"""

ROUTE = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc-{i}
  namespace: ns-{ns}
spec:
  hosts: [svc-{i}]
  http:
  - route:
    - destination: {{host: svc-{i}}}
---
"""


def main():
    args = sys.argv[1:]
    routes = "--routes" in args
    args = [a for a in args if a != "--routes"]
    if len(args) != 2:
        sys.exit(__doc__)
    target = int(float(args[0]) * 1_000_000)
    written = 0
    with open(args[1], "w") as out:
        i = 0
        while written < target:
            doc = TEMPLATE.format(i=i, ns=i % 100)
            if routes:
                doc += ROUTE.format(i=i, ns=i % 100)
            out.write(doc)
            written += len(doc)
            i += 1
    print(f"{args[1]}: {i} Services{' and VirtualServices' if routes else ''}, {written} bytes",
          file=sys.stderr)


if __name__ == "__main__":
    main()
