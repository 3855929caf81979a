#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server on 127.0.0.1:$PGPORT (trust auth), installing it with apt-get when missing.
# Usage: .ci/pg-server.sh start|stop <data-dir> <port>
set -euo pipefail
cmd=$1 dir=$2 port=$3
bin=/usr/lib/postgresql/15/bin
if [ "$cmd" = start ]; then
  if [ ! -x "$bin/pg_ctl" ]; then
    echo "[ci] installing postgresql-15"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    apt-get install -y -qq postgresql-15 </dev/null >/dev/null
  fi
  rm -rf "$dir"; mkdir -p "$dir"; chown postgres:postgres "$dir"
  runuser -u postgres -- "$bin/initdb" -D "$dir" --auth=trust -U postgres >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  echo "[ci] PostgreSQL 15 on 127.0.0.1:$port"
else
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
fi
