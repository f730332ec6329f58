"""Write the 8x8 handwritten-digits dataset as HDF5 for the Swift `Formats` dataset loader.

Writes:
  datasets/digits/train.h5   x float32 [1437,8,8,1], y int64 [1437]
  datasets/digits/test.h5    x float32 [360,8,8,1],  y int64 [360]
Each file has attribute `source` describing the split.

Why: the digits MLP/CNN fixtures were trained and evaluated on exactly this split, so the Swift side can
recompute accuracy and fine-tune on the same data. Data is scikit-learn's bundled `load_digits` (no
download), split with `train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)`, pixels/16.
The script checks that the test split equals `x_test`/`y_test` in the shared
/work/shared/fixtures/keras/digits_mlp_reference.safetensors and exits non-zero otherwise.

Rerun: KERAS_BACKEND=jax /opt/compress-tools-venv/bin/python tools/make_digits.py
"""
import os
import sys

import h5py
import numpy as np
from safetensors.numpy import load_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "datasets", "digits")
SHARED_REF = os.environ.get(
    "DIGITS_MLP_REFERENCE", "/work/shared/fixtures/keras/digits_mlp_reference.safetensors"
)
SOURCE = (
    "scikit-learn load_digits; train_test_split(X, y, test_size=0.2, stratify=y, random_state=0); "
    "pixels/16 as float32 [N,8,8,1]; labels int64"
)


def load_split():
    """Return (x_train, y_train, x_test, y_test) exactly as the Keras fixtures were made."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # [1797,8,8,1]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    return x_train, y_train, x_test, y_test


def write(path, x, y, part):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=y)
        f.attrs["source"] = f"{SOURCE}; part={part}"


def main():
    x_train, y_train, x_test, y_test = load_split()

    ref = load_file(SHARED_REF)
    ref_y = ref["y_test"] if "y_test" in ref else ref["Y_test"]
    if not (np.array_equal(ref["x_test"], x_test) and np.array_equal(ref_y, y_test)):
        sys.exit(f"FAIL: test split differs from {SHARED_REF}")
    print(f"verified: test split equals x_test/y_test in {SHARED_REF}")

    os.makedirs(OUT, exist_ok=True)
    write(os.path.join(OUT, "train.h5"), x_train, y_train, "train")
    write(os.path.join(OUT, "test.h5"), x_test, y_test, "test")
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        print(f"{name}: x {x.dtype} {list(x.shape)}, y {y.dtype} {list(y.shape)}, "
              f"class counts {np.bincount(y).tolist()}")


if __name__ == "__main__":
    main()
