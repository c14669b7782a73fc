#!/usr/bin/env bash
# Scraping figure (g): a WEBSITE scrape of a 500-page fixture site vs `wget -r` and raw `wrk` on
# the same site, and the accuracy of per-host politeness.
#
#   scripts/test --with-services bench/crawl.sh [ROUNDS] [LATENCY_MS]
#
# Builds release binaries and starts `lg-crawl-fixture` (index + 499 pages, each with an email
# and a phone; LATENCY_MS added per page, default 0) and the server (Postgres + Redis from
# scripts/test, SQLite when TEST_POSTGRES_URL is unset) with SCRAPE_POLITENESS=false. Per round:
# raw `wrk -t2 -c8 -d5s` on one page (A), `wget -r -l 1` of the site (B), and a scrape with
# concurrency 8, maxDepth 1 (C; pages/s from the job's startedAt → finishedAt, which includes
# robots.txt, the sitemap probe and writing every page and lead). Then the server is restarted
# with politeness on and a 51-page scrape at requestsPerSecond 5 is timed on the fixture's side.
#
# CRAWL_PAGES=n sets the site's size (index + n-1 pages, default 500) and the scrape's maxPages,
# to tell a fixed cost per crawl from a cost per page.
#
# CRAWL_BIN=path runs that server binary instead of building target/release/leadgraph (e.g. a
# copy kept from before a change, for a before/after pair on the same machine); with
# CRAWL_NO_BUILD=1 nothing is built and the binaries in target/release are used as they are.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${1:-3}"
LATENCY="${2:-0}"
PAGES="${CRAWL_PAGES:-500}"
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v wget >/dev/null || apt-get install -y -qq wget >/dev/null

if [ -z "${CRAWL_NO_BUILD:-}" ]; then
    cargo build --release -q -p leadgraph -p leadgraph-bench
fi
BIN="${CRAWL_BIN:-target/release/leadgraph}"
LG=target/release/lg-bench
FIXTURE=target/release/lg-crawl-fixture
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DATA="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$DATA"
}
trap cleanup EXIT

FPORT="$(free_port)"
"$FIXTURE" --listen "127.0.0.1:$FPORT" --pages "$((PAGES - 1))" --latency-ms "$LATENCY" >"$DATA/fixture.log" 2>&1 &
PIDS+=($!)
SITE="http://127.0.0.1:$FPORT"
for _ in $(seq 1 100); do curl -fsS "$SITE/robots.txt" >/dev/null 2>&1 && break; sleep 0.1; done

DB_URL="${TEST_POSTGRES_URL:-sqlite://$DATA/bench.db?mode=rwc}"
DB_KIND="$([ -n "${TEST_POSTGRES_URL:-}" ] && echo Postgres || echo SQLite)"
PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
start_server() { # $1 = SCRAPE_POLITENESS
    env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" DATA_DIR="$DATA" PUBLIC_URL="$URL" \
        DATABASE_URL="$DB_URL" ${TEST_REDIS_URL:+REDIS_URL="$TEST_REDIS_URL"} REQUIRE_EMAIL_VERIFICATION=false \
        OUTBOUND_ALLOW_PRIVATE_NETWORKS=true SCRAPE_POLITENESS="$1" RUST_LOG=warn \
        "$BIN" serve >>"$DATA/server.log" 2>&1 &
    SERVER=$!
    PIDS+=("$SERVER")
    for _ in $(seq 1 100); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.2; done
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
start_server false
"$LG" setup-users --url "$URL" --count 1 >/dev/null
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
py() { /usr/bin/python3 -c "$1"; }
TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
    | py 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
now() { py 'import time; print(time.monotonic())'; }

# Runs a scrape to its end; prints "pagesFetched seconds" (startedAt → finishedAt).
scrape() { # $1 = maxPages, $2 = requestsPerSecond
    local q id status
    q="{\"query\":\"mutation(\$i: CreateScrapeJobInput!) { createScrapeJob(input: \$i) { id } }\",\"variables\":{\"i\":{\"source\":\"WEBSITE\",\"website\":{\"urls\":[\"$SITE/\"],\"maxDepth\":1,\"maxPages\":$1,\"concurrency\":8,\"requestsPerSecond\":$2}}}}"
    id="$(gql "$q" | py 'import json,sys; print(json.load(sys.stdin)["data"]["createScrapeJob"]["id"])')"
    for _ in $(seq 1 3000); do
        status="$(gql "{\"query\":\"{ scrapeJob(id: \\\"$id\\\") { status startedAt finishedAt progress { pagesFetched } } }\"}")"
        case "$status" in *SUCCEEDED* | *FAILED* | *CANCELLED*) break ;; esac
        sleep 0.1
    done
    printf '%s' "$status" | py 'import json,sys
from datetime import datetime
j = json.load(sys.stdin)["data"]["scrapeJob"]
assert j["status"] == "SUCCEEDED", j
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
print(j["progress"]["pagesFetched"], (t(j["finishedAt"]) - t(j["startedAt"])).total_seconds())'
}

echo "## Crawl rate (figure g) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`scripts/test --with-services bench/crawl.sh $ROUNDS $LATENCY\`; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; database: $DB_KIND; fixture: index + $((PAGES - 1)) pages, ${LATENCY} ms added latency; server and fixture release builds on the same machine."
echo
echo "| round | wrk rps (A) | wget -r pages/s (B) | scrape pages/s (C) | C ÷ B | C ÷ A | pages scraped | load avg |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
CB=(); CA=()
for r in $(seq 1 "$ROUNDS"); do
    A="$(wrk -t2 -c8 -d5s "$SITE/p/1" | awk '/Requests\/sec/ {print $2}')"
    rm -rf "$DATA/wget"
    curl -fsS -X POST "$SITE/__reset" >/dev/null
    t0="$(now)"
    wget -r -l 1 -q -P "$DATA/wget" --delete-after "$SITE/" || true
    t1="$(now)"
    WPAGES="$(curl -fsS "$SITE/__stats" | py 'import json,sys; print(json.load(sys.stdin)["count"])')"
    B="$(py "print($WPAGES/($t1-$t0))")"
    read -r CPAGES CSECS < <(scrape "$PAGES" 50)
    C="$(py "print($CPAGES/$CSECS)")"
    CB+=("$(py "print(round($C/$B, 3))")"); CA+=("$(py "print(round($C/$A, 3))")")
    printf '| %s | %.0f | %.1f | %.1f | %s | %s | %s | %s |\n' "$r" "$A" "$B" "$C" "${CB[-1]}" "${CA[-1]}" \
        "$CPAGES" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "Median C ÷ B: $(median "${CB[@]}") (goal ≥ 10); median C ÷ A: $(median "${CA[@]}") (goal ≥ 0.5)."

stop_server
start_server true
curl -fsS -X POST "$SITE/__reset" >/dev/null
read -r PPAGES PSECS < <(scrape 51 5)
STATS="$(curl -fsS "$SITE/__stats")"
RATE="$(printf '%s' "$STATS" | py 'import json,sys; s=json.load(sys.stdin); print((s["count"]-1)/s["spanSecs"])')"
GAP="$(printf '%s' "$STATS" | py 'import json,sys; print(round(json.load(sys.stdin)["minGapMs"], 1))')"
ERR="$(py "print(round(($RATE-5)/5*100, 2))")"
echo
echo "Politeness: requestsPerSecond 5, $PPAGES pages: $(py "print(round($RATE, 3))") requests/s measured at the fixture (first to last page request), error ${ERR} % (goal within ±5 %); smallest gap ${GAP} ms; job wall time ${PSECS} s."
