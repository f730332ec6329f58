#!/usr/bin/env python3
"""Reference thresholds for TensorRT-style entropy calibration: pytorch-quantization's `_compute_amax_entropy`
(calib/histogram.py, NVIDIA), ported line for line to numpy + scipy, on seeded |x| histograms of 2048 bins.

Writes Tests/Fixtures/quant/entropy_reference.json: for each case the histogram, its range, and the chosen bin
count (threshold = bins · range / 2048).
Usage: /opt/peers-venv/bin/python tools/entropy_calibration_reference.py   (numpy, scipy)
"""
import json
import os
from collections import Counter

import numpy as np
from scipy.stats import entropy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compute_amax_entropy(calib_hist, calib_bin_edges, num_bits=8, unsigned=False, stride=1, start_bin=128):
    """As pytorch-quantization's _compute_amax_entropy; returns (amax, chosen bin count)."""
    def _normalize_distr(distr):
        summ = np.sum(distr)
        if summ != 0:
            distr = distr / summ
        return distr

    bins = calib_hist[:].astype(np.float64)
    bins[0] = bins[1]
    divergences = []
    arguments = []
    nbins = 1 << (num_bits - 1 + int(unsigned))
    new_density_counts = np.zeros(nbins, dtype=np.float64)
    for i in range(start_bin, len(bins) + 1, stride):
        new_density_counts.fill(0)
        space = np.linspace(0, i, num=nbins + 1)
        digitized_space = np.digitize(range(i), space) - 1
        digitized_space[bins[:i] == 0] = -1
        for idx, digitized in enumerate(digitized_space):
            if digitized != -1:
                new_density_counts[digitized] += bins[idx]
        counter = Counter(digitized_space)
        for key, val in counter.items():
            if key != -1:
                new_density_counts[key] = new_density_counts[key] / val
        new_density = np.zeros(i, dtype=np.float64)
        for idx, digitized in enumerate(digitized_space):
            if digitized != -1:
                new_density[idx] = new_density_counts[digitized]
        new_density = _normalize_distr(new_density)
        reference_density = np.array(bins[:len(digitized_space)])
        reference_density[-1] += np.sum(bins[i:])
        reference_density = _normalize_distr(reference_density)
        divergences.append(entropy(reference_density, new_density))
        arguments.append(i)
    divergences = np.array(divergences)
    last_argmin = len(divergences) - 1 - np.argmin(divergences[::-1])
    return calib_bin_edges[last_argmin * stride + start_bin], last_argmin * stride + start_bin


def main():
    rng = np.random.default_rng(0)
    cases = []
    samples = {
        "gaussian_outliers": np.concatenate([rng.standard_normal(200_000), rng.standard_normal(20) * 40]),
        "laplace": rng.laplace(size=200_000),
        "relu_gelu_like": np.maximum(rng.standard_normal(200_000) * 1.5, -0.17) + (rng.random(200_000) < 0.001) * 12,
    }
    for name, x in samples.items():
        a = np.abs(x)
        hist, edges = np.histogram(a, bins=2048, range=(0, a.max()))
        amax, chosen = compute_amax_entropy(hist, edges)
        cases.append({"name": name, "range": float(a.max()), "histogram": hist.astype(int).tolist(), "bins": int(chosen), "amax": float(amax)})
        print(name, "bins", chosen, "amax", amax, "of max", a.max())
    path = os.path.join(ROOT, "Tests", "Fixtures", "quant", "entropy_reference.json")
    with open(path, "w") as f:
        json.dump({"source": "tools/entropy_calibration_reference.py (pytorch-quantization _compute_amax_entropy)", "cases": cases}, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
