#!/usr/bin/env bats
# Colour: on a terminal only, never with NO_COLOR (https://no-color.org), never in JSON.
# `script` (util-linux) gives bsup a pseudo-terminal.
load ../lib/common
load helpers

setup() { common_setup; }

# bsup on a pseudo-terminal: stdout and stderr both go to it.
on_tty() {
  script -qec "$(printf '%q ' "$BSUP" "$@")" /dev/null
}

@test "status on a terminal: a bold header and the state in colour" {
  bsup lock held/k
  bsup lock free/k
  bsup unlock free/k
  run on_tty status held/k free/k
  [ "$status" -eq 0 ]
  [[ "$output" == *$'\e[1mKEY'* ]]
  [[ "$output" == *$'\e[33mheld'* ]]
  [[ "$output" == *$'\e[32mfree'* ]]
}

@test "an error on a terminal: 'error:' in red" {
  run on_tty lock 'a//b'
  [ "$status" -eq 2 ] || [ "$status" -eq 0 ] # script(1) of util-linux before 2.35 drops the code
  [[ "$output" == *$'\e[1;31merror:\e[0m'* ]]
}

@test "NO_COLOR, a pipe, or --json: no colour at all" {
  bsup lock k
  NO_COLOR=1 run on_tty status k
  [[ "$output" == *held* ]]
  [[ "$output" != *$'\e['* ]]
  NO_COLOR=1 run on_tty lock 'a//b'
  [[ "$output" == *error:* ]]
  [[ "$output" != *$'\e['* ]]
  run bsup status k
  [[ "$output" == *held* ]]
  [[ "$output" != *$'\e['* ]]
  run on_tty status k --json
  echo "$output" | tr -d '\r' | jq -e '.is_acquired'
  [[ "$output" != *$'\e['* ]]
}

@test "aligned columns whatever the colour: the header and the rows line up" {
  bsup lock a-rather-long-key
  bsup lock k
  run bsup status
  header=$(echo "$output" | head -1)
  row=$(echo "$output" | grep '^k ')
  # STATE starts at the same column in the header and in the rows.
  [ "$(awk -v s="$header" 'BEGIN { print index(s, "STATE") }')" = \
    "$(awk -v s="$row" 'BEGIN { print index(s, "held") }')" ]
}
