#!/usr/bin/env bash
# Serving benchmarks behind BENCHMARKS.md "Serving: batching and overload" (issue 9). Run under the shared lock:
#   flock /tmp/swift-build.lock bash tools/serve_bench.sh [.build/release/compress] > /tmp/serve-bench.log 2>&1
# Needs perf_analyzer (/opt/serving-peers-venv, ../shared/peers/serving/setup.sh), the tools venv (tokenizers),
# models/all-MiniLM-L6-v2, datasets/text/eval.txt (make datasets) and an int8 MiniLM artifact (INT8=..., default
# artifacts/minilm-int8 from `compress run recipes/minilm-int8.yaml`). Loopback only; every step bounded in time.
set -u
BIN=${1:-.build/release/compress}
PA=${PERF_ANALYZER:-/opt/serving-peers-venv/bin/perf_analyzer}
PY=${TOOLS_PY:-/opt/compress-tools-venv/bin/python}
INT8=${INT8:-artifacts/minilm-int8}
DATA=${DATA:-datasets/text/eval.txt}
THREADS=${THREADS:-1}
SECONDS_PER=${SECONDS_PER:-5000}   # perf_analyzer measurement window, ms
OVERLOAD_SECONDS=${OVERLOAD_SECONDS:-60}
PORT=18800
TOKENS=/tmp/serve_bench_tokens.json
$PY tools/make_perf_inputs.py --sentences "$DATA" --out $TOKENS

wait_ready() { for _ in $(seq 1 600); do curl -sf "127.0.0.1:$PORT/v2/health/ready" >/dev/null && return 0; sleep 0.2; done; return 1; }
# gRPC and metrics beside HTTP, never on Triton's 8001/8002 (a peer may hold them).
serve() { "$BIN" serve "$@" --http-port $PORT --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) --threads "$THREADS" --quiet & SERVER=$!; wait_ready; }
stop() { kill -TERM "$SERVER"; wait "$SERVER"; echo "server exit $?"; }
pa() { timeout 300 "$PA" -u 127.0.0.1:$PORT --measurement-interval "$SECONDS_PER" --stability-percentage 25 --max-trials 6 "$@" 2>&1 \
        | grep -E "Concurrency:|Request Rate:|Throughput|p50 latency|p99 latency|Avg request latency|Server:|Inference count|Execution count|queue|compute infer|Successful|Failed|error" ; }

echo "== perf_analyzer on MiniLM with the serving peer's own flags (../shared/peers/serving/README.md)"
serve models/all-MiniLM-L6-v2 --text-inputs tokens --max-batch-size 32
timeout 300 "$PA" -m all-MiniLM-L6-v2 -u 127.0.0.1:$PORT --shape input_ids:16 --shape attention_mask:16 --input-data zero \
  --concurrency-range 1:4 --measurement-interval 1500 2>&1 | grep -E "Concurrency:|Throughput|error|Error"
echo "perf_analyzer exit ${PIPESTATUS[0]}"
stop

echo "== offline engine, batch 32, $THREADS thread(s) (compress parallel, one executor)"
for M in models/all-MiniLM-L6-v2 "$INT8"; do
  "$BIN" parallel "$M" --data "$DATA" --executors 1 --threads-per-executor "$THREADS" --batch-size 32 --seconds 4 --rounds 3 --json
done
"$BIN" parallel Tests/Fixtures/keras/digits_cnn.keras --data datasets/digits/test.h5 --executors 1 --threads-per-executor "$THREADS" --batch-size 1 --seconds 3 --rounds 3 --json

for M in models/all-MiniLM-L6-v2 "$INT8"; do
  NAME=$(basename "$M")
  echo "== serve $NAME, max_batch_size 32, one instance × $THREADS thread(s); perf_analyzer concurrency 32, real token lengths"
  serve "$M" --text-inputs tokens --max-batch-size 32
  pa -m "$NAME" --input-data $TOKENS --concurrency-range 32 | tee /tmp/serve_bench_pa.txt
  stop
  [ "$NAME" = all-MiniLM-L6-v2 ] && RPS=$(grep -oE "Throughput: [0-9.]+" /tmp/serve_bench_pa.txt | tail -1 | grep -oE "[0-9.]+$")
done

RATE=$(python3 -c "print(round(2 * float('${RPS:-100}')))")
echo "== overload: $RATE req/s (2x the sustainable ${RPS:-?} infer/s) for ${OVERLOAD_SECONDS} s on the repository's minilm (max_queue_size 256)"
"$BIN" serve Tests/Fixtures/serving-repository --http-port $PORT --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) --threads "$THREADS" --quiet & SERVER=$!
wait_ready
python3 tools/serve_overload.py --url 127.0.0.1:$PORT --model minilm --pid $SERVER --rate "$RATE" --seconds "$OVERLOAD_SECONDS" \
  --tokens $TOKENS --json
echo "overload exit $?"
stop

echo "== digits CNN at concurrency 32: batching (max_batch_size 64) vs none (max_batch_size 1)"
for MB in 64 1; do
  serve Tests/Fixtures/keras/digits_cnn.keras --max-batch-size $MB
  echo "-- max_batch_size $MB"
  pa -m digits_cnn --concurrency-range 32
  stop
done
