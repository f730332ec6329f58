#!/usr/bin/env python3
"""Runs the `compress` CLI on a few hundred malformed inputs, as a new user might produce them, and classifies
each outcome (issue 7):

  clean    non-zero exit with exactly one stderr line `compress: error: ...` that names no internals
  leaky    a clean exit, but the message leaks internals (NSCocoaErrorDomain, EncodingError, DecodingError, ...)
  accepted exit 0 (listed: a malformed input that is accepted is a finding unless the probe is marked as valid)
  valid    exit 0 on a probe that is well formed after all (marked where it is generated, with the reason)
  warned   exit 0 with a `compress: warning:` line (NaN inputs give NaN outputs: reported, not refused)
  crash    killed by a signal (trap, abort, segfault)
  hang     still running after --timeout seconds
  partial  a write left something behind: the output file after an error, or a `.tmp-*` / `.old-*` sibling

Usage: tools/probe_bad_inputs.py [--bin .build/release/compress] [--json out.json] [--timeout 60]
Needs numpy and h5py (the tools venv: /opt/compress-tools-venv/bin/python) and the MiniLM folder under models/.
Everything is written under a fresh temporary directory, removed at the end.
"""
import argparse
import collections
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import h5py
import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MINILM = os.path.join(REPO, "models/all-MiniLM-L6-v2")
MLP = os.path.join(REPO, "Tests/Fixtures/mlp/digits_mlp")
KERAS = os.path.join(REPO, "Tests/Fixtures/keras/digits_cnn")
LEAKS = ["NSCocoaErrorDomain", "EncodingError", "DecodingError", "Swift.", "Fatal error", "Code=", "_NS", "CocoaError"]


def safetensors_bytes(tensors, metadata=None, header_override=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, arr in tensors.items():
        raw = arr.tobytes()
        dtype = {"float32": "F32", "int8": "I8", "int32": "I32", "int64": "I64", "uint8": "U8", "float16": "F16"}[str(arr.dtype)]
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = (header_override if header_override is not None else json.dumps(header)).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8 : 8 + n])
    out, meta = {}, header.pop("__metadata__", None)
    np_types = {"F32": np.float32, "I8": np.int8, "I32": np.int32, "I64": np.int64, "U8": np.uint8, "F16": np.float16}
    for k, v in header.items():
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s : 8 + n + e], dtype=np_types[v["dtype"]]).reshape(v["shape"]).copy()
    return out, meta


class Prober:
    def __init__(self, binary, timeout, work):
        self.binary, self.timeout, self.work = binary, timeout, work
        self.results = []
        self.counter = 0

    def path(self, name):
        self.counter += 1
        d = os.path.join(self.work, f"p{self.counter:04d}")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, name)

    def run(self, category, name, args, outputs=(), valid=False):
        """Runs `compress args`; `outputs` are paths a failing command must not leave behind (nor temp siblings)."""
        try:
            # The HDF5 watchdog (default 120 s) turns libhdf5's infinite loops into errors; 10 s keeps the probe short.
            p = subprocess.run([self.binary] + args, cwd=REPO, capture_output=True, timeout=self.timeout,
                               env=dict(os.environ, COMPRESS_PROGRESS="0", COMPRESS_HDF5_TIMEOUT="10"))
            rc, err = p.returncode, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            rc, err = None, ""
        lines = [l for l in err.splitlines() if l.strip() and not l.startswith("compress: warning:")]
        if rc is None:
            outcome = "hang"
        elif rc < 0 or rc >= 128:
            outcome = "crash"
        elif rc == 0 or (rc == 2 and args[0] == "run"):  # run: 2 = constraints failed, the run itself completed
            outcome = "warned" if "compress: warning:" in err else "accepted"
        elif len(lines) == 1 and lines[0].startswith("compress: error:") or (len(lines) >= 1 and lines[0].startswith("Error:")):
            outcome = "leaky" if any(k in err for k in LEAKS) else "clean"
        else:
            outcome = "unclear"
        partial = False
        for out in outputs:
            parent, base = os.path.dirname(out), os.path.basename(out)
            if os.path.isdir(parent):
                if any(n.startswith(f".{base}.tmp-") or n.startswith(f".{base}.old-") for n in os.listdir(parent)):
                    partial = True
            if outcome not in ("accepted", "warned") and os.path.exists(out):
                partial = True
        if partial:
            outcome = "partial"
        elif outcome == "accepted" and valid:
            outcome = "valid"  # a well-formed input among the probes (documented at the probe)
        self.results.append({"category": category, "name": name, "outcome": outcome, "valid": valid, "rc": rc,
                             "stderr": err.strip()[:300]})

    # MARK: - Generators

    def safetensors(self):
        """Header and offset corruptions of an MLP's weights (with its architecture JSON next to it)."""
        tensors, meta = read_safetensors(MLP + ".safetensors")
        good = safetensors_bytes(tensors, meta)
        n = struct.unpack("<Q", good[:8])[0]
        cases = {}
        for cut in [0, 3, 7, 8, 12, n // 2, n + 7, n + 8, n + 100, len(good) - 1]:
            cases[f"truncated at {cut}"] = good[:cut]
        for v in [0, 1, n - 1, n + 1, len(good), 2**40, 2**63, 2**64 - 1]:
            cases[f"header length {v}"] = struct.pack("<Q", v) + good[8:]
        header = json.loads(good[8:8 + n])
        def variant(label, edit):
            h = json.loads(json.dumps(header))
            edit(h)
            cases[label] = struct.pack("<Q", 0) and None
            body = json.dumps(h).encode()
            body += b" " * ((8 - len(body) % 8) % 8)
            cases[label] = struct.pack("<Q", len(body)) + body + good[8 + n:]
        first = sorted(k for k in header if k != "__metadata__")[0]
        for dt in ["F64", "Q4", "", 7, None]:
            variant(f"dtype {dt!r}", lambda h, dt=dt: h[first].__setitem__("dtype", dt))
        for shape in [[-1, 64], [2**62, 2**62], [2**40], "x", [1.5], [], [0], None]:
            variant(f"shape {shape}", lambda h, s=shape: h[first].__setitem__("shape", s))
        for offs in [[-4, 0], [10, 5], [0, 2**40], [0], "x", [0, 1.5], None]:
            variant(f"offsets {offs}", lambda h, o=offs: h[first].__setitem__("data_offsets", o))
        others = sorted(k for k in header if k not in ("__metadata__", first))
        variant("overlapping tensors", lambda h: h[others[0]].__setitem__("data_offsets", h[first]["data_offsets"]) if h[others[0]]["dtype"] == h[first]["dtype"] and h[others[0]]["shape"] == h[first]["shape"] else h[others[0]].__setitem__("data_offsets", [0, (h[others[0]]["data_offsets"][1] - h[others[0]]["data_offsets"][0])]))
        variant("metadata not strings", lambda h: h.__setitem__("__metadata__", {"a": 1}))
        variant("metadata a list", lambda h: h.__setitem__("__metadata__", [1]))
        variant("tensor entry a string", lambda h: h.__setitem__(first, "x"))
        variant("missing tensor", lambda h: h.pop(first))
        variant("extra tensor", lambda h: h.__setitem__("zzz.weight", dict(h[first])))
        variant("renamed tensor", lambda h: h.__setitem__("fc9.weight", h.pop(first)))
        for label, text in [("header not JSON", "{not json"), ("header a list", "[1,2]"), ("header empty", ""),
                            ("header null", "null"), ("header binary", "\x00\x01\x02"),
                            ("duplicate key", "{" + f'"{first}":' + json.dumps(header[first]) + "," + json.dumps(header)[1:])]:
            body = text.encode()
            cases[label] = struct.pack("<Q", len(body)) + body + good[8 + n:]
        cases["random bytes"] = os.urandom(4096)
        cases["zeros"] = bytes(4096)
        for label, data in cases.items():
            p = self.path("mlp.safetensors")
            open(p, "wb").write(data)
            shutil.copy(MLP + ".json", p[:-len(".safetensors")] + ".json")
            out = os.path.join(os.path.dirname(p), "out.safetensors")
            self.run("safetensors", label, ["predict", p, "--input", "datasets/digits/test.h5", "--output", out], [out])
        # Non-finite weights.
        for v in [np.nan, np.inf, -np.inf]:
            t = dict(tensors)
            w = t[first].copy(); w.flat[3] = v; t[first] = w
            p = self.path("mlp.safetensors")
            open(p, "wb").write(safetensors_bytes(t, meta))
            shutil.copy(MLP + ".json", p[:-len(".safetensors")] + ".json")
            out = os.path.join(os.path.dirname(p), "out.safetensors")
            self.run("non-finite", f"weight {v}", ["predict", p, "--input", "datasets/digits/test.h5", "--output", out], [out])
        # MLP architecture JSON.
        arch = json.load(open(MLP + ".json"))
        for label, edit in [
            ("arch not JSON", lambda a: "{"), ("arch input_shape negative", lambda a: {**a, "input_shape": [-8, 8, 1]}),
            ("arch input_shape huge", lambda a: {**a, "input_shape": [100000, 100000, 1]}),
            ("arch outFeatures 0", lambda a: {**a, "layers": [a["layers"][0], {**a["layers"][1], "outFeatures": 0}] + a["layers"][2:]}),
            ("arch outFeatures negative", lambda a: {**a, "layers": [a["layers"][0], {**a["layers"][1], "outFeatures": -5}] + a["layers"][2:]}),
            ("arch unknown layer", lambda a: {**a, "layers": [{"type": "lstm", "name": "x"}] + a["layers"]}),
            ("arch duplicate names", lambda a: {**a, "layers": a["layers"] + [a["layers"][-1]]}),
            ("arch missing layers", lambda a: {"input_shape": a["input_shape"]}),
            ("arch activation unknown", lambda a: {**a, "layers": [a["layers"][0], {**a["layers"][1], "activation": "swish"}] + a["layers"][2:]}),
            ("arch empty", lambda a: {}),
        ]:
            p = self.path("mlp.safetensors")
            shutil.copy(MLP + ".safetensors", p)
            value = edit(arch)
            open(p[:-len(".safetensors")] + ".json", "w").write(value if isinstance(value, str) else json.dumps(value))
            self.run("mlp-arch", label, ["inspect", p])

    def keras(self):
        for ext in ["h5", "keras"]:
            good = open(f"{KERAS}.{ext}", "rb").read()
            cases = {f"truncated {f}": good[: int(len(good) * f)] for f in [0, 0.01, 0.1, 0.5, 0.9, 0.999]}
            rng = np.random.default_rng(7)
            for i in range(8):
                b = bytearray(good)
                for j in rng.integers(0, len(b), 16):
                    b[j] ^= 0xFF
                cases[f"16 flipped bytes #{i}"] = bytes(b)
            cases["empty"] = b""
            if ext == "h5":  # found by the fuzzer: libhdf5 loops forever reading this file's model_config
                cases["fuzz: corrupted global heap"] = open(os.path.join(REPO, "Tests/Fixtures/fuzz/keras-h5-global-heap-hang.h5"), "rb").read()
            cases["text"] = b"not a model\n"
            for label, data in cases.items():
                p = self.path(f"m.{ext}")
                open(p, "wb").write(data)
                # Flips that land in weight values make a different but well-formed model (HDF5 and zip stored
                # entries carry no checksum we could check): accepting those is correct.
                self.run(f"keras-{ext}", label, ["inspect", p], valid="flipped" in label)
        # .keras configs edited inside the zip.
        with zipfile.ZipFile(KERAS + ".keras") as z:
            members = [(item, z.read(item.filename)) for item in z.infolist()]
        config = json.loads(dict((i.filename, b) for i, b in members)["config.json"])
        layers = config["config"]["layers"]
        def edit_layer(i, key, value):
            def f(c):
                c["config"]["layers"][i]["config"][key] = value
            return f
        input_index = next(i for i, l in enumerate(layers) if l["class_name"] == "InputLayer")
        dense_index = next(i for i, l in enumerate(layers) if l["class_name"] == "Dense")
        conv_index = next(i for i, l in enumerate(layers) if l["class_name"] == "Conv2D")
        edits = {
            "batch_shape huge": edit_layer(input_index, "batch_shape", [None, 100000, 100000, 1]),
            "batch_shape overflow": edit_layer(input_index, "batch_shape", [None, 2**40, 2**40, 2**40]),
            "batch_shape negative": edit_layer(input_index, "batch_shape", [None, -8, 8, 1]),
            "batch_shape zero": edit_layer(input_index, "batch_shape", [None, 0, 8, 1]),
            "batch_shape strings": edit_layer(input_index, "batch_shape", [None, "a", 8, 1]),
            "units 0": edit_layer(dense_index, "units", 0),
            "units negative": edit_layer(dense_index, "units", -10),
            "units huge": edit_layer(dense_index, "units", 2**40),
            "units string": edit_layer(dense_index, "units", "ten"),
            "activation unknown": edit_layer(dense_index, "activation", "swish"),
            "filters negative": edit_layer(conv_index, "filters", -4),
            "kernel 0": edit_layer(conv_index, "kernel_size", [0, 0]),
            "kernel huge": edit_layer(conv_index, "kernel_size", [1000, 1000]),
            "strides 0": edit_layer(conv_index, "strides", [0, 0]),
            "padding causal": edit_layer(conv_index, "padding", "causal"),
            "class unknown": lambda c: c.__setitem__("class_name", "Transformer"),
            "no layers": lambda c: c["config"].__setitem__("layers", []),
            "layers not a list": lambda c: c["config"].__setitem__("layers", 3),
            "layer unsupported": lambda c: c["config"]["layers"].insert(1, {"class_name": "LSTM", "config": {"name": "l"}}),
            "epsilon negative": lambda c: [l["config"].__setitem__("epsilon", -1) for l in c["config"]["layers"] if l["class_name"] == "BatchNormalization"],
        }
        for label, edit in edits.items():
            c = json.loads(json.dumps(config))
            edit(c)
            p = self.path("m.keras")
            with zipfile.ZipFile(p, "w") as z:
                for item, data in members:
                    z.writestr(item, json.dumps(c) if item.filename == "config.json" else data)
            self.run("keras-config", label, ["inspect", p])
            out = os.path.join(os.path.dirname(p), "out.safetensors")
            self.run("keras-config", label + " (predict)", ["predict", p, "--input", "datasets/digits/test.h5", "--output", out], [out])
        for label, drop in [("no config.json", "config.json"), ("no weights", "model.weights.h5")]:
            p = self.path("m.keras")
            with zipfile.ZipFile(p, "w") as z:
                for item, data in members:
                    if item.filename != drop:
                        z.writestr(item, data)
            self.run("keras-config", label, ["inspect", p])

    def hf(self):
        """A MiniLM folder (weights symlinked) with config, pooling and tokenizer files edited."""
        config = json.load(open(os.path.join(MINILM, "config.json")))
        def folder():
            d = os.path.dirname(self.path("x"))
            for n in os.listdir(MINILM):
                src = os.path.join(MINILM, n)
                dst = os.path.join(d, n)
                if os.path.isdir(src):
                    shutil.copytree(src, dst)
                elif n == "model.safetensors":
                    os.symlink(src, dst)
                else:
                    shutil.copy(src, dst)
            return d
        config_cases = {
            "layer_norm_eps -1": {"layer_norm_eps": -1}, "layer_norm_eps 0": {"layer_norm_eps": 0},
            "hidden_size 0": {"hidden_size": 0}, "hidden_size -384": {"hidden_size": -384},
            "hidden_size string": {"hidden_size": "384"}, "heads 7": {"num_attention_heads": 7},
            "heads 0": {"num_attention_heads": 0}, "layers 2^40": {"num_hidden_layers": 2**40},
            "layers 7": {"num_hidden_layers": 7}, "vocab 2^40": {"vocab_size": 2**40}, "vocab 10": {"vocab_size": 10},
            "intermediate -1": {"intermediate_size": -1}, "hidden_act swish": {"hidden_act": "swish"},
            "hidden_act gelu_new": {"hidden_act": "gelu_new"}, "model_type gpt2": {"model_type": "gpt2"},
            "position rotary": {"position_embedding_type": "rotary"}, "max_position 1": {"max_position_embeddings": 1},
            "max_position 2^50": {"max_position_embeddings": 2**50}, "type_vocab 0": {"type_vocab_size": 0},
            "missing hidden_size": {"hidden_size": None},
        }
        for label, change in config_cases.items():
            d = folder()
            c = dict(config)
            for k, v in change.items():
                if v is None:
                    c.pop(k)
                else:
                    c[k] = v
            json.dump(c, open(os.path.join(d, "config.json"), "w"))
            self.run("hf-config", label, ["inspect", d])
        for label, text in [("config not JSON", "{"), ("config a list", "[]"), ("config empty", "")]:
            d = folder()
            open(os.path.join(d, "config.json"), "w").write(text)
            self.run("hf-config", label, ["inspect", d])
        side = [
            ("modules.json", "{bad"), ("modules.json", "[1, 2]"), ("modules.json", '{"a": 1}'),
            ("modules.json", '[{"type": "sentence_transformers.models.LSTM"}]'),
            ("modules.json", '[{"type": "sentence_transformers.models.Pooling", "path": "../../etc"}]'),
            ("1_Pooling/config.json", "not json"), ("1_Pooling/config.json", "[]"),
            ("1_Pooling/config.json", '{"pooling_mode_mean_sqrt_len_tokens": true}'),
            ("sentence_bert_config.json", "{"), ("sentence_bert_config.json", '{"max_seq_length": -5}'),
            ("sentence_bert_config.json", '{"max_seq_length": "long"}'),
            ("tokenizer.json", "{"), ("tokenizer.json", "[]"), ("tokenizer.json", '{"model": {"type": "Unigram"}}'),
            ("tokenizer.json", '{"model": {"type": "WordPiece", "vocab": {"a": -1}}}'),
            ("tokenizer.json", '{"model": {"type": "WordPiece", "vocab": {"[UNK]": 2147483647}, "unk_token": "[UNK]"}}'),
            ("tokenizer.json", '{"model": {"type": "WordPiece", "vocab": {}, "unk_token": "[UNK]"}}'),
            ("tokenizer.json", ""), ("vocab.txt", ""),
        ]
        for name, text in side:
            d = folder()
            target = os.path.join(d, name)
            if os.path.exists(target) or name == "tokenizer.json":
                os.makedirs(os.path.dirname(target), exist_ok=True)
                open(target, "w").write(text)
            # vocab.txt is unused when tokenizer.json is present.
            self.run("hf-files", f"{name}: {text[:40]}", ["inspect", d], valid=name == "vocab.txt")
        d = folder()
        os.remove(os.path.join(d, "tokenizer.json"))
        if os.path.exists(os.path.join(d, "vocab.txt")):
            os.remove(os.path.join(d, "vocab.txt"))
        self.run("hf-files", "no tokenizer files", ["inspect", d])

    def artifacts(self, base):
        """Artifacts written by compress (fp32, int8 static, int4) with parameters and manifests corrupted."""
        kinds = {}
        for kind, quant in [("fp32", None), ("int8", "{weights: {bits: 8}, activations: {mode: static}}"),
                            ("int4", "{weights: {bits: 4, granularity: group, group_size: 32}}"), ("zstd", None)]:
            recipe = os.path.join(base, f"{kind}.yaml")
            stages = (f"  - quantize: {quant}\n" if quant else "") + ("  - export: {zstd: true}\n" if kind == "zstd" else "  - export: {}\n")
            open(recipe, "w").write(f"name: probe-{kind}\nmodel: {MLP}.safetensors\ndata: {{calibration: datasets/digits/train.h5}}\nstages:\n{stages}")
            out = os.path.join(base, f"art-{kind}")
            subprocess.run([self.binary, "run", recipe, "--output", out], cwd=REPO, capture_output=True, check=True)
            kinds[kind] = os.path.join(out, "model")

        def copy(kind):
            d = os.path.join(os.path.dirname(self.path("x")), "model")
            shutil.copytree(kinds[kind], d)
            return d

        def probe(label, d, valid=False):
            out = os.path.join(os.path.dirname(d), "pred.safetensors")
            self.run("artifact", label, ["predict", d, "--input", "datasets/digits/test.h5", "--output", out], [out], valid=valid)

        def edit_tensor(kind, name, fn, label, fix_sha=True, valid=False):
            d = copy(kind)
            w = os.path.join(d, "model.safetensors")
            tensors, meta = read_safetensors(w)
            tensors[name] = fn(tensors[name].copy())
            data = safetensors_bytes(tensors, meta)
            open(w, "wb").write(data)
            if fix_sha:  # so that only the parameter check can catch it
                m = json.load(open(os.path.join(d, "model.json")))
                import hashlib
                m["weightsSha256"] = hashlib.sha256(data).hexdigest()
                json.dump(m, open(os.path.join(d, "model.json"), "w"))
            probe(label, d, valid)

        def setv(v, i=0):
            def f(a):
                a.flat[i] = v
                return a
            return f

        for v in [0.0, np.nan, np.inf, -np.inf, -0.01, 1e-45]:
            edit_tensor("int8", "fc1.weight_scale", setv(v), f"int8 weight_scale {v}", valid=v == 1e-45)
            edit_tensor("int8", "fc1.act_scale", setv(v), f"int8 act_scale {v}", valid=v == 1e-45)
        for v in [-1, 256, 2**31 - 1]:
            edit_tensor("int8", "fc1.act_zero_point", setv(v), f"int8 zero point {v}")
        for fill in [0xFF, 0x7F]:
            def blocks(a, fill=fill):
                b = a.copy()
                b[0, 0:4] = fill  # the first block's fp32 scale
                return b
            # 0x7f7f7f7f is 3.4e38, a finite scale: valid.
            edit_tensor("int4", "fc1.weight", blocks, f"int4 block scale bytes {fill:#x}", valid=fill == 0x7F)
        for v in [np.nan, np.inf]:
            edit_tensor("fp32", "fc1.weight", setv(v), f"fp32 weight {v}")
            edit_tensor("fp32", "fc3.bias", setv(v), f"fp32 bias {v}")
        edit_tensor("fp32", "fc1.weight", setv(0.5), "changed weight, stale sha256", fix_sha=False)
        for kind in ["fp32", "int8"]:
            d = copy(kind)
            w = os.path.join(d, "model.safetensors")
            b = bytearray(open(w, "rb").read())
            b[-5] ^= 0x10
            open(w, "wb").write(bytes(b))
            probe(f"{kind} flipped byte", d)

        def edit_manifest(kind, label, fn, valid=False):
            d = copy(kind)
            p = os.path.join(d, "model.json")
            m = json.load(open(p))
            r = fn(m, d)
            open(p, "w").write(r if isinstance(r, str) else json.dumps(m))
            probe(label, d, valid)

        first_tensor = lambda m: sorted(m["tensors"])[0]
        manifest_cases = [
            ("weightsFile traversal", lambda m, d: m.__setitem__("weightsFile", "../../../../etc/passwd")),
            ("weightsFile absolute", lambda m, d: m.__setitem__("weightsFile", "/etc/passwd")),
            ("weightsFile other name", lambda m, d: m.__setitem__("weightsFile", "weights.bin")),
            ("weightsFile empty", lambda m, d: m.__setitem__("weightsFile", "")),
            ("tokenizerFiles traversal", lambda m, d: m.__setitem__("tokenizerFiles", ["../../x"])),
            ("unknown top key", lambda m, d: m.__setitem__("extra", 1)),
            ("unknown tensor key", lambda m, d: m["tensors"][first_tensor(m)].__setitem__("scale", 1)),
            ("unknown provenance key", lambda m, d: m["provenance"].__setitem__("x", 1)),
            ("unknown layer key", lambda m, d: m["architecture"]["layers"][0].__setitem__("dilation", 2)),
            ("encoding unknown", lambda m, d: m["tensors"][first_tensor(m)].__setitem__("encoding", "int3")),
            ("encoding wrong", lambda m, d: m["tensors"][first_tensor(m)].__setitem__("encoding", "int8-per-channel")),
            ("missing tensor entry", lambda m, d: m["tensors"].pop(first_tensor(m))),
            ("extra tensor entry", lambda m, d: m["tensors"].__setitem__("fc9.weight", {"dtype": "F32", "shape": [1], "encoding": "f32"})),
            ("shape lie", lambda m, d: m["tensors"][first_tensor(m)].__setitem__("shape", [1, 2])),
            ("dtype lie", lambda m, d: m["tensors"][first_tensor(m)].__setitem__("dtype", "F16")),
            ("version 3", lambda m, d: m.__setitem__("version", 3)),
            ("version 0", lambda m, d: m.__setitem__("version", 0)),
            ("format other", lambda m, d: m.__setitem__("format", "onnx")),
            ("sha missing", lambda m, d: m.pop("weightsSha256")),
            ("sha not hex", lambda m, d: m.__setitem__("weightsSha256", "xyz")),
            ("sha wrong", lambda m, d: m.__setitem__("weightsSha256", "0" * 64)),
            ("architecture kind lstm", lambda m, d: m["architecture"].__setitem__("kind", "lstm")),
            ("input shape huge", lambda m, d: m["architecture"].__setitem__("inputShape", [100000, 100000, 1])),
            ("input shape negative", lambda m, d: m["architecture"].__setitem__("inputShape", [-8, 8, 1])),
            ("layers empty", lambda m, d: m["architecture"].__setitem__("layers", [])),
            ("manifest not JSON", lambda m, d: "{"),
            ("manifest empty", lambda m, d: ""),
            ("manifest a list", lambda m, d: "[]"),
            ("tensors null", lambda m, d: m.__setitem__("tensors", None)),
        ]
        for label, fn in manifest_cases:
            edit_manifest("fp32", label, fn)
        for label, fn in [
            ("module kind unknown", lambda m, d: [v.__setitem__("kind", "int2-linear") for v in m["modules"].values()]),
            ("module inFeatures negative", lambda m, d: [v.__setitem__("inFeatures", -64) for v in m["modules"].values()]),
            ("module outFeatures huge", lambda m, d: [v.__setitem__("outFeatures", 2**40) for v in m["modules"].values()]),
            ("module activation mode", lambda m, d: [v.__setitem__("activationMode", "sometimes") for v in m["modules"].values()]),
            ("module unknown key", lambda m, d: [v.__setitem__("bits", 3) for v in m["modules"].values()]),
            ("module path unknown", lambda m, d: m.__setitem__("modules", {"nowhere": list(m["modules"].values())[0]})),
        ]:
            edit_manifest("int8", label, fn)
        edit_manifest("int4", "int4 group size 48", lambda m, d: [v.__setitem__("groupSize", 48) for v in m["modules"].values()])
        # v1 without a checksum is accepted, unverified (documented): a valid input.
        edit_manifest("fp32", "version 1 without sha (valid)", lambda m, d: (m.__setitem__("version", 1), m.pop("weightsSha256")), valid=True)
        d = copy("fp32")
        w = os.path.join(d, "model.safetensors")
        outside = os.path.join(os.path.dirname(d), "outside.safetensors")
        shutil.move(w, outside)
        os.symlink(outside, w)
        probe("weights symlink outside", d)
        d = copy("fp32")
        os.remove(os.path.join(d, "model.safetensors"))
        probe("weights missing", d)
        for label, fn in [("zst truncated", lambda b: b[: len(b) // 2]), ("zst flipped", lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:]),
                          ("zst empty", lambda b: b""), ("zst garbage", lambda b: os.urandom(1000))]:
            d = copy("zstd")
            z = os.path.join(d, "model.safetensors.zst")
            original = open(z, "rb").read()
            open(z, "wb").write(fn(original))
            probe(label, d)

    def data(self, base):
        """Inputs for predict/eval: empty, scalar, mislabelled, not text."""
        def h5(name, **arrays):
            p = self.path(name)
            with h5py.File(p, "w") as f:
                for k, v in arrays.items():
                    f[k] = v
            return p
        x = np.zeros((4, 8, 8, 1), np.float32)
        cases = [
            ("x with 0 items", h5("d.h5", x=np.zeros((0, 8, 8, 1), np.float32))),
            ("x scalar", h5("d.h5", x=np.float32(1))),
            ("x 0-dim items", h5("d.h5", x=np.zeros((4, 0), np.float32))),
            ("x wrong shape", h5("d.h5", x=np.zeros((4, 9, 9, 1), np.float32))),
            ("x NaN", h5("d.h5", x=np.full((4, 8, 8, 1), np.nan, np.float32))),
            ("x strings", h5("d.h5", x=np.array([b"a", b"b"]))),
            ("no x", h5("d.h5", z=x)),
            ("labels 99", h5("d.h5", x=x, y=np.array([0, 1, 2, 99]))),
            ("labels -1", h5("d.h5", x=x, y=np.array([0, 1, 2, -1]))),
            ("labels 2^40", h5("d.h5", x=x, y=np.array([0, 1, 2, 2**40]))),
            ("labels float 1.5", h5("d.h5", x=x, y=np.array([0, 1, 2, 1.5], np.float32))),
            ("labels NaN", h5("d.h5", x=x, y=np.array([0, 1, 2, np.nan], np.float32))),
            ("labels too few", h5("d.h5", x=x, y=np.array([0, 1]))),
        ]
        for label, p in cases:
            out = os.path.join(os.path.dirname(p), "out.safetensors")
            # predict ignores labels, so label probes are valid inputs to it.
            self.run("data", label + " (predict)", ["predict", KERAS + ".keras", "--input", p, "--output", out], [out],
                     valid=label.startswith("labels") and "few" not in label)
            self.run("data", label + " (eval)", ["eval", KERAS + ".keras", "--data", p, "--no-timing"])
        for label, content in [("empty txt", b""), ("blank txt", b"\n \n\t\n"), ("not UTF-8", b"\xff\xfe\x00abc\n"),
                               ("empty tsv", b""), ("tsv bad columns", b"a\tb\n"), ("tsv one class", b"paraphrase\ta\tb\n")]:
            p = self.path("d.tsv" if "tsv" in label else "d.txt")
            open(p, "wb").write(content)
            out = os.path.join(os.path.dirname(p), "out.safetensors")
            self.run("data", label + " (predict)", ["predict", MINILM, "--input", p, "--output", out], [out])
            self.run("data", label + " (eval)", ["eval", MINILM, "--data", p, "--no-timing"])
        p = self.path("d.txt")
        open(p, "w").write("a sentence\n")
        self.run("data", "missing file", ["eval", KERAS + ".keras", "--data", p + ".nope", "--no-timing"])
        for label, content in [("truncated h5", open(os.path.join(REPO, "datasets/digits/test.h5"), "rb").read()[:5000]),
                               ("garbage h5", os.urandom(5000))]:
            p = self.path("d.h5")
            open(p, "wb").write(content)
            self.run("data", label, ["eval", KERAS + ".keras", "--data", p, "--no-timing"])

    def recipes(self, base):
        empty = self.path("empty.h5")
        with h5py.File(empty, "w") as f:
            f["x"] = np.zeros((0, 8, 8, 1), np.float32)
        empty_txt = self.path("empty.txt")
        open(empty_txt, "w").write("")
        cnn = KERAS + ".keras"
        good = f"name: r\nmodel: {cnn}\ndata: {{calibration: datasets/digits/train.h5, evaluation: datasets/digits/test.h5}}\nstages:\n  - evaluate: {{time_budget: 0.05}}\n"
        texts = {
            "not YAML": "name: [unclosed\n",
            "a list": "- a\n- b\n",
            "empty": "",
            "unknown key": good + "colour: red\n",
            "unknown stage": good + "  - distill: {}\n",
            "bits 3": good.replace("stages:\n", "stages:\n  - quantize: {weights: {bits: 3}}\n"),
            "group size 48": good.replace("stages:\n", "stages:\n  - quantize: {weights: {bits: 4, granularity: group, group_size: 48}}\n"),
            "method magic": good.replace("stages:\n", "stages:\n  - quantize: {weights: {bits: 8, method: magic}}\n"),
            "missing model": "name: r\nstages:\n  - evaluate: {}\n",
            "model missing file": good.replace(cnn, "nowhere.keras"),
            "no stages": f"name: r\nmodel: {cnn}\n",
            "stages empty": f"name: r\nmodel: {cnn}\nstages: []\n",
            "evaluation empty h5": good.replace("evaluation: datasets/digits/test.h5", f"evaluation: {empty}"),
            "calibration empty h5": good.replace("calibration: datasets/digits/train.h5", f"calibration: {empty}").replace("stages:\n", "stages:\n  - quantize: {weights: {bits: 8}, activations: {mode: static}}\n"),
            "calibration empty txt": f"name: r\nmodel: {MINILM}\ndata: {{calibration: {empty_txt}}}\nstages:\n  - quantize: {{weights: {{bits: 8}}, activations: {{mode: static}}}}\n",
            "time_budget negative": good.replace("time_budget: 0.05", "time_budget: -1"),
            "batch size 0": good.replace("time_budget: 0.05", "batch_sizes: [0]"),
            "threads -2": good.replace("time_budget: 0.05", "threads: -2"),
            "percentile 200": good.replace("stages:\n", "stages:\n  - quantize: {weights: {bits: 8}, activations: {mode: static, calibration: percentile, percentile: 200}}\n"),
            "smoothquant alpha 5": good.replace("stages:\n", "stages:\n  - quantize: {weights: {bits: 8}, activations: {mode: dynamic}, smoothquant: {alpha: 5}}\n"),
            "targets bad regex": good.replace("stages:\n", "stages:\n  - quantize: {weights: {bits: 8}, targets: ['re:(']}\n"),
            "targets none match": good.replace("stages:\n", "stages:\n  - quantize: {weights: {bits: 8}, targets: ['nothing']}\n"),
            "tabs": "name: r\n\tmodel: x\n",
            "binary": "\x00\x01\x02",
            "max_accuracy_drop string": good + "constraints: {max_accuracy_drop: lots}\n",
        }
        for label, text in texts.items():
            p = self.path("r.yaml")
            open(p, "w").write(text)
            out = os.path.join(os.path.dirname(p), "out")
            self.run("recipe", label, ["run", p, "--output", out], [out])
        # GPTQ on weights near the float32 limit.
        tensors, meta = read_safetensors(MLP + ".safetensors")
        for v in [1e38, 3e38]:
            t = dict(tensors)
            t["fc1.weight"] = np.full_like(t["fc1.weight"], v)
            p = self.path("big.safetensors")
            open(p, "wb").write(safetensors_bytes(t, meta))
            shutil.copy(MLP + ".json", p[:-len(".safetensors")] + ".json")
            for method in ["gptq", "rtn"]:
                r = self.path("r.yaml")
                open(r, "w").write(f"name: r\nmodel: {p}\ndata: {{calibration: datasets/digits/train.h5}}\nstages:\n  - quantize: {{weights: {{bits: 4, granularity: group, group_size: 32, method: {method}}}}}\n  - export: {{}}\n")
                out = os.path.join(os.path.dirname(r), "out")
                # RTN's scales stay finite at 1e38 (max/7): a valid, if odd, model.
                self.run("recipe", f"{method} on weights {v}", ["run", r, "--output", out], [out], valid=method == "rtn")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(REPO, ".build/release/compress"))
    ap.add_argument("--json", help="write every probe's outcome here")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="compress-probe-")
    try:
        p = Prober(os.path.abspath(args.bin), args.timeout, work)
        for step in [p.safetensors, p.keras, p.hf, lambda: p.artifacts(work), lambda: p.data(work), lambda: p.recipes(work)]:
            step()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by = collections.defaultdict(collections.Counter)
    for r in p.results:
        by[r["category"]][r["outcome"]] += 1
    outcomes = ["clean", "warned", "valid", "accepted", "leaky", "unclear", "crash", "hang", "partial"]
    print(f"| category | probes | " + " | ".join(outcomes) + " |")
    print("|---|---:|" + "---:|" * len(outcomes))
    total = collections.Counter()
    for cat, c in by.items():
        total.update(c)
        print(f"| {cat} | {sum(c.values())} | " + " | ".join(str(c[o]) for o in outcomes) + " |")
    print(f"| **total** | {sum(total.values())} | " + " | ".join(str(total[o]) for o in outcomes) + " |")
    for r in p.results:
        if r["outcome"] not in ("clean", "warned", "valid"):
            print(f"  {r['outcome']:8} {r['category']}: {r['name']} (rc {r['rc']}): {r['stderr'][:160]}")
    if args.json:
        json.dump(p.results, open(args.json, "w"), indent=1)
    bad = total["crash"] + total["hang"] + total["partial"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
