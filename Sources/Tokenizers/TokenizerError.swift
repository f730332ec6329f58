/// Why a tokenizer could not be loaded. Every description is one line naming the file and, when it applies,
/// the JSON field, e.g.
///
///     /models/x/tokenizer.json: field "model.type" is "BPE"; only WordPiece (BERT) tokenizers are supported
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The model folder has neither `tokenizer.json` nor `vocab.txt`.
    case noTokenizerFiles(directory: String)
    /// A file that must exist is missing.
    case missingFile(path: String)
    /// A file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// A file is not valid JSON (or its top level is not an object).
    case invalidJSON(path: String, reason: String)
    /// A required field is absent.
    case missingField(path: String, field: String)
    /// A field is present but has the wrong type or an impossible value.
    case invalidField(path: String, field: String, reason: String)
    /// A component this target does not implement (only BERT WordPiece is supported).
    case unsupported(path: String, field: String, value: String)
    /// A token the tokenizer needs (e.g. the unknown token) is not in the vocabulary.
    case missingToken(path: String, token: String)
    /// `maxLength` cannot hold the special tokens plus at least one text token.
    case invalidMaxLength(Int, minimum: Int)

    public var description: String {
        switch self {
        case .noTokenizerFiles(let directory):
            return "\(directory): no tokenizer.json or vocab.txt found (for the MiniLM model run `make models`)"
        case .missingFile(let path):
            return "\(path): file not found"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read file (\(reason))"
        case .invalidJSON(let path, let reason):
            return "\(path): not valid JSON (\(reason))"
        case .missingField(let path, let field):
            return "\(path): missing field \"\(field)\""
        case .invalidField(let path, let field, let reason):
            return "\(path): field \"\(field)\" \(reason)"
        case .unsupported(let path, let field, let value):
            return "\(path): field \"\(field)\" is \"\(value)\"; only WordPiece (BERT) tokenizers are supported"
        case .missingToken(let path, let token):
            return "\(path): token \"\(token)\" is not in the vocabulary"
        case .invalidMaxLength(let value, let minimum):
            return "tokenizer: maxLength \(value) is too small; it must be at least \(minimum)"
        }
    }
}
