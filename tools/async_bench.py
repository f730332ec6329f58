#!/usr/bin/env python3
"""Async inference throughput and latency (issue 11, BENCHMARKS.md "Async inference"), loopback only.

Run under the shared lock, release build:
  flock /tmp/swift-build.lock python3 tools/async_bench.py --compress .build/release/compress --jobs 10000 --json

For each backend (redis, sqlite):
  1. `compress serve --async --async-consumers 0` accepts N MiniLM jobs (sentences of datasets/text/eval.txt,
     BYTES, JSON); nothing runs them yet.
  2. `compress worker` (max_batch_size 32, --prefetch 64) starts and drains the queue: throughput =
     (N-1) / (last completion - first completion), from the completion times the worker stores with each result.
  3. With the worker running, M more jobs arrive open-loop at 70 % of that throughput; end-to-end latency
     (accepted -> result stored) percentiles from the stored timestamps.
Then the synchronous reference in the same run: `compress serve` + `compress bench --concurrency 32` (closed loop,
same model, threads, batch size, sentences), best RPS. The ratio async/sync is the issue's >= 0.9x bar.
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def wait_ready(port, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/v2/health/ready")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} not ready")


def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/metrics")
    out = {}
    for line in c.getresponse().read().decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k.split("{")[0]] = float(v)
    return out


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))]


def body_for(text):
    return json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1, 1], "data": [text]}]})


def submit(port, model, texts, n, threads=8, rate=None):
    """Submits n jobs (open loop at `rate`/s when given); returns ids."""
    ids = [None] * n
    start = time.time()

    def run(t):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(t, n, threads):
            if rate:
                delay = start + i / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            for attempt in range(50):
                c.request("POST", f"/v2/models/{model}/infer-async", body_for(texts[i % len(texts)]),
                          {"Content-Type": "application/json", "Idempotency-Key": f"bench-{start}-{i}"})
                r = c.getresponse()
                data = r.read()
                if r.status == 202:
                    ids[i] = json.loads(data)["id"]
                    break
                time.sleep(0.05)  # 429: back off and retry (same key: never twice)
    with cf.ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    return ids


def results(port, ids):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for i in ids:
        c.request("GET", f"/v2/jobs/{i}")
        r = c.getresponse()
        j = json.loads(r.read())
        out.append(j)
    return out


def wait_completed(metrics_port, n, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            m = metrics(metrics_port)
            if m.get("compress_queue_jobs_completed_total", 0) + m.get("compress_queue_jobs_dead_lettered_total", 0) >= n:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def stop_processes(procs, redis):
    """SIGTERM the servers/workers in reverse start order (kill after 30 s), then the private redis-server."""
    for p in reversed(procs):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    if redis:
        redis.kill()
        redis.wait()


def run_backend(a, backend, texts, tmp):
    procs = []
    redis = None
    if backend == "redis":
        rport = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        queue = f"redis://127.0.0.1:{rport}"
        time.sleep(0.3)
    else:
        queue = f"sqlite:{tmp}/jobs.sqlite"
    http_port, metrics_port = free_port(), free_port()
    common = ["--threads", str(a.threads), "--instances", str(a.instances), "--max-batch-size", "32", "--text-inputs", "text",
              "--quiet", "--queue", queue]
    try:
        serve = subprocess.Popen([a.compress, "serve", a.model, "--async", "--async-consumers", "0", "--http-port", str(http_port),
                                  "--max-queued-jobs", "0", *common])
        procs.append(serve)
        wait_ready(http_port)
        name = os.path.basename(a.model.rstrip("/"))
        t0 = time.time()
        ids = submit(http_port, name, texts, a.jobs)
        accept_s = time.time() - t0
        log(f"{backend}: accepted {a.jobs} jobs in {accept_s:.1f} s ({a.jobs / accept_s:.0f}/s)")
        rss_before = None
        worker = subprocess.Popen([a.compress, "worker", a.model, "--metrics-port", str(metrics_port), "--prefetch", "64", *common])
        procs.append(worker)
        ok = wait_completed(metrics_port, a.jobs, a.timeout)
        drained = results(http_port, ids)
        done = [j for j in drained if j.get("status") == "done"]
        comp = sorted(j["completed_at"] for j in done)
        drain_rps = (len(comp) - 1) / (comp[-1] - comp[0]) if len(comp) > 1 else 0
        log(f"{backend}: drained {len(done)}/{a.jobs} (ok={ok}) at {drain_rps:.1f} jobs/s")
        # Paced phase: end-to-end latency at 70 % of the drain rate.
        rate = 0.7 * drain_rps
        m0 = metrics(metrics_port)
        paced_ids = submit(http_port, name, texts, a.paced, threads=8, rate=rate)
        ok2 = wait_completed(metrics_port, a.jobs + a.paced, 120)
        paced = [j for j in results(http_port, paced_ids) if j.get("status") == "done"]
        lat = [(j["completed_at"] - j["submitted_at"]) * 1000 for j in paced]
        m = metrics(metrics_port)
        return {
            "backend": backend, "jobs": a.jobs, "accepted_per_s": round(a.jobs / accept_s, 1), "done": len(done),
            "lost": a.jobs - len(done), "drain_jobs_per_s": round(drain_rps, 1), "paced_rate_per_s": round(rate, 1),
            "paced_jobs": a.paced, "paced_done": len(paced),
            "e2e_ms": {p: round(percentile(lat, p), 1) for p in (50, 90, 99)} if lat else None,
            "queue_completed_total": m.get("compress_queue_jobs_completed_total"),
            "duplicates_dropped": m.get("compress_worker_duplicate_results_total"),
            "ok": ok and ok2,
        }
    finally:
        stop_processes(procs, redis)


def sync_reference(a):
    port = free_port()
    serve = subprocess.Popen([a.compress, "serve", a.model, "--http-port", str(port), "--threads", str(a.threads),
                              "--instances", str(a.instances), "--max-batch-size", "32", "--text-inputs", "text", "--quiet"])
    try:
        wait_ready(port)
        name = os.path.basename(a.model.rstrip("/"))
        out = {}
        for proto in ("rest-json", "rest-binary"):
            r = subprocess.run([a.compress, "bench", f"http://127.0.0.1:{port}", "--model", name, "--data", a.sentences,
                                "--concurrency", "32", "--protocol", proto, "--json", "--quiet"], capture_output=True, timeout=300)
            j = json.loads(r.stdout)
            levels = j.get("levels") or []
            out[proto] = max(l["summary"]["throughput_per_s"] for l in levels) if levels else None
        return out
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compress", default=os.path.join(ROOT, ".build/release/compress"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/all-MiniLM-L6-v2"))
    ap.add_argument("--sentences", default=os.path.join(ROOT, "datasets/text/eval.txt"))
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("--paced", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2, help="compute threads per instance")
    ap.add_argument("--instances", type=int, default=1, help="model instances (executors) of the server and the worker")
    ap.add_argument("--backends", default="redis,sqlite")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    texts = [l.strip() for l in open(a.sentences) if l.strip()]
    report = {"model": os.path.basename(a.model), "threads": a.threads, "instances": a.instances, "sentences": os.path.relpath(a.sentences, ROOT)}
    report["sync_best_rps_c32"] = sync_reference(a)
    log(f"sync: {report['sync_best_rps_c32']}")
    report["async"] = []
    for b in a.backends.split(","):
        tmp = tempfile.mkdtemp(prefix=f"async-bench-{b}-")
        try:
            report["async"].append(run_backend(a, b, texts, tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    best = max(v for v in report["sync_best_rps_c32"].values() if v)
    for r in report["async"]:
        r["ratio_to_sync_best"] = round(r["drain_jobs_per_s"] / best, 3) if best else None
    print(json.dumps(report, indent=None if a.json else 2))


if __name__ == "__main__":
    sys.exit(main())
