#!/usr/bin/env bash
# Certificates for a test dockerd reached over tcp:// with --tlsverify, all made in DIR (made by
# the caller, removed with it): a CA, a server certificate for 127.0.0.1/localhost signed by it,
# a client certificate signed by it, and a second CA that signed nothing (a context that trusts
# it must fail). Start the daemon with DOCKER_LEAK_TEST_TLS=DIR scripts/test-daemon.sh start: it
# listens on 127.0.0.1 on a free port (written to DIR/port) beside its unix socket.
#
#   scripts/test-tls.sh certs DIR   # DIR/{ca,cert,key}.pem (client, as docker names them),
#                                   # DIR/server-{cert,key}.pem, DIR/wrong-ca.pem
set -euo pipefail

say() { printf 'test-tls: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

certs() {
  local dir=$1
  [ -d "$dir" ] || die "no such directory: $dir"
  command -v openssl >/dev/null || die "openssl missing: apt-get install -y openssl"
  cd "$dir"
  local days=2
  ssl() { openssl "$@" 2>/dev/null; }
  ssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days "$days" -subj "/CN=docker-leak test CA"
  ssl req -x509 -newkey rsa:2048 -nodes -keyout wrong-ca-key.pem -out wrong-ca.pem -days "$days" \
    -subj "/CN=docker-leak wrong CA"
  ssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj "/CN=localhost"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
  ssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem \
    -days "$days" -extfile server.ext
  ssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj "/CN=docker-leak test client"
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  ssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem \
    -days "$days" -extfile client.ext
  rm -f ./*.csr ./*.ext ./*.srl ca-key.pem wrong-ca-key.pem
  chmod 600 key.pem server-key.pem
  for f in ca.pem cert.pem key.pem server-cert.pem server-key.pem wrong-ca.pem; do
    [ -s "$f" ] || die "openssl did not make $dir/$f"
  done
}

case ${1:-} in
certs) certs "$2" ;;
*) die "usage: $0 certs DIR" ;;
esac
