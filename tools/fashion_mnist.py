"""Read Debian's `dataset-fashion-mnist` IDX files with Python's gzip + numpy (the reference reader).

The Swift reader (Sources/Formats/IDXFile.swift) is checked against what this module returns; the teacher script
trains on it. Files (installed by `make fashion-data`):
  /usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
Override the directory with FASHION_MNIST_DIR.

Scaling: images as float32 pixels / 255 in NHWC [N, 28, 28, 1]; labels as int64 [N]. Validation is the LAST
5,000 images of the official train split (so train = the first 55,000); the 10k test split is never used for
training or selection.
"""
import gzip
import os

import numpy as np

DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
N_VALIDATION = 5000
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def path(split, kind):
    """split: 'train' | 't10k'; kind: 'images' | 'labels'."""
    return os.path.join(DIR, f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz")


def read_idx(file):
    """Parses an IDX file (magic 0x0000 <dtype 0x08 = uint8> <ndims>, big-endian int32 dims, then data)."""
    with gzip.open(file, "rb") as fh:
        raw = fh.read()
    if raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{file}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{file}: {data.size} bytes of data, header says {dims}")
    return data.reshape(dims)


def load(split):
    """(images float32 [N,28,28,1] in [0,1], labels int64 [N]) of the official split 'train' or 't10k'."""
    x = read_idx(path(split, "images")).astype(np.float32)[..., None] / np.float32(255)
    y = read_idx(path(split, "labels")).astype(np.int64)
    return x, y


def load_splits():
    """train (first 55k), validation (last 5k of the official train split), test (official 10k)."""
    x, y = load("train")
    xt, yt = load("t10k")
    cut = len(x) - N_VALIDATION
    return (x[:cut], y[:cut]), (x[cut:], y[cut:]), (xt, yt)
