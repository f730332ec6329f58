#!/usr/bin/env python3
"""Serving overhead at concurrency 1 (issue 9): perf_analyzer's p50 latency minus the engine's batch-1 forward time,
per model and protocol (HTTP and gRPC), against `compress serve` started here.

The engine's batch-1 time is the server's own `compute_infer` over the same requests (perf_analyzer reads it from
the statistics extension and prints it as "Server Compute Infer"): the forward pass alone, on the same executor,
inputs and machine state. Overhead = client p50 - compute_infer, so it includes perf_analyzer's own client time and
loopback networking: an upper bound of what the server adds.

    flock /tmp/swift-build.lock /opt/serving-peers-venv/bin/python tools/serve_overhead.py \\
        --compress .build/release/compress --rounds 3 --json /tmp/overhead.json

Each round runs every (model, protocol) once, interleaved, so all see the same machine load; the figures are the
medians over rounds. MiniLM runs only if perf_analyzer can drive it (`--minilm-input-data` for its INT64 ids).
"""
import argparse
import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV = os.environ.get("SERVING_PEERS_VENV", "/opt/serving-peers-venv")


def wait_ready(url, seconds=180):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.3)
    raise SystemExit("serve_overhead: server not ready after %d s" % seconds)


def perf(model, protocol, ports, interval_ms, extra):
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        out = f.name
    url = f"127.0.0.1:{ports[protocol]}"
    cmd = [os.path.join(VENV, "bin", "perf_analyzer"), "-m", model, "-u", url, "-i", protocol, "--concurrency-range", "1:1",
           "--measurement-interval", str(interval_ms), "-f", out] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": (p.stdout + p.stderr).strip().splitlines()[-3:]}
    with open(out) as f:
        row = next(csv.DictReader(f))
    os.unlink(out)
    us = lambda k: float(row[k])  # noqa: E731
    return {"infer_per_sec": float(row["Inferences/Second"]), "p50_us": us("p50 latency"), "p99_us": us("p99 latency"),
            "queue_us": us("Server Queue"), "compute_input_us": us("Server Compute Input"),
            "compute_infer_us": us("Server Compute Infer"), "compute_output_us": us("Server Compute Output"),
            "overhead_us": us("p50 latency") - us("Server Compute Infer")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compress", default=os.path.join(REPO, ".build/release/compress"))
    ap.add_argument("--cnn", default=os.path.join(REPO, "Tests/Fixtures/keras/digits_cnn.keras"))
    ap.add_argument("--minilm", default=os.path.join(REPO, "models/all-MiniLM-L6-v2"))
    # 16 tokens per request as the serving peer's README runs it, but real ids: `--input-data zero` would mask every
    # token, and compress packs tokens by the mask, so there would be nothing to compute (Triton's ORT model would
    # still run all 16). {tokens} is replaced by a file from tools/make_perf_inputs.py --fixed 16.
    ap.add_argument("--minilm-args", default="--input-data {tokens}",
                    help="perf_analyzer flags for MiniLM ('' skips MiniLM; the peer's zero-data flags: "
                         "'--shape input_ids:16 --shape attention_mask:16 --input-data zero')")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--interval-ms", type=int, default=3000, help="perf_analyzer's measurement window (a smoke run: 500)")
    ap.add_argument("--ports", default="18741,18742,18743", help="HTTP, gRPC, metrics")
    ap.add_argument("--json", help="write every round's figures here")
    ap.add_argument("--serve-args", default="", help="extra `compress serve` flags (e.g. '--no-event-loop-executor' for the old path)")
    args = ap.parse_args()
    http_port, grpc_port, metrics_port = (int(p) for p in args.ports.split(","))
    ports = {"http": http_port, "grpc": grpc_port}
    models = [("digits_cnn", args.cnn, [])]
    if args.minilm_args:
        minilm_args = args.minilm_args
        if "{tokens}" in minilm_args:
            tokens = os.path.join(tempfile.gettempdir(), "serve_overhead_tokens16.json")
            subprocess.run([sys.executable, os.path.join(HERE, "make_perf_inputs.py"), "--model", args.minilm, "--fixed", "16",
                            "--limit", "200", "--out", tokens], check=True)
            minilm_args = minilm_args.replace("{tokens}", tokens)
        models.append(("all-MiniLM-L6-v2", args.minilm, minilm_args.split()))
    server = subprocess.Popen(
        [args.compress, "serve"] + [m[1] for m in models] + ["--http-port", str(http_port), "--grpc-port", str(grpc_port),
                                                             "--metrics-port", str(metrics_port), "--threads", "1", "--quiet",
                                                             # INT64 ids only, as the peer's minilm_fp32 takes them.
                                                             "--text-inputs", "tokens"] + args.serve_args.split(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rounds = []
    try:
        wait_ready(f"http://127.0.0.1:{http_port}")
        for r in range(args.rounds):
            figures = {}
            for name, _, extra in models:
                for protocol in ("grpc", "http"):
                    figures[f"{name} {protocol}"] = perf(name, protocol, ports, args.interval_ms, extra)
                    print(f"round {r + 1} {name} {protocol}: {figures[f'{name} {protocol}']}", file=sys.stderr)
            rounds.append(figures)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    print("| model | protocol | p50 | p99 | compute_infer (engine, batch 1) | overhead = p50 − compute_infer | infer/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for key in rounds[0]:
        ok = [r[key] for r in rounds if "error" not in r[key]]
        if not ok:
            print(f"| {key.split()[0]} | {key.split()[1]} | failed: {rounds[0][key]['error']} |||||")
            continue
        med = lambda k: statistics.median(x[k] for x in ok)  # noqa: E731
        print(f"| {key.split()[0]} | {key.split()[1]} | {med('p50_us'):.0f} µs | {med('p99_us'):.0f} µs | {med('compute_infer_us'):.0f} µs | "
              f"**{med('overhead_us'):.0f} µs** (rounds: {', '.join('%.0f' % x['overhead_us'] for x in ok)}) | {med('infer_per_sec'):.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rounds, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
