#!/bin/sh
# A throw-away PostgreSQL server for the tests and the benchmarks: Debian's postgresql (installed
# by ensure-system-packages.sh when missing), its cluster in a directory of your choosing, on the
# port you give, listening on 127.0.0.1 and on a socket in that directory only. Nothing touches
# the system's own cluster or its service.
#
# Usage:
#   scripts/postgres.sh start <dir> <port>   initialises <dir> if empty, starts, waits until ready
#   scripts/postgres.sh stop <dir> [mode]    stops it (mode: fast, the default, or immediate = crash)
#   scripts/postgres.sh url <dir> <port>     prints the URL to connect with
#
# The server runs as the "postgres" user when this runs as root (PostgreSQL refuses root); the
# database superuser is "juno" with trust authentication on loopback, for tests only.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
command="${1:-}"
dir="${2:-}"
if [ -z "$command" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop|url <dir> [port|mode]" >&2
  exit 2
fi

find_bin() {
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    if [ -x "$candidate/postgres" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$command" in
  url)
    port="${3:?port}"
    echo "postgres://juno@127.0.0.1:${port}/juno"
    ;;
  start)
    port="${3:?port}"
    if ! bin="$(find_bin)"; then
      sh "$here/ensure-system-packages.sh" postgresql
      bin="$(find_bin)"
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir" -U juno -A trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 || {
        cat "$dir.initdb.log" >&2
        exit 1
      }
      # fsync stays on: the tests prove durability against this server.
      cat >>"$dir/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 64MB
logging_collector = off
EOF
    else
      sed -i "s/^port = .*/port = $port/" "$dir/postgresql.conf"
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null || {
      cat "$dir/server.log" >&2
      exit 1
    }
    # The database the URL names.
    if ! as_owner "$bin/psql" -h "$dir" -p "$port" -U juno -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'juno'" | grep -q 1; then
      as_owner "$bin/createdb" -h "$dir" -p "$port" -U juno juno
    fi
    ;;
  stop)
    mode="${3:-fast}"
    bin="$(find_bin)"
    if [ -f "$dir/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop >/dev/null || true
    fi
    ;;
  *)
    echo "usage: $0 start|stop|url <dir> [port|mode]" >&2
    exit 2
    ;;
esac
