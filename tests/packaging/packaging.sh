#!/usr/bin/env bash
# The Debian package, as a platform team installs it: builds the .deb with cpack from the build
# folder, checks its control fields and contents, installs it with dpkg -i on this machine, runs
# the installed bsup, its man page and its bash completion (through bash-completion's loader),
# then removes it again, also when a check fails.
#
# Needs root (dpkg -i). Exit 77 (skipped) when not root, when a tool is missing, or when a bsup
# package is installed already (it is never replaced); with CI=true each of these fails instead.
# $BSUP_BUILD_DIR is the configured and built folder (set by ctest). By hand:
#   BSUP_BUILD_DIR=build tests/packaging/packaging.sh
set -euo pipefail

: "${BSUP_BUILD_DIR:?set BSUP_BUILD_DIR to the build folder}"

cannot_run() {
  if [[ ${CI:-} == true ]]; then
    echo "packaging: FAILED: $1 (CI never skips this suite)" >&2
    exit 1
  fi
  echo "packaging: skipped: $1" >&2
  exit 77
}

failures=0
check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAILED: $what" >&2
    failures=$((failures + 1))
  fi
}

[ "$(id -u)" -eq 0 ] || cannot_run "dpkg -i needs root"
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps readelf man bash; do
  command -v "$tool" >/dev/null || cannot_run "$tool is not installed"
done
[ -r /usr/share/bash-completion/bash_completion ] ||
  cannot_run "bash-completion is not installed (apt-get install bash-completion)"
if dpkg-query -W -f='${Status}' bsup 2>/dev/null | grep -q 'install ok installed'; then
  cannot_run "a bsup package is installed already; remove it first (dpkg -r bsup)"
fi

work=$(mktemp -d)
installed=false
cleanup() {
  if [[ $installed == true ]]; then
    dpkg -r bsup >/dev/null || echo "packaging: could not remove bsup (dpkg -r bsup)" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Build the .deb.
cpack --config "$BSUP_BUILD_DIR/CPackConfig.cmake" -G DEB -B "$work" >"$work/cpack.log" 2>&1 || {
  cat "$work/cpack.log" >&2
  exit 1
}
debs=("$work"/bsup_*.deb)
if [ "${#debs[@]}" -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  echo "cpack wrote no single bsup_*.deb in $work" >&2
  exit 1
fi
deb=${debs[0]}
echo "built $(basename "$deb")"

field() { dpkg-deb -f "$deb" "$1"; }
# The version of project() in CMakeLists.txt (ctest sets it), else the package's own.
version=${BSUP_PROJECT_VERSION:-$(field Version)}

# Small predicates for check.
lacks_libraries() { ! grep -qE 'libpq|libcurl|libstdc|libsqlite' <<<"$1"; }
recommends_clients() { [[ $1 == *libpq5* && $1 == *libcurl4* ]]; }
is_stripped() { ! readelf -S "$1" | grep -q '\.symtab'; }
all_under_usr() { ! grep -v -e '^\./usr' -e '^\./$' <<<"$1"; }
# gzip's header holds a time stamp at bytes 4-7: 0 when gzip -n wrote it.
is_gzip_n() { gzip -t "$1" && [ "$(od -An -tu4 -j4 -N4 "$1" | tr -d ' ')" = 0 ]; }
bsup_on_path() { [ "$(env -i PATH=/usr/local/bin:/usr/bin:/bin bash -c 'command -v bsup')" = /usr/bin/bsup ]; }
locks_on_sqlite() { /usr/bin/bsup lock packaging/smoke >/dev/null && /usr/bin/bsup unlock packaging/smoke >/dev/null; }
man_renders() { MANPAGER=cat MANWIDTH=100 man bsup 2>/dev/null | grep -q 'locks and a service registry'; }
zsh_fpath_has_vendor() { zsh -fc '(( ${fpath[(Ie)/usr/share/zsh/vendor-completions]} ))'; }
# Not --no-config: it empties fish_complete_path. HOME is a fresh folder here.
fish_completes() { [ "$(fish -c 'complete -C "bsup lo"' | cut -f1)" = lock ]; }
nothing_left() {
  [ ! -e /usr/share/bash-completion/completions/bsup ] && [ ! -e /usr/share/man/man1/bsup.1.gz ] &&
    [ ! -e /usr/share/zsh/vendor-completions/_bsup ] && [ ! -e /usr/share/fish/vendor_completions.d/bsup.fish ]
}

# 2. The control fields.
check "Package is bsup" [ "$(field Package)" = bsup ]
check "Section is utils" [ "$(field Section)" = utils ]
check "Maintainer is 'Name <address>'" grep -qE '^.+ <[^>]+@[^>]+>$' <<<"$(field Maintainer)"
check "Description has a summary and a long text" [ "$(field Description | wc -l)" -gt 2 ]
depends=$(field Depends)
recommends=$(field Recommends)
echo "Depends: $depends"
echo "Recommends: $recommends"
check "Depends names libc6 with a version (dpkg-shlibdeps)" grep -qE '(^|, )libc6 \(>= [0-9.]+\)' <<<"$depends"
check "Depends has no library bsup only dlopens or links statically" lacks_libraries "$depends"
check "Recommends libpq5 and libcurl4" recommends_clients "$recommends"

# Every library the packaged binary needs (its ELF NEEDED entries) comes from a package that is in
# Depends; nothing else is in Depends.
dpkg-deb -x "$deb" "$work/root"
needed=$(readelf -d "$work/root/usr/bin/bsup" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $(echo "$needed" | tr '\n' ' ')"
needed_packages=$(for lib in $needed; do
  path=$(ldconfig -p | awk -v lib="$lib" '$1 == lib { print $NF; exit }')
  [ -n "$path" ] || path=$(readlink -f "/lib64/$lib" 2>/dev/null || echo "/lib64/$lib")
  dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")"
done | cut -d: -f1 | sort -u)
depends_packages=$(tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ .*//' | sort -u)
check "Depends is exactly the packages of the NEEDED libraries ($(tr '\n' ' ' <<<"$needed_packages"))" \
  [ "$needed_packages" = "$depends_packages" ]
check "the binary is stripped" is_stripped "$work/root/usr/bin/bsup"

# 3. The files, where Debian's tools look for them.
contents=$(dpkg-deb -c "$deb" | awk '{ print $NF }')
for path in ./usr/bin/bsup ./usr/share/man/man1/bsup.1.gz \
  ./usr/share/bash-completion/completions/bsup ./usr/share/zsh/vendor-completions/_bsup \
  ./usr/share/fish/vendor_completions.d/bsup.fish; do
  check "the package holds $path" grep -qx -- "$path" <<<"$contents"
done
check "every file is under /usr" all_under_usr "$contents"
check "the man page is gzip -n (no time stamp)" is_gzip_n "$work/root/usr/share/man/man1/bsup.1.gz"

# 4. Install it, and use it as a user does.
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  exit 1
}
installed=true
export HOME=$work/home XDG_STATE_HOME=$work/state
mkdir -p "$HOME"
status_fields=$(dpkg -s bsup)
echo "$status_fields" | grep -E '^(Package|Status|Version|Depends|Recommends):'
check "dpkg -s: installed" grep -qx 'Status: install ok installed' <<<"$status_fields"
check "dpkg -s: Depends on libc6" grep -qE '^Depends: .*libc6' <<<"$status_fields"
check "dpkg -s: Recommends libpq5, libcurl4" grep -qx 'Recommends: libpq5, libcurl4' <<<"$status_fields"

out=$(/usr/bin/bsup version 2>&1) || true
echo "bsup version: $out"
check "/usr/bin/bsup version prints $version" grep -qF -- "$version" <<<"$out"
check "bsup on PATH is /usr/bin/bsup" bsup_on_path
check "the installed bsup takes a lock on its sqlite default" locks_on_sqlite

manpath=$(man -w bsup 2>&1) || true
echo "man -w bsup: $manpath"
check "man -w bsup finds /usr/share/man/man1/bsup.1.gz" [ "$manpath" = /usr/share/man/man1/bsup.1.gz ]
check "man bsup renders its NAME" man_renders

# bash: bash-completion's on-demand loader finds the installed file when TAB is pressed after
# 'bsup'; completing 'bsup lo' gives 'lock'.
completed=$(bash --norc --noprofile -c '
  set -u
  source /usr/share/bash-completion/bash_completion
  _completion_loader bsup || true
  spec=$(complete -p bsup) || { echo "bash-completion loaded nothing for bsup" >&2; exit 1; }
  function=${spec#*-F }
  function=${function%% *}
  COMP_WORDS=(bsup lo)
  COMP_CWORD=1
  COMP_LINE="bsup lo"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$function" bsup lo bsup
  printf "%s\n" "${COMPREPLY[@]}"
' 2>&1) || true
echo "bash completion of 'bsup lo': $completed"
check "bash completes 'bsup lo' to lock, from the installed file" [ "$completed" = lock ]
if command -v zsh >/dev/null; then
  check "zsh's fpath has the folder of _bsup" zsh_fpath_has_vendor
fi
if command -v fish >/dev/null; then
  check "fish finds the installed completion and completes 'bsup lo' to lock" fish_completes
fi

# 5. Remove it: nothing of it is left.
dpkg -r bsup >/dev/null
installed=false
check "dpkg -r removes /usr/bin/bsup" [ ! -e /usr/bin/bsup ]
check "dpkg -r removes the completions and the man page" nothing_left

if [ "$failures" -gt 0 ]; then
  echo "packaging: $failures check(s) failed" >&2
  exit 1
fi
echo "packaging: all checks passed"
