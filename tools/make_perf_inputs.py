#!/usr/bin/env python3
"""Writes a perf_analyzer `--input-data` JSON file of real MiniLM token ids, one entry per sentence at its own length.

perf_analyzer's random INT64 data falls outside the vocabulary and `--input-data zero` masks every token (no work
for any engine), so serving benchmarks of a token-signature model (`compress serve --text-inputs tokens`, Triton's
`minilm_fp32`) feed sentences of datasets/text/eval.txt tokenized by the model's own tokenizer.json (the Hugging Face
`tokenizers` library), the same sentences `compress parallel --data datasets/text/eval.txt` runs offline.

    /opt/compress-tools-venv/bin/python tools/make_perf_inputs.py --out /tmp/minilm_tokens.json [--fixed 16]
"""
import argparse
import json
import os

from tokenizers import Tokenizer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(REPO, "models/all-MiniLM-L6-v2"))
    ap.add_argument("--sentences", default=os.path.join(REPO, "datasets/text/eval.txt"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--fixed", type=int, default=0, help="pad or cut every entry to this many tokens (0: each its own length)")
    args = ap.parse_args()
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.enable_truncation(args.max_length)
    tok.no_padding()
    lines = [l.strip() for l in open(args.sentences, encoding="utf-8") if l.strip()][: args.limit]
    data = []
    for line in lines:
        ids = tok.encode(line).ids
        mask = [1] * len(ids)
        if args.fixed:
            ids, mask = (ids + [0] * args.fixed)[: args.fixed], (mask + [0] * args.fixed)[: args.fixed]
        data.append({"input_ids": {"content": ids, "shape": [len(ids)]}, "attention_mask": {"content": mask, "shape": [len(mask)]}})
    with open(args.out, "w") as f:
        json.dump({"data": data}, f)
    lengths = [len(d["input_ids"]["content"]) for d in data]
    print(f"{len(data)} entries, tokens mean {sum(lengths) / len(lengths):.1f}, max {max(lengths)} -> {args.out}")


if __name__ == "__main__":
    main()
