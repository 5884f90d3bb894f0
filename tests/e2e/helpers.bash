# Helpers shared by the end-to-end suites (tests/e2e/*.bats). Load after ../lib/common:
#   load ../lib/common
#   load helpers

bats_require_minimum_version 1.5.0

# The state file of a named session, as bsup_as uses it.
state_of() { printf '%s\n' "$BATS_TEST_TMPDIR/state-$1/state.json"; }

# The default embedded database of this test (common_setup points XDG_STATE_HOME at the test's
# own folder).
default_db() { printf '%s\n' "$XDG_STATE_HOME/bsup/bsup.db"; }

checksum() { sha256sum "$1" | cut -d' ' -f1; }

file_mode() { stat -c %a "$1"; }

# Fails with a message that bats shows; `false` alone says nothing about why.
fail() {
  printf '%s\n' "$*" >&2
  return 1
}

# Asserts that $1 is exactly one JSON document (and nothing else).
assert_one_json() {
  local text=$1
  [ -n "$text" ] || fail "expected one JSON document, got nothing"
  local count
  count=$(printf '%s' "$text" | jq -s 'length') || fail "not JSON: $text"
  [ "$count" -eq 1 ] || fail "expected one JSON document, got $count: $text"
}

# Asserts that $1 is SPEC's JSON error document, {"error": {"code", "message", "exit_code"}}, and
# nothing else, with the given exit code.
assert_json_error() {
  local text=$1 exit_code=$2
  assert_one_json "$text"
  printf '%s' "$text" | jq -e --argjson rc "$exit_code" '
      (keys == ["error"])
      and (.error.code | type == "string" and length > 0)
      and (.error.message | type == "string" and length > 0)
      and (.error.exit_code == $rc)' >/dev/null ||
    fail "not a JSON error with exit_code $exit_code: $text"
}

# Asserts that the text contains no line that is not a JSON object (for --log-format json).
assert_json_lines() {
  local text=$1 line
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    printf '%s' "$line" | jq -e 'type == "object"' >/dev/null ||
      fail "not a JSON log line: $line"
  done <<<"$text"
}

# Retries a command every 0.2 s until it succeeds or $1 seconds passed (a bounded poll, not a
# timing assertion).
eventually() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      fail "still failing after ${seconds}s: $*"
      return 1
    fi
    sleep 0.2
  done
}

# jq -e that fails on empty input too (jq 1.6 exits 0 when it reads nothing):
#   echo "$output" | jqe '.is_acquired == true'
jqe() {
  local doc
  doc=$(cat)
  [ -n "${doc//[[:space:]]/}" ] || fail "jq $*: no JSON on input"
  jq -e "$@" <<<"$doc" || fail "jq $* is false for: $doc"
}
