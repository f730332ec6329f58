import Foundation

/// A BERT WordPiece tokenizer that gives the same ids as Hugging Face `tokenizers` for BERT-style
/// `tokenizer.json` files (BertNormalizer, BertPreTokenizer, WordPiece, [CLS] … [SEP] post-processing).
///
///     let tokenizer = try WordPieceTokenizer(modelDirectory: URL(fileURLWithPath: "models/all-MiniLM-L6-v2"))
///     tokenizer.encode("Hello, world!")   // [101, 7592, 1010, 2088, 999, 102]
///     tokenizer.tokens("Hello, world!")   // ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
///
/// Pipeline, in HF's order: special tokens typed in the text (e.g. "[SEP]") are matched first on the raw text;
/// the rest is cleaned (control characters removed, whitespace → space), CJK ideographs are split off,
/// accents are stripped (NFD, drop Mn) and text is lowercased as the normalizer options say; then it is split
/// on whitespace and around each punctuation character, and every word is cut greedily into the longest
/// vocabulary pieces (`##` marks a continuation). A word with no full cover, or longer than
/// `max_input_chars_per_word` characters, becomes the unknown token. The result is truncated to `maxLength`
/// ids including the special tokens.
///
/// The text is processed as UTF-8 bytes and vocabulary lookups hash byte ranges directly, so ASCII text
/// allocates no per-word strings; only words with non-ASCII characters go through Foundation's NFD.
public struct WordPieceTokenizer: Sendable {
    struct AddedToken: Sendable {
        let bytes: [UInt8]
        let id: Int32
        let singleWord: Bool
    }

    /// Every vocabulary entry.
    let words: ByteTable
    /// Entries starting with the continuing-subword prefix, stored without it.
    let continuations: ByteTable
    let idToToken: [String]
    let options: BertNormalizerOptions
    let unkID: Int32
    let maxInputCharsPerWord: Int
    let prefixIDs: [Int32]
    let suffixIDs: [Int32]
    /// Longest first, so the scan finds the leftmost-longest match like HF's Aho-Corasick.
    let addedTokens: [AddedToken]
    /// addedFirstByte[b] is true when some added token starts with byte b.
    let addedFirstByte: [Bool]

    /// Most ids `encode` returns, special tokens included.
    public let maxLength: Int
    /// Id used to pad rows in `encodeBatch`.
    public let padID: Int32
    /// Number of token ids: largest vocabulary id + 1.
    public var vocabularySize: Int { idToToken.count }
    /// The normalizer switches in effect.
    public var normalizerOptions: BertNormalizerOptions { options }

    /// Loads the tokenizer of a model folder: `tokenizer.json` if present, else `vocab.txt` with the
    /// optional `tokenizer_config.json`.
    ///
    /// `maxLength` defaults to `max_seq_length` of `sentence_bert_config.json` (256 for all-MiniLM-L6-v2),
    /// else the `truncation.max_length` of tokenizer.json, else 512.
    ///
    ///     let t = try WordPieceTokenizer(modelDirectory: modelURL)          // maxLength 256 for MiniLM
    ///     let t128 = try WordPieceTokenizer(modelDirectory: modelURL, maxLength: 128)
    public init(modelDirectory: URL, maxLength: Int? = nil) throws {
        let fm = FileManager.default
        let tokenizerJSON = modelDirectory.appendingPathComponent("tokenizer.json")
        let vocabTxt = modelDirectory.appendingPathComponent("vocab.txt")
        let spec: TokenizerSpec
        if fm.fileExists(atPath: tokenizerJSON.path) {
            spec = try TokenizerSpec.fromTokenizerJSON(tokenizerJSON)
        } else if fm.fileExists(atPath: vocabTxt.path) {
            spec = try TokenizerSpec.fromVocabTxt(
                vocabTxt, config: modelDirectory.appendingPathComponent("tokenizer_config.json"))
        } else {
            throw TokenizerError.noTokenizerFiles(directory: modelDirectory.path)
        }
        var length = maxLength
        if length == nil {
            let sbert = modelDirectory.appendingPathComponent("sentence_bert_config.json")
            if fm.fileExists(atPath: sbert.path) {
                let file = try JSONFile(url: sbert)
                length = try file.int(file.root["max_seq_length"], "max_seq_length")
            }
        }
        try self.init(spec: spec, maxLength: length ?? spec.truncation ?? 512)
    }

    /// Loads a `tokenizer.json` file and truncates to `maxLength` ids (special tokens included).
    ///
    ///     let t = try WordPieceTokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"), maxLength: 256)
    public init(tokenizerJSON: URL, maxLength: Int) throws {
        try self.init(spec: TokenizerSpec.fromTokenizerJSON(tokenizerJSON), maxLength: maxLength)
    }

    init(spec: TokenizerSpec, maxLength: Int) throws {
        let minimum = spec.prefixIDs.count + spec.suffixIDs.count + 1
        guard maxLength >= minimum else { throw TokenizerError.invalidMaxLength(maxLength, minimum: minimum) }
        guard let unk = spec.vocab.last(where: { $0.key.elementsEqual(spec.unkToken.utf8) })?.id else {
            throw TokenizerError.missingToken(path: spec.source, token: spec.unkToken)
        }
        words = ByteTable(spec.vocab)
        let prefix = Array(spec.continuingPrefix.utf8)
        continuations = ByteTable(
            spec.vocab.compactMap { entry in
                entry.key.starts(with: prefix) && entry.key.count > prefix.count
                    ? (Array(entry.key[prefix.count...]), entry.id) : nil
            })
        var names = [String](repeating: "", count: Int(spec.vocab.map(\.id).max() ?? -1) + 1)
        for (key, id) in spec.vocab { names[Int(id)] = String(decoding: key, as: UTF8.self) }
        for token in spec.addedTokens where Int(token.id) >= names.count {
            names += [String](repeating: "", count: Int(token.id) + 1 - names.count)
            names[Int(token.id)] = token.content
        }
        idToToken = names
        options = spec.options
        unkID = unk
        maxInputCharsPerWord = spec.maxInputCharsPerWord
        prefixIDs = spec.prefixIDs
        suffixIDs = spec.suffixIDs
        addedTokens = spec.addedTokens
            .map { AddedToken(bytes: Array($0.content.utf8), id: $0.id, singleWord: $0.singleWord) }
            .sorted { $0.bytes.count > $1.bytes.count }
        var first = [Bool](repeating: false, count: 256)
        for token in addedTokens { first[Int(token.bytes[0])] = true }
        addedFirstByte = first
        self.maxLength = maxLength
        padID = spec.padID
    }

    /// Token ids of `text`, with the special tokens ([CLS] … [SEP]) and truncated to `maxLength`.
    ///
    ///     tokenizer.encode("café")   // [101, 7668, 102]  ("cafe" after accent stripping)
    public func encode(_ text: String) -> [Int32] {
        var encoder = Encoder(tokenizer: self, capacity: min(maxLength, text.utf8.count / 3 + 8))
        encoder.out.append(contentsOf: prefixIDs)
        encoder.limit = maxLength - suffixIDs.count
        encoder.run(text)
        encoder.out.append(contentsOf: suffixIDs)
        return encoder.out
    }

    /// Encodes every text and pads the rows with `padID` to the longest one.
    ///
    ///     let batch = tokenizer.encodeBatch(["short", "a longer sentence"])
    ///     batch.sequenceLength   // 5; batch.attentionMask marks the real tokens
    public func encodeBatch(_ texts: [String]) -> TokenBatch {
        TokenBatch(rows: texts.map(encode), padID: padID)
    }

    /// The token strings `encode` produces, special tokens included; for debugging and inspection.
    ///
    ///     tokenizer.tokens("unaffable")   // ["[CLS]", "una", "##ffa", "##ble", "[SEP]"]
    public func tokens(_ text: String) -> [String] {
        encode(text).map { token(for: $0) ?? "<\($0)>" }
    }

    /// The vocabulary string of `id`, or nil when `id` is out of range.
    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < idToToken.count ? idToToken[Int(id)] : nil
    }

    /// The words `text` is split into before WordPiece (normalized and pre-tokenized), without special tokens.
    func preTokenize(_ text: String, options: BertNormalizerOptions? = nil) -> [String] {
        var encoder = Encoder(tokenizer: self, capacity: 0, options: options)
        encoder.wordSink = []
        encoder.run(text)
        return encoder.wordSink!
    }

    /// The id of a vocabulary string, or nil.
    public func id(for token: String) -> Int32? {
        let id = words.lookup(token)
        return id >= 0 ? id : nil
    }
}

/// The state of one `encode` call: output ids and the word being collected.
struct Encoder {
    let tokenizer: WordPieceTokenizer
    let options: BertNormalizerOptions
    var out: [Int32] = []
    /// `out.count` at which text tokens stop (the suffix specials are appended afterwards).
    var limit = Int.max
    var done = false
    /// UTF-8 bytes of the normalized word being collected, and its length in Unicode scalars.
    var word: [UInt8] = []
    var wordChars = 0
    /// When set, words are collected here instead of being cut into ids (tests compare them with HF's
    /// normalizer + pre-tokenizer).
    var wordSink: [String]?

    init(tokenizer: WordPieceTokenizer, capacity: Int, options: BertNormalizerOptions? = nil) {
        self.tokenizer = tokenizer
        self.options = options ?? tokenizer.options
        out.reserveCapacity(capacity)
        word.reserveCapacity(64)
    }

    mutating func run(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            guard let p = buffer.baseAddress, buffer.count > 0 else { return }
            splitAddedTokens(p, buffer.count)
        }
    }

    /// Special tokens typed in the text ("[SEP]", "[MASK]") are matched on the raw text before normalizing,
    /// as HF does for added tokens with `normalized: false`; the pieces between them are encoded normally.
    private mutating func splitAddedTokens(_ p: UnsafePointer<UInt8>, _ n: Int) {
        let added = tokenizer.addedTokens
        if added.isEmpty {
            segment(p, 0, n)
            return
        }
        var segmentStart = 0
        var i = 0
        while i < n && !done {
            if tokenizer.addedFirstByte[Int(p[i])], let (id, length) = matchAddedToken(p, i, n) {
                segment(p, segmentStart, i)
                if done { return }
                out.append(id)
                checkLimit()
                i += length
                segmentStart = i
                continue
            }
            i += 1
        }
        if !done { segment(p, segmentStart, n) }
    }

    private func matchAddedToken(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (Int32, Int)? {
        for token in tokenizer.addedTokens where token.bytes.count <= n - i {
            let matches = token.bytes.withUnsafeBufferPointer { t in
                ByteTable.equal(t.baseAddress!, p + i, t.count)
            }
            guard matches else { continue }
            if token.singleWord
                && (isWordCharacter(endingAt: i, p) || isWordCharacter(startingAt: i + token.bytes.count, p, n))
            {
                continue
            }
            return (token.id, token.bytes.count)
        }
        return nil
    }

    private func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil
    }

    private func isWordCharacter(endingAt i: Int, _ p: UnsafePointer<UInt8>) -> Bool {
        guard i > 0 else { return false }
        var start = i - 1
        while start > 0 && p[start] & 0xC0 == 0x80 { start -= 1 }
        return isWordCharacter(Encoder.decode(p, start).scalar)
    }

    private func isWordCharacter(startingAt i: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        i < n && isWordCharacter(Encoder.decode(p, i).scalar)
    }

    /// Splits bytes [start, end) into chunks separated by whitespace (after clean_text) and isolated CJK
    /// ideographs. A chunk of plain ASCII takes the fast path; any other chunk is normalized as a String.
    private mutating func segment(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) {
        let clean = options.cleanText
        var i = start
        var chunkStart = start
        var simple = true  // ASCII only and nothing for clean_text to remove
        while i < end {
            let b = p[i]
            if b < 0x80 {
                if b == 0x20 || (b >= 0x09 && b <= 0x0D) {
                    // clean_text deletes \v and \f as control characters before whitespace is considered.
                    if clean && (b == 0x0B || b == 0x0C) {
                        simple = false
                        i += 1
                        continue
                    }
                    chunk(p, chunkStart, i, simple)
                    if done { return }
                    i += 1
                    chunkStart = i
                    simple = true
                    continue
                }
                if clean && (b < 0x20 || b == 0x7F) { simple = false }
                i += 1
                continue
            }
            let (s, length) = Encoder.decode(p, i)
            if clean && UnicodeClasses.isRemovedByClean(s) {
                simple = false
                i += length
                continue
            }
            if UnicodeClasses.isWhitespace(s) {
                chunk(p, chunkStart, i, simple)
                if done { return }
                i += length
                chunkStart = i
                simple = true
                continue
            }
            if options.handleChineseChars && UnicodeClasses.isChinese(s) {
                chunk(p, chunkStart, i, simple)
                if done { return }
                chunk(p, i, i + length, false)
                if done { return }
                i += length
                chunkStart = i
                simple = true
                continue
            }
            simple = false
            i += length
        }
        chunk(p, chunkStart, end, simple)
    }

    private mutating func chunk(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ simple: Bool) {
        guard start < end, !done else { return }
        if simple {
            let lower = options.lowercase
            for i in start..<end {
                var b = p[i]
                if UnicodeClasses.isASCIIPunctuation(b) {
                    flushWord()
                    word.append(b)
                    wordChars = 1
                    flushWord()
                    if done { return }
                    continue
                }
                if lower && b >= 0x41 && b <= 0x5A { b |= 0x20 }
                word.append(b)
                wordChars += 1
            }
            flushWord()
            return
        }
        // Slow path, same order as BertNormalizer: clean, (CJK already isolated), NFD + drop Mn, lowercase;
        // then BertPreTokenizer's whitespace/punctuation split on the normalized scalars.
        var scalars = String.UnicodeScalarView()
        var i = start
        while i < end {
            let (s, length) = Encoder.decode(p, i)
            i += length
            if options.cleanText && UnicodeClasses.isRemovedByClean(s) { continue }
            scalars.append(s)
        }
        var text = String(scalars)
        if options.stripAccents { text = text.decomposedStringWithCanonicalMapping }
        for s in text.unicodeScalars {
            if options.stripAccents && UnicodeClasses.isNonspacingMark(s) { continue }
            if options.lowercase && s.value >= 0x80 {
                let mapping = s.properties.lowercaseMapping
                for t in mapping.unicodeScalars { emit(t) }
            } else if options.lowercase && s.value >= 0x41 && s.value <= 0x5A {
                emit(Unicode.Scalar(s.value | 0x20)!)
            } else {
                emit(s)
            }
            if done { return }
        }
        flushWord()
    }

    private mutating func emit(_ s: Unicode.Scalar) {
        if UnicodeClasses.isWhitespace(s) {
            flushWord()
        } else if UnicodeClasses.isPunctuation(s) {
            flushWord()
            appendUTF8(s)
            wordChars = 1
            flushWord()
        } else {
            appendUTF8(s)
            wordChars += 1
        }
    }

    private mutating func appendUTF8(_ s: Unicode.Scalar) {
        let v = s.value
        if v < 0x80 {
            word.append(UInt8(v))
        } else if v < 0x800 {
            word.append(UInt8(0xC0 | (v >> 6)))
            word.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            word.append(UInt8(0xE0 | (v >> 12)))
            word.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            word.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            word.append(UInt8(0xF0 | (v >> 18)))
            word.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            word.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            word.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// Cuts the collected word into WordPiece ids: greedy longest match first, `##` pieces after the first.
    private mutating func flushWord() {
        guard !word.isEmpty, !done else {
            word.removeAll(keepingCapacity: true)
            wordChars = 0
            return
        }
        defer {
            word.removeAll(keepingCapacity: true)
            wordChars = 0
            checkLimit()
        }
        if wordSink != nil {
            wordSink!.append(String(decoding: word, as: UTF8.self))
            return
        }
        let unk = tokenizer.unkID
        if wordChars > tokenizer.maxInputCharsPerWord {
            out.append(unk)
            return
        }
        let words = tokenizer.words
        let continuations = tokenizer.continuations
        let mark = out.count
        let n = word.count
        let ok: Bool = word.withUnsafeBufferPointer { w in
            let base = w.baseAddress!
            var start = 0
            while start < n {
                let table = start == 0 ? words : continuations
                // No piece is longer than the longest key; start there, on a character boundary.
                var end = min(n, start + table.maxKeyLength)
                while end > start && end < n && base[end] & 0xC0 == 0x80 { end -= 1 }
                var id: Int32 = -1
                while end > start {
                    id = table.lookup(base + start, end - start)
                    if id >= 0 { break }
                    end -= 1
                    while end > start && base[end] & 0xC0 == 0x80 { end -= 1 }
                }
                if id < 0 { return false }
                out.append(id)
                start = end
            }
            return true
        }
        if !ok {
            out.removeSubrange(mark...)
            out.append(unk)
        }
    }

    private mutating func checkLimit() {
        if out.count >= limit {
            if out.count > limit { out.removeSubrange(limit...) }
            done = true
        }
    }

    /// Decodes the scalar starting at byte `i` of valid UTF-8 (Swift strings always are).
    @inline(__always)
    static func decode(_ p: UnsafePointer<UInt8>, _ i: Int) -> (scalar: Unicode.Scalar, length: Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (Unicode.Scalar(b0)!, 1) }
        if b0 < 0xE0 {
            let v = (b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F)
            return (Unicode.Scalar(v)!, 2)
        }
        if b0 < 0xF0 {
            let v = (b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F)
            return (Unicode.Scalar(v)!, 3)
        }
        let v =
            (b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
            | UInt32(p[i + 3] & 0x3F)
        return (Unicode.Scalar(v)!, 4)
    }
}
