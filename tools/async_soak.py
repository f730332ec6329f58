#!/usr/bin/env python3
"""Async inference soak (issue 11 item 6): jobs at 70 % of the sustainable rate for N minutes against
`compress serve --async` (accepting only) + one `compress worker`, loopback only. Targets: 0 errors, RSS growth < 5 %
(server and worker), p99 of end-to-end job latency stable within 20 %.

  flock /tmp/swift-build.lock python3 tools/async_soak.py --compress .build/release/compress --minutes 10   (make soak)

1. The sustainable rate: given with --rate, or measured (--calibrate):
   step  (the async path's own capacity) open-loop steps of --step-seconds at --step-start, +--step-jobs, ... jobs/s
         against the same server and worker the soak then uses; a step holds when the senders kept their schedule,
         every job completed, and the step's p99 stayed within --slo-ms (a queue that grows during a step pushes its
         p99 past any SLO). The sustainable rate is the last step that held.
   sync  the synchronous server's best at concurrency 32 (REST JSON), a yardstick that ignores the queue's own cost.
   drain the rate at which the worker drains --calibrate-jobs queued jobs (full batches: overstates open-loop capacity).
2. The soak: after --settle-seconds at the soak's rate (a ramp-up no bucket counts), jobs arrive open loop (each
   at its scheduled time, --submit-threads senders) at --load x that rate for --minutes. Every --sample-seconds: VmRSS of the server and the worker (/proc), queue depth and pending (the worker's
   /metrics).
   Depth and pending come from the server's own 8002-style /metrics, which must agree with the worker's.
3. Afterwards every job's result is read (GET v2/jobs/{id}); end-to-end latency = completed_at - submitted_at (the
   server's and worker's clocks, one host). p99 per --bucket-seconds (default a minute) by submission time.

Figures: errors (submits not answered 202, jobs not done: failed, lost, HTTP errors), RSS growth % = median RSS of
the last bucket over the median of the first (per process), p99 drift % = the largest distance of a bucket's p99 from
the median of the buckets' p99s. JSON with --json (else a table on stdout); exit status 1 when a target is missed.
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import async_bench as ab  # noqa: E402  (free_port, wait_ready, metrics, percentile, body_for, submit, results)

ROOT = ab.ROOT
log = ab.log


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
    except (OSError, StopIteration):
        return None


def fetch_results(port, ids, threads=4):
    """Each job's view (None for an HTTP failure), fetched by a few connections."""
    out = [None] * len(ids)

    def run(t):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(t, len(ids), threads):
            if ids[i] is None:
                continue
            try:
                c.request("GET", f"/v2/jobs/{ids[i]}")
                r = c.getresponse()
                data = r.read()
                out[i] = json.loads(data) if r.status == 200 else {"status": f"http {r.status}"}
            except (OSError, http.client.HTTPException, ValueError):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    with cf.ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    return out


def paced_submit(port, model, texts, rate, seconds, threads, stop_at):
    """Open loop: job i is sent at start + i / rate. Returns [(scheduled offset s, id or None, http status)] and how
    far behind schedule the senders fell at most (seconds)."""
    n = int(rate * seconds)
    sent = [None] * n
    lag = [0.0] * threads
    start = time.time()

    def run(t):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(t, n, threads):
            due = start + i / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                lag[t] = max(lag[t], -delay)
            if time.time() > stop_at:
                return
            try:
                c.request("POST", f"/v2/models/{model}/infer-async", ab.body_for(texts[i % len(texts)]),
                          {"Content-Type": "application/json", "Idempotency-Key": f"soak-{start}-{i}"})
                r = c.getresponse()
                data = r.read()
                sent[i] = (i / rate, json.loads(data)["id"] if r.status == 202 else None, r.status)
            except (OSError, http.client.HTTPException, ValueError) as e:
                sent[i] = (i / rate, None, f"{type(e).__name__}")
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    with cf.ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    return [s for s in sent if s is not None], max(lag)


def wait_drained(metrics_port, total, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            m = ab.metrics(metrics_port)
            if m.get("compress_queue_jobs_completed_total", 0) + m.get("compress_queue_jobs_dead_lettered_total", 0) >= total:
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def proc_cpu_s(pid):
    """(command name, user + system CPU seconds so far) of a process, from /proc/<pid>/stat; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            head, rest = f.read().rsplit(")", 1)
        fields = rest.split()
        return head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def e2e_ms(view):
    """A done job's end-to-end latency: the worker's completion stamp minus the server's submission stamp."""
    return (view["completed_at"] - view["submitted_at"]) * 1000


# The worker's own counters, sampled with the queue: when a minute's p99 jumps, they say whether the worker ran
# smaller batches, slower forward passes, or less CPU (someone else had the cores).
WORKER_COUNTERS = {"inferences": "nv_inference_count", "executions": "nv_inference_exec_count",
                   "compute_infer_us": "nv_inference_compute_infer_duration_us",
                   "queue_us": "nv_inference_queue_duration_us"}


def host_cpu_s():
    """The whole VM's busy and stolen CPU seconds so far (/proc/stat): busy counts every process, ours or not; steal is
    time the hypervisor ran someone else on our vCPUs. They tell a host stall from a slow-down of our own."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        # user nice system idle iowait irq softirq steal ...
        return {"cpu_s_host": (v[0] + v[1] + v[2] + v[5] + v[6]) / tick, "steal_s": v[7] / tick}
    except (OSError, IndexError, ValueError):
        return {}


def all_cpu_s():
    """CPU seconds so far of every process on the VM, by pid: (command name, seconds)."""
    return {int(d): c for d in os.listdir("/proc") if d.isdigit() and (c := proc_cpu_s(d)) is not None}


def others_busy(before, after, ours, dt, top=3):
    """The processes outside the soak that used the most CPU between two all_cpu_s() snapshots: [(name, cores)]."""
    used = [(name, (s - before[pid][1]) / dt) for pid, (name, s) in after.items()
            if pid not in ours and pid in before and s > before[pid][1]]
    return [(n, round(c, 2)) for n, c in sorted(used, key=lambda x: -x[1])[:top] if c >= 0.01]


def sample_loop(pids, metrics_port, worker_metrics_port, every, stop, out, t0):
    ours = set(pids.values()) | {os.getpid()}
    last, last_t = all_cpu_s(), time.time()
    while not stop.is_set():
        # One snapshot of every process gives both our processes' CPU and who else had the cores (a slow second with
        # the host at 2.0 cores and ours at 1.1 was someone else).
        now, now_t = all_cpu_s(), time.time()
        row = {"t": round(now_t - t0, 1), **{f"rss_kb_{k}": rss_kb(p) for k, p in pids.items()},
               **{f"cpu_s_{k}": now[p][1] if p in now else None for k, p in pids.items()},
               "cpu_s_sender": round(time.process_time(), 2), **host_cpu_s()}
        row["others"] = others_busy(last, now, ours, max(now_t - last_t, 1e-3))
        last, last_t = now, now_t
        try:
            m = ab.metrics(metrics_port)
            row["depth"] = m.get("compress_queue_depth")
            row["pending"] = m.get("compress_queue_pending")
            w = ab.metrics(worker_metrics_port)
            row.update({k: w.get(name) for k, name in WORKER_COUNTERS.items()})
        except OSError:
            pass
        out.append(row)
        stop.wait(every)


def intervals(samples):
    """Per sampling interval: jobs/s the worker finished, its mean batch, forward ms per job, and the CPU cores each
    process used, from consecutive samples' counters."""
    rows = []
    for a, b in zip(samples, samples[1:]):
        dt = b["t"] - a["t"]
        if dt <= 0 or any(a.get(k) is None or b.get(k) is None for k in WORKER_COUNTERS):
            continue
        n = b["inferences"] - a["inferences"]
        e = b["executions"] - a["executions"]
        row = {"t": b["t"], "depth": b.get("depth"), "jobs_per_s": round(n / dt, 1),
               "mean_batch": round(n / e, 1) if e else None,
               "forward_ms_per_job": round((b["compute_infer_us"] - a["compute_infer_us"]) / n / 1000, 2) if n else None,
               "batcher_queue_ms": round((b["queue_us"] - a["queue_us"]) / n / 1000, 1) if n else None}
        for k in [k[6:] for k in b if k.startswith("cpu_s_")]:
            if a.get(f"cpu_s_{k}") is not None and b.get(f"cpu_s_{k}") is not None:
                row[f"cores_{k}"] = round((b[f"cpu_s_{k}"] - a[f"cpu_s_{k}"]) / dt, 2)
        if b.get("others"):
            row["others"] = b["others"]
        if a.get("steal_s") is not None and b.get("steal_s") is not None:
            row["cores_stolen"] = round((b["steal_s"] - a["steal_s"]) / dt, 2)
        rows.append(row)
    return rows


def step_test(a, http_port, metrics_port, name, texts, enqueued):
    """The async path's sustainable rate: open-loop steps of rising rate against the running server and worker, until
    one does not hold (see the module doc). Returns (last rate that held or None, per-step rows, jobs enqueued)."""
    steps, best, rate = [], None, a.step_start
    while rate <= a.step_max:
        steal0, t0 = host_cpu_s().get("steal_s"), time.time()
        sent, behind = paced_submit(http_port, name, texts, rate, a.step_seconds, a.submit_threads,
                                    stop_at=t0 + a.step_seconds + 10)
        ok = [s for s in sent if s[1]]
        enqueued += len(ok)
        drained = wait_drained(metrics_port, enqueued, max(60.0, 4 * a.step_seconds))
        views = fetch_results(http_port, [s[1] for s in ok])
        lat = [e2e_ms(v) for v in views if v and v.get("status") == "done"]
        p99 = ab.percentile(lat, 99) if lat else None
        holds = drained and len(lat) == len(sent) and behind < 1 and p99 is not None and p99 <= a.slo_ms
        steal1 = host_cpu_s().get("steal_s")
        steps.append({"jobs_per_s": rate, "sent": len(sent), "done": len(lat), "senders_max_behind_s": round(behind, 2),
                      "p50_ms": round(ab.percentile(lat, 50), 1) if lat else None,
                      "p99_ms": round(p99, 1) if p99 is not None else None, "drained": drained, "holds": holds,
                      "cores_stolen": round((steal1 - steal0) / (time.time() - t0), 3)
                      if steal0 is not None and steal1 is not None else None})
        log(f"step {rate:.0f} jobs/s: p50 {steps[-1]['p50_ms']} ms, p99 {steps[-1]['p99_ms']} ms, "
            f"{len(lat)}/{len(sent)} done, senders behind {behind:.2f} s → {'holds' if holds else 'does not hold'}")
        if not holds:
            break
        best = rate
        rate += a.step_jobs
    return best, steps, enqueued


def soak(a, texts, tmp):
    procs, redis = [], None
    sync = None
    if not a.rate and a.calibrate == "sync":
        # The synchronous server's best at concurrency 32 (same model, threads and instances), measured before anything
        # else starts: what this host sustains when requests are answered at once. The REST JSON figure, because jobs
        # are submitted as the same JSON bodies (binary tensors are cheaper to serve and would overstate it).
        sync = ab.sync_reference(a)
        a.rate = sync["rest-json"]
        log(f"sustainable rate: {a.rate:.1f} req/s (the synchronous server's best: {sync})")
    if a.backend == "redis":
        rport = ab.free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        queue = f"redis://127.0.0.1:{rport}"
        time.sleep(0.3)
    else:
        queue = f"sqlite:{tmp}/jobs.sqlite"
    http_port, metrics_port, serve_metrics_port = ab.free_port(), ab.free_port(), ab.free_port()
    common = ["--threads", str(a.threads), "--instances", str(a.instances), "--max-batch-size", "32", "--text-inputs", "text",
              "--max-queue-delay-us", str(a.max_queue_delay_us), "--quiet", "--queue", queue]
    name = os.path.basename(a.model.rstrip("/"))
    try:
        serve = subprocess.Popen([a.compress, "serve", a.model, "--async", "--async-consumers", "0", "--http-port", str(http_port),
                                  "--grpc-port", "0", "--metrics-port", str(serve_metrics_port), "--max-queued-jobs", "0", *common])
        procs.append(serve)
        ab.wait_ready(http_port)
        rate = a.rate
        calibration = {"sync_best_per_s": sync} if sync else None
        draining = not rate and a.calibrate == "drain"
        if draining:
            ids = ab.submit(http_port, name, texts, a.calibrate_jobs)
        worker = subprocess.Popen([a.compress, "worker", a.model, "--metrics-port", str(metrics_port), "--prefetch", "64", *common])
        procs.append(worker)
        enqueued = 0
        if draining:
            enqueued = a.calibrate_jobs
            if not wait_drained(metrics_port, enqueued, a.timeout):
                raise RuntimeError("the worker did not drain the calibration jobs")
            done = [j for j in fetch_results(http_port, ids) if j and j.get("status") == "done"]
            comp = sorted(j["completed_at"] for j in done)
            rate = (len(comp) - 1) / (comp[-1] - comp[0]) if len(comp) > 1 else 0
            calibration = {"jobs": a.calibrate_jobs, "done": len(done), "drain_jobs_per_s": round(rate, 1)}
            log(f"sustainable rate: {rate:.1f} jobs/s (drained {len(done)}/{a.calibrate_jobs})")
            if rate <= 0:
                raise RuntimeError("could not measure the sustainable rate")
        else:
            # The open-loop schedule starts only once the worker consumes: a few jobs through it first (its model
            # loads and warms up meanwhile), so the first bucket's p99 is not the worker's start-up backlog.
            ab.submit(http_port, name, texts, a.warmup_jobs)
            enqueued = a.warmup_jobs
            if not wait_drained(metrics_port, enqueued, a.timeout):
                raise RuntimeError("the worker did not complete the warm-up jobs")
            if not rate:
                best, steps, enqueued = step_test(a, http_port, metrics_port, name, texts, enqueued)
                calibration = {"slo_ms": a.slo_ms, "step_seconds": a.step_seconds, "steps": steps}
                if best is None:
                    raise RuntimeError(f"no step held (the first, {a.step_start} jobs/s, missed the {a.slo_ms} ms p99 SLO)")
                if best + a.step_jobs > a.step_max:
                    log(f"every step up to --step-max {a.step_max} held: the rate is a lower bound")
                rate = best
                log(f"sustainable rate: {rate:.1f} jobs/s (the last step that held)")
        target = a.load * rate
        seconds = a.minutes * 60
        if a.settle_seconds > 0:
            # Load at the soak's rate that no bucket counts, as soak tests exclude their ramp-up: after the step test's
            # last, overloaded step the worker ran 3-5x slower forwards for ~20 s (same batches, no other process
            # busy, nothing stolen), which is the calibration's after-effect, not the soak's steady state.
            log(f"settle: {target:.1f} jobs/s for {a.settle_seconds:.0f} s (not measured)")
            settle, _ = paced_submit(http_port, name, texts, target, a.settle_seconds, a.submit_threads,
                                     stop_at=time.time() + a.settle_seconds + 10)
            enqueued += sum(1 for s in settle if s[1])
        log(f"soak: {target:.1f} jobs/s for {seconds:.0f} s ({int(target * seconds)} jobs), samples every {a.sample_seconds} s")
        samples, stop = [], threading.Event()
        t0 = time.time()
        # Queue depth and pending from the server's own /metrics (serve --async exports the queue's signals too).
        pids = {"serve": serve.pid, "worker": worker.pid, **({"redis": redis.pid} if redis else {})}
        sampler = threading.Thread(target=sample_loop, args=(pids, serve_metrics_port, metrics_port,
                                                            a.sample_seconds, stop, samples, t0), daemon=True)
        sampler.start()
        sent, behind = paced_submit(http_port, name, texts, target, seconds, a.submit_threads, stop_at=t0 + seconds + 30)
        submitted = [s for s in sent if s[1]]
        drained = wait_drained(metrics_port, enqueued + len(submitted), a.timeout)
        stop.set()
        sampler.join()
        views = fetch_results(http_port, [s[1] for s in submitted])
        r = report(a, rate, target, calibration, sent, submitted, views, samples, behind, drained)
        # Both /metrics read the same backend totals: the server's must agree with the worker's.
        sm, wm = ab.metrics(serve_metrics_port), ab.metrics(metrics_port)
        r["queue_totals"] = {k: {"serve": sm.get(k), "worker": wm.get(k)} for k in
                             ("compress_queue_jobs_enqueued_total", "compress_queue_jobs_completed_total",
                              "compress_queue_jobs_dead_lettered_total")}
        return r
    finally:
        ab.stop_processes(procs, redis)


def stolen_per_bucket(samples, bucket, nb):
    """Mean CPU cores the hypervisor took from the VM in each bucket (/proc/stat steal), from the samples at its edges:
    a bucket whose p99 jumps while this is above zero was slowed from outside the VM."""
    out = []
    for i in range(nb):
        inside = [s for s in samples if s.get("steal_s") is not None and i * bucket <= s["t"] <= (i + 1) * bucket]
        dt = inside[-1]["t"] - inside[0]["t"] if len(inside) > 1 else 0
        out.append(round((inside[-1]["steal_s"] - inside[0]["steal_s"]) / dt, 3) if dt > 0 else None)
    return out


def report(a, rate, target, calibration, sent, submitted, views, samples, behind, drained):
    bucket = a.bucket_seconds
    nb = max(1, int(round(a.minutes * 60 / bucket)))
    lat = [[] for _ in range(nb)]
    failed = lost = 0
    for (offset, _, _), v in zip(submitted, views):
        if v is None or v.get("status") != "done":
            if v is not None and v.get("status") == "failed":
                failed += 1
            else:
                lost += 1
            continue
        lat[min(nb - 1, int(offset // bucket))].append(e2e_ms(v))
    refused = {}
    for s in sent:
        if not s[1]:
            refused[str(s[2])] = refused.get(str(s[2]), 0) + 1
    p99 = [round(ab.percentile(b, 99), 1) if b else None for b in lat]
    known = [p for p in p99 if p is not None]
    mid = statistics.median(known) if known else None
    drift = round(max(abs(p / mid - 1) for p in known) * 100, 1) if mid else None
    rss = {}
    for proc in ("serve", "worker"):
        first = [s[f"rss_kb_{proc}"] for s in samples if s.get(f"rss_kb_{proc}") and s["t"] < bucket]
        last = [s[f"rss_kb_{proc}"] for s in samples
                if s.get(f"rss_kb_{proc}") and a.minutes * 60 - bucket <= s["t"] <= a.minutes * 60]
        if first and last:
            b, e = statistics.median(first), statistics.median(last)
            rss[proc] = {"first_kb": int(b), "last_kb": int(e), "max_kb": max(s[f"rss_kb_{proc}"] or 0 for s in samples),
                         "growth_pct": round((e / b - 1) * 100, 2)}
    errors = sum(refused.values()) + failed + lost
    growth = max((r["growth_pct"] for r in rss.values()), default=None)
    all_lat = [x for b in lat for x in b]
    out = {
        "model": os.path.basename(a.model.rstrip("/")), "backend": a.backend, "threads": a.threads, "instances": a.instances,
        "max_queue_delay_us": a.max_queue_delay_us, "minutes": a.minutes, "settle_seconds": a.settle_seconds,
        "sustainable_jobs_per_s": round(rate, 1), "rate_from": a.rate_from, "calibration": calibration,
        "load": a.load, "target_jobs_per_s": round(target, 1), "submitted": len(sent), "accepted": len(submitted),
        "achieved_jobs_per_s": round(len(sent) / (a.minutes * 60), 1), "senders_max_behind_s": round(behind, 2),
        "refused": refused, "failed": failed, "lost": lost, "errors": errors, "drained": drained,
        "e2e_ms": {p: round(ab.percentile(all_lat, p), 1) for p in (50, 90, 99)} if all_lat else None,
        "bucket_seconds": bucket, "p99_ms_per_bucket": p99, "jobs_per_bucket": [len(b) for b in lat],
        "stolen_cores_per_bucket": stolen_per_bucket(samples, bucket, nb),
        "p99_drift_pct": drift, "rss": rss, "rss_growth_pct": growth,
        "max_depth": max((s.get("depth") or 0 for s in samples), default=None),
        "samples": samples if a.json else len(samples),
        "intervals": intervals(samples) if a.json else None,
    }
    out["targets"] = {"errors == 0": errors == 0, "rss growth < 5 %": growth is not None and growth < 5,
                      "p99 drift <= 20 %": drift is not None and drift <= 20}
    out["pass"] = all(out["targets"].values())
    return out


def table(r):
    lines = [f"soak: {r['model']} on {r['backend']}, {r['minutes']} min at {r['load']:.0%} of {r['sustainable_jobs_per_s']} jobs/s "
             f"(target {r['target_jobs_per_s']}/s, achieved {r['achieved_jobs_per_s']}/s)",
             "| figure | value | target |", "|---|---|---|",
             *([f"| calibration steps (jobs/s: p99 ms, holds) | " + ", ".join(
                 f"{st['jobs_per_s']:.0f}: {st['p99_ms']}{'' if st['holds'] else ' ✗'}" for st in r['calibration']['steps'])
                + f" | p99 ≤ {r['calibration']['slo_ms']:.0f} ms |"] if (r.get('calibration') or {}).get('steps') else []),
             f"| jobs submitted / done | {r['submitted']} / {r['accepted'] - r['failed'] - r['lost']} | |",
             f"| errors (refused {sum(r['refused'].values())}, failed {r['failed']}, lost {r['lost']}) | {r['errors']} | 0 |"]
    for proc, v in r["rss"].items():
        lines.append(f"| {proc} RSS first → last bucket (MB) | {v['first_kb'] / 1024:.1f} → {v['last_kb'] / 1024:.1f} "
                     f"({v['growth_pct']:+.2f} %) | < 5 % |")
    e = r["e2e_ms"] or {}
    lines.append(f"| e2e latency p50 / p90 / p99 (ms) | {e.get(50)} / {e.get(90)} / {e.get(99)} | |")
    lines.append(f"| p99 per {r['bucket_seconds']} s (ms) | {', '.join(str(p) for p in r['p99_ms_per_bucket'])} | |")
    lines.append(f"| cores stolen by the hypervisor per {r['bucket_seconds']} s | "
                 f"{', '.join(str(c) for c in r['stolen_cores_per_bucket'])} | |")
    lines.append(f"| p99 drift (max distance from the median bucket) | {r['p99_drift_pct']} % | ≤ 20 % |")
    lines.append(f"| max queue depth (server's /metrics) | {r['max_depth']} | |")
    for k, v in r.get("queue_totals", {}).items():
        lines.append(f"| {k} (server / worker /metrics) | {v['serve']} / {v['worker']} | equal |")
    lines.append("PASS" if r["pass"] else "FAIL: " + ", ".join(k for k, ok in r["targets"].items() if not ok))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compress", default=os.path.join(ROOT, ".build/release/compress"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/all-MiniLM-L6-v2"))
    ap.add_argument("--sentences", default=os.path.join(ROOT, "datasets/text/eval.txt"))
    ap.add_argument("--backend", choices=["redis", "sqlite"], default="redis")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, help="sustainable jobs/s (default: measured)")
    ap.add_argument("--load", type=float, default=0.7, help="fraction of the sustainable rate (default 0.7)")
    ap.add_argument("--calibrate", choices=["step", "sync", "drain"], default="step",
                    help="without --rate: open-loop steps against the async path itself (default), the synchronous "
                         "server's best at concurrency 32, or the rate at which the worker drains --calibrate-jobs "
                         "queued jobs (see the module doc)")
    ap.add_argument("--step-start", type=float, default=100, help="jobs/s of the first calibration step")
    ap.add_argument("--step-jobs", type=float, default=20, help="jobs/s added per step")
    ap.add_argument("--step-max", type=float, default=1000, help="no step above this rate")
    ap.add_argument("--step-seconds", type=float, default=30)
    ap.add_argument("--slo-ms", type=float, default=500, help="a step holds while its p99 stays within this")
    ap.add_argument("--settle-seconds", type=float, default=60,
                    help="load at the soak's rate before the measured minutes, counted in no bucket (the ramp-up)")
    ap.add_argument("--calibrate-jobs", type=int, default=2000)
    ap.add_argument("--warmup-jobs", type=int, default=64, help="jobs completed before the soak starts (with a given rate)")
    ap.add_argument("--sample-seconds", type=float, default=5)
    ap.add_argument("--bucket-seconds", type=float, default=60)
    ap.add_argument("--submit-threads", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="compute threads per instance")
    ap.add_argument("--instances", type=int, default=1, help="model instances (executors) of the worker (and the server)")
    ap.add_argument("--max-queue-delay-us", type=int, default=0,
                    help="the worker's batcher waits this long for a batch to fill (Triton's max_queue_delay_microseconds)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for a drain")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.minutes * 60 < 2 * a.bucket_seconds:
        ap.error("--minutes must cover at least two --bucket-seconds (RSS growth compares the first and last bucket)")
    if not os.path.exists(a.compress):
        ap.error(f"--compress {a.compress}: no such file (make release)")
    a.rate_from = "given" if a.rate else a.calibrate
    texts = [l.strip() for l in open(a.sentences) if l.strip()]
    tmp = tempfile.mkdtemp(prefix="async-soak-")
    try:
        r = soak(a, texts, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(r) if a.json else table(r))
    return 0 if r["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
