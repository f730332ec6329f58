#!/usr/bin/env python3
"""Fault tests for async inference (issue 11 item 6), against the real processes, loopback only.

Each scenario starts its own redis-server (random port, temp dir), `compress serve --async` (accepting only) and
`compress worker` processes on the digits CNN fixture, and is bounded in time (about 30 s at most):

  kill9     kill -9 a worker while jobs are in flight; a second worker reclaims them after the visibility timeout.
            Every job ends done, exactly once (the queue's completed total equals the jobs submitted).
  restart   kill -9 redis-server (AOF on, appendfsync always) mid-run and start it again on the same port; the
            worker reconnects with backoff and every job completes. Reports the worker's measured outage.
  poison    corrupt and oversized stream entries are dead-lettered with a reason; the worker completes the good
            jobs queued behind them.
  overload  beyond --max-queued-jobs, infer-async answers 429 at once; what was accepted completes.

Usage: python3 Tests/Reliability/async_faults.py [--compress .build/debug/compress] [--only kill9,...] [--json]
Exit status 0 when every scenario's checks pass; the figures (submitted/completed/lost/duplicated, reconnect
time) are printed, as JSON with --json. Needs redis-server and redis-cli (Debian `redis-server`, `make deps`).
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CNN = os.path.join(ROOT, "Tests/Fixtures/keras/digits_cnn.keras")
ITEM = 8 * 8  # digits CNN input (sklearn digits), [1, 8, 8, 1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, tmp, persistent):
        self.port, self.dir, self.persistent, self.proc = free_port(), tmp, persistent, None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--loglevel", "warning"]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 5
        while time.time() < deadline:
            if self.cli("PING").strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def cli(self, *args, stdin=None):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], input=stdin, capture_output=True, timeout=10)
        return r.stdout.decode(errors="replace")

    def counter(self, name):
        v = self.cli("GET", f"compress:jobs:count:{name}").strip()
        return int(v) if v.isdigit() else 0

    def pending(self):
        out = self.cli("XPENDING", "compress:jobs", "compress-workers").split("\n")
        return int(out[0]) if out and out[0].strip().isdigit() else 0


class Proc:
    """A compress process with its stderr in a file (read on failure)."""

    def __init__(self, name, args, tmp):
        self.log = open(os.path.join(tmp, name + ".log"), "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        self.name = name

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def tail(self):
        self.log.seek(0)
        return "".join(self.log.readlines()[-15:])


class Harness:
    def __init__(self, compress, persistent=False, serve_args=()):
        self.tmp = tempfile.mkdtemp(prefix="async-faults-")
        self.compress = compress
        self.redis = Redis(self.tmp, persistent)
        self.http = free_port()
        self.procs = []
        self.serve = self.spawn("serve", ["serve", CNN, "--async", "--async-consumers", "0", "--queue", self.queue,
                                          "--http-port", str(self.http), "--threads", "1", *serve_args])
        self.wait_ready()

    @property
    def queue(self):
        return f"redis://127.0.0.1:{self.redis.port}"

    def spawn(self, name, args):
        p = Proc(name, [self.compress, *args], self.tmp)
        self.procs.append(p)
        return p

    def worker(self, name, *extra):
        port = free_port()
        p = self.spawn(name, ["worker", CNN, "--queue", self.queue, "--threads", "1", "--metrics-port", str(port),
                              "--consumer", name, "--max-batch-size", "32", *extra])
        p.metrics_port = port
        return p

    def metrics(self, worker):
        try:
            c = http.client.HTTPConnection("127.0.0.1", worker.metrics_port, timeout=5)
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k.split("{")[0]] = float(v)
        return out

    def wait_ready(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.http, timeout=2)
                c.request("GET", "/v2/health/ready")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("compress serve did not become ready:\n" + self.serve.tail())

    def submit_many(self, n, threads=8, key_prefix=None):
        """Submits n jobs; returns (ids, statuses). Each thread keeps one connection."""
        def run(chunk):
            c = http.client.HTTPConnection("127.0.0.1", self.http, timeout=30)
            out = []
            for i in chunk:
                body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 8, 8, 1],
                                               "data": [((j * 7919 + i * 104729) % 1000) / 1000 for j in range(ITEM)]}]})
                headers = {"Content-Type": "application/json"}
                if key_prefix:
                    headers["Idempotency-Key"] = f"{key_prefix}-{i}"
                c.request("POST", "/v2/models/digits_cnn/infer-async", body, headers)
                r = c.getresponse()
                data = r.read()
                out.append((i, r.status, json.loads(data).get("id") if r.status == 202 else None))
            return out
        chunks = [range(t, n, threads) for t in range(threads)]
        with cf.ThreadPoolExecutor(threads) as pool:
            results = sorted(x for part in pool.map(run, chunks) for x in part)  # in submission-index order
        return [j for _, _, j in results if j], [s for _, s, _ in results]

    def job_states(self, ids):
        c = http.client.HTTPConnection("127.0.0.1", self.http, timeout=30)
        out = {}
        for i in ids:
            c.request("GET", f"/v2/jobs/{i}")
            r = c.getresponse()
            body = r.read()
            out[i] = json.loads(body).get("status") if r.status == 200 else f"http {r.status}"
        return out

    def wait_completed(self, n, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.redis.counter("completed") + self.redis.counter("dead") >= n:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        for p in reversed(self.procs):
            p.stop()
        self.redis.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def scenario_kill9(compress):
    h = Harness(compress)
    try:
        n = 1500
        ids, _ = h.submit_many(n, key_prefix="k9")
        w1 = h.worker("w1", "--visibility-timeout-ms", "2000", "--prefetch", "64")
        # Kill once it has completed some and holds a prefetch of claimed, unacknowledged jobs.
        deadline = time.time() + 20
        while h.redis.counter("completed") < n // 4 and time.time() < deadline:
            time.sleep(0.01)
        w1.kill9()
        in_flight_at_kill = h.redis.pending()
        completed_at_kill = h.redis.counter("completed")
        # A client retrying its submits (same Idempotency-Key) after the crash gets the same ids, adds nothing.
        again, _ = h.submit_many(200, key_prefix="k9")
        w2 = h.worker("w2", "--visibility-timeout-ms", "2000", "--prefetch", "64")
        ok = h.wait_completed(n, 25)
        m2 = h.metrics(w2)
        states = h.job_states(ids)
        done = sum(1 for s in states.values() if s == "done")
        r = {"scenario": "kill9", "submitted": n, "distinct_ids": len(set(ids)), "completed_at_kill": completed_at_kill,
             "in_flight_at_kill": in_flight_at_kill, "done": done, "lost": n - done,
             "queue_completed_total": h.redis.counter("completed"), "enqueued_total": h.redis.counter("enqueued"),
             "redelivered_to_w2": m2.get("compress_worker_jobs_redelivered_total"),
             "duplicate_results_dropped": m2.get("compress_worker_duplicate_results_total"),
             "resubmits_same_id": sum(1 for a, b in zip(again, ids[:200]) if a == b)}
        r["duplicated"] = r["queue_completed_total"] - done
        checks = [ok, r["distinct_ids"] == n, done == n, r["queue_completed_total"] == n, r["enqueued_total"] == n,
                  in_flight_at_kill > 0, r["resubmits_same_id"] == 200]
        return r, all(checks), h
    except Exception:
        h.close()
        raise


def scenario_restart(compress):
    h = Harness(compress, persistent=True)
    try:
        n = 600
        ids, _ = h.submit_many(n)
        w = h.worker("w1", "--visibility-timeout-ms", "3000")
        deadline = time.time() + 20
        while h.redis.counter("completed") < n // 4 and time.time() < deadline:
            time.sleep(0.01)
        h.redis.kill()
        down_at = time.time()
        time.sleep(1.0)  # an outage
        h.redis.start()
        up_at = time.time()
        base = h.redis.counter("completed")
        while h.redis.counter("completed") == base and time.time() < up_at + 15:
            time.sleep(0.005)
        first_completion_after_up = time.time() - up_at
        ok = h.wait_completed(n, 25)
        m = h.metrics(w)
        states = h.job_states(ids)
        done = sum(1 for s in states.values() if s == "done")
        r = {"scenario": "restart", "submitted": n, "done": done, "lost": n - done, "outage_s": round(up_at - down_at, 3),
             "worker_reconnects": m.get("compress_worker_queue_reconnects_total"),
             "worker_measured_outage_s": m.get("compress_worker_last_reconnect_seconds"),
             "first_completion_after_redis_up_s": round(first_completion_after_up, 3),
             "queue_completed_total": h.redis.counter("completed")}
        r["duplicated"] = r["queue_completed_total"] - done
        return r, ok and done == n and (m.get("compress_worker_queue_reconnects_total") or 0) >= 1, h
    except Exception:
        h.close()
        raise


def scenario_poison(compress):
    h = Harness(compress)
    try:
        h.redis.cli("XADD", "compress:jobs", "*", "id", "corrupt-1", "model", "digits_cnn", "payload", "garbage")
        h.redis.cli("XADD", "compress:jobs", "*", "id", "unknown-model", "model", "nope", "payload", "x")
        h.redis.cli("-x", "XADD", "compress:jobs", "*", "id", "oversized-1", "model", "digits_cnn", "payload",
                    stdin=b"CJ1\n" + b"\x00\x00\x00\x02{}" + b"0" * 300_000)
        ids, _ = h.submit_many(50)
        w = h.worker("w1", "--max-payload-bytes", "100000")
        ok = h.wait_completed(53, 20)
        dead = h.redis.cli("XRANGE", "compress:jobs:dead", "-", "+")
        states = h.job_states(ids)
        done = sum(1 for s in states.values() if s == "done")
        r = {"scenario": "poison", "good_submitted": 50, "good_done": done, "dead_lettered": h.redis.counter("dead"),
             "reasons": [l for l in dead.splitlines() if "corrupt" in l or "exceeds" in l or "not_found" in l or "unknown" in l.lower()],
             "worker_alive": w.proc.poll() is None}
        return r, ok and done == 50 and r["dead_lettered"] == 3 and r["worker_alive"] and len(r["reasons"]) >= 3, h
    except Exception:
        h.close()
        raise


def scenario_overload(compress):
    h = Harness(compress, serve_args=("--max-queued-jobs", "200"))
    try:
        ids, statuses = h.submit_many(600, threads=4)
        accepted, rejected = statuses.count(202), statuses.count(429)
        w = h.worker("w1")
        ok = h.wait_completed(accepted, 20)
        states = h.job_states(ids)
        done = sum(1 for s in states.values() if s == "done")
        r = {"scenario": "overload", "submitted": 600, "accepted": accepted, "rejected_429": rejected,
             "other": len(statuses) - accepted - rejected, "accepted_done": done, "rss_kb_serve": rss_kb(h.serve.proc.pid)}
        # The depth is cached for 100 ms, so a burst may overshoot the limit a little; never by much.
        return r, ok and rejected > 0 and r["other"] == 0 and 200 <= accepted <= 260 and done == accepted, h
    except Exception:
        h.close()
        raise


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
    except OSError:
        return None


SCENARIOS = {"kill9": scenario_kill9, "restart": scenario_restart, "poison": scenario_poison, "overload": scenario_overload}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compress", default=os.path.join(ROOT, ".build/debug/compress"))
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        print("async_faults: redis-server/redis-cli not installed (make deps)", file=sys.stderr)
        return 2
    failed = []
    results = []
    for name in a.only.split(","):
        started = time.time()
        result, ok, h = SCENARIOS[name](a.compress)
        result["seconds"] = round(time.time() - started, 1)
        result["ok"] = ok
        results.append(result)
        if not ok:
            failed.append(name)
            for p in h.procs:
                print(f"--- {name}: {p.name} log tail\n{p.tail()}", file=sys.stderr)
        h.close()
        print(json.dumps(result) if a.json else f"{name}: {'ok' if ok else 'FAILED'} {result}", flush=True)
    if failed:
        print("async_faults: failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
