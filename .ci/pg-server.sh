#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server on 127.0.0.1:$PGPORT (trust auth), installing it with apt-get when missing,
# or a streaming standby of one (the read replica of DATABASE_REPLICA_URLS' tests).
# Usage: .ci/pg-server.sh start|stop <data-dir> <port>
#        .ci/pg-server.sh standby <data-dir> <port> <primary-port>   pg_basebackup -R of the primary on loopback, started
#        .ci/pg-server.sh restart <data-dir> <port>                  starts a stopped server or standby again, as it was
# The primary's initdb defaults already allow it: wal_level=replica, max_wal_senders=10 and pg_hba.conf's
# "host replication all 127.0.0.1/32 trust".
set -euo pipefail
cmd=$1 dir=$2 port=$3
bin=/usr/lib/postgresql/15/bin
# Every server's settings live in its postgresql.auto.conf, so a restart needs no options.
settings() {
  cat >>"$dir/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
}
start_server() {
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w start >/dev/null
}
case "$cmd" in
  start)
    if [ ! -x "$bin/pg_ctl" ]; then
      echo "[ci] installing postgresql-15"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq </dev/null
      apt-get install -y -qq postgresql-15 </dev/null >/dev/null
    fi
    rm -rf "$dir"; mkdir -p "$dir"; chown postgres:postgres "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir" --auth=trust -U postgres >/dev/null
    settings
    start_server
    echo "[ci] PostgreSQL 15 on 127.0.0.1:$port"
    ;;
  standby)
    primary_port=$4
    rm -rf "$dir"; mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
    # -R writes standby.signal and primary_conninfo; the copied postgresql.auto.conf gets this server's own settings.
    runuser -u postgres -- "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir" -R -X stream -c fast >/dev/null 2> >(grep -v "skipping special file" >&2)
    rm -f "$dir/server.log"
    settings
    start_server
    echo "[ci] PostgreSQL 15 standby of 127.0.0.1:$primary_port on 127.0.0.1:$port"
    ;;
  restart)
    start_server
    ;;
  *)
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    ;;
esac
