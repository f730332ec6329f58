"""Do `make bench-optimized`'s figures agree with the same tools run alone? (issue 10, "Measured")

For each named variant of an existing artifacts/bench-optimized (run `make bench-optimized` first):
- engine: `compress eval <run>/model --data <the recipe's evaluation data> --threads 1 --json` against the run's
  own evaluate stage in <run>/metrics.json (latency p50 at batch 1, throughput at batch 32);
- server: one `compress serve <out>/repository` (the report's own model configs, same compute threads), then
  `compress bench` over rest-binary at the report's concurrencies, against <out>/bench/<name>-rest-binary.json
  (throughput, p50, p99 per level).
Prints markdown tables with ratios (alone / report).

    flock /tmp/long-run.lock flock /tmp/swift-build.lock python3 tools/check_bench_optimized.py minilm-int8 fashion-cnn-int8 \
        [--out artifacts/bench-optimized] [--compress .build/release/compress] [--server-threads 1]
"""
import argparse
import json
import pathlib
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def evaluate_stage(metrics):
    stages = [s for s in metrics["stages"] if s.get("stage") == "evaluate"]
    return stages[-1]["metrics"]


def recipe_data(recipe):
    """The recipe's evaluation data specs (a string or a list under data.evaluation)."""
    import re
    text = recipe.read_text()
    m = re.search(r"^\s*evaluation:\s*(.+)$", text, re.M)
    value = m.group(1).strip()
    if value.startswith("["):
        return [v.strip() for v in value.strip("[]").split(",")]
    return [value]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="+", help="served names (the recipe names), e.g. minilm-int8 fashion-cnn-int8")
    ap.add_argument("--out", default=str(ROOT / "artifacts/bench-optimized"))
    ap.add_argument("--compress", default=str(ROOT / ".build/release/compress"))
    ap.add_argument("--server-threads", default="1")
    ap.add_argument("--port", type=int, default=18950)
    ap.add_argument("--max-level-seconds", default="12")
    ap.add_argument("--levels", default="1:32:x4", help="the closed-loop levels tools/bench_optimized.sh used (its LEVELS)")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    C = args.compress

    print("Engine, `compress eval` alone vs the recipe run's evaluate stage (1 thread):\n")
    print("| variant | report p50 ms (batch 1) | alone p50 ms | ratio | report items/s (batch 32) | alone items/s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name in args.names:
        run = ROOT / "artifacts" / name
        report = evaluate_stage(json.loads((run / "metrics.json").read_text()))
        cmd = [C, "eval", str(run / "model"), "--threads", str(report.get("threads", 1)), "--batch-size", "32", "--json", "--quiet",
               "--no-verify"]
        for d in recipe_data(ROOT / "recipes" / f"{name}.yaml"):
            cmd += ["--data", d]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            print(f"| {name} | `compress eval` failed: {p.stderr.strip()[-200:]} |")
            continue
        alone = json.loads(p.stdout)
        a50, r50 = alone["latency_ms"]["p50"], report["latency_ms"]["p50"]
        at, rt = alone["throughput_per_s"], report["throughput_per_s"]
        print(f"| {name} | {r50:.3f} | {a50:.3f} | {a50 / r50:.2f} | {rt:.0f} | {at:.0f} | {at / rt:.2f} |", flush=True)

    serve = subprocess.Popen([C, "serve", str(out / "repository"), "--http-port", str(args.port), "--grpc-port", str(args.port + 1),
                              "--metrics-port", str(args.port + 2), "--threads", args.server_threads, "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/v2/health/ready", timeout=2)
                break
            except Exception:
                time.sleep(0.2)
        print("\nServer, `compress bench` alone (rest-binary) vs the report's run, same repository and levels:\n")
        print("| variant | concurrency | report req/s | alone req/s | ratio | report p50 µs | alone p50 µs | ratio | report p99 µs | alone p99 µs | ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name in args.names:
            report = json.loads((out / "bench" / f"{name}-rest-binary.json").read_text())
            data = "datasets/sentences/test.txt" if name.startswith("minilm") else "fashion-mnist:test"
            cmd = [C, "bench", f"http://127.0.0.1:{args.port}", "--model", name, "--protocol", "rest-binary", "--data", data,
                   "--concurrency", args.levels,
                   "--window", "2", "--max-duration", args.max_level_seconds, "--quiet", "--json"]
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if p.returncode != 0:
                print(f"| {name} | `compress bench` failed: {p.stderr.strip()[-200:]} |")
                continue
            alone = json.loads(p.stdout)
            for r, a in zip(report["levels"], alone["levels"]):
                rs, as_ = r["summary"], a["summary"]
                cells = []
                for x, y in [(rs["throughput_per_s"], as_["throughput_per_s"]), (rs["latency"]["p50_us"], as_["latency"]["p50_us"]),
                             (rs["latency"]["p99_us"], as_["latency"]["p99_us"])]:
                    cells += [f"{x:.0f}", f"{y:.0f}", f"{y / x:.2f}"]
                print(f"| {name} | {r['mode']['concurrency']['_0']} | " + " | ".join(cells) + " |", flush=True)
    finally:
        serve.terminate()
        serve.wait(timeout=60)


if __name__ == "__main__":
    main()
