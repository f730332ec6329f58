#!/usr/bin/env bash
# Regenerates Tests/Fixtures/report: a real `make bench-optimized` run on the two digits CNN variants (fp32, int8),
# small enough to commit, that `make report-check` renders with `compress report`/`compress compare` and loads in
# headless Chromium. Needs a release build and datasets/digits (committed). About a minute.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "digits CNN|fp32|digits-cnn|datasets/digits/test.h5" "digits CNN|int8|digits-cnn-int8|datasets/digits/test.h5" >"$tmp/variants"
REPORT_BIN=${REPORT_BIN:-.build/debug/compress} VARIANTS_FILE="$tmp/variants" OUT="$tmp/out" LEVELS=1:4:x4 WINDOW=1 MAX_LEVEL_SECONDS=5 TITLE="digits CNN, fp32 and int8 (fixture)" \
  bash tools/bench_optimized.sh
dest=Tests/Fixtures/report
rm -rf "$dest"; mkdir -p "$dest/bench"
python3 - "$tmp/out/manifest.json" "$dest" <<'PY'
import json, os, shutil, sys
src, dest = sys.argv[1], sys.argv[2]
m = json.load(open(src)); base = os.path.dirname(src)
for v in m["variants"]:
    name = os.path.basename(os.path.normpath(os.path.join(base, v["run"])))
    shutil.copy(os.path.join(base, v["run"], "metrics.json"), f"{dest}/{name}.metrics.json")
    v["run"] = f"{name}.metrics.json"
    for b in v["bench"]:
        shutil.copy(os.path.join(base, b), f"{dest}/{b}")
json.dump(m, open(f"{dest}/manifest.json", "w"), indent=1)
PY
echo "wrote $dest" >&2
