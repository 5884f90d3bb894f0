#!/usr/bin/env bash
# A PgBouncer in transaction pooling mode in front of a test PostgreSQL, bound to 127.0.0.1 on a
# free port, its files in DIR (which must exist). It refuses to run as root: it runs as `postgres`.
#
#   pgbouncer.sh start DIR PG_PORT   prints the port (also in DIR/pgbouncer.port)
#   pgbouncer.sh stop DIR            stops it by its own PID
set -euo pipefail

cmd=${1:?usage: pgbouncer.sh start DIR PG_PORT | stop DIR}
dir=${2:?usage: pgbouncer.sh start DIR PG_PORT | stop DIR}
dir=$(cd "$dir" && pwd)

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case $cmd in
start)
  pg_port=${3:?usage: pgbouncer.sh start DIR PG_PORT}
  [ "$(id -u)" -ne 0 ] || chown postgres "$dir"
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      continue
    fi
    echo '"postgres" ""' >"$dir/users.txt"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
unix_socket_dir = $dir
pidfile = $dir/pgbouncer.pid
logfile = $dir/pgbouncer.log
INI
    [ "$(id -u)" -ne 0 ] || chown postgres "$dir/pgbouncer.ini" "$dir/users.txt"
    if as_postgres pgbouncer -d "$dir/pgbouncer.ini"; then
      for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
          echo "$port" >"$dir/pgbouncer.port"
          echo "$port"
          exit 0
        fi
        sleep 0.05
      done
    fi
  done
  echo "pgbouncer.sh: cannot start PgBouncer; see $dir/pgbouncer.log" >&2
  exit 1
  ;;
stop)
  if [ -f "$dir/pgbouncer.pid" ]; then
    pid=$(cat "$dir/pgbouncer.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  ;;
*)
  echo "usage: pgbouncer.sh start DIR PG_PORT | stop DIR" >&2
  exit 2
  ;;
esac
