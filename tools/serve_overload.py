#!/usr/bin/env python3
"""Open-loop overload of a running `compress serve`: requests at a fixed rate (e.g. 2x the sustainable throughput)
for a fixed time, whatever the server answers, counting every outcome and sampling the server's RSS.

Passes when: no connection error or client timeout (every request answered), the answers are only 200 or 429
(refused at once when the queue is full) or 503 (queue timeout), the server's success count grew by exactly the
200s, and RSS stayed bounded (its peak under --rss-limit-mb). Loopback only; bounded in time.

    python3 tools/serve_overload.py --url 127.0.0.1:8000 --model minilm --pid $(pgrep -n compress) \\
        --rate 400 --seconds 60 --tokens /tmp/minilm_tokens.json --json
"""
import argparse
import http.client
import json
import threading
import time

RESULT_KEYS = ("200", "429", "503", "other", "error")


def rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="127.0.0.1:8000")
    ap.add_argument("--model", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True, help="requests per second to send")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--tokens", help="perf_analyzer JSON of input_ids/attention_mask entries (tools/make_perf_inputs.py)")
    ap.add_argument("--cnn-shape", default="8,8,1", help="without --tokens: FP32 x of this item shape")
    ap.add_argument("--connections", type=int, default=400)
    ap.add_argument("--rss-limit-mb", type=float, default=2048)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    host, port = args.url.split(":")
    bodies = []
    if args.tokens:
        for d in json.load(open(args.tokens))["data"][:200]:
            n = len(d["input_ids"]["content"])
            bodies.append(json.dumps({"inputs": [
                {"name": "input_ids", "datatype": "INT64", "shape": [1, n], "data": d["input_ids"]["content"]},
                {"name": "attention_mask", "datatype": "INT64", "shape": [1, n], "data": d["attention_mask"]["content"]}]}))
    else:
        shape = [1] + [int(s) for s in args.cnn_shape.split(",")]
        count = 1
        for s in shape:
            count *= s
        bodies = [json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape, "data": [((i * 7 + k) % 10) / 10 for i in range(count)]}]}) for k in range(10)]

    def stats():
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        c.request("GET", f"/v2/models/{args.model}/stats")
        s = json.loads(c.getresponse().read())["model_stats"][0]["inference_stats"]
        c.close()
        return int(s["success"]["count"]), int(s["fail"]["count"])

    before = stats()
    lock = threading.Lock()
    counts = {k: 0 for k in RESULT_KEYS}
    latencies = []
    next_index = [0]
    total = int(args.rate * args.seconds)
    start = time.perf_counter() + 0.5
    late = [0]

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= total:
                break
            due = start + i / args.rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.05:
                with lock:
                    late[0] += 1
            t = time.perf_counter()
            try:
                conn.request("POST", f"/v2/models/{args.model}/infer", body=bodies[i % len(bodies)], headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                key = str(r.status) if str(r.status) in RESULT_KEYS else "other"
            except Exception:  # noqa: BLE001 - counted, and the connection is replaced
                key = "error"
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            with lock:
                counts[key] += 1
                if key == "200":
                    latencies.append(time.perf_counter() - t)
        conn.close()

    rss = []
    done = threading.Event()

    def sampler():
        while not done.is_set():
            m = rss_mb(args.pid)
            if m is not None:
                rss.append(m)
            time.sleep(1)

    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    s = threading.Thread(target=sampler)
    s.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    time.sleep(1)
    done.set()
    s.join()
    after = stats()
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else 0  # noqa: E731
    out = {
        "model": args.model, "rate": args.rate, "seconds": round(elapsed, 1), "sent": total, **counts,
        "ok_per_s": round(counts["200"] / elapsed, 1), "p50_ms": round(p(0.5), 1), "p99_ms": round(p(0.99), 1),
        "late_sends": late[0], "server_success_delta": after[0] - before[0], "server_fail_delta": after[1] - before[1],
        "rss_mb_first": round(rss[0], 1) if rss else None, "rss_mb_peak": round(max(rss), 1) if rss else None,
        "rss_mb_last": round(rss[-1], 1) if rss else None,
    }
    problems = []
    if counts["error"] or counts["other"]:
        problems.append("requests without a 200/429/503 answer")
    if sum(counts[k] for k in RESULT_KEYS) != total:
        problems.append("answers do not add up to requests sent")
    if out["server_success_delta"] != counts["200"]:
        problems.append("server success count differs from the client's 200s")
    if rss and max(rss) > args.rss_limit_mb:
        problems.append("RSS above the limit")
    out["problems"] = problems
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
