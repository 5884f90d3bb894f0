#!/usr/bin/env bash
# The chaos suite of issue 7 (ctests chaos_sqlite, chaos_postgres, chaos_consul):
#
#   chaos.sh sqlite|postgres|consul
#
# 1. Kills: SIGKILLs bsup at random moments of register, lock, renew, unlock and deregister
#    (hundreds of times; the delay is random in microseconds over the command's measured duration).
#    After each kill the state file is valid JSON naming a session, or absent; `bsup renew` gives
#    exit 4 only when it is absent; the same command, run again, works or gives its documented
#    exit. Then, past the TTL, a fresh session must acquire every key the kills touched.
# 2. Faults: contenders lock and unlock one key in a loop while the backend is restarted and
#    stopped (postgres: pg_ctl -m immediate; consul: kill -9 of the agent; sqlite: another process
#    holding an exclusive transaction). Every answer is 0, 1 or 3, and no two contenders ever
#    believe they hold the key at once (from their `lock --json` and `unlock --json` answers, with
#    microsecond timestamps); lock indexes grow with every grant.
# 3. A full disk (a small tmpfs, as root): a command that must write the state file exits 4 and
#    the old state file is byte-identical.
#
# Servers come from tests/servers/ (postgres), or are started here (consul, as a persistent
# single-node server, since a -dev agent forgets its sessions when restarted), bound to 127.0.0.1,
# data in a temporary folder, stopped by PID on exit. Exit 77 (skipped) when a server is missing or,
# outside CI, when not root for the full-disk part; with CI=true never skipped. The figures are
# printed at the end. CHAOS_ROUNDS, CHAOS_FAULTS and CHAOS_SEED override the defaults.
set -euo pipefail
export LC_ALL=C

driver=${1:?usage: chaos.sh sqlite|postgres|consul}
: "${BSUP:?set BSUP to the bsup binary under test}"
here=$(cd "$(dirname "$0")" && pwd)
source_dir=${BSUP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
export BSUP_SOURCE_DIR=$source_dir
started_at=$SECONDS

seed=${CHAOS_SEED:-$$}
RANDOM=$seed

say() { printf 'chaos %s: %s\n' "$driver" "$*"; }

# Exit 77, or 1 under CI (which never skips).
skip() {
  if [[ ${CI:-} == true ]]; then
    say "$* (CI=true: failing instead of skipping)" >&2
    exit 1
  fi
  say "$*: skipping" >&2
  exit 77
}

failures=0
problem() {
  failures=$((failures + 1))
  say "FAIL: $*" >&2
}

case $driver in
sqlite)
  rounds=${CHAOS_ROUNDS:-500}
  faults=${CHAOS_FAULTS:-8}
  ttl_s=2
  ;;
postgres)
  [[ -x ${BSUP_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb ]] ||
    skip "PostgreSQL 15 is not installed (apt-get install postgresql-15)"
  rounds=${CHAOS_ROUNDS:-400}
  faults=${CHAOS_FAULTS:-8}
  ttl_s=2
  ;;
consul)
  # shellcheck source=tests/servers/consul.sh
  source "$source_dir/tests/servers/consul.sh"
  consul_fetch || skip "consul is not available"
  rounds=${CHAOS_ROUNDS:-400}
  faults=${CHAOS_FAULTS:-6}
  ttl_s=10 # Consul's minimum
  ;;
*)
  echo "usage: chaos.sh sqlite|postgres|consul" >&2
  exit 2
  ;;
esac

work=$(mktemp -d)
chmod 0755 "$work"
mkdir -p "$work/home" "$work/xdg"
export HOME=$work/home XDG_STATE_HOME=$work/xdg BSUP_MIN_TTL=1s
unset BSUP_FROM BSUP_CONNECTION BSUP_STATE_FILE

mounted=
consul_pid=
cleanup() {
  set +e
  touch "$work/stop"
  local pid
  for pid in $(jobs -p); do
    kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  if [[ -n $mounted ]]; then
    umount "$mounted"
  fi
  case $driver in
  postgres) "$source_dir/tests/servers/postgres.sh" stop "$work/pg" ;;
  consul)
    if [[ -n $consul_pid ]]; then
      kill -KILL "$consul_pid" 2>/dev/null
      wait "$consul_pid" 2>/dev/null
    fi
    ;;
  esac
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# A fractional sleep without a process: read from a FIFO nobody writes to, with a timeout.
mkfifo "$work/fifo"
exec {sleep_fd}<>"$work/fifo"
pause_us() {
  local us=$1
  read -r -t "$((us / 1000000)).$(printf '%06d' $((us % 1000000)))" -u "$sleep_fd" _ || true
}
# A random number in [0, $1).
rand() { echo $((((RANDOM << 15) | RANDOM) % $1)); }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# ---------------------------------------------------------------------------------------------
# The backend.

pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "${BSUP_PG_BIN:-/usr/lib/postgresql/15/bin}/$1" "${@:2}"
  else
    "${BSUP_PG_BIN:-/usr/lib/postgresql/15/bin}/$1" "${@:2}"
  fi
}

consul_args=()
consul_port=
consul_up() {
  "$CONSUL_BIN" "${consul_args[@]}" >>"$work/consul/log" 2>&1 {sleep_fd}>&- &
  consul_pid=$!
  local i leader
  for ((i = 0; i < 600; i++)); do
    leader=$(curl -fsS -m 1 "http://127.0.0.1:$consul_port/v1/status/leader" 2>/dev/null || true)
    if [[ -n $leader && $leader != '""' ]]; then
      return 0
    fi
    kill -0 "$consul_pid" 2>/dev/null || break
    sleep 0.05
  done
  tail -n 20 "$work/consul/log" >&2
  return 1
}

extra=()
case $driver in
sqlite)
  mkdir -p "$work/db"
  db=$work/db/bsup.db
  connection="sqlite:$db"
  ;;
postgres)
  mkdir -p "$work/pg"
  port=$("$source_dir/tests/servers/postgres.sh" start "$work/pg")
  connection="postgresql://postgres@127.0.0.1:$port/postgres"
  ;;
consul)
  # A single-node server that keeps its sessions and keys on disk across restarts.
  mkdir -p "$work/consul"
  consul_port=$(consul_free_port)
  consul_args=(agent -server -bootstrap-expect 1 -bind 127.0.0.1 -client 127.0.0.1
    -http-port "$consul_port" -dns-port -1 -serf-lan-port "$(consul_free_port)"
    -serf-wan-port "$(consul_free_port)" -server-port "$(consul_free_port)" -grpc-port -1
    -data-dir "$work/consul/data" -node bsup-chaos -hcl 'performance { raft_multiplier = 1 }')
  consul_up || {
    echo "chaos consul: the agent did not start" >&2
    exit 1
  }
  connection="http://127.0.0.1:$consul_port"
  # No lock delay: a lapsed session's keys are free at once (checked in the TTL phase).
  extra=(--lock-delay 0)
  ;;
esac

# bsup on this backend with the state file $1.
b() {
  local state=$1
  shift
  "$BSUP" --connection "$connection" "${extra[@]}" --state-file "$state" "$@"
}

say "seed $seed, $rounds kill rounds, $faults backend faults, TTL ${ttl_s}s"

# ---------------------------------------------------------------------------------------------
# 1. Kills.

cmds=(register lock renew unlock deregister)
keys=()
for i in 0 1 2 3 4 5; do
  keys+=("chaos/$driver/k$i")
done

# Sets cmd_args to the arguments of command $1 on key $2.
cmd_args=()
set_args() {
  case $1 in
  register) cmd_args=(register --ttl "${ttl_s}s") ;;
  lock) cmd_args=(lock "$2" --ttl "${ttl_s}s") ;;
  renew) cmd_args=(renew) ;;
  unlock) cmd_args=(unlock "$2") ;;
  deregister) cmd_args=(deregister) ;;
  esac
}

# The typical duration of each command (median of 9, in µs, as launched here).
declare -A typical=()
measure() {
  local state=$work/state-m/state.json cmd i t0 rc
  declare -A samples=()
  for ((i = 0; i < 9; i++)); do
    for cmd in "${cmds[@]}"; do
      set_args "$cmd" "chaos/$driver/measure"
      t0=$(now_us)
      rc=0
      (exec "$BSUP" --connection "$connection" "${extra[@]}" --state-file "$state" \
        "${cmd_args[@]}" >/dev/null 2>&1 {sleep_fd}>&-) &
      wait $! || rc=$?
      if ((rc != 0)); then
        problem "measuring: $cmd exited $rc"
      fi
      samples[$cmd]+="$(($(now_us) - t0)) "
    done
  done
  for cmd in "${cmds[@]}"; do
    # shellcheck disable=SC2086
    typical[$cmd]=$(printf '%s\n' ${samples[$cmd]} | sort -n | sed -n 5p)
  done
}
measure
say "typical durations (µs): $(for c in "${cmds[@]}"; do printf '%s %s, ' "$c" "${typical[$c]}"; done)"

declare -A killed=() finished=() recovered=()
for c in "${cmds[@]}"; do
  killed[$c]=0 finished[$c]=0 recovered[$c]=0
done
declare -A touched=()
corrupt=0 bad_exit4=0 foreign=0

# The session ID in state file $1, or "" (absent or unreadable).
session_in() { jq -r '.session_id // ""' "$1" 2>/dev/null || true; }

# After a kill: the state file is valid or absent; renew says 4 only when it is absent.
check_state() {
  local state=$1 rc=0 out
  if [[ -e $state ]]; then
    if ! jq -e '(.session_id | length) == 27 and .ttl_ms > 0' "$state" >/dev/null 2>&1; then
      corrupt=$((corrupt + 1))
      cp "$state" "$work/corrupt.$corrupt.json"
      problem "state file half-written after a kill of '$2': $(head -c 300 "$state" | tr '\n' ' ')"
      return
    fi
  fi
  out=$(b "$state" renew 2>&1 >/dev/null) || rc=$?
  case $rc in
  0 | 1) ;; # renewed, or the session had lapsed / was ended (session_gone)
  4)
    if [[ -e $state ]]; then
      bad_exit4=$((bad_exit4 + 1))
      problem "renew exit 4 on a valid state file after a kill of '$2': $out"
    fi
    ;;
  *) problem "renew exit $rc after a kill of '$2': $out" ;;
  esac
}

# The command again, not killed: it works or gives its documented exit.
recover() {
  local cmd=$1 key=$2 state=$3 other=$4 rc=0 out holder ok=''
  set_args "$cmd" "$key"
  out=$(b "$state" --json "${cmd_args[@]}" 2>"$work/recover.err") || rc=$?
  case $cmd:$rc in
  register:0 | renew:0 | unlock:0 | unlock:1 | deregister:0 | lock:0) ok=1 ;;
  renew:1) ok=1 ;; # the session had lapsed or was ended
  renew:4) [[ -e $state ]] || ok=1 ;;
  lock:1)
    # Held by another session: it must be the other contender's, never an orphan.
    holder=$(jq -r '.session_id // ""' <<<"$out" 2>/dev/null || true)
    if [[ -n $holder && $holder == "$(session_in "$other")" ]]; then
      ok=1
    else
      foreign=$((foreign + 1))
      problem "lock $key after a kill: held by session '$holder' that no state file names: $out"
      return
    fi
    ;;
  esac
  if [[ -n $ok ]]; then
    recovered[$cmd]=$((recovered[$cmd] + 1))
  else
    problem "$cmd after a kill exited $rc: $(cat "$work/recover.err") $out"
  fi
}

phase_started=$SECONDS
for ((r = 0; r < rounds; r++)); do
  cmd=${cmds[r % ${#cmds[@]}]}
  if ((RANDOM % 2)); then who=a other=b; else who=b other=a; fi
  key=${keys[RANDOM % ${#keys[@]}]}
  state=$work/state-$who/state.json
  other=$work/state-$other/state.json
  if [[ $cmd == lock || $cmd == unlock ]]; then
    touched[$key]=1
  fi
  delay=$((1 + $(rand "${typical[$cmd]}")))
  set_args "$cmd" "$key"
  # timeout(1) starts its timer just before it starts bsup, and SIGKILLs it then.
  # --foreground: timeout then kills bsup alone and reaps it before it exits; without it, timeout
  # kills its whole process group, itself included, and may be gone while bsup still finishes
  # the system call it was in (an unlink of the state file, say) behind the checks' back.
  rc=0
  { timeout --foreground -s KILL "$((delay / 1000000)).$(printf '%06d' $((delay % 1000000)))" \
    "$BSUP" --connection "$connection" "${extra[@]}" --state-file "$state" "${cmd_args[@]}" \
    >/dev/null {sleep_fd}>&-; } 2>/dev/null || rc=$?
  # The range of delays follows the command's duration as it is now (a loaded machine, a state
  # file or none): it shrinks when the command finished first and grows when it was killed, so that
  # about 70% of the kills land mid-command and the rest just after it.
  if ((rc == 124 || rc == 137)); then # timed out: killed (124 is --foreground's way to say it)
    killed[$cmd]=$((killed[$cmd] + 1))
    typical[$cmd]=$((typical[$cmd] * 17 / 16))
  else
    finished[$cmd]=$((finished[$cmd] + 1))
    typical[$cmd]=$((typical[$cmd] * 7 / 8 + 1))
  fi
  check_state "$state" "$cmd"
  recover "$cmd" "$key" "$state" "$other"
done
kill_seconds=$((SECONDS - phase_started))

# A writer killed mid-write leaves its temporary file (state.json.tmp.<pid>); the next write
# removes those of dead processes, so they never pile up: at most one beside each state file.
litter=$(find "$work" -name 'state.json.tmp*' | wc -l)
piled=$(find "$work" -name 'state.json.tmp*' -printf '%h\n' | sort | uniq -d | wc -l)
((piled == 0)) || problem "temporary files piled up beside $piled state files"
find "$work" -name 'state.json.tmp*' -delete
if [[ $driver == sqlite ]]; then
  integrity=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$db" 2>&1 || true)
  [[ $integrity == ok ]] || problem "sqlite integrity_check after the kills: $integrity"
fi

total_kills=0 total_finished=0 total_recovered=0 per_cmd=
for c in "${cmds[@]}"; do
  total_kills=$((total_kills + killed[$c]))
  total_finished=$((total_finished + finished[$c]))
  total_recovered=$((total_recovered + recovered[$c]))
  per_cmd+="$c ${killed[$c]}+${finished[$c]}, "
done
say "kill delays drawn at the end from [0, µs): $(for c in "${cmds[@]}"; do printf '%s %s, ' "$c" "${typical[$c]}"; done)"
say "$rounds rounds in ${kill_seconds}s: $total_kills killed mid-command, $total_finished finished before the kill (per command killed+finished: ${per_cmd%, }); $total_recovered/$rounds recovered at once; $corrupt corrupt state files; $bad_exit4 exit 4 on valid state files; $foreign keys held by orphans; $litter temporary files left by killed writers"

# No lock outlives its TTL: past it (Consul may keep a session up to twice its TTL; no lock
# delay), a fresh session acquires every key the kills touched.
wait_s=$((ttl_s + 2))
[[ $driver != consul ]] || wait_s=$((2 * ttl_s + 2))
sleep "$wait_s"
fresh=$work/state-fresh/state.json
free_after=0
for key in "${!touched[@]}"; do
  rc=0
  out=$(b "$fresh" --json lock "$key" --ttl 10s 2>&1) || rc=$?
  if ((rc == 0)); then
    free_after=$((free_after + 1))
  else
    problem "$key is still held ${wait_s}s after the last kill (TTL ${ttl_s}s): exit $rc $out"
  fi
done
b "$fresh" deregister -q >/dev/null || problem "deregister of the fresh session failed"
say "TTL: ${free_after}/${#touched[@]} touched keys acquired by a fresh session ${wait_s}s after the last kill"
# Informational: services still listed once every session of the kills has lapsed. On Consul, a
# service without a check stays in the agent's registry when its session lapses or when bsup is
# killed between starting the session and writing the state file.
left=$(b "$fresh" services --json | jq 'length')
say "services still registered after every session of the kills lapsed: $left"

# ---------------------------------------------------------------------------------------------
# 2. Faults while contenders take turns on one key.

mutex=chaos/$driver/mutex
contenders=3

# contend N: lock, hold briefly, unlock (retried until 0 or 1), until $work/stop exists.
# Logs "lock T0 T1 RC ACQUIRED SESSION INDEX" and "unlock T0 T1 RC RELEASED", times in µs.
contend() {
  local n=$1 state=$work/state-c$1/state.json log=$work/contender-$1.log
  local t0 t1 rc out acquired sid idx released tries
  until b "$state" register --ttl 10m -q >/dev/null 2>&1; do
    sleep 0.1
  done
  while [[ ! -e $work/stop ]]; do
    t0=$(now_us)
    rc=0
    out=$(b "$state" --json lock "$mutex" --ttl 10m --timeout 2s 2>/dev/null) || rc=$?
    t1=$(now_us)
    read -r acquired sid idx < <(jq -r '[(if has("acquired") then .acquired else "none" end), (.session_id // "-"),
      (.lock_index // "-")] | @tsv' <<<"$out" 2>/dev/null || echo "invalid - -")
    echo "lock $t0 $t1 $rc $acquired $sid $idx" >>"$log"
    if [[ $rc == 3 ]] && ! jq -e '.error.exit_code == 3' <<<"$out" >/dev/null 2>&1; then
      echo "badjson $out" >>"$log"
    fi
    if [[ $acquired == true ]]; then
      pause_us "$(rand 20000)"
      for ((tries = 0; tries < 300; tries++)); do
        t0=$(now_us)
        rc=0
        out=$(b "$state" --json unlock "$mutex" --timeout 2s 2>/dev/null) || rc=$?
        t1=$(now_us)
        released=$(jq -r 'if has("released") then .released else "none" end' <<<"$out" 2>/dev/null || echo invalid)
        echo "unlock $t0 $t1 $rc $released" >>"$log"
        [[ $rc == 0 || $rc == 1 ]] && break
        sleep 0.1
      done
    else
      pause_us "$(rand 10000)"
    fi
  done
}

fault_names=()
rollbacks=0
# The mutex's ModifyIndex as the Consul leader has it now (0 when it has none).
mutex_modify_index() {
  local index
  index=$(curl -fsS -m 2 "http://127.0.0.1:$consul_port/v1/kv/blacksmith/$mutex?consistent" 2>/dev/null |
    jq -r '.[0].ModifyIndex // 0' 2>/dev/null) || index=0
  echo "${index:-0}"
}
inject_fault() {
  local down_ms
  down_ms=$((200 + $(rand 1500)))
  case $driver in
  postgres)
    case $((RANDOM % 3)) in
    0)
      fault_names+=("immediate-restart")
      pg pg_ctl -D "$work/pg/data" -m immediate -w stop >/dev/null
      "$source_dir/tests/servers/postgres.sh" start "$work/pg" >/dev/null
      ;;
    1)
      fault_names+=("immediate-stop-${down_ms}ms")
      pg pg_ctl -D "$work/pg/data" -m immediate -w stop >/dev/null
      pause_us $((down_ms * 1000))
      "$source_dir/tests/servers/postgres.sh" start "$work/pg" >/dev/null
      ;;
    2)
      fault_names+=("fast-restart")
      "$source_dir/tests/servers/postgres.sh" restart "$work/pg"
      ;;
    esac
    ;;
  consul)
    local before after
    before=$(mutex_modify_index)
    fault_names+=("kill-9-${down_ms}ms")
    kill -KILL "$consul_pid"
    wait "$consul_pid" 2>/dev/null || true
    pause_us $((down_ms * 1000))
    consul_up || problem "the consul agent did not come back after a kill"
    # A server killed with SIGKILL may come back with its KV store rolled back (acknowledged
    # writes lost, seen with Consul 1.8.7): the key's ModifyIndex then goes back, and its
    # LockIndex (bsup's fencing token) with it. That is Consul's doing; it is counted and shown.
    after=$(mutex_modify_index)
    if ((after < before)); then
      rollbacks=$((rollbacks + 1))
      fault_names[-1]+="-kv-rolled-back-from-${before}-to-${after}"
    fi
    ;;
  sqlite)
    # Another process holds the database's write lock: shorter or longer than --timeout (2s).
    fault_names+=("exclusive-${down_ms}ms")
    python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")' "$db" "$((down_ms * 2 / 1000)).$(printf '%03d' $((down_ms * 2 % 1000)))" ||
      problem "could not hold an exclusive transaction on $db"
    ;;
  esac
}

# holds_of LOG...: each contender's holds, "hold N START END FINAL_RC SAW_3 INDEX": from the end of
# its `lock` that said acquired, to the start of its first `unlock` after it (the earliest moment
# a release could have happened). FINAL_RC is the unlock that ended it (0 released, 1 not held).
holds_of() {
  local n=0 log
  for log in "$@"; do
    awk -v n="$n" '
      $1 == "lock" && $5 == "true" { start = $3; idx = $7; holding = 1; first = ""; next }
      $1 == "unlock" && holding {
        if (first == "") first = $2
        if ($4 == 3) saw3 = 1
        if ($4 == 0 || $4 == 1) {
          print "hold", n, start, first, $4, (saw3 ? 1 : 0), idx
          holding = 0; saw3 = 0
        }
      }
      END { if (holding) print "hold", n, start, "9999999999999999", "open", 0, idx }
    ' "$log"
    n=$((n + 1))
  done
}
# Holds (on stdin) of different contenders that overlap: double grants.
overlaps() {
  sort -k3,3n | awk '
    { for (i = 1; i <= k; i++) if (who[i] != $2 && end[i] > $3)
        print "contender " who[i] " held [" begin[i] ", " end[i] "] when contender " $2 " got it at " $3
      k++; who[k] = $2; begin[k] = $3; end[k] = $4 }'
}
# Grants (on stdin, holds) made on a store that went back: a lock index below one granted before,
# while the backend came back from a kill (`START END` pairs in $1, in µs). The lock index is the
# backend's own counter for the key (Consul's LockIndex), which bsup cannot move back: a lower one
# proves the backend answered from a rolled-back store. Prints "CONTENDER START" lines.
rolled_back_grants() {
  sort -k3,3n | awk -v windows="$1" '
    BEGIN { n = split(windows, w, " ") }
    $7 != "-" {
      idx = $7 + 0; in_window = 0
      for (i = 1; i < n; i += 2) if ($3 + 0 >= w[i] + 0 && $3 + 0 <= w[i + 1] + 0) in_window = 1
      if (seen && idx < max && in_window) print $2, $3
      if (!seen || idx > max) max = idx
      seen = 1
    }'
}
# Double grants (on stdin, from overlaps) split by the rolled-back grants in file $1: prints
# "explained LINE" when one of the two holds was granted on a rolled-back store, else "bsup LINE".
blame_overlaps() {
  awk -v rolled="$1" '
    BEGIN { while ((getline line < rolled) > 0) bad[line] = 1 }
    { a = $2; b = $4; gsub(/[\[,]/, "", b); c = $8; t = $12
      print ((a " " b) in bad || (c " " t) in bad ? "explained" : "bsup"), $0 }'
}
# Lock indexes (on stdin, holds) that do not grow from grant to grant.
index_regressions() {
  sort -k3,3n | awk '$7 != "-" {
    if (seen && $7 + 0 <= last) print "index " $7 " after " last; last = $7 + 0; seen = 1 }'
}

# The analysis must be able to fail: a made-up double grant and index regression are found, and
# back-to-back holds are not.
mkdir "$work/selftest"
printf '%s\n' "lock 100 110 0 true S1 1" "unlock 200 210 0 true" "lock 300 310 0 true S1 3" \
  "unlock 400 410 0 true" >"$work/selftest/0.log"
printf '%s\n' "lock 150 160 0 true S2 2" "unlock 170 180 0 true" "lock 205 208 0 true S2 4" \
  "unlock 250 260 0 true" >"$work/selftest/1.log"
[[ $(holds_of "$work"/selftest/{0,1}.log | overlaps | wc -l) -eq 1 ]] ||
  problem "self-test: the made-up double grant was not found exactly once"
[[ -n $(holds_of "$work"/selftest/{0,1}.log | index_regressions) ]] ||
  problem "self-test: the made-up index regression was not found"
printf '%s\n' "lock 405 412 0 true S2 5" "unlock 450 460 0 true" >"$work/selftest/1.log"
[[ -z $(holds_of "$work"/selftest/{0,1}.log | overlaps) ]] ||
  problem "self-test: back-to-back holds were taken for a double grant"
# A grant with a lower index overlapping another: the backend's doing inside a kill's window,
# bsup's outside it.
printf '%s\n' "lock 100 110 0 true S1 7" "unlock 200 210 0 true" >"$work/selftest/0.log"
printf '%s\n' "lock 150 160 0 true S2 3" "unlock 170 180 0 true" >"$work/selftest/1.log"
holds_of "$work"/selftest/{0,1}.log | rolled_back_grants "140 165" >"$work/selftest/rolled"
[[ $(holds_of "$work"/selftest/{0,1}.log | overlaps | blame_overlaps "$work/selftest/rolled") == explained* ]] ||
  problem "self-test: a double grant on a rolled-back store was not put down to the backend"
holds_of "$work"/selftest/{0,1}.log | rolled_back_grants "300 400" >"$work/selftest/rolled"
[[ $(holds_of "$work"/selftest/{0,1}.log | overlaps | blame_overlaps "$work/selftest/rolled") == bsup* ]] ||
  problem "self-test: a double grant outside a kill's window was put down to the backend"

phase_started=$SECONDS
phase_failures=$failures
fault_log=()
rm -f "$work/stop"
contender_pids=()
for ((n = 0; n < contenders; n++)); do
  contend "$n" &
  contender_pids+=($!)
done
sleep 1
for ((f = 0; f < faults; f++)); do
  pause_us $((800000 + $(rand 1500000)))
  fault_log+=("$(now_us)")
  inject_fault
  fault_log+=("${fault_names[-1]}-until-$(now_us)")
done
sleep 1
touch "$work/stop"
wait "${contender_pids[@]}"
fault_seconds=$((SECONDS - phase_started))

logs=()
for ((n = 0; n < contenders; n++)); do
  logs+=("$work/contender-$n.log")
done
holds=$(holds_of "${logs[@]}")
grants=$(awk '$1 == "hold"' <<<"$holds" | wc -l)
attempts=$(cat "${logs[@]}" | awk '$1 == "lock"' | wc -l)
rc_counts=$(cat "${logs[@]}" | awk '$1 == "lock" { c[$4]++ } END { for (k in c) printf "rc %s: %d, ", k, c[k] }')
unlock_counts=$(cat "${logs[@]}" | awk '$1 == "unlock" { c[$4]++ } END { for (k in c) printf "rc %s: %d, ", k, c[k] }')
odd=$(cat "${logs[@]}" | awk '($1 == "lock" && $4 != 0 && $4 != 1 && $4 != 3) ||
  ($1 == "lock" && $4 == 0 && $5 != "true") || ($1 == "lock" && $4 == 1 && $5 != "false") ||
  ($1 == "unlock" && $4 != 0 && $4 != 1 && $4 != 3) || $1 == "badjson"' | head -n 5)
if [[ -n $odd ]]; then
  problem "answers other than 0 (acquired), 1 (held) or 3 (backend), or without their JSON: $odd"
fi
# The windows in which the backend came back from a kill (consul): from the kill to 3 s after
# the agent answered again.
windows=
for ((i = 0; i + 1 < ${#fault_log[@]}; i += 2)); do
  if [[ ${fault_log[i + 1]} == kill-9-* ]]; then
    windows+=" ${fault_log[i]} $((${fault_log[i + 1]##*-until-} + 3000000))"
  fi
done
rolled_back_grants "$windows" <<<"$holds" >"$work/rolled"
blamed=$(overlaps <<<"$holds" | blame_overlaps "$work/rolled")
double=$(sed -n 's/^bsup //p' <<<"$blamed")
explained=$(sed -n 's/^explained //p' <<<"$blamed")
doubles=0
if [[ -n $double ]]; then
  doubles=$(wc -l <<<"$double")
  problem "double grants on $mutex: $double"
fi
if [[ -s $work/rolled ]]; then
  # Counted as a rollback: the lost holds and index regressions around it are the backend's too.
  rollbacks=$((rollbacks + 1))
  say "the backend granted on a rolled-back store after a kill (lock index below one granted before; contender and time: $(paste -sd, "$work/rolled"))${explained:+; double grants with those grants are its doing: $explained}"
fi
lost=$(awk '$1 == "hold" && $5 == 1' <<<"$holds" | wc -l)
lost_unexplained=$(awk '$1 == "hold" && $5 == 1 && $6 == 0' <<<"$holds" | wc -l)
index_order=$(index_regressions <<<"$holds" | head -n 3)
if ((rollbacks > 0)); then
  # The backend lost acknowledged writes: grants and releases it forgot explain lost holds and
  # an index that went back. Double grants are still failures (checked above).
  say "the backend rolled back its store $rollbacks times after a kill: $lost_unexplained lost holds and index regressions (${index_order:-none}) are its doing"
else
  if ((lost_unexplained > 0)); then
    problem "$lost_unexplained holds were gone at their first unlock, with a 10m TTL and no earlier failed unlock"
  fi
  # The same index twice means no release happened between two grants: an `unlock` that answered
  # 1 ("not held") left the key held by its session, which then took it again.
  [[ -z $index_order ]] ||
    problem "lock indexes did not grow from grant to grant (an unlock said 'not held' but the key stayed held?): $index_order"
fi
if ((failures > phase_failures)); then
  echo "--- the contenders' answers, by time (contender, what, start, end, exit, ...):" >&2
  for ((n = 0; n < contenders; n++)); do
    awk -v n="$n" '{ $1 = n " " $1; print }' "$work/contender-$n.log"
  done | sort -k3,3n | tail -n 300 >&2
  echo "--- faults: ${fault_log[*]}" >&2
fi
for ((n = 0; n < contenders; n++)); do
  b "$work/state-c$n/state.json" deregister -q >/dev/null 2>&1 ||
    problem "contender $n: deregister after the faults failed"
done
rc=0
b "$work/state-fresh/state.json" status "$mutex" -e -q >/dev/null 2>&1 || rc=$?
((rc == 1)) || problem "$mutex is not free after every contender ended its session (status -e: $rc)"
b "$work/state-fresh/state.json" deregister -q >/dev/null 2>&1 || true
say "faults in ${fault_seconds}s: ${#fault_names[@]} (${fault_names[*]}); $contenders contenders: $attempts lock attempts (${rc_counts%, }), unlocks (${unlock_counts%, }); $grants grants, $doubles double grants, $lost holds gone at unlock ($lost_unexplained unexplained)"

# ---------------------------------------------------------------------------------------------
# 3. A full disk for the state file.

disk_skipped=
full_disk() {
  local full=$work/full st rc out key n0 n1
  mkdir -p "$full"
  if [[ $(id -u) -ne 0 ]] || ! mount -t tmpfs -o size=256k,mode=0700 tmpfs "$full" 2>/dev/null; then
    return 1
  fi
  mounted=$full
  st=$full/bsup/state.json
  b "$st" register --ttl 10m -q >/dev/null || problem "disk: register on the tmpfs failed"
  cp -p "$st" "$work/state.orig"
  n0=$(b "$st" services --json | jq 'length')
  dd if=/dev/zero of="$full/fill" bs=4096 >/dev/null 2>&1 || true
  # a) The session is alive: nothing to write, the commands work.
  b "$st" register -q >/dev/null || problem "disk full: register of a live session failed"
  b "$st" lock "chaos/$driver/disk1" -q >/dev/null || problem "disk full: lock with a live session failed"
  cmp -s "$st" "$work/state.orig" || problem "disk full: the state file changed with a live session"
  # b) The session was ended behind the state file's back: a new one must be written, and cannot.
  mkdir -m 0700 "$work/copy"
  cp -p "$st" "$work/copy/state.json"
  b "$work/copy/state.json" deregister -q >/dev/null || problem "disk: deregister of the copy failed"
  for cmd in "register --ttl 10m" "lock chaos/$driver/disk2"; do
    rc=0
    # shellcheck disable=SC2086
    out=$(b "$st" $cmd 2>&1) || rc=$?
    ((rc == 4)) || problem "disk full: '$cmd' needing a new session exited $rc (want 4): $out"
    cmp -s "$st" "$work/state.orig" || problem "disk full: '$cmd' changed the old state file"
  done
  # c) No state file yet, in the full folder.
  rc=0
  out=$(b "$full/bsup/new.json" lock "chaos/$driver/disk3" 2>&1) || rc=$?
  ((rc == 4)) || problem "disk full: a first lock exited $rc (want 4): $out"
  [[ ! -e $full/bsup/new.json ]] || problem "disk full: a state file was created"
  [[ -z $(find "$full" -name '*.tmp*') ]] || problem "disk full: temporary files were left"
  for key in disk2 disk3; do
    rc=0
    b "$work/copy/state.json" status "chaos/$driver/$key" -e -q >/dev/null 2>&1 || rc=$?
    ((rc == 1)) || problem "disk full: chaos/$driver/$key was acquired although the lock exited 4"
  done
  # The sessions started for the state files that could not be written were ended again.
  n1=$(b "$work/copy/state.json" services --json | jq 'length')
  ((n1 == n0 - 1)) || problem "disk full: $((n1 - n0 + 1)) services of unwritten sessions left"
  # d) Space again: the next command works.
  rm -f "$full/fill"
  b "$st" register --ttl 10m -q >/dev/null || problem "disk freed: register failed"
  jq -e .session_id "$st" >/dev/null || problem "disk freed: the new state file is invalid"
  b "$st" deregister -q >/dev/null || problem "disk freed: deregister failed"
  umount "$full"
  mounted=
}
if ! full_disk; then
  if [[ ${CI:-} == true ]]; then
    problem "full disk: needs root and tmpfs mounts, and CI=true"
  else
    disk_skipped=1
    say "full disk: skipped (needs root and a tmpfs mount)"
  fi
else
  say "full disk: register/lock needing a new session exit 4, old state file byte-identical"
fi

say "$failures failures in $((SECONDS - started_at))s"
if ((failures > 0)); then
  exit 1
fi
if [[ -n $disk_skipped ]]; then
  exit 77
fi
