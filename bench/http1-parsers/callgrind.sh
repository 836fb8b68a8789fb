#!/bin/sh
# Instructions per request = (Ir(N=20000) - Ir(N=10000)) / 10000, cancels startup.
cd "$(dirname "$0")"
for w in get post; do for h in h_httpparser h_llhttp h_llhttp_strict h_beast; do
  a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null ./$h bench $w 10000 2>&1 | awk '/Collected/ {print $4}')
  b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null ./$h bench $w 20000 2>&1 | awk '/Collected/ {print $4}')
  echo "$h $w instr/req=$(( (b - a) / 10000 ))"
done; done
