# bash completion for bsup                                     -*- shell-script -*-
#
# Completes subcommands, flags, driver and format names, and key names, which it asks bsup
# itself for ('bsup status --json': every held key), passing on the --from, --connection and
# --state-file typed on the line. Needs no bash-completion helpers and no jq.
# Install as /usr/share/bash-completion/completions/bsup, or source it from ~/.bashrc.
# tests/docs/completions.bats checks the flag lists below against 'bsup --help'.

_bsup_commands="register deregister lock run unlock status history renew services version"
_bsup_global_flags="--from --connection --state-file --timeout --token-file --lock-delay --json"
_bsup_global_flags+=" -o --output --log-format -v --verbose -q --quiet -h --help"
# Flags that take a value in the next word (or after '=').
_bsup_value_flags="--from --connection --state-file --timeout --token-file --lock-delay -o"
_bsup_value_flags+=" --output --log-format --name --id --address --service-version --tag --meta"
_bsup_value_flags+=" --check-http --ttl --wait --grace --conflict-exit-code --keepalive-pid"
_bsup_value_flags+=" --reason -n --limit"

_bsup_command_flags() {
  case $1 in
  register) echo "--name --id --address --service-version --tag --meta --check-http --ttl --keepalive --keepalive-pid" ;;
  deregister) echo "--force" ;;
  lock) echo "--ttl --wait --conflict-exit-code --keepalive --keepalive-pid" ;;
  run) echo "--wait --ttl --grace --conflict-exit-code" ;;
  unlock) echo "--force --reason" ;;
  history) echo "-n --limit" ;;
  status) echo "-e --exit-status" ;;
  esac
}

# Strips one level of shell quotes from a word as typed: 'a b' "a b" a\ b.
_bsup_dequote() {
  local w=$1
  case $w in
  \'*\') w=${w:1:${#w}-2} ;;
  \"*\") w=${w:1:${#w}-2} ;;
  *) w=${w//\\/} ;;
  esac
  printf '%s' "$w"
}

# The held keys, one a line, from 'bsup status --json' (an array of objects with a "key").
# $1 is the bsup that the line runs; the rest are connection flags to pass on.
_bsup_keys() {
  local cmd=$1 json
  shift
  cmd=${cmd/#\~/$HOME}
  json=$("$cmd" "$@" --timeout 2s status --json 2>/dev/null) || return 0
  # "key":"..." with JSON escapes; only \" and \\ can occur in a key.
  printf '%s\n' "$json" | grep -oE '"key":"([^"\\]|\\.)*"' |
    sed -E -e 's/^"key":"//' -e 's/"$//' -e 's/\\(["\\])/\1/g'
}

_bsup() {
  # Bash splits words at '=' and ':' (COMP_WORDBREAKS): join them again, so that
  # --from=sqlite and --connection sqlite:/tmp/x.db are one word each.
  local -a words=()
  local i n=0 cword=0 after_break=0 is_break w
  for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
    w=${COMP_WORDS[i]}
    is_break=0
    [[ -n $w && -z ${w//[=:]/} ]] && is_break=1
    if ((n > 0 && (is_break || after_break))); then
      words[n - 1]+=$w
    else
      words[n]=$w
      n=$((n + 1))
    fi
    after_break=$is_break
    ((i == COMP_CWORD)) && cword=$((n - 1))
  done
  local cur=${words[cword]-}
  local prev=""
  ((cword > 0)) && prev=${words[cword - 1]}

  # The subcommand, the positional words after it, and the connection flags typed.
  local cmd="" positionals=0 expect_value=0 child_at=0
  local -a conn=()
  for ((i = 1; i < cword; i++)); do
    w=${words[i]}
    if ((expect_value)); then
      expect_value=0
      continue
    fi
    if [[ $w == -- && $cmd == run ]]; then
      child_at=$((i + 1))
      break
    fi
    case $w in
    --from | --connection | --state-file)
      ((i + 1 < cword)) && conn+=("$w" "$(_bsup_dequote "${words[i + 1]}")")
      expect_value=1
      ;;
    --from=* | --connection=* | --state-file=*) conn+=("$(_bsup_dequote "$w")") ;;
    --*=*) ;;
    -*) [[ " $_bsup_value_flags " == *" $w "* ]] && expect_value=1 ;;
    *)
      if [[ -z $cmd ]]; then
        cmd=$w
      else
        positionals=$((positionals + 1))
      fi
      ;;
    esac
  done

  # Is the word a flag's value: after "--flag " or in "--flag="?
  local flag="" value_prefix=""
  if [[ $cur == --*=* ]]; then
    flag=${cur%%=*}
    value_prefix=$flag=
  elif ((expect_value)); then
    flag=$prev
  fi
  local value=${cur#"$value_prefix"}

  local -a candidates=()
  local list="" quote=0
  if ((child_at)); then
    # run KEY -- COMMAND ARGS: a command name, then file names.
    if ((cword == child_at)); then
      mapfile -t candidates < <(compgen -c -- "$cur" | sort -u)
    else
      mapfile -t candidates < <(compgen -f -- "$cur")
      compopt -o filenames 2>/dev/null || true
    fi
  elif [[ -n $flag ]]; then
    case $flag in
    --from) list="sqlite postgres consul" ;;
    -o | --output | --log-format) list="text json" ;;
    --state-file | --token-file)
      mapfile -t candidates < <(compgen -f -- "$value")
      compopt -o filenames 2>/dev/null || true
      ;;
    esac
  elif [[ $cur == -* ]]; then
    list=$_bsup_global_flags
    if [[ -n $cmd ]]; then
      list+=" $(_bsup_command_flags "$cmd")"
    else
      list+=" --version"
    fi
  elif [[ -z $cmd ]]; then
    list=$_bsup_commands
  elif [[ $cmd == status ]] || [[ $cmd =~ ^(lock|run|unlock|history)$ && $positionals -eq 0 ]]; then
    mapfile -t candidates < <(_bsup_keys "${words[0]}" "${conn[@]}")
    quote=1
  fi
  if [[ -n $list ]]; then
    read -ra candidates <<<"$list"
  fi

  # Keep what starts with the word; bash replaces only the part after its last '=' or ':'
  # (when they are in COMP_WORDBREAKS), so hand back only that part.
  local trim=$cur
  [[ $COMP_WORDBREAKS == *=* ]] || trim=${trim//=/ }
  [[ $COMP_WORDBREAKS == *:* ]] || trim=${trim//:/ }
  trim=${trim%"${trim##*[=:]}"}
  COMPREPLY=()
  local c
  for c in "${candidates[@]}"; do
    [[ $c == "$value"* ]] || continue
    # A key with characters special to the shell goes in quoted: odd\"key.
    ((quote)) && printf -v c '%q' "$c"
    c=$value_prefix$c
    COMPREPLY+=("${c:${#trim}}")
  done
  return 0
}

complete -F _bsup bsup
