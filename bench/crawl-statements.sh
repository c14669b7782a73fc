#!/usr/bin/env bash
# One crawl round (bench/crawl.sh 1 0) of a prebuilt server binary with every statement of its
# connections logged by PostgreSQL, then the statement kinds it ran, most frequent first. Used to
# compare two builds' crawl work (docs/BENCHMARKS.md, "Old figures, interleaved A/B").
#
#   scripts/test --with-services bench/crawl-statements.sh BIN NAME
#
# Writes NAME's crawl output and its slice of the PostgreSQL log under ${OUT:-/tmp}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN="${1:?BIN}" NAME="${2:?NAME}" OUT="${OUT:-/tmp}"
SEP='?'; [[ "$TEST_POSTGRES_URL" == *\?* ]] && SEP='&'
LOG="$(psql "$TEST_POSTGRES_URL" -qAt -c 'SHOW data_directory')/log"
off=$(stat -c %s "$LOG")
TEST_POSTGRES_URL="${TEST_POSTGRES_URL}${SEP}options=-c%20log_statement%3Dall" CRAWL_NO_BUILD=1 \
    CRAWL_BIN="$BIN" bench/crawl.sh 1 0 >"$OUT/crawl-$NAME.out" 2>&1
tail -c +$((off + 1)) "$LOG" >"$OUT/crawl-$NAME.pglog"
echo "== $NAME: $(grep -cE 'LOG:  (statement|execute)' "$OUT/crawl-$NAME.pglog") statements"
grep -oE 'LOG:  (statement|execute [^:]*): .{0,70}' "$OUT/crawl-$NAME.pglog" \
    | sed -E 's/execute [^:]*:/execute:/' | sort | uniq -c | sort -rn | head -30
