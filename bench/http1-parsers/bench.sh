#!/bin/sh
# 3 timing runs per parser/workload (N=1e6), then callgrind instruction counts.
cd "$(dirname "$0")"
for w in get post; do for h in h_httpparser h_llhttp h_beast; do for i in 1 2 3; do ./$h bench $w 1000000; done; done; done
