#!/usr/bin/env bash
# What the host gives two fully independent copies of a model: throughput of one `compress parallel --executors 1`
# process alone, then of two such processes at once (summed), for ROUNDS rounds. The ceiling that in-process
# executors (`compress parallel --executors 2`) are compared with in BENCHMARKS.md.
# Usage: tools/process_scaling.sh [MODEL] [DATA] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-Tests/Fixtures/keras/digits_cnn.keras}
DATA=${2:-datasets/digits/test.h5}
ROUNDS=${3:-3}
B=.build/release/compress
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() {
    "$B" parallel "$MODEL" --data "$DATA" --executors 1 --batch-size 1 --seconds 3 --rounds 3 --json --quiet \
        | python3 -c "import json,sys; print(round(json.load(sys.stdin)['parallel_median']))"
}
for r in $(seq 1 "$ROUNDS"); do
    one=$(run)
    run > "$tmp/a" & run > "$tmp/b" & wait
    echo "round $r: one process $one /s, two processes together $(( $(cat "$tmp/a") + $(cat "$tmp/b") )) /s"
done
