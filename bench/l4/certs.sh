#!/usr/bin/env bash
# The benchmark PKI in DIR, made by the project's own scripts/gen-certs.sh:
#   root.pem/root.key        ECDSA P-256 root CA
#   client.pem/client.key    leaf, URI SAN spiffe://cluster.local/ns/bench/sa/client, CN=client
#   server.pem/server.key    leaf, URI SAN spiffe://cluster.local/ns/bench/sa/server, CN=server
#   client.combined.pem, server.combined.pem   cert followed by key (HAProxy's `crt` format)
# Both leaves carry serverAuth+clientAuth. The peers (stunnel/HAProxy/nginx) check the chain and the host
# name "server" (matched against the CN, as the leaves have no DNS SAN); ambit checks the SPIFFE URI SAN.
set -euo pipefail
dir=${1:?usage: certs.sh DIR}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TRUST_DOMAIN=cluster.local "$repo/scripts/gen-certs.sh" "$dir" client=bench/client server=bench/server
cd "$dir"
for who in client server; do
  openssl verify -CAfile root.pem -purpose sslclient "$who.pem" >/dev/null
  openssl verify -CAfile root.pem -purpose sslserver "$who.pem" >/dev/null
  cat "$who.pem" "$who.key" > "$who.combined.pem"
done
rm -f root.srl
chmod 600 ./*.key ./*.combined.pem
