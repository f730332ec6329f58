#!/usr/bin/env python3
"""Measure one `compress serve` replica for tools/autoscale_sim.py: start-up to ready, then a closed-loop
concurrency sweep (throughput, latency percentiles, server CPU) over KServe v2 REST on loopback.

Writes a capacity JSON (schema below) that the simulator reads; `compress bench --json` can produce the same
fields later. Sentences come from datasets/text/eval.txt (real held-out text), one per request, as `text` BYTES.
The client is stdlib Python (http.client, one persistent connection per thread) on the same 2-core machine, so the
figures are a lower bound of what a replica with its own cores does; the run notes the host.

Bounded: loopback only, `--seconds` per level (default 4) after a 1 s warm-up, levels 1..32, then SIGTERM.

Usage (under the shared lock, it is CPU-heavy):
  flock /tmp/swift-build.lock python3 tools/measure_replica.py --bin .build/release/compress \\
      --model models/all-MiniLM-L6-v2 --threads 2 --out deploy/sim/minilm-fp32.json

Capacity JSON: {"model", "measured": {command, date, host}, "replica": {"threads", "startup_s", "max_rps",
"cpu_cores_at_max"}, "curve": [{"concurrency", "rps", "p50_ms", "p99_ms", "cpu_cores", "errors"}]}
"""

import argparse
import datetime
import http.client
import json
import os
import pathlib
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process from /proc (seconds)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q / 100 * (len(sorted_values) - 1)))))
    return sorted_values[i]


def wait_ready(port, proc, timeout):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            sys.exit(f"error: compress serve exited with {proc.returncode} before it was ready")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/v2/health/ready")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"error: not ready after {timeout} s")


def load_level(port, model, bodies, concurrency, seconds):
    """Closed loop: each thread sends the next request as soon as the previous answer arrives."""
    latencies, errors, lock = [], [0], threading.Lock()
    stop_at = [0.0]
    record = [False]

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = k
        mine, bad = [], 0
        while time.monotonic() < stop_at[0]:
            body = bodies[i % len(bodies)]
            i += concurrency
            t0 = time.perf_counter()
            try:
                conn.request("POST", f"/v2/models/{model}/infer", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except OSError:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if record[0]:
                if ok:
                    mine.append(time.perf_counter() - t0)
                else:
                    bad += 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    stop_at[0] = time.monotonic() + 1 + seconds
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    time.sleep(1)  # warm-up: connections open, batcher busy
    record[0] = True
    t_start = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t_start
    latencies.sort()
    return latencies, errors[0], elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=str(ROOT / ".build/release/compress"))
    ap.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    ap.add_argument("--name", help="model name the server uses (default: the folder's base name)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--levels", default="1,2,4,8,16,32")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--text", default=str(ROOT / "datasets/text/eval.txt"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    name = args.name or pathlib.Path(args.model).name
    sentences = [s.strip() for s in pathlib.Path(args.text).read_text().splitlines() if s.strip()]
    bodies = [json.dumps({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [s]}]}).encode()
              for s in sentences]
    port = free_port()
    cmd = [args.bin, "serve", args.model, f"--http-port={port}", "--grpc-port=0", "--metrics-port=0",
           f"--threads={args.threads}", "--quiet"]
    log = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        wait_ready(port, proc, timeout=120)
        startup = time.monotonic() - t0
        print(f"ready after {startup:.2f} s", file=sys.stderr)
        curve = []
        for level in [int(x) for x in args.levels.split(",")]:
            c0 = cpu_seconds(proc.pid)
            lat, errors, elapsed = load_level(port, name, bodies, level, args.seconds)
            cores = (cpu_seconds(proc.pid) - c0) / (elapsed + 1)  # the warm-up second ran too
            row = {"concurrency": level, "rps": round(len(lat) / elapsed, 1),
                   "p50_ms": round(percentile(lat, 50) * 1e3, 2), "p99_ms": round(percentile(lat, 99) * 1e3, 2),
                   "cpu_cores": round(cores, 2), "errors": errors}
            curve.append(row)
            print(json.dumps(row), file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
    if proc.returncode != 0:
        log.seek(0)
        sys.exit(f"error: compress serve exited {proc.returncode} after SIGTERM: {log.read()[-500:]!r}")
    best = max(curve, key=lambda r: r["rps"])
    out = {
        "model": name,
        "measured": {
            "command": " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
            "server": " ".join(cmd[:2] + [os.path.relpath(args.model, ROOT)] + cmd[3:]),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "host": f"{platform.machine()}, {os.cpu_count()} cores shared with the Python client",
        },
        "replica": {"threads": args.threads, "startup_s": round(startup, 2), "max_rps": best["rps"],
                    "cpu_cores_at_max": best["cpu_cores"]},
        "curve": curve,
    }
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(path)
    print(f"wrote {path}: max {best['rps']} rps at concurrency {best['concurrency']}", file=sys.stderr)


if __name__ == "__main__":
    main()
