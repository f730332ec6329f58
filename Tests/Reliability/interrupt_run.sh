#!/usr/bin/env bash
# kill -9 of `compress run` at 1 s, 3 s and 6 s leaves the previous complete run directory (or none), the next run
# removes the killed runs' temporary directories, and of two concurrent runs to one output the second fails at once
# with "already running" (issue 7). Everything happens under a fresh mktemp directory.
# Usage: Tests/Reliability/interrupt_run.sh [BINARY] [RECIPE]   (defaults: release binary if built, else debug;
#        recipes/minilm-int8.yaml)
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-}
if [ -z "$BIN" ]; then
    BIN=.build/release/compress
    [ -x "$BIN" ] || BIN=.build/debug/compress
fi
RECIPE=${2:-recipes/minilm-int8.yaml}
work=$(mktemp -d /tmp/compress-interrupt-XXXXXX)
trap 'rm -rf "$work"' EXIT
out="$work/run"
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; for f in "$work"/*.err; do [ -s "$f" ] && sed "s|^|     $(basename "$f"): |" "$f" | tail -3; done; ls -a "$work" | sed 's/^/     ls: /'; fi; }
complete() { [ -f "$out/metrics.json" ] && [ -f "$out/report.md" ] && [ -f "$out/model/model.json" ] && python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$out/metrics.json"; }
leftovers() { find "$work" -maxdepth 1 -name '.run.tmp-*' -o -maxdepth 1 -name '.run.old-*' | wc -l; }
# `exec`, so that `$!` of `run &` is the compress process itself (kill -9 must hit it, not a wrapping subshell).
run() { COMPRESS_PROGRESS=0 exec "$BIN" run "$RECIPE" --output "$out" --time-budget 0.2 "$@"; }

echo "binary $BIN, recipe $RECIPE, output $out"
# No previous run: a run killed at 3 s leaves no output directory (only a temporary one, for the next run to remove).
run >/dev/null 2>"$work/killed-first.err" &
pid=$!
sleep 3
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "kill -9 at 3s with no previous run: no output directory" "[ ! -e '$out' ]"
start=$(date +%s)
(run >/dev/null 2>"$work/first.err"); status=$?
check "a first complete run (exit $status, $(( $(date +%s) - start )) s)" "[ $status -eq 0 -o $status -eq 2 ] && complete"
before=$(sha256sum "$out/metrics.json" | cut -d' ' -f1)

for t in 1 3 6; do
    run >/dev/null 2>"$work/killed-$t.err" &
    pid=$!
    sleep "$t"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pgrep -f -- "--output $out" >/dev/null && { echo "FAIL a killed run is still running"; fail=1; }
    now=$(sha256sum "$out/metrics.json" 2>/dev/null | cut -d' ' -f1)
    # Either the previous run is untouched, or (a run that finished before the kill) a new complete one.
    check "kill -9 at ${t}s: the output is a complete run" "complete"
    [ "$now" = "$before" ] && echo "     (the previous run, untouched)" || echo "     (a newer complete run)"
    before=$now
done

# Two runs at once: the second must fail fast while the first holds the lock.
run >/dev/null 2>"$work/a.err" &
a=$!
sleep 1
t0=$(date +%s%N)
(run >/dev/null 2>"$work/b.err"); b_status=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$a"; a_status=$?
check "concurrent: the second run fails in ${ms} ms with 'already running'" "[ $b_status -ne 0 ] && grep -q 'already running' '$work/b.err' && [ $ms -lt 5000 ]"
check "concurrent: the first run completes (exit $a_status)" "[ $a_status -eq 0 -o $a_status -eq 2 ] && complete"
check "no temporary directories or lock file left after the next run" "[ \$(leftovers) -eq 0 ] && [ ! -e '$work/.run.lock' ]"
check "the artifact loads (checksum verified)" "'$BIN' inspect '$out/model' >/dev/null"
exit $fail
