#!/usr/bin/env bash
# Places and files at scale (issue 28): `clusters` and `leadsNear` over LEADS leads on
# PostgreSQL through our release server (B), against pgbench running the very statements our
# server ran for each query (A, captured from the PostgreSQL log with their parameters inlined);
# and uploads of FILES files of FILE_MB MiB through `uploadFile` to a local S3-compatible server
# (moto), against the same bytes written straight to it with `object_store` the way the
# server's storage writes them (`lg-bench raw-put`: one PUT up to 8 MiB, above that 8 MiB parts).
#
#   scripts/test --with-services bench/places.sh [ROUNDS] [LEADS]
#
# Environment: SECONDS_PER_SIDE (10), CONCURRENCY (8, the queries), FILES (100), FILE_MB (10),
# UPLOAD_CONCURRENCY (4), NO_BUILD=1 (use the release binaries already in target/release),
# SERVER_BIN (another server binary, e.g. target/debug/leadgraph for a smoke run).
#
# Dataset: bench/seed-leads.sh (LEADS leads), then every lead gets a point in one UPDATE:
# 80 % around 40 US metro centres (Gaussian-ish, σ ≈ 0.5°), 20 % spread over the contiguous
# US box, reproducible (setseed).
#
# Per round: per query, A (pgbench, -c CONCURRENCY) then B (lg-bench query, CONCURRENCY
# connections, closed loop, every body checked for `errors`), SECONDS_PER_SIDE each; then the
# raw PUTs and the uploads (each side deletes what it stored afterwards, so moto's memory stays
# flat). The table gives medians. Goals: queries ≥ 0.4× pgbench; uploads ≥ 0.5× raw PUTs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${1:-3}"
LEADS="${2:-1000000}"
SECONDS_PER_SIDE="${SECONDS_PER_SIDE:-10}"
CONCURRENCY="${CONCURRENCY:-8}"
FILES="${FILES:-100}"
FILE_MB="${FILE_MB:-10}"
UPLOAD_CONCURRENCY="${UPLOAD_CONCURRENCY:-4}"
: "${TEST_POSTGRES_URL:?run through scripts/test --with-services}"
: "${TEST_REDIS_URL:?run through scripts/test --with-services}"
PY=/usr/bin/python3
command -v pgbench >/dev/null || { apt-get install -y -qq postgresql-contrib >/dev/null || true; }
command -v moto_server >/dev/null || { echo "moto_server missing: scripts/test installs it" >&2; exit 1; }
if [[ "${NO_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p leadgraph -p leadgraph-bench
fi
BIN="${SERVER_BIN:-target/release/leadgraph}"
LG="${LG_BENCH_BIN:-target/release/lg-bench}"
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DATA="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$DATA"
}
trap cleanup EXIT

# The S3-compatible server and its bucket (moto accepts unsigned requests).
S3_PORT="$(free_port)"
S3="http://127.0.0.1:$S3_PORT"
BUCKET=lg-bench
moto_server -H 127.0.0.1 -p "$S3_PORT" >"$DATA/moto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do curl -fsS -X PUT "$S3/$BUCKET" >/dev/null 2>&1 && break; sleep 0.3; done
curl -fsS "$S3/$BUCKET?list-type=2" >/dev/null || { cat "$DATA/moto.log" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=lg-bench AWS_SECRET_ACCESS_KEY=lg-bench-secret

SEP='?'
[[ "$TEST_POSTGRES_URL" == *\?* ]] && SEP='&'
LOGGED_URL="${TEST_POSTGRES_URL}${SEP}options=-c%20log_statement%3Dall"
wait_for() { # URL LOG
    for _ in $(seq 1 150); do
        curl -fsS "$1" -H 'content-type: application/json' -d '{"query":"{ __typename }"}' >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    cat "$2" >&2
    return 1
}
start_ours() { # PORT DATABASE_URL LOG
    env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$1" DATA_DIR="$DATA" PUBLIC_URL="http://127.0.0.1:$1" \
        DATABASE_URL="$2" REDIS_URL="$TEST_REDIS_URL" REQUIRE_EMAIL_VERIFICATION=false \
        RATE_LIMIT_VIEWER_PER_MINUTE=100000000 DATABASE_MAX_CONNECTIONS=20 \
        STORAGE_URL="s3://$BUCKET?endpoint=$S3&region=us-east-1" \
        AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
        STORAGE_QUOTA_BYTES=1099511627776 RUST_LOG=warn "$BIN" serve >"$3" 2>&1 &
    PIDS+=($!)
    wait_for "http://127.0.0.1:$1/graphql" "$3"
}

PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
start_ours "$PORT" "$TEST_POSTGRES_URL" "$DATA/server.log"
"$LG" setup-users --url "$URL" --count 1 >/dev/null
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
login() {
    TOKEN=""
    TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
        | $PY -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
}
login
ORG="$(gql '{"query":"{ organization { id } }"}' | $PY -c 'import json,sys; print(json.load(sys.stdin)["data"]["organization"]["id"])')"

# shellcheck source=bench/seed-leads.sh
source bench/seed-leads.sh
seed_leads "$TEST_POSTGRES_URL" "$ORG" "$LEADS" bench-0@example.com
psql "$TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -qAt >/dev/null <<SQL
SELECT setseed(0.28);
CREATE TEMP TABLE metros AS
SELECT k, 27 + random() * 20 AS lat, -122 + random() * 50 AS lng FROM generate_series(0, 39) AS k;
UPDATE leads l SET
  latitude = CASE WHEN l.score % 5 = 0 THEN 25 + random() * 24
                  ELSE m.lat + (random() + random() + random() - 1.5) END,
  longitude = CASE WHEN l.score % 5 = 0 THEN -124 + random() * 57
                   ELSE m.lng + (random() + random() + random() - 1.5) END
FROM metros m
WHERE l.org_id = '$ORG' AND m.k = abs(hashtext(l.id::text)) % 40;
VACUUM ANALYZE leads;
SQL
# The point of leadsNear and the box of the metro clusters: a lead of a metro (within ~1.5° of
# its centre), the same for every round.
read -r P_LAT P_LNG <<<"$(psql "$TEST_POSTGRES_URL" -qAt -F ' ' -c \
    "SELECT round(latitude::numeric, 4), round(longitude::numeric, 4) FROM leads WHERE org_id = '$ORG' AND score % 5 <> 0 ORDER BY id LIMIT 1")"
read -r BOX_S BOX_W BOX_N BOX_E <<<"$($PY -c "import sys; a, o = float(sys.argv[1]), float(sys.argv[2]); print(a - 1, o - 1.5, a + 1, o + 1.5)" "$P_LAT" "$P_LNG")"

declare -A DOCS
DOCS[clusters-us-z4]='{ clusters(bbox: {south: 24, west: -125, north: 50, east: -66}, zoom: 4) { total precision clusters { geohash count centroid { latitude longitude } bounds { south west north east } } } }'
DOCS[clusters-metro-z9]="{ clusters(bbox: {south: $BOX_S, west: $BOX_W, north: $BOX_N, east: $BOX_E}, zoom: 9) { total precision clusters { geohash count } } }"
DOCS[leadsNear-25km-first20]="{ leadsNear(point: {latitude: $P_LAT, longitude: $P_LNG}, radiusKm: 25, first: 20) { edges { distanceKm node { id company } } } }"
NAMES=(clusters-us-z4 clusters-metro-z9 leadsNear-25km-first20)

body() { $PY -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }
post() { # URL DOC
    curl -sS "$1/graphql" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d "$(body "$2")"
}
check() { $PY -c '
import json, sys
v = json.loads(sys.stdin.read() or "{}")
d = v.get("data") or {}
if v.get("errors") or not d:
    print("ERROR", json.dumps(v)[:300]); sys.exit()
x = next(iter(d.values()))
n = len(x.get("clusters") or x.get("edges") or [])
print("ok", "%s leads, %d clusters" % (x.get("total"), n) if "total" in x else "%d edges" % n)'; }

# The statements our server runs per query, from a second process whose connections log every
# statement, turned into pgbench scripts (bench/shapes/statements.py, as bench/shapes.sh).
PG_LOG="$(psql "$TEST_POSTGRES_URL" -qAt -c 'SHOW data_directory')/log"
[[ -r "$PG_LOG" ]] || { echo "the PostgreSQL log $PG_LOG is not readable: run through scripts/test" >&2; exit 1; }
LOG_PORT="$(free_port)"
start_ours "$LOG_PORT" "$LOGGED_URL" "$DATA/server-logged.log"
LOGGED_PID="${PIDS[-1]}"
declare -A CHECK_B CHECK_A STMTS
for name in "${NAMES[@]}"; do
    CHECK_B[$name]="$(post "$URL" "${DOCS[$name]}" | check)"
    post "http://127.0.0.1:$LOG_PORT" "${DOCS[$name]}" >/dev/null
    sleep 0.3
    off="$(stat -c %s "$PG_LOG")"
    post "http://127.0.0.1:$LOG_PORT" "${DOCS[$name]}" >/dev/null
    sleep 0.5
    STMTS[$name]="$($PY bench/shapes/statements.py pgbench "$PG_LOG" "$off" "$DATA/$name.sql")"
    CHECK_A[$name]="ok"
    pgbench -n -f "$DATA/$name.sql" -t 1 "$TEST_POSTGRES_URL" >/dev/null 2>"$DATA/$name.pgbench-check" \
        || CHECK_A[$name]="ERROR $(head -c 300 "$DATA/$name.pgbench-check")"
done
kill "$LOGGED_PID" 2>/dev/null || true

field() { $PY -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
run_pgbench() { # SCRIPT → "tps failed"
    local out tps failed
    out="$(pgbench -n -f "$1" -c "$CONCURRENCY" -j 2 -T "$SECONDS_PER_SIDE" "$TEST_POSTGRES_URL" 2>&1 || true)"
    tps="$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' <<<"$out" | head -n 1)"
    failed="$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")"
    echo "${tps:-0} ${failed:-0}"
}
FAILED='{"requests_per_sec": 0, "requests": 0, "errors": 1}'
declare -A RPS_A RPS_B ERR_A ERR_B
UP_RAW="" UP_OURS=""
LOADS=()
for r in $(seq 1 "$ROUNDS"); do
    login
    for name in "${NAMES[@]}"; do
        read -r a_rps a_err <<<"$(run_pgbench "$DATA/$name.sql")"
        B="$("$LG" query --url "$URL" --token "$TOKEN" --query "${DOCS[$name]}" --concurrency "$CONCURRENCY" \
            --seconds "$SECONDS_PER_SIDE" 2>>"$DATA/lg-bench.err")" || B="$FAILED"
        RPS_A[$name]+="$a_rps "
        ERR_A[$name]=$(( ${ERR_A[$name]:-0} + ${a_err%.*} ))
        RPS_B[$name]+="$(field "$B" requests_per_sec) "
        ERR_B[$name]=$(( ${ERR_B[$name]:-0} + $(field "$B" errors) ))
    done
    RAW="$("$LG" raw-put --endpoint "$S3" --bucket "$BUCKET" --count "$FILES" --size-mb "$FILE_MB" \
        --concurrency "$UPLOAD_CONCURRENCY")"
    OURS="$("$LG" upload --url "$URL" --token "$TOKEN" --count "$FILES" --size-mb "$FILE_MB" \
        --concurrency "$UPLOAD_CONCURRENCY")"
    UP_RAW+="$(field "$RAW" mib_per_sec) "
    UP_OURS+="$(field "$OURS" mib_per_sec) "
    LOADS+=("round $r: load average $(cut -d' ' -f1-3 /proc/loadavg)")
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { $PY -c "print(round($1/$2, 2) if $2 and $1 else 'n/a')"; }

CPU="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "## Places and files (issue 28) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`${NO_BUILD:+NO_BUILD=1 }SECONDS_PER_SIDE=$SECONDS_PER_SIDE FILES=$FILES FILE_MB=$FILE_MB scripts/test --with-services bench/places.sh $ROUNDS $LEADS\`; machine: $(nproc) cores ($CPU); $LEADS leads with points on PostgreSQL $(psql "$TEST_POSTGRES_URL" -qAt -c 'SHOW server_version'); moto $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?'); queries closed loop at concurrency $CONCURRENCY, $SECONDS_PER_SIDE s per side, pgbench then ours; uploads $UPLOAD_CONCURRENCY at once; $ROUNDS round(s), medians."
echo
printf '%s\n' "${LOADS[@]}"
echo
echo '| query | ours rps | pgbench tps (same SQL) | ratio ours/pgbench | statements/request | errors ours / pgbench | answers ours / pgbench |'
echo '| --- | --- | --- | --- | --- | --- | --- |'
for name in "${NAMES[@]}"; do
    b="$(median "${RPS_B[$name]}")"
    a="$(median "${RPS_A[$name]}")"
    printf '| %s | %.0f | %.0f | %s | %s | %s / %s | %s / %s |\n' "$name" "$b" "$a" "$(ratio "$b" "$a")" \
        "${STMTS[$name]}" "${ERR_B[$name]}" "${ERR_A[$name]}" "${CHECK_B[$name]}" "${CHECK_A[$name]}"
done
echo
b="$(median "$UP_OURS")"
a="$(median "$UP_RAW")"
echo '| uploads | ours MiB/s | raw PUTs MiB/s | ratio ours/raw |'
echo '| --- | --- | --- | --- |'
printf '| %s × %s MiB | %.1f | %.1f | %s |\n' "$FILES" "$FILE_MB" "$b" "$a" "$(ratio "$b" "$a")"
echo
echo "Goals: queries ≥ 0.4× pgbench of the same statements; uploads ≥ 0.5× raw PUTs."
