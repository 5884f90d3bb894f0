#!/usr/bin/env bats
# The man page documents the command line as it is: every flag that --help lists, every
# subcommand, every exit code; and it is lint-clean.
load docs

setup() { common_setup; }

@test "help lists flags and subcommands (the parsers below see something)" {
  [ "$(help_flags | wc -l)" -ge 10 ]
  [ "$(help_flags lock | wc -l)" -ge 3 ]
  [ "$(help_subcommands | wc -l)" -ge 8 ]
  help_flags | grep -qx -- --state-file
  help_flags | grep -qx -- -o
  help_subcommands | grep -qx unlock
}

@test "every global flag of 'bsup --help' is in GLOBAL OPTIONS" {
  local section flag missing=0
  section=$(man_section "GLOBAL OPTIONS")
  [ -n "$section" ]
  for flag in $(help_flags); do
    require_word "$flag" "GLOBAL OPTIONS" <<<"$section" || missing=1
  done
  [ "$missing" -eq 0 ]
}

@test "every flag of 'bsup COMMAND --help' is in the command's section" {
  local cmd section flag missing=0
  for cmd in $(help_subcommands); do
    section=$(man_subsection COMMANDS "$cmd")
    [ -n "$section" ] || { echo "no section for $cmd in COMMANDS" >&2; missing=1; continue; }
    for flag in $(help_flags "$cmd"); do
      case $flag in -h | --help) continue ;; esac
      require_word "$flag" "COMMANDS/$cmd" <<<"$section" || missing=1
    done
  done
  [ "$missing" -eq 0 ]
}

@test "every subcommand has a section in COMMANDS and a line in SYNOPSIS" {
  local cmd missing=0 synopsis
  synopsis=$(man_section SYNOPSIS)
  for cmd in $(help_subcommands); do
    grep -qx "\.SS $cmd" "$BSUP_SOURCE_DIR/man/bsup.1" || { echo "no .SS $cmd" >&2; missing=1; }
    require_word "bsup $cmd" SYNOPSIS <<<"$synopsis" || missing=1
  done
  [ "$missing" -eq 0 ]
}

@test "every exit code of bsup is in EXIT STATUS" {
  local codes code section missing=0
  # The codes of core/errors.hpp's ExitCode (SPEC's table), and those that --help names.
  codes=$(sed -n '/enum class ExitCode/,/};/s/.*= *\([0-9][0-9]*\),.*/\1/p' \
    "$BSUP_SOURCE_DIR/core/errors.hpp")
  codes+=" $("$BSUP" --help | sed -n '/^Exit codes/,/^Usage/p' | grep -oE '(^| )[0-9]+ ' || true)"
  # And SPEC's own table, when BSUP_SPEC names the file (it is kept outside the repository).
  if [[ -n ${BSUP_SPEC:-} ]]; then
    codes+=" $(sed -n 's/^| \([0-9][0-9]*\) |.*/\1/p' "$BSUP_SPEC")"
  fi
  [ "$(wc -w <<<"$codes")" -ge 7 ]
  section=$(man_section "EXIT STATUS")
  for code in $codes; do
    grep -qE "^       $code +[^ ]" <<<"$section" || { echo "exit code $code missing" >&2; missing=1; }
  done
  [ "$missing" -eq 0 ]
}

@test "the environment variables bsup reads are in ENVIRONMENT" {
  local section var missing=0
  section=$(man_section ENVIRONMENT)
  # Every variable that the sources read, and SPEC's consul and postgres variables.
  for var in $(grep -rhoE 'env\("[A-Z_]+"' "$BSUP_SOURCE_DIR/core" "$BSUP_SOURCE_DIR/cli" \
    "$BSUP_SOURCE_DIR/drivers" | sed 's/env("//; s/"$//' | sort -u) \
    POSTGRES_SUPERVISOR_URL DATABASE_URL CONSUL_HTTP_ADDR CONSUL_ADDRESS \
    CONSUL_HTTP_TOKEN_FILE CONSUL_HTTP_TOKEN CONSUL_CACERT CONSUL_CAPATH CONSUL_CLIENT_CERT \
    CONSUL_CLIENT_KEY CONSUL_TLS_SERVER_NAME CONSUL_HTTP_SSL CONSUL_HTTP_SSL_VERIFY CONSUL_DATACENTER \
    CONSUL_NAMESPACE BSUP_MIN_TTL NO_COLOR XDG_STATE_HOME; do
    require_word "$var" ENVIRONMENT <<<"$section" || missing=1
  done
  [ "$missing" -eq 0 ]
}

@test "the JSON fields that bsup prints are in JSON OUTPUT" {
  local section field missing=0 doc
  section=$(man_section "JSON OUTPUT")
  # Every field name of real documents: lock, status, unlock, register, services, version,
  # deregister, run and an error.
  doc=$("$BSUP" lock docs/json --json
    "$BSUP" status docs/json --json
    "$BSUP" unlock docs/json --json
    "$BSUP" register --json
    "$BSUP" services --json
    "$BSUP" version --json
    "$BSUP" deregister --json
    "$BSUP" run docs/run --json -- true
    "$BSUP" status --from bogus --json || true)
  for field in $(grep -oE '"[a-z_]+":' <<<"$doc" | tr -d '":' | sort -u); do
    require_word "$field" "JSON OUTPUT" <<<"$section" || missing=1
  done
  [ "$missing" -eq 0 ]
}

@test "mandoc -T lint finds nothing" {
  run mandoc -T lint -W warning "$BSUP_SOURCE_DIR/man/bsup.1"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "man --warnings renders it without a warning" {
  require_tool man
  run bash -c 'MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null' _ "$BSUP_SOURCE_DIR/man/bsup.1"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}
