#!/bin/sh
# Creates the cluster with a password for user postgres, then serves on 127.0.0.1:$PGPORT.
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
exec "$bin/postgres" -D "$data" -c listen_addresses=127.0.0.1 -c port="$PGPORT" \
  -c unix_socket_directories=/var/run/postgresql -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}" ${POSTGRES_ARGS:-}
