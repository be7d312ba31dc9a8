#!/usr/bin/env bash
# A throw-away PostgreSQL server on 127.0.0.1 for the store's tests.
#   scripts/postgres.sh start DIR PORT   -> prints the SQLAlchemy URL
#   scripts/postgres.sh stop DIR
set -euo pipefail
cmd=$1; dir=$2; port=${3:-54329}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
run() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
case "$cmd" in
  start)
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    run "$bindir/initdb -D '$dir/data' -U windmaker --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    run "$bindir/pg_ctl -D '$dir/data' -l '$dir/log' -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off\" -w start" >/dev/null
    run "$bindir/createdb -h 127.0.0.1 -p $port -U windmaker windmaker_test"
    echo "postgresql+psycopg://windmaker@127.0.0.1:$port/windmaker_test"
    ;;
  stop)
    [ -d "$dir/data" ] && run "$bindir/pg_ctl -D '$dir/data' -m fast -w stop" >/dev/null || true
    ;;
  *) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
