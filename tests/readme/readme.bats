#!/usr/bin/env bats
# Runs the README's examples: every ```bash block, in order, as a script of its own, with a fresh
# state (its own state file and database) and `migrate` standing in for the migration tool.
# The install/build commands are ```shell blocks and are not run here (.ci/run runs them).
load ../lib/common

setup() {
  common_setup
  bin="$BATS_TEST_TMPDIR/bin"
  mkdir -p "$bin"
  ln -s "$BSUP" "$bin/bsup"
  printf '#!/bin/sh\necho "migrate $*"\n' > "$bin/migrate"
  chmod +x "$bin/migrate"
  export PATH="$bin:$PATH"
}

# Prints block N (0-based) of the given language from README.md.
block() {
  awk -v lang="$1" -v want="$2" '
    /^```/ { if (inside) inside = 0; else if ($0 == "```" lang) inside = (seen++ == want); next }
    inside { print }
  ' "$BSUP_SOURCE_DIR/README.md"
}

count_blocks() { grep -c '^```bash$' "$BSUP_SOURCE_DIR/README.md"; }

@test "README has bash examples" {
  [ "$(count_blocks)" -ge 4 ]
}

@test "every README bash example runs and exits 0" {
  n=$(count_blocks)
  for ((i = 0; i < n; i++)); do
    script="$BATS_TEST_TMPDIR/example-$i.sh"
    { echo 'set -euo pipefail'; block bash "$i"; } > "$script"
    [ "$(wc -l < "$script")" -gt 1 ]
    export BSUP_STATE_FILE="$BATS_TEST_TMPDIR/state-$i/state.json"
    run bash "$script"
    if [ "$status" -ne 0 ]; then
      echo "README example $i failed (exit $status):"; cat "$script"; echo "--- output:"; echo "$output"
      return 1
    fi
  done
}

@test "the quick start's first command ends with a lock taken and shown, then released" {
  grep -q '^\.ci/install-deps && cmake -S \. -B build && cmake --build build -j2 && build/bsup lock migrations/demo && build/bsup status' "$BSUP_SOURCE_DIR/README.md"
  run bsup lock migrations/demo
  [ "$status" -eq 0 ]
  run bsup status
  [ "$status" -eq 0 ]
  [[ "$output" == *"migrations/demo"*"held"* ]]
}

@test "the README's test command is what .ci/run runs" {
  grep -q '^tests/run$' "$BSUP_SOURCE_DIR/README.md"
  grep -q '^tests/run' "$BSUP_SOURCE_DIR/.ci/run"
}
