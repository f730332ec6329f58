"""Train the Fashion-MNIST teacher CNN (issue 12: conv32-pool-conv64-pool-dense128-dense10) with Keras 3 on JAX and
commit it as a fixture with reference outputs, so the Swift loader and the distillation recipes have a real teacher.

Writes (under Tests/Fixtures/fashion-teacher/):
  fashion_teacher.h5                legacy HDF5, no optimizer state (our KerasModelLoader reads it)
  reference.safetensors             x f32 [64,28,28,1] (first 64 test images, pixels/255), y i64 [64],
                                    logits f32 [64,10] (output of layer `logits`), probs f32 [64,10] (model output),
                                    test_predictions i32 [10000] (Keras argmax on the full test split);
                                    metadata: test/validation accuracy, best epoch, training settings, sha256 of the
                                    four IDX .gz files, keras/jax versions

Data: Debian `dataset-fashion-mnist` read by tools/fashion_mnist.py; train = first 55,000 of the official train
split, validation = its last 5,000 (epoch selection: the epoch with the best validation accuracy is kept), test =
the official 10,000 (never used for training or selection; only reported).

Model: Input(28,28,1) → Conv2D(32,3,relu) → MaxPool(2) → Conv2D(64,3,relu) → MaxPool(2) → Flatten → Dropout(0.3)
→ Dense(128,relu) → Dropout(0.3) → Dense(10) named `logits` → Activation(softmax) named `probs`. Logits are a
separate layer so distillation can take them without undoing a softmax. Valid padding keeps it small (225k params).

Seeds: keras.utils.set_random_seed(0); Adam 1e-3, batch 128, EPOCHS epochs. CPU heavy: run under the shared lock.
Rerun: flock /tmp/swift-build.lock env KERAS_BACKEND=jax /opt/compress-tools-venv/bin/python tools/train_fashion_teacher.py
"""
import hashlib
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402
from train_digits_cnn import save_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "fashion-teacher")
EPOCHS = int(os.environ.get("FASHION_EPOCHS", "15"))
N_REFERENCE = 64


def build():
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="image"),
            L.Conv2D(32, 3, activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(64, 3, activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dropout(0.3, name="drop1"),
            L.Dense(128, activation="relu", name="fc1"),
            L.Dropout(0.3, name="drop2"),
            L.Dense(10, name="logits"),
            L.Activation("softmax", name="probs"),
        ],
        name="fashion_teacher",
    )


class KeepBest(keras.callbacks.Callback):
    """Remembers the weights of the epoch with the best validation accuracy (ties: the earlier epoch)."""

    def __init__(self):
        super().__init__()
        self.best, self.epoch, self.weights = -1.0, -1, None
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        acc = float(logs["val_accuracy"])
        print(f"epoch {epoch + 1}/{EPOCHS}: loss {logs['loss']:.4f} val_accuracy {acc:.4f} "
              f"({time.time() - self.started:.0f}s)", flush=True)
        if acc > self.best:
            self.best, self.epoch, self.weights = acc, epoch + 1, self.model.get_weights()


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def main():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = fashion_mnist.load_splits()
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    keep = KeepBest()
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=128, shuffle=True, verbose=0,
              validation_data=(x_val, y_val), callbacks=[keep])
    model.set_weights(keep.weights)

    probs = model.predict(x_test, batch_size=500, verbose=0).astype(np.float32)
    predictions = probs.argmax(1).astype(np.int32)
    accuracy = float((predictions == y_test).mean())
    print(f"best epoch {keep.epoch}: validation accuracy {keep.best:.4f}; test accuracy {accuracy:.4f}")
    if accuracy < 0.90:
        sys.exit("FAIL: teacher test accuracy below 0.90")

    os.makedirs(OUT, exist_ok=True)
    h5 = os.path.join(OUT, "fashion_teacher.h5")
    model.save(h5, include_optimizer=False)
    reloaded = keras.models.load_model(h5)
    x = x_test[:N_REFERENCE]
    ref_probs = reloaded.predict(x, verbose=0).astype(np.float32)
    logits_model = keras.Model(reloaded.inputs, reloaded.get_layer("logits").output)
    logits = np.asarray(logits_model.predict(x, verbose=0), dtype=np.float32)
    if np.abs(ref_probs - probs[:N_REFERENCE]).max() > 1e-6:
        sys.exit("FAIL: the saved .h5 does not reproduce the predictions")
    files = {f"sha256.{split}-{kind}": sha256(fashion_mnist.path(split, kind))
             for split in ("train", "t10k") for kind in ("images", "labels")}
    save_safetensors(
        {"x": x, "y": y_test[:N_REFERENCE], "logits": logits, "probs": ref_probs, "test_predictions": predictions},
        os.path.join(OUT, "reference.safetensors"),
        metadata={
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "data": "Debian dataset-fashion-mnist; train = first 55000 of train, validation = last 5000, "
                    "test = t10k (10000); pixels/255 as float32 NHWC",
            "training": f"Adam lr=1e-3, batch 128, {EPOCHS} epochs, keep the best validation epoch, "
                        "keras.utils.set_random_seed(0)",
            "best_epoch": str(keep.epoch),
            "validation_accuracy": repr(keep.best),
            "test_accuracy": repr(accuracy),
            "test_correct": str(int((predictions == y_test).sum())),
            "parameters": str(model.count_params()),
            **files,
        })
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
