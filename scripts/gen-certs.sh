#!/usr/bin/env bash
# Makes a throwaway mesh PKI with the openssl CLI: an ECDSA P-256 root and one workload
# certificate per identity, each with its SPIFFE ID as URI SAN (like the CA will issue) and
# CN=<name> (for TLS peers that check a host name, as the benchmark's stunnel/HAProxy/nginx do).
# Keys are PKCS#8 PEM, mode 0600.
# usage: gen-certs.sh <dir> <name>=<namespace>/<service-account> ...   (trust domain cluster.local)
set -euo pipefail
dir=$1; shift
td=${TRUST_DOMAIN:-cluster.local}
mkdir -p "$dir"
umask 077
if [[ ! -f "$dir/root.pem" ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/O=ambit/CN=ambit root" -keyout "$dir/root.key" -out "$dir/root.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
fi
for spec in "$@"; do
  name=${spec%%=*}; id=${spec#*=}; ns=${id%%/*}; sa=${id#*/}
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ambit/CN=$name" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=critical,URI:spiffe://%s/ns/%s/sa/%s\n' \
    "$td" "$ns" "$sa" > "$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/root.pem" -CAkey "$dir/root.key" \
    -CAcreateserial -days 1 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
done
chmod 644 "$dir"/*.pem
