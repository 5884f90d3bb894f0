#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and benchmarks, bound to 127.0.0.1 on a free port,
# its data in DIR (which must exist). The server refuses to run as root: it runs as `postgres`.
#
#   postgres.sh start DIR     initdb (first time) and start; prints the port (also in DIR/port;
#                             a later start uses that port again)
#   postgres.sh stop DIR      stop (fast), by the cluster's own postmaster PID
#   postgres.sh restart DIR   stop, then start again on the same port
#
# Authentication: the role postgres is trusted on loopback; every other role needs its password
# (scram-sha-256), so that tests can check that a password never shows.
#
# Durability: fsync is off (the suites' data is thrown away), unless BSUP_PG_FSYNC=on, which the
# benchmarks set so that every commit is flushed as on a production server (and as etcd does).
set -euo pipefail

bin=${BSUP_PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: postgres.sh start|stop|restart DIR}
dir=${2:?usage: postgres.sh start|stop|restart DIR}
dir=$(cd "$dir" && pwd)

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "postgres.sh: no free port found" >&2
  return 1
}

init() {
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    chmod 0755 "$dir"
  fi
  as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log"
  {
    echo "local all all trust"
    echo "host all postgres 127.0.0.1/32 trust"
    echo "host all all 127.0.0.1/32 scram-sha-256"
  } >"$dir/data/pg_hba.conf"
}

start_on() {
  # The server must not keep any descriptor of its caller beyond stdio (bats waits for its output
  # pipes to close, and would hang on a server started from a test): close them all.
  local fd
  for fd in "/proc/$$/fd/"*; do
    fd=${fd##*/}
    [ "$fd" -le 2 ] || [ "$fd" -eq 255 ] || eval "exec $fd>&-" 2>/dev/null || true
  done
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=${BSUP_PG_FSYNC:-off} -c max_connections=200" \
    start >/dev/null
}

case $cmd in
start)
  [ -d "$dir/data" ] || init
  if [ -f "$dir/port" ]; then
    # Started before: the same port again, so that connection strings stay valid.
    start_on "$(cat "$dir/port")"
    cat "$dir/port"
    exit 0
  fi
  for _ in 1 2 3; do
    port=$(free_port)
    if start_on "$port"; then
      echo "$port" >"$dir/port"
      echo "$port"
      exit 0
    fi
  done
  echo "postgres.sh: cannot start PostgreSQL; see $dir/log" >&2
  exit 1
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
  ;;
restart)
  as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  start_on "$(cat "$dir/port")"
  ;;
*)
  echo "usage: postgres.sh start|stop|restart DIR" >&2
  exit 2
  ;;
esac
