#!/usr/bin/env python3
"""Compares `compress predict` outputs with reference outputs made by real tools (BENCHMARKS.md fidelity rows).

Usage: python3 tools/check_reference.py OUTPUT.safetensors REFERENCE.safetensors [REFERENCE_TENSOR]
Prints max |diff|, and for row vectors the mean and min cosine; exits 1 if shapes differ.
Uses only the standard library (safetensors is a JSON header + little-endian floats).
"""
import json
import math
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            continue
        b, e = info["data_offsets"]
        vals = struct.unpack(f"<{(e - b) // 4}f", data[8 + n + b:8 + n + e])
        out[name] = (info["shape"], vals)
    return out


def main():
    out_path, ref_path = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else None
    (shape, a) = read(out_path)["output"]
    ref = read(ref_path)
    rshape, b = ref[name] if name else next(v for k, v in ref.items() if k in ("embeddings", "probs"))
    if shape != rshape:
        print(f"shape mismatch: output {shape} vs reference {rshape}")
        return 1
    d = shape[-1]
    diff = max(abs(x - y) for x, y in zip(a, b))
    cos = []
    for i in range(len(a) // d):
        x, y = a[i * d:(i + 1) * d], b[i * d:(i + 1) * d]
        cos.append(sum(p * q for p, q in zip(x, y)) / (math.sqrt(sum(p * p for p in x)) * math.sqrt(sum(q * q for q in y)) or 1))
    print(f"rows {len(cos)}  max |diff| {diff:.3e}  cosine mean {sum(cos) / len(cos):.8f}  min {min(cos):.8f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
