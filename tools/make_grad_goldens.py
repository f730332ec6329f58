"""Gradient goldens for the Swift training engine, computed with jax.grad in float64.

Writes Tests/Fixtures/grads/:
  digits_cnn_grads.safetensors   the Keras digits CNN fixture (Tests/Fixtures/keras/digits_cnn.keras, weights read
                                 by Keras), 16 training images: BatchNorm in train mode (batch statistics), dropout
                                 off, softmax cross-entropy with label smoothing 0.1 on the logits before fc2's
                                 softmax. Tensors: x [16,8,8,1], y i64 [16], loss [1], grad.<path> for every
                                 trainable parameter in compress's layout (Dense (out, in), Conv2D (out, kh, kw, in)).
  tiny_bert_grads.safetensors    a random 2-layer BERT (hidden 32; layer 0: 2 heads x 16, layer 1: 4 heads x 8; FFN
                                 64; vocab 50; exact GELU; LayerNorm eps 1e-12) built in numpy (seed 0), on three
                                 packed sequences (lengths 5, 9, 3). Loss = MSE(e, target) + mean(1 - cos(e, target))
                                 + 0.5 * MSE(state_1, target_state) with e = L2-normalized mean pooling of the last
                                 hidden states and state_1 the output of layer 0. Tensors: param.<path> (HF paths),
                                 input_ids i64, lengths i64, target_embedding, target_state, loss, grad.<path>.
                                 metadata layer_shapes: JSON of the per-layer widths.
  tiny_bert_attention_kl_grads.safetensors
                                 the same BERT and inputs, plus the MiniLM attention-distribution KL: loss = MSE(e,
                                 target) + mean(1 - cos(e, target)) + 0.7 * KL(t || a_1), where a_1 are layer 1's
                                 attention probabilities (4 heads) and t random teacher distributions (softmax of
                                 N(0, 2^2) logits per row); KL summed over keys, averaged over every (sequence, head,
                                 query) row. target_attention: t per sequence, per head, (l, l) row-major, back to back.
Gradients are float64 in JAX and stored as float32 (safetensors F32), like the parameters.

Rerun: KERAS_BACKEND=jax /opt/compress-tools-venv/bin/python tools/make_grad_goldens.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py
import jax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import save_file

jax.config.update("jax_enable_x64", True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "grads")


def f32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


# MARK: - digits CNN


def cnn_params_from_keras():
    import keras

    model = keras.saving.load_model(os.path.join(ROOT, "Tests", "Fixtures", "keras", "digits_cnn.keras"))
    p = {}
    for layer in model.layers:
        w = [np.asarray(v, dtype=np.float64) for v in layer.get_weights()]
        if isinstance(layer, keras.layers.Conv2D):
            p[layer.name] = {"kernel": w[0], "bias": w[1]}
        elif isinstance(layer, keras.layers.BatchNormalization):
            assert abs(layer.epsilon - 1e-3) < 1e-12
            p[layer.name] = {"gamma": w[0], "beta": w[1]}
        elif isinstance(layer, keras.layers.Dense):
            p[layer.name] = {"kernel": w[0], "bias": w[1]}
    return p


def cnn_loss(p, x, y, smoothing=0.1):
    def conv(h, q):  # NHWC, HWIO, same padding, stride 1
        out = jax.lax.conv_general_dilated(h, q["kernel"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return out + q["bias"]

    def bn(h, q):  # train mode: batch statistics over N, H, W; biased variance
        m = jnp.mean(h, axis=(0, 1, 2))
        v = jnp.mean((h - m) ** 2, axis=(0, 1, 2))
        return (h - m) / jnp.sqrt(v + 1e-3) * q["gamma"] + q["beta"]

    h = jax.nn.relu(bn(conv(x, p["conv1"]), p["bn1"]))
    h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = jax.nn.relu(bn(conv(h, p["conv2"]), p["bn2"]))
    h = h.reshape(h.shape[0], -1)
    h = jax.nn.relu(h @ p["fc1"]["kernel"] + p["fc1"]["bias"])
    logits = h @ p["fc2"]["kernel"] + p["fc2"]["bias"]
    logp = jax.nn.log_softmax(logits, axis=-1)
    q = (1 - smoothing) * jax.nn.one_hot(y, 10) + smoothing / 10
    return -jnp.mean(jnp.sum(q * logp, axis=-1))


def make_cnn():
    with h5py.File(os.path.join(ROOT, "datasets", "digits", "train.h5"), "r") as f:
        x = np.asarray(f["x"][:16], dtype=np.float64)
        y = np.asarray(f["y"][:16], dtype=np.int64)
    p = cnn_params_from_keras()
    loss, g = jax.value_and_grad(cnn_loss)(p, x, y)
    out = {"x": f32(x), "y": y, "loss": f32([loss])}
    for name, q in g.items():
        for k, v in q.items():
            v = np.asarray(v)
            if k == "kernel":
                out[f"grad.{name}.weight"] = f32(v.transpose(3, 0, 1, 2) if v.ndim == 4 else v.T)
            elif k == "bias":
                out[f"grad.{name}.bias"] = f32(v)
            else:
                out[f"grad.{name}.{k}"] = f32(v)
    save_file(out, os.path.join(OUT, "digits_cnn_grads.safetensors"), metadata={"generator": "tools/make_grad_goldens.py"})
    print(f"digits CNN: loss {float(loss):.6f}, {len(out) - 3} gradients")


# MARK: - tiny BERT

HIDDEN, VOCAB, MAXPOS, EPS = 32, 50, 32, 1e-12
SHAPES = [{"heads": 2, "head_size": 16, "intermediate_size": 64}, {"heads": 4, "head_size": 8, "intermediate_size": 64}]
LENGTHS = [5, 9, 3]


def bert_params(rng):
    def normal(*shape, s=0.2):
        return (rng.standard_normal(shape) * s).astype(np.float32).astype(np.float64)

    p = {
        "embeddings.word_embeddings.weight": normal(VOCAB, HIDDEN, s=0.5),
        "embeddings.position_embeddings.weight": normal(MAXPOS, HIDDEN, s=0.5),
        "embeddings.token_type_embeddings.weight": normal(2, HIDDEN, s=0.5),
        "embeddings.LayerNorm.weight": 1 + normal(HIDDEN, s=0.1),
        "embeddings.LayerNorm.bias": normal(HIDDEN, s=0.1),
    }
    for i, s in enumerate(SHAPES):
        a, f, pre = s["heads"] * s["head_size"], s["intermediate_size"], f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            p[pre + f"attention.self.{n}.weight"] = normal(a, HIDDEN)
            p[pre + f"attention.self.{n}.bias"] = normal(a, s=0.1)
        p[pre + "attention.output.dense.weight"] = normal(HIDDEN, a)
        p[pre + "attention.output.dense.bias"] = normal(HIDDEN, s=0.1)
        p[pre + "attention.output.LayerNorm.weight"] = 1 + normal(HIDDEN, s=0.1)
        p[pre + "attention.output.LayerNorm.bias"] = normal(HIDDEN, s=0.1)
        p[pre + "intermediate.dense.weight"] = normal(f, HIDDEN)
        p[pre + "intermediate.dense.bias"] = normal(f, s=0.1)
        p[pre + "output.dense.weight"] = normal(HIDDEN, f)
        p[pre + "output.dense.bias"] = normal(HIDDEN, s=0.1)
        p[pre + "output.LayerNorm.weight"] = 1 + normal(HIDDEN, s=0.1)
        p[pre + "output.LayerNorm.bias"] = normal(HIDDEN, s=0.1)
    return p


def layer_norm(x, w, b):
    m = jnp.mean(x, axis=-1, keepdims=True)
    v = jnp.mean((x - m) ** 2, axis=-1, keepdims=True)
    return (x - m) / jnp.sqrt(v + EPS) * w + b


def bert_forward(p, ids, probs=None):
    """Hidden states after the embeddings and after each layer, on packed sequences (one attention per sequence).
    With a list `probs`, every layer's attention probabilities are appended to it: per sequence, (heads, l, l)."""
    pos = np.concatenate([np.arange(l) for l in LENGTHS])
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][pos]
    x = x + p["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"])
    states = [x]
    starts = np.cumsum([0] + LENGTHS[:-1])
    for i, s in enumerate(SHAPES):
        pre, nh, dh = f"encoder.layer.{i}.", s["heads"], s["head_size"]
        lin = lambda h, n: h @ p[pre + n + ".weight"].T + p[pre + n + ".bias"]
        q, k, v = (lin(x, f"attention.self.{n}") for n in ("query", "key", "value"))
        ctx = []
        for st, l in zip(starts, LENGTHS):
            qs, ks, vs = (t[st:st + l].reshape(l, nh, dh).transpose(1, 0, 2) for t in (q, k, v))
            a = jax.nn.softmax(qs @ ks.transpose(0, 2, 1) / np.sqrt(dh), axis=-1)
            if probs is not None:
                probs.append((i, a))
            ctx.append((a @ vs).transpose(1, 0, 2).reshape(l, nh * dh))
        ctx = jnp.concatenate(ctx)
        a1 = layer_norm(lin(ctx, "attention.output.dense") + x, p[pre + "attention.output.LayerNorm.weight"],
                        p[pre + "attention.output.LayerNorm.bias"])
        mid = jax.nn.gelu(lin(a1, "intermediate.dense"), approximate=False)
        x = layer_norm(lin(mid, "output.dense") + a1, p[pre + "output.LayerNorm.weight"], p[pre + "output.LayerNorm.bias"])
        states.append(x)
    return states


def embedding_loss(states, target):
    """MSE + (1 - cosine) of the L2-normalized mean pooling of the last layer against target (the students' loss)."""
    starts = np.cumsum([0] + LENGTHS[:-1])
    pooled = jnp.stack([jnp.mean(states[-1][st:st + l], axis=0) for st, l in zip(starts, LENGTHS)])
    e = pooled / jnp.maximum(jnp.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
    mse = jnp.mean((e - target) ** 2)
    cos = jnp.sum(e * target, axis=-1) / (jnp.linalg.norm(e, axis=-1) * jnp.linalg.norm(target, axis=-1))
    return mse + jnp.mean(1 - cos)


def save_bert_golden(name, out, p, g):
    """Writes `out` plus every parameter (param.*) and its gradient (grad.*), with the layer shapes as metadata."""
    for k, v in p.items():
        out["param." + k] = f32(v)
    for k, v in g.items():
        out["grad." + k] = f32(v)
    meta = {"generator": "tools/make_grad_goldens.py", "layer_shapes": json.dumps(SHAPES)}
    save_file(out, os.path.join(OUT, name), metadata=meta)


def bert_loss(p, ids, target, target_state):
    states = bert_forward(p, ids)
    hidden = jnp.mean((states[1] - target_state) ** 2)
    return embedding_loss(states, target) + 0.5 * hidden


def make_bert():
    rng = np.random.default_rng(0)
    p = bert_params(rng)
    t = sum(LENGTHS)
    ids = rng.integers(0, VOCAB, size=t).astype(np.int64)
    target = rng.standard_normal((len(LENGTHS), HIDDEN)).astype(np.float32).astype(np.float64)
    target_state = rng.standard_normal((t, HIDDEN)).astype(np.float32).astype(np.float64)
    loss, g = jax.value_and_grad(bert_loss)(p, ids, target, target_state)
    out = {"input_ids": ids, "lengths": np.asarray(LENGTHS, dtype=np.int64), "target_embedding": f32(target),
           "target_state": f32(target_state), "loss": f32([loss])}
    save_bert_golden("tiny_bert_grads.safetensors", out, p, g)
    print(f"tiny BERT: loss {float(loss):.6f}, {len(g)} gradients")


def bert_attention_kl_loss(p, ids, target, target_attention):
    probs = []
    states = bert_forward(p, ids, probs)
    kl, rows = 0.0, 0
    for (layer, a), t in zip([q for q in probs if q[0] == 1], target_attention):
        kl = kl + jnp.sum(t * (jnp.log(t) - jnp.log(a)))
        rows += a.shape[0] * a.shape[1]
    return embedding_loss(states, target) + 0.7 * kl / rows


def make_bert_attention_kl():
    rng = np.random.default_rng(0)
    p = bert_params(rng)
    t = sum(LENGTHS)
    ids = rng.integers(0, VOCAB, size=t).astype(np.int64)
    target = rng.standard_normal((len(LENGTHS), HIDDEN)).astype(np.float32).astype(np.float64)
    heads = SHAPES[1]["heads"]
    target_attention = []
    for l in LENGTHS:
        z = rng.standard_normal((heads, l, l)) * 2
        target_attention.append(np.asarray(jax.nn.softmax(z, axis=-1)).astype(np.float32).astype(np.float64))
    loss, g = jax.value_and_grad(bert_attention_kl_loss)(p, ids, target, target_attention)
    flat = np.concatenate([a.reshape(-1) for a in target_attention])
    out = {"input_ids": ids, "lengths": np.asarray(LENGTHS, dtype=np.int64), "target_embedding": f32(target),
           "target_attention": f32(flat), "loss": f32([loss])}
    save_bert_golden("tiny_bert_attention_kl_grads.safetensors", out, p, g)
    print(f"tiny BERT + attention KL: loss {float(loss):.6f}, {len(g)} gradients")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_cnn()
    make_bert()
    make_bert_attention_kl()
