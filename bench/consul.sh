#!/usr/bin/env bash
# Issue 4's benchmark: the consul driver against Consul's own CLI and the HTTP floor, on one
# `consul agent -dev` (started here on free loopback ports, stopped at exit), in one run,
# alternating (bench/runner.c: one run of each line per round). Median wall time and peak
# resident memory, as ratios. Writes the figures, the machine, the versions and the exact command
# to docs/performance/consul.md.
#
# Goals: a bsup lock-and-unlock pair at least 2x faster than one `consul lock PREFIX true`; each
# bsup call within 1.3x the median of one curl request (the floor); bsup's peak memory under a
# fifth of consul's.
#
# Usage: bench/consul.sh [-n ROUNDS] [-w WARMUP] [-o FILE.md | --no-doc] [--tsv FILE]
#                        [--agent HOST:PORT] [--check]
#   BSUP=path/to/bsup (default: build/bsup; a Release build)
#   --tsv     also copy the runner's results (bench/runner.c's TSV columns) to FILE
#   --agent   use that (plain HTTP, no ACL) agent instead of starting one (bench/run passes its own)
#   --check   exit 1 when a goal is missed (the figures are written all the same)
#
# Lines measured, every round in this order:
#   curl          curl -s -o /dev/null URL        one GET of the key's KV entry (the floor)
#   consul-lock   consul lock PREFIX true         session, lock, run `true`, release, destroy
#   bsup-lock     bsup lock KEY                   with a registered session (the steady state)
#   bsup-unlock   bsup unlock KEY
#   bsup-status   bsup status KEY
#   bsup-lock-first  bsup lock KEY2 with no state file: creates the session and registers the
#                 service first (an untimed `bsup deregister` follows each run)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bsup=${BSUP:-$root/build/bsup}
rounds=200
warmup=10
doc=$root/docs/performance/consul.md
check=false
tsv_out=
agent=

while (($#)); do
    case $1 in
    -n) rounds=$2; shift 2 ;;
    -w) warmup=$2; shift 2 ;;
    -o) doc=$2; shift 2 ;;
    --no-doc) doc=; shift ;;
    --tsv) tsv_out=$2; shift 2 ;;
    --agent) agent=$2; shift 2 ;;
    --check) check=true; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "consul.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [[ ! -x $bsup ]]; then
    echo "consul.sh: no bsup at $bsup; build it (cmake --build build) or set BSUP" >&2
    exit 2
fi
bsup=$(cd "$(dirname "$bsup")" && pwd)/$(basename "$bsup")

# shellcheck source=tests/servers/consul.sh
source "$root/tests/servers/consul.sh"
consul_fetch || { echo "consul.sh: cannot fetch consul" >&2; exit 2; }

tmp=$(mktemp -d)
cleanup() {
    "$bsup" deregister --force -q >/dev/null 2>&1 || true
    consul_stop BENCH
    rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -o "$tmp/runner" "$root/bench/runner.c"
if [[ -n $agent ]]; then
    addr=$agent
else
    consul_start BENCH
    addr=127.0.0.1:$CONSUL_BENCH_PORT
fi

# Only this benchmark's own files and agent.
unset BSUP_STATE_FILE BSUP_FROM BSUP_MIN_TTL CONSUL_HTTP_TOKEN CONSUL_HTTP_TOKEN_FILE
export XDG_STATE_HOME=$tmp/state BSUP_CONNECTION=http://$addr CONSUL_HTTP_ADDR=$addr
key=bench/consul
first_key=bench/consul-first
first_state=$tmp/first-state.json

"$bsup" register -q --lock-delay 0 >/dev/null

runner_cmd=(
    "$tmp/runner" -n "$rounds" -w "$warmup" -b curl --tsv "$tmp/results.tsv"
    --name curl -- curl -s -o /dev/null "http://$addr/v1/kv/blacksmith/$key"
    --name consul-lock -- "$CONSUL_BIN" lock "consul-bench" true
    --name bsup-lock -- "$bsup" lock "$key"
    --name bsup-unlock -- "$bsup" unlock "$key"
    --name bsup-status -- "$bsup" status "$key"
    --name bsup-lock-first --env "BSUP_STATE_FILE=$first_state" -- "$bsup" lock "$first_key"
    --name deregister-first --setup --env "BSUP_STATE_FILE=$first_state" -- "$bsup" deregister
)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"${runner_cmd[@]}"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -n $tsv_out ]]; then cp "$tmp/results.tsv" "$tsv_out"; fi
version_rss=
if [[ -x /usr/bin/time ]]; then
    version_rss=$(/usr/bin/time -f %M "$bsup" version 2>&1 >/dev/null | tail -n1)
fi

# TSV columns: name runs median_ms p95_ms min_ms max_ms mean_ms rss_median_kib rss_max_kib
# ratio rss_ratio
col() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n { print $c }' "$tmp/results.tsv"; }
verdicts=$(
    awk -v curl="$(col curl 3)" -v consul="$(col consul-lock 3)" -v consul_rss="$(col consul-lock 9)" \
        -v lock="$(col bsup-lock 3)" -v unlock="$(col bsup-unlock 3)" \
        -v status="$(col bsup-status 3)" -v first="$(col bsup-lock-first 3)" \
        -v rss_lock="$(col bsup-lock 9)" -v rss_unlock="$(col bsup-unlock 9)" \
        -v rss_status="$(col bsup-status 9)" -v rss_first="$(col bsup-lock-first 9)" 'BEGIN {
        pair = lock + unlock
        v(pair * 2 <= consul, "lock+unlock pair vs consul lock", sprintf("%.1fx faster", consul / pair), ">= 2x faster")
        v(lock <= 1.3 * curl, "bsup lock vs curl", sprintf("%.2fx", lock / curl), "<= 1.3x")
        v(unlock <= 1.3 * curl, "bsup unlock vs curl", sprintf("%.2fx", unlock / curl), "<= 1.3x")
        v(status <= 1.3 * curl, "bsup status vs curl", sprintf("%.2fx", status / curl), "<= 1.3x")
        v(first <= 1.3 * curl, "bsup lock (first, registers) vs curl", sprintf("%.2fx", first / curl), "<= 1.3x (not a goal)")
        max = rss_lock; if (rss_unlock > max) max = rss_unlock; if (rss_status > max) max = rss_status
        if (rss_first > max) max = rss_first
        v(max * 5 < consul_rss, "bsup max peak vs consul lock max peak", sprintf("%d / %d KiB = 1/%.1f", max, consul_rss, consul_rss / max), "< 1/5")
    }
    function v(ok, what, got, goal) { printf "%s\t%s\t%s\t%s\n", what, goal, got, ok ? "meets" : "misses" }'
)
echo
printf '%s\n' "$verdicts" | column -t -s $'\t'

if [[ -n $doc ]]; then
    mkdir -p "$(dirname "$doc")"
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p)
    {
        echo "# Performance: the consul driver"
        echo
        echo "Written by \`bench/consul.sh\` on $(date -u +%Y-%m-%dT%H:%M:%SZ); run it again to refresh."
        echo
        echo "Goals (issue 4): a bsup lock-and-unlock pair at least **2x** faster than one"
        echo "\`consul lock PREFIX true\`; each bsup call within **1.3x** the median wall time of one"
        echo "\`curl\` request to the same agent (the floor); bsup's peak memory under **a fifth** of"
        echo "consul's."
        echo
        echo "## Verdicts"
        echo
        echo "| measure | goal | result | verdict |"
        echo "| --- | --- | ---: | --- |"
        printf '%s\n' "$verdicts" | awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
        echo
        echo "## Figures"
        echo
        echo "One \`consul agent -dev\` (Consul $("$CONSUL_BIN" version | sed -n 1p | cut -d' ' -f2),"
        echo "Debian bullseye's) on loopback; $rounds rounds after $warmup warm-up rounds; each round runs"
        echo "every line once, in this order, each by fork and exec without a shell (\`bench/runner.c\`)."
        echo "Wall time from fork to the return of wait4 (CLOCK_MONOTONIC); peak memory is wait4's"
        echo "\`ru_maxrss\`. Ratios are over curl's medians."
        echo
        echo "| command | runs | median ms | p95 ms | min ms | max ms | median peak KiB | max peak KiB | time / curl | memory / curl |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        awk -F'\t' 'NR > 1 { printf "| %s | %d | %.3f | %.3f | %.3f | %.3f | %d | %d | %.2f | %.2f |\n",
            $1, $2, $3, $4, $5, $6, $8, $9, $10, $11 }' "$tmp/results.tsv"
        echo
        echo "- \`curl\`: \`curl -s -o /dev/null http://AGENT/v1/kv/blacksmith/$key\`: one GET, the floor."
        echo "- \`consul-lock\`: \`consul lock consul-bench true\`: Consul's own CLI creates a session,"
        echo "  acquires \`consul-bench/.lock\`, runs \`true\`, releases and destroys the session."
        echo "- \`bsup-lock\`: \`bsup lock $key\` with a session registered beforehand (the steady state:"
        echo "  one GET and one transaction); \`bsup-unlock\` right after it (one transaction);"
        echo "  \`bsup-status\`: one GET."
        echo "- \`bsup-lock-first\`: \`bsup lock $first_key\` with no state file: it creates the Consul"
        echo "  session and registers the service first (four requests); an untimed \`bsup deregister\`"
        echo "  follows each run. Not one of the goals; shown for reference."
        echo "- bsup speaks plain HTTP to the agent over its own small client and loads no libcurl"
        echo "  (only an https:// agent does); curl links libcurl and pays for loading it and its"
        echo "  dependencies (OpenSSL, nghttp2, ...). \`bsup version\` alone peaks at ${version_rss:-?} KiB."
        echo "- Load average (1, 5, 15 min) before: $load_before; after: $load_after. The machine is"
        echo "  shared: absolute times move with its load, the alternating ratios much less."
        echo
        echo "## Machine"
        echo
        echo "- CPU: ${cpu:-unknown}, $(nproc) cores (nproc)"
        echo "- Kernel: $(uname -srm)"
        echo "- $(ldd --version 2>&1 | sed -n 1p)"
        echo
        echo "## Versions"
        echo
        echo "- $("$bsup" version 2>&1 | sed -n 1p)"
        echo "- $(curl --version | sed -n 1p)"
        echo "- $("$CONSUL_BIN" version | sed -n 1p)"
        echo "- bsup binary: $(stat -c %s "$bsup") bytes; linked to: $(ldd "$bsup" 2>/dev/null |
            awk '{ print $1 }' | tr '\n' ' ')"
        echo
        echo "## Command"
        echo
        echo '```sh'
        echo "BSUP=${BSUP:-build/bsup} bench/consul.sh -n $rounds -w $warmup"
        echo '```'
        echo
        echo "which runs (paths under a temporary folder shown as \$TMP, the agent as \$AGENT):"
        echo
        echo '```sh'
        printf '%q ' "${runner_cmd[@]}" | sed "s|$tmp|\$TMP|g; s|$root/||g; s|$addr|\$AGENT|g" |
            fold -s -w 96
        echo
        echo '```'
    } >"$doc.tmp"
    mv "$doc.tmp" "$doc"
    echo "wrote ${doc#"$root"/}"
fi

if $check && grep -q $'\tmisses$' <<<"$verdicts"; then
    exit 1
fi
