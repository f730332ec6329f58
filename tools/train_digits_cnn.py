"""Train the digits CNN and build the seeded `layer_zoo` model; save both in every Keras format plus
reference outputs, so the Swift Keras loader and layers can be checked against real Keras.

Writes (all under Tests/Fixtures/keras/):
  digits_cnn.h5                     legacy HDF5 (model.save("....h5")), includes optimizer state
  digits_cnn.keras                  Keras 3 zip (config.json + model.weights.h5)
  digits_cnn_reference.safetensors  x_test f32 [360,8,8,1], y_test i64 [360], probs f32 [360,10]
                                    (model.predict on x_test), act.<layer> f32 [16,...] (inference-mode
                                    output of every layer for the first 16 test images, for debugging
                                    a mismatch layer by layer); metadata: keras version, architecture,
                                    test_accuracy, batchnorm epsilon
  layer_zoo.h5 / layer_zoo.keras    Functional linear chain, seeded random init, untrained, covering the
                                    layers the CNN lacks (valid conv, tanh/sigmoid, average pooling, BN
                                    with random non-trivial stats, global average pooling, GELU); all
                                    biases set to seeded non-zero values, final kernel widened so the
                                    softmax is far from uniform
  layer_zoo_reference.safetensors   x f32 [64,8,8,1] (first 64 test images), probs f32 [64,10],
                                    act.<layer> for all 64 images; metadata records which GELU Keras uses

Why: the CNN is the second real model for the compression pipeline (accuracy must stay >= 0.97);
the zoo makes every supported layer kind appear in a file written by Keras itself.

Data is the split from tools/make_digits.py. Seeds: keras.utils.set_random_seed(0), numpy RandomState(0)
for the BN statistics. With JAX on CPU the training run is repeatable; .keras zips embed a save date.

Rerun: KERAS_BACKEND=jax /opt/compress-tools-venv/bin/python tools/train_digits_cnn.py
"""
import io
import json
import math
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dump_keras_layout import dump_file  # noqa: E402
from make_digits import load_split  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "keras")
EPOCHS = 30


def build_cnn():
    """Sequential CNN; explicit layer names so the .keras auto group names (conv2d, conv2d_1, ...) differ
    from the user names (conv1, conv2, ...) and the loader has to map them through `vars@name`."""
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1), name="image"),
            L.Conv2D(16, 3, padding="same", name="conv1"),
            L.BatchNormalization(name="bn1"),
            L.Activation("relu", name="relu1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(32, 3, padding="same", name="conv2"),
            L.BatchNormalization(name="bn2"),
            L.Activation("relu", name="relu2"),
            L.Flatten(name="flatten"),
            L.Dense(64, activation="relu", name="fc1"),
            L.Dropout(0.2, name="dropout"),
            L.Dense(10, activation="softmax", name="fc2"),
        ],
        name="digits_cnn",
    )


def build_zoo():
    """Functional linear chain with Keras default layer names (session cleared first, so they are
    conv2d, average_pooling2d, conv2d_1, batch_normalization, ...)."""
    L = keras.layers
    inp = keras.Input(shape=(8, 8, 1))
    h = L.Conv2D(8, 3, strides=1, padding="valid", activation="tanh")(inp)  # 8x8 -> 6x6
    h = L.AveragePooling2D(2, padding="valid")(h)  # 6x6 -> 3x3
    h = L.Conv2D(12, 2, padding="same", activation="sigmoid", use_bias=True)(h)  # 3x3x12
    h = L.BatchNormalization()(h)
    h = L.GlobalAveragePooling2D()(h)
    h = L.Dense(16)(h)
    h = L.Activation("gelu")(h)
    out = L.Dense(10, activation="softmax")(h)
    return keras.Model(inp, out, name="layer_zoo")


def save_safetensors(tensors, path, metadata):
    """safetensors.numpy.save_file, then rewrite the JSON header with sorted keys: the library emits the
    metadata map in hash order, so without this two identical runs give different bytes (noisy diffs)."""
    import struct

    save_file(tensors, path, metadata=metadata)
    with open(path, "r+b") as fh:
        raw = fh.read()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + n])
        canon = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        if len(canon) > n:
            sys.exit(f"FAIL: canonical safetensors header longer than original for {path}")
        fh.seek(8)
        fh.write(canon + b" " * (n - len(canon)))  # trailing spaces are valid header padding


def layer_outputs(model, x):
    """Inference-mode output of every layer (linear chains only), keyed `act.<layer name>`."""
    acts = {}
    h = x
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        h = layer(h, training=False)
        acts[f"act.{layer.name}"] = np.asarray(h, dtype=np.float32)
    return acts


def arch_summary(model):
    parts = []
    for layer in model.layers:
        cfg = layer.get_config()
        keys = ("filters", "kernel_size", "strides", "padding", "units", "activation", "pool_size",
                "rate", "epsilon", "momentum", "use_bias")
        desc = ",".join(f"{k}={cfg[k]}" for k in keys if k in cfg)
        parts.append(f"{layer.name}:{type(layer).__name__}({desc})")
    return "; ".join(parts)


def gelu_variant():
    """Decide empirically which GELU Activation("gelu") computes (exact erf or tanh approximation)."""
    xs = np.linspace(-4, 4, 81).astype(np.float32)
    got = np.asarray(keras.layers.Activation("gelu")(xs))
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xs.astype(np.float64)])
    tanh = 0.5 * xs * (1 + np.tanh(math.sqrt(2 / math.pi) * (xs + 0.044715 * xs**3)))
    e_exact, e_tanh = np.abs(got - exact).max(), np.abs(got - tanh).max()
    variant = "exact_erf" if e_exact < e_tanh else "tanh_approximation"
    return variant, f"max|keras-exact|={e_exact:.3g}, max|keras-tanh|={e_tanh:.3g}"


def save_all(model, stem, include_optimizer=True):
    """Save legacy .h5 and .keras; report and adapt if the legacy save fails."""
    paths = {}
    h5 = os.path.join(OUT, f"{stem}.h5")
    try:
        model.save(h5, include_optimizer=include_optimizer)
        paths["h5"] = h5
    except Exception as exc:  # noqa: BLE001 - surface any legacy-format limitation loudly
        print(f"WARNING: legacy .h5 save of {stem} failed: {exc!r}")
    kz = os.path.join(OUT, f"{stem}.keras")
    model.save(kz)
    paths["keras"] = kz
    return paths


def check_reload(paths, x, probs):
    """Both files must reproduce the in-memory predictions, otherwise the fixture is useless."""
    for kind, path in paths.items():
        reloaded = keras.models.load_model(path)
        diff = np.abs(reloaded.predict(x, verbose=0) - probs).max()
        print(f"reload {os.path.basename(path)}: max |probs diff| = {diff:.3g}")
        if diff > 1e-6:
            sys.exit(f"FAIL: {path} does not reproduce predictions")


def print_layout(paths):
    for path in paths.values():
        buf = io.StringIO()
        dump_file(path, buf)
        print(f"--- layout of {os.path.relpath(path, ROOT)}")
        print(buf.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    x_train, y_train, x_test, y_test = load_split()

    # ---- digits CNN -------------------------------------------------------------------------
    keras.utils.set_random_seed(0)
    cnn = build_cnn()
    cnn.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    cnn.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, shuffle=True, verbose=0)
    probs = cnn.predict(x_test, verbose=0).astype(np.float32)
    acc = float((probs.argmax(1) == y_test).mean())
    print(f"digits_cnn test accuracy = {acc:.4f} ({EPOCHS} epochs, Adam 1e-3, batch 32)")
    if acc < 0.97:
        sys.exit("FAIL: digits_cnn accuracy below 0.97")
    for bn in ("bn1", "bn2"):
        gamma, beta, mean, var = cnn.get_layer(bn).get_weights()
        print(f"{bn}: moving_mean range [{mean.min():.3f},{mean.max():.3f}], "
              f"moving_var range [{var.min():.3f},{var.max():.3f}], gamma mean {gamma.mean():.3f}")
    paths = save_all(cnn, "digits_cnn")
    check_reload(paths, x_test, probs)
    tensors = {"x_test": x_test, "y_test": y_test, "probs": probs}
    tensors.update(layer_outputs(cnn, x_test[:16]))
    if not np.allclose(tensors["act.fc2"], probs[:16], atol=1e-6):
        sys.exit("FAIL: layer-by-layer outputs disagree with predict()")
    save_safetensors(tensors, os.path.join(OUT, "digits_cnn_reference.safetensors"), metadata={
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "split": "sklearn load_digits, train_test_split(test_size=0.2, stratify=y, random_state=0), pixels/16",
        "architecture": arch_summary(cnn),
        "training": f"Adam lr=1e-3, {EPOCHS} epochs, batch 32, keras.utils.set_random_seed(0)",
        "test_accuracy": repr(acc),
        "activations": "act.<layer>: inference-mode outputs for x_test[:16]",
        "batchnorm": "y = gamma*(x-moving_mean)/sqrt(moving_variance+epsilon)+beta, epsilon=0.001",
    })
    print_layout(paths)

    # ---- layer zoo --------------------------------------------------------------------------
    keras.backend.clear_session()  # reset auto-name counters so names are conv2d, conv2d_1, ...
    keras.utils.set_random_seed(0)
    zoo = build_zoo()
    bn = next(l for l in zoo.layers if isinstance(l, keras.layers.BatchNormalization))
    rng = np.random.RandomState(0)
    ch = bn.get_weights()[0].shape[0]
    bn.set_weights([
        rng.uniform(0.5, 1.5, ch).astype(np.float32),  # gamma
        rng.normal(0.0, 0.2, ch).astype(np.float32),  # beta
        rng.uniform(0.3, 0.7, ch).astype(np.float32),  # moving_mean (inputs are sigmoid outputs)
        rng.uniform(0.01, 0.1, ch).astype(np.float32),  # moving_variance
    ])
    # Glorot init leaves every bias at zero and the softmax nearly uniform (probs in ~[0.06,0.14]), which
    # would hide bias-loading and logit errors; give biases seeded non-zero values and widen the head.
    for layer in zoo.layers:
        if getattr(layer, "use_bias", False):
            kernel, bias = layer.get_weights()
            if layer is zoo.layers[-1]:
                kernel = rng.normal(0.0, 1.5, kernel.shape).astype(np.float32)
            layer.set_weights([kernel, rng.normal(0.0, 0.1, bias.shape).astype(np.float32)])
    x = x_test[:64]
    zprobs = zoo.predict(x, verbose=0).astype(np.float32)
    variant, evidence = gelu_variant()
    print(f"layer_zoo: GELU used by Activation('gelu') = {variant} ({evidence}); "
          f"probs row max range [{zprobs.max(1).min():.3f},{zprobs.max(1).max():.3f}]")
    zpaths = save_all(zoo, "layer_zoo", include_optimizer=False)
    check_reload(zpaths, x, zprobs)
    ztensors = {"x": x, "probs": zprobs}
    ztensors.update(layer_outputs(zoo, x))
    save_safetensors(ztensors, os.path.join(OUT, "layer_zoo_reference.safetensors"), metadata={
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "x": "first 64 images of the digits test split",
        "architecture": arch_summary(zoo),
        "init": "keras.utils.set_random_seed(0) Glorot/zeros init, untrained; BN weights from "
                "numpy RandomState(0): gamma U(0.5,1.5), beta N(0,0.2), moving_mean U(0.3,0.7), "
                "moving_variance U(0.01,0.1); then every bias N(0,0.1) and the final Dense kernel N(0,1.5)",
        "gelu": f"{variant} (Keras Activation('gelu') default approximate=False; {evidence})",
        "activations": "act.<layer>: inference-mode outputs for x",
        "batchnorm": "epsilon=0.001",
    })
    print_layout(zpaths)

    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
