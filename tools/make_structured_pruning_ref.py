#!/usr/bin/env python3
"""Golden fixture for structured pruning with a dependency graph, on the digits CNN (Tests/Fixtures/keras).

The same deletion our `StructuredPruner` makes, decided and applied independently here, then run by Keras itself:
a new Sequential with the smaller widths gets the sliced weights and predicts.

Groups (Torch-Pruning DepGraph; Keras layouts: Conv2D kernel (kh, kw, in, out), Dense kernel (in, out)):
  conv1 channels: conv1 kernel[..., c], conv1 bias[c], bn1 gamma/beta/mean/var[c], conv2 kernel[:, :, c, :]
  conv2 channels: conv2 kernel[..., c], bias[c], bn2 vectors[c], fc1 kernel rows p*C + c for every spatial p
                  (Flatten of NHWC (4, 4, 32) is channels-last: index (h*W + w)*C + c)
  fc1 neurons:    fc1 kernel[:, j], bias[j], fc2 kernel[j, :]
Importance (scored slices: kernels and BN gamma; biases and BN shifts/statistics only shrink along):
  l2  = sqrt(sum of squares over the scored slices of the unit); l1 = sum of |w|
  activation = mean over calibration items (and spatial positions) of |input of the consumer| at the unit's indices
               (conv1: pool1 output per channel over N, H, W; conv2: flatten output summed over p, mean over N;
               fc1: dropout (= fc1) output)
Per-layer scope: a group of n units keeps floor(n * (1 - ratio)) units; the lowest scores go, ties to the lower
index (stable sort). Cases are applied in order, each on the result of the one before:
  case A: channels 0.5 l2, then neurons 0.5 l1
  case B: channels 0.5 activation (calibration: x_test[:64])
Outputs: probabilities of x_test[64:192] for each case, the kept indices, in
Tests/Fixtures/structured-pruning/digits_cnn.safetensors (+ plan JSON in its metadata).

Rerun: KERAS_BACKEND=jax /opt/compress-tools-venv/bin/python tools/make_structured_pruning_ref.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")


def weights(model):
    w = {}
    for layer in model.layers:
        for v in layer.weights:
            w[f"{layer.name}.{v.name}"] = np.array(v.numpy(), dtype=np.float64)
    return w


def layer_names(model):
    return [l.name for l in model.layers]


def groups(model, w):
    """(root, kind, units, [(param, axis, indices per unit, scored)], consumer) per prunable group."""
    out = []
    layers = model.layers
    open_group = None
    for i, l in enumerate(layers):
        cls = type(l).__name__
        if cls in ("Conv2D", "Dense"):
            in_axis = 2 if cls == "Conv2D" else 0
            if open_group is not None:
                root, kind, n, slices, mapping = open_group
                slices.append((f"{l.name}.kernel", in_axis, mapping, True))
                out.append((root, kind, n, slices, (l.name, mapping)))
            n = l.filters if cls == "Conv2D" else l.units
            out_axis = 3 if cls == "Conv2D" else 1
            slices = [(f"{l.name}.kernel", out_axis, [[u] for u in range(n)], True),
                      (f"{l.name}.bias", 0, [[u] for u in range(n)], False)]
            open_group = (l.name, "channels" if cls == "Conv2D" else "neurons", n, slices, [[u] for u in range(n)])
            if l.get_config()["activation"] == "softmax":
                open_group = None
        elif cls == "BatchNormalization":
            root, kind, n, slices, mapping = open_group
            for p, scored in (("gamma", True), ("beta", False), ("moving_mean", False), ("moving_variance", False)):
                slices.append((f"{l.name}.{p}", 0, mapping, scored))
        elif cls == "Flatten":
            root, kind, n, slices, mapping = open_group
            h, ww, c = l.input.shape[1:]
            open_group = (root, kind, n, slices, [[p * c + m[0] for p in range(h * ww)] for m in mapping])
    return out


def unit_sums(arr, axis, indices, f):
    per = f(arr).sum(axis=tuple(a for a in range(arr.ndim) if a != axis))
    return np.array([per[idx].sum() for idx in indices])


def scores(group, w, criterion, acts=None):
    root, kind, n, slices, consumer = group
    if criterion == "activation":
        x = acts[consumer[0]]  # consumer input (N, ..., width)
        x = np.abs(x).reshape(-1, x.shape[-1])
        return np.array([x[:, idx].sum(axis=1).mean() for idx in consumer[1]])
    total = np.zeros(n)
    for p, axis, idx, scored in slices:
        if scored:
            total += unit_sums(w[p], axis, idx, np.square if criterion == "l2" else np.abs)
    return np.sqrt(total) if criterion == "l2" else total


def keep(s, ratio):
    n = len(s)
    k = int(np.floor(n * (1 - ratio) + 1e-9))
    order = np.argsort(s, kind="stable")
    assert k > 0, "ratio would remove every unit"
    return sorted(int(i) for i in order[n - k:])


def prune(model, kind, ratio, criterion, calib):
    w = weights(model)
    acts = None
    if criterion == "activation":
        acts = {}
        for l in model.layers:
            sub = keras.Model(model.inputs, l.input)
            acts[l.name] = np.array(sub.predict(calib, verbose=0), dtype=np.float64)
    plan = {}
    # One-shot: every group is scored on the unpruned weights first, then all deletions are applied (as the Swift
    # StructuredPruner does; scoring a later group after an earlier group's slicing would be the iterative variant).
    chosen = [(g, keep(scores(g, w, criterion, acts), ratio)) for g in groups(model, w) if g[1] == kind]
    for g, kept in chosen:
        plan[g[0]] = kept
        for p, axis, idx, _ in g[3]:
            w[p] = np.take(w[p], sorted(i for u in kept for i in idx[u]), axis=axis)
    cfg = model.get_config()
    cfg.pop("build_config", None)
    for lc in cfg["layers"]:
        # Recorded input shapes are the unpruned ones: let Keras infer the new widths.
        lc.pop("build_config", None)
        name = lc["config"].get("name")
        if lc["class_name"] == "Conv2D":
            lc["config"]["filters"] = int(w[f"{name}.kernel"].shape[3])
        elif lc["class_name"] == "Dense":
            lc["config"]["units"] = int(w[f"{name}.kernel"].shape[1])
    new = keras.Sequential.from_config(cfg)
    for l in new.layers:
        vals = [w[f"{l.name}.{v.name}"].astype(np.float32) for v in l.weights]
        if vals:
            l.set_weights(vals)
    return new, plan


def main():
    ref = load_file(os.path.join(FIX, "keras", "digits_cnn_reference.safetensors"))
    x = ref["x_test"]
    calib, held = x[:64], x[64:192]
    base = keras.saving.load_model(os.path.join(FIX, "keras", "digits_cnn.keras"))
    out = {"x": held, "calibration": calib, "probs": base.predict(held, verbose=0)}
    plans = {}
    a, p1 = prune(base, "channels", 0.5, "l2", calib)
    a, p2 = prune(a, "neurons", 0.5, "l1", calib)
    out["probs_a"] = a.predict(held, verbose=0)
    plans["a"] = {"channels": p1, "neurons": p2}
    b, p3 = prune(base, "channels", 0.5, "activation", calib)
    out["probs_b"] = b.predict(held, verbose=0)
    plans["b"] = {"channels": p3}
    for k, v in list(out.items()):
        out[k] = np.asarray(v, dtype=np.float32)
    os.makedirs(os.path.join(FIX, "structured-pruning"), exist_ok=True)
    path = os.path.join(FIX, "structured-pruning", "digits_cnn.safetensors")
    save_file(out, path, metadata={"plans": json.dumps(plans, sort_keys=True)})
    os.chmod(path, 0o644)
    y = ref["y_test"][64:192]
    for k in ("probs", "probs_a", "probs_b"):
        print(k, "accuracy on x_test[64:192]:", float((out[k].argmax(1) == y).mean()))
    print(json.dumps(plans))


if __name__ == "__main__":
    main()
