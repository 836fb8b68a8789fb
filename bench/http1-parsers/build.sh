#!/bin/sh
# Rebuild all harnesses. Needs: apt-get install -y libhttp-parser-dev libboost-dev
# and llhttp C sources: apt-get download node-llhttp && dpkg -x node-llhttp_*.deb llhttp-deb
set -e
cd "$(dirname "$0")"
L=llhttp-deb/usr/share
g++ -O2 -std=c++20 -Wall -o h_httpparser h_httpparser.cpp -lhttp_parser
for f in llhttp api http; do gcc -O2 -c -I$L/include/llhttp -o llhttp_$f.o $L/llhttp/$f.c; done
g++ -O2 -std=c++20 -Wall -I$L/include/llhttp -o h_llhttp h_llhttp.cpp llhttp_llhttp.o llhttp_api.o llhttp_http.o
g++ -O2 -std=c++20 -Wall -o h_beast h_beast.cpp -lpthread
# llhttp built with its compile-time strict mode (LLHTTP_STRICT_MODE=1)
for f in llhttp api http; do gcc -O2 -DLLHTTP_STRICT_MODE=1 -c -I$L/include/llhttp -o llhttps_$f.o $L/llhttp/$f.c; done
g++ -O2 -std=c++20 -Wall -DLLHTTP_STRICT_MODE=1 -DHARNESS_NAME='"llhttp-strict"' -I$L/include/llhttp -o h_llhttp_strict h_llhttp.cpp llhttps_llhttp.o llhttps_api.o llhttps_http.o
g++ -O2 -std=c++20 -o split_beast split_beast.cpp -lpthread
g++ -O2 -std=c++20 -o beast_extra beast_extra.cpp -lpthread
g++ -O2 -DNDEBUG -std=c++20 -Wall -o h_beast_ndebug h_beast.cpp -lpthread   # Beast 1.74 asserts falsely on 1-byte feeding (fixed upstream in boostorg/beast PR #2861)
