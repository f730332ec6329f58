#!/usr/bin/env bash
# `make bench-optimized`: every variant of MiniLM and the Fashion CNN built by `compress run`, served together by one
# `compress serve`, benched over each protocol at a few concurrencies, and combined by `compress report` into
# artifacts/bench-optimized/{report.md,report.html,results.json}.
#
# A variant's run is reused when artifacts/<name>/metrics.json is newer than its recipe (FORCE=1 rebuilds all), so
# a second run only re-benches. Variants whose recipe is missing are skipped with a note. Loopback only; the server
# gets SERVER_THREADS compute threads, the load generator one event loop. Run with nothing else busy.
set -euo pipefail
BIN=${BIN:-.build/release/compress}
OUT=${OUT:-artifacts/bench-optimized}
SERVER_THREADS=${SERVER_THREADS:-1}
LEVELS=${LEVELS:-1:32:x4}          # closed-loop concurrencies 1, 4, 16 (x4 keeps the sweep inside the time budget)
WINDOW=${WINDOW:-2}                # seconds per measurement window
MAX_LEVEL_SECONDS=${MAX_LEVEL_SECONDS:-12}
PORT=${PORT:-18900}
TEXT_DATA=${TEXT_DATA:-datasets/sentences/test.txt}
IMAGE_DATA=${IMAGE_DATA:-fashion-mnist:test}

# family|variant|recipe|data for the server benchmark
VARIANTS=(
  "MiniLM|fp32|minilm|$TEXT_DATA"
  "MiniLM|int8|minilm-int8|$TEXT_DATA"
  "MiniLM|int4 GPTQ|minilm-int4-gptq|$TEXT_DATA"
  "MiniLM|FFN 50 % + heads ¼ + distill|minilm-ffn50-heads|$TEXT_DATA"
  "MiniLM|3 layers, distilled|minilm-distill-l3|$TEXT_DATA"
  "MiniLM|optimized (pruned + distilled + int8)|minilm-optimized|$TEXT_DATA"
  "Fashion CNN|fp32 teacher|fashion-cnn|$IMAGE_DATA"
  "Fashion CNN|int8|fashion-cnn-int8|$IMAGE_DATA"
  "Fashion CNN|¼ width, distilled|fashion-cnn-distill|$IMAGE_DATA"
  "Fashion CNN|90 % sparse|fashion-cnn-sparse90|$IMAGE_DATA"
  "Fashion CNN|50 % channels + distill|fashion-cnn-channels50|$IMAGE_DATA"
)
# VARIANTS_FILE: the same lines from a file instead (tools/make_report_fixture.sh benches the digits CNN alone).
if [ -n "${VARIANTS_FILE:-}" ]; then mapfile -t VARIANTS <"$VARIANTS_FILE"; fi
TITLE=${TITLE:-MiniLM and the Fashion CNN after every optimization}

started=$(date +%s)
say() { printf '== %s (%ds)\n' "$*" $(( $(date +%s) - started )) >&2; }
mkdir -p "$OUT/bench" "$OUT/repository"
rm -rf "$OUT/repository"/* "$OUT/bench"/*
notes=("$(date -u +%Y-%m-%d) on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); server $SERVER_THREADS compute thread(s), one instance per model, max_batch_size 32; closed loop $LEVELS, ${WINDOW}s windows until 3 agree within 10 %")
manifest_variants=()
served=()

for entry in "${VARIANTS[@]}"; do
  IFS='|' read -r family variant recipe data <<<"$entry"
  if [ ! -f "recipes/$recipe.yaml" ]; then
    say "skip $recipe: no recipes/$recipe.yaml"; notes+=("$family $variant: not measured (recipes/$recipe.yaml does not exist)"); continue
  fi
  run="artifacts/$recipe"
  if [ "${FORCE:-0}" = 1 ] || [ ! -f "$run/metrics.json" ] || [ "recipes/$recipe.yaml" -nt "$run/metrics.json" ]; then
    say "compress run recipes/$recipe.yaml"
    rc=0; "$BIN" run "recipes/$recipe.yaml" || rc=$?
    # 2 = every stage ran and the artifacts were written, but the recipe's constraints were not met: bench it, say so.
    if [ "$rc" = 2 ]; then
      notes+=("$family $variant: recipe constraints not met (see $run/report.md); benched as built")
    elif [ "$rc" != 0 ]; then
      notes+=("$family $variant: \`compress run recipes/$recipe.yaml\` failed; not in the report"); continue
    fi
  else
    say "reuse $run (newer than its recipe)"
  fi
  if [ ! -d "$run/model" ]; then notes+=("$family $variant: the run exported no model; engine figures only"); fi
  name=$(echo "$recipe" | tr -c 'a-z0-9\n-' '-')
  if [ -d "$run/model" ]; then
    mkdir -p "$OUT/repository/$name"
    {
      echo "model: $(realpath "$run/model")"
      echo "max_batch_size: 32"
      case "$data" in *.txt) echo "text_inputs: both" ;; esac
      echo "dynamic_batching: {max_queue_delay_microseconds: 0, default_queue_policy: {max_queue_size: 1024}}"
    } >"$OUT/repository/$name/config.yaml"
    served+=("$name|$data")
  fi
  manifest_variants+=("$family|$variant|$run|$name")
done

SERVER=""
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; true; }
trap cleanup EXIT
if [ ${#served[@]} -gt 0 ]; then
  say "compress serve $OUT/repository (${#served[@]} models)"
  "$BIN" serve "$OUT/repository" --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) --threads "$SERVER_THREADS" --quiet &
  SERVER=$!
  for _ in $(seq 1 900); do
    curl -sf "127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { SERVER=""; break; }   # it exited: its error is on stderr above
    sleep 0.2
  done
  curl -sf "127.0.0.1:$PORT/v2/health/ready" >/dev/null || { echo "bench-optimized: the server never became ready" >&2; exit 1; }
  protocols=(rest-binary rest-json)
  if "$BIN" bench --help 2>&1 | grep -q grpc; then protocols+=(grpc); fi
  for s in "${served[@]}"; do
    IFS='|' read -r name data <<<"$s"
    for p in "${protocols[@]}"; do
      say "compress bench $name over $p"
      url="http://127.0.0.1:$PORT"
      [ "$p" = grpc ] && url="127.0.0.1:$((PORT + 1))"
      "$BIN" bench "$url" --model "$name" --protocol "$p" --data "$data" --concurrency "$LEVELS" --window "$WINDOW" \
        --max-duration "$MAX_LEVEL_SECONDS" --quiet --json >"$OUT/bench/$name-$p.json" \
        || { rm -f "$OUT/bench/$name-$p.json"; notes+=("$name over $p: compress bench failed"); }
    done
  done
fi

say "compress report"
NOTES_JSON=$(printf '%s\n' "${notes[@]}" | python3 -c 'import json,sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin]))')
export NOTES_JSON TITLE
python3 - "$OUT/manifest.json" "${manifest_variants[@]}" <<PY
import json, os, sys
out = sys.argv[1]; variants = []
for v in sys.argv[2:]:
    family, name, run, served = v.split("|")
    bench = sorted(f for f in os.listdir("$OUT/bench") if f.startswith(served + "-") and f[len(served) + 1:].rsplit(".", 1)[0] in ("rest-binary", "rest-json", "grpc"))
    variants.append({"family": family, "name": name, "run": os.path.relpath(run, os.path.dirname(out)),
                     "bench": ["bench/" + f for f in bench]})
notes = json.loads(os.environ["NOTES_JSON"])
json.dump({"title": os.environ["TITLE"], "variants": variants, "notes": notes,
           "commands": ["make bench-optimized   # = tools/bench_optimized.sh"]}, open(out, "w"), indent=1)
PY
"${REPORT_BIN:-$BIN}" report "$OUT/manifest.json" --output "$OUT"
say "done: $OUT/report.md, $OUT/report.html"
