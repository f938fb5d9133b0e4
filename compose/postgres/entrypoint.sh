#!/bin/sh
# Creates the cluster with a password for user postgres, then serves on 127.0.0.1:$PGPORT.
# With POSTGRES_TLS_DIR (a folder with ca.crt, tls.crt, tls.key), TLS only: every connection over TCP must use
# TLS and show a client certificate signed by that CA, besides the password.
set -eu
: "${PGPORT:=5432}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
data=/var/lib/kgb-postgres/data
bin=/usr/lib/postgresql/15/bin
if [ ! -s "$data/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 --encoding=UTF8 >/dev/null
  rm -f "$pwfile"
fi
tls_args=""
if [ -n "${POSTGRES_TLS_DIR:-}" ]; then
  # PostgreSQL refuses a key that others may read, and the mounted folder is not ours: use private copies.
  tls=/var/lib/kgb-postgres/tls
  mkdir -p "$tls"
  cp "$POSTGRES_TLS_DIR/ca.crt" "$POSTGRES_TLS_DIR/tls.crt" "$POSTGRES_TLS_DIR/tls.key" "$tls/"
  chmod 0600 "$tls/tls.key"
  # No `host` line: a plaintext connection matches nothing and is refused.
  printf '%s\n' 'local all all scram-sha-256' \
    'hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca' \
    'hostssl all all ::1/128 scram-sha-256 clientcert=verify-ca' > "$tls/pg_hba.conf"
  tls_args="-c ssl=on -c ssl_ca_file=$tls/ca.crt -c ssl_cert_file=$tls/tls.crt -c ssl_key_file=$tls/tls.key -c hba_file=$tls/pg_hba.conf"
fi
# shellcheck disable=SC2086 # the arguments are words on purpose
# POSTGRES_LISTEN: on a pod network (`[kubernetes] network = "pod"`) other pods connect, with the password.
listen=${POSTGRES_LISTEN:-127.0.0.1}
if [ "$listen" != 127.0.0.1 ] && [ -z "${POSTGRES_TLS_DIR:-}" ] && ! grep -q '^host all all 0.0.0.0/0' "$data/pg_hba.conf"; then
  printf '%s\n' 'host all all 0.0.0.0/0 scram-sha-256' >> "$data/pg_hba.conf"
fi
exec "$bin/postgres" -D "$data" -c listen_addresses="$listen" -c port="$PGPORT" \
  -c unix_socket_directories=/var/run/postgresql -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}" $tls_args ${POSTGRES_ARGS:-}
