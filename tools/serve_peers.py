#!/usr/bin/env python3
"""`compress serve` against the serving peers (issue 9): Triton 2.51 (nvidia-pytriton, ONNX Runtime in its Python
backend) and a FastAPI + ONNX Runtime KServe server, all serving all-MiniLM-L6-v2 fp32 and int8, each measured by the
same perf_analyzer with the same real token inputs (tools/make_perf_inputs.py) at the same concurrencies.

Every server gets the same compute budget (--threads, default 1: one core for the server, one for perf_analyzer on
this 2-core machine) and runs alone; servers are measured one after another, `--rounds` times interleaved, and the
tables quote medians. Peers come from ../shared/peers/serving (setup.sh); they are measurement tools, not copied here.

    flock /tmp/swift-build.lock /opt/serving-peers-venv/bin/python tools/serve_peers.py \\
        --compress .build/release/compress --int8 artifacts/minilm-int8/model --json /tmp/serve-peers.json
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
PEERS = os.environ.get("SERVING_PEERS_DIR", os.path.join(REPO, "..", "shared", "peers", "serving"))


def wait_ready(port, models, seconds=300):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            ok = all(urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/{m}/ready", timeout=2).status == 200 for m in models)
            if ok:
                return True
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.5)
    return False


def perf(model, url, protocol, concurrency, inputs, interval_ms):
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        out = f.name
    cmd = [os.path.join(VENV, "bin", "perf_analyzer"), "-m", model, "-u", url, "-i", protocol, "--concurrency-range",
           f"{concurrency}:{concurrency}", "--measurement-interval", str(interval_ms), "--input-data", inputs, "-f", out,
           "--max-trials", "8"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0 or not os.path.getsize(out):
        return {"error": " ".join((p.stdout + p.stderr).strip().splitlines()[-2:])}
    with open(out) as f:
        row = next(csv.DictReader(f))
    os.unlink(out)
    return {"rps": float(row["Inferences/Second"]), "p50_us": float(row["p50 latency"]), "p99_us": float(row["p99 latency"])}


def start(kind, args, port):
    if kind == "compress":
        repo = tempfile.mkdtemp(prefix="serve-peers-repo-")
        for name, path in (("minilm_fp32", args.fp32), ("minilm_int8", args.int8)):
            os.makedirs(os.path.join(repo, name))
            with open(os.path.join(repo, name, "config.yaml"), "w") as f:
                f.write(f"model: {os.path.abspath(path)}\ntext_inputs: tokens\nmax_batch_size: {args.max_batch}\n"
                        "dynamic_batching: {max_queue_delay_microseconds: 0, default_queue_policy: {max_queue_size: 1024}}\n")
        cmd = [args.compress, "serve", repo, "--http-port", str(port), "--grpc-port", str(port + 1), "--metrics-port", str(port + 2),
               "--threads", str(args.threads), "--quiet"]
    elif kind == "triton":
        cmd = [os.path.join(VENV, "bin", "python"), os.path.join(PEERS, "triton_peer.py"), "--threads", str(args.threads),
               "--http-port", str(port), "--grpc-port", str(port + 1), "--metrics-port", str(port + 2)]
    else:
        cmd = [os.path.join(VENV, "bin", "python"), os.path.join(PEERS, "fastapi_peer.py"), "--port", str(port), "--threads", str(args.threads)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    except Exception:  # noqa: BLE001 - already gone or stuck
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compress", default=os.path.join(REPO, ".build/release/compress"))
    ap.add_argument("--fp32", default=os.path.join(REPO, "models/all-MiniLM-L6-v2"))
    ap.add_argument("--int8", default=os.path.join(REPO, "artifacts/minilm-int8/model"))
    ap.add_argument("--inputs", default="/tmp/serve_peers_tokens.json", help="perf_analyzer --input-data (made by make_perf_inputs.py if missing)")
    ap.add_argument("--servers", default="compress,triton,fastapi")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--interval-ms", type=int, default=4000)
    ap.add_argument("--p99-bound-ms", type=float, default=100)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not os.path.exists(args.inputs):
        subprocess.run(["/opt/compress-tools-venv/bin/python", os.path.join(HERE, "make_perf_inputs.py"), "--out", args.inputs], check=True)
    port = 18960
    levels = [int(c) for c in args.concurrency.split(",")]
    results = []  # (round, server, model, protocol, concurrency, figures)
    for r in range(args.rounds):
        for kind in args.servers.split(","):
            proc = start(kind, args, port)
            try:
                if not wait_ready(port, ["minilm_fp32", "minilm_int8"]):
                    print(f"{kind}: not ready", file=sys.stderr)
                    continue
                protocols = [("http", f"127.0.0.1:{port}")]
                if kind != "fastapi":
                    protocols.append(("grpc", f"127.0.0.1:{port + 1}"))
                for model in ("minilm_fp32", "minilm_int8"):
                    for protocol, url in protocols:
                        for c in levels:
                            fig = perf(model, url, protocol, c, args.inputs, args.interval_ms)
                            print(f"round {r + 1} {kind} {model} {protocol} c={c}: {fig}", file=sys.stderr)
                            results.append({"round": r, "server": kind, "model": model, "protocol": protocol, "concurrency": c, **fig})
            finally:
                stop(proc)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)

    def med(server, model, protocol, c, key):
        xs = [x[key] for x in results if (x["server"], x["model"], x["protocol"], x["concurrency"]) == (server, model, protocol, c) and key in x]
        return statistics.median(xs) if xs else None

    print(f"| model | protocol | concurrency | compress req/s (p99) | Triton req/s (p99) | FastAPI+ORT req/s (p99) | ÷ Triton | ÷ FastAPI |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for model in ("minilm_fp32", "minilm_int8"):
        for protocol in ("http", "grpc"):
            for c in levels:
                cells, ours = [], med("compress", model, protocol, c, "rps")
                for s in ("compress", "triton", "fastapi"):
                    rps, p99 = med(s, model, protocol, c, "rps"), med(s, model, protocol, c, "p99_us")
                    cells.append(f"{rps:.0f} ({p99 / 1000:.1f} ms)" if rps else "–")
                ratio = lambda s: (f"×{ours / med(s, model, protocol, c, 'rps'):.2f}" if ours and med(s, model, protocol, c, "rps") else "–")  # noqa: E731
                print(f"| {model} | {protocol} | {c} | " + " | ".join(cells) + f" | {ratio('triton')} | {ratio('fastapi')} |")
    print(f"\nBest req/s with p99 ≤ {args.p99_bound_ms:g} ms over the concurrencies measured (HTTP):")
    for model in ("minilm_fp32", "minilm_int8"):
        best = {}
        for s in ("compress", "triton", "fastapi"):
            ok = [med(s, model, "http", c, "rps") for c in levels
                  if med(s, model, "http", c, "p99_us") is not None and med(s, model, "http", c, "p99_us") <= args.p99_bound_ms * 1000]
            best[s] = max([x for x in ok if x], default=None)
        print(f"- {model}: " + ", ".join(f"{s} {v:.0f}/s" if v else f"{s} –" for s, v in best.items()))


if __name__ == "__main__":
    sys.exit(main())
