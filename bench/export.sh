#!/usr/bin/env bash
# Leads figure (f): streamed CSV export vs `psql \copy` of the same SELECT, on 100k leads.
#
#   scripts/test --with-services bench/export.sh [ROUNDS] [LEADS]
#
# Builds release binaries, starts the server on Postgres + Redis, registers one user, inserts
# LEADS leads (default 100,000, with tags) straight into Postgres, then per round: `psql \copy`
# of the export's SELECT to /dev/null (A) and the server's signed CSV download to /dev/null (B),
# interleaved; rows/s of each, the ratio B/A, and the server's RSS before and at peak during B.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${1:-3}"
LEADS="${2:-100000}"
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
env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" DATA_DIR="$DATA" PUBLIC_URL="$URL" \
    DATABASE_URL="$TEST_POSTGRES_URL" REDIS_URL="$TEST_REDIS_URL" REQUIRE_EMAIL_VERIFICATION=false \
    RUST_LOG=warn "$BIN" serve >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.2; done
"$LG" setup-users --url "$URL" --count 1 >/dev/null
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
    | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
ORG="$(gql '{"query":"{ organization { id } }"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["organization"]["id"])')"

PSQL=(psql "$TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" -c "DELETE FROM leads WHERE org_id = '$ORG'"
"${PSQL[@]}" <<SQL
INSERT INTO leads (id, org_id, first_name, last_name, email, phone, company, title, website, industry,
  city, region, country, source, status, score, score_reasons, custom_fields, provenance, created_at, updated_at)
SELECT gen_random_uuid(), '$ORG', 'First' || g, 'Last' || g, 'lead' || g || '@example.com', NULL,
  'Company ' || (g % 5000), 'Title ' || (g % 40), 'https://c' || (g % 5000) || '.example.com/', 'Industry ' || (g % 30),
  'City ' || (g % 200), NULL, 'US', 'IMPORT', 'NEW', g % 100, '[]', '{}', '{}', now(), now()
FROM generate_series(1, $LEADS) AS g;
INSERT INTO lead_tags (lead_id, org_id, tag) SELECT id, org_id, 'tag' || (score % 7) FROM leads WHERE org_id = '$ORG';
ANALYZE leads; ANALYZE lead_tags;
SQL

SELECT_SQL="SELECT l.id, l.first_name, l.last_name, l.email, l.phone, l.company, l.title, l.website, l.industry, l.city, l.region, l.country, l.source, l.status, l.score, (SELECT string_agg(tag, ';' ORDER BY tag) FROM lead_tags t WHERE t.lead_id = l.id), l.created_at FROM leads l WHERE l.org_id = '$ORG' ORDER BY l.id"
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
now() { /usr/bin/python3 -c 'import time; print(time.monotonic())'; }

echo "## Leads export (figure f) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`scripts/test --with-services bench/export.sh $ROUNDS $LEADS\`; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $LEADS leads with one tag each on Postgres; server release build."
echo
echo "| round | psql copy rows/s | exportLeads rows/s | ratio | server RSS before → peak (MB) | rows in file | load avg |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
    t0="$(now)"
    "${PSQL[@]}" -c "\\copy ($SELECT_SQL) TO '/dev/null' WITH (FORMAT csv, HEADER)"
    t1="$(now)"
    A="$(/usr/bin/python3 -c "print($LEADS/($t1-$t0))")"
    LINK="$(gql '{"query":"mutation { exportLeads { url } }"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["exportLeads"]["url"])')"
    before="$(rss)"; peak="$before"
    t0="$(now)"
    curl -fsS "$LINK" -o "$DATA/export.csv" &
    CURL=$!
    while kill -0 "$CURL" 2>/dev/null; do cur="$(rss)"; ((cur > peak)) && peak="$cur"; sleep 0.02; done
    wait "$CURL"
    t1="$(now)"
    LINES="$(($(wc -l <"$DATA/export.csv") - 1))"
    B="$(/usr/bin/python3 -c "print($LINES/($t1-$t0))")"
    RATIO="$(/usr/bin/python3 -c "print(round($B/$A, 3))")"
    RATIOS+=("$RATIO")
    printf '| %s | %.0f | %.0f | %s | %.1f → %.1f | %s | %s |\n' "$r" "$A" "$B" "$RATIO" \
        "$(/usr/bin/python3 -c "print($before/1024)")" "$(/usr/bin/python3 -c "print($peak/1024)")" "$LINES" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
echo
echo "Median ratio exportLeads ÷ psql \\copy: $(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') (goal ≥ 0.3; RSS growth goal < 20 MB)."
