#!/usr/bin/env python3
"""Replay a load trace against a model of Kubernetes' HPA (sync `compress serve`) or KEDA (async `compress worker`)
and report replicas, queue depth and latency over time: how many pods a load needs, and how long a spike waits.

Inputs
- a capacity JSON measured on one replica (tools/measure_replica.py now; `compress bench --json` later): its
  plateau throughput `replica.max_rps`, start-up time, and the latency/CPU curve over load;
- the autoscaler settings, read from the rendered production overlay (deploy/kustomize) so the simulation runs
  the manifests' numbers: the HPA's min/max, CPU and pending-requests targets and `behavior`; the ScaledObject's
  lagCount, activation, polling, cooldown and min/max;
- a trace: `ramp`, `spike`, `diurnal` (built in, peak = --peak-x times one replica's capacity) or a CSV `t,rps`.

Model (1 s steps)
- Traffic: a pooled FIFO fluid queue over the ready pods (optimistic next to a Service's per-connection balancing);
  each second's arrivals are a cohort whose wait is exact under FIFO; latency = wait + the replica's measured
  latency at its current utilisation (interpolated from the curve). The sync server rejects (429) what exceeds
  --max-queue-per-pod × ready pods; the async queue keeps everything.
- Pods: a new pod serves after --schedule-s (scheduling + image pull, an assumption) + the measured start-up
  (process start → /v2/health/ready). Removed pods stop taking work at once (preStop), queued work stays pooled.
- Metrics as the HPA sees them: CPU utilisation = measured cores at that load / the 2-core request, averaged over
  15 s (metrics-server resolution); `nv_inference_pending_request_count` = requests waiting per pod (queue share +
  the in-server queueing of Little's law), scraped every 15 s and averaged over 1 min (the adapter rule's
  `avg_over_time[1m]`).
- HPA controller (every 15 s), as kube-controller-manager's replica calculator and `normalizeDesiredReplicas
  WithBehaviors` do it: per metric, ratio over ready pods with the 0.1 tolerance; pods without metrics (starting)
  count as 0 for a scale-up and as at-target for a scale-down, and the rule that a recomputed ratio which flips
  direction or falls inside the tolerance means no change; the max over metrics; the stabilisation windows
  (lowest recommendation in the scale-up window, highest in the scale-down window); then the `behavior` policies
  with period-start replicas from the scale events in each period; then min/max.
- KEDA (every pollingInterval): active when lag > activationLagCount; 0 → max(1, minReplicaCount) on activation;
  → 0 after cooldownPeriod without activity; between, its HPA with an External AverageValue metric:
  desired = ceil(lag / lagCount) unless lag / (lagCount × current) is within the tolerance.

Outputs (--out DIR): <name>.csv (per second), <name>.json (summary), <name>.html (SVG charts); `--plan` runs the
traces × 10×/100× × HPA/KEDA and writes plan.json + plan.md (the table in BENCHMARKS.md).

Usage:
  python3 tools/autoscale_sim.py --capacity deploy/sim/minilm-fp32.json --trace spike --peak-x 10 --out /tmp/sim
  python3 tools/autoscale_sim.py --capacity deploy/sim/minilm-fp32.json --plan --out deploy/sim/plan
"""

import argparse
import bisect
import csv
import html
import json
import math
import pathlib
import sys
from statistics import NormalDist

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOLERANCE = 0.1                    # --horizontal-pod-autoscaler-tolerance default
HPA_SYNC_S = 15                    # --horizontal-pod-autoscaler-sync-period default
SCRAPE_S = 15                      # Prometheus scrape interval
PENDING_AVG_S = 60                 # deploy/prometheus-adapter/rules.yaml: avg_over_time(...[1m])
CPU_AVG_S = 15                     # metrics-server resolution
DEFAULT_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15},
                                 {"type": "Pods", "value": 4, "periodSeconds": 15}]}
DEFAULT_SCALE_DOWN = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                      "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


# ------------------------------------------------------------------------------------------ the HPA algorithm --

def plain_metric_replicas(ready_values, missing, unready, target, current):
    """Replicas for a per-pod metric (Pods AverageValue, or Resource Utilization with values in %), as
    kube-controller-manager's replica calculator computes them (`calcPlainMetricReplicas` /
    `GetResourceReplicas`): ready_values are the metrics of ready pods, `missing` pods have none yet, `unready`
    pods are set aside (CPU only). Returns the proposed replica count."""
    if not ready_values and not missing and not unready:
        return current
    ready_count = len(ready_values)
    ratio = (sum(ready_values) / ready_count) / target if ready_count else 0.0
    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready and missing == 0:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current
        return math.ceil(ratio * ready_count)
    values = list(ready_values)
    if missing:
        values += [target if ratio < 1.0 else 0.0] * missing
    if scale_up_with_unready:
        values += [0.0] * unready
    new_ratio = (sum(values) / len(values)) / target
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    proposed = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and proposed > current) or (new_ratio > 1.0 and proposed < current):
        return current
    return proposed


def external_average_replicas(total, target_per_pod, current):
    """External metric with an AverageValue target (what KEDA's HPA uses): `GetExternalPerPodMetricReplicas`."""
    if current == 0:
        return math.ceil(total / target_per_pod)
    ratio = total / (target_per_pod * current)
    return math.ceil(total / target_per_pod) if abs(1.0 - ratio) > TOLERANCE else current


class HPA:
    """The controller's per-HPA state: recommendations for the stabilisation windows and scale events for the
    rate policies (kube-controller-manager `horizontal.go`)."""

    def __init__(self, min_replicas, max_replicas, behavior=None):
        behavior = behavior or {}
        self.min, self.max = min_replicas, max_replicas
        self.up = {**DEFAULT_SCALE_UP, **(behavior.get("scaleUp") or {})}
        self.down = {**DEFAULT_SCALE_DOWN, **(behavior.get("scaleDown") or {})}
        self.recommendations = []   # (time, desired)
        self.up_events = []         # (time, replicas added)
        self.down_events = []       # (time, replicas removed)

    def _changed(self, events, period, now):
        return sum(n for t, n in events if t > now - period)

    def scale_up_limit(self, current, now):
        rules = self.up
        if rules.get("selectPolicy") == "Disabled":
            return current
        pick = min if rules.get("selectPolicy") == "Min" else max
        result = None
        for p in rules["policies"]:
            start = current - self._changed(self.up_events, p["periodSeconds"], now) + \
                self._changed(self.down_events, p["periodSeconds"], now)
            proposed = start + p["value"] if p["type"] == "Pods" else math.ceil(start * (1 + p["value"] / 100))
            result = proposed if result is None else pick(result, proposed)
        return result

    def scale_down_limit(self, current, now):
        rules = self.down
        if rules.get("selectPolicy") == "Disabled":
            return current
        # For scale-down the most change is the lowest count, so "Max" (default) picks the min proposal.
        pick = max if rules.get("selectPolicy") == "Min" else min
        result = None
        for p in rules["policies"]:
            start = current - self._changed(self.up_events, p["periodSeconds"], now) + \
                self._changed(self.down_events, p["periodSeconds"], now)
            proposed = start - p["value"] if p["type"] == "Pods" else int(start * (1 - p["value"] / 100))
            result = proposed if result is None else pick(result, proposed)
        return result

    def stabilize(self, current, desired, now):
        up_cut = now - self.up["stabilizationWindowSeconds"]
        down_cut = now - self.down["stabilizationWindowSeconds"]
        up_rec = down_rec = desired
        for t, r in self.recommendations:
            if t > up_cut:
                up_rec = min(up_rec, r)
            if t > down_cut:
                down_rec = max(down_rec, r)
        rec = max(current, up_rec)
        rec = min(rec, down_rec)
        keep = max(self.up["stabilizationWindowSeconds"], self.down["stabilizationWindowSeconds"])
        self.recommendations = [(t, r) for t, r in self.recommendations if t > now - keep] + [(now, desired)]
        return rec

    def normalize(self, current, desired, now):
        """Stabilise, then apply the rate policies and min/max; records the scale event. Returns new replicas."""
        desired = self.stabilize(current, desired, now)
        if desired > current:
            limit = max(self.scale_up_limit(current, now), current)
            desired = min(desired, min(self.max, limit))
        elif desired < current:
            limit = min(self.scale_down_limit(current, now), current)
            desired = max(desired, max(self.min, limit))
        desired = min(max(desired, self.min), self.max)
        if desired > current:
            self.up_events.append((now, desired - current))
        elif desired < current:
            self.down_events.append((now, current - desired))
        return desired


# -------------------------------------------------------------------------------------------- capacity model --

class Replica:
    """One replica's measured behaviour: plateau throughput, start-up, latency and CPU against load."""

    def __init__(self, capacity):
        r = capacity["replica"]
        self.max_rps = float(r["max_rps"])
        self.startup_s = float(r["startup_s"])
        self.cpu_request = float(r.get("cpu_request", 2.0))
        curve = sorted(capacity["curve"], key=lambda c: c["rps"])
        # Latency and CPU against utilisation (rps / max_rps), from the closed-loop sweep: monotone in load.
        self.u = [0.0] + [c["rps"] / self.max_rps for c in curve]
        lo = curve[0]
        self.p50 = [lo["p50_ms"]] + [c["p50_ms"] for c in curve]
        self.p99 = [lo["p99_ms"]] + [c["p99_ms"] for c in curve]
        self.cpu = [0.0] + [c["cpu_cores"] for c in curve]
        self.base_p50 = lo["p50_ms"]

    def _interp(self, ys, u):
        u = max(0.0, min(u, self.u[-1]))
        i = bisect.bisect_left(self.u, u)
        if i == 0:
            return ys[0]
        if i >= len(self.u):
            return ys[-1]
        u0, u1 = self.u[i - 1], self.u[i]
        w = 0 if u1 == u0 else (u - u0) / (u1 - u0)
        return ys[i - 1] + w * (ys[i] - ys[i - 1])

    def p50_ms(self, u):
        return self._interp(self.p50, u)

    def p99_ms(self, u):
        return self._interp(self.p99, u)

    def cpu_cores(self, u):
        return self._interp(self.cpu, u)


# ---------------------------------------------------------------------------------------------------- traces --

def trace(kind, peak, duration):
    """Arrival rate (req/s) for each second. Base load is 10 % of the peak."""
    base = 0.1 * peak
    out = []
    for t in range(duration):
        if kind == "ramp":        # flat, a 10-minute linear ramp to the peak, hold
            x = min(max((t - 120) / 600, 0.0), 1.0)
            out.append(base + (peak - base) * x)
        elif kind == "spike":     # flat, then the peak at once for 5 minutes, then back
            out.append(peak if 120 <= t < 420 else base)
        elif kind == "diurnal":   # one day compressed into `duration`: trough at 0, peak at the middle
            out.append(base + (peak - base) * 0.5 * (1 - math.cos(2 * math.pi * t / duration)))
        else:
            raise ValueError(kind)
    return out


def load_trace_csv(path):
    rows = list(csv.DictReader(open(path)))
    if not rows or "rps" not in rows[0]:
        sys.exit(f"error: {path}: needs a header with t,rps")
    return [float(r["rps"]) for r in rows]


# -------------------------------------------------------------------------------------------------- settings --

def settings_from_overlay(overlay):
    import kustomize_render
    objs = kustomize_render.build(overlay)
    hpa = next(o for o in objs if o["kind"] == "HorizontalPodAutoscaler")
    so = next(o for o in objs if o["kind"] == "ScaledObject")
    cpu_target = pending_target = None
    for m in hpa["spec"]["metrics"]:
        if m["type"] == "Resource" and m["resource"]["name"] == "cpu":
            cpu_target = float(m["resource"]["target"]["averageUtilization"])
        if m["type"] == "Pods" and m["pods"]["metric"]["name"] == "nv_inference_pending_request_count":
            pending_target = float(m["pods"]["target"]["averageValue"])
    trig = next(t for t in so["spec"]["triggers"] if t["type"] == "redis-streams")["metadata"]
    rate = next((t["metadata"] for t in so["spec"]["triggers"] if t["type"] == "prometheus"), None)
    so_behavior = so["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {})
    return {
        "source": str(pathlib.Path(overlay).resolve().relative_to(ROOT)),
        "hpa": {"min": hpa["spec"].get("minReplicas", 1), "max": hpa["spec"]["maxReplicas"],
                "cpu_target_pct": cpu_target, "pending_target": pending_target,
                "behavior": hpa["spec"].get("behavior", {})},
        "keda": {"min": so["spec"].get("minReplicaCount", 0), "max": so["spec"].get("maxReplicaCount", 100),
                 "lag_count": float(trig.get("lagCount", 5)), "activation": float(trig.get("activationLagCount", 0)),
                 "polling_s": so["spec"].get("pollingInterval", 30), "cooldown_s": so["spec"].get("cooldownPeriod", 300),
                 "rate_threshold": float(rate["threshold"]) if rate else None,
                 "rate_activation": float(rate.get("activationThreshold", 0)) if rate else None,
                 "behavior": so_behavior},
    }


# ------------------------------------------------------------------------------------------------ simulation --

class Pods:
    """Pods of one Deployment: each with the time it becomes ready."""

    def __init__(self, n, now=0.0):
        self.ready_at = [now - 1] * n   # the initial pods are ready

    def count(self):
        return len(self.ready_at)

    def ready(self, now):
        return sum(1 for r in self.ready_at if r <= now)

    def scale_to(self, n, now, start_delay):
        while len(self.ready_at) < n:
            self.ready_at.append(now + start_delay)
        if len(self.ready_at) > n:
            # A ReplicaSet deletes unready pods first, then the newest.
            self.ready_at.sort(key=lambda r: (r <= now, -r))
            self.ready_at = self.ready_at[len(self.ready_at) - n:]


def service_quantiles(p50, p99, n=20):
    """n equal-weight quantiles of a log-normal service time with the given p50 and p99 (ms): the replica's own
    latency spread at a load, from the two percentiles the sweep measured."""
    sigma = math.log(max(p99, p50 * 1.0001) / p50) / NormalDist().inv_cdf(0.99)
    return [p50 * math.exp(sigma * NormalDist().inv_cdf((i + 0.5) / n)) for i in range(n)]


def simulate(rates, replica, settings, mode, schedule_s=5.0, max_queue_per_pod=256, slo_ms=None,
             max_replicas=None, worker_batch=32, lag_only=False):
    """Run one trace. mode: 'hpa' (sync server) or 'keda' (queue workers). Returns (rows, summary).

    Waits are those of a FIFO fluid queue: a request arriving when `backlog` requests are ahead waits
    backlog / capacity; arrivals are spread over each second, so its first arrival sees the backlog left by the
    previous second and its last the backlog at its end. With no ready pod, requests wait for the first one."""
    start_delay = schedule_s + replica.startup_s
    # Start in the steady state of the trace's first second (what the autoscaler would hold there).
    if mode == "hpa":
        cfg = settings["hpa"]
        hpa = HPA(cfg["min"], max_replicas or cfg["max"], cfg["behavior"])
        per_pod = replica.max_rps * (cfg["cpu_target_pct"] or 70) / 100
        pods = Pods(min(max(cfg["min"], math.ceil(rates[0] / per_pod)), hpa.max))
    else:
        cfg = settings["keda"]
        hpa = HPA(max(1, cfg["min"]), max_replicas or cfg["max"], cfg["behavior"])
        per_pod = None if lag_only or not cfg.get("rate_threshold") else cfg["rate_threshold"]
        start = (math.ceil(rates[0] / per_pod) if per_pod else 1) if rates[0] > 0 else cfg["min"]
        pods = Pods(min(max(cfg["min"], start), hpa.max))
        last_active = -1e9
        lag_seen = 0.0
        rate_threshold = None if lag_only else cfg.get("rate_threshold")
        arrivals_history = []
    queue = 0.0
    history_busy, history_pending = [], []
    rows, samples = [], []          # samples: (latency ms, weight) over the whole run
    rejected_total = 0.0
    for t, lam in enumerate(rates):
        now = float(t)
        ready = pods.ready(now)
        cap = ready * replica.max_rps
        arrivals, rejected = lam, 0.0
        if mode == "hpa":
            # The sync server answers 429 at once for what its per-pod queues cannot hold.
            room = max(0.0, max_queue_per_pod * ready + cap - queue)
            rejected = max(0.0, arrivals - room)
            arrivals -= rejected
        rejected_total += rejected
        served = min(queue + arrivals, cap)
        backlog_start = queue
        queue = queue + arrivals - served
        per_pod_rps = served / ready if ready else 0.0
        u = per_pod_rps / replica.max_rps
        if cap > 0:
            w_first, w_last = backlog_start / cap, queue / cap
        else:
            nxt = min((r for r in pods.ready_at if r > now), default=now + start_delay)
            first_cap = max(1, sum(1 for r in pods.ready_at if r <= nxt)) * replica.max_rps
            w_first = nxt - now + backlog_start / first_cap
            w_last = nxt - now + queue / first_cap
        svc = service_quantiles(replica.p50_ms(u), replica.p99_ms(u))
        second = []
        if arrivals > 0:
            for j in range(5):
                w = (w_first + (w_last - w_first) * (j + 0.5) / 5) * 1e3
                second += [(w + sq, arrivals / (5 * len(svc))) for sq in svc]
            second.sort()
            samples += second
        # What the pods report: CPU cores at this load; pending = queue share + in-server queueing (Little).
        busy_pct = 100 * replica.cpu_cores(u) / replica.cpu_request
        pending = (queue / ready if ready else queue) + \
            per_pod_rps * max(0.0, replica.p50_ms(u) - replica.base_p50) / 1e3
        history_busy.append(busy_pct)
        if t % SCRAPE_S == 0:
            history_pending.append(pending)
        replicas_now = pods.count()
        if mode == "hpa" and t % HPA_SYNC_S == 0 and t > 0:
            current = pods.count()
            unready = current - ready
            proposals = []
            if cfg["cpu_target_pct"]:
                window = history_busy[-CPU_AVG_S:]
                proposals.append(plain_metric_replicas([sum(window) / len(window)] * ready, 0, unready,
                                                       cfg["cpu_target_pct"], current))
            if cfg["pending_target"]:
                window = history_pending[-(PENDING_AVG_S // SCRAPE_S):]
                proposals.append(plain_metric_replicas([sum(window) / len(window)] * ready, unready, 0,
                                                       cfg["pending_target"], current))
            desired = max(proposals) if proposals else current
            pods.scale_to(hpa.normalize(current, desired, now), now, start_delay)
        if mode == "keda":
            # Lag: entries not yet delivered to any consumer; each ready worker holds up to one batch.
            lag = max(0.0, queue - ready * worker_batch)
            # The rate trigger: Prometheus' rate(enqueued_total[1m]), scraped every 15 s.
            arrivals_history.append(arrivals)
            rate_1m = sum(arrivals_history[-60:]) / len(arrivals_history[-60:])
            rate_active = rate_threshold is not None and rate_1m > (cfg.get("rate_activation") or 0)
            if t % cfg["polling_s"] == 0:
                lag_seen = lag
                if lag_seen > cfg["activation"] or rate_active:
                    last_active = now
                    if pods.count() == 0:
                        pods.scale_to(max(1, cfg["min"]), now, start_delay)
                elif pods.count() > 0 and cfg["min"] == 0 and queue < 1 and now - last_active >= cfg["cooldown_s"]:
                    pods.scale_to(0, now, start_delay)
            if t % HPA_SYNC_S == 0 and t > 0 and pods.count() > 0:
                current = pods.count()
                desired = external_average_replicas(lag_seen, cfg["lag_count"], current)
                if rate_threshold:
                    desired = max(desired, external_average_replicas(rate_1m, rate_threshold, current))
                pods.scale_to(hpa.normalize(current, max(desired, 1), now), now, start_delay)
        rows.append({"t": t, "load_rps": round(lam, 2), "replicas": replicas_now, "ready": ready,
                     "capacity_rps": round(cap, 1), "served_rps": round(served, 2), "queue": round(queue, 1),
                     "rejected_rps": round(rejected, 2), "cpu_pct": round(busy_pct, 1),
                     "pending_per_pod": round(pending, 2),
                     "p99_ms": round(weighted_quantile(second, 0.99), 1) if second else None})
    samples.sort()
    return rows, summarize(rows, samples, rejected_total, slo_ms, replica)


def weighted_quantile(pairs, q):
    """q-quantile of sorted (value, weight) pairs."""
    total = sum(w for _, w in pairs)
    acc = 0.0
    for v, w in pairs:
        acc += w
        if acc >= q * total:
            return v
    return pairs[-1][0] if pairs else float("nan")


def summarize(rows, all_lat, rejected, slo_ms, replica):
    peak_load = max(r["load_rps"] for r in rows)
    total = sum(r["load_rps"] for r in rows)
    over = [r for r in rows if r["p99_ms"] is not None and slo_ms and r["p99_ms"] > slo_ms]
    short = [r for r in rows if r["capacity_rps"] < r["load_rps"]]
    pod_seconds = sum(r["replicas"] for r in rows)
    # Catch-up: from the first second the load exceeds the capacity until capacity covers it and the queue is empty.
    first_short = next((r["t"] for r in rows if r["capacity_rps"] < r["load_rps"]), None)
    caught = next((r["t"] for r in rows if first_short is not None and r["t"] > first_short
                   and r["capacity_rps"] >= r["load_rps"] and r["queue"] < 1), None)
    return {
        "catch_up_s": (caught - first_short) if caught is not None else None,
        "peak_load_rps": round(peak_load, 1),
        "peak_replicas": max(r["replicas"] for r in rows),
        "replicas_needed_at_peak": math.ceil(peak_load / replica.max_rps),
        "max_queue": round(max(r["queue"] for r in rows), 1),
        "p99_ms_overall": round(weighted_quantile(all_lat, 0.99), 1) if all_lat else None,
        "p50_ms_overall": round(weighted_quantile(all_lat, 0.50), 1) if all_lat else None,
        "worst_second_p99_ms": max((r["p99_ms"] for r in rows if r["p99_ms"] is not None), default=None),
        "seconds_over_slo": len(over) if slo_ms else None,
        "seconds_capacity_short": len(short),
        "rejected_requests": round(rejected),
        "rejected_pct": round(100 * rejected / total, 2) if total else 0.0,
        "pod_hours": round(pod_seconds / 3600, 2),
    }


# -------------------------------------------------------------------------------------------------- output --

def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def svg_panel(rows, series, title, height=150, width=900, log=False):
    """A line chart of one or more columns over time (pure SVG, no plotting library)."""
    pad_l, pad_b, pad_t = 60, 20, 20
    n = len(rows)
    vals = [r[k] for k, _ in series for r in rows if r[k] is not None]
    top = max(vals + [1e-9])
    lo = 1.0 if log else 0.0
    if log:
        top = max(top, 10.0)

    def y(v):
        if v is None:
            return None
        if log:
            v = max(v, lo)
            f = math.log10(v / lo) / math.log10(top / lo)
        else:
            f = v / top
        return pad_t + (height - pad_t - pad_b) * (1 - f)

    def x(i):
        return pad_l + (width - pad_l - 10) * i / max(n - 1, 1)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<text x="{pad_l}" y="13" font-weight="bold">{html.escape(title)}</text>',
           f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - 10}" y2="{height - pad_b}" stroke="#888"/>',
           f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}" stroke="#888"/>',
           f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end">{top:.3g}</text>',
           f'<text x="{pad_l - 4}" y="{height - pad_b}" text-anchor="end">{lo if log else 0:g}</text>',
           f'<text x="{width - 10}" y="{height - 4}" text-anchor="end">{n} s</text>']
    legend_x = pad_l + 7 * len(title) + 30
    for key, color in series:
        pts, path = [], []
        for i, r in enumerate(rows):
            yy = y(r[key])
            if yy is None:
                if pts:
                    path.append(pts)
                    pts = []
                continue
            pts.append(f"{x(i):.1f},{yy:.1f}")
        if pts:
            path.append(pts)
        for p in path:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.3" points="{" ".join(p)}"/>')
        out.append(f'<text x="{legend_x}" y="13" fill="{color}">{html.escape(key)}</text>')
        legend_x += 8 * len(key) + 20
    out.append("</svg>")
    return "\n".join(out)


def write_html(path, title, rows, summary, meta):
    panels = [
        svg_panel(rows, [("load_rps", "#d62728"), ("capacity_rps", "#1f77b4"), ("served_rps", "#2ca02c")], "requests/s"),
        svg_panel(rows, [("replicas", "#9467bd"), ("ready", "#1f77b4")], "replicas (desired, ready)"),
        svg_panel(rows, [("queue", "#ff7f0e")], "queue depth (requests)"),
        svg_panel(rows, [("p99_ms", "#8c564b")], "p99 latency of the second's arrivals (ms, log)", log=True),
    ]
    table = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in summary.items())
    metas = "".join(f"<li>{html.escape(k)}: {html.escape(json.dumps(v))}</li>" for k, v in meta.items())
    pathlib.Path(path).write_text(f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
                                  f"<body style='font-family:sans-serif'><h2>{html.escape(title)}</h2>"
                                  f"<table border=1 cellpadding=3 style='border-collapse:collapse'>{table}</table>"
                                  f"<ul>{metas}</ul>{''.join(panels)}</body>")


def run_one(args, replica, settings, mode, kind, peak_x, out, max_replicas=None, duration=None, lag_only=False):
    peak = peak_x * replica.max_rps
    duration = duration or args.duration
    rates = load_trace_csv(kind) if kind.endswith(".csv") else trace(kind, peak, duration)
    rows, summary = simulate(rates, replica, settings, mode, args.schedule_s, args.max_queue_per_pod, args.slo_ms,
                             max_replicas, lag_only=lag_only)
    name = f"{mode}{'-lagonly' if lag_only else ''}-{pathlib.Path(kind).stem}-{peak_x:g}x"
    meta = {"trace": kind, "peak_x": peak_x, "mode": mode + (" (lag trigger only)" if lag_only else ""),
            "max_rps_per_replica": replica.max_rps,
            "start_delay_s": args.schedule_s + replica.startup_s, "settings": settings[mode],
            "max_replicas_used": max_replicas or settings[mode]["max"]}
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / f"{name}.csv", rows)
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "summary": summary}, indent=1) + "\n")
    write_html(out / f"{name}.html", name, rows, summary, meta)
    return name, meta, summary


def pods_for_slo(replica, peak, slo_ms):
    """Steady-state pods that keep each pod's load where the measured p99 stays within the SLO (no autoscaler
    dynamics): the capacity-planning answer for a given RPS and SLO."""
    best = 0.0
    steps = 200
    for i in range(1, steps + 1):
        u = replica.u[-1] * i / steps
        if replica.p99_ms(u) <= slo_ms:
            best = u
    return math.ceil(peak / (best * replica.max_rps)) if best > 0 else None


def plan(args, replica, settings, out):
    """The replica plan: each trace at 10× and 100× one replica's capacity; the HPA of the sync server, KEDA with
    the manifests' triggers (lag + rate) and with the lag trigger alone; with the manifests' maxReplicas and, when
    the peak needs more, with a maximum sized for it."""
    results = []
    variants = [("hpa", False), ("keda", False), ("keda", True)]
    for mode, lag_only in variants:
        for peak_x in (10, 100):
            target = (settings["hpa"]["cpu_target_pct"] or 70) / 100 if mode == "hpa" else \
                (settings["keda"]["rate_threshold"] or 0.7 * replica.max_rps) / replica.max_rps
            needed = math.ceil(peak_x / target * 1.1)
            caps = [("manifest", None)] + ([("sized", needed)] if needed > settings[mode]["max"] else [])
            for cap_label, max_r in caps:
                for kind in ("ramp", "spike", "diurnal"):
                    dur = 3600 if kind == "diurnal" else args.duration
                    name, meta, summary = run_one(args, replica, settings, mode, kind, peak_x, out / "runs" / cap_label, max_r,
                                                  dur, lag_only)
                    results.append({"mode": meta["mode"], "trace": kind, "peak_x": peak_x,
                                    "max_replicas": meta["max_replicas_used"], "cap": cap_label,
                                    "pods_for_slo": pods_for_slo(replica, peak_x * replica.max_rps, args.slo_ms), **summary})
                    print(f"{cap_label:8} {name:28} {json.dumps(summary)}", file=sys.stderr)
    (out / "plan.json").write_text(json.dumps({"capacity": args.capacity, "slo_ms": args.slo_ms,
                                               "start_delay_s": args.schedule_s + replica.startup_s,
                                               "settings": settings, "results": results}, indent=1) + "\n")
    lines = [f"Capacity: `{args.capacity}` ({replica.max_rps:g} rps per replica); p99 SLO {args.slo_ms:g} ms; "
             f"pod start {args.schedule_s:g} s + {replica.startup_s:g} s to ready.", "",
             "| autoscaler | trace | peak | maxReplicas | peak replicas | pods for SLO | catch-up (s) | max queue | "
             "p99 all (ms) | worst 1-s p99 (ms) | s over SLO | rejected | pod-hours |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['mode']} | {r['trace']} | {r['peak_x']}× ({r['peak_load_rps']:.0f} rps) | {r['max_replicas']} | "
                     f"{r['peak_replicas']} | {r['pods_for_slo']} | {r['catch_up_s']} | {r['max_queue']:.0f} | "
                     f"{r['p99_ms_overall']:.0f} | {r['worst_second_p99_ms']:.0f} | {r['seconds_over_slo']} | "
                     f"{r['rejected_pct']} % | {r['pod_hours']} |")
    (out / "plan.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capacity", required=True, help="capacity JSON of one replica (tools/measure_replica.py)")
    ap.add_argument("--overlay", default=str(ROOT / "deploy/kustomize/overlays/production"))
    ap.add_argument("--mode", choices=["hpa", "keda"], default="hpa")
    ap.add_argument("--trace", default="spike", help="ramp, spike, diurnal or a CSV with t,rps")
    ap.add_argument("--peak-x", type=float, default=10, help="peak load as a multiple of one replica's max_rps")
    ap.add_argument("--duration", type=int, default=1200, help="seconds (ramp/spike; diurnal uses it as one day)")
    ap.add_argument("--schedule-s", type=float, default=5.0, help="scheduling + image pull before the process starts")
    ap.add_argument("--max-queue-per-pod", type=float, default=256, help="sync server: queued requests per pod before 429")
    ap.add_argument("--slo-ms", type=float, default=None, help="p99 SLO (default: 4 × the replica's low-load p99)")
    ap.add_argument("--max-replicas", type=int, help="override the manifests' maxReplicas")
    ap.add_argument("--plan", action="store_true", help="the replica plan: traces × 10×/100× × HPA/KEDA")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    try:
        capacity = json.loads(pathlib.Path(args.capacity).read_text())
        replica = Replica(capacity)
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"error: {args.capacity}: {e}")
    if args.slo_ms is None:
        args.slo_ms = round(4 * replica.p99[0], 1)
    settings = settings_from_overlay(args.overlay)
    out = pathlib.Path(args.out)
    if args.plan:
        plan(args, replica, settings, out)
    else:
        name, _, summary = run_one(args, replica, settings, args.mode, args.trace, args.peak_x, out, args.max_replicas)
        print(json.dumps({"run": name, "slo_ms": args.slo_ms, **summary}, indent=1))


if __name__ == "__main__":
    main()
