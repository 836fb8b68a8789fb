#!/usr/bin/env bash
# Generates the benchmark PKI with the openssl CLI into DIR:
#   root.pem/root.key        ECDSA P-256 root CA
#   client.pem/client.key    leaf, URI SAN spiffe://cluster.local/ns/bench/sa/client, CN=client
#   server.pem/server.key    leaf, URI SAN spiffe://cluster.local/ns/bench/sa/server, CN=server
#   client.combined.pem, server.combined.pem   cert followed by key (HAProxy's `crt` format)
# Both leaves carry serverAuth+clientAuth. The peers (stunnel/HAProxy/nginx) check the chain and the host
# name "server" (matched against the CN, as the leaves have no DNS SAN); ambit checks the SPIFFE URI SAN.
set -euo pipefail
dir=${1:?usage: certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
days=2
td=cluster.local

openssl ecparam -name prime256v1 -genkey -noout -out root.key 2>/dev/null
openssl req -x509 -new -key root.key -sha256 -days "$days" -subj "/O=ambit-bench/CN=ambit-bench-root" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" \
  -out root.pem

for who in client server; do
  openssl ecparam -name prime256v1 -genkey -noout -out "$who.key.sec1" 2>/dev/null
  # PKCS#8 keys: every consumer reads them.
  openssl pkcs8 -topk8 -nocrypt -in "$who.key.sec1" -out "$who.key"
  rm -f "$who.key.sec1"
  openssl req -new -key "$who.key" -subj "/O=ambit-bench/CN=$who" -out "$who.csr"
  cat > "$who.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=URI:spiffe://$td/ns/bench/sa/$who
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
  openssl x509 -req -in "$who.csr" -CA root.pem -CAkey root.key -CAcreateserial -sha256 -days "$days" \
    -extfile "$who.ext" -out "$who.pem" 2>/dev/null
  cat "$who.pem" "$who.key" > "$who.combined.pem"
  rm -f "$who.csr" "$who.ext"
  openssl verify -CAfile root.pem -purpose sslclient "$who.pem" >/dev/null
  openssl verify -CAfile root.pem -purpose sslserver "$who.pem" >/dev/null
done
rm -f root.srl
chmod 600 ./*.key ./*.combined.pem
