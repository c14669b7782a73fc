#!/usr/bin/env bash
# Figure (c) in instructions, not seconds: the subscription fan-out workload run on two server
# binaries under valgrind's callgrind, alternately, so a suspected regression can be checked on a
# busy machine (instruction counts do not depend on what else the machine is doing).
#
#   scripts/test --with-services bench/subscriptions-callgrind.sh OUTDIR BIN_A BIN_B [SUBS] [MUTATIONS] [ROUNDS]
#
# Per round and binary: a fresh server under `valgrind --tool=callgrind` on Postgres + Redis (as
# bench/subscriptions.sh), SUBS (500) graphql-transport-ws subscribers of
# events(types: [LEAD_CREATED]) { id data }, MUTATIONS (40) createLead at 1/s, then SIGTERM (callgrind
# writes OUTDIR/cg.<A|B>.<round>.out). Prints each run's instruction total and deliveries. Compare
# the per-delivery path with e.g.
#   callgrind_annotate --inclusive=yes OUTDIR/cg.A.1.out | grep -E 'ws::pump|RequestPolicyExt|AuditExt|create_field_stream|write_loop'
# Totals also hold start-up and handshakes, which vary a few % with timing; the per-function
# inclusive costs of the delivery path are the comparable part.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="$1" A="$2" B="$3" SUBS="${4:-500}" MUTS="${5:-40}" ROUNDS="${6:-2}"
: "${TEST_POSTGRES_URL:?run through scripts/test --with-services}"
: "${TEST_REDIS_URL:?run through scripts/test --with-services}"
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
cargo build --release -q -p leadgraph-bench
LG=target/release/lg-bench
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PORT="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
SERVER=""
trap '[[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null; rm -rf "$DATA"' EXIT
start() { # BIN [WRAPPER…]
    local bin="$1"
    shift
    env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" DATA_DIR="$DATA" PUBLIC_URL="$URL" \
        DATABASE_URL="$TEST_POSTGRES_URL" REDIS_URL="$TEST_REDIS_URL" REQUIRE_EMAIL_VERIFICATION=false \
        RATE_LIMIT_VIEWER_PER_MINUTE=100000000 RATE_LIMIT_LOGIN_PER_MINUTE=100000000 \
        WS_MAX_CONNECTIONS_PER_VIEWER=20000 WS_INIT_TIMEOUT_SECS=120 WS_SEND_TIMEOUT_MS=60000 \
        REQUEST_TIMEOUT_MS=120000 DATABASE_MAX_CONNECTIONS=20 RUST_LOG=warn "$@" "$bin" serve >>"$OUT/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 600); do curl -fsS "$URL/health" >/dev/null 2>&1 && return 0; sleep 0.5; done
    echo "server did not become healthy; see $OUT/server.log" >&2
    exit 1
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=""; }
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
login() {
    TOKEN=""
    TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
        | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
}
start "$A"
"$LG" setup-users --url "$URL" --count 1 >/dev/null
stop
for round in $(seq 1 "$ROUNDS"); do
    for name in A B; do
        bin="$A"
        [[ $name == B ]] && bin="$B"
        start "$bin" valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$name.$round.out"
        login
        "$LG" ws --url "$URL" --token "$TOKEN" --subscribers "$SUBS" --handshake-concurrency 20 \
            --mutations "$MUTS" --rate 1 --drain-secs 90 >"$OUT/ws.$name.$round.json"
        stop
        total="$(grep -o 'summary: [0-9]*' "$OUT/cg.$name.$round.out" | cut -d' ' -f2)"
        echo "$name ($bin) round $round: $total instructions, $(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(str(d["delivered"]) + "/" + str(d["expected"]) + " delivered")' "$OUT/ws.$name.$round.json")"
    done
done
