"""Percentile reference for `compress bench` (Tests/Fixtures/bench/latencies.json).

Latency-like samples (lognormal body plus a slow tail, nanoseconds) and their percentiles computed by numpy with
the nearest-rank definition HdrHistogram uses (`method="inverted_cdf"`: the smallest sample with at least
ceil(p/100 * N) samples at or below it). The Swift test records the samples in its histogram and must land within
HdrHistogram's 3-significant-digit resolution of these.

    /opt/compress-tools-venv/bin/python tools/make_bench_fixtures.py
"""
import json
import pathlib

import numpy as np

rng = np.random.default_rng(20261127)
body = rng.lognormal(mean=np.log(2_000_000), sigma=0.35, size=2900)  # ~2 ms requests
# 101 stalls: 3001 samples in all, so p·N is never a whole number for the tested percentiles. At a whole number
# (p99.9 of 3000 = rank 2997) numpy's float product 0.999 * 3000 = 2997.0000000000005 rounds up to rank 2998, while
# HdrHistogram subtracts an ulp first and keeps the exact rank 2997: the definitions agree, the roundoff does not.
tail = rng.lognormal(mean=np.log(25_000_000), sigma=0.6, size=101)  # ~25 ms stalls
samples = np.concatenate([body, tail]).astype(np.int64)
rng.shuffle(samples)
percentiles = [50, 90, 95, 99, 99.9]
ref = {str(p): int(np.percentile(samples, p, method="inverted_cdf")) for p in percentiles}
out = {
    "generator": "tools/make_bench_fixtures.py (numpy %s)" % np.__version__,
    "samples_ns": samples.tolist(),
    "percentiles_ns": ref,
    "max_ns": int(samples.max()),
    "mean_ns": float(samples.mean()),
}
path = pathlib.Path(__file__).resolve().parent.parent / "Tests/Fixtures/bench/latencies.json"
path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
print(path, {k: v for k, v in out.items() if k != "samples_ns"})
