#!/usr/bin/env python3
"""Golden fixture for structured pruning of all-MiniLM-L6-v2 through the dependency graph: whole layers, attention
heads and FFN neurons chosen by the same importance our `StructuredPruner` uses, deleted, and run in float64 numpy
(the forward of tools/make_pruned_minilm.py).

Steps, each on the result of the one before (per-layer scope; a group of n units keeps floor(n * (1 - ratio)),
lowest scores go, ties to the lower index):
  1. layers, ratio 0.15 (6 → 5), criterion activation = block influence: sum over calibration tokens of
     1 - cos(x_in, x_out) of the layer, divided by the token count (ShortGPT)
  2. heads, ratio 0.25 (12 → 9 per layer), criterion l2: sqrt of the sum of squares of the head's d rows of
     query, key and value weights and its d columns of attention.output.dense.weight (biases are not scored)
  3. FFN neurons, ratio 0.5 (1536 → 768), criterion l1: sum |w| of the neuron's row of intermediate.dense.weight and
     its column of output.dense.weight
Calibration: lines 17..32 of /work/shared/fixtures/minilm/sentences.txt (the file has 24, so 8 sentences);
outputs: lines 1..8 (held out).

Writes Tests/Fixtures/structured-pruning/minilm.safetensors: input_ids [8, L] (right-padded 0), lengths [8],
embeddings [8, 384] (pruned, mean pooled, L2-normalized), and metadata "plan" (kept units per step, and the
block influences under "influence", to see the ranking's margin).

Rerun: /opt/compress-tools-venv/bin/python tools/make_structured_pruning_minilm_ref.py
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_pruned_minilm import SHARED_SENTENCES, layernorm, slice_layer  # noqa: E402
from scipy.special import erf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def keep(s, ratio):
    n = len(s)
    k = int(np.floor(n * (1 - ratio) + 1e-9))
    assert k > 0
    return sorted(int(i) for i in np.argsort(np.asarray(s), kind="stable")[n - k:])


def run(w, layers, ids, eps, influence=None):
    T = len(ids)
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = layernorm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    for li, s in enumerate(layers):
        x0 = x
        nh, d = s["heads"], s["head_size"]
        q, k, v = ((x @ s[m + ".w"].T + s[m + ".b"]).reshape(T, nh, d).transpose(1, 0, 2) for m in ("query", "key", "value"))
        a = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        a = np.exp(a - a.max(-1, keepdims=True))
        ctx = ((a / a.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(T, nh * d)
        x = layernorm(ctx @ s["attn_out.w"].T + s["attn_out.b"] + x, s["attn_ln.w"], s["attn_ln.b"], eps)
        h = x @ s["inter.w"].T + s["inter.b"]
        h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
        x = layernorm(h @ s["out.w"].T + s["out.b"] + x, s["out_ln.w"], s["out_ln.b"], eps)
        if influence is not None:
            cos = (x0 * x).sum(1) / np.maximum(np.linalg.norm(x0, axis=1) * np.linalg.norm(x, axis=1), 1e-12)
            influence[li] += (1 - cos).sum()
    e = x.mean(0)
    return e / max(np.linalg.norm(e), 1e-12)


def main():
    model_dir = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    eps, n_layers, n_heads = cfg["layer_norm_eps"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    d = cfg["hidden_size"] // n_heads
    w = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    sents = [l.rstrip("\r\n") for l in open(SHARED_SENTENCES, encoding="utf-8") if l.strip()]
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=256)
    held = [e.ids for e in tok.encode_batch(sents[:8])]
    calib = [e.ids for e in tok.encode_batch(sents[16:32])]

    full = [slice_layer(w, l, range(n_heads), range(cfg["intermediate_size"]), d) for l in range(n_layers)]
    influence = np.zeros(n_layers)
    for ids in calib:
        run(w, full, np.array(ids), eps, influence)
    influence /= sum(len(c) for c in calib)
    layers_kept = keep(influence, 0.15)
    plan = {"layers": layers_kept, "heads": [], "ffn": []}
    for old in layers_kept:
        p = f"encoder.layer.{old}."
        sq = lambda a: (a ** 2)
        qkv = sum(sq(w[p + f"attention.self.{m}.weight"]).reshape(n_heads, d, -1).sum(axis=(1, 2)) for m in ("query", "key", "value"))
        outp = sq(w[p + "attention.output.dense.weight"]).sum(0).reshape(n_heads, d).sum(1)
        plan["heads"].append(keep(np.sqrt(qkv + outp), 0.25))
        ffn = np.abs(w[p + "intermediate.dense.weight"]).sum(1) + np.abs(w[p + "output.dense.weight"]).sum(0)
        plan["ffn"].append(keep(ffn, 0.5))
    pruned = [slice_layer(w, old, plan["heads"][i], plan["ffn"][i], d) for i, old in enumerate(layers_kept)]
    emb = np.stack([run(w, pruned, np.array(ids), eps) for ids in held])
    lengths = np.array([len(e) for e in held], dtype=np.int64)
    input_ids = np.zeros((len(held), int(lengths.max())), dtype=np.int64)
    for i, e in enumerate(held):
        input_ids[i, : len(e)] = e
    out = os.path.join(ROOT, "Tests", "Fixtures", "structured-pruning", "minilm.safetensors")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    save_file({"input_ids": input_ids, "lengths": lengths, "embeddings": emb.astype(np.float32)}, out,
              # one metadata key: safetensors writes several in a random order (not byte-repeatable)
              metadata={"plan": json.dumps(dict(plan, influence=[round(float(v), 6) for v in influence]))})
    os.chmod(out, 0o644)
    print("block influence", np.round(influence, 5), "kept layers", layers_kept)
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
