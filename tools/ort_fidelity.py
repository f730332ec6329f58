#!/usr/bin/env python3
"""Fidelity of ONNX Runtime's int8 MiniLM models to ORT fp32 on our corpus, with the metrics `compress eval` uses
(cosine mean/min, top-5 nearest-neighbour overlap), for the W8A8 comparison in BENCHMARKS.md.

Needs the peer's venv and models (../shared/peers/setup.sh, build_minilm_onnx.py); measurement only.
Usage: /opt/peers-venv/bin/python tools/ort_fidelity.py [--cache ~/.cache/peers/minilm] [--model-dir models/all-MiniLM-L6-v2]
"""
import argparse
import json
import os

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sentences():
    out = [l.rstrip("\n") for l in open(os.path.join(ROOT, "datasets/text/eval.txt"), encoding="utf-8") if l.strip()]
    for line in open(os.path.join(ROOT, "datasets/text/pairs.tsv"), encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 3:
            out += parts[1:]
    return out


def embed(path, tok, texts):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rows = []
    for t in texts:
        e = tok.encode(t)
        ids = np.array([e.ids], dtype=np.int64)
        rows.append(sess.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
    return np.array(rows, dtype=np.float64)


def top5(e):
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    s = e @ e.T
    np.fill_diagonal(s, -np.inf)
    return np.argsort(-s, axis=1, kind="stable")[:, :5]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/peers/minilm"))
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "models/all-MiniLM-L6-v2"))
    a = ap.parse_args()
    tok = Tokenizer.from_file(os.path.join(a.model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=json.load(open(os.path.join(a.model_dir, "sentence_bert_config.json")))["max_seq_length"])
    texts = sentences()
    ref = embed(os.path.join(a.cache, "minilm_fp32.onnx"), tok, texts)
    for name in ["int8_per_channel", "int8_per_tensor"]:
        q = embed(os.path.join(a.cache, f"minilm_{name}.onnx"), tok, texts)
        cos = (q * ref).sum(1) / (np.linalg.norm(q, axis=1) * np.linalg.norm(ref, axis=1))
        # top-5 overlap on the first 500 (eval.txt) and the pair sentences separately, averaged like compress eval
        n = 500
        ov = []
        for sl in (slice(0, n), slice(n, len(texts))):
            a5, b5 = top5(q[sl]), top5(ref[sl])
            ov.append(np.mean([len(set(x) & set(y)) / 5 for x, y in zip(a5, b5)]))
        print(f"ORT {name} vs ORT fp32 on {len(texts)} sentences: cosine mean {cos.mean():.6f} min {cos.min():.6f} top-5 overlap {np.mean(ov):.4f}")


if __name__ == "__main__":
    main()
