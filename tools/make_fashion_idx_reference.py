"""Reference values for the Swift IDX/gzip reader, from Python's gzip + numpy reading the same Debian files.

Writes Tests/Fixtures/fashion-mnist/idx_reference.json: per file (train/t10k images/labels) the IDX dims, the
sha256 of the decompressed payload (after the header), the element sum and sum(x[i] * (i % 65521 + 1)); for the images also the first image
and image 12345 % N scaled exactly as the teacher sees them (float32 pixels / 255, written as the float32 values);
for the labels the first 32 labels and the per-class counts. Fails unless the files are the ones the teacher
fixture recorded (Tests/Fixtures/fashion-teacher/reference.safetensors metadata), when that exists.

Rerun: /opt/compress-tools-venv/bin/python tools/make_fashion_idx_reference.py
"""
import gzip
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "fashion-mnist", "idx_reference.json")


def main():
    files = {}
    for split in ("train", "t10k"):
        for kind in ("images", "labels"):
            path = fashion_mnist.path(split, kind)
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
            data = fashion_mnist.read_idx(path)
            header = 4 + 4 * data.ndim
            entry = {
                "file": os.path.basename(path),
                "gz_sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
                "dims": list(data.shape),
                "payload_sha256": hashlib.sha256(raw[header:]).hexdigest(),
                "sum": int(data.astype(np.int64).sum()),
                # Position-sensitive checksum cheap to recompute in a debug-build test (a sha256 there is slow).
                "weighted_sum": int((data.ravel().astype(np.int64) * (np.arange(data.size) % 65521 + 1)).sum()),
            }
            if kind == "images":
                scaled = data.astype(np.float32) / np.float32(255)
                other = 12345 % len(data)
                entry["first_image"] = [float(v) for v in scaled[0].ravel()]
                entry["sample_index"] = other
                entry["sample_image"] = [float(v) for v in scaled[other].ravel()]
            else:
                entry["first_labels"] = [int(v) for v in data[:32]]
                entry["class_counts"] = [int(v) for v in np.bincount(data, minlength=10)]
            files[f"{split}-{kind}"] = entry
    ref = os.path.join(ROOT, "Tests", "Fixtures", "fashion-teacher", "reference.safetensors")
    if os.path.exists(ref):
        from safetensors import safe_open
        with safe_open(ref, "np") as fh:
            meta = fh.metadata()
        for name, entry in files.items():
            if meta.get(f"sha256.{name}") not in (None, entry["gz_sha256"]):
                sys.exit(f"FAIL: {entry['file']} differs from the file the teacher was trained on")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump({"source": "Debian dataset-fashion-mnist, " + fashion_mnist.DIR, "files": files}, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {OUT}: " + ", ".join(f"{k} {v['dims']}" for k, v in files.items()))


if __name__ == "__main__":
    main()
