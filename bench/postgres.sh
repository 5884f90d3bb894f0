#!/usr/bin/env bash
# Benchmark of the postgres driver (not a test): one run, one throwaway PostgreSQL 15 on loopback
# (tests/servers/postgres.sh), three clients doing the same job, alternated round by round by
# bench/runner.c (fork and exec, no shell), median wall time and peak RSS as ratios:
#   floor  bench/floor_libpq.c: one connection, one query, libpq linked (the least possible)
#   psql   psql -c "select pg_try_advisory_lock(...)" / pg_advisory_unlock
#   bsup   bsup lock / bsup unlock, with a registered session (the state file exists)
# Writes the figures and the exact command into docs/performance/postgres.md.
#
#   BSUP=build/bsup bench/postgres.sh [-n ROUNDS] [-w WARMUP] [-o FILE.md | --no-doc] [--tsv FILE]
#                                     [--url URL]
#   BSUP=build/bsup bench/postgres.sh [ROUNDS]     (the same as -n ROUNDS)
# Defaults: 200 rounds, 10 warm-up. --tsv also copies the runner's results (bench/runner.c's TSV
# columns) to FILE. --url: use that (trusted, loopback) server instead of starting one (bench/run
# passes its own).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bsup=$(realpath "${BSUP:-$root/build/bsup}")
rounds=200
warmup=10
out=$root/docs/performance/postgres.md
tsv_out=
url=

while (($#)); do
  case $1 in
  -n) rounds=$2; shift 2 ;;
  -w) warmup=$2; shift 2 ;;
  -o) out=$2; shift 2 ;;
  --no-doc) out=; shift ;;
  --tsv) tsv_out=$2; shift 2 ;;
  --url) url=$2; shift 2 ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  [0-9]*) rounds=$1; shift ;;
  *) echo "postgres.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

tmp=$(mktemp -d)
chmod 0755 "$tmp"
cleanup() {
  "$root/tests/servers/postgres.sh" stop "$tmp" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 143" INT TERM

cc -O2 -o "$tmp/runner" "$root/bench/runner.c"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
cc -O2 -o "$tmp/floor_libpq" "$root/bench/floor_libpq.c" $(pkg-config --cflags --libs libpq)

if [[ -z $url ]]; then
  port=$(BSUP_PG_FSYNC=on "$root/tests/servers/postgres.sh" start "$tmp")
  url="postgresql://postgres@127.0.0.1:$port/postgres"
else
  port=$(sed -n 's|.*:\([0-9][0-9]*\)/.*|\1|p' <<<"$url")
fi
state=$tmp/state/state.json
BSUP_STATE_FILE=$state "$bsup" --connection "$url" register >/dev/null

runner_cmd=(
  "$tmp/runner" -n "$rounds" -w "$warmup" -b floor_lock --tsv "$tmp/results.tsv"
  --name floor_lock -- "$tmp/floor_libpq" "$url" "select pg_try_advisory_lock(42)"
  --name floor_unlock -- "$tmp/floor_libpq" "$url" "select pg_advisory_unlock(42)"
  --name psql_lock -- psql -X -Atq -d "$url" -c "select pg_try_advisory_lock(42)"
  --name psql_unlock -- psql -X -Atq -d "$url" -c "select pg_advisory_unlock(42)"
  --name bsup_lock --env "BSUP_STATE_FILE=$state" -- "$bsup" --connection "$url" lock bench/k
  --name bsup_unlock --env "BSUP_STATE_FILE=$state" -- "$bsup" --connection "$url" unlock bench/k
)
"${runner_cmd[@]}" | tee "$tmp/table.txt"
if [[ -n $tsv_out ]]; then cp "$tmp/results.tsv" "$tsv_out"; fi
if [[ -z $out ]]; then exit 0; fi

median() { awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$tmp/results.tsv"; }
rss() { awk -F'\t' -v n="$1" '$1 == n { print $8 }' "$tmp/results.tsv"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

bsup_pair=$(awk -v a="$(median bsup_lock)" -v b="$(median bsup_unlock)" 'BEGIN { print a + b }')
floor_pair=$(awk -v a="$(median floor_lock)" -v b="$(median floor_unlock)" 'BEGIN { print a + b }')
psql_pair=$(awk -v a="$(median psql_lock)" -v b="$(median psql_unlock)" 'BEGIN { print a + b }')

mkdir -p "$(dirname "$out")"
{
  echo "# PostgreSQL driver: performance"
  echo
  echo "Measured by \`bench/postgres.sh\` on $(date -u +%Y-%m-%d), $(nproc) CPUs, PostgreSQL"
  echo "$(psql -X -Atq -d "$url" -c 'show server_version'), $(uname -sr). One throwaway server on"
  echo "loopback (trust authentication, no TLS), $rounds measured rounds after $warmup warm-up"
  echo "rounds; in each round every command runs once, in the order of the table, by fork and exec"
  echo "without a shell (\`bench/runner.c\`). Wall time from fork to wait4; peak RSS from wait4."
  echo
  echo "- **floor**: \`bench/floor_libpq.c\`, libpq linked, one connection and one query."
  echo "- **psql**: \`psql -X -Atq -c \"select pg_try_advisory_lock(42)\"\` (and pg_advisory_unlock)."
  echo "- **bsup**: \`bsup lock bench/k\` and \`bsup unlock bench/k\` with a registered session: each"
  echo "  loads libpq (dlopen), connects, and runs one statement (bsup's schema is brought up to date only
  when a statement finds it missing, so the common case pays no schema check)."
  echo
  echo "| | lock / unlock median (ms) | pair vs floor | pair vs psql | peak RSS lock (KiB) |"
  echo "|---|---|---|---|---|"
  echo "| floor | $(median floor_lock) / $(median floor_unlock) | 1.00 | $(ratio "$floor_pair" "$psql_pair") | $(rss floor_lock) |"
  echo "| psql | $(median psql_lock) / $(median psql_unlock) | $(ratio "$psql_pair" "$floor_pair") | 1.00 | $(rss psql_lock) |"
  echo "| bsup | $(median bsup_lock) / $(median bsup_unlock) | $(ratio "$bsup_pair" "$floor_pair") | $(ratio "$bsup_pair" "$psql_pair") | $(rss bsup_lock) |"
  echo
  echo "Goal: bsup within 1.3 times the floor, at least 4 times faster than psql (psql/bsup:"
  echo "$(ratio "$psql_pair" "$bsup_pair")). Peak RSS of bsup over the floor: $(ratio "$(rss bsup_lock)" "$(rss floor_lock)")."
  echo
  echo "Notes: every client pays for libpq and its dependencies (OpenSSL, GSSAPI, LDAP, GnuTLS):"
  echo "an empty C program linked to libpq starts about 9 ms slower than one that is not on this"
  echo "machine, more than the connection itself; bsup pays it only in the postgres driver (dlopen)."
  echo "What bsup adds over the floor is its own start (about 1 ms: \`bsup version\`), the state"
  echo "file (read under a file lock) and its output. The figures vary with the machine's load: run"
  echo "the script on a quiet machine before comparing with the goal."
  echo
  echo "The runner's table:"
  echo
  echo '```'
  sed "s|$tmp|\$TMP|g" "$tmp/table.txt"
  echo '```'
  echo
  echo "The command (\$TMP is the script's temporary folder, PORT the server's free port):"
  echo
  echo '```'
  printf '%q ' "${runner_cmd[@]}" | sed "s|$tmp|\$TMP|g; s|$port|PORT|g" | fold -s -w 96
  echo
  echo '```'
} >"$out"
echo "wrote $out"
