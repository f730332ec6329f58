import Foundation
import Testing

@testable import Tokenizers

/// Paths inside the package, found from this file's location (Tests/TokenizersTests/Support.swift).
enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizer")
    static let tiny = fixtures.appendingPathComponent("tiny")
    /// Created by `make models` (git-ignored).
    static let miniLM = packageRoot.appendingPathComponent("models/all-MiniLM-L6-v2")
}

/// One reference encoding written by tools/make_tokenizer_fixtures.py with Hugging Face `tokenizers`.
struct ReferenceCase: Decodable, Sendable {
    let text: String
    let ids: [Int32]
}

struct MiniLMFixture: Decodable {
    let tokenizers_version: String
    let max_length: Int
    let cases: [ReferenceCase]
}

struct TinyFixture: Decodable {
    let tokenizers_version: String
    let wordpiece: [ReferenceCase]
    let vocab_txt: [ReferenceCase]
}

func loadFixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let data = try Data(contentsOf: Paths.fixtures.appendingPathComponent(name))
    return try JSONDecoder().decode(T.self, from: data)
}

/// The MiniLM tokenizer; records a failure (not a skip) when the model folder is missing.
func loadMiniLM(maxLength: Int? = nil) throws -> WordPieceTokenizer? {
    let tokenizerJSON = Paths.miniLM.appendingPathComponent("tokenizer.json")
    guard FileManager.default.fileExists(atPath: tokenizerJSON.path) else {
        Issue.record("MiniLM model not found at \(Paths.miniLM.path); run `make models` first")
        return nil
    }
    return try WordPieceTokenizer(modelDirectory: Paths.miniLM, maxLength: maxLength)
}

/// A readable form of a text for failure messages (control characters escaped).
func visible(_ text: String) -> String {
    let escaped = text.unicodeScalars.map { s -> String in
        s.value < 0x20 || s.value == 0x7F ? "\\u{\(String(s.value, radix: 16))}" : String(s)
    }.joined()
    return escaped.count > 80 ? String(escaped.prefix(80)) + "…" : escaped
}
