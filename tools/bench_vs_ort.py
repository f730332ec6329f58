#!/usr/bin/env python3
"""Side-by-side speed of `compress` and ONNX Runtime on MiniLM, in one run (BENCHMARKS.md figures).

For each repeat, for each thread count, it runs our models and then the ORT peer (../shared/peers/ort_bench.py, a
measurement tool outside this repo) on the same sentences file, batch sizes and threads, and records sentences/s.
Runs are interleaved because the machine is shared and noisy; the table reports medians over repeats and the ratio
ours / ORT of those medians.

Only the forward pass is timed on both sides (tokenization happens before timing). Batch 1 runs every sentence
alone; at batch 32 ORT pads each batch to its longest sentence while we pack tokens without padding, which is part
of what is being compared.

Usage:
  python3 tools/bench_vs_ort.py --sentences datasets/text/eval.txt --threads 1,2 --repeats 3 \
      --ours fp32=models/all-MiniLM-L6-v2 [--ours int8=artifacts/minilm-int8/model] \
      [--ort fp32,int8_per_channel] [--json out.json] [--markdown out.md]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.environ.get("PEERS_DIR", os.path.join(ROOT, "..", "shared", "peers"))
PEERS_PY = os.environ.get("PEERS_PY", "/opt/peers-venv/bin/python")
BIN = os.path.join(ROOT, ".build", "release", "compress")


def run_ours(model, sentences, threads, batch, items, budget):
    # MODEL@BIN runs another build of compress (an older commit, for before/after figures in one run).
    model, _, binary = model.partition("@")
    out = subprocess.run([binary or BIN, "eval", model, "--data", sentences, "--threads", str(threads), "--batch-size", str(batch),
                          "--timed-items", str(items), "--time-budget", str(budget), "--json"],
                         check=True, capture_output=True, text=True)
    r = json.loads(out.stdout)
    rows = {1: r["latency"]["throughput_per_s"]}
    for t in r.get("throughput", []):
        rows[t["batch_size"]] = t["throughput_per_s"]
    return rows, r["latency"]["latency_ms"]


def run_ort(models, sentences, threads, batches, repeats):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    subprocess.run([PEERS_PY, os.path.join(PEERS, "ort_bench.py"), "--sentences", sentences, "--threads", str(threads),
                    "--repeats", str(repeats), "--models", models, "--batch-sizes", ",".join(map(str, batches)), "--json", path],
                   check=True, capture_output=True, text=True)
    data = json.load(open(path))
    os.unlink(path)
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sentences", default=os.path.join(ROOT, "datasets", "text", "eval.txt"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch-sizes", default="1,32")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ours", action="append", default=[], help="NAME=MODEL[@BIN] (repeatable; BIN: another compress binary)")
    ap.add_argument("--ort", default="fp32,int8_per_channel")
    ap.add_argument("--budget", type=float, default=20, help="our per-batch-size time budget (s)")
    ap.add_argument("--ort-passes", type=int, default=2, help="ORT --repeats (passes over the file) per run")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    ours = dict(x.split("=", 1) for x in (args.ours or ["fp32=" + os.path.join(ROOT, "models", "all-MiniLM-L6-v2")]))
    threads = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batch_sizes.split(",")]
    n = sum(1 for l in open(args.sentences, encoding="utf-8") if l.strip())
    samples = {}  # (side, name, threads, batch) -> [sent/s]
    info = {}
    for rep in range(args.repeats):
        for t in threads:
            for name, model in ours.items():
                big = max(batches)
                rows, lat = run_ours(model, args.sentences, t, big, n, args.budget)
                for b in batches:
                    samples.setdefault(("compress", name, t, b), []).append(rows[b])
                samples.setdefault(("compress-p50ms", name, t, 1), []).append(lat["p50"])
                print(f"[{rep + 1}/{args.repeats}] compress {name} threads {t}: " + ", ".join(f"b{b} {rows[b]:.1f}/s" for b in batches), file=sys.stderr)
            data = run_ort(args.ort, args.sentences, t, batches, args.ort_passes)
            info = {k: v for k, v in data.items() if k != "rows"}
            for row in data["rows"]:
                samples.setdefault(("ort", row["model"], t, row["batch"]), []).append(row["sentences_per_s"])
                if row["batch"] == 1:
                    samples.setdefault(("ort-p50ms", row["model"], t, 1), []).append(row["p50_ms"])
            print(f"[{rep + 1}/{args.repeats}] ort threads {t}: " + ", ".join(f"{r['model']} b{r['batch']} {r['sentences_per_s']:.1f}/s" for r in data["rows"]), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in samples.items()}
    lines = [f"sentences: {args.sentences} ({n}), repeats {args.repeats} (medians), ORT {info.get('onnxruntime', '?')}, cpu {info.get('cpu', '?')}", "",
             "| model | threads | batch | compress sent/s | ORT model | ORT sent/s | ratio |", "|---|---:|---:|---:|---|---:|---:|"]
    ort_models = args.ort.split(",")
    for name in ours:
        peer = "fp32" if "fp32" in name else next((m for m in ort_models if m.startswith("int8_per_channel")), ort_models[-1])
        for t in threads:
            for b in batches:
                a, o = med.get(("compress", name, t, b)), med.get(("ort", peer, t, b))
                if a is None or o is None:
                    continue
                lines.append(f"| {name} | {t} | {b} | {a:.1f} | {peer} | {o:.1f} | {a / o:.2f}× |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        open(args.markdown, "w").write(table + "\n")
    if args.json:
        json.dump({"info": info, "samples": {"|".join(map(str, k)): v for k, v in samples.items()},
                   "medians": {"|".join(map(str, k)): v for k, v in med.items()}}, open(args.json, "w"), indent=2)


if __name__ == "__main__":
    main()
