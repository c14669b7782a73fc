#!/usr/bin/env bash
# Outreach figure (h): campaign send rate to a local SMTP sink.
#
#   scripts/test --with-services bench/send.sh [ROUNDS] [LEADS] [PACED]
#
# Builds release binaries, starts `lg-bench smtp-sink` (a fast in-process Rust sink that counts
# accepted messages) and the server on Postgres + Redis with SMTP_URL pointing at the sink,
# registers one user, inserts LEADS leads (default 5,000) straight into Postgres, then per round:
#   A. a campaign to all LEADS leads with the rate limit off: emails/s at the sink
#      (first to last accepted message; goal ≥ 500/s);
#   B. a campaign to PACED leads (default 300) at sendRatePerMinute = 600: the measured rate per
#      minute at the sink (goal within ±5 % of 600).
# CAMPAIGN_SEND_CONCURRENCY is passed through (server default 4).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${1:-3}"
LEADS="${2:-5000}"
PACED="${3:-300}"
: "${TEST_POSTGRES_URL:?run through scripts/test --with-services}"
: "${TEST_REDIS_URL:?run through scripts/test --with-services}"

# NO_BUILD=1 uses the binaries already in target/release; SERVER_BIN=path runs that server
# binary (bench/ab.sh: an interleaved A/B of two builds).
if [[ "${NO_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p leadgraph -p leadgraph-bench
fi
BIN="${SERVER_BIN:-target/release/leadgraph}"
LG=target/release/lg-bench
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
SINK_PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
STATUS="$DATA/sink.json"
"$LG" smtp-sink --listen "127.0.0.1:$SINK_PORT" --status "$STATUS" >"$DATA/sink.log" 2>&1 &
SINK=$!
env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" DATA_DIR="$DATA" PUBLIC_URL="$URL" \
    DATABASE_URL="$TEST_POSTGRES_URL" REDIS_URL="$TEST_REDIS_URL" REQUIRE_EMAIL_VERIFICATION=false \
    SMTP_URL="smtp://127.0.0.1:$SINK_PORT" ${CAMPAIGN_SEND_CONCURRENCY:+CAMPAIGN_SEND_CONCURRENCY=$CAMPAIGN_SEND_CONCURRENCY} \
    RUST_LOG=warn "$BIN" serve >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" "$SINK" 2>/dev/null || true; wait "$SERVER" "$SINK" 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.2; done
"$LG" setup-users --url "$URL" --count 1 >/dev/null
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
py() { /usr/bin/python3 -c "$@"; }
TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
    | py 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
ORG="$(gql '{"query":"{ organization { id } }"}' | py 'import json,sys; print(json.load(sys.stdin)["data"]["organization"]["id"])')"

PSQL=(psql "$TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" <<SQL
INSERT INTO leads (id, org_id, first_name, last_name, email, phone, company, title, website, industry,
  city, region, country, source, status, score, score_reasons, custom_fields, provenance, created_at, updated_at)
SELECT gen_random_uuid(), '$ORG', 'First' || g, 'Last' || g, 'lead' || g || '@example.com', NULL,
  'Company ' || (g % 500), NULL, NULL, NULL,
  CASE WHEN g <= $PACED THEN 'Paced' ELSE 'Bulk' END, NULL, 'US', 'IMPORT', 'NEW', 0, '[]', '{}', '{}', now(), now()
FROM generate_series(1, $LEADS) AS g;
ANALYZE leads;
SQL
TEMPLATE="$(gql '{"query":"mutation { createTemplate(input: {name: \"Bench\", subject: \"Hi {{ lead.firstName }}\", bodyHtml: \"<p>Hello {{ lead.firstName }} of {{ lead.company }}, see <a href=\\\"https://example.com/x\\\">this</a>.</p>\", bodyText: \"Hello {{ lead.firstName }}\"}) { id } }"}' \
    | py 'import json,sys; print(json.load(sys.stdin)["data"]["createTemplate"]["id"])')"

# One campaign to the leads matching FILTER (JSON) at RATE per minute (null = unlimited);
# prints "count seconds" measured at the sink.
run_campaign() {
    local rate="$1" filter="$2" expect="$3"
    touch "$STATUS.reset"; sleep 0.3
    local id
    id="$(gql "{\"query\":\"mutation(\$i: CreateCampaignInput!) { createCampaign(input: \$i) { id } }\",\"variables\":{\"i\":{\"name\":\"bench\",\"templateId\":\"$TEMPLATE\",\"fromName\":\"Bench\",\"fromEmail\":\"bench@sender.example.com\",\"sendRatePerMinute\":$rate}}}" \
        | py 'import json,sys; print(json.load(sys.stdin)["data"]["createCampaign"]["id"])')"
    gql "{\"query\":\"mutation(\$c: ID!, \$i: RecipientSourceInput!) { addCampaignRecipients(campaignId: \$c, input: \$i) { added } }\",\"variables\":{\"c\":\"$id\",\"i\":{\"filter\":$filter}}}" >/dev/null
    gql "{\"query\":\"mutation(\$id: ID!) { launchCampaign(id: \$id) { status } }\",\"variables\":{\"id\":\"$id\"}}" >/dev/null
    for _ in $(seq 1 6000); do
        local n
        n="$(py "import json; print(json.load(open('$STATUS'))['count'])" 2>/dev/null || echo 0)"
        [ "$n" -ge "$expect" ] && break
        sleep 0.1
    done
    py "import json; s=json.load(open('$STATUS')); print(s['count'], s['last']-s['first'])"
}

echo "## Campaign send rate (figure h) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`scripts/test --with-services bench/send.sh $ROUNDS $LEADS $PACED\`; machine: $(nproc) cores; Postgres + Redis; server release build, CAMPAIGN_SEND_CONCURRENCY=${CAMPAIGN_SEND_CONCURRENCY:-4 (default)}; sink: \`lg-bench smtp-sink\`."
echo
echo "| round | unlimited: emails | seconds | emails/s | paced 600/min: emails | seconds | measured /min | deviation | load avg |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for r in $(seq 1 "$ROUNDS"); do
    read -r NA SA < <(run_campaign null '{}' "$LEADS")
    RA="$(py "print(round(($NA-1)/$SA, 1) if $SA > 0 else 0)")"
    read -r NB SB < <(run_campaign 600 '{"city":"Paced"}' "$PACED")
    RB="$(py "print(round(($NB-1)/$SB*60, 1) if $SB > 0 else 0)")"
    DEV="$(py "print(round(($RB-600)/6, 2))")"
    printf '| %s | %s | %.2f | %s | %s | %.2f | %s | %s %% | %s |\n' "$r" "$NA" "$SA" "$RA" "$NB" "$SB" "$RB" "$DEV" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
echo
echo "Goals: ≥ 500 emails/s unlimited; paced within ±5 % of 600/min."
