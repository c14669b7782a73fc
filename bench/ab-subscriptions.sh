#!/usr/bin/env bash
# Interleaved latency A/B of figure (c) between two prebuilt server binaries (issue 21's
# regression check): runs bench/subscriptions.sh with one round, alternating A and B, RUNS times
# each, on a quiet machine, and prints each run's 1,000- and 10,000-subscriber rows.
#
#   bench/ab-subscriptions.sh A_BIN B_BIN [RUNS]
#
# Build A at the older commit (a worktree, `cargo build --release`), B at the newer one; copy
# both binaries out of target/ first (the script rebuilds only lg-bench). Each run starts its
# own throwaway PostgreSQL + Redis through scripts/test --with-services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A="${1:?A_BIN}" B="${2:?B_BIN}" RUNS="${3:-3}"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/lg-ab.XXXXXX")"
for i in $(seq 1 "$RUNS"); do
    for side in A B; do
        bin="$A"; [[ "$side" == B ]] && bin="$B"
        log="$LOGS/$side-$i.log"
        echo "=== $side run $i $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
        SERVER_BIN="$bin" scripts/test --with-services bench/subscriptions.sh 1 >"$log" 2>&1
        grep -E '^\| 1 \| (1000|10000)/' "$log" | cut -d'|' -f3,5-8
    done
done
echo "logs: $LOGS"
