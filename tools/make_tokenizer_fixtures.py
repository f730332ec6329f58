#!/usr/bin/env python3
"""Generate reference token ids for the Swift `Tokenizers` tests.

Runs the Hugging Face `tokenizers` library (the reference implementation) on the
all-MiniLM-L6-v2 tokenizer.json with truncation at 256 tokens and no padding, over

  (a) every line of the shared MiniLM sentences file, and
  (b) a list of tricky texts written below (accents, scripts, CJK, emoji, control
      characters, odd whitespace, special tokens typed in the text, very long words,
      truncation, empty input ...),

and writes Tests/Fixtures/tokenizer/minilm_ids.json:

  {"tokenizers_version": "...", "max_length": 256,
   "cases": [{"text": "...", "ids": [...]}, ...]}

It also probes every Unicode scalar with BertNormalizer / BertPreTokenizer and writes
Tests/Fixtures/tokenizer/unicode_classes.json:

  "runs":     [[first_code_point, "CHP"], ...]  runs of equal classes, where
              C = clean_text: R removed, S turned into a space, K kept;
              H = handle_chinese_chars: C padded with spaces, - untouched;
              P = BertPreTokenizer: W whitespace, P punctuation (isolated), - other;
  "mappings": [[code_point, full, lowercase_only, strip_accents_only], ...] normalizer outputs for every kept
              scalar that some normalizer changes ("full" is the MiniLM normalizer); Hangul syllables are
              sampled (every 97th) since their NFD is algorithmic.

Usage (tools/requirements.txt pins tokenizers):
  python3 tools/make_tokenizer_fixtures.py [MODEL_DIR] [SENTENCES_TXT]
MODEL_DIR defaults to models/all-MiniLM-L6-v2 (created by `make models`).
"""

import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LENGTH = 256


def tricky_texts():
    long_word = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3  # 135 chars -> [UNK]
    word_100 = "ab" * 50  # exactly max_input_chars_per_word: still split into pieces
    word_101 = "ab" * 50 + "a"  # one over: [UNK]
    many_words = " ".join(
        "word%d is followed by, punctuation; and (parentheses) in sentence number %d." % (i, i) for i in range(60)
    )
    return [
        "",
        " ",
        "   \t\n  \r\n ",
        "café, naïve, Zürich, Dvořák, São Paulo, Ångström, crème brûlée, Ærøskøbing",
        "CAFÉ NAÏVE ZÜRICH DVOŘÁK",
        "Die Straße ist groß. STRASSE. Maß und Fuß.",
        "İstanbul, ıspanak, DİYARBAKIR, Iğdır, i̇",
        "Ελληνικά: Η γρήγορη καφέ αλεπού πηδάει. ΣΟΦΙΑ σοφός ς",
        "Русский текст: Съешь же ещё этих мягких французских булок. Ёлка ЁЖ",
        "我爱北京天安门 and Tokyo 東京タワー, 서울 한국어 텍스트 mixed with Latin.",
        "日本語のテキスト：ひらがな、カタカナ、漢字。全角ＡＢＣ１２３！？",
        "Emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✨ 🫠 done",
        "Combining: e\u0301 a\u0300 o\u0308 n\u0303 c\u0327 and Z\u0336 a\u0361b",
        "zero\u200bwidth\u200cjoiner\u200dhere \ufeffbom\u00adsoft hyphen",
        "control\x00chars\x01\x02\x07\x1b[0m\x7f and \x0b vertical \x0c form \x85 nel \ufffd repl",
        "tabs\tand\ttabs\nnewlines\r\nand carriage returns",
        "no\u00a0break\u00a0space, thin\u2009space, ideographic\u3000space, en\u2002space, line\u2028sep",
        "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ and ﬁ ligatures ﬂ and ½ ² ℃ №",
        "Visit https://www.example.com/path/to/page?query=1&x=y#frag or http://sub.domain.co.uk:8080/a_b-c.",
        "Mail john.doe+filter@example-mail.com or ADMIN@Example.ORG now",
        "Numbers: 3.14159, 1,234,567.89, -42, +7, 1e-10, 50%, $19.99, €5, £3, ¥100, 12:30pm, 2024-01-15",
        "curly ‘single’ “double” quotes — em-dash – en-dash … ellipsis « guillemets » ‹ › „low“",
        "special tokens in text: [CLS] hello [SEP] world [MASK] [UNK] [PAD] and [cls] lowercase, a[MASK]b",
        "symbols: @#$%^&*()_+-=[]{}|\\;:'\",.<>/?`~ § ¶ © ® ™ ° ± × ÷",
        "math: ∑ ∫ √ ∞ ≠ ≤ ≥ α β γ δ π Ω",
        "Arabic: مرحبا بالعالم and Hebrew: שלום עולם and Hindi: नमस्ते दुनिया",
        "Thai: สวัสดีชาวโลก and Vietnamese: Tiếng Việt có dấu",
        "Latin extended: Łódź, Kraków, Škoda, Čapek, Ðakovo, þorn, œuvre, ĳ",
        long_word,
        word_100,
        word_101,
        "prefix " + long_word + " suffix",
        many_words,
        "Hello" + "!" * 300,
        "isn't it? I'm here. they're 'quoted' \"too\"",
        "CamelCaseWords and snake_case_words and kebab-case-words",
        "unaffable unbelievable antidisestablishmentarianism tokenization",
        "\u3400\u4dbf\u9fff\uf900\ufa6c\U00020000\U0002a6df\U0002b740\U0002f800 \u3007\u30fc",
        "Hangul syllables 가각간 and jamo \u1100\u1161 and compat ㄱㅏ",
        "private\ue000use and unassigned\u0378code and tags \U000e0041",
        "Ⅻ ⓐ ㈱ ℌ ℍ ǅ ǈ ǋ ẞ",
    ]


def unicode_tables():
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    clean = BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chinese = BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    full = BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    lower = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    strip = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    pre = BertPreTokenizer()
    runs, mappings, previous = [], [], None
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        cleaned = clean.normalize_str(c)
        cls = "R" if cleaned == "" else ("S" if cleaned == " " and c != " " else "K")
        cls += "C" if chinese.normalize_str(c) != c else "-"
        pieces = len(pre.pre_tokenize_str("a" + c + "a"))
        cls += "W" if pieces == 2 else ("P" if pieces == 3 else "-")
        if cls != previous:
            runs.append([cp, cls])
            previous = cls
        if cls[0] == "R" or (0xAC00 <= cp <= 0xD7A3 and cp % 97):
            continue
        outputs = [full.normalize_str(c), lower.normalize_str(c), strip.normalize_str(c)]
        if outputs[0].strip(" ") != c or outputs[1] != c or outputs[2] != c:
            mappings.append([cp] + outputs)
    return runs, mappings


TINY_TEXTS = [
    "",
    "Hello world!",
    "hello World, hello.",
    "café Café cafe CAFÉ",
    "Zürich zurich ZÜRICH",
    "naïve Naïve naive",
    "unaffable Unaffable",
    "東京 x京y",
    "İ ı i",
    "[MASK] x [SEP]y[CLS] [mask]",
    "abcabcabca abcabcabcab",
    "x y z x y z x y z",
    "xyz ab c",
    "The, the. b-c? 'a'",
    "a\tb\nc\u00a0x\u200by\x00z",
]


def tiny_cases():
    """Reference ids for the hand-written tiny tokenizers (inputs under Tests/Fixtures/tokenizer/tiny)."""
    from tokenizers import BertWordPieceTokenizer

    tiny = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "tiny")
    # tokenizer.json path: lowercase=false, strip_accents=false, max_input_chars_per_word=10, truncation 8.
    wordpiece = Tokenizer.from_file(os.path.join(tiny, "wordpiece", "tokenizer.json"))
    # vocab.txt path: what transformers builds from vocab.txt + tokenizer_config.json
    # (do_lower_case=true, strip_accents=false); no truncation file, so the Swift default of 512 applies.
    with open(os.path.join(tiny, "vocab_txt", "tokenizer_config.json")) as f:
        config = json.load(f)
    vocab_txt = BertWordPieceTokenizer(
        os.path.join(tiny, "vocab_txt", "vocab.txt"),
        clean_text=True,
        handle_chinese_chars=config["tokenize_chinese_chars"],
        strip_accents=config["strip_accents"],
        lowercase=config["do_lower_case"],
    )
    vocab_txt.enable_truncation(512)
    return {
        "wordpiece": [{"text": t, "ids": wordpiece.encode(t).ids} for t in TINY_TEXTS],
        "vocab_txt": [{"text": t, "ids": vocab_txt.encode(t).ids} for t in TINY_TEXTS],
    }


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    sentences_path = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/fixtures/minilm/sentences.txt"
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    # tokenizer.json ships fixed padding/truncation at 128; sentence-transformers uses 256 and no padding.
    tok.no_padding()
    tok.enable_truncation(MAX_LENGTH)

    with open(sentences_path, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f if line.strip()]
    texts = sentences + tricky_texts()
    cases = [{"text": t, "ids": tok.encode(t).ids} for t in texts]

    out = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "minilm_ids.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    header = {
        "generator": "tools/make_tokenizer_fixtures.py",
        "tokenizers_version": tokenizers.__version__,
        "max_length": MAX_LENGTH,
    }
    # One case per line keeps diffs readable when the list changes.
    with open(out, "w", encoding="utf-8") as f:
        f.write(json.dumps(header)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=True) for c in cases))
        f.write("\n]}\n")
    runs, mappings = unicode_tables()
    out_unicode = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "unicode_classes.json")
    with open(out_unicode, "w", encoding="utf-8") as f:
        f.write(json.dumps(header)[:-1] + ', "runs": [\n')
        f.write(",\n".join(json.dumps(r) for r in runs))
        f.write('\n], "mappings": [\n')
        f.write(",\n".join(json.dumps(m, ensure_ascii=False) for m in mappings))
        f.write("\n]}\n")
    print("wrote %d runs and %d mappings to %s" % (len(runs), len(mappings), out_unicode))
    tiny = tiny_cases()
    out_tiny = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "tiny_ids.json")
    with open(out_tiny, "w", encoding="utf-8") as f:
        tiny_header = {k: v for k, v in header.items() if k != "max_length"}
        f.write(json.dumps(tiny_header)[:-1] + ",\n")
        for i, name in enumerate(sorted(tiny)):
            f.write(' "%s": [\n' % name)
            f.write(",\n".join(json.dumps(c, ensure_ascii=True) for c in tiny[name]))
            f.write("\n]" + ("," if i + 1 < len(tiny) else "") + "\n")
        f.write("}\n")
    print("wrote %s" % out_tiny)
    print("wrote %d cases to %s (tokenizers %s)" % (len(cases), out, tokenizers.__version__))


if __name__ == "__main__":
    main()
