"""`compress bench` against perf_analyzer on the same `compress serve`, same models, same inputs (issue 10).

Starts one release `compress serve` (digits CNN + MiniLM, --threads 1), then for each model and concurrency runs
perf_analyzer 2.47 (../shared/peers/serving) and `compress bench` alternately, `--repeats` times each, and prints a
markdown table of medians with ratios (ours / perf_analyzer). Both use binary tensors over HTTP (or raw contents over gRPC with `--protocols grpc`), 2 s windows, the
10 % / 3-window stability rule. CNN inputs: random FP32 from both. MiniLM inputs: the same sentences of
datasets/text/eval.txt as BYTES `text` (a JSON data file for perf_analyzer, --data for compress bench).

Then the generator's own cost: an open-loop run at --generator-rate against the small digits MLP, with the CPU
seconds the bench process used (from /proc), to show it is not the bottleneck.

Also writes Tests/Fixtures/bench/perf_analyzer.csv (a CSV perf_analyzer wrote: the header the CSV test checks).

    flock /tmp/long-run.lock flock /tmp/swift-build.lock /opt/serving-peers-venv/bin/python tools/bench_vs_perf_analyzer.py \
        [--repeats 2] [--port 8710] [--protocols http,grpc] [--models digits_cnn] [--split] [--bench-args '--grpc-connections 1'] \
        [--variants 'nio=;async-http-client=--rest-client async-http-client']

--variants runs several `compress bench` configurations (LABEL=FLAGS, `;`-separated) in every cell, each right after
the same perf_analyzer run, and prints one row per configuration (an A/B of two clients in one run).
"""
import argparse
import csv
import io
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPRESS = ROOT / ".build/release/compress"
BENCH = COMPRESS
SPLIT = ["Client Send", "Network+Server Send/Recv", "Server Queue", "Server Compute Infer", "Client Recv"]
PA = pathlib.Path(os.environ.get("SERVING_PEERS_VENV", "/opt/serving-peers-venv")) / "bin/perf_analyzer"


def wait_ready(url, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url + "/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.5)
    sys.exit("compress serve did not become ready")


def read_csv(text):
    rows = list(csv.DictReader(io.StringIO(text)))
    return rows[0]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def run_pa(model, port, concurrency, extra, out, protocol="http"):
    cmd = [str(PA), "-m", model, "-u", f"127.0.0.1:{port}", "-i", protocol, "--concurrency-range", str(concurrency),
           "--measurement-interval", "2000", "--stability-percentage", "10", "--max-trials", "10", "-f", out] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"perf_analyzer failed: {' '.join(cmd)}\n{p.stdout[-1500:]}\n{p.stderr[-1500:]}", file=sys.stderr)
        return None, None
    return read_csv(pathlib.Path(out).read_text()), pathlib.Path(out).read_text()


def run_ours(model, port, concurrency, extra, out, protocol="http"):
    target = f"http://127.0.0.1:{port}" if protocol == "http" else f"127.0.0.1:{port}"
    extra = extra + (["--protocol", "grpc"] if protocol == "grpc" else [])
    cmd = [str(BENCH), "bench", target, "--model", model, "--concurrency", str(concurrency),
           "--window", "2", "--max-duration", "20", "--warmup", "1", "--csv", out, "--quiet"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"compress bench failed: {' '.join(cmd)}\n{p.stdout[-1500:]}\n{p.stderr[-1500:]}", file=sys.stderr)
        return None, None
    print(p.stdout, file=sys.stderr)
    return read_csv(pathlib.Path(out).read_text()), p.stdout


def main():
    global COMPRESS, BENCH
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--port", type=int, default=8710)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--generator-rate", type=float, default=0, help="0: 2x the MiniLM throughput measured above (<0: skip)")
    ap.add_argument("--protocols", default="http", help="comma-separated: http (binary tensors), grpc (raw contents)")
    ap.add_argument("--models", default="digits_cnn,all-MiniLM-L6-v2")
    ap.add_argument("--compress", default=str(ROOT / ".build/release/compress"), help="the binary that serves (and benches, unless --bench-compress)")
    ap.add_argument("--bench-compress", help="another binary for `compress bench` (an older client against the same server)")
    ap.add_argument("--bench-args", default="", help="extra `compress bench` flags (e.g. '--grpc-connections 1' for an A/B)")
    ap.add_argument("--variants", default="", help="LABEL=FLAGS;LABEL=FLAGS: several `compress bench` configurations per cell (A/B)")
    ap.add_argument("--split", action="store_true", help="also print where the time goes per request (the CSVs' component columns)")
    args = ap.parse_args()
    COMPRESS = pathlib.Path(args.compress)
    BENCH = pathlib.Path(args.bench_compress or args.compress)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-vs-pa-"))
    sentences = [l.strip() for l in (ROOT / "datasets/text/eval.txt").read_text().splitlines() if l.strip()][:64]
    (tmp / "text.txt").write_text("\n".join(sentences) + "\n")
    (tmp / "text.json").write_text(json.dumps({"data": [{"text": {"content": [s], "shape": [1]}} for s in sentences]}))
    models = {
        "digits_cnn": (["--input-data", "random"], ["--input-data", "random"]),
        "all-MiniLM-L6-v2": (["--input-data", str(tmp / "text.json"), "--shape", "text:1"], ["--data", str(tmp / "text.txt")]),
    }
    serve = subprocess.Popen(
        [str(COMPRESS), "serve", str(ROOT / "Tests/Fixtures/keras/digits_cnn.keras"), str(ROOT / "models/all-MiniLM-L6-v2"),
         str(ROOT.parent / "shared/fixtures/keras/digits_mlp.keras"), "--http-port", str(args.port),
         "--grpc-port", str(args.port + 1), "--metrics-port", str(args.port + 2), "--threads", "1", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{args.port}"
    try:
        wait_ready(url)
        variants = [("ours", args.bench_args.split())]
        if args.variants:
            variants = [(v.split("=", 1)[0], (v.split("=", 1)[1] if "=" in v else "").split() + args.bench_args.split())
                        for v in args.variants.split(";") if v.strip()]
        label = " | client" if len(variants) > 1 else ""
        print(f"| model | protocol | concurrency{label} | perf_analyzer infer/s | ours infer/s | ratio | PA p50 µs | ours p50 µs | ratio | PA p99 µs | ours p99 µs | ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if label else ""))
        minilm_rps = {}
        splits = []
        for model, protocol, (pa_extra, our_extra) in [(m, p, models[m]) for m in args.models.split(",") for p in args.protocols.split(",")]:
            port = args.port if protocol == "http" else args.port + 1
            for c in [int(x) for x in args.concurrency.split(",")]:
                pa, ours = [], {name: [] for name, _ in variants}
                for r in range(args.repeats):
                    row, text = run_pa(model, port, c, pa_extra, str(tmp / "pa.csv"), protocol)
                    if row:
                        pa.append(row)
                        if model == "digits_cnn" and protocol == "http" and c == 1 and r == 0:
                            shutil.copy(tmp / "pa.csv", ROOT / "Tests/Fixtures/bench/perf_analyzer.csv")
                    for name, flags in variants:
                        row = run_ours(model, port, c, our_extra + flags, str(tmp / "ours.csv"), protocol)[0]
                        if row:
                            ours[name].append(row)
                def med(rows, key):
                    return statistics.median(float(x[key]) for x in rows)
                if pa and model.startswith("all-MiniLM"):
                    minilm_rps[(protocol, c)] = med(pa, "Inferences/Second")
                for name, _ in variants:
                    cell = f" | {name}" if label else ""
                    if not pa or not ours[name]:
                        print(f"| {model} | {protocol} | {c}{cell} | (a run failed: see stderr) |", flush=True)
                        continue
                    cells = []
                    for key in ["Inferences/Second", "p50 latency", "p99 latency"]:
                        a, b = med(pa, key), med(ours[name], key)
                        cells += [f"{a:.1f}" if key.startswith("Inf") else f"{a:.0f}", f"{b:.1f}" if key.startswith("Inf") else f"{b:.0f}", f"{b / a:.2f}"]
                    print(f"| {model} | {protocol} | {c}{cell} | " + " | ".join(cells) + " |", flush=True)
                    splits.append((model, protocol, f"{c}{cell}", {k: (med(pa, k), med(ours[name], k)) for k in SPLIT}))
        if args.split:
            print("\nPer request, µs (medians; perf_analyzer's CSV columns, ours in the same columns; PA / ours):\n")
            print(f"| model | protocol | concurrency{label} | " + " | ".join(SPLIT) + " |")
            print("|---|---|---|" + ("---|" if label else "") + "---|" * len(SPLIT))
            for model, protocol, c, v in splits:
                print(f"| {model} | {protocol} | {c} | " + " | ".join(f"{a:.0f} / {b:.0f}" for a, b in v.values()) + " |", flush=True)
        if args.generator_rate < 0:
            return
        rate = args.generator_rate or 2 * max(minilm_rps.values() or [300])
        for name, flags in variants:
            cmd = [str(BENCH), "bench", url, "--model", "digits_mlp", "--rate", f"{rate:.0f}", "--window", "2", "--max-duration", "8",
                   "--warmup", "1", "--json", "--quiet"] + flags
            wall0 = time.time()
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            cpu = 0.0
            while p.poll() is None:
                try:
                    cpu = cpu_seconds(p.pid)
                except Exception:
                    pass
                time.sleep(0.05)
            out = json.loads(p.stdout.read())
            wall = time.time() - wall0
            s = out["levels"][0]["summary"]
            print(f"\ngenerator ({name}): offered {rate:.0f} req/s (2x MiniLM's best perf_analyzer throughput {max(minilm_rps.values() or [0]):.1f}) to digits_mlp: "
                  f"served {s['throughput_per_s']:.1f} req/s, p50 {s['latency']['p50_us']:.0f} µs, p99 {s['latency']['p99_us']:.0f} µs, "
                  f"errors {sum(v for k, v in s['statuses'].items() if k != '200')}, late sends {s['late_sends']}; "
                  f"bench process CPU {cpu:.2f} s over {wall:.1f} s wall = {cpu / wall:.2f} cores", flush=True)
    finally:
        serve.terminate()
        serve.wait(timeout=60)


if __name__ == "__main__":
    main()
