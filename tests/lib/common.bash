# Shared by every bats suite. Each test gets fresh folders, so that no state leaks between tests:
# its own state file, XDG state home (and so its own default sqlite database).
# $BSUP is the binary under test (set by ctest); run a suite by hand with
#   BSUP=build/bsup bats tests/e2e

: "${BSUP:?set BSUP to the bsup binary under test}"
: "${BSUP_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

common_setup() {
  export XDG_STATE_HOME="$BATS_TEST_TMPDIR/xdg"
  export BSUP_STATE_FILE="$BATS_TEST_TMPDIR/state/state.json"
  export HOME="$BATS_TEST_TMPDIR/home"
  mkdir -p "$HOME"
  unset BSUP_FROM BSUP_CONNECTION NO_COLOR
}

bsup() { "$BSUP" "$@"; }

# bsup with another state file: a second session, as another CI job would have.
bsup_as() {
  local who=$1; shift
  BSUP_STATE_FILE="$BATS_TEST_TMPDIR/state-$who/state.json" "$BSUP" "$@"
}

# The session ID written in a state file. Without one, prints a text that matches no output (and
# fails), so that `[[ $output == *"$(session_in F)"* ]]` cannot pass by accident.
session_in() {
  local id
  id=$(jq -r .session_id "$1" 2>/dev/null) || id=
  if [ "${#id}" -ne 27 ]; then
    printf '<no session in %s>\n' "$1"
    return 1
  fi
  printf '%s\n' "$id"
}
