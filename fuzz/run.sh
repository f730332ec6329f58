#!/usr/bin/env bash
# Builds the libFuzzer targets (Package.swift adds them when COMPRESS_FUZZ is set) with the fuzzer and address
# sanitizers into .build-fuzz, then runs each for FUZZ_SECONDS (default 60), seeded from fuzz/corpus/<target>/.
# New corpus entries go to .build-fuzz/corpus/<target>/ (not the repository); crashes to .build-fuzz/crashes/.
# Usage: fuzz/run.sh [target ...]   (targets: safetensors keras manifest recipe tokenizer; default all)
#        FUZZ_NO_BUILD=1 to reuse the last build.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
declare -A PRODUCT=([safetensors]=FuzzSafeTensors [keras]=FuzzKeras [manifest]=FuzzManifest [recipe]=FuzzRecipe [tokenizer]=FuzzTokenizer)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors keras manifest recipe tokenizer)

if [ -z "${FUZZ_NO_BUILD:-}" ]; then
    for t in "${targets[@]}"; do
        COMPRESS_FUZZ=1 $SWIFT build -c debug --sanitize=fuzzer --sanitize=address --scratch-path .build-fuzz --product "${PRODUCT[$t]}"
    done
fi
bin=$(COMPRESS_FUZZ=1 $SWIFT build -c debug --sanitize=fuzzer --sanitize=address --scratch-path .build-fuzz --show-bin-path)

status=0
for t in "${targets[@]}"; do
    mkdir -p ".build-fuzz/corpus/$t" ".build-fuzz/crashes"
    log=".build-fuzz/$t.log"
    # The memory budget refuses allocations above 1 GB, below libFuzzer's 2 GB malloc limit, so a huge shape in an
    # input is the clean error we ship rather than a fuzzer OOM report.
    extra=()
    # libhdf5 loops forever on some corrupted files (see HDF5Watchdog): keep fuzzing past such timeouts, in fork
    # mode, and count them, instead of stopping at the first. The watchdog is off here so libFuzzer sees the hang.
    [ "$t" = keras ] && extra=(-fork=1 -ignore_timeouts=1)
    if COMPRESS_MEMORY_LIMIT=1000000000 COMPRESS_HDF5_TIMEOUT=0 COMPRESS_FUZZ_WEIGHTS=fuzz/corpus/manifest-weights/model.safetensors \
        ASAN_OPTIONS=detect_leaks=0 "$bin/${PRODUCT[$t]}" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix=".build-fuzz/crashes/$t-" "${extra[@]}" \
        ".build-fuzz/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
        result=ok
    else
        result="CRASH (see $log and .build-fuzz/crashes/$t-*)"
        status=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    timeouts=$(grep -c 'libFuzzer: timeout' "$log" || true)
    echo "fuzz $t: ${SECONDS_PER_TARGET}s, ${execs:-?} executions, $timeouts timeouts, $result"
done
exit $status
