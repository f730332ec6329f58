#!/usr/bin/env python3
"""numpy port of GPTQ's reference `fasterquant` (Frantar et al., github.com/IST-DASLab/gptq), in float64, for the
configurations `compress` uses: symmetric grid (int8: codes [-127, 127], scale max|w|/127; int4: codes [-8, 7],
scale max|w|/7.5), per-channel or groups along the input, optional act-order with static groups (group scales
from the unmodified weights, so groups stay contiguous runs of inputs), dampening 0.01·mean(diag H), blocks of 128.

Writes Tests/Fixtures/quant/gptq_reference.safetensors: W (48, 96) float32, H (96, 96) float32 (= 2/n·XᵀX of seeded
correlated inputs with a few large channels), and for each case codes_<case> int8 (48, 96) and scales_<case> float32.

Usage: /opt/compress-tools-venv/bin/python tools/gptq_reference.py
"""
import os

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def grid(bits):
    return (-127.0, 127.0, 127.0) if bits == 8 else (-8.0, 7.0, 7.5)


def scales_of(block, div):
    m = np.abs(block).max(axis=1)
    return np.where(m > 0, m / div, 1.0)


def gptq(w, h, bits, groupsize, actorder, damp=0.01, blocksize=128):
    w = w.astype(np.float64).copy()
    h = h.astype(np.float64).copy()
    rows, cols = w.shape
    lo, hi, div = grid(bits)
    dead = np.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    groups = 1 if groupsize == 0 else (cols + groupsize - 1) // groupsize
    scales = np.zeros((rows, groups))
    perm = np.arange(cols)
    if actorder:
        if groupsize:
            for g in range(groups):
                scales[:, g] = scales_of(w[:, g * groupsize:(g + 1) * groupsize], div)
        perm = np.argsort(-np.diag(h), kind="stable")
        w = w[:, perm]
        h = h[perm][:, perm]
    if groupsize == 0:
        scales[:, 0] = scales_of(w, div)
    h[np.diag_indices(cols)] += damp * np.mean(np.diag(h))
    hinv = np.linalg.inv(h)
    u = np.linalg.cholesky(hinv).T  # upper: H⁻¹ = Uᵀ U
    codes = np.zeros((rows, cols))
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        w1 = w[:, i1:i2].copy()
        err1 = np.zeros_like(w1)
        for i in range(i2 - i1):
            col = i1 + i
            if groupsize and not actorder and col % groupsize == 0:
                scales[:, col // groupsize] = scales_of(w[:, col:col + groupsize], div)
            g = 0 if groupsize == 0 else (perm[col] // groupsize if actorder else col // groupsize)
            s = scales[:, g]
            q = np.clip(np.round(w1[:, i] / s), lo, hi)
            codes[:, col] = q
            err = (w1[:, i] - q * s) / u[col, col]
            w1[:, i:] -= np.outer(err, u[col, i1 + i:i2])
            err1[:, i] = err
        w[:, i2:] -= err1 @ u[i1:i2, i2:]
    out = np.zeros_like(codes)
    out[:, perm] = codes
    return out.astype(np.int8), scales.astype(np.float32)


def main():
    rng = np.random.default_rng(0)
    rows, cols, n = 48, 96, 512
    w = (rng.standard_normal((rows, cols)) * 0.1).astype(np.float32)
    shared = rng.standard_normal((n, 1))
    x = 0.6 * shared + rng.standard_normal((n, cols)) * np.where(np.arange(cols) % 17 == 0, 8.0, 1.0)
    x = x.astype(np.float32)
    h = (2.0 / n * (x.astype(np.float64).T @ x.astype(np.float64))).astype(np.float32)
    tensors = {"W": w, "H": h}
    for name, bits, gs, act in [("int8", 8, 0, False), ("int4_g32", 4, 32, False), ("int4_g32_act", 4, 32, True)]:
        codes, scales = gptq(w, h, bits, gs, act)
        tensors[f"codes_{name}"] = codes
        tensors[f"scales_{name}"] = scales
    path = os.path.join(ROOT, "Tests", "Fixtures", "quant", "gptq_reference.safetensors")
    save_file(tensors, path, metadata={"source": "tools/gptq_reference.py (numpy float64 port of GPTQ fasterquant)"})
    print("wrote", path, {k: v.shape for k, v in tensors.items()})


if __name__ == "__main__":
    main()
