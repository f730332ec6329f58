import Foundation

/// Everything the tokenizer needs, read from `tokenizer.json` or from `vocab.txt` + `tokenizer_config.json`.
struct TokenizerSpec {
    struct AddedToken {
        var content: String
        var id: Int32
        var singleWord: Bool
    }

    var vocab: [(key: [UInt8], id: Int32)] = []
    var unkToken = "[UNK]"
    var continuingPrefix = "##"
    var maxInputCharsPerWord = 100
    var options = BertNormalizerOptions()
    var prefixIDs: [Int32] = []  // special ids before the text, e.g. [CLS]
    var suffixIDs: [Int32] = []  // special ids after the text, e.g. [SEP]
    var addedTokens: [AddedToken] = []
    var padID: Int32 = 0
    var truncation: Int?
    /// The file the vocabulary came from, for error messages.
    var source: String = ""
}

/// BertNormalizer's switches, as in tokenizer.json (`strip_accents: null` means "same as lowercase").
public struct BertNormalizerOptions: Sendable, Equatable {
    public var cleanText = true
    public var handleChineseChars = true
    public var stripAccents = true
    public var lowercase = true
    public init() {}
}

/// Reads a JSON object and names the file and dotted field in every error.
struct JSONFile {
    let path: String
    let root: [String: Any]

    init(url: URL) throws {
        path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizerError.missingFile(path: path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw TokenizerError.invalidJSON(path: path, reason: Self.shortReason(error))
        }
        guard let dict = object as? [String: Any] else {
            throw TokenizerError.invalidJSON(path: path, reason: "top level is not an object")
        }
        root = dict
    }

    private static func shortReason(_ error: Error) -> String {
        // Foundation puts the useful part ("Unexpected end of file ...") in NSDebugDescription.
        let debug = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        let text = debug ?? "\(error)"
        return String(text.replacingOccurrences(of: "\n", with: " ").prefix(160))
    }

    func object(_ value: Any?, _ field: String) throws -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let dict = value as? [String: Any] else {
            throw TokenizerError.invalidField(path: path, field: field, reason: "is not an object")
        }
        return dict
    }

    func string(_ value: Any?, _ field: String) throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let s = value as? String else {
            throw TokenizerError.invalidField(path: path, field: field, reason: "is not a string")
        }
        return s
    }

    func bool(_ value: Any?, _ field: String) throws -> Bool? {
        guard let value, !(value is NSNull) else { return nil }
        guard let b = value as? Bool else {
            throw TokenizerError.invalidField(path: path, field: field, reason: "is not a boolean")
        }
        return b
    }

    /// Largest token id accepted: the tokenizer keeps a table indexed by id, so a corrupt id of 2^31 would ask for
    /// tens of gigabytes; real vocabularies stay well below 10 million.
    static let maxTokenID = 10_000_000

    /// A token id: an integer in 0...maxTokenID.
    func id(_ value: Any?, _ field: String) throws -> Int32? {
        guard let i = try int(value, field) else { return nil }
        guard i >= 0, i <= Self.maxTokenID else {
            throw TokenizerError.invalidField(path: path, field: field, reason: "is not a token id (0...\(Self.maxTokenID))")
        }
        return Int32(i)
    }

    func int(_ value: Any?, _ field: String) throws -> Int? {
        guard let value, !(value is NSNull) else { return nil }
        // Linux Foundation yields Int/Double, Darwin yields NSNumber; accept every whole number.
        if let i = value as? Int { return i }
        if let d = value as? Double, let i = Int(exactly: d) { return i }
        if let n = value as? NSNumber, let i = Int(exactly: n.doubleValue) { return i }
        throw TokenizerError.invalidField(path: path, field: field, reason: "is not an integer")
    }

    func require<T>(_ value: T?, _ field: String) throws -> T {
        guard let value else { throw TokenizerError.missingField(path: path, field: field) }
        return value
    }
}

extension TokenizerSpec {
    /// Parses a Hugging Face `tokenizer.json` with a WordPiece model and BERT normalizer/pre-tokenizer.
    static func fromTokenizerJSON(_ url: URL) throws -> TokenizerSpec {
        let file = try JSONFile(url: url)
        let path = file.path
        var spec = TokenizerSpec()
        spec.source = path

        let model = try file.require(try file.object(file.root["model"], "model"), "model")
        let modelType = try file.string(model["type"], "model.type")
        if let modelType, modelType != "WordPiece" {
            throw TokenizerError.unsupported(path: path, field: "model.type", value: modelType)
        }
        let vocab = try file.require(try file.object(model["vocab"], "model.vocab"), "model.vocab")
        if modelType == nil && model["continuing_subword_prefix"] == nil {
            // Without a type, only a WordPiece model is recognisable by its fields.
            throw TokenizerError.missingField(path: path, field: "model.type")
        }
        spec.vocab.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = try file.int(value, "model.vocab.\(token)"), id >= 0, id <= JSONFile.maxTokenID else {
                throw TokenizerError.invalidField(path: path, field: "model.vocab.\(token)", reason: "is not an id")
            }
            spec.vocab.append((Array(token.utf8), Int32(id)))
        }
        // Equal keys cannot occur in a JSON object, but sort so ids and table layout are reproducible.
        spec.vocab.sort { $0.id < $1.id }
        spec.unkToken = try file.string(model["unk_token"], "model.unk_token") ?? "[UNK]"
        spec.continuingPrefix =
            try file.string(model["continuing_subword_prefix"], "model.continuing_subword_prefix") ?? "##"
        spec.maxInputCharsPerWord =
            try file.int(model["max_input_chars_per_word"], "model.max_input_chars_per_word") ?? 100

        if let normalizer = try file.object(file.root["normalizer"], "normalizer") {
            let type = try file.string(normalizer["type"], "normalizer.type") ?? ""
            guard type == "BertNormalizer" else {
                throw TokenizerError.unsupported(path: path, field: "normalizer.type", value: type)
            }
            var o = BertNormalizerOptions()
            o.cleanText = try file.bool(normalizer["clean_text"], "normalizer.clean_text") ?? true
            o.handleChineseChars =
                try file.bool(normalizer["handle_chinese_chars"], "normalizer.handle_chinese_chars") ?? true
            o.lowercase = try file.bool(normalizer["lowercase"], "normalizer.lowercase") ?? true
            o.stripAccents = try file.bool(normalizer["strip_accents"], "normalizer.strip_accents") ?? o.lowercase
            spec.options = o
        } else {
            var o = BertNormalizerOptions()
            o.cleanText = false
            o.handleChineseChars = false
            o.stripAccents = false
            o.lowercase = false
            spec.options = o
        }

        if let pre = try file.object(file.root["pre_tokenizer"], "pre_tokenizer") {
            let type = try file.string(pre["type"], "pre_tokenizer.type") ?? ""
            guard type == "BertPreTokenizer" else {
                throw TokenizerError.unsupported(path: path, field: "pre_tokenizer.type", value: type)
            }
        } else {
            throw TokenizerError.missingField(path: path, field: "pre_tokenizer")
        }

        let table = Dictionary(spec.vocab.map { (String(decoding: $0.key, as: UTF8.self), $0.id) }) { _, b in b }
        if let post = try file.object(file.root["post_processor"], "post_processor") {
            try spec.readPostProcessor(post, file: file, vocab: table)
        }

        if let added = file.root["added_tokens"], !(added is NSNull) {
            guard let list = added as? [Any] else {
                throw TokenizerError.invalidField(path: path, field: "added_tokens", reason: "is not a list")
            }
            for (i, item) in list.enumerated() {
                let field = "added_tokens[\(i)]"
                let token = try file.require(try file.object(item, field), field)
                let content = try file.require(
                    try file.string(token["content"], "\(field).content"), "\(field).content")
                let id = try file.require(try file.id(token["id"], "\(field).id"), "\(field).id")
                let singleWord = try file.bool(token["single_word"], "\(field).single_word") ?? false
                // Matched on the raw text even when "normalized" is true (BERT's special tokens never are).
                if !content.isEmpty {
                    spec.addedTokens.append(.init(content: content, id: id, singleWord: singleWord))
                }
            }
        }

        if let padding = try file.object(file.root["padding"], "padding"),
            let padID = try file.id(padding["pad_id"], "padding.pad_id")
        {
            spec.padID = padID
        } else if let pad = table["[PAD]"] {
            spec.padID = pad
        }
        if let truncation = try file.object(file.root["truncation"], "truncation") {
            spec.truncation = try file.int(truncation["max_length"], "truncation.max_length")
        }
        return spec
    }

    /// Reads the ids wrapped around a single sequence from a TemplateProcessing or BertProcessing post-processor.
    private mutating func readPostProcessor(_ post: [String: Any], file: JSONFile, vocab: [String: Int32]) throws {
        let path = file.path
        let type = try file.string(post["type"], "post_processor.type") ?? ""
        switch type {
        case "TemplateProcessing":
            let specials = try file.object(post["special_tokens"], "post_processor.special_tokens") ?? [:]
            guard let single = post["single"] as? [Any] else {
                throw TokenizerError.missingField(path: path, field: "post_processor.single")
            }
            var seenSequence = false
            for (i, piece) in single.enumerated() {
                let field = "post_processor.single[\(i)]"
                let item = try file.require(try file.object(piece, field), field)
                if item["Sequence"] != nil {
                    seenSequence = true
                    continue
                }
                guard let special = try file.object(item["SpecialToken"], "\(field).SpecialToken"),
                    let name = try file.string(special["id"], "\(field).SpecialToken.id")
                else {
                    throw TokenizerError.invalidField(
                        path: path, field: field, reason: "is neither Sequence nor SpecialToken")
                }
                var ids: [Int32] = []
                if let entry = try file.object(specials[name], "post_processor.special_tokens.\(name)"),
                    let list = entry["ids"] as? [Any]
                {
                    for (k, value) in list.enumerated() {
                        let f = "post_processor.special_tokens.\(name).ids[\(k)]"
                        ids.append(try file.require(try file.id(value, f), f))
                    }
                } else if let id = vocab[name] {
                    ids = [id]
                } else {
                    throw TokenizerError.missingToken(path: path, token: name)
                }
                if seenSequence { suffixIDs += ids } else { prefixIDs += ids }
            }
        case "BertProcessing":
            for (key, isPrefix) in [("cls", true), ("sep", false)] {
                let field = "post_processor.\(key)"
                guard let pair = post[key] as? [Any], pair.count == 2,
                    let id = try file.id(pair[1], "\(field)[1]")
                else {
                    throw TokenizerError.invalidField(path: path, field: field, reason: "is not a [token, id] pair")
                }
                if isPrefix { prefixIDs.append(id) } else { suffixIDs.append(id) }
            }
        default:
            throw TokenizerError.unsupported(path: path, field: "post_processor.type", value: type)
        }
    }

    /// Builds the same tokenizer `transformers` makes from a `vocab.txt` (one token per line, id = line number)
    /// and the optional `tokenizer_config.json` (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`,
    /// special token names).
    static func fromVocabTxt(_ url: URL, config configURL: URL?) throws -> TokenizerSpec {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizerError.missingFile(path: path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        var spec = TokenizerSpec()
        spec.source = path
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (i, line) in lines.enumerated() {
            var bytes = Array(line)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            spec.vocab.append((bytes, Int32(i)))
        }
        if spec.vocab.isEmpty {
            throw TokenizerError.invalidField(path: path, field: "vocabulary", reason: "is empty")
        }

        var names = ["unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "mask": "[MASK]"]
        var options = BertNormalizerOptions()
        var stripAccents: Bool?
        if let configURL, FileManager.default.fileExists(atPath: configURL.path) {
            let config = try JSONFile(url: configURL)
            options.lowercase = try config.bool(config.root["do_lower_case"], "do_lower_case") ?? true
            stripAccents = try config.bool(config.root["strip_accents"], "strip_accents")
            options.handleChineseChars =
                try config.bool(config.root["tokenize_chinese_chars"], "tokenize_chinese_chars") ?? true
            for key in names.keys {
                let field = "\(key)_token"
                // A special token is either a plain string or an AddedToken object with "content".
                if let name = config.root[field] as? String {
                    names[key] = name
                } else if let object = try config.object(config.root[field], field),
                    let name = try config.string(object["content"], "\(field).content")
                {
                    names[key] = name
                }
            }
        }
        options.stripAccents = stripAccents ?? options.lowercase
        spec.options = options

        let table = Dictionary(spec.vocab.map { (String(decoding: $0.key, as: UTF8.self), $0.id) }) { _, b in b }
        spec.unkToken = names["unk"]!
        let clsName = names["cls"]!
        let sepName = names["sep"]!
        guard let cls = table[clsName] else { throw TokenizerError.missingToken(path: path, token: clsName) }
        guard let sep = table[sepName] else { throw TokenizerError.missingToken(path: path, token: sepName) }
        spec.prefixIDs = [cls]
        spec.suffixIDs = [sep]
        spec.padID = table[names["pad"]!] ?? 0
        // transformers registers the special tokens as added tokens: typed in the text they map to their ids.
        for key in ["pad", "unk", "cls", "sep", "mask"] {
            if let name = names[key], let id = table[name] {
                spec.addedTokens.append(.init(content: name, id: id, singleWord: false))
            }
        }
        return spec
    }
}
