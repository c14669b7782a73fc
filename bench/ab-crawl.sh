#!/usr/bin/env bash
# Interleaved crawl rates of several prebuilt server binaries: RUNS rounds, each running
# `bench/crawl.sh 1 LATENCY_MS` once per binary in the order given, through
# `scripts/test --with-services` (a fresh PostgreSQL + Redis per run). Prints one line per run:
# round, binary, scrape pages/s (C), 1-minute load. Set CRAWL_PAGES for the site's size (a
# 5,000-page crawl measures the pages, a 500-page one mostly start-up and the last batch).
#
#   CRAWL_PAGES=5000 bench/ab-crawl.sh 4 /path/old /path/mid /path/new
#
# Used to bisect issue 22's crawl loss over release builds of several commits at once (more
# than the two sides of bench/ab.sh). lg-bench and lg-crawl-fixture are used as built in
# target/release.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${1:?RUNS}"
shift
LATENCY="${LATENCY_MS:-0}"
for i in $(seq 1 "$RUNS"); do
    for bin in "$@"; do
        log="$(mktemp "${TMPDIR:-/tmp}/lg-ab-crawl.XXXXXX")"
        if ! NO_BUILD=1 CRAWL_NO_BUILD=1 CRAWL_BIN="$bin" \
            scripts/test --with-services bench/crawl.sh 1 "$LATENCY" >"$log" 2>&1; then
            echo "$i $bin run failed: $log"
            continue
        fi
        rate="$(grep -E '^\| 1 ' "$log" | awk -F'|' '{gsub(/ /, "", $5); print $5}')"
        echo "$i $bin $rate load $(cut -d' ' -f1 /proc/loadavg)"
        rm -f "$log"
    done
done
