#!/usr/bin/env bash
# Subscription figure (c) for docs/BENCHMARKS.md (issue "Real-time", Bench; issue 10 (c)).
#
#   scripts/test --with-services bench/subscriptions.sh [ROUNDS]
#
# Needs TEST_POSTGRES_URL and TEST_REDIS_URL (scripts/test --with-services provides throwaway
# instances). Builds release binaries and starts the server on Postgres with REDIS_URL set (so
# the event bus is Redis: relay → PUBLISH → the process's one PSUBSCRIBE connection → local
# fan-out), with the per-viewer rate limit and the per-viewer connection cap raised (all
# subscribers share one user's token, where production caps a viewer at 20 sockets per process). Per round:
#   1. the raw Redis hop: lg-bench redis-hop, PUBLISH → pattern subscriber, same machine;
#   2. SMALL subscribers, then 3. LARGE subscribers: a fresh server each (so the RSS delta starts
#      from a clean heap), lg-bench ws opens the graphql-transport-ws connections (ramped,
#      HANDSHAKES in flight, each waits for connection_ack), then subscribes them to
#      events(types: [LEAD_CREATED]) at the same pace, checks every subscriber is live, then sends
#      createLead mutations at a fixed open-loop rate and records, for every event at every
#      subscriber, arrival − the mutation's intended send time.
# Memory per subscribed connection = (server VmRSS after the connections are subscribed and idle
# − VmRSS before them) ÷ connections, split at the moment they are acknowledged but not yet
# subscribed. Prints a Markdown section with every raw round.
#
# Knobs (environment): SMALL=1000 SMALL_MUTATIONS=100 SMALL_RATE=10 LARGE=10000
# LARGE_MUTATIONS=40 LARGE_RATE=2 HANDSHAKES=200 HOP_MESSAGES=1000 HOP_RATE=200 PROFILE=release
# SERVER_BIN= (a prebuilt server binary).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${1:-3}"
SMALL="${SMALL:-1000}" SMALL_MUTATIONS="${SMALL_MUTATIONS:-100}" SMALL_RATE="${SMALL_RATE:-10}"
LARGE="${LARGE:-10000}" LARGE_MUTATIONS="${LARGE_MUTATIONS:-40}" LARGE_RATE="${LARGE_RATE:-2}"
HANDSHAKES="${HANDSHAKES:-200}" HOP_MESSAGES="${HOP_MESSAGES:-1000}" HOP_RATE="${HOP_RATE:-200}"
: "${TEST_POSTGRES_URL:?run through scripts/test --with-services}"
: "${TEST_REDIS_URL:?run through scripts/test --with-services}"

# Every socket is a file descriptor, in the server and in lg-bench (each inherits this limit).
HARD="$(ulimit -Hn)"
WANT=65536
if [[ "$HARD" != unlimited ]] && ((HARD < WANT)); then WANT="$HARD"; fi
ulimit -n "$WANT"
((LARGE + 256 <= $(ulimit -n))) || { echo "ulimit -n $(ulimit -n) is too low for $LARGE sockets" >&2; exit 1; }

# PROFILE=dev runs debug binaries: only to smoke-test this script, never for recorded figures.
# SERVER_BIN=path: run that server binary instead of building one (e.g. an older commit's build,
# for an interleaved A/B of two binaries: run the script alternately with each).
if [[ -n "${SERVER_BIN:-}" ]]; then
    cargo build --release -q -p leadgraph-bench
    BIN="$SERVER_BIN" LG=target/release/lg-bench
elif [[ "${PROFILE:-release}" == dev ]]; then
    cargo build -q -p leadgraph -p leadgraph-bench
    BIN=target/debug/leadgraph LG=target/debug/lg-bench
else
    cargo build --release -q -p leadgraph -p leadgraph-bench
    BIN=target/release/leadgraph LG=target/release/lg-bench
fi
PORT="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
SERVER=""
stop_server() {
    if [[ -n "$SERVER" ]]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=""
    fi
}
trap 'stop_server; rm -rf "$DATA"' EXIT
# Starts a fresh server process; its log goes to $DATA/server-$1.log.
start_server() {
    env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" DATA_DIR="$DATA" PUBLIC_URL="$URL" \
        DATABASE_URL="$TEST_POSTGRES_URL" REDIS_URL="$TEST_REDIS_URL" REQUIRE_EMAIL_VERIFICATION=false \
        RATE_LIMIT_VIEWER_PER_MINUTE=100000000 RATE_LIMIT_LOGIN_PER_MINUTE=100000000 \
        WS_MAX_CONNECTIONS_PER_VIEWER=20000 \
        DATABASE_MAX_CONNECTIONS=20 RUST_LOG=warn "$BIN" serve >"$DATA/server-$1.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 150); do curl -fsS "$URL/health" >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "server did not become healthy; log:" >&2
    tail -n 30 "$DATA/server-$1.log" >&2
    exit 1
}
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
login() {
    TOKEN=""
    TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
        | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
}

start_server setup
"$LG" setup-users --url "$URL" --count 1 >/dev/null
stop_server

# One ws run on a fresh server: prints its JSON with the count of WARN/ERROR lines the server logged.
ws_run() { # NAME SUBSCRIBERS MUTATIONS RATE
    start_server "$1"
    login
    local out warns
    out="$("$LG" ws --url "$URL" --token "$TOKEN" --subscribers "$2" --handshake-concurrency "$HANDSHAKES" \
        --mutations "$3" --rate "$4" --server-pid "$SERVER" --drain-secs 30)"
    stop_server
    warns="$(grep -cE ' (WARN|ERROR) ' "$DATA/server-$1.log" || true)"
    /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["server_log_warn_error_lines"]=int(sys.argv[2]); print(json.dumps(d, separators=(",",":")))' "$out" "$warns"
}

row() { # ROUND JSON HOP_JSON
    /usr/bin/python3 - "$1" "$2" "$3" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
r, d, hop, load = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
mb = lambda m: (m or {}).get("vm_rss_kb") or 0
per = d["server_kb_per_connection"]
conn, sub = d["server_kb_per_connection_before_subscribe"], d["server_kb_per_subscription"]
print(f'| {r} | {d["connected"]}/{d["subscribers"]} | {d["mutations_ok"]} @ {d["rate"]:g}/s | '
      f'{d["delivered"]}/{d["expected"]} ({100 * d["delivery_ratio"]:.2f} %) | '
      f'{d["latency"]["p50_ms"]:.1f} | {d["latency"]["p99_ms"]:.1f} | {d["latency"]["max_ms"]:.1f} | '
      f'{d["first_subscriber_latency"]["p99_ms"]:.1f} | {d["mutation_latency"]["p99_ms"]:.1f} | '
      f'{mb(d["server_memory_before"]) / 1024:.1f} → {mb(d["server_memory_subscribed"]) / 1024:.1f} | '
      f'{per:.1f} ({conn:.1f} + {sub:.1f}) | {hop["latency"]["p50_ms"]:.2f} / {hop["latency"]["p99_ms"]:.2f} | {load} |')
PY
}

echo "## Subscription fan-out (figure c) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`scripts/test --with-services bench/subscriptions.sh $ROUNDS\`; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; server ${PROFILE:-release} build on Postgres + Redis (event bus on Redis), a fresh server process per run, load generator on the same machine; $HANDSHAKES handshakes in flight while connecting; \`ulimit -n $(ulimit -n)\`."
echo
echo '| round | connected | mutations | delivered / expected | p50 (ms) | p99 (ms) | max (ms) | first subscriber p99 (ms) | createLead p99 (ms) | server RSS before → subscribed (MB) | KB per subscribed connection (connection + subscription) | Redis hop p50 / p99 (ms) | load avg |'
echo '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
for r in $(seq 1 "$ROUNDS"); do
    HOP="$("$LG" redis-hop --redis-url "$TEST_REDIS_URL" --messages "$HOP_MESSAGES" --rate "$HOP_RATE")"
    S="$(ws_run "r$r-small" "$SMALL" "$SMALL_MUTATIONS" "$SMALL_RATE")"
    row "$r" "$S" "$HOP"
    L="$(ws_run "r$r-large" "$LARGE" "$LARGE_MUTATIONS" "$LARGE_RATE")"
    row "$r" "$L" "$HOP"
    {
        echo "raw round $r: redis_hop=$HOP"
        echo "raw round $r: ws_$SMALL=$S"
        echo "raw round $r: ws_$LARGE=$L"
    } >>"$DATA/raw.txt"
done
echo
/usr/bin/python3 - "$DATA/raw.txt" "$SMALL" "$LARGE" <<'PY'
import json, statistics, sys
path, small, large = sys.argv[1], sys.argv[2], sys.argv[3]
runs = {small: [], large: []}
hops = []
for line in open(path):
    _, kv = line.split(": ", 1)
    name, js = kv.split("=", 1)
    d = json.loads(js)
    if name == "redis_hop":
        hops.append(d)
    else:
        runs[name[3:]].append(d)
def med(xs):
    return statistics.median(xs) if xs else float("nan")
for n, goal in ((small, 50.0), (large, 1000.0)):
    rs = runs[n]
    worst = min(d["delivery_ratio"] for d in rs)
    p99 = med([d["latency"]["p99_ms"] for d in rs])
    kb = med([d["server_kb_per_connection"] for d in rs])
    print(f"{n} subscribers: lowest delivery {100 * worst:.2f} % (goal 100 %), median p99 {p99:.1f} ms "
          f"(goal {'≤' if n == small else '<'} {goal:g} ms), median {kb:.1f} KB per subscribed connection (goal ≤ 22 KB).")
    print()
print(f"Raw Redis PUBLISH → PSUBSCRIBE hop: median p50 {med([h['latency']['p50_ms'] for h in hops]):.2f} ms, "
      f"median p99 {med([h['latency']['p99_ms'] for h in hops]):.2f} ms.")
PY
echo
echo '<details><summary>raw JSON per round</summary>'
echo
echo '```'
cat "$DATA/raw.txt"
echo '```'
echo '</details>'
