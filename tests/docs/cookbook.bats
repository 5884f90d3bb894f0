#!/usr/bin/env bats
# docs/ci-cookbook.md: every shell snippet (fenced bash blocks, GitHub Actions run: steps, GitLab
# script: bodies, Kubernetes Job args) passes shellcheck; and the migration snippets, run as their
# CI would run them against bsup's embedded SQLite default with a stand-in `migrate`, hold the key
# while migrating, never migrate twice at once, and release the key also when migrate fails.
load docs

setup() {
  common_setup
  unset BSUP_STATE_FILE DATABASE_URL POSTGRES_SUPERVISOR_URL CONSUL_HTTP_ADDR
  require_tool shellcheck
  require_tool python3
  if ! python3 -c 'import yaml' 2>/dev/null; then
    [[ ${CI:-} == true ]] && fail "python3-yaml is not installed (apt-get install python3-yaml)"
    skip "python3-yaml is not installed"
  fi
  cookbook=$BSUP_SOURCE_DIR/docs/ci-cookbook.md
}

fail() {
  echo "$*" >&2
  return 1
}

# Extracts the snippets of a Markdown file into $BATS_TEST_TMPDIR/snippets; the manifest
# (file, kind, line, block, shell, always) goes to $BATS_TEST_TMPDIR/manifest.
extract() {
  python3 "$BATS_TEST_DIRNAME/cookbook_snippets.py" "$1" "$BATS_TEST_TMPDIR/snippets" \
    >"$BATS_TEST_TMPDIR/manifest"
}

# Runs shellcheck on every extracted snippet; prints each finding with the snippet's origin and
# fails when there is any.
shellcheck_snippets() {
  local file kind line block shell always findings=0
  while IFS=$'\t' read -r file kind line block shell always; do
    if ! shellcheck --shell="$shell" "$file" >"$file.findings" 2>&1; then
      echo "shellcheck: the $kind snippet of the block at line $line:" >&2
      cat "$file.findings" >&2
      findings=$((findings + 1))
    fi
  done <"$BATS_TEST_TMPDIR/manifest"
  [ "$findings" -eq 0 ]
}

@test "every shell snippet of the cookbook passes shellcheck" {
  extract "$cookbook"
  cut -f2 "$BATS_TEST_TMPDIR/manifest" | sort | uniq -c >&3 || true
  # All three platforms, each three ways at least.
  for kind in github-run gitlab-script k8s-args; do
    [ "$(cut -f2 "$BATS_TEST_TMPDIR/manifest" | grep -cx "$kind")" -ge 3 ] ||
      fail "fewer than 3 $kind snippets found in $cookbook"
  done
  shellcheck_snippets
}

@test "the check fails on a snippet with a shellcheck finding, in a bash block or in YAML" {
  bad=$BATS_TEST_TMPDIR/bad.md
  cat >"$bad" <<'MD'
```bash
cd $1
```

```yaml
on: push
jobs:
  migrate:
    runs-on: ubuntu-latest
    steps:
      - run: bsup lock migrations/app --connection ${{ secrets.DATABASE_URL }}
```

```yaml
migrate:
  script:
    - bsup run migrations/app -- migrate -database $DATABASE_URL up
```

```yaml
apiVersion: batch/v1
kind: Job
spec:
  template:
    spec:
      containers:
        - name: m
          command: ["/bin/sh", "-c"]
          args: ["x=$(echo [a-z]*); echo $x"]
```
MD
  extract "$bad"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/manifest")" -eq 4 ]
  run shellcheck_snippets
  [ "$status" -ne 0 ]
  # Each of the four is reported.
  [ "$(grep -c '^shellcheck: the ' <<<"$output")" -eq 4 ]
  [[ $output == *"fenced-bash snippet of the block at line 1"* ]]
  [[ $output == *github-run* && $output == *gitlab-script* && $output == *k8s-args* ]]
}

@test "a YAML block with no shell snippet the extractor knows is an error, not a pass" {
  cat >"$BATS_TEST_TMPDIR/odd.md" <<'MD'
```yaml
pipeline:
  - do: bsup lock migrations/app
```
MD
  run extract "$BATS_TEST_TMPDIR/odd.md"
  [ "$status" -ne 0 ]
  [[ $output == *"no shell snippet"* ]]
}

# A stand-in for golang-migrate: checks that migrations/app is held while it runs (bsup status -e)
# and that no other migrate runs at the same time (an atomic mkdir), logs each run, and fails
# when MIGRATE_FAIL=1.
make_migrate() {
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  ln -sf "$BSUP" "$BATS_TEST_TMPDIR/bin/bsup"
  cat >"$BATS_TEST_TMPDIR/bin/migrate" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
if ! bsup status -e migrations/app >/dev/null; then
  echo "migrate ran while migrations/app was free" >>"$MIGRATE_LOG.errors"
fi
if ! mkdir "$MIGRATE_LOG.running" 2>/dev/null; then
  echo "two migrate ran at once" >>"$MIGRATE_LOG.errors"
else
  sleep 0.3
  rmdir "$MIGRATE_LOG.running"
fi
echo "migrate $*" >>"$MIGRATE_LOG"
[ "${MIGRATE_FAIL:-0}" != 1 ]
SH
  chmod +x "$BATS_TEST_TMPDIR/bin/migrate"
  export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

# Runs the snippets of one block in order as a CI runs a job's steps: each in its own bash -eo
# pipefail (GitHub's 'shell: bash'), a step after a failed one only when marked always. Runs in
# the folder $2, with the state file $3. Exits with the first failure's status.
run_block() {
  local block=$1 dir=$2 state=$3 file kind line b shell always result=0 rc script
  while IFS=$'\t' read -r file kind line b shell always; do
    [ "$b" = "$block" ] || continue
    if [ "$result" -ne 0 ] && [ "$always" != always ]; then
      continue
    fi
    rc=0
    # A job that never gets the key fails in 30s here, not in 10 minutes. Each job its own
    # copy: the two jobs run at once, and one must not read the copy the other is writing.
    script="$dir/$(basename "$file").run"
    sed 's/--wait 10m/--wait 30s/g' "$file" >"$script"
    (cd "$dir" && BSUP_STATE_FILE=$state bash -eo pipefail "$script") >>"$dir/out" 2>&1 || rc=$?
    [ "$result" -ne 0 ] || result=$rc
  done <"$BATS_TEST_TMPDIR/manifest"
  return "$result"
}

# The heartbeat that --keepalive left for a state file, stopped by its PID.
stop_heartbeat() {
  local pid
  pid=$(cat "$1.keepalive" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
}

@test "the migration snippets hold the key while migrating, one at a time, and release it" {
  extract "$cookbook"
  make_migrate
  export XDG_STATE_HOME=$BATS_TEST_TMPDIR/shared # one sqlite database: the shared backend
  # The CI provides the database's URL; without BSUP_FROM=postgres bsup ignores it and uses the
  # sqlite default, which is what this test wants.
  export DATABASE_URL=postgres://cookbook@127.0.0.1:1/unused
  # The blocks (jobs) whose snippets call both bsup and migrate.
  blocks=$(cut -f4 "$BATS_TEST_TMPDIR/manifest" | sort -un | while read -r block; do
    files=$(awk -F'\t' -v b="$block" '$4 == b { print $1 }' "$BATS_TEST_TMPDIR/manifest")
    # shellcheck disable=SC2086 # one file name a word
    if grep -q '^[^#]*migrate ' $files && grep -q '^[^#]*bsup ' $files; then echo "$block"; fi
  done)
  [ "$(wc -w <<<"$blocks")" -ge 9 ]
  for block in $blocks; do
    echo "block $block" >&3
    # Two pipelines at once: both succeed, each migrates, never both at the same time.
    export MIGRATE_LOG=$BATS_TEST_TMPDIR/log-$block
    for job in a b; do
      mkdir -p "$BATS_TEST_TMPDIR/job-$block-$job/db"
    done
    run_block "$block" "$BATS_TEST_TMPDIR/job-$block-a" "$BATS_TEST_TMPDIR/state-$block-a/state.json" &
    pid_a=$!
    run_block "$block" "$BATS_TEST_TMPDIR/job-$block-b" "$BATS_TEST_TMPDIR/state-$block-b/state.json" &
    pid_b=$!
    status_a=0 status_b=0
    wait "$pid_a" || status_a=$?
    wait "$pid_b" || status_b=$?
    stop_heartbeat "$BATS_TEST_TMPDIR/state-$block-a/state.json"
    stop_heartbeat "$BATS_TEST_TMPDIR/state-$block-b/state.json"
    if [ "$status_a" -ne 0 ] || [ "$status_b" -ne 0 ]; then
      cat "$BATS_TEST_TMPDIR"/job-"$block"-?/out >&2
      fail "block $block: a job failed ($status_a, $status_b)"
    fi
    [ ! -e "$MIGRATE_LOG.errors" ] || fail "block $block: $(cat "$MIGRATE_LOG.errors")"
    [ "$(grep -c . "$MIGRATE_LOG")" -ge 2 ] || fail "block $block: migrate did not run in both jobs"
    run bsup status -e migrations/app
    [ "$status" -eq 1 ] || fail "block $block left migrations/app held: $output"

    # A migration that fails: the job fails, and the key is free afterwards.
    export MIGRATE_LOG=$BATS_TEST_TMPDIR/failing-$block
    mkdir -p "$BATS_TEST_TMPDIR/fail-$block/db"
    status_f=0
    MIGRATE_FAIL=1 run_block "$block" "$BATS_TEST_TMPDIR/fail-$block" \
      "$BATS_TEST_TMPDIR/state-fail-$block/state.json" || status_f=$?
    stop_heartbeat "$BATS_TEST_TMPDIR/state-fail-$block/state.json"
    [ "$status_f" -ne 0 ] || fail "block $block: a failing migrate did not fail the job"
    grep -q . "$MIGRATE_LOG" || fail "block $block: migrate did not run"
    run bsup status -e migrations/app
    [ "$status" -eq 1 ] || fail "block $block: a failed migration left migrations/app held"
  done
}
