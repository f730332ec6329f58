#!/usr/bin/env python3
"""Writes the shared Keras digits MLP in PyTorch naming, for the safetensors+JSON MLP loader.

Reads ../shared/fixtures/keras/digits_mlp.h5 with h5py and writes
  Tests/Fixtures/mlp/digits_mlp.safetensors  fc1/fc2/fc3 .weight (out, in) and .bias, as torch.nn.Linear saves them
  Tests/Fixtures/mlp/digits_mlp.json         the architecture (input_shape + layer list)
The reference outputs are Keras's own: ../shared/fixtures/keras/digits_mlp_reference.safetensors (probs on x_test).

Usage: /opt/compress-tools-venv/bin/python tools/make_torch_mlp.py
"""
import json
import os

import h5py
import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "fixtures", "keras", "digits_mlp.h5")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "mlp")


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = {}
    with h5py.File(SRC, "r") as f:
        for keras_name, torch_name in [("dense_1", "fc1"), ("dense_2", "fc2"), ("dense_3", "fc3")]:
            g = f["model_weights"][keras_name]
            names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            kernel, bias = (np.asarray(g[n], dtype=np.float32) for n in names)
            tensors[f"{torch_name}.weight"] = np.ascontiguousarray(kernel.T)  # Keras (in, out) -> torch (out, in)
            tensors[f"{torch_name}.bias"] = bias
    save_file(tensors, os.path.join(OUT, "digits_mlp.safetensors"), metadata={"source": "shared digits_mlp.h5, Keras kernels transposed to torch layout"})
    arch = {
        "input_shape": [8, 8, 1],
        "layers": [
            {"type": "flatten", "name": "flatten"},
            {"type": "dense", "name": "fc1", "outFeatures": 128, "activation": "relu"},
            {"type": "dense", "name": "fc2", "outFeatures": 64, "activation": "relu"},
            {"type": "dense", "name": "fc3", "outFeatures": 10, "activation": "softmax"},
        ],
    }
    with open(os.path.join(OUT, "digits_mlp.json"), "w") as f:
        json.dump(arch, f, indent=2)
        f.write("\n")
    print("wrote", sorted(tensors), "to", OUT)


if __name__ == "__main__":
    main()
