#!/usr/bin/env bash
# Identity figures for docs/BENCHMARKS.md (issue "Identity and access", figure (e)).
#
#   scripts/test --with-services bench/identity.sh [ROUNDS]
#
# Needs TEST_POSTGRES_URL and TEST_REDIS_URL (scripts/test --with-services provides throwaway
# instances). Builds release binaries, starts the server on Postgres + Redis, registers users,
# then per round: Argon2 limit (A), login saturation with a { __typename } probe alongside (B),
# open-loop logins at half the limit, refresh rotations. Prints a Markdown section with every
# raw round and the median of the per-round ratios B/A.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${1:-3}"
: "${TEST_POSTGRES_URL:?run through scripts/test --with-services}"
: "${TEST_REDIS_URL:?run through scripts/test --with-services}"

# NO_BUILD=1 uses the binaries already in target/release; SERVER_BIN=path runs that server
# binary (bench/ab.sh: an interleaved A/B of two builds).
if [[ "${NO_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p leadgraph -p leadgraph-bench
fi
BIN="${SERVER_BIN:-target/release/leadgraph}"
LG=target/release/lg-bench
PORT="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" DATA_DIR="$DATA" \
    DATABASE_URL="$TEST_POSTGRES_URL" REDIS_URL="$TEST_REDIS_URL" DATABASE_MAX_CONNECTIONS=20 \
    REQUIRE_EMAIL_VERIFICATION=false RATE_LIMIT_LOGIN_PER_MINUTE=100000000 \
    RATE_LIMIT_LOGIN_PER_ACCOUNT_PER_HOUR=100000000 \
    RATE_LIMIT_REGISTER_PER_HOUR=100000000 RATE_LIMIT_VIEWER_PER_MINUTE=100000000 \
    RUST_LOG=warn "$BIN" serve >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.2; done
"$LG" setup-users --url "$URL" --count 64 >/dev/null

jq_num() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

echo "## Identity (figure e) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`scripts/test --with-services bench/identity.sh $ROUNDS\`; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; server on Postgres + Redis, release build."
echo
echo "| round | argon2 hash (ms) | limit (logins/s) | saturation (logins/s) | ratio | login p99 at ½ limit (ms) | { __typename } p99 under saturation (ms) | refresh p99 (ms) | load avg |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
    A="$("$LG" argon2 --samples 20)"
    LIMIT="$(jq_num "['limit_per_sec']" <<<"$A")"
    B="$("$LG" login-saturation --url "$URL" --concurrency 8 --seconds 10 --probe-rate 20)"
    HALF="$(/usr/bin/python3 -c "print($LIMIT/2)")"
    O="$("$LG" login-open --url "$URL" --rate "$HALF" --seconds 10)"
    F="$("$LG" refresh --url "$URL" --iterations 300)"
    SAT="$(jq_num "['logins_per_sec']" <<<"$B")"
    RATIO="$(/usr/bin/python3 -c "print(round($SAT/$LIMIT, 3))")"
    RATIOS+=("$RATIO")
    printf '| %s | %.1f | %.1f | %.1f | %s | %.1f | %.1f | %.2f | %s |\n' "$r" \
        "$(jq_num "['hash_ms_median']" <<<"$A")" "$LIMIT" "$SAT" "$RATIO" \
        "$(jq_num "['latency']['p99_ms']" <<<"$O")" "$(jq_num "['probe_latency']['p99_ms']" <<<"$B")" \
        "$(jq_num "['latency']['p99_ms']" <<<"$F")" "$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "raw round $r: argon2=$A saturation=$B open=$O refresh=$F" >>"$DATA/raw.txt"
done
echo
echo "Median ratio saturation ÷ Argon2 limit: $(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') (goal ≥ 0.85)."
echo
echo '<details><summary>raw JSON per round</summary>'
echo
echo '```'
cat "$DATA/raw.txt"
echo '```'
echo '</details>'
