#!/usr/bin/env python3
"""Golden fixture for BERT with per-layer widths: all-MiniLM-L6-v2 with some attention heads and FFN
neurons removed, run in float64 numpy.

Pruning plan (fixed counts per layer, see PLAN below; one layer keeps a single head, one keeps an FFN width
that is not a multiple of 4/8/16/32, to hit kernel tails). WHICH heads/neurons are kept is decided by a
simple importance score: a head's score is the L2 norm of its d (= 32) rows of attention.self.query.weight, an FFN
neuron's score is the L2 norm of its row of intermediate.dense.weight. The top-k are kept and their indices
are stored sorted ascending. Ties are broken by a seeded numpy RNG (SEED, recorded in plan.json); with real
float weights no tie occurs, so the plan depends only on the weights.

Head size d = hidden_size / num_attention_heads = 384 / 12 = 32 for MiniLM-L6 (not 64). Slicing (PyTorch
(out, in) layout), per layer l with kept heads H and kept neurons F:
  attention.self.{query,key,value}.{weight,bias}  keep rows  h*d .. h*d+d-1 for h in H (in order)
  attention.output.dense.weight                   keep the same columns; its bias is unchanged
  intermediate.dense.{weight,bias}                keep rows F
  output.dense.weight                             keep columns F; its bias is unchanged
Everything else (embeddings, LayerNorms) is untouched. The forward pass is the usual BERT: word + position
+ token_type[0] embeddings, LayerNorm (eps 1e-12); per layer attention with that layer's head count and
scale 1/sqrt(d), softmax, output dense + residual + LayerNorm, FFN with exact (erf) GELU, output dense +
residual + LayerNorm; then mean pooling over the real tokens and L2 normalization. Each sentence is run on
its own (no padding inside the model).

Inputs: the first 16 lines of /work/shared/fixtures/minilm/sentences.txt, tokenized with `tokenizers` from
the model's tokenizer.json, truncation 256 (sentence-transformers' max_seq_length), no padding.

Writes (into --out; both small, consumed by the Swift golden test for BERT per-layer widths, which slices
the same tensors from the real model by these indices and compares its embeddings with ours):
  plan.json                {"seed", "source_sha256" (of model.safetensors), "head_size": 32,
                            "sentences", "layers": [{"heads_kept": [...], "ffn_kept": [...]}, ...]}
  reference.safetensors    input_ids [N, L] int64 right-padded with 0, lengths [N] int64,
                           embeddings [N, 384] float32 (pruned model, L2-normalized),
                           unpruned_embeddings [N, 384] float32 (same code, nothing pruned)

Checks (exits non-zero on failure): the token ids equal those in the shared reference
/work/shared/fixtures/minilm/reference.safetensors (made by the peers' minilm_ref.py; override the path with
MINILM_REFERENCE), and the unpruned embeddings match its `embeddings` within 1e-5.

Needs numpy, scipy, safetensors and tokenizers (the tools venv, see tools/requirements.txt, or
/opt/peers-venv from /work/shared/peers/setup.sh; both pin numpy 2.4.6, scipy 1.17.1, safetensors 0.8.0,
tokenizers 0.23.3).

Usage (from the repo root):
  python tools/make_pruned_minilm.py --model-dir models/all-MiniLM-L6-v2 --out Tests/Fixtures/pruned-minilm
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file, save_file
from scipy.special import erf
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_SENTENCES = "/work/shared/fixtures/minilm/sentences.txt"
SHARED_REF = os.environ.get("MINILM_REFERENCE", "/work/shared/fixtures/minilm/reference.safetensors")
SEED = 20260
N_SENTENCES = 16
MAX_LENGTH = 256
# (heads kept, FFN neurons kept) per layer; the full model is 12 heads, 1536 neurons.
PLAN = [(12, 1536), (8, 768), (4, 1536), (12, 384), (1, 1003), (6, 768)]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def top_k_sorted(scores, k, rng):
    """Indices of the k largest scores (ties broken by a random key), sorted ascending."""
    order = np.lexsort((rng.random(len(scores)), -scores))  # last key is primary
    return sorted(int(i) for i in order[:k])


def make_plan(w, n_layers, n_heads, head_size, rng):
    layers = []
    for l, (nh, nf) in enumerate(PLAN[:n_layers]):
        p = f"encoder.layer.{l}."
        q = w[p + "attention.self.query.weight"].reshape(n_heads, head_size, -1)
        head_score = np.sqrt((q**2).sum(axis=(1, 2)))
        ffn_score = np.linalg.norm(w[p + "intermediate.dense.weight"], axis=1)
        layers.append({"heads_kept": top_k_sorted(head_score, nh, rng), "ffn_kept": top_k_sorted(ffn_score, nf, rng)})
    return layers


def slice_layer(w, l, heads, ffn, head_size):
    """The layer's weights with only the kept heads / neurons (PyTorch (out, in) layout)."""
    p = f"encoder.layer.{l}."
    rows = np.concatenate([np.arange(h * head_size, (h + 1) * head_size) for h in heads])
    ffn = np.asarray(ffn)
    s = {}
    for m in ("query", "key", "value"):
        s[m + ".w"] = w[p + f"attention.self.{m}.weight"][rows]
        s[m + ".b"] = w[p + f"attention.self.{m}.bias"][rows]
    s["attn_out.w"] = w[p + "attention.output.dense.weight"][:, rows]
    s["attn_out.b"] = w[p + "attention.output.dense.bias"]
    s["attn_ln.w"], s["attn_ln.b"] = w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]
    s["inter.w"] = w[p + "intermediate.dense.weight"][ffn]
    s["inter.b"] = w[p + "intermediate.dense.bias"][ffn]
    s["out.w"] = w[p + "output.dense.weight"][:, ffn]
    s["out.b"] = w[p + "output.dense.bias"]
    s["out_ln.w"], s["out_ln.b"] = w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
    s["heads"], s["head_size"] = len(heads), head_size
    return s


def layernorm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def embed(w, layers, ids, eps):
    """L2-normalized mean-pooled embedding [384] of one unpadded sentence (ids [T])."""
    T = len(ids)
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = layernorm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    for s in layers:
        nh, d = s["heads"], s["head_size"]
        q, k, v = ((x @ s[m + ".w"].T + s[m + ".b"]).reshape(T, nh, d).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        a = q @ k.transpose(0, 2, 1) / np.sqrt(d)  # [nh, T, T]
        a = np.exp(a - a.max(-1, keepdims=True))
        ctx = ((a / a.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(T, nh * d)
        x = layernorm(ctx @ s["attn_out.w"].T + s["attn_out.b"] + x, s["attn_ln.w"], s["attn_ln.b"], eps)
        h = x @ s["inter.w"].T + s["inter.b"]
        h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
        x = layernorm(h @ s["out.w"].T + s["out.b"] + x, s["out_ln.w"], s["out_ln.b"], eps)
    e = x.mean(0)
    return e / max(np.linalg.norm(e), 1e-12)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests", "Fixtures", "pruned-minilm"))
    ap.add_argument("--sentences", default=SHARED_SENTENCES)
    args = ap.parse_args()

    cfg = json.load(open(os.path.join(args.model_dir, "config.json")))
    assert cfg["hidden_act"] == "gelu" and cfg["position_embedding_type"] == "absolute", cfg
    hidden, n_layers, n_heads, eps = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    head_size = hidden // n_heads
    assert hidden == n_heads * head_size and len(PLAN) == n_layers, cfg
    st_path = os.path.join(args.model_dir, "model.safetensors")
    digest = sha256(st_path)
    w = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in load_file(st_path).items()}

    # Tokens: sentence-transformers settings (truncation at max_seq_length 256, no padding).
    with open(args.sentences, encoding="utf-8") as f:
        sents = [l.rstrip("\r\n") for l in f if l.strip()][:N_SENTENCES]
    tok = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_LENGTH)
    encs = [e.ids for e in tok.encode_batch(sents)]
    lengths = np.array([len(e) for e in encs], dtype=np.int64)
    input_ids = np.zeros((len(encs), int(lengths.max())), dtype=np.int64)
    for i, e in enumerate(encs):
        input_ids[i, : len(e)] = e

    ref = load_file(SHARED_REF)
    n, L = input_ids.shape
    if not (np.array_equal(ref["lengths"][:n], lengths) and np.array_equal(ref["input_ids"][:n, :L], input_ids)
            and not ref["input_ids"][:n, L:].any()):
        sys.exit(f"token ids differ from {SHARED_REF}")

    rng = np.random.default_rng(SEED)
    plan = make_plan(w, n_layers, n_heads, head_size, rng)
    full = [slice_layer(w, l, range(n_heads), range(cfg["intermediate_size"]), head_size) for l in range(n_layers)]
    pruned = [slice_layer(w, l, p["heads_kept"], p["ffn_kept"], head_size) for l, p in enumerate(plan)]
    unpruned_emb = np.stack([embed(w, full, np.array(e), eps) for e in encs])
    emb = np.stack([embed(w, pruned, np.array(e), eps) for e in encs])

    sanity = float(np.abs(unpruned_emb - ref["embeddings"][:n].astype(np.float64)).max())
    if not sanity < 1e-5:
        sys.exit(f"unpruned embeddings differ from {SHARED_REF} by {sanity:.3g} (> 1e-5)")

    os.makedirs(args.out, exist_ok=True)
    plan_doc = {"seed": SEED, "source_sha256": digest, "head_size": head_size, "sentences": n, "layers": plan}
    with open(os.path.join(args.out, "plan.json"), "w") as f:
        # one layer per line keeps the file diffable without spreading 6000 indices over 6000 lines
        f.write("{\n" + "".join(f'  "{k}": {json.dumps(v)},\n' for k, v in plan_doc.items() if k != "layers"))
        f.write('  "layers": [\n' + ",\n".join("    " + json.dumps(p) for p in plan) + "\n  ]\n}\n")
    assert json.load(open(os.path.join(args.out, "plan.json"))) == plan_doc
    save_file({"input_ids": input_ids, "lengths": lengths, "embeddings": emb.astype(np.float32),
               "unpruned_embeddings": unpruned_emb.astype(np.float32)},
              os.path.join(args.out, "reference.safetensors"),
              # one metadata key only: safetensors writes several in a random order (not byte-repeatable)
              metadata={"description": f"all-MiniLM-L6-v2 pruned per plan.json; first {n} lines of sentences.txt, "
                        f"truncation {MAX_LENGTH}; mean pooling over real tokens + L2 norm; float64, stored as float32"})
    os.chmod(os.path.join(args.out, "reference.safetensors"), 0o644)  # safetensors creates it 0600

    for l, p in enumerate(plan):
        print(f"layer {l}: {len(p['heads_kept']):2d} heads {p['heads_kept']}, FFN {len(p['ffn_kept'])}")
    cos = (emb * unpruned_emb).sum(1)
    print(f"{n} sentences, {lengths.min()}..{lengths.max()} tokens; cosine(pruned, unpruned) mean {cos.mean():.4f} min {cos.min():.4f}")
    print(f"unpruned vs shared reference embeddings: max abs diff {sanity:.3g}")
    for name in ("plan.json", "reference.safetensors"):
        print(f"wrote {os.path.join(args.out, name)} ({os.path.getsize(os.path.join(args.out, name))} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
