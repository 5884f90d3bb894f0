#!/usr/bin/env bats
# The completions for bash, zsh and fish, each in its real shell: subcommands, flags, driver
# names, and the keys that bsup itself says are held.
load docs

setup() {
  common_setup
  completions=$BSUP_SOURCE_DIR/completions
  # The completions run 'bsup' as typed on the line: put the binary under test on PATH.
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  ln -s "$BSUP" "$BATS_TEST_TMPDIR/bin/bsup"
  export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

# Completes in a real bash as readline does: sources the completion, finds the function that
# 'complete -F' registered for bsup, sets COMP_WORDS/COMP_CWORD (the words given, split at '='
# and ':' as bash splits them) and prints COMPREPLY one a line.
complete_bash() {
  bash --norc --noprofile -c '
    set -u
    source "$1"
    spec=$(complete -p bsup)
    [[ $spec == *"-F "* ]] || { echo "no complete -F for bsup: $spec" >&2; exit 1; }
    function=${spec#*-F }
    function=${function%% *}
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$function" bsup "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}"
  ' _ "$completions/bsup.bash" "$@"
}

# The line after TAB in an interactive zsh with compinit (see zsh_complete.zsh).
complete_zsh() {
  timeout 60 zsh "$BATS_TEST_DIRNAME/zsh_complete.zsh" "$completions" "$1"
}

# fish's candidates for a line, one a line, without their descriptions.
complete_fish() {
  fish --no-config -c 'source $argv[1]; complete -C $argv[2]' "$completions/bsup.fish" "$1" |
    cut -f1
}

@test "bash: a subcommand" {
  run complete_bash bsup lo
  [ "$status" -eq 0 ]
  [ "$output" = lock ]
  run complete_bash bsup ""
  # Exactly the subcommands that --help lists.
  [ "$(echo "$output" | sort)" = "$(help_subcommands | sort)" ]
}

@test "bash: flags of a subcommand and the global ones" {
  run complete_bash bsup lock --co
  [ "$status" -eq 0 ]
  echo "$output" | grep -qx -- --conflict-exit-code
  echo "$output" | grep -qx -- --connection
  run complete_bash bsup lock --wa
  [ "$output" = --wait ]
  run complete_bash bsup status -
  echo "$output" | grep -qx -- --exit-status
  [ -z "$(echo "$output" | grep -x -- --force)" ]
  run complete_bash bsup --vers
  [ "$output" = --version ]
}

@test "bash: driver names and formats" {
  run complete_bash bsup --from ""
  [ "$(echo "$output" | sort | tr '\n' ' ')" = "consul postgres sqlite " ]
  run complete_bash bsup lock --from po
  [ "$output" = postgres ]
  # --from=sq: bash splits the word at '=' and replaces only what follows it.
  run complete_bash bsup --from = sq
  [ "$output" = sqlite ]
  run complete_bash bsup -o j
  [ "$output" = json ]
  run complete_bash bsup --log-format t
  [ "$output" = text ]
}

@test "bash: a held key, asked of bsup itself" {
  run complete_bash bsup unlock mig
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  bsup lock migrations/warehouse
  run complete_bash bsup unlock mig
  [ "$output" = migrations/warehouse ]
  run complete_bash bsup status ""
  [ "$output" = migrations/warehouse ]
  # lock takes one key: nothing after it.
  run complete_bash bsup lock migrations/warehouse ""
  [ -z "$output" ]
  bsup unlock migrations/warehouse
  run complete_bash bsup unlock mig
  [ -z "$output" ]
}

@test "bash: keys come from the --connection and --state-file typed on the line" {
  local db=$BATS_TEST_TMPDIR/other.db
  bsup lock migrations/warehouse
  bsup --connection "sqlite:$db" --state-file "$BATS_TEST_TMPDIR/other.json" lock other/key
  # bash splits sqlite:/path at ':' into three words.
  run complete_bash bsup --connection sqlite : "$db" --state-file "$BATS_TEST_TMPDIR/other.json" unlock ""
  [ "$output" = other/key ]
  run complete_bash bsup --connection=sqlite : "$db" status o
  [ "$output" = other/key ]
  run complete_bash bsup unlock ""
  [ "$output" = migrations/warehouse ]
}

@test "bash: run KEY -- COMMAND: keys, flags, then a command" {
  bsup lock migrations/warehouse
  run complete_bash bsup run mig
  [ "$output" = migrations/warehouse ]
  run complete_bash bsup run --gr
  [ "$output" = --grace ]
  run complete_bash bsup run migrations/warehouse -- mkfif
  [ "$output" = mkfifo ]
}

@test "bash: file names for --state-file" {
  touch "$BATS_TEST_TMPDIR/state-for-completion.json"
  run complete_bash bsup --state-file "$BATS_TEST_TMPDIR/state-for"
  [ "$output" = "$BATS_TEST_TMPDIR/state-for-completion.json" ]
}

@test "zsh: a subcommand, a flag, a driver and a held key" {
  require_tool zsh
  zsh -fc 'zmodload zsh/zpty' || { echo "zsh has no zpty module" >&2; return 1; }
  run complete_zsh "bsup lo"
  [ "$status" -eq 0 ]
  [ "$output" = "bsup lock " ]
  run complete_zsh "bsup lock --conf"
  [ "$output" = "bsup lock --conflict-exit-code=" ]
  run complete_zsh "bsup --from po"
  [ "$output" = "bsup --from postgres " ]
  run complete_zsh "bsup unlock mig"
  [ "$output" = "bsup unlock mig" ]
  bsup lock migrations/warehouse
  run complete_zsh "bsup unlock mig"
  [ "$output" = "bsup unlock migrations/warehouse " ]
  bsup --connection "sqlite:$BATS_TEST_TMPDIR/other.db" --state-file "$BATS_TEST_TMPDIR/o.json" \
    lock other/key
  run complete_zsh "bsup --connection sqlite:$BATS_TEST_TMPDIR/other.db unlock o"
  [ "$output" = "bsup --connection sqlite:$BATS_TEST_TMPDIR/other.db unlock other/key " ]
}

@test "zsh: run KEY -- COMMAND" {
  require_tool zsh
  bsup lock migrations/warehouse
  run complete_zsh "bsup run mig"
  [ "$output" = "bsup run migrations/warehouse " ]
  run complete_zsh "bsup run migrations/warehouse -- mkfif"
  [ "$output" = "bsup run migrations/warehouse -- mkfifo " ]
}

@test "fish: a subcommand, a flag, a driver and a held key" {
  require_tool fish
  run complete_fish "bsup lo"
  [ "$status" -eq 0 ]
  [ "$output" = lock ]
  run complete_fish "bsup lock --conf"
  [ "$output" = --conflict-exit-code ]
  run complete_fish "bsup --from po"
  [ "$output" = postgres ]
  run complete_fish "bsup unlock mig"
  [ -z "$output" ]
  bsup lock migrations/warehouse
  run complete_fish "bsup unlock mig"
  [ "$output" = migrations/warehouse ]
  bsup --connection "sqlite:$BATS_TEST_TMPDIR/other.db" --state-file "$BATS_TEST_TMPDIR/o.json" \
    lock other/key
  run complete_fish "bsup --connection sqlite:$BATS_TEST_TMPDIR/other.db unlock o"
  [ "$output" = other/key ]
}

@test "fish: run KEY -- COMMAND" {
  require_tool fish
  bsup lock migrations/warehouse
  run complete_fish "bsup run mig"
  [ "$output" = migrations/warehouse ]
  run complete_fish "bsup run migrations/warehouse -- mkfif"
  [ "$output" = mkfifo ]
}

@test "every subcommand and flag of --help is in each completion file" {
  local file cmd flag missing=0 flags
  flags=$(help_flags; for cmd in $(help_subcommands); do help_flags "$cmd"; done)
  [ "$(wc -l <<<"$flags")" -ge 20 ]
  for file in bsup.bash _bsup; do
    for word in $flags $(help_subcommands); do
      require_word "$word" "completions/$file" <"$completions/$file" || missing=1
    done
  done
  # fish names flags without their dashes: "-l conflict-exit-code", "-s e".
  for flag in $flags; do
    case $flag in
    --*) require_word "-l ${flag#--}" completions/bsup.fish <"$completions/bsup.fish" || missing=1 ;;
    -*) require_word "-s ${flag#-}" completions/bsup.fish <"$completions/bsup.fish" || missing=1 ;;
    esac
  done
  for cmd in $(help_subcommands); do
    require_word "$cmd" completions/bsup.fish <"$completions/bsup.fish" || missing=1
  done
  [ "$missing" -eq 0 ]
}

@test "the bash completion passes shellcheck" {
  require_tool shellcheck
  shellcheck -s bash "$completions/bsup.bash" "$BATS_TEST_DIRNAME"/*.bash
}
