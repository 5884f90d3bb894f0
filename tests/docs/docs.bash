# Shared by the docs suites (man.bats, completions.bats): what 'bsup --help' lists, and the
# man page as mandoc renders it. $BSUP is the binary under test (set by ctest).

load ../lib/common

# The flags that 'bsup [COMMAND] --help' lists, one a line: "-o" and "--output" for
# "  -o,--output TEXT:{text,json}". CLI11 starts every option line with two spaces and a dash.
help_flags() {
  "$BSUP" "$@" --help | sed -n 's/^  \(-[^ ]*\).*/\1/p' | tr ',' '\n'
}

# The subcommands that 'bsup --help' lists, one a line.
help_subcommands() {
  "$BSUP" --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'
}

# The man page as plain text, one paragraph a line (mandoc neither wraps at 200 columns for
# these paragraphs nor hyphenates).
rendered_man() {
  mandoc -T ascii -O width=250 "$BSUP_SOURCE_DIR/man/bsup.1" | sed 's/.\x08//g'
}

# The text of one section (NAME in capitals) of the rendered man page.
man_section() {
  rendered_man | awk -v name="$1" '/^[A-Z]/ { on = ($0 == name); next } on'
}

# The text of one subsection ("   lock") of a section of the rendered man page.
man_subsection() {
  man_section "$1" | awk -v name="   $2" '/^   [^ ]/ { on = ($0 == name); next } on'
}

# Fails, saying what is missing, when a word is not in the text on stdin.
require_word() {
  local word=$1 what=$2 text
  text=$(cat)
  if ! grep -qE -- "(^|[^[:alnum:]_-])$word([^[:alnum:]_-]|$)" <<<"$text"; then
    echo "missing in $what: $word" >&2
    return 1
  fi
}

# Runs a test when a tool is installed; without it, skips outside CI and fails in CI.
require_tool() {
  if ! command -v "$1" >/dev/null; then
    if [[ ${CI:-} == true ]]; then
      echo "$1 is not installed (apt-get install $1)" >&2
      return 1
    fi
    skip "$1 is not installed"
  fi
}
