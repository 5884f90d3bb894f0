#!/usr/bin/env zsh
# Completes a command line in a real interactive zsh, as a user does by pressing TAB, and
# prints the line as it reads afterwards. The zsh runs in a pseudo-terminal (zsh/zpty) with
# compinit and the completion functions of FOLDER first in $fpath.
#   usage: zsh_complete.zsh FOLDER LINE
# Exit 3 when the zsh/zpty module is missing. The caller bounds the run time (timeout).
emulate -L zsh
setopt err_return

(( $# == 2 )) || { print -u2 "usage: $0 FOLDER LINE"; exit 2 }
zmodload zsh/zpty 2>/dev/null || { print -u2 "zsh/zpty is not available"; exit 3 }
local folder=$1 typed=$2 out=""

zpty bsup_test zsh -f -i
{
  zpty -w bsup_test "PS1='' PROMPT='' RPROMPT='' PROMPT_EOL_MARK=''; unsetopt zle_bracketed_paste 2>/dev/null"
  zpty -w bsup_test "fpath=(${(q)folder} \$fpath); autoload -Uz compinit; compinit -u -D"
  # A widget that prints the edited line between markers that the echo of this definition
  # does not contain ('@@' is built at run time).
  zpty -w bsup_test 'bsup_dump() { local m=@; print -r -- "$m$m<$BUFFER>$m$m"; }; zle -N bsup_dump'
  zpty -w bsup_test "bindkey '^I' complete-word; bindkey '^X' bsup_dump"
  # Type the line, press TAB, then ^X; zle handles the keys in order.
  zpty -w -n bsup_test "$typed"$'\t'
  zpty -w -n bsup_test $'\x18'
  zpty -r bsup_test out '*@@<*>@@*'
} always {
  zpty -d bsup_test
}
out=${out##*@@<}
print -r -- "${out%%>@@*}"
