"""Build the small English text datasets used to calibrate, fine-tune and evaluate text encoders.

Writes (under datasets/text/):
  calibration.txt   512 lines   activation-range calibration for quantization
  train.txt        2000 lines   distillation / fine-tuning text
  eval.txt          500 lines   held-out evaluation text
  pairs.tsv         `label<TAB>sentence_a<TAB>sentence_b`, label `paraphrase` (hand-written rewordings in
                    PARAPHRASES below) or `unrelated` (seeded random pairs of eval.txt lines)
  SOURCE.md         where the text comes from (Debian package name and version) and how it was processed

Why: the toolkit needs real English sentences (not synthetic strings) to measure how quantization or
pruning moves sentence embeddings, and there is no network access to fetch a corpus; the Debian
`fortunes`/`fortunes-min` packages (BSD fortune(6) data) is real, varied English prose that apt can fetch.

Processing: `apt-get download fortunes=<VERSION> fortunes-min=<VERSION>` + `dpkg-deb -x` into a temporary directory (nothing is
installed); read the chosen category files; split on `%` lines; drop attribution lines (stripped line
starts with "--"); join each fortune's lines with single spaces; keep items of 20..300 characters that are
mostly letters and ASCII and hit no BLOCKLIST word; dedupe; shuffle with random.Random(0); split into disjoint parts.

Rerun (needs `apt-get update` once, as root or with apt download rights):
  /opt/compress-tools-venv/bin/python tools/make_text_corpus.py
Env: FORTUNES_VERSION overrides the pinned package version (the output will then differ).
"""
import glob
import os
import random
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "datasets", "text")
PACKAGES = ("fortunes", "fortunes-min")  # fortunes-min holds `fortunes`, `literature`, `riddles`
VERSION = os.environ.get("FORTUNES_VERSION", "1:1.99.1-7.3")
SEED = 0
N_CALIBRATION, N_TRAIN, N_EVAL = 512, 2000, 500
N_UNRELATED = 72

# Everyday prose; skips ASCII art, poems/songs, IRC/tech logs, and the categories most likely to carry
# ethnic/political/sexual jokes, which are unsuitable as evaluation text.
CATEGORIES = [
    "cookie", "wisdom", "science", "literature", "education", "food", "work", "people", "platitudes",
    "sports", "humorists", "kids", "love", "pets", "medicine", "computers", "tao", "riddles",
    "paradoxum", "magic", "miscellaneous", "goedel", "definitions", "fortunes",
]

# Hand-written paraphrase pairs: the same meaning in different words. Evaluation data, not model output.
PARAPHRASES = [
    ("The meeting has been moved to Thursday afternoon.", "We rescheduled the meeting for Thursday afternoon."),
    ("It is raining heavily outside.", "There is a downpour out there right now."),
    ("She forgot her keys at the office.", "She left her keys behind at work."),
    ("The train was delayed by twenty minutes.", "The train arrived twenty minutes late."),
    ("I can't find my phone anywhere.", "My phone seems to have disappeared."),
    ("He is learning to play the guitar.", "He is taking guitar lessons."),
    ("The store closes at nine tonight.", "Tonight the shop shuts at 9 pm."),
    ("Please turn off the lights when you leave.", "Switch the lights off on your way out, please."),
    ("The soup is too salty.", "There is far too much salt in this soup."),
    ("We need to buy more milk.", "We are running out of milk."),
    ("The children are playing in the garden.", "The kids are out playing in the yard."),
    ("My flight was cancelled because of the storm.", "The storm caused my flight to be cancelled."),
    ("This book is very hard to put down.", "I can't stop reading this book."),
    ("He apologized for being late.", "He said sorry for arriving late."),
    ("The price of petrol went up again.", "Fuel has become more expensive once more."),
    ("Could you help me carry these boxes?", "Would you give me a hand with these boxes?"),
    ("The doctor told him to get more rest.", "His doctor advised him to rest more."),
    ("The movie was extremely boring.", "The film was incredibly dull."),
    ("She speaks three languages fluently.", "She is fluent in three languages."),
    ("The road is closed for repairs.", "Repair work has closed the road."),
    ("I usually walk to work.", "Most days I go to work on foot."),
    ("The package should arrive tomorrow.", "The parcel is expected to be delivered tomorrow."),
    ("They won the match by two goals.", "They beat the other team by a two-goal margin."),
    ("The cat is sleeping on the sofa.", "The cat is asleep on the couch."),
    ("He quit his job last month.", "Last month he resigned from his position."),
    ("It was the coldest winter in years.", "We had not had such a cold winter for years."),
    ("The museum is free on Sundays.", "On Sundays you can visit the museum without paying."),
    ("I'm too tired to go out tonight.", "I'm exhausted, so I'll stay in this evening."),
    ("The computer keeps crashing.", "My computer crashes all the time."),
    ("She was promoted to manager.", "She got a promotion and is now a manager."),
    ("The bridge was built a hundred years ago.", "The bridge is a century old."),
    ("We ran out of time to finish the project.", "There wasn't enough time to complete the project."),
    ("Dinner will be ready in ten minutes.", "The meal will be on the table in ten minutes."),
    ("He has a very good memory.", "He remembers things remarkably well."),
    ("The lake froze overnight.", "By morning the lake had turned to ice."),
    ("Smoking is not allowed in the building.", "You may not smoke anywhere inside the building."),
    ("The teacher explained the problem again.", "The teacher went over the problem one more time."),
    ("I need to charge my laptop.", "My laptop battery needs charging."),
    ("The garden is full of flowers in spring.", "In springtime the garden is covered in blossoms."),
    ("They moved to a bigger apartment.", "They relocated to a larger flat."),
    ("The concert was sold out weeks ago.", "All the concert tickets were gone weeks in advance."),
    ("Drink plenty of water when it is hot.", "Stay well hydrated in hot weather."),
    ("My brother is older than me.", "I am younger than my brother."),
    ("The restaurant was too noisy to talk.", "It was so loud in the restaurant that we couldn't hold a conversation."),
    ("He fixed the broken chair himself.", "He repaired the broken chair on his own."),
    ("The exam was easier than I expected.", "I thought the test would be harder than it was."),
    ("The baby finally fell asleep.", "At last the baby went to sleep."),
    ("We should leave early to avoid traffic.", "Let's set off early so we don't get stuck in traffic."),
    ("She painted the kitchen yellow.", "She gave the kitchen a coat of yellow paint."),
    ("The bus stop is just around the corner.", "You'll find the bus stop right around the corner."),
    ("The company hired fifty new employees.", "Fifty new staff members joined the firm."),
    ("I don't like spicy food.", "Spicy dishes are not to my taste."),
    ("The printer is out of paper.", "There is no paper left in the printer."),
    ("He runs five kilometres every morning.", "Every morning he goes for a five-kilometre run."),
    ("The library will be closed on Monday.", "On Monday the library won't be open."),
    ("This coat is too small for me now.", "I have outgrown this coat."),
    ("She called to say she would be late.", "She phoned to let us know she was running late."),
    ("The town is famous for its cheese.", "The town is well known for the cheese it makes."),
    ("The lecture lasted two hours.", "The talk went on for two hours."),
    ("We planted tomatoes in the backyard.", "We grew tomato plants behind the house."),
    ("Our neighbours are very friendly.", "The people next door are really nice."),
    ("I have never been to Japan.", "I have not visited Japan yet."),
    ("The water in the pool is freezing.", "The pool water is extremely cold."),
    ("Please send me the report by Friday.", "I need the report from you no later than Friday."),
    ("He lost his wallet on the bus.", "His wallet went missing while he was on the bus."),
    ("The shop sells fresh bread every morning.", "Every morning the shop has freshly baked bread."),
    ("The weather will improve tomorrow.", "Tomorrow the weather is going to get better."),
    ("She is allergic to cats.", "Cats give her an allergic reaction."),
    ("The hotel room had a view of the sea.", "From the hotel room we could see the ocean."),
    ("I forgot to reply to your email.", "I never got around to answering your message."),
    ("The car needs new tyres.", "It's time to replace the tyres on the car."),
    ("They celebrated their tenth anniversary.", "They marked ten years of marriage."),
]


def fetch_packages(tmp):
    """apt-get download + dpkg-deb -x of PACKAGES into tmp; returns the extracted fortunes directory."""
    for pkg in PACKAGES:
        subprocess.run(["apt-get", "download", f"{pkg}={VERSION}"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (deb,) = glob.glob(os.path.join(tmp, f"{pkg}_*.deb"))
        got = subprocess.run(["dpkg-deb", "-f", deb, "Version"], check=True, capture_output=True,
                             text=True).stdout.strip()
        if got != VERSION:
            sys.exit(f"FAIL: downloaded {pkg} {got}, expected {VERSION}")
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "x")], check=True)
    return os.path.join(tmp, "x", "usr", "share", "games", "fortunes")


# Crude/sensitive words: any item containing one is dropped, so the evaluation text stays neutral.
BLOCKLIST = re.compile(
    r"\b(sex\w*|fuck\w*|shit\w*|rape\w*|nigg\w*|gays?|jews?|jewish|nazis?|breasts?|penis|whores?|bitch\w*|"
    r"suicide|porn\w*|virgins?|virginity|naked|nude|bastards?|ass|asses|orgasm\w*|prostitut\w*|"
    r"homosexual\w*|lesbian\w*|nipples?|condoms?|erotic\w*|masturbat\w*|bullshit|goddamn|hitler)\b",
    re.IGNORECASE,
)


def clean_items(text):
    """Split a fortune file into one-line items, applying the filters from the module docstring."""
    items = []
    for block in re.split(r"^%\s*$", text, flags=re.M):
        lines = [ln for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("--")]
        item = " ".join(" ".join(lines).split())
        if not 20 <= len(item) <= 300 or not item.isascii() or BLOCKLIST.search(item):
            continue
        visible = item.replace(" ", "")
        if sum(c.isalpha() for c in visible) < 0.75 * len(visible):
            continue  # tables, code, number lists
        items.append(item)
    return items


def main():
    with tempfile.TemporaryDirectory(prefix="fortunes-") as tmp:
        src = fetch_packages(tmp)
        items, per_cat = [], {}
        for cat in CATEGORIES:
            with open(os.path.join(src, cat), encoding="utf-8", errors="replace") as fh:
                got = clean_items(fh.read())
            per_cat[cat] = len(got)
            items.extend(got)

    seen, unique = set(), []
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            unique.append(item)
    rng = random.Random(SEED)
    rng.shuffle(unique)
    need = N_CALIBRATION + N_TRAIN + N_EVAL
    if len(unique) < need:
        sys.exit(f"FAIL: only {len(unique)} items, need {need}")
    calibration = unique[:N_CALIBRATION]
    train = unique[N_CALIBRATION:N_CALIBRATION + N_TRAIN]
    evaluation = unique[N_CALIBRATION + N_TRAIN:need]

    os.makedirs(OUT, exist_ok=True)
    for name, lines in (("calibration.txt", calibration), ("train.txt", train), ("eval.txt", evaluation)):
        with open(os.path.join(OUT, name), "w") as fh:
            fh.write("\n".join(lines) + "\n")

    pairs = [("paraphrase", a, b) for a, b in PARAPHRASES]
    for _ in range(N_UNRELATED):
        a, b = rng.sample(evaluation, 2)
        pairs.append(("unrelated", a, b))
    rng.shuffle(pairs)
    with open(os.path.join(OUT, "pairs.tsv"), "w") as fh:
        for row in pairs:
            assert all("\t" not in f and "\n" not in f for f in row)
            fh.write("\t".join(row) + "\n")

    with open(os.path.join(OUT, "SOURCE.md"), "w") as fh:
        fh.write(f"""# Text datasets: origin

Generated by `tools/make_text_corpus.py` (rerun: `/opt/compress-tools-venv/bin/python tools/make_text_corpus.py`).

- **Source:** Debian packages {" and ".join(f"`{p}`" for p in PACKAGES)}, version `{VERSION}` (data files of
  BSD fortune(6), fortune-mod 1.99.1; BSD-licensed, see `/usr/share/doc/fortunes/copyright` in the package). Fetched with
  `apt-get download`, unpacked with `dpkg-deb -x` into a temporary directory; nothing is installed.
- **Categories used** (items kept after filtering): {", ".join(f"{c} ({n})" for c, n in per_cat.items())}.
  Skipped: ASCII art, poems/songs, IRC/technical logs, and categories likely to hold ethnic, political or
  sexual jokes.
- **Processing:** split on `%` lines; drop attribution lines (stripped line starts with `--`); join each
  fortune into one line with single spaces; keep ASCII items of 20..300 characters whose non-space
  characters are at least 75% letters and that contain no word of the script's `BLOCKLIST` (crude or
  sensitive terms); case-insensitive dedupe ({len(unique)} unique items); shuffle with
  `random.Random({SEED})`; split into disjoint parts.
- **Files:** `calibration.txt` ({len(calibration)} lines), `train.txt` ({len(train)} lines),
  `eval.txt` ({len(evaluation)} lines), one item per line.
- **pairs.tsv** (`label<TAB>sentence_a<TAB>sentence_b`, {len(pairs)} rows): {len(PARAPHRASES)} `paraphrase`
  pairs are everyday sentences with a hand-written rewording of the same meaning (listed in the script's
  `PARAPHRASES`); {N_UNRELATED} `unrelated` pairs are two distinct random lines of `eval.txt` drawn with the
  same seeded generator. Row order is shuffled.
""")
    print(f"{len(items)} items, {len(unique)} unique; wrote calibration {len(calibration)}, train {len(train)}, "
          f"eval {len(evaluation)}, pairs {len(pairs)} ({len(PARAPHRASES)} paraphrase, {N_UNRELATED} unrelated)")


if __name__ == "__main__":
    main()
