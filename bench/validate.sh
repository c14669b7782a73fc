#!/usr/bin/env bash
# Contact validation at volume (issue 27): validateContacts with a fake DNS.
#
#   bench/validate.sh [ADDRESSES] [DOMAINS] [BATCH]                       (SQLite)
#   scripts/test --with-services bench/validate.sh 10000 500             (PostgreSQL + Redis)
#
# Starts the server (SQLite in a temp dir, or the PostgreSQL and Redis of
# `scripts/test --with-services` when TEST_POSTGRES_URL is set) with DNS_NAMESERVER pointing at
# a UDP port where `lg-bench validate` then runs its fake DNS (MX for any name under
# .bench.test, every query counted). `lg-bench validate`:
#   1. a bare loop: one MX lookup per address against the fake (hickory-resolver, no cache);
#   2. validateContacts of the same ADDRESSES (default 10,000) spread round-robin over DOMAINS
#      (default 500) domains, BATCH (default 200) per call, one call at a time.
# Prints a table row: addresses/s of both, the ratio (goal ≥ 0.5) and the DNS queries the fake
# saw during step 2 (goal: = DOMAINS, each domain resolved once thanks to the cache).
# NO_BUILD=1 uses the binaries in target/$PROFILE; PROFILE=debug (default release) for a quick
# small run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ADDRESSES="${1:-10000}"
DOMAINS="${2:-500}"
BATCH="${3:-200}"
PROFILE="${PROFILE:-release}"
if [[ "${NO_BUILD:-0}" != 1 ]]; then
    if [[ "$PROFILE" == release ]]; then
        cargo build --release -q -p leadgraph -p leadgraph-bench
    else
        cargo build -q -p leadgraph -p leadgraph-bench
    fi
fi
BIN="${SERVER_BIN:-target/$PROFILE/leadgraph}"
LG="target/$PROFILE/lg-bench"
py() { /usr/bin/python3 -c "$@"; }
free_port() { py 'import socket,sys; s=socket.socket(type=getattr(socket,sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
PORT="$(free_port SOCK_STREAM)"
DNS_PORT="$(free_port SOCK_DGRAM)"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
DB=()
BACKEND=sqlite
if [[ -n "${TEST_POSTGRES_URL:-}" ]]; then
    DB=(DATABASE_URL="$TEST_POSTGRES_URL" ${TEST_REDIS_URL:+REDIS_URL="$TEST_REDIS_URL"})
    BACKEND=postgres
fi
env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" DATA_DIR="$DATA" PUBLIC_URL="$URL" \
    "${DB[@]}" REQUIRE_EMAIL_VERIFICATION=false EMAIL_MX_CHECK=true \
    DNS_NAMESERVER="127.0.0.1:$DNS_PORT" RUST_LOG=warn "$BIN" serve >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 150); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$URL/health" >/dev/null || { tail -20 "$DATA/server.log"; exit 1; }
"$LG" setup-users --url "$URL" --count 1 >/dev/null
TOKEN="$(curl -fsS "$URL/graphql" -H 'content-type: application/json' \
    -d '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
    | py 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
OUT="$("$LG" validate --url "$URL" --token "$TOKEN" --dns-listen "127.0.0.1:$DNS_PORT" \
    --addresses "$ADDRESSES" --domains "$DOMAINS" --batch "$BATCH")"
echo "$OUT" >&2
py '
import json, sys
r = json.loads(sys.argv[1])
print("| backend | addresses | domains | batch | bare loop addr/s | validateContacts addr/s | ratio (≥ 0.5) | DNS queries (= domains) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
print("| %s | %d | %d | %d | %.0f | %.0f | %.2f | %d |" % (sys.argv[2], r["addresses"], r["domains"], r["batch"],
      r["bare_per_sec"], r["graphql_per_sec"], r["ratio"], r["dns_queries"]))
ok = r["dns_queries"] == r["domains"] and r["mx_found"] == r["addresses"]
sys.exit(0 if ok else 1)
' "$OUT" "$BACKEND"
