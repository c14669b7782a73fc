#!/usr/bin/env bash
# Leads figure (a, pgbench part): the 50-lead nested query
#   leads(first: 50) { nodes { owner { id } tags notes(first: 3) { nodes { body } } } }
# through the server vs pgbench replaying the SQL the server runs for it, on the same data.
#
#   scripts/test --with-services bench/nested.sh [ROUNDS] [LEADS]
#   COMPILED_READS=false scripts/test --with-services bench/nested.sh ...   # the resolvers' path
#
# The server's SQL: with compiled reads (the default) the one statement `leadgraph compile-query`
# prints for the query (the same code builds what the server executes); with
# COMPILED_READS=false the resolvers' four statements (page, owners, tags, newest notes per lead;
# src/domains/leads/query.rs and loader.rs), written out below.
#
# Same setup as bench/export.sh; half the leads get an owner and a third get three notes. Per
# round, interleaved: pgbench (A, one transaction = the statements of one request, prepared once
# per connection as the server's driver does: `-M prepared`) and lg-bench closed-loop GraphQL
# requests (B), both at concurrency 8 for 10 s; the ratio B/A.
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
    RATE_LIMIT_VIEWER_PER_MINUTE=100000000 DATABASE_MAX_CONNECTIONS=20 \
    COMPILED_READS="${COMPILED_READS:-true}" RUST_LOG=warn "$BIN" serve >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.2; done
"$LG" setup-users --url "$URL" --count 1 >/dev/null
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
    | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
ORG="$(gql '{"query":"{ organization { id } }"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["organization"]["id"])')"

PSQL=(psql "$TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -qAt)
# shellcheck source=bench/seed-leads.sh
source bench/seed-leads.sh
seed_leads "$TEST_POSTGRES_URL" "$ORG" "$LEADS" bench-0@example.com

QUERY='{ leads(first: 50) { nodes { owner { id } tags notes(first: 3) { nodes { body } } } } }'
if [[ "${COMPILED_READS:-true}" == false ]]; then
# The four statements the resolvers run for that query (see src/domains/leads/query.rs and loader.rs).
IDS="$("${PSQL[@]}" -c "SELECT string_agg(quote_literal(id), ',') FROM (SELECT id FROM leads WHERE org_id = '$ORG' ORDER BY created_at DESC, id DESC LIMIT 50) x")"
OWNERS="$("${PSQL[@]}" -c "SELECT coalesce(string_agg(DISTINCT quote_literal(owner_id), ','), 'NULL') FROM (SELECT owner_id FROM leads WHERE org_id = '$ORG' ORDER BY created_at DESC, id DESC LIMIT 50) x WHERE owner_id IS NOT NULL")"
COLS='"leads"."id", "leads"."org_id", "leads"."first_name", "leads"."last_name", "leads"."email", "leads"."phone", "leads"."company", "leads"."title", "leads"."website", "leads"."industry", "leads"."city", "leads"."region", "leads"."country", "leads"."latitude", "leads"."longitude", "leads"."source", "leads"."status", "leads"."score", "leads"."score_reasons", "leads"."custom_fields", "leads"."provenance", "leads"."owner_id", "leads"."last_contacted_at", "leads"."created_at", "leads"."updated_at"'
cat >"$DATA/nested.sql" <<SQL
SELECT $COLS FROM "leads" WHERE "leads"."org_id" = '$ORG' ORDER BY "leads"."created_at" DESC, "leads"."id" DESC LIMIT 51;
SELECT "users"."id", "users"."email", "users"."name", "users"."password_hash", "users"."email_verified_at", "users"."created_at", "users"."updated_at" FROM "users" WHERE "users"."id" IN ($OWNERS);
SELECT "lead_tags"."lead_id", "lead_tags"."tag", "lead_tags"."org_id" FROM "lead_tags" WHERE "lead_tags"."lead_id" IN ($IDS) ORDER BY "lead_tags"."tag" ASC;
SELECT * FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.lead_id ORDER BY t.id DESC) AS lg_rn FROM lead_notes t WHERE t.lead_id IN ($IDS)) x WHERE x.lg_rn <= 4 ORDER BY x.lead_id, x.lg_rn;
SQL
else
# The compiled statement, from the server binary itself.
env -i PATH="$PATH" "$BIN" compile-query --org "$ORG" --query "$QUERY" >"$DATA/nested.sql"
fi
STATEMENTS="$(grep -c ';$' "$DATA/nested.sql")"

echo "## Leads nested query vs pgbench (figure a, pgbench part) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`${COMPILED_READS:+COMPILED_READS=$COMPILED_READS }scripts/test --with-services bench/nested.sh $ROUNDS $LEADS\`; server statements per request: $STATEMENTS; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $LEADS leads on Postgres; server release build; pgbench \`-M prepared\`; concurrency 8, 10 s per side."
echo
echo "| round | pgbench tx/s ($STATEMENTS statements) | GraphQL requests/s | ratio | GraphQL errors | load avg |"
echo '| --- | --- | --- | --- | --- | --- |'
RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
    A="$(pgbench "$TEST_POSTGRES_URL" -n -M prepared -f "$DATA/nested.sql" -c 8 -j 2 -T 10 2>/dev/null | awk '/^tps = / {print $3}')"
    B="$("$LG" query --url "$URL" --token "$TOKEN" --query "$QUERY" --concurrency 8 --seconds 10)"
    RPS="$(/usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])['requests_per_sec'])" "$B")"
    ERR="$(/usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])['errors'])" "$B")"
    RATIO="$(/usr/bin/python3 -c "print(round($RPS/$A, 3))")"
    RATIOS+=("$RATIO")
    printf '| %s | %.0f | %.0f | %s | %s | %s |\n' "$r" "$A" "$RPS" "$RATIO" "$ERR" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
echo
echo "Median ratio GraphQL ÷ pgbench: $(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') (goal ≥ 0.4)."
# PROFILE=1: a flat CPU profile of the server (perf, software clock) under the same load.
if [[ "${PROFILE:-0}" == 1 ]]; then
    perf record -q -e cpu-clock -F 999 -p "$SERVER" -o "$DATA/perf.data" -- sleep 10 >/dev/null 2>&1 &
    PERF=$!
    "$LG" query --url "$URL" --token "$TOKEN" --query "$QUERY" --concurrency 8 --seconds 10 >/dev/null
    wait "$PERF" || true
    echo
    echo "Server profile (top symbols):"
    perf report -i "$DATA/perf.data" --stdio --no-children --sort dso,symbol 2>/dev/null | grep -E "^ +[0-9]" | head -40 || true
fi
