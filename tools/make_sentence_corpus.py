"""Build the distillation sentence corpus: >= 50,000 distinct English sentences from Debian packages, split
train/validation/test with no overlap with the calibration/evaluation text in datasets/text/.

Writes (under datasets/sentences/; the .txt files are git-ignored, `make datasets` rebuilds them):
  train.txt, validation.txt, test.txt   one sentence per line (90 / 5 / 5 %)
  README.md                             sources with package versions, rules, counts per source and split, sha256

Sources (installed by `make sentence-data`, read from their installed paths; nothing fetched here):
  wordnet-base     /usr/share/wordnet/data.{noun,verb,adj,adv}: each synset's gloss is split into its definition
                   and its quoted usage examples (two sources: `wordnet-definition`, `wordnet-example`)
  fortunes(-min)   /usr/share/games/fortunes/<category>: the categories and item rules of tools/make_text_corpus.py
  bible-kjv        `bible -f -l 0 gen1:1-rev22:21` (the KJV text of bible-kjv-text, one verse per line)

Rules: NFKC + ASCII quotes/dashes, whitespace collapsed; keep ASCII items of 4..64 words whose non-space characters
are >= 75 % letters, with no code/markup characters and no word of make_text_corpus.BLOCKLIST. Duplicates are
removed by a key of lowercased alphanumeric words (so case, whitespace and punctuation differences collapse); the
first occurrence in source order wins. Items near the existing text are dropped: every line of datasets/text
(calibration, train, eval, pairs) is keyed the same way, and an item goes if it shares an 8-word run with one of
them, if it (4..8 words) appears inside one, or if one of them (4..7 words) appears inside it. The rest is shuffled
with random.Random(SEED) and cut 90/5/5.

Rerun: /opt/compress-tools-venv/bin/python tools/make_sentence_corpus.py   (any python3 works: stdlib only)
"""
import collections
import glob
import hashlib
import os
import random
import re
import subprocess
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_text_corpus import BLOCKLIST, CATEGORIES, clean_items  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "datasets", "sentences")
EXISTING = os.path.join(ROOT, "datasets", "text")
WORDNET = "/usr/share/wordnet"
FORTUNES = "/usr/share/games/fortunes"
PACKAGES = ("wordnet-base", "fortunes", "fortunes-min", "bible-kjv-text", "bible-kjv")
SEED = 0
MIN_WORDS, MAX_WORDS = 4, 64
SHINGLE = 8
SPLITS = (("train", 0.90), ("validation", 0.05), ("test", 0.05))
MIN_TOTAL = 50_000
CODE_CHARS = set("{}[]<>=_|\\#@$^~*`")
ASCII_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "--"})


def normalize(text):
    text = unicodedata.normalize("NFKC", text).translate(ASCII_FOLD)
    return " ".join(text.split())


def key(text):
    """Dedupe/overlap key: lowercased alphanumeric words."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def acceptable(text):
    words = text.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or not text.isascii():
        return False
    if any(c in CODE_CHARS for c in text) or "http" in text or "www." in text or BLOCKLIST.search(text):
        return False
    visible = text.replace(" ", "")
    return sum(c.isalpha() for c in visible) >= 0.75 * len(visible)


def wordnet_items():
    """(definitions, examples) from the data.* files; a gloss is `definition; "example"; "example"`."""
    definitions, examples = [], []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(WORDNET, f"data.{pos}"), encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  ") or " | " not in line:
                    continue  # license header
                gloss = line.split(" | ", 1)[1].strip()
                examples.extend(re.findall(r'"([^"]+)"', gloss))
                definitions.append(gloss.split('"', 1)[0].strip().rstrip(";").strip())
    return definitions, examples


def fortune_items():
    items = []
    for cat in CATEGORIES:
        with open(os.path.join(FORTUNES, cat), encoding="utf-8", errors="replace") as fh:
            items.extend(clean_items(fh.read()))
    return items


def bible_items():
    out = subprocess.run(["bible", "-f", "-l", "0", "gen1:1-rev22:21"], check=True, capture_output=True,
                         text=True).stdout
    verses = [line.split(" ", 1)[1] for line in out.splitlines() if " " in line]
    if len(verses) != 31102:
        sys.exit(f"FAIL: bible printed {len(verses)} verses, expected 31102")
    return verses


class ExistingText:
    """The near-duplicate test against datasets/text (see the module docstring)."""

    def __init__(self, directory):
        self.lines = []
        for path in sorted(glob.glob(os.path.join(directory, "*.txt"))):
            with open(path) as fh:
                self.lines += [ln for ln in fh.read().splitlines() if ln.strip()]
        with open(os.path.join(directory, "pairs.tsv")) as fh:
            for row in fh.read().splitlines():
                self.lines += row.split("\t")[1:]
        self.grams = collections.defaultdict(set)  # n -> every n-gram (4..8) of every existing line
        self.short = collections.defaultdict(set)  # n -> whole existing lines of n words (4..7)
        for line in self.lines:
            words = tuple(key(line).split())
            for n in range(MIN_WORDS, SHINGLE + 1):
                self.grams[n].update(words[i:i + n] for i in range(len(words) - n + 1))
            if MIN_WORDS <= len(words) < SHINGLE:
                self.short[len(words)].add(words)

    def near(self, words):
        if len(words) <= SHINGLE and words in self.grams[len(words)]:
            return True
        if any(words[i:i + SHINGLE] in self.grams[SHINGLE] for i in range(len(words) - SHINGLE + 1)):
            return True
        return any(words[i:i + n] in self.short[n] for n in self.short for i in range(len(words) - n + 1))


def package_versions():
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *PACKAGES], check=True,
                         capture_output=True, text=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def write_atomic(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main():
    definitions, examples = wordnet_items()
    sources = [("fortunes", fortune_items()), ("wordnet-example", examples), ("wordnet-definition", definitions),
               ("bible-kjv", bible_items())]
    existing = ExistingText(EXISTING)
    seen, kept = set(), []
    stats = collections.OrderedDict()
    for name, items in sources:
        s = stats[name] = collections.Counter(read=len(items))
        for raw in items:
            text = normalize(raw)
            if not acceptable(text):
                s["filtered"] += 1
                continue
            k = key(text)
            if k in seen:
                s["duplicate"] += 1
                continue
            seen.add(k)
            if existing.near(tuple(k.split())):
                s["near datasets/text"] += 1
                continue
            kept.append((name, text))
            s["kept"] += 1
    if len(kept) < MIN_TOTAL:
        sys.exit(f"FAIL: only {len(kept)} sentences, need {MIN_TOTAL}")

    random.Random(SEED).shuffle(kept)
    os.makedirs(OUT, exist_ok=True)
    splits, start = {}, 0
    for i, (split, share) in enumerate(SPLITS):
        end = len(kept) if i == len(SPLITS) - 1 else start + round(share * len(kept))
        splits[split] = kept[start:end]
        start = end
    digests = {}
    for split, rows in splits.items():
        text = "".join(t + "\n" for _, t in rows)
        write_atomic(os.path.join(OUT, f"{split}.txt"), text)
        digests[split] = hashlib.sha256(text.encode()).hexdigest()

    versions = package_versions()
    per_split = {split: collections.Counter(name for name, _ in rows) for split, rows in splits.items()}
    table = ["| source | read | filtered | duplicate | near datasets/text | kept | train | validation | test |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in stats.items():
        table.append(f"| {name} | {s['read']} | {s['filtered']} | {s['duplicate']} | {s['near datasets/text']} | "
                     f"{s['kept']} | " + " | ".join(str(per_split[sp][name]) for sp in per_split) + " |")
    table.append(f"| **total** | | | | | {len(kept)} | " + " | ".join(str(len(r)) for r in splits.values()) + " |")
    files = "\n".join(f"| `{split}.txt` | {len(rows)} | `{digests[split]}` |" for split, rows in splits.items())
    write_atomic(os.path.join(OUT, "README.md"), f"""# Sentence corpus for distillation (issue 12)

Generated by `tools/make_sentence_corpus.py` (`make datasets`); the `.txt` files are not committed. Rebuilding
with the same package versions gives the same bytes (sha256 below).

- **Packages** (Debian, installed by `make sentence-data`): {", ".join(f"`{p}` {v}" for p, v in versions.items())}.
- **Sources:** WordNet 3.0 glosses split into definitions and quoted usage examples (`data.noun/verb/adj/adv`);
  the fortune(6) categories used by `tools/make_text_corpus.py`; the King James Bible, one verse per item
  (`bible -f -l 0 gen1:1-rev22:21`).
- **Rules:** NFKC, ASCII quotes, whitespace collapsed; ASCII items of {MIN_WORDS}..{MAX_WORDS} words, >= 75 % letters among
  non-space characters, no code/markup characters, no blocklisted word; deduplicated on lowercased
  alphanumeric words (first source wins, in the table's order); items near `datasets/text` (calibration, train,
  eval, pairs: {len(existing.lines)} lines) dropped: a shared {SHINGLE}-word run or one text inside the other; shuffled with
  `random.Random({SEED})`; split 90 / 5 / 5.

{chr(10).join(table)}

| file | lines | sha256 |
|---|---:|---|
{files}
""")
    print("\n".join(table))
    print(f"wrote {OUT}: " + ", ".join(f"{split} {len(rows)}" for split, rows in splits.items()))


if __name__ == "__main__":
    main()
