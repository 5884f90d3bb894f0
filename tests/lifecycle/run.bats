#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr), $output and $status.
# shellcheck disable=SC2154,SC2016
# bsup run KEY -- CMD: exit codes, environment, no shell, signals, and the lock lost mid-run.
#
# Driver-agnostic: with BSUP_CONNECTION unset this runs on the embedded sqlite default; the
# postgres and consul integration scripts run this same folder with BSUP_CONNECTION set to their
# server (and LIFE_TTL=10s for consul, whose minimum session TTL is 10s).
load ../lib/common
load helpers

setup() { life_setup; }
teardown() { life_teardown; }

@test "run passes the command's exit code through: 0, 3, 42, and 128+N for signal N" {
  run bsup run "$K" -- true
  [ "$status" -eq 0 ]
  run bsup run "$K" -- sh -c 'exit 3'
  [ "$status" -eq 3 ]
  run bsup run "$K" -- sh -c 'exit 42'
  [ "$status" -eq 42 ]
  run bsup run "$K" -- sh -c 'kill -KILL $$'
  [ "$status" -eq 137 ]
  run bsup run "$K" -- sh -c 'kill -TERM $$'
  [ "$status" -eq 143 ]
  is_free "$K"
}

@test "the command gets BSUP_LOCK_KEY, BSUP_SESSION_ID and a growing BSUP_LOCK_INDEX" {
  local show='printf "%s %s %s\n" "$BSUP_LOCK_KEY" "$BSUP_SESSION_ID" "$BSUP_LOCK_INDEX"'
  run --separate-stderr bsup run "$K" -- sh -c "$show"
  [ "$status" -eq 0 ]
  local key session index
  read -r key session index <<<"$output"
  [ "$key" = "$K" ] || fail "BSUP_LOCK_KEY=$key"
  [[ $session =~ ^[0-9A-Za-z]{27}$ ]] || fail "BSUP_SESSION_ID=$session"
  [[ $index =~ ^[0-9]+$ ]] && ((index > 0)) || fail "BSUP_LOCK_INDEX=$index"

  # With a registered session, run uses it; the fencing token grows with every grant.
  bsup register
  run --separate-stderr bsup run "$K" -- sh -c "$show"
  [ "$status" -eq 0 ]
  local session2 index2
  read -r _ session2 index2 <<<"$output"
  [ "$session2" = "$(session_in "$BSUP_STATE_FILE")" ] || fail "BSUP_SESSION_ID=$session2"
  ((index2 > index)) || fail "lock index $index2 after $index"
}

@test "no shell in between: arguments reach the command as they are" {
  run --separate-stderr bsup run "$K" -- printf '%s\n' '$HOME' 'a  b' '*' '`id`'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' '$HOME' 'a  b' '*' '`id`')" ] || fail "output: $output"
}

@test "the key is held while the command runs and free after it" {
  bsup_bg_as R run "$K" -- sh -c \
    'echo "$BSUP_SESSION_ID" > "$0/session"; while [ ! -e "$0/go" ]; do sleep 0.05; done' "$D"
  local runner=$BG_PID
  eventually 10 test -s "$D/session"
  local session
  session=$(cat "$D/session")
  is_held_by "$K" "$session"
  run bsup_as B lock "$K"
  [ "$status" -eq 1 ]

  touch "$D/go"
  wait_exit 10 "$runner"
  [ "$RC" -eq 0 ] || fail "run exit $RC: $(cat "$D/R.err")"
  is_free "$K"
}

@test "a run with no state file uses its own session, ends it, and leaves no state behind" {
  run --separate-stderr bsup run "$K" -- sh -c 'echo "$BSUP_SESSION_ID"'
  [ "$status" -eq 0 ]
  local session=$output
  [ "${#session}" -eq 27 ] || fail "session: $session"
  [ ! -e "$BSUP_STATE_FILE" ] || fail "run left $BSUP_STATE_FILE: $(cat "$BSUP_STATE_FILE")"

  unset BSUP_STATE_FILE # the default state file, under XDG_STATE_HOME
  run --separate-stderr bsup run "$K" -- true
  [ "$status" -eq 0 ]
  [ ! -e "$XDG_STATE_HOME/bsup/state.json" ] || fail "run left the default state file"

  is_free "$K"
  run --separate-stderr bsup services --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe --arg s "$session" 'map(select(.id == $s)) | length == 0'
}

# The command traps the signal and writes a marker; so does a grandchild it started (in the
# foreground, so that the command's shell handles its own trap once the grandchild is done).
signal_reaches_the_group() {
  local sig=$1
  cat >"$D/child.sh" <<'EOF'
sig=$1 d=$2
trap 'echo child > "$d/child.$sig"; exit 3' "$sig"
sh -c 'trap "echo grandchild > \"$1/grandchild.$2\"; exit 0" "$2"
       touch "$1/ready"; while :; do sleep 0.1; done' grandchild "$d" "$sig"
while :; do sleep 0.1; done
EOF
  bsup_bg_as R run "$K" --ttl "$LIFE_TTL" -- sh "$D/child.sh" "$sig" "$D"
  local runner=$BG_PID
  eventually 10 test -e "$D/ready"
  kill "-$sig" "$runner"
  wait_exit 10 "$runner"
  [ "$RC" -eq 3 ] || fail "run exit $RC after SIG$sig (the command exits 3): $(cat "$D/R.err")"
  [ -e "$D/child.$sig" ] || fail "the command did not get SIG$sig"
  [ -e "$D/grandchild.$sig" ] || fail "the command's child did not get SIG$sig"
  is_free "$K"
}

@test "SIGTERM to bsup reaches the command's process group" { signal_reaches_the_group TERM; }
@test "SIGINT to bsup reaches the command's process group" { signal_reaches_the_group INT; }
@test "SIGHUP to bsup reaches the command's process group" { signal_reaches_the_group HUP; }

@test "the lock lost while the command runs: the command's group is stopped, exit 5" {
  bsup_bg_as R run "$K" --ttl "$LIFE_TTL" --grace 1s --json -- sh -c \
    'echo $$ > "$0/child.pid"; sleep 1000 & echo $! > "$0/grandchild.pid"; touch "$0/ready"; wait' \
    "$D"
  local runner=$BG_PID
  eventually 10 test -e "$D/ready"
  local child grandchild
  child=$(cat "$D/child.pid")
  grandchild=$(cat "$D/grandchild.pid")
  alive "$grandchild"

  run bsup_as B unlock --force "$K"
  [ "$status" -eq 0 ]
  wait_exit $((TTL_S + 1 + 5)) "$runner"
  [ "$RC" -eq 5 ] || fail "run exit $RC: $(cat "$D/R.out" "$D/R.err")"
  jqe '.lock_lost == true and (.lost_reason | length > 0)' <"$D/R.out"
  ! alive "$child" || fail "the command $child still runs"
  ! alive "$grandchild" || fail "the command's child (sleep 1000, $grandchild) still runs"
}

@test "the lock lost: a command that ignores TERM is killed after --grace" {
  bsup_bg_as R run "$K" --ttl "$LIFE_TTL" --grace 1s -- sh -c \
    'trap "" TERM; echo $$ > "$0/child.pid"; touch "$0/ready"; while :; do sleep 0.1; done' "$D"
  local runner=$BG_PID
  eventually 10 test -e "$D/ready"
  local child
  child=$(cat "$D/child.pid")

  bsup_as B unlock --force "$K"
  wait_exit $((TTL_S + 1 + 5)) "$runner"
  [ "$RC" -eq 5 ] || fail "run exit $RC: $(cat "$D/R.err")"
  ! alive "$child" || fail "the command $child still runs"
}

@test "the lock lost: a grandchild that ignores TERM is killed after --grace too" {
  # The command itself dies of TERM at once; its child ignores TERM and must get KILL.
  bsup_bg_as R run "$K" --ttl "$LIFE_TTL" --grace 1s -- sh -c \
    'sh -c "trap \"\" TERM; echo \$\$ > \"$0/grandchild.pid\"; exec sleep 1000" &
     while [ ! -s "$0/grandchild.pid" ]; do sleep 0.05; done; touch "$0/ready"; wait' "$D"
  local runner=$BG_PID
  eventually 10 test -e "$D/ready"
  local grandchild
  grandchild=$(cat "$D/grandchild.pid")
  track "$grandchild"
  alive "$grandchild"

  bsup_as B unlock --force "$K"
  wait_exit $((TTL_S + 1 + 5)) "$runner"
  [ "$RC" -eq 5 ] || fail "run exit $RC: $(cat "$D/R.err")"
  eventually 3 not_alive "$grandchild" ||
    fail "the grandchild $grandchild ($(tr '\0' ' ' <"/proc/$grandchild/cmdline")) outlived bsup"
}

@test "run of a command that does not exist exits 127 and releases the key" {
  run -127 --separate-stderr bsup run "$K" -- bsup-no-such-command-here
  [ "$status" -eq 127 ]
  [[ $stderr == *bsup-no-such-command-here* ]] || fail "stderr: $stderr"
  run -127 --separate-stderr bsup run "$K" -- "$D/no/such/file"
  [ "$status" -eq 127 ]
  is_free "$K"
}

@test "run while another session holds the key exits 1 (or --conflict-exit-code) and runs nothing" {
  bsup_as A lock "$K"
  run --separate-stderr bsup run "$K" -- touch "$D/ran"
  [ "$status" -eq 1 ]
  [[ $stderr == *"$(session_in "$(state_of A)")"* ]] || fail "stderr does not name the holder"
  run --separate-stderr bsup run "$K" --conflict-exit-code 9 -- touch "$D/ran"
  [ "$status" -eq 9 ]
  run --separate-stderr bsup run "$K" --wait 1s -- touch "$D/ran"
  [ "$status" -eq 1 ]
  [ ! -e "$D/ran" ] || fail "the command ran without the lock"
  is_held_by "$K" "$(session_in "$(state_of A)")"
}
