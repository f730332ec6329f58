#!/usr/bin/env python3
"""Training-step speed of `compress` against PyTorch and JAX on CPU, same models, batch and threads, in one run.

One step = forward + backward + AdamW (lr 1e-3, weight decay 0.01, betas 0.9/0.999, eps 1e-8, dense over every
parameter, the full 30522-row word-embedding table included) on random data, for the two models of issue 12:

  cnn     Fashion-MNIST CNN: conv3x3x32 (same) + ReLU, maxpool 2, conv3x3x64 (same) + ReLU, maxpool 2, flatten (3136),
          dense 128 + ReLU, dense 10; softmax cross-entropy on 128 random 28x28x1 images.
  minilm  MiniLM-L3-shaped BERT: vocab 30522, hidden 384, 12 heads, FFN 1536 (exact GELU), 3 layers, LayerNorm eps
          1e-12, no pooler; 32 sequences x 24 tokens (no padding); mean pooling, L2 normalization, MSE to a random
          target (the loss TrainingBench uses).

Peers: PyTorch (eager, torch.optim.AdamW with foreach, the default) and JAX (jax.jit of the whole step, params and
optimizer state donated, AdamW written out as in torch). Each (framework, threads) runs in its own process pinned
to `threads` CPUs (sched_setaffinity; XLA sizes its pools from that), with torch.set_num_threads to match; ours
is Benchmarks/TrainingBench (`--ours`, built with COMPRESS_BENCHMARKS=1 swift build -c release --product
TrainingBench). The figure is samples/s from the median step time of --steps timed steps after --warmup steps;
repeats are interleaved (ours, torch, jax, ours, ...) because the host is shared, and the table reports the median
over repeats and ours / the faster peer.

Usage:
  python3 tools/bench_training_peers.py --threads 1,2 --repeats 3 [--ours .build/release/TrainingBench]
      [--frameworks ours,torch,jax] [--models cnn,minilm] [--json out.json] [--markdown out.md]
  python3 tools/bench_training_peers.py --worker torch --model cnn --threads 1 --json -   # one measurement
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.path.join(ROOT, ".build", "release", "TrainingBench")

CNN_BATCH = 128
BERT = dict(vocab=30522, hidden=384, heads=12, ffn=1536, layers=3, positions=512, batch=32, tokens=24)
LR, WD, B1, B2, EPS = 1e-3, 0.01, 0.9, 0.999, 1e-8


def median_step(step, warmup, steps):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# MARK: - PyTorch


def torch_step(model_name, threads):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model_name == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
        x = torch.randn(CNN_BATCH, 1, 28, 28)
        y = torch.arange(CNN_BATCH) % 10
        loss_fn = lambda: F.cross_entropy(model(x), y)
        batch = CNN_BATCH
    else:
        c = BERT
        model = TorchBert(c)
        ids = (torch.arange(c["batch"] * c["tokens"]) * 7919 % c["vocab"]).reshape(c["batch"], c["tokens"])
        target = torch.randn(c["batch"], c["hidden"]) * 0.05
        loss_fn = lambda: F.mse_loss(model(ids), target)
        batch = c["batch"]
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD, betas=(B1, B2), eps=EPS)

    def step():
        opt.zero_grad(set_to_none=False)
        loss_fn().backward()
        opt.step()

    return step, batch, {"torch": torch.__version__}


def _torch_bert_classes():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Layer(nn.Module):
        def __init__(self, c):
            super().__init__()
            h = c["hidden"]
            self.heads = c["heads"]
            self.qkv = nn.Linear(h, 3 * h)
            self.out = nn.Linear(h, h)
            self.ln1 = nn.LayerNorm(h, eps=1e-12)
            self.ff1 = nn.Linear(h, c["ffn"])
            self.ff2 = nn.Linear(c["ffn"], h)
            self.ln2 = nn.LayerNorm(h, eps=1e-12)

        def forward(self, x):
            b, t, h = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, h)
            a = self.ln1(x + self.out(ctx))
            return self.ln2(a + self.ff2(F.gelu(self.ff1(a))))

    class Bert(nn.Module):
        def __init__(self, c):
            super().__init__()
            h = c["hidden"]
            self.word = nn.Embedding(c["vocab"], h)
            self.pos = nn.Embedding(c["positions"], h)
            self.token_type = nn.Embedding(2, h)  # not `type`: nn.Module.type() exists
            self.ln = nn.LayerNorm(h, eps=1e-12)
            self.layers = nn.ModuleList([Layer(c) for _ in range(c["layers"])])

        def forward(self, ids):
            t = ids.shape[1]
            x = self.word(ids) + self.pos.weight[:t] + self.token_type.weight[0]
            x = self.ln(x)
            for layer in self.layers:
                x = layer(x)
            return F.normalize(x.mean(dim=1), dim=-1)

    return Bert


def TorchBert(c):
    return _torch_bert_classes()(c)


# MARK: - JAX


def jax_step(model_name, threads):
    import jax
    import jax.numpy as jnp
    from jax import lax

    key = jax.random.PRNGKey(0)

    def dense(key, fan_in, fan_out):
        return {"w": jax.random.normal(key, (fan_in, fan_out), jnp.float32) / jnp.sqrt(fan_in),
                "b": jnp.zeros((fan_out,), jnp.float32)}

    if model_name == "cnn":
        k = jax.random.split(key, 5)
        params = {
            "conv1": {"w": jax.random.normal(k[0], (3, 3, 1, 32)) / 3.0, "b": jnp.zeros((32,))},
            "conv2": {"w": jax.random.normal(k[1], (3, 3, 32, 64)) / jnp.sqrt(288.0), "b": jnp.zeros((64,))},
            "fc1": dense(k[2], 3136, 128), "fc2": dense(k[3], 128, 10)}
        x = jax.random.normal(k[4], (CNN_BATCH, 28, 28, 1))
        y = jnp.arange(CNN_BATCH) % 10

        def conv(x, p):
            out = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            return jax.nn.relu(out + p["b"])

        def pool(x):
            return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

        def loss(params, x, y):
            h = pool(conv(x, params["conv1"]))
            h = pool(conv(h, params["conv2"])).reshape(x.shape[0], -1)
            h = jax.nn.relu(h @ params["fc1"]["w"] + params["fc1"]["b"])
            logits = h @ params["fc2"]["w"] + params["fc2"]["b"]
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

        inputs = (x, y)
        batch = CNN_BATCH
    else:
        c = BERT
        h, heads = c["hidden"], c["heads"]
        keys = iter(jax.random.split(key, 8 + 8 * c["layers"]))
        ln = lambda: {"g": jnp.ones((h,)), "b": jnp.zeros((h,))}
        params = {"word": jax.random.normal(next(keys), (c["vocab"], h)) * 0.02,
                  "pos": jax.random.normal(next(keys), (c["positions"], h)) * 0.02,
                  "type": jax.random.normal(next(keys), (2, h)) * 0.02, "ln": ln(),
                  "layers": [{"qkv": dense(next(keys), h, 3 * h), "out": dense(next(keys), h, h), "ln1": ln(),
                              "ff1": dense(next(keys), h, c["ffn"]), "ff2": dense(next(keys), c["ffn"], h), "ln2": ln()}
                             for _ in range(c["layers"])]}
        ids = (jnp.arange(c["batch"] * c["tokens"]) * 7919 % c["vocab"]).reshape(c["batch"], c["tokens"])
        target = jax.random.normal(next(keys), (c["batch"], h)) * 0.05

        def layernorm(x, p):
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            return (x - mu) * lax.rsqrt(var + 1e-12) * p["g"] + p["b"]

        def lin(x, p):
            return x @ p["w"] + p["b"]

        def loss(params, ids, target):
            b, t = ids.shape
            x = layernorm(params["word"][ids] + params["pos"][:t] + params["type"][0], params["ln"])
            for p in params["layers"]:
                q, k, v = jnp.split(lin(x, p["qkv"]).reshape(b, t, 3 * heads, h // heads), 3, axis=2)
                s = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(h / heads)
                ctx = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(s, axis=-1), v).reshape(b, t, h)
                a = layernorm(x + lin(ctx, p["out"]), p["ln1"])
                x = layernorm(a + lin(jax.nn.gelu(lin(a, p["ff1"]), approximate=False), p["ff2"]), p["ln2"])
            e = x.mean(1)
            e = e / jnp.maximum(jnp.linalg.norm(e, axis=-1, keepdims=True), 1e-12)
            return jnp.mean((e - target) ** 2)

        inputs = (ids, target)
        batch = c["batch"]

    # AdamW as torch.optim.AdamW: p ← p·(1 − lr·wd), then the Adam update with bias corrections (every parameter
    # decayed, as torch does with a single parameter group).
    def adamw(p, g, m, v, t):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        mhat = m / (1 - B1 ** t)
        vhat = v / (1 - B2 ** t)
        return p * (1 - LR * WD) - LR * mhat / (jnp.sqrt(vhat) + EPS), m, v

    def train_step(params, m, v, t, *inputs):
        grads = jax.grad(loss)(params, *inputs)
        out = jax.tree_util.tree_map(lambda p, g, mm, vv: adamw(p, g, mm, vv, t), params, grads, m, v)
        istuple = lambda x: isinstance(x, tuple)
        params = jax.tree_util.tree_map(lambda o: o[0], out, is_leaf=istuple)
        m = jax.tree_util.tree_map(lambda o: o[1], out, is_leaf=istuple)
        v = jax.tree_util.tree_map(lambda o: o[2], out, is_leaf=istuple)
        return params, m, v

    train_step = jax.jit(train_step, donate_argnums=(0, 1, 2))
    state = {"p": params, "m": jax.tree_util.tree_map(jnp.zeros_like, params),
             "v": jax.tree_util.tree_map(jnp.zeros_like, params), "t": 0}

    def step():
        state["t"] += 1
        p, m, v = train_step(state["p"], state["m"], state["v"], jnp.float32(state["t"]), *inputs)
        jax.block_until_ready(p)
        state["p"], state["m"], state["v"] = p, m, v

    return step, batch, {"jax": jax.__version__}


# MARK: - processes


def pin(threads):
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < threads:
        sys.exit(f"asked for {threads} threads but only CPUs {cpus} are available")
    os.sched_setaffinity(0, cpus[:threads])


def worker(args):
    pin(args.threads)
    if args.worker == "jax":
        # Before jax is imported. XLA sizes its CPU thread pools from the CPUs this process may run on, so the
        # affinity set by pin() is what limits it to `threads`; one thread also turns Eigen's pool off.
        os.environ["JAX_PLATFORMS"] = "cpu"
        if args.threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
        step, batch, versions = jax_step(args.model, args.threads)
    else:
        step, batch, versions = torch_step(args.model, args.threads)
    seconds = median_step(step, args.warmup, args.steps)
    result = {"framework": args.worker, "model": args.model, "threads": args.threads, "batch": batch,
              "median_step_ms": seconds * 1e3, "samples_per_s": batch / seconds, "steps": args.steps,
              "warmup": args.warmup, "versions": versions}
    out = json.dumps(result)
    if args.json and args.json != "-":
        with open(args.json, "w") as f:
            f.write(out + "\n")
    print(out)


def run_peer(framework, model, threads, steps, warmup):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", framework, "--model", model,
                          "--threads", str(threads), "--steps", str(steps), "--warmup", str(warmup)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{framework} {model} threads {threads} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ours(binary, threads, steps):
    # Pinned like the peers (same CPUs, same count).
    out = subprocess.run([binary, "--threads", str(threads), "--steps", str(steps), "--json"], check=True,
                         capture_output=True, text=True, preexec_fn=lambda: pin(threads))
    return {r["model"]: r for r in (json.loads(l) for l in out.stdout.splitlines() if l.startswith("{"))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=["torch", "jax"], help="measure one framework in this process")
    ap.add_argument("--model", default="cnn", choices=["cnn", "minilm"])
    ap.add_argument("--models", default="cnn,minilm")
    ap.add_argument("--frameworks", default="ours,torch,jax")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ours", default=OURS, help="TrainingBench binary")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    if args.worker:
        args.threads = int(args.threads)
        return worker(args)

    models = args.models.split(",")
    frameworks = args.frameworks.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    if "ours" in frameworks and not os.access(args.ours, os.X_OK):
        sys.exit(f"{args.ours}: not built (COMPRESS_BENCHMARKS=1 swift build -c release --product TrainingBench)")
    samples = {}  # (framework, model, threads) -> [samples/s]
    versions = {}
    for rep in range(args.repeats):
        for t in threads:
            for fw in frameworks:
                if fw == "ours":
                    res = run_ours(args.ours, t, args.steps)
                    for m in models:
                        samples.setdefault((fw, m, t), []).append(res[m]["samples_per_s"])
                    continue
                for m in models:
                    r = run_peer(fw, m, t, args.steps, args.warmup)
                    if r is None:
                        continue
                    versions.update(r["versions"])
                    samples.setdefault((fw, m, t), []).append(r["samples_per_s"])
            print(f"repeat {rep + 1}/{args.repeats} threads {t} done", file=sys.stderr)

    rows = []
    for m in models:
        for t in threads:
            med = {fw: statistics.median(samples[(fw, m, t)]) for fw in frameworks if (fw, m, t) in samples}
            peers = {fw: s for fw, s in med.items() if fw != "ours"}
            best = max(peers, key=peers.get) if peers else None
            row = {"model": m, "threads": t, "samples_per_s": med, "all": {fw: samples[(fw, m, t)] for fw in med}}
            if best and "ours" in med:
                row["faster_peer"] = best
                row["ratio_vs_faster_peer"] = med["ours"] / peers[best]
            rows.append(row)

    lines = ["| model | threads | " + " | ".join(frameworks) + " | ours / faster peer |",
             "|---|---:|" + "---:|" * len(frameworks) + "---:|"]
    for r in rows:
        cells = [f"{r['samples_per_s'][fw]:,.0f}" if fw in r["samples_per_s"] else "—" for fw in frameworks]
        ratio = f"{r['ratio_vs_faster_peer']:.2f}× ({r['faster_peer']})" if "faster_peer" in r else "—"
        lines.append(f"| {r['model']} | {r['threads']} | " + " | ".join(cells) + f" | {ratio} |")
    table = "\n".join(lines)
    print(table)
    report = {"rows": rows, "versions": versions, "repeats": args.repeats, "steps": args.steps, "warmup": args.warmup,
              "unit": "samples/s, median over repeats of batch / median step time"}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
