#!/usr/bin/env bash
# A throwaway Consul agent for tests and benchmarks. Source this file, then:
#
#   consul_fetch                 # puts consul 1.8.7 (Debian bullseye) in .cache/consul/; exit 77 if it cannot
#   consul_start NAME [acl]      # starts `consul agent -dev` on free loopback ports (acl: ACLs on,
#                                #   default deny, $CONSUL_MASTER_TOKEN as the management token); sets
#                                #   CONSUL_<NAME>_PORT, CONSUL_<NAME>_PID, CONSUL_<NAME>_DIR
#   consul_stop NAME             # stops it by its PID and removes its folder
#
# Debian 12 has no consul package; bullseye's is a static binary with every API bsup uses. It is
# fetched from the archive the machine already uses (apt's own sources), without installing it
# system-wide, and cached in the git-ignored .cache/ of the source tree.

consul_source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONSUL_CACHE=${CONSUL_CACHE:-$consul_source_dir/.cache/consul}
CONSUL_BIN=${CONSUL_BIN:-$CONSUL_CACHE/consul}
CONSUL_MASTER_TOKEN=${CONSUL_MASTER_TOKEN:-root}

# Downloads the consul binary once. Returns 77 (with a message on stderr) when it cannot.
consul_fetch() {
  if [[ -x $CONSUL_BIN ]]; then
    return 0
  fi
  local w sources o
  w=$(mktemp -d)
  mkdir -p "$w/parts" "$w/lists/partial"
  sources=/etc/apt/sources.list.d/debian.sources
  if [[ ! -r $sources ]]; then
    echo "consul: cannot read $sources to find Debian's archive" >&2
    rm -rf "$w"
    return 77
  fi
  # The first stanza (the main archive) with its suite switched to bullseye.
  sed -n '/^Types/,/^$/p' "$sources" | awk 'NR==1,/^$/' |
    sed -e 's/^Suites:.*/Suites: bullseye/' -e '/^#/d' >"$w/parts/bullseye.sources"
  o=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$w/parts"
    -o "Dir::State::Lists=$w/lists")
  if ! apt-get "${o[@]}" update >"$w/apt.log" 2>&1 ||
    ! (cd "$w" && apt-get "${o[@]}" download consul >>"$w/apt.log" 2>&1) ||
    ! dpkg-deb -x "$w"/consul_*.deb "$w/x"; then
    echo "consul: cannot fetch the consul package from Debian bullseye:" >&2
    tail -n 5 "$w/apt.log" >&2 || true
    rm -rf "$w"
    return 77
  fi
  mkdir -p "$CONSUL_CACHE"
  install -m 0755 "$w/x/usr/bin/consul" "$CONSUL_BIN.tmp.$$"
  mv -f "$CONSUL_BIN.tmp.$$" "$CONSUL_BIN"
  rm -rf "$w"
}

# A TCP port on 127.0.0.1 that nothing listens on now.
consul_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null && return
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# consul_start NAME [acl]: an agent in dev mode (in memory, its own server and leader).
consul_start() {
  local name=$1 mode=${2:-} dir port p2 p3 p4 pid i args
  dir=$(mktemp -d)
  port=$(consul_free_port)
  p2=$(consul_free_port)
  p3=$(consul_free_port)
  p4=$(consul_free_port)
  args=(agent -dev -bind 127.0.0.1 -client 127.0.0.1 -http-port "$port" -dns-port -1
    -serf-lan-port "$p2" -serf-wan-port "$p3" -server-port "$p4" -grpc-port -1
    -data-dir "$dir/data" -node "bsup-test-$name")
  if [[ $mode == acl ]]; then
    args+=(-hcl "acl { enabled = true default_policy = \"deny\" tokens { master = \"$CONSUL_MASTER_TOKEN\" } }")
  fi
  "$CONSUL_BIN" "${args[@]}" >"$dir/log" 2>&1 &
  pid=$!
  printf -v "CONSUL_${name}_PORT" '%s' "$port"
  printf -v "CONSUL_${name}_PID" '%s' "$pid"
  printf -v "CONSUL_${name}_DIR" '%s' "$dir"
  export "CONSUL_${name}_PORT" "CONSUL_${name}_PID" "CONSUL_${name}_DIR"
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "consul $name exited at start:" >&2
      tail -n 20 "$dir/log" >&2
      return 1
    fi
    local leader
    leader=$(curl -fsS -m 1 ${mode:+-H "X-Consul-Token: $CONSUL_MASTER_TOKEN"} \
      "http://127.0.0.1:$port/v1/status/leader" 2>/dev/null || true)
    if [[ -n $leader && $leader != '""' ]]; then
      return 0
    fi
    sleep 0.1
  done
  echo "consul $name has no leader after 30s:" >&2
  tail -n 20 "$dir/log" >&2
  return 1
}

consul_stop() {
  local name=$1 pid_var dir_var
  pid_var="CONSUL_${name}_PID"
  dir_var="CONSUL_${name}_DIR"
  local pid=${!pid_var:-} dir=${!dir_var:-}
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in {1..100}; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ -n $dir && -d $dir ]]; then
    rm -rf "$dir"
  fi
}
