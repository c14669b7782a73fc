#!/usr/bin/env bash
# Interleaved A/B of any figure between two prebuilt server binaries: runs one figure script
# with its own arguments (one round is usual), alternating A and B, RUNS times each, and prints
# the table rows (lines starting with `|`) of each run. Used to check that a change made no
# figure slower (issue 22: "re-run the old figures") on a machine whose load would make a
# comparison with an old recorded number meaningless: both sides share the same load.
#
#   bench/ab.sh A_BIN B_BIN RUNS SCRIPT [SCRIPT ARGS…]
#   e.g. bench/ab.sh /work/bin-old /work/bin-new 3 bench/send.sh 1 5000 300
#
# The script must honour SERVER_BIN and NO_BUILD (nested, send, identity, export, shapes,
# subscriptions do; crawl.sh takes CRAWL_BIN, which is set too). lg-bench is used as built in
# target/release. Each run starts its own throwaway PostgreSQL + Redis through
# scripts/test --with-services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A="${1:?A_BIN}" B="${2:?B_BIN}" RUNS="${3:?RUNS}"
shift 3
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/lg-ab.XXXXXX")"
for i in $(seq 1 "$RUNS"); do
    for side in A B; do
        bin="$A"; [[ "$side" == B ]] && bin="$B"
        log="$LOGS/$side-$i.log"
        echo "=== $side run $i $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
        if ! NO_BUILD=1 CRAWL_NO_BUILD=1 SERVER_BIN="$bin" CRAWL_BIN="$bin" \
            scripts/test --with-services "$@" >"$log" 2>&1; then
            echo "run failed: $log"
        fi
        grep -E '^\|' "$log" || tail -5 "$log"
    done
done
echo "logs: $LOGS"
