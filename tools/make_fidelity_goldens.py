"""Reference values for the embedding-fidelity metrics of Sources/Evaluation/Fidelity.swift, computed with numpy and
scipy (float64), so the Swift code is checked against independent implementations.

Writes Tests/Fixtures/fidelity/embedding_metrics.safetensors:
  a, b             f32 [60, 24]: b = a + noise (seed 0), like a student's embeddings next to its teacher's; rows
                   58, 59 of b are exact copies of row 0 of b, so the pairwise similarities have ties (never at a
                   top-5 boundary: the copies are each other's nearest neighbours)
  cosine_mean      f32 [1]: mean row-wise cosine(a_i, b_i)
  top5_overlap     f32 [1]: mean over rows of |top5_a(i) ∩ top5_b(i)| / 5, neighbours by cosine excluding i itself
  spearman         f32 [1]: scipy.stats.spearmanr of the upper-triangle (i < j) pairwise cosines of a against b's
                   (average ranks for ties)

Rerun: /opt/compress-tools-venv/bin/python tools/make_fidelity_goldens.py
"""
import os

import numpy as np
from safetensors.numpy import save_file
from scipy.stats import spearmanr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "fidelity", "embedding_metrics.safetensors")


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def main():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 24)).astype(np.float32)
    b = (a + 0.6 * rng.standard_normal((60, 24))).astype(np.float32)
    b[58:] = b[0]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cos = np.sum(unit(a64) * unit(b64), axis=1)
    sa, sb = unit(a64) @ unit(a64).T, unit(b64) @ unit(b64).T
    n = a.shape[0]
    overlap = []
    for i in range(n):
        # Stable order on ties (lower index first), as the Swift code's sort; the copied rows make ties in b.
        def top(s):
            cand = [j for j in range(n) if j != i]
            return set(sorted(cand, key=lambda j: (-s[i, j], j))[:5])
        overlap.append(len(top(sa) & top(sb)) / 5)
    iu = np.triu_indices(n, k=1)
    rho = spearmanr(sa[iu], sb[iu]).statistic
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file({"a": a, "b": b, "cosine_mean": np.array([cos.mean()], dtype=np.float32),
               "top5_overlap": np.array([np.mean(overlap)], dtype=np.float32),
               "spearman": np.array([rho], dtype=np.float32)}, OUT)
    print(f"cosine_mean {cos.mean():.6f} top5_overlap {np.mean(overlap):.4f} spearman {rho:.6f} -> {OUT}")


if __name__ == "__main__":
    main()
