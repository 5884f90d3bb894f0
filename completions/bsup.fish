# fish completion for bsup: subcommands, flags, driver and format names, and key names, which it
# asks bsup itself for ('bsup status --json': every held key), passing on the --from,
# --connection and --state-file typed on the line. Needs no jq.
# Install as /usr/share/fish/vendor_completions.d/bsup.fish.
# tests/docs/completions.bats checks the flag lists below against 'bsup --help'.

# Flags that take a value in the next word.
set -g __bsup_value_flags --from --connection --state-file --timeout --token-file --lock-delay \
    -o --output --log-format --name --id --address --service-version --tag --meta --check-http \
    --ttl --wait --grace --conflict-exit-code --keepalive-pid

# Prints the subcommand typed so far, if any.
function __bsup_subcommand
    set -l tokens (commandline -opc)
    set -l skip 0
    for token in $tokens[2..-1]
        if test $skip = 1
            set skip 0
        else if test "$token" = --
            break
        else if contains -- $token $__bsup_value_flags
            set skip 1
        else if not string match -q -- '-*' $token
            echo $token
            return 0
        end
    end
    return 1
end

function __bsup_no_subcommand
    not __bsup_subcommand >/dev/null
end

function __bsup_using
    set -l cmd (__bsup_subcommand)
    and contains -- $cmd $argv
end

# The words typed after the subcommand that are not flags (positionals).
function __bsup_positionals
    set -l tokens (commandline -opc)
    set -l skip 0
    set -l seen 0
    for token in $tokens[2..-1]
        if test $skip = 1
            set skip 0
        else if contains -- $token $__bsup_value_flags
            set skip 1
        else if not string match -q -- '-*' $token
            set seen (math $seen + 1)
        end
    end
    math "max(0, $seen - 1)"
end

# After 'run KEY --': true, and the words of the command typed so far.
function __bsup_child_words
    set -l tokens (commandline -opc)
    set -l at (contains -i -- -- $tokens)
    or return 1
    __bsup_using run; or return 1
    echo (string join ' ' -- $tokens[(math $at + 1)..-1])
end

# The held keys, one a line, from 'bsup status --json'.
function __bsup_keys
    set -l tokens (commandline -opc)
    set -l conn
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case --from --connection --state-file
                if test $i -lt (count $tokens)
                    set -a conn $tokens[$i] $tokens[(math $i + 1)]
                end
                set i (math $i + 1)
            case '--from=*' '--connection=*' '--state-file=*'
                set -a conn $tokens[$i]
        end
        set i (math $i + 1)
    end
    # "key":"..." with JSON escapes; only \" and \\ can occur in a key.
    command $tokens[1] $conn --timeout 2s status --json 2>/dev/null \
        | string match -a -r -g '"key":"((?:[^"\\\\]|\\\\.)*)"' \
        | string replace -a -r '\\\\(["\\\\])' '$1'
end

complete -c bsup -f

# Subcommands.
complete -c bsup -n __bsup_no_subcommand -a register -d 'Start a session and register its service'
complete -c bsup -n __bsup_no_subcommand -a deregister -d 'End this session, release its keys'
complete -c bsup -n __bsup_no_subcommand -a lock -d 'Acquire KEY for this session'
complete -c bsup -n __bsup_no_subcommand -a run -d 'Hold KEY exactly as long as a command runs'
complete -c bsup -n __bsup_no_subcommand -a unlock -d 'Release KEY held by this session'
complete -c bsup -n __bsup_no_subcommand -a status -d 'Show who holds keys'
complete -c bsup -n __bsup_no_subcommand -a history -d 'Show the grants, releases, expiries and breaks'
complete -c bsup -n __bsup_no_subcommand -a renew -d 'Extend this session by its TTL'
complete -c bsup -n __bsup_no_subcommand -a services -d 'List the registered services'
complete -c bsup -n __bsup_no_subcommand -a version -d 'Print the version and the drivers'

# Global flags, before or after the subcommand.
complete -c bsup -l from -x -a 'sqlite postgres consul' -d 'Driver'
complete -c bsup -l connection -x -d 'Backend connection (a secret)'
complete -c bsup -l state-file -r -F -d 'Session state file'
complete -c bsup -l timeout -x -d 'Bound on each backend call (default 10s)'
complete -c bsup -l token-file -r -F -d 'consul: file with the ACL token'
complete -c bsup -l lock-delay -x -d 'consul: the session lock delay (default 15s)'
complete -c bsup -l json -d 'Print one JSON document on stdout'
complete -c bsup -s o -l output -x -a 'text json' -d 'Output format'
complete -c bsup -l log-format -x -a 'text json' -d 'Format of diagnostics on stderr'
complete -c bsup -s v -l verbose -d 'Log what bsup does on stderr'
complete -c bsup -s q -l quiet -d 'Print only results and errors'
complete -c bsup -s h -l help -d 'Print help and exit'
complete -c bsup -n __bsup_no_subcommand -l version -d 'Print the version and exit'

# register
complete -c bsup -n '__bsup_using register' -l name -x -d 'Service name (default bsup)'
complete -c bsup -n '__bsup_using register' -l id -x -d 'Service ID (default: the session ID)'
complete -c bsup -n '__bsup_using register' -l address -x -d 'Service address (default: host name)'
complete -c bsup -n '__bsup_using register' -l service-version -x -d 'Service version'
complete -c bsup -n '__bsup_using register' -l tag -x -d 'Service tag (repeatable)'
complete -c bsup -n '__bsup_using register' -l meta -x -d 'Service metadata KEY=VALUE (repeatable)'
complete -c bsup -n '__bsup_using register' -l check-http -x -d 'consul: health check URL'
complete -c bsup -n '__bsup_using register lock' -l ttl -x -d 'Session TTL, 10s to 24h (default 15m)'
complete -c bsup -n '__bsup_using register lock' -l keepalive -d 'Renew the session while the shell lives'
complete -c bsup -n '__bsup_using register lock' -l keepalive-pid -x -d 'Watch this process instead'

# deregister, unlock
complete -c bsup -n '__bsup_using deregister' -l force -d 'Discard the state file whatever it holds'
complete -c bsup -n '__bsup_using unlock' -l force -d 'Break the lock whoever holds it'
complete -c bsup -n '__bsup_using unlock' -l reason -x -d 'With --force: why, recorded in the history'

# history
complete -c bsup -n '__bsup_using history' -s n -l limit -x -d 'Show the newest N events (default 20)'

# lock, run
complete -c bsup -n '__bsup_using lock run' -l wait -x -d 'Wait up to this long for the key'
complete -c bsup -n '__bsup_using lock run' -l conflict-exit-code -x -d 'Exit code when held by another'
complete -c bsup -n '__bsup_using run' -l grace -x -d 'Time between TERM and KILL (default 10s)'
complete -c bsup -n '__bsup_using run' -l ttl -x -d 'TTL of the session run starts (default 15s)'
# run KEY -- COMMAND: complete the command as fish would on its own.
complete -c bsup -n __bsup_child_words -a '(complete -C (__bsup_child_words)" "(commandline -ct))'

# status
complete -c bsup -n '__bsup_using status' -s e -l exit-status -d 'Exit 1 when a named key is free'

# Keys: one for lock, unlock and history, any number for status.
complete -c bsup -n '__bsup_using lock run unlock history; and not __bsup_child_words >/dev/null; and test (__bsup_positionals) = 0' -a '(__bsup_keys)' -d 'Held key'
complete -c bsup -n '__bsup_using status' -a '(__bsup_keys)' -d 'Held key'
